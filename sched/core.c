/* The scheduler core: setup, accounting, caps, the events (wake, block, yield), the per-pCPU
 * decision and the validated parameter change.  Placement and balancing live in place.c,
 * co-scheduling in gang.c, policies in their own files. */
#include "sched/internal.h"

#include <string.h>

#define ALIGN16(x) (((x) + 15u) & ~(size_t)15u)
#define LOAD_ATOMIC(x) __atomic_load_n(&(x), __ATOMIC_SEQ_CST)

/* ---- setup ------------------------------------------------------------------------------ */

void sched_setup_defaults(struct sched_setup *st)
{
    memset(st, 0, sizeof(*st));
    st->npcpus = 1;
    st->policy = "credit";
    st->timeslice_ns = 30000000;
    st->ratelimit_ns = 1000000;
    st->gang_skew_ns = 3000000;
    st->balance_ns = 10000000;
    st->seed = 1;
}

static bool in_range(uint64_t v, uint64_t lo, uint64_t hi)
{
    return v >= lo && v <= hi;
}

/* The machine-wide parameter ranges, shared by sched_setup_check and sched_change. */
static int check_params(uint64_t ts, uint64_t rl, uint64_t skew, uint64_t bal)
{
    if (!in_range(ts, 100000, 1000000000) || rl > ts || !in_range(skew, 100000, 1000000000))
        return SCHED_E_RANGE;
    if (bal && !in_range(bal, 100000, 1000000000))
        return SCHED_E_RANGE;
    return SCHED_OK;
}

static sched_cpumask_t machine_mask(uint32_t npcpus)
{
    return npcpus >= 64 ? ~(sched_cpumask_t)0 : CPU_BIT(npcpus) - 1;
}

static sched_cpumask_t vm_affinity(const struct sched_vm_setup *vs, uint32_t npcpus)
{
    sched_cpumask_t all = machine_mask(npcpus);
    return vs->affinity ? vs->affinity & all : all;
}

int sched_setup_check(const struct sched_setup *st)
{
    if (!in_range(st->npcpus, 1, SCHED_MAX_PCPUS) || st->nvms > SCHED_MAX_VMS)
        return SCHED_E_RANGE;
    if (st->policy && !sched_policy_find(st->policy))
        return SCHED_E_POLICY;
    int err = check_params(st->timeslice_ns, st->ratelimit_ns, st->gang_skew_ns, st->balance_ns);
    if (err)
        return err;
    if (st->nvms && !st->vms)
        return SCHED_E_SETUP;
    uint32_t total = 0;
    for (uint32_t i = 0; i < st->nvms; i++) {
        const struct sched_vm_setup *vs = &st->vms[i];
        if (!in_range(vs->vcpus, 1, SCHED_MAX_VCPUS) || vs->weight > 65535 ||
            vs->cap_pct > 100 * vs->vcpus || (unsigned)vs->gang > SCHED_GANG_RELAXED)
            return SCHED_E_RANGE;
        total += vs->vcpus;
        sched_cpumask_t aff = vm_affinity(vs, st->npcpus);
        if (!aff)
            return SCHED_E_SETUP;
        if (vs->gang == SCHED_GANG_STRICT && mask_weight(aff) < vs->vcpus)
            return SCHED_E_SETUP;
        if (vs->first_pcpu >= 0 &&
            ((uint32_t)vs->first_pcpu >= st->npcpus || !(aff & CPU_BIT(vs->first_pcpu))))
            return SCHED_E_SETUP;
    }
    if (total > SCHED_MAX_VCPUS)
        return SCHED_E_RANGE;
    return SCHED_OK;
}

static uint32_t total_vcpus(const struct sched_setup *st)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < st->nvms; i++)
        n += st->vms[i].vcpus;
    return n;
}

size_t sched_mem_size(const struct sched_setup *st)
{
    uint32_t nv = total_vcpus(st);
    return ALIGN16(sizeof(struct sched)) + ALIGN16(st->npcpus * sizeof(struct sched_pcpu)) +
           ALIGN16(st->nvms * sizeof(struct sched_vm)) + ALIGN16(nv * sizeof(struct sched_vcpu)) +
           ALIGN16(nv * sizeof(struct hist));
}

unsigned sched_lock_count(const struct sched_setup *st)
{
    return st->npcpus + 1 + st->nvms;
}

static void *carve(char **cur, size_t bytes)
{
    void *p = *cur;
    *cur += ALIGN16(bytes);
    return p;
}

