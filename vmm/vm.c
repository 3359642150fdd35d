#include "vmm/vm.h"

#include <string.h>

#include "vmm/cfg_sched.h"
#include "vmm/console.h"
#include "vmm/cpu.h"
#include "vmm/cpuid.h"
#include "vmm/elf.h"
#include "vmm/fmt.h"
#include "vmm/guest_abi.h"
#include "vmm/guest_boot.h"
#include "vmm/guest_insn.h"
#include "vmm/halt.h"
#include "vmm/kvm_pv.h"
#include "vmm/mem.h"
#include "vmm/msr_rules.h"
#include "vmm/tsc.h"
#include "vmm/vm_impl.h"
#include "vmm/x86.h"
#include "vmm/xstate.h"

#define COM1_BASE       0x3f8
#define HC_PRINT_MAX    4096
/* KVM's signature sits where Linux scans for it, above vsched's own leaves (kvm_pv.h). */
#define VSCHED_KVM_CPUID_BASE 0x40000100u

/* The one machine (machine.h). */
static struct machine the_machine;

/* Only kick_irq (run.c) uses it: an interrupt handler gets no context.  Everything else is
 * handed the machine as a parameter, or reaches it from its VM (vm->m). */
struct machine *machine_get(void)
{
    return &the_machine;
}

uint64_t vm_now_ns(const struct machine *m)
{
    uint64_t t = rdtsc();
    return t > m->run_start_tsc ? tsc_to_ns(t - m->run_start_tsc) : 0;
}

uint64_t vm_ns_to_tsc(const struct machine *m, uint64_t ns)
{
    if (ns == SCHED_NO_EVENT)
        return 0;
    uint64_t hz = tsc_hz();
    return m->run_start_tsc + ns / 1000000000u * hz + ns % 1000000000u * hz / 1000000000u;
}

void vcpu_lock(struct vcpu *v)
{
    spin_lock(&v->lock);
}

void vcpu_unlock(struct vcpu *v)
{
    spin_unlock(&v->lock);
}

/* ---- outcome ---- */

bool vm_ended(const struct vm *vm)
{
    return vm->state != VM_RUNNING;
}

/* Move VM from running to STATE, with its exit STATUS or stop REASON, in one step under its
 * lock: the first end wins and nothing of a later one is kept, so the end line and the
 * outcome line always agree.  True when this call ended it.  Every pCPU is kicked, so
 * siblings running elsewhere leave their pCPUs now. */
static bool vm_end(struct vm *vm, enum vm_state state, int64_t status, const char *reason)
{
    spin_lock(&vm->lock);
    bool first = vm->state == VM_RUNNING;
    if (first) {
        vm->exit_status = status;
        fmt_snprintf(vm->why, sizeof(vm->why), "%s", reason ? reason : "");
        __atomic_store_n(&vm->state, state, __ATOMIC_RELEASE);
    }
    spin_unlock(&vm->lock);
    if (first)
        run_kick_all(vm->m);
    return first;
}

/* Stop VM for REASON (first end wins), printing one clear line. */
void vm_stop(struct vm *vm, const char *reason, uint64_t rip, uint64_t a)
{
    /* In the VM's console channel: after every line the VM printed before. */
    if (vm_end(vm, VM_STOPPED, 0, reason))
        console_chan_printf(&vm->console, "vm %s: stopped: %s (rip=0x%lx, 0x%lx)",
                            vm->cfg->name, vm->why, rip, a);
}

/* ACPI soft-off (S5 through the FADT's sleep control register): the guest's own end. */
void vm_poweroff(struct vm *vm)
{
    if (vm_end(vm, VM_POWERED_OFF, 0, NULL))
        console_chan_printf(&vm->console, "vm %s: powered off (ACPI S5)", vm->cfg->name);
}

static void vm_exit(struct vm *vm, int64_t status)
{
    if (vm_end(vm, VM_EXITED, status, NULL))
        console_chan_printf(&vm->console, "vm %s: exited with status %ld", vm->cfg->name,
                            vm->exit_status);
}

void vm_timeout_all(struct machine *m)
{
    for (uint32_t i = 0; i < m->nvms; i++)
        vm_end(&m->vms[i], VM_TIMED_OUT, 0, NULL);
}

bool vm_all_ended(const struct machine *m)
{
    for (uint32_t i = 0; i < m->nvms; i++)
        if (!vm_ended(&m->vms[i]))
            return false;
    return true;
}

