/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "cleanup.h"
#include "error.h"
#include "proc.h"
#include "util.h"
#include "banned.h"

#define DEFAULT_CAPTURE_MAX (4u << 20)
#define DEFAULT_GRACE_MS 10000
#define DEFAULT_DRAIN_MS 2000

static const int forwarded_signals[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT};

struct run {
        struct bx_proc *p;
        uv_loop_t loop;
        uv_process_t child;
        uv_pipe_t in, out, err;
        uv_write_t write_req;
        uv_signal_t sig[ARRAY_SIZE(forwarded_signals)];
        uv_timer_t timeout, grace, drain;
        bool spawned, exited, out_open, err_open, in_open;
        int pending_signal; /* arrived before the child existed */
        int64_t exit_status;
        int term_signal;
        bool overflow;
        uint64_t start_ms;
};

static void signal_group(struct run *r, int signo)
{
        int pid = r->child.pid;

        if (!r->spawned || pid <= 0)
                return;
        /*
         * The child leads its own process group, so the group is signalled, not
         * just the pid: a shell's children must see the TERM too.  ESRCH means
         * the group is already gone, which is what we wanted.
         */
        if (r->p->new_group)
                (void)kill(-pid, signo);
        else if (!r->exited)
                (void)uv_process_kill(&r->child, signo);
}

static void on_grace(uv_timer_t *t)
{
        struct run *r = t->data;

        signal_group(r, SIGKILL);
}

static void terminate(struct run *r, int signo)
{
        signal_group(r, signo);
        if (!uv_is_active((uv_handle_t *)&r->grace))
                uv_timer_start(&r->grace, on_grace,
                               r->p->grace_ms ? r->p->grace_ms : DEFAULT_GRACE_MS, 0);
}

static void on_signal(uv_signal_t *h, int signo)
{
        struct run *r = h->data;

        if (!r->p->forwarded_signal)
                r->p->forwarded_signal = signo;
        if (!r->spawned) {
                r->pending_signal = signo;
                return;
        }
        terminate(r, signo);
}

static void on_timeout(uv_timer_t *t)
{
        struct run *r = t->data;

        r->p->timed_out = true;
        terminate(r, SIGTERM);
}

static void close_if_active(uv_handle_t *h)
{
        if (h->loop && !uv_is_closing(h))
                uv_close(h, NULL);
}

static void maybe_finish(struct run *r)
{
        size_t i;

        if (!r->exited || r->out_open || r->err_open)
                return;
        for (i = 0; i < ARRAY_SIZE(r->sig); i++)
                close_if_active((uv_handle_t *)&r->sig[i]);
        close_if_active((uv_handle_t *)&r->timeout);
        close_if_active((uv_handle_t *)&r->grace);
        close_if_active((uv_handle_t *)&r->drain);
        close_if_active((uv_handle_t *)&r->child);
        if (r->in_open) {
                r->in_open = false;
                close_if_active((uv_handle_t *)&r->in);
        }
}

static void close_pipe(struct run *r, uv_pipe_t *pipe)
{
        if (pipe == &r->out && r->out_open)
                r->out_open = false;
        else if (pipe == &r->err && r->err_open)
                r->err_open = false;
        else
                return;
        uv_close((uv_handle_t *)pipe, NULL);
        maybe_finish(r);
}

static void on_drain(uv_timer_t *t)
{
        struct run *r = t->data;

        /*
         * The child is gone but something it started still holds the pipes.
         * Stop waiting: kill what is left of its group and close our ends, so
         * nothing keeps this stage -- and the runner's pipes -- open.
         */
        if (r->p->new_group)
                signal_group(r, SIGKILL);
        close_pipe(r, &r->out);
        close_pipe(r, &r->err);
}

static void on_exit_cb(uv_process_t *h, int64_t status, int term_signal)
{
        struct run *r = h->data;

        r->exited = true;
        r->exit_status = status;
        r->term_signal = term_signal;
        r->p->duration_ms = bx_now_ms() - r->start_ms;
        uv_timer_stop(&r->timeout);
        if (r->out_open || r->err_open)
                uv_timer_start(&r->drain, on_drain,
                               r->p->drain_ms ? r->p->drain_ms : DEFAULT_DRAIN_MS, 0);
        maybe_finish(r);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
        (void)h;
        (void)suggested;
        static char chunk[65536];

        /* One loop, one thread: the callbacks consume the chunk before the next read. */
        buf->base = chunk;
        buf->len = sizeof(chunk);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
        struct run *r = s->data;
        uv_pipe_t *pipe = (uv_pipe_t *)s;
        bool is_out = pipe == &r->out;
        enum bx_proc_io mode = is_out ? r->p->out_mode : r->p->err_mode;

        if (nread < 0) {
                close_pipe(r, pipe);
                return;
        }
        if (nread == 0)
                return;
        if (mode == BX_PROC_IO_CALLBACK && r->p->on_output) {
                r->p->on_output(r->p->data, is_out ? 1 : 2, buf->base, (size_t)nread);
        } else if (mode == BX_PROC_IO_CAPTURE) {
                struct bx_buf *b = is_out ? &r->p->out : &r->p->errout;

                if (bx_buf_add(b, buf->base, (size_t)nread) < 0 && !r->overflow) {
                        r->overflow = true;
                        terminate(r, SIGKILL);
                }
        }
}

