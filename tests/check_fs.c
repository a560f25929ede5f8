/* SPDX-License-Identifier: MIT */
/*
 * File operations through the public API (fs/fs.c): every call's success
 * and its usual errors (ENOENT, EEXIST, EISDIR, ENOTDIR, ENOTEMPTY, EBADF,
 * EINVAL, and EACCES in a child that drops root), reads at and past EOF,
 * offsets of -1 that move the file position, a sparse 5 GiB file read at
 * its end, readv/writev with 64 and IOV_MAX iovecs, ftruncate on the ring
 * and on the work pool (told apart by keeping the pool busy), cancellation
 * of in-flight reads and of a queued work-pool readlink, bad arguments that
 * must fail with -EINVAL before any callback, and a chain of operations
 * started from callbacks. Every test gets a fresh temp dir and a fresh
 * loop; the teardown asserts the loop closes with nothing left.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"

#define owner_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#define GIB (1024LL * 1024 * 1024)
#define NPIPES 3

/* ---- Fixture ---------------------------------------------------------- */

static ringo_loop_t loop;
static int loop_open;			/* the fixture's loop is initialised */
static char tmpdir[PATH_MAX];		/* this test's directory, removed by the teardown */
static int pipes[NPIPES][2];		/* closed by the teardown when >= 0 */

/* A file request that counts its callbacks. */
struct freq {
	ringo_fs_t req;
	int calls;		/* callbacks run */
	int seq;		/* global completion order of the last one */
};

static int seq_counter;
static struct freq F;		/* the request of the synchronous FS() helper */
#define REQ (&F.req)

static void on_fs(ringo_fs_t *req)
{
	struct freq *f = owner_of(req, struct freq, req);

	f->calls++;
	f->seq = seq_counter++;
}

static void freq_reset(struct freq *f)
{
	memset(f, 0, sizeof(*f));
}

static void setup(void)
{
	int i, ret;

	/* Without fork mode (CK_FORK=no) every test must start from zero. */
	seq_counter = 0;
	freq_reset(&F);
	for (i = 0; i < NPIPES; i++)
		pipes[i][0] = pipes[i][1] = -1;
	test_tmpdir(tmpdir, sizeof(tmpdir));
	ret = test_loop_init(&loop, NULL);
	loop_open = ret == 0;
}

static void teardown(void)
{
	int i, ret = 0;

	if (loop_open)
		ret = ringo_loop_close(&loop);
	loop_open = 0;
	for (i = 0; i < NPIPES; i++)
		test_close_pipe(pipes[i]);
	test_rmtree(tmpdir);
	ck_assert_msg(ret == 0, "ringo_loop_close: %s", ringo_err_name(ret));
}

#define REQUIRE_LOOP()                                                                         \
	do {                                                                                   \
		if (!loop_open)                                                                \
			TEST_SKIP("io_uring unavailable");                                     \
	} while (0)

/* Replace the fixture's loop with one built from `opts`. */
static void reopen(unsigned flags, unsigned threadpool_size)
{
	struct ringo_loop_opts opts;
	int ret;

	ck_assert_int_eq(ringo_loop_close(&loop), 0);
	loop_open = 0;
	ringo_loop_opts_init(&opts);
	opts.flags = flags;
	opts.threadpool_size = threadpool_size;
	ret = ringo_loop_init(&loop, &opts);
	ck_assert_msg(ret == 0, "ringo_loop_init(%#x, %u): %s", flags, threadpool_size,
		      ringo_err_name(ret));
	loop_open = 1;
}

/* ---- Helpers ---------------------------------------------------------- */

static const char *err_name(ssize_t v)
{
	return v < 0 ? ringo_err_name((int)v) : "ok";
}

/* Assert that `expr` (a result or -errno) equals `want`, naming both. */
#define EXPECT(expr, want)                                                                     \
	do {                                                                                   \
		ssize_t got_ = (expr), want_ = (want);                                         \
		ck_assert_msg(got_ == want_, "%s: got %zd (%s), want %zd (%s)", #expr, got_, \
			      err_name(got_), want_, err_name(want_));                         \
	} while (0)

/* Run the loop until nothing is alive; the request ran its callback once. */
static ssize_t fs_wait(struct freq *f, int ret)
{
	ck_assert_msg(ret == 0, "start: %s", ringo_err_name(ret));
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(f->calls, 1);
	return f->req.result;
}

/* Start an operation on REQ and run it to completion; its req->result. */
#define FS(call) (freq_reset(&F), fs_wait(&F, (call)))

/* A path inside this test's directory (one of a few rotating buffers). */
static const char *tp(const char *name)
{
	static char bufs[8][PATH_MAX];
	static unsigned next;
	char *b = bufs[next++ % 8];
	int n = snprintf(b, PATH_MAX, "%s/%s", tmpdir, name);

	ck_assert(n > 0 && n < PATH_MAX);
	return b;
}

static int fs_open(const char *path, int flags, mode_t mode)
{
	ssize_t fd = FS(ringo_fs_open(&loop, REQ, path, flags, mode, on_fs));

	ck_assert_msg(fd >= 0, "open %s: %s", path, err_name(fd));
	ck_assert_int_eq(F.req.fs_type, RINGO_FS_OPEN);
	return (int)fd;
}

/* Set-up and checks by plain syscalls. */
static void put_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	ck_assert_int_eq(close(fd), 0);
}

static ssize_t get_file(const char *path, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	n = read(fd, buf, len);
	ck_assert_int_ge(n, 0);
	ck_assert_int_eq(close(fd), 0);
	return n;
}

static off_t file_size(const char *path)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_size;
}

static int exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* An fd number that is not open (it was a moment ago). */
static int closed_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(close(fd), 0);
	return fd;
}

static void fill_pattern(unsigned char *p, size_t len, unsigned seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(i * 31 + seed * 7 + (i >> 8));
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * Poll the loop without blocking for about `ms` or until *calls is set.
 * For loops kept alive by something that will not finish on its own.
 */
static void poll_until(const int *calls, unsigned ms)
{
	unsigned i;

	for (i = 0; i < ms && !*calls; i++) {
		ck_assert_int_ge(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
		if (!*calls)
			sleep_ms(1);
	}
}

/* ---- A work item that keeps a pool thread busy ------------------------ */

struct blocker {
	ringo_work_t work;
	int started_fd;		/* written once the pool thread runs it */
	int release_fd;		/* it returns after reading one byte here */
	int after_calls;
	int status;
};

static void blocker_work(ringo_work_t *work)
{
	struct blocker *b = owner_of(work, struct blocker, work);
	char c = 's';
	ssize_t n;

	n = write(b->started_fd, &c, 1);
	(void)n;
	do
		n = read(b->release_fd, &c, 1);
	while (n < 0 && errno == EINTR);
}

static void blocker_after(ringo_work_t *work, int status)
{
	struct blocker *b = owner_of(work, struct blocker, work);

	b->after_calls++;
	b->status = status;
}

/* Queue b and wait until a pool thread is inside it (uses pipes[0], [1]). */
static void block_pool(struct blocker *b)
{
	char c;

	memset(b, 0, sizeof(*b));
	test_pipe(pipes[0]);
	test_pipe(pipes[1]);
	b->started_fd = pipes[0][1];
	b->release_fd = pipes[1][0];
	ck_assert_int_eq(ringo_work_queue(&loop, &b->work, blocker_work, blocker_after), 0);
	ck_assert_int_eq(read(pipes[0][0], &c, 1), 1);
}

static void release_pool(void)
{
	test_write_byte(pipes[1][1], 'r');
}

/* ---- open, openat, close ---------------------------------------------- */

START_TEST(test_open_create_and_errors)
{
	const char *file = tp("file");
	char buf[8];
	int fd;

	REQUIRE_LOOP();
	fd = fs_open(file, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0640);
	ck_assert(exists(file));
	ck_assert_int_eq(file_size(file), 0);
	ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	EXPECT(write(fd, "xy", 2), 2);
	EXPECT(FS(ringo_fs_close(&loop, REQ, fd, on_fs)), 0);
	ck_assert_int_eq(F.req.fs_type, RINGO_FS_CLOSE);
	ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
	ck_assert_int_eq(get_file(file, buf, sizeof(buf)), 2);

	/* O_TRUNC on an existing file. */
	fd = fs_open(file, O_WRONLY | O_TRUNC | O_CLOEXEC, 0);
	ck_assert_int_eq(file_size(file), 0);
	ck_assert_int_eq(close(fd), 0);

	EXPECT(FS(ringo_fs_open(&loop, REQ, file, O_CREAT | O_EXCL | O_RDWR, 0644, on_fs)),
	       -EEXIST);
	EXPECT(FS(ringo_fs_open(&loop, REQ, tp("missing"), O_RDONLY, 0, on_fs)), -ENOENT);
	EXPECT(FS(ringo_fs_open(&loop, REQ, tp("no/such/dir"), O_CREAT | O_RDWR, 0644, on_fs)),
	       -ENOENT);
	EXPECT(FS(ringo_fs_open(&loop, REQ, tmpdir, O_WRONLY, 0, on_fs)), -EISDIR);
	EXPECT(FS(ringo_fs_open(&loop, REQ, tmpdir, O_RDWR, 0, on_fs)), -EISDIR);
	EXPECT(FS(ringo_fs_open(&loop, REQ, tp("file/below"), O_RDONLY, 0, on_fs)), -ENOTDIR);
	EXPECT(FS(ringo_fs_open(&loop, REQ, tp("file/x"), O_CREAT | O_RDWR, 0644, on_fs)),
	       -ENOTDIR);
	EXPECT(FS(ringo_fs_open(&loop, REQ, file, O_RDONLY | O_DIRECTORY, 0, on_fs)), -ENOTDIR);
	EXPECT(FS(ringo_fs_open(&loop, REQ, "", O_RDONLY, 0, on_fs)), -ENOENT);

	/* A directory opens read-only. */
	fd = fs_open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	ck_assert_int_eq(close(fd), 0);
}
END_TEST

START_TEST(test_openat_relative)
{
	char buf[8];
	int dirfd, fd, filefd;

	REQUIRE_LOOP();
	ck_assert_int_eq(mkdir(tp("sub"), 0755), 0);
	dirfd = fs_open(tp("sub"), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);

	freq_reset(&F);
	fd = (int)fs_wait(&F, ringo_fs_openat(&loop, REQ, dirfd, "rel", O_CREAT | O_RDWR, 0600,
					      on_fs));
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(F.req.fs_type, RINGO_FS_OPEN);
	EXPECT(write(fd, "abc", 3), 3);
	ck_assert_int_eq(close(fd), 0);
	/* Created under the dir fd, not in the working directory. */
	ck_assert_int_eq(get_file(tp("sub/rel"), buf, sizeof(buf)), 3);
	ck_assert_int_eq(memcmp(buf, "abc", 3), 0);

	EXPECT(FS(ringo_fs_openat(&loop, REQ, dirfd, "nope", O_RDONLY, 0, on_fs)), -ENOENT);
	EXPECT(FS(ringo_fs_openat(&loop, REQ, dirfd, "rel", O_CREAT | O_EXCL | O_RDWR, 0600,
				  on_fs)),
	       -EEXIST);
	/* An absolute path ignores dirfd, even a bad one. */
	fd = (int)FS(ringo_fs_openat(&loop, REQ, closed_fd(), tp("sub/rel"), O_RDONLY, 0, on_fs));
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(close(fd), 0);
	/* A relative path needs a directory fd. */
	EXPECT(FS(ringo_fs_openat(&loop, REQ, closed_fd(), "rel", O_RDONLY, 0, on_fs)), -EBADF);
	filefd = open(tp("sub/rel"), O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(filefd, 0);
	EXPECT(FS(ringo_fs_openat(&loop, REQ, filefd, "rel", O_RDONLY, 0, on_fs)), -ENOTDIR);
	ck_assert_int_eq(close(filefd), 0);

	ck_assert_int_eq(close(dirfd), 0);
}
END_TEST

START_TEST(test_close_bad_fd)
{
	REQUIRE_LOOP();
	freq_reset(&F);
	/* A negative fd is refused at once: no callback. */
	EXPECT(ringo_fs_close(&loop, REQ, -1, on_fs), -EBADF);
	EXPECT(ringo_fs_close(&loop, REQ, INT_MIN, on_fs), -EBADF);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(F.calls, 0);
	/* A free fd number fails in the result. */
	EXPECT(FS(ringo_fs_close(&loop, REQ, closed_fd(), on_fs)), -EBADF);
}
END_TEST

/* ---- read, write ------------------------------------------------------ */

START_TEST(test_read_write_offsets)
{
	char buf[32];
	int fd;

	REQUIRE_LOOP();
	fd = fs_open(tp("f"), O_CREAT | O_RDWR | O_CLOEXEC, 0644);

	/* Offset -1 uses and moves the file position: two writes append. */
	EXPECT(FS(ringo_fs_write(&loop, REQ, fd, "abc", 3, -1, on_fs)), 3);
	ck_assert_int_eq(F.req.fs_type, RINGO_FS_WRITE);
	EXPECT(FS(ringo_fs_write(&loop, REQ, fd, "def", 3, -1, on_fs)), 3);
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 6);
	ck_assert_int_eq(get_file(tp("f"), buf, sizeof(buf)), 6);
	ck_assert_int_eq(memcmp(buf, "abcdef", 6), 0);

	/* An explicit offset does not move it. */
	EXPECT(FS(ringo_fs_write(&loop, REQ, fd, "XY", 2, 1, on_fs)), 2);
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 6);
	memset(buf, 0, sizeof(buf));
	EXPECT(FS(ringo_fs_read(&loop, REQ, fd, buf, sizeof(buf), 0, on_fs)), 6);
	ck_assert_int_eq(F.req.fs_type, RINGO_FS_READ);
	ck_assert_int_eq(memcmp(buf, "aXYdef", 6), 0);
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 6);

	/* A read at -1 continues from the position. */
	EXPECT(FS(ringo_fs_read(&loop, REQ, fd, buf, sizeof(buf), -1, on_fs)), 0);
	ck_assert_int_eq(lseek(fd, 2, SEEK_SET), 2);
	memset(buf, 0, sizeof(buf));
	EXPECT(FS(ringo_fs_read(&loop, REQ, fd, buf, 3, -1, on_fs)), 3);
	ck_assert_int_eq(memcmp(buf, "Yde", 3), 0);
	EXPECT(FS(ringo_fs_read(&loop, REQ, fd, buf, 3, -1, on_fs)), 1);
	ck_assert_int_eq(buf[0], 'f');
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 6);

	/* A write past the end leaves a hole of zeros. */
	EXPECT(FS(ringo_fs_write(&loop, REQ, fd, "Z", 1, 10, on_fs)), 1);
	ck_assert_int_eq(file_size(tp("f")), 11);
	memset(buf, 'q', sizeof(buf));
	EXPECT(FS(ringo_fs_read(&loop, REQ, fd, buf, sizeof(buf), 0, on_fs)), 11);
	ck_assert_int_eq(memcmp(buf, "aXYdef\0\0\0\0Z", 11), 0);

	/* Zero-length transfers. */
	EXPECT(FS(ringo_fs_read(&loop, REQ, fd, buf, 0, 0, on_fs)), 0);
	EXPECT(FS(ringo_fs_write(&loop, REQ, fd, buf, 0, 0, on_fs)), 0);
	ck_assert_int_eq(file_size(tp("f")), 11);

	ck_assert_int_eq(close(fd), 0);
}
END_TEST

