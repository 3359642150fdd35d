#!/usr/bin/env bash
# Scheduling traces on the host: vsched-sim --trace writes protocol trace records, vsched-ctl
# trace turns them into Chrome/Perfetto JSON.  The JSON is validated by python3's json module
# and checked here, independently of vsched-ctl's code: every pCPU's slices are disjoint,
# the slices that start with a dispatch are as many as the runs the simulator's accounting
# counts (its --csv), no event is lost, and the records are deterministic.
source "$(dirname "$0")/lib.sh"

CTL="$BUILD/host/vsched-ctl" SIM="$BUILD/host/vsched-sim"
cfg=tests/sim/mixed.cfg

"$SIM" --trace "$WORK/t.log" --run-ms 1500 --csv "$cfg" > "$WORK/acct.csv" || fail "vsched-sim --trace"
"$SIM" --trace "$WORK/t2.log" --run-ms 1500 --csv "$cfg" > /dev/null || fail "vsched-sim --trace (2)"
cmp -s "$WORK/t.log" "$WORK/t2.log" || fail "vsched-sim --trace is not deterministic"
expect_line "$WORK/t.log" '^@vs2 seq=0 type=hello proto=2 version=sim backend=sim pcpus=4 '
expect_line "$WORK/t.log" '^@vs2 seq=[0-9]+ type=trace p=3 t0=[0-9]+ ev=[a-z]+:'
expect_no_line "$WORK/t.log" ' lost='
echo "ok: vsched-sim --trace: $(grep -c 'type=trace' "$WORK/t.log") trace records"

"$CTL" trace "$WORK/t.log" -o "$WORK/t.json" 2> "$WORK/ctl.err" || fail "vsched-ctl trace: $(cat "$WORK/ctl.err")"
python3 -m json.tool "$WORK/t.json" > /dev/null || fail "vsched-ctl trace: not valid JSON"
runs=$(awk -F, '$1 == "vcpu" && $3 != "all" { n += $9 } END { print n }' "$WORK/acct.csv")
# The file ends with the final accounting round: the same runs, and the VMs' names.
rec_runs=$(awk '/ type=vcpu / { for (i = 1; i <= NF; i++) if ($i ~ /^runs=/) n += substr($i, 6) } END { print n + 0 }' "$WORK/t.log")
((rec_runs == runs)) || fail "the trace file's final round has runs=$rec_runs, the CSV $runs"
expect_line "$WORK/t.log" '^@vs2 seq=[0-9]+ type=round r=0 t_ns=1500000000 .* final=1 '
"$CTL" summary --check "$WORK/t.log" > /dev/null || fail "vsched-ctl summary --check on the trace file"
python3 - "$WORK/t.json" "$runs" <<'PY' || fail "vsched-ctl trace: the JSON's checks failed"
import json, sys
doc = json.load(open(sys.argv[1]))
want_runs = int(sys.argv[2])
ev = doc["traceEvents"]
slices = [e for e in ev if e["ph"] == "X"]
by_tid = {}
for e in slices:
    assert e["dur"] >= 0, e
    by_tid.setdefault(e["tid"], []).append(e)
assert sorted(by_tid) == [0, 1, 2, 3], sorted(by_tid)
for tid, ss in by_tid.items():
    ss.sort(key=lambda e: e["ts"])
    for a, b in zip(ss, ss[1:]):
        assert a["ts"] + a["dur"] <= b["ts"] + 1e-9, ("overlap on pCPU", tid, a, b)
names = {e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "thread_name"}
assert names == {"pCPU 0", "pCPU 1", "pCPU 2", "pCPU 3"}, names
vms = {e["name"].split(".")[0] for e in slices}
assert vms <= {"batch", "web", "db", "mpi", "capped"} and "batch" in vms, vms  # named from the round
dispatches = sum(1 for e in slices if e["args"]["start"] == "run")
assert dispatches == want_runs, ("dispatch slices", dispatches, "runs counter", want_runs)
wakes = sum(1 for e in ev if e["ph"] == "i" and e["cat"] == "wake")
assert wakes > 0 and any(e["ph"] == "i" and e["cat"] == "kick" for e in ev)
assert doc["otherData"]["lost"] == 0 and doc["otherData"]["bad_records"] == 0
print("ok: %d slices (%d dispatches = the runs counter), %d wakes, pCPU tracks disjoint"
      % (len(slices), dispatches, wakes))
PY
grep -q '^trace: [0-9]* events, [0-9]* slices, 0 lost, 0 bad records$' "$WORK/ctl.err" ||
    fail "vsched-ctl trace: summary line: $(cat "$WORK/ctl.err")"

# A log without trace records, and a malformed one, are reported.
"$SIM" --records "$cfg" > "$WORK/norec.log"
"$CTL" trace "$WORK/norec.log" -o "$WORK/x.json" 2> /dev/null
(($? == 1)) || fail "vsched-ctl trace on a log without trace records: not exit 1"
{ head -n 2 "$WORK/t.log"; echo '@vs2 seq=99 type=trace p=0 t0=5 ev=run:0:0:0:1,bogus:1:1:1:1'; } > "$WORK/bad.log"
"$CTL" trace "$WORK/bad.log" -o "$WORK/bad.json" 2> "$WORK/bad.err" || fail "vsched-ctl trace on bad.log"
grep -q ', 1 bad records$' "$WORK/bad.err" || fail "a malformed trace record is not counted: $(cat "$WORK/bad.err")"
echo "ok: vsched-ctl trace reports missing and malformed records"
echo "PASS"
