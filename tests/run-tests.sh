#!/usr/bin/env bash
# tests/run-tests.sh --build DIR --unit "NAMES" --integration "SCRIPTS"
# Runs the host unit tests (DIR/host/NAME, one after the other), then the integration scripts
# (TEST_JOBS at a time, default 2), each one's output in DIR/test-logs/NAME.log.  Prints one
# line per test in the order given -- `PASS name (Ns)`, `FAIL name (Ns)` followed by the last
# 40 lines of its log, `SKIP name` -- and last `summary: N passed, M failed, K skipped`.
# A test passes with exit 0; an integration script is skipped with exit 77; a unit program
# that skipped any cmocka test (skip() exits 0) is reported SKIP with the skipped tests' names.
# Exit 1 on a failure.
set -uo pipefail

build=build unit='' integ=''
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
abs_build=$(cd "$build" && pwd)   # the scripts run from the repository root (lib.sh)
jobs=${TEST_JOBS:-2}
[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "run-tests: TEST_JOBS must be a positive number" >&2; exit 2; }
passed=0 failed=0 skipped=0

report() { # name rc seconds [note]
    local name=$1 rc=$2 secs=$3
    if [[ $rc -eq 77 && -n ${4:-} ]]; then
        printf 'SKIP %s (%ss): %s\n' "$name" "$secs" "$4"; skipped=$((skipped + 1))
    elif [[ $rc -eq 0 ]]; then
        printf 'PASS %s (%ss)\n' "$name" "$secs"; passed=$((passed + 1))
    elif [[ $rc -eq 77 ]]; then
        printf 'SKIP %s\n' "$name"; skipped=$((skipped + 1))
    else
        printf 'FAIL %s (%ss)\n' "$name" "$secs"; failed=$((failed + 1))
        printf '    | exit status %s; last lines of %s:\n' "$rc" "$logs/$name.log"
        tail -n 40 "$logs/$name.log" | sed 's/^/    | /'
    fi
}

for name in $unit; do
    start=$SECONDS
    "$build/host/$name" > "$logs/$name.log" 2>&1
    rc=$?
    [[ $rc -eq 77 ]] && rc=1   # no skipping for unit tests
    # cmocka's skip() exits 0: a program that skipped any test says SKIP, never PASS.
    note=
    if [[ $rc -eq 0 ]] && grep -q 'SKIPPED TEST(S)' "$logs/$name.log"; then
        skips=$(sed -n 's/^\[  SKIPPED \] \([^0-9].*\)/\1/p' "$logs/$name.log" | sort -u)
        rc=77 note="$(wc -l <<< "$skips") cmocka test(s) skipped: $(tr '\n' ' ' <<< "$skips")"
    fi
    report "$name" "$rc" $((SECONDS - start)) "$note"
done

# Integration tests: up to $jobs at once, each in a subshell that leaves "STATUS SECONDS" in
# NAME.rc when it ends; results are printed in the order given, each as soon as it and all
# those before it have finished.
names=() next=0
flush() {
    local rc secs
    while [[ $next -lt ${#names[@]} && -f "$logs/${names[next]}.rc" ]]; do
        read -r rc secs < "$logs/${names[next]}.rc"
        rm -f "$logs/${names[next]}.rc"
        report "${names[next]}" "$rc" "$secs"
        next=$((next + 1))
    done
}
for script in $integ; do
    name=$(basename "$script" .sh)
    names+=("$name")
    rm -f "$logs/$name.rc"
    while [[ $(jobs -rp | wc -l) -ge $jobs ]]; do
        wait -n
        flush
    done
    ( start=$SECONDS
      BUILD="$abs_build" bash "$script" > "$logs/$name.log" 2>&1
      echo "$? $((SECONDS - start))" > "$logs/$name.rc.tmp"
      mv "$logs/$name.rc.tmp" "$logs/$name.rc" ) &
done
while [[ -n $(jobs -rp) ]]; do
    wait -n
    flush
done
wait
for name in "${names[@]:next}"; do   # a runner subshell that died left no NAME.rc
    [[ -f "$logs/$name.rc" ]] || echo "1 0" > "$logs/$name.rc"
done
flush

echo "summary: $passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 ]]
