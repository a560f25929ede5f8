/* SPDX-License-Identifier: MIT */
/*
 * File operations through the raw ring: vectored, plain and fixed-buffer
 * reads and writes, linked chains with fsync and splice, open/close (also
 * into direct descriptors), fallocate, ftruncate, fadvise, statx, the path
 * ops (rename, unlink, mkdir, symlink, link) and waitid, plus the error
 * results the kernel gives for bad fds, missing paths and existing
 * directories. Most cases port the Zig standard library's io_uring tests
 * with the same assertions. Every test works in its own temp dir, removed by
 * the fixture.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

/* TEST_REQUIRE_OP, with the ring exited before the skip returns. */
#define RING_REQUIRE_OP(ring, op)                                                              \
	do {                                                                                   \
		if (ringo_ring_op_supported((ring), (op)) != 1) {                              \
			ringo_ring_exit(ring);                                                 \
			TEST_SKIP("kernel lacks " #op);                                        \
		}                                                                              \
	} while (0)

static char tmp_dir[PATH_MAX];
static int tmp_dirfd = -1;

static void tmp_setup(void)
{
	test_tmpdir(tmp_dir, sizeof(tmp_dir));
	tmp_dirfd = open(tmp_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(tmp_dirfd, 0);
}

static void tmp_teardown(void)
{
	close(tmp_dirfd);
	tmp_dirfd = -1;
	test_rmtree(tmp_dir);
}

/* A new file in the temp dir, read-write, truncated. */
static int create_file(const char *name)
{
	int fd = openat(tmp_dirfd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);

	ck_assert_msg(fd >= 0, "create %s: %s", name, strerror(errno));
	return fd;
}

static void write_all(int fd, const void *buf, size_t len)
{
	ck_assert_int_eq(pwrite(fd, buf, len, 0), (ssize_t)len);
}

static off_t file_size(int fd)
{
	struct stat st;

	ck_assert_int_eq(fstat(fd, &st), 0);
	return st.st_size;
}

static int path_exists(const char *name)
{
	return faccessat(tmp_dirfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Read a whole (small) file from the temp dir into buf, NUL-terminated. */
static ssize_t read_path(const char *name, char *buf, size_t len)
{
	int fd = openat(tmp_dirfd, name, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	ck_assert_msg(fd >= 0, "open %s: %s", name, strerror(errno));
	n = read(fd, buf, len - 1);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	close(fd);
	return n;
}

/* A file `name` in the temp dir holding "hello". */
static void create_hello(const char *name)
{
	int fd = create_file(name);

	write_all(fd, "hello", 5);
	close(fd);
}

/* The file `name` in the temp dir holds "hello" and nothing else. */
static void assert_hello(const char *name)
{
	char buf[16];

	ck_assert_int_eq(read_path(name, buf, sizeof(buf)), 5);
	ck_assert_str_eq(buf, "hello");
}

/* A path op's SQE: `op`, with paths relative to the temp dir. */
static void assert_dir_sqe(const struct ringo_sqe *sqe, unsigned op)
{
	ck_assert_uint_eq(sqe->opcode, op);
	ck_assert_int_eq(sqe->fd, tmp_dirfd);
}

/* ---- Zig: reads and writes --------------------------------------------- */

START_TEST(test_readv)
{
	unsigned char buffer[128], zeros[128];
	struct iovec iov = { .iov_base = buffer, .iov_len = sizeof(buffer) };
	struct ringo_ring ring;
	struct ringo_sqe *sqe;
	int fd;

	TEST_RING_INIT(&ring, 1, 0);
	fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ringo_ring_register_files(&ring, &fd, 1), 0);

	memset(buffer, 42, sizeof(buffer));
	memset(zeros, 0, sizeof(zeros));
	sqe = test_get_sqe_ud(&ring, 0xcccccccc);
	ringo_prep_readv(sqe, 0, &iov, 1, 0);
	ringo_sqe_set_flags(sqe, RINGO_SQE_FIXED_FILE);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_READV);

	/* The one-entry SQ is full. */
	ck_assert_ptr_null(ringo_ring_get_sqe(&ring));
	test_submit1_expect(&ring, 0xcccccccc, sizeof(buffer));
	ck_assert_mem_eq(buffer, zeros, sizeof(buffer));

	ck_assert_int_eq(ringo_ring_unregister_files(&ring), 0);
	close(fd);
	ringo_ring_exit(&ring);
}
END_TEST

START_TEST(test_writev_fsync_readv)
{
	unsigned char buffer_write[128], buffer_read[128];
	struct iovec iov_write = { .iov_base = buffer_write, .iov_len = sizeof(buffer_write) };
	struct iovec iov_read = { .iov_base = buffer_read, .iov_len = sizeof(buffer_read) };
	struct ringo_ring ring;
	struct ringo_sqe *sqe;
	int fd;

	TEST_RING_INIT(&ring, 4, 0);
	fd = create_file("writev_fsync_readv");
	memset(buffer_write, 42, sizeof(buffer_write));
	memset(buffer_read, 0, sizeof(buffer_read));

	sqe = test_get_sqe_ud(&ring, 0xdddddddd);
	ringo_prep_writev(sqe, fd, &iov_write, 1, 17);
	ringo_sqe_set_flags(sqe, RINGO_SQE_IO_LINK);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_WRITEV);
	ck_assert_uint_eq(sqe->off, 17);

	sqe = test_get_sqe_ud(&ring, 0xeeeeeeee);
	ringo_prep_fsync(sqe, fd, 0);
	ringo_sqe_set_flags(sqe, RINGO_SQE_IO_LINK);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_FSYNC);
	ck_assert_int_eq(sqe->fd, fd);

	sqe = test_get_sqe_ud(&ring, 0xffffffff);
	ringo_prep_readv(sqe, fd, &iov_read, 1, 17);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_READV);
	ck_assert_uint_eq(sqe->off, 17);

	ck_assert_uint_eq(ringo_ring_sq_ready(&ring), 3);
	ck_assert_int_eq(ringo_ring_submit_and_wait(&ring, 3), 3);
	ck_assert_uint_eq(ringo_ring_sq_ready(&ring), 0);
	ck_assert_uint_eq(ringo_ring_cq_ready(&ring), 3);

	test_wait_expect(&ring, 0xdddddddd, sizeof(buffer_write));
	ck_assert_uint_eq(ringo_ring_cq_ready(&ring), 2);
	test_wait_expect(&ring, 0xeeeeeeee, 0);
	ck_assert_uint_eq(ringo_ring_cq_ready(&ring), 1);
	test_wait_expect(&ring, 0xffffffff, sizeof(buffer_read));
	ck_assert_uint_eq(ringo_ring_cq_ready(&ring), 0);

	ck_assert_mem_eq(buffer_write, buffer_read, sizeof(buffer_read));
	ck_assert_int_eq(file_size(fd), 17 + 128);

	close(fd);
	ringo_ring_exit(&ring);
}
END_TEST

