#!/usr/bin/env bash
# Only the VMM ends a Bochs run (issue 10 item 6): it writes "Shutdown" to Bochs' port 0x8900,
# which no guest can reach (every guest port access exits to the VMM); the magic breakpoint is
# off, so a guest's `xchg %bx,%bx` is a no-op.  A guest executes it next to a hog whose result
# is known: on Bochs 2.7 and 3.0 the run goes on, every VM ends as configured, the halt status
# is 0, and bochs.log shows that the shutdown port ended Bochs.
source "$(dirname "$0")/lib.sh"
esp=$(make_esp "$WORK/esp" tests/configs/magic_break.cfg "$GUEST_DIR/bad.elf" "$GUEST_DIR/hog.elf")
ran=0
for v in 2.7 3.0; do
    if ! tools/run-bochs --list | grep -q "^$v "; then
        echo "SKIP part: Bochs $v is not installed (tools/deps.sh bochs${v/2.7/}${v/3.0/3})"
        continue
    fi
    log="$WORK/mb$v.log"
    boot_bochs "$log" --bochs "$v" --esp "$esp" --smp 2 --workdir "$WORK/bochs$v"
    expect_status $? 0
    expect_order "$log" '^\[mb\] bad: about to magic_break$' '^\[mb\] bad: still alive after magic_break$' \
        '^\[hog\] hog vcpu=0 iterations=[1-9][0-9]* run_ms=' '^halt: status=0$'
    expect_line "$log" '^outcome mb: exited status=99 expect=exit ok$'
    expect_line "$log" '^outcome hog: exited status=0 expect=exit ok$'
    expect_line "$WORK/bochs$v/bochs.log" 'Shutdown port: shutdown requested'
    expect_line "$WORK/bochs$v/bochs.out" 'Ignoring magic break points'
    ran=$((ran + 1))
done
((ran > 0)) || { echo "SKIP: no Bochs installed"; exit 77; }
