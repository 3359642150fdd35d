/* Placement: initial spread, idle stealing, wake-up placement and periodic load balancing.
 *
 * Load (runq.c) is an exponentially decaying average of "runnable" with a 32 ms half-life,
 * kept per vCPU and per pCPU (1024 = one always-runnable vCPU).  Because the filter is linear,
 * a pCPU's average equals the sum of its vCPUs' averages, so moving a vCPU moves exactly its
 * own load. */
#include "sched/place.h"

/* Home pCPUs for the members of strict-gang VM: distinct, within its affinity, preferring
 * pCPUs with fewer homes of other gangs (fewer rendezvous conflicts), then fewer vCPUs.
 * HOME[k] >= 0 on entry is kept (counted already); the others are chosen here.  COUNT and
 * PINNED (vCPUs and homes per pCPU) are updated.  Used at setup and by a run-time switch. */
void sched_place_gang(const struct sched *s, const struct sched_vm *vm, int32_t *home,
                      uint32_t *count, uint32_t *pinned)
{
    sched_cpumask_t used = cpumask_none();
    for (uint32_t k = 0; k < vm->nvcpus; k++)
        if (home[k] >= 0)
            cpumask_set(&used, (unsigned)home[k]);
    for (uint32_t k = 0; k < vm->nvcpus; k++) {
        if (home[k] >= 0)
            continue;
        int best = -1;
        for (uint32_t c = 0; c < s->npcpus; c++) {
            if (!cpumask_test(&vm->affinity, c) || cpumask_test(&used, c))
                continue;
            if (best < 0 || pinned[c] < pinned[best] ||
                (pinned[c] == pinned[best] && count[c] < count[best]))
                best = (int)c;
        }
        home[k] = best;
        cpumask_set(&used, (unsigned)best);
        pinned[best]++;
        count[best]++;
    }
}

void sched_place_initial(struct sched *s)
{
    uint32_t count[SCHED_MAX_PCPUS] = { 0 }, pinned[SCHED_MAX_PCPUS] = { 0 };
    int32_t home[SCHED_MAX_PCPUS];
    /* Strict gangs first, each member on its own pCPU. */
    for (uint32_t i = 0; i < s->nvms; i++) {
        struct sched_vm *vm = &s->vms[i];
        if (vm->gang != SCHED_GANG_STRICT)
            continue;
        for (uint32_t k = 0; k < vm->nvcpus; k++)
            home[k] = -1;
        sched_place_gang(s, vm, home, count, pinned);
        for (uint32_t k = 0; k < vm->nvcpus; k++) {
            struct sched_vcpu *v = &vm->vcpus[k];
            v->cpu = v->home = home[k];
            v->affinity = cpumask_of((unsigned)home[k]);
        }
    }
    for (uint32_t i = 0; i < s->nvcpus; i++) {
        struct sched_vcpu *v = &s->vcpus[i];
        if (v->home >= 0)
            continue;
        if (v->cpu < 0) {
            int best = -1;
            for (uint32_t c = 0; c < s->npcpus; c++)
                if (cpumask_test(&v->affinity, c) && (best < 0 || count[c] < count[best]))
                    best = (int)c;
            v->cpu = best;
        }
        count[v->cpu]++;
    }
}

bool sched_kick_idle_for(struct sched *s, struct sched_vcpu *v, unsigned self, sched_cpumask_t *kick)
{
    if (v->home >= 0)
        return false;
    sched_cpumask_t m = cpumask_atomic_load(&s->idle_mask);
    cpumask_and(&m, &v->affinity);
    cpumask_clear(&m, self);
    cpumask_for_each(c, &m) {
        if (__atomic_load_n(&s->pcpus[c].forced, __ATOMIC_RELAXED))
            continue; /* about to run a gang member: it will not steal */
        if (cpumask_atomic_test_and_clear(&s->idle_mask, (unsigned)c)) {
            __atomic_store_n(&s->pcpus[c].steal_hint, v, __ATOMIC_SEQ_CST);
            cpumask_set(kick, (unsigned)c);
            return true;
        }
    }
    return false;
}

