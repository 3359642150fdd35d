# The hostile-guest scenarios both backends run: sourced by tests/hostile/{qemu,bochs}_hostile.sh
# after tests/integration/lib.sh, with BOOT (boot_qemu or boot_bochs), EXTRA (emulator args)
# and the bounds below set by the caller:
#   VICTIM_MIN_PERMILLE  the victim hog's speed while it runs, permille of the reference's
#   VICTIM_SHARE_MIN_PERMILLE  its share of its pCPU, permille of its fair quarter
#   TIMER_P99_MAX_US     the 1 ms sleeper's p99 lateness next to the console flooders, at most
#   CPU_CHECKS_RESERVED=1  the emulator faults reserved CR8/MSR bits as the CPU does
#   UART_AT_BAUD_RATE=1    the emulated UART sends at 115200 baud (floods must drop)
#   PROBES_EXTRA         emulator args for the probes boot only (QEMU: a CPU with XSAVE/AVX,
#                        so the XSAVE path is attacked there and the FXSAVE path elsewhere)
# Each scenario is one boot with many VMs; docs: tests/hostile/README.md.

# The value of KEY in the final-round record of TYPE for NAME (vm=NAME).
record_field() {
    local log=$1 type=$2 name=$3 key=$4
    grep -a "^@vs1 seq=[0-9]* type=$type " "$log" | grep -a " vm=$name " | tail -n 1 |
        sed -n "s/.* $key=\([0-9]*\).*/\1/p"
}

hostile_images() {
    echo "$GUEST_DIR/hostile.elf" "$GUEST_DIR/hog.elf" "$GUEST_DIR/timer.elf" \
         "$GUEST_DIR/hello.elf"
}

# Probes that check themselves, guests the VMM must stop, a register-pattern pair, a hog.
hostile_probes() {
    local esp log="$WORK/probes.log"
    # shellcheck disable=SC2046
    esp=$(make_esp "$WORK/probes" tests/hostile/probes.cfg $(hostile_images))
    $BOOT "$log" --esp "$esp" --smp 2 "${EXTRA[@]}" "${PROBES_EXTRA[@]}"
    expect_status $? 0
    for m in insns msrs user_hypercall cr8; do
        expect_line "$log" "^\[[a-z0-9_]+\] hostile $m: [0-9]+ probes, 0 wrong.* -> all as expected\$"
    done
    # A reserved CR8 bit is #GP (SDM); QEMU's TCG keeps bits 3:0 instead (docs/emulation.md).
    if [[ ${CPU_CHECKS_RESERVED:-0} == 1 ]]; then
        expect_line "$log" '^\[cr8\] hostile cr8 cr8_16=#GP$'
        expect_line "$log" '^\[msrs\] hostile msrs kgs_noncanonical=#GP$'
    fi
    expect_line "$log" '^\[ports\] hostile ports: the VM and the machine went on -> all as expected$'
    expect_line "$log" '^\[user\] hostile user_hypercall exit_from_cpl3=#UD$'
    expect_line "$log" '^\[insns\] hostile insns vmlaunch=#UD$'
    expect_line "$log" '^\[insns\] hostile insns rdpmc=#GP$'
    expect_line "$log" '^\[insns\] hostile insns wbinvd=ok$' 
    expect_no_line "$log" 'WRONG|FAILED|still alive|printed from user mode'
    for vm in insns msrs ports user cr8 ctrl; do
        expect_line "$log" "^outcome $vm: exited status=0 expect=exit ok\$"
    done
    # Console: control bytes arrive escaped, inside the attacker's own prefixed line.
    expect_line "$log" '^\[ctrl\] \\x1b\[2K\[victim\] forged line$'
    expect_line "$log" '^\[ctrl\] \\x00\\x01\\x02'
    # (OVMF clears its screen with escape sequences: only the VMM's part counts.)
    sed -n '/^vsched /,$p' "$log" > "$WORK/probes.vmm.log"
    expect_no_line "$WORK/probes.vmm.log" $'\x1b'
    expect_no_line "$log" '^\[victim\]'
    # Four vCPUs end their VM at once: one end, and the outcome says the same.
    local st
    st=$(sed -n 's/^vm race: exited with status \([0-9]*\)$/\1/p' "$log")
    [[ "$st" =~ ^1[0-3]$ ]] || fail "vm race: end line with status 10..13 expected, got '$st'"
    expect_count "$log" '^vm race: (exited|stopped)' 1
    expect_line "$log" "^outcome race: exited status=$st expect=exit ok\$"
    # Memory outside the VM: each stopped alone with its reason.
    expect_line "$log" '^vm lapic: stopped: memory violation: write at gpa 0xfee00080,'
    expect_line "$log" '^vm ioapic: stopped: memory violation: write at gpa 0xfec00000,'
    expect_line "$log" '^vm highgpa: stopped: memory violation: write at gpa 0x4000000000,'
    expect_line "$log" '^vm readout: stopped: memory violation: read at gpa 0x1000000,'
    expect_line "$log" '^vm wrap: stopped: bad hypercall arguments: print buffer outside guest memory'
    expect_count "$log" '^outcome (lapic|ioapic|highgpa|readout|wrap): stopped .* expect=stopped ok$' 5
    # Registers: each of the pair kept its own while the other ran on the same pCPU.
    for s in 1 2; do
        expect_line "$log" "^\[regs_[ab]\] hostile regs: seed=$s .* mismatches=0 first=- -> all as expected\$"
    done
    local checks
    checks=$(sed -n 's/.*hostile regs: seed=1 .* checks=\([0-9]*\) .*/\1/p' "$log")
    [[ "${checks:-0}" -ge 20 ]] || fail "regs pair: only ${checks:-0} checks (want >= 20)"
    expect_line "$log" '^outcome regs_a: exited status=0 expect=exit ok$'
    expect_line "$log" '^outcome regs_b: exited status=0 expect=exit ok$'
    expect_line "$log" '^outcome hog: exited status=0 expect=exit ok$'
    expect_no_line "$log" '^EXCEPTION|UNEXPECTED'
}

