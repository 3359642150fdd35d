/* vsched scheduler library — public interface.
 *
 * Freestanding C: no hardware, no globals, no allocation, no floating point.  Time is passed in
 * by the caller as nanoseconds (uint64_t, monotonic per pCPU).  The same code runs in the VMM,
 * in the host unit tests and in tools/vsched-sim.
 *
 * Model.  The caller describes pCPUs and VMs (struct sched_setup), gives the library one block
 * of memory (sched_mem_size) and lock/unlock primitives (struct sched_env).  vCPUs start
 * blocked.  The caller then reports events — a vCPU woke (sched_vcpu_wake), halted
 * (sched_vcpu_block), yielded (sched_vcpu_yield) — and asks, on a pCPU, what to run now
 * (sched_schedule).  Every call returns the set of pCPUs that must call sched_schedule as soon
 * as possible ("kick"); sched_schedule also returns the absolute time of the next scheduling
 * event on that pCPU, so the VMM arms exactly one timer per pCPU.
 *
 * CONCURRENCY CONTRACT
 *   Locks.  The caller provides sched_lock_count() locks, addressed by index:
 *     [0, npcpus)          runqueue lock of pCPU i
 *     npcpus               machine lock
 *     npcpus + 1 + vm      VM lock (cap budget of that VM; a leaf lock)
 *   What they protect:
 *     runqueue lock i: pCPU i's runqueue, its current vCPU and timer fields, its policy data, and
 *                      every field of the vCPUs assigned to it (vcpu->cpu == i) — state,
 *                      accounting, policy data.  vcpu->cpu changes only with both runqueue
 *                      locks held (migration), so a holder of either lock sees it stable.
 *     machine lock:    policy, parameters, strict and relaxed gang state.  Taken (first) by
 *                      every entry point while some VM is gang (strict or relaxed):
 *                      co-scheduling is a machine-wide decision.  Without gang VMs only
 *                      sched_change and sched_vm_gang take it.
 *     VM lock:         the VM's cap budget (charged from several pCPUs at once).
 *   A VM's gang mode and its vCPUs' home pCPUs and affinities change only in sched_change, with
 *   every lock held: a holder of any runqueue lock (or of the machine lock) sees them stable.
 *   Gang mode switched at run time (SCHED_SET_GANG).  Each entry point decides when it starts
 *   whether it takes the machine lock, from gang_refs = the number of gang VMs plus the
 *   sched_change calls in progress that switch a VM to strict or relaxed.  If gang_refs is 0 it
 *   announces itself in a lockless counter (its slot's, seq_cst increment), reads gang_refs
 *   again, and if that is no longer 0 withdraws and takes the machine lock after all; leaving,
 *   it undoes exactly what it did.  sched_change switching a VM to strict or relaxed first
 *   increments gang_refs (seq_cst), then waits, holding no lock, until every lockless counter
 *   is 0, and only then takes its locks and makes the VM gang.  Both sides write, then read
 *   the other's variable (Dekker, seq_cst): either the entry point sees the new gang_refs and
 *   takes the machine lock, or sched_change sees the entry point and waits for it to leave.
 *   So while any VM is gang, every entry point in progress holds the machine lock — also one
 *   that started lockless and was between dropping and retaking runqueue locks (idle
 *   stealing, balancing, wake-up placement) when the switch began: it finishes, still lockless
 *   and before any VM is gang, while the switch waits.  The wait is bounded: lockless entry
 *   points never take the machine lock, hold no lock the waiting sched_change holds, and no
 *   new one starts once gang_refs is non-zero.  Switching the last gang VM back to none drops
 *   gang_refs to 0 with every lock held; entry points already holding or waiting for the
 *   machine lock simply release it when they leave.
 *   Lock order: machine lock, then runqueue locks in increasing pCPU index, then VM locks.
 *   A cross-pCPU operation (wake-up of a vCPU assigned elsewhere, idle stealing, load
 *   balancing) drops its own runqueue lock and retakes both in index order, then re-checks.
 *   Idle and queued pCPU masks are read and written with __atomic builtins (seq_cst) so a pCPU
 *   going idle and a wake-up on another pCPU cannot both miss each other.
 *   Interrupts: every entry point may run with interrupts enabled on the calling pCPU as long
 *   as no interrupt handler on that pCPU calls into the library while it holds a lock; a VMM
 *   that calls sched_schedule from its timer or IPI handler must make its lock primitive
 *   disable interrupts (save/restore).  No entry point blocks, waits for another pCPU, or
 *   calls back into the caller except through env->lock/unlock — with one exception:
 *   sched_change switching a VM to a gang mode waits, holding no lock, for the lockless entry
 *   points in progress (above), so it must not be called from an interrupt handler that may
 *   have interrupted an entry point on its own pCPU.
 *   Who calls what: sched_schedule(cpu) only on pCPU `cpu` (or its simulator stand-in);
 *   sched_vcpu_wake/block/yield/acct and sched_change from any pCPU.
 *
 * ERRORS: functions returning int return 0 or a negative SCHED_E* code; on error nothing has
 * changed. */
