#include "vmm/vmm.h"

#include "vmm/arch.h"
#include "vmm/console.h"
#include "vmm/halt.h"
#include "vmm/lapic.h"
#include "vmm/mem.h"
#include "vmm/tsc.h"
#include "vmm/x86.h"

static const struct boot_info *boot;
static volatile bool all_started; /* set by vmm_main once boot/ has started every AP */

static void maybe_inject_fault(void)
{
    const struct cfg_machine *m = &boot->cfg.machine;
    if (m->inject_fault != CFG_FAULT_NONE && m->inject_fault_cpu == cpu_index())
        cpu_inject_fault(m->inject_fault);
}

void vmm_init_bsp(const struct boot_info *bi)
{
    boot = bi;
    lapic_detect();
    mem_init(bi);
    cpu_init_bsp(lapic_id());
    lapic_enable_this();
    uint64_t hz = tsc_calibrate();
    kprintf("tsc: %lu.%03lu MHz (PIT-calibrated), apic: %s\n", hz / 1000000,
            hz / 1000 % 1000, lapic_x2apic_mode() ? "x2apic" : "xapic");
    arch_select();
    struct percpu *bsp = this_cpu();
    kprintf("cpu %u online apic=%u (bootstrap)\n", bsp->index, bsp->apic_id);
    bsp->online = true;
}

void vmm_ap_entry(struct percpu *cpu)
{
    cpu_load_tables(cpu);
    lapic_enable_this();
    uint32_t id = lapic_id();
    if (id != cpu->apic_id)
        kprintf("cpu %u: APIC id %u, but the firmware described %u\n", cpu->index, id,
                cpu->apic_id);
    kprintf("cpu %u online apic=%u\n", cpu->index, id);
    __atomic_store_n(&cpu->online, true, __ATOMIC_RELEASE);
    /* Wait for boot/ to finish starting the others before a self-test may stop the machine. */
    while (!__atomic_load_n(&all_started, __ATOMIC_ACQUIRE))
        cpu_relax();
    maybe_inject_fault();
    for (;;)
        __asm__ volatile("sti; hlt");
}

void vmm_main(void)
{
    const struct cfg *c = &boot->cfg;
    uint32_t online = 0;
    for (uint32_t i = 0; i < boot->ncpus; i++)
        online += cpu_get(i)->online;
    kprintf("cpus: %u of %u online\n", online, boot->ncpus);
    __atomic_store_n(&all_started, true, __ATOMIC_RELEASE);
    kprintf("config: %s, policy=%s timeslice_us=%u, %u VM(s)\n",
            boot->have_cfg ? "vsched.cfg" : "none (defaults)", c->machine.policy,
            c->machine.timeslice_us, c->nvms);
    for (uint32_t i = 0; i < c->nvms; i++) {
        const struct cfg_vm *vm = &c->vms[i];
        kprintf("vm %s: vcpus=%u memory_mb=%u weight=%u cap=%u gang=%s affinity=0x%lx "
                "image=%s (%lu bytes)\n",
                vm->name, vm->vcpus, vm->memory_mb, vm->weight, vm->cap,
                cfg_gang_name(vm->gang), vm->affinity, vm->image[0] ? vm->image : "-",
                boot->images[i].size);
    }
    maybe_inject_fault();
    if (online != boot->ncpus)
        machine_halt(HALT_BOOT);
    if (c->nvms) {
        kprintf("vmm: this build cannot run guests yet; %u VM(s) not started\n", c->nvms);
        machine_halt(HALT_VM_FAILED);
    }
    machine_halt(HALT_OK);
}
