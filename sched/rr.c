/* rr: round robin, one time slice each, in arrival order.  Baseline; ignores weights. */
#include "sched/fifoq.h"

static uint64_t rr_slice_ns(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    (void)v, (void)now;
    return sched_timeslice(p);
}

const struct sched_policy sched_policy_rr = {
    .name = "rr",
    .init_pcpu = fifoq_init_pcpu,
    .init_vcpu = fifoq_init_vcpu,
    .wake = fifoq_wake,
    .sleep = fifoq_sleep,
    .put_prev = fifoq_put_prev,
    .pick_next = fifoq_pick_head,
    .tick = fifoq_tick,
    .preempts = fifoq_never_preempts,
    .slice_ns = rr_slice_ns,
};
