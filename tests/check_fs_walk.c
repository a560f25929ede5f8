/* SPDX-License-Identifier: MIT */
/*
 * ringo_fs_walk: a tree of 1k entries (10k with RINGO_STRESS=1) whose
 * entry count, total size and per-type counts must equal what nftw(3)
 * reports, every directory visited before its entries, no more
 * directories open at once than RINGO_FS_WALK_DIRS; symbolic links (in
 * the tree, as the root, and a loop) visited as links and never followed;
 * RINGO_WALK_SKIP and a negative return from visit_cb; ringo_cancel from
 * inside visit_cb and before the loop runs (-ECANCELED once, no visit
 * after); a directory removed during the walk (-ENOENT visit), an
 * unreadable one (-EACCES: as root, walked in a child that dropped to
 * uid 65534), a path over PATH_MAX (-ENAMETOOLONG visit); a missing root
 * (-ENOENT), a root under a file (-ENOTDIR), a file as root; bad
 * arguments (-EINVAL, no callback); a new walk started from done_cb. The
 * teardown asserts the loop closes with nothing left and removes the
 * temp dir.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <search.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture_loop.h"

/* ---- Fixture ---------------------------------------------------------- */

static char tmp[PATH_MAX];

struct tally {
	uint64_t entries, bytes, dirs, files, links;
};

/* What the callbacks saw in this test. */
static struct {
	ringo_fs_walk_t req;
	int done_calls, done_status;
	int visits, errors;
	int last_error;
	char last_error_path[PATH_MAX];
	struct tally t;
	int stop_after;		/* visit_cb returns stop_status at this visit */
	int stop_status;
	int cancel_after;	/* visit_cb calls ringo_cancel at this visit */
	int cancel_ret, cancel_again_ret;
	const char *skip_name;	/* RINGO_WALK_SKIP on a directory of this name */
	const char *remove_name; /* rmtree a directory of this name when visited */
	bool check_order;	/* every entry's parent visited before it */
	int max_fds, base_fds;
	int visits_after_done;
	int restart;		/* start a new walk from done_cb this many times */
} w;

static struct hsearch_data seen;
static bool seen_made;
static char **seen_keys;	/* hdestroy_r does not free the keys */
static size_t seen_nkeys, seen_cap;

static void setup(void)
{
	memset(&w, 0, sizeof(w));
	w.done_status = 1;
	w.cancel_ret = w.cancel_again_ret = 1;
	test_tmpdir(tmp, sizeof(tmp));
	loop_fixture_open(NULL);
}

static void teardown(void)
{
	if (seen_made) {
		hdestroy_r(&seen);
		seen_made = false;
	}
	while (seen_nkeys)
		free(seen_keys[--seen_nkeys]);
	free(seen_keys);
	seen_keys = NULL;
	seen_cap = 0;
	loop_fixture_close();
	test_rmtree(tmp);
}

static char *in_tmp(char *buf, const char *name)
{
	int n = snprintf(buf, PATH_MAX, "%s/%s", tmp, name);

	ck_assert(n > 0 && n < PATH_MAX);
	return buf;
}

/* snprintf into a PATH_MAX buffer that must not cut. */
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

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;	/* opendir's own */
}

/* ---- Building trees ------------------------------------------------------ */

static void make_file(const char *path, size_t size)
{
	static char block[4096];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t n;

	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	for (; size; size -= n) {
		n = size < sizeof(block) ? size : sizeof(block);
		ck_assert_int_eq(write(fd, block, n), (ssize_t)n);
	}
	ck_assert_int_eq(close(fd), 0);
}

static void make_dir(const char *path)
{
	ck_assert_msg(mkdir(path, 0755) == 0, "mkdir %s: %s", path, strerror(errno));
}

/*
 * A tree of about `entries` entries below `root`: 1 + entries/40 directories,
 * some two levels deep, files of sizes 0..8 KiB, and a symlink per
 * directory. Returns how many entries it made (root excluded).
 */
