# Scheduling scenarios shared by the QEMU (SVM) and Bochs (VT-x) tests: sourced after lib.sh
# with BOOT (boot_qemu or boot_bochs), EXTRA (emulator args) and the latency bounds this
# emulator can hold, in microseconds of guest time:
#   LAT_ALONE_US   timer guest alone on its pCPU: p99 lateness of a 1 ms sleep
#   LAT_CREDIT_US  the same with two hogs on its pCPU under credit (BOOST preempts for it)
#   LAT_PSHARE_US  the same under pshare (a short request with non-negative lag goes first)
# The numbers come from the VMM's own accounting records (protocol v1, docs/protocol.md),
# read with tools/vsched-ctl, and from the guests' own lines.

CTL="$BUILD/host/vsched-ctl"

# acct LOG VM KEY [VCPU]: KEY of VM (or of its vCPU) in the last complete round.
acct() {
    local v
    v=$("$CTL" summary "$1" --vm "$2" ${4:+--vcpu "$4"} --key "$3") ||
        fail "no $3 for vm $2${4:+ vcpu $4} in $1"
    echo "$v"
}

# expect_near WHAT ACTUAL WANT TOL: |ACTUAL - WANT| <= TOL (integers).
# (A value read in $(...) whose reader failed arrives empty: that is a failure of its own.)
expect_near() {
    [[ $2 =~ ^-?[0-9]+$ ]] || fail "$1: no value (see above)"
    local d=$(($2 - $3))
    ((d < 0)) && d=$((-d))
    ((d <= $4)) || fail "$1 = $2, expected $3 +- $4"
    echo "ok: $1 = $2 (expected $3 +- $4)"
}

# expect_at_most WHAT ACTUAL MAX
expect_at_most() {
    [[ $2 =~ ^-?[0-9]+$ ]] || fail "$1: no value (see above)"
    (($2 <= $3)) || fail "$1 = $2, expected at most $3"
    echo "ok: $1 = $2 (<= $3)"
}

# The accounting adds up exactly in the final round: each vCPU's running + ready + blocked +
# costop equals the round's lifetime, each VM has a record for each of its vCPUs, and no
# sequence number is missing.
expect_exact_accounting() {
    local log=$1
    "$CTL" summary "$log" --check > /dev/null || fail "protocol records lost or incomplete in $log"
    awk '
        function val(k,   i, kv) { for (i = 1; i <= NF; i++) { split($i, kv, "=");
                                   if (kv[1] == k) return kv[2] } return 0 }
        /^@vs2 / && val("type") == "round" && val("final") == 1 { final = val("r"); life = val("life_ns") }
        /^@vs2 / { rec[NR] = $0 }
        END {
            bad = 0; n = 0
            for (r in rec) {
                $0 = rec[r]
                if (val("r") != final || final == "") continue
                t = val("type")
                if (t == "vm") want[val("vm")] = val("vcpus")
                if (t != "vcpu") continue
                n++; have[val("vm")]++
                sum = val("run") + val("rdy") + val("blk") + val("cs")
                if (sum != life) { print "unbalanced (life_ns=" life "): " $0; bad = 1 }
            }
            for (v in want) if (want[v] != have[v]) { print "vm " v ": " want[v] " vCPUs, " have[v] " vcpu records"; bad = 1 }
            if (final == "" || n == 0) { print "no final round"; bad = 1 }
            exit bad
        }' "$log" || fail "accounting does not add up in $log"
    echo "ok: accounting adds up exactly (final round)"
}

# sched_boot NAME CONFIG SMP IMAGE...: boot tests/configs/CONFIG with the guest IMAGEs on SMP
# CPUs, log in $WORK/NAME.log; the run must end with status 0 and books that add up.
sched_boot() {
    local name=$1 cfg=$2 smp=$3 esp img imgs=()
    shift 3
    for img in "$@"; do imgs+=("$GUEST_DIR/$img"); done
    esp=$(make_esp "$WORK/$name" "tests/configs/$cfg" "${imgs[@]}")
    $BOOT "$WORK/$name.log" --esp "$esp" --smp "$smp" "${EXTRA[@]}"
    expect_status $? 0
    expect_exact_accounting "$WORK/$name.log"
}

# Last progress count a hog VM printed.
hog_progress() {
    local n
    n=$(grep -aE "^\[$2\] hog vcpu ${3:-0}: progress [0-9]+ iterations$" "$1" | tail -n 1 |
        awk '{ print $6 }')
    [[ -n "$n" ]] || fail "no progress line of $2 in $1"
    echo "$n"
}

