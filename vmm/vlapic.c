/* The virtual x2APIC of one vCPU and the posted-interrupt descriptor (vmm/vlapic.h).  Section
 * numbers are the Intel SDM Vol. 3A chapter 11 unless said otherwise. */
#include "vmm/vlapic.h"

#include <string.h>

#define ICR_WRITABLE 0xffffffff000ccfffull /* 63:32 dest, 19:18, 15:14, 11:0 (SDM 11.12.9) */
#define SVR_WRITABLE 0x1ffu                /* vector, enable; bit 12 reserved (no EOI suppr.) */
#define DCR_WRITABLE 0xbu                  /* bits 0, 1, 3 (SDM 11.5.4) */

static bool enabled(const struct vlapic *l)
{
    return l->svr & VLAPIC_SVR_ENABLE;
}

static bool test_bit(const uint32_t *r, uint8_t v)
{
    return (r[v >> 5] >> (v & 31)) & 1;
}

/* Highest vector set in a 256-bit register, -1 if none. */
static int highest(const uint32_t *r)
{
    for (int w = 7; w >= 0; w--)
        if (r[w])
            return w * 32 + 31 - __builtin_clz(r[w]);
    return -1;
}

/* Writable bits of each LVT entry (SDM 11.5.1, Figure 11-8).  Delivery status (12) and remote
 * IRR (14) are read-only and read 0: delivery here is instantaneous and edge-triggered. */
static uint32_t lvt_writable(unsigned idx)
{
    switch (idx) {
    case VLAPIC_LVT_TIMER_IDX: return 0x000700ffu;  /* mode 18:17, mask, vector */
    case VLAPIC_LVT_LINT0_IDX:
    case VLAPIC_LVT_LINT1_IDX: return 0x0001a7ffu;  /* + trigger 15, polarity 13 */
    case VLAPIC_LVT_ERROR_IDX: return 0x000100ffu;  /* mask, vector */
    default: return 0x000107ffu;                    /* CMCI, thermal, PMC: + delivery mode */
    }
}

/* LVT index of an x2APIC MSR, -1 when it is not an LVT entry. */
static int lvt_index(uint32_t msr)
{
    if (msr == X2APIC_LVT_CMCI)
        return VLAPIC_LVT_CMCI_IDX;
    if (msr >= X2APIC_LVT_TIMER && msr <= X2APIC_LVT_ERROR)
        return (int)(msr - X2APIC_LVT_TIMER) + VLAPIC_LVT_TIMER_IDX;
    return -1;
}

/* ---- Timer (SDM 11.5.4) ---------------------------------------------------------------- */

static uint32_t timer_mode(const struct vlapic *l)
{
    return l->lvt[VLAPIC_LVT_TIMER_IDX] & VLAPIC_TIMER_MODE;
}

static bool timer_masked(const struct vlapic *l)
{
    return (l->lvt[VLAPIC_LVT_TIMER_IDX] & VLAPIC_LVT_MASKED) || !enabled(l);
}

/* log2 of the divisor: DCR bits 3,1:0 = 000 -> ÷2, 001 -> ÷4, ..., 110 -> ÷128, 111 -> ÷1
 * (SDM 11.5.4, Figure 11-10). */
static unsigned div_shift(uint32_t dcr)
{
    uint32_t v = (dcr & 3) | ((dcr >> 1) & 4);
    return (v + 1) & 7;
}

/* Whole timer ticks (divided TSC cycles) since timer_start; 0 if NOW is before it. */
static uint64_t timer_ticks(const struct vlapic *l, uint64_t now)
{
    return now > l->timer_start ? (now - l->timer_start) >> div_shift(l->timer_dcr) : 0;
}

/* Current-count register: counts down from timer_base, periodic reloads timer_initial. */
static uint32_t timer_current(const struct vlapic *l, uint64_t now)
{
    if (!l->timer_running || timer_mode(l) == VLAPIC_TIMER_DEADLINE)
        return 0;
    uint64_t ticks = timer_ticks(l, now);
    if (ticks < l->timer_base)
        return (uint32_t)(l->timer_base - ticks);
    if (timer_mode(l) != VLAPIC_TIMER_PERIODIC)
        return 0;
    return l->timer_reload - (uint32_t)((ticks - l->timer_base) % l->timer_reload);
}

/* ---- Interrupt acceptance ------------------------------------------------------------- */

/* An error the APIC detected: logged for the next ESR write, and an error interrupt through
 * LVT error unless masked (SDM 11.5.3).  An illegal error vector only logs. */
