/* The export schema (docs/protocol.md, "Exported values"): every value vsched-ctl shows, by
 * name, computed from a round (and, for per-interval values, the round before). */
#include <inttypes.h>
#include <string.h>

#include "tools/ctl/ctl.h"

const char *const rec_kind_names[K_KINDS] = { "round", "vm", "vcpu", "pcpu" };

enum fid {
    F_ROUND, F_T, F_DT, F_LIFE, F_POLICY, F_FINAL, F_RECORDS, F_SEQ,
    F_VM, F_ID, F_VCPUS, F_WEIGHT, F_CAP, F_GANG, F_STATE, F_POOL, F_PPOLICY, F_VCPU, F_PCPU,
    F_RUN, F_RDY, F_BLK, F_CS, F_RUNS, F_PRE, F_MIG, F_WAK, F_DM,
    F_WAKE_N, F_WAKE_P50, F_WAKE_P99, F_WAKE_MAX,
    F_EXITS, F_EX0, F_EX_LAST = F_EX0 + PROTO_EXITS - 1, F_IRQS, F_TIRQS,
    F_SKEW_N, F_SKEW_P50, F_SKEW_MAX,
    F_IDLE, F_KS, F_KR, F_NT, F_KICK_N, F_KICK_P50, F_KICK_P99, F_KICK_MAX,
    /* per interval */
    F_USED_PCT, F_READY_PCT, F_COSTOP_PCT, F_WAIT_PCT, F_SHARE_PCT, F_MIG_S, F_EXITS_S,
    F_WAK_S, F_WAKE_P50_I, F_WAKE_P99_I, F_IDLE_PCT, F_KICKS_S, F_KICK_P99_I, F_SKEW_P99_I,
};

#define F(n, id) { n, id, false }
#define I(n, id) { n, id, true }
#define COMMON F("round", F_ROUND), F("t_ns", F_T), I("dt_ns", F_DT)
#define ACCT F("running_ns", F_RUN), F("ready_ns", F_RDY), F("blocked_ns", F_BLK), \
    F("costop_ns", F_CS), F("lifetime_ns", F_LIFE), F("runs", F_RUNS), \
    F("preemptions", F_PRE), F("migrations", F_MIG), F("wakeups", F_WAK), \
    F("wake_n", F_WAKE_N), F("wake_p50_ns", F_WAKE_P50), F("wake_p99_ns", F_WAKE_P99), \
    F("wake_max_ns", F_WAKE_MAX), F("exits", F_EXITS), F("deadline_misses", F_DM)
#define RATES I("used_pct", F_USED_PCT), I("ready_pct", F_READY_PCT), \
    I("costop_pct", F_COSTOP_PCT), I("wait_pct", F_WAIT_PCT), \
    I("migrations_per_s", F_MIG_S), I("exits_per_s", F_EXITS_S), \
    I("wakeups_per_s", F_WAK_S), I("wake_p50_ns_interval", F_WAKE_P50_I), \
    I("wake_p99_ns_interval", F_WAKE_P99_I)

