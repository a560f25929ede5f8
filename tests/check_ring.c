/* SPDX-License-Identifier: MIT */
/*
 * The raw ring layer on its own: ABI sizes and setup arguments, the SQ and
 * CQ indices as SQEs are handed out, submitted and reaped, NOP, timeouts and
 * their removal, CQ wrap-around in copy_cqes, registered files, setup flags
 * (CQSIZE, CLAMP, SINGLE_ISSUER/DEFER_TASKRUN, COOP_TASKRUN, SQPOLL,
 * ATTACH_WQ), probing, eventfd notification, wait timeouts, CQ overflow
 * with NODROP and the error-text helpers. Several cases port the Zig standard
 * library's io_uring tests with the same assertions.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

static void queue_nop(struct ringo_ring *ring, uint64_t user_data)
{
	ringo_prep_nop(test_get_sqe_ud(ring, user_data));
}

static void queue_timeout(struct ringo_ring *ring, const struct ringo_timespec *ts,
			  uint64_t user_data)
{
	ringo_prep_timeout(test_get_sqe_ud(ring, user_data), ts, 0, 0);
}

/* A NOP of `user_data` submitted and reaped: res 0, no flags. */
static void nop_round_trip(struct ringo_ring *ring, uint64_t user_data)
{
	queue_nop(ring, user_data);
	test_submit_expect(ring, user_data, 0);
}

/* A ring of `entries` with a CQ of `cq_entries` (RINGO_SETUP_CQSIZE); init's result. */
static int init_cqsize(struct ringo_ring *ring, unsigned entries, unsigned cq_entries,
		       struct ringo_params *p)
{
	memset(p, 0, sizeof(*p));
	p->flags = RINGO_SETUP_CQSIZE;
	p->cq_entries = cq_entries;
	return ringo_ring_init_params(ring, entries, p);
}

/*
 * A 10 ms wait (or timeout) ended after `elapsed` ns: hrtimers never fire
 * early; the upper bound only catches a lost wakeup.
 */
static void assert_waited_10ms(int64_t elapsed)
{
	ck_assert_msg(elapsed >= 9 * 1000000, "waited only %lld ns", (long long)elapsed);
	ck_assert_msg(elapsed < 2000LL * 1000000, "waited %lld ns", (long long)elapsed);
}

/* Skip (the ring exited first) unless the kernel takes a wait timeout in EXT_ARG. */
#define REQUIRE_EXT_ARG(ring)                                                                  \
	do {                                                                                   \
		if (!(ringo_ring_features(ring) & RINGO_FEAT_EXT_ARG)) {                       \
			ringo_ring_exit(ring);                                                 \
			TEST_SKIP("kernel lacks RINGO_FEAT_EXT_ARG");                          \
		}                                                                              \
	} while (0)

/* ---- Zig: "structs/offsets/entries" ---------------------------------- */

START_TEST(test_structs_offsets_entries)
{
	struct ringo_ring ring;
	unsigned i;

	ck_assert_uint_eq(sizeof(struct ringo_params), 120);
	ck_assert_uint_eq(sizeof(struct ringo_sqe), 64);
	ck_assert_uint_eq(sizeof(struct ringo_cqe), 16);

	ck_assert_uint_eq(RINGO_OFF_SQ_RING, 0);
	ck_assert_uint_eq(RINGO_OFF_CQ_RING, 0x8000000);
	ck_assert_uint_eq(RINGO_OFF_SQES, 0x10000000);

	memset(&ring, 0, sizeof(ring));
	ck_assert_int_eq(ringo_ring_init(&ring, 0, 0), -EINVAL);
	ck_assert_int_eq(ringo_ring_init(&ring, 3, 0), -EINVAL);

	TEST_RING_INIT(&ring, 4, 0);
	ck_assert_int_ge(ring.fd, 0);
	ck_assert_uint_eq(ring.sq.ring_entries, 4);
	ck_assert_uint_eq(ring.sq.ring_mask, 3);
	ck_assert_uint_eq(ring.cq.ring_entries, 8);
	ck_assert_uint_eq(ring.cq.ring_mask, 7);
	ck_assert_ptr_nonnull(ring.sq.sqes);
	ck_assert_ptr_nonnull(ring.cq.cqes);
	ck_assert_uint_eq(*ring.sq.khead, 0);
	ck_assert_uint_eq(*ring.sq.ktail, 0);
	ck_assert_uint_eq(*ring.cq.khead, 0);
	ck_assert_uint_eq(*ring.cq.ktail, 0);
	ck_assert_uint_eq(ring.flags & (RINGO_SETUP_SQPOLL | RINGO_SETUP_IOPOLL), 0);
	if (ring.sq.array) {
		for (i = 0; i < ring.sq.ring_entries; i++)
			ck_assert_uint_eq(ring.sq.array[i], i);
	}
	ck_assert_uint_eq(ringo_ring_sq_space_left(&ring), 4);
	ck_assert_uint_eq(ringo_ring_cq_ready(&ring), 0);
	ringo_ring_exit(&ring);
	ck_assert_int_eq(ring.fd, -1);
}
END_TEST

/* ---- Zig: "nop" ------------------------------------------------------- */

START_TEST(test_nop)
{
	struct ringo_ring ring;
	struct ringo_sqe *sqe;

	TEST_RING_INIT(&ring, 1, 0);

	sqe = test_get_sqe(&ring);
	ringo_prep_nop(sqe);
	ringo_sqe_set_data64(sqe, 0xaaaaaaaa);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_NOP);
	ck_assert_uint_eq(sqe->flags, 0);
	ck_assert_uint_eq(sqe->ioprio, 0);
	ck_assert_int_eq(sqe->fd, -1);	/* liburing's choice; Zig uses 0 */
	ck_assert_uint_eq(sqe->off, 0);
	ck_assert_uint_eq(sqe->addr, 0);
	ck_assert_uint_eq(sqe->len, 0);
	ck_assert_uint_eq(sqe->op_flags, 0);
	ck_assert_uint_eq(sqe->user_data, 0xaaaaaaaa);
	ck_assert_uint_eq(sqe->buf_index, 0);
	ck_assert_uint_eq(sqe->personality, 0);
	ck_assert_uint_eq(sqe->file_index, 0);
	ck_assert_uint_eq(sqe->addr3, 0);
	ck_assert_uint_eq(sqe->__pad2[0], 0);

	ck_assert_uint_eq(ring.sq.sqe_head, 0);
	ck_assert_uint_eq(ring.sq.sqe_tail, 1);
	ck_assert_uint_eq(*ring.sq.ktail, 0);
	ck_assert_uint_eq(*ring.cq.khead, 0);
	ck_assert_uint_eq(ringo_ring_sq_ready(&ring), 1);
	ck_assert_uint_eq(ringo_ring_cq_ready(&ring), 0);

	ck_assert_int_eq(ringo_ring_submit(&ring), 1);
	ck_assert_uint_eq(ring.sq.sqe_head, 1);
	ck_assert_uint_eq(ring.sq.sqe_tail, 1);
	ck_assert_uint_eq(*ring.sq.ktail, 1);
	ck_assert_uint_eq(*ring.cq.khead, 0);
	ck_assert_uint_eq(ringo_ring_sq_ready(&ring), 0);

	test_wait_expect(&ring, 0xaaaaaaaa, 0);
	ck_assert_uint_eq(*ring.cq.khead, 1);
	ck_assert_uint_eq(ringo_ring_cq_ready(&ring), 0);

	/* A drain barrier with nothing in flight completes at once. */
	sqe = test_get_sqe_ud(&ring, 0xbbbbbbbb);
	ringo_prep_nop(sqe);
	ringo_sqe_set_flags(sqe, RINGO_SQE_IO_DRAIN);
	ck_assert_uint_eq(sqe->flags, RINGO_SQE_IO_DRAIN);
	test_submit1_expect(&ring, 0xbbbbbbbb, 0);
	ck_assert_uint_eq(ring.sq.sqe_head, 2);
	ck_assert_uint_eq(ring.sq.sqe_tail, 2);
	ck_assert_uint_eq(*ring.sq.ktail, 2);
	ck_assert_uint_eq(*ring.cq.khead, 2);

	ringo_ring_exit(&ring);
	ck_assert_int_eq(ring.fd, -1);
}
END_TEST

/* ---- Zig: timeouts ---------------------------------------------------- */

START_TEST(test_timeout_relative)
{
	const struct ringo_timespec ts = { .tv_sec = 0, .tv_nsec = 10 * 1000000 };
	struct ringo_ring ring;
	struct ringo_sqe *sqe;
	struct ringo_cqe cqe;
	int64_t started, elapsed;

	TEST_RING_INIT(&ring, 1, 0);

	started = test_now_ns();
	sqe = test_get_sqe_ud(&ring, 0x55555555);
	ringo_prep_timeout(sqe, &ts, 0, 0);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_TIMEOUT);
	ck_assert_int_eq(ringo_ring_submit(&ring), 1);
	cqe = test_wait_one(&ring);
	elapsed = test_now_ns() - started;

	test_assert_cqe(&cqe, 0x55555555, -ETIME, 0);
	assert_waited_10ms(elapsed);

	ringo_ring_exit(&ring);
}
END_TEST

