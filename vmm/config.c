/* vsched.cfg parser: table-driven, strict (unknown keys, duplicates, out-of-range values and
 * trailing garbage are errors), all-or-nothing.  See config.h and docs/config.md. */
#include "vmm/config.h"

#include <string.h>

#include "sched/meta.h"

enum key_kind { K_U32, K_U64, K_TEXT, K_POLICY, K_GANG, K_EXPECT, K_FAULT, K_SELFTEST, K_CPUSET,
                K_FILE, K_WEIGHT_PER, K_PCPU_LIST, K_ONOFF, K_META_RULE };

struct key {
    const char *name;
    enum key_kind kind;
    size_t off;      /* offset in struct cfg_machine or struct cfg_vm */
    size_t size;     /* K_TEXT/K_FILE/K_POLICY: buffer size */
    uint64_t min, max;
};

#define M(field) offsetof(struct cfg_machine, field)
#define P(field) offsetof(struct cfg_pool, field)
#define V(field) offsetof(struct cfg_vm, field)
#define SZ(type, field) sizeof(((struct type *)0)->field)

static const struct key machine_keys[] = {
    { "pcpus",            K_U32,    M(pcpus),            0, 0, CFG_MAX_PCPUS },
    { "policy",           K_POLICY, M(policy), SZ(cfg_machine, policy), 0, 0 },
    { "timeslice_us",     K_U32,    M(timeslice_us),     0, SCHED_TIMESLICE_MIN_US, SCHED_TIMESLICE_MAX_US },
    { "ratelimit_us",     K_U32,    M(ratelimit_us),     0, 0, SCHED_TIMESLICE_MAX_US },
    { "gang_skew_us",     K_U32,    M(gang_skew_us),     0, SCHED_GANG_SKEW_MIN_US, SCHED_GANG_SKEW_MAX_US },
    { "balance_us",       K_U32,    M(balance_us),       0, 0, SCHED_BALANCE_MAX_US },
    { "weight_per",       K_WEIGHT_PER, M(weight_per),   0, 0, 0 },
    { "run_ms",           K_U32,    M(run_ms),           0, 0, 3600000 },
    { "report_ms",        K_U32,    M(report_ms),        0, 0, 3600000 },
    { "min_timer_period_us", K_U32, M(min_timer_period_us), 0, 0, 100000 },
    { "switch_cost_ns",   K_U32,    M(switch_cost_ns),   0, 0, 1000000 },
    { "seed",             K_U64,    M(seed),             0, 0, UINT64_MAX },
    { "inject_fault",     K_FAULT,  M(inject_fault),     0, 0, 0 },
    { "inject_fault_cpu", K_U32,    M(inject_fault_cpu), 0, 0, CFG_MAX_PCPUS - 1 },
    { "inject_fault_ms",  K_U32,    M(inject_fault_ms),  0, 0, 3600000 },
    { "meta_tb_us",       K_U32,    M(meta_tb_us),       0, 0, 10000000 },
    { "meta_profile",     K_FILE,   M(meta_profile), SZ(cfg_machine, meta_profile), 0, 0 },
    { "meta_rule",        K_META_RULE, M(meta_rule),     0, 0, 0 },
    { "meta_general",     K_POLICY, M(meta_general), SZ(cfg_machine, meta_general), 0, 0 },
    { "meta_pool",        K_FILE,   M(meta_pool_name), SZ(cfg_machine, meta_pool_name), 0, 0 },
    { "trace",            K_ONOFF,  M(trace),            0, 0, 0 },
    { "trace_events",     K_U32,    M(trace_events),     0, 0, SCHED_TRACE_EVENTS_MAX },
};

