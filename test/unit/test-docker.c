/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "buf.h"
#include "docker.h"
#include "error.h"
#include "proc.h"
#include "util.h"

#define SOCK "/var/run/docker.sock"

/* ---- without a daemon -------------------------------------------------- */

static void test_new_rejects_other_hosts(void **state)
{
        static const char *const bad[] = {"tcp://127.0.0.1:2375",
                                          "unix://relative.sock",
                                          "unix://",
                                          "/var/run/docker.sock",
                                          "",
                                          NULL};
        struct bx_docker *d = NULL;
        struct bx_error *e = NULL;
        size_t i;

        (void)state;
        for (i = 0; bad[i]; i++) {
                assert_int_equal(bx_docker_new(bad[i], &d, &e), -1);
                assert_non_null(e);
                assert_int_equal(e->fail, BX_FAIL_SYSTEM);
                e = bx_error_free(e);
                assert_null(d);
        }
        assert_int_equal(bx_docker_new("unix:///run/x.sock", &d, &e), 0);
        assert_string_equal(bx_docker_socket(d), "/run/x.sock");
        d = bx_docker_free(d);
        assert_null(bx_docker_free(NULL));
}

static void test_unreachable_daemon(void **state)
{
        struct bx_docker *d = NULL;
        struct bx_error *e = NULL;

        (void)state;
        assert_int_equal(bx_docker_new("unix:///tmp/bx-test-no-such-docker.sock", &d, &e), 0);
        assert_int_equal(bx_docker_ping(d, &e), -1);
        assert_string_equal(e->msg, "docker engine at '/tmp/bx-test-no-such-docker.sock': ping: "
                                    "cannot connect: No such file or directory");
        assert_string_equal(e->hint, "is dockerd running? check the [docker] host setting");
        e = bx_error_free(e);
        /* The first versioned call negotiates; its failure names the call. */
        assert_int_equal(bx_docker_container_remove(d, "x", &e), -1);
        assert_string_equal(e->msg, "docker engine at '/tmp/bx-test-no-such-docker.sock': remove "
                                    "container 'x': cannot connect: No such file or directory");
        assert_non_null(e->hint);
        e = bx_error_free(e);
        bx_docker_free(d);
}

static void test_names_are_checked_before_asking(void **state)
{
        static const char *const bad[] = {"", "-x", "a/b", "a b", "../x", "_x", "a?b", NULL};
        static const char *const bad_refs[] = {"",   "-x",  "/x",  "a/../b", "a/./b", "a//b",
                                               "..", "a b", "a?b", "a%2fb",  NULL};
        struct bx_strv v = BX_STRV_INIT;
        struct bx_docker *d = NULL;
        struct bx_error *e = NULL;
        size_t i;

        (void)state;
        /* A socket that does not exist: a call that got as far as connecting would say so. */
        assert_int_equal(bx_docker_new("unix:///tmp/bx-test-no-such-docker.sock", &d, &e), 0);
        for (i = 0; bad[i]; i++) {
                assert_int_equal(bx_docker_container_remove(d, bad[i], &e), -1);
                assert_non_null(strstr(e->msg, "invalid container name"));
                e = bx_error_free(e);
                assert_int_equal(bx_docker_volume_remove(d, bad[i], &e), -1);
                assert_non_null(strstr(e->msg, "invalid volume name"));
                e = bx_error_free(e);
                if (bad[i][0]) {
                        assert_int_equal(bx_docker_container_list(d, bad[i], &v, &e), -1);
                        assert_non_null(strstr(e->msg, "invalid container name prefix"));
                        e = bx_error_free(e);
                }
        }
        for (i = 0; bad_refs[i]; i++) {
                assert_int_equal(bx_docker_image_exists(d, bad_refs[i], &e), -1);
                if (!strstr(e->msg, "invalid image reference"))
                        fail_msg("'%s' was not refused: %s", bad_refs[i], e->msg);
                e = bx_error_free(e);
        }
        assert_int_equal(v.n, 0);
        bx_docker_free(d);
}

