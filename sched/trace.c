/* Scheduling traces (trace.h): per-pCPU rings of events, multi-writer, one reader. */
#include "sched/trace.h"

#include <string.h>

#include "sched/runq.h"

static const char *const type_names[SCHED_TR_TYPES] = {
    [SCHED_TR_WAKE] = "wake",         [SCHED_TR_BLOCK] = "block",
    [SCHED_TR_DISPATCH] = "run",      [SCHED_TR_PREEMPT] = "preempt",
    [SCHED_TR_MIGRATE] = "migrate",   [SCHED_TR_KICK] = "kick",
    [SCHED_TR_GANG_START] = "gstart", [SCHED_TR_GANG_STOP] = "gstop",
    [SCHED_TR_COSTOP] = "costop",     [SCHED_TR_CAP_PARK] = "park",
    [SCHED_TR_CAP_UNPARK] = "unpark", [SCHED_TR_UNHOLD] = "unhold",
};

const char *sched_trace_type_name(unsigned type)
{
    return type < SCHED_TR_TYPES ? type_names[type] : NULL;
}

int sched_trace_type_of(const char *name)
{
    for (unsigned i = 0; i < SCHED_TR_TYPES; i++)
        if (strcmp(type_names[i], name) == 0)
            return (int)i;
    return -1;
}

/* Events per ring for a setup asking for N: the next power of two (0 stays 0). */
uint32_t sched_trace_ring_events(uint32_t n)
{
    uint32_t c = n ? 1 : 0;
    while (c && c < n)
        c <<= 1;
    return c;
}

unsigned sched_trace_capacity(const struct sched *s)
{
    return s->trace_cap;
}

int sched_trace_enable(struct sched *s, bool on)
{
    if (on && !s->trace_cap)
        return SCHED_E_RANGE;
    __atomic_store_n(&s->trace_on, on ? 1u : 0u, __ATOMIC_SEQ_CST);
    return SCHED_OK;
}

bool sched_trace_enabled(const struct sched *s)
{
    return __atomic_load_n(&s->trace_on, __ATOMIC_RELAXED) != 0;
}

#define WHO(type, vm, vcpu) ((uint64_t)(type) << 56 | (uint64_t)((vm) & 0xffffffu) << 32 | (vcpu))

void sched_trace_emit(struct sched *s, unsigned cpu, unsigned type, const struct sched_vcpu *v,
                      uint64_t arg, uint64_t now)
{
    if (cpu >= s->npcpus || !s->trace_cap)
        return;
    struct sched_trace_ring *r = &s->trace[cpu];
    uint64_t idx = __atomic_fetch_add(&r->head, 1, __ATOMIC_RELAXED);
    struct sched_trace_slot *sl = &r->slot[idx & (s->trace_cap - 1)];
    /* Seqlock-style publication: the slot reads "busy" (0) before its fields change, and
     * idx + 1 once they are all written. */
    __atomic_store_n(&sl->seq, 0, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    __atomic_store_n(&sl->t_ns, now, __ATOMIC_RELAXED);
    __atomic_store_n(&sl->who, v ? WHO(type, v->vm->id, v->index) : WHO(type, SCHED_TRACE_NO_VM, 0),
                     __ATOMIC_RELAXED);
    __atomic_store_n(&sl->arg, arg, __ATOMIC_RELAXED);
    __atomic_store_n(&sl->seq, idx + 1, __ATOMIC_RELEASE);
}

void sched_trace_kicks(struct sched *s, unsigned cpu, const sched_cpumask_t *kick, uint64_t now)
{
    cpumask_for_each(c, kick)
        sched_trace_emit(s, cpu, SCHED_TR_KICK, NULL, (uint64_t)c, now);
}

unsigned sched_trace_drain(struct sched *s, unsigned cpu, struct sched_trace_event *out,
                           unsigned max, uint64_t *lost)
{
    if (lost)
        *lost = 0;
    if (cpu >= s->npcpus || !s->trace_cap)
        return 0;
    struct sched_trace_ring *r = &s->trace[cpu];
    uint64_t cap = s->trace_cap, skipped = 0, i = r->read;
    uint64_t head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
    if (head - i > cap) { /* lapped: the oldest are gone */
        skipped += head - cap - i;
        i = head - cap;
    }
    unsigned n = 0;
    while (i < head && n < max) {
        struct sched_trace_slot *sl = &r->slot[i & (cap - 1)];
        uint64_t s1 = __atomic_load_n(&sl->seq, __ATOMIC_ACQUIRE);
        if (s1 != i + 1) {
            /* Reserved and not yet published: by I's writer (stop, read it next time), or by
             * a writer of a later lap (I is gone). */
            if (s1 > i + 1 || __atomic_load_n(&r->head, __ATOMIC_ACQUIRE) > i + cap) {
                skipped++;
                i++;
                continue;
            }
            break;
        }
        uint64_t t = __atomic_load_n(&sl->t_ns, __ATOMIC_RELAXED);
        uint64_t who = __atomic_load_n(&sl->who, __ATOMIC_RELAXED);
        uint64_t arg = __atomic_load_n(&sl->arg, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&sl->seq, __ATOMIC_RELAXED) != s1) { /* overwritten while read */
            skipped++;
            i++;
            continue;
        }
        out[n++] = (struct sched_trace_event){ .t_ns = t, .pcpu = cpu,
                                               .vm = (uint32_t)(who >> 32) & 0xffffffu,
                                               .vcpu = (uint32_t)who,
                                               .type = (uint32_t)(who >> 56), .arg = arg };
        i++;
    }
    r->read = i;
    if (lost)
        *lost = skipped;
    return n;
}
