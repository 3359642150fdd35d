/* Co-scheduling of a VM's vCPUs.
 *
 * strict (gang): all runnable vCPUs of the VM run together, each on its own home pCPU, or none
 *   runs.  Rendezvous with backfill: when a home pCPU's policy picks a member, the member is
 *   co-stopped (held) and the pCPU runs something else; when every runnable member has been
 *   picked, they are all forced onto their homes at once and the pCPUs to kick are returned.
 *   The gang runs for one time slice; when any member stops for a reason other than blocking
 *   (slice end, yield, cap), the whole gang stops.  Each home's policy decides when its
 *   member is picked, so the gang gets no more than its share on any of its pCPUs.
 * relaxed (VMware's relaxed co-scheduling): members run independently; progress = time
 *   running or blocked (a blocked vCPU needs no catching up).  A member whose progress leads
 *   the slowest runnable sibling by the skew threshold is co-stopped until the lead falls
 *   below half the threshold.
 * All of this runs under the machine lock (gang mode), so it may touch sibling pCPUs.
 * A VM's mode can be switched at run time (sched_gang_switch, from sched_change with every
 * lock held; sched.h explains why no entry point is then running without the machine lock). */
#include "sched/gang.h"

#include "sched/place.h"

/* Progress of a relaxed member: running + blocked time since its VM became relaxed (at setup
 * or by a switch: a lead built before the switch is not held against it). */
static uint64_t progress(const struct sched_vcpu *v, uint64_t now)
{
    uint64_t p = v->acct.running_ns + v->acct.blocked_ns;
    if ((v->state == SCHED_RUNNING || v->state == SCHED_BLOCKED) && now > v->since_ns)
        p += now - v->since_ns;
    /* Callers' clocks may be behind the one that set the base (threaded callers read theirs
     * before taking locks): no progress rather than a wrapped one. */
    return p > v->relaxed_base_ns ? p - v->relaxed_base_ns : 0;
}

uint64_t sched_relaxed_lead(struct sched_vcpu *v, uint64_t now)
{
    struct sched_vm *vm = v->vm;
    uint64_t mine = progress(v, now), least = mine;
    for (uint32_t k = 0; k < vm->nvcpus; k++) {
        struct sched_vcpu *u = &vm->vcpus[k];
        if (u->state != SCHED_BLOCKED) {
            uint64_t pu = progress(u, now);
            if (pu < least)
                least = pu;
        }
    }
    return mine - least;
}

void sched_relaxed_release_kicks(struct sched *s, struct sched_vm *vm, uint64_t now,
                                 sched_cpumask_t *kick)
{
    (void)s;
    for (uint32_t k = 0; k < vm->nvcpus; k++) {
        struct sched_vcpu *u = &vm->vcpus[k];
        if (u->hold == HOLD_LEAD && sched_relaxed_lead(u, now) < sched_vm_params(vm)->gang_skew_ns / 2)
            cpumask_set(kick, (unsigned)u->cpu);
    }
}

void sched_relaxed_running_kicks(struct sched *s, struct sched_vm *vm, sched_cpumask_t *kick)
{
    (void)s;
    for (uint32_t k = 0; k < vm->nvcpus; k++)
        if (vm->vcpus[k].state == SCHED_RUNNING)
            cpumask_set(kick, (unsigned)vm->vcpus[k].cpu);
}

/* The minimum progress of VM's runnable vCPUs and how long it keeps rising: it rises while
 * every vCPU at the minimum runs, until it reaches the progress of the slowest vCPU that
 * waits (*RISE_NS, 0 = it does not rise, UINT64_MAX = nothing waits). */