START_TEST(test_timeout_completions)
{
	const struct ringo_timespec ts = { .tv_sec = 3, .tv_nsec = 0 };
	struct ringo_ring ring;
	struct ringo_sqe *sqe;

	TEST_RING_INIT(&ring, 2, 0);

	sqe = test_get_sqe_ud(&ring, 0x66666666);
	ringo_prep_timeout(sqe, &ts, 1, 0);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_TIMEOUT);
	ck_assert_uint_eq(sqe->off, 1);
	queue_nop(&ring, 0x77777777);
	ck_assert_int_eq(ringo_ring_submit(&ring), 2);

	test_wait_expect(&ring, 0x77777777, 0);
	/* One completion was posted, so the timeout ends with 0, not -ETIME. */
	test_wait_expect(&ring, 0x66666666, 0);

	ringo_ring_exit(&ring);
}
END_TEST

START_TEST(test_timeout_remove)
{
	const struct ringo_timespec ts = { .tv_sec = 3, .tv_nsec = 0 };
	struct ringo_ring ring;
	struct ringo_sqe *sqe;
	struct ringo_cqe cqe;
	int seen_timeout = 0, seen_remove = 0, i;

	TEST_RING_INIT(&ring, 2, 0);

	sqe = test_get_sqe_ud(&ring, 0x88888888);
	ringo_prep_timeout(sqe, &ts, 0, 0);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_TIMEOUT);
	ck_assert_uint_eq(sqe->user_data, 0x88888888);

	sqe = test_get_sqe_ud(&ring, 0x99999999);
	ringo_prep_timeout_remove(sqe, 0x88888888, 0);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_TIMEOUT_REMOVE);
	ck_assert_uint_eq(sqe->addr, 0x88888888);
	ck_assert_uint_eq(sqe->user_data, 0x99999999);

	ck_assert_int_eq(ringo_ring_submit(&ring), 2);

	/* The order of the two CQEs changed in 5.18; accept either. */
	for (i = 0; i < 2; i++) {
		cqe = test_wait_one(&ring);
		if (cqe.user_data == 0x88888888) {
			test_assert_cqe(&cqe, 0x88888888, -ECANCELED, 0);
			seen_timeout++;
		} else {
			test_assert_cqe(&cqe, 0x99999999, 0, 0);
			seen_remove++;
		}
	}
	ck_assert_int_eq(seen_timeout, 1);
	ck_assert_int_eq(seen_remove, 1);

	ringo_ring_exit(&ring);
}
END_TEST

/* ---- Zig: "copy_cqes with wrapping sq.cqes buffer" -------------------- */

START_TEST(test_copy_cqes_wrapping)
{
	const struct ringo_timespec ts = { .tv_sec = 0, .tv_nsec = 10000 };
	struct ringo_ring ring;
	struct ringo_cqe cqes[8];
	unsigned i, j, got;
	int ret;

	TEST_RING_INIT(&ring, 2, 0);
	ck_assert_uint_eq(ring.sq.ring_entries, 2);
	ck_assert_uint_eq(ring.cq.ring_entries, 4);

	for (j = 0; j < 2; j++) {
		queue_timeout(&ring, &ts, j);
		ck_assert_int_eq(ringo_ring_submit(&ring), 1);
	}
	for (got = 0; got < 2; got += (unsigned)ret) {
		ret = ringo_ring_copy_cqes(&ring, cqes, 2 - got, 1);
		ck_assert_msg(ret >= 0, "copy_cqes: %s", ringo_err_name(ret));
	}
	ck_assert_uint_eq(*ring.cq.khead, 2);

	/*
	 * The CQ has 4 slots and its head starts at 2, so every batch of 4
	 * reads slots 2, 3, 0, 1: the copy wraps inside each batch.
	 */
	for (i = 1; i < 1024; i++) {
		for (j = 0; j < 4; j++) {
			queue_timeout(&ring, &ts, i * 4 + j);
			ck_assert_int_eq(ringo_ring_submit(&ring), 1);
		}
		for (got = 0; got < 4; got += (unsigned)ret) {
			ret = ringo_ring_copy_cqes(&ring, cqes + got, 4 - got, 1);
			ck_assert_msg(ret >= 0, "copy_cqes: %s", ringo_err_name(ret));
		}
		ck_assert_uint_eq(got, 4);
		for (j = 0; j < 4; j++) {
			ck_assert_int_eq(cqes[j].res, -ETIME);
			ck_assert_uint_eq(cqes[j].flags, 0);
			ck_assert_uint_eq(cqes[j].user_data / 4, i);
		}
		ck_assert_uint_eq(*ring.cq.khead, 2 + 4 * i);
	}

	ringo_ring_exit(&ring);
}
END_TEST

/* ---- Zig: "register_files_update" ------------------------------------- */

static void read_fixed_file(struct ringo_ring *ring, unsigned slot, int want_res)
{
	unsigned char buffer[128], zeros[128];
	struct ringo_sqe *sqe;

	memset(buffer, 42, sizeof(buffer));
	memset(zeros, 0, sizeof(zeros));
	sqe = test_get_sqe_ud(ring, 0xcccccccc);
	ringo_prep_read(sqe, (int)slot, buffer, sizeof(buffer), 0);
	ringo_sqe_set_flags(sqe, RINGO_SQE_FIXED_FILE);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_READ);
	ck_assert_uint_eq(sqe->flags, RINGO_SQE_FIXED_FILE);
	test_submit_expect(ring, 0xcccccccc, want_res);
	if (want_res > 0)
		ck_assert_mem_eq(buffer, zeros, sizeof(buffer));
}

START_TEST(test_register_files_update)
{
	struct ringo_ring ring;
	int fds[2], fd, fd2;

	TEST_RING_INIT(&ring, 1, 0);

	fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	fds[0] = fd;
	fds[1] = -1;
	ck_assert_int_eq(ringo_ring_register_files(&ring, fds, 2), 0);
	read_fixed_file(&ring, 0, 128);
	/* An empty slot is a bad file. */
	read_fixed_file(&ring, 1, -EBADF);

	fd2 = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd2, 0);
	fds[0] = fd2;
	fds[1] = -1;
	ck_assert_int_eq(ringo_ring_register_files_update(&ring, 0, fds, 2), 2);
	/* The table holds its own reference: closing ours changes nothing. */
	close(fd);
	read_fixed_file(&ring, 0, 128);

	/* A non-zero offset leaves slot 0 alone. */
	fds[0] = -1;
	fds[1] = -1;
	ck_assert_int_eq(ringo_ring_register_files_update(&ring, 1, &fds[1], 1), 1);
	read_fixed_file(&ring, 0, 128);

	/* SKIP keeps slot 0 while slot 1 is written. */
	fds[0] = RINGO_REGISTER_FILES_SKIP;
	fds[1] = fd2;
	ck_assert_int_eq(ringo_ring_register_files_update(&ring, 0, fds, 2), 2);
	read_fixed_file(&ring, 0, 128);
	read_fixed_file(&ring, 1, 128);

	/* Both slots cleared: reads through them fail. */
	fds[0] = -1;
	fds[1] = -1;
	ck_assert_int_eq(ringo_ring_register_files_update(&ring, 0, fds, 2), 2);
	read_fixed_file(&ring, 0, -EBADF);
	read_fixed_file(&ring, 1, -EBADF);

	/* Past the end of the table. */
	ck_assert_int_eq(ringo_ring_register_files_update(&ring, 2, fds, 1), -EINVAL);

	ck_assert_int_eq(ringo_ring_unregister_files(&ring), 0);
	/* Nothing registered any more. */
	ck_assert_int_eq(ringo_ring_unregister_files(&ring), -ENXIO);
	close(fd2);
	ringo_ring_exit(&ring);
}
END_TEST

/* ---- Setup arguments -------------------------------------------------- */

START_TEST(test_bad_arguments)
{
	struct ringo_params p;
	struct ringo_ring ring;
	int fds[1] = { -1 };
	int stdin_open = fcntl(0, F_GETFD) >= 0;

	memset(&p, 0, sizeof(p));
	ck_assert_int_eq(ringo_ring_init(NULL, 8, 0), -EINVAL);
	ck_assert_int_eq(ringo_ring_init_params(NULL, 8, &p), -EINVAL);

	memset(&ring, 0, sizeof(ring));
	ck_assert_int_eq(ringo_ring_init(&ring, 0, 0), -EINVAL);
	ck_assert_int_eq(ringo_ring_init(&ring, 3, 0), -EINVAL);
	ck_assert_int_eq(ringo_ring_init(&ring, 65536, 0), -EINVAL);
	ck_assert_int_eq(ringo_ring_init(&ring, 8, RINGO_SETUP_SQE128), -EINVAL);
	ck_assert_int_eq(ringo_ring_init(&ring, 8, RINGO_SETUP_CQE32), -EINVAL);
	memset(&p, 0, sizeof(p));
	p.flags = RINGO_SETUP_SQE128;
	ck_assert_int_eq(ringo_ring_init_params(&ring, 8, &p), -EINVAL);
	memset(&p, 0, sizeof(p));
	p.flags = RINGO_SETUP_CQE32;
	ck_assert_int_eq(ringo_ring_init_params(&ring, 8, &p), -EINVAL);

	/* Exit after a failed init touches nothing (not fd 0 of a zeroed ring). */
	ringo_ring_exit(&ring);
	ringo_ring_exit(&ring);
	if (stdin_open)
		ck_assert_int_ge(fcntl(0, F_GETFD), 0);

	TEST_RING_INIT(&ring, 8, 0);
	ck_assert_int_eq(ringo_ring_register_files(&ring, NULL, 0), -EINVAL);
	ck_assert_int_eq(ringo_ring_register_files(&ring, fds, 0), -EINVAL);
	ringo_ring_exit(&ring);
	ck_assert_int_eq(ring.fd, -1);
	ringo_ring_exit(&ring);
	ck_assert_int_eq(ring.fd, -1);
	if (stdin_open)
		ck_assert_int_ge(fcntl(0, F_GETFD), 0);
}
END_TEST

