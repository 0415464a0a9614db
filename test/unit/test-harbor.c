/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "buf.h"
#include "error.h"
#include "harbor.h"
#include "http.h"
#include "proc.h"
#include "util.h"
#include "banned.h"

#ifndef BX_SOURCE_DIR
#error "BX_SOURCE_DIR (the source tree, a string) must be defined"
#endif

#define STANDIN BX_SOURCE_DIR "/test/fakes/harbor-standin"
#define PYTHON "/usr/bin/python3"
#define FAST_BACKOFF_MS 10

/*
 * The stand-in fixture is the same as test-http.c's (both test binaries are
 * self-contained).
 */

/* ---- the Harbor stand-in, with TLS from a throwaway CA ------------------ */

struct standin {
        bool up;
        char why[256]; /* why it is not up: the tests skip with this */
        char dir[64];
        char ca[128];
        char other_ca[128]; /* a CA that did not sign the server's certificate */
        char url[64];       /* https://127.0.0.1:PORT */
        int port;
        pid_t pid;
        char admin_pw[33];
        struct bx_http *ctl; /* the control API, no credentials */
};

static const char *const control_hdr[] = {"X-Standin-Control: 1", NULL};

/* Run argv (released after) quietly; 0 on exit status 0. */
static int run_quiet(const char *dir, struct bx_strv *argv)
{
        struct bx_strv env = BX_STRV_INIT;
        struct bx_error *e = NULL;
        int r;

        bx_strv_push(&env, "PATH=/usr/local/bin:/usr/bin:/bin");
        bx_strv_pushf(&env, "HOME=%s", dir);
        r = bx_proc_capture((const char *const *)argv->v, &env, 60000, NULL, NULL, &e);
        if (r != 0 && e)
                print_message("%s\n", e->msg);
        bx_error_free(e);
        bx_strv_release(&env);
        bx_strv_release(argv);
        return r;
}

/*
 * A CA, a server certificate it signs for 127.0.0.1 and harbor.test (not
 * localhost), and another CA that signed nothing.
 */
static int make_certs(struct standin *s)
{
        static const char ext[] = "basicConstraints = CA:FALSE\n"
                                  "keyUsage = critical, digitalSignature, keyEncipherment\n"
                                  "extendedKeyUsage = serverAuth\n"
                                  "subjectAltName = DNS:harbor.test, IP:127.0.0.1\n";
        struct bx_strv argv = BX_STRV_INIT;
        struct bx_error *e = NULL;
        char extf[160];
        int step;

        snprintf(extf, sizeof(extf), "%s/ext.cnf", s->dir);
        snprintf(s->ca, sizeof(s->ca), "%s/ca.crt", s->dir);
        snprintf(s->other_ca, sizeof(s->other_ca), "%s/other-ca.crt", s->dir);
        if (bx_write_file(extf, ext, strlen(ext), 0600, &e) < 0) {
                snprintf(s->why, sizeof(s->why), "%s", e->msg);
                bx_error_free(e);
                return -1;
        }
        for (step = 0; step < 4; step++) {
                bx_strv_pushl(&argv, "openssl", "req", "-newkey", "ec", "-pkeyopt",
                              "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", NULL);
                switch (step) {
                case 0:
                        bx_strv_pushl(&argv, "-x509", "-subj", "/CN=bx-test-ca", "-addext",
                                      "basicConstraints=critical,CA:TRUE", "-addext",
                                      "keyUsage=critical,keyCertSign,cRLSign", "-out", s->ca, NULL);
                        bx_strv_pushf(&argv, "-keyout=%s/ca.key", s->dir);
                        break;
                case 1:
                        bx_strv_pushl(&argv, "-x509", "-subj", "/CN=bx-test-other-ca", "-out",
                                      s->other_ca, NULL);
                        bx_strv_pushf(&argv, "-keyout=%s/other.key", s->dir);
                        break;
                case 2:
                        bx_strv_pushl(&argv, "-subj", "/CN=harbor.test", NULL);
                        bx_strv_pushf(&argv, "-keyout=%s/server.key", s->dir);
                        bx_strv_pushf(&argv, "-out=%s/server.csr", s->dir);
                        break;
                case 3:
                        bx_strv_release(&argv);
                        bx_strv_pushl(&argv, "openssl", "x509", "-req", "-days", "2", "-CA", s->ca,
                                      "-CAcreateserial", "-extfile", extf, NULL);
                        bx_strv_pushf(&argv, "-CAkey=%s/ca.key", s->dir);
                        bx_strv_pushf(&argv, "-CAserial=%s/ca.srl", s->dir);
                        bx_strv_pushf(&argv, "-in=%s/server.csr", s->dir);
                        bx_strv_pushf(&argv, "-out=%s/server.crt", s->dir);
                        break;
                }
                if (run_quiet(s->dir, &argv) != 0) {
                        snprintf(s->why, sizeof(s->why), "openssl failed (step %d)", step);
                        return -1;
                }
        }
        return 0;
}

