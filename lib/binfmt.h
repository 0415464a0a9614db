/* SPDX-License-Identifier: MIT */
#ifndef BX_BINFMT_H
#define BX_BINFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct bx_error;
struct bx_settings;

/*
 * QEMU user emulation through the kernel's binfmt_misc: which handler a
 * platform needs, what state it is in, and registering it (host-wide, so
 * serialised between concurrent jobs with a lock file).
 *
 * A handler is usable by a builder when its entry exists, is enabled and was
 * registered with the F (fix-binary) flag: without F the interpreter path is
 * looked up inside the builder's container at exec time and is not there.
 */

#define BX_BINFMT_MOUNT "/proc/sys/fs/binfmt_misc"
#define BX_BINFMT_LOCK "/run/buildx-executor/binfmt.lock"

/*
 * The handler for `platform` ("linux/arm64", "linux/arm64/v8", "linux/arm/v7",
 * "linux/arm/v6", "linux/riscv64", "linux/ppc64le", "linux/s390x", "linux/386",
 * "linux/amd64") on a host whose uname machine is `machine` (NULL: this host's):
 * *ret_handler is a static string such as "qemu-aarch64", *ret_arch the
 * architecture name the binfmt image takes ("arm64"), *ret_native whether the
 * host runs it without emulation (linux/amd64 and linux/386 on x86_64,
 * linux/arm64 on aarch64, ...).  Any output pointer may be NULL.  An unknown
 * platform fails with "unknown platform 'x'".
 */
int bx_binfmt_platform(const char *platform, const char *machine, const char **ret_handler,
                       const char **ret_arch, bool *ret_native, struct bx_error **err);

enum bx_binfmt_state {
        BX_BINFMT_MISSING = 0, /* no entry (or binfmt_misc not mounted) */
        BX_BINFMT_DISABLED,    /* entry says "disabled" */
        BX_BINFMT_NO_FIX,      /* enabled, but without the F flag */
        BX_BINFMT_OK,          /* enabled with F */
};

const char *bx_binfmt_state_name(enum bx_binfmt_state st); /* "missing", "disabled", ... */

/* One entry file, /proc/sys/fs/binfmt_misc/<handler>. */
struct bx_binfmt_entry {
        bool exists;
        bool enabled;
        char *interpreter; /* NULL when not shown */
        char *flags;       /* "POF"; "" when none; NULL when not shown */
};

void bx_binfmt_entry_release(struct bx_binfmt_entry *e);
enum bx_binfmt_state bx_binfmt_entry_state(const struct bx_binfmt_entry *e);

/*
 * Parse the text of an entry file ("enabled" / "interpreter PATH" /
 * "flags: POF" / "offset" / "magic" / "mask" lines).  The first line must
 * be "enabled" or "disabled".  *ret (exists = true) only on success.
 */
int bx_binfmt_parse_entry(const char *text, struct bx_binfmt_entry *ret, struct bx_error **err);

/*
 * Read <mount>/<handler> (mount NULL: BX_BINFMT_MOUNT).  A missing file is
 * success with ret->exists = false.
 */
int bx_binfmt_read_entry(const char *mount, const char *handler, struct bx_binfmt_entry *ret,
                         struct bx_error **err);

/*
 * Host registration of one handler from a systemd binfmt.d file (the first
 * line that is not blank or a '#'/';' comment, ":name:type:offset:magic:
 * mask:interpreter:flags" with any delimiter; `name` must equal `handler`).
 * F is added to the flags when the file lacks it.  Under the caller's lock:
 *   OK -> nothing; MISSING -> register; DISABLED or NO_FIX -> write -1 to the
 *   entry, then register.
 * Mounts binfmt_misc (mount(2)) when <mount>/register is missing and `mount`
 * is BX_BINFMT_MOUNT (any other directory without `register` is an error).  EEXIST from
 * a registration that raced us is success if the entry is then OK.
 * *ret_before is the state found, *ret_registered whether we wrote `register`
 * (both may be NULL).  Fails unless the handler ends up OK.
 */
int bx_binfmt_ensure_handler(const char *mount, const char *handler, const char *conf_path,
                             enum bx_binfmt_state *ret_before, bool *ret_registered,
                             struct bx_error **err);

/*
 * The binfmt image's command line for architectures `archs` ("arm64", "arm"):
 *   <docker_cli> run --rm --privileged <binfmt_image> --install arm64,arm
 * appended to *ret.  Fails when archs is empty or the image is unset or
 * starts with '-'.
 */
int bx_binfmt_image_argv(const struct bx_settings *s, const struct bx_strv *archs,
                         struct bx_strv *ret, struct bx_error **err);

struct bx_binfmt_item {
        char *platform;              /* as configured */
        const char *handler;         /* static, "qemu-aarch64" */
        bool native;                 /* nothing to do for it */
        enum bx_binfmt_state before; /* for native platforms: BX_BINFMT_OK */
        enum bx_binfmt_state after;
        bool registered; /* this call (re)registered it */
};

struct bx_binfmt_report {
        struct bx_binfmt_item *items; /* one per configured platform, in order */
        size_t n_items;
        uint64_t lock_wait_ms;
        uint64_t duration_ms; /* the whole call, lock wait included */
};

void bx_binfmt_report_release(struct bx_binfmt_report *r);

/* Test hooks: NULL members mean the defaults (BX_BINFMT_MOUNT, BX_BINFMT_LOCK, uname()). */
struct bx_binfmt_paths {
        const char *mount;
        const char *lock_path;
        const char *machine;
};

/*
 * Make emulation available for every platform in `platforms` the host cannot
 * run natively, according to settings' [emulation] mode:
 *   host:  bx_binfmt_ensure_handler() with <binfmt_conf_dir>/<handler>.conf;
 *   image: remove entries that are DISABLED or NO_FIX, then run the binfmt
 *          image (bx_binfmt_image_argv(), with `env`, bounded by
 *          bootstrap_timeout) for the handlers not OK, and check they are;
 *   none:  only read the states (never fails for a missing handler: the
 *          builder's platform check reports it, see bx_binfmt_missing_error()).
 * host and image hold an exclusive flock on the lock file (directory created
 * 0755 if needed) around check and registration; waiting for it is bounded by
 * bootstrap_timeout.  *ret is written on success: release it with
 * bx_binfmt_report_release().
 */
int bx_binfmt_ensure(const struct bx_settings *s, const struct bx_strv *platforms,
                     const struct bx_strv *env, struct bx_binfmt_report *ret,
                     struct bx_error **err);
int bx_binfmt_ensure_at(const struct bx_settings *s, const struct bx_strv *platforms,
                        const struct bx_strv *env, const struct bx_binfmt_paths *paths,
                        struct bx_binfmt_report *ret, struct bx_error **err);

/*
 * For the stage's check after bootstrap: `platform` is missing from builder
 * `builder`; set *err to the reason, read from the handler's entry under
 * `mount` (NULL: BX_BINFMT_MOUNT) on a host of `machine` (NULL: this host):
 *   "platform 'linux/arm64' is not available in builder 'N': binfmt_misc
 *    handler 'qemu-aarch64' is missing (not registered)"
 *   ... "(registered without the F flag)" / "(disabled)"
 * with the hint "install qemu-user-static and set [emulation] mode = "host",
 * or register the handler with the binfmt image".  When the handler is fine
 * (or the host runs the platform natively) the message says so and the hint
 * is to recreate the builder.  Always returns -1.
 */
int bx_binfmt_missing_error(const char *mount, const char *machine, const char *platform,
                            const char *builder, struct bx_error **err);

#endif
