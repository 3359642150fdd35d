/* vsched-ctl trace: a log's scheduling trace records (type=trace, docs/protocol.md) as
 * Chrome / Perfetto trace JSON: one track per pCPU with a slice for each vCPU run, instant
 * events for wake-ups, kicks and the other events, migrations with their source pCPU. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "tools/ctl/ctl.h"

static const char trace_help[] =
    "usage: vsched-ctl trace LOG [-o OUT.json]\n"
    "Converts the scheduling trace records of a console log or a vsched-sim --trace file\n"
    "(LOG - = stdin) to Chrome/Perfetto trace JSON (OUT, default stdout; open it in\n"
    "ui.perfetto.dev or chrome://tracing): a track per pCPU with a slice per vCPU run\n"
    "(args: vm, vcpu, how it started: run = a dispatch, resume = woke while still current),\n"
    "instant events for wake, kick, migrate (args: from), park, unpark, co-stop, gang\n"
    "start/stop.  Prints one line to stderr: events, slices and lost events.\n"
    "  -o, --output OUT  write the JSON here\n"
    "  -h, --help        this text\n"
    "Exit status: 0; 1 no trace records; 2 usage or unreadable LOG.\n";

struct names {
    char (*vm)[NAME_MAX_];
    size_t n;
};

static const char *vm_name(const struct names *nm, uint32_t vm, char *buf, size_t len)
{
    if (vm < nm->n && nm->vm[vm][0])
        return nm->vm[vm];
    snprintf(buf, len, "vm%u", vm);
    return buf;
}

/* Microseconds with 3 decimals: the trace format's unit. */
static void put_us(FILE *f, uint64_t ns)
{
    fprintf(f, "%llu.%03llu", (unsigned long long)(ns / 1000), (unsigned long long)(ns % 1000));
}

struct out {
    FILE *f;
    bool first;
};

static void ev_begin(struct out *o)
{
    fputs(o->first ? "\n" : ",\n", o->f);
    o->first = false;
}

static void put_slice(struct out *o, const struct names *nm, uint32_t pcpu, uint32_t vm,
                      uint32_t vcpu, uint64_t from, uint64_t to, const char *how)
{
    char b[16];
    ev_begin(o);
    fprintf(o->f, "{\"ph\":\"X\",\"pid\":0,\"tid\":%u,\"ts\":", pcpu);
    put_us(o->f, from);
    fputs(",\"dur\":", o->f);
    put_us(o->f, to - from);
    fprintf(o->f, ",\"name\":\"%s.%u\",\"cat\":\"run\",\"args\":{\"vm\":%u,\"vcpu\":%u,"
                  "\"start\":\"%s\"}}",
            vm_name(nm, vm, b, sizeof(b)), vcpu, vm, vcpu, how);
}

