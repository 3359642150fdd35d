#!/usr/bin/env bash
# Debian's Linux kernel in a 2-vCPU vsched VM under Bochs/VT-x (EPT, unrestricted guest for the
# second vCPU's real-mode start), a hog VM beside it (tests/configs/linux_hog.cfg), Bochs 2.7.
#
# The whole boot to /init and poweroff takes ~5 min of wall time under Bochs (26 s of emulated
# time; docs/linux.md), too long for `make test`.  So by default the run is cut at run_ms =
# 2000 ms of machine time (deterministic: Bochs' emulated clock): by then the kernel has found
# KVM, switched its APIC to x2APIC with the TSC-deadline timer, set up XSAVE and brought up its
# second CPU by INIT-SIPI-SIPI (real mode, unrestricted guest, the CR0/EFER switches to long
# mode); the VM's outcome is "running at run_ms", the hog's its normal end.  BOCHS_LINUX_FULL=1 (`make test-linux-full`) runs the whole
# scenario with qemu_linux.sh's checks.  SKIP when Debian's packages cannot be downloaded.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/linux_common.sh"

linux_files
cfg=tests/configs/linux_hog.cfg
if [[ ${BOCHS_LINUX_FULL:-0} != 1 ]]; then
    sed 's/^run_ms = .*/run_ms = 2000/' "$cfg" > "$WORK/linux_short.cfg"
    cfg=$WORK/linux_short.cfg
fi
esp=$(make_esp "$WORK/esp" "$cfg" "$LINUX_VMLINUX" "$LINUX_INITRD" "$GUEST_DIR/hog.elf")
start=$SECONDS
BOOT_TIMEOUT=${BOOT_TIMEOUT:-900} boot_bochs "$WORK/linux.log" --esp "$esp" --smp 2 --mem 1024
rc=$?
echo "boot: $((SECONDS - start)) s"
log=$WORK/linux.log
if [[ ${BOCHS_LINUX_FULL:-0} == 1 ]]; then
    expect_status $rc 0
    check_linux_boot "$log"
    check_linux_steal "$log"
    exit 0
fi
expect_status $rc 0
expect_line "$log" '^vm lx1: Linux vmlinux, kernel \[0x1000000, 0x4a00000\) entry 0x1000000, initrd [0-9]+ bytes at 0x[0-9a-f]+, ACPI at 0xe0000$'
expect_line "$log" '^\[lx1\] \[ *[0-9.]+\] Hypervisor detected: KVM$'
expect_line "$log" '^\[lx1\] \[ *[0-9.]+\] x2apic: enabled by BIOS, switching to x2apic ops$'
expect_line "$log" '^\[lx1\] \[ *[0-9.]+\] TSC deadline timer available$'
expect_line "$log" '^\[lx1\] \[ *[0-9.]+\] smp: Brought up 1 node, 2 CPUs$'
expect_line "$log" '^\[lx1\] \[ *[0-9.]+\] x86/fpu: Enabled xstate features 0x[0-9a-f]+, context size is [0-9]+ bytes'
expect_no_line "$log" 'unchecked MSR access|Call Trace|BUG:|Kernel panic|XSAVE consistency'
expect_line "$log" '^vm lx1: 1 INIT/STARTUP IPIs ignored'
expect_line "$log" '^outcome lx1: running at run_ms expect=exit ok$'
# The hog (run_ms=2000 of its own) ends by itself or is still running at the cut.
expect_line "$log" '^outcome hog: (exited status=0|running at run_ms) expect=exit ok$'
expect_line "$log" '^halt: status=0$'
