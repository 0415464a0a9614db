/* SPDX-License-Identifier: MIT */
#ifndef BX_SETTINGS_H
#define BX_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct bx_error;

/*
 * The driver's validated settings, read from the TOML file given with
 * `--config PATH` (see config.toml.example for every key and its default).
 * Every key has a safe default, so the driver also runs with no file.
 * Strings are owned by the struct and never NULL unless documented.
 */

enum bx_builder_driver {
        BX_DRIVER_DOCKER_CONTAINER = 0,
        BX_DRIVER_DOCKER,
        BX_DRIVER_REMOTE,
};

enum bx_emulation_mode {
        BX_EMULATION_HOST = 0, /* register from the installed qemu-user-static */
        BX_EMULATION_IMAGE,    /* run the binfmt image with --install */
        BX_EMULATION_NONE,     /* trust what is registered */
};

/* One [[builder.remote]] node: an existing buildkitd. */
struct bx_remote_node {
        char *endpoint;        /* tcp://host:port or unix:///path */
        struct bx_strv platforms;
        char *cacert;          /* absolute paths or NULL: TLS when any is set */
        char *cert;
        char *key;
        char *servername;      /* NULL: the endpoint's host name */
};

/* One [[registry]]: how builders reach a registry, and static credentials. */
struct bx_registry {
        char *host;            /* "harbor.example:8443", exactly as in image refs */
        struct bx_strv mirrors;
        char *ca;              /* PEM file or NULL */
        char *client_cert;     /* mTLS key pair or NULL (both or neither) */
        char *client_key;
        bool http;             /* plain HTTP */
        bool insecure;         /* TLS without verification */
        char *username;        /* static credentials or NULL */
        char *password_file;   /* 0600 file holding the password or token */
        struct bx_strv projects;       /* GitLab project path globs that get them */
        bool protected_only;   /* only jobs on protected refs get them */
};

enum bx_push_policy {
        BX_PUSH_PROTECTED = 0, /* push only from protected refs (default) */
        BX_PUSH_ALWAYS,
        BX_PUSH_NEVER,
};

/* One [[harbor.project]]: which GitLab projects get a robot in which Harbor project. */
struct bx_harbor_rule {
        char *gitlab;          /* glob on the GitLab project path, e.g. "group/sub-*" */
        char *project;         /* the Harbor project */
        enum bx_push_policy push;
};

struct bx_settings {
        char *path;            /* the file read, or NULL for built-in defaults */

        /* [paths] */
        char *state_dir;       /* per-job private state, one 0700 directory per job */
        char *builds_dir;      /* per-job working trees */
        char *cache_dir;
        char *log_dir;         /* per-job ops records, <job key>.jsonl */

        /* [job] */
        char *job_path;        /* PATH of the job's scripts */
        struct bx_strv job_env;        /* extra "KEY=VALUE" for the job */
        char *shell;           /* bash, looked up in job_path */
        int64_t term_grace_seconds;    /* SIGTERM to the script, then SIGKILL after this */
        char *hostname;        /* reported by config; "" = gethostname() */
        bool use_cgroup;       /* per-job cgroup when the host offers one */

        /* [docker] */
        char *docker_host;     /* unix:///var/run/docker.sock */
        char *docker_cli;      /* docker, looked up in job_path */

        /* [builder] */
        enum bx_builder_driver driver;
        char *builder_image;   /* NULL: buildx's default */
        struct bx_strv platforms;      /* what every job can build */
        int64_t bootstrap_timeout;     /* seconds */
        char *builder_network; /* docker-container network driver-opt, "host" by default */
        bool buildkit_debug;
        int64_t max_parallelism;       /* 0: BuildKit's default */
        int64_t gc_keep_storage_mb;    /* 0: BuildKit's default */
        struct bx_strv buildkitd_flags;
        struct bx_remote_node *remotes;
        size_t n_remotes;

        /* [emulation] */
        enum bx_emulation_mode emulation;
        char *binfmt_image;    /* for mode = "image" */
        char *binfmt_conf_dir; /* for mode = "host": /usr/lib/binfmt.d */

        /* [[registry]] */
        struct bx_registry *registries;
        size_t n_registries;

        /* [harbor]: per-job robot accounts; url NULL = off */
        char *harbor_url;
        char *harbor_registry; /* host[:port] jobs push to; default: the url's */
        char *harbor_ca;
        char *harbor_username;
        char *harbor_password_file;
        int64_t harbor_robot_days;
        struct bx_harbor_rule *harbor_rules;
        size_t n_harbor_rules;

        /* [log] */
        int64_t log_retention_days;
};

/*
 * Load settings from `path` (NULL: defaults only).  Unknown keys, wrong types,
 * bad values and syntax errors fail with "path:line: what is wrong".  Files the
 * settings name are not checked here (see bx_settings_check_files()).
 */
int bx_settings_load(const char *path, struct bx_settings **ret, struct bx_error **err);

/*
 * Check that every file the settings name exists and is readable, and that
 * secret files are regular, owned by us and not readable by group or others.
 */
int bx_settings_check_files(const struct bx_settings *s, struct bx_error **err);

struct bx_settings *bx_settings_free(struct bx_settings *s);

const char *bx_driver_name(enum bx_builder_driver d);
const char *bx_emulation_name(enum bx_emulation_mode m);

const char *bx_push_policy_name(enum bx_push_policy p);

/* The first [[harbor.project]] rule whose glob matches the GitLab project path, or NULL. */
const struct bx_harbor_rule *bx_settings_harbor_rule(const struct bx_settings *s,
                                                     const char *project_path);

/* Does the GitLab project path match one of the globs (fnmatch, '/' matched only by '/')? */
bool bx_settings_project_matches(const struct bx_strv *globs, const char *project_path);

/* The registry entry for `host`, or NULL. */
const struct bx_registry *bx_settings_registry(const struct bx_settings *s, const char *host);

/*
 * Parse the common "--config PATH" arguments of all four executables.  On
 * success *ret_path is the path (borrowed from argv) or NULL, and *ret_next
 * the index of the first argument after the options.
 */
int bx_settings_parse_args(int argc, char **argv, const char **ret_path, int *ret_next,
                           struct bx_error **err);

#endif
