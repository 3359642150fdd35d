/* AMD-V (SVM) backend: EFER.SVME and a host save area per pCPU, one VMCB per vCPU, nested
 * page tables per VM (AMD64 APM Vol. 2 chapter 15).
 *
 * Works without next-RIP save, decode assists and VMCB clean bits (QEMU's TCG has none): the
 * VMM computes the next RIP itself for the instructions it intercepts, and uses nRIP when the
 * CPU provides it.  The hypervisor timer is the host APIC timer (SVM has no preemption timer):
 * its interrupt is intercepted (INTR) and ends the guest's run. */
#include <string.h>

#include "vmm/arch.h"
#include "vmm/console.h"
#include "vmm/cpu.h"
#include "vmm/fmt.h"
#include "vmm/lapic.h"
#include "vmm/cpuid.h"
#include "vmm/mem.h"
#include "vmm/msr_rules.h"
#include "vmm/pagetable.h"
#include "vmm/svm/svm_caps.h"
#include "vmm/svm/svm_exit.h"
#include "vmm/tsc.h"
#include "vmm/x86.h"
#include "vmm/xstate.h"

#define MSR_VM_HSAVE_PA 0xc0010117u
#define EFER_SVME       (1ull << 12)

/* VMCB control area (APM Vol. 2 Appendix B, Table B-1) */
#define VMCB_INTERCEPT_CR      0x000
#define VMCB_INTERCEPT_DR      0x004
#define CR8_WRITE              (1u << (16 + 8))
#define VMCB_INTERCEPT_EXC     0x008
#define VMCB_INTERCEPT_MISC1   0x00c
#define VMCB_INTERCEPT_MISC2   0x010
#define VMCB_IOPM_BASE         0x040
#define VMCB_MSRPM_BASE        0x048
#define VMCB_ASID              0x058
#define VMCB_TLB_CONTROL       0x05c
#define VMCB_VINTR             0x060
#define VMCB_INT_SHADOW        0x068
#define VMCB_EXITCODE          0x070
#define VMCB_EXITINFO1         0x078
#define VMCB_EXITINFO2         0x080
#define VMCB_EXITINTINFO       0x088
#define VMCB_NP_ENABLE         0x090
#define VMCB_EVENTINJ          0x0a8
#define VMCB_N_CR3             0x0b0
#define VMCB_CLEAN             0x0c0
#define VMCB_NRIP              0x0c8
/* VMCB state save area (Table B-2) */
#define VMCB_ES                0x400 /* ES, CS, SS, DS, FS, GS, GDTR, LDTR, IDTR, TR: 16 each */
#define VMCB_GDTR              0x460
#define VMCB_LDTR              0x470
#define VMCB_IDTR              0x480
#define VMCB_TR                0x490
#define VMCB_CPL               0x4cb
#define VMCB_EFER              0x4d0
#define VMCB_CR4               0x548
#define VMCB_CR3               0x550
#define VMCB_CR0               0x558
#define VMCB_DR7               0x560
#define VMCB_DR6               0x568
#define VMCB_RFLAGS            0x570
#define VMCB_RIP               0x578
#define VMCB_RSP               0x5d8
#define VMCB_RAX               0x5f8
#define VMCB_STAR              0x600 /* STAR, LSTAR, CSTAR, SFMASK, KernelGsBase, */
#define VMCB_LSTAR             0x608 /* SYSENTER_CS/ESP/EIP: VMLOAD/VMSAVE state */
#define VMCB_CSTAR             0x610
#define VMCB_SFMASK            0x618
#define VMCB_KERNEL_GS_BASE    0x620
#define VMCB_SYSENTER_CS       0x628
#define VMCB_SYSENTER_ESP      0x630
#define VMCB_SYSENTER_EIP      0x638
#define VMCB_CR2               0x640
#define VMCB_G_PAT             0x668

/* Intercept bits (Table B-1) */
#define MISC1_INTR     (1u << 0)
#define MISC1_NMI      (1u << 1)
#define MISC1_VINTR    (1u << 4)
#define MISC1_RDPMC    (1u << 15)
#define MISC1_CPUID    (1u << 18)
#define MISC1_INVD     (1u << 22)
#define MISC1_HLT      (1u << 24)
#define MISC1_INVLPGA  (1u << 26)
#define MISC1_IOIO     (1u << 27)
#define MISC1_MSR      (1u << 28)
#define MISC1_SHUTDOWN (1u << 31)
#define MISC2_SVM_INSNS 0x7fu /* VMRUN (required), VMMCALL, VMLOAD, VMSAVE, STGI, CLGI, SKINIT */
#define MISC2_WBINVD   (1u << 9)
#define MISC2_MONITOR  (1u << 10)
#define MISC2_MWAIT    (3u << 11) /* unconditional and armed */
#define MISC2_XSETBV   (1u << 13)
#define MISC2_RDPRU    (1u << 14)
#define VINTR_MASKING  (1ull << 24)
/* A virtual interrupt request used only to learn when the guest can take one: with VINTR
 * intercepted, the CPU exits instead of delivering it (APM Vol. 2 15.21.4).  V_TPR in bits
 * 3:0 is the guest's CR8: with V_INTR_MASKING its CR8 writes go there, never to the physical
 * TPR (15.21.1). */
