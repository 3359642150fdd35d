/* ipi: IPI ping-pong latency between vCPU 0 and vCPU 1, in a VM with >= 2 vCPUs (guest ABI
 * v1.1).  Args: `count=1000` (round trips), `max_rtt_us=0` (0: no bound), `wait=hlt|spin`
 * (default hlt).
 *
 * vCPU 0 sends a fixed IPI (PING_VECTOR) to vCPU 1; vCPU 1's handler counts it and answers
 * with an IPI (PONG_VECTOR) to vCPU 0, whose handler reads the TSC.  Round trip = that TSC
 * minus the TSC read just before vCPU 0 wrote the ICR.  The waiting sides sleep in
 * rt_wait_for_interrupt() (wait=hlt: every IPI must wake a halted vCPU, through the VMM's
 * scheduler) or spin with interrupts enabled (wait=spin: the IPI reaches a running vCPU).
 * Round trips go into a log2 histogram in us (bucket 0 = [0, 1), bucket b = [2^(b-1), 2^b)).
 *
 * Lost and duplicate IPIs: each side numbers its sends in shared memory (ping_sent,
 * pong_sent) before writing the ICR, and each handler numbers what it got (ping_recv,
 * pong_recv).  A handler run that would make the received count exceed the sent count is a
 * duplicate (counted in dup, not answered).  A round whose reply does not come within 1 s of
 * guest TSC time is lost: vCPU 0 prints a line, lets stragglers come in (up to 1 s more),
 * writes off what still has not come (in `lost`, so that a later handler run for it counts as
 * a duplicate instead of passing for the reply of a later round) and goes on.  In wait=hlt, vCPU 0 keeps an APIC-timer watchdog
 * (WD_VECTOR, TSC-deadline when there is one) armed at least 1 s ahead, re-armed about once
 * a second, so that a lost reply cannot leave it halted for ever.  At the end, after the
 * counts settled, lost = max(rounds without a reply, IPIs sent but never received).
 *
 * Output (vCPU 0, one line at the end):
 *   ipi wait=<hlt|spin> n=<count> rtt_p50_us=<..> rtt_p99_us=<..> rtt_max_us=<..> lost=<n>
 *       dup=<n>
 * The percentiles are the upper bound of the bucket holding them (over the rounds that got a
 * reply), at most rtt_max_us (exact, floor).  Status: 0; 1 when lost or dup > 0, or when
 * max_rtt_us is set and rtt_max_us exceeds it; 2 when it cannot run (one vCPU, no x2APIC, no
 * TSC rate, bad arguments).  vCPUs 2 and up return at once.
 *
 * `check=1`: vCPU 1 also checks that its local APIC's state is consistent as it sees it.  In
 * each ping handler the ping's ISR bit must be set (MSR 0x812) before its EOI and clear
 * after it (isr_bad, eoi_bad).  In wait=spin, every 64 spins it raises its task priority
 * with MOV CR8 = 5, which masks the ping's class 4 (SDM Vol. 3A 11.8.3.1), checks that CR8
 * reads back 5 and that the x2APIC TPR (MSR 0x808) reads 0x50 (tpr_bad), spins a while --
 * a ping delivered meanwhile counts in masked_bad -- and lowers it to 0 again, noting the
 * windows at whose end a ping was waiting (deferred: evidence that masking held one back).
 * One more line then, and status 1 when any *_bad > 0:
 *   ipi check: windows=<n> deferred=<n> isr_bad=<n> eoi_bad=<n> tpr_bad=<n> masked_bad=<n>
 * `hist=1`: also the round-trip histogram, its non-empty buckets by upper bound in us:
 *   ipi hist wait=<hlt|spin> lt1=<n> lt2=<n> lt4=<n> ... */
#include <string.h>

#include "guest/rt/rt.h"
#include "vmm/fmt.h"

#define PING_VECTOR 0x40 /* vCPU 0 -> vCPU 1 */
#define PONG_VECTOR 0x41 /* vCPU 1 -> vCPU 0 */
#define WD_VECTOR   0x42 /* vCPU 0's watchdog timer (wait=hlt) */
#define STOP_VECTOR 0x43 /* vCPU 0 -> vCPU 1: look at `done` */
#define BUCKETS     32

