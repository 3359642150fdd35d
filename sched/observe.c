/* Lookup and observation: names, sizes, a vCPU's state and accounting, a VM's sums, error
 * strings and the text dump. */
#include <string.h>

#include "sched/core.h"
#include "sched/runq.h"

const char *sched_policy_name(const struct sched *s)
{
    return sched_pool_policy_name(s, 0);
}

const char *sched_pool_policy_name(const struct sched *s, unsigned pool)
{
    if (pool >= s->npools)
        return NULL;
    return __atomic_load_n(&s->pools[pool].policy, __ATOMIC_ACQUIRE)->name;
}

unsigned sched_npools(const struct sched *s)
{
    return s->npools;
}

unsigned sched_vm_pool(const struct sched *s, unsigned vm)
{
    return vm < s->nvms ? __atomic_load_n(&s->vms[vm].pool, __ATOMIC_RELAXED) : 0;
}

unsigned sched_pcpu_pool(const struct sched *s, unsigned cpu)
{
    if (cpu >= s->npcpus)
        return 0;
    return __atomic_load_n(&s->pcpus[cpu].pool, __ATOMIC_ACQUIRE)->id;
}

sched_cpumask_t sched_pool_cpus(struct sched *s, unsigned pool)
{
    if (pool >= s->npools)
        return cpumask_none();
    s->env.lock(s->env.ctx, s->npcpus);
    sched_cpumask_t m = s->pools[pool].cpus;
    s->env.unlock(s->env.ctx, s->npcpus);
    return m;
}

unsigned sched_npcpus(const struct sched *s)
{
    return s->npcpus;
}

unsigned sched_nvms(const struct sched *s)
{
    return s->nvms;
}

unsigned sched_vm_nvcpus(const struct sched *s, unsigned vm)
{
    return vm < s->nvms ? s->vms[vm].nvcpus : 0;
}

enum sched_gang sched_vm_gang(struct sched *s, unsigned vm)
{
    if (vm >= s->nvms)
        return SCHED_GANG_NONE;
    s->env.lock(s->env.ctx, s->npcpus);
    enum sched_gang g = s->vms[vm].gang;
    s->env.unlock(s->env.ctx, s->npcpus);
    return g;
}

struct sched_vcpu *sched_vcpu_get(struct sched *s, unsigned vm, unsigned index)
{
    if (vm >= s->nvms || index >= s->vms[vm].nvcpus)
        return NULL;
    return &s->vms[vm].vcpus[index];
}

unsigned sched_vcpu_vm(const struct sched_vcpu *v)
{
    return v->vm->id;
}

unsigned sched_vcpu_index(const struct sched_vcpu *v)
{
    return v->index;
}

void sched_vcpu_set_user(struct sched_vcpu *v, void *user)
{
    v->user = user;
}

void *sched_vcpu_user(const struct sched_vcpu *v)
{
    return v->user;
}

void sched_vcpu_info(struct sched *s, struct sched_vcpu *v, struct sched_vcpu_info *out)
{
    int e = sched_enter(s, sched_vcpu_slot(v));
    struct sched_pcpu *p = sched_lock_vcpu_rq(s, v);
    out->state = (enum sched_state)v->state;
    out->pcpu = p->id;
    out->held = v->hold != HOLD_NONE;
    out->pinned = v->home >= 0;
    out->affinity = v->affinity;
    rq_unlock(s, p->id);
    sched_leave(s, e);
}

void sched_vcpu_acct(struct sched *s, struct sched_vcpu *v, uint64_t now, struct sched_acct *out,
                     struct hist *lat)
{
    int e = sched_enter(s, sched_vcpu_slot(v));
    struct sched_pcpu *p = sched_lock_vcpu_rq(s, v);
    *out = v->acct;
    uint64_t t = now > v->since_ns ? now : v->since_ns;
    uint64_t d = t - v->since_ns;
    switch (v->state) {
    case SCHED_RUNNING: out->running_ns += d; break;
    case SCHED_READY: out->ready_ns += d; break;
    case SCHED_BLOCKED: out->blocked_ns += d; break;
    default: out->costop_ns += d; break;
    }
    out->lifetime_ns = t - s->start_ns;
    out->policy_value = p->pool->policy->value ? p->pool->policy->value(p, v, now) : 0;
    if (lat)
        *lat = *v->latency;
    rq_unlock(s, p->id);
    sched_leave(s, e);
}

