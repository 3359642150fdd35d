#!/usr/bin/env bash
# The metascheduler in the VMM under QEMU (SVM backend): three VMs' preferred policies take
# turns (tick: pshare for 2/4 of each 30 ms round, hog1: rr 1/4, hog2: null 1/4, which the
# library refuses on this overcommitted machine: reported once, its slot keeps the running
# policy); pCPU 0 switches with sched_change and times it.  Asserts the switches happened (a
# round every 30 ms over 0.6 s: about 40 switches; at least 20), none failed but null's, and a
# switch costs under 1 ms (measured tens of us under TCG: the host's time; the paper: 133 ms);
# the console changes the base timeslice at run time (a bad value: an error, nothing changed).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sched_common.sh"
BOOT=boot_qemu EXTRA=()
log="$WORK/meta.log"
# From the console once the rounds run: a bad base timeslice is refused, a new one taken.
esp=$(make_esp "$WORK/meta" tests/configs/meta.cfg "$GUEST_DIR/hog.elf" "$GUEST_DIR/timer.elf")
session "$log" "$esp" 2 \
    --send-after 'meta: switch to null' '@vs2 cmd=meta tb_us=99999999 id=1' \
    --send-after 'cmd=meta id=1' 'meta tb_us=20000 id=2'
expect_status $? 0
expect_exact_accounting "$log"
expect_line "$log" '^@vs2 seq=[0-9]+ type=error cmd=meta id=1 msg="'
expect_line "$log" '^@vs2 seq=[0-9]+ type=ok cmd=meta id=2$'
expect_line "$log" '^meta: 3 VMs take turns, base timeslice 10000 us$'
expect_line "$log" '^meta: switch to null \(vm hog2\) refused: null: more vCPUs than pCPUs'
line=$(grep -a '^meta: switches=' "$log") || fail "no meta: switches line in $log"
echo "$line"
n=$(sed -E 's/.*switches=([0-9]+).*/\1/' <<< "$line")
ns=$(sed -E 's/.*ns_avg=([0-9]+).*/\1/' <<< "$line")
(( n >= 20 )) || fail "only $n policy switches"
echo "ok: $n policy switches"
expect_at_most "policy switch: ns on average" "$ns" 1000000
expect_line "$log" '^outcome hog1: running at run_ms expect=exit ok$'
