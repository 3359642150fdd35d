/* Runqueue primitives: locks, accounting state, ready and held lists, load tracking.  See
 * runq.h. */
#include "sched/runq.h"

#include "sched/assert.h"

void sched_rq_lock_two(struct sched *s, unsigned a, unsigned b)
{
    if (a == b) {
        rq_lock(s, a);
        return;
    }
    rq_lock(s, a < b ? a : b);
    rq_lock(s, a < b ? b : a);
}

void sched_rq_unlock_two(struct sched *s, unsigned a, unsigned b)
{
    rq_unlock(s, a);
    if (a != b)
        rq_unlock(s, b);
}

struct sched_pcpu *sched_lock_vcpu_rq(struct sched *s, struct sched_vcpu *v)
{
    for (;;) {
        int32_t c = __atomic_load_n(&v->cpu, __ATOMIC_SEQ_CST);
        rq_lock(s, (unsigned)c);
        if (__atomic_load_n(&v->cpu, __ATOMIC_SEQ_CST) == c)
            return &s->pcpus[c];
        rq_unlock(s, (unsigned)c);
    }
}

void sched_acct_state(struct sched_vcpu *v, enum sched_state st, uint64_t now)
{
    if (now > v->since_ns) {
        uint64_t d = now - v->since_ns;
        switch (v->state) {
        case SCHED_RUNNING: v->acct.running_ns += d; break;
        case SCHED_READY: v->acct.ready_ns += d; break;
        case SCHED_BLOCKED: v->acct.blocked_ns += d; break;
        default: v->acct.costop_ns += d; break;
        }
        v->since_ns = now;
    }
    v->state = (uint8_t)st;
}

static bool stealable(const struct sched_vcpu *v)
{
    return v->home < 0;
}

void sched_ready_add(struct sched *s, struct sched_pcpu *p, struct sched_vcpu *v)
{
    SCHED_ASSERT(!v->queued && v->hold == HOLD_NONE && p->curr != v && v->cpu == (int32_t)p->id);
    slist_add_tail(&p->ready, &v->qnode);
    v->queued = true;
    p->nr_ready++;
    if (stealable(v) && p->nr_stealable++ == 0)
        cpumask_atomic_set(&s->ready_mask, p->id);
}

void sched_ready_del(struct sched *s, struct sched_pcpu *p, struct sched_vcpu *v)
{
    SCHED_ASSERT(v->queued && p->nr_ready > 0);
    slist_del(&v->qnode);
    v->queued = false;
    p->nr_ready--;
    if (stealable(v) && --p->nr_stealable == 0)
        cpumask_atomic_clear(&s->ready_mask, p->id);
}

void sched_reweight(struct sched *s, struct sched_pcpu *p, struct sched_vcpu *v, uint32_t weight,
                    uint64_t now)
{
    (void)s;
    if (v->weight == weight)
        return;
    bool cur = p->curr == v && v->state == SCHED_RUNNING;
    if (cur || v->queued)
        p->pool->policy->sleep(p, v, now);
    sched_runnable_reweight(p, v, weight, now);
    if (cur)
        p->pool->policy->wake(p, v, now, SCHED_JOIN_CURRENT);
    else if (v->queued)
        p->pool->policy->wake(p, v, now, SCHED_JOIN_MOVE);
}

void sched_enqueue(struct sched *s, struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now,
                   enum sched_join why)
{
    p->pool->policy->wake(p, v, now, why);
    sched_ready_add(s, p, v);
    p->preempt_check = true; /* a newcomer: may it replace the running vCPU? */
}

void sched_dequeue(struct sched *s, struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    p->pool->policy->sleep(p, v, now);
    sched_ready_del(s, p, v);
}

void sched_hold(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now, enum sched_hold why)
{
    SCHED_ASSERT(!v->queued && v->hold == HOLD_NONE && p->curr != v && why != HOLD_NONE);
    if (why != HOLD_MOVE) /* a move is traced when it happens (SCHED_TR_MIGRATE) */
        trace_ev(p->s, p->id, why == HOLD_CAP ? SCHED_TR_CAP_PARK : SCHED_TR_COSTOP, v,
                 why == HOLD_GANG ? 0 : 1, now);
    if (why == HOLD_CAP)
        sched_runnable_leave(p, v, now); /* a parked vCPU's demand is the cap */
    v->hold = (uint8_t)why;
    if (why == HOLD_LEAD)
        v->lead_hold = true;
    slist_add_tail(&p->held, &v->qnode);
    sched_acct_state(v, why == HOLD_CAP || why == HOLD_MOVE ? SCHED_READY : SCHED_COSTOP, now);
}

void sched_unhold(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    slist_del(&v->qnode);
    bool cap = v->hold == HOLD_CAP;
    if (v->hold != HOLD_MOVE)
        trace_ev(p->s, p->id, cap ? SCHED_TR_CAP_UNPARK : SCHED_TR_UNHOLD, v, 0, now);
    v->hold = HOLD_NONE;
    if (cap)
        sched_runnable_join(p, v, now);
}

/* ---- load ------------------------------------------------------------------------------- */

