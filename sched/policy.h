/* The interface a policy file implements, and the core structures it may read.
 *
 * A policy keeps its per-vCPU and per-pCPU state in the `pol` words of struct sched_vcpu and
 * struct sched_pcpu (it casts them to its own struct and checks the size with
 * SCHED_POLICY_DATA_FITS).  The core owns everything else: runqueue membership as seen by
 * stealing and balancing, accounting, caps, gangs, timers, kicks.  Every op runs with the
 * runqueue lock of pCPU P held (plus the machine lock in gang mode).
 *
 * The runnable set of a pCPU is its current vCPU plus its queued vCPUs.  Mapping to the
 * classic ops (Xen's struct scheduler, ACRN's struct acrn_scheduler):
 *   wake(JOIN_WAKE)           a blocked vCPU becomes runnable here (BOOST lives here)
 *   sleep                     a queued or current vCPU stops being runnable here (block, cap
 *                             park, leaving by migration); the policy keeps what it needs
 *                             (credit, lag) in nanoseconds, independent of this pCPU's clock
 *   put_prev(yielded)         the current vCPU goes back into the queue: preempted or yield
 *   pick_next                 remove and return the best queued vCPU
 *   tick                      charge RAN_NS of run time to the current vCPU (timestamps, so a
 *                             vCPU that always stops just before a tick still pays)
 *   preempts                  must a queued vCPU replace the current one (enum sched_preempt)?
 *   recheck_ns                when preempts may turn true with no event (virtual time catching
 *                             up with a queued vCPU); the core arms the timer for it
 *   slice_ns                  how long a freshly picked vCPU may run before the next decision
 *   migrate                   = sleep on the old pCPU + wake(JOIN_MIGRATE) on the new one
 *   charge                    a blocked vCPU is billed NS of service it did not run for (the
 *                             exits its timer caused while another vCPU ran: sched_vcpu_charge)
 *   unserved                  [FROM, NOW) of P's time served nobody (its current vCPU was not
 *                             charged for it): a clock of service must not advance over it
 *   admit                     may the pool run its VMs as a set-up or a change would leave
 *                             them (null: one pCPU each; rtds: the reservations fit)?  The
 *                             pool's policy after the change decides (struct sched_admit)
 *   idle_recheck_ns           when a pCPU with nothing it may run now must decide again
 *                             (rtds: a queued vCPU's budget is replenished)
 *   value, dump               observation
 * Weight changes and run-time policy switches are sleep/wake(JOIN_MOVE or JOIN_CURRENT) around
 * the change, done by the core with every lock held. */
#ifndef VSCHED_SCHED_POLICY_H
#define VSCHED_SCHED_POLICY_H

#include "sched/heap.h"
#include "sched/list.h"
#include "sched/sched.h"

