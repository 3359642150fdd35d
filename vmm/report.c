/* Accounting records and console commands (protocol v2, docs/protocol.md), on pCPU 0 only:
 * it polls COM1 between runs and prints every record, so the sequence numbers need no lock.
 * The numbers come from sched/ (times, counts, wake-up latency) and from the run loop (exits,
 * kicks, idle time, gang skew); a round reads them all at one instant of the scheduler's
 * clock, so each vCPU's four times add up exactly to its lifetime.  The records themselves are
 * formatted by vmm/proto.c (the simulator prints the same ones); every line leaves through
 * console_record(). */
#include <string.h>

#include "sched/sched.h"
#include "sched/trace.h"
#include "vmm/console.h"
#include "vmm/fmt.h"
#include "vmm/proto.h"
#include "vmm/tsc.h"
#include "vmm/vm_impl.h"

#define POLL_MS 10 /* console input is read at least this often */

/* The one way out for protocol lines. */
static void console_record(void *ctx, const char *line, size_t len)
{
    (void)ctx;
    (void)len;
    kprintf("%s", line);
}

static struct proto_writer out = { .out = console_record };
static uint64_t round_no;
static uint64_t period_tsc, next_round_tsc;
static char input[PROTO_LINE_MAX + 1];
static uint32_t input_len;
static bool input_overlong;

static const char *const gang_names[] = { "none", "strict", "relaxed" };

/* ---- trace drain (cmd=trace) ----
 * The rings are emptied from report_poll, between runs on pCPU 0, never from a scheduling
 * path: at most TRACE_CHUNK events of one pCPU per poll, and only while the console's ring
 * has room for the records they make, so a drain never waits for the line.  Events written
 * meanwhile are drained too; the drain ends when every ring was found empty once in a row,
 * with one trace_end record (events drained, lost). */
#define TRACE_CHUNK 64
static bool trace_draining;
static uint32_t trace_cpu, trace_empty_run;
static uint64_t trace_events_out, trace_lost_out;

/* TRACE_CHUNK events make at most this many full records (an item takes >= 10 bytes). */
#define TRACE_CHUNK_BYTES ((TRACE_CHUNK * 80 / (PROTO_LINE_MAX - 64) + 2) * PROTO_LINE_MAX)

static void trace_drain_step(struct machine *m)
{
    static struct sched_trace_event buf[TRACE_CHUNK]; /* pCPU 0 only */
    uint32_t n = m->boot->ncpus;
    while (trace_draining && console_room() >= TRACE_CHUNK_BYTES) {
        uint64_t lost;
        unsigned got = sched_trace_drain(m->sched, trace_cpu, buf, TRACE_CHUNK, &lost);
        if (got || lost) {
            proto_put_trace(&out, trace_cpu, buf, got, lost);
            trace_events_out += got;
            trace_lost_out += lost;
            trace_empty_run = 0;
        } else if (++trace_empty_run >= n) {
            struct proto_line l;
            proto_begin(&l, out.seq, "trace_end");
            proto_u64(&l, "events", trace_events_out);
            proto_u64(&l, "lost", trace_lost_out);
            proto_u64(&l, "on", sched_trace_enabled(m->sched));
            proto_emit(&out, &l);
            trace_draining = false;
            return;
        }
        if (got < TRACE_CHUNK)
            trace_cpu = (trace_cpu + 1) % n;
        else
            return; /* one full chunk per poll: pCPU 0 goes back to its vCPUs */
    }
}

static const char *vm_state_name(const struct vm *vm)
{
    switch (vm->state) {
    case VM_RUNNING: return "running";
    case VM_EXITED: return "exited";
    case VM_POWERED_OFF: return "poweroff";
    case VM_STOPPED: return "stopped";
    default: return "timed_out";
    }
}

