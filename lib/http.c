/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "buf.h"
#include "cleanup.h"
#include "error.h"
#include "http.h"
#include "util.h"
#include "version.h"
#include "banned.h"

#define CONNECT_TIMEOUT_MS 10000L
#define TIMEOUT_MS 60000L
#define ATTEMPTS 4u
#define BACKOFF_MS 200u
#define BACKOFF_MAX_MS 5000u
#define BODY_MAX (4u << 20)
#define HEADER_VALUE_MAX 8192
#define REDACTED "[REDACTED]"

BX_DEFINE_CLEANUP(CURLU *, curl_url_cleanup)
BX_DEFINE_CLEANUP(char *, curl_free)

struct bx_http {
        CURL *curl;
        char *base_url;
        char *scheme; /* "http" or "https": the only protocol this client speaks */
        char *ca_file;
        char *username;
        /* "Authorization: Basic <base64(user:secret)>", the only copy of the secret we keep. */
        char *auth_header;
        long connect_timeout_ms;
        long timeout_ms;
        unsigned attempts;
        unsigned backoff_ms;
        unsigned backoff_max_ms;
        size_t body_max;
        char request_id[BX_HTTP_REQUEST_ID_LEN + 1];
};

/* The state of one attempt, shared with curl's callbacks. */
struct attempt {
        struct bx_http_response *r;
        struct bx_http_body body; /* into r->body */
};

static void wipe_free(char *s)
{
        if (s) {
                OPENSSL_cleanse(s, strlen(s));
                free(s);
        }
}

static bool has_ctl(const char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        return true;
        return false;
}

/* Is the URL part there?  *ret is then owned by curl (curl_free()). */
static bool url_part(CURLU *u, CURLUPart part, char **ret)
{
        *ret = NULL;
        return curl_url_get(u, part, ret, 0) == CURLUE_OK && *ret;
}

static int check_base_url(const char *url, char **ret_scheme, struct bx_error **err)
{
        _cleanup_(curl_url_cleanup_p) CURLU *u = curl_url();
        _cleanup_(curl_free_p) char *scheme = NULL, *host = NULL, *user = NULL, *pw = NULL;
        _cleanup_(curl_free_p) char *query = NULL, *frag = NULL;
        _cleanup_free_ char *shown = NULL;

        if (!u)
                return bx_error_set(err, BX_FAIL_SYSTEM, ENOMEM, "cannot parse a URL");
        shown = bx_http_redact(url);
        if (has_ctl(url) || strchr(url, ' ') ||
            curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
            !url_part(u, CURLUPART_SCHEME, &scheme) || !url_part(u, CURLUPART_HOST, &host))
                return bx_error_set(err, BX_FAIL_SYSTEM, 0, "'%s' is not a URL", shown);
        if (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0)
                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                    "URL '%s' must start with https:// (or http://)", shown);
        if (url_part(u, CURLUPART_USER, &user) || url_part(u, CURLUPART_PASSWORD, &pw))
                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                    "URL '%s' must not hold credentials: they belong in their "
                                    "own setting",
                                    shown);
        if (url_part(u, CURLUPART_QUERY, &query) || url_part(u, CURLUPART_FRAGMENT, &frag) ||
            strchr(url, '?') || strchr(url, '#'))
                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                    "URL '%s' must not have a query or a fragment", shown);
        *ret_scheme = bx_xstrdup(scheme);
        return 0;
}

static char *basic_auth_header(const char *user, const char *secret)
{
        _cleanup_free_ char *plain = NULL;
        size_t n, enc_len;
        char *hdr, *enc;

        plain = bx_xasprintf("%s:%s", user, secret);
        n = strlen(plain);
        enc_len = 4 * ((n + 2) / 3);
        enc = bx_xmalloc(enc_len + 1);
        EVP_EncodeBlock((unsigned char *)enc, (const unsigned char *)plain, (int)n);
        OPENSSL_cleanse(plain, n);
        hdr = bx_xasprintf("Authorization: Basic %s", enc);
        OPENSSL_cleanse(enc, enc_len);
        free(enc);
        return hdr;
}