int sched_init(struct sched **out, void *mem, size_t size, const struct sched_setup *st,
               const struct sched_env *env, uint64_t now)
{
    int err = sched_setup_check(st);
    if (err)
        return err;
    if (!mem || size < sched_mem_size(st) || ((uintptr_t)mem & 15u))
        return SCHED_E_NOMEM;
    memset(mem, 0, sched_mem_size(st));
    char *cur = mem;
    struct sched *s = carve(&cur, sizeof(*s));
    s->npcpus = st->npcpus;
    s->nvms = st->nvms;
    s->nvcpus = total_vcpus(st);
    s->pcpus = carve(&cur, s->npcpus * sizeof(struct sched_pcpu));
    s->vms = carve(&cur, s->nvms * sizeof(struct sched_vm));
    s->vcpus = carve(&cur, s->nvcpus * sizeof(struct sched_vcpu));
    s->hists = carve(&cur, s->nvcpus * sizeof(struct hist));
    s->env = *env;
    s->policy = sched_policy_find(st->policy ? st->policy : "credit");
    s->params.timeslice_ns = st->timeslice_ns;
    s->params.ratelimit_ns = st->ratelimit_ns;
    s->params.gang_skew_ns = st->gang_skew_ns;
    s->params.balance_ns = st->balance_ns;
    s->seed = st->seed;
    s->start_ns = now;
    s->all_mask = machine_mask(s->npcpus);
    s->idle_mask = s->all_mask;

    for (uint32_t c = 0; c < s->npcpus; c++) {
        struct sched_pcpu *p = &s->pcpus[c];
        p->s = s;
        p->id = c;
        slist_init(&p->ready);
        slist_init(&p->held);
        p->last_now_ns = p->load_stamp_ns = now;
        p->next_event_ns = SCHED_NO_EVENT;
        p->preempt_at_ns = SCHED_NO_EVENT;
        p->next_balance_ns = now + s->params.balance_ns;
    }
    uint32_t id = 0;
    for (uint32_t i = 0; i < s->nvms; i++) {
        const struct sched_vm_setup *vs = &st->vms[i];
        struct sched_vm *vm = &s->vms[i];
        vm->s = s;
        vm->id = i;
        vm->nvcpus = vs->vcpus;
        vm->weight = vs->weight ? vs->weight : SCHED_WEIGHT_DEFAULT;
        vm->cap_pct = vs->cap_pct;
        vm->gang = vs->gang;
        vm->affinity = vm_affinity(vs, s->npcpus);
        vm->vcpus = &s->vcpus[id];
        vm->cap_budget_ns = (int64_t)(SCHED_CAP_PERIOD_NS * vm->cap_pct / 100);
        vm->cap_period_end_ns = now + SCHED_CAP_PERIOD_NS;
        if (vm->gang != SCHED_GANG_NONE)
            s->gang_refs++;
        for (uint32_t k = 0; k < vm->nvcpus; k++, id++) {
            struct sched_vcpu *v = &s->vcpus[id];
            v->vm = vm;
            v->id = id;
            v->index = k;
            v->home = -1;
            v->cpu = vs->first_pcpu;
            v->weight = vm->weight;
            v->state = SCHED_BLOCKED;
            v->affinity = vm->affinity;
            v->since_ns = v->load_stamp_ns = now;
            v->latency = &s->hists[id];
            slist_init(&v->qnode);
        }
    }
    sched_place_initial(s);
    for (uint32_t c = 0; c < s->npcpus; c++)
        s->policy->init_pcpu(&s->pcpus[c], now);
    for (uint32_t i = 0; i < s->nvcpus; i++)
        s->policy->init_vcpu(&s->pcpus[s->vcpus[i].cpu], &s->vcpus[i], now);
    *out = s;
    return SCHED_OK;
}

/* ---- small helpers ------------------------------------------------------------------------ */

/* Every entry point starts with enter and ends with leave: the machine lock while some VM is
 * gang, else a pass in the lockless counter of SLOT (any pCPU index; the caller's own spreads
 * the counters).  Returns what leave must undo: -1 = the machine lock, else the slot.  Why a
 * switch to a gang mode cannot catch an entry point without the machine lock: sched.h. */
static int enter(struct sched *s, unsigned slot)
{
    if (!LOAD_ATOMIC(s->gang_refs)) {
        uint32_t *n = &s->pcpus[slot].lockless;
        __atomic_fetch_add(n, 1, __ATOMIC_SEQ_CST);
        if (!LOAD_ATOMIC(s->gang_refs))
            return (int)slot;
        __atomic_fetch_sub(n, 1, __ATOMIC_SEQ_CST); /* a switch began: wait for the lock */
    }
    s->env.lock(s->env.ctx, s->npcpus);
    return -1;
}

static void leave(struct sched *s, int e)
{
    if (e < 0)
        s->env.unlock(s->env.ctx, s->npcpus);
    else
        __atomic_fetch_sub(&s->pcpus[e].lockless, 1, __ATOMIC_SEQ_CST);
}

static unsigned vcpu_slot(const struct sched_vcpu *v)
{
    return (unsigned)__atomic_load_n(&v->cpu, __ATOMIC_RELAXED);
}

/* sched_change, before any lock, when it may make a VM gang: from now on entry points take the
 * machine lock; wait until those that started without it have left. */
static void gang_ref_and_drain(struct sched *s)
{
    __atomic_fetch_add(&s->gang_refs, 1, __ATOMIC_SEQ_CST);
    for (uint32_t c = 0; c < s->npcpus; c++)
        while (LOAD_ATOMIC(s->pcpus[c].lockless))
            cpu_relax();
}

void sched_rq_lock_two(struct sched *s, unsigned a, unsigned b)
{
    if (a == b) {
        rq_lock(s, a);
        return;
    }
    rq_lock(s, a < b ? a : b);
    rq_lock(s, a < b ? b : a);
}

void sched_rq_unlock_two(struct sched *s, unsigned a, unsigned b)
{
    rq_unlock(s, a);
    if (a != b)
        rq_unlock(s, b);
}

/* Locks the runqueue V belongs to; V may migrate while we wait, so re-check. */
struct sched_pcpu *sched_lock_vcpu_rq(struct sched *s, struct sched_vcpu *v)
{
    for (;;) {
        int32_t c = __atomic_load_n(&v->cpu, __ATOMIC_SEQ_CST);
        rq_lock(s, (unsigned)c);
        if (__atomic_load_n(&v->cpu, __ATOMIC_SEQ_CST) == c)
            return &s->pcpus[c];
        rq_unlock(s, (unsigned)c);
    }
}

void sched_acct_state(struct sched_vcpu *v, enum sched_state st, uint64_t now)
{
    if (now > v->since_ns) {
        uint64_t d = now - v->since_ns;
        switch (v->state) {
        case SCHED_RUNNING: v->acct.running_ns += d; break;
        case SCHED_READY: v->acct.ready_ns += d; break;
        case SCHED_BLOCKED: v->acct.blocked_ns += d; break;
        default: v->acct.costop_ns += d; break;
        }
        v->since_ns = now;
    }
    v->state = (uint8_t)st;
}

static bool stealable(const struct sched_vcpu *v)
{
    return v->home < 0;
}

