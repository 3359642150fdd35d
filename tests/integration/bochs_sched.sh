#!/usr/bin/env bash
# The scheduler drives the machine, VT-x backend under Bochs (corei7_skylake_x, emulated time
# follows instructions, so guest time is deterministic): the scenarios of qemu_sched.sh but
# pshare's latency (QEMU covers it; each Bochs boot costs 1-3 minutes).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sched_common.sh"
BOOT=boot_bochs EXTRA=(--cpu corei7_skylake_x)
LAT_ALONE_US=2000 LAT_CREDIT_US=1000 GUEST_TOL=30
sched_shares
sched_latency credit
sched_overcommit
sched_ipi
sched_gang
sched_policy_switch
