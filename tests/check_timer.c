/* SPDX-License-Identifier: MIT */
/*
 * Timers and request deadlines through the public API: firing order (by
 * deadline, FIFO on ties; also against a model of random starts, restarts
 * and stops), zero timeouts that wait for the next iteration, repeats that
 * keep their phase and never burst after the loop fell behind,
 * stop/start/again/close from inside callbacks, the repeat and due-in
 * accessors, a very large number of timers, ref/unref, kernel link timeouts
 * (ringo_submit_timeout, also under SQ pressure) and heap deadlines
 * (ringo_deadline, multishot ops included) on reads, recvs and NOPs, and
 * bad arguments and bad handles (NULL, never initialised, another type,
 * closing, closed). Every test
 * that depends on time runs twice: on the default loop, which bounds its
 * waits with EXT_ARG, and on one that must arm a kernel TIMEOUT op instead
 * (RINGO_LOOP_NO_EXT_ARG). Time asserts never let a timer fire early and
 * leave generous room above. Every test gets a fresh loop; the teardown
 * asserts it closes with nothing left.
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
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fixture_loop.h"

/* ---- Fixture ---------------------------------------------------------- */

static unsigned loop_flags;		/* RINGO_LOOP_* of this TCase's loop */
static int pipe_fds[2] = { -1, -1 };	/* a blocking pipe, closed by the teardown */

static void reset_state(void);

static void open_loop(unsigned entries)
{
	struct ringo_loop_opts opts;

	ringo_loop_opts_init(&opts);
	if (entries)
		opts.entries = entries;
	opts.flags = loop_flags;
	loop_fixture_open(&opts);
}

static void setup_common(void)
{
	/* Without fork mode (CK_FORK=no) every test must start from zero. */
	reset_state();
	open_loop(0);
}

/* The default loop: timed waits carry their limit in io_uring_enter. */
static void setup_ext_arg(void)
{
	loop_flags = 0;
	setup_common();
}

/* Timed waits through a kernel TIMEOUT op. */
static void setup_no_ext_arg(void)
{
	loop_flags = RINGO_LOOP_NO_EXT_ARG;
	setup_common();
}

static void teardown(void)
{
	loop_fixture_close();
	test_close_pipe(pipe_fds);
}

/* Replace the fixture's loop with one of `entries` SQ entries, same flags. */
static void reopen(unsigned entries)
{
	ck_assert_int_eq(ringo_loop_close(&loop), 0);
	loop_open = 0;
	open_loop(entries);
	ck_assert_int_eq(loop_open, 1);
}

static void open_pipe(void)
{
	test_pipe(pipe_fds);
}

/*
 * Timers count from the loop's cached clock: refresh it, and return what a
 * timer started now counts from.
 */
static uint64_t base_ms(void)
{
	ringo_update_time(&loop);
	return ringo_now(&loop);
}

/* ---- Timers that record their firings --------------------------------- */

struct ttimer {
	ringo_timer_t t;
	int calls;		/* callbacks run */
	int closes;		/* close callbacks run */
	uint64_t first_ms;	/* mono ms of the first firing */
	uint64_t last_ms;	/* mono ms of the latest firing */
	uint64_t last_now;	/* the loop's clock at the latest firing */
	int seq;		/* global order of its latest callback */
	int close_seq;		/* global order of its close callback */
};

static int seq_counter;

static struct ttimer *tt_of(ringo_timer_t *t)
{
	return owner_of(t, struct ttimer, t);
}

static void tt_init(struct ttimer *tt)
{
	memset(tt, 0, sizeof(*tt));
	ck_assert_int_eq(ringo_timer_init(&loop, &tt->t), 0);
	ck_assert_int_eq(tt->t.type, RINGO_HANDLE_TIMER);
	ck_assert_ptr_eq(tt->t.loop, &loop);
	ck_assert_int_eq(ringo_is_active(AS_HANDLE(&tt->t)), 0);
}

static void record_fire(ringo_timer_t *t)
{
	struct ttimer *tt = tt_of(t);

	tt->last_ms = test_mono_ms();
	tt->last_now = ringo_now(t->loop);
	if (!tt->calls)
		tt->first_ms = tt->last_ms;
	tt->calls++;
	tt->seq = seq_counter++;
}

static void count_cb(ringo_timer_t *t)
{
	record_fire(t);
}

static void close_count_cb(ringo_handle_t *h)
{
	struct ttimer *tt = tt_of((ringo_timer_t *)h);

	tt->closes++;
	tt->close_seq = seq_counter++;
}

