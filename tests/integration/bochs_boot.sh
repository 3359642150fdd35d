#!/usr/bin/env bash
# Bochs, VT-x model corei7_skylake_x, 2 and 4 CPUs: every CPU comes online and the VMX line
# is exactly what that model's capability MSRs say (docs/emulation.md).
source "$(dirname "$0")/lib.sh"

esp=$(make_esp "$WORK/esp" tests/configs/boot_only.cfg)
for n in 2 4; do
    boot_bochs "$WORK/smp$n.log" --esp "$esp" --smp "$n" --cpu corei7_skylake_x
    expect_status $? 0
    log="$WORK/smp$n.log"
    expect_line "$log" '^vmx: ept=1 vpid=1 unrestricted=1 preempt_timer=1 posted_intr=0 apicv=1 tsc_deadline=1 x2apic=1 vid=1 ept_2m=1 ept_1g=1 true_ctls=1 vmcs_rev=0x2b feature_control=unlocked$'
    expect_line "$log" '^svm: absent \(CPUID 0x80000001:ECX.SVM=0\)$'
    expect_line "$log" '^virt: backend vmx$'
    expect_count "$log" '^cpu [0-9]+ online apic=[0-9]+' "$n"
    expect_caches_on "$log" "$n"
    expect_line "$log" "^cpus: $n of $n online\$"
    expect_line "$log" '^halt: status=0$'
    expect_no_line "$log" 'EXCEPTION|did not start'
done

# The halt NMI stops a pCPU that is in guest mode (VT-x: an NMI exit the VMM must act on).
esp=$(make_esp "$WORK/run" tests/configs/fault_in_run.cfg "$GUEST_DIR/hog.elf")
boot_bochs "$WORK/run.log" --esp "$esp" --smp 2
expect_status $? 3
expect_line "$WORK/run.log" '^EXCEPTION #UD invalid opcode: vector=6 .* cpu=1 apic=1$'
expect_line "$WORK/run.log" '^halt: 1 of 1 other CPUs stopped$'
