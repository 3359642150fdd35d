/* Setup checks shared with sched_change (change.c). */
#ifndef VSCHED_SCHED_SETUP_H
#define VSCHED_SCHED_SETUP_H

#include <stdbool.h>
#include <stdint.h>

static inline bool in_range(uint64_t v, uint64_t lo, uint64_t hi)
{
    return v >= lo && v <= hi;
}

/* The machine-wide parameter ranges (sched/limits.h): SCHED_OK or SCHED_E_RANGE. */
int sched_check_params(uint64_t timeslice_ns, uint64_t ratelimit_ns, uint64_t gang_skew_ns,
                       uint64_t balance_ns);
/* An rtds reservation: budget 0 (none), or 1 us .. period, period within its limits. */
int sched_check_reservation(uint64_t budget_ns, uint64_t period_ns);

#endif