static void raise_error(struct vlapic *l, uint32_t bits)
{
    l->esr_pending |= bits;
    uint32_t e = l->lvt[VLAPIC_LVT_ERROR_IDX];
    if ((e & VLAPIC_LVT_MASKED) || !enabled(l))
        return;
    uint8_t v = e & VLAPIC_LVT_VECTOR;
    if (v < 16) {
        l->esr_pending |= VLAPIC_ESR_RECV_ILLEGAL;
        return;
    }
    l->irr[v >> 5] |= 1u << (v & 31);
}

/* Accept the fixed interrupts BITS of IRR word WORD (vectors WORD*32 + bit). */
static void accept_bits(struct vlapic *l, unsigned word, uint32_t bits)
{
    if (!bits)
        return;
    if (!enabled(l)) {
        for (; bits; bits &= bits - 1)
            l->dropped_disabled++;
        return;
    }
    if (word == 0 && (bits & 0xffffu)) { /* vectors 0-15 (SDM 11.5.2) */
        bits &= ~0xffffu;
        raise_error(l, VLAPIC_ESR_RECV_ILLEGAL);
    }
    l->irr[word] |= bits;
}

static bool accept(struct vlapic *l, uint8_t vector)
{
    accept_bits(l, vector >> 5, 1u << (vector & 31));
    return vector >= 16 && enabled(l);
}

/* The timer counted to 0 (or reached its deadline): its interrupt, unless masked. */
static bool timer_fire(struct vlapic *l)
{
    if (timer_masked(l)) {
        l->timer_masked++;
        return false;
    }
    if (!accept(l, l->lvt[VLAPIC_LVT_TIMER_IDX] & VLAPIC_LVT_VECTOR))
        return false;
    l->timer_irqs++;
    return true;
}

/* ---- Public: state and timer ---------------------------------------------------------- */

void vlapic_init(struct vlapic *l, uint32_t x2apic_id)
{
    memset(l, 0, sizeof(*l));
    l->id = x2apic_id;
    l->svr = 0xff;
    for (unsigned i = 0; i < VLAPIC_LVT_COUNT; i++)
        l->lvt[i] = VLAPIC_LVT_MASKED;
}

bool vlapic_handles(uint32_t msr)
{
    return (msr >= X2APIC_MSR_BASE && msr <= X2APIC_MSR_LAST) || msr == MSR_IA32_TSC_DEADLINE;
}

void vlapic_set_min_period(struct vlapic *l, uint64_t period_tsc)
{
    l->min_period_tsc = period_tsc;
}

uint32_t vlapic_tpr(const struct vlapic *l)
{
    return l->tpr;
}

void vlapic_set_tpr(struct vlapic *l, uint32_t tpr)
{
    l->tpr = tpr & 0xff;
}

uint8_t vlapic_tpr_blocked_class(const struct vlapic *l)
{
    int irrv = highest(l->irr), isrv = highest(l->isr);
    if (irrv < 0)
        return 0;
    uint32_t cls = (uint32_t)irrv >> 4;
    bool isr_blocks = isrv >= 0 && ((uint32_t)isrv >> 4) >= cls;
    bool tpr_blocks = (l->tpr >> 4) >= cls;
    return !isr_blocks && tpr_blocks ? (uint8_t)cls : 0;
}

/* Ticks of the shortest allowed period at divide shift SH (at least 1, at most 2^32-1). */
static uint32_t min_ticks(const struct vlapic *l, unsigned sh)
{
    uint64_t t = (l->min_period_tsc + (1ull << sh) - 1) >> sh;
    return t > 0xffffffffu ? 0xffffffffu : t ? (uint32_t)t : 1;
}

uint64_t vlapic_timer_deadline(const struct vlapic *l)
{
    if (timer_masked(l))
        return 0;
    if (timer_mode(l) == VLAPIC_TIMER_DEADLINE)
        return l->tsc_deadline ? l->tsc_deadline_due : 0;
    if (!l->timer_running)
        return 0;
    uint64_t span = (uint64_t)l->timer_base << div_shift(l->timer_dcr); /* < 2^39 */
    return l->timer_start > UINT64_MAX - span ? UINT64_MAX : l->timer_start + span;
}

