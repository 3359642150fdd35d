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
    sched_cpumask_t used = 0;
    for (uint32_t k = 0; k < vm->nvcpus; k++)
        if (home[k] >= 0)
            used |= CPU_BIT(home[k]);
    for (uint32_t k = 0; k < vm->nvcpus; k++) {
        if (home[k] >= 0)
            continue;
        int best = -1;
        for (uint32_t c = 0; c < s->npcpus; c++) {
            if (!(vm->affinity & CPU_BIT(c)) || (used & CPU_BIT(c)))
                continue;
            if (best < 0 || pinned[c] < pinned[best] ||
                (pinned[c] == pinned[best] && count[c] < count[best]))
                best = (int)c;
        }
        home[k] = best;
        used |= CPU_BIT(best);
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
            v->affinity = CPU_BIT(home[k]);
        }
    }
    for (uint32_t i = 0; i < s->nvcpus; i++) {
        struct sched_vcpu *v = &s->vcpus[i];
        if (v->home >= 0)
            continue;
        if (v->cpu < 0) {
            int best = -1;
            for (uint32_t c = 0; c < s->npcpus; c++)
                if ((v->affinity & CPU_BIT(c)) && (best < 0 || count[c] < count[best]))
                    best = (int)c;
            v->cpu = best;
        }
        count[v->cpu]++;
    }
}

sched_cpumask_t sched_kick_idle_for(struct sched *s, struct sched_vcpu *v, unsigned self)
{
    if (v->home >= 0)
        return 0;
    sched_cpumask_t m = __atomic_load_n(&s->idle_mask, __ATOMIC_SEQ_CST) & v->affinity & ~CPU_BIT(self);
    for (; m; m &= m - 1) {
        unsigned c = (unsigned)__builtin_ctzll(m);
        if (__atomic_load_n(&s->pcpus[c].forced, __ATOMIC_RELAXED))
            continue; /* about to run a gang member: it will not steal */
        if (__atomic_fetch_and(&s->idle_mask, ~CPU_BIT(c), __ATOMIC_SEQ_CST) & CPU_BIT(c)) {
            __atomic_store_n(&s->pcpus[c].steal_hint, v, __ATOMIC_SEQ_CST);
            return CPU_BIT(c);
        }
    }
    return 0;
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
    if (in)
        sched_runnable_join(to, v, now);
    v->acct.migrations++;
}

/* Both runqueue locks held; V is queued on FROM. */
static void migrate_queued(struct sched *s, struct sched_pcpu *from, struct sched_pcpu *to,
                           struct sched_vcpu *v, uint64_t now)
{
    sched_dequeue(s, from, v, now);
    sched_move_vcpu(s, from, to, v, now);
    sched_enqueue(s, to, v, now, SCHED_JOIN_MOVE);
}

static struct sched_vcpu *find_stealable(struct sched_pcpu *src, unsigned cpu,
                                         struct sched_vcpu *hint)
{
    if (hint && __atomic_load_n(&hint->cpu, __ATOMIC_SEQ_CST) == (int32_t)src->id &&
        hint->queued && hint->home < 0 && (hint->affinity & CPU_BIT(cpu)))
        return hint;
    struct slist *pos;
    slist_for_each(pos, &src->ready) {
        struct sched_vcpu *v = SCHED_CONTAINER_OF(pos, struct sched_vcpu, qnode);
        if (v->home < 0 && (v->affinity & CPU_BIT(cpu)))
            return v;
    }
    return NULL;
}

/* P (locked, nothing to run) takes a queued vCPU from another pCPU: the claimed hint first,
 * then the other pCPUs in order after P.  Returns true when P has something queued. */
bool sched_steal(struct sched *s, struct sched_pcpu *p, uint64_t now)
{
    struct sched_vcpu *hint = __atomic_exchange_n(&p->steal_hint, NULL, __ATOMIC_SEQ_CST);
    sched_cpumask_t cand = __atomic_load_n(&s->ready_mask, __ATOMIC_SEQ_CST) & ~CPU_BIT(p->id);
    int first = hint ? __atomic_load_n(&hint->cpu, __ATOMIC_SEQ_CST) : -1;
    /* i == 0: the hint's pCPU; then every pCPU after P in order (i == npcpus is P itself). */
    for (unsigned i = 0; i <= s->npcpus && cand; i++) {
        if (i == 0 && first < 0)
            continue;
        unsigned q = i == 0 ? (unsigned)first : (p->id + i) % s->npcpus;
        if (!(cand & CPU_BIT(q)))
            continue;
        cand &= ~CPU_BIT(q);
        rq_unlock(s, p->id);
        sched_rq_lock_two(s, p->id, q);
        struct sched_vcpu *v = find_stealable(&s->pcpus[q], p->id, hint);
        if (v)
            migrate_queued(s, &s->pcpus[q], p, v, now);
        rq_unlock(s, q);
        if (v || p->nr_ready)
            return true;
    }
    return p->nr_ready != 0;
}

