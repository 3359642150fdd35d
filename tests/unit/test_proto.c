/* Unit tests for the console protocol (vmm/proto.c): formatter round trips through the parser,
 * every accepted and rejected command form, and a random-input property test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/sched.h"
#include "vmm/proto.h"

static int parse(const char *line, struct proto_msg *m, char *err)
{
    return proto_parse(line, strlen(line), m, err, PROTO_ERR_MAX);
}

static int cmd(const char *line, struct proto_cmd *c, char *err)
{
    return proto_parse_cmd(line, strlen(line), c, err, PROTO_ERR_MAX);
}

/* ---- formatter ---- */

static void test_format_record(void **state)
{
    (void)state;
    struct proto_line l;
    proto_begin(&l, 42, "vm");
    proto_u64(&l, "round", 3);
    proto_tok(&l, "vm", "web");
    proto_i64(&l, "credit", -1500);
    proto_u64(&l, "zero", 0);
    proto_str(&l, "msg", "a \"b\" c\\d");
    int n = proto_end(&l);
    const char *want = "@vs2 seq=42 type=vm round=3 vm=web credit=-1500 zero=0 "
                       "msg=\"a \\\"b\\\" c\\\\d\"\n";
    assert_string_equal(l.buf, want);
    assert_int_equal(n, (int)strlen(want));

    struct proto_msg m;
    char err[PROTO_ERR_MAX];
    assert_int_equal(proto_parse(l.buf, (size_t)n, &m, err, sizeof(err)), PROTO_OK);
    assert_int_equal(m.npairs, 7);
    uint64_t u;
    int64_t i;
    const char *s;
    assert_true(proto_get_u64(&m, "seq", &u));
    assert_int_equal(u, 42);
    assert_true(proto_get_tok(&m, "type", &s));
    assert_string_equal(s, "vm");
    assert_true(proto_get_i64(&m, "credit", &i));
    assert_int_equal(i, -1500);
    assert_false(proto_get_u64(&m, "credit", &u)); /* negative is not u64 */
    assert_true(proto_get_u64(&m, "zero", &u));
    assert_int_equal(u, 0);
    assert_true(proto_get_str(&m, "msg", &s));
    assert_string_equal(s, "a \"b\" c\\d");
    assert_false(proto_get_tok(&m, "msg", &s));    /* quoted: not a token */
    assert_false(proto_get_u64(&m, "nope", &u));
    assert_string_equal(m.pairs[0].key, "seq");
    assert_string_equal(m.pairs[6].key, "msg");

    /* A copy points into its own text, not into the original's. */
    struct proto_msg copy;
    proto_msg_copy(&copy, &m);
    memset(&m, 0, sizeof(m));
    assert_int_equal(copy.npairs, 7);
    assert_true(proto_get_str(&copy, "msg", &s));
    assert_string_equal(s, "a \"b\" c\\d");
    assert_true(s >= copy.text && s < copy.text + sizeof(copy.text));
    assert_true(proto_get_i64(&copy, "credit", &i));
    assert_int_equal(i, -1500);
}

static void test_format_extremes(void **state)
{
    (void)state;
    struct proto_line l;
    proto_begin(&l, UINT64_MAX, "x");
    proto_i64(&l, "min", INT64_MIN);
    proto_i64(&l, "max", INT64_MAX);
    proto_str(&l, "empty", "");
    proto_str(&l, "ctl", "a\tb\x01\xff");
    assert_true(proto_end(&l) > 0);
    assert_string_equal(l.buf, "@vs2 seq=18446744073709551615 type=x min=-9223372036854775808 "
                               "max=9223372036854775807 empty=\"\" ctl=\"a?b??\"\n");
    struct proto_msg m;
    char err[PROTO_ERR_MAX];
    uint64_t u;
    int64_t i;
    const char *s;
    assert_int_equal(parse(l.buf, &m, err), PROTO_OK);
    assert_true(proto_get_u64(&m, "seq", &u));
    assert_true(u == UINT64_MAX);
    assert_true(proto_get_i64(&m, "min", &i));
    assert_true(i == INT64_MIN);
    assert_true(proto_get_i64(&m, "max", &i));
    assert_true(i == INT64_MAX);
    assert_true(proto_get_str(&m, "empty", &s));
    assert_string_equal(s, "");
    assert_true(proto_find(&m, "empty")->quoted);
    /* Out of range numbers are not numbers. */
    assert_int_equal(parse("@vs2 a=18446744073709551616 b=9223372036854775808 "
                           "c=-9223372036854775809 d=-0 e=+1 f=1x", &m, err), PROTO_OK);
    assert_false(proto_get_u64(&m, "a", &u));
    assert_false(proto_get_i64(&m, "b", &i));
    assert_false(proto_get_i64(&m, "c", &i));
    assert_true(proto_get_i64(&m, "d", &i));
    assert_int_equal(i, 0);
    assert_false(proto_get_u64(&m, "e", &u));
    assert_false(proto_get_u64(&m, "f", &u));
}

static void test_format_bad_key_or_token(void **state)
{
    (void)state;
    struct proto_line l;
    const char *bad_keys[] = { "", "Up", "a-b", "a b", "a=b", "0123456789012345678901234567890x" };
    for (size_t k = 0; k < sizeof(bad_keys) / sizeof(bad_keys[0]); k++) {
        proto_begin(&l, 1, "t");
        proto_u64(&l, bad_keys[k], 1);
        assert_int_equal(proto_end(&l), -1);
    }
    const char *bad_toks[] = { "", "a b", "q\"", "b\\s", "\x7f", "\t" };
    for (size_t k = 0; k < sizeof(bad_toks) / sizeof(bad_toks[0]); k++) {
        proto_begin(&l, 1, "t");
        proto_tok(&l, "k", bad_toks[k]);
        assert_int_equal(proto_end(&l), -1);
    }
    proto_begin(&l, 1, "bad type");
    assert_int_equal(proto_end(&l), -1);
    proto_begin(&l, 1, "t");
    proto_tok(&l, "k", NULL);
    assert_int_equal(proto_end(&l), -1);
    /* The longest key is fine. */
    proto_begin(&l, 1, "t");
    proto_tok(&l, "abcdefghijklmnopqrstuvwxyz_0123", "a=b!~");
    assert_true(proto_end(&l) > 0);
}

/* Filling a line to exactly 512 bytes works; one byte more gives -1, never a cut line. */
static void test_format_overflow(void **state)
{
    (void)state;
    struct proto_line l;
    char val[600];
    proto_begin(&l, 7, "t");                  /* "@vs2 seq=7 type=t": 17 bytes */
    size_t room = proto_room(&l);
    assert_int_equal(room, 511 - 17);
    memset(val, 'v', sizeof(val));
    val[room - 3] = '\0';                      /* " k=" + value fills the line */
    proto_tok(&l, "k", val);
    assert_int_equal(proto_room(&l), 0);
    int n = proto_end(&l);
    assert_int_equal(n, 512);
    assert_int_equal(strlen(l.buf), 512);
    assert_int_equal(l.buf[511], '\n');
    struct proto_msg m;
    char err[PROTO_ERR_MAX];
    assert_int_equal(proto_parse(l.buf, 512, &m, err, sizeof(err)), PROTO_OK);
    assert_int_equal(strlen(proto_find(&m, "k")->val), room - 3);
    /* CR LF is allowed on top of the 512 bytes. */
    char crlf[520];
    memcpy(crlf, l.buf, 511);
    memcpy(crlf + 511, "\r\n", 2);
    assert_int_equal(proto_parse(crlf, 513, &m, err, sizeof(err)), PROTO_OK);

    proto_begin(&l, 7, "t");
    val[room - 3] = 'v';
    val[room - 2] = '\0';
    proto_tok(&l, "k", val);
    assert_true(l.overflow);
    assert_int_equal(l.len, 17);               /* the pair that did not fit is not there */
    proto_u64(&l, "small", 1);                 /* later pairs do not sneak in */
    assert_int_equal(proto_end(&l), -1);
    assert_string_equal(l.buf, "");

    /* A string whose escapes push it over. */
    proto_begin(&l, 7, "t");
    memset(val, '"', room / 2);
    val[room / 2] = '\0';
    proto_str(&l, "s", val);
    assert_int_equal(proto_end(&l), -1);

    /* Many pairs: the formatter stops at the byte limit. */
    proto_begin(&l, 0, "t");
    int fitted = 0;
    for (int i = 0; i < 100; i++) {
        proto_u64(&l, "value_ns", 1234567890123ull);
        if (!l.overflow)
            fitted++;
    }
    assert_int_equal(fitted, (511 - 17) / 23);
    assert_int_equal(proto_end(&l), -1);
}

