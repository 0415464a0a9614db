/* SPDX-License-Identifier: MIT */
#ifndef BX_ERROR_H
#define BX_ERROR_H

/*
 * The one error type of the project.
 *
 * Contract (taken from crun's error handling): a function that can fail takes
 * `struct bx_error **err` as its last parameter.  On success it returns 0 (or
 * a non-NULL pointer) and leaves *err untouched.  On failure it returns a
 * negative value (or NULL) and sets *err.  A caller either handles the error
 * (and frees it), or adds context with bx_error_wrap() and returns it.  Only
 * the executables' main() prints an error, once, through bx_exit_code().
 *
 * Messages are lowercase, name the failing subject in single quotes, carry no
 * trailing period and never contain a credential.
 */

enum bx_fail {
        BX_FAIL_SYSTEM = 0, /* the driver or the infrastructure: SYSTEM_FAILURE_EXIT_CODE */
        BX_FAIL_BUILD,      /* the job's own script: BUILD_FAILURE_EXIT_CODE */
};

struct bx_error {
        enum bx_fail fail;
        int errnum;       /* errno (positive) or 0 when none applies */
        int child_status; /* a failed child's exit status, -1 if n/a */
        char *msg;        /* "context: context: what failed" */
        char *hint;       /* optional "what to do", printed after the message */
};

/*
 * Set *err to a new error.  errnum, when non-zero, is appended as
 * ": strerror(errnum)".  Always returns -1 so callers can write
 * `return bx_error_set(err, ...);`.  *err must be NULL on entry.
 */
int bx_error_set(struct bx_error **err, enum bx_fail fail, int errnum, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* Like bx_error_set() for the common system-failure-with-errno case. */
#define bx_error_errno(err, errnum, ...) bx_error_set((err), BX_FAIL_SYSTEM, (errnum), __VA_ARGS__)

/* Prefix "<context>: " to the message of *err.  Always returns -1. */
int bx_error_wrap(struct bx_error **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Attach (or replace) the "what to do" hint of *err.  Always returns -1. */
int bx_error_hint(struct bx_error **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Free an error; NULL-safe.  Returns NULL so callers can write e = bx_error_free(e). */
struct bx_error *bx_error_free(struct bx_error *err);

/* Free *err and set it to NULL: for a failure the caller decided to ignore. */
void bx_error_clear(struct bx_error **err);

/*
 * Read BUILD_FAILURE_EXIT_CODE / SYSTEM_FAILURE_EXIT_CODE from the environment
 * (gitlab-runner's documented contract).  Falls back to 1 and 2 when they are
 * missing or not a number in 1..255.
 */
int bx_build_failure_code(void);
int bx_system_failure_code(void);

/*
 * Map a stage's result to the process exit code and print the failure, once,
 * to stderr as "buildx-executor: <stage>: <msg>" plus the hint.  r >= 0 with
 * no error is success (0).  Frees err.
 */
int bx_exit_code(const char *stage, int r, struct bx_error *err);

#endif
