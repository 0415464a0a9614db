/* SPDX-License-Identifier: MIT */
/*
 * The config stage's contract with the runner, checked on the built
 * executable: stdout is exactly one JSON object of the documented shape,
 * diagnostics go to stderr, and a bad settings file is a system failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "buf.h"
#include "error.h"
#include "proc.h"
#include "testutil.h"
#include "util.h"
#include "banned.h"

struct result {
        int status;
        char *out;
        char *err;
};

static struct result run_config(const char *settings_text, const char *job_id)
{
        struct bx_proc p = BX_PROC_INIT;
        struct bx_error *e = NULL;
        struct result r;
        char *path = bx_test_write_file("settings.toml", settings_text, 0644);

        bx_strv_push(&p.argv, BX_BUILD_DIR "/buildx-executor-config");
        bx_strv_pushl(&p.argv, "--config", path, NULL);
        bx_strv_push(&p.env, "PATH=/usr/bin:/bin");
        bx_strv_push(&p.env, "SYSTEM_FAILURE_EXIT_CODE=42");
        bx_strv_pushf(&p.env, "CUSTOM_ENV_CI_JOB_ID=%s", job_id);
        bx_strv_push(&p.env, "CUSTOM_ENV_CI_PROJECT_ID=7");
        p.out_mode = BX_PROC_IO_CAPTURE;
        p.err_mode = BX_PROC_IO_CAPTURE;
        r.status = bx_proc_run(&p, &e);
        assert_null(e);
        r.out = bx_buf_detach(&p.out, NULL);
        r.err = bx_buf_detach(&p.errout, NULL);
        bx_proc_release(&p);
        free(path);
        return r;
}

static char *settings_text(void)
{
        const char *dir = bx_test_tmpdir();

        return bx_xasprintf("[paths]\nbuilds_dir = \"%s/builds\"\ncache_dir = \"%s/cache\"\n"
                            "state_dir = \"%s/state\"\nlog_dir = \"%s/log\"\n",
                            dir, dir, dir, dir);
}

static void test_json_shape(void **state)
{
        const char *dir = bx_test_tmpdir();
        char *text = settings_text();
        struct result r = run_config(text, "1001");
        cJSON *doc, *driver, *env;
        const char *end = NULL;

        (void)state;
        assert_int_equal(r.status, 0);
        doc = cJSON_ParseWithOpts(r.out, &end, 1);
        assert_non_null(doc);
        assert_int_equal(*end, '\0'); /* nothing after the object, not even a newline */
        assert_true(cJSON_IsObject(doc));
        assert_true(bx_startswith(cJSON_GetObjectItem(doc, "builds_dir")->valuestring, dir));
        assert_non_null(strstr(cJSON_GetObjectItem(doc, "builds_dir")->valuestring, "job-1001-"));
        assert_string_equal(cJSON_GetObjectItem(doc, "cache_dir")->valuestring + strlen(dir),
                            "/cache");
        assert_true(cJSON_IsFalse(cJSON_GetObjectItem(doc, "builds_dir_is_shared")));
        assert_true(cJSON_IsString(cJSON_GetObjectItem(doc, "hostname")));
        driver = cJSON_GetObjectItem(doc, "driver");
        assert_string_equal(cJSON_GetObjectItem(driver, "name")->valuestring, "buildx-executor");
        assert_true(cJSON_IsString(cJSON_GetObjectItem(driver, "version")));
        env = cJSON_GetObjectItem(doc, "job_env");
        assert_true(cJSON_IsObject(env));
        assert_string_equal(cJSON_GetObjectItem(doc, "shell")->valuestring, "bash");
        assert_string_equal(r.err, "");
        cJSON_Delete(doc);
        free(r.out);
        free(r.err);
        free(text);
}

static void test_concurrent_jobs_never_share_a_tree(void **state)
{
        char *text = settings_text();
        struct result a = run_config(text, "2001"), b = run_config(text, "2002");
        cJSON *da = cJSON_Parse(a.out), *db = cJSON_Parse(b.out);

        (void)state;
        assert_string_not_equal(cJSON_GetObjectItem(da, "builds_dir")->valuestring,
                                cJSON_GetObjectItem(db, "builds_dir")->valuestring);
        cJSON_Delete(da);
        cJSON_Delete(db);
        free(a.out);
        free(a.err);
        free(b.out);
        free(b.err);
        free(text);
}

static void test_bad_settings(void **state)
{
        struct result r = run_config("[builder]\nplatforms = \"linux/arm64\"\n", "1");

        (void)state;
        assert_int_equal(r.status, 42); /* SYSTEM_FAILURE_EXIT_CODE from the environment */
        assert_string_equal(r.out, "");
        assert_non_null(strstr(r.err, "settings.toml:2: key 'platforms' in table [builder] must "
                                      "be an array of strings, not a string"));
        /* one line */
        assert_ptr_equal(strchr(r.err, '\n'), r.err + strlen(r.err) - 1);
        free(r.out);
        free(r.err);
}

static void test_hostile_job_id(void **state)
{
        char *text = settings_text();
        struct result r = run_config(text, "1\n{\"builds_dir\":\"/\"}");

        (void)state;
        assert_int_equal(r.status, 42);
        assert_string_equal(r.out, "");
        free(r.out);
        free(r.err);
        free(text);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_json_shape),
                cmocka_unit_test(test_concurrent_jobs_never_share_a_tree),
                cmocka_unit_test(test_bad_settings),
                cmocka_unit_test(test_hostile_job_id),
        };

        return cmocka_run_group_tests(tests, bx_test_tmpdir_setup, bx_test_tmpdir_teardown);
}
