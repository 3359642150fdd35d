/* vsched-meta: the metascheduler experiment in the simulator ("Improving Performance with
 * Metaschedulers": each application's preferred scheduler runs in turn, for t_i = n * t_b * w_i,
 * the weights w_i from one of four rules over per-scheduler profiles).
 *
 *   vsched-meta [--run-ms N] [--tb-ms LIST] [--general NAME] [--profile-out FILE] CONFIG
 *
 * 1. Profile: the mix (CONFIG, simulated workloads) runs once under every policy of the table
 *    that accepts it; per VM its throughput (work done, pCPU-equivalents, after switch costs)
 *    and the p99 of its requests' response times (timer workloads: arrival to the end of the
 *    burst).  Written to --profile-out (one line per VM and policy).
 * 2. Preferences: a VM whose workload is a hog (throughput) prefers the policy that gives it
 *    the most throughput; a timer (latency-sensitive) the one that gives it the lowest p99.  A
 *    policy that leaves some VM of the mix without any service (fifo) is no candidate.
 * 3. Rules: round robin (w_i = 1/n); delta-weighted (w_i by the p99 the VM has under the
 *    general scheduler); benefit-weighted (by the throughput gain of its preferred policy over
 *    the general one, at least 0.1 %); delta-benefit-weighted (the product, normalized).
 * 4. Runs: every single policy, and every rule at every base timeslice t_b: the library's
 *    sched_change switches the policy at each slot boundary (timed with the host clock: the
 *    switch cost); per VM and for the whole mix (the hogs' throughput summed, the worst p99 of
 *    the latency-sensitive VMs)
 *    against the general scheduler, and the best configuration. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sched/meta.h"
#include "tools/vsched-sim/sim.h"

#define MAX_POL 16
#define NRULES 4

static const char *const rule_names[NRULES] = { SCHED_META_RULE_NAMES };
_Static_assert(NRULES == SCHED_META_RULES, "the rules are sched/meta.h's");

/* Throughput in the profile's unit: millionths of a pCPU. */
static uint64_t thr_ppm(double thr)
{
    return thr > 0 ? (uint64_t)(thr * 1e6 + 0.5) : 0;
}

struct result {
    double thr[CFG_MAX_VMS];     /* pCPU-equivalents of work */
    uint64_t p99[CFG_MAX_VMS];   /* ns */
    double mix_thr;
    uint64_t mix_p99;
    uint64_t switches, switch_ns;
    bool ok;
};

static struct cfg mix;
static uint64_t run_ns = 5000000000ull;
static bool thr_vm[CFG_MAX_VMS];

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Per VM: throughput = work done (after switch costs) per unit of time, in pCPUs; p99 = of its
 * requests' response times (a timer workload: arrival to the end of its burst; a VM that got
 * no request done counts the whole run).  The mix: the throughput VMs' sum, the worst p99 of
 * the latency-sensitive ones. */
static void measure(struct sim *sim, struct result *r)
{
    r->mix_thr = 0;
    r->mix_p99 = 0;
    for (unsigned i = 0; i < mix.nvms; i++) {
        uint64_t work = 0;
        struct hist resp, h;
        hist_clear(&resp);
        for (unsigned k = 0; k < mix.vms[i].vcpus; k++) {
            struct sim_record rec;
            sim_vcpu_record(sim, i, k, &rec);
            work += rec.work_ns;
            sim_vcpu_response(sim, i, k, &h);
            hist_merge(&resp, &h);
        }
        r->thr[i] = (double)work / (double)sim_now(sim);
        r->p99[i] = thr_vm[i] ? 0 : resp.count ? hist_percentile(&resp, 990000) : sim_now(sim);
        if (thr_vm[i])
            r->mix_thr += r->thr[i];
        else if (r->p99[i] > r->mix_p99)
            r->mix_p99 = r->p99[i];
    }
    r->ok = true;
}

static struct sim *start(const char *policy, char *err, size_t n)
{
    struct sim_options opt = { .switch_cost_ns = -1, .policy = policy, .run_ns = run_ns };
    struct sim *sim = NULL;
    return sim_create(&sim, &mix, &opt, err, n) == 0 ? sim : NULL;
}

