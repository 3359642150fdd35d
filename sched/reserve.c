/* Reservations: admission by packing, and the pins it gives reserved vCPUs.  See reserve.h. */
#include "sched/reserve.h"

#include "sched/gang.h"
#include "sched/util.h"

int sched_reserve_pack(const struct sched_admit *a,
                       int32_t (*fixed)(void *ctx, uint32_t vm, uint32_t k),
                       void (*assign)(void *ctx, uint32_t vm, uint32_t k, int32_t cpu), void *ctx)
{
    uint32_t load[SCHED_MAX_PCPUS] = { 0 };
    uint64_t sum = 0;
    const struct sched_admit_vm *vms = a->vms;
    for (uint32_t i = 0; i < a->nvms; i++)
        sum += (uint64_t)vms[i].vcpus * vms[i].util_ppm;
    if (sum > (uint64_t)cpumask_count(&a->cpus) * SCHED_RSV_FULL_PPM)
        return SCHED_E_ADMIT;
    /* vCPUs that must stay where they are come first. */
    for (uint32_t i = 0; i < a->nvms; i++)
        for (uint32_t k = 0; vms[i].packed && vms[i].util_ppm && k < vms[i].vcpus; k++) {
            int32_t c = fixed ? fixed(ctx, i, k) : -1;
            if (c < 0)
                continue;
            load[c] += vms[i].util_ppm;
            if (load[c] > SCHED_RSV_FULL_PPM)
                return SCHED_E_ADMIT;
            if (assign)
                assign(ctx, i, k, c);
        }
    /* Then the VMs by decreasing utilization (ties: lower index), each vCPU on the allowed
     * pCPU with the most room (worst fit: spreads the reservations, leaving each pCPU slack).
     * Affinities are within the pool. */
    uint64_t done = 0; /* VMs placed, a bit each (nvms <= 64) */
    for (;;) {
        int best = -1;
        for (uint32_t i = 0; i < a->nvms; i++)
            if (!(done >> i & 1) && vms[i].packed && vms[i].util_ppm && vms[i].vcpus &&
                (best < 0 || vms[i].util_ppm > vms[best].util_ppm))
                best = (int)i;
        if (best < 0)
            return SCHED_OK;
        done |= 1ull << best;
        const struct sched_admit_vm *vm = &vms[best];
        for (uint32_t k = 0; k < vm->vcpus; k++) {
            if (fixed && fixed(ctx, (uint32_t)best, k) >= 0)
                continue;
            int c = -1;
            cpumask_for_each(p, &vm->affinity)
                if (load[p] + vm->util_ppm <= SCHED_RSV_FULL_PPM && (c < 0 || load[p] < load[c]))
                    c = (int)p;
            if (c < 0)
                return SCHED_E_ADMIT;
            load[c] += vm->util_ppm;
            if (assign)
                assign(ctx, (uint32_t)best, k, c);
        }
    }
}

uint32_t sched_util_ppm(uint64_t budget_ns, uint64_t period_ns)
{
    if (!budget_ns || !period_ns)
        return 0;
    return (uint32_t)((budget_ns * SCHED_RSV_FULL_PPM + period_ns - 1) / period_ns);
}