#define VINTR_V_TPR    0xfull
#define VINTR_V_IRQ    (1ull << 8)
#define VINTR_PRIO_SHIFT 16
#define VINTR_IGN_TPR  (1ull << 20)
#define VINTR_REQUEST  (VINTR_V_IRQ | (0xfull << VINTR_PRIO_SHIFT) | VINTR_IGN_TPR)
#define CLEAN_INTERCEPTS (1u << 0)
#define CLEAN_TPR        (1u << 3) /* V_TPR, V_IRQ and the other virtual-interrupt fields */
#define EVENT_VALID      (1ull << 31)

/* Nested page tables use the x86-64 format; guest accesses count as user accesses, so U/S is
 * set at every level (APM Vol. 2 15.25.5). */
#define NPT_BITS (PTE_P | PTE_RW | (1ull << 2))
static const struct pt_format npt_format = {
    .table_bits = NPT_BITS,
    .present_mask = PTE_P,
    .large_bit = PTE_PS,
};

struct arch_vm {
    uint32_t id;
    uint64_t npt_root;
};

struct arch_vcpu {
    struct vcpu_gprs gprs; /* rax lives in the VMCB: gprs.rax is synced around each run */
    struct arch_vm *vm;
    uint32_t id;
    uint32_t asid;
    int32_t last_cpu;
    uint64_t vmcb_pa;
    uint64_t timer_deadline_tsc;
    uint32_t dirty;        /* VMCB clean bits to drop at the next VMRUN */
    bool window;           /* interrupt window asked for (vcpu_irq_window) */
    uint8_t tpr;           /* the TPR last loaded (V_TPR keeps only its class) */
    uint8_t tpr_class;     /* class of the interrupt TPR holds back, 0 = none */
    struct xstate xs;      /* x87/SSE/AVX, XCR0, DR0-3: not in the VMCB */
    uint64_t tsc_aux;      /* not in the VMCB either */
    uint8_t shadow_kept;   /* consecutive runs that ended in a shadow the CPU dropped and this
                              backend set again (svm_shadow_dropped) */
    uint64_t shadow_restores;
};

/* A shadow the CPU dropped is kept for at most this many runs in a row: a guest looping on
 * one instruction (`sti; jmp .`) retires it between exits at the same RIP, and must get its
 * interrupt after a few exits rather than never. */
#define SHADOW_KEEP_MAX 8
/* While a kept shadow holds, the VMM's interrupt window comes from the timer this soon
 * (a V_IRQ would be taken at once, before the shadowed instruction, by the same CPU). */
#define SHADOW_STEP_PER_S 50000 /* 20 us */

static struct svm_caps caps;
static bool usable;
static uint64_t iopm_pa, msrpm_pa;
static uint64_t host_save_pa[MAX_CPUS];  /* VMSAVE area for the host's hidden state */
static struct arch_vcpu *last_run_on[MAX_CPUS];
static uint64_t hw_tsc_aux[MAX_CPUS];     /* what each pCPU's TSC_AUX holds */
static bool has_tsc_aux;

void svm_enter(struct vcpu_gprs *gprs, uint64_t vmcb_pa, uint64_t host_save_pa);

#define VMCB8(v, off)  (*(volatile uint8_t *)(uintptr_t)((v)->vmcb_pa + (off)))
#define VMCB16(v, off) (*(volatile uint16_t *)(uintptr_t)((v)->vmcb_pa + (off)))
#define VMCB32(v, off) (*(volatile uint32_t *)(uintptr_t)((v)->vmcb_pa + (off)))
#define VMCB64(v, off) (*(volatile uint64_t *)(uintptr_t)((v)->vmcb_pa + (off)))

/* The shadow the guest is in is one the CPU dropped and this backend set again. */
static bool kept_shadow(struct arch_vcpu *v)
{
    return v->shadow_kept && (VMCB64(v, VMCB_INT_SHADOW) & 1);
}

/* ---- probe ---- */