void vm_final_report(const struct machine *m)
{
    uint32_t bad = 0;
    kprintf("run: ended after %lu ms\n", vm_now_ns(m) / 1000000);
    for (uint32_t i = 0; i < m->nvms; i++) {
        const struct vm *vm = &m->vms[i];
        bool ok;
        switch (vm->state) {
        case VM_EXITED:
            ok = vm->cfg->expect == CFG_EXPECT_EXIT;
            kprintf("outcome %s: exited status=%ld expect=%s %s\n", vm->cfg->name,
                    vm->exit_status, cfg_expect_name(vm->cfg->expect), ok ? "ok" : "UNEXPECTED");
            break;
        case VM_POWERED_OFF: /* a Linux guest's exit */
            ok = vm->cfg->expect == CFG_EXPECT_EXIT;
            kprintf("outcome %s: poweroff expect=%s %s\n", vm->cfg->name,
                    cfg_expect_name(vm->cfg->expect), ok ? "ok" : "UNEXPECTED");
            break;
        case VM_STOPPED:
            ok = vm->cfg->expect == CFG_EXPECT_STOPPED;
            kprintf("outcome %s: stopped (%s) expect=%s %s\n", vm->cfg->name, vm->why,
                    cfg_expect_name(vm->cfg->expect), ok ? "ok" : "UNEXPECTED");
            break;
        default: /* still running when run_ms ran out: the run's normal end */
            ok = vm->cfg->expect == CFG_EXPECT_EXIT;
            kprintf("outcome %s: running at run_ms expect=%s %s\n", vm->cfg->name,
                    cfg_expect_name(vm->cfg->expect), ok ? "ok" : "UNEXPECTED");
            break;
        }
        bad += !ok;
        if (vm->sipi_ignored)
            kprintf("vm %s: %lu INIT/STARTUP IPIs ignored (to a started vCPU, or STARTUP "
                    "without INIT)\n", vm->cfg->name, vm->sipi_ignored);
        if (vm->console.dropped_bytes)
            kprintf("vm %s: console: %lu bytes in %lu lines dropped (output faster than the "
                    "line rate; only its own output is lost)\n",
                    vm->cfg->name, vm->console.dropped_bytes, vm->console.dropped_lines);
    }
    if (console_dropped())
        kprintf("console: %lu bytes of VMM output dropped (ring full)\n", console_dropped());
    machine_halt(bad ? HALT_VM_FAILED : HALT_OK);
}

/* ---- creation ---- */

static void __attribute__((noreturn)) create_failed(const struct cfg_vm *c, const char *what)
{
    kprintf("vsched.cfg:%u: error: [vm %s] %s\n", c->line, c->name, what);
    machine_halt(HALT_CONFIG);
}

static void create_vm(struct machine *m, uint32_t i)
{
    const struct cfg_vm *c = &m->boot->cfg.vms[i];
    struct vm *vm = &m->vms[i];
    char err[160];
    vm->m = m;
    vm->cfg = c;
    vm->id = i;
    vm->state = VM_RUNNING;
    vm->gang_mode = c->gang;
    console_chan_init(&vm->console, vm->console_buf, sizeof(vm->console_buf));
    hist_clear(&vm->gang_skew);
    if (!c->image[0] && !c->kernel[0])
        create_failed(c, "has no image");
    sched_cpumask_t online = cpumask_below(m->boot->ncpus);
    if (!cpumask_intersects(&c->affinity, &online))
        create_failed(c, "affinity names no CPU of this machine");
    vm->mem_size = (uint64_t)c->memory_mb << 20;
    vm->mem_hpa = phys_alloc_aligned(vm->mem_size / 4096, 2ull << 20);
    if (!vm->mem_hpa)
        create_failed(c, "not enough free memory for memory_mb");
    void *mem = (void *)(uintptr_t)vm->mem_hpa;
    const struct boot_image *img = &m->boot->images[i];
    struct elf_info elf = { 0 };
    struct guest_layout layout;
    struct vcpu_start lx_bsp;
    if (c->kernel[0]) {
        lx_vm_load(vm, &lx_bsp);
        elf.entry = lx_bsp.rip;
    } else {
        if (elf_inspect(img->data, img->size, vm->mem_size, &elf, err, sizeof(err)) < 0)
            create_failed(c, err);
        elf_load(img->data, &elf, mem);
        if (guest_boot_setup(mem, vm->mem_size, &elf, c->vcpus, c->name, c->args, tsc_hz(),
                             &layout, err, sizeof(err)) < 0)
            create_failed(c, err);
    }
    vm->arch = m->arch->vm_create(i + 1);
    if (!vm->arch || m->arch->vm_map(vm->arch, 0, vm->mem_hpa, vm->mem_size) < 0)
        create_failed(c, "out of memory for nested page tables");
    for (uint32_t k = 0; k < c->vcpus; k++) {
        struct vcpu_start s;
        if (vm->is_linux) {
            s = lx_bsp; /* the others wait for SIPI and start from its state */
        } else {
            struct guest_entry ge;
            guest_entry_for(&layout, k, &ge);
            s = (struct vcpu_start){ .rip = ge.rip, .rsp = ge.rsp, .cr3 = ge.cr3, .rdi = ge.rdi,
                                     .rsi = ge.rsi, .gdt_base = ge.gdt_base,
                                     .gdt_limit = (uint16_t)ge.gdt_limit };
        }
        /* Self-test of the failure reports: CR3 bits above any physical-address width must
         * be zero (SDM Vol. 3C 27.3.1.1; APM Vol. 2 15.5.1), so the CPU refuses the entry. */
        if (c->selftest == CFG_SELFTEST_BAD_ENTRY)
            s.cr3 |= 1ull << 62;
        if (m->nvcpus == MAX_VCPUS_TOTAL)
            create_failed(c, "too many vCPUs in all");
        struct vcpu *v = &m->vcpus[m->nvcpus];
        v->vm = vm;
        v->id = k;
        v->running_on = -1;
        v->sipi = vm->is_linux && k ? SIPI_WAIT_INIT : SIPI_STARTED;
        vlapic_init(&v->lapic, k);
        vlapic_set_min_period(&v->lapic, (uint64_t)m->boot->cfg.machine.min_timer_period_us *
                                             (tsc_hz() / 1000000));
        v->pi = (struct pi_desc *)(uintptr_t)phys_alloc_pages(1);
        if (!v->pi)
            create_failed(c, "out of memory for a vCPU");
        pi_init(v->pi, VEC_NOTIFY, 0); /* the VMM sends the notification IPIs itself */
        v->arch = m->arch->vcpu_create(vm->arch, k, &s);
        if (!v->arch)
            create_failed(c, "out of memory for a vCPU");
        v->hw_posted = m->arch->vcpu_posted_init &&
                       m->arch->vcpu_posted_init(v->arch, (uint64_t)(uintptr_t)v->pi,
                                                 VEC_NOTIFY);
        vm->vcpus[k] = v;
        m->nvcpus++;
    }
    kprintf("vm %s: %u vCPU(s), %u MiB at 0x%lx, entry 0x%lx, %s %s\n", c->name, c->vcpus,
            c->memory_mb, vm->mem_hpa, elf.entry, vm->is_linux ? "kernel" : "image",
            vm->is_linux ? c->kernel : c->image);
}

