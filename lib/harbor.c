/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <math.h> /* isfinite(), a macro: no libm */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include "buf.h"
#include "cleanup.h"
#include "error.h"
#include "harbor.h"
#include "http.h"
#include "util.h"
#include "banned.h"

#define API "/api/v2.0"
#define NAME_MAX_LEN 255
#define MESSAGE_MAX 300
#define DURATION_MAX INT64_C(2147483646)
/* cJSON numbers are doubles: integers beyond 2^53 would come back rounded. */
#define JSON_INT_MAX INT64_C(9007199254740992)
#define HINT_CREDENTIAL "check the [harbor] username and password_file settings"
#define HINT_PROJECT "create it or fix [[harbor.project]] in the settings"

BX_DEFINE_CLEANUP(cJSON *, cJSON_Delete)

struct bx_harbor {
        struct bx_http *http;
};

bool bx_harbor_valid_name(const char *s)
{
        size_t i, n;

        if (!s || !s[0])
                return false;
        n = strlen(s);
        if (n > NAME_MAX_LEN)
                return false;
        for (i = 0; i < n; i++) {
                char c = s[i];
                bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

                if (alnum)
                        continue;
                /* A separator stands between two alphanumerics. */
                if ((c != '.' && c != '_' && c != '-') || i == 0 || i == n - 1)
                        return false;
                if (s[i + 1] == '.' || s[i + 1] == '_' || s[i + 1] == '-')
                        return false;
        }
        return true;
}

int bx_harbor_new(const struct bx_http_opts *opts, struct bx_harbor **ret, struct bx_error **err)
{
        struct bx_http *http = NULL;
        struct bx_harbor *h;

        if (!opts || !opts->username || !opts->username[0] || !opts->secret || !opts->secret[0])
                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                    "Harbor at '%s': a username and a password are needed",
                                    opts && opts->base_url ? opts->base_url : "(none)");
        if (bx_http_new(opts, &http, err) < 0)
                return bx_error_wrap(err, "Harbor");
        h = bx_xcalloc(1, sizeof(*h));
        h->http = http;
        *ret = h;
        return 0;
}

struct bx_harbor *bx_harbor_free(struct bx_harbor *h)
{
        if (h) {
                bx_http_free(h->http);
                free(h);
        }
        return NULL;
}

const char *bx_harbor_url(const struct bx_harbor *h)
{
        return bx_http_url(h->http);
}

const char *bx_harbor_last_request_id(const struct bx_harbor *h)
{
        return bx_http_last_request_id(h->http);
}

void bx_harbor_robot_release(struct bx_harbor_robot *r)
{
        if (!r)
                return;
        if (r->secret) {
                OPENSSL_cleanse(r->secret, strlen(r->secret));
                free(r->secret);
        }
        free(r->name);
        memset(r, 0, sizeof(*r));
}

/*
 * Harbor's own words for a failure, one line, redacted: the first message of
 * {"errors":[{"code","message"}]}, or the start of the body when it is not
 * that.  Redacted before it is cut, so a cut cannot hide a secret's key from
 * the redaction and leave its value.
 */
static char *harbor_message(const struct bx_buf *body)
{
        _cleanup_(cJSON_Delete_p) cJSON *doc = NULL;
        const cJSON *m;

        doc = cJSON_ParseWithLength(body->buf, body->len);
        m = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "errors"), 0), "message");
        return bx_http_one_line(
            bx_http_redact(cJSON_IsString(m) && m->valuestring ? m->valuestring : body->buf),
            MESSAGE_MAX);
}

/* Set the errnum of *err for callers, without strerror()'s text in the message. */
static int set_errnum(struct bx_error **err, int errnum)
{
        if (err && *err)
                (*err)->errnum = errnum;
        return -1;
}

