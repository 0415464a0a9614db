/* SPDX-License-Identifier: MIT */
#ifndef BX_UTIL_H
#define BX_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct bx_error;

/*
 * Allocation never fails from the caller's point of view: on OOM these print
 * "out of memory" and _exit() with the system-failure code (crun's OOM(),
 * git's xmalloc).  Programming errors use assert(); everything else returns.
 */
void *bx_xmalloc(size_t n);
void *bx_xcalloc(size_t nmemb, size_t size);
void *bx_xrealloc(void *p, size_t n);
char *bx_xstrdup(const char *s);
char *bx_xstrndup(const char *s, size_t n);
char *bx_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *bx_xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/*
 * Checked number parsing (systemd's safe_atoi): the whole string must be a
 * decimal number in range, no sign for the unsigned variant, no spaces.
 * Return 0 and write *ret, or -EINVAL / -ERANGE and leave *ret alone.
 */
int bx_parse_int64(const char *s, int64_t *ret);
int bx_parse_uint64(const char *s, uint64_t *ret);
int bx_parse_int(const char *s, int *ret);

bool bx_streq(const char *a, const char *b); /* NULL-safe */
bool bx_startswith(const char *s, const char *prefix);
bool bx_endswith(const char *s, const char *suffix);

/* Hex of the first n bytes of SHA-256(data), 2n characters.  n <= 32. */
char *bx_sha256_hex(const void *data, size_t len, size_t n);

/* Monotonic clock in milliseconds, and wall clock as RFC 3339 UTC with ms. */
uint64_t bx_now_ms(void);
char *bx_now_rfc3339(void);

/*
 * Files.  All descriptors are opened O_CLOEXEC.  bx_write_file() writes
 * atomically (temporary file in the same directory, fsync, rename) with the
 * given mode, so a reader never sees half a file and a secret never exists
 * with a wider mode, not even briefly.
 */
int bx_write_file(const char *path, const void *data, size_t len, mode_t mode,
                  struct bx_error **err);
int bx_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len,
                 struct bx_error **err);

/*
 * Create a directory with exactly `mode` (umask does not apply); succeed if it
 * exists already as a directory owned by us, and fix its mode.  Refuses a
 * symlink in its place.
 */
int bx_mkdir(const char *path, mode_t mode, struct bx_error **err);
/* mkdir -p with `mode` for every created component. */
int bx_mkdir_p(const char *path, mode_t mode, struct bx_error **err);

/*
 * rm -rf without following symlinks and without crossing mount points.
 * A missing path is success.
 */
int bx_rm_rf(const char *path, struct bx_error **err);

/* Write all of buf to fd, retrying on EINTR and short writes. */
int bx_write_all(int fd, const void *buf, size_t len);

#endif