START_TEST(test_write_read)
{
	unsigned char buffer_write[20], buffer_read[20];
	struct ringo_ring ring;
	struct ringo_sqe *sqe;
	int fd;

	TEST_RING_INIT(&ring, 2, 0);
	fd = create_file("write_read");
	memset(buffer_write, 97, sizeof(buffer_write));
	memset(buffer_read, 98, sizeof(buffer_read));

	sqe = test_get_sqe_ud(&ring, 0x11111111);
	ringo_prep_write(sqe, fd, buffer_write, sizeof(buffer_write), 10);
	ringo_sqe_set_flags(sqe, RINGO_SQE_IO_LINK);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_WRITE);
	ck_assert_uint_eq(sqe->off, 10);

	sqe = test_get_sqe_ud(&ring, 0x22222222);
	ringo_prep_read(sqe, fd, buffer_read, sizeof(buffer_read), 10);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_READ);
	ck_assert_uint_eq(sqe->off, 10);
	ck_assert_int_eq(ringo_ring_submit(&ring), 2);

	test_wait_expect(&ring, 0x11111111, sizeof(buffer_write));
	test_wait_expect(&ring, 0x22222222, sizeof(buffer_read));
	ck_assert_mem_eq(buffer_write, buffer_read, sizeof(buffer_read));

	close(fd);
	ringo_ring_exit(&ring);
}
END_TEST

START_TEST(test_splice_read)
{
	const uint64_t no_offset = UINT64_MAX;
	unsigned char buffer_write[20], buffer_read[20];
	struct ringo_ring ring;
	struct ringo_sqe *sqe;
	int fd_src, fd_dst, fds[2];

	TEST_RING_INIT(&ring, 4, 0);
	RING_REQUIRE_OP(&ring, RINGO_OP_SPLICE);
	fd_src = create_file("splice_src");
	fd_dst = create_file("splice_dst");
	memset(buffer_write, 97, sizeof(buffer_write));
	memset(buffer_read, 98, sizeof(buffer_read));
	write_all(fd_src, buffer_write, sizeof(buffer_write));
	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);

	sqe = test_get_sqe_ud(&ring, 0x11111111);
	ringo_prep_splice(sqe, fd_src, 0, fds[1], no_offset, sizeof(buffer_write), 0);
	ringo_sqe_set_flags(sqe, RINGO_SQE_IO_LINK);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_SPLICE);
	ck_assert_uint_eq(sqe->addr, 0);
	ck_assert_uint_eq(sqe->off, no_offset);

	sqe = test_get_sqe_ud(&ring, 0x22222222);
	ringo_prep_splice(sqe, fds[0], no_offset, fd_dst, 10, sizeof(buffer_write), 0);
	ringo_sqe_set_flags(sqe, RINGO_SQE_IO_LINK);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_SPLICE);
	ck_assert_uint_eq(sqe->addr, no_offset);
	ck_assert_uint_eq(sqe->off, 10);

	sqe = test_get_sqe_ud(&ring, 0x33333333);
	ringo_prep_read(sqe, fd_dst, buffer_read, sizeof(buffer_read), 10);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_READ);
	ck_assert_uint_eq(sqe->off, 10);
	ck_assert_int_eq(ringo_ring_submit(&ring), 3);

	test_wait_expect(&ring, 0x11111111, sizeof(buffer_write));
	test_wait_expect(&ring, 0x22222222, sizeof(buffer_write));
	test_wait_expect(&ring, 0x33333333, sizeof(buffer_read));
	ck_assert_mem_eq(buffer_write, buffer_read, sizeof(buffer_read));

	close(fds[0]);
	close(fds[1]);
	close(fd_src);
	close(fd_dst);
	ringo_ring_exit(&ring);
}
END_TEST

