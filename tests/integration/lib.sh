# Helpers for integration tests (tests/integration/*.sh), sourced first thing.  A test boots
# the VMM through tools/run-qemu or tools/run-bochs and asserts on the serial log; the first
# failed assertion ends it with exit 1 and shows the log's tail.
#
#   WORK                        a fresh directory for this test's files (removed at exit)
#   GUEST_DIR                   where the built guest images are ($BUILD/guest)
#   make_esp DIR CONFIG [IMG..] build an ESP in DIR (CONFIG '' = no vsched.cfg); prints DIR
#   boot_qemu LOG ARGS..        run tools/run-qemu ARGS with the serial log in LOG; returns its status
#   boot_bochs LOG ARGS..       the same with tools/run-bochs
#   expect_status ACTUAL WANT   the run's status
#   expect_line LOG REGEX       some line matches (extended regex)
#   expect_no_line LOG REGEX    no line matches
#   expect_count LOG REGEX N    exactly N lines match
#   expect_order LOG RE1 RE2..  the first matches of the regexes appear in this order
#   fail MSG                    fail with MSG
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
BUILD=${BUILD:-build}
GUEST_DIR="$BUILD/guest"
EFI="$BUILD/BOOTX64.EFI"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vsched-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
LAST_LOG=

fail() {
    echo "FAILED: $*"
    if [[ -n "$LAST_LOG" && -f "$LAST_LOG" ]]; then
        echo "--- last 30 lines of $LAST_LOG"
        tail -n 30 "$LAST_LOG"
    fi
    exit 1
}

make_esp() {
    local dir=$1 cfg=$2
    shift 2
    tools/mkesp "$dir" "$EFI" "$cfg" "$@" || fail "mkesp $dir"
    echo "$dir"
}

boot_qemu() {
    local log=$1
    shift
    LAST_LOG=$log
    echo "+ run-qemu $*"
    tools/run-qemu --log "$log" --timeout "${BOOT_TIMEOUT:-300}" "$@" > /dev/null
}

boot_bochs() {
    local log=$1
    shift
    LAST_LOG=$log
    echo "+ run-bochs $*"
    tools/run-bochs --log "$log" --timeout "${BOOT_TIMEOUT:-600}" "$@" > /dev/null
}

expect_status() {
    [[ "$1" == "$2" ]] || fail "run status $1, expected $2"
    echo "ok: status $2"
}

expect_line() {
    grep -aEq -- "$2" "$1" || fail "no line matches /$2/ in $1"
    echo "ok: /$2/"
}

expect_no_line() {
    if grep -aEq -- "$2" "$1"; then
        fail "a line matches /$2/ in $1: $(grep -aE -- "$2" "$1" | head -n 1)"
    fi
    echo "ok: no /$2/"
}

expect_count() {
    local n
    n=$(grep -aEc -- "$2" "$1")
    [[ "$n" -eq "$3" ]] || fail "$n lines match /$2/ in $1, expected $3"
    echo "ok: $3 x /$2/"
}

expect_order() {
    local log=$1 prev=0 re n
    shift
    for re in "$@"; do
        n=$(grep -anE -- "$re" "$log" | head -n 1 | cut -d: -f1)
        [[ -n "$n" ]] || fail "no line matches /$re/ in $log"
        [[ "$n" -gt "$prev" ]] || fail "/$re/ (line $n) comes before the previous pattern (line $prev)"
        prev=$n
    done
    echo "ok: order of $# patterns"
}