/* CTX: the machine (create_sched's env). */
static void sched_lock_fn(void *ctx, unsigned id)
{
    spin_lock(&((struct machine *)ctx)->sched_locks[id]);
}

static void sched_unlock_fn(void *ctx, unsigned id)
{
    spin_unlock(&((struct machine *)ctx)->sched_locks[id]);
}

/* The scheduler library over this machine's pCPUs and VMs.  Its locks are plain spin locks:
 * the VMM runs with interrupts off (they are on only in guest mode and in the idle HLT), so
 * no handler can interrupt a holder. */
static void create_sched(struct machine *m)
{
    const struct cfg *c = &m->boot->cfg;
    static struct cfg_sched cs;
    cfg_sched_setup(c, m->boot->ncpus, &cs);
    const struct sched_setup st = cs.setup;
    /* [pool]s name pCPUs that exist; the default pool (the rest) may have none. */
    for (uint32_t i = 0; i < c->nvms; i++) {
        sched_cpumask_t cpus = cfg_pool_cpus(c, c->vms[i].pool, m->boot->ncpus);
        cpumask_and(&cpus, &c->vms[i].affinity);
        if (!cpumask_any(&cpus)) {
            kprintf("vsched.cfg: error: vm %s: its pool %s has no pCPU of its affinity on this "
                    "machine (%u CPUs)\n", c->vms[i].name, c->pools[c->vms[i].pool].name,
                    m->boot->ncpus);
            machine_halt(HALT_CONFIG);
        }
    }
    int err = sched_setup_check(&st);
    size_t size = sched_mem_size(&st);
    uint64_t mem = err ? 0 : phys_alloc_pages((size + 4095) / 4096);
    const struct sched_env env = { m, sched_lock_fn, sched_unlock_fn }; /* copied */
    if (!err && !mem)
        err = SCHED_E_NOMEM;
    if (!err)
        err = sched_init(&m->sched, (void *)(uintptr_t)mem, size, &st, &env, 0);
    for (uint32_t i = 0; !err && i < c->nvms; i++) {
        if (!c->vms[i].request_us)
            continue;
        struct sched_change ch = { .set = SCHED_SET_REQUEST, .vm = i,
                                   .request_ns = (uint64_t)c->vms[i].request_us * 1000 };
        sched_cpumask_t kick;
        err = sched_change(m->sched, &ch, 0, &kick);
    }
    if (err) {
        kprintf("vsched.cfg: error: the scheduler refused the configuration: %s\n",
                sched_strerror(err));
        machine_halt(HALT_CONFIG);
    }
    for (uint32_t i = 0; i < c->nvms; i++)
        for (uint32_t k = 0; k < c->vms[i].vcpus; k++)
            sched_vcpu_set_user(sched_vcpu_get(m->sched, i, k), m->vms[i].vcpus[k]);
    for (uint32_t i = 0; i < c->nvms; i++)
        for (uint32_t k = 0; k < c->vms[i].vcpus; k++) {
            struct vcpu *v = m->vms[i].vcpus[k];
            v->sv = sched_vcpu_get(m->sched, i, k);
            /* vCPUs start blocked in the library: every one is runnable at power-on, but
             * a Linux VM's others, which wait for INIT-SIPI-SIPI (sipi.h). */
            if (v->sipi == SIPI_STARTED)
                sched_vcpu_wake(m->sched, v->sv, 0);
            else
                v->blocked = true;
        }
}

struct machine *vm_create_all(const struct boot_info *bi, const struct arch_ops *ops)
{
    struct machine *m = &the_machine;
    m->boot = bi;
    m->arch = ops;
    m->nvms = bi->cfg.nvms;
    for (uint32_t i = 0; i < m->nvms; i++)
        create_vm(m, i);
    for (uint32_t i = 0; i < MAX_CPUS; i++)
        hist_clear(&m->pcpus[i].kick_lat);
    bool hw = m->nvcpus && m->vcpus[0].hw_posted;
    kprintf("interrupts: virtual x2APIC per vCPU; posted interrupts: %s\n",
            hw ? "hardware path (notification processed by the CPU, virtual-interrupt delivery)"
               : "software path (the descriptor is moved into the vlapic before each entry)");
    m->run_start_tsc = rdtsc();
    create_sched(m);
    for (uint32_t i = 0; i < m->nvms; i++) {
        struct sched_vcpu_info info;
        for (uint32_t k = 0; k < m->vms[i].cfg->vcpus; k++) {
            struct vcpu *v = m->vms[i].vcpus[k];
            sched_vcpu_info(m->sched, v->sv, &info);
            v->owner = info.pcpu;
        }
    }
    if (bi->cfg.machine.run_ms)
        m->run_end_tsc = m->run_start_tsc + (uint64_t)bi->cfg.machine.run_ms * (tsc_hz() / 1000);
    run_init();
    report_init(m);
    meta_init(m);
    /* From here on nothing that prints may wait for the UART (console.h). */
    console_set_async(true);
    return m;
}

