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

#include "buf.h"
#include "buildx.h"
#include "cgroup.h"
#include "creds.h"
#include "docker.h"
#include "harbor.h"
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

/*
 * The builder is removed by its deterministic name even when the record is
 * gone or never got that far: a crash between create and record leaves a
 * container that only the name can find.
 */
static void remove_builder(struct sweep *sw)
{
        const struct bx_settings *s = sw->ctx->settings;
        const struct bx_job *job = sw->ctx->job;
        struct bx_strv env = BX_STRV_INIT;
        struct bx_docker *docker = NULL;
        struct bx_error *e = NULL;
        int r;

        bx_job_tool_env(job, s, &env);
        if (bx_docker_new(s->docker_host, &docker, &e) < 0) {
                /* Without an engine there is nothing of a docker builder to remove. */
                bx_error_clear(&e);
        }
        r = bx_buildx_remove(s, docker, job->builder_name, &env, &e);
        if (r >= 0)
                printf("removed builder %s\n", job->builder_name);
        step(sw, "builder", r, e);
        bx_docker_free(docker);
        bx_strv_release(&env);
}

/*
 * The job's Harbor robot outlives the job by days unless it is deleted here:
 * by the id recorded after it was created, or -- when prepare died between
 * create and record -- by the name recorded before.
 */
static int delete_robot(const struct bx_ctx *ctx, struct bx_harbor *h, struct bx_error **err)
{
        const struct bx_job *job = ctx->job;
        _cleanup_free_ char *name = bx_job_record_get(job, "harbor_robot");
        _cleanup_free_ char *id_s = bx_job_record_get(job, "harbor_robot_id");
        _cleanup_free_ char *pid_s = bx_job_record_get(job, "harbor_project_id");
        _cleanup_free_ char *project = bx_job_record_get(job, "harbor_project");
        int64_t id = 0, project_id = 0;
        int r;

        if (id_s && bx_parse_int64(id_s, &id) == 0 && id > 0)
                return bx_harbor_robot_delete(h, id, err);
        if (!(pid_s && bx_parse_int64(pid_s, &project_id) == 0 && project_id > 0) &&
            bx_harbor_project_id(h, project, &project_id, err) < 0)
                return -1;
        r = bx_harbor_robot_find(h, project_id, name, &id, err);
        if (r <= 0)
                return r;
        return bx_harbor_robot_delete(h, id, err);
}

static void remove_robot(struct sweep *sw)
{
        const struct bx_ctx *ctx = sw->ctx;
        _cleanup_free_ char *name = bx_job_record_get(ctx->job, "harbor_robot");
        _cleanup_free_ char *project = bx_job_record_get(ctx->job, "harbor_project");
        struct bx_harbor *h = NULL;
        struct bx_error *e = NULL;
        int r;

        if (!name || !project)
                return;
        if (!ctx->settings->harbor_url) {
                bx_error_set(&e, BX_FAIL_SYSTEM, 0,
                             "robot '%s' cannot be deleted: [harbor] is no longer configured", name);
                step(sw, "harbor.robot", -1, e);
                return;
        }
        r = bx_creds_harbor_open(ctx->settings, &h, &e);
        if (r >= 0)
                r = delete_robot(ctx, h, &e);
        if (r > 0)
                printf("deleted Harbor robot %s\n", name);
        if (r < 0)
                bx_error_wrap(&e, "robot '%s'", name);
        step(sw, "harbor.robot", r, e);
        bx_harbor_free(h);
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
        remove_builder(&sw);
        remove_robot(&sw);
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