static int credential_error(struct bx_harbor *h, struct bx_error **err)
{
        bx_error_set(err, BX_FAIL_SYSTEM, 0,
                     "Harbor at '%s' refused the credential of '%s' (HTTP 401)",
                     bx_http_url(h->http), bx_http_username(h->http));
        return bx_error_hint(err, HINT_CREDENTIAL);
}

static int forbidden_error(struct bx_harbor *h, const char *what, struct bx_error **err)
{
        bx_error_set(err, BX_FAIL_SYSTEM, 0, "Harbor at '%s': '%s' may not %s (HTTP 403)",
                     bx_http_url(h->http), bx_http_username(h->http), what);
        return bx_error_hint(err,
                             "give '%s' the Project Admin role in that project, or use a Harbor "
                             "system administrator; %s",
                             bx_http_username(h->http), HINT_CREDENTIAL);
}

static int missing_project_error(struct bx_harbor *h, const char *name, struct bx_error **err)
{
        bx_error_set(err, BX_FAIL_SYSTEM, 0, "Harbor project '%s' does not exist at '%s'", name,
                     bx_http_url(h->http));
        set_errnum(err, ENOENT);
        return bx_error_hint(err, HINT_PROJECT);
}

/* The error for an answer the caller did not expect: 401, 403 and the rest. */
static int status_error(struct bx_harbor *h, const struct bx_http_response *r, const char *what,
                        struct bx_error **err)
{
        _cleanup_free_ char *msg = NULL;

        if (r->status == 401)
                return credential_error(h, err);
        if (r->status == 403)
                return forbidden_error(h, what, err);
        msg = harbor_message(&r->body);
        if (r->attempts > 1)
                bx_error_set(err, BX_FAIL_SYSTEM, 0,
                             "Harbor at '%s': cannot %s (HTTP %ld: %s) after %u attempts",
                             bx_http_url(h->http), what, r->status, msg[0] ? msg : "no message",
                             r->attempts);
        else
                bx_error_set(err, BX_FAIL_SYSTEM, 0, "Harbor at '%s': cannot %s (HTTP %ld: %s)",
                             bx_http_url(h->http), what, r->status, msg[0] ? msg : "no message");
        if (r->status >= 500)
                return bx_error_hint(err,
                                     "Harbor failed; its core log has the cause (request id %s)",
                                     r->request_id);
        return -1;
}

/* A JSON integer that a double holds exactly. */
static bool json_int64(const cJSON *obj, const char *key, int64_t *ret)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
        double d;

        if (!cJSON_IsNumber(v))
                return false;
        d = v->valuedouble;
        if (!isfinite(d) || d > (double)JSON_INT_MAX || d < -(double)JSON_INT_MAX ||
            (double)(int64_t)d != d)
                return false;
        *ret = (int64_t)d;
        return true;
}

int bx_harbor_ping(struct bx_harbor *h, struct bx_error **err)
{
        struct bx_http_response r = BX_HTTP_RESPONSE_INIT;
        int ret = 0;

        if (bx_http_request(h->http, "GET", API "/ping", NULL, &r, err) < 0)
                return -1;
        if (r.status != 200)
                ret = status_error(h, &r, "answer ping", err);
        bx_http_response_release(&r);
        return ret;
}

/* METHOD path, where 404 means "not there": 1 on 200, 0 on 404, -1 with *err set. */
static int found(struct bx_harbor *h, const char *method, const char *path, const char *what,
                 struct bx_error **err)
{
        struct bx_http_response r = BX_HTTP_RESPONSE_INIT;
        int ret;

        if (bx_http_request(h->http, method, path, NULL, &r, err) < 0)
                return -1;
        if (r.status == 200)
                ret = 1;
        else if (r.status == 404)
                ret = 0;
        else
                ret = status_error(h, &r, what, err);
        bx_http_response_release(&r);
        return ret;
}

