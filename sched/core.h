/* The entry-point protocol and charging, shared by the files that implement entry points
 * (core.c: events and the decision; change.c: sched_change; observe.c: observation). */
#ifndef VSCHED_SCHED_CORE_H
#define VSCHED_SCHED_CORE_H

#include "sched/cap.h"
#include "sched/util.h"

/* Every entry point starts with sched_enter and ends with sched_leave: the machine lock while
 * some VM is gang, else a pass in the lockless counter of SLOT (any pCPU index).  Returns what
 * sched_leave must undo: -1 = the machine lock, else the slot.  Why a switch to a gang mode
 * cannot catch an entry point without the machine lock: sched.h. */
static inline int sched_enter(struct sched *s, unsigned slot)
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

static inline void sched_leave(struct sched *s, int e)
{
    if (e < 0)
        s->env.unlock(s->env.ctx, s->npcpus);
    else
        __atomic_fetch_sub(&s->pcpus[e].lockless, 1, __ATOMIC_SEQ_CST);
}

/* The slot of V's entry points: its pCPU (any value is correct; this one spreads them). */
static inline unsigned sched_vcpu_slot(const struct sched_vcpu *v)
{
    return (unsigned)__atomic_load_n(&v->cpu, __ATOMIC_RELAXED);
}
/* sched_change, before any lock, when it may make a VM gang: from now on entry points take
 * the machine lock; waits until those that started without it have left. */
void sched_gang_ref_and_drain(struct sched *s);

/* V stopped running on P (blocked, descheduled or evicted; its state is already updated):
 * its cap's running count and its strict gang's state. */
void sched_run_end(struct sched *s, struct sched_pcpu *p, struct sched_vcpu *v);

/* Charges P's current vCPU up to NOW: policy (credit burn, virtual time) and cap budget. */
static inline void sched_charge_current(struct sched *s, struct sched_pcpu *p, uint64_t now)
{
    struct sched_vcpu *v = p->curr;
    if (!v || v->state != SCHED_RUNNING || now <= p->charged_ns)
        return;
    uint64_t d = now - p->charged_ns;
    p->charged_ns = now;
    p->pool->policy->tick(p, v, d, now);
    if (sched_capped(v->vm))
        sched_cap_charge(s, v->vm, d, now);
}

#endif
