/* SPDX-License-Identifier: MIT */
#ifndef BX_HTTP_H
#define BX_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct bx_error;

/*
 * One HTTP(S) client on libcurl, for JSON APIs behind a base URL (Harbor's).
 *
 * What every request gets, and what it never gets:
 *   - TLS peer and host name verification, always; the CA file of the
 *     options or the system's CAs.  TLS 1.2 at least.
 *   - http and https only, and no redirect is followed: a redirect would
 *     carry the Authorization header to wherever it points.  A 3xx is
 *     returned as a response like any other.
 *   - No cookie engine, no cookie jar: Harbor checks CSRF tokens only on
 *     requests that carry its session cookie, so a client that never sends
 *     cookies needs none.
 *   - No CURLOPT_VERBOSE, ever: it would print the Authorization header.
 *   - HTTP basic auth when a username is given, sent only to the base URL.
 *   - An X-Request-Id header: 32 random hex characters, one per call of
 *     bx_http_request() (all attempts of that call carry the same id), so a
 *     record of the driver can be matched with the server's logs.
 *   - The proxy environment variables (https_proxy, no_proxy, ...) are
 *     honoured, as libcurl does by default.
 *
 * Retries: transport failures (connection refused or reset, timeouts, an
 * empty or cut-off answer, a failed name lookup) and answers 5xx and 429 are
 * retried, up to `attempts` in all, with exponential backoff (base, doubling,
 * capped; a Retry-After of the server lengthens the wait, within the cap).
 * Everything else -- any other 1xx..4xx, a certificate that does not verify,
 * a bad URL, an answer larger than the limit -- ends the call at once.
 * POST is retried like every other method, so a request whose answer was lost
 * may have been carried out: the caller sees `attempts` > 1 in the response
 * and can tell a "409 already exists" of its own first attempt from another.
 *
 * A struct bx_http is not thread-safe: one per thread.
 */
struct bx_http;

struct bx_http_opts {
        /*
         * "https://harbor.example:8443" or "http://...", optionally with a path
         * prefix ("https://example/harbor").  No user:password@, no query, no
         * fragment.  A trailing '/' is dropped.  Required.
         */
        const char *base_url;
        const char *ca_file;     /* PEM bundle to trust; NULL: the system's CAs */
        const char *username;    /* basic auth; NULL: none (then secret must be NULL too) */
        const char *secret;      /* copied (as the ready Authorization header); wiped by free */
        long connect_timeout_ms; /* 0: 10 s */
        long timeout_ms;         /* one attempt, connect included; 0: 60 s */
        unsigned attempts;       /* in all, the first included; 0: 4 */
        unsigned backoff_ms;     /* wait before the 2nd attempt, doubling after; 0: 200 ms */
        unsigned backoff_max_ms; /* cap of one wait; 0: 5 s */
        size_t body_max;         /* largest response body accepted; 0: 4 MiB */
};
#define BX_HTTP_OPTS_INIT                                                                          \
        {                                                                                          \
                .base_url = NULL                                                                   \
        }

#define BX_HTTP_REQUEST_ID_LEN 32

/*
 * What came back.  All strings are owned by the struct; release it with
 * bx_http_response_release().  Headers that were absent are NULL.
 */
struct bx_http_response {
        long status;        /* 100..599 */
        struct bx_buf body; /* bounded by body_max; always NUL terminated */
        char *location;     /* Location */
        char *total_count;  /* X-Total-Count, as sent */
        char *content_type; /* Content-Type */
        unsigned attempts;  /* how many attempts this answer took, 1.. */
        char request_id[BX_HTTP_REQUEST_ID_LEN + 1]; /* the X-Request-Id we sent */
};
#define BX_HTTP_RESPONSE_INIT                                                                      \
        {                                                                                          \
                .status = 0, .body = BX_BUF_INIT(0)                                                \
        }

/*
 * Check the options and prepare a client; nothing is connected yet.  Fails
 * (BX_FAIL_SYSTEM) on a base URL that is not http(s), has credentials in it
 * (the message then does not repeat them), a query or a fragment; on a
 * secret without a username; on a CA file that cannot be read.  *ret is owned
 * by the caller: bx_http_free().
 */
int bx_http_new(const struct bx_http_opts *opts, struct bx_http **ret, struct bx_error **err);

/* NULL-safe; wipes the secret; returns NULL. */
struct bx_http *bx_http_free(struct bx_http *h);

/* The base URL without a trailing '/' (borrowed; never holds credentials). */
const char *bx_http_url(const struct bx_http *h);

/* The basic-auth username, or NULL (borrowed). */
const char *bx_http_username(const struct bx_http *h);

