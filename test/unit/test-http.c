/* SPDX-License-Identifier: MIT */
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "error.h"
#include "http.h"
#include "standin.h"
#include "util.h"
#include "banned.h"

static struct standin the_standin;

static int group_setup(void **state)
{
        struct standin *s = &the_standin;

        if (standin_start(s, "test-http", "library,demo:7,other") < 0)
                print_message("the Harbor stand-in is not available: %s\n", s->why);
        *state = s;
        return 0;
}

static int group_teardown(void **state)
{
        standin_stop(*state);
        return 0;
}

/* A client for the stand-in; it trusts `ca` (NULL: the system's CAs). */
static struct bx_http *client(struct standin *s, const char *user, const char *secret,
                              const char *ca)
{
        struct bx_http_opts o = standin_http_opts(s, user, secret);
        struct bx_http *h = NULL;
        struct bx_error *e = NULL;

        o.ca_file = ca;
        if (bx_http_new(&o, &h, &e) < 0)
                fail_msg("bx_http_new: %s", e->msg);
        return h;
}

/*
 * Arm `fault` (unless NULL), then send METHOD path with h: the call must get
 * an answer, in *r (the caller releases it).  Returns the position of the
 * stand-in's log before the call, for standin_seen().
 */
static int64_t answered(struct standin *s, struct bx_http *h, const char *fault, const char *method,
                        const char *path, struct bx_http_response *r)
{
        struct bx_error *e = NULL;
        int64_t since;

        if (fault)
                standin_arm(s, fault);
        since = standin_last_seq(s);
        if (bx_http_request(h, method, path, NULL, r, &e) < 0)
                fail_msg("%s %s: %s", method, path, e->msg);
        return since;
}

static void assert_no(const char *text, const char *needle)
{
        if (text && strstr(text, needle))
                fail_msg("'%s' survived in: %s", needle, text);
}

/* ---- without a server ---------------------------------------------------- */

static void test_redact(void **state)
{
        static const struct {
                const char *in;
                const char *want; /* exact output, or NULL */
                const char *gone; /* must not survive */
        } cases[] = {
            {"Authorization: Basic YWRtaW46czNjcmV0", "Authorization: [REDACTED]", "YWRtaW46"},
            {"sent authorization:  Bearer abc.def.ghi\nnext line", NULL, "abc.def"},
            {"Proxy-Authorization: Basic cHJveHk6cHc=\r\nHost: x",
             "Proxy-Authorization: [REDACTED]\r\nHost: x", "cHJveHk6"},
            {"{\"id\":42,\"name\":\"robot$demo+ci\",\"secret\":\"S3cret\",\"expires_at\":1}",
             "{\"id\":42,\"name\":\"robot$demo+ci\",\"secret\":\"[REDACTED]\",\"expires_at\":1}",
             "S3cret"},
            {"{\"Secret\" : \"S3cret\\\"quoted\\\"tail\"}", "{\"Secret\" : \"[REDACTED]\"}",
             "tail"},
            {"{\"token\":\"tokvalue1\",\"access_token\":\"tokvalue2\",\"expires_in\":1800}",
             "{\"token\":\"[REDACTED]\",\"access_token\":\"[REDACTED]\",\"expires_in\":1800}",
             "tokvalue"},
            {"{\"errors\":[{\"message\":\"bad {\\\"secret\\\":\\\"S3cret\\\"}\"}]}", NULL,
             "S3cret"},
            {"grant_type=password&username=admin&password=hunter2&scope=x",
             "grant_type=password&username=admin&password=[REDACTED]&scope=x", "hunter2"},
            {"token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl here",
             "token [REDACTED] here", "eyJ"},
            {"header only eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9", NULL, "eyJhbGci"},
            {"cannot reach 'https://user:pw@harbor.test:9443/api'",
             "cannot reach 'https://[REDACTED]@harbor.test:9443/api'", "user:pw"},
            {"git clone https://gitlab-ci-token:glcbt-xyz@gitlab.example/g/p.git", NULL,
             "glcbt-xyz"},
            {"WWW-Authenticate: Bearer realm=\"https://h/service/token\",service=\"x\"",
             "WWW-Authenticate: Bearer realm=\"https://h/service/token\",service=\"x\"",
             "[REDACTED]"},
            {"robot account 7:demo+ci-1 already exists", "robot account 7:demo+ci-1 already exists",
             "[REDACTED]"},
            {"token_ttl=5 monkeyJar https://harbor.test/x?a=b",
             "token_ttl=5 monkeyJar https://harbor.test/x?a=b", "[REDACTED]"},
            {"", "", "[REDACTED]"},
        };
        size_t i;

        (void)state;
        assert_null(bx_http_redact(NULL));
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char *out = bx_http_redact(cases[i].in);

                assert_non_null(out);
                if (cases[i].want && strcmp(out, cases[i].want) != 0)
                        fail_msg("case %zu: redact(%s)\n  = %s\n want %s", i, cases[i].in, out,
                                 cases[i].want);
                assert_no(out, cases[i].gone);
                free(out);
        }
}

