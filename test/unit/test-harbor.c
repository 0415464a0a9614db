/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "buf.h"
#include "error.h"
#include "harbor.h"
#include "http.h"
#include "standin.h"
#include "util.h"
#include "banned.h"

static struct standin the_standin;

/*
 * Every secret the tests saw (the admin password, robot secrets, planted
 * ones), and every error message and hint they produced: the last test checks
 * that none of the latter holds any of the former.
 */
static struct bx_strv secrets_seen = BX_STRV_INIT;
static struct bx_strv messages = BX_STRV_INIT;

static void keep_secret(const char *s)
{
        bx_strv_push(&secrets_seen, s);
}

/* Record the message and hint of e, then free it; returns NULL. */
static struct bx_error *keep(struct bx_error *e)
{
        if (e) {
                bx_strv_push(&messages, e->msg);
                if (e->hint)
                        bx_strv_push(&messages, e->hint);
        }
        return bx_error_free(e);
}

static int group_setup(void **state)
{
        struct standin *s = &the_standin;

        if (standin_start(s, "test-harbor", "library,demo:7,other") < 0)
                print_message("the Harbor stand-in is not available: %s\n", s->why);
        else
                keep_secret(s->admin_pw);
        *state = s;
        return 0;
}

static int group_teardown(void **state)
{
        standin_stop(*state);
        bx_strv_release(&secrets_seen);
        bx_strv_release(&messages);
        return 0;
}

static struct bx_harbor *harbor(struct standin *s, const char *user, const char *secret)
{
        struct bx_http_opts o = standin_http_opts(s, user, secret);
        struct bx_harbor *h = NULL;
        struct bx_error *e = NULL;

        if (bx_harbor_new(&o, &h, &e) < 0)
                fail_msg("bx_harbor_new: %s", e->msg);
        return h;
}

static struct bx_harbor *admin(struct standin *s)
{
        return harbor(s, "admin", s->admin_pw);
}

/* Create a robot that must be created (*ret is the caller's); its secret is kept. */
static void create_robot(struct bx_harbor *h, const char *project, const char *name,
                         const char *description, bool push, int64_t days,
                         struct bx_harbor_robot *ret)
{
        struct bx_error *e = NULL;

        if (bx_harbor_robot_create(h, project, name, description, push, days, ret, &e) < 0)
                fail_msg("robot '%s+%s': %s", project, name, e->msg);
        keep_secret(ret->secret);
}

/*
 * Arm `fault` (unless NULL); then creating the robot project+name (pushing,
 * for a day) must fail.  Returns the error for the caller to check and keep().
 */
static struct bx_error *create_fails(struct standin *s, struct bx_harbor *h, const char *fault,
                                     const char *project, const char *name)
{
        struct bx_harbor_robot r = {0};
        struct bx_error *e = NULL;

        if (fault)
                standin_arm(s, fault);
        assert_int_equal(bx_harbor_robot_create(h, project, name, NULL, true, 1, &r, &e), -1);
        return e;
}

/* The stand-in's record of robot `id` (with "deleted" and "project_id"); caller frees. */
static cJSON *standin_robot(struct standin *s, int64_t id)
{
        cJSON *doc = standin_control(s, "GET", "/_standin/robots", NULL);
        const cJSON *r;

        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(doc, "robots"))
        {
                const cJSON *rid = cJSON_GetObjectItemCaseSensitive(r, "id");

                if (cJSON_IsNumber(rid) && (int64_t)rid->valuedouble == id) {
                        cJSON *copy = cJSON_Duplicate(r, 1);

                        cJSON_Delete(doc);
                        return copy;
                }
        }
        cJSON_Delete(doc);
        fail_msg("the stand-in has no robot %lld", (long long)id);
        return NULL;
}

/* "repository:pull,repository:push,artifact:read" from a robot's one permission. */
static char *access_list(const cJSON *robot)
{
        const cJSON *perms = cJSON_GetObjectItemCaseSensitive(robot, "permissions");
        const cJSON *p = cJSON_GetArrayItem(perms, 0), *a;
        struct bx_buf b = BX_BUF_INIT(0);

        assert_int_equal(cJSON_GetArraySize(perms), 1);
        bx_buf_addf(&b, "%s/%s:", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "kind")),
                    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "namespace")));
        cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(p, "access"))
        {
                bx_buf_addf(&b, "%s%s:%s", b.buf[b.len - 1] == ':' ? "" : ",",
                            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "resource")),
                            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "action")));
        }
        return bx_buf_detach(&b, NULL);
}

