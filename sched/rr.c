/* rr: round robin, one time slice each, in arrival order.  Baseline; ignores weights. */
#include "sched/fifoq.h"

const struct sched_policy sched_policy_rr =
    FIFOQ_POLICY("rr", fifoq_init_pcpu, fifoq_pick_head, fifoq_timeslice_ns);
