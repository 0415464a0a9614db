/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "cleanup.h"
#include "error.h"
#include "job.h"
#include "log.h"
#include "settings.h"
#include "stages.h"
#include "util.h"
#include "banned.h"

/*
 * cleanup_exec's output goes to the runner log, unmasked: it prints what it
 * removed and what failed, never a variable, a path inside the job's secrets,
 * or a credential.
 *
 * Every step is attempted even when an earlier one failed, every step
 * tolerates "already gone", and the first failure is what is reported: the
 * stage is safe to run twice, after a prepare that failed halfway or never
 * ran, and while a cancelled run is still shutting down.
 */
struct sweep {
        struct bx_ctx *ctx;
        struct bx_error *first;
        int failed;
};

static void step(struct sweep *sw, const char *what, int r, struct bx_error *e)
{
        if (r >= 0) {
                bx_record_event(sw->ctx->rec, what, "ok", -1, NULL, NULL);
                return;
        }
        bx_record_event(sw->ctx->rec, what, "error", -1, e, NULL);
        fprintf(stderr, "buildx-executor: cleanup: %s: %s\n", what, e ? e->msg : "failed");
        sw->failed++;
        if (!sw->first)
                sw->first = e;
        else
                bx_error_free(e);
}

static void kill_processes(struct sweep *sw)
{
        _cleanup_free_ char *cgroup = bx_job_record_get(sw->ctx->job, "cgroup");
        struct bx_error *e = NULL;
        int r;

        if (!cgroup)
                return;
        r = bx_cgroup_destroy(cgroup, &e);
        if (r > 0)
                printf("killed %d leftover process%s of the job\n", r, r == 1 ? "" : "es");
        step(sw, "cgroup", r, e);
}

static void remove_dir(struct sweep *sw, const char *what, const char *path)
{
        struct bx_error *e = NULL;
        struct stat st;
        bool existed = lstat(path, &st) == 0;
        int r = bx_rm_rf(path, &e);

        if (r >= 0 && existed)
                printf("removed %s\n", what);
        step(sw, what, r, e);
}

/* Ops records outlive their jobs by [log] retention_days; cleanup is the janitor. */
static void expire_records(const struct bx_ctx *ctx)
{
        const struct bx_settings *s = ctx->settings;
        time_t cutoff = time(NULL) - (time_t)s->log_retention_days * 86400;
        struct dirent *de;
        DIR *d;

        if (s->log_retention_days <= 0 || !(d = opendir(s->log_dir)))
                return;
        while ((de = readdir(d))) {
                struct stat st;

                if (!bx_startswith(de->d_name, "job-") || !bx_endswith(de->d_name, ".jsonl"))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                    S_ISREG(st.st_mode) && st.st_mtime < cutoff)
                        (void)unlinkat(dirfd(d), de->d_name, 0);
        }
        closedir(d);
}

int stage_cleanup(struct bx_ctx *ctx, struct bx_error **err)
{
        struct sweep sw = {.ctx = ctx};

        kill_processes(&sw);
        remove_dir(&sw, "working tree", ctx->job->builds_dir);
        /* Last: the record in it is what the steps above were found by. */
        remove_dir(&sw, "job state", ctx->job->state_dir);
        expire_records(ctx);

        if (sw.first) {
                *err = sw.first;
                if (sw.failed > 1)
                        bx_error_wrap(err, "%d cleanup steps failed, the first", sw.failed);
                return -1;
        }
        printf("cleanup of %s done\n", ctx->job->key);
        return 0;
}
