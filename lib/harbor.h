/* SPDX-License-Identifier: MIT */
#ifndef BX_HARBOR_H
#define BX_HARBOR_H

#include <stdbool.h>
#include <stdint.h>

#include "http.h"

struct bx_error;

/*
 * Harbor's API v2.0 (Harbor 2.2 and later), the part the driver needs: a
 * short-lived project robot account per job, found again and deleted by the
 * cleanup stage.  On top of bx_http: TLS always verified, basic auth with the
 * configured account, no cookies (so no CSRF token is needed), retries with
 * backoff on transport errors, 5xx and 429 (see http.h).
 *
 * Errors are BX_FAIL_SYSTEM.  Whatever the call, the same statuses read the same:
 *   401  "Harbor at 'URL' refused the credential of 'admin' (HTTP 401)"
 *        hint: check the [harbor] username and password_file settings
 *   403  "Harbor at 'URL': 'admin' may not <what> in project 'x' (HTTP 403)"
 *   else "Harbor at 'URL': cannot <what> (HTTP N: <Harbor's message>)"
 * where Harbor's message comes from its {"errors":[{"code","message"}]} body
 * and passes through bx_http_redact().  No message ever holds a password, a
 * robot secret or an Authorization value.  Transport failures are bx_http's
 * "cannot reach 'URL' (METHOD /path): ..." errors.
 *
 * A struct bx_harbor is not thread-safe: one per thread.
 */
struct bx_harbor;

/*
 * Harbor's rule for the name part of a robot (and for project names):
 * ^[a-z0-9]+(?:[._-][a-z0-9]+)*$, at most 255 characters.  '+' separates the
 * project from the name in a robot's full name, so it is never part of one.
 */
bool bx_harbor_valid_name(const char *name);

/*
 * Prepare a client.  opts->base_url is Harbor's URL ("https://harbor.example"),
 * opts->ca_file its CA (NULL: the system's), opts->username and opts->secret
 * the account that manages robots (a system admin, or a projectAdmin of the
 * projects used); both are required.  Retry and timeout options as in
 * http.h.  Nothing is connected yet.  *ret is the caller's: bx_harbor_free().
 */
int bx_harbor_new(const struct bx_http_opts *opts, struct bx_harbor **ret, struct bx_error **err);

/* NULL-safe; wipes the secret; returns NULL. */
struct bx_harbor *bx_harbor_free(struct bx_harbor *h);

/* The base URL (borrowed), for messages. */
const char *bx_harbor_url(const struct bx_harbor *h);

/* X-Request-Id of the latest request (borrowed; see bx_http_last_request_id()). */
const char *bx_harbor_last_request_id(const struct bx_harbor *h);

/* GET /api/v2.0/ping (no authentication): 0 when Harbor answers 200. */
int bx_harbor_ping(struct bx_harbor *h, struct bx_error **err);

/*
 * The numeric id of project `name`: HEAD /projects?project_name= (200/404),
 * then GET /projects/{name} with X-Is-Resource-Name: true.  A project that
 * does not exist is an error:
 *   "Harbor project 'x' does not exist at 'URL'"
 *   hint "create it or fix [[harbor.project]] in the settings"
 * with errnum ENOENT.  *ret_id is written only on success.
 */
int bx_harbor_project_id(struct bx_harbor *h, const char *name, int64_t *ret_id,
                         struct bx_error **err);

/* A robot account as created.  All strings owned; release with bx_harbor_robot_release(). */
struct bx_harbor_robot {
        int64_t id;
        char *name;         /* the full name, the registry username: "robot$demo+bx-1001-ab12" */
        char *secret;       /* the password; Harbor shows it this once */
        int64_t expires_at; /* Unix seconds; -1: never */
};

/* Free the strings, overwriting the secret first; NULL-safe.  The struct is zeroed. */
void bx_harbor_robot_release(struct bx_harbor_robot *r);

/*
 * Create a project-level robot `short_name` (see bx_harbor_valid_name();
 * Harbor names it "<prefix><project>+<short_name>") in project `project`,
 * allowed to pull from the project's repositories, to push when `push`, and
 * to read artifacts; it expires after duration_days (1..2147483646, or -1 for
 * never, which Harbor allows but this driver should not ask for).
 * POST /api/v2.0/robots.
 *
 * Returns 0 and fills *ret (written only on success).  An invalid name or
 * duration fails without asking Harbor.  A robot of that name that exists
 * already fails with errnum EEXIST:
 *   "Harbor robot '<project>+<short_name>' already exists at 'URL'"
 * (when the request took more than one attempt, the message says the lost
 * answer of an earlier attempt may have created it).  Creating in a project
 * that does not exist fails with the message of bx_harbor_project_id().
 */
int bx_harbor_robot_create(struct bx_harbor *h, const char *project, const char *short_name,
                           const char *description, bool push, int64_t duration_days,
                           struct bx_harbor_robot *ret, struct bx_error **err);

/*
 * Look up a project robot by the name Harbor stores, "<project>+<short_name>"
 * (no "robot$" prefix), in the project with id project_id: GET /robots with
 * q=Level=project,ProjectID=<id>,name=<name>.  Returns 1 and writes *ret_id
 * when found, 0 when not, -1 on error.
 */
int bx_harbor_robot_find(struct bx_harbor *h, int64_t project_id, const char *name, int64_t *ret_id,
                         struct bx_error **err);

/*
 * DELETE /api/v2.0/robots/{id}.  Returns 1 when deleted, 0 when it was
 * already gone (404), -1 on error.
 */
int bx_harbor_robot_delete(struct bx_harbor *h, int64_t id, struct bx_error **err);

#endif
