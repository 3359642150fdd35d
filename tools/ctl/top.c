/* vsched-ctl top: a live view of the accounting rounds, like xentop/esxtop.  Each screen is
 * one round compared with the round before: per VM (and per vCPU) %USED, %RDY, %CSTP, %WAIT,
 * wake-up p50/p99, migrations/s, exits/s by reason, gang skew; per pCPU idle, kicks/s, kick
 * p99.  Source: a running VMM's console (the VMM is asked for a round every -d seconds) or a
 * recorded console log (stepped through with n/p). */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "tools/ctl/ctl.h"

static const char top_help[] =
    "usage: vsched-ctl top (LOG | --socket PATH | --tcp HOST:PORT) [-b] [-d S] [-n K]\n"
    "                      [--sort KEY] [--vcpus] [--log FILE] [--no-report]\n"
    "Shows each accounting round against the one before: per VM %USED %RDY %CSTP %WAIT\n"
    "(percent of one pCPU over the interval, summed over the VM's vCPUs), wake-up latency\n"
    "p50/p99 (us), migrations/s, exits/s (with the top reasons), gang skew p99 (us); per pCPU\n"
    "%IDLE, kicks/s, kick p99 (us).\n"
    "  LOG               a recorded console log (or vsched-sim --records output); starts at\n"
    "                    its last round\n"
    "  --socket, --tcp   a running VMM (as vsched-ctl session); asks it for a round every -d\n"
    "                    seconds (report period_ms=) unless --no-report\n"
    "  -b, --batch       no terminal control: print each round's screen and go on\n"
    "  -d, --delay S     seconds between rounds asked of a live VMM (default 1); on a LOG in\n"
    "                    interactive mode: play it, one round every S seconds\n"
    "  -n, --iterations K  stop after K screens (batch: rounds printed)\n"
    "  --sort KEY        used (default), rdy, cstp, wait, wake, mig, exits or name\n"
    "  --vcpus           show each VM's vCPUs under it\n"
    "  --log FILE        (live) keep the console in FILE\n"
    "  -h, --help        this text\n"
    "Keys: q quit, s next sort key, v vCPUs on/off, n/p next/previous round (LOG), space pause.\n"
    "Exit status: 0; 1 no complete round to show; 2 usage; 125 the connection failed.\n";

enum sort_key { S_USED, S_RDY, S_CSTP, S_WAIT, S_WAKE, S_MIG, S_EXITS, S_NAME, S_KEYS };
static const char *const sort_names[S_KEYS] = { "used", "rdy", "cstp", "wait", "wake", "mig",
                                                "exits", "name" };
static const char *const sort_fields[S_KEYS] = { "used_pct", "ready_pct", "costop_pct",
                                                 "wait_pct", "wake_p99_ns_interval",
                                                 "migrations_per_s", "exits_per_s", NULL };

struct view {
    enum sort_key sort;
    bool vcpus;
    const char *source;
    unsigned cols;
};

/* The screen, built as lines in a buffer and cut to the terminal's width when shown. */
struct screen {
    char *buf;
    size_t len, cap;
};

static void put(struct screen *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct screen *s, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(s->buf + s->len, s->cap - s->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < s->cap - s->len) {
            s->len += (size_t)n;
            return;
        }
        s->cap = s->cap * 2 + (size_t)(n > 0 ? n : 0) + 256;
        s->buf = xrealloc(s->buf, s->cap);
    }
}

static void fix2(char *b, size_t n, uint64_t v)
{
    snprintf(b, n, "%llu.%02llu", (unsigned long long)(v / 100), (unsigned long long)(v % 100));
}

static void usec(char *b, size_t n, uint64_t ns)
{
    snprintf(b, n, "%llu", (unsigned long long)((ns + 500) / 1000));
}

/* "tmr:950 hlt:12" — the three most frequent exit reasons of the interval, per second. */
static void top_exits(char *b, size_t n, const struct ent *c, const struct ent *p, uint64_t dt)
{
    uint64_t rate[PROTO_EXITS];
    for (unsigned x = 0; x < PROTO_EXITS; x++) {
        uint64_t d = c->ex[x] - (p ? p->ex[x] : 0);
        rate[x] = dt ? (uint64_t)(((unsigned __int128)d * 1000000000u + dt / 2) / dt) : 0;
    }
    size_t at = 0;
    b[0] = '\0';
    for (int k = 0; k < 3; k++) {
        unsigned best = PROTO_EXITS;
        for (unsigned x = 0; x < PROTO_EXITS; x++)
            if (rate[x] && (best == PROTO_EXITS || rate[x] > rate[best]))
                best = x;
        if (best == PROTO_EXITS)
            break;
        at += (size_t)snprintf(b + at, n > at ? n - at : 0, "%s%s:%llu", at ? " " : "",
                               proto_exit_names[best], (unsigned long long)rate[best]);
        rate[best] = 0;
    }
}