/* The run loop's exit kinds in the protocol's order. */
static const unsigned exit_kind[PROTO_EXITS] = {
    [PROTO_EXIT_HLT] = VX_HLT, [PROTO_EXIT_MSR] = VX_MSR, [PROTO_EXIT_IO] = VX_IO,
    [PROTO_EXIT_CPUID] = VX_CPUID, [PROTO_EXIT_HC] = VX_HC, [PROTO_EXIT_TIMER] = VX_TIMER,
    [PROTO_EXIT_EXTINT] = VX_EXTINT, [PROTO_EXIT_WINDOW] = VX_WINDOW,
    [PROTO_EXIT_OTHER] = VX_OTHER,
};
_Static_assert((int)PROTO_EXITS == (int)VX_KINDS, "every exit kind has a protocol name");

/* The most a round can take in the console's ring: every record, and a histogram
 * continuation after each, of a full line. */
static size_t round_bytes_max(const struct machine *m)
{
    return (size_t)(2 * (m->nvms + m->nvcpus + m->boot->ncpus) + 1) * PROTO_LINE_MAX;
}

/* Pool I's name in records, NULL when the machine is one pool (records stay as they were). */
static const char *pool_name(const struct machine *m, unsigned i)
{
    return m->boot->cfg.npools > 1 ? m->boot->cfg.pools[i].name : NULL;
}

void report_round(struct machine *m, bool final)
{
    static struct hist lat; /* pCPU 0 only */
    if (final)
        console_wait_room(round_bytes_max(m)); /* every vCPU is parked: waiting costs no one */
    uint64_t now = vm_now_ns(m), lifetime = 0;
    struct proto_round r;
    proto_round_begin(&out, &r, round_no);
    for (uint32_t i = 0; i < m->nvms; i++) {
        struct vm *vm = &m->vms[i];
        struct proto_vm_rec vr = {
            .vm = vm->cfg->name, .id = i, .vcpus = vm->cfg->vcpus, .weight = vm->weight,
            .cap = vm->cap, .gang = gang_names[vm->gang_mode], .state = vm_state_name(vm),
            .skew = &vm->gang_skew, .pool = pool_name(m, sched_vm_pool(m->sched, i)),
        };
        proto_put_vm(&out, &r, &vr);
        for (uint32_t k = 0; k < vm->cfg->vcpus; k++) {
            struct vcpu *v = vm->vcpus[k];
            struct sched_vcpu_info info;
            struct sched_acct a;
            uint64_t exits[PROTO_EXITS];
            sched_vcpu_acct(m->sched, v->sv, now, &a, &lat);
            sched_vcpu_info(m->sched, v->sv, &info);
            lifetime = a.lifetime_ns;
            for (unsigned x = 0; x < PROTO_EXITS; x++)
                exits[x] = v->exits[exit_kind[x]];
            struct proto_vcpu_rec cr = {
                .vm = vm->cfg->name, .vcpu = k, .pcpu = info.pcpu,
                .state = proto_vcpu_state(info.state), .acct = &a, .wake = &lat,
                .exits = exits, .irqs = v->irqs_injected, .timer_irqs = v->lapic.timer_irqs,
            };
            proto_put_vcpu(&out, &r, &cr);
        }
    }
    for (uint32_t p = 0; p < m->boot->ncpus; p++) {
        const struct pcpu *pc = &m->pcpus[p];
        struct proto_pcpu_rec pr = {
            .pcpu = p, .idle_ns = pc->idle_ns, .kicks_sent = pc->kicks_sent,
            .kicks_recv = pc->kicks_recv, .notifies_sent = pc->notifies_sent,
            .kick = &pc->kick_lat, .pool = pool_name(m, sched_pcpu_pool(m->sched, p)),
            .policy = sched_pool_policy_name(m->sched, sched_pcpu_pool(m->sched, p)),
        };
        proto_put_pcpu(&out, &r, &pr);
    }
    struct proto_round_rec rr = { .t_ns = now, .lifetime_ns = lifetime,
                                  .policy = sched_policy_name(m->sched), .final = final };
    proto_round_end(&out, &r, &rr);
    round_no++;
}

/* ---- commands ---- */

static void reply_begin(struct proto_line *l, const char *type, const struct proto_cmd *c)
{
    proto_begin(l, out.seq, type);
    proto_tok(l, "cmd", c->cmd);
    if (c->has_id)
        proto_u64(l, "id", c->id);
}

