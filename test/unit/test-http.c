/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "buf.h"
#include "error.h"
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
        snprintf(s->dir, sizeof(s->dir), "/tmp/bx-test-http.XXXXXX");
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

static int group_setup(void **state)
{
        struct standin *s = &the_standin;

        if (standin_start(s, "library,demo:7,other") < 0)
                print_message("the Harbor stand-in is not available: %s\n", s->why);
        *state = s;
        return 0;
}

static int group_teardown(void **state)
{
        standin_stop(*state);
        return 0;
}

/* Each test starts with no faults armed. */
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

static struct bx_http *client(struct standin *s, const char *user, const char *secret,
                              const char *ca)
{
        struct bx_http_opts o = BX_HTTP_OPTS_INIT;
        struct bx_http *h = NULL;
        struct bx_error *e = NULL;

        o.base_url = s->url;
        o.ca_file = ca;
        o.username = user;
        o.secret = secret;
        o.backoff_ms = FAST_BACKOFF_MS;
        if (bx_http_new(&o, &h, &e) < 0)
                fail_msg("bx_http_new: %s", e->msg);
        return h;
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

        NEED_STANDIN(s);
        h = client(s, NULL, NULL, s->ca);
        since = last_seq(s);
        if (bx_http_request(h, "GET", "/api/v2.0/ping", NULL, &r, &e) < 0)
                fail_msg("%s", e->msg);
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
        assert_int_equal(seen(s, since, "GET", "/api/v2.0/ping", r.request_id, 1), 1);
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

        NEED_STANDIN(s);
        snprintf(prefix, sizeof(prefix), "cannot reach '%s' (GET /api/v2.0/ping): ", s->url);
        for (i = 0; i < 2; i++) {
                h = client(s, "admin", s->admin_pw, cas[i]);
                since = last_seq(s);
                assert_int_equal(bx_http_request(h, "GET", "/api/v2.0/ping", NULL, &r, &e), -1);
                print_message("%s\n  hint: %s\n", e->msg, e->hint);
                assert_true(bx_startswith(e->msg, prefix));
                assert_non_null(strstr(e->msg, "certificate"));
                /* Not retried: it would fail the same way. */
                assert_null(strstr(e->msg, "attempts"));
                assert_non_null(strstr(e->hint, "not trusted"));
                assert_no(e->msg, s->admin_pw);
                assert_no(e->hint, s->admin_pw);
                assert_int_equal(seen(s, since, "GET", "/api/v2.0/ping", NULL, 0), 0);
                e = bx_error_free(e);
                bx_http_free(h);
        }
}

static void test_tls_wrong_host_name(void **state)
{
        struct standin *s = *state;
        struct bx_http_opts o = BX_HTTP_OPTS_INIT;
        struct bx_http_response r = BX_HTTP_RESPONSE_INIT;
        struct bx_error *e = NULL;
        struct bx_http *h = NULL;
        char url[64];

        NEED_STANDIN(s);
        /* The certificate names 127.0.0.1 and harbor.test, not localhost. */
        snprintf(url, sizeof(url), "https://localhost:%d", s->port);
        o.base_url = url;
        o.ca_file = s->ca;
        o.backoff_ms = FAST_BACKOFF_MS;
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
        struct bx_error *e = NULL;
        struct bx_http *h;
        int64_t since;

        NEED_STANDIN(s);
        h = client(s, NULL, NULL, s->ca);
        arm(s, "{\"path_prefix\":\"/api/v2.0/ping\",\"status\":500,\"count\":2}");
        since = last_seq(s);
        if (bx_http_request(h, "GET", "/api/v2.0/ping", NULL, &r, &e) < 0)
                fail_msg("%s", e->msg);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body.buf, "Pong");
        assert_int_equal(r.attempts, 3);
        /* All three attempts carry the one id of the call. */
        assert_int_equal(seen(s, since, "GET", "/api/v2.0/ping", r.request_id, 3), 3);
        bx_http_response_release(&r);
        bx_http_free(h);
}

