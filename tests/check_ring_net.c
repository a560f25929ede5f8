/* SPDX-License-Identifier: MIT */
/*
 * Socket operations through the raw ring layer, ported from the Zig standard
 * library's io_uring tests: accept/connect/send/recv over loopback TCP,
 * sendmsg/recvmsg over UDP (and multishot recvmsg into provided buffers, read
 * with the ringo_recvmsg_* helpers), recv bounded by a linked timeout or cancelled,
 * shutdown, multishot accept, zero-copy send (result CQE with F_MORE, then the
 * F_NOTIF notification), accept and socket into direct descriptors, and
 * socket/setsockopt/bind/listen/getsockopt done entirely by the ring. On top
 * of those: a refused connect, and one-shot, removed and multishot polls on a
 * socket. Each test checks res, user_data and flags of every CQE it expects.
 * Servers listen on 127.0.0.1 with kernel-chosen ports; every test gets a
 * fresh ring and the teardown closes what a test left open.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_TRACKED 32	/* fds one test may track */

#include "fixture_ring.h"

/* 1 if a CQE is ready within `ms` milliseconds (left in the ring), else 0. */
static int cqe_within_ms(long ms)
{
	struct ringo_timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	struct ringo_cqe *cqe;
	int ret;

	do
		ret = ringo_ring_wait_cqe_timeout(&ring, &cqe, &ts);
	while (ret == -EINTR);
	if (ret == -ETIME)
		return 0;
	ck_assert_msg(ret == 0, "wait_cqe_timeout: %s", ringo_err_name(ret));
	return 1;
}

/* Flags of a recv CQE, with the kernel's optional SOCK_NONEMPTY hint cleared. */
static unsigned recv_flags(const struct ringo_cqe *cqe)
{
	return cqe->flags & ~RINGO_CQE_F_SOCK_NONEMPTY;
}

static void connect_blocking(int fd, const struct sockaddr_in *addr)
{
	ck_assert_msg(connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0,
		      "connect: %s", strerror(errno));
}

/* Link a recv of `len` bytes from `fd` (user_data 0xffffffff) behind `send`; submit both. */
static void submit_send_then_recv(struct ringo_sqe *send, int fd, void *buf, size_t len)
{
	ringo_sqe_set_flags(send, RINGO_SQE_IO_LINK);
	ringo_prep_recv(get_sqe(0xffffffff), fd, buf, len, 0);
	ck_assert_int_eq(ringo_ring_submit(&ring), 2);
}

/* A recv CQE of `user_data` that filled all `len` bytes of `got` with `want`. */
static void expect_received(const struct ringo_cqe *cqe, uint64_t user_data, const void *got,
			    const void *want, size_t len)
{
	ck_assert_uint_eq(cqe->user_data, user_data);
	ck_assert_int_eq(cqe->res, (int)len);
	ck_assert_uint_eq(recv_flags(cqe), 0);
	ck_assert_mem_eq(got, want, len);
}

/* ---- TCP: accept/connect/send/recv and friends ------------------------- */

START_TEST(test_accept_connect_send_recv)
{
	static const unsigned char send_buf[10] = { 1, 0, 1, 0, 1, 0, 1, 0, 1, 0 };
	unsigned char recv_buf[5] = { 0, 1, 0, 1, 0 };
	struct ringo_sqe *sqe;
	struct ringo_cqe cqe;
	struct tcp_pair p;

	RING_UP(16);
	REQUIRE_TCP_OPS();
	tcp_pair_open(&p);

	sqe = get_sqe(0xeeeeeeee);
	ringo_prep_send(sqe, p.client, send_buf, sizeof(send_buf), 0);
	submit_send_then_recv(sqe, p.server, recv_buf, sizeof(recv_buf));

	/* Linked: the send completes before the recv starts. */
	test_wait_expect(&ring, 0xeeeeeeee, (int)sizeof(send_buf));

	cqe = test_wait_one(&ring);
	expect_received(&cqe, 0xffffffff, recv_buf, send_buf, sizeof(recv_buf));
}
END_TEST

/* `msg` over the one buffer `buf` (through `iov`), with the address at `name`. */
static void one_buf_msg(struct msghdr *msg, struct iovec *iov, void *name, socklen_t namelen,
			void *buf, size_t len)
{
	*iov = (struct iovec){ .iov_base = buf, .iov_len = len };
	memset(msg, 0, sizeof(*msg));
	msg->msg_name = name;
	msg->msg_namelen = namelen;
	msg->msg_iov = iov;
	msg->msg_iovlen = 1;
}

START_TEST(test_sendmsg_recvmsg)
{
	unsigned char send_buf[128], recv_buf[128];
	struct sockaddr_in server_addr, client_addr, from;
	socklen_t len = sizeof(server_addr);
	struct iovec send_iov, recv_iov;
	struct msghdr send_msg, recv_msg;
	struct ringo_sqe *sqe;
	struct ringo_cqe cqe;
	int one = 1, server, client;

	RING_UP(2);
	TEST_REQUIRE_OP(&ring, RINGO_OP_SENDMSG);
	TEST_REQUIRE_OP(&ring, RINGO_OP_RECVMSG);

	memset(&server_addr, 0, sizeof(server_addr));
	server_addr.sin_family = AF_INET;
	server_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	server = track(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	ck_assert_int_eq(setsockopt(server, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)), 0);
	ck_assert_int_eq(setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	ck_assert_int_eq(bind(server, (struct sockaddr *)&server_addr, sizeof(server_addr)), 0);
	ck_assert_int_eq(getsockname(server, (struct sockaddr *)&server_addr, &len), 0);

	/* Bind the client too, so the sender address recvmsg reports is known. */
	client_addr = server_addr;
	client_addr.sin_port = 0;
	client = track(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	ck_assert_int_eq(bind(client, (struct sockaddr *)&client_addr, sizeof(client_addr)), 0);
	len = sizeof(client_addr);
	ck_assert_int_eq(getsockname(client, (struct sockaddr *)&client_addr, &len), 0);

	memset(send_buf, 42, sizeof(send_buf));
	one_buf_msg(&send_msg, &send_iov, &server_addr, sizeof(server_addr), send_buf,
		    sizeof(send_buf));

	memset(recv_buf, 0, sizeof(recv_buf));
	memset(&from, 0, sizeof(from));
	one_buf_msg(&recv_msg, &recv_iov, &from, sizeof(from), recv_buf, sizeof(recv_buf));

	sqe = get_sqe(0x11111111);
	ringo_prep_sendmsg(sqe, client, &send_msg, 0);
	ringo_sqe_set_flags(sqe, RINGO_SQE_IO_LINK);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_SENDMSG);
	ck_assert_int_eq(sqe->fd, client);

	sqe = get_sqe(0x22222222);
	ringo_prep_recvmsg(sqe, server, &recv_msg, 0);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_RECVMSG);
	ck_assert_int_eq(sqe->fd, server);

	ck_assert_uint_eq(ringo_ring_sq_ready(&ring), 2);
	ck_assert_int_eq(ringo_ring_submit_and_wait(&ring, 2), 2);
	ck_assert_uint_eq(ringo_ring_sq_ready(&ring), 0);
	ck_assert_uint_eq(ringo_ring_cq_ready(&ring), 2);

	test_wait_expect(&ring, 0x11111111, (int)sizeof(send_buf));

	cqe = test_wait_one(&ring);
	expect_received(&cqe, 0x22222222, recv_buf, send_buf, sizeof(recv_buf));

	ck_assert_uint_eq(recv_msg.msg_namelen, sizeof(from));
	ck_assert_int_eq(from.sin_family, AF_INET);
	ck_assert_uint_eq(from.sin_port, client_addr.sin_port);
	ck_assert_uint_eq(ringo_ring_cq_ready(&ring), 0);
}
END_TEST

