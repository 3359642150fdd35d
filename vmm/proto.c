/* Console protocol v2: record formatter, accounting records, line parser, command parser.  See
 * proto.h and docs/protocol.md. */
#include "vmm/proto.h"

#include <string.h>

#include "sched/sched.h"   /* enum sched_state */

/* ---- character classes ---- */

static bool is_key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* Token characters: printable ASCII except space, '"' and '\'. */
static bool is_tok_char(char c)
{
    return c > ' ' && c <= '~' && c != '"' && c != '\\';
}

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

static bool valid_key(const char *key)
{
    size_t n = key ? strlen(key) : 0;
    if (n == 0 || n >= PROTO_KEY_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_key_char(key[i]))
            return false;
    return true;
}

/* Decimal digits of V into BUF (at least 20 bytes), returns their count. */
static size_t u64_digits(uint64_t v, char *buf)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    return n;
}

/* Decimal digits S..END (at least one) that fit 64 bits. */
static bool dec_span(const char *s, const char *end, uint64_t *v)
{
    uint64_t x = 0;
    if (s == end)
        return false;
    for (; s < end; s++) {
        if (*s < '0' || *s > '9')
            return false;
        uint64_t d = (uint64_t)(*s - '0');
        if (x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
    }
    *v = x;
    return true;
}

/* ---- formatter ---- */

/* Text may use buf[0 .. PROTO_LINE_MAX - 2]: the last byte of a line is its '\n'. */
#define TEXT_MAX (PROTO_LINE_MAX - 1)

size_t proto_room(const struct proto_line *l)
{
    return l->len < TEXT_MAX ? TEXT_MAX - l->len : 0;
}

/* Appends " key=" plus VLEN bytes of value produced by the caller; returns where the value
 * goes, or NULL (line unchanged, marked) when the pair does not fit or the key is bad. */
static char *pair_start(struct proto_line *l, const char *key, size_t vlen)
{
    if (l->overflow || l->bad)
        return NULL;
    if (!valid_key(key)) {
        l->bad = true;
        return NULL;
    }
    size_t klen = strlen(key);
    if (1 + klen + 1 + vlen > proto_room(l)) {
        l->overflow = true;
        return NULL;
    }
    char *p = l->buf + l->len;
    *p++ = ' ';
    memcpy(p, key, klen);
    p += klen;
    *p++ = '=';
    l->len += (uint32_t)(klen + 2 + vlen);
    return p;
}

static void put_raw(struct proto_line *l, const char *key, const char *val, size_t vlen)
{
    char *p = pair_start(l, key, vlen);
    if (p)
        memcpy(p, val, vlen);
}

void proto_u64(struct proto_line *l, const char *key, uint64_t v)
{
    char d[20];
    put_raw(l, key, d, u64_digits(v, d));
}

void proto_i64(struct proto_line *l, const char *key, int64_t v)
{
    char d[21];
    size_t n = 0;
    uint64_t mag = (uint64_t)v;
    if (v < 0) {
        d[n++] = '-';
        mag = 0 - mag;   /* also right for INT64_MIN */
    }
    n += u64_digits(mag, d + n);
    put_raw(l, key, d, n);
}

void proto_tok(struct proto_line *l, const char *key, const char *token)
{
    size_t n = token ? strlen(token) : 0;
    bool ok = n > 0;
    for (size_t i = 0; ok && i < n; i++)
        ok = is_tok_char(token[i]);
    if (!ok) {
        l->bad = true;
        return;
    }
    put_raw(l, key, token, n);
}

void proto_str(struct proto_line *l, const char *key, const char *text)
{
    if (!text)
        text = "";
    size_t n = 2;
    for (const char *s = text; *s; s++)
        n += (*s == '"' || *s == '\\') ? 2 : 1;
    char *p = pair_start(l, key, n);
    if (!p)
        return;
    *p++ = '"';
    for (const char *s = text; *s; s++) {
        char c = *s;
        if (c == '"' || c == '\\')
            *p++ = '\\';
        *p++ = (c >= ' ' && c <= '~') ? c : '?';
    }
    *p = '"';
}

static void begin(struct proto_line *l)
{
    l->len = sizeof(PROTO_TAG) - 1;
    l->overflow = false;
    l->bad = false;
    memcpy(l->buf, PROTO_TAG, l->len);
}

void proto_begin(struct proto_line *l, uint64_t seq, const char *type)
{
    begin(l);
    proto_u64(l, "seq", seq);
    proto_tok(l, "type", type);
}

void proto_begin_cmd(struct proto_line *l, const char *cmd)
{
    begin(l);
    proto_tok(l, "cmd", cmd);
}

int proto_end(struct proto_line *l)
{
    if (l->overflow || l->bad || l->len > TEXT_MAX) {
        l->buf[0] = '\0';
        return -1;
    }
    l->buf[l->len++] = '\n';
    l->buf[l->len] = '\0';
    return (int)l->len;
}

/* ---- histograms ---- */

/* One item "I:N" (JUMP) or "N" into BUF (at least 32 bytes); returns its length. */
static size_t hist_item(char *buf, unsigned idx, uint32_t count, bool jump)
{
    size_t n = 0;
    if (jump) {
        n = u64_digits(idx, buf);
        buf[n++] = ':';
    }
    return n + u64_digits(count, buf + n);
}

bool proto_hist(struct proto_line *l, const char *key, const uint32_t *bucket, unsigned nbuckets,
                unsigned *from)
{
    char val[PROTO_LINE_MAX];
    size_t vlen = 0, klen = key ? strlen(key) : 0;
    size_t room = proto_room(l) > klen + 2 ? proto_room(l) - klen - 2 : 0;
    unsigned b = *from, prev = 0;
    bool any = false;
    for (; b < nbuckets; b++) {
        if (!bucket[b])
            continue;
        char item[40];
        size_t n = 0;
        if (any)
            item[n++] = ',';
        if (any && b == prev + 2) {   /* one empty bucket: "0," is never longer than "I:" */
            item[n++] = '0';
            item[n++] = ',';
            n += hist_item(item + n, b, bucket[b], false);
        } else {
            n += hist_item(item + n, b, bucket[b], !(any && b == prev + 1));
        }
        if (vlen + n > room)
            break;
        memcpy(val + vlen, item, n);
        vlen += n;
        prev = b;
        any = true;
    }
    if (any) {
        put_raw(l, key, val, vlen);
        *from = prev + 1;
    }
    while (b < nbuckets && !bucket[b])
        b++;
    if (b == nbuckets)
        *from = nbuckets;
    return b == nbuckets;
}

/* ---- accounting records ---- */

const char *const proto_exit_names[PROTO_EXITS] = {
    [PROTO_EXIT_HLT] = "hlt", [PROTO_EXIT_MSR] = "msr", [PROTO_EXIT_IO] = "io",
    [PROTO_EXIT_CPUID] = "cpuid", [PROTO_EXIT_HC] = "hc", [PROTO_EXIT_TIMER] = "tmr",
    [PROTO_EXIT_EXTINT] = "ext", [PROTO_EXIT_WINDOW] = "win", [PROTO_EXIT_OTHER] = "oth",
};

const char *proto_vcpu_state(unsigned sched_state)
{
    static const char *const names[] = {
        [SCHED_BLOCKED] = "blk", [SCHED_READY] = "rdy", [SCHED_RUNNING] = "run",
        [SCHED_COSTOP] = "cs",
    };
    return sched_state < sizeof(names) / sizeof(names[0]) ? names[sched_state] : "?";
}

void proto_emit(struct proto_writer *w, struct proto_line *l)
{
    if (proto_end(l) < 0) {
        /* A bug, not an input: every record is sized to fit.  Say so in the protocol. */
        w->bad++;
        proto_begin(l, w->seq, "error");
        proto_str(l, "msg", "record too long for one line (VMM bug)");
        proto_end(l);
    }
    w->out(w->ctx, l->buf, l->len);
    w->seq++;
}

void proto_put_hello(struct proto_writer *w, const struct proto_hello_rec *h)
{
    struct proto_line l;
    proto_begin(&l, w->seq, "hello");
    proto_u64(&l, "proto", PROTO_VERSION);
    proto_tok(&l, "version", h->version);
    proto_tok(&l, "backend", h->backend);
    proto_u64(&l, "pcpus", h->pcpus);
    proto_u64(&l, "vms", h->vms);
    proto_tok(&l, "policy", h->policy);
    if (h->tsc_khz)
        proto_u64(&l, "tsc_khz", h->tsc_khz);
    proto_u64(&l, "report_ms", h->report_ms);
    proto_u64(&l, "hist_sub_bits", HIST_SUB_BITS);
    proto_u64(&l, "hist_max_log2", HIST_MAX_LOG2);
    proto_emit(w, &l);
}

/* A counter or time: left out when 0. */
static void put_nz(struct proto_line *l, const char *key, uint64_t v)
{
    if (v)
        proto_u64(l, key, v);
}

/* ---- trace records ---- */

static size_t i64_digits(int64_t v, char *buf)
{
    if (v >= 0)
        return u64_digits((uint64_t)v, buf);
    buf[0] = '-';
    return 1 + u64_digits(0 - (uint64_t)v, buf + 1);
}

static size_t trace_item(char *buf, const struct sched_trace_event *e, int64_t dt)
{
    const char *name = sched_trace_type_name(e->type);
    size_t n = strlen(name ? name : "?");
    memcpy(buf, name ? name : "?", n);
    buf[n++] = ':';
    if (e->vm == SCHED_TRACE_NO_VM) {
        memcpy(buf + n, "-:-", 3);
        n += 3;
    } else {
        n += u64_digits(e->vm, buf + n);
        buf[n++] = ':';
        n += u64_digits(e->vcpu, buf + n);
    }
    buf[n++] = ':';
    n += u64_digits(e->arg, buf + n);
    buf[n++] = ':';
    n += i64_digits(dt, buf + n);
    return n;
}

void proto_put_trace(struct proto_writer *w, uint32_t pcpu, const struct sched_trace_event *ev,
                     unsigned n, uint64_t lost)
{
    unsigned i = 0;
    do {
        struct proto_line l;
        proto_begin(&l, w->seq, "trace");
        proto_u64(&l, "p", pcpu);
        proto_u64(&l, "t0", i < n ? ev[i].t_ns : 0);
        put_nz(&l, "lost", lost);
        lost = 0;
        char tok[PROTO_LINE_MAX];
        size_t len = 0, room = proto_room(&l);
        room = room > 4 ? room - 4 : 0; /* " ev=" */
        uint64_t prev = i < n ? ev[i].t_ns : 0;
        /* An item is at most 6 + 2 * 10 + 20 + 21 + 4 separators: 80 bytes. */
        while (i < n) {
            char item[96];
            size_t k = trace_item(item, &ev[i], (int64_t)(ev[i].t_ns - prev));
            if (len + (len ? 1 : 0) + k > room)
                break;
            if (len)
                tok[len++] = ',';
            memcpy(tok + len, item, k);
            len += k;
            prev = ev[i].t_ns;
            i++;
        }
        if (len) {
            tok[len] = '\0';
            proto_tok(&l, "ev", tok);
        }
        proto_emit(w, &l);
    } while (i < n);
}

/* A decimal field of an item, up to the next ':' or the end; "-" gives NONE. */
static const char *item_u64(const char *s, const char *end, uint64_t *v, bool *none)
{
    const char *q = s;
    while (q < end && *q != ':')
        q++;
    if (none)
        *none = q - s == 1 && *s == '-';
    if (none && *none) {
        *v = 0;
        return q;
    }
    return dec_span(s, q, v) ? q : NULL;
}

int proto_get_trace(const struct proto_msg *m, struct sched_trace_event *out, unsigned max,
                    uint64_t *lost)
{
    uint64_t p, t0, l = 0;
    const char *type, *evs;
    if (!proto_get_tok(m, "type", &type) || strcmp(type, "trace") != 0 ||
        !proto_get_u64(m, "p", &p) || p >= SCHED_MAX_PCPUS || !proto_get_u64(m, "t0", &t0) ||
        (proto_find(m, "lost") && !proto_get_u64(m, "lost", &l)))
        return -1;
    *lost = l;
    if (!proto_find(m, "ev"))
        return 0;
    if (!proto_get_tok(m, "ev", &evs))
        return -1;
    unsigned n = 0;
    uint64_t t = t0;
    const char *s = evs;
    while (*s) {
        const char *end = s;
        while (*end && *end != ',')
            end++;
        const char *colon = s;
        while (colon < end && *colon != ':')
            colon++;
        char name[16];
        if (colon == end || (size_t)(colon - s) >= sizeof(name) || n == max)
            return -1;
        memcpy(name, s, (size_t)(colon - s));
        name[colon - s] = '\0';
        int type_no = sched_trace_type_of(name);
        uint64_t vm, vcpu, arg, dt;
        bool vm_none, vcpu_none, neg;
        const char *q = item_u64(colon + 1, end, &vm, &vm_none);
        if (!q || q == end || (vm_none && vm))
            return -1;
        q = item_u64(q + 1, end, &vcpu, &vcpu_none);
        if (!q || q == end || vm_none != vcpu_none)
            return -1;
        q = item_u64(q + 1, end, &arg, NULL);
        if (!q || q == end)
            return -1;
        neg = q[1] == '-';
        q = item_u64(q + 1 + neg, end, &dt, NULL);
        if (type_no < 0 || !q || q != end || (vm_none ? false : vm >= SCHED_TRACE_NO_VM) ||
            vcpu > UINT32_MAX)
            return -1;
        t = neg ? t - dt : t + dt;
        out[n++] = (struct sched_trace_event){ .t_ns = t, .pcpu = (uint32_t)p,
                                               .vm = vm_none ? SCHED_TRACE_NO_VM : (uint32_t)vm,
                                               .vcpu = (uint32_t)vcpu, .type = (uint32_t)type_no,
                                               .arg = arg };
        s = *end ? end + 1 : end;
        if (*end && !*s)
            return -1; /* a trailing comma */
    }
    return (int)n;
}

static void member_begin(struct proto_line *l, const struct proto_writer *w,
                         const struct proto_round *r, const char *type)
{
    proto_begin(l, w->seq, type);
    proto_u64(l, "r", r->round);
}

/* Who a record is about, repeated in its "hist" continuations. */
struct who {
    const char *of;   /* vm, vcpu, pcpu */
    const char *vm;
    uint32_t vcpu, pcpu;
};

static void put_who(struct proto_line *l, const struct who *who)
{
    if (who->vm)
        proto_tok(l, "vm", who->vm);
    if (!strcmp(who->of, "vcpu"))
        proto_u64(l, "v", who->vcpu);
    if (!strcmp(who->of, "pcpu"))
        proto_u64(l, "p", who->pcpu);
}

/* KEY's buckets into L, the record begun by the caller; what does not fit goes on in "hist"
 * records.  Emits L and the continuations. */
static void put_hist_emit(struct proto_writer *w, const struct proto_round *r,
                          struct proto_line *l, const char *key, const struct hist *h,
                          const struct who *who)
{
    unsigned from = 0;
    bool done = !h || proto_hist(l, key, h->bucket, HIST_BUCKETS, &from);
    proto_emit(w, l);
    while (!done) {
        unsigned before = from;
        member_begin(l, w, r, "hist");
        proto_tok(l, "of", who->of);
        put_who(l, who);
        done = proto_hist(l, key, h->bucket, HIST_BUCKETS, &from);
        if (from == before)   /* not even one item fits: cannot happen with 512-byte lines */
            l->overflow = true, done = true;
        proto_emit(w, l);
    }
}

void proto_round_begin(struct proto_writer *w, struct proto_round *r, uint64_t round)
{
    r->round = round;
    r->first_seq = w->seq;
}

void proto_put_vm(struct proto_writer *w, const struct proto_round *r,
                  const struct proto_vm_rec *v)
{
    struct proto_line l;
    struct who who = { "vm", v->vm, 0, 0 };
    member_begin(&l, w, r, "vm");
    proto_tok(&l, "vm", v->vm);
    proto_u64(&l, "id", v->id);
    proto_u64(&l, "vcpus", v->vcpus);
    proto_u64(&l, "weight", v->weight);
    put_nz(&l, "cap", v->cap);
    if (strcmp(v->gang, "none") != 0)
        proto_tok(&l, "gang", v->gang);
    proto_tok(&l, "state", v->state);
    if (v->pool)
        proto_tok(&l, "pool", v->pool);
    if (v->skew)
        put_nz(&l, "gmax", v->skew->max);
    put_hist_emit(w, r, &l, "gh", v->skew, &who);
}

void proto_put_vcpu(struct proto_writer *w, const struct proto_round *r,
                    const struct proto_vcpu_rec *v)
{
    struct proto_line l;
    struct who who = { "vcpu", v->vm, v->vcpu, 0 };
    const struct sched_acct *a = v->acct;
    member_begin(&l, w, r, "vcpu");
    put_who(&l, &who);
    proto_u64(&l, "p", v->pcpu);
    proto_tok(&l, "st", v->state);
    put_nz(&l, "run", a->running_ns);
    put_nz(&l, "rdy", a->ready_ns);
    put_nz(&l, "blk", a->blocked_ns);
    put_nz(&l, "cs", a->costop_ns);
    put_nz(&l, "runs", a->runs);
    put_nz(&l, "pre", a->preemptions);
    put_nz(&l, "mig", a->migrations);
    put_nz(&l, "wak", a->wakeups);
    put_nz(&l, "chg", a->charged_ns);
    put_nz(&l, "dm", a->deadline_misses);
    if (v->exits) {
        /* ex=hlt:N,msr:N,...: the reasons seen, in proto_exit_names order. */
        char val[PROTO_EXITS * 28];
        size_t n = 0;
        for (unsigned x = 0; x < PROTO_EXITS; x++) {
            if (!v->exits[x])
                continue;
            if (n)
                val[n++] = ',';
            size_t k = strlen(proto_exit_names[x]);
            memcpy(val + n, proto_exit_names[x], k);
            n += k;
            val[n++] = ':';
            n += u64_digits(v->exits[x], val + n);
        }
        if (n)
            put_raw(&l, "ex", val, n);
    }
    put_nz(&l, "irq", v->irqs);
    put_nz(&l, "tirq", v->timer_irqs);
    if (v->wake)
        put_nz(&l, "wmax", v->wake->max);
    put_hist_emit(w, r, &l, "wh", v->wake, &who);
}

void proto_put_pcpu(struct proto_writer *w, const struct proto_round *r,
                    const struct proto_pcpu_rec *p)
{
    struct proto_line l;
    struct who who = { "pcpu", NULL, 0, p->pcpu };
    member_begin(&l, w, r, "pcpu");
    put_who(&l, &who);
    if (p->pool) {
        proto_tok(&l, "pool", p->pool);
        proto_tok(&l, "policy", p->policy);
    }
    put_nz(&l, "idle", p->idle_ns);
    put_nz(&l, "ks", p->kicks_sent);
    put_nz(&l, "kr", p->kicks_recv);
    put_nz(&l, "nt", p->notifies_sent);
    if (p->kick)
        put_nz(&l, "kmax", p->kick->max);
    put_hist_emit(w, r, &l, "kh", p->kick, &who);
}

void proto_round_end(struct proto_writer *w, const struct proto_round *r,
                     const struct proto_round_rec *rr)
{
    struct proto_line l;
    proto_begin(&l, w->seq, "round");
    proto_u64(&l, "r", r->round);
    proto_u64(&l, "t_ns", rr->t_ns);
    proto_u64(&l, "life_ns", rr->lifetime_ns);
    proto_tok(&l, "policy", rr->policy);
    proto_u64(&l, "final", rr->final);
    proto_u64(&l, "records", w->seq - r->first_seq + 1);
    proto_emit(w, &l);
}

/* ---- error text: a bounded "%s" concatenation, no printf needed ---- */

struct errbuf {
    char *p;
    size_t size, at;
};

static void err_put(struct errbuf *e, const char *s, size_t n)
{
    for (size_t i = 0; i < n && e->at + 1 < e->size; i++)
        e->p[e->at++] = s[i];
    if (e->size)
        e->p[e->at] = '\0';
}

static void err_s(struct errbuf *e, const char *s)
{
    err_put(e, s, strlen(s));
}

/* Quoted excerpt of user text: at most 24 bytes, unprintable ones as '?'. */
static void err_excerpt(struct errbuf *e, const char *s, size_t n)
{
    size_t shown = n > 24 ? 24 : n;
    err_s(e, "'");
    for (size_t i = 0; i < shown; i++) {
        char c = (s[i] >= ' ' && s[i] <= '~') ? s[i] : '?';
        err_put(e, &c, 1);
    }
    err_s(e, n > shown ? "...'" : "'");
}

static void err_u64(struct errbuf *e, uint64_t v)
{
    char d[20];
    err_put(e, d, u64_digits(v, d));
}

static int fail3(char *err, size_t errlen, const char *a, const char *x, size_t xn,
                 const char *c)
{
    struct errbuf e = { err, errlen, 0 };
    if (errlen)
        err[0] = '\0';
    err_s(&e, a);
    if (x)
        err_excerpt(&e, x, xn);
    err_s(&e, c);
    return PROTO_ERROR;
}

static int fail(char *err, size_t errlen, const char *msg)
{
    return fail3(err, errlen, msg, NULL, 0, "");
}

/* ---- parser ---- */

int proto_parse(const char *line, size_t len, struct proto_msg *out, char *err, size_t errlen)
{
    const size_t tagn = sizeof(PROTO_TAG_PREFIX) - 1;
    out->npairs = 0;
    if (len < tagn || memcmp(line, PROTO_TAG_PREFIX, tagn) != 0)
        return PROTO_IGNORE;
    if (errlen)
        err[0] = '\0';

    /* The line end: "\n" or "\r\n", at most one, at the end. */
    if (len && line[len - 1] == '\n') {
        len--;
        if (len && line[len - 1] == '\r')
            len--;
    }
    if (len > TEXT_MAX)
        return fail(err, errlen, "line too long (more than 512 bytes)");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c < ' ' || c > '~') {
            static const char hex[] = "0123456789abcdef";
            char x[5] = { '0', 'x', hex[c >> 4], hex[c & 15], '\0' };
            struct errbuf e = { err, errlen, 0 };
            err_s(&e, "bad character ");
            err_s(&e, x);
            err_s(&e, " at column ");
            err_u64(&e, i + 1);
            return PROTO_ERROR;
        }
    }

    /* The tag: PROTO_TAG followed by a space or the end. */
    size_t t = 0;
    while (t < len && line[t] != ' ')
        t++;
    if (t != sizeof(PROTO_TAG) - 1 || memcmp(line, PROTO_TAG, t) != 0)
        return fail3(err, errlen, "unsupported protocol tag ", line, t,
                     " (this is " PROTO_TAG ")");

    memcpy(out->text, line, len);
    out->text[len] = '\0';
    char *s = out->text;
    size_t i = t;
    for (;;) {
        while (i < len && s[i] == ' ')
            i++;
        if (i >= len)
            break;
        /* key */
        size_t k0 = i;
        while (i < len && is_key_char(s[i]))
            i++;
        if (i == len || s[i] != '=') {
            size_t e = k0, eq = len;
            while (e < len && s[e] != ' ') {
                if (s[e] == '=' && eq == len)
                    eq = e;
                e++;
            }
            if (eq == len)
                return fail3(err, errlen, "expected key=value at ", s + k0, e - k0, "");
            return fail3(err, errlen, "bad key ", s + k0, eq - k0, " (a-z 0-9 _)");
        }
        if (i == k0)
            return fail(err, errlen, "empty key before '='");
        size_t kn = i - k0;
        if (kn >= PROTO_KEY_MAX)
            return fail3(err, errlen, "key too long: ", s + k0, kn, "");
        s[i++] = '\0';   /* the '=' */
        const char *key = s + k0;
        for (uint32_t p = 0; p < out->npairs; p++)
            if (strcmp(out->pairs[p].key, key) == 0)
                return fail3(err, errlen, "key ", key, kn, " given twice");
        if (out->npairs == PROTO_MAX_PAIRS)
            return fail(err, errlen, "too many keys (more than 48)");

        struct proto_pair *pp = &out->pairs[out->npairs];
        pp->key = key;
        if (i < len && s[i] == '"') {
            /* Quoted string, unescaped in place: the write position never passes the read. */
            char *w = s + i;
            pp->val = w;
            pp->quoted = true;
            i++;
            for (;;) {
                if (i >= len)
                    return fail3(err, errlen, "unterminated string in ", key, kn, "");
                char c = s[i++];
                if (c == '"')
                    break;
                if (c == '\\') {
                    if (i >= len || (s[i] != '"' && s[i] != '\\'))
                        return fail3(err, errlen, "bad escape in ", key, kn,
                                     " (only \\\" and \\\\)");
                    c = s[i++];
                }
                *w++ = c;
            }
            *w = '\0';
            if (i < len && s[i] != ' ')
                return fail3(err, errlen, "no space after the string of ", key, kn, "");
        } else {
            size_t v0 = i;
            while (i < len && s[i] != ' ') {
                if (!is_tok_char(s[i]))
                    return fail3(err, errlen, "bad character in the value of ", key, kn, "");
                i++;
            }
            if (i == v0)
                return fail3(err, errlen, "key ", key, kn, " has no value");
            s[i] = '\0';   /* a space, or the end of the copy (text[len]) */
            pp->val = s + v0;
            pp->quoted = false;
        }
        i++;
        out->npairs++;
    }
    return PROTO_OK;
}

