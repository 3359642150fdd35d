#!/usr/bin/env bash
# rtds in the VMM, VT-x backend under Bochs (emulated time: deterministic): reservations of
# 50 % of pCPU 1 (a 1 ms timer guest with 200 us / 1 ms, a hog with 3 / 10 ms and no
# extratime) next to a hog in extratime meet every deadline (dm = 0 in the accounting
# records); the hog without extratime runs 30 % of the time, no more; the timer guest wakes as
# promptly as under credit's BOOST; a timer-less extratime hog on pCPU 0 has its pCPU.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sched_common.sh"
BOOT=boot_bochs EXTRA=(--cpu corei7_skylake_x)
log="$WORK/rtds.log"
sched_boot rtds rtds.cfg 2 hog.elf timer.elf
expect_line "$log" "policy=rtds "
for vm in tick rhog; do
    expect_at_most "$vm: deadline misses" "$(acct "$log" "$vm" deadline_misses)" 0
done
run=$(acct "$log" rhog running_ns) life=$(acct "$log" rhog lifetime_ns)
expect_near "rhog (3 of 10 ms, no extratime): running share (per mille)" $((run * 1000 / life)) 300 15
expect_at_most "tick with 2 hogs under rtds: p99 lateness (us)" \
    "$(timer_late "$log" tick deadline late_p99_us)" 1000
run=$(acct "$log" hog1 running_ns)
expect_near "hog1 in extratime: the rest of pCPU 1 (per mille)" $((run * 1000 / life)) 500 60
expect_line "$log" '^outcome tick: exited status=0 expect=exit ok$'
