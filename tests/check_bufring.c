/* SPDX-License-Identifier: MIT */
/*
 * Provided buffers. Legacy groups (RINGO_OP_PROVIDE_BUFFERS and
 * REMOVE_BUFFERS) and ring-mapped groups (struct ringo_buf_group) are driven
 * through reads from /dev/zero and recvs on a loopback TCP pair, ported from
 * the Zig standard library's io_uring tests: each read takes one buffer, a
 * drained group fails with -ENOBUFS, re-providing or recycling a buffer makes
 * the next read work, and a multishot recv runs its group dry, is re-armed
 * and finally cancelled. The bounds checks behind ringo_buf_slice() and
 * ringo_buf_group_buffer() get the ququmatz crate's slice tests, and every
 * argument the buffer-ring API rejects (-EINVAL from ringo, -EEXIST from the
 * kernel) has a test of its own.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_TRACKED 8	/* fds one test may track */

#include "fixture_ring.h"

/* Buffer rings have no opcode to probe; they came with Linux 5.19. */
#define REQUIRE_BUF_RINGS()                                                                    \
	do {                                                                                   \
		if (!test_kernel_at_least(5, 19))                                              \
			TEST_SKIP("ring-mapped provided buffers need Linux 5.19");             \
	} while (0)

static bool all_bytes(const void *p, int byte, size_t len)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (c[i] != (unsigned char)byte)
			return false;
	return true;
}

/* send through the ring; the whole buffer goes and the CQE is plain. */
static void ring_send(int fd, const void *buf, size_t len, uint64_t user_data)
{
	ringo_prep_send(get_sqe(user_data), fd, buf, len, 0);
	test_submit_expect(&ring, user_data, (int)len);
}

/* ---- legacy provided buffers ----------------------------------------- */

#define LEGACY_BGID 1337
#define LEGACY_LEN 128
#define LEGACY_NR 4

/* Provide `nr` buffers of LEGACY_LEN starting at `addr` with ids bid... */
static void provide(void *addr, int nr, unsigned bid, uint64_t user_data)
{
	struct ringo_sqe *sqe = get_sqe(user_data);
	struct ringo_cqe cqe;

	ringo_prep_provide_buffers(sqe, addr, LEGACY_LEN, nr, LEGACY_BGID, bid);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_PROVIDE_BUFFERS);
	ck_assert_int_eq(sqe->fd, nr);
	ck_assert_uint_eq(sqe->len, LEGACY_LEN);
	ck_assert_uint_eq(sqe->buf_group, LEGACY_BGID);
	ck_assert_uint_eq(sqe->off, bid);
	cqe = test_submit_wait_one(&ring);
	ck_assert_uint_eq(cqe.user_data, user_data);
	/* 0 on current kernels; older ones returned the count. */
	ck_assert_msg(cqe.res == 0 || cqe.res == nr, "provide_buffers res %d (%s)", cqe.res,
		      ringo_err_name(cqe.res));
}

/* A read of LEGACY_LEN bytes that picks its buffer from LEGACY_BGID. */
static struct ringo_cqe read_select(int fd, uint64_t user_data)
{
	struct ringo_sqe *sqe = get_sqe(user_data);

	ringo_prep_read_select(sqe, fd, LEGACY_LEN, 0, LEGACY_BGID);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_READ);
	ck_assert_int_eq(sqe->fd, fd);
	ck_assert_uint_eq(sqe->addr, 0);
	ck_assert_uint_eq(sqe->len, LEGACY_LEN);
	ck_assert_uint_eq(sqe->buf_group, LEGACY_BGID);
	ck_assert_uint_eq(sqe->flags, RINGO_SQE_BUFFER_SELECT);
	return test_submit_wait_one(&ring);
}

/* A recv of LEGACY_LEN bytes that picks its buffer from LEGACY_BGID. */
static struct ringo_cqe recv_select(int fd, uint64_t user_data)
{
	struct ringo_sqe *sqe = get_sqe(user_data);

	ringo_prep_recv(sqe, fd, NULL, LEGACY_LEN, 0);
	ringo_sqe_set_buf_group(sqe, LEGACY_BGID);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_RECV);
	ck_assert_int_eq(sqe->fd, fd);
	ck_assert_uint_eq(sqe->addr, 0);
	ck_assert_uint_eq(sqe->len, LEGACY_LEN);
	ck_assert_uint_eq(sqe->buf_group, LEGACY_BGID);
	ck_assert_uint_eq(sqe->msg_flags, 0);
	ck_assert_uint_eq(sqe->flags, RINGO_SQE_BUFFER_SELECT);
	return test_submit_wait_one(&ring);
}

/* A successful selected-buffer CQE of LEGACY_LEN bytes; returns its bid. */
static unsigned expect_legacy_buffer(const struct ringo_cqe *cqe, uint64_t user_data)
{
	unsigned bid;

	ck_assert_uint_eq(cqe->user_data, user_data);
	ck_assert_msg(cqe->res == LEGACY_LEN, "res %d (%s)", cqe->res, ringo_err_name(cqe->res));
	ck_assert_msg(cqe->flags & RINGO_CQE_F_BUFFER, "flags %#x", cqe->flags);
	bid = ringo_cqe_buffer_id(cqe);
	ck_assert_uint_eq(bid, cqe->flags >> 16);
	ck_assert_uint_lt(bid, LEGACY_NR);
	return bid;
}

