/* Metascheduler profiles (meta_profile.h). */
#include "vmm/meta_profile.h"

#include <string.h>

#include "vmm/fmt.h"

#define FIELD_MAX 32

struct line {
    char vm[FIELD_MAX], policy[FIELD_MAX];
    uint64_t thr, p99;
};

static bool number(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (!n || n > 19)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* One line of N bytes (no newline) into *L: 1 parsed, 0 blank/comment, -1 malformed (ERR). */
static int parse_line(const char *s, size_t n, struct line *l, char *err, size_t errlen)
{
    unsigned seen = 0;
    size_t i = 0;
    memset(l, 0, sizeof(*l));
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
        i++;
    if (i == n || s[i] == '#')
        return 0;
    while (i < n) {
        size_t k = i;
        while (i < n && s[i] != '=' && s[i] != ' ')
            i++;
        if (i == n || s[i] != '=') {
            fmt_snprintf(err, errlen, "expected key=value");
            return -1;
        }
        size_t klen = i - k, v = ++i;
        while (i < n && s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            i++;
        size_t vlen = i - v;
        static const char *const keys[] = { "vm", "policy", "throughput_ppm", "p99_ns" };
        int key = -1;
        for (int j = 0; j < 4; j++)
            if (strlen(keys[j]) == klen && !memcmp(s + k, keys[j], klen))
                key = j;
        if (key < 0 || (seen >> key & 1)) {
            fmt_snprintf(err, errlen, key < 0 ? "unknown key" : "key given twice");
            return -1;
        }
        seen |= 1u << key;
        bool ok = key >= 2 ? number(s + v, vlen, key == 2 ? &l->thr : &l->p99)
                           : vlen && vlen < FIELD_MAX;
        if (ok && key < 2)
            memcpy(key == 0 ? l->vm : l->policy, s + v, vlen);
        if (!ok) {
            fmt_snprintf(err, errlen, "bad value of %s", keys[key]);
            return -1;
        }
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
            i++;
    }
    if (seen != 15) {
        fmt_snprintf(err, errlen, "needs vm=, policy=, throughput_ppm= and p99_ns=");
        return -1;
    }
    return 1;
}

int meta_profile_parse(const char *text, size_t len, const struct cfg *c, const char *general,
                       struct sched_meta_vm *out, char *err, size_t errlen)
{
    bool have_gen[CFG_MAX_VMS] = { false }, have_pref[CFG_MAX_VMS] = { false };
    struct sched_meta_vm r[CFG_MAX_VMS];
    memset(r, 0, sizeof(r));
    uint32_t lineno = 0;
    for (size_t pos = 0; pos < len;) {
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        lineno++;
        struct line l;
        char why[80];
        int rc = parse_line(text + pos, end - pos, &l, why, sizeof(why));
        pos = end + 1;
        if (rc < 0) {
            fmt_snprintf(err, errlen, "line %u: %s", lineno, why);
            return -1;
        }
        if (!rc)
            continue;
        int vm = -1;
        for (uint32_t i = 0; i < c->nvms; i++)
            if (!strcmp(c->vms[i].name, l.vm))
                vm = (int)i;
        if (vm < 0) {
            fmt_snprintf(err, errlen, "line %u: no [vm] named %s", lineno, l.vm);
            return -1;
        }
        const char *pref = c->vms[vm].meta_policy;
        bool is_gen = !strcmp(l.policy, general), is_pref = pref[0] && !strcmp(l.policy, pref);
        if ((is_gen && have_gen[vm]) || (is_pref && !is_gen && have_pref[vm])) {
            fmt_snprintf(err, errlen, "line %u: vm %s under %s given twice", lineno, l.vm,
                         l.policy);
            return -1;
        }
        if (is_gen) {
            have_gen[vm] = true;
            r[vm].general_p99_ns = l.p99;
            r[vm].general_thr_ppm = l.thr;
        }
        if (is_pref) {
            have_pref[vm] = true;
            r[vm].preferred_thr_ppm = l.thr;
        }
    }
    for (uint32_t i = 0; i < c->nvms; i++) {
        if (!c->vms[i].meta_policy[0] || (have_gen[i] && have_pref[i]))
            continue;
        fmt_snprintf(err, errlen, "no line for vm %s under %s", c->vms[i].name,
                     have_gen[i] ? c->vms[i].meta_policy : general);
        return -1;
    }
    memcpy(out, r, sizeof(r));
    return 0;
}
