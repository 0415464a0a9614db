/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <linux/magic.h>

#include "cgroup.h"
#include "cleanup.h"
#include "error.h"
#include "util.h"
#include "banned.h"

#define CGROUP_DIR "buildx-executor"

/* Where the cgroup v2 hierarchy is mounted: /sys/fs/cgroup or, on hybrid hosts, .../unified. */
static const char *v2_mount(void)
{
        static const char *const candidates[] = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};
        struct statfs sf;
        size_t i;

        for (i = 0; i < ARRAY_SIZE(candidates); i++)
                if (statfs(candidates[i], &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC)
                        return candidates[i];
        return NULL;
}

/* Our own cgroup in the v2 hierarchy: the "0::<path>" line of /proc/self/cgroup. */
static char *own_cgroup(void)
{
        _cleanup_free_ char *text = NULL;
        struct bx_error *e = NULL;
        char *line, *save = NULL;

        if (bx_read_file("/proc/self/cgroup", 65536, &text, NULL, &e) < 0) {
                bx_error_free(e);
                return NULL;
        }
        for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
                if (bx_startswith(line, "0::"))
                        return bx_xstrdup(line + 3);
        return NULL;
}

int bx_cgroup_create(const char *job_key, char **ret_path, char **ret_reason,
                     struct bx_error **err)
{
        _cleanup_free_ char *own = NULL, *parent = NULL, *path = NULL;
        const char *mnt = v2_mount();
        struct bx_error *e = NULL;

        (void)err;
        *ret_path = NULL;
        *ret_reason = NULL;
        if (!mnt) {
                *ret_reason = bx_xstrdup("no cgroup v2 hierarchy is mounted");
                return 1;
        }
        own = own_cgroup();
        if (!own) {
                *ret_reason = bx_xstrdup("the driver's own cgroup v2 path is unknown");
                return 1;
        }
        /* A job cgroup inside another job's cgroup would die with it: go to the top of ours. */
        if (strstr(own, "/" CGROUP_DIR "/"))
                *strstr(own, "/" CGROUP_DIR "/") = '\0';
        parent = bx_xasprintf("%s%s/%s", mnt, strcmp(own, "/") == 0 ? "" : own, CGROUP_DIR);
        path = bx_xasprintf("%s/%s", parent, job_key);
        if (bx_mkdir(parent, 0755, &e) < 0 || bx_mkdir(path, 0755, &e) < 0) {
                *ret_reason = bx_xasprintf("%s", e->msg);
                bx_error_free(e);
                return 1;
        }
        *ret_path = TAKE_PTR(path);
        return 0;
}

static int write_string(const char *path, const char *s)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);

        if (fd < 0)
                return -errno;
        return bx_write_all(fd, s, strlen(s));
}

int bx_cgroup_enter(const char *path, struct bx_error **err)
{
        _cleanup_free_ char *procs = bx_xasprintf("%s/cgroup.procs", path);
        int r = write_string(procs, "0");

        if (r < 0)
                return bx_error_errno(err, -r, "cannot move the driver into cgroup '%s'", path);
        return 0;
}

/* SIGKILL every pid in the cgroup; the number signalled, or -errno. */
static int kill_procs(const char *path)
{
        _cleanup_free_ char *procs = bx_xasprintf("%s/cgroup.procs", path);
        _cleanup_free_ char *text = NULL;
        struct bx_error *e = NULL;
        char *line, *save = NULL;
        int n = 0;

        if (bx_read_file(procs, 1u << 20, &text, NULL, &e) < 0) {
                int r = e->errnum ? -e->errnum : -EIO;

                bx_error_free(e);
                return r;
        }
        for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                int pid;

                if (bx_parse_int(line, &pid) == 0 && pid > 1 && pid != getpid() &&
                    kill(pid, SIGKILL) == 0)
                        n++;
        }
        return n;
}

/* How many processes the cgroup holds now. */
static int count_procs(const char *path)
{
        _cleanup_free_ char *procs = bx_xasprintf("%s/cgroup.procs", path);
        _cleanup_free_ char *text = NULL;
        struct bx_error *e = NULL;
        int n = 0;
        char *p;

        if (bx_read_file(procs, 1u << 20, &text, NULL, &e) < 0) {
                bx_error_free(e);
                return 0;
        }
        for (p = text; *p; p++)
                if (*p == '\n')
                        n++;
        return n;
}

int bx_cgroup_destroy(const char *path, struct bx_error **err)
{
        _cleanup_free_ char *killf = bx_xasprintf("%s/cgroup.kill", path);
        struct timespec ts = {0, 20 * 1000 * 1000};
        struct stat st;
        int killed = 0, i, r;

        if (stat(path, &st) < 0)
                return errno == ENOENT ? 0 : bx_error_errno(err, errno, "cannot stat '%s'", path);
        /* cgroup.kill (Linux 5.14) kills everything at once, also processes forked meanwhile. */
        killed = count_procs(path);
        if (write_string(killf, "1") < 0) {
                for (i = 0; i < 100; i++) {
                        r = kill_procs(path);
                        if (r <= 0)
                                break;
                        nanosleep(&ts, NULL);
                }
        }
        /* rmdir fails with EBUSY until the last process is reaped. */
        for (i = 0; i < 250; i++) {
                if (rmdir(path) == 0 || errno == ENOENT)
                        return killed;
                if (errno != EBUSY)
                        return bx_error_errno(err, errno, "cannot remove cgroup '%s'", path);
                nanosleep(&ts, NULL);
        }
        return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                            "cgroup '%s' still has processes after 5 s of SIGKILL", path);
}
