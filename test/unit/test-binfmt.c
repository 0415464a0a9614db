/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "binfmt.h"
#include "buf.h"
#include "error.h"
#include "settings.h"
#include "util.h"

/* ---- helpers ------------------------------------------------------------ */

struct tmp {
        char dir[64];
        char *mount; /* <dir>/binfmt_misc: fake entry files */
        char *lock;  /* <dir>/run/binfmt.lock */
};

static int tmp_setup(void **state)
{
        struct tmp *t = bx_xcalloc(1, sizeof(*t));

        snprintf(t->dir, sizeof(t->dir), "/tmp/bx-test-binfmt.XXXXXX");
        if (!mkdtemp(t->dir))
                return -1;
        t->mount = bx_xasprintf("%s/binfmt_misc", t->dir);
        t->lock = bx_xasprintf("%s/run/binfmt.lock", t->dir);
        if (mkdir(t->mount, 0755) < 0)
                return -1;
        *state = t;
        return 0;
}

static int tmp_teardown(void **state)
{
        struct tmp *t = *state;
        struct bx_error *e = NULL;

        bx_rm_rf(t->dir, &e);
        bx_error_free(e);
        free(t->mount);
        free(t->lock);
        free(t);
        return 0;
}

static void put(const char *dir, const char *name, const char *text)
{
        char *p = bx_xasprintf("%s/%s", dir, name);
        struct bx_error *e = NULL;

        if (bx_write_file(p, text, strlen(text), 0644, &e) < 0)
                fail_msg("%s", e->msg);
        free(p);
}

/* As the kernel shows them (seen here for Debian's qemu-aarch64, flags OPF -> POF). */
#define ENTRY_OK                                                                                   \
        "enabled\n"                                                                                \
        "interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\n"                                  \
        "flags: POF\n"                                                                             \
        "offset 0\n"                                                                               \
        "magic 7f454c460201010000000000000000000200b700\n"                                         \
        "mask ffffffffffffff00fffffffffffffffffeffffff\n"
#define ENTRY_DISABLED                                                                             \
        "disabled\n"                                                                               \
        "interpreter /usr/libexec/qemu-binfmt/arm-binfmt-P\n"                                      \
        "flags: POF\n"                                                                             \
        "offset 0\n"                                                                               \
        "magic 7f454c4601010100000000000000000002002800\n"                                         \
        "mask ffffffffffffff00fffffffffffffffffeffffff\n"
#define ENTRY_NO_F                                                                                 \
        "enabled\n"                                                                                \
        "interpreter /usr/bin/qemu-riscv64-static\n"                                               \
        "flags: PO\n"                                                                              \
        "offset 0\n"                                                                               \
        "magic 7f454c460201010000000000000000000200f300\n"                                         \
        "mask ffffffffffffff00fffffffffffffffffeffffff\n"
#define ENTRY_NO_FLAGS                                                                             \
        "enabled\n"                                                                                \
        "interpreter /usr/bin/qemu-s390x\n"                                                        \
        "flags: \n"                                                                                \
        "offset 0\n"

static struct bx_settings *settings_new(enum bx_emulation_mode mode)
{
        struct bx_settings *s = bx_xcalloc(1, sizeof(*s));

        s->docker_cli = (char *)"docker";
        s->emulation = mode;
        s->binfmt_image = (char *)"tonistiigi/binfmt:qemu-v8.1.5";
        s->binfmt_conf_dir = (char *)"/usr/lib/binfmt.d";
        s->bootstrap_timeout = 30;
        return s;
}

/* ---- platforms ----------------------------------------------------------- */