static void expect_msg(struct bx_error *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void expect_msg(struct bx_error *e, const char *fmt, ...)
{
        va_list ap;
        char *want;

        assert_non_null(e);
        va_start(ap, fmt);
        want = bx_xvasprintf(fmt, ap);
        va_end(ap);
        if (strcmp(e->msg, want) != 0)
                fail_msg("message\n  got  %s\n  want %s", e->msg, want);
        free(want);
}

/* ---- without a server ---------------------------------------------------- */

static void test_valid_names(void **state)
{
        static const char *const good[] = {"a", "bx-1001-ab12cd34", "ci.job_1",
                                           "0", "a-b.c_d",          NULL};
        static const char *const bad[] = {"",    "A",   "a+b",     "-a",    "a-", "a..b", "a-_b",
                                          "a b", "a/b", "robot$x", "a%2Bb", "é",  NULL};
        char long_name[300];
        size_t i;

        (void)state;
        for (i = 0; good[i]; i++)
                if (!bx_harbor_valid_name(good[i]))
                        fail_msg("'%s' was refused", good[i]);
        for (i = 0; bad[i]; i++)
                if (bx_harbor_valid_name(bad[i]))
                        fail_msg("'%s' was accepted", bad[i]);
        assert_false(bx_harbor_valid_name(NULL));
        memset(long_name, 'a', sizeof(long_name));
        long_name[255] = '\0';
        assert_true(bx_harbor_valid_name(long_name));
        long_name[255] = 'a';
        long_name[256] = '\0';
        assert_false(bx_harbor_valid_name(long_name));
}

static void test_new_needs_credentials(void **state)
{
        struct bx_http_opts o = BX_HTTP_OPTS_INIT;
        struct bx_harbor *h = NULL;
        struct bx_error *e = NULL;

        (void)state;
        o.base_url = "https://harbor.test";
        assert_int_equal(bx_harbor_new(&o, &h, &e), -1);
        e = keep(e);
        o.username = "admin";
        assert_int_equal(bx_harbor_new(&o, &h, &e), -1);
        e = keep(e);
        o.secret = "Secr3t-of-new";
        keep_secret(o.secret);
        o.base_url = "ftp://harbor.test";
        assert_int_equal(bx_harbor_new(&o, &h, &e), -1);
        assert_true(bx_startswith(e->msg, "Harbor: "));
        e = keep(e);
        o.base_url = "https://harbor.test/";
        assert_int_equal(bx_harbor_new(&o, &h, &e), 0);
        assert_string_equal(bx_harbor_url(h), "https://harbor.test");
        assert_null(bx_harbor_free(h));
        assert_null(bx_harbor_free(NULL));
}

/* ---- against the stand-in ------------------------------------------------ */

static void test_ping(void **state)
{
        struct standin *s = *state;
        struct bx_error *e = NULL;
        struct bx_harbor *h;

        STANDIN_NEED(s);
        h = admin(s);
        if (bx_harbor_ping(h, &e) < 0)
                fail_msg("%s", e->msg);
        assert_int_equal((int)strlen(bx_harbor_last_request_id(h)), BX_HTTP_REQUEST_ID_LEN);
        /* Harbor down for a moment: retried. */
        standin_arm(s, "{\"path_prefix\":\"/api/v2.0/ping\",\"status\":503,\"count\":1}");
        assert_int_equal(bx_harbor_ping(h, &e), 0);
        /* Down for good. */
        standin_arm(s, "{\"path_prefix\":\"/api/v2.0/ping\",\"status\":502,\"count\":4}");
        assert_int_equal(bx_harbor_ping(h, &e), -1);
        expect_msg(e,
                   "Harbor at '%s': cannot answer ping (HTTP 502: internal server error) "
                   "after 4 attempts",
                   s->url);
        assert_non_null(strstr(e->hint, bx_harbor_last_request_id(h)));
        e = keep(e);
        bx_harbor_free(h);
}

static void test_project_id(void **state)
{
        struct standin *s = *state;
        struct bx_error *e = NULL;
        struct bx_harbor *h;
        int64_t id = 0;
        int64_t since;

        STANDIN_NEED(s);
        h = admin(s);
        since = standin_last_seq(s);
        if (bx_harbor_project_id(h, "demo", &id, &e) < 0)
                fail_msg("%s", e->msg);
        assert_int_equal(id, 7);
        /* HEAD first, then GET by name. */
        assert_int_equal(standin_seen(s, since, "HEAD", "/api/v2.0/projects", NULL, 1), 1);
        assert_int_equal(standin_seen(s, since, "GET", "/api/v2.0/projects/demo", NULL, 1), 1);
        assert_int_equal(bx_harbor_project_id(h, "library", &id, &e), 0);
        assert_int_equal(id, 1);
        /* A project whose name looks like an id is still looked up by name. */
        cJSON_Delete(
            standin_control(s, "POST", "/_standin/projects", "{\"name\":\"42\",\"id\":9}"));
        assert_int_equal(bx_harbor_project_id(h, "42", &id, &e), 0);
        assert_int_equal(id, 9);
        bx_harbor_free(h);
}

static void test_project_missing(void **state)
{
        struct standin *s = *state;
        struct bx_error *e = NULL;
        struct bx_harbor *h;
        int64_t id = -5;
        int64_t since;

        STANDIN_NEED(s);
        h = admin(s);
        assert_int_equal(bx_harbor_project_id(h, "nope", &id, &e), -1);
        expect_msg(e, "Harbor project 'nope' does not exist at '%s'", s->url);
        assert_string_equal(e->hint, "create it or fix [[harbor.project]] in the settings");
        assert_int_equal(e->errnum, ENOENT);
        assert_int_equal(e->fail, BX_FAIL_SYSTEM);
        assert_int_equal(id, -5);
        e = keep(e);
        /* Names Harbor would not have are refused without asking. */
        since = standin_last_seq(s);
        assert_int_equal(bx_harbor_project_id(h, "../robots", &id, &e), -1);
        assert_non_null(strstr(e->msg, "invalid Harbor project name"));
        e = keep(e);
        assert_int_equal(bx_harbor_project_id(h, "demo?x=1", &id, &e), -1);
        e = keep(e);
        assert_int_equal(standin_seen(s, since, "HEAD", "/api/v2.0/projects", NULL, 0), 0);
        bx_harbor_free(h);
}

static void test_robot_lifecycle(void **state)
{
        struct standin *s = *state;
        struct bx_harbor_robot robot = {0};
        struct bx_error *e = NULL;
        struct bx_harbor *h;
        int64_t found = 0, now = (int64_t)time(NULL);
        char *acc;
        cJSON *rec;

        STANDIN_NEED(s);
        h = admin(s);
        create_robot(h, "demo", "bx-1001-ab12cd34", "gitlab job 1001", true, 1, &robot);
        assert_true(robot.id > 0);
        assert_string_equal(robot.name, "robot$demo+bx-1001-ab12cd34");
        assert_int_equal((int)strlen(robot.secret), 32);
        assert_true(robot.expires_at >= now + 86400 - 60 && robot.expires_at <= now + 86400 + 60);

        rec = standin_robot(s, robot.id);
        acc = access_list(rec);
        assert_string_equal(acc, "project/demo:repository:pull,repository:push,artifact:read");
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "level")),
                            "project");
        assert_string_equal(
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "description")),
            "gitlab job 1001");
        assert_int_equal(cJSON_GetObjectItemCaseSensitive(rec, "project_id")->valueint, 7);
        free(acc);
        cJSON_Delete(rec);

        assert_int_equal(bx_harbor_robot_find(h, 7, "demo+bx-1001-ab12cd34", &found, &e), 1);
        assert_int_equal(found, robot.id);
        /* Another project's list does not have it. */
        assert_int_equal(bx_harbor_robot_find(h, 1, "demo+bx-1001-ab12cd34", &found, &e), 0);

        assert_int_equal(bx_harbor_robot_delete(h, robot.id, &e), 1);
        rec = standin_robot(s, robot.id);
        assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rec, "deleted")));
        cJSON_Delete(rec);
        /* Already gone. */
        assert_int_equal(bx_harbor_robot_delete(h, robot.id, &e), 0);
        found = -1;
        assert_int_equal(bx_harbor_robot_find(h, 7, "demo+bx-1001-ab12cd34", &found, &e), 0);
        assert_int_equal(found, -1);
        assert_null(e);

        bx_harbor_robot_release(&robot);
        assert_null(robot.secret);
        assert_null(robot.name);
        bx_harbor_robot_release(NULL);
        bx_harbor_free(h);
}

