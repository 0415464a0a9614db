/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "buf.h"
#include "cleanup.h"
#include "docker.h"
#include "error.h"
#include "http.h"
#include "util.h"
#include "banned.h"

#define CONNECT_TIMEOUT_MS 5000L
#define TOTAL_TIMEOUT_MS 60000L
#define BODY_MAX (8u << 20)
#define MESSAGE_MAX 300
/* The newest API version this module was written against (Docker 24). */
#define API_MAJOR_MAX 1
#define API_MINOR_MAX 43
#define HINT "is dockerd running? check the [docker] host setting"

BX_DEFINE_CLEANUP(cJSON *, cJSON_Delete)
BX_DEFINE_CLEANUP(struct curl_slist *, curl_slist_free_all)
BX_DEFINE_CLEANUP(char *, curl_free)

struct bx_docker {
        char *socket;
        CURL *curl;
        char prefix[24]; /* "/v1.43" once negotiated */
        char api[16];    /* "1.43" */
        bool negotiated;
};

struct response {
        long status;
        struct bx_buf body;
        struct bx_http_body sink; /* into body */
        char api_version[16];     /* the Api-Version header, if any */
};

static void response_release(struct response *r)
{
        bx_buf_release(&r->body);
}

int bx_docker_new(const char *host, struct bx_docker **ret, struct bx_error **err)
{
        struct bx_docker *d;
        const char *path;

        if (!host || !bx_startswith(host, "unix://"))
                return bx_error_set(
                    err, BX_FAIL_SYSTEM, 0,
                    "docker host '%s' is not supported: only unix:///path sockets are",
                    host ? host : "(null)");
        path = host + strlen("unix://");
        if (path[0] != '/' || strlen(path) >= 108)
                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                    "docker host '%s' does not name an absolute socket path "
                                    "(at most 107 bytes)",
                                    host);
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return bx_error_set(err, BX_FAIL_SYSTEM, 0, "cannot initialise libcurl");
        d = bx_xcalloc(1, sizeof(*d));
        d->curl = curl_easy_init();
        if (!d->curl) {
                free(d);
                curl_global_cleanup();
                return bx_error_set(err, BX_FAIL_SYSTEM, 0, "cannot create a libcurl handle");
        }
        d->socket = bx_xstrdup(path);
        *ret = d;
        return 0;
}

struct bx_docker *bx_docker_free(struct bx_docker *d)
{
        if (!d)
                return NULL;
        curl_easy_cleanup(d->curl);
        free(d->socket);
        free(d);
        curl_global_cleanup();
        return NULL;
}

const char *bx_docker_socket(const struct bx_docker *d)
{
        return d->socket;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
        struct response *r = userdata;
        size_t n = size * nmemb;
        _cleanup_free_ char *v = bx_http_header_value(data, n, "api-version:");

        if (v && strlen(v) < sizeof(r->api_version))
                memcpy(r->api_version, v, strlen(v) + 1);
        return n;
}

/* The daemon's "message" from a JSON error body, or the body itself, cleaned up for one line. */
static char *error_message(const struct bx_buf *body)
{
        _cleanup_(cJSON_Delete_p) cJSON *doc = NULL;
        const cJSON *m;

        doc = cJSON_ParseWithLength(body->buf, body->len);
        m = cJSON_GetObjectItemCaseSensitive(doc, "message");
        return bx_http_one_line(
            bx_xstrdup(cJSON_IsString(m) && m->valuestring ? m->valuestring : body->buf),
            MESSAGE_MAX);
}

/*
 * One HTTP exchange.  Returns 0 when the daemon answered (whatever the status;
 * the caller decides), -1 with *err set when it could not be reached or the
 * answer was cut off.  `path` is used as given (no version prefix added).
 */