/* Written by vCPU 0 (main) and read by vCPU 1's handler, and the other way round. */
static struct {
    volatile uint32_t sent;  /* sends, numbered before the ICR write */
    volatile uint32_t recv;  /* handler runs that matched a send */
    volatile uint32_t dup;   /* handler runs beyond the sends */
    volatile uint32_t lost;  /* sends that vCPU 0 wrote off (no handler run after 1 s + 1 s) */
} ping __attribute__((aligned(64))), pong __attribute__((aligned(64)));

static volatile uint64_t pong_tsc;      /* vCPU 0's handler: TSC of the last reply */
static volatile bool wd_armed;          /* vCPU 0's watchdog is armed and has not fired */
static volatile uint64_t wd_deadline;   /* ... for this TSC */
static volatile uint32_t ready1, done, finished1;
/* check=1, written by vCPU 1, read by vCPU 0 at the end. */
static bool check, show_hist;
static volatile bool masked;            /* vCPU 1's CR8 masks the ping class */
static volatile uint32_t isr_bad, eoi_bad, tpr_bad, masked_bad, windows, deferred;

#define X2APIC_TPR 0x808
#define X2APIC_ISR0 0x810 /* ISR bits 31:0; 0x811 bits 63:32, ... */

static bool in_service(uint8_t vector)
{
    return (rt_rdmsr(X2APIC_ISR0 + (vector >> 5)) >> (vector & 31)) & 1;
}

static uint64_t tsc_hz, apic_hz, one_sec;
static bool has_deadline;
static uint32_t hist[BUCKETS];

static inline void fence(void)
{
    /* WRMSR to the x2APIC's ICR is not serializing (SDM 11.12.3): make the counts visible
     * before the IPI can be. */
    __asm__ volatile("mfence" ::: "memory");
}

/* vCPU 1: count the ping, answer it. */
static void on_ping(uint8_t vector)
{
    if (check) {
        isr_bad += !in_service(vector);
        masked_bad += masked;
    }
    uint32_t r = ping.recv + 1;
    if (r + ping.lost > __atomic_load_n(&ping.sent, __ATOMIC_ACQUIRE)) {
        ping.dup++;
    } else {
        ping.recv = r;
        pong.sent = pong.sent + 1;
        fence();
        rt_apic_send_ipi(0, PONG_VECTOR);
    }
    rt_apic_eoi();
    if (check)
        eoi_bad += in_service(vector);
}

/* vCPU 0: the TSC first, then count the reply. */
static void on_pong(uint8_t vector)
{
    uint64_t t = rt_rdtsc();
    (void)vector;
    uint32_t r = pong.recv + 1;
    if (r + pong.lost > __atomic_load_n(&pong.sent, __ATOMIC_ACQUIRE)) {
        pong.dup++;
    } else {
        pong_tsc = t;
        __atomic_store_n(&pong.recv, r, __ATOMIC_RELEASE);
    }
    rt_apic_eoi();
}

static void on_watchdog(uint8_t vector)
{
    (void)vector;
    wd_armed = false;
    rt_apic_eoi();
}

static void on_stop(uint8_t vector)
{
    (void)vector;
    rt_apic_eoi();
}

/* vCPU 0, wait=hlt: the watchdog fires at DEADLINE (TSC), or a bit earlier when the one-shot
 * count cannot reach that far (the waiting loop then arms it again). */
static void wd_arm(uint64_t deadline)
{
    wd_deadline = deadline;
    wd_armed = true;
    if (has_deadline) {
        rt_apic_timer_deadline(WD_VECTOR, deadline);
    } else {
        uint64_t now = rt_rdtsc();
        uint64_t ticks = deadline > now ? rt_mul_div(deadline - now, apic_hz, tsc_hz) + 1 : 1;
        rt_apic_timer_oneshot(WD_VECTOR, ticks > UINT32_MAX ? UINT32_MAX : (uint32_t)ticks);
    }
}

static uint32_t bucket_of(uint64_t us)
{
    uint32_t b = us ? 64 - (uint32_t)__builtin_clzll(us) : 0;
    return b < BUCKETS ? b : BUCKETS - 1;
}

static uint64_t percentile_us(uint32_t n, uint32_t pct, uint64_t max_us)
{
    uint64_t need = ((uint64_t)n * pct + 99) / 100, seen = 0;
    if (!n)
        return 0;
    for (uint32_t b = 0; b < BUCKETS; b++) {
        seen += hist[b];
        if (seen >= need) {
            uint64_t bound = 1ull << b;
            return bound < max_us ? bound : max_us;
        }
    }
    return max_us;
}

