/* sched_change: every parameter, a VM's weight, cap, request and gang mode, and the policy,
 * validated first and applied at once with every lock held. */
#include <string.h>

#include "sched/cap.h"
#include "sched/core.h"
#include "sched/gang.h"
#include "sched/place.h"
#include "sched/reserve.h"
#include "sched/runq.h"
#include "sched/setup.h"

#define SCHED_SET_ALL (SCHED_SET_POLICY | SCHED_SET_TIMESLICE | SCHED_SET_RATELIMIT | \
                       SCHED_SET_GANG_SKEW | SCHED_SET_BALANCE | SCHED_SET_WEIGHT | SCHED_SET_CAP | \
                       SCHED_SET_REQUEST | SCHED_SET_GANG | SCHED_SET_RESERVATION | \
                       SCHED_SET_VM_POOL | SCHED_SET_PCPU_POOL)
#define SCHED_SET_VM_FIELDS (SCHED_SET_WEIGHT | SCHED_SET_CAP | SCHED_SET_REQUEST | SCHED_SET_GANG | \
                             SCHED_SET_RESERVATION)
#define SCHED_SET_POOL_MOVE (SCHED_SET_VM_POOL | SCHED_SET_PCPU_POOL)

/* VM's affinity within the pCPU set CPUS. */
static sched_cpumask_t affinity_in(const struct sched_vm *vm, const sched_cpumask_t *cpus)
{
    sched_cpumask_t m = cpumask_any(&vm->user_affinity) ? vm->user_affinity : *cpus;
    cpumask_and(&m, cpus);
    return m;
}

/* A pool move (a change of its own): the VM or pCPU and the pool exist, and every VM keeps a
 * pCPU it may use, strict gangs one per member (their homes stay). */
static int check_pool_move(const struct sched *s, const struct sched_change *c)
{
    if (c->set & ~SCHED_SET_POOL_MOVE || c->set == SCHED_SET_POOL_MOVE)
        return SCHED_E_SETUP;
    if (c->to_pool >= s->npools)
        return SCHED_E_RANGE;
    if (c->set & SCHED_SET_VM_POOL) {
        if (c->vm >= s->nvms)
            return SCHED_E_VM;
        const struct sched_vm *vm = &s->vms[c->vm];
        sched_cpumask_t aff = affinity_in(vm, &s->pools[c->to_pool].cpus);
        if (vm->gang == SCHED_GANG_STRICT || !cpumask_any(&aff))
            return SCHED_E_SETUP;
        return SCHED_OK;
    }
    if (c->pcpu >= s->npcpus)
        return SCHED_E_RANGE;
    const struct sched_pool *from = s->pcpus[c->pcpu].pool;
    if (from->id == c->to_pool)
        return SCHED_OK;
    sched_cpumask_t left = from->cpus; /* may become empty if no VM is in the pool */
    cpumask_clear(&left, c->pcpu);
    for (uint32_t i = 0; i < s->nvms; i++) {
        const struct sched_vm *vm = &s->vms[i];
        if (vm->pool != from->id)
            continue;
        sched_cpumask_t aff = affinity_in(vm, &left);
        if (!cpumask_any(&aff))
            return SCHED_E_SETUP;
        for (uint32_t k = 0; vm->gang == SCHED_GANG_STRICT && k < vm->nvcpus; k++)
            if (vm->vcpus[k].home == (int32_t)c->pcpu)
                return SCHED_E_SETUP; /* a strict member's home: switch the gang off first */
    }
    return SCHED_OK;
}

/* Admission (null, rtds) of every pool as change C would leave it, by the policy it would run. */
static int admit_pools(const struct sched *s, const struct sched_change *c,
                       const struct sched_policy *pol)
{
    for (uint32_t i = 0; i < s->npools; i++) {
        const struct sched_policy *p = i == c->pool ? pol : s->pools[i].policy;
        if (!p->admit)
            continue;
        struct sched_admit a;
        sched_admit_view(s, i, c, &a);
        int err = p->admit(&a);
        if (err)
            return err;
    }
    return SCHED_OK;
}

