#!/usr/bin/env bash
# rtds in the VMM, VT-x backend under Bochs (emulated time: deterministic): reservations of
# 50 % of pCPU 1 (a 1 ms timer guest with 200 us / 1 ms, a hog with 3 / 10 ms and no
# extratime) next to a hog in extratime meet every deadline after the VMM's start (dm does not
# grow after the first accounting round); the hog without extratime
# runs 30 % of the time, no more; the extratime hog gets the rest; the timer guest wakes as
# promptly as under credit's BOOST; console commands that do not fit (a reservation, a switch
# to null) are refused with nothing changed, one that fits is admitted.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sched_common.sh"
BOOT=boot_bochs EXTRA=(--cpu corei7_skylake_x)
log="$WORK/rtds.log"
# Console commands once the timer guest is done (0.65 s): a reservation that does not fit
# pCPU 1 (20 + 30 + 60 %) and a switch to null (4 vCPUs on 2 pCPUs) are refused and change
# nothing; a reservation for the hog alone on pCPU 0 is admitted.
esp=$(make_esp "$WORK/rtds" tests/configs/rtds.cfg "$GUEST_DIR/hog.elf" "$GUEST_DIR/timer.elf")
session "$log" "$esp" 2 \
    --send-after '[tick] timer vcpu=0 mode=deadline' 'reserve vm=hog1 budget_us=6000 period_us=10000 id=1' \
    --send-after 'cmd=reserve id=1' 'policy name=null id=2' \
    --send-after 'cmd=policy id=2' 'reserve vm=hog0 budget_us=5000 period_us=10000 id=3'
expect_status $? 0
expect_exact_accounting "$log"
expect_line "$log" '^@vs2 seq=[0-9]+ type=error cmd=reserve id=1 msg="rtds: reservations exceed the pCPUs'
expect_line "$log" '^@vs2 seq=[0-9]+ type=error cmd=policy id=2 msg="null: more vCPUs than pCPUs'
expect_line "$log" '^@vs2 seq=[0-9]+ type=ok cmd=reserve id=3 vm=hog0$'
expect_no_line "$log" 'type=policy t_ns='
expect_line "$log" "policy=rtds "
# The VMM's first decision comes ~13 ms after the vCPUs are woken at power-on (Bochs; wmax):
# the periods of that start are missed (tick: 13 of 1 ms, rhog: 1 of 10 ms).  Every deadline
# after the first accounting round (200 ms) must be met: dm may not grow after it.
dm_at() { # dm_at LOG VM ROUND: the vCPU's dm in that round (absent = 0)
    awk -v vm="$2" -v r="$3" '/^@vs2 / && / type=vcpu / && $0 ~ " vm=" vm " " && $0 ~ " r=" r " " {
        d = 0; for (i = 1; i <= NF; i++) if ($i ~ /^dm=/) d = substr($i, 4); print d; exit }' "$1"
}
final=$(awk '/^@vs2 / && / type=round / && / final=1/ { for (i = 1; i <= NF; i++) if ($i ~ /^r=/) print substr($i, 3) }' "$log")
[[ -n $final && $final -ge 2 ]] || fail "no final round after the first in $log"
for vm in tick rhog; do
    first=$(dm_at "$log" "$vm" 0) last=$(dm_at "$log" "$vm" "$final")
    [[ -n $first && -n $last ]] || fail "no vcpu record of $vm in rounds 0 and $final"
    echo "$vm: $first deadline misses by the first round (the start), $last at the end"
    expect_at_most "$vm: deadline misses after the start" $((last - first)) 0
done
# Shares over the run: the round taken when run_ms ended the VMs (the records before the
# run's end; the final round adds the end's tail, in which every vCPU is parked).
runlog="$log.run"
sed '/^run: every VM has ended/,$d' "$log" > "$runlog"
run=$(acct "$runlog" rhog running_ns) life=$(acct "$runlog" rhog lifetime_ns)
expect_near "rhog (3 of 10 ms, no extratime): running share (per mille)" $((run * 1000 / life)) 300 15
expect_at_most "tick with 2 hogs under rtds: p99 lateness (us)" \
    "$(timer_late "$log" tick deadline late_p99_us)" 1000
# What the reservations leave after the start (hog1's first wait is the VMM's boot gap).
rest=$((life - run - $(acct "$runlog" tick running_ns) - $(acct "$runlog" hog1 wake_max_ns)))
expect_near "hog1 in extratime: the rest of pCPU 1 after the start (per mille of it)" \
    $(($(acct "$runlog" hog1 running_ns) * 1000 / rest)) 1000 30
expect_line "$log" '^outcome tick: exited status=0 expect=exit ok$'