START_TEST(test_write_fixed_read_fixed)
{
	unsigned char raw[2][11];
	struct iovec bufs[2] = {
		{ .iov_base = raw[0], .iov_len = sizeof(raw[0]) },
		{ .iov_base = raw[1], .iov_len = sizeof(raw[1]) },
	};
	struct ringo_ring ring;
	struct ringo_sqe *sqe;
	int fd, ret;

	TEST_RING_INIT(&ring, 2, 0);
	fd = create_file("write_read_fixed");
	memset(raw[0], 'z', sizeof(raw[0]));
	memcpy(raw[0], "foobar", 6);
	memset(raw[1], 0x5a, sizeof(raw[1]));

	ret = ringo_ring_register_buffers(&ring, bufs, 2);
	ck_assert_msg(ret == 0, "register_buffers: %s", ringo_err_name(ret));

	sqe = test_get_sqe_ud(&ring, 0x45454545);
	ringo_prep_write_fixed(sqe, fd, raw[0], sizeof(raw[0]), 3, 0);
	ringo_sqe_set_flags(sqe, RINGO_SQE_IO_LINK);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_WRITE_FIXED);
	ck_assert_uint_eq(sqe->off, 3);
	ck_assert_uint_eq(sqe->buf_index, 0);

	sqe = test_get_sqe_ud(&ring, 0x12121212);
	ringo_prep_read_fixed(sqe, fd, raw[1], sizeof(raw[1]), 0, 1);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_READ_FIXED);
	ck_assert_uint_eq(sqe->off, 0);
	ck_assert_uint_eq(sqe->buf_index, 1);
	ck_assert_int_eq(ringo_ring_submit(&ring), 2);

	test_wait_expect(&ring, 0x45454545, sizeof(raw[0]));
	test_wait_expect(&ring, 0x12121212, sizeof(raw[1]));

	/* The write landed at offset 3: the hole before it reads as zeros. */
	ck_assert_mem_eq(raw[1], "\0\0\0", 3);
	ck_assert_mem_eq(raw[1] + 3, "foobar", 6);
	ck_assert_mem_eq(raw[1] + 9, "zz", 2);

	ck_assert_int_eq(ringo_ring_unregister_buffers(&ring), 0);
	close(fd);
	ringo_ring_exit(&ring);
}
END_TEST

/* ---- Zig: open and close ------------------------------------------------ */