START_TEST(test_provide_buffers_read)
{
	unsigned char bufs[LEGACY_NR][LEGACY_LEN];
	bool used[LEGACY_NR] = { false };
	struct ringo_cqe cqe;
	unsigned bid;
	int fd, i;

	RING_UP(1);
	TEST_REQUIRE_OP(&ring, RINGO_OP_PROVIDE_BUFFERS);
	TEST_REQUIRE_OP(&ring, RINGO_OP_READ);
	fd = track(open("/dev/zero", O_RDONLY | O_CLOEXEC));

	/* Garbage in the buffers, so the zeros read are visible. */
	memset(bufs, 0x5a, sizeof(bufs));
	provide(bufs, LEGACY_NR, 0, 0xcccccccc);

	/* Four reads take the four buffers, each one once. */
	for (i = 0; i < LEGACY_NR; i++) {
		cqe = read_select(fd, 0xdededede);
		bid = expect_legacy_buffer(&cqe, 0xdededede);
		ck_assert(!used[bid]);
		used[bid] = true;
		ck_assert(all_bytes(bufs[bid], 0, LEGACY_LEN));
	}

	/* The group is empty. */
	cqe = read_select(fd, 0xdfdfdfdf);
	ck_assert_uint_eq(cqe.user_data, 0xdfdfdfdf);
	ck_assert_int_eq(cqe.res, -ENOBUFS);
	ck_assert_uint_eq(cqe.flags & RINGO_CQE_F_BUFFER, 0);

	/* Give back buffer 2 alone; the next read must land in it. */
	memset(bufs, 42, sizeof(bufs));
	provide(bufs[2], 1, 2, 0xabababab);
	cqe = read_select(fd, 0xdfdfdfdf);
	bid = expect_legacy_buffer(&cqe, 0xdfdfdfdf);
	ck_assert_uint_eq(bid, 2);
	ck_assert(all_bytes(bufs[2], 0, LEGACY_LEN));
	ck_assert(all_bytes(bufs[1], 42, LEGACY_LEN));	/* untouched */
}
END_TEST

START_TEST(test_remove_buffers)
{
	unsigned char bufs[LEGACY_NR][LEGACY_LEN];
	struct ringo_sqe *sqe;
	struct ringo_cqe cqe;
	unsigned bid;
	int fd;

	RING_UP(1);
	TEST_REQUIRE_OP(&ring, RINGO_OP_PROVIDE_BUFFERS);
	TEST_REQUIRE_OP(&ring, RINGO_OP_REMOVE_BUFFERS);
	TEST_REQUIRE_OP(&ring, RINGO_OP_READ);
	fd = track(open("/dev/zero", O_RDONLY | O_CLOEXEC));

	memset(bufs, 0x5a, sizeof(bufs));
	provide(bufs, LEGACY_NR, 0, 0xcccccccc);

	/* Take three of the four back; res says how many went. */
	sqe = get_sqe(0xbababababaULL);
	ringo_prep_remove_buffers(sqe, 3, LEGACY_BGID);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_REMOVE_BUFFERS);
	ck_assert_int_eq(sqe->fd, 3);
	ck_assert_uint_eq(sqe->addr, 0);
	ck_assert_uint_eq(sqe->buf_group, LEGACY_BGID);
	cqe = test_submit_wait_one(&ring);
	ck_assert_uint_eq(cqe.user_data, 0xbababababaULL);
	ck_assert_int_eq(cqe.res, 3);

	/* One read still works... */
	cqe = read_select(fd, 0xdfdfdfdf);
	bid = expect_legacy_buffer(&cqe, 0xdfdfdfdf);
	ck_assert(all_bytes(bufs[bid], 0, LEGACY_LEN));

	/* ...and then the group is empty. */
	cqe = read_select(fd, 0xdfdfdfdf);
	ck_assert_uint_eq(cqe.user_data, 0xdfdfdfdf);
	ck_assert_int_eq(cqe.res, -ENOBUFS);

	/* A group that was never provided is not there to remove from. */
	ringo_prep_remove_buffers(get_sqe(0xbb), 1, LEGACY_BGID + 1);
	cqe = test_submit_wait_one(&ring);
	ck_assert_uint_eq(cqe.user_data, 0xbb);
	ck_assert_int_eq(cqe.res, -ENOENT);
}
END_TEST

START_TEST(test_provide_buffers_recv)
{
	unsigned char bufs[LEGACY_NR][LEGACY_LEN], payload[LEGACY_LEN];
	bool used[LEGACY_NR] = { false };
	struct ringo_cqe cqe;
	struct tcp_pair p;
	unsigned bid;
	int i;

	RING_UP(16);
	TEST_REQUIRE_OP(&ring, RINGO_OP_PROVIDE_BUFFERS);
	REQUIRE_TCP_OPS();

	memset(bufs, 0x5a, sizeof(bufs));
	provide(bufs, LEGACY_NR, 0, 0xcccccccc);
	tcp_pair_open(&p);

	/* Four sends of 128 'z', submitted one by one, reaped together. */
	memset(payload, 'z', sizeof(payload));
	for (i = 0; i < LEGACY_NR; i++) {
		ringo_prep_send(get_sqe(0xdeaddead), p.server, payload, sizeof(payload), 0);
		ck_assert_int_eq(ringo_ring_submit(&ring), 1);
	}
	{
		struct ringo_cqe cqes[LEGACY_NR];
		int got = 0, ret, k;

		for (k = 0; k < 16 && got < LEGACY_NR; k++) {
			ret = ringo_ring_copy_cqes(&ring, cqes + got, LEGACY_NR - (unsigned)got,
						   1);
			ck_assert_msg(ret >= 0, "copy_cqes: %s", ringo_err_name(ret));
			got += ret;
		}
		ck_assert_int_eq(got, LEGACY_NR);
		for (k = 0; k < LEGACY_NR; k++) {
			ck_assert_uint_eq(cqes[k].user_data, 0xdeaddead);
			ck_assert_int_eq(cqes[k].res, LEGACY_LEN);
		}
	}

	/* Four recvs take the four buffers. */
	memset(bufs, 1, sizeof(bufs));
	for (i = 0; i < LEGACY_NR; i++) {
		cqe = recv_select(p.client, 0xdededede);
		bid = expect_legacy_buffer(&cqe, 0xdededede);
		ck_assert(!used[bid]);
		used[bid] = true;
		ck_assert(all_bytes(bufs[bid], 'z', LEGACY_LEN));
	}

	/* The group is empty. */
	cqe = recv_select(p.client, 0xdfdfdfdf);
	ck_assert_uint_eq(cqe.user_data, 0xdfdfdfdf);
	ck_assert_int_eq(cqe.res, -ENOBUFS);
	ck_assert_uint_eq(cqe.flags & RINGO_CQE_F_BUFFER, 0);

	/* Give back buffer 2, send once more: the data lands in buffer 2. */
	provide(bufs[2], 1, 2, 0xabababab);
	memset(payload, 'w', sizeof(payload));
	ring_send(p.server, payload, sizeof(payload), 0xdeaddead);

	memset(bufs, 1, sizeof(bufs));
	cqe = recv_select(p.client, 0xdfdfdfdf);
	bid = expect_legacy_buffer(&cqe, 0xdfdfdfdf);
	ck_assert_uint_eq(bid, 2);
	ck_assert(all_bytes(bufs[2], 'w', LEGACY_LEN));
}
END_TEST

