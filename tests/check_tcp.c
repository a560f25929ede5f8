/* SPDX-License-Identifier: MIT */
/*
 * TCP streams, on 127.0.0.1 and [::1] only, with kernel-chosen ports. The
 * data-path tests run under three loop configurations (multishot accept and
 * recv with a provided-buffer ring; single-shot ops with the ring; single-shot
 * ops without it): an echo of random bytes written in random chunks (every
 * write callback once, status 0, in queue order), many concurrent
 * connections doing round trips, a peer reset in the middle of a large
 * write, EOF after ringo_shutdown (which waits for the queued writes), a
 * waiting shutdown cancelled by close, close with reads and writes in
 * flight, read_stop/read_start without losing or reordering bytes,
 * ringo_read_keep, the receive pool growing and reaching its bound while
 * callbacks hold buffers, read_stop and close of streams queued for a
 * buffer of the exhausted pool, and an IPv6 echo. Then connect
 * errors (refused, a deadline on a listener whose backlog is full) and every
 * documented caller error, socket options, names and the write queue size.
 * Every test opens a fresh loop; the teardown closes every handle, runs the
 * loop for their close callbacks and asserts the loop closes cleanly.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"

#define owner_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))
#define AS_HANDLE(h) ((ringo_handle_t *)(h))
#define AS_REQ(r) ((ringo_req_t *)(r))
#define KiB ((size_t)1024)
#define MiB ((size_t)1024 * 1024)

/* The loop configurations every data-path test runs under (loop test index). */
static const struct config {
	unsigned flags;
	const char *name;
} configs[] = {
	{ 0, "multishot, buffer ring" },
	{ RINGO_LOOP_NO_MULTISHOT, "single-shot, buffer ring" },
	{ RINGO_LOOP_NO_MULTISHOT | RINGO_LOOP_NO_BUF_RING, "single-shot, no buffer ring" },
	{ RINGO_LOOP_PARK_READS, "multishot, parked until readable" },
	{ RINGO_LOOP_PARK_READS | RINGO_LOOP_NO_MULTISHOT | RINGO_LOOP_NO_BUF_RING,
	  "single-shot, no buffer ring, parked until readable" },
};
#define NCONFIGS ((int)(sizeof(configs) / sizeof(configs[0])))

/* ---- Connections: a stream handle plus what the test saw on it -------- */

struct conn {
	ringo_stream_t s;
	struct conn *next_conn;		/* every conn of the test, for the teardown */
	int id;				/* creation order */
	int tag;			/* the test's own index */
	struct conn *listener;		/* accepted conns: who accepted them */
	void (*on_accept)(struct conn *c);	 /* listener: set up an accepted conn */
	void (*on_connect)(struct conn *c);	 /* client: after connect succeeded */
	void (*on_write)(struct conn *c, int st); /* after each write callback */
	int no_accept;			/* listener: leave connections unaccepted */
	int accepts;			/* listener: connections accepted */
	int child_closes;		/* listener: accepted conns closed */

	ringo_connect_t creq;
	int connects;			/* connect callbacks */
	int connect_status;

	ringo_shutdown_t sreq;
	int shutdowns;			/* shutdown callbacks */
	int shutdown_status;
	unsigned w_cbs_at_shutdown;	/* write callbacks run before it */

	int close_called;		/* ringo_close returned 0 */
	int closes;			/* close callbacks */
	unsigned w_cbs_at_close;	/* write callbacks run before it */

	int read_calls;			/* read callbacks of any kind */
	int read_stopped;		/* read_stop returned, no read_start since */
	int read_ended;			/* an EOF or error was reported */
	ssize_t read_end;		/* ... and which */
	size_t rx_bytes;		/* bytes received and checked */

	unsigned w_queued;		/* ringo_write calls that returned 0 */
	unsigned w_cbs;			/* write callbacks */
	unsigned w_ok, w_err;		/* by status */
	unsigned w_ok_after_err;	/* a 0 that followed an error */
	unsigned w_ecanceled, w_econnreset, w_epipe, w_other;
	int w_other_status;
	size_t w_off;			/* bytes handed to ringo_write */

	const unsigned char *expect;	/* what should arrive, in order */
	size_t expect_len;
	unsigned rounds, rounds_target;	/* round trips */
	char msg[64];
	size_t msg_len;
	char rbuf[64];
	size_t rbuf_len;
	int done;
	int peer_tag;			/* pool test: the sending client */
	in_port_t port;			/* local port, network order */
};

/* One queued write: its own request and iovec (a request queued is the
 * library's until its callback). */
struct wreq {
	ringo_write_t req;
	struct iovec iov;
	struct conn *c;
	unsigned seq;			/* position in the conn's queue */
	void *owned;			/* a copy of the data, freed with it */
};

/* ---- Fixture ---------------------------------------------------------- */

static ringo_loop_t loop;
static int loop_open;
static ringo_timer_t watchdog;		/* bounds every wait of a test */
static int watchdog_fired;
static ringo_timer_t tick;		/* a test's periodic work */
static void (*tick_fn)(void);
static struct conn *conns;
static int nconns;
static struct conn *last_accepted;
static struct conn *spare;		/* a socketless handle for -EAGAIN checks */
static struct sockaddr_storage srv_addr; /* where the test's listener is */
static int raw_fds[16];
static int nraw;
static void *allocs[16];
static int nallocs;
static uint64_t rng_state;
static const char *(*diag_fn)(void);	/* says where a timed-out wait stood */
static struct kept_buf *kept;		/* pool test: buffers held */

static int in_ci(void)
{
	const char *s = getenv("CI");

	return s && strcmp(s, "true") == 0;
}

static void reset_state(void);

static void setup(void)
{
	/* Without fork mode (CK_FORK=no) every test must start from zero. */
	reset_state();
}

static void close_cb(ringo_handle_t *h);

static void conn_close(struct conn *c)
{
	int ret = ringo_close(AS_HANDLE(&c->s), close_cb);

	ck_assert_msg(ret == 0, "conn %d: ringo_close: %s", c->id, ringo_err_name(ret));
	c->close_called = 1;
}

static void teardown(void)
{
	struct conn *c, *next;
	int i;

	if (loop_open) {
		for (c = conns; c; c = c->next_conn)
			if (!ringo_is_closing(AS_HANDLE(&c->s)))
				conn_close(c);
		ck_assert_int_eq(ringo_close(AS_HANDLE(&watchdog), NULL), 0);
		ck_assert_int_eq(ringo_close(AS_HANDLE(&tick), NULL), 0);
		ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
		for (c = conns; c; c = c->next_conn)
			ck_assert_msg(c->closes == 1, "conn %d: %d close callbacks", c->id,
				      c->closes);
		ck_assert_int_eq(ringo_loop_close(&loop), 0);
		loop_open = 0;
	}
	for (c = conns; c; c = next) {
		next = c->next_conn;
		free(c);
	}
	conns = NULL;
	for (i = 0; i < nraw; i++)
		close(raw_fds[i]);
	nraw = 0;
	for (i = 0; i < nallocs; i++)
		free(allocs[i]);
	nallocs = 0;
	free(kept);
	kept = NULL;
}

static void watchdog_cb(ringo_timer_t *t)
{
	(void)t;
	watchdog_fired = 1;
}

static void tick_cb(ringo_timer_t *t)
{
	(void)t;
	if (tick_fn)
		tick_fn();
}

/* A fresh loop with `flags`; 1 when io_uring is unavailable here (skip). */
static unsigned park_idle_ms;	/* the next open_loop's park_idle_ms (0: default) */

static int open_loop(unsigned flags)
{
	struct ringo_loop_opts opts;
	int ret;

	ringo_loop_opts_init(&opts);
	opts.flags = flags;
	opts.park_idle_ms = park_idle_ms;
	park_idle_ms = 0;
	ret = ringo_loop_init(&loop, &opts);
	if ((ret == -ENOSYS || ret == -EPERM) && !in_ci())
		return 1;
	ck_assert_msg(ret == 0, "ringo_loop_init(%#x): %s (%s)", flags, ringo_err_name(ret),
		      ringo_setup_strerror(ret));
	loop_open = 1;
	ck_assert_int_eq(ringo_timer_init(&loop, &watchdog), 0);
	ck_assert_int_eq(ringo_timer_init(&loop, &tick), 0);
	return 0;
}

#define OPEN_LOOP(flags)                                                                       \
	do {                                                                                   \
		if (open_loop(flags))                                                          \
			TEST_SKIP("io_uring unavailable");                                     \
	} while (0)

static void run_mode(ringo_run_mode mode)
{
	int ret = ringo_run(&loop, mode);

	ck_assert_msg(ret >= 0, "ringo_run: %s", ringo_err_name(ret));
}

/*
 * One NOWAIT iteration, then (if `cond` still fails) one ONCE iteration.
 * The NOWAIT pass matters: a close_cb queued from outside the loop runs at
 * the start of an iteration, and RUN_ONCE then still blocks for new work.
 */
#define RUN_STEP(cond)                                                                         \
	do {                                                                                   \
		run_mode(RINGO_RUN_NOWAIT);                                                    \
		if (!(cond))                                                                   \
			run_mode(RINGO_RUN_ONCE);                                              \
	} while (0)