static void test_format_command(void **state)
{
    (void)state;
    struct proto_line l;
    proto_begin_cmd(&l, "set");
    proto_u64(&l, "id", 9);
    proto_tok(&l, "vm", "web");
    proto_u64(&l, "weight", 512);
    assert_true(proto_end(&l) > 0);
    assert_string_equal(l.buf, "@vs2 cmd=set id=9 vm=web weight=512\n");
    struct proto_cmd c;
    char err[PROTO_ERR_MAX];
    assert_int_equal(cmd(l.buf, &c, err), PROTO_OK);
    assert_int_equal(c.kind, PROTO_CMD_SET);
    assert_true(c.has_id);
    assert_int_equal(c.id, 9);
    assert_int_equal(c.weight, 512);
}

/* ---- parser ---- */

static void test_parse_seq_and_type(void **state)
{
    (void)state;
    struct proto_msg m;
    char err[PROTO_ERR_MAX];
    uint64_t seq;
    const char *type;
    assert_int_equal(parse("@vs2 seq=0 type=hello proto=1 version=6c6339b-dirty backend=svm\r\n",
                           &m, err), PROTO_OK);
    assert_true(proto_get_u64(&m, "seq", &seq));
    assert_int_equal(seq, 0);
    assert_true(proto_get_tok(&m, "type", &type));
    assert_string_equal(type, "hello");
    assert_true(proto_get_tok(&m, "version", &type));
    assert_string_equal(type, "6c6339b-dirty");
    /* Extra spaces between pairs and at the end are fine; a bare tag is an empty message. */
    assert_int_equal(parse("@vs2   seq=5  type=round   ", &m, err), PROTO_OK);
    assert_int_equal(m.npairs, 2);
    assert_true(proto_get_u64(&m, "seq", &seq));
    assert_int_equal(seq, 5);
    assert_int_equal(parse("@vs2", &m, err), PROTO_OK);
    assert_int_equal(m.npairs, 0);
    assert_int_equal(parse("@vs2\n", &m, err), PROTO_OK);
    /* seq is a plain number: leading zeros are allowed, signs and hex are not. */
    assert_int_equal(parse("@vs2 seq=007 a=0x10 b=-3", &m, err), PROTO_OK);
    assert_true(proto_get_u64(&m, "seq", &seq));
    assert_int_equal(seq, 7);
    assert_false(proto_get_u64(&m, "a", &seq));
    assert_false(proto_get_u64(&m, "b", &seq));
    /* Tokens may contain '=' and punctuation. */
    assert_int_equal(parse("@vs2 a=b=c d=x:y/z,1", &m, err), PROTO_OK);
    assert_string_equal(proto_find(&m, "a")->val, "b=c");
    assert_string_equal(proto_find(&m, "d")->val, "x:y/z,1");
    /* Strings keep spaces and '='. */
    assert_int_equal(parse("@vs2 msg=\"x = y  z\" n=1", &m, err), PROTO_OK);
    assert_string_equal(proto_find(&m, "msg")->val, "x = y  z");
    assert_string_equal(proto_find(&m, "n")->val, "1");
}

static void test_parse_not_protocol(void **state)
{
    (void)state;
    struct proto_msg m;
    char err[PROTO_ERR_MAX] = "untouched";
    const char *lines[] = { "", "\n", "hello", "halt: status=0", " @vs2 seq=1", "@v", "@VS1 x=1",
                            "[web] @vs2 cmd=dump", "@ vs1" };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        assert_int_equal(parse(lines[i], &m, err), PROTO_IGNORE);
    assert_string_equal(err, "untouched");
}

static void expect_parse_error(const char *line, size_t len, const char *want)
{
    struct proto_msg m;
    char err[PROTO_ERR_MAX];
    assert_int_equal(proto_parse(line, len, &m, err, sizeof(err)), PROTO_ERROR);
    if (strcmp(err, want) != 0)
        fail_msg("line '%.60s': error '%s', want '%s'", line, err, want);
}

#define PARSE_ERROR(line, want) expect_parse_error(line, strlen(line), want)

static void test_parse_errors(void **state)
{
    (void)state;
    PARSE_ERROR("@vs1 cmd=dump", "unsupported protocol tag '@vs1' (this is @vs2)");
    PARSE_ERROR("@vs cmd=dump", "unsupported protocol tag '@vs' (this is @vs2)");
    PARSE_ERROR("@vs20 cmd=dump", "unsupported protocol tag '@vs20' (this is @vs2)");
    PARSE_ERROR("@vs2x cmd=dump", "unsupported protocol tag '@vs2x' (this is @vs2)");
    PARSE_ERROR("@vs2 cmd", "expected key=value at 'cmd'");
    PARSE_ERROR("@vs2 a=1 junk b=2", "expected key=value at 'junk'");
    PARSE_ERROR("@vs2 Cmd=dump", "bad key 'Cmd' (a-z 0-9 _)");
    PARSE_ERROR("@vs2 a-b=1", "bad key 'a-b' (a-z 0-9 _)");
    PARSE_ERROR("@vs2 =1", "empty key before '='");
    PARSE_ERROR("@vs2 a=", "key 'a' has no value");
    PARSE_ERROR("@vs2 a= b=1", "key 'a' has no value");
    PARSE_ERROR("@vs2 abcdefghijklmnopqrstuvwxyz_012345=1",
                "key too long: 'abcdefghijklmnopqrstuvwx...'");
    PARSE_ERROR("@vs2 a=1 a=2", "key 'a' given twice");
    PARSE_ERROR("@vs2 m=\"abc", "unterminated string in 'm'");
    PARSE_ERROR("@vs2 m=\"abc\\\"", "unterminated string in 'm'");
    PARSE_ERROR("@vs2 m=\"a\\nb\"", "bad escape in 'm' (only \\\" and \\\\)");
    PARSE_ERROR("@vs2 m=\"ab\"c", "no space after the string of 'm'");
    PARSE_ERROR("@vs2 m=a\"b", "bad character in the value of 'm'");
    PARSE_ERROR("@vs2 m=a\\b", "bad character in the value of 'm'");
    PARSE_ERROR("@vs2 a=1\tb=2", "bad character 0x09 at column 9");
    PARSE_ERROR("@vs2 a=\xc3\xa9", "bad character 0xc3 at column 8");
    PARSE_ERROR("@vs2 a=1\n\n", "bad character 0x0a at column 9");
    PARSE_ERROR("@vs2 a=1\r", "bad character 0x0d at column 9");
    expect_parse_error("@vs2 a=1\0b=2", 12, "bad character 0x00 at column 9");
    /* 48 pairs are fine, 49 are not. */
    char line[600] = "@vs2";
    for (int i = 0; i < 48; i++)
        sprintf(line + strlen(line), " k%d=%d", i, i);
    struct proto_msg m;
    char err[PROTO_ERR_MAX];
    assert_int_equal(parse(line, &m, err), PROTO_OK);
    assert_int_equal(m.npairs, 48);
    strcat(line, " k48=48");
    PARSE_ERROR(line, "too many keys (more than 48)");
    /* 511 bytes + '\n' are fine, 512 + '\n' are not, with or without the '\n'. */
    memset(line, 'x', sizeof(line));
    memcpy(line, "@vs2 k=", 7);
    line[511] = '\n';
    assert_int_equal(proto_parse(line, 512, &m, err, sizeof(err)), PROTO_OK);
    assert_int_equal(proto_parse(line, 511, &m, err, sizeof(err)), PROTO_OK);
    line[511] = 'x';
    line[512] = '\n';
    expect_parse_error(line, 513, "line too long (more than 512 bytes)");
    expect_parse_error(line, 512, "line too long (more than 512 bytes)");
    expect_parse_error(line, 600, "line too long (more than 512 bytes)");
    /* A small error buffer is never overrun and always terminated. */
    char small[8];
    memset(small, 'Z', sizeof(small));
    assert_int_equal(proto_parse("@vs2 a=1 a=2", 12, &m, small, 6), PROTO_ERROR);
    assert_string_equal(small, "key '");
    assert_int_equal(small[6], 'Z');
}

/* ---- commands ---- */

