/* SPDX-License-Identifier: MIT */
/* Shared test helpers; see test_util.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"

int test_stress(void)
{
	const char *s = getenv("RINGO_STRESS");

	return s && strcmp(s, "1") == 0;
}

static int in_ci(void)
{
	const char *s = getenv("CI");

	return s && strcmp(s, "true") == 0;
}

int test_io_uring_blocked(int ret)
{
	return (ret == -ENOSYS || ret == -EPERM) && !in_ci();
}

int test_ring_init(struct ringo_ring *ring, unsigned entries, unsigned flags)
{
	int ret = ringo_ring_init(ring, entries, flags);

	if (ret == 0)
		return 0;
	if (test_io_uring_blocked(ret)) {
		fprintf(stdout, "io_uring unavailable: %s\n", ringo_setup_strerror(ret));
		return 1;
	}
	ck_abort_msg("ringo_ring_init(%u, %#x): %s (%s)", entries, flags, ringo_err_name(ret),
		     ringo_setup_strerror(ret));
	return 1;
}

void test_assert_cqe(const struct ringo_cqe *cqe, uint64_t user_data, int res, unsigned flags)
{
	ck_assert_msg(cqe->user_data == user_data, "user_data %#llx, want %#llx",
		      (unsigned long long)cqe->user_data, (unsigned long long)user_data);
	ck_assert_msg(cqe->res == res, "res %d (%s), want %d (%s)", cqe->res,
		      ringo_err_name(cqe->res), res, ringo_err_name(res));
	ck_assert_uint_eq(cqe->flags, flags);
}

struct ringo_sqe *test_get_sqe(struct ringo_ring *ring)
{
	struct ringo_sqe *sqe = ringo_ring_get_sqe(ring);

	ck_assert_ptr_nonnull(sqe);
	return sqe;
}

struct ringo_sqe *test_get_sqe_ud(struct ringo_ring *ring, uint64_t user_data)
{
	struct ringo_sqe *sqe = test_get_sqe(ring);

	ringo_sqe_set_data64(sqe, user_data);
	return sqe;
}

int test_kernel_at_least(int major, int minor)
{
	struct utsname u;
	int maj = 0, min = 0;

	if (uname(&u) != 0 || sscanf(u.release, "%d.%d", &maj, &min) != 2)
		return 0;
	return maj > major || (maj == major && min >= minor);
}

struct ringo_cqe test_wait_one(struct ringo_ring *ring)
{
	struct ringo_cqe cqe;
	int ret;

	do
		ret = ringo_ring_copy_cqes(ring, &cqe, 1, 1);
	while (ret == 0 || ret == -EINTR);
	ck_assert_msg(ret == 1, "copy_cqes: %s", ringo_err_name(ret));
	return cqe;
}

struct ringo_cqe test_submit_wait_one(struct ringo_ring *ring)
{
	int ret = ringo_ring_submit(ring);

	ck_assert_msg(ret >= 0, "submit: %s", ringo_err_name(ret));
	return test_wait_one(ring);
}

void test_wait_expect(struct ringo_ring *ring, uint64_t user_data, int res)
{
	struct ringo_cqe cqe = test_wait_one(ring);

	test_assert_cqe(&cqe, user_data, res, 0);
}

void test_submit_expect(struct ringo_ring *ring, uint64_t user_data, int res)
{
	struct ringo_cqe cqe = test_submit_wait_one(ring);

	test_assert_cqe(&cqe, user_data, res, 0);
}

void test_submit1_expect(struct ringo_ring *ring, uint64_t user_data, int res)
{
	ck_assert_int_eq(ringo_ring_submit(ring), 1);
	test_wait_expect(ring, user_data, res);
}

void test_tmpdir(char *buf, size_t len)
{
	const char *base = getenv("TMPDIR");

	snprintf(buf, len, "%s/ringo-test-XXXXXX", base && *base ? base : "/tmp");
	ck_assert_msg(mkdtemp(buf) != NULL, "mkdtemp: %s", strerror(errno));
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

void test_rmtree(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int test_tcp_listener(struct sockaddr_in *addr)
{
	socklen_t len = sizeof(*addr);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr->sin_port = 0;
	ck_assert_int_eq(bind(fd, (struct sockaddr *)addr, sizeof(*addr)), 0);
	ck_assert_int_eq(listen(fd, 128), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)addr, &len), 0);
	return fd;
}

int test_loop_init(ringo_loop_t *loop, const struct ringo_loop_opts *opts)
{
	int ret = ringo_loop_init(loop, opts);

	if (ret == 0 || test_io_uring_blocked(ret))
		return ret;
	ck_abort_msg("ringo_loop_init(flags %#x): %s (%s)", opts ? opts->flags : 0,
		     ringo_err_name(ret), ringo_setup_strerror(ret));
	return ret;
}

uint64_t test_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int64_t test_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void test_sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

void test_pipe(int fds[2])
{
	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
}

void test_close_pipe(int fds[2])
{
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	fds[0] = fds[1] = -1;
}

void test_write_byte(int fd, char c)
{
	ck_assert_int_eq(write(fd, &c, 1), 1);
}

TCase *test_tcase(Suite *s, const char *name, SFun setup, SFun teardown, double timeout)
{
	TCase *tc = tcase_create(name);

	if (setup || teardown)
		tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, timeout);
	suite_add_tcase(s, tc);
	return tc;
}

int test_main(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
