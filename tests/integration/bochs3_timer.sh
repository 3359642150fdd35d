#!/usr/bin/env bash
# The timer scenarios of bochs_sched.sh on the VT-x hardware posted-interrupt path (Bochs 3.0):
# the APIC timer's interrupts are delivered by the CPU from the virtual-APIC page (no
# injection), with the bounds of the software path (Bochs 2.7): a timer guest alone, and with
# two hogs on its pCPU under credit; weights 1:2:4 next to it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sched_common.sh"
tools/run-bochs --list | grep -q '^3\.0 ' ||
    { echo "SKIP: Bochs 3.0 is not installed (tools/deps.sh bochs3)"; exit 77; }
BOOT=boot_bochs EXTRA=(--bochs 3.0 --cpu corei7_skylake_x)
LAT_ALONE_US=2000 LAT_CREDIT_US=1000 GUEST_TOL=30
sched_shares
expect_line "$WORK/shares.log" '^interrupts: virtual x2APIC per vCPU; posted interrupts: hardware path '
sched_latency credit
