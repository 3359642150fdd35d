/* rtds: reservations with EDF (Xen's RTDS as reference), partitioned.
 *
 * A VM with rt_budget_ns > 0 reserves, for each of its vCPUs, that budget every rt_period_ns.
 * The core pins each reserved vCPU to one pCPU (sched/reserve.h: admission is a packing, every
 * pCPU's Σ budget/period ≤ 1, so EDF there meets every deadline), and each pCPU runs:
 *   1. vCPUs with budget left in their period, earliest deadline first (deadline = period end),
 *      preempting at once (no rate limit: a deadline does not wait);
 *   2. then, in idle time only, extratime vCPUs round robin, one time slice each: reserved
 *      vCPUs out of budget with the extratime flag (default on), and unreserved vCPUs
 *      (budget 0), which run only there;
 *   3. reserved vCPUs out of budget without extratime wait for their next period (the pCPU
 *      idles if nothing else may run, and wakes at the replenishment: idle_recheck_ns).
 * Deferrable server, as Xen: the budget is kept while the vCPU blocks and replenished in full
 * at each period boundary; the first period starts when the vCPU first becomes runnable
 * (policy switch or wake-up), and a vCPU waking after its deadline starts a new period then.
 * Deadline misses: a period that ends while its vCPU is runnable with budget left, after it
 * waited with budget left for longer than the period's slack (period - budget) — plus every
 * later period that passes while it waits unserved.  For a vCPU runnable all period long that
 * is exactly "it received less than its budget"; a period that ends while it is blocked, or
 * one it joined too late to use its budget (it waited no longer than EDF may make it wait,
 * e.g. for the VMM's dispatch), is no miss.  Counted (sched_acct.deadline_misses) when the
 * policy next looks at the vCPU.
 * Differences from Xen: partitioned (Xen RTDS is global EDF over a pool's runqueue), no
 * admission in Xen, extratime here is round robin (Xen orders it by deadline with priority
 * levels), weights are ignored. */
#include "sched/policy.h"
#include "sched/reserve.h"

enum { IN_EDF = 1, IN_WAIT = 2, IN_EXTRA = 4 };

struct rtds_vcpu {
    struct pheap_node hnode;    /* EDF heap (budget left) or wait heap (out of budget) */
    struct slist lnode;         /* extratime list */
    uint64_t deadline_ns;       /* end of the current period, 0 = no period yet */
    uint64_t budget_ns;         /* left in the current period */
    uint64_t wait_from_ns;      /* queued with budget since (while waiting) */
    uint64_t waited_ns;         /* waited with budget in the current period, before that */
    uint8_t where;              /* IN_* */
    bool runnable;              /* in this pCPU's runnable set (misses count only then) */
    bool waiting;               /* queued with budget */
};

struct rtds_pcpu {
    struct pheap edf, wait;     /* by deadline; the wait heap's deadline is the replenishment */
    struct slist extra;
};

SCHED_POLICY_DATA_FITS(struct rtds_vcpu, struct rtds_pcpu);

#define RP(p) ((struct rtds_pcpu *)(void *)(p)->pol)
#define RV(v) ((struct rtds_vcpu *)(void *)(v)->pol)

static struct sched_vcpu *of_hnode(const struct pheap_node *n)
{
    return SCHED_CONTAINER_OF((void *)((char *)n - offsetof(struct rtds_vcpu, hnode)),
                              struct sched_vcpu, pol);
}

static struct sched_vcpu *of_lnode(const struct slist *n)
{
    return SCHED_CONTAINER_OF((void *)((char *)n - offsetof(struct rtds_vcpu, lnode)),
                              struct sched_vcpu, pol);
}

static bool earlier(const struct pheap_node *a, const struct pheap_node *b)
{
    return RV(of_hnode(a))->deadline_ns < RV(of_hnode(b))->deadline_ns;
}

static bool reserved(const struct sched_vcpu *v)
{
    return v->vm->rt_budget_ns != 0;
}

