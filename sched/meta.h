/* The metascheduler's four weighting rules ("Improving Performance with Metaschedulers"):
 * pure integer arithmetic, shared by the VMM (vmm/meta.c, from a profile file) and the
 * simulator experiment (tools/vsched-meta), so both compute the same slots from one profile.
 * VM i's preferred policy then runs for t_i = n * t_b * w_i (w_i its weight over the sum). */
#ifndef VSCHED_SCHED_META_H
#define VSCHED_SCHED_META_H

#include <stdint.h>

enum sched_meta_rule {
    SCHED_META_ROUND_ROBIN,   /* w_i = 1 */
    SCHED_META_DELTA,         /* by the p99 the VM has under the general scheduler */
    SCHED_META_BENEFIT,       /* by the throughput gain of its preferred policy over the general */
    SCHED_META_DELTA_BENEFIT, /* the product of the two, normalised */
    SCHED_META_RULES
};
#define SCHED_META_RULE_NAMES "round-robin", "delta", "benefit", "delta-benefit"

/* One VM's profile: what it got under the general scheduler and under its preferred policy. */
struct sched_meta_vm {
    uint64_t general_p99_ns;
    uint64_t general_thr_ppm;    /* throughput, millionths of a pCPU */
    uint64_t preferred_thr_ppm;
};

#define SCHED_META_BENEFIT_MIN_PPM 1000 /* a gain below 0.1 % (or a loss) counts as 0.1 % */

/* Weights of N VMs by RULE into WEIGHT_PPM[n]: millionths of their sum (each at least 1).
 * delta: p99 + 1 ns; benefit: max(preferred / general - 1, 0.1 %) (general 0: 0.1 %);
 * delta-benefit: their product. */
void sched_meta_weights(enum sched_meta_rule rule, uint32_t n, const struct sched_meta_vm *vms,
                        uint32_t *weight_ppm);

#endif
