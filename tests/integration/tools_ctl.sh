#!/usr/bin/env bash
# The research tools on recorded logs (no emulator): vsched-sim --records, vsched-ctl summary,
# export (CSV, JSON, histogram buckets) and plot, vsched-exp; and the --help / usage-error
# rules of every tool.  Expected values are computed here from the raw records with awk, not
# with vsched-ctl's own code.
source "$(dirname "$0")/lib.sh"

CTL="$BUILD/host/vsched-ctl" SIM="$BUILD/host/vsched-sim"

# ---- every tool: --help on stdout with exit 0, a bad option exits 2 ----
for t in "$CTL" "$CTL session" "$CTL summary" "$CTL top" "$CTL export" "$CTL plot" "$CTL trace" "$CTL input" "$SIM" \
         "$BUILD/host/vmlinux-extract" \
         tools/vsched-exp tools/bench-latency tools/run-qemu tools/run-bochs tools/mkesp \
         tools/mkimage tools/deps.sh; do
    out=$($t --help 2> "$WORK/help.err") || fail "$t --help: exit status $?"
    [[ -n $out && ! -s $WORK/help.err ]] || fail "$t --help: nothing on stdout, or something on stderr"
    $t --no-such-option > /dev/null 2>&1
    rc=$?
    [[ $t == tools/mkesp || $t == tools/mkimage || $t == tools/deps.sh ]] && continue  # positional
    ((rc == 2)) || fail "$t --no-such-option: exit status $rc, expected 2"
done
echo "ok: --help and usage errors of every tool"

