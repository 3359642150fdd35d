#include "vmm/vm.h"

#include <string.h>

#include "vmm/console.h"
#include "vmm/cpu.h"
#include "vmm/elf.h"
#include "vmm/fmt.h"
#include "vmm/guest_boot.h"
#include "vmm/halt.h"
#include "vmm/guest_abi.h"
#include "vmm/mem.h"
#include "vmm/spinlock.h"
#include "vmm/tsc.h"
#include "vmm/x86.h"

#define MAX_VCPUS_TOTAL 256
#define CONSOLE_LINE    160
#define COM1_BASE       0x3f8
#define HC_PRINT_MAX    4096

enum vm_state { VM_RUNNING, VM_EXITED, VM_STOPPED, VM_TIMED_OUT };

struct vm;

struct vcpu {
    struct vm *vm;
    struct arch_vcpu *arch;
    uint32_t id;
    uint32_t pcpu;      /* where it runs (fixed until the scheduler integration) */
    bool halted;        /* HLT with interrupts off: nothing will wake it */
    bool yielded;       /* HC_YIELD: end its time slice now */
    char line[CONSOLE_LINE];
    uint32_t line_len;
};

struct vm {
    const struct cfg_vm *cfg;
    uint32_t id;
    uint64_t mem_hpa, mem_size;
    struct arch_vm *arch;
    struct vcpu *vcpus[CFG_MAX_VCPUS];
    volatile enum vm_state state;
    int64_t exit_status;
    char why[160];      /* for VM_STOPPED */
    struct spinlock lock;
};

static const struct arch_ops *arch;
static const struct boot_info *boot;
static struct vm vms[CFG_MAX_VMS];
static uint32_t nvms;
static struct vcpu vcpu_pool[MAX_VCPUS_TOTAL];
static uint32_t nvcpus;
static uint64_t run_start_tsc;        /* when the VMs were built and started */
static uint64_t run_end_tsc;          /* 0 = no limit */
static volatile uint32_t cpus_done;   /* pCPUs that finished their run loop */

/* ---- outcome ---- */

static bool vm_ended(const struct vm *vm)
{
    return vm->state != VM_RUNNING;
}

/* Stop VM for REASON (first reason wins), printing one clear line. */
static void vm_stop(struct vm *vm, const char *reason, uint64_t rip, uint64_t a)
{
    spin_lock(&vm->lock);
    bool first = vm->state == VM_RUNNING;
    if (first) {
        vm->state = VM_STOPPED;
        fmt_snprintf(vm->why, sizeof(vm->why), "%s", reason);
    }
    spin_unlock(&vm->lock);
    if (first)
        kprintf("vm %s: stopped: %s (rip=0x%lx, 0x%lx)\n", vm->cfg->name, reason, rip, a);
}

static void vm_exit(struct vm *vm, int64_t status)
{
    spin_lock(&vm->lock);
    bool first = vm->state == VM_RUNNING;
    if (first) {
        vm->state = VM_EXITED;
        vm->exit_status = status;
    }
    spin_unlock(&vm->lock);
    if (first)
        kprintf("vm %s: exited with status %ld\n", vm->cfg->name, status);
}

static void __attribute__((noreturn)) final_report(void)
{
    uint32_t bad = 0;
    kprintf("run: ended after %lu ms\n", tsc_to_ns(rdtsc() - run_start_tsc) / 1000000);
    for (uint32_t i = 0; i < nvms; i++) {
        struct vm *vm = &vms[i];
        bool ok;
        switch (vm->state) {
        case VM_EXITED:
            ok = vm->cfg->expect == CFG_EXPECT_EXIT;
            kprintf("outcome %s: exited status=%ld expect=%s %s\n", vm->cfg->name,
                    vm->exit_status, cfg_expect_name(vm->cfg->expect), ok ? "ok" : "UNEXPECTED");
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
    }
    machine_halt(bad ? HALT_VM_FAILED : HALT_OK);
}

/* ---- creation ---- */

static void __attribute__((noreturn)) create_failed(const struct cfg_vm *c, const char *what)
{
    kprintf("vsched.cfg:%u: error: [vm %s] %s\n", c->line, c->name, what);
    machine_halt(HALT_CONFIG);
}

static uint32_t pick_pcpu(const struct cfg_vm *c, uint32_t *rr)
{
    uint32_t n = boot->ncpus;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t cpu = (*rr + k) % n;
        if ((c->affinity >> cpu) & 1) {
            *rr = cpu + 1;
            return cpu;
        }
    }
    return 0; /* the parser guarantees a CPU below pcpus; not reached */
}

