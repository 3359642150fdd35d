/* The discrete-event loop of vsched-sim.  See sim.h. */
#include "tools/vsched-sim/sim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum ev_type { EV_KICK, EV_DONE, EV_TIMER, EV_ARRIVAL };

struct event {
    uint64_t t, seq;
    uint32_t type, target, gen;
};

struct sim_pcpu {
    struct sched_vcpu *cur;
    uint64_t run_from;      /* cur makes progress from here (after the switch cost) */
    uint32_t timer_gen, done_gen;
    bool kick_pending;
};

#define WORK_FOREVER UINT64_MAX

struct sim_vcpu {
    struct sched_vcpu *sv;
    const struct sim_workload *wl;
    uint32_t vm;
    int32_t on_cpu;         /* -1 = not running */
    bool blocked;           /* as the sim sees it (waiting for work or a barrier) */
    uint64_t work_left;     /* ns of CPU time still needed */
    uint64_t rng;
};

struct sim {
    struct sched *s;
    void *mem;
    struct cfg cfg;
    uint32_t npcpus, nvcpus;
    uint64_t now, seq, events, switch_cost;
    struct sim_pcpu pcpu[SCHED_MAX_PCPUS];
    struct sim_vcpu *vcpu;
    struct sim_workload wl[CFG_MAX_VMS];
    uint32_t barrier_waiting[CFG_MAX_VMS];
    struct event *heap;
    size_t nheap, capheap;
    bool check, trace;
    uint64_t violations;
    char first_violation[200];
};

/* ---- event heap (min by time, then insertion order: deterministic) ---- */

static bool ev_less(const struct event *a, const struct event *b)
{
    return a->t != b->t ? a->t < b->t : a->seq < b->seq;
}

static void ev_push(struct sim *sim, uint64_t t, enum ev_type type, uint32_t target, uint32_t gen)
{
    if (sim->nheap == sim->capheap) {
        sim->capheap = sim->capheap ? 2 * sim->capheap : 256;
        sim->heap = realloc(sim->heap, sim->capheap * sizeof(*sim->heap));
        if (!sim->heap)
            abort();
    }
    size_t i = sim->nheap++;
    struct event e = { t, sim->seq++, type, target, gen };
    while (i && ev_less(&e, &sim->heap[(i - 1) / 2])) {
        sim->heap[i] = sim->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    sim->heap[i] = e;
}

static struct event ev_pop(struct sim *sim)
{
    struct event top = sim->heap[0], last = sim->heap[--sim->nheap];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= sim->nheap)
            break;
        if (c + 1 < sim->nheap && ev_less(&sim->heap[c + 1], &sim->heap[c]))
            c++;
        if (!ev_less(&sim->heap[c], &last))
            break;
        sim->heap[i] = sim->heap[c];
        i = c;
    }
    if (sim->nheap)
        sim->heap[i] = last;
    return top;
}

/* ---- helpers ---- */

/* A broken SCHED_ASSERT in the library (sched/assert.h): say where, and stop. */
void sched_assert_failed(const char *cond, const char *file, int line)
{
    fprintf(stderr, "%s:%d: scheduler invariant broken: %s\n", file, line, cond);
    abort();
}

static uint64_t rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t exp_sample_ns(uint64_t *rng, uint64_t rate_hz)
{
    double u = ((double)(rng_next(rng) >> 11) + 0.5) / 9007199254740992.0;
    double ns = -log(u) * 1e9 / (double)rate_hz;
    return ns < 1.0 ? 1 : (uint64_t)ns;
}

static void violation(struct sim *sim, const char *what)
{
    if (sim->violations++ == 0)
        snprintf(sim->first_violation, sizeof(sim->first_violation), "t=%llu ns: %s",
                 (unsigned long long)sim->now, what);
}

static struct sim_vcpu *sim_vcpu_of(struct sim *sim, struct sched_vcpu *v)
{
    (void)sim;
    return (struct sim_vcpu *)sched_vcpu_user(v);
}

static void nolock(void *ctx, unsigned id)
{
    (void)ctx, (void)id;
}