/* A UDP socket on 127.0.0.1 with a kernel-chosen port, written to *addr. */
static int udp_loopback(struct sockaddr_in *addr)
{
	socklen_t len = sizeof(*addr);
	int fd = track(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));

	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)addr, sizeof(*addr)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)addr, &len), 0);
	return fd;
}

/* The next CQE: a datagram of the multishot recvmsg, its buffer in *buf. */
static struct ringo_cqe recvmsg_cqe(struct ringo_buf_group *bg, void **buf, bool more)
{
	struct ringo_cqe cqe = test_wait_one(&ring);
	unsigned len;

	ck_assert_uint_eq(cqe.user_data, 0x33333333);
	ck_assert_msg(cqe.res > 0, "recvmsg multishot: %s", ringo_err_name(cqe.res));
	ck_assert(cqe.flags & RINGO_CQE_F_BUFFER);
	ck_assert_int_eq(!!(cqe.flags & RINGO_CQE_F_MORE), more);
	ck_assert_int_eq(ringo_buf_group_cqe_data(bg, &cqe, buf, &len), 0);
	ck_assert_uint_eq(len, (unsigned)cqe.res);
	return cqe;
}

/*
 * Multishot recvmsg (6.0) into a group of 128-byte buffers, read back with
 * the ringo_recvmsg_* helpers: a short datagram whole, one longer than the
 * room left after header and address cut with MSG_TRUNC, and an empty one,
 * which ends the op. Results too short for header and address are refused.
 */
START_TEST(test_recvmsg_multishot)
{
	static const char small[10] = "0123456789";
	unsigned char big[200];
	struct sockaddr_in server_addr, client_addr;
	struct msghdr msg = { .msg_namelen = sizeof(struct sockaddr_in) };
	struct ringo_buf_group bg;
	struct ringo_recvmsg_out *o;
	struct sockaddr_in *name;
	struct ringo_cqe cqe;
	int server, client, ret;
	void *buf;

	RING_UP(4);
	TEST_REQUIRE_OP(&ring, RINGO_OP_RECVMSG);
	if (!test_kernel_at_least(6, 0))
		TEST_SKIP("multishot recvmsg needs 6.0");
	ret = ringo_buf_group_init(&bg, &ring, 7, 128, 4, 0);
	if (ret == -EINVAL || ret == -ENOSYS)
		TEST_SKIP("no provided-buffer rings: %s", ringo_err_name(ret));
	ck_assert_int_eq(ret, 0);
	server = udp_loopback(&server_addr);
	client = udp_loopback(&client_addr);

	ringo_prep_recvmsg_multishot(get_sqe(0x33333333), server, &msg, 0, 7);
	ck_assert_int_eq(ringo_ring_submit(&ring), 1);
	memset(big, 0xb5, sizeof(big));
	ck_assert_int_eq(sendto(client, small, sizeof(small), 0, (struct sockaddr *)&server_addr,
				sizeof(server_addr)), (ssize_t)sizeof(small));
	ck_assert_int_eq(sendto(client, big, sizeof(big), 0, (struct sockaddr *)&server_addr,
				sizeof(server_addr)), (ssize_t)sizeof(big));
	ck_assert_int_eq(sendto(client, big, 0, 0, (struct sockaddr *)&server_addr,
				sizeof(server_addr)), 0);

	/* Whole: header, 16-byte address, 10 bytes. */
	cqe = recvmsg_cqe(&bg, &buf, true);
	ck_assert_int_eq(cqe.res, 16 + 16 + 10);
	o = ringo_recvmsg_validate(buf, cqe.res, &msg);
	ck_assert_ptr_eq(o, buf);
	ck_assert_uint_eq(o->namelen, sizeof(struct sockaddr_in));
	ck_assert_uint_eq(ringo_recvmsg_name_length(o, &msg), sizeof(struct sockaddr_in));
	name = (struct sockaddr_in *)ringo_recvmsg_name(o, &msg);
	ck_assert_ptr_nonnull(name);
	ck_assert_int_eq(name->sin_family, AF_INET);
	ck_assert_uint_eq(name->sin_port, client_addr.sin_port);
	ck_assert_uint_eq(name->sin_addr.s_addr, client_addr.sin_addr.s_addr);
	ck_assert_ptr_null(ringo_recvmsg_control(o, &msg));
	ck_assert_uint_eq(ringo_recvmsg_payload_length(o, cqe.res, &msg), sizeof(small));
	ck_assert_mem_eq(ringo_recvmsg_payload(o, &msg), small, sizeof(small));
	ck_assert_uint_eq(o->flags & MSG_TRUNC, 0);
	/* Too short for header and address: refused, never read. */
	ck_assert_ptr_null(ringo_recvmsg_validate(buf, 31, &msg));
	ck_assert_ptr_null(ringo_recvmsg_validate(buf, -EINVAL, &msg));
	ck_assert_ptr_null(ringo_recvmsg_validate(NULL, cqe.res, &msg));
	ck_assert_int_eq(ringo_buf_group_put(&bg, &cqe), 0);

	/* 200 bytes into 128 - 32 of room: cut to 96, flagged. */
	cqe = recvmsg_cqe(&bg, &buf, true);
	ck_assert_int_eq(cqe.res, 128);
	o = ringo_recvmsg_validate(buf, cqe.res, &msg);
	ck_assert_ptr_nonnull(o);
	ck_assert_uint_eq(o->flags & MSG_TRUNC, MSG_TRUNC);
	ck_assert_uint_eq(ringo_recvmsg_payload_length(o, cqe.res, &msg), 96);
	ck_assert_mem_eq(ringo_recvmsg_payload(o, &msg), big, 96);
	ck_assert_int_eq(ringo_buf_group_put(&bg, &cqe), 0);

	/* Empty: delivered, and the multishot op is over (no F_MORE). */
	cqe = recvmsg_cqe(&bg, &buf, false);
	ck_assert_int_eq(cqe.res, 16 + 16);
	o = ringo_recvmsg_validate(buf, cqe.res, &msg);
	ck_assert_ptr_nonnull(o);
	ck_assert_uint_eq(ringo_recvmsg_payload_length(o, cqe.res, &msg), 0);
	name = (struct sockaddr_in *)ringo_recvmsg_name(o, &msg);
	ck_assert_ptr_nonnull(name);
	ck_assert_uint_eq(name->sin_port, client_addr.sin_port);
	ck_assert_int_eq(ringo_buf_group_put(&bg, &cqe), 0);
	ck_assert_uint_eq(ringo_ring_cq_ready(&ring), 0);

	/* No room reserved for the name: none reported. */
	msg.msg_namelen = 0;
	ck_assert_ptr_null(ringo_recvmsg_name(o, &msg));
	ringo_buf_group_exit(&bg);
}
END_TEST

START_TEST(test_recv_link_timeout)
{
	struct ringo_timespec ts = { .tv_sec = 0, .tv_nsec = 1000000 };
	unsigned char recv_buf[5] = { 0, 1, 0, 1, 0 };
	bool seen_recv = false, seen_timeout = false;
	struct ringo_sqe *sqe;
	struct tcp_pair p;
	int i;

	RING_UP(16);
	REQUIRE_TCP_OPS();
	TEST_REQUIRE_OP(&ring, RINGO_OP_LINK_TIMEOUT);
	tcp_pair_open(&p);

	/* Nothing is ever sent, so the recv can only end by the timeout. */
	sqe = get_sqe(0xffffffff);
	ringo_prep_recv(sqe, p.server, recv_buf, sizeof(recv_buf), 0);
	ringo_sqe_set_flags(sqe, RINGO_SQE_IO_LINK);
	ringo_prep_link_timeout(get_sqe(0x22222222), &ts, 0);
	ck_assert_int_eq(ringo_ring_submit(&ring), 2);

	for (i = 0; i < 2; i++) {
		struct ringo_cqe cqe = test_wait_one(&ring);

		if (cqe.user_data == 0xffffffff) {
			ck_assert(!seen_recv);
			seen_recv = true;
			ck_assert_msg(cqe.res == -EINTR || cqe.res == -ECANCELED,
				      "recv res %d (%s)", cqe.res, ringo_err_name(cqe.res));
		} else if (cqe.user_data == 0x22222222) {
			ck_assert(!seen_timeout);
			seen_timeout = true;
			ck_assert_msg(cqe.res == -EALREADY || cqe.res == -ETIME,
				      "link_timeout res %d (%s)", cqe.res, ringo_err_name(cqe.res));
		} else {
			ck_abort_msg("unexpected user_data %#llx",
				     (unsigned long long)cqe.user_data);
		}
	}
	ck_assert(seen_recv && seen_timeout);
}
END_TEST

