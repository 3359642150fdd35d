/* Unit tests for the virtual x2APIC and the posted-interrupt descriptor (vmm/vlapic.c): the
 * guest's view through RDMSR/WRMSR (Intel SDM Vol. 3A chapter 11), the VMM's view (pending,
 * ack, timer deadline), a random-operation property test against a simple model, and posting
 * from several threads while one thread syncs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "vmm/vlapic.h"

/* ---- helpers ----------------------------------------------------------------------------- */

static uint64_t rd(struct vlapic *l, uint32_t msr, uint64_t now)
{
    uint64_t v = 0xdeadbeefdeadbeefull;
    assert_int_equal(vlapic_read(l, msr, now, &v), VLAPIC_OK);
    return v;
}

static void wr(struct vlapic *l, uint32_t msr, uint64_t val, uint64_t now)
{
    struct vlapic_ipi ipi;
    assert_int_equal(vlapic_write(l, msr, val, now, &ipi), VLAPIC_OK);
}

static bool irr_has(const struct vlapic *l, uint8_t v)
{
    return (l->irr[v >> 5] >> (v & 31)) & 1;
}

static bool isr_has(const struct vlapic *l, uint8_t v)
{
    return (l->isr[v >> 5] >> (v & 31)) & 1;
}

static bool all_zero(const uint32_t *r)
{
    for (int i = 0; i < 8; i++)
        if (r[i])
            return false;
    return true;
}

/* A software-enabled APIC with x2APIC ID 1. */
static void enabled_apic(struct vlapic *l)
{
    vlapic_init(l, 1);
    wr(l, X2APIC_SVR, 0x1ff, 0);
}

/* ESR after latching it with a write of 0. */
static uint64_t latch_esr(struct vlapic *l)
{
    wr(l, X2APIC_ESR, 0, 0);
    return rd(l, X2APIC_ESR, 0);
}

/* Inject what is pending (ack) and check it is VECTOR. */
static void inject(struct vlapic *l, int vector)
{
    assert_int_equal(vlapic_pending(l), vector);
    assert_true(vlapic_ack(l, (uint8_t)vector));
}

/* ---- reset and identification -------------------------------------------------------------- */

static void test_reset_values(void **state)
{
    (void)state;
    struct vlapic l;
    memset(&l, 0x5a, sizeof(l));
    vlapic_init(&l, 7);
    assert_int_equal(rd(&l, X2APIC_SVR, 0), 0xff);
    for (uint32_t m = X2APIC_LVT_TIMER; m <= X2APIC_LVT_ERROR; m++)
        assert_int_equal(rd(&l, m, 0), 0x10000);
    assert_int_equal(rd(&l, X2APIC_LVT_CMCI, 0), 0x10000);
    assert_int_equal(rd(&l, X2APIC_TPR, 0), 0);
    assert_int_equal(rd(&l, X2APIC_PPR, 0), 0);
    assert_int_equal(rd(&l, X2APIC_TIMER_DCR, 0), 0);
    assert_int_equal(rd(&l, X2APIC_TIMER_ICR, 0), 0);
    assert_int_equal(rd(&l, X2APIC_TIMER_CCR, 123456), 0);
    assert_int_equal(rd(&l, X2APIC_ICR, 0), 0);
    assert_int_equal(rd(&l, X2APIC_ESR, 0), 0);
    assert_int_equal(rd(&l, MSR_IA32_TSC_DEADLINE, 0), 0);
    for (uint32_t i = 0; i < 8; i++) {
        assert_int_equal(rd(&l, X2APIC_ISR0 + i, 0), 0);
        assert_int_equal(rd(&l, X2APIC_TMR0 + i, 0), 0);
        assert_int_equal(rd(&l, X2APIC_IRR0 + i, 0), 0);
    }
    assert_int_equal(vlapic_timer_deadline(&l), 0);
    assert_int_equal(vlapic_pending(&l), -1);
    assert_false(vlapic_timer_expire(&l, UINT64_MAX));
    assert_int_equal(l.timer_irqs + l.timer_coalesced + l.timer_masked + l.dropped_disabled, 0);
}

