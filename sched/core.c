/* The scheduler core: the events (wake, block, yield) and the per-pCPU decision, with the
 * entry-point protocol of sched.h.  Queues and load are runq.c, placement and balancing
 * place.c, co-scheduling gang.c, caps cap.c, set-up setup.c, parameter changes change.c,
 * observation observe.c, policies in their own files. */
#include "sched/core.h"

#include "sched/assert.h"
#include "sched/cap.h"
#include "sched/gang.h"
#include "sched/place.h"
#include "sched/runq.h"

/* ---- the entry-point protocol (sched.h) ---------------------------------------------------- */

void sched_gang_ref_and_drain(struct sched *s)
{
    __atomic_fetch_add(&s->gang_refs, 1, __ATOMIC_SEQ_CST);
    for (uint32_t c = 0; c < s->npcpus; c++)
        while (LOAD_ATOMIC(s->pcpus[c].lockless))
            cpu_relax();
}

/* ---- the current vCPU ------------------------------------------------------------------------ */

/* V stopped running on P (it blocked or was descheduled; its state is already updated). */
void sched_run_end(struct sched *s, struct sched_pcpu *p, struct sched_vcpu *v)
{
    sched_cap_running_add(s, v->vm, -1);
    if (is_strict(v)) {
        if (p->gang_owner == v->vm)
            p->gang_owner = NULL;
        sched_gang_update_on(s, v->vm);
    }
}

/* Must the running V stop regardless of the policy?  Returns the hold it goes to. */
static enum sched_hold must_stop(struct sched *s, struct sched_vcpu *v, uint64_t now)
{
    if (sched_capped(v->vm) && sched_cap_budget(s, v->vm, now) <= 0)
        return HOLD_CAP;
    if (is_relaxed(v) && sched_relaxed_lead(v, now) >= sched_vm_params(v->vm)->gang_skew_ns)
        return HOLD_LEAD;
    return HOLD_NONE;
}

