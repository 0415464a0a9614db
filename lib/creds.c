/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "buf.h"
#include "cleanup.h"
#include "creds.h"
#include "error.h"
#include "harbor.h"
#include "http.h"
#include "settings.h"
#include "util.h"
#include "banned.h"

#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
#define SECRET_MAX 4096

static void wipe_free(char *s)
{
        if (s) {
                OPENSSL_cleanse(s, strlen(s));
                free(s);
        }
}

int bx_creds_read_secret(const char *path, char **ret, struct bx_error **err)
{
        char *secret = NULL;
        size_t len;

        if (bx_read_file(path, SECRET_MAX, &secret, &len, err) < 0)
                return -1;
        secret[strcspn(secret, "\r\n")] = '\0';
        if (!*secret) {
                wipe_free(secret);
                return bx_error_set(err, BX_FAIL_SYSTEM, 0, "'%s' holds no secret (empty first line)",
                                    path);
        }
        *ret = secret;
        return 0;
}

void bx_creds_free_secret(char *secret)
{
        wipe_free(secret);
}

void bx_creds_add(struct bx_creds *c, const char *host, const char *username, const char *secret)
{
        size_t i;

        for (i = 0; i < c->n; i++)
                if (strcmp(c->items[i].host, host) == 0)
                        break;
        if (i == c->n) {
                c->items = bx_xrealloc(c->items, (c->n + 1) * sizeof(*c->items));
                c->items[c->n++].host = bx_xstrdup(host);
        } else {
                free(c->items[i].username);
                wipe_free(c->items[i].secret);
        }
        c->items[i].username = bx_xstrdup(username);
        c->items[i].secret = bx_xstrdup(secret);
}

void bx_creds_release(struct bx_creds *c)
{
        size_t i;

        for (i = 0; i < c->n; i++) {
                free(c->items[i].host);
                free(c->items[i].username);
                wipe_free(c->items[i].secret);
        }
        free(c->items);
        c->items = NULL;
        c->n = 0;
}

int bx_creds_add_static(struct bx_creds *c, const struct bx_settings *s, const char *project_path,
                        bool ref_protected, struct bx_strv *notes, struct bx_error **err)
{
        size_t i;

        for (i = 0; i < s->n_registries; i++) {
                const struct bx_registry *r = &s->registries[i];
                char *secret = NULL;

                if (!r->username || !r->password_file)
                        continue;
                if (!bx_settings_project_matches(&r->projects, project_path ? project_path : "")) {
                        bx_strv_pushf(notes, "no credentials for %s: project '%s' is not in its "
                                             "[[registry]] projects",
                                      r->host, project_path ? project_path : "?");
                        continue;
                }
                if (r->protected_only && !ref_protected) {
                        bx_strv_pushf(notes, "no credentials for %s: they are for protected refs "
                                             "only, and this ref is not protected",
                                      r->host);
                        continue;
                }
                if (bx_creds_read_secret(r->password_file, &secret, err) < 0)
                        return bx_error_wrap(err, "credentials for '%s'", r->host);
                bx_creds_add(c, r->host, r->username, secret);
                wipe_free(secret);
        }
        return 0;
}

static char *base64(const char *data, size_t len)
{
        char *out = bx_xmalloc(4 * ((len + 2) / 3) + 1);

        EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)data, (int)len);
        return out;
}

int bx_creds_write_docker_config(const struct bx_creds *c, const char *dir, struct bx_error **err)
{
        _cleanup_free_ char *path = bx_xasprintf("%s/config.json", dir);
        cJSON *doc = cJSON_CreateObject(), *auths = cJSON_AddObjectToObject(doc, "auths");
        char *text;
        size_t i;
        int r;

        for (i = 0; i < c->n; i++) {
                char *pair = bx_xasprintf("%s:%s", c->items[i].username, c->items[i].secret);
                char *enc = base64(pair, strlen(pair));
                cJSON *entry = cJSON_AddObjectToObject(auths, c->items[i].host);

                cJSON_AddStringToObject(entry, "auth", enc);
                wipe_free(pair);
                wipe_free(enc);
        }
        text = cJSON_Print(doc);
        /* cJSON keeps its own copies of the encoded secrets: wipe them before freeing. */
        for (cJSON *a = auths->child; a; a = a->next) {
                cJSON *v = cJSON_GetObjectItemCaseSensitive(a, "auth");

                if (cJSON_IsString(v))
                        OPENSSL_cleanse(v->valuestring, strlen(v->valuestring));
        }
        cJSON_Delete(doc);
        if (!text)
                return bx_error_errno(err, ENOMEM, "cannot format '%s'", path);
        r = bx_write_file(path, text, strlen(text), 0600, err);
        wipe_free(text);
        return r < 0 ? bx_error_wrap(err, "registry credentials") : 0;
}

int bx_creds_harbor_open(const struct bx_settings *s, struct bx_harbor **ret,
                         struct bx_error **err)
{
        struct bx_http_opts o = BX_HTTP_OPTS_INIT;
        char *secret = NULL;
        int r;

        if (bx_creds_read_secret(s->harbor_password_file, &secret, err) < 0)
                return bx_error_wrap(err, "[harbor] password_file");
        o.base_url = s->harbor_url;
        o.ca_file = s->harbor_ca;
        o.username = s->harbor_username;
        o.secret = secret;
        r = bx_harbor_new(&o, ret, err);
        wipe_free(secret);
        return r;
}

/* Append a PEM file to the bundle, on a line of its own. */
static int append_pem(struct bx_buf *b, const char *path, struct bx_error **err)
{
        char *data = NULL;
        size_t len;

        if (bx_read_file(path, 1u << 20, &data, &len, err) < 0)
                return -1;
        if (b->len && b->buf[b->len - 1] != '\n')
                bx_buf_addch(b, '\n');
        bx_buf_add(b, data, len);
        free(data);
        return 0;
}

int bx_creds_ca_bundle(const struct bx_settings *s, const char *path, struct bx_error **err)
{
        struct bx_buf b = BX_BUF_INIT(64u << 20);
        size_t i, n = 0;
        int r = 0;

        for (i = 0; i < s->n_registries; i++)
                if (s->registries[i].ca)
                        n++;
        if (n == 0 && !s->harbor_ca)
                return 1;
        /* No system bundle (ca-certificates missing): the configured CAs alone. */
        if (access(SYSTEM_CA_BUNDLE, R_OK) == 0)
                r = append_pem(&b, SYSTEM_CA_BUNDLE, err);
        for (i = 0; r == 0 && i < s->n_registries; i++)
                if (s->registries[i].ca)
                        r = append_pem(&b, s->registries[i].ca, err);
        /* Usually also a [[registry]] CA already; a duplicate certificate is harmless. */
        if (r == 0 && s->harbor_ca)
                r = append_pem(&b, s->harbor_ca, err);
        if (r == 0)
                r = bx_write_file(path, b.buf, b.len, 0644, err);
        bx_buf_release(&b);
        return r < 0 ? bx_error_wrap(err, "CA bundle") : 0;
}