START_TEST(test_sq_full)
{
	struct ringo_ring ring;
	struct ringo_cqe cqes[8];
	unsigned i;
	int ret;

	TEST_RING_INIT(&ring, 8, 0);

	for (i = 0; i < 8; i++) {
		ck_assert_uint_eq(ringo_ring_sq_space_left(&ring), 8 - i);
		queue_nop(&ring, i);
	}
	ck_assert_ptr_null(ringo_ring_get_sqe(&ring));
	ck_assert_uint_eq(ringo_ring_sq_space_left(&ring), 0);
	ck_assert_uint_eq(ringo_ring_sq_ready(&ring), 8);

	ck_assert_int_eq(ringo_ring_submit(&ring), 8);
	ck_assert_uint_eq(ringo_ring_sq_space_left(&ring), 8);
	queue_nop(&ring, 8);

	ret = ringo_ring_copy_cqes(&ring, cqes, 8, 8);
	ck_assert_int_eq(ret, 8);
	for (i = 0; i < 8; i++)
		test_assert_cqe(&cqes[i], i, 0, 0);

	ck_assert_int_eq(ringo_ring_submit(&ring), 1);
	cqes[0] = test_wait_one(&ring);
	test_assert_cqe(&cqes[0], 8, 0, 0);

	ringo_ring_exit(&ring);
}
END_TEST

START_TEST(test_features)
{
	struct ringo_ring ring;
	unsigned feat;

	TEST_RING_INIT(&ring, 4, 0);
	feat = ringo_ring_features(&ring);
	ck_assert_uint_eq(feat, ring.features);
	ck_assert_msg(feat & RINGO_FEAT_SINGLE_MMAP, "features %#x lack SINGLE_MMAP", feat);
	ck_assert_msg(feat & RINGO_FEAT_NODROP, "features %#x lack NODROP", feat);
	ck_assert_uint_eq(ringo_ring_features(NULL), 0);
	ringo_ring_exit(&ring);
}
END_TEST

START_TEST(test_cqsize)
{
	struct ringo_params p;
	struct ringo_ring ring;
	int ret;

	ret = init_cqsize(&ring, 4, 64, &p);
	if (ret == -ENOSYS || ret == -EPERM)
		TEST_SKIP("io_uring unavailable: %s", ringo_setup_strerror(ret));
	ck_assert_int_eq(ret, 0);
	ck_assert_uint_eq(p.sq_entries, 4);
	ck_assert_uint_eq(p.cq_entries, 64);
	ck_assert_uint_eq(ring.sq.ring_entries, 4);
	ck_assert_uint_eq(ring.cq.ring_entries, 64);
	ck_assert_uint_eq(ring.cq.ring_mask, 63);
	ck_assert_uint_ne(ring.flags & RINGO_SETUP_CQSIZE, 0);
	nop_round_trip(&ring, 42);
	ringo_ring_exit(&ring);

	/* The kernel wants a CQ at least as large as the SQ. */
	ck_assert_int_eq(init_cqsize(&ring, 4, 2, &p), -EINVAL);
	ck_assert_int_eq(init_cqsize(&ring, 4, 0, &p), -EINVAL);
	ringo_ring_exit(&ring);
}
END_TEST

START_TEST(test_clamp)
{
	struct ringo_ring ring;

	TEST_RING_INIT(&ring, 65536, RINGO_SETUP_CLAMP);
	ck_assert_uint_eq(ring.sq.ring_entries, RINGO_RING_MAX_ENTRIES);
	ck_assert_uint_eq(ring.cq.ring_entries, 2 * RINGO_RING_MAX_ENTRIES);
	nop_round_trip(&ring, 7);
	ringo_ring_exit(&ring);
}
END_TEST

START_TEST(test_defer_taskrun)
{
	const struct ringo_timespec ts = { .tv_sec = 0, .tv_nsec = 1000000 };
	struct ringo_ring ring;

	TEST_RING_INIT(&ring, 8, RINGO_SETUP_SINGLE_ISSUER | RINGO_SETUP_DEFER_TASKRUN);
	ck_assert_uint_eq(ring.flags & RINGO_SETUP_DEFER_TASKRUN, RINGO_SETUP_DEFER_TASKRUN);

	nop_round_trip(&ring, 1);

	/*
	 * A timeout completes through task work, which DEFER_TASKRUN runs
	 * only when this task enters the kernel for events: without that the
	 * CQE never shows up, however long we sleep.
	 */
	queue_timeout(&ring, &ts, 2);
	ck_assert_int_eq(ringo_ring_submit(&ring), 1);
	usleep(20000);
	ck_assert_uint_eq(ringo_ring_cq_ready(&ring), 0);
	/* Entering for events alone runs the task work and posts it. */
	ck_assert_int_eq(ringo_ring_get_events(&ring), 0);
	ck_assert_uint_eq(ringo_ring_cq_ready(&ring), 1);
	test_wait_expect(&ring, 2, -ETIME);

	ringo_ring_exit(&ring);
}
END_TEST

START_TEST(test_coop_taskrun)
{
	const struct ringo_timespec ts = { .tv_sec = 0, .tv_nsec = 1000000 };
	struct ringo_ring ring;

	TEST_RING_INIT(&ring, 8, RINGO_SETUP_COOP_TASKRUN | RINGO_SETUP_TASKRUN_FLAG);
	nop_round_trip(&ring, 1);
	queue_timeout(&ring, &ts, 2);
	test_submit_expect(&ring, 2, -ETIME);
	ringo_ring_exit(&ring);
}
END_TEST

START_TEST(test_sqpoll)
{
	struct ringo_params p;
	struct ringo_ring ring;
	int ret, round;

	memset(&p, 0, sizeof(p));
	p.flags = RINGO_SETUP_SQPOLL;
	p.sq_thread_idle = 10;	/* ms */
	ret = ringo_ring_init_params(&ring, 8, &p);
	if (ret == -EPERM || ret == -ENOSYS)
		TEST_SKIP("SQPOLL ring refused: %s", ringo_setup_strerror(ret));
	ck_assert_msg(ret == 0, "SQPOLL init: %s", ringo_err_name(ret));
	ck_assert_uint_ne(ring.flags & RINGO_SETUP_SQPOLL, 0);

	for (round = 0; round < 3; round++) {
		if (round > 0) {
			/* Idle well past sq_thread_idle: the thread sleeps and
			 * the next submit has to wake it. */
			usleep(100000);
			ck_assert(ringo_ring_sq_need_wakeup(&ring));
		}
		queue_nop(&ring, 0x5000 + (unsigned)round);
		ret = ringo_ring_submit(&ring);
		ck_assert_msg(ret == 1, "submit: %d (%s)", ret, ringo_err_name(ret));
		test_wait_expect(&ring, 0x5000 + (unsigned)round, 0);
	}
	ringo_ring_exit(&ring);
}
END_TEST

START_TEST(test_attach_wq)
{
	struct ringo_ring first, second;
	struct ringo_params p;
	struct ringo_sqe *sqe;
	int ret, nullfd;

	TEST_RING_INIT(&first, 4, 0);

	memset(&p, 0, sizeof(p));
	p.flags = RINGO_SETUP_ATTACH_WQ;
	p.wq_fd = (uint32_t)first.fd;
	ret = ringo_ring_init_params(&second, 4, &p);
	ck_assert_msg(ret == 0, "ATTACH_WQ init: %s", ringo_err_name(ret));

	/* Forced async, so the op really runs on the shared io-wq. */
	sqe = test_get_sqe_ud(&second, 0xabc);
	ringo_prep_nop(sqe);
	ringo_sqe_set_flags(sqe, RINGO_SQE_ASYNC);
	test_submit_expect(&second, 0xabc, 0);

	nop_round_trip(&first, 0xdef);
	ringo_ring_exit(&second);

	/* wq_fd must be an io_uring fd. */
	nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(nullfd, 0);
	memset(&p, 0, sizeof(p));
	p.flags = RINGO_SETUP_ATTACH_WQ;
	p.wq_fd = (uint32_t)nullfd;
	ck_assert_int_eq(ringo_ring_init_params(&second, 4, &p), -EINVAL);
	ringo_ring_exit(&second);
	close(nullfd);

	ringo_ring_exit(&first);
}
END_TEST

START_TEST(test_probe)
{
	struct ringo_probe probe;
	struct ringo_ring ring;

	TEST_RING_INIT(&ring, 4, 0);
	memset(&probe, 0xff, sizeof(probe));
	ck_assert_int_eq(ringo_ring_probe(&ring, &probe), 0);
	ck_assert_uint_gt(probe.ops_len, 0);
	ck_assert_uint_lt(probe.last_op, 255);
	ck_assert_int_eq(ringo_probe_has_op(&probe, RINGO_OP_NOP), 1);
	ck_assert_int_eq(ringo_probe_has_op(&probe, RINGO_OP_READ), 1);
	ck_assert_int_eq(ringo_probe_has_op(&probe, 255), 0);
	ck_assert_int_eq(ringo_probe_has_op(&probe, 1000), 0);
	ck_assert_int_eq(ringo_probe_has_op(NULL, RINGO_OP_NOP), 0);
	ck_assert_int_eq(ringo_ring_op_supported(&ring, RINGO_OP_NOP), 1);
	ck_assert_int_eq(ringo_ring_op_supported(&ring, 255), 0);
	ringo_ring_exit(&ring);
}
END_TEST

