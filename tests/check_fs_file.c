/* SPDX-License-Identifier: MIT */
/*
 * The whole-file helpers: ringo_fs_read_file on empty, small, multi-MiB,
 * procfs (stat size 0) and FIFO files and on missing paths and directories;
 * ringo_fs_write_file plain (create, truncate, empty) and RINGO_FS_ATOMIC
 * (replace, no temp file left, missing directory, a directory in the way),
 * an atomic rewriter racing a reader thread that must only ever see one of
 * the complete contents, and a writer process SIGKILLed mid-write that must
 * leave the old content intact; ringo_fs_copy_file byte for byte (100 MiB
 * with RINGO_STRESS=1), with odd sizes, the source's mode, COPY_EXCL and
 * truncation, and its errors; bad arguments (-EINVAL, no callback), a
 * loop that refuses to close while a helper is between steps, and (stress
 * only) files over 2 GiB. Every test gets a fresh temp dir and loop; the
 * teardown asserts the loop closes with nothing left, and every callback
 * is counted to run exactly once.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture_loop.h"

#define KiB ((size_t)1024)
#define MiB (1024 * KiB)
#define CHUNK MiB		/* plain-I/O comparison chunk */

/* ---- Fixture ---------------------------------------------------------- */

static char tmp[PATH_MAX];	/* this test's temp dir */
static int cb_total;		/* helper callbacks run in this test */

static void reset_state(void);

static void setup(void)
{
	/* Without fork mode (CK_FORK=no) every test must start from zero. */
	reset_state();
	test_tmpdir(tmp, sizeof(tmp));
	loop_fixture_open(NULL);
}

static void teardown(void)
{
	loop_fixture_close();
	test_rmtree(tmp);
}

/* `name` inside the temp dir, written to buf (PATH_MAX bytes). */
static char *in_tmp(char *buf, const char *name)
{
	int n = snprintf(buf, PATH_MAX, "%s/%s", tmp, name);

	ck_assert(n > 0 && n < PATH_MAX);
	return buf;
}

/* ---- Data and plain I/O ------------------------------------------------ */

/* xorshift64*: cheap bytes that no off-by-a-block copy reproduces. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static void fill_random(unsigned char *buf, size_t len, uint64_t *state)
{
	uint64_t v;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		v = rng_next(state);
		memcpy(buf + i, &v, 8);
	}
	if (i < len) {
		v = rng_next(state);
		memcpy(buf + i, &v, len - i);
	}
}

/* A malloc'd buffer of `len` random bytes (never NULL, even for 0). */
static unsigned char *random_bytes(size_t len, uint64_t seed)
{
	unsigned char *buf = malloc(len ? len : 1);
	uint64_t state = seed | 1;

	ck_assert_ptr_nonnull(buf);
	fill_random(buf, len, &state);
	return buf;
}

static void write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		ck_assert_msg(n > 0, "write: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
}

/* Read until `cap` bytes or EOF: the byte count, or -errno. Never asserts
 * (the reader thread uses it). */
static ssize_t read_full(int fd, void *buf, size_t cap)
{
	size_t got = 0;
	ssize_t n;

	while (got < cap) {
		n = read(fd, (char *)buf + got, cap - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Create or truncate `path` (0666 & ~umask) with exactly `data`. */
static void put_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);

	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	write_all(fd, data, len);
	ck_assert_int_eq(close(fd), 0);
}

/* A file of `len` random bytes, written a chunk at a time. */
static void put_random_file(const char *path, size_t len, uint64_t seed)
{
	unsigned char *buf = malloc(CHUNK);
	uint64_t state = seed | 1;
	size_t n;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);

	ck_assert_ptr_nonnull(buf);
	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	while (len) {
		n = len < CHUNK ? len : CHUNK;
		fill_random(buf, n, &state);
		write_all(fd, buf, n);
		len -= n;
	}
	ck_assert_int_eq(close(fd), 0);
	free(buf);
}

static struct stat stat_of(const char *path)
{
	struct stat st;

	ck_assert_msg(stat(path, &st) == 0, "stat %s: %s", path, strerror(errno));
	return st;
}

static int exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/*
 * -1 if the file at `path` holds exactly `data`, else the first offset
 * where it differs (its length if it is a prefix or longer).
 */
static long long file_diff(const char *path, const void *data, size_t len)
{
	unsigned char *buf = malloc(CHUNK + 1);
	const unsigned char *want = data;
	long long res = -1;
	size_t off = 0, i;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	ck_assert_ptr_nonnull(buf);
	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	for (;;) {
		n = read_full(fd, buf, CHUNK);
		ck_assert_msg(n >= 0, "read %s: %s", path, strerror((int)-n));
		for (i = 0; i < (size_t)n; i++)
			if (off + i >= len || buf[i] != want[off + i])
				break;
		if (i < (size_t)n) {
			res = (long long)(off + i);
			break;
		}
		off += (size_t)n;
		if ((size_t)n < CHUNK) {
			if (off != len)
				res = (long long)off;
			break;
		}
	}
	close(fd);
	free(buf);
	return res;
}

#define assert_file_is(path, data, len)                                                        \
	do {                                                                                   \
		long long d_ = file_diff((path), (data), (len));                              \
		ck_assert_msg(d_ < 0, "%s (%lld bytes) differs from the %zu expected at %lld", \
			      (path), (long long)stat_of(path).st_size, (size_t)(len), d_);   \
	} while (0)

/* -1 if files a and b are identical, else the first offset where they differ. */
static long long files_diff(const char *a, const char *b)
{
	unsigned char *ba = malloc(CHUNK), *bb = malloc(CHUNK);
	long long res = -1;
	size_t off = 0, i;
	ssize_t na, nb;
	int fa = open(a, O_RDONLY | O_CLOEXEC), fb = open(b, O_RDONLY | O_CLOEXEC);

	ck_assert(ba && bb);
	ck_assert_msg(fa >= 0 && fb >= 0, "open %s / %s: %s", a, b, strerror(errno));
	for (;;) {
		na = read_full(fa, ba, CHUNK);
		nb = read_full(fb, bb, CHUNK);
		ck_assert(na >= 0 && nb >= 0);
		if (na != nb || memcmp(ba, bb, (size_t)na)) {
			for (i = 0; i < (size_t)(na < nb ? na : nb) && ba[i] == bb[i]; i++)
				;
			res = (long long)(off + i);
			break;
		}
		off += (size_t)na;
		if ((size_t)na < CHUNK)
			break;
	}
	close(fa);
	close(fb);
	free(ba);
	free(bb);
	return res;
}

#define assert_same_file(a, b)                                                                 \
	do {                                                                                   \
		long long d_ = files_diff((a), (b));                                           \
		ck_assert_msg(d_ < 0, "%s and %s differ at %lld", (a), (b), d_);               \
	} while (0)

