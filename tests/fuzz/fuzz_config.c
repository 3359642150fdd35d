/* libFuzzer harness for the configuration parser (vmm/config.c).  Oracles beyond "no crash":
 * a rejected file leaves the output untouched and says why on a line of the file; an accepted
 * one gives a configuration inside every documented limit, and parsing it again gives the
 * same bytes. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/config.h"

static bool known_policy(const char *name)
{
    static const char *const names[] = { "credit", "pshare", "rr", "fifo", "lottery", "stride" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strcmp(name, names[i]))
            return true;
    return false;
}

#include "tests/fuzz/oracle.h"

static bool terminated(const char *s, size_t n)
{
    return memchr(s, 0, n) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct cfg out, sentinel, again;
    struct cfg_error err;
    memset(&out, 0xa5, sizeof(out));
    memcpy(&sentinel, &out, sizeof(out));
    memset(&err, 0, sizeof(err));
    int rc = cfg_parse((const char *)data, size, known_policy, &out, &err);
    if (rc < 0) {
        check(!memcmp(&out, &sentinel, sizeof(out))); /* nothing of a bad file applied */
        check(terminated(err.msg, sizeof(err.msg)) && err.msg[0]);
        size_t lines = 1;
        for (size_t i = 0; i < size; i++)
            lines += data[i] == '\n';
        check(err.line <= lines);
        return 0;
    }
    check(rc == 0);
    const struct cfg_machine *m = &out.machine;
    check(m->pcpus <= CFG_MAX_PCPUS);
    check(terminated(m->policy, sizeof(m->policy)) && known_policy(m->policy));
    check(m->timeslice_us >= 100 && m->timeslice_us <= 1000000);
    check(m->ratelimit_us <= m->timeslice_us);
    check(m->min_timer_period_us <= 100000);
    check(out.nvms <= CFG_MAX_VMS);
    for (uint32_t i = 0; i < out.nvms; i++) {
        const struct cfg_vm *v = &out.vms[i];
        check(terminated(v->name, sizeof(v->name)) && v->name[0]);
        for (uint32_t j = 0; j < i; j++)
            check(strcmp(v->name, out.vms[j].name) != 0);
        check(v->vcpus >= 1 && v->vcpus <= CFG_MAX_VCPUS);
        check(v->memory_mb >= 1 && v->memory_mb <= 4096);
        check(v->weight >= 1 && v->weight <= 65535);
        check(v->cap <= 100 * v->vcpus);
        check(terminated(v->image, sizeof(v->image)) && terminated(v->args, sizeof(v->args)));
        check(cpumask_any(&v->affinity));
    }
    memset(&again, 0x5a, sizeof(again));
    check(cfg_parse((const char *)data, size, known_policy, &again, &err) == 0);
    check(!memcmp(&out, &again, sizeof(out))); /* the same file, the same configuration */
    return 0;
}