static const struct key vm_keys[] = {
    { "vcpus",     K_U32,    V(vcpus),     0, 1, CFG_MAX_VCPUS },
    { "memory_mb", K_U32,    V(memory_mb), 0, 1, 4096 },
    { "weight",    K_U32,    V(weight),    0, SCHED_WEIGHT_MIN, SCHED_WEIGHT_MAX },
    { "cap",       K_U32,    V(cap),       0, 0, SCHED_CAP_PER_VCPU * CFG_MAX_VCPUS },
    { "gang",      K_GANG,   V(gang),      0, 0, 0 },
    { "affinity",  K_CPUSET, V(affinity),  0, 0, 0 },
    { "start_pcpu", K_PCPU_LIST, V(start_pcpu), 0, 0, 0 },
    { "request_us", K_U32,   V(request_us), 0, 0, SCHED_REQUEST_MAX_US },
    { "rt_budget_us", K_U32, V(rt_budget_us), 0, 0, SCHED_RT_PERIOD_MAX_US },
    { "rt_period_us", K_U32, V(rt_period_us), 0, 0, SCHED_RT_PERIOD_MAX_US },
    { "rt_extratime", K_U32, V(rt_extratime), 0, 0, 1 },
    { "meta_policy", K_POLICY, V(meta_policy), SZ(cfg_vm, meta_policy), 0, 0 },
    { "meta_weight", K_U32,  V(meta_weight), 0, 1, 1000000 },
    { "pool",      K_FILE,   V(pool_name), SZ(cfg_vm, pool_name), 0, 0 },
    { "expect",    K_EXPECT, V(expect),    0, 0, 0 },
    { "selftest",  K_SELFTEST, V(selftest), 0, 0, 0 },
    { "image",     K_FILE,   V(image),    SZ(cfg_vm, image), 0, 0 },
    { "kernel",    K_FILE,   V(kernel),   SZ(cfg_vm, kernel), 0, 0 },
    { "initrd",    K_FILE,   V(initrd),   SZ(cfg_vm, initrd), 0, 0 },
    { "cmdline",   K_TEXT,   V(cmdline),  SZ(cfg_vm, cmdline), 0, 0 },
    { "args",      K_TEXT,   V(args),     SZ(cfg_vm, args), 0, 0 },
    { "workload",  K_TEXT,   V(workload), SZ(cfg_vm, workload), 0, 0 },
};

static const struct key pool_keys[] = {
    { "pcpus",        K_CPUSET, P(pcpus),        0, 0, 0 },
    { "policy",       K_POLICY, P(policy), SZ(cfg_pool, policy), 0, 0 },
    { "timeslice_us", K_U32,    P(timeslice_us), 0, SCHED_TIMESLICE_MIN_US, SCHED_TIMESLICE_MAX_US },
    { "ratelimit_us", K_U32,    P(ratelimit_us), 0, 0, SCHED_TIMESLICE_MAX_US },
    { "gang_skew_us", K_U32,    P(gang_skew_us), 0, SCHED_GANG_SKEW_MIN_US, SCHED_GANG_SKEW_MAX_US },
    { "balance_us",   K_U32,    P(balance_us),   0, 0, SCHED_BALANCE_MAX_US },
};

#define NKEYS(t) (sizeof(t) / sizeof((t)[0]))

static const char *const gang_names[] = { SCHED_GANG_NAMES };
static const char *const weight_per_names[] = { SCHED_WEIGHT_PER_NAMES };
static const char *const expect_names[] = { "exit", "stopped" };
static const char *const fault_names[] = { "none", "ud", "pf", "de" };
static const char *const selftest_names[] = { "none", "bad_entry" };
static const char *const onoff_names[] = { "off", "on" };
static const char *const meta_rule_names[] = { SCHED_META_RULE_NAMES };

const char *cfg_gang_name(enum cfg_gang g)
{
    return (unsigned)g < SCHED_GANG_COUNT ? gang_names[g] : "?";
}

const char *cfg_expect_name(enum cfg_expect e)
{
    return (unsigned)e < 2 ? expect_names[e] : "?";
}

static void pool_defaults(struct cfg_pool *p)
{
    memset(p, 0, sizeof(*p));
    p->timeslice_us = p->ratelimit_us = p->gang_skew_us = p->balance_us = CFG_POOL_INHERIT;
}