START_TEST(test_recv_cancel)
{
	unsigned char recv_buf[5] = { 0, 1, 0, 1, 0 };
	struct ringo_cqe recv_cqe, cancel_cqe;
	struct ringo_sqe *sqe;
	struct tcp_pair p;

	RING_UP(16);
	REQUIRE_TCP_OPS();
	TEST_REQUIRE_OP(&ring, RINGO_OP_ASYNC_CANCEL);
	tcp_pair_open(&p);

	ringo_prep_recv(get_sqe(0xffffffff), p.server, recv_buf, sizeof(recv_buf), 0);
	ck_assert_int_eq(ringo_ring_submit(&ring), 1);

	sqe = get_sqe(0x99999999);
	ringo_prep_cancel64(sqe, 0xffffffff, 0);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_ASYNC_CANCEL);
	ck_assert_uint_eq(sqe->addr, 0xffffffff);
	ck_assert_uint_eq(sqe->user_data, 0x99999999);
	ck_assert_int_eq(ringo_ring_submit(&ring), 1);

	/* The two CQEs come in either order. */
	wait_two(0xffffffff, &recv_cqe, &cancel_cqe);

	test_assert_cqe(&recv_cqe, 0xffffffff, -ECANCELED, 0);

	test_assert_cqe(&cancel_cqe, 0x99999999, 0, 0);
}
END_TEST

/* shutdown(SHUT_RD) of `fd` through the ring; its CQE, user_data checked. */
static struct ringo_cqe shutdown_rd(int fd)
{
	struct ringo_sqe *sqe = get_sqe(0x445445445ULL);
	struct ringo_cqe cqe;

	ringo_prep_shutdown(sqe, fd, SHUT_RD);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_SHUTDOWN);
	ck_assert_int_eq(sqe->fd, fd);
	ck_assert_int_eq(ringo_ring_submit(&ring), 1);
	cqe = test_wait_one(&ring);
	ck_assert_uint_eq(cqe.user_data, 0x445445445ULL);
	return cqe;
}

START_TEST(test_shutdown)
{
	struct sockaddr_in addr;
	struct ringo_cqe cqe;
	int fd;

	RING_UP(16);
	TEST_REQUIRE_OP(&ring, RINGO_OP_SHUTDOWN);

	/* A bound, listening socket: shutdown works. */
	fd = track(test_tcp_listener(&addr));
	cqe = shutdown_rd(fd);
	test_assert_cqe(&cqe, 0x445445445ULL, 0, 0);
	close_tracked(fd);

	/* A socket that was never bound or connected: -ENOTCONN. */
	cqe = shutdown_rd(tcp_socket());
	ck_assert_int_eq(cqe.res, -ENOTCONN);
}
END_TEST

START_TEST(test_connect_refused)
{
	struct sockaddr_in addr;
	struct ringo_cqe cqe;
	int listener, fd;

	RING_UP(4);
	TEST_REQUIRE_OP(&ring, RINGO_OP_CONNECT);

	/* Learn a free port by listening on it, then stop listening. */
	listener = track(test_tcp_listener(&addr));
	close_tracked(listener);

	fd = tcp_socket();
	ringo_prep_connect(get_sqe(0xc0ffee), fd, (struct sockaddr *)&addr, sizeof(addr));
	cqe = test_submit_wait_one(&ring);
	ck_assert_uint_eq(cqe.user_data, 0xc0ffee);
	ck_assert_msg(cqe.res == -ECONNREFUSED, "connect res %d (%s)", cqe.res,
		      ringo_err_name(cqe.res));
	ck_assert_uint_eq(cqe.flags, 0);
}
END_TEST

START_TEST(test_send_zc_recv)
{
	static const unsigned char send_buf[15] = { 0, 1, 2, 3, 4, 5, 6, 7,
						    8, 9, 0xa, 0xb, 0xc, 0xd, 0xe };
	unsigned char recv_buf[10] = { 0 };
	bool seen_recv = false, seen_notif = false;
	struct ringo_sqe *sqe;
	struct ringo_cqe cqe;
	struct tcp_pair p;
	int i;

	if (!test_kernel_at_least(6, 0))
		TEST_SKIP("send_zc needs Linux 6.0");
	RING_UP(16);
	REQUIRE_TCP_OPS();
	TEST_REQUIRE_OP(&ring, RINGO_OP_SEND_ZC);
	tcp_pair_open(&p);

	sqe = get_sqe(0xeeeeeeee);
	ringo_prep_send_zc(sqe, p.client, send_buf, sizeof(send_buf), 0, 0);
	submit_send_then_recv(sqe, p.server, recv_buf, sizeof(recv_buf));

	/*
	 * First the send's result, with F_MORE: a notification with the same
	 * user_data follows, and send_buf must stay untouched until it comes.
	 */
	cqe = test_wait_one(&ring);
	test_assert_cqe(&cqe, 0xeeeeeeee, (int)sizeof(send_buf), RINGO_CQE_F_MORE);

	/* Then the recv and the notification, in either order. */
	for (i = 0; i < 2; i++) {
		cqe = test_wait_one(&ring);
		if (cqe.user_data == 0xffffffff) {
			ck_assert(!seen_recv);
			seen_recv = true;
			expect_received(&cqe, 0xffffffff, recv_buf, send_buf, sizeof(recv_buf));
		} else {
			ck_assert_uint_eq(cqe.user_data, 0xeeeeeeee);
			ck_assert(!seen_notif);
			seen_notif = true;
			ck_assert_int_eq(cqe.res, 0);
			ck_assert_uint_eq(cqe.flags, RINGO_CQE_F_NOTIF);
		}
	}
	ck_assert(seen_recv && seen_notif);
}
END_TEST

/* ---- accepting clients ----------------------------------------------- */

/*
 * A new client connected to `addr` (blocking), and the CQE that the accept
 * armed on its listener posts for it, checked to be UD_ACCEPT's. *client is
 * tracked; the caller closes it.
 */
static struct ringo_cqe client_accepted(const struct sockaddr_in *addr, int *client)
{
	struct ringo_cqe cqe;

	*client = tcp_socket();
	connect_blocking(*client, addr);
	cqe = test_wait_one(&ring);
	ck_assert_uint_eq(cqe.user_data, UD_ACCEPT);
	return cqe;
}

/* A direct-descriptor accept took one of two slots, not yet used this round. */
static void take_slot(const struct ringo_cqe *cqe, bool used[2])
{
	ck_assert_msg(cqe->res >= 0 && cqe->res < 2, "accept res %d (%s)", cqe->res,
		      ringo_err_name(cqe->res));
	ck_assert(!used[cqe->res]);
	used[cqe->res] = true;
}

/* One accept into a kernel-picked direct descriptor, submitted. */
static void arm_accept_direct(int listener)
{
	ringo_prep_accept_direct(get_sqe(UD_ACCEPT), listener, NULL, NULL, 0,
				 RINGO_FILE_INDEX_ALLOC);
	ck_assert_int_eq(ringo_ring_submit(&ring), 1);
}