static int standin_start(struct standin *s, const char *projects)
{
        char cert[128], key[128], pwfile[128], state[128], ready[160], log[128];
        struct bx_http_opts o = BX_HTTP_OPTS_INIT;
        struct bx_error *e = NULL;
        unsigned char raw[16];
        char *data = NULL;
        cJSON *doc;
        int fd, i, status;
        FILE *f;

        if (access(PYTHON, X_OK) != 0) {
                snprintf(s->why, sizeof(s->why), "%s not found: the Harbor stand-in needs it",
                         PYTHON);
                return -1;
        }
        snprintf(s->dir, sizeof(s->dir), "/tmp/bx-test-harbor.XXXXXX");
        if (!mkdtemp(s->dir)) {
                snprintf(s->why, sizeof(s->why), "mkdtemp: %s", strerror(errno));
                return -1;
        }
        if (make_certs(s) < 0)
                return -1;

        f = fopen("/dev/urandom", "re");
        if (!f || fread(raw, 1, sizeof(raw), f) != sizeof(raw)) {
                snprintf(s->why, sizeof(s->why), "cannot read /dev/urandom");
                if (f)
                        fclose(f);
                return -1;
        }
        fclose(f);
        for (i = 0; i < 16; i++)
                snprintf(s->admin_pw + 2 * i, 3, "%02x", raw[i]);
        snprintf(pwfile, sizeof(pwfile), "%s/admin.pw", s->dir);
        if (bx_write_file(pwfile, s->admin_pw, strlen(s->admin_pw), 0600, &e) < 0) {
                snprintf(s->why, sizeof(s->why), "%s", e->msg);
                bx_error_free(e);
                return -1;
        }
        snprintf(cert, sizeof(cert), "%s/server.crt", s->dir);
        snprintf(key, sizeof(key), "%s/server.key", s->dir);
        snprintf(state, sizeof(state), "%s/state", s->dir);
        snprintf(ready, sizeof(ready), "%s/state/ready", s->dir);
        snprintf(log, sizeof(log), "%s/standin.log", s->dir);

        {
                /* Everything the child needs is ready before fork(). */
                char *const argv[] = {(char *)STANDIN,
                                      (char *)"--listen",
                                      (char *)"127.0.0.1:0",
                                      (char *)"--tls-cert",
                                      cert,
                                      (char *)"--tls-key",
                                      key,
                                      (char *)"--state-dir",
                                      state,
                                      (char *)"--admin-user",
                                      (char *)"admin",
                                      (char *)"--admin-password-file",
                                      pwfile,
                                      (char *)"--projects",
                                      (char *)projects,
                                      NULL};

                fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                if (fd < 0) {
                        snprintf(s->why, sizeof(s->why), "%s: %s", log, strerror(errno));
                        return -1;
                }
                s->pid = fork();
                if (s->pid == 0) {
                        dup2(fd, 1);
                        dup2(fd, 2);
                        execv(argv[0], argv);
                        _exit(127);
                }
                close(fd);
                if (s->pid < 0) {
                        snprintf(s->why, sizeof(s->why), "fork: %s", strerror(errno));
                        return -1;
                }
        }

        for (i = 0; i < 300 && access(ready, F_OK) != 0; i++) {
                if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
                        s->pid = 0;
                        snprintf(s->why, sizeof(s->why), "the stand-in exited at start (see %s)",
                                 log);
                        return -1;
                }
                usleep(50000);
        }
        if (bx_read_file(ready, 65536, &data, NULL, &e) < 0) {
                snprintf(s->why, sizeof(s->why), "the stand-in is not ready: %s", e->msg);
                bx_error_free(e);
                return -1;
        }
        doc = cJSON_Parse(data);
        free(data);
        s->port = cJSON_GetObjectItemCaseSensitive(doc, "port")
                      ? cJSON_GetObjectItemCaseSensitive(doc, "port")->valueint
                      : 0;
        cJSON_Delete(doc);
        if (s->port <= 0) {
                snprintf(s->why, sizeof(s->why), "no port in %s", ready);
                return -1;
        }
        snprintf(s->url, sizeof(s->url), "https://127.0.0.1:%d", s->port);
        o.base_url = s->url;
        o.ca_file = s->ca;
        o.attempts = 1;
        if (bx_http_new(&o, &s->ctl, &e) < 0) {
                snprintf(s->why, sizeof(s->why), "control client: %s", e->msg);
                bx_error_free(e);
                return -1;
        }
        s->up = true;
        return 0;
}

