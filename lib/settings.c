/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fnmatch.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "settings.h"
#include "toml.h"
#include "util.h"
#include "banned.h"

/*
 * The schema: one row per key, the type it must have and where it goes.
 * Unknown keys are errors, so a typo never silently means "default".
 */
enum field_type {
        F_STRING,   /* any string; "" stays "" */
        F_OPTSTR,   /* string; "" means unset (NULL) */
        F_PATH,     /* absolute path */
        F_OPTPATH,  /* absolute path or "" for unset */
        F_INT,
        F_BOOL,
        F_STRV,     /* array of strings */
        F_DRIVER,
        F_EMULATION,
        F_PUSH,
};

struct field {
        const char *key;
        enum field_type type;
        size_t offset;
        int64_t min, max; /* F_INT */
};

#define S(f) offsetof(struct bx_settings, f)
#define R(f) offsetof(struct bx_registry, f)
#define N(f) offsetof(struct bx_remote_node, f)
#define H(f) offsetof(struct bx_harbor_rule, f)
#define END {NULL, 0, 0, 0, 0}

static const struct field paths_fields[] = {
        {"state_dir", F_PATH, S(state_dir), 0, 0},
        {"builds_dir", F_PATH, S(builds_dir), 0, 0},
        {"cache_dir", F_PATH, S(cache_dir), 0, 0},
        {"log_dir", F_PATH, S(log_dir), 0, 0},
        END,
};

static const struct field job_fields[] = {
        {"path", F_STRING, S(job_path), 0, 0},
        {"env", F_STRV, S(job_env), 0, 0},
        {"shell", F_STRING, S(shell), 0, 0},
        {"term_grace_seconds", F_INT, S(term_grace_seconds), 1, 3600},
        {"hostname", F_STRING, S(hostname), 0, 0},
        {"cgroup", F_BOOL, S(use_cgroup), 0, 0},
        END,
};

static const struct field docker_fields[] = {
        {"host", F_STRING, S(docker_host), 0, 0},
        {"cli", F_STRING, S(docker_cli), 0, 0},
        END,
};

static const struct field builder_fields[] = {
        {"driver", F_DRIVER, S(driver), 0, 0},
        {"image", F_OPTSTR, S(builder_image), 0, 0},
        {"platforms", F_STRV, S(platforms), 0, 0},
        {"bootstrap_timeout", F_INT, S(bootstrap_timeout), 5, 3600},
        {"network", F_STRING, S(builder_network), 0, 0},
        {"debug", F_BOOL, S(buildkit_debug), 0, 0},
        {"max_parallelism", F_INT, S(max_parallelism), 0, 1024},
        {"gc_keep_storage_mb", F_INT, S(gc_keep_storage_mb), 0, INT64_MAX / (1 << 20)},
        {"buildkitd_flags", F_STRV, S(buildkitd_flags), 0, 0},
        END,
};

static const struct field remote_fields[] = {
        {"endpoint", F_STRING, N(endpoint), 0, 0},
        {"platforms", F_STRV, N(platforms), 0, 0},
        {"cacert", F_OPTPATH, N(cacert), 0, 0},
        {"cert", F_OPTPATH, N(cert), 0, 0},
        {"key", F_OPTPATH, N(key), 0, 0},
        {"servername", F_OPTSTR, N(servername), 0, 0},
        END,
};

static const struct field emulation_fields[] = {
        {"mode", F_EMULATION, S(emulation), 0, 0},
        {"image", F_STRING, S(binfmt_image), 0, 0},
        {"conf_dir", F_PATH, S(binfmt_conf_dir), 0, 0},
        END,
};

static const struct field registry_fields[] = {
        {"host", F_STRING, R(host), 0, 0},
        {"mirrors", F_STRV, R(mirrors), 0, 0},
        {"ca", F_OPTPATH, R(ca), 0, 0},
        {"client_cert", F_OPTPATH, R(client_cert), 0, 0},
        {"client_key", F_OPTPATH, R(client_key), 0, 0},
        {"http", F_BOOL, R(http), 0, 0},
        {"insecure", F_BOOL, R(insecure), 0, 0},
        {"username", F_OPTSTR, R(username), 0, 0},
        {"password_file", F_OPTPATH, R(password_file), 0, 0},
        {"projects", F_STRV, R(projects), 0, 0},
        {"protected_only", F_BOOL, R(protected_only), 0, 0},
        END,
};