static bool keep_current(struct sched *s, struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    (void)s;
    if (v->yield || p->forced)
        return false;
    if (is_strict(v)) /* strict members stop with their gang, never alone */
        return v->vm->gang_on && now < v->vm->gang_slice_end_ns;
    if (now >= p->slice_end_ns)
        return false;
    /* The running vCPU is preempted only for a reason: a vCPU joined the queue (woke, came
     * back from a cap or co-stop, migrated in), or the policy's own recheck time came.  Other
     * decisions (balancing ticks, kicks to steal, timers of other vCPUs) keep it: otherwise
     * how long a vCPU runs would depend on when unrelated events happen to call the
     * decision (credit's UNDER-over-OVER check at every 10 ms balancing tick preempted
     * identical periodic VMs mid-burst and their remainders were stolen, for ever). */
    if (!p->preempt_check && now < p->recheck_at_ns)
        return true;
    enum sched_preempt pre = p->pool->policy->preempts(p, v, now);
    if (pre == SCHED_KEEP)
        return true;
    uint64_t allowed = p->run_start_ns + p->pool->params.ratelimit_ns;
    if (pre == SCHED_PREEMPT && now < allowed) {
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
        p->pool->policy->sleep(p, v, now);
        sched_hold(p, v, now, stop);
    } else {
        p->pool->policy->put_prev(p, v, now, yielded);
        sched_ready_add(s, p, v);
        sched_acct_state(v, SCHED_READY, now);
    }
    if (!yielded)
        v->acct.preemptions++; /* undone in dispatch if V is picked again at once */
    p->prev_preempted = !yielded;
    sched_run_end(s, p, v);
    if (is_strict(v) && v->vm->gang_on)
        sched_gang_stop(s, v->vm, now, kick);
    if (is_relaxed(v)) { /* the slowest may have stopped: running siblings recompute deadlines */
        sched_relaxed_release_kicks(s, v->vm, now, kick);
        sched_relaxed_running_kicks(s, v->vm, kick);
    }
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
            go = sched_cap_release(s, v->vm, now);
        else if (v->hold == HOLD_LEAD)
            go = sched_relaxed_lead(v, now) < sched_vm_params(v->vm)->gang_skew_ns / 2;
        else if (v->hold == HOLD_GANG && sched_gang_start_at(v->vm) <= now)
            sched_gang_try_start(s, v->vm, now, kick); /* a deferred co-start is due */
        if (!go)
            continue;
        sched_unhold(p, v, now);
        sched_enqueue(s, p, v, now, SCHED_JOIN_MOVE);
        sched_acct_state(v, SCHED_READY, now);
        sched_kick_idle_for(s, v, p->id, kick);
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
            p->pool->policy->wake(p, v, now, SCHED_JOIN_CURRENT);
            return v;
        }
        v = p->pool->policy->pick_next(p, now);
        if (!v) {
            if (steals++ < 2 && sched_steal(s, p, now))
                continue;
            return NULL;
        }
        sched_ready_del(s, p, v);
        if (sched_capped(v->vm) && sched_cap_budget(s, v->vm, now) <= 0) {
            p->pool->policy->sleep(p, v, now);
            sched_hold(p, v, now, HOLD_CAP);
            continue;
        }
        if (is_strict(v) && !v->vm->gang_on) {
            /* Rendezvous: the member waits (co-stopped) until every runnable sibling has
             * been picked on its own pCPU; meanwhile this pCPU backfills. */
            p->pool->policy->sleep(p, v, now);
            sched_hold(p, v, now, HOLD_GANG);
            sched_gang_try_start(s, v->vm, now, kick);
            continue;
        }
        if (is_relaxed(v)) {
            uint64_t limit = sched_vm_params(v->vm)->gang_skew_ns >> (v->lead_hold ? 1 : 0);
            if (sched_relaxed_lead(v, now) >= limit) {
                p->pool->policy->sleep(p, v, now);
                sched_hold(p, v, now, HOLD_LEAD);
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
        /* Runnable, on this pCPU, off every list; a strict member only with its gang on. */
        SCHED_ASSERT(next->cpu == (int32_t)p->id && !next->queued && next->hold == HOLD_NONE &&
                     next->state != SCHED_BLOCKED && (!is_strict(next) || next->vm->gang_on));
        if (next == prev) {
            if (p->prev_preempted)
                next->acct.preemptions--; /* picked again: it was not preempted after all */
        } else {
            next->acct.runs++;
            trace_ev(s, p->id, SCHED_TR_DISPATCH, next, 0, now);
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
        sched_cap_running_add(s, next->vm, 1);
        if (is_strict(next)) {
            p->gang_owner = next->vm;
            p->slice_end_ns = next->vm->gang_slice_end_ns;
        } else {
            p->slice_end_ns = add_sat(now, p->pool->policy->slice_ns(p, next, now));
        }
        if (p->next_balance_ns <= now)
            p->next_balance_ns = now + p->pool->params.balance_ns;
        if (s->weight_per == SCHED_WEIGHT_PER_VM) /* its VM's active vCPUs may have changed */
            sched_reweight(s, p, next, sched_vcpu_weight_now(next), now);
    }
}

/* Hands P's surplus queued vCPUs to idle pCPUs (each claimed pCPU steals one): whatever made
 * them wait here — a wake-up, a preemption, a release — no pCPU idles while they could run.
 * Costs one atomic load when no pCPU is idle; walks the queue only while one is. */
static sched_cpumask_t offer_surplus(struct sched *s, struct sched_pcpu *p)
{
    sched_cpumask_t kick = cpumask_none();
    struct slist *pos;
    slist_for_each(pos, &p->ready) {
        sched_cpumask_t idle = cpumask_atomic_load(&s->idle_mask);
        if (!cpumask_any_but(&idle, p->id))
            break;
        sched_kick_idle_for(s, SCHED_CONTAINER_OF(pos, struct sched_vcpu, qnode), p->id, &kick);
    }
    return kick;
}

static uint64_t next_event(struct sched *s, struct sched_pcpu *p, uint64_t now)
{
    uint64_t t = SCHED_NO_EVENT;
    struct sched_vcpu *v = p->curr;
    if (v && v->state == SCHED_RUNNING) {
        t = u64_min(p->slice_end_ns, p->preempt_at_ns);
        if (sched_capped(v->vm))
            t = u64_min(t, sched_cap_stop_ns(s, v->vm, now));
        if (is_relaxed(v))
            t = u64_min(t, sched_relaxed_next_event(s, v, now));
        if (p->pool->policy->recheck_ns && !is_strict(v)) {
            p->recheck_at_ns = p->pool->policy->recheck_ns(p, v, now);
            t = u64_min(t, p->recheck_at_ns);
        }
        if (p->pool->params.balance_ns)
            t = u64_min(t, p->next_balance_ns);
    } else if (p->nr_ready && p->pool->policy->idle_recheck_ns) {
        t = u64_min(t, p->pool->policy->idle_recheck_ns(p, now)); /* queued, none may run yet */
    }
    struct slist *pos;
    slist_for_each(pos, &p->held) {
        struct sched_vcpu *h = SCHED_CONTAINER_OF(pos, struct sched_vcpu, qnode);
        if (h->hold == HOLD_CAP)
            t = u64_min(t, sched_cap_release_ns(s, h->vm, now));
        else if (h->hold == HOLD_GANG && sched_gang_start_at(h->vm) > now)
            t = u64_min(t, sched_gang_start_at(h->vm));
    }
    /* An event already due means: decide again at once.  It happens when this decision comes
     * after the event was set — a strict member forced by a co-start on another pCPU and
     * dispatched here after its gang's slice ended, or state stamped by a caller whose clock
     * is ahead of this pCPU's (a cap's budget, callers read their clocks before taking
     * locks): the next decision, 1 ns on, acts on it (stops the gang, releases the cap). */
    return t > now ? t : now + 1;
}

/* ---- entry points ----------------------------------------------------------------------------- */

void sched_schedule(struct sched *s, unsigned cpu, uint64_t now, struct sched_decision *out)
{
    struct sched_pcpu *p = &s->pcpus[cpu];
    sched_cpumask_t kick = cpumask_none();
    int e = sched_enter(s, cpu);
    rq_lock(s, cpu);
    if (now < p->last_now_ns)
        now = p->last_now_ns;
    p->last_now_ns = now;
    p->preempt_at_ns = SCHED_NO_EVENT;
    p->prev_preempted = false;
    if (p->curr && p->curr->state == SCHED_RUNNING && p->pool->params.balance_ns &&
        now >= p->next_balance_ns)
        sched_balance(s, p, now);
    release_held(s, p, now, &kick);
    sched_move_held_out(s, p, now, &kick);

    struct sched_vcpu *prev = p->curr, *next = NULL;
    bool kept = false, descheduled = false;
    uint64_t preempt_arg = 0; /* trace: yielded, held */
    if (prev) {
        if (prev->state == SCHED_RUNNING) {
            sched_charge_current(s, p, now);
            enum sched_hold stop = must_stop(s, prev, now);
            /* Out of budget at the end of its slice (or yielding): it would stop anyway, so it
             * goes back to the queue, not to the cap's hold — parked only if it is picked
             * before it has earned (choose_next).  Parked at every slice end, a VM capped at
             * exactly its fair share lost its turn and its credit each time (49.5 %). */
            if (stop == HOLD_CAP && (prev->yield || now >= p->slice_end_ns) && !is_strict(prev))
                stop = HOLD_NONE;
            if (stop == HOLD_NONE && keep_current(s, p, prev, now)) {
                kept = true;
            } else {
                descheduled = true;
                preempt_arg = (prev->yield ? 1u : 0u) | (stop != HOLD_NONE ? 2u : 0u);
                deschedule(s, p, prev, now, stop, &kick);
            }
        } else {
            p->curr = NULL; /* it blocked while running: sched_vcpu_block did the rest */
        }
    }
    if (kept) {
        next = prev;
        if (is_relaxed(prev))
            sched_relaxed_release_kicks(s, prev->vm, now, &kick);
    } else {
        next = choose_next(s, p, now, &kick);
        if (!next) {
            /* Going idle.  Publish it first, then look once more: a wake-up on another
             * pCPU either sees our idle bit or we see its queued vCPU. */
            cpumask_atomic_set(&s->idle_mask, cpu);
            sched_cpumask_t ready = cpumask_atomic_load(&s->ready_mask);
            if (cpumask_any_but(&ready, cpu) && sched_steal(s, p, now))
                next = choose_next(s, p, now, &kick);
        }
        /* Traced once the choice is made: picked again at once, it was not preempted. */
        if (descheduled && next != prev)
            trace_ev(s, cpu, SCHED_TR_PREEMPT, prev, preempt_arg, now);
        dispatch(s, p, prev, next, now);
    }
    if (next)
        cpumask_atomic_clear(&s->idle_mask, cpu);
    sched_cpumask_t surplus = offer_surplus(s, p);
    cpumask_or(&kick, &surplus);
    /* Claimed to steal a vCPU but found other work: pass the claim on.  (Only the hint's home
     * and affinity are read, stable under our runqueue lock; the pCPU that takes the claim
     * re-checks under locks.) */
    struct sched_vcpu *hint = __atomic_exchange_n(&p->steal_hint, NULL, __ATOMIC_SEQ_CST);
    if (hint && next && hint != next)
        sched_kick_idle_for(s, hint, p->id, &kick);
    out->run = next;
    out->switched = next != prev;
    /* Checked (or a deferred preemption is armed: preempt_at_ns brings the check back). */
    p->preempt_check = p->preempt_at_ns != SCHED_NO_EVENT;
    p->recheck_at_ns = SCHED_NO_EVENT;
    out->next_event_ns = next_event(s, p, now);
    SCHED_ASSERT(out->next_event_ns > now); /* a timer in the past would fire for ever */
    SCHED_ASSERT(!next || next->state == SCHED_RUNNING);
    cpumask_clear(&kick, cpu);
    out->kick = kick;
    trace_kicks(s, cpu, &kick, now);
    p->next_event_ns = out->next_event_ns;
    rq_unlock(s, cpu);
    sched_leave(s, e);
}

sched_cpumask_t sched_vcpu_wake(struct sched *s, struct sched_vcpu *v, uint64_t now)
{
    sched_cpumask_t kick = cpumask_none();
    int e = sched_enter(s, sched_vcpu_slot(v));
    struct sched_pcpu *p = sched_lock_vcpu_rq(s, v);
    if (v->state == SCHED_BLOCKED)
        p = sched_place_waking(s, p, v, now);
    if (v->state == SCHED_BLOCKED && v->move_fresh) { /* a pool move while it was blocked */
        p->pool->policy->init_vcpu(p, v, now);
        v->move_fresh = false;
    }
    if (v->state == SCHED_BLOCKED) {
        trace_ev(s, p->id, SCHED_TR_WAKE, v, p->curr == v, now); /* 1: still current */
        __atomic_fetch_add(&v->vm->active, 1, __ATOMIC_RELAXED);
        v->weight = sched_vcpu_weight_now(v); /* out of the policy while blocked */
        sched_gps_clamp_waking(p, v);
        sched_runnable_join(p, v, now);
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
            p->pool->policy->wake(p, v, now, SCHED_JOIN_CURRENT);
            p->charged_ns = now;
            sched_cap_running_add(s, v->vm, 1);
            if (is_strict(v))
                p->gang_owner = v->vm; /* if its gang stopped, the pCPU's decision stops it */
            cpumask_set(&kick, p->id);
        } else if (is_strict(v) && v->vm->gang_on) {
            sched_gang_force(s, v, now, &kick); /* its gang is running: join it now */
        } else {
            bool check = p->preempt_check;
            /* The running vCPU's time up to now counts in the comparison: charged now, so
             * that the answer does not depend on when it was charged last. */
            sched_charge_current(s, p, now);
            sched_enqueue(s, p, v, now, SCHED_JOIN_WAKE);
            p->preempt_check = check; /* a waker preempts now or not at all (keep_current) */
            struct sched_vcpu *cur = p->curr;
            if (!cur || cur->state != SCHED_RUNNING)
                cpumask_set(&kick, p->id);
            else if (!is_strict(cur) && p->pool->policy->preempts(p, cur, now) != SCHED_KEEP)
                cpumask_set(&kick, p->id), p->preempt_check = true;
            else if (!is_strict(cur) && p->pool->policy->recheck_ns &&
                     p->pool->policy->recheck_ns(p, cur, now) < p->next_event_ns)
                cpumask_set(&kick, p->id); /* its timer must come earlier */
            else
                sched_kick_idle_for(s, v, p->id, &kick);
        }
        if (is_relaxed(v)) /* the laggard set changed: running siblings recompute deadlines */
            sched_relaxed_running_kicks(s, v->vm, &kick);
    }
    trace_kicks(s, p->id, &kick, now);
    rq_unlock(s, p->id);
    sched_leave(s, e);
    return kick;
}