/* ---- virtual interrupts ----
 * Every vlapic access happens under the vCPU's lock.  An interrupt for another vCPU goes
 * through its posted-interrupt descriptor (PIR + ON), which needs no lock: the pCPU running
 * the target moves it into the vlapic before each entry (vlapic_sync_pir), and a target that
 * runs elsewhere is sent a notification IPI so that it exits and does so now.  A halted
 * target is woken in the scheduler under its lock; the halting side checks the PIR under
 * the same lock, so one of the two always sees the other. */

static void refresh_timer(struct vcpu *v)
{
    v->timer_tsc = vlapic_timer_deadline(&v->lapic);
}

/* Under V's lock: a halted vCPU with an interrupt to take becomes runnable. */
static sched_cpumask_t wake_locked(struct vcpu *v)
{
    struct machine *m = v->vm->m;
    if (!v->blocked || v->halted_for_good || vm_ended(v->vm) || v->sipi != SIPI_STARTED ||
        vlapic_pending(&v->lapic) < 0)
        return cpumask_none();
    v->blocked = false;
    return sched_vcpu_wake(m->sched, v->sv, vm_now_ns(m));
}

/* A fixed interrupt VECTOR for V, from any pCPU. */
static void vcpu_post(struct vcpu *v, uint8_t vector)
{
    struct machine *m = v->vm->m;
    bool notify = pi_post(v->pi, vector);
    vcpu_lock(v);
    sched_cpumask_t kick = cpumask_none();
    if (v->blocked) {
        vlapic_sync_pir(&v->lapic, v->pi);
        kick = wake_locked(v);
    }
    int32_t on = v->running_on;
    vcpu_unlock(v);
    if (notify && on >= 0 && (uint32_t)on != cpu_index())
        run_notify(m, (uint32_t)on);
    run_kick(m, kick);
}

static void deliver_ipi(struct vcpu *from, const struct vlapic_ipi *ipi)
{
    struct vm *vm = from->vm;
    /* Fixed interrupts between the VM's own vCPUs, and INIT/STARTUP (sipi.h); NMI, SMI and
     * lowest priority are not modelled (dropped). */
    bool startup = ipi->delivery_mode == VLAPIC_DM_INIT || ipi->delivery_mode == VLAPIC_DM_SIPI;
    if (ipi->delivery_mode != VLAPIC_DM_FIXED && !startup)
        return;
    for (uint32_t k = 0; k < vm->cfg->vcpus; k++) {
        bool self = k == from->id;
        /* x2APIC destinations (SDM Vol. 3A 11.12.10): physical = the ID or 0xFFFFFFFF for
         * all; logical = cluster (bits 31:16) and a bitmap of its 16 members. */
        bool addressed = ipi->logical ? (ipi->dest >> 16) == (k >> 4) &&
                                            ((ipi->dest >> (k & 15)) & 1)
                                      : ipi->dest == k || ipi->dest == 0xffffffffu;
        bool to = ipi->shorthand == VLAPIC_SH_NONE   ? addressed
                  : ipi->shorthand == VLAPIC_SH_SELF ? self
                  : ipi->shorthand == VLAPIC_SH_ALL  ? true
                                                     : !self;
        if (to && startup)
            lx_vcpu_init_sipi(from, vm->vcpus[k], ipi);
        else if (to)
            vcpu_post(vm->vcpus[k], ipi->vector);
    }
}

void vcpu_after_exit(struct vcpu *v)
{
    struct machine *m = v->vm->m;
    if (!v->hw_posted) {
        /* The guest's CR8 writes went to the backend's copy of its TPR. */
        uint8_t tpr = m->arch->vcpu_tpr_save(v->arch);
        vcpu_lock(v);
        vlapic_set_tpr(&v->lapic, tpr);
        vcpu_unlock(v);
        return;
    }
    struct vlapic_vectors vec;
    m->arch->vcpu_apic_save(v->arch, &vec);
    vcpu_lock(v);
    vlapic_set_vectors(&v->lapic, &vec);
    vcpu_unlock(v);
}

void vcpu_prepare_entry(struct vcpu *v)
{
    struct machine *m = v->vm->m;
    if (v->hw_posted) {
        /* The CPU delivers; it needs the posts that came while the vCPU was out. */
        struct vlapic_vectors vec;
        vcpu_lock(v);
        vlapic_sync_pir(&v->lapic, v->pi);
        /* Its own timer, as below: the CPU delivers it from the virtual-APIC page. */
        uint64_t now_tsc = rdtsc();
        if (v->timer_tsc && v->timer_tsc <= now_tsc) {
            vlapic_timer_expire(&v->lapic, now_tsc);
            refresh_timer(v);
        }
        vlapic_get_vectors(&v->lapic, &vec);
        vcpu_unlock(v);
        m->arch->vcpu_apic_load(v->arch, &vec);
        return;
    }
    vcpu_lock(v);
    vlapic_sync_pir(&v->lapic, v->pi);
    /* Its own timer, if it came due while the vCPU waited for a pCPU (vm_fire_timers leaves
     * runnable vCPUs' timers to this). */
    uint64_t now_tsc = rdtsc();
    if (v->timer_tsc && v->timer_tsc <= now_tsc) {
        vlapic_timer_expire(&v->lapic, now_tsc);
        refresh_timer(v);
    }
    int vector = vlapic_pending(&v->lapic);
    bool want_window = false;
    if (vector >= 0) {
        if (m->arch->vcpu_irq_ready(v->arch)) {
            m->arch->vcpu_inject_irq(v->arch, (uint8_t)vector);
            vlapic_ack(&v->lapic, (uint8_t)vector);
            v->irqs_injected++;
            /* Another may wait behind it: ask to hear when the guest can take it. */
            want_window = vlapic_pending(&v->lapic) >= 0;
        } else {
            want_window = true;
        }
    }
    uint8_t tpr = (uint8_t)vlapic_tpr(&v->lapic);
    uint8_t blocked = vlapic_tpr_blocked_class(&v->lapic);
    vcpu_unlock(v);
    m->arch->vcpu_tpr_load(v->arch, tpr, blocked);
    if (want_window != v->window) {
        m->arch->vcpu_irq_window(v->arch, want_window);
        v->window = want_window;
    }
}