/* ---- multishot accept ------------------------------------------------- */

START_TEST(test_accept_multishot)
{
	struct sockaddr_in addr, peer;
	socklen_t peer_len = sizeof(peer);
	struct ringo_cqe cqe, cancel_cqe;
	int listener, i;

	if (!test_kernel_at_least(5, 19))
		TEST_SKIP("multishot accept needs Linux 5.19");
	RING_UP(16);
	TEST_REQUIRE_OP(&ring, RINGO_OP_ACCEPT);
	TEST_REQUIRE_OP(&ring, RINGO_OP_ASYNC_CANCEL);

	listener = track(test_tcp_listener(&addr));
	ringo_prep_multishot_accept(get_sqe(UD_ACCEPT), listener, (struct sockaddr *)&peer,
				    &peer_len, 0);
	ck_assert_int_eq(ringo_ring_submit(&ring), 1);

	/* One CQE per client, each with F_MORE: the accept stays armed. */
	for (i = 0; i < 4; i++) {
		int client;

		cqe = client_accepted(&addr, &client);
		ck_assert_msg(cqe.res > 0, "accept res %d (%s)", cqe.res, ringo_err_name(cqe.res));
		ck_assert_msg(cqe.flags & RINGO_CQE_F_MORE, "flags %#x", cqe.flags);
		ck_assert_int_eq(close(cqe.res), 0);
		close_tracked(client);
	}
	ck_assert_int_eq(cqe_within_ms(20), 0);

	/* Cancelling ends it: a last CQE without F_MORE. */
	ringo_prep_cancel64(get_sqe(0x99999999), UD_ACCEPT, 0);
	ck_assert_int_eq(ringo_ring_submit(&ring), 1);
	wait_two(UD_ACCEPT, &cqe, &cancel_cqe);
	ck_assert_uint_eq(cqe.user_data, UD_ACCEPT);
	ck_assert_int_eq(cqe.res, -ECANCELED);
	ck_assert_uint_eq(cqe.flags & RINGO_CQE_F_MORE, 0);
	ck_assert_uint_eq(cancel_cqe.user_data, 0x99999999);
	ck_assert_int_eq(cancel_cqe.res, 0);
}
END_TEST

/* ---- direct descriptors ----------------------------------------------- */

START_TEST(test_accept_direct)
{
	static const unsigned char data[15] = { 0, 1, 2, 3, 4, 5, 6, 7,
						8, 9, 0xa, 0xb, 0xc, 0xd, 0xe };
	const int empty[2] = { -1, -1 };
	struct sockaddr_in addr;
	struct ringo_sqe *sqe;
	struct ringo_cqe cqe;
	int listener, round, i;

	if (!test_kernel_at_least(5, 19))
		TEST_SKIP("accept into a kernel-picked direct descriptor needs Linux 5.19");
	RING_UP(4);
	TEST_REQUIRE_OP(&ring, RINGO_OP_ACCEPT);
	TEST_REQUIRE_OP(&ring, RINGO_OP_RECV);

	ck_assert_int_eq(ringo_ring_register_files(&ring, empty, 2), 0);
	listener = track(test_tcp_listener(&addr));

	for (round = 0; round < 2; round++) {
		bool used[2] = { false, false };

		for (i = 0; i < 2; i++) {
			unsigned char recv_buf[16] = { 0 };
			size_t send_len = sizeof(data) - (size_t)i;	/* differs per slot */
			int client;

			/* res is the slot the kernel picked. */
			arm_accept_direct(listener);
			cqe = client_accepted(&addr, &client);
			take_slot(&cqe, used);

			ck_assert_int_eq(send(client, data, send_len, 0), (ssize_t)send_len);

			/* recv on the direct descriptor: fd is the slot. */
			sqe = get_sqe(0xbbbbbbbb);
			ringo_prep_recv(sqe, cqe.res, recv_buf, sizeof(recv_buf), 0);
			ringo_sqe_set_flags(sqe, RINGO_SQE_FIXED_FILE);
			cqe = test_submit_wait_one(&ring);
			ck_assert_uint_eq(cqe.user_data, 0xbbbbbbbb);
			ck_assert_int_eq(cqe.res, (int)send_len);
			ck_assert_mem_eq(recv_buf, data, send_len);

			close_tracked(client);
		}

		/* Every slot is taken: the next accept fails with -ENFILE. */
		{
			int client;

			arm_accept_direct(listener);
			cqe = client_accepted(&addr, &client);
			ck_assert_int_eq(cqe.res, -ENFILE);
			close_tracked(client);
		}

		/* Empty the slots for the next round. */
		ck_assert_int_eq(ringo_ring_register_files_update(&ring, 0, empty, 2), 2);
	}
	ck_assert_int_eq(ringo_ring_unregister_files(&ring), 0);
}
END_TEST

START_TEST(test_accept_multishot_direct)
{
	const int empty[2] = { -1, -1 };
	struct sockaddr_in addr;
	struct ringo_cqe cqe;
	int listener, round, i, client;

	if (!test_kernel_at_least(5, 19))
		TEST_SKIP("multishot accept into direct descriptors needs Linux 5.19");
	RING_UP(4);
	TEST_REQUIRE_OP(&ring, RINGO_OP_ACCEPT);

	ck_assert_int_eq(ringo_ring_register_files(&ring, empty, 2), 0);
	listener = track(test_tcp_listener(&addr));

	for (round = 0; round < 2; round++) {
		bool used[2] = { false, false };

		ringo_prep_multishot_accept_direct(get_sqe(UD_ACCEPT), listener, NULL, NULL, 0);
		ck_assert_int_eq(ringo_ring_submit(&ring), 1);

		for (i = 0; i < 2; i++) {
			cqe = client_accepted(&addr, &client);
			take_slot(&cqe, used);
			ck_assert_msg(cqe.flags & RINGO_CQE_F_MORE, "flags %#x", cqe.flags);
			close_tracked(client);
		}

		/* No slot left: -ENFILE, and the multishot ends (no F_MORE). */
		cqe = client_accepted(&addr, &client);
		ck_assert_int_eq(cqe.res, -ENFILE);
		ck_assert_uint_eq(cqe.flags & RINGO_CQE_F_MORE, 0);
		close_tracked(client);

		ck_assert_int_eq(ringo_ring_register_files_update(&ring, 0, empty, 2), 2);
	}
	ck_assert_int_eq(ringo_ring_unregister_files(&ring), 0);
}
END_TEST

START_TEST(test_socket)
{
	struct ringo_cqe cqe;
	socklen_t len;
	int fd, val;

	RING_UP(1);
	TEST_REQUIRE_OP(&ring, RINGO_OP_SOCKET);

	ringo_prep_socket(get_sqe(0), AF_INET, SOCK_STREAM, 0, 0);
	cqe = test_submit_wait_one(&ring);
	ck_assert_uint_eq(cqe.user_data, 0);
	ck_assert_msg(cqe.res > 2, "socket res %d (%s)", cqe.res, ringo_err_name(cqe.res));
	fd = track(cqe.res);

	/* It is the socket we asked for. */
	len = sizeof(val);
	ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, SO_TYPE, &val, &len), 0);
	ck_assert_int_eq(val, SOCK_STREAM);
	len = sizeof(val);
	ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &val, &len), 0);
	ck_assert_int_eq(val, AF_INET);
}
END_TEST