static const char *svm_probe(char *line, size_t size)
{
    struct svm_cpuid in = { 0 };
    in.cpuid1_ecx = cpuid(1, 0).ecx;
    if (cpuid(0x80000000u, 0).eax >= 0x80000001u)
        in.ext1_ecx = cpuid(0x80000001u, 0).ecx;
    if (!svm_cpuid_present(in.ext1_ecx)) {
        fmt_snprintf(line, size, "svm: absent (CPUID 0x80000001:ECX.SVM=0)");
        return "no SVM";
    }
    struct cpuid_regs a = cpuid(0x8000000au, 0);
    in.a_eax = a.eax;
    in.a_ebx = a.ebx;
    in.a_edx = a.edx;
    in.vm_cr_valid = rdmsr_safe(MSR_VM_CR, &in.vm_cr) == 0;
    svm_caps_decode(&in, &caps);
    svm_caps_format(&caps, line, size);
    const char *why = svm_caps_unusable(&caps);
    usable = !why;
    has_tsc_aux = cpuid_has_tsc_aux(cpuid);
    return why;
}

/* ---- per pCPU ---- */

static int svm_cpu_enable(void)
{
    uint32_t cpu = cpu_index();
    if (!usable)
        return -1;
    if (!host_save_pa[cpu]) {
        host_save_pa[cpu] = phys_alloc_pages(1);
        uint64_t hsave = phys_alloc_pages(1);
        if (!host_save_pa[cpu] || !hsave) {
            kprintf("svm: cpu %u: out of memory for the host save areas\n", cpu);
            return -1;
        }
        wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SVME);
        wrmsr(MSR_VM_HSAVE_PA, hsave);
        hw_tsc_aux[cpu] = has_tsc_aux ? rdmsr(MSR_TSC_AUX) : 0;
    }
    return 0;
}

/* ---- VMs ---- */

static struct arch_vm vms[64];
static uint32_t nvms;

static struct arch_vm *svm_vm_create(uint32_t vm_id)
{
    /* Permission maps shared by every vCPU: intercept all port I/O (IOPM, 12 KiB) and every
     * MSR (MSRPM, 8 KiB) (APM Vol. 2 15.10, 15.11). */
    if (!iopm_pa) {
        iopm_pa = phys_alloc_pages(3);
        msrpm_pa = phys_alloc_pages(2);
        if (!iopm_pa || !msrpm_pa)
            return NULL;
        memset((void *)(uintptr_t)iopm_pa, 0xff, 3 * 4096);
        memset((void *)(uintptr_t)msrpm_pa, 0xff, 2 * 4096);
        /* Pass through what is safe without the VMM (MSRPM: two bits per MSR, read then
         * write; MSRs 0-1FFFh at byte 0, C000_0000h-C000_1FFFh at byte 800h; APM 15.11):
         * reads and writes of FS/GS/KernelGS base (VMLOAD/VMSAVE switch them, APM 15.5.2;
         * Linux writes KernelGS base at every task switch); reads of the TSC and of the other
         * MSRs VMLOAD/VMSAVE switch (STAR, LSTAR, CSTAR, SFMASK, SYSENTER_*) and of TSC_AUX,
         * which hold the vCPU's own values while it runs.  Their writes exit and are
         * validated (svm_vcpu_msr): QEMU's TCG takes non-canonical values the CPU refuses. */
        static const struct { uint32_t msr; bool write; } pass[] = {
            { MSR_FS_BASE, true }, { MSR_FS_BASE + 1, true }, { MSR_KERNEL_GS_BASE, true },
            { MSR_STAR, false }, { MSR_LSTAR, false }, { MSR_CSTAR, false },
            { MSR_SFMASK, false }, { MSR_SYSENTER_CS, false }, { MSR_SYSENTER_ESP, false },
            { MSR_SYSENTER_EIP, false }, { 0x10 /* IA32_TSC */, false }, { MSR_TSC_AUX, false },
        };
        uint8_t *pm = (uint8_t *)(uintptr_t)msrpm_pa;
        for (unsigned i = 0; i < sizeof(pass) / sizeof(pass[0]); i++) {
            uint32_t msr = pass[i].msr;
            uint32_t bit = 2 * (msr & 0x1fff) + (msr >= 0xc0000000u ? 8 * 0x800 : 0);
            pm[bit / 8] &= (uint8_t)~((pass[i].write ? 3u : 1u) << (bit % 8));
        }
    }
    if (nvms == sizeof(vms) / sizeof(vms[0]))
        return NULL;
    struct arch_vm *vm = &vms[nvms];
    vm->id = vm_id;
    vm->npt_root = phys_alloc_pages(1);
    if (!vm->npt_root) {
        kprintf("svm: out of memory for a nested page table root\n");
        return NULL;
    }
    nvms++;
    return vm;
}

static int svm_vm_map(struct arch_vm *vm, uint64_t gpa, uint64_t hpa, uint64_t size)
{
    return pt_map(&npt_format, &phys_pt_mem, vm->npt_root, gpa, hpa, size, NPT_BITS, PT_SIZE_2M);
}

