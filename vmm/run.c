/* The per-pCPU loop: sched/ decides what runs here; this file runs it until the next event,
 * arms the one hypervisor timer for that event, sleeps when there is nothing to run, and
 * carries decisions to other pCPUs as IPIs ("kicks").
 *
 * One timer per pCPU: before each entry it is armed at the earliest of the running vCPU's
 * slice end (sched_decision.next_event_ns), the APIC timers of the vCPUs this pCPU serves
 * (vm_fire_timers) and, on pCPU 0, the console poll and the accounting period.  A timer
 * that fires for a guest timer only raises that interrupt; the scheduler runs again only at
 * the slice end, on a kick, or when the vCPU blocks, yields or ends. */
#include "vmm/console.h"
#include "vmm/lapic.h"
#include "vmm/tsc.h"
#include "vmm/vm.h"
#include "vmm/vm_impl.h"
#include "vmm/x86.h"

static uint64_t earliest(uint64_t a, uint64_t b)
{
    return !a ? b : !b ? a : a < b ? a : b;
}

/* ---- kicks ---- */

static void kick_irq(struct irq_frame *f)
{
    (void)f;
    struct pcpu *pc = &machine_get()->pcpus[cpu_index()]; /* a handler gets no context */
    pc->resched = true;
    pc->kicks_recv++;
}

/* The notification's only job is the exit it causes: the entry path moves the posted
 * interrupts into the vlapic (vcpu_prepare_entry). */
static void notify_irq(struct irq_frame *f)
{
    (void)f;
}

void run_init(void)
{
    irq_register(VEC_KICK, kick_irq);
    irq_register(VEC_NOTIFY, notify_irq);
}

