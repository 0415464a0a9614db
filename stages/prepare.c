/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binfmt.h"
#include "buf.h"
#include "buildx.h"
#include "cgroup.h"
#include "cleanup.h"
#include "creds.h"
#include "docker.h"
#include "error.h"
#include "harbor.h"
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

static char *platform_list(const struct bx_strv *v)
{
        struct bx_buf b = BX_BUF_INIT(0);
        size_t i;

        for (i = 0; i < v->n; i++)
                bx_buf_addf(&b, "%s%s", i ? "," : "", v->v[i]);
        return bx_buf_detach(&b, NULL);
}

/*
 * The engine must answer before anything is built on it; the docker driver
 * builds several platforms into one image only with the containerd image
 * store, and says nothing helpful when it is off.
 */
static int check_engine(const struct bx_ctx *ctx, struct bx_docker **ret, char **ret_version,
                        struct bx_error **err)
{
        const struct bx_settings *s = ctx->settings;
        struct bx_docker_info info = {0};
        struct bx_docker *d = NULL;

        if (bx_docker_new(s->docker_host, &d, err) < 0 || bx_docker_info(d, &info, err) < 0) {
                bx_docker_free(d);
                return -1;
        }
        if (s->driver == BX_DRIVER_DOCKER && s->platforms.n > 1 && !info.containerd_store) {
                bx_docker_info_release(&info);
                bx_docker_free(d);
                bx_error_set(err, BX_FAIL_SYSTEM, 0,
                             "[builder] driver = \"docker\" cannot build %zu platforms into one "
                             "image: dockerd at '%s' does not use the containerd image store",
                             s->platforms.n, s->docker_host);
                return bx_error_hint(err, "set {\"features\": {\"containerd-snapshotter\": true}} "
                                          "in /etc/docker/daemon.json and restart dockerd, or use "
                                          "driver = \"docker-container\"");
        }
        *ret_version = info.server_version ? bx_xstrdup(info.server_version) : bx_xstrdup("?");
        bx_docker_info_release(&info);
        *ret = d;
        return 0;
}

static int setup_emulation(const struct bx_ctx *ctx, const struct bx_strv *env,
                           struct bx_buf *summary, struct bx_error **err)
{
        const struct bx_settings *s = ctx->settings;
        struct bx_binfmt_report rep = {0};
        size_t i;

        /* Remote builders emulate (or not) on their own hosts. */
        if (s->driver == BX_DRIVER_REMOTE) {
                bx_buf_adds(summary, "emulation:     on the remote nodes\n");
                return 0;
        }
        if (bx_binfmt_ensure(s, &s->platforms, env, &rep, err) < 0)
                return bx_error_wrap(err, "QEMU emulation");
        bx_buf_addf(summary, "emulation:     %s mode, %llu ms\n", bx_emulation_name(s->emulation),
                    (unsigned long long)rep.duration_ms);
        for (i = 0; i < rep.n_items; i++) {
                const struct bx_binfmt_item *it = &rep.items[i];

                if (it->native)
                        bx_buf_addf(summary, "  %-12s native\n", it->platform);
                else
                        bx_buf_addf(summary, "  %-12s %s (%s%s)\n", it->platform, it->handler,
                                    bx_binfmt_state_name(it->after),
                                    it->registered ? ", registered now" : "");
        }
        /*
         * A running BuildKit caches the platforms it detected (dockerd's for
         * as long as it runs), so the builder's own list can still show a
         * platform whose handler is gone.  The kernel's word counts.
         */
        for (i = 0; i < rep.n_items; i++) {
                const struct bx_binfmt_item *it = &rep.items[i];

                if (it->native || it->after == BX_BINFMT_OK)
                        continue;
                bx_binfmt_missing_error(BX_BINFMT_MOUNT, NULL, it->platform,
                                        ctx->job->builder_name, err);
                bx_record_event(ctx->rec, "emulation", "error", (int64_t)rep.duration_ms, *err,
                                "mode", bx_emulation_name(s->emulation), NULL);
                bx_binfmt_report_release(&rep);
                return -1;
        }
        bx_record_event(ctx->rec, "emulation", "ok", (int64_t)rep.duration_ms, NULL, "mode",
                        bx_emulation_name(s->emulation), NULL);
        bx_binfmt_report_release(&rep);
        return 0;
}

/*
 * Whether this job's robot may push, and in words why (for the job log).
 * Decided from the payload's facts, which a job cannot forge.
 */
