/* Per-vCPU accounting, summed per VM.  Exact: the four times add up to the lifetime. */
#ifndef VSCHED_SCHED_ACCT_H
#define VSCHED_SCHED_ACCT_H

#include <stdint.h>

struct sched_acct {
    uint64_t lifetime_ns;  /* since sched_init (per VM: sum over its vCPUs) */
    uint64_t running_ns;   /* on a pCPU */
    uint64_t ready_ns;     /* runnable but not running: steal time (includes time parked by a cap) */
    uint64_t blocked_ns;   /* not runnable (halted, waiting for I/O or a barrier) */
    uint64_t costop_ns;    /* runnable but held back by co-scheduling (gang) */
    uint64_t runs;         /* times it was dispatched */
    uint64_t preemptions;  /* times it was descheduled while still runnable, not by its own yield */
    uint64_t migrations;   /* times it moved to another pCPU */
    uint64_t wakeups;      /* blocked -> runnable transitions */
    int64_t policy_value;  /* credit (ns) for credit, lag (ns) for pshare, 0 where none */
    uint64_t charged_ns;   /* pCPU time spent for it while another vCPU was current there (its
                              timer's interrupts: sched_vcpu_charge); not one of the four */
    uint64_t deadline_misses; /* rtds: periods that ended while it was runnable and had not
                                 received its budget (counted when the policy next looks) */
};

static inline void sched_acct_add(struct sched_acct *dst, const struct sched_acct *src)
{
    dst->lifetime_ns += src->lifetime_ns;
    dst->running_ns += src->running_ns;
    dst->ready_ns += src->ready_ns;
    dst->blocked_ns += src->blocked_ns;
    dst->costop_ns += src->costop_ns;
    dst->runs += src->runs;
    dst->preemptions += src->preemptions;
    dst->migrations += src->migrations;
    dst->wakeups += src->wakeups;
    dst->policy_value += src->policy_value;
    dst->charged_ns += src->charged_ns;
    dst->deadline_misses += src->deadline_misses;
}

#endif
