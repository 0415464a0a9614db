/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "buf.h"
#include "util.h"
#include "banned.h"

char bx_buf_empty_[1];
char *bx_strv_empty_[1];

void bx_buf_init(struct bx_buf *b, size_t max)
{
        b->buf = bx_buf_empty_;
        b->len = 0;
        b->alloc = 0;
        b->max = max;
}

void bx_buf_release(struct bx_buf *b)
{
        if (b->alloc)
                free(b->buf);
        bx_buf_init(b, b->max);
}

void bx_buf_reset(struct bx_buf *b)
{
        b->len = 0;
        if (b->alloc)
                b->buf[0] = '\0';
}

char *bx_buf_detach(struct bx_buf *b, size_t *ret_len)
{
        char *p;

        if (ret_len)
                *ret_len = b->len;
        p = b->alloc ? b->buf : bx_xstrdup("");
        bx_buf_init(b, b->max);
        return p;
}

static int grow(struct bx_buf *b, size_t extra)
{
        size_t want, n;

        if (extra > SIZE_MAX - b->len - 1)
                return -E2BIG;
        want = b->len + extra + 1;
        if (b->max && want - 1 > b->max)
                return -E2BIG;
        if (want <= b->alloc)
                return 0;
        n = b->alloc ? b->alloc : 64;
        while (n < want)
                n = n > SIZE_MAX / 2 ? want : n * 2;
        if (b->alloc) {
                b->buf = bx_xrealloc(b->buf, n);
        } else {
                b->buf = bx_xmalloc(n);
                b->buf[0] = '\0';
        }
        b->alloc = n;
        return 0;
}

int bx_buf_add(struct bx_buf *b, const void *data, size_t len)
{
        int r = grow(b, len);

        if (r < 0)
                return r;
        if (len)
                memcpy(b->buf + b->len, data, len);
        b->len += len;
        if (b->alloc)
                b->buf[b->len] = '\0';
        return 0;
}

int bx_buf_adds(struct bx_buf *b, const char *s)
{
        return bx_buf_add(b, s, strlen(s));
}

int bx_buf_addch(struct bx_buf *b, char c)
{
        return bx_buf_add(b, &c, 1);
}

int bx_buf_vaddf(struct bx_buf *b, const char *fmt, va_list ap)
{
        va_list cp;
        int n, r;

        va_copy(cp, ap);
        n = vsnprintf(NULL, 0, fmt, cp);
        va_end(cp);
        if (n < 0)
                return -EINVAL;
        r = grow(b, (size_t)n);
        if (r < 0)
                return r;
        vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
        b->len += (size_t)n;
        return 0;
}

int bx_buf_addf(struct bx_buf *b, const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = bx_buf_vaddf(b, fmt, ap);
        va_end(ap);
        return r;
}

void bx_strv_init(struct bx_strv *s)
{
        s->v = bx_strv_empty_;
        s->n = 0;
        s->alloc = 0;
}

void bx_strv_release(struct bx_strv *s)
{
        size_t i;

        if (s->alloc) {
                for (i = 0; i < s->n; i++)
                        free(s->v[i]);
                free(s->v);
        }
        bx_strv_init(s);
}

void bx_strv_push_take(struct bx_strv *s, char *str)
{
        if (s->n + 2 > s->alloc) {
                size_t n = s->alloc ? s->alloc * 2 : 16;

                s->v = s->alloc ? bx_xrealloc(s->v, n * sizeof(char *))
                                : bx_xmalloc(n * sizeof(char *));
                s->alloc = n;
        }
        s->v[s->n++] = str;
        s->v[s->n] = NULL;
}

void bx_strv_push(struct bx_strv *s, const char *str)
{
        bx_strv_push_take(s, bx_xstrdup(str));
}

void bx_strv_pushf(struct bx_strv *s, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        bx_strv_push_take(s, bx_xvasprintf(fmt, ap));
        va_end(ap);
}

void bx_strv_pushl(struct bx_strv *s, ...)
{
        va_list ap;
        const char *a;

        va_start(ap, s);
        while ((a = va_arg(ap, const char *)))
                bx_strv_push(s, a);
        va_end(ap);
}

static ssize_t env_find(const struct bx_strv *env, const char *key)
{
        size_t klen = strlen(key), i;

        for (i = 0; i < env->n; i++)
                if (strncmp(env->v[i], key, klen) == 0 && env->v[i][klen] == '=')
                        return (ssize_t)i;
        return -1;
}

void bx_strv_setenv(struct bx_strv *env, const char *key, const char *value)
{
        ssize_t i = env_find(env, key);
        char *kv = bx_xasprintf("%s=%s", key, value);

        if (i < 0) {
                bx_strv_push_take(env, kv);
        } else {
                free(env->v[i]);
                env->v[i] = kv;
        }
}

const char *bx_strv_getenv(const struct bx_strv *env, const char *key)
{
        ssize_t i = env_find(env, key);

        return i < 0 ? NULL : env->v[i] + strlen(key) + 1;
}

void bx_strv_unsetenv(struct bx_strv *env, const char *key)
{
        ssize_t i = env_find(env, key);

        if (i < 0)
                return;
        free(env->v[i]);
        memmove(env->v + i, env->v + i + 1, (env->n - (size_t)i) * sizeof(char *));
        env->n--;
}

bool bx_strv_contains(const struct bx_strv *s, const char *str)
{
        size_t i;

        for (i = 0; i < s->n; i++)
                if (strcmp(s->v[i], str) == 0)
                        return true;
        return false;
}
