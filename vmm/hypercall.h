/* The hypercall ABI between vsched and its guests (v1), shared by the VMM and guest/.
 * VMCALL (Intel) or VMMCALL (AMD); number in RAX, arguments in RDI, RSI, RDX, result in RAX
 * (negative = error).  A call with a bad number or bad arguments stops the VM. */
#ifndef VSCHED_HYPERCALL_H
#define VSCHED_HYPERCALL_H

#define VSCHED_HYPERCALL_ABI 1

#define HC_PRINT   0 /* (gpa, len): len <= 4096 bytes of console text inside guest memory */
#define HC_EXIT    1 /* (status): the VM ends with this exit status; does not return */
#define HC_TIME_NS 2 /* (): the VMM's clock in ns */
#define HC_YIELD   3 /* (): give up the rest of the time slice */

/* CPUID 0x40000000: EAX = 0x40000001, EBX:ECX:EDX = "vsched" padded with NULs. */
#define VSCHED_CPUID_BASE 0x40000000u
#define VSCHED_SIG_EBX    0x63737673u /* "vsch" */
#define VSCHED_SIG_ECX    0x00006465u /* "ed" */
#define VSCHED_SIG_EDX    0x00000000u

#endif
