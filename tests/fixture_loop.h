/* SPDX-License-Identifier: MIT */
/*
 * The fixture of the suites that drive a loop (check_loop, check_timer,
 * check_udp, check_dns): the test's loop, whether it opened, REQUIRE_LOOP,
 * and the casts those suites share.
 *
 * Header-only on purpose: it defines the including suite's static state, so
 * a suite includes it once. Outside CI a machine without io_uring leaves the
 * loop closed and REQUIRE_LOOP skips the test; anywhere else the loop must
 * open. Functions not every suite calls are static inline, so they cost
 * nothing where unused.
 */
#ifndef RINGO_FIXTURE_LOOP_H
#define RINGO_FIXTURE_LOOP_H

#include <stddef.h>

#include "test_util.h"

#define owner_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))
#define AS_REQ(r) ((ringo_req_t *)(r))
#define AS_HANDLE(h) ((ringo_handle_t *)(h))

static ringo_loop_t loop;
static int loop_open;			/* the fixture's loop is initialised */

#define REQUIRE_LOOP()                                                                         \
	do {                                                                                   \
		if (!loop_open)                                                                \
			TEST_SKIP("io_uring unavailable");                                     \
	} while (0)

/* got == want, both -errno values; a macro so a failure names the caller's line. */
#define assert_status(got, want)                                                               \
	do {                                                                                   \
		int got_ = (got), want_ = (want);                                              \
                                                                                               \
		ck_assert_msg(got_ == want_, "status %d (%s), want %d (%s)", got_,             \
			      ringo_err_name(got_), want_, ringo_err_name(want_));             \
	} while (0)

/* Open the fixture's loop from `opts` (NULL: the defaults); see loop_open. */
static inline void loop_fixture_open(const struct ringo_loop_opts *opts)
{
	loop_open = test_loop_init(&loop, opts) == 0;
}

/* Close the fixture's loop if it is open: it must close with nothing left. */
static inline void loop_fixture_close(void)
{
	if (loop_open) {
		ck_assert_int_eq(ringo_loop_close(&loop), 0);
		loop_open = 0;
	}
}

/* ringo_submit's prep callback for a read of `len` bytes of `fd` into `buf`. */
struct rw_arg {
	int fd;
	void *buf;
	unsigned len;
};

static inline int prep_read(struct ringo_sqe *sqe, void *arg)
{
	struct rw_arg *a = arg;

	ringo_prep_read(sqe, a->fd, a->buf, a->len, (uint64_t)-1);
	return 0;
}

static inline struct ringo_loop_metrics metrics(void)
{
	struct ringo_loop_metrics m;

	ck_assert_int_eq(ringo_loop_metrics(&loop, &m), 0);
	return m;
}

#endif
