/* SPDX-License-Identifier: MIT */
/*
 * Direct descriptors (fs/direct.c): a registered file works through every
 * call that takes one after its plain fd is closed (read, write, readv,
 * writev, fsync, fdatasync, fallocate, fadvise, ftruncate, splice at either
 * end), bytes checked through a second plain fd; unregistered slots give
 * -EBADF; the table fills to its size (-ENFILE) and hands freed slots out
 * again; calls that cannot take a direct descriptor refuse it with -EBADF.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fixture_loop.h"

static char tmpdir[PATH_MAX];
static char path[PATH_MAX];

struct freq {
	ringo_fs_t req;
	int calls;
};

static struct freq F;

static void on_fs(ringo_fs_t *req)
{
	owner_of(req, struct freq, req)->calls++;
}

static void setup(void)
{
	test_tmpdir(tmpdir, sizeof(tmpdir));
	ck_assert(snprintf(path, sizeof(path), "%s/file", tmpdir) < (int)sizeof(path));
	loop_fixture_open(NULL);
}

static void teardown(void)
{
	loop_fixture_close();
	test_rmtree(tmpdir);
}

/* Start a call on F and run it to its callback; its result. */
static ssize_t fs_run(int ret)
{
	assert_status(ret, 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(F.calls, 1);
	return F.req.result;
}
#define FS(call) (memset(&F, 0, sizeof(F)), fs_run(call))
#define REQ (&F.req)

static int open_file(void)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

	ck_assert_int_ge(fd, 0);
	return fd;
}

/* A direct descriptor for a fresh file whose plain fd is already closed. */
static int direct_file(void)
{
	int fd = open_file(), d = ringo_fs_register_fd(&loop, fd);

	ck_assert_msg(d >= 0, "register: %s", ringo_err_name(d));
	ck_assert(ringo_fs_is_direct(d));
	ck_assert_int_eq(close(fd), 0);
	return d;
}

START_TEST(test_read_write)
{
	char out[] = "direct descriptors skip the fd table", back[64] = { 0 };
	struct iovec iov[2] = { { out, 6 }, { out + 6, 12 } }, riov[2];
	int d, plain;

	REQUIRE_LOOP();
	d = direct_file();
	ck_assert_int_eq(FS(ringo_fs_write(&loop, REQ, d, out, sizeof(out), 0, on_fs)),
			 sizeof(out));
	plain = open_file();
	ck_assert_int_eq(pread(plain, back, sizeof(back), 0), sizeof(out));
	ck_assert_str_eq(back, out);

	memset(back, 0, sizeof(back));
	ck_assert_int_eq(FS(ringo_fs_read(&loop, REQ, d, back, 10, 7, on_fs)), 10);
	ck_assert_int_eq(memcmp(back, out + 7, 10), 0);

	ck_assert_int_eq(FS(ringo_fs_writev(&loop, REQ, d, iov, 2, 100, on_fs)), 18);
	memset(back, 0, sizeof(back));
	riov[0] = (struct iovec){ back, 3 };
	riov[1] = (struct iovec){ back + 3, 15 };
	ck_assert_int_eq(FS(ringo_fs_readv(&loop, REQ, d, riov, 2, 100, on_fs)), 18);
	ck_assert_int_eq(memcmp(back, out, 18), 0);

	ck_assert_int_eq(FS(ringo_fs_fsync(&loop, REQ, d, on_fs)), 0);
	ck_assert_int_eq(FS(ringo_fs_fdatasync(&loop, REQ, d, on_fs)), 0);
	ck_assert_int_eq(FS(ringo_fs_fadvise(&loop, REQ, d, 0, 0, POSIX_FADV_SEQUENTIAL, on_fs)),
			 0);
	ck_assert_int_eq(FS(ringo_fs_fallocate(&loop, REQ, d, 0, 0, 8192, on_fs)), 0);
	ck_assert_int_eq(lseek(plain, 0, SEEK_END), 8192);
	if (test_kernel_at_least(6, 9)) { /* the FTRUNCATE ring op */
		ck_assert_int_eq(FS(ringo_fs_ftruncate(&loop, REQ, d, 50, on_fs)), 0);
		ck_assert_int_eq(lseek(plain, 0, SEEK_END), 50);
	}
	ck_assert_int_eq(close(plain), 0);
	assert_status(ringo_fs_unregister_fd(&loop, d), 0);
}
END_TEST

