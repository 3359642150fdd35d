/* The log reader: protocol records (vmm/proto.c's parser) -> complete accounting rounds.
 * A round is complete when its round record arrived, the records count it announces equals
 * the records seen with its r= (itself included) and their seqs have no gap (docs/protocol.md).
 * Only complete rounds are kept. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tools/ctl/ctl.h"

static void problem(struct reader *rd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct reader *rd, const char *fmt, ...)
{
    rd->problems++;
    if (rd->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: %s:%u: ", prog, rd->name, rd->lineno);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void round_free(struct round *r)
{
    if (!r)
        return;
    free(r->vm);
    free(r->vcpu);
    free(r->pcpu);
    free(r);
}

void reader_init(struct reader *rd, const char *name, bool keep)
{
    memset(rd, 0, sizeof(*rd));
    rd->name = name;
    rd->keep = keep;
}

static void drop_pending(struct reader *rd)
{
    round_free(rd->pending);
    rd->pending = NULL;
    rd->pending_records = 0;
    rd->pending_bad = false;
}

void reader_free(struct reader *rd)
{
    for (size_t i = 0; i < rd->nrounds; i++)
        round_free(rd->rounds[i]);
    free(rd->rounds);
    drop_pending(rd);
    rd->rounds = NULL;
    rd->nrounds = rd->cap = 0;
}

static void copy_tok(char *dst, size_t size, const struct proto_msg *m, const char *key)
{
    const char *s = "";
    proto_get_str(m, key, &s);
    snprintf(dst, size, "%s", s);
}

static uint64_t u(const struct proto_msg *m, const char *key)
{
    uint64_t v = 0;
    proto_get_u64(m, key, &v);
    return v;
}

const struct vm_rec *round_vm(const struct round *r, const char *vm)
{
    for (size_t i = 0; i < r->nvm; i++)
        if (!strcmp(r->vm[i].vm, vm))
            return &r->vm[i];
    return NULL;
}

const struct vcpu_rec *round_vcpu(const struct round *r, const char *vm, uint64_t vcpu)
{
    for (size_t i = 0; i < r->nvcpu; i++)
        if (!strcmp(r->vcpu[i].vm, vm) && r->vcpu[i].vcpu == vcpu)
            return &r->vcpu[i];
    return NULL;
}

const struct pcpu_rec *round_pcpu(const struct round *r, uint64_t pcpu)
{
    for (size_t i = 0; i < r->npcpu; i++)
        if (r->pcpu[i].pcpu == pcpu)
            return &r->pcpu[i];
    return NULL;
}

/* Appends a zeroed element to *V (count *N), returns it. */
static void *grow(void *vp, size_t *n, size_t size)
{
    void **v = vp;
    *v = xrealloc(*v, (*n + 1) * size);
    char *e = (char *)*v + *n * size;
    memset(e, 0, size);
    (*n)++;
    return e;
}

static bool get_hist(struct reader *rd, const struct proto_msg *m, const char *key, uint64_t *b)
{
    if (!proto_find(m, key) || proto_get_hist(m, key, b, HIST_BUCKETS))
        return true;
    problem(rd, "bad histogram %s=", key);
    return false;
}

static void parse_exits(struct reader *rd, const struct proto_msg *m, uint64_t *ex)
{
    const char *s;
    if (!proto_get_tok(m, "ex", &s))
        return;
    while (*s) {
        const char *colon = strchr(s, ':');
        const char *comma = strchr(s, ',');
        if (!comma)
            comma = s + strlen(s);
        unsigned x = 0;
        while (colon && colon < comma && x < PROTO_EXITS &&
               (strlen(proto_exit_names[x]) != (size_t)(colon - s) ||
                strncmp(proto_exit_names[x], s, (size_t)(colon - s)) != 0))
            x++;
        char num[24];
        size_t nl = colon && colon < comma ? (size_t)(comma - colon - 1) : 0;
        uint64_t v;
        if (!colon || colon > comma || nl == 0 || nl >= sizeof(num)) {
            problem(rd, "bad ex= item");
            return;
        }
        memcpy(num, colon + 1, nl);
        num[nl] = '\0';
        if (!parse_uint(num, &v)) {
            problem(rd, "bad ex= count");
            return;
        }
        if (x < PROTO_EXITS)   /* an unknown reason: a newer VMM; ignored */
            ex[x] += v;
        s = *comma ? comma + 1 : comma;
    }
}

