/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cleanup.h"
#include "error.h"
#include "util.h"
#include "banned.h"

static void oom(void)
{
        static const char msg[] = "buildx-executor: out of memory\n";

        (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
        _exit(bx_system_failure_code());
}

void *bx_xmalloc(size_t n)
{
        void *p = malloc(n ? n : 1);

        if (!p)
                oom();
        return p;
}

void *bx_xcalloc(size_t nmemb, size_t size)
{
        void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

        if (!p)
                oom();
        return p;
}

void *bx_xrealloc(void *p, size_t n)
{
        void *q = realloc(p, n ? n : 1);

        if (!q)
                oom();
        return q;
}

char *bx_xstrdup(const char *s)
{
        char *p = strdup(s);

        if (!p)
                oom();
        return p;
}

char *bx_xstrndup(const char *s, size_t n)
{
        char *p = strndup(s, n);

        if (!p)
                oom();
        return p;
}

char *bx_xvasprintf(const char *fmt, va_list ap)
{
        char *p;

        if (vasprintf(&p, fmt, ap) < 0)
                oom();
        return p;
}

char *bx_xasprintf(const char *fmt, ...)
{
        va_list ap;
        char *p;

        va_start(ap, fmt);
        p = bx_xvasprintf(fmt, ap);
        va_end(ap);
        return p;
}

int bx_parse_int64(const char *s, int64_t *ret)
{
        char *end;
        long long v;

        if (!s || !*s || (*s != '-' && (*s < '0' || *s > '9')))
                return -EINVAL;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (errno || *end)
                return -EINVAL;
        *ret = v;
        return 0;
}

int bx_parse_uint64(const char *s, uint64_t *ret)
{
        char *end;
        unsigned long long v;

        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (errno || *end)
                return -EINVAL;
        *ret = v;
        return 0;
}

int bx_parse_int(const char *s, int *ret)
{
        int64_t v;
        int r = bx_parse_int64(s, &v);

        if (r < 0)
                return r;
        if (v < INT_MIN || v > INT_MAX)
                return -ERANGE;
        *ret = (int)v;
        return 0;
}

bool bx_streq(const char *a, const char *b)
{
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}

bool bx_startswith(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool bx_endswith(const char *s, const char *suffix)
{
        size_t a = strlen(s), b = strlen(suffix);

        return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

char *bx_sha256_hex(const void *data, size_t len, size_t n)
{
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        char *hex;
        size_t i;

        if (n > 32)
                n = 32;
        if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL))
                oom(); /* only fails on allocation failure */
        hex = bx_xmalloc(2 * n + 1);
        for (i = 0; i < n; i++)
                snprintf(hex + 2 * i, 3, "%02x", md[i]);
        hex[2 * n] = '\0';
        return hex;
}

uint64_t bx_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

char *bx_now_rfc3339(void)
{
        struct timespec ts;
        struct tm tm;
        char buf[64];

        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
        return bx_xasprintf("%s.%03ldZ", buf, ts.tv_nsec / 1000000);
}

int bx_write_all(int fd, const void *buf, size_t len)
{
        const char *p = buf;

        while (len) {
                ssize_t n = write(fd, p, len);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

int bx_write_file(const char *path, const void *data, size_t len, mode_t mode,
                  struct bx_error **err)
{
        _cleanup_free_ char *tmp = bx_xasprintf("%s.tmp.%ld", path, (long)getpid());
        _cleanup_close_ int fd = -1;
        int r;

        (void)unlink(tmp);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd < 0)
                return bx_error_errno(err, errno, "cannot create '%s'", tmp);
        /* umask may have narrowed the mode; secrets must not be wider, others not narrower. */
        if (fchmod(fd, mode) < 0)
                r = -errno;
        else
                r = bx_write_all(fd, data, len);
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (r < 0) {
                (void)unlink(tmp);
                return bx_error_errno(err, -r, "cannot write '%s'", path);
        }
        if (rename(tmp, path) < 0) {
                r = errno;
                (void)unlink(tmp);
                return bx_error_errno(err, r, "cannot rename '%s' to '%s'", tmp, path);
        }
        return 0;
}

int bx_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len,
                 struct bx_error **err)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *data = NULL;
        size_t len = 0, alloc = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return bx_error_errno(err, errno, "cannot open '%s'", path);
        for (;;) {
                ssize_t n;

                if (len + 1 >= alloc) {
                        alloc = alloc ? alloc * 2 : 4096;
                        data = bx_xrealloc(data, alloc);
                }
                n = read(fd, data + len, alloc - len - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return bx_error_errno(err, errno, "cannot read '%s'", path);
                }
                if (n == 0)
                        break;
                len += (size_t)n;
                if (max && len > max)
                        return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                            "'%s' is larger than %zu bytes", path, max);
        }
        if (!data)
                data = bx_xmalloc(1);
        data[len] = '\0';
        *ret_data = TAKE_PTR(data);
        if (ret_len)
                *ret_len = len;
        return 0;
}

