/* Helpers shared by the sched unit tests: build a configuration in code, run the simulator
 * engine on it, and drive the library directly with no-op locks. */
#ifndef VSCHED_TEST_SCHED_TESTLIB_H
#define VSCHED_TEST_SCHED_TESTLIB_H

#include <stdbool.h>
#include <stdint.h>

#include "sched/sched.h"
#include "tools/vsched-sim/sim.h"
#include "vmm/config.h"

#define MS 1000000ull
#define SEC 1000000000ull

void tcfg_init(struct cfg *c, unsigned pcpus, const char *policy);
struct cfg_vm *tcfg_vm(struct cfg *c, const char *name, unsigned vcpus, const char *workload);
/* Creates a simulation (fails the test on error) with invariant checks on. */
struct sim *tsim(const struct cfg *c, const struct sim_options *opt);
/* Runs to UNTIL and fails the test if an invariant broke. */
void tsim_run(struct sim *sim, uint64_t until);
/* Running time of a VM (sum of its vCPUs) or one vCPU, up to the simulator's now. */
uint64_t tvm_run_ns(struct sim *sim, unsigned vm);
uint64_t tvcpu_run_ns(struct sim *sim, unsigned vm, unsigned idx);
void tvcpu_acct(struct sim *sim, unsigned vm, unsigned idx, struct sched_acct *a);
/* The simulator's own record of a vCPU (tools/vsched-sim/sim.h), independent of the library's
 * accounting: what the semantic tests measure with. */
void trec(struct sim *sim, unsigned vm, unsigned idx, struct sim_record *r);
uint64_t trec_run_ns(struct sim *sim, unsigned vm, unsigned idx);
uint64_t trec_vm_run_ns(struct sim *sim, unsigned vm);
/* Running time of every vCPU (in VM order) from the record, into OUT[0..n); returns n. */
unsigned trec_all_run_ns(struct sim *sim, uint64_t *out, unsigned max);
/* Migrations of every vCPU so far (the library's count). */
uint64_t tmigrations(struct sim *sim);
/* A line "figure: ..." in the test's output: the numbers docs/sched.md quotes. */
void tfigure(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* |GOT - WANT| <= TOL?  Prints a line naming WHAT when not; for tests that measure every case
 * (so that every figure is printed) and fail at the end on the count of misses. */
bool tnear(const char *what, double got, double want, double tol);

/* |got/whole - want| <= tol, reported with values on failure. */
void assert_share(uint64_t got, uint64_t whole, double want, double tol, const char *what);

/* A 20 ms / 0.5 ms periodic waker next to 3 hogs on one pCPU under POLICY for 5 s: returns
 * its wake-up p99 (ns); with ALL_SERVED, after checking it woke more than 200 times and got
 * all it asked for. */
uint64_t twaker_p99(const char *policy, bool all_served);

/* Weights 1:2:4 on one pCPU over 10 s: shares within 1% of 1/7, 2/7, 4/7. */
void tcheck_weights_124(const char *policy, uint32_t timeslice_us);

/* Test shorthand for a pCPU set: pCPUs 0..63 whose bits are set in LOW (0xe = {1, 2, 3}). */
static inline sched_cpumask_t tmask(uint64_t low)
{
    sched_cpumask_t m = cpumask_none();
    for (unsigned c = 0; c < 64; c++)
        if ((low >> c) & 1)
            cpumask_set(&m, c);
    return m;
}
#define assert_mask(m, low)                                                                   \
    do {                                                                                      \
        sched_cpumask_t want_ = tmask(low), got_ = (m);                                       \
        assert_true(cpumask_equal(&got_, &want_));                                            \
    } while (0)

/* Direct use of the library: single-threaded, no-op locks. */
struct sched *tsched_new(const struct sched_setup *st);
void tsched_free(struct sched *s);
/* Calls sched_schedule on CPU and on every pCPU kicked, transitively. */
struct sched_vcpu *tsched_decide(struct sched *s, unsigned cpu, uint64_t now,
                                 struct sched_decision *d);

#endif