/* ---- ring-mapped buffer groups --------------------------------------- */

#define GROUP_BGID 1
#define GROUP_COUNT 2
#define GROUP_BUF_SIZE 4

static uint64_t next_user_data = 0x5eed0000;

/* Set up a group over `ring`, failing the test with the reason if it cannot. */
static void group_init(struct ringo_buf_group *bg, unsigned bgid, unsigned buf_size,
		       unsigned count)
{
	int ret = ringo_buf_group_init(bg, &ring, bgid, buf_size, count, 0);

	ck_assert_msg(ret == 0, "ringo_buf_group_init(bgid %u, %u x %u): %s", bgid, count,
		      buf_size, ringo_err_name(ret));
	ck_assert_ptr_eq(bg->ring, &ring);
	ck_assert_ptr_nonnull(bg->br);
	ck_assert_ptr_nonnull(bg->base);
	ck_assert_uint_eq(bg->buf_size, buf_size);
	ck_assert_uint_eq(bg->count, count);
	ck_assert_uint_eq(bg->bgid, bgid);
}

/*
 * A completed, successful CQE of `user_data` that carries a buffer from `bg`
 * holding exactly `expected` (`len` bytes).
 */
static void expect_group_data(const struct ringo_buf_group *bg, const struct ringo_cqe *cqe,
			      uint64_t user_data, const void *expected, unsigned len)
{
	void *data, *by_id;
	unsigned got;

	ck_assert_uint_eq(cqe->user_data, user_data);
	ck_assert_msg(cqe->res >= 0, "res %d (%s)", cqe->res, ringo_err_name(cqe->res));
	ck_assert_msg(cqe->flags & RINGO_CQE_F_BUFFER, "flags %#x", cqe->flags);
	ck_assert_int_eq(cqe->res, (int)len);

	ck_assert_int_eq(ringo_buf_group_cqe_data(bg, cqe, &data, &got), 0);
	ck_assert_uint_eq(got, len);
	ck_assert_mem_eq(data, expected, len);

	/* The same bytes, looked up by buffer id. */
	ck_assert_int_eq(ringo_buf_group_buffer(bg, ringo_cqe_buffer_id(cqe), len, &by_id), 0);
	ck_assert_ptr_eq(by_id, data);
}

/*
 * A single-shot recv CQE that delivered the next chunk of `data` (`total`
 * bytes, `pos` of them already seen) into `bg`. Returns the new position.
 */
static unsigned expect_next_chunk(const struct ringo_buf_group *bg, const struct ringo_cqe *cqe,
				  uint64_t user_data, const unsigned char *data, unsigned pos,
				  unsigned total)
{
	ck_assert_uint_eq(cqe->user_data, user_data);
	ck_assert_msg(cqe->res > 0, "recv res %d (%s)", cqe->res, ringo_err_name(cqe->res));
	ck_assert_uint_le((unsigned)cqe->res, bg->buf_size);
	ck_assert_uint_le(pos + (unsigned)cqe->res, total);
	expect_group_data(bg, cqe, user_data, data + pos, (unsigned)cqe->res);
	return pos + (unsigned)cqe->res;
}

/* A single-shot recv into `bg`, submitted and reaped. */
static struct ringo_cqe group_recv(const struct ringo_buf_group *bg, int fd,
				   uint64_t user_data)
{
	struct ringo_sqe *sqe = get_sqe(user_data);

	ringo_prep_recv(sqe, fd, NULL, bg->buf_size, 0);
	ringo_sqe_set_buf_group(sqe, bg->bgid);
	ck_assert_uint_eq(sqe->flags & RINGO_SQE_BUFFER_SELECT, RINGO_SQE_BUFFER_SELECT);
	ck_assert_uint_eq(sqe->buf_group, bg->bgid);
	return test_submit_wait_one(&ring);
}

/* A CQE that failed for lack of a buffer: no buffer to look up or put. */
static void expect_nobufs(const struct ringo_buf_group *bg, const struct ringo_cqe *cqe,
			  uint64_t user_data)
{
	void *data = NULL;
	unsigned len = 0;

	ck_assert_uint_eq(cqe->user_data, user_data);
	ck_assert_int_lt(cqe->res, 0);
	ck_assert_int_eq(cqe->res, -ENOBUFS);
	ck_assert_uint_eq(cqe->flags & RINGO_CQE_F_BUFFER, 0);
	ck_assert_uint_eq(cqe->flags & RINGO_CQE_F_MORE, 0);
	ck_assert_int_eq(ringo_buf_group_cqe_data(bg, cqe, &data, &len), -EINVAL);
}

