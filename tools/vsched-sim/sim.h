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
#include "sched/trace.h"
#include "vmm/config.h"

enum sim_kind { WL_HOG, WL_IDLE, WL_PERIODIC, WL_POISSON, WL_BARRIER, WL_YIELD, WL_TIMER,
                WL_ATTACK };

struct sim_workload {
    enum sim_kind kind;
    uint64_t period_ns, run_ns;      /* periodic, attack (period); yield, timer (run); timer:
                                        period_ns is the sleep after each burst */
    uint64_t drop_missed;            /* periodic: 1 = work not done by the next arrival is dropped */
    uint64_t rate_hz, service_ns;    /* poisson */
    uint64_t phase_ns;               /* barrier */
    uint64_t run_pct;                /* attack: runnable for this % of every period */
    uint64_t attack_yield;           /* attack: 1 = yield (else sleep) at the end of its run */
    uint64_t busy_vcpus;             /* 0 = all; else only the first N vCPUs work, the rest idle */
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
    bool start_on_pcpu0;     /* place every vCPU on pCPU 0 at start (overrides start_pcpu) */
    /* Scheduling trace (sched/trace.h): on from the start when trace_events > 0 (ring size
     * per pCPU); sim_run drains the rings into trace_out often enough that nothing is lost
     * unless one simulator event makes more than trace_events / 2 trace events on a pCPU. */
    uint32_t trace_events;
    void (*trace_out)(void *ctx, unsigned pcpu, const struct sched_trace_event *ev, unsigned n,
                      uint64_t lost);
    void *trace_ctx;
};

struct sim;

/* Builds the machine from CFG.  Returns 0, or -1 with a message in ERR. */
int sim_create(struct sim **out, const struct cfg *cfg, const struct sim_options *opt, char *err,
               size_t errlen);
void sim_destroy(struct sim *sim);
/* Runs the event loop up to UNTIL_NS of simulated time (may be called repeatedly). */
void sim_run(struct sim *sim, uint64_t until_ns);
/* Hands every trace event recorded so far to trace_out (sim_run does at its end). */
void sim_trace_flush(struct sim *sim);
/* Delivers kicks returned by a direct sched_change() call. */
void sim_kick(struct sim *sim, sched_cpumask_t mask);
struct sched *sim_sched(struct sim *sim);
uint64_t sim_now(const struct sim *sim);
uint64_t sim_events(const struct sim *sim);
/* Invariant violations seen so far (with --check) and the first one's description. */
uint64_t sim_violations(const struct sim *sim);
const char *sim_first_violation(const struct sim *sim);

/* The simulator's own record of a vCPU, kept from its events only (who it dispatched, who it
 * blocked and woke), never from the library's accounting: the independent oracle that --check
 * compares the library's buckets with.  Times are up to the simulator's now. */
struct sim_record {
    uint64_t running_ns;     /* the current vCPU of a pCPU, and not blocked */
    uint64_t waiting_ns;     /* runnable (not blocked) and not running: ready + co-stopped */
    uint64_t blocked_ns;
    uint64_t max_wait_ns;    /* longest continuous waiting stretch (the ongoing one included) */
    uint64_t dispatches;     /* times it started running */
    uint64_t pcpu_changes;   /* dispatches on another pCPU than its previous run's */
    uint64_t work_ns;        /* work done (running time after switch costs) */
    uint64_t arrivals, missed; /* periodic: periods, and arrivals that found work left over */
    uint64_t yields;         /* sched_vcpu_yield calls */
};
/* 0, or -1 for no such vCPU. */
int sim_vcpu_record(const struct sim *sim, unsigned vm, unsigned idx, struct sim_record *out);
/* Response times of a timer workload's vCPU (its work's arrival to the end of its burst: the
 * request latency an application sees), into OUT.  0, or -1 for no such vCPU. */
int sim_vcpu_response(const struct sim *sim, unsigned vm, unsigned idx, struct hist *out);
/* Clears every vCPU's max_wait_ns (the ongoing wait counts from now): per-window maxima. */
void sim_reset_max_wait(struct sim *sim);

#endif
