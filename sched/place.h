/* Placement: initial spread, strict-gang homes, idle stealing, wake-up placement, periodic
 * load balancing, moving a vCPU between pCPUs.  Uses runq.h only. */
#ifndef VSCHED_SCHED_PLACE_H
#define VSCHED_SCHED_PLACE_H

#include "sched/runq.h"


/* Claims one idle pCPU (other than SELF) that may run V and asks it to steal V: adds it to
 * *KICK; false when there was none. */
bool sched_kick_idle_for(struct sched *s, struct sched_vcpu *v, unsigned self, sched_cpumask_t *kick);
/* P (locked, nothing to run) takes a queued vCPU from another pCPU; true when P has one. */
bool sched_steal(struct sched *s, struct sched_pcpu *p, uint64_t now);
/* Busy P (locked), at its balancing tick: machine-wide fairness (place.c) may pull a queued
 * vCPU from another pCPU. */
void sched_balance(struct sched *s, struct sched_pcpu *p, uint64_t now);
/* V wakes on P: it must not come back with GPS service banked while it was blocked. */
void sched_gps_clamp_waking(struct sched_pcpu *p, struct sched_vcpu *v);
/* Waking V (blocked, P = its pCPU, locked) may move first; returns its pCPU, locked. */
struct sched_pcpu *sched_place_waking(struct sched *s, struct sched_pcpu *p, struct sched_vcpu *v,
                                      uint64_t now);
/* At sched_init: strict members on distinct homes, then every other vCPU. */
void sched_place_initial(struct sched *s);
/* Homes for VM's strict members (HOME[k] >= 0 kept); COUNT and PINNED per pCPU updated. */
void sched_place_gang(const struct sched *s, const struct sched_vm *vm, int32_t *home,
                      uint32_t *count, uint32_t *pinned);
/* The pCPU of MASK (non-empty) with the least load. */
struct sched_pcpu *sched_least_loaded(struct sched *s, const sched_cpumask_t *mask);
/* P (locked) at its decision: the vCPUs a pool move took off it while they ran (HOLD_MOVE)
 * go to the least-loaded pCPU of their affinity (locks dropped and retaken, as stealing);
 * the pCPUs to kick are added to *KICK. */
void sched_move_held_out(struct sched *s, struct sched_pcpu *p, uint64_t now, sched_cpumask_t *kick);
/* V, assigned to FROM but neither current nor queued there, moves to TO (both locked). */
void sched_move_vcpu(struct sched *s, struct sched_pcpu *from, struct sched_pcpu *to,
                     struct sched_vcpu *v, uint64_t now);

#endif