/* Moves V, assigned to FROM but neither current nor queued there (blocked, or on the held
 * list), to TO; both runqueue locks held.  Its load moves with it. */
void sched_move_vcpu(struct sched *s, struct sched_pcpu *from, struct sched_pcpu *to,
                     struct sched_vcpu *v, uint64_t now)
{
    (void)s;
    bool in = v->gps_in;
    if (in)
        sched_runnable_leave(from, v, now);
    else
        sched_vcpu_load_update(v, now);
    sched_pcpu_load_update(from, now);
    sched_pcpu_load_update(to, now);
    if (v->hold != HOLD_NONE) {
        slist_del(&v->qnode);
        slist_add_tail(&to->held, &v->qnode);
    }
    uint64_t l = sched_vcpu_weighted_load(v);
    __atomic_store_n(&from->load, from->load > l ? from->load - l : 0, __ATOMIC_RELAXED);
    __atomic_store_n(&v->cpu, (int32_t)to->id, __ATOMIC_SEQ_CST);
    __atomic_store_n(&to->load, to->load + l, __ATOMIC_RELAXED);
    sched_gps_settle(v);
    if (in)
        sched_runnable_join(to, v, now);
    v->acct.migrations++;
    trace_ev(s, to->id, SCHED_TR_MIGRATE, v, from->id, now);
}

struct sched_pcpu *sched_least_loaded(struct sched *s, const sched_cpumask_t *mask)
{
    int best = -1;
    cpumask_for_each(c, mask)
        if (best < 0 || __atomic_load_n(&s->pcpus[c].load, __ATOMIC_RELAXED) <
                            __atomic_load_n(&s->pcpus[best].load, __ATOMIC_RELAXED))
            best = (int)c;
    return &s->pcpus[best];
}

/* V (runnable, off every list, on TO, locked) joins TO's policy: afresh after a pool move. */
static void join_moved(struct sched *s, struct sched_pcpu *to, struct sched_vcpu *v, uint64_t now)
{
    enum sched_join why = v->move_fresh ? SCHED_JOIN_MOVE : SCHED_JOIN_MIGRATE;
    if (v->move_fresh)
        to->pool->policy->init_vcpu(to, v, now);
    v->move_fresh = false;
    sched_enqueue(s, to, v, now, why);
}

void sched_move_held_out(struct sched *s, struct sched_pcpu *p, uint64_t now, sched_cpumask_t *kick)
{
    for (unsigned n = 0; n < s->nvcpus; n++) { /* each pass moves one: a bound, not a loop */
        struct sched_vcpu *v = NULL;
        struct slist *pos;
        slist_for_each(pos, &p->held) {
            struct sched_vcpu *h = SCHED_CONTAINER_OF(pos, struct sched_vcpu, qnode);
            if (h->hold == HOLD_MOVE) {
                v = h;
                break;
            }
        }
        if (!v)
            return;
        struct sched_pcpu *to = sched_least_loaded(s, &v->affinity);
        if (to != p) {
            rq_unlock(s, p->id);
            sched_rq_lock_two(s, p->id, to->id);
        }
        /* Re-check: it may have blocked (and been woken elsewhere) while no lock was held. */
        if (v->cpu == (int32_t)p->id && v->hold == HOLD_MOVE) {
            sched_unhold(p, v, now);
            if (to != p)
                sched_move_vcpu(s, p, to, v, now);
            join_moved(s, to, v, now);
            cpumask_set(kick, to->id);
        }
        if (to != p)
            rq_unlock(s, to->id);
    }
}

/* Both runqueue locks held; V is queued on FROM. */
static void migrate_queued(struct sched *s, struct sched_pcpu *from, struct sched_pcpu *to,
                           struct sched_vcpu *v, uint64_t now)
{
    sched_dequeue(s, from, v, now);
    sched_move_vcpu(s, from, to, v, now);
    sched_enqueue(s, to, v, now, SCHED_JOIN_MIGRATE);
}