void sched_ready_add(struct sched *s, struct sched_pcpu *p, struct sched_vcpu *v)
{
    slist_add_tail(&p->ready, &v->qnode);
    v->queued = true;
    p->nr_ready++;
    if (stealable(v) && p->nr_stealable++ == 0)
        __atomic_fetch_or(&s->ready_mask, CPU_BIT(p->id), __ATOMIC_SEQ_CST);
}

void sched_ready_del(struct sched *s, struct sched_pcpu *p, struct sched_vcpu *v)
{
    slist_del(&v->qnode);
    v->queued = false;
    p->nr_ready--;
    if (stealable(v) && --p->nr_stealable == 0)
        __atomic_fetch_and(&s->ready_mask, ~CPU_BIT(p->id), __ATOMIC_SEQ_CST);
}

void sched_enqueue(struct sched *s, struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now,
             enum sched_join why)
{
    s->policy->wake(p, v, now, why);
    sched_ready_add(s, p, v);
}

void sched_dequeue(struct sched *s, struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    s->policy->sleep(p, v, now);
    sched_ready_del(s, p, v);
}

/* V (runnable, out of the policy, not queued, not current) waits on P's held list. */
static void hold(struct sched *s, struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now,
                 enum sched_hold why)
{
    (void)s;
    if (why == HOLD_CAP) {
        sched_load_sync(p, v, now); /* a parked vCPU does not count as load: its demand is the cap */
        p->nr_runnable--;
    }
    v->hold = (uint8_t)why;
    if (why == HOLD_LEAD)
        v->lead_hold = true;
    slist_add_tail(&p->held, &v->qnode);
    sched_acct_state(v, why == HOLD_CAP ? SCHED_READY : SCHED_COSTOP, now);
}

/* Takes V off the held list (it stays runnable). */
static void unhold(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    slist_del(&v->qnode);
    if (v->hold == HOLD_CAP) {
        sched_load_sync(p, v, now);
        p->nr_runnable++;
    }
    v->hold = HOLD_NONE;
}

/* ---- caps ----------------------------------------------------------------------------------- */

static bool capped(const struct sched_vm *vm)
{
    return vm->cap_pct != 0;
}

static int64_t cap_quota(const struct sched_vm *vm)
{
    return (int64_t)(SCHED_CAP_PERIOD_NS * vm->cap_pct / 100);
}

static void vm_lock(struct sched *s, struct sched_vm *vm)
{
    s->env.lock(s->env.ctx, s->npcpus + 1 + vm->id);
}

static void vm_unlock(struct sched *s, struct sched_vm *vm)
{
    s->env.unlock(s->env.ctx, s->npcpus + 1 + vm->id);
}

/* New windows add the quota; overdraft carries over (so the long-run share is exact) but
 * unused budget does not accumulate beyond one window. */
static void cap_refill_locked(struct sched_vm *vm, uint64_t now)
{
    if (now < vm->cap_period_end_ns)
        return;
    uint64_t k = (now - vm->cap_period_end_ns) / SCHED_CAP_PERIOD_NS + 1;
    vm->cap_period_end_ns += k * SCHED_CAP_PERIOD_NS;
    int64_t q = cap_quota(vm);
    int64_t b = vm->cap_budget_ns + (k > 2 ? 2 : (int64_t)k) * q;
    vm->cap_budget_ns = b > q ? q : b;
}

int64_t sched_cap_budget(struct sched *s, struct sched_vm *vm, uint64_t now)
{
    vm_lock(s, vm);
    cap_refill_locked(vm, now);
    int64_t b = vm->cap_budget_ns;
    vm_unlock(s, vm);
    return b;
}

static void cap_charge(struct sched *s, struct sched_vm *vm, uint64_t ran, uint64_t now)
{
    vm_lock(s, vm);
    vm->cap_budget_ns -= (int64_t)ran;
    cap_refill_locked(vm, now);
    vm_unlock(s, vm);
}

static void cap_running_add(struct sched *s, struct sched_vm *vm, int d)
{
    if (!capped(vm))
        return;
    vm_lock(s, vm);
    vm->cap_running += (uint32_t)d;
    vm_unlock(s, vm);
}

/* ---- the current vCPU ------------------------------------------------------------------------ */

/* Charges the current vCPU up to NOW: policy (credit burn, virtual time) and cap budget. */
static void charge_current(struct sched *s, struct sched_pcpu *p, uint64_t now)
{
    struct sched_vcpu *v = p->curr;
    if (!v || v->state != SCHED_RUNNING || now <= p->charged_ns)
        return;
    uint64_t d = now - p->charged_ns;
    p->charged_ns = now;
    s->policy->tick(p, v, d, now);
    if (capped(v->vm))
        cap_charge(s, v->vm, d, now);
}

/* V stopped running on P (it blocked or was descheduled; its state is already updated). */
static void run_end(struct sched *s, struct sched_pcpu *p, struct sched_vcpu *v)
{
    cap_running_add(s, v->vm, -1);
    if (is_strict(v)) {
        if (p->gang_owner == v->vm)
            p->gang_owner = NULL;
        sched_gang_update_on(s, v->vm);
    }
}

/* Must the running V stop regardless of the policy?  Returns the hold it goes to. */
static enum sched_hold must_stop(struct sched *s, struct sched_vcpu *v, uint64_t now)
{
    if (capped(v->vm) && sched_cap_budget(s, v->vm, now) <= 0)
        return HOLD_CAP;
    if (is_relaxed(v) && sched_relaxed_lead(v, now) >= s->params.gang_skew_ns)
        return HOLD_LEAD;
    return HOLD_NONE;
}

static bool keep_current(struct sched *s, struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    if (v->yield || p->forced)
        return false;
    if (is_strict(v)) /* strict members stop with their gang, never alone */
        return v->vm->gang_on && now < v->vm->gang_slice_end_ns;
    if (now >= p->slice_end_ns)
        return false;
    if (!s->policy->preempts(p, v, now))
        return true;
    uint64_t allowed = p->run_start_ns + s->params.ratelimit_ns;
    if (now < allowed) {
        p->preempt_at_ns = allowed;
        return true;
    }
    return false;
}