START_TEST(test_openat)
{
	static const char path[] = "openat";
	const int flags = O_CLOEXEC | O_RDWR | O_CREAT;
	struct ringo_ring ring;
	struct ringo_sqe *sqe;
	struct ringo_cqe cqe;
	struct stat st;

	TEST_RING_INIT(&ring, 1, 0);
	RING_REQUIRE_OP(&ring, RINGO_OP_OPENAT);

	sqe = test_get_sqe_ud(&ring, 0x33333333);
	ringo_prep_openat(sqe, tmp_dirfd, path, flags, 0666);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_OPENAT);
	ck_assert_uint_eq(sqe->flags, 0);
	ck_assert_uint_eq(sqe->ioprio, 0);
	ck_assert_int_eq(sqe->fd, tmp_dirfd);
	ck_assert_uint_eq(sqe->off, 0);
	ck_assert_uint_eq(sqe->addr, (uint64_t)(uintptr_t)path);
	ck_assert_uint_eq(sqe->len, 0666);
	ck_assert_uint_eq(sqe->open_flags, (uint32_t)flags);
	ck_assert_uint_eq(sqe->user_data, 0x33333333);
	ck_assert_uint_eq(sqe->buf_index, 0);
	ck_assert_uint_eq(sqe->personality, 0);
	ck_assert_uint_eq(sqe->file_index, 0);
	ck_assert_uint_eq(sqe->addr3, 0);
	ck_assert_uint_eq(sqe->__pad2[0], 0);
	ck_assert_int_eq(ringo_ring_submit(&ring), 1);

	cqe = test_wait_one(&ring);
	ck_assert_uint_eq(cqe.user_data, 0x33333333);
	ck_assert_msg(cqe.res > 0, "openat: %s", ringo_err_name(cqe.res));
	ck_assert_uint_eq(cqe.flags, 0);
	ck_assert_int_eq(fstat(cqe.res, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(fcntl(cqe.res, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	ck_assert(path_exists(path));
	close(cqe.res);

	ringo_ring_exit(&ring);
}
END_TEST

START_TEST(test_close)
{
	struct ringo_ring ring;
	struct ringo_sqe *sqe;
	int fd;

	TEST_RING_INIT(&ring, 1, 0);
	RING_REQUIRE_OP(&ring, RINGO_OP_CLOSE);
	fd = create_file("close");

	sqe = test_get_sqe_ud(&ring, 0x44444444);
	ringo_prep_close(sqe, fd);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_CLOSE);
	ck_assert_int_eq(sqe->fd, fd);
	test_submit1_expect(&ring, 0x44444444, 0);
	/* The fd is gone from our table. */
	ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
	ck_assert_int_eq(errno, EBADF);

	ringo_ring_exit(&ring);
}
END_TEST

START_TEST(test_openat_direct_close_direct)
{
	static const char path[] = "close_direct";
	const int flags = O_RDWR | O_CREAT;
	int slots[3] = { -1, -1, -1 };
	struct ringo_ring ring;
	struct ringo_sqe *sqe;
	struct ringo_cqe cqe;
	unsigned i;
	int ret;

	TEST_RING_INIT(&ring, 2, 0);
	if (!test_kernel_at_least(5, 19)) {
		ringo_ring_exit(&ring);
		TEST_SKIP("kernel older than 5.19: no RINGO_FILE_INDEX_ALLOC");
	}
	ret = ringo_ring_register_files(&ring, slots, 3);
	ck_assert_msg(ret == 0, "register_files: %s", ringo_err_name(ret));

	/* A chosen slot: res is 0. */
	for (i = 0; i < 2; i++) {
		sqe = test_get_sqe_ud(&ring, 0x100 + i);
		ringo_prep_openat_direct(sqe, tmp_dirfd, path, flags, 0666, i);
		ck_assert_uint_eq(sqe->file_index, i + 1);
		cqe = test_submit_wait_one(&ring);
		test_assert_cqe(&cqe, 0x100 + i, 0, 0);
	}

	/* Let the kernel pick: the only free slot, 2, comes back in res. */
	sqe = test_get_sqe_ud(&ring, 0x102);
	ringo_prep_openat_direct(sqe, tmp_dirfd, path, flags, 0666, RINGO_FILE_INDEX_ALLOC);
	ck_assert_uint_eq(sqe->file_index, RINGO_FILE_INDEX_ALLOC);
	test_submit_expect(&ring, 0x102, 2);

	/* The table is full now. */
	sqe = test_get_sqe_ud(&ring, 0x103);
	ringo_prep_openat_direct(sqe, tmp_dirfd, path, flags, 0666, RINGO_FILE_INDEX_ALLOC);
	test_submit_expect(&ring, 0x103, -ENFILE);

	for (i = 0; i < 3; i++) {
		sqe = test_get_sqe_ud(&ring, 0x200 + i);
		ringo_prep_close_direct(sqe, i);
		ck_assert_uint_eq(sqe->opcode, RINGO_OP_CLOSE);
		ck_assert_uint_eq(sqe->file_index, i + 1);
		cqe = test_submit_wait_one(&ring);
		test_assert_cqe(&cqe, 0x200 + i, 0, 0);
	}

	/* Closing an empty slot fails. */
	sqe = test_get_sqe_ud(&ring, 0x300);
	ringo_prep_close_direct(sqe, 0);
	test_submit_expect(&ring, 0x300, -EBADF);

	ck_assert_int_eq(ringo_ring_unregister_files(&ring), 0);
	ringo_ring_exit(&ring);
}
END_TEST

/* ---- Zig: metadata ops ------------------------------------------------- */

START_TEST(test_fallocate)
{
	const uint64_t len = 65536;
	struct ringo_ring ring;
	struct ringo_sqe *sqe;
	struct ringo_cqe cqe;
	int fd;

	TEST_RING_INIT(&ring, 1, 0);
	RING_REQUIRE_OP(&ring, RINGO_OP_FALLOCATE);
	fd = create_file("fallocate");
	ck_assert_int_eq(file_size(fd), 0);

	sqe = test_get_sqe_ud(&ring, 0xaaaaaaaa);
	ringo_prep_fallocate(sqe, fd, 0, 0, len);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_FALLOCATE);
	ck_assert_int_eq(sqe->fd, fd);
	ck_assert_uint_eq(sqe->addr, len);
	ck_assert_uint_eq(sqe->len, 0);
	ck_assert_int_eq(ringo_ring_submit(&ring), 1);

	cqe = test_wait_one(&ring);
	if (cqe.res == -EOPNOTSUPP) {
		close(fd);
		ringo_ring_exit(&ring);
		TEST_SKIP("the temp dir's filesystem does not support fallocate");
	}
	test_assert_cqe(&cqe, 0xaaaaaaaa, 0, 0);
	ck_assert_int_eq(file_size(fd), (off_t)len);

	close(fd);
	ringo_ring_exit(&ring);
}
END_TEST

START_TEST(test_ftruncate)
{
	unsigned char data[100];
	struct ringo_ring ring;
	struct ringo_sqe *sqe;
	int fd;

	TEST_RING_INIT(&ring, 1, 0);
	RING_REQUIRE_OP(&ring, RINGO_OP_FTRUNCATE);
	fd = create_file("ftruncate");
	memset(data, 'x', sizeof(data));
	write_all(fd, data, sizeof(data));

	sqe = test_get_sqe_ud(&ring, 0x7777);
	ringo_prep_ftruncate(sqe, fd, 10);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_FTRUNCATE);
	ck_assert_uint_eq(sqe->off, 10);
	test_submit_expect(&ring, 0x7777, 0);
	ck_assert_int_eq(file_size(fd), 10);

	/* Growing works too. */
	sqe = test_get_sqe_ud(&ring, 0x7778);
	ringo_prep_ftruncate(sqe, fd, 4096);
	test_submit_expect(&ring, 0x7778, 0);
	ck_assert_int_eq(file_size(fd), 4096);

	close(fd);
	ringo_ring_exit(&ring);
}
END_TEST