static void test_retry_drop(void **state)
{
        struct standin *s = *state;
        struct bx_http_response r = BX_HTTP_RESPONSE_INIT;
        struct bx_error *e = NULL;
        struct bx_http *h;
        int64_t since;

        NEED_STANDIN(s);
        h = client(s, NULL, NULL, s->ca);
        arm(s, "{\"path_prefix\":\"/api/v2.0/ping\",\"drop\":true,\"count\":2}");
        since = last_seq(s);
        if (bx_http_request(h, "GET", "/api/v2.0/ping", NULL, &r, &e) < 0)
                fail_msg("%s", e->msg);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.attempts, 3);
        assert_int_equal(seen(s, since, "GET", "/api/v2.0/ping", r.request_id, 3), 3);
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

        NEED_STANDIN(s);
        h = client(s, NULL, NULL, s->ca);
        arm(s, "{\"path_prefix\":\"/api/v2.0/ping\",\"drop\":true,\"count\":4}");
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

        NEED_STANDIN(s);
        h = client(s, NULL, NULL, s->ca);
        arm(s, "{\"path_prefix\":\"/api/v2.0/ping\",\"status\":500,\"count\":5}");
        since = last_seq(s);
        if (bx_http_request(h, "GET", "/api/v2.0/ping", NULL, &r, &e) < 0)
                fail_msg("%s", e->msg);
        assert_int_equal(r.status, 500);
        assert_int_equal(r.attempts, 4);
        assert_non_null(strstr(r.body.buf, "internal server error"));
        assert_int_equal(seen(s, since, "GET", "/api/v2.0/ping", r.request_id, 4), 4);
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

        NEED_STANDIN(s);
        h = client(s, NULL, NULL, s->ca);
        arm(s, "{\"path_prefix\":\"/api/v2.0/ping\",\"status\":429,\"count\":1,"
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
        struct bx_error *e = NULL;
        struct bx_http *h;
        int64_t since;

        NEED_STANDIN(s);
        h = client(s, NULL, NULL, s->ca);
        since = last_seq(s);
        assert_int_equal(bx_http_request(h, "GET", "/api/v2.0/nosuch", NULL, &r, &e), 0);
        assert_int_equal(r.status, 404);
        assert_int_equal(r.attempts, 1);
        assert_int_equal(seen(s, since, "GET", "/api/v2.0/nosuch", NULL, 1), 1);
        bx_http_response_release(&r);

        /* Anonymous: 401, once. */
        since = last_seq(s);
        assert_int_equal(
            bx_http_request(h, "HEAD", "/api/v2.0/projects?project_name=demo", NULL, &r, &e), 0);
        assert_int_equal(r.status, 401);
        assert_int_equal(r.attempts, 1);
        assert_int_equal(seen(s, since, "HEAD", "/api/v2.0/projects", NULL, 1), 1);
        bx_http_response_release(&r);

        /* An injected 403 is not retried either. */
        arm(s, "{\"path_prefix\":\"/api/v2.0/ping\",\"status\":403,\"count\":1}");
        since = last_seq(s);
        assert_int_equal(bx_http_request(h, "GET", "/api/v2.0/ping", NULL, &r, &e), 0);
        assert_int_equal(r.status, 403);
        assert_int_equal(seen(s, since, "GET", "/api/v2.0/ping", NULL, 1), 1);
        bx_http_response_release(&r);
        bx_http_free(h);
}

static void test_redirect_not_followed(void **state)
{
        struct standin *s = *state;
        struct bx_http_response r = BX_HTTP_RESPONSE_INIT;
        struct bx_error *e = NULL;
        struct bx_http *h;
        int64_t since;

        NEED_STANDIN(s);
        h = client(s, "admin", s->admin_pw, s->ca);
        arm(s, "{\"path_prefix\":\"/api/v2.0/health\",\"status\":302,\"count\":1,"
               "\"headers\":{\"Location\":\"/api/v2.0/ping\"}}");
        since = last_seq(s);
        assert_int_equal(bx_http_request(h, "GET", "/api/v2.0/health", NULL, &r, &e), 0);
        assert_int_equal(r.status, 302);
        assert_string_equal(r.location, "/api/v2.0/ping");
        assert_int_equal(seen(s, since, "GET", "/api/v2.0/health", NULL, 1), 1);
        assert_int_equal(seen(s, since, "GET", "/api/v2.0/ping", NULL, 0), 0);
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

        NEED_STANDIN(s);
        h = client(s, "admin", s->admin_pw, s->ca);
        since = last_seq(s);
        assert_int_equal(
            bx_http_request(h, "HEAD", "/api/v2.0/projects?project_name=demo", NULL, &r, &e), 0);
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
        assert_int_equal(seen(s, since, "POST", "/api/v2.0/robots", NULL, 1), 1);

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
        struct bx_http_opts o = BX_HTTP_OPTS_INIT;
        struct bx_http_response r = BX_HTTP_RESPONSE_INIT;
        struct bx_error *e = NULL;
        struct bx_http *h = NULL;
        int64_t since;

        NEED_STANDIN(s);
        o.base_url = s->url;
        o.ca_file = s->ca;
        o.body_max = 64;
        o.backoff_ms = FAST_BACKOFF_MS;
        assert_int_equal(bx_http_new(&o, &h, &e), 0);
        since = last_seq(s);
        assert_int_equal(bx_http_request(h, "GET", "/api/v2.0/health", NULL, &r, &e), -1);
        print_message("%s\n", e->msg);
        assert_true(bx_endswith(e->msg, "(GET /api/v2.0/health) is larger than 64 bytes"));
        assert_int_equal(seen(s, since, "GET", "/api/v2.0/health", NULL, 1), 1);
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
        struct bx_http_opts o = BX_HTTP_OPTS_INIT;
        struct bx_http_response r = BX_HTTP_RESPONSE_INIT;
        struct bx_error *e = NULL;
        struct bx_http *h = NULL;

        NEED_STANDIN(s);
        o.base_url = s->url;
        o.ca_file = s->ca;
        o.timeout_ms = 700;
        o.backoff_ms = FAST_BACKOFF_MS;
        assert_int_equal(bx_http_new(&o, &h, &e), 0);
        arm(s, "{\"path_prefix\":\"/api/v2.0/ping\",\"delay\":3,\"count\":1}");
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
            cmocka_unit_test_setup(test_tls_with_ca, test_setup),
            cmocka_unit_test_setup(test_tls_untrusted, test_setup),
            cmocka_unit_test_setup(test_tls_wrong_host_name, test_setup),
            cmocka_unit_test_setup(test_retry_500_then_ok, test_setup),
            cmocka_unit_test_setup(test_retry_drop, test_setup),
            cmocka_unit_test_setup(test_drop_every_attempt, test_setup),
            cmocka_unit_test_setup(test_500_after_all_attempts, test_setup),
            cmocka_unit_test_setup(test_429_retried, test_setup),
            cmocka_unit_test_setup(test_4xx_not_retried, test_setup),
            cmocka_unit_test_setup(test_redirect_not_followed, test_setup),
            cmocka_unit_test_setup(test_methods_and_headers, test_setup),
            cmocka_unit_test_setup(test_body_limit, test_setup),
            cmocka_unit_test_setup(test_timeout_retried, test_setup),
        };

        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