void proto_msg_copy(struct proto_msg *dst, const struct proto_msg *src)
{
    memcpy(dst->text, src->text, sizeof(dst->text));
    dst->npairs = src->npairs;
    for (uint32_t i = 0; i < src->npairs; i++) {
        dst->pairs[i].key = dst->text + (src->pairs[i].key - src->text);
        dst->pairs[i].val = dst->text + (src->pairs[i].val - src->text);
        dst->pairs[i].quoted = src->pairs[i].quoted;
    }
}

const struct proto_pair *proto_find(const struct proto_msg *m, const char *key)
{
    for (uint32_t i = 0; i < m->npairs; i++)
        if (strcmp(m->pairs[i].key, key) == 0)
            return &m->pairs[i];
    return NULL;
}

static bool dec_u64(const char *s, uint64_t *v)
{
    return dec_span(s, s + strlen(s), v);
}

bool proto_get_u64(const struct proto_msg *m, const char *key, uint64_t *v)
{
    const struct proto_pair *p = proto_find(m, key);
    return p && !p->quoted && dec_u64(p->val, v);
}

bool proto_get_i64(const struct proto_msg *m, const char *key, int64_t *v)
{
    const struct proto_pair *p = proto_find(m, key);
    uint64_t mag;
    if (!p || p->quoted)
        return false;
    bool neg = p->val[0] == '-';
    if (!dec_u64(p->val + neg, &mag))
        return false;
    if (neg ? mag > (uint64_t)INT64_MAX + 1 : mag > (uint64_t)INT64_MAX)
        return false;
    *v = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    return true;
}

