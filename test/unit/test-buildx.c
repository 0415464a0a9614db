/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "buildx.h"
#include "docker.h"
#include "error.h"
#include "proc.h"
#include "settings.h"
#include "toml.h"
#include "util.h"

/* ---- helpers ------------------------------------------------------------ */

/* Settings built by hand: string fields point at literals, only arrays are owned. */
static struct bx_settings *settings_new(void)
{
        struct bx_settings *s = bx_xcalloc(1, sizeof(*s));

        s->docker_cli = (char *)"docker";
        s->docker_host = (char *)"unix:///var/run/docker.sock";
        s->driver = BX_DRIVER_DOCKER_CONTAINER;
        s->builder_network = (char *)"host";
        s->bootstrap_timeout = 60;
        bx_strv_init(&s->platforms);
        bx_strv_init(&s->buildkitd_flags);
        return s;
}

static struct bx_registry *add_registry(struct bx_settings *s, const char *host)
{
        struct bx_registry *r;

        s->registries = bx_xrealloc(s->registries, (s->n_registries + 1) * sizeof(*r));
        r = &s->registries[s->n_registries++];
        memset(r, 0, sizeof(*r));
        r->host = (char *)host;
        bx_strv_init(&r->mirrors);
        return r;
}

static struct bx_remote_node *add_remote(struct bx_settings *s, const char *endpoint)
{
        struct bx_remote_node *n;

        s->remotes = bx_xrealloc(s->remotes, (s->n_remotes + 1) * sizeof(*n));
        n = &s->remotes[s->n_remotes++];
        memset(n, 0, sizeof(*n));
        n->endpoint = (char *)endpoint;
        bx_strv_init(&n->platforms);
        return n;
}

static void settings_free(struct bx_settings *s)
{
        size_t i;

        for (i = 0; i < s->n_registries; i++)
                bx_strv_release(&s->registries[i].mirrors);
        for (i = 0; i < s->n_remotes; i++)
                bx_strv_release(&s->remotes[i].platforms);
        free(s->registries);
        free(s->remotes);
        bx_strv_release(&s->platforms);
        bx_strv_release(&s->buildkitd_flags);
        free(s);
}

static char *toml_of(const struct bx_settings *s)
{
        struct bx_buf b = BX_BUF_INIT(0);
        struct bx_error *e = NULL;

        if (bx_buildkitd_toml(s, &b, &e) < 0)
                fail_msg("bx_buildkitd_toml failed: %s", e->msg);
        return bx_buf_detach(&b, NULL);
}

static void assert_argv(const struct bx_strv *v, const char *const *want)
{
        size_t i;

        for (i = 0; want[i] && i < v->n; i++) {
                if (strcmp(v->v[i], want[i]) != 0)
                        fail_msg("argv[%zu] is '%s', expected '%s'", i, v->v[i], want[i]);
        }
        if (want[i] || i != v->n)
                fail_msg("argv has %zu words, expected %zu (first difference at %zu: '%s')", v->n,
                         i + (want[i] ? 1 : 0) + (v->n > i ? v->n - i : 0), i,
                         i < v->n ? v->v[i] : (want[i] ? want[i] : "(end)"));
}

#define HEADER "# buildkitd.toml of a buildx-executor builder, generated from its settings\n"

/* ---- buildkitd.toml ---------------------------------------------------- */

static void test_toml_empty(void **state)
{
        struct bx_settings *s = settings_new();
        char *t;

        (void)state;
        t = toml_of(s);
        assert_string_equal(t, HEADER);
        free(t);
        settings_free(s);
}

static void test_toml_full(void **state)
{
        struct bx_settings *s = settings_new();
        struct bx_registry *r;
        char *t;

        (void)state;
        s->buildkit_debug = true;
        s->max_parallelism = 4;
        s->gc_keep_storage_mb = 20000;
        r = add_registry(s, "harbor.example:8443");
        bx_strv_pushl(&r->mirrors, "mirror-a.example", "mirror-b.example/proxy", NULL);
        r->ca = (char *)"/etc/bx/harbor-ca.pem";
        r->client_cert = (char *)"/etc/bx/client.cert";
        r->client_key = (char *)"/etc/bx/client.key";
        /* Credentials only: nothing for buildkitd, no table. */
        r = add_registry(s, "creds-only.example");
        r->username = (char *)"robot";
        r->password_file = (char *)"/etc/bx/pw";
        r = add_registry(s, "127.0.0.1:5000");
        r->http = true;
        r->insecure = true;

        t = toml_of(s);
        assert_string_equal(t, HEADER
                            "debug = true\n"
                            "\n"
                            "[registry.\"harbor.example:8443\"]\n"
                            "  mirrors = [\"mirror-a.example\", \"mirror-b.example/proxy\"]\n"
                            "  ca = [\"/etc/bx/harbor-ca.pem\"]\n"
                            "\n"
                            "  [[registry.\"harbor.example:8443\".keypair]]\n"
                            "    key = \"/etc/bx/client.key\"\n"
                            "    cert = \"/etc/bx/client.cert\"\n"
                            "\n"
                            "[registry.\"127.0.0.1:5000\"]\n"
                            "  http = true\n"
                            "  insecure = true\n"
                            "\n"
                            "[worker.oci]\n"
                            "  max-parallelism = 4\n"
                            "  gckeepstorage = 20000000000\n");
        free(t);
        settings_free(s);
}

static void test_toml_partial_worker(void **state)
{
        struct bx_settings *s = settings_new();
        char *t;

        (void)state;
        s->gc_keep_storage_mb = 1;
        t = toml_of(s);
        assert_string_equal(t, HEADER "\n[worker.oci]\n  gckeepstorage = 1000000\n");
        free(t);
        s->gc_keep_storage_mb = 0;
        s->max_parallelism = 2;
        t = toml_of(s);
        assert_string_equal(t, HEADER "\n[worker.oci]\n  max-parallelism = 2\n");
        free(t);
        settings_free(s);
}