START_TEST(test_buf_group_recv)
{
	static const unsigned char data[15] = { 0, 1, 2, 3, 4, 5, 6, 7,
						8, 9, 0xa, 0xb, 0xc, 0xd, 0xe };
	struct ringo_buf_group bg;
	struct tcp_pair p;
	int round;

	REQUIRE_BUF_RINGS();
	RING_UP(16);
	REQUIRE_TCP_OPS();
	group_init(&bg, GROUP_BGID, GROUP_BUF_SIZE, GROUP_COUNT);
	tcp_pair_open(&p);

	for (round = 0; round < 4; round++) {
		struct ringo_cqe cqe1, cqe2, cqe;
		unsigned pos = 0;
		uint64_t ud;
		int i;

		ring_send(p.client, data, sizeof(data), next_user_data++);

		/* Two recvs: one buffer each, so a 4-byte chunk each. */
		ud = next_user_data++;
		cqe1 = group_recv(&bg, p.server, ud);
		pos = expect_next_chunk(&bg, &cqe1, ud, data, pos, sizeof(data));
		ud = next_user_data++;
		cqe2 = group_recv(&bg, p.server, ud);
		pos = expect_next_chunk(&bg, &cqe2, ud, data, pos, sizeof(data));
		ck_assert_uint_ne(ringo_cqe_buffer_id(&cqe1), ringo_cqe_buffer_id(&cqe2));

		/* Both buffers are out: -ENOBUFS until one is given back. */
		ud = next_user_data++;
		cqe = group_recv(&bg, p.server, ud);
		expect_nobufs(&bg, &cqe, ud);
		ck_assert_int_eq(ringo_buf_group_put(&bg, &cqe), -EINVAL);

		ck_assert_int_eq(ringo_buf_group_put(&bg, &cqe1), 0);
		ck_assert_int_eq(ringo_buf_group_put(&bg, &cqe2), 0);

		/* The rest, giving each buffer back at once (bounded). */
		for (i = 0; i < 16 && pos < sizeof(data); i++) {
			ud = next_user_data++;
			cqe = group_recv(&bg, p.server, ud);
			pos = expect_next_chunk(&bg, &cqe, ud, data, pos, sizeof(data));
			ck_assert_int_eq(ringo_buf_group_put(&bg, &cqe), 0);
		}
		ck_assert_uint_eq(pos, sizeof(data));
	}
	ringo_buf_group_exit(&bg);
}
END_TEST

START_TEST(test_buf_group_multishot_recv)
{
	static const unsigned char data[16] = { 0, 1, 2, 3, 4, 5, 6, 7,
						8, 9, 0xa, 0xb, 0xc, 0xd, 0xe, 0xf };
	const unsigned sz = GROUP_BUF_SIZE;
	struct ringo_buf_group bg;
	struct tcp_pair p;
	int round;

	if (!test_kernel_at_least(6, 0))
		TEST_SKIP("multishot recv needs Linux 6.0");
	RING_UP(16);
	REQUIRE_TCP_OPS();
	TEST_REQUIRE_OP(&ring, RINGO_OP_ASYNC_CANCEL);
	group_init(&bg, GROUP_BGID, GROUP_BUF_SIZE, GROUP_COUNT);
	tcp_pair_open(&p);

	for (round = 0; round < 4; round++) {
		struct ringo_cqe cqe1, cqe2, cqe3, cqe4, cqe, cancel_cqe;
		uint64_t recv_ud, cancel_ud;
		struct ringo_sqe *sqe;

		ring_send(p.client, data, sizeof(data), next_user_data++);

		recv_ud = next_user_data++;
		sqe = get_sqe(recv_ud);
		ringo_prep_recv_multishot(sqe, p.server, GROUP_BGID, 0);
		ck_assert_uint_eq(sqe->opcode, RINGO_OP_RECV);
		ck_assert_uint_eq(sqe->ioprio & RINGO_RECV_MULTISHOT, RINGO_RECV_MULTISHOT);
		ck_assert_uint_eq(sqe->flags & RINGO_SQE_BUFFER_SELECT, RINGO_SQE_BUFFER_SELECT);
		ck_assert_uint_eq(sqe->buf_group, GROUP_BGID);
		ck_assert_int_eq(ringo_ring_submit(&ring), 1);

		/* Two buffers of 4: chunks [0,4) and [4,8), the recv still armed. */
		cqe1 = test_wait_one(&ring);
		expect_group_data(&bg, &cqe1, recv_ud, data, sz);
		ck_assert_msg(cqe1.flags & RINGO_CQE_F_MORE, "flags %#x", cqe1.flags);
		cqe2 = test_wait_one(&ring);
		expect_group_data(&bg, &cqe2, recv_ud, data + sz, sz);
		ck_assert_msg(cqe2.flags & RINGO_CQE_F_MORE, "flags %#x", cqe2.flags);

		/* The group ran dry with data left: -ENOBUFS ends the multishot. */
		cqe = test_wait_one(&ring);
		expect_nobufs(&bg, &cqe, recv_ud);

		/* Give both back (one by CQE, one by id) and re-arm. */
		ck_assert_int_eq(ringo_buf_group_put(&bg, &cqe1), 0);
		ck_assert_int_eq(ringo_buf_group_recycle(&bg, ringo_cqe_buffer_id(&cqe2)), 0);

		recv_ud = next_user_data++;
		ringo_prep_recv_multishot(get_sqe(recv_ud), p.server, GROUP_BGID, 0);
		ck_assert_int_eq(ringo_ring_submit(&ring), 1);

		cqe3 = test_wait_one(&ring);
		expect_group_data(&bg, &cqe3, recv_ud, data + 2 * sz, sz);
		ck_assert_msg(cqe3.flags & RINGO_CQE_F_MORE, "flags %#x", cqe3.flags);
		ck_assert_int_eq(ringo_buf_group_put(&bg, &cqe3), 0);

		cqe4 = test_wait_one(&ring);
		expect_group_data(&bg, &cqe4, recv_ud, data + 3 * sz, sz);
		ck_assert_msg(cqe4.flags & RINGO_CQE_F_MORE, "flags %#x", cqe4.flags);
		ck_assert_int_eq(ringo_buf_group_put(&bg, &cqe4), 0);

		/* Cancel the armed recv. */
		cancel_ud = next_user_data++;
		ringo_prep_cancel64(get_sqe(cancel_ud), recv_ud, 0);
		ck_assert_int_eq(ringo_ring_submit(&ring), 1);
		wait_two(cancel_ud, &cancel_cqe, &cqe);
		ck_assert_uint_eq(cancel_cqe.user_data, cancel_ud);
		ck_assert_uint_eq(cqe.user_data, recv_ud);
		ck_assert_int_lt(cqe.res, 0);
		ck_assert_uint_eq(cqe.flags & RINGO_CQE_F_MORE, 0);
		if (test_kernel_at_least(6, 5)) {
			/* Since 6.5 (liburing issue 984) the recv stays armed
			 * and the cancel finds it. */
			ck_assert_int_eq(cancel_cqe.res, 0);
			ck_assert_int_eq(cqe.res, -ECANCELED);
		} else {
			ck_assert(cancel_cqe.res == 0 || cancel_cqe.res == -ENOENT);
			ck_assert(cqe.res == -ECANCELED || cqe.res == -ENOBUFS);
		}
	}
	ringo_buf_group_exit(&bg);
}
END_TEST