int bx_http_new(const struct bx_http_opts *o, struct bx_http **ret, struct bx_error **err)
{
        _cleanup_free_ char *scheme = NULL;
        struct bx_http *h;
        size_t n;

        if (!o || !o->base_url)
                return bx_error_set(err, BX_FAIL_SYSTEM, 0, "no base URL for the HTTP client");
        if (check_base_url(o->base_url, &scheme, err) < 0)
                return -1;
        if (o->secret && !o->username)
                return bx_error_set(err, BX_FAIL_SYSTEM, 0, "a secret for '%s' without a username",
                                    o->base_url);
        if (o->username && (strchr(o->username, ':') || has_ctl(o->username)))
                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                    "username '%s' for '%s' holds ':' or a control character",
                                    o->username, o->base_url);
        if (o->secret && has_ctl(o->secret))
                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                    "the secret for '%s' holds a control character (a trailing "
                                    "newline in its file?)",
                                    o->base_url);
        if (o->ca_file && access(o->ca_file, R_OK) < 0)
                return bx_error_set(err, BX_FAIL_SYSTEM, errno, "cannot read CA file '%s'",
                                    o->ca_file);
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return bx_error_set(err, BX_FAIL_SYSTEM, 0, "cannot initialise libcurl");

        h = bx_xcalloc(1, sizeof(*h));
        h->curl = curl_easy_init();
        if (!h->curl) {
                free(h);
                curl_global_cleanup();
                return bx_error_set(err, BX_FAIL_SYSTEM, 0, "cannot create a libcurl handle");
        }
        h->base_url = bx_xstrdup(o->base_url);
        n = strlen(h->base_url);
        while (n > 0 && h->base_url[n - 1] == '/')
                h->base_url[--n] = '\0';
        h->scheme = TAKE_PTR(scheme);
        h->ca_file = o->ca_file ? bx_xstrdup(o->ca_file) : NULL;
        if (o->username) {
                h->username = bx_xstrdup(o->username);
                h->auth_header = basic_auth_header(o->username, o->secret ? o->secret : "");
        }
        h->connect_timeout_ms =
            o->connect_timeout_ms > 0 ? o->connect_timeout_ms : CONNECT_TIMEOUT_MS;
        h->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : TIMEOUT_MS;
        h->attempts = o->attempts ? o->attempts : ATTEMPTS;
        h->backoff_ms = o->backoff_ms ? o->backoff_ms : BACKOFF_MS;
        h->backoff_max_ms = o->backoff_max_ms ? o->backoff_max_ms : BACKOFF_MAX_MS;
        h->body_max = o->body_max ? o->body_max : BODY_MAX;
        *ret = h;
        return 0;
}

struct bx_http *bx_http_free(struct bx_http *h)
{
        if (!h)
                return NULL;
        curl_easy_cleanup(h->curl);
        free(h->base_url);
        free(h->scheme);
        free(h->ca_file);
        free(h->username);
        wipe_free(h->auth_header);
        free(h);
        curl_global_cleanup();
        return NULL;
}

const char *bx_http_url(const struct bx_http *h)
{
        return h->base_url;
}

const char *bx_http_username(const struct bx_http *h)
{
        return h->username;
}

const char *bx_http_last_request_id(const struct bx_http *h)
{
        return h->request_id;
}

static void response_clear(struct bx_http_response *r)
{
        bx_buf_release(&r->body);
        free(r->location);
        free(r->total_count);
        free(r->content_type);
        r->location = r->total_count = r->content_type = NULL;
        r->status = 0;
}

void bx_http_response_release(struct bx_http_response *r)
{
        if (!r)
                return;
        response_clear(r);
        r->attempts = 0;
        r->request_id[0] = '\0';
}

void bx_http_response_release_wipe(struct bx_http_response *r)
{
        if (!r)
                return;
        if (r->body.alloc)
                OPENSSL_cleanse(r->body.buf, r->body.alloc);
        bx_http_response_release(r);
}

size_t bx_http_body_cb(char *data, size_t size, size_t nmemb, void *userdata)
{
        struct bx_http_body *b = userdata;
        size_t n = size * nmemb;

        if (bx_buf_add(b->buf, data, n) < 0) {
                b->too_big = true;
                return 0; /* makes curl fail with CURLE_WRITE_ERROR */
        }
        return n;
}

char *bx_http_header_value(const char *data, size_t n, const char *name)
{
        size_t len = strlen(name);
        const char *v;

        if (n <= len || strncasecmp(data, name, len) != 0)
                return NULL;
        v = data + len;
        n -= len;
        while (n && (*v == ' ' || *v == '\t')) {
                v++;
                n--;
        }
        while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ' || v[n - 1] == '\t'))
                n--;
        if (n > HEADER_VALUE_MAX)
                return NULL;
        return bx_xstrndup(v, n);
}