bool proto_get_tok(const struct proto_msg *m, const char *key, const char **tok)
{
    const struct proto_pair *p = proto_find(m, key);
    if (!p || p->quoted)
        return false;
    *tok = p->val;
    return true;
}

bool proto_get_str(const struct proto_msg *m, const char *key, const char **text)
{
    const struct proto_pair *p = proto_find(m, key);
    if (!p)
        return false;
    *text = p->val;
    return true;
}

bool proto_get_hist(const struct proto_msg *m, const char *key, uint64_t *bucket,
                    unsigned nbuckets)
{
    const struct proto_pair *p = proto_find(m, key);
    if (!p || p->quoted)
        return false;
    /* Two passes: check everything first, so that a bad value adds nothing. */
    for (int pass = 0; pass < 2; pass++) {
        const char *s = p->val;
        uint64_t next = 0;
        bool first = true;
        for (;;) {
            uint64_t a = 0, b;
            const char *e = s;
            bool jump = false;
            while (*e >= '0' && *e <= '9')
                a = a > UINT64_MAX / 10 - 1 ? UINT64_MAX : a * 10 + (uint64_t)(*e++ - '0');
            if (e == s)
                return false;
            if (*e == ':') {
                jump = true;
                s = ++e;
                b = 0;
                while (*e >= '0' && *e <= '9')
                    b = b > UINT64_MAX / 10 - 1 ? UINT64_MAX : b * 10 + (uint64_t)(*e++ - '0');
                if (e == s)
                    return false;
            } else {
                b = a;
                a = next;
            }
            if ((first && !jump) || a >= nbuckets || (!first && jump && a < next))
                return false;
            if (pass)
                bucket[a] += b;
            next = a + 1;
            first = false;
            if (*e == '\0')
                break;
            if (*e != ',')
                return false;
            s = e + 1;
        }
    }
    return true;
}