static int exchange(struct bx_docker *d, const char *method, const char *path, const char *json,
                    const char *what, struct response *r, struct bx_error **err)
{
        _cleanup_(curl_slist_free_all_p) struct curl_slist *hdrs = NULL;
        _cleanup_free_ char *url = bx_xasprintf("http://docker%s", path);
        char errbuf[CURL_ERROR_SIZE] = "";
        CURLcode rc;

        curl_easy_reset(d->curl);
        bx_buf_init(&r->body, BODY_MAX);
        r->status = 0;
        r->sink.buf = &r->body;
        r->sink.too_big = false;
        r->api_version[0] = '\0';

        curl_easy_setopt(d->curl, CURLOPT_UNIX_SOCKET_PATH, d->socket);
        curl_easy_setopt(d->curl, CURLOPT_URL, url);
        curl_easy_setopt(d->curl, CURLOPT_PROTOCOLS_STR, "http");
        curl_easy_setopt(d->curl, CURLOPT_PATH_AS_IS, 1L);
        curl_easy_setopt(d->curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(d->curl, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
        curl_easy_setopt(d->curl, CURLOPT_TIMEOUT_MS, TOTAL_TIMEOUT_MS);
        curl_easy_setopt(d->curl, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(d->curl, CURLOPT_WRITEFUNCTION, bx_http_body_cb);
        curl_easy_setopt(d->curl, CURLOPT_WRITEDATA, &r->sink);
        curl_easy_setopt(d->curl, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(d->curl, CURLOPT_HEADERDATA, r);
        hdrs = curl_slist_append(hdrs, "Accept: application/json");
        if (strcmp(method, "POST") == 0) {
                hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
                curl_easy_setopt(d->curl, CURLOPT_POST, 1L);
                curl_easy_setopt(d->curl, CURLOPT_POSTFIELDS, json ? json : "");
        } else if (strcmp(method, "GET") != 0) {
                curl_easy_setopt(d->curl, CURLOPT_CUSTOMREQUEST, method);
        }
        curl_easy_setopt(d->curl, CURLOPT_HTTPHEADER, hdrs);

        rc = curl_easy_perform(d->curl);
        /* The handle must not keep pointers into this stack frame. */
        curl_easy_setopt(d->curl, CURLOPT_ERRORBUFFER, NULL);
        curl_easy_setopt(d->curl, CURLOPT_HTTPHEADER, NULL);
        if (r->sink.too_big) {
                response_release(r);
                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                    "docker engine at '%s': %s: response larger than %u bytes",
                                    d->socket, what, BODY_MAX);
        }
        if (rc != CURLE_OK) {
                long oserr = 0;

                response_release(r);
                curl_easy_getinfo(d->curl, CURLINFO_OS_ERRNO, &oserr);
                /* curl's own text names "docker port 80", which means nothing for a socket. */
                if (rc == CURLE_COULDNT_CONNECT && oserr)
                        bx_error_set(err, BX_FAIL_SYSTEM, (int)oserr,
                                     "docker engine at '%s': %s: cannot connect", d->socket, what);
                else if (rc == CURLE_OPERATION_TIMEDOUT)
                        bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                     "docker engine at '%s': %s: no answer within %ld ms",
                                     d->socket, what, TOTAL_TIMEOUT_MS);
                else
                        bx_error_set(err, BX_FAIL_SYSTEM, 0, "docker engine at '%s': %s: %s",
                                     d->socket, what, errbuf[0] ? errbuf : curl_easy_strerror(rc));
                return bx_error_hint(err, HINT);
        }
        curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &r->status);
        return 0;
}

static int http_error(struct bx_docker *d, const char *what, const struct response *r,
                      struct bx_error **err)
{
        _cleanup_free_ char *msg = error_message(&r->body);

        return bx_error_set(err, BX_FAIL_SYSTEM, 0, "docker engine at '%s': %s (HTTP %ld: %s)",
                            d->socket, what, r->status, msg[0] ? msg : "no message");
}

static bool parse_api_version(const char *s, int *major, int *minor)
{
        _cleanup_free_ char *copy = bx_xstrdup(s);
        char *dot = strchr(copy, '.');

        if (!dot)
                return false;
        *dot = '\0';
        return bx_parse_int(copy, major) == 0 && bx_parse_int(dot + 1, minor) == 0 && *major >= 0 &&
               *minor >= 0;
}

/*
 * GET /_ping (unversioned) and settle the version prefix of every later path.
 * `what` names the call this happens for, in messages.
 */
static int do_ping(struct bx_docker *d, const char *what, struct bx_error **err)
{
        struct response r = {0};
        int major, minor;

        if (exchange(d, "GET", "/_ping", NULL, what, &r, err) < 0)
                return -1;
        if (r.status != 200 || strcmp(r.body.buf, "OK") != 0) {
                http_error(d, what, &r, err);
                response_release(&r);
                return bx_error_hint(err, HINT);
        }
        if (r.api_version[0] && parse_api_version(r.api_version, &major, &minor)) {
                if (major > API_MAJOR_MAX || (major == API_MAJOR_MAX && minor > API_MINOR_MAX)) {
                        major = API_MAJOR_MAX;
                        minor = API_MINOR_MAX;
                }
                snprintf(d->api, sizeof(d->api), "%d.%d", major, minor);
                snprintf(d->prefix, sizeof(d->prefix), "/v%d.%d", major, minor);
        } else {
                /* A daemon that does not say: unversioned paths get its own version. */
                d->api[0] = '\0';
                d->prefix[0] = '\0';
        }
        d->negotiated = true;
        response_release(&r);
        return 0;
}

int bx_docker_ping(struct bx_docker *d, struct bx_error **err)
{
        return do_ping(d, "ping", err);
}

/* A versioned request: negotiate first if needed. */
static int request(struct bx_docker *d, const char *method, const char *path, const char *json,
                   const char *what, struct response *r, struct bx_error **err)
{
        _cleanup_free_ char *full = NULL;

        if (!d->negotiated && do_ping(d, what, err) < 0)
                return -1;
        full = bx_xasprintf("%s%s", d->prefix, path);
        return exchange(d, method, full, json, what, r, err);
}

static bool valid_name(const char *s, bool allow_empty)
{
        size_t i;

        if (!s[0])
                return allow_empty;
        if (strlen(s) > 255)
                return false;
        for (i = 0; s[i]; i++) {
                char c = s[i];
                bool alnum =
                    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

                if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
                        return false;
        }
        return true;
}

/* Image references: no character that would need escaping in a path, no dot segments. */
static bool valid_ref(const char *s)
{
        const char *seg;
        size_t i;

        if (!s[0] || strlen(s) > 512 || s[0] == '-' || s[0] == '/' || s[0] == '.')
                return false;
        for (i = 0; s[i]; i++) {
                char c = s[i];

                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-' || c == ':' || c == '/' || c == '@'))
                        return false;
        }
        for (seg = s; seg; seg = strchr(seg, '/')) {
                if (*seg == '/')
                        seg++;
                if (strncmp(seg, "..", 2) == 0 && (seg[2] == '/' || !seg[2]))
                        return false;
                if (seg[0] == '.' && (seg[1] == '/' || !seg[1]))
                        return false;
                if (!seg[0] || seg[0] == '/')
                        return false;
        }
        return true;
}

static char *dup_json_string(const cJSON *obj, const char *key)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

        return bx_xstrdup(cJSON_IsString(v) && v->valuestring ? v->valuestring : "");
}