static void test_robot_pull_only(void **state)
{
        struct standin *s = *state;
        struct bx_harbor_robot robot = {0}, other = {0};
        struct bx_error *e = NULL;
        struct bx_harbor *h, *as_robot;
        int64_t id;
        char *acc;
        cJSON *rec;

        STANDIN_NEED(s);
        h = admin(s);
        create_robot(h, "demo", "pull-1", NULL, false, 3, &robot);
        rec = standin_robot(s, robot.id);
        acc = access_list(rec);
        assert_string_equal(acc, "project/demo:repository:pull,artifact:read");
        assert_int_equal(cJSON_GetObjectItemCaseSensitive(rec, "duration")->valueint, 3);
        free(acc);
        cJSON_Delete(rec);

        /* The robot itself may read its project, but not manage robots: 403 names it. */
        as_robot = harbor(s, robot.name, robot.secret);
        assert_int_equal(bx_harbor_project_id(as_robot, "demo", &id, &e), 0);
        assert_int_equal(id, 7);
        assert_int_equal(
            bx_harbor_robot_create(as_robot, "demo", "by-robot", NULL, false, 1, &other, &e), -1);
        expect_msg(e,
                   "Harbor at '%s': 'robot$demo+pull-1' may not create robot accounts in "
                   "project 'demo' (HTTP 403)",
                   s->url);
        assert_non_null(e->hint);
        e = keep(e);
        assert_null(other.secret);
        assert_int_equal(bx_harbor_robot_delete(as_robot, robot.id, &e), -1);
        expect_msg(e,
                   "Harbor at '%s': 'robot$demo+pull-1' may not delete robot account %lld "
                   "(HTTP 403)",
                   s->url, (long long)robot.id);
        e = keep(e);
        bx_harbor_free(as_robot);

        assert_int_equal(bx_harbor_robot_delete(h, robot.id, &e), 1);
        bx_harbor_robot_release(&robot);
        bx_harbor_free(h);
}

