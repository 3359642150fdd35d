/* vsched-ctl session: connect to an emulator's console, log it, send commands when given
 * lines appear; and the connection helpers that top shares. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tools/ctl/ctl.h"

static const char session_help[] =
    "usage: vsched-ctl session (--socket PATH | --tcp HOST:PORT) --log FILE [--echo]\n"
    "                          [--send-after PATTERN COMMAND]... [--timeout S]\n"
    "                          [--connect-timeout S] [--input VM]\n"
    "Connects to the VMM's console (tools/run-qemu --console-socket, tools/run-bochs\n"
    "--console-tcp), copies it to FILE, and sends COMMAND once a line contains PATTERN\n"
    "(re:EXPR for a regular expression); the pairs fire once each, in order.  COMMAND is\n"
    "'NAME key=value ...' (checked with the VMM's parser) or a raw line starting with '@'.\n"
    "  --echo                also copy the console to stdout\n"
    "  --timeout S           give up after S seconds (default 600)\n"
    "  --connect-timeout S   keep trying to connect for S seconds (default 30)\n"
    "  --input VM            send each line read from stdin to Linux VM VM's console\n"
    "                        (an input command, ids from 1000000 on; replies in the log)\n"
    "  -h, --help            this text\n"
    "Exit status: the VMM's halt status; 124 timeout; 125 closed without a halt line;\n"
    "2 usage.\n";

double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int try_connect(const char *sock_path, const char *tcp)
{
    if (sock_path) {
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        if (strlen(sock_path) >= sizeof(a.sun_path))
            usage_error("socket path too long: %s", sock_path);
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
    if (!colon || colon == tcp || (size_t)(colon - tcp) >= sizeof(host) || !colon[1])
        usage_error("--tcp wants HOST:PORT, not '%s'", tcp);
    memcpy(host, tcp, (size_t)(colon - tcp));
    host[colon - tcp] = '\0';
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
    int e = getaddrinfo(host, colon + 1, &hints, &res);
    if (e)
        usage_error("%s: %s", tcp, gai_strerror(e));
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

int ctl_connect(const char *sock_path, const char *tcp, double connect_s)
{
    double deadline = now_s() + connect_s;
    int fd;
    while ((fd = try_connect(sock_path, tcp)) < 0) {
        if (now_s() >= deadline) {
            fprintf(stderr, "%s: could not connect to %s within %.0f s\n", prog,
                    sock_path ? sock_path : tcp, connect_s);
            return -1;
        }
        usleep(100000);
    }
    return fd;
}

bool write_all(int fd, const char *p, size_t n)
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

int halt_status(const char *line)
{
    static const char pre[] = "halt: status=";
    if (strncmp(line, pre, sizeof(pre) - 1) != 0)
        return -1;
    uint64_t v;
    if (!parse_uint(line + sizeof(pre) - 1, &v))
        return -1;
    return v > 255 ? 255 : (int)v;
}

struct trigger {
    const char *pattern;
    bool is_regex;
    regex_t re;
    char *line;   /* what is sent, without the '\n' */
};

static void trigger_add(struct trigger *t, const char *pattern, const char *c)
{
    memset(t, 0, sizeof(*t));
    t->pattern = pattern;
    if (strncmp(pattern, "re:", 3) == 0) {
        t->is_regex = true;
        if (regcomp(&t->re, pattern + 3, REG_EXTENDED | REG_NOSUB) != 0)
            usage_error("bad regular expression '%s'", pattern + 3);
    }
    /* "@..." is sent as it is (also to test the VMM's error replies); anything else is a
     * command "NAME key=value ..." that must pass the VMM's own checks. */
    if (c[0] == '@') {
        t->line = strdup(c);
    } else {
        if (asprintf(&t->line, "%s cmd=%s", PROTO_TAG, c) < 0)
            usage_error("out of memory");
        struct proto_cmd pc;
        char err[PROTO_ERR_MAX];
        if (proto_parse_cmd(t->line, strlen(t->line), &pc, err, sizeof(err)) != PROTO_OK)
            usage_error("bad command '%s': %s", c, err);
    }
    if (strchr(t->line, '\n') || strlen(t->line) + 1 > PROTO_LINE_MAX)
        usage_error("command too long or with a newline: '%s'", c);
}