bool vlapic_timer_expire(struct vlapic *l, uint64_t now_tsc)
{
    if (timer_mode(l) == VLAPIC_TIMER_DEADLINE) {
        if (!l->tsc_deadline || now_tsc < l->tsc_deadline_due)
            return false;
        l->tsc_deadline = 0; /* the timer disarms itself (SDM 11.5.4.1) */
        return timer_fire(l);
    }
    if (!l->timer_running)
        return false;
    uint64_t ticks = timer_ticks(l, now_tsc);
    if (ticks < l->timer_base)
        return false;
    if (timer_mode(l) == VLAPIC_TIMER_PERIODIC) {
        /* Expiries at start + base*div + k*period; rebase to the last one at or before now,
         * so nothing here exceeds now and nothing overflows. */
        unsigned sh = div_shift(l->timer_dcr);
        uint64_t due = l->timer_start + ((uint64_t)l->timer_base << sh);
        uint64_t period = (uint64_t)l->timer_reload << sh;
        uint64_t missed = (now_tsc - due) / period;
        l->timer_start = due + missed * period;
        l->timer_base = l->timer_reload;
        if (timer_masked(l))
            l->timer_masked += missed;
        else
            l->timer_coalesced += missed;
    } else {
        l->timer_running = false;
    }
    return timer_fire(l);
}

/* ---- Public: priorities and delivery (SDM 11.8) --------------------------------------- */

uint32_t vlapic_ppr(const struct vlapic *l)
{
    int isrv = highest(l->isr);
    uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0;
    return (l->tpr & 0xf0) >= isr_class ? l->tpr : isr_class;
}

int vlapic_pending(const struct vlapic *l)
{
    int v = highest(l->irr);
    if (v < 0 || ((uint32_t)v & 0xf0) <= (vlapic_ppr(l) & 0xf0))
        return -1;
    return v;
}

void vlapic_accept(struct vlapic *l, uint8_t vector)
{
    accept(l, vector);
}

bool vlapic_ack(struct vlapic *l, uint8_t vector)
{
    if (!test_bit(l->irr, vector))
        return false;
    l->irr[vector >> 5] &= ~(1u << (vector & 31));
    l->isr[vector >> 5] |= 1u << (vector & 31);
    return true;
}

/* ---- Public: MSR access (SDM 11.12.1) ------------------------------------------------- */

enum vlapic_result vlapic_read(struct vlapic *l, uint32_t msr, uint64_t now_tsc, uint64_t *val)
{
    int lvt = lvt_index(msr);
    uint64_t v;
    if (msr == X2APIC_EOI || msr == X2APIC_SELF_IPI || !vlapic_handles(msr))
        return VLAPIC_GP; /* write-only, or not ours */
    if (!(lvt >= 0 || msr == MSR_IA32_TSC_DEADLINE || msr == X2APIC_ID ||
          msr == X2APIC_VERSION || msr == X2APIC_TPR || msr == X2APIC_PPR ||
          msr == X2APIC_LDR || msr == X2APIC_SVR || (msr >= X2APIC_ISR0 && msr <= X2APIC_ESR) ||
          msr == X2APIC_ICR || msr == X2APIC_TIMER_ICR || msr == X2APIC_TIMER_CCR ||
          msr == X2APIC_TIMER_DCR))
        return VLAPIC_GP; /* no such register in x2APIC mode */

    vlapic_timer_expire(l, now_tsc); /* IRR, current count and deadline as of now */
    if (lvt >= 0)
        v = l->lvt[lvt];
    else if (msr >= X2APIC_ISR0 && msr < X2APIC_TMR0)
        v = l->isr[msr - X2APIC_ISR0];
    else if (msr >= X2APIC_TMR0 && msr < X2APIC_IRR0)
        v = 0; /* edge-triggered only */
    else if (msr >= X2APIC_IRR0 && msr < X2APIC_ESR)
        v = l->irr[msr - X2APIC_IRR0];
    else {
        switch (msr) {
        case X2APIC_ID: v = l->id; break;
        case X2APIC_VERSION: v = VLAPIC_VERSION_VALUE; break;
        case X2APIC_TPR: v = l->tpr; break;
        case X2APIC_PPR: v = vlapic_ppr(l); break;
        case X2APIC_LDR: /* cluster = ID[19:4], one bit for ID[3:0] (SDM 11.12.10) */
            v = (((l->id >> 4) & 0xffffu) << 16) | (1u << (l->id & 15));
            break;
        case X2APIC_SVR: v = l->svr; break;
        case X2APIC_ESR: v = l->esr; break;
        case X2APIC_ICR: v = l->icr; break;
        case X2APIC_TIMER_ICR: v = l->timer_initial; break;
        case X2APIC_TIMER_CCR: v = timer_current(l, now_tsc); break;
        case X2APIC_TIMER_DCR: v = l->timer_dcr; break;
        default: /* MSR_IA32_TSC_DEADLINE: 0 outside TSC-deadline mode (SDM 11.5.4.1) */
            v = timer_mode(l) == VLAPIC_TIMER_DEADLINE ? l->tsc_deadline : 0;
            break;
        }
    }
    *val = v;
    return VLAPIC_OK;
}

