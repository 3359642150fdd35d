/* VT-x backend: VMXON per pCPU, one VMCS per vCPU, EPT per VM (SDM Vol. 3C chapters 24-29).
 *
 * A vCPU's VMCS is made current on the pCPU that runs it; a pCPU that switches to another vCPU
 * first VMCLEARs the one it had, so any vCPU can later be loaded on any pCPU (SDM Vol. 3C
 * 25.11.1).  Per-pCPU host fields (TR, GS base) are rewritten at each load. */
#include <string.h>

#include "vmm/arch.h"
#include "vmm/console.h"
#include "vmm/cpu.h"
#include "vmm/cpuid.h"
#include "vmm/fmt.h"
#include "vmm/lapic.h"
#include "vmm/mem.h"
#include "vmm/msr_rules.h"
#include "vmm/pagetable.h"
#include "vmm/vmx/ept.h"
#include "vmm/vmx/vmcs.h"
#include "vmm/vmx/vmx_caps.h"
#include "vmm/vmx/vmx_ctls.h"
#include "vmm/vmx/vmx_exit.h"
#include "vmm/x86.h"
#include "vmm/xstate.h"

#define MSR_VMX_PINBASED       0x481
#define MSR_VMX_MISC           0x485
#define MSR_VMX_CR0_FIXED0     0x486
#define MSR_VMX_CR0_FIXED1     0x487
#define MSR_VMX_CR4_FIXED0     0x488
#define MSR_VMX_CR4_FIXED1     0x489
#define MSR_VMX_PROCBASED2     0x48b
#define MSR_VMX_EPT_VPID       0x48c
#define MSR_VMX_TRUE_PINBASED  0x48d
#define MSR_IA32_PAT           0x277
#define CR4_VMXE               (1ull << 13)
#define CR4_PAE_BIT            (1ull << 5)
#define CR0_NE                 (1ull << 5)
#define CR0_NW                 (1ull << 29)
#define CR0_CD                 (1ull << 30)
#define FC_LOCK                (1ull << 0)
#define FC_VMX_OUTSIDE_SMX     (1ull << 2)

struct arch_vm {
    uint32_t id;
    uint64_t ept_root;
};

struct arch_vcpu {
    struct vcpu_gprs gprs; /* first: vmx_enter saves into it */
    struct arch_vm *vm;
    uint32_t id;
    uint16_t vpid;
    uint64_t vmcs_pa;
    bool launched;         /* VMLAUNCH done since the last VMCLEAR */
    int32_t loaded_cpu;    /* pCPU whose current VMCS this is, or -1 */
    int32_t last_cpu;      /* pCPU it last ran on, or -1 */
    bool initialized;      /* VMCS fields written */
    uint64_t timer_deadline_tsc;
    struct vcpu_start start;
    uint64_t vapic_pa;     /* virtual-APIC page (TPR shadow, hardware posting), else 0 */
    bool hw_posted;        /* hardware posted interrupts and virtual-interrupt delivery */
    uint64_t pi_desc_pa;
    uint8_t pi_vector;
    bool ff_loaded;        /* vector 0xff was in IRR or ISR at the last apic_load */
    uint64_t ghost_ff;     /* deliveries of 0xff that nobody requested (Bochs 3.0) */
    uint8_t tpr;           /* without a TPR shadow: the guest's TPR (CR8 exits) */
    uint8_t tpr_threshold; /* as written to the VMCS */
    /* State VM entry and exit do not switch (SDM Vol. 3C 27.3, 28.3): kept here while the
     * vCPU is off its pCPU, loaded into the registers while it owns one. */
    struct xstate xs;      /* x87/SSE/AVX, XCR0, DR0-3 */
    uint64_t cr2, dr6;
    uint64_t star, lstar, cstar, sfmask, kernel_gs_base, tsc_aux;
    bool sipi_pending;     /* vcpu_sipi: reset to real mode at the next VMCS load */
    uint8_t sipi_vector;
};

/* Per pCPU: what its MSRs and DR6 hold, so a vCPU's values are written only when they
 * differ. */
struct hw_regs {
    uint64_t star, lstar, cstar, sfmask, kernel_gs_base, tsc_aux, dr6;
};

static struct vmx_msrs msrs;
static struct vmx_caps caps;
static struct vmx_controls ctls;
static bool ctls_ok;
static bool hw_posted;     /* posted-interrupt processing and virtual-interrupt delivery */
static uint64_t io_bitmaps_pa, msr_bitmap_pa;
static uint16_t next_vpid = 1;
/* Per pCPU: the VMXON region and the vCPU whose VMCS is current there. */
static uint64_t vmxon_pa[MAX_CPUS];
static struct arch_vcpu *current_on[MAX_CPUS];
static struct hw_regs hw_regs[MAX_CPUS];

int vmx_enter(struct vcpu_gprs *gprs, int launched);
extern char vmx_exit_point[];

/* ---- VMX instructions (SDM Vol. 3C 31.2: CF=1 VMfailInvalid, ZF=1 VMfailValid) ---- */

static int vmx_op_result(bool cf, bool zf)
{
    return cf ? 1 : zf ? 2 : 0;
}

static int vmxon(uint64_t pa)
{
    bool cf, zf;
    __asm__ volatile("vmxon %2" : "=@ccc"(cf), "=@ccz"(zf) : "m"(pa) : "memory");
    return vmx_op_result(cf, zf);
}

static int vmclear(uint64_t pa)
{
    bool cf, zf;
    __asm__ volatile("vmclear %2" : "=@ccc"(cf), "=@ccz"(zf) : "m"(pa) : "memory");
    return vmx_op_result(cf, zf);
}

static int vmptrld(uint64_t pa)
{
    bool cf, zf;
    __asm__ volatile("vmptrld %2" : "=@ccc"(cf), "=@ccz"(zf) : "m"(pa) : "memory");
    return vmx_op_result(cf, zf);
}

static uint64_t vmread(uint64_t field)
{
    uint64_t v = 0;
    __asm__ volatile("vmread %1, %0" : "=rm"(v) : "r"(field) : "cc");
    return v;
}

static bool vmwrite_failed;

static void vmwrite(uint64_t field, uint64_t value)
{
    bool cf, zf;
    __asm__ volatile("vmwrite %2, %3" : "=@ccc"(cf), "=@ccz"(zf) : "rm"(value), "r"(field)
                     : "memory");
    if (cf || zf) {
        vmwrite_failed = true;
        kprintf("vmx: VMWRITE of field 0x%04lx failed (error %lu)\n", field,
                zf ? vmread(VMCS_INSN_ERROR) : 0);
    }
}

/* Drop the cached translations of VPID (SDM Vol. 3C 29.4.3.3): a vCPU that comes back to a
 * pCPU may find entries there that its guest has since invalidated elsewhere.  Single-context
 * (type 1) when supported (EPT_VPID_CAP[41]), else all-context (type 2, [42]). */
static void invvpid_flush(uint16_t vpid)
{
    struct {
        uint64_t vpid, linear;
    } desc = { vpid, 0 };
    uint64_t type = (msrs.ept_vpid >> 41) & 1 ? 1 : 2;
    if ((msrs.ept_vpid >> 32) & 1) /* INVVPID supported */
        __asm__ volatile("invvpid %0, %1" : : "m"(desc), "r"(type) : "cc", "memory");
}

static void invept_all(void)
{
    struct {
        uint64_t eptp, zero;
    } desc = { 0, 0 };
    /* Type 2: all-context (SDM Vol. 3C 29.4.3.1); only when supported (EPT_VPID_CAP[26]). */
    if ((msrs.ept_vpid >> 26) & 1)
        __asm__ volatile("invept %0, %1" : : "m"(desc), "r"(2ull) : "cc", "memory");
}

/* ---- probe ---- */

static uint64_t msr_or_zero(uint32_t msr)
{
    uint64_t v;
    return rdmsr_safe(msr, &v) == 0 ? v : 0;
}

