#!/usr/bin/env bash
# tests/run-tests.sh --build DIR --unit "NAMES" --integration "SCRIPTS"
# Runs the host unit tests (DIR/host/NAME), then the integration scripts (TEST_JOBS at a time,
# default 2), each one's output in DIR/test-logs/NAME.log.  One line per test, the tail of the
# log of each failure, and a last line `summary: N passed, M failed, K skipped`.
# An integration script passes with exit 0 and is skipped with exit 77.
set -uo pipefail

build=build unit= integ=
while [[ $# -gt 0 ]]; do
    case $1 in
        --build) build=$2; shift 2 ;;
        --unit) unit=$2; shift 2 ;;
        --integration) integ=$2; shift 2 ;;
        *) echo "run-tests: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
logs="$build/test-logs"
mkdir -p "$logs"
jobs=${TEST_JOBS:-2}
passed=0 failed=0 skipped=0

report() { # name rc seconds
    local name=$1 rc=$2 secs=$3
    if [[ $rc -eq 0 ]]; then
        printf 'PASS %s (%ss)\n' "$name" "$secs"; passed=$((passed + 1))
    elif [[ $rc -eq 77 ]]; then
        printf 'SKIP %s\n' "$name"; skipped=$((skipped + 1))
    else
        printf 'FAIL %s (%ss, exit %s)\n' "$name" "$secs" "$rc"; failed=$((failed + 1))
        tail -n 40 "$logs/$name.log" | sed 's/^/    | /'
    fi
}

for name in $unit; do
    start=$SECONDS
    "$build/host/$name" > "$logs/$name.log" 2>&1
    report "$name" $? $((SECONDS - start))
done

# Integration tests in parallel; results printed in the order given.
declare -A pid_of start_of
names=()
for script in $integ; do
    name=$(basename "$script" .sh)
    names+=("$name")
    while [[ $(jobs -rp | wc -l) -ge $jobs ]]; do
        wait -n 2>/dev/null || true
    done
    start_of[$name]=$SECONDS
    ( BUILD="$build" bash "$script" > "$logs/$name.log" 2>&1
      echo $? > "$logs/$name.rc"; echo $((SECONDS)) > "$logs/$name.end" ) &
    pid_of[$name]=$!
done
for name in "${names[@]}"; do
    wait "${pid_of[$name]}" 2>/dev/null
    rc=$(cat "$logs/$name.rc" 2>/dev/null || echo 1)
    end=$(cat "$logs/$name.end" 2>/dev/null || echo "${start_of[$name]}")
    report "$name" "$rc" $((end - start_of[$name]))
done

echo "summary: $passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 ]]
