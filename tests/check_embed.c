/* SPDX-License-Identifier: MIT */
/*
 * Embedding: a host poll() loop that drives ringo through ringo_loop_fd()
 * and ringo_run(RINGO_RUN_NOWAIT), as DESIGN.md describes. The example
 * program examples/embed is run and must print its summary and exit 0.
 * In-test hosts check the contract itself: the fd becomes readable
 * whenever completions wait (NOP chains, a pipe read the host writes to
 * later, ops that callbacks queue, async sends from another thread), each
 * callback runs exactly once, a NOWAIT run never blocks, the fd goes quiet
 * when nothing completes, and the loop then closes cleanly. Both the
 * default ring and the RINGO_LOOP_NO_DEFER_TASKRUN fallback are covered.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"

#ifndef EMBED_EXAMPLE
#error "EMBED_EXAMPLE must name the built examples/embed binary"
#endif

extern char **environ;

static ringo_loop_t loop;
static int loop_ret; /* ringo_loop_init's result for this test */

/* Outside CI a machine without io_uring skips; anywhere else init must work. */
#define NEED_LOOP() TEST_NEED_LOOP(loop_ret)

static void setup(void)
{
	memset(&loop, 0, sizeof(loop));
	loop_ret = test_loop_init(&loop, NULL);
}

static void teardown(void)
{
	if (loop_ret == 0)
		ck_assert_int_eq(ringo_loop_close(&loop), 0);
}

/* The ring variants a host may be embedding. */
static const struct {
	unsigned flags;
	const char *name;
} modes[] = {
	{ 0, "default" },
	{ RINGO_LOOP_NO_DEFER_TASKRUN, "no-defer-taskrun" },
};

/* Replace the fixture's loop with one in modes[i]. */
static void reinit_mode(int i)
{
	struct ringo_loop_opts opts;

	ck_assert_int_eq(ringo_loop_close(&loop), 0);
	ringo_loop_opts_init(&opts);
	opts.flags = modes[i].flags;
	loop_ret = ringo_loop_init(&loop, &opts);
	ck_assert_msg(loop_ret == 0, "ringo_loop_init(%s): %s", modes[i].name,
		      ringo_err_name(loop_ret));
}

/* ---- the host's two moves ----------------------------------------------- */

/* 1 if `fd` is readable within timeout_ms. */
static int wait_readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int ret;

	do
		ret = poll(&p, 1, timeout_ms);
	while (ret < 0 && errno == EINTR);
	ck_assert_msg(ret >= 0, "poll: %s", strerror(errno));
	return ret > 0 && (p.revents & POLLIN);
}

/* ringo_run(NOWAIT), which must neither fail nor block. */
static int run_nowait(void)
{
	int64_t t0 = test_now_ns(), took;
	int ret = ringo_run(&loop, RINGO_RUN_NOWAIT);

	took = test_now_ns() - t0;
	ck_assert_msg(ret >= 0, "ringo_run(NOWAIT): %s", ringo_err_name(ret));
	ck_assert_msg(took < 100000000, "ringo_run(NOWAIT) blocked for %lld ms",
		      (long long)(took / 1000000));
	return ret;
}

/* Serve the loop fd until *done, failing if it stays unreadable. */
static void host_until(int fd, const unsigned *done, unsigned want, int max_steps,
		       const char *what)
{
	int steps = 0;

	while (*done < want) {
		ck_assert_msg(steps++ < max_steps, "%s: %d host wake-ups, %u of %u done", what,
			      max_steps, *done, want);
		ck_assert_msg(wait_readable(fd, 2000),
			      "%s: loop fd not readable for 2 s with %u of %u done", what, *done,
			      want);
		run_nowait();
	}
}

/* Run until the fd stops being readable: stale readiness is allowed, but
 * it must settle once nothing completes. */
static void host_settle(int fd, const char *when)
{
	int i;

	for (i = 0; i < 10 && wait_readable(fd, 0); i++)
		run_nowait();
	ck_assert_msg(!wait_readable(fd, 50), "%s: loop fd stays readable with nothing completing",
		      when);
}

/* ======================================================================
 * (1) the example program
 * ====================================================================== */