static uint64_t least_progress(struct sched_vm *vm, uint64_t now, uint64_t *rise_ns)
{
    uint64_t least = UINT64_MAX, waiting = UINT64_MAX;
    for (uint32_t k = 0; k < vm->nvcpus; k++) {
        struct sched_vcpu *u = &vm->vcpus[k];
        if (u->state == SCHED_BLOCKED)
            continue;
        uint64_t pu = progress(u, now);
        least = pu < least ? pu : least;
        if (u->state != SCHED_RUNNING && pu < waiting)
            waiting = pu;
    }
    *rise_ns = waiting == UINT64_MAX ? UINT64_MAX : waiting - least;
    return least;
}

/* When running V must be looked at again: when its lead reaches the threshold.  The lead stays
 * put while the minimum rises and grows by one ns per ns after that; a change of the running
 * set kicks V's pCPU (sched_relaxed_running_kicks) so this is recomputed.  If V is among the
 * slowest, co-stopped siblings may resume as it catches up. */
uint64_t sched_relaxed_next_event(struct sched *s, struct sched_vcpu *v, uint64_t now)
{
    (void)s;
    struct sched_vm *vm = v->vm;
    uint64_t thr = sched_vm_params(vm)->gang_skew_ns, rise;
    uint64_t least = least_progress(vm, now, &rise), lead = progress(v, now) - least;
    uint64_t t = rise == UINT64_MAX ? SCHED_NO_EVENT
                                    : add_sat(add_sat(now, rise), lead < thr ? thr - lead : 1);
    if (lead != 0)
        return t;
    for (uint32_t k = 0; k < vm->nvcpus; k++) {
        struct sched_vcpu *u = &vm->vcpus[k];
        if (u->hold != HOLD_LEAD)
            continue;
        uint64_t lu = progress(u, now) - least;
        t = u64_min(t, add_sat(now, (lu > thr / 2 ? lu - thr / 2 : 0) + 1));
    }
    return t;
}

static bool member_active(const struct sched *s, const struct sched_vcpu *u)
{
    return u->state == SCHED_RUNNING || s->pcpus[u->home].forced == u;
}

void sched_gang_update_on(struct sched *s, struct sched_vm *vm)
{
    if (!vm->gang_on)
        return;
    for (uint32_t k = 0; k < vm->nvcpus; k++)
        if (member_active(s, &vm->vcpus[k]))
            return;
    vm->gang_on = false;
}

/* HOME is about to run VM's member: a different strict gang running there must stop. */
static void claim_home(struct sched *s, struct sched_pcpu *home, struct sched_vm *vm,
                       uint64_t now, sched_cpumask_t *kick)
{
    struct sched_vm *other = home->gang_owner;
    if (other && other != vm && other->gang_on)
        sched_gang_stop(s, other, now, kick);
    home->gang_owner = vm;
    cpumask_set(kick, home->id);
}

/* How long a backfill that a co-start cut short before gets to run before the next co-start
 * may preempt it. */
static uint64_t backfill_min_ns(const struct sched_vm *vm)
{
    return u64_max(sched_vm_params(vm)->ratelimit_ns, sched_vm_params(vm)->timeslice_ns / 8);
}

/* When every runnable member has been picked on its home, the gang starts — unless a home
 * runs a backfill that the previous co-start preempted before it had run backfill_min_ns and
 * that has not run that long yet: then the start waits for it (the members stay co-stopped on
 * every home, so the gang is never partial; the homes' timers are armed for the start time,
 * see sched_gang_start_at).  Only such victims defer it, once each: fresh backfills on other
 * homes cannot keep deferring the gang.  Without this, when the homes' slices end at the same
 * instant, a vCPU that backfills a home is dispatched and preempted by the co-start at that
 * instant, every round: it starves (two hogs and a 2-vCPU gang on 3 pCPUs, 100 us slices). */
