/* SPDX-License-Identifier: MIT */
#ifndef BX_CREDS_H
#define BX_CREDS_H

#include <stdbool.h>
#include <stddef.h>

struct bx_error;
struct bx_harbor;
struct bx_settings;
struct bx_strv;

/*
 * Registry credentials and trust for one job.
 *
 * Credentials are written straight into the job's DOCKER_CONFIG/config.json
 * (0600, in a 0700 directory): never through `docker login`, never on an
 * argv, never through a shell (Harbor robot names contain '$').  The file is
 * removed with the job's state at cleanup.
 */

/* One "auths" entry to write.  The secret is wiped and freed by bx_creds_release(). */
struct bx_cred {
        char *host;
        char *username;
        char *secret;
};

struct bx_creds {
        struct bx_cred *items;
        size_t n;
};

#define BX_CREDS_INIT {0}

/* Add (or replace) the entry for host; copies the strings. */
void bx_creds_add(struct bx_creds *c, const char *host, const char *username, const char *secret);

/*
 * Add the static credentials of every [[registry]] with a username that
 * policy gives this job: its GitLab project path (from the trusted payload;
 * NULL matches nothing but "*") matches the registry's `projects`, and the
 * ref is protected where `protected_only` says so.  The password is the
 * first line of its password_file.  A registry withheld by policy adds a
 * line saying why to `notes` (for the job log).
 */
int bx_creds_add_static(struct bx_creds *c, const struct bx_settings *s, const char *project_path,
                        bool ref_protected, struct bx_strv *notes, struct bx_error **err);

/*
 * Read a secret from a file (password, token): its first line, without the
 * newline.  An empty secret is an error.  Free the result with
 * bx_creds_free_secret(), which wipes it.
 */
int bx_creds_read_secret(const char *path, char **ret, struct bx_error **err);
void bx_creds_free_secret(char *secret);

/* Write {"auths": {host: {"auth": base64(user:secret)}}} to <dir>/config.json, mode 0600. */
int bx_creds_write_docker_config(const struct bx_creds *c, const char *dir, struct bx_error **err);

/* Wipe the secrets and free everything. */
void bx_creds_release(struct bx_creds *c);

/*
 * A Harbor client with the robot-creating credential of [harbor] (username,
 * and the secret from password_file, which is wiped after use).
 */
int bx_creds_harbor_open(const struct bx_settings *s, struct bx_harbor **ret,
                         struct bx_error **err);

/*
 * The job's CA bundle: the system's CAs plus every configured registry CA,
 * written to `path` (0644).  The buildx client fetches registry tokens itself
 * with the host's trust store, not buildkitd.toml's, so the job gets this
 * bundle as SSL_CERT_FILE and a private Harbor CA works without touching the
 * host.  The [harbor] CA is part of it.  Returns 1 when no CA is configured (nothing written), 0 when written.
 */
int bx_creds_ca_bundle(const struct bx_settings *s, const char *path, struct bx_error **err);

#endif
