/* SPDX-License-Identifier: MIT */
/*
 * Unix stream sockets: echo of random bytes written in random chunks over a
 * socket path (in a temp dir) and over an abstract name (leading NUL, explicit
 * length), EOF after ringo_shutdown (which waits for queued writes) and a
 * half-closed reply, close with writes queued, and the errors of names and
 * binding: a missing path (-ENOENT), a name in use (-EADDRINUSE), NULL,
 * empty and too long names (-EINVAL, with the longest valid path accepted),
 * and TCP calls on Unix handles. The data-path tests run under the default
 * loop, RINGO_LOOP_NO_MULTISHOT, and RINGO_LOOP_NO_MULTISHOT |
 * RINGO_LOOP_NO_BUF_RING. Every test opens a fresh loop; the teardown closes
 * every handle, runs the loop for the close callbacks, asserts the loop
 * closes cleanly and removes the temp dir.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "test_util.h"

#define owner_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))
#define AS_HANDLE(h) ((ringo_handle_t *)(h))
#define KiB ((size_t)1024)
#define MiB ((size_t)1024 * 1024)
#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path))

static const struct config {
	unsigned flags;
	const char *name;
} configs[] = {
	{ 0, "multishot, buffer ring" },
	{ RINGO_LOOP_NO_MULTISHOT, "single-shot, buffer ring" },
	{ RINGO_LOOP_NO_MULTISHOT | RINGO_LOOP_NO_BUF_RING, "single-shot, no buffer ring" },
};
#define NCONFIGS ((int)(sizeof(configs) / sizeof(configs[0])))

/* ---- Connections: a stream handle plus what the test saw on it -------- */

struct conn {
	ringo_stream_t s;
	struct conn *next_conn;		/* every conn of the test, for the teardown */
	int id;				/* creation order */
	struct conn *listener;		/* accepted conns: who accepted them */
	void (*on_accept)(struct conn *c);	 /* listener: set up an accepted conn */
	void (*on_connect)(struct conn *c);	 /* client: after connect succeeded */
	void (*on_write)(struct conn *c, int st); /* after each write callback */
	int accepts;			/* listener: connections accepted */

	ringo_connect_t creq;
	int connects;
	int connect_status;

	ringo_shutdown_t sreq;
	int shutdowns;
	int shutdown_status;
	unsigned w_cbs_at_shutdown;	/* write callbacks run before it */

	int close_called;		/* ringo_close returned 0 */
	int closes;			/* close callbacks */
	unsigned w_cbs_at_close;

	int read_calls;
	int read_ended;			/* an EOF or error was reported */
	ssize_t read_end;
	size_t rx_bytes;		/* bytes received and checked */

	unsigned w_queued, w_cbs, w_ok, w_err, w_ecanceled, w_ok_after_err;
	size_t w_off;			/* bytes handed to ringo_write */

	const unsigned char *expect;	/* what should arrive, in order */
	size_t expect_len;
};

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
static struct conn *conns;
static int nconns;
static struct conn *last_accepted;
static struct conn *spare;		/* a socketless handle for -EAGAIN checks */
static char tmpdir[256];
static void *allocs[8];
static int nallocs;
static uint64_t rng_state;

static int in_ci(void)
{
	const char *s = getenv("CI");

	return s && strcmp(s, "true") == 0;
}

static void reset_state(void)
{
	loop_open = 0;
	watchdog_fired = 0;
	conns = NULL;
	nconns = 0;
	last_accepted = NULL;
	spare = NULL;
	tmpdir[0] = '\0';
	nallocs = 0;
	rng_state = 0x9E3779B97F4A7C15ULL;
}

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
	for (i = 0; i < nallocs; i++)
		free(allocs[i]);
	nallocs = 0;
	if (tmpdir[0])
		test_rmtree(tmpdir);
	tmpdir[0] = '\0';
}

static void watchdog_cb(ringo_timer_t *t)
{
	(void)t;
	watchdog_fired = 1;
}