void cfg_defaults(struct cfg *out)
{
    memset(out, 0, sizeof(*out));
    memcpy(out->machine.policy, "credit", sizeof("credit"));
    out->machine.timeslice_us = SCHED_TIMESLICE_DEFAULT_US;
    out->machine.ratelimit_us = SCHED_RATELIMIT_DEFAULT_US;
    out->machine.gang_skew_us = SCHED_GANG_SKEW_DEFAULT_US;
    out->machine.balance_us = SCHED_BALANCE_DEFAULT_US;
    out->machine.trace_events = SCHED_TRACE_EVENTS_DEFAULT;
    out->machine.report_ms = 5000;   /* a 16 x 4-vCPU round takes 45% of 115200 baud (docs/protocol.md) */
    out->machine.seed = 1;
    out->machine.min_timer_period_us = 200;
    out->npools = 1;
    pool_defaults(&out->pools[0]);
    memcpy(out->pools[0].name, "default", sizeof("default"));
}


sched_cpumask_t cfg_pool_cpus(const struct cfg *c, uint32_t i, uint32_t npcpus)
{
    sched_cpumask_t m = cpumask_below(npcpus);
    if (i) {
        cpumask_and(&m, &c->pools[i].pcpus);
        return m;
    }
    for (uint32_t k = 1; k < c->npools; k++)
        cpumask_andnot(&m, &c->pools[k].pcpus);
    return m;
}

static uint32_t inherit(uint32_t pool, uint32_t machine)
{
    return pool == CFG_POOL_INHERIT ? machine : pool;
}

void cfg_pool_params(const struct cfg *c, uint32_t i, uint32_t *timeslice_us,
                     uint32_t *ratelimit_us, uint32_t *gang_skew_us, uint32_t *balance_us)
{
    const struct cfg_pool *p = &c->pools[i];
    const struct cfg_machine *m = &c->machine;
    *timeslice_us = inherit(p->timeslice_us, m->timeslice_us);
    *ratelimit_us = inherit(p->ratelimit_us, m->ratelimit_us);
    *gang_skew_us = inherit(p->gang_skew_us, m->gang_skew_us);
    *balance_us = inherit(p->balance_us, m->balance_us);
}

