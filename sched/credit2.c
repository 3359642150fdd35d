/* credit2: Xen's credit2 semantics as reference.
 *
 * Every vCPU has a credit in ns.  Running burns it in inverse proportion to weight:
 * credit -= ran_ns * max_weight / weight, max_weight = the largest weight runnable on the
 * runqueue (so the heaviest burns in real time).  The queued vCPU with the most credit runs
 * next.  When the one picked has no credit left (<= 0), the runqueue is reset: every vCPU of
 * it — queued, running or blocked — gets +CREDIT2_INIT (10 ms), capped at CREDIT2_INIT plus a
 * carry of CREDIT2_CARRY_MAX (500 us): debt is kept, hoarded credit is not.  A vCPU runs until
 * its credit falls to the next one's (converted to real time at its burn rate), at least
 * CREDIT2_MIN_SLICE and at most the time slice; a queued vCPU with more credit than the
 * running one, by CREDIT2_PREEMPT_MARGIN, preempts it (after the rate limit).  Blocked vCPUs keep their credit and are
 * given the resets they missed when they wake (as Xen's reset, which walks every vCPU of the
 * runqueue).
 *
 * What matches Xen: credit burn by max_weight / weight, reset on the head running out (all
 * vCPUs +CREDIT2_INIT, carry capped), pick by most credit, dynamic run time between
 * CSCHED2_MIN_TIMER-like and the slice, rate limit, caps (the core's token bucket, cap.c,
 * standing in for Xen's budget).  What does not: the runqueue is per pCPU (Xen: per socket,
 * core or the whole pool — Xen's runqueue=cpu), so load tracking and balancing between
 * runqueues are the core's (runq.c's decaying load, place.c's idle stealing, wake placement
 * and machine-wide fairness, in place of credit2's balance_load); a vCPU pulled from another
 * runqueue joins with the credit of the running (or best queued) vCPU there, neutral; a
 * preemption margin (below) where Xen tickles for any credit advantage; no soft affinity. */
#include "sched/policy.h"

#define CREDIT2_INIT 10000000ll       /* ns added at a reset (Xen CSCHED2_CREDIT_INIT) */
#define CREDIT2_CARRY_MAX 500000ll    /* credit kept over a reset (Xen CSCHED2_CARRYOVER_MAX) */
#define CREDIT2_MIN_SLICE 500000ull   /* shortest run (Xen CSCHED2_MIN_TIMER) */
/* A queued vCPU preempts the running one when it has this much more credit (half a reset).
 * Without it, 8 identical periodic VMs (4 of every 10 ms) on 4 pCPUs were preempted
 * mid-burst by wakers that had burned less, and the core's idle stealing moved the
 * remainders: 2000-4000 migrations in 10 s for 3 seeds of 6 (2 ms: the same); with it 0. */
#define CREDIT2_PREEMPT_MARGIN 5000000ll

struct credit2_vcpu {
    struct pheap_node hnode;  /* queue, most credit first */
    struct slist member;      /* runnable on this pCPU (queued or current) */
    int64_t credit;
    uint32_t resets_seen;     /* the reset count of pCPU SEEN_CPU when it last had its credit */
    int32_t seen_cpu;
    bool queued;
    bool in;                  /* on the member list */
};

struct credit2_pcpu {
    struct pheap q;
    struct slist members;
    uint32_t resets;
    uint32_t max_weight;      /* of the members, 0 = none */
};

SCHED_POLICY_DATA_FITS(struct credit2_vcpu, struct credit2_pcpu);

#define C2P(p) ((struct credit2_pcpu *)(void *)(p)->pol)
#define C2V(v) ((struct credit2_vcpu *)(void *)(v)->pol)

static struct sched_vcpu *of_hnode(const struct pheap_node *n)
{
    return SCHED_CONTAINER_OF((void *)((char *)n - offsetof(struct credit2_vcpu, hnode)),
                              struct sched_vcpu, pol);
}

static struct sched_vcpu *of_member(const struct slist *n)
{
    return SCHED_CONTAINER_OF((void *)((char *)n - offsetof(struct credit2_vcpu, member)),
                              struct sched_vcpu, pol);
}

static bool more_credit(const struct pheap_node *a, const struct pheap_node *b)
{
    return C2V(of_hnode(a))->credit > C2V(of_hnode(b))->credit;
}

