/* The discrete-event loop of vsched-sim.  See sim.h. */
#include "tools/vsched-sim/sim.h"

#include "vmm/cfg_sched.h"

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

enum rec_state { REC_BLOCKED, REC_WAITING, REC_RUNNING };

struct sim_vcpu {
    struct sched_vcpu *sv;
    const struct sim_workload *wl;
    uint32_t vm;
    int32_t on_cpu;         /* -1 = not running */
    bool blocked;           /* as the sim sees it (waiting for work or a barrier) */
    uint64_t work_left;     /* ns of CPU time still needed */
    uint64_t rng;
    /* The independent record (sim_record): kept from the simulator's own events. */
    struct sim_record rec;
    uint8_t rec_state;      /* enum rec_state */
    int32_t last_cpu;       /* pCPU of the last run, -1 = none yet */
    uint64_t rec_since, wait_start;
    uint64_t arrived_ns;    /* timer: when the current burst's work arrived */
    struct hist response;   /* timer: arrival to the end of its burst */
};

struct sim {
    struct sched *s;
    void *mem;
    struct cfg cfg;
    struct cfg_sched cs;        /* the library's set-up (names point into cfg) */
    uint32_t npcpus, nvcpus;
    uint64_t now, seq, events, switch_cost;
    struct sim_pcpu pcpu[SCHED_MAX_PCPUS];
    struct sim_vcpu *vcpu;
    struct sim_workload wl[CFG_MAX_VMS];
    uint32_t barrier_waiting[CFG_MAX_VMS];
    enum sched_gang gang_seen[CFG_MAX_VMS];     /* each VM's mode at the last check */
    uint64_t relaxed_base[CFG_MAX_VMS * CFG_MAX_VCPUS]; /* progress when it became relaxed */
    struct event *heap;
    size_t nheap, capheap;
    bool check, trace;
    uint64_t violations, instants;
    void (*trace_out)(void *ctx, unsigned pcpu, const struct sched_trace_event *ev, unsigned n,
                      uint64_t lost);
    void *trace_ctx;
    uint32_t trace_every;            /* simulator events between drains of the trace rings */
    uint64_t trace_due;
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
    cpumask_for_each(c, &mask) {
        if ((unsigned)c < sim->npcpus && !sim->pcpu[c].kick_pending) {
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
        v->rec.work_ns += done;
        if (v->work_left != WORK_FOREVER)
            v->work_left = done >= v->work_left ? 0 : v->work_left - done;
        pc->run_from = sim->now;
    }
}

/* The record's state of V from the simulator's own view: blocked, running (the current vCPU
 * of a pCPU, not blocked), else waiting.  Call after every change of blocked or on_cpu. */
static void note(struct sim *sim, struct sim_vcpu *v)
{
    enum rec_state st = v->blocked ? REC_BLOCKED : v->on_cpu >= 0 ? REC_RUNNING : REC_WAITING;
    uint64_t d = sim->now - v->rec_since;
    switch (v->rec_state) {
    case REC_BLOCKED: v->rec.blocked_ns += d; break;
    case REC_WAITING: v->rec.waiting_ns += d; break;
    default: v->rec.running_ns += d; break;
    }
    v->rec_since = sim->now;
    if (v->rec_state == REC_WAITING && sim->now - v->wait_start > v->rec.max_wait_ns)
        v->rec.max_wait_ns = sim->now - v->wait_start;
    if (st == REC_WAITING && v->rec_state != REC_WAITING)
        v->wait_start = sim->now;
    if (st == REC_RUNNING && v->rec_state != REC_RUNNING) {
        v->rec.dispatches++;
        if (v->last_cpu >= 0 && v->last_cpu != v->on_cpu) {
            v->rec.pcpu_changes++;
            if (sim->trace)
                fprintf(stderr, "  moved vm%u.%u from pcpu %d to %d\n", v->vm,
                        sched_vcpu_index(v->sv), v->last_cpu, v->on_cpu);
        }
        v->last_cpu = v->on_cpu;
    }
    v->rec_state = (uint8_t)st;
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
    if (sim->trace) {
        char kick[128];
        cpumask_format(&d.kick, kick, sizeof(kick));
        fprintf(stderr, "  decide c=%u run=%d.%d next=%llu kick=%s\n", c,
                d.run ? (int)sched_vcpu_vm(d.run) : -1, d.run ? (int)sched_vcpu_index(d.run) : -1,
                (unsigned long long)d.next_event_ns, kick);
    }
    if (pc->cur) {
        struct sim_vcpu *prev = sim_vcpu_of(sim, pc->cur);
        settle(sim, prev);
        if (d.run != pc->cur) {
            prev->on_cpu = -1;
            note(sim, prev);
        }
    }
    if (d.run && d.run != pc->cur) {
        struct sim_vcpu *next = sim_vcpu_of(sim, d.run);
        if (next->on_cpu >= 0 && next->on_cpu != (int32_t)c)
            violation(sim, "a vCPU was dispatched on two pCPUs");
        next->on_cpu = (int32_t)c;
        note(sim, next);
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
    note(sim, v);
    sim_kick(sim, sched_vcpu_wake(sim->s, v->sv, sim->now));
}

static void vcpu_block(struct sim *sim, struct sim_vcpu *v)
{
    if (v->on_cpu >= 0)
        settle(sim, v);
    v->blocked = true;
    note(sim, v);
    sim_kick(sim, sched_vcpu_block(sim->s, v->sv, sim->now));
}

/* The running V gives up its pCPU and stays runnable. */
static void vcpu_yield(struct sim *sim, struct sim_vcpu *v)
{
    v->rec.yields++;
    sim_kick(sim, sched_vcpu_yield(sim->s, v->sv, sim->now));
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
    switch (v->wl->kind) {
    case WL_BARRIER: break;
    case WL_YIELD: /* the next piece of work is there at once; it lets others go first */
        v->work_left = v->wl->run_ns;
        vcpu_yield(sim, v);
        arm_done(sim, c);
        return;
    case WL_TIMER: /* sleeps from the end of its burst, like the timer guest */
        hist_record(&v->response, sim->now - v->arrived_ns);
        ev_push(sim, sim->now + v->wl->period_ns, EV_ARRIVAL, (uint32_t)(v - sim->vcpu), 0);
        vcpu_block(sim, v);
        return;
    default:
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

/* Periodic: a new period's work; missed work (left over at the arrival) is kept or dropped. */
static void periodic_arrival(struct sim *sim, struct sim_vcpu *v)
{
    if (v->on_cpu >= 0 && !v->blocked)
        settle(sim, v);
    v->rec.arrivals++;
    if (v->work_left)
        v->rec.missed++;
    if (v->wl->drop_missed && v->work_left) {
        v->work_left = 0; /* the deadline passed: that work is worthless now */
        add_work(sim, v, v->wl->run_ns);
        if (v->on_cpu >= 0 && !v->blocked)
            arm_done(sim, (unsigned)v->on_cpu);
        return;
    }
    add_work(sim, v, v->wl->run_ns);
}

/* Attack: at every multiple of the period (the accounting boundaries of a sampling scheduler)
 * it becomes runnable with endless work; run_pct into the period it blocks (sleep) or yields,
 * so that it is never running when the boundary comes.  GEN: 0 boundary, 1 end of its run. */
static void attack_event(struct sim *sim, struct sim_vcpu *v, uint32_t gen)
{
    const struct sim_workload *wl = v->wl;
    uint32_t id = (uint32_t)(v - sim->vcpu);
    if (gen == 0) {
        uint64_t end = sim->now + wl->period_ns * wl->run_pct / 100;
        ev_push(sim, end, EV_ARRIVAL, id, 1);
        ev_push(sim, sim->now + wl->period_ns, EV_ARRIVAL, id, 0);
        if (v->blocked) {
            v->work_left = WORK_FOREVER;
            vcpu_wake(sim, v);
        }
    } else if (!v->blocked) {
        if (!wl->attack_yield)
            vcpu_block(sim, v);
        else if (v->on_cpu >= 0)
            vcpu_yield(sim, v);
    }
}

static void on_arrival(struct sim *sim, struct sim_vcpu *v, uint32_t gen)
{
    const struct sim_workload *wl = v->wl;
    uint32_t id = (uint32_t)(v - sim->vcpu);
    switch (wl->kind) {
    case WL_PERIODIC:
        periodic_arrival(sim, v);
        ev_push(sim, sim->now + wl->period_ns, EV_ARRIVAL, id, 0);
        break;
    case WL_TIMER:
        v->arrived_ns = sim->now;
        add_work(sim, v, wl->run_ns);
        break;
    case WL_ATTACK:
        attack_event(sim, v, gen);
        break;
    default:
        add_work(sim, v, wl->service_ns);
        ev_push(sim, sim->now + exp_sample_ns(&v->rng, wl->rate_hz), EV_ARRIVAL, id, 0);
        break;
    }
}

/* ---- the record and the invariants, checked when every event of an instant is handled ---- */

/* V's record up to now, the ongoing state included. */
static void record_now(const struct sim *sim, const struct sim_vcpu *v, struct sim_record *r)
{
    *r = v->rec;
    uint64_t d = sim->now - v->rec_since;
    switch (v->rec_state) {
    case REC_BLOCKED: r->blocked_ns += d; break;
    case REC_WAITING:
        r->waiting_ns += d;
        if (sim->now - v->wait_start > r->max_wait_ns)
            r->max_wait_ns = sim->now - v->wait_start;
        break;
    default: r->running_ns += d; break;
    }
}

int sim_vcpu_record(const struct sim *sim, unsigned vm, unsigned idx, struct sim_record *out)
{
    struct sched_vcpu *sv = vm < sim->cfg.nvms ? sched_vcpu_get(sim->s, vm, idx) : NULL;
    if (!sv)
        return -1;
    record_now(sim, sched_vcpu_user(sv), out);
    return 0;
}

int sim_vcpu_response(const struct sim *sim, unsigned vm, unsigned idx, struct hist *out)
{
    struct sched_vcpu *sv = vm < sim->cfg.nvms ? sched_vcpu_get(sim->s, vm, idx) : NULL;
    if (!sv)
        return -1;
    *out = ((const struct sim_vcpu *)sched_vcpu_user(sv))->response;
    return 0;
}

void sim_reset_max_wait(struct sim *sim)
{
    for (uint32_t i = 0; i < sim->nvcpus; i++) {
        struct sim_vcpu *v = &sim->vcpu[i];
        v->rec.max_wait_ns = 0;
        if (v->rec_state == REC_WAITING)
            v->wait_start = sim->now;
    }
}

/* Each VM's accounting (sched_vm_acct) against the sum of its vCPUs' records. */
static void check_vm_sums(struct sim *sim)
{
    char msg[160];
    uint32_t base = 0;
    for (uint32_t m = 0; m < sim->cfg.nvms; m++) {
        struct sched_acct a;
        uint64_t run = 0, blocked = 0, wait = 0;
        sched_vm_acct(sim->s, m, sim->now, &a, NULL);
        for (uint32_t k = 0; k < sim->cfg.vms[m].vcpus; k++) {
            struct sim_record r;
            record_now(sim, &sim->vcpu[base + k], &r);
            run += r.running_ns, blocked += r.blocked_ns, wait += r.waiting_ns;
        }
        base += sim->cfg.vms[m].vcpus;
        if (a.running_ns != run || a.blocked_ns != blocked || a.ready_ns + a.costop_ns != wait ||
            a.lifetime_ns != (uint64_t)sim->cfg.vms[m].vcpus * sim->now) {
            snprintf(msg, sizeof(msg), "vm %s: its accounting differs from its vCPUs' records",
                     sim->cfg.vms[m].name);
            violation(sim, msg);
        }
    }
}

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
        struct sim_record r;
        record_now(sim, v, &r);
        /* The library's buckets against the simulator's own record: running and blocked
         * exactly, ready + co-stopped = the rest, lifetime = the simulated time. */
        if (a.running_ns != r.running_ns || a.blocked_ns != r.blocked_ns ||
            a.ready_ns + a.costop_ns != r.waiting_ns || a.lifetime_ns != sim->now ||
            a.migrations < r.pcpu_changes) {
            snprintf(msg, sizeof(msg), "vm %u vcpu %u: accounting (run %llu blocked %llu wait %llu) "
                     "differs from the simulator's record (%llu %llu %llu)", v->vm,
                     sched_vcpu_index(v->sv), (unsigned long long)a.running_ns,
                     (unsigned long long)a.blocked_ns, (unsigned long long)(a.ready_ns + a.costop_ns),
                     (unsigned long long)r.running_ns, (unsigned long long)r.blocked_ns,
                     (unsigned long long)r.waiting_ns);
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
                cpumask_test(&info[i].affinity, c)) {
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
        if (gang == SCHED_GANG_RELAXED && sim->gang_seen[m] != SCHED_GANG_RELAXED)
            for (uint32_t k = 0; k < vm->vcpus; k++) /* skew counts from the switch */
                sim->relaxed_base[base + k] = progress[base + k];
        sim->gang_seen[m] = gang;
        if (gang == SCHED_GANG_RELAXED) {
            least = UINT64_MAX;
            for (uint32_t k = 0; k < vm->vcpus; k++) {
                progress[base + k] -= sim->relaxed_base[base + k];
                if (info[base + k].state != SCHED_BLOCKED && progress[base + k] < least)
                    least = progress[base + k];
            }
        }
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
            on_arrival(sim, &sim->vcpu[e.target], e.gen);
            break;
        }
        if (sim->check && (!sim->nheap || sim->heap[0].t > sim->now)) {
            check_instant(sim);
            if (++sim->instants % 1024 == 0)
                check_vm_sums(sim);
        }
        if (sim->trace_out && ++sim->trace_due >= sim->trace_every)
            sim_trace_flush(sim);
    }
    if (sim->trace_out)
        sim_trace_flush(sim);
    if (until > sim->now)
        sim->now = until;
    if (sim->check)
        check_vm_sums(sim);
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

    cfg_sched_setup(&sim->cfg, m->pcpus, &sim->cs);
    struct sched_setup st = sim->cs.setup;
    struct sched_vm_setup *vms = sim->cs.vms;
    st.trace_events = 0;
    st.trace = false;
    if (opt->trace_events && opt->trace_out) {
        st.trace_events = opt->trace_events;
        st.trace = true;
        sim->trace_out = opt->trace_out;
        sim->trace_ctx = opt->trace_ctx;
        /* A simulator event makes a handful of trace events on a pCPU (a decision: preempt,
         * dispatch, kicks): draining every ring-size / 16 events loses none. */
        sim->trace_every = opt->trace_events / 16 ? opt->trace_events / 16 : 1;
    }
    for (uint32_t i = 0; i < sim->cfg.nvms; i++) {
        const struct cfg_vm *cv = &sim->cfg.vms[i];
        char why[120];
        if ((cv->image[0] || cv->kernel[0]) && !cv->workload[0]) {
            /* Simulating a guest image as a hog would give results that look real. */
            snprintf(err, errlen, "vm '%s' (line %u): %s = %s has no workload: the simulator "
                     "cannot run guest images; add workload = ... (docs/config.md)", cv->name,
                     cv->line, cv->image[0] ? "image" : "kernel",
                     cv->image[0] ? cv->image : cv->kernel);
            free(sim);
            return -1;
        }
        if (sim_workload_parse(cv->workload, &sim->wl[i], why, sizeof(why)) < 0) {
            snprintf(err, errlen, "vm '%s' (line %u): %s", cv->name, cv->line, why);
            free(sim);
            return -1;
        }
        if (opt->start_on_pcpu0) {
            vms[i].start_pcpu = 0;
            vms[i].start_pcpus = NULL;
        }
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
            v->last_cpu = -1;
            v->blocked = true;
            v->rng = m->seed * 0x2545f4914f6cdd1dull + id * 0x9e3779b97f4a7c15ull + 1;
            sched_vcpu_set_user(v->sv, v);
        }
    /* Start: hogs and barrier phases are runnable at 0; arrivals begin at a seeded offset. */
    for (uint32_t i = 0; i < sim->nvcpus; i++) {
        struct sim_vcpu *v = &sim->vcpu[i];
        if (v->wl->busy_vcpus && sched_vcpu_index(v->sv) >= v->wl->busy_vcpus)
            continue; /* idle */
        switch (v->wl->kind) {
        case WL_HOG: v->work_left = WORK_FOREVER; vcpu_wake(sim, v); break;
        case WL_BARRIER: v->work_left = v->wl->phase_ns; vcpu_wake(sim, v); break;
        case WL_YIELD: v->work_left = v->wl->run_ns; vcpu_wake(sim, v); break;
        case WL_PERIODIC:
        case WL_TIMER: ev_push(sim, rng_next(&v->rng) % v->wl->period_ns, EV_ARRIVAL, i, 0); break;
        case WL_ATTACK: ev_push(sim, 0, EV_ARRIVAL, i, 0); break;
        case WL_POISSON: ev_push(sim, exp_sample_ns(&v->rng, v->wl->rate_hz), EV_ARRIVAL, i, 0); break;
        case WL_IDLE: break;
        }
    }
    *out = sim;
    return 0;
}

void sim_trace_flush(struct sim *sim)
{
    static struct sched_trace_event buf[1024];
    sim->trace_due = 0;
    if (!sim->trace_out)
        return;
    for (unsigned c = 0; c < sim->npcpus; c++) {
        unsigned n;
        uint64_t lost;
        while ((n = sched_trace_drain(sim->s, c, buf, 1024, &lost)) > 0 || lost) {
            sim->trace_out(sim->trace_ctx, c, buf, n, lost);
            if (n < 1024)
                break;
        }
    }
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