/* ---- commands ---- */

static const char *const cmd_names[] = { "?", "dump", "set", "policy", "gang", "report", "trace",
                                          "reserve", "meta", "pool", "input" };
static const char *const gang_modes[] = { "none", "strict", "relaxed" };

const char *proto_cmd_name(enum proto_cmd_kind k)
{
    return (unsigned)k < sizeof(cmd_names) / sizeof(cmd_names[0]) ? cmd_names[k] : "?";
}

/* Keys each command takes besides cmd and id. */
static const char *const dump_keys[] = { NULL };
static const char *const set_keys[] = { "vm", "weight", "cap", NULL };
static const char *const policy_keys[] = { "name", "pool", NULL };
static const char *const gang_keys[] = { "vm", "mode", NULL };
static const char *const report_keys[] = { "period_ms", NULL };
static const char *const trace_keys[] = { "on", NULL };
static const char *const reserve_keys[] = { "vm", "budget_us", "period_us", "extratime", NULL };
static const char *const meta_keys[] = { "tb_us", NULL };
static const char *const pool_keys[] = { "vm", "pcpu", "to", NULL };
static const char *const input_keys[] = { "vm", "text", "hex", "nl", NULL };
static const char *const *const cmd_keys[] = { dump_keys, dump_keys, set_keys, policy_keys,
                                               gang_keys, report_keys, trace_keys, reserve_keys,
                                               meta_keys, pool_keys, input_keys };
