#!/usr/bin/env bash
# vsched-ctl top as a person uses it: in a terminal (tmux: send-keys, capture-pane) on a
# recorded log, its numbers checked against values computed here from the raw records; in
# batch mode; and live on a running VMM (QEMU, console on a unix socket), where top asks for a
# round every -d seconds.
source "$(dirname "$0")/lib.sh"

CTL="$BUILD/host/vsched-ctl" SIM="$BUILD/host/vsched-sim"
command -v tmux > /dev/null || fail "tmux missing (tools/deps.sh test installs it)"

log="$WORK/mixed.log"
"$SIM" --records --report-ms 500 tests/sim/mixed.cfg > "$log" || fail "vsched-sim --records"

# %USED of each VM over the interval ending at round R, from the vcpu records:
# "name used" lines, highest first (the order top shows by default).
used_by_vm() { # LOG ROUND
    awk -v r="$2" '
        function val(k,   i, kv) { for (i = 1; i <= NF; i++) { split($i, kv, "=");
                                   if (kv[1] == k) return kv[2] } return 0 }
        val("type") == "vcpu" && val("r") == r     { run[val("vm")] += val("run") }
        val("type") == "vcpu" && val("r") == r - 1 { before[val("vm")] += val("run") }
        val("type") == "round" && val("r") == r     { t = val("t_ns") }
        val("type") == "round" && val("r") == r - 1 { t0 = val("t_ns") }
        END { for (v in run) printf "%s %.2f\n", v, (run[v] - before[v]) * 100 / (t - t0) }' "$1" |
        sort -k2,2nr -k1,1
}

# ---- batch mode on a log: one screen per round ----
"$CTL" top -b "$log" > "$WORK/batch.out" || fail "top -b"
expect_count "$WORK/batch.out" '^vsched top - .* - round [0-3]' 4
"$CTL" top -b -n 2 "$log" > "$WORK/batch2.out" || fail "top -b -n 2"
expect_count "$WORK/batch2.out" '^vsched top - ' 2
read -r first_vm first_used < <(used_by_vm "$log" 3 | head -n 1)
expect_line "$WORK/batch.out" "^$first_vm +[0-9]+ +$first_used "

# ---- interactive, in tmux ----
sock="vsched-top-test-$$"
tm() { tmux -L "$sock" "$@"; }
trap 'tmux -L "$sock" kill-server 2> /dev/null; rm -rf "$WORK"' EXIT
tm new-session -d -x 200 -y 50 "$CTL top $log; echo TOP-EXIT=\$?; sleep 60" ||
    fail "tmux new-session"

# screen_has REGEX [S]: the pane shows a line matching REGEX within S seconds (default 10);
# the pane into $WORK/screen.
screen_has() {
    local i
    for ((i = 0; i < ${2:-10} * 10; i++)); do
        tm capture-pane -p > "$WORK/screen" 2> /dev/null
        grep -Eq -- "$1" "$WORK/screen" && return 0
        sleep 0.1
    done
    LAST_LOG="$WORK/screen"
    fail "the screen does not show /$1/"
}

# Every VM's %USED on the screen is the one computed from the records, and the rows are in
# that order (sorted by %USED).  The pane is read again for up to 5 s: a capture may catch
# the terminal half-way through a redraw.
check_screen() { # ROUND
    local want got i
    want=$(used_by_vm "$log" "$1" | awk '{ print $1, $2 }')
    for ((i = 0; i < 50; i++)); do
        tm capture-pane -p > "$WORK/screen" 2> /dev/null
        got=$(awk '/^VM  /{ on = 1; next } on && NF == 0 { exit } on && $1 !~ /^  / { print $1, $3 }' \
              "$WORK/screen")
        [[ "$got" == "$want" ]] && break
        sleep 0.1
    done
    LAST_LOG="$WORK/screen"
    [[ "$got" == "$want" ]] || fail "round $1: the screen shows VMs and %USED
$got
expected (from the records)
$want"
    echo "ok: round $1: each VM's %USED and the order match the records"
}