static void test_robot_duplicate(void **state)
{
        struct standin *s = *state;
        struct bx_harbor_robot a = {0}, b = {0};
        struct bx_error *e = NULL;
        struct bx_harbor *h;

        STANDIN_NEED(s);
        h = admin(s);
        create_robot(h, "demo", "dup-1", "first", true, 1, &a);
        assert_int_equal(bx_harbor_robot_create(h, "demo", "dup-1", "second", true, 1, &b, &e), -1);
        expect_msg(e, "Harbor robot 'demo+dup-1' already exists at '%s'", s->url);
        assert_int_equal(e->errnum, EEXIST);
        assert_non_null(e->hint);
        e = keep(e);
        assert_null(b.name);
        /* The same short name in another project is another robot. */
        create_robot(h, "other", "dup-1", NULL, false, 1, &b);
        assert_string_equal(b.name, "robot$other+dup-1");
        assert_int_equal(bx_harbor_robot_delete(h, a.id, &e), 1);
        assert_int_equal(bx_harbor_robot_delete(h, b.id, &e), 1);
        bx_harbor_robot_release(&a);
        bx_harbor_robot_release(&b);
        bx_harbor_free(h);
}

static void test_robot_find_names(void **state)
{
        static const char *const bad[] = {"nope",     "demo+",    "+x", "demo+Bad",
                                          "demo+a+b", "demo/x+y", "",   NULL};
        struct standin *s = *state;
        struct bx_error *e = NULL;
        struct bx_harbor *h;
        int64_t id = -1, since;
        size_t i;

        STANDIN_NEED(s);
        h = admin(s);
        assert_int_equal(bx_harbor_robot_find(h, 7, "demo+nope", &id, &e), 0);
        assert_int_equal(id, -1);
        /* A server that matched loosely: only the exact name counts. */
        standin_arm(s,
                    "{\"path_prefix\":\"/api/v2.0/robots\",\"method\":\"GET\",\"status\":200,"
                    "\"count\":2,\"body\":\"[{\\\"id\\\":98,\\\"name\\\":\\\"robot$demo+x-10\\\"},"
                    "{\\\"id\\\":99,\\\"name\\\":\\\"robot$demo+x-1\\\"}]\"}");
        assert_int_equal(bx_harbor_robot_find(h, 7, "demo+x-1", &id, &e), 1);
        assert_int_equal(id, 99);
        id = -1;
        assert_int_equal(bx_harbor_robot_find(h, 7, "demo+x", &id, &e), 0);
        assert_int_equal(id, -1);
        /* Not a list: an error, not "not found". */
        standin_arm(s, "{\"path_prefix\":\"/api/v2.0/robots\",\"method\":\"GET\",\"status\":200,"
                       "\"body\":\"{}\"}");
        assert_int_equal(bx_harbor_robot_find(h, 7, "demo+x-1", &id, &e), -1);
        assert_non_null(strstr(e->msg, "is not a JSON array"));
        e = keep(e);
        since = standin_last_seq(s);
        for (i = 0; bad[i]; i++) {
                if (bx_harbor_robot_find(h, 7, bad[i], &id, &e) != -1)
                        fail_msg("'%s' was accepted", bad[i]);
                e = keep(e);
        }
        assert_int_equal(bx_harbor_robot_find(h, 7, NULL, &id, &e), -1);
        e = keep(e);
        assert_int_equal(bx_harbor_robot_find(h, 0, "demo+x", &id, &e), -1);
        e = keep(e);
        assert_int_equal(standin_seen(s, since, "GET", "/api/v2.0/robots", NULL, 0), 0);
        bx_harbor_free(h);
}

