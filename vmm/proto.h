/* The console protocol, version 2: machine-readable records from the VMM and commands to it,
 * one ASCII line each, on COM1 next to the human-readable console.  The reference (every record
 * type, key and command) is docs/protocol.md.
 *
 *   VMM -> host record:   @vs2 seq=<n> type=<type> key=value ...
 *   host -> VMM command:  @vs2 cmd=<name> [id=<n>] key=value ...
 *
 * Keys are [a-z0-9_]+; values are decimal integers, tokens (printable ASCII without space, '"'
 * or '\'), or double-quoted strings with \" and \\ escapes.  A line is at most
 * PROTO_LINE_MAX bytes including its '\n' (a '\r' before it is not counted).
 *
 * Pure and freestanding (string.h only, no floating point, no state outside the caller's
 * structs): shared by the VMM, tools/vsched-sim, tools/vsched-ctl and tests/unit/test_proto.c. */
#ifndef VSCHED_VMM_PROTO_H
#define VSCHED_VMM_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sched/acct.h"   /* struct sched_acct */
#include "sched/hist.h"   /* struct hist, HIST_BUCKETS */
#include "sched/trace.h"  /* struct sched_trace_event */
#include "vmm/config.h"   /* enum cfg_gang, CFG_NAME_MAX, CFG_MAX_VCPUS */

#define PROTO_VERSION    2
#define PROTO_TAG        "@vs2"
#define PROTO_TAG_PREFIX "@vs"  /* lines without it are not protocol lines */
#define PROTO_LINE_MAX   512    /* bytes of a line including its '\n' */
#define PROTO_MAX_PAIRS  48     /* key=value pairs of one line, the tag not counted */
#define PROTO_KEY_MAX    32     /* a key's length, NUL included */
#define PROTO_ERR_MAX    128    /* a comfortable size for error messages */

/* ---- formatter (records and commands) ----
 * proto_begin(); any number of proto_u64/i64/tok/str(); proto_end().  A pair that would make
 * the line longer than PROTO_LINE_MAX, a bad key (not [a-z0-9_]+, or longer than
 * PROTO_KEY_MAX - 1) or a bad token (empty, or a character other than '!'..'~' without '"' and
 * '\') is not written and marks the line bad; proto_end() then returns -1.  A line is never
 * cut.  Text passed to proto_str() is quoted, '"' and '\' escaped, and any byte outside
 * ' '..'~' written as '?'. */
struct proto_line {
    char buf[PROTO_LINE_MAX + 1]; /* the line, its '\n' and a NUL */
    uint32_t len;                 /* bytes in buf, without the '\n' until proto_end() */
    bool overflow;                /* a pair did not fit */
    bool bad;                     /* a bad key or token was given */
};

void proto_begin(struct proto_line *l, uint64_t seq, const char *type); /* "@vs1 seq=N type=T" */
void proto_begin_cmd(struct proto_line *l, const char *cmd);            /* "@vs1 cmd=NAME" */
void proto_u64(struct proto_line *l, const char *key, uint64_t v);
void proto_i64(struct proto_line *l, const char *key, int64_t v);
void proto_tok(struct proto_line *l, const char *key, const char *token);
void proto_str(struct proto_line *l, const char *key, const char *text);
/* Bytes still free for " key=value" pairs (the '\n' is already reserved). */
size_t proto_room(const struct proto_line *l);
/* Appends '\n' (and a NUL) and returns the line's length including the '\n', or -1 when the
 * line overflowed or got a bad key or token; then l->buf holds no usable line. */
int proto_end(struct proto_line *l);

/* ---- histogram buckets (sparse) ----
 * A histogram value is a token of ','-separated items: "I:N" is bucket I (sched/hist.h
 * numbering) with count N, a bare "N" the bucket after the previous item's.  Only nonzero
 * buckets are written, except that one zero between two nonzero ones is written as "0" when
 * that is shorter than a jump.  Example: "20:3,15,0,2,31:1".
 *
 * proto_hist() appends KEY=<items> for the nonzero buckets from *FROM on, as many as fit in the
 * line (at least one, or nothing at all), and moves *FROM past the last bucket written.
 * Returns true when every nonzero bucket from the original *FROM on is written (also when there
 * was none: then nothing is appended). */