#ifndef VSCHED_SCHED_H
#define VSCHED_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sched/acct.h"
#include "sched/cpumask.h"
#include "sched/hist.h"
#include "sched/limits.h"

#define SCHED_NO_EVENT UINT64_MAX     /* next_event_ns when no timer is needed */
#define SCHED_CAP_PERIOD_NS 10000000ull /* a parked capped VM runs again after earning this
                                          long (sched/cap.c) */

enum sched_err {
    SCHED_OK = 0,
    SCHED_E_RANGE = -1,   /* a value out of its range */
    SCHED_E_POLICY = -2,  /* unknown policy name */
    SCHED_E_VM = -3,      /* no such VM */
    SCHED_E_NOMEM = -4,   /* memory block too small */
    SCHED_E_SETUP = -5,   /* inconsistent setup (affinity outside the machine, gang too wide) */
    SCHED_E_OVERCOMMIT = -6, /* null: more vCPUs than pCPUs they may use, one each */
    SCHED_E_ADMIT = -7,   /* rtds: the reservations do not fit (budget/period per pCPU > 1) */
};

enum sched_gang { SCHED_GANG_NONE, SCHED_GANG_STRICT, SCHED_GANG_RELAXED };

/* Whose weight a VM's weight is (names: SCHED_WEIGHT_PER_NAMES).  VCPU: every vCPU competes
 * with the VM's weight.  VM (Xen's semantics): the VM's weight is shared by its active
 * (runnable) vCPUs, each competing with weight / active. */
enum sched_weight_per { SCHED_WEIGHT_PER_VCPU, SCHED_WEIGHT_PER_VM };

/* Accounting state of a vCPU. */
enum sched_state { SCHED_BLOCKED, SCHED_READY, SCHED_RUNNING, SCHED_COSTOP };

struct sched_vm_setup {
    uint32_t vcpus;             /* 1..SCHED_MAX_VCPUS */
    uint32_t weight;            /* SCHED_WEIGHT_MIN..MAX (0 = default); see weight_per */
    uint32_t cap_pct;           /* percent of one pCPU for the whole VM, 0 = none, <= 100*vcpus */
    enum sched_gang gang;
    sched_cpumask_t affinity;   /* empty = all */
    int32_t start_pcpu;         /* pCPU every vCPU starts on (-1 = spread by load); it may move */
    const int16_t *start_pcpus; /* NULL, or one entry per vCPU (-1 = spread): overrides start_pcpu */
    /* rtds reservation of each of its vCPUs: RT_BUDGET_NS every RT_PERIOD_NS (0 = none: it
     * runs only in idle time).  RT_NO_EXTRA: never beyond its budget (Xen's extratime = 0). */
    uint64_t rt_budget_ns, rt_period_ns;
    bool rt_no_extra;
    uint32_t pool;              /* index into sched_setup.pools (0 without pools) */
};

/* A pool (Xen's cpupools): disjoint pCPU sets, each with its own policy and parameters; a VM
 * runs only on its pool's pCPUs, and stealing, wake-up placement, balancing and machine-wide
 * fairness act within a pool.  Without pools the machine is one pool, 0, of every pCPU with
 * the set-up's policy and parameters. */
struct sched_pool_setup {
    sched_cpumask_t cpus;       /* every pCPU of the machine is in exactly one pool; a pool may
                                   be empty while no VM is in it */
    const char *policy;         /* NULL = sched_setup.policy */
    uint64_t timeslice_ns, ratelimit_ns, gang_skew_ns, balance_ns; /* 0 = sched_setup's; a
                                   rate limit or balancing period of 0: SCHED_PARAM_ZERO */
};
#define SCHED_PARAM_ZERO UINT64_MAX /* sched_pool_setup: no rate limit, no balancing */