static const struct field harbor_fields[] = {
        {"url", F_OPTSTR, S(harbor_url), 0, 0},
        {"registry", F_OPTSTR, S(harbor_registry), 0, 0},
        {"ca", F_OPTPATH, S(harbor_ca), 0, 0},
        {"username", F_OPTSTR, S(harbor_username), 0, 0},
        {"password_file", F_OPTPATH, S(harbor_password_file), 0, 0},
        {"robot_days", F_INT, S(harbor_robot_days), 1, 365},
        END,
};

static const struct field harbor_rule_fields[] = {
        {"gitlab", F_STRING, H(gitlab), 0, 0},
        {"harbor", F_STRING, H(project), 0, 0},
        {"push", F_PUSH, H(push), 0, 0},
        END,
};

static const struct field log_fields[] = {
        {"retention_days", F_INT, S(log_retention_days), 0, 36500},
        END,
};

static const char *const driver_names[] = {
        [BX_DRIVER_DOCKER_CONTAINER] = "docker-container",
        [BX_DRIVER_DOCKER] = "docker",
        [BX_DRIVER_REMOTE] = "remote",
};

static const char *const push_names[] = {
        [BX_PUSH_PROTECTED] = "protected",
        [BX_PUSH_ALWAYS] = "always",
        [BX_PUSH_NEVER] = "never",
};

static const char *const emulation_names[] = {
        [BX_EMULATION_HOST] = "host",
        [BX_EMULATION_IMAGE] = "image",
        [BX_EMULATION_NONE] = "none",
};

const char *bx_driver_name(enum bx_builder_driver d)
{
        return (size_t)d < ARRAY_SIZE(driver_names) ? driver_names[d] : "?";
}

const char *bx_push_policy_name(enum bx_push_policy p)
{
        return (size_t)p < ARRAY_SIZE(push_names) ? push_names[p] : "?";
}

const char *bx_emulation_name(enum bx_emulation_mode m)
{
        return (size_t)m < ARRAY_SIZE(emulation_names) ? emulation_names[m] : "?";
}

static int lookup_name(const char *const *names, size_t n, const char *s)
{
        size_t i;

        for (i = 0; i < n; i++)
                if (strcmp(names[i], s) == 0)
                        return (int)i;
        return -1;
}

static void set_str(char **slot, const char *v)
{
        free(*slot);
        *slot = v ? bx_xstrdup(v) : NULL;
}

