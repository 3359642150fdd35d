# Helpers for integration tests (tests/integration/*.sh), sourced first thing:
#     source "$(dirname "$0")/lib.sh"
# A test boots the VMM through tools/run-qemu or tools/run-bochs and asserts on the serial
# log; the first failed assertion ends it with exit 1, printing what failed and the tail of the
# log concerned.  Exit 77 to be counted as skipped.  The runner (tests/run-tests.sh) sets BUILD
# and keeps the test's whole output in $BUILD/test-logs/NAME.log.  Runs from the repo root.
#
#   BUILD                       build directory (default build); EFI=$BUILD/BOOTX64.EFI
#   WORK                        a fresh directory for this test's files (removed at exit)
#   GUEST_DIR                   where the built guest images are ($BUILD/guest)
#   BOOT_TIMEOUT                seconds per boot (default 300 for QEMU, 600 for Bochs)
#   END_SILENT_S                a boot whose VMM printed `run: every VM has ended` and then
#                               nothing for this long (default 30 s) hung at its end: stopped
#                               then, status 124, with a line saying so (watch_end)
#   VSCHED_BOCHS                Bochs version run-bochs uses without --bochs (default 2.7 here)
#   make_esp DIR CONFIG [IMG..] build an ESP in DIR with $EFI (CONFIG '' = no vsched.cfg);
#                               prints DIR:  esp=$(make_esp "$WORK/esp" tests/configs/x.cfg)
#   boot_qemu LOG ARGS..        run tools/run-qemu ARGS with the serial log in LOG; returns its
#                               status (the VMM's halt status, 124 timeout, 125 no halt line)
#   boot_bochs LOG ARGS..       the same with tools/run-bochs (its bochs.log report on failure
#                               lands in the test's output)
#   expect_status ACTUAL WANT   the run's status:  boot_qemu "$log" --esp "$esp"; expect_status $? 0
#   expect_line LOG REGEX       some line matches (grep -E)
#   expect_no_line LOG REGEX    no line matches
#   expect_count LOG REGEX N    exactly N lines match
#   expect_order LOG RE1 RE2..  the first matches of the regexes appear in this order
#   fail MSG                    fail with MSG (and the tail of the last log booted or checked)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
BUILD=${BUILD:-build}
# shellcheck disable=SC2034  # for the tests
GUEST_DIR="$BUILD/guest"
EFI="$BUILD/BOOTX64.EFI"
# Bochs runs use Debian 12's Bochs 2.7 (the software posted-interrupt path) unless a test asks
# for another (bochs3_*.sh: --bochs 3.0, the hardware path); tools/run-bochs reads this.
export VSCHED_BOCHS=${VSCHED_BOCHS:-2.7}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vsched-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
LAST_LOG=

# To stderr, so that a failure inside $(...) still reaches the test's output.
fail() {
    {
        echo "FAILED: $*"
        if [[ -n "$LAST_LOG" && -f "$LAST_LOG" ]]; then
            echo "--- last 30 lines of $LAST_LOG"
            tail -n 30 "$LAST_LOG"
        fi
    } >&2
    exit 1
}

make_esp() {
    local dir=$1 cfg=$2
    shift 2
    tools/mkesp "$dir" "$EFI" "$cfg" "$@" || fail "mkesp $dir"
    echo "$dir"
}

# watch_end LOG PID: wait for the emulator runner PID that writes LOG and return its status.
# Once the VMM printed `run: every VM has ended` the emulator exits within seconds; if LOG then
# stops growing for END_SILENT_S seconds, the run hung at its end (seen once: the halt path
# waiting for a lock), and the runner is stopped now (124) rather than at its --timeout.
watch_end() {
    local log=$1 pid=$2 size=-1 s since=$SECONDS
    while kill -0 "$pid" 2> /dev/null; do
        sleep 0.2
        s=$(stat -c %s "$log" 2> /dev/null || echo 0)
        if [[ $s != "$size" ]]; then
            size=$s since=$SECONDS
        elif ((SECONDS - since >= ${END_SILENT_S:-30})) && grep -aq '^run: every VM has ended' "$log"; then
            echo "boot: console silent for $((SECONDS - since)) s after the run's end began: the emulator hung there; stopped" >&2
            kill -TERM "$pid" 2> /dev/null
            wait "$pid"
            return 124
        fi
    done
    wait "$pid"
}

boot_qemu() {
    local log=$1
    shift
    LAST_LOG=$log
    echo "+ run-qemu $*"
    tools/run-qemu --log "$log" --timeout "${BOOT_TIMEOUT:-300}" "$@" > /dev/null &
    watch_end "$log" $!
}

boot_bochs() {
    local log=$1
    shift
    LAST_LOG=$log
    echo "+ run-bochs $*"
    tools/run-bochs --log "$log" --timeout "${BOOT_TIMEOUT:-600}" "$@" > /dev/null
}
# (No watch_end for Bochs: under CI's load a Bochs run was silent 78 s between its final
# round and its halt lines and still ended well; its own timeout stops a real hang.)

expect_status() {
    [[ "$1" == "$2" ]] || fail "run status $1, expected $2"
    echo "ok: status $2"
}

expect_line() {
    LAST_LOG=$1
    grep -aEq -- "$2" "$1" || fail "no line matches /$2/ in $1"
    echo "ok: /$2/"
}

expect_no_line() {
    LAST_LOG=$1
    if grep -aEq -- "$2" "$1"; then
        fail "a line matches /$2/ in $1: $(grep -aE -- "$2" "$1" | head -n 1)"
    fi
    echo "ok: no /$2/"
}

expect_count() {
    local n
    LAST_LOG=$1
    n=$(grep -aEc -- "$2" "$1")
    [[ "$n" -eq "$3" ]] || fail "$n lines match /$2/ in $1, expected $3"
    echo "ok: $3 x /$2/"
}

expect_order() {
    local log=$1 prev=0 re n
    LAST_LOG=$log
    shift
    for re in "$@"; do
        n=$(grep -anE -- "$re" "$log" | head -n 1 | cut -d: -f1)
        [[ -n "$n" ]] || fail "no line matches /$re/ in $log"
        [[ "$n" -gt "$prev" ]] || fail "/$re/ (line $n) comes before the previous pattern (line $prev)"
        prev=$n
    done
    echo "ok: order of $# patterns"
}

# Every "cpu N online ... cr0=0x..." line of LOG (N of them) shows caches on: CR0.CD (bit 30)
# and CR0.NW (bit 29) clear, as on the bootstrap CPU (an AP starts with both set after INIT).
expect_caches_on() {
    local log=$1 n=$2 cr0 count=0
    LAST_LOG=$log
    while read -r cr0; do
        (( (cr0 >> 29) & 3 )) && fail "a CPU runs with caches disabled: cr0=$cr0"
        count=$((count + 1))
    done < <(sed -n 's/^cpu [0-9]* online apic=[0-9]* cr0=\(0x[0-9a-f]*\).*/\1/p' "$log")
    [[ $count -eq $n ]] || fail "$count CPU lines with cr0=, expected $n"
    echo "ok: $n CPUs with CR0.CD = CR0.NW = 0"
}