static void reply_error(const struct proto_cmd *c, const char *msg)
{
    struct proto_line l;
    reply_begin(&l, "error", c);
    proto_str(&l, "msg", msg);
    proto_emit(&out, &l);
}

/* The pool named NAME, or -1 with an error reply. */
static int find_pool(const struct machine *m, const struct proto_cmd *c, const char *name)
{
    int p = cfg_pool_find(&m->boot->cfg, name, strlen(name));
    if (p < 0) {
        char msg[PROTO_ERR_MAX];
        fmt_snprintf(msg, sizeof(msg), "no pool named %s", name);
        reply_error(c, msg);
    }
    return p;
}

static struct vm *find_vm(struct machine *m, const char *name)
{
    for (uint32_t i = 0; i < m->nvms; i++)
        if (!strcmp(m->vms[i].cfg->name, name))
            return &m->vms[i];
    return NULL;
}

/* Apply CH through the scheduler; on refusal one error record and nothing changed. */
static bool change(struct machine *m, const struct proto_cmd *c,
                   const struct sched_change *ch)
{
    sched_cpumask_t kick = cpumask_none();
    int err = sched_change(m->sched, ch, vm_now_ns(m), &kick);
    if (err) {
        reply_error(c, sched_strerror(err));
        return false;
    }
    run_kick(m, kick);
    return true;
}