# Lateness (us) KEY of a timer guest's line for MODE.
timer_late() {
    local line
    line=$(grep -aE "^\[$2\] timer vcpu=0 mode=$3 " "$1" | tail -n 1)
    [[ -n "$line" ]] || fail "no timer line of $2 mode=$3 in $1"
    [[ "$line" == *" early=0" ]] || fail "$2: interrupts before their time: $line"
    sed -E "s/.* $4=([0-9]+).*/\1/" <<< "$line"
}

# Weights 1:2:4 on one pCPU: running shares within 3% of 1/7, 2/7, 4/7, and the guests' own
# progress agrees within GUEST_TOL per mille (30 where guest time is deterministic); a timer
# guest alone wakes on time.
sched_shares() {
    local log="$WORK/shares.log"
    sched_boot shares shares.cfg 4 hog.elf timer.elf
    local r1 r2 r4 g1 g2 g4 total gtotal
    r1=$(acct "$log" w1 running_ns) r2=$(acct "$log" w2 running_ns) r4=$(acct "$log" w4 running_ns)
    g1=$(hog_progress "$log" w1) g2=$(hog_progress "$log" w2) g4=$(hog_progress "$log" w4)
    total=$((r1 + r2 + r4)) gtotal=$((g1 + g2 + g4))
    expect_near "w1 share (per mille, VMM)" $((r1 * 1000 / total)) 143 30
    expect_near "w2 share (per mille, VMM)" $((r2 * 1000 / total)) 286 30
    expect_near "w4 share (per mille, VMM)" $((r4 * 1000 / total)) 571 30
    expect_near "w1 share: guest vs VMM" $((g1 * 1000 / gtotal)) $((r1 * 1000 / total)) "$GUEST_TOL"
    expect_near "w2 share: guest vs VMM" $((g2 * 1000 / gtotal)) $((r2 * 1000 / total)) "$GUEST_TOL"
    expect_near "w4 share: guest vs VMM" $((g4 * 1000 / gtotal)) $((r4 * 1000 / total)) "$GUEST_TOL"
    for mode in oneshot deadline; do
        expect_at_most "tick alone, $mode: p99 lateness (us)" \
            "$(timer_late "$log" tick $mode late_p99_us)" "$LAT_ALONE_US"
    done
    timer_late "$log" tick periodic late_max_us > /dev/null
    expect_line "$log" '^outcome tick: exited status=0 expect=exit ok$'
    expect_line "$log" '^halt: status=0$'
}

# A timer guest sharing its pCPU with two hogs under POLICY still wakes within the bound; a
# cap of 50 holds a hog alone on its pCPU at 50% +- 3% of its runnable time.
sched_latency() {
    local policy=$1 log="$WORK/lat_$1.log"
    sched_boot "lat_$policy" "latency_$policy.cfg" 2 hog.elf timer.elf
    expect_line "$log" "policy=$policy "
    local bound=$LAT_CREDIT_US
    [[ $policy == pshare ]] && bound=$LAT_PSHARE_US
    expect_at_most "tick with 2 hogs under $policy: p99 lateness (us)" \
        "$(timer_late "$log" tick deadline late_p99_us)" "$bound"
    local run ready
    run=$(acct "$log" capped running_ns) ready=$(acct "$log" capped ready_ns)
    expect_near "capped hog: running share of its runnable time (per mille)" \
        $((run * 1000 / (run + ready))) 500 30
    expect_line "$log" '^outcome hog1: exited status=0 expect=exit ok$'
    expect_line "$log" '^outcome hog2: exited status=0 expect=exit ok$'
}

# 8 vCPUs on 2 pCPUs: every vCPU makes progress, every VM ends, the books balance.
sched_overcommit() {
    local log="$WORK/oc.log"
    sched_boot oc overcommit.cfg 2 hog.elf
    for vm in oc1 oc2 oc3 oc4; do
        for k in 0 1; do
            expect_line "$log" "^\[$vm\] hog vcpu $k: progress [1-9][0-9]* iterations\$"
            local run
            run=$(acct "$log" $vm running_ns $k)
            ((run > 0)) || fail "$vm vCPU $k never ran"
        done
        expect_line "$log" "^outcome $vm: exited status=0 expect=exit ok\$"
    done
}