START_TEST(test_fadvise)
{
	unsigned char data[4096];
	struct ringo_ring ring;
	struct ringo_sqe *sqe;
	int fd;

	TEST_RING_INIT(&ring, 2, 0);
	RING_REQUIRE_OP(&ring, RINGO_OP_FADVISE);
	fd = create_file("fadvise");
	memset(data, 'y', sizeof(data));
	write_all(fd, data, sizeof(data));

	sqe = test_get_sqe_ud(&ring, 0x8881);
	ringo_prep_fadvise(sqe, fd, 0, sizeof(data), POSIX_FADV_WILLNEED);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_FADVISE);
	ck_assert_uint_eq(sqe->fadvise_advice, POSIX_FADV_WILLNEED);
	ck_assert_uint_eq(sqe->len, sizeof(data));
	test_submit_expect(&ring, 0x8881, 0);

	sqe = test_get_sqe_ud(&ring, 0x8882);
	ringo_prep_fadvise(sqe, fd, 0, 0, POSIX_FADV_DONTNEED);
	test_submit_expect(&ring, 0x8882, 0);

	/* An advice the kernel does not know. */
	sqe = test_get_sqe_ud(&ring, 0x8883);
	ringo_prep_fadvise(sqe, fd, 0, 0, 1000);
	test_submit_expect(&ring, 0x8883, -EINVAL);

	close(fd);
	ringo_ring_exit(&ring);
}
END_TEST

START_TEST(test_statx)
{
	static const char path[] = "statx";
	struct ringo_ring ring;
	struct ringo_sqe *sqe;
	struct statx stx;
	int fd;

	TEST_RING_INIT(&ring, 1, 0);
	RING_REQUIRE_OP(&ring, RINGO_OP_STATX);
	fd = create_file(path);
	ck_assert_int_eq(file_size(fd), 0);
	write_all(fd, "foobar", 6);

	memset(&stx, 0, sizeof(stx));
	sqe = test_get_sqe_ud(&ring, 0xaaaaaaaa);
	ringo_prep_statx(sqe, tmp_dirfd, path, 0, STATX_SIZE, &stx);
	assert_dir_sqe(sqe, RINGO_OP_STATX);
	ck_assert_uint_eq(sqe->len, STATX_SIZE);
	ck_assert_uint_eq(sqe->off, (uint64_t)(uintptr_t)&stx);
	test_submit1_expect(&ring, 0xaaaaaaaa, 0);
	ck_assert_uint_eq(stx.stx_mask & STATX_SIZE, STATX_SIZE);
	ck_assert_uint_eq(stx.stx_size, 6);

	close(fd);
	ringo_ring_exit(&ring);
}
END_TEST

/* ---- Zig: path ops ------------------------------------------------------ */

START_TEST(test_renameat)
{
	static const char old_path[] = "renameat_old";
	static const char new_path[] = "renameat_new";
	struct ringo_ring ring;
	struct ringo_sqe *sqe;

	TEST_RING_INIT(&ring, 1, 0);
	RING_REQUIRE_OP(&ring, RINGO_OP_RENAMEAT);
	create_hello(old_path);

	sqe = test_get_sqe_ud(&ring, 0x12121212);
	ringo_prep_renameat(sqe, tmp_dirfd, old_path, tmp_dirfd, new_path, 0);
	assert_dir_sqe(sqe, RINGO_OP_RENAMEAT);
	ck_assert_int_eq((int)sqe->len, tmp_dirfd);
	test_submit1_expect(&ring, 0x12121212, 0);
	ck_assert(!path_exists(old_path));
	assert_hello(new_path);

	ringo_ring_exit(&ring);
}
END_TEST

START_TEST(test_unlinkat)
{
	static const char path[] = "unlinkat";
	struct ringo_ring ring;
	struct ringo_sqe *sqe;

	TEST_RING_INIT(&ring, 1, 0);
	RING_REQUIRE_OP(&ring, RINGO_OP_UNLINKAT);
	close(create_file(path));

	sqe = test_get_sqe_ud(&ring, 0x12121212);
	ringo_prep_unlinkat(sqe, tmp_dirfd, path, 0);
	assert_dir_sqe(sqe, RINGO_OP_UNLINKAT);
	test_submit1_expect(&ring, 0x12121212, 0);
	ck_assert(!path_exists(path));

	/* Gone already. */
	sqe = test_get_sqe_ud(&ring, 0x13131313);
	ringo_prep_unlinkat(sqe, tmp_dirfd, path, 0);
	test_submit_expect(&ring, 0x13131313, -ENOENT);

	ringo_ring_exit(&ring);
}
END_TEST

