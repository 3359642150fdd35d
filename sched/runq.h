/* Runqueue primitives, the leaf of the core files: runqueue locks, the per-vCPU accounting
 * state, a pCPU's ready and held lists (with the policy's queue behind them) and the runnable
 * load they carry.  Used by core.c, place.c, gang.c, change.c, observe.c; uses nothing but the
 * policy interface. */
#ifndef VSCHED_SCHED_RUNQ_H
#define VSCHED_SCHED_RUNQ_H

#include "sched/policy.h"
#include "sched/util.h"

#define LOAD_ONE 1024u              /* load of one always-runnable vCPU */

/* Locks (see the contract in sched.h). */
static inline void rq_lock(struct sched *s, unsigned cpu)
{
    s->env.lock(s->env.ctx, cpu);
}
static inline void rq_unlock(struct sched *s, unsigned cpu)
{
    s->env.unlock(s->env.ctx, cpu);
}
void sched_rq_lock_two(struct sched *s, unsigned a, unsigned b);
void sched_rq_unlock_two(struct sched *s, unsigned a, unsigned b);
/* Locks the runqueue V belongs to (V may migrate while we wait; re-checked). */
struct sched_pcpu *sched_lock_vcpu_rq(struct sched *s, struct sched_vcpu *v);

/* Adds the time since V's last state change to the bucket of its state, then enters ST. */
void sched_acct_state(struct sched_vcpu *v, enum sched_state st, uint64_t now);

/* The ready list (what stealing and balancing see) and the policy's queue. */
void sched_ready_add(struct sched *s, struct sched_pcpu *p, struct sched_vcpu *v);
void sched_ready_del(struct sched *s, struct sched_pcpu *p, struct sched_vcpu *v);
void sched_enqueue(struct sched *s, struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now,
                   enum sched_join why);
void sched_dequeue(struct sched *s, struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now);

/* The held list: V (runnable, out of the policy, neither queued nor current) waits on P for
 * WHY to go away; unhold takes it off (it stays runnable). */
void sched_hold(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now, enum sched_hold why);
void sched_unhold(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now);

/* Load: an exponentially decaying average of "runnable" (half-life 32 ms), per vCPU and per
 * pCPU; linear, so a pCPU's load is the sum of its vCPUs'.  A vCPU parked by a cap does not
 * count (its demand is the cap). */
bool sched_counts_as_load(const struct sched_vcpu *v);
void sched_vcpu_load_update(struct sched_vcpu *v, uint64_t now);
void sched_pcpu_load_update(struct sched_pcpu *p, uint64_t now);
/* Call before anything changes whether V counts as load on P. */
void sched_load_sync(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now);

#endif
