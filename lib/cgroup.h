/* SPDX-License-Identifier: MIT */
#ifndef BX_CGROUP_H
#define BX_CGROUP_H

struct bx_error;

/*
 * The job's cgroup (v2): every process the job starts lives in it, also one
 * that left its process group with setsid(), so cleanup can find and kill
 * them all.  It is created below the driver's own cgroup (what gitlab-runner's
 * service owns on a systemd host), in "<own>/buildx-executor/<job key>".
 */

/*
 * Create the job's cgroup.  Returns 0 and the path, or 1 with *ret_path NULL
 * and *ret_reason set when the host offers no writable cgroup v2 hierarchy
 * (the job then runs without one; process groups still apply).
 */
int bx_cgroup_create(const char *job_key, char **ret_path, char **ret_reason,
                     struct bx_error **err);

/* Move the calling process into the cgroup, so the children it spawns start there. */
int bx_cgroup_enter(const char *path, struct bx_error **err);

/*
 * Kill every process in the cgroup (cgroup.kill where the kernel has it,
 * else SIGKILL to each pid until it is empty), then remove it.  A missing
 * cgroup is success.  Returns the number of processes that were killed.
 */
int bx_cgroup_destroy(const char *path, struct bx_error **err);

#endif