/* NAPI busy-poll settings (6.9): unregister hands back what was set. */
START_TEST(test_napi)
{
	struct ringo_napi napi = { .busy_poll_to = 100, .prefer_busy_poll = 1 };
	struct ringo_napi back;
	struct ringo_ring ring;
	int ret;

	TEST_RING_INIT(&ring, 4, 0);
	ck_assert_int_eq(ringo_ring_register_napi(&ring, NULL), -EINVAL);
	ck_assert_int_eq(ringo_ring_register_napi(NULL, &napi), -EINVAL);
	ret = ringo_ring_register_napi(&ring, &napi);
	if (ret == -EINVAL && !test_kernel_at_least(6, 9)) {
		ringo_ring_exit(&ring);
		TEST_SKIP("kernel lacks IORING_REGISTER_NAPI (6.9)");
	}
	ck_assert_int_eq(ret, 0);
	memset(&back, 0, sizeof(back));
	ck_assert_int_eq(ringo_ring_unregister_napi(&ring, &back), 0);
	ck_assert_uint_eq(back.busy_poll_to, 100);
	ck_assert_uint_eq(back.prefer_busy_poll, 1);
	ringo_ring_exit(&ring);
}
END_TEST

/* A ring made disabled takes no submissions until enabled; io-wq limits
 * read back what was set. */
START_TEST(test_enable_and_iowq_limits)
{
	struct ringo_ring ring;
	struct ringo_sqe *sqe;
	struct ringo_cqe cqe;
	unsigned limits[2] = { 3, 5 }, readback[2] = { 0, 0 };

	TEST_RING_INIT(&ring, 4, RINGO_SETUP_R_DISABLED);
	sqe = ringo_ring_get_sqe(&ring);
	ck_assert_ptr_nonnull(sqe);
	ringo_prep_nop(sqe);
	ringo_sqe_set_data64(sqe, 7);
	ck_assert_int_eq(ringo_ring_submit(&ring), -EBADFD);
	ck_assert_int_eq(ringo_ring_enable(&ring), 0);
	cqe = test_submit_wait_one(&ring);
	ck_assert_uint_eq(cqe.user_data, 7);
	ck_assert_int_eq(cqe.res, 0);
	ck_assert_int_eq(ringo_ring_register_iowq_max_workers(&ring, limits), 0);
	ck_assert_int_eq(ringo_ring_register_iowq_max_workers(&ring, readback), 0);
	ck_assert_uint_eq(readback[0], 3);
	ck_assert_uint_eq(readback[1], 5);
	ck_assert_int_eq(ringo_ring_register_iowq_max_workers(&ring, NULL), -EINVAL);
	ringo_ring_exit(&ring);
}
END_TEST

static uint64_t eventfd_value(int efd)
{
	uint64_t v = 0;
	ssize_t n = read(efd, &v, sizeof(v));

	if (n < 0) {
		ck_assert_int_eq(errno, EAGAIN);
		return 0;
	}
	ck_assert_int_eq(n, sizeof(v));
	return v;
}

/*
 * A registered ring fd: enters go by its index (shown by closing the fd
 * number itself: NOPs still go through), registering twice is -EEXIST,
 * unregistering goes back to the fd.
 */
START_TEST(test_register_ring_fd)
{
	struct ringo_ring ring;
	struct ringo_sqe *sqe;
	int ret, fd, spare;

	TEST_RING_INIT(&ring, 8, 0);
	ret = ringo_ring_register_ring_fd(&ring);
	if (ret == -EINVAL && !test_kernel_at_least(5, 18)) {
		ringo_ring_exit(&ring);
		TEST_SKIP("registered ring fds need Linux 5.18");
	}
	ck_assert_int_eq(ret, 0);
	ck_assert_uint_eq(ring.enter_flags, RINGO_ENTER_REGISTERED_RING);
	ck_assert_int_ge(ring.enter_fd, 0);
	ck_assert_int_eq(ringo_ring_register_ring_fd(&ring), -EEXIST);

	/* With the fd number closed, only the registered index reaches the ring. */
	fd = ring.fd;
	spare = dup(fd);
	ck_assert_int_ge(spare, 0);
	ck_assert_int_eq(close(fd), 0);
	sqe = test_get_sqe(&ring);
	ringo_prep_nop(sqe);
	ringo_sqe_set_data64(sqe, 11);
	test_submit_expect(&ring, 11, 0);
	ck_assert_int_eq(dup2(spare, fd), fd);
	ck_assert_int_eq(close(spare), 0);

	ck_assert_int_eq(ringo_ring_unregister_ring_fd(&ring), 0);
	ck_assert_uint_eq(ring.enter_flags, 0);
	ck_assert_int_eq(ring.enter_fd, ring.fd);
	ck_assert_int_eq(ringo_ring_unregister_ring_fd(&ring), -EINVAL);
	sqe = test_get_sqe(&ring);
	ringo_prep_nop(sqe);
	ringo_sqe_set_data64(sqe, 12);
	test_submit_expect(&ring, 12, 0);

	ck_assert_int_eq(ringo_ring_register_ring_fd(NULL), -EINVAL);
	ck_assert_int_eq(ringo_ring_unregister_ring_fd(NULL), -EINVAL);
	/* Exit unregisters a registered fd itself. */
	ck_assert_int_eq(ringo_ring_register_ring_fd(&ring), 0);
	ringo_ring_exit(&ring);
	ck_assert_int_eq(ring.fd, -1);
	ck_assert_uint_eq(ring.enter_flags, 0);
}
END_TEST

START_TEST(test_eventfd)
{
	struct ringo_ring ring;
	struct ringo_sqe *sqe;
	int efd;

	TEST_RING_INIT(&ring, 4, 0);
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ck_assert_int_ge(efd, 0);

	ck_assert_int_eq(ringo_ring_unregister_eventfd(&ring), -ENXIO);
	ck_assert_int_eq(ringo_ring_register_eventfd(&ring, efd), 0);
	ck_assert_int_eq(ringo_ring_register_eventfd(&ring, efd), -EBUSY);

	nop_round_trip(&ring, 1);
	ck_assert_uint_ge(eventfd_value(efd), 1);

	ck_assert_int_eq(ringo_ring_unregister_eventfd(&ring), 0);
	nop_round_trip(&ring, 2);
	ck_assert_uint_eq(eventfd_value(efd), 0);

	/* The async variant stays quiet for a completion done inline... */
	ck_assert_int_eq(ringo_ring_register_eventfd_async(&ring, efd), 0);
	nop_round_trip(&ring, 3);
	ck_assert_uint_eq(eventfd_value(efd), 0);
	/* ...and signals one that an io-wq worker completed. */
	sqe = test_get_sqe_ud(&ring, 4);
	ringo_prep_nop(sqe);
	ringo_sqe_set_flags(sqe, RINGO_SQE_ASYNC);
	test_submit_expect(&ring, 4, 0);
	ck_assert_uint_ge(eventfd_value(efd), 1);
	ck_assert_int_eq(ringo_ring_unregister_eventfd(&ring), 0);
	ck_assert_int_eq(ringo_ring_unregister_eventfd(&ring), -ENXIO);

	close(efd);
	ringo_ring_exit(&ring);
}
END_TEST

/* ---- Waiting ---------------------------------------------------------- */

START_TEST(test_submit_and_wait_timeout)
{
	const struct ringo_timespec ts = { .tv_sec = 0, .tv_nsec = 10 * 1000000 };
	struct ringo_ring ring;
	int64_t started, elapsed;
	int ret;

	TEST_RING_INIT(&ring, 4, 0);
	REQUIRE_EXT_ARG(&ring);

	started = test_now_ns();
	ret = ringo_ring_submit_and_wait_timeout(&ring, 1, &ts, NULL);
	elapsed = test_now_ns() - started;
	ck_assert_msg(ret == -ETIME, "ret %d (%s)", ret, ringo_err_name(ret));
	assert_waited_10ms(elapsed);

	/* With work queued it submits and returns the count. */
	queue_nop(&ring, 9);
	ret = ringo_ring_submit_and_wait_timeout(&ring, 1, &ts, NULL);
	ck_assert_msg(ret == 1, "ret %d (%s)", ret, ringo_err_name(ret));
	ck_assert_uint_eq(ringo_ring_cq_ready(&ring), 1);
	test_wait_expect(&ring, 9, 0);

	ringo_ring_exit(&ring);
}
END_TEST

static volatile sig_atomic_t usr1_caught;

static void on_usr1(int sig)
{
	(void)sig;
	usr1_caught++;
}

/*
 * The sigmask of a timed wait is in force while it waits: SIGUSR1, blocked
 * and pending in the thread, is let through by the wait's empty mask and
 * ends it with -EINTR long before the 5 s limit. Afterwards the thread's own
 * mask (SIGUSR1 blocked) is back.
 */