START_TEST(test_mkdirat)
{
	static const char path[] = "mkdirat";
	struct ringo_ring ring;
	struct ringo_sqe *sqe;
	struct stat st;

	TEST_RING_INIT(&ring, 1, 0);
	RING_REQUIRE_OP(&ring, RINGO_OP_MKDIRAT);

	sqe = test_get_sqe_ud(&ring, 0x12121212);
	ringo_prep_mkdirat(sqe, tmp_dirfd, path, 0755);
	assert_dir_sqe(sqe, RINGO_OP_MKDIRAT);
	ck_assert_uint_eq(sqe->len, 0755);
	test_submit1_expect(&ring, 0x12121212, 0);
	ck_assert_int_eq(fstatat(tmp_dirfd, path, &st, 0), 0);
	ck_assert(S_ISDIR(st.st_mode));

	/* Again: it exists. */
	sqe = test_get_sqe_ud(&ring, 0x13131313);
	ringo_prep_mkdirat(sqe, tmp_dirfd, path, 0755);
	test_submit_expect(&ring, 0x13131313, -EEXIST);

	ringo_ring_exit(&ring);
}
END_TEST

START_TEST(test_symlinkat)
{
	static const char path[] = "symlinkat";
	static const char link_path[] = "symlinkat_link";
	struct ringo_ring ring;
	struct ringo_sqe *sqe;
	char target[64];
	ssize_t n;
	int fd;

	TEST_RING_INIT(&ring, 1, 0);
	RING_REQUIRE_OP(&ring, RINGO_OP_SYMLINKAT);
	close(create_file(path));

	sqe = test_get_sqe_ud(&ring, 0x12121212);
	ringo_prep_symlinkat(sqe, path, tmp_dirfd, link_path);
	assert_dir_sqe(sqe, RINGO_OP_SYMLINKAT);
	test_submit1_expect(&ring, 0x12121212, 0);
	n = readlinkat(tmp_dirfd, link_path, target, sizeof(target) - 1);
	ck_assert_int_eq(n, (ssize_t)strlen(path));
	target[n] = '\0';
	ck_assert_str_eq(target, path);
	/* And it resolves to the file. */
	fd = openat(tmp_dirfd, link_path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	close(fd);

	ringo_ring_exit(&ring);
}
END_TEST

START_TEST(test_linkat)
{
	static const char first_path[] = "linkat_first";
	static const char second_path[] = "linkat_second";
	struct ringo_ring ring;
	struct ringo_sqe *sqe;
	struct stat st;

	TEST_RING_INIT(&ring, 1, 0);
	RING_REQUIRE_OP(&ring, RINGO_OP_LINKAT);
	create_hello(first_path);

	sqe = test_get_sqe_ud(&ring, 0x12121212);
	ringo_prep_linkat(sqe, tmp_dirfd, first_path, tmp_dirfd, second_path, 0);
	assert_dir_sqe(sqe, RINGO_OP_LINKAT);
	ck_assert_int_eq((int)sqe->len, tmp_dirfd);
	test_submit1_expect(&ring, 0x12121212, 0);
	assert_hello(second_path);
	ck_assert_int_eq(fstatat(tmp_dirfd, first_path, &st, 0), 0);
	ck_assert_uint_eq(st.st_nlink, 2);

	ringo_ring_exit(&ring);
}
END_TEST

/* ---- Zig: "waitid" ----------------------------------------------------- */

START_TEST(test_waitid)
{
	struct ringo_ring ring;
	struct ringo_sqe *sqe;
	siginfo_t si;
	pid_t pid;

	TEST_RING_INIT(&ring, 16, 0);
	RING_REQUIRE_OP(&ring, RINGO_OP_WAITID);

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(7);

	memset(&si, 0, sizeof(si));
	sqe = test_get_sqe_ud(&ring, 0x4444);
	ringo_prep_waitid(sqe, P_PID, (id_t)pid, &si, WEXITED, 0);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_WAITID);
	test_submit1_expect(&ring, 0x4444, 0);
	ck_assert_int_eq(si.si_pid, pid);
	ck_assert_int_eq(si.si_signo, SIGCHLD);
	ck_assert_int_eq(si.si_code, CLD_EXITED);
	ck_assert_int_eq(si.si_status, 7);
	/* Reaped: nothing left to wait for. */
	ck_assert_int_eq(waitpid(pid, NULL, WNOHANG), -1);
	ck_assert_int_eq(errno, ECHILD);

	ringo_ring_exit(&ring);
}
END_TEST

/* ---- Positions and errors ------------------------------------------------ */

