#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/sched_testlib.h"

void tcfg_init(struct cfg *c, unsigned pcpus, const char *policy)
{
    cfg_defaults(c);
    c->machine.pcpus = pcpus;
    snprintf(c->machine.policy, sizeof(c->machine.policy), "%s", policy);
}

struct cfg_vm *tcfg_vm(struct cfg *c, const char *name, unsigned vcpus, const char *workload)
{
    assert_true(c->nvms < CFG_MAX_VMS);
    struct cfg_vm *vm = &c->vms[c->nvms++];
    memset(vm, 0, sizeof(*vm));
    snprintf(vm->name, sizeof(vm->name), "%s", name);
    vm->vcpus = vcpus;
    vm->memory_mb = 16;
    vm->weight = 256;
    vm->affinity = cpumask_below(CFG_MAX_PCPUS);
    snprintf(vm->workload, sizeof(vm->workload), "%s", workload);
    return vm;
}

struct sim *tsim(const struct cfg *c, const struct sim_options *opt)
{
    struct sim_options o = { 0 };
    if (opt)
        o = *opt;
    else
        o.switch_cost_ns = -1;
    o.check = true;
    struct sim *sim;
    char err[200];
    if (sim_create(&sim, c, &o, err, sizeof(err)) < 0)
        fail_msg("sim_create: %s", err);
    return sim;
}

void tsim_run(struct sim *sim, uint64_t until)
{
    sim_run(sim, until);
    if (sim_violations(sim))
        fail_msg("%llu invariant violations, first: %s", (unsigned long long)sim_violations(sim),
                 sim_first_violation(sim));
}

void tvcpu_acct(struct sim *sim, unsigned vm, unsigned idx, struct sched_acct *a)
{
    struct sched *s = sim_sched(sim);
    sched_vcpu_acct(s, sched_vcpu_get(s, vm, idx), sim_now(sim), a, NULL);
}

uint64_t tvcpu_run_ns(struct sim *sim, unsigned vm, unsigned idx)
{
    struct sched_acct a;
    tvcpu_acct(sim, vm, idx, &a);
    return a.running_ns;
}

uint64_t tvm_run_ns(struct sim *sim, unsigned vm)
{
    struct sched_acct a;
    sched_vm_acct(sim_sched(sim), vm, sim_now(sim), &a, NULL);
    return a.running_ns;
}

void trec(struct sim *sim, unsigned vm, unsigned idx, struct sim_record *r)
{
    if (sim_vcpu_record(sim, vm, idx, r) < 0)
        fail_msg("no vCPU %u of VM %u", idx, vm);
}

uint64_t trec_run_ns(struct sim *sim, unsigned vm, unsigned idx)
{
    struct sim_record r;
    trec(sim, vm, idx, &r);
    return r.running_ns;
}

uint64_t trec_vm_run_ns(struct sim *sim, unsigned vm)
{
    uint64_t t = 0;
    for (unsigned k = 0; k < sched_vm_nvcpus(sim_sched(sim), vm); k++)
        t += trec_run_ns(sim, vm, k);
    return t;
}

unsigned trec_all_run_ns(struct sim *sim, uint64_t *out, unsigned max)
{
    struct sched *s = sim_sched(sim);
    unsigned n = 0;
    for (unsigned vm = 0; vm < sched_nvms(s); vm++)
        for (unsigned k = 0; k < sched_vm_nvcpus(s, vm); k++) {
            assert_true(n < max);
            out[n++] = trec_run_ns(sim, vm, k);
        }
    return n;
}

uint64_t tmigrations(struct sim *sim)
{
    struct sched *s = sim_sched(sim);
    uint64_t m = 0;
    for (unsigned vm = 0; vm < sched_nvms(s); vm++) {
        struct sched_acct a;
        sched_vm_acct(s, vm, sim_now(sim), &a, NULL);
        m += a.migrations;
    }
    return m;
}

void tfigure(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    print_message("figure: %s\n", buf);
}

bool tnear(const char *what, double got, double want, double tol)
{
    if (got >= want - tol && got <= want + tol)
        return true;
    print_message("miss: %s: %.4f, want %.4f +- %.4f\n", what, got, want, tol);
    return false;
}

void assert_share(uint64_t got, uint64_t whole, double want, double tol, const char *what)
{
    double share = whole ? (double)got / (double)whole : 0;
    if (share < want - tol || share > want + tol)
        fail_msg("%s: share %.4f, want %.4f +- %.4f", what, share, want, tol);
}

static void nolock(void *ctx, unsigned id)
{
    (void)ctx, (void)id;
}

struct sched *tsched_new(const struct sched_setup *st)
{
    size_t size = sched_mem_size(st);
    void *mem = aligned_alloc(16, (size + 15) & ~(size_t)15);
    struct sched_env env = { NULL, nolock, nolock };
    struct sched *s = NULL;
    int rc = sched_init(&s, mem, size, st, &env, 0);
    if (rc)
        fail_msg("sched_init: %s", sched_strerror(rc));
    assert_ptr_equal(s, mem); /* the handle is the block itself: tsched_free relies on it */
    return s;
}

void tsched_free(struct sched *s)
{
    free(s);
}

struct sched_vcpu *tsched_decide(struct sched *s, unsigned cpu, uint64_t now,
                                 struct sched_decision *d)
{
    struct sched_decision tmp, *out = d ? d : &tmp;
    sched_schedule(s, cpu, now, out);
    sched_cpumask_t pending = out->kick;
    for (int c; (c = cpumask_first(&pending)) >= 0;) {
        cpumask_clear(&pending, (unsigned)c);
        struct sched_decision o;
        sched_schedule(s, (unsigned)c, now, &o);
        cpumask_clear(&o.kick, cpu);
        cpumask_or(&pending, &o.kick);
    }
    return out->run;
}

uint64_t twaker_p99(const char *policy, bool all_served)
{
    struct cfg c;
    tcfg_init(&c, 1, policy);
    tcfg_vm(&c, "hogs", 3, "hog");
    tcfg_vm(&c, "io", 1, "periodic period_us=20000 run_us=500");
    struct sim *sim = tsim(&c, NULL);
    tsim_run(sim, 5 * SEC);
    struct sched_acct a;
    struct hist h;
    sched_vm_acct(sim_sched(sim), 1, sim_now(sim), &a, &h);
    if (all_served) {
        assert_true(h.count > 200);
        assert_share(a.running_ns, 5 * SEC, 0.025, 0.001, "io gets all it asks for");
    }
    sim_destroy(sim);
    return hist_percentile(&h, 990000);
}

void tcheck_weights_124(const char *policy, uint32_t timeslice_us)
{
    struct cfg c;
    tcfg_init(&c, 1, policy);
    c.machine.timeslice_us = timeslice_us;
    c.machine.ratelimit_us = timeslice_us < c.machine.ratelimit_us ? timeslice_us / 2 : c.machine.ratelimit_us;
    tcfg_vm(&c, "w1", 1, "hog")->weight = 256;
    tcfg_vm(&c, "w2", 1, "hog")->weight = 512;
    tcfg_vm(&c, "w4", 1, "hog")->weight = 1024;
    struct sim *sim = tsim(&c, NULL);
    tsim_run(sim, 10 * SEC);
    assert_share(tvm_run_ns(sim, 0), 10 * SEC, 1.0 / 7, 0.01, "weight 1");
    assert_share(tvm_run_ns(sim, 1), 10 * SEC, 2.0 / 7, 0.01, "weight 2");
    assert_share(tvm_run_ns(sim, 2), 10 * SEC, 4.0 / 7, 0.01, "weight 4");
    sim_destroy(sim);
}