static unsigned make_tree(const char *root, unsigned entries)
{
	char dir[PATH_MAX], p[PATH_MAX];
	unsigned ndirs = entries / 40 + 1, made = 0, i = 0, d;

	make_dir(root);
	for (d = 0; d < ndirs && made < entries; d++) {
		if (d % 4 == 3)	/* a child of the previous one, at depth 1 */
			pathf(dir, "%s/d%u/sub%u", root, d - 1, d);
		else
			pathf(dir, "%s/d%u", root, d);
		make_dir(dir);
		made++;
		pathf(p, "%s/link", dir);
		ck_assert_int_eq(symlink("../nowhere", p), 0);
		made++;
	}
	/* Files spread over the directories round-robin (and the root). */
	while (made < entries) {
		d = i % (ndirs + 1);
		if (d == ndirs)
			pathf(dir, "%s", root);
		else if (d % 4 == 3)
			pathf(dir, "%s/d%u/sub%u", root, d - 1, d);
		else
			pathf(dir, "%s/d%u", root, d);
		pathf(p, "%s/file-%u-with-a-longer-name", dir, i);
		make_file(p, (i * 977) % 8193);
		made++;
		i++;
	}
	return made;
}

/* nftw's view, the reference. */
static struct tally ref_tally;

static int ref_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)path;
	(void)type;
	(void)ftw;
	ref_tally.entries++;
	ref_tally.bytes += (uint64_t)st->st_size;
	ref_tally.dirs += S_ISDIR(st->st_mode);
	ref_tally.files += S_ISREG(st->st_mode);
	ref_tally.links += S_ISLNK(st->st_mode);
	return 0;
}

static struct tally reference(const char *root)
{
	memset(&ref_tally, 0, sizeof(ref_tally));
	ck_assert_int_eq(nftw(root, ref_entry, 32, FTW_PHYS), 0);
	return ref_tally;
}

/* ---- Callbacks ------------------------------------------------------------ */

static void seen_add(const char *path)
{
	ENTRY e = { .key = strdup(path), .data = NULL }, *found;
	size_t len;

	ck_assert_ptr_nonnull(e.key);
	if (seen_nkeys == seen_cap) {
		seen_cap = seen_cap ? 2 * seen_cap : 256;
		seen_keys = realloc(seen_keys, seen_cap * sizeof(*seen_keys));
		ck_assert_ptr_nonnull(seen_keys);
	}
	seen_keys[seen_nkeys++] = e.key;
	/* A root given as "dir/" is the parent of "dir/x". */
	len = strlen(e.key);
	while (len > 1 && e.key[len - 1] == '/')
		e.key[--len] = '\0';
	ck_assert(hsearch_r(e, ENTER, &found, &seen));
}

static bool seen_has(const char *path)
{
	ENTRY e = { .key = (char *)path, .data = NULL }, *found;

	return hsearch_r(e, FIND, &found, &seen) != 0;
}

static void check_parent_seen(const struct ringo_fs_walk_entry *e)
{
	char parent[PATH_MAX];
	char *slash;

	if (e->depth == 0 || e->error)
		return;
	pathf(parent, "%s", e->path);
	slash = strrchr(parent, '/');
	ck_assert_ptr_nonnull(slash);
	*slash = '\0';
	ck_assert_msg(seen_has(parent), "%s visited before its directory", e->path);
	ck_assert_str_eq(e->name, slash + 1 - parent + e->path);
}

static void rmtree_now(const char *path);

static int on_visit(ringo_fs_walk_t *req, const struct ringo_fs_walk_entry *e)
{
	int fds;

	ck_assert_ptr_eq(req, &w.req);
	ck_assert_int_eq(w.done_calls, 0);
	w.visits++;
	if (e->error) {
		ck_assert_ptr_null(e->st);
		w.errors++;
		w.last_error = e->error;
		snprintf(w.last_error_path, sizeof(w.last_error_path), "%s", e->path);
	} else {
		ck_assert_ptr_nonnull(e->st);
		w.t.entries++;
		w.t.bytes += e->st->size;
		w.t.dirs += S_ISDIR(e->st->mode);
		w.t.files += S_ISREG(e->st->mode);
		w.t.links += S_ISLNK(e->st->mode);
		if (w.check_order) {
			check_parent_seen(e);
			if (S_ISDIR(e->st->mode))
				seen_add(e->path);
		}
	}
	if (w.base_fds && w.visits % 64 == 0) {
		fds = open_fds();
		if (fds > w.max_fds)
			w.max_fds = fds;
	}
	if (w.cancel_after && w.visits == w.cancel_after) {
		w.cancel_ret = ringo_cancel(AS_REQ(req));
		w.cancel_again_ret = ringo_cancel(AS_REQ(req));
	}
	if (w.stop_after && w.visits == w.stop_after)
		return w.stop_status;
	if (!e->error && S_ISDIR(e->st->mode) && w.skip_name && !strcmp(e->name, w.skip_name))
		return RINGO_WALK_SKIP;
	if (!e->error && S_ISDIR(e->st->mode) && w.remove_name &&
	    !strcmp(e->name, w.remove_name))
		rmtree_now(e->path);
	return RINGO_WALK_CONTINUE;
}