/* Only blocked vCPUs' timers need this pCPU's timer: a timer can change nothing else but
 * wake its vCPU, so a runnable or running vCPU takes its expiry when it next enters
 * (vcpu_prepare_entry; the running one's own deadline is in its entry timer).  A guest's
 * timer therefore interrupts whoever runs on its pCPU only to wake it, at most once per
 * min_timer_period_us. */
/* V's timer is this pCPU's to fire: V is blocked, its VM runs, and SELF serves its timer. */
static bool timer_waits_here(const struct vcpu *v, uint32_t self)
{
    return v->owner == self && !vm_ended(v->vm) && __atomic_load_n(&v->blocked, __ATOMIC_ACQUIRE);
}

uint64_t vm_fire_timers(struct machine *m, uint32_t self, uint64_t now_tsc, uint64_t exit_tsc)
{
    uint64_t next = 0;
    /* The exit that brought this pCPU here, and the handling up to now, were for the timers
     * due, not for the vCPU that runs here: the scheduler charges it to their owners first,
     * while they are still blocked, so their policies bill it as their own service (the
     * exit's hardware cost before EXIT_TSC and the wake-ups below are not measured). */
    if (exit_tsc) {
        struct sched_vcpu *due[8];
        uint32_t ndue = 0;
        for (uint32_t i = 0; i < m->nvcpus && ndue < sizeof(due) / sizeof(due[0]); i++) {
            struct vcpu *v = &m->vcpus[i];
            if (timer_waits_here(v, self) && v->timer_tsc && v->timer_tsc <= now_tsc)
                due[ndue++] = v->sv;
        }
        if (ndue) {
            uint64_t ns = tsc_to_ns(rdtsc() - exit_tsc) / ndue, now = vm_now_ns(m);
            for (uint32_t k = 0; k < ndue; k++)
                sched_vcpu_charge(m->sched, due[k], self, ns, now);
        }
    }
    for (uint32_t i = 0; i < m->nvcpus; i++) {
        struct vcpu *v = &m->vcpus[i];
        if (!timer_waits_here(v, self))
            continue;
        uint64_t t = v->timer_tsc;
        if (t && t <= now_tsc) {
            vcpu_lock(v);
            sched_cpumask_t kick = cpumask_none();
            /* An expiry can make an interrupt pending without raising the timer's own (an
             * illegal vector raises the APIC error interrupt): wake on whatever is pending. */
            if (v->owner == self) {
                vlapic_timer_expire(&v->lapic, now_tsc);
                kick = wake_locked(v);
            }
            refresh_timer(v);
            t = v->timer_tsc;
            vcpu_unlock(v);
            run_kick(m, kick);
        }
        if (t && (!next || t < next))
            next = t;
    }
    return next;
}

/* ---- exits ---- */

/* A finished guest line goes to its VM's console channel as "[name] line", every byte that
 * is not printable ASCII written as \xNN and a backslash as \\, so a guest cannot move the
 * terminal's cursor, erase its prefix or fake another VM's line. */
static void console_line(struct vm *vm, char *line, uint32_t *len)
{
    static const char hex[] = "0123456789abcdef";
    char out[CFG_NAME_MAX + 4 + 4 * CONSOLE_LINE];
    size_t n = (size_t)fmt_snprintf(out, sizeof(out), "[%s] ", vm->cfg->name);
    for (uint32_t i = 0; i < *len; i++) {
        uint8_t c = (uint8_t)line[i];
        if (c == '\\') {
            out[n++] = '\\';
            out[n++] = '\\';
        } else if (c >= 0x20 && c < 0x7f) {
            out[n++] = (char)c;
        } else {
            out[n++] = '\\';
            out[n++] = 'x';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        }
    }
    console_chan_put(&vm->console, out, n);
    *len = 0;
}

void vm_console_byte(struct vm *vm, char *line, uint32_t *len, char c)
{
    if (c == '\r')
        return;
    if (c != '\n' && *len < CONSOLE_LINE) {
        line[(*len)++] = c;
        return;
    }
    console_line(vm, line, len);
    if (c != '\n')
        line[(*len)++] = c;
}

static void console_byte(struct vcpu *v, char c)
{
    vm_console_byte(v->vm, v->line, &v->line_len, c);
}

static void skip(struct vcpu *v, const struct vexit *e)
{
    struct machine *m = v->vm->m;
    m->arch->vcpu_set_rip(v->arch, e->rip + e->insn_len);
}

