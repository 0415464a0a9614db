/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "buildx.h"
#include "cleanup.h"
#include "docker.h"
#include "error.h"
#include "proc.h"
#include "settings.h"
#include "util.h"
#include "banned.h"

#define NAME_MAX_LEN 100
#define CLI_CAPTURE_MAX (1u << 20)
#define CLI_GRACE_MS 5000
/* buildx rm, context rm: local store edits and a container removal. */
#define REMOVE_TIMEOUT_MS 60000
#define TAIL_MAX 1000

/* ---- buildkitd.toml ---------------------------------------------------- */

static bool utf8_valid(const char *str)
{
        const unsigned char *s = (const unsigned char *)str;

        while (*s) {
                unsigned c = *s, n, cp, i;

                if (c < 0x80) {
                        s++;
                        continue;
                } else if (c >= 0xc2 && c <= 0xdf) {
                        n = 1;
                        cp = c & 0x1f;
                } else if (c >= 0xe0 && c <= 0xef) {
                        n = 2;
                        cp = c & 0x0f;
                } else if (c >= 0xf0 && c <= 0xf4) {
                        n = 3;
                        cp = c & 0x07;
                } else {
                        return false;
                }
                for (i = 1; i <= n; i++) {
                        if ((s[i] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (s[i] & 0x3f);
                }
                /* Overlong forms, UTF-16 surrogates, past U+10FFFF. */
                if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
                    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
                        return false;
                s += n + 1;
        }
        return true;
}

/* A TOML basic string: nothing in `s` can end the string or the line. */
static int toml_string(struct bx_buf *b, const char *s, const char *what, struct bx_error **err)
{
        const unsigned char *p;

        if (!utf8_valid(s))
                return bx_error_set(err, BX_FAIL_SYSTEM, 0, "buildkitd.toml: %s is not valid UTF-8",
                                    what);
        bx_buf_addch(b, '"');
        for (p = (const unsigned char *)s; *p; p++) {
                switch (*p) {
                case '"':
                        bx_buf_adds(b, "\\\"");
                        break;
                case '\\':
                        bx_buf_adds(b, "\\\\");
                        break;
                case '\b':
                        bx_buf_adds(b, "\\b");
                        break;
                case '\t':
                        bx_buf_adds(b, "\\t");
                        break;
                case '\n':
                        bx_buf_adds(b, "\\n");
                        break;
                case '\f':
                        bx_buf_adds(b, "\\f");
                        break;
                case '\r':
                        bx_buf_adds(b, "\\r");
                        break;
                default:
                        if (*p < 0x20 || *p == 0x7f)
                                bx_buf_addf(b, "\\u%04X", *p);
                        else
                                bx_buf_addch(b, (char)*p);
                }
        }
        bx_buf_addch(b, '"');
        return 0;
}

static int toml_registry(struct bx_buf *t, const struct bx_registry *r, size_t idx,
                         struct bx_error **err)
{
        struct bx_buf key = BX_BUF_INIT(0);
        char *what = NULL;
        bool keypair = r->client_cert || r->client_key;
        size_t i;
        int ret = -1;

        if (!r->host || !r->host[0])
                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                    "buildkitd.toml: registry #%zu has no host", idx + 1);
        if (!r->mirrors.n && !r->ca && !keypair && !r->http && !r->insecure)
                return 0; /* only credentials: nothing for buildkitd */
        if (keypair && !(r->client_cert && r->client_key))
                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                    "buildkitd.toml: registry #%zu: client_cert and client_key "
                                    "must be set together",
                                    idx + 1);

        what = bx_xasprintf("the host of registry #%zu", idx + 1);
        if (toml_string(&key, r->host, what, err) < 0)
                goto out;
        bx_buf_addf(t, "\n[registry.%s]\n", key.buf);
        if (r->mirrors.n) {
                bx_buf_adds(t, "  mirrors = [");
                for (i = 0; i < r->mirrors.n; i++) {
                        free(what);
                        what = bx_xasprintf("mirror #%zu of registry #%zu", i + 1, idx + 1);
                        if (i)
                                bx_buf_adds(t, ", ");
                        if (toml_string(t, r->mirrors.v[i], what, err) < 0)
                                goto out;
                }
                bx_buf_adds(t, "]\n");
        }
        if (r->ca) {
                free(what);
                what = bx_xasprintf("the ca of registry #%zu", idx + 1);
                bx_buf_adds(t, "  ca = [");
                if (toml_string(t, r->ca, what, err) < 0)
                        goto out;
                bx_buf_adds(t, "]\n");
        }
        if (r->http)
                bx_buf_adds(t, "  http = true\n");
        if (r->insecure)
                bx_buf_adds(t, "  insecure = true\n");
        /* An array of tables: every key after its header belongs to it, so it comes last. */
        if (keypair) {
                bx_buf_addf(t, "\n  [[registry.%s.keypair]]\n", key.buf);
                free(what);
                what = bx_xasprintf("the client_key of registry #%zu", idx + 1);
                bx_buf_adds(t, "    key = ");
                if (toml_string(t, r->client_key, what, err) < 0)
                        goto out;
                free(what);
                what = bx_xasprintf("the client_cert of registry #%zu", idx + 1);
                bx_buf_adds(t, "\n    cert = ");
                if (toml_string(t, r->client_cert, what, err) < 0)
                        goto out;
                bx_buf_addch(t, '\n');
        }
        ret = 0;
out:
        free(what);
        bx_buf_release(&key);
        return ret;
}

