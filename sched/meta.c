/* The metascheduler's weighting rules (meta.h). */
#include "sched/meta.h"

/* N / D in 128 bits by shift and subtract: the VMM is freestanding without libgcc (no
 * __udivti3).  D > 0. */
static unsigned __int128 udiv128(unsigned __int128 n, unsigned __int128 d)
{
    unsigned __int128 q = 0, r = 0;
    for (int i = 127; i >= 0; i--) {
        r = (r << 1) | ((n >> i) & 1);
        if (r >= d) {
            r -= d;
            q |= (unsigned __int128)1 << i;
        }
    }
    return q;
}

static uint64_t benefit_ppm(const struct sched_meta_vm *v)
{
    if (!v->general_thr_ppm)
        return SCHED_META_BENEFIT_MIN_PPM;
    uint64_t ratio = (uint64_t)udiv128((unsigned __int128)v->preferred_thr_ppm * 1000000u,
                                       v->general_thr_ppm);
    uint64_t gain = ratio > 1000000u ? ratio - 1000000u : 0;
    return gain > SCHED_META_BENEFIT_MIN_PPM ? gain : SCHED_META_BENEFIT_MIN_PPM;
}

void sched_meta_weights(enum sched_meta_rule rule, uint32_t n, const struct sched_meta_vm *vms,
                        uint32_t *weight_ppm)
{
    unsigned __int128 raw[64], sum = 0; /* n <= SCHED_MAX_VMS */
    for (uint32_t i = 0; i < n && i < 64; i++) {
        unsigned __int128 delta = (unsigned __int128)vms[i].general_p99_ns + 1;
        raw[i] = rule == SCHED_META_DELTA           ? delta
                 : rule == SCHED_META_BENEFIT       ? benefit_ppm(&vms[i])
                 : rule == SCHED_META_DELTA_BENEFIT ? delta * benefit_ppm(&vms[i])
                                                    : 1;
        sum += raw[i];
    }
    for (uint32_t i = 0; i < n && i < 64; i++) {
        uint64_t w = sum ? (uint64_t)udiv128(raw[i] * 1000000u + (sum >> 1), sum) : 0;
        weight_ppm[i] = w ? (uint32_t)w : 1;
    }
}
