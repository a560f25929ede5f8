/* SPDX-License-Identifier: MIT */
/*
 * examples/rcp, run as a child process: a tree (files of odd sizes up to
 * 1 MiB, modes 600/640/755/700, nested directories of mode 750 and 555,
 * symbolic links, an empty file and an empty directory) copied byte for
 * byte with its modes and link targets, with -j 1 and -j 16; DST an
 * existing directory (copy goes to DST/basename); and cp's errors with
 * their exit status 1 and wording: a missing source (the other sources
 * are still copied), a directory without -r, a directory into itself,
 * several sources into a non-directory; bad usage exits 2. Each test has
 * its own temp dir, removed afterwards.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

#ifndef RCP_EXAMPLE
#error "RCP_EXAMPLE must name the built examples/rcp binary"
#endif

static char tmp[PATH_MAX];
static char err_text[16384];	/* the child's stderr */

static void setup(void)
{
	test_tmpdir(tmp, sizeof(tmp));
	err_text[0] = '\0';
}

static void teardown(void)
{
	/* Read-only directories the tests made: writable again to remove. */
	char cmd[PATH_MAX + 32];

	snprintf(cmd, sizeof(cmd), "chmod -R u+rwx '%s'", tmp);
	(void)system(cmd);
	test_rmtree(tmp);
}

__attribute__((format(printf, 2, 3))) static char *pathf(char *buf, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, PATH_MAX, fmt, ap);
	va_end(ap);
	ck_assert(n >= 0 && n < PATH_MAX);
	return buf;
}

/* Run rcp with argv (NULL-terminated, without argv[0]) in tmp; its exit
 * status, its stderr in err_text. */
static int rcp(const char *first, ...)
{
	const char *argv[32] = { RCP_EXAMPLE };
	int n = 1, fds[2], status;
	size_t got = 0;
	ssize_t r;
	va_list ap;
	pid_t pid;

	va_start(ap, first);
	for (const char *a = first; a; a = va_arg(ap, const char *)) {
		ck_assert_int_lt(n, 31);
		argv[n++] = a;
	}
	va_end(ap);
	argv[n] = NULL;
	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (dup2(fds[1], STDERR_FILENO) < 0 || chdir(tmp))
			_exit(120);
		execv(RCP_EXAMPLE, (char **)argv);
		_exit(121);
	}
	close(fds[1]);
	while ((r = read(fds[0], err_text + got, sizeof(err_text) - 1 - got)) > 0)
		got += (size_t)r;
	err_text[got] = '\0';
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "rcp died: status %#x", status);
	return WEXITSTATUS(status);
}

#define assert_err_has(s) ck_assert_msg(strstr(err_text, s), "stderr lacks \"%s\": %s", s, err_text)

static void make_file(const char *path, size_t size, mode_t mode, unsigned seed)
{
	unsigned char buf[4096];
	size_t n, i;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	for (; size; size -= n) {
		n = size < sizeof(buf) ? size : sizeof(buf);
		for (i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = (unsigned char)(seed ^ (seed >> 16));
		}
		ck_assert_int_eq(write(fd, buf, n), (ssize_t)n);
	}
	ck_assert_int_eq(fchmod(fd, mode), 0);
	ck_assert_int_eq(close(fd), 0);
}

static void make_dir(const char *path)
{
	ck_assert_msg(mkdir(path, 0755) == 0, "mkdir %s: %s", path, strerror(errno));
}

/* src/ with every kind of entry rcp copies. */
static void make_src(const char *name)
{
	static const size_t sizes[] = { 0, 1, 4095, 4096, 65537, 256 * 1024 + 3, 1 << 20 };
	static const mode_t modes[] = { 0600, 0640, 0755, 0700, 0644, 0444, 0750 };
	char p[PATH_MAX];
	unsigned i, d;

	make_dir(pathf(p, "%s/%s", tmp, name));
	for (d = 0; d < 6; d++) {
		make_dir(pathf(p, "%s/%s/dir%u", tmp, name, d));
		make_dir(pathf(p, "%s/%s/dir%u/sub", tmp, name, d));
		for (i = 0; i < 7; i++) {
			pathf(p, "%s/%s/dir%u/%s-%u", tmp, name, d, i % 2 ? "sub/f" : "f", i);
			make_file(p, sizes[(i + d) % 7], modes[(i * 3 + d) % 7], i * 31 + d);
		}
		ck_assert_int_eq(symlink("../dir0/f-0", pathf(p, "%s/%s/dir%u/link", tmp, name, d)),
				 0);
	}
	make_dir(pathf(p, "%s/%s/empty", tmp, name));
	ck_assert_int_eq(symlink("dangling", pathf(p, "%s/%s/dangle", tmp, name)), 0);
	ck_assert_int_eq(chmod(pathf(p, "%s/%s/dir1", tmp, name), 0750), 0);
	ck_assert_int_eq(chmod(pathf(p, "%s/%s/dir2/sub", tmp, name), 0555), 0);
}