int bx_buildkitd_toml(const struct bx_settings *s, struct bx_buf *out, struct bx_error **err)
{
        struct bx_buf t = BX_BUF_INIT(0);
        size_t i;
        int ret = -1;

        if (s->max_parallelism < 0 || s->gc_keep_storage_mb < 0)
                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                    "buildkitd.toml: max_parallelism and gc_keep_storage_mb "
                                    "must not be negative");
        if (s->gc_keep_storage_mb > INT64_MAX / 1000000)
                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                    "buildkitd.toml: gc_keep_storage_mb %lld is too large",
                                    (long long)s->gc_keep_storage_mb);

        bx_buf_adds(&t, "# buildkitd.toml of a buildx-executor builder, generated from its "
                        "settings\n");
        if (s->buildkit_debug)
                bx_buf_adds(&t, "debug = true\n");
        for (i = 0; i < s->n_registries; i++)
                if (toml_registry(&t, &s->registries[i], i, err) < 0)
                        goto out;
        if (s->max_parallelism > 0 || s->gc_keep_storage_mb > 0) {
                bx_buf_adds(&t, "\n[worker.oci]\n");
                if (s->max_parallelism > 0)
                        bx_buf_addf(&t, "  max-parallelism = %lld\n",
                                    (long long)s->max_parallelism);
                /* BuildKit counts bytes, and its "MB" is 10^6 bytes (512 * 1e6 in its defaults). */
                if (s->gc_keep_storage_mb > 0)
                        bx_buf_addf(&t, "  gckeepstorage = %lld\n",
                                    (long long)s->gc_keep_storage_mb * 1000000LL);
        }
        if (bx_buf_add(out, t.buf, t.len) < 0) {
                bx_error_set(err, BX_FAIL_SYSTEM, 0,
                             "buildkitd.toml would be larger than %zu bytes", out->max);
                goto out;
        }
        ret = 0;
out:
        bx_buf_release(&t);
        return ret;
}

/* ---- command lines ----------------------------------------------------- */

static bool valid_builder_name(const char *name)
{
        size_t i;

        if (!name || !(name[0] >= 'a' && name[0] <= 'z') || strlen(name) > NAME_MAX_LEN)
                return false;
        for (i = 1; name[i]; i++) {
                char c = name[i];

                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
                      c == '_'))
                        return false;
        }
        return true;
}

static int check_name(const char *name, struct bx_error **err)
{
        if (!valid_builder_name(name))
                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                    "invalid builder name '%s': it must match "
                                    "^[a-z][a-z0-9.\\-_]*$ (at most %d characters)",
                                    name ? name : "(null)", NAME_MAX_LEN);
        return 0;
}

/*
 * One field for buildx's and docker's "k=v,k2=v2" options, which they read
 * with Go's encoding/csv: quote it when it holds a comma, a quote or a line break.
 */