/* How much moving a vCPU of load L from a pCPU of load FROM to one of load TO lowers their
 * difference (0 if it does not). */
static uint64_t move_gain(uint64_t from, uint64_t to, uint64_t l)
{
    if (from <= to || l >= from - to)
        return 0;
    uint64_t diff = from - to, after = diff > 2 * l ? diff - 2 * l : 2 * l - diff;
    return diff - after;
}

/* Wake-up placement: blocked vCPUs are not on any queue, so the balancer never sees vCPUs that
 * are mostly blocked; they move when they wake instead, to the least loaded allowed pCPU if
 * that cuts the imbalance by BALANCE_MARGIN.  P (V's pCPU) is locked; returns V's pCPU, locked. */
struct sched_pcpu *sched_place_waking(struct sched *s, struct sched_pcpu *p, struct sched_vcpu *v,
                                      uint64_t now)
{
    if (v->home >= 0 || p->curr == v || s->npcpus == 1)
        return p;
    int best = -1;
    uint64_t best_load = UINT64_MAX;
    for (sched_cpumask_t m = v->affinity & ~CPU_BIT(p->id); m; m &= m - 1) {
        unsigned c = (unsigned)__builtin_ctzll(m);
        uint64_t l = __atomic_load_n(&s->pcpus[c].load, __ATOMIC_RELAXED);
        if (l < best_load) {
            best_load = l;
            best = (int)c;
        }
    }
    sched_pcpu_load_update(p, now);
    sched_vcpu_load_update(v, now);
    if (best < 0 || move_gain(p->load, best_load, v->load) < BALANCE_MARGIN)
        return p;
    struct sched_pcpu *to = &s->pcpus[best];
    rq_unlock(s, p->id);
    sched_rq_lock_two(s, p->id, to->id);
    /* Re-check: another wake-up may have handled V while no lock was held. */
    sched_pcpu_load_update(to, now);
    if (__atomic_load_n(&v->cpu, __ATOMIC_SEQ_CST) == (int32_t)p->id &&
        v->state == SCHED_BLOCKED && p->curr != v &&
        v->home < 0 && move_gain(p->load, to->load, v->load) >= BALANCE_MARGIN)
        sched_move_vcpu(s, p, to, v, now);
    rq_unlock(s, p->id);
    rq_unlock(s, to->id);
    return sched_lock_vcpu_rq(s, v); /* wherever V is now */
}

/* Busy P (locked) pulls one queued vCPU from the busiest pCPU when that lowers their load
 * difference by at least BALANCE_MARGIN; a balanced machine therefore never migrates. */
void sched_balance(struct sched *s, struct sched_pcpu *p, uint64_t now)
{
    p->next_balance_ns = now + s->params.balance_ns;
    sched_pcpu_load_update(p, now);
    sched_cpumask_t cand = __atomic_load_n(&s->ready_mask, __ATOMIC_SEQ_CST) & ~CPU_BIT(p->id);
    uint64_t busiest = 0;
    int src_id = -1;
    for (; cand; cand &= cand - 1) {
        unsigned c = (unsigned)__builtin_ctzll(cand);
        uint64_t l = __atomic_load_n(&s->pcpus[c].load, __ATOMIC_RELAXED);
        if (l > busiest) {
            busiest = l;
            src_id = (int)c;
        }
    }
    if (src_id < 0 || busiest <= p->load + BALANCE_MARGIN)
        return;
    struct sched_pcpu *src = &s->pcpus[src_id];
    rq_unlock(s, p->id);
    sched_rq_lock_two(s, p->id, src->id);
    sched_pcpu_load_update(src, now);
    sched_pcpu_load_update(p, now);
    if (src->load > p->load + BALANCE_MARGIN) {
        uint64_t best_gain = BALANCE_MARGIN - 1;
        struct sched_vcpu *best = NULL;
        unsigned n = 0;
        struct slist *pos;
        slist_for_each(pos, &src->ready) {
            struct sched_vcpu *v = SCHED_CONTAINER_OF(pos, struct sched_vcpu, qnode);
            if (n++ == BALANCE_SCAN_MAX)
                break;
            if (v->home >= 0 || !(v->affinity & CPU_BIT(p->id)))
                continue;
            sched_vcpu_load_update(v, now);
            uint64_t gain = move_gain(src->load, p->load, v->load);
            if (gain > best_gain) {
                best_gain = gain;
                best = v;
            }
        }
        if (best)
            migrate_queued(s, src, p, best, now);
    }
    rq_unlock(s, src->id);
}