/* ---- comparing trees -------------------------------------------------------- */

static const char *cmp_root_src, *cmp_root_dst;
static unsigned cmp_entries;

static void same_content(const char *a, const char *b, off_t size)
{
	static char ba[65536], bb[65536];
	int fa = open(a, O_RDONLY | O_CLOEXEC), fb = open(b, O_RDONLY | O_CLOEXEC);
	ssize_t na, nb;
	off_t total = 0;

	ck_assert_msg(fa >= 0 && fb >= 0, "open %s / %s", a, b);
	do {
		na = read(fa, ba, sizeof(ba));
		nb = read(fb, bb, sizeof(bb));
		ck_assert_int_eq(na, nb);
		ck_assert_msg(na >= 0 && !memcmp(ba, bb, (size_t)na), "%s differs near %lld", b,
			      (long long)total);
		total += na;
	} while (na > 0);
	ck_assert_int_eq(total, size);
	close(fa);
	close(fb);
}

static int cmp_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	char other[PATH_MAX], la[PATH_MAX], lb[PATH_MAX];
	struct stat ot;
	ssize_t n, m;

	(void)type;
	(void)ftw;
	pathf(other, "%s%s", cmp_root_dst, path + strlen(cmp_root_src));
	ck_assert_msg(lstat(other, &ot) == 0, "%s missing: %s", other, strerror(errno));
	ck_assert_msg((ot.st_mode & S_IFMT) == (st->st_mode & S_IFMT), "%s: type", other);
	cmp_entries++;
	if (S_ISLNK(st->st_mode)) {
		n = readlink(path, la, sizeof(la));
		m = readlink(other, lb, sizeof(lb));
		ck_assert(n > 0 && n == m && !memcmp(la, lb, (size_t)n));
		return 0;
	}
	ck_assert_msg((ot.st_mode & 07777) == (st->st_mode & 07777), "%s: mode %o, want %o",
		      other, ot.st_mode & 07777, st->st_mode & 07777);
	if (S_ISREG(st->st_mode))
		same_content(path, other, st->st_size);
	return 0;
}

/* Every entry of src has its twin in dst; returns how many. */
static unsigned compare_trees(const char *src, const char *dst)
{
	cmp_root_src = src;
	cmp_root_dst = dst;
	cmp_entries = 0;
	ck_assert_int_eq(nftw(src, cmp_entry, 16, FTW_PHYS), 0);
	return cmp_entries;
}

static unsigned count_entry_n;

static int count_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)path;
	(void)st;
	(void)type;
	(void)ftw;
	count_entry_n++;
	return 0;
}

static unsigned count_tree(const char *root)
{
	count_entry_n = 0;
	ck_assert_int_eq(nftw(root, count_entry, 16, FTW_PHYS), 0);
	return count_entry_n;
}

/* ---- tests ---------------------------------------------------------------- */

START_TEST(test_copy_tree)
{
	char s[PATH_MAX], d[PATH_MAX];
	unsigned n;

	make_src("src");
	ck_assert_int_eq(rcp("-r", "-q", "src", "dst", NULL), 0);
	ck_assert_str_eq(err_text, "");
	n = compare_trees(pathf(s, "%s/src", tmp), pathf(d, "%s/dst", tmp));
	ck_assert_uint_eq(n, count_tree(s));
	ck_assert_uint_eq(count_tree(d), n);	/* nothing extra either */

	/* One file at a time gives the same tree. */
	ck_assert_int_eq(rcp("-r", "-q", "-j", "1", "src", "dst1", NULL), 0);
	ck_assert_uint_eq(compare_trees(s, pathf(d, "%s/dst1", tmp)), n);
}
END_TEST

/* Not quiet, not a terminal: one summary line, no progress redraws. */
START_TEST(test_summary_line)
{
	make_src("src");
	ck_assert_int_eq(rcp("-r", "src", "dst", NULL), 0);
	ck_assert_msg(!strncmp(err_text, "rcp: 42/42 files", 16), "%s", err_text);
	ck_assert_ptr_null(strchr(err_text, '\r'));
	ck_assert_ptr_eq(strchr(err_text, '\n'), err_text + strlen(err_text) - 1);
}
END_TEST