void sim_kick(struct sim *sim, sched_cpumask_t mask)
{
    for (; mask; mask &= mask - 1) {
        unsigned c = (unsigned)__builtin_ctzll(mask);
        if (c < sim->npcpus && !sim->pcpu[c].kick_pending) {
            sim->pcpu[c].kick_pending = true;
            ev_push(sim, sim->now, EV_KICK, c, 0);
        }
    }
}

/* Credits V with the work it did on its pCPU up to now. */
static void settle(struct sim *sim, struct sim_vcpu *v)
{
    struct sim_pcpu *pc = &sim->pcpu[v->on_cpu];
    if (sim->now > pc->run_from) {
        uint64_t done = sim->now - pc->run_from;
        if (v->work_left != WORK_FOREVER)
            v->work_left = done >= v->work_left ? 0 : v->work_left - done;
        pc->run_from = sim->now;
    }
}

static void arm_done(struct sim *sim, unsigned c)
{
    struct sim_pcpu *pc = &sim->pcpu[c];
    pc->done_gen++;
    if (!pc->cur)
        return;
    struct sim_vcpu *v = sim_vcpu_of(sim, pc->cur);
    if (!v->blocked && v->work_left != WORK_FOREVER)
        ev_push(sim, pc->run_from + v->work_left, EV_DONE, c, pc->done_gen);
}

static void do_schedule(struct sim *sim, unsigned c)
{
    struct sim_pcpu *pc = &sim->pcpu[c];
    struct sched_decision d;
    sched_schedule(sim->s, c, sim->now, &d);
    if (sim->trace)
        fprintf(stderr, "  decide c=%u run=%d.%d next=%llu kick=%llx\n", c,
                d.run ? (int)sched_vcpu_vm(d.run) : -1, d.run ? (int)sched_vcpu_index(d.run) : -1,
                (unsigned long long)d.next_event_ns, (unsigned long long)d.kick);
    if (pc->cur) {
        struct sim_vcpu *prev = sim_vcpu_of(sim, pc->cur);
        settle(sim, prev);
        if (d.run != pc->cur)
            prev->on_cpu = -1;
    }
    if (d.run && d.run != pc->cur) {
        struct sim_vcpu *next = sim_vcpu_of(sim, d.run);
        if (next->on_cpu >= 0 && next->on_cpu != (int32_t)c)
            violation(sim, "a vCPU was dispatched on two pCPUs");
        next->on_cpu = (int32_t)c;
        pc->run_from = sim->now + sim->switch_cost;
    }
    pc->cur = d.run;
    arm_done(sim, c);
    pc->timer_gen++;
    if (d.next_event_ns != SCHED_NO_EVENT)
        ev_push(sim, d.next_event_ns > sim->now ? d.next_event_ns : sim->now + 1, EV_TIMER, c,
                pc->timer_gen);
    sim_kick(sim, d.kick);
}

static void vcpu_wake(struct sim *sim, struct sim_vcpu *v)
{
    v->blocked = false;
    sim_kick(sim, sched_vcpu_wake(sim->s, v->sv, sim->now));
}

static void vcpu_block(struct sim *sim, struct sim_vcpu *v)
{
    v->blocked = true;
    sim_kick(sim, sched_vcpu_block(sim->s, v->sv, sim->now));
}

/* New work for V: wake it, or (if it runs) move its completion. */
static void add_work(struct sim *sim, struct sim_vcpu *v, uint64_t ns)
{
    if (v->on_cpu >= 0)
        settle(sim, v);
    v->work_left += ns;
    if (v->blocked)
        vcpu_wake(sim, v);
    else if (v->on_cpu >= 0)
        arm_done(sim, (unsigned)v->on_cpu);
}