static void on_written(uv_write_t *req, int status)
{
        struct run *r = req->data;

        (void)status; /* EPIPE: the child did not want its input; not our failure */
        if (r->in_open) {
                r->in_open = false;
                uv_close((uv_handle_t *)&r->in, NULL);
        }
}

static void set_stdio(uv_stdio_container_t *c, enum bx_proc_io mode, int fd, uv_pipe_t *pipe)
{
        switch (mode) {
        case BX_PROC_IO_INHERIT:
                c->flags = UV_INHERIT_FD;
                c->data.fd = fd;
                break;
        case BX_PROC_IO_CAPTURE:
        case BX_PROC_IO_CALLBACK:
                c->flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
                c->data.stream = (uv_stream_t *)pipe;
                break;
        case BX_PROC_IO_NULL:
        default:
                c->flags = UV_IGNORE;
                break;
        }
}

char *bx_proc_argv_string(const struct bx_strv *argv)
{
        struct bx_buf b = BX_BUF_INIT(0);
        size_t i;

        for (i = 0; i < argv->n; i++) {
                if (i)
                        bx_buf_addch(&b, ' ');
                bx_buf_adds(&b, argv->v[i]);
        }
        return bx_buf_detach(&b, NULL);
}

static char *program_name(const struct bx_proc *p)
{
        if (p->argv.n >= 2 && p->argv.v[1][0] != '-')
                return bx_xasprintf("%s %s", p->argv.v[0], p->argv.v[1]);
        return bx_xstrdup(p->argv.n ? p->argv.v[0] : "?");
}

int bx_proc_run(struct bx_proc *p, struct bx_error **err)
{
        struct run r = {.p = p};
        uv_process_options_t o = {0};
        uv_stdio_container_t stdio[3];
        char *empty_env[] = {NULL};
        size_t i;
        int rc;

        if (p->argv.n == 0)
                return bx_error_set(err, BX_FAIL_SYSTEM, 0, "no program to run (a bug)");

        if (!p->capture_max)
                p->capture_max = DEFAULT_CAPTURE_MAX;
        p->out.max = p->capture_max;
        p->errout.max = p->capture_max;
        p->timed_out = false;
        p->forwarded_signal = 0;
        p->pid = 0;

        rc = uv_loop_init(&r.loop);
        if (rc < 0)
                return bx_error_set(err, BX_FAIL_SYSTEM, -rc, "cannot start an event loop: %s",
                                    uv_strerror(rc));

        /* Watch the signals before the child exists, so a TERM in between is not lost. */
        for (i = 0; i < ARRAY_SIZE(forwarded_signals); i++) {
                uv_signal_init(&r.loop, &r.sig[i]);
                r.sig[i].data = &r;
                if (p->new_group)
                        uv_signal_start(&r.sig[i], on_signal, forwarded_signals[i]);
        }
        uv_timer_init(&r.loop, &r.timeout);
        uv_timer_init(&r.loop, &r.grace);
        uv_timer_init(&r.loop, &r.drain);
        r.timeout.data = r.grace.data = r.drain.data = &r;

        uv_pipe_init(&r.loop, &r.in, 0);
        uv_pipe_init(&r.loop, &r.out, 0);
        uv_pipe_init(&r.loop, &r.err, 0);
        r.in.data = r.out.data = r.err.data = &r;

        if (p->stdin_data) {
                stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
                stdio[0].data.stream = (uv_stream_t *)&r.in;
        } else {
                stdio[0].flags = UV_IGNORE;
        }
        set_stdio(&stdio[1], p->out_mode, STDOUT_FILENO, &r.out);
        set_stdio(&stdio[2], p->err_mode, STDERR_FILENO, &r.err);

        o.file = p->argv.v[0];
        o.args = p->argv.v;
        if (p->env.n)
                o.env = p->env.v;
        else if (p->clean_env)
                o.env = empty_env;
        o.cwd = p->cwd;
        o.stdio = stdio;
        o.stdio_count = 3;
        o.exit_cb = on_exit_cb;
        /* UV_PROCESS_DETACHED is setsid(): a new session and process group we can signal whole. */
        o.flags = p->new_group ? UV_PROCESS_DETACHED : 0;

        r.child.data = &r;
        r.start_ms = bx_now_ms();
        rc = uv_spawn(&r.loop, &r.child, &o);
        if (rc < 0) {
                _cleanup_free_ char *name = program_name(p);

                uv_close((uv_handle_t *)&r.child, NULL);
                for (i = 0; i < ARRAY_SIZE(r.sig); i++)
                        uv_close((uv_handle_t *)&r.sig[i], NULL);
                uv_close((uv_handle_t *)&r.timeout, NULL);
                uv_close((uv_handle_t *)&r.grace, NULL);
                uv_close((uv_handle_t *)&r.drain, NULL);
                uv_close((uv_handle_t *)&r.in, NULL);
                uv_close((uv_handle_t *)&r.out, NULL);
                uv_close((uv_handle_t *)&r.err, NULL);
                uv_run(&r.loop, UV_RUN_DEFAULT);
                uv_loop_close(&r.loop);
                bx_error_set(err, BX_FAIL_SYSTEM, 0, "cannot run '%s': %s", name,
                             uv_strerror(rc));
                if (rc == UV_ENOENT)
                        bx_error_hint(err, "is '%s' installed and in PATH?", p->argv.v[0]);
                return -1;
        }
        r.spawned = true;
        p->pid = r.child.pid;

        if (p->stdin_data) {
                uv_buf_t b = uv_buf_init((char *)p->stdin_data, (unsigned)p->stdin_len);

                r.in_open = true;
                r.write_req.data = &r;
                if (uv_write(&r.write_req, (uv_stream_t *)&r.in, &b, 1, on_written) < 0) {
                        r.in_open = false;
                        uv_close((uv_handle_t *)&r.in, NULL);
                }
        } else {
                uv_close((uv_handle_t *)&r.in, NULL);
        }
        if (stdio[1].flags & UV_CREATE_PIPE) {
                r.out_open = true;
                uv_read_start((uv_stream_t *)&r.out, on_alloc, on_read);
        } else {
                uv_close((uv_handle_t *)&r.out, NULL);
        }
        if (stdio[2].flags & UV_CREATE_PIPE) {
                r.err_open = true;
                uv_read_start((uv_stream_t *)&r.err, on_alloc, on_read);
        } else {
                uv_close((uv_handle_t *)&r.err, NULL);
        }
        if (p->timeout_ms)
                uv_timer_start(&r.timeout, on_timeout, p->timeout_ms, 0);
        if (r.pending_signal)
                terminate(&r, r.pending_signal);

        uv_run(&r.loop, UV_RUN_DEFAULT);

        /* Nothing of a group we created outlives the call (background jobs of a script). */
        if (p->new_group)
                (void)kill(-p->pid, SIGKILL);
        rc = uv_loop_close(&r.loop);
        (void)rc;

        if (r.overflow) {
                _cleanup_free_ char *name = program_name(p);

                return bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                    "'%s' wrote more than %zu bytes of output; it was stopped",
                                    name, p->capture_max);
        }
        if (r.term_signal)
                return 128 + r.term_signal;
        return (int)(r.exit_status & 0xff);
}

