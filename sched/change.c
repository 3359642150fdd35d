/* sched_change: every parameter, a VM's weight, cap, request and gang mode, and the policy,
 * validated first and applied at once with every lock held. */
#include <string.h>

#include "sched/cap.h"
#include "sched/core.h"
#include "sched/gang.h"
#include "sched/reserve.h"
#include "sched/runq.h"
#include "sched/setup.h"

#define SCHED_SET_ALL (SCHED_SET_POLICY | SCHED_SET_TIMESLICE | SCHED_SET_RATELIMIT | \
                       SCHED_SET_GANG_SKEW | SCHED_SET_BALANCE | SCHED_SET_WEIGHT | SCHED_SET_CAP | \
                       SCHED_SET_REQUEST | SCHED_SET_GANG | SCHED_SET_RESERVATION)
#define SCHED_SET_VM_FIELDS (SCHED_SET_WEIGHT | SCHED_SET_CAP | SCHED_SET_REQUEST | SCHED_SET_GANG | \
                             SCHED_SET_RESERVATION)

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
    if (c->set & ~SCHED_SET_ALL)
        return SCHED_E_RANGE;
    return (*pol)->adjust ? (*pol)->adjust(s, c) : SCHED_OK;
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

/* V's policy state starts afresh (its reservation changed): out of the policy and back. */
static void restart_vcpu(struct sched *s, struct sched_vcpu *v, uint64_t now)
{
    struct sched_pcpu *p = &s->pcpus[v->cpu];
    bool cur = p->curr == v && v->state == SCHED_RUNNING;
    if (cur || v->queued)
        s->policy->sleep(p, v, now);
    s->policy->init_vcpu(p, v, now);
    if (cur)
        s->policy->wake(p, v, now, SCHED_JOIN_CURRENT);
    else if (v->queued)
        s->policy->wake(p, v, now, SCHED_JOIN_MOVE);
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
        if (c->set & SCHED_SET_TIMESLICE)
            s->params.timeslice_ns = c->timeslice_ns;
        if (c->set & SCHED_SET_RATELIMIT)
            s->params.ratelimit_ns = c->ratelimit_ns;
        if (c->set & SCHED_SET_GANG_SKEW)
            s->params.gang_skew_ns = c->gang_skew_ns;
        if (c->set & SCHED_SET_BALANCE)
            s->params.balance_ns = c->balance_ns;
        const struct sched_policy *old = s->policy;
        if (c->set & (SCHED_SET_WEIGHT | SCHED_SET_CAP | SCHED_SET_REQUEST | SCHED_SET_RESERVATION))
            change_vm(s, c, now);
        if ((c->set & SCHED_SET_POLICY) && pol != s->policy)
            switch_policy(s, pol, now);
        sched_cpumask_t gang_kick = cpumask_none(); /* covered by the full mask below */
        if (c->set & SCHED_SET_GANG) {
            struct sched_vm *vm = &s->vms[c->vm];
            bool was = vm->gang != SCHED_GANG_NONE;
            sched_gang_switch(s, vm, c->gang, now, &gang_kick);
            if (was && c->gang == SCHED_GANG_NONE) /* no lockless entry point can be running */
                __atomic_fetch_sub(&s->gang_refs, 1, __ATOMIC_SEQ_CST);
            else if (!was && gang_ref)
                gang_ref = false; /* kept: it is now this VM's */
        }
        /* Reserved vCPUs are pinned while a partitioned policy runs (reserve.h); the policy's
         * adjust admitted the packing, against this same state (every lock held).  After a
         * gang switch the packing may no longer fit: then the pins stay as they were. */
        if (s->policy->partitioned)
            (void)sched_reserve_pin(s, now);
        else if (old->partitioned)
            sched_reserve_unpin(s, now);
        /* Running vCPUs get a slice of the new kind, counted from their dispatch: counted from
         * the change, frequent switches (the metascheduler's slots, tools/vsched-meta) made
         * the running vCPUs' slices restart at every switch, and they were never descheduled
         * while the switches came faster than the slice (the others starved). */
        for (uint32_t i = 0; i < s->npcpus; i++) {
            struct sched_pcpu *p = &s->pcpus[i];
            p->preempt_check = true; /* weights, policy or parameters changed */
            if (p->curr && p->curr->state == SCHED_RUNNING && !is_strict(p->curr))
                p->slice_end_ns = add_sat(p->run_start_ns, s->policy->slice_ns(p, p->curr, now));
        }
        if (kick) { /* every decision may change (and the gang switch's kicks are among them) */
            *kick = s->all_mask;
            cpumask_or(kick, &gang_kick);
        }
    }
    if (gang_ref)
        __atomic_fetch_sub(&s->gang_refs, 1, __ATOMIC_SEQ_CST);
    for (uint32_t i = s->npcpus; i-- > 0;)
        rq_unlock(s, i);
    s->env.unlock(s->env.ctx, s->npcpus);
    return err;
}
