#!/bin/sh
# make bench-sched: instructions (callgrind, decisions only) and ns (host clock) per decision,
# printed as the markdown table docs/sched.md carries.  Usage: bench.sh PATH/sched-bench
set -eu
bench=$1
policies=${POLICIES:-$("$bench" --list | grep -v '^fifo$')} # fifo never decides at a slice end
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "| policy | vCPUs | pCPUs | instructions / decision | ns / decision |"
echo "|---|---:|---:|---:|---:|"
for p in $policies; do
    for nv in 4 64 1024; do
        for np in 1 8 64; do
            if ! line=$("$bench" "$p" "$nv" "$np" 200000 2>&1); then
                echo "| $p | $nv | $np | refused: ${line#sched-bench: } | |"
                continue
            fi
            ns=$(echo "$line" | awk '{print $5}')
            n=2000
            valgrind --tool=callgrind --toggle-collect=bench_decision \
                --callgrind-out-file="$out/cg" "$bench" "$p" "$nv" "$np" $n >/dev/null 2>&1
            ir=$(awk '/^(summary|totals):/ {print $2; exit}' "$out/cg")
            echo "| $p | $nv | $np | $((ir / n)) | $ns |"
        done
    done
done