static struct sched_vcpu *find_stealable(struct sched_pcpu *src, unsigned cpu,
                                         struct sched_vcpu *hint)
{
    if (hint && __atomic_load_n(&hint->cpu, __ATOMIC_SEQ_CST) == (int32_t)src->id &&
        hint->queued && hint->home < 0 && cpumask_test(&hint->affinity, cpu))
        return hint;
    struct slist *pos;
    slist_for_each(pos, &src->ready) {
        struct sched_vcpu *v = SCHED_CONTAINER_OF(pos, struct sched_vcpu, qnode);
        if (v->home < 0 && cpumask_test(&v->affinity, cpu))
            return v;
    }
    return NULL;
}

/* P (locked, nothing to run) takes a queued vCPU from another pCPU: the claimed hint first,
 * then the other pCPUs in order after P.  Returns true when P has something queued.  What was
 * queued on P when it began does not count as found (the policy had nothing it may run now:
 * rtds's vCPUs out of budget), only what came meanwhile. */
bool sched_steal(struct sched *s, struct sched_pcpu *p, uint64_t now)
{
    uint32_t queued_before = p->nr_ready;
    struct sched_vcpu *hint = __atomic_exchange_n(&p->steal_hint, NULL, __ATOMIC_SEQ_CST);
    sched_cpumask_t cand = cpumask_atomic_load(&s->ready_mask);
    cpumask_and(&cand, &p->pool->cpus); /* its pool's vCPUs only may run here */
    cpumask_clear(&cand, p->id);
    int first = hint ? __atomic_load_n(&hint->cpu, __ATOMIC_SEQ_CST) : -1;
    /* i == 0: the hint's pCPU; then every pCPU after P in order (i == npcpus is P itself). */
    for (unsigned i = 0; i <= s->npcpus && cpumask_any(&cand); i++) {
        if (i == 0 && first < 0)
            continue;
        unsigned q = i == 0 ? (unsigned)first : (p->id + i) % s->npcpus;
        if (!cpumask_test(&cand, q))
            continue;
        cpumask_clear(&cand, q);
        rq_unlock(s, p->id);
        sched_rq_lock_two(s, p->id, q);
        struct sched_vcpu *v = find_stealable(&s->pcpus[q], p->id, hint);
        if (v)
            migrate_queued(s, &s->pcpus[q], p, v, now);
        rq_unlock(s, q);
        if (v || p->nr_ready > queued_before)
            return true;
    }
    return p->nr_ready != 0;
}

/* ---- machine-wide fairness ------------------------------------------------------------------
 *
 * Each pCPU shares itself fairly among its runnable vCPUs; machine-wide fairness is about who
 * shares with whom.  Three equal hogs on two pCPUs have no fair placement: the one alone gets
 * 100 %, the others 50 %.  So the balancer compares what the vCPUs have received: each vCPU's
 * GPS service (runq.h) is the service per unit weight that fluid sharing gave it on the pCPUs
 * where it was runnable — smooth (no time-slice granularity), comparable across pCPUs and
 * weights.  Only vCPUs that are runnable nearly all the time take part (a vCPU that blocks
 * gets what it asks for; what it would get does not matter).
 *
 * At its balancing tick a busy pCPU P pulls a queued vCPU M from another pCPU Q when the
 * always-runnable vCPUs left on Q are behind P's by more than FAIR_SLACK: they then share Q
 * with less, P's share P with more — the service moves to those behind.  Q is the pCPU whose
 * always-runnable vCPUs were the furthest behind at its own last tick (gps_floor, published).
 * This is Xen credit1's rule in other terms (a pCPU whose best is OVER steals an UNDER vCPU
 * from a peer), and it also spreads an unbalanced start (all on one pCPU).  A machine whose
 * placement is fair (4 hogs on 2 pCPUs) never migrates: nobody falls behind.  The price for
 * an unfair-by-placement machine is a migration every time the gap reaches the slack
 * (docs/sched.md gives the rates). */

#define FAIR_SLACK_NS 5000000ull   /* at the default weight */
#define GPS_NONE UINT64_MAX        /* gps_floor of a pCPU without always-runnable vCPUs */

