/* The KVM paravirtual interface, as far as vsched implements it (Linux's
 * Documentation/virt/kvm/x86/cpuid.rst and msr.rst; the layouts of
 * arch/x86/include/uapi/asm/kvm_para.h and asm/pvclock-abi.h), pure:
 *   - CPUID: the signature "KVMKVMKVM" at a base leaf Linux scans (0x40000000 + k * 0x100) and
 *     the feature leaf after it with only what is implemented here:
 *       KVM_PV_F_NOP_IO_DELAY (bit 1)   port 0x80 delays are not needed (nothing to do)
 *       KVM_PV_F_CLOCKSOURCE2 (bit 3)   kvmclock: KVM_PV_MSR_WALL_CLOCK, KVM_PV_MSR_SYSTEM_TIME
 *       KVM_PV_F_STEAL_TIME (bit 5)     KVM_PV_MSR_STEAL_TIME
 *       KVM_PV_F_CLOCKSOURCE_STABLE (bit 24)  KVM_PV_TSC_STABLE is set
 *     and no hints (EDX = 0).  With the signature Linux also takes x2apic_available().
 *   - kvmclock: the per-vCPU pvclock_vcpu_time_info record (32 bytes) and the wall clock
 *     (12 bytes), written with the version protocol (odd while being written, even after).
 *   - steal time: the per-vCPU kvm_steal_time record (64 bytes, 64-byte aligned): steal ns,
 *     version, preempted.
 *   - the MSRs' numbers and their validation rules.
 * The VMM owns the records' memory (guest RAM) and the clocks; these functions only compute
 * and write bytes. */
#ifndef VSCHED_VMM_KVM_PV_H
#define VSCHED_VMM_KVM_PV_H

#include <stdbool.h>
#include <stdint.h>

#define KVM_PV_SIG_EBX 0x4b4d564bu /* "KVMK" */
#define KVM_PV_SIG_ECX 0x564b4d56u /* "VMKV" */
#define KVM_PV_SIG_EDX 0x0000004du /* "M\0\0\0" */

#define KVM_PV_F_NOP_IO_DELAY           1
#define KVM_PV_F_CLOCKSOURCE2           3
#define KVM_PV_F_STEAL_TIME             5
#define KVM_PV_F_CLOCKSOURCE_STABLE 24
#define KVM_PV_FEATURES ((1u << KVM_PV_F_NOP_IO_DELAY) | (1u << KVM_PV_F_CLOCKSOURCE2) | \
                         (1u << KVM_PV_F_STEAL_TIME) | \
                         (1u << KVM_PV_F_CLOCKSOURCE_STABLE))

#define KVM_PV_MSR_WALL_CLOCK  0x4b564d00u
#define KVM_PV_MSR_SYSTEM_TIME 0x4b564d01u
#define KVM_PV_MSR_STEAL_TIME      0x4b564d03u

#define KVM_PV_TSC_STABLE  (1u << 0)
#define KVM_PV_PREEMPTED      (1u << 0)

struct cpuid_leaf {
    uint32_t eax, ebx, ecx, edx;
};

/* The KVM leaves at BASE (a multiple of 0x100 in [0x40000000, 0x40010000); Linux finds them
 * there, so vsched keeps its own signature at 0x40000000 and puts KVM's at 0x40000100).
 * True and *OUT for LEAF = BASE or BASE + 1; false for any other leaf. */
bool kvm_cpuid(uint32_t base, uint32_t leaf, struct cpuid_leaf *out);

/* pvclock_vcpu_time_info (32 bytes; packed in Linux, naturally aligned here: no padding) */
struct kvm_pvclock {
    uint32_t version;
    uint32_t pad0;
    uint64_t tsc_timestamp;
    uint64_t system_time;
    uint32_t tsc_to_system_mul;
    int8_t tsc_shift;
    uint8_t flags;
    uint8_t pad[2];
};
_Static_assert(sizeof(struct kvm_pvclock) == 32, "pvclock_vcpu_time_info");

/* pvclock_wall_clock (12 bytes) */
struct kvm_wall_clock {
    uint32_t version;
    uint32_t sec;
    uint32_t nsec;
};
_Static_assert(sizeof(struct kvm_wall_clock) == 12, "pvclock_wall_clock");

/* kvm_steal_time (64 bytes) */
struct kvm_steal {
    uint64_t steal;
    uint32_t version;
    uint32_t flags;
    uint8_t preempted;
    uint8_t pad8[3];
    uint32_t pad[11];
};
_Static_assert(sizeof(struct kvm_steal) == 64, "kvm_steal_time");

/* The scale the guest applies: ns = ((tsc_delta << shift) * mul) >> 32 (a negative shift
 * shifts right), mul in [2^31, 2^32) for the most precision.  0 and the pair for a TSC of
 * TSC_HZ (1 kHz .. 2^32 kHz), -1 when out of range. */
int kvm_pvclock_scale(uint64_t tsc_hz, uint32_t *mul, int8_t *shift);
/* What the guest computes from the record for TSC (for tests and cross-checks). */
uint64_t kvm_pvclock_read(const struct kvm_pvclock *c, uint64_t tsc);

/* Write REC for: at TSC value TSC_TIMESTAMP the guest's clock reads SYSTEM_NS, advancing at
 * MUL/SHIFT, FLAGS (KVM_PV_TSC_STABLE).  Version made odd first, even last, with compiler
 * barriers between (x86 keeps stores in order), so a guest that reads the version, the fields,
 * and the version again never takes a half-written record. */
void kvm_pvclock_write(volatile struct kvm_pvclock *rec, uint64_t tsc_timestamp,
                       uint64_t system_ns, uint32_t mul, int8_t shift, uint8_t flags);
void kvm_wall_clock_write(volatile struct kvm_wall_clock *rec, uint32_t sec, uint32_t nsec);
/* The protocol's two steps, shared by the three records: begin makes VERSION odd (a newer
 * odd value, whatever it was), end makes it the next even value. */
void kvm_pv_version_begin(volatile uint32_t *version);
void kvm_pv_version_end(volatile uint32_t *version);

/* Steal time.  kvm_steal_update before each entry of the vCPU: steal = STEAL_NS (the VMM's
 * total of the vCPU's runnable-but-not-running time), preempted = 0, version odd then even.
 * kvm_steal_preempted when the vCPU is taken off its pCPU while still runnable (Linux's
 * vcpu_is_preempted() reads it). */
void kvm_steal_update(volatile struct kvm_steal *rec, uint64_t steal_ns);
void kvm_steal_preempted(volatile struct kvm_steal *rec);

/* The MSR writes' rules (msr.rst).  Each returns false when the value must get #GP, else true
 * with *ENABLED and *GPA (the record's guest-physical address) set:
 *   KVM_PV_MSR_SYSTEM_TIME: bit 0 enables; the 32-byte record at value & ~1 must be 4-byte
 *     aligned and inside guest memory.
 *   KVM_PV_MSR_STEAL_TIME: bit 0 enables; bits 5:1 are reserved (must be 0); the 64-byte record
 *     at value & ~63 inside guest memory.
 *   KVM_PV_MSR_WALL_CLOCK: no enable bit: the 12-byte record at the value, 4-byte aligned,
 *     inside guest memory; *ENABLED is true.
 * A disabled write (bit 0 clear) is always accepted.  Other MSRs: false. */
bool kvm_msr_check(uint32_t msr, uint64_t value, uint64_t mem_size, bool *enabled,
                   uint64_t *gpa);
bool kvm_msr_handles(uint32_t msr);

#endif
