/* vsched-sim: run the scheduler library on a vsched.cfg with simulated workloads and print the
 * accounting.  Same input, seed and options: same output, byte for byte. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/vsched-sim/sim.h"
#include "vmm/proto.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: vsched-sim [options] CONFIG\n"
            "  --run-ms N          simulated time (default: [machine] run_ms, else 1000)\n"
            "  --pcpus N           pCPUs (default: [machine] pcpus; 0 there means 4)\n"
            "  --policy NAME       override [machine] policy\n"
            "  --seed N            override [machine] seed\n"
            "  --switch-cost-ns N  override [machine] switch_cost_ns\n"
            "  --csv               CSV instead of tables\n"
            "  --records           the VMM's accounting records (protocol v2, docs/protocol.md)\n"
            "                      instead of tables: a round every --report-ms, and a final one\n"
            "  --report-ms N       period of those rounds (default: [machine] report_ms; 0 = only\n"
            "                      the final round)\n"
            "  --check             verify scheduler invariants at every instant (exit 3 if broken)\n"
            "  --start-on-pcpu0    place every vCPU on pCPU 0 at start (load-balancing experiments)\n"
            "  --trace FILE        write the scheduling trace (sched/trace.h) to FILE as protocol\n"
            "                      trace records (docs/protocol.md; vsched-ctl trace converts it)\n"
            "  --trace-events N    trace ring size per pCPU (default: [machine] trace_events)\n"
            "  -h, --help          this text\n"
            "Errors in the options or the configuration exit with status 2.\n");
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    *len = n;
    return buf;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || errno || v > max)
        return -1;
    *out = v;
    return 0;
}

/* ms with three decimals, integer arithmetic only. */
static void ms3(char *buf, size_t n, uint64_t ns)
{
    snprintf(buf, n, "%llu.%03llu", (unsigned long long)(ns / 1000000),
             (unsigned long long)(ns / 1000 % 1000));
}

static void pct2(char *buf, size_t n, uint64_t part, uint64_t whole)
{
    uint64_t bp = whole ? (uint64_t)((unsigned __int128)part * 10000 / whole) : 0;
    snprintf(buf, n, "%llu.%02llu", (unsigned long long)(bp / 100), (unsigned long long)(bp % 100));
}

static void print_row(bool csv, const char *vm, const char *vcpu, const struct sched_acct *a)
{
    char run[32], ready[32], blocked[32], costop[32], cpu[32];
    ms3(run, sizeof(run), a->running_ns);
    ms3(ready, sizeof(ready), a->ready_ns);
    ms3(blocked, sizeof(blocked), a->blocked_ns);
    ms3(costop, sizeof(costop), a->costop_ns);
    pct2(cpu, sizeof(cpu), a->running_ns, a->lifetime_ns);
    const char *fmt = csv ? "vcpu,%s,%s,%s,%s,%s,%s,%s,%llu,%llu,%llu,%llu,%lld\n"
                          : "%-16s %-4s %11s %11s %11s %11s %7s %8llu %8llu %6llu %8llu %12lld\n";
    printf(fmt, vm, vcpu, run, ready, blocked, costop, cpu, (unsigned long long)a->runs,
           (unsigned long long)a->preemptions, (unsigned long long)a->migrations,
           (unsigned long long)a->wakeups, (long long)a->policy_value);
}

/* ---- --records: the VMM's records (vmm/proto.c), so that vsched-ctl reads both ---- */

static void record_out(void *ctx, const char *line, size_t len)
{
    (void)ctx;
    fwrite(line, 1, len, stdout);
}

/* One round at the simulator's now.  No pcpu records: the simulator measures no idle time,
 * kicks or exits; VMs are "running" (simulated VMs do not end). */
