/* SPDX-License-Identifier: MIT */
/*
 * Directories (fs/dir.c): opendir/readdir/closedir list every entry exactly
 * once with its type, across refills of the getdents buffer and in chunks
 * of any size; "." and ".." never appear; empty directories end at once;
 * the usual errors (ENOENT, ENOTDIR); one readdir at a time (-EBUSY); a
 * closedir cancelled before it ran leaves the directory usable; bad
 * arguments fail with -EINVAL before any callback.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture_loop.h"

static char tmpdir[PATH_MAX];

struct dreq {
	ringo_fs_t req;
	int calls;
};

static void on_fs(ringo_fs_t *req)
{
	owner_of(req, struct dreq, req)->calls++;
}

static void setup(void)
{
	test_tmpdir(tmpdir, sizeof(tmpdir));
	loop_fixture_open(NULL);
}

static void teardown(void)
{
	loop_fixture_close();
	test_rmtree(tmpdir);
}

static const char *tp(const char *name)
{
	static char bufs[4][PATH_MAX];
	static unsigned next;
	char *b = bufs[next++ % 4];

	ck_assert(snprintf(b, PATH_MAX, "%s/%s", tmpdir, name) < PATH_MAX);
	return b;
}

/* Run the loop until the request's callback ran once; its result. */
static ssize_t wait_req(struct dreq *d, int ret)
{
	assert_status(ret, 0);
	while (!d->calls)
		ck_assert_int_ge(ringo_run(&loop, RINGO_RUN_ONCE), 0);
	ck_assert_int_eq(d->calls, 1);
	return d->req.result;
}

static ringo_dir_t *open_dir(const char *path)
{
	struct dreq d = { 0 };
	ssize_t res = wait_req(&d, ringo_fs_opendir(&loop, &d.req, path, on_fs));

	ck_assert_msg(res == 0, "opendir %s: %s", path, ringo_err_name((int)res));
	ck_assert_int_eq(d.req.fs_type, RINGO_FS_OPENDIR);
	ck_assert_ptr_nonnull(d.req.dir);
	return d.req.dir;
}

static ssize_t read_dir(ringo_dir_t *dir, struct ringo_dirent *ents, unsigned n)
{
	struct dreq d = { 0 };
	ssize_t res = wait_req(&d, ringo_fs_readdir(&loop, &d.req, dir, ents, n, on_fs));

	ck_assert_int_eq(d.req.fs_type, RINGO_FS_READDIR);
	ck_assert_ptr_eq(d.req.dirents, ents);
	return res;
}

static void close_dir(ringo_dir_t *dir)
{
	struct dreq d = { 0 };

	ck_assert_int_eq(wait_req(&d, ringo_fs_closedir(&loop, &d.req, dir, on_fs)), 0);
	ck_assert_int_eq(d.req.fs_type, RINGO_FS_CLOSEDIR);
}

static void touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

	ck_assert_msg(fd >= 0, "create %s: %s", path, strerror(errno));
	ck_assert_int_eq(close(fd), 0);
}

/* Entries name "f<i>" for the files, plus "sub" and "link". */
static int file_index(const char *name)
{
	char *end;
	long i;

	if (name[0] != 'f')
		return -1;
	i = strtol(name + 1, &end, 10);
	return *end ? -1 : (int)i;
}