int cmd_session(int argc, char **argv)
{
    const char *sock_path = NULL, *tcp = NULL, *log_path = NULL;
    double timeout = 600, connect_timeout = 30;
    bool echo = false;
    const char *input_vm = NULL;
    struct trigger *trig = NULL;
    size_t ntrig = 0;
    uint64_t v;
    static const struct option opts[] = {
        { "socket", required_argument, 0, 's' }, { "tcp", required_argument, 0, 't' },
        { "log", required_argument, 0, 'l' }, { "echo", no_argument, 0, 'e' },
        { "timeout", required_argument, 0, 'T' },
        { "connect-timeout", required_argument, 0, 'C' },
        { "send-after", required_argument, 0, 'a' }, { "help", no_argument, 0, 'h' },
        { "input", required_argument, 0, 'I' },
        { 0, 0, 0, 0 },
    };
    int o;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 's': sock_path = optarg; break;
        case 't': tcp = optarg; break;
        case 'l': log_path = optarg; break;
        case 'e': echo = true; break;
        case 'T':
        case 'C':
            if (!parse_uint(optarg, &v))
                usage_error("--%s wants whole seconds, not '%s'",
                            o == 'T' ? "timeout" : "connect-timeout", optarg);
            *(o == 'T' ? &timeout : &connect_timeout) = (double)v;
            break;
        case 'a':
            if (optind >= argc)
                usage_error("--send-after PATTERN COMMAND: no COMMAND");
            trig = xrealloc(trig, (ntrig + 1) * sizeof(*trig));
            trigger_add(&trig[ntrig++], optarg, argv[optind++]);
            break;
        case 'I': input_vm = optarg; break;
        case 'h': fputs(session_help, stdout); return 0;
        default: usage_error("session: see vsched-ctl session --help");
        }
    }
    if (optind != argc || !sock_path == !tcp || !log_path)
        usage_error("session: --socket or --tcp, and --log (vsched-ctl session --help)");

    FILE *log = fopen(log_path, "w");
    if (!log) {
        fprintf(stderr, "%s: %s: %s\n", prog, log_path, strerror(errno));
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    double start = now_s(), deadline = start + timeout;
    int fd = ctl_connect(sock_path, tcp, connect_timeout < timeout ? connect_timeout : timeout);
    if (fd < 0)
        return now_s() >= deadline ? 124 : 125;

    size_t next = 0;
    char *buf = NULL;
    size_t blen = 0, bcap = 0;
    unsigned lineno = 0;
    char typed[PROTO_LINE_MAX + 1];    /* --input: the line being typed */
    size_t typed_len = 0;
    uint64_t input_id = 1000000;
    bool stdin_open = input_vm != NULL;
    for (;;) {
        double left = deadline - now_s();
        if (left <= 0) {
            fprintf(stderr, "%s: timeout after %.0f s\n", prog, timeout);
            return 124;
        }
        struct pollfd ps[2] = { { .fd = fd, .events = POLLIN }, { .fd = 0, .events = POLLIN } };
        int pr = poll(ps, stdin_open ? 2 : 1, (int)(left * 1000) + 1);
        if (pr <= 0)
            continue;
        if (stdin_open && (ps[1].revents & (POLLIN | POLLHUP))) {
            char in[512];
            ssize_t k = read(0, in, sizeof(in));
            if (k <= 0)
                stdin_open = false;
            for (ssize_t i = 0; i < k; i++) {
                if (in[i] == '\r')
                    continue;
                if (in[i] != '\n') {
                    if (typed_len < sizeof(typed) - 1)
                        typed[typed_len++] = in[i];
                    continue;
                }
                typed[typed_len] = '\0';
                typed_len = 0;
                char cl[PROTO_LINE_MAX + 1], err[PROTO_ERR_MAX];
                if (!input_command(cl, sizeof(cl), input_vm, typed, true, input_id, err,
                                   sizeof(err))) {
                    fprintf(stderr, "%s: not sent: %s\n", prog, err);
                    continue;
                }
                input_id++;
                if (!write_all(fd, cl, strlen(cl))) {
                    fprintf(stderr, "%s: send failed: %s\n", prog, strerror(errno));
                    return 125;
                }
            }
        }
        if (!(ps[0].revents & (POLLIN | POLLHUP | POLLERR)))
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