static void records_round(struct proto_writer *w, struct sim *sim, const struct cfg *cfg,
                          uint64_t round, bool final)
{
    static struct hist lat;
    struct sched *s = sim_sched(sim);
    uint64_t now = sim_now(sim), lifetime = now;
    struct proto_round r;
    proto_round_begin(w, &r, round);
    for (unsigned m = 0; m < sched_nvms(s); m++) {
        const struct cfg_vm *vm = &cfg->vms[m];
        struct proto_vm_rec vr = { .vm = vm->name, .id = m, .vcpus = sched_vm_nvcpus(s, m),
                                   .weight = vm->weight, .cap = vm->cap,
                                   .gang = cfg_gang_name(vm->gang), .state = "running",
                                   .pool = cfg->npools > 1 ? cfg->pools[sched_vm_pool(s, m)].name
                                                           : NULL };
        proto_put_vm(w, &r, &vr);
        for (unsigned k = 0; k < sched_vm_nvcpus(s, m); k++) {
            struct sched_vcpu *v = sched_vcpu_get(s, m, k);
            struct sched_vcpu_info info;
            struct sched_acct a;
            sched_vcpu_acct(s, v, now, &a, &lat);
            sched_vcpu_info(s, v, &info);
            lifetime = a.lifetime_ns;
            struct proto_vcpu_rec cr = { .vm = vm->name, .vcpu = k, .pcpu = info.pcpu,
                                         .state = proto_vcpu_state(info.state), .acct = &a,
                                         .wake = &lat };
            proto_put_vcpu(w, &r, &cr);
        }
    }
    struct proto_round_rec rr = { .t_ns = now, .lifetime_ns = lifetime,
                                  .policy = sched_policy_name(s), .final = final };
    proto_round_end(w, &r, &rr);
}

static void run_with_records(struct sim *sim, const struct cfg *cfg, uint64_t run_ms,
                             uint64_t report_ms)
{
    struct proto_writer w = { .out = record_out };
    struct sched *s = sim_sched(sim);
    struct proto_hello_rec h = { .version = "sim", .backend = "sim",
                                 .policy = sched_policy_name(s), .pcpus = sched_npcpus(s),
                                 .vms = cfg->nvms, .report_ms = (uint32_t)report_ms };
    proto_put_hello(&w, &h);
    uint64_t round = 0;
    for (uint64_t t = report_ms; report_ms && t < run_ms; t += report_ms) {
        sim_run(sim, t * 1000000);
        records_round(&w, sim, cfg, round++, false);
    }
    sim_run(sim, run_ms * 1000000);
    records_round(&w, sim, cfg, round, true);
}

/* --trace: the events as protocol trace records (vmm/proto.c), like the VMM's `trace`. */
struct trace_file {
    FILE *f;
    struct proto_writer w;
    uint64_t events, lost;
};

static void trace_line(void *ctx, const char *line, size_t len)
{
    fwrite(line, 1, len, ((struct trace_file *)ctx)->f);
}

static void trace_out(void *ctx, unsigned pcpu, const struct sched_trace_event *ev, unsigned n,
                      uint64_t lost)
{
    struct trace_file *t = ctx;
    t->events += n;
    t->lost += lost;
    proto_put_trace(&t->w, pcpu, ev, n, lost);
}

