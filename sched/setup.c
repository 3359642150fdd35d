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

static sched_cpumask_t vm_affinity(const struct sched_vm_setup *vs, uint32_t npcpus)
{
    sched_cpumask_t all = cpumask_below(npcpus);
    if (!cpumask_any(&vs->affinity))
        return all;
    sched_cpumask_t m = vs->affinity;
    cpumask_and(&m, &all);
    return m;
}

static int32_t start_pcpu(const struct sched_vm_setup *vs, uint32_t k)
{
    return vs->start_pcpus ? vs->start_pcpus[k] : vs->start_pcpu;
}

int sched_setup_check(const struct sched_setup *st)
{
    if (!in_range(st->npcpus, 1, SCHED_MAX_PCPUS) || st->nvms > SCHED_MAX_VMS)
        return SCHED_E_RANGE;
    if (st->policy && !sched_policy_find(st->policy))
        return SCHED_E_POLICY;
    if (st->trace_events > SCHED_TRACE_EVENTS_MAX)
        return SCHED_E_RANGE;
    if (st->trace && !st->trace_events)
        return SCHED_E_SETUP;
    if ((unsigned)st->weight_per >= SCHED_WEIGHT_PER_COUNT)
        return SCHED_E_RANGE;
    int err = sched_check_params(st->timeslice_ns, st->ratelimit_ns, st->gang_skew_ns,
                                 st->balance_ns);
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
            sched_check_reservation(vs->rt_budget_ns, vs->rt_period_ns))
            return SCHED_E_RANGE;
        total += vs->vcpus;
        sched_cpumask_t aff = vm_affinity(vs, st->npcpus);
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
    const struct sched_policy *pol = sched_policy_find(st->policy ? st->policy : "credit");
    return pol->check_setup ? pol->check_setup(st) : SCHED_OK;
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
    s->policy = sched_policy_find(st->policy ? st->policy : "credit");
    s->params.timeslice_ns = st->timeslice_ns;
    s->params.ratelimit_ns = st->ratelimit_ns;
    s->params.gang_skew_ns = st->gang_skew_ns;
    s->params.balance_ns = st->balance_ns;
    s->seed = st->seed;
    s->weight_per = st->weight_per;
    s->start_ns = now;
    s->all_mask = cpumask_below(s->npcpus);
    s->idle_mask = s->all_mask;

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
        p->next_balance_ns = now + s->params.balance_ns;
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
        vm->affinity = vm_affinity(vs, s->npcpus);
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
    if (s->policy->partitioned)
        sched_reserve_place_initial(s);
    for (uint32_t c = 0; c < s->npcpus; c++)
        s->policy->init_pcpu(&s->pcpus[c], now);
    for (uint32_t i = 0; i < s->nvcpus; i++)
        s->policy->init_vcpu(&s->pcpus[s->vcpus[i].cpu], &s->vcpus[i], now);
    *out = s;
    return SCHED_OK;
}
