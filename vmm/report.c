/* Accounting records and console commands (protocol v1, docs/protocol.md), on pCPU 0 only:
 * it polls COM1 between runs and prints every record, so the sequence numbers need no lock.
 * The numbers come from sched/ (times, counts, wake-up latency) and from the run loop (exits,
 * kicks, idle time, gang skew); a round reads them all at one instant of the scheduler's
 * clock, so each vCPU's four times add up exactly to its lifetime. */
#include <string.h>

#include "sched/sched.h"
#include "vmm/console.h"
#include "vmm/fmt.h"
#include "vmm/proto.h"
#include "vmm/tsc.h"
#include "vmm/vm_impl.h"

#define POLL_MS 10 /* console input is read at least this often */

static uint64_t seq;
static uint64_t round_no;
static uint64_t period_tsc, next_round_tsc;
static char input[PROTO_LINE_MAX + 1];
static uint32_t input_len;
static bool input_overlong;

static const char *const gang_names[] = { "none", "strict", "relaxed" };

static void emit(struct proto_line *l)
{
    if (proto_end(l) < 0) {
        /* A bug, not an input: every record is sized to fit.  Say so in the protocol. */
        proto_begin(l, seq, "error");
        proto_str(l, "msg", "record too long for one line (VMM bug)");
        proto_end(l);
    }
    kprintf("%s", l->buf);
    seq++;
}

static void begin(struct proto_line *l, const char *type, uint64_t now_ns)
{
    proto_begin(l, seq, type);
    proto_u64(l, "round", round_no);
    proto_u64(l, "t_ns", now_ns);
}

static void put_acct(struct proto_line *l, const struct sched_acct *a, const struct hist *lat)
{
    proto_u64(l, "running_ns", a->running_ns);
    proto_u64(l, "ready_ns", a->ready_ns);
    proto_u64(l, "blocked_ns", a->blocked_ns);
    proto_u64(l, "costop_ns", a->costop_ns);
    proto_u64(l, "lifetime_ns", a->lifetime_ns);
    proto_u64(l, "runs", a->runs);
    proto_u64(l, "preemptions", a->preemptions);
    proto_u64(l, "migrations", a->migrations);
    proto_u64(l, "wakeups", a->wakeups);
    proto_u64(l, "wake_n", lat->count);
    proto_u64(l, "wake_p50_ns", hist_percentile(lat, 500000));
    proto_u64(l, "wake_p99_ns", hist_percentile(lat, 990000));
    proto_u64(l, "wake_max_ns", lat->max);
}

static const char *vm_state_name(const struct vm *vm)
{
    switch (vm->state) {
    case VM_RUNNING: return "running";
    case VM_EXITED: return "exited";
    case VM_STOPPED: return "stopped";
    default: return "timed_out";
    }
}

static const char *const vcpu_state_names[] = {
    [SCHED_BLOCKED] = "blocked", [SCHED_READY] = "ready", [SCHED_RUNNING] = "running",
    [SCHED_COSTOP] = "costop",
};

static const char *const exit_keys[VX_KINDS] = {
    [VX_HLT] = "exit_hlt", [VX_MSR] = "exit_msr", [VX_IO] = "exit_io",
    [VX_CPUID] = "exit_cpuid", [VX_HC] = "exit_hc", [VX_TIMER] = "exit_timer",
    [VX_EXTINT] = "exit_extint", [VX_WINDOW] = "exit_window", [VX_OTHER] = "exit_other",
};