# A strict gang of 2 vCPUs with a hog competing: the guests see no sibling descheduled while
# they run (checked where guest time is deterministic: GANG_GUEST_CHECK=1), and the VMM
# measures the start skew of its rounds.
sched_gang() {
    local log="$WORK/gang.log"
    sched_boot gang gang.cfg 2 hog.elf gang.elf
    if [[ ${GANG_GUEST_CHECK:-1} == 1 ]]; then
        expect_line "$log" '^\[gang\] gang vcpu=0 windows=[1-9][0-9]* violations=0 '
        expect_line "$log" '^\[gang\] gang vcpu=1 windows=[1-9][0-9]* violations=0 '
        expect_line "$log" '^vm gang: exited with status 0$'
    else
        expect_line "$log" '^\[gang\] gang vcpu=0 windows=[1-9][0-9]* violations=[0-9]+ '
        expect_line "$log" '^\[gang\] gang vcpu=1 windows=[1-9][0-9]* violations=[0-9]+ '
    fi
    expect_line "$log" '^outcome gang: exited status=[01] expect=exit ok$'
    expect_line "$log" '^outcome hog: exited status=0 expect=exit ok$'
    local n
    n=$(acct "$log" gang gang_skew_n)
    ((n > 0)) || fail "no gang round measured"
    echo "ok: $n gang rounds, skew max $(acct "$log" gang gang_skew_max_ns) ns"
}

# session LOG ESP SMP [--send-after PATTERN COMMAND]...: boot with COM1 on a socket (QEMU: a
# unix socket; Bochs: localhost TCP) and drive it with `vsched-ctl session`, which writes the
# console to LOG and returns the halt status.
session() {
    local log=$1 esp=$2 smp=$3 emu rc
    shift 3
    LAST_LOG=$log
    local timeout=${BOOT_TIMEOUT:-300}
    if [[ $BOOT == boot_qemu ]]; then
        echo "+ run-qemu --esp $esp --smp $smp --console-socket (session)"
        tools/run-qemu --esp "$esp" --smp "$smp" --timeout "$timeout" \
            --console-socket "$WORK/console.sock" "${EXTRA[@]}" > "$WORK/emu.out" 2>&1 &
        emu=$!
        "$CTL" session --socket "$WORK/console.sock" --log "$log" --timeout "$timeout" "$@"
    else
        local port=$((20000 + RANDOM % 20000))
        echo "+ run-bochs --esp $esp --smp $smp --console-tcp $port (session)"
        tools/run-bochs --esp "$esp" --smp "$smp" --timeout "$timeout" --console-tcp "$port" \
            "${EXTRA[@]}" > "$WORK/emu.out" 2>&1 &
        emu=$!
        "$CTL" session --tcp "localhost:$port" --log "$log" --timeout "$timeout" "$@"
    fi
    rc=$?
    wait "$emu" || true
    return "$rc"
}