/* Close the timers and run the loop until their close callbacks ran. */
static void tt_close(struct ttimer **tts, int n)
{
	int i;

	for (i = 0; i < n; i++)
		ck_assert_int_eq(ringo_close(AS_HANDLE(&tts[i]->t), close_count_cb), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(tts[i]->closes, 1);
}

static void tt_close1(struct ttimer *tt)
{
	tt_close(&tt, 1);
}

static void tt_close2(struct ttimer *a, struct ttimer *b)
{
	struct ttimer *both[] = { a, b };

	tt_close(both, 2);
}

/* Run the loop to the end: by then `tt` has fired `calls` times in all. */
static void run_fired(const struct ttimer *tt, int calls)
{
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(tt->calls, calls);
}

/* ---- Requests that record their completions --------------------------- */

struct treq {
	ringo_raw_t raw;
	int calls;		/* callbacks run */
	int res;		/* res of the last one */
	unsigned flags;		/* cqe flags of the last one */
	uint64_t last_ms;	/* mono ms of the last one */
	char buf[8];
};

static struct treq *treq_of(ringo_raw_t *raw)
{
	return owner_of(raw, struct treq, raw);
}

static void record_cb(ringo_raw_t *raw, int res, unsigned flags)
{
	struct treq *r = treq_of(raw);

	r->calls++;
	r->res = res;
	r->flags = flags;
	r->last_ms = test_mono_ms();
}

static void assert_res(const struct treq *r, int res)
{
	ck_assert_msg(r->res == res, "res %d (%s), want %d (%s)", r->res, ringo_err_name(r->res),
		      res, ringo_err_name(res));
}

static int prep_nop(struct ringo_sqe *sqe, void *arg)
{
	(void)arg;
	ringo_prep_nop(sqe);
	return 0;
}

static int prep_poll_multishot(struct ringo_sqe *sqe, void *arg)
{
	ringo_prep_poll_multishot(sqe, *(int *)arg, POLLIN);
	return 0;
}

/* A one-byte read of the pipe: pending until someone writes. */
static void start_read(struct treq *r)
{
	struct rw_arg a = { .fd = pipe_fds[0], .buf = r->buf, .len = 1 };

	ck_assert_int_eq(ringo_submit(&loop, &r->raw, prep_read, &a, record_cb), 0);
}

static int start_read_timeout(struct treq *r, int64_t ms)
{
	struct rw_arg a = { .fd = pipe_fds[0], .buf = r->buf, .len = 1 };

	return ringo_submit_timeout(&loop, &r->raw, prep_read, &a, ms, record_cb);
}

/* ======================================================================
 * The wait path each TCase runs on
 * ====================================================================== */

/*
 * Make sure the "no EXT_ARG" TCase really waits through a TIMEOUT op: a
 * lone timer submits nothing on the default loop (the limit rides in
 * io_uring_enter) and at least that op without EXT_ARG.
 */
START_TEST(test_wait_path)
{
	struct ringo_loop_metrics m0, m1;
	struct ttimer a;
	uint64_t base;

	REQUIRE_LOOP();
	if (!(loop_flags & RINGO_LOOP_NO_EXT_ARG) &&
	    !(ringo_loop_ring(&loop)->features & RINGO_FEAT_EXT_ARG))
		TEST_SKIP("kernel lacks IORING_FEAT_EXT_ARG");
	/* Waits are timed only on request. */
	loop_flags |= RINGO_LOOP_WAIT_TIME;
	reopen(0);
	tt_init(&a);
	m0 = metrics();
	base = base_ms();
	ck_assert_int_eq(ringo_timer_start(&a.t, count_cb, 15, 0), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	m1 = metrics();
	ck_assert_int_eq(a.calls, 1);
	ck_assert_uint_ge(a.first_ms, base + 15);
	ck_assert_uint_gt(m1.wait_ns, m0.wait_ns);
	if (loop_flags & RINGO_LOOP_NO_EXT_ARG)
		ck_assert_uint_ge(m1.submitted - m0.submitted, 1);
	else
		ck_assert_uint_eq(m1.submitted - m0.submitted, 0);
	tt_close1(&a);
}
END_TEST

/*
 * ONCE "waits for work if any is alive": a run that blocked until a
 * timer's deadline runs that timer before it returns, as libuv's
 * UV_RUN_ONCE does (it runs timers after its poll for this reason).
 * Otherwise the next ONCE runs the timer and then blocks again on
 * whatever else is alive. A pending read keeps the loop alive; a far
 * guard timer bounds the wait if the run does not return.
 */
START_TEST(test_run_once_runs_timer_it_waited_for)
{
	struct ttimer a, guard;
	struct treq rd = { 0 };
	uint64_t base;

	REQUIRE_LOOP();
	open_pipe();
	start_read(&rd);
	tt_init(&a);
	tt_init(&guard);
	ck_assert_int_eq(ringo_timer_start(&guard.t, count_cb, 1000, 0), 0);
	ck_assert_int_gt(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	base = base_ms();
	ck_assert_int_eq(ringo_timer_start(&a.t, count_cb, 20, 0), 0);
	ck_assert_int_gt(ringo_run(&loop, RINGO_RUN_ONCE), 0);
	ck_assert_uint_ge(test_mono_ms(), base + 20);
	ck_assert_msg(a.calls == 1, "ONCE returned %llu ms after start with the timer it "
		      "waited for not run", (unsigned long long)(test_mono_ms() - base));
	ck_assert_uint_ge(a.first_ms, base + 20);
	ck_assert_int_eq(guard.calls, 0);

	ck_assert_int_eq(ringo_cancel(AS_REQ(&rd.raw)), 0);
	ck_assert_int_eq(ringo_timer_stop(&guard.t), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(rd.calls, 1);
	assert_res(&rd, -ECANCELED);
	tt_close2(&a, &guard);
}
END_TEST

/*
 * A timer due at the start of a ONCE run is not the run's progress: the
 * run fires it and then still waits, here for the next timer, as libuv's
 * UV_RUN_ONCE does.
 */
START_TEST(test_run_once_due_timer_still_waits)
{
	struct ttimer a, b;
	uint64_t base;

	REQUIRE_LOOP();
	tt_init(&a);
	tt_init(&b);
	base = base_ms();
	ck_assert_int_eq(ringo_timer_start(&a.t, count_cb, 0, 0), 0);
	ck_assert_int_eq(ringo_timer_start(&b.t, count_cb, 30, 0), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_ONCE), 0);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_msg(b.calls == 1, "ONCE returned %llu ms after start without waiting for "
		      "the 30 ms timer", (unsigned long long)(test_mono_ms() - base));
	ck_assert_uint_ge(test_mono_ms(), base + 30);
	tt_close2(&a, &b);
}
END_TEST

/* ======================================================================
 * Order
 * ====================================================================== */

struct fire_rec {
	uint64_t deadline;	/* loop ms the timer was due at, fixed at start */
	uint32_t index;		/* start order */
};

static struct fire_rec *order_log;	/* one entry per firing */
static uint64_t *order_deadline;	/* per timer: its deadline at start */
static size_t order_fired, order_cap, order_early;

static void order_cb(ringo_timer_t *t)
{
	uint32_t i = (uint32_t)(uintptr_t)t->data;

	/* No ck_assert here: each one costs a message to the parent. */
	if (ringo_now(t->loop) < order_deadline[i] || test_mono_ms() < order_deadline[i])
		order_early++;
	if (order_fired < order_cap)
		order_log[order_fired] = (struct fire_rec){ order_deadline[i], i };
	order_fired++;
}

static uint32_t xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

START_TEST(test_order_random)
{
	size_t n = TEST_SIZE(100000, 10000), i;
	uint32_t seed = 0x2545f491;
	ringo_timer_t *ts;
	uint64_t base;

	REQUIRE_LOOP();
	ts = calloc(n, sizeof(*ts));
	order_log = calloc(n, sizeof(*order_log));
	order_deadline = calloc(n, sizeof(*order_deadline));
	ck_assert_ptr_nonnull(ts);
	ck_assert_ptr_nonnull(order_log);
	ck_assert_ptr_nonnull(order_deadline);
	order_cap = n;

	base = base_ms();
	for (i = 0; i < n; i++) {
		int64_t ms = xorshift(&seed) % 100;

		ck_assert_int_eq(ringo_timer_init(&loop, &ts[i]), 0);
		ts[i].data = (void *)(uintptr_t)i;
		order_deadline[i] = ringo_now(&loop) + (uint64_t)ms;
		ck_assert_int_eq(ringo_timer_start(&ts[i], order_cb, ms, 0), 0);
	}
	/* Nothing moved the clock: every deadline counts from the same base. */
	ck_assert_uint_eq(ringo_now(&loop), base);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);

	ck_assert_uint_eq(order_fired, n);
	ck_assert_uint_eq(order_early, 0);
	for (i = 1; i < n; i++) {
		const struct fire_rec *a = &order_log[i - 1], *b = &order_log[i];

		ck_assert_msg(a->deadline < b->deadline ||
				      (a->deadline == b->deadline && a->index < b->index),
			      "firing %zu: (+%llu ms, #%u) after (+%llu ms, #%u)", i,
			      (unsigned long long)(b->deadline - base), b->index,
			      (unsigned long long)(a->deadline - base), a->index);
	}

	for (i = 0; i < n; i++)
		ck_assert_int_eq(ringo_close(AS_HANDLE(&ts[i]), NULL), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	free(ts);
	free(order_log);
	free(order_deadline);
	order_log = NULL;
	order_deadline = NULL;
}
END_TEST

/*
 * Random starts, restarts and stops against a model: what fires must be
 * exactly the timers the model says are active, in (deadline, last start)
 * order, and every get_due_in must match the model. A middle phase stops
 * nine in ten, so long lines get more holes than timers and are squeezed
 * (their timers move) before the last phase appends to them again; short
 * lines empty out and hand their chunks to others.
 */
struct model_timer {
	uint64_t deadline;	/* loop ms of its last start */
	uint64_t seq;		/* order of its last start */
	int active;
};

static struct model_timer *model;
static uint32_t *model_log;	/* timer indexes in firing order */
static size_t model_fired, model_cap;

static void model_cb(ringo_timer_t *t)
{
	if (model_fired < model_cap)
		model_log[model_fired] = (uint32_t)(uintptr_t)t->data;
	model_fired++;
}

static int model_cmp(const void *pa, const void *pb)
{
	const struct model_timer *a = &model[*(const uint32_t *)pa];
	const struct model_timer *b = &model[*(const uint32_t *)pb];

	if (a->deadline != b->deadline)
		return a->deadline < b->deadline ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* One random step on timer i: a (re)start (two in three) or a stop; in
 * the thinning phase nine stops in ten. */
static void model_step(ringo_timer_t *ts, uint32_t r, size_t i, uint64_t base, uint64_t *seq,
		       int thin)
{
	/* Odd steps pick among 8 deadlines (long lines), even among 300. */
	int64_t ms = (int64_t)((r >> 20) % (r & 1 ? 8 : 300));
	int stop = thin ? (r >> 8) % 10 != 0 : (r >> 8) % 3 == 0;

	if (stop) {
		ck_assert_int_eq(ringo_timer_stop(&ts[i]), 0);
		model[i].active = 0;
		return;
	}
	if (ringo_timer_start(&ts[i], model_cb, ms, 0) != 0)
		ck_abort_msg("start #%zu", i);
	model[i] = (struct model_timer){ base + (uint64_t)ms, (*seq)++, 1 };
}

START_TEST(test_order_random_ops)
{
	size_t n = TEST_SIZE(40000, 4000), steps = n * 4, i, k, nactive = 0;
	uint32_t seed = 0x9e3779b9, *want;
	uint64_t base, seq = 0;
	ringo_timer_t *ts;

	REQUIRE_LOOP();
	ts = calloc(n, sizeof(*ts));
	model = calloc(n, sizeof(*model));
	model_log = calloc(n, sizeof(*model_log));
	want = calloc(n, sizeof(*want));
	ck_assert(ts && model && model_log && want);
	model_cap = n;

	base = base_ms();
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(ringo_timer_init(&loop, &ts[i]), 0);
		ts[i].data = (void *)(uintptr_t)i;
	}
	for (k = 0; k < 3 * steps; k++) {
		uint32_t r = xorshift(&seed);

		/* Phase 2 walks the timers in turn so each one is thinned. */
		i = k / steps == 1 ? k % n : xorshift(&seed) % n;
		model_step(ts, r, i, base, &seq, k / steps == 1);
	}
	ck_assert_uint_eq(ringo_now(&loop), base);
	for (i = 0; i < n; i++) {
		uint64_t due = model[i].active ? model[i].deadline - base : 0;

		if (ringo_timer_get_due_in(&ts[i]) != due)
			ck_abort_msg("timer %zu: due in %llu, model %llu", i,
				     (unsigned long long)ringo_timer_get_due_in(&ts[i]),
				     (unsigned long long)due);
		ck_assert_int_eq(ringo_is_active(AS_HANDLE(&ts[i])), model[i].active);
		if (model[i].active)
			want[nactive++] = (uint32_t)i;
	}
	ck_assert_uint_gt(nactive, 0);
	ck_assert_uint_lt(nactive, n);
	qsort(want, nactive, sizeof(*want), model_cmp);

	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_uint_eq(model_fired, nactive);
	for (k = 0; k < nactive; k++)
		if (model_log[k] != want[k])
			ck_abort_msg("firing %zu: timer %u (+%llu ms, start %llu), want %u "
				     "(+%llu ms, start %llu)", k, model_log[k],
				     (unsigned long long)(model[model_log[k]].deadline - base),
				     (unsigned long long)model[model_log[k]].seq, want[k],
				     (unsigned long long)(model[want[k]].deadline - base),
				     (unsigned long long)model[want[k]].seq);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(ringo_close(AS_HANDLE(&ts[i]), NULL), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	free(ts);
	free(model);
	free(model_log);
	free(want);
	model = NULL;
	model_log = NULL;
}
END_TEST

/* Equal deadlines fire in start order, also when restarted: a restart
 * goes to the back of its deadline's line. */
START_TEST(test_order_ties_restart)
{
	struct ttimer a, b, c;

	REQUIRE_LOOP();
	tt_init(&a);
	tt_init(&b);
	tt_init(&c);
	ck_assert_int_eq(ringo_timer_start(&a.t, count_cb, 5, 0), 0);
	ck_assert_int_eq(ringo_timer_start(&b.t, count_cb, 5, 0), 0);
	ck_assert_int_eq(ringo_timer_start(&c.t, count_cb, 5, 0), 0);
	/* Restarting the active timer a: same deadline, now last in line. */
	ck_assert_int_eq(ringo_timer_start(&a.t, count_cb, 5, 0), 0);
	run_fired(&a, 1);
	ck_assert_int_eq(b.calls, 1);
	ck_assert_int_eq(c.calls, 1);
	ck_assert_int_lt(b.seq, c.seq);
	ck_assert_int_lt(c.seq, a.seq);
	tt_close1(&a);
	tt_close2(&b, &c);
}
END_TEST

/* ======================================================================
 * Zero timeouts
 * ====================================================================== */

START_TEST(test_zero_timeout_next_iteration)
{
	struct ringo_loop_metrics m0, m1;
	struct ttimer a;

	REQUIRE_LOOP();
	tt_init(&a);
	ck_assert_int_eq(ringo_timer_start(&a.t, count_cb, 0, 0), 0);
	/* Never inline. */
	ck_assert_int_eq(a.calls, 0);
	ck_assert_int_eq(ringo_is_active(AS_HANDLE(&a.t)), 1);
	ck_assert_uint_eq(ringo_timer_get_due_in(&a.t), 0);
	m0 = metrics();
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_ONCE), 0);
	m1 = metrics();
	ck_assert_int_eq(a.calls, 1);
	ck_assert_uint_eq(m1.iterations - m0.iterations, 1);
	ck_assert_int_eq(ringo_is_active(AS_HANDLE(&a.t)), 0);

	ck_assert_int_eq(ringo_timer_start(&a.t, count_cb, 0, 0), 0);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	ck_assert_int_eq(a.calls, 2);
	ck_assert_int_eq(ringo_is_active(AS_HANDLE(&a.t)), 0);
	tt_close1(&a);
}
END_TEST

static int rezero_errors;

static void rezero_cb(ringo_timer_t *t)
{
	record_fire(t);
	if (ringo_timer_start(t, rezero_cb, 0, 0) != 0)
		rezero_errors++;
}

START_TEST(test_zero_timeout_restart_no_spin)
{
	struct ringo_loop_metrics m0, m1;
	struct ttimer a;
	int i;

	REQUIRE_LOOP();
	tt_init(&a);
	ck_assert_int_eq(ringo_timer_start(&a.t, rezero_cb, 0, 0), 0);
	m0 = metrics();
	for (i = 1; i <= 3; i++) {
		ck_assert_int_gt(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
		ck_assert_int_eq(a.calls, i);
	}
	m1 = metrics();
	ck_assert_uint_eq(m1.iterations - m0.iterations, 3);
	/* ONCE does not block on a timer already due, and fires it once. */
	for (i = 4; i <= 5; i++) {
		ck_assert_int_gt(ringo_run(&loop, RINGO_RUN_ONCE), 0);
		ck_assert_int_eq(a.calls, i);
	}
	ck_assert_int_eq(rezero_errors, 0);
	ck_assert_int_eq(ringo_timer_stop(&a.t), 0);
	run_fired(&a, 5);
	tt_close1(&a);
}
END_TEST

static struct ttimer chain_a, chain_b;

static void chain_cb(ringo_timer_t *t)
{
	record_fire(t);
	ck_assert_int_eq(ringo_timer_start(&chain_b.t, count_cb, 0, 0), 0);
}

/* A 0 ms timer started by a callback waits for the next iteration too. */
START_TEST(test_zero_timeout_started_by_callback)
{
	REQUIRE_LOOP();
	tt_init(&chain_a);
	tt_init(&chain_b);
	ck_assert_int_eq(ringo_timer_start(&chain_a.t, chain_cb, 0, 0), 0);
	ck_assert_int_gt(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	ck_assert_int_eq(chain_a.calls, 1);
	ck_assert_int_eq(chain_b.calls, 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	ck_assert_int_eq(chain_a.calls, 1);
	ck_assert_int_eq(chain_b.calls, 1);
	tt_close2(&chain_a, &chain_b);
}
END_TEST

/* ======================================================================
 * Repeats: no drift, no burst
 * ====================================================================== */

#define REP_MAX 128

static int rep_calls, rep_limit;
static unsigned rep_sleep_first;	/* ms to block the loop in firing 1 */
static uint64_t rep_now[REP_MAX];	/* the loop's clock at firing k */
static uint64_t rep_mono[REP_MAX];	/* mono ms at firing k */
static uint64_t rep_next[REP_MAX];	/* the deadline set for firing k + 1 */

static void repeat_cb(ringo_timer_t *t)
{
	int k = rep_calls++;

	if (k < REP_MAX) {
		rep_now[k] = ringo_now(t->loop);
		rep_mono[k] = test_mono_ms();
		/* Rescheduled before the callback: this is the next deadline. */
		rep_next[k] = rep_now[k] + ringo_timer_get_due_in(t);
	}
	if (k == 0 && rep_sleep_first)
		test_sleep_ms(rep_sleep_first);
	if (rep_calls == rep_limit)
		ringo_timer_stop(t);
}

/*
 * Check the n firings of a timer started at `base` with period p: none
 * early, and each next deadline exactly the documented one -- the previous
 * deadline plus p, or, when the loop fell behind, the first deadline of the
 * same phase still in the future. Returns the last firing's deadline.
 */
static uint64_t check_schedule(uint64_t base, uint64_t p, int n)
{
	uint64_t due = base + p, want;
	int k;

	for (k = 0; k < n; k++) {
		ck_assert_msg(rep_now[k] >= due && rep_mono[k] >= due,
			      "firing %d at +%llu ms (loop +%llu), due +%llu", k + 1,
			      (unsigned long long)(rep_mono[k] - base),
			      (unsigned long long)(rep_now[k] - base),
			      (unsigned long long)(due - base));
		ck_assert_uint_ge(rep_mono[k], base + (uint64_t)(k + 1) * p);
		want = due + p * ((rep_now[k] - due) / p + 1);
		ck_assert_msg(rep_next[k] == want,
			      "after firing %d at loop +%llu (due +%llu): next +%llu, want +%llu",
			      k + 1, (unsigned long long)(rep_now[k] - base),
			      (unsigned long long)(due - base),
			      (unsigned long long)(rep_next[k] - base),
			      (unsigned long long)(want - base));
		/* Same phase, in the future, and not a period later than that. */
		ck_assert_uint_eq((rep_next[k] - base) % p, 0);
		ck_assert_uint_gt(rep_next[k], rep_now[k]);
		ck_assert_uint_le(rep_next[k] - p, rep_now[k]);
		if (k + 1 < n)
			due = rep_next[k];
	}
	return due;
}

START_TEST(test_repeat_no_drift)
{
	const uint64_t p = 5;
	int n = TEST_SIZE(100, 100);
	uint64_t base, last_due, skipped;
	struct ttimer a;

	REQUIRE_LOOP();
	ck_assert_int_le(n, REP_MAX);
	tt_init(&a);
	rep_limit = n;
	base = base_ms();
	ck_assert_int_eq(ringo_timer_start(&a.t, repeat_cb, (int64_t)p, (int64_t)p), 0);
	ck_assert_uint_eq(ringo_timer_get_repeat(&a.t), p);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(rep_calls, n);

	last_due = check_schedule(base, p, n);
	/*
	 * The deadlines stay on the grid of the start, so all the lateness
	 * there is is that of the last wake-up. A period lost to a stall of
	 * the machine (fell behind: skipped, see check_schedule) moves the
	 * n-th firing one period on, never off the grid.
	 */
	skipped = (last_due - base) / p - (uint64_t)n;
	if (skipped)
		printf("  %s: %llu period(s) skipped by a stalled loop\n", __func__,
		       (unsigned long long)skipped);
	ck_assert_msg(rep_mono[n - 1] - last_due < 10, "total drift %llu ms after %d firings",
		      (unsigned long long)(rep_mono[n - 1] - last_due), n);
	ck_assert_uint_lt(rep_mono[n - 1], base + ((uint64_t)n + skipped) * p + 10);
	tt_close1(&a);
}
END_TEST

START_TEST(test_repeat_fell_behind)
{
	const uint64_t p = 10;
	uint64_t base, want;
	struct ttimer a;

	REQUIRE_LOOP();
	tt_init(&a);
	rep_limit = 4;
	rep_sleep_first = 35;
	base = base_ms();
	ck_assert_int_eq(ringo_timer_start(&a.t, repeat_cb, (int64_t)p, (int64_t)p), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(rep_calls, 4);
	check_schedule(base, p, 4);

	/* Firing 2 came after the stall: once, however many periods passed. */
	ck_assert_uint_ge(rep_now[1], rep_now[0] + 35);
	want = base + p * ((rep_now[1] - base) / p + 1);
	ck_assert_uint_eq(rep_next[1], want);
	/* No burst: the firing after it waited for that deadline. */
	ck_assert_uint_ge(rep_now[2], want);
	ck_assert_uint_gt(rep_now[2], rep_now[1]);
	tt_close1(&a);
}
END_TEST

static struct ttimer sr_timer;

static void set_repeat_zero_cb(ringo_timer_t *t)
{
	record_fire(t);
	if (tt_of(t)->calls == 1) {
		ck_assert_int_eq(ringo_timer_set_repeat(t, 0), 0);
		ck_assert_uint_eq(ringo_timer_get_repeat(t), 0);
	}
}

/* set_repeat takes effect at the next firing: on a one-shot it makes a
 * repeat; to 0 inside a callback, the firing already scheduled is the last. */
START_TEST(test_set_repeat)
{
	struct ttimer a;
	uint64_t base, due1;

	REQUIRE_LOOP();
	tt_init(&a);
	ck_assert_uint_eq(ringo_timer_get_repeat(&a.t), 0);
	ck_assert_int_eq(ringo_timer_set_repeat(&a.t, 7), 0);
	ck_assert_uint_eq(ringo_timer_get_repeat(&a.t), 7);
	ck_assert_int_eq(ringo_timer_set_repeat(&a.t, -1), -EINVAL);
	ck_assert_uint_eq(ringo_timer_get_repeat(&a.t), 7);

	/* One-shot, made repeating (10 ms) before it fires. */
	rep_limit = 2;
	base = base_ms();
	ck_assert_int_eq(ringo_timer_start(&a.t, repeat_cb, 5, 0), 0);
	ck_assert_uint_eq(ringo_timer_get_repeat(&a.t), 0);
	ck_assert_int_eq(ringo_timer_set_repeat(&a.t, 10), 0);
	ck_assert_uint_eq(ringo_timer_get_repeat(&a.t), 10);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(rep_calls, 2);
	due1 = base + 5;
	ck_assert_uint_ge(rep_now[0], due1);
	ck_assert_uint_eq(rep_next[0], due1 + 10 * ((rep_now[0] - due1) / 10 + 1));
	ck_assert_uint_ge(rep_now[1], rep_next[0]);
	ck_assert_uint_ge(rep_mono[1], base + 15);

	/* Repeating, set to 0 in its first callback: exactly one more firing. */
	tt_init(&sr_timer);
	ck_assert_int_eq(ringo_timer_start(&sr_timer.t, set_repeat_zero_cb, 2, 3), 0);
	run_fired(&sr_timer, 2);
	ck_assert_int_eq(ringo_is_active(AS_HANDLE(&sr_timer.t)), 0);
	tt_close2(&a, &sr_timer);
}
END_TEST

/* ======================================================================
 * Stop, start, again and close from callbacks
 * ====================================================================== */

static void stop_self_cb(ringo_timer_t *t)
{
	record_fire(t);
	ck_assert_int_eq(ringo_timer_stop(t), 0);
	ck_assert_int_eq(ringo_is_active(AS_HANDLE(t)), 0);
	ck_assert_uint_eq(ringo_timer_get_due_in(t), 0);
}

START_TEST(test_cb_stops_self)
{
	struct ttimer a;
	uint64_t base;

	REQUIRE_LOOP();
	tt_init(&a);
	base = base_ms();
	ck_assert_int_eq(ringo_timer_start(&a.t, stop_self_cb, 3, 1), 0);
	run_fired(&a, 1);
	ck_assert_uint_ge(a.first_ms, base + 3);
	/* Nothing left to fire. */
	test_sleep_ms(5);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	ck_assert_int_eq(a.calls, 1);
	tt_close1(&a);
}
END_TEST

static struct ttimer pair_a, pair_b;

static void stop_other_cb(ringo_timer_t *t)
{
	record_fire(t);
	/* b is due in this very iteration. */
	ck_assert_uint_eq(ringo_timer_get_due_in(&pair_b.t), 0);
	ck_assert_int_eq(ringo_is_active(AS_HANDLE(&pair_b.t)), 1);
	ck_assert_int_eq(ringo_timer_stop(&pair_b.t), 0);
}

START_TEST(test_cb_stops_other_due)
{
	REQUIRE_LOOP();
	tt_init(&pair_a);
	tt_init(&pair_b);
	ck_assert_int_eq(ringo_timer_start(&pair_a.t, stop_other_cb, 5, 0), 0);
	ck_assert_int_eq(ringo_timer_start(&pair_b.t, count_cb, 5, 0), 0);
	run_fired(&pair_a, 1);
	ck_assert_int_eq(pair_b.calls, 0);
	ck_assert_int_eq(ringo_is_active(AS_HANDLE(&pair_b.t)), 0);
	tt_close2(&pair_a, &pair_b);
}
END_TEST

static uint64_t restart_base;

static void restart_self_cb(ringo_timer_t *t)
{
	record_fire(t);
	if (tt_of(t)->calls == 1) {
		restart_base = ringo_now(t->loop);
		ck_assert_int_eq(ringo_timer_start(t, restart_self_cb, 20, 0), 0);
		ck_assert_uint_eq(ringo_timer_get_due_in(t), 20);
		ck_assert_int_eq(ringo_is_active(AS_HANDLE(t)), 1);
	}
}

START_TEST(test_cb_restarts_self)
{
	struct ttimer a;
	uint64_t base;

	REQUIRE_LOOP();
	tt_init(&a);
	base = base_ms();
	ck_assert_int_eq(ringo_timer_start(&a.t, restart_self_cb, 2, 0), 0);
	run_fired(&a, 2);
	ck_assert_uint_ge(a.first_ms, base + 2);
	ck_assert_uint_ge(a.last_now, restart_base + 20);
	ck_assert_uint_ge(a.last_ms, restart_base + 20);
	tt_close1(&a);
}
END_TEST

/* Starting an active timer replaces its deadline (earlier here). */
START_TEST(test_start_active_restarts)
{
	struct ttimer a;
	uint64_t base;

	REQUIRE_LOOP();
	tt_init(&a);
	ck_assert_int_eq(ringo_timer_start(&a.t, count_cb, 5000, 0), 0);
	base = base_ms();
	ck_assert_int_eq(ringo_timer_start(&a.t, count_cb, 10, 0), 0);
	ck_assert_uint_eq(ringo_timer_get_due_in(&a.t), 10);
	run_fired(&a, 1);
	ck_assert_uint_ge(a.first_ms, base + 10);
	ck_assert_uint_lt(a.first_ms, base + 4000);
	/* And later: the old, earlier deadline is gone. */
	ck_assert_int_eq(ringo_timer_start(&a.t, count_cb, 2, 0), 0);
	base = base_ms();
	ck_assert_int_eq(ringo_timer_start(&a.t, count_cb, 30, 0), 0);
	run_fired(&a, 2);
	ck_assert_uint_ge(a.last_ms, base + 30);
	tt_close1(&a);
}
END_TEST

static struct ttimer cs_timer;
static int cs_close_in_cb;	/* close_cb runs seen from inside the callback */

static void close_self_cb(ringo_timer_t *t)
{
	record_fire(t);
	ck_assert_int_eq(ringo_close(AS_HANDLE(t), close_count_cb), 0);
	/* Later, from the loop: not from inside ringo_close. */
	cs_close_in_cb = tt_of(t)->closes;
	ck_assert_int_eq(ringo_is_closing(AS_HANDLE(t)), 1);
	ck_assert_int_eq(ringo_is_active(AS_HANDLE(t)), 0);
	ck_assert_int_eq(ringo_close(AS_HANDLE(t), close_count_cb), -EALREADY);
	ck_assert_int_eq(ringo_timer_start(t, close_self_cb, 0, 0), -EINVAL);
}

START_TEST(test_cb_closes_self)
{
	REQUIRE_LOOP();
	tt_init(&cs_timer);
	/* Repeating: the close must also undo the reschedule. */
	ck_assert_int_eq(ringo_timer_start(&cs_timer.t, close_self_cb, 1, 1), 0);
	run_fired(&cs_timer, 1);
	ck_assert_int_eq(cs_close_in_cb, 0);
	ck_assert_int_eq(cs_timer.closes, 1);
	ck_assert_int_lt(cs_timer.seq, cs_timer.close_seq);
	test_sleep_ms(3);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	ck_assert_int_eq(cs_timer.calls, 1);
	ck_assert_int_eq(cs_timer.closes, 1);
}
END_TEST

static void close_other_cb(ringo_timer_t *t)
{
	record_fire(t);
	ck_assert_int_eq(ringo_close(AS_HANDLE(&pair_b.t), close_count_cb), 0);
	ck_assert_int_eq(pair_b.closes, 0);
}

START_TEST(test_cb_closes_other_due)
{
	REQUIRE_LOOP();
	tt_init(&pair_a);
	tt_init(&pair_b);
	ck_assert_int_eq(ringo_timer_start(&pair_a.t, close_other_cb, 5, 0), 0);
	ck_assert_int_eq(ringo_timer_start(&pair_b.t, count_cb, 5, 5), 0);
	run_fired(&pair_a, 1);
	ck_assert_int_eq(pair_b.calls, 0);
	ck_assert_int_eq(pair_b.closes, 1);
	tt_close1(&pair_a);
}
END_TEST

/* Closing an active timer from outside: it never fires; close_cb once. */
START_TEST(test_close_active)
{
	struct ttimer a;

	REQUIRE_LOOP();
	tt_init(&a);
	ck_assert_int_eq(ringo_timer_start(&a.t, count_cb, 1, 1), 0);
	ck_assert_int_eq(ringo_close(AS_HANDLE(&a.t), close_count_cb), 0);
	ck_assert_int_eq(a.closes, 0);
	ck_assert_uint_eq(ringo_timer_get_due_in(&a.t), 0);
	test_sleep_ms(3);
	run_fired(&a, 0);
	ck_assert_int_eq(a.closes, 1);

	/* The memory is the caller's again: a fresh timer in it works. */
	tt_init(&a);
	ck_assert_int_eq(ringo_timer_start(&a.t, count_cb, 1, 0), 0);
	run_fired(&a, 1);
	tt_close1(&a);
}
END_TEST

START_TEST(test_again)
{
	struct ttimer a, never;
	uint64_t base;

	REQUIRE_LOOP();
	tt_init(&never);
	ck_assert_int_eq(ringo_timer_again(&never.t), -EINVAL);
	ck_assert_int_eq(ringo_is_active(AS_HANDLE(&never.t)), 0);

	/* Repeat 0: a no-op that succeeds. */
	tt_init(&a);
	ck_assert_int_eq(ringo_timer_start(&a.t, count_cb, 50, 0), 0);
	ck_assert_uint_eq(ringo_timer_get_due_in(&a.t), 50);
	ck_assert_int_eq(ringo_timer_again(&a.t), 0);
	ck_assert_uint_eq(ringo_timer_get_due_in(&a.t), 50);
	ck_assert_int_eq(ringo_is_active(AS_HANDLE(&a.t)), 1);
	ck_assert_uint_eq(ringo_timer_get_repeat(&a.t), 0);
	ck_assert_int_eq(ringo_timer_stop(&a.t), 0);
	/* Stopped, repeat 0: still a no-op, still stopped. */
	ck_assert_int_eq(ringo_timer_again(&a.t), 0);
	ck_assert_int_eq(ringo_is_active(AS_HANDLE(&a.t)), 0);

	/* Repeating: restarts with the repeat as the timeout. */
	rep_limit = 1;
	ck_assert_int_eq(ringo_timer_start(&a.t, repeat_cb, 5000, 20), 0);
	base = base_ms();
	ck_assert_int_eq(ringo_timer_again(&a.t), 0);
	ck_assert_uint_eq(ringo_timer_get_due_in(&a.t), 20);
	ck_assert_uint_eq(ringo_timer_get_repeat(&a.t), 20);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(rep_calls, 1);
	ck_assert_uint_ge(rep_mono[0], base + 20);
	ck_assert_uint_lt(rep_mono[0], base + 4000);
	/* Rescheduled by its repeat before repeat_cb stopped it. */
	ck_assert_uint_eq(rep_next[0], base + 20 + 20 * ((rep_now[0] - base - 20) / 20 + 1));

	/* A stopped repeating timer: again starts it. */
	ck_assert_int_eq(ringo_is_active(AS_HANDLE(&a.t)), 0);
	base = base_ms();
	ck_assert_int_eq(ringo_timer_again(&a.t), 0);
	ck_assert_int_eq(ringo_is_active(AS_HANDLE(&a.t)), 1);
	ck_assert_uint_eq(ringo_timer_get_due_in(&a.t), 20);
	rep_limit = 2;
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(rep_calls, 2);
	ck_assert_uint_ge(rep_mono[1], base + 20);
	tt_close2(&a, &never);
}
END_TEST

static struct ttimer again_a, again_b;
static uint64_t again_now;	/* the loop's clock at a's first firing */

/*
 * a and b are due together (b second). a's first callback restarts both
 * with ringo_timer_again: b leaves the line being fired and must not fire
 * in this pass; both come back one repeat after now, a first.
 */
static void again_cb(ringo_timer_t *t)
{
	record_fire(t);
	if (tt_of(t)->calls == 1) {
		again_now = ringo_now(t->loop);
		ck_assert_int_eq(ringo_timer_again(t), 0);
		ck_assert_uint_eq(ringo_timer_get_due_in(t), 30);
		ck_assert_uint_eq(ringo_timer_get_due_in(&again_b.t), 0);
		ck_assert_int_eq(ringo_timer_again(&again_b.t), 0);
		ck_assert_uint_eq(ringo_timer_get_due_in(&again_b.t), 30);
		ck_assert_int_eq(ringo_is_active(AS_HANDLE(&again_b.t)), 1);
	} else {
		ck_assert_int_eq(ringo_timer_stop(t), 0);
	}
}

START_TEST(test_cb_again)
{
	uint64_t base;

	REQUIRE_LOOP();
	tt_init(&again_a);
	tt_init(&again_b);
	base = base_ms();
	ck_assert_int_eq(ringo_timer_start(&again_a.t, again_cb, 5, 30), 0);
	ck_assert_int_eq(ringo_timer_start(&again_b.t, stop_self_cb, 5, 30), 0);
	run_fired(&again_a, 2);
	ck_assert_uint_ge(again_a.first_ms, base + 5);
	ck_assert_int_eq(again_b.calls, 1);
	ck_assert_uint_ge(again_b.first_ms, again_now + 30);
	ck_assert_uint_ge(again_a.last_now, again_now + 30);
	ck_assert_uint_ge(again_b.last_now, again_now + 30);
	/* The second round in the order of the again calls. */
	ck_assert_int_lt(again_a.seq, again_b.seq);
	tt_close2(&again_a, &again_b);
}
END_TEST

START_TEST(test_due_in)
{
	struct ttimer a;
	uint64_t n0, n1, due;

	REQUIRE_LOOP();
	tt_init(&a);
	ck_assert_uint_eq(ringo_timer_get_due_in(&a.t), 0);
	n0 = base_ms();
	ck_assert_int_eq(ringo_timer_start(&a.t, count_cb, 100, 0), 0);
	ck_assert_uint_eq(ringo_timer_get_due_in(&a.t), 100);
	test_sleep_ms(20);
	/* The loop's clock is cached: unchanged until it is updated. */
	ck_assert_uint_eq(ringo_timer_get_due_in(&a.t), 100);
	n1 = base_ms();
	due = ringo_timer_get_due_in(&a.t);
	ck_assert_uint_ge(n1 - n0, 20);
	ck_assert_uint_eq(due, n1 - n0 < 100 ? 100 - (n1 - n0) : 0);
	ck_assert_uint_le(due, 80);
	test_sleep_ms(10);
	ringo_update_time(&loop);
	ck_assert_uint_lt(ringo_timer_get_due_in(&a.t), due ? due : 1);
	ck_assert_int_eq(ringo_timer_stop(&a.t), 0);
	ck_assert_uint_eq(ringo_timer_get_due_in(&a.t), 0);

	/* Fired one-shot: 0. */
	ck_assert_int_eq(ringo_timer_start(&a.t, count_cb, 1, 0), 0);
	run_fired(&a, 1);
	ck_assert_uint_eq(ringo_timer_get_due_in(&a.t), 0);
	ck_assert_uint_eq(ringo_timer_get_due_in(NULL), 0);
	tt_close1(&a);
}
END_TEST

/* ======================================================================
 * Many timers
 * ====================================================================== */

static size_t many_fired, many_closed, many_disorder, many_early, many_close_errors;
static uint64_t many_base, many_last_deadline;
static uint32_t many_last_index;

#define MANY_SPREAD 51	/* deadlines 0..50 ms, 1 ms apart */

static void many_close_cb(ringo_handle_t *h)
{
	(void)h;
	many_closed++;
}

static void many_cb(ringo_timer_t *t)
{
	uint32_t i = (uint32_t)(uintptr_t)t->data;
	uint64_t deadline = many_base + i % MANY_SPREAD;

	/* Counters only: ck_assert costs a message to the parent each time. */
	if (many_fired && (deadline < many_last_deadline ||
			   (deadline == many_last_deadline && i <= many_last_index)))
		many_disorder++;
	if (ringo_now(t->loop) < deadline)
		many_early++;
	many_last_deadline = deadline;
	many_last_index = i;
	many_fired++;
	if (ringo_close(AS_HANDLE(t), many_close_cb) != 0)
		many_close_errors++;
}

START_TEST(test_many_timers)
{
	size_t n = TEST_SIZE(1000000, 100000), i;
	ringo_timer_t *ts;

	REQUIRE_LOOP();
	ts = calloc(n, sizeof(*ts));
	ck_assert_ptr_nonnull(ts);
	many_base = base_ms();
	for (i = 0; i < n; i++) {
		if (ringo_timer_init(&loop, &ts[i]) != 0)
			ck_abort_msg("ringo_timer_init #%zu", i);
		ts[i].data = (void *)(uintptr_t)i;
		if (ringo_timer_start(&ts[i], many_cb, (int64_t)(i % MANY_SPREAD), 0) != 0)
			ck_abort_msg("ringo_timer_start #%zu", i);
	}
	ck_assert_uint_eq(ringo_now(&loop), many_base);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_uint_eq(many_fired, n);
	ck_assert_uint_eq(many_closed, n);
	ck_assert_uint_eq(many_close_errors, 0);
	ck_assert_uint_eq(many_disorder, 0);
	ck_assert_uint_eq(many_early, 0);
	ck_assert_uint_ge(many_last_deadline, many_base + MANY_SPREAD - 1);
	free(ts);
}
END_TEST

/* ======================================================================
 * Keeping the loop alive
 * ====================================================================== */

START_TEST(test_unref_ref)
{
	struct ttimer a, tick;
	uint64_t t0, base;

	REQUIRE_LOOP();
	tt_init(&a);
	ck_assert_int_eq(ringo_has_ref(AS_HANDLE(&a.t)), 1);
	ck_assert_int_eq(ringo_timer_start(&a.t, count_cb, 1000, 0), 0);
	ck_assert_int_eq(ringo_loop_alive(&loop), 1);
	ringo_unref(AS_HANDLE(&a.t));
	ck_assert_int_eq(ringo_has_ref(AS_HANDLE(&a.t)), 0);
	ck_assert_int_eq(ringo_is_active(AS_HANDLE(&a.t)), 1);
	ck_assert_int_eq(ringo_loop_alive(&loop), 0);
	t0 = test_mono_ms();
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_ONCE), 0);
	ck_assert_uint_lt(test_mono_ms() - t0, 500);
	ck_assert_int_eq(a.calls, 0);
	ck_assert_int_eq(ringo_is_active(AS_HANDLE(&a.t)), 1);

	/* Referenced again: the run lasts until it fired. */
	ringo_ref(AS_HANDLE(&a.t));
	ck_assert_int_eq(ringo_has_ref(AS_HANDLE(&a.t)), 1);
	ck_assert_int_eq(ringo_loop_alive(&loop), 1);
	base = base_ms();
	ck_assert_int_eq(ringo_timer_start(&a.t, count_cb, 20, 0), 0);
	run_fired(&a, 1);
	ck_assert_uint_ge(a.first_ms, base + 20);

	/* Unreferenced before start: never alive. An unreferenced repeating
	 * timer still fires while a referenced one keeps the loop going. */
	tt_init(&tick);
	ringo_unref(AS_HANDLE(&tick.t));
	ck_assert_int_eq(ringo_timer_start(&tick.t, count_cb, 2, 2), 0);
	ck_assert_int_eq(ringo_loop_alive(&loop), 0);
	base = base_ms();
	ck_assert_int_eq(ringo_timer_start(&a.t, count_cb, 30, 0), 0);
	run_fired(&a, 2);
	ck_assert_uint_ge(a.last_ms, base + 30);
	ck_assert_int_ge(tick.calls, 1);
	ck_assert_uint_le(tick.first_ms, a.last_ms);
	ck_assert_int_eq(ringo_is_active(AS_HANDLE(&tick.t)), 1);
	ck_assert_int_eq(ringo_loop_alive(&loop), 0);
	tt_close2(&a, &tick);
}
END_TEST

/* ======================================================================
 * The wait moves when deadlines change under it
 * ====================================================================== */

static struct ttimer wm_far, wm_near;
static struct treq wm_nop;
static uint64_t wm_base;
static int wm_stop_far;

static void wm_near_cb_stop_far(ringo_timer_t *t)
{
	record_fire(t);
	ck_assert_int_eq(ringo_timer_stop(&wm_far.t), 0);
}

/* Runs once the loop has begun waiting for wm_far. */
static void wm_nop_cb(ringo_raw_t *raw, int res, unsigned flags)
{
	record_cb(raw, res, flags);
	wm_base = base_ms();
	if (wm_stop_far) {
		ck_assert_int_eq(ringo_timer_stop(&wm_far.t), 0);
		ck_assert_int_eq(ringo_timer_start(&wm_near.t, count_cb, 60, 0), 0);
	} else {
		ck_assert_int_eq(ringo_timer_start(&wm_near.t, wm_near_cb_stop_far, 20, 0), 0);
	}
}

/*
 * An earlier deadline appears while the loop waits for a later one (without
 * EXT_ARG: the armed TIMEOUT op must be replaced by an earlier one).
 */
START_TEST(test_wait_earlier_deadline)
{
	REQUIRE_LOOP();
	tt_init(&wm_far);
	tt_init(&wm_near);
	ck_assert_int_eq(ringo_timer_start(&wm_far.t, count_cb, 2000, 0), 0);
	ck_assert_int_eq(ringo_nop(&loop, &wm_nop.raw, wm_nop_cb), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(wm_nop.calls, 1);
	ck_assert_int_eq(wm_near.calls, 1);
	ck_assert_int_eq(wm_far.calls, 0);
	ck_assert_uint_ge(wm_near.first_ms, wm_base + 20);
	ck_assert_uint_lt(wm_near.first_ms, wm_base + 1500);
	tt_close2(&wm_far, &wm_near);
}
END_TEST

/* The nearest deadline goes away while the loop waits for it. */
START_TEST(test_wait_nearest_stopped)
{
	REQUIRE_LOOP();
	tt_init(&wm_far);
	tt_init(&wm_near);
	wm_stop_far = 1;
	/* "far" is the near one here: 25 ms, stopped by the NOP's callback,
	 * which starts a 60 ms one. (25, not less: on a loaded machine the
	 * NOP's callback must still come before "far" is due.) */
	ck_assert_int_eq(ringo_timer_start(&wm_far.t, count_cb, 25, 0), 0);
	ck_assert_int_eq(ringo_nop(&loop, &wm_nop.raw, wm_nop_cb), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(wm_nop.calls, 1);
	ck_assert_int_eq(wm_far.calls, 0);
	ck_assert_int_eq(wm_near.calls, 1);
	ck_assert_uint_ge(wm_near.first_ms, wm_base + 60);
	tt_close2(&wm_far, &wm_near);
}
END_TEST

/* ======================================================================
 * Deadlines carried by the kernel: ringo_submit_timeout
 * ====================================================================== */

START_TEST(test_submit_timeout_expires)
{
	struct treq rd = { 0 };
	uint64_t t0;

	REQUIRE_LOOP();
	open_pipe();
	t0 = test_mono_ms();
	ck_assert_int_eq(start_read_timeout(&rd, 20), 0);
	ck_assert_int_eq(ringo_loop_alive(&loop), 1);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(rd.calls, 1);
	assert_res(&rd, -ETIMEDOUT);
	ck_assert_uint_eq(rd.flags, 0);
	ck_assert_uint_ge(rd.last_ms, t0 + 20);
	ck_assert_int_eq(ringo_cancel(AS_REQ(&rd.raw)), -ENOENT);
	/* The request is free again. */
	test_write_byte(pipe_fds[1], 'x');
	ck_assert_int_eq(start_read_timeout(&rd, 5000), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(rd.calls, 2);
	assert_res(&rd, 1);
	ck_assert_int_eq(rd.buf[0], 'x');
}
END_TEST

/* The op finishes first: its own result, once; the deadline is gone. */
START_TEST(test_submit_timeout_op_first)
{
	struct treq nop = { 0 }, rd = { 0 };
	struct ringo_loop_metrics m;

	REQUIRE_LOOP();
	open_pipe();
	ck_assert_int_eq(ringo_submit_timeout(&loop, &nop.raw, prep_nop, NULL, 20, record_cb), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(nop.calls, 1);
	assert_res(&nop, 0);
	ck_assert_uint_eq(nop.flags, 0);

	/* A read whose data arrives well before its deadline. */
	ck_assert_int_eq(start_read_timeout(&rd, 20), 0);
	ck_assert_int_gt(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	test_write_byte(pipe_fds[1], 'y');
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(rd.calls, 1);
	assert_res(&rd, 1);

	/* Past both deadlines: nothing more. */
	test_sleep_ms(30);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(nop.calls, 1);
	ck_assert_int_eq(rd.calls, 1);
	ck_assert_int_eq(ringo_loop_alive(&loop), 0);
	m = metrics();
	ck_assert_uint_eq(m.stale_cqes, 0);
}
END_TEST

START_TEST(test_submit_timeout_cancel)
{
	struct treq a = { 0 }, b = { 0 };
	uint64_t t0;

	REQUIRE_LOOP();
	open_pipe();
	t0 = test_mono_ms();
	/* Cancelled before the loop ever submitted it. */
	ck_assert_int_eq(start_read_timeout(&a, 1000), 0);
	ck_assert_int_eq(ringo_cancel(AS_REQ(&a.raw)), 0);
	/* Cancelled once in the kernel. */
	ck_assert_int_eq(start_read_timeout(&b, 1000), 0);
	ck_assert_int_gt(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	ck_assert_int_eq(b.calls, 0);
	ck_assert_int_eq(ringo_cancel(AS_REQ(&b.raw)), 0);
	ck_assert_int_eq(ringo_cancel(AS_REQ(&b.raw)), -EALREADY);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(a.calls, 1);
	assert_res(&a, -ECANCELED);
	ck_assert_int_eq(b.calls, 1);
	assert_res(&b, -ECANCELED);
	ck_assert_uint_lt(test_mono_ms() - t0, 900);
	ck_assert_int_eq(ringo_cancel(AS_REQ(&b.raw)), -ENOENT);
}
END_TEST

/*
 * SQ of 8 and 200 linked pairs queued before the loop runs: most wait in
 * the overflow queue, and each op must reach the SQ with its link timeout
 * (a pair split across two submits would lose the timeout and hang).
 */
START_TEST(test_submit_timeout_sq_pressure)
{
	const int n = 200;
	struct ringo_loop_metrics m;
	struct treq *rs;
	uint64_t t0;
	int i;

	REQUIRE_LOOP();
	reopen(8);
	open_pipe();
	rs = calloc((size_t)n, sizeof(*rs));
	ck_assert_ptr_nonnull(rs);
	t0 = test_mono_ms();
	for (i = 0; i < n; i++)
		ck_assert_int_eq(start_read_timeout(&rs[i], 30), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	for (i = 0; i < n; i++) {
		ck_assert_msg(rs[i].calls == 1, "read %d: %d callbacks", i, rs[i].calls);
		ck_assert_msg(rs[i].res == -ETIMEDOUT, "read %d: %s", i,
			      ringo_err_name(rs[i].res));
		ck_assert_uint_ge(rs[i].last_ms, t0 + 30);
	}
	m = metrics();
	ck_assert_uint_gt(m.sq_full_waits, 0);
	free(rs);
}
END_TEST

/*
 * Linked pairs cancelled while they wait in the overflow queue (their SQEs
 * staged outside the records): each cancelled op ends -ECANCELED once and
 * takes its link timeout with it; the others still time out. Two rounds
 * on the same requests, so staged SQEs freed by the first are reused.
 */
START_TEST(test_submit_timeout_cancel_queued)
{
	const int n = 24;
	struct ringo_loop_metrics m;
	struct treq *rs;
	int i, round;

	REQUIRE_LOOP();
	reopen(8);
	open_pipe();
	rs = calloc((size_t)n, sizeof(*rs));
	ck_assert_ptr_nonnull(rs);
	for (round = 1; round <= 2; round++) {
		for (i = 0; i < n; i++)
			ck_assert_int_eq(start_read_timeout(&rs[i], 20), 0);
		m = metrics();
		ck_assert_uint_gt(m.sq_full_waits, 0);
		for (i = 1; i < n; i += 2)
			ck_assert_int_eq(ringo_cancel(AS_REQ(&rs[i].raw)), 0);
		ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
		for (i = 0; i < n; i++) {
			ck_assert_msg(rs[i].calls == round, "read %d: %d callbacks", i, rs[i].calls);
			ck_assert_msg(rs[i].res == (i % 2 ? -ECANCELED : -ETIMEDOUT), "read %d: %s",
				      i, ringo_err_name(rs[i].res));
			ck_assert_int_eq(ringo_cancel(AS_REQ(&rs[i].raw)), -ENOENT);
		}
	}
	m = metrics();
	ck_assert_uint_eq(m.stale_cqes, 0);
	free(rs);
}
END_TEST

/* ======================================================================
 * Deadlines in the timer heap: ringo_deadline
 * ====================================================================== */

START_TEST(test_deadline_read)
{
	struct treq a = { 0 }, b = { 0 }, c = { 0 };
	uint64_t base;

	REQUIRE_LOOP();
	open_pipe();
	/* Set right after submit. */
	start_read(&a);
	base = base_ms();
	ck_assert_int_eq(ringo_deadline(AS_REQ(&a.raw), 20), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(a.calls, 1);
	assert_res(&a, -ETIMEDOUT);
	ck_assert_uint_eq(a.flags, 0);
	ck_assert_uint_ge(a.last_ms, base + 20);

	/* Set once the read is in the kernel, replacing a later one. */
	start_read(&b);
	ck_assert_int_gt(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	ck_assert_int_eq(ringo_deadline(AS_REQ(&b.raw), 5000), 0);
	base = base_ms();
	ck_assert_int_eq(ringo_deadline(AS_REQ(&b.raw), 20), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(b.calls, 1);
	assert_res(&b, -ETIMEDOUT);
	ck_assert_uint_ge(b.last_ms, base + 20);
	ck_assert_uint_lt(b.last_ms, base + 4000);

	/* 0 ms: due at the next iteration. */
	start_read(&c);
	ck_assert_int_eq(ringo_deadline(AS_REQ(&c.raw), 0), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(c.calls, 1);
	assert_res(&c, -ETIMEDOUT);
}
END_TEST

static struct treq dof_read;

static void dof_guard_cb(ringo_timer_t *t)
{
	record_fire(t);
	ck_assert_int_eq(ringo_cancel(AS_REQ(&dof_read.raw)), 0);
}

/* The read finishes first: its result; the deadline never fires later. */
START_TEST(test_deadline_op_first)
{
	struct ttimer guard;
	uint64_t base;

	REQUIRE_LOOP();
	open_pipe();
	start_read(&dof_read);
	ck_assert_int_eq(ringo_deadline(AS_REQ(&dof_read.raw), 20), 0);
	test_write_byte(pipe_fds[1], 'q');
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(dof_read.calls, 1);
	assert_res(&dof_read, 1);
	ck_assert_int_eq(dof_read.buf[0], 'q');

	/*
	 * The same request in flight again, past the old deadline: it must
	 * not be cut short by it. The guard cancels it at 40 ms, so a stale
	 * deadline would show as -ETIMEDOUT, before the guard.
	 */
	start_read(&dof_read);
	tt_init(&guard);
	base = base_ms();
	ck_assert_int_eq(ringo_timer_start(&guard.t, dof_guard_cb, 40, 0), 0);
	run_fired(&guard, 1);
	ck_assert_int_eq(dof_read.calls, 2);
	assert_res(&dof_read, -ECANCELED);
	ck_assert_uint_ge(dof_read.last_ms, base + 40);
	tt_close1(&guard);
}
END_TEST

/* The user's cancel wins over a pending deadline: -ECANCELED. */
START_TEST(test_deadline_then_cancel)
{
	struct treq a = { 0 };

	REQUIRE_LOOP();
	open_pipe();
	start_read(&a);
	ck_assert_int_eq(ringo_deadline(AS_REQ(&a.raw), 1000), 0);
	ck_assert_int_gt(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	ck_assert_int_eq(ringo_cancel(AS_REQ(&a.raw)), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(a.calls, 1);
	assert_res(&a, -ECANCELED);
}
END_TEST

/* A one-byte recv of a stream socket (rw_arg.fd). */
static int prep_recv1(struct ringo_sqe *sqe, void *arg)
{
	struct rw_arg *a = arg;

	ringo_prep_recv(sqe, a->fd, a->buf, a->len, 0);
	return 0;
}

/*
 * A recv on a socket whose peer never sends: -ETIMEDOUT, once, both from a
 * linked timeout and from a heap deadline; the socket is then as it was.
 */
START_TEST(test_deadline_recv)
{
	struct treq a = { 0 }, b = { 0 }, c = { 0 };
	struct rw_arg ra = { .len = 1 };
	uint64_t t0, base;
	int sv[2];

	REQUIRE_LOOP();
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	/* The teardown closes them as it closes the pipe. */
	pipe_fds[0] = sv[0];
	pipe_fds[1] = sv[1];
	ra.fd = sv[0];

	ra.buf = a.buf;
	t0 = test_mono_ms();
	ck_assert_int_eq(ringo_submit_timeout(&loop, &a.raw, prep_recv1, &ra, 20, record_cb), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(a.calls, 1);
	assert_res(&a, -ETIMEDOUT);
	ck_assert_uint_ge(a.last_ms, t0 + 20);

	ra.buf = b.buf;
	ck_assert_int_eq(ringo_submit(&loop, &b.raw, prep_recv1, &ra, record_cb), 0);
	ck_assert_int_gt(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	ck_assert_int_eq(b.calls, 0);
	base = base_ms();
	ck_assert_int_eq(ringo_deadline(AS_REQ(&b.raw), 20), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(b.calls, 1);
	assert_res(&b, -ETIMEDOUT);
	ck_assert_uint_ge(b.last_ms, base + 20);
	ck_assert_int_eq(ringo_deadline(AS_REQ(&b.raw), 20), -ENOENT);

	/* Nothing was consumed: a byte sent now is the next recv's. */
	test_write_byte(sv[1], 'r');
	ra.buf = c.buf;
	ck_assert_int_eq(ringo_submit_timeout(&loop, &c.raw, prep_recv1, &ra, 5000, record_cb), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(c.calls, 1);
	assert_res(&c, 1);
	ck_assert_int_eq(c.buf[0], 'r');
	ck_assert_int_eq(a.calls, 1);
	ck_assert_int_eq(b.calls, 1);
}
END_TEST

/* A NOP with a heap deadline: its own result, once; the deadline never
 * fires, and leaves nothing behind that keeps the loop alive. */
START_TEST(test_deadline_nop_first)
{
	struct treq nop = { 0 };
	struct ringo_loop_metrics m;

	REQUIRE_LOOP();
	ck_assert_int_eq(ringo_nop(&loop, &nop.raw, record_cb), 0);
	ck_assert_int_eq(ringo_deadline(AS_REQ(&nop.raw), 20), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(nop.calls, 1);
	assert_res(&nop, 0);
	ck_assert_int_eq(ringo_deadline(AS_REQ(&nop.raw), 20), -ENOENT);
	ck_assert_int_eq(ringo_loop_alive(&loop), 0);

	test_sleep_ms(30);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(nop.calls, 1);
	assert_res(&nop, 0);
	m = metrics();
	ck_assert_uint_eq(m.stale_cqes, 0);
}
END_TEST

START_TEST(test_deadline_multishot)
{
	int fd;
	struct treq p = { 0 };
	int i;

	REQUIRE_LOOP();
	if (!test_kernel_at_least(5, 13))
		TEST_SKIP("multishot poll needs Linux 5.13");
	open_pipe();
	fd = pipe_fds[0];
	test_write_byte(pipe_fds[1], 'm');
	ck_assert_int_eq(ringo_submit(&loop, &p.raw, prep_poll_multishot, &fd, record_cb), 0);
	for (i = 0; i < 100 && !p.calls; i++)
		ck_assert_int_gt(ringo_run(&loop, RINGO_RUN_ONCE), 0);
	ck_assert_int_eq(p.calls, 1);
	ck_assert(p.res & POLLIN);
	ck_assert_uint_ne(p.flags & RINGO_CQE_F_MORE, 0);

	ck_assert_int_eq(ringo_deadline(AS_REQ(&p.raw), 20), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(p.calls, 2);
	assert_res(&p, -ETIMEDOUT);
	ck_assert_uint_eq(p.flags & RINGO_CQE_F_MORE, 0);
	ck_assert_int_eq(ringo_deadline(AS_REQ(&p.raw), 20), -ENOENT);
}
END_TEST

START_TEST(test_deadline_errors)
{
	struct treq nop = { 0 }, rd = { 0 }, neg = { 0 };

	REQUIRE_LOOP();
	open_pipe();
	ck_assert_int_eq(ringo_deadline(NULL, 10), -EINVAL);

	/* Finished: not in flight. */
	ck_assert_int_eq(ringo_nop(&loop, &nop.raw, record_cb), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(nop.calls, 1);
	ck_assert_int_eq(ringo_deadline(AS_REQ(&nop.raw), 10), -ENOENT);

	/* A negative time is refused and changes nothing. */
	start_read(&rd);
	ck_assert_int_eq(ringo_deadline(AS_REQ(&rd.raw), -1), -EINVAL);
	ck_assert_int_eq(ringo_deadline(AS_REQ(&rd.raw), INT64_MIN), -EINVAL);
	ck_assert_int_gt(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	ck_assert_int_eq(rd.calls, 0);
	ck_assert_int_eq(ringo_cancel(AS_REQ(&rd.raw)), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(rd.calls, 1);
	assert_res(&rd, -ECANCELED);
	ck_assert_int_eq(ringo_deadline(AS_REQ(&rd.raw), 10), -ENOENT);

	/* ringo_submit_timeout with a negative time: refused, no callback. */
	ck_assert_int_eq(start_read_timeout(&neg, -1), -EINVAL);
	ck_assert_int_eq(ringo_submit_timeout(&loop, &neg.raw, prep_nop, NULL, -5, record_cb),
			 -EINVAL);
	ck_assert_int_eq(ringo_loop_alive(&loop), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(neg.calls, 0);
}
END_TEST

/* ======================================================================
 * Bad arguments
 * ====================================================================== */

START_TEST(test_bad_arguments)
{
	ringo_loop_t never_init;
	struct ttimer a;

	REQUIRE_LOOP();
	memset(&never_init, 0, sizeof(never_init));
	memset(&a, 0, sizeof(a));
	ck_assert_int_eq(ringo_timer_init(NULL, &a.t), -EINVAL);
	ck_assert_int_eq(ringo_timer_init(&loop, NULL), -EINVAL);
	ck_assert_int_eq(ringo_timer_init(&never_init, &a.t), -EINVAL);

	ck_assert_int_eq(ringo_timer_start(NULL, count_cb, 1, 0), -EINVAL);
	ck_assert_int_eq(ringo_timer_stop(NULL), -EINVAL);
	ck_assert_int_eq(ringo_timer_again(NULL), -EINVAL);
	ck_assert_int_eq(ringo_timer_set_repeat(NULL, 1), -EINVAL);
	ck_assert_uint_eq(ringo_timer_get_repeat(NULL), 0);
	ck_assert_uint_eq(ringo_timer_get_due_in(NULL), 0);

	tt_init(&a);
	/* A stopped timer stops fine, any number of times. */
	ck_assert_int_eq(ringo_timer_stop(&a.t), 0);
	ck_assert_int_eq(ringo_timer_stop(&a.t), 0);
	ck_assert_int_eq(ringo_timer_start(&a.t, NULL, 1, 0), -EINVAL);
	ck_assert_int_eq(ringo_timer_start(&a.t, count_cb, -1, 0), -EINVAL);
	ck_assert_int_eq(ringo_timer_start(&a.t, count_cb, 1, -1), -EINVAL);
	ck_assert_int_eq(ringo_timer_start(&a.t, count_cb, INT64_MIN, 0), -EINVAL);
	ck_assert_int_eq(ringo_is_active(AS_HANDLE(&a.t)), 0);
	ck_assert_int_eq(ringo_loop_alive(&loop), 0);

	/* Refused restarts leave an active timer as it was. */
	ck_assert_int_eq(ringo_timer_start(&a.t, count_cb, 5, 0), 0);
	ck_assert_int_eq(ringo_timer_start(&a.t, count_cb, -1, 0), -EINVAL);
	ck_assert_int_eq(ringo_is_active(AS_HANDLE(&a.t)), 1);
	ck_assert_uint_eq(ringo_timer_get_due_in(&a.t), 5);
	ck_assert_int_eq(ringo_timer_stop(&a.t), 0);
	ck_assert_int_eq(ringo_timer_stop(&a.t), 0);
	ck_assert_int_eq(ringo_is_active(AS_HANDLE(&a.t)), 0);

	/* Closing: start, again and set_repeat are refused; close twice too. */
	ck_assert_int_eq(ringo_timer_start(&a.t, count_cb, 5, 5), 0);
	ck_assert_int_eq(ringo_close(AS_HANDLE(&a.t), close_count_cb), 0);
	ck_assert_int_eq(ringo_close(AS_HANDLE(&a.t), close_count_cb), -EALREADY);
	ck_assert_int_eq(ringo_timer_start(&a.t, count_cb, 1, 0), -EINVAL);
	ck_assert_int_eq(ringo_timer_again(&a.t), -EINVAL);
	ck_assert_int_eq(ringo_timer_set_repeat(&a.t, 1), -EINVAL);
	ck_assert_int_eq(ringo_timer_stop(&a.t), 0);
	ck_assert_int_eq(ringo_is_active(AS_HANDLE(&a.t)), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(a.closes, 1);
	ck_assert_int_eq(a.calls, 0);
	/* Closed: still refused. */
	ck_assert_int_eq(ringo_timer_start(&a.t, count_cb, 1, 0), -EINVAL);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(a.closes, 1);
}
END_TEST

/* Every timer call on `t`, which is not an initialised timer: refused,
 * nothing followed through its (garbage) loop pointer. */
static void assert_not_a_timer(ringo_timer_t *t)
{
	ck_assert_int_eq(ringo_timer_start(t, count_cb, 1, 0), -EINVAL);
	ck_assert_int_eq(ringo_timer_stop(t), -EINVAL);
	ck_assert_int_eq(ringo_timer_again(t), -EINVAL);
	ck_assert_int_eq(ringo_timer_set_repeat(t, 1), -EINVAL);
	ck_assert_uint_eq(ringo_timer_get_repeat(t), 0);
	ck_assert_uint_eq(ringo_timer_get_due_in(t), 0);
}

/* ... and not a handle at all: the generic calls refuse it too. */
static void assert_not_a_handle(ringo_timer_t *t)
{
	assert_not_a_timer(t);
	ck_assert_int_eq(ringo_close(AS_HANDLE(t), close_count_cb), -EINVAL);
	ck_assert_int_eq(ringo_is_active(AS_HANDLE(t)), 0);
}

/* A closing or closed timer: only stop is accepted; repeat and due-in
 * read 0. */
static void assert_closing_timer(struct ttimer *tt, int close_ret)
{
	ck_assert_int_eq(ringo_timer_start(&tt->t, count_cb, 1, 0), -EINVAL);
	ck_assert_int_eq(ringo_timer_again(&tt->t), -EINVAL);
	ck_assert_int_eq(ringo_timer_set_repeat(&tt->t, 1), -EINVAL);
	ck_assert_uint_eq(ringo_timer_get_repeat(&tt->t), 0);
	ck_assert_uint_eq(ringo_timer_get_due_in(&tt->t), 0);
	ck_assert_int_eq(ringo_close(AS_HANDLE(&tt->t), close_count_cb), close_ret);
	ck_assert_int_eq(ringo_timer_stop(&tt->t), 0);
	ck_assert_int_eq(ringo_is_active(AS_HANDLE(&tt->t)), 0);
}

static void async_noop_cb(ringo_async_t *h)
{
	(void)h;
}

/*
 * NULL, never-initialised memory (zeroed or poisoned), a handle of another
 * type, a closing timer and a closed one, through every timer call; and
 * the repeat's range.
 */
START_TEST(test_bad_timer_handles)
{
	static const int fills[] = { 0x00, 0xaa, 0xff };
	union {
		ringo_timer_t t;
		ringo_async_t async;
	} other;
	ringo_timer_t raw;
	struct ttimer a;
	size_t i;

	REQUIRE_LOOP();
	ck_assert_int_eq(ringo_timer_start(NULL, count_cb, 1, 0), -EINVAL);
	ck_assert_int_eq(ringo_timer_stop(NULL), -EINVAL);
	ck_assert_int_eq(ringo_timer_again(NULL), -EINVAL);
	ck_assert_int_eq(ringo_timer_set_repeat(NULL, 1), -EINVAL);
	ck_assert_uint_eq(ringo_timer_get_repeat(NULL), 0);
	ck_assert_uint_eq(ringo_timer_get_due_in(NULL), 0);
	ck_assert_int_eq(ringo_close(NULL, NULL), -EINVAL);

	for (i = 0; i < sizeof(fills) / sizeof(fills[0]); i++) {
		memset(&raw, fills[i], sizeof(raw));
		assert_not_a_handle(&raw);
	}

	memset(&other, 0, sizeof(other));
	ck_assert_int_eq(ringo_async_init(&loop, &other.async, async_noop_cb), 0);
	assert_not_a_timer(&other.t);
	ck_assert_int_eq(ringo_close(AS_HANDLE(&other.async), NULL), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(ringo_loop_alive(&loop), 0);

	/* The repeat's range: all of int64_t but the negatives. */
	tt_init(&a);
	ck_assert_int_eq(ringo_timer_start(&a.t, count_cb, 5, INT64_MIN), -EINVAL);
	ck_assert_int_eq(ringo_is_active(AS_HANDLE(&a.t)), 0);
	ck_assert_int_eq(ringo_timer_start(&a.t, count_cb, 5, INT64_MAX), 0);
	ck_assert_uint_eq(ringo_timer_get_repeat(&a.t), (uint64_t)INT64_MAX);
	ck_assert_int_eq(ringo_timer_set_repeat(&a.t, INT64_MIN), -EINVAL);
	ck_assert_uint_eq(ringo_timer_get_repeat(&a.t), (uint64_t)INT64_MAX);
	/* again with it: due in INT64_MAX ms ("never"), still active. */
	ck_assert_int_eq(ringo_timer_again(&a.t), 0);
	ck_assert_uint_eq(ringo_timer_get_due_in(&a.t), (uint64_t)INT64_MAX);
	ck_assert_int_eq(ringo_is_active(AS_HANDLE(&a.t)), 1);
	ck_assert_int_eq(ringo_timer_set_repeat(&a.t, ((int64_t)1 << 40) + 3), 0);
	ck_assert_uint_eq(ringo_timer_get_repeat(&a.t), ((uint64_t)1 << 40) + 3);
	ck_assert_int_eq(ringo_timer_set_repeat(&a.t, 7), 0);

	/* Closing, then closed. */
	ck_assert_int_eq(ringo_close(AS_HANDLE(&a.t), close_count_cb), 0);
	assert_closing_timer(&a, -EALREADY);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(a.closes, 1);
	assert_closing_timer(&a, -EINVAL);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(a.calls, 0);
	ck_assert_int_eq(a.closes, 1);
}
END_TEST

/* ---- Suite ------------------------------------------------------------ */

static void reset_state(void)
{
	seq_counter = 0;
	order_log = NULL;
	order_deadline = NULL;
	order_fired = order_cap = order_early = 0;
	model = NULL;
	model_log = NULL;
	model_fired = model_cap = 0;
	rezero_errors = 0;
	memset(&chain_a, 0, sizeof(chain_a));
	memset(&chain_b, 0, sizeof(chain_b));
	rep_calls = rep_limit = 0;
	rep_sleep_first = 0;
	memset(rep_now, 0, sizeof(rep_now));
	memset(rep_mono, 0, sizeof(rep_mono));
	memset(rep_next, 0, sizeof(rep_next));
	memset(&sr_timer, 0, sizeof(sr_timer));
	memset(&pair_a, 0, sizeof(pair_a));
	memset(&pair_b, 0, sizeof(pair_b));
	restart_base = 0;
	memset(&cs_timer, 0, sizeof(cs_timer));
	memset(&again_a, 0, sizeof(again_a));
	memset(&again_b, 0, sizeof(again_b));
	again_now = 0;
	cs_close_in_cb = -1;
	many_fired = many_closed = many_disorder = many_early = many_close_errors = 0;
	many_base = many_last_deadline = 0;
	many_last_index = 0;
	memset(&wm_far, 0, sizeof(wm_far));
	memset(&wm_near, 0, sizeof(wm_near));
	memset(&wm_nop, 0, sizeof(wm_nop));
	memset(&dof_read, 0, sizeof(dof_read));
	wm_base = 0;
	wm_stop_far = 0;
}

/* The tests whose outcome depends on how the loop waits: run on both paths. */
static void add_timed(TCase *tc)
{
	tcase_add_test(tc, test_wait_path);
	tcase_add_test(tc, test_run_once_runs_timer_it_waited_for);
	tcase_add_test(tc, test_run_once_due_timer_still_waits);

	tcase_add_test(tc, test_order_random);
	tcase_add_test(tc, test_order_random_ops);
	tcase_add_test(tc, test_order_ties_restart);
	tcase_add_test(tc, test_zero_timeout_next_iteration);
	tcase_add_test(tc, test_zero_timeout_restart_no_spin);
	tcase_add_test(tc, test_zero_timeout_started_by_callback);

	tcase_add_test(tc, test_repeat_no_drift);
	tcase_add_test(tc, test_repeat_fell_behind);
	tcase_add_test(tc, test_set_repeat);

	tcase_add_test(tc, test_cb_stops_self);
	tcase_add_test(tc, test_cb_stops_other_due);
	tcase_add_test(tc, test_cb_restarts_self);
	tcase_add_test(tc, test_start_active_restarts);
	tcase_add_test(tc, test_cb_closes_self);
	tcase_add_test(tc, test_cb_closes_other_due);
	tcase_add_test(tc, test_close_active);
	tcase_add_test(tc, test_again);
	tcase_add_test(tc, test_cb_again);
	tcase_add_test(tc, test_due_in);

	tcase_add_test(tc, test_many_timers);
	tcase_add_test(tc, test_unref_ref);
	tcase_add_test(tc, test_wait_earlier_deadline);
	tcase_add_test(tc, test_wait_nearest_stopped);

	tcase_add_test(tc, test_submit_timeout_expires);
	tcase_add_test(tc, test_submit_timeout_op_first);
	tcase_add_test(tc, test_submit_timeout_cancel);
	tcase_add_test(tc, test_submit_timeout_sq_pressure);
	tcase_add_test(tc, test_submit_timeout_cancel_queued);
	tcase_add_test(tc, test_deadline_read);
	tcase_add_test(tc, test_deadline_op_first);
	tcase_add_test(tc, test_deadline_then_cancel);
	tcase_add_test(tc, test_deadline_recv);
	tcase_add_test(tc, test_deadline_nop_first);
	tcase_add_test(tc, test_deadline_multishot);
}

static Suite *suite(void)
{
	Suite *s = suite_create("timer");
	TCase *ext = test_tcase(s, "ext_arg", setup_ext_arg, teardown, 60);
	TCase *no_ext = test_tcase(s, "no_ext_arg", setup_no_ext_arg, teardown, 60);
	TCase *args = test_tcase(s, "args", setup_ext_arg, teardown, 60);

	add_timed(ext);
	add_timed(no_ext);

	tcase_add_test(args, test_deadline_errors);
	tcase_add_test(args, test_bad_arguments);
	tcase_add_test(args, test_bad_timer_handles);
	return s;
}

int main(void)
{
	return test_main(suite());
}