static void deschedule(struct sched *s, struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now,
                       enum sched_hold stop, sched_cpumask_t *kick)
{
    bool yielded = v->yield;
    v->yield = false;
    p->curr = NULL;
    if (stop != HOLD_NONE) {
        s->policy->sleep(p, v, now);
        hold(s, p, v, now, stop);
    } else {
        s->policy->put_prev(p, v, now, yielded);
        sched_ready_add(s, p, v);
        sched_acct_state(v, SCHED_READY, now);
    }
    if (!yielded)
        v->acct.preemptions++; /* undone in dispatch if V is picked again at once */
    p->prev_preempted = !yielded;
    run_end(s, p, v);
    if (is_strict(v) && v->vm->gang_on)
        sched_gang_stop(s, v->vm, now, kick);
    if (is_relaxed(v)) /* the slowest may have stopped: running siblings recompute deadlines */
        *kick |= sched_relaxed_release_kicks(s, v->vm, now) | sched_relaxed_running_kicks(s, v->vm);
}

/* Requeues held vCPUs whose reason has gone: a refilled cap, a caught-up relaxed sibling. */
static void release_held(struct sched *s, struct sched_pcpu *p, uint64_t now,
                         sched_cpumask_t *kick)
{
    struct slist *pos, *tmp;
    slist_for_each_safe(pos, tmp, &p->held) {
        struct sched_vcpu *v = SCHED_CONTAINER_OF(pos, struct sched_vcpu, qnode);
        bool go = false;
        if (v->hold == HOLD_CAP)
            go = sched_cap_budget(s, v->vm, now) > 0;
        else if (v->hold == HOLD_LEAD)
            go = sched_relaxed_lead(v, now) < s->params.gang_skew_ns / 2;
        if (!go)
            continue;
        unhold(p, v, now);
        sched_enqueue(s, p, v, now, SCHED_JOIN_MOVE);
        sched_acct_state(v, SCHED_READY, now);
        *kick |= sched_kick_idle_for(s, v, p->id);
    }
}

static struct sched_vcpu *choose_next(struct sched *s, struct sched_pcpu *p, uint64_t now,
                                      sched_cpumask_t *kick)
{
    unsigned steals = 0;
    for (;;) {
        struct sched_vcpu *v = p->forced;
        if (v) { /* a strict gang co-start chose this pCPU's member */
            p->forced = NULL;
            if (v->queued)
                sched_dequeue(s, p, v, now);
            s->policy->wake(p, v, now, SCHED_JOIN_CURRENT);
            return v;
        }
        v = s->policy->pick_next(p, now);
        if (!v) {
            if (steals++ < 2 && sched_steal(s, p, now))
                continue;
            return NULL;
        }
        sched_ready_del(s, p, v);
        if (capped(v->vm) && sched_cap_budget(s, v->vm, now) <= 0) {
            s->policy->sleep(p, v, now);
            hold(s, p, v, now, HOLD_CAP);
            continue;
        }
        if (is_strict(v) && !v->vm->gang_on) {
            /* Rendezvous: the member waits (co-stopped) until every runnable sibling has
             * been picked on its own pCPU; meanwhile this pCPU backfills. */
            s->policy->sleep(p, v, now);
            hold(s, p, v, now, HOLD_GANG);
            sched_gang_try_start(s, v->vm, now, kick);
            continue;
        }
        if (is_relaxed(v)) {
            uint64_t limit = s->params.gang_skew_ns >> (v->lead_hold ? 1 : 0);
            if (sched_relaxed_lead(v, now) >= limit) {
                s->policy->sleep(p, v, now);
                hold(s, p, v, now, HOLD_LEAD);
                continue;
            }
        }
        return v;
    }
}

static void dispatch(struct sched *s, struct sched_pcpu *p, struct sched_vcpu *prev,
                     struct sched_vcpu *next, uint64_t now)
{
    if (next) {
        if (next == prev) {
            if (p->prev_preempted)
                next->acct.preemptions--; /* picked again: it was not preempted after all */
        } else {
            next->acct.runs++;
            /* The waker's clock may be ahead of this pCPU's (callers read their clocks
             * before taking locks): a wake-up "after" the dispatch counts as no wait. */
            if (next->waking)
                hist_record(next->latency, now > next->wake_ns ? now - next->wake_ns : 0);
        }
        next->waking = false;
        next->lead_hold = false;
        sched_acct_state(next, SCHED_RUNNING, now);
        p->curr = next;
        p->run_start_ns = p->charged_ns = now;
        cap_running_add(s, next->vm, 1);
        if (is_strict(next)) {
            p->gang_owner = next->vm;
            p->slice_end_ns = next->vm->gang_slice_end_ns;
        } else {
            p->slice_end_ns = add_sat(now, s->policy->slice_ns(p, next, now));
        }
        if (p->next_balance_ns <= now)
            p->next_balance_ns = now + s->params.balance_ns;
    }
}

/* Hands P's surplus queued vCPUs to idle pCPUs (each claimed pCPU steals one): whatever made
 * them wait here — a wake-up, a preemption, a release — no pCPU idles while they could run.
 * Costs one atomic load when no pCPU is idle; walks the queue only while one is. */
static sched_cpumask_t offer_surplus(struct sched *s, struct sched_pcpu *p)
{
    sched_cpumask_t kick = 0;
    struct slist *pos;
    slist_for_each(pos, &p->ready) {
        if (!(__atomic_load_n(&s->idle_mask, __ATOMIC_SEQ_CST) & ~CPU_BIT(p->id)))
            break;
        kick |= sched_kick_idle_for(s, SCHED_CONTAINER_OF(pos, struct sched_vcpu, qnode), p->id);
    }
    return kick;
}