static int apply_field(const struct field *f, const struct bx_toml_table *t,
                       const struct bx_toml_entry *e, void *base, struct bx_error **err)
{
        void *slot = (char *)base + f->offset;
        const char *label = bx_toml_table_label(t);
        enum bx_toml_type type = bx_toml_entry_type(e);
        const char *s;
        size_t i;
        int idx;

        switch (f->type) {
        case F_STRING:
        case F_OPTSTR:
        case F_PATH:
        case F_OPTPATH:
        case F_DRIVER:
        case F_EMULATION:
        case F_PUSH:
                if (type != BX_TOML_STRING)
                        return bx_toml_entry_error(e, err, "key '%s' in %s must be a string, not %s",
                                                   f->key, label, bx_toml_type_name(type));
                s = bx_toml_entry_string(e);
                if (f->type == F_DRIVER || f->type == F_EMULATION || f->type == F_PUSH) {
                        const char *const *names = f->type == F_DRIVER    ? driver_names
                                                   : f->type == F_PUSH    ? push_names
                                                                          : emulation_names;
                        size_t n = f->type == F_DRIVER ? ARRAY_SIZE(driver_names)
                                   : f->type == F_PUSH ? ARRAY_SIZE(push_names)
                                                       : ARRAY_SIZE(emulation_names);
                        const char *expected = f->type == F_DRIVER
                                                       ? "docker-container, docker or remote"
                                               : f->type == F_PUSH ? "protected, always or never"
                                                                   : "host, image or none";

                        idx = lookup_name(names, n, s);
                        if (idx < 0)
                                return bx_toml_entry_error(
                                        e, err, "key '%s' in %s: unknown value '%s' (expected %s)",
                                        f->key, label, s, expected);
                        *(int *)slot = idx;
                        return 0;
                }
                if ((f->type == F_OPTSTR || f->type == F_OPTPATH) && !*s) {
                        set_str(slot, NULL);
                        return 0;
                }
                if ((f->type == F_PATH || f->type == F_OPTPATH) && s[0] != '/')
                        return bx_toml_entry_error(e, err,
                                                   "key '%s' in %s must be an absolute path, not '%s'",
                                                   f->key, label, s);
                set_str(slot, s);
                return 0;
        case F_INT:
                if (type != BX_TOML_INT)
                        return bx_toml_entry_error(e, err, "key '%s' in %s must be an integer, not %s",
                                                   f->key, label, bx_toml_type_name(type));
                if (bx_toml_entry_int(e) < f->min || bx_toml_entry_int(e) > f->max)
                        return bx_toml_entry_error(e, err,
                                                   "key '%s' in %s must be between %lld and %lld",
                                                   f->key, label, (long long)f->min,
                                                   (long long)f->max);
                *(int64_t *)slot = bx_toml_entry_int(e);
                return 0;
        case F_BOOL:
                if (type != BX_TOML_BOOL)
                        return bx_toml_entry_error(e, err, "key '%s' in %s must be a boolean, not %s",
                                                   f->key, label, bx_toml_type_name(type));
                *(bool *)slot = bx_toml_entry_bool(e);
                return 0;
        case F_STRV:
                if (type != BX_TOML_ARRAY)
                        return bx_toml_entry_error(e, err,
                                                   "key '%s' in %s must be an array of strings, not %s",
                                                   f->key, label, bx_toml_type_name(type));
                bx_strv_release(slot);
                for (i = 0; i < bx_toml_entry_size(e); i++) {
                        const struct bx_toml_entry *item = bx_toml_entry_at(e, i);

                        if (bx_toml_entry_type(item) != BX_TOML_STRING)
                                return bx_toml_entry_error(
                                        item, err, "key '%s' in %s must be an array of strings",
                                        f->key, label);
                        bx_strv_push(slot, bx_toml_entry_string(item));
                }
                return 0;
        }
        return bx_toml_entry_error(e, err, "internal error: bad schema for '%s'", f->key);
}

static int apply_table(const struct field *fields, const struct bx_toml_table *t, void *base,
                       struct bx_error **err)
{
        size_t i;

        for (i = 0; i < bx_toml_table_size(t); i++) {
                const struct bx_toml_entry *e = bx_toml_table_at(t, i);
                const char *key = bx_toml_entry_key(e);
                const struct field *f;

                for (f = fields; f->key; f++)
                        if (strcmp(f->key, key) == 0)
                                break;
                if (!f->key)
                        return bx_toml_entry_error(e, err, "unknown key '%s' in %s", key,
                                                   bx_toml_table_label(t));
                if (apply_field(f, t, e, base, err) < 0)
                        return -1;
        }
        return 0;
}

static bool valid_platform(const char *p)
{
        size_t i, slashes = 0;

        if (!*p)
                return false;
        for (i = 0; p[i]; i++) {
                if (p[i] == '/')
                        slashes++;
                else if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') ||
                           p[i] == '_'))
                        return false;
        }
        return (slashes == 1 || slashes == 2) && p[0] != '/' && p[i - 1] != '/' &&
               !strstr(p, "//");
}

/* Registry hosts end up in buildkitd.toml and config.json keys: keep them plain. */
static bool valid_host(const char *h)
{
        size_t i;

        if (!*h || strlen(h) > 253)
                return false;
        for (i = 0; h[i]; i++)
                if (!((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= 'A' && h[i] <= 'Z') ||
                      (h[i] >= '0' && h[i] <= '9') || strchr(".-:[]_", h[i])))
                        return false;
        return true;
}

