/* Setup: defaults, validation, the memory layout and sched_init. */
#include "sched/setup.h"

#include <string.h>

#include "sched/cap.h"
#include "sched/place.h"
#include "sched/reserve.h"

#define ALIGN16(x) (((x) + 15u) & ~(size_t)15u)
#define US 1000ull

void sched_setup_defaults(struct sched_setup *st)
{
    memset(st, 0, sizeof(*st));
    st->npcpus = 1;
    st->policy = "credit";
    st->timeslice_ns = SCHED_TIMESLICE_DEFAULT_US * US;
    st->ratelimit_ns = SCHED_RATELIMIT_DEFAULT_US * US;
    st->gang_skew_ns = SCHED_GANG_SKEW_DEFAULT_US * US;
    st->balance_ns = SCHED_BALANCE_DEFAULT_US * US;
    st->seed = 1;
}

int sched_check_params(uint64_t ts, uint64_t rl, uint64_t skew, uint64_t bal)
{
    if (!in_range(ts, SCHED_TIMESLICE_MIN_US * US, SCHED_TIMESLICE_MAX_US * US) || rl > ts ||
        !in_range(skew, SCHED_GANG_SKEW_MIN_US * US, SCHED_GANG_SKEW_MAX_US * US))
        return SCHED_E_RANGE;
    if (bal && !in_range(bal, SCHED_BALANCE_MIN_US * US, SCHED_BALANCE_MAX_US * US))
        return SCHED_E_RANGE;
    return SCHED_OK;
}

int sched_check_reservation(uint64_t budget_ns, uint64_t period_ns)
{
    if (!budget_ns)
        return SCHED_OK;
    if (!in_range(period_ns, SCHED_RT_PERIOD_MIN_US * US, SCHED_RT_PERIOD_MAX_US * US) ||
        !in_range(budget_ns, US, period_ns))
        return SCHED_E_RANGE;
    return SCHED_OK;
}

/* A pool's parameter: 0 = the set-up's, SCHED_PARAM_ZERO = 0. */
static uint64_t param_of(uint64_t pool, uint64_t machine)
{
    return !pool ? machine : pool == SCHED_PARAM_ZERO ? 0 : pool;
}

/* Pool I of set-up ST as it will be (ST->npools 0: one pool of every pCPU).  *POLICY and the
 * parameters are the set-up's where the pool leaves them 0. */
static void pool_of_setup(const struct sched_setup *st, uint32_t i, struct sched_pool *out)
{
    const struct sched_pool_setup *ps = st->npools ? &st->pools[i] : NULL;
    out->id = i;
    out->cpus = cpumask_below(st->npcpus);
    if (ps)
        cpumask_and(&out->cpus, &ps->cpus);
    const char *name = ps && ps->policy ? ps->policy : st->policy ? st->policy : "credit";
    out->policy = sched_policy_find(name);
    out->params.timeslice_ns = ps && ps->timeslice_ns ? ps->timeslice_ns : st->timeslice_ns;
    out->params.ratelimit_ns = param_of(ps ? ps->ratelimit_ns : 0, st->ratelimit_ns);
    out->params.gang_skew_ns = ps && ps->gang_skew_ns ? ps->gang_skew_ns : st->gang_skew_ns;
    out->params.balance_ns = param_of(ps ? ps->balance_ns : 0, st->balance_ns);
}

static uint32_t npools_of(const struct sched_setup *st)
{
    return st->npools ? st->npools : 1;
}

/* A VM's affinity: as set up (empty = all), within its pool's pCPUs. */
static sched_cpumask_t vm_affinity(const struct sched_vm_setup *vs, const sched_cpumask_t *pool)
{
    sched_cpumask_t m = cpumask_any(&vs->affinity) ? vs->affinity : *pool;
    cpumask_and(&m, pool);
    return m;
}

static int32_t start_pcpu(const struct sched_vm_setup *vs, uint32_t k)
{
    return vs->start_pcpus ? vs->start_pcpus[k] : vs->start_pcpu;
}

/* Pools: known policies, valid parameters, disjoint pCPU sets covering the machine (a VM's
 * pool has a pCPU it may use: checked with the VMs). */
static int check_pools(const struct sched_setup *st)
{
    if (st->npools > SCHED_MAX_POOLS || (st->npools && !st->pools))
        return st->npools > SCHED_MAX_POOLS ? SCHED_E_RANGE : SCHED_E_SETUP;
    sched_cpumask_t seen = cpumask_none(), all = cpumask_below(st->npcpus);
    for (uint32_t i = 0; i < npools_of(st); i++) {
        if (st->npools && st->pools[i].policy && !sched_policy_find(st->pools[i].policy))
            return SCHED_E_POLICY;
        struct sched_pool pool;
        pool_of_setup(st, i, &pool);
        int err = sched_check_params(pool.params.timeslice_ns, pool.params.ratelimit_ns,
                                     pool.params.gang_skew_ns, pool.params.balance_ns);
        if (err)
            return err;
        if (st->npools) {
            sched_cpumask_t outside = st->pools[i].cpus, both = st->pools[i].cpus;
            cpumask_andnot(&outside, &all);
            cpumask_and(&both, &seen);
            if (cpumask_any(&outside) || cpumask_any(&both))
                return SCHED_E_SETUP;
            cpumask_or(&seen, &pool.cpus);
        }
    }
    if (st->npools && !cpumask_equal(&seen, &all))
        return SCHED_E_SETUP; /* a pCPU in no pool would never run anything */
    return SCHED_OK;
}

