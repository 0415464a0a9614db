/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
 * The job's private state: one 0700 directory named from the validated job
 * id, holding DOCKER_CONFIG, HOME and TMPDIR of the job.  The state root
 * itself is 0711 so nobody can list which jobs exist.
 */
static int make_state(const struct bx_ctx *ctx, struct bx_error **err)
{
        const struct bx_settings *s = ctx->settings;
        const struct bx_job *job = ctx->job;

        if (bx_mkdir_p(s->state_dir, 0711, err) < 0 || bx_mkdir(job->state_dir, 0700, err) < 0)
                return bx_error_wrap(err, "job state");
        if (bx_job_record_set(job, "job_key", job->key, err) < 0)
                return -1;
        if (bx_mkdir(job->docker_config, 0700, err) < 0 || bx_mkdir(job->home, 0700, err) < 0 ||
            bx_mkdir(job->tmp, 0700, err) < 0)
                return bx_error_wrap(err, "job state");
        if (bx_mkdir_p(s->builds_dir, 0711, err) < 0 || bx_mkdir(job->builds_dir, 0700, err) < 0)
                return bx_error_wrap(err, "job working tree");
        if (bx_mkdir_p(s->cache_dir, 0700, err) < 0)
                return bx_error_wrap(err, "cache directory");
        return 0;
}

static int make_cgroup(const struct bx_ctx *ctx, char **ret_summary, struct bx_error **err)
{
        _cleanup_free_ char *path = NULL, *reason = NULL;

        if (!ctx->settings->use_cgroup) {
                *ret_summary = bx_xstrdup("off ([job] cgroup = false)");
                return 0;
        }
        if (bx_cgroup_create(ctx->job->key, &path, &reason, err) < 0)
                return -1;
        if (!path) {
                bx_log_warn("no per-job cgroup: %s; processes that leave the job's process group "
                            "cannot be found at cleanup, ignoring",
                            reason);
                bx_record_event(ctx->rec, "cgroup", "skipped", -1, NULL, "reason", reason, NULL);
                *ret_summary = bx_xasprintf("none (%s)", reason);
                return 0;
        }
        if (bx_job_record_set(ctx->job, "cgroup", path, err) < 0)
                return -1;
        bx_record_event(ctx->rec, "cgroup", "ok", -1, NULL, "path", path, NULL);
        *ret_summary = TAKE_PTR(path);
        return 0;
}

int stage_prepare(struct bx_ctx *ctx, struct bx_error **err)
{
        const struct bx_job *job = ctx->job;
        _cleanup_free_ char *cgroup = NULL;
        uint64_t start = bx_now_ms();

        if (bx_settings_check_files(ctx->settings, err) < 0)
                return bx_error_hint(err, "fix the settings file and retry the job");
        if (make_state(ctx, err) < 0)
                return -1;
        bx_record_event(ctx->rec, "state", "ok", -1, NULL, "path", job->state_dir, NULL);
        if (make_cgroup(ctx, &cgroup, err) < 0)
                return -1;

        bx_log_section_start("prepare_buildx_executor", "Preparing the job's build environment");
        bx_log_line("job key:       %s", job->key);
        bx_log_line("working tree:  %s", job->builds_dir);
        bx_log_line("cgroup:        %s", cgroup);
        bx_log_line("prepared in %llu ms", (unsigned long long)(bx_now_ms() - start));
        bx_log_section_end("prepare_buildx_executor");
        return 0;
}