static void standin_stop(struct standin *s)
{
        struct bx_error *e = NULL;
        int i, status;

        s->ctl = bx_http_free(s->ctl);
        if (s->pid > 0) {
                kill(s->pid, SIGTERM);
                for (i = 0; i < 100; i++) {
                        if (waitpid(s->pid, &status, WNOHANG) == s->pid)
                                break;
                        usleep(50000);
                }
                if (i == 100) {
                        kill(s->pid, SIGKILL);
                        waitpid(s->pid, &status, 0);
                }
                s->pid = 0;
        }
        if (s->dir[0] && !getenv("KEEP")) {
                bx_rm_rf(s->dir, &e);
                bx_error_free(e);
        } else if (s->dir[0]) {
                print_message("kept %s\n", s->dir);
        }
}

/* A control request that must answer 200; returns the parsed body (caller frees). */
static cJSON *control(struct standin *s, const char *method, const char *path, const char *json)
{
        struct bx_http_response r = BX_HTTP_RESPONSE_INIT;
        struct bx_error *e = NULL;
        cJSON *doc;

        if (bx_http_request_headers(s->ctl, method, path, control_hdr, json, &r, &e) < 0)
                fail_msg("control %s %s: %s", method, path, e->msg);
        if (r.status != 200)
                fail_msg("control %s %s: HTTP %ld: %s", method, path, r.status, r.body.buf);
        doc = cJSON_Parse(r.body.buf);
        bx_http_response_release(&r);
        assert_non_null(doc);
        return doc;
}

static void arm(struct standin *s, const char *fault_json)
{
        cJSON_Delete(control(s, "POST", "/_standin/faults", fault_json));
}

static int64_t read_last_seq(struct standin *s)
{
        cJSON *doc = control(s, "GET", "/_standin/requests?since=999999999", NULL);
        int64_t n = (int64_t)cJSON_GetObjectItemCaseSensitive(doc, "last_seq")->valuedouble;

        cJSON_Delete(doc);
        return n;
}

/* The sequence number of the latest logged request, once earlier ones are all logged. */
static int64_t last_seq(struct standin *s)
{
        int64_t a = read_last_seq(s), b;
        int i;

        for (i = 0; i < 20; i++) {
                usleep(20000);
                b = read_last_seq(s);
                if (a == b)
                        break;
                a = b;
        }
        return a;
}

/*
 * How many requests METHOD PATH the stand-in saw after `since`; with
 * request_id, each must carry it.  The stand-in logs a request just after it
 * answered, so wait (up to 1 s) for `want` to show up, and a little for any
 * straggler when want is 0.
 */
static int count_seen(struct standin *s, int64_t since, const char *method, const char *path,
                      const char *request_id)
{
        char q[64];
        cJSON *doc;
        const cJSON *e;
        int n = 0;

        snprintf(q, sizeof(q), "/_standin/requests?since=%lld", (long long)since);
        doc = control(s, "GET", q, NULL);
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(doc, "requests"))
        {
                const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "method");
                const cJSON *p = cJSON_GetObjectItemCaseSensitive(e, "path");
                const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "request_id");

                if (!bx_streq(cJSON_GetStringValue(m), method) ||
                    !bx_streq(cJSON_GetStringValue(p), path))
                        continue;
                if (request_id && !bx_streq(cJSON_GetStringValue(id), request_id))
                        fail_msg("%s %s carried request id '%s', not '%s'", method, path,
                                 cJSON_GetStringValue(id), request_id);
                n++;
        }
        cJSON_Delete(doc);
        return n;
}