/* ---- vCPUs ---- */

static struct arch_vcpu vcpus[256];
static uint32_t nvcpus;

static void set_segment(struct arch_vcpu *v, unsigned off, uint16_t sel, uint16_t attr,
                        uint32_t limit, uint64_t base)
{
    VMCB16(v, off) = sel;
    VMCB16(v, off + 2) = attr;
    VMCB32(v, off + 4) = limit;
    VMCB64(v, off + 8) = base;
}

static struct arch_vcpu *svm_vcpu_create(struct arch_vm *vm, uint32_t vcpu_id,
                                         const struct vcpu_start *s)
{
    if (nvcpus == sizeof(vcpus) / sizeof(vcpus[0]))
        return NULL;
    struct arch_vcpu *v = &vcpus[nvcpus];
    memset(v, 0, sizeof(*v));
    v->vm = vm;
    v->id = vcpu_id;
    v->last_cpu = -1;
    /* ASID 0 is the host's; when vCPUs outnumber ASIDs they share, and every switch flushes. */
    v->asid = 1 + nvcpus % (caps.asids - 1);
    v->vmcb_pa = phys_alloc_pages(1);
    if (!v->vmcb_pa || xstate_init(&v->xs) < 0)
        return NULL;
    nvcpus++;

    VMCB32(v, VMCB_INTERCEPT_EXC) = 0;
    /* Writes of DR7 (and DR5, its alias while CR4.DE = 0): the VMM puts the value into the
     * VMCB, so the CPU arms the guest's breakpoints only from there, at VMRUN.  (QEMU's TCG
     * arms them on the MOV itself and keeps them armed in other VMs; on hardware this costs
     * an exit per DR7 write.) */
    VMCB32(v, VMCB_INTERCEPT_DR) = (1u << (16 + 5)) | (1u << (16 + 7));
    /* Everything the VMM emulates or refuses (vmm/README.md has the table). */
    VMCB32(v, VMCB_INTERCEPT_MISC1) = MISC1_INTR | MISC1_NMI | MISC1_CPUID | MISC1_HLT |
                                       MISC1_IOIO | MISC1_MSR | MISC1_SHUTDOWN | MISC1_RDPMC |
                                       MISC1_INVD | MISC1_INVLPGA;
    VMCB32(v, VMCB_INTERCEPT_MISC2) = MISC2_SVM_INSNS | MISC2_WBINVD | MISC2_MONITOR |
                                       MISC2_MWAIT | MISC2_XSETBV | MISC2_RDPRU;
    VMCB64(v, VMCB_IOPM_BASE) = iopm_pa;
    VMCB64(v, VMCB_MSRPM_BASE) = msrpm_pa;
    VMCB32(v, VMCB_ASID) = v->asid;
    VMCB64(v, VMCB_VINTR) = VINTR_MASKING; /* host IF governs physical interrupts */
    VMCB64(v, VMCB_NP_ENABLE) = 1;
    VMCB64(v, VMCB_N_CR3) = vm->npt_root;
    VMCB32(v, VMCB_CLEAN) = 0;

    /* Guest state: 64-bit mode, paging, flat segments (guest ABI v1).  Attributes use the
     * VMCB's packed format: type/S/DPL/P in bits 7:0, AVL/L/DB/G in bits 11:8. */
    uint16_t cs = s->cs ? s->cs : 0x08, ds = s->ds ? s->ds : 0x10;
    for (unsigned i = 0; i < 6; i++) /* ES, CS, SS, DS, FS, GS */
        set_segment(v, VMCB_ES + 16 * i, i == 1 ? cs : ds, i == 1 ? 0xa9b : 0xc93,
                    0xffffffff, 0);
    set_segment(v, VMCB_GDTR, 0, 0, s->gdt_limit, s->gdt_base);
    set_segment(v, VMCB_LDTR, 0, 0, 0, 0);
    set_segment(v, VMCB_IDTR, 0, 0, 0, 0);
    set_segment(v, VMCB_TR, 0, 0x8b, 0x67, 0);
    VMCB8(v, VMCB_CPL) = 0;
    /* EFER.SVME must be set in the guest's EFER for VMRUN (APM 15.5.1); the guest cannot
     * see it (every MSR access is intercepted) and its SVM instructions are intercepted. */
    VMCB64(v, VMCB_EFER) = (1ull << 8) | (1ull << 10) | EFER_NXE | EFER_SVME;
    VMCB64(v, VMCB_CR0) = CR0_PE | (1ull << 1) | (1ull << 4) | (1ull << 5) | CR0_WP | CR0_PG;
    VMCB64(v, VMCB_CR3) = s->cr3;
    VMCB64(v, VMCB_CR4) = CR4_PAE;
    VMCB64(v, VMCB_DR7) = 0x400;
    VMCB64(v, VMCB_DR6) = 0xffff0ff0;
    VMCB64(v, VMCB_RFLAGS) = 0x2;
    VMCB64(v, VMCB_RIP) = s->rip;
    VMCB64(v, VMCB_RSP) = s->rsp;
    VMCB64(v, VMCB_RAX) = 0;
    VMCB64(v, VMCB_G_PAT) = 0x0007040600070406ull;
    v->gprs.rdi = s->rdi;
    v->gprs.rsi = s->rsi;
    return v;
}