static void set_header(char **slot, char *value)
{
        if (value) {
                free(*slot);
                *slot = value;
        }
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
        struct attempt *a = userdata;
        size_t n = size * nmemb;

        /* A new status line (after a 100 Continue): headers of what came before do not count. */
        if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
                free(a->r->location);
                free(a->r->total_count);
                free(a->r->content_type);
                a->r->location = a->r->total_count = a->r->content_type = NULL;
                return n;
        }
        set_header(&a->r->location, bx_http_header_value(data, n, "location:"));
        set_header(&a->r->total_count, bx_http_header_value(data, n, "x-total-count:"));
        set_header(&a->r->content_type, bx_http_header_value(data, n, "content-type:"));
        return n;
}

static bool valid_method(const char *m)
{
        static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};
        size_t i;

        for (i = 0; i < ARRAY_SIZE(known); i++)
                if (bx_streq(m, known[i]))
                        return true;
        return false;
}

static bool valid_path(const char *p)
{
        if (!p || p[0] != '/')
                return false;
        for (; *p; p++)
                if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '#')
                        return false;
        return true;
}

static bool valid_header(const char *hdr)
{
        const char *colon = strchr(hdr, ':');

        if (!colon || colon == hdr || has_ctl(hdr))
                return false;
        /* Credentials and cookies are this module's business, not the caller's. */
        return strncasecmp(hdr, "authorization:", 14) != 0 && strncasecmp(hdr, "cookie:", 7) != 0 &&
               strncasecmp(hdr, "proxy-authorization:", 20) != 0;
}

static int new_request_id(char out[BX_HTTP_REQUEST_ID_LEN + 1])
{
        static const char hex[] = "0123456789abcdef";
        unsigned char raw[BX_HTTP_REQUEST_ID_LEN / 2];
        size_t i;

        if (RAND_bytes(raw, sizeof(raw)) != 1)
                return -1;
        for (i = 0; i < sizeof(raw); i++) {
                out[2 * i] = hex[raw[i] >> 4];
                out[2 * i + 1] = hex[raw[i] & 15];
        }
        out[BX_HTTP_REQUEST_ID_LEN] = '\0';
        return 0;
}

/*
 * Failures worth another attempt: the server may be restarting, overloaded or
 * behind a load balancer that dropped us.  A certificate that does not verify,
 * a bad URL or an answer over the limit will be the same next time.
 */
static bool transient(CURLcode rc)
{
        switch (rc) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_COULDNT_CONNECT:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_SSL_CONNECT_ERROR: /* a reset in the middle of the handshake */
                return true;
        default:
                return false;
        }
}

static bool tls_trust_failure(CURLcode rc)
{
        return rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
               rc == CURLE_SSL_ISSUER_ERROR;
}

static void sleep_ms(uint64_t ms)
{
        struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
                              .tv_nsec = (long)(ms % 1000) * 1000000L};

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/*
 * One attempt.  Returns curl's result; on CURLE_OK r->status is set.  errbuf
 * receives curl's reason.  The handle keeps no pointer into this frame after.
 */
static CURLcode perform(struct bx_http *h, const char *method, const char *url,
                        const struct curl_slist *hdrs, const char *json, struct attempt *a,
                        char errbuf[CURL_ERROR_SIZE])
{
        CURL *c = h->curl;
        CURLcode rc;

        response_clear(a->r);
        bx_buf_init(&a->r->body, h->body_max);
        a->body.buf = &a->r->body;
        a->body.too_big = false;
        errbuf[0] = '\0';

        /* Reset drops every option of the previous request; the connection cache stays. */
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, h->scheme);
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, h->scheme);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
        curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
        if (h->ca_file)
                curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->connect_timeout_ms);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->timeout_ms);
        curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)h->body_max);
        curl_easy_setopt(c, CURLOPT_USERAGENT, BX_NAME "/" BX_VERSION);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, bx_http_body_cb);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &a->body);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, a);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        if (strcmp(method, "HEAD") == 0) {
                curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        } else if (strcmp(method, "GET") != 0) {
                curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
                if (json) {
                        curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
                        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(json));
                } else if (strcmp(method, "DELETE") != 0) {
                        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
                        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
                }
        }

        rc = curl_easy_perform(c);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, NULL);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, NULL);
        if (rc == CURLE_OK)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->r->status);
        return rc;
}