static void test_robot_invalid_arguments(void **state)
{
        static const char *const bad[] = {"", "Bx-1", "a+b", "-a", "a_", "a..b", "robot$x", NULL};
        static const int64_t bad_days[] = {0, -2, INT64_C(2147483647), INT64_MAX};
        struct standin *s = *state;
        struct bx_harbor_robot r = {0};
        struct bx_error *e = NULL;
        struct bx_harbor *h;
        int64_t since;
        size_t i;

        STANDIN_NEED(s);
        h = admin(s);
        since = standin_last_seq(s);
        for (i = 0; bad[i]; i++) {
                if (bx_harbor_robot_create(h, "demo", bad[i], NULL, true, 1, &r, &e) != -1)
                        fail_msg("robot name '%s' was accepted", bad[i]);
                assert_non_null(strstr(e->msg, "invalid Harbor robot name"));
                e = keep(e);
        }
        assert_int_equal(bx_harbor_robot_create(h, "demo", NULL, NULL, true, 1, &r, &e), -1);
        e = keep(e);
        assert_int_equal(bx_harbor_robot_create(h, "De mo", "x", NULL, true, 1, &r, &e), -1);
        e = keep(e);
        for (i = 0; i < sizeof(bad_days) / sizeof(bad_days[0]); i++) {
                assert_int_equal(
                    bx_harbor_robot_create(h, "demo", "days", NULL, true, bad_days[i], &r, &e), -1);
                assert_non_null(strstr(e->msg, "invalid Harbor robot duration"));
                e = keep(e);
        }
        assert_int_equal(bx_harbor_robot_delete(h, 0, &e), -1);
        e = keep(e);
        assert_int_equal(standin_seen(s, since, "POST", "/api/v2.0/robots", NULL, 0), 0);
        assert_null(r.name);
        bx_harbor_free(h);
}

