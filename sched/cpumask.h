/* Sets of pCPUs: a fixed bitmap of SCHED_MAX_PCPUS bits (bit i = pCPU i), passed by value
 * like any small struct.  Every user — the library, the VMM, the simulator, the tests — goes
 * through these functions; nobody does word arithmetic on the bits.
 *
 * The atomic variants act on one 64-bit word at a time (seq_cst, like the single word they
 * replace): setting or clearing one pCPU's bit is atomic, and a load of the whole set is a
 * sequence of word loads, not a snapshot.  The library needs no more: its idle and ready masks
 * pair one pCPU's bit with another's load of that same bit (sched.h, Dekker per bit).
 *
 * Header only, freestanding (no libgcc: the population count is SWAR, not a builtin). */
#ifndef VSCHED_SCHED_CPUMASK_H
#define VSCHED_SCHED_CPUMASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sched/limits.h"

#define SCHED_CPUMASK_WORDS ((SCHED_MAX_PCPUS + 63) / 64)

typedef struct sched_cpumask {
    uint64_t w[SCHED_CPUMASK_WORDS];
} sched_cpumask_t;

#define CPUMASK_WORD(c) ((unsigned)(c) / 64)
#define CPUMASK_BIT(c) ((uint64_t)1 << ((unsigned)(c) % 64))

/* The empty set, as a static initializer. */
#define CPUMASK_NONE_INIT { { 0 } }

/* Every pCPU of the set, lowest first: C is an int, the set is not changed meanwhile. */
#define cpumask_for_each(c, m) for (int c = cpumask_first(m); c >= 0; c = cpumask_next(m, c))

static inline sched_cpumask_t cpumask_none(void)
{
    sched_cpumask_t m = { { 0 } };
    return m;
}

/* {C}; C < SCHED_MAX_PCPUS. */
static inline sched_cpumask_t cpumask_of(unsigned c)
{
    sched_cpumask_t m = { { 0 } };
    m.w[CPUMASK_WORD(c)] = CPUMASK_BIT(c);
    return m;
}

/* pCPUs 0 .. N-1 (N up to SCHED_MAX_PCPUS). */
static inline sched_cpumask_t cpumask_below(unsigned n)
{
    sched_cpumask_t m;
    for (unsigned i = 0; i < SCHED_CPUMASK_WORDS; i++)
        m.w[i] = n >= 64 * (i + 1) ? ~(uint64_t)0
                 : n > 64 * i       ? ((uint64_t)1 << (n - 64 * i)) - 1
                                    : 0;
    return m;
}

static inline void cpumask_set(sched_cpumask_t *m, unsigned c)
{
    if (c < SCHED_MAX_PCPUS)
        m->w[CPUMASK_WORD(c)] |= CPUMASK_BIT(c);
}

static inline void cpumask_clear(sched_cpumask_t *m, unsigned c)
{
    if (c < SCHED_MAX_PCPUS)
        m->w[CPUMASK_WORD(c)] &= ~CPUMASK_BIT(c);
}

/* False for C outside the set's range. */
static inline bool cpumask_test(const sched_cpumask_t *m, unsigned c)
{
    return c < SCHED_MAX_PCPUS && (m->w[CPUMASK_WORD(c)] & CPUMASK_BIT(c)) != 0;
}

/* Not empty. */
static inline bool cpumask_any(const sched_cpumask_t *m)
{
    uint64_t x = 0;
    for (unsigned i = 0; i < SCHED_CPUMASK_WORDS; i++)
        x |= m->w[i];
    return x != 0;
}

/* Some pCPU other than C. */
static inline bool cpumask_any_but(const sched_cpumask_t *m, unsigned c)
{
    uint64_t x = 0;
    for (unsigned i = 0; i < SCHED_CPUMASK_WORDS; i++)
        x |= i == CPUMASK_WORD(c) ? m->w[i] & ~CPUMASK_BIT(c) : m->w[i];
    return x != 0;
}

static inline bool cpumask_equal(const sched_cpumask_t *a, const sched_cpumask_t *b)
{
    uint64_t x = 0;
    for (unsigned i = 0; i < SCHED_CPUMASK_WORDS; i++)
        x |= a->w[i] ^ b->w[i];
    return x == 0;
}

static inline bool cpumask_intersects(const sched_cpumask_t *a, const sched_cpumask_t *b)
{
    uint64_t x = 0;
    for (unsigned i = 0; i < SCHED_CPUMASK_WORDS; i++)
        x |= a->w[i] & b->w[i];
    return x != 0;
}

/* DST |= SRC, DST &= SRC, DST &= ~SRC. */
static inline void cpumask_or(sched_cpumask_t *dst, const sched_cpumask_t *src)
{
    for (unsigned i = 0; i < SCHED_CPUMASK_WORDS; i++)
        dst->w[i] |= src->w[i];
}