static bool robot_may_push(const struct bx_harbor_rule *rule, const struct bx_job *job,
                           char **ret_why)
{
        switch (rule->push) {
        case BX_PUSH_ALWAYS:
                *ret_why = bx_xstrdup("pull and push");
                return true;
        case BX_PUSH_NEVER:
                *ret_why = bx_xasprintf("pull only: [[harbor.project]] '%s' never allows push",
                                        rule->gitlab);
                return false;
        case BX_PUSH_PROTECTED:
        default:
                if (job->ref_protected) {
                        *ret_why = bx_xstrdup("pull and push (protected ref)");
                        return true;
                }
                *ret_why = bx_xasprintf("pull only: ref '%s' is not protected, and [[harbor.project]] "
                                        "'%s' allows push from protected refs only",
                                        job->ref ? job->ref : "?", rule->gitlab);
                return false;
        }
}

/*
 * The job's own Harbor robot: project level, scoped to one Harbor project,
 * named after the job.  Harbor has no lifetime shorter than a day, so the
 * robot outlives the job unless cleanup deletes it: its name is recorded
 * before it is created and its id right after, so a cleanup -- or a crash
 * in between -- can always find it.
 */
static int setup_harbor(const struct bx_ctx *ctx, struct bx_creds *creds, struct bx_buf *summary,
                        struct bx_error **err)
{
        const struct bx_settings *s = ctx->settings;
        const struct bx_job *job = ctx->job;
        const struct bx_harbor_rule *rule;
        struct bx_harbor_robot robot = {0};
        struct bx_harbor *h = NULL;
        _cleanup_free_ char *why = NULL, *full = NULL, *desc = NULL, *id = NULL, *pid = NULL;
        int64_t project_id = 0, old_id = 0;
        uint64_t start = bx_now_ms();
        bool push;
        int r = -1;

        if (!s->harbor_url)
                return 0;
        rule = bx_settings_harbor_rule(s, job->project_path);
        if (!rule) {
                bx_buf_addf(summary, "harbor:        no robot: no [[harbor.project]] matches project "
                                     "'%s'\n",
                            job->project_path ? job->project_path : "?");
                return 0;
        }
        push = robot_may_push(rule, job, &why);
        full = bx_xasprintf("%s+%s", rule->project, job->builder_name);
        if (bx_creds_harbor_open(s, &h, err) < 0)
                return bx_error_wrap(err, "Harbor");
        if (bx_harbor_project_id(h, rule->project, &project_id, err) < 0)
                goto out;
        /* From here on a robot may exist: record what finds it before asking for it. */
        pid = bx_xasprintf("%lld", (long long)project_id);
        if (bx_job_record_set(job, "harbor_project", rule->project, err) < 0 ||
            bx_job_record_set(job, "harbor_project_id", pid, err) < 0 ||
            bx_job_record_set(job, "harbor_robot", full, err) < 0)
                goto out;

        desc = bx_xasprintf("buildx-executor: GitLab job %lld%s%s", (long long)job->id,
                            job->job_url ? " " : "", job->job_url ? job->job_url : "");
        r = bx_harbor_robot_create(h, rule->project, job->builder_name, desc, push,
                                   s->harbor_robot_days, &robot, err);
        if (r < 0 && (*err)->errnum == EEXIST) {
                /* An earlier attempt of this job made it (or its answer was lost): start over. */
                bx_error_clear(err);
                if (bx_harbor_robot_find(h, project_id, full, &old_id, err) < 0 ||
                    (old_id && bx_harbor_robot_delete(h, old_id, err) < 0))
                        goto out;
                r = bx_harbor_robot_create(h, rule->project, job->builder_name, desc, push,
                                           s->harbor_robot_days, &robot, err);
        }
        if (r < 0)
                goto out;
        id = bx_xasprintf("%lld", (long long)robot.id);
        r = bx_job_record_set(job, "harbor_robot_id", id, err);
        if (r < 0)
                goto out;
        bx_record_event(ctx->rec, "harbor.robot", "ok", (int64_t)(bx_now_ms() - start), NULL,
                        "robot", robot.name, "robot_id", id, "harbor_project", rule->project,
                        "push", push ? "yes" : "no", NULL);
        bx_creds_add(creds, s->harbor_registry, robot.name, robot.secret);
        bx_buf_addf(summary, "harbor:        robot %s, %s\n", robot.name, why);
        bx_buf_addf(summary, "registry:      %s (the job's Harbor robot)\n", s->harbor_registry);
        r = 0;
out:
        if (r < 0) {
                bx_record_event(ctx->rec, "harbor.robot", "error", (int64_t)(bx_now_ms() - start),
                                *err, "robot", full, NULL);
                bx_error_wrap(err, "Harbor robot for project '%s'", rule->project);
        }
        bx_harbor_robot_release(&robot);
        bx_harbor_free(h);
        return r;
}