static int check_platforms(const struct bx_toml_entry *e, const struct bx_strv *v,
                           struct bx_error **err)
{
        size_t i;

        for (i = 0; i < v->n; i++)
                if (!valid_platform(v->v[i]))
                        return bx_toml_entry_error(e, err,
                                                   "'%s' is not a platform like 'linux/arm64'",
                                                   v->v[i]);
        return 0;
}

static int load_registries(struct bx_settings *s, const struct bx_toml_table *root,
                           struct bx_error **err)
{
        const struct bx_toml_entry *arr;
        size_t i, j;
        int r;

        r = bx_toml_get_table_array(root, "registry", &arr, err);
        if (r != 0)
                return r < 0 ? -1 : 0;
        s->n_registries = bx_toml_entry_size(arr);
        s->registries = bx_xcalloc(s->n_registries, sizeof(*s->registries));
        for (i = 0; i < s->n_registries; i++) {
                const struct bx_toml_entry *item = bx_toml_entry_at(arr, i);
                const struct bx_toml_table *t = bx_toml_entry_table(item);
                struct bx_registry *reg = &s->registries[i];

                reg->mirrors = (struct bx_strv)BX_STRV_INIT;
                reg->projects = (struct bx_strv)BX_STRV_INIT;
                if (apply_table(registry_fields, t, reg, err) < 0)
                        return -1;
                if (!bx_toml_table_get(t, "projects"))
                        bx_strv_push(&reg->projects, "*");
                if (!reg->host || !valid_host(reg->host))
                        return bx_toml_table_error(t, err,
                                                   "[[registry]] needs a 'host' like "
                                                   "\"harbor.example:8443\"");
                if (!reg->client_cert != !reg->client_key)
                        return bx_toml_table_error(t, err,
                                                   "registry '%s': set both client_cert and "
                                                   "client_key, or neither",
                                                   reg->host);
                if (reg->password_file && !reg->username)
                        return bx_toml_table_error(t, err,
                                                   "registry '%s': password_file needs a username",
                                                   reg->host);
                for (j = 0; j < i; j++)
                        if (strcmp(s->registries[j].host, reg->host) == 0)
                                return bx_toml_table_error(t, err,
                                                           "registry '%s' is configured twice",
                                                           reg->host);
        }
        return 0;
}

static int load_remotes(struct bx_settings *s, const struct bx_toml_table *builder,
                        struct bx_error **err)
{
        const struct bx_toml_entry *arr;
        size_t i;
        int r;

        r = bx_toml_get_table_array(builder, "remote", &arr, err);
        if (r != 0)
                return r < 0 ? -1 : 0;
        s->n_remotes = bx_toml_entry_size(arr);
        s->remotes = bx_xcalloc(s->n_remotes, sizeof(*s->remotes));
        for (i = 0; i < s->n_remotes; i++) {
                const struct bx_toml_entry *item = bx_toml_entry_at(arr, i);
                const struct bx_toml_table *t = bx_toml_entry_table(item);
                struct bx_remote_node *n = &s->remotes[i];

                n->platforms = (struct bx_strv)BX_STRV_INIT;
                if (apply_table(remote_fields, t, n, err) < 0)
                        return -1;
                if (!n->endpoint || (!bx_startswith(n->endpoint, "tcp://") &&
                                     !bx_startswith(n->endpoint, "unix://")))
                        return bx_toml_table_error(t, err,
                                                   "[[builder.remote]] needs an 'endpoint' like "
                                                   "\"tcp://buildkitd:1234\" or \"unix:///run/buildkit/buildkitd.sock\"");
                if ((n->cert || n->key || n->servername) && !n->cacert)
                        return bx_toml_table_error(t, err,
                                                   "remote '%s': TLS needs 'cacert'", n->endpoint);
                if (!n->cert != !n->key)
                        return bx_toml_table_error(t, err,
                                                   "remote '%s': set both cert and key, or neither",
                                                   n->endpoint);
                if (check_platforms(item, &n->platforms, err) < 0)
                        return -1;
        }
        return 0;
}

