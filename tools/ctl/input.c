/* vsched-ctl input: one line of console input for a Linux VM's COM1 (cmd=input), sent over
 * the VMM's console; and the command line that session --input builds for each line typed. */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/ctl/ctl.h"

static const char input_help[] =
    "usage: vsched-ctl input (--socket PATH | --tcp HOST:PORT) [--no-newline] [--id N]\n"
    "                        [--timeout S] [--after PATTERN] VM TEXT\n"
    "Sends TEXT and a line feed to the COM1 of Linux VM VM (the VMM's input command,\n"
    "docs/protocol.md) and waits for the VMM's reply.  TEXT: printable ASCII, at most 255\n"
    "bytes (256 with --no-newline).  The emulator's console must have no other client.\n"
    "  --no-newline   no line feed after TEXT\n"
    "  --id N         the command's id (default 1)\n"
    "  --after PATTERN  send once a console line contains PATTERN (e.g. type=hello when\n"
    "                 the emulator starts with this client: the VMM reads commands only\n"
    "                 while its VMs run; bytes sent during the firmware's boot are lost)\n"
    "  --timeout S    give up after S seconds (default 30)\n"
    "  -h, --help     this text\n"
    "Exit status: 0 ok; 1 the VMM refused it (its error on stderr); 124 no reply in time;\n"
    "125 connection closed; 2 usage.\n";

bool input_command(char *out, size_t cap, const char *vm, const char *text, bool nl,
                   uint64_t id, char *err, size_t errlen)
{
    for (const char *p = text; *p; p++)
        if (*p < ' ' || *p > '~') {
            snprintf(err, errlen, "TEXT must be printable ASCII (byte 0x%02x)", (unsigned char)*p);
            return false;
        }
    struct proto_line l;
    proto_begin_cmd(&l, "input");
    proto_u64(&l, "id", id);
    proto_tok(&l, "vm", vm);
    proto_str(&l, "text", text);
    if (nl)
        proto_u64(&l, "nl", 1);
    int n = proto_end(&l);
    struct proto_cmd c;
    if (n < 0) {
        snprintf(err, errlen, "VM name or TEXT do not fit a command line");
        return false;
    }
    if (proto_parse_cmd(l.buf, (size_t)n, &c, err, errlen) != PROTO_OK)
        return false;
    if ((size_t)n + 1 > cap) {
        snprintf(err, errlen, "command too long");
        return false;
    }
    memcpy(out, l.buf, (size_t)n + 1);
    return true;
}

int cmd_input(int argc, char **argv)
{
    const char *sock_path = NULL, *tcp = NULL;
    uint64_t id = 1, v;
    double timeout = 30;
    bool nl = true;
    const char *after = NULL;
    static const struct option opts[] = {
        { "socket", required_argument, 0, 's' }, { "tcp", required_argument, 0, 't' },
        { "no-newline", no_argument, 0, 'n' }, { "id", required_argument, 0, 'i' },
        { "timeout", required_argument, 0, 'T' }, { "help", no_argument, 0, 'h' },
        { "after", required_argument, 0, 'a' },
        { 0, 0, 0, 0 },
    };
    int o;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 's': sock_path = optarg; break;
        case 't': tcp = optarg; break;
        case 'n': nl = false; break;
        case 'a': after = optarg; break;
        case 'i':
            if (!parse_uint(optarg, &id))
                usage_error("--id wants a decimal number, not '%s'", optarg);
            break;
        case 'T':
            if (!parse_uint(optarg, &v))
                usage_error("--timeout wants whole seconds, not '%s'", optarg);
            timeout = (double)v;
            break;
        case 'h': fputs(input_help, stdout); return 0;
        default: usage_error("input: see vsched-ctl input --help");
        }
    }
    if (argc - optind != 2 || !sock_path == !tcp)
        usage_error("input: --socket or --tcp, then VM TEXT (vsched-ctl input --help)");
    char line[PROTO_LINE_MAX + 1], err[PROTO_ERR_MAX];
    if (!input_command(line, sizeof(line), argv[optind], argv[optind + 1], nl, id, err,
                       sizeof(err)))
        usage_error("input: %s", err);

    signal(SIGPIPE, SIG_IGN);
    double deadline = now_s() + timeout;
    int fd = ctl_connect(sock_path, tcp, timeout);
    if (fd < 0)
        return 125;
    bool sent = false;
    if (!after && !(sent = write_all(fd, line, strlen(line)))) {
        fprintf(stderr, "%s: send failed: %s\n", prog, strerror(errno));
        return 125;
    }
    /* The reply: the ok or error record that echoes cmd=input and this id. */
    char buf[PROTO_LINE_MAX * 4];
    size_t len = 0;
    for (;;) {
        double left = deadline - now_s();
        if (left <= 0) {
            fprintf(stderr, "%s: %s within %.0f s\n", prog,
                    sent ? "no reply" : "the --after line did not come", timeout);
            return 124;
        }
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, (int)(left * 1000) + 1) <= 0)
            continue;
        ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "%s: connection closed before the reply\n", prog);
            return 125;
        }
        len += (size_t)n;
        char *nlp;
        while ((nlp = memchr(buf, '\n', len))) {
            size_t ll = (size_t)(nlp - buf) + 1;
            if (!sent && memmem(buf, ll, after, strlen(after))) {
                if (!write_all(fd, line, strlen(line))) {
                    fprintf(stderr, "%s: send failed: %s\n", prog, strerror(errno));
                    return 125;
                }
                sent = true;
            }
            struct proto_msg m;
            const char *type, *cmd;
            uint64_t rid;
            if (proto_parse(buf, ll, &m, err, sizeof(err)) == PROTO_OK &&
                proto_get_tok(&m, "type", &type) && proto_get_tok(&m, "cmd", &cmd) &&
                !strcmp(cmd, "input") && proto_get_u64(&m, "id", &rid) && rid == id &&
                (!strcmp(type, "ok") || !strcmp(type, "error"))) {
                const char *msg = "";
                proto_get_str(&m, "msg", &msg);
                bool ok = !strcmp(type, "ok");
                if (ok)
                    printf("%.*s", (int)ll, buf);
                else
                    fprintf(stderr, "%s: %s\n", prog, msg);
                close(fd);
                return ok ? 0 : 1;
            }
            memmove(buf, buf + ll, len - ll);
            len -= ll;
        }
        if (len == sizeof(buf) - 1)
            len = 0; /* a very long non-protocol line: not the reply */
    }
}