static void test_cmd_accepted(void **state)
{
    (void)state;
    struct proto_cmd c;
    char err[PROTO_ERR_MAX];

    assert_int_equal(cmd("@vs2 cmd=dump", &c, err), PROTO_OK);
    assert_int_equal(c.kind, PROTO_CMD_DUMP);
    assert_string_equal(c.cmd, "dump");
    assert_false(c.has_id);
    assert_false(c.has_vm || c.has_weight || c.has_cap || c.has_policy || c.has_gang ||
                 c.has_period);

    assert_int_equal(cmd("@vs2 cmd=dump id=18446744073709551615\r\n", &c, err), PROTO_OK);
    assert_true(c.has_id);
    assert_true(c.id == UINT64_MAX);

    assert_int_equal(cmd("@vs2 cmd=set id=1 vm=web weight=512", &c, err), PROTO_OK);
    assert_int_equal(c.kind, PROTO_CMD_SET);
    assert_string_equal(c.vm, "web");
    assert_true(c.has_weight && !c.has_cap);
    assert_int_equal(c.weight, 512);
    assert_int_equal(c.id, 1);

    assert_int_equal(cmd("@vs2 cmd=set vm=a_B-9 cap=0", &c, err), PROTO_OK);
    assert_true(!c.has_weight && c.has_cap);
    assert_int_equal(c.cap, 0);
    assert_string_equal(c.vm, "a_B-9");

    assert_int_equal(cmd("@vs2 cmd=set cap=6400 weight=65535 vm=abcdefghijklmnopqrstuvw",
                         &c, err), PROTO_OK);
    assert_true(c.has_weight && c.has_cap);
    assert_int_equal(c.weight, 65535);
    assert_int_equal(c.cap, 6400);
    assert_string_equal(c.vm, "abcdefghijklmnopqrstuvw");

    assert_int_equal(cmd("@vs2 cmd=set vm=x weight=1", &c, err), PROTO_OK);
    assert_int_equal(c.weight, 1);

    assert_int_equal(cmd("@vs2 cmd=policy name=pshare", &c, err), PROTO_OK);
    assert_int_equal(c.kind, PROTO_CMD_POLICY);
    assert_true(c.has_policy);
    assert_string_equal(c.policy, "pshare");
    /* Known policies are the VMM's business: any well-formed name passes here. */
    assert_int_equal(cmd("@vs2 cmd=policy name=nosuch", &c, err), PROTO_OK);

    const char *modes[] = { "none", "strict", "relaxed" };
    for (int g = 0; g < 3; g++) {
        char line[64];
        snprintf(line, sizeof(line), "@vs2 cmd=gang id=%d vm=db mode=%s", g, modes[g]);
        assert_int_equal(cmd(line, &c, err), PROTO_OK);
        assert_int_equal(c.kind, PROTO_CMD_GANG);
        assert_true(c.has_gang && c.has_vm);
        assert_int_equal(c.gang, (enum cfg_gang)g);
        assert_int_equal(c.id, g);
    }
    assert_int_equal(CFG_GANG_RELAXED, 2);

    assert_int_equal(cmd("@vs2 cmd=report period_ms=0", &c, err), PROTO_OK);
    assert_int_equal(c.kind, PROTO_CMD_REPORT);
    assert_true(c.has_period);
    assert_int_equal(c.period_ms, 0);
    assert_int_equal(cmd("@vs2 cmd=report period_ms=60000", &c, err), PROTO_OK);
    assert_int_equal(c.period_ms, 60000);

    assert_int_equal(cmd("@vs2 cmd=reserve vm=rt budget_us=300 period_us=1000 extratime=0", &c,
                         err), PROTO_OK);
    assert_int_equal(c.kind, PROTO_CMD_RESERVE);
    assert_true(c.has_vm && c.has_reservation && !c.rt_extratime);
    assert_int_equal(c.rt_budget_us, 300);
    assert_int_equal(c.rt_period_us, 1000);
    assert_int_equal(cmd("@vs2 cmd=reserve vm=rt budget_us=0", &c, err), PROTO_OK);
    assert_true(c.rt_extratime && c.rt_budget_us == 0); /* no reservation: extratime only */
    assert_int_equal(cmd("@vs2 cmd=reserve vm=rt budget_us=300", &c, err), PROTO_ERROR);
    assert_non_null(strstr(err, "needs period_us"));
    assert_int_equal(cmd("@vs2 cmd=reserve vm=rt budget_us=3000 period_us=1000", &c, err),
                     PROTO_ERROR);
    assert_non_null(strstr(err, "above period_us"));
    assert_int_equal(cmd("@vs2 cmd=reserve vm=rt budget_us=30 period_us=99", &c, err),
                     PROTO_ERROR);
    assert_int_equal(cmd("@vs2 cmd=reserve vm=rt budget_us=30 period_us=1000 extratime=2", &c,
                         err), PROTO_ERROR);
    assert_int_equal(cmd("@vs2 cmd=reserve vm=rt budget_us=30 period_us=1000 weight=3", &c,
                         err), PROTO_ERROR); /* not a key of reserve */
    assert_string_equal(proto_cmd_name(PROTO_CMD_RESERVE), "reserve");
    assert_int_equal(cmd("@vs2 cmd=meta tb_us=30000", &c, err), PROTO_OK);
    assert_true(c.kind == PROTO_CMD_META && c.has_tb && c.tb_us == 30000);
    assert_int_equal(cmd("@vs2 cmd=meta tb_us=0", &c, err), PROTO_OK); /* off */
    assert_int_equal(cmd("@vs2 cmd=meta", &c, err), PROTO_ERROR);
    assert_int_equal(cmd("@vs2 cmd=meta tb_us=10000001", &c, err), PROTO_ERROR);
    /* Pools: a pool's policy, a VM or a pCPU moved to a pool. */
    assert_int_equal(cmd("@vs2 cmd=policy name=rr pool=rt", &c, err), PROTO_OK);
    assert_true(c.kind == PROTO_CMD_POLICY && c.has_pool && !strcmp(c.pool, "rt") &&
                !strcmp(c.policy, "rr"));
    assert_int_equal(cmd("@vs2 cmd=policy name=rr", &c, err), PROTO_OK);
    assert_false(c.has_pool);
    assert_int_equal(cmd("@vs2 cmd=policy name=rr pool=b%d", &c, err), PROTO_ERROR);
    assert_int_equal(cmd("@vs2 cmd=pool vm=web to=rt", &c, err), PROTO_OK);
    assert_true(c.kind == PROTO_CMD_POOL && c.has_vm && !strcmp(c.vm, "web") && c.has_pool &&
                !strcmp(c.pool, "rt") && !c.has_pcpu);
    assert_int_equal(cmd("@vs2 cmd=pool pcpu=3 to=default id=7", &c, err), PROTO_OK);
    assert_true(c.kind == PROTO_CMD_POOL && c.has_pcpu && c.pcpu == 3 && !c.has_vm &&
                !strcmp(c.pool, "default") && c.id == 7);
    assert_int_equal(cmd("@vs2 cmd=pool pcpu=3", &c, err), PROTO_ERROR); /* to= needed */
    assert_string_equal(err, "missing key 'to'");
    assert_int_equal(cmd("@vs2 cmd=pool to=rt", &c, err), PROTO_ERROR);
    assert_string_equal(err, "pool needs vm= or pcpu= (one of them)");
    assert_int_equal(cmd("@vs2 cmd=pool vm=web pcpu=1 to=rt", &c, err), PROTO_ERROR);
    assert_int_equal(cmd("@vs2 cmd=pool pcpu=256 to=rt", &c, err), PROTO_ERROR);
    assert_int_equal(cmd("@vs2 cmd=pool pcpu=1 to=rt weight=2", &c, err), PROTO_ERROR);
    assert_string_equal(proto_cmd_name(PROTO_CMD_POOL), "pool");
    assert_string_equal(proto_cmd_name(PROTO_CMD_SET), "set");
    assert_string_equal(proto_cmd_name(PROTO_CMD_REPORT), "report");
    assert_string_equal(proto_cmd_name(PROTO_CMD_NONE), "?");
    assert_string_equal(proto_cmd_name((enum proto_cmd_kind)99), "?");
}

/* The command must be rejected with exactly WANT; the echo (cmd, id) must be WANT_CMD and
 * WANT_ID (-1 = no id). */
