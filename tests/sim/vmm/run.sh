#!/usr/bin/env bash
# tests/sim/vmm/run.sh [--build DIR] [--emu bochs|qemu] [CONFIG[:POLICY]]...
# Boots each configuration of tests/sim/vmm (default: all, each with the policies below) in
# the VMM — Bochs by default (emulated time: the same run gives the same figures) — and prints
# the figures issue 11 asks for from the VMM's own accounting records (tools/vsched-ctl):
# per VM its share of the machine's running time and its wake-up p99, per vCPU its share, and
# the migrations.  The same files run in the simulator (build/host/vsched-sim FILE).
# DIR is a build tree with BOOTX64.EFI, guest/*.elf and host/vsched-ctl (another checkout's
# build works too: that is how docs/sched.md's "before" column was measured).
set -uo pipefail
cd "$(dirname "$0")/../../.." || exit 2
build=build emu=bochs
while [[ $# -gt 0 ]]; do
    case $1 in
        --build) build=$2; shift 2 ;;
        --emu) emu=$2; shift 2 ;;
        *) break ;;
    esac
done
runs=("$@")
[[ ${#runs[@]} -gt 0 ]] || runs=(cap.cfg:credit cap.cfg:pshare cap.cfg:stride cap.cfg:rr
                                fair3on2.cfg:credit fair3on2.cfg:pshare fair3on2.cfg:stride
                                latency1.cfg:credit latency1.cfg:pshare
                                latency3.cfg:credit latency3.cfg:pshare weightper.cfg:credit)
ctl="$build/host/vsched-ctl"
for f in "$build/BOOTX64.EFI" "$build/guest/hog.elf" "$build/guest/timer.elf" "$ctl"; do
    [[ -e $f ]] || { echo "run.sh: $f missing (make all guests, or --build)" >&2; exit 2; }
done
work=$(mktemp -d /tmp/vsched-vmm-figures.XXXXXX)
trap 'rm -rf "$work"' EXIT
key() { "$ctl" summary "$1" "${@:2}" 2>/dev/null || echo 0; }
for run in "${runs[@]}"; do
    cfg=${run%%:*} policy=${run#*:}
    [[ $policy == "$run" ]] && policy=$(sed -n 's/^policy = //p' "tests/sim/vmm/$cfg")
    name=${cfg%.cfg}-$policy esp="$work/$name" log="$work/$name.log"
    sed "s/^policy = .*/policy = $policy/" "tests/sim/vmm/$cfg" > "$work/$name.cfg"
    smp=$(sed -n 's/^pcpus = //p' "$work/$name.cfg")
    tools/mkesp "$esp" "$build/BOOTX64.EFI" "$work/$name.cfg" "$build/guest/hog.elf" \
        "$build/guest/timer.elf" > /dev/null || exit 2
    if [[ $emu == bochs ]]; then
        tools/run-bochs --esp "$esp" --smp "$smp" --log "$log" --timeout 900 > /dev/null 2>&1
    else
        tools/run-qemu --esp "$esp" --smp "$smp" --log "$log" --timeout 900 > /dev/null 2>&1
    fi
    rc=$?
    if ! "$ctl" summary "$log" > /dev/null 2>&1; then
        echo "$name: no accounting (run status $rc; see a run by hand)"
        continue
    fi
    vms=$(sed -n 's/^\[vm \(.*\)\]$/\1/p' "$work/$name.cfg")
    total=0
    for vm in $vms; do total=$((total + $(key "$log" --vm "$vm" --key running_ns))); done
    ((total > 0)) || total=1
    line="$name ($emu, status $rc):"
    for vm in $vms; do
        run_ns=$(key "$log" --vm "$vm" --key running_ns)
        n=$(key "$log" --vm "$vm" --key vcpus)
        line+=" $vm $((run_ns * 1000 / total))‰"
        if ((n > 1)); then
            per=
            for ((k = 0; k < n; k++)); do
                per+="${per:+/}$(($(key "$log" --vm "$vm" --vcpu $k --key running_ns) * 1000 / total))"
            done
            line+=" [$per]"
        fi
        wn=$(key "$log" --vm "$vm" --key wake_n)
        ((wn > 10)) && line+=" wake_p99=$(($(key "$log" --vm "$vm" --key wake_p99_ns) / 1000))us"
        line+=" migr=$(key "$log" --vm "$vm" --key migrations);"
    done
    echo "$line"
done
