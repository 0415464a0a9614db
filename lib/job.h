/* SPDX-License-Identifier: MIT */
#ifndef BX_JOB_H
#define BX_JOB_H

#include <stdbool.h>
#include <stdint.h>

struct bx_error;
struct bx_settings;
struct bx_strv;

/*
 * The job context, built once per call from the runner's environment and the
 * job payload in JOB_RESPONSE_FILE.
 *
 * Every CUSTOM_ENV_* value is hostile: a job can set any of them.  Names the
 * driver creates (directories, builders, contexts, cgroups) are derived only
 * from the validated numeric job id and a hash of the GitLab server URL, never
 * from free text.  Facts that decide policy (the project path, whether the ref
 * is protected) come from the payload the runner wrote, not from CUSTOM_ENV_*.
 */
struct bx_job {
        int64_t id;             /* CI_JOB_ID, > 0 */
        int64_t project_id;     /* CI_PROJECT_ID, > 0 */
        int64_t concurrent_id;  /* CI_CONCURRENT_ID or -1 */
        char *server_hash;      /* 8 hex digits of SHA-256(CI_SERVER_URL) */
        char *key;              /* "job-<id>-<server hash>": state dir, ops record */
        char *builder_name;     /* "bx-<id>-<server hash>": buildx builder and docker context */

        /* From the payload; may be NULL when the runner wrote no payload. */
        char *project_path;     /* "group/sub/project", validated characters */
        char *commit_sha;       /* 40 (or 64) lowercase hex */
        char *ref;              /* display only, sanitised */
        bool ref_protected;
        char *job_url;          /* display only, sanitised */
        /* GitLab's own registry and the job's credential for it (CI_REGISTRY*), or NULL. */
        char *ci_registry;
        char *ci_registry_user;
        char *ci_registry_password; /* a secret: wiped by bx_job_free() */

        /* Paths derived from settings and key. */
        char *state_dir;        /* <state_dir>/<key>, 0700 */
        char *docker_config;    /* <state>/docker: DOCKER_CONFIG of the job */
        char *home;             /* <state>/home */
        char *tmp;              /* <state>/tmp */
        char *record_path;      /* <state>/record.json: resources, written before creation */
        char *builds_dir;       /* <builds_dir>/<key> */
        char *log_path;         /* <log_dir>/<key>.jsonl */

        /* From the runner, may be NULL. */
        const char *build_exit_code_file;
        const char *response_file;
};

/*
 * Build the context.  Fails (system failure) when the job id or project id is
 * missing or not a positive decimal integer, or when the payload disagrees
 * with the environment.
 */
int bx_job_load(const struct bx_settings *s, struct bx_job **ret, struct bx_error **err);
struct bx_job *bx_job_free(struct bx_job *job);

/*
 * A printable, bounded copy of untrusted text for messages and the job log:
 * bytes outside [A-Za-z0-9._/:@+-] become '_', and at most `max` bytes are
 * kept (then "..." is appended).
 */
char *bx_job_sanitize(const char *s, size_t max);

/*
 * The resource record: a small JSON object in the job's state directory.
 * Every resource is written to it *before* it is created, so cleanup (a
 * different process) finds it even after a crash in the middle of prepare.
 * bx_job_record_get() returns a newly allocated string or NULL.
 */
int bx_job_record_set(const struct bx_job *job, const char *key, const char *value,
                      struct bx_error **err);
char *bx_job_record_get(const struct bx_job *job, const char *key);

/*
 * The environment for tools the driver runs for a job (docker, buildx): PATH
 * from settings, HOME/TMPDIR/DOCKER_CONFIG inside the job's state, DOCKER_HOST.
 * Never the driver's own environment, which holds every job secret.
 */
void bx_job_tool_env(const struct bx_job *job, const struct bx_settings *s, struct bx_strv *env);

#endif