/* Run the loop until `cond` holds; fail after `ms`. */
#define RUN_UNTIL(cond, ms)                                                                    \
	do {                                                                                   \
		watchdog_fired = 0;                                                            \
		ck_assert_int_eq(ringo_timer_start(&watchdog, watchdog_cb, (ms), 0), 0);       \
		while (!(cond)) {                                                              \
			ck_assert_msg(!watchdog_fired, "not true after %d ms: %s%s",           \
				      (int)(ms), #cond, diag_fn ? diag_fn() : "");            \
			RUN_STEP(cond);                                                        \
		}                                                                              \
		ck_assert_int_eq(ringo_timer_stop(&watchdog), 0);                              \
	} while (0)

/* Run the loop for `ms`, whatever happens. */
static void run_for(int64_t ms)
{
	watchdog_fired = 0;
	ck_assert_int_eq(ringo_timer_start(&watchdog, watchdog_cb, ms, 0), 0);
	while (!watchdog_fired)
		run_mode(RINGO_RUN_ONCE);
}

static void *test_alloc(size_t len)
{
	void *p = malloc(len);

	ck_assert_ptr_nonnull(p);
	ck_assert_int_lt(nallocs, (int)(sizeof(allocs) / sizeof(allocs[0])));
	allocs[nallocs++] = p;
	return p;
}

static int raw_socket(int family, int type)
{
	int fd = socket(family, type | SOCK_CLOEXEC, 0);

	ck_assert_msg(fd >= 0, "socket: %s", strerror(errno));
	ck_assert_int_lt(nraw, (int)(sizeof(raw_fds) / sizeof(raw_fds[0])));
	raw_fds[nraw++] = fd;
	return fd;
}

static uint64_t rng(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static void fill_random(unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(rng() >> 56);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Where two buffers first differ (len if they do not). */
static size_t first_diff(const unsigned char *a, const unsigned char *b, size_t len)
{
	size_t i;

	for (i = 0; i < len && a[i] == b[i]; i++)
		;
	return i;
}

static struct sockaddr_in loopback4(void)
{
	struct sockaddr_in a;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static struct sockaddr_in6 loopback6(void)
{
	struct sockaddr_in6 a;

	memset(&a, 0, sizeof(a));
	a.sin6_family = AF_INET6;
	a.sin6_addr = in6addr_loopback;
	return a;
}

/* ---- Conns, callbacks that record ------------------------------------- */

static struct conn *conn_of(ringo_stream_t *s)
{
	return owner_of(s, struct conn, s);
}

static struct conn *conn_new(void)
{
	struct conn *c = calloc(1, sizeof(*c));

	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(ringo_tcp_init(&loop, &c->s), 0);
	c->id = nconns++;
	c->next_conn = conns;
	c->peer_tag = -1;
	conns = c;
	return c;
}

static void close_cb(ringo_handle_t *h)
{
	struct conn *c = conn_of((ringo_stream_t *)h);

	ck_assert_msg(c->close_called, "conn %d: close_cb without ringo_close", c->id);
	c->closes++;
	c->w_cbs_at_close = c->w_cbs;
	if (c->listener)
		c->listener->child_closes++;
}

/* Every read callback starts here: what must never happen, and counts. */
static struct conn *read_enter(ringo_stream_t *s, ssize_t nread, const void *data)
{
	struct conn *c = conn_of(s);

	ck_assert_msg(!c->close_called, "conn %d: read_cb after ringo_close", c->id);
	ck_assert_msg(!c->read_stopped, "conn %d: read_cb after ringo_read_stop", c->id);
	ck_assert_msg(!c->read_ended, "conn %d: read_cb(%zd) after the end (%zd)", c->id, nread,
		      c->read_end);
	ck_assert_msg(nread != 0, "conn %d: read_cb with nread 0", c->id);
	ck_assert_msg(nread < 0 || data, "conn %d: read_cb(%zd) with NULL data", c->id, nread);
	c->read_calls++;
	if (nread < 0) {
		c->read_ended = 1;
		c->read_end = nread;
	}
	return c;
}

/* Check `nread` bytes against c->expect at the current offset and count them. */
static void check_expected(struct conn *c, const void *data, size_t nread)
{
	size_t at;

	ck_assert_msg(c->rx_bytes + nread <= c->expect_len,
		      "conn %d: %zu bytes received, only %zu were sent", c->id,
		      c->rx_bytes + nread, c->expect_len);
	at = first_diff(data, c->expect + c->rx_bytes, nread);
	ck_assert_msg(at == nread, "conn %d: byte %zu of the stream differs", c->id,
		      c->rx_bytes + at);
	c->rx_bytes += nread;
}

static void conn_read_start(struct conn *c, ringo_read_cb cb)
{
	int ret = ringo_read_start(&c->s, cb);

	ck_assert_msg(ret == 0, "conn %d: read_start: %s", c->id, ringo_err_name(ret));
	c->read_stopped = 0;
}

static void conn_read_stop(struct conn *c)
{
	ck_assert_int_eq(ringo_read_stop(&c->s), 0);
	c->read_stopped = 1;
}

static void write_cb(ringo_write_t *req, int status)
{
	struct wreq *w = owner_of(req, struct wreq, req);
	struct conn *c = w->c;

	ck_assert_ptr_eq(req->handle, &c->s);
	ck_assert_msg(c->closes == 0, "conn %d: write_cb after close_cb", c->id);
	ck_assert_msg(w->seq == c->w_cbs, "conn %d: write %u completed as number %u", c->id,
		      w->seq, c->w_cbs);
	c->w_cbs++;
	if (status == 0) {
		c->w_ok++;
		if (c->w_err)
			c->w_ok_after_err++;
	} else {
		c->w_err++;
		if (status == -ECANCELED)
			c->w_ecanceled++;
		else if (status == -ECONNRESET)
			c->w_econnreset++;
		else if (status == -EPIPE)
			c->w_epipe++;
		else
			c->w_other++;
		if (status != -ECANCELED && status != -ECONNRESET && status != -EPIPE)
			c->w_other_status = status;
	}
	free(w->owned);
	free(w);
	if (c->on_write)
		c->on_write(c, status);
}

/* Queue one write of `len` bytes (copied when `copy`); returns ringo_write's result. */
static int conn_write(struct conn *c, const void *data, size_t len, int copy)
{
	struct wreq *w = calloc(1, sizeof(*w));
	int ret;

	ck_assert_ptr_nonnull(w);
	if (copy) {
		w->owned = malloc(len);
		ck_assert_ptr_nonnull(w->owned);
		memcpy(w->owned, data, len);
		w->iov.iov_base = w->owned;
	} else {
		w->iov.iov_base = (void *)data;
	}
	w->iov.iov_len = len;
	w->c = c;
	w->seq = c->w_queued;
	ret = ringo_write(&w->req, &c->s, &w->iov, 1, write_cb);
	if (ret) {
		free(w->owned);
		free(w);
		return ret;
	}
	c->w_queued++;
	return 0;
}

static void write_ok(struct conn *c, const void *data, size_t len, int copy)
{
	int ret = conn_write(c, data, len, copy);

	ck_assert_msg(ret == 0, "conn %d: ringo_write: %s", c->id, ringo_err_name(ret));
}

static void shutdown_cb(ringo_shutdown_t *req, int status)
{
	struct conn *c = owner_of(req, struct conn, sreq);

	ck_assert_ptr_eq(req->handle, &c->s);
	c->shutdowns++;
	c->shutdown_status = status;
	c->w_cbs_at_shutdown = c->w_cbs;
}

static void conn_shutdown(struct conn *c)
{
	int ret = ringo_shutdown(&c->sreq, &c->s, shutdown_cb);

	ck_assert_msg(ret == 0, "conn %d: ringo_shutdown: %s", c->id, ringo_err_name(ret));
}

static void connection_cb(ringo_stream_t *server, int status)
{
	struct conn *l = conn_of(server), *c;
	int ret;

	ck_assert_msg(status == 0, "connection_cb: %s", ringo_err_name(status));
	if (l->no_accept)
		return;
	c = conn_new();
	ret = ringo_accept(server, &c->s);
	ck_assert_msg(ret == 0, "ringo_accept: %s", ringo_err_name(ret));
	/* One connection, one accept. */
	if (!spare)
		spare = conn_new();
	ck_assert_int_eq(ringo_accept(server, &spare->s), -EAGAIN);
	c->listener = l;
	l->accepts++;
	last_accepted = c;
	if (l->on_accept)
		l->on_accept(c);
}

/* A listener on `addr` (port 0: the kernel picks); srv_addr says where. */
static struct conn *listen_on(const struct sockaddr *addr, int backlog,
			      void (*on_accept)(struct conn *c))
{
	struct conn *l = conn_new();
	socklen_t len = sizeof(srv_addr);
	int ret;

	if (!spare)
		spare = conn_new();
	ret = ringo_tcp_bind(&l->s, addr, 0);
	ck_assert_msg(ret == 0, "ringo_tcp_bind: %s", ringo_err_name(ret));
	ck_assert_int_eq(ringo_listen(&l->s, backlog, connection_cb), 0);
	l->on_accept = on_accept;
	ck_assert_int_eq(ringo_getsockname(&l->s, (struct sockaddr *)&srv_addr, &len), 0);
	return l;
}

static struct conn *listen4(void (*on_accept)(struct conn *c))
{
	struct sockaddr_in a = loopback4();

	return listen_on((struct sockaddr *)&a, SOMAXCONN, on_accept);
}

static void connect_cb(ringo_connect_t *req, int status)
{
	struct conn *c = owner_of(req, struct conn, creq);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	ck_assert_ptr_eq(req->handle, &c->s);
	ck_assert_msg(c->closes == 0, "conn %d: connect_cb after close_cb", c->id);
	c->connects++;
	c->connect_status = status;
	if (status != 0)
		return;
	ck_assert_int_eq(ringo_getsockname(&c->s, (struct sockaddr *)&ss, &len), 0);
	c->port = ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					   : ((struct sockaddr_in *)&ss)->sin_port;
	if (c->on_connect)
		c->on_connect(c);
}

/* A client connecting to srv_addr; on_connect runs once it is connected. */
static struct conn *client(void (*on_connect)(struct conn *c))
{
	struct conn *c = conn_new();
	int ret;

	c->on_connect = on_connect;
	ret = ringo_tcp_connect(&c->creq, &c->s, (struct sockaddr *)&srv_addr, connect_cb);
	ck_assert_msg(ret == 0, "ringo_tcp_connect: %s", ringo_err_name(ret));
	return c;
}

/* A connected client and its accepted peer. */
static void connect_pair(void (*on_accept)(struct conn *c), struct conn **cl, struct conn **sv)
{
	listen4(on_accept);
	last_accepted = NULL;
	*cl = client(NULL);
	RUN_UNTIL((*cl)->connects == 1 && last_accepted, 5000);
	ck_assert_int_eq((*cl)->connect_status, 0);
	*sv = last_accepted;
}

/* ---- Echo ------------------------------------------------------------- */

/* Server side: echo every chunk as its own write of a copy; close at the end. */
static void echo_read_cb(ringo_stream_t *s, ssize_t nread, const void *data)
{
	struct conn *c = read_enter(s, nread, data);

	if (nread > 0) {
		c->rx_bytes += (size_t)nread;
		write_ok(c, data, (size_t)nread, 1);
		return;
	}
	conn_close(c);
}

static void echo_accept(struct conn *c)
{
	conn_read_start(c, echo_read_cb);
}

static void expect_read_cb(ringo_stream_t *s, ssize_t nread, const void *data)
{
	struct conn *c = read_enter(s, nread, data);

	if (nread > 0)
		check_expected(c, data, (size_t)nread);
}

/* Random sizes from 1 byte to 128 KiB, small ones as likely as large. */
static size_t rand_chunk(void)
{
	unsigned bits = 1 + (unsigned)(rng() % 17);

	return 1 + (size_t)(rng() % ((uint64_t)1 << bits));
}

/* Keep up to 64 writes queued; the write callbacks top the queue up. */
static void echo_top_up(struct conn *c)
{
	size_t n;

	while (c->w_off < c->expect_len && c->w_queued - c->w_cbs < 64) {
		n = rand_chunk();
		if (n > c->expect_len - c->w_off)
			n = c->expect_len - c->w_off;
		write_ok(c, c->expect + c->w_off, n, 1);
		c->w_off += n;
	}
}

static void echo_on_write(struct conn *c, int status)
{
	if (status == 0)
		echo_top_up(c);
}

static void echo_client_connected(struct conn *c)
{
	conn_read_start(c, expect_read_cb);
	c->on_write = echo_on_write;
	echo_top_up(c);
}

/* Echo `total` random bytes through a listener on `addr`, then end cleanly. */
static void echo_through(const struct sockaddr *addr, size_t total, uint64_t seed)
{
	struct conn *srv, *cl, *peer;
	unsigned char *data = test_alloc(total);

	rng_state = seed;
	fill_random(data, total);
	srv = listen_on(addr, SOMAXCONN, echo_accept);
	cl = conn_new();
	cl->expect = data;
	cl->expect_len = total;
	cl->on_connect = echo_client_connected;
	ck_assert_int_eq(ringo_tcp_connect(&cl->creq, &cl->s, (struct sockaddr *)&srv_addr,
					   connect_cb),
			 0);
	RUN_UNTIL(cl->connects == 1 && (cl->connect_status || (cl->rx_bytes == total &&
			 cl->w_off == total && cl->w_cbs == cl->w_queued)), 120000);
	ck_assert_int_eq(cl->connect_status, 0);
	ck_assert_uint_eq(cl->w_ok, cl->w_queued);
	ck_assert_uint_eq(cl->w_err, 0);
	ck_assert_uint_eq(ringo_write_queue_size(&cl->s), 0);
	ck_assert_int_eq(srv->accepts, 1);
	peer = last_accepted;
	ck_assert_uint_eq(peer->rx_bytes, total);

	/* The orderly end: the client shuts down, the server sees EOF and
	 * closes, the client sees EOF. */
	conn_shutdown(cl);
	RUN_UNTIL(cl->shutdowns == 1 && cl->read_ended && peer->closes == 1, 10000);
	ck_assert_int_eq(cl->shutdown_status, 0);
	ck_assert_int_eq(cl->read_end, RINGO_EOF);
	ck_assert_uint_eq(cl->rx_bytes, total);
	ck_assert_uint_eq(peer->w_ok, peer->w_queued);
	ck_assert_uint_eq(peer->w_err, 0);
}

START_TEST(test_echo_random_chunks)
{
	struct sockaddr_in a = loopback4();

	OPEN_LOOP(configs[_i].flags);
	echo_through((struct sockaddr *)&a, TEST_SIZE(16 * MiB, 2 * MiB),
		     0x5eed0001 + (unsigned)_i);
}
END_TEST

static int have_ipv6_loopback(void)
{
	struct sockaddr_in6 a = loopback6();
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

	if (fd < 0)
		return 0;
	ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

START_TEST(test_echo_ipv6)
{
	struct sockaddr_in6 a = loopback6();

	if (!have_ipv6_loopback())
		TEST_SKIP("no IPv6 loopback ([::1]) on this machine");
	OPEN_LOOP(configs[_i].flags);
	echo_through((struct sockaddr *)&a, 512 * KiB, 0x5eed0006 + (unsigned)_i);
	ck_assert_int_eq(((struct sockaddr *)&srv_addr)->sa_family, AF_INET6);
}
END_TEST

/* ---- Many connections ------------------------------------------------- */

static int rt_done;

static void rt_send(struct conn *c)
{
	c->msg_len = (size_t)snprintf(c->msg, sizeof(c->msg), "conn %06d round %06u %s", c->tag,
				      c->rounds, c->rounds % 2 ? "odd" : "even");
	c->rbuf_len = 0;
	write_ok(c, c->msg, c->msg_len, 1);
}

/* Done when every echo came back and every write callback ran. */
static void rt_maybe_done(struct conn *c)
{
	if (c->done || c->rounds < c->rounds_target || c->w_cbs != c->w_queued)
		return;
	c->done = 1;
	rt_done++;
	conn_close(c);
}

static void rt_read_cb(ringo_stream_t *s, ssize_t nread, const void *data)
{
	struct conn *c = read_enter(s, nread, data);

	ck_assert_msg(nread > 0, "conn %d: %s in round %u", c->tag, ringo_err_name((int)nread),
		      c->rounds);
	ck_assert_msg(c->rbuf_len + (size_t)nread <= c->msg_len, "conn %d: too many bytes",
		      c->tag);
	memcpy(c->rbuf + c->rbuf_len, data, (size_t)nread);
	c->rbuf_len += (size_t)nread;
	if (c->rbuf_len < c->msg_len)
		return;
	ck_assert_msg(memcmp(c->rbuf, c->msg, c->msg_len) == 0, "conn %d: echo differs",
		      c->tag);
	if (++c->rounds < c->rounds_target)
		rt_send(c);
	else
		rt_maybe_done(c);
}

static void rt_on_write(struct conn *c, int status)
{
	ck_assert_msg(status == 0, "conn %d: write: %s", c->tag, ringo_err_name(status));
	rt_maybe_done(c);
}

static void rt_connected(struct conn *c)
{
	c->on_write = rt_on_write;
	conn_read_start(c, rt_read_cb);
	rt_send(c);
}

/* Make room for `need` descriptors: soft limit up to the hard one. */
static int raise_nofile(rlim_t need)
{
	struct rlimit rl;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
		return -1;
	rl.rlim_cur = rl.rlim_max;
	return setrlimit(RLIMIT_NOFILE, &rl) ? -1 : 0;
}

START_TEST(test_many_connections)
{
	int n = TEST_SIZE(1000, 100), i;
	unsigned rounds = TEST_SIZE(100, 10);
	struct conn *srv, *c;

	OPEN_LOOP(configs[_i].flags);
	if (raise_nofile((rlim_t)n * 2 + 64))
		TEST_SKIP("RLIMIT_NOFILE too low for %d connections", n);
	rt_done = 0;
	srv = listen4(echo_accept);
	for (i = 0; i < n; i++) {
		c = client(rt_connected);
		c->tag = i;
		c->rounds_target = rounds;
	}
	RUN_UNTIL(rt_done == n && srv->child_closes == n, 120000);
	ck_assert_int_eq(srv->accepts, n);
	for (c = conns; c; c = c->next_conn) {
		if (c == srv || c == spare || c->listener)
			continue;
		ck_assert_int_eq(c->connect_status, 0);
		ck_assert_uint_eq(c->rounds, rounds);
		ck_assert_uint_eq(c->w_ok, rounds);
		ck_assert_uint_eq(c->w_err, 0);
		ck_assert_int_eq(c->closes, 1);
	}
}
END_TEST

/* ---- Peer reset during a large write ----------------------------------- */

/* Server: on the first data, close with SO_LINGER {1, 0}: an RST. */
static void reset_read_cb(ringo_stream_t *s, ssize_t nread, const void *data)
{
	struct conn *c = read_enter(s, nread, data);
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	ck_assert_int_gt(nread, 0);
	ck_assert_int_eq(setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	conn_close(c);
}

static void reset_accept(struct conn *c)
{
	conn_read_start(c, reset_read_cb);
}

static void end_read_cb(ringo_stream_t *s, ssize_t nread, const void *data)
{
	struct conn *c = read_enter(s, nread, data);

	if (nread > 0)
		c->rx_bytes += (size_t)nread;
}

static const unsigned char *reset_buf;

static void reset_client_connected(struct conn *c)
{
	int i;

	conn_read_start(c, end_read_cb);
	for (i = 0; i < 16; i++)
		write_ok(c, reset_buf, MiB, 0);
}

START_TEST(test_peer_reset_during_write)
{
	unsigned char *buf;
	struct conn *cl;

	OPEN_LOOP(configs[_i].flags);
	buf = test_alloc(MiB);
	memset(buf, 'r', MiB);
	reset_buf = buf;
	listen4(reset_accept);
	cl = client(reset_client_connected);
	RUN_UNTIL(cl->connects == 1 && (cl->connect_status || (cl->w_cbs == 16 && cl->read_ended)),
		  20000);
	ck_assert_int_eq(cl->connect_status, 0);
	ck_assert_uint_eq(cl->w_queued, 16);
	ck_assert_uint_eq(cl->w_cbs, 16);
	ck_assert_msg(cl->w_other == 0, "a write failed with %s",
		      ringo_err_name(cl->w_other_status));
	ck_assert_uint_eq(cl->w_ecanceled, 0);
	ck_assert_uint_eq(cl->w_ok + cl->w_econnreset + cl->w_epipe, 16);
	ck_assert_uint_eq(cl->w_ok_after_err, 0);
	ck_assert_msg(cl->read_end == -ECONNRESET || cl->read_end == RINGO_EOF,
		      "read ended with %s", ringo_err_name((int)cl->read_end));
	ck_assert_uint_eq(cl->rx_bytes, 0);
	ck_assert_int_eq(ringo_write_queue_size(&cl->s), 0);
	conn_close(cl);
	RUN_UNTIL(cl->closes == 1, 5000);
	ck_assert_int_eq(cl->read_calls, 1);
	ck_assert_uint_eq(cl->w_cbs, 16);
}
END_TEST

/* ---- EOF after shutdown ------------------------------------------------- */

#define EOF_WRITES 16
#define EOF_CHUNK (64 * KiB)

static const unsigned char *eof_data;

/* Server: "bye" from the client, then its EOF. */
static void bye_read_cb(ringo_stream_t *s, ssize_t nread, const void *data)
{
	struct conn *c = read_enter(s, nread, data);
	struct iovec iov = { .iov_base = "x", .iov_len = 1 };
	ringo_write_t w;

	if (nread > 0) {
		check_expected(c, data, (size_t)nread);
		return;
	}
	ck_assert_int_eq(nread, RINGO_EOF);
	/* Both directions are shut: writing is still refused. */
	ck_assert_int_eq(ringo_write(&w, s, &iov, 1, write_cb), -EPIPE);
	conn_close(c);
}

static void eof_accept(struct conn *c)
{
	struct iovec iov = { .iov_base = "late", .iov_len = 4 };
	ringo_write_t w;
	int i;

	for (i = 0; i < EOF_WRITES; i++)
		write_ok(c, eof_data + (size_t)i * EOF_CHUNK, EOF_CHUNK, 0);
	/* Shut down with every write still queued: it waits for them. */
	conn_shutdown(c);
	ck_assert_int_eq(c->shutdowns, 0);
	ck_assert_int_eq(ringo_write(&w, &c->s, &iov, 1, write_cb), -EPIPE);
	c->expect = (const unsigned char *)"bye";
	c->expect_len = 3;
	conn_read_start(c, bye_read_cb);
}

static void eof_client_read_cb(ringo_stream_t *s, ssize_t nread, const void *data)
{
	struct conn *c = read_enter(s, nread, data);

	if (nread > 0) {
		check_expected(c, data, (size_t)nread);
		return;
	}
	ck_assert_int_eq(nread, RINGO_EOF);
	/* Every byte came before the EOF. */
	ck_assert_uint_eq(c->rx_bytes, c->expect_len);
	/* Half-closed: this side still sends. */
	write_ok(c, "bye", 3, 1);
	conn_shutdown(c);
}

START_TEST(test_eof_after_shutdown)
{
	struct conn *cl, *peer;
	unsigned char *data;
	int calls;

	OPEN_LOOP(configs[_i].flags);
	data = test_alloc(EOF_WRITES * EOF_CHUNK);
	rng_state = 0x5eed0004;
	fill_random(data, EOF_WRITES * EOF_CHUNK);
	eof_data = data;
	listen4(eof_accept);
	cl = conn_new();
	cl->expect = data;
	cl->expect_len = EOF_WRITES * EOF_CHUNK;
	ck_assert_int_eq(ringo_tcp_connect(&cl->creq, &cl->s, (struct sockaddr *)&srv_addr,
					   connect_cb),
			 0);
	RUN_UNTIL(cl->connects == 1, 5000);
	ck_assert_int_eq(cl->connect_status, 0);
	conn_read_start(cl, eof_client_read_cb);
	RUN_UNTIL(last_accepted && cl->read_ended && cl->shutdowns == 1 &&
			  last_accepted->closes == 1, 20000);
	peer = last_accepted;
	ck_assert_int_eq(peer->shutdowns, 1);
	ck_assert_int_eq(peer->shutdown_status, 0);
	ck_assert_uint_eq(peer->w_cbs_at_shutdown, EOF_WRITES);
	ck_assert_uint_eq(peer->w_ok, EOF_WRITES);
	ck_assert_uint_eq(peer->rx_bytes, 3);
	ck_assert_int_eq(peer->read_end, RINGO_EOF);
	ck_assert_int_eq(cl->read_end, RINGO_EOF);
	ck_assert_int_eq(cl->shutdown_status, 0);
	ck_assert_uint_eq(cl->w_cbs_at_shutdown, 1);
	ck_assert_uint_eq(cl->w_ok, 1);
	/* EOF is reported once: nothing more arrives (read_enter would fail). */
	calls = cl->read_calls;
	run_for(30);
	ck_assert_int_eq(cl->read_calls, calls);
}
END_TEST

/* ---- Close with reads and writes in flight ------------------------------ */

static const unsigned char *close_buf;

static void count_read_cb(ringo_stream_t *s, ssize_t nread, const void *data)
{
	struct conn *c = read_enter(s, nread, data);

	if (nread > 0)
		c->rx_bytes += (size_t)nread;
}

/* ---- Parked reads (RINGO_LOOP_PARK_READS) -------------------------------- */

enum { PARK_N = 48 };

static const unsigned park_configs[] = {
	RINGO_LOOP_PARK_READS,
	RINGO_LOOP_PARK_READS | RINGO_LOOP_NO_MULTISHOT | RINGO_LOOP_NO_BUF_RING,
};

/* A blocking client socket connected to the test's listener. */
static int open_client_fd(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&srv_addr, sizeof(struct sockaddr_in)), 0);
	return fd;
}

/* `n` clients in fds[], each sending `len` bytes of `msg` once connected. */
static void open_clients_sending(int *fds, int n, const void *msg, size_t len)
{
	int i;

	for (i = 0; i < n; i++) {
		fds[i] = open_client_fd();
		ck_assert_int_eq(write(fds[i], msg, len), (ssize_t)len);
	}
}

/* Close every conn `l` accepted (all `n` of them) and the clients' fds. */
static void close_accepted(struct conn *l, const int *fds, int n)
{
	struct conn *c;
	int i;

	for (c = conns; c; c = c->next_conn)
		if (c->listener == l)
			conn_close(c);
	RUN_UNTIL(l->child_closes == n, 5000);
	for (i = 0; i < n; i++)
		close(fds[i]);
}

static void park_accept(struct conn *c)
{
	conn_read_start(c, count_read_cb);
}

/* Accepted conns of `l` that match: received `rx` bytes and ended with `end`
 * (0: not ended), or with `calls` 0, read nothing at all. */
static int park_count(const struct conn *l, size_t rx, ssize_t end, int silent)
{
	const struct conn *c;
	int n = 0;

	for (c = conns; c; c = c->next_conn) {
		if (c->listener != l)
			continue;
		if (silent ? c->read_calls == 0
			   : c->rx_bytes == rx && (end ? c->read_ended && c->read_end == end
						       : !c->read_ended))
			n++;
	}
	return n;
}

/*
 * Streams that start reading before anything arrives wait in the loop's
 * epoll set. Of 48, a third get data, a third see their peer close, a
 * third stay silent: data and EOF each arrive once, the silent ones
 * report nothing. The silent ones are then stopped while parked, sent
 * data (which must wait: they are stopped), started again (and get it),
 * and all close cleanly.
 */
START_TEST(test_parked_streams)
{
	static const char msg[] = "parked!";
	const size_t len = sizeof(msg) - 1;
	struct ringo_loop_metrics m0, m1;
	int fds[PARK_N], i;
	struct conn *l, *c;

	OPEN_LOOP(park_configs[_i]);
	l = listen4(park_accept);
	ck_assert_int_eq(ringo_loop_metrics(&loop, &m0), 0);
	for (i = 0; i < PARK_N; i++) {
		fds[i] = open_client_fd();
	}
	RUN_UNTIL(l->accepts == PARK_N, 5000);
	run_for(20);
	ck_assert_int_eq(park_count(l, 0, 0, 1), PARK_N);
	/* Parked, not reading: no recv was submitted for any of them (only
	 * the accepts, re-armed one by one without multishot, and the poll). */
	ck_assert_int_eq(ringo_loop_metrics(&loop, &m1), 0);
	ck_assert_uint_lt(m1.submitted - m0.submitted,
			  (park_configs[_i] & RINGO_LOOP_NO_MULTISHOT) ? PARK_N + 8 : 8);
	for (i = 0; i < PARK_N; i++) {
		if (i % 3 == 0)
			ck_assert_int_eq(write(fds[i], msg, len), (ssize_t)len);
		else if (i % 3 == 1)
			ck_assert_int_eq(shutdown(fds[i], SHUT_WR), 0);
	}
	RUN_UNTIL(park_count(l, len, 0, 0) == PARK_N / 3 &&
			  park_count(l, 0, RINGO_EOF, 0) == PARK_N / 3, 5000);
	run_for(20);
	ck_assert_int_eq(park_count(l, len, 0, 0), PARK_N / 3);
	ck_assert_int_eq(park_count(l, 0, RINGO_EOF, 0), PARK_N / 3);
	ck_assert_int_eq(park_count(l, 0, 0, 1), PARK_N / 3);

	for (c = conns; c; c = c->next_conn)
		if (c->listener == l && c->read_calls == 0)
			conn_read_stop(c);
	for (i = 2; i < PARK_N; i += 3)
		ck_assert_int_eq(write(fds[i], msg, len), (ssize_t)len);
	run_for(20);
	ck_assert_int_eq(park_count(l, 0, 0, 1), PARK_N / 3);
	for (c = conns; c; c = c->next_conn)
		if (c->listener == l && c->read_stopped)
			conn_read_start(c, count_read_cb);
	RUN_UNTIL(park_count(l, len, 0, 0) == 2 * (PARK_N / 3), 5000);

	close_accepted(l, fds, PARK_N);
}
END_TEST

/* ---- Parking again after silence (park_idle_ms) ------------------------ */

enum { IDLE_MS = 60, BUSY_ROUNDS = 24, BUSY_EVERY_MS = 10 };

static const unsigned idle_configs[] = {
	0,
	RINGO_LOOP_NO_MULTISHOT | RINGO_LOOP_NO_BUF_RING,
	RINGO_LOOP_PARK_READS,
	RINGO_LOOP_NO_PARK,
};

static const unsigned char idle_stream[] = "first|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|"
					   "after the park";

enum { IDLE_FIRST = 6, IDLE_BUSY_LEN = 2 };

static int *busy_fds;			/* clients; every third is kept busy */
static int busy_rounds;
static uint64_t busy_last, busy_max_gap;

/* From the loop's tick: the next two bytes to each busy client. */
static void busy_tick(void)
{
	uint64_t now = mono_ms();
	int i;

	if (busy_rounds == BUSY_ROUNDS)
		return;
	if (busy_last && now - busy_last > busy_max_gap)
		busy_max_gap = now - busy_last;
	busy_last = now;
	for (i = 0; i < PARK_N; i += 3)
		ck_assert_int_eq(write(busy_fds[i],
				       idle_stream + IDLE_FIRST + busy_rounds * IDLE_BUSY_LEN,
				       IDLE_BUSY_LEN),
				 IDLE_BUSY_LEN);
	busy_rounds++;
}

static void idle_accept(struct conn *c)
{
	c->expect = idle_stream;
	c->expect_len = sizeof(idle_stream) - 1;
	conn_read_start(c, expect_read_cb);
}

static struct ringo_loop_metrics metrics_now(void)
{
	struct ringo_loop_metrics m;

	ck_assert_int_eq(ringo_loop_metrics(&loop, &m), 0);
	return m;
}

static void tag_accepted(struct conn *l)
{
	struct conn *c;
	int n = 0;

	/* Accepted in connect order (one client at a time, each waited for). */
	for (c = conns; c; c = c->next_conn)
		if (c->listener == l)
			n++;
	for (c = conns; c; c = c->next_conn)
		if (c->listener == l)
			c->tag = --n;
}

/*
 * Streams that received and then fell silent park after one to two idle
 * periods (60 ms here), and their records go: of 48 that each got a first
 * message, the 16 kept busy (two bytes every 10 ms) keep their recv, the 32
 * silent ones park. A parked stream still gets its next data once, in
 * order, and every stream closes cleanly. With RINGO_LOOP_NO_PARK nothing
 * parks and every recv stays.
 */
START_TEST(test_idle_reparks)
{
	static const size_t first = IDLE_FIRST, busy_len = IDLE_BUSY_LEN,
			    tail = sizeof("after the park") - 1;
	static unsigned char silent_stream[sizeof(idle_stream)];
	struct ringo_loop_metrics m0, m1, m2;
	uint64_t base;
	int fds[PARK_N], i;
	struct conn *l, *c;

	const unsigned flags = idle_configs[_i];
	const unsigned parked = flags & RINGO_LOOP_NO_PARK ? 0 : PARK_N - PARK_N / 3;

	park_idle_ms = IDLE_MS;
	OPEN_LOOP(flags);
	l = listen4(idle_accept);
	for (i = 0; i < PARK_N; i++) {
		fds[i] = open_client_fd();
		RUN_UNTIL(l->accepts == i + 1, 5000);
	}
	tag_accepted(l);
	m0 = metrics_now();
	if (flags & RINGO_LOOP_PARK_READS)
		ck_assert_uint_ge(m0.parks, PARK_N);
	for (i = 0; i < PARK_N; i++)
		ck_assert_int_eq(write(fds[i], idle_stream, first), (ssize_t)first);
	RUN_UNTIL(park_count(l, first, 0, 0) == PARK_N, 5000);
	/* Each holds a recv record now: those parked from the start woke
	 * with the data (and the first armed recv started the idle sweep,
	 * a TIMEOUT op), the others had it armed since their read start.
	 * base: the loop's records besides the recvs. */
	m1 = metrics_now();
	base = flags & RINGO_LOOP_PARK_READS ? m0.ops_live + 1 : m0.ops_live - PARK_N;
	ck_assert_uint_le(m1.ops_live, base + PARK_N);

	/* The busy writes come from the loop's own tick, every 10 ms. */
	busy_fds = fds;
	busy_rounds = 0;
	busy_last = busy_max_gap = 0;
	tick_fn = busy_tick;
	ck_assert_int_eq(ringo_timer_start(&tick, tick_cb, BUSY_EVERY_MS, BUSY_EVERY_MS), 0);
	RUN_UNTIL(busy_rounds == BUSY_ROUNDS, 5000);
	run_for(BUSY_EVERY_MS);
	ck_assert_int_eq(ringo_timer_stop(&tick), 0);
	tick_fn = NULL;
	/* 240 ms is four periods: each silent stream parked once, and only
	 * the busy ones' recvs are left. A busy one parks too if the process
	 * was held off the CPU for a period (its data and the sweep then come
	 * in one batch, and its cancel may still be in flight): then only the
	 * parks of the silent ones are checked. */
	m2 = metrics_now();
	if (busy_max_gap < IDLE_MS) {
		ck_assert_uint_eq(m2.parks - m1.parks, parked);
		/* (+1: the epoll set's poll, made at the loop's first park.) */
		ck_assert_uint_eq(m2.ops_live, base + PARK_N - parked +
						       (parked && !(flags & RINGO_LOOP_PARK_READS)));
	} else {
		printf("test_idle_reparks: the loop was held off for %llu ms: "
		       "busy streams may have parked\n", (unsigned long long)busy_max_gap);
		ck_assert_uint_ge(m2.parks - m1.parks, parked);
	}
	ck_assert_int_eq(park_count(l, first + BUSY_ROUNDS * busy_len, 0, 0), PARK_N / 3);
	ck_assert_int_eq(park_count(l, first, 0, 0), PARK_N - PARK_N / 3);

	/* The silent ones get the tail of the stream right after its head. */
	memcpy(silent_stream, idle_stream, first);
	memcpy(silent_stream + first, idle_stream + sizeof(idle_stream) - 1 - tail, tail);
	for (c = conns; c; c = c->next_conn)
		if (c->listener == l && c->tag % 3) {
			c->expect = silent_stream;
			c->expect_len = first + tail;
		}
	for (i = 0; i < PARK_N; i++)
		if (i % 3)
			ck_assert_int_eq(write(fds[i], silent_stream + first, tail), (ssize_t)tail);
	RUN_UNTIL(park_count(l, first + tail, 0, 0) == PARK_N - PARK_N / 3, 5000);
	run_for(20);
	ck_assert_int_eq(park_count(l, first + tail, 0, 0), PARK_N - PARK_N / 3);

	close_accepted(l, fds, PARK_N);
}
END_TEST

enum { MANY_IDLE_N = 200 };

/*
 * More idle streams than one sweep step cancels (64): the round goes on
 * where each step stopped, and every one of 200 streams that received once
 * and fell silent parks exactly once; their records go.
 */
START_TEST(test_idle_reparks_many)
{
	int fds[MANY_IDLE_N];
	struct ringo_loop_metrics m1, m2;
	struct conn *l;

	if (raise_nofile((rlim_t)MANY_IDLE_N * 2 + 64))
		TEST_SKIP("RLIMIT_NOFILE too low for %d connections", MANY_IDLE_N);
	park_idle_ms = 30;
	OPEN_LOOP(0);
	l = listen4(idle_accept);
	open_clients_sending(fds, MANY_IDLE_N, idle_stream, IDLE_FIRST);
	RUN_UNTIL(park_count(l, IDLE_FIRST, 0, 0) == MANY_IDLE_N, 5000);
	m1 = metrics_now();
	RUN_UNTIL(metrics_now().parks - m1.parks == MANY_IDLE_N, 5000);
	run_for(100);
	m2 = metrics_now();
	ck_assert_uint_eq(m2.parks - m1.parks, MANY_IDLE_N);
	/* The recvs are gone; the epoll set's poll came. */
	ck_assert_uint_le(m2.ops_live + MANY_IDLE_N, m1.ops_live + 1);
	close_accepted(l, fds, MANY_IDLE_N);
}
END_TEST

/* ---- A burst of readable streams ----------------------------------- */

enum { BURST_N = 256, BURST_LEN = 100 };

static const unsigned char burst_msg[BURST_LEN] = "burst burst burst burst";

static void burst_accept(struct conn *c)
{
	c->expect = burst_msg;
	c->expect_len = BURST_LEN;
	conn_read_start(c, expect_read_cb);
}

/*
 * 256 clients connect and send at once, as HTTP clients do, before the
 * server runs: their recvs, armed together at accept, find data waiting,
 * and the ring's 64 buffers run out within one submission; the batch gives
 * them back as it reports them. The streams that found the ring empty wait
 * for those, and grow the pool a chunk per 10 ms at most, so the burst
 * leaves it far below its bound of 1024 (growing on each -ENOBUFS went
 * there), and every stream still gets its bytes once, in order.
 */
START_TEST(test_burst_pool_bounded)
{
	int fds[BURST_N];
	struct ringo_loop_metrics m;
	struct conn *l;

	if (raise_nofile((rlim_t)BURST_N * 2 + 64))
		TEST_SKIP("RLIMIT_NOFILE too low for %d connections", BURST_N);
	OPEN_LOOP(0);
	l = listen4(burst_accept);
	open_clients_sending(fds, BURST_N, burst_msg, BURST_LEN);
	RUN_UNTIL(park_count(l, BURST_LEN, 0, 0) == BURST_N, 5000);
	m = metrics_now();
	ck_assert_uint_le(m.read_buffers, 256);
	close_accepted(l, fds, BURST_N);
}
END_TEST

/* ---- Waiting for a buffer: every waiter is served ------------------- */

enum { HOLD_N = 64, SILENT_N = 70 };

static int hold_tokens[HOLD_N], holds;

/* Keeps every buffer it gets, so the ring runs dry. */
static void hold_read_cb(ringo_stream_t *s, ssize_t nread, const void *data)
{
	struct conn *c = read_enter(s, nread, data);

	if (nread <= 0)
		return;
	check_expected(c, data, (size_t)nread);
	ck_assert_int_lt(holds, HOLD_N);
	hold_tokens[holds] = ringo_read_keep(s);
	ck_assert_int_gt(hold_tokens[holds++], 0);
}

static void hold_accept(struct conn *c)
{
	c->expect = (const unsigned char *)"h";
	c->expect_len = 1;
	conn_read_start(c, hold_read_cb);
}

/*
 * The ring runs dry (64 streams each keep the buffer of their one byte),
 * then 70 silent streams and one that sends arrive together: all 71 recvs
 * meet the empty ring and wait. Growth and the waiters' ticks serve them
 * all, silent ones included (they take no buffer), so the one with data
 * gets it; when the kept buffers come back, the pool has not grown past
 * what they needed.
 */
START_TEST(test_waiters_all_served)
{
	int fds[HOLD_N + SILENT_N + 1], i, k, n = 0;
	struct conn *l, *c, *talker = NULL, *late[SILENT_N + 1];
	struct ringo_loop_metrics m;

	if (raise_nofile((rlim_t)(HOLD_N + SILENT_N) * 2 + 64))
		TEST_SKIP("RLIMIT_NOFILE too low for %d connections", HOLD_N + SILENT_N);
	holds = 0;
	OPEN_LOOP(0);
	l = listen4(hold_accept);
	open_clients_sending(fds, HOLD_N, "h", 1);
	n = HOLD_N;
	RUN_UNTIL(holds == HOLD_N, 5000);
	ck_assert_uint_eq(metrics_now().read_buffers, 64);
	/* The rest start reading together, once all are accepted (tag 1). */
	l->on_accept = NULL;
	for (i = 0; i < SILENT_N + 1; i++)
		fds[n++] = open_client_fd();
	ck_assert_int_eq(write(fds[n - 1], "h", 1), 1);
	RUN_UNTIL(l->accepts == HOLD_N + SILENT_N + 1, 5000);
	/* In accept order, so the one with data comes last. */
	for (k = 0; k < SILENT_N + 1; k++) {
		late[k] = NULL;
		for (c = conns; c; c = c->next_conn)
			if (c->listener == l && !c->read_calls && !c->tag &&
			    (!late[k] || c->id < late[k]->id))
				late[k] = c;
		ck_assert_ptr_nonnull(late[k]);
		late[k]->tag = 1;
	}
	for (k = 0; k < SILENT_N + 1; k++) {
		late[k]->expect = (const unsigned char *)"h";
		late[k]->expect_len = 1;
		conn_read_start(late[k], expect_read_cb);
	}
	RUN_UNTIL(park_count(l, 1, 0, 0) == HOLD_N + 1, 5000);
	for (c = conns; c; c = c->next_conn)
		if (c->listener == l && c->tag && c->rx_bytes)
			talker = c;
	ck_assert_ptr_nonnull(talker);
	m = metrics_now();
	ck_assert_uint_le(m.read_buffers, 192);
	for (i = 0; i < HOLD_N; i++)
		ck_assert_int_eq(ringo_read_release(&loop, hold_tokens[i]), 0);
	run_for(20);
	ck_assert_int_eq(park_count(l, 1, 0, 0), HOLD_N + 1);
	close_accepted(l, fds, n);
}
END_TEST

/* Queue writes and close in the same callback: nothing reached the kernel. */
static void close_now_connected(struct conn *c)
{
	int i;

	conn_read_start(c, count_read_cb);
	for (i = 0; i < 4; i++)
		write_ok(c, close_buf, MiB, 0);
	conn_close(c);
}

START_TEST(test_close_with_io_in_flight)
{
	struct iovec iov = { .iov_base = "x", .iov_len = 1 };
	unsigned char *buf;
	struct conn *cl, *peer;
	ringo_write_t w;
	int i;

	OPEN_LOOP(configs[_i].flags);
	buf = test_alloc(MiB);
	memset(buf, 'c', MiB);
	close_buf = buf;
	/* A peer that accepts and never reads. */
	connect_pair(NULL, &cl, &peer);
	conn_read_start(cl, count_read_cb);
	for (i = 0; i < 32; i++)
		write_ok(cl, buf, MiB, 0);
	ck_assert_uint_eq(ringo_write_queue_size(&cl->s), 32 * MiB);
	run_for(100);
	/* The peer does not read: most of 32 MiB is still queued. */
	ck_assert_uint_lt(cl->w_cbs, 32);
	ck_assert_uint_gt(ringo_write_queue_size(&cl->s), 0);

	conn_close(cl);
	ck_assert_int_eq(ringo_close(AS_HANDLE(&cl->s), close_cb), -EALREADY);
	ck_assert_int_eq(ringo_write(&w, &cl->s, &iov, 1, write_cb), -EINVAL);
	ck_assert_int_eq(ringo_read_start(&cl->s, count_read_cb), -EINVAL);
	ck_assert_int_eq(cl->closes, 0);
	RUN_UNTIL(cl->closes == 1, 5000);
	ck_assert_uint_eq(cl->w_cbs, 32);
	ck_assert_uint_eq(cl->w_cbs_at_close, 32);
	ck_assert_uint_eq(cl->w_ok + cl->w_ecanceled, 32);
	ck_assert_uint_gt(cl->w_ecanceled, 0);
	ck_assert_uint_eq(cl->w_ok_after_err, 0);
	ck_assert_int_eq(cl->read_calls, 0);
	/* Closed: the handle refuses everything. */
	ck_assert_int_eq(ringo_write(&w, &cl->s, &iov, 1, write_cb), -EINVAL);

	/* Writes queued and the handle closed before the loop ran again. */
	cl = client(close_now_connected);
	RUN_UNTIL(cl->closes == 1, 5000);
	ck_assert_int_eq(cl->connect_status, 0);
	ck_assert_uint_eq(cl->w_cbs, 4);
	ck_assert_uint_eq(cl->w_cbs_at_close, 4);
	ck_assert_uint_eq(cl->w_ok + cl->w_ecanceled, 4);
	ck_assert_uint_eq(cl->w_ok_after_err, 0);
	ck_assert_int_eq(cl->read_calls, 0);

	/* Closed while the connect is in flight: -ECANCELED before close_cb. */
	cl = client(NULL);
	conn_close(cl);
	RUN_UNTIL(cl->closes == 1, 5000);
	ck_assert_int_eq(cl->connects, 1);
	ck_assert_int_eq(cl->connect_status, -ECANCELED);
	run_for(20);
	ck_assert_int_eq(cl->connects, 1);
}
END_TEST

/* ---- read_stop / read_start ---------------------------------------------- */

static int ss_phase;	/* 0: stop at 64 KiB; 1: stopped; 2: stop+start in every callback */
static int ss_restarts;

static void ss_read_cb(ringo_stream_t *s, ssize_t nread, const void *data)
{
	struct conn *c = read_enter(s, nread, data);

	if (nread < 0)
		return;
	check_expected(c, data, (size_t)nread);
	if (ss_phase == 0 && c->rx_bytes >= 64 * KiB) {
		conn_read_stop(c);
		ck_assert_int_eq(ringo_read_stop(s), 0); /* idempotent */
		ss_phase = 1;
	} else if (ss_phase == 2) {
		ck_assert_int_eq(ringo_read_start(s, ss_read_cb), -EALREADY);
		conn_read_stop(c);
		conn_read_start(c, ss_read_cb);
		ss_restarts++;
	}
}

START_TEST(test_read_stop_start)
{
	size_t a = 256 * KiB, b = 512 * KiB, d = MiB, e = 256 * KiB, total = a + b + d + e;
	struct conn *cl, *peer;
	unsigned char *data;

	OPEN_LOOP(configs[_i].flags);
	data = test_alloc(total);
	rng_state = 0x5eed0007;
	fill_random(data, total);
	ss_phase = 0;
	ss_restarts = 0;
	connect_pair(NULL, &cl, &peer);
	peer->expect = data;
	peer->expect_len = total;
	conn_read_start(peer, ss_read_cb);
	write_ok(cl, data, a, 0);
	RUN_UNTIL(ss_phase == 1, 5000);

	/* Stopped (inside the callback): more comes; none of it is reported. */
	write_ok(cl, data + a, b, 0);
	run_for(50);
	ck_assert_uint_lt(peer->rx_bytes, a + b);

	/* Restart: everything arrives in order, stopping and restarting from
	 * inside each callback. */
	ss_phase = 2;
	conn_read_start(peer, ss_read_cb);
	write_ok(cl, data + a + b, d, 0);
	RUN_UNTIL(peer->rx_bytes == a + b + d, 10000);
	ck_assert_int_gt(ss_restarts, 0);

	/* Stopped from outside a callback while a read is armed. */
	ss_phase = 3;
	conn_read_stop(peer);
	write_ok(cl, data + a + b + d, e, 0);
	run_for(50);
	ck_assert_uint_eq(peer->rx_bytes, a + b + d);
	conn_read_start(peer, ss_read_cb);
	RUN_UNTIL(peer->rx_bytes == total, 10000);
	ck_assert_uint_eq(cl->w_ok, 4);

	conn_shutdown(cl);
	RUN_UNTIL(peer->read_ended, 5000);
	ck_assert_int_eq(peer->read_end, RINGO_EOF);
	ck_assert_uint_eq(peer->rx_bytes, total);
}
END_TEST

/*
 * A shutdown waiting behind queued writes when the handle closes: (1)
 * closed at once, with megabytes still queued; (2) closed from the last
 * write's callback; (3) closed from the first write's callback, the second
 * still queued; and (4) a shutdown asked from the last write's callback,
 * which starts at once. Each callback runs once, the shutdown's
 * after every write's, -ECANCELED when it never started.
 */
#define SD_BIG (4 * MiB)

static void sd_close_on_last_write(struct conn *c, int status)
{
	(void)status;
	if (c->w_cbs == c->w_queued)
		conn_close(c);
}

static void sd_close_on_first_write(struct conn *c, int status)
{
	(void)status;
	if (c->w_cbs == 1)
		conn_close(c);
}

static void sd_shutdown_on_last_write(struct conn *c, int status)
{
	(void)status;
	if (c->w_cbs == c->w_queued)
		conn_shutdown(c);
}

START_TEST(test_shutdown_then_close)
{
	struct conn *cl, *peer;
	unsigned char *big;
	int i;

	OPEN_LOOP(configs[_i].flags);
	big = test_alloc(SD_BIG);
	memset(big, 0x5d, SD_BIG);

	/* (1) The peer does not read: the writes stall, the shutdown waits. */
	connect_pair(NULL, &cl, &peer);
	for (i = 0; i < 3; i++)
		write_ok(cl, big, SD_BIG, 0);
	conn_shutdown(cl);
	run_for(20);
	ck_assert_int_eq(cl->shutdowns, 0);
	conn_close(cl);
	RUN_UNTIL(cl->closes == 1, 5000);
	ck_assert_int_eq(cl->shutdowns, 1);
	ck_assert_int_eq(cl->shutdown_status, -ECANCELED);
	ck_assert_uint_eq(cl->w_cbs_at_shutdown, 3);
	ck_assert_uint_eq(cl->w_cbs, 3);
	ck_assert_uint_eq(cl->w_ok + cl->w_ecanceled, 3);

	/* (2) Closed from the callback of the write the shutdown waits for. */
	connect_pair(NULL, &cl, &peer);
	cl->on_write = sd_close_on_last_write;
	write_ok(cl, "one", 3, 1);
	write_ok(cl, "two", 3, 1);
	conn_shutdown(cl);
	RUN_UNTIL(cl->closes == 1, 5000);
	ck_assert_uint_eq(cl->w_ok, 2);
	ck_assert_int_eq(cl->shutdowns, 1);
	ck_assert_int_eq(cl->shutdown_status, -ECANCELED);
	ck_assert_uint_eq(cl->w_cbs_at_shutdown, 2);

	/* (3) Closed from the first write's callback: the second write and
	 * the shutdown are cancelled when the handle is finalized. */
	connect_pair(NULL, &cl, &peer);
	cl->on_write = sd_close_on_first_write;
	write_ok(cl, "one", 3, 1);
	write_ok(cl, "two", 3, 1);
	conn_shutdown(cl);
	RUN_UNTIL(cl->closes == 1, 5000);
	ck_assert_uint_eq(cl->w_cbs, 2);
	ck_assert_uint_eq(cl->w_ok, 1);
	ck_assert_uint_eq(cl->w_ok + cl->w_ecanceled, 2);
	ck_assert_int_eq(cl->shutdowns, 1);
	ck_assert_int_eq(cl->shutdown_status, -ECANCELED);
	ck_assert_uint_eq(cl->w_cbs_at_shutdown, 2);

	/* (4) Asked for in the last write's callback: the queue is empty, it
	 * starts. */
	connect_pair(NULL, &cl, &peer);
	cl->on_write = sd_shutdown_on_last_write;
	peer->expect = (const unsigned char *)"onetwo";
	peer->expect_len = 6;
	conn_read_start(peer, expect_read_cb);
	write_ok(cl, "one", 3, 1);
	write_ok(cl, "two", 3, 1);
	RUN_UNTIL(cl->shutdowns == 1 && peer->read_ended, 5000);
	ck_assert_int_eq(cl->shutdown_status, 0);
	ck_assert_uint_eq(cl->w_ok, 2);
	ck_assert_int_eq(peer->read_end, RINGO_EOF);
	ck_assert_uint_eq(peer->rx_bytes, 6);
}
END_TEST

/* ---- ringo_read_keep ------------------------------------------------------ */

static int keep_token;
static const unsigned char *keep_ptr;
static size_t keep_len, keep_off;

static void keep_read_cb(ringo_stream_t *s, ssize_t nread, const void *data)
{
	struct conn *c = read_enter(s, nread, data);

	if (nread < 0)
		return;
	if (!keep_token) {
		keep_token = ringo_read_keep(s);
		ck_assert_int_gt(keep_token, 0);
		keep_ptr = data;
		keep_len = (size_t)nread;
		keep_off = c->rx_bytes;
	}
	check_expected(c, data, (size_t)nread);
}

START_TEST(test_read_keep)
{
	size_t total = 4 * MiB;
	struct conn *cl, *peer;
	unsigned char *data;

	OPEN_LOOP(configs[_i].flags);
	data = test_alloc(total);
	rng_state = 0x5eed0008;
	fill_random(data, total);
	keep_token = 0;
	connect_pair(NULL, &cl, &peer);
	/* Outside a read callback there is no buffer to keep. */
	ck_assert_int_eq(ringo_read_keep(&peer->s), -EINVAL);
	peer->expect = data;
	peer->expect_len = total;
	conn_read_start(peer, keep_read_cb);
	write_ok(cl, data, total, 0);
	/* Many more buffers pass through the pool while one is kept. */
	RUN_UNTIL(peer->rx_bytes == total, 10000);
	ck_assert_int_gt(keep_token, 0);
	ck_assert_int_gt(peer->read_calls, 64);
	ck_assert_msg(memcmp(keep_ptr, data + keep_off, keep_len) == 0,
		      "kept buffer was overwritten");
	ck_assert_int_eq(ringo_read_keep(&peer->s), -EINVAL);
	ck_assert_int_eq(ringo_read_release(&loop, keep_token), 0);
	ck_assert_int_eq(ringo_read_release(&loop, keep_token), -EINVAL);
	ck_assert_int_eq(ringo_read_release(&loop, 0), -EINVAL);
	ck_assert_int_eq(ringo_read_release(&loop, -1), -EINVAL);
	ck_assert_int_eq(ringo_read_release(NULL, keep_token), -EINVAL);
}
END_TEST

/* ---- The receive pool under held buffers --------------------------------- */

/*
 * POOL_CONNS clients each send POOL_BYTES; the server side keeps every
 * buffer it is given and releases them all only when a tick (10 ms) passed
 * without any data arriving: the pool must grow, and at its bound reading
 * must stall and then resume when the buffers come back. Each stream's bytes
 * are a window of one random block starting at 67 * (client index), so
 * streams differ and a mix-up shows.
 */
#define POOL_CONNS 64
#define POOL_BYTES MiB
#define POOL_WRITE (64 * KiB)

struct kept_buf {
	struct conn *c;
	int token;
	const unsigned char *data;
	size_t len, off;
};

static size_t nkept, kept_cap, kept_max;
static uint64_t pool_reads, pool_reads_seen;
static int pool_releases, pool_eofs;
static const unsigned char *pool_src;
static struct conn *pool_clients[POOL_CONNS];

static void pool_release_all(void)
{
	struct kept_buf *k;
	size_t i, at;

	for (i = 0; i < nkept; i++) {
		k = &kept[i];
		at = first_diff(k->data, pool_src + (size_t)k->c->peer_tag * 67 + k->off, k->len);
		ck_assert_msg(at == k->len, "stream %d: kept byte %zu differs", k->c->peer_tag,
			      k->off + at);
		ck_assert_int_eq(ringo_read_release(&loop, k->token), 0);
	}
	nkept = 0;
}

static const char *pool_diag(void)
{
	static char buf[256];
	struct conn *c;
	int done = 0, stuck = -1;
	size_t stuck_rx = 0;

	for (c = conns; c; c = c->next_conn) {
		if (!c->listener)
			continue;
		if (c->rx_bytes == POOL_BYTES)
			done++;
		else if (stuck < 0)
			stuck = c->peer_tag, stuck_rx = c->rx_bytes;
	}
	snprintf(buf, sizeof(buf),
		 " (%d/%d streams complete, %d EOFs; e.g. stream %d at %zu bytes; %zu kept now,"
		 " %zu at most, %d releases)",
		 done, POOL_CONNS, pool_eofs, stuck, stuck_rx, nkept, kept_max, pool_releases);
	return buf;
}

static void pool_tick(void)
{
	if (pool_reads == pool_reads_seen && nkept) {
		pool_release_all();
		pool_releases++;
	}
	pool_reads_seen = pool_reads;
}

static void pool_read_cb(ringo_stream_t *s, ssize_t nread, const void *data)
{
	struct conn *c = read_enter(s, nread, data);
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	int i, token;

	if (nread < 0) {
		ck_assert_msg(nread == RINGO_EOF, "stream %d: %s", c->peer_tag,
			      ringo_err_name((int)nread));
		pool_eofs++;
		conn_close(c);
		return;
	}
	if (c->peer_tag < 0) {
		ck_assert_int_eq(ringo_getpeername(s, (struct sockaddr *)&peer, &len), 0);
		for (i = 0; i < POOL_CONNS; i++)
			if (pool_clients[i] && pool_clients[i]->port == peer.sin_port)
				c->peer_tag = i;
		ck_assert_int_ge(c->peer_tag, 0);
	}
	ck_assert_uint_le(c->rx_bytes + (size_t)nread, POOL_BYTES);
	token = ringo_read_keep(s);
	ck_assert_int_gt(token, 0);
	if (nkept == kept_cap) {
		kept_cap = kept_cap ? 2 * kept_cap : 1024;
		kept = realloc(kept, kept_cap * sizeof(*kept));
		ck_assert_ptr_nonnull(kept);
	}
	kept[nkept++] = (struct kept_buf){ c, token, data, (size_t)nread, c->rx_bytes };
	if (nkept > kept_max)
		kept_max = nkept;
	c->rx_bytes += (size_t)nread;
	pool_reads++;
}

static void pool_accept(struct conn *c)
{
	conn_read_start(c, pool_read_cb);
}

static void pool_client_connected(struct conn *c)
{
	size_t off;

	for (off = 0; off < POOL_BYTES; off += POOL_WRITE)
		write_ok(c, pool_src + (size_t)c->tag * 67 + off, POOL_WRITE, 0);
	conn_shutdown(c);
}

START_TEST(test_pool_growth_kept_buffers)
{
	unsigned char *src;
	struct conn *srv, *c;
	int i;

	OPEN_LOOP(configs[_i].flags);
	src = test_alloc(POOL_BYTES + 67 * POOL_CONNS);
	rng_state = 0x5eed0009;
	fill_random(src, POOL_BYTES + 67 * POOL_CONNS);
	pool_src = src;
	nkept = kept_max = 0;
	pool_reads = pool_reads_seen = 0;
	pool_releases = pool_eofs = 0;
	srv = listen4(pool_accept);
	for (i = 0; i < POOL_CONNS; i++) {
		c = client(pool_client_connected);
		c->tag = i;
		pool_clients[i] = c;
	}
	tick_fn = pool_tick;
	ck_assert_int_eq(ringo_timer_start(&tick, tick_cb, 10, 10), 0);
	diag_fn = pool_diag;
	RUN_UNTIL(pool_eofs == POOL_CONNS && nkept == 0, TEST_SIZE(60000, 20000));
	diag_fn = NULL;
	ck_assert_int_eq(ringo_timer_stop(&tick), 0);
	tick_fn = NULL;
	ck_assert_int_eq(srv->accepts, POOL_CONNS);
	for (c = conns; c; c = c->next_conn) {
		if (!c->listener)
			continue;
		ck_assert_uint_eq(c->rx_bytes, POOL_BYTES);
	}
	for (i = 0; i < POOL_CONNS; i++) {
		ck_assert_uint_eq(pool_clients[i]->w_ok, POOL_BYTES / POOL_WRITE);
		ck_assert_int_eq(pool_clients[i]->shutdown_status, 0);
	}
	/* The pool starts with 64 buffers (net_internal.h): it grew. */
	ck_assert_uint_gt(kept_max, 64);
}
END_TEST

/*
 * Streams queued for a buffer of an exhausted pool (a "hog" stream keeps
 * every buffer it is given until the pool is at its bound, 1024 buffers)
 * leave the queue when read_stop or close takes them out of it, wherever
 * they stand: when the buffers come back, the stopped stream stays quiet
 * until its next read_start, the closed one just closes, and the others
 * (the hog and the first waiter) read on.
 */
#define HOG_BYTES (24 * MiB)	/* more than 1024 buffers of 16 KiB can hold */
#define HOG_POOL_MAX 1024	/* RINGO__POOL_MAX */
#define WAITERS 3
#define WAITER_BYTES 100

static struct conn *hog_srv;
static struct conn *waiter_srv[WAITERS];
static int hog_keeping;
static int hog_tokens[HOG_POOL_MAX + 1];
static size_t hog_nkept;

static void hog_read_cb(ringo_stream_t *s, ssize_t nread, const void *data)
{
	struct conn *c = read_enter(s, nread, data);
	int token;

	if (nread < 0) {
		ck_assert_int_eq(nread, RINGO_EOF);
		return;
	}
	check_expected(c, data, (size_t)nread);
	if (!hog_keeping)
		return;
	ck_assert_uint_lt(hog_nkept, HOG_POOL_MAX + 1);
	token = ringo_read_keep(s);
	ck_assert_int_gt(token, 0);
	hog_tokens[hog_nkept++] = token;
}

static void waiter_read_cb(ringo_stream_t *s, ssize_t nread, const void *data)
{
	struct conn *c = read_enter(s, nread, data);

	ck_assert_int_gt(nread, 0);
	check_expected(c, data, (size_t)nread);
}

static void hog_accept(struct conn *c)
{
	int i;

	if (!hog_srv) {
		hog_srv = c;
		conn_read_start(c, hog_read_cb);
		return;
	}
	for (i = 0; i < WAITERS && waiter_srv[i]; i++)
		;
	ck_assert_int_lt(i, WAITERS);
	waiter_srv[i] = c;
	conn_read_start(c, waiter_read_cb);
}

START_TEST(test_stop_while_waiting_for_buffer)
{
	static unsigned char msg[WAITER_BYTES];
	struct conn *hog, *cl;
	unsigned char *src;
	size_t i;

	OPEN_LOOP(configs[_i].flags);
	hog_srv = NULL;
	memset(waiter_srv, 0, sizeof(waiter_srv));
	hog_nkept = 0;
	hog_keeping = 1;
	src = test_alloc(HOG_BYTES);
	rng_state = 0x5eed0010;
	fill_random(src, HOG_BYTES);
	fill_random(msg, sizeof(msg));
	listen4(hog_accept);
	hog = client(NULL);
	RUN_UNTIL(hog->connects == 1 && hog_srv, 5000);
	hog_srv->expect = src;
	hog_srv->expect_len = HOG_BYTES;
	write_ok(hog, src, HOG_BYTES, 0);
	RUN_UNTIL(hog_nkept == HOG_POOL_MAX, 20000);
	run_for(20);
	ck_assert_uint_eq(hog_nkept, HOG_POOL_MAX);

	/* Each waiter's data arrives with no buffer left: it queues, in order. */
	for (i = 0; i < WAITERS; i++) {
		cl = client(NULL);
		RUN_UNTIL(cl->connects == 1 && waiter_srv[i], 5000);
		waiter_srv[i]->expect = msg;
		waiter_srv[i]->expect_len = sizeof(msg);
		write_ok(cl, msg, sizeof(msg), 0);
		RUN_UNTIL(cl->w_cbs == 1, 5000);
		run_for(20);
		ck_assert_int_eq(waiter_srv[i]->read_calls, 0);
	}
	conn_read_stop(waiter_srv[1]);	/* the middle of the queue */
	conn_close(waiter_srv[2]);	/* its tail */

	hog_keeping = 0;
	for (i = 0; i < hog_nkept; i++)
		ck_assert_int_eq(ringo_read_release(&loop, hog_tokens[i]), 0);
	RUN_UNTIL(waiter_srv[0]->rx_bytes == sizeof(msg) && hog_srv->rx_bytes == HOG_BYTES &&
			  waiter_srv[2]->closes == 1,
		  20000);
	run_for(30);
	ck_assert_int_eq(waiter_srv[1]->read_calls, 0);
	ck_assert_int_eq(waiter_srv[2]->read_calls, 0);

	conn_read_start(waiter_srv[1], waiter_read_cb);
	RUN_UNTIL(waiter_srv[1]->rx_bytes == sizeof(msg), 5000);
	RUN_UNTIL(hog->w_cbs == 1, 5000);
	ck_assert_int_eq(hog->w_ok, 1);
}
END_TEST

/* ---- Connect errors -------------------------------------------------------- */

START_TEST(test_connect_refused)
{
	struct sockaddr_in a = loopback4();
	socklen_t len = sizeof(a);
	struct conn *cl;
	int fd;

	OPEN_LOOP(configs[_i].flags);
	/* A bound port that nobody listens on (kept bound: nobody takes it). */
	fd = raw_socket(AF_INET, SOCK_STREAM);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	memcpy(&srv_addr, &a, sizeof(a));
	cl = client(NULL);
	RUN_UNTIL(cl->connects == 1, 5000);
	ck_assert_int_eq(cl->connect_status, -ECONNREFUSED);
	ck_assert_int_eq(ringo_read_start(&cl->s, count_read_cb), -ENOTCONN);
	run_for(20);
	ck_assert_int_eq(cl->connects, 1);
}
END_TEST

/* Whether a non-blocking connect on `fd` completes within `ms`. */
static int raw_established(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	socklen_t len = sizeof(int);
	int err = -1;

	if (poll(&p, 1, ms) != 1)
		return 0;
	ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len), 0);
	return err == 0;
}

START_TEST(test_connect_deadline)
{
	struct sockaddr_in a = loopback4();
	socklen_t len = sizeof(a);
	int lfd, fd, i, hung = 0, ret;
	struct conn *cl;
	uint64_t t0, elapsed;

	OPEN_LOOP(0);
	/*
	 * A listener nobody accepts from, its backlog (0) filled by plain
	 * connects: with the accept queue full Linux drops further SYNs, so a
	 * connect stays in SYN_SENT (the first retransmit is 1 s away).
	 */
	lfd = raw_socket(AF_INET, SOCK_STREAM);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(lfd, 0), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&a, &len), 0);
	for (i = 0; i < 4 && !hung; i++) {
		fd = raw_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
		ret = connect(fd, (struct sockaddr *)&a, sizeof(a));
		ck_assert(ret == 0 || errno == EINPROGRESS);
		hung = !raw_established(fd, 100);
	}
	memcpy(&srv_addr, &a, sizeof(a));
	cl = client(NULL);
	ck_assert_int_eq(ringo_deadline(AS_REQ(&cl->creq), -1), -EINVAL);
	ck_assert_int_eq(ringo_deadline(NULL, 200), -EINVAL);
	/* The deadline counts from the loop's cached time: refresh it after
	 * the blocking polls above. */
	ringo_update_time(&loop);
	t0 = mono_ms();
	ck_assert_int_eq(ringo_deadline(AS_REQ(&cl->creq), 200), 0);
	RUN_UNTIL(cl->connects == 1, 5000);
	elapsed = mono_ms() - t0;
	if (cl->connect_status == 0)
		TEST_SKIP("the kernel completed a connect to a full backlog (hung=%d)", hung);
	ck_assert_msg(cl->connect_status == -ETIMEDOUT, "connect: %s",
		      ringo_err_name(cl->connect_status));
	ck_assert_uint_ge(elapsed, 150);
	ck_assert_uint_lt(elapsed, 1000);
	/* Finished: no deadline to set any more. */
	ck_assert_int_eq(ringo_deadline(AS_REQ(&cl->creq), 200), -ENOENT);
	run_for(20);
	ck_assert_int_eq(cl->connects, 1);
}
END_TEST

