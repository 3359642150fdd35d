#include "vmm/cpuid.h"

#define BIT(n) (1u << (n))

/* Highest leaves the guest is told about: the VMM filters every leaf up to these. */
#define MAX_BASIC_LEAF 0x16u
#define MAX_EXT_LEAF   0x80000008u

/* Leaf 1 EDX features that need nothing from the VMM (the same bits are duplicated in leaf
 * 0x80000001 EDX on AMD): FPU VME DE PSE TSC MSR PAE CX8 APIC SEP PGE CMOV PAT PSE36 CLFSH
 * MMX FXSR SSE SSE2 SS.  Not offered: MCE (7) and MCA (14), MTRR (12: no MTRR MSRs are
 * emulated), PSN, DS, ACPI thermal, TM, PBE. */
#define LEAF1_EDX_KEEP                                                                     \
    (BIT(0) | BIT(1) | BIT(2) | BIT(3) | BIT(4) | BIT(5) | BIT(6) | BIT(8) | BIT(9) |      \
     BIT(11) | BIT(13) | BIT(15) | BIT(16) | BIT(17) | BIT(19) | BIT(23) | BIT(24) |       \
     BIT(25) | BIT(26) | BIT(27))
#define LEAF1_EDX_HTT BIT(28)
/* Leaf 1 ECX: SSE3 PCLMULQDQ SSSE3 CX16 PCID SSE4.1 SSE4.2 MOVBE POPCNT AES RDRAND; FMA and
 * F16C only with AVX state.  Not offered: DTES64, MONITOR, DS-CPL, VMX, SMX, EIST, TM2,
 * CNXT-ID, SDBG, xTPR, PDCM, DCA. */
#define LEAF1_ECX_KEEP                                                                     \
    (BIT(0) | BIT(1) | BIT(9) | BIT(13) | BIT(17) | BIT(19) | BIT(20) | BIT(22) | BIT(23) | \
     BIT(25) | BIT(30))
#define LEAF1_ECX_AVX_DEPS (BIT(12) /* FMA */ | BIT(29) /* F16C */)
#define LEAF1_ECX_X2APIC BIT(21)
#define LEAF1_ECX_TSC_DEADLINE BIT(24)
#define LEAF1_ECX_XSAVE BIT(26)
#define LEAF1_ECX_OSXSAVE BIT(27)
#define LEAF1_ECX_AVX BIT(28)
#define LEAF1_ECX_HYPERVISOR BIT(31)

/* Leaf 7.0 EBX: FSGSBASE BMI1 HLE FDP_EXCPTN_ONLY SMEP BMI2 ERMS RTM FPU-CS/DS-deprecation
 * RDSEED ADX SMAP CLFLUSHOPT CLWB SHA.  Not offered: TSC_ADJUST (no MSR), SGX, RDT, MPX,
 * processor trace. */
#define LEAF7_EBX_KEEP                                                                     \
    (BIT(0) | BIT(3) | BIT(4) | BIT(6) | BIT(7) | BIT(8) | BIT(9) | BIT(11) | BIT(13) |    \
     BIT(18) | BIT(19) | BIT(20) | BIT(23) | BIT(24) | BIT(29))
#define LEAF7_EBX_AVX2 BIT(5)
#define LEAF7_EBX_INVPCID BIT(10)
#define LEAF7_EBX_AVX512                                                                   \
    (BIT(16) | BIT(17) | BIT(21) | BIT(26) | BIT(27) | BIT(28) | BIT(30) | BIT(31))
/* Leaf 7.0 ECX: PREFETCHWT1 GFNI CLDEMOTE MOVDIRI MOVDIR64B; VAES/VPCLMULQDQ with AVX; the
 * AVX-512 extensions with AVX-512 state; RDPID with a per-vCPU TSC_AUX.  Not offered: UMIP,
 * PKU/OSPKE (no PKRU state), WAITPKG (UMWAIT would idle without the VMM), CET, TME, LA57,
 * key locker, bus-lock detection, ENQCMD, SGX launch control, PKS. */
#define LEAF7_ECX_KEEP (BIT(0) | BIT(8) | BIT(25) | BIT(27) | BIT(28))
#define LEAF7_ECX_AVX_DEPS (BIT(9) | BIT(10))
#define LEAF7_ECX_AVX512 (BIT(1) | BIT(6) | BIT(11) | BIT(12) | BIT(14))
#define LEAF7_ECX_RDPID BIT(22)
/* Leaf 7.0 EDX: fast short REP MOV, SERIALIZE; AVX-512 4VNNIW/4FMAPS/VP2INTERSECT/FP16 with
 * AVX-512 state.  Not offered: every speculation-control and capability bit (their MSRs are
 * not emulated), hybrid, CET-IBT, TSX controls. */
