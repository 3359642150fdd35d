/* SCHED_ASSERT(cond): an invariant of the library.  Compiled in host builds (unit tests, the
 * simulator, the benchmark), where a broken invariant calls sched_assert_failed — provided by
 * the host program (tools/vsched-sim/assert.c: print and abort); compiled out in the VMM
 * (VSCHED_VMM), where the library may not call back into its caller.  Cond must have no side
 * effects: it is not evaluated in the VMM. */
#ifndef VSCHED_SCHED_ASSERT_H
#define VSCHED_SCHED_ASSERT_H

#if defined(VSCHED_VMM)
#define SCHED_ASSERT(cond) ((void)0)
#else
void sched_assert_failed(const char *cond, const char *file, int line) __attribute__((noreturn));
#define SCHED_ASSERT(cond) \
    ((cond) ? (void)0 : sched_assert_failed(#cond, __FILE__, __LINE__))
#endif

#endif