static void bad_option(const char *opt, const char *val)
{
    fprintf(stderr, "vsched-sim: bad value '%s' for %s\n", val, opt);
    usage(stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    struct sim_options opt = { 0 };
    opt.switch_cost_ns = -1;
    bool csv = false, records = false, report_set = false;
    uint64_t run_ms = 0, report_ms = 0, v, trace_events = 0;
    const char *path = NULL, *trace_path = NULL;
    enum { O_RUN_MS = 256, O_PCPUS, O_POLICY, O_SEED, O_SWITCH, O_CSV, O_RECORDS, O_REPORT,
           O_CHECK, O_PCPU0, O_TRACE, O_TRACE_EVENTS };
    static const struct option longopts[] = {
        { "run-ms", required_argument, NULL, O_RUN_MS },
        { "pcpus", required_argument, NULL, O_PCPUS },
        { "policy", required_argument, NULL, O_POLICY },
        { "seed", required_argument, NULL, O_SEED },
        { "switch-cost-ns", required_argument, NULL, O_SWITCH },
        { "csv", no_argument, NULL, O_CSV },
        { "records", no_argument, NULL, O_RECORDS },
        { "report-ms", required_argument, NULL, O_REPORT },
        { "check", no_argument, NULL, O_CHECK },
        { "start-on-pcpu0", no_argument, NULL, O_PCPU0 },
        { "trace", required_argument, NULL, O_TRACE },
        { "trace-events", required_argument, NULL, O_TRACE_EVENTS },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int o;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        const char *name = optind > 1 ? argv[optind - 1] : "?";
        switch (o) {
        case 'h': usage(stdout); return 0;
        case O_CSV: csv = true; break;
        case O_RECORDS: records = true; break;
        case O_CHECK: opt.check = true; break;
        case O_PCPU0: opt.start_on_pcpu0 = true; break;
        case O_POLICY: opt.policy = optarg; break;
        case O_TRACE: trace_path = optarg; break;
        case O_REPORT:
            if (parse_u64(optarg, 3600000, &report_ms))
                bad_option("--report-ms", optarg);
            report_set = true;
            break;
        case O_RUN_MS:
            if (parse_u64(optarg, 3600000, &run_ms) || !run_ms)
                bad_option("--run-ms", optarg);
            break;
        case O_PCPUS:
            if (parse_u64(optarg, SCHED_MAX_PCPUS, &v) || !v)
                bad_option("--pcpus", optarg);
            opt.pcpus = (uint32_t)v;
            break;
        case O_SEED:
            if (parse_u64(optarg, UINT64_MAX, &v))
                bad_option("--seed", optarg);
            opt.seed = v, opt.seed_set = true;
            break;
        case O_SWITCH:
            if (parse_u64(optarg, 1000000, &v))
                bad_option("--switch-cost-ns", optarg);
            opt.switch_cost_ns = (int64_t)v;
            break;
        case O_TRACE_EVENTS:
            if (parse_u64(optarg, SCHED_TRACE_EVENTS_MAX, &trace_events) || !trace_events)
                bad_option("--trace-events", optarg);
            break;
        case ':':
            fprintf(stderr, "vsched-sim: %s needs a value\n", name);
            usage(stderr);
            return 2;
        default:
            fprintf(stderr, "vsched-sim: bad argument '%s'\n", name);
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc)
        path = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "vsched-sim: bad argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (!path || (csv && records)) {
        usage(stderr);
        return 2;
    }
    if (opt.policy && !sched_policy_known(opt.policy)) {
        fprintf(stderr, "vsched-sim: unknown policy '%s'\n", opt.policy);
        return 2;
    }
    size_t len;
    char *text = read_file(path, &len);
    if (!text) {
        fprintf(stderr, "vsched-sim: %s: %s\n", path, strerror(errno));
        return 2;
    }
    struct cfg cfg;
    struct cfg_error cerr;
    if (cfg_parse(text, len, sched_policy_known, &cfg, &cerr) < 0) {
        fprintf(stderr, "%s:%u: error: %s\n", path, cerr.line, cerr.msg);
        free(text);
        return 2;
    }
    free(text);
    if (cfg.machine.meta_tb_us) { /* simulated without it, the results would look real */
        fprintf(stderr, "%s: error: vsched-sim does not run the metascheduler (meta_tb_us); "
                "tools/vsched-meta does (docs/sched.md)\n", path);
        return 2;
    }
    if (!run_ms)
        run_ms = cfg.machine.run_ms ? cfg.machine.run_ms : 1000;
    struct trace_file tf = { 0 };
    if (trace_path) {
        tf.f = fopen(trace_path, "w");
        if (!tf.f) {
            fprintf(stderr, "vsched-sim: %s: %s\n", trace_path, strerror(errno));
            return 2;
        }
        tf.w = (struct proto_writer){ .out = trace_line, .ctx = &tf };
        opt.trace_events = (uint32_t)(trace_events ? trace_events
                                      : cfg.machine.trace_events ? cfg.machine.trace_events
                                                                 : SCHED_TRACE_EVENTS_DEFAULT);
        opt.trace_out = trace_out;
        opt.trace_ctx = &tf;
    }
    struct sim *sim;
    char err[200];
    if (sim_create(&sim, &cfg, &opt, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s: error: %s\n", path, err);
        return 2;
    }
    if (tf.f) {
        struct sched *s0 = sim_sched(sim);
        struct proto_hello_rec h = { .version = "sim", .backend = "sim",
                                     .policy = sched_policy_name(s0), .pcpus = sched_npcpus(s0),
                                     .vms = cfg.nvms };
        proto_put_hello(&tf.w, &h);
    }
    if (records) {
        run_with_records(sim, &cfg, run_ms, report_set ? report_ms : cfg.machine.report_ms);
        int rc = opt.check && sim_violations(sim) ? 3 : 0;
        if (rc)
            fprintf(stderr, "vsched-sim: %llu invariant violations; first: %s\n",
                    (unsigned long long)sim_violations(sim), sim_first_violation(sim));
        sim_destroy(sim);
        if (tf.f) {
            records_round(&tf.w, sim, &cfg, 0, true);
            fclose(tf.f);
        }
        return rc;
    }
    sim_run(sim, run_ms * 1000000);
    if (tf.f) /* the names and counters the trace's events refer to */
        records_round(&tf.w, sim, &cfg, 0, true);
    if (tf.f && fclose(tf.f)) {
        fprintf(stderr, "vsched-sim: %s: %s\n", trace_path, strerror(errno));
        return 2;
    }
    struct sched *s = sim_sched(sim);
    uint64_t now = sim_now(sim);

    if (csv)
        printf("kind,vm,vcpu,run_ms,ready_ms,blocked_ms,costop_ms,cpu_pct,runs,preemptions,"
               "migrations,wakeups,policy_value\n");
    else
        printf("vsched-sim: policy=%s pcpus=%u run_ms=%llu seed=%llu switch_cost_ns=%u events=%llu\n\n"
               "%-16s %-4s %11s %11s %11s %11s %7s %8s %8s %6s %8s %12s\n",
               sched_policy_name(s), sched_npcpus(s), (unsigned long long)run_ms,
               (unsigned long long)(opt.seed_set ? opt.seed : cfg.machine.seed),
               opt.switch_cost_ns >= 0 ? (unsigned)opt.switch_cost_ns : cfg.machine.switch_cost_ns,
               (unsigned long long)sim_events(sim), "vm", "vcpu", "run_ms", "ready_ms",
               "blocked_ms", "costop_ms", "cpu%", "runs", "preempt", "migr", "wakeups", "value");
    for (unsigned m = 0; m < sched_nvms(s); m++) {
        for (unsigned k = 0; k < sched_vm_nvcpus(s, m); k++) {
            struct sched_acct a;
            char idx[12];
            snprintf(idx, sizeof(idx), "%u", k);
            sched_vcpu_acct(s, sched_vcpu_get(s, m, k), now, &a, NULL);
            print_row(csv, cfg.vms[m].name, idx, &a);
        }
        struct sched_acct a;
        sched_vm_acct(s, m, now, &a, NULL);
        print_row(csv, cfg.vms[m].name, "all", &a);
    }
    if (!csv)
        printf("\nwake-up to run latency, us\n%-16s %10s %10s %10s %10s %10s\n", "vm", "wakeups",
               "p50", "p99", "p99.9", "max");
    for (unsigned m = 0; m < sched_nvms(s); m++) {
        struct sched_acct a;
        struct hist h;
        sched_vm_acct(s, m, now, &a, &h);
        unsigned long long q[4] = { hist_percentile(&h, 500000), hist_percentile(&h, 990000),
                                    hist_percentile(&h, 999000), h.max };
        char f[4][24];
        for (int i = 0; i < 4; i++)
            snprintf(f[i], sizeof(f[i]), "%llu.%03llu", q[i] / 1000, q[i] % 1000);
        if (csv)
            printf("latency,%s,all,%llu,%s,%s,%s,%s,,,,,\n", cfg.vms[m].name,
                   (unsigned long long)h.count, f[0], f[1], f[2], f[3]);
        else
            printf("%-16s %10llu %10s %10s %10s %10s\n", cfg.vms[m].name,
                   (unsigned long long)h.count, f[0], f[1], f[2], f[3]);
    }
    int rc = 0;
    if (opt.check) {
        if (sim_violations(sim)) {
            fprintf(stderr, "vsched-sim: %llu invariant violations; first: %s\n",
                    (unsigned long long)sim_violations(sim), sim_first_violation(sim));
            rc = 3;
        } else if (!csv) {
            printf("\ncheck: all invariants held\n");
        }
    }
    sim_destroy(sim);
    return rc;
}
