/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "error.h"
#include "proc.h"
#include "util.h"

static void bash(struct bx_proc *p, const char *script)
{
        bx_strv_pushl(&p->argv, "bash", "-c", script, NULL);
        bx_strv_push(&p->env, "PATH=/usr/bin:/bin");
        p->out_mode = BX_PROC_IO_CAPTURE;
        p->err_mode = BX_PROC_IO_CAPTURE;
}

static void test_capture_and_status(void **state)
{
        struct bx_proc p = BX_PROC_INIT;
        struct bx_error *e = NULL;

        (void)state;
        bash(&p, "echo out; echo err >&2; exit 3");
        assert_int_equal(bx_proc_run(&p, &e), 3);
        assert_string_equal(p.out.buf, "out\n");
        assert_string_equal(p.errout.buf, "err\n");
        bx_proc_release(&p);
}

static void test_killed_by_signal(void **state)
{
        struct bx_proc p = BX_PROC_INIT;
        struct bx_error *e = NULL;

        (void)state;
        bash(&p, "kill -USR1 $$; sleep 5");
        assert_int_equal(bx_proc_run(&p, &e), 128 + SIGUSR1);
        bx_proc_release(&p);
}

static void test_not_found_is_an_error(void **state)
{
        struct bx_proc p = BX_PROC_INIT;
        struct bx_error *e = NULL;

        (void)state;
        bx_strv_push(&p.argv, "bx-no-such-program");
        bx_strv_push(&p.env, "PATH=/usr/bin:/bin");
        assert_int_equal(bx_proc_run(&p, &e), -1);
        assert_non_null(e);
        assert_non_null(strstr(e->msg, "cannot run 'bx-no-such-program'"));
        assert_non_null(e->hint);
        bx_error_free(e);
        bx_proc_release(&p);
}

static void test_clean_environment(void **state)
{
        struct bx_proc p = BX_PROC_INIT;
        struct bx_error *e = NULL;

        (void)state;
        setenv("BX_TEST_SECRET", "hunter2", 1);
        bash(&p, "env");
        assert_int_equal(bx_proc_run(&p, &e), 0);
        assert_null(strstr(p.out.buf, "hunter2"));
        assert_non_null(strstr(p.out.buf, "PATH=/usr/bin:/bin"));
        bx_proc_release(&p);
}

static void test_stdin(void **state)
{
        struct bx_proc p = BX_PROC_INIT;
        struct bx_error *e = NULL;

        (void)state;
        bash(&p, "cat");
        p.stdin_data = "piped\n";
        p.stdin_len = 6;
        assert_int_equal(bx_proc_run(&p, &e), 0);
        assert_string_equal(p.out.buf, "piped\n");
        bx_proc_release(&p);
}

static void test_timeout_term_then_kill(void **state)
{
        struct bx_proc p = BX_PROC_INIT;
        struct bx_error *e = NULL;

        (void)state;
        /* Ignores TERM: only the KILL after the grace period ends it. */
        bash(&p, "trap '' TERM; echo ready; sleep 30 & wait; sleep 30");
        p.new_group = true;
        p.timeout_ms = 200;
        p.grace_ms = 300;
        assert_int_equal(bx_proc_run(&p, &e), 128 + SIGKILL);
        assert_true(p.timed_out);
        assert_true(p.duration_ms >= 400 && p.duration_ms < 10000);
        bx_proc_release(&p);
}

static void test_forwards_term_to_group(void **state)
{
        struct bx_proc p = BX_PROC_INIT;
        struct bx_error *e = NULL;

        (void)state;
        /* The child sends TERM to us (its parent); we must pass it to its whole group. */
        bash(&p, "trap 'echo got-term; exit 7' TERM; kill -TERM $PPID; sleep 20 & wait");
        p.new_group = true;
        p.grace_ms = 5000;
        assert_int_equal(bx_proc_run(&p, &e), 7);
        assert_int_equal(p.forwarded_signal, SIGTERM);
        assert_string_equal(p.out.buf, "got-term\n");
        bx_proc_release(&p);
}

static void test_grandchild_holding_pipes(void **state)
{
        struct bx_proc p = BX_PROC_INIT;
        struct bx_error *e = NULL;
        int pid;

        (void)state;
        /* A daemon that escaped the group keeps the pipe open: we must not wait for it. */
        bash(&p, "setsid sleep 30 & echo $!; sleep 30 & exit 0");
        p.new_group = true;
        p.drain_ms = 200;
        assert_int_equal(bx_proc_run(&p, &e), 0);
        assert_true(p.duration_ms < 10000);
        /* Reap the escaped one ourselves; in the driver the job's cgroup does that. */
        pid = (int)strtol(p.out.buf, NULL, 10);
        if (pid > 1)
                kill(pid, SIGKILL);
        bx_proc_release(&p);
}

static void test_capture_limit(void **state)
{
        struct bx_proc p = BX_PROC_INIT;
        struct bx_error *e = NULL;

        (void)state;
        bash(&p, "head -c 100000 /dev/zero");
        p.capture_max = 1000;
        assert_int_equal(bx_proc_run(&p, &e), -1);
        assert_non_null(strstr(e->msg, "more than 1000 bytes"));
        bx_error_free(e);
        bx_proc_release(&p);
}

static void test_capture_helper(void **state)
{
        const char *const ok[] = {"bash", "-c", "echo hi", NULL};
        const char *const bad[] = {"bash", "-c", "echo first >&2; echo 'last line' >&2; exit 4",
                                   NULL};
        struct bx_strv env = BX_STRV_INIT;
        struct bx_error *e = NULL;
        char *out = NULL, *err = NULL;

        (void)state;
        bx_strv_push(&env, "PATH=/usr/bin:/bin");
        assert_int_equal(bx_proc_capture(ok, &env, 5000, &out, NULL, &e), 0);
        assert_string_equal(out, "hi\n");
        free(out);
        assert_int_equal(bx_proc_capture(bad, &env, 5000, NULL, &err, &e), -1);
        assert_string_equal(e->msg, "'bash' failed (exit 4): last line");
        assert_int_equal(e->child_status, 4);
        free(err);
        bx_error_free(e);
        bx_strv_release(&env);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_capture_and_status),
                cmocka_unit_test(test_killed_by_signal),
                cmocka_unit_test(test_not_found_is_an_error),
                cmocka_unit_test(test_clean_environment),
                cmocka_unit_test(test_stdin),
                cmocka_unit_test(test_timeout_term_then_kill),
                cmocka_unit_test(test_forwards_term_to_group),
                cmocka_unit_test(test_grandchild_holding_pipes),
                cmocka_unit_test(test_capture_limit),
                cmocka_unit_test(test_capture_helper),
        };

        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