/* The keys of a table, in order, joined with '|'. */
static char *keys_of(const struct bx_toml_table *t)
{
        struct bx_buf b = BX_BUF_INIT(0);
        size_t i;

        for (i = 0; i < bx_toml_table_size(t); i++) {
                if (i)
                        bx_buf_addch(&b, '|');
                bx_buf_adds(&b, bx_toml_entry_key(bx_toml_table_at(t, i)));
        }
        return bx_buf_detach(&b, NULL);
}

static void test_toml_hostile_strings(void **state)
{
        static const char host[] = "evil\"]\n[worker.oci]\nmax-parallelism = 1\n#\\\x01\x7f\t\r";
        static const char ca[] = "/x\"\n[registry.\"y\"]";
        struct bx_settings *s = settings_new();
        const struct bx_toml_table *root, *reg, *h;
        const struct bx_toml_entry *e;
        struct bx_toml *doc = NULL;
        struct bx_error *err = NULL;
        struct bx_registry *r;
        char *t, *k;

        (void)state;
        r = add_registry(s, host);
        r->ca = (char *)ca;
        bx_strv_push(&r->mirrors, "m\\\"");
        t = toml_of(s);
        assert_string_equal(t, HEADER
                            "\n"
                            "[registry.\"evil\\\"]\\n[worker.oci]\\nmax-parallelism = 1\\n#\\\\"
                            "\\u0001\\u007F\\t\\r\"]\n"
                            "  mirrors = [\"m\\\\\\\"\"]\n"
                            "  ca = [\"/x\\\"\\n[registry.\\\"y\\\"]\"]\n");

        /* And a TOML reader sees exactly one registry with exactly that name, nothing else. */
        if (bx_toml_parse_string("generated", t, strlen(t), &doc, &err) < 0)
                fail_msg("generated TOML does not parse: %s", err->msg);
        root = bx_toml_root(doc);
        k = keys_of(root);
        assert_string_equal(k, "registry");
        free(k);
        assert_int_equal(bx_toml_get_table(root, "registry", &reg, &err), 0);
        assert_int_equal(bx_toml_table_size(reg), 1);
        assert_string_equal(bx_toml_entry_key(bx_toml_table_at(reg, 0)), host);
        assert_int_equal(bx_toml_get_table(reg, host, &h, &err), 0);
        k = keys_of(h);
        assert_string_equal(k, "mirrors|ca");
        free(k);
        assert_int_equal(bx_toml_get_array(h, "ca", BX_TOML_STRING, &e, &err), 0);
        assert_string_equal(bx_toml_entry_string(bx_toml_entry_at(e, 0)), ca);
        assert_int_equal(bx_toml_get_array(h, "mirrors", BX_TOML_STRING, &e, &err), 0);
        assert_string_equal(bx_toml_entry_string(bx_toml_entry_at(e, 0)), "m\\\"");
        bx_toml_free(doc);
        free(t);
        settings_free(s);
}

static void test_toml_errors(void **state)
{
        struct bx_settings *s = settings_new();
        struct bx_buf b = BX_BUF_INIT(0);
        struct bx_error *e = NULL;
        struct bx_registry *r;

        (void)state;
        /* Invalid UTF-8 cannot be written as TOML at all: refused, out untouched. */
        bx_buf_adds(&b, "keep");
        r = add_registry(s, "bad\xc3(utf8");
        r->http = true;
        assert_int_equal(bx_buildkitd_toml(s, &b, &e), -1);
        assert_non_null(e);
        assert_non_null(strstr(e->msg, "not valid UTF-8"));
        assert_string_equal(b.buf, "keep");
        e = bx_error_free(e);

        /* Overlong encoding and a surrogate are not UTF-8 either. */
        r->host = (char *)"a\xc0\xaf";
        assert_int_equal(bx_buildkitd_toml(s, &b, &e), -1);
        e = bx_error_free(e);
        r->host = (char *)"a\xed\xa0\x80";
        assert_int_equal(bx_buildkitd_toml(s, &b, &e), -1);
        e = bx_error_free(e);
        /* Real UTF-8 is fine. */
        r->host = (char *)"h\xc3\xa9.example";
        assert_int_equal(bx_buildkitd_toml(s, &b, &e), 0);
        assert_non_null(strstr(b.buf, "[registry.\"h\xc3\xa9.example\"]"));
        bx_buf_reset(&b);

        /* Half a key pair. */
        r->client_cert = (char *)"/c";
        assert_int_equal(bx_buildkitd_toml(s, &b, &e), -1);
        assert_non_null(strstr(e->msg, "client_cert and client_key"));
        e = bx_error_free(e);
        r->client_cert = NULL;

        /* Empty host. */
        r->host = (char *)"";
        assert_int_equal(bx_buildkitd_toml(s, &b, &e), -1);
        e = bx_error_free(e);
        r->host = (char *)"ok.example";

        /* Negative numbers are a settings bug. */
        s->max_parallelism = -1;
        assert_int_equal(bx_buildkitd_toml(s, &b, &e), -1);
        e = bx_error_free(e);
        s->max_parallelism = 0;

        /* A bounded buffer too small for the text. */
        bx_buf_release(&b);
        bx_buf_init(&b, 16);
        assert_int_equal(bx_buildkitd_toml(s, &b, &e), -1);
        assert_non_null(strstr(e->msg, "larger than 16 bytes"));
        assert_int_equal(b.len, 0);
        e = bx_error_free(e);
        bx_buf_release(&b);
        settings_free(s);
}