/* Read both pipes to EOF (or the deadline); returns 0 on EOF of both. */
static int read_child(int out_fd, int err_fd, char *out, size_t out_len, char *err,
		      size_t err_len, int64_t deadline)
{
	struct pollfd p[2] = { { .fd = out_fd, .events = POLLIN },
			       { .fd = err_fd, .events = POLLIN } };
	size_t used[2] = { 0, 0 }, cap[2] = { out_len - 1, err_len - 1 };
	char *buf[2] = { out, err };
	char sink[256];
	int open = 2, i, ret;
	ssize_t n;

	while (open) {
		int left_ms = (int)((deadline - test_now_ns()) / 1000000);

		if (left_ms <= 0)
			return -ETIMEDOUT;
		ret = poll(p, 2, left_ms);
		if (ret < 0 && errno == EINTR)
			continue;
		ck_assert_msg(ret >= 0, "poll: %s", strerror(errno));
		for (i = 0; i < 2; i++) {
			if (p[i].fd < 0 || !p[i].revents)
				continue;
			if (used[i] < cap[i])
				n = read(p[i].fd, buf[i] + used[i], cap[i] - used[i]);
			else
				n = read(p[i].fd, sink, sizeof(sink));
			if (n > 0 && used[i] < cap[i])
				used[i] += (size_t)n;
			if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
				p[i].fd = -1;
				open--;
			}
		}
	}
	out[used[0]] = '\0';
	err[used[1]] = '\0';
	return 0;
}

START_TEST(test_example)
{
	char *argv[] = { EMBED_EXAMPLE, NULL };
	char out[4096], err[4096], tail[8];
	posix_spawn_file_actions_t fa;
	unsigned nops, async, work;
	unsigned long wakeups, ticks;
	int out_pipe[2], err_pipe[2], status, ret, fields;
	pid_t pid;

	ck_assert_int_eq(pipe2(out_pipe, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(err_pipe, O_CLOEXEC), 0);
	ck_assert_int_eq(posix_spawn_file_actions_init(&fa), 0);
	ck_assert_int_eq(posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1), 0);
	ck_assert_int_eq(posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2), 0);
	ret = posix_spawn(&pid, EMBED_EXAMPLE, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	ck_assert_msg(ret == 0, "posix_spawn %s: %s", EMBED_EXAMPLE, strerror(ret));
	close(out_pipe[1]);
	close(err_pipe[1]);

	/* The example stops itself within seconds; this only catches a hang. */
	ret = read_child(out_pipe[0], err_pipe[0], out, sizeof(out), err, sizeof(err),
			 test_now_ns() + 20000000000LL);
	if (ret)
		kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	close(out_pipe[0]);
	close(err_pipe[0]);
	ck_assert_msg(ret == 0, "%s did not finish in 20 s", EMBED_EXAMPLE);

	/* Same rule as the fixture: only a machine without io_uring, outside
	 * CI, may skip. */
	if (status != 0 && strstr(err, "ringo_loop_init") && test_io_uring_blocked(-EPERM))
		TEST_SKIP("example: %s", err);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "%s: status %#x, stderr: %s", EMBED_EXAMPLE, status, err);
	fields = sscanf(out, "embed: nops=%u async=%u work=%u host_wakeups=%lu ticks=%lu %7s",
			&nops, &async, &work, &wakeups, &ticks, tail);
	ck_assert_msg(fields == 6, "unexpected output: '%s'", out);
	ck_assert_uint_eq(nops, 1000);
	ck_assert_uint_eq(async, 1);
	ck_assert_uint_eq(work, 8);
	ck_assert_uint_gt(wakeups, 0);
	ck_assert_str_eq(tail, "ok");
	/* Exactly one line. */
	ck_assert_ptr_eq(strchr(out, '\n'), out + strlen(out) - 1);
}
END_TEST

/* ======================================================================
 * (2) an in-test host: NOP chain, a pipe read, an op queued by a callback
 * ====================================================================== */

struct host_state {
	ringo_raw_t nop;
	unsigned nops_want;
	unsigned nop_calls;
	int nop_errors;
	ringo_raw_t rd;
	int rd_fd;
	char buf[16];
	unsigned rd_calls;
	int rd_res;
	ringo_raw_t follow;	/* a NOP the read callback queues */
	unsigned follow_calls;
	int follow_res;
};

