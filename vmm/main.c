#include "vmm/vmm.h"

#include "vmm/arch.h"
#include "vmm/console.h"
#include "vmm/halt.h"
#include "vmm/lapic.h"
#include "vmm/mem.h"
#include "vmm/tsc.h"
#include "vmm/vm.h"
#include "vmm/x86.h"
#include "vmm/xstate.h"

/* The machine's phases, advanced by the BSP; APs follow. */
enum phase { PHASE_BOOT, PHASE_STARTED /* all APs up */, PHASE_RUN /* VMs built */ };

static const struct boot_info *boot;
static const struct arch_ops *arch;
static volatile int phase;
static struct machine *machine; /* built by the BSP before PHASE_RUN */

static void wait_phase(int p)
{
    while (__atomic_load_n(&phase, __ATOMIC_ACQUIRE) < p)
        cpu_relax();
}

static void maybe_inject_fault(void)
{
    const struct cfg_machine *m = &boot->cfg.machine;
    if (m->inject_fault != CFG_FAULT_NONE && !m->inject_fault_ms &&
        m->inject_fault_cpu == cpu_index())
        cpu_inject_fault(m->inject_fault);
}

void vmm_init_bsp(const struct boot_info *bi)
{
    boot = bi;
    lapic_detect();
    mem_init(bi);
    cpu_init_bsp(lapic_id());
    cpu_record_bsp();
    xstate_cpu_init();
    lapic_enable_this();
    uint64_t hz = tsc_calibrate();
    lapic_timer_calibrate();
    kprintf("tsc: %lu.%03lu MHz (PIT-calibrated), apic: %s, apic timer %lu kHz%s\n",
            hz / 1000000, hz / 1000 % 1000, lapic_x2apic_mode() ? "x2apic" : "xapic",
            lapic_timer_hz() / 1000, lapic_timer_tsc_deadline() ? " (tsc-deadline)" : "");
    char line[160];
    xstate_global_init(line, sizeof(line));
    kprintf("%s\n", line);
    arch = arch_select();
    struct percpu *bsp = this_cpu();
    kprintf("cpu %u online apic=%u cr0=0x%lx (bootstrap)\n", bsp->index, bsp->apic_id,
            read_cr0());
    bsp->online = true;
}

void vmm_ap_entry(struct percpu *cpu)
{
    cpu_load_tables(cpu);
    uint64_t cr0 = cpu_match_bsp();
    xstate_cpu_init();
    lapic_enable_this();
    uint32_t id = lapic_id();
    if (id != cpu->apic_id)
        kprintf("cpu %u: APIC id %u, but the firmware described %u\n", cpu->index, id,
                cpu->apic_id);
    kprintf("cpu %u online apic=%u cr0=0x%lx\n", cpu->index, id, cr0);
    __atomic_store_n(&cpu->online, true, __ATOMIC_RELEASE);
    /* Wait for boot/ to finish starting the others before a self-test may stop the machine. */
    wait_phase(PHASE_STARTED);
    maybe_inject_fault();
    wait_phase(PHASE_RUN);
    vm_run_cpu(machine);
}

void vmm_main(void)
{
    const struct cfg *c = &boot->cfg;
    uint32_t online = 0;
    for (uint32_t i = 0; i < boot->ncpus; i++)
        online += cpu_get(i)->online;
    kprintf("cpus: %u of %u online\n", online, boot->ncpus);
    __atomic_store_n(&phase, PHASE_STARTED, __ATOMIC_RELEASE);
    kprintf("config: %s, policy=%s timeslice_us=%u, %u VM(s)\n",
            boot->have_cfg ? "vsched.cfg" : "none (defaults)", c->machine.policy,
            c->machine.timeslice_us, c->nvms);
    for (uint32_t i = 0; i < c->nvms; i++) {
        const struct cfg_vm *vm = &c->vms[i];
        sched_cpumask_t all = cpumask_below(CFG_MAX_PCPUS);
        char aff[96] = "all";
        if (!cpumask_equal(&vm->affinity, &all))
            cpumask_format(&vm->affinity, aff, sizeof(aff));
        kprintf("vm %s: vcpus=%u memory_mb=%u weight=%u cap=%u gang=%s affinity=%s "
                "image=%s (%lu bytes)\n",
                vm->name, vm->vcpus, vm->memory_mb, vm->weight, vm->cap,
                cfg_gang_name(vm->gang), aff, vm->image[0] ? vm->image : "-",
                boot->images[i].size);
    }
    if (online != boot->ncpus)
        machine_halt(HALT_BOOT);
    const struct cfg_machine *m = &c->machine;
    if (m->inject_fault != CFG_FAULT_NONE) {
        if (m->inject_fault_cpu >= boot->ncpus) {
            kprintf("vsched.cfg: error: inject_fault_cpu = %u but only %u CPU(s) are online\n",
                    m->inject_fault_cpu, boot->ncpus);
            machine_halt(HALT_CONFIG);
        }
        if (!m->inject_fault_ms) {
            maybe_inject_fault();
            /* Another CPU raises the fault and halts the machine: nothing else may run. */
            for (;;)
                cpu_relax();
        }
    }
    if (!c->nvms)
        machine_halt(HALT_OK);
    if (!arch) {
        kprintf("vmm: no usable virtualization backend; %u VM(s) not started\n", c->nvms);
        machine_halt(HALT_VM_FAILED);
    }
    if (!arch->vcpu_run) {
        kprintf("vmm: the %s backend cannot run guests yet; %u VM(s) not started\n", arch->name,
                c->nvms);
        machine_halt(HALT_VM_FAILED);
    }
    machine = vm_create_all(boot, arch);
    __atomic_store_n(&phase, PHASE_RUN, __ATOMIC_RELEASE);
    vm_run_cpu(machine);
}