static void test_id_version_ldr(void **state)
{
    (void)state;
    static const struct { uint32_t id, ldr; } cases[] = {
        { 0, 0x00000001 },     /* cluster 0, bit 0 */
        { 5, 0x00000020 },     /* cluster 0, bit 5 */
        { 0x23, 0x00020008 },  /* cluster 2, bit 3 */
        { 0x1f, 0x00018000 },  /* cluster 1, bit 15 */
        { 0xfffff, 0xffff8000 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct vlapic l;
        vlapic_init(&l, cases[i].id);
        assert_int_equal(rd(&l, X2APIC_ID, 0), cases[i].id);
        assert_int_equal(rd(&l, X2APIC_LDR, 0), cases[i].ldr);
        assert_int_equal(rd(&l, X2APIC_VERSION, 0), 0x00060014);
    }
    assert_true(vlapic_handles(0x800));
    assert_true(vlapic_handles(0x8ff));
    assert_true(vlapic_handles(0x6e0));
    assert_false(vlapic_handles(0x7ff));
    assert_false(vlapic_handles(0x900));
    assert_false(vlapic_handles(0x1b)); /* IA32_APIC_BASE belongs to the VMM */
    assert_false(vlapic_handles(0x6e1));
}

/* ---- #GP cases leave everything as it was --------------------------------------------------- */

static void test_gp_leaves_state_unchanged(void **state)
{
    (void)state;
    static const struct { uint32_t msr; uint64_t val; } bad_writes[] = {
        /* read-only */
        { X2APIC_ID, 1 }, { X2APIC_VERSION, 0x60014 }, { X2APIC_PPR, 0 }, { X2APIC_LDR, 0 },
        { X2APIC_ISR0, 0 }, { X2APIC_ISR0 + 7, 0 }, { X2APIC_TMR0, 0 }, { X2APIC_TMR0 + 7, 0 },
        { X2APIC_IRR0, 0 }, { X2APIC_IRR0 + 7, 1 }, { X2APIC_TIMER_CCR, 5 },
        /* absent in x2APIC mode (APR, RRD, DFR, ICR high, reserved offsets) */
        { 0x800, 0 }, { 0x801, 0 }, { 0x809, 0 }, { 0x80c, 0 }, { 0x80e, 0 }, { 0x831, 0 },
        { 0x83a, 0 }, { 0x83d, 0 }, { 0x840, 0 }, { 0x8ff, 0 },
        /* reserved bits */
        { X2APIC_TPR, 0x100 }, { X2APIC_TPR, 1ull << 32 },
        { X2APIC_SVR, 0x1000 | 0x1ff }, { X2APIC_SVR, 0x200 }, { X2APIC_SVR, 1ull << 40 },
        { X2APIC_EOI, 1 }, { X2APIC_EOI, 1ull << 63 }, { X2APIC_ESR, 0x40 },
        { X2APIC_LVT_TIMER, 0x60000 | 0xec },         /* timer mode 11 */
        { X2APIC_LVT_TIMER, 0x1000 | 0xec },          /* delivery status is read-only */
        { X2APIC_LVT_TIMER, 0x400 | 0xec },           /* no delivery mode in LVT timer */
        { X2APIC_LVT_TIMER, 0x80000 },
        { X2APIC_LVT_TIMER, 1ull << 32 },
        { X2APIC_LVT_ERROR, 0x400 | 0xe0 },
        { X2APIC_LVT_LINT0, 0x4000 },                 /* remote IRR is read-only */
        { X2APIC_LVT_LINT1, 0x20000 },
        { X2APIC_LVT_CMCI, 0x8000 },                  /* no trigger mode in CMCI */
        { X2APIC_LVT_THERMAL, 0x2000 }, { X2APIC_LVT_PMC, 0x1000 },
        { X2APIC_ICR, 0x1000 | 0x40 },                /* bit 12 reserved in x2APIC */
        { X2APIC_ICR, 0x2000 | 0x40 }, { X2APIC_ICR, 0x10000 | 0x40 },
        { X2APIC_ICR, 0x100000 | 0x40 }, { X2APIC_ICR, 0x80000000ull | 0x40 },
        { X2APIC_ICR, 0x300 | 0x40 }, { X2APIC_ICR, 0x700 | 0x40 }, /* reserved modes */
        { X2APIC_TIMER_ICR, 1ull << 32 }, { X2APIC_TIMER_DCR, 0x4 },
        { X2APIC_TIMER_DCR, 0x10 }, { X2APIC_SELF_IPI, 0x100 }, { X2APIC_SELF_IPI, 1ull << 32 },
        /* not ours */
        { 0x1b, 0 }, { 0x7ff, 0 }, { 0x900, 0 },
    };
    static const uint32_t bad_reads[] = {
        X2APIC_EOI, X2APIC_SELF_IPI, 0x800, 0x801, 0x809, 0x80c, 0x80e, 0x831, 0x83a, 0x83d,
        0x840, 0x8ff, 0x1b, 0x6e1,
    };
    struct vlapic l, before;
    enabled_apic(&l);
    /* Some state to keep: TPR, an interrupt in service and one pending, a running timer,
     * a latched error, an ICR value. */
    wr(&l, X2APIC_TPR, 0x21, 0);
    vlapic_accept(&l, 0x80);
    inject(&l, 0x80);
    vlapic_accept(&l, 0x90);
    vlapic_accept(&l, 3);
    latch_esr(&l);
    wr(&l, X2APIC_LVT_TIMER, VLAPIC_TIMER_PERIODIC | 0xec, 0);
    wr(&l, X2APIC_TIMER_ICR, 1000, 100);
    struct vlapic_ipi ipi;
    assert_int_equal(vlapic_write(&l, X2APIC_ICR, (2ull << 32) | 0x41, 100, &ipi), VLAPIC_IPI);
    memcpy(&before, &l, sizeof(l));

    for (size_t i = 0; i < sizeof(bad_writes) / sizeof(bad_writes[0]); i++) {
        memset(&ipi, 0xa5, sizeof(ipi));
        enum vlapic_result r = vlapic_write(&l, bad_writes[i].msr, bad_writes[i].val, 200, &ipi);
        if (r != VLAPIC_GP)
            fail_msg("write 0x%x <- 0x%llx: %d, want #GP", bad_writes[i].msr,
                     (unsigned long long)bad_writes[i].val, r);
        assert_memory_equal(&l, &before, sizeof(l));
    }
    for (size_t i = 0; i < sizeof(bad_reads) / sizeof(bad_reads[0]); i++) {
        uint64_t v = 77;
        if (vlapic_read(&l, bad_reads[i], 200, &v) != VLAPIC_GP)
            fail_msg("read 0x%x did not #GP", bad_reads[i]);
        assert_int_equal(v, 77);
        assert_memory_equal(&l, &before, sizeof(l));
    }
    /* Write-only registers still work as writes. */
    wr(&l, X2APIC_EOI, 0, 200);
    assert_false(isr_has(&l, 0x80));
}

/* ---- priorities ------------------------------------------------------------------------------- */

static void test_tpr_ppr_masks_pending(void **state)
{
    (void)state;
    struct vlapic l;
    enabled_apic(&l);
    vlapic_accept(&l, 0x51);
    assert_int_equal(vlapic_pending(&l), 0x51);
    wr(&l, X2APIC_TPR, 0x50, 0); /* same class: not deliverable */
    assert_int_equal(rd(&l, X2APIC_TPR, 0), 0x50);
    assert_int_equal(rd(&l, X2APIC_PPR, 0), 0x50);
    assert_int_equal(vlapic_pending(&l), -1);
    wr(&l, X2APIC_TPR, 0x5f, 0);
    assert_int_equal(vlapic_pending(&l), -1);
    wr(&l, X2APIC_TPR, 0x4f, 0);
    assert_int_equal(vlapic_pending(&l), 0x51);
    wr(&l, X2APIC_TPR, 0x60, 0);
    vlapic_accept(&l, 0x6f);
    assert_int_equal(vlapic_pending(&l), -1);
    vlapic_accept(&l, 0x70);
    assert_int_equal(vlapic_pending(&l), 0x70);
    wr(&l, X2APIC_TPR, 0xff, 0);
    assert_int_equal(vlapic_pending(&l), -1);
    vlapic_accept(&l, 0xff);
    assert_int_equal(vlapic_pending(&l), -1); /* class 15 never exceeds TPR class 15 */
    wr(&l, X2APIC_TPR, 0, 0);
    assert_int_equal(vlapic_pending(&l), 0xff);

    /* PPR: TPR when its class is at least the in-service class, else that class (11.8.3.1). */
    inject(&l, 0xff);
    wr(&l, X2APIC_EOI, 0, 0);
    inject(&l, 0x70);
    wr(&l, X2APIC_TPR, 0x23, 0);
    assert_int_equal(rd(&l, X2APIC_PPR, 0), 0x70);
    assert_int_equal(vlapic_ppr(&l), 0x70);
    wr(&l, X2APIC_TPR, 0x7a, 0);
    assert_int_equal(rd(&l, X2APIC_PPR, 0), 0x7a);
    wr(&l, X2APIC_TPR, 0x85, 0);
    assert_int_equal(rd(&l, X2APIC_PPR, 0), 0x85);
    wr(&l, X2APIC_TPR, 0, 0);
    assert_int_equal(vlapic_pending(&l), -1); /* 0x6f, 0x51 below the in-service 0x70 */
    wr(&l, X2APIC_EOI, 0, 0);
    assert_int_equal(rd(&l, X2APIC_PPR, 0), 0);
    assert_int_equal(vlapic_pending(&l), 0x6f);
}

static void test_isr_nesting_and_eoi_order(void **state)
{
    (void)state;
    struct vlapic l;
    enabled_apic(&l);
    wr(&l, X2APIC_EOI, 0, 0); /* EOI with nothing in service: harmless */
    assert_true(all_zero(l.isr));

    vlapic_accept(&l, 0x40);
    inject(&l, 0x40);
    assert_int_equal(rd(&l, X2APIC_ISR0 + 2, 0), 1u << 0);
    assert_int_equal(rd(&l, X2APIC_IRR0 + 2, 0), 0);
    vlapic_accept(&l, 0x30); /* lower class waits */
    vlapic_accept(&l, 0x45); /* same class waits */
    assert_int_equal(vlapic_pending(&l), -1);
    vlapic_accept(&l, 0x80);
    inject(&l, 0x80); /* higher class nests */
    vlapic_accept(&l, 0xc1);
    inject(&l, 0xc1);
    assert_int_equal(vlapic_pending(&l), -1);
    assert_false(vlapic_ack(&l, 0x99)); /* not in IRR: nothing changes */
    assert_false(isr_has(&l, 0x99));

    /* EOIs end the highest (latest) first: 0xc1, 0x80, 0x40. */
    wr(&l, X2APIC_EOI, 0, 0);
    assert_false(isr_has(&l, 0xc1));
    assert_true(isr_has(&l, 0x80) && isr_has(&l, 0x40));
    assert_int_equal(vlapic_pending(&l), -1);
    wr(&l, X2APIC_EOI, 0, 0);
    assert_false(isr_has(&l, 0x80));
    assert_true(isr_has(&l, 0x40));
    assert_int_equal(vlapic_pending(&l), -1); /* 0x45 is class 4 like 0x40 */
    wr(&l, X2APIC_EOI, 0, 0);
    assert_true(all_zero(l.isr));
    inject(&l, 0x45);
    wr(&l, X2APIC_EOI, 0, 0);
    inject(&l, 0x30);

    /* A vector in service can be pending again at the same time; it waits for its EOI. */
    vlapic_accept(&l, 0x30);
    assert_true(irr_has(&l, 0x30) && isr_has(&l, 0x30));
    assert_int_equal(vlapic_pending(&l), -1);
    wr(&l, X2APIC_EOI, 0, 0);
    inject(&l, 0x30);
    /* Accepting twice before injection merges into one (edge-triggered IRR). */
    wr(&l, X2APIC_EOI, 0, 0);
    vlapic_accept(&l, 0x31);
    vlapic_accept(&l, 0x31);
    inject(&l, 0x31);
    assert_int_equal(vlapic_pending(&l), -1);
    wr(&l, X2APIC_EOI, 0, 0);
    assert_int_equal(vlapic_pending(&l), -1);
}

/* ---- IPIs -------------------------------------------------------------------------------- */

static void test_self_ipi(void **state)
{
    (void)state;
    struct vlapic l;
    enabled_apic(&l);
    wr(&l, X2APIC_SELF_IPI, 0x99, 0);
    assert_int_equal(rd(&l, X2APIC_IRR0 + 4, 0), 1u << (0x99 - 128));
    assert_int_equal(vlapic_pending(&l), 0x99);
    wr(&l, X2APIC_SELF_IPI, 0x10, 0); /* the lowest legal vector */
    assert_int_equal(rd(&l, X2APIC_IRR0, 0), 1u << 16);
    assert_int_equal(latch_esr(&l), 0);
    wr(&l, X2APIC_SELF_IPI, 0x0f, 0); /* illegal: not sent, send-illegal logged */
    assert_int_equal(rd(&l, X2APIC_IRR0, 0), 1u << 16);
    assert_int_equal(latch_esr(&l), VLAPIC_ESR_SEND_ILLEGAL);
    assert_int_equal(latch_esr(&l), 0);
}

static struct vlapic_ipi icr(struct vlapic *l, uint64_t val, enum vlapic_result want)
{
    struct vlapic_ipi ipi;
    memset(&ipi, 0xa5, sizeof(ipi));
    assert_int_equal(vlapic_write(l, X2APIC_ICR, val, 0, &ipi), want);
    assert_int_equal(rd(l, X2APIC_ICR, 0), val); /* reads back, delivery status 0 */
    return ipi;
}

static void test_icr_decode(void **state)
{
    (void)state;
    struct vlapic l;
    enabled_apic(&l);
    /* Fixed, physical, to x2APIC ID 7. */
    struct vlapic_ipi ipi = icr(&l, (7ull << 32) | 0x42, VLAPIC_IPI);
    assert_int_equal(ipi.vector, 0x42);
    assert_int_equal(ipi.delivery_mode, VLAPIC_DM_FIXED);
    assert_int_equal(ipi.shorthand, VLAPIC_SH_NONE);
    assert_int_equal(ipi.dest, 7);
    assert_false(ipi.logical);
    assert_false(ipi.level_trigger);
    /* Destination IDs use all 32 bits. */
    ipi = icr(&l, (0xfedcba98ull << 32) | 0xfe, VLAPIC_IPI);
    assert_int_equal(ipi.dest, 0xfedcba98u);
    assert_int_equal(ipi.vector, 0xfe);
    /* Logical: cluster 2, members 0 and 3. */
    ipi = icr(&l, (0x00020009ull << 32) | 0x800 | 0x43, VLAPIC_IPI);
    assert_true(ipi.logical);
    assert_int_equal(ipi.dest, 0x00020009);
    /* Shorthands. */
    ipi = icr(&l, (1u << 18) | 0x50, VLAPIC_IPI);
    assert_int_equal(ipi.shorthand, VLAPIC_SH_SELF);
    assert_int_equal(ipi.vector, 0x50);
    assert_int_equal(icr(&l, (2u << 18) | 0x51, VLAPIC_IPI).shorthand, VLAPIC_SH_ALL);
    ipi = icr(&l, (9ull << 32) | (3u << 18) | 0x52, VLAPIC_IPI);
    assert_int_equal(ipi.shorthand, VLAPIC_SH_ALL_BUT_SELF);
    assert_int_equal(ipi.dest, 9);
    /* Nothing arrives here by itself: the VMM delivers, self included. */
    assert_true(all_zero(l.irr));
    /* Other delivery modes go to the VMM to decide. */
    ipi = icr(&l, (3ull << 32) | 0x400, VLAPIC_IPI);
    assert_int_equal(ipi.delivery_mode, VLAPIC_DM_NMI);
    ipi = icr(&l, (3ull << 32) | 0x4500, VLAPIC_IPI); /* INIT, level assert */
    assert_int_equal(ipi.delivery_mode, VLAPIC_DM_INIT);
    assert_true(ipi.level_assert);
    ipi = icr(&l, (3ull << 32) | 0x8500, VLAPIC_IPI); /* INIT level de-assert */
    assert_int_equal(ipi.delivery_mode, VLAPIC_DM_INIT);
    assert_false(ipi.level_assert);
    assert_true(ipi.level_trigger);
    ipi = icr(&l, (3ull << 32) | 0x4600 | 0x9a, VLAPIC_IPI); /* SIPI, page 0x9a */
    assert_int_equal(ipi.delivery_mode, VLAPIC_DM_SIPI);
    assert_int_equal(ipi.vector, 0x9a);
    assert_int_equal(icr(&l, 0x200, VLAPIC_IPI).delivery_mode, VLAPIC_DM_SMI);
    assert_int_equal(icr(&l, 0x160, VLAPIC_IPI).delivery_mode, VLAPIC_DM_LOWEST);
    /* NMI/INIT carry no vector, so vector 0 is fine; a fixed IPI with vector 0-15 is not
     * sent and logs send-illegal. */
    assert_int_equal(latch_esr(&l), 0);
    ipi = icr(&l, (3ull << 32) | 0x0f, VLAPIC_OK);
    assert_int_equal(ipi.vector, 0xa5); /* untouched: nothing to deliver */
    assert_int_equal(latch_esr(&l), VLAPIC_ESR_SEND_ILLEGAL);
}

static void test_illegal_vector_sets_esr(void **state)
{
    (void)state;
    struct vlapic l;
    enabled_apic(&l);
    for (int v = 0; v < 16; v++)
        vlapic_accept(&l, (uint8_t)v);
    assert_true(all_zero(l.irr));
    assert_int_equal(rd(&l, X2APIC_ESR, 0), 0); /* not latched yet */
    assert_int_equal(latch_esr(&l), VLAPIC_ESR_RECV_ILLEGAL);
    assert_int_equal(rd(&l, X2APIC_ESR, 0), VLAPIC_ESR_RECV_ILLEGAL); /* reads are stable */
    assert_int_equal(latch_esr(&l), 0);
    /* With LVT error unmasked, an error also raises the error interrupt. */
    wr(&l, X2APIC_LVT_ERROR, 0xe3, 0);
    vlapic_accept(&l, 0x02);
    assert_true(irr_has(&l, 0xe3));
    assert_int_equal(vlapic_pending(&l), 0xe3);
    assert_int_equal(latch_esr(&l), VLAPIC_ESR_RECV_ILLEGAL);
    /* A timer with an illegal vector logs the error instead of raising it. */
    assert_true(vlapic_ack(&l, 0xe3));
    wr(&l, X2APIC_EOI, 0, 0);
    wr(&l, X2APIC_LVT_ERROR, 0x100e3, 0);
    wr(&l, X2APIC_LVT_TIMER, 0x05, 0);
    wr(&l, X2APIC_TIMER_DCR, 0xb, 0);
    wr(&l, X2APIC_TIMER_ICR, 10, 0);
    assert_false(vlapic_timer_expire(&l, 10));
    assert_true(all_zero(l.irr));
    assert_int_equal(l.timer_irqs, 0);
    assert_int_equal(latch_esr(&l), VLAPIC_ESR_RECV_ILLEGAL);
}

/* ---- timer ------------------------------------------------------------------------------------ */

static void test_oneshot_deadline_each_divide(void **state)
{
    (void)state;
    static const struct { uint32_t dcr; uint64_t div; } divs[] = {
        { 0x0, 2 }, { 0x1, 4 }, { 0x2, 8 }, { 0x3, 16 },
        { 0x8, 32 }, { 0x9, 64 }, { 0xa, 128 }, { 0xb, 1 },
    };
    for (size_t i = 0; i < 8; i++) {
        struct vlapic l;
        enabled_apic(&l);
        wr(&l, X2APIC_LVT_TIMER, VLAPIC_TIMER_ONESHOT | 0xec, 0);
        wr(&l, X2APIC_TIMER_DCR, divs[i].dcr, 0);
        assert_int_equal(rd(&l, X2APIC_TIMER_DCR, 0), divs[i].dcr);
        wr(&l, X2APIC_TIMER_ICR, 1000, 5000);
        assert_int_equal(rd(&l, X2APIC_TIMER_ICR, 5000), 1000);
        uint64_t due = 5000 + 1000 * divs[i].div;
        assert_int_equal(vlapic_timer_deadline(&l), due);
        assert_false(vlapic_timer_expire(&l, due - 1));
        assert_int_equal(vlapic_pending(&l), -1);
        assert_true(vlapic_timer_expire(&l, due));
        assert_int_equal(vlapic_pending(&l), 0xec);
        assert_int_equal(vlapic_timer_deadline(&l), 0);
        assert_false(vlapic_timer_expire(&l, due + 100000)); /* one-shot: once */
        assert_int_equal(l.timer_irqs, 1);
        assert_int_equal(rd(&l, X2APIC_TIMER_CCR, due + 1), 0);
        assert_int_equal(rd(&l, X2APIC_TIMER_ICR, due + 1), 1000); /* initial count stays */
    }
    /* The largest count with the largest divisor: no 32-bit overflow. */
    struct vlapic l;
    enabled_apic(&l);
    wr(&l, X2APIC_LVT_TIMER, 0xec, 0);
    wr(&l, X2APIC_TIMER_DCR, 0xa, 0);
    wr(&l, X2APIC_TIMER_ICR, 0xffffffffu, 1);
    assert_int_equal(vlapic_timer_deadline(&l), 1 + 0xffffffffull * 128);
}

static void test_current_count(void **state)
{
    (void)state;
    struct vlapic l;
    enabled_apic(&l);
    wr(&l, X2APIC_LVT_TIMER, 0xec, 0);
    wr(&l, X2APIC_TIMER_DCR, 0x1, 0); /* ÷4 */
    wr(&l, X2APIC_TIMER_ICR, 100, 1000);
    assert_int_equal(rd(&l, X2APIC_TIMER_CCR, 1000), 100);
    assert_int_equal(rd(&l, X2APIC_TIMER_CCR, 1003), 100);
    assert_int_equal(rd(&l, X2APIC_TIMER_CCR, 1004), 99);
    assert_int_equal(rd(&l, X2APIC_TIMER_CCR, 1200), 50);
    assert_int_equal(rd(&l, X2APIC_TIMER_CCR, 1399), 1);
    assert_int_equal(rd(&l, X2APIC_TIMER_CCR, 999), 100); /* a TSC before the start */
    uint64_t prev = 100;
    for (uint64_t t = 1000; t < 1400; t += 7) {
        uint64_t c = rd(&l, X2APIC_TIMER_CCR, t);
        assert_true(c <= prev && c >= 1);
        prev = c;
    }
    assert_true(all_zero(l.irr));
    /* Reading after the expiry: 0, and the interrupt is pending by then. */
    assert_int_equal(rd(&l, X2APIC_TIMER_CCR, 1400), 0);
    assert_int_equal(vlapic_pending(&l), 0xec);
    assert_int_equal(rd(&l, X2APIC_TIMER_CCR, 99999), 0);
    assert_int_equal(l.timer_irqs, 1);
    /* Writing 0 stops a running timer. */
    wr(&l, X2APIC_TIMER_ICR, 50, 2000);
    assert_int_equal(rd(&l, X2APIC_TIMER_CCR, 2004), 49);
    wr(&l, X2APIC_TIMER_ICR, 0, 2008);
    assert_int_equal(rd(&l, X2APIC_TIMER_CCR, 2008), 0);
    assert_int_equal(vlapic_timer_deadline(&l), 0);
    assert_false(vlapic_timer_expire(&l, 5000));
    assert_int_equal(l.timer_irqs, 1);
    /* Rewriting the initial count restarts from now. */
    wr(&l, X2APIC_TIMER_ICR, 50, 3000);
    wr(&l, X2APIC_TIMER_ICR, 50, 3100);
    assert_int_equal(vlapic_timer_deadline(&l), 3100 + 200);
}

static void test_periodic_rearm_and_coalesce(void **state)
{
    (void)state;
    struct vlapic l;
    enabled_apic(&l);
    wr(&l, X2APIC_LVT_TIMER, VLAPIC_TIMER_PERIODIC | 0xd1, 0);
    wr(&l, X2APIC_TIMER_DCR, 0xb, 0); /* ÷1 */
    wr(&l, X2APIC_TIMER_ICR, 100, 1000);
    assert_int_equal(vlapic_timer_deadline(&l), 1100);
    assert_true(vlapic_timer_expire(&l, 1100));
    assert_int_equal(vlapic_timer_deadline(&l), 1200);
    assert_int_equal(rd(&l, X2APIC_TIMER_CCR, 1100), 100); /* reloaded */
    assert_int_equal(rd(&l, X2APIC_TIMER_CCR, 1150), 50);
    inject(&l, 0xd1);
    wr(&l, X2APIC_EOI, 0, 1150);
    /* Late by two and a half periods: one interrupt, two coalesced, phase kept. */
    assert_true(vlapic_timer_expire(&l, 1450));
    assert_int_equal(l.timer_irqs, 2);
    assert_int_equal(l.timer_coalesced, 2);
    assert_int_equal(vlapic_timer_deadline(&l), 1500);
    assert_int_equal(rd(&l, X2APIC_TIMER_CCR, 1450), 50);
    assert_false(vlapic_timer_expire(&l, 1499));
    /* Still pending when the next one comes: it merges in IRR. */
    assert_true(vlapic_timer_expire(&l, 1500));
    assert_int_equal(l.timer_irqs, 3);
    inject(&l, 0xd1);
    assert_int_equal(vlapic_pending(&l), -1);
    /* Exactly on period boundaries: no coalescing. */
    for (uint64_t t = 1600; t <= 2500; t += 100)
        assert_true(vlapic_timer_expire(&l, t));
    assert_int_equal(l.timer_coalesced, 2);
    assert_int_equal(l.timer_irqs, 13);
    /* A register access catches up too. */
    assert_int_equal(rd(&l, X2APIC_TIMER_CCR, 2830), 70);
    assert_int_equal(l.timer_irqs, 14);
    assert_int_equal(l.timer_coalesced, 4);
    assert_int_equal(vlapic_timer_deadline(&l), 2900);
    /* Mode change disarms (SDM 11.5.4.1). */
    wr(&l, X2APIC_LVT_TIMER, VLAPIC_TIMER_ONESHOT | 0xd1, 2850);
    assert_int_equal(vlapic_timer_deadline(&l), 0);
    assert_int_equal(rd(&l, X2APIC_TIMER_CCR, 2850), 0);
    assert_false(vlapic_timer_expire(&l, 5000));
    /* The same mode rewritten (vector change) keeps it running. */
    wr(&l, X2APIC_TIMER_ICR, 100, 6000);
    wr(&l, X2APIC_LVT_TIMER, VLAPIC_TIMER_ONESHOT | 0xd2, 6010);
    assert_int_equal(vlapic_timer_deadline(&l), 6100);
    assert_true(vlapic_timer_expire(&l, 6100));
    assert_true(irr_has(&l, 0xd2));
}

static void test_divide_change_rebases(void **state)
{
    (void)state;
    struct vlapic l;
    enabled_apic(&l);
    wr(&l, X2APIC_LVT_TIMER, 0xec, 0);
    wr(&l, X2APIC_TIMER_ICR, 1000, 10000); /* ÷2 */
    assert_int_equal(rd(&l, X2APIC_TIMER_CCR, 10400), 800);
    wr(&l, X2APIC_TIMER_DCR, 0x2, 10400); /* ÷8 from now on */
    assert_int_equal(rd(&l, X2APIC_TIMER_CCR, 10400), 800);
    assert_int_equal(rd(&l, X2APIC_TIMER_CCR, 10408), 799);
    assert_int_equal(vlapic_timer_deadline(&l), 10400 + 800 * 8);
    /* Periodic: the rest of this period at the new rate, then full periods at it. */
    vlapic_init(&l, 0);
    wr(&l, X2APIC_SVR, 0x1ff, 0);
    wr(&l, X2APIC_LVT_TIMER, VLAPIC_TIMER_PERIODIC | 0xec, 0);
    wr(&l, X2APIC_TIMER_DCR, 0xb, 0);
    wr(&l, X2APIC_TIMER_ICR, 100, 0);
    wr(&l, X2APIC_TIMER_DCR, 0x0, 50); /* ÷2 with 50 left */
    assert_int_equal(vlapic_timer_deadline(&l), 150);
    assert_true(vlapic_timer_expire(&l, 150));
    assert_int_equal(vlapic_timer_deadline(&l), 350);
    /* Divide changes while stopped only set the register. */
    wr(&l, X2APIC_TIMER_ICR, 0, 200);
    wr(&l, X2APIC_TIMER_DCR, 0xb, 300);
    assert_int_equal(vlapic_timer_deadline(&l), 0);
}

static void test_tsc_deadline_mode(void **state)
{
    (void)state;
    struct vlapic l;
    enabled_apic(&l);
    /* Outside TSC-deadline mode the MSR reads 0 and ignores writes. */
    wr(&l, MSR_IA32_TSC_DEADLINE, 5000, 0);
    assert_int_equal(rd(&l, MSR_IA32_TSC_DEADLINE, 0), 0);
    assert_int_equal(vlapic_timer_deadline(&l), 0);
    wr(&l, X2APIC_LVT_TIMER, VLAPIC_TIMER_DEADLINE | 0xd0, 0);
    assert_int_equal(rd(&l, X2APIC_LVT_TIMER, 0), 0x400d0);
    assert_int_equal(rd(&l, MSR_IA32_TSC_DEADLINE, 0), 0); /* the ignored write left nothing */
    wr(&l, MSR_IA32_TSC_DEADLINE, 5000, 1000);
    assert_int_equal(rd(&l, MSR_IA32_TSC_DEADLINE, 1000), 5000);
    assert_int_equal(vlapic_timer_deadline(&l), 5000);
    /* Initial count writes are ignored, the current count reads 0. */
    wr(&l, X2APIC_TIMER_ICR, 10, 1000);
    assert_int_equal(rd(&l, X2APIC_TIMER_ICR, 1000), 0);
    assert_int_equal(rd(&l, X2APIC_TIMER_CCR, 1001), 0);
    assert_int_equal(vlapic_timer_deadline(&l), 5000);
    /* 0 disarms. */
    wr(&l, MSR_IA32_TSC_DEADLINE, 0, 1000);
    assert_int_equal(vlapic_timer_deadline(&l), 0);
    assert_false(vlapic_timer_expire(&l, 100000));
    /* Fires at the deadline, disarms, the MSR reads 0 again. */
    wr(&l, MSR_IA32_TSC_DEADLINE, 6000, 1000);
    assert_false(vlapic_timer_expire(&l, 5999));
    assert_true(vlapic_timer_expire(&l, 6000));
    assert_int_equal(vlapic_pending(&l), 0xd0);
    assert_int_equal(rd(&l, MSR_IA32_TSC_DEADLINE, 6000), 0);
    assert_int_equal(vlapic_timer_deadline(&l), 0);
    assert_false(vlapic_timer_expire(&l, 7000));
    assert_int_equal(l.timer_irqs, 1);
    inject(&l, 0xd0);
    wr(&l, X2APIC_EOI, 0, 7000);
    /* A deadline in the past fires at once. */
    wr(&l, MSR_IA32_TSC_DEADLINE, 500, 7000);
    assert_int_equal(vlapic_pending(&l), 0xd0);
    assert_int_equal(rd(&l, MSR_IA32_TSC_DEADLINE, 7000), 0);
    inject(&l, 0xd0);
    wr(&l, X2APIC_EOI, 0, 7000);
    /* Reading the MSR after the deadline passed catches up: 0, and the interrupt is there. */
    wr(&l, MSR_IA32_TSC_DEADLINE, 8000, 7000);
    assert_int_equal(rd(&l, MSR_IA32_TSC_DEADLINE, 8001), 0);
    assert_int_equal(vlapic_pending(&l), 0xd0);
    inject(&l, 0xd0);
    wr(&l, X2APIC_EOI, 0, 8001);
    /* Switching mode disarms, both ways. */
    wr(&l, MSR_IA32_TSC_DEADLINE, 9000, 8001);
    wr(&l, X2APIC_LVT_TIMER, VLAPIC_TIMER_ONESHOT | 0xd0, 8002);
    assert_int_equal(vlapic_timer_deadline(&l), 0);
    wr(&l, X2APIC_LVT_TIMER, VLAPIC_TIMER_DEADLINE | 0xd0, 8003);
    assert_int_equal(rd(&l, MSR_IA32_TSC_DEADLINE, 8003), 0);
    assert_false(vlapic_timer_expire(&l, 10000));
    wr(&l, X2APIC_LVT_TIMER, VLAPIC_TIMER_ONESHOT | 0xd0, 10000);
    wr(&l, X2APIC_TIMER_ICR, 100, 10000);
    assert_int_equal(vlapic_timer_deadline(&l), 10200);
    wr(&l, X2APIC_LVT_TIMER, VLAPIC_TIMER_DEADLINE | 0xd0, 10001);
    assert_int_equal(vlapic_timer_deadline(&l), 0);
    assert_int_equal(rd(&l, X2APIC_TIMER_ICR, 10001), 0);
    wr(&l, X2APIC_LVT_TIMER, VLAPIC_TIMER_ONESHOT | 0xd0, 10002);
    assert_int_equal(rd(&l, X2APIC_TIMER_CCR, 10002), 0);
    assert_false(vlapic_timer_expire(&l, 20000));
    assert_int_equal(l.timer_irqs, 3);
    /* Deadlines at the top of the TSC range. */
    wr(&l, X2APIC_LVT_TIMER, VLAPIC_TIMER_DEADLINE | 0xd0, 20000);
    wr(&l, MSR_IA32_TSC_DEADLINE, UINT64_MAX, 20000);
    assert_int_equal(vlapic_timer_deadline(&l), UINT64_MAX);
    assert_false(vlapic_timer_expire(&l, UINT64_MAX - 1));
    assert_true(vlapic_timer_expire(&l, UINT64_MAX));
}

static void test_timer_near_tsc_max(void **state)
{
    (void)state;
    struct vlapic l;
    enabled_apic(&l);
    wr(&l, X2APIC_LVT_TIMER, VLAPIC_TIMER_PERIODIC | 0xec, 0);
    wr(&l, X2APIC_TIMER_DCR, 0xa, 0); /* ÷128 */
    uint64_t start = UINT64_MAX - 1000;
    wr(&l, X2APIC_TIMER_ICR, 0xffffffffu, start);
    assert_int_equal(vlapic_timer_deadline(&l), UINT64_MAX); /* saturates, never wraps */
    assert_int_equal(rd(&l, X2APIC_TIMER_CCR, start + 256), 0xffffffffu - 2);
    assert_false(vlapic_timer_expire(&l, UINT64_MAX));
    assert_int_equal(rd(&l, X2APIC_TIMER_CCR, UINT64_MAX), 0xffffffffu - 7);
    /* A periodic timer late across many periods near the top: no overflow. */
    wr(&l, X2APIC_TIMER_DCR, 0xb, UINT64_MAX - 200);
    wr(&l, X2APIC_TIMER_ICR, 3, UINT64_MAX - 100);
    assert_true(vlapic_timer_expire(&l, UINT64_MAX - 1));
    assert_int_equal(l.timer_coalesced, 32); /* expiries at -97, -94, ..., -1: 33 */
    assert_int_equal(vlapic_timer_deadline(&l), UINT64_MAX);
    assert_int_equal(rd(&l, X2APIC_TIMER_CCR, UINT64_MAX - 1), 3);
}

/* The VMM's bound on the guest's timer rate (vlapic_set_min_period): a periodic count of 1
 * fires once per bound, a one-shot and a deadline no sooner than the bound after arming;
 * the registers read back what the guest wrote. */
static void test_min_timer_period(void **state)
{
    (void)state;
    struct vlapic l;
    enabled_apic(&l);
    vlapic_set_min_period(&l, 1000);
    wr(&l, X2APIC_TIMER_DCR, 0xb, 0);                        /* divide by 1 */
    wr(&l, X2APIC_LVT_TIMER, VLAPIC_TIMER_PERIODIC | 0x40, 0);
    wr(&l, X2APIC_TIMER_ICR, 1, 100);
    assert_int_equal(rd(&l, X2APIC_TIMER_ICR, 100), 1);
    assert_int_equal(vlapic_timer_deadline(&l), 1100);
    assert_false(vlapic_timer_expire(&l, 1099));
    assert_true(vlapic_timer_expire(&l, 1100));
    assert_int_equal(vlapic_timer_deadline(&l), 2100);
    /* 10 periods late: one interrupt, 9 coalesced, the next one a period on. */
    vlapic_ack(&l, 0x40);
    wr(&l, X2APIC_EOI, 0, 11150);
    assert_int_equal(l.timer_coalesced, 9);
    assert_int_equal(vlapic_timer_deadline(&l), 12100);
    /* A count above the bound is untouched. */
    wr(&l, X2APIC_TIMER_ICR, 5000, 20000);
    assert_int_equal(vlapic_timer_deadline(&l), 25000);
    /* With divide-by-2 the bound is 500 ticks. */
    wr(&l, X2APIC_TIMER_DCR, 0, 30000);
    wr(&l, X2APIC_TIMER_ICR, 3, 30000);
    assert_int_equal(vlapic_timer_deadline(&l), 31000);
    /* One-shot. */
    wr(&l, X2APIC_TIMER_DCR, 0xb, 40000);
    wr(&l, X2APIC_LVT_TIMER, VLAPIC_TIMER_ONESHOT | 0x40, 40000);
    wr(&l, X2APIC_TIMER_ICR, 2, 40000);
    assert_int_equal(vlapic_timer_deadline(&l), 41000);
    /* TSC deadline: a deadline in the past or too near fires at write + bound; a far one
     * where it says; IA32_TSC_DEADLINE reads what was written. */
    wr(&l, X2APIC_LVT_TIMER, VLAPIC_TIMER_DEADLINE | 0x40, 50000);
    wr(&l, MSR_IA32_TSC_DEADLINE, 10, 50000);
    assert_int_equal(rd(&l, MSR_IA32_TSC_DEADLINE, 50000), 10);
    assert_int_equal(vlapic_timer_deadline(&l), 51000);
    assert_false(vlapic_timer_expire(&l, 50999));
    assert_true(vlapic_timer_expire(&l, 51000));
    wr(&l, MSR_IA32_TSC_DEADLINE, 90000, 60000);
    assert_int_equal(vlapic_timer_deadline(&l), 90000);
    /* No bound: a count of 1 fires every tick. */
    vlapic_set_min_period(&l, 0);
    wr(&l, X2APIC_LVT_TIMER, VLAPIC_TIMER_PERIODIC | 0x40, 0);
    wr(&l, X2APIC_TIMER_ICR, 1, 70000);
    assert_int_equal(vlapic_timer_deadline(&l), 70001);
}

/* TPR as the backend moves it, and the class of what it holds back. */
static void test_tpr_blocked_class(void **state)
{
    (void)state;
    struct vlapic l;
    enabled_apic(&l);
    assert_int_equal(vlapic_tpr_blocked_class(&l), 0);      /* nothing pending */
    vlapic_set_tpr(&l, 0x1f0);                              /* only bits 7:0 exist */
    assert_int_equal(vlapic_tpr(&l), 0xf0);
    assert_int_equal(rd(&l, X2APIC_TPR, 0), 0xf0);
    vlapic_accept(&l, 0x45);
    assert_int_equal(vlapic_pending(&l), -1);
    assert_int_equal(vlapic_tpr_blocked_class(&l), 4);      /* lowering CR8 below 4 lets it in */
    vlapic_set_tpr(&l, 0x40);
    assert_int_equal(vlapic_tpr_blocked_class(&l), 4);      /* class 4 still blocks class 4 */
    vlapic_set_tpr(&l, 0x30);
    assert_int_equal(vlapic_tpr_blocked_class(&l), 0);      /* deliverable now */
    assert_int_equal(vlapic_pending(&l), 0x45);
    /* Held back by ISR instead: only an EOI helps, not TPR. */
    vlapic_ack(&l, 0x45);
    vlapic_accept(&l, 0x42);
    vlapic_set_tpr(&l, 0xf0);
    assert_int_equal(vlapic_tpr_blocked_class(&l), 0);
}

static void test_masked_timer(void **state)
{
    (void)state;
    struct vlapic l;
    enabled_apic(&l);
    /* One-shot, masked: counts, raises nothing, no deadline for the VMM. */
    wr(&l, X2APIC_TIMER_DCR, 0xb, 0);
    wr(&l, X2APIC_LVT_TIMER, VLAPIC_LVT_MASKED | 0xec, 0);
    wr(&l, X2APIC_TIMER_ICR, 100, 1000);
    assert_int_equal(vlapic_timer_deadline(&l), 0);
    assert_int_equal(rd(&l, X2APIC_TIMER_CCR, 1050), 50);
    assert_false(vlapic_timer_expire(&l, 1100));
    assert_true(all_zero(l.irr));
    assert_int_equal(l.timer_masked, 1);
    assert_int_equal(rd(&l, X2APIC_TIMER_CCR, 1100), 0);
    /* Unmasked after it ran out: nothing comes. */
    wr(&l, X2APIC_LVT_TIMER, 0xec, 1200);
    assert_int_equal(vlapic_timer_deadline(&l), 0);
    assert_false(vlapic_timer_expire(&l, 5000));
    assert_true(all_zero(l.irr));
    /* Unmasked before it runs out: it fires on time. */
    wr(&l, X2APIC_LVT_TIMER, VLAPIC_LVT_MASKED | 0xec, 6000);
    wr(&l, X2APIC_TIMER_ICR, 100, 6000);
    wr(&l, X2APIC_LVT_TIMER, 0xec, 6050);
    assert_int_equal(vlapic_timer_deadline(&l), 6100);
    assert_true(vlapic_timer_expire(&l, 6100));
    inject(&l, 0xec);
    wr(&l, X2APIC_EOI, 0, 6100);
    /* Masking just before an unnoticed expiry: the write catches up first (it was due). */
    wr(&l, X2APIC_TIMER_ICR, 100, 7000);
    wr(&l, X2APIC_LVT_TIMER, VLAPIC_LVT_MASKED | 0xec, 7100);
    assert_int_equal(vlapic_pending(&l), 0xec);
    inject(&l, 0xec);
    wr(&l, X2APIC_EOI, 0, 7100);
    assert_int_equal(l.timer_irqs, 2);

    /* Periodic, masked: keeps its phase from the start. */
    wr(&l, X2APIC_LVT_TIMER, VLAPIC_TIMER_PERIODIC | VLAPIC_LVT_MASKED | 0xec, 8000);
    wr(&l, X2APIC_TIMER_ICR, 100, 10000);
    assert_int_equal(vlapic_timer_deadline(&l), 0);
    assert_int_equal(rd(&l, X2APIC_TIMER_CCR, 10234), 66);
    assert_false(vlapic_timer_expire(&l, 10250));
    assert_int_equal(rd(&l, X2APIC_TIMER_CCR, 10250), 50);
    wr(&l, X2APIC_LVT_TIMER, VLAPIC_TIMER_PERIODIC | 0xec, 10260); /* unmask */
    assert_int_equal(vlapic_timer_deadline(&l), 10300);
    assert_true(all_zero(l.irr));
    assert_int_equal(l.timer_coalesced, 0); /* masked periods are not coalesced ones */
    assert_int_equal(l.timer_masked, 3);     /* 10100, 10200 masked */
    assert_true(vlapic_timer_expire(&l, 10300));
    assert_int_equal(l.timer_irqs, 3);
    /* Masked again and left alone a long time: unmasking resumes in phase. */
    wr(&l, X2APIC_LVT_TIMER, VLAPIC_TIMER_PERIODIC | VLAPIC_LVT_MASKED | 0xec, 10310);
    wr(&l, X2APIC_LVT_TIMER, VLAPIC_TIMER_PERIODIC | 0xec, 99999);
    assert_int_equal(vlapic_timer_deadline(&l), 100000);
    assert_int_equal(l.timer_irqs, 3);

    /* TSC deadline, masked: disarms silently when it passes. */
    wr(&l, X2APIC_LVT_TIMER, VLAPIC_TIMER_DEADLINE | VLAPIC_LVT_MASKED | 0xec, 100000);
    assert_int_equal(l.timer_irqs, 4); /* the periodic expiry due at 100000 came first */
    inject(&l, 0xec);
    wr(&l, X2APIC_EOI, 0, 100000);
    wr(&l, MSR_IA32_TSC_DEADLINE, 200000, 100000);
    assert_int_equal(vlapic_timer_deadline(&l), 0);
    assert_int_equal(rd(&l, MSR_IA32_TSC_DEADLINE, 100000), 200000);
    wr(&l, X2APIC_LVT_TIMER, VLAPIC_TIMER_DEADLINE | 0xec, 300000);
    assert_int_equal(rd(&l, MSR_IA32_TSC_DEADLINE, 300000), 0);
    assert_int_equal(vlapic_timer_deadline(&l), 0);
    assert_true(all_zero(l.irr));
    assert_int_equal(l.timer_irqs, 4);
    assert_int_equal(l.timer_masked, 3 + 896 + 1); /* 10400..99900 masked, the deadline */
}

static void test_software_disabled(void **state)
{
    (void)state;
    struct vlapic l;
    vlapic_init(&l, 2);
    /* After reset the APIC is software-disabled: fixed interrupts are dropped. */
    vlapic_accept(&l, 0x50);
    assert_true(all_zero(l.irr));
    assert_int_equal(l.dropped_disabled, 1);
    wr(&l, X2APIC_LVT_TIMER, 0xec, 0); /* cannot unmask while disabled */
    assert_int_equal(rd(&l, X2APIC_LVT_TIMER, 0), 0x100ec);

    wr(&l, X2APIC_SVR, 0x1ff, 0);
    assert_int_equal(rd(&l, X2APIC_SVR, 0), 0x1ff);
    assert_int_equal(rd(&l, X2APIC_LVT_TIMER, 0), 0x100ec); /* enabling does not unmask */
    wr(&l, X2APIC_LVT_TIMER, 0xec, 0);
    wr(&l, X2APIC_LVT_LINT0, 0x700, 0);
    wr(&l, X2APIC_LVT_ERROR, 0xe0, 0);
    assert_int_equal(rd(&l, X2APIC_LVT_TIMER, 0), 0xec);
    vlapic_accept(&l, 0x50);
    vlapic_accept(&l, 0x60);
    wr(&l, X2APIC_TIMER_DCR, 0xb, 0);
    wr(&l, X2APIC_TIMER_ICR, 100, 0);

    /* Disabling masks every LVT entry; what is in IRR stays and is still delivered. */
    wr(&l, X2APIC_SVR, 0x0f, 10);
    assert_int_equal(rd(&l, X2APIC_SVR, 10), 0x0f);
    assert_int_equal(rd(&l, X2APIC_LVT_TIMER, 10), 0x100ec);
    assert_int_equal(rd(&l, X2APIC_LVT_LINT0, 10), 0x10700);
    assert_int_equal(rd(&l, X2APIC_LVT_ERROR, 10), 0x100e0);
    for (uint32_t m = X2APIC_LVT_TIMER; m <= X2APIC_LVT_ERROR; m++)
        assert_true(rd(&l, m, 10) & VLAPIC_LVT_MASKED);
    assert_true(rd(&l, X2APIC_LVT_CMCI, 10) & VLAPIC_LVT_MASKED);
    wr(&l, X2APIC_LVT_TIMER, 0xec, 10);
    assert_int_equal(rd(&l, X2APIC_LVT_TIMER, 10), 0x100ec);
    assert_int_equal(vlapic_pending(&l), 0x60);
    inject(&l, 0x60);
    wr(&l, X2APIC_EOI, 0, 10);
    vlapic_accept(&l, 0x70);
    wr(&l, X2APIC_SELF_IPI, 0x71, 10);
    assert_int_equal(l.dropped_disabled, 3);
    assert_int_equal(vlapic_pending(&l), 0x50);
    /* The timer counts on but raises nothing; no error interrupt either. */
    assert_int_equal(vlapic_timer_deadline(&l), 0);
    assert_int_equal(rd(&l, X2APIC_TIMER_CCR, 60), 40);
    assert_false(vlapic_timer_expire(&l, 100));
    vlapic_accept(&l, 0x3);
    assert_false(irr_has(&l, 0xe0));
    assert_int_equal(vlapic_pending(&l), 0x50);
    /* Re-enabled: entries stay masked until written. */
    wr(&l, X2APIC_SVR, 0x1ff, 200);
    assert_int_equal(rd(&l, X2APIC_LVT_TIMER, 200), 0x100ec);
    vlapic_accept(&l, 0x70);
    assert_int_equal(vlapic_pending(&l), 0x70);
}

/* ---- posted interrupts ------------------------------------------------------------------------ */

static void test_pi_layout(void **state)
{
    (void)state;
    struct pi_desc d;
    assert_int_equal(sizeof(d), 64);
    assert_int_equal(_Alignof(struct pi_desc), 64);
    memset(&d, 0xff, sizeof(d));
    pi_init(&d, 0xf2, 0x01020304);
    const uint8_t *b = (const uint8_t *)&d;
    for (int i = 0; i < 32; i++)
        assert_int_equal(b[i], 0);         /* PIR empty */
    assert_int_equal(b[32], 0);            /* ON (bit 256), SN (bit 257) clear */
    assert_int_equal(b[33], 0xf2);         /* NV, bits 271:264 */
    assert_int_equal(b[36], 0x04);         /* NDST, bits 319:288 */
    assert_int_equal(b[39], 0x01);
    for (int i = 40; i < 64; i++)
        assert_int_equal(b[i], 0);
    /* PIR bit v is bit v of the first 256 bits; ON is bit 256. */
    assert_true(pi_post(&d, 0x00 + 0x21));
    assert_int_equal(b[4], 0x02);          /* vector 0x21 = bit 33 */
    assert_true(pi_post(&d, 0xff) == false);
    assert_int_equal(b[31], 0x80);
    assert_int_equal(b[32], 0x01);
    pi_set_suppress(&d, true);
    assert_int_equal(b[32], 0x03);
    pi_set_suppress(&d, false);
    assert_int_equal(b[32], 0x01);
    assert_int_equal(b[33], 0xf2);
}

/* The registers the VT-x virtual-APIC page carries go out and come back unchanged, and what
 * the CPU did there (delivered a vector: IRR -> ISR) becomes the vlapic's state. */
static void test_vectors_round_trip(void **state)
{
    (void)state;
    struct vlapic l;
    vlapic_init(&l, 0);
    struct vlapic_ipi ipi;
    assert_int_equal(vlapic_write(&l, X2APIC_SVR, 0x1ff, 0, &ipi), VLAPIC_OK);
    assert_int_equal(vlapic_write(&l, X2APIC_TPR, 0x20, 0, &ipi), VLAPIC_OK);
    vlapic_accept(&l, 0x41);
    vlapic_accept(&l, 0x90);
    struct vlapic_vectors v;
    vlapic_get_vectors(&l, &v);
    assert_int_equal(v.tpr, 0x20);
    assert_int_equal(v.irr[0x41 / 32], 1u << (0x41 % 32));
    assert_int_equal(v.irr[0x90 / 32], 1u << (0x90 % 32));
    /* The CPU delivers 0x90: it leaves IRR for ISR. */
    v.irr[0x90 / 32] = 0;
    v.isr[0x90 / 32] = 1u << (0x90 % 32);
    vlapic_set_vectors(&l, &v);
    assert_int_equal(vlapic_pending(&l), -1); /* 0x41 is below the in-service 0x90 */
    assert_int_equal(vlapic_write(&l, X2APIC_EOI, 0, 0, &ipi), VLAPIC_OK);
    assert_int_equal(vlapic_pending(&l), 0x41);
}

static void test_pi_post_notifies_once(void **state)
{
    (void)state;
    struct vlapic l;
    struct pi_desc d;
    enabled_apic(&l);
    pi_init(&d, 0xf2, 0);
    assert_false(vlapic_sync_pir(&l, &d)); /* nothing posted */
    assert_true(pi_post(&d, 0x31));
    assert_false(pi_post(&d, 0x32));
    assert_false(pi_post(&d, 0x31));
    assert_false(pi_post(&d, 0xa0));
    assert_true(all_zero(l.irr)); /* nothing reaches IRR before the sync */
    assert_true(vlapic_sync_pir(&l, &d));
    assert_true(irr_has(&l, 0x31) && irr_has(&l, 0x32) && irr_has(&l, 0xa0));
    assert_int_equal(vlapic_pending(&l), 0xa0);
    assert_int_equal(d.control & PI_CONTROL_ON, 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(d.pir[i], 0);
    assert_int_equal(d.control >> 8 & 0xff, 0xf2); /* NV untouched */
    assert_false(vlapic_sync_pir(&l, &d));
    assert_true(pi_post(&d, 0x40)); /* ON was cleared: notify again */
    assert_false(pi_post(&d, 0x41));

    /* Suppressed: recorded, never a notification; a sync still takes it. */
    assert_true(vlapic_sync_pir(&l, &d));
    pi_set_suppress(&d, true);
    assert_false(pi_post(&d, 0x55));
    assert_false(pi_post(&d, 0x56));
    pi_set_suppress(&d, false);
    assert_true(vlapic_sync_pir(&l, &d));
    assert_true(irr_has(&l, 0x55) && irr_has(&l, 0x56));
    assert_true(pi_post(&d, 0x57));
}

static void test_pi_sync_moves_bits(void **state)
{
    (void)state;
    struct vlapic l;
    struct pi_desc d;
    enabled_apic(&l);
    pi_init(&d, 0xf2, 5);
    static const uint8_t vecs[] = { 0x10, 0x1f, 0x20, 0x3f, 0x40, 0x5f, 0x60, 0x7f, 0x80,
                                    0xa1, 0xbf, 0xc0, 0xdf, 0xe0, 0xfe, 0xff };
    for (size_t i = 0; i < sizeof(vecs); i++)
        pi_post(&d, vecs[i]);
    vlapic_accept(&l, 0x33); /* already in IRR: kept */
    assert_true(vlapic_sync_pir(&l, &d));
    uint32_t want[8] = { 0 };
    for (size_t i = 0; i < sizeof(vecs); i++)
        want[vecs[i] >> 5] |= 1u << (vecs[i] & 31);
    want[1] |= 1u << (0x33 & 31);
    assert_memory_equal(l.irr, want, sizeof(want));
    /* Illegal vectors log an error instead. */
    pi_post(&d, 0x02);
    pi_post(&d, 0x11);
    assert_true(vlapic_sync_pir(&l, &d));
    assert_int_equal(l.irr[0], (1u << 0x10) | (1u << 0x11) | (1u << 0x1f));
    assert_int_equal(latch_esr(&l), VLAPIC_ESR_RECV_ILLEGAL);
    /* A PIR bit whose poster has not set ON yet stays for the sync its notification
     * triggers. */
    d.pir[2] |= 1ull << 5;  /* vector 0x85, ON not yet set */
    assert_false(vlapic_sync_pir(&l, &d));
    assert_false(irr_has(&l, 0x85));
    assert_int_equal(d.pir[2], 1ull << 5);
    d.control |= PI_CONTROL_ON;
    assert_true(vlapic_sync_pir(&l, &d));
    assert_true(irr_has(&l, 0x85));
    /* Posted to a software-disabled APIC: taken from PIR and dropped. */
    wr(&l, X2APIC_SVR, 0xff, 0);
    pi_post(&d, 0x90);
    pi_post(&d, 0x91);
    assert_true(vlapic_sync_pir(&l, &d));
    assert_false(irr_has(&l, 0x90) || irr_has(&l, 0x91));
    assert_int_equal(l.dropped_disabled, 2);
}

/* 4 threads post distinct vectors while the vCPU's thread syncs and consumes them; a vector is
 * posted again only after it was consumed, so every post must come out exactly once.
 * Notified mode: the vCPU syncs only when a pi_post asked for a notification, so a post that
 * neither notified nor was covered by an outstanding notification stalls its poster (the
 * watchdog fails the test).  Polling mode: the vCPU syncs continuously and checks that every
 * pi_post that had returned before a sync began came out of that sync. */
#define PI_THREADS 4
#define PI_ROUNDS 1500
#define PI_PER_THREAD 60 /* thread t posts vectors 16 + 60*t ... */

struct pi_shared {
    struct pi_desc desc;
    uint8_t outstanding[256];  /* atomic: posted, not yet consumed */
    uint64_t returned[256];    /* atomic: 1 + the sync epoch pi_post returned in, 0 = not yet */
    uint64_t epoch;            /* atomic: syncs begun */
    uint64_t notifications;    /* atomic: pi_post returned true */
    uint64_t posted;           /* atomic */
    int stop;                  /* atomic: the watchdog gave up */
};

struct pi_poster {
    struct pi_shared *sh;
    int index;
};

static void *pi_poster_thread(void *arg)
{
    struct pi_poster *p = arg;
    struct pi_shared *sh = p->sh;
    for (int r = 0; r < PI_ROUNDS; r++) {
        for (int i = 0; i < PI_PER_THREAD; i++) {
            uint8_t v = (uint8_t)(16 + p->index * PI_PER_THREAD + i);
            for (unsigned spins = 0; __atomic_load_n(&sh->outstanding[v], __ATOMIC_ACQUIRE);)
                if (__atomic_load_n(&sh->stop, __ATOMIC_RELAXED))
                    return NULL;
                else if (++spins % 256 == 0)
                    sched_yield(); /* 5 busy threads may share 2 CPUs */
            __atomic_store_n(&sh->outstanding[v], 1, __ATOMIC_RELAXED);
            __atomic_fetch_add(&sh->posted, 1, __ATOMIC_RELAXED);
            bool notify = pi_post(&sh->desc, v);
            uint64_t e = __atomic_load_n(&sh->epoch, __ATOMIC_SEQ_CST);
            __atomic_store_n(&sh->returned[v], e + 1, __ATOMIC_SEQ_CST);
            if (notify)
                __atomic_fetch_add(&sh->notifications, 1, __ATOMIC_RELEASE);
        }
    }
    return NULL;
}

static void run_pi_threads(bool poll)
{
    static struct pi_shared sh; /* 64-byte aligned descriptor, off the small test stack */
    struct vlapic l;
    memset(&sh, 0, sizeof(sh));
    pi_init(&sh.desc, 0xf2, 0);
    enabled_apic(&l);
    pthread_t th[PI_THREADS];
    struct pi_poster args[PI_THREADS];
    for (int t = 0; t < PI_THREADS; t++) {
        args[t] = (struct pi_poster){ &sh, t };
        assert_int_equal(pthread_create(&th[t], NULL, pi_poster_thread, &args[t]), 0);
    }
    const uint64_t expected = (uint64_t)PI_THREADS * PI_ROUNDS * PI_PER_THREAD;
    uint64_t delivered = 0, seen = 0, syncs = 0, per_vector[256] = { 0 };
    time_t last_progress = time(NULL);
    bool timed_out = false;
    int late = -1;
    while (delivered < expected && late < 0) {
        uint64_t n = __atomic_load_n(&sh.notifications, __ATOMIC_ACQUIRE);
        if (time(NULL) - last_progress > 20) {
            timed_out = true;
            break;
        }
        if (!poll && n == seen) {
            sched_yield();
            continue;
        }
        seen = n;
        uint64_t k = __atomic_add_fetch(&sh.epoch, 1, __ATOMIC_SEQ_CST);
        if (vlapic_sync_pir(&l, &sh.desc))
            syncs++;
        int v;
        /* Consume everything (the guest handling its interrupts). */
        while ((v = vlapic_pending(&l)) >= 0) {
            assert_true(vlapic_ack(&l, (uint8_t)v));
            wr(&l, X2APIC_EOI, 0, 0);
            per_vector[v]++;
            delivered++;
            assert_int_equal(__atomic_load_n(&sh.outstanding[v], __ATOMIC_RELAXED), 1);
            while (!__atomic_load_n(&sh.returned[v], __ATOMIC_SEQ_CST))
                sched_yield(); /* its pi_post is about to return */
            __atomic_store_n(&sh.returned[v], 0, __ATOMIC_SEQ_CST);
            __atomic_store_n(&sh.outstanding[v], 0, __ATOMIC_RELEASE);
            last_progress = time(NULL);
        }
        if (poll)
            for (int u = 16; u < 256 && late < 0; u++) {
                uint64_t r = __atomic_load_n(&sh.returned[u], __ATOMIC_SEQ_CST);
                if (r && r - 1 < k) /* returned before sync k began, yet not taken by it */
                    late = u;
            }
    }
    __atomic_store_n(&sh.stop, 1, __ATOMIC_RELAXED);
    for (int t = 0; t < PI_THREADS; t++)
        pthread_join(th[t], NULL);
    if (late >= 0)
        fail_msg("vector 0x%x posted before a sync began but not taken by it", late);
    if (timed_out)
        fail_msg("lost posts: delivered %llu of %llu (posted %llu)",
                 (unsigned long long)delivered, (unsigned long long)expected,
                 (unsigned long long)sh.posted);
    assert_int_equal(delivered, expected);
    assert_int_equal(sh.posted, expected);
    for (int v = 16; v < 16 + PI_THREADS * PI_PER_THREAD; v++)
        assert_int_equal(per_vector[v], PI_ROUNDS);
    assert_true(syncs >= 1);
    if (!poll)
        assert_true(syncs <= sh.notifications);
    assert_false(vlapic_sync_pir(&l, &sh.desc));
    assert_int_equal(sh.desc.control & PI_CONTROL_ON, 0);
    assert_true(all_zero(l.irr) && all_zero(l.isr));
}

static void test_pi_post_concurrent_notified(void **state)
{
    (void)state;
    run_pi_threads(false);
}

static void test_pi_post_concurrent_polling(void **state)
{
    (void)state;
    run_pi_threads(true);
}

/* ---- property test ------------------------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rng(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

/* An independent model: the set of requested vectors, the stack of vectors in service (each
 * nested one of a higher class), TPR. */
struct model {
    bool irr[256];
    int stack[16];
    int depth;
    uint32_t tpr;
    bool illegal_seen;
};

static int model_pending(const struct model *m)
{
    int floor_class = (int)(m->tpr >> 4);
    if (m->depth > 0 && (m->stack[m->depth - 1] >> 4) > floor_class)
        floor_class = m->stack[m->depth - 1] >> 4;
    for (int v = 255; v >= 16; v--)
        if (m->irr[v])
            return (v >> 4) > floor_class ? v : -1;
    return -1;
}

static void check_model(struct vlapic *l, const struct model *m)
{
    for (int v = 0; v < 256; v++) {
        assert_int_equal(irr_has(l, (uint8_t)v), m->irr[v]);
        bool in_stack = false;
        for (int i = 0; i < m->depth; i++)
            in_stack |= m->stack[i] == v;
        assert_int_equal(isr_has(l, (uint8_t)v), in_stack);
    }
    for (int i = 1; i < m->depth; i++) /* strictly rising classes: EOI order is LIFO */
        assert_true((m->stack[i] >> 4) > (m->stack[i - 1] >> 4));
    assert_int_equal(vlapic_pending(l), model_pending(m));
    uint32_t top = m->depth ? (uint32_t)m->stack[m->depth - 1] & 0xf0 : 0;
    assert_int_equal(rd(l, X2APIC_PPR, 0), (m->tpr & 0xf0) >= top ? m->tpr : top);
}

static void test_random_operations_match_model(void **state)
{
    (void)state;
    struct vlapic l;
    struct model m;
    rng_state = 0x9e3779b97f4a7c15ull;
    for (int run = 0; run < 20; run++) {
        enabled_apic(&l);
        memset(&m, 0, sizeof(m));
        latch_esr(&l);
        int injected = 0, eois = 0;
        for (int step = 0; step < 5000; step++) {
            uint64_t r = rng();
            switch (r % 8) {
            case 0: case 1: { /* an interrupt arrives */
                uint8_t v = (uint8_t)(r >> 8);
                if ((r >> 20) % 16 == 0)
                    v &= 0x0f; /* sometimes an illegal one */
                vlapic_accept(&l, v);
                if (v < 16)
                    m.illegal_seen = true;
                else
                    m.irr[v] = true;
                break;
            }
            case 2: { /* self IPI */
                uint8_t v = (uint8_t)(16 + (r >> 8) % 240);
                wr(&l, X2APIC_SELF_IPI, v, 0);
                m.irr[v] = true;
                break;
            }
            case 3: /* the guest changes TPR, mostly low */
                m.tpr = (uint32_t)((r >> 8) & ((r >> 16) % 4 ? 0x7f : 0xff));
                wr(&l, X2APIC_TPR, m.tpr, 0);
                break;
            case 4: case 5: { /* the VMM injects what is pending */
                int v = vlapic_pending(&l);
                assert_int_equal(v, model_pending(&m));
                if (v < 0)
                    break;
                assert_true(vlapic_ack(&l, (uint8_t)v));
                m.irr[v] = false;
                assert_true(m.depth < 16);
                m.stack[m.depth++] = v;
                injected++;
                break;
            }
            default: { /* the guest ends its current handler */
                int top = m.depth ? m.stack[m.depth - 1] : -1;
                wr(&l, X2APIC_EOI, 0, 0);
                if (top >= 0) {
                    assert_false(isr_has(&l, (uint8_t)top)); /* the latest one ended */
                    m.depth--;
                    eois++;
                }
                break;
            }
            }
            check_model(&l, &m);
            if (step % 500 == 499) {
                assert_int_equal(latch_esr(&l) != 0, m.illegal_seen);
                m.illegal_seen = false;
            }
        }
        assert_true(injected > 500 && eois > 500); /* the run exercised nesting */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reset_values),
        cmocka_unit_test(test_id_version_ldr),
        cmocka_unit_test(test_gp_leaves_state_unchanged),
        cmocka_unit_test(test_tpr_ppr_masks_pending),
        cmocka_unit_test(test_isr_nesting_and_eoi_order),
        cmocka_unit_test(test_self_ipi),
        cmocka_unit_test(test_icr_decode),
        cmocka_unit_test(test_illegal_vector_sets_esr),
        cmocka_unit_test(test_oneshot_deadline_each_divide),
        cmocka_unit_test(test_current_count),
        cmocka_unit_test(test_periodic_rearm_and_coalesce),
        cmocka_unit_test(test_divide_change_rebases),
        cmocka_unit_test(test_tsc_deadline_mode),
        cmocka_unit_test(test_timer_near_tsc_max),
        cmocka_unit_test(test_min_timer_period),
        cmocka_unit_test(test_tpr_blocked_class),
        cmocka_unit_test(test_masked_timer),
        cmocka_unit_test(test_software_disabled),
        cmocka_unit_test(test_pi_layout),
        cmocka_unit_test(test_vectors_round_trip),
        cmocka_unit_test(test_pi_post_notifies_once),
        cmocka_unit_test(test_pi_sync_moves_bits),
        cmocka_unit_test(test_pi_post_concurrent_notified),
        cmocka_unit_test(test_pi_post_concurrent_polling),
        cmocka_unit_test(test_random_operations_match_model),
    };
    return cmocka_run_group_tests_name("vlapic", tests, NULL, NULL);
}
