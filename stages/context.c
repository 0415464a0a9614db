/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "job.h"
#include "log.h"
#include "settings.h"
#include "stages.h"
#include "util.h"
#include "banned.h"

void bx_process_sanitize(void)
{
        int fd;

        /* Make sure 0-2 are open, so no file we open later becomes "stdout" (curl). */
        do {
                fd = open("/dev/null", O_RDWR);
        } while (fd >= 0 && fd <= 2);
        if (fd > 2)
                close(fd);
        signal(SIGPIPE, SIG_IGN);
        /* Everything the driver creates is private unless it says otherwise. */
        umask(077);
}

int bx_ctx_load(struct bx_ctx *ctx, const char *stage, int argc, char **argv,
                struct bx_error **err)
{
        const char *path = NULL;
        char *warning = NULL;
        int next;

        ctx->stage = stage;
        if (bx_settings_parse_args(argc, argv, &path, &next, err) < 0)
                return -1;
        ctx->argc = argc - next;
        ctx->argv = argv + next;
        if (bx_settings_load(path, &ctx->settings, err) < 0)
                return -1;
        if (bx_job_load(ctx->settings, &ctx->job, err) < 0)
                return -1;
        ctx->rec = bx_record_open(ctx->settings->log_dir, ctx->job, stage, &warning);
        if (warning) {
                bx_log_warn("%s, ignoring", warning);
                free(warning);
        }
        return 0;
}

void bx_ctx_release(struct bx_ctx *ctx)
{
        ctx->rec = bx_record_close(ctx->rec);
        ctx->job = bx_job_free(ctx->job);
        ctx->settings = bx_settings_free(ctx->settings);
}

int bx_stage_main(const char *stage, int (*fn)(struct bx_ctx *, struct bx_error **), int argc,
                  char **argv)
{
        struct bx_error *err = NULL;
        struct bx_ctx ctx = BX_CTX_INIT;
        uint64_t start;
        int r;

        bx_process_sanitize();
        start = bx_now_ms();
        r = bx_ctx_load(&ctx, stage, argc, argv, &err);
        if (r >= 0) {
                bx_record_event(ctx.rec, stage, "start", -1, NULL, NULL);
                r = fn(&ctx, &err);
                bx_record_event(ctx.rec, stage, r >= 0 && !err ? "ok" : "error",
                                (int64_t)(bx_now_ms() - start), err, NULL);
        }
        bx_ctx_release(&ctx);
        if (fflush(stdout) != 0 || ferror(stdout)) {
                if (r >= 0 && !err)
                        r = bx_error_errno(&err, EIO, "cannot write to stdout");
        }
        return bx_exit_code(stage, r, err);
}