START_TEST(test_socket_direct)
{
	const int empty[3] = { -1, -1, -1 };
	struct ringo_cqe cqe, acc, con;
	struct sockaddr_in addr;
	struct ringo_sqe *sqe;
	int listener;
	unsigned slot;

	if (!test_kernel_at_least(5, 19))
		TEST_SKIP("socket into direct descriptors needs Linux 5.19");
	RING_UP(4);
	TEST_REQUIRE_OP(&ring, RINGO_OP_SOCKET);
	TEST_REQUIRE_OP(&ring, RINGO_OP_ACCEPT);
	TEST_REQUIRE_OP(&ring, RINGO_OP_CONNECT);
	TEST_REQUIRE_OP(&ring, RINGO_OP_CLOSE);

	ck_assert_int_eq(ringo_ring_register_files(&ring, empty, 3), 0);

	/* Into a named slot, res is 0. */
	ringo_prep_socket_direct(get_sqe(0), AF_INET, SOCK_STREAM, 0, 0, 0);
	cqe = test_submit_wait_one(&ring);
	ck_assert_int_eq(cqe.res, 0);
	ringo_prep_socket_direct(get_sqe(0), AF_INET, SOCK_STREAM, 0, 1, 0);
	cqe = test_submit_wait_one(&ring);
	ck_assert_int_eq(cqe.res, 0);

	/* Into a kernel-picked slot, res is the slot: the only free one. */
	ringo_prep_socket_direct_alloc(get_sqe(0), AF_INET, SOCK_STREAM, 0, 0);
	cqe = test_submit_wait_one(&ring);
	ck_assert_int_eq(cqe.res, 2);

	/* The table is full now. */
	ringo_prep_socket_direct_alloc(get_sqe(0), AF_INET, SOCK_STREAM, 0, 0);
	cqe = test_submit_wait_one(&ring);
	ck_assert_int_eq(cqe.res, -ENFILE);

	listener = track(test_tcp_listener(&addr));
	for (slot = 0; slot < 3; slot++) {
		ringo_prep_accept(get_sqe(UD_ACCEPT), listener, NULL, NULL, 0);
		sqe = get_sqe(0xbbbbbbbb);
		ringo_prep_connect(sqe, (int)slot, (struct sockaddr *)&addr, sizeof(addr));
		ringo_sqe_set_flags(sqe, RINGO_SQE_FIXED_FILE);
		ck_assert_int_eq(ringo_ring_submit(&ring), 2);

		wait_two(UD_ACCEPT, &acc, &con);
		ck_assert_uint_eq(con.user_data, 0xbbbbbbbb);
		ck_assert_msg(con.res == 0, "connect on slot %u: %d (%s)", slot, con.res,
			      ringo_err_name(con.res));
		ck_assert_uint_eq(acc.user_data, UD_ACCEPT);
		ck_assert_msg(acc.res > 0, "accept res %d (%s)", acc.res, ringo_err_name(acc.res));
		ck_assert_int_eq(close(acc.res), 0);

		ringo_prep_close_direct(get_sqe(0xcccccccc), slot);
		cqe = test_submit_wait_one(&ring);
		ck_assert_uint_eq(cqe.user_data, 0xcccccccc);
		ck_assert_int_eq(cqe.res, 0);
	}

	/* Closing an empty slot is -EBADF. */
	ringo_prep_close_direct(get_sqe(0xcccccccc), 0);
	cqe = test_submit_wait_one(&ring);
	ck_assert_uint_eq(cqe.user_data, 0xcccccccc);
	ck_assert_int_eq(cqe.res, -EBADF);

	ck_assert_int_eq(ringo_ring_unregister_files(&ring), 0);
}
END_TEST

/* ---- socket, setsockopt, bind, listen: all through the ring ------------ */

/* Two sends of the same text, then recv until both arrived (bounded). */
static void send_recv_twice(int send_fd, int recv_fd)
{
	static const char text[] = "0123456789abcdf0123456789abcdf0123456789abcdf"
				   "0123456789abcdf0123456789abcdf0123456789abcdf"
				   "0123456789abcdf0123456789abcdf0123456789abcdf"
				   "0123456789abcdf";
	const size_t len = sizeof(text) - 1;	/* 150 bytes */
	char recv_buf[2 * sizeof(text)];
	struct ringo_cqe cqe;
	size_t got = 0;
	int i;

	ringo_prep_send(get_sqe(1), send_fd, text, len, MSG_WAITALL);
	ringo_prep_send(get_sqe(2), send_fd, text, len, MSG_WAITALL);
	ck_assert_int_eq(ringo_ring_submit(&ring), 2);
	for (i = 0; i < 2; i++) {
		cqe = test_wait_one(&ring);
		ck_assert_uint_eq(cqe.user_data, 1 + (unsigned)i);
		ck_assert_int_eq(cqe.res, (int)len);
	}

	for (i = 0; i < 64 && got < 2 * len; i++) {
		ringo_prep_recv(get_sqe(3), recv_fd, recv_buf + got, 2 * len - got, 0);
		cqe = test_submit_wait_one(&ring);
		ck_assert_uint_eq(cqe.user_data, 3);
		ck_assert_msg(cqe.res > 0, "recv res %d (%s)", cqe.res, ringo_err_name(cqe.res));
		got += (size_t)cqe.res;
	}
	ck_assert_uint_eq(got, 2 * len);
	ck_assert_mem_eq(recv_buf, text, len);
	ck_assert_mem_eq(recv_buf + len, text, len);
}