/* The state after INIT, then STARTUP's CS:IP (APM Vol. 2 14.1.3 "Processor Initialization
 * State", 16.5): the CPU runs real mode natively under SVM with nested paging.  The vCPU has
 * never run (it waited for SIPI), so its VMCB is nowhere in use. */
static bool svm_vcpu_sipi(struct arch_vcpu *v, uint8_t vector)
{
    memset(&v->gprs, 0, sizeof(v->gprs));
    for (unsigned i = 0; i < 6; i++) /* ES, CS, SS, DS, FS, GS: present, accessed */
        set_segment(v, VMCB_ES + 16 * i, i == 1 ? (uint16_t)(vector << 8) : 0,
                    i == 1 ? 0x9b : 0x93, 0xffff, i == 1 ? (uint64_t)vector << 12 : 0);
    set_segment(v, VMCB_GDTR, 0, 0, 0xffff, 0);
    set_segment(v, VMCB_LDTR, 0, 0x82, 0xffff, 0);
    set_segment(v, VMCB_IDTR, 0, 0, 0xffff, 0);
    set_segment(v, VMCB_TR, 0, 0x8b, 0xffff, 0);
    VMCB8(v, VMCB_CPL) = 0;
    VMCB64(v, VMCB_EFER) = EFER_SVME;
    VMCB64(v, VMCB_CR0) = 1ull << 4; /* ET */
    VMCB64(v, VMCB_CR3) = 0;
    VMCB64(v, VMCB_CR4) = 0;
    VMCB64(v, VMCB_DR7) = 0x400;
    VMCB64(v, VMCB_DR6) = 0xffff0ff0;
    VMCB64(v, VMCB_RFLAGS) = 0x2;
    VMCB64(v, VMCB_RIP) = 0;
    VMCB64(v, VMCB_RSP) = 0;
    VMCB64(v, VMCB_RAX) = 0;
    VMCB64(v, VMCB_EVENTINJ) = 0;
    VMCB64(v, VMCB_INT_SHADOW) = 0;
    VMCB64(v, VMCB_G_PAT) = 0x0007040600070406ull;
    v->dirty = ~0u;
    return true;
}

static void svm_vcpu_dump(struct arch_vcpu *v)
{
    kprintf("  vmcb: cr0=%lx cr3=%lx cr4=%lx efer=%lx rip=%lx rsp=%lx rflags=%lx cs=%x/%x "
            "exitintinfo=%lx\n",
            VMCB64(v, VMCB_CR0), VMCB64(v, VMCB_CR3), VMCB64(v, VMCB_CR4), VMCB64(v, VMCB_EFER),
            VMCB64(v, VMCB_RIP), VMCB64(v, VMCB_RSP), VMCB64(v, VMCB_RFLAGS),
            VMCB16(v, VMCB_ES + 16), VMCB16(v, VMCB_ES + 18), VMCB64(v, VMCB_EXITINTINFO));
}

/* Decode the exit (svm_exit.c) and take its side effects: a physical interrupt is still
 * pending after the exit, so the host takes it through its IDT; an invalid VMCB is reported. */
static void decode_exit(struct arch_vcpu *v, struct vexit *e)
{
    struct svm_exit_raw raw = {
        .code = VMCB64(v, VMCB_EXITCODE),
        .info1 = VMCB64(v, VMCB_EXITINFO1),
        .info2 = VMCB64(v, VMCB_EXITINFO2),
        .rip = VMCB64(v, VMCB_RIP),
        .nrip = VMCB64(v, VMCB_NRIP),
        .has_nrip = caps.nrips,
    };
    svm_exit_decode(&raw, e);
    if (e->reason == VEXIT_EXTINT || e->reason == VEXIT_NMI) {
        __asm__ volatile("sti; nop; cli" ::: "memory");
        bool timer = lapic_timer_take_expired() ||
                     (v->timer_deadline_tsc && rdtsc() >= v->timer_deadline_tsc);
        if (e->reason == VEXIT_EXTINT && timer)
            e->reason = VEXIT_TIMER;
    } else if (e->reason == VEXIT_ENTRY_FAILED) {
        kprintf("svm: VMRUN failed: VMEXIT_INVALID (illegal guest state in the VMCB, APM Vol. 2 "
                "15.5.1)\n");
        svm_vcpu_dump(v);
    }
}

