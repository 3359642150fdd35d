/* Caps: percent of one pCPU for a whole VM, from a budget shared by its vCPUs (VM lock).
 * Policy independent; used by core.c (charging, parking, timers) and change.c. */
#ifndef VSCHED_SCHED_CAP_H
#define VSCHED_SCHED_CAP_H

#include "sched/policy.h"

static inline bool sched_capped(const struct sched_vm *vm)
{
    return vm->cap_pct != 0;
}

/* Sets VM's cap (at setup or by sched_change): a full budget from NOW. */
void sched_cap_set(struct sched *s, struct sched_vm *vm, uint32_t cap_pct, uint64_t now);
/* The budget left at NOW, ns (<= 0: out of budget). */
int64_t sched_cap_budget(struct sched *s, struct sched_vm *vm, uint64_t now);
/* Charges RAN ns of run time of one of VM's vCPUs. */
void sched_cap_charge(struct sched *s, struct sched_vm *vm, uint64_t ran, uint64_t now);
/* One more (D = 1) or one fewer (D = -1) of VM's vCPUs running. */
void sched_cap_running_add(struct sched *s, struct sched_vm *vm, int d);
/* May a vCPU of VM parked by the cap run again at NOW? */
bool sched_cap_release(struct sched *s, struct sched_vm *vm, uint64_t now);
/* When a running vCPU of VM runs out of budget, and when parked ones may run again. */
uint64_t sched_cap_stop_ns(struct sched *s, struct sched_vm *vm, uint64_t now);
uint64_t sched_cap_release_ns(struct sched *s, struct sched_vm *vm, uint64_t now);

#endif
