/* The virtual local APIC of one vCPU, in x2APIC mode (guest ABI v1.1, vmm/guest_abi.h), and the
 * posted-interrupt descriptor other pCPUs post into.  References are to the Intel SDM Vol. 3A
 * chapter 11 (Advanced Programmable Interrupt Controller) and Vol. 3C 29.6 (posted interrupts).
 *
 * Pure and freestanding: no globals, no allocation, no floats; time is the TSC value the caller
 * passes in.  The VMM holds its per-vCPU lock around every vlapic_* call; the pi_* calls and
 * the descriptor side of vlapic_sync_pir are lock-free (__atomic builtins) and may run on any
 * pCPU at any time.
 *
 * What the VMM does with it:
 *   - RDMSR/WRMSR exits with vlapic_handles(msr) go to vlapic_read / vlapic_write; VLAPIC_GP
 *     means inject #GP(0); VLAPIC_IPI means deliver the IPI the write describes.
 *   - Any access may let the timer catch up (its interrupt becomes pending), so after each
 *     access and each vlapic_timer_expire the VMM re-reads vlapic_timer_deadline (re-arm its
 *     own timer) and vlapic_pending (inject: vlapic_ack, then the vector into the guest).
 *
 * Deliberate simplifications: every interrupt is edge-triggered (TMR reads 0, no EOI
 * broadcast); only fixed interrupts reach IRR (the LVT entries other than timer and error are
 * stored, never fired); the APIC timer counts the TSC itself, divided by the divide
 * configuration. */
#ifndef VSCHED_VMM_VLAPIC_H
#define VSCHED_VMM_VLAPIC_H

#include <stdbool.h>
#include <stdint.h>

/* x2APIC MSRs: 0x800 + (xAPIC MMIO offset >> 4) (SDM 11.12.1.2). */
#define X2APIC_MSR_BASE    0x800u
#define X2APIC_MSR_LAST    0x8ffu
#define X2APIC_ID          0x802u
#define X2APIC_VERSION     0x803u
#define X2APIC_TPR         0x808u
#define X2APIC_PPR         0x80au
#define X2APIC_EOI         0x80bu
#define X2APIC_LDR         0x80du
#define X2APIC_SVR         0x80fu
#define X2APIC_ISR0        0x810u /* ..0x817 */
#define X2APIC_TMR0        0x818u /* ..0x81f */
#define X2APIC_IRR0        0x820u /* ..0x827 */
#define X2APIC_ESR         0x828u
#define X2APIC_LVT_CMCI    0x82fu
#define X2APIC_ICR         0x830u
#define X2APIC_LVT_TIMER   0x832u
#define X2APIC_LVT_THERMAL 0x833u
#define X2APIC_LVT_PMC     0x834u
#define X2APIC_LVT_LINT0   0x835u
#define X2APIC_LVT_LINT1   0x836u
#define X2APIC_LVT_ERROR   0x837u
#define X2APIC_TIMER_ICR   0x838u /* initial count */
#define X2APIC_TIMER_CCR   0x839u /* current count */
#define X2APIC_TIMER_DCR   0x83eu /* divide configuration */
#define X2APIC_SELF_IPI    0x83fu
#define MSR_IA32_TSC_DEADLINE 0x6e0u

/* Version register: version 0x14 (integrated APIC), max LVT entry 6 (7 entries, CMCI
 * included), bit 24 clear: no EOI-broadcast suppression (SDM 11.4.8). */
#define VLAPIC_VERSION_VALUE 0x00060014u

#define VLAPIC_SVR_ENABLE   (1u << 8)  /* APIC software enable (SDM 11.4.7.2, 11.9) */
#define VLAPIC_LVT_MASKED   (1u << 16)
#define VLAPIC_LVT_VECTOR   0xffu
#define VLAPIC_TIMER_ONESHOT  (0u << 17) /* LVT timer mode, bits 18:17 (SDM 11.5.4) */
#define VLAPIC_TIMER_PERIODIC (1u << 17)
#define VLAPIC_TIMER_DEADLINE (2u << 17)
#define VLAPIC_TIMER_MODE     (3u << 17)

