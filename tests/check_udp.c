/* SPDX-License-Identifier: MIT */
/*
 * UDP handles through the public API: round trips on 127.0.0.1 and ::1 with
 * the sender's address checked against its getsockname, thousands of
 * datagrams each received exactly once (with the number in flight bounded so
 * the receiver's socket buffer is never overrun), truncation to a smaller
 * receive buffer, connected sockets (NULL destinations, peer filtering,
 * ICMP port unreachable surfacing as -ECONNREFUSED), -EMSGSIZE, datagrams
 * gathered from several buffers, recv_stop and recv_start again (also from
 * the callback and with a datagram already waiting), closing with a receive
 * pending and sends in flight, and bad arguments. Every test gets a fresh
 * loop; the teardown closes every handle, checks each close_cb ran once and
 * that the loop closes with nothing left.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fixture_loop.h"

#define SA(a) ((struct sockaddr *)(a))

#define NUDP 4			/* handles a test may use */
#define RX_KEEP 128		/* bytes of each datagram a test may inspect */

/* ---- Fixture ---------------------------------------------------------- */

static ringo_timer_t guard;		/* wakes RUN_UNTIL so it can give up */
static int guard_open;
static ringo_udp_t udp[NUDP];
static int udp_inited[NUDP];		/* ringo_udp_init succeeded on udp[i] */
static int udp_closed[NUDP];		/* close_cb calls per handle */
static int closed_with_sends;		/* send callbacks seen when udp[0]'s close_cb ran */

/* What a handle's recv_cb saw. */
struct rx {
	int calls;		/* datagrams delivered (nread >= 0) */
	int errors;		/* callbacks with nread < 0 */
	ssize_t nread;		/* of the last callback */
	int last_err;		/* nread of the last error */
	unsigned flags;		/* of the last datagram */
	int data_null;		/* an error callback had data or addr set */
	struct sockaddr_storage from;
	unsigned char data[RX_KEEP];
	int stop_in_cb;		/* recv_stop from inside the callback */
};
static struct rx rx[NUDP];

/* A send request that records its completions. */
struct tx {
	ringo_udp_send_t req;
	int calls;
	int status;
	struct iovec iov[3];
};

static int sends_done;		/* send callbacks, all requests */

static void reset_state(void)
{
	memset(udp, 0, sizeof(udp));
	memset(udp_inited, 0, sizeof(udp_inited));
	memset(udp_closed, 0, sizeof(udp_closed));
	memset(rx, 0, sizeof(rx));
	memset(&guard, 0, sizeof(guard));
	guard_open = 0;
	sends_done = 0;
	closed_with_sends = -1;
}

static void open_loop(const struct ringo_loop_opts *opts)
{
	loop_fixture_open(opts);
	if (!loop_open)
		return;
	ck_assert_int_eq(ringo_timer_init(&loop, &guard), 0);
	guard_open = 1;
}

static void setup(void)
{
	/* Without fork mode (CK_FORK=no) every test must start from zero. */
	reset_state();
	open_loop(NULL);
}

static void close_cb(ringo_handle_t *h)
{
	ringo_udp_t *u = (ringo_udp_t *)h;

	udp_closed[u - udp]++;
	if (u == &udp[0])
		closed_with_sends = sends_done;
}