static struct host_state st;

static void nop_cb(ringo_raw_t *req, int res, unsigned cqe_flags)
{
	(void)cqe_flags;
	if (res != 0)
		st.nop_errors++;
	st.nop_calls++;
	if (st.nop_calls < st.nops_want)
		ck_assert_int_eq(ringo_nop(req->loop, req, nop_cb), 0);
}

static int prep_pipe_read(struct ringo_sqe *sqe, void *arg)
{
	struct host_state *s = arg;

	/* Pipes have no position; -1 means "the current one". */
	ringo_prep_read(sqe, s->rd_fd, s->buf, sizeof(s->buf), (uint64_t)-1);
	return 0;
}

static void follow_cb(ringo_raw_t *req, int res, unsigned cqe_flags)
{
	(void)req;
	(void)cqe_flags;
	st.follow_calls++;
	st.follow_res = res;
}

static void read_cb(ringo_raw_t *req, int res, unsigned cqe_flags)
{
	(void)cqe_flags;
	st.rd_calls++;
	st.rd_res = res;
	/* Work a callback queues must reach the kernel without the host
	 * doing anything but serve the fd. */
	ck_assert_int_eq(ringo_nop(req->loop, &st.follow, follow_cb), 0);
}

START_TEST(test_host_loop)
{
	int fd, p[2];

	NEED_LOOP();
	reinit_mode(_i);
	memset(&st, 0, sizeof(st));
	st.nops_want = TEST_SIZE(100000, 5000);
	fd = ringo_loop_fd(&loop);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	st.rd_fd = p[0];

	ck_assert_int_eq(ringo_nop(&loop, &st.nop, nop_cb), 0);
	ck_assert_int_eq(ringo_submit(&loop, &st.rd, prep_pipe_read, &st, read_cb), 0);
	/* Requests made outside callbacks are submitted by the next run. */
	ck_assert_int_gt(run_nowait(), 0);

	host_until(fd, &st.nop_calls, st.nops_want, (int)st.nops_want * 4 + 100, "NOP chain");
	ck_assert_uint_eq(st.nop_calls, st.nops_want);
	ck_assert_int_eq(st.nop_errors, 0);
	ck_assert_uint_eq(st.rd_calls, 0);

	/* Only the read is in flight, and it cannot complete. */
	host_settle(fd, "pipe read pending");
	ck_assert_int_gt(ringo_loop_alive(&loop), 0);

	ck_assert_int_eq(write(p[1], "ping", 4), 4);
	host_until(fd, &st.rd_calls, 1, 10, "pipe read");
	ck_assert_uint_eq(st.rd_calls, 1);
	ck_assert_int_eq(st.rd_res, 4);
	ck_assert_int_eq(memcmp(st.buf, "ping", 4), 0);
	host_until(fd, &st.follow_calls, 1, 10, "NOP queued by the read callback");
	ck_assert_uint_eq(st.follow_calls, 1);
	ck_assert_int_eq(st.follow_res, 0);

	/* Nothing left: the fd goes quiet (a host must not spin), the last
	 * run says so, and every callback ran once. */
	host_settle(fd, "nothing alive");
	ck_assert_int_eq(run_nowait(), 0);
	ck_assert_int_eq(ringo_loop_alive(&loop), 0);
	ck_assert_uint_eq(st.nop_calls, st.nops_want);
	ck_assert_uint_eq(st.rd_calls, 1);
	ck_assert_uint_eq(st.follow_calls, 1);
	close(p[0]);
	close(p[1]);
	/* teardown: ringo_loop_close() == 0 */
}
END_TEST

/* ---- async sends from another thread, one at a time ------------------- */

#define ASYNC_ROUNDS 3

static ringo_async_t async_h;
static unsigned async_calls; /* atomic: read by the sender */
static unsigned async_closed;

static void async_cb(ringo_async_t *h)
{
	(void)h;
	__atomic_add_fetch(&async_calls, 1, __ATOMIC_SEQ_CST);
}