START_TEST(test_wait_sigmask)
{
	const struct ringo_timespec ts = { .tv_sec = 5, .tv_nsec = 0 };
	struct sigaction sa, old_sa;
	sigset_t block, old_mask, wait_mask, now;
	struct ringo_ring ring;
	int64_t started, elapsed;
	int ret;

	TEST_RING_INIT(&ring, 4, 0);
	REQUIRE_EXT_ARG(&ring);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGUSR1, &sa, &old_sa), 0);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	ck_assert_int_eq(sigprocmask(SIG_BLOCK, &block, &old_mask), 0);
	usr1_caught = 0;
	ck_assert_int_eq(raise(SIGUSR1), 0);
	ck_assert_int_eq(usr1_caught, 0);	/* blocked: only pending */

	sigemptyset(&wait_mask);
	started = test_now_ns();
	ret = ringo_ring_submit_and_wait_timeout(&ring, 1, &ts, &wait_mask);
	elapsed = test_now_ns() - started;
	ck_assert_msg(ret == -EINTR, "ret %d (%s)", ret, ringo_err_name(ret));
	ck_assert_int_eq(usr1_caught, 1);
	ck_assert_msg(elapsed < 2000LL * 1000000, "waited %lld ns", (long long)elapsed);

	/* Blocked again outside the wait. */
	ck_assert_int_eq(sigprocmask(SIG_BLOCK, NULL, &now), 0);
	ck_assert_int_eq(sigismember(&now, SIGUSR1), 1);

	ck_assert_int_eq(sigprocmask(SIG_SETMASK, &old_mask, NULL), 0);
	ck_assert_int_eq(sigaction(SIGUSR1, &old_sa, NULL), 0);
	ringo_ring_exit(&ring);
}
END_TEST

START_TEST(test_wait_cqe_timeout)
{
	const struct ringo_timespec ts = { .tv_sec = 0, .tv_nsec = 10 * 1000000 };
	struct ringo_ring ring;
	struct ringo_cqe *cqe;
	int64_t started, elapsed;
	int ret;

	TEST_RING_INIT(&ring, 4, 0);
	REQUIRE_EXT_ARG(&ring);

	started = test_now_ns();
	ret = ringo_ring_wait_cqe_timeout(&ring, &cqe, &ts);
	elapsed = test_now_ns() - started;
	ck_assert_msg(ret == -ETIME, "ret %d (%s)", ret, ringo_err_name(ret));
	assert_waited_10ms(elapsed);

	queue_nop(&ring, 11);
	ck_assert_int_eq(ringo_ring_submit(&ring), 1);
	ret = ringo_ring_wait_cqe_timeout(&ring, &cqe, &ts);
	ck_assert_int_eq(ret, 0);
	test_assert_cqe(cqe, 11, 0, 0);
	ringo_ring_cqe_seen(&ring, cqe);
	ck_assert_uint_eq(ringo_ring_cq_ready(&ring), 0);

	ringo_ring_exit(&ring);
}
END_TEST

START_TEST(test_peek_cqe)
{
	struct ringo_ring ring;
	struct ringo_cqe *cqe = (struct ringo_cqe *)&ring;

	TEST_RING_INIT(&ring, 4, 0);
	ck_assert_int_eq(ringo_ring_peek_cqe(&ring, &cqe), -EAGAIN);
	ck_assert_ptr_null(cqe);

	queue_nop(&ring, 21);
	ck_assert_int_eq(ringo_ring_submit(&ring), 1);
	ck_assert_int_eq(ringo_ring_wait_cqe(&ring, &cqe), 0);
	ck_assert_int_eq(ringo_ring_peek_cqe(&ring, &cqe), 0);
	test_assert_cqe(cqe, 21, 0, 0);
	/* Peeking does not retire. */
	ck_assert_int_eq(ringo_ring_peek_cqe(&ring, &cqe), 0);
	ck_assert_uint_eq(cqe->user_data, 21);
	ringo_ring_cqe_seen(&ring, cqe);
	ck_assert_int_eq(ringo_ring_peek_cqe(&ring, &cqe), -EAGAIN);
	ck_assert_ptr_null(cqe);

	ringo_ring_exit(&ring);
}
END_TEST

/* ---- Completion queue ------------------------------------------------- */

START_TEST(test_cq_overflow)
{
	enum { TOTAL = 32 };
	struct ringo_cqe cqes[TOTAL];
	struct ringo_params p;
	struct ringo_ring ring;
	int seen[TOTAL] = { 0 };
	unsigned i, got, tries;
	int ret;

	ret = init_cqsize(&ring, 4, 8, &p);
	if (ret == -ENOSYS || ret == -EPERM)
		TEST_SKIP("io_uring unavailable: %s", ringo_setup_strerror(ret));
	ck_assert_int_eq(ret, 0);
	ck_assert_uint_eq(ring.cq.ring_entries, 8);
	ck_assert_msg(ring.features & RINGO_FEAT_NODROP, "no NODROP");

	/* 32 completions into 8 slots, never reaping. */
	for (i = 0; i < TOTAL; i += 4) {
		unsigned j;

		for (j = 0; j < 4; j++)
			queue_nop(&ring, i + j);
		ret = ringo_ring_submit(&ring);
		ck_assert_msg(ret == 4, "batch %u: submit %d (%s)", i / 4, ret,
			      ringo_err_name(ret));
	}
	ck_assert_uint_eq(ringo_ring_cq_ready(&ring), 8);
	ck_assert(ringo_ring_cq_overflow(&ring));

	/* copy_cqes flushes the overflow list as the CQ drains. */
	for (got = 0, tries = 0; got < TOTAL && tries < 100; tries++) {
		ret = ringo_ring_copy_cqes(&ring, cqes, TOTAL, 0);
		ck_assert_msg(ret >= 0, "copy_cqes: %s", ringo_err_name(ret));
		for (i = 0; i < (unsigned)ret; i++) {
			ck_assert_uint_lt(cqes[i].user_data, TOTAL);
			ck_assert_int_eq(cqes[i].res, 0);
			ck_assert_uint_eq(cqes[i].flags, 0);
			seen[cqes[i].user_data]++;
		}
		got += (unsigned)ret;
	}
	ck_assert_uint_eq(got, TOTAL);
	for (i = 0; i < TOTAL; i++)
		ck_assert_msg(seen[i] == 1, "user_data %u seen %d times", i, seen[i]);
	ck_assert(!ringo_ring_cq_overflow(&ring));
	ck_assert_uint_eq(ringo_ring_cq_ready(&ring), 0);
	/* The counter the kernel bumps for CQEs it had to drop. */
	ck_assert_uint_eq(*ring.cq.koverflow, 0);
	ck_assert_int_eq(ringo_ring_copy_cqes(&ring, cqes, TOTAL, 0), 0);

	ringo_ring_exit(&ring);
}
END_TEST

START_TEST(test_for_each_cqe)
{
	struct ringo_ring ring;
	struct ringo_cqe *cqe;
	unsigned head, n = 0;
	int i;

	TEST_RING_INIT(&ring, 8, 0);
	for (i = 0; i < 5; i++)
		queue_nop(&ring, 100 + (unsigned)i);
	ck_assert_int_eq(ringo_ring_submit_and_wait(&ring, 5), 5);
	ck_assert_uint_eq(ringo_ring_cq_ready(&ring), 5);

	ringo_ring_for_each_cqe(&ring, head, cqe) {
		test_assert_cqe(cqe, 100 + n, 0, 0);
		n++;
	}
	ck_assert_uint_eq(n, 5);
	/* Walking retires nothing. */
	ck_assert_uint_eq(ringo_ring_cq_ready(&ring), 5);
	ringo_ring_cq_advance(&ring, n);
	ck_assert_uint_eq(ringo_ring_cq_ready(&ring), 0);
	ck_assert_uint_eq(*ring.cq.khead, 5);

	n = 0;
	ringo_ring_for_each_cqe(&ring, head, cqe)
		n++;
	ck_assert_uint_eq(n, 0);
	ringo_ring_cq_advance(&ring, 0);
	ck_assert_uint_eq(*ring.cq.khead, 5);

	ringo_ring_exit(&ring);
}
END_TEST

/* ---- Submission without the wrappers ------------------------------------ */

/* flush_sq publishes without a syscall; ringo_ring_enter then submits. */
START_TEST(test_flush_and_enter)
{
	struct ringo_ring ring;
	struct ringo_cqe cqes[4];
	unsigned i;

	TEST_RING_INIT(&ring, 4, 0);
	for (i = 0; i < 3; i++)
		queue_nop(&ring, 0x700 + i);
	ck_assert_uint_eq(*ring.sq.ktail, 0);
	ck_assert_uint_eq(ringo_ring_flush_sq(&ring), 3);
	ck_assert_uint_eq(*ring.sq.ktail, 3);
	/* Published, not consumed: the kernel has not been entered. */
	ck_assert_uint_eq(*ring.sq.khead, 0);
	ck_assert_uint_eq(ringo_ring_sq_ready(&ring), 3);
	ck_assert_uint_eq(ringo_ring_cq_ready(&ring), 0);
	/* Flushing again publishes nothing new. */
	ck_assert_uint_eq(ringo_ring_flush_sq(&ring), 3);
	ck_assert_uint_eq(*ring.sq.ktail, 3);

	ck_assert_int_eq(ringo_ring_enter(&ring, 3, 3, RINGO_ENTER_GETEVENTS, NULL, 0), 3);
	ck_assert_uint_eq(*ring.sq.khead, 3);
	ck_assert_uint_eq(ringo_ring_sq_ready(&ring), 0);
	ck_assert_uint_eq(ringo_ring_cq_ready(&ring), 3);
	ck_assert_int_eq(ringo_ring_copy_cqes(&ring, cqes, 4, 0), 3);
	for (i = 0; i < 3; i++)
		test_assert_cqe(&cqes[i], 0x700 + i, 0, 0);
	ck_assert_uint_eq(ringo_ring_flush_sq(&ring), 0);

	/* An enter flag the kernel does not know. */
	ck_assert_int_eq(ringo_ring_enter(&ring, 0, 0, 1U << 30, NULL, 0), -EINVAL);
	ringo_ring_exit(&ring);
}
END_TEST

