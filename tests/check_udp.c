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
 * pending and sends in flight, and bad arguments.
 *
 * Every receiving test runs under each loop configuration in `configs`:
 * multishot recvmsg into the loop's datagram pool (the default), and the
 * single-shot path forced by RINGO_LOOP_NO_MULTISHOT or
 * RINGO_LOOP_NO_BUF_RING. On top of the shared tests: every datagram size
 * from 0 bytes to the largest over IPv4, whole and cut to a receive size;
 * sender addresses of interleaved senders (IPv4 and IPv6); a burst larger
 * than the pool's first chunk (the multishot recvmsg runs out of buffers
 * and is re-armed: counted in SQEs); datagrams the kernel delivered after
 * recv_stop kept in order for the next recv_start, or given back at close
 * (also the one a single-shot recvmsg took after a stop from another
 * callback); a pool whose every buffer sits in stopped handles' stashes,
 * where another handle must still receive. Every test gets a fresh loop;
 * the teardown closes every handle, checks each close_cb ran once and that
 * the loop closes with nothing left.
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

#define NUDP 17			/* handles a test may use (test_pool_held_by_stashes: all) */
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

/* The loop configurations every receiving test runs under (loop test index). */
static const struct config {
	unsigned flags;
	const char *name;
} configs[] = {
	{ 0, "multishot recvmsg, datagram pool" },
	{ RINGO_LOOP_NO_MULTISHOT, "single-shot recvmsg" },
	{ RINGO_LOOP_NO_BUF_RING, "single-shot recvmsg, no buffer rings" },
};
#define NCONFIGS ((int)(sizeof(configs) / sizeof(configs[0])))
static int cfg;			/* configs[] index of the running test */

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

/* Run the test under configs[i] (extra: more RINGO_LOOP_* flags). */
static void use_config(int i, unsigned extra)
{
	struct ringo_loop_opts opts;

	cfg = i;
	if (!configs[i].flags && !extra)
		return;
	ringo_loop_opts_init(&opts);
	opts.flags = configs[i].flags | extra;
	reopen(&opts);
}

/*
 * 1 when the running configuration should receive through multishot
 * recvmsg: the default loop on 6.0+ (multishot recvmsg and buffer rings).
 */
