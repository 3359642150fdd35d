#!/usr/bin/env bash
# Debian's Linux kernel in a 2-vCPU vsched VM under Bochs/VT-x (EPT, unrestricted guest for the
# second vCPU's real-mode start), a hog VM beside it: the same scenario and checks as
# qemu_linux.sh (tests/configs/linux_hog.cfg).  Bochs 2.7 (the test default); emulated time
# is deterministic, the wall time is what the build machine gives (measured in docs/linux.md).
# SKIP when Debian's packages cannot be downloaded.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/linux_common.sh"

linux_files
esp=$(make_esp "$WORK/esp" tests/configs/linux_hog.cfg "$LINUX_VMLINUX" "$LINUX_INITRD" \
      "$GUEST_DIR/hog.elf")
start=$SECONDS
BOOT_TIMEOUT=${BOOT_TIMEOUT:-900} boot_bochs "$WORK/linux.log" --esp "$esp" --smp 2 --mem 1024
rc=$?
echo "boot: $((SECONDS - start)) s"
expect_status $rc 0
check_linux_boot "$WORK/linux.log"
check_linux_steal "$WORK/linux.log"