static uint64_t fair_slack_vt(void)
{
    return vt_from_ns(FAIR_SLACK_NS, SCHED_WEIGHT_DEFAULT);
}

/* A waking vCPU that is not always runnable itself (it blocks) but wakes on a pCPU whose
 * always-runnable vCPUs stay behind another allowed pCPU's goes there: it takes its share
 * from those ahead.  One that runs less than 1/16 of the time is left where it is: its share
 * is too small for a move to matter.  (The balancer moves only queued vCPUs; these are mostly
 * blocked.)  Returns that pCPU, or -1.  Identical periodic VMs are never moved by it: none of
 * them is always runnable, so no pCPU has a floor. */
static int fairer_pcpu(struct sched *s, struct sched_pcpu *p, struct sched_vcpu *v)
{
    uint64_t here = __atomic_load_n(&p->gps_floor_vt, __ATOMIC_RELAXED), best = GPS_NONE;
    if (here == GPS_NONE || v->load >= LOAD_ONE * 7 / 8 || v->load < LOAD_ONE / 16)
        return -1; /* always runnable (the balancer's), or too light for a move to matter */
    int c = -1;
    sched_cpumask_t allowed = v->affinity;
    cpumask_clear(&allowed, p->id);
    cpumask_for_each(i, &allowed) {
        uint64_t f = __atomic_load_n(&s->pcpus[i].gps_floor_vt, __ATOMIC_RELAXED);
        if (f != GPS_NONE && (best == GPS_NONE || vt_before(best, f))) {
            best = f;
            c = i;
        }
    }
    /* Behind by more than a rotation leaves (the slack and one slice): only a pCPU that
     * stays behind (debt is forgiven beyond slack + slice + balance period) sends wakers
     * away; moving a vCPU that wakes often is not free (in the VMM under VT-x its VMCS moves
     * with it), and following every rotation moved a 1 ms timer VM 14 times a second. */
    uint64_t gap = vt_from_ns(FAIR_SLACK_NS + p->pool->params.timeslice_ns, SCHED_WEIGHT_DEFAULT);
    return c >= 0 && vt_before(here + gap, best) ? c : -1;
}

/* Wake-up placement: a vCPU wakes where it last ran, unless that pCPU is busy and another
 * pCPU it may use is idle right now — then it goes there and runs at once (the idle pCPU
 * would steal it anyway, work conservation).  Load does not move a waking vCPU: moves made
 * for an instantaneous load imbalance are undone by the next one (identical periodic VMs made
 * the balancer migrate hundreds of times a second).  A vCPU that found its pCPU busy and
 * moved to an idle one wakes there next time, where it found room: placement converges.
 * P (V's pCPU) is locked; returns V's pCPU, locked. */
struct sched_pcpu *sched_place_waking(struct sched *s, struct sched_pcpu *p, struct sched_vcpu *v,
                                      uint64_t now)
{
    if (v->home >= 0 || p->curr == v || s->npcpus == 1)
        return p;
    if (!cpumask_test(&v->affinity, p->id)) { /* a pool move left it here while blocked */
        struct sched_pcpu *to = sched_least_loaded(s, &v->affinity);
        rq_unlock(s, p->id);
        sched_rq_lock_two(s, p->id, to->id);
        if (__atomic_load_n(&v->cpu, __ATOMIC_SEQ_CST) == (int32_t)p->id &&
            v->state == SCHED_BLOCKED && p->curr != v)
            sched_move_vcpu(s, p, to, v, now);
        rq_unlock(s, p->id);
        rq_unlock(s, to->id);
        return sched_lock_vcpu_rq(s, v);
    }
    bool busy = (p->curr && p->curr->state == SCHED_RUNNING) || p->nr_ready || p->forced;
    sched_cpumask_t idle = cpumask_atomic_load(&s->idle_mask);
    cpumask_and(&idle, &v->affinity);
    cpumask_clear(&idle, p->id);
    bool any_idle = cpumask_any(&idle);
    int c = -1;
    if (busy && any_idle) {
        /* The first idle pCPU after P (spreads wakers of different pCPUs). */
        c = cpumask_next(&idle, (int)p->id);
        if (c < 0)
            c = cpumask_first(&idle);
    } else if (busy) {
        c = fairer_pcpu(s, p, v);
    }
    if (c < 0)
        return p;
    struct sched_pcpu *to = &s->pcpus[c];
    rq_unlock(s, p->id);
    sched_rq_lock_two(s, p->id, to->id);
    /* Re-check: another wake-up may have handled V while no lock was held. */
    if (__atomic_load_n(&v->cpu, __ATOMIC_SEQ_CST) == (int32_t)p->id &&
        v->state == SCHED_BLOCKED && p->curr != v &&
        (any_idle ? !to->curr && !to->forced && !to->nr_ready : fairer_pcpu(s, p, v) == c))
        sched_move_vcpu(s, p, to, v, now);
    rq_unlock(s, p->id);
    rq_unlock(s, to->id);
    return sched_lock_vcpu_rq(s, v); /* wherever V is now */
}