/* Brings V's period up to NOW: replenishes at each boundary passed, counting misses. */
static void update(struct sched_vcpu *v, uint64_t now)
{
    struct rtds_vcpu *rv = RV(v);
    uint64_t period = v->vm->rt_period_ns;
    if (!reserved(v))
        return;
    if (!rv->deadline_ns) {
        rv->deadline_ns = now + period;
        rv->budget_ns = v->vm->rt_budget_ns;
        rv->waited_ns = 0;
        return;
    }
    if (now < rv->deadline_ns)
        return;
    uint64_t end = rv->deadline_ns, passed = (now - end) / period + 1;
    uint64_t waited = rv->waited_ns + (rv->waiting && rv->wait_from_ns < end
                                           ? end - rv->wait_from_ns : 0);
    if (rv->runnable) /* whole periods that passed while it waited count too */
        sched_note_deadline_misses(v, (rv->budget_ns && waited > period - v->vm->rt_budget_ns) +
                                          (rv->waiting ? passed - 1 : 0));
    rv->deadline_ns += passed * period;
    rv->budget_ns = v->vm->rt_budget_ns;
    rv->waited_ns = 0;
    if (rv->waiting) /* still waiting, from the new period's start */
        rv->wait_from_ns = rv->deadline_ns - period;
}

static bool has_budget(const struct sched_vcpu *v)
{
    return reserved(v) && RV(v)->budget_ns > 0;
}

static void q_insert(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    struct rtds_vcpu *rv = RV(v);
    update(v, now);
    if (has_budget(v)) {
        pheap_insert(&RP(p)->edf, &rv->hnode, earlier);
        rv->where = IN_EDF;
        if (!rv->waiting)
            rv->wait_from_ns = now;
        rv->waiting = true;
        return;
    }
    rv->where = 0;
    rv->waiting = false;
    if (reserved(v)) {
        pheap_insert(&RP(p)->wait, &rv->hnode, earlier);
        rv->where |= IN_WAIT;
    }
    if (!reserved(v) || v->vm->rt_extra) {
        slist_add_tail(&RP(p)->extra, &rv->lnode);
        rv->where |= IN_EXTRA;
    }
}

static void q_unlink(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    struct rtds_vcpu *rv = RV(v);
    if (rv->where & IN_EDF)
        pheap_remove(&RP(p)->edf, &rv->hnode, earlier);
    if (rv->waiting && now > rv->wait_from_ns)
        rv->waited_ns += now - rv->wait_from_ns;
    rv->waiting = false;
    if (rv->where & IN_WAIT)
        pheap_remove(&RP(p)->wait, &rv->hnode, earlier);
    if (rv->where & IN_EXTRA)
        slist_del(&rv->lnode);
    rv->where = 0;
}

/* Replenishments due by NOW move to the EDF heap; EDF heads whose deadline passed unserved
 * start their next period (a miss each). */
static void refill(struct sched_pcpu *p, uint64_t now)
{
    struct rtds_pcpu *rp = RP(p);
    struct pheap_node *n;
    while ((n = pheap_min(&rp->wait)) && RV(of_hnode(n))->deadline_ns <= now) {
        struct sched_vcpu *v = of_hnode(n);
        q_unlink(p, v, now);
        q_insert(p, v, now);
    }
    while ((n = pheap_min(&rp->edf)) && RV(of_hnode(n))->deadline_ns <= now) {
        struct sched_vcpu *v = of_hnode(n);
        pheap_pop(&rp->edf, earlier);
        RV(v)->where = 0;
        update(v, now); /* while still waiting: closes its periods (misses) */
        q_insert(p, v, now);
    }
}

static void rtds_init_pcpu(struct sched_pcpu *p, uint64_t now)
{
    (void)now;
    pheap_init(&RP(p)->edf);
    pheap_init(&RP(p)->wait);
    slist_init(&RP(p)->extra);
}

static void rtds_init_vcpu(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    (void)p, (void)now;
    struct rtds_vcpu *rv = RV(v);
    slist_init(&rv->lnode);
    rv->deadline_ns = 0;
    rv->budget_ns = 0;
    rv->wait_from_ns = rv->waited_ns = 0;
    rv->waiting = false;
    rv->where = 0;
    rv->runnable = false;
}

static void rtds_wake(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now, enum sched_join why)
{
    update(v, now); /* not runnable until now: a deadline that passed meanwhile is no miss */
    RV(v)->runnable = true;
    if (why != SCHED_JOIN_CURRENT)
        q_insert(p, v, now);
}

static void rtds_sleep(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    update(v, now);
    q_unlink(p, v, now);
    RV(v)->runnable = false;
}

static void rtds_put_prev(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now, bool yielded)
{
    (void)yielded; /* with budget left it is still the earliest deadline: EDF runs it again */
    q_insert(p, v, now);
}

