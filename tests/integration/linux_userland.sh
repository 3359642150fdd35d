#!/usr/bin/env bash
# The Linux guest's userland without vsched: Debian's kernel (the vmlinux that vmlinux-extract
# unpacked from the bzImage, booted by QEMU through its PVH note) and the busybox + rt-tests
# initramfs boot directly in QEMU (TCG, 2 CPUs); /init must print every result line in its
# documented format (guest/linux/init, docs/linux.md) and power the machine off.
# SKIP (77) only when Debian's packages cannot be had (tools/fetch-linux says so).
source "$(dirname "$0")/lib.sh"

source "$(dirname "$0")/linux_common.sh"

linux_files
vmlinux=$LINUX_VMLINUX initrd=$LINUX_INITRD
expect_line "$BUILD/linux/vmlinux.facts" '^vmlinux: ELF x86-64, entry 0x1000000 \(startup_64, physical\)'
expect_line "$BUILD/linux/vmlinux.facts" '^vmlinux: needs \[0x1000000, 0x4a00000\)'
expect_line "$BUILD/linux/vmlinux.facts" 'CONFIG_PVH=y CONFIG_X86_X2APIC=y CONFIG_KVM_GUEST=y .*CONFIG_SERIAL_8250_CONSOLE=y'

log=$WORK/qemu.log
LAST_LOG=$log
start=$SECONDS
# shellcheck disable=SC2054  # commas belong to option values
timeout -s TERM -k 5 "${BOOT_TIMEOUT:-120}" \
    qemu-system-x86_64 -machine q35 -accel tcg -cpu qemu64 -smp 2 -m 256 \
    -kernel "$vmlinux" -initrd "$initrd" \
    -append 'console=ttyS0 vsched.run=cpus,cyclictest,hackbench,steal vsched.cyclictest="-m -S -p 90 -i 1000 -l 200" vsched.hackbench="-T -p -g 2 -l 50"' \
    -display none -monitor none -serial "file:$log" -no-reboot -net none </dev/null
rc=$?
echo "qemu: exit $rc after $((SECONDS - start)) s"
[[ $rc -eq 0 ]] || fail "QEMU exited with $rc (124: timeout)"
tr -d '\r' < "$log" > "$log.txt" && log=$log.txt

num='[0-9]+'
expect_line "$log" "^@lx1 type=hello kernel=6\.1\.[-0-9a-z]+amd64 uptime_ms=$num cmdline_steps=cpus,cyclictest,hackbench,steal$"
expect_line "$log" "^@lx1 type=cpus n=2 online=0-1 x2apic=[01] x2apic_cpu=[01] tsc_deadline=[01] hypervisor=[A-Za-z]+ clocksource=[a-z_0-9]+ clockevent=[a-z-]+ apic=[a-z_0-9]+$"
# 2 threads stop together when the first has done its 200 loops: 201..400 samples.
expect_line "$log" "^@lx1 type=cyclictest threads=2 loops=200 samples=(20[1-9]|2[1-9][0-9]|3[0-9][0-9]|400) min_us=$num avg_us=$num p99_us=$num max_us=$num overflows=$num$"
expect_line "$log" "^@lx1 type=hackbench groups=2 loops=50 mode=threads ipc=pipe time_ms=[1-9][0-9]*$"
expect_line "$log" "^@lx1 type=steal cpu=0 steal_ms=$num user_ms=$num system_ms=$num idle_ms=$num$"
expect_line "$log" "^@lx1 type=steal cpu=1 steal_ms=$num "
expect_no_line "$log" '^@lx1 type=error'
expect_order "$log" '^@lx1 type=hello' '^@lx1 type=cpus' '^@lx1 type=cyclictest' \
    '^@lx1 type=hackbench' '^@lx1 type=steal cpu=0' '^@lx1 type=done steps=4 errors=0 ' \
    'reboot: Power down'
# The statistics are plausible: min <= avg <= p99 <= max (p99 from the histogram).
read -r min avg p99 max < <(sed -n 's/^@lx1 type=cyclictest .* min_us=\([0-9]*\) avg_us=\([0-9]*\) p99_us=\([0-9]*\) max_us=\([0-9]*\) .*/\1 \2 \3 \4/p' "$log")
[[ $min -le $avg && $avg -le $max && $p99 -le $max && $min -le $p99 ]] ||
    fail "cyclictest statistics out of order: min=$min avg=$avg p99=$p99 max=$max"
echo "ok: cyclictest min=$min avg=$avg p99=$p99 max=$max us (QEMU TCG)"