static void on_done(struct sim *sim, unsigned c)
{
    struct sim_vcpu *v = sim_vcpu_of(sim, sim->pcpu[c].cur);
    if (v->blocked) /* already blocked; its pCPU has not rescheduled yet */
        return;
    settle(sim, v);
    if (sim->trace)
        fprintf(stderr, "  on_done vm%u on_cpu=%d c=%u left=%llu run_from=%llu blocked=%d\n", v->vm, v->on_cpu, c, (unsigned long long)v->work_left, (unsigned long long)sim->pcpu[c].run_from, v->blocked);
    if (v->work_left)
        return;
    if (v->wl->kind != WL_BARRIER) {
        vcpu_block(sim, v);
        return;
    }
    /* Barrier: the last to arrive releases everyone into the next phase. */
    uint32_t n = sched_vm_nvcpus(sim->s, v->vm);
    if (++sim->barrier_waiting[v->vm] < n) {
        vcpu_block(sim, v);
        return;
    }
    sim->barrier_waiting[v->vm] = 0;
    for (uint32_t k = 0; k < n; k++) {
        struct sim_vcpu *u = sim_vcpu_of(sim, sched_vcpu_get(sim->s, v->vm, k));
        if (u != v)
            add_work(sim, u, v->wl->phase_ns);
    }
    v->work_left = v->wl->phase_ns;
    arm_done(sim, c);
}

static void on_arrival(struct sim *sim, struct sim_vcpu *v)
{
    const struct sim_workload *wl = v->wl;
    uint64_t next;
    if (wl->kind == WL_PERIODIC) {
        add_work(sim, v, wl->run_ns);
        next = wl->period_ns;
    } else {
        add_work(sim, v, wl->service_ns);
        next = exp_sample_ns(&v->rng, wl->rate_hz);
    }
    ev_push(sim, sim->now + next, EV_ARRIVAL, (uint32_t)(v - sim->vcpu), 0);
}

/* ---- invariants, checked when every event of an instant has been handled ---- */

static void check_instant(struct sim *sim)
{
    struct sched *s = sim->s;
    char msg[160];
    struct sched_vcpu_info info[CFG_MAX_VMS * CFG_MAX_VCPUS];
    uint64_t progress[CFG_MAX_VMS * CFG_MAX_VCPUS];
    for (uint32_t i = 0; i < sim->nvcpus; i++) {
        struct sim_vcpu *v = &sim->vcpu[i];
        struct sched_acct a;
        sched_vcpu_info(s, v->sv, &info[i]);
        sched_vcpu_acct(s, v->sv, sim->now, &a, NULL);
        if (a.running_ns + a.ready_ns + a.blocked_ns + a.costop_ns != a.lifetime_ns) {
            snprintf(msg, sizeof(msg), "vm %u vcpu %u: accounting does not add up", v->vm,
                     sched_vcpu_index(v->sv));
            violation(sim, msg);
        }
        progress[i] = a.running_ns + a.blocked_ns;
        if ((info[i].state == SCHED_RUNNING) != (v->on_cpu >= 0)) {
            snprintf(msg, sizeof(msg), "vm %u vcpu %u: scheduler and simulator disagree on running",
                     v->vm, sched_vcpu_index(v->sv));
            violation(sim, msg);
        }
    }
    /* Work conservation: an idle pCPU while a vCPU that may run there waits. */
    for (uint32_t c = 0; c < sim->npcpus; c++) {
        if (sim->pcpu[c].cur)
            continue;
        for (uint32_t i = 0; i < sim->nvcpus; i++)
            if (info[i].state == SCHED_READY && !info[i].held && !info[i].pinned &&
                (info[i].affinity & ((sched_cpumask_t)1 << c))) {
                snprintf(msg, sizeof(msg), "pcpu %u idle while vm %u vcpu %u is ready", c,
                         sim->vcpu[i].vm, sched_vcpu_index(sim->vcpu[i].sv));
                violation(sim, msg);
                break;
            }
    }
    /* Gangs. */
    uint32_t base = 0;
    for (uint32_t m = 0; m < sim->cfg.nvms; m++) {
        const struct cfg_vm *vm = &sim->cfg.vms[m];
        uint32_t running = 0, runnable = 0;
        uint64_t least = UINT64_MAX;
        for (uint32_t k = 0; k < vm->vcpus; k++) {
            const struct sched_vcpu_info *in = &info[base + k];
            running += in->state == SCHED_RUNNING;
            runnable += in->state != SCHED_BLOCKED;
            if (in->state != SCHED_BLOCKED && progress[base + k] < least)
                least = progress[base + k];
        }
        enum sched_gang gang = sched_vm_gang(s, m); /* may change at run time */
        if (gang == SCHED_GANG_STRICT && running && running != runnable) {
            snprintf(msg, sizeof(msg), "strict gang vm %s: %u of %u runnable vCPUs running",
                     vm->name, running, runnable);
            violation(sim, msg);
        }
        if (gang == SCHED_GANG_RELAXED)
            for (uint32_t k = 0; k < vm->vcpus; k++)
                if (info[base + k].state == SCHED_RUNNING &&
                    progress[base + k] - least > (uint64_t)sim->cfg.machine.gang_skew_us * 1000) {
                    int n = snprintf(msg, sizeof(msg), "relaxed gang vm %s: vcpu %u leads by %llu ns (",
                                     vm->name, k, (unsigned long long)(progress[base + k] - least));
                    for (uint32_t j = 0; j < vm->vcpus && n > 0 && (size_t)n < sizeof(msg); j++)
                        n += snprintf(msg + n, sizeof(msg) - (size_t)n, "%s%c%llu", j ? " " : "",
                                      "BRrc"[info[base + j].state], (unsigned long long)progress[base + j]);
                    if (n > 0 && (size_t)n < sizeof(msg) - 1)
                        strcat(msg, ")");
                    violation(sim, msg);
                }
        base += vm->vcpus;
    }
}

