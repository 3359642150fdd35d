#!/usr/bin/env bash
# Debian's Linux kernel in a 2-vCPU vsched VM under QEMU/SVM, a hog VM beside it
# (tests/configs/linux_hog.cfg): the kernel boots, brings up its second CPU with
# INIT-SIPI-SIPI, sees the x2APIC, the TSC-deadline timer and KVM's clock, /init runs
# cyclictest and reports the steal time, `poweroff -f` ends the VM with outcome poweroff, and
# the hog's result is whole.  ~25 s on the build machine.  SKIP when Debian's packages cannot
# be downloaded.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/linux_common.sh"

linux_files
esp=$(make_esp "$WORK/esp" tests/configs/linux_hog.cfg "$LINUX_VMLINUX" "$LINUX_INITRD" \
      "$GUEST_DIR/hog.elf")
start=$SECONDS
boot_qemu "$WORK/linux.log" --esp "$esp" --smp 2 --mem 1024
rc=$?
echo "boot: $((SECONDS - start)) s"
expect_status $rc 0
check_linux_boot "$WORK/linux.log"
check_linux_steal "$WORK/linux.log"