static int open_loop(unsigned flags)
{
	struct ringo_loop_opts opts;
	int ret;

	ringo_loop_opts_init(&opts);
	opts.flags = flags;
	ret = ringo_loop_init(&loop, &opts);
	if ((ret == -ENOSYS || ret == -EPERM) && !in_ci())
		return 1;
	ck_assert_msg(ret == 0, "ringo_loop_init(%#x): %s (%s)", flags, ringo_err_name(ret),
		      ringo_setup_strerror(ret));
	loop_open = 1;
	ck_assert_int_eq(ringo_timer_init(&loop, &watchdog), 0);
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
 * Run the loop until `cond` holds; fail after `ms`. Each step is a NOWAIT
 * iteration and, if still needed, a ONCE one: a close_cb queued from outside
 * the loop runs at the start of an iteration, and RUN_ONCE then still
 * blocks for new work.
 */
#define RUN_UNTIL(cond, ms)                                                                    \
	do {                                                                                   \
		watchdog_fired = 0;                                                            \
		ck_assert_int_eq(ringo_timer_start(&watchdog, watchdog_cb, (ms), 0), 0);       \
		while (!(cond)) {                                                              \
			ck_assert_msg(!watchdog_fired, "not true after %d ms: %s", (int)(ms),  \
				      #cond);                                                  \
			run_mode(RINGO_RUN_NOWAIT);                                            \
			if (!(cond))                                                           \
				run_mode(RINGO_RUN_ONCE);                                      \
		}                                                                              \
		ck_assert_int_eq(ringo_timer_stop(&watchdog), 0);                              \
	} while (0)

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

static size_t first_diff(const unsigned char *a, const unsigned char *b, size_t len)
{
	size_t i;

	for (i = 0; i < len && a[i] == b[i]; i++)
		;
	return i;
}

/* A socket path in this test's temp dir. */
static const char *temp_path(const char *leaf)
{
	static char path[sizeof(tmpdir) + 64];

	if (!tmpdir[0])
		test_tmpdir(tmpdir, sizeof(tmpdir));
	snprintf(path, sizeof(path), "%s/%s", tmpdir, leaf);
	ck_assert_uint_lt(strlen(path), SUN_PATH_MAX);
	return path;
}

/* An abstract name unique to this process and call: "\0ringo-test-<pid>-<n>". */
static size_t abstract_name(char *buf, size_t size)
{
	static int counter;
	int n;

	buf[0] = '\0';
	n = snprintf(buf + 1, size - 1, "ringo-test-%d-%d", (int)getpid(), counter++);
	return 1 + (size_t)n;
}

/* ---- Conns, callbacks that record ------------------------------------- */

static struct conn *conn_of(ringo_stream_t *s)
{
	return owner_of(s, struct conn, s);
}

static struct conn *conn_new_kind(int tcp)
{
	struct conn *c = calloc(1, sizeof(*c));

	ck_assert_ptr_nonnull(c);
	if (tcp)
		ck_assert_int_eq(ringo_tcp_init(&loop, &c->s), 0);
	else
		ck_assert_int_eq(ringo_unix_init(&loop, &c->s), 0);
	c->id = nconns++;
	c->next_conn = conns;
	conns = c;
	return c;
}

static struct conn *conn_new(void)
{
	return conn_new_kind(0);
}

static void close_cb(ringo_handle_t *h)
{
	struct conn *c = conn_of((ringo_stream_t *)h);

	ck_assert_msg(c->close_called, "conn %d: close_cb without ringo_close", c->id);
	c->closes++;
	c->w_cbs_at_close = c->w_cbs;
}

static struct conn *read_enter(ringo_stream_t *s, ssize_t nread, const void *data)
{
	struct conn *c = conn_of(s);

	ck_assert_msg(!c->close_called, "conn %d: read_cb after ringo_close", c->id);
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
	}
	free(w->owned);
	free(w);
	if (c->on_write)
		c->on_write(c, status);
}

static void write_ok(struct conn *c, const void *data, size_t len, int copy)
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
	ck_assert_msg(ret == 0, "conn %d: ringo_write: %s", c->id, ringo_err_name(ret));
	c->w_queued++;
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
	struct conn *l = conn_of(server), *c, *tcp;

	ck_assert_msg(status == 0, "connection_cb: %s", ringo_err_name(status));
	/* A TCP handle cannot take a Unix connection. */
	tcp = conn_new_kind(1);
	ck_assert_int_eq(ringo_accept(server, &tcp->s), -EINVAL);
	c = conn_new();
	ck_assert_int_eq(ringo_accept(server, &c->s), 0);
	if (!spare)
		spare = conn_new();
	ck_assert_int_eq(ringo_accept(server, &spare->s), -EAGAIN);
	c->listener = l;
	l->accepts++;
	last_accepted = c;
	if (l->on_accept)
		l->on_accept(c);
}

