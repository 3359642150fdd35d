#include "vmm/cpu.h"

#include <string.h>

#include "vmm/console.h"
#include "vmm/config.h"
#include "vmm/halt.h"
#include "vmm/lapic.h"
#include "vmm/mem.h"
#include "vmm/x86.h"

#define SEL_CODE 0x08
#define SEL_DATA 0x10
#define SEL_TSS0 0x18 /* CPU i's TSS descriptor (16 bytes) is at SEL_TSS0 + 16 * i */

#define STACK_PAGES 16 /* 64 KiB C stack per CPU */
#define IST_PAGES   4  /* 16 KiB per IST stack */
enum { IST_NMI = 1, IST_DF = 2, IST_MC = 3 };

struct tss64 {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
} __attribute__((packed));

struct cpu_slot {
    struct percpu pc;
    struct tss64 tss;
};

struct idt_gate {
    uint16_t off_lo, sel;
    uint8_t ist, type_attr;
    uint16_t off_mid;
    uint32_t off_hi, zero;
} __attribute__((packed));

struct dtr {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

static struct cpu_slot cpus[MAX_CPUS];
static uint64_t gdt[3 + 2 * MAX_CPUS] __attribute__((aligned(16)));
static struct idt_gate idt[256] __attribute__((aligned(16)));
static irq_handler_fn irq_handlers[256];
static volatile bool gs_ready;

extern char isr_stubs[];
extern char rdmsr_safe_insn[], rdmsr_safe_fail[];
void cpu_load_gdt(const struct dtr *gdtr, uint16_t code, uint16_t data, uint16_t tss);
void isr_dispatch(struct irq_frame *f);

struct percpu *this_cpu(void)
{
    struct percpu *p;
    __asm__ volatile("movq %%gs:0, %0" : "=r"(p));
    return p;
}

uint32_t cpu_index(void)
{
    return gs_ready ? this_cpu()->index : 0;
}

struct percpu *cpu_get(uint32_t index)
{
    return index < MAX_CPUS ? &cpus[index].pc : NULL;
}

static void set_gate(int vec, int ist)
{
    uint64_t addr = (uint64_t)(uintptr_t)(isr_stubs + 16 * vec);
    idt[vec] = (struct idt_gate){
        .off_lo = (uint16_t)addr,
        .sel = SEL_CODE,
        .ist = (uint8_t)ist,
        .type_attr = 0x8e, /* present, DPL 0, 64-bit interrupt gate */
        .off_mid = (uint16_t)(addr >> 16),
        .off_hi = (uint32_t)(addr >> 32),
    };
}

static void set_tss_descriptor(uint32_t index, const struct tss64 *tss)
{
    uint64_t base = (uint64_t)(uintptr_t)tss, limit = sizeof(*tss) - 1;
    uint64_t *d = &gdt[3 + 2 * index];
    d[0] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) /* present, TSS */ |
           (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
    d[1] = base >> 32;
}

static uint64_t alloc_stack(uint64_t pages)
{
    uint64_t pa = phys_alloc_pages(pages);
    return pa ? pa + pages * 4096 : 0;
}

struct percpu *cpu_prepare(uint32_t index, uint32_t apic_id)
{
    struct cpu_slot *s = &cpus[index];
    memset(s, 0, sizeof(*s));
    s->pc.self = &s->pc;
    s->pc.index = index;
    s->pc.apic_id = apic_id;
    s->pc.stack_top = alloc_stack(STACK_PAGES);
    s->tss.ist[IST_NMI - 1] = alloc_stack(IST_PAGES);
    s->tss.ist[IST_DF - 1] = alloc_stack(IST_PAGES);
    s->tss.ist[IST_MC - 1] = alloc_stack(IST_PAGES);
    s->tss.iomap_base = sizeof(s->tss); /* no I/O bitmap */
    if (!s->pc.stack_top || !s->tss.ist[0] || !s->tss.ist[1] || !s->tss.ist[2])
        return NULL;
    set_tss_descriptor(index, &s->tss);
    return &s->pc;
}

void cpu_load_tables(struct percpu *cpu)
{
    struct dtr gdtr = { sizeof(gdt) - 1, (uint64_t)(uintptr_t)gdt };
    struct dtr idtr = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };
    cpu_load_gdt(&gdtr, SEL_CODE, SEL_DATA, (uint16_t)(SEL_TSS0 + 16 * cpu->index));
    __asm__ volatile("lidt %0" : : "m"(idtr));
    wrmsr(MSR_GS_BASE, (uint64_t)(uintptr_t)cpu);
}

