/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "error.h"
#include "job.h"
#include "settings.h"
#include "testutil.h"
#include "util.h"
#include "banned.h"

static struct bx_settings *settings;

static void clear_env(void)
{
        unsetenv("CUSTOM_ENV_CI_JOB_ID");
        unsetenv("CUSTOM_ENV_CI_PROJECT_ID");
        unsetenv("CUSTOM_ENV_CI_SERVER_URL");
        unsetenv("CUSTOM_ENV_CI_CONCURRENT_ID");
        unsetenv("JOB_RESPONSE_FILE");
}

static char *write_response(const char *json)
{
        return bx_test_write_file("response.json", json, 0600);
}

static void expect_bad_id(const char *value)
{
        struct bx_job *job = NULL;
        struct bx_error *e = NULL;
        size_t i;

        clear_env();
        setenv("CUSTOM_ENV_CI_JOB_ID", value, 1);
        setenv("CUSTOM_ENV_CI_PROJECT_ID", "1", 1);
        assert_int_equal(bx_job_load(settings, &job, &e), -1);
        assert_null(job);
        assert_non_null(e);
        assert_int_equal(e->fail, BX_FAIL_SYSTEM);
        /* The hostile value is echoed bounded and printable: one line, no control bytes. */
        assert_true(strlen(e->msg) < 200);
        for (i = 0; e->msg[i]; i++)
                assert_true((unsigned char)e->msg[i] >= 0x20 && (unsigned char)e->msg[i] < 0x7f);
        bx_error_free(e);
}

static void test_ids_from_env(void **state)
{
        struct bx_job *job = NULL;
        struct bx_error *e = NULL;

        (void)state;
        clear_env();
        setenv("CUSTOM_ENV_CI_JOB_ID", "1001", 1);
        setenv("CUSTOM_ENV_CI_PROJECT_ID", "42", 1);
        setenv("CUSTOM_ENV_CI_CONCURRENT_ID", "3", 1);
        assert_int_equal(bx_job_load(settings, &job, &e), 0);
        assert_int_equal(job->id, 1001);
        assert_int_equal(job->project_id, 42);
        assert_int_equal(job->concurrent_id, 3);
        assert_true(bx_startswith(job->key, "job-1001-"));
        assert_true(bx_startswith(job->builder_name, "bx-1001-"));
        assert_int_equal(strlen(job->server_hash), 8);
        assert_true(bx_startswith(job->state_dir, bx_test_tmpdir()));
        assert_null(job->project_path);
        bx_job_free(job);
}

static void test_hostile_ids(void **state)
{
        char *big = bx_xmalloc(1 << 20);

        (void)state;
        expect_bad_id("");
        expect_bad_id("0");
        expect_bad_id("-5");
        expect_bad_id("12\n");
        expect_bad_id("1 ");
        expect_bad_id("../1");
        expect_bad_id("1e3");
        expect_bad_id("0x10");
        expect_bad_id("99999999999999999999999");
        expect_bad_id("1\"; rm -rf /; \"");
        expect_bad_id("\xff\xfe\x01");
        memset(big, '7', (1 << 20) - 1);
        big[(1 << 20) - 1] = '\0';
        expect_bad_id(big);
        free(big);
}

static void test_server_hash_separates_instances(void **state)
{
        struct bx_job *a = NULL, *b = NULL;
        struct bx_error *e = NULL;

        (void)state;
        clear_env();
        setenv("CUSTOM_ENV_CI_JOB_ID", "5", 1);
        setenv("CUSTOM_ENV_CI_PROJECT_ID", "1", 1);
        setenv("CUSTOM_ENV_CI_SERVER_URL", "https://gitlab.a.example", 1);
        assert_int_equal(bx_job_load(settings, &a, &e), 0);
        setenv("CUSTOM_ENV_CI_SERVER_URL", "https://gitlab.b.example", 1);
        assert_int_equal(bx_job_load(settings, &b, &e), 0);
        assert_string_not_equal(a->key, b->key);
        assert_string_not_equal(a->builder_name, b->builder_name);
        bx_job_free(a);
        bx_job_free(b);
}