static void test_platform_mapping(void **state)
{
        static const struct {
                const char *platform, *machine, *handler, *arch;
                bool native;
        } cases[] = {
            {"linux/arm64", "x86_64", "qemu-aarch64", "arm64", false},
            {"linux/arm64/v8", "x86_64", "qemu-aarch64", "arm64", false},
            {"linux/arm/v7", "x86_64", "qemu-arm", "arm", false},
            {"linux/arm/v6", "x86_64", "qemu-arm", "arm", false},
            {"linux/riscv64", "x86_64", "qemu-riscv64", "riscv64", false},
            {"linux/ppc64le", "x86_64", "qemu-ppc64le", "ppc64le", false},
            {"linux/s390x", "x86_64", "qemu-s390x", "s390x", false},
            {"linux/386", "x86_64", "qemu-i386", "386", true},
            {"linux/amd64", "x86_64", "qemu-x86_64", "amd64", true},
            {"linux/amd64", "aarch64", "qemu-x86_64", "amd64", false},
            {"linux/386", "aarch64", "qemu-i386", "386", false},
            {"linux/arm64", "aarch64", "qemu-aarch64", "arm64", true},
            {"linux/arm64/v8", "aarch64", "qemu-aarch64", "arm64", true},
            {"linux/s390x", "s390x", "qemu-s390x", "s390x", true},
        };
        static const char *const unknown[] = {
            "linux/mips64le", "arm64", "windows/amd64", "linux/arm64/v9", "Linux/arm64", "", NULL};
        struct bx_error *e = NULL;
        const char *handler, *arch;
        bool native;
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                handler = arch = NULL;
                native = !cases[i].native;
                assert_int_equal(bx_binfmt_platform(cases[i].platform, cases[i].machine, &handler,
                                                    &arch, &native, &e),
                                 0);
                assert_string_equal(handler, cases[i].handler);
                assert_string_equal(arch, cases[i].arch);
                if (native != cases[i].native)
                        fail_msg("%s on %s: native is %d", cases[i].platform, cases[i].machine,
                                 native);
        }
        for (i = 0; unknown[i]; i++) {
                assert_int_equal(bx_binfmt_platform(unknown[i], "x86_64", &handler, NULL, NULL, &e),
                                 -1);
                {
                        char want[64];

                        snprintf(want, sizeof(want), "unknown platform '%s'", unknown[i]);
                        assert_string_equal(e->msg, want);
                }
                e = bx_error_free(e);
        }
        assert_int_equal(bx_binfmt_platform("linux/mips", NULL, NULL, NULL, NULL, &e), -1);
        assert_string_equal(e->msg, "unknown platform 'linux/mips'");
        e = bx_error_free(e);
        /* This host: uname decides. */
        assert_int_equal(bx_binfmt_platform("linux/arm64", NULL, &handler, NULL, NULL, &e), 0);
        assert_string_equal(handler, "qemu-aarch64");
}

/* ---- entries ------------------------------------------------------------- */

static void test_parse_entries(void **state)
{
        struct tmp *t = *state;
        struct bx_binfmt_entry en = {0};
        struct bx_error *e = NULL;

        put(t->mount, "qemu-aarch64", ENTRY_OK);
        put(t->mount, "qemu-arm", ENTRY_DISABLED);
        put(t->mount, "qemu-riscv64", ENTRY_NO_F);
        put(t->mount, "qemu-s390x", ENTRY_NO_FLAGS);
        put(t->mount, "qemu-ppc64le", "garbage\n");

        assert_int_equal(bx_binfmt_read_entry(t->mount, "qemu-aarch64", &en, &e), 0);
        assert_true(en.exists);
        assert_true(en.enabled);
        assert_string_equal(en.interpreter, "/usr/libexec/qemu-binfmt/aarch64-binfmt-P");
        assert_string_equal(en.flags, "POF");
        assert_int_equal(bx_binfmt_entry_state(&en), BX_BINFMT_OK);
        bx_binfmt_entry_release(&en);

        assert_int_equal(bx_binfmt_read_entry(t->mount, "qemu-arm", &en, &e), 0);
        assert_true(en.exists);
        assert_false(en.enabled);
        assert_int_equal(bx_binfmt_entry_state(&en), BX_BINFMT_DISABLED);
        bx_binfmt_entry_release(&en);

        assert_int_equal(bx_binfmt_read_entry(t->mount, "qemu-riscv64", &en, &e), 0);
        assert_string_equal(en.flags, "PO");
        assert_int_equal(bx_binfmt_entry_state(&en), BX_BINFMT_NO_FIX);
        bx_binfmt_entry_release(&en);

        assert_int_equal(bx_binfmt_read_entry(t->mount, "qemu-s390x", &en, &e), 0);
        assert_string_equal(en.flags, "");
        assert_int_equal(bx_binfmt_entry_state(&en), BX_BINFMT_NO_FIX);
        bx_binfmt_entry_release(&en);

        assert_int_equal(bx_binfmt_read_entry(t->mount, "qemu-x86_64", &en, &e), 0);
        assert_false(en.exists);
        assert_int_equal(bx_binfmt_entry_state(&en), BX_BINFMT_MISSING);
        bx_binfmt_entry_release(&en);

        assert_int_equal(bx_binfmt_read_entry(t->mount, "qemu-ppc64le", &en, &e), -1);
        assert_non_null(strstr(e->msg, "'enabled' or 'disabled'"));
        assert_non_null(strstr(e->msg, "qemu-ppc64le"));
        e = bx_error_free(e);

        /* Names that are not a handler in that directory. */
        assert_int_equal(bx_binfmt_read_entry(t->mount, "../etc", &en, &e), -1);
        e = bx_error_free(e);
        assert_int_equal(bx_binfmt_read_entry(t->mount, "register", &en, &e), -1);
        e = bx_error_free(e);

        assert_int_equal(bx_binfmt_parse_entry("", &en, &e), -1);
        e = bx_error_free(e);
        assert_int_equal(bx_binfmt_parse_entry("enabled", &en, &e), 0);
        assert_null(en.flags);
        assert_int_equal(bx_binfmt_entry_state(&en), BX_BINFMT_NO_FIX);
        bx_binfmt_entry_release(&en);
}

