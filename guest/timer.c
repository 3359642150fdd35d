/* timer: how late the virtual local APIC timer's interrupts come, on every vCPU (guest ABI
 * v1.1).  Args: `mode=oneshot|periodic|deadline|all` (default deadline), `period_us=1000`,
 * `count=200`, `max_late_us=0` (0: no bound), `report=1` (0: no lines, 2: also the histogram).
 *
 * Each vCPU arms its timer to fire period_us from now (periodic: once, then it keeps firing),
 * waits in rt_wait_for_interrupt() until the handler ran, and does that count times.  The
 * handler reads the TSC first, then compares it with the TSC the interrupt was due at: the TSC
 * read just before arming plus the period (deadline: the deadline itself; periodic: the start
 * plus k periods for the k-th run), so the arming's own cost counts as lateness, never as
 * earliness.  An interrupt before its due TSC counts in early= and is an error.  Lateness goes
 * into a log2 histogram in us: bucket 0 is [0, 1) us, bucket b >= 1 is [2^(b-1), 2^b) us.
 *
 * Output, one line per vCPU and mode:
 *   timer vcpu=<i> mode=<m> n=<count> period_us=<p> late_p50_us=<..> late_p99_us=<..>
 *         late_max_us=<..> early=<..>
 * (one line); the percentiles are the upper bound of the bucket holding them, at most
 * late_max_us (exact, floor).  Status (vCPU 0 returns the OR over all vCPUs): 0; 1 when
 * max_late_us is set and a late_max_us exceeds it, or early > 0; 2 when the timer cannot be
 * used (no x2APIC, no TSC-deadline, no TSC rate, bad period). */
#include <string.h>

#include "guest/rt/rt.h"
#include "vmm/fmt.h"

#define TIMER_VECTOR 0x40
#define MAX_VCPUS    64
#define BUCKETS      32

enum mode { ONESHOT, PERIODIC, DEADLINE };
static const char *const mode_names[] = { "oneshot", "periodic", "deadline" };

/* One vCPU's measurement; written by its own handler, read by its own main loop. */
struct vstate {
    enum mode mode;
    volatile uint32_t runs;  /* handler runs counted in this measurement */
    volatile bool armed;     /* runs until count are expected */
    uint32_t count;
    uint64_t due;            /* oneshot, deadline: this run's due TSC */
    uint64_t start;          /* periodic: the TSC just before arming */
    uint64_t ticks;          /* periodic: APIC ticks per period */
    uint32_t early, stray;
    uint64_t late_max;       /* in TSC ticks */
    uint32_t hist[BUCKETS];
} __attribute__((aligned(64)));

static struct vstate states[MAX_VCPUS];
static uint64_t tsc_hz, apic_hz;
static volatile uint32_t finished, failures;

static uint32_t bucket_of(uint64_t late_us)
{
    uint32_t b = late_us ? 64 - (uint32_t)__builtin_clzll(late_us) : 0;
    return b < BUCKETS ? b : BUCKETS - 1;
}

static void on_timer(uint8_t vector)
{
    uint64_t t = rt_rdtsc();
    (void)vector;
    struct vstate *s = &states[rt_vcpu_index()];
    if (!s->armed) {
        s->stray++; /* e.g. a periodic tick pending when the measurement ended */
    } else {
        uint32_t k = s->runs + 1;
        uint64_t due = s->mode == PERIODIC
                           ? s->start + rt_mul_div((uint64_t)k * s->ticks, tsc_hz, apic_hz)
                           : s->due;
        if (t < due) {
            s->early++;
        } else {
            uint64_t late = t - due;
            if (late > s->late_max)
                s->late_max = late;
            s->hist[bucket_of(rt_mul_div(late, 1000000, tsc_hz))]++;
        }
        if (s->mode != PERIODIC || k == s->count)
            s->armed = false;
        s->runs = k;
    }
    rt_apic_eoi();
}

/* Lets an interrupt that is still pending (the timer is stopped, s->armed is false) come in. */
static void drain(void)
{
    __asm__ volatile("sti; nop; nop; cli" ::: "memory");
}

static uint64_t percentile_us(const struct vstate *s, uint32_t n, uint32_t pct, uint64_t max_us)
{
    uint64_t need = ((uint64_t)n * pct + 99) / 100, seen = 0;
    if (!n)
        return 0;
    for (uint32_t b = 0; b < BUCKETS; b++) {
        seen += s->hist[b];
        if (seen >= need) {
            uint64_t bound = 1ull << b;
            return bound < max_us ? bound : max_us;
        }
    }
    return max_us;
}