/*
 * The X-Request-Id of the latest bx_http_request() call, answered or not
 * ("" before the first), so a failure can be matched with the server's logs.
 */
const char *bx_http_last_request_id(const struct bx_http *h);

/*
 * Send `method` ("GET", "HEAD", "POST", "PUT", "PATCH" or "DELETE") to base
 * URL + path_and_query.  path_and_query starts with '/', is already
 * percent-encoded (bx_http_escape()), and holds no space, control character
 * or '#'.  json_body, when not NULL, is sent with Content-Type:
 * application/json.  `headers` (bx_http_request_headers() only) is a NULL
 * terminated list of extra "Name: value" lines; none may be Authorization or
 * Cookie, none may hold CR or LF.
 *
 * Returns 0 when an answer arrived, whatever its status (the caller decides;
 * a 5xx or 429 that is still there after the last attempt is such an answer),
 * and fills *ret, which the caller releases.  *ret is written only then.
 *
 * Returns -1 with *err set (BX_FAIL_SYSTEM, with a hint) when no answer could
 * be had:
 *   "cannot reach 'https://harbor.test:9443' (POST /api/v2.0/robots):
 *    <curl's reason> after 4 attempts"
 * (" after N attempts" only when there was more than one), or when the answer
 * was larger than body_max, or on invalid arguments.  Query strings are not
 * shown in messages.
 */
int bx_http_request(struct bx_http *h, const char *method, const char *path_and_query,
                    const char *json_body, struct bx_http_response *ret, struct bx_error **err);
int bx_http_request_headers(struct bx_http *h, const char *method, const char *path_and_query,
                            const char *const *headers, const char *json_body,
                            struct bx_http_response *ret, struct bx_error **err);

/* Free what a response owns; it is BX_HTTP_RESPONSE_INIT-like (status 0) after.  NULL-safe. */
void bx_http_response_release(struct bx_http_response *r);

/*
 * Like bx_http_response_release(), but first overwrite the body with
 * OPENSSL_cleanse: for answers that carry a secret.
 */
void bx_http_response_release_wipe(struct bx_http_response *r);

/*
 * Percent-encode s for use in a path segment or a query value: everything but
 * RFC 3986's unreserved characters (A-Z a-z 0-9 - . _ ~) becomes %XX, so '+'
 * is "%2B" and '/' is "%2F".  Never NULL; free() it.
 */
char *bx_http_escape(const char *s);

/*
 * A copy of `text` with every credential replaced by "[REDACTED]", for text
 * that came from outside (an answer's body) or that might hold a credential,
 * before it goes into a message or a log:
 *   - the value of an Authorization or Proxy-Authorization header
 *     ("Authorization: Basic xyz" -> "Authorization: [REDACTED]"), also in
 *     JSON ("authorization":"...") form;
 *   - a "Basic <credentials>" or "Bearer <token>" anywhere;
 *   - the value of the keys secret, password, passwd, token, access_token,
 *     refresh_token, id_token and client_secret, in JSON ("secret":"S3cret"),
 *     in JSON quoted inside a string (\"secret\":\"S3cret\"), in forms and
 *     query strings (password=x&...) and in "key: value" text;
 *   - JWT-looking strings (eyJ...);
 *   - user:password@ (or user@) in URLs.
 * It errs on the side of removing too much.  Never NULL for a non-NULL text
 * (NULL for NULL); free() it.
 */
char *bx_http_redact(const char *text);

/*
 * Pieces of this client for lib/'s other libcurl user (docker.c), so that
 * both bound a body, read a header and show a server's words the same way.
 */

/*
 * A bounded response body: bx_http_body_cb() is a CURLOPT_WRITEFUNCTION
 * whose CURLOPT_WRITEDATA is a struct bx_http_body.  It appends what curl
 * hands it to *buf, up to buf->max; the write that would pass it sets
 * too_big and returns 0, which makes curl fail with CURLE_WRITE_ERROR.
 */
struct bx_http_body {
        struct bx_buf *buf; /* borrowed */
        bool too_big;
};
size_t bx_http_body_cb(char *data, size_t size, size_t nmemb, void *userdata);

/*
 * For a CURLOPT_HEADERFUNCTION: the value of the header line data[0..n) if
 * its name is `name` (with the ':', "location:"; in any case), without the
 * blanks around it and the CR LF; NULL when the name is another or the
 * value is longer than 8 KiB.  free() it.
 */
char *bx_http_header_value(const char *data, size_t n, const char *name);

/*
 * Make `text` (writable: a copy of a server's error message, say) fit one
 * line of a message, in place: cut after `max` bytes, every control
 * character becomes a space, and trailing spaces go.  Returns text.
 */
char *bx_http_one_line(char *text, size_t max);

#endif
