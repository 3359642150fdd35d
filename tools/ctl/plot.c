/* vsched-ctl plot: figures of one or more logs with gnuplot (PNG and/or SVG): the wake-up
 * latency CDF per VM (from the last round's histogram buckets), each VM's share of the
 * running time per interval, and %RDY / %CSTP per interval. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tools/ctl/ctl.h"

static const char plot_help[] =
    "usage: vsched-ctl plot LOG... --out DIR [--format png|svg|both] [--vm NAME]...\n"
    "                       [--title TEXT]\n"
    "Draws, with gnuplot, from the complete rounds of each LOG:\n"
    "  DIR/latency_cdf.EXT    wake-up latency per VM (the last round's buckets): the CDF and\n"
    "                         its tail (1 - CDF, log y) over log x;\n"
    "                         VMs with fewer than 10 wake-ups are left out\n"
    "  DIR/share.EXT          each VM's share of the running time per interval, over time\n"
    "  DIR/ready_costop.EXT   %RDY and %CSTP per interval (percent of one pCPU), over time\n"
    "With several LOGs every curve is named after its log's policy (or the file name when\n"
    "policies repeat).  The data behind each figure is kept in DIR/data/, the script as DIR/plot.gp.\n"
    "  --out DIR         where the figures go (created)\n"
    "  --format F        png (default), svg or both\n"
    "  --vm NAME         only this VM (repeatable)\n"
    "  --title TEXT      a title above each figure\n"
    "  -h, --help        this text\n"
    "Exit status: 0; 1 a log without a complete round, or gnuplot failed; 2 usage.\n";

/* A CDF of fewer wake-ups says nothing (a hog wakes once, at its start). */
#define CDF_MIN_SAMPLES 10

struct series {
    char label[96];
    char file[4096];
};

struct plotset {
    struct series *s;
    size_t n;
    double ymax;   /* the largest value drawn, for a y range gnuplot need not guess */
};

static void point(FILE *f, struct plotset *ps, double x, double y)
{
    fprintf(f, "%.3f %.2f\n", x, y);
    if (y > ps->ymax)
        ps->ymax = y;
}

static void yrange(FILE *g, const struct plotset *ps)
{
    fprintf(g, "set yrange [0:%g]\n", ps->ymax > 0 ? ps->ymax * 1.08 : 1.0);
}

static FILE *series_new(struct plotset *ps, const char *dir, const char *fig, const char *label)
{
    ps->s = xrealloc(ps->s, (ps->n + 1) * sizeof(*ps->s));
    struct series *s = &ps->s[ps->n];
    snprintf(s->label, sizeof(s->label), "%s", label);
    snprintf(s->file, sizeof(s->file), "%s/data/%s_%zu.dat", dir, fig, ps->n);
    ps->n++;
    FILE *f = fopen(s->file, "w");
    if (!f)
        usage_error("plot: %s: %s", s->file, strerror(errno));
    fprintf(f, "# %s\n", label);
    return f;
}

static bool wanted(const char *vm, char **vms, size_t nvms)
{
    if (!nvms)
        return true;
    for (size_t i = 0; i < nvms; i++)
        if (!strcmp(vm, vms[i]))
            return true;
    return false;
}

/* gnuplot's text: no quotes or backslashes in labels (names are protocol tokens anyway). */
static void clean(char *s)
{
    for (; *s; s++)
        if (*s == '"' || *s == '\\' || *s == '\'')
            *s = '_';
        else if (*s == '_')
            *s = '-';   /* '_' is a subscript in gnuplot's enhanced text */
}

static void plot_cmd(FILE *g, const struct plotset *ps, const char *using, const char *with)
{
    fputs("plot ", g);
    for (size_t i = 0; i < ps->n; i++)
        fprintf(g, "%s'%s' using %s with %s lw 2 title \"%s\"", i ? ", \\\n     " : "",
                ps->s[i].file, using, with, ps->s[i].label);
    fputs("\n", g);
}