static void svm_vcpu_run(struct arch_vcpu *v, struct vexit *e)
{
    uint32_t cpu = cpu_index();
    /* Flush this ASID's translations when the vCPU comes to a pCPU it was not on last, or
     * when its ASID is shared and another vCPU ran here in between. */
    bool shared_asid = nvcpus >= caps.asids;
    bool moved = v->last_cpu != (int32_t)cpu || last_run_on[cpu] != v;
    VMCB8(v, VMCB_TLB_CONTROL) =
        (v->last_cpu != (int32_t)cpu || (shared_asid && last_run_on[cpu] != v)) ? 1 : 0;
    /* VMCB clean bits (APM 15.15): nothing the VMM sets once at creation changes later, so
     * everything is clean, except after the VMCB moved or another one ran on this pCPU. */
    VMCB32(v, VMCB_CLEAN) = caps.vmcb_clean && !moved ? 0xfffu & ~v->dirty : 0;
    v->dirty = 0;
    v->last_cpu = (int32_t)cpu;
    last_run_on[cpu] = v;
    bool shadow_in = VMCB64(v, VMCB_INT_SHADOW) & 1;
    uint64_t rip_in = VMCB64(v, VMCB_RIP);
    uint64_t deadline = v->timer_deadline_tsc;
    if (v->window && kept_shadow(v)) {
        uint64_t soon = rdtsc() + tsc_hz() / SHADOW_STEP_PER_S;
        deadline = deadline && deadline < soon ? deadline : soon;
    }
    lapic_timer_arm(deadline);
    if (has_tsc_aux && hw_tsc_aux[cpu] != v->tsc_aux)
        wrmsr(MSR_TSC_AUX, hw_tsc_aux[cpu] = v->tsc_aux);
    xstate_enter(&v->xs);
    VMCB64(v, VMCB_RAX) = v->gprs.rax;
    svm_enter(&v->gprs, v->vmcb_pa, host_save_pa[cpu]);
    xstate_sync_xcr0(&v->xs);
    v->gprs.rax = VMCB64(v, VMCB_RAX);
    /* An event whose delivery the exit interrupted is in EXITINTINFO; inject it again
     * (APM Vol. 2 15.7.2). */
    uint64_t pending = VMCB64(v, VMCB_EXITINTINFO);
    VMCB64(v, VMCB_EVENTINJ) = (pending & EVENT_VALID) ? pending : 0;
    struct svm_shadow_run sr = {
        .entered_in_shadow = shadow_in,
        .entry_rip = rip_in,
        .exit_code = VMCB64(v, VMCB_EXITCODE),
        .exit_rip = VMCB64(v, VMCB_RIP),
        .exit_in_shadow = VMCB64(v, VMCB_INT_SHADOW) & 1,
        .exit_int_info = (pending & EVENT_VALID) != 0,
    };
    if (svm_shadow_dropped(&sr) && v->shadow_kept < SHADOW_KEEP_MAX) {
        /* No instruction retired: the shadow holds (APM Vol. 2 15.21.5), so the VMM's
         * injection waits until the guest's next instruction has run. */
        VMCB64(v, VMCB_INT_SHADOW) |= 1;
        v->shadow_kept++;
        if (v->shadow_restores++ == 0)
            kprintf("svm: vm %u vcpu %u: the CPU dropped the guest's interrupt shadow at VMRUN "
                    "(QEMU before 9.1 does not load INT_SHADOW); vsched keeps it\n",
                    v->vm->id - 1, v->id);
    } else {
        v->shadow_kept = 0;
    }
    decode_exit(v, e);
    if (e->reason != VEXIT_TIMER)
        lapic_timer_arm(0);
}

/* A VMCB may be run on any pCPU at any time: VMRUN reads it and #VMEXIT writes it back.
 * What is not in it goes to memory here. */
static void svm_vcpu_put(struct arch_vcpu *v)
{
    xstate_leave(&v->xs);
}

static struct vcpu_gprs *svm_vcpu_gprs(struct arch_vcpu *v)
{
    return &v->gprs;
}

static uint64_t svm_vcpu_rip(struct arch_vcpu *v)
{
    return VMCB64(v, VMCB_RIP);
}

static void svm_vcpu_set_rip(struct arch_vcpu *v, uint64_t rip)
{
    VMCB64(v, VMCB_RIP) = rip;
    VMCB64(v, VMCB_INT_SHADOW) &= ~1ull; /* the shadow covered the instruction stepped over */
    v->shadow_kept = 0;
}

