/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "binfmt.h"
#include "buf.h"
#include "cleanup.h"
#include "error.h"
#include "proc.h"
#include "settings.h"
#include "util.h"
#include "banned.h"

#define CONF_MAX 4096
#define ENTRY_MAX 8192
#define REGISTER_MAX 1920 /* the kernel's limit for one registration string */
#define HINT_INSTALL                                                                               \
        "install qemu-user-static and set [emulation] mode = \"host\", or register the handler "   \
        "with the binfmt image"

struct platform_def {
        const char *platform;
        const char *handler;
        const char *arch;      /* what the binfmt image's --install takes */
        const char *native[4]; /* uname machines that run it without emulation */
};

static const struct platform_def platforms[] = {
    {"linux/amd64", "qemu-x86_64", "amd64", {"x86_64"}},
    {"linux/386", "qemu-i386", "386", {"x86_64", "i686", "i586", "i386"}},
    {"linux/arm64", "qemu-aarch64", "arm64", {"aarch64", "arm64"}},
    {"linux/arm64/v8", "qemu-aarch64", "arm64", {"aarch64", "arm64"}},
    {"linux/arm/v7", "qemu-arm", "arm", {"armv7l", "armv8l"}},
    {"linux/arm", "qemu-arm", "arm", {"armv7l", "armv8l"}},
    {"linux/arm/v6", "qemu-arm", "arm", {"armv6l", "armv7l", "armv8l"}},
    {"linux/riscv64", "qemu-riscv64", "riscv64", {"riscv64"}},
    {"linux/ppc64le", "qemu-ppc64le", "ppc64le", {"ppc64le"}},
    {"linux/s390x", "qemu-s390x", "s390x", {"s390x"}},
};

static int host_machine(const char *machine, char *buf, size_t size, struct bx_error **err)
{
        struct utsname u;

        if (machine) {
                snprintf(buf, size, "%s", machine);
                return 0;
        }
        if (uname(&u) < 0)
                return bx_error_errno(err, errno, "uname");
        snprintf(buf, size, "%s", u.machine);
        return 0;
}

int bx_binfmt_platform(const char *platform, const char *machine, const char **ret_handler,
                       const char **ret_arch, bool *ret_native, struct bx_error **err)
{
        char m[65];
        size_t i, j;

        if (host_machine(machine, m, sizeof(m), err) < 0)
                return -1;
        for (i = 0; i < ARRAY_SIZE(platforms); i++) {
                const struct platform_def *p = &platforms[i];
                bool native = false;

                if (strcmp(p->platform, platform) != 0)
                        continue;
                for (j = 0; j < ARRAY_SIZE(p->native) && p->native[j]; j++)
                        if (strcmp(p->native[j], m) == 0)
                                native = true;
                if (ret_handler)
                        *ret_handler = p->handler;
                if (ret_arch)
                        *ret_arch = p->arch;
                if (ret_native)
                        *ret_native = native;
                return 0;
        }
        return bx_error_set(err, BX_FAIL_SYSTEM, 0, "unknown platform '%s'", platform);
}

const char *bx_binfmt_state_name(enum bx_binfmt_state st)
{
        switch (st) {
        case BX_BINFMT_MISSING:
                return "missing";
        case BX_BINFMT_DISABLED:
                return "disabled";
        case BX_BINFMT_NO_FIX:
                return "registered without the F flag";
        case BX_BINFMT_OK:
                return "ok";
        }
        return "?";
}

void bx_binfmt_entry_release(struct bx_binfmt_entry *e)
{
        if (!e)
                return;
        free(e->interpreter);
        free(e->flags);
        memset(e, 0, sizeof(*e));
}

enum bx_binfmt_state bx_binfmt_entry_state(const struct bx_binfmt_entry *e)
{
        if (!e->exists)
                return BX_BINFMT_MISSING;
        if (!e->enabled)
                return BX_BINFMT_DISABLED;
        if (!e->flags || !strchr(e->flags, 'F'))
                return BX_BINFMT_NO_FIX;
        return BX_BINFMT_OK;
}