#define ROW_FMT "%-16s %5s %7s %7s %7s %7s %9s %9s %7s %9s %9s  %s\n"

static void ent_row(struct screen *s, const char *name, const char *vcpus, enum rec_kind k,
                    const struct ent *e, const struct ent *p, const char *state)
{
    char used[32], rdy[32], cs[32], wait[32], w50[24], w99[24], mig[32], ex[32], skew[24],
        why[64];
    fix2(used, sizeof(used), field_num(k, "used_pct", e, p));
    fix2(rdy, sizeof(rdy), field_num(k, "ready_pct", e, p));
    fix2(cs, sizeof(cs), field_num(k, "costop_pct", e, p));
    fix2(wait, sizeof(wait), field_num(k, "wait_pct", e, p));
    usec(w50, sizeof(w50), field_num(k, "wake_p50_ns_interval", e, p));
    usec(w99, sizeof(w99), field_num(k, "wake_p99_ns_interval", e, p));
    fix2(mig, sizeof(mig), field_num(k, "migrations_per_s", e, p));
    snprintf(ex, sizeof(ex), "%llu", (unsigned long long)(field_num(k, "exits_per_s", e, p) / 100));
    if (k == K_VM && strcmp(e->gang, "none") != 0)
        usec(skew, sizeof(skew), field_num(K_VM, "gang_skew_p99_ns_interval", e, p));
    else
        strcpy(skew, "-");
    top_exits(why, sizeof(why), e, p, field_num(k, "dt_ns", e, p));
    char st[40];
    snprintf(st, sizeof(st), "%-9s %s", state, why);
    put(s, ROW_FMT, name, vcpus, used, rdy, cs, wait, w50, w99, mig, ex, skew, st);
}

struct sorted {
    struct ent e, p;
    bool has_p;
    uint64_t key;
};

static int cmp_sorted(const void *a, const void *b, void *arg)
{
    const struct sorted *x = a, *y = b;
    enum sort_key k = *(const enum sort_key *)arg;
    if (k != S_NAME && x->key != y->key)
        return x->key > y->key ? -1 : 1;
    int c = strcmp(x->e.vm, y->e.vm);
    if (c)
        return c;
    return x->e.vcpu < y->e.vcpu ? -1 : x->e.vcpu > y->e.vcpu;
}