/* Error status bits that exist in x2APIC mode (SDM 11.5.3; illegal register address is a #GP
 * instead). */
#define VLAPIC_ESR_SEND_ILLEGAL (1u << 5)
#define VLAPIC_ESR_RECV_ILLEGAL (1u << 6)

/* ICR delivery modes, bits 10:8 (SDM 11.6.1); 3 and 7 are reserved. */
#define VLAPIC_DM_FIXED  0u
#define VLAPIC_DM_LOWEST 1u
#define VLAPIC_DM_SMI    2u
#define VLAPIC_DM_NMI    4u
#define VLAPIC_DM_INIT   5u
#define VLAPIC_DM_SIPI   6u

/* ICR destination shorthands, bits 19:18. */
#define VLAPIC_SH_NONE      0u /* use dest */
#define VLAPIC_SH_SELF      1u
#define VLAPIC_SH_ALL       2u /* all including self */
#define VLAPIC_SH_ALL_BUT_SELF 3u

/* LVT entries, in the order of their MSRs (CMCI first). */
enum vlapic_lvt {
    VLAPIC_LVT_CMCI_IDX,
    VLAPIC_LVT_TIMER_IDX,
    VLAPIC_LVT_THERMAL_IDX,
    VLAPIC_LVT_PMC_IDX,
    VLAPIC_LVT_LINT0_IDX,
    VLAPIC_LVT_LINT1_IDX,
    VLAPIC_LVT_ERROR_IDX,
    VLAPIC_LVT_COUNT
};

struct vlapic {
    uint32_t id;                     /* x2APIC ID (read-only) */
    uint32_t tpr;                    /* bits 7:0 */
    uint32_t svr;                    /* bits 8:0 */
    uint32_t esr;                    /* as last latched by an ESR write (what reads return) */
    uint32_t esr_pending;            /* errors seen since that write */
    uint32_t lvt[VLAPIC_LVT_COUNT];
    uint64_t icr;                    /* last value written */
    uint32_t irr[8];                 /* vector v is bit v%32 of word v/32 */
    uint32_t isr[8];

    /* Timer (SDM 11.5.4).  One-shot and periodic: while timer_running, the count was
     * timer_base at TSC timer_start and drops by one every divisor TSC cycles; when it
     * reaches 0 a periodic timer reloads timer_initial, a one-shot one stops. */
    uint32_t timer_initial;          /* initial-count register */
    uint32_t timer_reload;           /* ticks of one period: timer_initial, or more to make
                                        min_period_tsc (vlapic_set_min_period) */
    uint32_t timer_dcr;              /* divide configuration, bits 0,1,3 */
    uint32_t timer_base;             /* count at timer_start, 1..timer_reload */
    bool timer_running;
    uint64_t timer_start;
    uint64_t tsc_deadline;           /* TSC-deadline mode: armed deadline, 0 = disarmed */
    uint64_t tsc_deadline_due;       /* when it fires: at least min_period_tsc after the write */
    uint64_t min_period_tsc;         /* no timer interrupt comes sooner than this after the
                                        one before or the write that armed it */

    /* Counters for reports; never reset except by vlapic_init. */
    uint64_t timer_irqs;             /* timer interrupts raised into IRR */
    uint64_t timer_coalesced;        /* periodic expiries merged into a later one */
    uint64_t timer_masked;           /* expiries that raised nothing: LVT timer masked */
    uint64_t dropped_disabled;       /* fixed interrupts refused while software-disabled */
};

enum vlapic_result {
    VLAPIC_OK,
    VLAPIC_GP,  /* inject #GP(0); the vlapic is unchanged */
    VLAPIC_IPI, /* ICR write: deliver *ipi */
};

/* An IPI the guest sent by writing ICR (SDM 11.6.1, 11.12.9).  The VMM delivers it, to this
 * vCPU too (shorthand self / all), fixed ones via vlapic_accept; it decides what NMI, INIT,
 * SIPI, SMI and lowest-priority mean (or refuses them). */
