/* A Linux VM's platform (docs/linux.md): loading the kernel with the 64-bit boot protocol and
 * the ACPI tables, COM1 as a 16550A, the ACPI power-management ports, the legacy ports Linux
 * probes, INIT-SIPI-SIPI start-up of the other vCPUs, and the KVM paravirtual MSRs (kvmclock,
 * steal time).  The pure parts are linux_boot.c, acpi.c, dev/uart.c, platform.c, sipi.c and
 * kvm_pv.c; this file holds them together with the VMs' state (vm_impl.h). */
#include <string.h>

#include "vmm/acpi.h"
#include "vmm/fmt.h"
#include "vmm/halt.h"
#include "vmm/linux_boot.h"
#include "vmm/platform.h"
#include "vmm/tsc.h"
#include "vmm/vm_impl.h"
#include "vmm/x86.h"

/* ---- loading ---- */

static void __attribute__((noreturn)) load_failed(const struct vm *vm, const char *what)
{
    kprintf("vsched.cfg:%u: error: [vm %s] kernel '%s': %s\n", vm->cfg->line, vm->cfg->name,
            vm->cfg->kernel, what);
    machine_halt(HALT_CONFIG);
}

static void uart_tx(void *ctx, uint8_t byte)
{
    struct vm *vm = ctx;
    vm_console_byte(vm, vm->uart_line, &vm->uart_line_len, (char)byte);
}

void lx_vm_load(struct vm *vm, struct vcpu_start *bsp)
{
    const struct cfg_vm *c = vm->cfg;
    const struct machine *m = vm->m;
    const struct boot_image *kf = &m->boot->kernels[vm->id], *rd = &m->boot->initrds[vm->id];
    char err[160];
    struct lx_kernel k;
    if (lx_inspect(kf->data, kf->size, &k, err, sizeof(err)) < 0)
        load_failed(vm, err);
    /* Without tsc_early_khz a kernel with no PIT or HPET hangs calibrating; the KVM
     * signature (handle_cpuid) lets it keep the x2APIC, but noapic stays: there is no I/O
     * APIC to look for. */
    static char cmd[LX_CMDLINE_MAX + 1];
    int n = lx_cmdline(cmd, sizeof(cmd), c->cmdline, (uint32_t)(tsc_hz() / 1000), LX_CMD_NOAPIC);
    struct lx_layout l;
    if (n < 0)
        load_failed(vm, "command line too long");
    if (lx_plan(&k, vm->mem_size, rd->size, (size_t)n, &l, err, sizeof(err)) < 0)
        load_failed(vm, err);
    void *mem = (void *)(uintptr_t)vm->mem_hpa;
    struct acpi_tables t;
    if (acpi_build((uint8_t *)mem + l.acpi_gpa, l.acpi_size, l.acpi_gpa, c->vcpus, &t, err,
                   sizeof(err)) < 0)
        load_failed(vm, err);
    lx_load(mem, &l, &k, kf->data, rd->data, cmd, t.rsdp_gpa);
    struct lx_entry e;
    lx_entry_bsp(&l, &e);
    *bsp = (struct vcpu_start){ .rip = e.rip, .rsp = e.rsp, .cr3 = e.cr3, .rsi = e.rsi,
                                .gdt_base = e.gdt_base, .gdt_limit = e.gdt_limit, .cs = e.cs,
                                .ds = e.ds };
    vm->is_linux = true;
    uart_init(&vm->uart, uart_tx, vm);
    kprintf("vm %s: Linux %s, kernel [0x%lx, 0x%lx) entry 0x%lx, initrd %lu bytes at 0x%lx, "
            "ACPI at 0x%lx\n", c->name, k.kind == LX_VMLINUX ? "vmlinux" : "bzImage",
            l.kernel_start, l.kernel_end, l.entry, l.initrd_size, l.initrd_gpa, t.rsdp_gpa);
    kprintf("vm %s: cmdline '%s'\n", c->name, cmd);
}

/* ---- ports ---- */

bool lx_vm_io(struct vcpu *v, uint16_t port, bool in, uint32_t *value)
{
    struct vm *vm = v->vm;
    if (!vm->is_linux)
        return false;
    if (port >= ACPI_COM1_PORT && port < ACPI_COM1_PORT + UART_PORTS) {
        /* Only the low byte: a wider access to a byte register reads it in the low byte
         * and floats high above (what an ISA bus gives). */
        spin_lock(&vm->uart_lock);
        uint8_t r = uart_io(&vm->uart, (uint8_t)(port - ACPI_COM1_PORT), !in, (uint8_t)*value);
        spin_unlock(&vm->uart_lock);
        if (in)
            *value = 0xffffff00u | r;
        return true;
    }
    if (acpi_pm_port(port)) {
        if (in) {
            *value = 0xffffff00u | acpi_pm_read(port);
            return true;
        }
        switch (acpi_pm_write(port, *value)) {
        case ACPI_PM_POWEROFF: vm_poweroff(vm); break;
        case ACPI_PM_RESET:
            vm_stop(vm, "reset through the ACPI reset register (a reboot, or a panic)",
                    vm->m->arch->vcpu_rip(v->arch), port);
            break;
        case ACPI_PM_NONE: break;
        }
        return true;
    }
    return in && platform_port_read(port, 4, value);
}

