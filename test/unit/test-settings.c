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
#include "settings.h"
#include "testutil.h"
#include "util.h"
#include "banned.h"

/* Load `text`; expect failure and a message that contains `want`. */
static void expect_error(const char *text, const char *want)
{
        char *path = bx_test_write_file("bad.toml", text, 0644);
        struct bx_settings *s = NULL;
        struct bx_error *e = NULL;

        assert_int_equal(bx_settings_load(path, &s, &e), -1);
        assert_null(s);
        assert_non_null(e);
        if (!strstr(e->msg, want))
                fail_msg("message '%s' does not contain '%s'", e->msg, want);
        assert_int_equal(e->fail, BX_FAIL_SYSTEM);
        bx_error_free(e);
        free(path);
}

static void test_defaults(void **state)
{
        struct bx_settings *s = NULL;
        struct bx_error *e = NULL;

        (void)state;
        assert_int_equal(bx_settings_load(NULL, &s, &e), 0);
        assert_string_equal(s->state_dir, "/var/lib/buildx-executor/jobs");
        assert_int_equal(s->driver, BX_DRIVER_DOCKER_CONTAINER);
        assert_int_equal(s->emulation, BX_EMULATION_HOST);
        assert_int_equal(s->platforms.n, 2);
        assert_string_equal(s->platforms.v[1], "linux/arm64");
        assert_null(s->builder_image);
        assert_int_equal(s->bootstrap_timeout, 120);
        assert_true(s->use_cgroup);
        bx_settings_free(s);
}

static void test_full_file(void **state)
{
        const char *text = "# every section\n"
                           "[paths]\n"
                           "state_dir = \"/srv/bx/state\"\n"
                           "builds_dir = \"/srv/bx/builds\"\n"
                           "[job]\n"
                           "env = [\"LANG=C\", \"FOO=bar=baz\"]\n"
                           "term_grace_seconds = 30\n"
                           "cgroup = false\n"
                           "[builder]\n"
                           "driver = \"remote\"\n"
                           "image = \"\"\n"
                           "platforms = [\"linux/amd64\", \"linux/arm/v7\"]\n"
                           "[[builder.remote]]\n"
                           "endpoint = \"tcp://arm:1234\"\n"
                           "platforms = [\"linux/arm64\"]\n"
                           "cacert = \"/etc/ca.pem\"\n"
                           "[[builder.remote]]\n"
                           "endpoint = \"unix:///run/buildkit/buildkitd.sock\"\n"
                           "[emulation]\n"
                           "mode = \"none\"\n"
                           "[[registry]]\n"
                           "host = \"harbor.example:8443\"\n"
                           "mirrors = [\"harbor.example:8443/proxy\"]\n"
                           "ca = \"/etc/harbor-ca.pem\"\n"
                           "username = \"ci\"\n"
                           "password_file = \"/etc/bx/harbor.pw\"\n"
                           "[[registry]]\n"
                           "host = \"docker.io\"\n"
                           "mirrors = [\"harbor.example:8443/dockerhub\"]\n";
        char *path = bx_test_write_file("full.toml", text, 0644);
        struct bx_settings *s = NULL;
        struct bx_error *e = NULL;
        const struct bx_registry *r;

        (void)state;
        if (bx_settings_load(path, &s, &e) < 0)
                fail_msg("%s", e->msg);
        assert_string_equal(s->state_dir, "/srv/bx/state");
        assert_string_equal(s->log_dir, "/var/log/buildx-executor"); /* default kept */
        assert_int_equal(s->job_env.n, 2);
        assert_string_equal(s->job_env.v[1], "FOO=bar=baz");
        assert_int_equal(s->term_grace_seconds, 30);
        assert_false(s->use_cgroup);
        assert_int_equal(s->driver, BX_DRIVER_REMOTE);
        assert_null(s->builder_image);
        assert_string_equal(s->platforms.v[1], "linux/arm/v7");
        assert_int_equal(s->n_remotes, 2);
        assert_string_equal(s->remotes[0].cacert, "/etc/ca.pem");
        assert_null(s->remotes[1].cacert);
        assert_int_equal(s->emulation, BX_EMULATION_NONE);
        assert_int_equal(s->n_registries, 2);
        r = bx_settings_registry(s, "harbor.example:8443");
        assert_non_null(r);
        assert_string_equal(r->password_file, "/etc/bx/harbor.pw");
        assert_null(bx_settings_registry(s, "nope"));
        bx_settings_free(s);
        free(path);
}