void bx_docker_info_release(struct bx_docker_info *info)
{
        if (!info)
                return;
        free(info->server_version);
        free(info->api_version);
        free(info->architecture);
        free(info->os_type);
        free(info->storage_driver);
        memset(info, 0, sizeof(*info));
}

int bx_docker_info(struct bx_docker *d, struct bx_docker_info *ret, struct bx_error **err)
{
        _cleanup_(cJSON_Delete_p) cJSON *doc = NULL;
        struct bx_docker_info info = {0};
        struct response r = {0};
        const cJSON *ds, *pair;

        if (request(d, "GET", "/info", NULL, "info", &r, err) < 0)
                return -1;
        if (r.status != 200) {
                http_error(d, "info", &r, err);
                response_release(&r);
                return -1;
        }
        doc = cJSON_ParseWithLength(r.body.buf, r.body.len);
        response_release(&r);
        if (!cJSON_IsObject(doc))
                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                    "docker engine at '%s': info: the answer is not a JSON object",
                                    d->socket);
        info.server_version = dup_json_string(doc, "ServerVersion");
        info.api_version = bx_xstrdup(d->api);
        info.architecture = dup_json_string(doc, "Architecture");
        info.os_type = dup_json_string(doc, "OSType");
        info.storage_driver = dup_json_string(doc, "Driver");
        ds = cJSON_GetObjectItemCaseSensitive(doc, "DriverStatus");
        cJSON_ArrayForEach(pair, ds)
        {
                const cJSON *k = cJSON_GetArrayItem(pair, 0), *v = cJSON_GetArrayItem(pair, 1);

                if (cJSON_IsString(k) && cJSON_IsString(v) &&
                    bx_streq(k->valuestring, "driver-type") &&
                    bx_streq(v->valuestring, "io.containerd.snapshotter.v1"))
                        info.containerd_store = true;
        }
        *ret = info;
        return 0;
}

