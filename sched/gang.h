/* Co-scheduling: strict gangs (rendezvous with backfill) and relaxed co-scheduling, and the
 * run-time switch of a VM's mode.  Runs under the machine lock.  Uses runq.h and place.h. */
#ifndef VSCHED_SCHED_GANG_H
#define VSCHED_SCHED_GANG_H

#include "sched/runq.h"

static inline bool is_strict(const struct sched_vcpu *v)
{
    return v->vm->gang == SCHED_GANG_STRICT;
}
static inline bool is_relaxed(const struct sched_vcpu *v)
{
    return v->vm->gang == SCHED_GANG_RELAXED;
}

/* Relaxed: V's progress lead over the slowest runnable sibling, the pCPUs to kick when held
 * siblings may resume or running ones must re-time (added to *KICK), and when running V must be looked at. */
uint64_t sched_relaxed_lead(struct sched_vcpu *v, uint64_t now);
void sched_relaxed_release_kicks(struct sched *s, struct sched_vm *vm, uint64_t now,
                                 sched_cpumask_t *kick);
void sched_relaxed_running_kicks(struct sched *s, struct sched_vm *vm, sched_cpumask_t *kick);
uint64_t sched_relaxed_next_event(struct sched *s, struct sched_vcpu *v, uint64_t now);

/* Strict: start the gang when every runnable member is held on its home; stop it; recompute
 * whether it is on; force a member that woke while its gang runs onto its home. */
void sched_gang_try_start(struct sched *s, struct sched_vm *vm, uint64_t now, sched_cpumask_t *kick);
void sched_gang_stop(struct sched *s, struct sched_vm *vm, uint64_t now, sched_cpumask_t *kick);
void sched_gang_update_on(struct sched *s, struct sched_vm *vm);
void sched_gang_force(struct sched *s, struct sched_vcpu *v, uint64_t now, sched_cpumask_t *kick);
/* A co-start deferred for a backfill (sched_gang_try_start): when it is due, else NO_EVENT. */
uint64_t sched_gang_start_at(const struct sched_vm *vm);

/* Every lock held: V gets the home HOME (-1: none) and the matching affinity, moving it there
 * (strict members; reserve.c pins reserved vCPUs with it).  V is not current on any pCPU
 * unless HOME is where it is current. */
void sched_set_home(struct sched *s, struct sched_vcpu *v, int32_t home, uint64_t now);

/* sched_change, every lock held: VM's mode becomes TO. */
void sched_gang_switch(struct sched *s, struct sched_vm *vm, enum sched_gang to, uint64_t now,
                       sched_cpumask_t *kick);

#endif