/* ---- incremental consumption (6.12) --------------------------------------- */

/*
 * One 16-byte buffer filled piece by piece: each CQE's data starts where the
 * last one ended, F_BUF_MORE says the kernel keeps the buffer, and only the
 * CQE that fills it gives it back.
 */
START_TEST(test_buf_group_incremental)
{
	static const struct {
		const char *text;
		unsigned offset;	/* where it lands in the buffer */
		bool more;		/* the kernel keeps filling the buffer */
	} steps[] = {
		{ "abcde", 0, true },
		{ "fghi", 5, true },
		{ "jklmnop", 9, false },	/* fills it: 16 bytes */
		{ "qr", 0, true },		/* recycled, starts over */
	};
	struct ringo_buf_group bg;
	struct ringo_cqe cqe;
	struct tcp_pair p;
	unsigned i, got;
	void *data;
	int ret;

	REQUIRE_BUF_RINGS();
	if (!test_kernel_at_least(6, 12))
		TEST_SKIP("incremental buffer consumption needs Linux 6.12");
	RING_UP(8);
	REQUIRE_TCP_OPS();
	ret = ringo_buf_group_init(&bg, &ring, 11, 16, 1, RINGO_PBUF_RING_INC);
	ck_assert_msg(ret == 0, "buf_group_init: %s", ringo_err_name(ret));
	if (!(bg.flags & RINGO_PBUF_RING_INC)) {
		ringo_buf_group_exit(&bg);
		TEST_SKIP("kernel refused RINGO_PBUF_RING_INC");
	}
	ck_assert_ptr_nonnull(bg.heads);
	tcp_pair_open(&p);

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		unsigned len = (unsigned)strlen(steps[i].text);
		uint64_t ud = next_user_data++;

		ring_send(p.client, steps[i].text, len, next_user_data++);
		cqe = group_recv(&bg, p.server, ud);
		ck_assert_uint_eq(cqe.user_data, ud);
		ck_assert_msg(cqe.res == (int)len, "res %d (%s)", cqe.res, ringo_err_name(cqe.res));
		ck_assert_msg(cqe.flags & RINGO_CQE_F_BUFFER, "flags %#x", cqe.flags);
		ck_assert_uint_eq(ringo_cqe_buffer_id(&cqe), 0);
		ck_assert_uint_eq(!!(cqe.flags & RINGO_CQE_F_BUF_MORE), steps[i].more);
		/* The data sits past what earlier CQEs of this buffer used. */
		ck_assert_int_eq(ringo_buf_group_cqe_data(&bg, &cqe, &data, &got), 0);
		ck_assert_ptr_eq(data, bg.base + steps[i].offset);
		ck_assert_uint_eq(got, len);
		ck_assert_mem_eq(data, steps[i].text, len);
		ck_assert_int_eq(ringo_buf_group_put(&bg, &cqe), 0);
		ck_assert_uint_eq(bg.heads[0], steps[i].more ? steps[i].offset + len : 0);
	}
	ck_assert_mem_eq(bg.base, "qrcdefghijklmnop", 16);
	ringo_buf_group_exit(&bg);
}
END_TEST

/* ---- raw buffer ring with a multishot read (6.7) -------------------------- */

#define RAW_BGID 21
#define RAW_COUNT 4
#define RAW_SIZE 8

/*
 * The low-level API on its own: a buffer ring from ringo_ring_setup_buf_ring,
 * filled with ringo_buf_ring_add/advance, feeding a multishot read of a pipe
 * until EOF.
 */