void cpu_init_bsp(uint32_t apic_id)
{
    gdt[1] = 0x00af9a000000ffffull; /* 64-bit code, DPL 0 */
    gdt[2] = 0x00cf92000000ffffull; /* data */
    for (int v = 0; v < 256; v++)
        set_gate(v, v == VEC_NMI ? IST_NMI : v == 8 ? IST_DF : v == 18 ? IST_MC : 0);
    struct percpu *bsp = cpu_prepare(0, apic_id);
    if (!bsp) {
        kprintf("cpu: out of memory for the bootstrap CPU's stacks\n");
        machine_halt(HALT_BOOT);
    }
    cpu_load_tables(bsp);
    gs_ready = true;
}

/* ---- the APs take the bootstrap CPU's cache configuration ---- */

#define MSR_MTRRCAP      0xfeu
#define MSR_MTRR_PHYS0   0x200u /* base 0x200 + 2i, mask 0x201 + 2i */
#define MSR_MTRR_DEF     0x2ffu
#define MSR_PAT          0x277u
#define MTRR_VAR_MAX     16
#define CR0_NW           (1ull << 29)
#define CR0_CD           (1ull << 30)
#define CR4_PGE          (1ull << 7)

/* Fixed-range MTRRs (SDM Vol. 3A 12.11.2.2). */
static const uint32_t mtrr_fixed[] = { 0x250, 0x258, 0x259, 0x268, 0x269, 0x26a,
                                       0x26b, 0x26c, 0x26d, 0x26e, 0x26f };
#define MTRR_FIXED_COUNT (sizeof(mtrr_fixed) / sizeof(mtrr_fixed[0]))

struct cache_config {
    uint64_t cr0, cr4, pat;
    bool mtrr;                          /* CPUID.1:EDX.MTRR */
    uint32_t nvar;
    bool fixed;
    uint64_t def, var[2 * MTRR_VAR_MAX], fix[MTRR_FIXED_COUNT];
};

static struct cache_config bsp_config;

static void read_mtrrs(struct cache_config *c)
{
    c->mtrr = (cpuid(1, 0).edx >> 12) & 1;
    if (!c->mtrr)
        return;
    uint64_t cap = rdmsr(MSR_MTRRCAP);
    c->nvar = (uint32_t)(cap & 0xff) > MTRR_VAR_MAX ? MTRR_VAR_MAX : (uint32_t)(cap & 0xff);
    c->fixed = (cap >> 8) & 1;
    c->def = rdmsr(MSR_MTRR_DEF);
    for (uint32_t i = 0; i < 2 * c->nvar; i++)
        c->var[i] = rdmsr(MSR_MTRR_PHYS0 + i);
    for (uint32_t i = 0; c->fixed && i < MTRR_FIXED_COUNT; i++)
        c->fix[i] = rdmsr(mtrr_fixed[i]);
}

static bool mtrrs_equal(const struct cache_config *a, const struct cache_config *b)
{
    if (a->def != b->def || a->nvar != b->nvar || a->fixed != b->fixed)
        return false;
    for (uint32_t i = 0; i < 2 * a->nvar; i++)
        if (a->var[i] != b->var[i])
            return false;
    for (uint32_t i = 0; a->fixed && i < MTRR_FIXED_COUNT; i++)
        if (a->fix[i] != b->fix[i])
            return false;
    return true;
}

void cpu_record_bsp(void)
{
    bsp_config.cr0 = read_cr0();
    bsp_config.cr4 = read_cr4();
    bsp_config.pat = rdmsr(MSR_PAT);
    read_mtrrs(&bsp_config);
}

static void wbinvd(void)
{
    __asm__ volatile("wbinvd" ::: "memory");
}

/* Reload the MTRRs as SDM Vol. 3A 12.11.7.2 describes for a multiprocessor: caches off and
 * flushed, MTRRs disabled while they change, TLBs flushed, then everything back on. */
static void load_mtrrs(const struct cache_config *c)
{
    uint64_t cr4 = read_cr4();
    write_cr0((read_cr0() | CR0_CD) & ~CR0_NW);
    wbinvd();
    write_cr4(cr4 & ~CR4_PGE);
    write_cr3(read_cr3());
    wrmsr(MSR_MTRR_DEF, c->def & ~(3ull << 10)); /* E and FE off */
    for (uint32_t i = 0; i < 2 * c->nvar; i++)
        wrmsr(MSR_MTRR_PHYS0 + i, c->var[i]);
    for (uint32_t i = 0; c->fixed && i < MTRR_FIXED_COUNT; i++)
        wrmsr(mtrr_fixed[i], c->fix[i]);
    wbinvd();
    write_cr3(read_cr3());
    wrmsr(MSR_MTRR_DEF, c->def);
    write_cr4(cr4);
}

