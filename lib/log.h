/* SPDX-License-Identifier: MIT */
#ifndef BX_LOG_H
#define BX_LOG_H

#include <stdint.h>

struct bx_error;
struct bx_job;

/*
 * Two audiences.
 *
 * The job log: what prepare and run print on stdout/stderr reaches the
 * project maintainer's job log.  Sections use GitLab's collapsible section
 * markers.  cleanup's output goes to the runner log, unmasked: it prints only
 * what is safe there.
 *
 * The ops record: one JSON object per line, appended by every stage to
 * <log_dir>/<job key>.jsonl, for the runner admin.  It survives cleanup.
 * Nothing secret is ever passed to it: errors carry no credentials by the
 * error module's contract.
 */

void bx_log_section_start(const char *name, const char *header);
void bx_log_section_end(const char *name);
/* A plain line in the job log (stdout). */
void bx_log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "WARNING: ..." in yellow, to stderr. */
void bx_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct bx_record;

/*
 * Open the job's ops record for appending (creating log_dir 0750 and the file
 * 0640 as needed).  A record that cannot be opened is not fatal to the job:
 * the returned handle then writes nowhere and *ret_warning says why.
 */
struct bx_record *bx_record_open(const char *log_dir, const struct bx_job *job,
                                 const char *stage, char **ret_warning);
struct bx_record *bx_record_close(struct bx_record *rec);

/*
 * Append one event: {"time","job_id","stage","event","outcome","duration_ms",
 * "error", plus `detail` key/value string pairs (NULL-terminated list)}.
 * outcome is "start", "ok", "skipped" or "error"; duration_ms < 0 omits it.
 */
void bx_record_event(struct bx_record *rec, const char *event, const char *outcome,
                     int64_t duration_ms, const struct bx_error *error, ...)
        __attribute__((sentinel));

#endif