/* A connection not taken in connection_cb is closed. */
START_TEST(test_unaccepted_is_closed)
{
	struct conn *srv, *cl;

	OPEN_LOOP(configs[_i].flags);
	srv = listen4(NULL);
	srv->no_accept = 1;
	cl = client(NULL);
	RUN_UNTIL(cl->connects == 1, 5000);
	ck_assert_int_eq(cl->connect_status, 0);
	conn_read_start(cl, count_read_cb);
	RUN_UNTIL(cl->read_ended, 5000);
	ck_assert_msg(cl->read_end == RINGO_EOF || cl->read_end == -ECONNRESET, "read: %s",
		      ringo_err_name((int)cl->read_end));
	ck_assert_int_eq(srv->accepts, 0);
}
END_TEST

/* ---- Bad input and state errors -------------------------------------------- */

START_TEST(test_bad_bind_connect)
{
	struct sockaddr_in a = loopback4();
	struct sockaddr_un un;
	struct sockaddr unspec;
	struct conn *c, *l;
	int fd;

	OPEN_LOOP(0);
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	strcpy(un.sun_path, "/nonexistent/ringo");
	memset(&unspec, 0, sizeof(unspec));
	unspec.sa_family = AF_UNSPEC;

	c = conn_new();
	ck_assert_int_eq(ringo_tcp_bind(&c->s, NULL, 0), -EINVAL);
	ck_assert_int_eq(ringo_tcp_bind(&c->s, (struct sockaddr *)&un, 0), -EINVAL);
	ck_assert_int_eq(ringo_tcp_bind(&c->s, &unspec, 0), -EINVAL);
	ck_assert_int_eq(ringo_tcp_bind(NULL, (struct sockaddr *)&a, 0), -EINVAL);

	ck_assert_int_eq(ringo_tcp_connect(&c->creq, &c->s, NULL, connect_cb), -EINVAL);
	ck_assert_int_eq(ringo_tcp_connect(&c->creq, &c->s, (struct sockaddr *)&un, connect_cb),
			 -EINVAL);
	ck_assert_int_eq(ringo_tcp_connect(&c->creq, &c->s, &unspec, connect_cb), -EINVAL);
	ck_assert_int_eq(ringo_tcp_connect(NULL, &c->s, (struct sockaddr *)&a, connect_cb),
			 -EINVAL);
	ck_assert_int_eq(ringo_tcp_connect(&c->creq, &c->s, (struct sockaddr *)&a, NULL),
			 -EINVAL);

	/* A port with a listener on it: in use, SO_REUSEADDR or not. */
	fd = test_tcp_listener(&a);
	raw_fds[nraw++] = fd;
	ck_assert_int_eq(ringo_tcp_bind(&c->s, (struct sockaddr *)&a, 0), -EADDRINUSE);
	l = listen4(NULL);
	c = conn_new();
	ck_assert_int_eq(ringo_tcp_bind(&c->s, (struct sockaddr *)&srv_addr, 0), -EADDRINUSE);

	ck_assert_int_eq(ringo_listen(&l->s, SOMAXCONN, connection_cb), -EALREADY);
	ck_assert_int_eq(ringo_listen(&c->s, SOMAXCONN, NULL), -EINVAL);
	ck_assert_int_eq(ringo_listen(NULL, SOMAXCONN, connection_cb), -EINVAL);
	/* Outside connection_cb: nothing to accept. */
	ck_assert_int_eq(ringo_accept(&l->s, &conn_new()->s), -EAGAIN);

	run_for(20);
	for (c = conns; c; c = c->next_conn)
		ck_assert_int_eq(c->connects, 0);
}
END_TEST