/* Enough long names to fill the 32 KiB getdents buffer several times. */
START_TEST(test_readdir_lists_all)
{
	const int nfiles = 1500;
	static const unsigned chunks[] = { 1, 7, 64, 5000 };
	struct ringo_dirent ents[5000];
	char name[64], *seen = calloc((size_t)nfiles, 1);
	unsigned c;
	int i;

	REQUIRE_LOOP();
	ck_assert_ptr_nonnull(seen);
	for (i = 0; i < nfiles; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		touch(tp(name));
	}
	ck_assert_int_eq(mkdir(tp("sub"), 0755), 0);
	ck_assert_int_eq(symlink("f0", tp("link")), 0);

	for (c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		ringo_dir_t *dir = open_dir(tmpdir);
		int total = 0, subs = 0, links = 0;
		struct stat st;
		ssize_t n;

		ck_assert_int_eq(fstat(ringo_dir_fd(dir), &st), 0);
		ck_assert(S_ISDIR(st.st_mode));
		memset(seen, 0, (size_t)nfiles);
		while ((n = read_dir(dir, ents, chunks[c])) > 0) {
			ck_assert_int_le(n, chunks[c]);
			for (i = 0; i < n; i++) {
				const struct ringo_dirent *e = &ents[i];
				int fi = file_index(e->name);

				ck_assert_uint_ne(e->ino, 0);
				total++;
				if (!strcmp(e->name, "sub")) {
					subs++;
					ck_assert(e->type == DT_DIR || e->type == DT_UNKNOWN);
				} else if (!strcmp(e->name, "link")) {
					links++;
					ck_assert(e->type == DT_LNK || e->type == DT_UNKNOWN);
				} else {
					ck_assert_msg(fi >= 0 && fi < nfiles, "stray entry '%s'",
						      e->name);
					ck_assert_msg(!seen[fi], "'%s' listed twice", e->name);
					seen[fi] = 1;
					ck_assert(e->type == DT_REG || e->type == DT_UNKNOWN);
				}
			}
		}
		ck_assert_msg(n == 0, "readdir: %s", ringo_err_name((int)n));
		ck_assert_int_eq(total, nfiles + 2);
		ck_assert_int_eq(subs, 1);
		ck_assert_int_eq(links, 1);
		for (i = 0; i < nfiles; i++)
			ck_assert_msg(seen[i], "f%d missing (chunk %u)", i, chunks[c]);
		/* The end stays the end. */
		ck_assert_int_eq(read_dir(dir, ents, chunks[c]), 0);
		close_dir(dir);
	}
	free(seen);
}
END_TEST

START_TEST(test_readdir_empty)
{
	struct ringo_dirent ents[4];
	ringo_dir_t *dir;

	REQUIRE_LOOP();
	ck_assert_int_eq(mkdir(tp("empty"), 0755), 0);
	dir = open_dir(tp("empty"));
	ck_assert_int_eq(read_dir(dir, ents, 4), 0);
	ck_assert_int_eq(read_dir(dir, ents, 4), 0);
	close_dir(dir);
}
END_TEST

/* A directory removed while open reads as empty, as readdir(3) does. */
START_TEST(test_readdir_removed)
{
	struct ringo_dirent ents[4];
	ringo_dir_t *dir;

	REQUIRE_LOOP();
	ck_assert_int_eq(mkdir(tp("gone"), 0755), 0);
	dir = open_dir(tp("gone"));
	ck_assert_int_eq(rmdir(tp("gone")), 0);
	ck_assert_int_eq(read_dir(dir, ents, 4), 0);
	close_dir(dir);
}
END_TEST

START_TEST(test_opendir_errors)
{
	struct dreq d = { 0 };

	REQUIRE_LOOP();
	touch(tp("file"));
	ck_assert_int_eq(wait_req(&d, ringo_fs_opendir(&loop, &d.req, tp("missing"), on_fs)),
			 -ENOENT);
	ck_assert_ptr_null(d.req.dir);
	d.calls = 0;
	ck_assert_int_eq(wait_req(&d, ringo_fs_opendir(&loop, &d.req, tp("file"), on_fs)),
			 -ENOTDIR);
	ck_assert_ptr_null(d.req.dir);
	d.calls = 0;
	ck_assert_int_eq(wait_req(&d, ringo_fs_opendir(&loop, &d.req, "", on_fs)), -ENOENT);
}
END_TEST

/* The closedir callback is the directory's last use: its fd is closed. */
START_TEST(test_closedir_closes_fd)
{
	ringo_dir_t *dir;
	int fd;

	REQUIRE_LOOP();
	dir = open_dir(tmpdir);
	fd = ringo_dir_fd(dir);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_ne(fcntl(fd, F_GETFD), -1);
	close_dir(dir);
	errno = 0;
	ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
	ck_assert_int_eq(errno, EBADF);
}
END_TEST

START_TEST(test_one_readdir_at_a_time)
{
	struct ringo_dirent a[4], b[4];
	struct dreq r1 = { 0 }, r2 = { 0 };
	ringo_dir_t *dir;

	REQUIRE_LOOP();
	touch(tp("x"));
	dir = open_dir(tmpdir);
	assert_status(ringo_fs_readdir(&loop, &r1.req, dir, a, 4, on_fs), 0);
	assert_status(ringo_fs_readdir(&loop, &r2.req, dir, b, 4, on_fs), -EBUSY);
	assert_status(ringo_fs_closedir(&loop, &r2.req, dir, on_fs), -EBUSY);
	ck_assert_int_eq(wait_req(&r1, 0), 1);
	ck_assert_str_eq(a[0].name, "x");
	ck_assert_int_eq(r2.calls, 0);
	close_dir(dir);
}
END_TEST