/* ---- against the real dockerd ------------------------------------------ */

/* The leading decimal number of "26.1.5+dfsg1". */
static int atoi_prefix(const char *s)
{
        int n = 0;

        while (*s >= '0' && *s <= '9')
                n = n * 10 + (*s++ - '0');
        return n;
}

struct live {
        struct bx_docker *d;
        struct bx_strv env;
        char name[64];  /* bxtest-<pid> */
        char image[64]; /* bxtest-empty:<pid>, made by the test when needed */
        bool have_image;
};

static int live_setup(void **state)
{
        struct live *l = bx_xcalloc(1, sizeof(*l));

        bx_strv_init(&l->env);
        bx_strv_push(&l->env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        bx_strv_push(&l->env, "HOME=/tmp");
        bx_strv_push(&l->env, "DOCKER_HOST=unix://" SOCK);
        snprintf(l->name, sizeof(l->name), "bxtest-%ld", (long)getpid());
        snprintf(l->image, sizeof(l->image), "bxtest-empty:%ld", (long)getpid());
        *state = l;
        return 0;
}

static int cli(struct live *l, const char *const *argv)
{
        struct bx_error *e = NULL;
        int r = bx_proc_capture(argv, &l->env, 60000, NULL, NULL, &e);

        if (r < 0)
                print_message("%s\n", e->msg);
        bx_error_free(e);
        return r;
}

static int live_teardown(void **state)
{
        struct live *l = *state;
        struct bx_strv left = BX_STRV_INIT;
        struct bx_error *e = NULL;
        size_t i;

        /* Whatever a failed test left behind: bxtest-<pid>* containers, then volumes. */
        if (l->d && bx_docker_container_list(l->d, l->name, &left, &e) == 0)
                for (i = 0; i < left.n; i++)
                        bx_docker_container_remove(l->d, left.v[i], NULL);
        bx_error_clear(&e);
        bx_strv_release(&left);
        if (l->d && bx_docker_volume_list(l->d, "", &left, &e) == 0)
                for (i = 0; i < left.n; i++)
                        if (strstr(left.v[i], l->name))
                                bx_docker_volume_remove(l->d, left.v[i], NULL);
        bx_error_clear(&e);
        bx_strv_release(&left);
        if (l->have_image) {
                const char *rmi[] = {"docker", "rmi", l->image, NULL};

                cli(l, rmi);
        }
        bx_docker_free(l->d);
        bx_strv_release(&l->env);
        free(l);
        return 0;
}

/* Skip (with the reason) unless dockerd answers on its socket. */
static bool live_docker(struct live *l)
{
        struct bx_error *e = NULL;

        if (access(SOCK, F_OK) != 0) {
                print_message("skipped: %s does not exist (dockerd not started; "
                              "see test/env/start.sh)\n",
                              SOCK);
                return false;
        }
        if (bx_docker_new("unix://" SOCK, &l->d, &e) < 0 || bx_docker_ping(l->d, &e) < 0) {
                print_message("skipped: dockerd does not answer: %s\n", e->msg);
                bx_error_free(e);
                return false;
        }
        return true;
}

/* An image with no files, made locally (nothing can be pulled here): enough for `docker create`. */
static void make_empty_image(struct live *l)
{
        static char zeros[10240];
        char tar[64];
        struct bx_error *e = NULL;
        const char *import[] = {"docker", "import", tar, l->image, NULL};

        snprintf(tar, sizeof(tar), "/tmp/bxtest-empty-%ld.tar", (long)getpid());
        if (bx_write_file(tar, zeros, sizeof(zeros), 0600, &e) < 0)
                fail_msg("%s", e->msg);
        assert_int_equal(cli(l, import), 0);
        unlink(tar);
        l->have_image = true;
}

static void test_live_ping_info(void **state)
{
        struct live *l = *state;
        struct bx_docker_info info = {0};
        struct bx_error *e = NULL;
        struct utsname u;
        char *conf = NULL;

        if (!live_docker(l))
                skip();
        assert_int_equal(bx_docker_ping(l->d, &e), 0);
        if (bx_docker_info(l->d, &info, &e) < 0)
                fail_msg("info: %s", e->msg);
        print_message("dockerd %s, API %s, %s/%s, storage driver %s, containerd store %s\n",
                      info.server_version, info.api_version, info.os_type, info.architecture,
                      info.storage_driver, info.containerd_store ? "on" : "off");
        assert_true(info.server_version[0] != '\0');
        assert_string_equal(info.os_type, "linux");
        uname(&u);
        assert_string_equal(info.architecture, u.machine);
        /* Docker 24 and later speak API 1.43 or newer (26: 1.45); we ask for at most 1.43. */
        assert_true(info.api_version[0] != '\0');
        if (atoi_prefix(info.server_version) >= 24)
                assert_string_equal(info.api_version, "1.43");
        /* What daemon.json says about the containerd image store must be what we detect. */
        if (bx_read_file("/etc/docker/daemon.json", 65536, &conf, NULL, &e) == 0) {
                cJSON *doc = cJSON_Parse(conf);
                const cJSON *on = cJSON_GetObjectItemCaseSensitive(
                    cJSON_GetObjectItemCaseSensitive(doc, "features"), "containerd-snapshotter");

                print_message("daemon.json: containerd-snapshotter %s\n",
                              cJSON_IsTrue(on) ? "true" : "not true");
                assert_int_equal(info.containerd_store, cJSON_IsTrue(on));
                if (cJSON_IsTrue(on))
                        assert_string_equal(info.storage_driver, "overlayfs");
                cJSON_Delete(doc);
        } else {
                bx_error_clear(&e);
        }
        free(conf);
        bx_docker_info_release(&info);
        assert_null(info.server_version);
}

static void test_live_volumes(void **state)
{
        struct live *l = *state;
        struct bx_strv names = BX_STRV_INIT;
        struct bx_error *e = NULL;
        char other[96], decoy[96];

        if (!live_docker(l))
                skip();
        snprintf(other, sizeof(other), "%s-b", l->name);
        /* The daemon's volume name filter matches substrings; ours is a prefix. */
        snprintf(decoy, sizeof(decoy), "zz-%s", l->name);
        assert_int_equal(bx_docker_volume_create(l->d, l->name, &e), 0);
        assert_int_equal(bx_docker_volume_create(l->d, l->name, &e), 0); /* exists: fine */
        assert_int_equal(bx_docker_volume_create(l->d, other, &e), 0);
        assert_int_equal(bx_docker_volume_create(l->d, decoy, &e), 0);

        assert_int_equal(bx_docker_volume_list(l->d, l->name, &names, &e), 0);
        assert_int_equal(names.n, 2);
        assert_true(bx_strv_contains(&names, l->name));
        assert_true(bx_strv_contains(&names, other));
        assert_false(bx_strv_contains(&names, decoy));
        bx_strv_release(&names);

        assert_int_equal(bx_docker_volume_remove(l->d, l->name, &e), 1);
        assert_int_equal(bx_docker_volume_remove(l->d, l->name, &e), 0);
        assert_null(e);
        assert_int_equal(bx_docker_volume_remove(l->d, other, &e), 1);
        assert_int_equal(bx_docker_volume_remove(l->d, decoy, &e), 1);
        assert_int_equal(bx_docker_volume_list(l->d, l->name, &names, &e), 0);
        assert_int_equal(names.n, 0);
        bx_strv_release(&names);
}

static void test_live_containers(void **state)
{
        struct live *l = *state;
        struct bx_strv names = BX_STRV_INIT;
        struct bx_error *e = NULL;
        char ctr[96], dotted[96], lookalike[96], vol[96], mount[128];
        const char *create1[] = {"docker", "create", "--name", ctr, "-v",
                                 mount,    l->image, "/none",  NULL};
        const char *create2[] = {"docker", "create", "--name", dotted, l->image, "/none", NULL};
        const char *create3[] = {"docker", "create", "--name", lookalike, l->image, "/none", NULL};

        if (!live_docker(l))
                skip();
        make_empty_image(l);
        assert_int_equal(bx_docker_image_exists(l->d, l->image, &e), 1);

        snprintf(ctr, sizeof(ctr), "%s-c", l->name);
        /* '.' in the prefix must not match any character in the daemon's regex... */
        snprintf(dotted, sizeof(dotted), "%s.x", l->name);
        /* ...and the client-side check holds even when the daemon's match is wider. */
        snprintf(lookalike, sizeof(lookalike), "%sAx", l->name);
        snprintf(vol, sizeof(vol), "%s-vol", l->name);
        snprintf(mount, sizeof(mount), "%s:/data", vol);
        assert_int_equal(cli(l, create1), 0);
        assert_int_equal(cli(l, create2), 0);
        assert_int_equal(cli(l, create3), 0);

        assert_int_equal(bx_docker_container_list(l->d, l->name, &names, &e), 0);
        assert_int_equal(names.n, 3);
        assert_true(bx_strv_contains(&names, ctr));
        bx_strv_release(&names);
        assert_int_equal(bx_docker_container_list(l->d, dotted, &names, &e), 0);
        assert_int_equal(names.n, 1);
        assert_string_equal(names.v[0], dotted);
        bx_strv_release(&names);

        /* A volume in use is a real error, with the daemon's message. */
        assert_int_equal(bx_docker_volume_remove(l->d, vol, &e), -1);
        print_message("expected failure: %s\n", e->msg);
        assert_true(bx_startswith(e->msg, "docker engine at '" SOCK "': remove volume '"));
        assert_non_null(strstr(e->msg, "(HTTP 409: "));
        assert_non_null(strstr(e->msg, "in use"));
        e = bx_error_free(e);

        assert_int_equal(bx_docker_container_remove(l->d, ctr, &e), 1);
        assert_int_equal(bx_docker_container_remove(l->d, ctr, &e), 0);
        assert_null(e);
        assert_int_equal(bx_docker_volume_remove(l->d, vol, &e), 1);
        assert_int_equal(bx_docker_container_remove(l->d, dotted, &e), 1);
        assert_int_equal(bx_docker_container_remove(l->d, lookalike, &e), 1);
        assert_int_equal(bx_docker_container_list(l->d, l->name, &names, &e), 0);
        assert_int_equal(names.n, 0);
        bx_strv_release(&names);
}

static void test_live_images(void **state)
{
        struct live *l = *state;
        struct bx_error *e = NULL;
        char ref[96];

        if (!live_docker(l))
                skip();
        snprintf(ref, sizeof(ref), "bxtest.invalid/none/%s:latest", l->name);
        assert_int_equal(bx_docker_image_exists(l->d, ref, &e), 0);
        assert_null(e);
        /* The daemon's own refusal, as "HTTP 400: <its message>". */
        assert_int_equal(bx_docker_image_exists(l->d, "UPPER/Case", &e), -1);
        print_message("expected failure: %s\n", e->msg);
        assert_non_null(strstr(e->msg, "inspect image 'UPPER/Case' (HTTP 400: invalid reference "
                                       "format"));
        e = bx_error_free(e);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_new_rejects_other_hosts),
            cmocka_unit_test(test_unreachable_daemon),
            cmocka_unit_test(test_names_are_checked_before_asking),
            cmocka_unit_test_setup_teardown(test_live_ping_info, live_setup, live_teardown),
            cmocka_unit_test_setup_teardown(test_live_volumes, live_setup, live_teardown),
            cmocka_unit_test_setup_teardown(test_live_containers, live_setup, live_teardown),
            cmocka_unit_test_setup_teardown(test_live_images, live_setup, live_teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