static int change_check(const struct sched *s, const struct sched_change *c,
                        const struct sched_policy **pol)
{
    if (c->set & ~SCHED_SET_ALL || c->pool >= s->npools)
        return SCHED_E_RANGE;
    const struct sched_pool *pool = &s->pools[c->pool];
    *pol = pool->policy;
    if (c->set & SCHED_SET_POOL_MOVE) {
        int err = check_pool_move(s, c);
        return err ? err : admit_pools(s, c, *pol);
    }
    if (c->set & SCHED_SET_POLICY) {
        *pol = c->policy ? sched_policy_find(c->policy) : NULL;
        if (!*pol)
            return SCHED_E_POLICY;
    }
    const struct sched_params *cur = &pool->params;
    int err = sched_check_params(
        c->set & SCHED_SET_TIMESLICE ? c->timeslice_ns : cur->timeslice_ns,
        c->set & SCHED_SET_RATELIMIT ? c->ratelimit_ns : cur->ratelimit_ns,
        c->set & SCHED_SET_GANG_SKEW ? c->gang_skew_ns : cur->gang_skew_ns,
        c->set & SCHED_SET_BALANCE ? c->balance_ns : cur->balance_ns);
    if (err)
        return err;
    if (c->set & SCHED_SET_VM_FIELDS) {
        if (c->vm >= s->nvms)
            return SCHED_E_VM;
        const struct sched_vm *vm = &s->vms[c->vm];
        if ((c->set & SCHED_SET_WEIGHT) && !in_range(c->weight, SCHED_WEIGHT_MIN, SCHED_WEIGHT_MAX))
            return SCHED_E_RANGE;
        if ((c->set & SCHED_SET_CAP) && c->cap_pct > SCHED_CAP_PER_VCPU * vm->nvcpus)
            return SCHED_E_RANGE;
        if ((c->set & SCHED_SET_REQUEST) && c->request_ns &&
            !in_range(c->request_ns, SCHED_REQUEST_MIN_US * 1000ull, SCHED_REQUEST_MAX_US * 1000ull))
            return SCHED_E_RANGE;
        if ((c->set & SCHED_SET_GANG) && (unsigned)c->gang >= SCHED_GANG_COUNT)
            return SCHED_E_RANGE;
        if ((c->set & SCHED_SET_RESERVATION) &&
            sched_check_reservation(c->rt_budget_ns, c->rt_period_ns))
            return SCHED_E_RANGE;
        if ((c->set & SCHED_SET_GANG) && c->gang == SCHED_GANG_STRICT &&
            cpumask_count(&vm->affinity) < vm->nvcpus)
            return SCHED_E_SETUP; /* as at setup: one pCPU of its own for every member */
    }
    return admit_pools(s, c, *pol);
}

/* POOL's policy becomes POL: every vCPU of the pool re-enters it. */
static void switch_policy(struct sched *s, struct sched_pool *pool, const struct sched_policy *pol,
                          uint64_t now)
{
    __atomic_store_n(&pool->policy, pol, __ATOMIC_RELEASE);
    cpumask_for_each(c, &pool->cpus)
        pol->init_pcpu(&s->pcpus[c], now);
    for (uint32_t i = 0; i < s->nvcpus; i++)
        if (s->pcpus[s->vcpus[i].cpu].pool == pool)
            pol->init_vcpu(&s->pcpus[s->vcpus[i].cpu], &s->vcpus[i], now);
    cpumask_for_each(c, &pool->cpus) {
        struct sched_pcpu *p = &s->pcpus[c];
        if (p->curr && p->curr->state == SCHED_RUNNING)
            pol->wake(p, p->curr, now, SCHED_JOIN_CURRENT);
        struct slist *pos;
        slist_for_each(pos, &p->ready) /* oldest first: keeps the queue order */
            pol->wake(p, SCHED_CONTAINER_OF(pos, struct sched_vcpu, qnode), now, SCHED_JOIN_MOVE);
    }
}