START_TEST(test_raw_buf_ring_read_multishot)
{
	static const char text[] = "hello, multishot";	/* 16 bytes: two buffers */
	unsigned char bufs[RAW_COUNT][RAW_SIZE];
	unsigned mask = ringo_buf_ring_mask(RAW_COUNT), i, got = 0, bid;
	char received[32];
	struct ringo_buf_ring *br;
	struct ringo_sqe *sqe;
	struct ringo_cqe cqe;
	int fds[2], err = -1, k;

	if (!test_kernel_at_least(6, 7))
		TEST_SKIP("multishot read needs Linux 6.7");
	RING_UP(8);
	TEST_REQUIRE_OP(&ring, RINGO_OP_READ_MULTISHOT);

	br = ringo_ring_setup_buf_ring(&ring, RAW_COUNT, RAW_BGID, 0, NULL, &err);
	ck_assert_msg(br != NULL, "setup_buf_ring: %s", ringo_err_name(err));
	ck_assert_int_eq(err, 0);
	for (i = 0; i < RAW_COUNT; i++)
		ringo_buf_ring_add(br, bufs[i], RAW_SIZE, (unsigned short)i, mask, i);
	ringo_buf_ring_advance(br, RAW_COUNT);
	ck_assert_uint_eq(br->tail, RAW_COUNT);

	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	track(fds[0]);
	track(fds[1]);
	sqe = get_sqe(0x3ead);
	ringo_prep_read_multishot(sqe, fds[0], 0, 0, RAW_BGID);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_READ_MULTISHOT);
	ck_assert_uint_eq(sqe->flags & RINGO_SQE_BUFFER_SELECT, RINGO_SQE_BUFFER_SELECT);
	ck_assert_uint_eq(sqe->buf_group, RAW_BGID);
	ck_assert_int_eq(ringo_ring_submit(&ring), 1);

	ck_assert_int_eq(write(fds[1], text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
	/* One CQE per buffer filled, the read still armed; bounded. */
	for (k = 0; k < 8 && got < sizeof(text) - 1; k++) {
		cqe = test_wait_one(&ring);
		ck_assert_uint_eq(cqe.user_data, 0x3ead);
		ck_assert_msg(cqe.res > 0 && cqe.res <= RAW_SIZE, "res %d (%s)", cqe.res,
			      ringo_err_name(cqe.res));
		ck_assert_msg(cqe.flags & RINGO_CQE_F_BUFFER, "flags %#x", cqe.flags);
		ck_assert_msg(cqe.flags & RINGO_CQE_F_MORE, "flags %#x", cqe.flags);
		bid = ringo_cqe_buffer_id(&cqe);
		ck_assert_uint_lt(bid, RAW_COUNT);
		memcpy(received + got, bufs[bid], (size_t)cqe.res);
		got += (unsigned)cqe.res;
		/* Hand it straight back. */
		ringo_buf_ring_add(br, bufs[bid], RAW_SIZE, (unsigned short)bid, mask, 0);
		ringo_buf_ring_advance(br, 1);
	}
	ck_assert_uint_eq(got, sizeof(text) - 1);
	ck_assert_mem_eq(received, text, got);

	/* EOF ends it: res 0 and no F_MORE. */
	close_tracked(fds[1]);
	cqe = test_wait_one(&ring);
	ck_assert_uint_eq(cqe.user_data, 0x3ead);
	ck_assert_int_eq(cqe.res, 0);
	ck_assert_uint_eq(cqe.flags & RINGO_CQE_F_MORE, 0);

	ck_assert_int_eq(ringo_ring_free_buf_ring(&ring, br, RAW_COUNT, RAW_BGID), 0);
	/* The bgid is free again: a new ring can take it. */
	br = ringo_ring_setup_buf_ring(&ring, RAW_COUNT, RAW_BGID, 0, NULL, &err);
	ck_assert_ptr_nonnull(br);
	ck_assert_int_eq(ringo_ring_free_buf_ring(&ring, br, RAW_COUNT, RAW_BGID), 0);
}
END_TEST

/* ---- slice bounds (ququmatz's buffer_slice tests) ---------------------- */

#define SLICE_ENTRIES 4U
#define SLICE_SIZE 8U

/* Heap memory shaped like a group: SLICE_ENTRIES slots of SLICE_SIZE. */
static unsigned char *slice_backing(void)
{
	unsigned char *mem = calloc(SLICE_ENTRIES, SLICE_SIZE);

	ck_assert_ptr_nonnull(mem);
	return mem;
}

/*
 * The first `len` bytes of slot `bid` of `src`: heap memory through
 * ringo_buf_slice, or a real group through ringo_buf_group_buffer. The
 * properties below hold for both, so each is written once for both.
 */
typedef int (*slot_fn)(void *src, unsigned bid, unsigned len, void **out);

static int slice_slot(void *mem, unsigned bid, unsigned len, void **out)
{
	return ringo_buf_slice(mem, SLICE_ENTRIES, SLICE_SIZE, bid, len, out);
}

static int group_slot(void *bg, unsigned bid, unsigned len, void **out)
{
	return ringo_buf_group_buffer(bg, bid, len, out);
}

/* Every slot is at base + bid * SLICE_SIZE and keeps what was written to it. */
static void check_round_trip(slot_fn slot_of, void *src, unsigned char *base)
{
	unsigned bid;
	void *slot;

	for (bid = 0; bid < SLICE_ENTRIES; bid++) {
		ck_assert_int_eq(slot_of(src, bid, SLICE_SIZE, &slot), 0);
		ck_assert_ptr_eq(slot, base + bid * SLICE_SIZE);
		memset(slot, (int)bid + 1, SLICE_SIZE);
	}
	for (bid = 0; bid < SLICE_ENTRIES; bid++) {
		ck_assert_int_eq(slot_of(src, bid, SLICE_SIZE, &slot), 0);
		ck_assert(all_bytes(slot, (int)bid + 1, SLICE_SIZE));
	}
}

/* A CQE that says only 3 bytes were filled gets those 3: a prefix. */
static void check_partial_len(slot_fn slot_of, void *src)
{
	void *slot, *prefix;

	ck_assert_int_eq(slot_of(src, 2, SLICE_SIZE, &slot), 0);
	memcpy(slot, "ABCDEFGH", SLICE_SIZE);
	ck_assert_int_eq(slot_of(src, 2, 3, &prefix), 0);
	ck_assert_ptr_eq(prefix, slot);
	ck_assert_mem_eq(prefix, "ABC", 3);
}

/* Neighbours are adjacent and do not overlap. */
static void check_adjacent_disjoint(slot_fn slot_of, void *src)
{
	void *a, *b;

	ck_assert_int_eq(slot_of(src, 0, SLICE_SIZE, &a), 0);
	ck_assert_int_eq(slot_of(src, 1, SLICE_SIZE, &b), 0);
	ck_assert_ptr_eq((unsigned char *)a + SLICE_SIZE, b);
	memset(a, 0xaa, SLICE_SIZE);
	memset(b, 0xbb, SLICE_SIZE);
	ck_assert(all_bytes(a, 0xaa, SLICE_SIZE));
	ck_assert(all_bytes(b, 0xbb, SLICE_SIZE));
}

START_TEST(test_slice_round_trip)
{
	unsigned char *mem = slice_backing();

	check_round_trip(slice_slot, mem, mem);
	free(mem);
}
END_TEST

START_TEST(test_slice_partial_len)
{
	unsigned char *mem = slice_backing();

	check_partial_len(slice_slot, mem);
	free(mem);
}
END_TEST

START_TEST(test_slice_zero_len)
{
	unsigned char *mem = slice_backing();
	void *slot = NULL;

	/* Empty, not an error. */
	ck_assert_int_eq(ringo_buf_slice(mem, SLICE_ENTRIES, SLICE_SIZE, 0, 0, &slot), 0);
	ck_assert_ptr_eq(slot, mem);
	ck_assert_int_eq(ringo_buf_slice(mem, SLICE_ENTRIES, SLICE_SIZE, 3, 0, &slot), 0);
	ck_assert_ptr_eq(slot, mem + 3 * SLICE_SIZE);
	free(mem);
}
END_TEST

START_TEST(test_slice_bad_id)
{
	unsigned char *mem = slice_backing();
	void *slot = NULL;

	ck_assert_int_eq(ringo_buf_slice(mem, SLICE_ENTRIES, SLICE_SIZE, SLICE_ENTRIES, 1, &slot),
			 -EINVAL);
	ck_assert_int_eq(ringo_buf_slice(mem, SLICE_ENTRIES, SLICE_SIZE, UINT_MAX, 1, &slot),
			 -EINVAL);
	free(mem);
}
END_TEST

START_TEST(test_slice_len_too_big)
{
	unsigned char *mem = slice_backing();
	void *slot = NULL;

	ck_assert_int_eq(ringo_buf_slice(mem, SLICE_ENTRIES, SLICE_SIZE, 0, SLICE_SIZE + 1, &slot),
			 -EINVAL);
	ck_assert_int_eq(ringo_buf_slice(mem, SLICE_ENTRIES, SLICE_SIZE, 3, UINT_MAX, &slot),
			 -EINVAL);
	free(mem);
}
END_TEST

START_TEST(test_slice_adjacent_disjoint)
{
	unsigned char *mem = slice_backing();

	check_adjacent_disjoint(slice_slot, mem);
	free(mem);
}
END_TEST

/* The same six properties on a real group's buffers. */
START_TEST(test_group_buffer_bounds)
{
	struct ringo_buf_group bg;
	void *a;

	REQUIRE_BUF_RINGS();
	RING_UP(4);
	group_init(&bg, 5, SLICE_SIZE, SLICE_ENTRIES);

	check_round_trip(group_slot, &bg, bg.base);
	check_partial_len(group_slot, &bg);

	/* Zero length is empty, not an error. */
	ck_assert_int_eq(ringo_buf_group_buffer(&bg, 0, 0, &a), 0);
	ck_assert_ptr_eq(a, bg.base);

	/* Out of range. */
	ck_assert_int_eq(ringo_buf_group_buffer(&bg, SLICE_ENTRIES, 1, &a), -EINVAL);
	ck_assert_int_eq(ringo_buf_group_buffer(&bg, UINT_MAX, 1, &a), -EINVAL);
	ck_assert_int_eq(ringo_buf_group_buffer(&bg, 0, SLICE_SIZE + 1, &a), -EINVAL);

	check_adjacent_disjoint(group_slot, &bg);

	ringo_buf_group_exit(&bg);
}
END_TEST

/* ---- bad arguments ----------------------------------------------------- */

START_TEST(test_setup_buf_ring_bad_entries)
{
	static const unsigned bad[] = { 0, 3, 65536 };
	struct ringo_buf_ring *br;
	unsigned i, flags_out;
	int err;

	REQUIRE_BUF_RINGS();
	RING_UP(4);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = 0;
		br = ringo_ring_setup_buf_ring(&ring, bad[i], 9, 0, &flags_out, &err);
		ck_assert_msg(br == NULL, "entries %u accepted", bad[i]);
		ck_assert_msg(err == -EINVAL, "entries %u: %s", bad[i], ringo_err_name(err));
	}

	/* The limits themselves are fine. */
	err = 0;
	br = ringo_ring_setup_buf_ring(&ring, 1, 9, 0, &flags_out, &err);
	ck_assert_msg(br != NULL, "entries 1: %s", ringo_err_name(err));
	ck_assert_uint_eq(flags_out, 0);
	ck_assert_int_eq(ringo_ring_free_buf_ring(&ring, br, 1, 9), 0);
	br = ringo_ring_setup_buf_ring(&ring, RINGO_RING_MAX_ENTRIES, 9, 0, NULL, &err);
	ck_assert_msg(br != NULL, "entries %u: %s", RINGO_RING_MAX_ENTRIES, ringo_err_name(err));
	ck_assert_int_eq(ringo_ring_free_buf_ring(&ring, br, RINGO_RING_MAX_ENTRIES, 9), 0);
}
END_TEST