/* What the temp dir holds besides "." and "..". */
struct listing {
	int total;		/* entries */
	int target;		/* 1 if `name` is there */
	int temps;		/* ".NAME.ringo-*" temp files of write_file */
};

static struct listing list_tmp(const char *name)
{
	struct listing l = { 0 };
	char prefix[NAME_MAX + 16];
	struct dirent *e;
	DIR *d = opendir(tmp);

	ck_assert_ptr_nonnull(d);
	snprintf(prefix, sizeof(prefix), ".%s.ringo-", name);
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		l.total++;
		if (!strcmp(e->d_name, name))
			l.target = 1;
		else if (!strncmp(e->d_name, prefix, strlen(prefix)))
			l.temps++;
	}
	closedir(d);
	return l;
}

/* ---- Requests that record their completions --------------------------- */

struct freq {
	ringo_fs_file_t req;
	int calls;		/* callbacks run */
	int status;		/* status of the last one */
};

static void freq_cb(ringo_fs_file_t *req, int status)
{
	struct freq *f = owner_of(req, struct freq, req);

	f->calls++;
	f->status = status;
	cb_total++;
}

static void run_loop(void)
{
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
}

/*
 * Synchronous wrappers: start the helper, run the loop, require exactly one
 * callback and return its status. read_file also checks the contents
 * contract: NUL-terminated on success, NULL and size 0 on error.
 */
static int read_file(struct freq *f, const char *path)
{
	memset(f, 0, sizeof(*f));
	ck_assert_int_eq(ringo_fs_read_file(&loop, &f->req, path, freq_cb), 0);
	run_loop();
	ck_assert_int_eq(f->calls, 1);
	if (f->status == 0) {
		ck_assert_ptr_nonnull(f->req.contents);
		ck_assert_int_eq(((char *)f->req.contents)[f->req.size], '\0');
	} else {
		ck_assert_ptr_null(f->req.contents);
		ck_assert_uint_eq(f->req.size, 0);
	}
	return f->status;
}

static int write_file(struct freq *f, const char *path, const void *data, size_t len,
		      unsigned flags)
{
	memset(f, 0, sizeof(*f));
	ck_assert_int_eq(ringo_fs_write_file(&loop, &f->req, path, data, len, flags, freq_cb), 0);
	run_loop();
	ck_assert_int_eq(f->calls, 1);
	if (f->status == 0)
		ck_assert_uint_eq(f->req.size, len);
	return f->status;
}

static int copy_file(struct freq *f, const char *src, const char *dst, unsigned flags)
{
	memset(f, 0, sizeof(*f));
	ck_assert_int_eq(ringo_fs_copy_file(&loop, &f->req, src, dst, flags, freq_cb), 0);
	run_loop();
	ck_assert_int_eq(f->calls, 1);
	return f->status;
}

/* ---- read_file --------------------------------------------------------- */

START_TEST(test_read_empty)
{
	char p[PATH_MAX];
	struct freq f;

	REQUIRE_LOOP();
	put_file(in_tmp(p, "empty"), "", 0);
	ck_assert_int_eq(read_file(&f, p), 0);
	ck_assert_uint_eq(f.req.size, 0);
	ck_assert_ptr_nonnull(f.req.contents);
	ck_assert_str_eq(f.req.contents, "");
	free(f.req.contents);
	ck_assert_int_eq(cb_total, 1);
}
END_TEST

START_TEST(test_read_small)
{
	static const char text[] = "hello, ringo\nsecond line\n";
	char p[PATH_MAX];
	struct freq f;

	REQUIRE_LOOP();
	put_file(in_tmp(p, "small"), text, sizeof(text) - 1);
	ck_assert_int_eq(read_file(&f, p), 0);
	ck_assert_uint_eq(f.req.size, sizeof(text) - 1);
	ck_assert_str_eq(f.req.contents, text);
	free(f.req.contents);

	/* One byte, and a file with a NUL inside: size, not strlen, counts. */
	put_file(p, "x", 1);
	ck_assert_int_eq(read_file(&f, p), 0);
	ck_assert_uint_eq(f.req.size, 1);
	ck_assert_str_eq(f.req.contents, "x");
	free(f.req.contents);
	put_file(p, "a\0b", 3);
	ck_assert_int_eq(read_file(&f, p), 0);
	ck_assert_uint_eq(f.req.size, 3);
	ck_assert_mem_eq(f.req.contents, "a\0b", 4);
	free(f.req.contents);
	ck_assert_int_eq(cb_total, 3);
}
END_TEST

START_TEST(test_read_large)
{
	size_t sizes[] = { TEST_SIZE(64 * MiB + 123, 5 * MiB + 123), 4 * MiB };
	char p[PATH_MAX];
	unsigned char *data;
	struct freq f;
	size_t i;

	REQUIRE_LOOP();
	in_tmp(p, "large");
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		data = random_bytes(sizes[i], 42 + i);
		put_file(p, data, sizes[i]);
		ck_assert_int_eq(read_file(&f, p), 0);
		ck_assert_uint_eq(f.req.size, sizes[i]);
		ck_assert_msg(memcmp(f.req.contents, data, sizes[i]) == 0,
			      "%zu-byte read_file differs", sizes[i]);
		free(f.req.contents);
		free(data);
	}
}
END_TEST

START_TEST(test_read_procfs)
{
	struct stat st;
	struct freq f;
	char *text;

	REQUIRE_LOOP();
	/* The point of the test: stat says 0 for a file that has content. */
	ck_assert_int_eq(stat("/proc/self/status", &st), 0);
	ck_assert_int_eq(st.st_size, 0);
	ck_assert_int_eq(read_file(&f, "/proc/self/status"), 0);
	text = f.req.contents;
	ck_assert_uint_gt(f.req.size, 0);
	ck_assert_uint_eq(strlen(text), f.req.size);
	ck_assert_msg(strncmp(text, "Name:", 5) == 0, "not /proc/self/status: %.40s", text);
	ck_assert_ptr_nonnull(strstr(text, "\nPid:"));
	ck_assert_int_eq(text[f.req.size - 1], '\n');
	free(text);
}
END_TEST

struct fifo_writer {
	char path[PATH_MAX];
	const unsigned char *data;
	size_t len;
	int err;		/* errno of a failed open/write, or 0 */
};

static void *fifo_writer_main(void *arg)
{
	struct fifo_writer *w = arg;
	size_t off = 0;
	ssize_t n;
	int fd = open(w->path, O_WRONLY | O_CLOEXEC);

	if (fd < 0) {
		w->err = errno;
		return NULL;
	}
	while (off < w->len) {
		n = write(fd, w->data + off, w->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			w->err = errno;
			break;
		}
		off += (size_t)n;
	}
	close(fd);
	return NULL;
}