START_TEST(test_splice_both_ends)
{
	char data[] = "through a pipe", back[32] = { 0 };
	int d, fds[2], plain;

	REQUIRE_LOOP();
	test_pipe(fds);
	d = direct_file();
	plain = open_file();
	ck_assert_int_eq(pwrite(plain, data, sizeof(data), 0), sizeof(data));
	/* direct file -> pipe, then pipe -> direct file at 1000. */
	ck_assert_int_eq(FS(ringo_fs_splice(&loop, REQ, d, 0, fds[1], -1, sizeof(data), 0, on_fs)),
			 sizeof(data));
	ck_assert_int_eq(
		FS(ringo_fs_splice(&loop, REQ, fds[0], -1, d, 1000, sizeof(data), 0, on_fs)),
		sizeof(data));
	ck_assert_int_eq(pread(plain, back, sizeof(back), 1000), sizeof(data));
	ck_assert_str_eq(back, data);
	ck_assert_int_eq(close(plain), 0);
	test_close_pipe(fds);
	assert_status(ringo_fs_unregister_fd(&loop, d), 0);
}
END_TEST

START_TEST(test_unregister)
{
	char c = 'x';
	int d, fd;

	REQUIRE_LOOP();
	d = direct_file();
	assert_status(ringo_fs_unregister_fd(&loop, d), 0);
	ck_assert_int_eq(FS(ringo_fs_write(&loop, REQ, d, &c, 1, 0, on_fs)), -EBADF);
	assert_status(ringo_fs_unregister_fd(&loop, d), -EBADF);
	/* Never registered: a plain fd, a slot out of range, a free slot. */
	fd = open_file();
	assert_status(ringo_fs_unregister_fd(&loop, fd), -EBADF);
	assert_status(ringo_fs_unregister_fd(&loop, RINGO_FS_DIRECT_BIT | 5000000), -EBADF);
	assert_status(ringo_fs_unregister_fd(&loop, RINGO_FS_DIRECT_BIT | 7), -EBADF);
	assert_status(ringo_fs_unregister_fd(&loop, -1), -EBADF);
	assert_status(ringo_fs_unregister_fd(NULL, d), -EINVAL);
	ck_assert_int_eq(close(fd), 0);
}
END_TEST

/* A second loop has a table of its own: its descriptors mean nothing here. */
START_TEST(test_per_loop)
{
	ringo_loop_t other;
	int d, fd;

	REQUIRE_LOOP();
	assert_status(test_loop_init(&other, NULL), 0);
	fd = open_file();
	d = ringo_fs_register_fd(&other, fd);
	ck_assert_int_ge(d, 0);
	assert_status(ringo_fs_unregister_fd(&loop, d), -EBADF);
	assert_status(ringo_fs_unregister_fd(&other, d), 0);
	assert_status(ringo_loop_close(&other), 0);
	ck_assert_int_eq(close(fd), 0);
}
END_TEST