/* ---- command lines ----------------------------------------------------- */

static void test_argv_docker_container_minimal(void **state)
{
        static const char *const want[] = {"docker",
                                           "buildx",
                                           "create",
                                           "--name",
                                           "bx-abc-42",
                                           "--node",
                                           "bx-abc-420",
                                           "--driver",
                                           "docker-container",
                                           "--driver-opt",
                                           "network=host",
                                           "--buildkitd-config",
                                           "/var/lib/bx/j42/buildkitd.toml",
                                           "--bootstrap",
                                           NULL};
        struct bx_settings *s = settings_new();
        struct bx_strv *v = NULL;
        struct bx_error *e = NULL;
        size_t n = 0;

        (void)state;
        assert_int_equal(
            bx_buildx_create_argvs(s, "bx-abc-42", "/var/lib/bx/j42/buildkitd.toml", &v, &n, &e),
            0);
        assert_int_equal(n, 1);
        assert_argv(&v[0], want);
        bx_buildx_argvs_free(v, n);
        settings_free(s);
}

static void test_argv_docker_container_full(void **state)
{
        static const char *const want[] = {
            "/usr/bin/docker",
            "buildx",
            "create",
            "--name",
            "bx-abc-42",
            "--node",
            "bx-abc-420",
            "--driver",
            "docker-container",
            "--driver-opt",
            "network=ci-net",
            "--driver-opt",
            "image=harbor.example:8443/proxy/moby/buildkit:v0.13.1",
            "--buildkitd-config",
            "/t.toml",
            "--buildkitd-flags",
            "--debug --oci-worker-gc=false '--allow-insecure-entitlement security.insecure' "
            "'it'\\''s'",
            "--bootstrap",
            NULL};
        struct bx_settings *s = settings_new();
        struct bx_strv *v = NULL;
        struct bx_error *e = NULL;
        size_t n = 0;

        (void)state;
        s->docker_cli = (char *)"/usr/bin/docker";
        s->builder_network = (char *)"ci-net";
        s->builder_image = (char *)"harbor.example:8443/proxy/moby/buildkit:v0.13.1";
        bx_strv_pushl(&s->buildkitd_flags, "--debug", "--oci-worker-gc=false",
                      "--allow-insecure-entitlement security.insecure", "it's", NULL);
        assert_int_equal(bx_buildx_create_argvs(s, "bx-abc-42", "/t.toml", &v, &n, &e), 0);
        assert_int_equal(n, 1);
        assert_argv(&v[0], want);
        bx_buildx_argvs_free(v, n);
        settings_free(s);
}

static void test_argv_csv_quoting(void **state)
{
        static const char *const want[] = {"docker",
                                           "buildx",
                                           "create",
                                           "--name",
                                           "b",
                                           "--node",
                                           "b0",
                                           "--driver",
                                           "docker-container",
                                           "--driver-opt",
                                           "\"network=a,b\"",
                                           "--driver-opt",
                                           "\"image=x\"\"y\"",
                                           "--bootstrap",
                                           NULL};
        struct bx_settings *s = settings_new();
        struct bx_strv *v = NULL;
        struct bx_error *e = NULL;
        size_t n = 0;

        (void)state;
        s->builder_network = (char *)"a,b";
        s->builder_image = (char *)"x\"y";
        assert_int_equal(bx_buildx_create_argvs(s, "b", NULL, &v, &n, &e), 0);
        assert_argv(&v[0], want);
        bx_buildx_argvs_free(v, n);
        settings_free(s);
}

static void test_argv_remote(void **state)
{
        static const char *const want0[] = {"docker",
                                            "buildx",
                                            "create",
                                            "--name",
                                            "bx-r-7",
                                            "--node",
                                            "bx-r-70",
                                            "--driver",
                                            "remote",
                                            "--driver-opt",
                                            "cacert=/etc/bx/bk/ca.pem",
                                            "--driver-opt",
                                            "cert=/etc/bx/bk/cert.pem",
                                            "--driver-opt",
                                            "key=/etc/bx/bk/key.pem",
                                            "--driver-opt",
                                            "servername=buildkit.example",
                                            "--platform",
                                            "linux/amd64,linux/386",
                                            "tcp://10.0.0.5:1234",
                                            NULL};
        static const char *const want1[] = {"docker",
                                            "buildx",
                                            "create",
                                            "--name",
                                            "bx-r-7",
                                            "--append",
                                            "--node",
                                            "bx-r-71",
                                            "--driver",
                                            "remote",
                                            "--platform",
                                            "linux/arm64",
                                            "tcp://10.0.0.6:1234",
                                            NULL};
        static const char *const want2[] = {"docker",      "buildx", "inspect",
                                            "--bootstrap", "bx-r-7", NULL};
        struct bx_settings *s = settings_new();
        struct bx_remote_node *node;
        struct bx_strv *v = NULL;
        struct bx_error *e = NULL;
        size_t n = 0;

        (void)state;
        s->driver = BX_DRIVER_REMOTE;
        node = add_remote(s, "tcp://10.0.0.5:1234");
        bx_strv_pushl(&node->platforms, "linux/amd64", "linux/386", NULL);
        node->cacert = (char *)"/etc/bx/bk/ca.pem";
        node->cert = (char *)"/etc/bx/bk/cert.pem";
        node->key = (char *)"/etc/bx/bk/key.pem";
        node->servername = (char *)"buildkit.example";
        node = add_remote(s, "tcp://10.0.0.6:1234");
        bx_strv_push(&node->platforms, "linux/arm64");

        /* The toml path is ignored: buildx rejects it for the remote driver. */
        assert_int_equal(bx_buildx_create_argvs(s, "bx-r-7", "/t.toml", &v, &n, &e), 0);
        assert_int_equal(n, 3);
        assert_argv(&v[0], want0);
        assert_argv(&v[1], want1);
        assert_argv(&v[2], want2);
        bx_buildx_argvs_free(v, n);

        /* An endpoint buildx would read as an option. */
        s->remotes[1].endpoint = (char *)"--help";
        assert_int_equal(bx_buildx_create_argvs(s, "bx-r-7", NULL, &v, &n, &e), -1);
        assert_non_null(strstr(e->msg, "endpoint '--help'"));
        e = bx_error_free(e);
        s->remotes[1].endpoint = (char *)"tcp://10.0.0.6:1234";
        bx_strv_push(&s->remotes[1].platforms, "linux/a,b");
        assert_int_equal(bx_buildx_create_argvs(s, "bx-r-7", NULL, &v, &n, &e), -1);
        e = bx_error_free(e);

        s->n_remotes = 0;
        assert_int_equal(bx_buildx_create_argvs(s, "bx-r-7", NULL, &v, &n, &e), -1);
        assert_non_null(strstr(e->msg, "[[builder.remote]]"));
        e = bx_error_free(e);
        s->n_remotes = 2;
        settings_free(s);
}