/* A listener on `name` (a path, or abstract with name[0] == '\0'). */
static struct conn *listen_on(const char *name, size_t len, void (*on_accept)(struct conn *c))
{
	struct conn *l = conn_new();
	int ret;

	if (!spare)
		spare = conn_new();
	ret = ringo_unix_bind(&l->s, name, len);
	ck_assert_msg(ret == 0, "ringo_unix_bind: %s", ringo_err_name(ret));
	ck_assert_int_eq(ringo_listen(&l->s, SOMAXCONN, connection_cb), 0);
	l->on_accept = on_accept;
	return l;
}

static void connect_cb(ringo_connect_t *req, int status)
{
	struct conn *c = owner_of(req, struct conn, creq);

	ck_assert_ptr_eq(req->handle, &c->s);
	ck_assert_msg(c->closes == 0, "conn %d: connect_cb after close_cb", c->id);
	c->connects++;
	c->connect_status = status;
	if (status == 0 && c->on_connect)
		c->on_connect(c);
}

static struct conn *client(const char *name, size_t len, void (*on_connect)(struct conn *c))
{
	struct conn *c = conn_new();
	int ret;

	c->on_connect = on_connect;
	ret = ringo_unix_connect(&c->creq, &c->s, name, len, connect_cb);
	ck_assert_msg(ret == 0, "ringo_unix_connect: %s", ringo_err_name(ret));
	return c;
}

/* ---- Echo ------------------------------------------------------------- */

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

static size_t rand_chunk(void)
{
	unsigned bits = 1 + (unsigned)(rng() % 17);

	return 1 + (size_t)(rng() % ((uint64_t)1 << bits));
}

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

/* Echo `total` random bytes through a listener on `name`, then end cleanly;
 * returns the listener. */
static struct conn *echo_through(const char *name, size_t len, size_t total, uint64_t seed)
{
	unsigned char *data = test_alloc(total);
	struct conn *srv, *cl, *peer;

	rng_state = seed;
	fill_random(data, total);
	srv = listen_on(name, len, echo_accept);
	cl = conn_new();
	cl->expect = data;
	cl->expect_len = total;
	cl->on_connect = echo_client_connected;
	ck_assert_int_eq(ringo_unix_connect(&cl->creq, &cl->s, name, len, connect_cb), 0);
	RUN_UNTIL(cl->connects == 1 && (cl->connect_status || (cl->rx_bytes == total &&
			 cl->w_off == total && cl->w_cbs == cl->w_queued)), 60000);
	ck_assert_int_eq(cl->connect_status, 0);
	ck_assert_uint_eq(cl->w_ok, cl->w_queued);
	ck_assert_uint_eq(cl->w_err, 0);
	ck_assert_uint_eq(ringo_write_queue_size(&cl->s), 0);
	ck_assert_int_eq(srv->accepts, 1);
	peer = last_accepted;
	ck_assert_uint_eq(peer->rx_bytes, total);

	conn_shutdown(cl);
	RUN_UNTIL(cl->shutdowns == 1 && cl->read_ended && peer->closes == 1, 10000);
	ck_assert_int_eq(cl->shutdown_status, 0);
	ck_assert_int_eq(cl->read_end, RINGO_EOF);
	ck_assert_uint_eq(cl->rx_bytes, total);
	ck_assert_uint_eq(peer->w_ok, peer->w_queued);
	ck_assert_uint_eq(peer->w_err, 0);
	return srv;
}