int bx_binfmt_parse_entry(const char *text, struct bx_binfmt_entry *ret, struct bx_error **err)
{
        struct bx_binfmt_entry e = {.exists = true};
        const char *p = text;
        bool first = true;

        while (*p) {
                const char *eol = strchr(p, '\n');
                size_t len = eol ? (size_t)(eol - p) : strlen(p);
                const char *line = p;

                p = eol ? eol + 1 : p + len;
                while (len && (line[len - 1] == ' ' || line[len - 1] == '\r'))
                        len--;
                if (first) {
                        first = false;
                        if (len == 7 && memcmp(line, "enabled", 7) == 0) {
                                e.enabled = true;
                        } else if (len == 8 && memcmp(line, "disabled", 8) == 0) {
                                e.enabled = false;
                        } else {
                                bx_binfmt_entry_release(&e);
                                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                                    "binfmt_misc entry does not start with "
                                                    "'enabled' or 'disabled'");
                        }
                } else if (len > 12 && memcmp(line, "interpreter ", 12) == 0) {
                        free(e.interpreter);
                        e.interpreter = bx_xstrndup(line + 12, len - 12);
                } else if (len >= 6 && memcmp(line, "flags:", 6) == 0) {
                        const char *f = line + 6;
                        size_t flen = len - 6;

                        while (flen && *f == ' ') {
                                f++;
                                flen--;
                        }
                        free(e.flags);
                        e.flags = bx_xstrndup(f, flen);
                }
        }
        if (first)
                return bx_error_set(err, BX_FAIL_SYSTEM, 0, "binfmt_misc entry is empty");
        *ret = e;
        return 0;
}

/* A handler name is one path component of binfmt_misc that is not a control file. */
static bool valid_handler(const char *h)
{
        return h && h[0] && h[0] != '.' && !strchr(h, '/') && strcmp(h, "register") != 0 &&
               strcmp(h, "status") != 0 && strlen(h) < 128;
}

int bx_binfmt_read_entry(const char *mount, const char *handler, struct bx_binfmt_entry *ret,
                         struct bx_error **err)
{
        _cleanup_free_ char *path = NULL, *text = NULL;
        struct bx_error *e = NULL;

        if (!valid_handler(handler))
                return bx_error_set(err, BX_FAIL_SYSTEM, 0, "invalid binfmt_misc handler name '%s'",
                                    handler ? handler : "(null)");
        path = bx_xasprintf("%s/%s", mount ? mount : BX_BINFMT_MOUNT, handler);
        if (bx_read_file(path, ENTRY_MAX, &text, NULL, &e) < 0) {
                if (e->errnum == ENOENT) {
                        bx_error_free(e);
                        memset(ret, 0, sizeof(*ret));
                        return 0;
                }
                if (err && !*err)
                        *err = e;
                else
                        bx_error_free(e);
                return -1;
        }
        if (bx_binfmt_parse_entry(text, ret, err) < 0)
                return bx_error_wrap(err, "'%s'", path);
        return 0;
}

static int entry_state(const char *mount, const char *handler, enum bx_binfmt_state *ret,
                       struct bx_error **err)
{
        struct bx_binfmt_entry e = {0};

        if (bx_binfmt_read_entry(mount, handler, &e, err) < 0)
                return -1;
        *ret = bx_binfmt_entry_state(&e);
        bx_binfmt_entry_release(&e);
        return 0;
}

/* Write `data` in one write(2): binfmt_misc parses each write as a whole. */
static int write_control(const char *path, const char *data)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        size_t len = strlen(data);
        ssize_t n;

        if (fd < 0)
                return -errno;
        n = write(fd, data, len);
        if (n < 0)
                return -errno;
        if ((size_t)n != len)
                return -EIO;
        return 0;
}

static int remove_entry(const char *mount, const char *handler, struct bx_error **err)
{
        _cleanup_free_ char *path = bx_xasprintf("%s/%s", mount, handler);
        int r = write_control(path, "-1");

        if (r < 0 && r != -ENOENT)
                return bx_error_errno(err, -r, "cannot remove binfmt_misc handler '%s'", handler);
        return 0;
}