static void test_escape(void **state)
{
        char *s;

        (void)state;
        s = bx_http_escape("demo+bx-1001_a.b~c");
        assert_string_equal(s, "demo%2Bbx-1001_a.b~c");
        free(s);
        s = bx_http_escape("a b/c?d&e=f#%");
        assert_string_equal(s, "a%20b%2Fc%3Fd%26e%3Df%23%25");
        free(s);
        s = bx_http_escape("");
        assert_string_equal(s, "");
        free(s);
}

static void test_bad_options(void **state)
{
        static const char *const bad[] = {
            "ftp://harbor.test", "harbor.test:9443",   "https://",
            "https://h/x?y=1",   "https://h/#frag",    "https://h/a b",
            "https://h/\n",      "file:///etc/passwd", "",
        };
        struct bx_http_opts o = BX_HTTP_OPTS_INIT;
        struct bx_http_response r = BX_HTTP_RESPONSE_INIT;
        const char *const hdr_auth[] = {"Authorization: Basic eA==", NULL};
        const char *const hdr_cookie[] = {"cookie: sid=1", NULL};
        const char *const hdr_crlf[] = {"X-A: b\r\nX-B: c", NULL};
        struct bx_http *h = NULL;
        struct bx_error *e = NULL;
        size_t i;

        (void)state;
        assert_int_equal(bx_http_new(&o, &h, &e), -1);
        e = bx_error_free(e);
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                o.base_url = bad[i];
                if (bx_http_new(&o, &h, &e) != -1)
                        fail_msg("base URL '%s' was accepted", bad[i]);
                assert_int_equal(e->fail, BX_FAIL_SYSTEM);
                e = bx_error_free(e);
        }
        /* Credentials in the URL: refused, and not repeated in the message. */
        o.base_url = "https://admin:Pa55word@harbor.test";
        assert_int_equal(bx_http_new(&o, &h, &e), -1);
        assert_no(e->msg, "Pa55word");
        assert_non_null(strstr(e->msg, "must not hold credentials"));
        e = bx_error_free(e);

        o.base_url = "https://harbor.test/";
        o.secret = "x";
        assert_int_equal(bx_http_new(&o, &h, &e), -1);
        e = bx_error_free(e);
        o.username = "admin";
        o.secret = "x\n";
        assert_int_equal(bx_http_new(&o, &h, &e), -1);
        assert_no(e->msg, "x\n");
        e = bx_error_free(e);
        o.secret = "x";
        o.ca_file = "/nonexistent/ca.pem";
        assert_int_equal(bx_http_new(&o, &h, &e), -1);
        assert_string_equal(e->msg, "cannot read CA file '/nonexistent/ca.pem': No such file or "
                                    "directory");
        e = bx_error_free(e);

        o.ca_file = NULL;
        assert_int_equal(bx_http_new(&o, &h, &e), 0);
        assert_string_equal(bx_http_url(h), "https://harbor.test");
        assert_string_equal(bx_http_username(h), "admin");
        assert_string_equal(bx_http_last_request_id(h), "");
        /* Checked before anything is sent (harbor.test does not resolve here). */
        assert_int_equal(bx_http_request(h, "TRACE", "/", NULL, &r, &e), -1);
        e = bx_error_free(e);
        assert_int_equal(bx_http_request(h, "GET", "api", NULL, &r, &e), -1);
        e = bx_error_free(e);
        assert_int_equal(bx_http_request(h, "GET", "/a b", NULL, &r, &e), -1);
        e = bx_error_free(e);
        assert_int_equal(bx_http_request(h, "GET", "/a\r\nX: y", NULL, &r, &e), -1);
        e = bx_error_free(e);
        assert_int_equal(bx_http_request(h, "GET", "/", "{}", &r, &e), -1);
        e = bx_error_free(e);
        assert_int_equal(bx_http_request_headers(h, "GET", "/", hdr_auth, NULL, &r, &e), -1);
        assert_no(e->msg, "eA==");
        e = bx_error_free(e);
        assert_int_equal(bx_http_request_headers(h, "GET", "/", hdr_cookie, NULL, &r, &e), -1);
        e = bx_error_free(e);
        assert_int_equal(bx_http_request_headers(h, "GET", "/", hdr_crlf, NULL, &r, &e), -1);
        e = bx_error_free(e);
        assert_int_equal(r.status, 0);
        h = bx_http_free(h);
        assert_null(bx_http_free(NULL));
}