void run_kick(struct machine *m, sched_cpumask_t mask)
{
    uint32_t self = cpu_index();
    uint64_t now = rdtsc();
    cpumask_for_each(c, &mask) {
        uint32_t i = (uint32_t)c;
        if (i >= m->boot->ncpus)
            break;
        if (i == self) {
            m->pcpus[self].resched = true;
            continue;
        }
        /* Kick latency is measured from the first unserved kick's decision. */
        uint64_t none = 0;
        __atomic_compare_exchange_n(&m->pcpus[i].kick_sent_tsc, &none, now, false,
                                    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
        m->pcpus[self].kicks_sent++;
        lapic_send_ipi(cpu_get(i)->apic_id, VEC_KICK);
    }
}

void run_notify(struct machine *m, uint32_t pcpu)
{
    m->pcpus[cpu_index()].notifies_sent++;
    lapic_send_ipi(cpu_get(pcpu)->apic_id, VEC_NOTIFY);
}

void run_kick_all(struct machine *m)
{
    run_kick(m, cpumask_below(m->boot->ncpus));
}

/* ---- gang rounds: skew from the first sibling entering to the last ---- */

static void gang_enter(struct vcpu *v)
{
    struct vm *vm = v->vm;
    if (vm->cfg->vcpus < 2 || __atomic_load_n(&vm->gang_mode, __ATOMIC_RELAXED) == CFG_GANG_NONE)
        return;
    uint64_t now = rdtsc();
    spin_lock(&vm->lock);
    if (vm->on_cpu++ == 0) {
        vm->round_start_tsc = now;
        vm->round_mask = 0;
    }
    uint64_t all = vm->cfg->vcpus >= 64 ? ~0ull : (1ull << vm->cfg->vcpus) - 1;
    uint64_t before = vm->round_mask;
    vm->round_mask |= 1ull << (v->id & 63);
    if (before != all && vm->round_mask == all)
        hist_record(&vm->gang_skew, tsc_to_ns(now - vm->round_start_tsc));
    spin_unlock(&vm->lock);
    v->in_gang_round = true;
}

static void gang_leave(struct vcpu *v)
{
    if (!v->in_gang_round)
        return;
    v->in_gang_round = false;
    spin_lock(&v->vm->lock);
    v->vm->on_cpu--;
    spin_unlock(&v->vm->lock);
}

/* ---- the loop ---- */

/* Before the final accounting: every vCPU off its pCPU and blocked in the scheduler, so the
 * last round sees every event (bounded: a pCPU that does not answer is not waited for). */
static void settle(const struct machine *m)
{
    uint64_t give_up = rdtsc() + 100 * (tsc_hz() / 1000);
    for (uint32_t i = 0; i < m->nvcpus; i++)
        while (!__atomic_load_n(&m->vcpus[i].blocked, __ATOMIC_ACQUIRE) && rdtsc() < give_up)
            cpu_relax();
}

/* Work between runs: due guest timers; on pCPU 0 also the run's end, the console and the
 * accounting period.  Returns the TSC at which it wants to run again (0 = none).  When every
 * VM has ended, pCPU 0 leaves its vCPU (in_run) so the loop parks it; the final report comes
 * once this pCPU has nothing left to run (run_finish). */
static uint64_t housekeeping(struct machine *m, uint32_t self, bool in_run, uint64_t exit_tsc)
{
    uint64_t now_tsc = rdtsc();
    uint64_t next = vm_fire_timers(m, self, now_tsc, in_run ? exit_tsc : 0);
    console_poll(); /* whichever pCPU passes by feeds the UART, never waiting for it */
    /* Self-test: an exception in the VMM while the other pCPUs run guests. */
    const struct cfg_machine *mc = &m->boot->cfg.machine;
    if (mc->inject_fault != CFG_FAULT_NONE && mc->inject_fault_ms &&
        mc->inject_fault_cpu == self) {
        uint64_t at = m->run_start_tsc + (uint64_t)mc->inject_fault_ms * (tsc_hz() / 1000);
        if (now_tsc >= at)
            cpu_inject_fault(mc->inject_fault);
        next = earliest(next, at);
    }
    if (self != 0)
        return next;
    /* pCPU 0 comes back when the UART's FIFO has drained or input may be arriving. */
    next = earliest(next, console_next_poll_tsc(now_tsc));
    if (m->run_end_tsc && now_tsc >= m->run_end_tsc)
        vm_timeout_all(m);
    if (in_run && vm_all_ended(m))
        m->pcpus[self].resched = true; /* report from the loop, off every vCPU */
    next = earliest(next, report_poll(m, now_tsc));
    next = earliest(next, meta_poll(m, now_tsc));
    return earliest(next, m->run_end_tsc);
}

/* A vCPU that must never run again (its VM ended, or its pCPU cannot run guests): blocked
 * in the scheduler for good. */
static void park(struct vcpu *v)
{
    struct machine *m = v->vm->m;
    vcpu_lock(v);
    v->blocked = true;
    v->halted_for_good = true;
    sched_cpumask_t kick = sched_vcpu_block(m->sched, v->sv, vm_now_ns(m));
    vcpu_unlock(v);
    run_kick(m, kick);
}

static void idle(struct machine *m, uint32_t self, uint64_t until_tsc)
{
    struct pcpu *pc = &m->pcpus[self];
    uint64_t t0 = rdtsc();
    while (!pc->resched && (!until_tsc || rdtsc() < until_tsc)) {
        /* Re-armed each time: a far deadline may exceed the APIC timer's range.  STI's
         * shadow covers HLT, so an interrupt pending since the check still wakes it. */
        lapic_timer_arm(until_tsc);
        __asm__ volatile("sti; hlt; cli" ::: "memory");
    }
    lapic_timer_arm(0);
    pc->idle_ns += tsc_to_ns(rdtsc() - t0);
}

static void run_vcpu(struct machine *m, uint32_t self, struct vcpu *v, uint64_t slice_end_ns,
                     uint64_t house_tsc)
{
    struct pcpu *pc = &m->pcpus[self];
    /* The pCPU it last ran on may still be leaving it (a vCPU that halted can be woken and
     * picked here before that pCPU put it away): wait until it has. */
    while (__atomic_load_n(&v->running_on, __ATOMIC_ACQUIRE) >= 0)
        cpu_relax();
    vcpu_lock(v);
    v->running_on = (int32_t)self;
    v->owner = self;
    vcpu_unlock(v);
    gang_enter(v);
    lx_vcpu_steal_update(v); /* its ready time so far is its guest's steal time */
    uint64_t slice_end_tsc = vm_ns_to_tsc(m, slice_end_ns);
    enum vcpu_next next;
    for (;;) {
        m->arch->vcpu_set_timer(v->arch,
                                earliest(earliest(slice_end_tsc, house_tsc), v->timer_tsc));
        vcpu_prepare_entry(v);
        struct vexit e;
        m->arch->vcpu_run(v->arch, &e);
        uint64_t exit_tsc = rdtsc();
        vcpu_after_exit(v);
        next = vcpu_handle_exit(v, &e);
        if (next != VCPU_CONTINUE)
            break;
        if (e.reason == VEXIT_TIMER || e.reason == VEXIT_EXTINT || e.reason == VEXIT_NMI)
            house_tsc = housekeeping(m, self, true, exit_tsc);
        /* A kick, or a wake-up this exit caused that should preempt (run_kick to self). */
        if (pc->resched || (slice_end_tsc && rdtsc() >= slice_end_tsc))
            break;
    }
    m->arch->vcpu_put(v->arch);
    gang_leave(v);
    vcpu_lock(v);
    __atomic_store_n(&v->running_on, -1, __ATOMIC_RELEASE);
    vcpu_unlock(v);
    if (next == VCPU_CONTINUE)
        lx_vcpu_preempted(v);
    if (next == VCPU_YIELD)
        run_kick(m, sched_vcpu_yield(m->sched, v->sv, vm_now_ns(m)));
    else if (next == VCPU_ENDED)
        park(v);
}

void vm_run_cpu(struct machine *m)
{
    uint32_t self = cpu_index();
    struct pcpu *pc = &m->pcpus[self];
    bool enabled = m->arch->cpu_enable() == 0;
    if (!enabled)
        kprintf("cpu %u: virtualization could not be enabled; its vCPUs are stopped\n", self);
    for (;;) {
        uint64_t house_tsc = housekeeping(m, self, false, 0);
        uint64_t sent = __atomic_exchange_n(&pc->kick_sent_tsc, 0, __ATOMIC_ACQ_REL);
        if (sent) {
            uint64_t now = rdtsc();
            hist_record(&pc->kick_lat, now > sent ? tsc_to_ns(now - sent) : 0);
        }
        pc->resched = false;
        struct sched_decision d;
        sched_schedule(m->sched, self, vm_now_ns(m), &d);
        cpumask_clear(&d.kick, self);
        run_kick(m, d.kick);
        if (!d.run) {
            /* Every VM ended and this pCPU's vCPUs are parked (blocked in the scheduler, so
             * the teardown wait below is charged to nobody): the final round, then halt. */
            if (self == 0 && vm_all_ended(m)) {
                /* The line test runners watch for: from here the emulator must exit soon
                 * (tests/integration/lib.sh stops one that goes silent instead). */
                kprintf("run: every VM has ended\n");
                console_wait_room(SIZE_MAX); /* on the line now: a hang after it shows */
                settle(m);
                meta_finish(m);
                report_finish(m);
                report_round(m, true);
                vm_final_report(m);
            }
            idle(m, self, earliest(vm_ns_to_tsc(m, d.next_event_ns), house_tsc));
            continue;
        }
        struct vcpu *v = sched_vcpu_user(d.run);
        if (!enabled) {
            vm_stop(v->vm, "virtualization could not be enabled on its pCPU", 0, self);
            park(v);
        } else if (vm_ended(v->vm)) {
            park(v);
        } else {
            run_vcpu(m, self, v, d.next_event_ns, house_tsc);
        }
    }
}
