#!/usr/bin/env bash
# VT-x backend under Bochs (corei7_skylake_x), 2 and 4 CPUs: the same scenarios as qemu_guests.sh.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/guests_common.sh"
BOOT=boot_bochs BACKEND=vmx EXTRA=(--cpu corei7_skylake_x)
guests_two_vms
guests_isolation
guests_misbehave
guests_smp4
guests_yield
guests_teardown
guests_bad_entry '^vmx: VM entry failed: exit reason 33 \(invalid guest state\), qualification 0x0$'
expect_line "$WORK/entry.log" '^  guest: 6800=80010033 6802=4000000000001000 '