static void command(struct machine *m, const char *line, size_t len)
{
    struct proto_cmd c;
    char err[PROTO_ERR_MAX], msg[PROTO_ERR_MAX];
    int rc = proto_parse_cmd(line, len, &c, err, sizeof(err));
    if (rc == PROTO_IGNORE)
        return;
    if (rc != PROTO_OK) {
        reply_error(&c, err);
        return;
    }
    struct vm *vm = NULL;
    if (c.has_vm && !(vm = find_vm(m, c.vm))) {
        fmt_snprintf(msg, sizeof(msg), "no VM named %s", c.vm);
        reply_error(&c, msg);
        return;
    }
    struct proto_line l;
    int pool = 0;
    if (c.has_pool && (pool = find_pool(m, &c, c.pool)) < 0)
        return;
    const char *old_policy = sched_pool_policy_name(m->sched, (unsigned)pool);
    switch (c.kind) {
    case PROTO_CMD_DUMP:
        break;
    case PROTO_CMD_SET: {
        if (c.has_cap && c.cap > 100 * vm->cfg->vcpus) {
            fmt_snprintf(msg, sizeof(msg), "cap %u is above 100 * %u vCPUs", c.cap,
                         vm->cfg->vcpus);
            reply_error(&c, msg);
            return;
        }
        struct sched_change ch = { .vm = vm->id, .weight = c.weight, .cap_pct = c.cap };
        ch.set = (c.has_weight ? SCHED_SET_WEIGHT : 0) | (c.has_cap ? SCHED_SET_CAP : 0);
        if (!change(m, &c, &ch))
            return;
        if (c.has_weight)
            vm->weight = c.weight;
        if (c.has_cap)
            vm->cap = c.cap;
        break;
    }
    case PROTO_CMD_POLICY: {
        if (!sched_policy_known(c.policy)) {
            fmt_snprintf(msg, sizeof(msg), "unknown policy %s", c.policy);
            reply_error(&c, msg);
            return;
        }
        struct sched_change ch = { .set = SCHED_SET_POLICY, .policy = c.policy,
                                   .pool = (uint32_t)pool };
        if (!change(m, &c, &ch))
            return;
        proto_begin(&l, out.seq, "policy");
        proto_u64(&l, "t_ns", vm_now_ns(m));
        if (pool_name(m, (unsigned)pool))
            proto_tok(&l, "pool", pool_name(m, (unsigned)pool));
        proto_tok(&l, "from", old_policy);
        proto_tok(&l, "to", sched_pool_policy_name(m->sched, (unsigned)pool));
        proto_emit(&out, &l);
        break;
    }
    case PROTO_CMD_POOL: { /* the library validates (a strict gang, a VM without pCPUs) */
        if (c.has_pcpu && c.pcpu >= m->boot->ncpus) {
            fmt_snprintf(msg, sizeof(msg), "no pCPU %u (the machine has %u)", c.pcpu,
                         m->boot->ncpus);
            reply_error(&c, msg);
            return;
        }
        struct sched_change ch = { .set = vm ? SCHED_SET_VM_POOL : SCHED_SET_PCPU_POOL,
                                   .vm = vm ? vm->id : 0, .pcpu = c.pcpu,
                                   .to_pool = (uint32_t)pool };
        if (!change(m, &c, &ch))
            return;
        proto_begin(&l, out.seq, "pool");
        proto_u64(&l, "t_ns", vm_now_ns(m));
        if (vm)
            proto_tok(&l, "vm", vm->cfg->name);
        else
            proto_u64(&l, "pcpu", c.pcpu);
        const char *to = pool_name(m, (unsigned)pool);
        proto_tok(&l, "to", to ? to : "default");
        proto_emit(&out, &l);
        break;
    }
    case PROTO_CMD_GANG: {
        static const enum sched_gang to_sched[] = { SCHED_GANG_NONE, SCHED_GANG_STRICT,
                                                    SCHED_GANG_RELAXED };
        struct sched_change ch = { .set = SCHED_SET_GANG, .vm = vm->id,
                                   .gang = to_sched[c.gang] };
        if (!change(m, &c, &ch))
            return;
        __atomic_store_n(&vm->gang_mode, c.gang, __ATOMIC_RELAXED);
        break;
    }
    case PROTO_CMD_RESERVE: { /* rtds admits it (SCHED_E_ADMIT: an error, nothing changed) */
        struct sched_change ch = { .set = SCHED_SET_RESERVATION, .vm = vm->id,
                                   .rt_budget_ns = (uint64_t)c.rt_budget_us * 1000,
                                   .rt_period_ns = (uint64_t)c.rt_period_us * 1000,
                                   .rt_no_extra = !c.rt_extratime };
        if (!change(m, &c, &ch))
            return;
        break;
    }
    case PROTO_CMD_META:
        if (!meta_set_tb(c.tb_us)) {
            reply_error(&c, "meta: no [vm] names a meta_policy");
            return;
        }
        break;
    case PROTO_CMD_INPUT: {
        uint32_t waiting = 0;
        int rc = vm->state != VM_RUNNING ? -3 : lx_vm_input(vm, c.input, c.input_len, &waiting);
        if (rc) {
            if (rc == -1)
                fmt_snprintf(msg, sizeof(msg), "VM %s has no UART (not a Linux VM)", c.vm);
            else if (rc == -3)
                fmt_snprintf(msg, sizeof(msg), "VM %s has ended (%s)", c.vm, vm_state_name(vm));
            else
                fmt_snprintf(msg, sizeof(msg), "input of VM %s full: %u bytes not read yet "
                             "(it holds %u)", c.vm, waiting, UART_INPUT_MAX + UART_FIFO_SIZE);
            reply_error(&c, msg);
            return;
        }
        break;
    }
    case PROTO_CMD_REPORT:
        period_tsc = (uint64_t)c.period_ms * (tsc_hz() / 1000);
        next_round_tsc = period_tsc ? rdtsc() + period_tsc : 0;
        break;
    case PROTO_CMD_TRACE:
        if (c.has_on && sched_trace_enable(m->sched, c.on)) {
            reply_error(&c, "no trace rings (trace_events = 0 in [machine])");
            return;
        }
        if (!trace_draining) {
            trace_draining = true;
            trace_cpu = trace_empty_run = 0;
            trace_events_out = trace_lost_out = 0;
        }
        break;
    default:
        reply_error(&c, "command not handled");
        return;
    }
    reply_begin(&l, "ok", &c);
    if (vm)
        proto_tok(&l, "vm", vm->cfg->name);
    if (c.kind == PROTO_CMD_INPUT)
        proto_u64(&l, "bytes", c.input_len);
    proto_emit(&out, &l);
    if (c.kind == PROTO_CMD_DUMP)
        report_round(m, false);
}

