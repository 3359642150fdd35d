#!/usr/bin/env bash
# QEMU (TCG, SVM), 4 CPUs, default configuration: the console shows, in order, the banner, the
# memory summary, the capability lines (SVM usable, VMX absent), every CPU with its APIC id,
# and a clean halt.
source "$(dirname "$0")/lib.sh"

esp=$(make_esp "$WORK/esp" tests/configs/boot_only.cfg)
boot_qemu "$WORK/serial.log" --esp "$esp" --smp 4
expect_status $? 0
log="$WORK/serial.log"
expect_line "$log" '^vsched [^ ]+: a type-1 hypervisor for vCPU scheduling research$'
expect_line "$log" '^config: vsched.cfg read, 0 VM\(s\)$'
expect_line "$log" '^cpus: 4 described by UEFI MP services, using 4, bootstrap apic=0$'
expect_line "$log" '^mem: [0-9]+ firmware map entries, RAM 5[01][0-9] MiB, free [0-9]+ MiB'
expect_line "$log" '^vmx: absent \(CPUID.1:ECX.VMX=0\)$'
# QEMU 7.2 TCG with qemu64,+svm,+npt: NP only, 16 ASIDs, no x2APIC, no TSC-deadline.
expect_line "$log" '^svm: npt=1 nrips=0 decode_assists=0 avic=0 asids=16 vmcb_clean=0 flush_by_asid=0 pause_filter=0 tsc_deadline=0 x2apic=0 rev=1 vm_cr=ok$'
expect_line "$log" '^virt: backend svm$'
expect_line "$log" '^cpu 0 online apic=0 cr0=0x[0-9a-f]+ \(bootstrap\)$'
for i in 1 2 3; do expect_line "$log" "^cpu $i online apic=$i cr0=0x[0-9a-f]+\$"; done
expect_caches_on "$log" 4
expect_count "$log" '^cpu [0-9]+ online' 4
expect_line "$log" '^cpus: 4 of 4 online$'
expect_line "$log" '^halt: status=0$'
expect_order "$log" '^vsched ' '^mem: ' '^svm: ' '^cpu 0 online' '^cpus: 4 of 4' '^halt: status=0$'
expect_no_line "$log" 'EXCEPTION|did not start|error'
