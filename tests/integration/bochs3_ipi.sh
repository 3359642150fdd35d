#!/usr/bin/env bash
# The VT-x hardware posted-interrupt path, end to end, under Bochs 3.0 (corei7_skylake_x has
# posted-interrupt processing there): the capability and `interrupts:` lines say it runs; the
# ipi scenario of sched_common.sh (a running target via notification, a halted one woken);
# IPIs to a running vCPU add no VM exit on it (its exits are its own x2APIC MSR accesses: the
# EOI and the reply's ICR write); then 2000 ping-pongs sharing 2 pCPUs with a hog (1 ms slices:
# preemption, migration, IPIs while the target is off-CPU), spinning and halting, with the
# targets checking ISR, EOI and (spinning) CR8/TPR consistency in every round.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sched_common.sh"
tools/run-bochs --list | grep -q '^3\.0 ' ||
    { echo "SKIP: Bochs 3.0 is not installed (tools/deps.sh bochs3)"; exit 77; }
BOOT=boot_bochs EXTRA=(--bochs 3.0 --cpu corei7_skylake_x)

sched_ipi
log="$WORK/ipi.log"
expect_line "$log" '^vmx: ept=1 .* posted_intr=1 .* vid=1 '
expect_line "$log" '^vmx: using .* posted_interrupts=hardware \(virtual-interrupt delivery\)$'
expect_line "$log" '^interrupts: virtual x2APIC per vCPU; posted interrupts: hardware path '
# The spinning target (spin, vCPU 1) took 300 pings while running.  Posting adds no exit:
# no external-interrupt exit for the notifications (the software path takes one per IPI) and
# no interrupt window; a kick from the scheduler could add one, hence the margin of 2.
extint=$(acct "$log" spin exit_extint 1) window=$(acct "$log" spin exit_window 1)
msr=$(acct "$log" spin exit_msr 1) total=$(acct "$log" spin exits 1)
expect_at_most "spin target: external-interrupt exits for 300 posted IPIs" "$extint" 2
expect_at_most "spin target: interrupt-window exits" "$window" 0
# Its own MSR exits: EOI + reply per ping (600), plus its APIC set-up; all its exits / 300.
expect_at_most "spin target: exits per delivered IPI (x100)" $((total * 100 / 300)) 210
echo "measure: hardware path, running target: $total exits for 300 IPIs ($msr MSR, $extint" \
     "external-interrupt, $window window) = $((total * 100 / 300))/100 per IPI"

log="$WORK/check.log"
sched_boot check ipi_check.cfg 2 ipi.elf hog.elf
expect_line "$log" '^\[check\] ipi check: windows=[1-9][0-9]* deferred=[1-9][0-9]* isr_bad=0 eoi_bad=0 tpr_bad=0 masked_bad=0$'
expect_line "$log" '^\[check\] ipi wait=spin n=2000 rtt_p50_us=[0-9]+ .* lost=0 dup=0$'
expect_line "$log" '^\[checkh\] ipi check: windows=0 deferred=0 isr_bad=0 eoi_bad=0 tpr_bad=0 masked_bad=0$'
expect_line "$log" '^\[checkh\] ipi wait=hlt n=2000 rtt_p50_us=[0-9]+ .* lost=0 dup=0$'
expect_line "$log" '^outcome check: exited status=0 expect=exit ok$'
expect_line "$log" '^outcome checkh: exited status=0 expect=exit ok$'
expect_line "$log" '^outcome hog: exited status=0 expect=exit ok$'
moved=0 preempted=0
for vm in check checkh; do
    for k in 0 1; do
        moved=$((moved + $(acct "$log" $vm migrations $k)))
        preempted=$((preempted + $(acct "$log" $vm preemptions $k)))
    done
done
((moved > 0 && preempted > 0)) ||
    fail "the ping-pong vCPUs were not preempted and migrated ($preempted, $moved)"
echo "ok: $preempted preemptions and $moved migrations of the ping-pong vCPUs"