/* How long to wait before attempt `next` (2, 3, ...). */
static uint64_t backoff(const struct bx_http *h, unsigned next, curl_off_t retry_after_s)
{
        uint64_t ms = h->backoff_ms;
        unsigned i;

        for (i = 2; i < next && ms < h->backoff_max_ms; i++)
                ms *= 2;
        if (retry_after_s > 0 && (uint64_t)retry_after_s * 1000 > ms)
                ms = (uint64_t)retry_after_s * 1000;
        return ms > h->backoff_max_ms ? h->backoff_max_ms : ms;
}

static void wipe_headers(struct curl_slist *l)
{
        struct curl_slist *p;

        for (p = l; p; p = p->next)
                OPENSSL_cleanse(p->data, strlen(p->data));
        curl_slist_free_all(l);
}

/* The headers of every request of this call, NULL when out of memory; see wipe_headers(). */
static struct curl_slist *build_headers(const struct bx_http *h, const char *const *extra,
                                        bool json)
{
        char rid[sizeof("X-Request-Id: ") + BX_HTTP_REQUEST_ID_LEN];
        const char *fixed[5];
        struct curl_slist *l = NULL, *n;
        size_t i, nfixed = 0, nextra = 0;

        while (extra && extra[nextra])
                nextra++;
        snprintf(rid, sizeof(rid), "X-Request-Id: %s", h->request_id);
        fixed[nfixed++] = "Accept: application/json";
        if (json)
                fixed[nfixed++] = "Content-Type: application/json";
        /* No "Expect: 100-continue" round trip for larger bodies. */
        fixed[nfixed++] = "Expect:";
        fixed[nfixed++] = rid;
        if (h->auth_header)
                fixed[nfixed++] = h->auth_header;
        for (i = 0; i < nfixed + nextra; i++) {
                n = curl_slist_append(l, i < nfixed ? fixed[i] : extra[i - nfixed]);
                if (!n) {
                        wipe_headers(l);
                        return NULL;
                }
                l = n;
        }
        return l;
}

/* "POST /api/v2.0/robots": the method and the path without the query, for messages. */
static char *describe(const char *method, const char *path)
{
        return bx_xasprintf("%s %.*s", method, (int)strcspn(path, "?"), path);
}

int bx_http_request(struct bx_http *h, const char *method, const char *path_and_query,
                    const char *json_body, struct bx_http_response *ret, struct bx_error **err)
{
        return bx_http_request_headers(h, method, path_and_query, NULL, json_body, ret, err);
}

int bx_http_request_headers(struct bx_http *h, const char *method, const char *path_and_query,
                            const char *const *headers, const char *json_body,
                            struct bx_http_response *ret, struct bx_error **err)
{
        struct bx_http_response r = BX_HTTP_RESPONSE_INIT;
        struct attempt a = {.r = &r};
        char errbuf[CURL_ERROR_SIZE];
        _cleanup_free_ char *url = NULL, *what = NULL;
        struct curl_slist *hdrs = NULL;
        curl_off_t retry_after;
        unsigned attempt;
        CURLcode rc = CURLE_OK;
        size_t i;

        if (!valid_method(method))
                return bx_error_set(err, BX_FAIL_SYSTEM, EINVAL, "HTTP method '%s'",
                                    method ? method : "(null)");
        if (!valid_path(path_and_query))
                return bx_error_set(err, BX_FAIL_SYSTEM, EINVAL,
                                    "HTTP path for '%s' is not an encoded absolute path",
                                    h->base_url);
        for (i = 0; headers && headers[i]; i++)
                if (!valid_header(headers[i]))
                        return bx_error_set(err, BX_FAIL_SYSTEM, EINVAL,
                                            "HTTP header %zu for '%s' is not allowed", i,
                                            h->base_url);
        if (json_body && (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0))
                return bx_error_set(err, BX_FAIL_SYSTEM, EINVAL, "a body with %s", method);

