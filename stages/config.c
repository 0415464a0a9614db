/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cleanup.h"
#include "error.h"
#include "job.h"
#include "settings.h"
#include "stages.h"
#include "util.h"
#include "version.h"
#include "banned.h"

/*
 * config_exec: exactly one JSON object on stdout and nothing else; the runner
 * parses stdout whole, so a stray line (even a lone newline) fails the job.
 * Diagnostics go to stderr.
 */
int stage_config(struct bx_ctx *ctx, struct bx_error **err)
{
        const struct bx_settings *s = ctx->settings;
        _cleanup_free_ char *text = NULL;
        char host[256] = "";
        cJSON *o, *driver;

        if (s->hostname[0]) {
                snprintf(host, sizeof(host), "%s", s->hostname);
        } else if (gethostname(host, sizeof(host) - 1) < 0) {
                snprintf(host, sizeof(host), "%s", "localhost");
        }

        o = cJSON_CreateObject();
        /*
         * One working tree per job, named from the validated job id: two jobs
         * of the same project on this host never share one, and nothing a job
         * sets can steer the path.
         */
        cJSON_AddStringToObject(o, "builds_dir", ctx->job->builds_dir);
        cJSON_AddStringToObject(o, "cache_dir", s->cache_dir);
        cJSON_AddBoolToObject(o, "builds_dir_is_shared", false);
        cJSON_AddStringToObject(o, "hostname", host);
        driver = cJSON_AddObjectToObject(o, "driver");
        cJSON_AddStringToObject(driver, "name", BX_NAME);
        cJSON_AddStringToObject(driver, "version", BX_VERSION);
        cJSON_AddObjectToObject(o, "job_env");
        cJSON_AddStringToObject(o, "shell", "bash");
        text = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (!text)
                return bx_error_errno(err, ENOMEM, "cannot format the config JSON");
        if (fputs(text, stdout) == EOF || fflush(stdout) != 0)
                return bx_error_errno(err, errno, "cannot write the config JSON to stdout");
        return 0;
}