struct sched_setup {
    uint32_t npcpus;            /* 1..SCHED_MAX_PCPUS */
    const char *policy;         /* NULL = "credit" */
    uint64_t timeslice_ns;      /* 100 us .. 1 s, default 30 ms */
    uint64_t ratelimit_ns;      /* 0 .. timeslice, default 1 ms */
    uint64_t gang_skew_ns;      /* 100 us .. 1 s, default 3 ms */
    uint64_t balance_ns;        /* load-balancing period, 0 = off, else 100 us .. 1 s; default 10 ms */
    uint64_t seed;              /* PRNG seed (lottery) */
    enum sched_weight_per weight_per; /* default SCHED_WEIGHT_PER_VCPU */
    uint32_t nvms;
    const struct sched_vm_setup *vms;
    uint32_t npools;            /* 0 = one pool of every pCPU; else 1..SCHED_MAX_POOLS */
    const struct sched_pool_setup *pools;
    uint32_t trace_events;      /* trace ring per pCPU (sched/trace.h), 0 = none; <= SCHED_TRACE_EVENTS_MAX */
    bool trace;                 /* tracing on from the start (needs trace_events) */
};

struct sched_env {
    void *ctx;
    void (*lock)(void *ctx, unsigned id);
    void (*unlock)(void *ctx, unsigned id);
};

struct sched;
struct sched_vcpu;

struct sched_decision {
    struct sched_vcpu *run;     /* vCPU to run on this pCPU, NULL = idle */
    bool switched;              /* run differs from what ran before this call */
    uint64_t next_event_ns;     /* call sched_schedule again at this time (SCHED_NO_EVENT: never) */
    sched_cpumask_t kick;       /* other pCPUs that must call sched_schedule now, all at once */
};

/* Parameter changes: one validated call.  Set the SCHED_SET_* bits of the fields to change. */
enum {
    SCHED_SET_POLICY = 1u << 0,
    SCHED_SET_TIMESLICE = 1u << 1,
    SCHED_SET_RATELIMIT = 1u << 2,
    SCHED_SET_GANG_SKEW = 1u << 3,
    SCHED_SET_BALANCE = 1u << 4,
    SCHED_SET_WEIGHT = 1u << 8,   /* VM fields: apply to VM `vm` */
    SCHED_SET_CAP = 1u << 9,
    SCHED_SET_REQUEST = 1u << 10, /* pshare request size, 0 = the time slice */
    SCHED_SET_GANG = 1u << 11,    /* co-scheduling mode; strict: as at setup (SCHED_E_SETUP) */
    SCHED_SET_RESERVATION = 1u << 12, /* rt_budget_ns, rt_period_ns, rt_no_extra (rtds admits
                                         it: SCHED_E_ADMIT when it does not fit) */
    SCHED_SET_VM_POOL = 1u << 13,   /* VM `vm` moves to pool `to_pool` (not a strict gang) */
    SCHED_SET_PCPU_POOL = 1u << 14, /* pCPU `pcpu` moves to pool `to_pool` (its vCPUs move to
                                       its old pool's other pCPUs; none may be a strict
                                       member's home) */
};
/* The policy and the machine parameters (SCHED_SET_POLICY ... SCHED_SET_BALANCE) are those of
 * pool `pool`.  A pool move is a change of its own (no other bit with it).  Admission (null,
 * rtds) is checked for every pool as the change would leave it.  A running vCPU that a pool
 * move takes off its pCPU is ready from the change and waits until that pCPU (kicked) decides
 * before it may run elsewhere. */

struct sched_change {
    uint32_t set;
    uint32_t pool;              /* whose policy and parameters */
    uint32_t to_pool, pcpu;     /* pool moves */
    const char *policy;
    uint64_t timeslice_ns, ratelimit_ns, gang_skew_ns, balance_ns;
    uint32_t vm;
    uint32_t weight, cap_pct;
    uint64_t request_ns;
    enum sched_gang gang;
    uint64_t rt_budget_ns, rt_period_ns;
    bool rt_no_extra;
};

/* Setup and memory. */
void sched_setup_defaults(struct sched_setup *s);
int sched_setup_check(const struct sched_setup *s);
size_t sched_mem_size(const struct sched_setup *s);
unsigned sched_lock_count(const struct sched_setup *s);
/* MEM: sched_mem_size() bytes, 16-byte aligned, any content.  Locks must be initialized. */
int sched_init(struct sched **out, void *mem, size_t size, const struct sched_setup *setup,
               const struct sched_env *env, uint64_t now_ns);