static void create_vm(uint32_t i, uint32_t *rr)
{
    const struct cfg_vm *c = &boot->cfg.vms[i];
    struct vm *vm = &vms[i];
    char err[160];
    vm->cfg = c;
    vm->id = i;
    vm->state = VM_RUNNING;
    if (!c->image[0])
        create_failed(c, "has no image");
    if (!(c->affinity & ((boot->ncpus >= 64) ? ~0ull : (1ull << boot->ncpus) - 1)))
        create_failed(c, "affinity names no CPU of this machine");
    vm->mem_size = (uint64_t)c->memory_mb << 20;
    vm->mem_hpa = phys_alloc_aligned(vm->mem_size / 4096, 2ull << 20);
    if (!vm->mem_hpa)
        create_failed(c, "not enough free memory for memory_mb");
    void *mem = (void *)(uintptr_t)vm->mem_hpa;
    const struct boot_image *img = &boot->images[i];
    struct elf_info elf;
    if (elf_inspect(img->data, img->size, vm->mem_size, &elf, err, sizeof(err)) < 0)
        create_failed(c, err);
    elf_load(img->data, &elf, mem);
    struct guest_layout layout;
    if (guest_boot_setup(mem, vm->mem_size, &elf, c->vcpus, c->name, c->args, tsc_hz(), &layout,
                         err, sizeof(err)) < 0)
        create_failed(c, err);
    vm->arch = arch->vm_create(i + 1);
    if (!vm->arch || arch->vm_map(vm->arch, 0, vm->mem_hpa, vm->mem_size) < 0)
        create_failed(c, "out of memory for nested page tables");
    for (uint32_t k = 0; k < c->vcpus; k++) {
        struct guest_entry ge;
        guest_entry_for(&layout, k, &ge);
        struct vcpu_start s = { .rip = ge.rip, .rsp = ge.rsp, .cr3 = ge.cr3, .rdi = ge.rdi,
                                .rsi = ge.rsi, .gdt_base = ge.gdt_base,
                                .gdt_limit = (uint16_t)ge.gdt_limit };
        /* Self-test of the failure reports: CR3 bits above any physical-address width must
         * be zero (SDM Vol. 3C 27.3.1.1; APM Vol. 2 15.5.1), so the CPU refuses the entry. */
        if (c->selftest == CFG_SELFTEST_BAD_ENTRY)
            s.cr3 |= 1ull << 62;
        if (nvcpus == MAX_VCPUS_TOTAL)
            create_failed(c, "too many vCPUs in all");
        struct vcpu *v = &vcpu_pool[nvcpus++];
        v->vm = vm;
        v->id = k;
        v->pcpu = pick_pcpu(c, rr);
        v->arch = arch->vcpu_create(vm->arch, k, &s);
        if (!v->arch)
            create_failed(c, "out of memory for a vCPU");
        vm->vcpus[k] = v;
    }
    kprintf("vm %s: %u vCPU(s), %u MiB at 0x%lx, entry 0x%lx, image %s\n", c->name, c->vcpus,
            c->memory_mb, vm->mem_hpa, elf.entry, c->image);
}

void vm_create_all(const struct boot_info *bi, const struct arch_ops *ops)
{
    uint32_t rr = 0;
    boot = bi;
    arch = ops;
    nvms = bi->cfg.nvms;
    for (uint32_t i = 0; i < nvms; i++)
        create_vm(i, &rr);
    run_start_tsc = rdtsc();
    if (bi->cfg.machine.run_ms)
        run_end_tsc = run_start_tsc + (uint64_t)bi->cfg.machine.run_ms * (tsc_hz() / 1000);
}

/* ---- exits ---- */

static void console_byte(struct vcpu *v, char c)
{
    if (c == '\r')
        return;
    if (c != '\n' && v->line_len < CONSOLE_LINE - 1) {
        v->line[v->line_len++] = c;
        return;
    }
    v->line[v->line_len] = '\0';
    kprintf("[%s] %s\n", v->vm->cfg->name, v->line);
    v->line_len = 0;
    if (c != '\n')
        v->line[v->line_len++] = c;
}

