/* Small freestanding helpers of the core files (not for policies): saturating and minimum
 * arithmetic, the spin-wait hint.  pCPU sets are sched/cpumask.h's. */
#ifndef VSCHED_SCHED_UTIL_H
#define VSCHED_SCHED_UTIL_H

#include <stdint.h>

#include "sched/sched.h"

#define LOAD_ATOMIC(x) __atomic_load_n(&(x), __ATOMIC_SEQ_CST)

static inline uint64_t u64_min(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static inline uint64_t u64_max(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

static inline uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a + b < a ? UINT64_MAX : a + b;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

#endif