/* A member record into the pending round. */
static void add_member(struct reader *rd, const struct proto_msg *m, const char *type)
{
    struct round *p = rd->pending;
    if (!strcmp(type, "vm")) {
        struct vm_rec *v = grow(&p->vm, &p->nvm, sizeof(*v));
        copy_tok(v->vm, sizeof(v->vm), m, "vm");
        v->id = u(m, "id");
        v->vcpus = u(m, "vcpus");
        v->weight = u(m, "weight");
        v->cap = u(m, "cap");
        copy_tok(v->gang, sizeof(v->gang), m, "gang");
        if (!v->gang[0])
            strcpy(v->gang, "none");
        copy_tok(v->state, sizeof(v->state), m, "state");
        copy_tok(v->pool, sizeof(v->pool), m, "pool");
        v->gmax = u(m, "gmax");
        get_hist(rd, m, "gh", v->gh);
    } else if (!strcmp(type, "vcpu")) {
        struct vcpu_rec *v = grow(&p->vcpu, &p->nvcpu, sizeof(*v));
        copy_tok(v->vm, sizeof(v->vm), m, "vm");
        v->vcpu = u(m, "v");
        v->pcpu = u(m, "p");
        copy_tok(v->state, sizeof(v->state), m, "st");
        v->run = u(m, "run"), v->rdy = u(m, "rdy"), v->blk = u(m, "blk"), v->cs = u(m, "cs");
        v->runs = u(m, "runs"), v->pre = u(m, "pre"), v->mig = u(m, "mig");
        v->wak = u(m, "wak"), v->irq = u(m, "irq"), v->tirq = u(m, "tirq");
        v->dm = u(m, "dm");
        v->wmax = u(m, "wmax");
        parse_exits(rd, m, v->ex);
        get_hist(rd, m, "wh", v->wh);
    } else if (!strcmp(type, "pcpu")) {
        struct pcpu_rec *v = grow(&p->pcpu, &p->npcpu, sizeof(*v));
        v->pcpu = u(m, "p");
        copy_tok(v->pool, sizeof(v->pool), m, "pool");
        copy_tok(v->policy, sizeof(v->policy), m, "policy");
        v->idle = u(m, "idle"), v->ks = u(m, "ks"), v->kr = u(m, "kr"), v->nt = u(m, "nt");
        v->kmax = u(m, "kmax");
        get_hist(rd, m, "kh", v->kh);
    } else if (!strcmp(type, "hist")) {
        /* The rest of a histogram: of the last record with that identity. */
        const char *of = "", *vm = "";
        proto_get_tok(m, "of", &of);
        proto_get_str(m, "vm", &vm);
        uint64_t *b = NULL;
        const char *key = NULL;
        if (!strcmp(of, "vm") && p->nvm && !strcmp(p->vm[p->nvm - 1].vm, vm))
            b = p->vm[p->nvm - 1].gh, key = "gh";
        else if (!strcmp(of, "vcpu") && p->nvcpu && !strcmp(p->vcpu[p->nvcpu - 1].vm, vm) &&
                 p->vcpu[p->nvcpu - 1].vcpu == u(m, "v"))
            b = p->vcpu[p->nvcpu - 1].wh, key = "wh";
        else if (!strcmp(of, "pcpu") && p->npcpu && p->pcpu[p->npcpu - 1].pcpu == u(m, "p"))
            b = p->pcpu[p->npcpu - 1].kh, key = "kh";
        if (!b) {
            problem(rd, "hist record of=%s does not follow its record", of);
            rd->pending_bad = true;
            return;
        }
        if (!get_hist(rd, m, key, b))
            rd->pending_bad = true;
    }
    /* Other types with r= (a newer VMM's): counted, ignored. */
}

static void push_round(struct reader *rd, struct round *r)
{
    if (!rd->keep && rd->nrounds == 2) {
        round_free(rd->rounds[0]);
        rd->rounds[0] = rd->rounds[1];
        rd->nrounds = 1;
    }
    if (rd->nrounds == rd->cap) {
        rd->cap = rd->cap ? 2 * rd->cap : 16;
        rd->rounds = xrealloc(rd->rounds, rd->cap * sizeof(*rd->rounds));
    }
    rd->rounds[rd->nrounds++] = r;
}