static int ensure_mounted(const char *mount_point, struct bx_error **err)
{
        _cleanup_free_ char *reg = bx_xasprintf("%s/register", mount_point);
        struct stat st;

        if (stat(reg, &st) == 0)
                return 0;
        /* Only the real place: a test's fake directory must never become a mount point. */
        if (strcmp(mount_point, BX_BINFMT_MOUNT) != 0)
                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                    "binfmt_misc is not mounted on '%s' (no 'register' there)",
                                    mount_point);
        if (mount("binfmt_misc", mount_point, "binfmt_misc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  NULL) < 0 &&
            errno != EBUSY) {
                bx_error_errno(err, errno, "cannot mount binfmt_misc on '%s'", mount_point);
                return bx_error_hint(err, "the driver must run as root to register QEMU handlers");
        }
        if (stat(reg, &st) < 0)
                return bx_error_errno(err, errno,
                                      "binfmt_misc is mounted on '%s', but '%s' is "
                                      "not there",
                                      mount_point, reg);
        return 0;
}

/*
 * The registration line of a binfmt.d file, checked to be for `handler` and
 * with F in its flags.
 */
static int read_conf(const char *conf_path, const char *handler, char **ret, struct bx_error **err)
{
        _cleanup_free_ char *text = NULL;
        struct bx_buf line = BX_BUF_INIT(0);
        const char *p, *l = NULL, *f, *name_end;
        size_t len = 0, nfields = 0;
        char delim;

        if (bx_read_file(conf_path, CONF_MAX, &text, NULL, err) < 0)
                return bx_error_hint(err, HINT_INSTALL);
        for (p = text; *p;) {
                const char *eol = strchr(p, '\n');
                size_t n = eol ? (size_t)(eol - p) : strlen(p);
                const char *s = p;

                p = eol ? eol + 1 : p + n;
                while (n && (*s == ' ' || *s == '\t')) {
                        s++;
                        n--;
                }
                while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
                        n--;
                if (!n || *s == '#' || *s == ';')
                        continue;
                l = s;
                len = n;
                break;
        }
        if (!l)
                return bx_error_set(err, BX_FAIL_SYSTEM, 0, "'%s' holds no registration",
                                    conf_path);
        delim = l[0];
        for (f = l; f < l + len; f++)
                if (*f == delim)
                        nfields++;
        name_end = memchr(l + 1, delim, len - 1);
        /* ":name:type:offset:magic:mask:interpreter[:flags]": 6 or 7 delimiters. */
        if (nfields < 6 || nfields > 7 || !name_end ||
            (size_t)(name_end - l - 1) != strlen(handler) ||
            memcmp(l + 1, handler, strlen(handler)) != 0)
                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                    "'%s' is not a registration of '%s' "
                                    "(':name:type:offset:magic:mask:interpreter:flags')",
                                    conf_path, handler);
        bx_buf_add(&line, l, len);
        if (nfields == 6)
                bx_buf_addch(&line, delim);
        /* The flags are the last field: without F the builder's containers cannot use it. */
        f = memrchr(line.buf, delim, line.len);
        if (!strchr(f + 1, 'F'))
                bx_buf_addch(&line, 'F');
        if (line.len > REGISTER_MAX) {
                bx_buf_release(&line);
                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                    "'%s': the registration is longer than %d bytes", conf_path,
                                    REGISTER_MAX);
        }
        *ret = bx_buf_detach(&line, NULL);
        return 0;
}

int bx_binfmt_ensure_handler(const char *mount, const char *handler, const char *conf_path,
                             enum bx_binfmt_state *ret_before, bool *ret_registered,
                             struct bx_error **err)
{
        _cleanup_free_ char *line = NULL, *reg = NULL;
        enum bx_binfmt_state before, after;
        bool registered = false;
        int r;

        if (!mount)
                mount = BX_BINFMT_MOUNT;
        if (!valid_handler(handler))
                return bx_error_set(err, BX_FAIL_SYSTEM, 0, "invalid binfmt_misc handler name '%s'",
                                    handler ? handler : "(null)");
        if (ensure_mounted(mount, err) < 0 || entry_state(mount, handler, &before, err) < 0)
                return -1;
        if (before != BX_BINFMT_OK) {
                if (read_conf(conf_path, handler, &line, err) < 0)
                        return -1;
                /* Without F, or disabled: the kernel keeps the old entry until it is removed. */
                if (before != BX_BINFMT_MISSING && remove_entry(mount, handler, err) < 0)
                        return -1;
                reg = bx_xasprintf("%s/register", mount);
                r = write_control(reg, line);
                if (r == -EEXIST) {
                        /* A concurrent registration outside our lock (systemd-binfmt, another
                         * tool). */
                } else if (r < 0) {
                        bx_error_errno(err, -r,
                                       "cannot register binfmt_misc handler '%s' from '%s'",
                                       handler, conf_path);
                        if (r == -ENOENT)
                                return bx_error_hint(err, "is its interpreter installed? %s",
                                                     HINT_INSTALL);
                        if (r == -EPERM || r == -EACCES)
                                return bx_error_hint(err, "the driver must run as root to "
                                                          "register QEMU handlers");
                        return -1;
                } else {
                        registered = true;
                }
                if (entry_state(mount, handler, &after, err) < 0)
                        return -1;
                if (after != BX_BINFMT_OK)
                        return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                            "binfmt_misc handler '%s' is %s after registering it "
                                            "from '%s'",
                                            handler, bx_binfmt_state_name(after), conf_path);
        }
        if (ret_before)
                *ret_before = before;
        if (ret_registered)
                *ret_registered = registered;
        return 0;
}