START_TEST(test_read_eof)
{
	unsigned char data[100], buf[64];
	int fd;

	REQUIRE_LOOP();
	fill_pattern(data, sizeof(data), 1);
	put_file(tp("f"), data, sizeof(data));
	fd = fs_open(tp("f"), O_RDONLY | O_CLOEXEC, 0);

	/* At EOF and past it: 0. */
	EXPECT(FS(ringo_fs_read(&loop, REQ, fd, buf, sizeof(buf), 100, on_fs)), 0);
	EXPECT(FS(ringo_fs_read(&loop, REQ, fd, buf, sizeof(buf), 101, on_fs)), 0);
	EXPECT(FS(ringo_fs_read(&loop, REQ, fd, buf, sizeof(buf), 4 * GIB, on_fs)), 0);
	/* Across EOF: short. */
	EXPECT(FS(ringo_fs_read(&loop, REQ, fd, buf, sizeof(buf), 90, on_fs)), 10);
	ck_assert_int_eq(memcmp(buf, data + 90, 10), 0);
	EXPECT(FS(ringo_fs_read(&loop, REQ, fd, buf, sizeof(buf), 99, on_fs)), 1);
	ck_assert_int_eq(buf[0], data[99]);
	/* The position reads to the end, then 0. */
	EXPECT(FS(ringo_fs_read(&loop, REQ, fd, buf, sizeof(buf), -1, on_fs)), 64);
	ck_assert_int_eq(memcmp(buf, data, 64), 0);
	EXPECT(FS(ringo_fs_read(&loop, REQ, fd, buf, sizeof(buf), -1, on_fs)), 36);
	ck_assert_int_eq(memcmp(buf, data + 64, 36), 0);
	EXPECT(FS(ringo_fs_read(&loop, REQ, fd, buf, sizeof(buf), -1, on_fs)), 0);
	EXPECT(FS(ringo_fs_read(&loop, REQ, fd, buf, sizeof(buf), -1, on_fs)), 0);

	ck_assert_int_eq(close(fd), 0);
}
END_TEST

START_TEST(test_read_write_errors)
{
	char buf[16];
	int fd, dirfd, rfd;

	REQUIRE_LOOP();
	put_file(tp("f"), "hello", 5);
	rfd = fs_open(tp("f"), O_RDONLY | O_CLOEXEC, 0);
	fd = fs_open(tp("f"), O_WRONLY | O_CLOEXEC, 0);
	dirfd = fs_open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);

	EXPECT(FS(ringo_fs_read(&loop, REQ, closed_fd(), buf, 4, 0, on_fs)), -EBADF);
	EXPECT(FS(ringo_fs_write(&loop, REQ, closed_fd(), "x", 1, 0, on_fs)), -EBADF);
	EXPECT(FS(ringo_fs_read(&loop, REQ, -1, buf, 4, 0, on_fs)), -EBADF);
	/* Wrong access mode. */
	EXPECT(FS(ringo_fs_read(&loop, REQ, fd, buf, 4, 0, on_fs)), -EBADF);
	EXPECT(FS(ringo_fs_write(&loop, REQ, rfd, "x", 1, 0, on_fs)), -EBADF);
	/* A directory. */
	EXPECT(FS(ringo_fs_read(&loop, REQ, dirfd, buf, 4, 0, on_fs)), -EISDIR);
	ck_assert_int_eq(get_file(tp("f"), buf, sizeof(buf)), 5);

	ck_assert_int_eq(close(rfd), 0);
	ck_assert_int_eq(close(fd), 0);
	ck_assert_int_eq(close(dirfd), 0);
}
END_TEST

/*
 * A 5 GiB sparse file: its size comes from ftruncate, 4 KiB are written at
 * its very end through an offset above 4 GiB (and so above 32 bits), and
 * read back there. Nothing near 5 GiB is written for real.
 */
START_TEST(test_sparse_5gib)
{
	const int64_t size = 5 * GIB, tail = size - 4096;
	unsigned char *data, *buf;
	int fd;

	REQUIRE_LOOP();
	data = malloc(4096);
	buf = malloc(8192);
	ck_assert_ptr_nonnull(data);
	ck_assert_ptr_nonnull(buf);
	fill_pattern(data, 4096, 5);
	fd = fs_open(tp("big"), O_CREAT | O_RDWR | O_CLOEXEC, 0644);

	EXPECT(FS(ringo_fs_ftruncate(&loop, REQ, fd, size, on_fs)), 0);
	EXPECT(FS(ringo_fs_write(&loop, REQ, fd, data, 4096, tail, on_fs)), 4096);
	EXPECT(FS(ringo_fs_fstat(&loop, REQ, fd, on_fs)), 0);
	ck_assert_uint_eq(F.req.statbuf.size, (uint64_t)size);
	/* Sparse: far less than 5 GiB is allocated. */
	ck_assert_uint_lt(F.req.statbuf.blocks, 2048);

	memset(buf, 0xee, 8192);
	EXPECT(FS(ringo_fs_read(&loop, REQ, fd, buf, 4096, tail, on_fs)), 4096);
	ck_assert_int_eq(memcmp(buf, data, 4096), 0);
	/* The hole before it reads as zeros; the bytes follow at the right place. */
	memset(buf, 0xee, 8192);
	EXPECT(FS(ringo_fs_read(&loop, REQ, fd, buf, 8192, size - 8192, on_fs)), 8192);
	ck_assert_int_eq(buf[0], 0);
	ck_assert_int_eq(memcmp(buf, buf + 1, 4095), 0);
	ck_assert_int_eq(memcmp(buf + 4096, data, 4096), 0);
	/* A short read across the end, then EOF. */
	EXPECT(FS(ringo_fs_read(&loop, REQ, fd, buf, 8192, size - 100, on_fs)), 100);
	ck_assert_int_eq(memcmp(buf, data + 4096 - 100, 100), 0);
	EXPECT(FS(ringo_fs_read(&loop, REQ, fd, buf, 8192, size, on_fs)), 0);
	/* Just above 4 GiB: a hole, not a wrap to offset 0. */
	EXPECT(FS(ringo_fs_write(&loop, REQ, fd, "low", 3, 0, on_fs)), 3);
	memset(buf, 0xee, 16);
	EXPECT(FS(ringo_fs_read(&loop, REQ, fd, buf, 16, 4 * GIB, on_fs)), 16);
	ck_assert_int_eq(memcmp(buf, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16), 0);
	EXPECT(pread(fd, buf, 4096, tail), 4096);
	ck_assert_int_eq(memcmp(buf, data, 4096), 0);

	ck_assert_int_eq(close(fd), 0);
	free(data);
	free(buf);
}
END_TEST

/* ---- readv, writev ---------------------------------------------------- */

#define NIOV 64