int cfg_pool_find(const struct cfg *c, const char *name, size_t len)
{
    for (uint32_t i = 0; i < c->npools; i++)
        if (strlen(c->pools[i].name) == len && memcmp(c->pools[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

static void vm_defaults(struct cfg_vm *vm)
{
    memset(vm, 0, sizeof(*vm));
    vm->vcpus = 1;
    vm->memory_mb = 16;
    vm->weight = SCHED_WEIGHT_DEFAULT;
    vm->affinity = cpumask_below(CFG_MAX_PCPUS);
    vm->rt_extratime = 1;
}

/* ---- small freestanding string helpers ---- */

struct span {
    const char *p;
    size_t n;
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static struct span trim(struct span s)
{
    while (s.n && is_space(s.p[0])) {
        s.p++;
        s.n--;
    }
    while (s.n && is_space(s.p[s.n - 1]))
        s.n--;
    return s;
}

static bool span_eq(struct span s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && memcmp(s.p, lit, n) == 0;
}

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

static bool all_name_chars(struct span s)
{
    for (size_t i = 0; i < s.n; i++)
        if (!is_name_char(s.p[i]))
            return false;
    return true;
}

/* Error text: a bounded formatter for "%s" pieces only, so the parser needs no printf. */
static void err_set(struct cfg_error *err, uint32_t line, const char *a, struct span b,
                    const char *c)
{
    size_t at = 0;
    const char *parts[3] = { a, NULL, c };
    err->line = line;
    for (int i = 0; i < 3; i++) {
        const char *p = i == 1 ? b.p : parts[i];
        size_t n = i == 1 ? b.n : (p ? strlen(p) : 0);
        for (size_t k = 0; k < n && at + 1 < sizeof(err->msg); k++)
            err->msg[at++] = p[k];
    }
    err->msg[at] = '\0';
}

static const struct span no_span = { "", 0 };

static bool parse_u64(struct span s, uint64_t *out)
{
    uint64_t v = 0;
    if (s.n == 0)
        return false;
    for (size_t i = 0; i < s.n; i++) {
        char c = s.p[i];
        if (c < '0' || c > '9')
            return false;
        uint64_t d = (uint64_t)(c - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static int lookup_name(struct span s, const char *const *names, int count)
{
    for (int i = 0; i < count; i++)
        if (span_eq(s, names[i]))
            return i;
    return -1;
}

/* "all" or a comma-separated list of N and N-M, every N < CFG_MAX_PCPUS. */
static bool parse_cpuset(struct span s, sched_cpumask_t *out)
{
    sched_cpumask_t set = cpumask_none();
    if (span_eq(s, "all")) {
        *out = cpumask_below(CFG_MAX_PCPUS);
        return true;
    }
    while (s.n) {
        size_t n = 0;
        while (n < s.n && s.p[n] != ',')
            n++;
        struct span item = trim((struct span){ s.p, n });
        size_t dash = 0;
        while (dash < item.n && item.p[dash] != '-')
            dash++;
        uint64_t lo, hi;
        if (!parse_u64(trim((struct span){ item.p, dash }), &lo))
            return false;
        hi = lo;
        if (dash < item.n &&
            !parse_u64(trim((struct span){ item.p + dash + 1, item.n - dash - 1 }), &hi))
            return false;
        if (lo > hi || hi >= CFG_MAX_PCPUS)
            return false;
        for (uint64_t c = lo; c <= hi; c++)
            cpumask_set(&set, (unsigned)c);
        if (n == s.n)
            break;
        s.p += n + 1;
        s.n -= n + 1;
        if (s.n == 0)
            return false; /* trailing comma */
    }
    if (!cpumask_any(&set))
        return false;
    *out = set;
    return true;
}

/* "N" or "N,N,...": at most CFG_MAX_VCPUS numbers, each < CFG_MAX_PCPUS, in order. */
static bool parse_pcpu_list(struct span s, int16_t *out, uint32_t *count)
{
    uint32_t n = 0;
    for (;;) {
        size_t len = 0;
        while (len < s.n && s.p[len] != ',')
            len++;
        uint64_t c;
        if (n == CFG_MAX_VCPUS || !parse_u64(trim((struct span){ s.p, len }), &c) ||
            c >= CFG_MAX_PCPUS)
            return false;
        out[n++] = (int16_t)c;
        if (len == s.n)
            break;
        s.p += len + 1;
        s.n -= len + 1;
    }
    *count = n;
    return true;
}

static bool copy_text(struct span v, char *dst, size_t size)
{
    if (v.n + 1 > size)
        return false;
    memcpy(dst, v.p, v.n);
    dst[v.n] = '\0';
    return true;
}

static int set_value(const struct key *k, void *base, struct span v, uint32_t line,
                     cfg_policy_known_fn policy_known, struct cfg_error *err)
{
    uint8_t *field = (uint8_t *)base + k->off;
    uint64_t u;
    int idx;

    switch (k->kind) {
    case K_U32:
    case K_U64:
        if (!parse_u64(v, &u)) {
            err_set(err, line, "value of '", (struct span){ k->name, strlen(k->name) },
                    "' is not a decimal number");
            return -1;
        }
        if (u < k->min || u > k->max) {
            err_set(err, line, "value of '", (struct span){ k->name, strlen(k->name) },
                    "' is out of range");
            return -1;
        }
        if (k->kind == K_U32)
            *(uint32_t *)field = (uint32_t)u;
        else
            *(uint64_t *)field = u;
        return 0;
    case K_POLICY:
        if (!v.n || v.n + 1 > k->size) {
            err_set(err, line, "bad policy name '", v, "'");
            return -1;
        }
        copy_text(v, (char *)field, k->size);
        if (policy_known && !policy_known((char *)field)) {
            err_set(err, line, "unknown policy '", v, "'");
            return -1;
        }
        return 0;
    case K_GANG:
    case K_EXPECT:
    case K_FAULT:
    case K_SELFTEST:
    case K_ONOFF:
    case K_META_RULE:
    case K_WEIGHT_PER: {
        const char *const *names = k->kind == K_GANG     ? gang_names
                                   : k->kind == K_EXPECT ? expect_names
                                   : k->kind == K_FAULT  ? fault_names
                                   : k->kind == K_WEIGHT_PER ? weight_per_names
                                   : k->kind == K_ONOFF  ? onoff_names
                                   : k->kind == K_META_RULE ? meta_rule_names
                                                         : selftest_names;
        int count = k->kind == K_GANG ? SCHED_GANG_COUNT : k->kind == K_EXPECT ? 2
                  : k->kind == K_FAULT ? 4 : k->kind == K_WEIGHT_PER ? SCHED_WEIGHT_PER_COUNT
                  : k->kind == K_META_RULE ? SCHED_META_RULES : 2;
        idx = lookup_name(v, names, count);
        if (idx < 0) {
            err_set(err, line, "bad value '", v, "' (see docs/config.md)");
            return -1;
        }
        *(int *)field = idx;
        return 0;
    }
    case K_PCPU_LIST: {
        struct cfg_vm *vm = base;
        if (!parse_pcpu_list(v, vm->start_pcpu, &vm->start_pcpus)) {
            err_set(err, line, "bad pCPU list '", v,
                    "' (one pCPU number for all vCPUs, or one per vCPU: e.g. 0,0,1)");
            return -1;
        }
        return 0;
    }
    case K_CPUSET:
        if (!parse_cpuset(v, (sched_cpumask_t *)field)) {
            err_set(err, line, "bad CPU list '", v, "' (expected e.g. 0-3,6 or all)");
            return -1;
        }
        return 0;
    case K_FILE:
        for (size_t i = 0; i < v.n; i++) {
            if (!is_name_char(v.p[i]) && v.p[i] != '.') {
                err_set(err, line, "bad file name '", v, "' (letters, digits, . _ - only)");
                return -1;
            }
        }
        if (!v.n || !copy_text(v, (char *)field, k->size)) {
            err_set(err, line, "bad file name '", v, "'");
            return -1;
        }
        return 0;
    case K_TEXT:
        if (!copy_text(v, (char *)field, k->size)) {
            err_set(err, line, "value of '", (struct span){ k->name, strlen(k->name) },
                    "' is too long");
            return -1;
        }
        return 0;
    }
    return -1;
}

/* Checks that involve several keys, made once the whole file is read. */
static int cross_check(const struct cfg *c, struct cfg_error *err)
{
    const struct cfg_machine *m = &c->machine;
    if (m->ratelimit_us > m->timeslice_us) {
        err_set(err, 0, "ratelimit_us is larger than timeslice_us", no_span, "");
        return -1;
    }
    if (m->balance_us && m->balance_us < 100) {
        err_set(err, 0, "balance_us must be 0 (off) or at least 100", no_span, "");
        return -1;
    }
    sched_cpumask_t present = cpumask_below(m->pcpus ? m->pcpus : CFG_MAX_PCPUS);
    if (m->pcpus && m->inject_fault != CFG_FAULT_NONE && m->inject_fault_cpu >= m->pcpus) {
        err_set(err, 0, "inject_fault_cpu is not below pcpus", no_span, "");
        return -1;
    }
    sched_cpumask_t named = cpumask_none();
    for (uint32_t i = 1; i < c->npools; i++) {
        const struct cfg_pool *p = &c->pools[i];
        struct span name = { p->name, strlen(p->name) };
        uint32_t ts, rl, skew, bal;
        cfg_pool_params(c, i, &ts, &rl, &skew, &bal);
        if (!cpumask_any(&p->pcpus)) {
            err_set(err, p->line, "[pool ", name, "]: pcpus is required");
            return -1;
        }
        sched_cpumask_t outside = p->pcpus, both = p->pcpus;
        cpumask_andnot(&outside, &present);
        cpumask_and(&both, &named);
        if (cpumask_any(&outside)) {
            err_set(err, p->line, "[pool ", name, "]: pcpus names a CPU not below pcpus");
            return -1;
        }
        if (cpumask_any(&both)) {
            err_set(err, p->line, "[pool ", name, "]: pcpus overlaps an earlier pool's");
            return -1;
        }
        cpumask_or(&named, &p->pcpus);
        if (rl > ts) {
            err_set(err, p->line, "[pool ", name, "]: ratelimit_us is larger than timeslice_us");
            return -1;
        }
        if (bal && bal < 100) {
            err_set(err, p->line, "[pool ", name, "]: balance_us must be 0 (off) or at least 100");
            return -1;
        }
    }
    bool meta_vm = false;
    for (uint32_t i = 0; i < c->nvms; i++)
        meta_vm = meta_vm || c->vms[i].meta_policy[0];
    if (m->meta_tb_us && !meta_vm) {
        err_set(err, 0, "meta_tb_us needs a [vm] with meta_policy", no_span, "");
        return -1;
    }
    if ((m->meta_profile[0] || m->meta_general[0] || m->meta_pool_name[0]) && !m->meta_tb_us) {
        err_set(err, 0, "meta_profile, meta_general and meta_pool need meta_tb_us", no_span, "");
        return -1;
    }
    for (uint32_t i = 0; i < c->nvms; i++) {
        const struct cfg_vm *vm = &c->vms[i];
        struct span name = { vm->name, strlen(vm->name) };
        if (vm->meta_policy[0] && !m->meta_tb_us) {
            err_set(err, vm->line, "[vm ", name, "]: meta_policy needs [machine] meta_tb_us");
            return -1;
        }
        if (vm->meta_policy[0] && vm->pool != m->meta_pool) {
            err_set(err, vm->line, "[vm ", name,
                    "]: meta_policy needs the VM in [machine] meta_pool's pool");
            return -1;
        }
        if (vm->meta_weight && m->meta_profile[0]) {
            err_set(err, vm->line, "[vm ", name,
                    "]: meta_weight comes from [machine] meta_profile (give one of them)");
            return -1;
        }
        if (vm->request_us && vm->request_us < 100) {
            err_set(err, vm->line, "[vm ", name, "]: request_us must be 0 or at least 100");
            return -1;
        }
        if (vm->rt_budget_us && (vm->rt_period_us < SCHED_RT_PERIOD_MIN_US ||
                                 vm->rt_budget_us > vm->rt_period_us)) {
            err_set(err, vm->line, "[vm ", name,
                    "]: rt_budget_us needs rt_period_us >= 100 and not below the budget");
            return -1;
        }
        if (!vm->rt_budget_us && vm->rt_period_us) {
            err_set(err, vm->line, "[vm ", name, "]: rt_period_us without rt_budget_us");
            return -1;
        }
        if (vm->cap > 100 * vm->vcpus) {
            err_set(err, vm->line, "[vm ", name, "]: cap is above 100 * vcpus");
            return -1;
        }
        sched_cpumask_t usable = vm->affinity; /* the CPUs it may use that exist */
        cpumask_and(&usable, &present);
        if (!cpumask_any(&usable)) {
            err_set(err, vm->line, "[vm ", name, "]: affinity names no CPU below pcpus");
            return -1;
        }
        if (vm->pool) { /* in a named pool: its pCPUs (the default pool's are known at boot) */
            cpumask_and(&usable, &c->pools[vm->pool].pcpus);
            if (!cpumask_any(&usable)) {
                err_set(err, vm->line, "[vm ", name, "]: affinity names no CPU of its pool");
                return -1;
            }
        }
        /* A VM runs a test guest (image, args) or Linux (kernel, initrd, cmdline). */
        if (vm->kernel[0] && vm->image[0]) {
            err_set(err, vm->line, "[vm ", name, "]: image and kernel are exclusive");
            return -1;
        }
        if (!vm->kernel[0] && (vm->initrd[0] || vm->cmdline[0])) {
            err_set(err, vm->line, "[vm ", name,
                    vm->initrd[0] ? "]: initrd needs kernel" : "]: cmdline needs kernel");
            return -1;
        }
        if (vm->kernel[0] && vm->args[0]) {
            err_set(err, vm->line, "[vm ", name, "]: args is for test guests; Linux takes cmdline");
            return -1;
        }
        if (vm->gang == CFG_GANG_STRICT && cpumask_count(&usable) < vm->vcpus) {
            err_set(err, vm->line, "[vm ", name,
                    "]: strict gang needs at least as many CPUs in affinity as vcpus");
            return -1;
        }
        if (vm->start_pcpus && vm->start_pcpus != 1 && vm->start_pcpus != vm->vcpus) {
            err_set(err, vm->line, "[vm ", name,
                    "]: start_pcpu needs one pCPU for all vCPUs or one per vCPU");
            return -1;
        }
        if (vm->start_pcpus && vm->gang == CFG_GANG_STRICT) {
            err_set(err, vm->line, "[vm ", name,
                    "]: start_pcpu with gang = strict (members have fixed home pCPUs)");
            return -1;
        }
        for (uint32_t k = 0; k < vm->start_pcpus; k++) {
            if (!cpumask_test(&usable, (unsigned)vm->start_pcpu[k])) {
                err_set(err, vm->line, "[vm ", name,
                        "]: start_pcpu names a pCPU outside affinity or not below pcpus");
                return -1;
            }
        }
    }
    return 0;
}

int cfg_parse(const char *text, size_t len, cfg_policy_known_fn policy_known, struct cfg *out,
              struct cfg_error *err)
{
    struct cfg c;
    const struct key *keys = NULL; /* the current section's table, NULL before any section */
    size_t nkeys = 0;
    void *base = NULL;
    uint32_t seen = 0; /* bit i: key i of the current section already set */
    bool machine_seen = false;
    uint32_t line = 0;
    size_t pos = 0;

    _Static_assert(NKEYS(machine_keys) <= 32 && NKEYS(vm_keys) <= 32 && NKEYS(pool_keys) <= 32,
                   "seen is 32 bits");
    cfg_defaults(&c);
    err->line = 0;
    err->msg[0] = '\0';

    while (pos < len) {
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        struct span s = { text + pos, end - pos };
        pos = end + 1;
        line++;

        /* A comment starts at '#' or ';' at the start of a line or after white space. */
        for (size_t i = 0; i < s.n; i++) {
            if ((s.p[i] == '#' || s.p[i] == ';') && (i == 0 || is_space(s.p[i - 1]))) {
                s.n = i;
                break;
            }
        }
        for (size_t i = 0; i < s.n; i++) {
            if (s.p[i] == '\0') {
                err_set(err, line, "NUL byte in file", no_span, "");
                return -1;
            }
        }
        s = trim(s);
        if (!s.n)
            continue;

        if (s.p[0] == '[') {
            if (s.p[s.n - 1] != ']') {
                err_set(err, line, "section header without ']'", no_span, "");
                return -1;
            }
            struct span inner = trim((struct span){ s.p + 1, s.n - 2 });
            if (span_eq(inner, "machine")) {
                if (machine_seen) {
                    err_set(err, line, "second [machine] section", no_span, "");
                    return -1;
                }
                machine_seen = true;
                keys = machine_keys;
                nkeys = NKEYS(machine_keys);
                base = &c.machine;
            } else if (inner.n > 3 && memcmp(inner.p, "vm", 2) == 0 && is_space(inner.p[2])) {
                struct span name = trim((struct span){ inner.p + 3, inner.n - 3 });
                if (!name.n || name.n >= CFG_NAME_MAX) {
                    err_set(err, line, "VM name must be 1 to 23 characters", no_span, "");
                    return -1;
                }
                for (size_t i = 0; i < name.n; i++) {
                    if (!is_name_char(name.p[i])) {
                        err_set(err, line, "bad VM name '", name,
                                "' (letters, digits, _ and - only)");
                        return -1;
                    }
                }
                for (uint32_t i = 0; i < c.nvms; i++) {
                    if (span_eq(name, c.vms[i].name)) {
                        err_set(err, line, "duplicate VM name '", name, "'");
                        return -1;
                    }
                }
                if (c.nvms == CFG_MAX_VMS) {
                    _Static_assert(CFG_MAX_VMS == 64, "the message says 64");
                    err_set(err, line, "too many VMs (at most 64)", no_span, "");
                    return -1;
                }
                struct cfg_vm *vm = &c.vms[c.nvms++];
                vm_defaults(vm);
                copy_text(name, vm->name, sizeof(vm->name));
                vm->line = line;
                keys = vm_keys;
                nkeys = NKEYS(vm_keys);
                base = vm;
            } else if (inner.n > 5 && memcmp(inner.p, "pool", 4) == 0 && is_space(inner.p[4])) {
                struct span name = trim((struct span){ inner.p + 5, inner.n - 5 });
                if (!name.n || name.n >= CFG_NAME_MAX || !all_name_chars(name)) {
                    err_set(err, line, "bad pool name '", name,
                            "' (1 to 23 letters, digits, _ and -)");
                    return -1;
                }
                if (cfg_pool_find(&c, name.p, name.n) >= 0) {
                    err_set(err, line, span_eq(name, "default") ? "pool name '" : "duplicate pool '",
                            name, span_eq(name, "default") ? "' is the default pool's" : "'");
                    return -1;
                }
                if (c.npools == CFG_MAX_POOLS) {
                    err_set(err, line, "too many pools (at most 15 besides default)", no_span, "");
                    return -1;
                }
                struct cfg_pool *pool = &c.pools[c.npools++];
                pool_defaults(pool);
                copy_text(name, pool->name, sizeof(pool->name));
                pool->line = line;
                keys = pool_keys;
                nkeys = NKEYS(pool_keys);
                base = pool;
            } else {
                err_set(err, line, "unknown section [", inner, "]");
                return -1;
            }
            seen = 0;
            continue;
        }

        size_t eq = 0;
        while (eq < s.n && s.p[eq] != '=')
            eq++;
        if (eq == s.n) {
            err_set(err, line, "expected 'key = value' or '[section]'", no_span, "");
            return -1;
        }
        struct span key = trim((struct span){ s.p, eq });
        struct span value = trim((struct span){ s.p + eq + 1, s.n - eq - 1 });
        if (!keys) {
            err_set(err, line, "key '", key, "' before any [section]");
            return -1;
        }
        size_t k = 0;
        while (k < nkeys && !span_eq(key, keys[k].name))
            k++;
        if (k == nkeys) {
            err_set(err, line, "unknown key '", key,
                    keys == machine_keys ? "' in [machine]" : keys == pool_keys ? "' in [pool]"
                                                                                : "' in [vm]");
            return -1;
        }
        if (seen & (1u << k)) {
            err_set(err, line, "key '", key, "' set twice in this section");
            return -1;
        }
        seen |= 1u << k;
        if (!value.n && keys[k].kind != K_TEXT) {
            err_set(err, line, "key '", key, "' has no value");
            return -1;
        }
        if (set_value(&keys[k], base, value, line, policy_known, err) < 0)
            return -1;
    }

    for (uint32_t i = 0; i < c.nvms; i++) {
        struct cfg_vm *vm = &c.vms[i];
        if (!vm->pool_name[0])
            continue;
        int p = cfg_pool_find(&c, vm->pool_name, strlen(vm->pool_name));
        if (p < 0) {
            err_set(err, vm->line, "unknown pool '",
                    (struct span){ vm->pool_name, strlen(vm->pool_name) }, "' (no [pool] of that name)");
            return -1;
        }
        vm->pool = (uint32_t)p;
    }
    if (c.machine.meta_pool_name[0]) {
        const char *n = c.machine.meta_pool_name;
        int p = cfg_pool_find(&c, n, strlen(n));
        if (p < 0) {
            err_set(err, 0, "meta_pool: unknown pool '", (struct span){ n, strlen(n) }, "'");
            return -1;
        }
        c.machine.meta_pool = (uint32_t)p;
    }
    if (cross_check(&c, err) < 0)
        return -1;
    *out = c;
    return 0;
}