static void test_errors(void **state)
{
        (void)state;
        expect_error("[builder]\nimage = 5\n",
                     "bad.toml:2: key 'image' in table [builder] must be a string, not an integer");
        expect_error("[paths]\n\nstate_dirr = \"/x\"\n", "bad.toml:3: unknown key 'state_dirr'");
        expect_error("[nosuch]\na = 1\n", "bad.toml:1: unknown section 'nosuch'");
        expect_error("[builder]\ndriver = \"kubernetes\"\n",
                     "bad.toml:2: key 'driver' in table [builder]: unknown value 'kubernetes'");
        expect_error("[paths]\nlog_dir = \"relative/dir\"\n", "bad.toml:2: key 'log_dir'");
        expect_error("[builder]\nbootstrap_timeout = 1\n", "must be between 5 and 3600");
        expect_error("[builder]\nplatforms = [\"linux/arm64\", \"Linux ARM\"]\n",
                     "'Linux ARM' is not a platform");
        expect_error("[builder]\nplatforms = []\n", "platforms must not be empty");
        expect_error("[builder]\ndriver = \"remote\"\n", "needs at least one [[builder.remote]]");
        expect_error("[[registry]]\nmirrors = []\n", "bad.toml:1: [[registry]] needs a 'host'");
        expect_error("[[registry]]\nhost = \"a\"\n[[registry]]\nhost = \"a\"\n",
                     "bad.toml:3: registry 'a' is configured twice");
        expect_error("[[registry]]\nhost = \"h\\\"x\"\n", "needs a 'host'");
        expect_error("[[registry]]\nhost = \"h\"\nclient_cert = \"/c\"\n", "both client_cert");
        expect_error("[job]\nenv = [\"NOEQUALS\"]\n", "is not KEY=VALUE");
        expect_error("[docker]\nhost = \"tcp://1.2.3.4:2375\"\n", "must be a unix:// socket");
        expect_error("[job]\ncgroup = \"yes\"\n", "must be a boolean, not a string");
        expect_error("[paths\n", "bad.toml:1:");
}

static void test_harbor(void **state)
{
        const char *text = "[harbor]\n"
                           "url = \"https://harbor.example:8443\"\n"
                           "ca = \"/etc/harbor-ca.pem\"\n"
                           "username = \"admin\"\n"
                           "password_file = \"/etc/bx/harbor-admin\"\n"
                           "[[harbor.project]]\n"
                           "gitlab = \"group/app\"\n"
                           "harbor = \"apps\"\n"
                           "push = \"always\"\n"
                           "[[harbor.project]]\n"
                           "gitlab = \"group/**\"\n"
                           "harbor = \"group\"\n"
                           "[[registry]]\n"
                           "host = \"r.example\"\n"
                           "projects = [\"team/*\"]\n";
        char *path = bx_test_write_file("harbor.toml", text, 0644);
        struct bx_settings *s = NULL;
        struct bx_error *e = NULL;
        const struct bx_harbor_rule *rule;
        const struct bx_registry *reg;

        (void)state;
        if (bx_settings_load(path, &s, &e) < 0)
                fail_msg("%s", e->msg);
        assert_string_equal(s->harbor_registry, "harbor.example:8443");
        assert_int_equal(s->harbor_robot_days, 1);
        assert_int_equal(s->n_harbor_rules, 2);
        rule = bx_settings_harbor_rule(s, "group/app");
        assert_string_equal(rule->project, "apps");
        assert_int_equal(rule->push, BX_PUSH_ALWAYS);
        rule = bx_settings_harbor_rule(s, "group/sub/deep");
        assert_string_equal(rule->project, "group");
        assert_int_equal(rule->push, BX_PUSH_PROTECTED);
        assert_null(bx_settings_harbor_rule(s, "groupie/app"));
        assert_null(bx_settings_harbor_rule(s, "other/app"));
        assert_null(bx_settings_harbor_rule(s, NULL));
        /* The Harbor registry gets its CA for the builders without a [[registry]] of its own. */
        reg = bx_settings_registry(s, "harbor.example:8443");
        assert_non_null(reg);
        assert_string_equal(reg->ca, "/etc/harbor-ca.pem");
        reg = bx_settings_registry(s, "r.example");
        assert_true(bx_settings_project_matches(&reg->projects, "team/x"));
        assert_false(bx_settings_project_matches(&reg->projects, "team/x/y"));
        assert_false(bx_settings_project_matches(&reg->projects, "other/x"));
        bx_settings_free(s);
        free(path);

        expect_error("[[harbor.project]]\ngitlab = \"a/b\"\nharbor = \"p\"\n",
                     "[harbor] has projects but no 'url'");
        expect_error("[harbor]\nurl = \"https://h\"\n", "needs 'username' and 'password_file'");
        expect_error("[harbor]\nurl = \"ftp://h\"\n", "must start with https://");
        expect_error("[harbor]\nurl = \"https://h\"\nusername = \"a\"\n"
                     "password_file = \"/p\"\n[[harbor.project]]\ngitlab = \"a/*\"\n"
                     "harbor = \"p\"\npush = \"sometimes\"\n",
                     "bad.toml:8: key 'push' in table [[harbor.project]]: unknown value "
                     "'sometimes' (expected protected, always or never)");
        expect_error("[harbor]\nurl = \"https://h\"\nrobot_days = 0\n", "between 1 and 365");
}