/* One measurement of COUNT interrupts on this vCPU; returns its status bits. */
static int measure(uint32_t vcpu, enum mode mode, uint64_t period_us, uint32_t count,
                   uint64_t max_late_us, uint64_t report)
{
    struct vstate *s = &states[vcpu];
    uint64_t ticks = rt_mul_div(period_us, apic_hz, 1000000);
    uint64_t period_tsc = rt_mul_div(ticks, tsc_hz, apic_hz);
    if (mode != DEADLINE && (ticks == 0 || ticks > UINT32_MAX)) {
        rt_printf("timer: vcpu %u: period_us=%lu is %lu APIC ticks, outside [1, 2^32)\n", vcpu,
                  period_us, ticks);
        return 2;
    }
    if (mode == DEADLINE && (period_us == 0 || !rt_apic_has_deadline())) {
        rt_printf("timer: vcpu %u: %s\n", vcpu,
                  period_us ? "no TSC-deadline timer (CPUID.1:ECX[24])" : "period_us=0");
        return 2;
    }

    rt_irq_disable();
    memset(s, 0, sizeof(*s));
    s->mode = mode;
    s->count = count;
    s->ticks = ticks;
    if (mode == PERIODIC) {
        s->armed = true;
        s->start = rt_rdtsc();
        rt_apic_timer_periodic(TIMER_VECTOR, (uint32_t)ticks);
        while (s->runs < count)
            rt_wait_for_interrupt();
    } else {
        for (uint32_t i = 0; i < count; i++) {
            uint64_t now = rt_rdtsc();
            if (mode == ONESHOT) {
                s->due = now + period_tsc;
                s->armed = true;
                rt_apic_timer_oneshot(TIMER_VECTOR, (uint32_t)ticks);
            } else {
                s->due = now + rt_mul_div(period_us, tsc_hz, 1000000);
                s->armed = true;
                rt_apic_timer_deadline(TIMER_VECTOR, s->due);
            }
            while (s->armed)
                rt_wait_for_interrupt();
        }
    }
    rt_apic_timer_stop();
    drain();

    uint32_t n = count - s->early;
    uint64_t max_us = rt_mul_div(s->late_max, 1000000, tsc_hz);
    if (report) {
        rt_printf("timer vcpu=%u mode=%s n=%u period_us=%lu late_p50_us=%lu late_p99_us=%lu "
                  "late_max_us=%lu early=%u\n", vcpu, mode_names[mode], count, period_us,
                  percentile_us(s, n, 50, max_us), percentile_us(s, n, 99, max_us), max_us,
                  s->early);
    }
    if (report >= 2) {
        char line[200];
        size_t len = 0;
        for (uint32_t b = 0; b < BUCKETS && len < sizeof(line); b++)
            if (s->hist[b])
                len += fmt_snprintf(line + len, sizeof(line) - len, " <%lu:%u", 1ul << b,
                                    s->hist[b]);
        rt_printf("timer: vcpu %u %s histogram (us bound:count)%s\n", vcpu, mode_names[mode],
                  line);
    }
    /* A periodic tick may come between the last run and the stop: expected.  Another mode's
     * interrupt without an armed timer is not. */
    if (s->stray && (mode != PERIODIC || report >= 2))
        rt_printf("timer: vcpu %u %s: %u interrupts after the measurement ended\n", vcpu,
                  mode_names[mode], s->stray);
    return (s->early || (max_late_us && max_us > max_late_us)) ? 1 : 0;
}

int guest_main(uint32_t vcpu, const struct guest_boot_info *bi)
{
    char mode[16] = "deadline";
    rt_arg_str(bi->args, "mode", mode, sizeof(mode));
    uint64_t period_us = rt_arg_u64(bi->args, "period_us", 1000);
    uint64_t count = rt_arg_u64(bi->args, "count", 200);
    uint64_t max_late_us = rt_arg_u64(bi->args, "max_late_us", 0);
    uint64_t report = rt_arg_u64(bi->args, "report", 1);
    int status = 0;

    tsc_hz = rt_tsc_hz();
    apic_hz = rt_apic_timer_hz();
    int first = -1, last = -1;
    for (int m = ONESHOT; m <= DEADLINE; m++)
        if (!strcmp(mode, mode_names[m]))
            first = last = m;
    if (!strcmp(mode, "all"))
        first = ONESHOT, last = DEADLINE;

    if (first < 0) {
        rt_printf("timer: vcpu %u: unknown mode '%s'\n", vcpu, mode);
        status = 2;
    } else if (vcpu >= MAX_VCPUS || !tsc_hz || !apic_hz || count == 0 || count > UINT32_MAX) {
        rt_printf("timer: vcpu %u: cannot run (vcpus <= %u, tsc_hz=%lu apic_hz=%lu, count=%lu)\n",
                  vcpu, MAX_VCPUS, tsc_hz, apic_hz, count);
        status = 2;
    } else if (!rt_apic_present()) {
        rt_printf("timer: vcpu %u: no x2APIC (needs guest ABI v1.1)\n", vcpu);
        status = 2;
    } else {
        if (vcpu == 0 && report)
            rt_printf("timer: %u vcpus, tsc_hz=%lu apic_timer_hz=%lu\n", bi->vcpus, tsc_hz,
                      apic_hz);
        rt_apic_enable();
        rt_irq_install(TIMER_VECTOR, on_timer);
        for (int m = first; m <= last; m++)
            status |= measure(vcpu, (enum mode)m, period_us, (uint32_t)count, max_late_us,
                              report);
    }

    __atomic_fetch_or(&failures, (uint32_t)status, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&finished, 1, __ATOMIC_SEQ_CST);
    if (vcpu != 0)
        return 0;
    while (__atomic_load_n(&finished, __ATOMIC_SEQ_CST) < bi->vcpus)
        hc_yield();
    return (int)__atomic_load_n(&failures, __ATOMIC_SEQ_CST);
}