static char *csv_field(const char *s)
{
        struct bx_buf b = BX_BUF_INIT(0);
        const char *p;

        if (!strpbrk(s, ",\"\r\n"))
                return bx_xstrdup(s);
        bx_buf_addch(&b, '"');
        for (p = s; *p; p++) {
                if (*p == '"')
                        bx_buf_addch(&b, '"');
                bx_buf_addch(&b, *p);
        }
        bx_buf_addch(&b, '"');
        return bx_buf_detach(&b, NULL);
}

static void push_kv_opt(struct bx_strv *argv, const char *flag, const char *key, const char *value)
{
        _cleanup_free_ char *kv = bx_xasprintf("%s=%s", key, value);

        bx_strv_push(argv, flag);
        bx_strv_push_take(argv, csv_field(kv));
}

/*
 * buildx splits --buildkitd-flags with github.com/google/shlex: single quotes
 * keep everything literal, and a backslash outside quotes escapes one character.
 */
static void shell_word(struct bx_buf *b, const char *s)
{
        const char *p;

        if (s[0] && !s[strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                 "0123456789_@%+=:,./-")]) {
                bx_buf_adds(b, s);
                return;
        }
        bx_buf_addch(b, '\'');
        for (p = s; *p; p++) {
                if (*p == '\'')
                        bx_buf_adds(b, "'\\''");
                else
                        bx_buf_addch(b, *p);
        }
        bx_buf_addch(b, '\'');
}

static bool valid_endpoint(const char *e)
{
        static const char *const schemes[] = {
            "tcp://", "unix://", "ssh://", "kube-pod://", "docker-container://", "npipe://"};
        size_t i;

        for (i = 0; e && i < ARRAY_SIZE(schemes); i++)
                if (bx_startswith(e, schemes[i]) && e[strlen(schemes[i])])
                        return true;
        return false;
}

static void argv_start(struct bx_strv *argv, const struct bx_settings *s)
{
        bx_strv_push(argv, s->docker_cli && s->docker_cli[0] ? s->docker_cli : "docker");
}

static int argvs_docker_container(const struct bx_settings *s, const char *name,
                                  const char *toml_path, struct bx_strv *argv,
                                  struct bx_error **err)
{
        struct bx_buf flags = BX_BUF_INIT(0);
        size_t i;

        argv_start(argv, s);
        bx_strv_pushl(argv, "buildx", "create", "--name", name, "--node", NULL);
        bx_strv_pushf(argv, "%s0", name);
        bx_strv_pushl(argv, "--driver", "docker-container", NULL);
        if (s->builder_network && s->builder_network[0])
                push_kv_opt(argv, "--driver-opt", "network", s->builder_network);
        if (s->builder_image && s->builder_image[0])
                push_kv_opt(argv, "--driver-opt", "image", s->builder_image);
        if (toml_path)
                bx_strv_pushl(argv, "--buildkitd-config", toml_path, NULL);
        for (i = 0; i < s->buildkitd_flags.n; i++) {
                if (i)
                        bx_buf_addch(&flags, ' ');
                shell_word(&flags, s->buildkitd_flags.v[i]);
        }
        if (flags.len) {
                bx_strv_push(argv, "--buildkitd-flags");
                bx_strv_push_take(argv, bx_buf_detach(&flags, NULL));
        }
        bx_strv_push(argv, "--bootstrap");
        (void)err;
        return 0;
}

static int argvs_remote_node(const struct bx_settings *s, const char *name, size_t idx,
                             struct bx_strv *argv, struct bx_error **err)
{
        const struct bx_remote_node *n = &s->remotes[idx];
        struct bx_buf plats = BX_BUF_INIT(0);
        size_t i;

