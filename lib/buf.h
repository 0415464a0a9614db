/* SPDX-License-Identifier: MIT */
#ifndef BX_BUF_H
#define BX_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * A growable byte buffer with a hard size limit (git's strbuf invariants with
 * curl's dynbuf "toobig"): everything from outside -- child output, HTTP
 * bodies, JSON -- is bounded.
 *
 * Invariants: `buf` is never NULL after BX_BUF_INIT/bx_buf_init(), always NUL
 * terminated, `len` excludes the NUL.  An append that would pass `max` fails
 * with -E2BIG and leaves the buffer unchanged.  max == 0 means no limit.
 */
struct bx_buf {
        char *buf;
        size_t len;
        size_t alloc;
        size_t max;
};

extern char bx_buf_empty_[];
#define BX_BUF_INIT(maxlen) {.buf = bx_buf_empty_, .len = 0, .alloc = 0, .max = (maxlen)}

void bx_buf_init(struct bx_buf *b, size_t max);
void bx_buf_release(struct bx_buf *b); /* frees; the buffer is reusable after */
void bx_buf_reset(struct bx_buf *b);   /* len = 0, keeps memory */
/* Take the bytes; the buffer is empty and reusable after. Never NULL. */
char *bx_buf_detach(struct bx_buf *b, size_t *ret_len);

int bx_buf_add(struct bx_buf *b, const void *data, size_t len);
int bx_buf_adds(struct bx_buf *b, const char *s);
int bx_buf_addch(struct bx_buf *b, char c);
int bx_buf_addf(struct bx_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int bx_buf_vaddf(struct bx_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/*
 * A NULL-terminated vector of owned strings, for argv and environments
 * (git's strvec).  v is never NULL after BX_STRV_INIT.
 */
struct bx_strv {
        char **v;
        size_t n;
        size_t alloc;
};

extern char *bx_strv_empty_[];
#define BX_STRV_INIT {.v = bx_strv_empty_, .n = 0, .alloc = 0}

void bx_strv_init(struct bx_strv *s);
void bx_strv_release(struct bx_strv *s);
void bx_strv_push(struct bx_strv *s, const char *str);
void bx_strv_pushf(struct bx_strv *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Push each argument until a NULL. */
void bx_strv_pushl(struct bx_strv *s, ...) __attribute__((sentinel));
/* Take ownership of an already allocated string. */
void bx_strv_push_take(struct bx_strv *s, char *str);

/*
 * Environment helpers over "KEY=VALUE" entries: set replaces an existing KEY
 * in place (last wins, order kept), get returns the value or NULL.
 */
void bx_strv_setenv(struct bx_strv *env, const char *key, const char *value);
const char *bx_strv_getenv(const struct bx_strv *env, const char *key);
void bx_strv_unsetenv(struct bx_strv *env, const char *key);
bool bx_strv_contains(const struct bx_strv *s, const char *str);

#endif