/* V's GPS service, if V is always runnable (else GPS_NONE), with debt behind TOP (the most
 * advanced floor of the machine) beyond what a rotation can leave (the slack, one slice, one
 * balancing period) forgiven: fairness holds over windows (a second, say); it does not repay
 * an unbalanced start or a long stay on a crowded pCPU for ever — that would keep migrating
 * vCPUs long after the placement became fair. */
static uint64_t member_service(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t top,
                               uint64_t now)
{
    if (!sched_always_runnable(v, now)) /* its load as of its last change is enough here */
        return GPS_NONE;
    const struct sched_params *par = &p->pool->params;
    uint64_t debt = FAIR_SLACK_NS + par->timeslice_ns + par->balance_ns;
    uint64_t n = sched_gps_service(p, v, now), limit = vt_from_ns(debt, SCHED_WEIGHT_DEFAULT);
    if (top != GPS_NONE && vt_before(n, top - limit)) {
        v->gps_acc_vt += top - limit - n;
        n = top - limit;
    }
    return n;
}

/* The two smallest GPS services among P's always-runnable vCPUs (current and up to
 * FAIR_SCAN_MAX queued), and the vCPU with the smallest; GPS_NONE where there are none. */
#define FAIR_SCAN_MAX 16
struct gps_mins {
    uint64_t min1, min2;
    const struct sched_vcpu *owner;
};

static void gps_note(struct gps_mins *g, const struct sched_vcpu *v, uint64_t sv)
{
    if (sv == GPS_NONE)
        return;
    if (g->min1 == GPS_NONE || vt_before(sv, g->min1)) {
        g->min2 = g->min1;
        g->min1 = sv;
        g->owner = v;
    } else if (g->min2 == GPS_NONE || vt_before(sv, g->min2)) {
        g->min2 = sv;
    }
}

static struct gps_mins gps_scan(struct sched_pcpu *p, uint64_t top, uint64_t now)
{
    struct gps_mins g = { GPS_NONE, GPS_NONE, NULL };
    struct sched_vcpu *c = p->curr;
    if (c && c->state == SCHED_RUNNING)
        gps_note(&g, c, member_service(p, c, top, now));
    unsigned n = 0;
    struct slist *pos;
    slist_for_each(pos, &p->ready) {
        struct sched_vcpu *v = SCHED_CONTAINER_OF(pos, struct sched_vcpu, qnode);
        if (n++ == FAIR_SCAN_MAX)
            break;
        gps_note(&g, v, member_service(p, v, top, now));
    }
    return g;
}

static void publish_floor(struct sched_pcpu *p, uint64_t floor)
{
    __atomic_store_n(&p->gps_floor_vt, floor, __ATOMIC_RELAXED);
}

