/* The KVM paravirtual interface's data; see kvm_pv.h. */
#include "vmm/kvm_pv.h"

#define NSEC_PER_SEC 1000000000ull
#define STEAL_RESERVED 0x3eull   /* bits 5:1 of KVM_PV_MSR_STEAL_TIME */

#define barrier() __asm__ __volatile__("" ::: "memory")

bool kvm_cpuid(uint32_t base, uint32_t leaf, struct cpuid_leaf *out)
{
    if (leaf == base) {
        /* EAX: the highest KVM leaf. */
        *out = (struct cpuid_leaf){ base + 1, KVM_PV_SIG_EBX, KVM_PV_SIG_ECX,
                                    KVM_PV_SIG_EDX };
        return true;
    }
    if (leaf == base + 1) {
        *out = (struct cpuid_leaf){ KVM_PV_FEATURES, 0, 0, 0 };
        return true;
    }
    return false;
}

/* floor(a * 2^k / d) for a < 2^63 and d in (0, 2^63), by long division (no 128-bit division:
 * the VMM is freestanding without libgcc). */
static uint64_t mul_pow2_div(uint64_t a, unsigned k, uint64_t d)
{
    uint64_t q = a / d, r = a % d;
    for (unsigned i = 0; i < k; i++) {
        q <<= 1;
        r <<= 1;
        if (r >= d) {
            r -= d;
            q |= 1;
        }
    }
    return q;
}

int kvm_pvclock_scale(uint64_t tsc_hz, uint32_t *mul, int8_t *shift)
{
    if (tsc_hz < 1000 || tsc_hz > (1ull << 32) * 1000)
        return -1;
    /* ns per tick = 1e9 / tsc_hz = mul * 2^(shift - 32), i.e.
     * mul(s) = floor(1e9 * 2^(32 - s) / tsc_hz).  mul(0) < 1e9 * 2^32 fits in 64 bits; from
     * there step s up while mul is too large, or down (mul doubles, so it stays below 2^32
     * once it reaches 2^31) while it is too small. */
    int s = 0;
    uint64_t m = mul_pow2_div(NSEC_PER_SEC, 32, tsc_hz);
    while (m >= (1ull << 32))
        m = mul_pow2_div(NSEC_PER_SEC, (unsigned)(32 - ++s), tsc_hz);
    while (m < (1ull << 31))
        m = mul_pow2_div(NSEC_PER_SEC, (unsigned)(32 - --s), tsc_hz);
    *mul = (uint32_t)m;
    *shift = (int8_t)s;
    return 0;
}

uint64_t kvm_pvclock_read(const struct kvm_pvclock *c, uint64_t tsc)
{
    uint64_t delta = tsc - c->tsc_timestamp;
    if (c->tsc_shift < 0)
        delta >>= -c->tsc_shift;
    else
        delta <<= c->tsc_shift;
    /* (delta * mul) >> 32 without a 128-bit type: split delta in halves. */
    uint64_t hi = (delta >> 32) * c->tsc_to_system_mul;
    uint64_t lo = ((delta & 0xffffffffull) * c->tsc_to_system_mul) >> 32;
    return c->system_time + hi + lo;
}

void kvm_pv_version_begin(volatile uint32_t *version)
{
    *version = (*version + 1) | 1;       /* odd: being written */
    barrier();
}

void kvm_pv_version_end(volatile uint32_t *version)
{
    barrier();
    *version = *version + 1;             /* even: complete */
}

void kvm_pvclock_write(volatile struct kvm_pvclock *rec, uint64_t tsc_timestamp,
                       uint64_t system_ns, uint32_t mul, int8_t shift, uint8_t flags)
{
    kvm_pv_version_begin(&rec->version);
    rec->tsc_timestamp = tsc_timestamp;
    rec->system_time = system_ns;
    rec->tsc_to_system_mul = mul;
    rec->tsc_shift = shift;
    rec->flags = flags;
    kvm_pv_version_end(&rec->version);
}

void kvm_wall_clock_write(volatile struct kvm_wall_clock *rec, uint32_t sec, uint32_t nsec)
{
    kvm_pv_version_begin(&rec->version);
    rec->sec = sec;
    rec->nsec = nsec;
    kvm_pv_version_end(&rec->version);
}

void kvm_steal_update(volatile struct kvm_steal *rec, uint64_t steal_ns)
{
    kvm_pv_version_begin(&rec->version);
    rec->steal = steal_ns;
    rec->preempted = 0;
    kvm_pv_version_end(&rec->version);
}

void kvm_steal_preempted(volatile struct kvm_steal *rec)
{
    rec->preempted = KVM_PV_PREEMPTED;
}

bool kvm_msr_handles(uint32_t msr)
{
    return msr == KVM_PV_MSR_WALL_CLOCK || msr == KVM_PV_MSR_SYSTEM_TIME ||
           msr == KVM_PV_MSR_STEAL_TIME;
}

static bool inside(uint64_t gpa, uint64_t size, uint64_t mem_size)
{
    return gpa < mem_size && size <= mem_size - gpa;
}

bool kvm_msr_check(uint32_t msr, uint64_t value, uint64_t mem_size, bool *enabled,
                   uint64_t *gpa)
{
    switch (msr) {
    case KVM_PV_MSR_WALL_CLOCK:
        *enabled = true;
        *gpa = value;
        return value % 4 == 0 && inside(value, sizeof(struct kvm_wall_clock), mem_size);
    case KVM_PV_MSR_SYSTEM_TIME:
        *enabled = value & 1;
        *gpa = value & ~1ull;
        return !*enabled ||
               (*gpa % 4 == 0 && inside(*gpa, sizeof(struct kvm_pvclock), mem_size));
    case KVM_PV_MSR_STEAL_TIME:
        *enabled = value & 1;
        *gpa = value & ~63ull;
        if (value & STEAL_RESERVED)
            return false;
        return !*enabled || inside(*gpa, sizeof(struct kvm_steal), mem_size);
    default:
        return false;
    }
}