        what = describe(method, path_and_query);
        if (new_request_id(h->request_id) < 0)
                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                    "cannot reach '%s' (%s): no random bytes for a request id",
                                    h->base_url, what);
        hdrs = build_headers(h, headers, json_body != NULL);
        if (!hdrs)
                return bx_error_set(err, BX_FAIL_SYSTEM, ENOMEM, "cannot reach '%s' (%s)",
                                    h->base_url, what);
        url = bx_xasprintf("%s%s", h->base_url, path_and_query);

        for (attempt = 1;; attempt++) {
                rc = perform(h, method, url, hdrs, json_body, &a, errbuf);
                retry_after = 0;
                if (rc == CURLE_OK) {
                        if (r.status != 429 && r.status < 500)
                                break;
                        curl_easy_getinfo(h->curl, CURLINFO_RETRY_AFTER, &retry_after);
                } else if (a.body.too_big || !transient(rc)) {
                        break;
                }
                if (attempt >= h->attempts)
                        break;
                sleep_ms(backoff(h, attempt + 1, retry_after));
        }
        wipe_headers(hdrs);

        if (rc == CURLE_OK) {
                r.attempts = attempt;
                memcpy(r.request_id, h->request_id, sizeof(r.request_id));
                *ret = r;
                return 0;
        }
        response_clear(&r);
        if (a.body.too_big || rc == CURLE_FILESIZE_EXCEEDED)
                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                    "the answer of '%s' (%s) is larger than %zu bytes", h->base_url,
                                    what, h->body_max);
        if (attempt > 1)
                bx_error_set(err, BX_FAIL_SYSTEM, 0, "cannot reach '%s' (%s): %s after %u attempts",
                             h->base_url, what, errbuf[0] ? errbuf : curl_easy_strerror(rc),
                             attempt);
        else
                bx_error_set(err, BX_FAIL_SYSTEM, 0, "cannot reach '%s' (%s): %s", h->base_url,
                             what, errbuf[0] ? errbuf : curl_easy_strerror(rc));
        if (tls_trust_failure(rc))
                return bx_error_hint(err,
                                     "the server's certificate is not trusted or does not name "
                                     "the host in the URL; %s%s%s",
                                     h->ca_file ? "check the CA file '" : "",
                                     h->ca_file ? h->ca_file : "give the CA that signed it",
                                     h->ca_file ? "'" : "");
        return bx_error_hint(err, "is the server up, and reachable from this host? (request id %s)",
                             h->request_id);
}

char *bx_http_one_line(char *text, size_t max)
{
        size_t i, n = strlen(text);

        if (n > max)
                text[n = max] = '\0';
        for (i = 0; i < n; i++)
                if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
                        text[i] = ' ';
        while (n && text[n - 1] == ' ')
                text[--n] = '\0';
        return text;
}

char *bx_http_escape(const char *s)
{
        static const char hex[] = "0123456789ABCDEF";
        struct bx_buf b = BX_BUF_INIT(0);

        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;

                if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_' || c == '~') {
                        bx_buf_addch(&b, (char)c);
                } else {
                        bx_buf_addch(&b, '%');
                        bx_buf_addch(&b, hex[c >> 4]);
                        bx_buf_addch(&b, hex[c & 15]);
                }
        }
        return bx_buf_detach(&b, NULL);
}

/* ---- redaction ----------------------------------------------------------- */

static bool is_ident(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
}

static bool is_b64url(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
}

static bool is_token68(char c)
{
        return is_b64url(c) || c == '.' || c == '~' || c == '+' || c == '/';
}

/* Length of the word `w` (ASCII, case-insensitive) at s, or 0. */
static size_t word_at(const char *s, const char *w)
{
        size_t n = strlen(w);

        return strncasecmp(s, w, n) == 0 ? n : 0;
}

/*
 * The end of a value that starts at v: a quoted string ("..." or, inside a
 * JSON string, \"...\") up to its closing quote, else up to a separator
 * (or the end of the line with to_eol).  *open_len is the length of the
 * opening quote, 0 if none.
 */
static const char *value_end(const char *v, size_t *open_len, bool to_eol)
{
        const char *p;

        if (v[0] == '"') {
                *open_len = 1;
                for (p = v + 1; *p && *p != '"'; p++)
                        if (*p == '\\' && p[1])
                                p++;
                return p;
        }
        if (v[0] == '\\' && v[1] == '"') {
                *open_len = 2;
                for (p = v + 2; *p && !(p[0] == '\\' && p[1] == '"'); p++)
                        ;
                return p;
        }
        *open_len = 0;
        for (p = v; *p && *p != '\r' && *p != '\n'; p++)
                if (!to_eol && strchr("&,;}]'\" \t\\", *p))
                        break;
        return p;
}

