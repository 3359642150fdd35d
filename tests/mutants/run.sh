#!/usr/bin/env bash
# make mutants: applies each semantic mutation in tests/mutants/*.patch to a copy of the tree,
# rebuilds the scheduler's unit tests (and those of the console-input path: test_uart,
# test_proto) there and runs them; a mutant is KILLED when a test
# program fails (or times out), SURVIVED when all pass.  A patch that no longer applies or
# builds is STALE (refresh it: the code it mutates changed).  Exits non-zero if any mutant
# survived or is stale.  Usage: tests/mutants/run.sh [BUILD] [NAME...]
set -uo pipefail
build=${1:-build}
shift || true
root=$(pwd)
[[ -f sched/build.mk && -d tests/mutants ]] || { echo "mutants: run from the repository root" >&2; exit 2; }
work=$(mktemp -d /tmp/vsched-mutants.XXXXXX)
trap 'rm -rf "$work"' EXIT
# The tree as it is (committed or not), without build output.
tar -C "$root" --exclude=./build --exclude=./.git -cf - . | tar -C "$work" -xf -
cd "$work"
tests=$(make -s -f - print-sched-tests <<'MK'
include sched/build.mk
print-sched-tests: ; @echo $(SCHED_TESTS)
MK
)
tests="$tests test_uart test_proto"   # the console-input mutants (uart-*, input-*)
# Cheap, sharp programs first: most mutants die there and the rest is not run.
order="test_sched_core test_sched_shares test_sched_credit test_sched_pshare test_sched_baselines \
       test_sched_rtds test_sched_credit2 \
       test_sched_sim test_sched_balance test_sched_gang test_sched_threads test_sched_props"
for t in $tests; do [[ " $order " == *" $t "* ]] || order="$order $t"; done
bins=$(for t in $order; do echo "$build/host/$t"; done)
make -s -j"$(nproc)" BUILD="$build" $bins > build.log 2>&1 || { cat build.log; echo "mutants: the unmutated tree does not build" >&2; exit 2; }
for t in $order; do
    "$build/host/$t" > /dev/null 2>&1 || { echo "mutants: $t fails without any mutant" >&2; exit 2; }
done
patches=()
if [[ $# -gt 0 ]]; then for n in "$@"; do patches+=("tests/mutants/$n.patch"); done
else patches=(tests/mutants/*.patch); fi
killed=0 survived=0 stale=0
for p in "${patches[@]}"; do
    name=$(basename "$p" .patch)
    what=$(head -n 1 "$p" | sed 's/^Mutant: //')
    start=$SECONDS
    if ! patch -p1 -s --dry-run < "$p" > /dev/null 2>&1 || ! patch -p1 -s < "$p"; then
        echo "STALE    $name: the patch does not apply"; stale=$((stale + 1)); continue
    fi
    verdict=SURVIVED by=
    if ! make -s -j"$(nproc)" BUILD="$build" $bins > build.log 2>&1; then
        verdict=STALE by="(does not build)"
    else
        for t in $order; do
            timeout 300 "$build/host/$t" > "$t.log" 2>&1
            rc=$?
            if [[ $rc -ne 0 ]]; then
                verdict=KILLED by="by $t$([[ $rc -eq 124 ]] && echo ' (timeout)')"
                break
            fi
        done
    fi
    patch -p1 -s -R < "$p"
    printf '%-8s %s: %s %s (%ss)\n' "$verdict" "$name" "$what" "$by" $((SECONDS - start))
    case $verdict in KILLED) killed=$((killed + 1)) ;; SURVIVED) survived=$((survived + 1)) ;; *) stale=$((stale + 1)) ;; esac
done
echo "mutants: $killed killed, $survived survived, $stale stale"
[[ $survived -eq 0 && $stale -eq 0 ]]