/*
 * A FIFO: stat size 0 like procfs, short reads, and more data than the
 * first read chunk, so the buffer has to grow several times.
 */
START_TEST(test_read_fifo)
{
	struct fifo_writer w = { .len = MiB + 5 };
	unsigned char *data;
	pthread_t th;
	struct freq f;

	REQUIRE_LOOP();
	in_tmp(w.path, "fifo");
	ck_assert_int_eq(mkfifo(w.path, 0600), 0);
	data = random_bytes(w.len, 7);
	w.data = data;
	ck_assert_int_eq(pthread_create(&th, NULL, fifo_writer_main, &w), 0);
	ck_assert_int_eq(read_file(&f, w.path), 0);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_int_eq(w.err, 0);
	ck_assert_uint_eq(f.req.size, w.len);
	ck_assert(memcmp(f.req.contents, data, w.len) == 0);
	free(f.req.contents);
	free(data);
}
END_TEST

START_TEST(test_read_missing)
{
	char p[PATH_MAX];
	struct freq f;

	REQUIRE_LOOP();
	ck_assert_int_eq(read_file(&f, in_tmp(p, "nope")), -ENOENT);
	ck_assert_int_eq(read_file(&f, in_tmp(p, "nodir/nope")), -ENOENT);
	ck_assert_int_eq(read_file(&f, ""), -ENOENT);
	ck_assert_int_eq(cb_total, 3);
}
END_TEST

START_TEST(test_read_directory)
{
	char p[PATH_MAX];
	struct freq f;

	REQUIRE_LOOP();
	/* open(O_RDONLY) of a directory succeeds; the read is what fails. */
	ck_assert_int_eq(read_file(&f, tmp), -EISDIR);
	ck_assert_int_eq(mkdir(in_tmp(p, "sub"), 0755), 0);
	ck_assert_int_eq(read_file(&f, p), -EISDIR);
	ck_assert_int_eq(cb_total, 2);
}
END_TEST

/* ---- write_file -------------------------------------------------------- */

START_TEST(test_write_creates)
{
	static const char text[] = "fresh content\n";
	unsigned flags[] = { 0, RINGO_FS_ATOMIC };
	const char *names[] = { "plain", "atomic" };
	char p[PATH_MAX];
	struct freq f;
	mode_t saved;
	size_t i;

	REQUIRE_LOOP();
	saved = umask(027);
	for (i = 0; i < 2; i++) {
		in_tmp(p, names[i]);
		ck_assert_int_eq(write_file(&f, p, text, sizeof(text) - 1, flags[i]), 0);
		assert_file_is(p, text, sizeof(text) - 1);
		/* Created 0666 & ~umask. */
		ck_assert_uint_eq(stat_of(p).st_mode & 07777, 0640);
		ck_assert_int_eq(list_tmp(names[i]).temps, 0);
	}
	umask(saved);
	ck_assert_int_eq(list_tmp("").total, 2);
	ck_assert_int_eq(cb_total, 2);
}
END_TEST

START_TEST(test_write_truncates)
{
	unsigned char *old = random_bytes(3 * MiB, 1), *new = random_bytes(1000, 2);
	char p[PATH_MAX];
	struct freq f;

	REQUIRE_LOOP();
	put_file(in_tmp(p, "file"), old, 3 * MiB);
	ck_assert_int_eq(write_file(&f, p, new, 1000, 0), 0);
	assert_file_is(p, new, 1000);
	/* Longer again, with a multi-MiB buffer. */
	ck_assert_int_eq(write_file(&f, p, old, 3 * MiB, 0), 0);
	assert_file_is(p, old, 3 * MiB);
	ck_assert_int_eq(list_tmp("file").total, 1);
	free(old);
	free(new);
}
END_TEST

START_TEST(test_write_empty)
{
	unsigned flags[] = { 0, RINGO_FS_ATOMIC };
	char p[PATH_MAX], q[PATH_MAX];
	struct freq f;
	size_t i;

	REQUIRE_LOOP();
	for (i = 0; i < 2; i++) {
		/* NULL data is fine with len 0: a new empty file... */
		in_tmp(p, i ? "new-atomic" : "new-plain");
		ck_assert_int_eq(write_file(&f, p, NULL, 0, flags[i]), 0);
		ck_assert(S_ISREG(stat_of(p).st_mode));
		ck_assert_int_eq(stat_of(p).st_size, 0);
		/* ...and an existing one emptied. */
		put_file(in_tmp(q, i ? "old-atomic" : "old-plain"), "something", 9);
		ck_assert_int_eq(write_file(&f, q, "", 0, flags[i]), 0);
		ck_assert_int_eq(stat_of(q).st_size, 0);
	}
	ck_assert_int_eq(list_tmp("").total, 4);
	ck_assert_int_eq(list_tmp("new-atomic").temps + list_tmp("old-atomic").temps, 0);
	ck_assert_int_eq(cb_total, 4);
}
END_TEST

START_TEST(test_write_atomic_replaces)
{
	unsigned char *old = random_bytes(2 * MiB + 3, 3), *new = random_bytes(MiB + 17, 4);
	struct stat before;
	char p[PATH_MAX];
	struct freq f;

	REQUIRE_LOOP();
	put_file(in_tmp(p, "data.bin"), old, 2 * MiB + 3);
	before = stat_of(p);
	ck_assert_int_eq(write_file(&f, p, new, MiB + 17, RINGO_FS_ATOMIC), 0);
	assert_file_is(p, new, MiB + 17);
	/* A new inode renamed over the old one, not the old one rewritten. */
	ck_assert_uint_ne(stat_of(p).st_ino, before.st_ino);
	ck_assert_int_eq(list_tmp("data.bin").total, 1);
	ck_assert_int_eq(list_tmp("data.bin").temps, 0);

	/* Again, longer: every rewrite cleans up after itself. */
	ck_assert_int_eq(write_file(&f, p, old, 2 * MiB + 3, RINGO_FS_ATOMIC), 0);
	assert_file_is(p, old, 2 * MiB + 3);
	ck_assert_int_eq(list_tmp("data.bin").total, 1);
	free(old);
	free(new);
}
END_TEST

/* A path without a directory part: the temp file and the fsync use ".". */
START_TEST(test_write_atomic_relative)
{
	static const char text[] = "relative";
	char p[PATH_MAX];
	struct freq f;
	int cwd;

	REQUIRE_LOOP();
	cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(cwd, 0);
	ck_assert_int_eq(chdir(tmp), 0);
	memset(&f, 0, sizeof(f));
	ck_assert_int_eq(ringo_fs_write_file(&loop, &f.req, "rel", text, 8, RINGO_FS_ATOMIC,
					     freq_cb), 0);
	run_loop();
	ck_assert_int_eq(fchdir(cwd), 0);
	close(cwd);
	ck_assert_int_eq(f.calls, 1);
	ck_assert_int_eq(f.status, 0);
	assert_file_is(in_tmp(p, "rel"), text, 8);
	ck_assert_int_eq(list_tmp("rel").total, 1);
}
END_TEST