START_TEST(test_bind_listen_connect)
{
	struct sockaddr_in addr;
	socklen_t addr_len = sizeof(addr);
	int listen_fd, connect_fd, accept_fd = -1, optval, fds[3], i, k;
	struct ringo_sqe *sqe;
	struct ringo_cqe cqe;

	RING_UP(8);
	TEST_REQUIRE_OP(&ring, RINGO_OP_SOCKET);
	TEST_REQUIRE_OP(&ring, RINGO_OP_URING_CMD);
	TEST_REQUIRE_OP(&ring, RINGO_OP_BIND);
	TEST_REQUIRE_OP(&ring, RINGO_OP_LISTEN);
	TEST_REQUIRE_OP(&ring, RINGO_OP_SHUTDOWN);
	TEST_REQUIRE_OP(&ring, RINGO_OP_CLOSE);
	REQUIRE_TCP_OPS();

	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

	ringo_prep_socket(get_sqe(1), AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP, 0);
	cqe = test_submit_wait_one(&ring);
	ck_assert_uint_eq(cqe.user_data, 1);
	ck_assert_msg(cqe.res > 2, "socket res %d (%s)", cqe.res, ringo_err_name(cqe.res));
	listen_fd = track(cqe.res);

	/* setsockopt x2 -> bind -> listen, one linked chain. */
	optval = 1;
	sqe = get_sqe(2);
	ringo_prep_setsockopt(sqe, listen_fd, SOL_SOCKET, SO_REUSEADDR, &optval, sizeof(optval));
	ringo_sqe_set_flags(sqe, RINGO_SQE_IO_LINK);
	sqe = get_sqe(3);
	ringo_prep_setsockopt(sqe, listen_fd, SOL_SOCKET, SO_REUSEPORT, &optval, sizeof(optval));
	ringo_sqe_set_flags(sqe, RINGO_SQE_IO_LINK);
	sqe = get_sqe(4);
	ringo_prep_bind(sqe, listen_fd, (struct sockaddr *)&addr, sizeof(addr));
	ringo_sqe_set_flags(sqe, RINGO_SQE_IO_LINK);
	ringo_prep_listen(get_sqe(5), listen_fd, 1);
	ck_assert_int_eq(ringo_ring_submit(&ring), 4);
	for (k = 2; k <= 5; k++) {
		cqe = test_wait_one(&ring);
		ck_assert_uint_eq(cqe.user_data, (unsigned)k);
		ck_assert_msg(cqe.res == 0, "op %d res %d (%s)", k, cqe.res,
			      ringo_err_name(cqe.res));
	}

	/* getsockopt through the ring: res is the option's length. */
	optval = 0;
	ringo_prep_getsockopt(get_sqe(5), listen_fd, SOL_SOCKET, SO_REUSEADDR, &optval,
			      sizeof(optval));
	cqe = test_submit_wait_one(&ring);
	ck_assert_uint_eq(cqe.user_data, 5);
	ck_assert_int_eq(cqe.res, (int)sizeof(optval));
	ck_assert_int_eq(optval, 1);

	ck_assert_int_eq(getsockname(listen_fd, (struct sockaddr *)&addr, &addr_len), 0);
	ck_assert_uint_ne(addr.sin_port, 0);

	ringo_prep_socket(get_sqe(6), AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP, 0);
	cqe = test_submit_wait_one(&ring);
	ck_assert_uint_eq(cqe.user_data, 6);
	ck_assert_msg(cqe.res > 2, "socket res %d (%s)", cqe.res, ringo_err_name(cqe.res));
	connect_fd = track(cqe.res);
	ck_assert_int_ne(connect_fd, listen_fd);

	ringo_prep_accept(get_sqe(7), listen_fd, NULL, NULL, 0);
	ringo_prep_connect(get_sqe(8), connect_fd, (struct sockaddr *)&addr, sizeof(addr));
	ck_assert_int_eq(ringo_ring_submit(&ring), 2);
	for (i = 0; i < 2; i++) {
		cqe = test_wait_one(&ring);
		ck_assert_msg(cqe.res >= 0, "op %llu res %d (%s)",
			      (unsigned long long)cqe.user_data, cqe.res, ringo_err_name(cqe.res));
		if (cqe.user_data == 7) {
			ck_assert_int_eq(accept_fd, -1);
			accept_fd = track(cqe.res);
		} else {
			ck_assert_uint_eq(cqe.user_data, 8);
			ck_assert_int_eq(cqe.res, 0);
		}
	}
	ck_assert_int_gt(accept_fd, 2);
	ck_assert_int_ne(accept_fd, listen_fd);
	ck_assert_int_ne(accept_fd, connect_fd);

	send_recv_twice(connect_fd, accept_fd);
	send_recv_twice(accept_fd, connect_fd);

	/* shutdown -> close for each socket, through the ring. */
	fds[0] = connect_fd;
	fds[1] = accept_fd;
	fds[2] = listen_fd;
	for (i = 0; i < 3; i++) {
		sqe = get_sqe(9);
		ringo_prep_shutdown(sqe, fds[i], SHUT_RDWR);
		ringo_sqe_set_flags(sqe, RINGO_SQE_IO_LINK);
		ringo_prep_close(get_sqe(10), fds[i]);
		ck_assert_int_eq(ringo_ring_submit(&ring), 2);
		for (k = 0; k < 2; k++) {
			cqe = test_wait_one(&ring);
			ck_assert_uint_eq(cqe.user_data, 9 + (unsigned)k);
			ck_assert_msg(cqe.res == 0, "fd %d op %d res %d (%s)", fds[i], 9 + k,
				      cqe.res, ringo_err_name(cqe.res));
		}
		untrack(fds[i]);
		/* The ring really closed it. */
		ck_assert_int_eq(fcntl(fds[i], F_GETFD), -1);
		ck_assert_int_eq(errno, EBADF);
	}
}
END_TEST

/* ---- poll ------------------------------------------------------------- */

START_TEST(test_poll_add_readable)
{
	struct ringo_cqe cqe;
	struct tcp_pair p;
	char buf[3];

	RING_UP(8);
	REQUIRE_TCP_OPS();
	TEST_REQUIRE_OP(&ring, RINGO_OP_POLL_ADD);
	tcp_pair_open(&p);

	ringo_prep_poll_add(get_sqe(0x1001), p.server, POLLIN);
	ck_assert_int_eq(ringo_ring_submit(&ring), 1);

	/* Nothing to read yet: no CQE. */
	ck_assert_int_eq(cqe_within_ms(50), 0);

	ck_assert_int_eq(send(p.client, "abc", 3, 0), 3);
	cqe = test_wait_one(&ring);
	ck_assert_uint_eq(cqe.user_data, 0x1001);
	ck_assert_msg(cqe.res > 0 && (cqe.res & POLLIN), "poll res %#x", (unsigned)cqe.res);
	ck_assert_uint_eq(cqe.res & POLLOUT, 0);	/* only what was asked for */
	ck_assert_uint_eq(cqe.flags, 0);

	/* The readiness was real. */
	ck_assert_int_eq(recv(p.server, buf, sizeof(buf), MSG_DONTWAIT), 3);
	ck_assert_mem_eq(buf, "abc", 3);
}
END_TEST

START_TEST(test_poll_remove)
{
	struct ringo_cqe poll_cqe, remove_cqe;
	struct tcp_pair p;

	RING_UP(8);
	REQUIRE_TCP_OPS();
	TEST_REQUIRE_OP(&ring, RINGO_OP_POLL_ADD);
	TEST_REQUIRE_OP(&ring, RINGO_OP_POLL_REMOVE);
	tcp_pair_open(&p);

	ringo_prep_poll_add(get_sqe(0x2001), p.server, POLLIN);
	ck_assert_int_eq(ringo_ring_submit(&ring), 1);
	ck_assert_int_eq(cqe_within_ms(20), 0);

	ringo_prep_poll_remove(get_sqe(0x2002), 0x2001);
	ck_assert_int_eq(ringo_ring_submit(&ring), 1);
	wait_two(0x2001, &poll_cqe, &remove_cqe);
	test_assert_cqe(&poll_cqe, 0x2001, -ECANCELED, 0);
	test_assert_cqe(&remove_cqe, 0x2002, 0, 0);

	/* It is gone: removing it again finds nothing. */
	ringo_prep_poll_remove(get_sqe(0x2003), 0x2001);
	remove_cqe = test_submit_wait_one(&ring);
	ck_assert_uint_eq(remove_cqe.user_data, 0x2003);
	ck_assert_int_eq(remove_cqe.res, -ENOENT);
}
END_TEST

START_TEST(test_poll_multishot)
{
	bool seen_remove = false, seen_end = false;
	struct ringo_cqe cqe;
	struct tcp_pair p;
	int round, i;
	char c;

	if (!test_kernel_at_least(5, 13))
		TEST_SKIP("multishot poll needs Linux 5.13");
	RING_UP(8);
	REQUIRE_TCP_OPS();
	TEST_REQUIRE_OP(&ring, RINGO_OP_POLL_ADD);
	TEST_REQUIRE_OP(&ring, RINGO_OP_POLL_REMOVE);
	tcp_pair_open(&p);

	ringo_prep_poll_multishot(get_sqe(0x3001), p.server, POLLIN);
	ck_assert_int_eq(ringo_ring_submit(&ring), 1);
	ck_assert_int_eq(cqe_within_ms(20), 0);

	/* Each time data arrives: a CQE, and the poll stays armed (F_MORE). */
	for (round = 0; round < 3; round++) {
		ck_assert_int_eq(send(p.client, "x", 1, 0), 1);
		cqe = test_wait_one(&ring);
		ck_assert_uint_eq(cqe.user_data, 0x3001);
		ck_assert_msg(cqe.res > 0 && (cqe.res & POLLIN), "poll res %#x",
			      (unsigned)cqe.res);
		ck_assert_msg(cqe.flags & RINGO_CQE_F_MORE, "round %d flags %#x", round,
			      cqe.flags);
		ck_assert_int_eq(recv(p.server, &c, 1, MSG_DONTWAIT), 1);
		ck_assert_int_eq(c, 'x');
	}

	/* Removing it ends it with -ECANCELED and no F_MORE. */
	ringo_prep_poll_remove(get_sqe(0x3002), 0x3001);
	ck_assert_int_eq(ringo_ring_submit(&ring), 1);
	for (i = 0; i < 16 && !(seen_remove && seen_end); i++) {
		cqe = test_wait_one(&ring);
		if (cqe.user_data == 0x3002) {
			ck_assert(!seen_remove);
			seen_remove = true;
			ck_assert_int_eq(cqe.res, 0);
			continue;
		}
		ck_assert_uint_eq(cqe.user_data, 0x3001);
		ck_assert(!seen_end);
		if (cqe.flags & RINGO_CQE_F_MORE)
			continue;	/* a late wakeup from the rounds above */
		seen_end = true;
		ck_assert_int_eq(cqe.res, -ECANCELED);
	}
	ck_assert(seen_remove && seen_end);
}
END_TEST