static int load_harbor(struct bx_settings *s, const struct bx_toml_table *root,
                       struct bx_error **err)
{
        const struct bx_toml_table *t;
        const struct bx_toml_entry *arr;
        size_t i;
        int r;

        r = bx_toml_get_table(root, "harbor", &t, err);
        if (r != 0)
                return r < 0 ? -1 : 0;
        for (i = 0; i < bx_toml_table_size(t); i++) {
                const struct bx_toml_entry *e = bx_toml_table_at(t, i);
                const struct field *f;

                if (strcmp(bx_toml_entry_key(e), "project") == 0)
                        continue;
                for (f = harbor_fields; f->key; f++)
                        if (strcmp(f->key, bx_toml_entry_key(e)) == 0)
                                break;
                if (!f->key)
                        return bx_toml_entry_error(e, err, "unknown key '%s' in %s",
                                                   bx_toml_entry_key(e), bx_toml_table_label(t));
                if (apply_field(f, t, e, s, err) < 0)
                        return -1;
        }
        r = bx_toml_get_table_array(t, "project", &arr, err);
        if (r < 0)
                return -1;
        if (r == 0) {
                s->n_harbor_rules = bx_toml_entry_size(arr);
                s->harbor_rules = bx_xcalloc(s->n_harbor_rules, sizeof(*s->harbor_rules));
                for (i = 0; i < s->n_harbor_rules; i++) {
                        const struct bx_toml_table *rt = bx_toml_entry_table(bx_toml_entry_at(arr, i));
                        struct bx_harbor_rule *rule = &s->harbor_rules[i];

                        if (apply_table(harbor_rule_fields, rt, rule, err) < 0)
                                return -1;
                        if (!rule->gitlab || !rule->project || !*rule->project)
                                return bx_toml_table_error(rt, err,
                                                           "[[harbor.project]] needs 'gitlab' "
                                                           "(a project path glob) and 'harbor' (a "
                                                           "Harbor project)");
                }
        }
        if (!s->harbor_url)
                return s->n_harbor_rules ? bx_toml_table_error(t, err,
                                                               "[harbor] has projects but no 'url'")
                                         : 0;
        if (!bx_startswith(s->harbor_url, "https://") && !bx_startswith(s->harbor_url, "http://"))
                return bx_toml_table_error(t, err, "[harbor] url '%s' must start with https://",
                                           s->harbor_url);
        if (!s->harbor_username || !s->harbor_password_file)
                return bx_toml_table_error(t, err,
                                           "[harbor] needs 'username' and 'password_file' (a "
                                           "credential that may create robot accounts)");
        if (!s->harbor_registry) {
                const char *host = strstr(s->harbor_url, "://") + 3;

                s->harbor_registry = bx_xstrndup(host, strcspn(host, "/"));
        }
        if (!valid_host(s->harbor_registry))
                return bx_toml_table_error(t, err, "[harbor] registry '%s' is not a host[:port]",
                                           s->harbor_registry);
        return 0;
}

/*
 * Builders need the Harbor registry's CA as well: a [harbor] ca with no
 * [[registry]] of its own for that host gets one, so the admin says it once.
 */
static void harbor_registry_entry(struct bx_settings *s)
{
        struct bx_registry *reg;

        if (!s->harbor_url || bx_settings_registry(s, s->harbor_registry))
                return;
        s->registries = bx_xrealloc(s->registries, (s->n_registries + 1) * sizeof(*reg));
        reg = &s->registries[s->n_registries++];
        memset(reg, 0, sizeof(*reg));
        reg->host = bx_xstrdup(s->harbor_registry);
        reg->mirrors = (struct bx_strv)BX_STRV_INIT;
        reg->projects = (struct bx_strv)BX_STRV_INIT;
        reg->ca = s->harbor_ca ? bx_xstrdup(s->harbor_ca) : NULL;
}

struct section {
        const char *name;
        const struct field *fields;
};

static const struct section sections[] = {
        {"paths", paths_fields},         {"job", job_fields},
        {"docker", docker_fields},       {"builder", builder_fields},
        {"emulation", emulation_fields}, {"log", log_fields},
};