static void test_argv_docker_context(void **state)
{
        static const char *const want[] = {"docker", "context",  "create",
                                           "bx-d-1", "--docker", "host=unix:///var/run/docker.sock",
                                           NULL};
        struct bx_settings *s = settings_new();
        struct bx_strv *v = NULL;
        struct bx_error *e = NULL;
        size_t n = 0;

        (void)state;
        s->driver = BX_DRIVER_DOCKER;
        assert_int_equal(bx_buildx_create_argvs(s, "bx-d-1", "/t.toml", &v, &n, &e), 0);
        assert_int_equal(n, 1);
        assert_argv(&v[0], want);
        bx_buildx_argvs_free(v, n);
        settings_free(s);
}

static void test_argv_bad_names(void **state)
{
        static const char *const bad[] = {"", "Bx", "-x", "1bx", "bx job", "bx/x", "bx$x", NULL};
        struct bx_settings *s = settings_new();
        struct bx_strv *v = NULL;
        struct bx_error *e = NULL;
        size_t n = 0, i;

        (void)state;
        for (i = 0; bad[i]; i++) {
                assert_int_equal(bx_buildx_create_argvs(s, bad[i], NULL, &v, &n, &e), -1);
                assert_non_null(strstr(e->msg, "invalid builder name"));
                e = bx_error_free(e);
        }
        assert_int_equal(bx_buildx_create_argvs(s, "ok", "relative.toml", &v, &n, &e), -1);
        e = bx_error_free(e);
        settings_free(s);
}

/* ---- inspect ----------------------------------------------------------- */

/*
 * Captured from buildx 0.13.1 (Debian 0.13.1+ds1-3) against dockerd 26.1.5
 * on this project's test machine, with qemu-aarch64 registered:
 *   docker context create bx-cap-1 --docker host=unix:///var/run/docker.sock
 *   docker buildx inspect --bootstrap bx-cap-1
 */
static const char captured_docker[] =
    "Name:   bx-cap-1\n"
    "Driver: docker\n"
    "\n"
    "Nodes:\n"
    "Name:             bx-cap-1\n"
    "Endpoint:         bx-cap-1\n"
    "Status:           running\n"
    "BuildKit version: v0.0.0+unknown\n"
    "Platforms:        linux/amd64, linux/amd64/v2, linux/amd64/v3, linux/amd64/v4, "
    "linux/arm64\n"
    "Labels:\n"
    " org.mobyproject.buildkit.worker.containerd.namespace: moby\n"
    " org.mobyproject.buildkit.worker.containerd.uuid:      "
    "1af2b966-6740-488f-be5b-a2c515f4c899\n"
    " org.mobyproject.buildkit.worker.executor:             containerd\n"
    " org.mobyproject.buildkit.worker.hostname:             vm\n"
    " org.mobyproject.buildkit.worker.moby.host-gateway-ip: 172.17.0.1\n"
    " org.mobyproject.buildkit.worker.network:              host\n"
    " org.mobyproject.buildkit.worker.selinux.enabled:      false\n"
    " org.mobyproject.buildkit.worker.snapshotter:          overlayfs\n";

/*
 * Captured the same way: a docker-container builder created without
 * --bootstrap (its image cannot be pulled here), and a two-node remote
 * builder whose endpoints do not exist, both `docker buildx inspect NAME`.
 */
static const char captured_container_inactive[] =
    "Name:          bx-cap-2\n"
    "Driver:        docker-container\n"
    "Last Activity: 2026-11-28 19:55:03 +0000 UTC\n"
    "\n"
    "Nodes:\n"
    "Name:                  bx-cap-20\n"
    "Endpoint:              unix:///var/run/docker.sock\n"
    "Driver Options:        image=\"bxtest.invalid/buildkit:none\" network=\"host\"\n"
    "Status:                inactive\n"
    "BuildKit daemon flags: --debug --oci-worker-gc=false "
    "--allow-insecure-entitlement=network.host\n";

static const char captured_remote[] =
    "Name:          bx-cap-3\n"
    "Driver:        remote\n"
    "Last Activity: 2026-11-28 19:55:03 +0000 UTC\n"
    "\n"
    "Nodes:\n"
    "Name:           bx-cap-30\n"
    "Endpoint:       tcp://10.0.0.5:1234\n"
    "Driver Options: cert=\"/etc/bk/cert.pem\" key=\"/etc/bk/key.pem\" "
    "cacert=\"/etc/bk/ca.pem\"\n"
    "Status:         inactive\n"
    "Platforms:      linux/amd64*\n"
    "\n"
    "Name:      bx-cap-31\n"
    "Endpoint:  tcp://10.0.0.6:1234\n"
    "Status:    inactive\n"
    "Platforms: linux/arm64*, linux/arm/v7*\n";