_Static_assert(sizeof(cmd_names) / sizeof(cmd_names[0]) == PROTO_CMD_LAST + 1, "every command named");
_Static_assert(sizeof(cmd_keys) / sizeof(cmd_keys[0]) == PROTO_CMD_LAST + 1, "every command's keys");

static bool allowed(const char *const *keys, const char *key)
{
    for (; *keys; keys++)
        if (strcmp(*keys, key) == 0)
            return true;
    return false;
}

/* A number in MIN..MAX; the error names the key and the range. */
static int get_num(const struct proto_msg *m, const char *key, uint64_t min, uint64_t max,
                   uint64_t *v, char *err, size_t errlen)
{
    struct errbuf e = { err, errlen, 0 };
    if (!proto_get_u64(m, key, v)) {
        err_s(&e, "value of '");
        err_s(&e, key);
        err_s(&e, "' is not a decimal number");
        return PROTO_ERROR;
    }
    if (*v < min || *v > max) {
        err_s(&e, "value of '");
        err_s(&e, key);
        err_s(&e, "' is out of range (");
        err_u64(&e, min);
        err_s(&e, "..");
        err_u64(&e, max);
        err_s(&e, ")");
        return PROTO_ERROR;
    }
    return PROTO_OK;
}

/* A VM or policy name: 1..CFG_NAME_MAX-1 of [A-Za-z0-9_-], unquoted. */
static int get_name(const struct proto_msg *m, const char *key, const char *what, char *dst,
                    char *err, size_t errlen)
{
    const struct proto_pair *p = proto_find(m, key);
    size_t n = strlen(p->val);
    bool ok = !p->quoted && n > 0 && n < CFG_NAME_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = is_name_char(p->val[i]);
    if (!ok)
        return fail3(err, errlen, what, p->val, n, " (1 to 23 of A-Z a-z 0-9 _ -)");
    memcpy(dst, p->val, n + 1);
    return PROTO_OK;
}

