/* vsched-sim engine: a discrete-event loop that drives the sched/ API exactly as the VMM does
 * (wake/block on workload events, sched_schedule on timer and kick events, one timer per pCPU
 * armed from next_event_ns, kicks delivered to other pCPUs at the same instant).  Used by the
 * vsched-sim program and by the property tests. */
#ifndef VSCHED_SIM_H
#define VSCHED_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sched/sched.h"
#include "vmm/config.h"

enum sim_kind { WL_HOG, WL_IDLE, WL_PERIODIC, WL_POISSON, WL_BARRIER };

struct sim_workload {
    enum sim_kind kind;
    uint64_t period_ns, run_ns;      /* periodic */
    uint64_t rate_hz, service_ns;    /* poisson */
    uint64_t phase_ns;               /* barrier */
};

/* Parses a [vm] workload string; "" means hog.  On error writes a message to ERR. */
int sim_workload_parse(const char *text, struct sim_workload *out, char *err, size_t errlen);

struct sim_options {
    uint32_t pcpus;          /* 0 = the config's, and if that is 0 too: 4 */
    uint64_t run_ns;         /* informational: what sim_run will be asked for */
    int64_t switch_cost_ns;  /* < 0 = the config's */
    uint64_t seed;
    bool seed_set;
    const char *policy;      /* NULL = the config's */
    bool check;              /* verify the invariants at every instant */
    bool start_on_pcpu0;     /* place every vCPU on pCPU 0 at start (balancing experiments) */
};

struct sim;

/* Builds the machine from CFG.  Returns 0, or -1 with a message in ERR. */
int sim_create(struct sim **out, const struct cfg *cfg, const struct sim_options *opt, char *err,
               size_t errlen);
void sim_destroy(struct sim *sim);
/* Runs the event loop up to UNTIL_NS of simulated time (may be called repeatedly). */
void sim_run(struct sim *sim, uint64_t until_ns);
/* Delivers kicks returned by a direct sched_change() call. */
void sim_kick(struct sim *sim, sched_cpumask_t mask);
struct sched *sim_sched(struct sim *sim);
uint64_t sim_now(const struct sim *sim);
uint64_t sim_events(const struct sim *sim);
/* Invariant violations seen so far (with --check) and the first one's description. */
uint64_t sim_violations(const struct sim *sim);
const char *sim_first_violation(const struct sim *sim);

#endif
