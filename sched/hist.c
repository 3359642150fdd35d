#include "sched/hist.h"

#include <string.h>

#define SUB (1u << HIST_SUB_BITS)

void hist_clear(struct hist *h)
{
    memset(h, 0, sizeof(*h));
}

unsigned hist_bucket_of(uint64_t v)
{
    if (v < SUB)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    if (msb >= HIST_MAX_LOG2)
        return HIST_BUCKETS - 1;
    unsigned sub = (unsigned)(v >> (msb - HIST_SUB_BITS)) & (SUB - 1);
    return ((msb - HIST_SUB_BITS + 1) << HIST_SUB_BITS) + sub;
}

uint64_t hist_bucket_upper(unsigned b)
{
    if (b < SUB)
        return b;
    unsigned msb = (b >> HIST_SUB_BITS) + HIST_SUB_BITS - 1;
    uint64_t sub = b & (SUB - 1);
    uint64_t width = 1ull << (msb - HIST_SUB_BITS);
    return ((SUB + sub) << (msb - HIST_SUB_BITS)) + width - 1;
}

void hist_record(struct hist *h, uint64_t v)
{
    h->count++;
    h->sum += v;
    if (v > h->max)
        h->max = v;
    h->bucket[hist_bucket_of(v)]++;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->max > dst->max)
        dst->max = src->max;
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        dst->bucket[i] += src->bucket[i];
}

uint64_t hist_percentile(const struct hist *h, uint32_t ppm)
{
    if (h->count == 0)
        return 0;
    if (ppm > 1000000)
        ppm = 1000000;
    /* rank = ceil(count * ppm / 1e6), at least 1 */
    uint64_t rank = (h->count * ppm + 999999) / 1000000;
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned b = 0; b < HIST_BUCKETS; b++) {
        seen += h->bucket[b];
        if (seen >= rank) {
            uint64_t up = hist_bucket_upper(b);
            return up < h->max ? up : h->max;
        }
    }
    return h->max;
}
