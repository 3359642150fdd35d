#!/usr/bin/env bash
# tests/fuzz/run.sh --build DIR (--seconds N | --runs N)
# Run every fuzz harness in DIR/fuzz: N seconds each (make fuzz), or N inputs each from a fixed
# seed (make test: the same inputs every time).  The corpus starts from tests/fuzz/corpus/ and
# the built guest images, and grows in DIR/fuzz/corpus-NAME (never committed).  A crash or a
# broken oracle leaves its input in DIR/fuzz/ and makes this exit 1; the last line of each
# harness says how many inputs ran.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=build seconds='' runs=''
while [[ $# -gt 0 ]]; do
    case $1 in
        --build) build=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "fuzz/run.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
done
[[ -n "$seconds$runs" ]] || { echo "fuzz/run.sh: --seconds N or --runs N" >&2; exit 2; }
status=0
for name in fuzz_config fuzz_elf fuzz_proto; do
    bin="$build/fuzz/$name"
    [[ -x $bin ]] || { echo "fuzz/run.sh: $bin missing (make $bin)" >&2; exit 2; }
    corpus="$build/fuzz/corpus-$name"
    if [[ -n "$runs" ]]; then   # a fixed budget: the same start every time
        corpus="$build/fuzz/smoke-$name"
        rm -rf "$corpus"
    fi
    mkdir -p "$corpus"
    case $name in
        fuzz_config) seeds=(tests/fuzz/corpus/config) ;;
        fuzz_elf) seeds=("$build/guest"); [[ -d "$build/guest" ]] || seeds=() ;;
        fuzz_proto) seeds=(tests/fuzz/corpus/proto) ;;
    esac
    limit=(-max_total_time="${seconds:-600}")
    [[ -n "$runs" ]] && limit=(-runs="$runs" -seed=1)
    # Seeds are only read (a second corpus dir); new inputs go into $corpus.
    "$bin" "${limit[@]}" -max_len=65536 -print_final_stats=1 -artifact_prefix="$build/fuzz/$name-" \
        "$corpus" "${seeds[@]}" > "$build/fuzz/$name.log" 2>&1
    rc=$?
    runs_done=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/fuzz/$name.log")
    if [[ $rc -ne 0 ]]; then
        echo "FAIL $name (rc=$rc) after ${runs_done:-?} inputs; log: $build/fuzz/$name.log"
        grep -E 'ERROR|SUMMARY|Test unit written' "$build/fuzz/$name.log" | head -5
        status=1
    else
        echo "ok $name: ${runs_done:-?} inputs, corpus $(ls "$corpus" | wc -l) files"
    fi
done
exit $status