#define LEAF7_EDX_KEEP (BIT(4) | BIT(14))
#define LEAF7_EDX_AVX512 (BIT(2) | BIT(3) | BIT(8) | BIT(23))

/* Leaf 0x80000001 ECX: LAHF/SAHF, LZCNT, SSE4A, misaligned SSE, PREFETCHW, XOP, FMA4, TBM.
 * Not offered: CMP_LEGACY, SVM, extended APIC space, LOCK MOV CR8, OSVW, IBS, SKINIT, WDT,
 * LWP, TCE, node ID, TOPOEXT, the performance-counter extensions, data breakpoint extension,
 * MONITORX. */
#define EXT1_ECX_KEEP (BIT(0) | BIT(5) | BIT(6) | BIT(7) | BIT(8) | BIT(11) | BIT(16) | BIT(21))
/* Leaf 0x80000001 EDX: SYSCALL, NX, MMX extensions, 1 GiB pages, long mode, 3DNow!; RDTSCP
 * with a per-vCPU TSC_AUX.  Not offered: FFXSR (EFER.FFXSR is refused). */
#define EXT1_EDX_KEEP (BIT(11) | BIT(20) | BIT(22) | BIT(26) | BIT(29) | BIT(30) | BIT(31))
#define EXT1_EDX_RDTSCP BIT(27)
/* The leaf 1 EDX bits AMD repeats in 0x80000001 EDX (0-9, 12-17, 23, 24; APM Vol. 3 E.4.2);
 * the others there mean something else (bit 27 is RDTSCP, not self-snoop). */
#define EXT1_EDX_DUPLICATES (0x3ffu | 0x3f000u | BIT(23) | BIT(24))
#define EXT7_EDX_INVARIANT_TSC BIT(8)

static const struct cpuid_regs zero;

bool cpuid_has_tsc_aux(cpuid_host_fn host)
{
    bool rdtscp = host(0x80000000u, 0).eax >= 0x80000001u &&
                  (host(0x80000001u, 0).edx & EXT1_EDX_RDTSCP);
    bool rdpid = host(0, 0).eax >= 7 && (host(7, 0).ecx & LEAF7_ECX_RDPID);
    return rdtscp || rdpid;
}

uint64_t cpuid_xcr0_allowed(cpuid_host_fn host)
{
    if (!(host(1, 0).ecx & LEAF1_ECX_XSAVE) || host(0, 0).eax < 0xd)
        return 0;
    struct cpuid_regs d = host(0xd, 0);
    uint64_t have = ((uint64_t)d.edx << 32 | d.eax) & XCR0_SWITCHED;
    if ((have & (XCR0_X87 | XCR0_SSE)) != (XCR0_X87 | XCR0_SSE))
        return 0;
    if ((have & XCR0_AVX512) != XCR0_AVX512 || !(have & XCR0_AVX))
        have &= ~XCR0_AVX512;
    return have;
}

uint32_t cpuid_xsave_size(cpuid_host_fn host, uint64_t xcr0)
{
    uint32_t size = 512 + 64; /* legacy region and XSAVE header (SDM Vol. 1 13.4) */
    for (uint32_t i = 2; i < 63; i++) {
        if (!((xcr0 >> i) & 1))
            continue;
        struct cpuid_regs c = host(0xd, i); /* EAX size, EBX offset in the standard form */
        if (c.ebx + c.eax > size)
            size = c.ebx + c.eax;
    }
    return size;
}

uint32_t cpuid_xsave_compacted_size(cpuid_host_fn host, uint64_t xcr0)
{
    uint32_t size = 512 + 64;
    for (uint32_t i = 2; i < 63; i++) {
        if (!((xcr0 >> i) & 1))
            continue;
        struct cpuid_regs c = host(0xd, i); /* ECX bit 1: 64-byte aligned when compacted */
        if (c.ecx & 2u)
            size = (size + 63) & ~63u;
        size += c.eax;
    }
    return size;
}

bool cpuid_xsetbv_valid(uint32_t index, uint64_t value, uint64_t allowed)
{
    if (index != 0 || (value & ~allowed) || !(value & XCR0_X87))
        return false;
    if ((value & XCR0_AVX) && !(value & XCR0_SSE))
        return false;
    if ((value & XCR0_AVX512) && ((value & XCR0_AVX512) != XCR0_AVX512 || !(value & XCR0_AVX)))
        return false;
    return true;
}