/*
 * Hand-written in buildx 0.13's format (commands/inspect.go: tabwriter, GC
 * rules and labels indented) for a running docker-container builder, since
 * the moby/buildkit image cannot be had here.
 */
static const char sample_container_running[] =
    "Name:          bx-job-42\n"
    "Driver:        docker-container\n"
    "Last Activity: 2026-11-28 19:55:03 +0000 UTC\n"
    "\n"
    "Nodes:\n"
    "Name:                  bx-job-420\n"
    "Endpoint:              unix:///var/run/docker.sock\n"
    "Driver Options:        network=\"host\" image=\"moby/buildkit:buildx-stable-1\"\n"
    "Status:                running\n"
    "BuildKit daemon flags: --allow-insecure-entitlement=network.host\n"
    "BuildKit version:      v0.13.1\n"
    "Platforms:             linux/amd64, linux/amd64/v2, linux/amd64/v3, linux/arm64, "
    "linux/riscv64, linux/386\n"
    "Labels:\n"
    " org.mobyproject.buildkit.worker.executor:         oci\n"
    " org.mobyproject.buildkit.worker.hostname:         vm\n"
    " org.mobyproject.buildkit.worker.network:          host\n"
    " org.mobyproject.buildkit.worker.oci.process-mode: sandbox\n"
    " org.mobyproject.buildkit.worker.snapshotter:      overlayfs\n"
    "GC Policy rule#0:\n"
    " All:           false\n"
    " Filters:       type==source.local,type==exec.cachemount,type==source.git.checkout\n"
    " Keep Duration: 48h0m0s\n"
    " Keep Bytes:    488.3MiB\n"
    "GC Policy rule#1:\n"
    " All:        true\n"
    " Keep Bytes: 9.313GiB\n";

static const char sample_node_error[] =
    "Name:          bx-job-43\n"
    "Driver:        docker-container\n"
    "\n"
    "Nodes:\n"
    "Name:     bx-job-430\n"
    "Endpoint: unix:///var/run/docker.sock\n"
    "Error:    Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the "
    "docker daemon running?\n";

static const char sample_builder_error[] = "Name:   bx-job-44\n"
                                           "Driver: remote\n"
                                           "Error:  context deadline exceeded\n";

static void assert_platforms(const struct bx_strv *p, const char *joined)
{
        struct bx_buf b = BX_BUF_INIT(0);
        size_t i;

        for (i = 0; i < p->n; i++) {
                if (i)
                        bx_buf_addch(&b, '|');
                bx_buf_adds(&b, p->v[i]);
        }
        assert_string_equal(b.buf, joined);
        bx_buf_release(&b);
}

static void test_parse_captured_docker(void **state)
{
        struct bx_builder_info info = BX_BUILDER_INFO_INIT;
        struct bx_error *e = NULL;

        (void)state;
        assert_int_equal(bx_buildx_parse_inspect(captured_docker, &info, &e), 0);
        assert_string_equal(info.name, "bx-cap-1");
        assert_string_equal(info.driver, "docker");
        assert_null(info.error);
        assert_int_equal(info.n_nodes, 1);
        assert_string_equal(info.nodes[0].name, "bx-cap-1");
        assert_string_equal(info.nodes[0].endpoint, "bx-cap-1");
        assert_string_equal(info.nodes[0].status, "running");
        assert_string_equal(info.nodes[0].buildkit_version, "v0.0.0+unknown");
        assert_null(info.nodes[0].error);
        assert_platforms(&info.nodes[0].platforms,
                         "linux/amd64|linux/amd64/v2|linux/amd64/v3|linux/amd64/v4|linux/arm64");
        assert_true(bx_builder_info_has_platform(&info, "linux/amd64"));
        assert_true(bx_builder_info_has_platform(&info, "linux/arm64"));
        assert_true(bx_builder_info_has_platform(&info, "linux/arm64/v8"));
        assert_true(bx_builder_info_has_platform(&info, "LINUX/ARM64"));
        assert_false(bx_builder_info_has_platform(&info, "linux/arm/v7"));
        assert_false(bx_builder_info_has_platform(&info, "linux/riscv64"));
        bx_builder_info_release(&info);
        assert_null(info.name);
        assert_int_equal(info.n_nodes, 0);
}

static void test_parse_captured_inactive(void **state)
{
        struct bx_builder_info info = BX_BUILDER_INFO_INIT;
        struct bx_error *e = NULL;

        (void)state;
        assert_int_equal(bx_buildx_parse_inspect(captured_container_inactive, &info, &e), 0);
        assert_string_equal(info.driver, "docker-container");
        assert_int_equal(info.n_nodes, 1);
        assert_string_equal(info.nodes[0].name, "bx-cap-20");
        assert_string_equal(info.nodes[0].status, "inactive");
        assert_null(info.nodes[0].buildkit_version);
        assert_int_equal(info.nodes[0].platforms.n, 0);
        assert_false(bx_builder_info_has_platform(&info, "linux/amd64"));
        bx_builder_info_release(&info);

        assert_int_equal(bx_buildx_parse_inspect(captured_remote, &info, &e), 0);
        assert_string_equal(info.name, "bx-cap-3");
        assert_string_equal(info.driver, "remote");
        assert_int_equal(info.n_nodes, 2);
        assert_string_equal(info.nodes[0].name, "bx-cap-30");
        assert_string_equal(info.nodes[0].endpoint, "tcp://10.0.0.5:1234");
        assert_platforms(&info.nodes[0].platforms, "linux/amd64");
        assert_string_equal(info.nodes[1].name, "bx-cap-31");
        assert_string_equal(info.nodes[1].endpoint, "tcp://10.0.0.6:1234");
        assert_string_equal(info.nodes[1].status, "inactive");
        assert_platforms(&info.nodes[1].platforms, "linux/arm64|linux/arm/v7");
        /* '*' marks are gone; arm without variant means v7. */
        assert_true(bx_builder_info_has_platform(&info, "linux/arm/v7"));
        assert_true(bx_builder_info_has_platform(&info, "linux/arm"));
        assert_false(bx_builder_info_has_platform(&info, "linux/arm/v6"));
        assert_true(bx_builder_info_has_platform(&info, "linux/amd64/v1"));
        bx_builder_info_release(&info);
}

