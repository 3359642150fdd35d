/* What a guest sees when it executes CPUID, and the XSAVE rules that follow from it.
 *
 * The guest sees the host's processor with everything the VMM does not virtualize taken
 * away: no VMX/SVM, no MONITOR/MWAIT, no performance counters, no machine-check or thermal
 * features, no XSAVES or supervisor/PKRU/AMX state, no MSRs the VMM does not emulate (TSC
 * adjust, speculation control, architectural capabilities); and added what it does
 * virtualize: an x2APIC with TSC-deadline timer, the hypervisor bit, a topology of the VM's
 * own vCPUs.  Feature bits that mirror guest state (OSXSAVE = CR4.OSXSAVE) and the XSAVE
 * sizes for the guest's own XCR0 are computed per vCPU.  References: SDM Vol. 2A CPUID, Vol.
 * 1 chapter 13 (XSAVE); APM Vol. 3 Appendix E.
 *
 * Pure: the host's CPUID comes in through a callback, so the host tests feed recorded CPUs. */
#ifndef VSCHED_VMM_CPUID_H
#define VSCHED_VMM_CPUID_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/x86.h"

typedef struct cpuid_regs (*cpuid_host_fn)(uint32_t leaf, uint32_t subleaf);

/* XCR0 components (SDM Vol. 1 13.1). */
#define XCR0_X87       (1ull << 0)
#define XCR0_SSE       (1ull << 1)
#define XCR0_AVX       (1ull << 2)
#define XCR0_OPMASK    (1ull << 5)
#define XCR0_ZMM_HI256 (1ull << 6)
#define XCR0_HI16_ZMM  (1ull << 7)
#define XCR0_AVX512    (XCR0_OPMASK | XCR0_ZMM_HI256 | XCR0_HI16_ZMM)
/* What the VMM switches between vCPUs; MPX (3, 4), PKRU (9) and AMX (17, 18) are never
 * offered. */
#define XCR0_SWITCHED  (XCR0_X87 | XCR0_SSE | XCR0_AVX | XCR0_AVX512)

#define CR4_OSXSAVE_BIT (1ull << 18)

/* The guest-visible facts CPUID depends on. */
struct cpuid_vcpu {
    uint32_t id;           /* x2APIC ID = vCPU index */
    uint32_t nvcpus;       /* vCPUs of its VM */
    uint64_t cr4;          /* the guest's CR4 (OSXSAVE) */
    uint64_t xcr0;         /* the guest's XCR0 */
    uint64_t xcr0_allowed; /* cpuid_xcr0_allowed() of the host */
    bool rdtscp;           /* RDTSCP/RDPID run with a per-vCPU TSC_AUX */
    bool invpcid;          /* INVPCID runs in the guest */
};

/* IA32_TSC_AUX exists (RDTSCP or RDPID, SDM Vol. 4 Table 2-2). */
bool cpuid_has_tsc_aux(cpuid_host_fn host);

/* The XCR0 components this host has that the VMM switches (0 without XSAVE). */
uint64_t cpuid_xcr0_allowed(cpuid_host_fn host);

/* Bytes of a standard-format XSAVE area holding the components in XCR0 (at least the 512-byte
 * legacy region and the 64-byte header). */
uint32_t cpuid_xsave_size(cpuid_host_fn host, uint64_t xcr0);

/* The same in the compacted format (XSAVEC; SDM Vol. 1 13.4.3): components in order, each
 * 64-byte aligned where CPUID(0xD, i).ECX bit 1 says so.  CPUID(0xD, 1).EBX. */
uint32_t cpuid_xsave_compacted_size(cpuid_host_fn host, uint64_t xcr0);

/* XSETBV rules (SDM Vol. 2C XSETBV, Vol. 1 13.3): only XCR0 (index 0) exists; x87 must be
 * set; AVX needs SSE; the AVX-512 components come together and need AVX; nothing outside
 * ALLOWED.  False means #GP(0). */
bool cpuid_xsetbv_valid(uint32_t index, uint64_t value, uint64_t allowed);

/* The guest's CPUID(LEAF, SUBLEAF) for the architectural leaves (below 0x40000000 and from
 * 0x80000000); the hypervisor range is the VMM's own. */
struct cpuid_regs cpuid_guest(cpuid_host_fn host, const struct cpuid_vcpu *v, uint32_t leaf,
                              uint32_t subleaf);

#endif
