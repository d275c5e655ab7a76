/* check_scripts.c -- the typed script calls: how arguments are packed
 * (optional ones, binary lengths), the decoding of cb_complete.lua's reply,
 * and the generator (lua/scripts.sh) refusing a script whose declared
 * arguments disagree with what its body uses. */
#include "scripts.h"
#include "suites.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

START_TEST(packing)
{
    struct scripts_call c;
    struct scripts_cb_resume plain = {.cb = "aa:cb:x",
                                      .completed = "c",
                                      .deadlines = "d",
                                      .cbid = "x",
                                      .now = "1",
                                      .retention_s = "60"};
    scripts_cb_resume_pack(&c, &plain);
    ck_assert_str_eq(c.name, "cb_resume");
    ck_assert_int_eq(c.nkeys, 3);
    ck_assert_int_eq(c.n, 6); /* the optional take is not sent */
    ck_assert_str_eq(c.v[3], "x");
    struct scripts_cb_resume take = plain;
    take.stream = "s";
    take.group = "g";
    take.consumer = "me";
    take.lease_ms = "100";
    take.max_attempts = "5";
    scripts_cb_resume_pack(&c, &take);
    ck_assert_int_eq(c.n, 11);
    ck_assert_str_eq(c.v[10], "5");
    /* a binary-safe argument keeps its length, NUL bytes and all */
    struct scripts_cb_complete cc = {.cb = "k",
                                     .completed = "c",
                                     .deadlines = "d",
                                     .cbid = "x",
                                     .kind = "succeed",
                                     .session = "s",
                                     .payload = "a\0b",
                                     .payload_len = 3,
                                     .now = "1",
                                     .subject = "",
                                     .admin = ""};
    scripts_cb_complete_pack(&c, &cc);
    ck_assert_int_eq(c.n, 10);
    ck_assert_uint_eq(c.l[6], 3);
    ck_assert_uint_eq(c.l[8], 0);
}
END_TEST

/* A "*" list is packed after the fixed arguments (exec_batch.lua's). */
START_TEST(rest_list)
{
    const char *items[] = {"e1", "succeeded", "done", "1-0", "e2", NULL};
    struct scripts_exec_batch a = {.stream = "s",
                                   .group = "g",
                                   .worker = "w",
                                   .now = "1",
                                   .lease_ms = "2",
                                   .max_attempts = "3",
                                   .retention_s = "4",
                                   .nend = "1",
                                   .items = items,
                                   .items_n = 6};
    struct scripts_call c;
    scripts_exec_batch_pack(&c, &a);
    ck_assert_int_eq(c.nkeys, 1);
    ck_assert_int_eq(c.n, 1 + 7 + 6);
    ck_assert_str_eq(c.v[0], "s");
    ck_assert_str_eq(c.v[7], "1");
    ck_assert_str_eq(c.v[8], "e1");
    ck_assert_str_eq(c.v[12], "e2");
    ck_assert_str_eq(c.v[13], ""); /* NULL is sent as "" */
    ck_assert_int_eq(c.l[13], 0);
    a.items_n = 0;
    scripts_exec_batch_pack(&c, &a);
    ck_assert_int_eq(c.n, 8);
}
END_TEST

START_TEST(optional_gaps)
{
    struct scripts_call c;
    /* an optional key left out; a NULL before a given optional value is "" */
    struct scripts_exec_finish f = {.exec = "e",
                                    .eid = "1",
                                    .worker = "w",
                                    .status = "failed",
                                    .result = "r",
                                    .now = "1",
                                    .retention_s = "9",
                                    .group = "g",
                                    .entry = "1-0"};
    scripts_exec_finish_pack(&c, &f);
    ck_assert_int_eq(c.nkeys, 1);
    ck_assert_int_eq(c.n, 1 + 9);
    ck_assert_str_eq(c.v[7], ""); /* owner */
    ck_assert_str_eq(c.v[9], "1-0");
    /* a required one left NULL is sent as "" */
    struct scripts_task_list t = {.tasks = "k"};
    scripts_task_list_pack(&c, &t);
    ck_assert_int_eq(c.n, 3);
    ck_assert_str_eq(c.v[2], "");
    ck_assert_int_eq(SCRIPTS_EXEC_START_NKEYS, 3);
    ck_assert_int_eq(SCRIPTS_EXEC_START_NARGV, 13);
}
END_TEST

static redisReply *pair(redisReply *r, redisReply *e, redisReply **el, const char *a, const char *b)
{
    memset(r, 0, sizeof(*r));
    memset(e, 0, 2 * sizeof(*e));
    e[0].type = e[1].type = REDIS_REPLY_STRING;
    e[0].str = (char *)a;
    e[0].len = strlen(a);
    e[1].str = (char *)b;
    e[1].len = strlen(b);
    el[0] = &e[0];
    el[1] = &e[1];
    r->type = REDIS_REPLY_ARRAY;
    r->elements = 2;
    r->element = el;
    return r;
}

