/* stride (Waldspurger & Weihl 1995): the queued vCPU with the smallest pass runs for one time
 * slice; pass advances by run time / weight (exact run time, not whole quanta).  The global
 * pass is the pCPU's virtual clock of service (vclock_serve); a vCPU leaving keeps its distance
 * to it ("remain") and gets it back when it returns, clamped to one slice.  Pairing heap:
 * O(log n). */
#include "sched/policy.h"

struct stride_vcpu {
    struct pheap_node hnode;
    uint64_t pass;
    int64_t remain_ns;
    bool queued;
};

struct stride_pcpu {
    struct pheap q;
    struct vclock global;
};

SCHED_POLICY_DATA_FITS(struct stride_vcpu, struct stride_pcpu);

#define SP(p) ((struct stride_pcpu *)(void *)(p)->pol)
#define SV(v) ((struct stride_vcpu *)(void *)(v)->pol)

static struct stride_vcpu *of_hnode(const struct pheap_node *n)
{
    return (struct stride_vcpu *)(void *)((char *)n - offsetof(struct stride_vcpu, hnode));
}

static bool by_pass(const struct pheap_node *a, const struct pheap_node *b)
{
    return vt_before(of_hnode(a)->pass, of_hnode(b)->pass);
}

static void stride_init_pcpu(struct sched_pcpu *p, uint64_t now)
{
    pheap_init(&SP(p)->q);
    SP(p)->global.v = 0;
    SP(p)->global.stamp_ns = now;
    SP(p)->global.weight_sum = 0;
}

static void stride_init_vcpu(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    (void)p, (void)now;
    SV(v)->pass = 0;
    SV(v)->remain_ns = 0;
    SV(v)->queued = false;
}

static void push(struct sched_pcpu *p, struct sched_vcpu *v)
{
    SV(v)->queued = true;
    pheap_insert(&SP(p)->q, &SV(v)->hnode, by_pass);
}

static void stride_wake(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now,
                        enum sched_join why)
{
    struct stride_vcpu *sv = SV(v);
    vclock_serve(&SP(p)->global, p, now);
    SP(p)->global.weight_sum += v->weight;
    int64_t lim = (int64_t)sched_timeslice(p);
    int64_t r = sv->remain_ns > lim ? lim : sv->remain_ns < -lim ? -lim : sv->remain_ns;
    if (why == SCHED_JOIN_MIGRATE)
        r = 0; /* pass relative to the old pCPU's global pass: joins at this one's */
    sv->pass = r >= 0 ? SP(p)->global.v + vt_from_ns((uint64_t)r, v->weight)
                      : SP(p)->global.v - vt_from_ns((uint64_t)-r, v->weight);
    if (why != SCHED_JOIN_CURRENT)
        push(p, v);
}

static void stride_sleep(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    struct stride_vcpu *sv = SV(v);
    vclock_serve(&SP(p)->global, p, now);
    if (sv->queued)
        pheap_remove(&SP(p)->q, &sv->hnode, by_pass);
    sv->queued = false;
    sv->remain_ns = vt_to_ns((int64_t)(sv->pass - SP(p)->global.v), v->weight);
    SP(p)->global.weight_sum -= v->weight;
}

static void stride_put_prev(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now, bool yielded)
{
    (void)yielded;
    vclock_serve(&SP(p)->global, p, now);
    push(p, v);
}

static struct sched_vcpu *stride_pick(struct sched_pcpu *p, uint64_t now)
{
    vclock_serve(&SP(p)->global, p, now);
    struct pheap_node *n = pheap_pop(&SP(p)->q, by_pass);
    if (!n)
        return NULL;
    of_hnode(n)->queued = false;
    return SCHED_CONTAINER_OF((void *)of_hnode(n), struct sched_vcpu, pol);
}

static void stride_tick(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t ran, uint64_t now)
{
    vclock_serve(&SP(p)->global, p, now);
    SV(v)->pass += vt_from_ns(ran, v->weight);
}

/* Billed while asleep: it returns that much further ahead of the global pass. */
static void stride_charge(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t ns, uint64_t now)
{
    (void)p, (void)now;
    SV(v)->remain_ns += (int64_t)ns;
}

static void stride_unserved(struct sched_pcpu *p, uint64_t from, uint64_t now)
{
    vclock_unserved(&SP(p)->global, p, from, now);
}

static enum sched_preempt stride_preempts(struct sched_pcpu *p, struct sched_vcpu *cur, uint64_t now)
{
    (void)p, (void)cur, (void)now;
    return SCHED_KEEP; /* quantum based: decisions at slice ends only */
}

static uint64_t stride_slice_ns(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    (void)v, (void)now;
    return sched_timeslice(p);
}

static int64_t stride_value(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    (void)now;
    if (!SV(v)->queued && p->curr != v)
        return SV(v)->remain_ns;
    return vt_to_ns((int64_t)(SV(v)->pass - SP(p)->global.v), v->weight);
}

const struct sched_policy sched_policy_stride = {
    .name = "stride",
    .init_pcpu = stride_init_pcpu,
    .init_vcpu = stride_init_vcpu,
    .wake = stride_wake,
    .sleep = stride_sleep,
    .put_prev = stride_put_prev,
    .pick_next = stride_pick,
    .tick = stride_tick,
    .preempts = stride_preempts,
    .slice_ns = stride_slice_ns,
    .charge = stride_charge,
    .unserved = stride_unserved,
    .value = stride_value,
};