void sched_gps_clamp_waking(struct sched_pcpu *p, struct sched_vcpu *v)
{
    uint64_t floor = __atomic_load_n(&p->gps_floor_vt, __ATOMIC_RELAXED);
    if (floor != GPS_NONE && vt_before(v->gps_acc_vt, floor - fair_slack_vt()))
        v->gps_acc_vt = floor - fair_slack_vt(); /* no banking service while blocked */
}

/* Busy P (locked) pulls a queued vCPU from the pCPU whose always-runnable vCPUs are the
 * furthest behind, when that helps them (above).  A machine whose vCPUs keep up never
 * migrates here. */
void sched_balance(struct sched *s, struct sched_pcpu *p, uint64_t now)
{
    p->next_balance_ns = now + p->pool->params.balance_ns;
    if (s->npcpus == 1)
        return;
    /* The furthest-behind pCPU with queued vCPUs, and the most advanced floor (TOP). */
    sched_cpumask_t ready = cpumask_atomic_load(&s->ready_mask);
    cpumask_clear(&ready, p->id);
    uint64_t slack = fair_slack_vt(), lowest = GPS_NONE, top = GPS_NONE;
    int src_id = -1;
    cpumask_for_each(c, &p->pool->cpus) { /* fairness within the pool */
        uint64_t f = __atomic_load_n(&s->pcpus[c].gps_floor_vt, __ATOMIC_RELAXED);
        if (f == GPS_NONE)
            continue;
        if (top == GPS_NONE || vt_before(top, f))
            top = f;
        if (cpumask_test(&ready, c) && (lowest == GPS_NONE || vt_before(f, lowest))) {
            lowest = f;
            src_id = (int)c;
        }
    }
    uint64_t mine = gps_scan(p, top, now).min1;
    publish_floor(p, mine);
    if (src_id < 0 || (mine != GPS_NONE && !vt_before(lowest + slack, mine)))
        return;
    struct sched_pcpu *src = &s->pcpus[src_id];
    rq_unlock(s, p->id);
    sched_rq_lock_two(s, p->id, src->id);
    mine = gps_scan(p, top, now).min1;
    struct gps_mins there = gps_scan(src, top, now);
    publish_floor(src, there.min1);
    struct sched_vcpu *best = NULL;
    uint64_t best_left = 0;
    unsigned n = 0;
    struct slist *pos;
    slist_for_each(pos, &src->ready) {
        struct sched_vcpu *v = SCHED_CONTAINER_OF(pos, struct sched_vcpu, qnode);
        if (n++ == FAIR_SCAN_MAX)
            break;
        if (v->home >= 0 || !cpumask_test(&v->affinity, p->id) || !sched_always_runnable(v, now))
            continue; /* one that blocks moves when it wakes (fairer_pcpu), if at all */
        /* Those who stay and gain: the smallest service on SRC without V. */
        uint64_t left = v == there.owner ? there.min2 : there.min1;
        if (left == GPS_NONE || (mine != GPS_NONE && !vt_before(left + slack, mine)))
            continue;
        if (!best || vt_before(left, best_left)) { /* the move that helps the furthest behind */
            best = v;
            best_left = left;
        }
    }
    /* Mid-slice, the vCPU pulled would wait for the running one's slice: pull it when that
     * ends instead (the decision at the slice end balances again), so that it runs at once
     * and the service moved is not cut into slice-sized steps. */
    struct sched_vcpu *cur = p->curr;
    bool mid_slice = cur && cur->state == SCHED_RUNNING && now < p->slice_end_ns &&
                     p->slice_end_ns - now <= p->pool->params.timeslice_ns;
    /* A move that evens out the runnable weight (a crowded pCPU's vCPU to a less crowded one:
     * an unbalanced start) helps at once; one that only rotates who shares waits. */
    bool evens = best && p->run_weight + 2 * (uint64_t)best->weight <= src->run_weight;
    if (best && mid_slice && !evens && !p->balance_deferred) {
        p->next_balance_ns = p->slice_end_ns; /* once: the slice may end early (preempted) */
        p->balance_deferred = true;
    } else {
        if (best)
            migrate_queued(s, src, p, best, now);
        p->balance_deferred = false;
    }
    rq_unlock(s, src->id);
}