/* ---- the loop ---- */

void sim_run(struct sim *sim, uint64_t until)
{
    while (sim->nheap && sim->heap[0].t <= until) {
        struct event e = ev_pop(sim);
        sim->now = e.t;
        sim->events++;
        if (sim->trace)
            fprintf(stderr, "%llu %s %u\n", (unsigned long long)e.t,
                    (const char *[]){ "kick", "done", "timer", "arrival" }[e.type], e.target);
        struct sim_pcpu *pc = e.type == EV_ARRIVAL ? NULL : &sim->pcpu[e.target];
        switch (e.type) {
        case EV_KICK:
            pc->kick_pending = false;
            do_schedule(sim, e.target);
            break;
        case EV_TIMER:
            if (e.gen == pc->timer_gen)
                do_schedule(sim, e.target);
            break;
        case EV_DONE:
            if (e.gen == pc->done_gen && pc->cur)
                on_done(sim, e.target);
            break;
        case EV_ARRIVAL:
            on_arrival(sim, &sim->vcpu[e.target]);
            break;
        }
        if (sim->check && (!sim->nheap || sim->heap[0].t > sim->now))
            check_instant(sim);
    }
    if (until > sim->now)
        sim->now = until;
}

int sim_create(struct sim **out, const struct cfg *cfg, const struct sim_options *opt, char *err,
               size_t errlen)
{
    struct sim *sim = calloc(1, sizeof(*sim));
    if (!sim)
        abort();
    sim->cfg = *cfg;
    struct cfg_machine *m = &sim->cfg.machine;
    if (opt->pcpus)
        m->pcpus = opt->pcpus;
    if (!m->pcpus)
        m->pcpus = 4;
    if (opt->seed_set)
        m->seed = opt->seed;
    if (opt->switch_cost_ns >= 0)
        m->switch_cost_ns = (uint32_t)opt->switch_cost_ns;
    if (opt->policy)
        snprintf(m->policy, sizeof(m->policy), "%s", opt->policy);
    sim->npcpus = m->pcpus;
    sim->switch_cost = m->switch_cost_ns;
    sim->check = opt->check;
    sim->trace = getenv("VSCHED_SIM_TRACE") != NULL; /* debugging aid: one line per event */

    struct sched_vm_setup vms[CFG_MAX_VMS];
    struct sched_setup st;
    sched_setup_defaults(&st);
    st.npcpus = m->pcpus;
    st.policy = m->policy;
    st.timeslice_ns = (uint64_t)m->timeslice_us * 1000;
    st.ratelimit_ns = (uint64_t)m->ratelimit_us * 1000;
    st.gang_skew_ns = (uint64_t)m->gang_skew_us * 1000;
    st.balance_ns = (uint64_t)m->balance_us * 1000;
    st.seed = m->seed;
    st.nvms = sim->cfg.nvms;
    st.vms = vms;
    for (uint32_t i = 0; i < sim->cfg.nvms; i++) {
        const struct cfg_vm *cv = &sim->cfg.vms[i];
        char why[120];
        if (sim_workload_parse(cv->workload, &sim->wl[i], why, sizeof(why)) < 0) {
            snprintf(err, errlen, "vm '%s' (line %u): %s", cv->name, cv->line, why);
            free(sim);
            return -1;
        }
        vms[i] = (struct sched_vm_setup){ cv->vcpus, cv->weight, cv->cap, (enum sched_gang)cv->gang,
                                          cv->affinity, opt->start_on_pcpu0 ? 0 : -1 };
        sim->nvcpus += cv->vcpus;
    }
    int rc = sched_setup_check(&st);
    if (rc) {
        snprintf(err, errlen, "scheduler setup: %s", sched_strerror(rc));
        free(sim);
        return -1;
    }
    size_t size = sched_mem_size(&st);
    sim->mem = aligned_alloc(16, (size + 15) & ~(size_t)15);
    struct sched_env env = { NULL, nolock, nolock };
    if (!sim->mem || sched_init(&sim->s, sim->mem, size, &st, &env, 0)) {
        snprintf(err, errlen, "scheduler init failed");
        free(sim->mem);
        free(sim);
        return -1;
    }
    for (uint32_t i = 0; i < sim->cfg.nvms; i++) {
        if (!sim->cfg.vms[i].request_us)
            continue;
        struct sched_change ch = { .set = SCHED_SET_REQUEST, .vm = i,
                                   .request_ns = (uint64_t)sim->cfg.vms[i].request_us * 1000 };
        sched_cpumask_t kick;
        rc = sched_change(sim->s, &ch, 0, &kick);
        if (rc) {
            snprintf(err, errlen, "vm '%s': request_us: %s", sim->cfg.vms[i].name,
                     sched_strerror(rc));
            free(sim->mem);
            free(sim);
            return -1;
        }
    }
    sim->vcpu = calloc(sim->nvcpus ? sim->nvcpus : 1, sizeof(*sim->vcpu));
    uint32_t id = 0;
    for (uint32_t i = 0; i < sim->cfg.nvms; i++)
        for (uint32_t k = 0; k < sim->cfg.vms[i].vcpus; k++, id++) {
            struct sim_vcpu *v = &sim->vcpu[id];
            v->sv = sched_vcpu_get(sim->s, i, k);
            v->wl = &sim->wl[i];
            v->vm = i;
            v->on_cpu = -1;
            v->blocked = true;
            v->rng = m->seed * 0x2545f4914f6cdd1dull + id * 0x9e3779b97f4a7c15ull + 1;
            sched_vcpu_set_user(v->sv, v);
        }
    /* Start: hogs and barrier phases are runnable at 0; arrivals begin at a seeded offset. */
    for (uint32_t i = 0; i < sim->nvcpus; i++) {
        struct sim_vcpu *v = &sim->vcpu[i];
        switch (v->wl->kind) {
        case WL_HOG: v->work_left = WORK_FOREVER; vcpu_wake(sim, v); break;
        case WL_BARRIER: v->work_left = v->wl->phase_ns; vcpu_wake(sim, v); break;
        case WL_PERIODIC: ev_push(sim, rng_next(&v->rng) % v->wl->period_ns, EV_ARRIVAL, i, 0); break;
        case WL_POISSON: ev_push(sim, exp_sample_ns(&v->rng, v->wl->rate_hz), EV_ARRIVAL, i, 0); break;
        case WL_IDLE: break;
        }
    }
    *out = sim;
    return 0;
}

void sim_destroy(struct sim *sim)
{
    if (!sim)
        return;
    free(sim->heap);
    free(sim->vcpu);
    free(sim->mem);
    free(sim);
}

struct sched *sim_sched(struct sim *sim)
{
    return sim->s;
}

uint64_t sim_now(const struct sim *sim)
{
    return sim->now;
}

uint64_t sim_events(const struct sim *sim)
{
    return sim->events;
}

uint64_t sim_violations(const struct sim *sim)
{
    return sim->violations;
}

const char *sim_first_violation(const struct sim *sim)
{
    return sim->first_violation;
}