/* ---- poll update, epoll_ctl, cancel by fd --------------------------------- */

/* A pending POLLIN poll turned into a POLLOUT one with a new user_data (5.13). */
START_TEST(test_poll_update)
{
	struct ringo_cqe update_cqe, poll_cqe;
	struct ringo_sqe *sqe;
	struct tcp_pair p;

	if (!test_kernel_at_least(5, 13))
		TEST_SKIP("poll update needs Linux 5.13");
	RING_UP(8);
	REQUIRE_TCP_OPS();
	TEST_REQUIRE_OP(&ring, RINGO_OP_POLL_ADD);
	TEST_REQUIRE_OP(&ring, RINGO_OP_POLL_REMOVE);
	tcp_pair_open(&p);

	ringo_prep_poll_add(get_sqe(0x4001), p.server, POLLIN);
	ck_assert_int_eq(ringo_ring_submit(&ring), 1);
	ck_assert_int_eq(cqe_within_ms(20), 0);

	sqe = get_sqe(0x4003);
	ringo_prep_poll_update(sqe, 0x4001, 0x4002, POLLOUT,
			       RINGO_POLL_UPDATE_EVENTS | RINGO_POLL_UPDATE_USER_DATA);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_POLL_REMOVE);
	ck_assert_uint_eq(sqe->addr, 0x4001);
	ck_assert_uint_eq(sqe->off, 0x4002);
	ck_assert_uint_eq(sqe->len, RINGO_POLL_UPDATE_EVENTS | RINGO_POLL_UPDATE_USER_DATA);
	ck_assert_uint_eq(sqe->poll32_events, POLLOUT);
	ck_assert_int_eq(ringo_ring_submit(&ring), 1);

	/* The socket is writable: the updated poll fires at once, as 0x4002. */
	wait_two(0x4003, &update_cqe, &poll_cqe);
	test_assert_cqe(&update_cqe, 0x4003, 0, 0);
	ck_assert_uint_eq(poll_cqe.user_data, 0x4002);
	ck_assert_msg(poll_cqe.res > 0 && (poll_cqe.res & POLLOUT), "poll res %#x",
		      (unsigned)poll_cqe.res);
	ck_assert_uint_eq(poll_cqe.res & POLLIN, 0);
	ck_assert_uint_eq(poll_cqe.flags, 0);

	/* The old user_data names nothing any more. */
	ringo_prep_poll_update(get_sqe(0x4004), 0x4001, 0x4005, POLLIN,
			       RINGO_POLL_UPDATE_EVENTS | RINGO_POLL_UPDATE_USER_DATA);
	update_cqe = test_submit_wait_one(&ring);
	test_assert_cqe(&update_cqe, 0x4004, -ENOENT, 0);

	/* A new user_data without RINGO_POLL_UPDATE_USER_DATA is refused. */
	ringo_prep_poll_update(get_sqe(0x4006), 0x4002, 0x4007, POLLIN,
			       RINGO_POLL_UPDATE_EVENTS);
	update_cqe = test_submit_wait_one(&ring);
	test_assert_cqe(&update_cqe, 0x4006, -EINVAL, 0);
}
END_TEST

/* epoll_ctl(2) through the ring (5.6): add, a duplicate add, del, mod. */
START_TEST(test_epoll_ctl)
{
	struct epoll_event ev, out;
	struct ringo_sqe *sqe;
	struct ringo_cqe cqe;
	struct tcp_pair p;
	int epfd;

	RING_UP(4);
	REQUIRE_TCP_OPS();
	TEST_REQUIRE_OP(&ring, RINGO_OP_EPOLL_CTL);
	tcp_pair_open(&p);
	epfd = track(epoll_create1(EPOLL_CLOEXEC));

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u64 = 0x1234567890ULL;
	sqe = get_sqe(0x5001);
	ringo_prep_epoll_ctl(sqe, epfd, p.server, EPOLL_CTL_ADD, &ev);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_EPOLL_CTL);
	ck_assert_int_eq(sqe->fd, epfd);
	ck_assert_uint_eq(sqe->off, (uint64_t)p.server);
	ck_assert_uint_eq(sqe->len, EPOLL_CTL_ADD);
	cqe = test_submit_wait_one(&ring);
	test_assert_cqe(&cqe, 0x5001, 0, 0);

	/* Registered for real: epoll reports the socket once data arrives. */
	ck_assert_int_eq(epoll_wait(epfd, &out, 1, 0), 0);
	ck_assert_int_eq(send(p.client, "e", 1, 0), 1);
	ck_assert_int_eq(epoll_wait(epfd, &out, 1, 5000), 1);
	ck_assert_uint_eq(out.events & EPOLLIN, EPOLLIN);
	ck_assert_uint_eq(out.data.u64, 0x1234567890ULL);

	ringo_prep_epoll_ctl(get_sqe(0x5002), epfd, p.server, EPOLL_CTL_ADD, &ev);
	cqe = test_submit_wait_one(&ring);
	test_assert_cqe(&cqe, 0x5002, -EEXIST, 0);

	ringo_prep_epoll_ctl(get_sqe(0x5003), epfd, p.server, EPOLL_CTL_DEL, NULL);
	cqe = test_submit_wait_one(&ring);
	test_assert_cqe(&cqe, 0x5003, 0, 0);
	ck_assert_int_eq(epoll_wait(epfd, &out, 1, 0), 0);

	ringo_prep_epoll_ctl(get_sqe(0x5004), epfd, p.server, EPOLL_CTL_MOD, &ev);
	cqe = test_submit_wait_one(&ring);
	test_assert_cqe(&cqe, 0x5004, -ENOENT, 0);
}
END_TEST

/* Cancel every op on one fd (5.19): both pending recvs end -ECANCELED. */
START_TEST(test_cancel_fd)
{
	unsigned char buf1[4], buf2[4];
	struct ringo_cqe cqe;
	struct tcp_pair p;
	bool seen[2] = { false, false };
	bool seen_cancel = false;
	int i;

	if (!test_kernel_at_least(5, 19))
		TEST_SKIP("cancel by fd needs Linux 5.19");
	RING_UP(8);
	REQUIRE_TCP_OPS();
	TEST_REQUIRE_OP(&ring, RINGO_OP_ASYNC_CANCEL);
	tcp_pair_open(&p);

	ringo_prep_recv(get_sqe(0x6001), p.server, buf1, sizeof(buf1), 0);
	ringo_prep_recv(get_sqe(0x6002), p.server, buf2, sizeof(buf2), 0);
	ck_assert_int_eq(ringo_ring_submit(&ring), 2);
	ck_assert_int_eq(cqe_within_ms(20), 0);

	ringo_prep_cancel_fd(get_sqe(0x6003), p.server, RINGO_ASYNC_CANCEL_ALL);
	ck_assert_int_eq(ringo_ring_submit(&ring), 1);
	for (i = 0; i < 3; i++) {
		cqe = test_wait_one(&ring);
		if (cqe.user_data == 0x6003) {
			ck_assert(!seen_cancel);
			seen_cancel = true;
			/* With CANCEL_ALL, res is how many were cancelled. */
			test_assert_cqe(&cqe, 0x6003, 2, 0);
			continue;
		}
		ck_assert_msg(cqe.user_data == 0x6001 || cqe.user_data == 0x6002,
			      "user_data %#llx", (unsigned long long)cqe.user_data);
		ck_assert(!seen[cqe.user_data - 0x6001]);
		seen[cqe.user_data - 0x6001] = true;
		test_assert_cqe(&cqe, cqe.user_data, -ECANCELED, 0);
	}
	ck_assert(seen_cancel && seen[0] && seen[1]);

	/* Nothing left on that fd. */
	ringo_prep_cancel_fd(get_sqe(0x6004), p.server, 0);
	cqe = test_submit_wait_one(&ring);
	test_assert_cqe(&cqe, 0x6004, -ENOENT, 0);
}
END_TEST