/* ---- pool moves (every lock held) ------------------------------------------------------------ */

/* V leaves its pCPU for the least loaded pCPU of its affinity, out of its pCPU's policy and —
 * runnable — into the new pCPU's: afresh (FRESH: another pool's policy, init_vcpu) or as a
 * migration.  A vCPU running there is stopped first: it waits on that pCPU's held list
 * (HOLD_MOVE, ready) until the pCPU, kicked, has taken it off and decides (place.c), so that no
 * other pCPU runs it meanwhile. */
static void move_out(struct sched *s, struct sched_vcpu *v, bool fresh, uint64_t now,
                     sched_cpumask_t *kick)
{
    struct sched_pcpu *p = &s->pcpus[v->cpu];
    v->move_fresh = v->move_fresh || fresh;
    bool runnable = false;
    if (p->curr == v) {
        p->curr = NULL;
        cpumask_set(kick, p->id);
        if (v->state == SCHED_RUNNING) { /* charged already (sched_change) */
            p->pool->policy->sleep(p, v, now);
            v->acct.preemptions++;
            v->yield = false;
            sched_run_end(s, p, v);
            sched_hold(p, v, now, HOLD_MOVE);
            return;
        }
    } else if (v->queued) {
        sched_dequeue(s, p, v, now);
        runnable = true;
    } else if (v->hold == HOLD_MOVE) {
        cpumask_set(kick, p->id); /* still to be moved by its pCPU's decision */
        return;
    }
    struct sched_pcpu *q = sched_least_loaded(s, &v->affinity);
    if (q != p)
        sched_move_vcpu(s, p, q, v, now);
    if (v->move_fresh) {
        q->pool->policy->init_vcpu(q, v, now);
        v->move_fresh = false;
    }
    if (runnable) {
        sched_enqueue(s, q, v, now, fresh ? SCHED_JOIN_MOVE : SCHED_JOIN_MIGRATE);
        cpumask_set(kick, q->id);
    }
}

static void set_vm_affinity(struct sched_vm *vm)
{
    vm->affinity = affinity_in(vm, &vm->s->pools[vm->pool].cpus);
    for (uint32_t k = 0; k < vm->nvcpus; k++)
        if (vm->vcpus[k].home < 0)
            vm->vcpus[k].affinity = vm->affinity;
}

static void move_vm(struct sched *s, struct sched_vm *vm, uint32_t to, uint64_t now,
                    sched_cpumask_t *kick)
{
    if (vm->pool == to)
        return;
    for (uint32_t k = 0; k < vm->nvcpus; k++) /* reservation pins of its old pool */
        if (vm->vcpus[k].home >= 0 && s->pcpus[vm->vcpus[k].cpu].curr != &vm->vcpus[k])
            sched_set_home(s, &vm->vcpus[k], -1, now);
    for (uint32_t k = 0; k < vm->nvcpus; k++)
        vm->vcpus[k].home = -1; /* a current one is moved off below */
    __atomic_store_n(&vm->pool, to, __ATOMIC_RELAXED);
    set_vm_affinity(vm);
    for (uint32_t k = 0; k < vm->nvcpus; k++)
        move_out(s, &vm->vcpus[k], true, now, kick);
}