int bx_binfmt_image_argv(const struct bx_settings *s, const struct bx_strv *archs,
                         struct bx_strv *ret, struct bx_error **err)
{
        struct bx_buf list = BX_BUF_INIT(0);
        size_t i;

        if (!s->binfmt_image || !s->binfmt_image[0] || s->binfmt_image[0] == '-')
                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                    "[emulation] mode = \"image\" needs a binfmt image, "
                                    "not '%s'",
                                    s->binfmt_image ? s->binfmt_image : "");
        if (!archs->n)
                return bx_error_set(err, BX_FAIL_SYSTEM, 0, "no architecture to install (a bug)");
        for (i = 0; i < archs->n; i++) {
                if (i)
                        bx_buf_addch(&list, ',');
                bx_buf_adds(&list, archs->v[i]);
        }
        bx_strv_push(ret, s->docker_cli && s->docker_cli[0] ? s->docker_cli : "docker");
        bx_strv_pushl(ret, "run", "--rm", "--privileged", s->binfmt_image, "--install", NULL);
        bx_strv_push_take(ret, bx_buf_detach(&list, NULL));
        return 0;
}

void bx_binfmt_report_release(struct bx_binfmt_report *r)
{
        size_t i;

        if (!r)
                return;
        for (i = 0; i < r->n_items; i++)
                free(r->items[i].platform);
        free(r->items);
        memset(r, 0, sizeof(*r));
}

/* An exclusive flock on `path`, waiting at most wait_ms.  Returns the fd or -1. */
static int take_lock(const char *path, uint64_t wait_ms, struct bx_error **err)
{
        _cleanup_free_ char *dir = bx_xstrdup(path);
        _cleanup_close_ int fd = -1;
        uint64_t start = bx_now_ms();
        char *slash = strrchr(dir, '/');

        if (slash && slash != dir) {
                *slash = '\0';
                if (bx_mkdir(dir, 0755, err) < 0)
                        return bx_error_wrap(err, "binfmt lock");
        }
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0644);
        if (fd < 0)
                return bx_error_errno(err, errno, "cannot open the binfmt lock '%s'", path);
        for (;;) {
                struct timespec ts = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};

                if (flock(fd, LOCK_EX | LOCK_NB) == 0)
                        return bx_take_fd(&fd);
                if (errno != EWOULDBLOCK && errno != EINTR)
                        return bx_error_errno(err, errno, "cannot lock '%s'", path);
                if (bx_now_ms() - start >= wait_ms)
                        return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                            "another job held the binfmt lock '%s' for more than "
                                            "%llu s",
                                            path, (unsigned long long)(wait_ms / 1000));
                nanosleep(&ts, NULL);
        }
}

static uint64_t timeout_ms(const struct bx_settings *s)
{
        return s->bootstrap_timeout > 0 ? (uint64_t)s->bootstrap_timeout * 1000 : 120000;
}