#define SCHED_VCPU_WORDS 10
#define SCHED_PCPU_WORDS 16
#define SCHED_POLICY_DATA_FITS(vtype, ptype)                                         \
    _Static_assert(sizeof(vtype) <= SCHED_VCPU_WORDS * sizeof(uint64_t), #vtype); \
    _Static_assert(sizeof(ptype) <= SCHED_PCPU_WORDS * sizeof(uint64_t), #ptype)
/* Policy storage is raw bytes: each policy accesses it only through its own struct type. */
#define SCHED_POLICY_STORAGE(words) unsigned char pol[(words) * 8] __attribute__((aligned(16)))

enum sched_join {
    SCHED_JOIN_WAKE,     /* was blocked */
    SCHED_JOIN_MOVE,     /* unparked, weight changed, policy switched, gang home: no bonus */
    SCHED_JOIN_CURRENT,  /* joins as the running vCPU, not queued (policy switch, gang force) */
    SCHED_JOIN_MIGRATE,  /* pulled from another pCPU (stealing, balancing): joins neutral —
                            lag, credit or pass relative to the old pCPU's clock do not carry
                            over; machine-wide fairness is the balancer's (place.c) */
};

/* HOLD_MOVE: taken off its pCPU by a pool move while it ran; that pCPU's next decision (it
 * has stopped the vCPU by then) moves it into its affinity (place.c). */
enum sched_hold { HOLD_NONE, HOLD_CAP, HOLD_GANG, HOLD_LEAD, HOLD_MOVE };

/* What preempts answers: keep the running vCPU, replace it (once it has run the rate limit),
 * or replace it now — for a vCPU that asks for less than the rate limit itself (pshare's short
 * requests, like Linux's PREEMPT_SHORT): the rate limit bounds how often the running vCPU is
 * switched out, and such a preemption costs it less than one rate-limit period. */
enum sched_preempt { SCHED_KEEP, SCHED_PREEMPT, SCHED_PREEMPT_NOW };

struct sched_params {
    uint64_t timeslice_ns, ratelimit_ns, gang_skew_ns, balance_ns;
};

/* A pool: a set of pCPUs with its own policy and parameters (Xen's cpupools).  Its VMs' vCPUs
 * run only on its pCPUs (their affinity is the VM's within the pool's), so stealing, wake-up
 * placement, balancing and fairness act within it.  Changed only by sched_change with every
 * lock held: a holder of any runqueue lock sees a pCPU's pool and a VM's pool stable. */
struct sched_pool {
    uint32_t id;
    const struct sched_policy *policy;
    struct sched_params params;
    sched_cpumask_t cpus;
};

struct sched_vm {
    struct sched *s;
    uint32_t id, nvcpus, weight, cap_pct;
    uint32_t pool;                  /* its pool (all locks to change) */
    sched_cpumask_t user_affinity;  /* as set up; affinity = this within the pool's pCPUs */
    uint32_t active;                /* its runnable vCPUs (__atomic): weight_per = vm shares */
    enum sched_gang gang;
    sched_cpumask_t affinity;
    uint64_t request_ns;            /* pshare request size, 0 = time slice */
    uint64_t rt_budget_ns, rt_period_ns; /* rtds reservation per vCPU, budget 0 = none */
    bool rt_extra;                  /* rtds: may run beyond its budget in idle time */
    struct sched_vcpu *vcpus;
    /* cap (VM lock) */
    int64_t cap_budget;             /* ns x 100 (cap.c) */
    uint64_t cap_stamp_ns;          /* budget earned up to here */
    uint32_t cap_running;
    /* strict gang (machine lock) */
    bool gang_on;
    uint64_t gang_slice_end_ns;
    uint64_t gang_start_at_ns;      /* a co-start deferred for a backfill until then, 0 = none */
};

struct sched_vcpu {
    struct sched_vm *vm;
    uint32_t id, index;
    int32_t cpu;                    /* runqueue it belongs to (__atomic reads) */
    int32_t home;                   /* strict gang member: its pCPU, else -1 (all locks to change) */
    uint32_t weight;
    uint8_t state;                  /* enum sched_state */
    uint8_t hold;                   /* enum sched_hold while on the held list */
    bool queued;                    /* on its pCPU's ready list (and in the policy queue) */
    bool yield;                     /* asked to yield */
    bool waking;                    /* woke and has not run yet: latency pending */
    bool lead_hold;                 /* relaxed gang: co-stopped, resumes at half the skew */
    bool costart_victim;            /* a strict co-start cut its last backfill run short */
    bool move_fresh;                /* a pool move: it joins its next pCPU's policy afresh
                                       (init_vcpu), not as a migration */
    uint64_t relaxed_base_ns;       /* relaxed gang: progress before its VM became relaxed */
    sched_cpumask_t affinity;
    uint64_t since_ns;              /* start of the current accounting state */
    uint64_t wake_ns;
    uint64_t load, load_stamp_ns;   /* runnable average, 1024 = always runnable */
    /* Machine-wide fairness (runq.c): GPS service per unit weight received while in the
     * runnable set of a pCPU — the sum of that pCPU's GPS clock advances. */
    uint64_t gps_acc_vt;            /* up to gps_base_vt's moment */
    uint64_t gps_base_vt;           /* the pCPU's clock when it joined (while gps_in) */
    bool gps_in;                    /* counted in its pCPU's runnable set */
    uint64_t gps_join_ns;           /* when it last joined it */
    uint64_t svc_vt, svc_mark_ns;   /* actual service per unit weight up to running_ns = mark */
    struct slist qnode;             /* ready list or held list of pCPU `cpu` */
    struct sched_acct acct;
    struct hist *latency;
    void *user;
    SCHED_POLICY_STORAGE(SCHED_VCPU_WORDS);
};

struct sched_pcpu {
    struct sched *s;
    struct sched_pool *pool;        /* its pool: policy and parameters (all locks to change) */
    uint32_t id;
    struct sched_vcpu *curr;
    uint64_t run_start_ns;          /* when curr was dispatched */
    uint64_t charged_ns;            /* curr's time up to here is charged */
    uint64_t slice_end_ns;
    uint64_t preempt_at_ns;         /* a preemption deferred by the rate limit */
    uint64_t recheck_at_ns;         /* the policy's recheck time of the running vCPU */
    bool preempt_check;             /* the queue changed since the last decision (core.c) */
    bool balance_deferred;          /* a fairness pull waits for the slice end (place.c) */
    uint64_t next_event_ns;         /* what the last decision asked for */
    uint64_t next_balance_ns;
    uint64_t last_now_ns;
    struct sched_vcpu *forced;      /* strict gang: run this next (machine lock) */
    struct sched_vm *gang_owner;    /* strict gang occupying this pCPU (machine lock) */
    struct sched_vcpu *steal_hint;  /* claimed idle pCPU: try this vCPU first (__atomic) */
    bool prev_preempted;            /* this decision counted a preemption of the previous vCPU */
    uint32_t lockless;              /* entry points in progress without the machine lock that
                                       took this slot (__atomic; see sched.h) */
    struct slist ready;             /* queued vCPUs, oldest first */
    struct slist held;              /* runnable vCPUs parked by a cap or co-scheduling */
    uint32_t nr_ready, nr_stealable, nr_runnable;
    uint64_t load, load_stamp_ns;   /* average of the runnable weight, LOAD_ONE per default weight */
    uint64_t run_weight;            /* sum of the runnable vCPUs' weights (__atomic reads) */
    uint64_t gps_vt, gps_stamp_ns;  /* GPS clock: advances by dt / run_weight */
    uint64_t gps_floor_vt;          /* GPS service of its always-runnable vCPUs, last balance */
    SCHED_POLICY_STORAGE(SCHED_PCPU_WORDS);
};

/* What a policy's admission sees: one pool's VMs as a set-up or a change would leave them.
 * VMs are indexed by id; those outside the pool have vcpus = 0.  Affinities are within the
 * pool's pCPUs. */
struct sched_admit_vm {
    uint32_t vcpus;
    uint32_t util_ppm;          /* rtds: budget / period of each vCPU, rounded up; 0 = none */
    sched_cpumask_t affinity;
    bool packed;                /* false: counted in the sum only (strict gang) */
};
struct sched_admit {
    const struct sched *s;      /* the running machine (current vCPUs keep their pCPU), or
                                   NULL at set-up */
    uint32_t npcpus;            /* of the machine */
    sched_cpumask_t cpus;       /* the pool's */
    uint32_t nvms;
    struct sched_admit_vm vms[SCHED_MAX_VMS];
};

struct sched_policy {
    const char *name;
    void (*init_pcpu)(struct sched_pcpu *p, uint64_t now);
    void (*init_vcpu)(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now);
    void (*wake)(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now, enum sched_join why);
    void (*sleep)(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now);
    void (*put_prev)(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now, bool yielded);
    struct sched_vcpu *(*pick_next)(struct sched_pcpu *p, uint64_t now);
    void (*tick)(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t ran_ns, uint64_t now);
    enum sched_preempt (*preempts)(struct sched_pcpu *p, struct sched_vcpu *cur, uint64_t now);
    uint64_t (*slice_ns)(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now);
    uint64_t (*recheck_ns)(struct sched_pcpu *p, struct sched_vcpu *cur, uint64_t now); /* may be NULL */
    void (*charge)(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t ns, uint64_t now); /* may be NULL */
    void (*unserved)(struct sched_pcpu *p, uint64_t from, uint64_t now);  /* may be NULL */
    int (*admit)(const struct sched_admit *a);                            /* may be NULL */
    uint64_t (*idle_recheck_ns)(struct sched_pcpu *p, uint64_t now);      /* may be NULL */
    bool partitioned;               /* the core pins reserved vCPUs to pCPUs (reserve.h) */
    int64_t (*value)(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now); /* may be NULL */
    size_t (*dump)(struct sched_pcpu *p, char *buf, size_t len);          /* may be NULL */
};

/* A trace ring (trace.c): slots of 4 words, seq = index + 1 once published, 0 while written. */
struct sched_trace_slot {
    uint64_t seq, t_ns, who, arg;
};
struct sched_trace_ring {
    uint64_t head;                  /* events reserved (__atomic) */
    uint64_t read;                  /* the reader's cursor (reader only) */
    struct sched_trace_slot *slot;  /* trace_cap of them */
};

struct sched {
    struct sched_env env;
    uint32_t npcpus, nvms, nvcpus, npools;
    struct sched_pool pools[SCHED_MAX_POOLS];
    uint32_t gang_refs;             /* gang VMs + gang switches in progress (__atomic; sched.h) */
    uint64_t seed, start_ns;
    enum sched_weight_per weight_per;
    sched_cpumask_t all_mask;
    sched_cpumask_t idle_mask;      /* __atomic */
    sched_cpumask_t ready_mask;     /* pCPUs with stealable queued vCPUs, __atomic */
    struct sched_pcpu *pcpus;
    struct sched_vm *vms;
    struct sched_vcpu *vcpus;
    struct hist *hists;
    uint32_t trace_on;              /* __atomic; trace.h */
    uint32_t trace_cap;             /* events per ring, a power of two; 0 = no rings */
    struct sched_trace_ring *trace;
};

/* The policy table (sched/policies.c): one line per policy. */
extern const struct sched_policy *const sched_policies[];
const struct sched_policy *sched_policy_find(const char *name);

/* Virtual time shared by credit, pshare and stride: ns scaled by 2^VT_SHIFT / weight, compared
 * with wrap-safe signed differences.  A pCPU clock advances by dt / (sum of runnable weights),
 * which is the GPS "fair" service per unit weight. */
#define VT_SHIFT 24

/* ns * 2^VT_SHIFT / w without overflow for w < 2^32 (result modulo 2^64). */
static inline uint64_t vt_from_ns(uint64_t ns, uint64_t w)
{
    return ((ns / w) << VT_SHIFT) + (((ns % w) << VT_SHIFT) / w);
}

/* Service in ns that virtual time DVT means at weight W (DVT signed, small). */
static inline int64_t vt_to_ns(int64_t dvt, uint64_t w)
{
    __int128 x = (__int128)dvt * (__int128)w;
    return (int64_t)(x >> VT_SHIFT);
}

static inline bool vt_before(uint64_t a, uint64_t b)
{
    return (int64_t)(a - b) < 0;
}

struct vclock {
    uint64_t v;           /* virtual time */
    uint64_t stamp_ns;    /* last advance */
    uint64_t weight_sum;  /* runnable weight on this pCPU */
};

static inline void vclock_advance(struct vclock *c, uint64_t now)
{
    if (now > c->stamp_ns && c->weight_sum)
        c->v += vt_from_ns(now - c->stamp_ns, c->weight_sum);
    if (now > c->stamp_ns)
        c->stamp_ns = now;
}

/* The same, for a clock of service: it advances only while P's current vCPU runs.  Time in
 * which the pCPU serves nobody while vCPUs are runnable (a VMM between a halt and its next
 * decision, or booting before its first) is no service; counted, it would be lag for whoever
 * was queued — under Bochs ~11 ms at boot and ~20 us at every halt, enough for a hog owed it
 * to keep its pCPU past a waker's deadline for 10-20 ms. */
static inline void vclock_serve(struct vclock *c, const struct sched_pcpu *p, uint64_t now)
{
    if (p->curr && p->curr->state == SCHED_RUNNING)
        vclock_advance(c, now);
    else if (now > c->stamp_ns)
        c->stamp_ns = now;
}

/* [FROM, NOW) was no service on P (sched_policy.unserved): advance to FROM only. */
static inline void vclock_unserved(struct vclock *c, const struct sched_pcpu *p, uint64_t from,
                                   uint64_t now)
{
    vclock_serve(c, p, from);
    if (now > c->stamp_ns)
        c->stamp_ns = now;
}

/* The one accounting write a policy makes: N deadlines of V passed unserved (rtds). */
static inline void sched_note_deadline_misses(struct sched_vcpu *v, uint64_t n)
{
    v->acct.deadline_misses += n;
}

static inline uint64_t sched_timeslice(const struct sched_pcpu *p)
{
    return p->pool->params.timeslice_ns;
}

/* The parameters of VM's pool. */
static inline const struct sched_params *sched_vm_params(const struct sched_vm *vm)
{
    return &vm->s->pools[vm->pool].params;
}

#endif