/* Admission of pool I by its policy (null, rtds), the set-up's VMs as they will be placed. */
static int admit_setup_pool(const struct sched_setup *st, uint32_t i)
{
    struct sched_pool pool;
    pool_of_setup(st, i, &pool);
    if (!pool.policy->admit)
        return SCHED_OK;
    struct sched_admit a = { .s = NULL, .npcpus = st->npcpus, .cpus = pool.cpus, .nvms = st->nvms };
    for (uint32_t k = 0; k < st->nvms; k++) {
        const struct sched_vm_setup *vs = &st->vms[k];
        bool in = vs->pool == i;
        a.vms[k].vcpus = in ? vs->vcpus : 0;
        a.vms[k].util_ppm = in ? sched_util_ppm(vs->rt_budget_ns, vs->rt_period_ns) : 0;
        a.vms[k].affinity = vm_affinity(vs, &pool.cpus);
        a.vms[k].packed = vs->gang != SCHED_GANG_STRICT;
    }
    return pool.policy->admit(&a);
}

int sched_setup_check(const struct sched_setup *st)
{
    if (!in_range(st->npcpus, 1, SCHED_MAX_PCPUS) || st->nvms > SCHED_MAX_VMS)
        return SCHED_E_RANGE;
    if (st->policy && !sched_policy_find(st->policy))
        return SCHED_E_POLICY;
    int err = check_pools(st);
    if (err)
        return err;
    if (st->trace_events > SCHED_TRACE_EVENTS_MAX)
        return SCHED_E_RANGE;
    if (st->trace && !st->trace_events)
        return SCHED_E_SETUP;
    if ((unsigned)st->weight_per >= SCHED_WEIGHT_PER_COUNT)
        return SCHED_E_RANGE;
    err = sched_check_params(st->timeslice_ns, st->ratelimit_ns, st->gang_skew_ns, st->balance_ns);
    if (err)
        return err;
    if (st->nvms && !st->vms)
        return SCHED_E_SETUP;
    uint32_t total = 0;
    for (uint32_t i = 0; i < st->nvms; i++) {
        const struct sched_vm_setup *vs = &st->vms[i];
        if (!in_range(vs->vcpus, 1, SCHED_MAX_VCPUS) || vs->weight > SCHED_WEIGHT_MAX ||
            vs->cap_pct > SCHED_CAP_PER_VCPU * vs->vcpus ||
            (unsigned)vs->gang >= SCHED_GANG_COUNT ||
            sched_check_reservation(vs->rt_budget_ns, vs->rt_period_ns) ||
            vs->pool >= npools_of(st))
            return SCHED_E_RANGE;
        total += vs->vcpus;
        struct sched_pool pool;
        pool_of_setup(st, vs->pool, &pool);
        sched_cpumask_t aff = vm_affinity(vs, &pool.cpus);
        if (!cpumask_any(&aff))
            return SCHED_E_SETUP;
        if (vs->gang == SCHED_GANG_STRICT && cpumask_count(&aff) < vs->vcpus)
            return SCHED_E_SETUP;
        for (uint32_t k = 0; k < vs->vcpus; k++) {
            int32_t c = start_pcpu(vs, k);
            if (c >= 0 && ((uint32_t)c >= st->npcpus || !cpumask_test(&aff, (unsigned)c) ||
                           vs->gang == SCHED_GANG_STRICT))
                return SCHED_E_SETUP; /* strict members have homes chosen at setup */
        }
    }
    if (total > SCHED_MAX_VCPUS)
        return SCHED_E_RANGE;
    for (uint32_t i = 0; i < npools_of(st); i++)
        if ((err = admit_setup_pool(st, i)))
            return err;
    return SCHED_OK;
}

static uint32_t total_vcpus(const struct sched_setup *st)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < st->nvms; i++)
        n += st->vms[i].vcpus;
    return n;
}

size_t sched_mem_size(const struct sched_setup *st)
{
    uint32_t nv = total_vcpus(st);
    size_t ring = st->trace_events <= SCHED_TRACE_EVENTS_MAX ? sched_trace_ring_events(st->trace_events) : 0;
    return ALIGN16(st->npcpus * sizeof(struct sched_trace_ring)) +
           ALIGN16(st->npcpus * ring * sizeof(struct sched_trace_slot)) +
           ALIGN16(sizeof(struct sched)) + ALIGN16(st->npcpus * sizeof(struct sched_pcpu)) +
           ALIGN16(st->nvms * sizeof(struct sched_vm)) + ALIGN16(nv * sizeof(struct sched_vcpu)) +
           ALIGN16(nv * sizeof(struct hist));
}

unsigned sched_lock_count(const struct sched_setup *st)
{
    return st->npcpus + 1 + st->nvms;
}

