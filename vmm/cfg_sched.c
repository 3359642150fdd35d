/* vsched.cfg -> struct sched_setup (cfg_sched.h). */
#include "vmm/cfg_sched.h"


#define US 1000ull

/* A [pool]'s parameter in ns for sched_pool_setup: 0 = inherit, SCHED_PARAM_ZERO = 0. */
static uint64_t pool_param(uint32_t us)
{
    return us == CFG_POOL_INHERIT ? 0 : us ? us * US : SCHED_PARAM_ZERO;
}

void cfg_sched_setup(const struct cfg *c, uint32_t npcpus, struct cfg_sched *out)
{
    struct sched_setup *st = &out->setup;
    const struct cfg_machine *m = &c->machine;
    sched_setup_defaults(st);
    st->npcpus = npcpus;
    st->policy = m->policy;
    st->timeslice_ns = m->timeslice_us * US;
    st->ratelimit_ns = m->ratelimit_us * US;
    st->gang_skew_ns = m->gang_skew_us * US;
    st->balance_ns = m->balance_us * US;
    st->seed = m->seed;
    st->weight_per = (enum sched_weight_per)m->weight_per;
    st->trace_events = m->trace_events;
    st->trace = m->trace != 0;
    st->nvms = c->nvms;
    st->vms = out->vms;
    st->npools = c->npools > 1 ? c->npools : 0;
    st->pools = st->npools ? out->pools : NULL;
    for (uint32_t i = 0; i < st->npools; i++) {
        const struct cfg_pool *p = &c->pools[i];
        out->pools[i] = (struct sched_pool_setup){
            .cpus = cfg_pool_cpus(c, i, npcpus),
            .policy = p->policy[0] ? p->policy : NULL,
            .timeslice_ns = pool_param(p->timeslice_us),
            .ratelimit_ns = pool_param(p->ratelimit_us),
            .gang_skew_ns = pool_param(p->gang_skew_us),
            .balance_ns = pool_param(p->balance_us),
        };
    }
    for (uint32_t i = 0; i < c->nvms; i++) {
        const struct cfg_vm *cv = &c->vms[i];
        out->vms[i] = (struct sched_vm_setup){
            .vcpus = cv->vcpus,
            .weight = cv->weight,
            .cap_pct = cv->cap,
            .gang = (enum sched_gang)cv->gang, /* the same order (config.h) */
            .affinity = cv->affinity,
            .start_pcpu = cv->start_pcpus == 1 ? cv->start_pcpu[0] : -1,
            .start_pcpus = cv->start_pcpus > 1 ? cv->start_pcpu : NULL,
            .rt_budget_ns = cv->rt_budget_us * US,
            .rt_period_ns = cv->rt_period_us * US,
            .rt_no_extra = !cv->rt_extratime,
            .pool = cv->pool,
        };
    }
}