START_TEST(test_read_at_eof)
{
	struct ringo_ring ring;
	struct ringo_sqe *sqe;
	char buf[16];
	int fd;

	TEST_RING_INIT(&ring, 2, 0);
	fd = create_file("eof");
	write_all(fd, "hello", 5);

	sqe = test_get_sqe_ud(&ring, 1);
	ringo_prep_read(sqe, fd, buf, sizeof(buf), 5);
	test_submit_expect(&ring, 1, 0);

	sqe = test_get_sqe_ud(&ring, 2);
	ringo_prep_read(sqe, fd, buf, sizeof(buf), 100);
	test_submit_expect(&ring, 2, 0);

	/* A read that straddles the end is short. */
	sqe = test_get_sqe_ud(&ring, 3);
	ringo_prep_read(sqe, fd, buf, sizeof(buf), 3);
	test_submit_expect(&ring, 3, 2);
	ck_assert_mem_eq(buf, "lo", 2);

	close(fd);
	ringo_ring_exit(&ring);
}
END_TEST

START_TEST(test_read_file_position)
{
	struct ringo_ring ring;
	struct ringo_sqe *sqe;
	char buf[16];
	int fd;

	TEST_RING_INIT(&ring, 2, 0);
	if (!(ringo_ring_features(&ring) & RINGO_FEAT_RW_CUR_POS)) {
		ringo_ring_exit(&ring);
		TEST_SKIP("kernel lacks RINGO_FEAT_RW_CUR_POS");
	}
	fd = create_file("position");
	write_all(fd, "hello world", 11);
	ck_assert_int_eq(lseek(fd, 6, SEEK_SET), 6);

	memset(buf, 0, sizeof(buf));
	sqe = test_get_sqe_ud(&ring, 0x5151);
	ringo_prep_read(sqe, fd, buf, 5, (uint64_t)-1);
	ck_assert_uint_eq(sqe->off, UINT64_MAX);
	test_submit_expect(&ring, 0x5151, 5);
	ck_assert_str_eq(buf, "world");
	/* The read moved the position. */
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 11);

	/* A write at the position appends and moves it as well. */
	sqe = test_get_sqe_ud(&ring, 0x5252);
	ringo_prep_write(sqe, fd, "!!", 2, (uint64_t)-1);
	test_submit_expect(&ring, 0x5252, 2);
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 13);
	ck_assert_int_eq(pread(fd, buf, sizeof(buf), 0), 13);
	ck_assert_mem_eq(buf, "hello world!!", 13);

	close(fd);
	ringo_ring_exit(&ring);
}
END_TEST

START_TEST(test_bad_fd)
{
	struct ringo_ring ring;
	struct ringo_sqe *sqe;
	char buf[8];
	int fd;

	TEST_RING_INIT(&ring, 2, 0);
	/* An fd number that was open a moment ago and is closed now. */
	fd = create_file("bad_fd");
	close(fd);

	sqe = test_get_sqe_ud(&ring, 0xbad1);
	ringo_prep_read(sqe, fd, buf, sizeof(buf), 0);
	test_submit_expect(&ring, 0xbad1, -EBADF);

	sqe = test_get_sqe_ud(&ring, 0xbad2);
	ringo_prep_write(sqe, -1, buf, sizeof(buf), 0);
	test_submit_expect(&ring, 0xbad2, -EBADF);

	/* A fixed-file index with no table registered. */
	sqe = test_get_sqe_ud(&ring, 0xbad3);
	ringo_prep_read(sqe, 0, buf, sizeof(buf), 0);
	ringo_sqe_set_flags(sqe, RINGO_SQE_FIXED_FILE);
	test_submit_expect(&ring, 0xbad3, -EBADF);

	ringo_ring_exit(&ring);
}
END_TEST

START_TEST(test_openat_missing)
{
	struct ringo_ring ring;
	struct ringo_sqe *sqe;

	TEST_RING_INIT(&ring, 1, 0);
	RING_REQUIRE_OP(&ring, RINGO_OP_OPENAT);

	sqe = test_get_sqe_ud(&ring, 0xe1);
	ringo_prep_openat(sqe, tmp_dirfd, "no/such/file", O_RDONLY | O_CLOEXEC, 0);
	test_submit_expect(&ring, 0xe1, -ENOENT);

	sqe = test_get_sqe_ud(&ring, 0xe2);
	ringo_prep_openat(sqe, tmp_dirfd, "missing", O_RDONLY | O_CLOEXEC, 0);
	test_submit_expect(&ring, 0xe2, -ENOENT);
	ck_assert(!path_exists("missing"));

	ringo_ring_exit(&ring);
}
END_TEST

/* ---- Fixed buffers: the errors ------------------------------------------- */

