#!/usr/bin/env bash
# The scheduler drives the machine, VT-x backend under Bochs (corei7_skylake_x, emulated time
# follows instructions, so guest time is deterministic): the scenarios of qemu_sched.sh, with
# pshare's wake-up latency held to credit's bound (issue 11: EEVDF's short requests run at
# once; before, 8-16 ms).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sched_common.sh"
BOOT=boot_bochs EXTRA=(--cpu corei7_skylake_x)
LAT_ALONE_US=2000 LAT_CREDIT_US=1000 LAT_PSHARE_US=1000 GUEST_TOL=30
sched_shares
sched_latency credit
sched_latency pshare
sched_overcommit
sched_ipi
sched_gang
sched_policy_switch