static void expect_cmd_error(const char *line, const char *want, const char *want_cmd,
                             long long want_id)
{
    struct proto_cmd c;
    char err[PROTO_ERR_MAX];
    memset(&c, 0x5a, sizeof(c));
    assert_int_equal(cmd(line, &c, err), PROTO_ERROR);
    if (strcmp(err, want) != 0)
        fail_msg("line '%s': error '%s', want '%s'", line, err, want);
    assert_int_equal(c.kind, PROTO_CMD_NONE);
    assert_string_equal(c.cmd, want_cmd);
    assert_int_equal(c.has_id, want_id >= 0);
    if (want_id >= 0)
        assert_int_equal(c.id, want_id);
    assert_false(c.has_vm || c.has_weight || c.has_cap || c.has_policy || c.has_gang ||
                 c.has_period);
    assert_int_equal(c.input_len, 0);
}

/* cmd=input: the bytes for a VM's COM1, text= as written (protocol escapes undone) or hex=
 * for any byte, nl=1 a line feed after them; at most PROTO_INPUT_MAX bytes. */
static void test_cmd_input(void **state)
{
    (void)state;
    struct proto_cmd c;
    char err[PROTO_ERR_MAX];
    assert_int_equal(cmd("@vs2 cmd=input id=7 vm=lx1 text=\"hello \\\"you\\\" \\\\\" nl=1", &c,
                         err), PROTO_OK);
    assert_int_equal(c.kind, PROTO_CMD_INPUT);
    assert_true(c.has_vm && c.has_id && c.id == 7);
    assert_string_equal(c.vm, "lx1");
    assert_int_equal(c.input_len, 14);
    assert_memory_equal(c.input, "hello \"you\" \\\n", 14);
    assert_string_equal(proto_cmd_name(PROTO_CMD_INPUT), "input");

    assert_int_equal(cmd("@vs2 cmd=input vm=lx1 text=ls", &c, err), PROTO_OK);
    assert_int_equal(c.input_len, 2);                /* no nl: no line feed */
    assert_memory_equal(c.input, "ls", 2);
    assert_int_equal(cmd("@vs2 cmd=input vm=lx1 text=\"\" nl=1", &c, err), PROTO_OK);
    assert_int_equal(c.input_len, 1);
    assert_int_equal(c.input[0], '\n');
    assert_int_equal(cmd("@vs2 cmd=input vm=lx1 hex=00fF0d0A7f nl=0", &c, err), PROTO_OK);
    assert_int_equal(c.input_len, 5);
    assert_memory_equal(c.input, "\x00\xff\r\n\x7f", 5);

    /* The largest: 256 bytes of text, or 255 and a line feed; hex= is held to about 240
     * bytes by the line's 512. */
    char line[PROTO_LINE_MAX + 64], body[PROTO_INPUT_MAX + 2];
    memset(body, 'a', sizeof(body));
    body[PROTO_INPUT_MAX] = '\0';
    snprintf(line, sizeof(line), "@vs2 cmd=input vm=v text=%s", body);
    assert_int_equal(cmd(line, &c, err), PROTO_OK);
    assert_int_equal(c.input_len, PROTO_INPUT_MAX);
    body[PROTO_INPUT_MAX - 1] = '\0';
    snprintf(line, sizeof(line), "@vs2 cmd=input vm=v text=%s nl=1", body);
    assert_int_equal(cmd(line, &c, err), PROTO_OK);
    assert_int_equal(c.input_len, PROTO_INPUT_MAX);
    assert_int_equal(c.input[PROTO_INPUT_MAX - 1], '\n');
    memset(body, '4', sizeof(body));
    body[200] = '\0';
    snprintf(line, sizeof(line), "@vs2 cmd=input vm=v hex=%s%s", body, body);
    assert_int_equal(cmd(line, &c, err), PROTO_OK);
    assert_int_equal(c.input_len, 200);
    assert_int_equal(c.input[199], 0x44);

    /* Rejected, nothing taken. */
    memset(body, 'a', sizeof(body));
    body[PROTO_INPUT_MAX + 1] = '\0';
    snprintf(line, sizeof(line), "@vs2 cmd=input vm=v text=%s", body);
    expect_cmd_error(line, "input longer than 256 bytes", "input", -1);
    body[PROTO_INPUT_MAX] = '\0';
    snprintf(line, sizeof(line), "@vs2 cmd=input vm=v text=%s nl=1", body);
    expect_cmd_error(line, "input longer than 256 bytes", "input", -1);
    expect_cmd_error("@vs2 cmd=input id=9 text=x", "missing key 'vm'", "input", 9);
    expect_cmd_error("@vs2 cmd=input vm=a/b text=x", "bad VM name 'a/b' (1 to 23 of A-Z a-z "
                     "0-9 _ -)", "input", -1);
    expect_cmd_error("@vs2 cmd=input vm=lx1", "input needs text= or hex= (one of them)",
                     "input", -1);
    expect_cmd_error("@vs2 cmd=input vm=lx1 text=a hex=61",
                     "input needs text= or hex= (one of them)", "input", -1);
    expect_cmd_error("@vs2 cmd=input vm=lx1 text=\"\"", "input is empty (no text, no nl=1)",
                     "input", -1);
    expect_cmd_error("@vs2 cmd=input vm=lx1 hex=6", "value of 'hex' is not pairs of hex digits",
                     "input", -1);
    expect_cmd_error("@vs2 cmd=input vm=lx1 hex=6g", "value of 'hex' is not pairs of hex digits",
                     "input", -1);
    expect_cmd_error("@vs2 cmd=input vm=lx1 hex=\"61\"",
                     "value of 'hex' is not pairs of hex digits", "input", -1);
    expect_cmd_error("@vs2 cmd=input vm=lx1 text=a nl=2", "value of 'nl' is out of range (0..1)",
                     "input", -1);
    expect_cmd_error("@vs2 cmd=input vm=lx1 text=a cr=1", "unknown key 'cr' for cmd=input",
                     "input", -1);
    /* A tab or a newline cannot be in a protocol line at all: hex= carries them. */
    expect_cmd_error("@vs2 cmd=input vm=lx1 text=\"a\tb\"", "bad character 0x09 at column 30",
                     "?", -1);
    expect_cmd_error("@vs2 cmd=input vm=lx1 text=\"a\\nb\"",
                     "bad escape in 'text' (only \\\" and \\\\)", "?", -1);
}

