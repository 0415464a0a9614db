/* SPDX-License-Identifier: MIT */
#ifndef BX_TEST_TESTUTIL_H
#define BX_TEST_TESTUTIL_H

#include <sys/types.h>

/*
 * Helpers the unit tests share.  Like cmocka's assertions, they fail the
 * running test on any error, so they are only for test bodies and fixtures.
 */

/*
 * One temp dir per test binary, "/tmp/bx-<program>-XXXXXX" ("bx-test-job-..."
 * for test-job).  bx_test_tmpdir_setup() creates it and
 * bx_test_tmpdir_teardown() removes it with everything in it; both have the
 * shape of cmocka group fixtures and leave *state alone, so a test can pass
 * them to cmocka_run_group_tests() or call them from its own fixtures.
 * Setup returns -1 when the dir cannot be made; teardown always returns 0.
 */
int bx_test_tmpdir_setup(void **state);
int bx_test_tmpdir_teardown(void **state);

/* The temp dir's path (borrowed), valid between setup and teardown; "" otherwise. */
const char *bx_test_tmpdir(void);

/*
 * Write `text` to the file `name` in the temp dir, with `mode`, replacing
 * what was there (bx_write_file()).  Returns its path, which the caller
 * frees.
 */
char *bx_test_write_file(const char *name, const char *text, mode_t mode);

#endif
