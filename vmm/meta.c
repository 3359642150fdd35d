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

#include "sched/sched.h"
#include "vmm/console.h"
#include "vmm/tsc.h"
#include "vmm/vm_impl.h"

static struct {
    uint32_t n, slot;             /* VMs that take part; the current slot */
    uint32_t vm[CFG_MAX_VMS];     /* their indices */
    uint64_t len_tsc[CFG_MAX_VMS];
    uint64_t next_tsc;            /* the next boundary, 0 = off */
    uint64_t switches, refused, sum_tsc, max_tsc;
    bool told[CFG_MAX_VMS];       /* a refusal reported */
} meta;


/* Slot lengths for base timeslice TB_US (the VMs and weights of the configuration). */
static void set_slots(const struct machine *m, uint32_t tb_us)
{
    const struct cfg *c = &m->boot->cfg;
    uint64_t wsum = 0, tb_tsc = (uint64_t)tb_us * (tsc_hz() / 1000000);
    for (uint32_t k = 0; k < meta.n; k++)
        wsum += c->vms[meta.vm[k]].meta_weight;
    for (uint32_t k = 0; k < meta.n; k++) {
        uint64_t t = meta.n * tb_tsc * c->vms[meta.vm[k]].meta_weight / wsum;
        meta.len_tsc[k] = t ? t : 1;
    }
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
    set_slots(m, c->machine.meta_tb_us);
    meta.slot = meta.n - 1; /* the first boundary (now) starts slot 0 */
    meta.next_tsc = m->run_start_tsc;
    kprintf("meta: %u VMs take turns, base timeslice %u us\n", meta.n, c->machine.meta_tb_us);
}

bool meta_set_tb(struct machine *m, uint32_t tb_us)
{
    if (!meta.n)
        return false;
    if (!tb_us) {
        meta.next_tsc = 0;
        return true;
    }
    set_slots(m, tb_us);
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
    if (strcmp(sched_policy_name(m->sched), want) != 0) {
        struct sched_change ch = { .set = SCHED_SET_POLICY, .policy = want };
        sched_cpumask_t kick = cpumask_none();
        uint64_t t0 = rdtsc();
        int err = sched_change(m->sched, &ch, vm_now_ns(m), &kick);
        uint64_t dt = rdtsc() - t0;
        if (err) {
            meta.refused++;
            if (!meta.told[i])
                kprintf("meta: switch to %s (vm %s) refused: %s; the slot keeps %s\n", want,
                        m->boot->cfg.vms[i].name, sched_strerror(err),
                        sched_policy_name(m->sched));
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