START_TEST(test_path_echo)
{
	struct sockaddr_un sun;
	socklen_t sl = sizeof(sun);
	const char *path;
	struct stat st;
	struct conn *l;

	OPEN_LOOP(configs[_i].flags);
	path = temp_path("echo.sock");
	l = echo_through(path, 0, TEST_SIZE(16 * MiB, 2 * MiB), 0x5eed0101 + (unsigned)_i);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(ringo_getsockname(&l->s, (struct sockaddr *)&sun, &sl), 0);
	ck_assert_int_eq(sun.sun_family, AF_UNIX);
	ck_assert_str_eq(sun.sun_path, path);
}
END_TEST

START_TEST(test_abstract_echo)
{
	struct sockaddr_un sun;
	socklen_t sl = sizeof(sun);
	char name[64];
	size_t len;
	struct conn *l;

	OPEN_LOOP(configs[_i].flags);
	len = abstract_name(name, sizeof(name));
	l = echo_through(name, len, 512 * KiB, 0x5eed0102 + (unsigned)_i);
	ck_assert_int_eq(ringo_getsockname(&l->s, (struct sockaddr *)&sun, &sl), 0);
	ck_assert_int_eq(sun.sun_family, AF_UNIX);
	ck_assert_uint_eq(sl, offsetof(struct sockaddr_un, sun_path) + len);
	ck_assert_int_eq(memcmp(sun.sun_path, name, len), 0);
}
END_TEST

/* ---- EOF and shutdown ---------------------------------------------------- */

#define EOF_WRITES 16
#define EOF_CHUNK (32 * KiB)

static const unsigned char *eof_data;

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
	ck_assert_uint_eq(c->rx_bytes, c->expect_len);
	write_ok(c, "bye", 3, 1);
	conn_shutdown(c);
}

START_TEST(test_eof_and_shutdown)
{
	struct conn *cl, *peer;
	unsigned char *data;
	const char *path;
	int calls;

	OPEN_LOOP(configs[_i].flags);
	path = temp_path("eof.sock");
	data = test_alloc(EOF_WRITES * EOF_CHUNK);
	rng_state = 0x5eed0103;
	fill_random(data, EOF_WRITES * EOF_CHUNK);
	eof_data = data;
	listen_on(path, 0, eof_accept);
	cl = client(path, 0, NULL);
	cl->expect = data;
	cl->expect_len = EOF_WRITES * EOF_CHUNK;
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
	calls = cl->read_calls;
	run_for(30);
	ck_assert_int_eq(cl->read_calls, calls);
}
END_TEST

/* ---- Close with writes queued ------------------------------------------- */

static void count_read_cb(ringo_stream_t *s, ssize_t nread, const void *data)
{
	struct conn *c = read_enter(s, nread, data);

	if (nread > 0)
		c->rx_bytes += (size_t)nread;
}

START_TEST(test_close_with_writes_queued)
{
	unsigned char *buf;
	struct conn *cl;
	const char *path;
	int i;

	OPEN_LOOP(configs[_i].flags);
	buf = test_alloc(MiB);
	memset(buf, 'u', MiB);
	path = temp_path("close.sock");
	/* A peer that accepts and never reads. */
	listen_on(path, 0, NULL);
	cl = client(path, 0, NULL);
	RUN_UNTIL(cl->connects == 1 && last_accepted, 5000);
	ck_assert_int_eq(cl->connect_status, 0);
	conn_read_start(cl, count_read_cb);
	for (i = 0; i < 16; i++)
		write_ok(cl, buf, MiB, 0);
	run_for(50);
	ck_assert_uint_lt(cl->w_cbs, 16);
	conn_close(cl);
	RUN_UNTIL(cl->closes == 1, 5000);
	ck_assert_uint_eq(cl->w_cbs, 16);
	ck_assert_uint_eq(cl->w_cbs_at_close, 16);
	ck_assert_uint_eq(cl->w_ok + cl->w_ecanceled, 16);
	ck_assert_uint_gt(cl->w_ecanceled, 0);
	ck_assert_uint_eq(cl->w_ok_after_err, 0);
	ck_assert_int_eq(cl->read_calls, 0);
}
END_TEST