static int load_doc(struct bx_settings *s, const struct bx_toml *doc, struct bx_error **err)
{
        const struct bx_toml_table *root = bx_toml_root(doc), *builder = NULL;
        size_t i, j;

        for (i = 0; i < bx_toml_table_size(root); i++) {
                const struct bx_toml_entry *e = bx_toml_table_at(root, i);
                const char *key = bx_toml_entry_key(e);
                bool known = strcmp(key, "registry") == 0 || strcmp(key, "harbor") == 0;

                for (j = 0; j < ARRAY_SIZE(sections); j++) {
                        const struct bx_toml_table *t;

                        if (strcmp(sections[j].name, key) != 0)
                                continue;
                        known = true;
                        if (bx_toml_get_table(root, key, &t, err) < 0)
                                return -1;
                        /* [builder] also holds [[builder.remote]], handled below. */
                        if (strcmp(key, "builder") == 0)
                                builder = t;
                        else if (apply_table(sections[j].fields, t, s, err) < 0)
                                return -1;
                }
                if (!known)
                        return bx_toml_entry_error(e, err,
                                                   "unknown section '%s' (expected paths, job, "
                                                   "docker, builder, emulation, registry, "
                                                   "harbor or log)",
                                                   key);
        }
        if (builder) {
                for (i = 0; i < bx_toml_table_size(builder); i++) {
                        const struct bx_toml_entry *e = bx_toml_table_at(builder, i);
                        const struct field *f;

                        if (strcmp(bx_toml_entry_key(e), "remote") == 0)
                                continue;
                        for (f = builder_fields; f->key; f++)
                                if (strcmp(f->key, bx_toml_entry_key(e)) == 0)
                                        break;
                        if (!f->key)
                                return bx_toml_entry_error(e, err, "unknown key '%s' in %s",
                                                           bx_toml_entry_key(e),
                                                           bx_toml_table_label(builder));
                        if (apply_field(f, builder, e, s, err) < 0)
                                return -1;
                        if (strcmp(f->key, "platforms") == 0 &&
                            (check_platforms(e, &s->platforms, err) < 0))
                                return -1;
                        if (strcmp(f->key, "platforms") == 0 && s->platforms.n == 0)
                                return bx_toml_entry_error(e, err,
                                                           "[builder] platforms must not be empty");
                }
                if (load_remotes(s, builder, err) < 0)
                        return -1;
        }
        if (load_registries(s, root, err) < 0 || load_harbor(s, root, err) < 0)
                return -1;
        harbor_registry_entry(s);
        if (s->driver == BX_DRIVER_REMOTE && s->n_remotes == 0)
                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                    "%s: [builder] driver = \"remote\" needs at least one "
                                    "[[builder.remote]] endpoint",
                                    bx_toml_name(doc));
        return 0;
}

static struct bx_settings *defaults(void)
{
        struct bx_settings *s = bx_xcalloc(1, sizeof(*s));