static void close_all(void)
{
	int i;

	for (i = 0; i < NUDP; i++)
		if (udp_inited[i] && !ringo_is_closing(AS_HANDLE(&udp[i])))
			ck_assert_int_eq(ringo_close(AS_HANDLE(&udp[i]), close_cb), 0);
	if (guard_open && !ringo_is_closing(AS_HANDLE(&guard)))
		ck_assert_int_eq(ringo_close(AS_HANDLE(&guard), NULL), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	for (i = 0; i < NUDP; i++)
		if (udp_inited[i])
			ck_assert_msg(udp_closed[i] == 1, "udp[%d]: close_cb ran %d times", i,
				      udp_closed[i]);
}

static void teardown(void)
{
	if (!loop_open)
		return;
	close_all();
	loop_fixture_close();
}

/* Replace the fixture's loop (with no handles open) by one built from `opts`. */
static void reopen(const struct ringo_loop_opts *opts)
{
	close_all();
	ck_assert_int_eq(ringo_loop_close(&loop), 0);
	reset_state();
	open_loop(opts);
	ck_assert(loop_open);
}

static void guard_cb(ringo_timer_t *t)
{
	(void)t;
}

/*
 * Run the loop until `cond` holds, failing after 5 s instead of hanging: a
 * repeating timer keeps RINGO_RUN_ONCE from blocking forever.
 */
#define RUN_UNTIL(cond)                                                                        \
	do {                                                                                   \
		uint64_t deadline_ = test_mono_ms() + 5000;                                         \
                                                                                               \
		ck_assert_int_eq(ringo_timer_start(&guard, guard_cb, 20, 20), 0);             \
		while (!(cond)) {                                                              \
			ck_assert_msg(test_mono_ms() < deadline_, "timed out waiting for %s", #cond); \
			ck_assert_int_ge(ringo_run(&loop, RINGO_RUN_ONCE), 0);                 \
		}                                                                              \
		ck_assert_int_eq(ringo_timer_stop(&guard), 0);                                 \
	} while (0)

/* A few non-blocking iterations with pauses: lets stray completions show up. */
static void run_idle(int rounds)
{
	while (rounds-- > 0) {
		ck_assert_int_ge(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
		test_sleep_ms(5);
	}
	ck_assert_int_ge(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
}

/* ---- Helpers ---------------------------------------------------------- */

static ringo_udp_t *new_udp(int i)
{
	ck_assert_int_eq(ringo_udp_init(&loop, &udp[i]), 0);
	udp_inited[i] = 1;
	ck_assert_int_eq(udp[i].fd, -1);
	return &udp[i];
}

static struct sockaddr_in loopback4(uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sin;
}

/* udp[i] bound to 127.0.0.1 on a kernel-chosen port, written to *out. */
static ringo_udp_t *bound4(int i, struct sockaddr_in *out)
{
	struct sockaddr_in sin = loopback4(0);
	socklen_t len = sizeof(*out);
	ringo_udp_t *u = new_udp(i);

	ck_assert_int_eq(ringo_udp_bind(u, SA(&sin), 0), 0);
	ck_assert_int_ge(u->fd, 0);
	ck_assert_int_eq(ringo_udp_getsockname(u, SA(out), &len), 0);
	ck_assert_uint_eq(len, sizeof(*out));
	ck_assert_int_eq(out->sin_family, AF_INET);
	ck_assert_uint_ne(ntohs(out->sin_port), 0);
	return u;
}

/* The pair most tests use: *a = udp[0] and *b = udp[1], as bound4 makes them. */
static void bound4_pair(ringo_udp_t **a, struct sockaddr_in *a_addr, ringo_udp_t **b,
			struct sockaddr_in *b_addr)
{
	*a = bound4(0, a_addr);
	*b = bound4(1, b_addr);
}

static void recv_cb(ringo_udp_t *u, ssize_t nread, const void *data,
		    const struct sockaddr *addr, unsigned flags)
{
	struct rx *r = &rx[u - udp];

	ck_assert_ptr_eq(u->loop, &loop);
	r->nread = nread;
	if (nread < 0) {
		r->errors++;
		r->last_err = (int)nread;
		if (data || addr)
			r->data_null = 1;
		return;
	}
	r->calls++;
	r->flags = flags;
	ck_assert_ptr_nonnull(addr);
	ck_assert_ptr_nonnull(data);
	memcpy(&r->from, addr,
	       addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					   : sizeof(struct sockaddr_in));
	memcpy(r->data, data, (size_t)nread < RX_KEEP ? (size_t)nread : RX_KEEP);
	if (r->stop_in_cb)
		ck_assert_int_eq(ringo_udp_recv_stop(u), 0);
}

static void send_cb(ringo_udp_send_t *req, int status)
{
	struct tx *t = owner_of(req, struct tx, req);

	t->calls++;
	t->status = status;
	sends_done++;
}

/* Send `len` bytes at `data` from u to addr (may be NULL) with t. */
static void send_buf(struct tx *t, ringo_udp_t *u, const void *data, size_t len,
		     const void *addr)
{
	int ret;

	t->iov[0].iov_base = (void *)data;
	t->iov[0].iov_len = len;
	ret = ringo_udp_send(&t->req, u, t->iov, 1, addr, send_cb);
	ck_assert_msg(ret == 0, "ringo_udp_send: %s", ringo_err_name(ret));
}

static void assert_from4(const struct rx *r, const struct sockaddr_in *want)
{
	const struct sockaddr_in *from = (const struct sockaddr_in *)&r->from;

	ck_assert_int_eq(from->sin_family, AF_INET);
	ck_assert_uint_eq(ntohs(from->sin_port), ntohs(want->sin_port));
	ck_assert_uint_eq(ntohl(from->sin_addr.s_addr), ntohl(want->sin_addr.s_addr));
}

/* A 127.0.0.1 port nobody listens on: bound, read back, closed. */
static struct sockaddr_in closed_port4(void)
{
	struct sockaddr_in sin = loopback4(0);
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, SA(&sin), sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, SA(&sin), &len), 0);
	close(fd);
	return sin;
}

/* ======================================================================
 * Round trips
 * ====================================================================== */

START_TEST(test_roundtrip_ipv4)
{
	static const char ping[] = "ping from a", pong[] = "pong from b!";
	struct sockaddr_in a_addr, b_addr;
	struct tx t1 = { 0 }, t2 = { 0 };
	ringo_udp_t *a, *b;

	REQUIRE_LOOP();
	bound4_pair(&a, &a_addr, &b, &b_addr);
	ck_assert_int_eq(ringo_udp_recv_start(b, recv_cb), 0);
	ck_assert_int_eq(ringo_is_active(AS_HANDLE(b)), 1);
	ck_assert_int_eq(ringo_udp_recv_start(a, recv_cb), 0);

	send_buf(&t1, a, ping, sizeof(ping), &b_addr);
	RUN_UNTIL(t1.calls == 1 && rx[1].calls == 1);
	assert_status(t1.status, 0);
	ck_assert_ptr_eq(t1.req.handle, a);
	ck_assert_int_eq(t1.req.type, RINGO_REQ_UDP_SEND);
	ck_assert_int_eq(rx[1].nread, (ssize_t)sizeof(ping));
	ck_assert_uint_eq(rx[1].flags, 0);
	ck_assert_mem_eq(rx[1].data, ping, sizeof(ping));
	assert_from4(&rx[1], &a_addr);

	/* Reply to whatever address the datagram came from. */
	send_buf(&t2, b, pong, sizeof(pong), &rx[1].from);
	RUN_UNTIL(t2.calls == 1 && rx[0].calls == 1);
	assert_status(t2.status, 0);
	ck_assert_int_eq(rx[0].nread, (ssize_t)sizeof(pong));
	ck_assert_mem_eq(rx[0].data, pong, sizeof(pong));
	assert_from4(&rx[0], &b_addr);

	run_idle(2);
	ck_assert_int_eq(t1.calls, 1);
	ck_assert_int_eq(t2.calls, 1);
	ck_assert_int_eq(rx[0].calls + rx[0].errors + rx[1].calls + rx[1].errors, 2);
}
END_TEST

START_TEST(test_roundtrip_ipv6)
{
	static const char ping[] = "ping over ::1";
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_in6 a_addr, b_addr, *from;
	socklen_t len;
	struct tx t = { 0 };
	ringo_udp_t *a, *b;
	int ret;

	REQUIRE_LOOP();
	a = new_udp(0);
	b = new_udp(1);
	ret = ringo_udp_bind(a, SA(&sin6), 0);
	if (ret == -EAFNOSUPPORT || ret == -EADDRNOTAVAIL)
		TEST_SKIP("no IPv6 loopback: %s", ringo_err_name(ret));
	ck_assert_int_eq(ret, 0);
	ck_assert_int_eq(ringo_udp_bind(b, SA(&sin6), 0), 0);
	len = sizeof(a_addr);
	ck_assert_int_eq(ringo_udp_getsockname(a, SA(&a_addr), &len), 0);
	ck_assert_uint_eq(len, sizeof(a_addr));
	len = sizeof(b_addr);
	ck_assert_int_eq(ringo_udp_getsockname(b, SA(&b_addr), &len), 0);
	ck_assert_int_eq(b_addr.sin6_family, AF_INET6);

	ck_assert_int_eq(ringo_udp_recv_start(b, recv_cb), 0);
	send_buf(&t, a, ping, sizeof(ping), &b_addr);
	RUN_UNTIL(t.calls == 1 && rx[1].calls == 1);
	assert_status(t.status, 0);
	ck_assert_int_eq(rx[1].nread, (ssize_t)sizeof(ping));
	ck_assert_mem_eq(rx[1].data, ping, sizeof(ping));
	from = (struct sockaddr_in6 *)&rx[1].from;
	ck_assert_int_eq(from->sin6_family, AF_INET6);
	ck_assert_uint_eq(ntohs(from->sin6_port), ntohs(a_addr.sin6_port));
	ck_assert_mem_eq(&from->sin6_addr, &in6addr_loopback, sizeof(struct in6_addr));
}
END_TEST

/* ======================================================================
 * Many datagrams: each received exactly once
 * ====================================================================== */

#define BULK_WINDOW 64		/* datagrams sent and not yet received, at most */
#define BULK_LEN 32		/* bytes per datagram: a 4-byte sequence number, then filler */

static struct {
	ringo_udp_t *from;
	struct sockaddr_in to;
	unsigned total;		/* datagrams to send */
	unsigned next;		/* next sequence number to send */
	unsigned received;	/* distinct datagrams received */
	unsigned dups;		/* datagrams seen a second time */
	unsigned bad;		/* wrong length, sequence or filler */
	unsigned send_errors;
	int last_send_error;
	unsigned char *seen;	/* per sequence number: times received */
	unsigned nfree;		/* idle send slots */
	unsigned free_slot[BULK_WINDOW];
	struct tx slot[BULK_WINDOW];
	unsigned char buf[BULK_WINDOW][BULK_LEN];
} bulk;

static void bulk_send_cb(ringo_udp_send_t *req, int status);

/* Start sends while a slot is idle and the receiver is not too far behind. */
static void bulk_pump(void)
{
	unsigned s;

	while (bulk.nfree && bulk.next < bulk.total && bulk.next - bulk.received < BULK_WINDOW) {
		s = bulk.free_slot[--bulk.nfree];
		memcpy(bulk.buf[s], &bulk.next, sizeof(bulk.next));
		memset(bulk.buf[s] + sizeof(bulk.next), (int)(bulk.next & 0xff),
		       BULK_LEN - sizeof(bulk.next));
		bulk.slot[s].iov[0].iov_base = bulk.buf[s];
		bulk.slot[s].iov[0].iov_len = BULK_LEN;
		ck_assert_int_eq(ringo_udp_send(&bulk.slot[s].req, bulk.from, bulk.slot[s].iov, 1,
						SA(&bulk.to), bulk_send_cb),
				 0);
		bulk.next++;
	}
}

static void bulk_send_cb(ringo_udp_send_t *req, int status)
{
	struct tx *t = owner_of(req, struct tx, req);

	t->calls++;
	if (status) {
		bulk.send_errors++;
		bulk.last_send_error = status;
	}
	bulk.free_slot[bulk.nfree++] = (unsigned)(t - bulk.slot);
	bulk_pump();
}

static void bulk_recv_cb(ringo_udp_t *u, ssize_t nread, const void *data,
			 const struct sockaddr *addr, unsigned flags)
{
	const unsigned char *p = data;
	unsigned seq, i;

	(void)u;
	(void)addr;
	if (nread != BULK_LEN || flags) {
		bulk.bad++;
		return;
	}
	memcpy(&seq, p, sizeof(seq));
	if (seq >= bulk.total) {
		bulk.bad++;
		return;
	}
	for (i = sizeof(seq); i < BULK_LEN; i++)
		if (p[i] != (seq & 0xff)) {
			bulk.bad++;
			return;
		}
	if (bulk.seen[seq]++) {
		bulk.dups++;
		return;
	}
	bulk.received++;
	bulk_pump();
}

START_TEST(test_many_datagrams)
{
	struct sockaddr_in a_addr;
	uint64_t last_progress;
	unsigned i, last_received = 0, missing = 0;
	socklen_t optlen;
	int rcvbuf = 0;
	ringo_udp_t *b;

	REQUIRE_LOOP();
	memset(&bulk, 0, sizeof(bulk));
	bulk.total = TEST_SIZE(100000, 5000);
	bulk.seen = calloc(bulk.total, 1);
	ck_assert_ptr_nonnull(bulk.seen);
	bulk.from = bound4(0, &a_addr);
	b = bound4(1, &bulk.to);
	for (i = 0; i < BULK_WINDOW; i++)
		bulk.free_slot[bulk.nfree++] = i;
	ck_assert_int_eq(ringo_udp_recv_start(b, bulk_recv_cb), 0);
	bulk_pump();
	ck_assert_uint_eq(bulk.next, BULK_WINDOW);

	/* Run until all arrived, or nothing has moved for 2 s (lost datagrams). */
	ck_assert_int_eq(ringo_timer_start(&guard, guard_cb, 20, 20), 0);
	last_progress = test_mono_ms();
	while (bulk.received < bulk.total && test_mono_ms() - last_progress < 2000 &&
	       !bulk.send_errors && !bulk.bad && !bulk.dups) {
		ck_assert_int_ge(ringo_run(&loop, RINGO_RUN_ONCE), 0);
		if (bulk.received != last_received) {
			last_received = bulk.received;
			last_progress = test_mono_ms();
		}
	}
	ck_assert_int_eq(ringo_timer_stop(&guard), 0);
	RUN_UNTIL(bulk.nfree == BULK_WINDOW);

	optlen = sizeof(rcvbuf);
	ck_assert_int_eq(getsockopt(b->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &optlen), 0);
	for (i = 0; i < bulk.total; i++)
		missing += !bulk.seen[i];
	ck_assert_msg(!bulk.send_errors, "%u send errors, last %s", bulk.send_errors,
		      ringo_err_name(bulk.last_send_error));
	ck_assert_msg(!bulk.bad && !bulk.dups, "%u malformed, %u duplicate datagrams", bulk.bad,
		      bulk.dups);
	ck_assert_msg(bulk.received == bulk.total && !missing,
		      "received %u of %u (%u missing) with SO_RCVBUF %d and at most %d in flight",
		      bulk.received, bulk.total, missing, rcvbuf, BULK_WINDOW);
	ck_assert_uint_eq(bulk.next, bulk.total);
	for (i = 0; i < BULK_WINDOW; i++)
		ck_assert_int_gt(bulk.slot[i].calls, 0);
	free(bulk.seen);
	bulk.seen = NULL;
}
END_TEST

/* ======================================================================
 * Receive buffer size and truncation
 * ====================================================================== */

START_TEST(test_truncation)
{
	unsigned char big[100], small[16];
	struct sockaddr_in a_addr, b_addr;
	struct tx t1 = { 0 }, t2 = { 0 };
	ringo_udp_t *a, *b;
	unsigned i;

	REQUIRE_LOOP();
	for (i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char)(i * 7 + 1);
	for (i = 0; i < sizeof(small); i++)
		small[i] = (unsigned char)(0xa0 + i);
	bound4_pair(&a, &a_addr, &b, &b_addr);
	ck_assert_int_eq(ringo_udp_set_recv_size(b, 16), 0);
	ck_assert_int_eq(ringo_udp_recv_start(b, recv_cb), 0);

	send_buf(&t1, a, big, sizeof(big), &b_addr);
	RUN_UNTIL(t1.calls == 1 && rx[1].calls == 1);
	assert_status(t1.status, 0);
	ck_assert_int_eq(rx[1].nread, 16);
	ck_assert_uint_eq(rx[1].flags, RINGO_UDP_TRUNCATED);
	ck_assert_mem_eq(rx[1].data, big, 16);
	assert_from4(&rx[1], &a_addr);

	/* Exactly the buffer's size is not truncated. */
	send_buf(&t2, a, small, sizeof(small), &b_addr);
	RUN_UNTIL(t2.calls == 1 && rx[1].calls == 2);
	assert_status(t2.status, 0);
	ck_assert_int_eq(rx[1].nread, 16);
	ck_assert_uint_eq(rx[1].flags, 0);
	ck_assert_mem_eq(rx[1].data, small, 16);
	ck_assert_int_eq(rx[1].errors, 0);
}
END_TEST

START_TEST(test_set_recv_size)
{
	static const char msg[] = "0123456789";
	struct sockaddr_in a_addr, b_addr;
	struct tx t = { 0 };
	ringo_udp_t *a, *b;
	uint64_t deadline;
	int ret;

	REQUIRE_LOOP();
	bound4_pair(&a, &a_addr, &b, &b_addr);
	ck_assert_int_eq(ringo_udp_set_recv_size(b, 0), -EINVAL);
	ck_assert_int_eq(ringo_udp_set_recv_size(b, RINGO_UDP_MAX_DATAGRAM + 1), -EINVAL);
	ck_assert_int_eq(ringo_udp_set_recv_size(b, (size_t)-1), -EINVAL);
	ck_assert_int_eq(ringo_udp_set_recv_size(b, RINGO_UDP_MAX_DATAGRAM), 0);
	ck_assert_int_eq(ringo_udp_set_recv_size(b, 1), 0);
	ck_assert_int_eq(ringo_udp_set_recv_size(NULL, 16), -EINVAL);

	ck_assert_int_eq(ringo_udp_recv_start(b, recv_cb), 0);
	ck_assert_int_eq(ringo_udp_set_recv_size(b, 64), -EBUSY);
	ck_assert_int_eq(ringo_udp_set_recv_size(b, 0), -EINVAL);
	ck_assert_int_eq(ringo_udp_set_recv_size(b, RINGO_UDP_MAX_DATAGRAM + 1), -EINVAL);
	run_idle(1);
	ck_assert_int_eq(ringo_udp_set_recv_size(b, 64), -EBUSY);

	/* A 1-byte buffer: the datagram arrives cut to its first byte. */
	send_buf(&t, a, msg, sizeof(msg), &b_addr);
	RUN_UNTIL(rx[1].calls == 1 && t.calls == 1);
	ck_assert_int_eq(rx[1].nread, 1);
	ck_assert_uint_eq(rx[1].flags, RINGO_UDP_TRUNCATED);
	ck_assert_int_eq(rx[1].data[0], '0');

	/*
	 * After recv_stop the buffer may be resized once the cancelled recvmsg
	 * has come back from the kernel (until then -EBUSY: the kernel still
	 * owns the old buffer). Running the loop gets it back; the running
	 * timer keeps the loop iterating (for an idle loop see
	 * test_set_recv_size_idle_loop).
	 */
	ck_assert_int_eq(ringo_udp_recv_stop(b), 0);
	ck_assert_int_eq(ringo_timer_start(&guard, guard_cb, 1, 1), 0);
	deadline = test_mono_ms() + 2000;
	while ((ret = ringo_udp_set_recv_size(b, 64)) == -EBUSY && test_mono_ms() < deadline)
		ck_assert_int_ge(ringo_run(&loop, RINGO_RUN_ONCE), 0);
	ck_assert_int_eq(ringo_timer_stop(&guard), 0);
	assert_status(ret, 0);
	ck_assert_int_eq(ringo_udp_recv_start(b, recv_cb), 0);
	memset(&t, 0, sizeof(t));
	send_buf(&t, a, msg, sizeof(msg), &b_addr);
	RUN_UNTIL(rx[1].calls == 2 && t.calls == 1);
	ck_assert_int_eq(rx[1].nread, (ssize_t)sizeof(msg));
	ck_assert_uint_eq(rx[1].flags, 0);
	ck_assert_mem_eq(rx[1].data, msg, sizeof(msg));
}
END_TEST

/*
 * recv_stop on a loop with nothing else to do: ringo_run(DEFAULT) returns,
 * and then "not receiving" must mean set_recv_size is allowed. The
 * cancelled recvmsg's CQE has to be reaped for that; an idle loop that
 * returns at once never reaps it.
 */
START_TEST(test_set_recv_size_idle_loop)
{
	struct sockaddr_in b_addr;
	ringo_udp_t *b;

	REQUIRE_LOOP();
	b = bound4(1, &b_addr);
	ck_assert_int_eq(ringo_udp_recv_start(b, recv_cb), 0);
	ck_assert_int_gt(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);	/* recvmsg in the kernel */
	ck_assert_int_eq(ringo_udp_recv_stop(b), 0);
	ck_assert_int_eq(ringo_loop_alive(&loop), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	assert_status(ringo_udp_set_recv_size(b, 64), 0);
	ck_assert_int_eq(rx[1].calls + rx[1].errors, 0);
}
END_TEST

/* ======================================================================
 * Connected sockets and send errors
 * ====================================================================== */

START_TEST(test_connected)
{
	static const char m1[] = "to the peer", m2[] = "from a stranger", m3[] = "from the peer";
	struct sockaddr_in a_addr, b_addr, c_addr;
	struct tx t1 = { 0 }, t2 = { 0 }, t3 = { 0 };
	ringo_udp_t *a, *b, *c;

	REQUIRE_LOOP();
	bound4_pair(&a, &a_addr, &b, &b_addr);
	c = bound4(2, &c_addr);
	ck_assert_int_eq(ringo_udp_connect(a, SA(&b_addr)), 0);
	ck_assert_int_eq(ringo_udp_recv_start(a, recv_cb), 0);
	ck_assert_int_eq(ringo_udp_recv_start(b, recv_cb), 0);

	/* NULL destination: the connected peer. */
	send_buf(&t1, a, m1, sizeof(m1), NULL);
	RUN_UNTIL(t1.calls == 1 && rx[1].calls == 1);
	assert_status(t1.status, 0);
	ck_assert_int_eq(rx[1].nread, (ssize_t)sizeof(m1));
	ck_assert_mem_eq(rx[1].data, m1, sizeof(m1));
	assert_from4(&rx[1], &a_addr);

	/* Only the peer's datagrams reach a connected socket: c's is dropped. */
	send_buf(&t2, c, m2, sizeof(m2), &a_addr);
	RUN_UNTIL(t2.calls == 1);
	assert_status(t2.status, 0);
	send_buf(&t3, b, m3, sizeof(m3), &a_addr);
	RUN_UNTIL(t3.calls == 1 && rx[0].calls == 1);
	run_idle(2);
	ck_assert_int_eq(rx[0].calls, 1);
	ck_assert_int_eq(rx[0].errors, 0);
	ck_assert_int_eq(rx[0].nread, (ssize_t)sizeof(m3));
	ck_assert_mem_eq(rx[0].data, m3, sizeof(m3));
	assert_from4(&rx[0], &b_addr);
}
END_TEST

START_TEST(test_connect_unbound)
{
	static const char msg[] = "implicit bind";
	struct sockaddr_in a_addr, b_addr;
	socklen_t len = sizeof(a_addr);
	struct tx t = { 0 };
	ringo_udp_t *a, *b;

	REQUIRE_LOOP();
	a = new_udp(0);
	b = bound4(1, &b_addr);
	/* connect makes the socket; the kernel binds it to an ephemeral port. */
	ck_assert_int_eq(ringo_udp_connect(a, SA(&b_addr)), 0);
	ck_assert_int_ge(a->fd, 0);
	ck_assert_int_eq(ringo_udp_getsockname(a, SA(&a_addr), &len), 0);
	ck_assert_uint_ne(ntohs(a_addr.sin_port), 0);
	ck_assert_int_eq(ringo_udp_recv_start(b, recv_cb), 0);
	send_buf(&t, a, msg, sizeof(msg), NULL);
	RUN_UNTIL(t.calls == 1 && rx[1].calls == 1);
	assert_status(t.status, 0);
	assert_from4(&rx[1], &a_addr);
}
END_TEST

START_TEST(test_send_no_destination)
{
	static const char msg[] = "nowhere";
	struct sockaddr_in a_addr;
	struct tx t = { 0 };
	ringo_udp_t *a, *u;

	REQUIRE_LOOP();
	/* No socket yet and no address: refused at once, no callback. */
	u = new_udp(0);
	t.iov[0].iov_base = (void *)msg;
	t.iov[0].iov_len = sizeof(msg);
	ck_assert_int_eq(ringo_udp_send(&t.req, u, t.iov, 1, NULL, send_cb), -EDESTADDRREQ);
	ck_assert_int_eq(u->fd, -1);

	/* A bound, unconnected socket: the kernel says so, in the callback. */
	a = bound4(1, &a_addr);
	send_buf(&t, a, msg, sizeof(msg), NULL);
	RUN_UNTIL(t.calls == 1);
	assert_status(t.status, -EDESTADDRREQ);
	run_idle(1);
	ck_assert_int_eq(t.calls, 1);
	ck_assert_int_eq(sends_done, 1);
}
END_TEST

/*
 * A connected socket whose peer port is closed: the ICMP port unreachable
 * sets the socket error, which the next recvmsg (in flight here) or
 * sendmsg returns. Either way -ECONNREFUSED must surface within a few sends.
 */
START_TEST(test_connrefused)
{
	static const char msg[] = "anyone?";
	struct sockaddr_in a_addr, dead = closed_port4();
	int tries, refused_send = 0, i;
	struct tx t[5];
	ringo_udp_t *a;

	REQUIRE_LOOP();
	memset(t, 0, sizeof(t));
	a = bound4(0, &a_addr);
	ck_assert_int_eq(ringo_udp_connect(a, SA(&dead)), 0);
	ck_assert_int_eq(ringo_udp_recv_start(a, recv_cb), 0);
	for (tries = 0; tries < 5; tries++) {
		send_buf(&t[tries], a, msg, sizeof(msg), NULL);
		RUN_UNTIL(t[tries].calls == 1);
		run_idle(2);
		if (t[tries].status == -ECONNREFUSED)
			refused_send++;
		else
			assert_status(t[tries].status, 0);
		if (refused_send || rx[0].errors)
			break;
	}
	ck_assert_msg(refused_send || rx[0].errors, "no ECONNREFUSED after %d sends", tries);
	ck_assert_int_eq(rx[0].calls, 0);
	if (rx[0].errors) {
		/* An error stops receiving: one callback, and the handle is idle. */
		ck_assert_int_eq(rx[0].errors, 1);
		assert_status(rx[0].last_err, -ECONNREFUSED);
		ck_assert_int_eq(rx[0].data_null, 0);
		ck_assert_int_eq(ringo_is_active(AS_HANDLE(a)), 0);
		ck_assert_int_eq(ringo_udp_recv_stop(a), 0);
	}
	for (i = 0; i <= tries && i < 5; i++)
		ck_assert_int_eq(t[i].calls, 1);
}
END_TEST

START_TEST(test_emsgsize)
{
	struct sockaddr_in a_addr, b_addr;
	size_t len = 70000;
	struct tx t = { 0 };
	unsigned char *big;
	ringo_udp_t *a, *b;

	REQUIRE_LOOP();
	big = calloc(1, len);
	ck_assert_ptr_nonnull(big);
	bound4_pair(&a, &a_addr, &b, &b_addr);
	ck_assert_int_eq(ringo_udp_recv_start(b, recv_cb), 0);
	send_buf(&t, a, big, len, &b_addr);
	RUN_UNTIL(t.calls == 1);
	assert_status(t.status, -EMSGSIZE);
	run_idle(2);
	ck_assert_int_eq(t.calls, 1);
	ck_assert_int_eq(rx[1].calls + rx[1].errors, 0);
	free(big);
}
END_TEST

START_TEST(test_multi_buffer_send)
{
	static const char p0[] = "abc", p1[] = "defgh", p2[] = "ij";
	struct sockaddr_in a_addr, b_addr;
	struct tx t = { 0 };
	ringo_udp_t *a, *b;

	REQUIRE_LOOP();
	bound4_pair(&a, &a_addr, &b, &b_addr);
	ck_assert_int_eq(ringo_udp_recv_start(b, recv_cb), 0);
	t.iov[0] = (struct iovec){ .iov_base = (void *)p0, .iov_len = 3 };
	t.iov[1] = (struct iovec){ .iov_base = (void *)p1, .iov_len = 5 };
	t.iov[2] = (struct iovec){ .iov_base = (void *)p2, .iov_len = 2 };
	ck_assert_int_eq(ringo_udp_send(&t.req, a, t.iov, 3, SA(&b_addr), send_cb), 0);
	RUN_UNTIL(t.calls == 1 && rx[1].calls == 1);
	assert_status(t.status, 0);
	run_idle(2);
	ck_assert_int_eq(rx[1].calls, 1);
	ck_assert_int_eq(rx[1].nread, 10);
	ck_assert_uint_eq(rx[1].flags, 0);
	ck_assert_mem_eq(rx[1].data, "abcdefghij", 10);
	assert_from4(&rx[1], &a_addr);
}
END_TEST

/* ======================================================================
 * recv_stop / recv_start
 * ====================================================================== */

START_TEST(test_recv_stop_start)
{
	static const char m1[] = "one", m2[] = "two";
	struct sockaddr_in a_addr, b_addr;
	struct tx t1 = { 0 }, t2 = { 0 };
	ringo_udp_t *a, *b;

	REQUIRE_LOOP();
	bound4_pair(&a, &a_addr, &b, &b_addr);
	ck_assert_int_eq(ringo_udp_recv_stop(b), 0);	/* not receiving: fine */
	ck_assert_int_eq(ringo_udp_recv_start(b, recv_cb), 0);
	send_buf(&t1, a, m1, sizeof(m1), &b_addr);
	RUN_UNTIL(t1.calls == 1 && rx[1].calls == 1);
	ck_assert_mem_eq(rx[1].data, m1, sizeof(m1));

	ck_assert_int_eq(ringo_udp_recv_stop(b), 0);
	ck_assert_int_eq(ringo_udp_recv_stop(b), 0);	/* idempotent */
	ck_assert_int_eq(ringo_is_active(AS_HANDLE(b)), 0);
	send_buf(&t2, a, m2, sizeof(m2), &b_addr);
	RUN_UNTIL(t2.calls == 1);
	assert_status(t2.status, 0);
	run_idle(4);
	ck_assert_int_eq(rx[1].calls, 1);
	ck_assert_int_eq(rx[1].errors, 0);

	/* The datagram waited in the socket for the next recv_start. */
	ck_assert_int_eq(ringo_udp_recv_start(b, recv_cb), 0);
	RUN_UNTIL(rx[1].calls == 2);
	ck_assert_int_eq(rx[1].nread, (ssize_t)sizeof(m2));
	ck_assert_mem_eq(rx[1].data, m2, sizeof(m2));
	ck_assert_int_eq(rx[1].errors, 0);
}
END_TEST

START_TEST(test_recv_stop_in_callback)
{
	static const char m1[] = "first", m2[] = "second";
	struct sockaddr_in a_addr, b_addr;
	struct tx t1 = { 0 }, t2 = { 0 };
	ringo_udp_t *a, *b;

	REQUIRE_LOOP();
	bound4_pair(&a, &a_addr, &b, &b_addr);
	rx[1].stop_in_cb = 1;
	ck_assert_int_eq(ringo_udp_recv_start(b, recv_cb), 0);
	send_buf(&t1, a, m1, sizeof(m1), &b_addr);
	send_buf(&t2, a, m2, sizeof(m2), &b_addr);
	RUN_UNTIL(t1.calls == 1 && t2.calls == 1 && rx[1].calls == 1);
	run_idle(4);
	ck_assert_int_eq(rx[1].calls, 1);
	ck_assert_mem_eq(rx[1].data, m1, sizeof(m1));
	ck_assert_int_eq(ringo_is_active(AS_HANDLE(b)), 0);

	rx[1].stop_in_cb = 0;
	ck_assert_int_eq(ringo_udp_recv_start(b, recv_cb), 0);
	RUN_UNTIL(rx[1].calls == 2);
	ck_assert_mem_eq(rx[1].data, m2, sizeof(m2));
	run_idle(2);
	ck_assert_int_eq(rx[1].calls, 2);
	ck_assert_int_eq(rx[1].errors, 0);
}
END_TEST

/*
 * recv_stop while a datagram already sits in the socket and the recvmsg is
 * in the kernel: the datagram must not be consumed and dropped; the next
 * recv_start delivers it. Both task-run modes (_i: 0 default, 1
 * RINGO_LOOP_NO_DEFER_TASKRUN) since they reap completions differently.
 */
START_TEST(test_recv_stop_with_datagram_waiting)
{
	static const char msg[] = "waiting";
	struct sockaddr_in b_addr;
	struct ringo_loop_opts opts;
	ringo_udp_t *b;
	int fd;

	REQUIRE_LOOP();
	if (_i) {
		ringo_loop_opts_init(&opts);
		opts.flags = RINGO_LOOP_NO_DEFER_TASKRUN;
		reopen(&opts);
	}
	b = bound4(1, &b_addr);
	ck_assert_int_eq(ringo_udp_recv_start(b, recv_cb), 0);
	ck_assert_int_ge(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);	/* recvmsg in the kernel */

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(sendto(fd, msg, sizeof(msg), 0, SA(&b_addr), sizeof(b_addr)),
			 (ssize_t)sizeof(msg));
	close(fd);
	test_sleep_ms(10);

	ck_assert_int_eq(ringo_udp_recv_stop(b), 0);
	run_idle(4);
	ck_assert_int_eq(rx[1].calls, 0);
	ck_assert_int_eq(rx[1].errors, 0);

	ck_assert_int_eq(ringo_udp_recv_start(b, recv_cb), 0);
	RUN_UNTIL(rx[1].calls == 1);
	ck_assert_int_eq(rx[1].nread, (ssize_t)sizeof(msg));
	ck_assert_mem_eq(rx[1].data, msg, sizeof(msg));
}
END_TEST

/* ======================================================================
 * Close
 * ====================================================================== */

#define CLOSE_SENDS 32

/*
 * Close a handle with its recvmsg pending and CLOSE_SENDS sends in flight:
 * _i 0 closes before the loop submitted anything, 1 after one iteration
 * put them in the kernel. Every send callback runs once (0 or
 * -ECANCELED), the receive callback never, close_cb once and last.
 */
START_TEST(test_close_with_ops_in_flight)
{
	static const char msg[] = "in flight";
	struct sockaddr_in a_addr, b_addr;
	struct tx t[CLOSE_SENDS], extra = { 0 };
	ringo_udp_t *a, *b;
	int i;

	REQUIRE_LOOP();
	memset(t, 0, sizeof(t));
	bound4_pair(&a, &a_addr, &b, &b_addr);
	ck_assert_int_eq(ringo_udp_recv_start(a, recv_cb), 0);
	ck_assert_int_eq(ringo_udp_recv_start(b, recv_cb), 0);
	if (_i)
		ck_assert_int_ge(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	for (i = 0; i < CLOSE_SENDS; i++)
		send_buf(&t[i], a, msg, sizeof(msg), &b_addr);
	if (_i)
		ck_assert_int_ge(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);

	ck_assert_int_eq(ringo_close(AS_HANDLE(a), close_cb), 0);
	ck_assert_int_eq(ringo_is_closing(AS_HANDLE(a)), 1);
	ck_assert_int_eq(ringo_close(AS_HANDLE(a), close_cb), -EALREADY);
	extra.iov[0] = t[0].iov[0];
	ck_assert_int_eq(ringo_udp_send(&extra.req, a, extra.iov, 1, SA(&b_addr), send_cb),
			 -EINVAL);
	ck_assert_int_eq(ringo_udp_recv_start(a, recv_cb), -EINVAL);

	RUN_UNTIL(udp_closed[0] == 1);
	ck_assert_int_eq(closed_with_sends, CLOSE_SENDS);
	for (i = 0; i < CLOSE_SENDS; i++) {
		ck_assert_msg(t[i].calls == 1, "send %d: %d callbacks", i, t[i].calls);
		ck_assert_msg(t[i].status == 0 || t[i].status == -ECANCELED, "send %d: %s", i,
			      ringo_err_name(t[i].status));
	}
	run_idle(2);
	ck_assert_int_eq(udp_closed[0], 1);
	ck_assert_int_eq(rx[0].calls + rx[0].errors, 0);
	ck_assert_int_eq(sends_done, CLOSE_SENDS);
	ck_assert_int_le(rx[1].calls, CLOSE_SENDS);
	ck_assert_int_eq(rx[1].errors, 0);
}
END_TEST

/* Close a handle that never got a socket, and one that only received. */
START_TEST(test_close_idle)
{
	struct sockaddr_in b_addr;
	ringo_udp_t *b;

	REQUIRE_LOOP();
	new_udp(0);
	b = bound4(1, &b_addr);
	ck_assert_int_eq(ringo_udp_recv_start(b, recv_cb), 0);
	ck_assert_int_ge(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	ck_assert_int_eq(ringo_close(AS_HANDLE(&udp[0]), close_cb), 0);
	ck_assert_int_eq(ringo_close(AS_HANDLE(b), close_cb), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(udp_closed[0], 1);
	ck_assert_int_eq(udp_closed[1], 1);
	ck_assert_int_eq(rx[1].calls + rx[1].errors, 0);
}
END_TEST

/*
 * The one thing left in the loop is a handle whose recvmsg is in the kernel:
 * closing it cancels the recvmsg, and ringo_run must reap that cancellation
 * and run close_cb, so the loop can close. (Elsewhere the fixture's timer is
 * closed in the same run and keeps the loop iterating; here it is gone.)
 */
START_TEST(test_close_recv_pending_alone)
{
	struct sockaddr_in b_addr;
	ringo_udp_t *b;

	REQUIRE_LOOP();
	ck_assert_int_eq(ringo_close(AS_HANDLE(&guard), NULL), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	guard_open = 0;
	b = bound4(1, &b_addr);
	ck_assert_int_eq(ringo_udp_recv_start(b, recv_cb), 0);
	ck_assert_int_gt(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	ck_assert_int_eq(ringo_close(AS_HANDLE(b), close_cb), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_msg(udp_closed[1] == 1, "close_cb ran %d times", udp_closed[1]);
	ck_assert_int_eq(rx[1].calls + rx[1].errors, 0);
}
END_TEST

/* ======================================================================
 * Bad arguments
 * ====================================================================== */

START_TEST(test_bad_arguments)
{
	static const char msg[] = "x";
	struct sockaddr_un sun = { .sun_family = AF_UNIX, .sun_path = "/tmp/ringo-nope" };
	struct sockaddr_in any = loopback4(0), b_addr;
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = 1 };
	ringo_udp_t zeroed, *u, *b;
	ringo_udp_send_t req;
	struct sockaddr_in name;
	socklen_t len = sizeof(name);

	REQUIRE_LOOP();
	memset(&zeroed, 0, sizeof(zeroed));
	memset(&req, 0, sizeof(req));
	ck_assert_int_eq(ringo_udp_init(NULL, &zeroed), -EINVAL);
	ck_assert_int_eq(ringo_udp_init(&loop, NULL), -EINVAL);

	/* A handle that was never initialised. */
	ck_assert_int_eq(ringo_udp_bind(&zeroed, SA(&any), 0), -EINVAL);
	ck_assert_int_eq(ringo_udp_connect(&zeroed, SA(&any)), -EINVAL);
	ck_assert_int_eq(ringo_udp_send(&req, &zeroed, &iov, 1, SA(&any), send_cb), -EINVAL);
	ck_assert_int_eq(ringo_udp_recv_start(&zeroed, recv_cb), -EINVAL);
	ck_assert_int_eq(ringo_udp_recv_stop(&zeroed), -EINVAL);
	ck_assert_int_eq(ringo_udp_set_recv_size(&zeroed, 16), -EINVAL);
	ck_assert_int_eq(ringo_close(AS_HANDLE(&zeroed), NULL), -EINVAL);

	/* NULL handles. */
	ck_assert_int_eq(ringo_udp_bind(NULL, SA(&any), 0), -EINVAL);
	ck_assert_int_eq(ringo_udp_connect(NULL, SA(&any)), -EINVAL);
	ck_assert_int_eq(ringo_udp_send(&req, NULL, &iov, 1, SA(&any), send_cb), -EINVAL);
	ck_assert_int_eq(ringo_udp_recv_start(NULL, recv_cb), -EINVAL);
	ck_assert_int_eq(ringo_udp_recv_stop(NULL), -EINVAL);
	ck_assert_int_eq(ringo_udp_getsockname(NULL, SA(&name), &len), -EINVAL);

	u = new_udp(0);
	/* No socket yet. */
	ck_assert_int_eq(ringo_udp_recv_start(u, recv_cb), -ENOTCONN);
	ck_assert_int_eq(ringo_udp_getsockname(u, SA(&name), &len), -EINVAL);
	/* Bad addresses: NULL, AF_UNIX, bad flags. None opens a socket. */
	ck_assert_int_eq(ringo_udp_bind(u, NULL, 0), -EINVAL);
	ck_assert_int_eq(ringo_udp_bind(u, SA(&sun), 0), -EINVAL);
	ck_assert_int_eq(ringo_udp_bind(u, SA(&any), 0x80), -EINVAL);
	ck_assert_int_eq(ringo_udp_connect(u, NULL), -EINVAL);
	ck_assert_int_eq(ringo_udp_connect(u, SA(&sun)), -EINVAL);
	ck_assert_int_eq(u->fd, -1);

	b = bound4(1, &b_addr);
	/* Bad send arguments: none starts anything. */
	ck_assert_int_eq(ringo_udp_send(NULL, b, &iov, 1, SA(&b_addr), send_cb), -EINVAL);
	ck_assert_int_eq(ringo_udp_send(&req, b, NULL, 1, SA(&b_addr), send_cb), -EINVAL);
	ck_assert_int_eq(ringo_udp_send(&req, b, &iov, 0, SA(&b_addr), send_cb), -EINVAL);
	ck_assert_int_eq(ringo_udp_send(&req, b, &iov, 1, SA(&b_addr), NULL), -EINVAL);
	ck_assert_int_eq(ringo_udp_send(&req, b, &iov, 1, SA(&sun), send_cb), -EINVAL);
	ck_assert_int_eq(ringo_udp_send(&req, b, &iov, 1u << 20, SA(&b_addr), send_cb), -EINVAL);
	ck_assert_int_eq(ringo_udp_getsockname(b, NULL, &len), -EINVAL);
	ck_assert_int_eq(ringo_udp_getsockname(b, SA(&name), NULL), -EINVAL);

	ck_assert_int_eq(ringo_udp_recv_start(b, NULL), -EINVAL);
	ck_assert_int_eq(ringo_udp_recv_start(b, recv_cb), 0);
	ck_assert_int_eq(ringo_udp_recv_start(b, recv_cb), -EALREADY);

	run_idle(2);
	ck_assert_int_eq(sends_done, 0);
	ck_assert_int_eq(rx[1].calls + rx[1].errors, 0);
	ck_assert_int_eq(ringo_udp_recv_stop(b), 0);
}
END_TEST

/* ---- Suite ------------------------------------------------------------ */

static Suite *suite(void)
{
	Suite *s = suite_create("udp");
	TCase *trip = test_tcase(s, "roundtrip", setup, teardown, 60);
	TCase *bulk_tc = test_tcase(s, "bulk", setup, teardown, 60);
	TCase *trunc = test_tcase(s, "truncation", setup, teardown, 60);
	TCase *conn = test_tcase(s, "connected", setup, teardown, 60);
	TCase *recv = test_tcase(s, "recv", setup, teardown, 60);
	TCase *close_tc = test_tcase(s, "close", setup, teardown, 60);
	TCase *args = test_tcase(s, "args", setup, teardown, 60);

	tcase_add_test(trip, test_roundtrip_ipv4);
	tcase_add_test(trip, test_roundtrip_ipv6);
	tcase_add_test(trip, test_multi_buffer_send);

	tcase_add_test(bulk_tc, test_many_datagrams);

	tcase_add_test(trunc, test_truncation);
	tcase_add_test(trunc, test_set_recv_size);
	tcase_add_test(trunc, test_set_recv_size_idle_loop);

	tcase_add_test(conn, test_connected);
	tcase_add_test(conn, test_connect_unbound);
	tcase_add_test(conn, test_send_no_destination);
	tcase_add_test(conn, test_connrefused);
	tcase_add_test(conn, test_emsgsize);

	tcase_add_test(recv, test_recv_stop_start);
	tcase_add_test(recv, test_recv_stop_in_callback);
	tcase_add_loop_test(recv, test_recv_stop_with_datagram_waiting, 0, 2);

	tcase_add_loop_test(close_tc, test_close_with_ops_in_flight, 0, 2);
	tcase_add_test(close_tc, test_close_idle);
	tcase_add_test(close_tc, test_close_recv_pending_alone);

	tcase_add_test(args, test_bad_arguments);
	return s;
}

int main(void)
{
	return test_main(suite());
}