static void move_pcpu(struct sched *s, struct sched_pcpu *p, struct sched_pool *to, uint64_t now,
                      sched_cpumask_t *kick)
{
    struct sched_pool *from = p->pool;
    if (from == to)
        return;
    if (from->policy->partitioned)
        sched_reserve_unpin(s, from, now); /* pinned again below, without this pCPU */
    cpumask_clear(&from->cpus, p->id);
    cpumask_set(&to->cpus, p->id);
    for (uint32_t i = 0; i < s->nvms; i++)
        if (s->vms[i].pool == from->id || s->vms[i].pool == to->id)
            set_vm_affinity(&s->vms[i]);
    for (uint32_t i = 0; i < s->nvcpus; i++) /* its vCPUs go to its old pool's other pCPUs */
        if (s->vcpus[i].cpu == (int32_t)p->id)
            move_out(s, &s->vcpus[i], false, now, kick);
    __atomic_store_n(&p->pool, to, __ATOMIC_RELEASE);
    to->policy->init_pcpu(p, now);
    p->preempt_at_ns = p->recheck_at_ns = SCHED_NO_EVENT;
    p->balance_deferred = false;
    p->next_balance_ns = now + to->params.balance_ns;
    p->gps_floor_vt = UINT64_MAX; /* none (place.c) */
    cpumask_set(kick, p->id);
}

/* V's policy state starts afresh (its reservation changed): out of the policy and back. */
static void restart_vcpu(struct sched *s, struct sched_vcpu *v, uint64_t now)
{
    struct sched_pcpu *p = &s->pcpus[v->cpu];
    const struct sched_policy *pol = p->pool->policy;
    bool cur = p->curr == v && v->state == SCHED_RUNNING;
    if (cur || v->queued)
        pol->sleep(p, v, now);
    pol->init_vcpu(p, v, now);
    if (cur)
        pol->wake(p, v, now, SCHED_JOIN_CURRENT);
    else if (v->queued)
        pol->wake(p, v, now, SCHED_JOIN_MOVE);
}

static void change_vm(struct sched *s, const struct sched_change *c, uint64_t now)
{
    struct sched_vm *vm = &s->vms[c->vm];
    if (c->set & SCHED_SET_RESERVATION) {
        vm->rt_budget_ns = c->rt_budget_ns;
        vm->rt_period_ns = c->rt_budget_ns ? c->rt_period_ns : 0;
        vm->rt_extra = !c->rt_no_extra;
        for (uint32_t k = 0; k < vm->nvcpus; k++)
            restart_vcpu(s, &vm->vcpus[k], now);
    }
    if (c->set & SCHED_SET_REQUEST)
        vm->request_ns = c->request_ns;
    if (c->set & SCHED_SET_WEIGHT) {
        vm->weight = c->weight;
        for (uint32_t k = 0; k < vm->nvcpus; k++) {
            struct sched_vcpu *v = &vm->vcpus[k];
            sched_reweight(s, &s->pcpus[v->cpu], v, sched_vcpu_weight_now(v), now);
        }
    }
    if (c->set & SCHED_SET_CAP)
        sched_cap_set(s, vm, c->cap_pct, now);
}