        if (!valid_endpoint(n->endpoint))
                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                    "remote builder node #%zu: endpoint '%s' is not tcp://, "
                                    "unix://, ssh://, docker-container://, kube-pod:// or npipe://",
                                    idx + 1, n->endpoint ? n->endpoint : "");
        for (i = 0; i < n->platforms.n; i++) {
                const char *p = n->platforms.v[i];

                if (!p[0] || p[0] == '-' || strchr(p, ',')) {
                        bx_buf_release(&plats);
                        return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                            "remote builder node #%zu: invalid platform '%s'",
                                            idx + 1, p);
                }
                if (i)
                        bx_buf_addch(&plats, ',');
                bx_buf_adds(&plats, p);
        }

        argv_start(argv, s);
        bx_strv_pushl(argv, "buildx", "create", "--name", name, NULL);
        if (idx)
                bx_strv_push(argv, "--append");
        bx_strv_push(argv, "--node");
        bx_strv_pushf(argv, "%s%zu", name, idx);
        bx_strv_pushl(argv, "--driver", "remote", NULL);
        if (n->cacert)
                push_kv_opt(argv, "--driver-opt", "cacert", n->cacert);
        if (n->cert)
                push_kv_opt(argv, "--driver-opt", "cert", n->cert);
        if (n->key)
                push_kv_opt(argv, "--driver-opt", "key", n->key);
        if (n->servername)
                push_kv_opt(argv, "--driver-opt", "servername", n->servername);
        if (plats.len) {
                bx_strv_push(argv, "--platform");
                bx_strv_push_take(argv, bx_buf_detach(&plats, NULL));
        }
        bx_strv_push(argv, n->endpoint);
        return 0;
}

void bx_buildx_argvs_free(struct bx_strv *argvs, size_t n)
{
        size_t i;

        if (!argvs)
                return;
        for (i = 0; i < n; i++)
                bx_strv_release(&argvs[i]);
        free(argvs);
}

int bx_buildx_create_argvs(const struct bx_settings *s, const char *name, const char *toml_path,
                           struct bx_strv **ret_argvs, size_t *ret_n, struct bx_error **err)
{
        struct bx_strv *v = NULL;
        size_t n = 0, i;

        if (check_name(name, err) < 0)
                return -1;
        if (toml_path && toml_path[0] != '/')
                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                    "buildkitd.toml path '%s' is not absolute", toml_path);

        switch (s->driver) {
        case BX_DRIVER_DOCKER_CONTAINER:
                n = 1;
                v = bx_xcalloc(n, sizeof(*v));
                bx_strv_init(&v[0]);
                if (argvs_docker_container(s, name, toml_path, &v[0], err) < 0)
                        goto fail;
                break;
        case BX_DRIVER_REMOTE:
                if (!s->n_remotes)
                        return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                            "driver 'remote' needs at least one "
                                            "[[builder.remote]] node");
                n = s->n_remotes + 1;
                v = bx_xcalloc(n, sizeof(*v));
                for (i = 0; i < n; i++)
                        bx_strv_init(&v[i]);
                for (i = 0; i < s->n_remotes; i++)
                        if (argvs_remote_node(s, name, i, &v[i], err) < 0)
                                goto fail;
                argv_start(&v[i], s);
                bx_strv_pushl(&v[i], "buildx", "inspect", "--bootstrap", name, NULL);
                break;
        case BX_DRIVER_DOCKER:
                if (!s->docker_host || !s->docker_host[0])
                        return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                            "driver 'docker' needs the [docker] host setting");
                n = 1;
                v = bx_xcalloc(n, sizeof(*v));
                bx_strv_init(&v[0]);
                argv_start(&v[0], s);
                bx_strv_pushl(&v[0], "context", "create", name, NULL);
                push_kv_opt(&v[0], "--docker", "host", s->docker_host);
                break;
        default:
                return bx_error_set(err, BX_FAIL_SYSTEM, 0, "unknown builder driver %d",
                                    (int)s->driver);
        }
        *ret_argvs = v;
        *ret_n = n;
        return 0;
fail:
        bx_buildx_argvs_free(v, n);
        return -1;
}

/* ---- running the CLI --------------------------------------------------- */

static uint64_t bootstrap_timeout_ms(const struct bx_settings *s)
{
        return s->bootstrap_timeout > 0 ? (uint64_t)s->bootstrap_timeout * 1000 : 120000;
}

/*
 * Run one docker CLI command with exactly `env`, in its own process group
 * (docker runs buildx as a child process: a timeout must stop both).
 * Returns the exit status with the output in p, or -1.
 */
static int run_cli(const struct bx_strv *argv, const struct bx_strv *env, uint64_t timeout_ms,
                   struct bx_proc *p, struct bx_error **err)
{
        size_t i;