int cmd_plot(int argc, char **argv)
{
    const char *dir = NULL, *format = "png", *title = "";
    char **vms = NULL;
    size_t nvms = 0;
    static const struct option opts[] = {
        { "out", required_argument, 0, 'o' }, { "format", required_argument, 0, 'f' },
        { "vm", required_argument, 0, 'm' }, { "title", required_argument, 0, 't' },
        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
    };
    int o;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'o': dir = optarg; break;
        case 'f': format = optarg; break;
        case 'm':
            vms = xrealloc(vms, (nvms + 1) * sizeof(*vms));
            vms[nvms++] = optarg;
            break;
        case 't': title = optarg; break;
        case 'h': fputs(plot_help, stdout); return 0;
        default: usage_error("plot: see vsched-ctl plot --help");
        }
    }
    if (optind >= argc || !dir)
        usage_error("plot: LOG... and --out DIR (vsched-ctl plot --help)");
    bool png = !strcmp(format, "png") || !strcmp(format, "both");
    bool svg = !strcmp(format, "svg") || !strcmp(format, "both");
    if (!png && !svg)
        usage_error("plot: --format png, svg or both, not '%s'", format);
    if (strchr(dir, '\'') || strchr(title, '"') || strchr(title, '\\'))
        usage_error("plot: no quotes in --out or --title");
    char data[4096];
    snprintf(data, sizeof(data), "%s/data", dir);
    if ((mkdir(dir, 0777) < 0 && errno != EEXIST) || (mkdir(data, 0777) < 0 && errno != EEXIST)) {
        fprintf(stderr, "%s: %s: %s\n", prog, dir, strerror(errno));
        return 2;
    }

    size_t nlogs = (size_t)(argc - optind);
    struct reader *rds = xrealloc(NULL, nlogs * sizeof(*rds));
    char (*tags)[64] = xrealloc(NULL, nlogs * sizeof(*tags));
    for (size_t l = 0; l < nlogs; l++) {
        const char *path = argv[optind + (int)l];
        reader_init(&rds[l], path, true);
        rds[l].quiet = true;
        if (!reader_file(&rds[l], path))
            return 2;
        reader_finish(&rds[l]);
        if (!rds[l].nrounds) {
            fprintf(stderr, "%s: %s: no complete accounting round\n", prog, path);
            return 1;
        }
        snprintf(tags[l], sizeof(tags[l]), "%s", rds[l].rounds[rds[l].nrounds - 1]->policy);
    }
    /* Curves are named after the policy unless two logs share one: then the file name. */
    bool by_file = false;
    for (size_t a = 0; a < nlogs; a++)
        for (size_t b = a + 1; b < nlogs; b++)
            by_file |= !strcmp(tags[a], tags[b]);
    for (size_t l = 0; by_file && l < nlogs; l++) {
        const char *base = strrchr(argv[optind + (int)l], '/');
        base = base ? base + 1 : argv[optind + (int)l];
        snprintf(tags[l], sizeof(tags[l]), "%.*s", (int)strcspn(base, "."), base);
    }

    struct plotset cdf = { 0 }, share = { 0 }, ready = { 0 }, costop = { 0 };
    for (size_t l = 0; l < nlogs; l++) {
        const struct reader *rd = &rds[l];
        const struct round *last = rd->rounds[rd->nrounds - 1];
        for (size_t v = 0; v < last->nvm; v++) {
            static struct ent e, ce, pe;
            ent_get(K_VM, last, v, &e);
            if (!wanted(e.vm, vms, nvms))
                continue;
            char label[96];
            snprintf(label, sizeof(label), "%s%s%s", nlogs > 1 ? tags[l] : "",
                     nlogs > 1 ? " " : "", e.vm);
            clean(label);
            uint64_t total = buckets_count(e.wh), cum = 0;
            double tail = 1.0;
            if (total >= CDF_MIN_SAMPLES) {
                FILE *f = series_new(&cdf, dir, "latency_cdf", label);
                for (unsigned b = 0; b < HIST_BUCKETS; b++) {
                    if (!e.wh[b])
                        continue;
                    /* x (us), CDF, and 1 - CDF for the tail panel (NaN where 0: log y) */
                    if (!cum)   /* the curve starts at 0 at the first bucket's lower bound */
                        fprintf(f, "%.3f 0 1\n", (double)(b ? hist_bucket_upper(b - 1) + 1 : 1) / 1000.0);
                    cum += e.wh[b];
                    uint64_t hi = hist_bucket_upper(b);
                    if (hi > e.wmax && e.wmax)
                        hi = e.wmax;
                    double c = (double)cum / (double)total;
                    /* At the last bucket the tail keeps its last level up to the maximum
                     * (1 - CDF = 0 has no place on a log axis). */
                    if (cum < total)
                        tail = 1.0 - c;
                    fprintf(f, "%.3f %.6f %.6g\n", (double)hi / 1000.0, c, tail);
                }
                fclose(f);
            }
            FILE *fs = series_new(&share, dir, "share", label);
            FILE *fr = series_new(&ready, dir, "ready", label);
            FILE *fc = series_new(&costop, dir, "costop", label);
            for (size_t i = 0; i < rd->nrounds; i++) {
                const struct round *r = rd->rounds[i];
                if (!ent_find(r, &e, &ce))
                    continue;
                bool hp = i && ent_find(rd->rounds[i - 1], &e, &pe);
                double t = (double)r->t_ns / 1e9;
                const struct ent *pp = hp ? &pe : NULL;
                point(fs, &share, t, (double)field_num(K_VM, "share_pct", &ce, pp) / 100.0);
                point(fr, &ready, t, (double)field_num(K_VM, "ready_pct", &ce, pp) / 100.0);
                point(fc, &costop, t, (double)field_num(K_VM, "costop_pct", &ce, pp) / 100.0);
            }
            fclose(fs);
            fclose(fr);
            fclose(fc);
        }
    }
    if (!share.n) {
        fprintf(stderr, "%s: plot: no VM to draw%s\n", prog, nvms ? " (check --vm)" : "");
        return 1;
    }

    char script[4096];
    snprintf(script, sizeof(script), "%s/plot.gp", dir);
    FILE *g = fopen(script, "w");
    if (!g) {
        fprintf(stderr, "%s: %s: %s\n", prog, script, strerror(errno));
        return 2;
    }
    fputs("# written by vsched-ctl plot; run with gnuplot\n"
          "set grid\nset key outside right top\nset border lw 1.5\n", g);
    for (int pass = 0; pass < 2; pass++) {
        const char *ext = pass ? "svg" : "png";
        if ((pass == 0 && !png) || (pass == 1 && !svg))
            continue;
        const char *term = pass ? "svg dynamic font 'Sans,14' size" : "pngcairo font 'Sans,11' size";
        if (cdf.n) {
            fprintf(g, "set terminal %s 1000,900\nset output '%s/latency_cdf.%s'\n", term, dir, ext);
            fprintf(g, "set multiplot layout 2,1 title \"%s%swake-up latency (runnable -> "
                    "running)\"\nset title ''\n", title, title[0] ? ": " : "");
            fputs("set lmargin at screen 0.08\nset rmargin at screen 0.8\n"   /* panels aligned */
                  "set logscale x 10\nset format x '10^{%L}'\nset xlabel ''\n"
                  "set ylabel 'CDF: fraction at or below'\nset yrange [0:1.02]\n"
                  "set xrange [*:*]\n", g);
            plot_cmd(g, &cdf, "1:2", "steps");
            fputs("set logscale y 10\nset format y '10^{%L}'\nset yrange [*:1.5]\n"
                  "set ylabel 'tail: fraction above (log)'\n"
                  "set xlabel 'latency (us, log scale)'\nunset key\n", g);
            plot_cmd(g, &cdf, "1:3", "steps");
            fputs("unset multiplot\nunset logscale x\nunset logscale y\nset format y '%g'\n"
                  "set format x '%g'\nset yrange [*:*]\nset key outside right top\n"
                  "set lmargin -1\nset rmargin -1\n", g);
        }
        fprintf(g, "set terminal %s 1000,600\nset output '%s/share.%s'\n", term, dir, ext);
        fprintf(g, "set title \"%s%sshare of the running time, per interval\"\n", title,
                title[0] ? ": " : "");
        fputs("set xlabel 'time (s)'\nset ylabel 'share (%)'\n", g);
        yrange(g, &share);
        plot_cmd(g, &share, "1:2", "linespoints");
        fprintf(g, "set terminal %s 1000,800\nset output '%s/ready_costop.%s'\n", term,
                dir, ext);
        fprintf(g, "set multiplot layout 2,1 title \"%s%sready and co-stopped time, per "
                "interval\"\nset title ''\n", title, title[0] ? ": " : "");
        fputs("set ylabel '%RDY (% of one pCPU)'\nset xlabel ''\n", g);
        yrange(g, &ready);
        plot_cmd(g, &ready, "1:2", "linespoints");
        fputs("set ylabel '%CSTP (% of one pCPU)'\nset xlabel 'time (s)'\n", g);
        yrange(g, &costop);
        plot_cmd(g, &costop, "1:2", "linespoints");
        fputs("unset multiplot\nset yrange [*:*]\n", g);
    }
    fclose(g);
    pid_t pid = fork();
    if (pid == 0) {
        execlp("gnuplot", "gnuplot", script, (char *)NULL);
        fprintf(stderr, "%s: plot: cannot run gnuplot: %s (Debian: apt-get install "
                "gnuplot-nox; tools/deps.sh test)\n", prog, strerror(errno));
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "%s: plot: gnuplot failed (script %s)\n", prog, script);
        return 1;
    }
    printf("%s/latency_cdf, share, ready_costop (%s)\n", dir, format);
    return 0;
}