static void test_parse_samples(void **state)
{
        struct bx_builder_info info = BX_BUILDER_INFO_INIT;
        struct bx_error *e = NULL;

        (void)state;
        assert_int_equal(bx_buildx_parse_inspect(sample_container_running, &info, &e), 0);
        assert_string_equal(info.name, "bx-job-42");
        assert_int_equal(info.n_nodes, 1);
        assert_string_equal(info.nodes[0].name, "bx-job-420");
        assert_string_equal(info.nodes[0].status, "running");
        assert_string_equal(info.nodes[0].buildkit_version, "v0.13.1");
        assert_platforms(&info.nodes[0].platforms, "linux/amd64|linux/amd64/v2|linux/amd64/v3|"
                                                   "linux/arm64|linux/riscv64|linux/386");
        assert_true(bx_builder_info_has_platform(&info, "linux/riscv64"));
        assert_true(bx_builder_info_has_platform(&info, "linux/386"));
        assert_false(bx_builder_info_has_platform(&info, "linux/s390x"));
        bx_builder_info_release(&info);

        assert_int_equal(bx_buildx_parse_inspect(sample_node_error, &info, &e), 0);
        assert_int_equal(info.n_nodes, 1);
        assert_null(info.nodes[0].status);
        assert_string_equal(info.nodes[0].error,
                            "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
                            "Is the docker daemon running?");
        bx_builder_info_release(&info);

        assert_int_equal(bx_buildx_parse_inspect(sample_builder_error, &info, &e), 0);
        assert_string_equal(info.error, "context deadline exceeded");
        assert_int_equal(info.n_nodes, 0);
        bx_builder_info_release(&info);

        /* CRLF line ends are tolerated. */
        assert_int_equal(bx_buildx_parse_inspect("Name: a\r\nDriver: docker\r\n\r\nNodes:\r\n"
                                                 "Name: a\r\nPlatforms: linux/amd64\r\n",
                                                 &info, &e),
                         0);
        assert_string_equal(info.driver, "docker");
        assert_platforms(&info.nodes[0].platforms, "linux/amd64");
        bx_builder_info_release(&info);

        assert_int_equal(bx_buildx_parse_inspect("ERROR: no builder \"x\" found\n", &info, &e), -1);
        assert_non_null(strstr(e->msg, "no 'Name:' line"));
        e = bx_error_free(e);
        assert_int_equal(bx_buildx_parse_inspect("", &info, &e), -1);
        e = bx_error_free(e);
}

/* ---- against the real docker and buildx -------------------------------- */

struct live {
        char dir[64];
        struct bx_strv env;
        char *docker_config;
        struct bx_docker *docker;
};

static bool have_docker(struct bx_docker **ret)
{
        struct bx_error *e = NULL;
        struct bx_docker *d = NULL;

        if (access("/var/run/docker.sock", F_OK) != 0) {
                print_message("skipped: /var/run/docker.sock does not exist (dockerd not started; "
                              "see test/env/start.sh)\n");
                return false;
        }
        if (bx_docker_new("unix:///var/run/docker.sock", &d, &e) < 0 || bx_docker_ping(d, &e) < 0) {
                print_message("skipped: dockerd does not answer: %s\n", e->msg);
                bx_error_free(e);
                bx_docker_free(d);
                return false;
        }
        *ret = d;
        return true;
}