/* ---- Names and binding errors -------------------------------------------- */

START_TEST(test_connect_missing_path)
{
	struct conn *c;
	const char *path;
	int ret;

	OPEN_LOOP(configs[_i].flags);
	path = temp_path("missing.sock");
	c = conn_new();
	ret = ringo_unix_connect(&c->creq, &c->s, path, 0, connect_cb);
	/* Refused at once, or reported by the callback: -ENOENT either way. */
	if (ret == 0) {
		RUN_UNTIL(c->connects == 1, 5000);
		ck_assert_int_eq(c->connect_status, -ENOENT);
	} else {
		ck_assert_int_eq(ret, -ENOENT);
	}
	run_for(20);
	ck_assert_int_eq(c->connects, ret == 0 ? 1 : 0);
	ck_assert_int_eq(ringo_read_start(&c->s, count_read_cb), -ENOTCONN);
}
END_TEST

START_TEST(test_bind_in_use)
{
	struct conn *a, *b;
	const char *path;
	char name[64];
	size_t len;

	OPEN_LOOP(0);
	path = temp_path("inuse.sock");
	a = conn_new();
	ck_assert_int_eq(ringo_unix_bind(&a->s, path, 0), 0);
	b = conn_new();
	ck_assert_int_eq(ringo_unix_bind(&b->s, path, 0), -EADDRINUSE);
	/* Listening makes no difference; nor does an explicit length. */
	ck_assert_int_eq(ringo_listen(&a->s, 8, connection_cb), 0);
	b = conn_new();
	ck_assert_int_eq(ringo_unix_bind(&b->s, path, strlen(path)), -EADDRINUSE);

	len = abstract_name(name, sizeof(name));
	a = conn_new();
	ck_assert_int_eq(ringo_unix_bind(&a->s, name, len), 0);
	b = conn_new();
	ck_assert_int_eq(ringo_unix_bind(&b->s, name, len), -EADDRINUSE);
	/* A different length is a different abstract name. */
	b = conn_new();
	ck_assert_int_eq(ringo_unix_bind(&b->s, name, len - 1), 0);
}
END_TEST

START_TEST(test_bad_names)
{
	char longname[SUN_PATH_MAX + 64], abs[SUN_PATH_MAX + 1];
	struct conn *c;
	size_t dlen;
	int i;

	OPEN_LOOP(0);
	temp_path("x"); /* makes the temp dir */
	dlen = strlen(tmpdir);
	c = conn_new();
	ck_assert_int_eq(ringo_unix_bind(&c->s, NULL, 0), -EINVAL);
	ck_assert_int_eq(ringo_unix_bind(&c->s, "", 0), -EINVAL);
	ck_assert_int_eq(ringo_unix_bind(NULL, "x", 0), -EINVAL);

	/* sun_path - 1 characters is the longest path (it needs its NUL). */
	memset(longname, 'n', sizeof(longname));
	memcpy(longname, tmpdir, dlen);
	longname[dlen] = '/';
	longname[SUN_PATH_MAX] = '\0';
	ck_assert_int_eq(ringo_unix_bind(&c->s, longname, 0), -EINVAL);
	ck_assert_int_eq(ringo_unix_bind(&c->s, longname, SUN_PATH_MAX), -EINVAL);
	longname[SUN_PATH_MAX] = 'n';
	longname[sizeof(longname) - 1] = '\0';
	ck_assert_int_eq(ringo_unix_bind(&c->s, longname, 0), -EINVAL);
	longname[SUN_PATH_MAX - 1] = '\0';
	ck_assert_int_eq(ringo_unix_bind(&c->s, longname, 0), 0);
	ck_assert_int_eq(ringo_listen(&c->s, 8, connection_cb), 0);

	/* Past sun_path, an abstract name is too long. */
	abs[0] = '\0';
	for (i = 1; i < (int)sizeof(abs); i++)
		abs[i] = (char)('a' + i % 26);
	c = conn_new();
	ck_assert_int_eq(ringo_unix_bind(&c->s, abs, SUN_PATH_MAX + 1), -EINVAL);
	/* An abstract name needs its length: a lone NUL is empty. */
	ck_assert_int_eq(ringo_unix_bind(&c->s, abs, 0), -EINVAL);

	c = conn_new();
	ck_assert_int_eq(ringo_unix_connect(&c->creq, &c->s, NULL, 0, connect_cb), -EINVAL);
	ck_assert_int_eq(ringo_unix_connect(&c->creq, &c->s, "", 0, connect_cb), -EINVAL);
	longname[SUN_PATH_MAX - 1] = 'n';
	ck_assert_int_eq(ringo_unix_connect(&c->creq, &c->s, longname, 0, connect_cb), -EINVAL);
	ck_assert_int_eq(ringo_unix_connect(&c->creq, &c->s, abs, SUN_PATH_MAX + 1, connect_cb),
			 -EINVAL);
	ck_assert_int_eq(ringo_unix_connect(NULL, &c->s, "x", 0, connect_cb), -EINVAL);
	ck_assert_int_eq(ringo_unix_connect(&c->creq, &c->s, "x", 0, NULL), -EINVAL);

	/* The longest path connects. */
	longname[SUN_PATH_MAX - 1] = '\0';
	ck_assert_int_eq(ringo_unix_connect(&c->creq, &c->s, longname, 0, connect_cb), 0);
	RUN_UNTIL(c->connects == 1, 5000);
	ck_assert_int_eq(c->connect_status, 0);
	for (c = conns; c; c = c->next_conn)
		ck_assert_int_le(c->connects, 1);
}
END_TEST