static void test_wrong_password(void **state)
{
        static const char wrong[] = "Wr0ng-admin-Passw0rd";
        struct standin *s = *state;
        struct bx_harbor_robot r = {0};
        struct bx_error *e = NULL;
        struct bx_harbor *h;
        int64_t id = 0;
        char want[160];
        int i;

        STANDIN_NEED(s);
        keep_secret(wrong);
        h = harbor(s, "admin", wrong);
        snprintf(want, sizeof(want), "Harbor at '%s' refused the credential of 'admin' (HTTP 401)",
                 s->url);
        /* Harbor does not need a login for ping. */
        assert_int_equal(bx_harbor_ping(h, &e), 0);
        for (i = 0; i < 4; i++) {
                int rc = i == 0   ? bx_harbor_project_id(h, "demo", &id, &e)
                         : i == 1 ? bx_harbor_robot_create(h, "demo", "x-1", NULL, true, 1, &r, &e)
                         : i == 2 ? bx_harbor_robot_find(h, 7, "demo+x-1", &id, &e)
                                  : bx_harbor_robot_delete(h, 1, &e);

                assert_int_equal(rc, -1);
                if (strcmp(e->msg, want) != 0)
                        fail_msg("call %d: got '%s', want '%s'", i, e->msg, want);
                assert_string_equal(e->hint, "check the [harbor] username and password_file "
                                             "settings");
                assert_int_equal(e->fail, BX_FAIL_SYSTEM);
                assert_null(strstr(e->msg, wrong));
                assert_null(strstr(e->hint, wrong));
                e = keep(e);
        }
        assert_int_equal(id, 0);
        bx_harbor_free(h);
}

static void test_create_in_missing_project(void **state)
{
        struct standin *s = *state;
        struct bx_error *e;
        struct bx_harbor *h;

        STANDIN_NEED(s);
        h = admin(s);
        /* Harbor answers 403 here; the module finds out that the project is missing. */
        e = create_fails(s, h, NULL, "nosuch", "x-1");
        expect_msg(e, "Harbor project 'nosuch' does not exist at '%s'", s->url);
        assert_string_equal(e->hint, "create it or fix [[harbor.project]] in the settings");
        e = keep(e);
        bx_harbor_free(h);
}

static void test_create_retried_after_500(void **state)
{
        struct standin *s = *state;
        struct bx_harbor_robot r = {0};
        struct bx_error *e = NULL;
        struct bx_harbor *h;
        int64_t since, found = 0;

        STANDIN_NEED(s);
        h = admin(s);
        standin_arm(s, "{\"path_prefix\":\"/api/v2.0/robots\",\"method\":\"POST\",\"status\":500,"
                       "\"count\":2}");
        since = standin_last_seq(s);
        create_robot(h, "demo", "retry-1", NULL, true, 1, &r);
        assert_string_equal(r.name, "robot$demo+retry-1");
        assert_int_equal(
            standin_seen(s, since, "POST", "/api/v2.0/robots", bx_harbor_last_request_id(h), 3), 3);
        assert_int_equal(bx_harbor_robot_find(h, 7, "demo+retry-1", &found, &e), 1);
        assert_int_equal(found, r.id);
        assert_int_equal(bx_harbor_robot_delete(h, r.id, &e), 1);
        bx_harbor_robot_release(&r);
        bx_harbor_free(h);
}

static void test_create_500_exhausted(void **state)
{
        struct standin *s = *state;
        struct bx_error *e;
        struct bx_harbor *h;

        STANDIN_NEED(s);
        h = admin(s);
        e = create_fails(s, h,
                         "{\"path_prefix\":\"/api/v2.0/robots\",\"method\":\"POST\",\"status\":500,"
                         "\"count\":4}",
                         "demo", "down-1");
        expect_msg(e,
                   "Harbor at '%s': cannot create robot accounts in project 'demo' (HTTP 500: "
                   "internal server error) after 4 attempts",
                   s->url);
        e = keep(e);
        bx_harbor_free(h);
}

static void test_create_answer_lost(void **state)
{
        struct standin *s = *state;
        struct bx_error *e;
        struct bx_harbor *h;
        int64_t found = 0;

        STANDIN_NEED(s);
        h = admin(s);
        /* The first attempt creates the robot and its answer is lost; the retry gets 409. */
        e = create_fails(s, h,
                         "{\"path_prefix\":\"/api/v2.0/robots\",\"method\":\"POST\",\"drop\":true,"
                         "\"phase\":\"after\",\"count\":1}",
                         "demo", "lost-1");
        assert_int_equal(e->errnum, EEXIST);
        expect_msg(e,
                   "Harbor robot 'demo+lost-1' already exists at '%s' (the answer to an "
                   "earlier attempt was lost; that attempt may have created it)",
                   s->url);
        e = keep(e);
        /* What a caller does then: find it and delete it. */
        assert_int_equal(bx_harbor_robot_find(h, 7, "demo+lost-1", &found, &e), 1);
        assert_int_equal(bx_harbor_robot_delete(h, found, &e), 1);
        bx_harbor_free(h);
}