static uint64_t next_event(struct sched *s, struct sched_pcpu *p, uint64_t now)
{
    uint64_t t = SCHED_NO_EVENT;
    struct sched_vcpu *v = p->curr;
    if (v && v->state == SCHED_RUNNING) {
        t = u64_min(p->slice_end_ns, p->preempt_at_ns);
        if (capped(v->vm)) {
            vm_lock(s, v->vm);
            cap_refill_locked(v->vm, now);
            int64_t b = v->vm->cap_budget_ns;
            uint32_t n = v->vm->cap_running ? v->vm->cap_running : 1;
            vm_unlock(s, v->vm);
            t = u64_min(t, now + (b > 0 ? (uint64_t)b / n : 0) + 1);
        }
        if (is_relaxed(v))
            t = u64_min(t, sched_relaxed_next_event(s, v, now));
        if (s->policy->recheck_ns && !is_strict(v))
            t = u64_min(t, s->policy->recheck_ns(p, v, now));
        if (s->params.balance_ns)
            t = u64_min(t, p->next_balance_ns);
    }
    struct slist *pos;
    slist_for_each(pos, &p->held) {
        struct sched_vcpu *h = SCHED_CONTAINER_OF(pos, struct sched_vcpu, qnode);
        if (h->hold == HOLD_CAP) {
            vm_lock(s, h->vm);
            t = u64_min(t, h->vm->cap_period_end_ns);
            vm_unlock(s, h->vm);
        }
    }
    return t;
}

/* ---- entry points ----------------------------------------------------------------------------- */

void sched_schedule(struct sched *s, unsigned cpu, uint64_t now, struct sched_decision *out)
{
    struct sched_pcpu *p = &s->pcpus[cpu];
    sched_cpumask_t kick = 0;
    int e = enter(s, cpu);
    rq_lock(s, cpu);
    if (now < p->last_now_ns)
        now = p->last_now_ns;
    p->last_now_ns = now;
    p->preempt_at_ns = SCHED_NO_EVENT;
    p->prev_preempted = false;
    if (p->curr && p->curr->state == SCHED_RUNNING && s->params.balance_ns &&
        now >= p->next_balance_ns)
        sched_balance(s, p, now);
    release_held(s, p, now, &kick);

    struct sched_vcpu *prev = p->curr, *next = NULL;
    bool kept = false;
    if (prev) {
        if (prev->state == SCHED_RUNNING) {
            charge_current(s, p, now);
            enum sched_hold stop = must_stop(s, prev, now);
            if (stop == HOLD_NONE && keep_current(s, p, prev, now))
                kept = true;
            else
                deschedule(s, p, prev, now, stop, &kick);
        } else {
            p->curr = NULL; /* it blocked while running: sched_vcpu_block did the rest */
        }
    }
    if (kept) {
        next = prev;
        if (is_relaxed(prev))
            kick |= sched_relaxed_release_kicks(s, prev->vm, now);
    } else {
        next = choose_next(s, p, now, &kick);
        if (!next) {
            /* Going idle.  Publish it first, then look once more: a wake-up on another
             * pCPU either sees our idle bit or we see its queued vCPU. */
            __atomic_fetch_or(&s->idle_mask, CPU_BIT(cpu), __ATOMIC_SEQ_CST);
            if ((LOAD_ATOMIC(s->ready_mask) & ~CPU_BIT(cpu)) && sched_steal(s, p, now))
                next = choose_next(s, p, now, &kick);
        }
        dispatch(s, p, prev, next, now);
    }
    if (next)
        __atomic_fetch_and(&s->idle_mask, ~CPU_BIT(cpu), __ATOMIC_SEQ_CST);
    kick |= offer_surplus(s, p);
    /* Claimed to steal a vCPU but found other work: pass the claim on.  (Only the hint's home
     * and affinity are read, stable under our runqueue lock; the pCPU that takes the claim
     * re-checks under locks.) */
    struct sched_vcpu *hint = __atomic_exchange_n(&p->steal_hint, NULL, __ATOMIC_SEQ_CST);
    if (hint && next && hint != next)
        kick |= sched_kick_idle_for(s, hint, p->id);
    out->run = next;
    out->switched = next != prev;
    out->next_event_ns = next_event(s, p, now);
    out->kick = kick & ~CPU_BIT(cpu);
    p->next_event_ns = out->next_event_ns;
    rq_unlock(s, cpu);
    leave(s, e);
}

sched_cpumask_t sched_vcpu_wake(struct sched *s, struct sched_vcpu *v, uint64_t now)
{
    sched_cpumask_t kick = 0;
    int e = enter(s, vcpu_slot(v));
    struct sched_pcpu *p = sched_lock_vcpu_rq(s, v);
    if (v->state == SCHED_BLOCKED)
        p = sched_place_waking(s, p, v, now);
    if (v->state == SCHED_BLOCKED) {
        sched_load_sync(p, v, now);
        p->nr_runnable++;
        sched_acct_state(v, SCHED_READY, now);
        v->acct.wakeups++;
        v->waking = true;
        v->wake_ns = now;
        v->lead_hold = false;
        if (p->curr == v) {
            /* It blocked while running and wakes before its pCPU rescheduled: it never left
             * that pCPU (its context is still there), so it stays current; not stealable. */
            v->waking = false;
            sched_acct_state(v, SCHED_RUNNING, now);
            s->policy->wake(p, v, now, SCHED_JOIN_CURRENT);
            p->charged_ns = now;
            cap_running_add(s, v->vm, 1);
            if (is_strict(v))
                p->gang_owner = v->vm; /* if its gang stopped, the pCPU's decision stops it */
            kick |= CPU_BIT(p->id);
        } else if (is_strict(v) && v->vm->gang_on) {
            sched_gang_force(s, v, now, &kick); /* its gang is running: join it now */
        } else {
            sched_enqueue(s, p, v, now, SCHED_JOIN_WAKE);
            struct sched_vcpu *cur = p->curr;
            if (!cur || cur->state != SCHED_RUNNING)
                kick |= CPU_BIT(p->id);
            else if (!is_strict(cur) && s->policy->preempts(p, cur, now))
                kick |= CPU_BIT(p->id);
            else if (!is_strict(cur) && s->policy->recheck_ns &&
                     s->policy->recheck_ns(p, cur, now) < p->next_event_ns)
                kick |= CPU_BIT(p->id); /* its timer must come earlier */
            else
                kick |= sched_kick_idle_for(s, v, p->id);
        }
        if (is_relaxed(v)) /* the laggard set changed: running siblings recompute deadlines */
            kick |= sched_relaxed_running_kicks(s, v->vm);
    }
    rq_unlock(s, p->id);
    leave(s, e);
    return kick;
}