/* Reads what has come in; true when it read anything. */
static bool read_console(struct machine *m)
{
    int ch;
    bool any = false;
    while ((ch = console_getc()) >= 0) {
        any = true;
        /* A terminal in raw mode (make run: QEMU's stdio) ends a line with '\r' alone; the
         * '\n' of a "\r\n" then ends an empty line, which is no command. */
        if (ch != '\n' && ch != '\r') {
            if (input_len < PROTO_LINE_MAX)
                input[input_len++] = (char)ch;
            else
                input_overlong = true;
            continue;
        }
        if (input_overlong) {
            /* Too long to be a command: one error if it claimed to be one. */
            struct proto_cmd c = { .kind = PROTO_CMD_NONE, .cmd = "?" };
            if (input_len >= 3 && input[0] == '@' && input[1] == 'v' && input[2] == 's')
                reply_error(&c, "line longer than 512 bytes");
        } else {
            command(m, input, input_len);
        }
        input_len = 0;
        input_overlong = false;
    }
    return any;
}

void report_init(struct machine *m)
{
    const struct cfg_machine *mc = &m->boot->cfg.machine;
    for (uint32_t i = 0; i < m->nvms; i++) {
        m->vms[i].weight = m->vms[i].cfg->weight;
        m->vms[i].cap = m->vms[i].cfg->cap;
    }
    period_tsc = (uint64_t)mc->report_ms * (tsc_hz() / 1000);
    next_round_tsc = period_tsc ? m->run_start_tsc + period_tsc : 0;
    struct proto_hello_rec h = {
        .version = VSCHED_VERSION, .backend = m->arch->name,
        .policy = sched_policy_name(m->sched), .pcpus = m->boot->ncpus, .vms = m->nvms,
        .report_ms = mc->report_ms, .tsc_khz = tsc_hz() / 1000,
    };
    proto_put_hello(&out, &h);
}

/* The run's end, on pCPU 0 with every vCPU parked, before the final round: a command whose
 * line is still coming in gets a few ms to arrive (bytes come one per read), every command
 * read is answered, and a drain under way runs to its trace_end, waiting for the line now
 * that waiting costs no one (the rings no longer fill).  Without this a `trace` acknowledged
 * late in the run lost its trace_end: the run ended before a sweep found every ring empty. */
#define FINISH_QUIET_MS 5  /* input silent this long: nothing more is coming */
#define FINISH_INPUT_MS 50 /* at most this long for input at the end */
void report_finish(struct machine *m)
{
    uint64_t ms = tsc_hz() / 1000, start = rdtsc(), quiet_since = start;
    for (;;) {
        uint32_t before = input_len;
        bool read = read_console(m);
        uint64_t now = rdtsc();
        if (read || input_len != before)
            quiet_since = now;
        if ((input_len == 0 && now - quiet_since >= FINISH_QUIET_MS * ms) ||
            now - start >= FINISH_INPUT_MS * ms)
            break;
        cpu_relax();
    }
    if (input_len) {
        struct proto_cmd c = { .kind = PROTO_CMD_NONE, .cmd = "?" };
        if (input_len >= 3 && input[0] == '@' && input[1] == 'v' && input[2] == 's')
            reply_error(&c, "the run ended before the command's end of line");
        input_len = 0;
        input_overlong = false;
    }
    while (trace_draining) {
        console_wait_room(TRACE_CHUNK_BYTES);
        trace_drain_step(m);
    }
}

uint64_t report_poll(struct machine *m, uint64_t now_tsc)
{
    read_console(m);
    if (trace_draining)
        trace_drain_step(m);
    /* A round goes into the console's ring whole or waits for room (the line is slower than
     * the period asks): a late round, never a cut one. */
    if (next_round_tsc && now_tsc >= next_round_tsc && console_room() >= round_bytes_max(m)) {
        report_round(m, false);
        uint64_t late = now_tsc - next_round_tsc;
        next_round_tsc += (late / period_tsc + 1) * period_tsc; /* missed periods: one round */
    }
    uint64_t poll = now_tsc + POLL_MS * (tsc_hz() / 1000);
    return next_round_tsc && next_round_tsc < poll ? next_round_tsc : poll;
}