static bool svm_vcpu_if_set(struct arch_vcpu *v)
{
    return (VMCB64(v, VMCB_RFLAGS) >> 9) & 1;
}

static bool svm_vcpu_irq_ready(struct arch_vcpu *v)
{
    return svm_vcpu_if_set(v) && !(VMCB64(v, VMCB_INT_SHADOW) & 1) &&
           !(VMCB64(v, VMCB_EVENTINJ) & EVENT_VALID);
}

static void svm_vcpu_inject_irq(struct arch_vcpu *v, uint8_t vector)
{
    VMCB64(v, VMCB_EVENTINJ) = vector | EVENT_VALID; /* type 0: external interrupt (15.20) */
}

/* V_TPR (the guest's CR8) and the virtual interrupt request that makes the guest exit as soon
 * as it can take an interrupt (window; VINTR intercepted).  While TPR holds an interrupt back,
 * CR8 writes exit instead (as KVM does): a V_IRQ with a priority would do it without exits,
 * but QEMU's TCG aborts (an assertion without its global lock) when a CR8 write lets such a
 * request in, and compares with >= where the APM says >. */
static void update_vintr(struct arch_vcpu *v)
{
    uint64_t vintr = VMCB64(v, VMCB_VINTR) & ~(VINTR_REQUEST | VINTR_V_TPR);
    vintr |= (uint64_t)(v->tpr >> 4);
    bool request = v->window && !kept_shadow(v);
    if (request)
        vintr |= VINTR_REQUEST;
    uint32_t misc1 = VMCB32(v, VMCB_INTERCEPT_MISC1), cr = VMCB32(v, VMCB_INTERCEPT_CR);
    VMCB64(v, VMCB_VINTR) = vintr;
    VMCB32(v, VMCB_INTERCEPT_MISC1) = request ? misc1 | MISC1_VINTR : misc1 & ~MISC1_VINTR;
    VMCB32(v, VMCB_INTERCEPT_CR) = v->tpr_class ? cr | CR8_WRITE : cr & ~CR8_WRITE;
    v->dirty |= CLEAN_INTERCEPTS | CLEAN_TPR;
}

static void svm_vcpu_irq_window(struct arch_vcpu *v, bool on)
{
    v->window = on;
    update_vintr(v);
}

static void svm_vcpu_tpr_load(struct arch_vcpu *v, uint8_t tpr, uint8_t blocked_class)
{
    v->tpr = tpr;
    v->tpr_class = blocked_class;
    update_vintr(v);
}

/* CR8 writes keep only the class; sub-class bits written through the x2APIC TPR survive
 * while the class is unchanged. */
static uint8_t svm_vcpu_tpr_save(struct arch_vcpu *v)
{
    uint8_t cls = (uint8_t)(VMCB64(v, VMCB_VINTR) & VINTR_V_TPR);
    return cls == v->tpr >> 4 ? v->tpr : (uint8_t)(cls << 4);
}

static uint64_t svm_vcpu_get_reg(struct arch_vcpu *v, enum vcpu_reg reg)
{
    switch (reg) {
    case VCPU_REG_CR0: return VMCB64(v, VMCB_CR0);
    case VCPU_REG_CR3: return VMCB64(v, VMCB_CR3);
    case VCPU_REG_CR4: return VMCB64(v, VMCB_CR4);
    case VCPU_REG_RSP: return VMCB64(v, VMCB_RSP);
    case VCPU_REG_DR7: return VMCB64(v, VMCB_DR7);
    case VCPU_REG_CPL: return VMCB8(v, VMCB_CPL);
    case VCPU_REG_XCR0: return v->xs.xcr0;
    }
    return 0;
}

static bool svm_vcpu_set_reg(struct arch_vcpu *v, enum vcpu_reg reg, uint64_t value)
{
    switch (reg) {
    case VCPU_REG_XCR0: return xstate_set_xcr0(&v->xs, 0, value);
    case VCPU_REG_DR7:
        VMCB64(v, VMCB_DR7) = value;
        v->dirty |= 1u << 6; /* DRx clean bit: DR6, DR7 */
        return true;
    case VCPU_REG_RSP: VMCB64(v, VMCB_RSP) = value; return true;
    default: return false;
    }
}

/* VMCB offset of an MSR that VMLOAD/VMSAVE switch, 0 for others. */
static unsigned vmcb_msr_offset(uint32_t msr)
{
    switch (msr) {
    case MSR_STAR: return VMCB_STAR;
    case MSR_LSTAR: return VMCB_LSTAR;
    case MSR_CSTAR: return VMCB_CSTAR;
    case MSR_SFMASK: return VMCB_SFMASK;
    case MSR_KERNEL_GS_BASE: return VMCB_KERNEL_GS_BASE;
    case MSR_SYSENTER_CS: return VMCB_SYSENTER_CS;
    case MSR_SYSENTER_ESP: return VMCB_SYSENTER_ESP;
    case MSR_SYSENTER_EIP: return VMCB_SYSENTER_EIP;
    case MSR_PAT: return VMCB_G_PAT; /* the guest's PAT under nested paging (15.25.8) */
    default: return 0;
    }
}

