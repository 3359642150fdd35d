/* credit: Xen's credit scheduler semantics, made exact and O(log n).
 *
 * Each runnable vCPU earns credit in proportion to its weight and burns it by the time it
 * actually runs (charged from timestamps at every decision, never sampled at ticks).  Credit is
 * kept as virtual time: the pCPU clock K advances by dt / (sum of runnable weights), a vCPU's
 * vt by its run time / weight, and credit_ns = weight * (K - vt).  Priorities, best first:
 *   BOOST  woke from blocking with credit left; runs ahead of everyone until it is descheduled
 *          or has run one rate-limit period (Xen: until the next 10 ms tick)
 *   UNDER  credit >= 0: round robin (FIFO) in arrival order, one time slice each
 *   OVER   credit < 0: ordered by vt (most deserving first) in a pairing heap
 * As K advances, OVER vCPUs whose debt is paid move to the UNDER tail.  A blocked vCPU keeps
 * earning at its weight's share of the pCPU (as Xen's accounting credits every active vCPU),
 * so a vCPU that uses less than its share wakes with credit and is BOOSTed.  Credit is capped
 * at one time slice (an idle vCPU cannot hoard), debt is kept (so weights hold exactly).  Differences
 * from Xen: credit flows continuously rather than in 30 ms accounting rounds, it is per pCPU
 * (the core's balancer spreads load), weight is per vCPU, and caps are the core's (all
 * policies). */
#include "sched/policy.h"

enum { PRI_OVER, PRI_UNDER, PRI_BOOST };

struct credit_vcpu {
    struct slist node;       /* BOOST or UNDER list */
    struct pheap_node hnode; /* OVER heap */
    uint64_t vt;
    int64_t saved_ns;        /* credit while not runnable here */
    uint64_t slept_ns;       /* when it left the runnable set */
    uint8_t where;           /* queue it is on: 0 none, else PRI_x + 1 */
    bool boost;
};

struct credit_pcpu {
    struct slist boost, under;
    struct pheap over;
    struct vclock k;
};

SCHED_POLICY_DATA_FITS(struct credit_vcpu, struct credit_pcpu);

#define CP(p) ((struct credit_pcpu *)(void *)(p)->pol)
#define CV(v) ((struct credit_vcpu *)(void *)(v)->pol)

static struct sched_vcpu *of_hnode(const struct pheap_node *n)
{
    return SCHED_CONTAINER_OF((void *)((char *)n - offsetof(struct credit_vcpu, hnode)),
                              struct sched_vcpu, pol);
}

static struct sched_vcpu *of_node(const struct slist *n)
{
    return SCHED_CONTAINER_OF((void *)n, struct sched_vcpu, pol);
}

static bool over_less(const struct pheap_node *a, const struct pheap_node *b)
{
    return vt_before(CV(of_hnode(a))->vt, CV(of_hnode(b))->vt);
}

static int64_t credit_ns(struct sched_pcpu *p, struct sched_vcpu *v)
{
    return vt_to_ns((int64_t)(CP(p)->k.v - CV(v)->vt), v->weight);
}

static int prio(struct sched_pcpu *p, struct sched_vcpu *v)
{
    if (CV(v)->boost)
        return PRI_BOOST;
    return vt_before(CP(p)->k.v, CV(v)->vt) ? PRI_OVER : PRI_UNDER;
}

static void q_insert(struct sched_pcpu *p, struct sched_vcpu *v)
{
    int pri = prio(p, v);
    CV(v)->where = (uint8_t)(pri + 1);
    if (pri == PRI_OVER)
        pheap_insert(&CP(p)->over, &CV(v)->hnode, over_less);
    else
        slist_add_tail(pri == PRI_BOOST ? &CP(p)->boost : &CP(p)->under, &CV(v)->node);
}

static void q_unlink(struct sched_pcpu *p, struct sched_vcpu *v)
{
    if (CV(v)->where == PRI_OVER + 1)
        pheap_remove(&CP(p)->over, &CV(v)->hnode, over_less);
    else if (CV(v)->where)
        slist_del(&CV(v)->node);
    CV(v)->where = 0;
}

/* Advances K and moves OVER vCPUs whose debt is paid to the UNDER tail. */
static void advance(struct sched_pcpu *p, uint64_t now)
{
    struct credit_pcpu *cp = CP(p);
    vclock_advance(&cp->k, now);
    struct pheap_node *n;
    while ((n = pheap_min(&cp->over)) && !vt_before(cp->k.v, CV(of_hnode(n))->vt)) {
        pheap_pop(&cp->over, over_less);
        struct sched_vcpu *v = of_hnode(n);
        CV(v)->where = PRI_UNDER + 1;
        slist_add_tail(&cp->under, &CV(v)->node);
    }
}

static void credit_init_pcpu(struct sched_pcpu *p, uint64_t now)
{
    struct credit_pcpu *cp = CP(p);
    slist_init(&cp->boost);
    slist_init(&cp->under);
    pheap_init(&cp->over);
    cp->k.v = 0;
    cp->k.stamp_ns = now;
    cp->k.weight_sum = 0;
}