static int live_setup(void **state)
{
        struct live *l = bx_xcalloc(1, sizeof(*l));

        snprintf(l->dir, sizeof(l->dir), "/tmp/bx-test-buildx.XXXXXX");
        if (!mkdtemp(l->dir))
                return -1;
        l->docker_config = bx_xasprintf("%s/docker", l->dir);
        mkdir(l->docker_config, 0700);
        bx_strv_init(&l->env);
        bx_strv_push(&l->env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        bx_strv_pushf(&l->env, "HOME=%s", l->dir);
        bx_strv_pushf(&l->env, "DOCKER_CONFIG=%s", l->docker_config);
        bx_strv_push(&l->env, "DOCKER_HOST=unix:///var/run/docker.sock");
        *state = l;
        return 0;
}

static int live_teardown(void **state)
{
        struct live *l = *state;
        struct bx_strv left = BX_STRV_INIT;
        struct bx_error *e = NULL;
        char prefix[64], image[64];
        const char *rmi[] = {"docker", "rmi", image, NULL};
        size_t i;

        /* Whatever a failed test left behind on the daemon. */
        snprintf(prefix, sizeof(prefix), "buildx_buildkit_bxtest-%ld", (long)getpid());
        snprintf(image, sizeof(image), "bxtest-empty:%ld", (long)getpid());
        if (l->docker) {
                if (bx_docker_container_list(l->docker, prefix, &left, &e) == 0)
                        for (i = 0; i < left.n; i++)
                                bx_docker_container_remove(l->docker, left.v[i], NULL);
                bx_error_clear(&e);
                bx_strv_release(&left);
                if (bx_docker_volume_list(l->docker, prefix, &left, &e) == 0)
                        for (i = 0; i < left.n; i++)
                                bx_docker_volume_remove(l->docker, left.v[i], NULL);
                bx_error_clear(&e);
                bx_strv_release(&left);
                if (bx_docker_image_exists(l->docker, image, NULL) == 1)
                        bx_proc_capture(rmi, &l->env, 60000, NULL, NULL, NULL);
        }
        bx_rm_rf(l->dir, &e);
        bx_error_free(e);
        bx_docker_free(l->docker);
        bx_strv_release(&l->env);
        free(l->docker_config);
        free(l);
        return 0;
}

/* Run the docker CLI with the test's environment; the exit status. */
static int cli(struct live *l, const char *const *argv, char **out)
{
        struct bx_error *e = NULL;
        char *o = NULL, *er = NULL;
        int r = bx_proc_capture(argv, &l->env, 60000, &o, &er, &e);

        if (r < 0 && e && e->child_status > 0)
                r = e->child_status;
        bx_error_free(e);
        if (out)
                *out = o;
        else
                free(o);
        free(er);
        return r;
}

static void test_live_docker_driver(void **state)
{
        struct live *l = *state;
        struct bx_settings *s = settings_new();
        struct bx_builder_info info = BX_BUILDER_INFO_INIT;
        struct bx_error *e = NULL;
        char name[64];
        const char *ctx_inspect[] = {"docker", "context", "inspect", name, NULL};

        if (!have_docker(&l->docker)) {
                settings_free(s);
                skip();
        }
        snprintf(name, sizeof(name), "bxtest-%ld-d", (long)getpid());
        s->driver = BX_DRIVER_DOCKER;
        if (bx_buildx_create(s, name, NULL, &l->env, &e) < 0)
                fail_msg("create: %s", e->msg);
        assert_int_equal(cli(l, ctx_inspect, NULL), 0);

        if (bx_buildx_inspect(s, name, &l->env, &info, &e) < 0)
                fail_msg("inspect: %s", e->msg);
        assert_string_equal(info.name, name);
        assert_string_equal(info.driver, "docker");
        assert_int_equal(info.n_nodes, 1);
        assert_string_equal(info.nodes[0].status, "running");
        assert_true(bx_builder_info_has_platform(&info, "linux/amd64"));
        bx_builder_info_release(&info);

        /* Creating it again fails (the context exists) and cleans up after itself. */
        assert_int_equal(bx_buildx_create(s, name, NULL, &l->env, &e), -1);
        assert_non_null(strstr(e->msg, "cannot create builder"));
        assert_non_null(strstr(e->msg, "'docker context create' failed (exit 1)"));
        assert_non_null(strstr(e->msg, "already exists"));
        assert_true(e->child_status > 0);
        e = bx_error_free(e);
        assert_int_not_equal(cli(l, ctx_inspect, NULL), 0);

        /* Remove is idempotent. */
        assert_int_equal(bx_buildx_create(s, name, NULL, &l->env, &e), 0);
        if (bx_buildx_remove(s, l->docker, name, &l->env, &e) < 0)
                fail_msg("remove: %s", e->msg);
        assert_int_not_equal(cli(l, ctx_inspect, NULL), 0);
        if (bx_buildx_remove(s, NULL, name, &l->env, &e) < 0)
                fail_msg("second remove: %s", e->msg);

        /* Inspecting a builder that is not there is an error with buildx's words. */
        assert_int_equal(bx_buildx_inspect(s, name, &l->env, &info, &e), -1);
        assert_non_null(strstr(e->msg, "cannot inspect builder"));
        assert_non_null(strstr(e->msg, "no builder"));
        e = bx_error_free(e);
        settings_free(s);
}

static void test_live_failed_bootstrap_leaves_nothing(void **state)
{
        struct live *l = *state;
        struct bx_settings *s = settings_new();
        struct bx_strv names = BX_STRV_INIT;
        struct bx_error *e = NULL;
        char name[64], prefix[96], *toml = NULL, *out = NULL;
        const char *buildx_inspect[] = {"docker", "buildx", "inspect", name, NULL};
        struct bx_buf t = BX_BUF_INIT(0);

        if (!have_docker(&l->docker)) {
                settings_free(s);
                skip();
        }
        snprintf(name, sizeof(name), "bxtest-%ld-c", (long)getpid());
        snprintf(prefix, sizeof(prefix), "buildx_buildkit_%s", name);
        /* A registry that cannot be resolved: the image pull fails at once. */
        s->builder_image = (char *)"bxtest.invalid/buildkit:none";
        s->buildkit_debug = true;
        assert_int_equal(bx_buildkitd_toml(s, &t, &e), 0);
        toml = bx_xasprintf("%s/buildkitd.toml", l->dir);
        assert_int_equal(bx_write_file(toml, t.buf, t.len, 0600, &e), 0);
        bx_buf_release(&t);

        assert_int_equal(bx_buildx_create(s, name, toml, &l->env, &e), -1);
        assert_non_null(e);
        print_message("expected failure: %s\n", e->msg);
        assert_int_equal(e->fail, BX_FAIL_SYSTEM);
        assert_true(e->child_status > 0);
        assert_true(bx_startswith(e->msg, "cannot create builder 'bxtest-"));
        assert_non_null(strstr(e->msg, "'docker buildx create' failed (exit 1): ERROR: "));
        assert_non_null(strstr(e->msg, "bxtest.invalid"));
        e = bx_error_free(e);

        /* buildx had stored the instance before the pull failed: it must be gone again. */
        assert_int_not_equal(cli(l, buildx_inspect, &out), 0);
        free(out);
        assert_int_equal(bx_docker_container_list(l->docker, prefix, &names, &e), 0);
        assert_int_equal(bx_docker_volume_list(l->docker, prefix, &names, &e), 0);
        assert_int_equal(names.n, 0);
        bx_strv_release(&names);
        free(toml);
        settings_free(s);
}

/* An image with no files, made locally (nothing can be pulled here): enough for `docker create`. */
static void make_empty_image(struct live *l, const char *image)
{
        static char zeros[10240];
        struct bx_error *e = NULL;
        char *tar = bx_xasprintf("%s/empty.tar", l->dir);
        const char *import[] = {"docker", "import", tar, image, NULL};

        if (bx_write_file(tar, zeros, sizeof(zeros), 0600, &e) < 0)
                fail_msg("%s", e->msg);
        assert_int_equal(cli(l, import, NULL), 0);
        free(tar);
}

static void test_live_remove_sweeps_exact_names(void **state)
{
        struct live *l = *state;
        struct bx_settings *s = settings_new();
        struct bx_strv names = BX_STRV_INIT;
        struct bx_error *e = NULL;
        char name[64], image[64], ctr[96], vol[128], mnt[160], octr[96], ovol[128], omnt[160];
        const char *create[] = {"docker", "create", "--name", ctr, "-v", mnt, image, "/none", NULL};
        const char *create_other[] = {"docker", "create", "--name", octr, "-v",
                                      omnt,     image,    "/none",  NULL};
        const char *rmi[] = {"docker", "rmi", image, NULL};
        char *gone = NULL;
        struct stat st;

        if (!have_docker(&l->docker)) {
                settings_free(s);
                skip();
        }
        gone = bx_xasprintf("%s/gone", l->dir);
        /*
         * What a builder that never finished bootstrapping leaves: its container holding
         * its state volume.  Builder "N" owns buildx_buildkit_N0 and ..._N0_state; builder
         * "N1" owns buildx_buildkit_N10 and ..._N10_state, which must survive.
         */
        snprintf(name, sizeof(name), "bxtest-%ld-1", (long)getpid());
        snprintf(image, sizeof(image), "bxtest-empty:%ld", (long)getpid());
        snprintf(ctr, sizeof(ctr), "buildx_buildkit_%s0", name);
        snprintf(vol, sizeof(vol), "%s_state", ctr);
        snprintf(mnt, sizeof(mnt), "%s:/var/lib/buildkit", vol);
        snprintf(octr, sizeof(octr), "buildx_buildkit_%s10", name);
        snprintf(ovol, sizeof(ovol), "%s_state", octr);
        snprintf(omnt, sizeof(omnt), "%s:/var/lib/buildkit", ovol);
        make_empty_image(l, image);
        assert_int_equal(cli(l, create, NULL), 0);
        assert_int_equal(cli(l, create_other, NULL), 0);

        /* The job's DOCKER_CONFIG is already gone: the CLI is not run, the engine is swept. */
        bx_strv_setenv(&l->env, "DOCKER_CONFIG", gone);
        if (bx_buildx_remove(s, l->docker, name, &l->env, &e) < 0)
                fail_msg("remove: %s", e->msg);
        assert_int_not_equal(stat(gone, &st), 0);
        bx_strv_setenv(&l->env, "DOCKER_CONFIG", l->docker_config);

        assert_int_equal(bx_docker_container_list(l->docker, "buildx_buildkit_bxtest-", &names, &e),
                         0);
        assert_int_equal(bx_docker_volume_list(l->docker, "buildx_buildkit_bxtest-", &names, &e),
                         0);
        assert_false(bx_strv_contains(&names, ctr));
        assert_false(bx_strv_contains(&names, vol));
        assert_true(bx_strv_contains(&names, octr));
        assert_true(bx_strv_contains(&names, ovol));
        assert_int_equal(bx_docker_container_remove(l->docker, octr, &e), 1);
        assert_int_equal(bx_docker_volume_remove(l->docker, ovol, &e), 1);
        assert_int_equal(cli(l, rmi, NULL), 0);

        /* With the CLI too, twice, when nothing is left at all. */
        assert_int_equal(bx_buildx_remove(s, NULL, name, &l->env, &e), 0);
        assert_int_equal(bx_buildx_remove(s, l->docker, name, &l->env, &e), 0);
        bx_strv_release(&names);
        free(gone);
        settings_free(s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_toml_empty),
            cmocka_unit_test(test_toml_full),
            cmocka_unit_test(test_toml_partial_worker),
            cmocka_unit_test(test_toml_hostile_strings),
            cmocka_unit_test(test_toml_errors),
            cmocka_unit_test(test_argv_docker_container_minimal),
            cmocka_unit_test(test_argv_docker_container_full),
            cmocka_unit_test(test_argv_csv_quoting),
            cmocka_unit_test(test_argv_remote),
            cmocka_unit_test(test_argv_docker_context),
            cmocka_unit_test(test_argv_bad_names),
            cmocka_unit_test(test_parse_captured_docker),
            cmocka_unit_test(test_parse_captured_inactive),
            cmocka_unit_test(test_parse_samples),
            cmocka_unit_test_setup_teardown(test_live_docker_driver, live_setup, live_teardown),
            cmocka_unit_test_setup_teardown(test_live_failed_bootstrap_leaves_nothing, live_setup,
                                            live_teardown),
            cmocka_unit_test_setup_teardown(test_live_remove_sweeps_exact_names, live_setup,
                                            live_teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
