/* A plain FIFO runqueue for the list-based policies (rr, fifo, lottery): O(1) everything. */
#ifndef VSCHED_SCHED_FIFOQ_H
#define VSCHED_SCHED_FIFOQ_H

#include "sched/policy.h"

struct fifoq_vcpu {
    struct slist node;
};

struct fifoq_pcpu {
    struct slist q;
    uint64_t tickets;   /* lottery: sum of the queued weights */
    uint64_t rng;       /* lottery: PRNG state */
};

SCHED_POLICY_DATA_FITS(struct fifoq_vcpu, struct fifoq_pcpu);

#define FIFOQ_P(p) ((struct fifoq_pcpu *)(void *)(p)->pol)
#define FIFOQ_V(v) ((struct fifoq_vcpu *)(void *)(v)->pol)

static inline void fifoq_init_pcpu(struct sched_pcpu *p, uint64_t now)
{
    (void)now;
    slist_init(&FIFOQ_P(p)->q);
    FIFOQ_P(p)->tickets = 0;
}

static inline void fifoq_init_vcpu(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    (void)p, (void)now;
    slist_init(&FIFOQ_V(v)->node);
}

static inline void fifoq_push(struct sched_pcpu *p, struct sched_vcpu *v)
{
    slist_add_tail(&FIFOQ_P(p)->q, &FIFOQ_V(v)->node);
    FIFOQ_P(p)->tickets += v->weight;
}

static inline void fifoq_remove(struct sched_pcpu *p, struct sched_vcpu *v)
{
    struct slist *n = &FIFOQ_V(v)->node;
    if (n->next != n) { /* queued */
        slist_del(n);
        FIFOQ_P(p)->tickets -= v->weight;
    }
}

static inline void fifoq_wake(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now,
                              enum sched_join why)
{
    (void)now;
    if (why != SCHED_JOIN_CURRENT)
        fifoq_push(p, v);
}

static inline void fifoq_sleep(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    (void)now;
    fifoq_remove(p, v);
}

static inline void fifoq_put_prev(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now,
                                  bool yielded)
{
    (void)now, (void)yielded;
    fifoq_push(p, v);
}

static inline struct sched_vcpu *fifoq_pick_head(struct sched_pcpu *p, uint64_t now)
{
    (void)now;
    struct slist *n = slist_first(&FIFOQ_P(p)->q);
    if (!n)
        return NULL;
    struct sched_vcpu *v = SCHED_CONTAINER_OF((void *)n, struct sched_vcpu, pol);
    fifoq_remove(p, v);
    return v;
}

static inline void fifoq_tick(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t ran,
                              uint64_t now)
{
    (void)p, (void)v, (void)ran, (void)now;
}

static inline enum sched_preempt fifoq_never_preempts(struct sched_pcpu *p, struct sched_vcpu *cur,
                                                      uint64_t now)
{
    (void)p, (void)cur, (void)now;
    return SCHED_KEEP;
}

/* The ops of a FIFO-queue policy that differ only in name, pick, slice and pCPU set-up. */
#define FIFOQ_POLICY(NAME, INIT_PCPU, PICK, SLICE) \
    {                                               \
        .name = NAME,                               \
        .init_pcpu = INIT_PCPU,                     \
        .init_vcpu = fifoq_init_vcpu,               \
        .wake = fifoq_wake,                         \
        .sleep = fifoq_sleep,                       \
        .put_prev = fifoq_put_prev,                 \
        .pick_next = PICK,                          \
        .tick = fifoq_tick,                         \
        .preempts = fifoq_never_preempts,           \
        .slice_ns = SLICE,                          \
    }

static inline uint64_t fifoq_timeslice_ns(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    (void)v, (void)now;
    return sched_timeslice(p);
}

#endif