static void test_payload_is_trusted(void **state)
{
        /* A job variable cannot override the predefined one that comes first. */
        char *path = write_response(
                "{\"id\": 77, \"job_info\": {\"project_id\": 9},"
                " \"variables\": ["
                "  {\"key\": \"CI_PROJECT_PATH\", \"value\": \"group/app\"},"
                "  {\"key\": \"CI_COMMIT_REF_PROTECTED\", \"value\": \"false\"},"
                "  {\"key\": \"CI_COMMIT_SHA\", \"value\": \"0123456789abcdef0123456789abcdef01234567\"},"
                "  {\"key\": \"CI_SERVER_URL\", \"value\": \"https://gitlab.example\"},"
                "  {\"key\": \"CI_REGISTRY\", \"value\": \"gitlab.example:5050\"},"
                "  {\"key\": \"CI_REGISTRY_USER\", \"value\": \"gitlab-ci-token\"},"
                "  {\"key\": \"CI_REGISTRY_PASSWORD\", \"value\": \"job-token-secret\"},"
                "  {\"key\": \"CI_REGISTRY\", \"value\": \"evil.example\"},"
                "  {\"key\": \"CI_COMMIT_REF_PROTECTED\", \"value\": \"true\"},"
                "  {\"key\": \"CI_PROJECT_PATH\", \"value\": \"other/app\"}]}");
        struct bx_job *job = NULL;
        struct bx_error *e = NULL;

        (void)state;
        clear_env();
        setenv("JOB_RESPONSE_FILE", path, 1);
        setenv("CUSTOM_ENV_CI_PROJECT_ID", "666", 1); /* ignored: the payload has it */
        if (bx_job_load(settings, &job, &e) < 0)
                fail_msg("%s", e->msg);
        assert_int_equal(job->id, 77);
        assert_int_equal(job->project_id, 9);
        assert_string_equal(job->project_path, "group/app");
        assert_false(job->ref_protected);
        assert_string_equal(job->commit_sha, "0123456789abcdef0123456789abcdef01234567");
        assert_string_equal(job->ci_registry, "gitlab.example:5050");
        assert_string_equal(job->ci_registry_user, "gitlab-ci-token");
        assert_string_equal(job->ci_registry_password, "job-token-secret");
        bx_job_free(job);

        /* A job variable shadowing CI_JOB_ID changes nothing: the payload decides. */
        setenv("CUSTOM_ENV_CI_JOB_ID", "78\n../../x", 1);
        assert_int_equal(bx_job_load(settings, &job, &e), 0);
        assert_int_equal(job->id, 77);
        assert_true(bx_startswith(job->key, "job-77-"));
        bx_job_free(job);
        free(path);
}

static void test_payload_hostile_values(void **state)
{
        char *path = write_response(
                "{\"id\": 3, \"job_info\": {\"project_id\": 1}, \"variables\": ["
                " {\"key\": \"CI_PROJECT_PATH\", \"value\": \"../../etc\"},"
                " {\"key\": \"CI_COMMIT_SHA\", \"value\": \"$(reboot)\"},"
                " {\"key\": \"CI_COMMIT_REF_NAME\", \"value\": \"a\\nb'c\\\"d\"}]}");
        struct bx_job *job = NULL;
        struct bx_error *e = NULL;

        (void)state;
        clear_env();
        setenv("JOB_RESPONSE_FILE", path, 1);
        assert_int_equal(bx_job_load(settings, &job, &e), 0);
        assert_null(job->project_path);
        assert_null(job->commit_sha);
        assert_string_equal(job->ref, "a_b_c_d");
        bx_job_free(job);

        free(write_response("[1, 2]"));
        assert_int_equal(bx_job_load(settings, &job, &e), -1);
        e = bx_error_free(e);
        free(write_response("{\"id\": -4}"));
        assert_int_equal(bx_job_load(settings, &job, &e), -1);
        e = bx_error_free(e);
        free(write_response("{\"id\": \"7\"}"));
        assert_int_equal(bx_job_load(settings, &job, &e), -1);
        bx_error_free(e);
        free(path);
}

static void test_sanitize(void **state)
{
        char *big = bx_xmalloc(1 << 20), *s;

        (void)state;
        s = bx_job_sanitize("ok/path-1.2:x@y+z", 64);
        assert_string_equal(s, "ok/path-1.2:x@y+z");
        free(s);
        s = bx_job_sanitize("a\nb\r\"c'\x1b[31m\xc3\xa9", 64);
        assert_string_equal(s, "a_b__c___31m__");
        free(s);
        memset(big, 'x', (1 << 20) - 1);
        big[(1 << 20) - 1] = '\0';
        s = bx_job_sanitize(big, 16);
        assert_string_equal(s, "xxxxxxxxxxxxxxxx...");
        free(s);
        free(big);
}

static void test_record(void **state)
{
        struct bx_job *job = NULL;
        struct bx_error *e = NULL;
        struct stat st;
        char *v;

        (void)state;
        clear_env();
        setenv("CUSTOM_ENV_CI_JOB_ID", "9", 1);
        setenv("CUSTOM_ENV_CI_PROJECT_ID", "1", 1);
        assert_int_equal(bx_job_load(settings, &job, &e), 0);
        assert_int_equal(bx_mkdir_p(job->state_dir, 0700, &e), 0);
        assert_null(bx_job_record_get(job, "builder"));
        assert_int_equal(bx_job_record_set(job, "builder", "bx-9", &e), 0);
        assert_int_equal(bx_job_record_set(job, "cgroup", "/sys/x", &e), 0);
        assert_int_equal(bx_job_record_set(job, "builder", "bx-9b", &e), 0);
        v = bx_job_record_get(job, "builder");
        assert_string_equal(v, "bx-9b");
        free(v);
        v = bx_job_record_get(job, "cgroup");
        assert_string_equal(v, "/sys/x");
        free(v);
        assert_int_equal(stat(job->record_path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        bx_job_free(job);
}

static int setup(void **state)
{
        struct bx_error *e = NULL;

        if (bx_test_tmpdir_setup(state) < 0 || bx_settings_load(NULL, &settings, &e) < 0)
                return -1;
        free(settings->state_dir);
        settings->state_dir = bx_xstrdup(bx_test_tmpdir());
        return 0;
}

static int teardown(void **state)
{
        bx_settings_free(settings);
        return bx_test_tmpdir_teardown(state);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ids_from_env),
                cmocka_unit_test(test_hostile_ids),
                cmocka_unit_test(test_server_hash_separates_instances),
                cmocka_unit_test(test_payload_is_trusted),
                cmocka_unit_test(test_payload_hostile_values),
                cmocka_unit_test(test_sanitize),
                cmocka_unit_test(test_record),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