static bool settled(void)
{
    return ping.recv + ping.lost == ping.sent && pong.recv + pong.lost == pong.sent;
}

/* vCPU 0, after settle(): what has not come by now is lost; should it come later after all,
 * the handler counts it as a duplicate (and it cannot pass for the reply of a later round). */
static void write_off(void)
{
    __atomic_store_n(&ping.lost, ping.sent - ping.recv, __ATOMIC_RELEASE);
    __atomic_store_n(&pong.lost, pong.sent - pong.recv, __ATOMIC_RELEASE);
}

/* vCPU 0: with interrupts on, giving the pCPU away (vCPU 1 may need it), until everything
 * sent has arrived or LIMIT TSC ticks passed; then MIN_TICKS more for duplicates. */
static void settle(uint64_t limit, uint64_t min_ticks)
{
    uint64_t start = rt_rdtsc();
    rt_irq_enable();
    while (!settled() && rt_rdtsc() - start < limit)
        hc_yield();
    start = rt_rdtsc();
    while (rt_rdtsc() - start < min_ticks)
        hc_yield();
    rt_irq_disable();
}

static int vcpu0(bool hlt, uint32_t count, uint64_t max_rtt_us)
{
    rt_irq_install(PING_VECTOR, on_ping);
    rt_irq_install(PONG_VECTOR, on_pong);
    rt_irq_install(WD_VECTOR, on_watchdog);
    rt_irq_install(STOP_VECTOR, on_stop);
    rt_apic_enable();

    /* vCPU 1 must have its APIC on before the first ping; it may be waiting for our pCPU. */
    uint64_t since = rt_rdtsc();
    while (!__atomic_load_n(&ready1, __ATOMIC_ACQUIRE)) {
        rt_pause();
        if (rt_rdtsc() - since > one_sec / 200) {
            hc_yield();
            since = rt_rdtsc();
        }
    }

    uint32_t timeouts = 0, replies = 0;
    uint64_t rtt_max = 0;
    if (hlt)
        rt_irq_disable();
    else
        rt_irq_enable();
    for (uint32_t i = 1; i <= count; i++) {
        if (hlt) {
            /* Keep the watchdog at least 1 s past this round's start, re-arming it about
             * once a second (outside the measured interval). */
            uint64_t now = rt_rdtsc();
            if (!wd_armed || wd_deadline < now + one_sec + one_sec / 16)
                wd_arm(now + 2 * one_sec);
        }
        uint32_t before = __atomic_load_n(&pong.recv, __ATOMIC_ACQUIRE);
        __atomic_store_n(&ping.sent, ping.sent + 1, __ATOMIC_RELEASE);
        fence();
        uint64_t t0 = rt_rdtsc();
        rt_apic_send_ipi(1, PING_VECTOR);

        bool got = true;
        while (__atomic_load_n(&pong.recv, __ATOMIC_ACQUIRE) == before) {
            uint64_t now = rt_rdtsc();
            if (now - t0 >= one_sec) {
                got = false;
                break;
            }
            if (hlt) {
                if (!wd_armed)
                    wd_arm(t0 + one_sec);
                rt_wait_for_interrupt();
            } else {
                rt_pause();
            }
        }
        if (got) {
            uint64_t rtt = pong_tsc - t0;
            if (rtt > rtt_max)
                rtt_max = rtt;
            hist[bucket_of(rt_mul_div(rtt, 1000000, tsc_hz))]++;
            replies++;
            continue;
        }
        timeouts++;
        rt_printf("ipi: round %u: no reply within 1 s (pings sent=%u received=%u, replies "
                  "sent=%u received=%u), going on\n", i, ping.sent, ping.recv, pong.sent,
                  pong.recv);
        /* Stragglers of this round come in now, not as the reply of a later round. */
        settle(one_sec, 0);
        write_off();
        if (!hlt)
            rt_irq_enable();
    }

    /* Late or duplicate IPIs: give them 10 ms (after everything sent has arrived, or 1 s). */
    settle(one_sec, one_sec / 100);
    if (hlt)
        rt_apic_timer_stop();
    write_off();
    uint32_t missing = ping.lost + pong.lost;
    uint32_t lost = missing > timeouts ? missing : timeouts;
    uint32_t dup = ping.dup + pong.dup;

    /* Let vCPU 1 go (it may be halted). */
    __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    fence();
    rt_apic_send_ipi(1, STOP_VECTOR);
    since = rt_rdtsc();
    while (!__atomic_load_n(&finished1, __ATOMIC_ACQUIRE) && rt_rdtsc() - since < one_sec)
        hc_yield();

    uint64_t max_us = rt_mul_div(rtt_max, 1000000, tsc_hz);
    uint32_t bad = isr_bad + eoi_bad + tpr_bad + masked_bad;
    if (check)
        rt_printf("ipi check: windows=%u deferred=%u isr_bad=%u eoi_bad=%u tpr_bad=%u "
                  "masked_bad=%u\n", windows, deferred, isr_bad, eoi_bad, tpr_bad, masked_bad);
    if (show_hist) {
        char line[240];
        size_t at = (size_t)fmt_snprintf(line, sizeof(line), "ipi hist wait=%s",
                                        hlt ? "hlt" : "spin");
        for (uint32_t b = 0; b < BUCKETS && at < sizeof(line); b++)
            if (hist[b])
                at += (size_t)fmt_snprintf(line + at, sizeof(line) - at, " lt%lu=%u",
                                          1ul << b, hist[b]);
        rt_printf("%s\n", line);
    }
    rt_printf("ipi wait=%s n=%u rtt_p50_us=%lu rtt_p99_us=%lu rtt_max_us=%lu lost=%u dup=%u\n",
              hlt ? "hlt" : "spin", count, percentile_us(replies, 50, max_us),
              percentile_us(replies, 99, max_us), max_us, lost, dup);
    return (lost || dup || bad || (max_rtt_us && max_us > max_rtt_us)) ? 1 : 0;
}

