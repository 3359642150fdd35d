# Guest scenarios shared by the QEMU (SVM) and Bochs (VT-x) tests: sourced after lib.sh with
# BOOT set to boot_qemu or boot_bochs and BACKEND to svm or vmx; EXTRA holds emulator args.

guests_two_vms() {
    local esp; esp=$(make_esp "$WORK/two" tests/configs/two_vms.cfg "$GUEST_DIR/hello.elf")
    $BOOT "$WORK/two.log" --esp "$esp" --smp 2 "${EXTRA[@]}"
    expect_status $? 0
    local log="$WORK/two.log"
    expect_line "$log" "^virt: backend $BACKEND\$"
    expect_line "$log" "^\[alpha\] hello from vcpu 0 of 1, args='status=3'\$"
    expect_line "$log" "^\[beta\] hello from vcpu 0 of 1, args='status=5'\$"
    expect_line "$log" '^vm alpha: exited with status 3$'
    expect_line "$log" '^vm beta: exited with status 5$'
    expect_line "$log" '^outcome alpha: exited status=3 expect=exit ok$'
    expect_line "$log" '^outcome beta: exited status=5 expect=exit ok$'
    expect_line "$log" '^halt: status=0$'
}

guests_isolation() {
    local esp; esp=$(make_esp "$WORK/iso" tests/configs/isolation.cfg "$GUEST_DIR/bad.elf" \
                              "$GUEST_DIR/hog.elf")
    $BOOT "$WORK/iso.log" --esp "$esp" --smp 2 "${EXTRA[@]}"
    expect_status $? 0
    local log="$WORK/iso.log"
    expect_line "$log" '^\[intruder\] bad: about to write_outside$'
    expect_line "$log" '^vm intruder: stopped: memory violation: write at gpa 0x[0-9a-f]+, outside its 16 MiB'
    expect_no_line "$log" 'still alive'
    expect_line "$log" '^\[hog\] hog vcpu 0: progress [0-9]+ iterations$'
    expect_line "$log" '^vm hog: exited with status 0$'
    expect_line "$log" '^outcome intruder: stopped \(memory violation.*\) expect=stopped ok$'
    expect_line "$log" '^outcome hog: exited status=0 expect=exit ok$'
    expect_line "$log" '^halt: status=0$'
}

guests_misbehave() {
    local esp; esp=$(make_esp "$WORK/mis" tests/configs/misbehave.cfg "$GUEST_DIR/bad.elf" \
                              "$GUEST_DIR/hog.elf")
    $BOOT "$WORK/mis.log" --esp "$esp" --smp 2 "${EXTRA[@]}"
    expect_status $? 0
    local log="$WORK/mis.log"
    expect_line "$log" '^vm w_out: stopped: memory violation: write at gpa'
    expect_line "$log" '^vm w_vmm: stopped: memory violation: write at gpa 0x100000000,'
    expect_line "$log" '^vm insn: stopped: triple fault'
    expect_line "$log" '^vm hcall: stopped: bad hypercall arguments: print buffer outside guest memory'
    expect_line "$log" '^vm hcnr: stopped: bad hypercall number 999 '
    expect_line "$log" '^vm tfault: stopped: triple fault'
    expect_no_line "$log" 'still alive'
    expect_count "$log" '^outcome [a-z_]+: stopped .* expect=stopped ok$' 6
    expect_line "$log" '^outcome hog: exited status=0 expect=exit ok$'
    expect_no_line "$log" 'EXCEPTION'
    expect_line "$log" '^halt: status=0$'
}

guests_smp4() {
    local esp; esp=$(make_esp "$WORK/smp4" tests/configs/smp_hello.cfg "$GUEST_DIR/hello.elf")
    $BOOT "$WORK/smp4.log" --esp "$esp" --smp 4 "${EXTRA[@]}"
    expect_status $? 0
    local log="$WORK/smp4.log"
    expect_line "$log" '^cpus: 4 of 4 online$'
    for i in 0 1 2 3; do
        expect_line "$log" "^\[quad\] hello from vcpu $i of 4, args='status=0'\$"
    done
    expect_line "$log" '^outcome quad: exited status=0 expect=exit ok$'
    expect_line "$log" '^halt: status=0$'
}

guests_yield() {
    local esp; esp=$(make_esp "$WORK/yield" tests/configs/shared_pcpu.cfg "$GUEST_DIR/hello.elf")
    $BOOT "$WORK/yield.log" --esp "$esp" --smp 1 "${EXTRA[@]}"
    expect_status $? 0
    local log="$WORK/yield.log"
    for i in 0 1 2; do
        expect_line "$log" "^\[trio\] hello from vcpu $i of 3, args='status=7'\$"
    done
    expect_line "$log" '^outcome trio: exited status=7 expect=exit ok$'
    # One-second slices: without the yield, vCPU 0 would spin at least 2 s before its
    # siblings ran.
    local ms; ms=$(sed -n 's/^run: ended after \([0-9]*\) ms$/\1/p' "$log")
    [[ -n "$ms" && "$ms" -lt 1000 ]] || fail "run took ${ms:-?} ms of machine time, expected < 1000"
    echo "ok: ended after $ms ms"
}

guests_bad_entry() { # $1: the backend's report line (regex)
    local esp; esp=$(make_esp "$WORK/entry" tests/configs/bad_entry.cfg "$GUEST_DIR/hello.elf")
    $BOOT "$WORK/entry.log" --esp "$esp" --smp 2 "${EXTRA[@]}"
    expect_status $? 0
    local log="$WORK/entry.log"
    expect_line "$log" "$1"
    expect_line "$log" '^vm broken: stopped: VM entry failed \(report above\)'
    expect_line "$log" '^outcome broken: stopped \(VM entry failed \(report above\)\) expect=stopped ok$'
    expect_line "$log" '^outcome fine: exited status=4 expect=exit ok$'
    expect_line "$log" '^halt: status=0$'
}

# The run ends at run_ms with both hogs running: neither is charged for the teardown.
guests_teardown() {
    local esp; esp=$(make_esp "$WORK/teardown" tests/configs/teardown.cfg "$GUEST_DIR/hog.elf")
    $BOOT "$WORK/teardown.log" --esp "$esp" --smp 2 "${EXTRA[@]}"
    expect_status $? 0
    local log="$WORK/teardown.log" vm run
    expect_line "$log" '^outcome zero: running at run_ms expect=exit ok$'
    expect_line "$log" '^outcome one: running at run_ms expect=exit ok$'
    # Each ran until run_ms (300 ms) and no longer: the final round waits up to 100 ms for
    # every pCPU to leave its vCPU, which must count as nobody's running time.
    for vm in zero one; do
        run=$(grep -a "^@vs1 .* type=vcpu .* vm=$vm " "$log" | tail -n 1 |
              sed -n 's/.* running_ns=\([0-9]*\).*/\1/p')
        [[ -n "$run" && "$run" -le 330000000 ]] ||
            fail "vm $vm: ${run:-?} ns running in the final round, want <= 330 ms (run_ms 300)"
        echo "ok: vm $vm ran $((run / 1000000)) ms"
    done
}
