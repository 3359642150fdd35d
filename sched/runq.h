/* Runqueue primitives, the leaf of the core files: runqueue locks, the per-vCPU accounting
 * state, a pCPU's ready and held lists (with the policy's queue behind them) and the runnable
 * load they carry.  Used by core.c, place.c, gang.c, change.c, observe.c; uses nothing but the
 * policy interface. */
#ifndef VSCHED_SCHED_RUNQ_H
#define VSCHED_SCHED_RUNQ_H

#include "sched/policy.h"
#include "sched/trace.h"
#include "sched/util.h"

/* Trace events (trace.h): one predictable branch while tracing is off. */
void sched_trace_emit(struct sched *s, unsigned cpu, unsigned type, const struct sched_vcpu *v,
                      uint64_t arg, uint64_t now);
void sched_trace_kicks(struct sched *s, unsigned cpu, const sched_cpumask_t *kick, uint64_t now);
uint32_t sched_trace_ring_events(uint32_t n);
static inline bool tracing(const struct sched *s)
{
    return __builtin_expect(__atomic_load_n(&s->trace_on, __ATOMIC_RELAXED) != 0, 0);
}
static inline void trace_ev(struct sched *s, unsigned cpu, unsigned type,
                            const struct sched_vcpu *v, uint64_t arg, uint64_t now)
{
    if (tracing(s))
        sched_trace_emit(s, cpu, type, v, arg, now);
}
static inline void trace_kicks(struct sched *s, unsigned cpu, const sched_cpumask_t *kick,
                               uint64_t now)
{
    if (tracing(s))
        sched_trace_kicks(s, cpu, kick, now);
}

#define LOAD_ONE 1024u              /* load of one always-runnable vCPU of the default weight */

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

/* The weight V competes with now: its VM's, or with weight_per = vm the VM's shared by its
 * active (runnable) vCPUs, at least 1. */
static inline uint32_t sched_vcpu_weight_now(const struct sched_vcpu *v)
{
    const struct sched_vm *vm = v->vm;
    if (vm->s->weight_per != SCHED_WEIGHT_PER_VM)
        return vm->weight;
    uint32_t n = __atomic_load_n(&vm->active, __ATOMIC_RELAXED);
    uint32_t w = vm->weight / (n ? n : 1);
    return w ? w : 1;
}

/* V (on P, locked) competes with WEIGHT from now: re-entered into the policy (running or
 * queued) and into P's runnable set. */
void sched_reweight(struct sched *s, struct sched_pcpu *p, struct sched_vcpu *v, uint32_t weight,
                    uint64_t now);

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

/* The runnable set of a pCPU: its runnable vCPUs but those parked by a cap (their demand is
 * the cap).  Join before and leave before V's state changes (the time up to NOW is counted
 * with the old state).  Each join and leave keeps, for that pCPU:
 *   load        an exponentially decaying average of the runnable weight (half-life 32 ms,
 *               LOAD_ONE per vCPU of the default weight), and per vCPU the average of
 *               "runnable" (LOAD_ONE = always); linear, so a pCPU's load is the sum of its
 *               vCPUs' (load x weight / default)
 *   GPS clock   the service per unit weight that fluid sharing (GPS) gives each member:
 *               advances by dt / the runnable weight; each vCPU adds up the advances while it
 *               is a member — its machine-wide "GPS service", compared across pCPUs by the
 *               balancer (place.c) for machine-wide fairness. */
bool sched_counts_as_load(const struct sched_vcpu *v);
void sched_runnable_join(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now);
void sched_runnable_leave(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now);
/* V's weight becomes WEIGHT (it may be in P's runnable set). */
void sched_runnable_reweight(struct sched_pcpu *p, struct sched_vcpu *v, uint32_t weight,
                             uint64_t now);
void sched_vcpu_load_update(struct sched_vcpu *v, uint64_t now);
void sched_pcpu_load_update(struct sched_pcpu *p, uint64_t now);
/* V's load in pCPU load units (weighted). */
uint64_t sched_vcpu_weighted_load(const struct sched_vcpu *v);
/* V (neither running nor queued: blocked, or being moved) leaves P's clock behind: its GPS
 * service becomes what it actually received (run time / weight).  Called when V migrates:
 * the service GPS counted on the old pCPU but the policy had not yet given it (or had given
 * in advance) is settled, so machine-wide fairness sees real service, and V joins the new
 * pCPU neutral (SCHED_JOIN_MIGRATE). */
void sched_gps_settle(struct sched_vcpu *v);
/* V's GPS service up to NOW (P = V's pCPU, locked), VT units per unit weight. */
uint64_t sched_gps_service(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now);
/* V has been runnable nearly all the time lately (its load >= 7/8, or runnable without a
 * break for ALWAYS_RUNNABLE_NS): a candidate for the machine-wide fairness comparison, in
 * which only such vCPUs take part. */
#define ALWAYS_RUNNABLE_NS 10000000ull
bool sched_always_runnable(const struct sched_vcpu *v, uint64_t now);

#endif