/* One policy for the whole run. */
static void run_single(const char *policy, struct result *r)
{
    char err[200];
    memset(r, 0, sizeof(*r));
    struct sim *sim = start(policy, err, sizeof(err));
    if (!sim)
        return;
    sim_run(sim, run_ns);
    measure(sim, r);
    sim_destroy(sim);
}

/* The metascheduler: slot i runs PREF[i] for SLOT[i] ns, in turn, from the general policy. */
static void run_meta(const char *general, const char *const *pref, const uint64_t *slot,
                     struct result *r)
{
    char err[200];
    memset(r, 0, sizeof(*r));
    struct sim *sim = start(general, err, sizeof(err));
    if (!sim)
        return;
    struct sched *s = sim_sched(sim);
    uint64_t t = 0;
    for (unsigned i = 0; t < run_ns; i = (i + 1) % mix.nvms) {
        if (!slot[i])
            continue;
        if (strcmp(sched_policy_name(s), pref[i]) != 0) {
            struct sched_change ch = { .set = SCHED_SET_POLICY, .policy = pref[i] };
            sched_cpumask_t kick;
            uint64_t t0 = mono_ns();
            int rc = sched_change(s, &ch, sim_now(sim), &kick);
            r->switch_ns += mono_ns() - t0;
            r->switches++;
            if (rc) {
                fprintf(stderr, "vsched-meta: switch to %s: %s\n", pref[i], sched_strerror(rc));
                sim_destroy(sim);
                return;
            }
            sim_kick(sim, kick);
        }
        t = t + slot[i] < run_ns ? t + slot[i] : run_ns;
        sim_run(sim, t);
    }
    uint64_t sw = r->switches, swns = r->switch_ns;
    measure(sim, r);
    r->switches = sw, r->switch_ns = swns;
    sim_destroy(sim);
}

static double pct(double v, double base)
{
    return base > 0 ? 100.0 * (v - base) / base : 0;
}

static void print_row(const char *what, const struct result *r, const struct result *gen)
{
    if (!r->ok) {
        printf("%-28s refused\n", what);
        return;
    }
    printf("%-28s", what);
    for (unsigned i = 0; i < mix.nvms; i++)
        printf(" %7.4f %9.1f", r->thr[i], r->p99[i] / 1e3);
    printf(" | %7.4f %9.1f | %+6.2f%% %+7.2f%%", r->mix_thr, r->mix_p99 / 1e3,
           pct(r->mix_thr, gen->mix_thr), pct((double)r->mix_p99, (double)gen->mix_p99));
    if (r->switches)
        printf("  %llu switches, %.0f ns each", (unsigned long long)r->switches,
               (double)r->switch_ns / (double)r->switches);
    printf("\n");
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0, k;
    char *buf = malloc(cap);
    while (buf && (k = fread(buf + n, 1, cap - n, f)) > 0)
        if ((n += k) == cap)
            buf = realloc(buf, cap *= 2);
    fclose(f);
    *len = n;
    return buf;
}