static void test_unreachable(void **state)
{
        struct bx_http_opts o = BX_HTTP_OPTS_INIT;
        struct bx_http_response r = BX_HTTP_RESPONSE_INIT;
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(sa);
        struct bx_http *h = NULL;
        struct bx_error *e = NULL;
        char url[64], prefix[128];
        uint64_t t0, dt;
        int fd;

        (void)state;
        /* A port that was free a moment ago: nothing listens there. */
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
        close(fd);
        snprintf(url, sizeof(url), "https://127.0.0.1:%d", ntohs(sa.sin_port));
        o.base_url = url;
        o.username = "admin";
        o.secret = "Unre4chable-secret";
        o.backoff_ms = 20;
        assert_int_equal(bx_http_new(&o, &h, &e), 0);
        t0 = bx_now_ms();
        assert_int_equal(bx_http_request(h, "POST", "/api/v2.0/robots?x=1", "{}", &r, &e), -1);
        dt = bx_now_ms() - t0;
        print_message("%s\n", e->msg);
        snprintf(prefix, sizeof(prefix), "cannot reach '%s' (POST /api/v2.0/robots): ", url);
        assert_true(bx_startswith(e->msg, prefix));
        assert_true(bx_endswith(e->msg, " after 4 attempts"));
        assert_non_null(strstr(e->msg, "onnect")); /* curl's "Failed to connect ..." */
        assert_no(e->msg, "x=1");
        assert_no(e->msg, "Unre4chable");
        assert_int_equal(e->fail, BX_FAIL_SYSTEM);
        assert_non_null(e->hint);
        assert_non_null(strstr(e->hint, bx_http_last_request_id(h)));
        assert_int_equal((int)strlen(bx_http_last_request_id(h)), BX_HTTP_REQUEST_ID_LEN);
        /* Three waits: 20 + 40 + 80 ms. */
        assert_true(dt >= 140);
        assert_int_equal(r.status, 0);
        e = bx_error_free(e);
        bx_http_free(h);
}

/* ---- against the stand-in ------------------------------------------------ */

