/* Log-scale latency histogram, integer only: 4 sub-buckets per power of two (values within
 * 25% of the bucket's lower bound share it), exact count, sum and max.  Reused for wake-up
 * latency here and by the VMM for kick latency. */
#ifndef VSCHED_SCHED_HIST_H
#define VSCHED_SCHED_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 2
#define HIST_MAX_LOG2 40 /* values >= 2^40 (about 18 minutes in ns) share the last bucket */
#define HIST_BUCKETS ((HIST_MAX_LOG2 - HIST_SUB_BITS + 1) << HIST_SUB_BITS)

struct hist {
    uint64_t count;
    uint64_t sum;
    uint64_t max;
    uint32_t bucket[HIST_BUCKETS];
};

void hist_clear(struct hist *h);
void hist_record(struct hist *h, uint64_t value);
void hist_merge(struct hist *dst, const struct hist *src);
/* Smallest bucket upper bound at or below which PPM parts per million of the samples lie,
 * never above the exact max; 0 for an empty histogram.  p99 = 990000, p99.9 = 999000. */
uint64_t hist_percentile(const struct hist *h, uint32_t ppm);
unsigned hist_bucket_of(uint64_t value);
uint64_t hist_bucket_upper(unsigned bucket);

#endif
