#!/usr/bin/env bash
# More than 64 pCPUs (QEMU, 72 CPUs): the VMM starts them all and schedules VMs that live on
# pCPUs 63..71 only (tests/configs/pcpus72.cfg) — the second word of every pCPU set: kicks,
# idle and ready bits, affinity, a strict gang's homes.  Every vCPU stays inside its affinity,
# every VM ends as configured, and a trace drained mid-run shows runs on those pCPUs only.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sched_common.sh"
BOOT=boot_qemu EXTRA=(--mem 1024)

log="$WORK/p72.log"
esp=$(make_esp "$WORK/p72" tests/configs/pcpus72.cfg "$GUEST_DIR/hello.elf" "$GUEST_DIR/hog.elf")
session "$log" "$esp" 72 --send-after '[batch] hog vcpu 0: progress' 'trace id=1'
expect_status $? 0
expect_line "$log" '^cpus: 72 of 72 online$'
for vm in web batch gang; do expect_line "$log" "^outcome $vm: exited status=0 expect=exit ok$"; done
# Where each vCPU ended (the final round), against its affinity.
awk '/ type=vcpu / && / final=1 / { next } / type=vcpu / {
         for (i = 1; i <= NF; i++) { if ($i ~ /^vm=/) vm = substr($i, 4); if ($i ~ /^p=/) p = substr($i, 3) + 0 }
         lo = vm == "web" ? 70 : vm == "batch" ? 63 : 67; hi = vm == "web" ? 71 : vm == "batch" ? 66 : 68
         if (vm == "gang") hi = 69
         if (p < lo || p > hi) { print vm " on pCPU " p; bad = 1 } n++ }
     END { exit bad || n < 8 }' "$log" || fail "a vCPU outside its affinity (or missing records)"
echo "ok: every vCPU on its pCPUs 63..71"
expect_line "$log" '^@vs2 seq=[0-9]+ type=ok cmd=trace id=1$'
expect_line "$log" '^@vs2 seq=[0-9]+ type=trace_end events=[0-9]+ lost=[0-9]+ on=1$'
"$CTL" trace "$log" -o "$WORK/p72.json" 2> "$WORK/ctl.err" || fail "vsched-ctl trace: $(cat "$WORK/ctl.err")"
python3 - "$WORK/p72.json" <<'PY' || fail "the 72-pCPU trace failed its checks"
import json, sys
ev = json.load(open(sys.argv[1]))["traceEvents"]
tids = {e["tid"] for e in ev if e["ph"] == "X"}
assert tids and tids <= set(range(63, 72)), tids
assert any(t >= 64 for t in tids), tids
print("ok: run slices on pCPUs", sorted(tids))
PY
echo "PASS"
