/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include "cleanup.h"
#include "error.h"
#include "job.h"
#include "settings.h"
#include "util.h"
#include "banned.h"

BX_DEFINE_CLEANUP(cJSON *, cJSON_Delete)
#define _cleanup_json_ _cleanup_(cJSON_Delete_p)

/* The payload holds every job secret; it is read whole but bounded. */
#define RESPONSE_MAX (16u << 20)
#define RECORD_MAX (1u << 20)

char *bx_job_sanitize(const char *s, size_t max)
{
        size_t n = strlen(s), i, keep = n > max ? max : n;
        char *out = bx_xmalloc(keep + 4);

        for (i = 0; i < keep; i++) {
                unsigned char c = (unsigned char)s[i];
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || strchr("._/:@+-", c);

                out[i] = ok && c ? (char)c : '_';
        }
        if (keep < n) {
                memcpy(out + keep, "...", 3);
                keep += 3;
        }
        out[keep] = '\0';
        return out;
}

static int parse_id(const char *what, const char *value, int64_t *ret, struct bx_error **err)
{
        int64_t v;

        if (!value)
                return bx_error_set(err, BX_FAIL_SYSTEM, 0, "%s is not set", what);
        if (bx_parse_int64(value, &v) < 0 || v <= 0) {
                _cleanup_free_ char *shown = bx_job_sanitize(value, 32);

                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                    "%s '%s' is not a positive decimal integer", what, shown);
        }
        *ret = v;
        return 0;
}

/*
 * The first occurrence of a variable in the payload.  GitLab sends the
 * predefined variables first; a job-defined variable of the same name comes
 * later and must not be able to override a fact the driver trusts.
 */
static const char *payload_var(const cJSON *doc, const char *key)
{
        const cJSON *vars = cJSON_GetObjectItemCaseSensitive(doc, "variables"), *v;

        cJSON_ArrayForEach(v, vars)
        {
                const cJSON *k = cJSON_GetObjectItemCaseSensitive(v, "key");
                const cJSON *val = cJSON_GetObjectItemCaseSensitive(v, "value");

                if (cJSON_IsString(k) && cJSON_IsString(val) && strcmp(k->valuestring, key) == 0)
                        return val->valuestring;
        }
        return NULL;
}

static bool valid_project_path(const char *p)
{
        size_t i, n = strlen(p);

        if (n == 0 || n > 255 || p[0] == '/' || p[n - 1] == '/' || strstr(p, "..") ||
            strstr(p, "//"))
                return false;
        for (i = 0; i < n; i++) {
                unsigned char c = (unsigned char)p[i];

                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || strchr("._-/+", c)))
                        return false;
        }
        return true;
}