static void test_cmd_rejected(void **state)
{
    (void)state;
    /* Not starting with @vs2. */
    expect_cmd_error("@vs1 cmd=dump id=1", "unsupported protocol tag '@vs1' (this is @vs2)",
                     "?", -1);
    /* Unknown command, missing cmd, cmd not first. */
    expect_cmd_error("@vs2 cmd=reboot id=3", "unknown command 'reboot' (dump, set, policy, "
                     "gang, report, trace, reserve, meta, pool, input)", "reboot", 3);
    expect_cmd_error("@vs2 cmd=\"dump\" id=3", "unknown command 'dump' (dump, set, policy, "
                     "gang, report, trace, reserve, meta, pool, input)", "?", 3);
    expect_cmd_error("@vs2 cmd=DUMP", "unknown command 'DUMP' (dump, set, policy, gang, "
                     "report, trace, reserve, meta, pool, input)", "?", -1);
    expect_cmd_error("@vs2 cmd=averyveryverylongcommand",
                     "unknown command 'averyveryverylongcommand' (dump, set, policy, gang, "
                     "report, trace, reserve, meta, pool, input)", "?", -1);
    expect_cmd_error("@vs2 id=4 vm=web", "missing key 'cmd'", "?", 4);
    expect_cmd_error("@vs2 seq=1 type=vm", "missing key 'cmd'", "?", -1);
    expect_cmd_error("@vs2", "missing key 'cmd'", "?", -1);
    expect_cmd_error("@vs2 id=4 cmd=dump", "'cmd' must be the first key", "dump", 4);
    /* Bad id. */
    expect_cmd_error("@vs2 cmd=dump id=x", "value of 'id' is not a decimal number", "dump", -1);
    expect_cmd_error("@vs2 cmd=dump id=-1", "value of 'id' is not a decimal number", "dump", -1);
    expect_cmd_error("@vs2 cmd=dump id=\"1\"", "value of 'id' is not a decimal number", "dump",
                     -1);
    /* Unknown keys. */
    expect_cmd_error("@vs2 cmd=dump id=5 vm=web", "unknown key 'vm' for cmd=dump", "dump", 5);
    expect_cmd_error("@vs2 cmd=set vm=web weight=5 prio=1", "unknown key 'prio' for cmd=set",
                     "set", -1);
    expect_cmd_error("@vs2 cmd=policy name=rr vm=a", "unknown key 'vm' for cmd=policy",
                     "policy", -1);
    expect_cmd_error("@vs2 cmd=gang vm=a mode=none weight=1", "unknown key 'weight' for "
                     "cmd=gang", "gang", -1);
    expect_cmd_error("@vs2 cmd=report period=5", "unknown key 'period' for cmd=report",
                     "report", -1);
    /* set */
    expect_cmd_error("@vs2 cmd=set id=6 weight=5", "missing key 'vm'", "set", 6);
    expect_cmd_error("@vs2 cmd=set vm=web", "set needs weight= or cap= (or both)", "set", -1);
    expect_cmd_error("@vs2 cmd=set vm=web weight=0", "value of 'weight' is out of range "
                     "(1..65535)", "set", -1);
    expect_cmd_error("@vs2 cmd=set vm=web weight=65536", "value of 'weight' is out of range "
                     "(1..65535)", "set", -1);
    expect_cmd_error("@vs2 cmd=set vm=web weight=99999999999999999999", "value of 'weight' is "
                     "not a decimal number", "set", -1);
    expect_cmd_error("@vs2 cmd=set vm=web weight=1k", "value of 'weight' is not a decimal "
                     "number", "set", -1);
    expect_cmd_error("@vs2 cmd=set vm=web weight=\"5\"", "value of 'weight' is not a decimal "
                     "number", "set", -1);
    expect_cmd_error("@vs2 cmd=set vm=web weight=10 cap=6401", "value of 'cap' is out of "
                     "range (0..6400)", "set", -1);
    expect_cmd_error("@vs2 cmd=set vm=web cap=-1", "value of 'cap' is not a decimal number",
                     "set", -1);
    expect_cmd_error("@vs2 cmd=set vm=a/b weight=1", "bad VM name 'a/b' (1 to 23 of A-Z a-z "
                     "0-9 _ -)", "set", -1);
    expect_cmd_error("@vs2 cmd=set vm=abcdefghijklmnopqrstuvwx weight=1", "bad VM name "
                     "'abcdefghijklmnopqrstuvwx' (1 to 23 of A-Z a-z 0-9 _ -)", "set", -1);
    expect_cmd_error("@vs2 cmd=set vm=\"web\" weight=1", "bad VM name 'web' (1 to 23 of A-Z "
                     "a-z 0-9 _ -)", "set", -1);
    expect_cmd_error("@vs2 cmd=set vm=\"\" weight=1", "bad VM name '' (1 to 23 of A-Z a-z 0-9 "
                     "_ -)", "set", -1);
    /* policy */
    expect_cmd_error("@vs2 cmd=policy", "missing key 'name'", "policy", -1);
    expect_cmd_error("@vs2 cmd=policy name=cr.dit", "bad policy name 'cr.dit' (1 to 23 of "
                     "A-Z a-z 0-9 _ -)", "policy", -1);
    /* gang */
    expect_cmd_error("@vs2 cmd=gang mode=strict", "missing key 'vm'", "gang", -1);
    expect_cmd_error("@vs2 cmd=gang vm=db", "missing key 'mode'", "gang", -1);
    expect_cmd_error("@vs2 cmd=gang vm=db mode=loose", "bad gang mode 'loose' (none, strict, "
                     "relaxed)", "gang", -1);
    expect_cmd_error("@vs2 cmd=gang vm=db mode=\"none\"", "bad gang mode 'none' (none, "
                     "strict, relaxed)", "gang", -1);
    /* report */
    expect_cmd_error("@vs2 cmd=report", "missing key 'period_ms'", "report", -1);
    expect_cmd_error("@vs2 cmd=report period_ms=60001", "value of 'period_ms' is out of range "
                     "(0..60000)", "report", -1);
    /* Syntax errors from the line parser. */
    expect_cmd_error("@vs2 cmd=dump junk", "expected key=value at 'junk'", "?", -1);
    expect_cmd_error("@vs2 cmd=set vm=a vm=b weight=1", "key 'vm' given twice", "?", -1);

    /* Too long. */
    char line[700];
    memset(line, 'x', sizeof(line));
    memcpy(line, "@vs2 cmd=dump id=1 pad=", 23);
    line[600] = '\0';
    expect_cmd_error(line, "line too long (more than 512 bytes)", "?", -1);

    /* Not a protocol line: no reply at all. */
    struct proto_cmd c;
    char err[PROTO_ERR_MAX];
    assert_int_equal(cmd("dump", &c, err), PROTO_IGNORE);
    assert_int_equal(cmd("cmd=dump", &c, err), PROTO_IGNORE);
    assert_int_equal(c.kind, PROTO_CMD_NONE);
}

/* ---- properties ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Random bytes, random protocol-ish text and mutated valid lines: the parsers never crash
 * (the sanitizers and valgrind would say so), never accept a line over the limit, and an
 * accepted line's pairs are well-formed. */
static void test_fuzz(void **state)
{
    (void)state;
    static const char alphabet[] = "@vs2 =\"\\abcdkmz_09-\r\n\t\x01\xff"
                                   "cmd=set vm=web weight=cap=id=mode=strict";
    static const char *seeds[] = { "@vs2 cmd=set id=1 vm=web weight=512 cap=100",
                                   "@vs2 seq=12 type=error cmd=set id=2 msg=\"bad \\\"x\\\"\"",
                                   "@vs2 cmd=gang vm=db mode=relaxed",
                                   "@vs2 cmd=report period_ms=100" };
    char line[1100];
    struct proto_msg m;
    struct proto_cmd c;
    char err[PROTO_ERR_MAX];
    unsigned ok = 0, errors = 0, ignored = 0;
    for (int iter = 0; iter < 200000; iter++) {
        size_t len;
        int mode = (int)(rnd() % 3);
        if (mode == 0) {
            len = rnd() % sizeof(line);
            for (size_t i = 0; i < len; i++)
                line[i] = (char)rnd();
            if (len >= 4 && rnd() % 2)
                memcpy(line, "@vs2", 4);
        } else if (mode == 1) {
            len = 4 + rnd() % 700;
            memcpy(line, "@vs2", 4);
            for (size_t i = 4; i < len; i++)
                line[i] = alphabet[rnd() % (sizeof(alphabet) - 1)];
        } else {
            const char *s = seeds[rnd() % 4];
            len = strlen(s);
            memcpy(line, s, len);
            for (int k = (int)(rnd() % 4); k >= 0; k--) {
                size_t at = rnd() % len;
                switch (rnd() % 3) {
                case 0:
                    line[at] = alphabet[rnd() % (sizeof(alphabet) - 1)];
                    break;
                case 1:
                    len = at + 1; /* cut */
                    break;
                default:
                    if (len + 40 < sizeof(line)) {
                        memmove(line + at + 1, line + at, len - at);
                        line[at] = alphabet[rnd() % (sizeof(alphabet) - 1)];
                        len++;
                    }
                }
            }
        }
        int rc = proto_parse(line, len, &m, err, sizeof(err));
        size_t body = len;
        if (body && line[body - 1] == '\n') {
            body--;
            if (body && line[body - 1] == '\r')
                body--;
        }
        if (rc == PROTO_OK) {
            ok++;
            assert_true(body <= PROTO_LINE_MAX - 1);
            assert_true(m.npairs <= PROTO_MAX_PAIRS);
            for (uint32_t i = 0; i < m.npairs; i++) {
                assert_true(strlen(m.pairs[i].key) > 0 && strlen(m.pairs[i].key) < 32);
                assert_true(m.pairs[i].quoted || strlen(m.pairs[i].val) > 0);
                assert_true(m.pairs[i].key >= m.text &&
                            m.pairs[i].val < m.text + sizeof(m.text));
            }
        } else if (rc == PROTO_ERROR) {
            errors++;
            assert_true(strlen(err) > 0 && strlen(err) < sizeof(err));
        } else {
            ignored++;
            assert_int_equal(rc, PROTO_IGNORE);
        }
        int rc2 = proto_parse_cmd(line, len, &c, err, sizeof(err));
        assert_true(rc2 == PROTO_OK || rc2 == PROTO_ERROR || rc2 == PROTO_IGNORE);
        if (rc2 == PROTO_OK) {
            assert_int_equal(rc, PROTO_OK);
            assert_true(c.kind >= PROTO_CMD_DUMP && c.kind <= PROTO_CMD_LAST);
            assert_string_equal(c.cmd, proto_cmd_name(c.kind));
        } else {
            assert_int_equal(c.kind, PROTO_CMD_NONE);
        }
        if (rc2 == PROTO_ERROR)
            assert_true(strlen(err) > 0);
    }
    /* Every class was exercised. */
    assert_true(ok > 1000 && errors > 1000 && ignored > 1000);
}