struct vlapic_ipi {
    uint8_t vector;
    uint8_t shorthand;     /* VLAPIC_SH_*: 0 none (use dest), 1 self, 2 all, 3 all but self */
    uint8_t delivery_mode; /* VLAPIC_DM_* */
    bool logical;          /* destination mode: dest is an x2APIC logical ID (cluster:bitmap) */
    bool level_assert;     /* ICR bit 14 (0 only for an INIT level de-assert) */
    bool level_trigger;    /* ICR bit 15 */
    uint32_t dest;         /* ICR bits 63:32 */
};

/* Reset (SDM 11.4.7.1 power-up/reset state): SVR 0xFF, so software-disabled; all LVT entries
 * 0x10000 (masked); TPR, IRR, ISR, ESR, ICR 0; timer stopped, divide configuration 0 (÷2). */
void vlapic_init(struct vlapic *l, uint32_t x2apic_id);

/* The VMM's bound on the guest's timer rate (as KVM's min_timer_period_us): a one-shot or
 * TSC-deadline timer fires no sooner than PERIOD_TSC after it was armed, a periodic timer's
 * period is at least PERIOD_TSC (its count register counts the longer period down).  The
 * registers read back what the guest wrote.  0 = no bound.  Applies from the next write. */
void vlapic_set_min_period(struct vlapic *l, uint64_t period_tsc);

/* The task-priority register (SDM 11.8.3): CR8 is its bits 7:4.  The backend keeps it while
 * the guest runs (vcpu_tpr_load/save); these move it in and out. */
uint32_t vlapic_tpr(const struct vlapic *l);
void vlapic_set_tpr(struct vlapic *l, uint32_t tpr);
/* The priority class (1..15) of the highest interrupt in IRR that only TPR holds back -- the
 * guest can take it as soon as it lowers TPR below that class; 0 when there is none (IRR
 * empty, deliverable, or held back by ISR, which only an EOI releases). */
uint8_t vlapic_tpr_blocked_class(const struct vlapic *l);

/* MSR 0x800-0x8FF or IA32_TSC_DEADLINE: the vlapic answers it (with a value or a #GP). */
bool vlapic_handles(uint32_t msr);

/* RDMSR.  VLAPIC_GP for write-only (EOI, SELF IPI) and unimplemented registers (SDM
 * 11.12.1.2); else VLAPIC_OK with *VAL, after the timer caught up to NOW_TSC (so IRR, the
 * current count and IA32_TSC_DEADLINE read as of now).  ICR reads back the last value
 * written; TMR reads 0. */
enum vlapic_result vlapic_read(struct vlapic *l, uint32_t msr, uint64_t now_tsc, uint64_t *val);

/* WRMSR.  VLAPIC_GP (nothing changes) for read-only and unimplemented registers, reserved
 * bits set (SDM 11.12.1.3), a nonzero EOI or ESR write, timer mode 11 and ICR delivery modes
 * 3 and 7.  VLAPIC_IPI when an ICR write describes an IPI, filled into *IPI.  A fixed or
 * lowest-priority IPI (ICR or SELF IPI) with vector 0-15 is not sent: it logs ESR "send
 * illegal vector" (VLAPIC_OK).  The timer catches up to NOW_TSC before the write takes
 * effect (an expiry that was due happened under the old settings) and after it (a TSC
 * deadline already past fires at once). */
enum vlapic_result vlapic_write(struct vlapic *l, uint32_t msr, uint64_t val, uint64_t now_tsc,
                                struct vlapic_ipi *ipi);

/* The TSC value at which the timer next raises an interrupt, for the VMM's own timer; 0 when
 * none is due: stopped, disarmed, or masked (LVT or software-disabled APIC).  A masked
 * periodic timer keeps its phase; unmasking it reports its next period's end.  Saturates at
 * UINT64_MAX for deadlines beyond the TSC's range. */
uint64_t vlapic_timer_deadline(const struct vlapic *l);

/* Catch the timer up to NOW_TSC.  If an expiry is due: the LVT timer vector goes into IRR
 * unless masked; one-shot and TSC-deadline timers disarm (IA32_TSC_DEADLINE reads 0 again);
 * a periodic timer rearms at the end of the period containing NOW_TSC (SDM 11.5.4), the
 * expiries it missed coalesce into this one interrupt (counted in timer_coalesced).  True
 * when an interrupt became pending. */