/* ---- more zero-copy sends ------------------------------------------------- */

/*
 * The two CQEs of a zero-copy send of `len` bytes that was linked before a
 * recv (0xffffffff) of `recv_len` bytes into `got`: the result with F_MORE,
 * then the recv and the F_NOTIF notification in either order.
 */
static void expect_zc_send_and_recv(uint64_t send_ud, int len, const void *got,
				    const void *want, size_t recv_len)
{
	bool seen_recv = false, seen_notif = false;
	struct ringo_cqe cqe;
	int i;

	cqe = test_wait_one(&ring);
	test_assert_cqe(&cqe, send_ud, len, RINGO_CQE_F_MORE);
	for (i = 0; i < 2; i++) {
		cqe = test_wait_one(&ring);
		if (cqe.user_data == 0xffffffff) {
			ck_assert(!seen_recv);
			seen_recv = true;
			expect_received(&cqe, 0xffffffff, got, want, recv_len);
		} else {
			ck_assert(!seen_notif);
			seen_notif = true;
			test_assert_cqe(&cqe, send_ud, 0, RINGO_CQE_F_NOTIF);
		}
	}
	ck_assert(seen_recv && seen_notif);
}

/* send_zc out of a registered buffer (6.0). */
START_TEST(test_send_zc_fixed)
{
	unsigned char reg[64], recv_buf[20] = { 0 };
	struct iovec iov = { .iov_base = reg, .iov_len = sizeof(reg) };
	struct ringo_sqe *sqe;
	struct ringo_cqe cqe;
	struct tcp_pair p;
	unsigned i;

	if (!test_kernel_at_least(6, 0))
		TEST_SKIP("send_zc needs Linux 6.0");
	RING_UP(16);
	REQUIRE_TCP_OPS();
	TEST_REQUIRE_OP(&ring, RINGO_OP_SEND_ZC);
	tcp_pair_open(&p);
	for (i = 0; i < sizeof(reg); i++)
		reg[i] = (unsigned char)(i * 7 + 1);
	ck_assert_int_eq(ringo_ring_register_buffers(&ring, &iov, 1), 0);

	/* 20 bytes from the middle of buffer 0. */
	sqe = get_sqe(0xeeeeeeee);
	ringo_prep_send_zc_fixed(sqe, p.client, reg + 10, 20, 0, 0, 0);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_SEND_ZC);
	ck_assert_uint_eq(sqe->ioprio & RINGO_RECVSEND_FIXED_BUF, RINGO_RECVSEND_FIXED_BUF);
	ck_assert_uint_eq(sqe->buf_index, 0);
	submit_send_then_recv(sqe, p.server, recv_buf, sizeof(recv_buf));
	expect_zc_send_and_recv(0xeeeeeeee, 20, recv_buf, reg + 10, sizeof(recv_buf));

	/* A buffer index that was never registered. */
	ringo_prep_send_zc_fixed(get_sqe(0xe1), p.client, reg, 4, 0, 0, 3);
	cqe = test_submit_wait_one(&ring);
	ck_assert_uint_eq(cqe.user_data, 0xe1);
	ck_assert_int_eq(cqe.res, -EFAULT);
	if (cqe.flags & RINGO_CQE_F_MORE) {
		cqe = test_wait_one(&ring);
		test_assert_cqe(&cqe, 0xe1, 0, RINGO_CQE_F_NOTIF);
	}
	ck_assert_int_eq(ringo_ring_unregister_buffers(&ring), 0);
}
END_TEST

/* sendmsg_zc (6.1): two iovecs gathered into one stream, result then notification. */
START_TEST(test_sendmsg_zc)
{
	static const unsigned char part1[6] = { 1, 2, 3, 4, 5, 6 };
	static const unsigned char part2[9] = { 7, 8, 9, 10, 11, 12, 13, 14, 15 };
	unsigned char want[15], recv_buf[15] = { 0 };
	struct iovec iov[2] = {
		{ .iov_base = (void *)part1, .iov_len = sizeof(part1) },
		{ .iov_base = (void *)part2, .iov_len = sizeof(part2) },
	};
	struct msghdr msg;
	struct ringo_sqe *sqe;
	struct tcp_pair p;

	if (!test_kernel_at_least(6, 1))
		TEST_SKIP("sendmsg_zc needs Linux 6.1");
	RING_UP(16);
	REQUIRE_TCP_OPS();
	TEST_REQUIRE_OP(&ring, RINGO_OP_SENDMSG_ZC);
	tcp_pair_open(&p);

	memcpy(want, part1, sizeof(part1));
	memcpy(want + sizeof(part1), part2, sizeof(part2));
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;

	sqe = get_sqe(0x7001);
	ringo_prep_sendmsg_zc(sqe, p.client, &msg, 0);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_SENDMSG_ZC);
	ck_assert_int_eq(sqe->fd, p.client);
	ck_assert_uint_eq(sqe->addr, (uint64_t)(uintptr_t)&msg);
	ck_assert_uint_eq(sqe->len, 1);
	submit_send_then_recv(sqe, p.server, recv_buf, sizeof(recv_buf));
	expect_zc_send_and_recv(0x7001, (int)sizeof(want), recv_buf, want, sizeof(recv_buf));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ring_net");
	TCase *tc;

	tc = test_tcase(s, "tcp", setup, teardown, 30);
	tcase_add_test(tc, test_accept_connect_send_recv);
	tcase_add_test(tc, test_recv_link_timeout);
	tcase_add_test(tc, test_recv_cancel);
	tcase_add_test(tc, test_shutdown);
	tcase_add_test(tc, test_connect_refused);
	tcase_add_test(tc, test_send_zc_recv);
	tcase_add_test(tc, test_send_zc_fixed);
	tcase_add_test(tc, test_sendmsg_zc);
	tcase_add_test(tc, test_cancel_fd);
	tcase_add_test(tc, test_epoll_ctl);

	tc = test_tcase(s, "udp", setup, teardown, 30);
	tcase_add_test(tc, test_sendmsg_recvmsg);
	tcase_add_test(tc, test_recvmsg_multishot);

	tc = test_tcase(s, "multishot_accept", setup, teardown, 30);
	tcase_add_test(tc, test_accept_multishot);

	tc = test_tcase(s, "direct", setup, teardown, 30);
	tcase_add_test(tc, test_accept_direct);
	tcase_add_test(tc, test_accept_multishot_direct);
	tcase_add_test(tc, test_socket);
	tcase_add_test(tc, test_socket_direct);

	tc = test_tcase(s, "ring_only_sockets", setup, teardown, 30);
	tcase_add_test(tc, test_bind_listen_connect);

	tc = test_tcase(s, "poll", setup, teardown, 30);
	tcase_add_test(tc, test_poll_add_readable);
	tcase_add_test(tc, test_poll_remove);
	tcase_add_test(tc, test_poll_multishot);
	tcase_add_test(tc, test_poll_update);

	return s;
}

int main(void)
{
	return test_main(suite());
}
