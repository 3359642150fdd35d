/* The architectural rules for guest writes to the MSRs whose state the backends switch per
 * vCPU (SDM Vol. 4 chapter 2; APM Vol. 2 appendix A): which values a WRMSR accepts and which
 * get #GP(0).  Pure; shared by vmx/ and svm/ and unit-tested. */
#ifndef VSCHED_VMM_MSR_RULES_H
#define VSCHED_VMM_MSR_RULES_H

#include <stdbool.h>
#include <stdint.h>

#define MSR_SYSENTER_CS  0x174u
#define MSR_SYSENTER_ESP 0x175u
#define MSR_SYSENTER_EIP 0x176u
#define MSR_PAT          0x277u
#define MSR_STAR         0xc0000081u
#define MSR_LSTAR        0xc0000082u
#define MSR_CSTAR        0xc0000083u
#define MSR_SFMASK       0xc0000084u
#define MSR_FS_BASE      0xc0000100u
#define MSR_KERNEL_GS_BASE 0xc0000102u
#define MSR_TSC_AUX      0xc0000103u

#define EFER_SCE   (1ull << 0)
#define EFER_LME   (1ull << 8)
#define EFER_LMA   (1ull << 10)
#define EFER_NX    (1ull << 11)
#define EFER_SVME_BIT (1ull << 12)

#define PAT_RESET  0x0007040600070406ull

/* A linear address the 4-level paging guest can hold (bits 63:47 all equal). */
bool msr_canonical(uint64_t va);

/* WRMSR VALUE to MSR (one of the above, not EFER): true when the CPU accepts it. */
bool msr_write_valid(uint32_t msr, uint64_t value);

/* WRMSR to EFER.  OLD is the guest's EFER, CR0_PG whether paging is on.  Accepts SCE, LME
 * and NXE (what CPUID offers); LMA is read-only (a written LMA is ignored); LME cannot change
 * while paging is on (SDM Vol. 3A 10.8.5).  Returns true with the new EFER in *OUT, false for
 * #GP(0). */
bool msr_efer_write(uint64_t old, uint64_t value, bool cr0_pg, uint64_t *out);

/* The platform MSRs a guest kernel reads at boot (Linux 6.1 reads several without rdmsr_safe,
 * and a #GP there is an "unchecked MSR access" splat): fixed values that say "nothing here",
 * SDM Vol. 4 chapter 2.  VCPU_ID decides APIC_BASE's BSP bit.  True and *VALUE for a known
 * MSR, false (#GP) for others:
 *   0x1b  APIC_BASE: 0xFEE00000, enabled, x2APIC mode, BSP on vCPU 0
 *   0x3a  FEATURE_CONTROL: locked, VMX off (the VMM hides VMX)
 *   0x8b  BIOS_SIGN_ID / AMD PATCH_LEVEL: microcode revision 0
 *   0xfe  MTRRcap: no MTRRs                 0x1a0 MISC_ENABLE: fast strings only
 *   0x33 TEST_CTRL, 0xce PLATFORM_INFO, 0x140 MISC_FEATURE_ENABLES, 0x179 MCG_CAP (no banks),
 *   0x17a MCG_STATUS, 0x19b THERM_INTERRUPT, 0x1b2 PACKAGE_THERM_INTERRUPT, 0x492 (VMX
 *   PROCBASED_CTLS3), 0xc0010055 (AMD interrupt-pending message, C1E): 0 */
bool msr_platform_read(uint32_t msr, uint32_t vcpu_id, uint64_t *value);

/* A WRMSR to a platform MSR: accepted (and without effect) only where the CPU would accept it
 * without changing anything a guest could rely on: BIOS_SIGN_ID (Linux writes 0 before reading
 * the revision), MCG_STATUS = 0, and writes of the value it reads (MISC_ENABLE,
 * MISC_FEATURE_ENABLES, the thermal interrupts).  False = #GP(0). */
bool msr_platform_write(uint32_t msr, uint32_t vcpu_id, uint64_t value);

#endif