int main(int argc, char **argv)
{
    const char *general = "credit", *profile_out = NULL, *path = NULL;
    char tb_list[128] = "1,10,30,100";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--run-ms") && i + 1 < argc)
            run_ns = strtoull(argv[++i], NULL, 10) * 1000000ull;
        else if (!strcmp(argv[i], "--tb-ms") && i + 1 < argc)
            snprintf(tb_list, sizeof(tb_list), "%s", argv[++i]);
        else if (!strcmp(argv[i], "--general") && i + 1 < argc)
            general = argv[++i];
        else if (!strcmp(argv[i], "--profile-out") && i + 1 < argc)
            profile_out = argv[++i];
        else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else {
            fprintf(stderr, "usage: vsched-meta [--run-ms N] [--tb-ms 1,10,...] [--general NAME] "
                            "[--profile-out FILE] CONFIG\n");
            return 2;
        }
    }
    size_t len = 0;
    char *text = path ? read_file(path, &len) : NULL;
    struct cfg_error cerr;
    if (!text || cfg_parse(text, len, sched_policy_known, &mix, &cerr) < 0) {
        fprintf(stderr, "vsched-meta: %s: %s\n", path ? path : "(no config)",
                text ? cerr.msg : "cannot read");
        return 2;
    }
    if (!run_ns || !sched_policy_known(general) || !mix.nvms) {
        fprintf(stderr, "vsched-meta: bad --run-ms, --general or a config without VMs\n");
        return 2;
    }
    for (unsigned i = 0; i < mix.nvms; i++) {
        struct sim_workload wl;
        char why[120];
        if (sim_workload_parse(mix.vms[i].workload, &wl, why, sizeof(why)) < 0) {
            fprintf(stderr, "vsched-meta: vm %s: %s\n", mix.vms[i].name, why);
            return 2;
        }
        thr_vm[i] = wl.kind == WL_HOG;
        if (!thr_vm[i] && wl.kind != WL_TIMER) {
            fprintf(stderr, "vsched-meta: vm %s: a mix VM is a hog (throughput) or a timer "
                            "(latency)\n", mix.vms[i].name);
            return 2;
        }
    }

    /* 1. Profile. */
    const char *pols[MAX_POL];
    struct result prof[MAX_POL];
    unsigned np = 0, gen = MAX_POL;
    for (unsigned k = 0; sched_policy_list(k) && np < MAX_POL; k++) {
        pols[np] = sched_policy_list(k);
        run_single(pols[np], &prof[np]);
        if (!strcmp(pols[np], general))
            gen = np;
        np++;
    }
    if (gen == MAX_POL || !prof[gen].ok) {
        fprintf(stderr, "vsched-meta: the general scheduler %s refuses the mix\n", general);
        return 2;
    }
    FILE *pf = profile_out ? fopen(profile_out, "w") : NULL;
    if (profile_out && !pf) {
        fprintf(stderr, "vsched-meta: cannot write %s\n", profile_out);
        return 2;
    }
    for (unsigned k = 0; pf && k < np; k++)
        for (unsigned i = 0; prof[k].ok && i < mix.nvms; i++)
            fprintf(pf, "vm=%s policy=%s throughput_ppm=%llu p99_ns=%llu\n", mix.vms[i].name,
                    pols[k], (unsigned long long)thr_ppm(prof[k].thr[i]),
                    (unsigned long long)prof[k].p99[i]);
    if (pf)
        fclose(pf);

    /* 2. Preferences. */
    const char *pref[CFG_MAX_VMS];
    unsigned prefk[CFG_MAX_VMS];
    struct sched_meta_vm mv[CFG_MAX_VMS]; /* what the profile file says of each VM */
    for (unsigned i = 0; i < mix.nvms; i++) {
        unsigned best = gen;
        for (unsigned k = 0; k < np; k++) {
            bool starves = false; /* not a candidate: it leaves a VM of the mix without service */
            for (unsigned j = 0; j < mix.nvms; j++)
                starves = starves || prof[k].thr[j] <= 0;
            if (!prof[k].ok || starves)
                continue;
            bool better = thr_vm[i] ? prof[k].thr[i] > prof[best].thr[i]
                                    : prof[k].p99[i] < prof[best].p99[i] ||
                                          (prof[k].p99[i] == prof[best].p99[i] &&
                                           prof[k].thr[i] > prof[best].thr[i]);
            if (better)
                best = k;
        }
        pref[i] = pols[best];
        prefk[i] = best;
        mv[i] = (struct sched_meta_vm){ .general_p99_ns = prof[gen].p99[i],
                                        .general_thr_ppm = thr_ppm(prof[gen].thr[i]),
                                        .preferred_thr_ppm = thr_ppm(prof[best].thr[i]) };
    }
    printf("mix %s: %u VMs on %u pCPUs, %.1f s per run, general scheduler %s\n", path, mix.nvms,
           mix.machine.pcpus ? mix.machine.pcpus : 4, run_ns / 1e9, general);
    for (unsigned i = 0; i < mix.nvms; i++)
        printf("  %-10s %-10s prefers %-8s (throughput %.4f -> %.4f, p99 %.1f -> %.1f us)\n",
               mix.vms[i].name, thr_vm[i] ? "throughput" : "latency", pref[i],
               prof[gen].thr[i], prof[prefk[i]].thr[i], prof[gen].p99[i] / 1e3,
               prof[prefk[i]].p99[i] / 1e3);

    /* Header. */
    printf("\n%-28s", "configuration");
    for (unsigned i = 0; i < mix.nvms; i++)
        printf(" %7.7s %9s", mix.vms[i].name, "p99_us");
    printf(" | %7s %9s | %7s %8s\n", "mix", "p99_us", "thr", "p99");
    for (unsigned k = 0; k < np; k++) {
        char what[40];
        snprintf(what, sizeof(what), "single %s", pols[k]);
        print_row(what, &prof[k], &prof[gen]);
    }

    /* 3-4. Rules x base timeslices. */
    double best_score = -1e300;
    char best[64] = "";
    struct result bestr = { 0 };
    uint32_t best_w[CFG_MAX_VMS] = { 0 };
    unsigned best_rule = 0;
    uint64_t best_tb = 0;
    uint64_t total_sw = 0, total_sw_ns = 0;
    for (char *tok = strtok(tb_list, ","); tok; tok = strtok(NULL, ",")) {
        uint64_t tb = strtoull(tok, NULL, 10) * 1000000ull;
        if (!tb)
            continue;
        for (unsigned rule = 0; rule < NRULES; rule++) {
            uint32_t w[CFG_MAX_VMS]; /* the VMM computes the same from the profile file */
            uint64_t sum = 0;
            sched_meta_weights((enum sched_meta_rule)rule, mix.nvms, mv, w);
            for (unsigned i = 0; i < mix.nvms; i++)
                sum += w[i];
            uint64_t slot[CFG_MAX_VMS];
            for (unsigned i = 0; i < mix.nvms; i++)
                slot[i] = mix.nvms * tb * w[i] / sum;
            struct result r;
            run_meta(general, pref, slot, &r);
            char what[64];
            snprintf(what, sizeof(what), "meta %s t_b=%s ms", rule_names[rule], tok);
            print_row(what, &r, &prof[gen]);
            total_sw += r.switches, total_sw_ns += r.switch_ns;
            double score = pct(r.mix_thr, prof[gen].mix_thr) -
                           pct((double)r.mix_p99, (double)prof[gen].mix_p99);
            if (r.ok && score > best_score) {
                best_score = score;
                snprintf(best, sizeof(best), "%s", what);
                bestr = r;
                memcpy(best_w, w, sizeof(best_w));
                best_tb = tb;
                best_rule = rule;
            }
        }
    }
    if (best[0])
        printf("\nbest: %s: throughput %+.2f %%, p99 %+.2f %% against %s "
               "(paper: +3.94 %%, -5.38 %% against the general-purpose scheduler)\n",
               best, pct(bestr.mix_thr, prof[gen].mix_thr),
               pct((double)bestr.mix_p99, (double)prof[gen].mix_p99), general);
    if (best[0]) { /* the VMM runs the same slots from these keys (vmm/meta.c) */
        printf("VMM keys for it: [machine] meta_tb_us = %llu;", (unsigned long long)(best_tb / 1000));
        for (unsigned i = 0; i < mix.nvms; i++)
            printf(" [vm %s] meta_policy = %s, meta_weight = %u;", mix.vms[i].name, pref[i],
                   best_w[i]);
        printf("\n");
        if (profile_out) { /* or the VMM computes the weights from the profile itself */
            printf("or, with the profile on the ESP: [machine] meta_tb_us = %llu, meta_profile = "
                   "%s, meta_rule = %s, meta_general = %s;", (unsigned long long)(best_tb / 1000),
                   profile_out, rule_names[best_rule], general);
            for (unsigned i = 0; i < mix.nvms; i++)
                printf(" [vm %s] meta_policy = %s;", mix.vms[i].name, pref[i]);
            printf("\n");
        }
    }
    if (total_sw)
        printf("policy switch (sched_change, host clock): %.0f ns each over %llu switches "
               "(paper: 133 ms per sched_ext switch)\n",
               (double)total_sw_ns / (double)total_sw, (unsigned long long)total_sw);
    return 0;
}
