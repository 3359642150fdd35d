/* Reservations (rtds): admission and the partition of reserved vCPUs over the pCPUs.
 *
 * rtds is partitioned EDF: each reserved vCPU (a VM with rt_budget_ns > 0 reserves that budget
 * every rt_period_ns for each of its vCPUs) is pinned to one pCPU, and each pCPU runs EDF over
 * its own.  EDF on one pCPU meets every deadline when the utilizations there sum to at most 1,
 * so admission is a packing: worst-fit, largest utilization first, within each VM's affinity,
 * every pCPU of the pool at most 1 (10^6 ppm).  That implies the pool-wide rule Σ budget/period ≤ pCPUs;
 * it is stricter where the sum fits but the pieces do not (3 vCPUs of 60 % on 2 pCPUs).
 * vCPUs current on a pCPU at a run-time change keep that pCPU (their context is there): a
 * change that fits only by moving a running vCPU is refused too (retry once it has moved).
 * Strict gang members keep their gang homes and are not part of the packing (only of the sum).
 *
 * sched_reserve_pack is pure (rtds.c validates with it); the rest is the core's. */
#ifndef VSCHED_SCHED_RESERVE_H
#define VSCHED_SCHED_RESERVE_H

#include "sched/policy.h"

#define SCHED_RSV_FULL_PPM 1000000u

/* budget / period in ppm, rounded up; 0 without a reservation. */
uint32_t sched_util_ppm(uint64_t budget_ns, uint64_t period_ns);

/* Packs A's reserved vCPUs onto its pool's pCPUs.  FIXED(ctx, vm, k) >= 0: that vCPU stays on
 * that pCPU; ASSIGN (may be NULL) is told every packed vCPU's pCPU.  Returns SCHED_OK or
 * SCHED_E_ADMIT (then ASSIGN may have been called for some: callers validate with ASSIGN NULL
 * first). */
int sched_reserve_pack(const struct sched_admit *a,
                       int32_t (*fixed)(void *ctx, uint32_t vm, uint32_t k),
                       void (*assign)(void *ctx, uint32_t vm, uint32_t k, int32_t cpu), void *ctx);

/* Pool POOL of S as change C (NULL: none) would leave it: its pCPUs, and its VMs' vCPUs,
 * reservations, affinities (within the pool) and packing, into OUT. */
void sched_admit_view(const struct sched *s, uint32_t pool, const struct sched_change *c,
                      struct sched_admit *out);
/* The pCPU vCPU K of VM is current on, if that pCPU is in A's pool (it must keep it), or -1. */
int32_t sched_reserve_current(const struct sched_admit *a, uint32_t vm, uint32_t k);

/* Core: at sched_init (no vCPU has run), pin POOL's reserved vCPUs where the packing puts them. */
void sched_reserve_place_initial(struct sched *s, const struct sched_pool *pool);
/* Core, sched_change with every lock held: pin POOL's reserved vCPUs (again) as the packing
 * says, unpin its others; or unpin every vCPU of POOL the reservation pinned (the pool leaves a
 * partitioned policy).  Returns SCHED_E_ADMIT, leaving pins as they were, if the packing fails. */
int sched_reserve_pin(struct sched *s, const struct sched_pool *pool, uint64_t now);
void sched_reserve_unpin(struct sched *s, const struct sched_pool *pool, uint64_t now);

#endif