# make help names every target the makefiles define (rules at column 0, not files or patterns).
make --no-print-directory help > "$WORK/help.txt" || fail "make help"
targets=$(grep -hoE '^[a-z][a-z-]*:' Makefile ./*/build.mk | tr -d : | sort -u)
[[ -n $targets ]] || fail "no targets found in the makefiles"
for t in $targets; do
    grep -Eq "make ([a-z-]+, )*$t([ ,]|$)" "$WORK/help.txt" || fail "make help does not list '$t'"
done
echo "ok: make help lists all $(wc -w <<< "$targets") targets"

# ---- the simulator prints the VMM's records ----
log="$WORK/mixed.log"
"$SIM" --records --report-ms 500 tests/sim/mixed.cfg > "$log" || fail "vsched-sim --records"
"$SIM" --records --report-ms 500 tests/sim/mixed.cfg | cmp -s - "$log" ||
    fail "vsched-sim --records is not deterministic"
expect_line "$log" '^@vs2 seq=0 type=hello proto=2 version=sim backend=sim pcpus=4 vms=5 '
expect_count "$log" '^@vs2 seq=[0-9]+ type=round r=[0-3] ' 4
expect_line "$log" '^@vs2 seq=[0-9]+ type=round r=3 t_ns=2000000000 life_ns=2000000000 policy=credit final=1 '
"$CTL" summary --check "$log" > /dev/null || fail "summary --check on the simulator's records"
echo "ok: the simulator's records are complete rounds"

# The web VM's running time and %USED in the last interval, from the raw vcpu records.
vm_raw() { # LOG VM ROUND -> "run_sum t_ns"
    awk -v vm="$2" -v r="$3" '
        function val(k,   i, kv) { for (i = 1; i <= NF; i++) { split($i, kv, "=");
                                   if (kv[1] == k) return kv[2] } return 0 }
        val("r") == r && val("type") == "vcpu" && val("vm") == vm { run += val("run") }
        val("r") == r && val("type") == "round" { t = val("t_ns") }
        END { printf "%d %d\n", run, t }' "$1"
}
read -r run3 t3 < <(vm_raw "$log" web 3)
read -r run2 t2 < <(vm_raw "$log" web 2)
used=$(awk -v a="$run3" -v b="$run2" -v t="$t3" -v u="$t2" 'BEGIN { printf "%.2f", (a - b) * 100 / (t - u) }')
((run3 > 0)) || fail "no running time of web in the last round"

# ---- summary --key uses the export names ----
[[ $("$CTL" summary "$log" --vm web --key running_ns) == "$run3" ]] ||
    fail "summary --vm web --key running_ns: not the sum of its vCPUs ($run3)"
[[ $("$CTL" summary "$log" --vm web --key used_pct) == "$used" ]] ||
    fail "summary --vm web --key used_pct: $("$CTL" summary "$log" --vm web --key used_pct), expected $used"
echo "ok: web ran $run3 ns, $used% of a pCPU in the last interval"

# A lost record is reported, and --check fails.
sed '/^@vs2 seq=40 /d' "$log" > "$WORK/gap.log"
"$CTL" summary --check "$WORK/gap.log" > /dev/null 2> "$WORK/gap.err"
(($? == 1)) || fail "summary --check passed a log with a lost record"
expect_line "$WORK/gap.err" 'seq gap: 1 record\(s\) lost \(seq 40\.\.40\)'

# ---- export: CSV ----
"$CTL" export "$log" --csv --type vm > "$WORK/vm.csv" || fail "export --csv --type vm"
col() { # CSV COLUMN ROW-FILTER(awk) -> value
    awk -F, -v c="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i; next }
                        '"$3"' { print $k }' "$1"
}
[[ $(col "$WORK/vm.csv" used_pct '$1 == 3 && $4 == "web"') == "$used" ]] ||
    fail "export vm.csv: used_pct of web in round 3 is not $used"
[[ $(col "$WORK/vm.csv" running_ns '$1 == 3 && $4 == "web"') == "$run3" ]] ||
    fail "export vm.csv: running_ns of web in round 3 is not $run3"
[[ $(wc -l < "$WORK/vm.csv") -eq $((1 + 4 * 5)) ]] || fail "export vm.csv: not 4 rounds x 5 VMs"
echo "ok: vm.csv has web's running_ns and used_pct"

# Histogram buckets: the cumulative count of web's last bucket is the number of wake-ups the
# records carry (decoded here from the sparse wh= items), and the CDF ends at 1.
"$CTL" export "$log" --csv --dir "$WORK/csv" || fail "export --csv --dir"
for t in round vm vcpu pcpu hist; do [[ -f $WORK/csv/$t.csv ]] || fail "no $t.csv"; done
wake=$(awk '
    function val(k,   i, kv) { for (i = 1; i <= NF; i++) { split($i, kv, "=");
                               if (kv[1] == k) return kv[2] } return "" }
    val("r") == 3 && val("type") == "vcpu" && val("vm") == "web" {
        n = split(val("wh"), it, ",")
        for (i = 1; i <= n; i++) { m = split(it[i], p, ":"); sum += (m == 2 ? p[2] : p[1]) } }
    END { print sum + 0 }' "$log")
last=$(awk -F, '$1 == 3 && $3 == "vm" && $4 == "web" && $7 == "wake"' "$WORK/csv/hist.csv" | tail -n 1)
[[ -n $last ]] || fail "hist.csv has no wake buckets of web in round 3"
[[ $(cut -d, -f12 <<< "$last") == "$wake" && $(cut -d, -f13 <<< "$last") == 1.000000 ]] ||
    fail "hist.csv: web's last wake bucket '$last', expected cum=$wake and cdf 1.000000"
[[ $(col "$WORK/csv/vm.csv" wake_n '$1 == 3 && $4 == "web"') == "$wake" ]] ||
    fail "vm.csv: wake_n of web is not $wake"
echo "ok: hist.csv: $wake wake-ups of web in buckets, CDF to 1"

# ---- a VMM's records written by hand: exits, kicks, gang skew, a continued histogram ----
# Interval r1 - r0 = 1 s: the vCPU ran 0.5 s, was ready 0.2 s, co-stopped 0.1 s, blocked
# 0.2 s; 410 exits (300 hlt, 10 msr, 100 tmr); wake-ups: 10 then 20, the 10 new ones all in
# bucket 44 = [4096, 5119] ns; pCPU 1 got 10 kicks, pCPU 0 idled 0.5 s.
fx="$WORK/vmm.log"
cat > "$fx" <<'EOF'
vsched 0: a hand-written log
@vs2 seq=0 type=hello proto=2 version=t backend=vmx pcpus=2 vms=1 policy=credit tsc_khz=1000000 report_ms=1000 hist_sub_bits=2 hist_max_log2=40
@vs2 seq=1 type=vm r=0 vm=db id=0 vcpus=1 weight=256 cap=50 gang=strict state=running gmax=5000 gh=50:2
@vs2 seq=2 type=vcpu r=0 vm=db v=0 p=1 st=run run=400000000 rdy=100000000 blk=500000000 runs=10 ex=hlt:100,tmr:50 irq=7 wmax=3000 wh=40:4
@vs2 seq=3 type=hist r=0 of=vcpu vm=db v=0 wh=44:6
@vs2 seq=4 type=pcpu r=0 p=0 idle=1000000000
@vs2 seq=5 type=pcpu r=0 p=1 kr=4 kmax=900 kh=30:4
@vs2 seq=6 type=round r=0 t_ns=1000000000 life_ns=1000000000 policy=credit final=0 records=6
[db] some guest output
@vs2 seq=7 type=vm r=1 vm=db id=0 vcpus=1 weight=256 cap=50 gang=strict state=exited gmax=5000 gh=50:3
@vs2 seq=8 type=vcpu r=1 vm=db v=0 p=1 st=blk run=900000000 rdy=300000000 blk=700000000 cs=100000000 runs=30 mig=2 ex=hlt:400,msr:10,tmr:150 irq=20 wmax=9000 wh=40:4,44:16
@vs2 seq=9 type=pcpu r=1 p=0 idle=1500000000
@vs2 seq=10 type=pcpu r=1 p=1 kr=14 kmax=900 kh=30:14
@vs2 seq=11 type=round r=1 t_ns=2000000000 life_ns=2000000000 policy=credit final=1 records=5
halt: status=0
EOF
"$CTL" summary --check "$fx" > /dev/null || fail "summary --check on the hand-written log"
"$CTL" export "$fx" --csv --dir "$WORK/fx" || fail "export of the hand-written log"
expect_value() { # TABLE ROW-FILTER COLUMN WANT
    local got
    got=$(col "$WORK/fx/$1.csv" "$3" "$2")
    [[ $got == "$4" ]] || fail "$1.csv [$2] $3 = '$got', expected $4"
}
r1='$1 == 1' r0='$1 == 0'
for kv in used_pct=50.00 ready_pct=20.00 costop_pct=10.00 wait_pct=20.00 exits=560 \
          exits_per_s=410.00 exit_hlt=400 exit_msr=10 exit_timer=150 irqs=20 wake_n=20 \
          wake_p99_ns_interval=5119 wake_p99_ns=5119 migrations_per_s=2.00 state=blocked \
          lifetime_ns=2000000000; do
    expect_value vcpu "$r1" "${kv%%=*}" "${kv#*=}"
done
expect_value vm "$r0" wake_n 10           # the continued histogram is merged
expect_value vm "$r0" gang_skew_n 2
expect_value vm "$r1" gang strict
expect_value vm "$r1" cap 50
expect_value vm "$r1" share_pct 100.00
expect_value pcpu "$r1"' && $4 == 1' kicks_per_s 10.00
expect_value pcpu "$r1"' && $4 == 1' kick_n 14
expect_value pcpu "$r1"' && $4 == 0' idle_pct 50.00
"$CTL" top -b --vcpus "$fx" > "$WORK/fx.top" || fail "top -b on the hand-written log"
expect_line "$WORK/fx.top" '^db +1 +50\.00 +20\.00 +10\.00 +20\.00 +[0-9]+ +5 +2\.00 +410 +[0-9]+ +exited +hlt:300 tmr:100 msr:10$'
expect_line "$WORK/fx.top" '^  db\.0 +p1 +50\.00 .* blocked +hlt:300 tmr:100 msr:10$'
expect_line "$WORK/fx.top" '^1 +0\.00 +10\.00 +0 +0$'   # kick p99: bucket 30, 447 ns
echo "ok: exits, kicks, gang skew and continued histograms of a VMM log"

# ---- export: JSON (parsed by perl's JSON::PP) ----
"$CTL" export "$log" --json > "$WORK/all.json" || fail "export --json"
got=$(perl -MJSON::PP -e '
    local $/; my $j = decode_json(<STDIN>);
    my ($w) = grep { $_->{round} == 3 && $_->{vm} eq "web" } @{$j->{vm}};
    printf "%s %s %d %d\n", $j->{hello}{backend}, $w->{running_ns}, scalar @{$j->{vcpu}},
        scalar @{$j->{hist}};' < "$WORK/all.json") || fail "export --json is not valid JSON"
read -r backend jrun nvcpu nhist <<< "$got"
[[ $backend == sim && $jrun == "$run3" && $nvcpu -eq $((4 * 10)) && $nhist -gt 0 ]] ||
    fail "export --json: '$got', expected sim $run3 40 and some hist rows"
echo "ok: JSON: backend sim, web running_ns $jrun, $nvcpu vcpu rows, $nhist hist rows"

# ---- plot: PNG and SVG ----
"$CTL" plot "$log" --out "$WORK/plots" --format both > /dev/null || fail "vsched-ctl plot"
for f in latency_cdf share ready_costop; do
    [[ $(head -c 8 "$WORK/plots/$f.png" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] ||
        fail "$f.png is not a PNG"
    grep -q '<svg' "$WORK/plots/$f.svg" || fail "$f.svg is not an SVG"
done
# The CDF curve of web is its buckets: the data behind the figure ends at 1.
grep -l '^# web$' "$WORK"/plots/data/latency_cdf_*.dat > /dev/null || fail "no CDF data for web"
echo "ok: plots: latency_cdf, share, ready_costop as PNG and SVG"

# ---- vsched-exp: a 2 x 2 x 2 matrix on the simulator, one run that fails ----
cat > "$WORK/exp.cfg" <<'EOF'
[machine]
policy = {policy}
pcpus = 2
run_ms = 600
report_ms = 200
seed = {seed}
timeslice_us = {slice}

[vm batch]
workload = hog

[vm web]
weight = 512
workload = periodic period_us=5000 run_us=1000
EOF
cat > "$WORK/good.exp" <<EOF
name = matrix
config = $WORK/exp.cfg
backends = sim
policies = credit pshare
seeds = 1 2
param slice = 10000 30000
EOF
tools/vsched-exp "$WORK/good.exp" --out "$WORK/good" --build "$BUILD" 2> "$WORK/good.err" ||
    fail "vsched-exp: a good matrix failed: $(tail -n 5 "$WORK/good.err")"
expect_line "$WORK/good.err" '^vsched-exp: \[8/8\] sim-pshare-slice=30000-seed2: ok .* ETA 0m00s$'
[[ $(ls "$WORK"/good/runs/*.log | wc -l) -eq 8 ]] || fail "vsched-exp did not keep 8 logs"
[[ $(wc -l < "$WORK/good/results.csv") -eq $((1 + 8 * 2)) ]] || fail "results.csv: not 8 runs x 2 VMs"
expect_line "$WORK/good/results.csv" '^sim-credit-slice=10000-seed1,sim,credit,1,10000,ok,0,2,600000000,'
[[ -s $WORK/good/plots/latency_cdf.png && -s $WORK/good/plots/share.svg ]] || fail "no plots"
echo "ok: vsched-exp ran 8 runs, kept 8 logs, wrote results.csv and the plots"

# A value the config rejects (timeslice_us below 100): that run fails, is named, the others
# still run, the exit status is 1.
sed 's/^param slice = .*/param slice = 10000 50/' "$WORK/good.exp" > "$WORK/bad.exp"
tools/vsched-exp "$WORK/bad.exp" --out "$WORK/bad" --build "$BUILD" 2> "$WORK/bad.err"
rc=$?
((rc == 1)) || fail "vsched-exp with a failing run: exit status $rc, expected 1"
expect_count "$WORK/bad.err" '^  FAILED sim-[a-z]+-slice=50-seed[12]: exit status 2 ' 4
expect_line "$WORK/bad.err" '^vsched-exp: \[8/8\] '
expect_count "$WORK/bad/results.csv" ',failed,2' 4
expect_line "$WORK/bad/runs/sim-credit-slice=50-seed1.err" 'timeslice_us'
echo "ok: the failing runs are named, counted and their errors kept"
echo "all tools checks passed"