bool vlapic_timer_expire(struct vlapic *l, uint64_t now_tsc);

/* A fixed, edge-triggered interrupt arrives (SDM 11.5.5, 11.6): its IRR bit is set (merging
 * with one already pending).  Vectors 0-15 set ESR "receive illegal vector" instead (SDM
 * 11.5.2); a software-disabled APIC drops it (our reading of SDM 11.4.7.2, which names only
 * INIT, NMI, SMI and start-up as handled normally; counted in dropped_disabled). */
void vlapic_accept(struct vlapic *l, uint8_t vector);

/* The processor priority (SDM 11.8.3.1): TPR if its class (bits 7:4) is at least the class of
 * the highest vector in ISR, else that class with sub-class 0. */
uint32_t vlapic_ppr(const struct vlapic *l);

/* The vector to inject now: the highest one in IRR if its class exceeds PPR's class (SDM
 * 11.8.3.1), else -1.  Interrupts already in IRR are still delivered when the APIC is
 * software-disabled (SDM 11.4.7.2: "held and require ... handling by the CPU"). */
int vlapic_pending(const struct vlapic *l);

/* The VMM injected VECTOR: it moves from IRR to ISR (SDM 11.8.4).  False (and no change) when
 * VECTOR was not in IRR. */
bool vlapic_ack(struct vlapic *l, uint8_t vector);

/* The registers a CPU with virtual-interrupt delivery keeps in its virtual-APIC page (SDM
 * Vol. 3C 29.1): the VMM copies them there before an entry and back after the exit, so the
 * vlapic stays the one place that holds them while the vCPU is in the VMM. */
struct vlapic_vectors {
    uint32_t irr[8];
    uint32_t isr[8];
    uint32_t tpr;
};
void vlapic_get_vectors(const struct vlapic *l, struct vlapic_vectors *out);
/* IRR, ISR and TPR as the CPU left them (it delivers: IRR -> ISR; posts: PIR -> IRR; the
 * guest's MOV to CR8 writes TPR). */
void vlapic_set_vectors(struct vlapic *l, const struct vlapic_vectors *in);

/* Posted-interrupt descriptor (SDM Vol. 3C 29.6): PIR bits 255:0, outstanding
 * notification ON bit 256, suppress notification SN bit 257, notification vector NV bits
 * 271:264, notification destination NDST bits 319:288; the rest reserved (0). */
struct pi_desc {
    uint64_t pir[4];
    uint64_t control;  /* bit 0 ON, bit 1 SN, bits 15:8 NV, bits 63:32 NDST */
    uint64_t reserved[3];
} __attribute__((aligned(64)));

#define PI_CONTROL_ON (1ull << 0)
#define PI_CONTROL_SN (1ull << 1)

/* Clear D and set its notification vector and destination (a physical APIC ID). */
void pi_init(struct pi_desc *d, uint8_t notify_vector, uint32_t notify_dest);

/* Set or clear SN.  With SN set, pi_post records but never asks for a notification: whoever
 * clears SN syncs the descriptor before the vCPU next enters the guest. */
void pi_set_suppress(struct pi_desc *d, bool suppress);

/* Post VECTOR (any pCPU, lock-free): set its PIR bit, then ON.  True when this call set ON
 * (it was clear) and SN is clear: the poster must then notify (IPI NV to NDST, or kick the
 * vCPU); false when a notification is already outstanding or suppressed. */
bool pi_post(struct pi_desc *d, uint8_t vector);

/* Under the vCPU's lock: if ON is set, clear it, then take each PIR word (atomic exchange with
 * 0) into IRR as vlapic_accept would (vectors 0-15 log an error, a software-disabled APIC
 * drops them).  True when any vector was taken from PIR.  No post is lost: one whose bit
 * lands after its word was taken finds ON clear, sets it and notifies again. */
bool vlapic_sync_pir(struct vlapic *l, struct pi_desc *d);

#endif
