/* SPDX-License-Identifier: MIT */
#ifndef BX_CLEANUP_H
#define BX_CLEANUP_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/*
 * Scope-bound cleanup for locals (systemd, crun).  Every _cleanup_ variable is
 * initialised where it is declared.  libuv handles are never managed this way:
 * they need an asynchronous uv_close().
 */
#define _cleanup_(f) __attribute__((cleanup(f)))

#define BX_DEFINE_CLEANUP(type, fn)                                                                \
        static inline void fn##_p(type *p)                                                         \
        {                                                                                          \
                if (*p)                                                                            \
                        fn(*p);                                                                    \
        }

static inline void bx_free_p(void *p)
{
        free(*(void **)p);
}

static inline void bx_close_p(int *fd)
{
        if (*fd >= 0)
                close(*fd);
}

static inline void bx_fclose_p(FILE **f)
{
        if (*f)
                fclose(*f);
}

#define _cleanup_free_ _cleanup_(bx_free_p)
#define _cleanup_close_ _cleanup_(bx_close_p)
#define _cleanup_fclose_ _cleanup_(bx_fclose_p)

/* Ownership transfer: return the pointer and leave NULL behind. */
static inline void *bx_take_ptr_(void *pp)
{
        void **p = pp;
        void *v = *p;

        *p = NULL;
        return v;
}
#define TAKE_PTR(var) (0 ? (var) : bx_take_ptr_(&(var)))

static inline int bx_take_fd(int *fd)
{
        int v = *fd;

        *fd = -1;
        return v;
}

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
