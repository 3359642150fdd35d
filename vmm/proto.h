/* The console protocol, version 1: machine-readable records from the VMM and commands to it,
 * one ASCII line each, on COM1 next to the human-readable console.  The reference (every record
 * type, key and command) is docs/protocol.md.
 *
 *   VMM -> host record:   @vs1 seq=<n> type=<type> key=value ...
 *   host -> VMM command:  @vs1 cmd=<name> [id=<n>] key=value ...
 *
 * Keys are [a-z0-9_]+; values are decimal integers, tokens (printable ASCII without space, '"'
 * or '\'), or double-quoted strings with \" and \\ escapes.  A line is at most
 * PROTO_LINE_MAX bytes including its '\n' (a '\r' before it is not counted).
 *
 * Pure and freestanding (string.h only, no floating point, no state outside the caller's
 * structs): shared by the VMM, tools/vsched-ctl and tests/unit/test_proto.c. */
#ifndef VSCHED_VMM_PROTO_H
#define VSCHED_VMM_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/config.h"   /* enum cfg_gang, CFG_NAME_MAX, CFG_MAX_VCPUS */

#define PROTO_VERSION    1
#define PROTO_TAG        "@vs1"
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

/* ---- commands (host -> VMM) ---- */
enum proto_cmd_kind {
    PROTO_CMD_NONE,    /* only after an error: no command recognized */
    PROTO_CMD_DUMP,    /* print an accounting round now */
    PROTO_CMD_SET,     /* vm= and weight= and/or cap= */
    PROTO_CMD_POLICY,  /* name= */
    PROTO_CMD_GANG,    /* vm= mode= */
    PROTO_CMD_REPORT,  /* period_ms= */
};

#define PROTO_CMD_NAME_MAX  16  /* the cmd= echo, NUL included */
#define PROTO_WEIGHT_MAX    65535
#define PROTO_CAP_MAX       (100 * CFG_MAX_VCPUS) /* the VMM checks 100 * the VM's vCPUs */
#define PROTO_PERIOD_MS_MAX 60000

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
};

/* Parses and checks a command line as far as that is possible without the machine (the VMM
 * checks that the VM exists, cap <= 100 * its vCPUs, the policy is known).  Returns PROTO_OK,
 * PROTO_IGNORE (not a protocol line: no reply) or PROTO_ERROR (reply with one error record
 * carrying out->cmd, out->id and ERR; nothing may be changed). */
int proto_parse_cmd(const char *line, size_t len, struct proto_cmd *out, char *err,
                    size_t errlen);

const char *proto_cmd_name(enum proto_cmd_kind k); /* "dump", ...; "?" for NONE */

#endif
