/* null: one vCPU per pCPU, no time slicing (Xen's null scheduler) — the baseline for "what
 * does scheduling cost".  A vCPU runs until it blocks or yields, never preempted, never timed;
 * a pCPU decides only when its vCPU blocks, yields or wakes.  So that no vCPU ever waits for
 * another, the machine may not be overcommitted: set-up and a switch to null are refused
 * (SCHED_E_OVERCOMMIT) unless every vCPU can have a pCPU of its own within its affinity (a
 * bipartite matching; the count alone is not enough: two 1-vCPU VMs pinned to pCPU 0 do not
 * fit on 2 pCPUs).  The core's initial spread and idle stealing then give each runnable vCPU
 * a pCPU of its own.  Differences from Xen: Xen assigns each vCPU a pCPU for good and parks
 * the excess in a wait queue; here the core may still move a blocked vCPU when it wakes on a
 * busy pCPU (work conservation), and the queue behind a vCPU is FIFO if a yield makes one. */
#include "sched/fifoq.h"

struct matching {
    uint32_t npcpus, nvcpus;
    const sched_cpumask_t *aff;             /* per VM */
    uint8_t vm_of[SCHED_MAX_PCPUS];         /* per vCPU (at most npcpus of them) */
    int16_t owner[SCHED_MAX_PCPUS];         /* per pCPU: the vCPU matched to it, -1 = none */
    sched_cpumask_t seen;                   /* pCPUs visited in this augmenting search */
};

/* Kuhn's augmenting path from vCPU I: at most npcpus^2 steps, npcpus deep. */
static bool augment(struct matching *m, uint32_t i)
{
    for (uint32_t c = 0; c < m->npcpus; c++) {
        if (!cpumask_test(&m->aff[m->vm_of[i]], c) || cpumask_test(&m->seen, c))
            continue;
        cpumask_set(&m->seen, c);
        if (m->owner[c] < 0 || augment(m, (uint32_t)m->owner[c])) {
            m->owner[c] = (int16_t)i;
            return true;
        }
    }
    return false;
}

/* May every vCPU have its own pCPU?  VCPUS[k] vCPUs with affinity AFF[k] for each of NVMS VMs
 * (affinity already limited to the machine). */
static int fits(uint32_t npcpus, uint32_t nvms, const uint32_t *vcpus, const sched_cpumask_t *aff)
{
    struct matching m = { .npcpus = npcpus, .aff = aff };
    for (uint32_t k = 0; k < nvms; k++)
        for (uint32_t j = 0; j < vcpus[k]; j++) {
            if (m.nvcpus == npcpus)
                return SCHED_E_OVERCOMMIT;
            m.vm_of[m.nvcpus++] = (uint8_t)k;
        }
    for (uint32_t c = 0; c < npcpus; c++)
        m.owner[c] = -1;
    for (uint32_t i = 0; i < m.nvcpus; i++) {
        m.seen = cpumask_none();
        if (!augment(&m, i))
            return SCHED_E_OVERCOMMIT;
    }
    return SCHED_OK;
}

/* One pCPU of the pool for each of its vCPUs, within their affinities. */
static int null_admit(const struct sched_admit *a)
{
    uint32_t vcpus[SCHED_MAX_VMS];
    sched_cpumask_t aff[SCHED_MAX_VMS];
    for (uint32_t k = 0; k < a->nvms; k++) {
        vcpus[k] = a->vms[k].vcpus;
        aff[k] = a->vms[k].affinity;
    }
    return fits(a->npcpus, a->nvms, vcpus, aff);
}

static uint64_t null_slice_ns(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    (void)p, (void)v, (void)now;
    return SCHED_NO_EVENT;
}

const struct sched_policy sched_policy_null = {
    .name = "null",
    .init_pcpu = fifoq_init_pcpu,
    .init_vcpu = fifoq_init_vcpu,
    .wake = fifoq_wake,
    .sleep = fifoq_sleep,
    .put_prev = fifoq_put_prev,
    .pick_next = fifoq_pick_head,
    .tick = fifoq_tick,
    .preempts = fifoq_never_preempts,
    .slice_ns = null_slice_ns,
    .admit = null_admit,
};