/*
 * At s: NAME, an optional closing quote (" or \"), spaces, ':' or '=',
 * spaces -- the position of the value, or NULL.
 */
static const char *after_key(const char *s, size_t name_len)
{
        const char *p = s + name_len;

        if (is_ident(*p))
                return NULL;
        if (p[0] == '\\' && p[1] == '"')
                p += 2;
        else if (*p == '"')
                p++;
        while (*p == ' ' || *p == '\t')
                p++;
        if (*p != ':' && *p != '=')
                return NULL;
        p++;
        while (*p == ' ' || *p == '\t')
                p++;
        return p;
}

/* Emit a key's text through its value, with the value replaced; returns the input consumed. */
static size_t redact_value(struct bx_buf *out, const char *s, const char *v, bool to_eol)
{
        size_t open_len;
        const char *end = value_end(v, &open_len, to_eol);

        if (end == v + open_len && !open_len)
                return 0; /* nothing there to hide */
        bx_buf_add(out, s, (size_t)(v - s) + open_len);
        bx_buf_adds(out, REDACTED);
        return (size_t)(end - s);
}

static const char *const secret_keys[] = {
    "client_secret", "access_token", "refresh_token", "id_token", "password",
    "passwd",        "secret",       "token",         NULL,
};

static size_t try_keys(struct bx_buf *out, const char *text, const char *s)
{
        const char *v;
        size_t i, n;

        if (s > text && is_ident(s[-1]))
                return 0;
        n = word_at(s, "proxy-authorization");
        if (!n)
                n = word_at(s, "authorization");
        if (n && (v = after_key(s, n)))
                return redact_value(out, s, v, true);
        for (i = 0; secret_keys[i]; i++) {
                n = word_at(s, secret_keys[i]);
                if (n && (v = after_key(s, n)))
                        return redact_value(out, s, v, false);
        }
        return 0;
}

/* "Basic xyz", "Bearer xyz": the scheme word, then a token68 credential. */
static size_t try_scheme(struct bx_buf *out, const char *text, const char *s)
{
        const char *p, *t;
        size_t n;

        if (s > text && is_ident(s[-1]))
                return 0;
        n = word_at(s, "basic ");
        if (!n)
                n = word_at(s, "bearer ");
        if (!n)
                return 0;
        t = s + n;
        while (*t == ' ')
                t++;
        for (p = t; is_token68(*p); p++)
                ;
        while (*p == '=')
                p++;
        /* `Bearer realm="..."` is a challenge, not a credential. */
        if (p - t < 4 || *p == '"' || is_ident(*p))
                return 0;
        bx_buf_add(out, s, n);
        bx_buf_adds(out, REDACTED);
        return (size_t)(p - s);
}

/* eyJ... (base64url of '{"'): a JWT or its header alone. */
static size_t try_jwt(struct bx_buf *out, const char *s)
{
        const char *p = s;
        bool dot = false;

        if (strncmp(s, "eyJ", 3) != 0)
                return 0;
        for (p = s + 3; is_b64url(*p) || *p == '.'; p++)
                if (*p == '.')
                        dot = true;
        if (!dot && p - s < 16)
                return 0;
        bx_buf_adds(out, REDACTED);
        return (size_t)(p - s);
}

/* At "://": userinfo before an '@' in the authority. */
static size_t try_userinfo(struct bx_buf *out, const char *s)
{
        const char *p, *auth;

        if (strncmp(s, "://", 3) != 0)
                return 0;
        auth = s + 3;
        for (p = auth; *p && !strchr("/?#@ \t\r\n\"'<>\\", *p); p++)
                ;
        if (*p != '@' || p == auth)
                return 0;
        bx_buf_adds(out, "://" REDACTED);
        return (size_t)(p - s);
}

char *bx_http_redact(const char *text)
{
        struct bx_buf out = BX_BUF_INIT(0);
        const char *s = text;
        size_t n;

        if (!text)
                return NULL;
        while (*s) {
                n = try_userinfo(&out, s);
                if (!n)
                        n = try_keys(&out, text, s);
                if (!n)
                        n = try_scheme(&out, text, s);
                if (!n)
                        n = try_jwt(&out, s);
                if (n) {
                        s += n;
                        continue;
                }
                bx_buf_addch(&out, *s++);
        }
        return bx_buf_detach(&out, NULL);
}