static int64_t add_capped(int64_t credit, int64_t n_resets)
{
    int64_t cap = CREDIT2_INIT + CREDIT2_CARRY_MAX;
    if (n_resets <= 0)
        return credit;
    if (credit >= cap || n_resets * CREDIT2_INIT >= cap - credit)
        return cap;
    return credit + n_resets * CREDIT2_INIT;
}

/* V catches up with the resets of P it missed while away from the member list. */
static void catch_up(struct sched_pcpu *p, struct sched_vcpu *v)
{
    struct credit2_vcpu *cv = C2V(v);
    if (cv->seen_cpu == (int32_t)p->id) /* moved while blocked: the old count means nothing */
        cv->credit = add_capped(cv->credit, (int64_t)(uint32_t)(C2P(p)->resets - cv->resets_seen));
    cv->resets_seen = C2P(p)->resets;
    cv->seen_cpu = (int32_t)p->id;
}

static void recompute_max_weight(struct sched_pcpu *p)
{
    uint32_t m = 0;
    struct slist *pos;
    slist_for_each(pos, &C2P(p)->members)
        if (of_member(pos)->weight > m)
            m = of_member(pos)->weight;
    C2P(p)->max_weight = m;
}

static void join(struct sched_pcpu *p, struct sched_vcpu *v)
{
    struct credit2_vcpu *cv = C2V(v);
    slist_add_tail(&C2P(p)->members, &cv->member);
    cv->in = true;
    if (v->weight > C2P(p)->max_weight)
        C2P(p)->max_weight = v->weight;
}

static void leave(struct sched_pcpu *p, struct sched_vcpu *v)
{
    struct credit2_vcpu *cv = C2V(v);
    if (!cv->in)
        return;
    slist_del(&cv->member);
    cv->in = false;
    if (v->weight >= C2P(p)->max_weight)
        recompute_max_weight(p);
}

static void q_insert(struct sched_pcpu *p, struct sched_vcpu *v)
{
    pheap_insert(&C2P(p)->q, &C2V(v)->hnode, more_credit);
    C2V(v)->queued = true;
}

static void q_unlink(struct sched_pcpu *p, struct sched_vcpu *v)
{
    if (C2V(v)->queued)
        pheap_remove(&C2P(p)->q, &C2V(v)->hnode, more_credit);
    C2V(v)->queued = false;
}

/* Every member gets +CREDIT2_INIT (capped): the order of the queue does not change (the
 * capped ones were the best).  Blocked vCPUs get theirs when they wake (resets_seen). */
static void reset(struct sched_pcpu *p)
{
    struct credit2_pcpu *cp = C2P(p);
    cp->resets++;
    struct slist *pos;
    slist_for_each(pos, &cp->members)
        catch_up(p, of_member(pos));
}

static void credit2_init_pcpu(struct sched_pcpu *p, uint64_t now)
{
    (void)now;
    pheap_init(&C2P(p)->q);
    slist_init(&C2P(p)->members);
    C2P(p)->resets = 0;
    C2P(p)->max_weight = 0;
}

static void credit2_init_vcpu(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    (void)now;
    struct credit2_vcpu *cv = C2V(v);
    slist_init(&cv->member);
    cv->credit = CREDIT2_INIT;
    cv->resets_seen = C2P(p)->resets;
    cv->seen_cpu = (int32_t)p->id;
    cv->queued = cv->in = false;
}

/* A neutral credit on P for a vCPU pulled from another runqueue: the running vCPU's, else
 * the best queued one's, else a fresh one. */
static int64_t neutral_credit(struct sched_pcpu *p)
{
    if (p->curr && C2V(p->curr)->in)
        return C2V(p->curr)->credit;
    struct pheap_node *n = pheap_min(&C2P(p)->q);
    return n ? C2V(of_hnode(n))->credit : CREDIT2_INIT;
}

static void credit2_wake(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now,
                         enum sched_join why)
{
    (void)now;
    if (why == SCHED_JOIN_MIGRATE) {
        C2V(v)->credit = neutral_credit(p);
        C2V(v)->resets_seen = C2P(p)->resets;
        C2V(v)->seen_cpu = (int32_t)p->id;
    } else {
        catch_up(p, v);
    }
    join(p, v);
    if (why != SCHED_JOIN_CURRENT)
        q_insert(p, v);
}

