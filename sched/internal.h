/* Helpers shared by the core files (core.c, place.c, gang.c); not for policies. */
#ifndef VSCHED_SCHED_INTERNAL_H
#define VSCHED_SCHED_INTERNAL_H

#include "sched/policy.h"

#define CPU_BIT(c) ((sched_cpumask_t)1 << (c))
#define LOAD_ONE 1024u              /* load of one always-runnable vCPU */
#define BALANCE_MARGIN (LOAD_ONE / 8) /* a move must cut the imbalance by this much */
#define BALANCE_SCAN_MAX 32         /* queued vCPUs a balancing pass looks at */

static inline uint64_t u64_min(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* __builtin_popcountll would call libgcc's __popcountdi2 without -mpopcnt. */
static inline unsigned mask_weight(sched_cpumask_t m)
{
    unsigned n = 0;
    for (; m; m &= m - 1)
        n++;
    return n;
}

static inline uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a + b < a ? UINT64_MAX : a + b;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

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
struct sched_pcpu *sched_lock_vcpu_rq(struct sched *s, struct sched_vcpu *v);

/* Queues. */
void sched_ready_add(struct sched *s, struct sched_pcpu *p, struct sched_vcpu *v);
void sched_ready_del(struct sched *s, struct sched_pcpu *p, struct sched_vcpu *v);
void sched_enqueue(struct sched *s, struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now,
             enum sched_join why);
void sched_dequeue(struct sched *s, struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now);
void sched_acct_state(struct sched_vcpu *v, enum sched_state st, uint64_t now);

/* Load tracking and placement (place.c). */
void sched_load_sync(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now);
void sched_pcpu_load_update(struct sched_pcpu *p, uint64_t now);
void sched_vcpu_load_update(struct sched_vcpu *v, uint64_t now);
sched_cpumask_t sched_kick_idle_for(struct sched *s, struct sched_vcpu *v, unsigned self);
bool sched_steal(struct sched *s, struct sched_pcpu *p, uint64_t now);
void sched_balance(struct sched *s, struct sched_pcpu *p, uint64_t now);
struct sched_pcpu *sched_place_waking(struct sched *s, struct sched_pcpu *p, struct sched_vcpu *v,
                                      uint64_t now);
void sched_place_initial(struct sched *s);
void sched_place_gang(const struct sched *s, const struct sched_vm *vm, int32_t *home,
                      uint32_t *count, uint32_t *pinned);
void sched_move_vcpu(struct sched *s, struct sched_pcpu *from, struct sched_pcpu *to,
                     struct sched_vcpu *v, uint64_t now);

/* Caps (core.c). */
int64_t sched_cap_budget(struct sched *s, struct sched_vm *vm, uint64_t now);

/* Co-scheduling (gang.c). */
static inline bool is_strict(const struct sched_vcpu *v)
{
    return v->vm->gang == SCHED_GANG_STRICT;
}
static inline bool is_relaxed(const struct sched_vcpu *v)
{
    return v->vm->gang == SCHED_GANG_RELAXED;
}
uint64_t sched_relaxed_lead(struct sched_vcpu *v, uint64_t now);
sched_cpumask_t sched_relaxed_release_kicks(struct sched *s, struct sched_vm *vm, uint64_t now);
sched_cpumask_t sched_relaxed_running_kicks(struct sched *s, struct sched_vm *vm);
uint64_t sched_relaxed_next_event(struct sched *s, struct sched_vcpu *v, uint64_t now);
void sched_gang_try_start(struct sched *s, struct sched_vm *vm, uint64_t now, sched_cpumask_t *kick);
void sched_gang_stop(struct sched *s, struct sched_vm *vm, uint64_t now, sched_cpumask_t *kick);
void sched_gang_update_on(struct sched *s, struct sched_vm *vm);
void sched_gang_force(struct sched *s, struct sched_vcpu *v, uint64_t now, sched_cpumask_t *kick);
void sched_gang_switch(struct sched *s, struct sched_vm *vm, enum sched_gang to, uint64_t now,
                       sched_cpumask_t *kick);

#endif