START_TEST(test_readv_writev_64)
{
	static unsigned char src[NIOV][128], dst[NIOV][128];
	struct iovec wiov[NIOV], riov[NIOV];
	size_t total = 0, off = 0;
	unsigned char *flat;
	int fd, i;

	REQUIRE_LOOP();
	for (i = 0; i < NIOV; i++) {
		fill_pattern(src[i], sizeof(src[i]), (unsigned)i + 1);
		wiov[i].iov_base = src[i];
		wiov[i].iov_len = (size_t)(i % 5 == 4 ? 0 : 1 + (i * 37) % 128);
		total += wiov[i].iov_len;
	}
	fd = fs_open(tp("v"), O_CREAT | O_RDWR | O_CLOEXEC, 0644);

	EXPECT(FS(ringo_fs_writev(&loop, REQ, fd, wiov, NIOV, 0, on_fs)), (ssize_t)total);
	ck_assert_int_eq(F.req.fs_type, RINGO_FS_WRITEV);
	ck_assert_int_eq(file_size(tp("v")), (off_t)total);
	flat = malloc(total + 1);
	ck_assert_ptr_nonnull(flat);
	EXPECT(pread(fd, flat, total + 1, 0), (ssize_t)total);
	for (i = 0; i < NIOV; i++) {
		ck_assert_int_eq(memcmp(flat + off, src[i], wiov[i].iov_len), 0);
		off += wiov[i].iov_len;
	}

	/* Read back into 64 buffers cut differently. */
	memset(dst, 0, sizeof(dst));
	for (i = 0; i < NIOV; i++) {
		riov[i].iov_base = dst[i];
		riov[i].iov_len = wiov[NIOV - 1 - i].iov_len;
	}
	EXPECT(FS(ringo_fs_readv(&loop, REQ, fd, riov, NIOV, 0, on_fs)), (ssize_t)total);
	ck_assert_int_eq(F.req.fs_type, RINGO_FS_READV);
	for (off = 0, i = 0; i < NIOV; i++) {
		ck_assert_int_eq(memcmp(dst[i], flat + off, riov[i].iov_len), 0);
		off += riov[i].iov_len;
	}

	/* At -1 the position moves: a second writev appends the same bytes. */
	ck_assert_int_eq(lseek(fd, 0, SEEK_END), (off_t)total);
	EXPECT(FS(ringo_fs_writev(&loop, REQ, fd, wiov, NIOV, -1, on_fs)), (ssize_t)total);
	ck_assert_int_eq(file_size(tp("v")), (off_t)(2 * total));
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), (off_t)(2 * total));
	ck_assert_int_eq(lseek(fd, (off_t)total, SEEK_SET), (off_t)total);
	memset(dst, 0, sizeof(dst));
	EXPECT(FS(ringo_fs_readv(&loop, REQ, fd, riov, NIOV, -1, on_fs)), (ssize_t)total);
	for (off = 0, i = 0; i < NIOV; i++) {
		ck_assert_int_eq(memcmp(dst[i], flat + off, riov[i].iov_len), 0);
		off += riov[i].iov_len;
	}
	/* Past the end: a short readv, then 0. */
	EXPECT(FS(ringo_fs_readv(&loop, REQ, fd, riov, NIOV, (int64_t)(2 * total) - 10, on_fs)),
	       10);
	EXPECT(FS(ringo_fs_readv(&loop, REQ, fd, riov, NIOV, -1, on_fs)), 0);
	EXPECT(FS(ringo_fs_readv(&loop, REQ, closed_fd(), riov, NIOV, 0, on_fs)), -EBADF);

	free(flat);
	ck_assert_int_eq(close(fd), 0);
}
END_TEST

