/* libFuzzer harness for the console protocol (vmm/proto.c).  Oracles beyond "no crash":
 *   - a command the parser accepts, written again with the formatter, parses to the same
 *     command; one it refuses says why and names a command for the reply;
 *   - any line the parser accepts, its pairs written again, parses to the same pairs;
 *   - a vcpu record made from the input's bytes (times, counts, exits, a wake-up histogram)
 *     formats into lines that parse back to exactly those values and buckets. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sched/hist.h"
#include "vmm/proto.h"

#include "tests/fuzz/oracle.h"

static void command_round_trip(const char *line, size_t len)
{
    struct proto_cmd c, again;
    char err[PROTO_ERR_MAX] = "";
    int rc = proto_parse_cmd(line, len, &c, err, sizeof(err));
    if (rc == PROTO_IGNORE)
        return;
    if (rc != PROTO_OK) {
        check(rc == PROTO_ERROR && err[0] && memchr(err, 0, sizeof(err)));
        check(memchr(c.cmd, 0, sizeof(c.cmd)) && c.cmd[0]);
        return;
    }
    struct proto_line l;
    proto_begin_cmd(&l, proto_cmd_name(c.kind));
    if (c.has_id)
        proto_u64(&l, "id", c.id);
    if (c.has_vm)
        proto_tok(&l, "vm", c.vm);
    if (c.has_weight)
        proto_u64(&l, "weight", c.weight);
    if (c.has_cap)
        proto_u64(&l, "cap", c.cap);
    if (c.has_policy)
        proto_tok(&l, "name", c.policy);
    if (c.has_gang)
        proto_tok(&l, "mode", c.gang == CFG_GANG_STRICT ? "strict"
                              : c.gang == CFG_GANG_RELAXED ? "relaxed" : "none");
    if (c.has_period)
        proto_u64(&l, "period_ms", c.period_ms);
    check(proto_end(&l) >= 0);
    check(proto_parse_cmd(l.buf, l.len, &again, err, sizeof(err)) == PROTO_OK);
    check(again.kind == c.kind && again.has_id == c.has_id && (!c.has_id || again.id == c.id));
    check(again.has_vm == c.has_vm && (!c.has_vm || !strcmp(again.vm, c.vm)));
    check(again.has_weight == c.has_weight && (!c.has_weight || again.weight == c.weight));
    check(again.has_cap == c.has_cap && (!c.has_cap || again.cap == c.cap));
    check(again.has_policy == c.has_policy && (!c.has_policy || !strcmp(again.policy, c.policy)));
    check(again.has_gang == c.has_gang && (!c.has_gang || again.gang == c.gang));
    check(again.has_period == c.has_period && (!c.has_period || again.period_ms == c.period_ms));
}

static void line_round_trip(const char *line, size_t len)
{
    static struct proto_msg m, again;
    char err[PROTO_ERR_MAX];
    if (proto_parse(line, len, &m, err, sizeof(err)) != PROTO_OK)
        return;
    struct proto_line l;
    proto_begin_cmd(&l, "fuzz");
    for (uint32_t i = 0; i < m.npairs; i++) {
        if (!strcmp(m.pairs[i].key, "cmd"))
            return; /* would be a duplicate of the one written above */
        if (m.pairs[i].quoted)
            proto_str(&l, m.pairs[i].key, m.pairs[i].val);
        else
            proto_tok(&l, m.pairs[i].key, m.pairs[i].val);
    }
    if (proto_end(&l) < 0)
        return; /* longer once requoted: not a round trip the format promises */
    check(proto_parse(l.buf, l.len, &again, err, sizeof(err)) == PROTO_OK);
    check(again.npairs == m.npairs + 1);
    for (uint32_t i = 0; i < m.npairs; i++) {
        check(!strcmp(again.pairs[i + 1].key, m.pairs[i].key));
        check(!strcmp(again.pairs[i + 1].val, m.pairs[i].val));
    }
}

/* ---- records ---- */

static struct proto_msg lines[8];
static unsigned nlines;

static void collect(void *ctx, const char *line, size_t len)
{
    (void)ctx;
    char err[PROTO_ERR_MAX];
    check(nlines < 8);
    check(len <= PROTO_LINE_MAX && line[len - 1] == '\n');
    check(proto_parse(line, len, &lines[nlines++], err, sizeof(err)) == PROTO_OK);
}

static uint64_t take(const uint8_t **p, size_t *n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < 8 && *n; i++, (*p)++, (*n)--)
        v = v << 8 | **p;
    return v;
}

static uint64_t field(const struct proto_msg *m, const char *key)
{
    uint64_t v = 0;
    if (proto_find(m, key))
        check(proto_get_u64(m, key, &v));
    return v; /* left out = 0 */
}

static void record_round_trip(const uint8_t *data, size_t size)
{
    struct sched_acct a;
    memset(&a, 0, sizeof(a));
    a.running_ns = take(&data, &size);
    a.ready_ns = take(&data, &size);
    a.blocked_ns = take(&data, &size);
    a.costop_ns = take(&data, &size);
    a.runs = take(&data, &size) >> (take(&data, &size) & 63);
    a.wakeups = take(&data, &size) & 0xffffff;
    a.charged_ns = take(&data, &size);
    a.deadline_misses = take(&data, &size) & 0xffff;
    uint64_t exits[PROTO_EXITS];
    for (unsigned i = 0; i < PROTO_EXITS; i++)
        exits[i] = take(&data, &size) >> 20;
    static struct hist wake;
    hist_clear(&wake);
    while (size >= 2) {
        uint64_t v = take(&data, &size) >> (data[-1] & 63);
        hist_record(&wake, v);
    }
    nlines = 0;
    struct proto_writer w = { .seq = 1, .out = collect };
    struct proto_round r;
    proto_round_begin(&w, &r, 3);
    struct proto_vcpu_rec rec = { .vm = "vm0", .vcpu = 2, .pcpu = 1, .state = "run",
                                  .acct = &a, .wake = &wake, .exits = exits };
    proto_put_vcpu(&w, &r, &rec);
    check(w.bad == 0 && nlines >= 1);
    const struct proto_msg *m = &lines[0];
    check(field(m, "run") == a.running_ns && field(m, "rdy") == a.ready_ns);
    check(field(m, "blk") == a.blocked_ns && field(m, "cs") == a.costop_ns);
    check(field(m, "runs") == a.runs && field(m, "wak") == a.wakeups);
    check(field(m, "chg") == a.charged_ns);
    check(field(m, "dm") == a.deadline_misses);
    /* The histogram: the record's buckets plus its continuations add up to every sample. */
    static uint64_t got[HIST_BUCKETS];
    memset(got, 0, sizeof(got));
    for (unsigned i = 0; i < nlines; i++)
        if (proto_find(&lines[i], "wh"))
            check(proto_get_hist(&lines[i], "wh", got, HIST_BUCKETS));
    for (unsigned b = 0; b < HIST_BUCKETS; b++)
        check(got[b] == wake.bucket[b]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    command_round_trip((const char *)data, size);
    line_round_trip((const char *)data, size);
    record_round_trip(data, size);
    return 0;
}