START_TEST(test_refused)
{
	char buf[4];
	int d, fd, closed;

	REQUIRE_LOOP();
	d = direct_file();
	fd = open_file();
	memset(&F, 0, sizeof(F));
	assert_status(ringo_fs_close(&loop, REQ, d, on_fs), -EBADF);
	assert_status(ringo_fs_fstat(&loop, REQ, d, on_fs), -EBADF);
	assert_status(ringo_fs_copy_range(&loop, REQ, d, 0, fd, 0, 4, on_fs), -EBADF);
	assert_status(ringo_fs_copy_range(&loop, REQ, fd, 0, d, 0, 4, on_fs), -EBADF);
	assert_status(ringo_fs_register_fd(&loop, d), -EBADF);
	assert_status(ringo_fs_register_fd(&loop, -1), -EBADF);
	assert_status(ringo_fs_register_fd(NULL, fd), -EINVAL);
	closed = dup(fd);
	ck_assert_int_ge(closed, 0);
	ck_assert_int_eq(close(closed), 0);
	assert_status(ringo_fs_register_fd(&loop, closed), -EBADF);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	ck_assert_int_eq(F.calls, 0);
	/* The refused calls left the descriptor working. */
	ck_assert_int_eq(FS(ringo_fs_read(&loop, REQ, d, buf, sizeof(buf), 0, on_fs)), 0);
	ck_assert_int_eq(close(fd), 0);
	assert_status(ringo_fs_unregister_fd(&loop, d), 0);
}
END_TEST

/* ftruncate on the work pool cannot use the ring's table. */
START_TEST(test_pool_ftruncate_refused)
{
	struct ringo_loop_opts opts;
	int d;

	REQUIRE_LOOP();
	loop_fixture_close();
	ringo_loop_opts_init(&opts);
	opts.flags = RINGO_LOOP_NO_FS_RING_OPS;
	loop_fixture_open(&opts);
	d = direct_file();
	memset(&F, 0, sizeof(F));
	assert_status(ringo_fs_ftruncate(&loop, REQ, d, 0, on_fs), -EBADF);
	assert_status(ringo_fs_unregister_fd(&loop, d), 0);
}
END_TEST

/* The table is as large as RLIMIT_NOFILE allows; freed slots come back. */
START_TEST(test_table_full)
{
	enum { LIMIT = 48 };
	struct rlimit old, rl;
	int d[LIMIT], fd, extra, i;

	REQUIRE_LOOP();
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	rl = old;
	rl.rlim_cur = LIMIT;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	fd = open_file();
	for (i = 0; i < LIMIT; i++) {
		d[i] = ringo_fs_register_fd(&loop, fd);
		ck_assert_msg(d[i] >= 0, "slot %d: %s", i, ringo_err_name(d[i]));
	}
	assert_status(ringo_fs_register_fd(&loop, fd), -ENFILE);
	assert_status(ringo_fs_unregister_fd(&loop, d[17]), 0);
	extra = ringo_fs_register_fd(&loop, fd);
	ck_assert_int_eq(extra, d[17]);
	for (i = 0; i < LIMIT; i++)
		assert_status(ringo_fs_unregister_fd(&loop, d[i]), 0);
	ck_assert_int_eq(close(fd), 0);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
}
END_TEST

/* Many more registrations than slots, each used once. */
START_TEST(test_churn)
{
	const int rounds = TEST_SIZE(20000, 3000);
	int fd, i, d;
	char c;

	REQUIRE_LOOP();
	fd = open_file();
	ck_assert_int_eq(pwrite(fd, "q", 1, 0), 1);
	for (i = 0; i < rounds; i++) {
		d = ringo_fs_register_fd(&loop, fd);
		ck_assert_msg(d >= 0, "round %d: %s", i, ringo_err_name(d));
		if (i % 100 == 0) {
			c = 0;
			ck_assert_int_eq(FS(ringo_fs_read(&loop, REQ, d, &c, 1, 0, on_fs)), 1);
			ck_assert_int_eq(c, 'q');
		}
		assert_status(ringo_fs_unregister_fd(&loop, d), 0);
	}
	ck_assert_int_eq(close(fd), 0);
}
END_TEST

static Suite *direct_suite(void)
{
	Suite *s = suite_create("fs_direct");
	TCase *tc = test_tcase(s, "direct", setup, teardown, 60);

	tcase_add_test(tc, test_read_write);
	tcase_add_test(tc, test_splice_both_ends);
	tcase_add_test(tc, test_unregister);
	tcase_add_test(tc, test_per_loop);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_pool_ftruncate_refused);
	tcase_add_test(tc, test_table_full);
	tcase_add_test(tc, test_churn);
	return s;
}

int main(void)
{
	return test_main(direct_suite());
}