/*
 * METHOD path, where 404 means "not there": 1 on 200 or `also_ok`, 0 on 404,
 * -1 with *err set otherwise.
 */
static int found(struct bx_docker *d, const char *method, const char *path, long also_ok,
                 const char *what, struct bx_error **err)
{
        struct response r = {0};
        int ret;

        if (request(d, method, path, NULL, what, &r, err) < 0)
                return -1;
        if (r.status == 200 || r.status == also_ok)
                ret = 1;
        else if (r.status == 404)
                ret = 0;
        else
                ret = http_error(d, what, &r, err);
        response_release(&r);
        return ret;
}

/* DELETE something that may already be gone: 1 removed, 0 absent, -1 error. */
static int remove_by_path(struct bx_docker *d, const char *path, const char *what,
                          struct bx_error **err)
{
        return found(d, "DELETE", path, 204, what, err);
}

int bx_docker_container_remove(struct bx_docker *d, const char *name, struct bx_error **err)
{
        _cleanup_free_ char *what = bx_xasprintf("remove container '%s'", name);
        _cleanup_free_ char *path = NULL;

        if (!valid_name(name, false))
                return bx_error_set(err, BX_FAIL_SYSTEM, 0, "invalid container name '%s'", name);
        path = bx_xasprintf("/containers/%s?force=1&v=1", name);
        return remove_by_path(d, path, what, err);
}

int bx_docker_volume_remove(struct bx_docker *d, const char *name, struct bx_error **err)
{
        _cleanup_free_ char *what = bx_xasprintf("remove volume '%s'", name);
        _cleanup_free_ char *path = NULL;

        if (!valid_name(name, false))
                return bx_error_set(err, BX_FAIL_SYSTEM, 0, "invalid volume name '%s'", name);
        /* Not ?force=1: with it dockerd answers 204 for a volume that does not exist. */
        path = bx_xasprintf("/volumes/%s", name);
        return remove_by_path(d, path, what, err);
}

int bx_docker_volume_create(struct bx_docker *d, const char *name, struct bx_error **err)
{
        _cleanup_free_ char *what = bx_xasprintf("create volume '%s'", name);
        _cleanup_(cJSON_Delete_p) cJSON *req = NULL;
        _cleanup_free_ char *json = NULL;
        struct response r = {0};
        int ret = 0;

        if (!valid_name(name, false))
                return bx_error_set(err, BX_FAIL_SYSTEM, 0, "invalid volume name '%s'", name);
        req = cJSON_CreateObject();
        if (!req || !cJSON_AddStringToObject(req, "Name", name) ||
            !(json = cJSON_PrintUnformatted(req)))
                return bx_error_set(err, BX_FAIL_SYSTEM, ENOMEM, "%s", what);
        if (request(d, "POST", "/volumes/create", json, what, &r, err) < 0)
                return -1;
        if (r.status != 201 && r.status != 200)
                ret = http_error(d, what, &r, err);
        response_release(&r);
        return ret;
}

/* "filters=<url-encoded JSON>" for {"name": [value]}, or "" for no filter. */
static int name_filter(struct bx_docker *d, const char *value, char **ret, struct bx_error **err)
{
        _cleanup_(cJSON_Delete_p) cJSON *f = cJSON_CreateObject();
        _cleanup_(curl_free_p) char *esc = NULL;
        _cleanup_free_ char *json = NULL;
        cJSON *arr;

        arr = f ? cJSON_AddArrayToObject(f, "name") : NULL;
        if (!arr || !cJSON_AddItemToArray(arr, cJSON_CreateString(value)) ||
            !(json = cJSON_PrintUnformatted(f)) || !(esc = curl_easy_escape(d->curl, json, 0)))
                return bx_error_set(err, BX_FAIL_SYSTEM, ENOMEM, "cannot build a docker filter");
        *ret = bx_xasprintf("filters=%s", esc);
        return 0;
}

/* GET a JSON document; the caller owns *ret. */
static int get_json(struct bx_docker *d, const char *path, const char *what, cJSON **ret,
                    struct bx_error **err)
{
        struct response r = {0};
        cJSON *doc;

        if (request(d, "GET", path, NULL, what, &r, err) < 0)
                return -1;
        if (r.status != 200) {
                http_error(d, what, &r, err);
                response_release(&r);
                return -1;
        }
        doc = cJSON_ParseWithLength(r.body.buf, r.body.len);
        response_release(&r);
        if (!doc)
                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                    "docker engine at '%s': %s: the answer is not JSON", d->socket,
                                    what);
        *ret = doc;
        return 0;
}