static void handle_cpuid(struct vcpu *v, const struct vexit *e)
{
    struct machine *m = v->vm->m;
    struct vcpu_gprs *g = m->arch->vcpu_gprs(v->arch);
    uint32_t leaf = (uint32_t)g->rax, sub = (uint32_t)g->rcx;
    struct cpuid_regs r = { 0, 0, 0, 0 };
    if (leaf == VSCHED_CPUID_BASE) {
        r.eax = VSCHED_CPUID_TIMING;
        r.ebx = VSCHED_SIG_EBX;
        r.ecx = VSCHED_SIG_ECX;
        r.edx = VSCHED_SIG_EDX;
    } else if (leaf == VSCHED_CPUID_BASE + 1) {
        r.eax = VSCHED_HYPERCALL_ABI;
    } else if (leaf == VSCHED_CPUID_TIMING) {
        r.eax = r.ebx = (uint32_t)(tsc_hz() / 1000); /* the vlapic timer counts the TSC */
    } else if (leaf >= VSCHED_KVM_CPUID_BASE && leaf <= VSCHED_KVM_CPUID_BASE + 1) {
        struct cpuid_leaf kl; /* the KVM interface's subset (kvm_pv.h) */
        if (kvm_cpuid(VSCHED_KVM_CPUID_BASE, leaf, &kl))
            r = (struct cpuid_regs){ kl.eax, kl.ebx, kl.ecx, kl.edx };
    } else if (leaf < 0x40000000u || leaf >= 0x80000000u) {
        struct arch_guest_caps caps;
        m->arch->guest_caps(&caps);
        struct cpuid_vcpu cv = {
            .id = v->id,
            .nvcpus = v->vm->cfg->vcpus,
            .cr4 = m->arch->vcpu_get_reg(v->arch, VCPU_REG_CR4),
            .xcr0 = m->arch->vcpu_get_reg(v->arch, VCPU_REG_XCR0),
            .xcr0_allowed = xstate_xcr0_allowed(),
            .rdtscp = caps.rdtscp,
            .invpcid = caps.invpcid,
        };
        r = cpuid_guest(cpuid, &cv, leaf, sub);
    }
    g->rax = r.eax;
    g->rbx = r.ebx;
    g->rcx = r.ecx;
    g->rdx = r.edx;
    skip(v, e);
}

/* The MSRs a guest may read or write besides its local APIC's and the backend's; every other
 * access gets #GP (SDM Vol. 4). */
static bool msr_other(struct vcpu *v, bool write, uint32_t msr, uint64_t *value)
{
    bool ok;
    if (lx_kvm_msr(v, write, msr, value, &ok))
        return ok;
    if (write)
        return msr_platform_write(msr, v->id, *value);
    switch (msr) {
    case 0x10: *value = rdtsc(); return true;                     /* IA32_TSC */
    case 0x277: *value = PAT_RESET; return true;                  /* PAT (reset value) */
    default: return msr_platform_read(msr, v->id, value);
    }
}

static void handle_msr(struct vcpu *v, const struct vexit *e)
{
    struct machine *m = v->vm->m;
    struct vcpu_gprs *g = m->arch->vcpu_gprs(v->arch);
    uint32_t msr = (uint32_t)g->rcx;
    bool read = e->reason == VEXIT_RDMSR;
    uint64_t value = read ? 0 : (uint32_t)g->rax | g->rdx << 32;
    enum vlapic_result rc = VLAPIC_OK;
    struct vlapic_ipi ipi;
    bool ok;
    if (vlapic_handles(msr)) {
        vcpu_lock(v);
        rc = read ? vlapic_read(&v->lapic, msr, rdtsc(), &value)
                  : vlapic_write(&v->lapic, msr, value, rdtsc(), &ipi);
        refresh_timer(v); /* any access may have let the timer catch up */
        vcpu_unlock(v);
        ok = rc != VLAPIC_GP;
    } else {
        enum arch_msr_result ar = m->arch->vcpu_msr(v->arch, !read, msr, &value);
        ok = ar == ARCH_MSR_NOT_MINE ? msr_other(v, !read, msr, &value) : ar == ARCH_MSR_OK;
    }
    if (!ok) {
        /* Refused by the vlapic or not on the allow list: #GP(0), as the hardware does. */
        m->arch->vcpu_inject_exception(v->arch, 13, true, 0);
        return;
    }
    if (read) {
        g->rax = (uint32_t)value;
        g->rdx = value >> 32;
    } else if (rc == VLAPIC_IPI) {
        deliver_ipi(v, &ipi);
    }
    skip(v, e);
}

static void handle_io(struct vcpu *v, const struct vexit *e)
{
    struct machine *m = v->vm->m;
    struct vcpu_gprs *g = m->arch->vcpu_gprs(v->arch);
    if (e->io.string || e->io.rep) {
        vm_stop(v->vm, "string port I/O is not supported", e->rip, e->io.port);
        return;
    }
    uint16_t port = e->io.port;
    uint64_t mask = e->io.size == 4 ? 0xffffffffull : (1ull << (8 * e->io.size)) - 1;
    uint32_t lx_value = e->io.in ? (uint32_t)mask : (uint32_t)(g->rax & mask);
    if (lx_vm_io(v, port, e->io.in, &lx_value)) {
        if (e->io.in)
            g->rax = (g->rax & ~mask) | (lx_value & mask);
        if (!vm_ended(v->vm))
            skip(v, e);
        return;
    }
    if (!e->io.in) {
        if (port == COM1_BASE)
            console_byte(v, (char)g->rax);
    } else {
        uint64_t value = mask; /* unclaimed ports float high */
        if (port == COM1_BASE + 5)
            value = 0x60;          /* LSR: transmitter empty */
        else if (port > COM1_BASE && port < COM1_BASE + 8)
            value = 0;
        g->rax = (g->rax & ~mask) | (value & mask);
    }
    skip(v, e);
}