void report_round(bool final)
{
    static struct hist lat; /* pCPU 0 only */
    struct proto_line l;
    uint64_t now = vm_now_ns();
    uint64_t first = seq;
    for (uint32_t i = 0; i < vm_count; i++) {
        struct vm *vm = &vm_table[i];
        struct sched_acct a;
        sched_vm_acct(vm_sched, i, now, &a, &lat);
        begin(&l, "vm", now);
        proto_tok(&l, "vm", vm->cfg->name);
        proto_u64(&l, "id", i);
        proto_u64(&l, "vcpus", vm->cfg->vcpus);
        proto_u64(&l, "weight", vm->weight);
        proto_u64(&l, "cap", vm->cap);
        proto_tok(&l, "gang", gang_names[vm->gang_mode]);
        proto_tok(&l, "state", vm_state_name(vm));
        put_acct(&l, &a, &lat);
        proto_u64(&l, "gang_skew_n", vm->gang_skew.count);
        proto_u64(&l, "gang_skew_p50_ns", hist_percentile(&vm->gang_skew, 500000));
        proto_u64(&l, "gang_skew_max_ns", vm->gang_skew.max);
        emit(&l);
        for (uint32_t k = 0; k < vm->cfg->vcpus; k++) {
            struct vcpu *v = vm->vcpus[k];
            struct sched_vcpu_info info;
            sched_vcpu_acct(vm_sched, v->sv, now, &a, &lat);
            sched_vcpu_info(vm_sched, v->sv, &info);
            begin(&l, "vcpu", now);
            proto_tok(&l, "vm", vm->cfg->name);
            proto_u64(&l, "vcpu", k);
            proto_u64(&l, "pcpu", info.pcpu);
            proto_tok(&l, "state", vcpu_state_names[info.state]);
            put_acct(&l, &a, &lat);
            emit(&l);
            begin(&l, "exits", now);
            proto_tok(&l, "vm", vm->cfg->name);
            proto_u64(&l, "vcpu", k);
            uint64_t total = 0;
            for (unsigned x = 0; x < VX_KINDS; x++)
                total += v->exits[x];
            proto_u64(&l, "exits", total);
            for (unsigned x = 0; x < VX_KINDS; x++)
                proto_u64(&l, exit_keys[x], v->exits[x]);
            proto_u64(&l, "irqs", v->irqs_injected);
            proto_u64(&l, "timer_irqs", v->lapic.timer_irqs);
            emit(&l);
        }
    }
    for (uint32_t p = 0; p < vm_boot->ncpus; p++) {
        const struct pcpu *pc = &pcpu_table[p];
        begin(&l, "pcpu", now);
        proto_u64(&l, "pcpu", p);
        proto_u64(&l, "idle_ns", pc->idle_ns);
        proto_u64(&l, "kicks_sent", pc->kicks_sent);
        proto_u64(&l, "kicks_recv", pc->kicks_recv);
        proto_u64(&l, "notifies_sent", pc->notifies_sent);
        proto_u64(&l, "kick_n", pc->kick_lat.count);
        proto_u64(&l, "kick_p50_ns", hist_percentile(&pc->kick_lat, 500000));
        proto_u64(&l, "kick_p99_ns", hist_percentile(&pc->kick_lat, 990000));
        proto_u64(&l, "kick_max_ns", pc->kick_lat.max);
        emit(&l);
    }
    begin(&l, "round", now);
    proto_tok(&l, "policy", sched_policy_name(vm_sched));
    proto_u64(&l, "final", final);
    proto_u64(&l, "records", seq - first + 1);
    emit(&l);
    round_no++;
}

/* ---- commands ---- */

static void reply_begin(struct proto_line *l, const char *type, const struct proto_cmd *c)
{
    proto_begin(l, seq, type);
    proto_tok(l, "cmd", c->cmd);
    if (c->has_id)
        proto_u64(l, "id", c->id);
}

static void reply_error(const struct proto_cmd *c, const char *msg)
{
    struct proto_line l;
    reply_begin(&l, "error", c);
    proto_str(&l, "msg", msg);
    emit(&l);
}

static struct vm *find_vm(const char *name)
{
    for (uint32_t i = 0; i < vm_count; i++)
        if (!strcmp(vm_table[i].cfg->name, name))
            return &vm_table[i];
    return NULL;
}