static uint32_t ceil_log2(uint32_t n)
{
    uint32_t s = 0;
    while ((1u << s) < n && s < 31)
        s++;
    return s;
}

static bool has_avx(const struct cpuid_vcpu *v)
{
    return (v->xcr0_allowed & XCR0_AVX) != 0;
}

static bool has_avx512(const struct cpuid_vcpu *v)
{
    return (v->xcr0_allowed & XCR0_AVX512) == XCR0_AVX512;
}

static struct cpuid_regs leaf1(struct cpuid_regs h, const struct cpuid_vcpu *v)
{
    struct cpuid_regs r = h;
    uint32_t n = v->nvcpus > 255 ? 255 : v->nvcpus;
    r.ebx = (h.ebx & 0xffffu) | n << 16 | v->id << 24; /* CLFLUSH size, brand; count, ID */
    r.ecx = (h.ecx & LEAF1_ECX_KEEP) | LEAF1_ECX_X2APIC | LEAF1_ECX_TSC_DEADLINE |
            LEAF1_ECX_HYPERVISOR;
    if (v->xcr0_allowed) {
        r.ecx |= LEAF1_ECX_XSAVE;
        if (v->cr4 & CR4_OSXSAVE_BIT)
            r.ecx |= LEAF1_ECX_OSXSAVE;
    }
    if (has_avx(v))
        r.ecx |= h.ecx & (LEAF1_ECX_AVX | LEAF1_ECX_AVX_DEPS);
    r.edx = (h.edx & LEAF1_EDX_KEEP) | (v->nvcpus > 1 ? LEAF1_EDX_HTT : 0);
    return r;
}

static struct cpuid_regs leaf4(struct cpuid_regs h, const struct cpuid_vcpu *v)
{
    if (!(h.eax & 0x1f)) /* cache type 0: no more caches */
        return zero;
    uint32_t cores = v->nvcpus > 64 ? 63 : v->nvcpus - 1;
    uint32_t level = (h.eax >> 5) & 7;
    uint32_t sharing = level >= 3 ? (v->nvcpus > 4096 ? 4095 : v->nvcpus - 1) : 0;
    h.eax = (h.eax & 0x3fffu) | sharing << 14 | cores << 26;
    return h;
}

static struct cpuid_regs leaf7(struct cpuid_regs h, const struct cpuid_vcpu *v, uint32_t sub)
{
    if (sub != 0)
        return zero;
    struct cpuid_regs r = { 0, 0, 0, 0 };
    r.ebx = h.ebx & LEAF7_EBX_KEEP;
    r.ecx = h.ecx & LEAF7_ECX_KEEP;
    r.edx = h.edx & LEAF7_EDX_KEEP;
    if (has_avx(v)) {
        r.ebx |= h.ebx & LEAF7_EBX_AVX2;
        r.ecx |= h.ecx & LEAF7_ECX_AVX_DEPS;
    }
    if (has_avx512(v)) {
        r.ebx |= h.ebx & LEAF7_EBX_AVX512;
        r.ecx |= h.ecx & LEAF7_ECX_AVX512;
        r.edx |= h.edx & LEAF7_EDX_AVX512;
    }
    if (v->invpcid)
        r.ebx |= h.ebx & LEAF7_EBX_INVPCID;
    if (v->rdtscp)
        r.ecx |= h.ecx & LEAF7_ECX_RDPID;
    return r;
}

/* Extended topology (SDM Vol. 2A CPUID leaf 0BH): one thread per core, the VM's vCPUs are
 * the cores of one package. */
static struct cpuid_regs leaf_b(const struct cpuid_vcpu *v, uint32_t sub)
{
    struct cpuid_regs r = { 0, 0, sub & 0xffu, v->id };
    if (sub == 0) {
        r.ebx = 1;
        r.ecx |= 1u << 8; /* SMT level */
    } else if (sub == 1) {
        r.eax = ceil_log2(v->nvcpus);
        r.ebx = v->nvcpus;
        r.ecx |= 2u << 8; /* core level */
    }
    return r;
}