static const struct field round_fields[] = {
    COMMON, F("lifetime_ns", F_LIFE), F("policy", F_POLICY), F("final", F_FINAL),
    F("records", F_RECORDS), F("seq", F_SEQ),
};
static const struct field vm_fields[] = {
    COMMON, F("vm", F_VM), F("id", F_ID), F("vcpus", F_VCPUS), F("weight", F_WEIGHT),
    F("cap", F_CAP), F("gang", F_GANG), F("state", F_STATE), F("pool", F_POOL), ACCT, F("irqs", F_IRQS),
    F("timer_irqs", F_TIRQS), F("gang_skew_n", F_SKEW_N), F("gang_skew_p50_ns", F_SKEW_P50),
    F("gang_skew_max_ns", F_SKEW_MAX), RATES, I("share_pct", F_SHARE_PCT),
    I("gang_skew_p99_ns_interval", F_SKEW_P99_I),
};
static const struct field vcpu_fields[] = {
    COMMON, F("vm", F_VM), F("vcpu", F_VCPU), F("pcpu", F_PCPU), F("state", F_STATE), ACCT,
    F("exit_hlt", F_EX0 + PROTO_EXIT_HLT), F("exit_msr", F_EX0 + PROTO_EXIT_MSR),
    F("exit_io", F_EX0 + PROTO_EXIT_IO), F("exit_cpuid", F_EX0 + PROTO_EXIT_CPUID),
    F("exit_hc", F_EX0 + PROTO_EXIT_HC), F("exit_timer", F_EX0 + PROTO_EXIT_TIMER),
    F("exit_extint", F_EX0 + PROTO_EXIT_EXTINT), F("exit_window", F_EX0 + PROTO_EXIT_WINDOW),
    F("exit_other", F_EX0 + PROTO_EXIT_OTHER), F("irqs", F_IRQS), F("timer_irqs", F_TIRQS),
    RATES,
};
static const struct field pcpu_fields[] = {
    COMMON, F("pcpu", F_PCPU), F("pool", F_POOL), F("pool_policy", F_PPOLICY), F("idle_ns", F_IDLE), F("kicks_sent", F_KS),
    F("kicks_recv", F_KR), F("notifies_sent", F_NT), F("kick_n", F_KICK_N),
    F("kick_p50_ns", F_KICK_P50), F("kick_p99_ns", F_KICK_P99), F("kick_max_ns", F_KICK_MAX),
    I("idle_pct", F_IDLE_PCT), I("kicks_per_s", F_KICKS_S), I("kick_p99_ns_interval", F_KICK_P99_I),
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

const struct field *kind_fields(enum rec_kind k, size_t *n)
{
    switch (k) {
    case K_ROUND: *n = N(round_fields); return round_fields;
    case K_VM: *n = N(vm_fields); return vm_fields;
    case K_VCPU: *n = N(vcpu_fields); return vcpu_fields;
    default: *n = N(pcpu_fields); return pcpu_fields;
    }
}

const struct field *field_find(enum rec_kind k, const char *name)
{
    size_t n;
    const struct field *f = kind_fields(k, &n);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(f[i].name, name))
            return &f[i];
    return NULL;
}

/* ---- histograms ---- */

uint64_t buckets_count(const uint64_t *b)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        n += b[i];
    return n;
}

uint64_t buckets_percentile(const uint64_t *b, uint64_t max, uint32_t ppm)
{
    /* sched/hist.c does the arithmetic; its buckets are 32-bit (counts saturate). */
    static struct hist h;
    hist_clear(&h);
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        h.bucket[i] = b[i] > UINT32_MAX ? UINT32_MAX : (uint32_t)b[i];
        h.count += h.bucket[i];
    }
    h.max = max;
    return hist_percentile(&h, ppm);
}

/* ---- entities ---- */

size_t ent_count(enum rec_kind k, const struct round *r)
{
    switch (k) {
    case K_ROUND: return 1;
    case K_VM: return r->nvm;
    case K_VCPU: return r->nvcpu;
    default: return r->npcpu;
    }
}

static const char *long_state(const char *s)
{
    static const char *const map[][2] = {
        { "run", "running" }, { "rdy", "ready" }, { "blk", "blocked" }, { "cs", "costop" },
    };
    for (size_t i = 0; i < N(map); i++)
        if (!strcmp(s, map[i][0]))
            return map[i][1];
    return s;
}

static void add_vcpu(struct ent *e, const struct vcpu_rec *v)
{
    e->run += v->run, e->rdy += v->rdy, e->blk += v->blk, e->cs += v->cs;
    e->life += e->round->life_ns;
    e->runs += v->runs, e->pre += v->pre, e->mig += v->mig, e->wak += v->wak;
    e->dm += v->dm;
    e->irq += v->irq, e->tirq += v->tirq;
    if (v->wmax > e->wmax)
        e->wmax = v->wmax;
    for (unsigned x = 0; x < PROTO_EXITS; x++) {
        e->ex[x] += v->ex[x];
        e->exits += v->ex[x];
    }
    for (unsigned b = 0; b < HIST_BUCKETS; b++)
        e->wh[b] += v->wh[b];
}