#define LOAD_UNIT_NS 1000000ull /* decay step; 32 steps = one half-life */

/* 2^(-k/32) in Q16. */
static const uint32_t decay_q16[32] = {
    65536, 64132, 62757, 61413, 60097, 58809, 57549, 56316, 55109, 53928, 52773,
    51642, 50535, 49452, 48393, 47356, 46341, 45348, 44376, 43425, 42495, 41584,
    40693, 39821, 38968, 38133, 37316, 36516, 35734, 34968, 34219, 33486,
};

/* Moves AVG toward TARGET for the whole steps elapsed since *STAMP; the remainder of a step
 * stays for the next call, so many small updates compose like one big one. */
static uint64_t ewma(uint64_t avg, uint64_t target, uint64_t *stamp, uint64_t now)
{
    if (now <= *stamp)
        return avg;
    uint64_t n = (now - *stamp) / LOAD_UNIT_NS;
    if (n == 0)
        return avg;
    *stamp += n * LOAD_UNIT_NS;
    uint64_t f = n >= 32 * 20 ? 0 : decay_q16[n % 32] >> (n / 32);
    if (avg >= target)
        return target + (((avg - target) * f) >> 16);
    return target - (((target - avg) * f) >> 16);
}

bool sched_counts_as_load(const struct sched_vcpu *v)
{
    return v->state != SCHED_BLOCKED && v->hold != HOLD_CAP;
}

void sched_vcpu_load_update(struct sched_vcpu *v, uint64_t now)
{
    v->load = ewma(v->load, v->gps_in ? LOAD_ONE : 0, &v->load_stamp_ns, now);
}

static uint64_t weighted(uint64_t load, uint64_t weight)
{
    return load * weight / SCHED_WEIGHT_DEFAULT;
}

uint64_t sched_vcpu_weighted_load(const struct sched_vcpu *v)
{
    return weighted(v->load, v->weight);
}

void sched_pcpu_load_update(struct sched_pcpu *p, uint64_t now)
{
    uint64_t l = ewma(p->load, weighted(LOAD_ONE, p->run_weight), &p->load_stamp_ns, now);
    __atomic_store_n(&p->load, l, __ATOMIC_RELAXED); /* read by other pCPUs when balancing */
}

static void gps_advance(struct sched_pcpu *p, uint64_t now)
{
    if (now > p->gps_stamp_ns && p->run_weight)
        p->gps_vt += vt_from_ns(now - p->gps_stamp_ns, p->run_weight);
    if (now > p->gps_stamp_ns)
        p->gps_stamp_ns = now;
}

/* Brings P's load, V's load and P's GPS clock up to NOW (before a change of the set). */
static void sync(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    sched_pcpu_load_update(p, now);
    sched_vcpu_load_update(v, now);
    gps_advance(p, now);
}

void sched_runnable_join(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    SCHED_ASSERT(!v->gps_in);
    sync(p, v, now);
    p->nr_runnable++;
    __atomic_store_n(&p->run_weight, p->run_weight + v->weight, __ATOMIC_RELAXED);
    v->gps_base_vt = p->gps_vt;
    v->gps_join_ns = now;
    v->gps_in = true;
}

void sched_runnable_leave(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    SCHED_ASSERT(v->gps_in && p->nr_runnable > 0 && p->run_weight >= v->weight);
    sync(p, v, now);
    p->nr_runnable--;
    __atomic_store_n(&p->run_weight, p->run_weight - v->weight, __ATOMIC_RELAXED);
    v->gps_acc_vt += p->gps_vt - v->gps_base_vt;
    v->gps_in = false;
}

/* Actual service up to the run time accounted so far, at V's weight. */
static void svc_flush(struct sched_vcpu *v)
{
    v->svc_vt += vt_from_ns(v->acct.running_ns - v->svc_mark_ns, v->weight);
    v->svc_mark_ns = v->acct.running_ns;
}

void sched_gps_settle(struct sched_vcpu *v)
{
    SCHED_ASSERT(!v->gps_in && v->state != SCHED_RUNNING);
    svc_flush(v);
    v->gps_acc_vt = v->svc_vt;
}

void sched_runnable_reweight(struct sched_pcpu *p, struct sched_vcpu *v, uint32_t weight,
                             uint64_t now)
{
    bool in = v->gps_in;
    if (in)
        sched_runnable_leave(p, v, now);
    sched_acct_state(v, (enum sched_state)v->state, now); /* running time up to now */
    svc_flush(v);
    v->weight = weight;
    if (in)
        sched_runnable_join(p, v, now);
}

uint64_t sched_gps_service(struct sched_pcpu *p, struct sched_vcpu *v, uint64_t now)
{
    gps_advance(p, now);
    return v->gps_acc_vt + (v->gps_in ? p->gps_vt - v->gps_base_vt : 0);
}

bool sched_always_runnable(const struct sched_vcpu *v, uint64_t now)
{
    return v->gps_in && (v->load >= LOAD_ONE * 7 / 8 || now - v->gps_join_ns >= ALWAYS_RUNNABLE_NS);
}