void sched_gang_try_start(struct sched *s, struct sched_vm *vm, uint64_t now, sched_cpumask_t *kick)
{
    if (vm->gang_on)
        return;
    bool any = false;
    uint64_t start = now, min = backfill_min_ns(vm);
    for (uint32_t k = 0; k < vm->nvcpus; k++) {
        const struct sched_vcpu *u = &vm->vcpus[k];
        if (u->state == SCHED_BLOCKED)
            continue;
        if (u->hold != HOLD_GANG) {
            vm->gang_start_at_ns = 0; /* retried when the last member is picked */
            return; /* a runnable member has not been picked on its pCPU yet */
        }
        any = true;
        const struct sched_pcpu *home = &s->pcpus[u->home];
        const struct sched_vcpu *b = home->curr;
        if (b && b->state == SCHED_RUNNING && !is_strict(b) && b->costart_victim)
            start = u64_max(start, home->run_start_ns + min);
    }
    if (!any) {
        vm->gang_start_at_ns = 0;
        return;
    }
    if (start > now) { /* granted once: the retry at START does not wait for them again */
        vm->gang_start_at_ns = start;
        for (uint32_t k = 0; k < vm->nvcpus; k++) {
            const struct sched_vcpu *u = &vm->vcpus[k];
            struct sched_vcpu *b = u->hold == HOLD_GANG ? s->pcpus[u->home].curr : NULL;
            if (b && b->state == SCHED_RUNNING && !is_strict(b))
                b->costart_victim = false;
        }
        return;
    }
    vm->gang_start_at_ns = 0;
    vm->gang_on = true;
    vm->gang_slice_end_ns = now + sched_vm_params(vm)->timeslice_ns;
    for (uint32_t k = 0; k < vm->nvcpus; k++) {
        struct sched_vcpu *u = &vm->vcpus[k];
        if (u->hold != HOLD_GANG)
            continue;
        struct sched_pcpu *home = &s->pcpus[u->home];
        struct sched_vcpu *b = home->curr;
        if (b && b->state == SCHED_RUNNING && !is_strict(b)) /* cut short? protected next time */
            b->costart_victim = now - home->run_start_ns < min;
        slist_del(&u->qnode); /* off the held list; runs as soon as its home reschedules */
        u->hold = HOLD_NONE;
        claim_home(s, home, vm, now, kick);
        home->forced = u;
        trace_ev(s, home->id, SCHED_TR_GANG_START, u, vm->id, now);
    }
}

uint64_t sched_gang_start_at(const struct sched_vm *vm)
{
    return vm->gang_on || !vm->gang_start_at_ns ? SCHED_NO_EVENT : vm->gang_start_at_ns;
}

void sched_gang_stop(struct sched *s, struct sched_vm *vm, uint64_t now, sched_cpumask_t *kick)
{
    vm->gang_on = false;
    vm->gang_start_at_ns = 0;
    for (uint32_t k = 0; k < vm->nvcpus; k++) {
        struct sched_vcpu *u = &vm->vcpus[k];
        struct sched_pcpu *home = &s->pcpus[u->home];
        trace_ev(s, home->id, SCHED_TR_GANG_STOP, u, vm->id, now);
        if (home->forced == u) {
            home->forced = NULL;
            if (home->gang_owner == vm)
                home->gang_owner = NULL;
            sched_enqueue(s, home, u, now, SCHED_JOIN_MOVE);
            sched_acct_state(u, SCHED_READY, now);
            cpumask_set(kick, home->id);
        } else if (u->state == SCHED_RUNNING) {
            cpumask_set(kick, home->id);
        }
    }
}

/* V woke while its gang runs: it joins at once on its home. */
void sched_gang_force(struct sched *s, struct sched_vcpu *v, uint64_t now, sched_cpumask_t *kick)
{
    struct sched_pcpu *home = &s->pcpus[v->home];
    claim_home(s, home, v->vm, now, kick);
    home->forced = v;
}

/* ---- run-time switch of a VM's mode (sched_change, every lock held) ---------------------- */