void sched_vcpu_charge(struct sched *s, struct sched_vcpu *owner, unsigned cpu, uint64_t ns,
                       uint64_t now)
{
    if (!ns || cpu >= s->npcpus)
        return;
    int e = sched_enter(s, sched_vcpu_slot(owner));
    struct sched_pcpu *p = &s->pcpus[cpu];
    rq_lock(s, cpu);
    struct sched_vcpu *r = p->curr;
    if (r && r != owner && r->state == SCHED_RUNNING) {
        /* Move its run's accounting and charge marks past the time it did not have. */
        uint64_t mark = r->since_ns > p->charged_ns ? r->since_ns : p->charged_ns;
        uint64_t d = now > mark ? now - mark : 0;
        d = d < ns ? d : ns;
        sched_acct_state(r, SCHED_RUNNING, now - d); /* its running time up to the cut */
        r->acct.ready_ns += d;
        r->since_ns = now;
        if (p->charged_ns < now - d)
            sched_charge_current(s, p, now - d);
        /* Nobody's service in the policy either: a clock of service that went on over the
         * cut would hand R lag that no vCPU paid for (Bochs: a 1 ms timer VM beside two
         * hogs under pshare, p99 wake-up 128 us -> 2 ms). */
        if (p->pool->policy->unserved)
            p->pool->policy->unserved(p, now - d, now); /* charged_ns == now - d here */
        p->charged_ns = now;
    }
    rq_unlock(s, cpu);
    struct sched_pcpu *op = sched_lock_vcpu_rq(s, owner);
    owner->acct.charged_ns += ns;
    if (owner->state == SCHED_BLOCKED && op->pool->policy->charge)
        op->pool->policy->charge(op, owner, ns, now); /* as if it had run: credit, lag, pass */
    if (sched_capped(owner->vm))
        sched_cap_charge(s, owner->vm, ns, now);
    rq_unlock(s, op->id);
    sched_leave(s, e);
}