/* Random records: what the formatter accepts, the parser returns unchanged. */
static void test_roundtrip_random(void **state)
{
    (void)state;
    char keys[PROTO_MAX_PAIRS][16];
    char texts[PROTO_MAX_PAIRS][64];
    uint64_t nums[PROTO_MAX_PAIRS];
    int kinds[PROTO_MAX_PAIRS];
    unsigned written = 0, overflowed = 0;
    for (int iter = 0; iter < 20000; iter++) {
        struct proto_line l;
        uint64_t seq = rnd();
        proto_begin(&l, seq, "rec");
        int n = (int)(rnd() % 46);
        for (int i = 0; i < n; i++) {
            snprintf(keys[i], sizeof(keys[i]), "k%d", i);
            kinds[i] = (int)(rnd() % 4);
            nums[i] = rnd() >> (rnd() % 64);
            size_t tl = rnd() % 40;
            for (size_t k = 0; k < tl; k++)
                texts[i][k] = (char)(kinds[i] == 2 ? '!' + rnd() % 94 : rnd() % 256);
            texts[i][tl] = '\0';
            if (kinds[i] == 2) {
                for (size_t k = 0; k < tl; k++)
                    if (texts[i][k] == '"' || texts[i][k] == '\\')
                        texts[i][k] = '_';
                if (tl == 0)
                    strcpy(texts[i], "t");
            }
            switch (kinds[i]) {
            case 0: proto_u64(&l, keys[i], nums[i]); break;
            case 1: proto_i64(&l, keys[i], (int64_t)nums[i]); break;
            case 2: proto_tok(&l, keys[i], texts[i]); break;
            default: proto_str(&l, keys[i], texts[i]); break;
            }
        }
        int len = proto_end(&l);
        if (len < 0) {
            overflowed++;
            assert_true(l.overflow);
            continue;
        }
        written++;
        assert_true(len <= PROTO_LINE_MAX);
        assert_int_equal((size_t)len, strlen(l.buf));
        struct proto_msg m;
        char err[PROTO_ERR_MAX];
        assert_int_equal(proto_parse(l.buf, (size_t)len, &m, err, sizeof(err)), PROTO_OK);
        assert_int_equal(m.npairs, (uint32_t)n + 2);
        uint64_t u;
        assert_true(proto_get_u64(&m, "seq", &u) && u == seq);
        for (int i = 0; i < n; i++) {
            const struct proto_pair *p = &m.pairs[i + 2];
            assert_string_equal(p->key, keys[i]);
            int64_t s;
            switch (kinds[i]) {
            case 0:
                assert_true(proto_get_u64(&m, keys[i], &u) && u == nums[i]);
                break;
            case 1:
                assert_true(proto_get_i64(&m, keys[i], &s) && s == (int64_t)nums[i]);
                break;
            case 2:
                assert_false(p->quoted);
                assert_string_equal(p->val, texts[i]);
                break;
            default: {
                char want[64];
                size_t k = 0;
                for (; texts[i][k]; k++) {
                    unsigned char ch = (unsigned char)texts[i][k];
                    want[k] = (ch >= ' ' && ch <= '~') ? (char)ch : '?';
                }
                want[k] = '\0';
                assert_true(p->quoted);
                assert_string_equal(p->val, want);
            }
            }
        }
    }
    assert_true(written > 1000 && overflowed > 1000);
}

/* ---- histograms and accounting records ---- */

static void test_hist_format(void **state)
{
    (void)state;
    uint32_t b[HIST_BUCKETS] = { 0 };
    b[20] = 3, b[21] = 15, b[23] = 2, b[31] = 1, b[HIST_BUCKETS - 1] = 7;
    struct proto_line l;
    unsigned from = 0;
    proto_begin(&l, 1, "t");
    assert_true(proto_hist(&l, "wh", b, HIST_BUCKETS, &from));
    assert_int_equal(from, HIST_BUCKETS);
    assert_true(proto_end(&l) > 0);
    assert_string_equal(l.buf, "@vs2 seq=1 type=t wh=20:3,15,0,2,31:1,155:7\n");

    struct proto_msg m;
    char err[PROTO_ERR_MAX];
    uint64_t got[HIST_BUCKETS] = { 0 };
    assert_int_equal(parse(l.buf, &m, err), PROTO_OK);
    assert_true(proto_get_hist(&m, "wh", got, HIST_BUCKETS));
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        assert_int_equal(got[i], b[i]);
    /* Added, not overwritten: the continuation records of one histogram merge. */
    assert_true(proto_get_hist(&m, "wh", got, HIST_BUCKETS));
    assert_int_equal(got[21], 30);

    /* Empty histogram: nothing written, done. */
    uint32_t none[HIST_BUCKETS] = { 0 };
    proto_begin(&l, 1, "t");
    from = 0;
    assert_true(proto_hist(&l, "wh", none, HIST_BUCKETS, &from));
    assert_true(proto_end(&l) > 0);
    assert_string_equal(l.buf, "@vs2 seq=1 type=t\n");
}

static void test_hist_parse_errors(void **state)
{
    (void)state;
    const char *bad[] = {
        "@vs2 h=5",          /* must start with a jump */
        "@vs2 h=3:1,,2",     /* empty item */
        "@vs2 h=3:1,",       /* trailing comma */
        "@vs2 h=156:1",      /* past the last bucket */
        "@vs2 h=3:1,2:1",    /* jumps go forward */
        "@vs2 h=3:",         /* no count */
        "@vs2 h=:3",         /* no index */
        "@vs2 h=3:1x",       /* junk */
        "@vs2 h=\"3:1\"",    /* quoted */
        "@vs2 h=155:1,1",    /* the bare item runs past the end */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct proto_msg m;
        char err[PROTO_ERR_MAX];
        uint64_t got[HIST_BUCKETS] = { 0 };
        assert_int_equal(parse(bad[i], &m, err), PROTO_OK);
        if (proto_get_hist(&m, "h", got, HIST_BUCKETS))
            fail_msg("accepted %s", bad[i]);
        for (unsigned k = 0; k < HIST_BUCKETS; k++)
            assert_int_equal(got[k], 0);   /* nothing added */
    }
}

/* Random histograms through a line that has little room: every call writes at least one item
 * or reports the end, and the parts add up to the histogram. */
static void test_hist_roundtrip_random(void **state)
{
    (void)state;
    for (int iter = 0; iter < 3000; iter++) {
        uint32_t b[HIST_BUCKETS] = { 0 };
        unsigned nz = (unsigned)(rnd() % 60);
        for (unsigned k = 0; k < nz; k++)
            b[rnd() % HIST_BUCKETS] = (uint32_t)(rnd() >> (rnd() % 64));
        uint64_t got[HIST_BUCKETS] = { 0 };
        unsigned from = 0, parts = 0;
        bool done = false;
        while (!done) {
            struct proto_line l;
            proto_begin(&l, 1, "t");
            size_t pad = rnd() % 400;   /* a record's other keys */
            char filler[420];
            memset(filler, 'x', pad + 1);
            filler[pad + 1] = '\0';
            proto_tok(&l, "f", filler);
            unsigned before = from;
            done = proto_hist(&l, "h", b, HIST_BUCKETS, &from);
            assert_true(done || from > before);
            assert_true(proto_end(&l) > 0);
            struct proto_msg m;
            char err[PROTO_ERR_MAX];
            assert_int_equal(parse(l.buf, &m, err), PROTO_OK);
            if (proto_find(&m, "h"))
                assert_true(proto_get_hist(&m, "h", got, HIST_BUCKETS));
            parts++;
            assert_true(parts < 200);
        }
        for (unsigned k = 0; k < HIST_BUCKETS; k++)
            assert_int_equal(got[k], b[k]);
    }
}

/* What a test writer collects: every line, and the bytes. */
struct lines {
    char buf[64][PROTO_LINE_MAX + 1];
    unsigned n;
    uint64_t bytes, records;
};

static void collect(void *ctx, const char *line, size_t len)
{
    struct lines *c = ctx;
    assert_int_equal(len, strlen(line));
    assert_true(len <= PROTO_LINE_MAX && line[len - 1] == '\n');
    if (c->n < 64)
        memcpy(c->buf[c->n++], line, len + 1);
    c->bytes += len + 1;   /* the UART's '\r' */
    c->records++;
}