static enum vcpu_next handle_hypercall(struct vcpu *v, const struct vexit *e)
{
    struct machine *m = v->vm->m;
    struct vcpu_gprs *g = m->arch->vcpu_gprs(v->arch);
    struct vm *vm = v->vm;
    enum vcpu_next next = VCPU_CONTINUE;
    /* Only the guest's kernel may call the VMM: VMCALL/VMMCALL exit at any privilege level,
     * so the VMM checks, and answers user mode with #UD as KVM does. */
    if (m->arch->vcpu_get_reg(v->arch, VCPU_REG_CPL) != 0) {
        m->arch->vcpu_inject_exception(v->arch, 6, false, 0);
        return VCPU_CONTINUE;
    }
    switch (g->rax) {
    case HC_PRINT: {
        uint64_t gpa = g->rdi, len = g->rsi;
        if (len > HC_PRINT_MAX || gpa >= vm->mem_size || len > vm->mem_size - gpa) {
            vm_stop(vm, "bad hypercall arguments: print buffer outside guest memory", e->rip,
                    gpa);
            return VCPU_ENDED;
        }
        const char *p = (const char *)(uintptr_t)(vm->mem_hpa + gpa);
        for (uint64_t i = 0; i < len; i++)
            console_byte(v, p[i]);
        g->rax = 0;
        break;
    }
    case HC_EXIT:
        vm_exit(vm, (int64_t)g->rdi);
        return VCPU_ENDED;
    case HC_TIME_NS:
        g->rax = tsc_now_ns();
        break;
    case HC_YIELD:
        g->rax = 0;
        next = VCPU_YIELD;
        break;
    default: {
        char why[64];
        fmt_snprintf(why, sizeof(why), "bad hypercall number %lu", g->rax);
        vm_stop(vm, why, e->rip, g->rax);
        return VCPU_ENDED;
    }
    }
    skip(v, e);
    return next;
}

/* XSETBV (SDM Vol. 2C): #UD without CR4.OSXSAVE, #GP(0) outside CPL 0, for an XCR other
 * than XCR0 or a value it does not allow; else the vCPU's XCR0 (xstate.c switches it). */
static void handle_xsetbv(struct vcpu *v, const struct vexit *e)
{
    struct machine *m = v->vm->m;
    struct vcpu_gprs *g = m->arch->vcpu_gprs(v->arch);
    uint64_t value = (uint32_t)g->rax | g->rdx << 32;
    if (!(m->arch->vcpu_get_reg(v->arch, VCPU_REG_CR4) & CR4_OSXSAVE_BIT)) {
        m->arch->vcpu_inject_exception(v->arch, 6, false, 0);
        return;
    }
    if (m->arch->vcpu_get_reg(v->arch, VCPU_REG_CPL) != 0 || (uint32_t)g->rcx != 0 ||
        !m->arch->vcpu_set_reg(v->arch, VCPU_REG_XCR0, value)) {
        m->arch->vcpu_inject_exception(v->arch, 13, true, 0);
        return;
    }
    skip(v, e);
}

/* An intercepted MOV to a control or debug register: its source value in *VALUE and the
 * instruction's length in *LEN, from the exit or, without decode assists, from the guest's
 * instruction bytes.  False (the VM stopped) when the bytes are not that instruction. */
static bool mov_source(struct vcpu *v, const struct vexit *e, bool debug, uint64_t *value,
                       uint32_t *len)
{
    struct machine *m = v->vm->m;
    struct vcpu_gprs *g = m->arch->vcpu_gprs(v->arch);
    int gpr = e->mov.gpr;
    *len = e->insn_len;
    if (gpr < 0 || !*len) {
        uint8_t bytes[15];
        struct guest_memory gm = { (const uint8_t *)(uintptr_t)v->vm->mem_hpa, v->vm->mem_size };
        size_t n = guest_fetch(&gm, m->arch->vcpu_get_reg(v->arch, VCPU_REG_CR3), e->rip, bytes,
                               sizeof(bytes));
        struct insn_mov_ctl d;
        if (!insn_decode_mov_ctl(bytes, n, &d) || !d.write || d.debug != debug ||
            d.reg != e->mov.reg) {
            vm_stop(v->vm, "could not decode the MOV to a control or debug register it "
                    "trapped on", e->rip, e->raw_reason);
            return false;
        }
        gpr = d.gpr;
        *len = d.len;
    }
    *value = gpr == 4 ? m->arch->vcpu_get_reg(v->arch, VCPU_REG_RSP)
                      : ((const uint64_t *)g)[gpr];
    return true;
}

/* MOV to DR7 (or DR5, its alias): into the guest's DR7 through the backend.  Bits 63:32 set:
 * #GP(0) (SDM Vol. 2B MOV); bit 10 reads as 1, bits 11, 12, 14, 15 as 0. */
static void handle_dr_write(struct vcpu *v, const struct vexit *e)
{
    struct machine *m = v->vm->m;
    uint64_t value;
    uint32_t len;
    if (!mov_source(v, e, true, &value, &len))
        return;
    if (value >> 32) {
        m->arch->vcpu_inject_exception(v->arch, 13, true, 0);
        return;
    }
    m->arch->vcpu_set_reg(v->arch, VCPU_REG_DR7, (value & 0xffff2bffull) | 0x400);
    m->arch->vcpu_set_rip(v->arch, e->rip + len);
}

/* MOV to CR8 while TPR holds an interrupt back: the vCPU's TPR (CR8 = TPR[7:4]); bits 63:4
 * set: #GP(0).  The next entry injects what the lower TPR lets in. */
static void handle_cr8_write(struct vcpu *v, const struct vexit *e)
{
    struct machine *m = v->vm->m;
    uint64_t value;
    uint32_t len;
    if (!mov_source(v, e, false, &value, &len))
        return;
    if (value >> 4) {
        m->arch->vcpu_inject_exception(v->arch, 13, true, 0);
        return;
    }
    vcpu_lock(v);
    vlapic_set_tpr(&v->lapic, (uint32_t)value << 4);
    vcpu_unlock(v);
    m->arch->vcpu_set_rip(v->arch, e->rip + len);
}

