/* SPDX-License-Identifier: MIT */
#ifndef BX_STAGES_H
#define BX_STAGES_H

#include <stdbool.h>

struct bx_error;
struct bx_job;
struct bx_record;
struct bx_settings;

/*
 * What every stage starts from: the settings, the job context and the job's
 * ops record, plus the arguments left after "--config PATH" (run gets the
 * script path and the stage name there).
 */
struct bx_ctx {
        const char *stage;
        struct bx_settings *settings;
        struct bx_job *job;
        struct bx_record *rec;
        int argc;
        char **argv;
};

#define BX_CTX_INIT {0}

/* Sanity at the start of every main: fds 0-2 open, SIGPIPE ignored, umask 077. */
void bx_process_sanitize(void);

/* Parse the arguments, load settings and the job, open the ops record. */
int bx_ctx_load(struct bx_ctx *ctx, const char *stage, int argc, char **argv,
                struct bx_error **err);
void bx_ctx_release(struct bx_ctx *ctx);

/* One entry point per stage; >= 0 is success. */
int stage_config(struct bx_ctx *ctx, struct bx_error **err);
int stage_prepare(struct bx_ctx *ctx, struct bx_error **err);
int stage_run(struct bx_ctx *ctx, struct bx_error **err);
int stage_cleanup(struct bx_ctx *ctx, struct bx_error **err);

/* The four mains are the same but for the stage: this is their body. */
int bx_stage_main(const char *stage, int (*fn)(struct bx_ctx *, struct bx_error **), int argc,
                  char **argv);

#endif
