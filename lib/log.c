/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cleanup.h"
#include "error.h"
#include "job.h"
#include "log.h"
#include "util.h"
#include "banned.h"

/* GitLab's collapsible sections: \e[0Ksection_start:<unix ts>:<name>[collapsed=true]\r\e[0K<header> */
void bx_log_section_start(const char *name, const char *header)
{
        fprintf(stdout, "\033[0Ksection_start:%lld:%s[collapsed=true]\r\033[0K\033[36;1m%s\033[0;m\n",
                (long long)time(NULL), name, header);
        fflush(stdout);
}

void bx_log_section_end(const char *name)
{
        fprintf(stdout, "\033[0Ksection_end:%lld:%s\r\033[0K\n", (long long)time(NULL), name);
        fflush(stdout);
}

void bx_log_line(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vfprintf(stdout, fmt, ap);
        va_end(ap);
        fputc('\n', stdout);
        fflush(stdout);
}

void bx_log_warn(const char *fmt, ...)
{
        va_list ap;

        fputs("\033[0;33mWARNING: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs("\033[0;m\n", stderr);
        fflush(stderr);
}

struct bx_record {
        int fd;
        long long job_id;
        char *stage;
};

struct bx_record *bx_record_open(const char *log_dir, const struct bx_job *job,
                                 const char *stage, char **ret_warning)
{
        struct bx_record *rec = bx_xcalloc(1, sizeof(*rec));
        struct bx_error *e = NULL;

        rec->fd = -1;
        rec->job_id = job ? (long long)job->id : 0;
        rec->stage = bx_xstrdup(stage);
        *ret_warning = NULL;
        if (!job)
                return rec;
        if (bx_mkdir_p(log_dir, 0750, &e) < 0) {
                *ret_warning = bx_xasprintf("cannot write the ops record: %s", e->msg);
                bx_error_free(e);
                return rec;
        }
        rec->fd = open(job->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
                       0640);
        if (rec->fd < 0)
                *ret_warning = bx_xasprintf("cannot open the ops record '%s': %s", job->log_path,
                                            strerror(errno));
        return rec;
}

struct bx_record *bx_record_close(struct bx_record *rec)
{
        if (rec) {
                if (rec->fd >= 0)
                        close(rec->fd);
                free(rec->stage);
                free(rec);
        }
        return NULL;
}

void bx_record_event(struct bx_record *rec, const char *event, const char *outcome,
                     int64_t duration_ms, const struct bx_error *error, ...)
{
        _cleanup_free_ char *now = NULL, *line = NULL;
        cJSON *o;
        va_list ap;
        const char *k, *v;
        size_t len;

        if (!rec || rec->fd < 0)
                return;
        now = bx_now_rfc3339();
        o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "time", now);
        cJSON_AddNumberToObject(o, "job_id", (double)rec->job_id);
        cJSON_AddStringToObject(o, "stage", rec->stage);
        cJSON_AddNumberToObject(o, "pid", (double)getpid());
        cJSON_AddStringToObject(o, "event", event);
        cJSON_AddStringToObject(o, "outcome", outcome);
        if (duration_ms >= 0)
                cJSON_AddNumberToObject(o, "duration_ms", (double)duration_ms);
        if (error) {
                cJSON_AddStringToObject(o, "error", error->msg);
                cJSON_AddStringToObject(o, "failure",
                                        error->fail == BX_FAIL_BUILD ? "build" : "system");
        }
        va_start(ap, error);
        while ((k = va_arg(ap, const char *))) {
                v = va_arg(ap, const char *);
                if (v)
                        cJSON_AddStringToObject(o, k, v);
        }
        va_end(ap);
        line = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (!line)
                return;
        /* One write per line: O_APPEND keeps concurrent stages' lines whole. */
        len = strlen(line);
        line = bx_xrealloc(line, len + 2);
        line[len] = '\n';
        line[len + 1] = '\0';
        (void)bx_write_all(rec->fd, line, len + 1);
}
