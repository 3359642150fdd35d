/* The scheduler library's set-up from a vsched.cfg: the VMM and the simulator build their
 * machine the same way (pools, VMs, parameters).  Pure. */
#ifndef VSCHED_VMM_CFG_SCHED_H
#define VSCHED_VMM_CFG_SCHED_H

#include "sched/sched.h"
#include "vmm/config.h"

struct cfg_sched {
    struct sched_setup setup;
    struct sched_vm_setup vms[CFG_MAX_VMS];
    struct sched_pool_setup pools[CFG_MAX_POOLS];
};

/* C's machine of NPCPUS pCPUs into OUT (which C must outlive: names point into it).  Pool i of
 * the library is C's pool i; without [pool] sections the library's one pool is every pCPU. */
void cfg_sched_setup(const struct cfg *c, uint32_t npcpus, struct cfg_sched *out);

#endif