/* HEAD /projects?project_name=: 1 exists, 0 not, -1 error. */
static int project_exists(struct bx_harbor *h, const char *name, struct bx_error **err)
{
        _cleanup_free_ char *esc = bx_http_escape(name);
        _cleanup_free_ char *path = bx_xasprintf(API "/projects?project_name=%s", esc);
        _cleanup_free_ char *what = bx_xasprintf("read project '%s'", name);

        return found(h, "HEAD", path, what, err);
}

int bx_harbor_project_id(struct bx_harbor *h, const char *name, int64_t *ret_id,
                         struct bx_error **err)
{
        static const char *const by_name[] = {"X-Is-Resource-Name: true", NULL};
        _cleanup_(cJSON_Delete_p) cJSON *doc = NULL;
        _cleanup_free_ char *esc = NULL, *path = NULL, *what = NULL;
        struct bx_http_response r = BX_HTTP_RESPONSE_INIT;
        int64_t id;
        int r0;

        if (!bx_harbor_valid_name(name))
                return bx_error_set(err, BX_FAIL_SYSTEM, 0, "invalid Harbor project name '%s'",
                                    name ? name : "(null)");
        /*
         * GET /projects/{name} answers 403, not 404, for a project that does not
         * exist (Harbor's permission check fails on the lookup), so ask first.
         */
        r0 = project_exists(h, name, err);
        if (r0 < 0)
                return -1;
        if (r0 == 0)
                return missing_project_error(h, name, err);

        esc = bx_http_escape(name);
        path = bx_xasprintf(API "/projects/%s", esc);
        what = bx_xasprintf("read project '%s'", name);
        if (bx_http_request_headers(h->http, "GET", path, by_name, NULL, &r, err) < 0)
                return -1;
        if (r.status == 404) {
                bx_http_response_release(&r);
                return missing_project_error(h, name, err);
        }
        if (r.status != 200) {
                status_error(h, &r, what, err);
                bx_http_response_release(&r);
                return -1;
        }
        doc = cJSON_ParseWithLength(r.body.buf, r.body.len);
        bx_http_response_release(&r);
        if (!json_int64(doc, "project_id", &id) || id <= 0)
                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                    "Harbor at '%s': the answer for project '%s' has no project_id",
                                    bx_http_url(h->http), name);
        *ret_id = id;
        return 0;
}

static char *robot_request(const char *project, const char *short_name, const char *description,
                           bool push, int64_t duration_days)
{
        _cleanup_(cJSON_Delete_p) cJSON *req = cJSON_CreateObject();
        cJSON *perms, *perm, *access;
        char *json;

#define ACCESS(res, act)                                                                           \
        do {                                                                                       \
                cJSON *a = cJSON_CreateObject();                                                   \
                if (!a || !cJSON_AddItemToArray(access, a) ||                                      \
                    !cJSON_AddStringToObject(a, "resource", (res)) ||                              \
                    !cJSON_AddStringToObject(a, "action", (act)))                                  \
                        return NULL;                                                               \
        } while (0)

        if (!req || !cJSON_AddStringToObject(req, "name", short_name) ||
            !cJSON_AddStringToObject(req, "description", description ? description : "") ||
            !cJSON_AddStringToObject(req, "level", "project") ||
            !cJSON_AddNumberToObject(req, "duration", (double)duration_days) ||
            !cJSON_AddFalseToObject(req, "disable") ||
            !(perms = cJSON_AddArrayToObject(req, "permissions")))
                return NULL;
        perm = cJSON_CreateObject();
        if (!perm || !cJSON_AddItemToArray(perms, perm) ||
            !cJSON_AddStringToObject(perm, "kind", "project") ||
            !cJSON_AddStringToObject(perm, "namespace", project) ||
            !(access = cJSON_AddArrayToObject(perm, "access")))
                return NULL;
        ACCESS("repository", "pull");
        if (push)
                ACCESS("repository", "push");
        ACCESS("artifact", "read");
#undef ACCESS
        json = cJSON_PrintUnformatted(req);
        return json;
}

