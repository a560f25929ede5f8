/* SPDX-License-Identifier: MIT */
/*
 * The proactor core through its public API: the run modes and ringo_stop,
 * the cached clock, the raw escape hatch (ringo_submit with a prep
 * callback, refused preps and links, multishot ops, -EBUSY on a request
 * still in flight), exactly-once callbacks under cancellation at every
 * point of an op's life (before submission, in the overflow queue, in
 * flight, after completion, twice, from other callbacks, and a randomized
 * mix), stale CQEs put on the ring behind the loop's back, a full SQ and a
 * small CQ, callbacks that start, cancel, close and stop, handle ref/unref
 * and close, bad arguments, the loop options and the metrics. Every test
 * gets a fresh loop; the teardown asserts it closes with nothing left.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "fixture_loop.h"

/* ---- Fixture ---------------------------------------------------------- */

static int pipe_fds[2] = { -1, -1 };	/* a blocking pipe, closed by the teardown */

static void reset_state(void);

static void setup(void)
{
	/* Without fork mode (CK_FORK=no) every test must start from zero. */
	reset_state();
	loop_fixture_open(NULL);
}

static void teardown(void)
{
	loop_fixture_close();
	test_close_pipe(pipe_fds);
}

/* Replace the fixture's loop with one built from `opts`; returns init's result. */
static int reopen(const struct ringo_loop_opts *opts)
{
	int ret;

	ck_assert_int_eq(ringo_loop_close(&loop), 0);
	loop_open = 0;
	ret = ringo_loop_init(&loop, opts);
	if (ret == 0)
		loop_open = 1;
	return ret;
}

static void reopen_with(unsigned entries, unsigned cq_entries, unsigned flags)
{
	struct ringo_loop_opts opts;
	int ret;

	ringo_loop_opts_init(&opts);
	opts.entries = entries;
	opts.cq_entries = cq_entries;
	opts.flags = flags;
	ret = reopen(&opts);
	ck_assert_msg(ret == 0, "ringo_loop_init(%u, %u, flags 0x%x): %s", entries, cq_entries,
		      flags, ringo_err_name(ret));
}

static void reopen_sized(unsigned entries, unsigned cq_entries)
{
	reopen_with(entries, cq_entries, 0);
}

static void open_pipe(void)
{
	test_pipe(pipe_fds);
}

static int pipe_pending(int fd)
{
	int n = 0;

	ck_assert_int_eq(ioctl(fd, FIONREAD, &n), 0);
	return n;
}

/* ---- Requests that record their completions --------------------------- */

struct treq {
	ringo_raw_t raw;
	int calls;		/* callbacks run */
	int res;		/* res of the last one */
	unsigned flags;		/* cqe flags of the last one */
	int seq;		/* global completion order of the last one */
	char buf[16];
};

static int seq_counter;

static struct treq *treq_of(ringo_raw_t *raw)
{
	return owner_of(raw, struct treq, raw);
}

static void record_cb(ringo_raw_t *raw, int res, unsigned flags)
{
	struct treq *t = treq_of(raw);

	t->calls++;
	t->res = res;
	t->flags = flags;
	t->seq = seq_counter++;
}

static int prep_write(struct ringo_sqe *sqe, void *arg)
{
	struct rw_arg *a = arg;

	ringo_prep_write(sqe, a->fd, a->buf, a->len, (uint64_t)-1);
	return 0;
}

/* A read of up to `len` bytes into t->buf; on an empty pipe it stays pending. */
static void start_read(struct treq *t, int fd, unsigned len, ringo_raw_cb cb)
{
	struct rw_arg a = { .fd = fd, .buf = t->buf, .len = len };

	ck_assert_int_eq(ringo_submit(&loop, &t->raw, prep_read, &a, cb), 0);
}

static void start_nop(struct treq *t, ringo_raw_cb cb)
{
	ck_assert_int_eq(ringo_nop(&loop, &t->raw, cb), 0);
}

static void assert_res(const struct treq *t, int res)
{
	ck_assert_msg(t->res == res, "res %d (%s), want %d (%s)", t->res, ringo_err_name(t->res),
		      res, ringo_err_name(res));
}

/* A one-byte read of a new pipe into t->buf: pending until someone writes. */
static void start_pipe_read(struct treq *t)
{
	open_pipe();
	start_read(t, pipe_fds[0], 1, record_cb);
}

/* Run to the end: t's callback has run `calls` times in all, the last with `res`. */
static void run_expect(struct treq *t, int calls, int res)
{
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(t->calls, calls);
	assert_res(t, res);
}

/* Cancel t, which is in flight: the first cancel takes, a second is too late. */
static void cancel_pending(struct treq *t)
{
	ck_assert_int_eq(ringo_cancel(AS_REQ(&t->raw)), 0);
	ck_assert_int_eq(ringo_cancel(AS_REQ(&t->raw)), -EALREADY);
}

/* ======================================================================
 * Run modes and time
 * ====================================================================== */

START_TEST(test_run_nothing_alive)
{
	uint64_t t0;

	REQUIRE_LOOP();
	ck_assert_int_eq(ringo_loop_alive(&loop), 0);
	t0 = test_mono_ms();
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_ONCE), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	ck_assert_uint_lt(test_mono_ms() - t0, 1000);
	ck_assert_int_eq(ringo_loop_alive(&loop), 0);
}
END_TEST

START_TEST(test_run_once)
{
	struct treq nop = { 0 }, rd = { 0 };
	struct ringo_loop_metrics m0, m1;

	REQUIRE_LOOP();
	open_pipe();
	start_nop(&nop, record_cb);
	start_read(&rd, pipe_fds[0], 1, record_cb);
	ck_assert_int_eq(ringo_loop_alive(&loop), 1);

	m0 = metrics();
	ck_assert_int_gt(ringo_run(&loop, RINGO_RUN_ONCE), 0);
	m1 = metrics();
	ck_assert_uint_eq(m1.iterations - m0.iterations, 1);
	ck_assert_int_eq(nop.calls, 1);
	assert_res(&nop, 0);
	ck_assert_int_eq(rd.calls, 0);
	ck_assert_int_eq(ringo_loop_alive(&loop), 1);

	ck_assert_int_eq(ringo_cancel(AS_REQ(&rd.raw)), 0);
	run_expect(&rd, 1, -ECANCELED);
	ck_assert_int_eq(nop.calls, 1);
	ck_assert_int_eq(ringo_loop_alive(&loop), 0);
}
END_TEST