static int many_calls, many_status;

static void write_many_cb(ringo_write_t *req, int status)
{
	(void)req;
	many_calls++;
	many_status = status;
}

START_TEST(test_bad_read_write)
{
	struct iovec iov = { .iov_base = "data", .iov_len = 4 }, many[IOV_MAX + 1];
	struct conn *fresh, *cl, *peer;
	ringo_write_t w;
	unsigned i;

	OPEN_LOOP(configs[_i].flags);
	for (i = 0; i < IOV_MAX + 1; i++)
		many[i] = iov;
	fresh = conn_new();
	ck_assert_int_eq(ringo_write(&w, &fresh->s, &iov, 1, write_cb), -ENOTCONN);
	ck_assert_int_eq(ringo_read_start(&fresh->s, count_read_cb), -ENOTCONN);
	ck_assert_int_eq(ringo_write_queue_size(&fresh->s), 0);

	connect_pair(NULL, &cl, &peer);
	conn_read_start(peer, count_read_cb);
	ck_assert_int_eq(ringo_read_start(&peer->s, count_read_cb), -EALREADY);
	ck_assert_int_eq(ringo_read_start(&cl->s, NULL), -EINVAL);
	ck_assert_int_eq(ringo_read_start(NULL, count_read_cb), -EINVAL);

	ck_assert_int_eq(ringo_write(&w, &cl->s, &iov, 0, write_cb), -EINVAL);
	ck_assert_int_eq(ringo_write(&w, &cl->s, NULL, 1, write_cb), -EINVAL);
	ck_assert_int_eq(ringo_write(&w, &cl->s, &iov, 1, NULL), -EINVAL);
	ck_assert_int_eq(ringo_write(NULL, &cl->s, &iov, 1, write_cb), -EINVAL);
	ck_assert_int_eq(ringo_write(&w, NULL, &iov, 1, write_cb), -EINVAL);
	ck_assert_int_eq(ringo_write(&w, &cl->s, many, IOV_MAX + 1, write_cb), -EINVAL);
	ck_assert_uint_eq(ringo_write_queue_size(&cl->s), 0);

	/* The queue still works after all that; IOV_MAX buffers are fine. */
	write_ok(cl, "x", 1, 1);
	many_calls = 0;
	ck_assert_int_eq(ringo_write(&w, &cl->s, many, IOV_MAX, write_many_cb), 0);
	ck_assert_uint_eq(ringo_write_queue_size(&cl->s), 1 + 4 * (size_t)IOV_MAX);
	RUN_UNTIL(peer->rx_bytes == 1 + 4 * (size_t)IOV_MAX && many_calls == 1, 5000);
	ck_assert_int_eq(many_status, 0);
	ck_assert_uint_eq(cl->w_cbs, 1);

	conn_shutdown(cl);
	ck_assert_int_eq(ringo_write(&w, &cl->s, &iov, 1, write_cb), -EPIPE);
	RUN_UNTIL(cl->shutdowns == 1 && peer->read_ended, 5000);
	ck_assert_int_eq(cl->shutdown_status, 0);
	ck_assert_int_eq(peer->read_end, RINGO_EOF);
	ck_assert_int_eq(ringo_write(&w, &cl->s, &iov, 1, write_cb), -EPIPE);

	conn_close(cl);
	ck_assert_int_eq(ringo_write(&w, &cl->s, &iov, 1, write_cb), -EINVAL);
	RUN_UNTIL(cl->closes == 1, 5000);
	ck_assert_int_eq(ringo_write(&w, &cl->s, &iov, 1, write_cb), -EINVAL);
	ck_assert_int_eq(ringo_read_start(&cl->s, count_read_cb), -EINVAL);
	ck_assert_uint_eq(cl->w_cbs, 1);
}
END_TEST