int sched_change(struct sched *s, const struct sched_change *c, uint64_t now,
                 sched_cpumask_t *kick)
{
    const struct sched_policy *pol;
    if (kick)
        *kick = cpumask_none();
    /* A switch to strict or relaxed: entry points must take the machine lock before any VM is
     * gang (sched.h).  The reference becomes the VM's if it turns gang, else it is dropped. */
    bool gang_ref = (c->set & SCHED_SET_GANG) && c->gang != SCHED_GANG_NONE;
    if (gang_ref)
        sched_gang_ref_and_drain(s);
    s->env.lock(s->env.ctx, s->npcpus);
    for (uint32_t i = 0; i < s->npcpus; i++)
        rq_lock(s, i);
    int err = change_check(s, c, &pol);
    if (!err) {
        for (uint32_t i = 0; i < s->npcpus; i++)
            sched_charge_current(s, &s->pcpus[i], now);
        struct sched_pool *pool = &s->pools[c->pool];
        const struct sched_policy *old = pool->policy;
        uint32_t touched = 0; /* pools whose reservation pins may change, a bit each */
        sched_cpumask_t move_kick = cpumask_none(); /* covered by the full mask below */
        if (c->set & SCHED_SET_VM_POOL) {
            touched |= 1u << s->vms[c->vm].pool | 1u << c->to_pool;
            move_vm(s, &s->vms[c->vm], c->to_pool, now, &move_kick);
        } else if (c->set & SCHED_SET_PCPU_POOL) {
            touched |= 1u << s->pcpus[c->pcpu].pool->id | 1u << c->to_pool;
            move_pcpu(s, &s->pcpus[c->pcpu], &s->pools[c->to_pool], now, &move_kick);
        } else {
            touched |= 1u << c->pool;
        }
        if (c->set & SCHED_SET_TIMESLICE)
            pool->params.timeslice_ns = c->timeslice_ns;
        if (c->set & SCHED_SET_RATELIMIT)
            pool->params.ratelimit_ns = c->ratelimit_ns;
        if (c->set & SCHED_SET_GANG_SKEW)
            pool->params.gang_skew_ns = c->gang_skew_ns;
        if (c->set & SCHED_SET_BALANCE)
            pool->params.balance_ns = c->balance_ns;
        if (c->set & (SCHED_SET_WEIGHT | SCHED_SET_CAP | SCHED_SET_REQUEST | SCHED_SET_RESERVATION))
            change_vm(s, c, now);
        if ((c->set & SCHED_SET_POLICY) && pol != old)
            switch_policy(s, pool, pol, now);
        sched_cpumask_t gang_kick = cpumask_none(); /* covered by the full mask below */
        if (c->set & SCHED_SET_GANG) {
            struct sched_vm *vm = &s->vms[c->vm];
            touched |= 1u << vm->pool;
            bool was = vm->gang != SCHED_GANG_NONE;
            sched_gang_switch(s, vm, c->gang, now, &gang_kick);
            if (was && c->gang == SCHED_GANG_NONE) /* no lockless entry point can be running */
                __atomic_fetch_sub(&s->gang_refs, 1, __ATOMIC_SEQ_CST);
            else if (!was && gang_ref)
                gang_ref = false; /* kept: it is now this VM's */
        }
        if (c->set & SCHED_SET_VM_FIELDS)
            touched |= 1u << s->vms[c->vm].pool;
        /* Reserved vCPUs are pinned while a partitioned policy runs (reserve.h); admission
         * (admit_pools) accepted the packing, against this same state (every lock held).
         * After a gang switch the packing may no longer fit: then the pins stay as they were. */
        for (uint32_t i = 0; i < s->npools; i++) {
            if (!(touched >> i & 1))
                continue;
            if (s->pools[i].policy->partitioned)
                (void)sched_reserve_pin(s, &s->pools[i], now);
            else if (i == c->pool && old->partitioned)
                sched_reserve_unpin(s, &s->pools[i], now);
        }
        /* Running vCPUs get a slice of the new kind, counted from their dispatch: counted from
         * the change, frequent switches (the metascheduler's slots, tools/vsched-meta) made
         * the running vCPUs' slices restart at every switch, and they were never descheduled
         * while the switches came faster than the slice (the others starved). */
        for (uint32_t i = 0; i < s->npcpus; i++) {
            struct sched_pcpu *p = &s->pcpus[i];
            p->preempt_check = true; /* weights, policy or parameters changed */
            if (p->curr && p->curr->state == SCHED_RUNNING && !is_strict(p->curr))
                p->slice_end_ns =
                    add_sat(p->run_start_ns, p->pool->policy->slice_ns(p, p->curr, now));
        }
        if (kick) { /* every decision may change (and the gang switch's kicks are among them) */
            *kick = s->all_mask;
            cpumask_or(kick, &gang_kick);
            cpumask_or(kick, &move_kick);
        }
    }
    if (gang_ref)
        __atomic_fetch_sub(&s->gang_refs, 1, __ATOMIC_SEQ_CST);
    for (uint32_t i = s->npcpus; i-- > 0;)
        rq_unlock(s, i);
    s->env.unlock(s->env.ctx, s->npcpus);
    return err;
}