        for (i = 0; i < argv->n; i++)
                bx_strv_push(&p->argv, argv->v[i]);
        for (i = 0; env && i < env->n; i++)
                bx_strv_push(&p->env, env->v[i]);
        p->clean_env = true;
        p->out_mode = BX_PROC_IO_CAPTURE;
        p->err_mode = BX_PROC_IO_CAPTURE;
        p->capture_max = CLI_CAPTURE_MAX;
        p->timeout_ms = timeout_ms;
        p->grace_ms = CLI_GRACE_MS;
        p->new_group = true;
        return bx_proc_run(p, err);
}

static bool dash_line(const char *s, size_t n)
{
        size_t i;

        for (i = 0; i < n; i++)
                if (s[i] != '-')
                        return false;
        return n > 0;
}

/*
 * What buildx said last, for a one-line message: from its last "ERROR:" line
 * on, or else its last three lines that carry text, joined with "; ".
 */
static char *output_tail(const char *text)
{
        struct bx_buf b = BX_BUF_INIT(0);
        const char *lines[64];
        size_t lens[64], n = 0, i, first = 0;
        const char *p = text;

        while (*p) {
                const char *e = strchr(p, '\n');
                size_t len = e ? (size_t)(e - p) : strlen(p);
                const char *l = p;

                p = e ? e + 1 : p + len;
                while (len && (*l == ' ' || *l == '\t')) {
                        l++;
                        len--;
                }
                while (len && (l[len - 1] == ' ' || l[len - 1] == '\r'))
                        len--;
                if (!len || dash_line(l, len))
                        continue;
                if (n == ARRAY_SIZE(lines)) {
                        memmove(lines, lines + 1, sizeof(lines) - sizeof(lines[0]));
                        memmove(lens, lens + 1, sizeof(lens) - sizeof(lens[0]));
                        n--;
                }
                lines[n] = l;
                lens[n++] = len;
        }
        first = n > 3 ? n - 3 : 0;
        for (i = n; i-- > 0;) {
                if (lens[i] >= 6 && strncmp(lines[i], "ERROR:", 6) == 0) {
                        first = i;
                        break;
                }
        }
        for (i = first; i < n && b.len < TAIL_MAX; i++) {
                if (b.len)
                        bx_buf_adds(&b, "; ");
                bx_buf_add(&b, lines[i], lens[i]);
        }
        if (b.len > TAIL_MAX) {
                b.len = TAIL_MAX;
                b.buf[b.len] = '\0';
                bx_buf_adds(&b, "...");
        }
        return bx_buf_detach(&b, NULL);
}

/* "docker buildx create", "docker context rm": the words before the first option. */
static char *command_name(const struct bx_strv *argv)
{
        struct bx_buf b = BX_BUF_INIT(0);
        size_t i;

        for (i = 0; i < argv->n && i < 3; i++) {
                if (i && argv->v[i][0] == '-')
                        break;
                if (i)
                        bx_buf_addch(&b, ' ');
                bx_buf_adds(&b, argv->v[i]);
        }
        return bx_buf_detach(&b, NULL);
}

/* The error for a command that ran and failed (status > 0). */
static int cli_failed(const struct bx_strv *argv, const struct bx_proc *p, int status,
                      uint64_t timeout_ms, struct bx_error **err)
{
        _cleanup_free_ char *cmd = command_name(argv);
        _cleanup_free_ char *tail = output_tail(p->errout.len ? p->errout.buf : p->out.buf);

        if (p->timed_out)
                bx_error_set(err, BX_FAIL_SYSTEM, 0, "'%s' did not finish within %llu s%s%s", cmd,
                             (unsigned long long)(timeout_ms / 1000), tail[0] ? ": " : "", tail);
        else
                bx_error_set(err, BX_FAIL_SYSTEM, 0, "'%s' failed (exit %d)%s%s", cmd, status,
                             tail[0] ? ": " : "", tail);
        if (err && *err)
                (*err)->child_status = status;
        return -1;
}