static void test_tls_with_ca(void **state)
{
        struct standin *s = *state;
        struct bx_http_response r = BX_HTTP_RESPONSE_INIT;
        struct bx_error *e = NULL;
        struct bx_http *h;
        int64_t since;
        size_t i;

        STANDIN_NEED(s);
        h = client(s, NULL, NULL, s->ca);
        since = answered(s, h, NULL, "GET", "/api/v2.0/ping", &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body.buf, "Pong");
        assert_int_equal(r.attempts, 1);
        assert_non_null(r.content_type);
        assert_true(bx_startswith(r.content_type, "text/plain"));
        assert_int_equal((int)strlen(r.request_id), BX_HTTP_REQUEST_ID_LEN);
        for (i = 0; i < BX_HTTP_REQUEST_ID_LEN; i++)
                assert_non_null(strchr("0123456789abcdef", r.request_id[i]));
        assert_string_equal(r.request_id, bx_http_last_request_id(h));
        /* Harbor's log has the same id. */
        assert_int_equal(standin_seen(s, since, "GET", "/api/v2.0/ping", r.request_id, 1), 1);
        bx_http_response_release(&r);
        assert_int_equal(r.status, 0);
        assert_null(r.location);

        /* A second call gets a new id. */
        assert_int_equal(bx_http_request(h, "GET", "/api/v2.0/ping", NULL, &r, &e), 0);
        assert_string_not_equal(r.request_id, "");
        bx_http_response_release(&r);
        bx_http_free(h);
}

static void test_tls_untrusted(void **state)
{
        struct standin *s = *state;
        const char *cas[] = {NULL, s->other_ca};
        struct bx_http_response r = BX_HTTP_RESPONSE_INIT;
        struct bx_error *e = NULL;
        char prefix[128];
        struct bx_http *h;
        int64_t since;
        size_t i;

        STANDIN_NEED(s);
        snprintf(prefix, sizeof(prefix), "cannot reach '%s' (GET /api/v2.0/ping): ", s->url);
        for (i = 0; i < 2; i++) {
                h = client(s, "admin", s->admin_pw, cas[i]);
                since = standin_last_seq(s);
                assert_int_equal(bx_http_request(h, "GET", "/api/v2.0/ping", NULL, &r, &e), -1);
                print_message("%s\n  hint: %s\n", e->msg, e->hint);
                assert_true(bx_startswith(e->msg, prefix));
                assert_non_null(strstr(e->msg, "certificate"));
                /* Not retried: it would fail the same way. */
                assert_null(strstr(e->msg, "attempts"));
                assert_non_null(strstr(e->hint, "not trusted"));
                assert_no(e->msg, s->admin_pw);
                assert_no(e->hint, s->admin_pw);
                assert_int_equal(standin_seen(s, since, "GET", "/api/v2.0/ping", NULL, 0), 0);
                e = bx_error_free(e);
                bx_http_free(h);
        }
}

static void test_tls_wrong_host_name(void **state)
{
        struct standin *s = *state;
        struct bx_http_opts o = standin_http_opts(s, NULL, NULL);
        struct bx_http_response r = BX_HTTP_RESPONSE_INIT;
        struct bx_error *e = NULL;
        struct bx_http *h = NULL;
        char url[64];

        STANDIN_NEED(s);
        /* The certificate names 127.0.0.1 and harbor.test, not localhost. */
        snprintf(url, sizeof(url), "https://localhost:%d", s->port);
        o.base_url = url;
        assert_int_equal(bx_http_new(&o, &h, &e), 0);
        assert_int_equal(bx_http_request(h, "GET", "/api/v2.0/ping", NULL, &r, &e), -1);
        print_message("%s\n", e->msg);
        assert_non_null(strstr(e->msg, "localhost"));
        assert_null(strstr(e->msg, "attempts"));
        assert_non_null(strstr(e->hint, "does not name the host"));
        e = bx_error_free(e);
        bx_http_free(h);
}

static void test_retry_500_then_ok(void **state)
{
        struct standin *s = *state;
        struct bx_http_response r = BX_HTTP_RESPONSE_INIT;
        struct bx_http *h;
        int64_t since;

        STANDIN_NEED(s);
        h = client(s, NULL, NULL, s->ca);
        since = answered(s, h, "{\"path_prefix\":\"/api/v2.0/ping\",\"status\":500,\"count\":2}",
                         "GET", "/api/v2.0/ping", &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body.buf, "Pong");
        assert_int_equal(r.attempts, 3);
        /* All three attempts carry the one id of the call. */
        assert_int_equal(standin_seen(s, since, "GET", "/api/v2.0/ping", r.request_id, 3), 3);
        bx_http_response_release(&r);
        bx_http_free(h);
}

