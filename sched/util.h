/* Small freestanding helpers of the core files (not for policies): bit masks, saturating and
 * minimum arithmetic, the spin-wait hint. */
#ifndef VSCHED_SCHED_UTIL_H
#define VSCHED_SCHED_UTIL_H

#include <stdint.h>

#include "sched/sched.h"

#define CPU_BIT(c) ((sched_cpumask_t)1 << (c))
#define LOAD_ATOMIC(x) __atomic_load_n(&(x), __ATOMIC_SEQ_CST)

static inline uint64_t u64_min(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static inline uint64_t u64_max(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

/* __builtin_popcountll would call libgcc's __popcountdi2 without -mpopcnt. */
static inline unsigned mask_weight(sched_cpumask_t m)
{
    unsigned n = 0;
    for (; m; m &= m - 1)
        n++;
    return n;
}

static inline uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a + b < a ? UINT64_MAX : a + b;
}

static inline sched_cpumask_t machine_mask(uint32_t npcpus)
{
    return npcpus >= 64 ? ~(sched_cpumask_t)0 : CPU_BIT(npcpus) - 1;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

#endif