/*
 * The job's registry credentials, decided here from trusted facts (the
 * payload's project path and protected flag) and written to the job's own
 * config.json.  The job log says which registries the job can log in to --
 * never with what -- and why a configured one was withheld.
 */
static int setup_credentials(const struct bx_ctx *ctx, struct bx_buf *summary,
                             struct bx_error **err)
{
        const struct bx_job *job = ctx->job;
        struct bx_creds creds = BX_CREDS_INIT;
        struct bx_strv notes = BX_STRV_INIT;
        _cleanup_free_ char *bundle = bx_xasprintf("%s/ca-bundle.pem", job->state_dir);
        size_t i;
        int r;

        r = bx_creds_add_static(&creds, ctx->settings, job->project_path, job->ref_protected,
                                &notes, err);
        if (r >= 0)
                r = setup_harbor(ctx, &creds, summary, err);
        if (r >= 0 && job->ci_registry)
                bx_creds_add(&creds, job->ci_registry, job->ci_registry_user,
                             job->ci_registry_password);
        if (r >= 0)
                r = bx_creds_write_docker_config(&creds, job->docker_config, err);
        for (i = 0; r >= 0 && i < creds.n; i++) {
                const char *host = creds.items[i].host;

                if (ctx->settings->harbor_url && strcmp(host, ctx->settings->harbor_registry) == 0)
                        continue; /* said with the robot */
                bx_buf_addf(summary, "registry:      %s (%s)\n", host,
                            job->ci_registry && strcmp(host, job->ci_registry) == 0
                                    ? "the job's CI_REGISTRY credentials"
                                    : "static credentials");
        }
        for (i = 0; i < notes.n; i++)
                bx_buf_addf(summary, "registry:      %s\n", notes.v[i]);
        bx_creds_release(&creds);
        bx_strv_release(&notes);
        if (r < 0)
                return -1;
        r = bx_creds_ca_bundle(ctx->settings, bundle, err);
        if (r < 0)
                return -1;
        if (r == 0 && bx_job_record_set(job, "ca_bundle", bundle, err) < 0)
                return -1;
        return 0;
}

/* A builder that failed leaves nothing behind (cleanup would try again anyway). */
static void remove_quietly(const struct bx_settings *s, struct bx_docker *docker,
                           const char *name, const struct bx_strv *env)
{
        struct bx_error *e = NULL;

        if (bx_buildx_remove(s, docker, name, env, &e) < 0)
                bx_log_warn("cannot remove the failed builder '%s': %s, ignoring", name, e->msg);
        bx_error_free(e);
}

/*
 * The job's own builder.  Its name is recorded before it is created, and
 * whatever an earlier attempt of this job left under that name is removed
 * first: buildx silently reuses an existing container of the same name.
 */