        s->state_dir = bx_xstrdup("/var/lib/buildx-executor/jobs");
        s->builds_dir = bx_xstrdup("/var/lib/buildx-executor/builds");
        s->cache_dir = bx_xstrdup("/var/lib/buildx-executor/cache");
        s->log_dir = bx_xstrdup("/var/log/buildx-executor");
        s->job_path = bx_xstrdup("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        s->job_env = (struct bx_strv)BX_STRV_INIT;
        s->shell = bx_xstrdup("bash");
        s->term_grace_seconds = 10;
        s->hostname = bx_xstrdup("");
        s->use_cgroup = true;
        s->docker_host = bx_xstrdup("unix:///var/run/docker.sock");
        s->docker_cli = bx_xstrdup("docker");
        s->driver = BX_DRIVER_DOCKER_CONTAINER;
        s->platforms = (struct bx_strv)BX_STRV_INIT;
        bx_strv_pushl(&s->platforms, "linux/amd64", "linux/arm64", NULL);
        s->bootstrap_timeout = 120;
        s->builder_network = bx_xstrdup("host");
        s->buildkitd_flags = (struct bx_strv)BX_STRV_INIT;
        s->emulation = BX_EMULATION_HOST;
        s->binfmt_image = bx_xstrdup("tonistiigi/binfmt:latest");
        s->binfmt_conf_dir = bx_xstrdup("/usr/lib/binfmt.d");
        s->harbor_robot_days = 1;
        s->log_retention_days = 30;
        return s;
}

int bx_settings_load(const char *path, struct bx_settings **ret, struct bx_error **err)
{
        struct bx_settings *s = defaults();
        _cleanup_toml_ struct bx_toml *doc = NULL;
        size_t i;

        if (path) {
                s->path = bx_xstrdup(path);
                if (bx_toml_parse_file(path, &doc, err) < 0 || load_doc(s, doc, err) < 0)
                        goto fail;
        }
        for (i = 0; i < s->job_env.n; i++) {
                const char *eq = strchr(s->job_env.v[i], '=');

                if (!eq || eq == s->job_env.v[i]) {
                        bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                     "%s: [job] env entry '%s' is not KEY=VALUE",
                                     path ? path : "settings", s->job_env.v[i]);
                        goto fail;
                }
        }
        if (!bx_startswith(s->docker_host, "unix://")) {
                bx_error_set(err, BX_FAIL_SYSTEM, 0,
                             "%s: [docker] host '%s' must be a unix:// socket",
                             path ? path : "settings", s->docker_host);
                goto fail;
        }
        *ret = s;
        return 0;
fail:
        bx_error_hint(err, "fix the settings file and retry the job");
        bx_settings_free(s);
        return -1;
}

static int check_file(const char *what, const char *path, bool secret, struct bx_error **err)
{
        struct stat st;

        if (!path)
                return 0;
        if (access(path, R_OK) < 0 || stat(path, &st) < 0)
                return bx_error_errno(err, errno, "%s '%s' cannot be read", what, path);
        if (!S_ISREG(st.st_mode))
                return bx_error_set(err, BX_FAIL_SYSTEM, 0, "%s '%s' is not a regular file",
                                    what, path);
        if (secret && (st.st_mode & 0077)) {
                bx_error_set(err, BX_FAIL_SYSTEM, 0,
                             "%s '%s' is readable by group or others (mode %04o)", what, path,
                             (unsigned)(st.st_mode & 07777));
                return bx_error_hint(err, "chmod 600 '%s'", path);
        }
        if (secret && st.st_uid != geteuid())
                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                    "%s '%s' is not owned by the driver's user", what, path);
        return 0;
}

int bx_settings_check_files(const struct bx_settings *s, struct bx_error **err)
{
        size_t i;

        for (i = 0; i < s->n_registries; i++) {
                const struct bx_registry *r = &s->registries[i];

                if (check_file("registry CA", r->ca, false, err) < 0 ||
                    check_file("registry client certificate", r->client_cert, false, err) < 0 ||
                    check_file("registry client key", r->client_key, true, err) < 0 ||
                    check_file("registry password file", r->password_file, true, err) < 0)
                        return bx_error_wrap(err, "settings [[registry]] '%s'", r->host);
        }
        if (check_file("Harbor CA", s->harbor_ca, false, err) < 0 ||
            check_file("Harbor credential", s->harbor_password_file, true, err) < 0)
                return bx_error_wrap(err, "settings [harbor]");
        for (i = 0; i < s->n_remotes; i++) {
                const struct bx_remote_node *n = &s->remotes[i];

                if (check_file("remote CA", n->cacert, false, err) < 0 ||
                    check_file("remote client certificate", n->cert, false, err) < 0 ||
                    check_file("remote client key", n->key, true, err) < 0)
                        return bx_error_wrap(err, "settings [[builder.remote]] '%s'", n->endpoint);
        }
        return 0;
}