START_TEST(test_buf_group_init_bad_args)
{
	struct ringo_buf_group bg;

	REQUIRE_BUF_RINGS();
	RING_UP(4);

	memset(&bg, 0, sizeof(bg));
	ck_assert_int_eq(ringo_buf_group_init(&bg, &ring, 2, 16, 3, 0), -EINVAL);
	ringo_buf_group_exit(&bg);	/* safe after a failed init */
	ck_assert_int_eq(ringo_buf_group_init(&bg, &ring, 2, 16, 0, 0), -EINVAL);
	ringo_buf_group_exit(&bg);
	ck_assert_int_eq(ringo_buf_group_init(&bg, &ring, 2, 0, 4, 0), -EINVAL);
	ringo_buf_group_exit(&bg);

	/* None of them registered bgid 2: it is still free. */
	group_init(&bg, 2, 16, 4);
	ringo_buf_group_exit(&bg);
}
END_TEST

START_TEST(test_buf_group_bad_cqes)
{
	struct ringo_buf_group bg;
	struct ringo_cqe cqe;
	void *data, *slot;
	unsigned len;

	REQUIRE_BUF_RINGS();
	RING_UP(4);
	group_init(&bg, 3, 8, 4);

	/* No buffer flag. */
	cqe = (struct ringo_cqe){ .user_data = 1, .res = 4 };
	cqe.flags = 1U << RINGO_CQE_BUFFER_SHIFT;
	ck_assert_int_eq(ringo_buf_group_cqe_data(&bg, &cqe, &data, &len), -EINVAL);
	ck_assert_int_eq(ringo_buf_group_put(&bg, &cqe), -EINVAL);

	/* Buffer id == count. */
	cqe.flags = RINGO_CQE_F_BUFFER | (4U << RINGO_CQE_BUFFER_SHIFT);
	ck_assert_int_eq(ringo_buf_group_cqe_data(&bg, &cqe, &data, &len), -EINVAL);
	ck_assert_int_eq(ringo_buf_group_put(&bg, &cqe), -EINVAL);

	/* Buffer id far out. */
	cqe.flags = RINGO_CQE_F_BUFFER | (0xffffU << RINGO_CQE_BUFFER_SHIFT);
	ck_assert_int_eq(ringo_buf_group_cqe_data(&bg, &cqe, &data, &len), -EINVAL);

	/* More bytes than a buffer holds. */
	cqe.flags = RINGO_CQE_F_BUFFER | (1U << RINGO_CQE_BUFFER_SHIFT);
	cqe.res = 9;
	ck_assert_int_eq(ringo_buf_group_cqe_data(&bg, &cqe, &data, &len), -EINVAL);
	ck_assert_int_eq(ringo_buf_group_put(&bg, &cqe), -EINVAL);

	/* A failed op. */
	cqe.res = -ENOBUFS;
	ck_assert_int_eq(ringo_buf_group_cqe_data(&bg, &cqe, &data, &len), -EINVAL);

	/* The same CQE with sane values is accepted and names buffer 3. */
	cqe.flags = RINGO_CQE_F_BUFFER | (3U << RINGO_CQE_BUFFER_SHIFT);
	cqe.res = 8;
	ck_assert_int_eq(ringo_buf_group_cqe_data(&bg, &cqe, &data, &len), 0);
	ck_assert_uint_eq(len, 8);
	ck_assert_int_eq(ringo_buf_group_buffer(&bg, 3, 8, &slot), 0);
	ck_assert_ptr_eq(data, slot);

	ck_assert_int_eq(ringo_buf_group_recycle(&bg, 4), -EINVAL);
	ck_assert_int_eq(ringo_buf_group_recycle(&bg, UINT_MAX), -EINVAL);

	ringo_buf_group_exit(&bg);
}
END_TEST