bool reader_line(struct reader *rd, const char *line, size_t len)
{
    struct proto_msg m;
    char err[PROTO_ERR_MAX];
    rd->lineno++;
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    int rc = proto_parse(line, len, &m, err, sizeof(err));
    if (rc == PROTO_IGNORE)
        return false;
    if (rc == PROTO_ERROR) {
        problem(rd, "bad record: %s", err);
        return false;
    }
    uint64_t seq;
    const char *type;
    if (!proto_get_u64(&m, "seq", &seq) || !proto_get_tok(&m, "type", &type)) {
        if (!proto_find(&m, "cmd"))   /* a command echoed into the log is not a record */
            problem(rd, "record without seq= or type=");
        return false;
    }
    rd->nrecords++;

    /* seq: from 0 without gaps; a hello with seq=0 starts a new run. */
    if (rd->have_seq && seq == 0 && !strcmp(type, "hello")) {
        if (!rd->quiet)
            fprintf(stderr, "%s: %s:%u: a new run starts (hello seq=0); earlier records "
                    "dropped\n", prog, rd->name, rd->lineno);
        reader_free(rd);
        memset(&rd->hello, 0, sizeof(rd->hello));
        rd->have_seq = false;
        rd->last_round_bad = false;
    }
    uint64_t want = rd->have_seq ? rd->prev_seq + 1 : 0;
    if (seq > want)
        problem(rd, "seq gap: %llu record(s) lost (seq %llu..%llu)",
                (unsigned long long)(seq - want), (unsigned long long)want,
                (unsigned long long)(seq - 1));
    else if (seq < want)
        problem(rd, "seq %llu repeated or out of order (expected %llu)",
                (unsigned long long)seq, (unsigned long long)want);
    if (!rd->have_seq || seq > rd->prev_seq)
        rd->prev_seq = seq;
    rd->have_seq = true;

    if (!strcmp(type, "hello")) {
        struct hello_rec *h = &rd->hello;
        h->seen = true;
        copy_tok(h->version, sizeof(h->version), &m, "version");
        copy_tok(h->backend, sizeof(h->backend), &m, "backend");
        copy_tok(h->policy, sizeof(h->policy), &m, "policy");
        h->pcpus = u(&m, "pcpus"), h->vms = u(&m, "vms"), h->tsc_khz = u(&m, "tsc_khz");
        h->report_ms = u(&m, "report_ms");
        if (u(&m, "proto") != PROTO_VERSION)
            problem(rd, "hello says proto=%llu, this reader is for %d",
                    (unsigned long long)u(&m, "proto"), PROTO_VERSION);
        return false;
    }
    bool member = strcmp(type, "round") != 0 && proto_find(&m, "r") != NULL;
    if (member) {
        uint64_t r = u(&m, "r");
        if (rd->pending && rd->pending->r != r) {
            problem(rd, "round %llu incomplete (no round record before round %llu)",
                    (unsigned long long)rd->pending->r, (unsigned long long)r);
            drop_pending(rd);
            rd->last_round_bad = true;
        }
        if (!rd->pending) {
            rd->pending = xrealloc(NULL, sizeof(*rd->pending));
            memset(rd->pending, 0, sizeof(*rd->pending));
            rd->pending->r = r;
            rd->pending_first_seq = seq;
        } else if (seq != rd->pending_first_seq + rd->pending_records) {
            rd->pending_bad = true;   /* reported as a gap above */
        }
        rd->pending_records++;
        add_member(rd, &m, type);
        return false;
    }
    if (strcmp(type, "round") != 0)
        return false;   /* ok, error, policy: events */

    uint64_t r = 0, count = 0;
    bool ok = proto_get_u64(&m, "r", &r) && proto_get_u64(&m, "records", &count);
    const char *why = !ok ? "no r= or records=" : NULL;
    size_t seen = rd->pending ? rd->pending_records : 0;
    if (!why && rd->pending && rd->pending->r != r)
        why = "records of another round inside";
    if (!why && count != seen + 1)   /* the round record counts itself */
        why = "record count differs";
    if (!why && rd->pending && (rd->pending_bad || seq != rd->pending_first_seq + seen))
        why = "seq not consecutive";
    if (why) {
        problem(rd, "round %llu incomplete (%s: %llu announced, %zu seen)",
                (unsigned long long)r, why, (unsigned long long)count, seen + 1);
        drop_pending(rd);
        rd->last_round_bad = true;
        return false;
    }
    struct round *done = rd->pending;
    if (!done) {
        done = xrealloc(NULL, sizeof(*done));
        memset(done, 0, sizeof(*done));
    }
    rd->pending = NULL;
    rd->pending_records = 0;
    rd->pending_bad = false;
    done->r = r;
    done->t_ns = u(&m, "t_ns");
    done->life_ns = u(&m, "life_ns");
    done->seq = seq;
    done->records = count;
    done->final = u(&m, "final") != 0;
    done->line = rd->lineno;
    copy_tok(done->policy, sizeof(done->policy), &m, "policy");
    push_round(rd, done);
    rd->last_round_bad = false;
    return true;
}

bool reader_finish(struct reader *rd)
{
    bool after = rd->pending != NULL;
    if (after) {
        if (!rd->quiet)
            fprintf(stderr, "%s: %s: the last round is incomplete: %zu record(s) after the last "
                    "round record\n", prog, rd->name, rd->pending_records);
        drop_pending(rd);
    }
    return after || rd->last_round_bad;
}

bool reader_file(struct reader *rd, const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
        return false;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    while ((got = getline(&line, &cap, f)) >= 0)
        reader_line(rd, line, (size_t)got);
    free(line);
    if (f != stdin)
        fclose(f);
    return true;
}