void bx_proc_release(struct bx_proc *p)
{
        bx_strv_release(&p->argv);
        bx_strv_release(&p->env);
        bx_buf_release(&p->out);
        bx_buf_release(&p->errout);
}

char *bx_proc_last_line(const struct bx_buf *b)
{
        const char *end = b->buf + b->len, *start;

        while (end > b->buf && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
                end--;
        start = end;
        while (start > b->buf && start[-1] != '\n')
                start--;
        return bx_xstrndup(start, (size_t)(end - start));
}

int bx_proc_capture(const char *const *argv, const struct bx_strv *env, uint64_t timeout_ms,
                    char **ret_out, char **ret_err, struct bx_error **err)
{
        struct bx_proc p = BX_PROC_INIT;
        size_t i;
        int status;

        for (i = 0; argv[i]; i++)
                bx_strv_push(&p.argv, argv[i]);
        for (i = 0; env && i < env->n; i++)
                bx_strv_push(&p.env, env->v[i]);
        p.clean_env = true;
        p.out_mode = BX_PROC_IO_CAPTURE;
        p.err_mode = BX_PROC_IO_CAPTURE;
        p.timeout_ms = timeout_ms;
        p.grace_ms = 5000;
        status = bx_proc_run(&p, err);
        if (status > 0) {
                _cleanup_free_ char *name = program_name(&p);
                _cleanup_free_ char *line = bx_proc_last_line(p.errout.len ? &p.errout : &p.out);

                if (p.timed_out)
                        bx_error_set(err, BX_FAIL_SYSTEM, 0,
                                     "'%s' did not finish within %llu s%s%s", name,
                                     (unsigned long long)(timeout_ms / 1000), *line ? ": " : "",
                                     line);
                else
                        bx_error_set(err, BX_FAIL_SYSTEM, 0, "'%s' failed (exit %d)%s%s", name,
                                     status, *line ? ": " : "", line);
                if (err && *err)
                        (*err)->child_status = status;
                status = -1;
        }
        if (ret_out)
                *ret_out = bx_buf_detach(&p.out, NULL);
        if (ret_err)
                *ret_err = bx_buf_detach(&p.errout, NULL);
        bx_proc_release(&p);
        return status;
}