static void skip(struct vcpu *v, const struct vexit *e)
{
    arch->vcpu_set_rip(v->arch, e->rip + e->insn_len);
}

static void handle_cpuid(struct vcpu *v, const struct vexit *e)
{
    struct vcpu_gprs *g = arch->vcpu_gprs(v->arch);
    uint32_t leaf = (uint32_t)g->rax, sub = (uint32_t)g->rcx;
    struct cpuid_regs r = { 0, 0, 0, 0 };
    if (leaf == VSCHED_CPUID_BASE) {
        r.eax = VSCHED_CPUID_BASE + 1;
        r.ebx = VSCHED_SIG_EBX;
        r.ecx = VSCHED_SIG_ECX;
        r.edx = VSCHED_SIG_EDX;
    } else if (leaf == VSCHED_CPUID_BASE + 1) {
        r.eax = VSCHED_HYPERCALL_ABI;
    } else if (leaf < 0x40000000u || leaf >= 0x80000000u) {
        r = cpuid(leaf, sub);
        if (leaf == 1) {
            r.ecx &= ~(1u << 5);  /* no VMX for the guest */
            r.ecx |= 1u << 31;    /* running under a hypervisor */
            r.ebx = (r.ebx & 0x00ffffffu) | (v->id << 24); /* initial APIC ID */
        } else if (leaf == 0x80000001u) {
            r.ecx &= ~(1u << 2);  /* no SVM for the guest */
        } else if (leaf == 0x8000000au || leaf == 0xa) {
            r.eax = r.ebx = r.ecx = r.edx = 0; /* no SVM, no performance counters */
        }
    }
    g->rax = r.eax;
    g->rbx = r.ebx;
    g->rcx = r.ecx;
    g->rdx = r.edx;
    skip(v, e);
}

/* The MSRs a guest may read; every other access gets #GP (SDM Vol. 4). */
static bool msr_read(struct vcpu *v, uint32_t msr, uint64_t *value)
{
    switch (msr) {
    case 0x10: *value = rdtsc(); return true;                     /* IA32_TSC */
    case 0x1b: *value = 0xfee00000u | (1u << 11) | (v->id ? 0 : 1u << 8); return true;
    case 0xfe: *value = 0; return true;                           /* MTRRcap: none */
    case 0x1a0: *value = 1; return true;                          /* MISC_ENABLE: fast strings */
    case 0x277: *value = 0x0007040600070406ull; return true;      /* PAT (reset value) */
    default: return false;
    }
}

static void handle_msr(struct vcpu *v, const struct vexit *e)
{
    struct vcpu_gprs *g = arch->vcpu_gprs(v->arch);
    uint32_t msr = (uint32_t)g->rcx;
    uint64_t value;
    if (e->reason == VEXIT_RDMSR && msr_read(v, msr, &value)) {
        g->rax = (uint32_t)value;
        g->rdx = value >> 32;
        skip(v, e);
        return;
    }
    /* Not on the allow list: #GP(0), as the hardware does for an unknown MSR. */
    arch->vcpu_inject_exception(v->arch, 13, true, 0);
}

