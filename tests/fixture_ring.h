/* SPDX-License-Identifier: MIT */
/*
 * The fixture of the suites on the raw ring layer (check_ring_net,
 * check_bufring): one ring a test brings up with RING_UP, the fds it opened
 * (track) closed by the teardown, SQEs tagged with their user_data, and a
 * loopback TCP pair connected through the ring.
 *
 * Header-only on purpose: it defines the including suite's static state and
 * fixture functions, so a suite includes it once, after defining
 * MAX_TRACKED (how many fds one test may track; each suite keeps its own).
 * Functions not every suite calls are static inline, so they cost nothing
 * where unused.
 */
#ifndef RINGO_FIXTURE_RING_H
#define RINGO_FIXTURE_RING_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test_util.h"

#ifndef MAX_TRACKED
#error "define MAX_TRACKED before including fixture_ring.h"
#endif

static struct ringo_ring ring;
static bool ring_live;			/* ring must be exited in teardown */
static int tracked[MAX_TRACKED];	/* fds teardown closes */
static unsigned nr_tracked;

static inline void setup(void)
{
	ring_live = false;
	nr_tracked = 0;
}

static inline void teardown(void)
{
	while (nr_tracked)
		close(tracked[--nr_tracked]);
	if (ring_live)
		ringo_ring_exit(&ring);
	ring_live = false;
}

#define RING_UP(entries)                                                                       \
	do {                                                                                   \
		TEST_RING_INIT(&ring, (entries), 0);                                           \
		ring_live = true;                                                              \
	} while (0)

/* The ops tcp_pair_open() and a plain send/recv need (5.6). */
#define REQUIRE_TCP_OPS()                                                                      \
	do {                                                                                   \
		TEST_REQUIRE_OP(&ring, RINGO_OP_ACCEPT);                                       \
		TEST_REQUIRE_OP(&ring, RINGO_OP_CONNECT);                                      \
		TEST_REQUIRE_OP(&ring, RINGO_OP_SEND);                                         \
		TEST_REQUIRE_OP(&ring, RINGO_OP_RECV);                                         \
	} while (0)

/* Remember `fd` for teardown; fails the test on a negative value. */
static inline int track(int fd)
{
	ck_assert_msg(fd >= 0, "fd %d (%s)", fd, ringo_err_name(fd < 0 ? fd : 0));
	ck_assert_uint_lt(nr_tracked, MAX_TRACKED);
	tracked[nr_tracked++] = fd;
	return fd;
}

/* Stop tracking `fd` (closed elsewhere, e.g. through the ring). */
static inline void untrack(int fd)
{
	unsigned i;

	for (i = 0; i < nr_tracked; i++) {
		if (tracked[i] == fd) {
			tracked[i] = tracked[--nr_tracked];
			return;
		}
	}
	ck_abort_msg("fd %d was not tracked", fd);
}

static inline void close_tracked(int fd)
{
	untrack(fd);
	ck_assert_int_eq(close(fd), 0);
}

static inline int tcp_socket(void)
{
	return track(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
}

/* The next SQE of the fixture's ring, with its user_data set. */
static inline struct ringo_sqe *get_sqe(uint64_t user_data)
{
	return test_get_sqe_ud(&ring, user_data);
}

/*
 * Wait for the two CQEs of a pair of ops that may complete in either order:
 * *first gets the one of `first_ud`. The caller still checks both.
 */
static inline void wait_two(uint64_t first_ud, struct ringo_cqe *first, struct ringo_cqe *second)
{
	struct ringo_cqe t;

	*first = test_wait_one(&ring);
	*second = test_wait_one(&ring);
	if (first->user_data != first_ud && second->user_data == first_ud) {
		t = *first;
		*first = *second;
		*second = t;
	}
}

/* A connected loopback pair made by one accept and one connect on the ring. */
struct tcp_pair {
	struct sockaddr_in addr;	/* listener's address */
	int listener;
	int server;			/* accepted end */
	int client;			/* connecting end */
};

#define UD_ACCEPT 0xaaaaaaaaULL
#define UD_CONNECT 0xccccccccULL

static inline void tcp_pair_open(struct tcp_pair *p)
{
	struct sockaddr_in peer;
	socklen_t peer_len = sizeof(peer);
	struct ringo_cqe acc, con;

	memset(&peer, 0, sizeof(peer));
	p->listener = track(test_tcp_listener(&p->addr));
	p->client = tcp_socket();

	ringo_prep_accept(get_sqe(UD_ACCEPT), p->listener, (struct sockaddr *)&peer, &peer_len, 0);
	ringo_prep_connect(get_sqe(UD_CONNECT), p->client, (struct sockaddr *)&p->addr,
			   sizeof(p->addr));
	ck_assert_int_eq(ringo_ring_submit(&ring), 2);
	wait_two(UD_ACCEPT, &acc, &con);

	ck_assert_uint_eq(acc.user_data, UD_ACCEPT);
	ck_assert_msg(acc.res > 0, "accept res %d (%s)", acc.res, ringo_err_name(acc.res));
	ck_assert_uint_eq(acc.flags, 0);
	p->server = track(acc.res);

	ck_assert_uint_eq(con.user_data, UD_CONNECT);
	ck_assert_msg(con.res == 0, "connect res %d (%s)", con.res, ringo_err_name(con.res));
	ck_assert_uint_eq(con.flags, 0);

	/* The kernel filled in the peer's address. */
	ck_assert_uint_eq(peer_len, sizeof(peer));
	ck_assert_int_eq(peer.sin_family, AF_INET);
	ck_assert_uint_eq(ntohl(peer.sin_addr.s_addr), INADDR_LOOPBACK);
}

#endif