# Attackers on pCPU 1 against a victim hog; one hog alone on pCPU 0 as the reference.
hostile_interference() {
    local esp log="$WORK/interference.log"
    # shellcheck disable=SC2046
    esp=$(make_esp "$WORK/interference" tests/hostile/interference.cfg $(hostile_images))
    $BOOT "$log" --esp "$esp" --smp 2 "${EXTRA[@]}"
    expect_status $? 0
    expect_no_line "$log" '^EXCEPTION|UNEXPECTED|WRONG|FAILED'
    expect_line "$log" '^\[cr8\] hostile cr8: [0-9]+ probes, 0 wrong.* -> all as expected$'
    expect_line "$log" '^\[if0\] hostile if0_spin: done$'
    expect_line "$log" '^\[ipis\] hostile ipi_storm: sent=[0-9]+ taken=[0-9]+$'
    # The storms were bounded: at most one interrupt per min_timer_period_us (200 us) = 5/ms.
    local v rate
    for v in storm illegal; do
        rate=$(sed -n "s/^\[$v\] hostile timer_storm: .*(\([0-9]*\)\/ms)\$/\1/p" "$log")
        [[ -n "$rate" && "$rate" -le 5 ]] || fail "$v: ${rate:-?} timer interrupts/ms, want <= 5"
        echo "ok: $v storm $rate interrupts/ms"
    done
    # The victim's speed while it runs (work per ns of running time, the VMM's own record)
    # against the reference's: exits that its neighbours' timers, IPIs or floods cause on
    # its pCPU would slow it down.  And its share of pCPU 1 while it lived: a quarter (three
    # spinners and it, equal weights).
    local victim ref vrun vready rrun
    victim=$(sed -n 's/^\[victim\] hog vcpu=0 iterations=\([0-9]*\) .*/\1/p' "$log")
    ref=$(sed -n 's/^\[ref\] hog vcpu=0 iterations=\([0-9]*\) .*/\1/p' "$log")
    vrun=$(record_field "$log" vm victim running_ns)
    vready=$(record_field "$log" vm victim ready_ns)
    rrun=$(record_field "$log" vm ref running_ns)
    [[ -n "$victim" && -n "$ref" && "${ref:-0}" -gt 0 && "${vrun:-0}" -gt 0 && "${rrun:-0}" -gt 0 ]] ||
        fail "no result line or record of the victim or the reference"
    local speed=$(( victim * rrun / vrun * 1000 / ref ))
    local share=$(( vrun * 4000 / (vrun + vready) ))
    echo "victim: $victim iterations in $vrun ns running, reference $ref in $rrun ns:" \
         "speed $speed permille, share $share permille of a quarter"
    [[ "$speed" -ge "$VICTIM_MIN_PERMILLE" ]] ||
        fail "the victim ran at $speed permille of the reference's speed, want >= $VICTIM_MIN_PERMILLE"
    [[ "$share" -ge "$VICTIM_SHARE_MIN_PERMILLE" ]] ||
        fail "the victim got $share permille of its share, want >= $VICTIM_SHARE_MIN_PERMILLE"
    for vm in victim ref cr8 if0 storm illegal ipis; do
        expect_line "$log" "^outcome $vm: exited status=0 expect=exit ok\$"
    done
}

# Console floods next to a 1 ms sleeper: its deadlines hold, the flooders lose their output.
hostile_console() {
    local esp log="$WORK/console.log"
    # shellcheck disable=SC2046
    esp=$(make_esp "$WORK/console" tests/hostile/console.cfg $(hostile_images))
    $BOOT "$log" --esp "$esp" --smp 2 "${EXTRA[@]}"
    expect_status $? 0
    expect_line "$log" '^\[talker\] hello from vcpu 0 of 1'
    expect_line "$log" '^vm flood: console: [0-9]+ bytes in [0-9]+ lines dropped'
    # COM1 byte by byte is slower than QEMU's UART (which sends at once): it drops only where
    # the UART runs at its baud rate (Bochs).
    if [[ ${UART_AT_BAUD_RATE:-0} == 1 ]]; then
        expect_line "$log" '^vm com1: console: [0-9]+ bytes in [0-9]+ lines dropped'
    fi
    expect_no_line "$log" '^vm (timer|talker): console: .* dropped'
    local p99
    p99=$(sed -n 's/^\[timer\] timer vcpu=0 mode=deadline n=300 .*late_p99_us=\([0-9]*\) .*/\1/p' "$log")
    [[ -n "$p99" ]] || fail "no result line of the timer guest"
    echo "timer next to the floods: p99 lateness $p99 us"
    [[ "$p99" -le "$TIMER_P99_MAX_US" ]] || fail "p99 lateness $p99 us, want <= $TIMER_P99_MAX_US"
    for vm in flood com1 timer talker; do
        expect_line "$log" "^outcome $vm: exited status=0 expect=exit ok\$"
    done
}
