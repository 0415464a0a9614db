/* SPDX-License-Identifier: MIT */
#ifndef BX_DOCKER_H
#define BX_DOCKER_H

#include <stdbool.h>

#include "buf.h"

struct bx_error;

/*
 * The Docker Engine API over dockerd's unix socket, with libcurl.  Only what
 * the driver needs: is the daemon there, what is it, and removal of the
 * containers and volumes a buildx builder leaves behind.
 *
 * Every call is bounded: 5 s to connect, 60 s in total, and a response body of
 * at most 8 MiB.  The API version is negotiated once, on the first call (GET
 * /_ping, then the lower of the daemon's version and the newest one this
 * module was written against), and every later path carries it ("/v1.43/...").
 *
 * Errors are BX_FAIL_SYSTEM and read
 *   "docker engine at '<socket>': <what> (HTTP N: <message of the daemon>)"
 * or, when the daemon could not be reached at all,
 *   "docker engine at '<socket>': <what>: <curl's reason>"
 * with the hint "is dockerd running? check the [docker] host setting".
 *
 * A struct bx_docker is not thread-safe: one per thread.
 */
struct bx_docker;

/*
 * Prepare a client for `host`, which must be "unix:///absolute/path" (what the
 * [docker] host setting holds).  Nothing is connected yet.  *ret is owned by
 * the caller: bx_docker_free().
 */
int bx_docker_new(const char *host, struct bx_docker **ret, struct bx_error **err);

/* NULL-safe; returns NULL. */
struct bx_docker *bx_docker_free(struct bx_docker *d);

/* The socket path this client talks to (borrowed, valid until bx_docker_free()). */
const char *bx_docker_socket(const struct bx_docker *d);

/* GET /_ping: 0 when the daemon answers "OK". */
int bx_docker_ping(struct bx_docker *d, struct bx_error **err);

/* What GET /info says, the parts the driver cares about.  All strings owned, never NULL. */
struct bx_docker_info {
        char *server_version; /* "26.1.5" */
        char *api_version;    /* the negotiated API version, "1.43" */
        char *architecture;   /* "x86_64", as uname -m */
        char *os_type;        /* "linux" */
        char *storage_driver; /* "overlayfs" (containerd snapshotter) or "overlay2" */
        /*
         * The containerd image store is on ("features": {"containerd-snapshotter":
         * true}): DriverStatus holds ["driver-type", "io.containerd.snapshotter.v1"].
         * Without it the docker driver cannot build multi-platform images.
         */
        bool containerd_store;
};

/* Fill *ret (written only on success); release it with bx_docker_info_release(). */
int bx_docker_info(struct bx_docker *d, struct bx_docker_info *ret, struct bx_error **err);
void bx_docker_info_release(struct bx_docker_info *info);

/*
 * Remove the container `name` (force: a running one is killed; with its
 * anonymous volumes).  Returns 1 when a container was removed, 0 when there
 * was none (404 is success), -1 on error.  `name` must be a docker name
 * ([a-zA-Z0-9][a-zA-Z0-9_.-]*), or the call fails without asking the daemon.
 */
int bx_docker_container_remove(struct bx_docker *d, const char *name, struct bx_error **err);

/*
 * Remove the volume `name`.  1 removed, 0 not there, -1 on error (a volume
 * still in use is an error: HTTP 409).
 */
int bx_docker_volume_remove(struct bx_docker *d, const char *name, struct bx_error **err);

/* Create a named local volume (POST /volumes/create); an existing one is success. */
int bx_docker_volume_create(struct bx_docker *d, const char *name, struct bx_error **err);

/*
 * Names (without docker's leading '/') of all containers, running or not, or
 * of all volumes, whose name starts with `prefix`, appended to *ret in the
 * daemon's order.  `prefix` follows the same rule as a name; "" lists all.
 */
int bx_docker_container_list(struct bx_docker *d, const char *prefix, struct bx_strv *ret,
                             struct bx_error **err);
int bx_docker_volume_list(struct bx_docker *d, const char *prefix, struct bx_strv *ret,
                          struct bx_error **err);

/*
 * Is the image `ref` ("name[:tag][@digest]") in the daemon's store?  1 yes,
 * 0 no, -1 on error.
 */
int bx_docker_image_exists(struct bx_docker *d, const char *ref, struct bx_error **err);

#endif