/* The id at the end of "Location: /api/v2.0/robots/42". */
static bool id_from_location(const char *loc, int64_t *ret)
{
        const char *slash;

        if (!loc || !(slash = strrchr(loc, '/')))
                return false;
        return bx_parse_int64(slash + 1, ret) == 0 && *ret > 0;
}

/* Overwrite the strings of a cJSON tree that held a secret. */
static void json_wipe(cJSON *item)
{
        for (; item; item = item->next) {
                if (cJSON_IsString(item) && item->valuestring)
                        OPENSSL_cleanse(item->valuestring, strlen(item->valuestring));
                json_wipe(item->child);
        }
}

static int parse_created(struct bx_harbor *h, const char *stored, int64_t duration_days,
                         struct bx_http_response *r, struct bx_harbor_robot *ret,
                         struct bx_error **err)
{
        struct bx_harbor_robot robot = {0};
        const cJSON *name, *secret;
        const char *missing = NULL;
        cJSON *doc;

        doc = cJSON_ParseWithLength(r->body.buf, r->body.len);
        name = cJSON_GetObjectItemCaseSensitive(doc, "name");
        secret = cJSON_GetObjectItemCaseSensitive(doc, "secret");
        if (!json_int64(doc, "id", &robot.id) || robot.id <= 0) {
                robot.id = 0;
                if (!id_from_location(r->location, &robot.id))
                        missing = "an id";
        }
        if (!cJSON_IsString(name) || !name->valuestring || !bx_endswith(name->valuestring, stored))
                missing = "the robot's name";
        else if (!cJSON_IsString(secret) || !secret->valuestring || !secret->valuestring[0])
                missing = "a secret";
        if (!missing) {
                robot.name = bx_xstrdup(name->valuestring);
                robot.secret = bx_xstrdup(secret->valuestring);
                if (!json_int64(doc, "expires_at", &robot.expires_at))
                        robot.expires_at =
                            duration_days < 0 ? -1 : (int64_t)time(NULL) + duration_days * 86400;
        }
        json_wipe(doc);
        cJSON_Delete(doc);
        if (missing) {
                bx_error_set(err, BX_FAIL_SYSTEM, 0,
                             "Harbor at '%s' created robot '%s' but its answer has no %s",
                             bx_http_url(h->http), stored, missing);
                return bx_error_hint(err,
                                     "delete the robot in Harbor; is this Harbor 2.2 or later?");
        }
        *ret = robot;
        return 0;
}

int bx_harbor_robot_create(struct bx_harbor *h, const char *project, const char *short_name,
                           const char *description, bool push, int64_t duration_days,
                           struct bx_harbor_robot *ret, struct bx_error **err)
{
        _cleanup_free_ char *json = NULL, *stored = NULL, *what = NULL;
        struct bx_http_response r = BX_HTTP_RESPONSE_INIT;
        int ret_code = -1, exists;

        if (!bx_harbor_valid_name(project))
                return bx_error_set(err, BX_FAIL_SYSTEM, 0, "invalid Harbor project name '%s'",
                                    project ? project : "(null)");
        if (!bx_harbor_valid_name(short_name))
                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                    "invalid Harbor robot name '%s': it must match "
                                    "^[a-z0-9]+(?:[._-][a-z0-9]+)*$",
                                    short_name ? short_name : "(null)");
        if (duration_days != -1 && (duration_days < 1 || duration_days > DURATION_MAX))
                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                    "invalid Harbor robot duration %" PRId64 " days: 1..%" PRId64
                                    " or -1",
                                    duration_days, DURATION_MAX);
        stored = bx_xasprintf("%s+%s", project, short_name);
        what = bx_xasprintf("create robot accounts in project '%s'", project);
        json = robot_request(project, short_name, description, push, duration_days);
        if (!json)
                return bx_error_set(err, BX_FAIL_SYSTEM, ENOMEM, "cannot build a Harbor request");

        if (bx_http_request(h->http, "POST", API "/robots", json, &r, err) < 0)
                return -1;
        switch (r.status) {
        case 201:
                ret_code = parse_created(h, stored, duration_days, &r, ret, err);
                break;
        case 409:
                bx_error_set(err, BX_FAIL_SYSTEM, 0, "Harbor robot '%s' already exists at '%s'%s",
                             stored, bx_http_url(h->http),
                             r.attempts > 1 ? " (the answer to an earlier attempt was lost; that "
                                              "attempt may have created it)"
                                            : "");
                set_errnum(err, EEXIST);
                bx_error_hint(err, "a robot of an earlier run of this job? the cleanup stage "
                                   "deletes it, or delete it in Harbor");
                break;
        case 403:
                /* A project that does not exist also gives 403: say which it is. */
                exists = project_exists(h, project, err);
                if (exists == 0)
                        missing_project_error(h, project, err);
                else if (exists > 0)
                        forbidden_error(h, what, err);
                break;
        default:
                status_error(h, &r, what, err);
                break;
        }
        bx_http_response_release_wipe(&r);
        return ret_code;
}