/* IOV_MAX iovecs is the most the kernel takes: accepted; one more is not. */
START_TEST(test_writev_iov_max)
{
	static struct iovec iov[IOV_MAX + 1];
	static unsigned char bytes[IOV_MAX + 1], back[IOV_MAX + 1];
	int fd, i;

	REQUIRE_LOOP();
	for (i = 0; i <= IOV_MAX; i++) {
		bytes[i] = (unsigned char)(i * 13 + 1);
		iov[i].iov_base = &bytes[i];
		iov[i].iov_len = 1;
	}
	fd = fs_open(tp("m"), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	EXPECT(FS(ringo_fs_writev(&loop, REQ, fd, iov, IOV_MAX, 0, on_fs)), IOV_MAX);
	EXPECT(pread(fd, back, sizeof(back), 0), IOV_MAX);
	ck_assert_int_eq(memcmp(back, bytes, IOV_MAX), 0);

	freq_reset(&F);
	EXPECT(ringo_fs_writev(&loop, REQ, fd, iov, IOV_MAX + 1, 0, on_fs), -EINVAL);
	EXPECT(ringo_fs_readv(&loop, REQ, fd, iov, IOV_MAX + 1, 0, on_fs), -EINVAL);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(F.calls, 0);
	ck_assert_int_eq(file_size(tp("m")), IOV_MAX);
	ck_assert_int_eq(close(fd), 0);
}
END_TEST

/* ---- fsync, fdatasync, fallocate, fadvise ----------------------------- */

START_TEST(test_fsync_fdatasync)
{
	int fd, bad;

	REQUIRE_LOOP();
	fd = fs_open(tp("s"), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	bad = closed_fd();
	EXPECT(FS(ringo_fs_write(&loop, REQ, fd, "sync", 4, 0, on_fs)), 4);
	EXPECT(FS(ringo_fs_fsync(&loop, REQ, fd, on_fs)), 0);
	ck_assert_int_eq(F.req.fs_type, RINGO_FS_FSYNC);
	EXPECT(FS(ringo_fs_fdatasync(&loop, REQ, fd, on_fs)), 0);
	ck_assert_int_eq(F.req.fs_type, RINGO_FS_FDATASYNC);
	EXPECT(FS(ringo_fs_fsync(&loop, REQ, bad, on_fs)), -EBADF);
	EXPECT(FS(ringo_fs_fdatasync(&loop, REQ, bad, on_fs)), -EBADF);
	EXPECT(FS(ringo_fs_fsync(&loop, REQ, -1, on_fs)), -EBADF);
	ck_assert_int_eq(close(fd), 0);
}
END_TEST

START_TEST(test_fallocate)
{
	struct stat st;
	blkcnt_t blocks;
	int fd;

	REQUIRE_LOOP();
	fd = fs_open(tp("a"), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	freq_reset(&F);
	ck_assert_int_eq(ringo_fs_fallocate(&loop, REQ, fd, 0, 0, 8192, on_fs), 0);
	fs_wait(&F, 0);
	if (F.req.result == -EOPNOTSUPP) {
		ck_assert_int_eq(close(fd), 0);
		TEST_SKIP("the file system of %s lacks fallocate", tmpdir);
	}
	EXPECT(F.req.result, 0);
	ck_assert_int_eq(F.req.fs_type, RINGO_FS_FALLOCATE);
	ck_assert_int_eq(file_size(tp("a")), 8192);

	/* Growing inside the file: size unchanged. */
	EXPECT(FS(ringo_fs_fallocate(&loop, REQ, fd, 0, 0, 4096, on_fs)), 0);
	ck_assert_int_eq(file_size(tp("a")), 8192);
	/* KEEP_SIZE past the end allocates without changing the size. */
	ck_assert_int_eq(fstat(fd, &st), 0);
	blocks = st.st_blocks;
	EXPECT(FS(ringo_fs_fallocate(&loop, REQ, fd, FALLOC_FL_KEEP_SIZE, 8192, 65536, on_fs)),
	       0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(st.st_size, 8192);
	ck_assert_int_gt(st.st_blocks, blocks);
	/* Without it, past the end: the size follows. */
	EXPECT(FS(ringo_fs_fallocate(&loop, REQ, fd, 0, 100000, 1000, on_fs)), 0);
	ck_assert_int_eq(file_size(tp("a")), 101000);

	EXPECT(FS(ringo_fs_fallocate(&loop, REQ, closed_fd(), 0, 0, 4096, on_fs)), -EBADF);
	/* PUNCH_HOLE needs KEEP_SIZE. */
	EXPECT(FS(ringo_fs_fallocate(&loop, REQ, fd, FALLOC_FL_PUNCH_HOLE, 0, 4096, on_fs)),
	       -EOPNOTSUPP);
	ck_assert_int_eq(close(fd), 0);

	/* A read-only fd. */
	fd = fs_open(tp("a"), O_RDONLY | O_CLOEXEC, 0);
	EXPECT(FS(ringo_fs_fallocate(&loop, REQ, fd, 0, 0, 4096, on_fs)), -EBADF);
	ck_assert_int_eq(close(fd), 0);
}
END_TEST

START_TEST(test_fadvise)
{
	int fd;

	REQUIRE_LOOP();
	put_file(tp("f"), "advice", 6);
	fd = fs_open(tp("f"), O_RDONLY | O_CLOEXEC, 0);
	EXPECT(FS(ringo_fs_fadvise(&loop, REQ, fd, 0, 0, POSIX_FADV_SEQUENTIAL, on_fs)), 0);
	ck_assert_int_eq(F.req.fs_type, RINGO_FS_FADVISE);
	EXPECT(FS(ringo_fs_fadvise(&loop, REQ, fd, 0, 6, POSIX_FADV_WILLNEED, on_fs)), 0);
	EXPECT(FS(ringo_fs_fadvise(&loop, REQ, fd, 0, 6, POSIX_FADV_DONTNEED, on_fs)), 0);
	EXPECT(FS(ringo_fs_fadvise(&loop, REQ, fd, 0, 0, 999, on_fs)), -EINVAL);
	EXPECT(FS(ringo_fs_fadvise(&loop, REQ, closed_fd(), 0, 0, POSIX_FADV_NORMAL, on_fs)),
	       -EBADF);
	ck_assert_int_eq(close(fd), 0);
}
END_TEST

/* ---- ftruncate on the ring and on the work pool ----------------------- */

/*
 * With the one pool thread kept busy, an ftruncate on the ring completes
 * and one on the pool waits: that is how the two paths are told apart.
 */
static void check_ftruncate(int on_pool)
{
	unsigned char buf[8192], data[100];
	struct blocker b;
	int fd, rfd, i;

	fill_pattern(data, sizeof(data), 3);
	put_file(tp("t"), data, sizeof(data));
	fd = fs_open(tp("t"), O_RDWR | O_CLOEXEC, 0);

	block_pool(&b);
	freq_reset(&F);
	ck_assert_int_eq(ringo_fs_ftruncate(&loop, REQ, fd, 10, on_fs), 0);
	ck_assert_int_eq(F.req.fs_type, RINGO_FS_FTRUNCATE);
	poll_until(&F.calls, on_pool ? 100 : 5000);
	if (on_pool) {
		ck_assert_msg(F.calls == 0, "ftruncate ran with the work pool busy");
		ck_assert_int_eq(file_size(tp("t")), 100);
	} else {
		ck_assert_msg(F.calls == 1, "ftruncate waited for the busy work pool");
		EXPECT(F.req.result, 0);
		ck_assert_int_eq(file_size(tp("t")), 10);
	}
	release_pool();
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(b.after_calls, 1);
	ck_assert_int_eq(b.status, 0);
	ck_assert_int_eq(F.calls, 1);
	EXPECT(F.req.result, 0);
	ck_assert_int_eq(file_size(tp("t")), 10);

	/* Grow: the old bytes stay, the new ones read as zeros. */
	EXPECT(FS(ringo_fs_ftruncate(&loop, REQ, fd, 5000, on_fs)), 0);
	ck_assert_int_eq(file_size(tp("t")), 5000);
	EXPECT(pread(fd, buf, sizeof(buf), 0), 5000);
	ck_assert_int_eq(memcmp(buf, data, 10), 0);
	for (i = 10; i < 5000; i++)
		ck_assert_int_eq(buf[i], 0);
	/* Shrink to nothing. */
	EXPECT(FS(ringo_fs_ftruncate(&loop, REQ, fd, 0, on_fs)), 0);
	ck_assert_int_eq(file_size(tp("t")), 0);
	/* Above 4 GiB. */
	EXPECT(FS(ringo_fs_ftruncate(&loop, REQ, fd, 4 * GIB + 1, on_fs)), 0);
	ck_assert_int_eq(file_size(tp("t")), 4 * GIB + 1);

	/* Errors arrive in the result on both paths. */
	EXPECT(FS(ringo_fs_ftruncate(&loop, REQ, closed_fd(), 0, on_fs)), -EBADF);
	rfd = fs_open(tp("t"), O_RDONLY | O_CLOEXEC, 0);
	EXPECT(FS(ringo_fs_ftruncate(&loop, REQ, rfd, 0, on_fs)), -EINVAL);
	ck_assert_int_eq(close(rfd), 0);
	ck_assert_int_eq(file_size(tp("t")), 4 * GIB + 1);

	freq_reset(&F);
	EXPECT(ringo_fs_ftruncate(&loop, REQ, fd, -1, on_fs), -EINVAL);
	EXPECT(ringo_fs_ftruncate(&loop, REQ, fd, INT64_MIN, on_fs), -EINVAL);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(F.calls, 0);
	ck_assert_int_eq(close(fd), 0);
}

START_TEST(test_ftruncate_ring)
{
	REQUIRE_LOOP();
	if (!test_kernel_at_least(6, 9))
		TEST_SKIP("IORING_OP_FTRUNCATE needs Linux 6.9");
	reopen(0, 1);
	check_ftruncate(0);
}
END_TEST

START_TEST(test_ftruncate_pool)
{
	REQUIRE_LOOP();
	reopen(RINGO_LOOP_NO_FS_RING_OPS, 1);
	check_ftruncate(1);
}
END_TEST

/* ---- stat, lstat, fstat ----------------------------------------------- */

START_TEST(test_stat_family)
{
	char data[100];
	struct timespec now;
	struct stat st;
	int64_t now_ns;
	int fd;

	REQUIRE_LOOP();
	memset(data, 's', sizeof(data));
	put_file(tp("f"), data, sizeof(data));
	ck_assert_int_eq(chmod(tp("f"), 0640), 0);
	ck_assert_int_eq(stat(tp("f"), &st), 0);
	ck_assert_int_eq(clock_gettime(CLOCK_REALTIME, &now), 0);
	now_ns = (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;

	EXPECT(FS(ringo_fs_stat(&loop, REQ, tp("f"), on_fs)), 0);
	ck_assert_int_eq(F.req.fs_type, RINGO_FS_STAT);
	ck_assert_uint_eq(F.req.statbuf.size, 100);
	ck_assert(S_ISREG(F.req.statbuf.mode));
	ck_assert_uint_eq(F.req.statbuf.mode & 07777, 0640);
	ck_assert_uint_eq(F.req.statbuf.nlink, 1);
	ck_assert_uint_eq(F.req.statbuf.ino, st.st_ino);
	ck_assert_uint_eq(F.req.statbuf.dev, st.st_dev);
	ck_assert_uint_eq(F.req.statbuf.uid, st.st_uid);
	ck_assert_uint_eq(F.req.statbuf.gid, st.st_gid);
	ck_assert_uint_eq(F.req.statbuf.blocks, (uint64_t)st.st_blocks);
	ck_assert_int_eq(F.req.statbuf.mtime_ns,
			 (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec);
	ck_assert_int_eq(F.req.statbuf.ctime_ns,
			 (int64_t)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec);
	/* Written just now (file system clocks are coarse: allow seconds). */
	ck_assert_int_lt(llabs(F.req.statbuf.mtime_ns - now_ns), 10 * 1000000000LL);
	ck_assert_str_eq(F.req.path, tp("f"));

	/* fstat sees the same file. */
	fd = fs_open(tp("f"), O_RDONLY | O_CLOEXEC, 0);
	EXPECT(FS(ringo_fs_fstat(&loop, REQ, fd, on_fs)), 0);
	ck_assert_int_eq(F.req.fs_type, RINGO_FS_FSTAT);
	ck_assert_uint_eq(F.req.statbuf.ino, st.st_ino);
	ck_assert_uint_eq(F.req.statbuf.size, 100);
	ck_assert(S_ISREG(F.req.statbuf.mode));
	ck_assert_int_eq(close(fd), 0);

	/* A directory. */
	ck_assert_int_eq(mkdir(tp("d"), 0750), 0);
	EXPECT(FS(ringo_fs_stat(&loop, REQ, tp("d"), on_fs)), 0);
	ck_assert(S_ISDIR(F.req.statbuf.mode));
	ck_assert_uint_eq(F.req.statbuf.mode & 07777, 0750);
	fd = fs_open(tp("d"), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	EXPECT(FS(ringo_fs_fstat(&loop, REQ, fd, on_fs)), 0);
	ck_assert(S_ISDIR(F.req.statbuf.mode));
	ck_assert_int_eq(close(fd), 0);

	/* lstat sees the link, stat follows it. */
	ck_assert_int_eq(symlink("f", tp("l")), 0);
	EXPECT(FS(ringo_fs_lstat(&loop, REQ, tp("l"), on_fs)), 0);
	ck_assert_int_eq(F.req.fs_type, RINGO_FS_LSTAT);
	ck_assert(S_ISLNK(F.req.statbuf.mode));
	ck_assert_uint_eq(F.req.statbuf.size, 1);
	ck_assert_uint_ne(F.req.statbuf.ino, st.st_ino);
	EXPECT(FS(ringo_fs_stat(&loop, REQ, tp("l"), on_fs)), 0);
	ck_assert(S_ISREG(F.req.statbuf.mode));
	ck_assert_uint_eq(F.req.statbuf.ino, st.st_ino);
	ck_assert_uint_eq(F.req.statbuf.size, 100);
	/* lstat of a plain file is stat. */
	EXPECT(FS(ringo_fs_lstat(&loop, REQ, tp("f"), on_fs)), 0);
	ck_assert(S_ISREG(F.req.statbuf.mode));

	/* A dangling link: lstat works, stat does not. */
	ck_assert_int_eq(symlink("nowhere", tp("dangling")), 0);
	EXPECT(FS(ringo_fs_lstat(&loop, REQ, tp("dangling"), on_fs)), 0);
	ck_assert(S_ISLNK(F.req.statbuf.mode));
	ck_assert_uint_eq(F.req.statbuf.size, 7);
	EXPECT(FS(ringo_fs_stat(&loop, REQ, tp("dangling"), on_fs)), -ENOENT);

	/* Errors. */
	EXPECT(FS(ringo_fs_stat(&loop, REQ, tp("missing"), on_fs)), -ENOENT);
	EXPECT(FS(ringo_fs_lstat(&loop, REQ, tp("missing"), on_fs)), -ENOENT);
	EXPECT(FS(ringo_fs_stat(&loop, REQ, tp("f/below"), on_fs)), -ENOTDIR);
	EXPECT(FS(ringo_fs_stat(&loop, REQ, "", on_fs)), -ENOENT);
	EXPECT(FS(ringo_fs_fstat(&loop, REQ, closed_fd(), on_fs)), -EBADF);
	freq_reset(&F);
	EXPECT(ringo_fs_fstat(&loop, REQ, -1, on_fs), -EBADF);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(F.calls, 0);
}
END_TEST

/* ---- rename, unlink, rmdir, mkdir ------------------------------------- */

START_TEST(test_rename)
{
	char buf[16];

	REQUIRE_LOOP();
	put_file(tp("a"), "AAA", 3);
	EXPECT(FS(ringo_fs_rename(&loop, REQ, tp("a"), tp("b"), on_fs)), 0);
	ck_assert_int_eq(F.req.fs_type, RINGO_FS_RENAME);
	ck_assert(!exists(tp("a")));
	ck_assert_int_eq(get_file(tp("b"), buf, sizeof(buf)), 3);
	ck_assert_int_eq(memcmp(buf, "AAA", 3), 0);

	/* Over an existing file: replaced. */
	put_file(tp("c"), "CCCCC", 5);
	EXPECT(FS(ringo_fs_rename(&loop, REQ, tp("b"), tp("c"), on_fs)), 0);
	ck_assert(!exists(tp("b")));
	ck_assert_int_eq(get_file(tp("c"), buf, sizeof(buf)), 3);
	ck_assert_int_eq(memcmp(buf, "AAA", 3), 0);

	/* Onto itself: nothing happens. */
	EXPECT(FS(ringo_fs_rename(&loop, REQ, tp("c"), tp("c"), on_fs)), 0);
	ck_assert(exists(tp("c")));

	/* Directories. */
	ck_assert_int_eq(mkdir(tp("d1"), 0755), 0);
	ck_assert_int_eq(mkdir(tp("d2"), 0755), 0);
	put_file(tp("d2/x"), "x", 1);
	EXPECT(FS(ringo_fs_rename(&loop, REQ, tp("d1"), tp("d3"), on_fs)), 0);
	ck_assert(exists(tp("d3")));
	EXPECT(FS(ringo_fs_rename(&loop, REQ, tp("d3"), tp("d2"), on_fs)), -ENOTEMPTY);
	EXPECT(FS(ringo_fs_rename(&loop, REQ, tp("c"), tp("d3"), on_fs)), -EISDIR);
	EXPECT(FS(ringo_fs_rename(&loop, REQ, tp("d3"), tp("c"), on_fs)), -ENOTDIR);
	EXPECT(FS(ringo_fs_rename(&loop, REQ, tp("d2"), tp("d2/x/y"), on_fs)), -ENOTDIR);
	EXPECT(FS(ringo_fs_rename(&loop, REQ, tp("d2"), tp("d2/sub"), on_fs)), -EINVAL);

	EXPECT(FS(ringo_fs_rename(&loop, REQ, tp("missing"), tp("z"), on_fs)), -ENOENT);
	EXPECT(FS(ringo_fs_rename(&loop, REQ, tp("c"), tp("no/such/z"), on_fs)), -ENOENT);
	ck_assert(!exists(tp("z")));
	ck_assert(exists(tp("c")));
}
END_TEST

START_TEST(test_unlink)
{
	REQUIRE_LOOP();
	put_file(tp("f"), "x", 1);
	EXPECT(FS(ringo_fs_unlink(&loop, REQ, tp("f"), on_fs)), 0);
	ck_assert_int_eq(F.req.fs_type, RINGO_FS_UNLINK);
	ck_assert(!exists(tp("f")));
	EXPECT(FS(ringo_fs_unlink(&loop, REQ, tp("f"), on_fs)), -ENOENT);

	ck_assert_int_eq(mkdir(tp("d"), 0755), 0);
	EXPECT(FS(ringo_fs_unlink(&loop, REQ, tp("d"), on_fs)), -EISDIR);
	ck_assert(exists(tp("d")));

	put_file(tp("g"), "x", 1);
	EXPECT(FS(ringo_fs_unlink(&loop, REQ, tp("g/below"), on_fs)), -ENOTDIR);

	/* A symlink goes, its target stays. */
	ck_assert_int_eq(symlink("g", tp("l")), 0);
	EXPECT(FS(ringo_fs_unlink(&loop, REQ, tp("l"), on_fs)), 0);
	ck_assert(!exists(tp("l")));
	ck_assert(exists(tp("g")));
}
END_TEST

START_TEST(test_rmdir)
{
	REQUIRE_LOOP();
	ck_assert_int_eq(mkdir(tp("d"), 0755), 0);
	EXPECT(FS(ringo_fs_rmdir(&loop, REQ, tp("d"), on_fs)), 0);
	ck_assert_int_eq(F.req.fs_type, RINGO_FS_RMDIR);
	ck_assert(!exists(tp("d")));
	EXPECT(FS(ringo_fs_rmdir(&loop, REQ, tp("d"), on_fs)), -ENOENT);

	ck_assert_int_eq(mkdir(tp("full"), 0755), 0);
	put_file(tp("full/x"), "x", 1);
	EXPECT(FS(ringo_fs_rmdir(&loop, REQ, tp("full"), on_fs)), -ENOTEMPTY);
	ck_assert(exists(tp("full/x")));

	put_file(tp("f"), "x", 1);
	EXPECT(FS(ringo_fs_rmdir(&loop, REQ, tp("f"), on_fs)), -ENOTDIR);
	ck_assert(exists(tp("f")));
	ck_assert_int_eq(symlink("full", tp("l")), 0);
	EXPECT(FS(ringo_fs_rmdir(&loop, REQ, tp("l"), on_fs)), -ENOTDIR);
	EXPECT(FS(ringo_fs_rmdir(&loop, REQ, tp("full/."), on_fs)), -EINVAL);
}
END_TEST

START_TEST(test_mkdir)
{
	struct stat st;

	REQUIRE_LOOP();
	EXPECT(FS(ringo_fs_mkdir(&loop, REQ, tp("d"), 0700, on_fs)), 0);
	ck_assert_int_eq(F.req.fs_type, RINGO_FS_MKDIR);
	ck_assert_int_eq(stat(tp("d"), &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	EXPECT(FS(ringo_fs_mkdir(&loop, REQ, tp("d/e"), 0755, on_fs)), 0);
	ck_assert(exists(tp("d/e")));

	EXPECT(FS(ringo_fs_mkdir(&loop, REQ, tp("d"), 0755, on_fs)), -EEXIST);
	put_file(tp("f"), "x", 1);
	EXPECT(FS(ringo_fs_mkdir(&loop, REQ, tp("f"), 0755, on_fs)), -EEXIST);
	EXPECT(FS(ringo_fs_mkdir(&loop, REQ, tp("no/such"), 0755, on_fs)), -ENOENT);
	EXPECT(FS(ringo_fs_mkdir(&loop, REQ, tp("f/sub"), 0755, on_fs)), -ENOTDIR);
}
END_TEST

/* ---- symlink, readlink, link ------------------------------------------ */

START_TEST(test_symlink_readlink)
{
	/* Bytes a C string may hold, not all of them pretty. */
	static const char target[] = "../some dir/\x01\x7f\xc3\xa9 target";
	const size_t tlen = sizeof(target) - 1;
	char buf[128];

	REQUIRE_LOOP();
	EXPECT(FS(ringo_fs_symlink(&loop, REQ, target, tp("l"), on_fs)), 0);
	ck_assert_int_eq(F.req.fs_type, RINGO_FS_SYMLINK);

	memset(buf, 'Z', sizeof(buf));
	EXPECT(FS(ringo_fs_readlink(&loop, REQ, tp("l"), buf, sizeof(buf), on_fs)),
	       (ssize_t)tlen);
	ck_assert_int_eq(F.req.fs_type, RINGO_FS_READLINK);
	ck_assert_int_eq(memcmp(buf, target, tlen), 0);
	ck_assert_int_eq(buf[tlen], 'Z'); /* not NUL-terminated */

	/* A buffer exactly as long, and one shorter: cut, result == len. */
	memset(buf, 'Z', sizeof(buf));
	EXPECT(FS(ringo_fs_readlink(&loop, REQ, tp("l"), buf, tlen, on_fs)), (ssize_t)tlen);
	ck_assert_int_eq(memcmp(buf, target, tlen), 0);
	memset(buf, 'Z', sizeof(buf));
	EXPECT(FS(ringo_fs_readlink(&loop, REQ, tp("l"), buf, 5, on_fs)), 5);
	ck_assert_int_eq(memcmp(buf, target, 5), 0);
	ck_assert_int_eq(buf[5], 'Z');
	EXPECT(FS(ringo_fs_readlink(&loop, REQ, tp("l"), buf, 1, on_fs)), 1);
	ck_assert_int_eq(buf[0], target[0]);

	/* Errors. */
	EXPECT(FS(ringo_fs_symlink(&loop, REQ, "other", tp("l"), on_fs)), -EEXIST);
	EXPECT(FS(ringo_fs_symlink(&loop, REQ, "x", tp("no/such/l"), on_fs)), -ENOENT);
	EXPECT(FS(ringo_fs_symlink(&loop, REQ, "", tp("empty"), on_fs)), -ENOENT);
	put_file(tp("f"), "x", 1);
	EXPECT(FS(ringo_fs_readlink(&loop, REQ, tp("f"), buf, sizeof(buf), on_fs)), -EINVAL);
	EXPECT(FS(ringo_fs_readlink(&loop, REQ, tmpdir, buf, sizeof(buf), on_fs)), -EINVAL);
	EXPECT(FS(ringo_fs_readlink(&loop, REQ, tp("missing"), buf, sizeof(buf), on_fs)),
	       -ENOENT);
	EXPECT(FS(ringo_fs_readlink(&loop, REQ, tp("f/x"), buf, sizeof(buf), on_fs)), -ENOTDIR);
	/* Through a symlink to a symlink: only the last component is read. */
	ck_assert_int_eq(symlink("l", tp("l2")), 0);
	EXPECT(FS(ringo_fs_readlink(&loop, REQ, tp("l2"), buf, sizeof(buf), on_fs)), 1);
	ck_assert_int_eq(buf[0], 'l');
}
END_TEST

START_TEST(test_link)
{
	char buf[8];

	REQUIRE_LOOP();
	put_file(tp("a"), "link", 4);
	EXPECT(FS(ringo_fs_link(&loop, REQ, tp("a"), tp("b"), on_fs)), 0);
	ck_assert_int_eq(F.req.fs_type, RINGO_FS_LINK);
	EXPECT(FS(ringo_fs_stat(&loop, REQ, tp("a"), on_fs)), 0);
	ck_assert_uint_eq(F.req.statbuf.nlink, 2);
	EXPECT(FS(ringo_fs_stat(&loop, REQ, tp("b"), on_fs)), 0);
	ck_assert_uint_eq(F.req.statbuf.nlink, 2);
	ck_assert_int_eq(get_file(tp("b"), buf, sizeof(buf)), 4);
	ck_assert_int_eq(memcmp(buf, "link", 4), 0);

	EXPECT(FS(ringo_fs_link(&loop, REQ, tp("a"), tp("b"), on_fs)), -EEXIST);
	EXPECT(FS(ringo_fs_link(&loop, REQ, tp("missing"), tp("c"), on_fs)), -ENOENT);
	EXPECT(FS(ringo_fs_link(&loop, REQ, tp("a"), tp("no/such/c"), on_fs)), -ENOENT);
	ck_assert_int_eq(mkdir(tp("d"), 0755), 0);
	EXPECT(FS(ringo_fs_link(&loop, REQ, tp("d"), tp("d2"), on_fs)), -EPERM);

	/* Unlink one name: the other keeps the data, nlink back to 1. */
	EXPECT(FS(ringo_fs_unlink(&loop, REQ, tp("a"), on_fs)), 0);
	EXPECT(FS(ringo_fs_stat(&loop, REQ, tp("b"), on_fs)), 0);
	ck_assert_uint_eq(F.req.statbuf.nlink, 1);
	ck_assert_uint_eq(F.req.statbuf.size, 4);
}
END_TEST

/* ---- splice ----------------------------------------------------------- */

START_TEST(test_splice)
{
	enum { LEN = 3000 };
	unsigned char data[LEN], back[LEN + 1];
	int in, out;

	REQUIRE_LOOP();
	fill_pattern(data, LEN, 9);
	put_file(tp("in"), data, LEN);
	in = fs_open(tp("in"), O_RDONLY | O_CLOEXEC, 0);
	out = fs_open(tp("out"), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	test_pipe(pipes[0]);

	/* file -> pipe from offset 0, then pipe -> file at offset 100. */
	EXPECT(FS(ringo_fs_splice(&loop, REQ, in, 0, pipes[0][1], -1, LEN, 0, on_fs)), LEN);
	ck_assert_int_eq(F.req.fs_type, RINGO_FS_SPLICE);
	ck_assert_int_eq(lseek(in, 0, SEEK_CUR), 0);
	EXPECT(FS(ringo_fs_splice(&loop, REQ, pipes[0][0], -1, out, 100, LEN, 0, on_fs)), LEN);
	ck_assert_int_eq(file_size(tp("out")), 100 + LEN);
	EXPECT(pread(out, back, sizeof(back), 100), LEN);
	ck_assert_int_eq(memcmp(back, data, LEN), 0);

	/* From the middle with the file position (-1): it moves. */
	ck_assert_int_eq(lseek(in, 1000, SEEK_SET), 1000);
	EXPECT(FS(ringo_fs_splice(&loop, REQ, in, -1, pipes[0][1], -1, 500, 0, on_fs)), 500);
	ck_assert_int_eq(lseek(in, 0, SEEK_CUR), 1500);
	EXPECT(read(pipes[0][0], back, sizeof(back)), 500);
	ck_assert_int_eq(memcmp(back, data + 1000, 500), 0);
	/* At EOF: 0. */
	EXPECT(FS(ringo_fs_splice(&loop, REQ, in, LEN, pipes[0][1], -1, 100, 0, on_fs)), 0);

	/* Neither end a pipe. */
	EXPECT(FS(ringo_fs_splice(&loop, REQ, in, 0, out, 0, 100, 0, on_fs)), -EINVAL);
	/* An offset on the pipe end. */
	EXPECT(FS(ringo_fs_splice(&loop, REQ, in, 0, pipes[0][1], 5, 100, 0, on_fs)), -ESPIPE);
	EXPECT(FS(ringo_fs_splice(&loop, REQ, closed_fd(), 0, pipes[0][1], -1, 100, 0, on_fs)),
	       -EBADF);

	ck_assert_int_eq(close(in), 0);
	ck_assert_int_eq(close(out), 0);
}
END_TEST

/* copy_file_range on the pool: explicit offsets leave the file positions
 * alone, -1 uses and moves them, the end of the source gives short counts
 * and then 0. */
START_TEST(test_copy_range)
{
	enum { LEN = 10000 };
	unsigned char data[LEN], back[LEN + 1];
	int in, out;

	REQUIRE_LOOP();
	fill_pattern(data, LEN, 5);
	put_file(tp("in"), data, LEN);
	in = fs_open(tp("in"), O_RDONLY | O_CLOEXEC, 0);
	out = fs_open(tp("out"), O_CREAT | O_RDWR | O_CLOEXEC, 0644);

	EXPECT(FS(ringo_fs_copy_range(&loop, REQ, in, 0, out, 50, 4000, on_fs)), 4000);
	ck_assert_int_eq(F.req.fs_type, RINGO_FS_COPY_RANGE);
	ck_assert_int_eq(lseek(in, 0, SEEK_CUR), 0);
	ck_assert_int_eq(lseek(out, 0, SEEK_CUR), 0);
	ck_assert_int_eq(file_size(tp("out")), 4050);
	EXPECT(pread(out, back, sizeof(back), 50), 4000);
	ck_assert_int_eq(memcmp(back, data, 4000), 0);

	/* File positions: in at 6000, out at its start. */
	ck_assert_int_eq(lseek(in, 6000, SEEK_SET), 6000);
	EXPECT(FS(ringo_fs_copy_range(&loop, REQ, in, -1, out, -1, LEN, on_fs)), LEN - 6000);
	ck_assert_int_eq(lseek(in, 0, SEEK_CUR), LEN);
	ck_assert_int_eq(lseek(out, 0, SEEK_CUR), LEN - 6000);
	EXPECT(pread(out, back, LEN - 6000, 0), LEN - 6000);
	ck_assert_int_eq(memcmp(back, data + 6000, LEN - 6000), 0);
	/* At and past the end: 0. */
	EXPECT(FS(ringo_fs_copy_range(&loop, REQ, in, LEN, out, 0, 10, on_fs)), 0);
	EXPECT(FS(ringo_fs_copy_range(&loop, REQ, in, 5 * GIB, out, 0, 10, on_fs)), 0);

	/* Errors from the kernel and from the arguments. */
	EXPECT(FS(ringo_fs_copy_range(&loop, REQ, closed_fd(), 0, out, 0, 10, on_fs)), -EBADF);
	EXPECT(FS(ringo_fs_copy_range(&loop, REQ, out, 0, in, 0, 10, on_fs)), -EBADF);
	freq_reset(&F);
	EXPECT(ringo_fs_copy_range(&loop, REQ, -1, 0, out, 0, 10, on_fs), -EBADF);
	EXPECT(ringo_fs_copy_range(&loop, REQ, in, 0, -1, 0, 10, on_fs), -EBADF);
	EXPECT(ringo_fs_copy_range(&loop, REQ, in, -2, out, 0, 10, on_fs), -EINVAL);
	EXPECT(ringo_fs_copy_range(&loop, REQ, in, 0, out, -2, 10, on_fs), -EINVAL);
	EXPECT(ringo_fs_copy_range(&loop, REQ, in, 0, out, 0, (size_t)INT_MAX + 1, on_fs),
	       -EINVAL);
	EXPECT(ringo_fs_copy_range(NULL, REQ, in, 0, out, 0, 10, on_fs), -EINVAL);
	EXPECT(ringo_fs_copy_range(&loop, NULL, in, 0, out, 0, 10, on_fs), -EINVAL);
	EXPECT(ringo_fs_copy_range(&loop, REQ, in, 0, out, 0, 10, NULL), -EINVAL);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	ck_assert_int_eq(F.calls, 0);

	ck_assert_int_eq(close(in), 0);
	ck_assert_int_eq(close(out), 0);
}
END_TEST

/* ---- cancellation ----------------------------------------------------- */

#define NREADS 8

/* Reads on an empty pipe stay in flight until cancelled. */
START_TEST(test_cancel_inflight_reads)
{
	struct freq r[NREADS];
	char bufs[NREADS][4];
	int i;

	REQUIRE_LOOP();
	test_pipe(pipes[0]);
	for (i = 0; i < NREADS; i++) {
		freq_reset(&r[i]);
		ck_assert_int_eq(ringo_fs_read(&loop, &r[i].req, pipes[0][0], bufs[i], 4, -1,
					       on_fs),
				 0);
	}
	/* Submitted and parked in the kernel. */
	ck_assert_int_gt(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	ck_assert_int_gt(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	for (i = 0; i < NREADS; i++)
		ck_assert_int_eq(r[i].calls, 0);

	for (i = 0; i < NREADS; i++)
		EXPECT(ringo_cancel((ringo_req_t *)&r[i].req), 0);
	EXPECT(ringo_cancel((ringo_req_t *)&r[0].req), -EALREADY);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	for (i = 0; i < NREADS; i++) {
		ck_assert_int_eq(r[i].calls, 1);
		EXPECT(r[i].req.result, -ECANCELED);
		ck_assert_int_eq(r[i].req.fs_type, RINGO_FS_READ);
	}

	/* The pipe is untouched: the next read gets the next byte. */
	test_write_byte(pipes[0][1], 'k');
	freq_reset(&r[0]);
	EXPECT(fs_wait(&r[0], ringo_fs_read(&loop, &r[0].req, pipes[0][0], bufs[0], 4, -1,
					    on_fs)),
	       1);
	ck_assert_int_eq(bufs[0][0], 'k');
	for (i = 1; i < NREADS; i++)
		ck_assert_int_eq(r[i].calls, 1);
}
END_TEST

/* Cancelled before the loop ever submitted it. */
START_TEST(test_cancel_before_submit)
{
	char buf[4];

	REQUIRE_LOOP();
	test_pipe(pipes[0]);
	freq_reset(&F);
	ck_assert_int_eq(ringo_fs_read(&loop, REQ, pipes[0][0], buf, 4, -1, on_fs), 0);
	EXPECT(ringo_cancel((ringo_req_t *)REQ), 0);
	ck_assert_int_eq(F.calls, 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(F.calls, 1);
	EXPECT(F.req.result, -ECANCELED);
}
END_TEST

/* A request that already finished is not in flight: -ENOENT. */
START_TEST(test_cancel_finished)
{
	char buf[8];
	int fd;

	REQUIRE_LOOP();
	put_file(tp("f"), "done", 4);
	fd = fs_open(tp("f"), O_RDONLY | O_CLOEXEC, 0);
	EXPECT(FS(ringo_fs_read(&loop, REQ, fd, buf, sizeof(buf), 0, on_fs)), 4);
	EXPECT(ringo_cancel((ringo_req_t *)REQ), -ENOENT);
	EXPECT(FS(ringo_fs_fstat(&loop, REQ, fd, on_fs)), 0);
	EXPECT(ringo_cancel((ringo_req_t *)REQ), -ENOENT);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(F.calls, 1);
	ck_assert_int_eq(close(fd), 0);
}
END_TEST

/* The same, for a request that ran on the work pool. */
START_TEST(test_cancel_finished_pool)
{
	char buf[8];

	REQUIRE_LOOP();
	ck_assert_int_eq(symlink("t", tp("l")), 0);
	EXPECT(FS(ringo_fs_readlink(&loop, REQ, tp("l"), buf, sizeof(buf), on_fs)), 1);
	EXPECT(ringo_cancel((ringo_req_t *)REQ), -ENOENT);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(F.calls, 1);
}
END_TEST

/*
 * A readlink queued behind a work item that holds the only pool thread is
 * cancelled before it runs: -ECANCELED once, the buffer untouched.
 */
START_TEST(test_cancel_queued_pool_op)
{
	struct blocker b;
	char buf[16];

	REQUIRE_LOOP();
	reopen(0, 1);
	ck_assert_int_eq(symlink("target", tp("l")), 0);
	block_pool(&b);
	/* The running item cannot be cancelled. */
	EXPECT(ringo_cancel((ringo_req_t *)&b.work), -EBUSY);

	memset(buf, 'Z', sizeof(buf));
	freq_reset(&F);
	ck_assert_int_eq(ringo_fs_readlink(&loop, REQ, tp("l"), buf, sizeof(buf), on_fs), 0);
	poll_until(&F.calls, 20);
	ck_assert_int_eq(F.calls, 0);
	EXPECT(ringo_cancel((ringo_req_t *)REQ), 0);
	EXPECT(ringo_cancel((ringo_req_t *)REQ), -EALREADY);
	release_pool();
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(F.calls, 1);
	EXPECT(F.req.result, -ECANCELED);
	ck_assert_int_eq(F.req.fs_type, RINGO_FS_READLINK);
	ck_assert_int_eq(buf[0], 'Z');
	ck_assert_int_eq(b.after_calls, 1);
	ck_assert_int_eq(b.status, 0);
	EXPECT(ringo_cancel((ringo_req_t *)REQ), -ENOENT);

	/* The request is reusable afterwards. */
	EXPECT(FS(ringo_fs_readlink(&loop, REQ, tp("l"), buf, sizeof(buf), on_fs)), 6);
	ck_assert_int_eq(memcmp(buf, "target", 6), 0);
}
END_TEST

/* The same for ftruncate when it runs on the pool. */
START_TEST(test_cancel_queued_ftruncate)
{
	struct blocker b;
	int fd;

	REQUIRE_LOOP();
	reopen(RINGO_LOOP_NO_FS_RING_OPS, 1);
	put_file(tp("t"), "0123456789", 10);
	fd = fs_open(tp("t"), O_RDWR | O_CLOEXEC, 0);
	block_pool(&b);
	freq_reset(&F);
	ck_assert_int_eq(ringo_fs_ftruncate(&loop, REQ, fd, 2, on_fs), 0);
	EXPECT(ringo_cancel((ringo_req_t *)REQ), 0);
	release_pool();
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(F.calls, 1);
	EXPECT(F.req.result, -ECANCELED);
	ck_assert_int_eq(file_size(tp("t")), 10);
	ck_assert_int_eq(b.after_calls, 1);
	ck_assert_int_eq(close(fd), 0);
}
END_TEST

/* ---- EACCES: a child that is not root --------------------------------- */

/* In the child: no Check asserts, an exit status per failed step. */
#define CHILD_EXPECT(step, call, want)                                                         \
	do {                                                                                   \
		int r_;                                                                        \
		freq_reset(&F);                                                                \
		r_ = (call);                                                                   \
		if (r_ == 0 && ringo_run(&loop, RINGO_RUN_DEFAULT) != 0)                       \
			r_ = -EIO;                                                             \
		if (r_ != 0 || F.calls != 1 || F.req.result != (want)) {                       \
			fprintf(stderr, "step %d: %s: start %d, calls %d, result %zd\n", step, \
				#call, r_, F.calls, F.req.result);                             \
			_exit(step);                                                           \
		}                                                                              \
	} while (0)

static void eacces_child(void)
{
	char buf[8];
	int ret;

	/* The fixture's loop is the parent's: drop this process's view of it. */
	if (ringo_loop_close(&loop) != 0)
		_exit(90);
	if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
		_exit(77);
	if (geteuid() == 0)
		_exit(77);
	ret = ringo_loop_init(&loop, NULL);
	if (ret)
		_exit(78);

	CHILD_EXPECT(1, ringo_fs_open(&loop, REQ, tp("secret"), O_RDONLY, 0, on_fs), -EACCES);
	CHILD_EXPECT(2, ringo_fs_open(&loop, REQ, tp("secret"), O_WRONLY, 0, on_fs), -EACCES);
	CHILD_EXPECT(3, ringo_fs_open(&loop, REQ, tp("pub/new"), O_CREAT | O_WRONLY, 0644,
				      on_fs),
		     -EACCES);
	CHILD_EXPECT(4, ringo_fs_mkdir(&loop, REQ, tp("pub/d"), 0755, on_fs), -EACCES);
	CHILD_EXPECT(5, ringo_fs_unlink(&loop, REQ, tp("pub/file"), on_fs), -EACCES);
	CHILD_EXPECT(6, ringo_fs_rename(&loop, REQ, tp("pub/file"), tp("pub/f2"), on_fs),
		     -EACCES);
	CHILD_EXPECT(7, ringo_fs_rmdir(&loop, REQ, tp("pub/sub"), on_fs), -EACCES);
	CHILD_EXPECT(8, ringo_fs_stat(&loop, REQ, tp("closed/x"), on_fs), -EACCES);
	CHILD_EXPECT(9, ringo_fs_symlink(&loop, REQ, "x", tp("pub/l"), on_fs), -EACCES);
	CHILD_EXPECT(10, ringo_fs_readlink(&loop, REQ, tp("closed/l"), buf, sizeof(buf), on_fs),
		     -EACCES);
	/* What is open to all still works. */
	CHILD_EXPECT(11, ringo_fs_stat(&loop, REQ, tp("secret"), on_fs), 0);
	freq_reset(&F);
	if (ringo_fs_open(&loop, REQ, tp("pub/file"), O_RDONLY, 0, on_fs) != 0 ||
	    ringo_run(&loop, RINGO_RUN_DEFAULT) != 0 || F.calls != 1 || F.req.result < 0)
		_exit(12);
	close((int)F.req.result);

	if (ringo_loop_close(&loop) != 0)
		_exit(91);
	_exit(0);
}

START_TEST(test_eacces)
{
	int status;
	pid_t pid;

	REQUIRE_LOOP();
	if (geteuid() != 0) {
		/* Not root: the plain checks work here. */
		put_file(tp("secret"), "s", 1);
		ck_assert_int_eq(chmod(tp("secret"), 0), 0);
		EXPECT(FS(ringo_fs_open(&loop, REQ, tp("secret"), O_RDONLY, 0, on_fs)), -EACCES);
		ck_assert_int_eq(mkdir(tp("ro"), 0555), 0);
		EXPECT(FS(ringo_fs_mkdir(&loop, REQ, tp("ro/d"), 0755, on_fs)), -EACCES);
		EXPECT(FS(ringo_fs_unlink(&loop, REQ, tp("secret"), on_fs)), 0);
		ck_assert_int_eq(chmod(tp("ro"), 0755), 0);
		return;
	}
	/* Root: a child turns into nobody. Everything here belongs to root. */
	ck_assert_int_eq(chmod(tmpdir, 0755), 0);
	put_file(tp("secret"), "s", 1);
	ck_assert_int_eq(chmod(tp("secret"), 0600), 0);
	ck_assert_int_eq(mkdir(tp("pub"), 0755), 0);
	ck_assert_int_eq(mkdir(tp("pub/sub"), 0755), 0);
	put_file(tp("pub/file"), "f", 1);
	ck_assert_int_eq(mkdir(tp("closed"), 0755), 0);
	put_file(tp("closed/x"), "x", 1);
	ck_assert_int_eq(symlink("x", tp("closed/l")), 0);
	ck_assert_int_eq(chmod(tp("closed"), 0700), 0);

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		eacces_child();
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "child died: status %#x", status);
	if (WEXITSTATUS(status) == 77)
		TEST_SKIP("cannot drop root to uid 65534");
	if (WEXITSTATUS(status) == 78)
		TEST_SKIP("io_uring unavailable to uid 65534");
	ck_assert_msg(WEXITSTATUS(status) == 0, "child failed at step %d (see stderr)",
		      WEXITSTATUS(status));
	/* Nothing changed. */
	ck_assert(exists(tp("pub/file")));
	ck_assert(exists(tp("pub/sub")));
	ck_assert(!exists(tp("pub/new")));
	ck_assert(!exists(tp("pub/d")));
	ck_assert(!exists(tp("pub/l")));
}
END_TEST

/* ---- bad arguments ---------------------------------------------------- */

/*
 * Every refused call returns -EINVAL at once and its callback never runs,
 * on a loop that stays usable. Pointers that must never be touched still
 * point at real memory, so a library that did touch them would not crash
 * first and hide the real bug behind a segfault.
 */
START_TEST(test_bad_arguments)
{
	static struct iovec big_iov[IOV_MAX + 1];
	static ringo_loop_t dead_loop;	/* zeroed: never initialised */
	const size_t huge = (size_t)INT_MAX + 1;
	struct iovec iov2[2];
	char buf[16];
	int fd, i;

	REQUIRE_LOOP();
	fd = fs_open(tp("f"), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	for (i = 0; i <= IOV_MAX; i++) {
		big_iov[i].iov_base = buf;
		big_iov[i].iov_len = 1;
	}
	freq_reset(&F);

	/* NULL loop, request, callback, or a loop never initialised. */
	EXPECT(ringo_fs_open(NULL, REQ, tp("f"), O_RDONLY, 0, on_fs), -EINVAL);
	EXPECT(ringo_fs_open(&loop, NULL, tp("f"), O_RDONLY, 0, on_fs), -EINVAL);
	EXPECT(ringo_fs_open(&loop, REQ, tp("f"), O_RDONLY, 0, NULL), -EINVAL);
	EXPECT(ringo_fs_open(&dead_loop, REQ, tp("f"), O_RDONLY, 0, on_fs), -EINVAL);
	EXPECT(ringo_fs_read(NULL, REQ, fd, buf, 1, 0, on_fs), -EINVAL);
	EXPECT(ringo_fs_read(&loop, NULL, fd, buf, 1, 0, on_fs), -EINVAL);
	EXPECT(ringo_fs_read(&loop, REQ, fd, buf, 1, 0, NULL), -EINVAL);
	EXPECT(ringo_fs_write(&dead_loop, REQ, fd, buf, 1, 0, on_fs), -EINVAL);
	EXPECT(ringo_fs_fsync(NULL, REQ, fd, on_fs), -EINVAL);
	EXPECT(ringo_fs_fdatasync(&loop, NULL, fd, on_fs), -EINVAL);
	EXPECT(ringo_fs_close(&loop, REQ, fd, NULL), -EINVAL);
	EXPECT(ringo_fs_fstat(&loop, NULL, fd, on_fs), -EINVAL);
	EXPECT(ringo_fs_stat(&loop, REQ, tp("f"), NULL), -EINVAL);
	EXPECT(ringo_fs_readlink(NULL, REQ, tp("f"), buf, 1, on_fs), -EINVAL);
	EXPECT(ringo_fs_readlink(&loop, NULL, tp("f"), buf, 1, on_fs), -EINVAL);
	EXPECT(ringo_fs_readlink(&loop, REQ, tp("f"), buf, 1, NULL), -EINVAL);
	EXPECT(ringo_fs_readlink(&dead_loop, REQ, tp("f"), buf, 1, on_fs), -EINVAL);
	EXPECT(ringo_fs_ftruncate(NULL, REQ, fd, 0, on_fs), -EINVAL);
	EXPECT(ringo_fs_ftruncate(&loop, NULL, fd, 0, on_fs), -EINVAL);
	EXPECT(ringo_fs_ftruncate(&loop, REQ, fd, 0, NULL), -EINVAL);
	EXPECT(ringo_fs_ftruncate(&dead_loop, REQ, fd, 0, on_fs), -EINVAL);
	EXPECT(ringo_fs_splice(&loop, REQ, fd, 0, fd, 0, 1, 0, NULL), -EINVAL);
	EXPECT(ringo_fs_fadvise(&loop, NULL, fd, 0, 0, 0, on_fs), -EINVAL);
	EXPECT(ringo_fs_fallocate(&loop, REQ, fd, 0, 0, 1, NULL), -EINVAL);

	/* NULL paths. */
	EXPECT(ringo_fs_open(&loop, REQ, NULL, O_RDONLY, 0, on_fs), -EINVAL);
	EXPECT(ringo_fs_openat(&loop, REQ, AT_FDCWD, NULL, O_RDONLY, 0, on_fs), -EINVAL);
	EXPECT(ringo_fs_stat(&loop, REQ, NULL, on_fs), -EINVAL);
	EXPECT(ringo_fs_lstat(&loop, REQ, NULL, on_fs), -EINVAL);
	EXPECT(ringo_fs_rename(&loop, REQ, NULL, tp("g"), on_fs), -EINVAL);
	EXPECT(ringo_fs_rename(&loop, REQ, tp("f"), NULL, on_fs), -EINVAL);
	EXPECT(ringo_fs_unlink(&loop, REQ, NULL, on_fs), -EINVAL);
	EXPECT(ringo_fs_rmdir(&loop, REQ, NULL, on_fs), -EINVAL);
	EXPECT(ringo_fs_mkdir(&loop, REQ, NULL, 0755, on_fs), -EINVAL);
	EXPECT(ringo_fs_symlink(&loop, REQ, NULL, tp("l"), on_fs), -EINVAL);
	EXPECT(ringo_fs_symlink(&loop, REQ, "x", NULL, on_fs), -EINVAL);
	EXPECT(ringo_fs_link(&loop, REQ, NULL, tp("g"), on_fs), -EINVAL);
	EXPECT(ringo_fs_link(&loop, REQ, tp("f"), NULL, on_fs), -EINVAL);
	EXPECT(ringo_fs_readlink(&loop, REQ, NULL, buf, sizeof(buf), on_fs), -EINVAL);

	/* Buffers and lengths. */
	EXPECT(ringo_fs_read(&loop, REQ, fd, NULL, 1, 0, on_fs), -EINVAL);
	EXPECT(ringo_fs_write(&loop, REQ, fd, NULL, 1, 0, on_fs), -EINVAL);
	EXPECT(ringo_fs_read(&loop, REQ, fd, buf, huge, 0, on_fs), -EINVAL);
	EXPECT(ringo_fs_write(&loop, REQ, fd, buf, huge, 0, on_fs), -EINVAL);
	EXPECT(ringo_fs_read(&loop, REQ, fd, buf, SIZE_MAX, 0, on_fs), -EINVAL);
	EXPECT(ringo_fs_write(&loop, REQ, fd, buf, (size_t)-1, -1, on_fs), -EINVAL);
	EXPECT(ringo_fs_readlink(&loop, REQ, tp("f"), NULL, sizeof(buf), on_fs), -EINVAL);
	EXPECT(ringo_fs_readlink(&loop, REQ, tp("f"), buf, 0, on_fs), -EINVAL);
	EXPECT(ringo_fs_readlink(&loop, REQ, tp("f"), buf, huge, on_fs), -EINVAL);
	EXPECT(ringo_fs_splice(&loop, REQ, fd, 0, fd, 0, huge, 0, on_fs), -EINVAL);

	/* Offsets below -1. */
	EXPECT(ringo_fs_read(&loop, REQ, fd, buf, 1, -2, on_fs), -EINVAL);
	EXPECT(ringo_fs_write(&loop, REQ, fd, buf, 1, -2, on_fs), -EINVAL);
	EXPECT(ringo_fs_read(&loop, REQ, fd, buf, 1, INT64_MIN, on_fs), -EINVAL);
	EXPECT(ringo_fs_readv(&loop, REQ, fd, big_iov, 1, -2, on_fs), -EINVAL);
	EXPECT(ringo_fs_writev(&loop, REQ, fd, big_iov, 1, INT64_MIN, on_fs), -EINVAL);
	EXPECT(ringo_fs_splice(&loop, REQ, fd, -2, fd, 0, 1, 0, on_fs), -EINVAL);
	EXPECT(ringo_fs_splice(&loop, REQ, fd, 0, fd, -2, 1, 0, on_fs), -EINVAL);

	/* iovec arrays: NULL, empty, too many, NULL base, a total over INT_MAX. */
	EXPECT(ringo_fs_readv(&loop, REQ, fd, NULL, 1, 0, on_fs), -EINVAL);
	EXPECT(ringo_fs_writev(&loop, REQ, fd, NULL, 1, 0, on_fs), -EINVAL);
	EXPECT(ringo_fs_readv(&loop, REQ, fd, big_iov, 0, 0, on_fs), -EINVAL);
	EXPECT(ringo_fs_writev(&loop, REQ, fd, big_iov, 0, 0, on_fs), -EINVAL);
	EXPECT(ringo_fs_readv(&loop, REQ, fd, big_iov, IOV_MAX + 1, 0, on_fs), -EINVAL);
	EXPECT(ringo_fs_writev(&loop, REQ, fd, big_iov, IOV_MAX + 1, 0, on_fs), -EINVAL);
	/* A huge count is refused from the count alone (only IOV_MAX + 1 exist). */
	EXPECT(ringo_fs_readv(&loop, REQ, fd, big_iov, UINT_MAX, 0, on_fs), -EINVAL);
	EXPECT(ringo_fs_writev(&loop, REQ, fd, big_iov, 1U << 31, 0, on_fs), -EINVAL);
	iov2[0].iov_base = buf;
	iov2[0].iov_len = 1;
	iov2[1].iov_base = NULL;
	iov2[1].iov_len = 1;
	EXPECT(ringo_fs_writev(&loop, REQ, fd, iov2, 2, 0, on_fs), -EINVAL);
	iov2[1].iov_base = buf;
	iov2[1].iov_len = INT_MAX;
	EXPECT(ringo_fs_writev(&loop, REQ, fd, iov2, 2, 0, on_fs), -EINVAL);
	iov2[0].iov_len = SIZE_MAX;
	iov2[1].iov_len = 2;
	EXPECT(ringo_fs_readv(&loop, REQ, fd, iov2, 2, 0, on_fs), -EINVAL);

	/* Negative sizes and offsets. */
	EXPECT(ringo_fs_fallocate(&loop, REQ, fd, 0, 0, -1, on_fs), -EINVAL);
	EXPECT(ringo_fs_fallocate(&loop, REQ, fd, 0, 0, 0, on_fs), -EINVAL);
	EXPECT(ringo_fs_fallocate(&loop, REQ, fd, 0, -1, 4096, on_fs), -EINVAL);
	EXPECT(ringo_fs_fallocate(&loop, REQ, fd, 0, 0, INT64_MIN, on_fs), -EINVAL);
	EXPECT(ringo_fs_ftruncate(&loop, REQ, fd, -1, on_fs), -EINVAL);
	EXPECT(ringo_fs_fadvise(&loop, REQ, fd, -1, 0, 0, on_fs), -EINVAL);
	EXPECT(ringo_fs_fadvise(&loop, REQ, fd, 0, -1, 0, on_fs), -EINVAL);

	/* Cancel of nothing. */
	EXPECT(ringo_cancel(NULL), -EINVAL);
	EXPECT(ringo_cancel((ringo_req_t *)REQ), -EINVAL);

	/* No callback ran, nothing is alive, the loop and the file are fine. */
	ck_assert_int_eq(ringo_loop_alive(&loop), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(F.calls, 0);
	ck_assert_int_eq(file_size(tp("f")), 0);
	EXPECT(FS(ringo_fs_write(&loop, REQ, fd, "ok", 2, 0, on_fs)), 2);
	ck_assert_int_eq(close(fd), 0);
}
END_TEST

/* ---- a chain of operations started from callbacks --------------------- */

enum { ST_OPEN, ST_WRITE, ST_FSYNC, ST_CLOSE, ST_STAT, ST_UNLINK, ST_N };

static struct freq chain[ST_N];
static int chain_order[ST_N];	/* stage of the n-th callback */
static int chain_calls;
static int chain_fd;
static const char *chain_path;
static const char chain_data[] = "chained bytes";

static void chain_cb(ringo_fs_t *req);

static void chain_next(int stage)
{
	ringo_fs_t *r = &chain[stage].req;
	int ret = -1;

	switch (stage) {
	case ST_WRITE:
		ret = ringo_fs_write(&loop, r, chain_fd, chain_data, sizeof(chain_data) - 1, 0,
				     chain_cb);
		break;
	case ST_FSYNC:
		ret = ringo_fs_fsync(&loop, r, chain_fd, chain_cb);
		break;
	case ST_CLOSE:
		ret = ringo_fs_close(&loop, r, chain_fd, chain_cb);
		break;
	case ST_STAT:
		ret = ringo_fs_stat(&loop, r, chain_path, chain_cb);
		break;
	case ST_UNLINK:
		ret = ringo_fs_unlink(&loop, r, chain_path, chain_cb);
		break;
	}
	ck_assert_msg(ret == 0, "stage %d: %s", stage, ringo_err_name(ret));
}

static void chain_cb(ringo_fs_t *req)
{
	struct freq *f = owner_of(req, struct freq, req);
	int stage = (int)(f - chain);

	ck_assert_int_lt(chain_calls, ST_N);
	f->calls++;
	chain_order[chain_calls++] = stage;
	switch (stage) {
	case ST_OPEN:
		ck_assert_int_ge(req->result, 0);
		chain_fd = (int)req->result;
		break;
	case ST_WRITE:
		EXPECT(req->result, (ssize_t)sizeof(chain_data) - 1);
		break;
	case ST_STAT:
		EXPECT(req->result, 0);
		ck_assert_uint_eq(req->statbuf.size, sizeof(chain_data) - 1);
		ck_assert(S_ISREG(req->statbuf.mode));
		break;
	default:
		EXPECT(req->result, 0);
		break;
	}
	if (stage + 1 < ST_N)
		chain_next(stage + 1);
}

START_TEST(test_chain_from_callbacks)
{
	int i;

	REQUIRE_LOOP();
	memset(chain, 0, sizeof(chain));
	memset(chain_order, -1, sizeof(chain_order));
	chain_calls = 0;
	chain_fd = -1;
	chain_path = tp("chain");
	ck_assert_int_eq(ringo_fs_open(&loop, &chain[ST_OPEN].req, chain_path,
				       O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0644, chain_cb),
			 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(chain_calls, ST_N);
	for (i = 0; i < ST_N; i++) {
		ck_assert_int_eq(chain[i].calls, 1);
		ck_assert_int_eq(chain_order[i], i);
	}
	ck_assert_int_eq(fcntl(chain_fd, F_GETFD), -1);
	ck_assert(!exists(chain_path));
}
END_TEST

/* Many independent requests in flight at once, each completing once. */
START_TEST(test_many_in_flight)
{
	enum { N = 100 };
	static struct freq r[N];
	static char bufs[N][12];	/* 8 bytes each go to the file */
	char name[12];
	int fd, i;

	REQUIRE_LOOP();
	fd = fs_open(tp("many"), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	for (i = 0; i < N; i++) {
		freq_reset(&r[i]);
		snprintf(bufs[i], sizeof(bufs[i]), "%07d", i);
		ck_assert_int_eq(ringo_fs_write(&loop, &r[i].req, fd, bufs[i], 8, i * 8, on_fs),
				 0);
	}
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	for (i = 0; i < N; i++) {
		ck_assert_int_eq(r[i].calls, 1);
		EXPECT(r[i].req.result, 8);
	}
	memset(bufs, 0, sizeof(bufs));
	for (i = 0; i < N; i++) {
		freq_reset(&r[i]);
		ck_assert_int_eq(ringo_fs_read(&loop, &r[i].req, fd, bufs[i], 8, i * 8, on_fs), 0);
	}
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	for (i = 0; i < N; i++) {
		ck_assert_int_eq(r[i].calls, 1);
		EXPECT(r[i].req.result, 8);
		snprintf(name, sizeof(name), "%07d", i);
		ck_assert_str_eq(bufs[i], name);
	}
	ck_assert_int_eq(close(fd), 0);
}
END_TEST

/* ---- Suite ------------------------------------------------------------ */

static Suite *fs_suite(void)
{
	Suite *s = suite_create("fs");
	TCase *tc;

	tc = test_tcase(s, "open_close", setup, teardown, 60);
	tcase_add_test(tc, test_open_create_and_errors);
	tcase_add_test(tc, test_openat_relative);
	tcase_add_test(tc, test_close_bad_fd);

	tc = test_tcase(s, "read_write", setup, teardown, 60);
	tcase_add_test(tc, test_read_write_offsets);
	tcase_add_test(tc, test_read_eof);
	tcase_add_test(tc, test_read_write_errors);
	tcase_add_test(tc, test_sparse_5gib);
	tcase_add_test(tc, test_readv_writev_64);
	tcase_add_test(tc, test_writev_iov_max);
	tcase_add_test(tc, test_many_in_flight);

	tc = test_tcase(s, "sync_alloc", setup, teardown, 60);
	tcase_add_test(tc, test_fsync_fdatasync);
	tcase_add_test(tc, test_fallocate);
	tcase_add_test(tc, test_fadvise);
	tcase_add_test(tc, test_ftruncate_ring);
	tcase_add_test(tc, test_ftruncate_pool);

	tc = test_tcase(s, "metadata", setup, teardown, 60);
	tcase_add_test(tc, test_stat_family);
	tcase_add_test(tc, test_rename);
	tcase_add_test(tc, test_unlink);
	tcase_add_test(tc, test_rmdir);
	tcase_add_test(tc, test_mkdir);
	tcase_add_test(tc, test_symlink_readlink);
	tcase_add_test(tc, test_link);
	tcase_add_test(tc, test_splice);
	tcase_add_test(tc, test_copy_range);
	tcase_add_test(tc, test_eacces);

	tc = test_tcase(s, "cancel", setup, teardown, 60);
	tcase_add_test(tc, test_cancel_inflight_reads);
	tcase_add_test(tc, test_cancel_before_submit);
	tcase_add_test(tc, test_cancel_finished);
	tcase_add_test(tc, test_cancel_finished_pool);
	tcase_add_test(tc, test_cancel_queued_pool_op);
	tcase_add_test(tc, test_cancel_queued_ftruncate);

	tc = test_tcase(s, "bad_input", setup, teardown, 60);
	tcase_add_test(tc, test_bad_arguments);

	tc = test_tcase(s, "chain", setup, teardown, 60);
	tcase_add_test(tc, test_chain_from_callbacks);

	return s;
}

int main(void)
{
	return test_main(fs_suite());
}