static void test_missing_file(void **state)
{
        struct bx_settings *s = NULL;
        struct bx_error *e = NULL;

        (void)state;
        assert_int_equal(bx_settings_load("/nonexistent/bx.toml", &s, &e), -1);
        assert_non_null(strstr(e->msg, "/nonexistent/bx.toml"));
        bx_error_free(e);
}

static void test_check_files(void **state)
{
        char *pw = bx_test_write_file("pw", "secret\n", 0644);
        char *text = bx_xasprintf("[[registry]]\nhost = \"r:1\"\nusername = \"u\"\n"
                                  "password_file = \"%s\"\n",
                                  pw);
        char *path = bx_test_write_file("files.toml", text, 0644);
        struct bx_settings *s = NULL;
        struct bx_error *e = NULL;

        (void)state;
        assert_int_equal(bx_settings_load(path, &s, &e), 0);
        /* A secret readable by others is refused, with what to do. */
        assert_int_equal(bx_settings_check_files(s, &e), -1);
        assert_non_null(strstr(e->msg, "readable by group or others"));
        assert_non_null(e->hint);
        e = bx_error_free(e);
        assert_int_equal(chmod(pw, 0600), 0);
        assert_int_equal(bx_settings_check_files(s, &e), 0);
        unlink(pw);
        assert_int_equal(bx_settings_check_files(s, &e), -1);
        bx_error_free(e);
        bx_settings_free(s);
        free(pw);
        free(text);
        free(path);
}

static void test_args(void **state)
{
        char *argv1[] = {"x", "--config", "/etc/a.toml", "script", "build_script", NULL};
        char *argv2[] = {"x", "--config=/b.toml", NULL};
        char *argv3[] = {"x", "--config", NULL};
        char *argv4[] = {"x", "--bogus", NULL};
        const char *path = NULL;
        struct bx_error *e = NULL;
        int next = 0;

        (void)state;
        assert_int_equal(bx_settings_parse_args(5, argv1, &path, &next, &e), 0);
        assert_string_equal(path, "/etc/a.toml");
        assert_int_equal(next, 3);
        assert_int_equal(bx_settings_parse_args(2, argv2, &path, &next, &e), 0);
        assert_string_equal(path, "/b.toml");
        assert_int_equal(bx_settings_parse_args(2, argv3, &path, &next, &e), -1);
        e = bx_error_free(e);
        assert_int_equal(bx_settings_parse_args(2, argv4, &path, &next, &e), -1);
        bx_error_free(e);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),     cmocka_unit_test(test_full_file),
                cmocka_unit_test(test_errors),       cmocka_unit_test(test_harbor),
                cmocka_unit_test(test_missing_file),
                cmocka_unit_test(test_check_files),  cmocka_unit_test(test_args),
        };

        return cmocka_run_group_tests(tests, bx_test_tmpdir_setup, bx_test_tmpdir_teardown);
}
