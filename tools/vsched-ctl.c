/* vsched-ctl: the host side of the console protocol (docs/protocol.md).
 *
 *   vsched-ctl summary LOG [--check] [--vm NAME [--vcpu N] | --pcpu N] [--key KEY]
 *                          [--share NAME]
 *   vsched-ctl session (--socket PATH | --tcp HOST:PORT) --log FILE [--echo]
 *                      [--send-after PATTERN COMMAND]... [--timeout S] [--connect-timeout S]
 *
 * The records are read with the VMM's own parser (vmm/proto.c). */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vmm/proto.h"

static const char *prog = "vsched-ctl";

static void usage(void)
{
    fprintf(stderr,
            "usage: vsched-ctl summary LOG [--check] [--vm NAME [--vcpu N] | --pcpu N] "
            "[--key KEY] [--share NAME]\n"
            "       vsched-ctl session (--socket PATH | --tcp HOST:PORT) --log FILE [--echo]\n"
            "                  [--send-after PATTERN COMMAND]... [--timeout S] "
            "[--connect-timeout S]\n"
            "see docs/protocol.md and tools/README.md\n");
    exit(2);
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (!p) {
        fprintf(stderr, "%s: out of memory\n", prog);
        exit(2);
    }
    return p;
}

static bool parse_uint(const char *s, uint64_t *v)
{
    char *end;
    if (!*s || *s == '-' || *s == '+')
        return false;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *v = x;
    return true;
}

/* ======================================================================================
 * summary
 * ====================================================================================== */

struct rec {
    uint64_t seq;
    unsigned line;
    struct proto_msg m;
};

/* Records are allocated one by one: a parsed message points into itself and never moves. */
struct recs {
    struct rec **v;
    size_t n, cap;
};

static void rec_copy(struct rec *dst, const struct rec *src)
{
    dst->seq = src->seq;
    dst->line = src->line;
    proto_msg_copy(&dst->m, &src->m);
}

static void recs_push(struct recs *r, const struct rec *x)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 64;
        r->v = xrealloc(r->v, r->cap * sizeof(*r->v));
    }
    r->v[r->n] = xrealloc(NULL, sizeof(struct rec));
    rec_copy(r->v[r->n++], x);
}

static void recs_clear(struct recs *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->v[i]);
    r->n = 0;
}

/* A round's records: every record with a round= key (vm, vcpu, exits, pcpu), ended by the
 * record of type round. */
static bool is_member(const struct proto_msg *m, const char *type)
{
    return strcmp(type, "round") != 0 && proto_find(m, "round") != NULL;
}

static const char *type_of(const struct proto_msg *m)
{
    const char *t = "";
    proto_get_tok(m, "type", &t);
    return t;
}

/* The value of KEY in the round's records of TYPE whose identity keys match (a record split
 * into parts: any part may hold KEY).  ID1/ID2 = NULL: not checked. */
static const char *lookup(const struct recs *round, const char *type, const char *k1,
                          const char *v1, const char *k2, const char *v2, const char *key)
{
    for (size_t i = 0; i < round->n; i++) {
        const struct proto_msg *m = &round->v[i]->m;
        const char *s;
        if (strcmp(type_of(m), type) != 0)
            continue;
        if (k1 && (!proto_get_str(m, k1, &s) || strcmp(s, v1) != 0))
            continue;
        if (k2 && (!proto_get_str(m, k2, &s) || strcmp(s, v2) != 0))
            continue;
        if (proto_get_str(m, key, &s))
            return s;
    }
    return NULL;
}

static uint64_t num(const char *s)
{
    uint64_t v = 0;
    if (s)
        parse_uint(s, &v);
    return v;
}

/* Distinct values of KEY among the round's records of TYPE, in order of appearance. */
static size_t distinct(const struct recs *round, const char *type, const char *key,
                       const char ***out)
{
    size_t n = 0;
    const char **v = NULL;
    for (size_t i = 0; i < round->n; i++) {
        const char *s;
        const struct proto_msg *m = &round->v[i]->m;
        if (strcmp(type_of(m), type) != 0 || !proto_get_str(m, key, &s))
            continue;
        size_t k = 0;
        while (k < n && strcmp(v[k], s) != 0)
            k++;
        if (k == n) {
            v = xrealloc(v, (n + 1) * sizeof(*v));
            v[n++] = s;
        }
    }
    *out = v;
    return n;
}

/* ns as milliseconds with one decimal, in a static buffer per call site slot. */
static const char *ms(uint64_t ns, char *buf, size_t size)
{
    uint64_t tenths = (ns + 50000) / 100000;
    snprintf(buf, size, "%llu.%llu", (unsigned long long)(tenths / 10),
             (unsigned long long)(tenths % 10));
    return buf;
}