/* Does writing VAL to MSR raise #GP?  Decided before anything changes (SDM 11.12.1.3). */
static bool write_faults(uint32_t msr, uint64_t val)
{
    int lvt = lvt_index(msr);
    if (lvt >= 0) {
        if (val & ~(uint64_t)lvt_writable((unsigned)lvt))
            return true;
        return lvt == VLAPIC_LVT_TIMER_IDX && (val & VLAPIC_TIMER_MODE) == VLAPIC_TIMER_MODE;
    }
    switch (msr) {
    case X2APIC_TPR: return val > 0xff;
    case X2APIC_EOI: return val != 0;
    case X2APIC_ESR: return val != 0;
    case X2APIC_SVR: return (val & ~(uint64_t)SVR_WRITABLE) != 0;
    case X2APIC_ICR: {
        uint64_t dm = (val >> 8) & 7;
        return (val & ~ICR_WRITABLE) || dm == 3 || dm == 7;
    }
    case X2APIC_TIMER_ICR: return val > 0xffffffffu;
    case X2APIC_TIMER_DCR: return (val & ~(uint64_t)DCR_WRITABLE) != 0;
    case X2APIC_SELF_IPI: return val > 0xff;
    case MSR_IA32_TSC_DEADLINE: return false;
    default: return true; /* read-only or absent */
    }
}

static void write_lvt(struct vlapic *l, unsigned idx, uint32_t val)
{
    if (!enabled(l))
        val |= VLAPIC_LVT_MASKED; /* SDM 11.4.7.2: cannot be unmasked while disabled */
    if (idx == VLAPIC_LVT_TIMER_IDX && (val & VLAPIC_TIMER_MODE) != timer_mode(l)) {
        /* A mode change disarms the timer (SDM 11.5.4.1). */
        l->timer_running = false;
        l->timer_initial = 0;
        l->tsc_deadline = 0;
    }
    l->lvt[idx] = val;
}

static void write_divide(struct vlapic *l, uint32_t dcr, uint64_t now)
{
    if (l->timer_running && timer_mode(l) != VLAPIC_TIMER_DEADLINE) {
        /* Keep the current count; count on from now at the new rate. */
        l->timer_base = timer_current(l, now);
        l->timer_start = now;
    }
    l->timer_dcr = dcr;
    uint32_t floor = min_ticks(l, div_shift(dcr));
    l->timer_reload = l->timer_initial > floor ? l->timer_initial : floor;
}

static void write_initial(struct vlapic *l, uint32_t count, uint64_t now)
{
    if (timer_mode(l) == VLAPIC_TIMER_DEADLINE)
        return; /* ignored in TSC-deadline mode (SDM 11.5.4.1) */
    uint32_t floor = min_ticks(l, div_shift(l->timer_dcr));
    l->timer_initial = count;
    l->timer_reload = count > floor ? count : floor;
    l->timer_running = count != 0;
    l->timer_start = now;
    l->timer_base = l->timer_reload;
}

static enum vlapic_result write_icr(struct vlapic *l, uint64_t val, struct vlapic_ipi *ipi)
{
    uint8_t vector = val & 0xff;
    uint8_t dm = (val >> 8) & 7;
    l->icr = val;
    if ((dm == VLAPIC_DM_FIXED || dm == VLAPIC_DM_LOWEST) && vector < 16) {
        raise_error(l, VLAPIC_ESR_SEND_ILLEGAL);
        return VLAPIC_OK;
    }
    ipi->vector = vector;
    ipi->delivery_mode = dm;
    ipi->logical = (val >> 11) & 1;
    ipi->level_assert = (val >> 14) & 1;
    ipi->level_trigger = (val >> 15) & 1;
    ipi->shorthand = (val >> 18) & 3;
    ipi->dest = (uint32_t)(val >> 32);
    return VLAPIC_IPI;
}

enum vlapic_result vlapic_write(struct vlapic *l, uint32_t msr, uint64_t val, uint64_t now_tsc,
                                struct vlapic_ipi *ipi)
{
    enum vlapic_result r = VLAPIC_OK;
    int lvt = lvt_index(msr);
    if (!vlapic_handles(msr) || write_faults(msr, val))
        return VLAPIC_GP;