void sched_set_home(struct sched *s, struct sched_vcpu *v, int32_t home, uint64_t now)
{
    struct sched_pcpu *from = &s->pcpus[v->cpu], *to = home >= 0 ? &s->pcpus[home] : from;
    bool queued = v->queued;
    if (queued) /* off the queue first: whether it counts as stealable depends on its home */
        sched_dequeue(s, from, v, now);
    v->home = home;
    v->affinity = home >= 0 ? cpumask_of((unsigned)home) : v->vm->affinity;
    if (to != from)
        sched_move_vcpu(s, from, to, v, now);
    if (queued)
        sched_enqueue(s, to, v, now, SCHED_JOIN_MOVE);
}

/* Strict: every member gets its own home within the VM's affinity.  A member that is current
 * on a pCPU (running, or blocked there and not yet rescheduled) keeps that pCPU as its home —
 * its context is there, so it must not be handed to another pCPU; the others are placed as at
 * setup and migrate.  Running members stop at their pCPU's next decision (the gang is not on)
 * and rendezvous like any gang. */
static void pin_members(struct sched *s, struct sched_vm *vm, uint64_t now)
{
    uint32_t count[SCHED_MAX_PCPUS] = { 0 }, pinned[SCHED_MAX_PCPUS] = { 0 };
    int32_t home[SCHED_MAX_PCPUS]; /* strict: nvcpus <= weight of the affinity */
    for (uint32_t i = 0; i < s->nvcpus; i++) {
        const struct sched_vcpu *w = &s->vcpus[i];
        if (w->vm == vm)
            continue;
        count[w->cpu]++;
        if (w->home >= 0)
            pinned[w->home]++;
    }
    for (uint32_t k = 0; k < vm->nvcpus; k++) {
        struct sched_vcpu *v = &vm->vcpus[k];
        home[k] = s->pcpus[v->cpu].curr == v ? v->cpu : -1;
        if (home[k] >= 0) {
            count[home[k]]++;
            pinned[home[k]]++;
        }
    }
    sched_place_gang(s, vm, home, count, pinned);
    for (uint32_t k = 0; k < vm->nvcpus; k++)
        sched_set_home(s, &vm->vcpus[k], home[k], now);
}

void sched_gang_switch(struct sched *s, struct sched_vm *vm, enum sched_gang to, uint64_t now,
                       sched_cpumask_t *kick)
{
    enum sched_gang from = vm->gang;
    if (from == to)
        return;
    /* Leave the old mode: a running gang stops (forced members go back to their queues,
     * running ones are kicked), and every member co-stopped by it is requeued. */
    if (from == SCHED_GANG_STRICT) {
        if (vm->gang_on)
            sched_gang_stop(s, vm, now, kick);
        for (uint32_t c = 0; c < s->npcpus; c++)
            if (s->pcpus[c].gang_owner == vm)
                s->pcpus[c].gang_owner = NULL;
    }
    for (uint32_t k = 0; k < vm->nvcpus; k++) {
        struct sched_vcpu *v = &vm->vcpus[k];
        if (v->hold == HOLD_GANG || v->hold == HOLD_LEAD) {
            struct sched_pcpu *p = &s->pcpus[v->cpu];
            slist_del(&v->qnode);
            v->hold = HOLD_NONE;
            sched_enqueue(s, p, v, now, SCHED_JOIN_MOVE);
            sched_acct_state(v, SCHED_READY, now);
        }
        v->lead_hold = false;
    }
    vm->gang = to;
    vm->gang_start_at_ns = 0;
    if (to == SCHED_GANG_RELAXED) /* skew counts from now */
        for (uint32_t k = 0; k < vm->nvcpus; k++) {
            struct sched_vcpu *v = &vm->vcpus[k];
            v->relaxed_base_ns = 0;
            v->relaxed_base_ns = progress(v, now);
        }
    if (from == SCHED_GANG_STRICT)
        for (uint32_t k = 0; k < vm->nvcpus; k++)
            sched_set_home(s, &vm->vcpus[k], -1, now);
    if (to == SCHED_GANG_STRICT)
        pin_members(s, vm, now);
}