static void test_missing_messages(void **state)
{
        static const char hint[] = "install qemu-user-static and set [emulation] mode = \"host\", "
                                   "or register the handler with the binfmt image";
        struct tmp *t = *state;
        struct bx_error *e = NULL;

        put(t->mount, "qemu-arm", ENTRY_DISABLED);
        put(t->mount, "qemu-riscv64", ENTRY_NO_F);
        put(t->mount, "qemu-aarch64", ENTRY_OK);

        assert_int_equal(bx_binfmt_missing_error(t->mount, "x86_64", "linux/s390x", "bx-j-1", &e),
                         -1);
        assert_string_equal(e->msg, "platform 'linux/s390x' is not available in builder 'bx-j-1': "
                                    "binfmt_misc handler 'qemu-s390x' is missing (not registered)");
        assert_string_equal(e->hint, hint);
        e = bx_error_free(e);

        assert_int_equal(bx_binfmt_missing_error(t->mount, "x86_64", "linux/riscv64", "bx-j-1", &e),
                         -1);
        assert_string_equal(e->msg, "platform 'linux/riscv64' is not available in builder "
                                    "'bx-j-1': binfmt_misc handler 'qemu-riscv64' is missing "
                                    "(registered without the F flag)");
        assert_string_equal(e->hint, hint);
        e = bx_error_free(e);

        assert_int_equal(bx_binfmt_missing_error(t->mount, "x86_64", "linux/arm/v7", "bx-j-1", &e),
                         -1);
        assert_string_equal(e->msg, "platform 'linux/arm/v7' is not available in builder "
                                    "'bx-j-1': binfmt_misc handler 'qemu-arm' is missing "
                                    "(disabled)");
        e = bx_error_free(e);

        /* Registered and fine, yet not in the builder: the builder is stale. */
        assert_int_equal(bx_binfmt_missing_error(t->mount, "x86_64", "linux/arm64", "bx-j-1", &e),
                         -1);
        assert_non_null(
            strstr(e->msg, "although binfmt_misc handler 'qemu-aarch64' is registered"));
        assert_string_equal(e->hint, "remove the builder and create it again");
        e = bx_error_free(e);

        assert_int_equal(bx_binfmt_missing_error(t->mount, "x86_64", "linux/amd64", "bx-j-1", &e),
                         -1);
        assert_non_null(strstr(e->msg, "although the host runs it natively"));
        e = bx_error_free(e);

        assert_int_equal(bx_binfmt_missing_error(t->mount, "x86_64", "linux/vax", "bx-j-1", &e),
                         -1);
        assert_non_null(strstr(e->msg, "unknown platform 'linux/vax'"));
        e = bx_error_free(e);
}

/* ---- ensure: modes that need no kernel ---------------------------------- */

