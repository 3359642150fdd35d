#!/bin/sh
# make bench-sched: instructions (callgrind, decisions only) and ns (host clock) per decision,
# printed as the markdown tables docs/sched.md carries: every policy over vCPU and pCPU
# counts, then credit with scheduling tracing off and on (sched/trace.h).
# Usage: bench.sh PATH/sched-bench   (POLICIES, VCPUS, PCPUS override the lists)
set -eu
bench=$1
policies=${POLICIES:-$("$bench" --list | grep -v '^fifo$')} # fifo never decides at a slice end
vcpus=${VCPUS:-"4 64 256 1024 4096"}
pcpus=${PCPUS:-"1 8 64 256"}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# row POLICY NV NP [trace]: one table row
row() {
    ns=$("$bench" "$1" "$2" "$3" 200000 ${4:-} | awk '{print $5}')
    n=2000
    valgrind --tool=callgrind --toggle-collect=bench_decision \
        --callgrind-out-file="$out/cg" "$bench" "$1" "$2" "$3" $n ${4:-} >/dev/null 2>&1
    ir=$(awk '/^(summary|totals):/ {print $2; exit}' "$out/cg")
    echo "$((ir / n)) $ns"
}
echo "| policy | vCPUs | pCPUs | instructions / decision | ns / decision |"
echo "|---|---:|---:|---:|---:|"
for p in $policies; do
    for nv in $vcpus; do
        for np in $pcpus; do
            if ! line=$("$bench" "$p" "$nv" "$np" 1 2>&1); then
                echo "| $p | $nv | $np | refused: ${line#sched-bench: } | |"
                continue
            fi
            set -- $(row "$p" "$nv" "$np")
            echo "| $p | $nv | $np | $1 | $2 |"
        done
    done
done
echo
echo "| tracing | vCPUs | pCPUs | instructions / decision | ns / decision |"
echo "|---|---:|---:|---:|---:|"
for nv in 4 64 1024; do
    for t in off on; do
        set -- $(row credit "$nv" 8 $([ $t = on ] && echo trace))
        echo "| $t | $nv | 8 | $1 | $2 |"
    done
done
