/* SPDX-License-Identifier: MIT */
#ifndef BX_BUILDX_H
#define BX_BUILDX_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct bx_error;
struct bx_settings;
struct bx_docker;

/*
 * The job's buildx builder, through the buildx CLI (argv arrays, never a
 * shell), and the buildkitd.toml it is created with.
 *
 * Names: the caller (stages) decides the builder name and has validated it
 * against ^[a-z][a-z0-9.\-_]*$; functions here refuse anything else.  Nodes
 * are named explicitly "<name>0", "<name>1", ..., so a docker-container
 * builder always runs in the container "buildx_buildkit_<name>0" with the
 * state volume "buildx_buildkit_<name>0_state".
 *
 * Environments: every `env` is the complete environment of the docker CLI
 * ("K=V" entries; at least PATH, HOME and the job's private DOCKER_CONFIG).
 * The driver's own environment is never inherited.
 */

/*
 * Append buildkitd.toml text for the settings to `out` (deterministic: the
 * same settings give the same bytes):
 *   debug = true                              when buildkit_debug
 *   [registry."<host>"]                       per registry with anything to say:
 *     mirrors = [...], ca = [...], http = true, insecure = true,
 *     [[registry."<host>".keypair]] key/cert  when client_cert/client_key are set
 *   [worker.oci] max-parallelism = N,         when > 0
 *                gckeepstorage = <bytes>      gc_keep_storage_mb * 1000000, when > 0
 * Every string is written as a TOML basic string (quotes, backslashes and
 * control characters escaped); a string that is not valid UTF-8 is refused.
 * On error `out` is unchanged.  Fails with -1 too when `out` would pass its max.
 */
int bx_buildkitd_toml(const struct bx_settings *s, struct bx_buf *out, struct bx_error **err);

/*
 * The exact command lines that create builder `name` for the configured
 * driver, in order.  Each starts with settings' docker_cli:
 *   docker-container:
 *     docker buildx create --name N --node N0 --driver docker-container
 *       --driver-opt network=<builder_network> [--driver-opt image=<builder_image>]
 *       [--buildkitd-config <toml_path>] [--buildkitd-flags '<flags, shell-quoted>']
 *       --bootstrap
 *   remote (one command per [[builder.remote]] node, then a bootstrap):
 *     docker buildx create --name N --node N0 --driver remote
 *       [--driver-opt cacert=..] [--driver-opt cert=..] [--driver-opt key=..]
 *       [--driver-opt servername=..] [--platform p1,p2] <endpoint>
 *     docker buildx create --name N --append --node N1 --driver remote ... <endpoint>
 *     docker buildx inspect --bootstrap N
 *   docker (the builder is a docker context of that name):
 *     docker context create N --docker host=<docker_host>
 * No --use: the job selects the builder with BUILDX_BUILDER (and, for the
 * docker driver, DOCKER_CONTEXT).  Values that buildx reads as CSV
 * (--driver-opt, --docker) are CSV-quoted when they hold a comma or a quote.
 * toml_path may be NULL (no --buildkitd-config); remote nodes never get one.
 * *ret_argvs is an array of *ret_n vectors: free it with bx_buildx_argvs_free().
 */
int bx_buildx_create_argvs(const struct bx_settings *s, const char *name, const char *toml_path,
                           struct bx_strv **ret_argvs, size_t *ret_n, struct bx_error **err);
void bx_buildx_argvs_free(struct bx_strv *argvs, size_t n);

/*
 * Create (and bootstrap, for docker-container and remote) builder `name` by
 * running those command lines with `env`, each bounded by bootstrap_timeout
 * seconds.  A failure or timeout is BX_FAIL_SYSTEM, "cannot create builder
 * 'N': '<command>' failed (exit S): <buildx's last stderr lines>", with
 * child_status set; before returning it, everything already made is removed
 * again with bx_buildx_remove() (its own failure is appended to the message).
 */
int bx_buildx_create(const struct bx_settings *s, const char *name, const char *toml_path,
                     const struct bx_strv *env, struct bx_error **err);

/* One node of `docker buildx inspect`. */
struct bx_builder_node {
        char *name;
        char *endpoint;
        char *status;             /* "running", "inactive", ...; NULL when the node has an error */
        char *buildkit_version;   /* "v0.13.1"; NULL when not shown */
        char *error;              /* the node's "Error:" line, or NULL */
        struct bx_strv platforms; /* "linux/amd64", ...: without buildx's '*' marks */
};

struct bx_builder_info {
        char *name;
        char *driver;
        char *error; /* a builder-level "Error:" line, or NULL */
        struct bx_builder_node *nodes;
        size_t n_nodes;
};

/* clang-format off */
#define BX_BUILDER_INFO_INIT {.name = NULL, .driver = NULL, .error = NULL, .nodes = NULL}
/* clang-format on */

/*
 * Parse the text `docker buildx inspect` prints (buildx 0.13: "Key:<spaces>value"
 * lines from a tabwriter; builder keys, then "Nodes:" and one block per node;
 * indented lines such as labels and GC policies are skipped).  Fails when
 * there is no "Name:" line.  *ret is written only on success.
 */
int bx_buildx_parse_inspect(const char *text, struct bx_builder_info *ret, struct bx_error **err);

/*
 * Run `docker buildx inspect --bootstrap <name>` with `env` (bounded by
 * bootstrap_timeout) and parse it.  *ret: release with bx_builder_info_release().
 */
int bx_buildx_inspect(const struct bx_settings *s, const char *name, const struct bx_strv *env,
                      struct bx_builder_info *ret, struct bx_error **err);

/* Free the contents; the struct is BX_BUILDER_INFO_INIT after.  NULL-safe. */
void bx_builder_info_release(struct bx_builder_info *info);

/*
 * Does any node offer `platform`?  Compared in normalised form (containerd's
 * rules): lowercase, "linux/arm64/v8" == "linux/arm64", "linux/amd64/v1" ==
 * "linux/amd64", "linux/arm" == "linux/arm/v7".
 */
bool bx_builder_info_has_platform(const struct bx_builder_info *info, const char *platform);

/*
 * Remove builder `name`, thoroughly and idempotently:
 *   1. `docker buildx rm N` ("no builder "N" found", and buildx's refusal to
 *      remove a docker-driver builder, are success),
 *   2. `docker context rm -f N` (a missing context is success),
 *   3. through the Engine API, the container "buildx_buildkit_N0" and then
 *      the volume "buildx_buildkit_N0_state" if they are still there (a
 *      builder that never finished bootstrapping, or a DOCKER_CONFIG that is
 *      already gone so that buildx knows nothing of it).
 * Steps 1 and 2 run whatever the driver (the setting may have changed since
 * the builder was made), but not at all when `env` names a DOCKER_CONFIG
 * directory that does not exist: there is nothing for them to remove, and
 * buildx would create the directory again.  Step 3 runs for the
 * docker-container driver, or whenever `docker` is given; with `docker` NULL
 * a client for settings' docker_host is made for it.  Exactly those names,
 * never a prefix: builder "bx-1" must not touch builder "bx-10"'s
 * "buildx_buildkit_bx-100".  Every step runs even when an earlier one failed;
 * the first failure is returned, as "cannot remove builder 'N': ...".
 */
int bx_buildx_remove(const struct bx_settings *s, struct bx_docker *docker, const char *name,
                     const struct bx_strv *env, struct bx_error **err);

#endif