START_TEST(test_run_nowait)
{
	struct ringo_loop_metrics m0, m1;
	struct treq rd = { 0 };
	uint64_t t0;
	int i;

	REQUIRE_LOOP();
	open_pipe();
	start_read(&rd, pipe_fds[0], sizeof(rd.buf), record_cb);
	m0 = metrics();
	t0 = test_mono_ms();
	for (i = 0; i < 5; i++)
		ck_assert_int_gt(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	ck_assert_uint_lt(test_mono_ms() - t0, 1000);
	m1 = metrics();
	ck_assert_uint_eq(m1.iterations - m0.iterations, 5);
	/* Never blocked: not one nanosecond was spent waiting. */
	ck_assert_uint_eq(m1.wait_ns, m0.wait_ns);
	ck_assert_uint_eq(m1.submitted - m0.submitted, 1);
	ck_assert_int_eq(rd.calls, 0);

	/* Data arrives: the still-pending read completes with it. */
	test_write_byte(pipe_fds[1], 'z');
	run_expect(&rd, 1, 1);
	ck_assert_uint_eq(rd.flags & RINGO_CQE_F_MORE, 0);
	ck_assert_int_eq(rd.buf[0], 'z');
}
END_TEST

static struct treq stop_nop, stop_next, stop_read;

static void stop_next_cb(ringo_raw_t *raw, int res, unsigned flags)
{
	record_cb(raw, res, flags);
	ck_assert_int_eq(ringo_cancel(AS_REQ(&stop_read.raw)), 0);
}

static void stop_cb(ringo_raw_t *raw, int res, unsigned flags)
{
	record_cb(raw, res, flags);
	ringo_stop(&loop);
	/* Queued now, submitted by the next iteration: after the stop. */
	start_nop(&stop_next, stop_next_cb);
}

START_TEST(test_run_stop)
{
	REQUIRE_LOOP();
	start_pipe_read(&stop_read);
	start_nop(&stop_nop, stop_cb);

	ck_assert_int_gt(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(stop_nop.calls, 1);
	ck_assert_int_eq(stop_next.calls, 0);
	ck_assert_int_eq(stop_read.calls, 0);
	ck_assert_int_eq(ringo_loop_alive(&loop), 1);

	/* The stop was for that run only: the next one goes on to the end. */
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(stop_nop.calls, 1);
	ck_assert_int_eq(stop_next.calls, 1);
	assert_res(&stop_next, 0);
	ck_assert_int_eq(stop_read.calls, 1);
	assert_res(&stop_read, -ECANCELED);
	ck_assert_int_lt(stop_next.seq, stop_read.seq);
}
END_TEST

START_TEST(test_now_update_time)
{
	uint64_t n0, n1, n2, wall;

	REQUIRE_LOOP();
	ringo_update_time(&loop);
	n0 = ringo_now(&loop);
	wall = test_mono_ms();
	ck_assert_uint_le(n0, wall);
	ck_assert_uint_le(wall - n0, 5);

	test_sleep_ms(20);
	/* Cached: unchanged until updated. */
	ck_assert_uint_eq(ringo_now(&loop), n0);
	ringo_update_time(&loop);
	n1 = ringo_now(&loop);
	ck_assert_uint_ge(n1 - n0, 20);
	ck_assert_uint_lt(n1 - n0, 2000);

	/* A run updates it too, and it never goes back. */
	test_sleep_ms(5);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	n2 = ringo_now(&loop);
	ck_assert_uint_ge(n2, n1 + 5);
	ringo_update_time(&loop);
	ck_assert_uint_ge(ringo_now(&loop), n2);
}
END_TEST

/* ======================================================================
 * The raw escape hatch
 * ====================================================================== */

static struct treq rw_write, rw_read;
static struct rw_arg rw_read_arg;

static void rw_write_cb(ringo_raw_t *raw, int res, unsigned flags)
{
	record_cb(raw, res, flags);
	ck_assert_int_eq(ringo_submit(&loop, &rw_read.raw, prep_read, &rw_read_arg, record_cb),
			 0);
}

START_TEST(test_raw_write_then_read)
{
	struct rw_arg wa;

	REQUIRE_LOOP();
	open_pipe();
	strcpy(rw_write.buf, "hello");
	wa = (struct rw_arg){ .fd = pipe_fds[1], .buf = rw_write.buf, .len = 5 };
	rw_read_arg = (struct rw_arg){ .fd = pipe_fds[0], .buf = rw_read.buf, .len = 16 };
	ck_assert_int_eq(ringo_submit(&loop, &rw_write.raw, prep_write, &wa, rw_write_cb), 0);
	ck_assert_int_eq(rw_write.raw.type, RINGO_REQ_RAW);
	ck_assert_ptr_eq(rw_write.raw.loop, &loop);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);

	ck_assert_int_eq(rw_write.calls, 1);
	assert_res(&rw_write, 5);
	ck_assert_uint_eq(rw_write.flags, 0);
	ck_assert_int_eq(rw_read.calls, 1);
	assert_res(&rw_read, 5);
	ck_assert_uint_eq(rw_read.flags, 0);
	ck_assert_mem_eq(rw_read.buf, "hello", 5);
	ck_assert_int_lt(rw_write.seq, rw_read.seq);
}
END_TEST

static int prep_calls;

static int prep_refuse(struct ringo_sqe *sqe, void *arg)
{
	(void)arg;
	prep_calls++;
	ringo_prep_nop(sqe);
	return -EPERM;
}

static int prep_link(struct ringo_sqe *sqe, void *arg)
{
	prep_calls++;
	ringo_prep_nop(sqe);
	ringo_sqe_set_flags(sqe, *(unsigned *)arg);
	return 0;
}

START_TEST(test_raw_prep_refused)
{
	unsigned link = RINGO_SQE_IO_LINK, hardlink = RINGO_SQE_IO_HARDLINK;
	struct ringo_loop_metrics m;
	struct treq t = { 0 };

	REQUIRE_LOOP();
	ck_assert_int_eq(ringo_submit(&loop, &t.raw, prep_refuse, NULL, record_cb), -EPERM);
	ck_assert_int_eq(prep_calls, 1);
	ck_assert_int_eq(ringo_submit(&loop, &t.raw, prep_link, &link, record_cb), -EINVAL);
	ck_assert_int_eq(ringo_submit(&loop, &t.raw, prep_link, &hardlink, record_cb), -EINVAL);
	ck_assert_int_eq(prep_calls, 3);
	ck_assert_int_eq(ringo_loop_alive(&loop), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	ck_assert_int_eq(t.calls, 0);
	m = metrics();
	ck_assert_uint_eq(m.submitted, 0);
	ck_assert_uint_eq(m.completions, 0);

	/* Nothing of the refused attempts sticks to the request. */
	start_nop(&t, record_cb);
	run_expect(&t, 1, 0);
	m = metrics();
	ck_assert_uint_eq(m.submitted, 1);
	ck_assert_uint_eq(m.completions, 1);
}
END_TEST

struct poll_arg {
	int fd;
	unsigned mask;
};

static int prep_poll_multi(struct ringo_sqe *sqe, void *arg)
{
	struct poll_arg *a = arg;

	ringo_prep_poll_multishot(sqe, a->fd, a->mask);
	return 0;
}

static int poll_more_calls;

static void poll_cb(ringo_raw_t *raw, int res, unsigned flags)
{
	char c;

	record_cb(raw, res, flags);
	if (flags & RINGO_CQE_F_MORE) {
		poll_more_calls++;
		ck_assert_msg(res > 0 && (res & POLLIN), "poll res %d", res);
		/* Consume the byte, so the next readiness is a new one. */
		ck_assert_int_eq(read(pipe_fds[0], &c, 1), 1);
	}
}

START_TEST(test_raw_multishot)
{
	struct poll_arg pa;
	struct treq t = { 0 };
	int i;

	REQUIRE_LOOP();
	open_pipe();
	pa = (struct poll_arg){ .fd = pipe_fds[0], .mask = POLLIN };
	ck_assert_int_eq(ringo_submit(&loop, &t.raw, prep_poll_multi, &pa, poll_cb), 0);
	ck_assert_int_gt(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	ck_assert_int_eq(t.calls, 0);

	for (i = 1; i <= 3; i++) {
		test_write_byte(pipe_fds[1], 'p');
		ck_assert_int_gt(ringo_run(&loop, RINGO_RUN_ONCE), 0);
		ck_assert_int_eq(t.calls, i);
		ck_assert_int_eq(poll_more_calls, i);
		ck_assert_uint_ne(t.flags & RINGO_CQE_F_MORE, 0);
		/* Still in flight between CQEs: the request is busy. */
		ck_assert_int_eq(ringo_submit(&loop, &t.raw, prep_poll_multi, &pa, poll_cb),
				 -EBUSY);
		ck_assert_int_eq(ringo_nop(&loop, &t.raw, poll_cb), -EBUSY);
	}

	cancel_pending(&t);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(t.calls, 4);
	ck_assert_int_eq(poll_more_calls, 3);
	assert_res(&t, -ECANCELED);
	ck_assert_uint_eq(t.flags & RINGO_CQE_F_MORE, 0);
	ck_assert_int_eq(ringo_cancel(AS_REQ(&t.raw)), -ENOENT);
}
END_TEST

START_TEST(test_raw_busy)
{
	struct rw_arg a;
	struct treq t = { 0 };

	REQUIRE_LOOP();
	open_pipe();
	a = (struct rw_arg){ .fd = pipe_fds[0], .buf = t.buf, .len = 1 };
	start_nop(&t, record_cb);
	/* Queued but not yet run is in flight too. */
	ck_assert_int_eq(ringo_nop(&loop, &t.raw, record_cb), -EBUSY);
	ck_assert_int_eq(ringo_submit(&loop, &t.raw, prep_read, &a, record_cb), -EBUSY);
	run_expect(&t, 1, 0);

	/* Finished: free to go again. */
	start_nop(&t, record_cb);
	run_expect(&t, 2, 0);
}
END_TEST

#define CHAIN_LEN 10
static int chain_seen[CHAIN_LEN];
static int chain_n;

/* Reuses its own request from inside its callback. */
static void chain_cb(ringo_raw_t *raw, int res, unsigned flags)
{
	record_cb(raw, res, flags);
	ck_assert_int_eq(res, 0);
	ck_assert_int_eq(ringo_cancel(AS_REQ(raw)), -ENOENT);
	chain_seen[chain_n] = treq_of(raw)->calls;
	chain_n++;
	if (chain_n < CHAIN_LEN)
		ck_assert_int_eq(ringo_nop(&loop, raw, chain_cb), 0);
}

START_TEST(test_callback_starts_ops)
{
	struct treq t = { 0 };
	int i;

	REQUIRE_LOOP();
	start_nop(&t, chain_cb);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(chain_n, CHAIN_LEN);
	ck_assert_int_eq(t.calls, CHAIN_LEN);
	for (i = 0; i < CHAIN_LEN; i++)
		ck_assert_int_eq(chain_seen[i], i + 1);
}
END_TEST

/* ======================================================================
 * Cancellation: exactly once, from every point of an op's life
 * ====================================================================== */

START_TEST(test_cancel_before_run_nop)
{
	struct treq t = { 0 };

	REQUIRE_LOOP();
	start_nop(&t, record_cb);
	cancel_pending(&t);
	ck_assert_int_eq(t.calls, 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(t.calls, 1);
	/* It had not been handed to the kernel when it was cancelled. */
	ck_assert_msg(t.res == -ECANCELED,
		      "nop cancelled before any ringo_run completed with %d (%s), want -ECANCELED",
		      t.res, ringo_err_name(t.res));
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	ck_assert_int_eq(t.calls, 1);
}
END_TEST

START_TEST(test_cancel_before_run_read)
{
	struct treq t = { 0 };

	REQUIRE_LOOP();
	start_pipe_read(&t);
	cancel_pending(&t);
	run_expect(&t, 1, -ECANCELED);
	ck_assert_int_eq(ringo_cancel(AS_REQ(&t.raw)), -ENOENT);
}
END_TEST

/*
 * Thousands of live ops: the id table doubles its buckets on the way (at
 * 4 records a bucket of the first 256), ops still in a 1024-entry SQ are
 * found there by a scan when cancelled (its positions wrapping), the rest
 * wait in the overflow queue. Every op reports once; the cancelled ones with -ECANCELED.
 */
START_TEST(test_cancel_many_live)
{
	enum { N = 3000 };
	struct ringo_loop_metrics m;
	struct treq *t;
	int i;

	REQUIRE_LOOP();
	reopen_sized(1024, 4096);
	t = calloc(N, sizeof(*t));
	ck_assert_ptr_nonnull(t);
	/* 700 ops through first, so the SQ's positions wrap in the scan. */
	for (i = 0; i < 700; i++)
		start_nop(&t[i], record_cb);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	memset(t, 0, 700 * sizeof(*t));
	for (i = 0; i < N; i++)
		start_nop(&t[i], record_cb);
	/* 256 buckets to start, doubled as the records passed 4 a bucket. */
	m = metrics();
	ck_assert_uint_ge(m.ops_live, N);
	ck_assert_uint_ge(m.id_buckets * 4, m.op_records);
	ck_assert_uint_ge(m.id_buckets, 1024);
	for (i = 0; i < N; i += 3)
		cancel_pending(&t[i]);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	for (i = 0; i < N; i++) {
		ck_assert_int_eq(t[i].calls, 1);
		assert_res(&t[i], i % 3 ? 0 : -ECANCELED);
		ck_assert_int_eq(ringo_cancel(AS_REQ(&t[i].raw)), -ENOENT);
	}
	free(t);
}
END_TEST

static int timer_fires;

static void nothing_cb(ringo_timer_t *t)
{
	(void)t;
	timer_fires++;
}

/*
 * One iteration at a time until a repeating 1 ms timer fired twice: the
 * loop went through its sleep path (where it trims) on the way. A one-shot
 * timer would not do: already due when RUN_ONCE starts, it fires, and
 * RUN_ONCE then waits for whatever else is alive (reads nobody writes to).
 */
static void run_until_slept(ringo_timer_t *timer)
{
	timer_fires = 0;
	ck_assert_int_eq(ringo_timer_start(timer, nothing_cb, 1, 1), 0);
	while (timer_fires < 2)
		ck_assert_int_ge(ringo_run(&loop, RINGO_RUN_ONCE), 0);
	ck_assert_int_eq(ringo_timer_stop(timer), 0);
}

/* After the loop's next sleep (it trims there): `live` ops in flight, and
 * fewer than `records_below` records kept. */
static void expect_trimmed(ringo_timer_t *timer, uint64_t live, uint64_t records_below)
{
	struct ringo_loop_metrics m;

	run_until_slept(timer);
	m = metrics();
	ck_assert_uint_eq(m.ops_live, live);
	ck_assert_uint_lt(m.op_records, records_below);
}

/*
 * The records of a burst go back to the kernel once it is over: 5000 NOPs
 * in flight hold ~10 slabs of records (545 a slab); once they finished,
 * the loop's next sleep (here, for a timer) keeps its newest slab and any
 * slab one of its own ops (the wake read) still holds, and a second burst
 * of the same size grows again and finishes the same way.
 */
START_TEST(test_records_trimmed)
{
	enum { N = 5000 };
	struct ringo_loop_metrics m0, m;
	ringo_timer_t timer;
	struct treq *t;
	int round, i;

	REQUIRE_LOOP();
	reopen_sized(4096, 0);
	ck_assert_int_eq(ringo_timer_init(&loop, &timer), 0);
	t = calloc(N, sizeof(*t));
	ck_assert_ptr_nonnull(t);
	m0 = metrics();
	ck_assert_uint_le(m0.op_records, 64);
	for (round = 0; round < 2; round++) {
		memset(t, 0, N * sizeof(*t));
		for (i = 0; i < N; i++)
			start_nop(&t[i], record_cb);
		m = metrics();
		ck_assert_uint_eq(m.ops_live, m0.ops_live + N);
		ck_assert_uint_ge(m.op_records, N);
		ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
		for (i = 0; i < N; i++) {
			ck_assert_int_eq(t[i].calls, 1);
			assert_res(&t[i], 0);
		}
		expect_trimmed(&timer, m0.ops_live, N / 2);
	}
	ringo_close((ringo_handle_t *)&timer, NULL);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	free(t);
}
END_TEST

/*
 * Long-lived ops must not pin their slabs: a burst of 5000 ops of which 5
 * (every 1000th, one-byte pipe reads) stay in flight leaves each of those
 * in a slab of its own. The trim seals those slabs (their free records
 * leave the free list, their pages without a live record are dropped), so
 * the loop holds far fewer records than the 5 slabs; the 5 reads are
 * intact and complete with their bytes; then their slabs go.
 */
START_TEST(test_records_sealed)
{
	enum { N = 5000, EVERY = 1000 };
	struct ringo_loop_metrics m0;
	ringo_timer_t timer;
	struct treq *t;
	char got[N / EVERY + 1] = { 0 };
	int i, nops = 0, reads = 0;

	REQUIRE_LOOP();
	reopen_sized(4096, 0);
	open_pipe();
	ck_assert_int_eq(ringo_timer_init(&loop, &timer), 0);
	t = calloc(N, sizeof(*t));
	ck_assert_ptr_nonnull(t);
	m0 = metrics();
	for (i = 0; i < N; i++) {
		if (i % EVERY == EVERY / 2)
			start_read(&t[i], pipe_fds[0], 1, record_cb);
		else
			start_nop(&t[i], record_cb);
	}
	while (seq_counter < N - N / EVERY)
		ck_assert_int_ge(ringo_run(&loop, RINGO_RUN_ONCE), 0);
	expect_trimmed(&timer, m0.ops_live + N / EVERY, N / 4);

	ck_assert_int_eq(write(pipe_fds[1], "abcde", N / EVERY), N / EVERY);
	while (seq_counter < N)
		ck_assert_int_ge(ringo_run(&loop, RINGO_RUN_ONCE), 0);
	for (i = 0; i < N; i++) {
		ck_assert_int_eq(t[i].calls, 1);
		if (i % EVERY != EVERY / 2) {
			assert_res(&t[i], 0);
			nops++;
			continue;
		}
		assert_res(&t[i], 1);
		ck_assert_uint_eq(t[i].flags, 0);
		got[(unsigned char)t[i].buf[0] - 'a'] = t[i].buf[0];
		reads++;
	}
	ck_assert_int_eq(nops, N - N / EVERY);
	ck_assert_int_eq(reads, N / EVERY);
	ck_assert_str_eq(got, "abcde");
	expect_trimmed(&timer, m0.ops_live, N / 4);
	ringo_close((ringo_handle_t *)&timer, NULL);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	free(t);
}
END_TEST

/* Ops waiting in the overflow queue for SQ room are finished by the loop. */
START_TEST(test_cancel_in_overflow_queue)
{
	struct treq t[12];
	struct ringo_loop_metrics m;
	int i;

	REQUIRE_LOOP();
	reopen_sized(8, 0);
	memset(t, 0, sizeof(t));
	for (i = 0; i < 12; i++)
		start_nop(&t[i], record_cb);
	m = metrics();
	ck_assert_uint_eq(m.sq_full_waits, 4);
	ck_assert_int_eq(ringo_cancel(AS_REQ(&t[9].raw)), 0);
	ck_assert_int_eq(ringo_cancel(AS_REQ(&t[9].raw)), -EALREADY);
	ck_assert_int_eq(ringo_cancel(AS_REQ(&t[11].raw)), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	for (i = 0; i < 12; i++) {
		ck_assert_int_eq(t[i].calls, 1);
		assert_res(&t[i], i == 9 || i == 11 ? -ECANCELED : 0);
	}
	/* The others kept their order. */
	for (i = 1; i < 12; i++)
		if (i != 9 && i != 11 && i - 1 != 9)
			ck_assert_int_lt(t[i - 1].seq, t[i].seq);
	m = metrics();
	ck_assert_uint_eq(m.completions, 10);
}
END_TEST

START_TEST(test_cancel_in_flight)
{
	struct treq t = { 0 };

	REQUIRE_LOOP();
	start_pipe_read(&t);
	ck_assert_int_gt(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	ck_assert_int_eq(t.calls, 0);
	ck_assert_int_eq(ringo_cancel(AS_REQ(&t.raw)), 0);
	run_expect(&t, 1, -ECANCELED);
	ck_assert_uint_eq(t.flags & RINGO_CQE_F_MORE, 0);
}
END_TEST

START_TEST(test_cancel_after_completion)
{
	struct treq t = { 0 };

	REQUIRE_LOOP();
	start_nop(&t, record_cb);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(t.calls, 1);
	ck_assert_int_eq(ringo_cancel(AS_REQ(&t.raw)), -ENOENT);
	ck_assert_int_eq(ringo_cancel(AS_REQ(&t.raw)), -ENOENT);
	ck_assert_int_eq(ringo_loop_alive(&loop), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	run_expect(&t, 1, 0);
}
END_TEST

START_TEST(test_cancel_twice)
{
	struct treq t = { 0 };

	REQUIRE_LOOP();
	start_pipe_read(&t);
	ck_assert_int_gt(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	cancel_pending(&t);
	ck_assert_int_gt(ringo_run(&loop, RINGO_RUN_NOWAIT), -1);
	if (t.calls == 0)
		ck_assert_int_eq(ringo_cancel(AS_REQ(&t.raw)), -EALREADY);
	run_expect(&t, 1, -ECANCELED);
	ck_assert_int_eq(ringo_cancel(AS_REQ(&t.raw)), -ENOENT);
}
END_TEST

static struct treq xc_nop, xc_read;
static int xc_ret = 1;

static void xc_cb(ringo_raw_t *raw, int res, unsigned flags)
{
	record_cb(raw, res, flags);
	xc_ret = ringo_cancel(AS_REQ(&xc_read.raw));
}

START_TEST(test_cancel_from_callback)
{
	REQUIRE_LOOP();
	start_pipe_read(&xc_read);
	ck_assert_int_gt(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	start_nop(&xc_nop, xc_cb);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(xc_ret, 0);
	ck_assert_int_eq(xc_nop.calls, 1);
	ck_assert_int_eq(xc_read.calls, 1);
	assert_res(&xc_read, -ECANCELED);
	ck_assert_int_lt(xc_nop.seq, xc_read.seq);
}
END_TEST

/*
 * Randomized: rounds of up to RND_OPS nops and pipe reads, with cancels
 * before the first run, between NOWAIT runs, from other requests'
 * callbacks and after completion; callbacks also write to the pipe and
 * start more nops. A model of each request (pending, cancelling, done)
 * predicts ringo_cancel's answer exactly; results are checked against it.
 */
#define RND_OPS 16
#define RND_SLOTS (2 * RND_OPS)

enum { K_NOP, K_READ };
enum { S_IDLE, S_PENDING, S_CANCELLING, S_DONE };
enum { A_NONE, A_CANCEL, A_WRITE, A_SPAWN, A_MAX };

struct rnd_req {
	ringo_raw_t raw;
	int kind;
	int state;
	int calls;
	int res;
	int cancel_ok;	/* some ringo_cancel returned 0 for it */
	int action;	/* what its callback does, A_* */
	unsigned target; /* slot its callback cancels */
	char byte;
};

static struct {
	struct rnd_req reqs[RND_SLOTS];
	unsigned used;		/* slots started this round */
	uint64_t rng;
	unsigned round;
	unsigned written;	/* bytes written to the pipe this round */
	unsigned long cancels_ok, cancelled_res, real_res, enoent, ealready;
} rnd;

static unsigned rnd_next(unsigned n)
{
	/* xorshift64* */
	rnd.rng ^= rnd.rng >> 12;
	rnd.rng ^= rnd.rng << 25;
	rnd.rng ^= rnd.rng >> 27;
	return (unsigned)((rnd.rng * 0x2545F4914F6CDD1DULL) >> 33) % n;
}

static void rnd_cb(ringo_raw_t *raw, int res, unsigned flags);

static void rnd_start(unsigned slot, int kind)
{
	struct rnd_req *r = &rnd.reqs[slot];
	struct rw_arg a = { .fd = pipe_fds[0], .buf = &r->byte, .len = 1 };
	int ret;

	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->action = (int)rnd_next(A_MAX);
	r->target = rnd_next(RND_SLOTS);
	if (kind == K_READ)
		ret = ringo_submit(&loop, &r->raw, prep_read, &a, rnd_cb);
	else
		ret = ringo_nop(&loop, &r->raw, rnd_cb);
	ck_assert_msg(ret == 0, "round %u slot %u: start %s", rnd.round, slot,
		      ringo_err_name(ret));
	r->state = S_PENDING;
}

static void rnd_cancel(unsigned slot)
{
	struct rnd_req *r = &rnd.reqs[slot];
	int ret, want;

	if (r->state == S_IDLE)
		return;
	ret = ringo_cancel(AS_REQ(&r->raw));
	want = r->state == S_PENDING ? 0 : r->state == S_CANCELLING ? -EALREADY : -ENOENT;
	ck_assert_msg(ret == want, "seed-round %u slot %u state %d: cancel %s, want %s",
		      rnd.round, slot, r->state, ringo_err_name(ret), ringo_err_name(want));
	if (ret == 0) {
		r->state = S_CANCELLING;
		r->cancel_ok = 1;
		rnd.cancels_ok++;
	} else if (ret == -ENOENT) {
		rnd.enoent++;
	} else {
		rnd.ealready++;
	}
}

static void rnd_cb(ringo_raw_t *raw, int res, unsigned flags)
{
	struct rnd_req *r = owner_of(raw, struct rnd_req, raw);
	int real = r->kind == K_READ ? 1 : 0;

	ck_assert_msg(r->state == S_PENDING || r->state == S_CANCELLING,
		      "round %u slot %td: callback in state %d (calls %d)", rnd.round,
		      r - rnd.reqs, r->state, r->calls);
	ck_assert_uint_eq(flags & RINGO_CQE_F_MORE, 0);
	r->calls++;
	r->res = res;
	r->state = S_DONE;
	ck_assert_msg(res == real || (r->cancel_ok && res == -ECANCELED),
		      "round %u slot %td kind %d cancelled %d: res %d (%s)", rnd.round,
		      r - rnd.reqs, r->kind, r->cancel_ok, res, ringo_err_name(res));
	if (res == -ECANCELED)
		rnd.cancelled_res++;
	else
		rnd.real_res++;

	switch (r->action) {
	case A_CANCEL:
		rnd_cancel(r->target);
		break;
	case A_WRITE:
		test_write_byte(pipe_fds[1], 'r');
		rnd.written++;
		break;
	case A_SPAWN:
		if (rnd.used < RND_SLOTS)
			rnd_start(rnd.used++, K_NOP);
		break;
	}
}

static void rnd_round(void)
{
	unsigned i, n = 1 + rnd_next(RND_OPS), phases = rnd_next(4), got = 0;
	int left, ret;
	char drain[4 * RND_SLOTS];

	memset(rnd.reqs, 0, sizeof(rnd.reqs));
	rnd.used = n;
	rnd.written = 0;
	for (i = 0; i < n; i++)
		rnd_start(i, rnd_next(5) < 2 ? K_READ : K_NOP);

	/* Cancels before anything ran, and between non-blocking runs. */
	for (;;) {
		for (i = rnd_next(4); i > 0; i--)
			rnd_cancel(rnd_next(rnd.used));
		if (rnd_next(4) == 0) {
			test_write_byte(pipe_fds[1], 'w');
			rnd.written++;
		}
		if (phases-- == 0)
			break;
		ret = ringo_run(&loop, RINGO_RUN_NOWAIT);
		ck_assert_msg(ret >= 0, "round %u: NOWAIT %s", rnd.round, ringo_err_name(ret));
	}

	/* Reads nobody wrote for would wait forever: cancel what is left. */
	for (i = 0; i < rnd.used; i++)
		if (rnd.reqs[i].kind == K_READ && rnd.reqs[i].state != S_DONE)
			rnd_cancel(i);
	ret = ringo_run(&loop, RINGO_RUN_DEFAULT);
	ck_assert_msg(ret == 0, "round %u: DEFAULT returned %d", rnd.round, ret);
	ck_assert_int_eq(ringo_loop_alive(&loop), 0);

	for (i = 0; i < rnd.used; i++) {
		ck_assert_msg(rnd.reqs[i].calls == 1, "round %u slot %u: %d callbacks", rnd.round,
			      i, rnd.reqs[i].calls);
		if (rnd.reqs[i].kind == K_READ && rnd.reqs[i].res == 1)
			got++;
	}
	for (i = rnd_next(3); i > 0; i--)
		rnd_cancel(rnd_next(rnd.used));

	/* Every byte written went to exactly one read, or is still there. */
	left = pipe_pending(pipe_fds[0]);
	ck_assert_msg(got + (unsigned)left == rnd.written, "round %u: read %u + left %d != %u",
		      rnd.round, got, left, rnd.written);
	if (left > 0)
		ck_assert_int_eq(read(pipe_fds[0], drain, (size_t)left), left);
}

START_TEST(test_cancel_randomized)
{
	unsigned rounds = TEST_SIZE(10000, 1000);
	const char *env = getenv("RINGO_TEST_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL) * 2654435761ULL;
	struct ringo_loop_metrics m;

	REQUIRE_LOOP();
	open_pipe();
	memset(&rnd, 0, sizeof(rnd));
	rnd.rng = seed | 1;
	printf("test_cancel_randomized: RINGO_TEST_SEED=%#llx, %u rounds\n",
	       (unsigned long long)seed, rounds);
	fflush(stdout);
	for (rnd.round = 0; rnd.round < rounds; rnd.round++)
		rnd_round();
	m = metrics();
	printf("  cancels ok %lu (-ENOENT %lu, -EALREADY %lu); results: cancelled %lu, "
	       "real %lu; stale %llu\n",
	       rnd.cancels_ok, rnd.enoent, rnd.ealready, rnd.cancelled_res, rnd.real_res,
	       (unsigned long long)m.stale_cqes);
	/* The mix reached every branch it is meant to. */
	ck_assert_uint_gt(rnd.cancels_ok, 0);
	ck_assert_uint_gt(rnd.enoent, 0);
	ck_assert_uint_gt(rnd.ealready, 0);
	ck_assert_uint_gt(rnd.cancelled_res, 0);
	ck_assert_uint_gt(rnd.real_res, 0);
}
END_TEST

/* ======================================================================
 * Stale CQEs, a full SQ, a small CQ
 * ====================================================================== */

START_TEST(test_stale_cqes)
{
	struct ringo_ring *ring;
	struct ringo_sqe *sqe;
	struct ringo_loop_metrics m;
	struct treq t = { 0 };

	REQUIRE_LOOP();
	ring = ringo_loop_ring(&loop);
	ck_assert_ptr_nonnull(ring);
	sqe = ringo_ring_get_sqe(ring);
	ck_assert_ptr_nonnull(sqe);
	ringo_prep_nop(sqe);
	ringo_sqe_set_data64(sqe, 0xdead0000beefULL);
	sqe = ringo_ring_get_sqe(ring);
	ck_assert_ptr_nonnull(sqe);
	ringo_prep_nop(sqe);
	ringo_sqe_set_data64(sqe, 0);
	start_nop(&t, record_cb);

	run_expect(&t, 1, 0);
	m = metrics();
	ck_assert_uint_eq(m.stale_cqes, 2);
	ck_assert_uint_eq(m.completions, 1);
	ck_assert_uint_eq(m.submitted, 3);

	/* The loop is none the worse for it. */
	start_nop(&t, record_cb);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(t.calls, 2);
	ck_assert_uint_eq(metrics().stale_cqes, 2);
}
END_TEST

static ringo_raw_t *ordered_base;
static unsigned ordered_next;

/* Requests of one array must complete in the order they were started. */
static void ordered_cb(ringo_raw_t *raw, int res, unsigned flags)
{
	unsigned idx = (unsigned)(raw - ordered_base);

	ck_assert_msg(idx == ordered_next, "completion of #%u, expected #%u", idx,
		      ordered_next);
	ck_assert_int_eq(res, 0);
	ck_assert_uint_eq(flags & RINGO_CQE_F_MORE, 0);
	ordered_next++;
}

static void run_ordered_nops(unsigned n, unsigned entries, unsigned cq_entries, unsigned flags)
{
	struct ringo_loop_metrics m;
	ringo_raw_t *reqs;
	unsigned i;

	reopen_with(entries, cq_entries, flags);
	reqs = calloc(n, sizeof(*reqs));
	ck_assert_ptr_nonnull(reqs);
	ordered_base = reqs;
	ordered_next = 0;
	for (i = 0; i < n; i++)
		ck_assert_int_eq(ringo_nop(&loop, &reqs[i], ordered_cb), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_uint_eq(ordered_next, n);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(ringo_cancel(AS_REQ(&reqs[i])), -ENOENT);
	m = metrics();
	ck_assert_uint_eq(m.sq_full_waits, n - entries);
	ck_assert_uint_eq(m.submitted, n);
	ck_assert_uint_eq(m.completions, n);
	ck_assert_uint_eq(m.stale_cqes, 0);
	printf("%u nops, SQ %u, CQ %u, %s: %llu iterations, %llu CQ overflows\n", n, entries,
	       cq_entries ? cq_entries : 4 * entries,
	       ringo_loop_ring(&loop)->sq.array ? "SQ array" : "no SQ array",
	       (unsigned long long)m.iterations, (unsigned long long)m.cq_overflows);
	free(reqs);
}

/* Loop test index: 0 the default SQ layout, 1 the SQ index array. */
static unsigned sq_layout_flags(int i)
{
	return i ? RINGO_LOOP_SQ_ARRAY : 0;
}

START_TEST(test_sq_full)
{
	REQUIRE_LOOP();
	run_ordered_nops(TEST_SIZE(100000, 10000), 8, 0, sq_layout_flags(_i));
}
END_TEST

/*
 * Ops that callbacks start while others wait for SQ room go behind them,
 * even when the SQ has room again (the kernel took the last batch and the
 * overflow queue has not been flushed yet): the fast path's SQ gate must
 * stay closed. 40 NOPs on an SQ of 8, and each of the first 24 callbacks
 * starts one more; all 64 complete in the order they were started.
 */
enum { CHAIN_FIRST = 40, CHAIN_MORE = 24 };

static void chained_cb(ringo_raw_t *raw, int res, unsigned flags)
{
	unsigned idx = (unsigned)(raw - ordered_base);

	ordered_cb(raw, res, flags);
	if (idx < CHAIN_MORE)
		ck_assert_int_eq(ringo_nop(&loop, &ordered_base[CHAIN_FIRST + idx], chained_cb), 0);
}

START_TEST(test_sq_full_started_from_callbacks)
{
	ringo_raw_t reqs[CHAIN_FIRST + CHAIN_MORE];
	unsigned i;

	REQUIRE_LOOP();
	reopen_with(8, 0, sq_layout_flags(_i));
	memset(reqs, 0, sizeof(reqs));
	ordered_base = reqs;
	ordered_next = 0;
	for (i = 0; i < CHAIN_FIRST; i++)
		ck_assert_int_eq(ringo_nop(&loop, &reqs[i], chained_cb), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_uint_eq(ordered_next, CHAIN_FIRST + CHAIN_MORE);
	ck_assert_uint_eq(metrics().sq_full_waits, CHAIN_FIRST + CHAIN_MORE - 8);
}
END_TEST

START_TEST(test_cq_small)
{
	REQUIRE_LOOP();
	run_ordered_nops(10000, 8, 16, sq_layout_flags(_i));
}
END_TEST

/*
 * More completions than the CQ holds, all arriving at once: reads armed on
 * 64 pipes, then a byte written to each before the loop runs again.
 */
#define OVF_PIPES 64

START_TEST(test_cq_overflow_reads)
{
	static struct treq t[OVF_PIPES];
	int fds[OVF_PIPES][2];
	struct ringo_loop_metrics m;
	int i, spins = 0;

	REQUIRE_LOOP();
	reopen_sized(8, 16);
	memset(t, 0, sizeof(t));
	for (i = 0; i < OVF_PIPES; i++) {
		ck_assert_int_eq(pipe2(fds[i], O_CLOEXEC), 0);
		start_read(&t[i], fds[i][0], 1, record_cb);
	}
	/* Submit them all (8 SQEs per iteration); none can complete. */
	while (metrics().submitted < OVF_PIPES && spins++ < 100)
		ck_assert_int_gt(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	ck_assert_uint_eq(metrics().submitted, OVF_PIPES);
	for (i = 0; i < OVF_PIPES; i++)
		test_write_byte(fds[i][1], (char)('A' + i % 26));
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	for (i = 0; i < OVF_PIPES; i++) {
		ck_assert_int_eq(t[i].calls, 1);
		assert_res(&t[i], 1);
		ck_assert_int_eq(t[i].buf[0], 'A' + i % 26);
	}
	m = metrics();
	ck_assert_uint_eq(m.completions, OVF_PIPES);
	ck_assert_uint_eq(m.stale_cqes, 0);
	printf("%d reads into a 16-entry CQ: %llu CQ overflows\n", OVF_PIPES,
	       (unsigned long long)m.cq_overflows);
	for (i = 0; i < OVF_PIPES; i++) {
		close(fds[i][0]);
		close(fds[i][1]);
	}
}
END_TEST

/* ======================================================================
 * Handles
 * ====================================================================== */

static int async_calls, close_calls, close_closing;
static ringo_handle_t *closed_handle;

static void async_cb(ringo_async_t *h)
{
	(void)h;
	async_calls++;
}

static void close_cb(ringo_handle_t *h)
{
	close_calls++;
	closed_handle = h;
	close_closing = ringo_is_closing(h);
}

START_TEST(test_handle_unref_ref)
{
	ringo_async_t a;
	uint64_t t0;

	REQUIRE_LOOP();
	memset(&a, 0, sizeof(a));
	ck_assert_int_eq(ringo_async_init(&loop, &a, async_cb), 0);
	ck_assert_int_eq(a.type, RINGO_HANDLE_ASYNC);
	ck_assert_int_eq(ringo_is_active(AS_HANDLE(&a)), 1);
	ck_assert_int_eq(ringo_has_ref(AS_HANDLE(&a)), 1);
	ck_assert_int_eq(ringo_loop_alive(&loop), 1);

	ringo_unref(AS_HANDLE(&a));
	ringo_unref(AS_HANDLE(&a));
	ck_assert_int_eq(ringo_has_ref(AS_HANDLE(&a)), 0);
	ck_assert_int_eq(ringo_is_active(AS_HANDLE(&a)), 1);
	ck_assert_int_eq(ringo_loop_alive(&loop), 0);
	t0 = test_mono_ms();
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_uint_lt(test_mono_ms() - t0, 1000);

	ringo_ref(AS_HANDLE(&a));
	ringo_ref(AS_HANDLE(&a));
	ck_assert_int_eq(ringo_has_ref(AS_HANDLE(&a)), 1);
	ck_assert_int_eq(ringo_loop_alive(&loop), 1);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_NOWAIT), 1);
	ck_assert_int_eq(ringo_async_send(&a), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_ONCE), 1);
	ck_assert_int_eq(async_calls, 1);

	/* One unref after two refs is enough: refs do not count. */
	ringo_unref(AS_HANDLE(&a));
	ck_assert_int_eq(ringo_loop_alive(&loop), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);

	/* Unreferenced, but closing: the close still runs to its callback. */
	ck_assert_int_eq(ringo_close(AS_HANDLE(&a), close_cb), 0);
	ck_assert_int_eq(close_calls, 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(close_calls, 1);
	ck_assert_ptr_eq(closed_handle, AS_HANDLE(&a));
	ck_assert_int_eq(async_calls, 1);
}
END_TEST

START_TEST(test_handle_close)
{
	ringo_async_t a;

	REQUIRE_LOOP();
	memset(&a, 0, sizeof(a));
	ck_assert_int_eq(ringo_async_init(&loop, &a, async_cb), 0);
	ck_assert_int_eq(ringo_is_closing(AS_HANDLE(&a)), 0);
	ck_assert_int_gt(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	ck_assert_int_eq(ringo_loop_close(&loop), -EBUSY);

	ck_assert_int_eq(ringo_close(AS_HANDLE(&a), close_cb), 0);
	/* Never inline. */
	ck_assert_int_eq(close_calls, 0);
	ck_assert_int_eq(ringo_is_closing(AS_HANDLE(&a)), 1);
	ck_assert_int_eq(ringo_is_active(AS_HANDLE(&a)), 0);
	ck_assert_int_eq(ringo_close(AS_HANDLE(&a), close_cb), -EALREADY);
	ck_assert_int_eq(ringo_async_send(&a), -EINVAL);
	ck_assert_int_eq(ringo_loop_alive(&loop), 1);
	ck_assert_int_eq(ringo_loop_close(&loop), -EBUSY);

	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(close_calls, 1);
	ck_assert_int_eq(close_closing, 1);
	ck_assert_ptr_eq(closed_handle, AS_HANDLE(&a));
	ck_assert_int_eq(async_calls, 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(close_calls, 1);
}
END_TEST

static ringo_async_t cb_async;
static struct treq cb_nop, cb_read;

static void closer_cb(ringo_raw_t *raw, int res, unsigned flags)
{
	record_cb(raw, res, flags);
	ck_assert_int_eq(ringo_close(AS_HANDLE(&cb_async), close_cb), 0);
	ck_assert_int_eq(close_calls, 0);
	ck_assert_int_eq(ringo_cancel(AS_REQ(&cb_read.raw)), 0);
	/* Re-entering the loop from its own callback is refused. */
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), -EBUSY);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_ONCE), -EBUSY);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_NOWAIT), -EBUSY);
	ck_assert_int_eq(ringo_loop_close(&loop), -EBUSY);
}

START_TEST(test_callback_closes_and_cancels)
{
	REQUIRE_LOOP();
	open_pipe();
	ck_assert_int_eq(ringo_async_init(&loop, &cb_async, async_cb), 0);
	start_read(&cb_read, pipe_fds[0], 1, record_cb);
	start_nop(&cb_nop, closer_cb);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(cb_nop.calls, 1);
	ck_assert_int_eq(cb_read.calls, 1);
	assert_res(&cb_read, -ECANCELED);
	ck_assert_int_eq(close_calls, 1);
	ck_assert_ptr_eq(closed_handle, AS_HANDLE(&cb_async));
}
END_TEST

/* ======================================================================
 * Bad arguments and loop life cycle
 * ====================================================================== */

static int prep_nop(struct ringo_sqe *sqe, void *arg)
{
	(void)arg;
	ringo_prep_nop(sqe);
	return 0;
}

START_TEST(test_bad_init)
{
	struct ringo_loop_opts o;
	ringo_loop_t other;

	memset(&other, 0, sizeof(other));
	ck_assert_int_eq(ringo_loop_init(NULL, NULL), -EINVAL);
	ringo_loop_opts_init(&o);
	ck_assert_uint_eq(o.entries, 256);
	ck_assert_uint_eq(o.cq_entries, 0);
	ck_assert_uint_eq(o.flags, 0);
	ck_assert_int_eq(ringo_loop_init(NULL, &o), -EINVAL);

	o.entries = 3;
	ck_assert_int_eq(ringo_loop_init(&other, &o), -EINVAL);
	o.entries = 8;
	o.cq_entries = 4;
	ck_assert_int_eq(ringo_loop_init(&other, &o), -EINVAL);
	o.cq_entries = 0;
	o.flags = 1U << 31;
	ck_assert_int_eq(ringo_loop_init(&other, &o), -EINVAL);
	o.flags = RINGO_LOOP_KNOWN_FLAGS + 1;
	ck_assert_int_eq(ringo_loop_init(&other, &o), -EINVAL);
	/* Nothing was set up by the failures: calls on it are refused. */
	ck_assert_int_eq(ringo_run(&other, RINGO_RUN_NOWAIT), -EINVAL);
}
END_TEST

/* "0 = 256" / "0 = 4 * entries": zeroed options are the defaults. */
START_TEST(test_zero_opts_are_defaults)
{
	struct ringo_loop_opts o;
	ringo_loop_t other;
	struct treq t = { 0 };
	int ret;

	memset(&o, 0, sizeof(o));
	ret = ringo_loop_init(&other, &o);
	if (test_io_uring_blocked(ret))
		TEST_SKIP("io_uring unavailable");
	ck_assert_msg(ret == 0, "init with zeroed opts: %s", ringo_err_name(ret));
	ck_assert_int_eq(ringo_nop(&other, &t.raw, record_cb), 0);
	ck_assert_int_eq(ringo_run(&other, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(t.calls, 1);
	ck_assert_int_eq(ringo_loop_close(&other), 0);
}
END_TEST

START_TEST(test_bad_arguments)
{
	struct ringo_loop_metrics m;
	ringo_async_t a;
	struct treq t = { 0 };
	ringo_handle_t zero_handle;
	ringo_loop_t zero_loop;

	REQUIRE_LOOP();
	memset(&a, 0, sizeof(a));
	memset(&zero_handle, 0, sizeof(zero_handle));
	memset(&zero_loop, 0, sizeof(zero_loop));
	ck_assert_int_eq(ringo_run(NULL, RINGO_RUN_DEFAULT), -EINVAL);
	ck_assert_int_eq(ringo_run(&loop, (ringo_run_mode)7), -EINVAL);
	ck_assert_int_eq(ringo_run(&loop, (ringo_run_mode)(RINGO_RUN_NOWAIT + 1)), -EINVAL);

	ck_assert_int_eq(ringo_nop(NULL, &t.raw, record_cb), -EINVAL);
	ck_assert_int_eq(ringo_nop(&loop, NULL, record_cb), -EINVAL);
	ck_assert_int_eq(ringo_nop(&loop, &t.raw, NULL), -EINVAL);
	/* A loop never initialised: zeroed memory, as a static one is. */
	ck_assert_int_eq(ringo_nop(&zero_loop, &t.raw, record_cb), -EINVAL);
	ck_assert_int_eq(ringo_submit(&zero_loop, &t.raw, prep_nop, NULL, record_cb), -EINVAL);
	ck_assert_int_eq(t.calls, 0);
	ck_assert_int_eq(ringo_submit(NULL, &t.raw, prep_nop, NULL, record_cb), -EINVAL);
	ck_assert_int_eq(ringo_submit(&loop, NULL, prep_nop, NULL, record_cb), -EINVAL);
	ck_assert_int_eq(ringo_submit(&loop, &t.raw, NULL, NULL, record_cb), -EINVAL);
	ck_assert_int_eq(ringo_submit(&loop, &t.raw, prep_nop, NULL, NULL), -EINVAL);
	ck_assert_int_eq(ringo_cancel(NULL), -EINVAL);
	ck_assert_int_eq(ringo_close(NULL, NULL), -EINVAL);
	ck_assert_int_eq(ringo_close(&zero_handle, close_cb), -EINVAL);
	ck_assert_int_eq(ringo_is_closing(NULL), 0);
	ck_assert_int_eq(ringo_is_active(NULL), 0);
	ck_assert_int_eq(ringo_has_ref(NULL), 0);
	ringo_ref(NULL);
	ringo_unref(NULL);
	ringo_stop(NULL);
	ringo_update_time(NULL);
	ck_assert_int_eq(ringo_async_init(NULL, &a, async_cb), -EINVAL);
	ck_assert_int_eq(ringo_async_init(&loop, NULL, async_cb), -EINVAL);
	ck_assert_int_eq(ringo_async_init(&loop, &a, NULL), -EINVAL);
	ck_assert_int_eq(ringo_async_send(NULL), -EINVAL);
	ck_assert_int_eq(ringo_loop_metrics(NULL, &m), -EINVAL);
	ck_assert_int_eq(ringo_loop_metrics(&loop, NULL), -EINVAL);
	ck_assert_ptr_null(ringo_loop_ring(NULL));
	ck_assert_int_eq(ringo_loop_alive(NULL), 0);
	ck_assert_int_eq(ringo_loop_fd(NULL), -EINVAL);
	ck_assert_int_eq(ringo_loop_close(NULL), -EINVAL);

	/* None of it left anything behind. */
	ck_assert_int_eq(ringo_loop_alive(&loop), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(t.calls, 0);
	ck_assert_int_eq(async_calls + close_calls, 0);
	m = metrics();
	ck_assert_uint_eq(m.submitted, 0);
}
END_TEST

START_TEST(test_loop_close_busy)
{
	struct treq t = { 0 };

	REQUIRE_LOOP();
	open_pipe();
	/* Queued, not yet run. */
	start_nop(&t, record_cb);
	ck_assert_int_eq(ringo_loop_close(&loop), -EBUSY);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(t.calls, 1);

	/* In the kernel. */
	start_read(&t, pipe_fds[0], 1, record_cb);
	ck_assert_int_gt(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	ck_assert_int_eq(ringo_loop_close(&loop), -EBUSY);
	/* Untouched by the refusal: the read still completes with data. */
	test_write_byte(pipe_fds[1], 'k');
	run_expect(&t, 2, 1);
	ck_assert_int_eq(t.buf[0], 'k');

	/* Cancelled but not yet reported. */
	start_read(&t, pipe_fds[0], 1, record_cb);
	ck_assert_int_gt(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	ck_assert_int_eq(ringo_cancel(AS_REQ(&t.raw)), 0);
	ck_assert_int_eq(ringo_loop_close(&loop), -EBUSY);
	run_expect(&t, 3, -ECANCELED);
}
END_TEST

START_TEST(test_loop_close_twice)
{
	struct treq t = { 0 };

	REQUIRE_LOOP();
	ck_assert_int_ge(ringo_loop_fd(&loop), 0);
	start_nop(&t, record_cb);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(ringo_loop_close(&loop), 0);
	loop_open = 0;
	ck_assert_int_eq(ringo_loop_close(&loop), -EINVAL);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), -EINVAL);
	ck_assert_int_eq(ringo_nop(&loop, &t.raw, record_cb), -EINVAL);
	ck_assert_int_eq(ringo_cancel(AS_REQ(&t.raw)), -EINVAL);
	ck_assert_int_eq(ringo_loop_fd(&loop), -EINVAL);
	ck_assert_ptr_null(ringo_loop_ring(&loop));
	ck_assert_int_eq(ringo_loop_alive(&loop), 0);
	ck_assert_int_eq(t.calls, 1);

	/* The same memory makes a new loop. */
	ck_assert_int_eq(ringo_loop_init(&loop, NULL), 0);
	loop_open = 1;
	start_nop(&t, record_cb);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(t.calls, 2);
}
END_TEST

START_TEST(test_loop_fd)
{
	int fd;

	REQUIRE_LOOP();
	fd = ringo_loop_fd(&loop);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ringo_loop_fd(&loop), fd);
	ck_assert_int_ne(fcntl(fd, F_GETFD), -1);
}
END_TEST

/* ======================================================================
 * Options
 * ====================================================================== */

START_TEST(test_default_ring_flags)
{
	struct ringo_ring *ring;

	REQUIRE_LOOP();
	ring = ringo_loop_ring(&loop);
	ck_assert_ptr_nonnull(ring);
	ck_assert_uint_eq(ring->flags & RINGO_SETUP_SQPOLL, 0);
	if (!test_kernel_at_least(6, 1))
		TEST_SKIP("DEFER_TASKRUN needs 6.1");
	ck_assert_uint_ne(ring->flags & RINGO_SETUP_DEFER_TASKRUN, 0);
	ck_assert_uint_ne(ring->flags & RINGO_SETUP_SINGLE_ISSUER, 0);
	if (test_kernel_at_least(6, 6)) {
		ck_assert_uint_ne(ring->flags & RINGO_SETUP_NO_SQARRAY, 0);
		ck_assert_ptr_null(ring->sq.array);
	}
	/* The first run enables the ring and registers its fd for this
	 * thread, the only one SINGLE_ISSUER lets submit. */
	ck_assert_uint_eq(ring->enter_flags, 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	ck_assert_uint_eq(ring->enter_flags, RINGO_ENTER_REGISTERED_RING);
}
END_TEST

/* RINGO_LOOP_SQ_ARRAY keeps the index array even where NO_SQARRAY works,
 * and ops flow through it (test_sq_full and test_cq_small run both ways). */
START_TEST(test_sq_array)
{
	struct ringo_loop_opts o;
	struct treq nop = { 0 };
	struct ringo_ring *ring;
	unsigned i;
	int ret;

	REQUIRE_LOOP();
	ringo_loop_opts_init(&o);
	o.flags = RINGO_LOOP_SQ_ARRAY;
	ret = reopen(&o);
	ck_assert_msg(ret == 0, "init SQ_ARRAY: %s", ringo_err_name(ret));
	ring = ringo_loop_ring(&loop);
	ck_assert_uint_eq(ring->flags & RINGO_SETUP_NO_SQARRAY, 0);
	ck_assert_ptr_nonnull(ring->sq.array);
	for (i = 0; i < ring->sq.ring_entries; i++)
		ck_assert_uint_eq(ring->sq.array[i], i);
	if (test_kernel_at_least(6, 1))
		ck_assert_uint_ne(ring->flags & RINGO_SETUP_DEFER_TASKRUN, 0);
	start_nop(&nop, record_cb);
	run_expect(&nop, 1, 0);
}
END_TEST

START_TEST(test_no_defer_taskrun)
{
	struct ringo_loop_opts o;
	struct treq nop = { 0 }, rd = { 0 }, rd2 = { 0 };
	int ret;

	REQUIRE_LOOP();
	ringo_loop_opts_init(&o);
	o.flags = RINGO_LOOP_NO_DEFER_TASKRUN;
	ret = reopen(&o);
	ck_assert_msg(ret == 0, "init NO_DEFER_TASKRUN: %s", ringo_err_name(ret));
	ck_assert_uint_eq(ringo_loop_ring(&loop)->flags & RINGO_SETUP_DEFER_TASKRUN, 0);
	open_pipe();

	start_nop(&nop, record_cb);
	start_read(&rd, pipe_fds[0], 1, record_cb);
	ck_assert_int_gt(ringo_run(&loop, RINGO_RUN_ONCE), 0);
	ck_assert_int_eq(nop.calls, 1);
	assert_res(&nop, 0);
	ck_assert_int_eq(rd.calls, 0);
	cancel_pending(&rd);
	run_expect(&rd, 1, -ECANCELED);
	ck_assert_int_eq(ringo_cancel(AS_REQ(&rd.raw)), -ENOENT);

	start_read(&rd2, pipe_fds[0], 1, record_cb);
	test_write_byte(pipe_fds[1], 'd');
	run_expect(&rd2, 1, 1);
}
END_TEST

START_TEST(test_sqpoll)
{
	struct ringo_loop_opts o;
	struct ringo_loop_metrics m;
	struct treq t[32];
	int ret, i;

	REQUIRE_LOOP();
	ringo_loop_opts_init(&o);
	o.flags = RINGO_LOOP_SQPOLL;
	o.sqpoll_idle_ms = 50;
	ret = reopen(&o);
	if (ret == -EPERM)
		TEST_SKIP("SQPOLL not permitted");
	ck_assert_msg(ret == 0, "init SQPOLL: %s", ringo_err_name(ret));
	ck_assert_uint_ne(ringo_loop_ring(&loop)->flags & RINGO_SETUP_SQPOLL, 0);

	memset(t, 0, sizeof(t));
	for (i = 0; i < 32; i++)
		start_nop(&t[i], record_cb);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	for (i = 0; i < 32; i++) {
		ck_assert_int_eq(t[i].calls, 1);
		assert_res(&t[i], 0);
	}
	/* Again after the SQ thread went idle. */
	test_sleep_ms(100);
	start_nop(&t[0], record_cb);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(t[0].calls, 2);
	m = metrics();
	ck_assert_uint_eq(m.completions, 33);
}
END_TEST

/* ======================================================================
 * Metrics
 * ====================================================================== */

START_TEST(test_metrics_nops)
{
	struct ringo_loop_metrics m;
	struct treq t[100];
	int i;

	REQUIRE_LOOP();
	m = metrics();
	ck_assert_uint_eq(m.iterations, 0);
	ck_assert_uint_eq(m.submitted, 0);
	ck_assert_uint_eq(m.completions, 0);

	memset(t, 0, sizeof(t));
	for (i = 0; i < 100; i++)
		start_nop(&t[i], record_cb);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(t[i].calls, 1);
	m = metrics();
	ck_assert_uint_gt(m.iterations, 0);
	ck_assert_uint_eq(m.submitted, 100);
	ck_assert_uint_eq(m.completions, 100);
	ck_assert_uint_eq(m.stale_cqes, 0);
	ck_assert_uint_eq(m.sq_full_waits, 0);
	ck_assert_uint_eq(m.cq_overflows, 0);
}
END_TEST

static const struct ringo_timespec wait_ts = { .tv_sec = 0, .tv_nsec = 20 * 1000000LL };

static int prep_timeout(struct ringo_sqe *sqe, void *arg)
{
	(void)arg;
	ringo_prep_timeout(sqe, &wait_ts, 0, 0);
	return 0;
}

/* A fixture loop with RINGO_LOOP_WAIT_TIME: only then are waits timed. */
static void reopen_wait_time(void)
{
	struct ringo_loop_opts o;

	ringo_loop_opts_init(&o);
	o.flags = RINGO_LOOP_WAIT_TIME;
	ck_assert_int_eq(reopen(&o), 0);
}

START_TEST(test_metrics_wait)
{
	struct ringo_loop_metrics m0, m1;
	struct treq t = { 0 };
	uint64_t t0;

	REQUIRE_LOOP();
	reopen_wait_time();
	m0 = metrics();
	t0 = test_mono_ms();
	ck_assert_int_eq(ringo_submit(&loop, &t.raw, prep_timeout, NULL, record_cb), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_uint_ge(test_mono_ms() - t0, 20);
	ck_assert_int_eq(t.calls, 1);
	assert_res(&t, -ETIME);
	m1 = metrics();
	ck_assert_uint_ge(m1.wait_ns - m0.wait_ns, 20 * 1000000ULL);
	ck_assert_uint_eq(m1.submitted - m0.submitted, 1);
	ck_assert_uint_eq(m1.completions - m0.completions, 1);
	ck_assert_uint_ge(m1.iterations - m0.iterations, 1);
	/* The next iteration starts with a fresh clock. */
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	ck_assert_uint_ge(ringo_now(&loop), t0 + 20);
}
END_TEST

/* What the callback saw of the loop time. */
static uint64_t now_in_cb;

static void now_cb(ringo_raw_t *raw, int res, unsigned flags)
{
	record_cb(raw, res, flags);
	now_in_cb = ringo_now(raw->loop);
}

/*
 * Without RINGO_LOOP_WAIT_TIME a wait is not timed (no clock reads around
 * it), yet the loop time is not left behind: a callback after a 20 ms
 * wait sees a time at least 20 ms on, and so does ringo_now after run.
 */
START_TEST(test_wait_untimed_clock_fresh)
{
	struct ringo_loop_metrics m0, m1;
	struct treq t = { 0 };
	uint64_t before;

	REQUIRE_LOOP();
	ringo_update_time(&loop);
	before = ringo_now(&loop);
	m0 = metrics();
	ck_assert_int_eq(ringo_submit(&loop, &t.raw, prep_timeout, NULL, now_cb), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(t.calls, 1);
	assert_res(&t, -ETIME);
	m1 = metrics();
	ck_assert_uint_eq(m1.wait_ns, m0.wait_ns);
	ck_assert_uint_ge(now_in_cb, before + 20);
	ck_assert_uint_ge(ringo_now(&loop), now_in_cb);
}
END_TEST

/* Within one callback the loop time is cached: two reads agree. */
static void now_twice_cb(ringo_raw_t *raw, int res, unsigned flags)
{
	uint64_t a = ringo_now(raw->loop);

	usleep(3000);
	record_cb(raw, res, flags);
	now_in_cb = ringo_now(raw->loop) - a;
}

START_TEST(test_now_cached_in_iteration)
{
	struct treq t = { 0 };

	REQUIRE_LOOP();
	ck_assert_int_eq(ringo_nop(&loop, &t.raw, now_twice_cb), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(t.calls, 1);
	ck_assert_uint_eq(now_in_cb, 0);
	/* ringo_update_time moves it on at once. */
	now_in_cb = ringo_now(&loop);
	usleep(3000);
	ringo_update_time(&loop);
	ck_assert_uint_ge(ringo_now(&loop), now_in_cb + 3);
}
END_TEST

static void reset_state(void)
{
	seq_counter = 0;
	prep_calls = 0;
	poll_more_calls = 0;
	chain_n = 0;
	memset(chain_seen, 0, sizeof(chain_seen));
	memset(&stop_nop, 0, sizeof(stop_nop));
	memset(&stop_next, 0, sizeof(stop_next));
	memset(&stop_read, 0, sizeof(stop_read));
	memset(&rw_write, 0, sizeof(rw_write));
	memset(&rw_read, 0, sizeof(rw_read));
	memset(&xc_nop, 0, sizeof(xc_nop));
	memset(&xc_read, 0, sizeof(xc_read));
	xc_ret = 1;
	ordered_base = NULL;
	ordered_next = 0;
	async_calls = close_calls = close_closing = 0;
	closed_handle = NULL;
	memset(&cb_async, 0, sizeof(cb_async));
	memset(&cb_nop, 0, sizeof(cb_nop));
	memset(&cb_read, 0, sizeof(cb_read));
}

static Suite *suite(void)
{
	Suite *s = suite_create("loop");
	TCase *run = test_tcase(s, "run", setup, teardown, 60);
	TCase *raw = test_tcase(s, "raw", setup, teardown, 60);
	TCase *cancel = test_tcase(s, "cancel", setup, teardown, 60);
	TCase *queues = test_tcase(s, "queues", setup, teardown, 60);
	TCase *handles = test_tcase(s, "handles", setup, teardown, 60);
	TCase *args = test_tcase(s, "args", setup, teardown, 60);
	TCase *opts = test_tcase(s, "options", setup, teardown, 60);
	TCase *stats = test_tcase(s, "metrics", setup, teardown, 60);

	tcase_add_test(run, test_run_nothing_alive);
	tcase_add_test(run, test_run_once);
	tcase_add_test(run, test_run_nowait);
	tcase_add_test(run, test_run_stop);
	tcase_add_test(run, test_now_update_time);

	tcase_add_test(raw, test_raw_write_then_read);
	tcase_add_test(raw, test_raw_prep_refused);
	tcase_add_test(raw, test_raw_multishot);
	tcase_add_test(raw, test_raw_busy);
	tcase_add_test(raw, test_callback_starts_ops);

	tcase_add_test(cancel, test_cancel_before_run_nop);
	tcase_add_test(cancel, test_cancel_before_run_read);
	tcase_add_test(cancel, test_cancel_many_live);
	tcase_add_test(cancel, test_cancel_in_overflow_queue);
	tcase_add_test(cancel, test_cancel_in_flight);
	tcase_add_test(cancel, test_cancel_after_completion);
	tcase_add_test(cancel, test_cancel_twice);
	tcase_add_test(cancel, test_cancel_from_callback);
	tcase_add_test(cancel, test_cancel_randomized);

	tcase_add_test(queues, test_stale_cqes);
	tcase_add_loop_test(queues, test_sq_full, 0, 2);
	tcase_add_loop_test(queues, test_sq_full_started_from_callbacks, 0, 2);
	tcase_add_test(queues, test_records_trimmed);
	tcase_add_test(queues, test_records_sealed);
	tcase_add_loop_test(queues, test_cq_small, 0, 2);
	tcase_add_test(queues, test_cq_overflow_reads);

	tcase_add_test(handles, test_handle_unref_ref);
	tcase_add_test(handles, test_handle_close);
	tcase_add_test(handles, test_callback_closes_and_cancels);

	tcase_add_test(args, test_bad_init);
	tcase_add_test(args, test_zero_opts_are_defaults);
	tcase_add_test(args, test_bad_arguments);
	tcase_add_test(args, test_loop_close_busy);
	tcase_add_test(args, test_loop_close_twice);
	tcase_add_test(args, test_loop_fd);

	tcase_add_test(opts, test_default_ring_flags);
	tcase_add_test(opts, test_sq_array);
	tcase_add_test(opts, test_no_defer_taskrun);
	tcase_add_test(opts, test_sqpoll);

	tcase_add_test(stats, test_metrics_nops);
	tcase_add_test(stats, test_metrics_wait);
	tcase_add_test(stats, test_wait_untimed_clock_fresh);
	tcase_add_test(stats, test_now_cached_in_iteration);
	return s;
}

int main(void)
{
	return test_main(suite());
}
