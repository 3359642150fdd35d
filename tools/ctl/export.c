/* vsched-ctl export: a log's complete rounds as CSV or JSON, one table per record type, with
 * totals and per-interval values (docs/protocol.md, "Exported values"), histograms as buckets. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tools/ctl/ctl.h"

static const char export_help[] =
    "usage: vsched-ctl export LOG (--csv | --json) [--type TYPE] [--dir DIR] [-o FILE]\n"
    "                         [--last] [--label TEXT]\n"
    "Writes the complete accounting rounds of a console log (or of vsched-sim --records) as\n"
    "tables: round, vm, vcpu, pcpu (totals since the start and per-interval values) and hist\n"
    "(histogram buckets with their bounds and CDF).  Schema: docs/protocol.md.\n"
    "  --csv            CSV: one table (--type, default vm) on stdout, or every table into\n"
    "                   --dir DIR as DIR/TYPE.csv\n"
    "  --json           one JSON object {\"hello\": {...}, \"round\": [...], \"vm\": [...], ...}\n"
    "  --type TYPE      round, vm, vcpu, pcpu or hist: only this table\n"
    "  --dir DIR        (CSV) one file per table in DIR (created)\n"
    "  -o FILE          write to FILE instead of stdout\n"
    "  --last           only the last complete round\n"
    "  --label TEXT     a first column 'label' with TEXT in every row (to merge runs)\n"
    "  -h, --help       this text\n"
    "Exit status: 0; 1 the log has no complete round; 2 usage or unreadable file.\n";

#define T_HIST K_KINDS   /* the tables: the record kinds, then hist */
static const char *const table_names[] = { "round", "vm", "vcpu", "pcpu", "hist" };

struct out {
    FILE *f;
    bool json;
    const char *label;
    bool first_row;
};

static void row_begin(struct out *o)
{
    if (o->json) {
        fputs(o->first_row ? "\n    {" : ",\n    {", o->f);
        if (o->label)
            fprintf(o->f, "\"label\": \"%s\", ", o->label);
    } else if (o->label) {
        fprintf(o->f, "%s,", o->label);
    }
    o->first_row = false;
}

static void cell(struct out *o, const char *name, struct value v, bool first)
{
    if (o->json) {
        fprintf(o->f, "%s\"%s\": ", first ? "" : ", ", name);
    } else if (!first) {
        fputc(',', o->f);
    }
    value_print(o->f, v, o->json);
}

static void row_end(struct out *o)
{
    fputs(o->json ? "}" : "\n", o->f);
}

static void header(struct out *o, int table)
{
    if (o->json)
        return;
    if (o->label)
        fputs("label,", o->f);
    if (table == T_HIST) {
        fputs("round,t_ns,of,vm,vcpu,pcpu,hist,bucket,lo_ns,hi_ns,count,cum,cdf\n", o->f);
        return;
    }
    size_t n;
    const struct field *f = kind_fields((enum rec_kind)table, &n);
    for (size_t i = 0; i < n; i++)
        fprintf(o->f, "%s%s", i ? "," : "", f[i].name);
    fputc('\n', o->f);
}

static void kind_rows(struct out *o, enum rec_kind k, const struct round *cur,
                      const struct round *prev)
{
    size_t nf, ne = ent_count(k, cur);
    const struct field *f = kind_fields(k, &nf);
    static struct ent e, pe;
    for (size_t i = 0; i < ne; i++) {
        ent_get(k, cur, i, &e);
        bool have_prev = prev && ent_find(prev, &e, &pe);
        row_begin(o);
        for (size_t j = 0; j < nf; j++)
            cell(o, f[j].name, field_value(&f[j], &e, have_prev ? &pe : NULL), j == 0);
        row_end(o);
    }
}

static struct value num(uint64_t v) { return (struct value){ V_NUM, v, NULL }; }
static struct value str(const char *s) { return (struct value){ V_STR, 0, s }; }

static void hist_rows(struct out *o, const struct round *r, const char *of, const char *vm,
                      const char *vcpu, const char *pcpu, const char *name, const uint64_t *b)
{
    uint64_t total = buckets_count(b), cum = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        if (!b[i])
            continue;
        cum += b[i];
        uint64_t millionths = (uint64_t)(((unsigned __int128)cum * 1000000 + total / 2) / total);
        char cdf[48];
        snprintf(cdf, sizeof(cdf), "%llu.%06llu", (unsigned long long)(millionths / 1000000),
                 (unsigned long long)(millionths % 1000000));
        row_begin(o);
        cell(o, "round", num(r->r), true);
        cell(o, "t_ns", num(r->t_ns), false);
        cell(o, "of", str(of), false);
        cell(o, "vm", str(vm), false);
        cell(o, "vcpu", str(vcpu), false);
        cell(o, "pcpu", str(pcpu), false);
        cell(o, "hist", str(name), false);
        cell(o, "bucket", num(i), false);
        cell(o, "lo_ns", num(i ? hist_bucket_upper(i - 1) + 1 : 0), false);
        cell(o, "hi_ns", num(hist_bucket_upper(i)), false);
        cell(o, "count", num(b[i]), false);
        cell(o, "cum", num(cum), false);
        if (o->json)
            fprintf(o->f, ", \"cdf\": %s", cdf);
        else
            fprintf(o->f, ",%s", cdf);
        row_end(o);
    }
}

