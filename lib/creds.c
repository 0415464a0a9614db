/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "buf.h"
#include "cleanup.h"
#include "creds.h"
#include "error.h"
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
                size_t len;

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
                if (bx_read_file(r->password_file, SECRET_MAX, &secret, &len, err) < 0)
                        return bx_error_wrap(err, "credentials for '%s'", r->host);
                secret[strcspn(secret, "\r\n")] = '\0';
                if (!*secret) {
                        wipe_free(secret);
                        return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                            "credentials for '%s': password file '%s' is empty",
                                            r->host, r->password_file);
                }
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

int bx_creds_ca_bundle(const struct bx_settings *s, const char *path, struct bx_error **err)
{
        struct bx_buf b = BX_BUF_INIT(64u << 20);
        char *data = NULL;
        size_t i, len, n = 0;
        int r;

        for (i = 0; i < s->n_registries; i++)
                if (s->registries[i].ca)
                        n++;
        if (n == 0)
                return 1;
        if (bx_read_file(SYSTEM_CA_BUNDLE, 16u << 20, &data, &len, err) == 0) {
                bx_buf_add(&b, data, len);
                free(data);
        } else {
                /* No system bundle (ca-certificates missing): the configured CAs alone. */
                bx_error_clear(err);
        }
        for (i = 0; i < s->n_registries; i++) {
                const char *ca = s->registries[i].ca;

                if (!ca)
                        continue;
                if (bx_read_file(ca, 1u << 20, &data, &len, err) < 0) {
                        bx_buf_release(&b);
                        return bx_error_wrap(err, "CA bundle");
                }
                if (b.len && b.buf[b.len - 1] != '\n')
                        bx_buf_addch(&b, '\n');
                bx_buf_add(&b, data, len);
                free(data);
        }
        r = bx_write_file(path, b.buf, b.len, 0644, err);
        bx_buf_release(&b);
        return r < 0 ? bx_error_wrap(err, "CA bundle") : 0;
}