/* ---- Setup -------------------------------------------------------------- */

/* SQPOLL with its thread pinned (SQ_AFF) to a CPU we may run on. */
START_TEST(test_sqpoll_affinity)
{
	struct ringo_params p;
	struct ringo_ring ring;
	int cpu = sched_getcpu(), ret;

	ck_assert_int_ge(cpu, 0);
	memset(&p, 0, sizeof(p));
	p.flags = RINGO_SETUP_SQPOLL | RINGO_SETUP_SQ_AFF;
	p.sq_thread_idle = 10;
	p.sq_thread_cpu = (unsigned)cpu;
	ret = ringo_ring_init_params(&ring, 4, &p);
	if (ret == -EPERM || ret == -ENOSYS)
		TEST_SKIP("SQPOLL ring refused: %s", ringo_setup_strerror(ret));
	ck_assert_msg(ret == 0, "SQPOLL|SQ_AFF on cpu %d: %s", cpu, ringo_err_name(ret));
	ck_assert_uint_eq(ring.flags & RINGO_SETUP_SQ_AFF, RINGO_SETUP_SQ_AFF);
	queue_nop(&ring, 0x5a);
	ret = ringo_ring_submit(&ring);
	ck_assert_msg(ret == 1, "submit: %d (%s)", ret, ringo_err_name(ret));
	test_wait_expect(&ring, 0x5a, 0);
	ringo_ring_exit(&ring);

	/* A CPU that does not exist. */
	memset(&p, 0, sizeof(p));
	p.flags = RINGO_SETUP_SQPOLL | RINGO_SETUP_SQ_AFF;
	p.sq_thread_cpu = 1U << 20;
	ck_assert_int_eq(ringo_ring_init_params(&ring, 4, &p), -EINVAL);
	ringo_ring_exit(&ring);
}
END_TEST

/* Flag combinations and params the kernel or ringo refuse, and CQ clamping. */
START_TEST(test_setup_flag_errors)
{
	struct ringo_params p;
	struct ringo_ring ring;
	int ret;

	/* DEFER_TASKRUN needs SINGLE_ISSUER; SQ_AFF needs SQPOLL. */
	ck_assert_int_eq(ringo_ring_init(&ring, 4, RINGO_SETUP_DEFER_TASKRUN), -EINVAL);
	ck_assert_int_eq(ringo_ring_init(&ring, 4, RINGO_SETUP_SQ_AFF), -EINVAL);
	/* Not mapped by ringo. */
	ck_assert_int_eq(ringo_ring_init(&ring, 4, RINGO_SETUP_NO_MMAP), -EINVAL);
	ck_assert_int_eq(ringo_ring_init(&ring, 4, RINGO_SETUP_REGISTERED_FD_ONLY), -EINVAL);

	/* A params struct with the kernel's answers still in it. */
	memset(&p, 0, sizeof(p));
	p.sq_entries = 4;
	ck_assert_int_eq(ringo_ring_init_params(&ring, 4, &p), -EINVAL);
	memset(&p, 0, sizeof(p));
	p.features = RINGO_FEAT_SINGLE_MMAP;
	ck_assert_int_eq(ringo_ring_init_params(&ring, 4, &p), -EINVAL);
	ck_assert_int_eq(ringo_ring_init_params(&ring, 4, NULL), -EINVAL);

	/* A CQ larger than the kernel allows: refused, or clamped with CLAMP. */
	memset(&p, 0, sizeof(p));
	p.flags = RINGO_SETUP_CQSIZE;
	p.cq_entries = 1U << 20;
	ck_assert_int_eq(ringo_ring_init_params(&ring, 4, &p), -EINVAL);
	memset(&p, 0, sizeof(p));
	p.flags = RINGO_SETUP_CQSIZE | RINGO_SETUP_CLAMP;
	p.cq_entries = 1U << 20;
	ret = ringo_ring_init_params(&ring, 4, &p);
	if (test_io_uring_blocked(ret))
		TEST_SKIP("io_uring unavailable: %s", ringo_setup_strerror(ret));
	ck_assert_msg(ret == 0, "CQSIZE|CLAMP: %s", ringo_err_name(ret));
	ck_assert_uint_eq(ring.cq.ring_entries, 2 * RINGO_RING_MAX_ENTRIES);
	ck_assert_uint_eq(p.cq_entries, 2 * RINGO_RING_MAX_ENTRIES);
	nop_round_trip(&ring, 3);
	ringo_ring_exit(&ring);
}
END_TEST

/*
 * SINGLE_ISSUER: the task that made the ring is its only submitter. Another
 * task (here a forked child sharing the ring fd) is refused with -EEXIST.
 */
START_TEST(test_single_issuer)
{
	struct ringo_ring ring;
	pid_t pid;
	int status;

	TEST_RING_INIT(&ring, 4, RINGO_SETUP_SINGLE_ISSUER);
	ck_assert_uint_ne(ring.flags & RINGO_SETUP_SINGLE_ISSUER, 0);
	nop_round_trip(&ring, 1);

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* Asks to submit one SQE; the SQ itself is left alone. */
		int ret = ringo_ring_enter(&ring, 1, 0, 0, NULL, 0);

		_exit(ret == -EEXIST ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_msg(WEXITSTATUS(status) == 0, "another task could submit");

	/* The owner still can. */
	nop_round_trip(&ring, 2);
	ringo_ring_exit(&ring);
}
END_TEST

/* 1 if any mapping of this process is of an io_uring fd. */
static int io_uring_mapped(void)
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "re");
	int found = 0;

	ck_assert_ptr_nonnull(f);
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, "io_uring") != NULL;
	fclose(f);
	return found;
}

/* Bytes of address space this process uses now. */
static unsigned long address_space_bytes(void)
{
	unsigned long pages = 0;
	FILE *f = fopen("/proc/self/statm", "re");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%lu", &pages), 1);
	fclose(f);
	return pages * (unsigned long)sysconf(_SC_PAGESIZE);
}

/*
 * The child's half of test_setup_unwinds: with the address space capped
 * just above what it uses plus `room`, init a ring whose first mapping fits
 * and whose SQE array does not. Exit 0 when init failed with -ENOMEM and
 * left no fd and no mapping behind.
 */
static int unwind_child(unsigned long room)
{
	struct rlimit old, cap;
	struct ringo_ring ring;
	int lowest_free, ret, saved;

	/* The ring's fd would take the lowest free number. */
	lowest_free = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (lowest_free < 0)
		return 10;
	close(lowest_free);
	if (getrlimit(RLIMIT_AS, &old))
		return 11;
	cap = old;
	cap.rlim_cur = address_space_bytes() + room;
	if (setrlimit(RLIMIT_AS, &cap))
		return 12;
	errno = 0;
	ret = ringo_ring_init(&ring, RINGO_RING_MAX_ENTRIES, 0);
	saved = errno;
	setrlimit(RLIMIT_AS, &old);
	if (ret == 0)
		return 13;	/* the cap did not bite */
	if (ret != -ENOMEM)
		return 14;
	if (saved != 0)
		return 15;	/* errno is not ringo's to change */
	if (fcntl(lowest_free, F_GETFD) != -1 || errno != EBADF)
		return 16;	/* the ring fd stayed open */
	if (io_uring_mapped())
		return 17;	/* a ring mapping stayed */
	if (ring.fd != -1 || ring.sq.ring_ptr || ring.sq.sqes || ring.cq.ring_ptr)
		return 18;
	ringo_ring_exit(&ring);	/* harmless after a failed init */
	return 0;
}

/*
 * A set-up that fails after io_uring_setup succeeded (here: the SQE array
 * cannot be mapped) unwinds: ring fd closed, SQ/CQ mapping gone.
 */
START_TEST(test_setup_unwinds)
{
	/* 32768 SQEs: SQ+CQ rings ~1 MiB in one mapping, SQE array 2 MiB. */
	const unsigned long room = 1536UL * 1024;
	struct ringo_ring probe_ring;
	pid_t pid;
	int status;

	/* io_uring must work at all, and map its rings as anon_inode:[io_uring]. */
	TEST_RING_INIT(&probe_ring, RINGO_RING_MAX_ENTRIES, 0);
	if (!(ringo_ring_features(&probe_ring) & RINGO_FEAT_SINGLE_MMAP) || !io_uring_mapped()) {
		ringo_ring_exit(&probe_ring);
		TEST_SKIP("rings not mapped in one piece, or not visible in /proc/self/maps");
	}
	ringo_ring_exit(&probe_ring);
	ck_assert(!io_uring_mapped());

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(unwind_child(room));
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	if (WEXITSTATUS(status) == 13)
		TEST_SKIP("the address-space cap did not make the SQE mapping fail");
	ck_assert_msg(WEXITSTATUS(status) == 0, "unwind check failed: code %d",
		      WEXITSTATUS(status));
}
END_TEST

/*
 * Every int-returning call on a NULL ring, a zeroed ring and an exited ring
 * is -EINVAL (no crash, no syscall on fd 0); NULL out-pointers and bad sizes
 * on a live ring are -EINVAL too.
 */