# Switching the policy from the console mid-run keeps every VM running and the accounting
# whole; weight and gang-mode changes take effect; bad commands get one error each and change
# nothing.
sched_policy_switch() {
    local esp log="$WORK/switch.log"
    esp=$(make_esp "$WORK/switch" tests/configs/switch.cfg "$GUEST_DIR/hog.elf" \
                   "$GUEST_DIR/timer.elf")
    session "$log" "$esp" 2 \
        --send-after '[w4] hog vcpu 0: progress' 'policy name=nosuch id=1' \
        --send-after 'cmd=policy id=1' 'set vm=ghost weight=5 id=2' \
        --send-after 'cmd=set id=2' 'set vm=w1 cap=900 id=3' \
        --send-after 'cmd=set id=3' 'dump id=4' \
        --send-after 'type=round ' 'policy name=pshare id=5' \
        --send-after 'cmd=policy id=5' 'set vm=w1 weight=512 id=6' \
        --send-after 'cmd=set id=6' '@vs2 cmd=gang vm=w2 mode=sideways id=7' \
        --send-after 'cmd=gang id=7' 'gang vm=w2 mode=relaxed id=8'
    expect_status $? 0
    expect_exact_accounting "$log"
    expect_line "$log" '^@vs2 seq=[0-9]+ type=error cmd=policy id=1 msg="unknown policy nosuch"$'
    expect_line "$log" '^@vs2 seq=[0-9]+ type=error cmd=set id=2 msg="no VM named ghost"$'
    expect_line "$log" '^@vs2 seq=[0-9]+ type=error cmd=set id=3 msg="cap 900 is above 100 \* 1 vCPUs"$'
    expect_line "$log" '^@vs2 seq=[0-9]+ type=policy t_ns=[0-9]+ from=credit to=pshare$'
    expect_line "$log" '^@vs2 seq=[0-9]+ type=ok cmd=dump id=4$'
    expect_line "$log" '^@vs2 seq=[0-9]+ type=ok cmd=policy id=5$'
    expect_line "$log" '^@vs2 seq=[0-9]+ type=ok cmd=set id=6 vm=w1$'
    expect_line "$log" '^@vs2 seq=[0-9]+ type=round .*policy=pshare final=1 '
    expect_line "$log" '^@vs2 seq=[0-9]+ type=vm .* vm=w1 .*weight=512 state='
    expect_line "$log" '^@vs2 seq=[0-9]+ type=error cmd=gang id=7 msg="'
    expect_line "$log" '^@vs2 seq=[0-9]+ type=ok cmd=gang id=8 vm=w2$'
    expect_line "$log" '^@vs2 seq=[0-9]+ type=vm .* vm=w2 .* gang=relaxed '
    # The errors changed nothing: the policy stayed credit until the good command.
    awk '/type=error cmd=policy id=1/ { bad = 1 }
         bad && /type=round / { if ($0 !~ / policy=credit /) exit 1; seen = 1 }
         /type=policy .*to=pshare/ { exit !seen }' "$log" ||
        fail "the policy changed before the good command"
    echo "ok: rounds after the bad commands still say policy=credit"
    # Every VM kept running after the switch: each printed progress after it.
    for vm in w1 w2 w4; do
        awk -v vm="[$vm]" '/type=policy .*to=pshare/ { after = 1 }
                            after && index($0, vm " hog vcpu 0: progress") == 1 { found = 1 }
                            END { exit !found }' "$log" ||
            fail "$vm made no progress after the policy switch"
        echo "ok: $vm progressed after the switch"
    done
    expect_line "$log" '^outcome tick: running at run_ms expect=exit ok$'
    expect_line "$log" '^halt: status=0$'
}

# IPIs within a VM, through the posted-interrupt descriptors: to a vCPU running on another
# pCPU (notification IPI) and to a halted one (wake-up); none lost, none delivered twice.
sched_ipi() {
    local log="$WORK/ipi.log"
    sched_boot ipi ipi.cfg 4 ipi.elf
    expect_line "$log" '^\[spin\] ipi wait=spin n=300 rtt_p50_us=[0-9]+ .* lost=0 dup=0$'
    expect_line "$log" '^\[hlt\] ipi wait=hlt n=300 rtt_p50_us=[0-9]+ .* lost=0 dup=0$'
    expect_line "$log" '^outcome spin: exited status=0 expect=exit ok$'
    expect_line "$log" '^outcome hlt: exited status=0 expect=exit ok$'
    local notified=0 p
    for p in 0 1; do
        notified=$((notified + $("$CTL" summary "$log" --pcpu $p --key notifies_sent)))
    done
    ((notified > 0)) || fail "no posted-interrupt notification was sent for the spinning VM"
    echo "ok: $notified notifications between pCPUs 0 and 1"
    local wakeups
    wakeups=$(acct "$log" hlt wakeups 1)
    # Not every IPI finds it halted (it may still be on its way to HLT), but most do.
    ((wakeups >= 100)) || fail "the halted vCPU woke only $wakeups times for 300 IPIs"
    echo "ok: the halted vCPU woke $wakeups times for 300 IPIs"
}