static int need(const struct proto_msg *m, const char *key, char *err, size_t errlen)
{
    if (proto_find(m, key))
        return PROTO_OK;
    struct errbuf e = { err, errlen, 0 };
    err_s(&e, "missing key '");
    err_s(&e, key);
    err_s(&e, "'");
    return PROTO_ERROR;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int input_too_long(char *err, size_t errlen)
{
    struct errbuf e = { err, errlen, 0 };
    err_s(&e, "input longer than ");
    err_u64(&e, PROTO_INPUT_MAX);
    err_s(&e, " bytes");
    return PROTO_ERROR;
}

/* input's bytes: text= (a string or token, as written) or hex= (pairs of hex digits, any
 * byte), then a line feed with nl=1. */
static int get_input(const struct proto_msg *m, struct proto_cmd *r, char *err, size_t errlen)
{
    const struct proto_pair *text = proto_find(m, "text"), *hex = proto_find(m, "hex");
    uint64_t nl = 0;
    if (!text == !hex)
        return fail(err, errlen, "input needs text= or hex= (one of them)");
    if (proto_find(m, "nl") && get_num(m, "nl", 0, 1, &nl, err, errlen))
        return PROTO_ERROR;
    uint32_t n = 0;
    if (text) {
        size_t tn = strlen(text->val);
        if (tn > PROTO_INPUT_MAX)
            return input_too_long(err, errlen);
        memcpy(r->input, text->val, tn);
        n = (uint32_t)tn;
    } else {
        size_t hn = strlen(hex->val);
        if (hex->quoted || hn % 2)
            return fail(err, errlen, "value of 'hex' is not pairs of hex digits");
        if (hn / 2 > PROTO_INPUT_MAX)
            return input_too_long(err, errlen);
        for (size_t i = 0; i < hn; i += 2) {
            int hi = hex_digit(hex->val[i]), lo = hex_digit(hex->val[i + 1]);
            if (hi < 0 || lo < 0)
                return fail(err, errlen, "value of 'hex' is not pairs of hex digits");
            r->input[n++] = (uint8_t)(hi << 4 | lo);
        }
    }
    if (nl) {
        if (n == PROTO_INPUT_MAX)
            return input_too_long(err, errlen);
        r->input[n++] = '\n';
    }
    if (!n)
        return fail(err, errlen, "input is empty (no text, no nl=1)");
    r->input_len = n;
    return PROTO_OK;
}

int proto_parse_cmd(const char *line, size_t len, struct proto_cmd *out, char *err,
                    size_t errlen)
{
    /* About 1.7 KiB of stack: the line's copy and its pairs. */
    struct proto_msg m;
    uint64_t v;

    memset(out, 0, sizeof(*out));
    out->kind = PROTO_CMD_NONE;
    out->cmd[0] = '?';
    int rc = proto_parse(line, len, &m, err, errlen);
    if (rc != PROTO_OK)
        return rc;

    /* The echo first, so that an error reply can carry it. */
    const struct proto_pair *c = proto_find(&m, "cmd");
    if (c && !c->quoted && strlen(c->val) < PROTO_CMD_NAME_MAX) {
        bool ok = true;
        for (const char *s = c->val; ok && *s; s++)
            ok = is_key_char(*s);
        if (ok)
            memcpy(out->cmd, c->val, strlen(c->val) + 1);
    }
    if (proto_get_u64(&m, "id", &v)) {
        out->has_id = true;
        out->id = v;
    } else if (proto_find(&m, "id")) {
        return fail(err, errlen, "value of 'id' is not a decimal number");
    }
    if (!c)
        return fail(err, errlen, "missing key 'cmd'");
    if (m.npairs == 0 || strcmp(m.pairs[0].key, "cmd") != 0)
        return fail(err, errlen, "'cmd' must be the first key");

    enum proto_cmd_kind kind = PROTO_CMD_NONE;
    for (unsigned k = PROTO_CMD_DUMP; k <= PROTO_CMD_LAST; k++)
        if (!c->quoted && strcmp(c->val, cmd_names[k]) == 0)
            kind = (enum proto_cmd_kind)k;
    if (kind == PROTO_CMD_NONE)
        return fail3(err, errlen, "unknown command ", c->val, strlen(c->val),
                     " (dump, set, policy, gang, report, trace, reserve, meta, pool, input)");

    for (uint32_t i = 0; i < m.npairs; i++) {
        const char *key = m.pairs[i].key;
        if (strcmp(key, "cmd") == 0 || strcmp(key, "id") == 0 || allowed(cmd_keys[kind], key))
            continue;
        struct errbuf e = { err, errlen, 0 };
        err_s(&e, "unknown key '");
        err_s(&e, key);
        err_s(&e, "' for cmd=");
        err_s(&e, cmd_names[kind]);
        return PROTO_ERROR;
    }

    /* Everything into a scratch copy: *out gets the arguments only when all are good. */
    struct proto_cmd r = *out;
    r.kind = kind;
    switch (kind) {
    case PROTO_CMD_NONE:
    case PROTO_CMD_DUMP:
        break;
    case PROTO_CMD_SET:
        if (need(&m, "vm", err, errlen) ||
            get_name(&m, "vm", "bad VM name ", r.vm, err, errlen))
            return PROTO_ERROR;
        r.has_vm = true;
        if (!proto_find(&m, "weight") && !proto_find(&m, "cap"))
            return fail(err, errlen, "set needs weight= or cap= (or both)");
        if (proto_find(&m, "weight")) {
            if (get_num(&m, "weight", 1, PROTO_WEIGHT_MAX, &v, err, errlen))
                return PROTO_ERROR;
            r.has_weight = true;
            r.weight = (uint32_t)v;
        }
        if (proto_find(&m, "cap")) {
            if (get_num(&m, "cap", 0, PROTO_CAP_MAX, &v, err, errlen))
                return PROTO_ERROR;
            r.has_cap = true;
            r.cap = (uint32_t)v;
        }
        break;
    case PROTO_CMD_POLICY:
        if (need(&m, "name", err, errlen) ||
            get_name(&m, "name", "bad policy name ", r.policy, err, errlen))
            return PROTO_ERROR;
        r.has_policy = true;
        if (proto_find(&m, "pool")) {
            if (get_name(&m, "pool", "bad pool name ", r.pool, err, errlen))
                return PROTO_ERROR;
            r.has_pool = true;
        }
        break;
    case PROTO_CMD_GANG: {
        if (need(&m, "vm", err, errlen) ||
            get_name(&m, "vm", "bad VM name ", r.vm, err, errlen))
            return PROTO_ERROR;
        r.has_vm = true;
        if (need(&m, "mode", err, errlen))
            return PROTO_ERROR;
        const struct proto_pair *p = proto_find(&m, "mode");
        int g = -1;
        for (int k = 0; k < 3; k++)
            if (!p->quoted && strcmp(p->val, gang_modes[k]) == 0)
                g = k;
        if (g < 0)
            return fail3(err, errlen, "bad gang mode ", p->val, strlen(p->val),
                         " (none, strict, relaxed)");
        r.has_gang = true;
        r.gang = (enum cfg_gang)g;
        break;
    }
    case PROTO_CMD_REPORT:
        if (need(&m, "period_ms", err, errlen) ||
            get_num(&m, "period_ms", 0, PROTO_PERIOD_MS_MAX, &v, err, errlen))
            return PROTO_ERROR;
        r.has_period = true;
        r.period_ms = (uint32_t)v;
        break;
    case PROTO_CMD_TRACE:
        if (proto_find(&m, "on")) {
            if (get_num(&m, "on", 0, 1, &v, err, errlen))
                return PROTO_ERROR;
            r.has_on = true;
            r.on = v != 0;
        }
        break;
    case PROTO_CMD_RESERVE:
        if (need(&m, "vm", err, errlen) ||
            get_name(&m, "vm", "bad VM name ", r.vm, err, errlen) ||
            need(&m, "budget_us", err, errlen) ||
            get_num(&m, "budget_us", 0, SCHED_RT_PERIOD_MAX_US, &v, err, errlen))
            return PROTO_ERROR;
        r.has_vm = true;
        r.rt_budget_us = (uint32_t)v;
        r.rt_period_us = 0;
        if (proto_find(&m, "period_us")) {
            if (get_num(&m, "period_us", SCHED_RT_PERIOD_MIN_US, SCHED_RT_PERIOD_MAX_US, &v, err,
                        errlen))
                return PROTO_ERROR;
            r.rt_period_us = (uint32_t)v;
        }
        if (r.rt_budget_us && !r.rt_period_us)
            return fail(err, errlen, "reserve with a budget needs period_us=");
        if (r.rt_budget_us > r.rt_period_us)
            return fail(err, errlen, "budget_us is above period_us");
        r.rt_extratime = true;
        if (proto_find(&m, "extratime")) {
            if (get_num(&m, "extratime", 0, 1, &v, err, errlen))
                return PROTO_ERROR;
            r.rt_extratime = v == 1;
        }
        r.has_reservation = true;
        break;
    case PROTO_CMD_META:
        if (need(&m, "tb_us", err, errlen) ||
            get_num(&m, "tb_us", 0, 10000000, &v, err, errlen))
            return PROTO_ERROR;
        r.has_tb = true;
        r.tb_us = (uint32_t)v;
        break;
    case PROTO_CMD_POOL:
        if (need(&m, "to", err, errlen) ||
            get_name(&m, "to", "bad pool name ", r.pool, err, errlen))
            return PROTO_ERROR;
        r.has_pool = true;
        if (!proto_find(&m, "vm") == !proto_find(&m, "pcpu"))
            return fail(err, errlen, "pool needs vm= or pcpu= (one of them)");
        if (proto_find(&m, "vm")) {
            if (get_name(&m, "vm", "bad VM name ", r.vm, err, errlen))
                return PROTO_ERROR;
            r.has_vm = true;
        } else {
            if (get_num(&m, "pcpu", 0, CFG_MAX_PCPUS - 1, &v, err, errlen))
                return PROTO_ERROR;
            r.has_pcpu = true;
            r.pcpu = (uint32_t)v;
        }
        break;
    case PROTO_CMD_INPUT:
        if (need(&m, "vm", err, errlen) ||
            get_name(&m, "vm", "bad VM name ", r.vm, err, errlen) ||
            get_input(&m, &r, err, errlen))
            return PROTO_ERROR;
        r.has_vm = true;
        break;
    }
    *out = r;
    return PROTO_OK;
}