bool proto_hist(struct proto_line *l, const char *key, const uint32_t *bucket, unsigned nbuckets,
                unsigned *from);

/* ---- accounting records ----
 * The records of a round (docs/protocol.md) built from plain values, so that the VMM
 * (vmm/report.c) and the simulator (tools/vsched-sim) print the same bytes for the same
 * numbers.  Counters and times that are 0 are left out (a reader takes a missing one as 0).  A
 * histogram that does not fit its record continues in "hist" records of the same round.  Every
 * line goes through W->out; a record that cannot be formatted (a bug) becomes an "error"
 * record, counted in W->bad. */
struct proto_writer {
    uint64_t seq;    /* of the next record */
    void (*out)(void *ctx, const char *line, size_t len);
    void *ctx;
    uint64_t bad;    /* records that did not fit a line */
};

/* Ends L (proto_end) and hands it to W->out with the next seq; the line was begun with
 * proto_begin(L, W->seq, ...). */
void proto_emit(struct proto_writer *w, struct proto_line *l);

struct proto_hello_rec {
    const char *version, *backend, *policy;
    uint32_t pcpus, vms, report_ms;
    uint64_t tsc_khz;              /* 0 = none (simulator): left out */
};
/* The hello record: once, first (seq 0). */
void proto_put_hello(struct proto_writer *w, const struct proto_hello_rec *h);

enum proto_exit_kind {
    PROTO_EXIT_HLT, PROTO_EXIT_MSR, PROTO_EXIT_IO, PROTO_EXIT_CPUID, PROTO_EXIT_HC,
    PROTO_EXIT_TIMER, PROTO_EXIT_EXTINT, PROTO_EXIT_WINDOW, PROTO_EXIT_OTHER, PROTO_EXITS
};
/* "hlt", "msr", "io", "cpuid", "hc", "tmr", "ext", "win", "oth": the item names of ex= */
extern const char *const proto_exit_names[PROTO_EXITS];

struct proto_vm_rec {
    const char *vm;          /* name */
    uint32_t id, vcpus, weight, cap;
    const char *gang;        /* "none", "strict", "relaxed" */
    const char *state;       /* "running", "exited", "stopped", "timed_out" */
    const struct hist *skew; /* gang start skew; NULL = none */
    const char *pool;        /* its CPU pool's name; NULL = the machine has no pools */
};

/* The st= name of a scheduler state (enum sched_state): "blk", "rdy", "run", "cs". */
const char *proto_vcpu_state(unsigned sched_state);

struct proto_vcpu_rec {
    const char *vm;
    uint32_t vcpu, pcpu;
    const char *state;            /* "run", "rdy", "blk", "cs" */
    const struct sched_acct *acct;
    const struct hist *wake;      /* wake-up latency */
    const uint64_t *exits;        /* [PROTO_EXITS]; NULL = none measured (simulator) */
    uint64_t irqs, timer_irqs;
};

struct proto_pcpu_rec {
    uint32_t pcpu;
    const char *pool, *policy;    /* its pool and that pool's policy; NULL = no pools */
    uint64_t idle_ns, kicks_sent, kicks_recv, notifies_sent;
    const struct hist *kick;      /* kick latency; NULL = none measured */
};

struct proto_round_rec {
    uint64_t t_ns, lifetime_ns;   /* lifetime: every vCPU's running+ready+blocked+costop */
    const char *policy;
    bool final;
};

/* A round: proto_round_begin(), the records (for each VM its vm record then its vCPUs'; then
 * the pCPUs), proto_round_end().  The round's number is R->round. */
struct proto_round {
    uint64_t round;
    uint64_t first_seq;
};
void proto_round_begin(struct proto_writer *w, struct proto_round *r, uint64_t round);
void proto_put_vm(struct proto_writer *w, const struct proto_round *r,
                  const struct proto_vm_rec *v);
