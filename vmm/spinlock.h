/* Ticket spinlock: FIFO fairness, so a CPU that prints a lot cannot starve the others. */
#ifndef VSCHED_VMM_SPINLOCK_H
#define VSCHED_VMM_SPINLOCK_H

#include <stdint.h>

#include "vmm/x86.h"

struct spinlock {
    volatile uint32_t next;
    volatile uint32_t owner;
};

#define SPINLOCK_INIT { 0, 0 }

static inline void spin_lock(struct spinlock *l)
{
    uint32_t ticket = __atomic_fetch_add(&l->next, 1, __ATOMIC_RELAXED);
    while (__atomic_load_n(&l->owner, __ATOMIC_ACQUIRE) != ticket)
        cpu_relax();
}

static inline void spin_unlock(struct spinlock *l)
{
    __atomic_store_n(&l->owner, l->owner + 1, __ATOMIC_RELEASE);
}

#endif