START_TEST(test_write_missing_dir)
{
	unsigned flags[] = { 0, RINGO_FS_ATOMIC };
	char p[PATH_MAX];
	struct freq f;
	size_t i;

	REQUIRE_LOOP();
	in_tmp(p, "missing/file");
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(write_file(&f, p, "abc", 3, flags[i]), -ENOENT);
	ck_assert_int_eq(list_tmp("file").total, 0);
	ck_assert_int_eq(cb_total, 2);
}
END_TEST

START_TEST(test_write_onto_directory)
{
	char p[PATH_MAX], inner[PATH_MAX];
	struct listing l;
	struct freq f;

	REQUIRE_LOOP();
	ck_assert_int_eq(mkdir(in_tmp(p, "dir"), 0755), 0);
	put_file(in_tmp(inner, "dir/keep"), "k", 1);

	ck_assert_int_eq(write_file(&f, p, "abc", 3, 0), -EISDIR);
	/* Atomic: the temp file is written, then rename(2) refuses. */
	ck_assert_int_eq(write_file(&f, p, "abc", 3, RINGO_FS_ATOMIC), -EISDIR);
	ck_assert(S_ISDIR(stat_of(p).st_mode));
	assert_file_is(inner, "k", 1);
	l = list_tmp("dir");
	ck_assert_int_eq(l.temps, 0);
	ck_assert_int_eq(l.total, 1);
	ck_assert_int_eq(cb_total, 2);
}
END_TEST

/* ---- Atomic write against a concurrent reader --------------------------- */

struct reader {
	char path[PATH_MAX];
	const unsigned char *a, *b;	/* the only contents a read may see */
	size_t alen, blen;
	int stop;			/* set by the test (__atomic) */
	unsigned long reads, saw_a, saw_b, bad;
	int bad_err;			/* first bad read: open/read errno, */
	long long bad_len;		/* or its length */
	long long bad_at;		/* and the first byte matching neither */
};

static long long first_diff(const unsigned char *x, const unsigned char *y, size_t n)
{
	size_t i;

	for (i = 0; i < n && x[i] == y[i]; i++)
		;
	return (long long)i;
}

/* Plain open/read/close in a loop until told to stop (at least once). */
static void *reader_main(void *arg)
{
	struct reader *r = arg;
	size_t cap = (r->alen > r->blen ? r->alen : r->blen) + 1;
	unsigned char *buf = malloc(cap);
	ssize_t n;
	int fd;

	if (!buf) {
		r->bad++;
		r->bad_err = ENOMEM;
		return NULL;
	}
	do {
		r->reads++;
		fd = open(r->path, O_RDONLY | O_CLOEXEC);
		n = fd < 0 ? -errno : read_full(fd, buf, cap);
		if (fd >= 0)
			close(fd);
		if (n == (ssize_t)r->alen && memcmp(buf, r->a, r->alen) == 0) {
			r->saw_a++;
		} else if (n == (ssize_t)r->blen && memcmp(buf, r->b, r->blen) == 0) {
			r->saw_b++;
		} else if (!r->bad++) {
			r->bad_err = n < 0 ? (int)-n : 0;
			r->bad_len = n;
			if (n > 0)
				r->bad_at = first_diff(buf, buf[0] == r->a[0] ? r->a : r->b,
						       (size_t)n);
		}
	} while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE));
	free(buf);
	return NULL;
}

/* The loop side: `target` atomic rewrites, each started from the last one's callback. */
static struct {
	char path[PATH_MAX];
	const void *data[2];
	size_t len[2];
	int target, done;
	int bad_status;		/* first non-zero status */
	int bad_size;		/* completions with req->size != len */
	int start_err;		/* a rewrite that failed to start */
} rw;

static void freq_cb_rewrite(ringo_fs_file_t *req, int status);

/* The n-th rewrite writes data[(n + 1) % 2]: the file starts as data[0]. */
static int rewrite_start(ringo_fs_file_t *req)
{
	int i = (rw.done + 1) % 2;

	return ringo_fs_write_file(&loop, req, rw.path, rw.data[i], rw.len[i], RINGO_FS_ATOMIC,
				   freq_cb_rewrite);
}

static void freq_cb_rewrite(ringo_fs_file_t *req, int status)
{
	if (status && !rw.bad_status)
		rw.bad_status = status;
	if (req->size != rw.len[(rw.done + 1) % 2])
		rw.bad_size++;
	rw.done++;
	cb_total++;
	if (rw.done < rw.target && !status) {
		rw.start_err = rewrite_start(req);
		if (rw.start_err)
			rw.target = rw.done;
	}
}

START_TEST(test_atomic_concurrent_reader)
{
	static struct reader r;
	unsigned char *a = malloc(MiB), *b = malloc(3 * MiB);
	ringo_fs_file_t req;
	pthread_t th;

	REQUIRE_LOOP();
	ck_assert(a && b);
	memset(a, 'A', MiB);
	memset(b, 'B', 3 * MiB);
	memset(&r, 0, sizeof(r));
	in_tmp(rw.path, "shared");
	memcpy(r.path, rw.path, sizeof(r.path));
	rw.data[0] = r.a = a;
	rw.len[0] = r.alen = MiB;
	rw.data[1] = r.b = b;
	rw.len[1] = r.blen = 3 * MiB;
	rw.target = TEST_SIZE(200, 30);
	put_file(rw.path, a, MiB);

	ck_assert_int_eq(pthread_create(&th, NULL, reader_main, &r), 0);
	ck_assert_int_eq(rewrite_start(&req), 0);
	run_loop();
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	ck_assert_int_eq(pthread_join(th, NULL), 0);

	ck_assert_int_eq(rw.start_err, 0);
	ck_assert_int_eq(rw.bad_status, 0);
	ck_assert_int_eq(rw.bad_size, 0);
	ck_assert_int_eq(rw.done, TEST_SIZE(200, 30));
	ck_assert_int_eq(cb_total, rw.done);
	ck_assert_msg(r.bad == 0,
		      "%lu of %lu reads saw neither content: first errno %d, %lld bytes, "
		      "mismatch at %lld", r.bad, r.reads, r.bad_err, r.bad_len, r.bad_at);
	ck_assert_uint_ge(r.reads, 1);
	ck_assert_uint_eq(r.saw_a + r.saw_b, r.reads);
	/* The last rewrite stays, and no temp file does. */
	assert_file_is(rw.path, rw.data[rw.done % 2], rw.len[rw.done % 2]);
	ck_assert_int_eq(list_tmp("shared").total, 1);
	free(a);
	free(b);
}
END_TEST

