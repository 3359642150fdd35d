/* Workload strings of the simulator (tools/README.md has the table):
 *   hog | idle
 *   periodic period_us=P run_us=B [missed=bank|drop]
 *   poisson rate_hz=R service_us=S
 *   barrier phase_us=X
 *   yield run_us=B
 *   timer sleep_us=S run_us=B
 *   attack period_us=P run_pct=X [action=sleep|yield]
 * and, for every kind but idle and barrier, [busy=N]: only the first N vCPUs do it. */
#include "tools/vsched-sim/sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct wl_key {
    const char *name;
    size_t off;
    uint64_t scale;          /* to ns (or 1); 0: a name from NAMES, stored as its index */
    uint64_t max;            /* largest value before scaling */
    const char *names[3];    /* for a name key; NULL-terminated */
    bool optional;           /* else required */
};

struct wl_kind {
    const char *name;
    enum sim_kind kind;
    struct wl_key keys[4];
    unsigned nkeys;
};

#define OFF(f) offsetof(struct sim_workload, f)
#define NUM(n, f, scale) { n, OFF(f), scale, 1000000000ull, { NULL }, false }
/* Every kind but idle: only the first N vCPUs of the VM do it, the others are idle. */
#define BUSY { "busy", OFF(busy_vcpus), 1, 4096, { NULL }, true }

static const struct wl_kind kinds[] = {
    { "hog", WL_HOG, { BUSY }, 1 },
    { "idle", WL_IDLE, { { 0 } }, 0 },
    { "periodic", WL_PERIODIC,
      { NUM("period_us", period_ns, 1000), NUM("run_us", run_ns, 1000),
        { "missed", OFF(drop_missed), 0, 0, { "bank", "drop", NULL }, true }, BUSY }, 4 },
    { "poisson", WL_POISSON,
      { NUM("rate_hz", rate_hz, 1), NUM("service_us", service_ns, 1000), BUSY }, 3 },
    { "barrier", WL_BARRIER, { NUM("phase_us", phase_ns, 1000) }, 1 }, /* all vCPUs take part */
    { "yield", WL_YIELD, { NUM("run_us", run_ns, 1000), BUSY }, 2 },
    { "timer", WL_TIMER, { NUM("sleep_us", period_ns, 1000), NUM("run_us", run_ns, 1000), BUSY }, 3 },
    { "attack", WL_ATTACK,
      { NUM("period_us", period_ns, 1000), { "run_pct", OFF(run_pct), 1, 99, { NULL }, false },
        { "action", OFF(attack_yield), 0, 0, { "sleep", "yield", NULL }, true }, BUSY }, 4 },
};

static int parse_value(const struct wl_kind *k, const struct wl_key *key, const char *val,
                       struct sim_workload *out, char *err, size_t errlen)
{
    uint64_t *field = (uint64_t *)(void *)((char *)out + key->off);
    if (key->scale == 0) {
        for (uint64_t i = 0; key->names[i]; i++)
            if (strcmp(key->names[i], val) == 0) {
                *field = i;
                return 0;
            }
        snprintf(err, errlen, "workload %s: %s must be %s or %s", k->name, key->name,
                 key->names[0], key->names[1]);
        return -1;
    }
    char *end;
    unsigned long long v = strtoull(val, &end, 10);
    if (val[0] == 0 || val[0] == '-' || *end || v == 0 || v > key->max) {
        snprintf(err, errlen, "workload %s: %s must be 1..%llu", k->name, key->name,
                 (unsigned long long)key->max);
        return -1;
    }
    *field = v * key->scale;
    return 0;
}

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
        snprintf(err, errlen, "unknown workload '%s' (hog, idle, periodic, poisson, barrier, "
                              "yield, timer, attack)", tok);
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
        if (seen & (1u << i)) {
            snprintf(err, errlen, "workload %s: %s given twice", k->name, k->keys[i].name);
            return -1;
        }
        seen |= 1u << i;
        if (parse_value(k, &k->keys[i], eq + 1, out, err, errlen) < 0)
            return -1;
    }
    for (unsigned i = 0; i < k->nkeys; i++)
        if (!(seen & (1u << i)) && !k->keys[i].optional) {
            snprintf(err, errlen, "workload %s: missing %s", k->name, k->keys[i].name);
            return -1;
        }
    return 0;
}
