/* SPDX-License-Identifier: MIT */
/*
 * Cross-thread wake-ups and the work pool. Async handles: sends from many
 * threads coalesce but are never lost (the last send is always delivered),
 * callbacks run on the loop thread, a handle may close itself or another
 * from a callback, a closing handle refuses sends and drops pending ones,
 * and an unreferenced handle does not keep the loop running. Work pool:
 * every work_cb runs exactly once on a pool thread and every after_cb
 * exactly once on the loop thread, cancellation before start reports
 * -ECANCELED and after start -EBUSY/-ENOENT, the pool size option and
 * $RINGO_THREADPOOL_SIZE bound concurrency exactly, and the loop refuses
 * to close while work is outstanding.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"

static ringo_loop_t loop;
static int loop_ret;		/* ringo_loop_init's result for this test */
static pthread_t loop_thread;	/* the thread that runs the loop */

static void sleep_us(long us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

/* Outside CI a machine without io_uring skips; anywhere else init must work. */
#define NEED_LOOP() TEST_NEED_LOOP(loop_ret)

/* ---- a gate that pool threads wait at until the test opens it ---------- */

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int open;
} gate = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };

static void gate_wait(void)
{
	pthread_mutex_lock(&gate.mu);
	while (!gate.open)
		pthread_cond_wait(&gate.cv, &gate.mu);
	pthread_mutex_unlock(&gate.mu);
}

static void gate_set(int open)
{
	pthread_mutex_lock(&gate.mu);
	gate.open = open;
	pthread_cond_broadcast(&gate.cv);
	pthread_mutex_unlock(&gate.mu);
}

static void reset_counters(void);

static void setup(void)
{
	reset_counters();
	memset(&loop, 0, sizeof(loop));
	loop_ret = test_loop_init(&loop, NULL);
	loop_thread = pthread_self();
	gate_set(0);
}

static void teardown(void)
{
	/* Never leave a pool thread parked at the gate. */
	gate_set(1);
	if (loop_ret == 0)
		ck_assert_int_eq(ringo_loop_close(&loop), 0);
}

/* Replace the fixture's loop with one made from `opts`. */
static void reinit(const struct ringo_loop_opts *opts)
{
	ck_assert_int_eq(ringo_loop_close(&loop), 0);
	loop_ret = ringo_loop_init(&loop, opts);
	ck_assert_msg(loop_ret == 0, "ringo_loop_init: %s", ringo_err_name(loop_ret));
}

/* ======================================================================
 * Async handles
 * ====================================================================== */

static unsigned long async_calls;	/* loop thread only */
static unsigned long async_wrong_thread;
static unsigned close_calls;

static void count_close_cb(ringo_handle_t *h)
{
	ck_assert_int_eq(ringo_is_active(h), 0);
	close_calls++;
}

static void count_cb(ringo_async_t *h)
{
	(void)h;
	if (!pthread_equal(pthread_self(), loop_thread))
		__atomic_add_fetch(&async_wrong_thread, 1, __ATOMIC_SEQ_CST);
	async_calls++;
}

/* ---- many threads sending --------------------------------------------- */

#define SENDERS 4

static unsigned long sends_per_thread;
static unsigned long sent;		/* atomic: bumped before every send */
static unsigned long seen;		/* `sent` as the last callback read it */
static unsigned long seen_backwards;	/* callbacks that read a smaller `sent` */
static int senders_done;		/* atomic */
static int send_errors;			/* atomic */

static void seen_cb(ringo_async_t *h)
{
	unsigned long v = __atomic_load_n(&sent, __ATOMIC_SEQ_CST);

	count_cb(h);
	if (v < seen)
		seen_backwards++;
	seen = v;
}

static void send_one(ringo_async_t *h)
{
	__atomic_add_fetch(&sent, 1, __ATOMIC_SEQ_CST);
	if (ringo_async_send(h) != 0)
		__atomic_add_fetch(&send_errors, 1, __ATOMIC_SEQ_CST);
}