sched_cpumask_t sched_vcpu_block(struct sched *s, struct sched_vcpu *v, uint64_t now)
{
    sched_cpumask_t kick = 0;
    int e = enter(s, vcpu_slot(v));
    struct sched_pcpu *p = sched_lock_vcpu_rq(s, v);
    if (v->state == SCHED_RUNNING) {
        charge_current(s, p, now);
        sched_load_sync(p, v, now);
        p->nr_runnable--;
        s->policy->sleep(p, v, now);
        sched_acct_state(v, SCHED_BLOCKED, now);
        v->yield = false;
        run_end(s, p, v);
        kick |= CPU_BIT(p->id);
    } else if (v->state != SCHED_BLOCKED) {
        sched_load_sync(p, v, now);
        if (v->hold != HOLD_CAP)
            p->nr_runnable--;
        if (v->queued) {
            sched_dequeue(s, p, v, now);
        } else if (v->hold != HOLD_NONE) {
            slist_del(&v->qnode);
            v->hold = HOLD_NONE;
        } else if (p->forced == v) { /* forced by a gang co-start, not yet running */
            p->forced = NULL;
            p->gang_owner = NULL;
            kick |= CPU_BIT(p->id);
        }
        sched_acct_state(v, SCHED_BLOCKED, now);
        if (is_strict(v))
            sched_gang_update_on(s, v->vm);
    }
    v->waking = false;
    if (is_strict(v) && !v->vm->gang_on)
        sched_gang_try_start(s, v->vm, now, &kick); /* the others may have been waiting for it */
    if (is_relaxed(v)) /* the slowest set changed: resume or re-time the siblings */
        kick |= sched_relaxed_release_kicks(s, v->vm, now) | sched_relaxed_running_kicks(s, v->vm);
    rq_unlock(s, p->id);
    leave(s, e);
    return kick;
}

sched_cpumask_t sched_vcpu_yield(struct sched *s, struct sched_vcpu *v, uint64_t now)
{
    (void)now;
    sched_cpumask_t kick = 0;
    int e = enter(s, vcpu_slot(v));
    struct sched_pcpu *p = sched_lock_vcpu_rq(s, v);
    if (v->state == SCHED_RUNNING) {
        v->yield = true;
        kick = CPU_BIT(p->id);
    }
    rq_unlock(s, p->id);
    leave(s, e);
    return kick;
}

/* ---- parameter changes ------------------------------------------------------------------------ */

static int change_check(const struct sched *s, const struct sched_change *c,
                        const struct sched_policy **pol)
{
    *pol = s->policy;
    if (c->set & SCHED_SET_POLICY) {
        *pol = c->policy ? sched_policy_find(c->policy) : NULL;
        if (!*pol)
            return SCHED_E_POLICY;
    }
    const struct sched_params *cur = &s->params;
    int err = check_params(c->set & SCHED_SET_TIMESLICE ? c->timeslice_ns : cur->timeslice_ns,
                           c->set & SCHED_SET_RATELIMIT ? c->ratelimit_ns : cur->ratelimit_ns,
                           c->set & SCHED_SET_GANG_SKEW ? c->gang_skew_ns : cur->gang_skew_ns,
                           c->set & SCHED_SET_BALANCE ? c->balance_ns : cur->balance_ns);
    if (err)
        return err;
    if (c->set & (SCHED_SET_WEIGHT | SCHED_SET_CAP | SCHED_SET_REQUEST | SCHED_SET_GANG)) {
        if (c->vm >= s->nvms)
            return SCHED_E_VM;
        const struct sched_vm *vm = &s->vms[c->vm];
        if ((c->set & SCHED_SET_WEIGHT) && !in_range(c->weight, 1, 65535))
            return SCHED_E_RANGE;
        if ((c->set & SCHED_SET_CAP) && c->cap_pct > 100 * vm->nvcpus)
            return SCHED_E_RANGE;
        if ((c->set & SCHED_SET_REQUEST) && c->request_ns &&
            !in_range(c->request_ns, 100000, 1000000000))
            return SCHED_E_RANGE;
        if ((c->set & SCHED_SET_GANG) && (unsigned)c->gang > SCHED_GANG_RELAXED)
            return SCHED_E_RANGE;
        if ((c->set & SCHED_SET_GANG) && c->gang == SCHED_GANG_STRICT &&
            mask_weight(vm->affinity) < vm->nvcpus)
            return SCHED_E_SETUP; /* as at setup: one pCPU of its own for every member */
    }
    if (c->set & ~(SCHED_SET_POLICY | SCHED_SET_TIMESLICE | SCHED_SET_RATELIMIT |
                   SCHED_SET_GANG_SKEW | SCHED_SET_BALANCE | SCHED_SET_WEIGHT | SCHED_SET_CAP |
                   SCHED_SET_REQUEST | SCHED_SET_GANG))
        return SCHED_E_RANGE;
    return (*pol)->adjust ? (*pol)->adjust(s, c) : SCHED_OK;
}

/* Re-enters every runnable vCPU of P into the policy: after a weight change or a switch. */
static void rejoin_vcpu(struct sched *s, struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now,
                        uint32_t weight)
{
    bool cur = p->curr == v && v->state == SCHED_RUNNING;
    if (cur || v->queued)
        s->policy->sleep(p, v, now);
    v->weight = weight;
    if (cur)
        s->policy->wake(p, v, now, SCHED_JOIN_CURRENT);
    else if (v->queued)
        s->policy->wake(p, v, now, SCHED_JOIN_MOVE);
}