/* vCPU 1, check=1, wait=spin: one window with the ping class masked by CR8. */
static void masked_window(void)
{
    rt_write_cr8(5);
    masked = true;
    windows++;
    tpr_bad += rt_read_cr8() != 5;
    tpr_bad += rt_rdmsr(X2APIC_TPR) != 0x50;   /* an exit: the VMM's view of the TPR */
    for (unsigned i = 0; i < 200; i++)
        rt_pause();
    deferred += __atomic_load_n(&ping.sent, __ATOMIC_ACQUIRE) > ping.recv + ping.lost;
    masked = false;
    rt_write_cr8(0);
}

static void vcpu1(bool hlt)
{
    rt_apic_enable();
    rt_irq_disable();
    __atomic_store_n(&ready1, 1, __ATOMIC_RELEASE);
    if (hlt) {
        while (!__atomic_load_n(&done, __ATOMIC_ACQUIRE))
            rt_wait_for_interrupt();
    } else {
        rt_irq_enable();
        for (uint32_t k = 1; !__atomic_load_n(&done, __ATOMIC_ACQUIRE); k++) {
            if (check && k % 64 == 0)
                masked_window();
            rt_pause();
        }
        rt_irq_disable();
    }
    __atomic_store_n(&finished1, 1, __ATOMIC_RELEASE);
}

int guest_main(uint32_t vcpu, const struct guest_boot_info *bi)
{
    char wait[16] = "hlt";
    rt_arg_str(bi->args, "wait", wait, sizeof(wait));
    uint64_t count = rt_arg_u64(bi->args, "count", 1000);
    uint64_t max_rtt_us = rt_arg_u64(bi->args, "max_rtt_us", 0);
    check = rt_arg_u64(bi->args, "check", 0) != 0;
    show_hist = rt_arg_u64(bi->args, "hist", 0) != 0;
    bool hlt = !strcmp(wait, "hlt");
    bool ok_wait = hlt || !strcmp(wait, "spin");

    if (vcpu >= 2)
        return 0;
    tsc_hz = rt_tsc_hz();
    apic_hz = rt_apic_timer_hz();
    one_sec = tsc_hz;
    has_deadline = rt_apic_has_deadline();
    if (!ok_wait || bi->vcpus < 2 || count == 0 || count > UINT32_MAX || tsc_hz < 1000000 ||
        !apic_hz || !rt_apic_present()) {
        if (vcpu == 0)
            rt_printf("ipi: cannot run: wait=%s (hlt or spin), %u vcpus (needs >= 2), "
                      "count=%lu, tsc_hz=%lu, x2apic=%d\n", wait, bi->vcpus, count, tsc_hz,
                      (int)rt_apic_present());
        return 2;
    }
    if (vcpu == 1) {
        vcpu1(hlt);
        return 0;
    }
    return vcpu0(hlt, (uint32_t)count, max_rtt_us);
}