void ent_get(enum rec_kind k, const struct round *r, size_t i, struct ent *e)
{
    memset(e, 0, sizeof(*e));
    e->kind = k;
    e->round = r;
    e->vm = e->state = e->gang = e->pool = e->policy = "";
    if (k == K_ROUND) {
        e->life = r->life_ns;
    } else if (k == K_VM) {
        const struct vm_rec *v = &r->vm[i];
        e->vm = v->vm, e->state = v->state, e->gang = v->gang, e->pool = v->pool;
        e->id = v->id, e->vcpus = v->vcpus, e->weight = v->weight, e->cap = v->cap;
        e->gmax = v->gmax;
        memcpy(e->gh, v->gh, sizeof(e->gh));
        for (size_t c = 0; c < r->nvcpu; c++) {
            e->all_run += r->vcpu[c].run;
            if (!strcmp(r->vcpu[c].vm, v->vm))
                add_vcpu(e, &r->vcpu[c]);
        }
    } else if (k == K_VCPU) {
        const struct vcpu_rec *v = &r->vcpu[i];
        e->vm = v->vm, e->state = long_state(v->state);
        e->vcpu = v->vcpu, e->pcpu = v->pcpu;
        add_vcpu(e, v);
    } else {
        const struct pcpu_rec *p = &r->pcpu[i];
        e->pool = p->pool, e->policy = p->policy;
        e->pcpu = p->pcpu, e->idle = p->idle, e->ks = p->ks, e->kr = p->kr, e->nt = p->nt;
        e->kmax = p->kmax;
        memcpy(e->kh, p->kh, sizeof(e->kh));
    }
}

bool ent_find(const struct round *r, const struct ent *like, struct ent *e)
{
    size_t n = ent_count(like->kind, r);
    for (size_t i = 0; i < n; i++) {
        bool same = false;
        switch (like->kind) {
        case K_ROUND: same = true; break;
        case K_VM: same = !strcmp(r->vm[i].vm, like->vm); break;
        case K_VCPU: same = !strcmp(r->vcpu[i].vm, like->vm) && r->vcpu[i].vcpu == like->vcpu;
            break;
        default: same = r->pcpu[i].pcpu == like->pcpu; break;
        }
        if (same) {
            ent_get(like->kind, r, i, e);
            return true;
        }
    }
    return false;
}

bool ent_lookup(const struct round *r, const char *vm, const char *vcpu, const char *pcpu,
                struct ent *e)
{
    struct ent like = { .kind = K_ROUND, .vm = vm ? vm : "" };
    uint64_t n;
    if (vm && vcpu) {
        if (!parse_uint(vcpu, &n))
            return false;
        like.kind = K_VCPU, like.vcpu = n;
    } else if (vm) {
        like.kind = K_VM;
    } else if (pcpu) {
        if (!parse_uint(pcpu, &n))
            return false;
        like.kind = K_PCPU, like.pcpu = n;
    }
    return ent_find(r, &like, e);
}

/* ---- values ---- */

static uint64_t fix2(uint64_t part, uint64_t whole, uint64_t scale)
{
    if (!whole)
        return 0;
    return (uint64_t)(((unsigned __int128)part * scale + whole / 2) / whole);
}

static struct value num(uint64_t v) { return (struct value){ V_NUM, v, NULL }; }
static struct value str(const char *s) { return (struct value){ V_STR, 0, s }; }
static struct value fx(uint64_t v) { return (struct value){ V_FIX2, v, NULL }; }

/* Counter difference; a counter that went back (cannot happen in one run) counts 0. */
static uint64_t d(uint64_t cur, uint64_t prev)
{
    return cur >= prev ? cur - prev : 0;
}

static uint64_t interval_pct(const struct ent *c, const struct ent *p, uint64_t dt, int id)
{
    switch (id) {
    case F_USED_PCT: return fix2(d(c->run, p->run), dt, 10000);
    case F_READY_PCT: return fix2(d(c->rdy, p->rdy), dt, 10000);
    case F_COSTOP_PCT: return fix2(d(c->cs, p->cs), dt, 10000);
    case F_WAIT_PCT: return fix2(d(c->blk, p->blk), dt, 10000);
    case F_SHARE_PCT: return fix2(d(c->run, p->run), d(c->all_run, p->all_run), 10000);
    case F_IDLE_PCT: return fix2(d(c->idle, p->idle), dt, 10000);
    case F_MIG_S: return fix2(d(c->mig, p->mig), dt, 100000000000ull);
    case F_EXITS_S: return fix2(d(c->exits, p->exits), dt, 100000000000ull);
    case F_WAK_S: return fix2(d(c->wak, p->wak), dt, 100000000000ull);
    case F_KICKS_S: return fix2(d(c->kr, p->kr), dt, 100000000000ull);
    default: return 0;
    }
}

static uint64_t interval_percentile(const uint64_t *cur, const uint64_t *prev, uint32_t ppm)
{
    uint64_t diff[HIST_BUCKETS];
    for (unsigned b = 0; b < HIST_BUCKETS; b++)
        diff[b] = d(cur[b], prev[b]);
    return buckets_percentile(diff, UINT64_MAX, ppm);
}