static void test_error_body_is_redacted(void **state)
{
        static const char planted[] = "S3cretLeak9";
        struct standin *s = *state;
        struct bx_error *e;
        struct bx_harbor *h;

        STANDIN_NEED(s);
        keep_secret(planted);
        keep_secret("eyJhbGciOiJSUzI1NiJ9");
        keep_secret("YWRtaW46cGFzcw");
        h = admin(s);
        e = create_fails(
            s, h,
            "{\"path_prefix\":\"/api/v2.0/robots\",\"method\":\"POST\",\"status\":400,"
            "\"body\":\"{\\\"errors\\\":[{\\\"code\\\":\\\"BAD_REQUEST\\\",\\\"message\\\":"
            "\\\"bad robot {\\\\\\\"secret\\\\\\\":\\\\\\\"S3cretLeak9\\\\\\\"} with "
            "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln and Authorization: Basic "
            "YWRtaW46cGFzcw==\\\"}]}\"}",
            "demo", "leak-1");
        /* Recorded first: the last test must see it even if an assertion here fails. */
        bx_strv_push(&messages, e->msg);
        print_message("%s\n", e->msg);
        assert_true(bx_startswith(e->msg, "Harbor at '"));
        assert_non_null(strstr(e->msg, "cannot create robot accounts in project 'demo' "
                                       "(HTTP 400: bad robot {\"secret\":\"[REDACTED]\"} with "
                                       "[REDACTED] and Authorization: [REDACTED]"));
        assert_null(strstr(e->msg, planted));
        e = keep(e);
        /* A body that is not Harbor's JSON is shown (redacted), not parsed. */
        e = create_fails(s, h,
                         "{\"path_prefix\":\"/api/v2.0/robots\",\"method\":\"POST\",\"status\":418,"
                         "\"body\":\"teapot password=S3cretLeak9\"}",
                         "demo", "leak-1");
        expect_msg(e,
                   "Harbor at '%s': cannot create robot accounts in project 'demo' (HTTP 418: "
                   "teapot password=[REDACTED])",
                   s->url);
        e = keep(e);
        bx_harbor_free(h);
}

/* Last: nothing any test produced may hold a secret any test saw. */
static void test_no_secret_in_any_message(void **state)
{
        struct standin *s = *state;
        size_t i, j;

        STANDIN_NEED(s);
        print_message("%zu messages and hints checked against %zu secrets\n", messages.n,
                      secrets_seen.n);
        /* The tests above really did produce messages and see robot secrets. */
        assert_true(messages.n >= 30);
        assert_true(secrets_seen.n >= 8);
        for (i = 0; i < messages.n; i++)
                for (j = 0; j < secrets_seen.n; j++)
                        if (strstr(messages.v[i], secrets_seen.v[j]))
                                fail_msg("secret #%zu is in: %s", j, messages.v[i]);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_valid_names),
            cmocka_unit_test(test_new_needs_credentials),
            cmocka_unit_test_setup(test_ping, standin_test_setup),
            cmocka_unit_test_setup(test_project_id, standin_test_setup),
            cmocka_unit_test_setup(test_project_missing, standin_test_setup),
            cmocka_unit_test_setup(test_robot_lifecycle, standin_test_setup),
            cmocka_unit_test_setup(test_robot_pull_only, standin_test_setup),
            cmocka_unit_test_setup(test_robot_duplicate, standin_test_setup),
            cmocka_unit_test_setup(test_robot_find_names, standin_test_setup),
            cmocka_unit_test_setup(test_robot_invalid_arguments, standin_test_setup),
            cmocka_unit_test_setup(test_wrong_password, standin_test_setup),
            cmocka_unit_test_setup(test_create_in_missing_project, standin_test_setup),
            cmocka_unit_test_setup(test_create_retried_after_500, standin_test_setup),
            cmocka_unit_test_setup(test_create_500_exhausted, standin_test_setup),
            cmocka_unit_test_setup(test_create_answer_lost, standin_test_setup),
            cmocka_unit_test_setup(test_error_body_is_redacted, standin_test_setup),
            cmocka_unit_test_setup(test_no_secret_in_any_message, standin_test_setup),
        };

        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