static bool valid_sha(const char *s)
{
        size_t i, n = strlen(s);

        if (n != 40 && n != 64)
                return false;
        for (i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

static int load_payload(struct bx_job *job, const char *path, const char **ret_server,
                        cJSON **ret_doc, struct bx_error **err)
{
        _cleanup_free_ char *text = NULL;
        _cleanup_json_ cJSON *doc = NULL;
        const cJSON *id, *info, *pid;
        const char *v;

        if (bx_read_file(path, RESPONSE_MAX, &text, NULL, err) < 0)
                return bx_error_wrap(err, "job payload");
        doc = cJSON_Parse(text);
        if (!cJSON_IsObject(doc))
                return bx_error_set(err, BX_FAIL_SYSTEM, 0, "job payload '%s' is not a JSON object",
                                    path);
        id = cJSON_GetObjectItemCaseSensitive(doc, "id");
        if (!cJSON_IsNumber(id) || id->valuedouble < 1 || id->valuedouble > 9007199254740991.0)
                return bx_error_set(err, BX_FAIL_SYSTEM, 0, "job payload '%s' has no valid 'id'",
                                    path);
        job->id = (int64_t)id->valuedouble;
        info = cJSON_GetObjectItemCaseSensitive(doc, "job_info");
        pid = cJSON_GetObjectItemCaseSensitive(info, "project_id");
        if (cJSON_IsNumber(pid) && pid->valuedouble >= 1)
                job->project_id = (int64_t)pid->valuedouble;

        v = payload_var(doc, "CI_PROJECT_PATH");
        if (v && valid_project_path(v))
                job->project_path = bx_xstrdup(v);
        v = payload_var(doc, "CI_COMMIT_SHA");
        if (v && valid_sha(v))
                job->commit_sha = bx_xstrdup(v);
        v = payload_var(doc, "CI_COMMIT_REF_NAME");
        if (v)
                job->ref = bx_job_sanitize(v, 128);
        v = payload_var(doc, "CI_COMMIT_REF_PROTECTED");
        job->ref_protected = v && strcmp(v, "true") == 0;
        v = payload_var(doc, "CI_JOB_URL");
        if (v)
                job->job_url = bx_job_sanitize(v, 256);
        v = payload_var(doc, "CI_REGISTRY");
        if (v && *v && strlen(v) < 256 && !strpbrk(v, " \t\r\n\"\\/")) {
                const char *user = payload_var(doc, "CI_REGISTRY_USER");
                const char *pw = payload_var(doc, "CI_REGISTRY_PASSWORD");

                if (user && *user && pw && *pw) {
                        job->ci_registry = bx_xstrdup(v);
                        job->ci_registry_user = bx_xstrdup(user);
                        job->ci_registry_password = bx_xstrdup(pw);
                }
        }
        *ret_server = payload_var(doc, "CI_SERVER_URL");
        *ret_doc = TAKE_PTR(doc);
        return 0;
}

int bx_job_load(const struct bx_settings *s, struct bx_job **ret, struct bx_error **err)
{
        struct bx_job *job = bx_xcalloc(1, sizeof(*job));
        _cleanup_json_ cJSON *doc = NULL;
        const char *server = NULL, *env_id, *v;
        int64_t n;

        job->concurrent_id = -1;
        job->build_exit_code_file = getenv("BUILD_EXIT_CODE_FILE");
        job->response_file = getenv("JOB_RESPONSE_FILE");
        env_id = getenv("CUSTOM_ENV_CI_JOB_ID");

        if (job->response_file && *job->response_file) {
                /*
                 * The payload is the truth.  CUSTOM_ENV_CI_JOB_ID is not even
                 * looked at then: a job variable of that name overrides it.
                 */
                if (load_payload(job, job->response_file, &server, &doc, err) < 0)
                        goto fail;
        } else if (parse_id("CUSTOM_ENV_CI_JOB_ID", env_id, &job->id, err) < 0) {
                bx_error_hint(err, "the driver must be run by gitlab-runner's custom executor");
                goto fail;
        }
        if (!job->project_id &&
            parse_id("CUSTOM_ENV_CI_PROJECT_ID", getenv("CUSTOM_ENV_CI_PROJECT_ID"),
                     &job->project_id, err) < 0)
                goto fail;
        v = getenv("CUSTOM_ENV_CI_CONCURRENT_ID");
        if (v && bx_parse_int64(v, &n) == 0 && n >= 0)
                job->concurrent_id = n;
        if (!server)
                server = getenv("CUSTOM_ENV_CI_SERVER_URL");
        if (!server || !*server)
                server = "local";

        job->server_hash = bx_sha256_hex(server, strlen(server), 4);
        job->key = bx_xasprintf("job-%lld-%s", (long long)job->id, job->server_hash);
        job->builder_name = bx_xasprintf("bx-%lld-%s", (long long)job->id, job->server_hash);
        job->state_dir = bx_xasprintf("%s/%s", s->state_dir, job->key);
        job->docker_config = bx_xasprintf("%s/docker", job->state_dir);
        job->home = bx_xasprintf("%s/home", job->state_dir);
        job->tmp = bx_xasprintf("%s/tmp", job->state_dir);
        job->record_path = bx_xasprintf("%s/record.json", job->state_dir);
        job->builds_dir = bx_xasprintf("%s/%s", s->builds_dir, job->key);
        job->log_path = bx_xasprintf("%s/%s.jsonl", s->log_dir, job->key);
        *ret = job;
        return 0;
fail:
        bx_job_free(job);
        return -1;
}

struct bx_job *bx_job_free(struct bx_job *job)
{
        if (!job)
                return NULL;
        free(job->server_hash);
        free(job->key);
        free(job->builder_name);
        free(job->project_path);
        free(job->commit_sha);
        free(job->ref);
        free(job->job_url);
        free(job->ci_registry);
        free(job->ci_registry_user);
        if (job->ci_registry_password) {
                OPENSSL_cleanse(job->ci_registry_password, strlen(job->ci_registry_password));
                free(job->ci_registry_password);
        }
        free(job->state_dir);
        free(job->docker_config);
        free(job->home);
        free(job->tmp);
        free(job->record_path);
        free(job->builds_dir);
        free(job->log_path);
        free(job);
        return NULL;
}

static cJSON *record_read(const struct bx_job *job)
{
        _cleanup_free_ char *text = NULL;
        struct bx_error *e = NULL;
        cJSON *doc;

        if (bx_read_file(job->record_path, RECORD_MAX, &text, NULL, &e) < 0) {
                bx_error_free(e);
                return NULL;
        }
        doc = cJSON_Parse(text);
        if (!cJSON_IsObject(doc)) {
                cJSON_Delete(doc);
                return NULL;
        }
        return doc;
}

int bx_job_record_set(const struct bx_job *job, const char *key, const char *value,
                      struct bx_error **err)
{
        _cleanup_json_ cJSON *doc = record_read(job);
        _cleanup_free_ char *text = NULL;

        if (!doc)
                doc = cJSON_CreateObject();
        cJSON_DeleteItemFromObjectCaseSensitive(doc, key);
        cJSON_AddStringToObject(doc, key, value);
        text = cJSON_Print(doc);
        if (!text)
                return bx_error_set(err, BX_FAIL_SYSTEM, ENOMEM, "cannot format the job record");
        if (bx_write_file(job->record_path, text, strlen(text), 0600, err) < 0)
                return bx_error_wrap(err, "job record");
        return 0;
}

char *bx_job_record_get(const struct bx_job *job, const char *key)
{
        _cleanup_json_ cJSON *doc = record_read(job);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, key);

        return cJSON_IsString(v) ? bx_xstrdup(v->valuestring) : NULL;
}

void bx_job_tool_env(const struct bx_job *job, const struct bx_settings *s, struct bx_strv *env)
{
        bx_strv_setenv(env, "PATH", s->job_path);
        bx_strv_setenv(env, "HOME", job->home);
        bx_strv_setenv(env, "TMPDIR", job->tmp);
        bx_strv_setenv(env, "DOCKER_CONFIG", job->docker_config);
        bx_strv_setenv(env, "DOCKER_HOST", s->docker_host);
        bx_strv_setenv(env, "LANG", "C.UTF-8");
}