START_TEST(test_into_existing_dir)
{
	char p[PATH_MAX], q[PATH_MAX];

	make_src("src");
	make_dir(pathf(p, "%s/out", tmp));
	make_file(pathf(p, "%s/one", tmp), 1000, 0604, 7);
	ck_assert_int_eq(rcp("-r", "-q", "src", "one", "out", NULL), 0);
	compare_trees(pathf(p, "%s/src", tmp), pathf(q, "%s/out/src", tmp));
	compare_trees(pathf(p, "%s/one", tmp), pathf(q, "%s/out/one", tmp));
	/* A file onto a new name. */
	ck_assert_int_eq(rcp("-q", "one", "two", NULL), 0);
	compare_trees(pathf(p, "%s/one", tmp), pathf(q, "%s/two", tmp));
}
END_TEST

START_TEST(test_missing_source)
{
	char p[PATH_MAX], q[PATH_MAX];

	make_file(pathf(p, "%s/here", tmp), 5000, 0644, 3);
	make_dir(pathf(p, "%s/out", tmp));
	ck_assert_int_eq(rcp("-q", "nope", "here", "out", NULL), 1);
	ck_assert_str_eq(err_text, "rcp: cannot stat 'nope': No such file or directory\n");
	/* The other source was still copied. */
	compare_trees(pathf(p, "%s/here", tmp), pathf(q, "%s/out/here", tmp));
}
END_TEST

START_TEST(test_directory_without_r)
{
	char p[PATH_MAX];

	make_dir(pathf(p, "%s/d", tmp));
	ck_assert_int_eq(rcp("-q", "d", "e", NULL), 1);
	ck_assert_str_eq(err_text, "rcp: -r not specified; omitting directory 'd'\n");
	ck_assert_int_eq(access(pathf(p, "%s/e", tmp), F_OK), -1);
}
END_TEST

START_TEST(test_into_itself)
{
	char p[PATH_MAX];

	make_src("src");
	ck_assert_int_eq(rcp("-r", "-q", "src", "src/inner", NULL), 1);
	ck_assert_str_eq(err_text,
			 "rcp: cannot copy a directory, 'src', into itself, 'src/inner'\n");
	ck_assert_int_eq(access(pathf(p, "%s/src/inner", tmp), F_OK), -1);
	/* DST a directory inside SRC: src would go to src/dir0/src. */
	ck_assert_int_eq(rcp("-r", "-q", "src", "src/dir0", NULL), 1);
	assert_err_has("into itself, 'src/dir0/src'");
	ck_assert_int_eq(access(pathf(p, "%s/src/dir0/src", tmp), F_OK), -1);
}
END_TEST

START_TEST(test_several_into_non_directory)
{
	char p[PATH_MAX];

	make_file(pathf(p, "%s/a", tmp), 10, 0644, 1);
	make_file(pathf(p, "%s/b", tmp), 10, 0644, 2);
	ck_assert_int_eq(rcp("-q", "a", "b", "c", NULL), 1);
	ck_assert_str_eq(err_text, "rcp: target 'c' is not a directory\n");
	ck_assert_int_eq(rcp("-q", "a", "b", "b", NULL), 1);
	ck_assert_str_eq(err_text, "rcp: target 'b' is not a directory\n");
}
END_TEST

START_TEST(test_usage)
{
	ck_assert_int_eq(rcp("-q", "only", NULL), 2);
	assert_err_has("missing destination file operand after 'only'");
	ck_assert_int_eq(rcp("-j", "0", "a", "b", NULL), 2);
	ck_assert_int_eq(rcp("-x", "a", "b", NULL), 2);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("rcp");
	TCase *ok = test_tcase(s, "copy", setup, teardown, 120);
	TCase *err = test_tcase(s, "errors", setup, teardown, 60);

	tcase_add_test(ok, test_copy_tree);
	tcase_add_test(ok, test_summary_line);
	tcase_add_test(ok, test_into_existing_dir);
	tcase_add_test(err, test_missing_source);
	tcase_add_test(err, test_directory_without_r);
	tcase_add_test(err, test_into_itself);
	tcase_add_test(err, test_several_into_non_directory);
	tcase_add_test(err, test_usage);
	return s;
}

int main(void)
{
	return test_main(suite());
}