int bx_harbor_robot_find(struct bx_harbor *h, int64_t project_id, const char *name, int64_t *ret_id,
                         struct bx_error **err)
{
        _cleanup_(cJSON_Delete_p) cJSON *doc = NULL;
        _cleanup_free_ char *copy = NULL, *esc = NULL, *path = NULL, *what = NULL;
        struct bx_http_response r = BX_HTTP_RESPONSE_INIT;
        const cJSON *item;
        char *plus;

        copy = bx_xstrdup(name ? name : "");
        plus = strchr(copy, '+');
        if (plus)
                *plus = '\0';
        if (!plus || !bx_harbor_valid_name(copy) || !bx_harbor_valid_name(plus + 1))
                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                    "invalid Harbor robot name '%s': want <project>+<name>",
                                    name ? name : "(null)");
        if (project_id <= 0)
                return bx_error_set(err, BX_FAIL_SYSTEM, 0, "invalid Harbor project id %" PRId64,
                                    project_id);
        /* Harbor's q syntax: k=v pairs joined by ','; a '+' must arrive as %2B, not ' '. */
        esc = bx_http_escape(name);
        path = bx_xasprintf(API "/robots?q=Level=project,ProjectID=%" PRId64
                                ",name=%s&page=1&page_size=100",
                            project_id, esc);
        what = bx_xasprintf("list robot accounts in project %" PRId64, project_id);
        if (bx_http_request(h->http, "GET", path, NULL, &r, err) < 0)
                return -1;
        if (r.status != 200) {
                status_error(h, &r, what, err);
                bx_http_response_release(&r);
                return -1;
        }
        doc = cJSON_ParseWithLength(r.body.buf, r.body.len);
        bx_http_response_release(&r);
        if (!cJSON_IsArray(doc))
                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                    "Harbor at '%s': the robot list of project %" PRId64
                                    " is not a JSON array",
                                    bx_http_url(h->http), project_id);
        cJSON_ArrayForEach(item, doc)
        {
                const cJSON *n = cJSON_GetObjectItemCaseSensitive(item, "name");
                int64_t id;

                /* The full name is the configurable prefix ("robot$") + the stored name. */
                if (cJSON_IsString(n) && n->valuestring && bx_endswith(n->valuestring, name) &&
                    json_int64(item, "id", &id) && id > 0) {
                        *ret_id = id;
                        return 1;
                }
        }
        return 0;
}

int bx_harbor_robot_delete(struct bx_harbor *h, int64_t id, struct bx_error **err)
{
        _cleanup_free_ char *path = NULL, *what = NULL;

        if (id <= 0)
                return bx_error_set(err, BX_FAIL_SYSTEM, 0, "invalid Harbor robot id %" PRId64, id);
        path = bx_xasprintf(API "/robots/%" PRId64, id);
        what = bx_xasprintf("delete robot account %" PRId64, id);
        return found(h, "DELETE", path, what, err);
}