static void assert_dead_ring(struct ringo_ring *r)
{
	const struct ringo_timespec ts = { .tv_sec = 0, .tv_nsec = 1000 };
	struct iovec iov = { .iov_base = &iov, .iov_len = sizeof(iov) };
	struct ringo_napi napi = { .busy_poll_to = 1 };
	unsigned limits[2] = { 0, 0 };
	struct ringo_buf_group bg;
	struct ringo_probe probe;
	struct ringo_cqe cqes[1], *cqe = NULL;
	int fds[1] = { -1 }, err = 0;

	ck_assert_int_eq(ringo_ring_submit(r), -EINVAL);
	ck_assert_int_eq(ringo_ring_submit_and_wait(r, 1), -EINVAL);
	ck_assert_int_eq(ringo_ring_submit_and_wait_timeout(r, 1, &ts, NULL), -EINVAL);
	ck_assert_int_eq(ringo_ring_get_events(r), -EINVAL);
	ck_assert_int_eq(ringo_ring_enter(r, 0, 0, 0, NULL, 0), -EINVAL);
	ck_assert_int_eq(ringo_ring_wait_cqe(r, &cqe), -EINVAL);
	ck_assert_int_eq(ringo_ring_wait_cqe_timeout(r, &cqe, &ts), -EINVAL);
	ck_assert_int_eq(ringo_ring_copy_cqes(r, cqes, 1, 0), -EINVAL);
	ck_assert_int_eq(ringo_ring_register_files(r, fds, 1), -EINVAL);
	ck_assert_int_eq(ringo_ring_register_files_sparse(r, 1), -EINVAL);
	ck_assert_int_eq(ringo_ring_register_files_update(r, 0, fds, 1), -EINVAL);
	ck_assert_int_eq(ringo_ring_register_file_alloc_range(r, 0, 1), -EINVAL);
	ck_assert_int_eq(ringo_ring_unregister_files(r), -EINVAL);
	ck_assert_int_eq(ringo_ring_register_buffers(r, &iov, 1), -EINVAL);
	ck_assert_int_eq(ringo_ring_unregister_buffers(r), -EINVAL);
	ck_assert_int_eq(ringo_ring_register_eventfd(r, 0), -EINVAL);
	ck_assert_int_eq(ringo_ring_register_eventfd(r, -1), -EINVAL);
	ck_assert_int_eq(ringo_ring_register_eventfd_async(r, 0), -EINVAL);
	ck_assert_int_eq(ringo_ring_unregister_eventfd(r), -EINVAL);
	ck_assert_int_eq(ringo_ring_probe(r, &probe), -EINVAL);
	ck_assert_int_eq(ringo_ring_op_supported(r, RINGO_OP_NOP), -EINVAL);
	ck_assert_int_eq(ringo_ring_register_napi(r, &napi), -EINVAL);
	ck_assert_int_eq(ringo_ring_unregister_napi(r, &napi), -EINVAL);
	ck_assert_int_eq(ringo_ring_enable(r), -EINVAL);
	ck_assert_int_eq(ringo_ring_register_iowq_max_workers(r, limits), -EINVAL);
	ck_assert_ptr_null(ringo_ring_setup_buf_ring(r, 4, 1, 0, NULL, &err));
	ck_assert_int_eq(err, -EINVAL);
	ck_assert_int_eq(ringo_ring_free_buf_ring(r, (struct ringo_buf_ring *)&iov, 1, 1),
			 -EINVAL);
	ck_assert_int_eq(ringo_buf_group_init(&bg, r, 1, 16, 4, 0), -EINVAL);
	ringo_buf_group_exit(&bg);
	ck_assert_uint_eq(ringo_ring_features(r), 0);
	ringo_ring_exit(r);
}

START_TEST(test_bad_ring_and_null_args)
{
	const struct ringo_timespec ts = { .tv_sec = 0, .tv_nsec = 1000 };
	struct ringo_ring ring, zeroed;
	struct ringo_cqe *cqe = NULL;
	struct iovec iov = { .iov_base = &iov, .iov_len = sizeof(iov) };
	struct ringo_buf_ring *br;
	unsigned flags_out = 0;
	int stdin_open = fcntl(0, F_GETFD) >= 0, err = 0;

	/* Neither a zeroed ring (fd 0) nor an exited one touches fd 0. */
	ck_assert_int_eq(ringo_ring_peek_cqe(NULL, &cqe), -EINVAL);
	assert_dead_ring(NULL);
	memset(&zeroed, 0, sizeof(zeroed));
	assert_dead_ring(&zeroed);
	TEST_RING_INIT(&ring, 4, 0);
	ringo_ring_exit(&ring);
	assert_dead_ring(&ring);
	if (stdin_open)
		ck_assert_int_ge(fcntl(0, F_GETFD), 0);

	TEST_RING_INIT(&ring, 4, 0);
	ck_assert_int_eq(ringo_ring_peek_cqe(&ring, NULL), -EINVAL);
	ck_assert_int_eq(ringo_ring_wait_cqe(&ring, NULL), -EINVAL);
	ck_assert_int_eq(ringo_ring_wait_cqe_timeout(&ring, NULL, &ts), -EINVAL);
	ck_assert_int_eq(ringo_ring_copy_cqes(&ring, NULL, 1, 0), -EINVAL);
	ck_assert_int_eq(ringo_ring_copy_cqes(&ring, NULL, 0, 0), 0);
	ck_assert_int_eq(ringo_ring_probe(&ring, NULL), -EINVAL);
	ck_assert_int_eq(ringo_ring_register_buffers(&ring, NULL, 1), -EINVAL);
	ck_assert_int_eq(ringo_ring_register_buffers(&ring, &iov, 0), -EINVAL);
	ck_assert_int_eq(ringo_ring_register_files_update(&ring, 0, NULL, 1), -EINVAL);
	ck_assert_int_eq(ringo_ring_register_files_sparse(&ring, 0), -EINVAL);
	ck_assert_int_eq(ringo_ring_register_eventfd(&ring, -1), -EBADF);
	ck_assert_int_eq(ringo_ring_register_eventfd_async(&ring, -1), -EBADF);
	ck_assert_int_eq(ringo_ring_register_napi(&ring, NULL), -EINVAL);
	ck_assert_int_eq(ringo_ring_register_iowq_max_workers(&ring, NULL), -EINVAL);

	/* Buffer rings: bgid out of range, unknown flags, NULL ring pointer. */
	br = ringo_ring_setup_buf_ring(&ring, 4, 1U << 16, 0, &flags_out, &err);
	ck_assert_ptr_null(br);
	ck_assert_int_eq(err, -EINVAL);
	br = ringo_ring_setup_buf_ring(&ring, 4, 1, 1U << 15, &flags_out, &err);
	ck_assert_ptr_null(br);
	ck_assert_int_eq(err, -EINVAL);
	ck_assert_ptr_null(ringo_ring_setup_buf_ring(&ring, 3, 1, 0, NULL, NULL));
	ck_assert_int_eq(ringo_ring_free_buf_ring(&ring, NULL, 4, 1), -EINVAL);
	ck_assert_int_eq(ringo_ring_free_buf_ring(&ring, (struct ringo_buf_ring *)&iov, 4, 1U << 16),
			 -EINVAL);

	/* The ring is unharmed by all of it. */
	nop_round_trip(&ring, 0xfeed);
	ringo_ring_exit(&ring);
}
END_TEST

/* ---- Registration --------------------------------------------------------- */

/* Open /dev/zero into a direct descriptor; res as the kernel gave it. */
static int open_direct(struct ringo_ring *ring, unsigned slot, uint64_t user_data)
{
	struct ringo_sqe *sqe = test_get_sqe_ud(ring, user_data);
	struct ringo_cqe cqe;

	ringo_prep_openat_direct(sqe, AT_FDCWD, "/dev/zero", O_RDONLY, 0, slot);
	cqe = test_submit_wait_one(ring);
	ck_assert_uint_eq(cqe.user_data, user_data);
	ck_assert_uint_eq(cqe.flags, 0);
	return cqe.res;
}