struct value field_value(const struct field *f, const struct ent *c, const struct ent *prev)
{
    static struct ent zero;
    const struct ent *p = prev ? prev : &zero;
    const struct round *r = c->round;
    uint64_t prev_t = prev ? prev->round->t_ns : 0;
    uint64_t dt = d(r->t_ns, prev_t);
    int id = f->id;
    if (id >= F_EX0 && id <= F_EX_LAST)
        return num(c->ex[id - F_EX0]);
    switch (id) {
    case F_ROUND: return num(r->r);
    case F_T: return num(r->t_ns);
    case F_DT: return num(dt);
    case F_LIFE: return num(c->life);
    case F_POLICY: return str(r->policy);
    case F_FINAL: return num(r->final);
    case F_RECORDS: return num(r->records);
    case F_SEQ: return num(r->seq);
    case F_VM: return str(c->vm);
    case F_ID: return num(c->id);
    case F_VCPUS: return num(c->vcpus);
    case F_WEIGHT: return num(c->weight);
    case F_CAP: return num(c->cap);
    case F_GANG: return str(c->gang);
    case F_POOL: return str(c->pool);
    case F_PPOLICY: return str(c->policy);
    case F_STATE: return str(c->state);
    case F_VCPU: return num(c->vcpu);
    case F_PCPU: return num(c->pcpu);
    case F_RUN: return num(c->run);
    case F_RDY: return num(c->rdy);
    case F_BLK: return num(c->blk);
    case F_CS: return num(c->cs);
    case F_RUNS: return num(c->runs);
    case F_PRE: return num(c->pre);
    case F_MIG: return num(c->mig);
    case F_WAK: return num(c->wak);
    case F_DM: return num(c->dm);
    case F_WAKE_N: return num(buckets_count(c->wh));
    case F_WAKE_P50: return num(buckets_percentile(c->wh, c->wmax, 500000));
    case F_WAKE_P99: return num(buckets_percentile(c->wh, c->wmax, 990000));
    case F_WAKE_MAX: return num(c->wmax);
    case F_EXITS: return num(c->exits);
    case F_IRQS: return num(c->irq);
    case F_TIRQS: return num(c->tirq);
    case F_SKEW_N: return num(buckets_count(c->gh));
    case F_SKEW_P50: return num(buckets_percentile(c->gh, c->gmax, 500000));
    case F_SKEW_MAX: return num(c->gmax);
    case F_IDLE: return num(c->idle);
    case F_KS: return num(c->ks);
    case F_KR: return num(c->kr);
    case F_NT: return num(c->nt);
    case F_KICK_N: return num(buckets_count(c->kh));
    case F_KICK_P50: return num(buckets_percentile(c->kh, c->kmax, 500000));
    case F_KICK_P99: return num(buckets_percentile(c->kh, c->kmax, 990000));
    case F_KICK_MAX: return num(c->kmax);
    case F_WAKE_P50_I: return num(interval_percentile(c->wh, p->wh, 500000));
    case F_WAKE_P99_I: return num(interval_percentile(c->wh, p->wh, 990000));
    case F_KICK_P99_I: return num(interval_percentile(c->kh, p->kh, 990000));
    case F_SKEW_P99_I: return num(interval_percentile(c->gh, p->gh, 990000));
    default: return fx(interval_pct(c, p, dt, id));
    }
}

uint64_t field_num(enum rec_kind k, const char *name, const struct ent *cur,
                   const struct ent *prev)
{
    const struct field *f = field_find(k, name);
    return f ? field_value(f, cur, prev).num : 0;
}

void value_print(FILE *f, struct value v, bool json)
{
    switch (v.kind) {
    case V_NUM:
        fprintf(f, "%" PRIu64, v.num);
        break;
    case V_FIX2:
        fprintf(f, "%" PRIu64 ".%02" PRIu64, v.num / 100, v.num % 100);
        break;
    default:
        if (!json) {
            fputs(v.str, f);   /* names and states: no commas or quotes (protocol tokens) */
            break;
        }
        fputc('"', f);
        for (const char *s = v.str; *s; s++) {
            if (*s == '"' || *s == '\\')
                fputc('\\', f);
            fputc(*s, f);
        }
        fputc('"', f);
    }
}
