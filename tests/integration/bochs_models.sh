#!/usr/bin/env bash
# The VMX backend follows the emulated CPU: Sandy Bridge has no APIC virtualization, Lynnfield
# (Nehalem) has neither unrestricted guest nor TSC-deadline; the VMM says what it uses and runs
# guests on both.  A bad configuration stops the boot under Bochs as under QEMU.
source "$(dirname "$0")/lib.sh"

esp=$(make_esp "$WORK/esp" tests/configs/two_vms.cfg "$GUEST_DIR/hello.elf")

boot_bochs "$WORK/snb.log" --esp "$esp" --smp 2 --cpu corei7_sandy_bridge_2600k
expect_status $? 0
log="$WORK/snb.log"
expect_line "$log" '^vmx: ept=1 vpid=1 unrestricted=1 preempt_timer=1 posted_intr=0 apicv=0 tsc_deadline=1 x2apic=0 vid=0 ept_2m=1 ept_1g=0 '
expect_line "$log" '^vmx: using timer=preemption vpid=on ept_pages=2m posted_interrupts=software$'
expect_line "$log" '^outcome alpha: exited status=3 expect=exit ok$'
expect_line "$log" '^outcome beta: exited status=5 expect=exit ok$'

boot_bochs "$WORK/nhm.log" --esp "$esp" --smp 2 --cpu corei5_lynnfield_750
expect_status $? 0
log="$WORK/nhm.log"
expect_line "$log" '^vmx: ept=1 vpid=1 unrestricted=0 preempt_timer=1 posted_intr=0 apicv=0 tsc_deadline=0 '
expect_line "$log" '^virt: backend vmx$'
expect_line "$log" '^outcome alpha: exited status=3 expect=exit ok$'
expect_line "$log" '^outcome beta: exited status=5 expect=exit ok$'

esp=$(make_esp "$WORK/bad" tests/configs/bad_unknown_key.cfg)
boot_bochs "$WORK/bad.log" --esp "$esp" --smp 1 --cpu corei7_skylake_x
expect_status $? 2
expect_line "$WORK/bad.log" "^vsched.cfg:4: error: unknown key 'polcy' in \[machine\]\$"