static void switch_policy(struct sched *s, const struct sched_policy *pol, uint64_t now)
{
    s->policy = pol;
    for (uint32_t c = 0; c < s->npcpus; c++)
        pol->init_pcpu(&s->pcpus[c], now);
    for (uint32_t i = 0; i < s->nvcpus; i++)
        pol->init_vcpu(&s->pcpus[s->vcpus[i].cpu], &s->vcpus[i], now);
    for (uint32_t c = 0; c < s->npcpus; c++) {
        struct sched_pcpu *p = &s->pcpus[c];
        if (p->curr && p->curr->state == SCHED_RUNNING)
            pol->wake(p, p->curr, now, SCHED_JOIN_CURRENT);
        struct slist *pos;
        slist_for_each(pos, &p->ready) /* oldest first: keeps the queue order */
            pol->wake(p, SCHED_CONTAINER_OF(pos, struct sched_vcpu, qnode), now, SCHED_JOIN_MOVE);
    }
}

int sched_change(struct sched *s, const struct sched_change *c, uint64_t now,
                 sched_cpumask_t *kick)
{
    const struct sched_policy *pol;
    if (kick)
        *kick = 0;
    /* A switch to strict or relaxed: entry points must take the machine lock before any VM is
     * gang (sched.h).  The reference becomes the VM's if it turns gang, else it is dropped. */
    bool gang_ref = (c->set & SCHED_SET_GANG) && c->gang != SCHED_GANG_NONE;
    if (gang_ref)
        gang_ref_and_drain(s);
    s->env.lock(s->env.ctx, s->npcpus);
    for (uint32_t i = 0; i < s->npcpus; i++)
        rq_lock(s, i);
    int err = change_check(s, c, &pol);
    if (!err) {
        for (uint32_t i = 0; i < s->npcpus; i++)
            charge_current(s, &s->pcpus[i], now);
        if (c->set & SCHED_SET_TIMESLICE)
            s->params.timeslice_ns = c->timeslice_ns;
        if (c->set & SCHED_SET_RATELIMIT)
            s->params.ratelimit_ns = c->ratelimit_ns;
        if (c->set & SCHED_SET_GANG_SKEW)
            s->params.gang_skew_ns = c->gang_skew_ns;
        if (c->set & SCHED_SET_BALANCE)
            s->params.balance_ns = c->balance_ns;
        if (c->set & (SCHED_SET_WEIGHT | SCHED_SET_CAP | SCHED_SET_REQUEST)) {
            struct sched_vm *vm = &s->vms[c->vm];
            if (c->set & SCHED_SET_REQUEST)
                vm->request_ns = c->request_ns;
            if (c->set & SCHED_SET_WEIGHT) {
                vm->weight = c->weight;
                for (uint32_t k = 0; k < vm->nvcpus; k++) {
                    struct sched_vcpu *v = &vm->vcpus[k];
                    rejoin_vcpu(s, &s->pcpus[v->cpu], v, now, c->weight);
                }
            }
            if (c->set & SCHED_SET_CAP) {
                vm_lock(s, vm);
                vm->cap_pct = c->cap_pct;
                vm->cap_budget_ns = cap_quota(vm);
                vm->cap_period_end_ns = now + SCHED_CAP_PERIOD_NS;
                vm_unlock(s, vm);
            }
        }
        if ((c->set & SCHED_SET_POLICY) && pol != s->policy)
            switch_policy(s, pol, now);
        sched_cpumask_t gang_kick = 0; /* covered by the full mask below */
        if (c->set & SCHED_SET_GANG) {
            struct sched_vm *vm = &s->vms[c->vm];
            bool was = vm->gang != SCHED_GANG_NONE;
            sched_gang_switch(s, vm, c->gang, now, &gang_kick);
            if (was && c->gang == SCHED_GANG_NONE) /* no lockless entry point can be running */
                __atomic_fetch_sub(&s->gang_refs, 1, __ATOMIC_SEQ_CST);
            else if (!was && gang_ref)
                gang_ref = false; /* kept: it is now this VM's */
        }
        for (uint32_t i = 0; i < s->npcpus; i++) { /* running vCPUs start a slice of the new kind */
            struct sched_pcpu *p = &s->pcpus[i];
            if (p->curr && p->curr->state == SCHED_RUNNING && !is_strict(p->curr))
                p->slice_end_ns = add_sat(now, s->policy->slice_ns(p, p->curr, now));
        }
        if (kick) /* every decision may change (and the gang switch's kicks are among them) */
            *kick = s->all_mask | gang_kick;
    }
    if (gang_ref)
        __atomic_fetch_sub(&s->gang_refs, 1, __ATOMIC_SEQ_CST);
    for (uint32_t i = s->npcpus; i-- > 0;)
        rq_unlock(s, i);
    s->env.unlock(s->env.ctx, s->npcpus);
    return err;
}

/* ---- lookup and observation ------------------------------------------------------------------- */

const char *sched_policy_name(const struct sched *s)
{
    return s->policy->name;
}

unsigned sched_npcpus(const struct sched *s)
{
    return s->npcpus;
}

unsigned sched_nvms(const struct sched *s)
{
    return s->nvms;
}

unsigned sched_vm_nvcpus(const struct sched *s, unsigned vm)
{
    return vm < s->nvms ? s->vms[vm].nvcpus : 0;
}

enum sched_gang sched_vm_gang(struct sched *s, unsigned vm)
{
    if (vm >= s->nvms)
        return SCHED_GANG_NONE;
    s->env.lock(s->env.ctx, s->npcpus);
    enum sched_gang g = s->vms[vm].gang;
    s->env.unlock(s->env.ctx, s->npcpus);
    return g;
}

struct sched_vcpu *sched_vcpu_get(struct sched *s, unsigned vm, unsigned index)
{
    if (vm >= s->nvms || index >= s->vms[vm].nvcpus)
        return NULL;
    return &s->vms[vm].vcpus[index];
}