static const char *vmx_probe(char *line, size_t size)
{
    memset(&msrs, 0, sizeof(msrs));
    msrs.cpuid1_ecx = cpuid(1, 0).ecx;
    if (!vmx_cpuid_present(msrs.cpuid1_ecx)) {
        fmt_snprintf(line, size, "vmx: absent (CPUID.1:ECX.VMX=0)");
        return "no VMX";
    }
    msrs.basic = msr_or_zero(MSR_IA32_VMX_BASIC);
    /* The TRUE_* MSRs (when BASIC[55]) report the real default-1 controls (SDM Vol. 3D A.2). */
    uint32_t first = (msrs.basic >> 55) & 1 ? MSR_VMX_TRUE_PINBASED : MSR_VMX_PINBASED;
    msrs.pinbased = msr_or_zero(first);
    msrs.procbased = msr_or_zero(first + 1);
    msrs.exit = msr_or_zero(first + 2);
    msrs.entry = msr_or_zero(first + 3);
    msrs.misc = msr_or_zero(MSR_VMX_MISC);
    if ((msrs.procbased >> 63) & 1) {
        msrs.procbased2 = msr_or_zero(MSR_VMX_PROCBASED2);
        msrs.ept_vpid = msr_or_zero(MSR_VMX_EPT_VPID);
    }
    msrs.feature_control = msr_or_zero(MSR_IA32_FEATURE_CONTROL);
    vmx_caps_decode(&msrs, &caps);
    size_t n = vmx_caps_format(&caps, line, size);
    /* The raw values too: what every decision above came from. */
    if (n < size)
        fmt_snprintf(line + n, size - n,
                     "\nvmx: msrs basic=%016lx pin=%016lx proc=%016lx proc2=%016lx exit=%016lx "
                     "entry=%016lx misc=%lx ept_vpid=%016lx",
                     msrs.basic, msrs.pinbased, msrs.procbased, msrs.procbased2, msrs.exit,
                     msrs.entry, msrs.misc, msrs.ept_vpid);
    const char *why = vmx_caps_unusable(&caps);
    if (why)
        return why;
    const char *which;
    uint32_t missing;
    if (vmx_controls_compute(&msrs, &ctls, &which, &missing) < 0) {
        static char reason[96];
        fmt_snprintf(reason, sizeof(reason), "%s controls lack required bits 0x%x", which,
                     missing);
        return reason;
    }
    ctls_ok = true;
    hw_posted = vmx_posted_controls(&msrs, &ctls);
    /* What the backend does with what this CPU has. */
    n = strlen(line);
    if (n < size)
        fmt_snprintf(line + n, size - n,
                     "\nvmx: using timer=%s vpid=%s ept_pages=%s posted_interrupts=%s",
                     caps.preempt_timer ? "preemption" : "apic (no VMX-preemption timer)",
                     caps.vpid ? "on" : "off (every VM entry and exit flushes the TLB)",
                     caps.ept_1g ? "1g" : caps.ept_2m ? "2m" : "4k",
                     hw_posted ? "hardware (virtual-interrupt delivery)" : "software");
    return NULL;
}

/* ---- per pCPU ---- */

static int vmx_cpu_enable(void)
{
    uint32_t cpu = cpu_index();
    uint64_t fc = rdmsr(MSR_IA32_FEATURE_CONTROL);
    if (!(fc & FC_LOCK)) {
        wrmsr(MSR_IA32_FEATURE_CONTROL, fc | FC_LOCK | FC_VMX_OUTSIDE_SMX);
    } else if (!(fc & FC_VMX_OUTSIDE_SMX)) {
        kprintf("vmx: cpu %u: IA32_FEATURE_CONTROL is locked with VMX off (enable VT-x in the "
                "firmware setup)\n", cpu);
        return -1;
    }
    /* CR0/CR4 bits fixed in VMX operation (SDM Vol. 3D A.7, A.8). */
    uint64_t cr0 = (read_cr0() | rdmsr(MSR_VMX_CR0_FIXED0)) & rdmsr(MSR_VMX_CR0_FIXED1);
    uint64_t cr4 = (read_cr4() | rdmsr(MSR_VMX_CR4_FIXED0) | CR4_VMXE) &
                   rdmsr(MSR_VMX_CR4_FIXED1);
    write_cr0(cr0);
    write_cr4(cr4);
    if (!vmxon_pa[cpu]) {
        vmxon_pa[cpu] = phys_alloc_pages(1);
        if (!vmxon_pa[cpu]) {
            kprintf("vmx: cpu %u: out of memory for the VMXON region\n", cpu);
            return -1;
        }
        *(uint32_t *)(uintptr_t)vmxon_pa[cpu] = caps.vmcs_revision;
    }
    int rc = vmxon(vmxon_pa[cpu]);
    if (rc) {
        kprintf("vmx: cpu %u: VMXON failed (%s)\n", cpu,
                rc == 1 ? "VMfailInvalid: bad VMXON region or CR0/CR4" : "VMfailValid");
        return -1;
    }
    invept_all();
    struct hw_regs *h = &hw_regs[cpu];
    h->star = rdmsr(MSR_STAR);
    h->lstar = rdmsr(MSR_LSTAR);
    h->cstar = rdmsr(MSR_CSTAR);
    h->sfmask = rdmsr(MSR_SFMASK);
    h->kernel_gs_base = rdmsr(MSR_KERNEL_GS_BASE);
    h->tsc_aux = cpuid_has_tsc_aux(cpuid) ? rdmsr(MSR_TSC_AUX) : 0;
    __asm__ volatile("mov %%dr6, %0" : "=r"(h->dr6));
    return 0;
}

/* ---- VMs ---- */

static struct arch_vm vms[64];
static uint32_t nvms;

static int vmx_setup_bitmaps(void);

static struct arch_vm *vmx_vm_create(uint32_t vm_id)
{
    /* VMs are built on the BSP before any pCPU runs a vCPU, so every VMCS sees the bitmaps. */
    if (vmx_setup_bitmaps() < 0) {
        kprintf("vmx: out of memory for the I/O and MSR bitmaps\n");
        return NULL;
    }
    if (nvms == sizeof(vms) / sizeof(vms[0]))
        return NULL;
    struct arch_vm *vm = &vms[nvms];
    vm->id = vm_id;
    vm->ept_root = phys_alloc_pages(1);
    if (!vm->ept_root) {
        kprintf("vmx: out of memory for an EPT root\n");
        return NULL;
    }
    nvms++;
    return vm;
}

static int vmx_vm_map(struct arch_vm *vm, uint64_t gpa, uint64_t hpa, uint64_t size)
{
    uint64_t max = caps.ept_1g ? PT_SIZE_1G : caps.ept_2m ? PT_SIZE_2M : PT_SIZE_4K;
    return pt_map(&ept_format, &phys_pt_mem, vm->ept_root, gpa, hpa, size, EPT_LEAF_RAM,
                  max);
}

/* ---- vCPUs ---- */

static struct arch_vcpu vcpus[256];
static uint32_t nvcpus;

static struct arch_vcpu *vmx_vcpu_create(struct arch_vm *vm, uint32_t vcpu_id,
                                         const struct vcpu_start *start)
{
    if (nvcpus == sizeof(vcpus) / sizeof(vcpus[0]))
        return NULL;
    struct arch_vcpu *v = &vcpus[nvcpus];
    memset(v, 0, sizeof(*v));
    v->vm = vm;
    v->id = vcpu_id;
    v->start = *start;
    v->loaded_cpu = -1;
    v->last_cpu = -1;
    v->vpid = caps.vpid ? next_vpid++ : 0;
    v->vmcs_pa = phys_alloc_pages(1);
    if (!v->vmcs_pa)
        return NULL;
    *(uint32_t *)(uintptr_t)v->vmcs_pa = caps.vmcs_revision;
    v->gprs.rdi = start->rdi;
    v->gprs.rsi = start->rsi;
    v->dr6 = 0xffff0ff0; /* reset value (SDM Vol. 3B 18.2.3) */
    if (xstate_init(&v->xs) < 0)
        return NULL;
    if (ctls.proc & PROC_TPR_SHADOW) {
        v->vapic_pa = phys_alloc_pages(1);
        if (!v->vapic_pa)
            return NULL;
    }
    nvcpus++;
    return v;
}