static void *carve(char **cur, size_t bytes)
{
    void *p = *cur;
    *cur += ALIGN16(bytes);
    return p;
}

int sched_init(struct sched **out, void *mem, size_t size, const struct sched_setup *st,
               const struct sched_env *env, uint64_t now)
{
    int err = sched_setup_check(st);
    if (err)
        return err;
    if (!mem || size < sched_mem_size(st) || ((uintptr_t)mem & 15u))
        return SCHED_E_NOMEM;
    memset(mem, 0, sched_mem_size(st));
    char *cur = mem;
    struct sched *s = carve(&cur, sizeof(*s));
    s->npcpus = st->npcpus;
    s->nvms = st->nvms;
    s->nvcpus = total_vcpus(st);
    s->pcpus = carve(&cur, s->npcpus * sizeof(struct sched_pcpu));
    s->vms = carve(&cur, s->nvms * sizeof(struct sched_vm));
    s->vcpus = carve(&cur, s->nvcpus * sizeof(struct sched_vcpu));
    s->hists = carve(&cur, s->nvcpus * sizeof(struct hist));
    s->trace_cap = sched_trace_ring_events(st->trace_events);
    s->trace = carve(&cur, s->npcpus * sizeof(struct sched_trace_ring));
    struct sched_trace_slot *slots = carve(&cur, (size_t)s->npcpus * s->trace_cap *
                                                     sizeof(struct sched_trace_slot));
    for (uint32_t c = 0; c < s->npcpus; c++)
        s->trace[c].slot = slots + (size_t)c * s->trace_cap;
    s->trace_on = st->trace && s->trace_cap;
    s->env = *env;
    s->npools = npools_of(st);
    for (uint32_t i = 0; i < s->npools; i++)
        pool_of_setup(st, i, &s->pools[i]);
    s->seed = st->seed;
    s->weight_per = st->weight_per;
    s->start_ns = now;
    s->all_mask = cpumask_below(s->npcpus);
    s->idle_mask = s->all_mask;

    for (uint32_t i = 0; i < s->npools; i++)
        cpumask_for_each(c, &s->pools[i].cpus)
            s->pcpus[c].pool = &s->pools[i];
    for (uint32_t c = 0; c < s->npcpus; c++) {
        struct sched_pcpu *p = &s->pcpus[c];
        p->s = s;
        p->id = c;
        slist_init(&p->ready);
        slist_init(&p->held);
        p->last_now_ns = p->load_stamp_ns = now;
        p->next_event_ns = SCHED_NO_EVENT;
        p->preempt_at_ns = SCHED_NO_EVENT;
        p->recheck_at_ns = SCHED_NO_EVENT;
        p->next_balance_ns = now + p->pool->params.balance_ns;
        p->gps_floor_vt = UINT64_MAX; /* none yet (place.c) */
        p->gps_stamp_ns = now;
    }
    uint32_t id = 0;
    for (uint32_t i = 0; i < s->nvms; i++) {
        const struct sched_vm_setup *vs = &st->vms[i];
        struct sched_vm *vm = &s->vms[i];
        vm->s = s;
        vm->id = i;
        vm->nvcpus = vs->vcpus;
        vm->weight = vs->weight ? vs->weight : SCHED_WEIGHT_DEFAULT;
        vm->gang = vs->gang;
        vm->pool = vs->pool;
        vm->user_affinity = vs->affinity;
        vm->affinity = vm_affinity(vs, &s->pools[vm->pool].cpus);
        vm->rt_budget_ns = vs->rt_budget_ns;
        vm->rt_period_ns = vs->rt_budget_ns ? vs->rt_period_ns : 0;
        vm->rt_extra = !vs->rt_no_extra;
        vm->vcpus = &s->vcpus[id];
        sched_cap_set(s, vm, vs->cap_pct, now);
        if (vm->gang != SCHED_GANG_NONE)
            s->gang_refs++;
        for (uint32_t k = 0; k < vm->nvcpus; k++, id++) {
            struct sched_vcpu *v = &s->vcpus[id];
            v->vm = vm;
            v->id = id;
            v->index = k;
            v->home = -1;
            v->cpu = start_pcpu(vs, k);
            v->weight = vm->weight;
            v->state = SCHED_BLOCKED;
            v->affinity = vm->affinity;
            v->since_ns = v->load_stamp_ns = now;
            v->latency = &s->hists[id];
            slist_init(&v->qnode);
        }
    }
    sched_place_initial(s);
    for (uint32_t i = 0; i < s->npools; i++)
        if (s->pools[i].policy->partitioned)
            sched_reserve_place_initial(s, &s->pools[i]);
    for (uint32_t c = 0; c < s->npcpus; c++)
        s->pcpus[c].pool->policy->init_pcpu(&s->pcpus[c], now);
    for (uint32_t i = 0; i < s->nvcpus; i++) {
        struct sched_pcpu *p = &s->pcpus[s->vcpus[i].cpu];
        p->pool->policy->init_vcpu(p, &s->vcpus[i], now);
    }
    *out = s;
    return SCHED_OK;
}