static int seen(struct standin *s, int64_t since, const char *method, const char *path,
                const char *request_id, int want)
{
        int i, n = 0;

        for (i = 0; i < 40; i++) {
                n = count_seen(s, since, method, path, request_id);
                if (n > want || (n == want && (want > 0 || i >= 4)))
                        break;
                usleep(25000);
        }
        return n;
}

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

        if (standin_start(s, "library,demo:7,other") < 0)
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

static int test_setup(void **state)
{
        struct standin *s = *state;

        if (s->up)
                cJSON_Delete(control(s, "DELETE", "/_standin/faults", NULL));
        return 0;
}

#define NEED_STANDIN(s)                                                                            \
        do {                                                                                       \
                if (!(s)->up) {                                                                    \
                        print_message("skipped: %s\n", (s)->why);                                  \
                        skip();                                                                    \
                }                                                                                  \
        } while (0)

static struct bx_harbor *harbor(struct standin *s, const char *user, const char *secret)
{
        struct bx_http_opts o = BX_HTTP_OPTS_INIT;
        struct bx_harbor *h = NULL;
        struct bx_error *e = NULL;

        o.base_url = s->url;
        o.ca_file = s->ca;
        o.username = user;
        o.secret = secret;
        o.backoff_ms = FAST_BACKOFF_MS;
        if (bx_harbor_new(&o, &h, &e) < 0)
                fail_msg("bx_harbor_new: %s", e->msg);
        return h;
}

static struct bx_harbor *admin(struct standin *s)
{
        return harbor(s, "admin", s->admin_pw);
}

