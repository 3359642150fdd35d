/* pshare: proportional share with virtual time, EEVDF (Stoica et al. 1996) family.
 *
 * V is the pCPU's virtual time: while a vCPU runs it advances by dt / (sum of runnable
 * weights) — only then (vclock_serve: time in which nobody runs is no service) — and it is
 * corrected when a vCPU joins or leaves with a lag, so that V stays the weighted average of the
 * runnable vCPUs' virtual eligible times (the sum of lags is zero).  Each vCPU has
 *   ve  virtual eligible time: advances by its run time / weight
 *   vd  virtual deadline = ve + request / weight, set when a request starts
 *   lag = weight * (V - ve), in ns of service: > 0 it is owed service, < 0 it is ahead.
 * A vCPU is eligible when ve <= V; pick = the eligible vCPU with the earliest deadline.  Two
 * pairing heaps hold the queue: not-yet-eligible by ve, eligible by vd; as V advances vCPUs
 * move from the first to the second, so a decision is O(log n) amortized.
 * Sleep keeps the lag, decaying toward zero at the vCPU's fair rate while it sleeps (debt and
 * credit alike: preserved across short sleeps, gone after long ones), and wake-up restores it
 * clamped to one request either way: a sleeper can neither bank service to starve others on
 * return nor lose its place to be starved.  The request is the VM's (SCHED_SET_REQUEST, like
 * Linux's sched_attr.sched_runtime) or else the vCPU's typical burst (request_ns below).
 * Preemption (RUN_TO_PARITY in Linux's terms): the running vCPU keeps its pCPU until it is no
 * longer eligible or an eligible vCPU has an earlier deadline — a waker with non-negative lag
 * and a short request is that vCPU, so it runs at once (after the rate limit). */
#include "sched/policy.h"

#define PS_MIN_SLICE_NS 10000 /* do not arm timers for slivers of a request */

enum { PS_NONE, PS_ELIG, PS_WAIT };

struct ps_vcpu {
    struct pheap_node hnode;
    uint64_t ve, vd;
    int64_t lag_ns;
    uint64_t slept_ns;
    uint64_t burst_ns;      /* average run per wake-up (its typical burst) */
    uint64_t ran_ns;        /* run since its last wake-up */
    uint8_t where;
};

struct ps_pcpu {
    struct pheap elig;   /* by vd */
    struct pheap wait;   /* by ve */
    struct vclock v;
};

SCHED_POLICY_DATA_FITS(struct ps_vcpu, struct ps_pcpu);

#define PP(p) ((struct ps_pcpu *)(void *)(p)->pol)
#define PV(v) ((struct ps_vcpu *)(void *)(v)->pol)

static struct ps_vcpu *of_hnode(const struct pheap_node *n)
{
    return (struct ps_vcpu *)(void *)((char *)n - offsetof(struct ps_vcpu, hnode));
}

static struct sched_vcpu *vcpu_of(struct ps_vcpu *pv)
{
    return SCHED_CONTAINER_OF((void *)pv, struct sched_vcpu, pol);
}

static bool by_deadline(const struct pheap_node *a, const struct pheap_node *b)
{
    return vt_before(of_hnode(a)->vd, of_hnode(b)->vd);
}

static bool by_eligible(const struct pheap_node *a, const struct pheap_node *b)
{
    return vt_before(of_hnode(a)->ve, of_hnode(b)->ve);
}

#define PS_MIN_REQUEST_NS (SCHED_REQUEST_MIN_US * 1000ull) /* the shortest request */

/* The request: the VM's if it set one (SCHED_SET_REQUEST, the latency hint), else the vCPU's
 * typical burst — twice its average run per wake-up, between PS_MIN_REQUEST_NS and the time
 * slice.  So a vCPU that wakes for short bursts asks for short requests: it gets an early
 * deadline and, eligible, runs at once; a hog (never blocks) asks for whole slices. */
static uint64_t request_ns(struct sched_pcpu *p, struct sched_vcpu *v)
{
    if (v->vm->request_ns)
        return v->vm->request_ns;
    uint64_t slice = sched_timeslice(p), r = 2 * PV(v)->burst_ns;
    r = r < PS_MIN_REQUEST_NS ? PS_MIN_REQUEST_NS : r;
    return r < slice ? r : slice;
}

/* Signed virtual-time offset of NS at weight W. */
static uint64_t vt_signed(int64_t ns, uint64_t w)
{
    return ns >= 0 ? vt_from_ns((uint64_t)ns, w) : (uint64_t)0 - vt_from_ns((uint64_t)-ns, w);
}

