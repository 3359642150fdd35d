/* The policy table: adding a policy = one file + one line here. */
#include "sched/policy.h"

#include <string.h>

extern const struct sched_policy sched_policy_credit, sched_policy_pshare, sched_policy_rr,
    sched_policy_fifo, sched_policy_lottery, sched_policy_stride, sched_policy_null,
    sched_policy_rtds, sched_policy_credit2;

const struct sched_policy *const sched_policies[] = {
    &sched_policy_credit,
    &sched_policy_pshare,
    &sched_policy_rr,
    &sched_policy_fifo,
    &sched_policy_lottery,
    &sched_policy_stride,
    &sched_policy_null,
    &sched_policy_rtds,
    &sched_policy_credit2,
    NULL,
};

const struct sched_policy *sched_policy_find(const char *name)
{
    for (unsigned i = 0; name && sched_policies[i]; i++)
        if (strcmp(sched_policies[i]->name, name) == 0)
            return sched_policies[i];
    return NULL;
}

bool sched_policy_known(const char *name)
{
    return sched_policy_find(name) != NULL;
}

const char *sched_policy_list(unsigned i)
{
    for (unsigned k = 0; sched_policies[k]; k++)
        if (k == i)
            return sched_policies[k]->name;
    return NULL;
}
