/* The guest ABI v1 (guest/README.md), shared by the VMM and the guests' runtime: hypercall
 * numbers, the CPUID signature, the boot area's layout and the boot-info page.  Plain C types
 * only, so guests can include it.
 *
 * Hypercalls: VMCALL (Intel) or VMMCALL (AMD); number in RAX, arguments in RDI, RSI, RDX,
 * result in RAX (negative = error).  A call with a bad number or bad arguments stops the VM. */
#ifndef VSCHED_GUEST_ABI_H
#define VSCHED_GUEST_ABI_H

#include <stdint.h>

#define VSCHED_HYPERCALL_ABI 1

#define HC_PRINT   0 /* (gpa, len): len <= 4096 bytes of console text inside guest memory */
#define HC_EXIT    1 /* (status): the VM ends with this exit status; does not return */
#define HC_TIME_NS 2 /* (): the VMM's clock in ns */
#define HC_YIELD   3 /* (): give up the rest of the time slice */

/* CPUID 0x40000000: EAX = 0x40000010 (highest leaf), EBX:ECX:EDX = "vsched" padded with NULs.
 * CPUID 0x40000001: EAX = VSCHED_HYPERCALL_ABI.
 * CPUID 0x40000010 (timing, as VMware and KVM define it): EAX = TSC rate in kHz, EBX = the
 * virtual local APIC timer's input clock in kHz (before the divide configuration). */
#define VSCHED_CPUID_BASE 0x40000000u
#define VSCHED_SIG_EBX    0x63737673u /* "vsch" */
#define VSCHED_SIG_ECX    0x00006465u /* "ed" */
#define VSCHED_SIG_EDX    0x00000000u
#define VSCHED_CPUID_TIMING 0x40000010u

/* Interrupts (guest ABI v1.1).  Every vCPU has a virtual local APIC in x2APIC mode (IA32_APIC_BASE
 * reads 0xFEE00C00, BSP bit on vCPU 0; CPUID.1:ECX.x2APIC[21] and .TSC_DEADLINE[24] are set):
 * MSRs 0x802-0x83F and IA32_TSC_DEADLINE (0x6E0) behave as the SDM describes (Vol. 3A 11.12).
 * It resets software-disabled (SVR = 0xFF): set SVR bit 8 first.  Its timer counts the TSC
 * (CPUID 0x40000010:EBX = EAX), divided by the divide configuration.  The x2APIC ID of vCPU i
 * is i; IPIs reach the vCPUs of the same VM only.  The guest's TSC runs at all times, also
 * while the vCPU is not on a pCPU. */

/* Guest-physical layout of the boot area (written by vmm/guest_boot.c). */
#define GUEST_PML4_GPA      0x1000ull   /* identity-mapped page tables from here */
#define GUEST_TABLES_END    0xe000ull
#define GUEST_BOOT_INFO_GPA 0xe000ull   /* struct guest_boot_info; in RSI at entry */
#define GUEST_GDT_GPA       0xf000ull   /* 0x08 64-bit code, 0x10 data */
#define GUEST_LOAD_MIN      0x100000ull /* images load at or above 1 MiB */
#define GUEST_STACK_SIZE    0x10000ull  /* vCPU i starts with RSP = top - i * this */
#define GUEST_BOOT_MAGIC    0x76736368u /* "vsch" */
#define GUEST_BOOT_VERSION  1u

struct guest_boot_info {
    uint32_t magic;
    uint32_t version;
    uint32_t vcpus;
    uint32_t reserved;
    uint64_t memory_bytes;
    uint64_t tsc_hz;
    char vm_name[24];
    char args[160];
};
_Static_assert(sizeof(struct guest_boot_info) == 216, "guest ABI v1 boot info");

#endif