static int run_image(const struct bx_settings *s, const struct bx_strv *archs,
                     const struct bx_strv *env, struct bx_error **err)
{
        struct bx_proc p = BX_PROC_INIT;
        size_t i;
        int status;

        if (bx_binfmt_image_argv(s, archs, &p.argv, err) < 0)
                return -1;
        for (i = 0; env && i < env->n; i++)
                bx_strv_push(&p.env, env->v[i]);
        p.clean_env = true;
        p.out_mode = BX_PROC_IO_CAPTURE;
        p.err_mode = BX_PROC_IO_CAPTURE;
        p.capture_max = 1u << 20;
        p.timeout_ms = timeout_ms(s);
        p.grace_ms = 5000;
        p.new_group = true;
        status = bx_proc_run(&p, err);
        if (status > 0) {
                _cleanup_free_ char *line = bx_proc_last_line(&p.errout);

                if (p.timed_out)
                        bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                     "the binfmt image '%s' did not finish within %llu s%s%s",
                                     s->binfmt_image, (unsigned long long)(p.timeout_ms / 1000),
                                     line[0] ? ": " : "", line);
                else
                        bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                     "the binfmt image '%s' failed (exit %d)%s%s", s->binfmt_image,
                                     status, line[0] ? ": " : "", line);
                if (err && *err)
                        (*err)->child_status = status;
        }
        bx_proc_release(&p);
        return status == 0 ? 0 : -1;
}

static int ensure_image(const struct bx_settings *s, const char *mount,
                        struct bx_binfmt_report *rep, const struct bx_strv *env,
                        struct bx_error **err)
{
        struct bx_strv archs = BX_STRV_INIT;
        const char *arch;
        size_t i;
        int r = -1;

        for (i = 0; i < rep->n_items; i++) {
                struct bx_binfmt_item *it = &rep->items[i];

                if (it->native || it->before == BX_BINFMT_OK)
                        continue;
                /* The image refuses a name that exists ("already registered"): remove it first. */
                if (it->before != BX_BINFMT_MISSING && remove_entry(mount, it->handler, err) < 0)
                        goto out;
                if (bx_binfmt_platform(it->platform, "-", NULL, &arch, NULL, err) < 0)
                        goto out;
                if (!bx_strv_contains(&archs, arch))
                        bx_strv_push(&archs, arch);
        }
        if (archs.n && run_image(s, &archs, env, err) < 0)
                goto out;
        for (i = 0; i < rep->n_items; i++) {
                struct bx_binfmt_item *it = &rep->items[i];

                if (it->native || it->before == BX_BINFMT_OK)
                        continue;
                if (entry_state(mount, it->handler, &it->after, err) < 0)
                        goto out;
                if (it->after != BX_BINFMT_OK) {
                        bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                     "binfmt_misc handler '%s' is %s after running the binfmt "
                                     "image '%s'",
                                     it->handler, bx_binfmt_state_name(it->after), s->binfmt_image);
                        goto out;
                }
                it->registered = true;
        }
        r = 0;
out:
        bx_strv_release(&archs);
        return r;
}

int bx_binfmt_ensure_at(const struct bx_settings *s, const struct bx_strv *platforms_wanted,
                        const struct bx_strv *env, const struct bx_binfmt_paths *paths,
                        struct bx_binfmt_report *ret, struct bx_error **err)
{
        struct bx_binfmt_report rep = {0};
        const char *mount = paths && paths->mount ? paths->mount : BX_BINFMT_MOUNT;
        const char *lock = paths && paths->lock_path ? paths->lock_path : BX_BINFMT_LOCK;
        const char *conf_dir =
            s->binfmt_conf_dir && s->binfmt_conf_dir[0] ? s->binfmt_conf_dir : "/usr/lib/binfmt.d";
        uint64_t start = bx_now_ms();
        int lock_fd = -1;
        bool need = false;
        char machine[65];
        size_t i;

        if (host_machine(paths ? paths->machine : NULL, machine, sizeof(machine), err) < 0)
                return -1;
        rep.items = bx_xcalloc(platforms_wanted->n ? platforms_wanted->n : 1, sizeof(*rep.items));
        for (i = 0; i < platforms_wanted->n; i++) {
                struct bx_binfmt_item *it = &rep.items[rep.n_items];

                it->platform = bx_xstrdup(platforms_wanted->v[i]);
                rep.n_items++;
                if (bx_binfmt_platform(it->platform, machine, &it->handler, NULL, &it->native,
                                       err) < 0)
                        goto fail;
                if (it->native)
                        it->before = it->after = BX_BINFMT_OK;
                else
                        need = true;
        }