/* ---- Atomic write killed midway ----------------------------------------- */

static int child_status = 1;

static void child_cb(ringo_fs_file_t *req, int status)
{
	(void)req;
	child_status = status;
}

/*
 * The forked writer: its own loop, one atomic write, a byte on ready_fd
 * once the write is started (it reaches the kernel in ringo_run). Exits 0
 * if the write completes; never returns to Check.
 */
static void __attribute__((noreturn)) writer_child(const char *path, const void *data,
						   size_t len, int ready_fd)
{
	ringo_fs_file_t req;
	ringo_loop_t l;

	if (ringo_loop_init(&l, NULL))
		_exit(2);
	if (ringo_fs_write_file(&l, &req, path, data, len, RINGO_FS_ATOMIC, child_cb))
		_exit(3);
	if (write(ready_fd, "s", 1) != 1)
		_exit(4);
	if (ringo_run(&l, RINGO_RUN_DEFAULT) != 0 || child_status != 0)
		_exit(5);
	_exit(0);
}

START_TEST(test_atomic_killed_writer)
{
	/* From "before the open" to "during the fsync" (a 16 MiB write takes
	 * ~60 ms here, 64 MiB ~250 ms); the last round is not killed. */
	static const unsigned delays_ms[] = { 0, 2, 10, 30, 60, 1, 5, 20, 100, 200, 300 };
	const int ndelays = (int)(sizeof(delays_ms) / sizeof(delays_ms[0]));
	size_t old_len = MiB + 3, new_len = TEST_SIZE(64 * MiB, 16 * MiB);
	int rounds = TEST_SIZE(12, 6), r, st, kept_old = 0, got_new = 0, temps, fds[2];
	unsigned char *old = random_bytes(old_len, 11), *new = random_bytes(new_len, 12);
	char p[PATH_MAX], c;
	struct listing l;
	bool last;
	pid_t pid;

	REQUIRE_LOOP();
	in_tmp(p, "victim");
	for (r = 0; r < rounds; r++) {
		last = r == rounds - 1;
		put_file(p, old, old_len);
		temps = list_tmp("victim").temps;
		test_pipe(fds);
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			close(fds[0]);
			writer_child(p, new, new_len, fds[1]);
		}
		close(fds[1]);
		fds[1] = -1;
		/* 0 bytes: the child failed before starting; waitpid says how. */
		if (read(fds[0], &c, 1) == 1 && !last) {
			test_sleep_ms(delays_ms[r % ndelays]);
			kill(pid, SIGKILL);
		}
		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		test_close_pipe(fds);
		ck_assert_msg((WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL && !last) ||
			      (WIFEXITED(st) && WEXITSTATUS(st) == 0),
			      "round %d: writer child status %#x", r, st);

		/* Old or new, complete: never a part. */
		if (file_diff(p, old, old_len) < 0)
			kept_old++;
		else if (file_diff(p, new, new_len) < 0)
			got_new++;
		else
			ck_abort_msg("round %d (%u ms): %s is neither old nor new: %lld bytes",
				     r, delays_ms[r % ndelays], p, (long long)stat_of(p).st_size);
		/* Whatever a killed child left is its temp file, under the
		 * documented name; one that finished left none. */
		l = list_tmp("victim");
		ck_assert_int_eq(l.target, 1);
		ck_assert_int_eq(l.total, 1 + l.temps);
		if (WIFEXITED(st))
			ck_assert_int_eq(l.temps, temps);
	}
	/* A kill right after the start cannot miss the whole write and fsync,
	 * and the last writer ran to the end. */
	ck_assert_int_ge(kept_old, 1);
	ck_assert_int_ge(got_new, 1);
	ck_assert_int_eq(kept_old + got_new, rounds);
	free(old);
	free(new);
}
END_TEST

/* ---- copy_file --------------------------------------------------------- */

START_TEST(test_copy_large)
{
	size_t len = TEST_SIZE(100 * MiB, 8 * MiB);
	char src[PATH_MAX], dst[PATH_MAX];
	struct freq f;

	REQUIRE_LOOP();
	put_random_file(in_tmp(src, "src"), len, 99);
	ck_assert_int_eq(copy_file(&f, src, in_tmp(dst, "dst"), 0), 0);
	ck_assert_uint_eq(f.req.size, len);
	ck_assert_int_eq(stat_of(dst).st_size, (off_t)len);
	assert_same_file(src, dst);
	ck_assert_int_eq(cb_total, 1);
}
END_TEST

START_TEST(test_copy_sizes)
{
	const size_t B = RINGO_FS_COPY_BLOCK, N = RINGO_FS_COPY_BLOCKS;
	size_t sizes[] = { 0, 1, 4095, B - 1, B, B + 1, 3 * B + 123, N * B, N * B + 1,
			   (N + 3) * B + 77 };
	char src[PATH_MAX], dst[PATH_MAX], name[32];
	struct freq f;
	size_t i;

	REQUIRE_LOOP();
	in_tmp(src, "src");
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(name, sizeof(name), "dst-%zu", sizes[i]);
		in_tmp(dst, name);
		put_random_file(src, sizes[i], 1000 + i);
		ck_assert_int_eq(copy_file(&f, src, dst, 0), 0);
		ck_assert_uint_eq(f.req.size, sizes[i]);
		ck_assert_int_eq(stat_of(dst).st_size, (off_t)sizes[i]);
		assert_same_file(src, dst);
	}
	ck_assert_int_eq(cb_total, (int)(sizeof(sizes) / sizeof(sizes[0])));
}
END_TEST

/*
 * Across file systems (ext4 or whatever holds /tmp, to the tmpfs at
 * /dev/shm) copy_file_range says EXDEV, and the copy goes through reads
 * and writes with several blocks in flight: the same sizes as above.
 */
START_TEST(test_copy_across_file_systems)
{
	const size_t B = RINGO_FS_COPY_BLOCK, N = RINGO_FS_COPY_BLOCKS;
	size_t sizes[] = { 1, B - 1, B + 1, N * B, (N + 3) * B + 77 };
	char src[PATH_MAX], dst[PATH_MAX], shm[] = "/dev/shm/ringo-test-XXXXXX";
	struct stat a, b;
	struct freq f;
	size_t i;

	REQUIRE_LOOP();
	in_tmp(src, "src");
	put_random_file(src, 1, 1);
	if (stat(src, &a) || stat("/dev/shm", &b) || a.st_dev == b.st_dev || !mkdtemp(shm))
		TEST_SKIP("no /dev/shm on another file system than %s", tmp);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(dst, sizeof(dst), "%s/dst-%zu", shm, sizes[i]);
		put_random_file(src, sizes[i], 2000 + i);
		ck_assert_int_eq(copy_file(&f, src, dst, 0), 0);
		ck_assert_uint_eq(f.req.size, sizes[i]);
		assert_same_file(src, dst);
	}
	test_rmtree(shm);
}
END_TEST