START_TEST(test_socket_options)
{
	struct conn *fresh, *cl, *peer;
	socklen_t len = sizeof(int);
	int v;

	OPEN_LOOP(0);
	connect_pair(NULL, &cl, &peer);
	ck_assert_int_eq(ringo_tcp_nodelay(&cl->s, 1), 0);
	ck_assert_int_eq(getsockopt(cl->s.fd, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
	ck_assert_int_ne(v, 0);
	ck_assert_int_eq(ringo_tcp_nodelay(&cl->s, 0), 0);
	ck_assert_int_eq(getsockopt(cl->s.fd, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
	ck_assert_int_eq(v, 0);

	ck_assert_int_eq(ringo_tcp_keepalive(&cl->s, 1, 7), 0);
	ck_assert_int_eq(getsockopt(cl->s.fd, SOL_SOCKET, SO_KEEPALIVE, &v, &len), 0);
	ck_assert_int_ne(v, 0);
	ck_assert_int_eq(getsockopt(cl->s.fd, IPPROTO_TCP, TCP_KEEPIDLE, &v, &len), 0);
	ck_assert_int_eq(v, 7);
	ck_assert_int_eq(ringo_tcp_keepalive(&cl->s, 0, 0), 0);
	ck_assert_int_eq(getsockopt(cl->s.fd, SOL_SOCKET, SO_KEEPALIVE, &v, &len), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(ringo_tcp_keepalive(&cl->s, 1, 0), -EINVAL);
	ck_assert_int_eq(getsockopt(cl->s.fd, SOL_SOCKET, SO_KEEPALIVE, &v, &len), 0);
	ck_assert_int_eq(v, 0);

	/* No socket yet, or no handle. */
	fresh = conn_new();
	ck_assert_int_eq(ringo_tcp_nodelay(&fresh->s, 1), -EINVAL);
	ck_assert_int_eq(ringo_tcp_keepalive(&fresh->s, 1, 7), -EINVAL);
	ck_assert_int_eq(ringo_tcp_nodelay(NULL, 1), -EINVAL);
}
END_TEST

static int same_inet(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
	return a->sin_family == b->sin_family && a->sin_port == b->sin_port &&
	       a->sin_addr.s_addr == b->sin_addr.s_addr;
}

START_TEST(test_names)
{
	struct sockaddr_in cs, cp, ss, sp, lis;
	socklen_t len;
	struct conn *fresh, *cl, *peer;

	OPEN_LOOP(0);
	connect_pair(NULL, &cl, &peer);
	memcpy(&lis, &srv_addr, sizeof(lis));
	ck_assert_int_eq(lis.sin_family, AF_INET);
	ck_assert_int_ne(lis.sin_port, 0);
	len = sizeof(cs);
	ck_assert_int_eq(ringo_getsockname(&cl->s, (struct sockaddr *)&cs, &len), 0);
	ck_assert_uint_eq(len, sizeof(cs));
	len = sizeof(cp);
	ck_assert_int_eq(ringo_getpeername(&cl->s, (struct sockaddr *)&cp, &len), 0);
	ck_assert_uint_eq(len, sizeof(cp));
	len = sizeof(ss);
	ck_assert_int_eq(ringo_getsockname(&peer->s, (struct sockaddr *)&ss, &len), 0);
	len = sizeof(sp);
	ck_assert_int_eq(ringo_getpeername(&peer->s, (struct sockaddr *)&sp, &len), 0);
	ck_assert(same_inet(&cs, &sp));
	ck_assert(same_inet(&cp, &ss));
	ck_assert(same_inet(&cp, &lis));
	ck_assert_int_eq(cs.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
	/* A connected stream never listens (both ends): listen(2) refuses,
	 * and a reader's state is no listener's. */
	ck_assert_int_eq(ringo_listen(&cl->s, SOMAXCONN, connection_cb), -EINVAL);
	ck_assert_int_eq(ringo_listen(&peer->s, SOMAXCONN, connection_cb), -EINVAL);

	fresh = conn_new();
	len = sizeof(cs);
	ck_assert_int_eq(ringo_getsockname(&fresh->s, (struct sockaddr *)&cs, &len), -EINVAL);
	ck_assert_int_eq(ringo_getpeername(&fresh->s, (struct sockaddr *)&cs, &len), -EINVAL);
	ck_assert_int_eq(ringo_getsockname(&cl->s, NULL, &len), -EINVAL);
	ck_assert_int_eq(ringo_getpeername(&cl->s, (struct sockaddr *)&cs, NULL), -EINVAL);
	ck_assert_int_eq(ringo_getsockname(NULL, (struct sockaddr *)&cs, &len), -EINVAL);
}
END_TEST

/* Each callback: what is still queued is at most what later writes hold. */
static size_t wq_sizes[4];
static size_t wq_last;
static int wq_ok = 1;

static void wq_on_write(struct conn *c, int status)
{
	size_t left = 0, q = ringo_write_queue_size(&c->s);
	unsigned i;

	ck_assert_int_eq(status, 0);
	for (i = c->w_cbs; i < 4; i++)
		left += wq_sizes[i];
	if (q > left || q > wq_last)
		wq_ok = 0;
	ck_assert_uint_eq(q, c->s.write_queue_size);
	wq_last = q;
}

static void discard_read_cb(ringo_stream_t *s, ssize_t nread, const void *data)
{
	struct conn *c = read_enter(s, nread, data);

	if (nread > 0)
		c->rx_bytes += (size_t)nread;
}

START_TEST(test_write_queue_size)
{
	struct conn *cl, *peer;
	unsigned char *buf;
	size_t total = 0, q;
	int i;

	OPEN_LOOP(configs[_i].flags);
	buf = test_alloc(9 * MiB);
	memset(buf, 'q', 9 * MiB);
	connect_pair(NULL, &cl, &peer);
	cl->on_write = wq_on_write;
	wq_ok = 1;
	for (i = 0; i < 4; i++) {
		wq_sizes[i] = (size_t)(i + 1) * 2 * MiB + (size_t)i;
		write_ok(cl, buf, wq_sizes[i], 0);
		total += wq_sizes[i];
		ck_assert_uint_eq(ringo_write_queue_size(&cl->s), total);
	}
	wq_last = total;
	/* The peer does not read: part is sent, the rest stays queued. */
	run_for(50);
	q = ringo_write_queue_size(&cl->s);
	ck_assert_uint_lt(q, total);
	ck_assert_uint_gt(q, 0);
	wq_last = q;
	conn_read_start(peer, discard_read_cb);
	RUN_UNTIL(cl->w_cbs == 4, 10000);
	ck_assert_msg(wq_ok, "write_queue_size above what the unfinished writes hold");
	ck_assert_uint_eq(ringo_write_queue_size(&cl->s), 0);
	ck_assert_uint_eq(cl->w_ok, 4);
	RUN_UNTIL(peer->rx_bytes == total, 10000);
	ck_assert_uint_eq(ringo_write_queue_size(NULL), 0);
}
END_TEST

/* ---- Suite ---------------------------------------------------------------- */

static void reset_state(void)
{
	loop_open = 0;
	watchdog_fired = 0;
	tick_fn = NULL;
	diag_fn = NULL;
	conns = NULL;
	nconns = 0;
	last_accepted = NULL;
	spare = NULL;
	memset(&srv_addr, 0, sizeof(srv_addr));
	nraw = 0;
	nallocs = 0;
	rng_state = 0x9E3779B97F4A7C15ULL;
	free(kept);
	kept = NULL;
	nkept = kept_cap = kept_max = 0;
	memset(pool_clients, 0, sizeof(pool_clients));
}

static Suite *suite(void)
{
	Suite *s = suite_create("tcp");
	TCase *data = tcase_create("data");
	TCase *conn = tcase_create("connections");
	TCase *errs = tcase_create("errors");
	TCase *all[] = { data, conn, errs };
	size_t i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		tcase_add_checked_fixture(all[i], setup, teardown);
		tcase_set_timeout(all[i], 120);
	}

	tcase_add_loop_test(data, test_echo_random_chunks, 0, NCONFIGS);
	tcase_add_loop_test(data, test_echo_ipv6, 0, NCONFIGS);
	tcase_add_loop_test(data, test_peer_reset_during_write, 0, NCONFIGS);
	tcase_add_loop_test(data, test_eof_after_shutdown, 0, NCONFIGS);
	tcase_add_loop_test(data, test_shutdown_then_close, 0, NCONFIGS);
	tcase_add_loop_test(data, test_close_with_io_in_flight, 0, NCONFIGS);
	tcase_add_loop_test(data, test_read_stop_start, 0, NCONFIGS);
	tcase_add_loop_test(data, test_read_keep, 0, NCONFIGS);
	tcase_add_loop_test(data, test_pool_growth_kept_buffers, 0, NCONFIGS);
	tcase_add_loop_test(data, test_stop_while_waiting_for_buffer, 0, NCONFIGS);
	tcase_add_loop_test(data, test_write_queue_size, 0, NCONFIGS);
	tcase_add_loop_test(data, test_parked_streams, 0,
			    (int)(sizeof(park_configs) / sizeof(park_configs[0])));
	tcase_add_test(data, test_idle_reparks_many);
	tcase_add_test(data, test_burst_pool_bounded);
	tcase_add_test(data, test_waiters_all_served);
	tcase_add_loop_test(data, test_idle_reparks, 0,
			    (int)(sizeof(idle_configs) / sizeof(idle_configs[0])));
	suite_add_tcase(s, data);

	tcase_add_loop_test(conn, test_many_connections, 0, NCONFIGS);
	tcase_add_loop_test(conn, test_connect_refused, 0, NCONFIGS);
	tcase_add_test(conn, test_connect_deadline);
	tcase_add_loop_test(conn, test_unaccepted_is_closed, 0, NCONFIGS);
	suite_add_tcase(s, conn);

	tcase_add_test(errs, test_bad_bind_connect);
	tcase_add_loop_test(errs, test_bad_read_write, 0, NCONFIGS);
	tcase_add_test(errs, test_socket_options);
	tcase_add_test(errs, test_names);
	suite_add_tcase(s, errs);
	return s;
}

int main(void)
{
	return test_main(suite());
}