int bx_mkdir(const char *path, mode_t mode, struct bx_error **err)
{
        struct stat st;

        if (mkdir(path, mode) < 0 && errno != EEXIST)
                return bx_error_errno(err, errno, "cannot create directory '%s'", path);
        if (lstat(path, &st) < 0)
                return bx_error_errno(err, errno, "cannot stat '%s'", path);
        if (!S_ISDIR(st.st_mode))
                return bx_error_set(err, BX_FAIL_SYSTEM, 0, "'%s' exists and is not a directory",
                                    path);
        if (st.st_uid != geteuid())
                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                    "'%s' belongs to uid %u, not to the driver's uid %u", path,
                                    (unsigned)st.st_uid, (unsigned)geteuid());
        if ((st.st_mode & 07777) != mode && chmod(path, mode) < 0)
                return bx_error_errno(err, errno, "cannot chmod '%s'", path);
        return 0;
}

/* mkdir with exactly `mode` for a directory it creates (umask does not narrow it). */
static int mkdir_exact(const char *path, mode_t mode)
{
        if (mkdir(path, mode) < 0)
                return errno == EEXIST ? 0 : -errno;
        return chmod(path, mode) < 0 ? -errno : 0;
}

int bx_mkdir_p(const char *path, mode_t mode, struct bx_error **err)
{
        _cleanup_free_ char *p = bx_xstrdup(path);
        char *s;
        int r;

        for (s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = '\0';
                r = mkdir_exact(p, mode);
                if (r < 0)
                        return bx_error_errno(err, -r, "cannot create directory '%s'", p);
                *s = '/';
        }
        r = mkdir_exact(p, mode);
        if (r < 0)
                return bx_error_errno(err, -r, "cannot create directory '%s'", p);
        return 0;
}

static int rm_rf_at(int dfd, const char *name, dev_t dev, struct bx_error **err, const char *top)
{
        struct stat st;
        int fd, r = 0;
        DIR *d;
        struct dirent *de;

        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : bx_error_errno(err, errno, "cannot stat in '%s'", top);
        if (!S_ISDIR(st.st_mode)) {
                if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
                        return bx_error_errno(err, errno, "cannot remove '%s' in '%s'", name, top);
                return 0;
        }
        if (st.st_dev != dev)
                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                    "refusing to remove '%s' in '%s': it is a mount point", name,
                                    top);
        fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return bx_error_errno(err, errno, "cannot open '%s' in '%s'", name, top);
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return bx_error_errno(err, errno, "cannot read '%s' in '%s'", name, top);
        }
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                r = rm_rf_at(dirfd(d), de->d_name, dev, err, top);
                if (r < 0)
                        break;
        }
        closedir(d);
        if (r < 0)
                return r;
        if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                return bx_error_errno(err, errno, "cannot remove directory '%s' in '%s'", name, top);
        return 0;
}

int bx_rm_rf(const char *path, struct bx_error **err)
{
        struct stat st;

        /* ENOTDIR: a parent is not a directory, so the path cannot exist either. */
        if (lstat(path, &st) < 0)
                return errno == ENOENT || errno == ENOTDIR
                               ? 0
                               : bx_error_errno(err, errno, "cannot stat '%s'", path);
        return rm_rf_at(AT_FDCWD, path, st.st_dev, err, path);
}
