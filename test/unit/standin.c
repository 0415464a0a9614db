/* SPDX-License-Identifier: MIT */
/*
 * The Harbor stand-in for the unit tests: certificates, process, control API
 * (see standin.h).
 */
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
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "buf.h"
#include "error.h"
#include "http.h"
#include "proc.h"
#include "standin.h"
#include "util.h"
#include "banned.h"

#ifndef BX_SOURCE_DIR
#error "BX_SOURCE_DIR (the source tree, a string) must be defined"
#endif

#define STANDIN BX_SOURCE_DIR "/test/fakes/harbor-standin"
#define PYTHON "/usr/bin/python3"

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

int standin_start(struct standin *s, const char *tag, const char *projects)
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
        snprintf(s->dir, sizeof(s->dir), "/tmp/bx-%s.XXXXXX", tag);
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

void standin_stop(struct standin *s)
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

cJSON *standin_control(struct standin *s, const char *method, const char *path, const char *json)
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

void standin_arm(struct standin *s, const char *fault_json)
{
        cJSON_Delete(standin_control(s, "POST", "/_standin/faults", fault_json));
}

static int64_t read_last_seq(struct standin *s)
{
        cJSON *doc = standin_control(s, "GET", "/_standin/requests?since=999999999", NULL);
        int64_t n = (int64_t)cJSON_GetObjectItemCaseSensitive(doc, "last_seq")->valuedouble;

        cJSON_Delete(doc);
        return n;
}

int64_t standin_last_seq(struct standin *s)
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

/* One look at the log: standin_seen() without the wait. */
static int count_seen(struct standin *s, int64_t since, const char *method, const char *path,
                      const char *request_id)
{
        char q[64];
        cJSON *doc;
        const cJSON *e;
        int n = 0;

        snprintf(q, sizeof(q), "/_standin/requests?since=%lld", (long long)since);
        doc = standin_control(s, "GET", q, NULL);
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

int standin_seen(struct standin *s, int64_t since, const char *method, const char *path,
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

struct bx_http_opts standin_http_opts(const struct standin *s, const char *user, const char *secret)
{
        struct bx_http_opts o = BX_HTTP_OPTS_INIT;

        o.base_url = s->url;
        o.ca_file = s->ca;
        o.username = user;
        o.secret = secret;
        o.backoff_ms = STANDIN_BACKOFF_MS;
        return o;
}

int standin_test_setup(void **state)
{
        struct standin *s = *state;

        if (s->up)
                cJSON_Delete(standin_control(s, "DELETE", "/_standin/faults", NULL));
        return 0;
}
