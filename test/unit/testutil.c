/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"
#include "testutil.h"
#include "util.h"
#include "banned.h"

static char tmpdir[128];

int bx_test_tmpdir_setup(void **state)
{
        (void)state;
        /* Named after the test binary (errno.h's GNU global): a kept dir says whose it is. */
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/bx-%s-XXXXXX", program_invocation_short_name);
        if (!mkdtemp(tmpdir)) {
                tmpdir[0] = '\0';
                return -1;
        }
        return 0;
}

int bx_test_tmpdir_teardown(void **state)
{
        struct bx_error *e = NULL;

        (void)state;
        if (tmpdir[0])
                bx_rm_rf(tmpdir, &e);
        bx_error_free(e);
        tmpdir[0] = '\0';
        return 0;
}

const char *bx_test_tmpdir(void)
{
        return tmpdir;
}

char *bx_test_write_file(const char *name, const char *text, mode_t mode)
{
        char *path = bx_xasprintf("%s/%s", tmpdir, name);
        struct bx_error *e = NULL;

        if (bx_write_file(path, text, strlen(text), mode, &e) < 0)
                fail_msg("%s", e->msg);
        return path;
}
