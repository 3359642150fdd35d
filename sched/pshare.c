/* pshare: proportional share with virtual time, EEVDF (Stoica et al. 1996) family.
 *
 * V is the pCPU's virtual time: it advances by dt / (sum of runnable weights), and it is
 * corrected when a vCPU joins or leaves with a lag, so that V stays the weighted average of the
 * runnable vCPUs' virtual eligible times (the sum of lags is zero).  Each vCPU has
 *   ve  virtual eligible time: advances by its run time / weight
 *   vd  virtual deadline = ve + request / weight, set when a request starts
 *   lag = weight * (V - ve), in ns of service: > 0 it is owed service, < 0 it is ahead.
 * A vCPU is eligible when ve <= V; pick = the eligible vCPU with the earliest deadline.  Two
 * pairing heaps hold the queue: not-yet-eligible by ve, eligible by vd; as V advances vCPUs
 * move from the first to the second, so a decision is O(log n) amortized.
 * Sleep keeps the lag; wake-up restores it clamped to one request either way: a sleeper can
 * neither bank service to starve others on return nor lose its place to be starved.  A debt
 * (negative lag) is forgiven while blocked at the rate of the vCPU's fair share, so a vCPU that
 * runs in short bursts is not left permanently ineligible; a positive lag does not grow.
 * The request size is per VM (sched_change SCHED_SET_REQUEST), default one time slice. */
#include "sched/policy.h"

#define PS_MIN_SLICE_NS 10000 /* do not arm timers for slivers of a request */

enum { PS_NONE, PS_ELIG, PS_WAIT };

struct ps_vcpu {
    struct pheap_node hnode;
    uint64_t ve, vd;
    int64_t lag_ns;
    uint64_t slept_ns;
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

static uint64_t request_ns(struct sched_pcpu *p, struct sched_vcpu *v)
{
    return v->vm->request_ns ? v->vm->request_ns : sched_timeslice(p);
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
    vclock_advance(&pp->v, now);
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
    (void)p;
    struct ps_vcpu *pv = PV(v);
    pv->ve = pv->vd = 0;
    pv->lag_ns = 0;
    pv->slept_ns = now;
    pv->where = PS_NONE;
}

static void ps_wake(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now, enum sched_join why)
{
    struct ps_pcpu *pp = PP(p);
    struct ps_vcpu *pv = PV(v);
    advance(p, now);
    int64_t r = (int64_t)request_ns(p, v);
    int64_t lag = pv->lag_ns;
    if (why == SCHED_JOIN_WAKE && lag < 0 && now > pv->slept_ns) {
        uint64_t slept = now - pv->slept_ns;
        slept = slept > 4000000000ull ? 4000000000ull : slept;
        lag += (int64_t)(slept * v->weight / (pp->v.weight_sum + v->weight));
        lag = lag > 0 ? 0 : lag;
    }
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
}

static bool ps_preempts(struct sched_pcpu *p, struct sched_vcpu *cur, uint64_t now)
{
    struct ps_pcpu *pp = PP(p);
    advance(p, now);
    struct pheap_node *n = pheap_min(&pp->elig);
    if (!n)
        return false;
    struct ps_vcpu *c = PV(cur);
    return vt_before(pp->v.v, c->ve) || vt_before(of_hnode(n)->vd, c->vd);
}

/* The earliest not-yet-eligible vCPU preempts CUR once V reaches its ve, if its deadline is
 * earlier; V advances by dt / W, so that is (ve - V) * W ns away. */
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
    .value = ps_value,
};
