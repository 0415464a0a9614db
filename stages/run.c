/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "cleanup.h"
#include "error.h"
#include "job.h"
#include "log.h"
#include "proc.h"
#include "settings.h"
#include "stages.h"
#include "util.h"
#include "banned.h"

/* Stage names are gitlab-runner's: prepare_script, get_sources, build_script, step_*, ... */
static bool valid_stage_name(const char *s)
{
        size_t i;

        if (!*s || strlen(s) > 64 || !(s[0] >= 'a' && s[0] <= 'z'))
                return false;
        for (i = 0; s[i]; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
                      s[i] == '_'))
                        return false;
        return true;
}

/*
 * The job's environment is built from nothing: the runner's environment and
 * every CUSTOM_ENV_* (all job secrets among them) stay out.  The script
 * exports the job's variables itself, after these, so a job that sets one of
 * them wins.
 */
static void job_env(const struct bx_ctx *ctx, struct bx_strv *env)
{
        const struct bx_settings *s = ctx->settings;
        const struct bx_job *job = ctx->job;
        _cleanup_free_ char *builder = bx_job_record_get(job, "builder");
        _cleanup_free_ char *context = bx_job_record_get(job, "docker_context");
        _cleanup_free_ char *platforms = bx_job_record_get(job, "platforms");
        _cleanup_free_ char *bundle = bx_job_record_get(job, "ca_bundle");
        size_t i;

        bx_job_tool_env(job, s, env);
        bx_strv_setenv(env, "SHELL", "/bin/bash");
        if (builder)
                bx_strv_setenv(env, "BUILDX_BUILDER", builder);
        if (context) {
                /* DOCKER_HOST would override the context for the docker CLI. */
                bx_strv_unsetenv(env, "DOCKER_HOST");
                bx_strv_setenv(env, "DOCKER_CONTEXT", context);
        }
        if (bundle)
                bx_strv_setenv(env, "SSL_CERT_FILE", bundle);
        if (platforms)
                bx_strv_setenv(env, "BUILDX_EXECUTOR_PLATFORMS", platforms);
        for (i = 0; i < s->job_env.n; i++) {
                const char *kv = s->job_env.v[i], *eq = strchr(kv, '=');
                _cleanup_free_ char *key = bx_xstrndup(kv, (size_t)(eq - kv));

                bx_strv_setenv(env, key, eq + 1);
        }
}

/* The job's output goes to the job log unchanged, as it arrives, stdout and stderr apart. */
static void forward_output(void *data, int fd, const char *buf, size_t len)
{
        (void)data;
        (void)bx_write_all(fd, buf, len);
}

int stage_run(struct bx_ctx *ctx, struct bx_error **err)
{
        const struct bx_job *job = ctx->job;
        struct bx_proc p = BX_PROC_INIT;
        _cleanup_free_ char *cgroup = NULL, *abs_script = NULL;
        const char *script, *stage;
        struct stat st;
        int status;

        /* A stale file from an earlier stage would be read again by the runner (it never deletes it). */
        if (job->build_exit_code_file && unlink(job->build_exit_code_file) < 0 && errno != ENOENT)
                return bx_error_errno(err, errno, "cannot remove stale '%s'",
                                      job->build_exit_code_file);
        if (ctx->argc != 2)
                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                    "run needs '<script> <stage>' after the options, got %d "
                                    "arguments",
                                    ctx->argc);
        script = ctx->argv[0];
        stage = ctx->argv[1];
        if (!valid_stage_name(stage))
                return bx_error_set(err, BX_FAIL_SYSTEM, 0, "'%.64s' is not a stage name", stage);
        if (stat(script, &st) < 0 || !S_ISREG(st.st_mode))
                return bx_error_errno(err, errno ? errno : EINVAL, "stage '%s': script '%s'",
                                      stage, script);
        if (stat(job->state_dir, &st) < 0)
                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                    "the job's state '%s' does not exist: prepare did not run, "
                                    "or cleanup already ran",
                                    job->state_dir);

        cgroup = bx_job_record_get(job, "cgroup");
        if (cgroup) {
                struct bx_error *e = NULL;

                /* Children inherit it: everything the script starts stays findable. */
                if (bx_cgroup_enter(cgroup, &e) < 0) {
                        bx_log_warn("%s, ignoring", e->msg);
                        bx_error_free(e);
                }
        }

        /* The job runs in its HOME: a relative script path must not be looked up there. */
        abs_script = realpath(script, NULL);
        if (!abs_script)
                return bx_error_errno(err, errno, "stage '%s': script '%s'", stage, script);
        bx_strv_pushl(&p.argv, ctx->settings->shell, abs_script, NULL);
        job_env(ctx, &p.env);
        p.cwd = job->home;
        p.out_mode = BX_PROC_IO_CALLBACK;
        p.err_mode = BX_PROC_IO_CALLBACK;
        p.on_output = forward_output;
        p.new_group = true;
        p.grace_ms = (uint64_t)ctx->settings->term_grace_seconds * 1000;
        bx_record_event(ctx->rec, "script", "start", -1, NULL, "script_stage", stage, NULL);
        status = bx_proc_run(&p, err);
        bx_record_event(ctx->rec, "script", status == 0 ? "ok" : "error", (int64_t)p.duration_ms,
                        NULL, "script_stage", stage,
                        p.forwarded_signal ? "signal" : NULL,
                        p.forwarded_signal ? strsignal(p.forwarded_signal) : NULL, NULL);
        bx_proc_release(&p);
        if (status < 0)
                return bx_error_wrap(err, "stage '%s'", stage);
        if (status == 0)
                return 0;

        /* The job's own failure: GitLab must see the script's exit code (allow_failure:exit_codes). */
        if (job->build_exit_code_file) {
                char buf[16];
                int n = snprintf(buf, sizeof(buf), "%d\n", status);

                if (bx_write_file(job->build_exit_code_file, buf, (size_t)n, 0644, err) < 0)
                        return bx_error_wrap(err, "stage '%s' exit code", stage);
        }
        bx_error_set(err, BX_FAIL_BUILD, 0, "stage '%s' exited with %d", stage, status);
        (*err)->child_status = status;
        return -1;
}