sched_cpumask_t sched_vcpu_block(struct sched *s, struct sched_vcpu *v, uint64_t now)
{
    sched_cpumask_t kick = cpumask_none();
    int e = sched_enter(s, sched_vcpu_slot(v));
    struct sched_pcpu *p = sched_lock_vcpu_rq(s, v);
    if (v->state != SCHED_BLOCKED)
        trace_ev(s, p->id, SCHED_TR_BLOCK, v, v->state == SCHED_RUNNING, now);
    if (v->state == SCHED_RUNNING) {
        sched_charge_current(s, p, now);
        __atomic_fetch_sub(&v->vm->active, 1, __ATOMIC_RELAXED);
        sched_runnable_leave(p, v, now);
        p->pool->policy->sleep(p, v, now);
        sched_acct_state(v, SCHED_BLOCKED, now);
        v->yield = false;
        sched_run_end(s, p, v);
        cpumask_set(&kick, p->id);
    } else if (v->state != SCHED_BLOCKED) {
        __atomic_fetch_sub(&v->vm->active, 1, __ATOMIC_RELAXED);
        if (v->hold != HOLD_CAP)
            sched_runnable_leave(p, v, now);
        if (v->queued) {
            sched_dequeue(s, p, v, now);
        } else if (v->hold != HOLD_NONE) {
            slist_del(&v->qnode);
            v->hold = HOLD_NONE;
        } else if (p->forced == v) { /* forced by a gang co-start, not yet running */
            p->forced = NULL;
            p->gang_owner = NULL;
            cpumask_set(&kick, p->id);
        }
        sched_acct_state(v, SCHED_BLOCKED, now);
        if (is_strict(v))
            sched_gang_update_on(s, v->vm);
    }
    v->waking = false;
    if (is_strict(v) && !v->vm->gang_on)
        sched_gang_try_start(s, v->vm, now, &kick); /* the others may have been waiting for it */
    if (is_relaxed(v)) { /* the slowest set changed: resume or re-time the siblings */
        sched_relaxed_release_kicks(s, v->vm, now, &kick);
        sched_relaxed_running_kicks(s, v->vm, &kick);
    }
    trace_kicks(s, p->id, &kick, now);
    rq_unlock(s, p->id);
    sched_leave(s, e);
    return kick;
}

sched_cpumask_t sched_vcpu_yield(struct sched *s, struct sched_vcpu *v, uint64_t now)
{
    (void)now;
    sched_cpumask_t kick = cpumask_none();
    int e = sched_enter(s, sched_vcpu_slot(v));
    struct sched_pcpu *p = sched_lock_vcpu_rq(s, v);
    if (v->state == SCHED_RUNNING) {
        v->yield = true;
        kick = cpumask_of(p->id);
        trace_kicks(s, p->id, &kick, now);
    }
    rq_unlock(s, p->id);
    sched_leave(s, e);
    return kick;
}