/* One screen for round I of RD. */
static void render(struct screen *s, const struct reader *rd, size_t i, const struct view *v,
                   const char *status)
{
    const struct round *r = rd->rounds[i], *pr = i ? rd->rounds[i - 1] : NULL;
    uint64_t dt = r->t_ns - (pr ? pr->t_ns : 0);
    char t[32], d[32];
    fix2(t, sizeof(t), r->t_ns / 10000000);
    fix2(d, sizeof(d), dt / 10000000);
    s->len = 0;
    put(s, "vsched top - %s - round %llu%s at %s s, interval %s s, policy %s, %s%s%llu pCPU(s), "
        "%zu VM(s)%s\n", v->source, (unsigned long long)r->r, r->final ? " (final)" : "", t, d,
        r->policy, rd->hello.backend, rd->hello.backend[0] ? ", " : "",
        (unsigned long long)(rd->hello.pcpus ? rd->hello.pcpus : r->npcpu), r->nvm,
        rd->problems ? " [record problems: see vsched-ctl summary --check]" : "");
    put(s, ROW_FMT, "VM", "VCPUS", "%USED", "%RDY", "%CSTP", "%WAIT", "WAKE50us", "WAKE99us",
        "MIG/s", "EXIT/s", "SKEW99us", "STATE     EXITS/s");
    struct sorted *vs = xrealloc(NULL, (r->nvm + 1) * sizeof(*vs));
    for (size_t k = 0; k < r->nvm; k++) {
        ent_get(K_VM, r, k, &vs[k].e);
        vs[k].has_p = pr && ent_find(pr, &vs[k].e, &vs[k].p);
        vs[k].key = sort_fields[v->sort] ? field_num(K_VM, sort_fields[v->sort], &vs[k].e,
                                                     vs[k].has_p ? &vs[k].p : NULL) : 0;
    }
    enum sort_key sk = v->sort;
    qsort_r(vs, r->nvm, sizeof(*vs), cmp_sorted, &sk);
    for (size_t k = 0; k < r->nvm; k++) {
        char n[32];
        snprintf(n, sizeof(n), "%llu", (unsigned long long)vs[k].e.vcpus);
        ent_row(s, vs[k].e.vm, n, K_VM, &vs[k].e, vs[k].has_p ? &vs[k].p : NULL, vs[k].e.state);
        if (!v->vcpus)
            continue;
        for (size_t c = 0; c < r->nvcpu; c++) {
            if (strcmp(r->vcpu[c].vm, vs[k].e.vm) != 0)
                continue;
            struct sorted x;
            ent_get(K_VCPU, r, c, &x.e);
            x.has_p = pr && ent_find(pr, &x.e, &x.p);
            char name[40], pc[32];
            snprintf(name, sizeof(name), "  %s.%llu", x.e.vm, (unsigned long long)x.e.vcpu);
            snprintf(pc, sizeof(pc), "p%llu", (unsigned long long)x.e.pcpu);
            ent_row(s, name, pc, K_VCPU, &x.e, x.has_p ? &x.p : NULL, x.e.state);
        }
    }
    free(vs);
    if (r->npcpu) {
        put(s, "\n%-16s %7s %8s %9s %9s\n", "PCPU", "%IDLE", "KICK/s", "KICK99us", "NOTIFY");
        for (size_t k = 0; k < r->npcpu; k++) {
            struct ent e, p;
            ent_get(K_PCPU, r, k, &e);
            bool hp = pr && ent_find(pr, &e, &p);
            char idle[32], ks[32], k99[24];
            fix2(idle, sizeof(idle), field_num(K_PCPU, "idle_pct", &e, hp ? &p : NULL));
            fix2(ks, sizeof(ks), field_num(K_PCPU, "kicks_per_s", &e, hp ? &p : NULL));
            usec(k99, sizeof(k99), field_num(K_PCPU, "kick_p99_ns_interval", &e, hp ? &p : NULL));
            put(s, "%-16llu %7s %8s %9s %9llu\n", (unsigned long long)e.pcpu, idle, ks, k99,
                (unsigned long long)e.nt);
        }
    }
    put(s, "\n%s  sort: %s  vcpus: %s\n", status, sort_names[v->sort], v->vcpus ? "on" : "off");
}

/* ---- terminal ---- */

static struct termios saved_tio;
static bool raw_on;

static void term_restore(void)
{
    if (raw_on) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
        fputs("\033[?25h\033[?1049l", stdout);   /* cursor on, main screen back */
        fflush(stdout);
        raw_on = false;
    }
}

static void on_signal(int sig)
{
    term_restore();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void term_raw(void)
{
    if (tcgetattr(STDIN_FILENO, &saved_tio) < 0)
        usage_error("top: the interactive view needs a terminal (use -b)");
    struct termios t = saved_tio;
    t.c_lflag &= ~(unsigned)(ICANON | ECHO);
    t.c_cc[VMIN] = 0;
    t.c_cc[VTIME] = 0;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &t);
    raw_on = true;
    atexit(term_restore);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    fputs("\033[?1049h\033[?25l", stdout);   /* alternate screen, cursor off */
}

static unsigned term_cols(void)
{
    struct winsize w;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &w) == 0 && w.ws_col)
        return w.ws_col;
    return 80;
}

/* The screen at the top-left, each line cut to the width and cleared to its end. */
static void show(const struct screen *s)
{
    unsigned cols = term_cols();
    fputs("\033[H", stdout);
    const char *p = s->buf, *end = s->buf + s->len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        fwrite(p, 1, n < cols ? n : cols, stdout);
        fputs("\033[K\r\n", stdout);
        p += n + 1;
    }
    fputs("\033[J", stdout);
    fflush(stdout);
}

/* A key: the view changes; returns 'q', 'n', 'p', ' ' or 0. */
static int key(struct view *v, int c)
{
    switch (c) {
    case 's': v->sort = (enum sort_key)((v->sort + 1) % S_KEYS); return 0;
    case 'v': v->vcpus = !v->vcpus; return 0;
    case 'q': case 'n': case 'p': case ' ': return c;
    default: return 0;
    }
}

static int read_key(int timeout_ms)
{
    struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
    if (poll(&p, 1, timeout_ms) <= 0)
        return -1;
    unsigned char c;
    return read(STDIN_FILENO, &c, 1) == 1 ? c : -1;
}