static void credit2_sleep(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    (void)now;
    q_unlink(p, v);
    leave(p, v);
    C2V(v)->resets_seen = C2P(p)->resets;
    C2V(v)->seen_cpu = (int32_t)p->id;
}

static void credit2_put_prev(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now,
                             bool yielded)
{
    (void)now, (void)yielded; /* a yield goes back by credit, like any slice end */
    q_insert(p, v);
}

static struct sched_vcpu *credit2_pick(struct sched_pcpu *p, uint64_t now)
{
    (void)now;
    struct pheap_node *n = pheap_min(&C2P(p)->q);
    if (!n)
        return NULL;
    if (C2V(of_hnode(n))->credit <= 0)
        reset(p); /* the head ran out: everyone gets a new round */
    struct sched_vcpu *v = of_hnode(pheap_min(&C2P(p)->q));
    q_unlink(p, v);
    return v;
}

static void credit2_tick(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t ran, uint64_t now)
{
    (void)now;
    uint64_t maxw = C2P(p)->max_weight > v->weight ? C2P(p)->max_weight : v->weight;
    /* ran x maxw / weight, saturated (64-bit only: no 128-bit division in the VMM) */
    uint64_t burn = ran > (1ull << 46) ? (1ull << 62) : ran * maxw / v->weight;
    int64_t floor = -(int64_t)(1ull << 62);
    C2V(v)->credit = C2V(v)->credit < floor + (int64_t)burn ? floor : C2V(v)->credit - (int64_t)burn;
}

static enum sched_preempt credit2_preempts(struct sched_pcpu *p, struct sched_vcpu *cur,
                                           uint64_t now)
{
    (void)now;
    struct pheap_node *n = pheap_min(&C2P(p)->q);
    return n && C2V(of_hnode(n))->credit > C2V(cur)->credit + CREDIT2_PREEMPT_MARGIN
               ? SCHED_PREEMPT : SCHED_KEEP;
}

/* Real time for CUR (burning at max_weight / weight) to lose DIFF ns of credit. */
static uint64_t burn_time(struct sched_pcpu *p, struct sched_vcpu *cur, int64_t diff)
{
    if (diff <= 0)
        return 0;
    uint64_t maxw = C2P(p)->max_weight > cur->weight ? C2P(p)->max_weight : cur->weight;
    uint64_t d = (uint64_t)diff;
    return d / maxw * cur->weight + d % maxw * cur->weight / maxw;
}

/* The running vCPU falls below the best queued one by the margin: it is preempted then. */
static uint64_t credit2_recheck_ns(struct sched_pcpu *p, struct sched_vcpu *cur, uint64_t now)
{
    struct pheap_node *n = pheap_min(&C2P(p)->q);
    int64_t diff = n ? C2V(cur)->credit + CREDIT2_PREEMPT_MARGIN - C2V(of_hnode(n))->credit : -1;
    if (diff < 0) /* none queued, or already behind: preempts said so (a rate limit defers) */
        return SCHED_NO_EVENT;
    return now + burn_time(p, cur, diff) + 1;
}

static uint64_t credit2_slice_ns(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    (void)now;
    uint64_t max = sched_timeslice(p), min = CREDIT2_MIN_SLICE < max ? CREDIT2_MIN_SLICE : max;
    struct pheap_node *n = pheap_min(&C2P(p)->q);
    if (!n)
        return max;
    uint64_t t = burn_time(p, v, C2V(v)->credit - C2V(of_hnode(n))->credit);
    return t < min ? min : t > max ? max : t;
}

static int64_t credit2_value(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    (void)now;
    int64_t missed = C2V(v)->in || C2V(v)->seen_cpu != (int32_t)p->id
                         ? 0 : (int64_t)(uint32_t)(C2P(p)->resets - C2V(v)->resets_seen);
    return add_capped(C2V(v)->credit, missed);
}

const struct sched_policy sched_policy_credit2 = {
    .name = "credit2",
    .init_pcpu = credit2_init_pcpu,
    .init_vcpu = credit2_init_vcpu,
    .wake = credit2_wake,
    .sleep = credit2_sleep,
    .put_prev = credit2_put_prev,
    .pick_next = credit2_pick,
    .tick = credit2_tick,
    .preempts = credit2_preempts,
    .slice_ns = credit2_slice_ns,
    .recheck_ns = credit2_recheck_ns,
    .value = credit2_value,
};
