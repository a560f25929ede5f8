/* SPDX-License-Identifier: MIT */
/*
 * embed: driving a ringo loop from a program that already has a loop.
 *
 * Daemons, GUI toolkits and language runtimes own their event loop and
 * cannot hand control to ringo_run(RINGO_RUN_DEFAULT). They embed ringo
 * instead: ringo_loop_fd() gives an fd that becomes readable when ringo has
 * completions waiting; the host adds it to its poll/epoll set and calls
 * ringo_run(loop, RINGO_RUN_NOWAIT) whenever it fires. That call dispatches
 * the completions and submits whatever the callbacks queued, and never
 * blocks, so the host stays in charge of waiting. Here the host is a plain
 * poll() loop that also serves a timerfd of its own (standing in for the
 * host's real work), while ringo runs a chain of NOPs (each callback queues
 * the next), an async handle woken once from another thread, and a few
 * work-pool jobs. When ringo has nothing left alive the program prints one
 * summary line and exits 0; on any error it says what failed and exits 1.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <ringo.h>

#define NOPS 1000		/* length of the NOP chain */
#define JOBS 8			/* work-pool jobs */
#define TICK_MS 5		/* the host's own timer period */
#define DEADLINE_MS 5000	/* give up (and fail) after this long */

struct job {
	ringo_work_t req;	/* first: the callbacks cast back to the job */
	uint64_t n;		/* input */
	uint64_t sum;		/* output, written on a pool thread */
};

struct app {
	ringo_loop_t loop;
	ringo_raw_t nop;
	unsigned nops;		/* NOP completions seen */
	ringo_async_t async;
	unsigned async_calls;
	int async_closed;
	struct job jobs[JOBS];
	unsigned jobs_done;
	int failed;
};