static void test_ensure_none_reads_only(void **state)
{
        struct tmp *t = *state;
        /* A lock path that cannot be created: mode none must not even try. */
        struct bx_binfmt_paths paths = {
            .mount = t->mount, .lock_path = "/proc/bx-no/lock", .machine = "x86_64"};
        struct bx_settings *s = settings_new(BX_EMULATION_NONE);
        struct bx_strv plats = BX_STRV_INIT;
        struct bx_binfmt_report rep = {0};
        struct bx_error *e = NULL;
        struct stat st;

        put(t->mount, "qemu-aarch64", ENTRY_OK);
        put(t->mount, "qemu-riscv64", ENTRY_NO_F);
        bx_strv_pushl(&plats, "linux/amd64", "linux/arm64", "linux/riscv64", "linux/s390x", NULL);
        if (bx_binfmt_ensure_at(s, &plats, NULL, &paths, &rep, &e) < 0)
                fail_msg("%s", e->msg);
        assert_int_equal(rep.n_items, 4);
        assert_string_equal(rep.items[0].platform, "linux/amd64");
        assert_true(rep.items[0].native);
        assert_int_equal(rep.items[1].before, BX_BINFMT_OK);
        assert_string_equal(rep.items[1].handler, "qemu-aarch64");
        assert_int_equal(rep.items[2].before, BX_BINFMT_NO_FIX);
        assert_int_equal(rep.items[2].after, BX_BINFMT_NO_FIX);
        assert_int_equal(rep.items[3].before, BX_BINFMT_MISSING);
        assert_false(rep.items[3].registered);
        bx_binfmt_report_release(&rep);
        /* Nothing was written. */
        assert_int_not_equal(stat(t->lock, &st), 0);

        bx_strv_push(&plats, "linux/vax");
        assert_int_equal(bx_binfmt_ensure_at(s, &plats, NULL, &paths, &rep, &e), -1);
        assert_string_equal(e->msg, "emulation: unknown platform 'linux/vax'");
        e = bx_error_free(e);
        bx_strv_release(&plats);
        free(s);
}

static void test_ensure_image_when_all_present(void **state)
{
        struct tmp *t = *state;
        struct bx_binfmt_paths paths = {
            .mount = t->mount, .lock_path = t->lock, .machine = "x86_64"};
        struct bx_settings *s = settings_new(BX_EMULATION_IMAGE);
        struct bx_strv plats = BX_STRV_INIT;
        struct bx_binfmt_report rep = {0};
        struct bx_error *e = NULL;
        struct stat st;

        /* Nothing to install: the image is not run (a docker that does not exist proves it). */
        s->docker_cli = (char *)"/nonexistent/docker";
        put(t->mount, "qemu-aarch64", ENTRY_OK);
        bx_strv_pushl(&plats, "linux/amd64", "linux/arm64", NULL);
        if (bx_binfmt_ensure_at(s, &plats, NULL, &paths, &rep, &e) < 0)
                fail_msg("%s", e->msg);
        assert_int_equal(rep.items[1].before, BX_BINFMT_OK);
        assert_int_equal(rep.items[1].after, BX_BINFMT_OK);
        assert_false(rep.items[1].registered);
        bx_binfmt_report_release(&rep);
        /* The lock file was made, in a 0755 directory. */
        assert_int_equal(stat(t->lock, &st), 0);
        {
                char *dir = bx_xasprintf("%s/run", t->dir);

                assert_int_equal(stat(dir, &st), 0);
                assert_int_equal(st.st_mode & 07777, 0755);
                free(dir);
        }

        /* A handler is missing: the image is run, and its failure is the error. */
        s->docker_cli = (char *)"false";
        bx_strv_push(&plats, "linux/s390x");
        {
                struct bx_strv env = BX_STRV_INIT;

                bx_strv_push(&env, "PATH=/usr/bin:/bin");
                assert_int_equal(bx_binfmt_ensure_at(s, &plats, &env, &paths, &rep, &e), -1);
                bx_strv_release(&env);
        }
        assert_string_equal(e->msg, "emulation: the binfmt image 'tonistiigi/binfmt:qemu-v8.1.5' "
                                    "failed (exit 1)");
        assert_int_equal(e->child_status, 1);
        e = bx_error_free(e);
        bx_strv_release(&plats);
        free(s);
}