static void test_retry_drop(void **state)
{
        struct standin *s = *state;
        struct bx_http_response r = BX_HTTP_RESPONSE_INIT;
        struct bx_http *h;
        int64_t since;

        STANDIN_NEED(s);
        h = client(s, NULL, NULL, s->ca);
        since = answered(s, h, "{\"path_prefix\":\"/api/v2.0/ping\",\"drop\":true,\"count\":2}",
                         "GET", "/api/v2.0/ping", &r);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.attempts, 3);
        assert_int_equal(standin_seen(s, since, "GET", "/api/v2.0/ping", r.request_id, 3), 3);
        bx_http_response_release(&r);
        bx_http_free(h);
}

static void test_drop_every_attempt(void **state)
{
        struct standin *s = *state;
        struct bx_http_response r = BX_HTTP_RESPONSE_INIT;
        struct bx_error *e = NULL;
        char prefix[128];
        struct bx_http *h;

        STANDIN_NEED(s);
        h = client(s, NULL, NULL, s->ca);
        standin_arm(s, "{\"path_prefix\":\"/api/v2.0/ping\",\"drop\":true,\"count\":4}");
        assert_int_equal(bx_http_request(h, "GET", "/api/v2.0/ping", NULL, &r, &e), -1);
        print_message("%s\n", e->msg);
        snprintf(prefix, sizeof(prefix), "cannot reach '%s' (GET /api/v2.0/ping): ", s->url);
        assert_true(bx_startswith(e->msg, prefix));
        assert_true(bx_endswith(e->msg, " after 4 attempts"));
        e = bx_error_free(e);
        bx_http_free(h);
}

static void test_500_after_all_attempts(void **state)
{
        struct standin *s = *state;
        struct bx_http_response r = BX_HTTP_RESPONSE_INIT;
        struct bx_error *e = NULL;
        struct bx_http *h;
        int64_t since;

        STANDIN_NEED(s);
        h = client(s, NULL, NULL, s->ca);
        since = answered(s, h, "{\"path_prefix\":\"/api/v2.0/ping\",\"status\":500,\"count\":5}",
                         "GET", "/api/v2.0/ping", &r);
        assert_int_equal(r.status, 500);
        assert_int_equal(r.attempts, 4);
        assert_non_null(strstr(r.body.buf, "internal server error"));
        assert_int_equal(standin_seen(s, since, "GET", "/api/v2.0/ping", r.request_id, 4), 4);
        bx_http_response_release(&r);
        /* One 500 is left: the next call gets it once, then Pong. */
        assert_int_equal(bx_http_request(h, "GET", "/api/v2.0/ping", NULL, &r, &e), 0);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.attempts, 2);
        bx_http_response_release(&r);
        bx_http_free(h);
}

static void test_429_retried(void **state)
{
        struct standin *s = *state;
        struct bx_http_response r = BX_HTTP_RESPONSE_INIT;
        struct bx_error *e = NULL;
        struct bx_http *h;
        uint64_t t0;

        STANDIN_NEED(s);
        h = client(s, NULL, NULL, s->ca);
        standin_arm(s, "{\"path_prefix\":\"/api/v2.0/ping\",\"status\":429,\"count\":1,"
                       "\"headers\":{\"Retry-After\":\"1\"}}");
        t0 = bx_now_ms();
        if (bx_http_request(h, "GET", "/api/v2.0/ping", NULL, &r, &e) < 0)
                fail_msg("%s", e->msg);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.attempts, 2);
        /* The server's Retry-After (1 s) beats our 10 ms backoff. */
        assert_true(bx_now_ms() - t0 >= 950);
        bx_http_response_release(&r);
        bx_http_free(h);
}