static int multishot_expected(void)
{
	return configs[cfg].flags == 0 && test_kernel_at_least(6, 0);
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
	use_config(_i, 0);
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
	use_config(_i, 0);
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
	struct ringo_loop_metrics m0;
	uint64_t last_progress, sqes;
	unsigned i, last_received = 0, missing = 0;
	socklen_t optlen;
	int rcvbuf = 0;
	ringo_udp_t *b;

	REQUIRE_LOOP();
	use_config(_i, 0);
	memset(&bulk, 0, sizeof(bulk));
	bulk.total = TEST_SIZE(100000, 5000);
	bulk.seen = calloc(bulk.total, 1);
	ck_assert_ptr_nonnull(bulk.seen);
	bulk.from = bound4(0, &a_addr);
	b = bound4(1, &bulk.to);
	for (i = 0; i < BULK_WINDOW; i++)
		bulk.free_slot[bulk.nfree++] = i;
	ck_assert_int_eq(ringo_udp_recv_start(b, bulk_recv_cb), 0);
	m0 = metrics();
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
	/*
	 * One SQE per send; receiving adds one per datagram single-shot, and
	 * only a re-arm now and then (-ENOBUFS while the pool grows) multishot.
	 */
	sqes = metrics().submitted - m0.submitted;
	if (multishot_expected())
		ck_assert_msg(sqes < bulk.total + bulk.total / 8, "%llu SQEs for %u datagrams",
			      (unsigned long long)sqes, bulk.total);
	else if (configs[cfg].flags)
		ck_assert_msg(sqes >= 2ULL * bulk.total, "%llu SQEs for %u datagrams",
			      (unsigned long long)sqes, bulk.total);
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
	use_config(_i, 0);
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
	use_config(_i, 0);
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
	use_config(_i, 0);
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
	use_config(_i, 0);
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
	use_config(_i, 0);
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
	use_config(_i, 0);
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
	use_config(_i, 0);
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
	use_config(_i, 0);
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
	use_config(_i, 0);
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
	use_config(_i, 0);
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
 * recv_start delivers it. Both task-run modes (_i / NCONFIGS: 0 default, 1
 * RINGO_LOOP_NO_DEFER_TASKRUN) since they reap completions differently.
 */
START_TEST(test_recv_stop_with_datagram_waiting)
{
	static const char msg[] = "waiting";
	struct sockaddr_in b_addr;
	ringo_udp_t *b;
	int fd;

	REQUIRE_LOOP();
	use_config(_i % NCONFIGS, _i / NCONFIGS ? RINGO_LOOP_NO_DEFER_TASKRUN : 0);
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
 * Datagrams from plain sockets: sizes, senders, bursts, the stash
 * ====================================================================== */

/* A UDP socket bound to the loopback of `family` on a kernel-chosen port,
 * its address in *addr; -1 when the family has no loopback here. */
static int raw_udp(int family, struct sockaddr_storage *addr)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_in sin = loopback4(0);
	socklen_t len = family == AF_INET6 ? sizeof(sin6) : sizeof(sin);
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (bind(fd, family == AF_INET6 ? SA(&sin6) : SA(&sin), len)) {
		close(fd);
		return -1;
	}
	ck_assert_int_eq(getsockname(fd, SA(addr), &len), 0);
	return fd;
}

static void raw_send(int fd, const void *to, const void *buf, size_t len)
{
	const struct sockaddr *sa = to;
	socklen_t tolen = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						    : sizeof(struct sockaddr_in);

	ck_assert_msg(sendto(fd, buf, len, 0, sa, tolen) == (ssize_t)len, "sendto %zu bytes: %s",
		      len, strerror(errno));
}

/* Same family, port and address. */
static int same_addr(const struct sockaddr *a, const struct sockaddr_storage *b)
{
	const struct sockaddr_in6 *a6 = (const void *)a, *b6 = (const void *)b;
	const struct sockaddr_in *a4 = (const void *)a, *b4 = (const void *)b;

	if (a->sa_family != b->ss_family)
		return 0;
	if (a->sa_family == AF_INET6)
		return a6->sin6_port == b6->sin6_port &&
		       !memcmp(&a6->sin6_addr, &b6->sin6_addr, sizeof(a6->sin6_addr));
	return a4->sin_port == b4->sin_port && a4->sin_addr.s_addr == b4->sin_addr.s_addr;
}

/* What sized_recv_cb saw of the datagram it was told to expect. */
static struct {
	const unsigned char *sent;	/* the bytes sent */
	size_t sent_len;
	struct sockaddr_storage sender;
	int calls;
	ssize_t nread;
	unsigned flags;
	int data_ok;			/* the nread bytes equal the first nread sent */
	int addr_ok;
} sized;

static void sized_recv_cb(ringo_udp_t *u, ssize_t nread, const void *data,
			  const struct sockaddr *addr, unsigned flags)
{
	(void)u;
	sized.calls++;
	sized.nread = nread;
	sized.flags = flags;
	sized.data_ok = nread >= 0 && (size_t)nread <= sized.sent_len && data &&
			!memcmp(data, sized.sent, (size_t)nread);
	sized.addr_ok = addr && same_addr(addr, &sized.sender);
}

/* Send `len` bytes from fd to `to` and check what u's callback got. */
static void expect_sized(int fd, const struct sockaddr_in *to, unsigned char *buf, size_t len,
			 size_t recv_size)
{
	size_t i, want = len < recv_size ? len : recv_size;
	int calls = sized.calls;

	for (i = 0; i < len; i++)
		buf[i] = (unsigned char)(i * 31 + len);
	sized.sent = buf;
	sized.sent_len = len;
	raw_send(fd, to, buf, len);
	RUN_UNTIL(sized.calls == calls + 1);
	ck_assert_msg(sized.nread == (ssize_t)want, "%zu bytes sent, receive size %zu: nread %zd",
		      len, recv_size, sized.nread);
	ck_assert_msg(sized.flags == (len > recv_size ? RINGO_UDP_TRUNCATED : 0),
		      "%zu bytes sent, receive size %zu: flags %u", len, recv_size, sized.flags);
	ck_assert_msg(sized.data_ok, "%zu bytes sent: payload differs", len);
	ck_assert_msg(sized.addr_ok, "%zu bytes sent: wrong sender address", len);
}

/*
 * Every size from an empty datagram (which also ends a multishot recvmsg:
 * it must be re-armed) to the largest one IPv4 carries, whole with the
 * default receive size, then cut to 100 bytes.
 */
START_TEST(test_datagram_sizes)
{
	static const size_t whole[] = { 0, 1, 43, 100, 1472, 9000, 16384, 30000, 65507, 7 };
	static const size_t cut[] = { 0, 99, 100, 101, 5000, 65507, 0, 1 };
	struct sockaddr_in b_addr;
	unsigned char *buf;
	ringo_udp_t *b;
	unsigned i;
	int fd;

	REQUIRE_LOOP();
	use_config(_i, 0);
	memset(&sized, 0, sizeof(sized));
	buf = malloc(65507);
	ck_assert_ptr_nonnull(buf);
	fd = raw_udp(AF_INET, &sized.sender);
	ck_assert_int_ge(fd, 0);
	b = bound4(1, &b_addr);
	ck_assert_int_eq(ringo_udp_recv_start(b, sized_recv_cb), 0);
	for (i = 0; i < sizeof(whole) / sizeof(whole[0]); i++)
		expect_sized(fd, &b_addr, buf, whole[i], RINGO_UDP_MAX_DATAGRAM);

	ck_assert_int_eq(ringo_udp_recv_stop(b), 0);
	ck_assert_int_eq(ringo_udp_set_recv_size(b, 100), 0);
	ck_assert_int_eq(ringo_udp_recv_start(b, sized_recv_cb), 0);
	for (i = 0; i < sizeof(cut) / sizeof(cut[0]); i++)
		expect_sized(fd, &b_addr, buf, cut[i], 100);
	run_idle(2);
	ck_assert_int_eq(sized.calls,
			 (int)(sizeof(whole) / sizeof(whole[0]) + sizeof(cut) / sizeof(cut[0])));
	close(fd);
	free(buf);
}
END_TEST

#define SENDERS 3
#define SENDER_ROUNDS 30

static struct {
	struct sockaddr_storage addr[SENDERS];
	int calls;
	int bad;		/* wrong sender, order or length */
} senders;

/* Datagram r (one byte: r) came from sender r % SENDERS, in order. */
static void sender_recv_cb(ringo_udp_t *u, ssize_t nread, const void *data,
			   const struct sockaddr *addr, unsigned flags)
{
	const unsigned char *p = data;

	(void)u;
	if (nread != 1 || flags || p[0] != senders.calls ||
	    !same_addr(addr, &senders.addr[p[0] % SENDERS]))
		senders.bad++;
	senders.calls++;
}

/*
 * Interleaved senders, all queued before the loop runs: each datagram must
 * carry its own sender's address (from its own buffer, not a stale one).
 * _i % NCONFIGS: configuration; _i / NCONFIGS: 0 IPv4, 1 IPv6.
 */
START_TEST(test_sender_addresses)
{
	int family = _i / NCONFIGS ? AF_INET6 : AF_INET;
	struct sockaddr_storage recv_addr;
	socklen_t len = sizeof(recv_addr);
	int fds[SENDERS], i, ret;
	unsigned char r;
	ringo_udp_t *b;

	REQUIRE_LOOP();
	use_config(_i % NCONFIGS, 0);
	memset(&senders, 0, sizeof(senders));
	for (i = 0; i < SENDERS; i++) {
		fds[i] = raw_udp(family, &senders.addr[i]);
		if (fds[i] < 0)
			TEST_SKIP("no loopback for family %d", family);
	}
	memset(&recv_addr, 0, sizeof(recv_addr));
	recv_addr.ss_family = (sa_family_t)family;
	if (family == AF_INET6)
		((struct sockaddr_in6 *)&recv_addr)->sin6_addr = in6addr_loopback;
	else
		((struct sockaddr_in *)&recv_addr)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	b = new_udp(1);
	ret = ringo_udp_bind(b, SA(&recv_addr), 0);
	ck_assert_int_eq(ret, 0);
	ck_assert_int_eq(ringo_udp_getsockname(b, SA(&recv_addr), &len), 0);
	ck_assert_int_eq(ringo_udp_recv_start(b, sender_recv_cb), 0);
	ck_assert_int_ge(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	for (r = 0; r < SENDER_ROUNDS; r++)
		raw_send(fds[r % SENDERS], &recv_addr, &r, 1);
	RUN_UNTIL(senders.calls == SENDER_ROUNDS);
	run_idle(2);
	ck_assert_int_eq(senders.calls, SENDER_ROUNDS);
	ck_assert_int_eq(senders.bad, 0);
	for (i = 0; i < SENDERS; i++)
		close(fds[i]);
}
END_TEST

#define SEQ_LEN 64		/* a 4-byte sequence number, then filler */
#define BURST 100		/* > the datagram pool's first chunk (16 buffers) */

/* Sequenced datagrams: each exactly once and in order. */
static struct {
	unsigned calls;
	unsigned bad;
	unsigned stop_at[2];	/* recv_stop when calls reaches one of these */
	unsigned bounce_at;	/* recv_stop + recv_start inside the callback here */
	int restart_err;
} seq;

static void seq_recv_cb(ringo_udp_t *u, ssize_t nread, const void *data,
			const struct sockaddr *addr, unsigned flags)
{
	const unsigned char *p = data;
	unsigned n, i;

	(void)addr;
	if (nread != SEQ_LEN || flags) {
		seq.bad++;
		return;
	}
	memcpy(&n, p, sizeof(n));
	for (i = sizeof(n); i < SEQ_LEN; i++)
		if (p[i] != (unsigned char)n)
			seq.bad++;
	if (n != seq.calls)
		seq.bad++;
	seq.calls++;
	if (seq.calls == seq.stop_at[0] || seq.calls == seq.stop_at[1])
		ck_assert_int_eq(ringo_udp_recv_stop(u), 0);
	if (seq.calls == seq.bounce_at) {
		ck_assert_int_eq(ringo_udp_recv_stop(u), 0);
		seq.restart_err = ringo_udp_recv_start(u, seq_recv_cb);
	}
}

static void send_seq(int fd, const struct sockaddr_in *to, unsigned from, unsigned n)
{
	unsigned char buf[SEQ_LEN];
	unsigned i;

	for (i = from; i < from + n; i++) {
		memcpy(buf, &i, sizeof(i));
		memset(buf + sizeof(i), (int)(i & 0xff), SEQ_LEN - sizeof(i));
		raw_send(fd, to, buf, SEQ_LEN);
	}
}

/*
 * BURST datagrams wait in the socket while the receive is armed. Multishot,
 * they outnumber the pool's buffers: the recvmsg ends with -ENOBUFS, the
 * pool grows and the op is re-armed, a handful of SQEs in all; single-shot
 * takes one SQE per datagram. Either way each arrives once, in order.
 */
START_TEST(test_burst_outgrows_pool)
{
	struct sockaddr_storage from;
	struct ringo_loop_metrics m0;
	struct sockaddr_in b_addr;
	ringo_udp_t *b;
	uint64_t sqes;
	int fd;

	REQUIRE_LOOP();
	use_config(_i, 0);
	memset(&seq, 0, sizeof(seq));
	fd = raw_udp(AF_INET, &from);
	ck_assert_int_ge(fd, 0);
	b = bound4(1, &b_addr);
	ck_assert_int_eq(ringo_udp_recv_start(b, seq_recv_cb), 0);
	ck_assert_int_ge(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);	/* armed in the kernel */
	m0 = metrics();
	send_seq(fd, &b_addr, 0, BURST);
	RUN_UNTIL(seq.calls == BURST);
	run_idle(2);
	ck_assert_uint_eq(seq.calls, BURST);
	ck_assert_uint_eq(seq.bad, 0);
	sqes = metrics().submitted - m0.submitted;
	if (multishot_expected())
		ck_assert_msg(sqes >= 1 && sqes <= 20, "%llu SQEs for a burst of %d",
			      (unsigned long long)sqes, BURST);
	else
		ck_assert_msg(sqes >= BURST, "%llu SQEs for a burst of %d", (unsigned long long)sqes,
			      BURST);
	close(fd);
}
END_TEST

/*
 * recv_stop from the callback while more datagrams are already taken by
 * the kernel (multishot: they sit in the stash; single-shot: in the
 * socket), a stop + start inside one callback, and recv_start again: no
 * callback between stop and start, and every datagram exactly once, in
 * order.
 */
START_TEST(test_stop_start_keeps_order)
{
	struct sockaddr_storage from;
	struct sockaddr_in b_addr;
	ringo_udp_t *b;
	int fd;

	REQUIRE_LOOP();
	use_config(_i, 0);
	memset(&seq, 0, sizeof(seq));
	seq.stop_at[0] = 3;
	seq.stop_at[1] = 6;
	seq.bounce_at = 8;
	fd = raw_udp(AF_INET, &from);
	ck_assert_int_ge(fd, 0);
	b = bound4(1, &b_addr);
	ck_assert_int_eq(ringo_udp_recv_start(b, seq_recv_cb), 0);
	ck_assert_int_ge(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	send_seq(fd, &b_addr, 0, 12);
	RUN_UNTIL(seq.calls == 3);
	run_idle(4);
	ck_assert_uint_eq(seq.calls, 3);
	ck_assert_int_eq(ringo_is_active(AS_HANDLE(b)), 0);

	ck_assert_int_eq(ringo_udp_recv_start(b, seq_recv_cb), 0);
	RUN_UNTIL(seq.calls == 6);
	run_idle(4);
	ck_assert_uint_eq(seq.calls, 6);

	ck_assert_int_eq(ringo_udp_recv_start(b, seq_recv_cb), 0);
	send_seq(fd, &b_addr, 12, 8);
	RUN_UNTIL(seq.calls == 20);
	run_idle(2);
	ck_assert_uint_eq(seq.calls, 20);
	ck_assert_uint_eq(seq.bad, 0);
	assert_status(seq.restart_err, 0);
	ck_assert_int_eq(rx[1].errors, 0);
	close(fd);
}
END_TEST

static int nop_stops;		/* stop_udp1 calls */

static void stop_udp1(ringo_raw_t *req, int res, unsigned cqe_flags)
{
	(void)req;
	(void)cqe_flags;
	assert_status(res, 0);
	ck_assert_int_eq(ringo_udp_recv_stop(&udp[1]), 0);
	nop_stops++;
}

/* Queue `msg` in b's socket, then stop b from a nop's callback: DEFER_TASKRUN
 * completes the nop first, then the recvmsg that takes the datagram, so its
 * CQE waits behind the stop in the same batch. */
static void stop_behind_datagram(ringo_raw_t *nop, const struct sockaddr_in *b_addr,
				 const char *msg, size_t len)
{
	struct sockaddr_storage from;
	int fd = raw_udp(AF_INET, &from);
	int stops = nop_stops;

	ck_assert_int_ge(fd, 0);
	raw_send(fd, b_addr, msg, len);
	close(fd);
	ck_assert_int_eq(ringo_nop(&loop, nop, stop_udp1), 0);
	RUN_UNTIL(nop_stops == stops + 1);
	run_idle(4);
}

/*
 * recv_stop from another callback while the datagram the recvmsg in flight
 * took is already in the CQ: it is reported at the next recv_start, cut to
 * the receive size set in between (from the stash, multishot; from the
 * handle's buffer, single-shot); one still waiting at close is let go.
 */
START_TEST(test_recv_stop_behind_datagram)
{
	static const char msg[] = "0123456789";
	struct sockaddr_in b_addr;
	ringo_raw_t nop;
	ringo_udp_t *b;

	REQUIRE_LOOP();
	use_config(_i, 0);
	if (!test_kernel_at_least(6, 1))
		TEST_SKIP("ordering the stop before the datagram needs DEFER_TASKRUN (6.1)");
	memset(&nop, 0, sizeof(nop));
	nop_stops = 0;
	b = bound4(1, &b_addr);
	ck_assert_int_eq(ringo_udp_recv_start(b, recv_cb), 0);
	ck_assert_int_ge(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);	/* recvmsg in the kernel */
	stop_behind_datagram(&nop, &b_addr, msg, sizeof(msg));
	ck_assert_int_eq(rx[1].calls + rx[1].errors, 0);

	ck_assert_int_eq(ringo_udp_set_recv_size(b, 4), 0);
	ck_assert_int_eq(ringo_udp_recv_start(b, recv_cb), 0);
	RUN_UNTIL(rx[1].calls == 1);
	ck_assert_int_eq(rx[1].nread, 4);
	ck_assert_uint_eq(rx[1].flags, RINGO_UDP_TRUNCATED);
	ck_assert_mem_eq(rx[1].data, msg, 4);

	/* Receiving again after it, and the same race once more before close. */
	stop_behind_datagram(&nop, &b_addr, msg + 5, 5);
	ck_assert_int_eq(rx[1].calls, 1);
	ck_assert_int_eq(ringo_udp_recv_start(b, recv_cb), 0);
	RUN_UNTIL(rx[1].calls == 2);
	ck_assert_int_eq(rx[1].nread, 4);
	ck_assert_uint_eq(rx[1].flags, RINGO_UDP_TRUNCATED);
	ck_assert_mem_eq(rx[1].data, msg + 5, 4);
	stop_behind_datagram(&nop, &b_addr, msg, sizeof(msg));
	ck_assert_int_eq(rx[1].calls, 2);
	ck_assert_int_eq(rx[1].errors, 0);
}
END_TEST

/*
 * Close a stopped handle that may hold datagrams the kernel delivered after
 * recv_stop: close_cb once, no callback, the loop closes clean, and the
 * pool still serves another handle.
 */
START_TEST(test_close_with_stash)
{
	struct sockaddr_storage from;
	struct sockaddr_in b_addr, c_addr;
	ringo_udp_t *b, *c;
	int fd;

	REQUIRE_LOOP();
	use_config(_i, 0);
	memset(&seq, 0, sizeof(seq));
	seq.stop_at[0] = 1;
	fd = raw_udp(AF_INET, &from);
	ck_assert_int_ge(fd, 0);
	b = bound4(1, &b_addr);
	ck_assert_int_eq(ringo_udp_recv_start(b, seq_recv_cb), 0);
	ck_assert_int_ge(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	send_seq(fd, &b_addr, 0, 10);
	RUN_UNTIL(seq.calls == 1);
	run_idle(2);
	ck_assert_int_eq(ringo_close(AS_HANDLE(b), close_cb), 0);
	RUN_UNTIL(udp_closed[1] == 1);
	run_idle(2);
	ck_assert_uint_eq(seq.calls, 1);

	memset(&seq, 0, sizeof(seq));
	c = bound4(2, &c_addr);
	ck_assert_int_eq(ringo_udp_recv_start(c, seq_recv_cb), 0);
	ck_assert_int_ge(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	send_seq(fd, &c_addr, 0, BURST);
	RUN_UNTIL(seq.calls == BURST);
	ck_assert_uint_eq(seq.bad, 0);
	close(fd);
}
END_TEST

#define POOL_BOUND 256		/* datagram pool buffers at the most (net_internal.h) */
#define POOL_CHUNK 16		/* buffers it grows by on each -ENOBUFS */
#define HOARDERS 16		/* udp[0..HOARDERS-1]: their stashes take the whole pool */
#define HOARD (POOL_BOUND / HOARDERS)	/* datagrams per hoarder and burst */
#define LATE HOARDERS		/* udp[] index of the handle receiving while they hoard */
#define HOARD_MAX_LEN 128

/*
 * The stash must fill in the one io_uring_enter that also completes the nop
 * stopping the hoarders: one task-work item per hoarder (6.13+ runs 20 per
 * pass) taking all its datagrams in one go (at most 32 before the kernel
 * requeues a multishot recvmsg, 6.8+).
 */
_Static_assert(HOARDERS <= 20 && HOARD <= 32, "every hoarder's burst is taken in one enter");
_Static_assert(LATE < NUDP, "the fixture has a handle for each");

/* What test_pool_held_by_stashes sent to and received on each handle. */
static struct {
	struct sockaddr_storage sender;	/* every datagram comes from this socket */
	struct sockaddr_in addr[NUDP];	/* udp[i]'s address */
	unsigned sent[NUDP];
	unsigned got[NUDP];		/* datagrams udp[i] reported: the next one's number */
	unsigned bad;			/* wrong length, bytes, flags, sender or order */
	unsigned errors;		/* callbacks with nread < 0 */
	int stopped;			/* stop_hoarders ran */
} hoard;

/* Datagram n for udp[i]: length and bytes depend on both, so a datagram
 * reported twice, out of order or to the wrong handle shows. */
static size_t hoard_datagram(unsigned char *buf, unsigned i, unsigned n)
{
	size_t len = 8 + (n * 37 + i * 11) % (HOARD_MAX_LEN - 8), k;

	memcpy(buf, &n, sizeof(n));
	memcpy(buf + sizeof(n), &i, sizeof(i));
	for (k = 8; k < len; k++)
		buf[k] = (unsigned char)(n * 7 + i * 13 + k);
	return len;
}

static void hoard_recv_cb(ringo_udp_t *u, ssize_t nread, const void *data,
			  const struct sockaddr *addr, unsigned flags)
{
	unsigned char want[HOARD_MAX_LEN];
	unsigned i = (unsigned)(u - udp);
	size_t len;

	if (nread < 0) {
		hoard.errors++;
		return;
	}
	len = hoard_datagram(want, i, hoard.got[i]++);
	if ((size_t)nread != len || flags || memcmp(data, want, len) ||
	    !same_addr(addr, &hoard.sender))
		hoard.bad++;
}

static void hoard_send(int fd, unsigned i, unsigned n)
{
	unsigned char buf[HOARD_MAX_LEN];
	size_t len;

	while (n--) {
		len = hoard_datagram(buf, i, hoard.sent[i]++);
		raw_send(fd, &hoard.addr[i], buf, len);
	}
}

static void hoard_send_hoarders(int fd, unsigned n)
{
	unsigned i;

	for (i = 0; i < HOARDERS; i++)
		hoard_send(fd, i, n);
}

static int hoard_all_got(void)
{
	unsigned i;

	for (i = 0; i <= LATE; i++)
		if (hoard.got[i] != hoard.sent[i])
			return 0;
	return 1;
}

static void stop_hoarders(ringo_raw_t *req, int res, unsigned cqe_flags)
{
	unsigned i;

	(void)req;
	(void)cqe_flags;
	assert_status(res, 0);
	for (i = 0; i < HOARDERS; i++)
		ck_assert_int_eq(ringo_udp_recv_stop(&udp[i]), 0);
	hoard.stopped++;
}

/* 1 when udp[i]'s socket holds no datagram (a peek takes none). */
static int socket_empty(unsigned i)
{
	char c;
	ssize_t n = recv(udp[i].fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

	if (n < 0)
		ck_assert_msg(errno == EAGAIN, "peek udp[%u]: %s", i, strerror(errno));
	return n < 0;
}

/* Bursts until one needs no SQE: a burst of POOL_BOUND datagrams that no
 * multishot recvmsg ended in -ENOBUFS for (and re-armed) found a free
 * buffer for each, so the pool is at its bound with every buffer free. */
static void grow_pool_to_bound(int fd, int multishot)
{
	struct ringo_loop_metrics m0;
	int round;

	for (round = 0; round <= POOL_BOUND / POOL_CHUNK; round++) {
		m0 = metrics();
		hoard_send_hoarders(fd, HOARD);
		RUN_UNTIL(hoard_all_got());
		if (!multishot || metrics().submitted == m0.submitted)
			return;
	}
	ck_abort_msg("the pool never took a burst of %d datagrams whole", POOL_BOUND);
}

/*
 * Stopped handles' stashes hold every buffer of the datagram pool, at its
 * bound: another handle's multishot recvmsg ends in -ENOBUFS with nothing
 * to grow and nothing a callback will give back. It must take its next
 * datagram single-shot (UDP_SINGLE_ONCE) rather than re-arm into -ENOBUFS
 * for ever; and once the stashes are drained, multishot again. Every
 * datagram arrives exactly once, in order, whole. Single-shot
 * configurations run the same steps: each hoarder's recvmsg in flight takes
 * one datagram (held in its buffer), the rest wait in its socket.
 */
START_TEST(test_pool_held_by_stashes)
{
	unsigned late_n = TEST_SIZE(64, 16), i;
	struct ringo_loop_metrics m0;
	ringo_raw_t trigger;
	uint64_t sqes;
	int fd, multishot;

	REQUIRE_LOOP();
	use_config(_i, 0);
	multishot = multishot_expected();
	if (multishot && !test_kernel_at_least(6, 1))
		TEST_SKIP("filling the stash on cue needs DEFER_TASKRUN (6.1)");
	memset(&hoard, 0, sizeof(hoard));
	memset(&trigger, 0, sizeof(trigger));
	fd = raw_udp(AF_INET, &hoard.sender);
	ck_assert_int_ge(fd, 0);
	for (i = 0; i <= LATE; i++) {
		bound4((int)i, &hoard.addr[i]);
		ck_assert_int_eq(ringo_udp_recv_start(&udp[i], hoard_recv_cb), 0);
	}
	ck_assert_int_ge(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);	/* all armed */
	grow_pool_to_bound(fd, multishot);

	/*
	 * With DEFER_TASKRUN the kernel takes queued datagrams only inside
	 * io_uring_enter, after it has completed what that enter submitted:
	 * the nop's callback runs first and stops every hoarder, and all the
	 * datagrams it took (one per buffer) land in stashes.
	 */
	hoard_send_hoarders(fd, HOARD);
	ck_assert_int_eq(ringo_nop(&loop, &trigger, stop_hoarders), 0);
	RUN_UNTIL(hoard.stopped == 1);
	run_idle(4);
	for (i = 0; i < HOARDERS; i++) {
		ck_assert_uint_eq(hoard.got[i], hoard.sent[i] - HOARD);
		/* Multishot: the kernel took them all, so all POOL_BOUND buffers
		 * are stashed. */
		ck_assert_msg(socket_empty(i) == multishot, "udp[%u]: socket %s", i,
			      multishot ? "not emptied into the stash" : "emptied");
	}

	/* One SQE per datagram at least: single-shot, the only way in now. */
	m0 = metrics();
	hoard_send(fd, LATE, late_n);
	RUN_UNTIL(hoard.got[LATE] == hoard.sent[LATE]);
	sqes = metrics().submitted - m0.submitted;
	ck_assert_msg(sqes >= late_n, "%llu SQEs for %u datagrams", (unsigned long long)sqes,
		      late_n);
	/* Each a single-shot recvmsg and a multishot one that fails at once:
	 * the -ENOBUFS never loops by itself. */
	if (multishot)
		ck_assert_msg(sqes <= 2 * late_n + 2, "%llu SQEs for %u datagrams",
			      (unsigned long long)sqes, late_n);
	for (i = 0; i < HOARDERS; i++)
		ck_assert_uint_eq(hoard.got[i], hoard.sent[i] - HOARD);

	for (i = 0; i < HOARDERS; i++)
		ck_assert_int_eq(ringo_udp_recv_start(&udp[i], hoard_recv_cb), 0);
	RUN_UNTIL(hoard_all_got());
	run_idle(2);

	/* Single-shot was once: with the stashes drained, the late handle's
	 * next datagram re-arms multishot and the rest need no SQE. */
	m0 = metrics();
	hoard_send_hoarders(fd, 4);
	hoard_send(fd, LATE, 4);
	RUN_UNTIL(hoard_all_got());
	run_idle(2);
	sqes = metrics().submitted - m0.submitted;
	if (multishot)
		ck_assert_msg(sqes <= 2, "%llu SQEs after the stashes drained",
			      (unsigned long long)sqes);
	ck_assert(hoard_all_got());
	ck_assert_uint_eq(hoard.bad, 0);
	ck_assert_uint_eq(hoard.errors, 0);
	close(fd);
}
END_TEST

/* ======================================================================
 * Close
 * ====================================================================== */

#define CLOSE_SENDS 32

/*
 * Close a handle with its recvmsg pending and CLOSE_SENDS sends in flight:
 * _i / NCONFIGS 0 closes before the loop submitted anything, 1 after one
 * iteration put them in the kernel (_i % NCONFIGS is the configuration).
 * Every send callback runs once (0 or -ECANCELED), the receive callback
 * never, close_cb once and last.
 */
START_TEST(test_close_with_ops_in_flight)
{
	static const char msg[] = "in flight";
	struct sockaddr_in a_addr, b_addr;
	struct tx t[CLOSE_SENDS], extra = { 0 };
	ringo_udp_t *a, *b;
	int i;

	REQUIRE_LOOP();
	use_config(_i % NCONFIGS, 0);
	memset(t, 0, sizeof(t));
	bound4_pair(&a, &a_addr, &b, &b_addr);
	ck_assert_int_eq(ringo_udp_recv_start(a, recv_cb), 0);
	ck_assert_int_eq(ringo_udp_recv_start(b, recv_cb), 0);
	if (_i / NCONFIGS)
		ck_assert_int_ge(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	for (i = 0; i < CLOSE_SENDS; i++)
		send_buf(&t[i], a, msg, sizeof(msg), &b_addr);
	if (_i / NCONFIGS)
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
	use_config(_i, 0);
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
	use_config(_i, 0);
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
	TCase *dgram = test_tcase(s, "datagrams", setup, teardown, 60);
	TCase *close_tc = test_tcase(s, "close", setup, teardown, 60);
	TCase *args = test_tcase(s, "args", setup, teardown, 60);

	tcase_add_loop_test(trip, test_roundtrip_ipv4, 0, NCONFIGS);
	tcase_add_loop_test(trip, test_roundtrip_ipv6, 0, NCONFIGS);
	tcase_add_loop_test(trip, test_multi_buffer_send, 0, NCONFIGS);

	tcase_add_loop_test(bulk_tc, test_many_datagrams, 0, NCONFIGS);

	tcase_add_loop_test(trunc, test_truncation, 0, NCONFIGS);
	tcase_add_loop_test(trunc, test_set_recv_size, 0, NCONFIGS);
	tcase_add_loop_test(trunc, test_set_recv_size_idle_loop, 0, NCONFIGS);

	tcase_add_loop_test(conn, test_connected, 0, NCONFIGS);
	tcase_add_loop_test(conn, test_connect_unbound, 0, NCONFIGS);
	tcase_add_test(conn, test_send_no_destination);
	tcase_add_loop_test(conn, test_connrefused, 0, NCONFIGS);
	tcase_add_loop_test(conn, test_emsgsize, 0, NCONFIGS);

	tcase_add_loop_test(recv, test_recv_stop_start, 0, NCONFIGS);
	tcase_add_loop_test(recv, test_recv_stop_in_callback, 0, NCONFIGS);
	tcase_add_loop_test(recv, test_recv_stop_with_datagram_waiting, 0, 2 * NCONFIGS);
	tcase_add_loop_test(recv, test_stop_start_keeps_order, 0, NCONFIGS);
	tcase_add_loop_test(recv, test_recv_stop_behind_datagram, 0, NCONFIGS);

	tcase_add_loop_test(dgram, test_datagram_sizes, 0, NCONFIGS);
	tcase_add_loop_test(dgram, test_sender_addresses, 0, 2 * NCONFIGS);
	tcase_add_loop_test(dgram, test_burst_outgrows_pool, 0, NCONFIGS);
	tcase_add_loop_test(dgram, test_pool_held_by_stashes, 0, NCONFIGS);

	tcase_add_loop_test(close_tc, test_close_with_ops_in_flight, 0, 2 * NCONFIGS);
	tcase_add_loop_test(close_tc, test_close_idle, 0, NCONFIGS);
	tcase_add_loop_test(close_tc, test_close_with_stash, 0, NCONFIGS);
	tcase_add_loop_test(close_tc, test_close_recv_pending_alone, 0, NCONFIGS);

	tcase_add_test(args, test_bad_arguments);
	return s;
}

int main(void)
{
	return test_main(suite());
}