static void async_close_cb(ringo_handle_t *h)
{
	(void)h;
	async_closed++;
}

/* Each send waits for the previous callback, so none coalesce. */
static void *async_sender(void *arg)
{
	const struct timespec pause = { .tv_nsec = 5 * 1000000 };
	int64_t deadline;
	unsigned k;

	(void)arg;
	for (k = 0; k < ASYNC_ROUNDS; k++) {
		nanosleep(&pause, NULL);
		if (ringo_async_send(&async_h) != 0)
			break;
		deadline = test_now_ns() + 5000000000LL;
		while (__atomic_load_n(&async_calls, __ATOMIC_SEQ_CST) <= k &&
		       test_now_ns() < deadline)
			nanosleep(&pause, NULL);
	}
	return NULL;
}

START_TEST(test_host_async)
{
	pthread_t thread;
	int fd, steps = 0;

	NEED_LOOP();
	reinit_mode(_i);
	fd = ringo_loop_fd(&loop);
	ck_assert_int_ge(fd, 0);
	memset(&async_h, 0, sizeof(async_h));
	ck_assert_int_eq(ringo_async_init(&loop, &async_h, async_cb), 0);
	ck_assert_int_gt(run_nowait(), 0);
	host_settle(fd, "async idle");

	ck_assert_int_eq(pthread_create(&thread, NULL, async_sender, NULL), 0);
	while (__atomic_load_n(&async_calls, __ATOMIC_SEQ_CST) < ASYNC_ROUNDS) {
		if (steps++ > 100 || !wait_readable(fd, 2000))
			break;
		run_nowait();
	}
	ck_assert_int_eq(pthread_join(thread, NULL), 0);
	ck_assert_msg(async_calls == ASYNC_ROUNDS,
		      "%s: %u of %d async sends reached the callback through the loop fd",
		      modes[_i].name, async_calls, ASYNC_ROUNDS);

	/* Closing is the host's own call: it runs once to finish it. */
	ck_assert_int_eq(ringo_close((ringo_handle_t *)&async_h, async_close_cb), 0);
	ck_assert_int_eq(run_nowait(), 0);
	ck_assert_uint_eq(async_closed, 1);
}
END_TEST

/* ======================================================================
 * (3) ringo_loop_fd itself
 * ====================================================================== */

START_TEST(test_loop_fd_args)
{
	ringo_loop_t zero, other;
	int fd, fd2, ret;

	NEED_LOOP();
	fd = ringo_loop_fd(&loop);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ringo_loop_fd(&loop), fd);
	ck_assert_int_ge(fcntl(fd, F_GETFD), 0);
	ck_assert_int_eq(ringo_loop_fd(NULL), -EINVAL);
	memset(&zero, 0, sizeof(zero));
	ck_assert_int_eq(ringo_loop_fd(&zero), -EINVAL);
	/* Nothing in flight: quiet, and a run reports nothing alive. */
	ck_assert_int_eq(wait_readable(fd, 0), 0);
	ck_assert_int_eq(run_nowait(), 0);

	/* The fd belongs to its loop: each loop has its own, closed with it. */
	ret = ringo_loop_init(&other, NULL);
	ck_assert_int_eq(ret, 0);
	fd2 = ringo_loop_fd(&other);
	ck_assert_int_ge(fd2, 0);
	ck_assert_int_ne(fd2, fd);
	ck_assert_int_eq(ringo_loop_close(&other), 0);
	ck_assert_int_eq(fcntl(fd2, F_GETFD), -1);
	ck_assert_int_eq(errno, EBADF);
	ck_assert_int_eq(ringo_loop_fd(&other), -EINVAL);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("embed");
	TCase *example = test_tcase(s, "example", setup, teardown, 60);
	TCase *host = test_tcase(s, "host", setup, teardown, 60);
	int nmodes = (int)(sizeof(modes) / sizeof(modes[0]));

	tcase_add_test(example, test_example);

	tcase_add_loop_test(host, test_host_loop, 0, nmodes);
	tcase_add_loop_test(host, test_host_async, 0, nmodes);
	tcase_add_test(host, test_loop_fd_args);

	return s;
}

int main(void)
{
	return test_main(suite());
}