# CPU pools (tests/configs/pools.cfg): a1 alone in the default pool (pCPU 0), b1 and b2 in
# pool rt (pCPU 1, rr).  After the first round the console moves b2 to the default pool: the
# shares follow (before: b1 and b2 half of what a1 gets; after: a1 and b2 half of what b1
# gets), the records name each VM's pool and show it on its pool's pCPU; bad pool commands
# get one error each and change nothing; rt's policy switches alone.
# POOL_TOL_PERMILLE: how far a half share may be from 500 permille here.
sched_pools() {
    local esp log="$WORK/pools.log"
    esp=$(make_esp "$WORK/pools" tests/configs/pools.cfg "$GUEST_DIR/hog.elf")
    session "$log" "$esp" 2 \
        --send-after 'type=round ' 'pool vm=b2 to=default id=1' \
        --send-after 'cmd=pool id=1' 'pool vm=b1 to=nosuch id=2' \
        --send-after 'cmd=pool id=2' 'pool pcpu=1 to=default id=3' \
        --send-after 'cmd=pool id=3' 'pool pcpu=9 to=rt id=4' \
        --send-after 'cmd=pool id=4' 'policy name=pshare pool=rt id=5'
    expect_status $? 0
    expect_exact_accounting "$log"
    expect_line "$log" '^@vs2 seq=[0-9]+ type=ok cmd=pool id=1 vm=b2$'
    expect_line "$log" '^@vs2 seq=[0-9]+ type=pool t_ns=[0-9]+ vm=b2 to=default$'
    expect_line "$log" '^@vs2 seq=[0-9]+ type=error cmd=pool id=2 msg="no pool named nosuch"$'
    expect_line "$log" '^@vs2 seq=[0-9]+ type=error cmd=pool id=3 msg="inconsistent setup \(affinity, gang width, start pCPU, pools\)"$'
    expect_line "$log" '^@vs2 seq=[0-9]+ type=error cmd=pool id=4 msg="no pCPU 9 \(the machine has 2\)"$'
    expect_line "$log" '^@vs2 seq=[0-9]+ type=policy t_ns=[0-9]+ pool=rt from=rr to=pshare$'
    expect_line "$log" '^@vs2 seq=[0-9]+ type=pcpu r=0 p=0 pool=default policy=credit( |$)'
    expect_line "$log" '^@vs2 seq=[0-9]+ type=pcpu r=0 p=1 pool=rt policy=rr( |$)'
    # Where each VM's vCPU was in the first round and in the last one in which all ran, and
    # its running time.
    awk -v tol="$POOL_TOL_PERMILLE" '
        function val(k,   i, kv) { for (i = 1; i <= NF; i++) { split($i, kv, "=");
                                   if (kv[1] == k) return kv[2] } return "" }
        /type=pool .*vm=b2 to=default/ { moved = 1 }
        /^@vs2 / && val("type") == "vm" { pool[val("r"), val("vm")] = val("pool")
                                          if (val("state") != "running") ended[val("r")] = 1 }
        /^@vs2 / && val("type") == "vcpu" { p[val("r"), val("vm")] = val("p"); run[val("r"), val("vm")] = val("run") }
        /^@vs2 / && val("type") == "pcpu" && val("p") == 1 { pol[val("r")] = val("policy") }
        # last: the last round in which all three still ran (the window ends there)
        /^@vs2 / && val("type") == "round" { r = val("r"); if (!moved) before = r
                                             if (!ended[r]) last = r }
        END {
            bad = 0
            if (before == "" || last == before) { print "no round before or after the move"; exit 1 }
            if (pool[0, "a1"] != "default" || pool[0, "b1"] != "rt" || pool[0, "b2"] != "rt" ||
                p[0, "a1"] != 0 || p[0, "b1"] != 1 || p[0, "b2"] != 1) { print "round 0 placement wrong"; bad = 1 }
            if (pool[last, "b2"] != "default" || p[last, "b2"] != 0 || pool[last, "b1"] != "rt" ||
                p[last, "b1"] != 1 || pol[last] != "pshare") { print "final placement wrong"; bad = 1 }
            # Before the move (round 0 .. before): b1 and b2 each half of a1.
            for (i = 1; i <= 2; i++) {
                vm = "b" i
                pm = int(1000 * run[before, vm] / run[before, "a1"])
                printf "before the move: %s ran %d permille of a1 (want 500 +- %d)\n", vm, pm, tol
                if (pm < 500 - tol || pm > 500 + tol) bad = 1
            }
            # After it (before .. last): a1 and b2 each half of b1.
            db1 = run[last, "b1"] - run[before, "b1"]
            split("a1 b2", after, " ")
            for (i = 1; i <= 2; i++) {
                vm = after[i]
                pm = int(1000 * (run[last, vm] - run[before, vm]) / db1)
                printf "after the move: %s ran %d permille of b1 (want 500 +- %d)\n", vm, pm, tol
                if (pm < 500 - tol || pm > 500 + tol) bad = 1
            }
            exit bad
        }' "$log" || fail "pool shares or placement wrong (above)"
    echo "ok: pools: placement, shares before and after the move, rt's policy switched alone"
    local where
    where=$(acct "$log" b2 pool)
    [[ $where == default ]] || fail "vsched-ctl reads b2's pool as '$where', not default"
    echo "ok: vsched-ctl: b2 is in pool default at the end"
    for vm in a1 b1 b2; do
        expect_line "$log" "^outcome $vm: exited status=0 expect=exit ok\$"
    done
}