int cmd_trace(int argc, char **argv)
{
    const char *out_path = NULL;
    static const struct option opts[] = {
        { "output", required_argument, 0, 'o' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
    };
    int o;
    while ((o = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        switch (o) {
        case 'o': out_path = optarg; break;
        case 'h': fputs(trace_help, stdout); return 0;
        default: fputs(trace_help, stderr); return 2;
        }
    }
    if (optind + 1 != argc)
        usage_error("trace needs one LOG (--help)");
    const char *path = argv[optind];
    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!in) {
        fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
        return 2;
    }
    struct sched_trace_event *ev = NULL, buf[PROTO_TRACE_MAX_EVENTS];
    size_t nev = 0, cap = 0, records = 0, bad = 0;
    uint64_t lost_total = 0;
    struct names nm = { NULL, 0 };
    struct proto_msg m;
    char err[PROTO_ERR_MAX], *line = NULL;
    size_t lcap = 0;
    ssize_t got;
    while ((got = getline(&line, &lcap, in)) >= 0) {
        /* A VMM log has console text in front of records only at line starts. */
        if (proto_parse(line, (size_t)got, &m, err, sizeof(err)) != PROTO_OK)
            continue;
        const char *type;
        if (!proto_get_tok(&m, "type", &type))
            continue;
        if (strcmp(type, "vm") == 0) { /* names for the tracks' slices */
            uint64_t id;
            const char *name;
            if (proto_get_u64(&m, "id", &id) && id < 4096 && proto_get_tok(&m, "vm", &name) &&
                strlen(name) < NAME_MAX_) {
                if (id >= nm.n) {
                    nm.vm = xrealloc(nm.vm, (id + 1) * sizeof(*nm.vm));
                    memset(nm.vm + nm.n, 0, (id + 1 - nm.n) * sizeof(*nm.vm));
                    nm.n = id + 1;
                }
                strcpy(nm.vm[id], name);
            }
            continue;
        }
        if (strcmp(type, "trace") != 0)
            continue;
        uint64_t lost;
        int n = proto_get_trace(&m, buf, PROTO_TRACE_MAX_EVENTS, &lost);
        if (n < 0) {
            bad++;
            continue;
        }
        records++;
        lost_total += lost;
        if (nev + (size_t)n > cap) {
            cap = (nev + (size_t)n) * 2;
            ev = xrealloc(ev, cap * sizeof(*ev));
        }
        memcpy(ev + nev, buf, (size_t)n * sizeof(*ev));
        nev += (size_t)n;
    }
    free(line);
    if (in != stdin)
        fclose(in);
    if (!records) {
        fprintf(stderr, "%s: %s: no trace records\n", prog, path);
        free(ev);
        free(nm.vm);
        return 1;
    }
    FILE *f = out_path ? fopen(out_path, "w") : stdout;
    if (!f) {
        fprintf(stderr, "%s: %s: %s\n", prog, out_path, strerror(errno));
        return 2;
    }
    /* Per pCPU in ring order: a stable counting sort by pCPU (a ring's records come in
     * order). */
    size_t count[SCHED_MAX_PCPUS + 1] = { 0 };
    for (size_t i = 0; i < nev; i++)
        count[ev[i].pcpu + 1]++;
    for (unsigned c = 0; c < SCHED_MAX_PCPUS; c++)
        count[c + 1] += count[c];
    struct sched_trace_event *sorted = xrealloc(NULL, (nev ? nev : 1) * sizeof(*ev));
    for (size_t i = 0; i < nev; i++)
        sorted[count[ev[i].pcpu]++] = ev[i];
    free(ev);
    ev = sorted;
    struct out out = { f, true };
    fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[", f);
    ev_begin(&out);
    fputs("{\"ph\":\"M\",\"pid\":0,\"name\":\"process_name\",\"args\":{\"name\":\"vsched\"}}", f);
    size_t slices = 0;
    for (size_t i = 0; i < nev;) {
        uint32_t p = ev[i].pcpu;
        ev_begin(&out);
        fprintf(f, "{\"ph\":\"M\",\"pid\":0,\"tid\":%u,\"name\":\"thread_name\","
                   "\"args\":{\"name\":\"pCPU %u\"}}", p, p);
        /* The run in progress on this pCPU; a slice never starts before the previous one
         * ended (VMM timestamps on one ring are the writers' clocks, not strictly ordered). */
        bool running = false;
        uint32_t rvm = 0, rvcpu = 0;
        uint64_t rfrom = 0, floor = 0, last = 0;
        const char *how = "run";
        for (; i < nev && ev[i].pcpu == p; i++) {
            const struct sched_trace_event *e = &ev[i];
            uint64_t t = e->t_ns < floor ? floor : e->t_ns;
            last = t > last ? t : last;
            bool mine = running && e->vm == rvm && e->vcpu == rvcpu;
            if (e->type == SCHED_TR_DISPATCH ||
                (e->type == SCHED_TR_WAKE && e->arg == 1)) {
                if (running) { /* its end was not traced (lost): it ends here */
                    put_slice(&out, &nm, p, rvm, rvcpu, rfrom, t, how);
                    slices++;
                }
                running = true;
                rvm = e->vm, rvcpu = e->vcpu, rfrom = t;
                how = e->type == SCHED_TR_DISPATCH ? "run" : "resume";
            } else if (mine && (e->type == SCHED_TR_PREEMPT ||
                                (e->type == SCHED_TR_BLOCK && e->arg == 1))) {
                put_slice(&out, &nm, p, rvm, rvcpu, rfrom, t, how);
                slices++;
                running = false;
                floor = t;
            }
            if (e->type == SCHED_TR_DISPATCH || e->type == SCHED_TR_PREEMPT)
                continue; /* the slices show them */
            char b[16];
            const char *name = sched_trace_type_name(e->type);
            ev_begin(&out);
            fprintf(f, "{\"ph\":\"i\",\"s\":\"t\",\"pid\":0,\"tid\":%u,\"ts\":", p);
            put_us(f, t);
            if (e->vm == SCHED_TRACE_NO_VM)
                fprintf(f, ",\"name\":\"%s\",\"cat\":\"%s\",\"args\":{\"arg\":%llu}}", name,
                        name, (unsigned long long)e->arg);
            else
                fprintf(f, ",\"name\":\"%s %s.%u\",\"cat\":\"%s\",\"args\":{\"vm\":%u,"
                           "\"vcpu\":%u,\"%s\":%llu}}",
                        name, vm_name(&nm, e->vm, b, sizeof(b)), e->vcpu, name, e->vm, e->vcpu,
                        e->type == SCHED_TR_MIGRATE ? "from" : "arg",
                        (unsigned long long)e->arg);
        }
        if (running) { /* still running at the end of the trace */
            put_slice(&out, &nm, p, rvm, rvcpu, rfrom, last, how);
            slices++;
        }
    }
    fprintf(f, "\n],\"otherData\":{\"events\":%zu,\"slices\":%zu,\"lost\":%llu,"
               "\"bad_records\":%zu}}\n",
            nev, slices, (unsigned long long)lost_total, bad);
    int rc = 0;
    if (f != stdout && fclose(f)) {
        fprintf(stderr, "%s: %s: %s\n", prog, out_path, strerror(errno));
        rc = 2;
    }
    fprintf(stderr, "trace: %zu events, %zu slices, %llu lost, %zu bad records\n", nev, slices,
            (unsigned long long)lost_total, bad);
    free(ev);
    free(nm.vm);
    return rc;
}
