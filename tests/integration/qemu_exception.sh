#!/usr/bin/env bash
# An unexpected exception in the VMM prints vector, error code, RIP and CPU, then halts the
# machine cleanly (status 3) — on an application processor and on the bootstrap processor.
source "$(dirname "$0")/lib.sh"

esp=$(make_esp "$WORK/ud" tests/configs/fault_ud_cpu1.cfg)
boot_qemu "$WORK/ud.log" --esp "$esp" --smp 2
expect_status $? 3
expect_line "$WORK/ud.log" '^selftest: raising #UD on cpu 1$'
expect_line "$WORK/ud.log" '^EXCEPTION #UD invalid opcode: vector=6 error=0x0 rip=0x[0-9a-f]{16} cpu=1 apic=1$'
expect_line "$WORK/ud.log" '^halt: status=3$'

esp=$(make_esp "$WORK/pf" tests/configs/fault_pf_cpu0.cfg)
boot_qemu "$WORK/pf.log" --esp "$esp" --smp 2
expect_status $? 3
expect_line "$WORK/pf.log" '^EXCEPTION #PF page fault: vector=14 error=0x2 rip=0x[0-9a-f]{16} cpu=0 apic=0$'
expect_line "$WORK/pf.log" 'cr2=0x7f0000000000 '
expect_line "$WORK/pf.log" '^halt: status=3$'

# During the run: the other pCPU is in guest mode when the halt NMI comes, and stops too.
esp=$(make_esp "$WORK/run" tests/configs/fault_in_run.cfg "$GUEST_DIR/hog.elf")
boot_qemu "$WORK/run.log" --esp "$esp" --smp 2
expect_status $? 3
expect_line "$WORK/run.log" '^EXCEPTION #UD invalid opcode: vector=6 .* cpu=1 apic=1$'
expect_line "$WORK/run.log" '^halt: 1 of 1 other CPUs stopped$'
expect_line "$WORK/run.log" '^halt: status=3$'