/* Apply CH through the scheduler; on refusal one error record and nothing changed. */
static bool change(const struct proto_cmd *c, const struct sched_change *ch)
{
    sched_cpumask_t kick = 0;
    int err = sched_change(vm_sched, ch, vm_now_ns(), &kick);
    if (err) {
        reply_error(c, sched_strerror(err));
        return false;
    }
    run_kick(kick);
    return true;
}

static void command(const char *line, size_t len)
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
    if (c.has_vm && !(vm = find_vm(c.vm))) {
        fmt_snprintf(msg, sizeof(msg), "no VM named %s", c.vm);
        reply_error(&c, msg);
        return;
    }
    struct proto_line l;
    const char *old_policy = sched_policy_name(vm_sched);
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
        if (!change(&c, &ch))
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
        struct sched_change ch = { .set = SCHED_SET_POLICY, .policy = c.policy };
        if (!change(&c, &ch))
            return;
        proto_begin(&l, seq, "policy");
        proto_u64(&l, "t_ns", vm_now_ns());
        proto_tok(&l, "from", old_policy);
        proto_tok(&l, "to", sched_policy_name(vm_sched));
        emit(&l);
        break;
    }
    case PROTO_CMD_GANG: {
        static const enum sched_gang to_sched[] = { SCHED_GANG_NONE, SCHED_GANG_STRICT,
                                                    SCHED_GANG_RELAXED };
        struct sched_change ch = { .set = SCHED_SET_GANG, .vm = vm->id,
                                   .gang = to_sched[c.gang] };
        if (!change(&c, &ch))
            return;
        __atomic_store_n(&vm->gang_mode, c.gang, __ATOMIC_RELAXED);
        break;
    }
    case PROTO_CMD_REPORT:
        period_tsc = (uint64_t)c.period_ms * (tsc_hz() / 1000);
        next_round_tsc = period_tsc ? rdtsc() + period_tsc : 0;
        break;
    default:
        reply_error(&c, "command not handled");
        return;
    }
    reply_begin(&l, "ok", &c);
    if (vm)
        proto_tok(&l, "vm", vm->cfg->name);
    emit(&l);
    if (c.kind == PROTO_CMD_DUMP)
        report_round(false);
}

static void read_console(void)
{
    int ch;
    while ((ch = console_getc()) >= 0) {
        if (ch == '\r')
            continue;
        if (ch != '\n') {
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
            command(input, input_len);
        }
        input_len = 0;
        input_overlong = false;
    }
}

void report_init(void)
{
    const struct cfg_machine *m = &vm_boot->cfg.machine;
    for (uint32_t i = 0; i < vm_count; i++) {
        vm_table[i].weight = vm_table[i].cfg->weight;
        vm_table[i].cap = vm_table[i].cfg->cap;
    }
    period_tsc = (uint64_t)m->report_ms * (tsc_hz() / 1000);
    next_round_tsc = period_tsc ? run_start_tsc + period_tsc : 0;
    struct proto_line l;
    proto_begin(&l, seq, "hello");
    proto_u64(&l, "proto", PROTO_VERSION);
    proto_tok(&l, "version", VSCHED_VERSION);
    proto_tok(&l, "backend", vm_arch->name);
    proto_u64(&l, "pcpus", vm_boot->ncpus);
    proto_u64(&l, "vms", vm_count);
    proto_tok(&l, "policy", sched_policy_name(vm_sched));
    proto_u64(&l, "tsc_khz", tsc_hz() / 1000);
    proto_u64(&l, "report_ms", m->report_ms);
    emit(&l);
}

uint64_t report_poll(uint64_t now_tsc)
{
    read_console();
    if (next_round_tsc && now_tsc >= next_round_tsc) {
        report_round(false);
        uint64_t late = now_tsc - next_round_tsc;
        next_round_tsc += (late / period_tsc + 1) * period_tsc; /* missed periods: one round */
    }
    uint64_t poll = now_tsc + POLL_MS * (tsc_hz() / 1000);
    return next_round_tsc && next_round_tsc < poll ? next_round_tsc : poll;
}
