/* A metascheduler profile (tools/vsched-meta --profile-out) for the VMM: one line per VM and
 * policy, "vm=NAME policy=POLICY throughput_ppm=N p99_ns=N" (blank lines and # comments
 * allowed).  Pure. */
#ifndef VSCHED_VMM_META_PROFILE_H
#define VSCHED_VMM_META_PROFILE_H

#include <stddef.h>

#include "sched/meta.h"
#include "vmm/config.h"

/* For every VM of C with a meta_policy: OUT[i] (OUT has CFG_MAX_VMS entries) from its lines under GENERAL and under its
 * meta_policy.  Returns 0, or -1 with ERR (the line number first, when there is one): a
 * malformed line, an unknown key or VM, a duplicate, a VM with a meta_policy but no line for
 * one of the two policies. */
int meta_profile_parse(const char *text, size_t len, const struct cfg *c, const char *general,
                       struct sched_meta_vm *out, char *err, size_t errlen);

#endif