void proto_put_vcpu(struct proto_writer *w, const struct proto_round *r,
                    const struct proto_vcpu_rec *v);
void proto_put_pcpu(struct proto_writer *w, const struct proto_round *r,
                    const struct proto_pcpu_rec *p);
void proto_round_end(struct proto_writer *w, const struct proto_round *r,
                     const struct proto_round_rec *rr);

struct proto_msg;

/* ---- trace records ----
 * Events of one pCPU's trace ring (sched/trace.h) as records
 *   @vs2 seq=N type=trace p=P t0=T [lost=L] ev=ITEM,ITEM,...
 * ITEM = NAME:VM:VCPU:ARG:DT — NAME a sched_trace_type_name, VM and VCPU decimal or "-" (an
 * event without a vCPU), ARG decimal, DT the event's time minus the previous item's (the
 * first: minus t0, which is the first event's time), signed decimal.  LOST (left out when 0)
 * counts events of this pCPU overwritten before they were read, since the previous record.
 * proto_put_trace writes as many records as the events need (lost on the first). */
void proto_put_trace(struct proto_writer *w, uint32_t pcpu, const struct sched_trace_event *ev,
                     unsigned n, uint64_t lost);
/* The events of a trace record M into OUT[0..MAX): returns how many (*LOST: its lost=), or
 * -1 when M is not a well-formed trace record or holds more than MAX events. */
int proto_get_trace(const struct proto_msg *m, struct sched_trace_event *out, unsigned max,
                    uint64_t *lost);
/* The most events one trace record holds (each item takes at least 10 bytes). */
#define PROTO_TRACE_MAX_EVENTS (PROTO_LINE_MAX / 10)

/* ---- parser ----
 * proto_parse() checks one received line: LEN bytes, an optional trailing "\n" or "\r\n"
 * included.  Returns
 *   PROTO_OK      a protocol line; *out holds its pairs (in order, strings unescaped)
 *   PROTO_IGNORE  not a protocol line (does not start with "@vs"): ignore it
 *   PROTO_ERROR   starts with "@vs" but is bad: wrong version, too long, bad character,
 *                 bad syntax, duplicate key, too many pairs; ERR holds one line of text. */
#define PROTO_OK      0
#define PROTO_ERROR   (-1)
#define PROTO_IGNORE  1

struct proto_pair {
    const char *key;   /* NUL-terminated, in msg->text */
    const char *val;   /* NUL-terminated, unescaped; "" only for a quoted "" */
    bool quoted;       /* the value was a quoted string */
};

struct proto_msg {
    char text[PROTO_LINE_MAX];   /* copy of the line, cut into keys and values */
    uint32_t npairs;
    struct proto_pair pairs[PROTO_MAX_PAIRS];
};

int proto_parse(const char *line, size_t len, struct proto_msg *out, char *err, size_t errlen);

/* The pairs point into the message's own text: copy a message with this, never with '='. */
void proto_msg_copy(struct proto_msg *dst, const struct proto_msg *src);

/* Lookups.  Each returns false when KEY is absent or its value is not of the wanted kind:
 * u64 = unquoted decimal digits that fit 64 bits; i64 = the same with an optional '-'; tok =
 * any unquoted value; str = any value, quoted or not. */
const struct proto_pair *proto_find(const struct proto_msg *m, const char *key);
bool proto_get_u64(const struct proto_msg *m, const char *key, uint64_t *v);
bool proto_get_i64(const struct proto_msg *m, const char *key, int64_t *v);
bool proto_get_tok(const struct proto_msg *m, const char *key, const char **tok);
bool proto_get_str(const struct proto_msg *m, const char *key, const char **text);
/* Adds the buckets of histogram KEY (see proto_hist) to BUCKET[NBUCKETS]; false when KEY is
 * absent or malformed (an index past NBUCKETS, bad syntax): then BUCKET is unchanged. */
bool proto_get_hist(const struct proto_msg *m, const char *key, uint64_t *bucket,
                    unsigned nbuckets);