static void test_lock_is_exclusive(void **state)
{
        struct tmp *t = *state;
        struct bx_binfmt_paths paths = {
            .mount = t->mount, .lock_path = t->lock, .machine = "x86_64"};
        struct bx_settings *s = settings_new(BX_EMULATION_HOST);
        struct bx_strv plats = BX_STRV_INIT;
        struct bx_binfmt_report rep = {0};
        struct bx_error *e = NULL;
        char *dir = bx_xasprintf("%s/run", t->dir);
        int fd;

        /* Another job holds the lock (flock locks of two open files conflict in one process). */
        mkdir(dir, 0755);
        fd = open(t->lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(flock(fd, LOCK_EX), 0);
        s->bootstrap_timeout = 1;
        put(t->mount, "qemu-aarch64", ENTRY_OK);
        put(t->mount, "register", "");
        bx_strv_push(&plats, "linux/arm64");
        assert_int_equal(bx_binfmt_ensure_at(s, &plats, NULL, &paths, &rep, &e), -1);
        assert_non_null(strstr(e->msg, "held the binfmt lock"));
        e = bx_error_free(e);
        close(fd);
        /* Free again: fine (qemu-aarch64 is OK in the fake directory, nothing to register). */
        if (bx_binfmt_ensure_at(s, &plats, NULL, &paths, &rep, &e) < 0)
                fail_msg("%s", e->msg);
        assert_int_equal(rep.items[0].before, BX_BINFMT_OK);
        bx_binfmt_report_release(&rep);
        bx_strv_release(&plats);
        free(dir);
        free(s);
}

static void test_image_argv(void **state)
{
        static const char *const want[] = {"/usr/bin/docker",
                                           "run",
                                           "--rm",
                                           "--privileged",
                                           "tonistiigi/binfmt:qemu-v8.1.5",
                                           "--install",
                                           "arm64,arm,riscv64",
                                           NULL};
        struct bx_settings *s = settings_new(BX_EMULATION_IMAGE);
        struct bx_strv archs = BX_STRV_INIT, argv = BX_STRV_INIT;
        struct bx_error *e = NULL;
        size_t i;

        (void)state;
        s->docker_cli = (char *)"/usr/bin/docker";
        bx_strv_pushl(&archs, "arm64", "arm", "riscv64", NULL);
        assert_int_equal(bx_binfmt_image_argv(s, &archs, &argv, &e), 0);
        for (i = 0; want[i]; i++) {
                assert_true(i < argv.n);
                assert_string_equal(argv.v[i], want[i]);
        }
        assert_int_equal(argv.n, i);
        bx_strv_release(&argv);

        s->binfmt_image = (char *)"--privileged";
        assert_int_equal(bx_binfmt_image_argv(s, &archs, &argv, &e), -1);
        e = bx_error_free(e);
        s->binfmt_image = NULL;
        assert_int_equal(bx_binfmt_image_argv(s, &archs, &argv, &e), -1);
        assert_non_null(strstr(e->msg, "needs a binfmt image"));
        e = bx_error_free(e);
        s->binfmt_image = (char *)"x";
        bx_strv_release(&archs);
        assert_int_equal(bx_binfmt_image_argv(s, &archs, &argv, &e), -1);
        e = bx_error_free(e);
        assert_int_equal(argv.n, 0);
        free(s);
}

static void test_conf_errors(void **state)
{
        struct tmp *t = *state;
        enum bx_binfmt_state before;
        struct bx_error *e = NULL;
        char *conf = bx_xasprintf("%s/qemu-aarch64.conf", t->dir);

        /* A directory that is not the real mount point is never mounted on. */
        assert_int_equal(
            bx_binfmt_ensure_handler(t->mount, "qemu-aarch64", conf, &before, NULL, &e), -1);
        assert_non_null(strstr(e->msg, "binfmt_misc is not mounted on"));
        e = bx_error_free(e);

        /* A fake mount with a `register` file: the handler is missing, so the conf is read. */
        put(t->mount, "register", "");
        assert_int_equal(
            bx_binfmt_ensure_handler(t->mount, "qemu-aarch64", conf, &before, NULL, &e), -1);
        assert_non_null(strstr(e->msg, "cannot open"));
        assert_non_null(e->hint);
        e = bx_error_free(e);

        put(t->dir, "qemu-aarch64.conf", "# only a comment\n\n");
        assert_int_equal(
            bx_binfmt_ensure_handler(t->mount, "qemu-aarch64", conf, &before, NULL, &e), -1);
        assert_non_null(strstr(e->msg, "holds no registration"));
        e = bx_error_free(e);

        /* Another handler's line. */
        put(t->dir, "qemu-aarch64.conf", ":qemu-arm:M::\\x7f\\x45:\\xff\\xff:/usr/bin/x:F\n");
        assert_int_equal(
            bx_binfmt_ensure_handler(t->mount, "qemu-aarch64", conf, &before, NULL, &e), -1);
        assert_non_null(strstr(e->msg, "is not a registration of 'qemu-aarch64'"));
        e = bx_error_free(e);

        /* Too many fields. */
        put(t->dir, "qemu-aarch64.conf", ":qemu-aarch64:M::\\x7f:\\xff:/usr/bin/x:F:extra\n");
        assert_int_equal(
            bx_binfmt_ensure_handler(t->mount, "qemu-aarch64", conf, &before, NULL, &e), -1);
        assert_non_null(strstr(e->msg, "is not a registration of 'qemu-aarch64'"));
        e = bx_error_free(e);

        /* Too few fields. */
        put(t->dir, "qemu-aarch64.conf", ":qemu-aarch64:M::\\x7f\n");
        assert_int_equal(
            bx_binfmt_ensure_handler(t->mount, "qemu-aarch64", conf, &before, NULL, &e), -1);
        e = bx_error_free(e);
        free(conf);
}

/* ---- the real kernel ----------------------------------------------------- */

struct live {
        char dir[64];
        char handler[32];
        char conf_name[48];
        char *conf;
};

static int live_setup(void **state)
{
        struct live *l = bx_xcalloc(1, sizeof(*l));

        snprintf(l->dir, sizeof(l->dir), "/tmp/bx-test-binfmt.XXXXXX");
        if (!mkdtemp(l->dir))
                return -1;
        snprintf(l->handler, sizeof(l->handler), "bxtest-%ld", (long)getpid());
        snprintf(l->conf_name, sizeof(l->conf_name), "%s.conf", l->handler);
        l->conf = bx_xasprintf("%s/%s", l->dir, l->conf_name);
        *state = l;
        return 0;
}

static int live_teardown(void **state)
{
        struct live *l = *state;
        char *entry = bx_xasprintf(BX_BINFMT_MOUNT "/%s", l->handler);
        struct bx_error *e = NULL;
        int fd = open(entry, O_WRONLY | O_CLOEXEC);

        if (fd >= 0) {
                (void)!write(fd, "-1", 2);
                close(fd);
        }
        bx_rm_rf(l->dir, &e);
        bx_error_free(e);
        free(entry);
        free(l->conf);
        free(l);
        return 0;
}

static bool can_register(void)
{
        if (geteuid() != 0) {
                print_message("skipped: registering binfmt_misc handlers needs root\n");
                return false;
        }
        if (access(BX_BINFMT_MOUNT "/register", W_OK) != 0 && access(BX_BINFMT_MOUNT, F_OK) != 0) {
                print_message("skipped: no %s on this kernel\n", BX_BINFMT_MOUNT);
                return false;
        }
        return true;
}

static void write_to(const char *path, const char *data)
{
        int fd = open(path, O_WRONLY | O_CLOEXEC);

        if (fd < 0)
                fail_msg("open '%s': %s", path, strerror(errno));
        if (write(fd, data, strlen(data)) != (ssize_t)strlen(data))
                fail_msg("write '%s' to '%s': %s", data, path, strerror(errno));
        close(fd);
}

static void assert_entry(const char *handler, enum bx_binfmt_state want, const char *flags)
{
        struct bx_binfmt_entry en = {0};
        struct bx_error *e = NULL;

        if (bx_binfmt_read_entry(NULL, handler, &en, &e) < 0)
                fail_msg("%s", e->msg);
        if (bx_binfmt_entry_state(&en) != want)
                fail_msg("'%s' is %s, expected %s", handler,
                         bx_binfmt_state_name(bx_binfmt_entry_state(&en)),
                         bx_binfmt_state_name(want));
        if (flags)
                assert_string_equal(en.flags, flags);
        bx_binfmt_entry_release(&en);
}

/*
 * A handler of our own, for a magic no real file has ("BXTEST" + 0xde 0xad),
 * run by /bin/true: every path of the registration against the real kernel,
 * without touching the qemu handlers other tests and jobs use.
 */
static void test_live_register_paths(void **state)
{
        struct live *l = *state;
        enum bx_binfmt_state before;
        struct bx_error *e = NULL;
        bool registered;
        char *line, *entry;

        if (!can_register())
                skip();
        entry = bx_xasprintf(BX_BINFMT_MOUNT "/%s", l->handler);
        /* The conf has no F: ensure adds it. */
        line = bx_xasprintf(":%s:M::\\x42\\x58\\x54\\x45\\x53\\x54\\xde\\xad::/bin/true:\n",
                            l->handler);
        put(l->dir, l->conf_name, line);

        /* 1. Missing -> registered, with F. */
        if (bx_binfmt_ensure_handler(NULL, l->handler, l->conf, &before, &registered, &e) < 0)
                fail_msg("%s", e->msg);
        assert_int_equal(before, BX_BINFMT_MISSING);
        assert_true(registered);
        assert_entry(l->handler, BX_BINFMT_OK, "F");

        /* 2. Already fine -> nothing. */
        assert_int_equal(
            bx_binfmt_ensure_handler(NULL, l->handler, l->conf, &before, &registered, &e), 0);
        assert_int_equal(before, BX_BINFMT_OK);
        assert_false(registered);

        /* 3. Disabled -> removed and registered again. */
        write_to(entry, "0");
        assert_entry(l->handler, BX_BINFMT_DISABLED, NULL);
        assert_int_equal(
            bx_binfmt_ensure_handler(NULL, l->handler, l->conf, &before, &registered, &e), 0);
        assert_int_equal(before, BX_BINFMT_DISABLED);
        assert_true(registered);
        assert_entry(l->handler, BX_BINFMT_OK, "F");

        /* 4. Registered by someone else without F -> replaced by one with F. */
        write_to(entry, "-1");
        write_to(BX_BINFMT_MOUNT "/register", line);
        assert_entry(l->handler, BX_BINFMT_NO_FIX, "");
        assert_int_equal(
            bx_binfmt_ensure_handler(NULL, l->handler, l->conf, &before, &registered, &e), 0);
        assert_int_equal(before, BX_BINFMT_NO_FIX);
        assert_true(registered);
        assert_entry(l->handler, BX_BINFMT_OK, "F");

        /* 5. An interpreter that does not exist: the kernel refuses with F (opens it now). */
        write_to(entry, "-1");
        free(line);
        line = bx_xasprintf(":%s:M::\\x42\\x58\\x54\\x45\\x53\\x54\\xde\\xad::/nonexistent/qemu:F",
                            l->handler);
        put(l->dir, l->conf_name, line);
        assert_int_equal(
            bx_binfmt_ensure_handler(NULL, l->handler, l->conf, &before, &registered, &e), -1);
        print_message("expected failure: %s (%s)\n", e->msg, e->hint);
        assert_non_null(strstr(e->msg, "cannot register binfmt_misc handler"));
        e = bx_error_free(e);
        assert_entry(l->handler, BX_BINFMT_MISSING, NULL);

        /* 6. A file without the flags field at all (it is optional): ":F" is added. */
        free(line);
        line = bx_xasprintf("# comment\n\n"
                            ":%s:M::\\x42\\x58\\x54\\x45\\x53\\x54\\xde\\xad::/bin/true\n",
                            l->handler);
        put(l->dir, l->conf_name, line);
        if (bx_binfmt_ensure_handler(NULL, l->handler, l->conf, &before, &registered, &e) < 0)
                fail_msg("%s", e->msg);
        assert_true(registered);
        assert_entry(l->handler, BX_BINFMT_OK, "F");
        free(line);
        free(entry);
}

/* The installed qemu-user-static's own conf, through bx_binfmt_ensure() as prepare calls it. */
static void test_live_host_mode_qemu(void **state)
{
        struct live *l = *state;
        struct bx_settings *s = settings_new(BX_EMULATION_HOST);
        char *lock = bx_xasprintf("%s/run/binfmt.lock", l->dir);
        struct bx_binfmt_paths paths = {.lock_path = lock};
        struct bx_strv plats = BX_STRV_INIT;
        struct bx_binfmt_report rep = {0};
        struct bx_error *e = NULL;
        const char *handler;
        bool native;

        if (!can_register() || access("/usr/lib/binfmt.d/qemu-aarch64.conf", R_OK) != 0) {
                print_message("skipped: root and qemu-user-static needed\n");
                free(lock);
                free(s);
                skip();
        }
        assert_int_equal(bx_binfmt_platform("linux/arm64", NULL, &handler, NULL, &native, &e), 0);
        if (native) {
                print_message("skipped: this host runs linux/arm64 natively\n");
                free(lock);
                free(s);
                skip();
        }
        bx_strv_pushl(&plats, "linux/amd64", "linux/arm64", NULL);
        if (bx_binfmt_ensure_at(s, &plats, NULL, &paths, &rep, &e) < 0)
                fail_msg("%s", e->msg);
        print_message("linux/arm64: %s before, %s, %s after, in %llu ms\n",
                      bx_binfmt_state_name(rep.items[1].before),
                      rep.items[1].registered ? "registered" : "left alone",
                      bx_binfmt_state_name(rep.items[1].after),
                      (unsigned long long)rep.duration_ms);
        assert_int_equal(rep.items[1].after, BX_BINFMT_OK);
        assert_entry("qemu-aarch64", BX_BINFMT_OK, NULL);
        bx_binfmt_report_release(&rep);

        /* Again: now certainly already there. */
        if (bx_binfmt_ensure_at(s, &plats, NULL, &paths, &rep, &e) < 0)
                fail_msg("%s", e->msg);
        assert_int_equal(rep.items[1].before, BX_BINFMT_OK);
        assert_false(rep.items[1].registered);
        bx_binfmt_report_release(&rep);

        /*
         * A real registration from Debian's file, for a handler nobody here uses
         * (riscv64), removed again afterwards if it was this test that added it.
         */
        if (access("/usr/lib/binfmt.d/qemu-riscv64.conf", R_OK) == 0) {
                bool ours;

                bx_strv_push(&plats, "linux/riscv64");
                if (bx_binfmt_ensure_at(s, &plats, NULL, &paths, &rep, &e) < 0)
                        fail_msg("%s", e->msg);
                print_message("linux/riscv64: %s before, %s\n",
                              bx_binfmt_state_name(rep.items[2].before),
                              rep.items[2].registered ? "registered" : "left alone");
                ours = rep.items[2].registered;
                assert_int_equal(rep.items[2].after, BX_BINFMT_OK);
                assert_entry("qemu-riscv64", BX_BINFMT_OK, NULL);
                bx_binfmt_report_release(&rep);
                if (ours)
                        write_to(BX_BINFMT_MOUNT "/qemu-riscv64", "-1");
        }
        bx_strv_release(&plats);
        free(lock);
        free(s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_platform_mapping),
            cmocka_unit_test_setup_teardown(test_parse_entries, tmp_setup, tmp_teardown),
            cmocka_unit_test_setup_teardown(test_missing_messages, tmp_setup, tmp_teardown),
            cmocka_unit_test_setup_teardown(test_ensure_none_reads_only, tmp_setup, tmp_teardown),
            cmocka_unit_test_setup_teardown(test_ensure_image_when_all_present, tmp_setup,
                                            tmp_teardown),
            cmocka_unit_test_setup_teardown(test_lock_is_exclusive, tmp_setup, tmp_teardown),
            cmocka_unit_test(test_image_argv),
            cmocka_unit_test_setup_teardown(test_conf_errors, tmp_setup, tmp_teardown),
            cmocka_unit_test_setup_teardown(test_live_register_paths, live_setup, live_teardown),
            cmocka_unit_test_setup_teardown(test_live_host_mode_qemu, live_setup, live_teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
