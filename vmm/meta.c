/* The metascheduler in the VMM ("Improving Performance with Metaschedulers"): with
 * [machine] meta_tb_us = t_b, the VMs that name a preferred policy ([vm] meta_policy) take
 * turns — VM i's policy runs for t_i = n * t_b * w_i, w_i = its meta_weight over the sum
 * (tools/vsched-meta computes the weights from a profile by one of the four rules and prints
 * them as these keys).  pCPU 0 switches with sched_change at each slot boundary, from its
 * housekeeping, and times every switch (TSC): the final line `meta: switches=N ns_avg=..
 * ns_max=..` is the cost of a switch in a hypervisor (the paper: 133 ms per sched_ext switch).
 * A switch the library refuses (null on an overcommitted machine, rtds reservations that do
 * not fit) is reported once per policy and its slot keeps the policy that runs. */
#include <string.h>

#include "sched/meta.h"
#include "sched/sched.h"
#include "vmm/console.h"
#include "vmm/halt.h"
#include "vmm/meta_profile.h"
#include "vmm/tsc.h"
#include "vmm/vm_impl.h"

static struct {
    uint32_t n, slot;             /* VMs that take part; the current slot */
    uint32_t vm[CFG_MAX_VMS];     /* their indices */
    uint32_t weight[CFG_MAX_VMS]; /* their slots' weights (meta_weight, or from the profile) */
    uint64_t len_tsc[CFG_MAX_VMS];
    uint64_t next_tsc;            /* the next boundary, 0 = off */
    uint64_t switches, refused, sum_tsc, max_tsc;
    bool told[CFG_MAX_VMS];       /* a refusal reported */
} meta;


/* Slot lengths for base timeslice TB_US (the VMs and weights of the configuration). */
static void set_slots(uint32_t tb_us)
{
    uint64_t wsum = 0, tb_tsc = (uint64_t)tb_us * (tsc_hz() / 1000000);
    for (uint32_t k = 0; k < meta.n; k++)
        wsum += meta.weight[k];
    for (uint32_t k = 0; k < meta.n; k++) {
        uint64_t t = meta.n * tb_tsc * meta.weight[k] / wsum;
        meta.len_tsc[k] = t ? t : 1;
    }
}

/* [machine] meta_profile: the weights by meta_rule from the profile (the same function as
 * tools/vsched-meta: sched/meta.h), printed; a bad profile stops the boot like a bad config. */
static void weights_from_profile(const struct machine *m, const struct cfg *c)
{
    static const char *const rules[] = { SCHED_META_RULE_NAMES };
    static struct sched_meta_vm prof[CFG_MAX_VMS];
    struct sched_meta_vm in[CFG_MAX_VMS];
    const char *general = c->machine.meta_general[0] ? c->machine.meta_general : c->machine.policy;
    char err[160];
    if (meta_profile_parse(m->boot->meta_profile.data, m->boot->meta_profile.size, c, general,
                           prof, err, sizeof(err)) < 0) {
        kprintf("vsched.cfg: error: [machine] meta_profile '%s': %s\n", c->machine.meta_profile,
                err);
        machine_halt(HALT_CONFIG);
    }
    for (uint32_t k = 0; k < meta.n; k++)
        in[k] = prof[meta.vm[k]];
    sched_meta_weights((enum sched_meta_rule)c->machine.meta_rule, meta.n, in, meta.weight);
    kprintf("meta: weights from %s by %s against %s (ppm):", c->machine.meta_profile,
            rules[c->machine.meta_rule], general);
    for (uint32_t k = 0; k < meta.n; k++)
        kprintf(" %s=%u", c->vms[meta.vm[k]].name, meta.weight[k]);
    kprintf("\n");
}

void meta_init(struct machine *m)
{
    const struct cfg *c = &m->boot->cfg;
    meta.n = 0;
    for (uint32_t i = 0; i < c->nvms; i++)
        if (c->vms[i].meta_policy[0])
            meta.vm[meta.n++] = i;
    if (!c->machine.meta_tb_us || !meta.n)
        return;
    for (uint32_t k = 0; k < meta.n; k++)
        meta.weight[k] = c->vms[meta.vm[k]].meta_weight ? c->vms[meta.vm[k]].meta_weight : 1;
    if (c->machine.meta_profile[0])
        weights_from_profile(m, c);
    set_slots(c->machine.meta_tb_us);
    meta.slot = meta.n - 1; /* the first boundary (now) starts slot 0 */
    meta.next_tsc = m->run_start_tsc;
    bool pools = c->npools > 1;
    kprintf("meta: %u VMs take turns, base timeslice %u us%s%s\n", meta.n, c->machine.meta_tb_us,
            pools ? ", in pool " : "", pools ? c->pools[c->machine.meta_pool].name : "");
}

bool meta_set_tb(uint32_t tb_us)
{
    if (!meta.n)
        return false;
    if (!tb_us) {
        meta.next_tsc = 0;
        return true;
    }
    set_slots(tb_us);
    if (!meta.next_tsc)
        meta.next_tsc = rdtsc(); /* switched on: the next slot starts now */
    return true;
}

/* pCPU 0, between runs: the slot boundary, if due.  Returns the next one (0 = off). */
uint64_t meta_poll(struct machine *m, uint64_t now_tsc)
{
    if (!meta.next_tsc || now_tsc < meta.next_tsc)
        return meta.next_tsc;
    meta.slot = (meta.slot + 1) % meta.n;
    uint32_t i = meta.vm[meta.slot];
    const char *want = m->boot->cfg.vms[i].meta_policy;
    uint32_t pool = m->boot->cfg.machine.meta_pool;
    if (strcmp(sched_pool_policy_name(m->sched, pool), want) != 0) {
        struct sched_change ch = { .set = SCHED_SET_POLICY, .policy = want, .pool = pool };
        sched_cpumask_t kick = cpumask_none();
        uint64_t t0 = rdtsc();
        int err = sched_change(m->sched, &ch, vm_now_ns(m), &kick);
        uint64_t dt = rdtsc() - t0;
        if (err) {
            meta.refused++;
            if (!meta.told[i])
                kprintf("meta: switch to %s (vm %s) refused: %s; the slot keeps %s\n", want,
                        m->boot->cfg.vms[i].name, sched_strerror(err),
                        sched_pool_policy_name(m->sched, pool));
            meta.told[i] = true;
        } else {
            meta.switches++;
            meta.sum_tsc += dt;
            meta.max_tsc = dt > meta.max_tsc ? dt : meta.max_tsc;
            run_kick(m, kick);
        }
    }
    uint64_t late = now_tsc - meta.next_tsc;
    meta.next_tsc += meta.len_tsc[meta.slot] > late ? meta.len_tsc[meta.slot] : late + 1;
    return meta.next_tsc;
}

void meta_finish(const struct machine *m)
{
    if (!meta.n || (!m->boot->cfg.machine.meta_tb_us && !meta.switches && !meta.refused))
        return;
    kprintf("meta: switches=%lu refused=%lu ns_avg=%lu ns_max=%lu\n",
            (unsigned long)meta.switches, (unsigned long)meta.refused,
            (unsigned long)(meta.switches ? tsc_to_ns(meta.sum_tsc / meta.switches) : 0),
            (unsigned long)tsc_to_ns(meta.max_tsc));
}
