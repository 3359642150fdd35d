/* fifo: run to completion — a vCPU keeps its pCPU until it blocks or yields.  Baseline. */
#include "sched/fifoq.h"

static uint64_t fifo_slice_ns(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    (void)p, (void)v, (void)now;
    return SCHED_NO_EVENT;
}

const struct sched_policy sched_policy_fifo =
    FIFOQ_POLICY("fifo", fifoq_init_pcpu, fifoq_pick_head, fifo_slice_ns);