START_TEST(test_buf_group_exit_twice)
{
	struct ringo_buf_group zeroed, bg;

	REQUIRE_BUF_RINGS();
	RING_UP(4);

	memset(&zeroed, 0, sizeof(zeroed));
	ringo_buf_group_exit(&zeroed);
	ringo_buf_group_exit(&zeroed);

	group_init(&bg, 4, 16, 2);
	ringo_buf_group_exit(&bg);
	ringo_buf_group_exit(&bg);

	/* The first exit unregistered bgid 4: it can be taken again. */
	group_init(&bg, 4, 16, 2);
	ringo_buf_group_exit(&bg);
}
END_TEST

START_TEST(test_buf_group_same_bgid)
{
	struct ringo_buf_group first, second;
	struct ringo_buf_ring *br;
	int err = 0;

	REQUIRE_BUF_RINGS();
	RING_UP(4);

	group_init(&first, 7, 16, 2);

	memset(&second, 0, sizeof(second));
	ck_assert_int_eq(ringo_buf_group_init(&second, &ring, 7, 16, 2, 0), -EEXIST);
	ringo_buf_group_exit(&second);

	br = ringo_ring_setup_buf_ring(&ring, 2, 7, 0, NULL, &err);
	ck_assert_ptr_null(br);
	ck_assert_int_eq(err, -EEXIST);

	/* The first group still works after the failed attempts. */
	{
		void *slot;

		ck_assert_int_eq(ringo_buf_group_buffer(&first, 1, 16, &slot), 0);
		memset(slot, 0x11, 16);
	}
	ringo_buf_group_exit(&first);

	/* Free again: the second one now gets bgid 7. */
	group_init(&second, 7, 16, 2);
	ringo_buf_group_exit(&second);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("bufring");
	TCase *tc;

	tc = test_tcase(s, "legacy", setup, teardown, 30);
	tcase_add_test(tc, test_provide_buffers_read);
	tcase_add_test(tc, test_remove_buffers);
	tcase_add_test(tc, test_provide_buffers_recv);

	tc = test_tcase(s, "ring_mapped", setup, teardown, 30);
	tcase_add_test(tc, test_buf_group_recv);
	tcase_add_test(tc, test_buf_group_multishot_recv);
	tcase_add_test(tc, test_buf_group_incremental);
	tcase_add_test(tc, test_raw_buf_ring_read_multishot);

	tc = test_tcase(s, "slice_bounds", setup, teardown, 30);
	tcase_add_test(tc, test_slice_round_trip);
	tcase_add_test(tc, test_slice_partial_len);
	tcase_add_test(tc, test_slice_zero_len);
	tcase_add_test(tc, test_slice_bad_id);
	tcase_add_test(tc, test_slice_len_too_big);
	tcase_add_test(tc, test_slice_adjacent_disjoint);
	tcase_add_test(tc, test_group_buffer_bounds);

	tc = test_tcase(s, "bad_args", setup, teardown, 30);
	tcase_add_test(tc, test_setup_buf_ring_bad_entries);
	tcase_add_test(tc, test_buf_group_init_bad_args);
	tcase_add_test(tc, test_buf_group_bad_cqes);
	tcase_add_test(tc, test_buf_group_exit_twice);
	tcase_add_test(tc, test_buf_group_same_bgid);

	return s;
}

int main(void)
{
	return test_main(suite());
}
