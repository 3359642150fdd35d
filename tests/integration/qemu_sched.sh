#!/usr/bin/env bash
# The scheduler drives the machine, SVM backend under QEMU (TCG): weights and caps, wake-up
# latency of a timer guest alone and under load (credit, pshare), 8 vCPUs on 2 pCPUs, a strict
# gang against a hog, a policy switch from the console.  Bounds are what TCG holds here (its
# vCPUs are host threads on a busy 2-core host, so guest-measured time is noisy: the gang's
# own sibling check runs under Bochs only); see docs/emulation.md.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sched_common.sh"
BOOT=boot_qemu EXTRA=()
# pshare's short requests preempt at once since issue 11: its bound is credit's (was 60 ms, two
# slices, which plain round robin meets).  The timer guest alone: p99 32.8 ms measured in a
# clean-clone CI run (this 4-CPU QEMU beside a Bochs test on the 2 host cores: host
# descheduling, not the VMM); 40 ms = that + 20 %.  A lost wake-up shows as seconds.
LAT_ALONE_US=40000 LAT_CREDIT_US=40000 LAT_PSHARE_US=40000 GUEST_TOL=100
sched_shares
sched_latency credit
sched_latency pshare
sched_overcommit
sched_ipi
GANG_GUEST_CHECK=0 sched_gang
sched_policy_switch
POOL_TOL_PERMILLE=150 sched_pools