static int setup_builder(const struct bx_ctx *ctx, struct bx_docker *docker,
                         const struct bx_strv *env, struct bx_buf *summary, struct bx_error **err)
{
        const struct bx_settings *s = ctx->settings;
        const struct bx_job *job = ctx->job;
        const char *name = job->builder_name;
        struct bx_builder_info info = BX_BUILDER_INFO_INIT;
        _cleanup_free_ char *toml_path = NULL, *platforms = NULL;
        struct bx_buf toml = BX_BUF_INIT(1u << 20);
        uint64_t start;
        size_t i;
        int r;

        if (bx_job_record_set(job, "builder", name, err) < 0 ||
            bx_job_record_set(job, "builder_driver", bx_driver_name(s->driver), err) < 0)
                return -1;
        if (s->driver == BX_DRIVER_DOCKER && bx_job_record_set(job, "docker_context", name, err) < 0)
                return -1;
        if (bx_buildx_remove(s, docker, name, env, err) < 0)
                return bx_error_wrap(err, "leftover builder '%s'", name);

        if (s->driver == BX_DRIVER_DOCKER_CONTAINER) {
                toml_path = bx_xasprintf("%s/buildkitd.toml", job->state_dir);
                if (bx_buildkitd_toml(s, &toml, err) < 0 ||
                    bx_write_file(toml_path, toml.buf, toml.len, 0600, err) < 0) {
                        bx_buf_release(&toml);
                        return bx_error_wrap(err, "buildkitd.toml");
                }
                bx_buf_release(&toml);
        }

        start = bx_now_ms();
        r = bx_buildx_create(s, name, toml_path, env, err);
        if (r >= 0)
                r = bx_buildx_inspect(s, name, env, &info, err);
        if (r < 0) {
                bx_record_event(ctx->rec, "builder", "error", (int64_t)(bx_now_ms() - start), *err,
                                "builder", name, NULL);
                remove_quietly(s, docker, name, env);
                return bx_error_wrap(err, "builder '%s' (%s driver)", name,
                                     bx_driver_name(s->driver));
        }

        /* No peer checks this; users lose hours to a silent "exec format error" later. */
        for (i = 0; i < s->platforms.n; i++) {
                if (bx_builder_info_has_platform(&info, s->platforms.v[i]))
                        continue;
                bx_builder_info_release(&info);
                bx_binfmt_missing_error(BX_BINFMT_MOUNT, NULL, s->platforms.v[i], name, err);
                bx_record_event(ctx->rec, "builder", "error", (int64_t)(bx_now_ms() - start), *err,
                                "builder", name, NULL);
                remove_quietly(s, docker, name, env);
                return -1;
        }
        platforms = platform_list(&s->platforms);
        if (bx_job_record_set(job, "platforms", platforms, err) < 0) {
                bx_builder_info_release(&info);
                return -1;
        }
        bx_record_event(ctx->rec, "builder", "ok", (int64_t)(bx_now_ms() - start), NULL, "builder",
                        name, "driver", bx_driver_name(s->driver), "platforms", platforms, NULL);

        bx_buf_addf(summary, "builder:       %s (%s driver), ready in %llu ms\n", name,
                    bx_driver_name(s->driver), (unsigned long long)(bx_now_ms() - start));
        for (i = 0; i < info.n_nodes; i++) {
                const struct bx_builder_node *n = &info.nodes[i];
                _cleanup_free_ char *np = platform_list(&n->platforms);

                bx_buf_addf(summary, "  node %s: %s, BuildKit %s\n", n->name,
                            n->status ? n->status : "?",
                            n->buildkit_version ? n->buildkit_version : "?");
                bx_buf_addf(summary, "    platforms: %s\n", np);
        }
        bx_buf_addf(summary, "platforms:     %s (BUILDX_EXECUTOR_PLATFORMS)\n", platforms);
        bx_builder_info_release(&info);
        return 0;
}

int stage_prepare(struct bx_ctx *ctx, struct bx_error **err)
{
        const struct bx_job *job = ctx->job;
        _cleanup_free_ char *cgroup = NULL, *engine = NULL;
        struct bx_strv env = BX_STRV_INIT;
        struct bx_buf summary = BX_BUF_INIT(0);
        struct bx_docker *docker = NULL;
        uint64_t start = bx_now_ms();
        int r = -1;

        if (bx_settings_check_files(ctx->settings, err) < 0)
                return bx_error_hint(err, "fix the settings file and retry the job");
        if (make_state(ctx, err) < 0)
                return -1;
        bx_record_event(ctx->rec, "state", "ok", -1, NULL, "path", job->state_dir, NULL);
        if (make_cgroup(ctx, &cgroup, err) < 0)
                return -1;

        bx_job_tool_env(job, ctx->settings, &env);
        if (check_engine(ctx, &docker, &engine, err) < 0)
                goto out;
        if (setup_emulation(ctx, &env, &summary, err) < 0)
                goto out;
        if (setup_credentials(ctx, &summary, err) < 0)
                goto out;
        if (setup_builder(ctx, docker, &env, &summary, err) < 0)
                goto out;

        bx_log_section_start("prepare_buildx_executor", "Preparing the job's buildx builder");
        bx_log_line("job key:       %s", job->key);
        bx_log_line("working tree:  %s", job->builds_dir);
        bx_log_line("cgroup:        %s", cgroup);
        bx_log_line("docker engine: %s at %s", engine, ctx->settings->docker_host);
        fputs(summary.buf, stdout);
        bx_log_line("prepared in %llu ms", (unsigned long long)(bx_now_ms() - start));
        bx_log_section_end("prepare_buildx_executor");
        r = 0;
out:
        bx_docker_free(docker);
        bx_buf_release(&summary);
        bx_strv_release(&env);
        return r;
}