static inline void cpumask_and(sched_cpumask_t *dst, const sched_cpumask_t *src)
{
    for (unsigned i = 0; i < SCHED_CPUMASK_WORDS; i++)
        dst->w[i] &= src->w[i];
}

static inline void cpumask_andnot(sched_cpumask_t *dst, const sched_cpumask_t *src)
{
    for (unsigned i = 0; i < SCHED_CPUMASK_WORDS; i++)
        dst->w[i] &= ~src->w[i];
}

static inline unsigned cpumask_count(const sched_cpumask_t *m)
{
    unsigned n = 0;
    for (unsigned i = 0; i < SCHED_CPUMASK_WORDS; i++) {
        uint64_t x = m->w[i];
        x = x - ((x >> 1) & 0x5555555555555555ull);
        x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
        x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
        n += (unsigned)((x * 0x0101010101010101ull) >> 56);
    }
    return n;
}

/* The lowest pCPU after AFTER (-1: from the start) in the set, or -1. */
static inline int cpumask_next(const sched_cpumask_t *m, int after)
{
    unsigned c = (unsigned)(after + 1);
    if (after < -1 || c >= SCHED_MAX_PCPUS)
        return -1;
    unsigned i = CPUMASK_WORD(c);
    uint64_t x = m->w[i] & ~(CPUMASK_BIT(c) - 1);
    while (!x) {
        if (++i == SCHED_CPUMASK_WORDS)
            return -1;
        x = m->w[i];
    }
    return (int)(64 * i + (unsigned)__builtin_ctzll(x));
}

static inline int cpumask_first(const sched_cpumask_t *m)
{
    return cpumask_next(m, -1);
}

/* ---- atomic (seq_cst, per word: see the top) ---- */

static inline void cpumask_atomic_set(sched_cpumask_t *m, unsigned c)
{
    __atomic_fetch_or(&m->w[CPUMASK_WORD(c)], CPUMASK_BIT(c), __ATOMIC_SEQ_CST);
}

static inline void cpumask_atomic_clear(sched_cpumask_t *m, unsigned c)
{
    __atomic_fetch_and(&m->w[CPUMASK_WORD(c)], ~CPUMASK_BIT(c), __ATOMIC_SEQ_CST);
}

/* Clears C; true if this call cleared it (it was set). */
static inline bool cpumask_atomic_test_and_clear(sched_cpumask_t *m, unsigned c)
{
    return (__atomic_fetch_and(&m->w[CPUMASK_WORD(c)], ~CPUMASK_BIT(c), __ATOMIC_SEQ_CST) &
            CPUMASK_BIT(c)) != 0;
}

/* DST |= SRC, word by word. */
static inline void cpumask_atomic_or(sched_cpumask_t *dst, const sched_cpumask_t *src)
{
    for (unsigned i = 0; i < SCHED_CPUMASK_WORDS; i++)
        if (src->w[i])
            __atomic_fetch_or(&dst->w[i], src->w[i], __ATOMIC_SEQ_CST);
}

static inline sched_cpumask_t cpumask_atomic_load(const sched_cpumask_t *m)
{
    sched_cpumask_t r;
    for (unsigned i = 0; i < SCHED_CPUMASK_WORDS; i++)
        r.w[i] = __atomic_load_n(&m->w[i], __ATOMIC_SEQ_CST);
    return r;
}

/* ---- text ---- */

/* The set as a CPU list, the configuration's syntax ("0-3,8,10-11"; "" when empty), into
 * BUF of LEN bytes, NUL-terminated and truncated to fit; returns the length it wanted (like
 * snprintf). */
static inline size_t cpumask_format(const sched_cpumask_t *m, char *buf, size_t len)
{
    size_t n = 0;
#define CPUMASK_PUT(ch) do { char ch_ = (ch); if (n + 1 < len) buf[n] = ch_; n++; } while (0)
#define CPUMASK_NUM(v)                                                                        \
    do {                                                                                      \
        char d_[4];                                                                           \
        unsigned k_ = 0, v_ = (unsigned)(v);                                                  \
        do d_[k_++] = (char)('0' + v_ % 10); while ((v_ /= 10) && k_ < sizeof(d_));           \
        while (k_) CPUMASK_PUT(d_[--k_]);                                                     \
    } while (0)
    for (int c = cpumask_first(m); c >= 0;) {
        int end = c;
        while (end + 1 < SCHED_MAX_PCPUS && cpumask_test(m, (unsigned)end + 1))
            end++;
        if (n)
            CPUMASK_PUT(',');
        CPUMASK_NUM(c);
        if (end > c) {
            CPUMASK_PUT('-');
            CPUMASK_NUM(end);
        }
        c = cpumask_next(m, end);
    }
#undef CPUMASK_NUM
#undef CPUMASK_PUT
    if (len)
        buf[n < len ? n : len - 1] = '\0';
    return n;
}

#endif
