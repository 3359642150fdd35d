/* Workload strings of the simulator: "hog", "idle", "periodic period_us=P run_us=B",
 * "poisson rate_hz=R service_us=S", "barrier phase_us=X". */
#include "tools/vsched-sim/sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct wl_key {
    const char *name;
    size_t off;
    uint64_t scale;   /* to ns (or 1) */
};

struct wl_kind {
    const char *name;
    enum sim_kind kind;
    struct wl_key keys[2];
    unsigned nkeys;
};

#define OFF(f) offsetof(struct sim_workload, f)

static const struct wl_kind kinds[] = {
    { "hog", WL_HOG, { { 0 } }, 0 },
    { "idle", WL_IDLE, { { 0 } }, 0 },
    { "periodic", WL_PERIODIC, { { "period_us", OFF(period_ns), 1000 }, { "run_us", OFF(run_ns), 1000 } }, 2 },
    { "poisson", WL_POISSON, { { "rate_hz", OFF(rate_hz), 1 }, { "service_us", OFF(service_ns), 1000 } }, 2 },
    { "barrier", WL_BARRIER, { { "phase_us", OFF(phase_ns), 1000 } }, 1 },
};

int sim_workload_parse(const char *text, struct sim_workload *out, char *err, size_t errlen)
{
    char buf[CFG_TEXT_MAX + 1];
    memset(out, 0, sizeof(*out));
    snprintf(buf, sizeof(buf), "%s", text);
    char *save = NULL, *tok = strtok_r(buf, " \t", &save);
    if (!tok) {
        out->kind = WL_HOG;
        return 0;
    }
    const struct wl_kind *k = NULL;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(kinds[i].name, tok) == 0)
            k = &kinds[i];
    if (!k) {
        snprintf(err, errlen, "unknown workload '%s' (hog, idle, periodic, poisson, barrier)", tok);
        return -1;
    }
    out->kind = k->kind;
    unsigned seen = 0;
    while ((tok = strtok_r(NULL, " \t", &save))) {
        char *eq = strchr(tok, '=');
        unsigned i;
        for (i = 0; i < k->nkeys; i++)
            if (eq && (size_t)(eq - tok) == strlen(k->keys[i].name) &&
                strncmp(tok, k->keys[i].name, (size_t)(eq - tok)) == 0)
                break;
        if (i == k->nkeys) {
            snprintf(err, errlen, "workload %s: unexpected '%s'", k->name, tok);
            return -1;
        }
        char *end;
        unsigned long long v = strtoull(eq + 1, &end, 10);
        if (eq[1] == 0 || *end || v == 0 || v > 1000000000ull) {
            snprintf(err, errlen, "workload %s: %s must be 1..1000000000", k->name, k->keys[i].name);
            return -1;
        }
        if (seen & (1u << i)) {
            snprintf(err, errlen, "workload %s: %s given twice", k->name, k->keys[i].name);
            return -1;
        }
        seen |= 1u << i;
        *(uint64_t *)(void *)((char *)out + k->keys[i].off) = v * k->keys[i].scale;
    }
    for (unsigned i = 0; i < k->nkeys; i++)
        if (!(seen & (1u << i))) {
            snprintf(err, errlen, "workload %s: missing %s", k->name, k->keys[i].name);
            return -1;
        }
    return 0;
}