static struct cpuid_regs leaf_d(cpuid_host_fn host, const struct cpuid_vcpu *v, uint32_t sub)
{
    uint64_t allowed = v->xcr0_allowed;
    if (!allowed)
        return zero;
    struct cpuid_regs r = { 0, 0, 0, 0 };
    if (sub == 0) {
        r.eax = (uint32_t)allowed;
        r.edx = (uint32_t)(allowed >> 32);
        r.ebx = cpuid_xsave_size(host, v->xcr0 ? v->xcr0 : XCR0_X87);
        r.ecx = cpuid_xsave_size(host, allowed);
    } else if (sub == 1) {
        /* XSAVEOPT, XSAVEC, XGETBV with ECX=1; no XSAVES (no IA32_XSS), no XFD.  EBX: the
         * compacted area for XCR0 | IA32_XSS (XSS is 0) -- Linux sizes its XSAVEC buffers
         * from it and rejects XSAVE altogether when it reads 0. */
        r.eax = host(0xd, 1).eax & 0x7u;
        r.ebx = cpuid_xsave_compacted_size(host, v->xcr0 ? v->xcr0 : XCR0_X87);
    } else if (sub < 63 && ((allowed >> sub) & 1)) {
        struct cpuid_regs h = host(0xd, sub);
        r.eax = h.eax;
        r.ebx = h.ebx;
        r.ecx = h.ecx & 2u; /* aligned in the compacted form; never a supervisor state */
    }
    return r;
}

static struct cpuid_regs basic(cpuid_host_fn host, const struct cpuid_vcpu *v, uint32_t leaf,
                               uint32_t sub)
{
    uint32_t host_max = host(0, 0).eax;
    if (leaf == 0) {
        struct cpuid_regs r = host(0, 0);
        r.eax = host_max < MAX_BASIC_LEAF ? (host_max < 0xd ? 0xd : host_max) : MAX_BASIC_LEAF;
        return r;
    }
    if (leaf == 0xb)
        return leaf_b(v, sub);
    if (leaf == 0xd)
        return leaf_d(host, v, sub);
    if (leaf > host_max)
        return zero;
    switch (leaf) {
    case 1: return leaf1(host(1, 0), v);
    case 2: return host(2, 0);
    case 4: return leaf4(host(4, sub), v);
    case 6: return (struct cpuid_regs){ BIT(2), 0, 0, 0 }; /* ARAT: the APIC timer always runs */
    case 7: return leaf7(host(7, 0), v, sub);
    case 0x15:
    case 0x16: return host(leaf, 0); /* TSC and core frequencies: the guest reads the host TSC */
    default: return zero;
    }
}

static struct cpuid_regs extended(cpuid_host_fn host, const struct cpuid_vcpu *v,
                                  uint32_t leaf)
{
    uint32_t host_max = host(0x80000000u, 0).eax;
    if (leaf == 0x80000000u) {
        struct cpuid_regs r = host(leaf, 0);
        r.eax = host_max < MAX_EXT_LEAF ? host_max : MAX_EXT_LEAF;
        return r;
    }
    if (leaf > host_max || leaf > MAX_EXT_LEAF)
        return zero;
    struct cpuid_regs h = host(leaf, 0);
    switch (leaf) {
    case 0x80000001u:
        h.ecx &= EXT1_ECX_KEEP;
        h.edx &= EXT1_EDX_KEEP | (LEAF1_EDX_KEEP & EXT1_EDX_DUPLICATES) |
                 (v->rdtscp ? EXT1_EDX_RDTSCP : 0);
        return h;
    case 0x80000002u:
    case 0x80000003u:
    case 0x80000004u:
    case 0x80000005u:
    case 0x80000006u: return h; /* brand string, cache and TLB descriptions */
    case 0x80000007u: return (struct cpuid_regs){ 0, 0, 0, h.edx & EXT7_EDX_INVARIANT_TSC };
    case 0x80000008u:
        /* Address sizes; no speculation-control bits; the VM's vCPUs as the package's cores
         * (APM Vol. 3 E.4.7: NC in ECX[7:0], ApicIdCoreIdSize in ECX[15:12]). */
        return (struct cpuid_regs){ h.eax & 0xffffu, 0,
                                    ((v->nvcpus - 1) & 0xffu) | ceil_log2(v->nvcpus) << 12, 0 };
    default: return zero;
    }
}

struct cpuid_regs cpuid_guest(cpuid_host_fn host, const struct cpuid_vcpu *v, uint32_t leaf,
                              uint32_t subleaf)
{
    if (leaf < 0x40000000u)
        return basic(host, v, leaf, subleaf);
    if (leaf >= 0x80000000u)
        return extended(host, v, leaf);
    return zero;
}