        if (need && s->emulation != BX_EMULATION_NONE) {
                lock_fd = take_lock(lock, timeout_ms(s), err);
                if (lock_fd < 0)
                        goto fail;
                rep.lock_wait_ms = bx_now_ms() - start;
        }
        if (need && s->emulation == BX_EMULATION_IMAGE) {
                /* The image mounts binfmt_misc itself if it has to; a missing mount reads as
                 * missing. */
                for (i = 0; i < rep.n_items; i++)
                        if (!rep.items[i].native &&
                            entry_state(mount, rep.items[i].handler, &rep.items[i].before, err) < 0)
                                goto fail;
                for (i = 0; i < rep.n_items; i++)
                        if (!rep.items[i].native)
                                rep.items[i].after = rep.items[i].before;
                if (ensure_image(s, mount, &rep, env, err) < 0)
                        goto fail;
        } else if (need) {
                for (i = 0; i < rep.n_items; i++) {
                        struct bx_binfmt_item *it = &rep.items[i];
                        char *conf;
                        int r;

                        if (it->native)
                                continue;
                        if (s->emulation == BX_EMULATION_NONE) {
                                if (entry_state(mount, it->handler, &it->before, err) < 0)
                                        goto fail;
                                it->after = it->before;
                                continue;
                        }
                        conf = bx_xasprintf("%s/%s.conf", conf_dir, it->handler);
                        r = bx_binfmt_ensure_handler(mount, it->handler, conf, &it->before,
                                                     &it->registered, err);
                        free(conf);
                        if (r < 0)
                                goto fail;
                        it->after = BX_BINFMT_OK;
                }
        }
        if (lock_fd >= 0)
                close(lock_fd);
        rep.duration_ms = bx_now_ms() - start;
        *ret = rep;
        return 0;
fail:
        if (lock_fd >= 0)
                close(lock_fd);
        bx_binfmt_report_release(&rep);
        return bx_error_wrap(err, "emulation");
}

int bx_binfmt_ensure(const struct bx_settings *s, const struct bx_strv *platforms_wanted,
                     const struct bx_strv *env, struct bx_binfmt_report *ret, struct bx_error **err)
{
        return bx_binfmt_ensure_at(s, platforms_wanted, env, NULL, ret, err);
}

int bx_binfmt_missing_error(const char *mount, const char *machine, const char *platform,
                            const char *builder, struct bx_error **err)
{
        struct bx_error *e = NULL;
        enum bx_binfmt_state st;
        const char *handler;
        bool native;

        if (bx_binfmt_platform(platform, machine, &handler, NULL, &native, err) < 0)
                return bx_error_wrap(err, "builder '%s'", builder);
        if (native) {
                bx_error_set(err, BX_FAIL_SYSTEM, 0,
                             "platform '%s' is not available in builder '%s', although the host "
                             "runs it natively",
                             platform, builder);
                return bx_error_hint(err,
                                     "check the builder's platforms with "
                                     "'docker buildx inspect %s'",
                                     builder);
        }
        if (entry_state(mount, handler, &st, &e) < 0) {
                bx_error_set(err, BX_FAIL_SYSTEM, 0,
                             "platform '%s' is not available in builder '%s', and its binfmt_misc "
                             "handler '%s' cannot be read: %s",
                             platform, builder, handler, e->msg);
                bx_error_free(e);
                return bx_error_hint(err, HINT_INSTALL);
        }
        switch (st) {
        case BX_BINFMT_OK:
                bx_error_set(err, BX_FAIL_SYSTEM, 0,
                             "platform '%s' is not available in builder '%s', although "
                             "binfmt_misc handler '%s' is registered (a builder started before the "
                             "registration does not see it)",
                             platform, builder, handler);
                return bx_error_hint(err, "remove the builder and create it again");
        case BX_BINFMT_MISSING:
                bx_error_set(err, BX_FAIL_SYSTEM, 0,
                             "platform '%s' is not available in builder '%s': binfmt_misc handler "
                             "'%s' is missing (not registered)",
                             platform, builder, handler);
                break;
        case BX_BINFMT_NO_FIX:
                bx_error_set(err, BX_FAIL_SYSTEM, 0,
                             "platform '%s' is not available in builder '%s': binfmt_misc handler "
                             "'%s' is missing (registered without the F flag)",
                             platform, builder, handler);
                break;
        case BX_BINFMT_DISABLED:
                bx_error_set(err, BX_FAIL_SYSTEM, 0,
                             "platform '%s' is not available in builder '%s': binfmt_misc handler "
                             "'%s' is missing (disabled)",
                             platform, builder, handler);
                break;
        }
        return bx_error_hint(err, HINT_INSTALL);
}