static void test_records_layout(void **state)
{
    (void)state;
    static struct lines c;
    memset(&c, 0, sizeof(c));
    struct proto_writer w = { .seq = 10, .out = collect, .ctx = &c };
    struct proto_round r;
    struct hist wake, kick;
    hist_clear(&wake);
    hist_clear(&kick);
    hist_record(&wake, 1500);
    hist_record(&wake, 1600);
    hist_record(&wake, 40000);
    struct sched_acct a = { .lifetime_ns = 1000, .running_ns = 600, .ready_ns = 400,
                            .runs = 3, .wakeups = 3, .deadline_misses = 2 };
    uint64_t exits[PROTO_EXITS] = { [PROTO_EXIT_HLT] = 3, [PROTO_EXIT_TIMER] = 12 };
    proto_put_hello(&w, &(struct proto_hello_rec){ .version = "6c6339b-dirty", .backend = "svm",
                                                    .policy = "credit", .pcpus = 4, .vms = 1,
                                                    .report_ms = 5000 });
    assert_string_equal(c.buf[0], "@vs2 seq=10 type=hello proto=2 version=6c6339b-dirty "
                                  "backend=svm pcpus=4 vms=1 policy=credit report_ms=5000 "
                                  "hist_sub_bits=2 hist_max_log2=40\n");
    c.n = 0;
    w.seq = 10;
    proto_round_begin(&w, &r, 4);
    proto_put_vm(&w, &r, &(struct proto_vm_rec){ .vm = "web", .id = 0, .vcpus = 1,
                                                   .weight = 256, .gang = "none",
                                                   .state = "running", .skew = &kick });
    proto_put_vcpu(&w, &r, &(struct proto_vcpu_rec){ .vm = "web", .vcpu = 0, .pcpu = 1,
                                                       .state = "rdy", .acct = &a,
                                                       .wake = &wake, .exits = exits,
                                                       .irqs = 5 });
    proto_put_pcpu(&w, &r, &(struct proto_pcpu_rec){ .pcpu = 1, .idle_ns = 77, .kick = &kick });
    proto_round_end(&w, &r, &(struct proto_round_rec){ .t_ns = 1000, .lifetime_ns = 1000,
                                                        .policy = "credit", .final = true });
    assert_int_equal(c.n, 4);
    assert_string_equal(c.buf[0], "@vs2 seq=10 type=vm r=4 vm=web id=0 vcpus=1 weight=256 "
                                  "state=running\n");
    char want[PROTO_LINE_MAX];
    snprintf(want, sizeof(want),
             "@vs2 seq=11 type=vcpu r=4 vm=web v=0 p=1 st=rdy run=600 rdy=400 runs=3 wak=3 dm=2 "
             "ex=hlt:3,tmr:12 irq=5 wmax=40000 wh=%u:1,1,%u:1\n",
             hist_bucket_of(1500), hist_bucket_of(40000));
    assert_int_equal(hist_bucket_of(1600), hist_bucket_of(1500) + 1);
    assert_string_equal(c.buf[1], want);
    assert_string_equal(c.buf[2], "@vs2 seq=12 type=pcpu r=4 p=1 idle=77\n");
    assert_string_equal(c.buf[3], "@vs2 seq=13 type=round r=4 t_ns=1000 life_ns=1000 "
                                  "policy=credit final=1 records=4\n");
    assert_int_equal(w.seq, 14);
    assert_int_equal(w.bad, 0);
    assert_string_equal(proto_vcpu_state(SCHED_BLOCKED), "blk");
    assert_string_equal(proto_vcpu_state(SCHED_READY), "rdy");
    assert_string_equal(proto_vcpu_state(SCHED_RUNNING), "run");
    assert_string_equal(proto_vcpu_state(SCHED_COSTOP), "cs");
    assert_string_equal(proto_vcpu_state(99), "?");
}

/* A histogram too long for its record goes on in hist records with the same identity. */
static void test_records_hist_continues(void **state)
{
    (void)state;
    static struct lines c;
    memset(&c, 0, sizeof(c));
    struct proto_writer w = { .out = collect, .ctx = &c };
    struct proto_round r;
    static struct hist h;
    hist_clear(&h);
    for (unsigned b = 0; b < HIST_BUCKETS; b++) {
        h.bucket[b] = 1000000000u + b;
        h.count += h.bucket[b];
    }
    h.max = UINT64_MAX;
    struct sched_acct a = { .running_ns = UINT64_MAX };
    proto_round_begin(&w, &r, 0);
    proto_put_vcpu(&w, &r, &(struct proto_vcpu_rec){ .vm = "abcdefghijklmnopqrstuvw",
                                                       .vcpu = 4095, .pcpu = 255,
                                                       .state = "run", .acct = &a,
                                                       .wake = &h });
    proto_round_end(&w, &r, &(struct proto_round_rec){ .policy = "credit" });
    assert_true(c.n > 4);
    uint64_t got[HIST_BUCKETS] = { 0 };
    for (unsigned i = 0; i + 1 < c.n; i++) {
        struct proto_msg m;
        char err[PROTO_ERR_MAX];
        const char *s;
        uint64_t u;
        assert_int_equal(parse(c.buf[i], &m, err), PROTO_OK);
        assert_true(proto_get_tok(&m, "type", &s));
        assert_string_equal(s, i == 0 ? "vcpu" : "hist");
        if (i > 0) {
            assert_true(proto_get_tok(&m, "of", &s));
            assert_string_equal(s, "vcpu");
            assert_true(proto_get_u64(&m, "v", &u) && u == 4095);
            assert_true(proto_get_tok(&m, "vm", &s));
            assert_string_equal(s, "abcdefghijklmnopqrstuvw");
        }
        assert_true(proto_get_u64(&m, "r", &u) && u == 0);
        assert_true(proto_get_hist(&m, "wh", got, HIST_BUCKETS));
    }
    for (unsigned b = 0; b < HIST_BUCKETS; b++)
        assert_int_equal(got[b], h.bucket[b]);
    struct proto_msg m;
    char err[PROTO_ERR_MAX];
    uint64_t u;
    assert_int_equal(parse(c.buf[c.n - 1], &m, err), PROTO_OK);
    assert_true(proto_get_u64(&m, "records", &u) && u == c.n);
    assert_int_equal(w.bad, 0);
}

/* Issue 10 item 4: a round for 16 VMs x 4 vCPUs (on 8 pCPUs) fits the line rate at the
 * default period, with half of the line left for guest output and commands.  The numbers are
 * a busy, overcommitted machine SECS seconds into the run: every counter nonzero (per vCPU and
 * second: 2000 runs, 1600 preemptions, 60 migrations, 400 wake-ups spread over 24 latency
 * buckets, 6500 exits of all nine kinds), kicks over 16 buckets per pCPU, half the VMs in
 * strict gangs with 8 skew buckets. */
#define LINE_RATE_BYTES_S 11520   /* 115200 baud, 10 bits per byte */
#define DEFAULT_REPORT_MS 5000    /* vmm/config.c, docs/config.md */

/* N samples over NB consecutive buckets from FIRST, each bucket getting 1/8 less than the one
 * before (a tail), all of N placed. */
static void spread(struct hist *h, unsigned first, unsigned nb, uint64_t n)
{
    uint64_t left = n;
    for (unsigned b = 0; b < nb && left; b++) {
        uint64_t c = b + 1 == nb ? left : (left + 7) / 8 + n / (4 * nb);
        c = c > left ? left : c;
        h->bucket[first + b] += (uint32_t)c;
        h->count += c;
        left -= c;
    }
    h->max = hist_bucket_upper(first + nb - 1);
}

