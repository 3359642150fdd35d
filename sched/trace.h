/* Scheduling traces: a ring of events per pCPU (like Xen's TRACE_TIME records read by
 * xenalyze), off by default.
 *
 * Each event is (time ns, pCPU, VM, vCPU, type, argument).  The rings are part of the
 * library's memory block: sched_setup.trace_events per pCPU (rounded up to a power of two;
 * 0 = no rings, tracing cannot be enabled).  When tracing is off an event costs one load and
 * one predictable branch.  When on, an event reserves a slot with one atomic add on its
 * ring's head and publishes it with a per-slot sequence number: any pCPU may write any ring
 * (an event is written to the ring of the pCPU it happens on, by whoever holds that
 * runqueue's lock, or under the machine lock for gang events), nothing waits.  A full ring
 * overwrites its oldest events; the reader counts those it finds overwritten ("lost").
 *
 * One reader per ring at a time (the VMM drains from pCPU 0, the simulator from its thread):
 * sched_trace_drain copies the published events after the ring's read cursor, skipping (and
 * counting) those overwritten meanwhile, and stops at a slot reserved but not yet published.
 * Events on one ring are in reservation order; their timestamps are the callers' clocks (in
 * the VMM each pCPU's), so a reader that merges rings sorts by time. */
#ifndef VSCHED_SCHED_TRACE_H
#define VSCHED_SCHED_TRACE_H

#include "sched/sched.h"

enum sched_trace_type {
    SCHED_TR_WAKE,       /* vCPU became runnable on this pCPU's runqueue (arg 1: it blocked
                            while running and is still current: it runs on, no dispatch) */
    SCHED_TR_BLOCK,      /* vCPU halted (arg 1: it was running) */
    SCHED_TR_DISPATCH,   /* vCPU starts running here (one per acct.runs) */
    SCHED_TR_PREEMPT,    /* running vCPU stopped while runnable (arg: 1 yielded, 0 not;
                            +2 when it was parked or co-stopped rather than requeued) */
    SCHED_TR_MIGRATE,    /* vCPU moved to this pCPU from pCPU arg */
    SCHED_TR_KICK,       /* this pCPU's event asks pCPU arg to reschedule (no vCPU) */
    SCHED_TR_GANG_START, /* strict gang co-start: this member is forced onto its home */
    SCHED_TR_GANG_STOP,  /* strict gang stops; one event per member home (vCPU: the member) */
    SCHED_TR_COSTOP,     /* vCPU held by co-scheduling (arg 0 strict rendezvous, 1 relaxed lead) */
    SCHED_TR_CAP_PARK,   /* vCPU parked by its VM's cap */
    SCHED_TR_CAP_UNPARK, /* a parked vCPU is runnable again (its VM earned budget) */
    SCHED_TR_UNHOLD,     /* a co-stopped vCPU is runnable again */
    SCHED_TR_TYPES
};

#define SCHED_TRACE_NO_VM 0xffffffu   /* vm of an event without a vCPU (kick) */

struct sched_trace_event {
    uint64_t t_ns;
    uint32_t pcpu;
    uint32_t vm;          /* SCHED_TRACE_NO_VM: none */
    uint32_t vcpu;        /* index within the VM */
    uint32_t type;        /* enum sched_trace_type */
    uint64_t arg;
};

/* Short names for the compact formats: "wake", "block", "run", "preempt", "migrate", "kick",
 * "gstart", "gstop", "costop", "park", "unpark", "unhold"; NULL past the end. */
const char *sched_trace_type_name(unsigned type);
/* The type of NAME, or -1. */
int sched_trace_type_of(const char *name);

/* Ring capacity per pCPU (events, after rounding), 0 = no rings. */
unsigned sched_trace_capacity(const struct sched *s);
/* Tracing on or off; SCHED_E_RANGE (nothing changed) to turn it on without rings. */
int sched_trace_enable(struct sched *s, bool on);
bool sched_trace_enabled(const struct sched *s);
/* Up to MAX events of pCPU CPU's ring after its read cursor, into OUT; returns how many.
 * *LOST (may be NULL) gets the events overwritten before they could be read, since the last
 * call.  One reader per ring at a time. */
unsigned sched_trace_drain(struct sched *s, unsigned cpu, struct sched_trace_event *out,
                           unsigned max, uint64_t *lost);

#endif