START_TEST(completion_replies)
{
    redisReply r, e[2], *el[2];
    static const struct {
        const char *a, *b;
        enum scripts_completion v;
    } cases[] = {
        {"ok", "recorded", SCRIPTS_CB_RECORDED},   {"ok", "duplicate", SCRIPTS_CB_DUPLICATE},
        {"ok", "heartbeat", SCRIPTS_CB_HEARTBEAT}, {"err", "not_found", SCRIPTS_CB_NOT_FOUND},
        {"err", "expired", SCRIPTS_CB_EXPIRED},    {"err", "conflict", SCRIPTS_CB_CONFLICT},
        {"err", "other", SCRIPTS_CB_UNAVAILABLE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_int_eq(scripts_cb_complete_reply(pair(&r, e, el, cases[i].a, cases[i].b)),
                         cases[i].v);
        if (cases[i].v != SCRIPTS_CB_UNAVAILABLE)
            ck_assert_str_eq(scripts_completion_name(cases[i].v), cases[i].b);
    }
    ck_assert_int_eq(scripts_cb_complete_reply(NULL), SCRIPTS_CB_UNAVAILABLE);
    pair(&r, e, el, "ok", "recorded");
    r.elements = 1;
    ck_assert_int_eq(scripts_cb_complete_reply(&r), SCRIPTS_CB_UNAVAILABLE);
    r.elements = 2;
    r.type = REDIS_REPLY_ERROR;
    ck_assert_int_eq(scripts_cb_complete_reply(&r), SCRIPTS_CB_UNAVAILABLE);
}
END_TEST

/* Runs lua/scripts.sh on a directory holding one script. Returns its
 * exit status. */
static int generate(const char *body)
{
    char dir[] = "/tmp/aa-scripts-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[128], cmd[512];
    snprintf(path, sizeof(path), "%s/t.lua", dir);
    FILE *f = fopen(path, "w");
    fputs(body, f);
    fclose(f);
    snprintf(cmd, sizeof(cmd),
             "sh lua/scripts.sh %s/out %s 2>/dev/null; st=$?; rm -rf %s; exit $st", dir, dir, dir);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(generator_checks)
{
    ck_assert_int_eq(generate("--@keys a b\n--@argv x\nreturn {KEYS[1], KEYS[2], ARGV[1]}\n"), 0);
    /* the body uses a KEY or an ARGV the header does not declare */
    ck_assert_int_ne(generate("--@keys a\n--@argv x\nreturn {KEYS[2], ARGV[1]}\n"), 0);
    ck_assert_int_ne(generate("--@keys a\n--@argv x\nreturn {KEYS[1], ARGV[2]}\n"), 0);
    /* or declares one it does not use */
    ck_assert_int_ne(generate("--@keys a b\n--@argv x\nreturn {KEYS[1], ARGV[1]}\n"), 0);
    /* a required argument after an optional one, a name twice, no header */
    ck_assert_int_ne(generate("--@keys a\n--@argv x? y\nreturn {KEYS[1], ARGV[2]}\n"), 0);
    ck_assert_int_ne(generate("--@keys a\n--@argv a\nreturn {KEYS[1], ARGV[1]}\n"), 0);
    ck_assert_int_ne(generate("return 1\n"), 0);
    /* a "*" list takes the rest: last, after required ones only, not counted */
    ck_assert_int_eq(
        generate("--@keys a\n--@argv x rest*\nreturn {KEYS[1], ARGV[1], ARGV[2 + 0]}\n"), 0);
    ck_assert_int_ne(generate("--@keys a\n--@argv rest* x\nreturn {KEYS[1], ARGV[2]}\n"), 0);
    ck_assert_int_ne(generate("--@keys a\n--@argv x? rest*\nreturn {KEYS[1], ARGV[1]}\n"), 0);
    ck_assert_int_ne(generate("--@keys a\n--@argv x rest*\nreturn {KEYS[1], ARGV[2]}\n"), 0);
}
END_TEST

Suite *scripts_suite(void)
{
    Suite *s = suite_create("scripts");
    TCase *core = tcase_create("core"), *limits = tcase_create("limits"),
          *errs = tcase_create("errors");
    tcase_add_test(core, packing);
    tcase_add_test(core, completion_replies);
    tcase_add_test(limits, optional_gaps);
    tcase_add_test(limits, rest_list);
    tcase_add_test(errs, generator_checks);
    suite_add_tcase(s, core);
    suite_add_tcase(s, limits);
    suite_add_tcase(s, errs);
    return s;
}