static uint64_t busy_round_bytes(uint64_t secs)
{
    static struct lines c;
    memset(&c, 0, sizeof(c));
    struct proto_writer w = { .seq = 1000 * secs, .out = collect, .ctx = &c };
    struct proto_round r;
    static struct hist wake, kick, skew;
    hist_clear(&wake);
    hist_clear(&kick);
    hist_clear(&skew);
    spread(&wake, hist_bucket_of(1000), 24, 400 * secs);
    spread(&kick, hist_bucket_of(2000), 16, 300 * secs);
    spread(&skew, hist_bucket_of(5000), 8, 100 * secs);
    const uint64_t t = secs * 1000000000ull;
    struct sched_acct a = { .lifetime_ns = t, .running_ns = t / 8 + 12345,
                            .ready_ns = t / 2 + 67891, .blocked_ns = t / 4 + 23456,
                            .runs = 2000 * secs, .preemptions = 1600 * secs,
                            .migrations = 60 * secs, .wakeups = 400 * secs };
    a.costop_ns = t - a.running_ns - a.ready_ns - a.blocked_ns;
    uint64_t exits[PROTO_EXITS] = { 400 * secs, 3000 * secs, 10 * secs, secs, secs / 5 + 1,
                                    2000 * secs, 60 * secs, 40 * secs, secs / 20 + 1 };
    proto_round_begin(&w, &r, secs / 5);
    char names[16][8];
    for (unsigned v = 0; v < 16; v++) {
        snprintf(names[v], sizeof(names[v]), "vm%02u", v);
        proto_put_vm(&w, &r, &(struct proto_vm_rec){ .vm = names[v], .id = v, .vcpus = 4,
                                                       .weight = 256, .cap = 150,
                                                       .gang = v % 2 ? "strict" : "none",
                                                       .state = "running",
                                                       .skew = v % 2 ? &skew : NULL });
        for (unsigned k = 0; k < 4; k++)
            proto_put_vcpu(&w, &r, &(struct proto_vcpu_rec){ .vm = names[v], .vcpu = k,
                                                               .pcpu = (v * 4 + k) % 8,
                                                               .state = "rdy", .acct = &a,
                                                               .wake = &wake, .exits = exits,
                                                               .irqs = 600 * secs,
                                                               .timer_irqs = 400 * secs });
    }
    for (unsigned p = 0; p < 8; p++)
        proto_put_pcpu(&w, &r, &(struct proto_pcpu_rec){ .pcpu = p, .idle_ns = t / 20,
                                                           .kicks_sent = 300 * secs,
                                                           .kicks_recv = 300 * secs,
                                                           .notifies_sent = 50 * secs,
                                                           .kick = &kick });
    proto_round_end(&w, &r, &(struct proto_round_rec){ .t_ns = t, .lifetime_ns = t,
                                                        .policy = "credit" });
    assert_int_equal(w.bad, 0);
    print_message("16 VMs x 4 vCPUs, 8 pCPUs, %llu s into the run: %llu records, %llu bytes per "
                  "round, %llu%% of the line at report_ms=%u\n", (unsigned long long)secs,
                  (unsigned long long)c.records, (unsigned long long)c.bytes,
                  (unsigned long long)(c.bytes * 1000 / DEFAULT_REPORT_MS * 100 /
                                       LINE_RATE_BYTES_S), DEFAULT_REPORT_MS);
    return c.bytes;
}

static void test_round_fits_line_rate(void **state)
{
    (void)state;
    /* After a minute: at most half the line. */
    assert_true(busy_round_bytes(60) * 1000 / DEFAULT_REPORT_MS <= LINE_RATE_BYTES_S / 2);
    /* After a day the numbers are longer; still within the line. */
    assert_true(busy_round_bytes(86400) * 1000 / DEFAULT_REPORT_MS <= LINE_RATE_BYTES_S);
}

/* Trace records (docs/protocol.md): events round-trip through proto_put_trace and
 * proto_get_trace, split over as many records as they need, times going back included; the
 * lost count rides on the first record; malformed items are refused. */
static void test_trace_records(void **state)
{
    (void)state;
    static struct lines c;
    memset(&c, 0, sizeof(c));
    struct proto_writer w = { .seq = 5, .out = collect, .ctx = &c };
    static struct sched_trace_event ev[200], got[PROTO_TRACE_MAX_EVENTS];
    uint64_t t = 1000000000000ull, r = 3;
    for (unsigned i = 0; i < 200; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        t = i % 17 == 5 ? t - (r >> 54) : t + (r >> 40); /* sometimes back: writers' clocks */
        ev[i] = (struct sched_trace_event){ .t_ns = t, .pcpu = 200, .vm = (uint32_t)(r % 64),
                                            .vcpu = (uint32_t)(r >> 20) % 4096,
                                            .type = (uint32_t)(r >> 8) % SCHED_TR_TYPES,
                                            .arg = i % 3 ? (r >> 30) % 256 : UINT64_MAX };
        if (ev[i].type == SCHED_TR_KICK)
            ev[i].vm = SCHED_TRACE_NO_VM, ev[i].vcpu = 0;
    }
    proto_put_trace(&w, 200, ev, 200, 7);
    assert_true(c.n >= 2 && c.n < 64);
    assert_int_equal(w.bad, 0);
    unsigned at = 0;
    for (unsigned l = 0; l < c.n; l++) {
        struct proto_msg m;
        char err[PROTO_ERR_MAX];
        assert_int_equal(proto_parse(c.buf[l], strlen(c.buf[l]), &m, err, sizeof(err)), PROTO_OK);
        uint64_t lost;
        int n = proto_get_trace(&m, got, PROTO_TRACE_MAX_EVENTS, &lost);
        assert_true(n > 0);
        assert_int_equal(lost, l == 0 ? 7 : 0);
        for (int i = 0; i < n; i++, at++)
            assert_memory_equal(&got[i], &ev[at], sizeof(got[i]));
    }
    assert_int_equal(at, 200);
    char head[64];
    snprintf(head, sizeof(head), " type=trace p=200 t0=%llu lost=7 ev=",
             (unsigned long long)ev[0].t_ns);
    assert_non_null(strstr(c.buf[0], head));
    /* No events: one record with lost only. */
    c.n = 0;
    proto_put_trace(&w, 3, ev, 0, 2);
    assert_int_equal(c.n, 1);
    assert_non_null(strstr(c.buf[0], " type=trace p=3 t0=0 lost=2\n"));
    /* Malformed. */
    const char *bad[] = {
        "@vs2 seq=1 type=trace p=0 t0=5 ev=run:0:0:0",           /* a field short */
        "@vs2 seq=1 type=trace p=0 t0=5 ev=run:0:0:0:1:2",       /* one too many */
        "@vs2 seq=1 type=trace p=0 t0=5 ev=fly:0:0:0:1",         /* unknown event */
        "@vs2 seq=1 type=trace p=0 t0=5 ev=run:-:0:0:1",         /* half a vCPU */
        "@vs2 seq=1 type=trace p=0 t0=5 ev=run:0:0:0:1,",        /* trailing comma */
        "@vs2 seq=1 type=trace p=0 t0=5 ev=run:0:0:x:1",         /* not a number */
        "@vs2 seq=1 type=trace p=256 t0=5 ev=run:0:0:0:1",       /* no such pCPU */
        "@vs2 seq=1 type=trace p=0 ev=run:0:0:0:1",              /* no t0 */
        "@vs2 seq=1 type=vm p=0 t0=5 ev=run:0:0:0:1",            /* not a trace record */
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct proto_msg m;
        char err[PROTO_ERR_MAX];
        uint64_t lost;
        assert_int_equal(proto_parse(bad[i], strlen(bad[i]), &m, err, sizeof(err)), PROTO_OK);
        if (proto_get_trace(&m, got, PROTO_TRACE_MAX_EVENTS, &lost) != -1)
            fail_msg("accepted: %s", bad[i]);
    }
    /* More items than the caller has room for. */
    struct proto_msg m;
    char err[PROTO_ERR_MAX];
    uint64_t lost;
    const char *two = "@vs2 seq=1 type=trace p=0 t0=5 ev=run:0:0:0:1,kick:-:-:1:-3";
    assert_int_equal(proto_parse(two, strlen(two), &m, err, sizeof(err)), PROTO_OK);
    assert_int_equal(proto_get_trace(&m, got, 1, &lost), -1);
    assert_int_equal(proto_get_trace(&m, got, 2, &lost), 2);
    assert_int_equal(got[1].t_ns, 3);
    assert_int_equal(got[1].vm, SCHED_TRACE_NO_VM);
    assert_int_equal(got[1].arg, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_record),
        cmocka_unit_test(test_format_extremes),
        cmocka_unit_test(test_format_bad_key_or_token),
        cmocka_unit_test(test_format_overflow),
        cmocka_unit_test(test_format_command),
        cmocka_unit_test(test_parse_seq_and_type),
        cmocka_unit_test(test_parse_not_protocol),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_cmd_accepted),
        cmocka_unit_test(test_cmd_rejected),
        cmocka_unit_test(test_cmd_input),
        cmocka_unit_test(test_fuzz),
        cmocka_unit_test(test_roundtrip_random),
        cmocka_unit_test(test_hist_format),
        cmocka_unit_test(test_hist_parse_errors),
        cmocka_unit_test(test_hist_roundtrip_random),
        cmocka_unit_test(test_records_layout),
        cmocka_unit_test(test_records_hist_continues),
        cmocka_unit_test(test_round_fits_line_rate),
        cmocka_unit_test(test_trace_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