unsigned sched_vcpu_vm(const struct sched_vcpu *v)
{
    return v->vm->id;
}

unsigned sched_vcpu_index(const struct sched_vcpu *v)
{
    return v->index;
}

void sched_vcpu_set_user(struct sched_vcpu *v, void *user)
{
    v->user = user;
}

void *sched_vcpu_user(const struct sched_vcpu *v)
{
    return v->user;
}

void sched_vcpu_info(struct sched *s, struct sched_vcpu *v, struct sched_vcpu_info *out)
{
    int e = enter(s, vcpu_slot(v));
    struct sched_pcpu *p = sched_lock_vcpu_rq(s, v);
    out->state = (enum sched_state)v->state;
    out->pcpu = p->id;
    out->held = v->hold != HOLD_NONE;
    out->pinned = v->home >= 0;
    out->affinity = v->affinity;
    rq_unlock(s, p->id);
    leave(s, e);
}

void sched_vcpu_acct(struct sched *s, struct sched_vcpu *v, uint64_t now, struct sched_acct *out,
                     struct hist *lat)
{
    int e = enter(s, vcpu_slot(v));
    struct sched_pcpu *p = sched_lock_vcpu_rq(s, v);
    *out = v->acct;
    uint64_t t = now > v->since_ns ? now : v->since_ns;
    uint64_t d = t - v->since_ns;
    switch (v->state) {
    case SCHED_RUNNING: out->running_ns += d; break;
    case SCHED_READY: out->ready_ns += d; break;
    case SCHED_BLOCKED: out->blocked_ns += d; break;
    default: out->costop_ns += d; break;
    }
    out->lifetime_ns = t - s->start_ns;
    out->policy_value = s->policy->value ? s->policy->value(p, v, now) : 0;
    if (lat)
        *lat = *v->latency;
    rq_unlock(s, p->id);
    leave(s, e);
}

void sched_vm_acct(struct sched *s, unsigned vm, uint64_t now, struct sched_acct *out,
                   struct hist *lat)
{
    memset(out, 0, sizeof(*out));
    if (lat)
        hist_clear(lat);
    if (vm >= s->nvms)
        return;
    for (uint32_t k = 0; k < s->vms[vm].nvcpus; k++) {
        struct sched_acct a;
        struct sched_vcpu *v = &s->vms[vm].vcpus[k];
        sched_vcpu_acct(s, v, now, &a, NULL);
        sched_acct_add(out, &a);
        if (lat)
            hist_merge(lat, v->latency); /* counters only grow: a racy read is still sane */
    }
}

const char *sched_strerror(int err)
{
    switch (err) {
    case SCHED_OK: return "ok";
    case SCHED_E_RANGE: return "value out of range";
    case SCHED_E_POLICY: return "unknown policy";
    case SCHED_E_VM: return "no such VM";
    case SCHED_E_NOMEM: return "memory block too small or misaligned";
    case SCHED_E_SETUP: return "inconsistent setup (affinity, gang width, first pCPU)";
    default: return "unknown error";
    }
}

/* ---- dump ----------------------------------------------------------------------------------- */

struct out {
    char *buf;
    size_t len, pos;
};

static void put_str(struct out *o, const char *str)
{
    for (; *str; str++, o->pos++)
        if (o->pos + 1 < o->len)
            o->buf[o->pos] = *str;
}

static void put_u64(struct out *o, uint64_t v)
{
    char tmp[21];
    int i = 20;
    tmp[i] = 0;
    do
        tmp[--i] = (char)('0' + v % 10);
    while (v /= 10);
    put_str(o, &tmp[i]);
}

static const char *const state_names[] = { "blocked", "ready", "running", "costop" };

size_t sched_dump(struct sched *s, uint64_t now, char *buf, size_t len)
{
    struct out o = { buf, len, 0 };
    int e = enter(s, 0);
    for (uint32_t c = 0; c < s->npcpus; c++)
        rq_lock(s, c);
    put_str(&o, "policy ");
    put_str(&o, s->policy->name);
    put_str(&o, "\n");
    for (uint32_t c = 0; c < s->npcpus; c++) {
        struct sched_pcpu *p = &s->pcpus[c];
        put_str(&o, "pcpu ");
        put_u64(&o, c);
        put_str(&o, p->curr ? " curr=" : " idle");
        if (p->curr) {
            put_u64(&o, p->curr->vm->id);
            put_str(&o, ".");
            put_u64(&o, p->curr->index);
        }
        put_str(&o, " ready=");
        put_u64(&o, p->nr_ready);
        put_str(&o, " load=");
        put_u64(&o, p->load);
        if (s->policy->dump) {
            char tmp[96];
            size_t n = s->policy->dump(p, tmp, sizeof(tmp));
            (void)n;
            put_str(&o, " ");
            put_str(&o, tmp);
        }
        put_str(&o, "\n");
    }
    for (uint32_t i = 0; i < s->nvcpus; i++) {
        struct sched_vcpu *v = &s->vcpus[i];
        put_str(&o, "vcpu ");
        put_u64(&o, v->vm->id);
        put_str(&o, ".");
        put_u64(&o, v->index);
        put_str(&o, " ");
        put_str(&o, state_names[v->state & 3]);
        put_str(&o, " pcpu=");
        put_u64(&o, (uint64_t)v->cpu);
        put_str(&o, " weight=");
        put_u64(&o, v->weight);
        put_str(&o, " run_ns=");
        put_u64(&o, v->acct.running_ns + (v->state == SCHED_RUNNING && now > v->since_ns
                                              ? now - v->since_ns : 0));
        put_str(&o, "\n");
    }
    for (uint32_t c = s->npcpus; c-- > 0;)
        rq_unlock(s, c);
    leave(s, e);
    if (len)
        buf[o.pos < len ? o.pos : len - 1] = 0;
    return o.pos;
}
