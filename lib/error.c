/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "util.h"
#include "banned.h"

int bx_error_set(struct bx_error **err, enum bx_fail fail, int errnum, const char *fmt, ...)
{
        struct bx_error *e;
        va_list ap;
        char *msg;

        va_start(ap, fmt);
        msg = bx_xvasprintf(fmt, ap);
        va_end(ap);

        e = bx_xcalloc(1, sizeof(*e));
        e->fail = fail;
        e->errnum = errnum;
        e->child_status = -1;
        if (errnum) {
                e->msg = bx_xasprintf("%s: %s", msg, strerror(errnum));
                free(msg);
        } else {
                e->msg = msg;
        }

        if (err) {
                /* An error that is already set is a bug in the caller, but keep the first. */
                if (*err)
                        bx_error_free(e);
                else
                        *err = e;
        } else {
                bx_error_free(e);
        }
        return -1;
}

int bx_error_wrap(struct bx_error **err, const char *fmt, ...)
{
        va_list ap;
        char *ctx, *msg;

        if (!err || !*err)
                return -1;
        va_start(ap, fmt);
        ctx = bx_xvasprintf(fmt, ap);
        va_end(ap);
        msg = bx_xasprintf("%s: %s", ctx, (*err)->msg);
        free(ctx);
        free((*err)->msg);
        (*err)->msg = msg;
        return -1;
}

int bx_error_hint(struct bx_error **err, const char *fmt, ...)
{
        va_list ap;

        if (!err || !*err)
                return -1;
        free((*err)->hint);
        va_start(ap, fmt);
        (*err)->hint = bx_xvasprintf(fmt, ap);
        va_end(ap);
        return -1;
}

struct bx_error *bx_error_free(struct bx_error *err)
{
        if (err) {
                free(err->msg);
                free(err->hint);
                free(err);
        }
        return NULL;
}

void bx_error_clear(struct bx_error **err)
{
        if (err)
                *err = bx_error_free(*err);
}

static int exit_code_from_env(const char *name, int fallback)
{
        const char *s = getenv(name);
        int v;

        if (!s || bx_parse_int(s, &v) < 0 || v < 1 || v > 255)
                return fallback;
        return v;
}

int bx_build_failure_code(void)
{
        return exit_code_from_env("BUILD_FAILURE_EXIT_CODE", 1);
}

int bx_system_failure_code(void)
{
        return exit_code_from_env("SYSTEM_FAILURE_EXIT_CODE", 2);
}

int bx_exit_code(const char *stage, int r, struct bx_error *err)
{
        int code;

        if (r >= 0 && !err)
                return 0;
        if (!err) {
                fprintf(stderr, "buildx-executor: %s: failed without an error message (a bug); "
                        "report it with the ops record of this job\n", stage);
                return bx_system_failure_code();
        }
        if (err->fail == BX_FAIL_BUILD) {
                code = bx_build_failure_code();
        } else {
                code = bx_system_failure_code();
                if (err->hint)
                        fprintf(stderr, "buildx-executor: %s: %s; %s\n", stage, err->msg, err->hint);
                else
                        fprintf(stderr, "buildx-executor: %s: %s\n", stage, err->msg);
        }
        bx_error_free(err);
        return code;
}
