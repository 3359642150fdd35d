/* vsched-ctl summary: check a log's records and tabulate its last complete round. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "tools/ctl/ctl.h"

static const char summary_help[] =
    "usage: vsched-ctl summary LOG [--check] [--vm NAME [--vcpu N] | --pcpu N] [--key KEY]\n"
    "                          [--share NAME]\n"
    "Checks the protocol records of a console log (LOG - = stdin) and prints its last complete\n"
    "accounting round: per VM running/ready/blocked/costop ms, share, runs, preemptions, wake-up\n"
    "p99; per pCPU idle ms, kicks, kick p99.\n"
    "  --check         exit 1 on any seq gap, duplicate, malformed record or incomplete round\n"
    "  --key KEY       print one value of the last round instead (export schema names,\n"
    "                  docs/protocol.md): of the round record, or of --vm NAME [--vcpu N], or\n"
    "                  of --pcpu N\n"
    "  --share NAME    the VM's share of the running time of all VMs, in per mille\n"
    "  -h, --help      this text\n"
    "Exit status: 0; 1 no complete round, or a problem with --check; 2 usage or unreadable LOG.\n";

static void ms(uint64_t ns, char *buf, size_t size)
{
    uint64_t tenths = (ns + 50000) / 100000;
    snprintf(buf, size, "%llu.%llu", (unsigned long long)(tenths / 10),
             (unsigned long long)(tenths % 10));
}

static void us(uint64_t ns, char *buf, size_t size)
{
    uint64_t tenths = (ns + 50) / 100;
    snprintf(buf, size, "%llu.%llu", (unsigned long long)(tenths / 10),
             (unsigned long long)(tenths % 10));
}

static uint64_t permille(uint64_t part, uint64_t total)
{
    return total ? (uint64_t)(((unsigned __int128)part * 1000 + total / 2) / total) : 0;
}

int cmd_summary(int argc, char **argv)
{
    const char *path = NULL, *vm = NULL, *key = NULL, *share = NULL, *vcpu = NULL,
               *pcpu = NULL;
    bool check = false;
    static const struct option opts[] = {
        { "check", no_argument, 0, 'c' }, { "vm", required_argument, 0, 'm' },
        { "vcpu", required_argument, 0, 'v' }, { "pcpu", required_argument, 0, 'p' },
        { "key", required_argument, 0, 'k' }, { "share", required_argument, 0, 's' },
        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
    };
    int o;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'c': check = true; break;
        case 'm': vm = optarg; break;
        case 'v': vcpu = optarg; break;
        case 'p': pcpu = optarg; break;
        case 'k': key = optarg; break;
        case 's': share = optarg; break;
        case 'h': fputs(summary_help, stdout); return 0;
        default: usage_error("summary: see vsched-ctl summary --help");
        }
    }
    if (optind + 1 != argc)
        usage_error("summary: one LOG expected (vsched-ctl summary --help)");
    path = argv[optind];
    if ((vcpu && !vm) || (pcpu && vm) || ((vm || pcpu) && !key) || (key && share))
        usage_error("summary: --vcpu needs --vm, --vm/--pcpu need --key, --key excludes --share");

    struct reader rd;
    reader_init(&rd, path, false);
    if (!reader_file(&rd, path))
        return 2;
    bool incomplete_end = reader_finish(&rd);
    if (!rd.nrounds) {
        fprintf(stderr, "%s: %s: no complete accounting round (%u record(s))\n", prog, path,
                rd.nrecords);
        return 1;
    }
    int status = (check && (rd.problems || incomplete_end)) ? 1 : 0;
    const struct round *last = rd.rounds[rd.nrounds - 1];
    const struct round *before = rd.nrounds > 1 ? rd.rounds[rd.nrounds - 2] : NULL;

    if (share) {
        struct ent e;
        if (!ent_lookup(last, share, NULL, NULL, &e)) {
            fprintf(stderr, "%s: no VM '%s' in the last round\n", prog, share);
            return 1;
        }
        printf("%llu\n", (unsigned long long)permille(e.run, e.all_run));
        return status;
    }
    if (key) {
        struct ent e, pe;
        enum rec_kind k = vm && vcpu ? K_VCPU : vm ? K_VM : pcpu ? K_PCPU : K_ROUND;
        const struct field *f = field_find(k, key);
        if (!f || !ent_lookup(last, vm, vcpu, pcpu, &e)) {
            fprintf(stderr, "%s: no %s '%s'%s%s%s%s%s%s in the last complete round\n", prog,
                    f ? "entity for key" : "key", key, vm ? " for vm " : "", vm ? vm : "",
                    vcpu ? " vcpu " : "", vcpu ? vcpu : "", pcpu ? " for pcpu " : "",
                    pcpu ? pcpu : "");
            return 1;
        }
        bool have_prev = before && ent_find(before, &e, &pe);
        value_print(stdout, field_value(f, &e, have_prev ? &pe : NULL), false);
        putchar('\n');
        return status;
    }

    char b[6][32];
    ms(last->t_ns, b[0], 32);
    printf("round %llu%s at %s ms (seq %llu, line %u): %zu VM(s), %zu pCPU(s)%s\n",
           (unsigned long long)last->r, last->final ? " (final)" : "", b[0],
           (unsigned long long)last->seq, last->line, last->nvm, last->npcpu,
           rd.problems || incomplete_end ? "; problems reported on stderr" : "");
    printf("%-23s %12s %12s %12s %12s %7s %10s %11s %12s\n", "vm", "running_ms", "ready_ms",
           "blocked_ms", "costop_ms", "share%", "runs", "preemptions", "wake_p99_us");
    for (size_t i = 0; i < last->nvm; i++) {
        struct ent e;
        ent_get(K_VM, last, i, &e);
        uint64_t pm = permille(e.run, e.all_run);
        ms(e.run, b[0], 32), ms(e.rdy, b[1], 32), ms(e.blk, b[2], 32), ms(e.cs, b[3], 32);
        us(field_num(K_VM, "wake_p99_ns", &e, NULL), b[4], 32);
        printf("%-23s %12s %12s %12s %12s %5llu.%llu %10llu %11llu %12s\n", e.vm, b[0], b[1],
               b[2], b[3], (unsigned long long)(pm / 10), (unsigned long long)(pm % 10),
               (unsigned long long)e.runs, (unsigned long long)e.pre, b[4]);
    }
    if (last->npcpu) {
        printf("%-23s %12s %12s %12s %12s\n", "pcpu", "idle_ms", "kicks_sent", "kicks_recv",
               "kick_p99_us");
        for (size_t i = 0; i < last->npcpu; i++) {
            struct ent e;
            ent_get(K_PCPU, last, i, &e);
            ms(e.idle, b[0], 32);
            us(field_num(K_PCPU, "kick_p99_ns", &e, NULL), b[1], 32);
            printf("%-23llu %12s %12llu %12llu %12s\n", (unsigned long long)e.pcpu, b[0],
                   (unsigned long long)e.ks, (unsigned long long)e.kr, b[1]);
        }
    }
    reader_free(&rd);
    return status;
}