struct dtr {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

/* Host fields that differ between pCPUs: written whenever the VMCS is loaded somewhere. */
static void write_host_percpu(void)
{
    struct dtr gdtr, idtr;
    uint16_t tr;
    __asm__ volatile("sgdt %0; sidt %1; str %2" : "=m"(gdtr), "=m"(idtr), "=r"(tr));
    const uint64_t *gdt = (const uint64_t *)(uintptr_t)gdtr.base;
    uint64_t lo = gdt[tr / 8], hi = gdt[tr / 8 + 1];
    uint64_t tr_base = ((lo >> 16) & 0xffffff) | ((lo >> 56) << 24) | (hi << 32);
    vmwrite(VMCS_HOST_TR_SEL, tr);
    vmwrite(VMCS_HOST_TR_BASE, tr_base);
    vmwrite(VMCS_HOST_GDTR_BASE, gdtr.base);
    vmwrite(VMCS_HOST_IDTR_BASE, idtr.base);
    vmwrite(VMCS_HOST_GS_BASE, rdmsr(MSR_GS_BASE));
    vmwrite(VMCS_HOST_CR3, read_cr3());
}

static void write_guest_segment(unsigned i, uint16_t sel, uint32_t limit, uint32_t ar)
{
    vmwrite(VMCS_GUEST_ES_SEL + 2 * i, sel);
    vmwrite(VMCS_GUEST_ES_LIMIT + 2 * i, limit);
    vmwrite(VMCS_GUEST_ES_AR + 2 * i, ar);
    vmwrite(VMCS_GUEST_ES_BASE + 2 * i, 0);
}

/* CR0 bits the guest may not hold as it likes in VMX operation (CR0_FIXED0/1, SDM Vol. 3D
 * A.7): with "unrestricted guest" PE and PG are free (SDM Vol. 3C 26.3.1.1), NE stays fixed
 * to 1.  Those fixed bits and PG are owned by the VMM (the guest/host mask) so the guest reads
 * its own values from the read shadow, and a MOV to CR0 that changes them exits: NE, because
 * Linux's real-mode trampoline writes CR0 = PE; PG, because turning paging on with EFER.LME
 * enters IA-32e mode, which the "IA-32e mode guest" entry control must follow (26.2.4,
 * 26.3.1.1; cr0_write). */
static uint64_t cr0_fixed0(void)
{
    uint64_t f = rdmsr(MSR_VMX_CR0_FIXED0);
    return (ctls.proc2 & PROC2_UNRESTRICTED) ? f & ~(CR0_PE | CR0_PG) : f;
}

static uint64_t cr0_owned(void)
{
    return (ctls.proc2 & PROC2_UNRESTRICTED) ? cr0_fixed0() | CR0_PG : 0;
}

static uint64_t cr0_hw(uint64_t guest_view)
{
    return (guest_view | cr0_fixed0()) & rdmsr(MSR_VMX_CR0_FIXED1);
}

/* INIT then STARTUP (SDM Vol. 3A 10.1.1 Table 10-1 "IA-32 and Intel 64 Processor States
 * Following Power-up, Reset, or INIT", 11.6.1): real mode, CS = VECTOR << 8 with base
 * VECTOR << 12, IP 0, other segments 0 with 64 KiB limits, CR0 = ET (+ NE in the hardware,
 * shadowed), CR3/CR4/EFER 0, DR7 0x400, registers 0.  Real mode runs as an unrestricted
 * guest: CS may then be a code segment of type 11, SS.DPL must be 0 (26.3.1.2). */
static void vmcs_sipi_reset(struct arch_vcpu *v)
{
    uint8_t vec = v->sipi_vector;
    v->sipi_pending = false;
    memset(&v->gprs, 0, sizeof(v->gprs));
    v->cr2 = 0;
    v->dr6 = 0xffff0ff0;
    vmwrite(VMCS_ENTRY_CTLS, ctls.entry & ~(uint64_t)ENTRY_IA32E_GUEST);
    vmwrite(VMCS_CR0_SHADOW, 1ull << 4);
    vmwrite(VMCS_GUEST_CR0, cr0_hw(1ull << 4));
    vmwrite(VMCS_CR4_SHADOW, 0);
    vmwrite(VMCS_GUEST_CR4, (CR4_VMXE | rdmsr(MSR_VMX_CR4_FIXED0)) & rdmsr(MSR_VMX_CR4_FIXED1));
    vmwrite(VMCS_GUEST_CR3, 0);
    vmwrite(VMCS_GUEST_EFER, 0);
    for (unsigned i = 0; i < 6; i++) /* ES, CS, SS, DS, FS, GS: present, accessed */
        write_guest_segment(i, i == 1 ? (uint16_t)(vec << 8) : 0, 0xffff, i == 1 ? 0x9b : 0x93);
    vmwrite(VMCS_GUEST_ES_BASE + 2 * 1, (uint64_t)vec << 12);
    write_guest_segment(6, 0, 0xffff, 0x82);  /* LDTR: an LDT, present */
    write_guest_segment(7, 0, 0xffff, 0x8b);  /* TR: busy TSS */
    vmwrite(VMCS_GUEST_GDTR_BASE, 0);
    vmwrite(VMCS_GUEST_GDTR_LIMIT, 0xffff);
    vmwrite(VMCS_GUEST_IDTR_BASE, 0);
    vmwrite(VMCS_GUEST_IDTR_LIMIT, 0xffff);
    vmwrite(VMCS_GUEST_DR7, 0x400);
    vmwrite(VMCS_GUEST_RSP, 0);
    vmwrite(VMCS_GUEST_RIP, 0);
    vmwrite(VMCS_GUEST_RFLAGS, 0x2);
    vmwrite(VMCS_GUEST_PENDING_DBG, 0);
    vmwrite(VMCS_GUEST_INTERRUPTIBILITY, 0);
    vmwrite(VMCS_GUEST_ACTIVITY, 0);
    vmwrite(VMCS_ENTRY_INTR_INFO, 0);
    if (ctls.entry & ENTRY_LOAD_PAT)
        vmwrite(VMCS_GUEST_PAT, 0x0007040600070406ull);
}

static void vmcs_init(struct arch_vcpu *v)
{
    const struct vcpu_start *s = &v->start;
    vmwrite_failed = false;

    /* Controls.  Software posting: the VMM injects; the virtual-interrupt delivery controls
     * stay off (the TPR shadow stays on: it keeps guest CR8 off the physical TPR). */
    uint32_t pin = ctls.pin & ~PIN_PREEMPTION_TIMER, proc2 = ctls.proc2;
    if (!v->hw_posted) {
        pin &= ~PIN_POSTED_INTERRUPTS;
        proc2 &= ~(PROC2_X2APIC_MODE | PROC2_VID);
    }
    vmwrite(VMCS_PIN_CTLS, pin);
    vmwrite(VMCS_PROC_CTLS, ctls.proc);
    vmwrite(VMCS_PROC_CTLS2, proc2);
    vmwrite(VMCS_EXIT_CTLS, ctls.exit);
    vmwrite(VMCS_ENTRY_CTLS, ctls.entry);
    vmwrite(VMCS_EXCEPTION_BITMAP, 0);
    vmwrite(VMCS_CR3_TARGET_COUNT, 0);
    vmwrite(VMCS_EXIT_MSR_STORE_COUNT, 0);
    vmwrite(VMCS_EXIT_MSR_LOAD_COUNT, 0);
    vmwrite(VMCS_ENTRY_MSR_LOAD_COUNT, 0);
    vmwrite(VMCS_ENTRY_INTR_INFO, 0);
    vmwrite(VMCS_IO_BITMAP_A, io_bitmaps_pa);
    vmwrite(VMCS_IO_BITMAP_B, io_bitmaps_pa + 4096);
    vmwrite(VMCS_MSR_BITMAP, msr_bitmap_pa);
    vmwrite(VMCS_EPT_POINTER, ept_pointer(v->vm->ept_root));
    if (ctls.proc2 & PROC2_VPID)
        vmwrite(VMCS_VPID, v->vpid);
    if (ctls.proc & PROC_TPR_SHADOW) {
        /* Guest CR8 reads and writes go to VTPR in this page (SDM Vol. 3C 29.3). */
        vmwrite(VMCS_VIRTUAL_APIC_ADDR, v->vapic_pa);
        vmwrite(VMCS_TPR_THRESHOLD, 0);
    }
    if (v->hw_posted) {
        /* SDM Vol. 3C 26.2.1.1: the virtual-APIC page and the descriptor aligned and in
         * range, the notification vector in bits 7:0.  Every x2APIC MSR access still exits
         * (the MSR bitmap), so only delivery is virtualized: no EOI-induced exits needed. */
        vmwrite(VMCS_PI_NOTIFY_VECTOR, v->pi_vector);
        vmwrite(VMCS_PI_DESC_ADDR, v->pi_desc_pa);
        for (unsigned i = 0; i < 4; i++)
            vmwrite(VMCS_EOI_EXIT_BITMAP0 + 2 * i, 0);
        vmwrite(VMCS_GUEST_INTR_STATUS, 0);
    }
    /* The guest sees CR4.VMXE clear: VMX needs it set in VMX operation (CR4_FIXED0), so it
     * is owned by the host and shadowed (SDM Vol. 3C 25.6.6). */
    vmwrite(VMCS_CR0_MASK, cr0_owned());
    vmwrite(VMCS_CR4_MASK, CR4_VMXE);
    vmwrite(VMCS_CR4_SHADOW, CR4_PAE);
    vmwrite(VMCS_LINK_POINTER, ~0ull);

    /* Host state (SDM Vol. 3C 26.2.2-26.2.4).  Every pCPU has the same CR0 and CR4
     * (cpu_match_bsp, xstate_cpu_init, VMXE), so the VMCS may move between them. */
    vmwrite(VMCS_HOST_CR0, read_cr0());
    vmwrite(VMCS_HOST_CR4, read_cr4());
    vmwrite(VMCS_HOST_CS_SEL, 0x08);
    vmwrite(VMCS_HOST_SS_SEL, 0x10);
    vmwrite(VMCS_HOST_DS_SEL, 0x10);
    vmwrite(VMCS_HOST_ES_SEL, 0x10);
    vmwrite(VMCS_HOST_FS_SEL, 0);
    vmwrite(VMCS_HOST_GS_SEL, 0);
    vmwrite(VMCS_HOST_FS_BASE, 0);
    vmwrite(VMCS_HOST_SYSENTER_CS, 0);
    vmwrite(VMCS_HOST_SYSENTER_ESP, 0);
    vmwrite(VMCS_HOST_SYSENTER_EIP, 0);
    vmwrite(VMCS_HOST_EFER, rdmsr(MSR_EFER));
    if (ctls.exit & EXIT_LOAD_PAT)
        vmwrite(VMCS_HOST_PAT, rdmsr(MSR_IA32_PAT));
    vmwrite(VMCS_HOST_RIP, (uint64_t)(uintptr_t)vmx_exit_point);

    /* Guest state: 64-bit mode, paging, flat segments (guest ABI v1). */
    uint64_t cr0 = (CR0_PE | (1ull << 1) /* MP */ | (1ull << 4) /* ET */ | (1ull << 5) /* NE */ |
                    CR0_WP | CR0_PG);
    cr0 = cr0_hw(cr0);
    uint64_t cr4 = (CR4_PAE | CR4_VMXE | rdmsr(MSR_VMX_CR4_FIXED0)) & rdmsr(MSR_VMX_CR4_FIXED1);
    vmwrite(VMCS_GUEST_CR0, cr0);
    vmwrite(VMCS_CR0_SHADOW, cr0);
    vmwrite(VMCS_GUEST_CR3, s->cr3);
    vmwrite(VMCS_GUEST_CR4, cr4);
    vmwrite(VMCS_GUEST_EFER, (1ull << 8) | (1ull << 10) | EFER_NXE); /* LME, LMA, NXE */
    if (ctls.entry & ENTRY_LOAD_PAT)
        vmwrite(VMCS_GUEST_PAT, 0x0007040600070406ull); /* the reset value */
    vmwrite(VMCS_GUEST_DEBUGCTL, 0);
    uint16_t cs = s->cs ? s->cs : 0x08, ds = s->ds ? s->ds : 0x10;
    for (unsigned i = 0; i < 6; i++) /* ES, CS, SS, DS, FS, GS */
        write_guest_segment(i, i == 1 ? cs : ds, 0xffffffff, i == 1 ? 0xa09b : 0xc093);
    write_guest_segment(6, 0, 0, 1u << 16);  /* LDTR: unusable */
    write_guest_segment(7, 0, 0x67, 0x8b);   /* TR: busy 64-bit TSS */
    vmwrite(VMCS_GUEST_GDTR_BASE, s->gdt_base);
    vmwrite(VMCS_GUEST_GDTR_LIMIT, s->gdt_limit);
    vmwrite(VMCS_GUEST_IDTR_BASE, 0);
    vmwrite(VMCS_GUEST_IDTR_LIMIT, 0);
    vmwrite(VMCS_GUEST_DR7, 0x400);
    vmwrite(VMCS_GUEST_RSP, s->rsp);
    vmwrite(VMCS_GUEST_RIP, s->rip);
    vmwrite(VMCS_GUEST_RFLAGS, 0x2);
    vmwrite(VMCS_GUEST_PENDING_DBG, 0);
    vmwrite(VMCS_GUEST_INTERRUPTIBILITY, 0);
    vmwrite(VMCS_GUEST_ACTIVITY, 0);
    vmwrite(VMCS_GUEST_SYSENTER_CS, 0);
    vmwrite(VMCS_GUEST_SYSENTER_ESP, 0);
    vmwrite(VMCS_GUEST_SYSENTER_EIP, 0);
    v->initialized = true;
}

/* Make V's VMCS current on this pCPU. */
static void vmcs_load(struct arch_vcpu *v)
{
    uint32_t cpu = cpu_index();
    if (current_on[cpu] == v) {
        if (v->sipi_pending)
            vmcs_sipi_reset(v);
        return;
    }
    if (current_on[cpu]) {
        /* Flush the previous vCPU's VMCS to memory so any pCPU may load it next. */
        vmclear(current_on[cpu]->vmcs_pa);
        current_on[cpu]->launched = false;
        current_on[cpu]->loaded_cpu = -1;
    }
    int rc = vmptrld(v->vmcs_pa);
    if (rc)
        kprintf("vmx: cpu %u: VMPTRLD failed (%d)\n", cpu, rc);
    current_on[cpu] = v;
    v->loaded_cpu = (int32_t)cpu;
    if (!v->initialized)
        vmcs_init(v);
    if (v->sipi_pending)
        vmcs_sipi_reset(v);
    write_host_percpu();
}

static const char *const insn_errors[] = {
    [1] = "VMCALL in VMX root operation",
    [2] = "VMCLEAR with invalid physical address",
    [4] = "VMLAUNCH with non-clear VMCS",
    [5] = "VMRESUME with non-launched VMCS",
    [7] = "VM entry with invalid control field(s)",
    [8] = "VM entry with invalid host-state field(s)",
    [9] = "VMPTRLD with invalid physical address",
    [11] = "VMPTRLD with incorrect VMCS revision identifier",
    [12] = "VMREAD/VMWRITE from/to unsupported VMCS component",
    [26] = "VM entry with events blocked by MOV SS",
    [28] = "invalid operand to INVEPT/INVVPID",
};

/* One console write for the whole dump, so another CPU's line cannot split it. */
static void dump_fields(const char *title, const uint32_t *fields, unsigned n)
{
    char out[768];
    size_t at = (size_t)fmt_snprintf(out, sizeof(out), "  %s:", title), line_start = 0;
    for (unsigned i = 0; i < n && at < sizeof(out); i++) {
        if (at - line_start >= 88) {
            line_start = at + 1;
            at += fmt_snprintf(out + at, sizeof(out) - at, "\n   ");
        }
        at += fmt_snprintf(out + at, sizeof(out) - at, " %04x=%lx", fields[i], vmread(fields[i]));
    }
    kprintf("%s\n", out);
}

static const uint32_t control_fields[] = {
    VMCS_PIN_CTLS, VMCS_PROC_CTLS, VMCS_PROC_CTLS2, VMCS_EXIT_CTLS, VMCS_ENTRY_CTLS,
    VMCS_EXCEPTION_BITMAP, VMCS_ENTRY_INTR_INFO, VMCS_EPT_POINTER, VMCS_VPID,
    VMCS_MSR_BITMAP, VMCS_IO_BITMAP_A, VMCS_CR4_MASK, VMCS_LINK_POINTER,
};
static const uint32_t host_fields[] = {
    VMCS_HOST_CR0, VMCS_HOST_CR3, VMCS_HOST_CR4, VMCS_HOST_CS_SEL, VMCS_HOST_SS_SEL,
    VMCS_HOST_TR_SEL, VMCS_HOST_TR_BASE, VMCS_HOST_GDTR_BASE, VMCS_HOST_IDTR_BASE,
    VMCS_HOST_GS_BASE, VMCS_HOST_RIP, VMCS_HOST_RSP, VMCS_HOST_EFER,
};
static const uint32_t guest_fields[] = {
    VMCS_GUEST_CR0, VMCS_GUEST_CR3, VMCS_GUEST_CR4, VMCS_GUEST_EFER, VMCS_GUEST_RIP,
    VMCS_GUEST_RSP, VMCS_GUEST_RFLAGS, VMCS_GUEST_CS_SEL, VMCS_GUEST_ES_AR + 2,
    VMCS_GUEST_ES_AR + 4, VMCS_GUEST_ES_AR + 14, VMCS_GUEST_ES_AR + 12, VMCS_GUEST_GDTR_BASE,
    VMCS_GUEST_GDTR_LIMIT, VMCS_GUEST_ACTIVITY, VMCS_GUEST_INTERRUPTIBILITY,
};

static void vmx_vcpu_dump(struct arch_vcpu *v)
{
    (void)v;
    dump_fields("guest", guest_fields, sizeof(guest_fields) / sizeof(guest_fields[0]));
}

/* Read the exit out of the VMCS and decode it (vmx_exit.c); the side effects of an exit are
 * taken here: an interrupt acknowledged on exit is handed to its handler, a failed entry is
 * reported with the guest fields the SDM's checks name. */
static void decode_exit(struct vexit *e)
{
    struct vmx_exit_raw raw = {
        .reason = (uint32_t)vmread(VMCS_EXIT_REASON),
        .qual = vmread(VMCS_EXIT_QUALIFICATION),
        .intr_info = (uint32_t)vmread(VMCS_EXIT_INTR_INFO),
        .insn_len = (uint32_t)vmread(VMCS_EXIT_INSN_LEN),
        .rip = vmread(VMCS_GUEST_RIP),
        .gpa = vmread(VMCS_GUEST_PHYS_ADDR),
    };
    vmx_exit_decode(&raw, e);
    /* An event whose delivery the exit interrupted (IDT-vectoring information, SDM Vol. 3C
     * 28.2.4) is delivered again at the next entry (27.2.x: the VMM re-injects it). */
    uint32_t vectoring =
        e->reason == VEXIT_ENTRY_FAILED ? 0 : (uint32_t)vmread(VMCS_IDT_VECTORING_INFO);
    if (vectoring & (1u << 31)) {
        vmwrite(VMCS_ENTRY_INTR_INFO, vectoring & ~(1u << 12));
        if (vectoring & (1u << 11))
            vmwrite(VMCS_ENTRY_EXC_ERROR, vmread(VMCS_IDT_VECTORING_ERROR));
        vmwrite(VMCS_ENTRY_INSN_LEN, raw.insn_len);
    }
    if (e->reason == VEXIT_EXTINT) {
        irq_deliver((uint8_t)raw.intr_info); /* acknowledged on exit (EXIT_ACK_INTR) */
    } else if (e->reason == VEXIT_NMI) {
        cpu_host_nmi(); /* an NMI for the host (the halt NMI stops this pCPU here) */
    } else if (e->reason == VEXIT_ENTRY_FAILED) {
        uint32_t basic = raw.reason & 0xffff;
        kprintf("vmx: VM entry failed: exit reason %u (%s), qualification 0x%lx\n", basic,
                basic == EXIT_REASON_INVALID_GUEST   ? "invalid guest state"
                : basic == EXIT_REASON_MSR_LOADING   ? "MSR loading"
                : basic == EXIT_REASON_MACHINE_CHECK ? "machine check"
                                                     : "?",
                raw.qual);
        dump_fields("guest", guest_fields, sizeof(guest_fields) / sizeof(guest_fields[0]));
    }
}

/* General register N (x86 encoding order) of the guest: RSP lives in the VMCS. */
static uint64_t guest_gpr(struct arch_vcpu *v, unsigned n)
{
    return n == 4 ? vmread(VMCS_GUEST_RSP) : ((uint64_t *)&v->gprs)[n];
}

static void set_guest_gpr(struct arch_vcpu *v, unsigned n, uint64_t value)
{
    if (n == 4)
        vmwrite(VMCS_GUEST_RSP, value);
    else
        ((uint64_t *)&v->gprs)[n] = value;
}

/* Without a TPR shadow, MOV to/from CR8 exits (CR8-load/store exiting): CR8 is TPR[7:4] of
 * the vCPU's own TPR (SDM Vol. 3C 28.2.1 Table 28-3 for the qualification; Vol. 3A 11.8.6.1).
 * A write with bits 63:4 set is #GP(0).  The VMM hears of a lowered TPR through
 * VEXIT_IRQ_WINDOW and re-evaluates pending interrupts. */
/* MOV to CR0 that changes a bit the VMM owns (cr0_owned): the checks MOV makes (SDM Vol. 2B
 * MOV to CR, Vol. 3A 2.5, 10.8.5: bits 63:32, PG without PE, NW without CD, paging with LME
 * but not PAE, paging off in 64-bit mode: #GP(0)), then the guest's value into the read
 * shadow, the value with the fixed bits into CR0, and EFER.LMA with the "IA-32e mode guest"
 * entry control = PG && LME (the CPU would set LMA itself; the control must follow for the
 * next VM entry, 26.2.4). */
static void cr0_write(struct arch_vcpu *v, struct vexit *e, uint64_t value)
{
    uint64_t efer = vmread(VMCS_GUEST_EFER);
    uint64_t cr4 = vmread(VMCS_GUEST_CR4);
    bool cs_l = (vmread(VMCS_GUEST_ES_AR + 2 * 1) >> 13) & 1;
    if ((value >> 32) || ((value & CR0_PG) && !(value & CR0_PE)) ||
        ((value & CR0_NW) && !(value & CR0_CD)) ||
        ((value & CR0_PG) && (efer & EFER_LME) && !(cr4 & CR4_PAE_BIT)) ||
        (!(value & CR0_PG) && (efer & EFER_LMA) && cs_l)) {
        vexit_fault(e, 13, "mov to cr0");
        return;
    }
    (void)v;
    bool lma = (value & CR0_PG) && (efer & EFER_LME);
    vmwrite(VMCS_CR0_SHADOW, value);
    vmwrite(VMCS_GUEST_CR0, cr0_hw(value));
    vmwrite(VMCS_GUEST_EFER, lma ? efer | EFER_LMA : efer & ~EFER_LMA);
    uint64_t entry = vmread(VMCS_ENTRY_CTLS);
    vmwrite(VMCS_ENTRY_CTLS, lma ? entry | ENTRY_IA32E_GUEST : entry & ~(uint64_t)ENTRY_IA32E_GUEST);
    vmwrite(VMCS_GUEST_RIP, e->rip + e->insn_len);
    e->reason = VEXIT_HANDLED;
}

static void cr8_exit(struct arch_vcpu *v, struct vexit *e)
{
    uint64_t q = e->raw_qual;
    unsigned cr = q & 15, type = (q >> 4) & 3, gpr = (q >> 8) & 15;
    if (cr == 0 && type == 0) {
        cr0_write(v, e, guest_gpr(v, gpr));
        return;
    }
    if (cr != 8 || type > 1)
        return; /* stays VEXIT_UNHANDLED: no other CR access is intercepted */
    if (type == 0) {
        uint64_t value = guest_gpr(v, gpr);
        if (value >> 4) {
            vexit_fault(e, 13, "mov to cr8");
            return;
        }
        v->tpr = (uint8_t)(value << 4);
    } else {
        set_guest_gpr(v, gpr, v->tpr >> 4);
    }
    vmwrite(VMCS_GUEST_RIP, e->rip + e->insn_len);
    e->reason = VEXIT_IRQ_WINDOW;
}

/* The vCPU's MSRs that VM entry does not load, written where the pCPU holds other values. */
static void load_guest_msrs(struct arch_vcpu *v, uint32_t cpu)
{
    struct hw_regs *h = &hw_regs[cpu];
#define LOAD(field, msr)                                                                     \
    if (h->field != v->field)                                                                \
        wrmsr(msr, h->field = v->field);
    LOAD(star, MSR_STAR)
    LOAD(lstar, MSR_LSTAR)
    LOAD(cstar, MSR_CSTAR)
    LOAD(sfmask, MSR_SFMASK)
    LOAD(kernel_gs_base, MSR_KERNEL_GS_BASE)
    if (ctls.proc2 & PROC2_RDTSCP)
        LOAD(tsc_aux, MSR_TSC_AUX)
#undef LOAD
    if (h->dr6 != v->dr6) {
        h->dr6 = v->dr6;
        __asm__ volatile("mov %0, %%dr6" : : "r"(v->dr6));
    }
}

static void vmx_vcpu_run(struct arch_vcpu *v, struct vexit *e)
{
    vmcs_load(v);
    int32_t cpu = (int32_t)cpu_index();
    if (v->vpid && v->last_cpu != cpu)
        invvpid_flush(v->vpid);
    v->last_cpu = cpu;
    if (v->timer_deadline_tsc && !caps.preempt_timer)
        lapic_timer_arm(v->timer_deadline_tsc); /* fallback: the host APIC timer */
    if (v->timer_deadline_tsc && caps.preempt_timer) {
        uint64_t now = rdtsc();
        uint64_t ticks = v->timer_deadline_tsc > now ? v->timer_deadline_tsc - now : 0;
        ticks >>= caps.preempt_timer_shift;
        vmwrite(VMCS_PREEMPTION_TIMER, ticks > 0xffffffffu ? 0xffffffffu : ticks);
    }
    load_guest_msrs(v, (uint32_t)cpu);
    xstate_enter(&v->xs);
    /* CR2 is not in the VMCS; nothing between here and the entry can page-fault. */
    if (read_cr2() != v->cr2)
        write_cr2(v->cr2);
    int rc = vmx_enter(&v->gprs, v->launched);
    v->cr2 = read_cr2();
    if (rc) {
        uint64_t err = rc == 2 ? vmread(VMCS_INSN_ERROR) : 0;
        const char *text = err < sizeof(insn_errors) / sizeof(insn_errors[0]) && insn_errors[err]
                               ? insn_errors[err]
                               : "?";
        kprintf("vmx: %s failed: %s, VM-instruction error %lu (%s)\n",
                v->launched ? "VMRESUME" : "VMLAUNCH",
                rc == 1 ? "VMfailInvalid (no current VMCS)" : "VMfailValid", err, text);
        if (err == 7)
            dump_fields("controls", control_fields,
                        sizeof(control_fields) / sizeof(control_fields[0]));
        if (err == 8)
            dump_fields("host", host_fields, sizeof(host_fields) / sizeof(host_fields[0]));
        memset(e, 0, sizeof(*e));
        e->reason = VEXIT_ENTRY_FAILED;
        e->raw_reason = (uint32_t)err;
        return;
    }
    v->launched = true;
    decode_exit(e);
    if ((e->raw_reason & 0xffff) == EXIT_REASON_CR_ACCESS)
        cr8_exit(v, e);
    if (!caps.preempt_timer && v->timer_deadline_tsc) {
        if (e->reason == VEXIT_EXTINT && lapic_timer_take_expired())
            e->reason = VEXIT_TIMER;
        else
            lapic_timer_arm(0);
    }
}

static void vmx_vcpu_put(struct arch_vcpu *v)
{
    uint32_t cpu = cpu_index();
    if (current_on[cpu] != v)
        return;
    /* What the guest changes without exits: its FPU/SSE/AVX state and debug registers, and
     * KERNEL_GS_BASE (SWAPGS, pass-through WRMSR). */
    xstate_leave(&v->xs);
    struct hw_regs *h = &hw_regs[cpu];
    v->kernel_gs_base = h->kernel_gs_base = rdmsr(MSR_KERNEL_GS_BASE);
    __asm__ volatile("mov %%dr6, %0" : "=r"(v->dr6));
    h->dr6 = v->dr6;
    vmclear(v->vmcs_pa);
    v->launched = false;
    v->loaded_cpu = -1;
    current_on[cpu] = NULL;
}

static struct vcpu_gprs *vmx_vcpu_gprs(struct arch_vcpu *v)
{
    return &v->gprs;
}

static uint64_t vmx_vcpu_rip(struct arch_vcpu *v)
{
    vmcs_load(v);
    return vmread(VMCS_GUEST_RIP);
}

static void vmx_vcpu_set_rip(struct arch_vcpu *v, uint64_t rip)
{
    vmcs_load(v);
    vmwrite(VMCS_GUEST_RIP, rip);
    /* Blocking by STI / MOV SS ends with the instruction it covered (SDM Vol. 3C 25.4.2). */
    uint64_t intr = vmread(VMCS_GUEST_INTERRUPTIBILITY);
    if (intr & 3)
        vmwrite(VMCS_GUEST_INTERRUPTIBILITY, intr & ~3ull);
}

static bool vmx_vcpu_if_set(struct arch_vcpu *v)
{
    vmcs_load(v);
    return (vmread(VMCS_GUEST_RFLAGS) >> 9) & 1;
}

static bool vmx_vcpu_irq_ready(struct arch_vcpu *v)
{
    vmcs_load(v);
    return vmx_vcpu_if_set(v) && !(vmread(VMCS_GUEST_INTERRUPTIBILITY) & 3) &&
           !(vmread(VMCS_ENTRY_INTR_INFO) & (1u << 31));
}

static void vmx_vcpu_inject_irq(struct arch_vcpu *v, uint8_t vector)
{
    vmcs_load(v);
    /* Interruption type 0: external interrupt (SDM Vol. 3C 25.8.3). */
    vmwrite(VMCS_ENTRY_INTR_INFO, vector | 1u << 31);
}

static void vmx_vcpu_irq_window(struct arch_vcpu *v, bool on)
{
    vmcs_load(v);
    /* Interrupt-window exiting: exit at the start of any instruction at which RFLAGS.IF=1 and
     * nothing blocks interrupts (SDM Vol. 3C 26.2, 25.6.2). */
    uint64_t proc = vmread(VMCS_PROC_CTLS);
    vmwrite(VMCS_PROC_CTLS, on ? proc | PROC_INTR_WINDOW : proc & ~(uint64_t)PROC_INTR_WINDOW);
}

static void vmx_vcpu_inject_exception(struct arch_vcpu *v, uint8_t vector, bool has_error,
                                      uint32_t error)
{
    vmcs_load(v);
    /* Interruption info: vector, type 3 (hardware exception), deliver error code, valid
     * (SDM Vol. 3C 25.8.3). */
    vmwrite(VMCS_ENTRY_INTR_INFO, vector | (3u << 8) | (has_error ? 1u << 11 : 0) | 1u << 31);
    if (has_error)
        vmwrite(VMCS_ENTRY_EXC_ERROR, error);
}

static void vmx_vcpu_set_timer(struct arch_vcpu *v, uint64_t deadline_tsc)
{
    vmcs_load(v);
    v->timer_deadline_tsc = deadline_tsc;
    bool use_pt = caps.preempt_timer && deadline_tsc;
    uint32_t pin = v->hw_posted ? ctls.pin : ctls.pin & ~PIN_POSTED_INTERRUPTS;
    vmwrite(VMCS_PIN_CTLS, use_pt ? pin : pin & ~PIN_PREEMPTION_TIMER);
}

/* ---- hardware posted interrupts (SDM Vol. 3C 29.2, 29.6) ----
 * Run under Bochs 3.0 (corei7_skylake_x), which implements posted-interrupt processing; not
 * yet on hardware.  The vlapic owns IRR/ISR/TPR while the vCPU is in the VMM; in guest mode
 * the virtual-APIC page does: the CPU moves posted vectors PIR -> VIRR (no exit), delivers
 * VIRR -> VISR through the guest IDT, and MOV CR8 reads and writes VTPR (the TPR shadow). */

static bool vmx_vcpu_posted_init(struct arch_vcpu *v, uint64_t pi_desc_pa, uint8_t vector)
{
    /* The virtual-APIC page exists already: the TPR shadow, which posting needs, has one. */
    if (!hw_posted || !v->vapic_pa)
        return false;
    /* The SDM asks for 64-byte alignment (26.2.1.1); Bochs 2.8 and 3.0 refuse the VM entry
     * unless the descriptor is page-aligned.  Both hold for a descriptor alone in a page. */
    if (pi_desc_pa & 4095) {
        kprintf("vmx: vcpu %u: posted-interrupt descriptor at 0x%lx is not page-aligned; "
                "software posting for it\n", v->id, pi_desc_pa);
        return false;
    }
    v->hw_posted = true;
    v->pi_desc_pa = pi_desc_pa;
    v->pi_vector = vector;
    return true;
}

/* Virtual-APIC page offsets (the xAPIC register layout, 29.1): VTPR 0x80, VISR 0x100 and
 * VIRR 0x200, one 32-bit word every 16 bytes. */
#define VAPIC32(v, off) (*(volatile uint32_t *)(uintptr_t)((v)->vapic_pa + (off)))

static int highest_vector(const uint32_t w[8])
{
    for (int i = 7; i >= 0; i--)
        if (w[i])
            return i * 32 + 31 - __builtin_clz(w[i]);
    return 0;
}

static void vmx_vcpu_apic_load(struct arch_vcpu *v, const struct vlapic_vectors *in)
{
    vmcs_load(v);
    for (unsigned i = 0; i < 8; i++) {
        VAPIC32(v, 0x100 + 16 * i) = in->isr[i];
        VAPIC32(v, 0x200 + 16 * i) = in->irr[i];
    }
    /* VTPR: the guest's MOV to/from CR8 use bits 7:4 without an exit (29.3); apic_save
     * hands what the guest left there back to the vlapic, whose TPR the x2APIC MSR 0x808
     * (which always exits) reads and writes. */
    VAPIC32(v, 0x80) = in->tpr & 0xff;
    v->ff_loaded = ((in->irr[7] | in->isr[7]) >> 31) & 1;
    /* RVI = the highest requested vector, SVI = the highest in service (29.1.1); VM entry
     * then virtualizes PPR and evaluates pending virtual interrupts (27.3.2.5). */
    vmwrite(VMCS_GUEST_INTR_STATUS,
            (uint64_t)highest_vector(in->irr) | (uint64_t)highest_vector(in->isr) << 8);
}

static void vmx_vcpu_apic_save(struct arch_vcpu *v, struct vlapic_vectors *out)
{
    for (unsigned i = 0; i < 8; i++) {
        out->isr[i] = VAPIC32(v, 0x100 + 16 * i);
        out->irr[i] = VAPIC32(v, 0x200 + 16 * i);
    }
    out->tpr = VAPIC32(v, 0x80) & 0xff;
    /* Bochs 3.0 (cpu/vapic.cc) raises RVI to 0xff when a notification finds PIR and VIRR
     * both empty -- its "no vector" (-1) as a byte -- and delivers vector 0xff.  The SDM
     * leaves RVI alone then (29.6).  Notifications that find nothing are normal: the VMM
     * drains the PIR itself before an entry, while a notification may still be pending.
     * The guest took it as a spurious interrupt (no EOI), so it must not stay in service,
     * or its PPR would block every interrupt.  (A vector 0xff that a sibling really posts
     * while the vCPU runs is dropped from ISR the same way.) */
    if (((out->isr[7] >> 31) & 1) && !v->ff_loaded) {
        out->isr[7] &= ~(1u << 31);
        if (v->ghost_ff++ == 0)
            kprintf("vmx: vm %u vcpu %u: the CPU delivered vector 0xff that nobody requested "
                    "(Bochs 3.0 posted-interrupt processing of an empty PIR); taken as "
                    "spurious\n", v->vm->id - 1, v->id);
    }
}

/* ---- guest TPR (software posting), registers, MSRs ---- */

static void vmx_vcpu_tpr_load(struct arch_vcpu *v, uint8_t tpr, uint8_t blocked_class)
{
    if (!v->vapic_pa) {
        v->tpr = tpr; /* CR8 exits read and write it */
        return;
    }
    vmcs_load(v);
    VAPIC32(v, 0x80) = tpr;
    /* Exit when the guest lowers VTPR[7:4] below the held-back interrupt's class.  Without
     * virtual-interrupt delivery the threshold may not exceed VTPR[7:4] (SDM Vol. 3C
     * 26.2.1.1); a held-back class never does. */
    uint8_t thr = blocked_class > (tpr >> 4) ? (uint8_t)(tpr >> 4) : blocked_class;
    if (thr != v->tpr_threshold) {
        vmwrite(VMCS_TPR_THRESHOLD, thr);
        v->tpr_threshold = thr;
    }
}

static uint8_t vmx_vcpu_tpr_save(struct arch_vcpu *v)
{
    return v->vapic_pa ? (uint8_t)VAPIC32(v, 0x80) : v->tpr;
}

static uint64_t vmx_vcpu_get_reg(struct arch_vcpu *v, enum vcpu_reg reg)
{
    vmcs_load(v);
    switch (reg) {
    case VCPU_REG_CR0: /* as the guest sees it: the VMM's bits from the read shadow */
        return (vmread(VMCS_GUEST_CR0) & ~cr0_owned()) | (vmread(VMCS_CR0_SHADOW) & cr0_owned());
    case VCPU_REG_CR3: return vmread(VMCS_GUEST_CR3);
    case VCPU_REG_RSP: return vmread(VMCS_GUEST_RSP);
    case VCPU_REG_DR7: return vmread(VMCS_GUEST_DR7);
    case VCPU_REG_CR4: /* as the guest sees it: host-owned bits from the read shadow */
        return (vmread(VMCS_GUEST_CR4) & ~CR4_VMXE) | (vmread(VMCS_CR4_SHADOW) & CR4_VMXE);
    case VCPU_REG_CPL: return (vmread(VMCS_GUEST_SS_AR) >> 5) & 3; /* SS.DPL (SDM 26.3.1.2) */
    case VCPU_REG_XCR0: return v->xs.xcr0;
    }
    return 0;
}

static bool vmx_vcpu_set_reg(struct arch_vcpu *v, enum vcpu_reg reg, uint64_t value)
{
    vmcs_load(v);
    switch (reg) {
    case VCPU_REG_XCR0: return xstate_set_xcr0(&v->xs, 0, value);
    case VCPU_REG_DR7: vmwrite(VMCS_GUEST_DR7, value); return true;
    case VCPU_REG_RSP: vmwrite(VMCS_GUEST_RSP, value); return true;
    default: return false;
    }
}

/* The vCPU is loaded on this pCPU (exits are handled where they happen), so an MSR that
 * lives in the hardware is written there and in its shadow. */
static enum arch_msr_result vmx_vcpu_msr(struct arch_vcpu *v, bool write, uint32_t msr,
                                         uint64_t *value)
{
    vmcs_load(v);
    struct hw_regs *h = &hw_regs[cpu_index()];
    uint64_t *field;
    uint64_t *hw;
    switch (msr) {
    case MSR_EFER: {
        uint64_t efer = vmread(VMCS_GUEST_EFER), out;
        if (!write) {
            *value = efer;
            return ARCH_MSR_OK;
        }
        if (!msr_efer_write(efer, *value, vmread(VMCS_GUEST_CR0) & CR0_PG, &out))
            return ARCH_MSR_GP;
        vmwrite(VMCS_GUEST_EFER, out);
        return ARCH_MSR_OK;
    }
    case MSR_PAT:
        if (!(ctls.entry & ENTRY_LOAD_PAT))
            return ARCH_MSR_NOT_MINE;
        if (!write) {
            *value = vmread(VMCS_GUEST_PAT);
            return ARCH_MSR_OK;
        }
        if (!msr_write_valid(msr, *value))
            return ARCH_MSR_GP;
        vmwrite(VMCS_GUEST_PAT, *value);
        return ARCH_MSR_OK;
    case MSR_SYSENTER_CS:
    case MSR_SYSENTER_ESP:
    case MSR_SYSENTER_EIP: {
        /* In the VMCS guest area (loaded on entry, saved on exit; SDM 27.3.2.1, 28.3.3). */
        uint32_t f = msr == MSR_SYSENTER_CS    ? VMCS_GUEST_SYSENTER_CS
                     : msr == MSR_SYSENTER_ESP ? VMCS_GUEST_SYSENTER_ESP
                                               : VMCS_GUEST_SYSENTER_EIP;
        if (!write) {
            *value = vmread(f);
            return ARCH_MSR_OK;
        }
        if (!msr_write_valid(msr, *value))
            return ARCH_MSR_GP;
        vmwrite(f, *value);
        return ARCH_MSR_OK;
    }
    case MSR_STAR: field = &v->star; hw = &h->star; break;
    case MSR_LSTAR: field = &v->lstar; hw = &h->lstar; break;
    case MSR_CSTAR: field = &v->cstar; hw = &h->cstar; break;
    case MSR_SFMASK: field = &v->sfmask; hw = &h->sfmask; break;
    case MSR_KERNEL_GS_BASE:
        v->kernel_gs_base = rdmsr(MSR_KERNEL_GS_BASE); /* SWAPGS may have changed it */
        field = &v->kernel_gs_base;
        hw = &h->kernel_gs_base;
        break;
    case MSR_TSC_AUX:
        if (!(ctls.proc2 & PROC2_RDTSCP))
            return ARCH_MSR_NOT_MINE;
        field = &v->tsc_aux;
        hw = &h->tsc_aux;
        break;
    default: return ARCH_MSR_NOT_MINE;
    }
    if (!write) {
        *value = *field;
        return ARCH_MSR_OK;
    }
    if (!msr_write_valid(msr, *value))
        return ARCH_MSR_GP;
    *field = *value;
    if (*hw != *value)
        wrmsr(msr, *hw = *value);
    return ARCH_MSR_OK;
}

/* Recorded only: the VMCS may be current on no pCPU now, and is written when a pCPU loads it
 * to run the vCPU (vmcs_load). */
static bool vmx_vcpu_sipi(struct arch_vcpu *v, uint8_t vector)
{
    if (!(ctls.proc2 & PROC2_UNRESTRICTED))
        return false;
    v->sipi_vector = vector;
    v->sipi_pending = true;
    return true;
}

static void vmx_guest_caps(struct arch_guest_caps *out)
{
    out->rdtscp = (ctls.proc2 & PROC2_RDTSCP) != 0;
    out->invpcid = (ctls.proc2 & PROC2_INVPCID) != 0;
}

/* Bitmaps shared by every vCPU: trap all port I/O and every MSR (SDM Vol. 3C 25.6.4,
 * 25.6.9) but the few listed below; the VMM's exit handler decides what each access does. */
static int vmx_setup_bitmaps(void)
{
    if (io_bitmaps_pa)
        return 0;
    io_bitmaps_pa = phys_alloc_pages(2);
    msr_bitmap_pa = phys_alloc_pages(1);
    if (!io_bitmaps_pa || !msr_bitmap_pa)
        return -1;
    memset((void *)(uintptr_t)io_bitmaps_pa, 0xff, 2 * 4096);
    memset((void *)(uintptr_t)msr_bitmap_pa, 0xff, 4096);
    /* Pass through what is safe without the VMM (SDM Vol. 3C 25.6.9: read bitmap low at 0,
     * high at 1024; write bitmaps at 2048 and 3072):
     *   - read and write: FS/GS base and SYSENTER_* (switched by the VMCS), KERNEL_GS_BASE
     *     (switched by vcpu_put/load_guest_msrs);
     *   - read only: the TSC, and STAR/LSTAR/CSTAR/SFMASK/TSC_AUX, which hold the vCPU's own
     *     values while it runs; writes exit and are validated (vmx_vcpu_msr). */
    static const struct { uint32_t msr; bool write; } pass[] = {
        { MSR_FS_BASE, true }, { MSR_FS_BASE + 1, true }, { MSR_KERNEL_GS_BASE, true },
        { MSR_SYSENTER_CS, true }, { MSR_SYSENTER_ESP, true }, { MSR_SYSENTER_EIP, true },
        { 0x10 /* IA32_TSC */, false }, { MSR_STAR, false }, { MSR_LSTAR, false },
        { MSR_CSTAR, false }, { MSR_SFMASK, false }, { MSR_TSC_AUX, false },
    };
    uint8_t *bm = (uint8_t *)(uintptr_t)msr_bitmap_pa;
    for (unsigned i = 0; i < sizeof(pass) / sizeof(pass[0]); i++) {
        uint32_t msr = pass[i].msr;
        if (msr == MSR_TSC_AUX && !(ctls.proc2 & PROC2_RDTSCP))
            continue;
        uint32_t base = msr >= 0xc0000000u ? 1024 : 0, bit = msr & 0x1fff;
        bm[base + bit / 8] &= (uint8_t)~(1u << (bit % 8));
        if (pass[i].write)
            bm[base + 2048 + bit / 8] &= (uint8_t)~(1u << (bit % 8));
    }
    return 0;
}

static int vmx_cpu_enable_checked(void)
{
    return ctls_ok ? vmx_cpu_enable() : -1;
}

const struct arch_ops vmx_arch_ops = {
    .name = "vmx",
    .probe = vmx_probe,
    .cpu_enable = vmx_cpu_enable_checked,
    .vm_create = vmx_vm_create,
    .vm_map = vmx_vm_map,
    .vcpu_create = vmx_vcpu_create,
    .vcpu_run = vmx_vcpu_run,
    .vcpu_put = vmx_vcpu_put,
    .vcpu_gprs = vmx_vcpu_gprs,
    .vcpu_rip = vmx_vcpu_rip,
    .vcpu_set_rip = vmx_vcpu_set_rip,
    .vcpu_inject_exception = vmx_vcpu_inject_exception,
    .vcpu_irq_ready = vmx_vcpu_irq_ready,
    .vcpu_inject_irq = vmx_vcpu_inject_irq,
    .vcpu_irq_window = vmx_vcpu_irq_window,
    .vcpu_if_set = vmx_vcpu_if_set,
    .vcpu_posted_init = vmx_vcpu_posted_init,
    .vcpu_apic_load = vmx_vcpu_apic_load,
    .vcpu_apic_save = vmx_vcpu_apic_save,
    .vcpu_set_timer = vmx_vcpu_set_timer,
    .vcpu_tpr_load = vmx_vcpu_tpr_load,
    .vcpu_tpr_save = vmx_vcpu_tpr_save,
    .vcpu_get_reg = vmx_vcpu_get_reg,
    .vcpu_set_reg = vmx_vcpu_set_reg,
    .vcpu_msr = vmx_vcpu_msr,
    .guest_caps = vmx_guest_caps,
    .vcpu_sipi = vmx_vcpu_sipi,
    .vcpu_dump = vmx_vcpu_dump,
};
