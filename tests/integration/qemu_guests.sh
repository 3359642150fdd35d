#!/usr/bin/env bash
# SVM backend under QEMU (TCG, qemu64,+svm,+npt), 2 and 4 CPUs: two VMs print and exit with their own
# status; a stray write stops only the VM that made it; every misbehaviour of the bad guest
# gets its own report while a hog finishes; a 4-vCPU VM runs on 4 pCPUs.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/guests_common.sh"
BOOT=boot_qemu BACKEND=svm EXTRA=()
guests_two_vms
guests_isolation
guests_misbehave
guests_smp4
guests_yield
guests_teardown
guests_bad_entry '^svm: VMRUN failed: VMEXIT_INVALID \(illegal guest state in the VMCB'