screen_has '^vsched top - .* - round 3 \(final\) at 2\.00 s, interval 0\.50 s'
check_screen 3
tm send-keys p
screen_has '^vsched top - .* - round 2 at 1\.50 s'
check_screen 2
screen_has 'round 3 of 4 .* sort: used  vcpus: off$'
tm send-keys v
screen_has '^  web\.1 +p[0-9]+ '
echo "ok: v shows the vCPUs"
tm send-keys s
screen_has 'sort: rdy  vcpus: on$'
echo "ok: s sorts by the next key"
tm send-keys q
screen_has '^TOP-EXIT=0$'
echo "ok: q quits with status 0"
tm kill-server 2> /dev/null

# ---- live: a running VMM (QEMU), top asks for a round every 0.1 s ----
# make run's machine with a 2 s hog: a command sent over the socket reaches the VMM a byte per
# console poll, and a 300 ms run could end before the first `report` was read (seen in CI).
sed 's/args = run_ms=300 /args = run_ms=2000 /' tests/configs/default.cfg > "$WORK/live.cfg"
grep -q 'run_ms=2000 ' "$WORK/live.cfg" || fail "default.cfg has no 300 ms hog to lengthen"
esp=$(make_esp "$WORK/esp" "$WORK/live.cfg" "$GUEST_DIR/hello.elf" "$GUEST_DIR/hog.elf")
tools/run-qemu --esp "$esp" --smp 2 --timeout 120 --console-socket "$WORK/console.sock" \
    > "$WORK/emu.out" 2>&1 &
emu=$!
"$CTL" top --socket "$WORK/console.sock" -b -d 0.1 --log "$WORK/live.log" > "$WORK/live.out"
rc=$?
wait "$emu"
emu_rc=$?
LAST_LOG="$WORK/live.log"
((rc == 0)) || fail "top on a live VMM: exit status $rc"
((emu_rc == 0)) || fail "the VMM's run ended with status $emu_rc"
expect_line "$WORK/live.log" '^@vs2 seq=[0-9]+ type=ok cmd=report$'
expect_line "$WORK/live.log" '^halt: status=0$'
n=$(grep -c '^vsched top - ' "$WORK/live.out")
rounds=$(grep -c ' type=round ' "$WORK/live.log")
((n >= 2 && n == rounds)) || fail "top showed $n screens for $rounds rounds"
# The same screens from the log it kept (but for the source named in the first line).
src() { sed -E 's/^(vsched top - )[^ ]+ - /\1SOURCE - /' "$@"; }
"$CTL" top -b "$WORK/live.log" | src | cmp -s - <(src "$WORK/live.out") ||
    fail "top live and top on the log it kept show different screens"
echo "ok: live: $n rounds shown as they came, the same as from the kept log"

# ---- live and interactive: the last screen stays after the VMM halted, until q ----
esp=$(make_esp "$WORK/esp2" "$WORK/live.cfg" "$GUEST_DIR/hello.elf" "$GUEST_DIR/hog.elf")
tools/run-qemu --esp "$esp" --smp 2 --timeout 120 --console-socket "$WORK/console2.sock" \
    > "$WORK/emu2.out" 2>&1 &
emu=$!
tm new-session -d -x 200 -y 50 \
    "$CTL top --socket $WORK/console2.sock -d 0.1 --log $WORK/live2.log; echo TOP-EXIT=\$?; sleep 60" ||
    fail "tmux new-session (live)"
# The whole boot and run: as long as a QEMU boot may take on a loaded machine.
screen_has '^vsched top - .* - round [0-9]+ \(final\) .*' "${BOOT_TIMEOUT:-300}"
screen_has 'the VMM halted \(halt: status=0\); q quits'
read -r first_vm first_used < <(used_by_vm "$WORK/live2.log" \
    "$(awk '/ type=round .* final=1 /{ sub(/.* r=/, ""); sub(/ .*/, ""); print }' "$WORK/live2.log")" | head -n 1)
screen_has "^$first_vm +[0-9]+ +$first_used "
tm send-keys q
screen_has '^TOP-EXIT=0$'
wait "$emu" || fail "the VMM's run (live, interactive) ended with status $?"
echo "ok: live in a terminal: the final round stays on the screen until q"
