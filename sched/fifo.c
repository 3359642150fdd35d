/* fifo: run to completion — a vCPU keeps its pCPU until it blocks or yields.  Baseline. */
#include "sched/fifoq.h"

static uint64_t fifo_slice_ns(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    (void)p, (void)v, (void)now;
    return SCHED_NO_EVENT;
}

const struct sched_policy sched_policy_fifo = {
    .name = "fifo",
    .init_pcpu = fifoq_init_pcpu,
    .init_vcpu = fifoq_init_vcpu,
    .wake = fifoq_wake,
    .sleep = fifoq_sleep,
    .put_prev = fifoq_put_prev,
    .pick_next = fifoq_pick_head,
    .tick = fifoq_tick,
    .preempts = fifoq_never_preempts,
    .slice_ns = fifo_slice_ns,
};