int bx_buildx_create(const struct bx_settings *s, const char *name, const char *toml_path,
                     const struct bx_strv *env, struct bx_error **err)
{
        struct bx_strv *argvs = NULL;
        struct bx_error *rm_err = NULL;
        uint64_t timeout = bootstrap_timeout_ms(s);
        size_t n = 0, i;
        int r = 0;

        if (bx_buildx_create_argvs(s, name, toml_path, &argvs, &n, err) < 0)
                return bx_error_wrap(err, "cannot create builder '%s'", name);
        for (i = 0; i < n && r == 0; i++) {
                struct bx_proc p = BX_PROC_INIT;
                int status = run_cli(&argvs[i], env, timeout, &p, err);

                if (status > 0)
                        cli_failed(&argvs[i], &p, status, timeout, err);
                r = status == 0 ? 0 : -1;
                bx_proc_release(&p);
        }
        bx_buildx_argvs_free(argvs, n);
        if (r == 0)
                return 0;

        bx_error_wrap(err, "cannot create builder '%s'", name);
        /* Leave nothing behind: a half-made builder would be reused by name later. */
        if (bx_buildx_remove(s, NULL, name, env, &rm_err) < 0 && err && *err) {
                char *msg =
                    bx_xasprintf("%s (removing it again failed too: %s)", (*err)->msg, rm_err->msg);

                free((*err)->msg);
                (*err)->msg = msg;
        }
        bx_error_free(rm_err);
        return -1;
}

/* ---- inspect ----------------------------------------------------------- */

static void node_release(struct bx_builder_node *n)
{
        free(n->name);
        free(n->endpoint);
        free(n->status);
        free(n->buildkit_version);
        free(n->error);
        bx_strv_release(&n->platforms);
}

void bx_builder_info_release(struct bx_builder_info *info)
{
        size_t i;

        if (!info)
                return;
        free(info->name);
        free(info->driver);
        free(info->error);
        for (i = 0; i < info->n_nodes; i++)
                node_release(&info->nodes[i]);
        free(info->nodes);
        memset(info, 0, sizeof(*info));
}

static void set_str(char **dst, const char *v, size_t len)
{
        free(*dst);
        *dst = bx_xstrndup(v, len);
}

/* "linux/amd64*, linux/arm64" -> entries without spaces and '*' marks. */
static void parse_platforms(struct bx_strv *out, const char *v, size_t len)
{
        size_t i = 0;

        while (i < len) {
                size_t start, end;

                while (i < len && (v[i] == ' ' || v[i] == ','))
                        i++;
                start = i;
                while (i < len && v[i] != ',')
                        i++;
                end = i;
                while (end > start && (v[end - 1] == ' ' || v[end - 1] == '*'))
                        end--;
                if (end > start)
                        bx_strv_push_take(out, bx_xstrndup(v + start, end - start));
        }
}

int bx_buildx_parse_inspect(const char *text, struct bx_builder_info *ret, struct bx_error **err)
{
        struct bx_builder_info info = BX_BUILDER_INFO_INIT;
        struct bx_builder_node *node = NULL;
        bool in_nodes = false;
        const char *p = text;

        while (*p) {
                const char *eol = strchr(p, '\n');
                size_t len = eol ? (size_t)(eol - p) : strlen(p), klen, vlen;
                const char *line = p, *colon, *v;

                p = eol ? eol + 1 : p + len;
                if (len && line[len - 1] == '\r')
                        len--;
                /* Blank lines separate nodes; indented lines are labels, GC rules, files. */
                if (!len || line[0] == ' ' || line[0] == '\t')
                        continue;
                colon = memchr(line, ':', len);
                if (!colon)
                        continue;
                klen = (size_t)(colon - line);
                v = colon + 1;
                vlen = len - klen - 1;
                while (vlen && (*v == ' ' || *v == '\t')) {
                        v++;
                        vlen--;
                }
                while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
                        vlen--;
#define KEY(k) (klen == strlen(k) && memcmp(line, k, klen) == 0)
                if (!in_nodes) {
                        if (KEY("Name"))
                                set_str(&info.name, v, vlen);
                        else if (KEY("Driver"))
                                set_str(&info.driver, v, vlen);
                        else if (KEY("Error"))
                                set_str(&info.error, v, vlen);
                        else if (KEY("Nodes"))
                                in_nodes = true;
                        continue;
                }
                if (KEY("Name")) {
                        info.nodes =
                            bx_xrealloc(info.nodes, (info.n_nodes + 1) * sizeof(*info.nodes));
                        node = &info.nodes[info.n_nodes++];
                        memset(node, 0, sizeof(*node));
                        bx_strv_init(&node->platforms);
                        set_str(&node->name, v, vlen);
                } else if (!node) {
                        continue;
                } else if (KEY("Endpoint")) {
                        set_str(&node->endpoint, v, vlen);
                } else if (KEY("Status")) {
                        set_str(&node->status, v, vlen);
                } else if (KEY("BuildKit version") || KEY("Buildkit")) {
                        set_str(&node->buildkit_version, v, vlen);
                } else if (KEY("Error")) {
                        set_str(&node->error, v, vlen);
                } else if (KEY("Platforms")) {
                        bx_strv_release(&node->platforms);
                        parse_platforms(&node->platforms, v, vlen);
                }
#undef KEY
        }
        if (!info.name || !info.name[0]) {
                bx_builder_info_release(&info);
                return bx_error_set(
                    err, BX_FAIL_SYSTEM, 0,
                    "unexpected output of 'docker buildx inspect': no 'Name:' line");
        }
        *ret = info;
        return 0;
}

