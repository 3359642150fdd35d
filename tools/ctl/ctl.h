/* vsched-ctl: the host side of the console protocol (docs/protocol.md, tools/README.md).
 * One program, one file per subcommand; this header is what they share: the log reader
 * (log.c), which turns protocol records into complete accounting rounds, and the field tables
 * that name every exported value (fields.c). */
#ifndef VSCHED_TOOLS_CTL_H
#define VSCHED_TOOLS_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sched/hist.h"
#include "vmm/proto.h"

extern const char *prog; /* "vsched-ctl" */

/* Usage errors: the message, then exit 2. */
void usage_error(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void *xrealloc(void *p, size_t n);
bool parse_uint(const char *s, uint64_t *v);

/* ---- the model: a run's rounds ---- */
#define NAME_MAX_ 24

struct hello_rec {
    bool seen;
    char version[64], backend[16], policy[NAME_MAX_];
    uint64_t pcpus, vms, tsc_khz, report_ms;
};

struct vm_rec {
    char vm[NAME_MAX_];
    uint64_t id, vcpus, weight, cap;
    char gang[8], state[12];
    char pool[NAME_MAX_];                /* "" = the machine has no pools */
    uint64_t gmax;
    uint64_t gh[HIST_BUCKETS];
};

struct vcpu_rec {
    char vm[NAME_MAX_];
    uint64_t vcpu, pcpu;
    char state[8];                       /* run, rdy, blk, cs */
    uint64_t run, rdy, blk, cs, runs, pre, mig, wak, irq, tirq, wmax;
    uint64_t dm;                         /* rtds deadline misses */
    uint64_t ex[PROTO_EXITS];
    uint64_t wh[HIST_BUCKETS];
};

struct pcpu_rec {
    char pool[NAME_MAX_], policy[NAME_MAX_]; /* "" = no pools */
    uint64_t pcpu, idle, ks, kr, nt, kmax;
    uint64_t kh[HIST_BUCKETS];
};

struct round {
    uint64_t r, t_ns, life_ns, seq, records;
    char policy[NAME_MAX_];
    bool final;
    unsigned line;                       /* of its round record in the log */
    struct vm_rec *vm;
    struct vcpu_rec *vcpu;
    struct pcpu_rec *pcpu;
    size_t nvm, nvcpu, npcpu;
};

/* Reads a log line by line.  Problems (seq gaps, duplicates, malformed records, incomplete
 * rounds) are counted and, unless quiet, reported on stderr as "NAME:LINE: ...". */
struct reader {
    const char *name;
    bool quiet;
    bool keep;                           /* keep every round (else only the last two) */
    struct hello_rec hello;
    struct round **rounds;
    size_t nrounds, cap;
    unsigned problems, lineno, nrecords;
    bool last_round_bad;
    /* internal */
    bool have_seq;
    uint64_t prev_seq;
    struct round *pending;
    size_t pending_records;
    uint64_t pending_first_seq;
    bool pending_bad;
};

void reader_init(struct reader *rd, const char *name, bool keep);
/* One line (its '\n' or "\r\n" optional).  Returns true when it completed a round (then
 * rd->rounds[rd->nrounds - 1] is it). */
bool reader_line(struct reader *rd, const char *line, size_t len);
/* The end of the log: counts an unfinished round as a problem.  Returns true when records
 * came after the last complete round. */
bool reader_finish(struct reader *rd);
void reader_free(struct reader *rd);
/* Reads a whole file (PATH "-" = stdin); false (message on stderr) when it cannot be opened. */
bool reader_file(struct reader *rd, const char *path);

void round_free(struct round *r);
const struct vm_rec *round_vm(const struct round *r, const char *vm);
const struct vcpu_rec *round_vcpu(const struct round *r, const char *vm, uint64_t vcpu);
const struct pcpu_rec *round_pcpu(const struct round *r, uint64_t pcpu);

/* ---- derived values (fields.c) ----
 * What the exports, summary --key and top show, by the names of docs/protocol.md's export
 * schema.  A VM's times and counts are the sums of its vCPUs', its wake-up histogram their
 * merged buckets.  Interval values compare an entity with the same one in the round before
 * (none: with the start of the run, where everything was 0). */
enum rec_kind { K_ROUND, K_VM, K_VCPU, K_PCPU, K_KINDS };
extern const char *const rec_kind_names[K_KINDS];   /* round, vm, vcpu, pcpu */

/* One entity of a round with everything a field may need. */
struct ent {
    enum rec_kind kind;
    const struct round *round;
    const char *vm, *state, *gang, *pool, *policy;
    uint64_t id, vcpus, weight, cap, vcpu, pcpu;
    uint64_t run, rdy, blk, cs, life, runs, pre, mig, wak, irq, tirq, exits, wmax, dm;
    uint64_t ex[PROTO_EXITS];
    uint64_t wh[HIST_BUCKETS];
    uint64_t gmax, gh[HIST_BUCKETS];
    uint64_t idle, ks, kr, nt, kmax, kh[HIST_BUCKETS];
    uint64_t all_run;    /* VM: the running time of every vCPU of the round (for shares) */
};

size_t ent_count(enum rec_kind k, const struct round *r);
/* The I-th entity of kind K in R. */
void ent_get(enum rec_kind k, const struct round *r, size_t i, struct ent *e);
/* The entity of R with LIKE's identity (VM name, vCPU, pCPU); false when R has none. */
bool ent_find(const struct round *r, const struct ent *like, struct ent *e);
/* The entity named by VM/VCPU/PCPU (NULL = not given: the round itself when all are). */
bool ent_lookup(const struct round *r, const char *vm, const char *vcpu, const char *pcpu,
                struct ent *e);

/* Percentile PPM of buckets B (cumulative or an interval's difference), clamped to MAX
 * (UINT64_MAX: no clamp), 0 without samples: sched/hist.c's rule. */
uint64_t buckets_percentile(const uint64_t *b, uint64_t max, uint32_t ppm);
uint64_t buckets_count(const uint64_t *b);

/* A value: a number, a string, or a fixed-point number with 2 decimals (pct, rates). */
struct value {
    enum { V_NUM, V_STR, V_FIX2 } kind;
    uint64_t num;        /* V_NUM; V_FIX2: hundredths */
    const char *str;
};

struct field {
    const char *name;
    int id;              /* private to fields.c */
    bool interval;       /* compares with the round before */
};
/* The fields of a kind, in export order; *N set to their count. */
const struct field *kind_fields(enum rec_kind k, size_t *n);
const struct field *field_find(enum rec_kind k, const char *name);
/* Field F of CUR; PREV is the same entity in the round before (NULL: none). */
struct value field_value(const struct field *f, const struct ent *cur, const struct ent *prev);
void value_print(FILE *f, struct value v, bool json);
/* The value of field NAME (must exist) as a number: V_FIX2 in hundredths. */
uint64_t field_num(enum rec_kind k, const char *name, const struct ent *cur,
                   const struct ent *prev);

/* ---- connections (session.c) ---- */
/* Connects to a unix socket or HOST:PORT, retrying every 100 ms for CONNECT_S seconds;
 * returns the fd or -1 (message on stderr). */
int ctl_connect(const char *sock_path, const char *tcp, double connect_s);
double now_s(void);
bool write_all(int fd, const char *p, size_t n);
int halt_status(const char *line);   /* "halt: status=N" -> N, else -1 */

/* ---- subcommands ---- */
int cmd_summary(int argc, char **argv);
int cmd_session(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_input(int argc, char **argv);
/* The input command (cmd=input) for one line of TEXT to VM, into OUT; false with ERR when
 * TEXT is not printable ASCII or does not pass the VMM's checks (too long, bad VM name). */
bool input_command(char *out, size_t cap, const char *vm, const char *text, bool nl,
                   uint64_t id, char *err, size_t errlen);

#endif