void sched_vm_acct(struct sched *s, unsigned vm, uint64_t now, struct sched_acct *out,
                   struct hist *lat)
{
    memset(out, 0, sizeof(*out));
    if (lat)
        hist_clear(lat);
    if (vm >= s->nvms)
        return;
    for (uint32_t k = 0; k < s->vms[vm].nvcpus; k++) {
        struct sched_acct a;
        struct sched_vcpu *v = &s->vms[vm].vcpus[k];
        sched_vcpu_acct(s, v, now, &a, NULL);
        sched_acct_add(out, &a);
        if (lat)
            hist_merge(lat, v->latency); /* counters only grow: a racy read is still sane */
    }
}

const char *sched_strerror(int err)
{
    switch (err) {
    case SCHED_OK: return "ok";
    case SCHED_E_RANGE: return "value out of range";
    case SCHED_E_POLICY: return "unknown policy";
    case SCHED_E_VM: return "no such VM";
    case SCHED_E_NOMEM: return "memory block too small or misaligned";
    case SCHED_E_SETUP: return "inconsistent setup (affinity, gang width, start pCPU, pools)";
    case SCHED_E_OVERCOMMIT: return "null: more vCPUs than pCPUs (one pCPU each, within affinity)";
    case SCHED_E_ADMIT: return "rtds: reservations exceed the pCPUs (sum of budget/period > 1 on a pCPU)";
    default: return "unknown error";
    }
}

/* ---- dump ----------------------------------------------------------------------------------- */

struct out {
    char *buf;
    size_t len, pos;
};

static void put_str(struct out *o, const char *str)
{
    for (; *str; str++, o->pos++)
        if (o->pos + 1 < o->len)
            o->buf[o->pos] = *str;
}

static void put_u64(struct out *o, uint64_t v)
{
    char tmp[21];
    int i = 20;
    tmp[i] = 0;
    do
        tmp[--i] = (char)('0' + v % 10);
    while (v /= 10);
    put_str(o, &tmp[i]);
}

static const char *const state_names[] = { "blocked", "ready", "running", "costop" };

size_t sched_dump(struct sched *s, uint64_t now, char *buf, size_t len)
{
    struct out o = { buf, len, 0 };
    int e = sched_enter(s, 0);
    for (uint32_t c = 0; c < s->npcpus; c++)
        rq_lock(s, c);
    for (uint32_t i = 0; i < s->npools; i++) {
        put_str(&o, "pool ");
        put_u64(&o, i);
        put_str(&o, " policy ");
        put_str(&o, s->pools[i].policy->name);
        put_str(&o, "\n");
    }
    for (uint32_t c = 0; c < s->npcpus; c++) {
        struct sched_pcpu *p = &s->pcpus[c];
        put_str(&o, "pcpu ");
        put_u64(&o, c);
        put_str(&o, p->curr ? " curr=" : " idle");
        if (p->curr) {
            put_u64(&o, p->curr->vm->id);
            put_str(&o, ".");
            put_u64(&o, p->curr->index);
        }
        put_str(&o, " ready=");
        put_u64(&o, p->nr_ready);
        put_str(&o, " load=");
        put_u64(&o, p->load);
        put_str(&o, " pool=");
        put_u64(&o, p->pool->id);
        if (p->pool->policy->dump) {
            char tmp[96];
            size_t n = p->pool->policy->dump(p, tmp, sizeof(tmp));
            (void)n;
            put_str(&o, " ");
            put_str(&o, tmp);
        }
        put_str(&o, "\n");
    }
    for (uint32_t i = 0; i < s->nvcpus; i++) {
        struct sched_vcpu *v = &s->vcpus[i];
        put_str(&o, "vcpu ");
        put_u64(&o, v->vm->id);
        put_str(&o, ".");
        put_u64(&o, v->index);
        put_str(&o, " ");
        put_str(&o, state_names[v->state & 3]);
        put_str(&o, " pcpu=");
        put_u64(&o, (uint64_t)v->cpu);
        put_str(&o, " weight=");
        put_u64(&o, v->weight);
        put_str(&o, " run_ns=");
        put_u64(&o, v->acct.running_ns + (v->state == SCHED_RUNNING && now > v->since_ns
                                              ? now - v->since_ns : 0));
        put_str(&o, "\n");
    }
    for (uint32_t c = s->npcpus; c-- > 0;)
        rq_unlock(s, c);
    sched_leave(s, e);
    if (len)
        buf[o.pos < len ? o.pos : len - 1] = 0;
    return o.pos;
}