int bx_buildx_inspect(const struct bx_settings *s, const char *name, const struct bx_strv *env,
                      struct bx_builder_info *ret, struct bx_error **err)
{
        struct bx_strv argv = BX_STRV_INIT;
        struct bx_proc p = BX_PROC_INIT;
        uint64_t timeout = bootstrap_timeout_ms(s);
        int status, r;

        if (check_name(name, err) < 0)
                return -1;
        argv_start(&argv, s);
        bx_strv_pushl(&argv, "buildx", "inspect", "--bootstrap", name, NULL);
        status = run_cli(&argv, env, timeout, &p, err);
        if (status > 0)
                cli_failed(&argv, &p, status, timeout, err);
        r = status == 0 ? bx_buildx_parse_inspect(p.out.buf, ret, err) : -1;
        bx_strv_release(&argv);
        bx_proc_release(&p);
        if (r < 0)
                return bx_error_wrap(err, "cannot inspect builder '%s'", name);
        return 0;
}

/* containerd's platforms.Normalize, for the cases builders print. */
static char *platform_normalize(const char *in)
{
        _cleanup_free_ char *s = bx_xstrdup(in);
        char *os, *arch, *variant, *p;
        size_t n;

        for (p = s; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                        *p = (char)(*p - 'A' + 'a');
        n = strlen(s);
        while (n && (s[n - 1] == '*' || s[n - 1] == ' '))
                s[--n] = '\0';
        os = s;
        arch = strchr(os, '/');
        if (!arch)
                return bx_xstrdup(s);
        *arch++ = '\0';
        variant = strchr(arch, '/');
        if (variant)
                *variant++ = '\0';
        else
                variant = arch + strlen(arch);

        if (strcmp(arch, "aarch64") == 0)
                arch = "arm64";
        else if (strcmp(arch, "x86_64") == 0 || strcmp(arch, "x86-64") == 0)
                arch = "amd64";
        else if (strcmp(arch, "i386") == 0)
                arch = "386";
        else if (strcmp(arch, "armhf") == 0)
                arch = "arm", variant = "v7";
        else if (strcmp(arch, "armel") == 0)
                arch = "arm", variant = "v6";

        if ((strcmp(arch, "arm64") == 0 && strcmp(variant, "v8") == 0) ||
            (strcmp(arch, "amd64") == 0 && strcmp(variant, "v1") == 0))
                variant = "";
        else if (strcmp(arch, "arm") == 0 && !variant[0])
                variant = "v7";
        return variant[0] ? bx_xasprintf("%s/%s/%s", os, arch, variant)
                          : bx_xasprintf("%s/%s", os, arch);
}

bool bx_builder_info_has_platform(const struct bx_builder_info *info, const char *platform)
{
        _cleanup_free_ char *want = platform_normalize(platform);
        size_t i, j;

        for (i = 0; i < info->n_nodes; i++) {
                const struct bx_strv *pl = &info->nodes[i].platforms;

                for (j = 0; j < pl->n; j++) {
                        _cleanup_free_ char *have = platform_normalize(pl->v[j]);

                        if (strcmp(have, want) == 0)
                                return true;
                }
        }
        return false;
}

/* ---- remove ------------------------------------------------------------ */

/*
 * Run a removal command; 0 when it succeeded or failed only because the thing
 * is not there (`tolerated`, a substring of its stderr).
 */
static int run_remove_step(const struct bx_strv *argv, const struct bx_strv *env,
                           const char *const *tolerated, struct bx_error **err)
{
        struct bx_proc p = BX_PROC_INIT;
        int status, r = 0;
        size_t i;

        status = run_cli(argv, env, REMOVE_TIMEOUT_MS, &p, err);
        if (status > 0) {
                bool ok = false;

                for (i = 0; tolerated[i] && !p.timed_out; i++)
                        if (strstr(p.errout.buf, tolerated[i]))
                                ok = true;
                if (!ok)
                        r = cli_failed(argv, &p, status, REMOVE_TIMEOUT_MS, err);
        } else if (status < 0) {
                r = -1;
        }
        bx_proc_release(&p);
        return r;
}

/* Keep the first error in *first; later ones are dropped. */
static void keep_first(struct bx_error **first, struct bx_error **e)
{
        if (!*first)
                *first = *e;
        else
                bx_error_free(*e);
        *e = NULL;
}

int bx_buildx_remove(const struct bx_settings *s, struct bx_docker *docker, const char *name,
                     const struct bx_strv *env, struct bx_error **err)
{
        _cleanup_free_ char *no_builder = NULL, *no_context = NULL;
        _cleanup_free_ char *container = NULL, *volume = NULL;
        struct bx_docker *own = NULL;
        struct bx_error *first = NULL, *e = NULL;
        const char *cfg = env ? bx_strv_getenv(env, "DOCKER_CONFIG") : NULL;
        struct stat st;

        if (check_name(name, err) < 0)
                return -1;
        no_builder = bx_xasprintf("no builder \"%s\" found", name);
        no_context = bx_xasprintf("context \"%s\" does not exist", name);

        /*
         * The builder's store and context live in the job's DOCKER_CONFIG.  When that
         * directory is gone there is nothing for the CLI to remove, and running it
         * would only create the directory again.
         */
        if (!cfg || stat(cfg, &st) == 0) {
                struct bx_strv argv = BX_STRV_INIT;
                /* A docker-driver builder is a context: buildx refuses, `context rm` does it. */
                const char *const rm_ok[] = {no_builder, "context builder cannot be removed", NULL};
                const char *const ctx_ok[] = {no_context, "not found", NULL};

                /* Both steps whatever the driver: the setting may have changed since create. */
                argv_start(&argv, s);
                bx_strv_pushl(&argv, "buildx", "rm", name, NULL);
                if (run_remove_step(&argv, env, rm_ok, &e) < 0)
                        keep_first(&first, &e);
                bx_strv_release(&argv);

                argv_start(&argv, s);
                bx_strv_pushl(&argv, "context", "rm", "-f", name, NULL);
                if (run_remove_step(&argv, env, ctx_ok, &e) < 0)
                        keep_first(&first, &e);
                bx_strv_release(&argv);
        }

        /* A remote-only host may have no dockerd at all: sweep when containers are possible. */
        if (s->driver == BX_DRIVER_DOCKER_CONTAINER || docker) {
                if (!docker && bx_docker_new(s->docker_host, &own, &e) < 0)
                        keep_first(&first, &e);
                if (docker || own) {
                        struct bx_docker *d = docker ? docker : own;

                        container = bx_xasprintf("buildx_buildkit_%s0", name);
                        volume = bx_xasprintf("buildx_buildkit_%s0_state", name);
                        if (bx_docker_container_remove(d, container, &e) < 0)
                                keep_first(&first, &e);
                        else if (bx_docker_volume_remove(d, volume, &e) < 0)
                                keep_first(&first, &e);
                }
                bx_docker_free(own);
        }

        if (first) {
                if (err && !*err)
                        *err = first;
                else
                        bx_error_free(first);
                return bx_error_wrap(err, "cannot remove builder '%s'", name);
        }
        return 0;
}
