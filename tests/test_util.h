/* SPDX-License-Identifier: MIT */
/*
 * Shared test helpers: ring set-up that tells "no io_uring here" apart from a
 * failure, kernel-feature skips that say why, temp dirs, loopback sockets and
 * the suite runner. Every suite's main() is test_main(suite).
 */
#ifndef RINGO_TEST_UTIL_H
#define RINGO_TEST_UTIL_H

#include <check.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>

#include "ringo.h"

/* 1 when RINGO_STRESS=1: run the full sizes an issue names. */
int test_stress(void);

/* Pick the stress size or the default one. */
#define TEST_SIZE(full, quick) (test_stress() ? (full) : (quick))

/*
 * Skip the rest of the current test with a reason, printed as
 * "SKIP <test>: <reason>" so a run shows what it did not cover.
 */
#define TEST_SKIP(...)                                                                         \
	do {                                                                                   \
		fprintf(stdout, "SKIP %s: ", __func__);                                       \
		fprintf(stdout, __VA_ARGS__);                                                 \
		fprintf(stdout, "\n");                                                        \
		fflush(stdout);                                                               \
		return;                                                                       \
	} while (0)

/*
 * 1 if a ring or loop init result means "no io_uring here": ENOSYS or EPERM
 * outside CI (in CI io_uring must work, so those fail like any error).
 */
int test_io_uring_blocked(int ret);

/*
 * ringo_ring_init that fails the test with the kernel's reason on error.
 * Outside CI a machine without io_uring (ENOSYS/EPERM) skips instead: that
 * case returns nonzero and the caller returns at once.
 */
int test_ring_init(struct ringo_ring *ring, unsigned entries, unsigned flags);
#define TEST_RING_INIT(ring, entries, flags)                                                   \
	do {                                                                                   \
		if (test_ring_init((ring), (entries), (flags)))                               \
			TEST_SKIP("io_uring unavailable");                                     \
	} while (0)

/* Skip unless the running kernel supports `op` (probe). */
#define TEST_REQUIRE_OP(ring, op)                                                              \
	do {                                                                                   \
		if (ringo_ring_op_supported((ring), (op)) != 1)                               \
			TEST_SKIP("kernel lacks " #op);                                         \
	} while (0)

/* Fail unless `cqe` is exactly (user_data, res, flags); res is named on failure. */
void test_assert_cqe(const struct ringo_cqe *cqe, uint64_t user_data, int res, unsigned flags);

/*
 * ringo_ring_get_sqe that fails the test when the SQ is full; _ud also sets
 * the SQE's user_data, which the ringo_prep_* helpers leave alone.
 */
struct ringo_sqe *test_get_sqe(struct ringo_ring *ring);
struct ringo_sqe *test_get_sqe_ud(struct ringo_ring *ring, uint64_t user_data);

/* 1 if the running kernel is at least major.minor. */
int test_kernel_at_least(int major, int minor);

/* Submit, then wait for and copy out exactly one CQE (fails the test on error). */
struct ringo_cqe test_submit_wait_one(struct ringo_ring *ring);

/* Wait for and copy out one CQE without submitting. */
struct ringo_cqe test_wait_one(struct ringo_ring *ring);

/*
 * Reap one CQE and check it is (user_data, res, no flags): test_wait_expect
 * as test_wait_one, test_submit_expect as test_submit_wait_one, and
 * test_submit1_expect after a ringo_ring_submit that must send exactly one.
 */
void test_wait_expect(struct ringo_ring *ring, uint64_t user_data, int res);
void test_submit_expect(struct ringo_ring *ring, uint64_t user_data, int res);
void test_submit1_expect(struct ringo_ring *ring, uint64_t user_data, int res);

/* A fresh temp dir for this test ("/tmp/ringo-test-XXXXXX"), and its removal
 * with everything inside. */
void test_tmpdir(char *buf, size_t len);
void test_rmtree(const char *path);

/* A TCP listener on 127.0.0.1 with a kernel-chosen port, written to *addr. */
int test_tcp_listener(struct sockaddr_in *addr);

/*
 * ringo_loop_init for a fixture: 0 when the loop is open, the error when
 * test_io_uring_blocked() says to skip; any other failure fails the test.
 */
int test_loop_init(ringo_loop_t *loop, const struct ringo_loop_opts *opts);

/* Skip the rest of the test when test_loop_init() returned `ret` != 0. */
#define TEST_NEED_LOOP(ret)                                                                    \
	do {                                                                                   \
		if (ret)                                                                       \
			TEST_SKIP("io_uring unavailable: %s", ringo_setup_strerror(ret));      \
	} while (0)

/* CLOCK_MONOTONIC in ms, truncated the way the loop's clock is; and in ns. */
uint64_t test_mono_ms(void);
int64_t test_now_ns(void);

/* Sleep for `ms`, resumed after a signal. */
void test_sleep_ms(unsigned ms);

/* A blocking O_CLOEXEC pipe; test_close_pipe closes the ends still open (>= 0). */
void test_pipe(int fds[2]);
void test_close_pipe(int fds[2]);

/* Write one byte to `fd` (fails the test unless it went). */
void test_write_byte(int fd, char c);

/*
 * A TCase named `name` added to `s`, with `setup`/`teardown` as its checked
 * fixture (none when both are NULL) and a timeout of `timeout` seconds.
 */
TCase *test_tcase(Suite *s, const char *name, SFun setup, SFun teardown, double timeout);

/* Run the suite with fork mode and print Check's summary; exit status. */
int test_main(Suite *s);

#endif