static void fail(struct app *app, const char *what, int err)
{
	fprintf(stderr, "embed: %s: %s\n", what, ringo_strerror(err));
	app->failed = 1;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- ringo work: callbacks run inside the host's ringo_run calls ------ */

static void nop_cb(ringo_raw_t *req, int res, unsigned cqe_flags)
{
	struct app *app = req->loop->data;
	int ret;

	(void)cqe_flags;
	if (res < 0) {
		fail(app, "nop", res);
		return;
	}
	/* The request is finished before its callback runs, so it can be
	 * reused at once. The new NOP is only queued here; the host's next
	 * ringo_run submits it. */
	if (++app->nops < NOPS && (ret = ringo_nop(req->loop, req, nop_cb)) < 0)
		fail(app, "ringo_nop", ret);
}

static void async_close_cb(ringo_handle_t *handle)
{
	struct app *app = handle->loop->data;

	app->async_closed = 1;
}

static void async_cb(ringo_async_t *handle)
{
	struct app *app = handle->loop->data;
	int ret;

	app->async_calls++;
	/* One wake-up is all we wait for; an open async handle would keep
	 * the loop alive forever. */
	ret = ringo_close((ringo_handle_t *)handle, async_close_cb);
	if (ret < 0)
		fail(app, "ringo_close", ret);
}

/* Another thread: async sends are the one thread-safe way into a loop. */
static void *waker(void *arg)
{
	struct app *app = arg;
	const struct timespec later = { .tv_nsec = 20 * 1000000 };
	int ret;

	/* Late enough that the host is already polling. */
	nanosleep(&later, NULL);
	ret = ringo_async_send(&app->async);
	if (ret < 0)
		fprintf(stderr, "embed: ringo_async_send: %s\n", ringo_strerror(ret));
	return NULL;
}

/* On a pool thread: stands in for a blocking call (getaddrinfo, stat...). */
static void job_work(ringo_work_t *req)
{
	struct job *job = (struct job *)req;
	uint64_t i;

	job->sum = 0;
	for (i = 1; i <= job->n; i++)
		job->sum += i;
}

/* Back on the loop thread, inside ringo_run. */
static void job_after(ringo_work_t *req, int status)
{
	struct job *job = (struct job *)req;
	struct app *app = req->loop->data;

	if (status < 0)
		fail(app, "work", status);
	else if (job->sum != job->n * (job->n + 1) / 2)
		fail(app, "work result", -EIO);
	else
		app->jobs_done++;
}

static int start_ringo_work(struct app *app)
{
	int i, ret;

	ret = ringo_nop(&app->loop, &app->nop, nop_cb);
	if (ret < 0) {
		fail(app, "ringo_nop", ret);
		return ret;
	}
	ret = ringo_async_init(&app->loop, &app->async, async_cb);
	if (ret < 0) {
		fail(app, "ringo_async_init", ret);
		return ret;
	}
	for (i = 0; i < JOBS; i++) {
		app->jobs[i].n = 100000 * (uint64_t)(i + 1);
		ret = ringo_work_queue(&app->loop, &app->jobs[i].req, job_work, job_after);
		if (ret < 0) {
			fail(app, "ringo_work_queue", ret);
			return ret;
		}
	}
	return 0;
}

/* ---- the host ---------------------------------------------------------- */

static int make_timer(void)
{
	struct itimerspec its = {
		.it_interval = { .tv_nsec = TICK_MS * 1000000 },
		.it_value = { .tv_nsec = TICK_MS * 1000000 },
	};
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (timerfd_settime(fd, 0, &its, NULL) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int main(void)
{
	static struct app app; /* zeroed: requests and handles start clean */
	unsigned long host_wakeups = 0, ticks = 0;
	struct pollfd fds[2];
	pthread_t thread;
	uint64_t deadline, expirations; /* timerfd reads are always 8 bytes */
	int loop_fd, timer_fd, alive, ret;

	ret = ringo_loop_init(&app.loop, NULL);
	if (ret < 0) {
		fprintf(stderr, "embed: ringo_loop_init: %s\n", ringo_setup_strerror(ret));
		return 1;
	}
	app.loop.data = &app;
	loop_fd = ringo_loop_fd(&app.loop);
	if (loop_fd < 0) {
		fprintf(stderr, "embed: ringo_loop_fd: %s\n", ringo_strerror(loop_fd));
		ringo_loop_close(&app.loop);
		return 1;
	}
	timer_fd = make_timer();
	if (timer_fd < 0) {
		fprintf(stderr, "embed: timerfd: %s\n", ringo_strerror(timer_fd));
		ringo_loop_close(&app.loop);
		return 1;
	}
	if (start_ringo_work(&app) < 0)
		return 1;
	ret = pthread_create(&thread, NULL, waker, &app);
	if (ret) {
		fprintf(stderr, "embed: pthread_create: %s\n", strerror(ret));
		return 1;
	}

	/*
	 * Requests queued outside a callback are only submitted by a run, and
	 * the loop fd cannot fire for operations the kernel has not seen: so
	 * run once before waiting on it.
	 */
	alive = ringo_run(&app.loop, RINGO_RUN_NOWAIT);
	fds[0] = (struct pollfd){ .fd = loop_fd, .events = POLLIN };
	fds[1] = (struct pollfd){ .fd = timer_fd, .events = POLLIN };
	deadline = now_ms() + DEADLINE_MS;
	while (alive > 0 && !app.failed) {
		/* A bounded wait: a stuck loop fails the program, it does not
		 * hang it. */
		if (now_ms() > deadline) {
			fprintf(stderr, "embed: ringo work not done after %d ms (nops=%u async=%u "
					"work=%u)\n",
				DEADLINE_MS, app.nops, app.async_calls, app.jobs_done);
			app.failed = 1;
			break;
		}
		ret = poll(fds, 2, 1000);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0) {
			fail(&app, "poll", -errno);
			break;
		}
		if (fds[1].revents & POLLIN) {
			/* The host's own business; ringo is not involved. */
			if (read(timer_fd, &expirations, 8) == 8)
				ticks += expirations;
		}
		if (fds[0].revents & POLLIN) {
			/* No need to read the fd: ringo_run drains it itself. */
			host_wakeups++;
			alive = ringo_run(&app.loop, RINGO_RUN_NOWAIT);
		}
	}
	if (alive < 0)
		fail(&app, "ringo_run", alive);

	pthread_join(thread, NULL);
	close(timer_fd);
	if (app.failed)
		return 1;
	if (app.nops != NOPS || app.async_calls != 1 || !app.async_closed ||
	    app.jobs_done != JOBS) {
		fprintf(stderr, "embed: loop idle with work missing: nops=%u async=%u closed=%d "
				"work=%u\n",
			app.nops, app.async_calls, app.async_closed, app.jobs_done);
		return 1;
	}
	/* Everything finished, so the loop must close; the fd goes with it. */
	ret = ringo_loop_close(&app.loop);
	if (ret < 0) {
		fprintf(stderr, "embed: ringo_loop_close: %s\n", ringo_strerror(ret));
		return 1;
	}
	printf("embed: nops=%u async=%u work=%u host_wakeups=%lu ticks=%lu ok\n", app.nops,
	       app.async_calls, app.jobs_done, host_wakeups, ticks);
	return 0;
}