static void q_insert(struct sched_pcpu *p, struct sched_vcpu *v)
{
    struct ps_vcpu *pv = PV(v);
    if (vt_before(PP(p)->v.v, pv->ve)) {
        pv->where = PS_WAIT;
        pheap_insert(&PP(p)->wait, &pv->hnode, by_eligible);
    } else {
        pv->where = PS_ELIG;
        pheap_insert(&PP(p)->elig, &pv->hnode, by_deadline);
    }
}

static void q_unlink(struct sched_pcpu *p, struct sched_vcpu *v)
{
    struct ps_vcpu *pv = PV(v);
    if (pv->where == PS_WAIT)
        pheap_remove(&PP(p)->wait, &pv->hnode, by_eligible);
    else if (pv->where == PS_ELIG)
        pheap_remove(&PP(p)->elig, &pv->hnode, by_deadline);
    pv->where = PS_NONE;
}

static void advance(struct sched_pcpu *p, uint64_t now)
{
    struct ps_pcpu *pp = PP(p);
    vclock_serve(&pp->v, p, now);
    struct pheap_node *n;
    while ((n = pheap_min(&pp->wait)) && !vt_before(pp->v.v, of_hnode(n)->ve)) {
        pheap_pop(&pp->wait, by_eligible);
        of_hnode(n)->where = PS_ELIG;
        pheap_insert(&pp->elig, n, by_deadline);
    }
}

static void ps_init_pcpu(struct sched_pcpu *p, uint64_t now)
{
    struct ps_pcpu *pp = PP(p);
    pheap_init(&pp->elig);
    pheap_init(&pp->wait);
    pp->v.v = 0;
    pp->v.stamp_ns = now;
    pp->v.weight_sum = 0;
}

static void ps_init_vcpu(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    struct ps_vcpu *pv = PV(v);
    pv->ve = pv->vd = 0;
    pv->lag_ns = 0;
    pv->slept_ns = now;
    pv->burst_ns = sched_timeslice(p); /* a hog until it shows otherwise */
    pv->ran_ns = 0;
    pv->where = PS_NONE;
}

/* Lag across a sleep of SLEPT ns: it decays toward zero at the vCPU's fair rate (its weight's
 * share of this pCPU with it back), debt and credit alike — a short sleep keeps most of it, a
 * long one none.  Debt: a vCPU that ran ahead and sleeps briefly cannot reset it by sleeping
 * (it is forgiven only as fast as it would have been paid back); credit: service it was owed
 * is not owed forever (a long sleeper cannot bank it; it could otherwise preempt whoever runs
 * when it returns, and identical periodic VMs would keep preempting each other). */
static int64_t lag_after_sleep(int64_t lag, uint64_t slept, uint64_t w, uint64_t others)
{
    slept = slept > 4000000000ull ? 4000000000ull : slept;
    int64_t decay = (int64_t)(slept * w / (others + w));
    if (lag > 0)
        return lag > decay ? lag - decay : 0;
    return -lag > decay ? lag + decay : 0;
}

static void ps_wake(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now, enum sched_join why)
{
    struct ps_pcpu *pp = PP(p);
    struct ps_vcpu *pv = PV(v);
    advance(p, now);
    int64_t lag = pv->lag_ns;
    if (why == SCHED_JOIN_WAKE) {
        if (pv->ran_ns) /* the burst since the previous wake-up is complete */
            pv->burst_ns = (3 * pv->burst_ns + pv->ran_ns) / 4;
        pv->ran_ns = 0;
        if (now > pv->slept_ns)
            lag = lag_after_sleep(lag, now - pv->slept_ns, v->weight, pp->v.weight_sum);
    }
    if (why == SCHED_JOIN_MIGRATE)
        lag = 0; /* its lag was owed by (or to) the old pCPU's vCPUs, not this one's */
    int64_t r = (int64_t)request_ns(p, v);
    lag = lag > r ? r : lag < -r ? -r : lag;
    /* Joining with lag L moves V by -L / (weight already here), so the lags of everyone,
     * the newcomer included, still sum to zero (EEVDF's join rule; mirror of ps_sleep). */
    if (pp->v.weight_sum)
        pp->v.v -= vt_signed(lag, pp->v.weight_sum);
    pp->v.weight_sum += v->weight;
    pv->ve = pp->v.v - vt_signed(lag, v->weight);
    pv->vd = pv->ve + vt_from_ns((uint64_t)r, v->weight);
    if (why != SCHED_JOIN_CURRENT)
        q_insert(p, v);
}

static void ps_sleep(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    struct ps_pcpu *pp = PP(p);
    struct ps_vcpu *pv = PV(v);
    advance(p, now);
    q_unlink(p, v);
    pv->lag_ns = vt_to_ns((int64_t)(pp->v.v - pv->ve), v->weight);
    pv->slept_ns = now;
    pp->v.weight_sum -= v->weight;
    if (pp->v.weight_sum) /* leaving with lag: the others' lags absorb it (EEVDF's leave rule) */
        pp->v.v += vt_signed(pv->lag_ns, pp->v.weight_sum);
}