/* ---- commands (host -> VMM) ---- */
enum proto_cmd_kind {
    PROTO_CMD_NONE,    /* only after an error: no command recognized */
    PROTO_CMD_DUMP,    /* print an accounting round now */
    PROTO_CMD_SET,     /* vm= and weight= and/or cap= */
    PROTO_CMD_POLICY,  /* name= [pool=] (the pool's policy; default: the default pool) */
    PROTO_CMD_GANG,    /* vm= mode= */
    PROTO_CMD_REPORT,  /* period_ms= */
    PROTO_CMD_TRACE,   /* [on=0|1]: tracing on or off, then drain the rings */
    PROTO_CMD_RESERVE, /* vm= budget_us= period_us= [extratime=] (rtds reservation) */
    PROTO_CMD_META,    /* tb_us= (metascheduler base timeslice, 0 = off) */
    PROTO_CMD_POOL,    /* vm= or pcpu=, to= (moves a VM or a pCPU to pool `to`) */
    PROTO_CMD_INPUT,   /* vm= and text= or hex=, [nl=0|1]: bytes for the VM's COM1 */
    PROTO_CMD_LAST = PROTO_CMD_INPUT,
};

#define PROTO_CMD_NAME_MAX  16  /* the cmd= echo, NUL included */
#define PROTO_WEIGHT_MAX    65535
#define PROTO_CAP_MAX       (100 * CFG_MAX_VCPUS) /* the VMM checks 100 * the VM's vCPUs */
#define PROTO_PERIOD_MS_MAX 60000
#define PROTO_INPUT_MAX     256   /* bytes of one input command */

struct proto_cmd {
    enum proto_cmd_kind kind;
    /* For the reply (ok or error), filled even when the command is rejected, as far as the
     * line could be read: cmd is the cmd= token ("?" when there was none usable), id valid
     * when has_id. */
    char cmd[PROTO_CMD_NAME_MAX];
    bool has_id;
    uint64_t id;
    /* Arguments; each only when its has_ flag is set. */
    bool has_vm;
    char vm[CFG_NAME_MAX];         /* set, gang: 1..23 of A-Z a-z 0-9 _ - */
    bool has_weight;
    uint32_t weight;               /* set: 1..65535 */
    bool has_cap;
    uint32_t cap;                  /* set: 0..PROTO_CAP_MAX */
    bool has_policy;
    char policy[CFG_NAME_MAX];     /* policy: 1..23 of A-Z a-z 0-9 _ - */
    bool has_gang;
    enum cfg_gang gang;            /* gang: none, strict, relaxed */
    bool has_period;
    uint32_t period_ms;            /* report: 0..60000 */
    bool has_on;
    bool on;                       /* trace: on=1 / on=0 */
    bool has_reservation;
    uint32_t rt_budget_us;         /* reserve: 0 (none) .. period_us (the library checks) */
    uint32_t rt_period_us;         /* reserve: 0, or 100..1000000 */
    bool rt_extratime;             /* reserve: extratime=0|1, default 1 */
    bool has_tb;
    uint32_t tb_us;                /* meta: 0..10000000 */
    bool has_pool;
    char pool[CFG_NAME_MAX];       /* policy: pool=, pool: to= (a name, as VM names) */
    bool has_pcpu;
    uint32_t pcpu;                 /* pool: pcpu= 0..CFG_MAX_PCPUS-1 */
    uint32_t input_len;            /* input: 1..PROTO_INPUT_MAX bytes */
    uint8_t input[PROTO_INPUT_MAX];
};

/* Parses and checks a command line as far as that is possible without the machine (the VMM
 * checks that the VM exists, cap <= 100 * its vCPUs, the policy is known).  Returns PROTO_OK,
 * PROTO_IGNORE (not a protocol line: no reply) or PROTO_ERROR (reply with one error record
 * carrying out->cmd, out->id and ERR; nothing may be changed). */
int proto_parse_cmd(const char *line, size_t len, struct proto_cmd *out, char *err,
                    size_t errlen);

const char *proto_cmd_name(enum proto_cmd_kind k); /* "dump", ...; "?" for NONE */

#endif