/* ---- sources ---- */

static int top_log(const char *path, struct view *v, bool batch, double delay, uint64_t iters)
{
    struct reader rd;
    reader_init(&rd, path, true);
    rd.quiet = true;
    if (!reader_file(&rd, path))
        return 2;
    reader_finish(&rd);
    if (!rd.nrounds) {
        fprintf(stderr, "%s: %s: no complete accounting round\n", prog, path);
        return 1;
    }
    struct screen s = { 0 };
    if (batch) {
        for (size_t i = 0; i < rd.nrounds && (!iters || i < iters); i++) {
            render(&s, &rd, i, v, "");
            fwrite(s.buf, 1, s.len, stdout);
            putchar('\n');
        }
        return 0;
    }
    term_raw();
    size_t i = rd.nrounds - 1;
    bool playing = delay > 0;
    if (playing)
        i = 0;
    uint64_t shown = 0;
    for (;;) {
        char status[128];
        snprintf(status, sizeof(status), "round %zu of %zu%s  keys: q quit, s sort, v vcpus, "
                 "n/p next/prev, space %s", i + 1, rd.nrounds, playing ? " (playing)" : "",
                 playing ? "pause" : "play");
        render(&s, &rd, i, v, status);
        show(&s);
        if (iters && ++shown >= iters)
            break;
        int c = read_key(playing ? (int)(delay * 1000) : -1);
        if (c < 0) {
            if (playing && i + 1 < rd.nrounds)
                i++;
            else
                playing = false;
            continue;
        }
        int k = key(v, c);
        if (k == 'q')
            break;
        if (k == 'n' && i + 1 < rd.nrounds)
            i++;
        if (k == 'p' && i > 0)
            i--;
        if (k == ' ')
            playing = !playing;
    }
    term_restore();
    reader_free(&rd);
    return 0;
}