static void test_4xx_not_retried(void **state)
{
        struct standin *s = *state;
        struct bx_http_response r = BX_HTTP_RESPONSE_INIT;
        struct bx_http *h;
        int64_t since;

        STANDIN_NEED(s);
        h = client(s, NULL, NULL, s->ca);
        since = answered(s, h, NULL, "GET", "/api/v2.0/nosuch", &r);
        assert_int_equal(r.status, 404);
        assert_int_equal(r.attempts, 1);
        assert_int_equal(standin_seen(s, since, "GET", "/api/v2.0/nosuch", NULL, 1), 1);
        bx_http_response_release(&r);

        /* Anonymous: 401, once. */
        since = answered(s, h, NULL, "HEAD", "/api/v2.0/projects?project_name=demo", &r);
        assert_int_equal(r.status, 401);
        assert_int_equal(r.attempts, 1);
        assert_int_equal(standin_seen(s, since, "HEAD", "/api/v2.0/projects", NULL, 1), 1);
        bx_http_response_release(&r);

        /* An injected 403 is not retried either. */
        since = answered(s, h, "{\"path_prefix\":\"/api/v2.0/ping\",\"status\":403,\"count\":1}",
                         "GET", "/api/v2.0/ping", &r);
        assert_int_equal(r.status, 403);
        assert_int_equal(standin_seen(s, since, "GET", "/api/v2.0/ping", NULL, 1), 1);
        bx_http_response_release(&r);
        bx_http_free(h);
}

static void test_redirect_not_followed(void **state)
{
        struct standin *s = *state;
        struct bx_http_response r = BX_HTTP_RESPONSE_INIT;
        struct bx_http *h;
        int64_t since;

        STANDIN_NEED(s);
        h = client(s, "admin", s->admin_pw, s->ca);
        since = answered(s, h,
                         "{\"path_prefix\":\"/api/v2.0/health\",\"status\":302,\"count\":1,"
                         "\"headers\":{\"Location\":\"/api/v2.0/ping\"}}",
                         "GET", "/api/v2.0/health", &r);
        assert_int_equal(r.status, 302);
        assert_string_equal(r.location, "/api/v2.0/ping");
        assert_int_equal(standin_seen(s, since, "GET", "/api/v2.0/health", NULL, 1), 1);
        assert_int_equal(standin_seen(s, since, "GET", "/api/v2.0/ping", NULL, 0), 0);
        bx_http_response_release(&r);
        bx_http_free(h);
}

static void test_methods_and_headers(void **state)
{
        static const char robot[] =
            "{\"name\":\"http-test\",\"description\":\"test-http\",\"level\":\"project\","
            "\"duration\":1,\"disable\":false,\"permissions\":[{\"kind\":\"project\","
            "\"namespace\":\"demo\",\"access\":[{\"resource\":\"repository\",\"action\":"
            "\"pull\"}]}]}";
        struct standin *s = *state;
        struct bx_http_response r = BX_HTTP_RESPONSE_INIT;
        struct bx_error *e = NULL;
        struct bx_http *h, *bad;
        char path[64];
        cJSON *doc;
        int64_t since;
        int id;

        STANDIN_NEED(s);
        h = client(s, "admin", s->admin_pw, s->ca);
        since = answered(s, h, NULL, "HEAD", "/api/v2.0/projects?project_name=demo", &r);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.body.len, 0);
        bx_http_response_release(&r);

        if (bx_http_request(h, "POST", "/api/v2.0/robots", robot, &r, &e) < 0)
                fail_msg("%s", e->msg);
        assert_int_equal(r.status, 201);
        doc = cJSON_Parse(r.body.buf);
        id = cJSON_GetObjectItemCaseSensitive(doc, "id")->valueint;
        cJSON_Delete(doc);
        snprintf(path, sizeof(path), "/api/v2.0/robots/%d", id);
        assert_string_equal(r.location, path);
        bx_http_response_release_wipe(&r);

        assert_int_equal(bx_http_request(h, "GET",
                                         "/api/v2.0/robots?q=Level=project,ProjectID=7,"
                                         "name=demo%2Bhttp-test&page=1&page_size=10",
                                         NULL, &r, &e),
                         0);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.total_count, "1");
        bx_http_response_release(&r);

        assert_int_equal(bx_http_request(h, "DELETE", path, NULL, &r, &e), 0);
        assert_int_equal(r.status, 200);
        bx_http_response_release(&r);
        assert_int_equal(bx_http_request(h, "DELETE", path, NULL, &r, &e), 0);
        assert_int_equal(r.status, 404);
        bx_http_response_release(&r);
        assert_int_equal(standin_seen(s, since, "POST", "/api/v2.0/robots", NULL, 1), 1);

        /* A wrong password is the server's 401, an answer, not a failure. */
        bad = client(s, "admin", "wrong-password", s->ca);
        assert_int_equal(
            bx_http_request(bad, "HEAD", "/api/v2.0/projects?project_name=demo", NULL, &r, &e), 0);
        assert_int_equal(r.status, 401);
        bx_http_response_release(&r);
        bx_http_free(bad);
        bx_http_free(h);
}