/* A sparse table (5.19) and the range kernel-picked slots come from (6.0). */
START_TEST(test_register_files_sparse_alloc_range)
{
	struct ringo_ring ring;
	int fds[1], ret;

	TEST_RING_INIT(&ring, 2, 0);
	if (!test_kernel_at_least(6, 0) || ringo_ring_op_supported(&ring, RINGO_OP_OPENAT) != 1) {
		ringo_ring_exit(&ring);
		TEST_SKIP("sparse tables and alloc ranges need Linux 6.0");
	}

	/* No table yet: every range lies outside it. */
	ck_assert_int_eq(ringo_ring_register_file_alloc_range(&ring, 0, 1), -EINVAL);

	ret = ringo_ring_register_files_sparse(&ring, 4);
	ck_assert_msg(ret == 0, "register_files_sparse: %s", ringo_err_name(ret));
	ck_assert_int_eq(ringo_ring_register_files_sparse(&ring, 4), -EBUSY);
	/* Every slot starts empty. */
	read_fixed_file(&ring, 0, -EBADF);
	read_fixed_file(&ring, 3, -EBADF);

	/* The range must lie inside the table. */
	ck_assert_int_eq(ringo_ring_register_file_alloc_range(&ring, 3, 2), -EINVAL);
	ck_assert_int_eq(ringo_ring_register_file_alloc_range(&ring, 2, 2), 0);

	/* Kernel-picked slots come from [2, 4) only, then the range is full. */
	ck_assert_int_eq(open_direct(&ring, RINGO_FILE_INDEX_ALLOC, 0x10), 2);
	ck_assert_int_eq(open_direct(&ring, RINGO_FILE_INDEX_ALLOC, 0x11), 3);
	ck_assert_int_eq(open_direct(&ring, RINGO_FILE_INDEX_ALLOC, 0x12), -ENFILE);
	read_fixed_file(&ring, 2, 128);
	read_fixed_file(&ring, 3, 128);
	read_fixed_file(&ring, 0, -EBADF);

	/* Slots outside the range are still there when named. */
	ck_assert_int_eq(open_direct(&ring, 0, 0x13), 0);
	read_fixed_file(&ring, 0, 128);
	fds[0] = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fds[0], 0);
	ck_assert_int_eq(ringo_ring_register_files_update(&ring, 1, fds, 1), 1);
	close(fds[0]);
	read_fixed_file(&ring, 1, 128);

	/* A freed slot in the range is handed out again. */
	ringo_prep_close_direct(test_get_sqe_ud(&ring, 0x14), 2);
	test_submit_expect(&ring, 0x14, 0);
	read_fixed_file(&ring, 2, -EBADF);
	ck_assert_int_eq(open_direct(&ring, RINGO_FILE_INDEX_ALLOC, 0x15), 2);

	ck_assert_int_eq(ringo_ring_unregister_files(&ring), 0);
	ck_assert_int_eq(ringo_ring_register_file_alloc_range(&ring, 0, 1), -EINVAL);
	ringo_ring_exit(&ring);
}
END_TEST

/* ---- More timeouts and cross-ring messages -------------------------------- */

/* A 3 s timeout moved to 10 ms fires after 10 ms (5.11). */
START_TEST(test_timeout_update)
{
	const struct ringo_timespec later = { .tv_sec = 3, .tv_nsec = 0 };
	const struct ringo_timespec soon = { .tv_sec = 0, .tv_nsec = 10 * 1000000 };
	struct ringo_ring ring;
	struct ringo_sqe *sqe;
	struct ringo_cqe cqe;
	int64_t started;
	int i, seen_update = 0, seen_timeout = 0;

	TEST_RING_INIT(&ring, 4, 0);
	if (!test_kernel_at_least(5, 11)) {
		ringo_ring_exit(&ring);
		TEST_SKIP("timeout update needs Linux 5.11");
	}
	started = test_now_ns();
	queue_timeout(&ring, &later, 0xa1);
	ck_assert_int_eq(ringo_ring_submit(&ring), 1);

	sqe = test_get_sqe_ud(&ring, 0xa2);
	ringo_prep_timeout_update(sqe, &soon, 0xa1, 0);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_TIMEOUT_REMOVE);
	ck_assert_uint_eq(sqe->addr, 0xa1);
	ck_assert_uint_eq(sqe->timeout_flags, RINGO_TIMEOUT_UPDATE);
	ck_assert_int_eq(ringo_ring_submit(&ring), 1);
	for (i = 0; i < 2; i++) {
		cqe = test_wait_one(&ring);
		if (cqe.user_data == 0xa2) {
			test_assert_cqe(&cqe, 0xa2, 0, 0);
			seen_update++;
		} else {
			test_assert_cqe(&cqe, 0xa1, -ETIME, 0);
			seen_timeout++;
		}
	}
	ck_assert_int_eq(seen_update, 1);
	ck_assert_int_eq(seen_timeout, 1);
	assert_waited_10ms(test_now_ns() - started);

	/* Updating a timeout that is gone. */
	ringo_prep_timeout_update(test_get_sqe_ud(&ring, 0xa3), &soon, 0xa1, 0);
	test_submit_expect(&ring, 0xa3, -ENOENT);
	ringo_ring_exit(&ring);
}
END_TEST

/* msg_ring (5.18) posts a CQE with our res and user_data on another ring. */
START_TEST(test_msg_ring)
{
	struct ringo_ring ring, target;
	struct ringo_sqe *sqe;
	struct ringo_cqe cqe;
	int nullfd;

	TEST_RING_INIT(&ring, 4, 0);
	if (ringo_ring_op_supported(&ring, RINGO_OP_MSG_RING) != 1) {
		ringo_ring_exit(&ring);
		TEST_SKIP("kernel lacks RINGO_OP_MSG_RING");
	}
	if (test_ring_init(&target, 4, 0)) {
		ringo_ring_exit(&ring);
		TEST_SKIP("io_uring unavailable");
	}

	sqe = test_get_sqe_ud(&ring, 0xb1);
	ringo_prep_msg_ring(sqe, target.fd, 1234, 0xdeadbeefcafeULL, 0);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_MSG_RING);
	ck_assert_int_eq(sqe->fd, target.fd);
	test_submit_expect(&ring, 0xb1, 0);

	cqe = test_wait_one(&target);
	test_assert_cqe(&cqe, 0xdeadbeefcafeULL, 1234, 0);
	ck_assert_uint_eq(ringo_ring_cq_ready(&ring), 0);

	/* The target must be a ring. */
	nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(nullfd, 0);
	ringo_prep_msg_ring(test_get_sqe_ud(&ring, 0xb2), nullfd, 1, 2, 0);
	test_submit_expect(&ring, 0xb2, -EBADFD);
	close(nullfd);
	ck_assert_uint_eq(ringo_ring_cq_ready(&target), 0);

	ringo_ring_exit(&target);
	ringo_ring_exit(&ring);
}
END_TEST

/* ---- Error text ------------------------------------------------------- */

START_TEST(test_error_strings)
{
	ck_assert_str_eq(ringo_err_name(-ENOENT), "ENOENT");
	ck_assert_str_eq(ringo_err_name(-EPERM), "EPERM");
	ck_assert_str_eq(ringo_err_name(-ENOSYS), "ENOSYS");
	ck_assert_str_eq(ringo_err_name(RINGO_EOF), "RINGO_EOF");
	ck_assert_str_eq(ringo_err_name(-99999), "UNKNOWN");

	ck_assert_str_eq(ringo_strerror(-ENOENT), strerror(ENOENT));
	ck_assert_str_eq(ringo_strerror(-EPERM), strerror(EPERM));
	ck_assert_str_eq(ringo_strerror(-ENOSYS), strerror(ENOSYS));
	ck_assert_str_eq(ringo_strerror(RINGO_EOF), "end of file");
	ck_assert_ptr_nonnull(ringo_strerror(-99999));
	ck_assert_ptr_nonnull(ringo_strerror(12345));

	/* Setup failures get an explanation; other errors their usual text. */
	ck_assert_ptr_nonnull(strstr(ringo_setup_strerror(-ENOSYS), "io_uring"));
	ck_assert_ptr_nonnull(strstr(ringo_setup_strerror(-EPERM), "seccomp"));
	ck_assert_ptr_nonnull(strstr(ringo_setup_strerror(-EPERM), "io_uring_disabled"));
	ck_assert_str_eq(ringo_setup_strerror(-ENOENT), ringo_strerror(-ENOENT));
	ck_assert_str_eq(ringo_setup_strerror(RINGO_EOF), ringo_strerror(RINGO_EOF));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ring");
	TCase *core = test_tcase(s, "core", NULL, NULL, 30);
	TCase *setup = test_tcase(s, "setup", NULL, NULL, 30);
	TCase *cq = test_tcase(s, "completion", NULL, NULL, 30);

	tcase_add_test(core, test_structs_offsets_entries);
	tcase_add_test(core, test_nop);
	tcase_add_test(core, test_timeout_relative);
	tcase_add_test(core, test_timeout_completions);
	tcase_add_test(core, test_timeout_remove);
	tcase_add_test(core, test_copy_cqes_wrapping);
	tcase_add_test(core, test_register_files_update);
	tcase_add_test(core, test_sq_full);
	tcase_add_test(core, test_flush_and_enter);
	tcase_add_test(core, test_register_files_sparse_alloc_range);
	tcase_add_test(core, test_timeout_update);
	tcase_add_test(core, test_msg_ring);
	tcase_add_test(core, test_error_strings);

	tcase_add_test(setup, test_bad_arguments);
	tcase_add_test(setup, test_features);
	tcase_add_test(setup, test_cqsize);
	tcase_add_test(setup, test_clamp);
	tcase_add_test(setup, test_defer_taskrun);
	tcase_add_test(setup, test_coop_taskrun);
	tcase_add_test(setup, test_sqpoll);
	tcase_add_test(setup, test_attach_wq);
	tcase_add_test(setup, test_probe);
	tcase_add_test(setup, test_eventfd);
	tcase_add_test(setup, test_register_ring_fd);
	tcase_add_test(setup, test_napi);
	tcase_add_test(setup, test_enable_and_iowq_limits);
	tcase_add_test(setup, test_sqpoll_affinity);
	tcase_add_test(setup, test_setup_flag_errors);
	tcase_add_test(setup, test_single_issuer);
	tcase_add_test(setup, test_setup_unwinds);
	tcase_add_test(setup, test_bad_ring_and_null_args);

	tcase_add_test(cq, test_submit_and_wait_timeout);
	tcase_add_test(cq, test_wait_cqe_timeout);
	tcase_add_test(cq, test_wait_sigmask);
	tcase_add_test(cq, test_peek_cqe);
	tcase_add_test(cq, test_cq_overflow);
	tcase_add_test(cq, test_for_each_cqe);

	return s;
}

int main(void)
{
	return test_main(suite());
}