static void *sender(void *arg)
{
	unsigned long i;

	for (i = 0; i < sends_per_thread; i++)
		send_one(arg);
	/* Done first, then one more send: the loop thread waiting for
	 * "all done" is then always woken after it can see it. */
	__atomic_add_fetch(&senders_done, 1, __ATOMIC_SEQ_CST);
	send_one(arg);
	return NULL;
}

START_TEST(test_async_threads)
{
	pthread_t threads[SENDERS];
	unsigned long total;
	ringo_async_t h;
	int64_t deadline;
	int i;

	NEED_LOOP();
	sends_per_thread = TEST_SIZE(100000, 10000);
	total = SENDERS * (sends_per_thread + 1);
	memset(&h, 0, sizeof(h));
	ck_assert_int_eq(ringo_async_init(&loop, &h, seen_cb), 0);
	ck_assert_int_eq(ringo_is_active((ringo_handle_t *)&h), 1);
	for (i = 0; i < SENDERS; i++)
		ck_assert_int_eq(pthread_create(&threads[i], NULL, sender, &h), 0);
	while (__atomic_load_n(&senders_done, __ATOMIC_SEQ_CST) < SENDERS)
		ck_assert_int_gt(ringo_run(&loop, RINGO_RUN_ONCE), 0);
	for (i = 0; i < SENDERS; i++)
		ck_assert_int_eq(pthread_join(threads[i], NULL), 0);

	/* No lost wake-up: some callback after the last send sees it. */
	deadline = test_now_ns() + 5000000000LL;
	while (seen < total) {
		ck_assert_msg(test_now_ns() < deadline,
			      "last send lost: callback saw %lu of %lu sends", seen, total);
		ck_assert_int_gt(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
		if (seen < total)
			sleep_us(1000);
	}
	ck_assert_uint_eq(seen, total);
	ck_assert_uint_ge(async_calls, 1);
	ck_assert_uint_le(async_calls, total);
	ck_assert_uint_eq(async_wrong_thread, 0);
	ck_assert_uint_eq(seen_backwards, 0);
	ck_assert_int_eq(send_errors, 0);

	ck_assert_int_eq(ringo_close((ringo_handle_t *)&h, count_close_cb), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_uint_eq(close_calls, 1);
}
END_TEST

/* ---- coalescing ------------------------------------------------------- */

START_TEST(test_async_coalesce)
{
	ringo_async_t h;
	int i;

	NEED_LOOP();
	memset(&h, 0, sizeof(h));
	ck_assert_int_eq(ringo_async_init(&loop, &h, count_cb), 0);
	for (i = 0; i < 1000; i++)
		ck_assert_int_eq(ringo_async_send(&h), 0);
	/* Never inline from the send. */
	ck_assert_uint_eq(async_calls, 0);
	ck_assert_int_gt(ringo_run(&loop, RINGO_RUN_ONCE), 0);
	ck_assert_uint_eq(async_calls, 1);
	for (i = 0; i < 3; i++)
		ck_assert_int_gt(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	ck_assert_uint_eq(async_calls, 1);

	/* A send after the callback ran is a new wake-up. */
	ck_assert_int_eq(ringo_async_send(&h), 0);
	ck_assert_int_gt(ringo_run(&loop, RINGO_RUN_ONCE), 0);
	ck_assert_uint_eq(async_calls, 2);
	ck_assert_uint_eq(async_wrong_thread, 0);

	ck_assert_int_eq(ringo_close((ringo_handle_t *)&h, count_close_cb), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_uint_eq(close_calls, 1);
	ck_assert_uint_eq(async_calls, 2);
}
END_TEST

/* ---- closing ---------------------------------------------------------- */

static void close_self_cb(ringo_async_t *h)
{
	ringo_handle_t *hh = (ringo_handle_t *)h;

	count_cb(h);
	ck_assert_int_eq(ringo_close(hh, count_close_cb), 0);
	ck_assert_int_eq(ringo_is_closing(hh), 1);
	ck_assert_int_eq(ringo_is_active(hh), 0);
	ck_assert_int_eq(ringo_async_send(h), -EINVAL);
	ck_assert_int_eq(ringo_close(hh, count_close_cb), -EALREADY);
	/* close_cb never runs inline from ringo_close. */
	ck_assert_uint_eq(close_calls, 0);
}

START_TEST(test_async_close_in_cb)
{
	ringo_async_t h;

	NEED_LOOP();
	memset(&h, 0, sizeof(h));
	ck_assert_int_eq(ringo_async_init(&loop, &h, close_self_cb), 0);
	ck_assert_int_eq(ringo_async_send(&h), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_uint_eq(async_calls, 1);
	ck_assert_uint_eq(close_calls, 1);
	ck_assert_int_eq(ringo_loop_alive(&loop), 0);
	/* Closed for good: the memory is ours, sends are refused. */
	ck_assert_int_eq(ringo_async_send(&h), -EINVAL);
	ck_assert_int_eq(ringo_is_closing((ringo_handle_t *)&h), 1);
}
END_TEST

START_TEST(test_async_send_closing)
{
	ringo_async_t h;

	NEED_LOOP();
	memset(&h, 0, sizeof(h));
	ck_assert_int_eq(ringo_async_init(&loop, &h, count_cb), 0);
	/* A send already made when the handle closes is dropped. */
	ck_assert_int_eq(ringo_async_send(&h), 0);
	ck_assert_int_eq(ringo_close((ringo_handle_t *)&h, count_close_cb), 0);
	ck_assert_int_eq(ringo_async_send(&h), -EINVAL);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_uint_eq(close_calls, 1);
	ck_assert_uint_eq(async_calls, 0);
	ck_assert_int_eq(ringo_async_send(&h), -EINVAL);
}
END_TEST

/* Whichever of the pair runs first closes both: the other never runs. */
static ringo_async_t pair[2];

static void close_pair_cb(ringo_async_t *h)
{
	int i;

	count_cb(h);
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(ringo_close((ringo_handle_t *)&pair[i], count_close_cb), 0);
}

START_TEST(test_async_close_other)
{
	int i;

	NEED_LOOP();
	memset(pair, 0, sizeof(pair));
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(ringo_async_init(&loop, &pair[i], close_pair_cb), 0);
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(ringo_async_send(&pair[i]), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_uint_eq(async_calls, 1);
	ck_assert_uint_eq(close_calls, 2);
}
END_TEST

START_TEST(test_async_bad_args)
{
	ringo_loop_t zero;
	ringo_async_t h;

	NEED_LOOP();
	memset(&zero, 0, sizeof(zero));
	memset(&h, 0, sizeof(h));
	ck_assert_int_eq(ringo_async_init(NULL, &h, count_cb), -EINVAL);
	ck_assert_int_eq(ringo_async_init(&loop, NULL, count_cb), -EINVAL);
	ck_assert_int_eq(ringo_async_init(&loop, &h, NULL), -EINVAL);
	ck_assert_int_eq(ringo_async_init(&zero, &h, count_cb), -EINVAL);
	ck_assert_int_eq(ringo_async_send(NULL), -EINVAL);
	/* Never initialised. */
	ck_assert_int_eq(ringo_async_send(&h), -EINVAL);
	/* Failed inits left nothing behind. */
	ck_assert_int_eq(ringo_loop_alive(&loop), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_uint_eq(async_calls, 0);
}
END_TEST

START_TEST(test_async_unref)
{
	ringo_handle_t *hh;
	ringo_async_t h;
	int64_t t0;

	NEED_LOOP();
	memset(&h, 0, sizeof(h));
	hh = (ringo_handle_t *)&h;
	ck_assert_int_eq(ringo_async_init(&loop, &h, count_cb), 0);
	ck_assert_int_eq(ringo_has_ref(hh), 1);
	ck_assert_int_eq(ringo_loop_alive(&loop), 1);
	ringo_unref(hh);
	ringo_unref(hh); /* idempotent */
	ck_assert_int_eq(ringo_has_ref(hh), 0);
	ck_assert_int_eq(ringo_is_active(hh), 1);
	ck_assert_int_eq(ringo_loop_alive(&loop), 0);

	t0 = test_now_ns();
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(ringo_async_send(&h), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_msg(test_now_ns() - t0 < 1000000000LL, "unref'ed async kept the loop running");

	/* Referenced again, the earlier send is delivered. */
	ringo_ref(hh);
	ck_assert_int_eq(ringo_has_ref(hh), 1);
	ck_assert_int_eq(ringo_loop_alive(&loop), 1);
	ck_assert_int_gt(ringo_run(&loop, RINGO_RUN_ONCE), 0);
	ck_assert_uint_eq(async_calls, 1);

	/* Closing an unref'ed handle still runs its close_cb. */
	ringo_unref(hh);
	ck_assert_int_eq(ringo_close(hh, count_close_cb), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_uint_eq(close_calls, 1);
	ck_assert_uint_eq(async_wrong_thread, 0);
}
END_TEST

/* ======================================================================
 * Work pool
 * ====================================================================== */

#define NOT_TRIED 1 /* cancel_ret before any ringo_cancel */

struct job {
	ringo_work_t req;
	int work_calls;		/* atomic */
	int work_on_loop;	/* atomic: work_cb ran on the loop thread */
	int after_calls;
	int after_off_loop;	/* after_cb ran on another thread */
	int status;		/* after_cb's status */
	int cancel_ret;		/* NOT_TRIED, or what ringo_cancel said */
	int enoent_early;	/* -ENOENT before after_cb had run */
	int started;		/* atomic: work_cb began */
	int finished;		/* atomic: work_cb returned */
};

static int running, max_running; /* atomic: work_cbs in progress, and the peak */

static void track_enter(void)
{
	int now = __atomic_add_fetch(&running, 1, __ATOMIC_SEQ_CST);
	int max = __atomic_load_n(&max_running, __ATOMIC_SEQ_CST);

	while (now > max && !__atomic_compare_exchange_n(&max_running, &max, now, false,
							 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		;
}

static void track_leave(void)
{
	__atomic_sub_fetch(&running, 1, __ATOMIC_SEQ_CST);
}

static struct job *job_of(ringo_work_t *req)
{
	return (struct job *)req;
}

static void job_work_begin(struct job *j)
{
	__atomic_add_fetch(&j->work_calls, 1, __ATOMIC_SEQ_CST);
	if (pthread_equal(pthread_self(), loop_thread))
		__atomic_add_fetch(&j->work_on_loop, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&j->started, 1, __ATOMIC_SEQ_CST);
}

static void job_after_record(struct job *j, int status)
{
	if (!pthread_equal(pthread_self(), loop_thread))
		j->after_off_loop++;
	j->after_calls++;
	j->status = status;
}

/* Waits at the gate: lets a test hold requests in the pool's queue. */
static void gated_work(ringo_work_t *req)
{
	struct job *j = job_of(req);

	job_work_begin(j);
	track_enter();
	gate_wait();
	track_leave();
	__atomic_store_n(&j->finished, 1, __ATOMIC_SEQ_CST);
}

static void plain_after(ringo_work_t *req, int status)
{
	job_after_record(job_of(req), status);
}

static void wait_flag(int *flag, const char *what)
{
	int64_t deadline = test_now_ns() + 5000000000LL;

	while (!__atomic_load_n(flag, __ATOMIC_SEQ_CST)) {
		ck_assert_msg(test_now_ns() < deadline, "timed out waiting for %s", what);
		sleep_us(100);
	}
}

/* ---- random cancels over many requests -------------------------------- */

static struct job *jobs;
static unsigned njobs;
static unsigned rnd_seed;
static unsigned late_cancels[3]; /* 0, -EBUSY, -ENOENT from inside after_cb */

/* From after_cb: cancel one other request that was never tried. */
static void cancel_some_other(void)
{
	struct job *t = &jobs[rand_r(&rnd_seed) % njobs];
	int ret;

	if (t->cancel_ret != NOT_TRIED)
		return;
	ret = ringo_cancel((ringo_req_t *)&t->req);
	t->cancel_ret = ret;
	if (ret == 0)
		late_cancels[0]++;
	else if (ret == -EBUSY)
		late_cancels[1]++;
	else if (ret == -ENOENT) {
		late_cancels[2]++;
		if (t->after_calls != 1)
			t->enoent_early = 1;
	}
}

static void random_after(ringo_work_t *req, int status)
{
	job_after_record(job_of(req), status);
	/* The loop is running: it refuses to close from a callback. */
	if (req == &jobs[0].req)
		ck_assert_int_eq(ringo_loop_close(&loop), -EBUSY);
	if (rand_r(&rnd_seed) % 4 == 0)
		cancel_some_other();
}

START_TEST(test_work_random_cancel)
{
	unsigned i, seed = 12345, early_ok = 0, early_busy = 0, cancelled = 0;
	int ret;

	NEED_LOOP();
	njobs = TEST_SIZE(10000, 2000);
	rnd_seed = 54321;
	jobs = calloc(njobs, sizeof(*jobs));
	ck_assert_ptr_nonnull(jobs);
	for (i = 0; i < njobs; i++) {
		jobs[i].cancel_ret = NOT_TRIED;
		ret = ringo_work_queue(&loop, &jobs[i].req, gated_work, random_after);
		ck_assert_int_eq(ret, 0);
		ck_assert_int_eq(jobs[i].req.type, RINGO_REQ_WORK);
		ck_assert_ptr_eq(jobs[i].req.loop, &loop);
	}
	ck_assert_int_eq(ringo_loop_close(&loop), -EBUSY);

	/* With the gate shut only the requests at the gate have started. */
	for (i = 0; i < njobs; i++) {
		if (rand_r(&seed) % 3)
			continue;
		ret = ringo_cancel((ringo_req_t *)&jobs[i].req);
		jobs[i].cancel_ret = ret;
		ck_assert_msg(ret == 0 || ret == -EBUSY, "cancel #%u: %s", i, ringo_err_name(ret));
		if (ret == 0)
			early_ok++;
		else
			early_busy++;
		/* A cancelled request completes from the loop, never inline. */
		ck_assert_int_eq(jobs[i].after_calls, 0);
	}
	ck_assert_uint_gt(early_ok, 0);
	ck_assert_uint_le(early_busy, 4);

	gate_set(1);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);

	for (i = 0; i < njobs; i++) {
		struct job *j = &jobs[i];

		ck_assert_msg(j->after_calls == 1, "#%u: after_cb ran %d times", i, j->after_calls);
		ck_assert_int_eq(j->after_off_loop, 0);
		ck_assert_int_eq(j->work_on_loop, 0);
		ck_assert_msg(j->status == 0 || j->status == -ECANCELED, "#%u: status %s", i,
			      ringo_err_name(j->status));
		/* work_cb ran exactly once unless the cancel caught it. */
		ck_assert_int_eq(j->work_calls, j->status == 0 ? 1 : 0);
		switch (j->cancel_ret) {
		case 0:
			ck_assert_msg(j->status == -ECANCELED, "#%u cancelled, status %s", i,
				      ringo_err_name(j->status));
			cancelled++;
			break;
		case -EBUSY:
			ck_assert_msg(j->status == 0, "#%u busy, status %s", i,
				      ringo_err_name(j->status));
			break;
		case -ENOENT:
			ck_assert_msg(!j->enoent_early, "#%u: -ENOENT before after_cb", i);
			break;
		case NOT_TRIED:
			ck_assert_int_eq(j->status, 0);
			break;
		default:
			ck_abort_msg("#%u: cancel said %s", i, ringo_err_name(j->cancel_ret));
		}
	}
	ck_assert_uint_eq(cancelled, early_ok + late_cancels[0]);
	ck_assert_int_eq(running, 0);
	free(jobs);
	jobs = NULL;
}
END_TEST

/* ---- cancel in each state, with a pool of one ------------------------- */

/* A pool of one thread: a runs (held at the gate), b waits in the queue. */
static void one_running_one_queued(struct job *a, struct job *b)
{
	struct ringo_loop_opts opts;

	ringo_loop_opts_init(&opts);
	opts.threadpool_size = 1;
	reinit(&opts);
	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	ck_assert_int_eq(ringo_work_queue(&loop, &a->req, gated_work, plain_after), 0);
	ck_assert_int_eq(ringo_work_queue(&loop, &b->req, gated_work, plain_after), 0);
	wait_flag(&a->started, "the first request to start");
}

/* Open the gate and run to the end: b, cancelled in the queue, never ran. */
static void run_cancelled_queued(struct job *b)
{
	gate_set(1);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(b->after_calls, 1);
	ck_assert_int_eq(b->status, -ECANCELED);
	ck_assert_int_eq(b->work_calls, 0);
}

START_TEST(test_work_cancel_states)
{
	struct job a, b;

	NEED_LOOP();
	one_running_one_queued(&a, &b);

	ck_assert_int_eq(ringo_cancel((ringo_req_t *)&a.req), -EBUSY);
	ck_assert_int_eq(ringo_cancel((ringo_req_t *)&b.req), 0);
	ck_assert_int_eq(b.after_calls, 0);
	ck_assert_int_eq(ringo_loop_close(&loop), -EBUSY);

	run_cancelled_queued(&b);
	ck_assert_int_eq(a.after_calls, 1);
	ck_assert_int_eq(a.status, 0);
	ck_assert_int_eq(a.work_calls, 1);

	/* Finished, either way: nothing to cancel. */
	ck_assert_int_eq(ringo_cancel((ringo_req_t *)&a.req), -ENOENT);
	ck_assert_int_eq(ringo_cancel((ringo_req_t *)&b.req), -ENOENT);

	/* A cancelled request may be queued again and then runs. */
	ck_assert_int_eq(ringo_work_queue(&loop, &b.req, gated_work, plain_after), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(b.after_calls, 2);
	ck_assert_int_eq(b.status, 0);
	ck_assert_int_eq(b.work_calls, 1);
	ck_assert_int_eq(a.work_on_loop + b.work_on_loop, 0);
	ck_assert_int_eq(a.after_off_loop + b.after_off_loop, 0);
}
END_TEST

/* ringo.h: -EALREADY if it is already being cancelled. */
START_TEST(test_work_cancel_twice)
{
	struct job a, b;
	int again;

	NEED_LOOP();
	one_running_one_queued(&a, &b);
	ck_assert_int_eq(ringo_cancel((ringo_req_t *)&b.req), 0);
	again = ringo_cancel((ringo_req_t *)&b.req);

	run_cancelled_queued(&b);
	ck_assert_int_eq(a.after_calls, 1);
	ck_assert_int_eq(a.status, 0);
	ck_assert_msg(again == -EALREADY, "second cancel of a cancelled request: %s, want EALREADY",
		      ringo_err_name(again));
}
END_TEST

/* ---- pool size -------------------------------------------------------- */

static const struct {
	unsigned opt;	 /* opts.threadpool_size */
	const char *env; /* $RINGO_THREADPOOL_SIZE, NULL = unset */
	int want;	 /* threads the pool must have */
} pool_cases[] = {
	{ 1, NULL, 1 }, { 4, NULL, 4 }, { 0, "3", 3 }, { 1, "2", 1 }, { 0, NULL, 4 },
};

static int pool_want;
static int pool_gave_up; /* atomic: a request timed out waiting for company */

/* Stays until `pool_want` requests have been in here at once (sticky), so
 * a pool of N threads shows a peak of exactly N. */
static void crowd_work(ringo_work_t *req)
{
	int64_t deadline = test_now_ns() + 2000000000LL;

	job_work_begin(job_of(req));
	track_enter();
	while (__atomic_load_n(&max_running, __ATOMIC_SEQ_CST) < pool_want &&
	       !__atomic_load_n(&pool_gave_up, __ATOMIC_SEQ_CST)) {
		if (test_now_ns() > deadline)
			__atomic_store_n(&pool_gave_up, 1, __ATOMIC_SEQ_CST);
		sleep_us(100);
	}
	sleep_us(200);
	track_leave();
}

START_TEST(test_work_pool_size)
{
	const char *old = getenv("RINGO_THREADPOOL_SIZE");
	char *saved = old ? strdup(old) : NULL;
	struct ringo_loop_opts opts;
	struct job *js;
	int i, n;

	NEED_LOOP();
	pool_want = pool_cases[_i].want;
	if (pool_cases[_i].env)
		setenv("RINGO_THREADPOOL_SIZE", pool_cases[_i].env, 1);
	else
		unsetenv("RINGO_THREADPOOL_SIZE");
	ringo_loop_opts_init(&opts);
	opts.threadpool_size = pool_cases[_i].opt;
	reinit(&opts);
	if (saved)
		setenv("RINGO_THREADPOOL_SIZE", saved, 1);
	else
		unsetenv("RINGO_THREADPOOL_SIZE");
	free(saved);

	n = 8 * pool_want;
	js = calloc(n, sizeof(*js));
	ck_assert_ptr_nonnull(js);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(ringo_work_queue(&loop, &js[i].req, crowd_work, plain_after), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(js[i].work_calls, 1);
		ck_assert_int_eq(js[i].after_calls, 1);
		ck_assert_int_eq(js[i].status, 0);
	}
	free(js);
	ck_assert_msg(max_running == pool_want, "opt %u env %s: %d ran at once, want %d",
		      pool_cases[_i].opt, pool_cases[_i].env ? pool_cases[_i].env : "unset",
		      max_running, pool_want);
	ck_assert_int_eq(pool_gave_up, 0);
}
END_TEST

/* ---- queueing a busy request, requeueing from after_cb ---------------- */

START_TEST(test_work_queue_busy)
{
	struct job a;

	NEED_LOOP();
	memset(&a, 0, sizeof(a));
	ck_assert_int_eq(ringo_work_queue(&loop, &a.req, gated_work, plain_after), 0);
	ck_assert_int_eq(ringo_work_queue(&loop, &a.req, gated_work, plain_after), -EBUSY);
	wait_flag(&a.started, "the request to start");
	ck_assert_int_eq(ringo_work_queue(&loop, &a.req, gated_work, plain_after), -EBUSY);
	gate_set(1);
	wait_flag(&a.finished, "work_cb to return");
	/* Done on the pool, after_cb not yet run: still busy. */
	ck_assert_int_eq(ringo_work_queue(&loop, &a.req, gated_work, plain_after), -EBUSY);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(a.after_calls, 1);
	ck_assert_int_eq(a.work_calls, 1);
	ck_assert_int_eq(a.status, 0);
	/* Idle again. */
	ck_assert_int_eq(ringo_work_queue(&loop, &a.req, gated_work, plain_after), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(a.after_calls, 2);
	ck_assert_int_eq(a.work_calls, 2);
}
END_TEST

#define REQUEUES 100

static void requeue_after(ringo_work_t *req, int status)
{
	struct job *j = job_of(req);

	job_after_record(j, status);
	ck_assert_int_eq(status, 0);
	if (j->after_calls < REQUEUES)
		ck_assert_int_eq(ringo_work_queue(req->loop, req, gated_work, requeue_after), 0);
}

START_TEST(test_work_requeue_in_after_cb)
{
	struct job a;

	NEED_LOOP();
	memset(&a, 0, sizeof(a));
	gate_set(1);
	ck_assert_int_eq(ringo_work_queue(&loop, &a.req, gated_work, requeue_after), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(a.after_calls, REQUEUES);
	ck_assert_int_eq(a.work_calls, REQUEUES);
	ck_assert_int_eq(a.work_on_loop, 0);
	ck_assert_int_eq(a.after_off_loop, 0);
}
END_TEST

/* ---- errors and closing ----------------------------------------------- */

static void noop_work(ringo_work_t *req)
{
	(void)req;
}

START_TEST(test_work_bad_args)
{
	ringo_loop_t zero;
	struct job a;

	NEED_LOOP();
	memset(&zero, 0, sizeof(zero));
	memset(&a, 0, sizeof(a));
	ck_assert_int_eq(ringo_work_queue(NULL, &a.req, noop_work, plain_after), -EINVAL);
	ck_assert_int_eq(ringo_work_queue(&loop, NULL, noop_work, plain_after), -EINVAL);
	ck_assert_int_eq(ringo_work_queue(&loop, &a.req, NULL, plain_after), -EINVAL);
	ck_assert_int_eq(ringo_work_queue(&zero, &a.req, noop_work, plain_after), -EINVAL);
	ck_assert_int_eq(ringo_cancel(NULL), -EINVAL);
	ck_assert_int_eq(ringo_loop_alive(&loop), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(a.after_calls, 0);
}
END_TEST

START_TEST(test_work_close_busy)
{
	struct job a;

	NEED_LOOP();
	memset(&a, 0, sizeof(a));
	ck_assert_int_eq(ringo_work_queue(&loop, &a.req, gated_work, plain_after), 0);
	ck_assert_int_eq(ringo_loop_alive(&loop), 1);
	ck_assert_int_eq(ringo_loop_close(&loop), -EBUSY);
	gate_set(1);
	wait_flag(&a.finished, "work_cb to return");
	/* after_cb has yet to run. */
	ck_assert_int_eq(ringo_loop_close(&loop), -EBUSY);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(a.after_calls, 1);
	ck_assert_int_eq(ringo_loop_alive(&loop), 0);
	/* teardown: ringo_loop_close() == 0, with the pool's threads idle. */
}
END_TEST

/* Each test starts from zero even when Check runs them in one process. */
static void reset_counters(void)
{
	async_calls = async_wrong_thread = 0;
	close_calls = 0;
	sent = seen = seen_backwards = 0;
	senders_done = send_errors = 0;
	running = max_running = 0;
	pool_gave_up = 0;
	memset(late_cancels, 0, sizeof(late_cancels));
}

static Suite *suite(void)
{
	Suite *s = suite_create("async");
	TCase *async = test_tcase(s, "async", setup, teardown, 60);
	TCase *work = test_tcase(s, "work", setup, teardown, 60);

	tcase_add_test(async, test_async_threads);
	tcase_add_test(async, test_async_coalesce);
	tcase_add_test(async, test_async_close_in_cb);
	tcase_add_test(async, test_async_send_closing);
	tcase_add_test(async, test_async_close_other);
	tcase_add_test(async, test_async_bad_args);
	tcase_add_test(async, test_async_unref);

	tcase_add_test(work, test_work_random_cancel);
	tcase_add_test(work, test_work_cancel_states);
	tcase_add_test(work, test_work_cancel_twice);
	tcase_add_loop_test(work, test_work_pool_size, 0,
			    (int)(sizeof(pool_cases) / sizeof(pool_cases[0])));
	tcase_add_test(work, test_work_queue_busy);
	tcase_add_test(work, test_work_requeue_in_after_cb);
	tcase_add_test(work, test_work_bad_args);
	tcase_add_test(work, test_work_close_busy);

	return s;
}

int main(void)
{
	return test_main(suite());
}
