/* SPDX-License-Identifier: MIT */
#ifndef BX_PROC_H
#define BX_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct bx_error;

/*
 * All process creation goes through here (git's child_process on libuv's
 * uv_spawn).  There is no shell anywhere: argv is an array, argv.v[0] is
 * looked up in the PATH of the child's environment, and a program that
 * cannot be started is reported synchronously as an error, never as a
 * later exit status 127.
 */

enum bx_proc_io {
        BX_PROC_IO_NULL = 0, /* /dev/null */
        BX_PROC_IO_INHERIT,  /* our own stdout/stderr */
        BX_PROC_IO_CAPTURE,  /* into out/errout, bounded by capture_max */
        BX_PROC_IO_CALLBACK, /* each chunk to on_output, as it arrives */
};

struct bx_proc {
        /* Inputs. argv and env are released by bx_proc_release(). */
        struct bx_strv argv;
        struct bx_strv env;     /* the complete environment; empty = inherit ours */
        bool clean_env;         /* with an empty env: give the child no environment at all */
        const char *cwd;        /* NULL: ours */
        enum bx_proc_io out_mode;
        enum bx_proc_io err_mode;
        size_t capture_max;     /* 0: 4 MiB */
        void (*on_output)(void *data, int fd, const char *buf, size_t len);
        void *data;
        const char *stdin_data; /* written to the child's stdin, then closed; NULL: /dev/null */
        size_t stdin_len;

        /*
         * Process group and signals.  With new_group the child leads its own
         * session and process group; TERM/INT/HUP/QUIT that reach us while it
         * runs are forwarded to that whole group, and grace_ms later the group
         * gets SIGKILL.  A timeout does the same: TERM, grace, KILL.
         */
        bool new_group;
        uint64_t timeout_ms;    /* 0: none */
        uint64_t grace_ms;      /* 0: 10 s */
        /*
         * After the child exits, how long to keep reading its pipes before
         * giving up on a grandchild that holds them open (then its group is
         * killed).  0: 2 s.
         */
        uint64_t drain_ms;

        /* Outputs, valid after bx_proc_run() returned >= 0. */
        struct bx_buf out;
        struct bx_buf errout;
        int pid;
        bool timed_out;
        int forwarded_signal;   /* the signal we forwarded, 0 if none */
        uint64_t duration_ms;
};

#define BX_PROC_INIT                                                                               \
        {                                                                                          \
                .argv = BX_STRV_INIT, .env = BX_STRV_INIT, .out = BX_BUF_INIT(0),                  \
                .errout = BX_BUF_INIT(0),                                                          \
        }

/*
 * Run the process to completion.  Returns its exit status like a shell does:
 * 0..255, or 128 + signal number when it was killed by a signal.  Returns -1
 * with *err set (BX_FAIL_SYSTEM) when it could not be started, or when its
 * output went past capture_max (the child is killed then).
 */
int bx_proc_run(struct bx_proc *p, struct bx_error **err);

/* Free argv, env and captured output.  The struct can be reused after BX_PROC_INIT. */
void bx_proc_release(struct bx_proc *p);

/*
 * Convenience: run argv with exactly the environment `env` ("K=V" entries;
 * the driver's own environment holds every job secret, so children never
 * inherit it), capture stdout and stderr (each may be NULL), time out after
 * timeout_ms (0: none).  A non-zero exit fails with "'<argv0> <argv1>' failed
 * (exit N): <last line of stderr>"; the captured output is returned in both
 * cases.  Returns the exit status (0) or -1.
 */
int bx_proc_capture(const char *const *argv, const struct bx_strv *env, uint64_t timeout_ms,
                    char **ret_out, char **ret_err, struct bx_error **err);

/* "a b c" for messages; arguments are shown as they are (argv never holds secrets). */
char *bx_proc_argv_string(const struct bx_strv *argv);

/*
 * The last line of captured output `b` that is not blank at the end (trailing
 * CR, LF and spaces dropped), to end a message with: "" when there is none.
 * free() it.
 */
char *bx_proc_last_line(const struct bx_buf *b);

#endif