static struct sched_vcpu *rtds_pick(struct sched_pcpu *p, uint64_t now)
{
    struct rtds_pcpu *rp = RP(p);
    refill(p, now);
    struct sched_vcpu *v = NULL;
    if (pheap_min(&rp->edf))
        v = of_hnode(pheap_min(&rp->edf));
    else if (!slist_empty(&rp->extra))
        v = of_lnode(rp->extra.next);
    if (v)
        q_unlink(p, v, now);
    return v;
}

/* Run time is spent from the period it fell in: the part past a boundary from the next. */
static void rtds_tick(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t ran, uint64_t now)
{
    (void)p;
    struct rtds_vcpu *rv = RV(v);
    if (!reserved(v))
        return;
    uint64_t after = rv->deadline_ns && now > rv->deadline_ns ? now - rv->deadline_ns : 0;
    after = after < ran ? after : ran;
    uint64_t before = ran - after;
    rv->budget_ns = rv->budget_ns > before ? rv->budget_ns - before : 0;
    update(v, now);
    rv->budget_ns = rv->budget_ns > after ? rv->budget_ns - after : 0;
}

/* Blocked V is billed NS its timer's exits took on another pCPU: out of its budget, as if it
 * had run (a guest's timer costs that guest, sched_vcpu_charge). */
static void rtds_charge(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t ns, uint64_t now)
{
    (void)p;
    if (!reserved(v))
        return;
    update(v, now);
    RV(v)->budget_ns = RV(v)->budget_ns > ns ? RV(v)->budget_ns - ns : 0;
}

static enum sched_preempt rtds_preempts(struct sched_pcpu *p, struct sched_vcpu *cur, uint64_t now)
{
    refill(p, now);
    struct pheap_node *n = pheap_min(&RP(p)->edf);
    if (!n)
        return SCHED_KEEP;
    update(cur, now);
    if (!has_budget(cur) || RV(of_hnode(n))->deadline_ns < RV(cur)->deadline_ns)
        return SCHED_PREEMPT_NOW;
    return SCHED_KEEP;
}

/* The next replenishment of a waiting vCPU: it may then preempt (its deadline is earlier, or
 * the current vCPU runs in extratime). */
static uint64_t next_refill(struct sched_pcpu *p, uint64_t now)
{
    struct pheap_node *n = pheap_min(&RP(p)->wait);
    if (!n)
        return SCHED_NO_EVENT;
    uint64_t t = RV(of_hnode(n))->deadline_ns;
    return t > now ? t : now + 1;
}

static uint64_t rtds_recheck_ns(struct sched_pcpu *p, struct sched_vcpu *cur, uint64_t now)
{
    (void)cur;
    return next_refill(p, now);
}

static uint64_t rtds_idle_recheck_ns(struct sched_pcpu *p, uint64_t now)
{
    return next_refill(p, now);
}

/* With budget: until it runs out or the period ends.  In extratime: a slice, and no further
 * than its next replenishment (then it competes by deadline again). */
static uint64_t rtds_slice_ns(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    update(v, now);
    struct rtds_vcpu *rv = RV(v);
    uint64_t to_end = reserved(v) ? rv->deadline_ns - now : SCHED_NO_EVENT;
    uint64_t want = has_budget(v) ? rv->budget_ns : sched_timeslice(p);
    return want < to_end ? want : to_end;
}

static int64_t rtds_value(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    (void)p, (void)now;
    return (int64_t)RV(v)->budget_ns;
}

static int32_t fixed_current(void *ctx, uint32_t vm, uint32_t k)
{
    return sched_reserve_current(ctx, vm, k);
}

/* Admission: the pool's reservations pack onto its pCPUs (reserve.h); at run time vCPUs
 * current on one of them keep it. */
static int rtds_admit(const struct sched_admit *a)
{
    return sched_reserve_pack(a, a->s ? fixed_current : NULL, NULL, (void *)a);
}

const struct sched_policy sched_policy_rtds = {
    .name = "rtds",
    .init_pcpu = rtds_init_pcpu,
    .init_vcpu = rtds_init_vcpu,
    .wake = rtds_wake,
    .sleep = rtds_sleep,
    .put_prev = rtds_put_prev,
    .pick_next = rtds_pick,
    .tick = rtds_tick,
    .charge = rtds_charge,
    .preempts = rtds_preempts,
    .slice_ns = rtds_slice_ns,
    .recheck_ns = rtds_recheck_ns,
    .idle_recheck_ns = rtds_idle_recheck_ns,
    .admit = rtds_admit,
    .value = rtds_value,
    .partitioned = true,
};