START_TEST(test_tcp_calls_on_unix)
{
	struct sockaddr_in a;
	struct conn *c, *t;
	const char *path;

	OPEN_LOOP(0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c = conn_new();
	ck_assert_int_eq(ringo_tcp_bind(&c->s, (struct sockaddr *)&a, 0), -EINVAL);
	ck_assert_int_eq(ringo_tcp_connect(&c->creq, &c->s, (struct sockaddr *)&a, connect_cb),
			 -EINVAL);
	t = conn_new_kind(1);
	ck_assert_int_eq(ringo_unix_bind(&t->s, "/nonexistent/x", 0), -EINVAL);
	ck_assert_int_eq(ringo_unix_connect(&t->creq, &t->s, "/nonexistent/x", 0, connect_cb),
			 -EINVAL);

	path = temp_path("kind.sock");
	listen_on(path, 0, NULL);
	c = client(path, 0, NULL);
	RUN_UNTIL(c->connects == 1 && last_accepted, 5000);
	ck_assert_int_eq(c->connect_status, 0);
	ck_assert_int_eq(ringo_tcp_nodelay(&c->s, 1), -EINVAL);
	ck_assert_int_eq(ringo_tcp_keepalive(&c->s, 1, 5), -EINVAL);
	run_for(10);
	ck_assert_int_eq(t->connects, 0);
}
END_TEST

/* ---- Suite ---------------------------------------------------------------- */

static Suite *suite(void)
{
	Suite *s = suite_create("unix");
	TCase *data = tcase_create("data");
	TCase *names = tcase_create("names");
	TCase *all[] = { data, names };
	size_t i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		tcase_add_checked_fixture(all[i], setup, teardown);
		tcase_set_timeout(all[i], 120);
	}

	tcase_add_loop_test(data, test_path_echo, 0, NCONFIGS);
	tcase_add_loop_test(data, test_abstract_echo, 0, NCONFIGS);
	tcase_add_loop_test(data, test_eof_and_shutdown, 0, NCONFIGS);
	tcase_add_loop_test(data, test_close_with_writes_queued, 0, NCONFIGS);
	suite_add_tcase(s, data);

	tcase_add_loop_test(names, test_connect_missing_path, 0, NCONFIGS);
	tcase_add_test(names, test_bind_in_use);
	tcase_add_test(names, test_bad_names);
	tcase_add_test(names, test_tcp_calls_on_unix);
	suite_add_tcase(s, names);
	return s;
}

int main(void)
{
	return test_main(suite());
}