static void ps_put_prev(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now, bool yielded)
{
    struct ps_vcpu *pv = PV(v);
    advance(p, now);
    if (yielded || !vt_before(pv->ve, pv->vd)) /* request done (or given up): issue the next */
        pv->vd = pv->ve + vt_from_ns(request_ns(p, v), v->weight);
    q_insert(p, v);
}

static struct sched_vcpu *ps_pick(struct sched_pcpu *p, uint64_t now)
{
    struct ps_pcpu *pp = PP(p);
    advance(p, now);
    struct pheap_node *n = pheap_min(&pp->elig);
    if (!n)
        n = pheap_min(&pp->wait); /* nobody eligible (rounding, joins): stay work conserving */
    if (!n)
        return NULL;
    struct sched_vcpu *v = vcpu_of(of_hnode(n));
    q_unlink(p, v);
    return v;
}

static void ps_tick(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t ran, uint64_t now)
{
    advance(p, now);
    PV(v)->ve += vt_from_ns(ran, v->weight);
    PV(v)->ran_ns += ran;
}

/* Billed while asleep: the service is debt it carries back (clamped on wake like any lag). */
static void ps_charge(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t ns, uint64_t now)
{
    (void)p, (void)now;
    PV(v)->lag_ns -= (int64_t)ns;
}

static void ps_unserved(struct sched_pcpu *p, uint64_t from, uint64_t now)
{
    vclock_unserved(&PP(p)->v, p, from, now);
}

static enum sched_preempt ps_preempts(struct sched_pcpu *p, struct sched_vcpu *cur, uint64_t now)
{
    struct ps_pcpu *pp = PP(p);
    advance(p, now);
    struct pheap_node *n = pheap_min(&pp->elig);
    if (!n)
        return SCHED_KEEP;
    struct ps_vcpu *c = PV(cur);
    bool earlier = vt_before(of_hnode(n)->vd, c->vd);
    if (!earlier && !vt_before(pp->v.v, c->ve))
        return SCHED_KEEP; /* still eligible, and nobody eligible has an earlier deadline */
    /* A short request with an earlier deadline goes first at once (Linux: PREEMPT_SHORT). */
    if (earlier && request_ns(p, vcpu_of(of_hnode(n))) <= p->pool->params.ratelimit_ns)
        return SCHED_PREEMPT_NOW;
    return SCHED_PREEMPT;
}

/* The earliest not-yet-eligible vCPU preempts CUR once V reaches its ve, if its deadline is
 * earlier; while CUR runs V advances by dt / W, so that is (ve - V) * W ns away. */
static uint64_t ps_recheck_ns(struct sched_pcpu *p, struct sched_vcpu *cur, uint64_t now)
{
    struct ps_pcpu *pp = PP(p);
    advance(p, now);
    struct pheap_node *n = pheap_min(&pp->wait);
    if (!n || !vt_before(of_hnode(n)->vd, PV(cur)->vd) || !pp->v.weight_sum)
        return SCHED_NO_EVENT;
    int64_t ns = vt_to_ns((int64_t)(of_hnode(n)->ve - pp->v.v), pp->v.weight_sum);
    return now + (ns > 0 ? (uint64_t)ns : 0) + 1;
}

static uint64_t ps_slice_ns(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    (void)now;
    struct ps_vcpu *pv = PV(v);
    int64_t left = vt_to_ns((int64_t)(pv->vd - pv->ve), v->weight);
    if (left <= 0)
        left = (int64_t)request_ns(p, v);
    return left < PS_MIN_SLICE_NS ? PS_MIN_SLICE_NS : (uint64_t)left;
}

static int64_t ps_value(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    struct ps_vcpu *pv = PV(v);
    if (pv->where == PS_NONE && p->curr != v)
        return pv->lag_ns;
    advance(p, now);
    return vt_to_ns((int64_t)(PP(p)->v.v - pv->ve), v->weight);
}

const struct sched_policy sched_policy_pshare = {
    .name = "pshare",
    .init_pcpu = ps_init_pcpu,
    .init_vcpu = ps_init_vcpu,
    .wake = ps_wake,
    .sleep = ps_sleep,
    .put_prev = ps_put_prev,
    .pick_next = ps_pick,
    .tick = ps_tick,
    .preempts = ps_preempts,
    .slice_ns = ps_slice_ns,
    .recheck_ns = ps_recheck_ns,
    .charge = ps_charge,
    .unserved = ps_unserved,
    .value = ps_value,
};
