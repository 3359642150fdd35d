# Shared by linux_userland.sh, qemu_linux.sh and bochs_linux.sh: Debian's kernel and the
# initramfs (make linux; SKIP when the packages cannot be downloaded), and the checks of a
# Linux VM's run.
pkgs=${LINUX_PKGS:-/var/cache/vsched/linux}

linux_files() {
    tools/fetch-linux "$pkgs"
    local rc=$?
    if [[ $rc -eq 77 ]]; then
        echo "SKIP: Debian's kernel/busybox/rt-tests packages cannot be downloaded here"
        exit 77
    fi
    [[ $rc -eq 0 ]] || fail "tools/fetch-linux $pkgs failed ($rc)"
    make -s --no-print-directory BUILD="$BUILD" LINUX_PKGS="$pkgs" linux || fail "make linux"
    LINUX_VMLINUX=$BUILD/linux/vmlinux LINUX_INITRD=$BUILD/linux/initramfs.cpio.gz
}

# The kernel's view (what /init's cpus step prints) and the VMM's.
check_linux_boot() { # log [steps /init ran: 3]
    local log=$1 steps=${2:-3} num='[0-9]+'
    expect_line "$log" '^vm lx1: Linux vmlinux, kernel \[0x1000000, 0x4a00000\) entry 0x1000000, initrd [0-9]+ bytes at 0x[0-9a-f]+, ACPI at 0xe0000$'
    expect_line "$log" '^\[lx1\] \[ *[0-9.]+\] Hypervisor detected: KVM$'
    expect_line "$log" '^\[lx1\] \[ *[0-9.]+\] smp: Brought up 1 node, 2 CPUs$'
    expect_line "$log" '^\[lx1\] \[ *[0-9.]+\] ACPI: PM: Preparing to enter system sleep state S5$'
    # The kernel saw both CPUs, runs its APIC in x2APIC mode with the TSC-deadline timer, and
    # keeps a stable clocksource (tsc or kvm-clock).
    expect_line "$log" '^\[lx1\] @lx1 type=cpus n=2 online=0-1 x2apic=1 x2apic_cpu=1 tsc_deadline=1 hypervisor=KVM clocksource=(tsc|kvm-clock) clockevent=lapic-deadline apic=[a-z_0-9]+$'
    # 2 threads stop together when the first has done its 200 loops: 201..400 samples.
    expect_line "$log" "^\[lx1\] @lx1 type=cyclictest threads=2 loops=200 samples=(20[1-9]|2[1-9][0-9]|3[0-9][0-9]|400) min_us=$num avg_us=$num p99_us=$num max_us=$num overflows=$num\$"
    expect_line "$log" "^\[lx1\] @lx1 type=done steps=$steps errors=0 uptime_ms=$num\$"
    expect_no_line "$log" 'unchecked MSR access|Call Trace|BUG:|Kernel panic'
    expect_line "$log" '^vm lx1: powered off \(ACPI S5\)$'
    expect_line "$log" '^outcome lx1: poweroff expect=exit ok$'
    # The hog beside it did its whole run.
    expect_line "$log" '^\[hog\] hog vcpu=0 iterations=[0-9]+ run_ms=20[0-9][0-9]$'
    expect_line "$log" '^outcome hog: exited status=0 expect=exit ok$'
    expect_line "$log" '^halt: status=0$'
}

# Guest steal (/proc/stat, 10 ms resolution, read by /init before its end) against the VMM's
# ready time of the same vCPU (the last accounting round, which includes the power-off after
# the guest read it): the guest's is never above the VMM's by more than its resolution, and
# below it by at most 20 ms or a quarter (measured under QEMU: 150/152 ms and 70/83 ms).
check_linux_steal() { # log
    local log=$1 cpu guest rdy
    for cpu in 0 1; do
        guest=$(sed -nE "s/^\[lx1\] @lx1 type=steal cpu=$cpu steal_ms=([0-9]+) .*/\1/p" "$log")
        rdy=$(grep -E "type=vcpu r=[0-9]+ vm=lx1 v=$cpu " "$log" | tail -n 1 |
              sed -nE 's/.* rdy=([0-9]+) .*/\1/p')
        [[ -n "$guest" && -n "$rdy" ]] || fail "no steal line or vcpu record for cpu $cpu"
        rdy=$((rdy / 1000000))
        local slack=$((rdy / 4 > 20 ? rdy / 4 : 20))
        echo "steal cpu $cpu: guest ${guest} ms, VMM ready ${rdy} ms (slack ${slack} ms)"
        ((guest <= rdy + 10)) || fail "cpu $cpu: guest steal $guest ms above the VMM's ready time $rdy ms"
        ((rdy - guest <= slack)) || fail "cpu $cpu: guest steal $guest ms far below the VMM's ready time $rdy ms"
    done
}
