#!/usr/bin/env bash
# The VMX line follows the emulated CPU: Sandy Bridge has no APIC virtualization, Skylake-X
# has it (bochs_boot.sh); the VMM boots on both.  Also: a bad configuration stops the boot
# under Bochs the same way as under QEMU.
source "$(dirname "$0")/lib.sh"

esp=$(make_esp "$WORK/esp" tests/configs/default.cfg)
boot_bochs "$WORK/snb.log" --esp "$esp" --smp 1 --cpu corei7_sandy_bridge_2600k
expect_status $? 0
expect_line "$WORK/snb.log" '^vmx: ept=1 vpid=1 unrestricted=1 preempt_timer=1 posted_intr=0 apicv=0 .* vid=0 '
expect_line "$WORK/snb.log" '^virt: backend vmx$'
expect_line "$WORK/snb.log" '^halt: status=0$'

esp=$(make_esp "$WORK/bad" tests/configs/bad_unknown_key.cfg)
boot_bochs "$WORK/bad.log" --esp "$esp" --smp 1 --cpu corei7_skylake_x
expect_status $? 2
expect_line "$WORK/bad.log" "^vsched.cfg:4: error: unknown key 'polcy' in \[machine\]\$"