static void handle_io(struct vcpu *v, const struct vexit *e)
{
    struct vcpu_gprs *g = arch->vcpu_gprs(v->arch);
    if (e->io.string || e->io.rep) {
        vm_stop(v->vm, "string port I/O is not supported", e->rip, e->io.port);
        return;
    }
    uint16_t port = e->io.port;
    uint64_t mask = e->io.size == 4 ? 0xffffffffull : (1ull << (8 * e->io.size)) - 1;
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

static void handle_hypercall(struct vcpu *v, const struct vexit *e)
{
    struct vcpu_gprs *g = arch->vcpu_gprs(v->arch);
    struct vm *vm = v->vm;
    switch (g->rax) {
    case HC_PRINT: {
        uint64_t gpa = g->rdi, len = g->rsi;
        if (len > HC_PRINT_MAX || gpa >= vm->mem_size || len > vm->mem_size - gpa) {
            vm_stop(vm, "bad hypercall arguments: print buffer outside guest memory", e->rip,
                    gpa);
            return;
        }
        const char *p = (const char *)(uintptr_t)(vm->mem_hpa + gpa);
        for (uint64_t i = 0; i < len; i++)
            console_byte(v, p[i]);
        g->rax = 0;
        break;
    }
    case HC_EXIT:
        vm_exit(vm, (int64_t)g->rdi);
        return;
    case HC_TIME_NS:
        g->rax = tsc_now_ns();
        break;
    case HC_YIELD:
        g->rax = 0;
        v->yielded = true;
        break;
    default: {
        char why[64];
        fmt_snprintf(why, sizeof(why), "bad hypercall number %lu", g->rax);
        vm_stop(vm, why, e->rip, g->rax);
        return;
    }
    }
    skip(v, e);
}

static void handle_exit(struct vcpu *v, const struct vexit *e)
{
    struct vm *vm = v->vm;
    char why[96];
    switch (e->reason) {
    case VEXIT_CPUID: handle_cpuid(v, e); break;
    case VEXIT_RDMSR:
    case VEXIT_WRMSR: handle_msr(v, e); break;
    case VEXIT_IO: handle_io(v, e); break;
    case VEXIT_HYPERCALL: handle_hypercall(v, e); break;
    case VEXIT_HLT:
        skip(v, e);
        v->halted = true;
        break;
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
        arch->vcpu_dump(v->arch);
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
}

/* ---- run loop ---- */

static bool all_vms_ended(void)
{
    for (uint32_t i = 0; i < nvms; i++)
        if (!vm_ended(&vms[i]))
            return false;
    return true;
}

static void check_run_end(void)
{
    if (!run_end_tsc || rdtsc() < run_end_tsc)
        return;
    for (uint32_t i = 0; i < nvms; i++) {
        spin_lock(&vms[i].lock);
        if (vms[i].state == VM_RUNNING)
            vms[i].state = VM_TIMED_OUT;
        spin_unlock(&vms[i].lock);
    }
}

/* A VM whose every vCPU halted with interrupts off can never run again. */
static void check_all_halted(struct vm *vm)
{
    for (uint32_t k = 0; k < vm->cfg->vcpus; k++)
        if (!vm->vcpus[k]->halted)
            return;
    vm_stop(vm, "every vCPU halted with interrupts disabled", 0, 0);
}

void vm_run_cpu(void)
{
    uint32_t self = cpu_index();
    uint64_t slice_tsc = (uint64_t)boot->cfg.machine.timeslice_us * (tsc_hz() / 1000000);
    bool enabled = arch->cpu_enable() == 0;
    if (!enabled)
        kprintf("cpu %u: virtualization could not be enabled; its vCPUs are stopped\n", self);

    /* Round-robin over this pCPU's vCPUs, one time slice each (the sched/ integration
     * replaces this). */
    uint32_t next = 0;
    for (;;) {
        check_run_end();
        struct vcpu *v = NULL;
        for (uint32_t k = 0; k < nvcpus && !v; k++) {
            struct vcpu *c = &vcpu_pool[(next + k) % nvcpus];
            if (c->pcpu == self && !c->halted && !vm_ended(c->vm)) {
                v = c;
                next = (next + k + 1) % nvcpus;
            }
        }
        if (!v)
            break;
        if (!enabled) {
            vm_stop(v->vm, "virtualization could not be enabled on its pCPU", 0, self);
            continue;
        }
        uint64_t deadline = rdtsc() + slice_tsc;
        if (run_end_tsc && run_end_tsc < deadline)
            deadline = run_end_tsc;
        arch->vcpu_set_timer(v->arch, deadline);
        struct vexit e;
        do {
            arch->vcpu_run(v->arch, &e);
            handle_exit(v, &e);
        } while (e.reason != VEXIT_TIMER && !v->halted && !v->yielded && !vm_ended(v->vm));
        v->yielded = false;
        if (v->halted)
            check_all_halted(v->vm);
    }

    /* Nothing left to run here: wait for the other pCPUs; the last one reports. */
    uint32_t done = __atomic_add_fetch(&cpus_done, 1, __ATOMIC_ACQ_REL);
    if (done == boot->ncpus) {
        while (!all_vms_ended())
            check_run_end();
        final_report();
    }
    for (;;) {
        check_run_end();
        cpu_relax();
    }
}