    vlapic_timer_expire(l, now_tsc); /* what happened before this write, under the old state */
    if (lvt >= 0) {
        write_lvt(l, (unsigned)lvt, (uint32_t)val);
    } else {
        switch (msr) {
        case X2APIC_TPR: l->tpr = (uint32_t)val; break;
        case X2APIC_EOI: { /* the highest in-service vector ends (SDM 11.8.5) */
            int v = highest(l->isr);
            if (v >= 0)
                l->isr[v >> 5] &= ~(1u << (v & 31));
            break;
        }
        case X2APIC_ESR: /* latch the errors since the last write, start anew (11.5.3) */
            l->esr = l->esr_pending;
            l->esr_pending = 0;
            break;
        case X2APIC_SVR:
            l->svr = (uint32_t)val;
            if (!enabled(l))
                for (unsigned i = 0; i < VLAPIC_LVT_COUNT; i++)
                    l->lvt[i] |= VLAPIC_LVT_MASKED;
            break;
        case X2APIC_ICR: r = write_icr(l, val, ipi); break;
        case X2APIC_TIMER_ICR: write_initial(l, (uint32_t)val, now_tsc); break;
        case X2APIC_TIMER_DCR: write_divide(l, (uint32_t)val, now_tsc); break;
        case X2APIC_SELF_IPI: /* a fixed edge IPI to self (SDM 11.12.11) */
            if (val < 16)
                raise_error(l, VLAPIC_ESR_SEND_ILLEGAL);
            else
                accept(l, (uint8_t)val);
            break;
        default: /* MSR_IA32_TSC_DEADLINE: arms (0 disarms) in TSC-deadline mode only */
            if (timer_mode(l) == VLAPIC_TIMER_DEADLINE) {
                uint64_t earliest = now_tsc + l->min_period_tsc;
                l->tsc_deadline = val;
                l->tsc_deadline_due = val && val < earliest ? earliest : val;
            }
            break;
        }
    }
    vlapic_timer_expire(l, now_tsc); /* a deadline already past fires at once */
    return r;
}

/* ---- Posted interrupts (SDM Vol. 3C 29.6) --------------------------------------------- */

_Static_assert(sizeof(struct pi_desc) == 64, "posted-interrupt descriptor is 64 bytes");

void pi_init(struct pi_desc *d, uint8_t notify_vector, uint32_t notify_dest)
{
    memset(d, 0, sizeof(*d));
    d->control = ((uint64_t)notify_vector << 8) | ((uint64_t)notify_dest << 32);
}

void pi_set_suppress(struct pi_desc *d, bool suppress)
{
    if (suppress)
        __atomic_fetch_or(&d->control, PI_CONTROL_SN, __ATOMIC_SEQ_CST);
    else
        __atomic_fetch_and(&d->control, ~PI_CONTROL_SN, __ATOMIC_SEQ_CST);
}

bool pi_post(struct pi_desc *d, uint8_t vector)
{
    /* PIR first, then ON: whoever clears ON afterwards is ordered after our PIR bit and
     * takes it; if ON was already clear again, we set it and notify. */
    __atomic_fetch_or(&d->pir[vector >> 6], 1ull << (vector & 63), __ATOMIC_SEQ_CST);
    uint64_t old = __atomic_fetch_or(&d->control, PI_CONTROL_ON, __ATOMIC_SEQ_CST);
    return !(old & (PI_CONTROL_ON | PI_CONTROL_SN));
}

bool vlapic_sync_pir(struct vlapic *l, struct pi_desc *d)
{
    if (!(__atomic_load_n(&d->control, __ATOMIC_SEQ_CST) & PI_CONTROL_ON))
        return false;
    __atomic_fetch_and(&d->control, ~PI_CONTROL_ON, __ATOMIC_SEQ_CST);
    bool moved = false;
    for (unsigned i = 0; i < 4; i++) {
        uint64_t w = __atomic_exchange_n(&d->pir[i], 0, __ATOMIC_SEQ_CST);
        if (!w)
            continue;
        moved = true;
        accept_bits(l, 2 * i, (uint32_t)w);
        accept_bits(l, 2 * i + 1, (uint32_t)(w >> 32));
    }
    return moved;
}

void vlapic_get_vectors(const struct vlapic *l, struct vlapic_vectors *out)
{
    memcpy(out->irr, l->irr, sizeof(out->irr));
    memcpy(out->isr, l->isr, sizeof(out->isr));
    out->tpr = l->tpr;
}

void vlapic_set_vectors(struct vlapic *l, const struct vlapic_vectors *in)
{
    memcpy(l->irr, in->irr, sizeof(l->irr));
    memcpy(l->isr, in->isr, sizeof(l->isr));
    l->tpr = in->tpr & 0xff;
}