static const char *us(uint64_t ns, char *buf, size_t size)
{
    uint64_t tenths = (ns + 50) / 100;
    snprintf(buf, size, "%llu.%llu", (unsigned long long)(tenths / 10),
             (unsigned long long)(tenths % 10));
    return buf;
}

static uint64_t permille(uint64_t part, uint64_t total)
{
    if (!total)
        return 0;
    return (uint64_t)(((unsigned __int128)part * 1000 + total / 2) / total);
}

static int cmd_summary(int argc, char **argv)
{
    const char *path = NULL, *vm = NULL, *key = NULL, *share = NULL, *vcpu = NULL,
               *pcpu = NULL;
    bool check = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--check") == 0)
            check = true;
        else if (strcmp(a, "--vm") == 0 && i + 1 < argc)
            vm = argv[++i];
        else if (strcmp(a, "--vcpu") == 0 && i + 1 < argc)
            vcpu = argv[++i];
        else if (strcmp(a, "--pcpu") == 0 && i + 1 < argc)
            pcpu = argv[++i];
        else if (strcmp(a, "--key") == 0 && i + 1 < argc)
            key = argv[++i];
        else if (strcmp(a, "--share") == 0 && i + 1 < argc)
            share = argv[++i];
        else if (a[0] == '-' || path)
            usage();
        else
            path = a;
    }
    if (!path || (vcpu && !vm) || (pcpu && vm) || ((vm || pcpu) && !key) || (key && share))
        usage();

    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
        return 2;
    }

    struct recs pending = { 0 }, last = { 0 };
    static struct rec last_round_rec;
    bool have_last = false, have_seq = false, last_round_bad = false;
    uint64_t prev = 0;
    unsigned problems = 0, lineno = 0, nrecords = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    static struct rec r;
    char err[PROTO_ERR_MAX];

    while ((got = getline(&line, &cap, f)) >= 0) {
        lineno++;
        size_t len = (size_t)got;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        int rc = proto_parse(line, len, &r.m, err, sizeof(err));
        if (rc == PROTO_IGNORE)
            continue;
        if (rc == PROTO_ERROR) {
            fprintf(stderr, "%s: %s:%u: bad record: %s\n", prog, path, lineno, err);
            problems++;
            continue;
        }
        const char *type;
        if (!proto_get_u64(&r.m, "seq", &r.seq) || !proto_get_tok(&r.m, "type", &type)) {
            fprintf(stderr, "%s: %s:%u: record without seq= or type=\n", prog, path, lineno);
            problems++;
            continue;
        }
        r.line = lineno;
        nrecords++;

        /* seq: from 0 without gaps; a hello with seq=0 starts a new run. */
        if (have_seq && r.seq == 0 && strcmp(type, "hello") == 0) {
            fprintf(stderr, "%s: %s:%u: a new run starts (hello seq=0); earlier records "
                    "dropped\n", prog, path, lineno);
            recs_clear(&pending);
            recs_clear(&last);
            have_last = last_round_bad = false;
            have_seq = false;
        }
        uint64_t want = have_seq ? prev + 1 : 0;
        if (r.seq > want) {
            fprintf(stderr, "%s: %s:%u: seq gap: %llu record(s) lost (seq %llu..%llu)\n", prog,
                    path, lineno, (unsigned long long)(r.seq - want), (unsigned long long)want,
                    (unsigned long long)(r.seq - 1));
            problems++;
        } else if (r.seq < want) {
            fprintf(stderr, "%s: %s:%u: seq %llu repeated or out of order (expected %llu)\n",
                    prog, path, lineno, (unsigned long long)r.seq, (unsigned long long)want);
            problems++;
        }
        if (!have_seq || r.seq > prev)
            prev = r.seq;
        have_seq = true;

        if (is_member(&r.m, type)) {
            uint64_t r0, r1;
            if (pending.n && proto_get_u64(&pending.v[0]->m, "round", &r0) &&
                proto_get_u64(&r.m, "round", &r1) && r0 != r1) {
                fprintf(stderr, "%s: %s:%u: round %llu incomplete (no round record; %zu "
                        "record(s) seen)\n", prog, path, lineno, (unsigned long long)r0,
                        pending.n);
                problems++;
                recs_clear(&pending);
            }
            recs_push(&pending, &r);
        } else if (strcmp(type, "round") == 0) {
            uint64_t round = 0, count = 0;
            bool ok = proto_get_u64(&r.m, "round", &round) &&
                      proto_get_u64(&r.m, "records", &count);
            const char *why = ok ? NULL : "no round= or records=";
            if (ok && count != pending.n + 1)   /* the round record counts itself */
                why = "record count differs";
            for (size_t i = 0; !why && i < pending.n; i++) {
                uint64_t rr;
                if (!proto_get_u64(&pending.v[i]->m, "round", &rr) || rr != round)
                    why = "a record of another round inside";
                else if (pending.v[i]->seq != r.seq - pending.n + i)
                    why = "seq not consecutive";
            }
            if (why) {
                fprintf(stderr, "%s: %s:%u: round %llu incomplete (%s: %llu announced, %zu "
                        "seen)\n", prog, path, lineno, (unsigned long long)round, why,
                        (unsigned long long)count, pending.n + 1);
                problems++;
                last_round_bad = true;
            } else {
                struct recs t = last;
                last = pending;
                pending = t;
                rec_copy(&last_round_rec, &r);
                have_last = true;
                last_round_bad = false;
            }
            recs_clear(&pending);
        }
    }
    free(line);
    if (f != stdin)
        fclose(f);

    bool incomplete_end = last_round_bad || pending.n > 0;
    if (pending.n)
        fprintf(stderr, "%s: %s: the last round is incomplete: %zu record(s) after the last "
                "round record\n", prog, path, pending.n);
    if (!have_last) {
        fprintf(stderr, "%s: %s: no complete accounting round (%u record(s))\n", prog, path,
                nrecords);
        return 1;
    }
    int status = (check && (problems || incomplete_end)) ? 1 : 0;

    if (key || share) {
        const char *val;
        if (share) {
            if (!lookup(&last, "vm", "vm", share, NULL, NULL, "vm")) {
                fprintf(stderr, "%s: no VM '%s' in the last round\n", prog, share);
                return 1;
            }
            const char **names;
            size_t nv = distinct(&last, "vm", "vm", &names);
            uint64_t total = 0;
            for (size_t i = 0; i < nv; i++)
                total += num(lookup(&last, "vm", "vm", names[i], NULL, NULL, "running_ns"));
            free(names);
            printf("%llu\n", (unsigned long long)permille(
                                 num(lookup(&last, "vm", "vm", share, NULL, NULL, "running_ns")),
                                 total));
            return status;
        }
        if (vm && vcpu) {
            val = lookup(&last, "vcpu", "vm", vm, "vcpu", vcpu, key);
            if (!val)
                val = lookup(&last, "exits", "vm", vm, "vcpu", vcpu, key);
        }
        else if (vm)
            val = lookup(&last, "vm", "vm", vm, NULL, NULL, key);
        else if (pcpu)
            val = lookup(&last, "pcpu", "pcpu", pcpu, NULL, NULL, key);
        else {
            struct rec *one = &last_round_rec;
            val = lookup(&(struct recs){ &one, 1, 1 }, "round", NULL, NULL, NULL, NULL, key);
        }
        if (!val) {
            fprintf(stderr, "%s: no key '%s'%s%s%s%s%s%s in the last complete round\n", prog,
                    key, vm ? " for vm " : "", vm ? vm : "", vcpu ? " vcpu " : "",
                    vcpu ? vcpu : "", pcpu ? " for pcpu " : "", pcpu ? pcpu : "");
            return 1;
        }
        printf("%s\n", val);
        return status;
    }

    /* The table. */
    uint64_t round = 0, t_ns = 0, final = 0;
    proto_get_u64(&last_round_rec.m, "round", &round);
    proto_get_u64(&last_round_rec.m, "t_ns", &t_ns);
    proto_get_u64(&last_round_rec.m, "final", &final);
    const char **names, **pcpus;
    size_t nv = distinct(&last, "vm", "vm", &names);
    size_t np = distinct(&last, "pcpu", "pcpu", &pcpus);
    char b[6][32];
    printf("round %llu%s at %s ms (seq %llu, line %u): %zu VM(s), %zu pCPU(s)%s\n",
           (unsigned long long)round, final ? " (final)" : "", ms(t_ns, b[0], 32),
           (unsigned long long)last_round_rec.seq, last_round_rec.line, nv, np,
           problems || incomplete_end ? "; problems reported on stderr" : "");
    uint64_t total = 0;
    for (size_t i = 0; i < nv; i++)
        total += num(lookup(&last, "vm", "vm", names[i], NULL, NULL, "running_ns"));
    printf("%-23s %12s %12s %12s %12s %7s %10s %11s %12s\n", "vm", "running_ms", "ready_ms",
           "blocked_ms", "costop_ms", "share%", "runs", "preemptions", "wake_p99_us");
    for (size_t i = 0; i < nv; i++) {
#define V(k) num(lookup(&last, "vm", "vm", names[i], NULL, NULL, k))
        uint64_t pm = permille(V("running_ns"), total);
        printf("%-23s %12s %12s %12s %12s %5llu.%llu %10llu %11llu %12s\n", names[i],
               ms(V("running_ns"), b[0], 32), ms(V("ready_ns"), b[1], 32),
               ms(V("blocked_ns"), b[2], 32), ms(V("costop_ns"), b[3], 32),
               (unsigned long long)(pm / 10), (unsigned long long)(pm % 10),
               (unsigned long long)V("runs"), (unsigned long long)V("preemptions"),
               us(V("wake_p99_ns"), b[4], 32));
#undef V
    }
    if (np) {
        printf("%-23s %12s %12s %12s %12s\n", "pcpu", "idle_ms", "kicks_sent", "kicks_recv",
               "kick_p99_us");
        for (size_t i = 0; i < np; i++) {
#define P(k) num(lookup(&last, "pcpu", "pcpu", pcpus[i], NULL, NULL, k))
            printf("%-23s %12s %12llu %12llu %12s\n", pcpus[i], ms(P("idle_ns"), b[0], 32),
                   (unsigned long long)P("kicks_sent"), (unsigned long long)P("kicks_recv"),
                   us(P("kick_p99_ns"), b[1], 32));
#undef P
        }
    }
    free(names);
    free(pcpus);
    return status;
}