static void on_done(ringo_fs_walk_t *req, int status)
{
	ck_assert_ptr_eq(req, &w.req);
	w.done_calls++;
	w.done_status = status;
	if (w.restart) {
		/* The request is the caller's again: walk once more. */
		w.restart--;
		w.done_calls = 0;
		w.visits = 0;
		ck_assert_int_eq(ringo_fs_walk(&loop, req, req->root, on_visit, on_done), 0);
	}
}

static void rmtree_now(const char *path)
{
	test_rmtree(path);
	ck_assert_int_eq(access(path, F_OK), -1);
}

static int walk(const char *root)
{
	ck_assert_int_eq(ringo_fs_walk(&loop, &w.req, root, on_visit, on_done), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(w.done_calls, 1);
	return w.done_status;
}

/* ---- Tests ---------------------------------------------------------------- */

START_TEST(test_walk_matches_nftw)
{
	unsigned n = TEST_SIZE(10000, 1000);
	char root[PATH_MAX];
	struct tally ref;
	unsigned made;

	REQUIRE_LOOP();
	made = make_tree(in_tmp(root, "tree"), n);
	ck_assert_uint_eq(made, n);
	ref = reference(root);
	ck_assert_uint_eq(ref.entries, n + 1);
	ck_assert(hcreate_r(4 * n, &seen));
	seen_made = true;
	w.check_order = true;
	w.base_fds = open_fds();
	assert_status(walk(root), 0);
	ck_assert_uint_eq(w.t.entries, ref.entries);
	ck_assert_uint_eq(w.t.bytes, ref.bytes);
	ck_assert_uint_eq(w.t.dirs, ref.dirs);
	ck_assert_uint_eq(w.t.files, ref.files);
	ck_assert_uint_eq(w.t.links, ref.links);
	ck_assert_int_eq(w.errors, 0);
	ck_assert_uint_eq(w.req.visited, ref.entries);
	ck_assert_uint_eq(w.req.errors, 0);
	/* The loop's own fds come and go (work pool wake), the walk's
	 * directories never exceed its budget. */
	ck_assert_int_le(w.max_fds, w.base_fds + RINGO_FS_WALK_DIRS + 1);
	/* Everything closed again. */
	ck_assert_int_le(open_fds(), w.base_fds + 1);
}
END_TEST

/* A root ending in '/' gives "root/x", and "/" style joins stay single. */
START_TEST(test_walk_trailing_slash)
{
	char root[PATH_MAX], p[PATH_MAX];

	REQUIRE_LOOP();
	make_dir(in_tmp(root, "t"));
	make_file(in_tmp(p, "t/a"), 10);
	make_dir(in_tmp(p, "t/b"));
	make_file(in_tmp(p, "t/b/c"), 5);
	pathf(root, "%s/t/", tmp);
	ck_assert(hcreate_r(64, &seen));
	seen_made = true;
	w.check_order = true;
	assert_status(walk(root), 0);
	ck_assert_uint_eq(w.t.entries, 4);
	ck_assert_uint_eq(w.t.bytes, reference(root).bytes);
	ck_assert(seen_has(in_tmp(p, "t/b")));
}
END_TEST

static int mark_dir_visit(ringo_fs_walk_t *req, const struct ringo_fs_walk_entry *e)
{
	(void)req;
	ck_assert_msg(!strstr(e->path, "/inside"), "followed a link to %s", e->path);
	return on_visit(req, e);
}

START_TEST(test_symlinks_not_followed)
{
	char root[PATH_MAX], p[PATH_MAX], q[PATH_MAX];

	REQUIRE_LOOP();
	make_dir(in_tmp(p, "elsewhere"));
	make_file(in_tmp(p, "elsewhere/inside"), 100);
	make_dir(in_tmp(root, "t"));
	ck_assert_int_eq(symlink(in_tmp(q, "elsewhere"), in_tmp(p, "t/to-dir")), 0);
	ck_assert_int_eq(symlink(".", in_tmp(p, "t/loop")), 0);
	ck_assert_int_eq(symlink("missing", in_tmp(p, "t/dangling")), 0);
	ck_assert_int_eq(ringo_fs_walk(&loop, &w.req, root, mark_dir_visit, on_done), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	assert_status(w.done_status, 0);
	ck_assert_uint_eq(w.t.entries, 4);
	ck_assert_uint_eq(w.t.links, 3);
	ck_assert_uint_eq(w.t.dirs, 1);

	/* A link as the root is visited as the link, alone. */
	memset(&w.t, 0, sizeof(w.t));
	w.done_calls = w.visits = 0;
	assert_status(walk(in_tmp(p, "t/to-dir")), 0);
	ck_assert_uint_eq(w.t.entries, 1);
	ck_assert_uint_eq(w.t.links, 1);
}
END_TEST

START_TEST(test_skip_directory)
{
	char root[PATH_MAX], p[PATH_MAX];

	REQUIRE_LOOP();
	make_dir(in_tmp(root, "t"));
	make_dir(in_tmp(p, "t/keep"));
	make_dir(in_tmp(p, "t/skipme"));
	for (int i = 0; i < 20; i++) {
		pathf(p, "%s/t/keep/f%d", tmp, i);
		make_file(p, 1);
		pathf(p, "%s/t/skipme/f%d", tmp, i);
		make_file(p, 1);
	}
	w.skip_name = "skipme";
	assert_status(walk(root), 0);
	/* root, keep, skipme (visited, not read), keep's 20 files */
	ck_assert_uint_eq(w.t.entries, 23);
	ck_assert_uint_eq(w.t.bytes, reference(root).bytes - 20);

	/* SKIP on the root: only the root. */
	memset(&w.t, 0, sizeof(w.t));
	w.done_calls = w.visits = 0;
	w.skip_name = root;	/* the root's name is its whole path */
	assert_status(walk(root), 0);
	ck_assert_uint_eq(w.t.entries, 1);
}
END_TEST

START_TEST(test_stop_from_visit)
{
	char root[PATH_MAX];

	REQUIRE_LOOP();
	make_tree(in_tmp(root, "t"), 500);
	w.stop_after = 37;
	w.stop_status = -EINTR;
	assert_status(walk(root), -EINTR);
	ck_assert_int_eq(w.visits, 37);
}
END_TEST

START_TEST(test_cancel_in_visit)
{
	char root[PATH_MAX];

	REQUIRE_LOOP();
	make_tree(in_tmp(root, "t"), 500);
	w.cancel_after = 100;
	assert_status(walk(root), -ECANCELED);
	ck_assert_int_eq(w.visits, 100);
	assert_status(w.cancel_ret, 0);
	assert_status(w.cancel_again_ret, -EALREADY);
	/* Finished: nothing to cancel. */
	assert_status(ringo_cancel(AS_REQ(&w.req)), -ENOENT);
}
END_TEST

START_TEST(test_cancel_before_run)
{
	char root[PATH_MAX];

	REQUIRE_LOOP();
	make_tree(in_tmp(root, "t"), 100);
	ck_assert_int_eq(ringo_fs_walk(&loop, &w.req, root, on_visit, on_done), 0);
	assert_status(ringo_cancel(AS_REQ(&w.req)), 0);
	ck_assert_int_eq(w.done_calls, 0);	/* never from inside ringo_cancel */
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(w.done_calls, 1);
	assert_status(w.done_status, -ECANCELED);
	ck_assert_int_eq(w.visits, 0);
}
END_TEST

/* Cancel at many points of a walk: done_cb exactly once, every time. */
START_TEST(test_cancel_anywhere)
{
	char root[PATH_MAX];
	int k, total;

	REQUIRE_LOOP();
	make_tree(in_tmp(root, "t"), 300);
	total = (int)reference(root).entries;
	for (k = 1; k <= total; k += 7) {
		memset(&w, 0, sizeof(w));
		w.cancel_after = k;
		assert_status(walk(root), -ECANCELED);
		ck_assert_int_eq(w.visits, k);
	}
}
END_TEST

START_TEST(test_dir_removed_during_walk)
{
	char root[PATH_MAX], p[PATH_MAX];

	REQUIRE_LOOP();
	make_dir(in_tmp(root, "t"));
	make_dir(in_tmp(p, "t/victim"));
	make_file(in_tmp(p, "t/victim/f"), 1);
	make_dir(in_tmp(p, "t/other"));
	make_file(in_tmp(p, "t/other/g"), 1);
	/* visit_cb removes victim between its stat and its open. */
	w.remove_name = "victim";
	assert_status(walk(root), 0);
	ck_assert_int_eq(w.errors, 1);
	assert_status(w.last_error, -ENOENT);
	ck_assert_str_eq(w.last_error_path, in_tmp(p, "t/victim"));
	ck_assert_uint_eq(w.req.errors, 1);
	ck_assert_uint_eq(w.t.entries, 4);	/* root, victim, other, other/g */
}
END_TEST

/* The walk in a process that dropped root, for a real EACCES. */
static int unreadable_child(const char *root)
{
	ringo_loop_t l2;
	int ret;

	if (geteuid() == 0 &&
	    (setgroups(0, NULL) || setgid(65534) || setuid(65534)))
		return 10;
	if (test_loop_init(&l2, NULL))
		return 11;
	memset(&w, 0, sizeof(w));
	if (ringo_fs_walk(&l2, &w.req, root, on_visit, on_done))
		return 12;
	if (ringo_run(&l2, RINGO_RUN_DEFAULT) != 0 || ringo_loop_close(&l2))
		return 13;
	if (w.done_calls != 1 || w.done_status != 0)
		return 14;
	if (w.errors != 1 || w.last_error != -EACCES || !strstr(w.last_error_path, "/locked"))
		return 15;
	if (w.t.entries != 3)	/* root, locked, open/f... see below */
		return 16;
	ret = 0;
	return ret;
}

START_TEST(test_unreadable_directory)
{
	char root[PATH_MAX], p[PATH_MAX];
	int status;
	pid_t pid;

	REQUIRE_LOOP();
	ck_assert_int_eq(chmod(tmp, 0755), 0);
	make_dir(in_tmp(root, "t"));
	make_dir(in_tmp(p, "t/locked"));
	make_file(in_tmp(p, "t/locked/secret"), 1);
	make_file(in_tmp(p, "t/f"), 1);
	ck_assert_int_eq(chmod(in_tmp(p, "t/locked"), 0), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(unreadable_child(root));
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(chmod(in_tmp(p, "t/locked"), 0755), 0);
	ck_assert(WIFEXITED(status));
	ck_assert_msg(WEXITSTATUS(status) == 0, "child check %d failed", WEXITSTATUS(status));
}
END_TEST

/* A chain of directories deeper than PATH_MAX: made and removed by fd. */
#define LONG_NAME_LEN 200

static void long_name(char *buf, char c)
{
	memset(buf, c, LONG_NAME_LEN);
	buf[LONG_NAME_LEN] = '\0';
}

static void rm_chain(int dirfd, int depth)
{
	char name[LONG_NAME_LEN + 1];
	int fd;

	long_name(name, 'a' + depth % 26);
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	rm_chain(fd, depth + 1);
	close(fd);
	ck_assert_int_eq(unlinkat(dirfd, name, AT_REMOVEDIR), 0);
}

START_TEST(test_path_too_long)
{
	char root[PATH_MAX], name[LONG_NAME_LEN + 1];
	int depth, fd, next, levels = PATH_MAX / (LONG_NAME_LEN + 1) + 2;

	REQUIRE_LOOP();
	make_dir(in_tmp(root, "t"));
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	for (depth = 0; depth < levels; depth++) {
		long_name(name, 'a' + depth % 26);
		ck_assert_int_eq(mkdirat(fd, name, 0755), 0);
		next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		ck_assert_int_ge(next, 0);
		close(fd);
		fd = next;
	}
	close(fd);
	assert_status(walk(root), 0);
	ck_assert_int_eq(w.errors, 1);
	assert_status(w.last_error, -ENAMETOOLONG);
	ck_assert_int_ge(w.t.dirs, (uint64_t)(PATH_MAX - strlen(root)) / (LONG_NAME_LEN + 1));
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	rm_chain(fd, 0);
	close(fd);
}
END_TEST

START_TEST(test_root_errors)
{
	char p[PATH_MAX];

	REQUIRE_LOOP();
	assert_status(walk(in_tmp(p, "missing")), -ENOENT);
	ck_assert_int_eq(w.visits, 0);

	make_file(in_tmp(p, "file"), 123);
	w.done_calls = 0;
	assert_status(walk(in_tmp(p, "file/below")), -ENOTDIR);
	ck_assert_int_eq(w.visits, 0);

	/* A file as the root: one visit. */
	w.done_calls = 0;
	assert_status(walk(in_tmp(p, "file")), 0);
	ck_assert_int_eq(w.visits, 1);
	ck_assert_uint_eq(w.t.files, 1);
	ck_assert_uint_eq(w.t.bytes, 123);
}
END_TEST

START_TEST(test_bad_arguments)
{
	char p[PATH_MAX], *huge;

	REQUIRE_LOOP();
	in_tmp(p, "");
	assert_status(ringo_fs_walk(NULL, &w.req, p, on_visit, on_done), -EINVAL);
	assert_status(ringo_fs_walk(&loop, NULL, p, on_visit, on_done), -EINVAL);
	assert_status(ringo_fs_walk(&loop, &w.req, NULL, on_visit, on_done), -EINVAL);
	assert_status(ringo_fs_walk(&loop, &w.req, p, NULL, on_done), -EINVAL);
	assert_status(ringo_fs_walk(&loop, &w.req, p, on_visit, NULL), -EINVAL);
	assert_status(ringo_fs_walk(&loop, &w.req, "", on_visit, on_done), -EINVAL);
	huge = malloc(PATH_MAX + 1);
	ck_assert_ptr_nonnull(huge);
	memset(huge, 'x', PATH_MAX);
	huge[PATH_MAX] = '\0';
	assert_status(ringo_fs_walk(&loop, &w.req, huge, on_visit, on_done), -ENAMETOOLONG);
	free(huge);
	/* An uninitialised walk request is not in flight. */
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_NOWAIT), 0);
	ck_assert_int_eq(w.done_calls, 0);
	ck_assert_int_eq(w.visits, 0);

	/* The loop will not close under a walk. */
	ck_assert_int_eq(ringo_fs_walk(&loop, &w.req, p, on_visit, on_done), 0);
	assert_status(ringo_loop_close(&loop), -EBUSY);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(w.done_calls, 1);
	assert_status(w.done_status, 0);
}
END_TEST

START_TEST(test_restart_from_done)
{
	char root[PATH_MAX];

	REQUIRE_LOOP();
	make_tree(in_tmp(root, "t"), 200);
	w.restart = 2;
	assert_status(walk(root), 0);
	ck_assert_uint_eq(w.t.entries, 3 * reference(root).entries);
}
END_TEST

/* ---- Suite ------------------------------------------------------------- */

static Suite *suite(void)
{
	Suite *s = suite_create("fs_walk");
	TCase *tree = test_tcase(s, "tree", setup, teardown, 300);
	TCase *ctl = test_tcase(s, "control", setup, teardown, 120);
	TCase *err = test_tcase(s, "errors", setup, teardown, 120);

	tcase_add_test(tree, test_walk_matches_nftw);
	tcase_add_test(tree, test_walk_trailing_slash);
	tcase_add_test(tree, test_symlinks_not_followed);
	tcase_add_test(ctl, test_skip_directory);
	tcase_add_test(ctl, test_stop_from_visit);
	tcase_add_test(ctl, test_cancel_in_visit);
	tcase_add_test(ctl, test_cancel_before_run);
	tcase_add_test(ctl, test_cancel_anywhere);
	tcase_add_test(ctl, test_restart_from_done);
	tcase_add_test(err, test_dir_removed_during_walk);
	tcase_add_test(err, test_unreadable_directory);
	tcase_add_test(err, test_path_too_long);
	tcase_add_test(err, test_root_errors);
	tcase_add_test(err, test_bad_arguments);
	return s;
}

int main(void)
{
	return test_main(suite());
}