/*
 * sysfs reports 4096 bytes for files that hold a few, and will not copy
 * them in the kernel: the copy reads what there is and stops at the short
 * read, as cp(1) does.
 */
START_TEST(test_copy_sysfs)
{
	const char *src = "/sys/devices/system/cpu/online";
	char dst[PATH_MAX], want[4097], got[4097];
	ssize_t n;
	struct freq f;
	int fd;

	REQUIRE_LOOP();
	fd = open(src, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		TEST_SKIP("%s: %s", src, strerror(errno));
	n = read(fd, want, sizeof(want) - 1);
	ck_assert_int_gt(n, 0);
	close(fd);
	ck_assert_int_eq(copy_file(&f, src, in_tmp(dst, "online"), 0), 0);
	ck_assert_uint_eq(f.req.size, (size_t)n);
	fd = open(dst, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(read(fd, got, sizeof(got)), n);
	close(fd);
	ck_assert_int_eq(memcmp(got, want, (size_t)n), 0);
}
END_TEST

START_TEST(test_copy_mode)
{
	static const mode_t modes[] = { 0600, 0666, 0751, 0400 };
	char src[PATH_MAX], dst[PATH_MAX], name[32];
	struct freq f;
	mode_t saved;
	size_t i;

	REQUIRE_LOOP();
	saved = umask(022);
	put_file(in_tmp(src, "src"), "mode", 4);
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		ck_assert_int_eq(chmod(src, modes[i]), 0);
		/* A new dst gets src's bits whatever the umask says... */
		snprintf(name, sizeof(name), "dst-%o", (unsigned)modes[i]);
		in_tmp(dst, name);
		ck_assert_int_eq(copy_file(&f, src, dst, RINGO_FS_COPY_EXCL), 0);
		ck_assert_uint_eq(stat_of(dst).st_mode & 07777, modes[i]);
		assert_file_is(dst, "mode", 4);
	}
	/* ...and so does an existing one that is overwritten. */
	in_tmp(dst, "existing");
	put_file(dst, "old", 3);
	ck_assert_int_eq(chmod(dst, 0644), 0);
	ck_assert_int_eq(chmod(src, 0600), 0);
	ck_assert_int_eq(copy_file(&f, src, dst, 0), 0);
	ck_assert_uint_eq(stat_of(dst).st_mode & 07777, 0600);
	assert_file_is(dst, "mode", 4);
	umask(saved);
}
END_TEST

START_TEST(test_copy_excl)
{
	unsigned char *data = random_bytes(MiB, 5);
	char src[PATH_MAX], dst[PATH_MAX];
	struct freq f;

	REQUIRE_LOOP();
	put_file(in_tmp(src, "src"), data, MiB);
	put_file(in_tmp(dst, "dst"), "keep me", 7);
	ck_assert_int_eq(chmod(dst, 0640), 0);
	ck_assert_int_eq(copy_file(&f, src, dst, RINGO_FS_COPY_EXCL), -EEXIST);
	assert_file_is(dst, "keep me", 7);
	ck_assert_uint_eq(stat_of(dst).st_mode & 07777, 0640);

	/* EXCL to a name that is free works. */
	ck_assert_int_eq(copy_file(&f, src, in_tmp(dst, "fresh"), RINGO_FS_COPY_EXCL), 0);
	ck_assert_uint_eq(f.req.size, MiB);
	assert_file_is(dst, data, MiB);
	ck_assert_int_eq(list_tmp("").total, 3);
	free(data);
}
END_TEST

/* Copying a file onto itself (same path, or a hard link) must not empty it. */
START_TEST(test_copy_onto_itself)
{
	unsigned char *data = random_bytes(MiB, 9);
	char src[PATH_MAX], alias[PATH_MAX];
	struct freq f;

	REQUIRE_LOOP();
	put_file(in_tmp(src, "self"), data, MiB);
	ck_assert_int_eq(copy_file(&f, src, src, 0), -EINVAL);
	assert_file_is(src, data, MiB);
	ck_assert_int_eq(link(src, in_tmp(alias, "alias")), 0);
	ck_assert_int_eq(copy_file(&f, src, alias, 0), -EINVAL);
	assert_file_is(src, data, MiB);
	free(data);
}
END_TEST

/* An atomic rewrite keeps the replaced file's permission bits. */
START_TEST(test_write_atomic_keeps_mode)
{
	char path[PATH_MAX];
	struct freq f;

	REQUIRE_LOOP();
	put_file(in_tmp(path, "secret"), "old", 3);
	ck_assert_int_eq(chmod(path, 0600), 0);
	ck_assert_int_eq(write_file(&f, path, "new secret", 10, RINGO_FS_ATOMIC), 0);
	assert_file_is(path, "new secret", 10);
	ck_assert_uint_eq(stat_of(path).st_mode & 07777, 0600);
	ck_assert_int_eq(list_tmp("").total, 1);
}
END_TEST

START_TEST(test_copy_truncates)
{
	unsigned char *small = random_bytes(3 * RINGO_FS_COPY_BLOCK + 123, 6);
	char src[PATH_MAX], dst[PATH_MAX];
	struct freq f;

	REQUIRE_LOOP();
	put_file(in_tmp(src, "src"), small, 3 * RINGO_FS_COPY_BLOCK + 123);
	put_random_file(in_tmp(dst, "dst"), 5 * MiB, 8);
	ck_assert_int_eq(copy_file(&f, src, dst, 0), 0);
	ck_assert_uint_eq(f.req.size, 3 * RINGO_FS_COPY_BLOCK + 123);
	assert_file_is(dst, small, 3 * RINGO_FS_COPY_BLOCK + 123);

	/* An empty src empties dst. */
	put_file(src, "", 0);
	ck_assert_int_eq(copy_file(&f, src, dst, 0), 0);
	ck_assert_uint_eq(f.req.size, 0);
	ck_assert_int_eq(stat_of(dst).st_size, 0);
	free(small);
}
END_TEST

START_TEST(test_copy_errors)
{
	char src[PATH_MAX], dst[PATH_MAX], sub[PATH_MAX];
	struct freq f;

	REQUIRE_LOOP();
	in_tmp(dst, "dst");
	ck_assert_int_eq(copy_file(&f, in_tmp(src, "missing"), dst, 0), -ENOENT);
	ck_assert_int_eq(copy_file(&f, src, dst, RINGO_FS_COPY_EXCL), -ENOENT);
	ck_assert(!exists(dst));

	ck_assert_int_eq(mkdir(in_tmp(sub, "sub"), 0755), 0);
	ck_assert_int_eq(copy_file(&f, sub, dst, 0), -EISDIR);
	ck_assert(!exists(dst));

	/* dst in a directory that does not exist. */
	put_file(in_tmp(src, "src"), "x", 1);
	ck_assert_int_eq(copy_file(&f, src, in_tmp(dst, "nodir/dst"), 0), -ENOENT);
	/* dst is a directory. */
	ck_assert_int_eq(copy_file(&f, src, sub, 0), -EISDIR);
	ck_assert(S_ISDIR(stat_of(sub).st_mode));
	ck_assert_int_eq(list_tmp("").total, 2);
	ck_assert_int_eq(cb_total, 5);
}
END_TEST

/* ---- Together, arguments, the loop -------------------------------------- */

/* Reads, writes and copies of different files all in flight in one run. */
START_TEST(test_many_in_flight)
{
	enum { N = 6 };
	static struct freq rd[N], wr[N], cp[N];
	static char rpath[N][PATH_MAX], wpath[N][PATH_MAX], cpath[N][PATH_MAX];
	unsigned char *data[N];
	size_t len[N];
	char name[32];
	int i;

	REQUIRE_LOOP();
	for (i = 0; i < N; i++) {
		len[i] = (size_t)i * 300 * KiB + (size_t)i;
		data[i] = random_bytes(len[i], 200 + (uint64_t)i);
		snprintf(name, sizeof(name), "r%d", i);
		put_file(in_tmp(rpath[i], name), data[i], len[i]);
		snprintf(name, sizeof(name), "w%d", i);
		in_tmp(wpath[i], name);
		snprintf(name, sizeof(name), "c%d", i);
		in_tmp(cpath[i], name);
	}
	memset(rd, 0, sizeof(rd));
	memset(wr, 0, sizeof(wr));
	memset(cp, 0, sizeof(cp));
	for (i = 0; i < N; i++) {
		ck_assert_int_eq(ringo_fs_read_file(&loop, &rd[i].req, rpath[i], freq_cb), 0);
		ck_assert_int_eq(ringo_fs_write_file(&loop, &wr[i].req, wpath[i], data[i], len[i],
						     i % 2 ? RINGO_FS_ATOMIC : 0, freq_cb), 0);
		ck_assert_int_eq(ringo_fs_copy_file(&loop, &cp[i].req, rpath[i], cpath[i], 0,
						    freq_cb), 0);
	}
	run_loop();
	ck_assert_int_eq(cb_total, 3 * N);
	for (i = 0; i < N; i++) {
		ck_assert_int_eq(rd[i].calls, 1);
		ck_assert_int_eq(rd[i].status, 0);
		ck_assert_uint_eq(rd[i].req.size, len[i]);
		ck_assert(memcmp(rd[i].req.contents, data[i], len[i]) == 0);
		free(rd[i].req.contents);
		ck_assert_int_eq(wr[i].calls, 1);
		ck_assert_int_eq(wr[i].status, 0);
		assert_file_is(wpath[i], data[i], len[i]);
		ck_assert_int_eq(cp[i].calls, 1);
		ck_assert_int_eq(cp[i].status, 0);
		ck_assert_uint_eq(cp[i].req.size, len[i]);
		assert_file_is(cpath[i], data[i], len[i]);
		free(data[i]);
	}
	ck_assert_int_eq(list_tmp("").total, 3 * N);
}
END_TEST

START_TEST(test_bad_arguments)
{
	char p[PATH_MAX], q[PATH_MAX];
	ringo_loop_t closed;
	struct freq f;

	REQUIRE_LOOP();
	memset(&f, 0, sizeof(f));
	put_file(in_tmp(p, "src"), "x", 1);
	in_tmp(q, "dst");

	ck_assert_int_eq(ringo_fs_read_file(NULL, &f.req, p, freq_cb), -EINVAL);
	ck_assert_int_eq(ringo_fs_read_file(&loop, NULL, p, freq_cb), -EINVAL);
	ck_assert_int_eq(ringo_fs_read_file(&loop, &f.req, NULL, freq_cb), -EINVAL);
	ck_assert_int_eq(ringo_fs_read_file(&loop, &f.req, p, NULL), -EINVAL);

	ck_assert_int_eq(ringo_fs_write_file(NULL, &f.req, q, "a", 1, 0, freq_cb), -EINVAL);
	ck_assert_int_eq(ringo_fs_write_file(&loop, NULL, q, "a", 1, 0, freq_cb), -EINVAL);
	ck_assert_int_eq(ringo_fs_write_file(&loop, &f.req, NULL, "a", 1, 0, freq_cb), -EINVAL);
	ck_assert_int_eq(ringo_fs_write_file(&loop, &f.req, q, "a", 1, 0, NULL), -EINVAL);
	ck_assert_int_eq(ringo_fs_write_file(&loop, &f.req, q, NULL, 1, 0, freq_cb), -EINVAL);
	ck_assert_int_eq(ringo_fs_write_file(&loop, &f.req, q, NULL, 1, RINGO_FS_ATOMIC,
					     freq_cb), -EINVAL);
	ck_assert_int_eq(ringo_fs_write_file(&loop, &f.req, q, "a", 1, RINGO_FS_ATOMIC << 1,
					     freq_cb), -EINVAL);
	ck_assert_int_eq(ringo_fs_write_file(&loop, &f.req, q, "a", 1, ~0U, freq_cb), -EINVAL);

	ck_assert_int_eq(ringo_fs_copy_file(NULL, &f.req, p, q, 0, freq_cb), -EINVAL);
	ck_assert_int_eq(ringo_fs_copy_file(&loop, NULL, p, q, 0, freq_cb), -EINVAL);
	ck_assert_int_eq(ringo_fs_copy_file(&loop, &f.req, NULL, q, 0, freq_cb), -EINVAL);
	ck_assert_int_eq(ringo_fs_copy_file(&loop, &f.req, p, NULL, 0, freq_cb), -EINVAL);
	ck_assert_int_eq(ringo_fs_copy_file(&loop, &f.req, p, q, 0, NULL), -EINVAL);
	ck_assert_int_eq(ringo_fs_copy_file(&loop, &f.req, p, q, RINGO_FS_COPY_EXCL << 1,
					    freq_cb), -EINVAL);

	/* A loop that is closed (here: opened and closed again). */
	ck_assert_int_eq(test_loop_init(&closed, NULL), 0);
	ck_assert_int_eq(ringo_loop_close(&closed), 0);
	ck_assert_int_eq(ringo_fs_read_file(&closed, &f.req, p, freq_cb), -EINVAL);
	ck_assert_int_eq(ringo_fs_write_file(&closed, &f.req, q, "a", 1, 0, freq_cb), -EINVAL);
	ck_assert_int_eq(ringo_fs_copy_file(&closed, &f.req, p, q, 0, freq_cb), -EINVAL);

	/* Nothing started: the loop has nothing to run, no callback, no dst. */
	ck_assert_int_eq(ringo_loop_alive(&loop), 0);
	run_loop();
	ck_assert_int_eq(f.calls, 0);
	ck_assert_int_eq(cb_total, 0);
	ck_assert(!exists(q));

	/* And the same request still works afterwards. */
	ck_assert_int_eq(copy_file(&f, p, q, 0), 0);
	assert_file_is(q, "x", 1);
}
END_TEST

/*
 * A helper counts as one request from start to callback, also between its
 * steps: the loop stays alive and refuses to close until the callback.
 */
START_TEST(test_loop_busy_until_callback)
{
	unsigned char *data = random_bytes(2 * MiB, 9);
	char p[PATH_MAX], q[PATH_MAX];
	struct freq w, c, r;
	int spins = 0;

	REQUIRE_LOOP();
	memset(&w, 0, sizeof(w));
	memset(&c, 0, sizeof(c));
	memset(&r, 0, sizeof(r));
	in_tmp(p, "a");
	in_tmp(q, "b");
	ck_assert_int_eq(ringo_fs_write_file(&loop, &w.req, p, data, 2 * MiB, RINGO_FS_ATOMIC,
					     freq_cb), 0);
	ck_assert_int_eq(ringo_loop_close(&loop), -EBUSY);
	while (!w.calls) {
		ck_assert_int_eq(ringo_loop_alive(&loop), 1);
		ck_assert_int_eq(ringo_loop_close(&loop), -EBUSY);
		ck_assert_int_ge(ringo_run(&loop, RINGO_RUN_ONCE), 0);
		spins++;
	}
	/* open, write, fsync, close, rename, open dir, fsync, close: 8 steps. */
	ck_assert_int_ge(spins, 2);
	ck_assert_int_eq(w.status, 0);
	ck_assert_int_eq(ringo_loop_alive(&loop), 0);

	ck_assert_int_eq(ringo_fs_copy_file(&loop, &c.req, p, q, 0, freq_cb), 0);
	ck_assert_int_eq(ringo_fs_read_file(&loop, &r.req, p, freq_cb), 0);
	while (!c.calls || !r.calls) {
		ck_assert_int_eq(ringo_loop_close(&loop), -EBUSY);
		ck_assert_int_ge(ringo_run(&loop, RINGO_RUN_ONCE), 0);
	}
	ck_assert_int_eq(c.status, 0);
	ck_assert_int_eq(r.status, 0);
	ck_assert_int_eq(ringo_loop_alive(&loop), 0);
	ck_assert_int_eq(c.calls + r.calls + w.calls, 3);
	assert_file_is(q, data, 2 * MiB);
	ck_assert(memcmp(r.req.contents, data, 2 * MiB) == 0);
	free(r.req.contents);
	free(data);
}
END_TEST

/*
 * Files over INT_MAX bytes, more than one ringo_fs_read or ringo_fs_write
 * may move: the helpers have to loop. Stress only (2 GiB of disk, and of
 * memory for the read).
 */
START_TEST(test_over_2gib)
{
	size_t len = ((size_t)2 << 30) + 3;
	char p[PATH_MAX], q[PATH_MAX];
	struct freq f;
	void *zeros;
	int fd;

	REQUIRE_LOOP();
	if (!test_stress())
		TEST_SKIP("needs RINGO_STRESS=1");
	/* read_file of a sparse file with a tail to find. */
	fd = open(in_tmp(p, "sparse"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "end", 3, (off_t)len - 3), 3);
	ck_assert_int_eq(close(fd), 0);
	ck_assert_int_eq(read_file(&f, p), 0);
	ck_assert_uint_eq(f.req.size, len);
	ck_assert_mem_eq((char *)f.req.contents + len - 4, "\0end", 5);
	free(f.req.contents);

	/* write_file from a read-only anonymous mapping: zero pages, no memory. */
	zeros = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(zeros != MAP_FAILED);
	ck_assert_int_eq(write_file(&f, in_tmp(q, "big"), zeros, len, 0), 0);
	ck_assert_int_eq(stat_of(q).st_size, (off_t)len);
	ck_assert_int_eq(munmap(zeros, len), 0);
}
END_TEST

/* ---- Suite ------------------------------------------------------------- */

static void reset_state(void)
{
	cb_total = 0;
	child_status = 1;
	memset(&rw, 0, sizeof(rw));
}

static Suite *suite(void)
{
	Suite *s = suite_create("fs_file");
	TCase *rd = test_tcase(s, "read_file", setup, teardown, 120);
	TCase *wr = test_tcase(s, "write_file", setup, teardown, 120);
	TCase *atomic = test_tcase(s, "atomic", setup, teardown, 300);
	TCase *cp = test_tcase(s, "copy_file", setup, teardown, 300);
	TCase *misc = test_tcase(s, "misc", setup, teardown, 120);
	TCase *huge = test_tcase(s, "huge", setup, teardown, 600);

	tcase_add_test(rd, test_read_empty);
	tcase_add_test(rd, test_read_small);
	tcase_add_test(rd, test_read_large);
	tcase_add_test(rd, test_read_procfs);
	tcase_add_test(rd, test_read_fifo);
	tcase_add_test(rd, test_read_missing);
	tcase_add_test(rd, test_read_directory);

	tcase_add_test(wr, test_write_creates);
	tcase_add_test(wr, test_write_truncates);
	tcase_add_test(wr, test_write_empty);
	tcase_add_test(wr, test_write_atomic_replaces);
	tcase_add_test(wr, test_write_atomic_keeps_mode);
	tcase_add_test(wr, test_write_atomic_relative);
	tcase_add_test(wr, test_write_missing_dir);
	tcase_add_test(wr, test_write_onto_directory);

	tcase_add_test(atomic, test_atomic_concurrent_reader);
	tcase_add_test(atomic, test_atomic_killed_writer);

	tcase_add_test(cp, test_copy_large);
	tcase_add_test(cp, test_copy_sizes);
	tcase_add_test(cp, test_copy_across_file_systems);
	tcase_add_test(cp, test_copy_sysfs);
	tcase_add_test(cp, test_copy_mode);
	tcase_add_test(cp, test_copy_excl);
	tcase_add_test(cp, test_copy_onto_itself);
	tcase_add_test(cp, test_copy_truncates);
	tcase_add_test(cp, test_copy_errors);

	tcase_add_test(misc, test_many_in_flight);
	tcase_add_test(misc, test_bad_arguments);
	tcase_add_test(misc, test_loop_busy_until_callback);

	tcase_add_test(huge, test_over_2gib);
	return s;
}

int main(void)
{
	return test_main(suite());
}