START_TEST(test_fixed_buffers_errors)
{
	unsigned char raw[2][32], outside[32];
	struct iovec bufs[2] = {
		{ .iov_base = raw[0], .iov_len = sizeof(raw[0]) },
		{ .iov_base = raw[1], .iov_len = sizeof(raw[1]) },
	};
	struct ringo_ring ring;
	struct ringo_sqe *sqe;
	int fd, ret;

	TEST_RING_INIT(&ring, 2, 0);
	fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);

	/* Nothing registered yet. */
	ck_assert_int_eq(ringo_ring_unregister_buffers(&ring), -ENXIO);
	sqe = test_get_sqe_ud(&ring, 0xf0);
	ringo_prep_read_fixed(sqe, fd, raw[0], 8, 0, 0);
	test_submit_expect(&ring, 0xf0, -EFAULT);

	ret = ringo_ring_register_buffers(&ring, bufs, 2);
	ck_assert_msg(ret == 0, "register_buffers: %s", ringo_err_name(ret));
	ck_assert_int_eq(ringo_ring_register_buffers(&ring, bufs, 2), -EBUSY);

	/* In range: works, and lands in buffer 1. */
	memset(raw, 0x77, sizeof(raw));
	sqe = test_get_sqe_ud(&ring, 0xf1);
	ringo_prep_read_fixed(sqe, fd, raw[1] + 8, 16, 0, 1);
	test_submit_expect(&ring, 0xf1, 16);
	ck_assert_uint_eq(raw[1][7], 0x77);
	ck_assert_uint_eq(raw[1][8], 0);
	ck_assert_uint_eq(raw[1][23], 0);
	ck_assert_uint_eq(raw[1][24], 0x77);

	/* An index past the table. */
	sqe = test_get_sqe_ud(&ring, 0xf2);
	ringo_prep_read_fixed(sqe, fd, raw[0], 8, 0, 2);
	test_submit_expect(&ring, 0xf2, -EFAULT);

	/* A range that leaves the buffer it names. */
	sqe = test_get_sqe_ud(&ring, 0xf3);
	ringo_prep_read_fixed(sqe, fd, raw[0] + 24, 16, 0, 0);
	test_submit_expect(&ring, 0xf3, -EFAULT);
	sqe = test_get_sqe_ud(&ring, 0xf4);
	ringo_prep_read_fixed(sqe, fd, outside, 8, 0, 0);
	test_submit_expect(&ring, 0xf4, -EFAULT);

	ck_assert_int_eq(ringo_ring_unregister_buffers(&ring), 0);
	ck_assert_int_eq(ringo_ring_unregister_buffers(&ring), -ENXIO);
	close(fd);
	ringo_ring_exit(&ring);
}
END_TEST

/* ---- tee ------------------------------------------------------------------ */

/* tee (5.8) copies pipe data to another pipe without consuming it. */
START_TEST(test_tee)
{
	struct ringo_ring ring;
	struct ringo_sqe *sqe;
	int in[2], out[2];
	char buf[8];

	TEST_RING_INIT(&ring, 2, 0);
	RING_REQUIRE_OP(&ring, RINGO_OP_TEE);
	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC | O_NONBLOCK), 0);
	ck_assert_int_eq(write(in[1], "teedata", 7), 7);

	sqe = test_get_sqe_ud(&ring, 0x7ee);
	ringo_prep_tee(sqe, in[0], out[1], 7, 0);
	ck_assert_uint_eq(sqe->opcode, RINGO_OP_TEE);
	ck_assert_int_eq(sqe->fd, out[1]);
	ck_assert_int_eq(sqe->splice_fd_in, in[0]);
	test_submit1_expect(&ring, 0x7ee, 7);

	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(read(out[0], buf, sizeof(buf)), 7);
	ck_assert_mem_eq(buf, "teedata", 7);
	/* The source still holds its copy. */
	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(read(in[0], buf, sizeof(buf)), 7);
	ck_assert_mem_eq(buf, "teedata", 7);

	/* tee wants pipes at both ends. */
	sqe = test_get_sqe_ud(&ring, 0x7ef);
	ringo_prep_tee(sqe, tmp_dirfd, out[1], 7, 0);
	test_submit_expect(&ring, 0x7ef, -EINVAL);

	close(in[0]);
	close(in[1]);
	close(out[0]);
	close(out[1]);
	ringo_ring_exit(&ring);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ring_fs");
	TCase *rw = test_tcase(s, "read_write", tmp_setup, tmp_teardown, 30);
	TCase *meta = test_tcase(s, "metadata", tmp_setup, tmp_teardown, 30);
	TCase *err = test_tcase(s, "errors", tmp_setup, tmp_teardown, 30);

	tcase_add_test(rw, test_readv);
	tcase_add_test(rw, test_writev_fsync_readv);
	tcase_add_test(rw, test_write_read);
	tcase_add_test(rw, test_splice_read);
	tcase_add_test(rw, test_write_fixed_read_fixed);
	tcase_add_test(rw, test_read_at_eof);
	tcase_add_test(rw, test_read_file_position);
	tcase_add_test(rw, test_fixed_buffers_errors);
	tcase_add_test(rw, test_tee);

	tcase_add_test(meta, test_openat);
	tcase_add_test(meta, test_close);
	tcase_add_test(meta, test_openat_direct_close_direct);
	tcase_add_test(meta, test_fallocate);
	tcase_add_test(meta, test_ftruncate);
	tcase_add_test(meta, test_fadvise);
	tcase_add_test(meta, test_statx);
	tcase_add_test(meta, test_renameat);
	tcase_add_test(meta, test_unlinkat);
	tcase_add_test(meta, test_mkdirat);
	tcase_add_test(meta, test_symlinkat);
	tcase_add_test(meta, test_linkat);
	tcase_add_test(meta, test_waitid);

	tcase_add_test(err, test_bad_fd);
	tcase_add_test(err, test_openat_missing);

	return s;
}

int main(void)
{
	return test_main(suite());
}