uint64_t cpu_match_bsp(void)
{
    struct cache_config mine;
    read_mtrrs(&mine);
    if (mine.mtrr && bsp_config.mtrr && !mtrrs_equal(&mine, &bsp_config))
        load_mtrrs(&bsp_config);
    /* CD and NW from the BSP (clear), and the rest of its CR0/CR4 (NE, WP, MP, OSFXSR, ...);
     * PAT as the BSP has it, so a memory type means the same on every pCPU. */
    if (read_cr0() & CR0_CD)
        wbinvd();
    write_cr0(bsp_config.cr0);
    write_cr4(bsp_config.cr4);
    wrmsr(MSR_PAT, bsp_config.pat);
    return read_cr0();
}

void irq_register(uint8_t vector, irq_handler_fn fn)
{
    irq_handlers[vector] = fn;
}

static const char *const exception_names[32] = {
    "#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
    "#BR bound range", "#UD invalid opcode", "#NM device not available", "#DF double fault",
    "coprocessor segment overrun", "#TS invalid TSS", "#NP segment not present",
    "#SS stack fault", "#GP general protection", "#PF page fault", "reserved 15",
    "#MF x87 error", "#AC alignment check", "#MC machine check", "#XM SIMD exception",
    "#VE virtualization exception", "#CP control protection", "reserved 22", "reserved 23",
    "reserved 24", "reserved 25", "reserved 26", "reserved 27", "#HV hypervisor injection",
    "#VC VMM communication", "#SX security exception", "reserved 31",
};

static void __attribute__((noreturn)) report_exception(struct irq_frame *f)
{
    struct percpu *cpu = gs_ready ? this_cpu() : NULL;
    kprintf("EXCEPTION %s: vector=%lu error=0x%lx rip=0x%016lx cpu=%u apic=%u\n",
            exception_names[f->vector], f->vector, f->error, f->rip, cpu ? cpu->index : 0,
            cpu ? cpu->apic_id : 0);
    kprintf("  rsp=0x%016lx rflags=0x%lx cs=0x%lx cr2=0x%lx cr3=0x%lx\n", f->rsp, f->rflags,
            f->cs, read_cr2(), read_cr3());
    kprintf("  rax=%016lx rbx=%016lx rcx=%016lx rdx=%016lx\n", f->rax, f->rbx, f->rcx, f->rdx);
    kprintf("  rsi=%016lx rdi=%016lx rbp=%016lx r8=%016lx\n", f->rsi, f->rdi, f->rbp, f->r8);
    machine_halt(HALT_EXCEPTION);
}

static void dispatch(struct irq_frame *f)
{
    irq_handler_fn fn = irq_handlers[f->vector];
    if (fn)
        fn(f);
    else
        kprintf("cpu %u: unexpected interrupt vector %lu\n", cpu_index(), f->vector);
    lapic_eoi();
}

static volatile uint64_t stray_nmis;

void cpu_host_nmi(void)
{
    if (machine_halting())
        machine_halt_here();
    /* Not ours: a platform NMI (a watchdog, a hardware error).  Said, not fatal. */
    if (__atomic_fetch_add(&stray_nmis, 1, __ATOMIC_RELAXED) < 3)
        kprintf("cpu %u: NMI not sent by the VMM (ignored)\n", cpu_index());
}

void isr_dispatch(struct irq_frame *f)
{
    if (f->vector == 13 && f->rip == (uint64_t)(uintptr_t)rdmsr_safe_insn) {
        f->rip = (uint64_t)(uintptr_t)rdmsr_safe_fail;
        return;
    }
    if (f->vector == VEC_NMI) {
        cpu_host_nmi();
        return;
    }
    if (f->vector < 32)
        report_exception(f);
    if (f->vector == VEC_SPURIOUS)
        return; /* no EOI for spurious interrupts (SDM Vol. 3A 11.9) */
    dispatch(f);
}

void irq_deliver(uint8_t vector)
{
    struct irq_frame f;
    memset(&f, 0, sizeof(f));
    f.vector = vector;
    if (vector == VEC_NMI) {
        cpu_host_nmi();
        return;
    }
    if (vector != VEC_SPURIOUS)
        dispatch(&f);
}

void cpu_inject_fault(int which)
{
    kprintf("selftest: raising %s on cpu %u\n",
            which == CFG_FAULT_UD ? "#UD" : which == CFG_FAULT_PF ? "#PF" : "#DE", cpu_index());
    if (which == CFG_FAULT_UD) {
        __asm__ volatile("ud2");
    } else if (which == CFG_FAULT_PF) {
        /* Canonical but above everything the VMM maps. */
        *(volatile uint64_t *)0x00007f0000000000ull = 1;
    } else if (which == CFG_FAULT_DE) {
        volatile uint32_t zero = 0;
        volatile uint32_t q = 1 / zero;
        (void)q;
    }
}