/* Policies. */
bool sched_policy_known(const char *name);  /* a cfg_policy_known_fn */
const char *sched_policy_name(const struct sched *s);  /* pool 0's */
const char *sched_pool_policy_name(const struct sched *s, unsigned pool); /* NULL: no such pool */
const char *sched_policy_list(unsigned i);  /* i-th policy name, NULL past the end */
const char *sched_strerror(int err);

/* Events.  Each returns the pCPUs (possibly including the caller's) that must reschedule. */
sched_cpumask_t sched_vcpu_wake(struct sched *s, struct sched_vcpu *v, uint64_t now_ns);
sched_cpumask_t sched_vcpu_block(struct sched *s, struct sched_vcpu *v, uint64_t now_ns);
sched_cpumask_t sched_vcpu_yield(struct sched *s, struct sched_vcpu *v, uint64_t now_ns);
/* NS of pCPU CPU's time, up to NOW_NS, went to OWNER (its timer's interrupt: an exit and its
 * handling) while another vCPU was current there.  That vCPU is not charged for it: it leaves
 * its running time and its policy's charge (it waited: ready time), and OWNER pays: its VM's
 * cap, its acct.charged_ns and, if it is still blocked (call this before waking it), its
 * policy (credit, lag or pass, as if it had run).  So a guest's timer costs that guest, never
 * whoever runs (issue 10). */
void sched_vcpu_charge(struct sched *s, struct sched_vcpu *owner, unsigned cpu, uint64_t ns,
                       uint64_t now_ns);

/* The decision on pCPU CPU: after its timer fired, a kick, or a block/yield of its vCPU. */
void sched_schedule(struct sched *s, unsigned cpu, uint64_t now_ns, struct sched_decision *out);

/* Parameters (validated; SCHED_E_* and nothing changed on error).  *KICK: pCPUs to kick. */
int sched_change(struct sched *s, const struct sched_change *c, uint64_t now_ns,
                 sched_cpumask_t *kick);

/* Lookup. */
unsigned sched_npcpus(const struct sched *s);
unsigned sched_nvms(const struct sched *s);
unsigned sched_vm_nvcpus(const struct sched *s, unsigned vm);
unsigned sched_npools(const struct sched *s);
/* Pools now (changed by sched_change at run time; read atomically). */
unsigned sched_vm_pool(const struct sched *s, unsigned vm);
unsigned sched_pcpu_pool(const struct sched *s, unsigned cpu);
sched_cpumask_t sched_pool_cpus(struct sched *s, unsigned pool);  /* takes the machine lock */
/* The VM's co-scheduling mode now (takes the machine lock; SCHED_GANG_NONE for no such VM). */
enum sched_gang sched_vm_gang(struct sched *s, unsigned vm);
struct sched_vcpu *sched_vcpu_get(struct sched *s, unsigned vm, unsigned index);
unsigned sched_vcpu_vm(const struct sched_vcpu *v);
unsigned sched_vcpu_index(const struct sched_vcpu *v);
void sched_vcpu_set_user(struct sched_vcpu *v, void *user);
void *sched_vcpu_user(const struct sched_vcpu *v);

/* Observation (takes the vCPU's runqueue lock). */
struct sched_vcpu_info {
    enum sched_state state;
    unsigned pcpu;          /* runqueue it belongs to */
    bool held;              /* runnable but parked by a cap or held by co-scheduling */
    bool pinned;            /* strict gang member: never leaves its home pCPU */
    sched_cpumask_t affinity;
};
void sched_vcpu_info(struct sched *s, struct sched_vcpu *v, struct sched_vcpu_info *out);
/* Accounting up to NOW_NS (the current state's time included); LAT may be NULL. */
void sched_vcpu_acct(struct sched *s, struct sched_vcpu *v, uint64_t now_ns,
                     struct sched_acct *out, struct hist *lat);
void sched_vm_acct(struct sched *s, unsigned vm, uint64_t now_ns, struct sched_acct *out,
                   struct hist *lat);
/* Human-readable state of every pCPU and vCPU; returns the length it wanted (like snprintf). */
size_t sched_dump(struct sched *s, uint64_t now_ns, char *buf, size_t len);

#endif