/* ======================================================================================
 * session
 * ====================================================================================== */

struct trigger {
    const char *pattern;
    bool is_regex;
    regex_t re;
    char *line;   /* what is sent, without the '\n' */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int try_connect(const char *sock_path, const char *tcp)
{
    if (sock_path) {
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        if (strlen(sock_path) >= sizeof(a.sun_path)) {
            fprintf(stderr, "%s: socket path too long: %s\n", prog, sock_path);
            exit(2);
        }
        strcpy(a.sun_path, sock_path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
            return fd;
        close(fd);
        return -1;
    }
    char host[256];
    const char *colon = strrchr(tcp, ':');
    if (!colon || colon == tcp || (size_t)(colon - tcp) >= sizeof(host) || !colon[1]) {
        fprintf(stderr, "%s: --tcp wants HOST:PORT, not '%s'\n", prog, tcp);
        exit(2);
    }
    memcpy(host, tcp, (size_t)(colon - tcp));
    host[colon - tcp] = '\0';
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
    int e = getaddrinfo(host, colon + 1, &hints, &res);
    if (e) {
        fprintf(stderr, "%s: %s: %s\n", prog, tcp, gai_strerror(e));
        exit(2);
    }
    int fd = -1;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static bool write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* "halt: status=N" exactly (the run scripts' rule); returns N or -1. */
static int halt_status(const char *line)
{
    static const char pre[] = "halt: status=";
    if (strncmp(line, pre, sizeof(pre) - 1) != 0)
        return -1;
    uint64_t v;
    if (!parse_uint(line + sizeof(pre) - 1, &v))
        return -1;
    return v > 255 ? 255 : (int)v;
}

static int cmd_session(int argc, char **argv)
{
    const char *sock_path = NULL, *tcp = NULL, *log_path = NULL;
    double timeout = 600, connect_timeout = 30;
    bool echo = false;
    struct trigger *trig = NULL;
    size_t ntrig = 0;

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        uint64_t v;
        if (strcmp(a, "--socket") == 0 && i + 1 < argc)
            sock_path = argv[++i];
        else if (strcmp(a, "--tcp") == 0 && i + 1 < argc)
            tcp = argv[++i];
        else if (strcmp(a, "--log") == 0 && i + 1 < argc)
            log_path = argv[++i];
        else if (strcmp(a, "--echo") == 0)
            echo = true;
        else if (strcmp(a, "--timeout") == 0 && i + 1 < argc && parse_uint(argv[i + 1], &v))
            timeout = (double)v, i++;
        else if (strcmp(a, "--connect-timeout") == 0 && i + 1 < argc &&
                 parse_uint(argv[i + 1], &v))
            connect_timeout = (double)v, i++;
        else if (strcmp(a, "--send-after") == 0 && i + 2 < argc) {
            trig = xrealloc(trig, (ntrig + 1) * sizeof(*trig));
            struct trigger *t = &trig[ntrig++];
            memset(t, 0, sizeof(*t));
            t->pattern = argv[++i];
            const char *c = argv[++i];
            if (strncmp(t->pattern, "re:", 3) == 0) {
                t->is_regex = true;
                if (regcomp(&t->re, t->pattern + 3, REG_EXTENDED | REG_NOSUB) != 0) {
                    fprintf(stderr, "%s: bad regular expression '%s'\n", prog, t->pattern + 3);
                    return 2;
                }
            }
            /* "@..." is sent as it is (also to test the VMM's error replies); anything else
             * is a command "NAME key=value ..." that must pass the VMM's own checks. */
            if (c[0] == '@') {
                t->line = strdup(c);
            } else {
                if (asprintf(&t->line, "%s cmd=%s", PROTO_TAG, c) < 0)
                    return 2;
                struct proto_cmd pc;
                char err[PROTO_ERR_MAX];
                if (proto_parse_cmd(t->line, strlen(t->line), &pc, err, sizeof(err)) !=
                    PROTO_OK) {
                    fprintf(stderr, "%s: bad command '%s': %s\n", prog, c, err);
                    return 2;
                }
            }
            if (strchr(t->line, '\n') || strlen(t->line) + 1 > PROTO_LINE_MAX) {
                fprintf(stderr, "%s: command too long or with a newline: '%s'\n", prog, c);
                return 2;
            }
        } else
            usage();
    }
    if ((!sock_path == !tcp) || !log_path)
        usage();

    FILE *log = fopen(log_path, "w");
    if (!log) {
        fprintf(stderr, "%s: %s: %s\n", prog, log_path, strerror(errno));
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    double start = now_s(), deadline = start + timeout;
    double connect_deadline = start + connect_timeout;
    if (connect_deadline > deadline)
        connect_deadline = deadline;
    int fd;
    while ((fd = try_connect(sock_path, tcp)) < 0) {
        if (now_s() >= connect_deadline) {
            fprintf(stderr, "%s: could not connect to %s within %.0f s\n", prog,
                    sock_path ? sock_path : tcp, connect_deadline - start);
            return now_s() >= deadline ? 124 : 125;
        }
        usleep(100000);
    }

    size_t next = 0;
    char *buf = NULL;
    size_t blen = 0, bcap = 0;
    unsigned lineno = 0;
    for (;;) {
        double left = deadline - now_s();
        if (left <= 0) {
            fprintf(stderr, "%s: timeout after %.0f s\n", prog, timeout);
            return 124;
        }
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int pr = poll(&p, 1, (int)(left * 1000) + 1);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0)
            continue;
        char chunk[4096];
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        bool eof = n <= 0;
        for (ssize_t i = 0; i < n; i++) {
            if (chunk[i] == '\r')
                continue;
            if (blen + 1 >= bcap) {
                bcap = bcap ? 2 * bcap : 1024;
                buf = xrealloc(buf, bcap);
            }
            buf[blen++] = chunk[i];
            if (chunk[i] != '\n' && blen < 65536)
                continue;
            /* One line (or 64 KiB without a newline). */
            buf[blen] = '\0';
            fwrite(buf, 1, blen, log);
            fflush(log);
            if (echo) {
                fwrite(buf, 1, blen, stdout);
                fflush(stdout);
            }
            lineno++;
            if (buf[blen - 1] == '\n')
                buf[blen - 1] = '\0';
            while (next < ntrig) {
                struct trigger *t = &trig[next];
                bool hit = t->is_regex ? regexec(&t->re, buf, 0, NULL, 0) == 0
                                       : strstr(buf, t->pattern) != NULL;
                if (!hit)
                    break;
                fprintf(stderr, "%s: line %u: sending '%s'\n", prog, lineno, t->line);
                if (!write_all(fd, t->line, strlen(t->line)) || !write_all(fd, "\n", 1)) {
                    fprintf(stderr, "%s: send failed: %s\n", prog, strerror(errno));
                    return 125;
                }
                next++;
            }
            int st = halt_status(buf);
            blen = 0;
            if (st >= 0) {
                if (next < ntrig)
                    fprintf(stderr, "%s: %zu command(s) not sent (next: after '%s')\n", prog,
                            ntrig - next, trig[next].pattern);
                fprintf(stderr, "%s: halt status %d\n", prog, st);
                fclose(log);
                close(fd);
                return st;
            }
        }
        if (eof) {
            if (blen) {
                fwrite(buf, 1, blen, log);
                if (echo)
                    fwrite(buf, 1, blen, stdout);
            }
            fclose(log);
            fprintf(stderr, "%s: connection closed without a halt line\n", prog);
            return 125;
        }
    }
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    if (strcmp(argv[1], "summary") == 0)
        return cmd_summary(argc - 2, argv + 2);
    if (strcmp(argv[1], "session") == 0)
        return cmd_session(argc - 2, argv + 2);
    usage();
}
