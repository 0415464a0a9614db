/* SPDX-License-Identifier: MIT */
#ifndef BX_TEST_STANDIN_H
#define BX_TEST_STANDIN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "http.h"

struct cJSON;

/*
 * The Harbor stand-in (test/fakes/harbor-standin) for the unit tests that
 * talk HTTPS to it (test-http, test-harbor): a throwaway CA and a server
 * certificate made with the openssl CLI, the stand-in on 127.0.0.1 and a free
 * port, and its control API (/_standin/...: faults to inject, the log of
 * the requests it saw, its robots and projects).
 *
 * A test binary starts one stand-in for its whole group (standin_start() in
 * the cmocka group setup, standin_stop() in the group teardown) and passes
 * it to every test as *state.  When it cannot be started (no python3, no
 * openssl, ...) `up` is false and `why` says why; each test that needs it
 * begins with STANDIN_NEED(s), which skips the test with that reason.
 *
 * The control calls fail the running cmocka test on any error: they are
 * only for test bodies and fixtures.
 */
struct standin {
        bool up;
        char why[256];      /* why it is not up: the tests skip with this */
        char dir[64];       /* the temp dir with certificates, state and log */
        char ca[128];       /* the CA that signed the server's certificate */
        char other_ca[128]; /* a CA that did not sign the server's certificate */
        char url[64];       /* https://127.0.0.1:PORT */
        int port;
        pid_t pid;
        char admin_pw[33];   /* the admin's password, random hex */
        struct bx_http *ctl; /* the control API, no credentials */
};

/* Backoff of the clients the tests make (standin_http_opts()): retries are fast. */
#define STANDIN_BACKOFF_MS 10

/*
 * Make the certificates in a new /tmp/bx-<tag>.XXXXXX and start the stand-in
 * with the admin "admin" (password s->admin_pw) and `projects` (its
 * --projects: "NAME[:ID],...").  The certificate names 127.0.0.1 and
 * harbor.test, not localhost.  Returns 0 with s->up set, or -1 with s->why
 * set; either way standin_stop() cleans up.  *s must be zeroed before.
 */
int standin_start(struct standin *s, const char *tag, const char *projects);

/*
 * Stop the stand-in (TERM, then KILL after 5 s) and remove its dir, unless
 * the environment has KEEP (then the dir is printed).  Safe after a failed
 * or no start.
 */
void standin_stop(struct standin *s);

/*
 * A control request ("GET", "/_standin/robots", optional JSON body) that
 * must answer 200; returns the parsed answer, which the caller frees with
 * cJSON_Delete().  Fails the test otherwise.
 */
struct cJSON *standin_control(struct standin *s, const char *method, const char *path,
                              const char *json);

/* Arm the faults of `fault_json` (one fault object, or an array of them). */
void standin_arm(struct standin *s, const char *fault_json);

/*
 * The sequence number of the latest request in the stand-in's log, taken
 * once the log has stopped growing (the stand-in logs a request just after
 * it answered): pass it as `since` to standin_seen().
 */
int64_t standin_last_seq(struct standin *s);

/*
 * How many requests METHOD PATH (without the query) the stand-in logged
 * after `since`; with a request_id, each of them must carry it (the test
 * fails otherwise).  Waits up to 1 s for `want` of them to show up, and a
 * little (100 ms) for any straggler when want is 0.
 */
int standin_seen(struct standin *s, int64_t since, const char *method, const char *path,
                 const char *request_id, int want);

/*
 * Client options for the stand-in: its URL, its CA, STANDIN_BACKOFF_MS and
 * the given basic-auth account (both may be NULL).  The strings are
 * borrowed.
 */
struct bx_http_opts standin_http_opts(const struct standin *s, const char *user,
                                      const char *secret);

/* cmocka setup for each test of the group: no faults armed.  *state is the stand-in. */
int standin_test_setup(void **state);

/* At the top of a test that needs the stand-in: skip the test when it is not up (cmocka.h). */
#define STANDIN_NEED(s)                                                                            \
        do {                                                                                       \
                if (!(s)->up) {                                                                    \
                        print_message("skipped: %s\n", (s)->why);                                  \
                        skip();                                                                    \
                }                                                                                  \
        } while (0)

#endif