/* The stand-in's record of robot `id` (with "deleted" and "project_id"); caller frees. */
static cJSON *standin_robot(struct standin *s, int64_t id)
{
        cJSON *doc = control(s, "GET", "/_standin/robots", NULL);
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

        NEED_STANDIN(s);
        h = admin(s);
        if (bx_harbor_ping(h, &e) < 0)
                fail_msg("%s", e->msg);
        assert_int_equal((int)strlen(bx_harbor_last_request_id(h)), BX_HTTP_REQUEST_ID_LEN);
        /* Harbor down for a moment: retried. */
        arm(s, "{\"path_prefix\":\"/api/v2.0/ping\",\"status\":503,\"count\":1}");
        assert_int_equal(bx_harbor_ping(h, &e), 0);
        /* Down for good. */
        arm(s, "{\"path_prefix\":\"/api/v2.0/ping\",\"status\":502,\"count\":4}");
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

        NEED_STANDIN(s);
        h = admin(s);
        since = last_seq(s);
        if (bx_harbor_project_id(h, "demo", &id, &e) < 0)
                fail_msg("%s", e->msg);
        assert_int_equal(id, 7);
        /* HEAD first, then GET by name. */
        assert_int_equal(seen(s, since, "HEAD", "/api/v2.0/projects", NULL, 1), 1);
        assert_int_equal(seen(s, since, "GET", "/api/v2.0/projects/demo", NULL, 1), 1);
        assert_int_equal(bx_harbor_project_id(h, "library", &id, &e), 0);
        assert_int_equal(id, 1);
        /* A project whose name looks like an id is still looked up by name. */
        cJSON_Delete(control(s, "POST", "/_standin/projects", "{\"name\":\"42\",\"id\":9}"));
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

        NEED_STANDIN(s);
        h = admin(s);
        assert_int_equal(bx_harbor_project_id(h, "nope", &id, &e), -1);
        expect_msg(e, "Harbor project 'nope' does not exist at '%s'", s->url);
        assert_string_equal(e->hint, "create it or fix [[harbor.project]] in the settings");
        assert_int_equal(e->errnum, ENOENT);
        assert_int_equal(e->fail, BX_FAIL_SYSTEM);
        assert_int_equal(id, -5);
        e = keep(e);
        /* Names Harbor would not have are refused without asking. */
        since = last_seq(s);
        assert_int_equal(bx_harbor_project_id(h, "../robots", &id, &e), -1);
        assert_non_null(strstr(e->msg, "invalid Harbor project name"));
        e = keep(e);
        assert_int_equal(bx_harbor_project_id(h, "demo?x=1", &id, &e), -1);
        e = keep(e);
        assert_int_equal(seen(s, since, "HEAD", "/api/v2.0/projects", NULL, 0), 0);
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

        NEED_STANDIN(s);
        h = admin(s);
        if (bx_harbor_robot_create(h, "demo", "bx-1001-ab12cd34", "gitlab job 1001", true, 1,
                                   &robot, &e) < 0)
                fail_msg("%s", e->msg);
        keep_secret(robot.secret);
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

        NEED_STANDIN(s);
        h = admin(s);
        if (bx_harbor_robot_create(h, "demo", "pull-1", NULL, false, 3, &robot, &e) < 0)
                fail_msg("%s", e->msg);
        keep_secret(robot.secret);
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

        NEED_STANDIN(s);
        h = admin(s);
        if (bx_harbor_robot_create(h, "demo", "dup-1", "first", true, 1, &a, &e) < 0)
                fail_msg("%s", e->msg);
        keep_secret(a.secret);
        assert_int_equal(bx_harbor_robot_create(h, "demo", "dup-1", "second", true, 1, &b, &e), -1);
        expect_msg(e, "Harbor robot 'demo+dup-1' already exists at '%s'", s->url);
        assert_int_equal(e->errnum, EEXIST);
        assert_non_null(e->hint);
        e = keep(e);
        assert_null(b.name);
        /* The same short name in another project is another robot. */
        if (bx_harbor_robot_create(h, "other", "dup-1", NULL, false, 1, &b, &e) < 0)
                fail_msg("%s", e->msg);
        keep_secret(b.secret);
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

        NEED_STANDIN(s);
        h = admin(s);
        assert_int_equal(bx_harbor_robot_find(h, 7, "demo+nope", &id, &e), 0);
        assert_int_equal(id, -1);
        /* A server that matched loosely: only the exact name counts. */
        arm(s, "{\"path_prefix\":\"/api/v2.0/robots\",\"method\":\"GET\",\"status\":200,"
               "\"count\":2,\"body\":\"[{\\\"id\\\":98,\\\"name\\\":\\\"robot$demo+x-10\\\"},"
               "{\\\"id\\\":99,\\\"name\\\":\\\"robot$demo+x-1\\\"}]\"}");
        assert_int_equal(bx_harbor_robot_find(h, 7, "demo+x-1", &id, &e), 1);
        assert_int_equal(id, 99);
        id = -1;
        assert_int_equal(bx_harbor_robot_find(h, 7, "demo+x", &id, &e), 0);
        assert_int_equal(id, -1);
        /* Not a list: an error, not "not found". */
        arm(s, "{\"path_prefix\":\"/api/v2.0/robots\",\"method\":\"GET\",\"status\":200,"
               "\"body\":\"{}\"}");
        assert_int_equal(bx_harbor_robot_find(h, 7, "demo+x-1", &id, &e), -1);
        assert_non_null(strstr(e->msg, "is not a JSON array"));
        e = keep(e);
        since = last_seq(s);
        for (i = 0; bad[i]; i++) {
                if (bx_harbor_robot_find(h, 7, bad[i], &id, &e) != -1)
                        fail_msg("'%s' was accepted", bad[i]);
                e = keep(e);
        }
        assert_int_equal(bx_harbor_robot_find(h, 7, NULL, &id, &e), -1);
        e = keep(e);
        assert_int_equal(bx_harbor_robot_find(h, 0, "demo+x", &id, &e), -1);
        e = keep(e);
        assert_int_equal(seen(s, since, "GET", "/api/v2.0/robots", NULL, 0), 0);
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

        NEED_STANDIN(s);
        h = admin(s);
        since = last_seq(s);
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
        assert_int_equal(seen(s, since, "POST", "/api/v2.0/robots", NULL, 0), 0);
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

        NEED_STANDIN(s);
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
        struct bx_harbor_robot r = {0};
        struct bx_error *e = NULL;
        struct bx_harbor *h;

        NEED_STANDIN(s);
        h = admin(s);
        /* Harbor answers 403 here; the module finds out that the project is missing. */
        assert_int_equal(bx_harbor_robot_create(h, "nosuch", "x-1", NULL, true, 1, &r, &e), -1);
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

        NEED_STANDIN(s);
        h = admin(s);
        arm(s, "{\"path_prefix\":\"/api/v2.0/robots\",\"method\":\"POST\",\"status\":500,"
               "\"count\":2}");
        since = last_seq(s);
        if (bx_harbor_robot_create(h, "demo", "retry-1", NULL, true, 1, &r, &e) < 0)
                fail_msg("%s", e->msg);
        keep_secret(r.secret);
        assert_string_equal(r.name, "robot$demo+retry-1");
        assert_int_equal(
            seen(s, since, "POST", "/api/v2.0/robots", bx_harbor_last_request_id(h), 3), 3);
        assert_int_equal(bx_harbor_robot_find(h, 7, "demo+retry-1", &found, &e), 1);
        assert_int_equal(found, r.id);
        assert_int_equal(bx_harbor_robot_delete(h, r.id, &e), 1);
        bx_harbor_robot_release(&r);
        bx_harbor_free(h);
}