static enum arch_msr_result svm_vcpu_msr(struct arch_vcpu *v, bool write, uint32_t msr,
                                         uint64_t *value)
{
    if (msr == MSR_EFER) {
        /* The guest never sees SVME, which VMRUN needs set in its EFER (15.5.1). */
        uint64_t efer = VMCB64(v, VMCB_EFER) & ~EFER_SVME, out;
        if (!write) {
            *value = efer;
            return ARCH_MSR_OK;
        }
        if (!msr_efer_write(efer, *value, VMCB64(v, VMCB_CR0) & CR0_PG, &out))
            return ARCH_MSR_GP;
        VMCB64(v, VMCB_EFER) = out | EFER_SVME;
        v->dirty |= 1u << 5; /* CRx clean bit: EFER, CR0, CR3, CR4 */
        return ARCH_MSR_OK;
    }
    if (msr == MSR_TSC_AUX) {
        if (!has_tsc_aux)
            return ARCH_MSR_NOT_MINE;
        if (write) {
            if (!msr_write_valid(msr, *value))
                return ARCH_MSR_GP;
            v->tsc_aux = *value;
            uint32_t cpu = cpu_index();
            if (hw_tsc_aux[cpu] != *value)
                wrmsr(MSR_TSC_AUX, hw_tsc_aux[cpu] = *value);
        } else {
            *value = v->tsc_aux;
        }
        return ARCH_MSR_OK;
    }
    unsigned off = vmcb_msr_offset(msr);
    if (!off)
        return ARCH_MSR_NOT_MINE;
    if (!write) {
        *value = VMCB64(v, off);
        return ARCH_MSR_OK;
    }
    if (!msr_write_valid(msr, *value))
        return ARCH_MSR_GP;
    VMCB64(v, off) = *value;
    if (msr == MSR_PAT)
        v->dirty |= 1u << 4; /* NP clean bit: nCR3, gPAT */
    return ARCH_MSR_OK;
}

static void svm_vcpu_inject_exception(struct arch_vcpu *v, uint8_t vector, bool has_error,
                                      uint32_t error)
{
    /* EVENTINJ: vector, type 3 (exception), error code valid, valid (APM Vol. 2 15.20). */
    VMCB64(v, VMCB_EVENTINJ) = vector | (3ull << 8) | (has_error ? 1ull << 11 : 0) |
                               (1ull << 31) | ((uint64_t)error << 32);
}

static void svm_vcpu_set_timer(struct arch_vcpu *v, uint64_t deadline_tsc)
{
    v->timer_deadline_tsc = deadline_tsc;
}

/* RDTSCP and INVPCID are not intercepted: they run on the vCPU's own TSC_AUX and ASID. */
static void svm_guest_caps(struct arch_guest_caps *out)
{
    out->rdtscp = has_tsc_aux;
    out->invpcid = true;
}

const struct arch_ops svm_arch_ops = {
    .name = "svm",
    .probe = svm_probe,
    .cpu_enable = svm_cpu_enable,
    .vm_create = svm_vm_create,
    .vm_map = svm_vm_map,
    .vcpu_create = svm_vcpu_create,
    .vcpu_run = svm_vcpu_run,
    .vcpu_put = svm_vcpu_put,
    .vcpu_gprs = svm_vcpu_gprs,
    .vcpu_rip = svm_vcpu_rip,
    .vcpu_set_rip = svm_vcpu_set_rip,
    .vcpu_inject_exception = svm_vcpu_inject_exception,
    .vcpu_irq_ready = svm_vcpu_irq_ready,
    .vcpu_inject_irq = svm_vcpu_inject_irq,
    .vcpu_irq_window = svm_vcpu_irq_window,
    .vcpu_if_set = svm_vcpu_if_set,
    .vcpu_set_timer = svm_vcpu_set_timer,
    .vcpu_tpr_load = svm_vcpu_tpr_load,
    .vcpu_tpr_save = svm_vcpu_tpr_save,
    .vcpu_get_reg = svm_vcpu_get_reg,
    .vcpu_set_reg = svm_vcpu_set_reg,
    .vcpu_msr = svm_vcpu_msr,
    .guest_caps = svm_guest_caps,
    .vcpu_sipi = svm_vcpu_sipi,
    .vcpu_dump = svm_vcpu_dump,
};