static void test_body_limit(void **state)
{
        struct standin *s = *state;
        struct bx_http_opts o = standin_http_opts(s, NULL, NULL);
        struct bx_http_response r = BX_HTTP_RESPONSE_INIT;
        struct bx_error *e = NULL;
        struct bx_http *h = NULL;
        int64_t since;

        STANDIN_NEED(s);
        o.body_max = 64;
        assert_int_equal(bx_http_new(&o, &h, &e), 0);
        since = standin_last_seq(s);
        assert_int_equal(bx_http_request(h, "GET", "/api/v2.0/health", NULL, &r, &e), -1);
        print_message("%s\n", e->msg);
        assert_true(bx_endswith(e->msg, "(GET /api/v2.0/health) is larger than 64 bytes"));
        assert_int_equal(standin_seen(s, since, "GET", "/api/v2.0/health", NULL, 1), 1);
        e = bx_error_free(e);
        /* Small answers still fit. */
        assert_int_equal(bx_http_request(h, "GET", "/api/v2.0/ping", NULL, &r, &e), 0);
        assert_string_equal(r.body.buf, "Pong");
        bx_http_response_release(&r);
        bx_http_free(h);
}

static void test_timeout_retried(void **state)
{
        struct standin *s = *state;
        struct bx_http_opts o = standin_http_opts(s, NULL, NULL);
        struct bx_http_response r = BX_HTTP_RESPONSE_INIT;
        struct bx_error *e = NULL;
        struct bx_http *h = NULL;

        STANDIN_NEED(s);
        o.timeout_ms = 700;
        assert_int_equal(bx_http_new(&o, &h, &e), 0);
        standin_arm(s, "{\"path_prefix\":\"/api/v2.0/ping\",\"delay\":3,\"count\":1}");
        if (bx_http_request(h, "GET", "/api/v2.0/ping", NULL, &r, &e) < 0)
                fail_msg("%s", e->msg);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.attempts, 2);
        bx_http_response_release(&r);
        bx_http_free(h);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_redact),
            cmocka_unit_test(test_escape),
            cmocka_unit_test(test_bad_options),
            cmocka_unit_test(test_unreachable),
            cmocka_unit_test_setup(test_tls_with_ca, standin_test_setup),
            cmocka_unit_test_setup(test_tls_untrusted, standin_test_setup),
            cmocka_unit_test_setup(test_tls_wrong_host_name, standin_test_setup),
            cmocka_unit_test_setup(test_retry_500_then_ok, standin_test_setup),
            cmocka_unit_test_setup(test_retry_drop, standin_test_setup),
            cmocka_unit_test_setup(test_drop_every_attempt, standin_test_setup),
            cmocka_unit_test_setup(test_500_after_all_attempts, standin_test_setup),
            cmocka_unit_test_setup(test_429_retried, standin_test_setup),
            cmocka_unit_test_setup(test_4xx_not_retried, standin_test_setup),
            cmocka_unit_test_setup(test_redirect_not_followed, standin_test_setup),
            cmocka_unit_test_setup(test_methods_and_headers, standin_test_setup),
            cmocka_unit_test_setup(test_body_limit, standin_test_setup),
            cmocka_unit_test_setup(test_timeout_retried, standin_test_setup),
        };

        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