/* A VM whose every vCPU halted with interrupts off can never run again (nor can the ones
 * that wait for a STARTUP IPI: only a running sibling could send it). */
static void check_all_halted(struct vm *vm)
{
    for (uint32_t k = 0; k < vm->cfg->vcpus; k++)
        if (!vm->vcpus[k]->halted_for_good && vm->vcpus[k]->sipi == SIPI_STARTED)
            return;
    vm_stop(vm, "every vCPU halted with interrupts disabled", 0, 0);
}

/* HLT: the vCPU sleeps in the scheduler until an interrupt is deliverable (SDM Vol. 3A
 * 9.x: HLT resumes on an unmasked interrupt).  With RFLAGS.IF=0 nothing can wake it. */
static enum vcpu_next handle_hlt(struct vcpu *v, const struct vexit *e)
{
    struct machine *m = v->vm->m;
    skip(v, e);
    sched_cpumask_t kick = cpumask_none();
    bool sleeps = false;
    vcpu_lock(v);
    if (!m->arch->vcpu_if_set(v->arch)) {
        v->halted_for_good = true;
        sleeps = true;
    } else {
        vlapic_sync_pir(&v->lapic, v->pi);
        sleeps = vlapic_pending(&v->lapic) < 0;
    }
    if (sleeps) {
        v->blocked = true;
        kick = sched_vcpu_block(m->sched, v->sv, vm_now_ns(m));
    }
    vcpu_unlock(v);
    run_kick(m, kick);
    if (v->halted_for_good)
        check_all_halted(v->vm);
    return sleeps ? VCPU_BLOCKED : VCPU_CONTINUE;
}

static const enum vcpu_exit_kind kind_of[] = {
    [VEXIT_CPUID] = VX_CPUID, [VEXIT_RDMSR] = VX_MSR, [VEXIT_WRMSR] = VX_MSR,
    [VEXIT_IO] = VX_IO, [VEXIT_HLT] = VX_HLT, [VEXIT_HYPERCALL] = VX_HC,
    [VEXIT_NPF] = VX_OTHER, [VEXIT_TRIPLE_FAULT] = VX_OTHER, [VEXIT_ENTRY_FAILED] = VX_OTHER,
    [VEXIT_EXTINT] = VX_EXTINT, [VEXIT_TIMER] = VX_TIMER, [VEXIT_NMI] = VX_OTHER,
    [VEXIT_IRQ_WINDOW] = VX_WINDOW, [VEXIT_XSETBV] = VX_OTHER, [VEXIT_SKIP] = VX_OTHER,
    [VEXIT_DR_WRITE] = VX_OTHER, [VEXIT_CR8_WRITE] = VX_OTHER,
    [VEXIT_FAULT] = VX_OTHER, [VEXIT_UNHANDLED] = VX_OTHER, [VEXIT_HANDLED] = VX_OTHER,
};

enum vcpu_next vcpu_handle_exit(struct vcpu *v, const struct vexit *e)
{
    struct machine *m = v->vm->m;
    struct vm *vm = v->vm;
    char why[96];
    v->exits[kind_of[e->reason]]++;
    switch (e->reason) {
    case VEXIT_CPUID: handle_cpuid(v, e); break;
    case VEXIT_RDMSR:
    case VEXIT_WRMSR: handle_msr(v, e); break;
    case VEXIT_IO: handle_io(v, e); break;
    case VEXIT_HYPERCALL: return handle_hypercall(v, e);
    case VEXIT_HLT: return handle_hlt(v, e);
    case VEXIT_XSETBV: handle_xsetbv(v, e); break;
    case VEXIT_DR_WRITE: handle_dr_write(v, e); break;
    case VEXIT_CR8_WRITE: handle_cr8_write(v, e); break;
    case VEXIT_SKIP:
        v->emulated_insns++;
        skip(v, e);
        break;
    case VEXIT_FAULT: /* the guest may not use it: the fault it would get without the VMM */
        v->refused_insns++;
        m->arch->vcpu_inject_exception(v->arch, e->fault.vector, e->fault.vector == 13, 0);
        break;
    case VEXIT_HANDLED:
    case VEXIT_IRQ_WINDOW: /* vcpu_prepare_entry injects now */
    case VEXIT_EXTINT:
    case VEXIT_TIMER:
    case VEXIT_NMI:
        break;
    case VEXIT_NPF:
        fmt_snprintf(why, sizeof(why), "memory violation: %s at gpa 0x%lx, outside its %u MiB",
                     e->npf.write ? "write" : e->npf.fetch ? "instruction fetch" : "read",
                     e->npf.gpa, vm->cfg->memory_mb);
        vm_stop(vm, why, e->rip, e->npf.gpa);
        break;
    case VEXIT_TRIPLE_FAULT:
        vm_stop(vm, "triple fault", e->rip, e->raw_qual);
        m->arch->vcpu_dump(v->arch);
        break;
    case VEXIT_ENTRY_FAILED:
        vm_stop(vm, "VM entry failed (report above)", e->rip, e->raw_reason);
        break;
    case VEXIT_UNHANDLED:
        fmt_snprintf(why, sizeof(why), "unhandled exit %u (qualification 0x%lx)", e->raw_reason,
                     e->raw_qual);
        vm_stop(vm, why, e->rip, e->raw_reason);
        break;
    }
    return vm_ended(vm) ? VCPU_ENDED : VCPU_CONTINUE;
}