static void credit_init_vcpu(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    (void)p;
    struct credit_vcpu *cv = CV(v);
    slist_init(&cv->node);
    cv->vt = 0;
    cv->saved_ns = 0;
    cv->slept_ns = now;
    cv->where = 0;
    cv->boost = false;
}

static void credit_wake(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now,
                        enum sched_join why)
{
    struct credit_vcpu *cv = CV(v);
    advance(p, now);
    CP(p)->k.weight_sum += v->weight;
    int64_t max = (int64_t)sched_timeslice(p), c = cv->saved_ns;
    if (why == SCHED_JOIN_WAKE && now > cv->slept_ns) { /* credit earned while blocked */
        uint64_t slept = now - cv->slept_ns;
        slept = slept > 4000000000ull ? 4000000000ull : slept;
        c += (int64_t)(slept * v->weight / CP(p)->k.weight_sum);
    }
    if (why == SCHED_JOIN_MIGRATE)
        c = 0; /* credit relative to the old pCPU's clock: joins neutral, UNDER */
    c = c < max ? c : max;
    cv->vt = c >= 0 ? CP(p)->k.v - vt_from_ns((uint64_t)c, v->weight)
                    : CP(p)->k.v + vt_from_ns((uint64_t)-c, v->weight);
    cv->boost = why == SCHED_JOIN_WAKE && c >= 0;
    if (why != SCHED_JOIN_CURRENT)
        q_insert(p, v);
}

static void credit_sleep(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    advance(p, now);
    q_unlink(p, v);
    CV(v)->saved_ns = credit_ns(p, v);
    CV(v)->slept_ns = now;
    CV(v)->boost = false;
    CP(p)->k.weight_sum -= v->weight;
}

static void credit_put_prev(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now,
                            bool yielded)
{
    (void)yielded; /* a yield goes to the tail of its priority, like any slice end */
    advance(p, now);
    CV(v)->boost = false;
    q_insert(p, v);
}

static struct sched_vcpu *credit_pick(struct sched_pcpu *p, uint64_t now)
{
    struct credit_pcpu *cp = CP(p);
    advance(p, now);
    struct sched_vcpu *v = NULL;
    if (!slist_empty(&cp->boost))
        v = of_node(cp->boost.next);
    else if (!slist_empty(&cp->under))
        v = of_node(cp->under.next);
    else if (pheap_min(&cp->over))
        v = of_hnode(pheap_min(&cp->over));
    if (v)
        q_unlink(p, v);
    return v;
}

static void credit_tick(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t ran, uint64_t now)
{
    advance(p, now);
    CV(v)->vt += vt_from_ns(ran, v->weight); /* credit_burn */
}

/* Billed while asleep: burnt from the credit it keeps (credit_burn of a run it did not have).
 * No `unserved`: K is a clock of time (credit is earned while runnable), and the current vCPU
 * simply burns nothing for time it did not run. */
static void credit_charge(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t ns, uint64_t now)
{
    (void)p, (void)now;
    CV(v)->saved_ns -= (int64_t)ns;
}

static enum sched_preempt credit_preempts(struct sched_pcpu *p, struct sched_vcpu *cur, uint64_t now)
{
    struct credit_pcpu *cp = CP(p);
    advance(p, now);
    int best = !slist_empty(&cp->boost) ? PRI_BOOST
             : !slist_empty(&cp->under) ? PRI_UNDER
             : pheap_min(&cp->over)     ? PRI_OVER : -1;
    return best > prio(p, cur) ? SCHED_PREEMPT : SCHED_KEEP;
}

/* While CUR is OVER, the least indebted OVER vCPU turns UNDER (and preempts it) when K reaches
 * its vt: (vt - K) * W ns away. */
static uint64_t credit_recheck_ns(struct sched_pcpu *p, struct sched_vcpu *cur, uint64_t now)
{
    struct credit_pcpu *cp = CP(p);
    advance(p, now);
    struct pheap_node *n = pheap_min(&cp->over);
    if (!n || prio(p, cur) != PRI_OVER || !cp->k.weight_sum)
        return SCHED_NO_EVENT;
    int64_t ns = vt_to_ns((int64_t)(CV(of_hnode(n))->vt - cp->k.v), cp->k.weight_sum);
    return now + (ns > 0 ? (uint64_t)ns : 0) + 1;
}

static uint64_t credit_slice_ns(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    (void)v, (void)now;
    return sched_timeslice(p);
}

static int64_t credit_value(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    bool here = CV(v)->where || p->curr == v;
    if (!here || v->state == SCHED_BLOCKED)
        return CV(v)->saved_ns;
    advance(p, now);
    return credit_ns(p, v);
}

const struct sched_policy sched_policy_credit = {
    .name = "credit",
    .init_pcpu = credit_init_pcpu,
    .init_vcpu = credit_init_vcpu,
    .wake = credit_wake,
    .sleep = credit_sleep,
    .put_prev = credit_put_prev,
    .pick_next = credit_pick,
    .tick = credit_tick,
    .preempts = credit_preempts,
    .slice_ns = credit_slice_ns,
    .recheck_ns = credit_recheck_ns,
    .charge = credit_charge,
    .value = credit_value,
};