static void round_hists(struct out *o, const struct round *r)
{
    static struct ent e;
    char a[24], b[24];
    for (size_t i = 0; i < r->nvm; i++) {
        ent_get(K_VM, r, i, &e);
        hist_rows(o, r, "vm", e.vm, "", "", "wake", e.wh);
        hist_rows(o, r, "vm", e.vm, "", "", "gang_skew", e.gh);
    }
    for (size_t i = 0; i < r->nvcpu; i++) {
        snprintf(a, sizeof(a), "%llu", (unsigned long long)r->vcpu[i].vcpu);
        hist_rows(o, r, "vcpu", r->vcpu[i].vm, a, "", "wake", r->vcpu[i].wh);
    }
    for (size_t i = 0; i < r->npcpu; i++) {
        snprintf(b, sizeof(b), "%llu", (unsigned long long)r->pcpu[i].pcpu);
        hist_rows(o, r, "pcpu", "", "", b, "kick", r->pcpu[i].kh);
    }
}

static void table(struct out *o, int t, const struct reader *rd, bool last_only)
{
    header(o, t);
    o->first_row = true;
    for (size_t i = last_only ? rd->nrounds - 1 : 0; i < rd->nrounds; i++) {
        const struct round *prev = i ? rd->rounds[i - 1] : NULL;
        if (t == T_HIST)
            round_hists(o, rd->rounds[i]);
        else
            kind_rows(o, (enum rec_kind)t, rd->rounds[i], prev);
    }
}

static void json_str(FILE *f, const char *k, const char *v, bool comma)
{
    fprintf(f, "%s\"%s\": ", comma ? ", " : "", k);
    value_print(f, str(v), true);
}

int cmd_export(int argc, char **argv)
{
    bool csv = false, json = false, last_only = false;
    const char *type = NULL, *dir = NULL, *out_path = NULL, *label = NULL;
    static const struct option opts[] = {
        { "csv", no_argument, 0, 'c' }, { "json", no_argument, 0, 'j' },
        { "type", required_argument, 0, 't' }, { "dir", required_argument, 0, 'd' },
        { "last", no_argument, 0, 'L' }, { "label", required_argument, 0, 'l' },
        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
    };
    int o;
    while ((o = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        switch (o) {
        case 'c': csv = true; break;
        case 'j': json = true; break;
        case 't': type = optarg; break;
        case 'd': dir = optarg; break;
        case 'o': out_path = optarg; break;
        case 'L': last_only = true; break;
        case 'l': label = optarg; break;
        case 'h': fputs(export_help, stdout); return 0;
        default: usage_error("export: see vsched-ctl export --help");
        }
    }
    if (optind + 1 != argc || csv == json)
        usage_error("export: one LOG and one of --csv, --json (vsched-ctl export --help)");
    if (dir && (json || out_path || type))
        usage_error("export: --dir writes every CSV table; not with --json, -o or --type");
    if (label)
        for (const char *s = label; *s; s++)
            if (*s == ',' || *s == '"' || *s == '\\' || *s < ' ' || *s > '~')
                usage_error("export: --label: printable, without , \" or \\");
    int only = -1;
    if (type) {
        for (int t = 0; t <= T_HIST; t++)
            if (!strcmp(type, table_names[t]))
                only = t;
        if (only < 0)
            usage_error("export: --type %s: round, vm, vcpu, pcpu or hist", type);
    } else if (csv && !dir) {
        only = K_VM;
    }
    const char *path = argv[optind];

    struct reader rd;
    reader_init(&rd, path, true);
    if (!reader_file(&rd, path))
        return 2;
    reader_finish(&rd);
    if (!rd.nrounds) {
        fprintf(stderr, "%s: %s: no complete accounting round\n", prog, path);
        return 1;
    }
    struct out out = { .json = json, .label = label };
    if (dir) {
        if (mkdir(dir, 0777) < 0 && errno != EEXIST) {
            fprintf(stderr, "%s: %s: %s\n", prog, dir, strerror(errno));
            return 2;
        }
        for (int t = 0; t <= T_HIST; t++) {
            char p[4096];
            snprintf(p, sizeof(p), "%s/%s.csv", dir, table_names[t]);
            if (!(out.f = fopen(p, "w"))) {
                fprintf(stderr, "%s: %s: %s\n", prog, p, strerror(errno));
                return 2;
            }
            table(&out, t, &rd, last_only);
            fclose(out.f);
        }
        reader_free(&rd);
        return 0;
    }
    out.f = out_path ? fopen(out_path, "w") : stdout;
    if (!out.f) {
        fprintf(stderr, "%s: %s: %s\n", prog, out_path, strerror(errno));
        return 2;
    }
    if (csv) {
        table(&out, only, &rd, last_only);
    } else {
        const struct hello_rec *h = &rd.hello;
        fprintf(out.f, "{\"schema\": \"vsched-export\", \"proto\": %d, \"log\": ", PROTO_VERSION);
        value_print(out.f, str(path), true);
        fputs(",\n  \"hello\": {", out.f);
        json_str(out.f, "version", h->version, false);
        json_str(out.f, "backend", h->backend, true);
        json_str(out.f, "policy", h->policy, true);
        fprintf(out.f, ", \"pcpus\": %llu, \"vms\": %llu, \"tsc_khz\": %llu, \"report_ms\": %llu}",
                (unsigned long long)h->pcpus, (unsigned long long)h->vms,
                (unsigned long long)h->tsc_khz, (unsigned long long)h->report_ms);
        for (int t = 0; t <= T_HIST; t++) {
            if (only >= 0 && t != only)
                continue;
            fprintf(out.f, ",\n  \"%s\": [", table_names[t]);
            table(&out, t, &rd, last_only);
            fputs("]", out.f);
        }
        fputs("\n}\n", out.f);
    }
    if (out_path)
        fclose(out.f);
    reader_free(&rd);
    return 0;
}
