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

/* 1 if the running kernel is at least major.minor. */
int test_kernel_at_least(int major, int minor);

/* Submit, then wait for and copy out exactly one CQE (fails the test on error). */
struct ringo_cqe test_submit_wait_one(struct ringo_ring *ring);

/* Wait for and copy out one CQE without submitting. */
struct ringo_cqe test_wait_one(struct ringo_ring *ring);

/* A fresh temp dir for this test ("/tmp/ringo-test-XXXXXX"), and its removal
 * with everything inside. */
void test_tmpdir(char *buf, size_t len);
void test_rmtree(const char *path);

/* A TCP listener on 127.0.0.1 with a kernel-chosen port, written to *addr. */
int test_tcp_listener(struct sockaddr_in *addr);

/* Run the suite with fork mode and print Check's summary; exit status. */
int test_main(Suite *s);

#endif