int lx_vm_input(struct vm *vm, const uint8_t *bytes, uint32_t n, uint32_t *waiting)
{
    if (!vm->is_linux)
        return -1;
    spin_lock(&vm->uart_lock);
    bool queued = uart_input(&vm->uart, bytes, n);
    *waiting = uart_input_waiting(&vm->uart);
    spin_unlock(&vm->uart_lock);
    return queued ? 0 : -2;
}

/* ---- INIT / STARTUP ---- */

void lx_vcpu_init_sipi(struct vcpu *from, struct vcpu *to, const struct vlapic_ipi *ipi)
{
    struct vm *vm = from->vm;
    struct machine *m = vm->m;
    enum sipi_event ev = ipi->delivery_mode == VLAPIC_DM_SIPI ? SIPI_EV_STARTUP
                         : ipi->level_assert                  ? SIPI_EV_INIT
                                                              : SIPI_EV_INIT_DEASSERT;
    sched_cpumask_t kick = cpumask_none();
    bool failed = false;
    vcpu_lock(to);
    enum sipi_action a = sipi_event(&to->sipi, ev, ipi->vector);
    if (a == SIPI_ACT_START) {
        /* INIT's APIC state: everything reset but the ID (SDM Vol. 3A 11.4.7.3); posts made
         * while it waited are dropped with it. */
        vlapic_sync_pir(&to->lapic, to->pi);
        vlapic_init(&to->lapic, to->id);
        vlapic_set_min_period(&to->lapic, (uint64_t)m->boot->cfg.machine.min_timer_period_us *
                                              (tsc_hz() / 1000000));
        to->timer_tsc = 0;
        if (!m->arch->vcpu_sipi || !m->arch->vcpu_sipi(to->arch, ipi->vector)) {
            failed = true;
        } else {
            to->blocked = false;
            kick = sched_vcpu_wake(m->sched, to->sv, vm_now_ns(m));
        }
    }
    vcpu_unlock(to);
    if (a == SIPI_ACT_IGNORED)
        __atomic_add_fetch(&vm->sipi_ignored, 1, __ATOMIC_RELAXED);
    if (failed)
        vm_stop(vm, "this backend cannot start a vCPU in real mode (STARTUP IPI)", 0,
                ipi->vector);
    run_kick(m, kick);
}

/* ---- KVM paravirtual MSRs ---- */

static void *gpa_ptr(struct vm *vm, uint64_t gpa)
{
    return (void *)(uintptr_t)(vm->mem_hpa + gpa);
}

bool lx_kvm_msr(struct vcpu *v, bool write, uint32_t msr, uint64_t *value, bool *ok)
{
    if (!kvm_msr_handles(msr))
        return false;
    uint64_t *stored = msr == KVM_PV_MSR_SYSTEM_TIME ? &v->msr_system_time
                       : msr == KVM_PV_MSR_STEAL_TIME ? &v->msr_steal
                                                      : &v->msr_wall_clock;
    *ok = true;
    if (!write) {
        *value = *stored;
        return true;
    }
    bool enabled;
    uint64_t gpa;
    if (!kvm_msr_check(msr, *value, v->vm->mem_size, &enabled, &gpa)) {
        *ok = false; /* #GP: nothing registered, nothing written */
        return true;
    }
    *stored = *value;
    switch (msr) {
    case KVM_PV_MSR_SYSTEM_TIME:
        if (enabled) {
            /* One record for the whole run: the TSC is the same on every pCPU and never
             * stops (CPUID's invariant TSC), so the scale from one point stays right. */
            uint32_t mul;
            int8_t shift;
            if (kvm_pvclock_scale(tsc_hz(), &mul, &shift) < 0) {
                *ok = false;
                return true;
            }
            uint64_t tsc = rdtsc(), start_tsc = v->vm->m->run_start_tsc;
            uint64_t ns = tsc > start_tsc ? tsc_to_ns(tsc - start_tsc) : 0;
            kvm_pvclock_write(gpa_ptr(v->vm, gpa), tsc, ns, mul, shift, KVM_PV_TSC_STABLE);
        }
        break;
    case KVM_PV_MSR_WALL_CLOCK:
        /* No RTC: the wall clock of boot is the epoch. */
        kvm_wall_clock_write(gpa_ptr(v->vm, gpa), 0, 0);
        break;
    case KVM_PV_MSR_STEAL_TIME:
        vcpu_lock(v);
        v->steal = enabled ? gpa_ptr(v->vm, gpa) : NULL;
        vcpu_unlock(v);
        if (enabled)
            lx_vcpu_steal_update(v);
        break;
    }
    return true;
}

void lx_vcpu_steal_update(struct vcpu *v)
{
    if (!v->steal)
        return;
    struct machine *m = v->vm->m;
    struct sched_acct a;
    sched_vcpu_acct(m->sched, v->sv, vm_now_ns(m), &a, NULL);
    kvm_steal_update(v->steal, a.ready_ns);
}

void lx_vcpu_preempted(struct vcpu *v)
{
    if (v->steal)
        kvm_steal_preempted(v->steal);
}