bool bx_settings_project_matches(const struct bx_strv *globs, const char *project_path)
{
        size_t i;

        if (!project_path)
                return false;
        /*
         * A lone star matches every project; "group/" followed by two stars
         * matches the group's projects at any depth; anything else is
         * fnmatch() with '/' matched only by '/', so "group/" and one star
         * does not reach into subgroups.
         */
        for (i = 0; i < globs->n; i++) {
                const char *g = globs->v[i];
                size_t n = strlen(g);

                if (strcmp(g, "*") == 0 || strcmp(g, "**") == 0)
                        return true;
                if (n > 3 && strcmp(g + n - 3, "/**") == 0 &&
                    strncmp(project_path, g, n - 2) == 0)
                        return true;
                if (fnmatch(g, project_path, FNM_PATHNAME) == 0)
                        return true;
        }
        return false;
}

const struct bx_harbor_rule *bx_settings_harbor_rule(const struct bx_settings *s,
                                                     const char *project_path)
{
        size_t i;

        if (!project_path)
                return NULL;
        for (i = 0; i < s->n_harbor_rules; i++) {
                struct bx_strv one = BX_STRV_INIT;
                bool match;

                bx_strv_push(&one, s->harbor_rules[i].gitlab);
                match = bx_settings_project_matches(&one, project_path);
                bx_strv_release(&one);
                if (match)
                        return &s->harbor_rules[i];
        }
        return NULL;
}

const struct bx_registry *bx_settings_registry(const struct bx_settings *s, const char *host)
{
        size_t i;

        for (i = 0; i < s->n_registries; i++)
                if (strcmp(s->registries[i].host, host) == 0)
                        return &s->registries[i];
        return NULL;
}

struct bx_settings *bx_settings_free(struct bx_settings *s)
{
        size_t i;

        if (!s)
                return NULL;
        free(s->path);
        free(s->state_dir);
        free(s->builds_dir);
        free(s->cache_dir);
        free(s->log_dir);
        free(s->job_path);
        bx_strv_release(&s->job_env);
        free(s->shell);
        free(s->hostname);
        free(s->docker_host);
        free(s->docker_cli);
        free(s->builder_image);
        bx_strv_release(&s->platforms);
        free(s->builder_network);
        bx_strv_release(&s->buildkitd_flags);
        for (i = 0; i < s->n_remotes; i++) {
                free(s->remotes[i].endpoint);
                bx_strv_release(&s->remotes[i].platforms);
                free(s->remotes[i].cacert);
                free(s->remotes[i].cert);
                free(s->remotes[i].key);
                free(s->remotes[i].servername);
        }
        free(s->remotes);
        free(s->binfmt_image);
        free(s->binfmt_conf_dir);
        for (i = 0; i < s->n_registries; i++) {
                struct bx_registry *r = &s->registries[i];

                free(r->host);
                bx_strv_release(&r->mirrors);
                free(r->ca);
                free(r->client_cert);
                free(r->client_key);
                free(r->username);
                free(r->password_file);
                bx_strv_release(&r->projects);
        }
        free(s->registries);
        free(s->harbor_url);
        free(s->harbor_registry);
        free(s->harbor_ca);
        free(s->harbor_username);
        free(s->harbor_password_file);
        for (i = 0; i < s->n_harbor_rules; i++) {
                free(s->harbor_rules[i].gitlab);
                free(s->harbor_rules[i].project);
        }
        free(s->harbor_rules);
        free(s);
        return NULL;
}

int bx_settings_parse_args(int argc, char **argv, const char **ret_path, int *ret_next,
                           struct bx_error **err)
{
        const char *path = NULL;
        int i;

        for (i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--config") == 0) {
                        if (i + 1 >= argc) {
                                bx_error_set(err, BX_FAIL_SYSTEM, 0, "--config needs a path");
                                return bx_error_hint(err, "set the *_args of [runners.custom] to "
                                                          "[\"--config\", \"PATH\"]");
                        }
                        path = argv[++i];
                } else if (bx_startswith(argv[i], "--config=")) {
                        path = argv[i] + strlen("--config=");
                } else if (strcmp(argv[i], "--") == 0) {
                        i++;
                        break;
                } else if (argv[i][0] == '-' && argv[i][1]) {
                        return bx_error_set(err, BX_FAIL_SYSTEM, 0, "unknown option '%s'", argv[i]);
                } else {
                        break;
                }
        }
        *ret_path = path;
        *ret_next = i;
        return 0;
}