static void test_create_500_exhausted(void **state)
{
        struct standin *s = *state;
        struct bx_harbor_robot r = {0};
        struct bx_error *e = NULL;
        struct bx_harbor *h;

        NEED_STANDIN(s);
        h = admin(s);
        arm(s, "{\"path_prefix\":\"/api/v2.0/robots\",\"method\":\"POST\",\"status\":500,"
               "\"count\":4}");
        assert_int_equal(bx_harbor_robot_create(h, "demo", "down-1", NULL, true, 1, &r, &e), -1);
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
        struct bx_harbor_robot r = {0};
        struct bx_error *e = NULL;
        struct bx_harbor *h;
        int64_t found = 0;

        NEED_STANDIN(s);
        h = admin(s);
        /* The first attempt creates the robot and its answer is lost; the retry gets 409. */
        arm(s, "{\"path_prefix\":\"/api/v2.0/robots\",\"method\":\"POST\",\"drop\":true,"
               "\"phase\":\"after\",\"count\":1}");
        assert_int_equal(bx_harbor_robot_create(h, "demo", "lost-1", NULL, true, 1, &r, &e), -1);
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
        struct bx_harbor_robot r = {0};
        struct bx_error *e = NULL;
        struct bx_harbor *h;

        NEED_STANDIN(s);
        keep_secret(planted);
        keep_secret("eyJhbGciOiJSUzI1NiJ9");
        keep_secret("YWRtaW46cGFzcw");
        h = admin(s);
        arm(s, "{\"path_prefix\":\"/api/v2.0/robots\",\"method\":\"POST\",\"status\":400,"
               "\"body\":\"{\\\"errors\\\":[{\\\"code\\\":\\\"BAD_REQUEST\\\",\\\"message\\\":"
               "\\\"bad robot {\\\\\\\"secret\\\\\\\":\\\\\\\"S3cretLeak9\\\\\\\"} with "
               "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln and Authorization: Basic "
               "YWRtaW46cGFzcw==\\\"}]}\"}");
        assert_int_equal(bx_harbor_robot_create(h, "demo", "leak-1", NULL, true, 1, &r, &e), -1);
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
        arm(s, "{\"path_prefix\":\"/api/v2.0/robots\",\"method\":\"POST\",\"status\":418,"
               "\"body\":\"teapot password=S3cretLeak9\"}");
        assert_int_equal(bx_harbor_robot_create(h, "demo", "leak-1", NULL, true, 1, &r, &e), -1);
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

        NEED_STANDIN(s);
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
            cmocka_unit_test_setup(test_ping, test_setup),
            cmocka_unit_test_setup(test_project_id, test_setup),
            cmocka_unit_test_setup(test_project_missing, test_setup),
            cmocka_unit_test_setup(test_robot_lifecycle, test_setup),
            cmocka_unit_test_setup(test_robot_pull_only, test_setup),
            cmocka_unit_test_setup(test_robot_duplicate, test_setup),
            cmocka_unit_test_setup(test_robot_find_names, test_setup),
            cmocka_unit_test_setup(test_robot_invalid_arguments, test_setup),
            cmocka_unit_test_setup(test_wrong_password, test_setup),
            cmocka_unit_test_setup(test_create_in_missing_project, test_setup),
            cmocka_unit_test_setup(test_create_retried_after_500, test_setup),
            cmocka_unit_test_setup(test_create_500_exhausted, test_setup),
            cmocka_unit_test_setup(test_create_answer_lost, test_setup),
            cmocka_unit_test_setup(test_error_body_is_redacted, test_setup),
            cmocka_unit_test_setup(test_no_secret_in_any_message, test_setup),
        };

        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