static int top_live(const char *sock, const char *tcp, const char *log_path, struct view *v,
                    bool batch, double delay, uint64_t iters, bool ask)
{
    FILE *log = NULL;
    if (log_path && !(log = fopen(log_path, "w"))) {
        fprintf(stderr, "%s: %s: %s\n", prog, log_path, strerror(errno));
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int fd = ctl_connect(sock, tcp, 30);
    if (fd < 0)
        return 125;
    if (!batch)
        term_raw();
    struct reader rd;
    reader_init(&rd, sock ? sock : tcp, false);
    rd.quiet = true;
    struct screen s = { 0 };
    char *buf = NULL;
    size_t blen = 0, bcap = 0;
    uint64_t shown = 0;
    bool asked = false, quit = false, halted_seen = false;
    const char *end = "connection closed";
    char status[160] = "waiting for the first round";
    if (!batch) {
        s.len = 0;
        put(&s, "vsched top - %s - %s\n", v->source, status);
        show(&s);
    }
    for (;;) {
        struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
                               { .fd = STDIN_FILENO, .events = POLLIN } };
        if (poll(p, batch ? 1 : 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        bool redraw = false;
        if (!batch && (p[1].revents & POLLIN)) {
            int c = read_key(0);
            if (c >= 0 && key(v, c) == 'q') {
                end = NULL;
                quit = true;
                break;
            }
            redraw = rd.nrounds > 0;
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            char chunk[4096];
            ssize_t n = read(fd, chunk, sizeof(chunk));
            if (n <= 0)
                break;
            bool halted = false;
            for (ssize_t k = 0; k < n; k++) {
                if (chunk[k] == '\r')
                    continue;
                if (blen + 2 >= bcap)
                    buf = xrealloc(buf, bcap = bcap * 2 + 1024);
                buf[blen++] = chunk[k];
                if (chunk[k] != '\n' && blen < 65536)
                    continue;
                buf[blen] = '\0';
                if (log) {
                    fwrite(buf, 1, blen, log);
                    fflush(log);
                }
                bool round_done = reader_line(&rd, buf, blen);
                if (ask && !asked && strstr(buf, " type=hello ")) {
                    char cmd[64];
                    int len = snprintf(cmd, sizeof(cmd), "%s cmd=report period_ms=%u\n",
                                       PROTO_TAG, (unsigned)(delay * 1000));
                    write_all(fd, cmd, (size_t)len);
                    asked = true;
                }
                if (buf[blen - 1] == '\n')
                    buf[blen - 1] = '\0';
                if (halt_status(buf) >= 0) {
                    snprintf(status, sizeof(status), "the VMM halted (%s)", buf);
                    halted = true;
                }
                blen = 0;
                if (round_done) {
                    redraw = true;
                    if (batch) {
                        render(&s, &rd, rd.nrounds - 1, v, "");
                        fwrite(s.buf, 1, s.len, stdout);
                        putchar('\n');
                        fflush(stdout);
                        if (iters && ++shown >= iters) {
                            end = NULL;
                            goto out;
                        }
                    }
                }
            }
            halted_seen |= halted;
            if (halted && batch) {
                end = NULL;
                break;
            }
            if (halted)
                redraw = rd.nrounds > 0;
        }
        if (redraw && !batch && rd.nrounds) {
            char st[200];
            snprintf(st, sizeof(st), "%s  keys: q quit, s sort, v vcpus",
                     status[0] == 'w' ? "live" : status);
            render(&s, &rd, rd.nrounds - 1, v, st);
            show(&s);
            if (iters && ++shown >= iters) {
                end = NULL;
                break;
            }
        }
    }
out:
    /* Interactive: the last screen stays until q, with what ended the session. */
    while (!batch && !quit) {
        char st[200];
        snprintf(st, sizeof(st), "%s; q quits, s sort, v vcpus",
                 halted_seen ? status : "the connection closed");
        if (rd.nrounds)
            render(&s, &rd, rd.nrounds - 1, v, st);
        else
            s.len = 0, put(&s, "vsched top - %s - %s\n", v->source, st);
        show(&s);
        int c = read_key(-1);
        if (c >= 0 && key(v, c) == 'q')
            quit = true;
    }
    if (halted_seen)
        end = NULL;
    term_restore();
    if (log)
        fclose(log);
    close(fd);
    if (end)
        fprintf(stderr, "%s: %s\n", prog, end);
    bool none = rd.nrounds == 0;
    reader_free(&rd);
    return none ? 1 : 0;
}

int cmd_top(int argc, char **argv)
{
    const char *sock = NULL, *tcp = NULL, *log_path = NULL;
    bool batch = false, ask = true, delay_set = false;
    double delay = 1;
    uint64_t iters = 0, n;
    struct view v = { .sort = S_USED };
    static const struct option opts[] = {
        { "socket", required_argument, 0, 'S' }, { "tcp", required_argument, 0, 'T' },
        { "batch", no_argument, 0, 'b' }, { "delay", required_argument, 0, 'd' },
        { "iterations", required_argument, 0, 'n' }, { "sort", required_argument, 0, 'o' },
        { "vcpus", no_argument, 0, 'v' }, { "log", required_argument, 0, 'l' },
        { "no-report", no_argument, 0, 'R' }, { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    int o;
    while ((o = getopt_long(argc, argv, "bd:n:h", opts, NULL)) != -1) {
        switch (o) {
        case 'S': sock = optarg; break;
        case 'T': tcp = optarg; break;
        case 'b': batch = true; break;
        case 'd': {
            char *e;
            errno = 0;
            delay = strtod(optarg, &e);
            if (errno || *e || !(delay >= 0.01 && delay <= 60))
                usage_error("top: -d wants seconds from 0.01 to 60, not '%s'", optarg);
            delay_set = true;
            break;
        }
        case 'n':
            if (!parse_uint(optarg, &n) || !n)
                usage_error("top: -n wants a positive count, not '%s'", optarg);
            iters = n;
            break;
        case 'o': {
            int k = -1;
            for (int i = 0; i < S_KEYS; i++)
                if (!strcmp(optarg, sort_names[i]))
                    k = i;
            if (k < 0)
                usage_error("top: --sort %s: used, rdy, cstp, wait, wake, mig, exits or name",
                            optarg);
            v.sort = (enum sort_key)k;
            break;
        }
        case 'v': v.vcpus = true; break;
        case 'l': log_path = optarg; break;
        case 'R': ask = false; break;
        case 'h': fputs(top_help, stdout); return 0;
        default: usage_error("top: see vsched-ctl top --help");
        }
    }
    int sources = (sock != NULL) + (tcp != NULL) + (optind < argc);
    if (sources != 1 || optind + 1 < argc)
        usage_error("top: one of LOG, --socket PATH, --tcp HOST:PORT (vsched-ctl top --help)");
    if (log_path && optind < argc)
        usage_error("top: --log is for a live VMM");
    if (optind < argc) {
        v.source = argv[optind];
        return top_log(argv[optind], &v, batch, delay_set ? delay : 0, iters);
    }
    v.source = sock ? sock : tcp;
    return top_live(sock, tcp, log_path, &v, batch, delay, iters, ask);
}