void sched_admit_view(const struct sched *s, uint32_t pool, const struct sched_change *c,
                      struct sched_admit *out)
{
    uint32_t set = c ? c->set : 0;
    out->s = s;
    out->npcpus = s->npcpus;
    out->nvms = s->nvms;
    out->cpus = s->pools[pool].cpus;
    if (set & SCHED_SET_PCPU_POOL) {
        if (s->pcpus[c->pcpu].pool->id == pool)
            cpumask_clear(&out->cpus, c->pcpu);
        if (c->to_pool == pool)
            cpumask_set(&out->cpus, c->pcpu);
    }
    for (uint32_t i = 0; i < s->nvms; i++) {
        const struct sched_vm *vm = &s->vms[i];
        struct sched_admit_vm *o = &out->vms[i];
        bool mine = c && c->vm == i;
        uint32_t in = (set & SCHED_SET_VM_POOL) && mine ? c->to_pool : vm->pool;
        o->vcpus = in == pool ? vm->nvcpus : 0;
        o->util_ppm = (set & SCHED_SET_RESERVATION) && mine
                          ? sched_util_ppm(c->rt_budget_ns, c->rt_period_ns)
                          : sched_util_ppm(vm->rt_budget_ns, vm->rt_period_ns);
        o->affinity = cpumask_any(&vm->user_affinity) ? vm->user_affinity : out->cpus;
        cpumask_and(&o->affinity, &out->cpus);
        o->packed = (set & SCHED_SET_GANG) && mine ? c->gang != SCHED_GANG_STRICT
                                                   : vm->gang != SCHED_GANG_STRICT;
    }
}

int32_t sched_reserve_current(const struct sched_admit *a, uint32_t vm, uint32_t k)
{
    const struct sched_vcpu *v = &a->s->vms[vm].vcpus[k];
    return a->s->pcpus[v->cpu].curr == v && cpumask_test(&a->cpus, (unsigned)v->cpu) ? v->cpu
                                                                                    : -1;
}

static void assign_initial(void *ctx, uint32_t vm, uint32_t k, int32_t cpu)
{
    struct sched *s = ctx;
    struct sched_vcpu *v = &s->vms[vm].vcpus[k];
    v->cpu = v->home = cpu;
    v->affinity = cpumask_of((unsigned)cpu);
}

void sched_reserve_place_initial(struct sched *s, const struct sched_pool *pool)
{
    struct sched_admit a;
    sched_admit_view(s, pool->id, NULL, &a);
    (void)sched_reserve_pack(&a, NULL, assign_initial, s);
}

struct pin_ctx {
    struct sched *s;
    const struct sched_admit *a;
    uint64_t now;
};

static int32_t fixed_pin(void *ctx, uint32_t vm, uint32_t k)
{
    return sched_reserve_current(((struct pin_ctx *)ctx)->a, vm, k);
}

/* Every lock held; V is not current unless CPU is where it is current (fixed_pin). */
static void assign_pin(void *ctx, uint32_t vm, uint32_t k, int32_t cpu)
{
    struct pin_ctx *pc = ctx;
    struct sched_vcpu *v = &pc->s->vms[vm].vcpus[k];
    if (v->home != cpu)
        sched_set_home(pc->s, v, cpu, pc->now);
}

/* Pinned by a reservation: a home that is not a strict gang's. */
static bool rsv_pinned(const struct sched_vcpu *v)
{
    return v->home >= 0 && !is_strict(v);
}

int sched_reserve_pin(struct sched *s, const struct sched_pool *pool, uint64_t now)
{
    struct sched_admit a;
    sched_admit_view(s, pool->id, NULL, &a);
    struct pin_ctx pc = { s, &a, now };
    if (sched_reserve_pack(&a, fixed_pin, NULL, &pc))
        return SCHED_E_ADMIT; /* validated first: nothing moves */
    for (uint32_t i = 0; i < s->nvcpus; i++) { /* reservations removed: free again */
        struct sched_vcpu *v = &s->vcpus[i];
        if (v->vm->pool == pool->id && rsv_pinned(v) && !a.vms[v->vm->id].util_ppm)
            sched_set_home(s, v, -1, now);
    }
    (void)sched_reserve_pack(&a, fixed_pin, assign_pin, &pc);
    return SCHED_OK;
}

void sched_reserve_unpin(struct sched *s, const struct sched_pool *pool, uint64_t now)
{
    for (uint32_t i = 0; i < s->nvcpus; i++)
        if (s->vcpus[i].vm->pool == pool->id && rsv_pinned(&s->vcpus[i]))
            sched_set_home(s, &s->vcpus[i], -1, now);
}
