#!/usr/bin/env bash
# Scheduling traces from the VMM (QEMU, SVM): tracing turned on and off from the console,
# the rings drained as trace records (bounded chunks from the console poll), and the log
# converted by vsched-ctl trace into Chrome/Perfetto JSON, checked with python3: both pCPUs'
# tracks, run slices of the VMs that run there (disjoint per pCPU), the timer guest's wake-ups,
# and drained + lost events agree with the trace_end records.  A bad argument is refused.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sched_common.sh"
BOOT=boot_qemu EXTRA=()

log="$WORK/trace.log"
esp=$(make_esp "$WORK/trace" tests/configs/trace.cfg "$GUEST_DIR/hog.elf" "$GUEST_DIR/timer.elf")
session "$log" "$esp" 2 \
    --send-after '[w1] hog vcpu 0: progress' '@vs2 cmd=trace on=2 id=1' \
    --send-after 'cmd=trace id=1' 'trace on=1 id=2' \
    --send-after 'type=round r=0 ' 'trace on=0 id=3'
expect_status $? 0
expect_line "$log" '^@vs2 seq=[0-9]+ type=error cmd=trace id=1 msg="value of .on. is out of range \(0\.\.1\)"$'
expect_line "$log" '^@vs2 seq=[0-9]+ type=ok cmd=trace id=2$'
expect_line "$log" '^@vs2 seq=[0-9]+ type=ok cmd=trace id=3$'
expect_line "$log" '^@vs2 seq=[0-9]+ type=trace p=0 t0=[0-9]+ ev=.*wake:2:0:'
expect_line "$log" '^@vs2 seq=[0-9]+ type=trace p=1 t0=[0-9]+ ev=.*run:[01]:0:'
expect_line "$log" '^@vs2 seq=[0-9]+ type=trace_end events=[0-9]+ lost=[0-9]+ on=0$'
# Nothing traced before the first on=1 (the refused on=2 changed nothing).
awk '/cmd=trace id=2$/ { exit } / type=trace / { exit 1 }' "$log" ||
    fail "trace records before tracing was turned on"
echo "ok: trace on/off and the drain over the console"

"$CTL" trace "$log" -o "$WORK/trace.json" 2> "$WORK/ctl.err" || fail "vsched-ctl trace: $(cat "$WORK/ctl.err")"
cat "$WORK/ctl.err"
drained=$(awk '/ type=trace_end / { for (i = 1; i <= NF; i++) if ($i ~ /^events=/) n += substr($i, 8) } END { print n + 0 }' "$log")
lost=$(awk '/ type=trace_end / { for (i = 1; i <= NF; i++) if ($i ~ /^lost=/) n += substr($i, 6) } END { print n + 0 }' "$log")
python3 - "$WORK/trace.json" "$drained" "$lost" <<'PY' || fail "the VMM's trace JSON failed its checks"
import json, sys
doc = json.load(open(sys.argv[1]))
drained, lost = int(sys.argv[2]), int(sys.argv[3])
ev = doc["traceEvents"]
assert doc["otherData"]["events"] == drained, (doc["otherData"], drained)
assert doc["otherData"]["lost"] == lost and doc["otherData"]["bad_records"] == 0
slices = [e for e in ev if e["ph"] == "X"]
by = {}
for e in slices:
    by.setdefault(e["tid"], []).append(e)
assert sorted(by) == [0, 1], sorted(by)
for tid, ss in by.items():
    ss.sort(key=lambda e: e["ts"])
    for a, b in zip(ss, ss[1:]):
        assert a["ts"] + a["dur"] <= b["ts"] + 1e-6, ("overlap", tid, a, b)
on0 = {e["name"] for e in by[0]}
on1 = {e["name"] for e in by[1]}
assert "tick.0" in on0 and on0 <= {"tick.0"}, on0              # affinity = 0
assert {"w1.0", "w2.0"} <= on1 and on1 <= {"w1.0", "w2.0"}, on1  # affinity = 1
wakes = [e for e in ev if e["ph"] == "i" and e["cat"] == "wake" and e["args"]["vm"] == 2]
assert len(wakes) >= 50, len(wakes)  # a 1 ms timer guest, traced for a while
print("ok: %d events, %d slices (pCPU 0: %d, pCPU 1: %d), %d timer wake-ups, %d lost"
      % (drained, len(slices), len(by[0]), len(by[1]), len(wakes), lost))
PY
echo "PASS"