/* A pool item that holds the only pool thread until a byte arrives. */
struct blocker {
	ringo_work_t work;
	int fds[2];
	int after_calls;
};

static void block_work(ringo_work_t *work)
{
	struct blocker *b = owner_of(work, struct blocker, work);
	char c;

	ck_assert_int_eq(read(b->fds[0], &c, 1), 1);
}

static void block_after(ringo_work_t *work, int status)
{
	ck_assert_int_eq(status, 0);
	owner_of(work, struct blocker, work)->after_calls++;
}

/* Cancelled while queued behind busy work: -ECANCELED, and the directory
 * is still open and readable. */
START_TEST(test_closedir_cancelled)
{
	struct ringo_loop_opts opts;
	struct ringo_dirent ents[4];
	struct blocker b = { 0 };
	struct dreq d = { 0 };
	ringo_dir_t *dir;

	REQUIRE_LOOP();
	loop_fixture_close();
	ringo_loop_opts_init(&opts);
	opts.threadpool_size = 1;
	loop_fixture_open(&opts);
	touch(tp("y"));
	dir = open_dir(tmpdir);
	test_pipe(b.fds);
	assert_status(ringo_work_queue(&loop, &b.work, block_work, block_after), 0);
	assert_status(ringo_fs_closedir(&loop, &d.req, dir, on_fs), 0);
	assert_status(ringo_cancel(AS_REQ(&d.req)), 0);
	ck_assert_int_eq(wait_req(&d, 0), -ECANCELED);
	test_write_byte(b.fds[1], 'x');
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(b.after_calls, 1);
	test_close_pipe(b.fds);

	ck_assert_int_eq(read_dir(dir, ents, 4), 1);
	ck_assert_str_eq(ents[0].name, "y");
	close_dir(dir);
}
END_TEST

START_TEST(test_bad_arguments)
{
	struct ringo_dirent ents[2];
	struct dreq d = { 0 };
	ringo_dir_t *dir;

	REQUIRE_LOOP();
	dir = open_dir(tmpdir);
	assert_status(ringo_fs_opendir(NULL, &d.req, tmpdir, on_fs), -EINVAL);
	assert_status(ringo_fs_opendir(&loop, NULL, tmpdir, on_fs), -EINVAL);
	assert_status(ringo_fs_opendir(&loop, &d.req, NULL, on_fs), -EINVAL);
	assert_status(ringo_fs_opendir(&loop, &d.req, tmpdir, NULL), -EINVAL);
	assert_status(ringo_fs_readdir(NULL, &d.req, dir, ents, 2, on_fs), -EINVAL);
	assert_status(ringo_fs_readdir(&loop, NULL, dir, ents, 2, on_fs), -EINVAL);
	assert_status(ringo_fs_readdir(&loop, &d.req, NULL, ents, 2, on_fs), -EINVAL);
	assert_status(ringo_fs_readdir(&loop, &d.req, dir, NULL, 2, on_fs), -EINVAL);
	assert_status(ringo_fs_readdir(&loop, &d.req, dir, ents, 0, on_fs), -EINVAL);
	assert_status(ringo_fs_readdir(&loop, &d.req, dir, ents, 2, NULL), -EINVAL);
	assert_status(ringo_fs_closedir(NULL, &d.req, dir, on_fs), -EINVAL);
	assert_status(ringo_fs_closedir(&loop, NULL, dir, on_fs), -EINVAL);
	assert_status(ringo_fs_closedir(&loop, &d.req, NULL, on_fs), -EINVAL);
	assert_status(ringo_fs_closedir(&loop, &d.req, dir, NULL), -EINVAL);
	assert_status(ringo_dir_fd(NULL), -EINVAL);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	ck_assert_int_eq(d.calls, 0);
	close_dir(dir);
}
END_TEST

static Suite *dir_suite(void)
{
	Suite *s = suite_create("fs_dir");
	TCase *tc = test_tcase(s, "dir", setup, teardown, 60);

	tcase_add_test(tc, test_readdir_lists_all);
	tcase_add_test(tc, test_readdir_empty);
	tcase_add_test(tc, test_readdir_removed);
	tcase_add_test(tc, test_opendir_errors);
	tcase_add_test(tc, test_closedir_closes_fd);
	tcase_add_test(tc, test_one_readdir_at_a_time);
	tcase_add_test(tc, test_closedir_cancelled);
	tcase_add_test(tc, test_bad_arguments);
	return s;
}

int main(void)
{
	return test_main(dir_suite());
}