int bx_docker_container_list(struct bx_docker *d, const char *prefix, struct bx_strv *ret,
                             struct bx_error **err)
{
        _cleanup_free_ char *what = bx_xasprintf("list containers named '%s*'", prefix);
        _cleanup_(cJSON_Delete_p) cJSON *doc = NULL;
        _cleanup_free_ char *regex = NULL, *filter = NULL, *path = NULL;
        struct bx_buf re = BX_BUF_INIT(0);
        const cJSON *c, *names, *n;
        size_t i;

        if (!valid_name(prefix, true))
                return bx_error_set(err, BX_FAIL_SYSTEM, 0, "invalid container name prefix '%s'",
                                    prefix);
        if (prefix[0]) {
                /* The daemon matches a regular expression against "/name"; '.' is the only
                 * character of a docker name that means something there. */
                bx_buf_adds(&re, "^/");
                for (i = 0; prefix[i]; i++) {
                        if (prefix[i] == '.')
                                bx_buf_addch(&re, '\\');
                        bx_buf_addch(&re, prefix[i]);
                }
                regex = bx_buf_detach(&re, NULL);
                if (name_filter(d, regex, &filter, err) < 0)
                        return -1;
                path = bx_xasprintf("/containers/json?all=1&%s", filter);
        } else {
                path = bx_xstrdup("/containers/json?all=1");
        }
        if (get_json(d, path, what, &doc, err) < 0)
                return -1;
        if (!cJSON_IsArray(doc))
                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                    "docker engine at '%s': %s: the answer is not a JSON array",
                                    d->socket, what);
        cJSON_ArrayForEach(c, doc)
        {
                names = cJSON_GetObjectItemCaseSensitive(c, "Names");
                cJSON_ArrayForEach(n, names)
                {
                        const char *s = cJSON_IsString(n) ? n->valuestring : NULL;

                        if (!s || s[0] != '/')
                                continue;
                        s++;
                        /* Legacy link aliases look like "/other/alias": not this container's name.
                         */
                        if (strchr(s, '/') || !bx_startswith(s, prefix))
                                continue;
                        bx_strv_push(ret, s);
                        break;
                }
        }
        return 0;
}

int bx_docker_volume_list(struct bx_docker *d, const char *prefix, struct bx_strv *ret,
                          struct bx_error **err)
{
        _cleanup_free_ char *what = bx_xasprintf("list volumes named '%s*'", prefix);
        _cleanup_(cJSON_Delete_p) cJSON *doc = NULL;
        _cleanup_free_ char *filter = NULL, *path = NULL;
        const cJSON *vols, *v, *name;

        if (!valid_name(prefix, true))
                return bx_error_set(err, BX_FAIL_SYSTEM, 0, "invalid volume name prefix '%s'",
                                    prefix);
        /* The daemon's volume name filter is a substring match: narrow it, then check here. */
        if (prefix[0]) {
                if (name_filter(d, prefix, &filter, err) < 0)
                        return -1;
                path = bx_xasprintf("/volumes?%s", filter);
        } else {
                path = bx_xstrdup("/volumes");
        }
        if (get_json(d, path, what, &doc, err) < 0)
                return -1;
        vols = cJSON_GetObjectItemCaseSensitive(doc, "Volumes");
        if (!cJSON_IsObject(doc) || (!cJSON_IsArray(vols) && !cJSON_IsNull(vols) && vols))
                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                    "docker engine at '%s': %s: unexpected answer", d->socket,
                                    what);
        cJSON_ArrayForEach(v, vols)
        {
                name = cJSON_GetObjectItemCaseSensitive(v, "Name");
                if (cJSON_IsString(name) && bx_startswith(name->valuestring, prefix))
                        bx_strv_push(ret, name->valuestring);
        }
        return 0;
}

int bx_docker_image_exists(struct bx_docker *d, const char *ref, struct bx_error **err)
{
        _cleanup_free_ char *what = bx_xasprintf("inspect image '%s'", ref);
        _cleanup_free_ char *path = NULL;

        if (!valid_ref(ref))
                return bx_error_set(err, BX_FAIL_SYSTEM, 0, "invalid image reference '%s'", ref);
        path = bx_xasprintf("/images/%s/json", ref);
        return found(d, "GET", path, 200, what, err);
}
