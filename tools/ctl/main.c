/* vsched-ctl: the host side of the console protocol (docs/protocol.md, tools/README.md).
 * The records are read with the VMM's own parser (vmm/proto.c). */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tools/ctl/ctl.h"

const char *prog = "vsched-ctl";

static const char main_help[] =
    "usage: vsched-ctl COMMAND [options]   (vsched-ctl COMMAND --help for each)\n"
    "  session   talk to a running VMM: log its console, send commands on cue\n"
    "  summary   check a console log's records, tabulate its last complete round\n"
    "  top       live view of a running VMM or a recorded log (per VM, vCPU, pCPU)\n"
    "  export    a log's rounds as CSV or JSON (one schema per record type)\n"
    "  plot      latency CDFs, shares, ready and co-stop over time (gnuplot: PNG, SVG)\n"
    "  trace     a log's scheduling trace as Chrome/Perfetto trace JSON\n"
    "  input     send a line to a Linux VM's console (its COM1)\n"
    "The protocol and the export schema: docs/protocol.md; the tools: tools/README.md.\n";

void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (!p) {
        fprintf(stderr, "%s: out of memory\n", prog);
        exit(2);
    }
    return p;
}

bool parse_uint(const char *s, uint64_t *v)
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

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {
        { "session", cmd_session }, { "summary", cmd_summary }, { "top", cmd_top },
        { "export", cmd_export }, { "plot", cmd_plot }, { "trace", cmd_trace },
        { "input", cmd_input },
    };
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
                      !strcmp(argv[1], "help"))) {
        fputs(main_help, stdout);
        return 0;
    }
    if (argc < 2) {
        fputs(main_help, stderr);
        return 2;
    }
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (!strcmp(argv[1], cmds[i].name)) {
            optind = 1;
            return cmds[i].fn(argc - 1, argv + 1);
        }
    usage_error("unknown command '%s' (session, summary, top, export, plot, trace, input; --help)", argv[1]);
}
