/* SPDX-License-Identifier: MIT */
/*
 * rcp: copy files and trees like cp(1), with many files in flight.
 *
 *   rcp [-r] [-q] [-j N] SRC... DST
 *
 * It shows ringo_fs_walk and ringo_fs_copy_file working together: each
 * directory SRC is walked (directories reach visit_cb before their
 * entries, so a directory is created before anything is copied into it),
 * every regular file found becomes a copy job, and at most N jobs (-j,
 * default 16) run at once, each a ringo_fs_copy_file with its own blocks
 * in flight. Directories are made with mkdir(2) and links re-created with
 * readlink(2) + symlink(2) inside visit_cb, on the loop thread: both are
 * short metadata calls, and doing them there keeps "parent before child"
 * without waiting. Directory modes are set at the end, so a read-only
 * source directory can still be filled.
 *
 * Memory: files found by the walk but not yet copying wait in a FIFO of
 * their two paths (the walk runs ahead of the copies: a tree of F files
 * holds at most F such entries, about 2 paths each).
 *
 * Semantics as cp: if DST is an existing directory, each SRC is copied to
 * DST/basename(SRC); several SRC need DST to be a directory; a directory
 * SRC needs -r; a directory is never copied into itself; links are copied
 * as links, never followed (as cp -r does); special files are skipped
 * with a message. Errors are reported as cp words them and the rest goes
 * on; the exit status is 1 if anything failed, 2 for bad usage.
 *
 * On a terminal, a progress line (files, bytes, rate) is redrawn on stderr
 * at most 10 times a second by a ringo timer; otherwise (or with -q) it
 * prints only errors, and without -q one summary line at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ringo.h>

#define DEFAULT_JOBS 16
#define MAX_JOBS 1024
#define PROGRESS_MS 100

struct job {
	struct job *next;
	char *src, *dst;	/* both in the same allocation as the job */
};

struct slot {
	ringo_fs_file_t req;
	struct job *job;	/* NULL when free */
};

struct tree {
	ringo_fs_walk_t walk;
	const char *src;	/* as given */
	char *dst;		/* where src itself goes */
	size_t src_len;
};

struct dir_mode {
	char *path;
	mode_t mode;
};

static struct {
	ringo_loop_t loop;
	ringo_timer_t progress;
	bool progress_on, tty, quiet, recursive;
	unsigned nslots;
	struct slot *slots;
	unsigned busy;
	struct job *head, *tail;	/* waiting jobs, FIFO */
	unsigned walks;			/* walks not yet done */
	struct dir_mode *dirs;		/* modes to set at the end */
	size_t ndirs, cap_dirs;
	uint64_t files_done, bytes_done, files_found;
	int64_t t0_ns;
	int status;
} rcp;

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Clear the progress line before a message, so they do not mix. */
static void clear_progress(void)
{
	if (rcp.progress_on)
		fputs("\r\033[K", stderr);
}

__attribute__((format(printf, 1, 2))) static void fail(const char *fmt, ...)
{
	va_list ap;

	clear_progress();
	fputs("rcp: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	rcp.status = 1;
}

static const char *errstr(int err)
{
	return strerror(err < 0 ? -err : err);
}

/* ---- progress ------------------------------------------------------------ */

static uint64_t bytes_now(void)
{
	uint64_t b = rcp.bytes_done;
	unsigned i;

	/* A copy's size grows as its blocks are written. */
	for (i = 0; i < rcp.nslots; i++)
		if (rcp.slots[i].job)
			b += rcp.slots[i].req.size;
	return b;
}

static void print_progress(bool final)
{
	double s = (double)(now_ns() - rcp.t0_ns) / 1e9;
	uint64_t b = bytes_now();
	double mib = (double)b / (1024.0 * 1024.0);

	fprintf(stderr, "%s%llu/%llu files  %.1f MiB  %.1f MiB/s  %.1f s%s",
		rcp.tty ? "\r\033[K" : "rcp: ", (unsigned long long)rcp.files_done,
		(unsigned long long)rcp.files_found, mib, s > 0 ? mib / s : 0.0, s,
		final || !rcp.tty ? "\n" : "");
}

static void on_progress(ringo_timer_t *t)
{
	(void)t;
	print_progress(false);
}

/* ---- copy jobs -------------------------------------------------------------- */

static void start_jobs(void);

static void copy_done(ringo_fs_file_t *req, int status)
{
	struct slot *s = (struct slot *)req;	/* req is the first member */
	struct job *j = s->job;

	if (status)
		fail("cannot copy '%s' to '%s': %s", j->src, j->dst, errstr(status));
	rcp.files_done++;
	rcp.bytes_done += req->size;
	s->job = NULL;
	rcp.busy--;
	free(j);
	start_jobs();
}

static void start_jobs(void)
{
	struct job *j;
	unsigned i;
	int ret;

	for (i = 0; i < rcp.nslots && rcp.head; i++) {
		if (rcp.slots[i].job)
			continue;
		j = rcp.head;
		rcp.head = j->next;
		if (!rcp.head)
			rcp.tail = NULL;
		ret = ringo_fs_copy_file(&rcp.loop, &rcp.slots[i].req, j->src, j->dst, 0, copy_done);
		if (ret) {
			fail("cannot copy '%s' to '%s': %s", j->src, j->dst, errstr(ret));
			rcp.files_done++;
			free(j);
			continue;
		}
		rcp.slots[i].job = j;
		rcp.busy++;
	}
}

static void add_job(const char *src, const char *dst)
{
	size_t ls = strlen(src) + 1, ld = strlen(dst) + 1;
	struct job *j = malloc(sizeof(*j) + ls + ld);

	if (!j) {
		fail("cannot copy '%s': %s", src, strerror(ENOMEM));
		return;
	}
	j->next = NULL;
	j->src = (char *)(j + 1);
	j->dst = j->src + ls;
	memcpy(j->src, src, ls);
	memcpy(j->dst, dst, ld);
	if (rcp.tail)
		rcp.tail->next = j;
	else
		rcp.head = j;
	rcp.tail = j;
	rcp.files_found++;
	start_jobs();
}

/* ---- directories and links --------------------------------------------- */

static void remember_dir(const char *path, mode_t mode)
{
	struct dir_mode *n;

	if (rcp.ndirs == rcp.cap_dirs) {
		rcp.cap_dirs = rcp.cap_dirs ? rcp.cap_dirs * 2 : 64;
		n = realloc(rcp.dirs, rcp.cap_dirs * sizeof(*n));
		if (!n) {
			fail("cannot set the mode of '%s': %s", path, strerror(ENOMEM));
			return;
		}
		rcp.dirs = n;
	}
	rcp.dirs[rcp.ndirs].path = strdup(path);
	if (!rcp.dirs[rcp.ndirs].path)
		return;
	rcp.dirs[rcp.ndirs++].mode = mode;
}

/* Make dst for a source directory of `mode`; false to skip its contents. */
static bool make_dir(const char *src, const char *dst, mode_t mode)
{
	struct stat st;

	/* Owner rwx while filling it; the real mode comes at the end. */
	if (mkdir(dst, (mode & 07777) | S_IRWXU) == 0) {
		remember_dir(dst, mode & 07777);
		return true;
	}
	if (errno == EEXIST && stat(dst, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return true;
		fail("cannot overwrite non-directory '%s' with directory '%s'", dst, src);
		return false;
	}
	fail("cannot create directory '%s': %s", dst, strerror(errno));
	return false;
}

static void copy_link(const char *src, const char *dst)
{
	char target[PATH_MAX];
	ssize_t n = readlink(src, target, sizeof(target) - 1);

	if (n < 0) {
		fail("cannot read symbolic link '%s': %s", src, strerror(errno));
		return;
	}
	target[n] = '\0';
	if (symlink(target, dst))
		fail("cannot create symbolic link '%s': %s", dst, strerror(errno));
}

static void set_dir_modes(void)
{
	size_t i;

	/* Backwards: a directory was made after its parent, so its parent
	 * still has owner rwx (and can be searched) when its turn comes. */
	for (i = rcp.ndirs; i-- > 0;) {
		if (chmod(rcp.dirs[i].path, rcp.dirs[i].mode))
			fail("cannot set the mode of '%s': %s", rcp.dirs[i].path,
			     strerror(errno));
		free(rcp.dirs[i].path);
	}
	free(rcp.dirs);
}

/* ---- the walk --------------------------------------------------------------- */

static int on_visit(ringo_fs_walk_t *w, const struct ringo_fs_walk_entry *e)
{
	struct tree *t = (struct tree *)w;
	const char *rel = e->path + (e->depth ? t->src_len : strlen(e->path));
	char dst[PATH_MAX];
	int n;

	if (e->error) {
		if (e->error == -ENAMETOOLONG)
			fail("cannot access '%s/%s': %s", e->path, e->name, errstr(e->error));
		else
			fail("cannot access '%s': %s", e->path, errstr(e->error));
		return RINGO_WALK_CONTINUE;
	}
	n = snprintf(dst, sizeof(dst), "%s%s%s", t->dst, *rel && *rel != '/' ? "/" : "", rel);
	if (n < 0 || n >= (int)sizeof(dst)) {
		fail("cannot copy '%s': %s", e->path, strerror(ENAMETOOLONG));
		return RINGO_WALK_SKIP;
	}
	switch (e->st->mode & S_IFMT) {
	case S_IFDIR:
		return make_dir(e->path, dst, e->st->mode) ? RINGO_WALK_CONTINUE
							   : RINGO_WALK_SKIP;
	case S_IFREG:
		add_job(e->path, dst);
		break;
	case S_IFLNK:
		copy_link(e->path, dst);
		break;
	default:
		fail("omitting special file '%s'", e->path);
		break;
	}
	return RINGO_WALK_CONTINUE;
}

static void on_walk_done(ringo_fs_walk_t *w, int status)
{
	struct tree *t = (struct tree *)w;

	if (status)
		fail("cannot stat '%s': %s", t->src, errstr(status));
	rcp.walks--;
	free(t->dst);
	free(t);
}

/* ---- sources and destination ---------------------------------------------- */

/* Would `dst` be `src` or inside it? Compares resolved paths. */
static bool inside(const char *src, const char *dst)
{
	char rs[PATH_MAX], rd[PATH_MAX], *dcopy, *dir, *base;
	size_t n;
	bool in;

	if (!realpath(src, rs))
		return false;
	dcopy = strdup(dst);
	if (!dcopy)
		return false;
	dir = dirname(dcopy);
	if (!realpath(dir, rd)) {
		free(dcopy);
		return false;
	}
	free(dcopy);
	dcopy = strdup(dst);
	if (!dcopy)
		return false;
	base = basename(dcopy);
	n = strlen(rd);
	if (strcmp(base, ".") && strcmp(base, "/") &&
	    snprintf(rd + n, sizeof(rd) - n, "%s%s", n > 1 ? "/" : "", base) >= (int)(sizeof(rd) - n)) {
		free(dcopy);
		return false;
	}
	free(dcopy);
	n = strlen(rs);
	in = !strcmp(rs, rd) || (!strncmp(rs, rd, n) && (rd[n] == '/' || n == 1));
	return in;
}

static char *target_of(const char *src, const char *dst, bool dst_is_dir)
{
	char *copy, *base, *out;
	size_t len;

	if (!dst_is_dir)
		return strdup(dst);
	copy = strdup(src);
	if (!copy)
		return NULL;
	/* basename of "a/b/" is "b", as cp does. */
	len = strlen(copy);
	while (len > 1 && copy[len - 1] == '/')
		copy[--len] = '\0';
	base = basename(copy);
	len = strlen(dst);
	out = malloc(len + strlen(base) + 2);
	if (out)
		sprintf(out, "%s%s%s", dst, len && dst[len - 1] == '/' ? "" : "/", base);
	free(copy);
	return out;
}

static void copy_source(const char *src, const char *dst, bool dst_is_dir)
{
	struct stat st, dt;
	struct tree *t;
	char *target;
	int ret;

	if (lstat(src, &st)) {
		fail("cannot stat '%s': %s", src, strerror(errno));
		return;
	}
	if (S_ISDIR(st.st_mode) && !rcp.recursive) {
		fail("-r not specified; omitting directory '%s'", src);
		return;
	}
	target = target_of(src, dst, dst_is_dir);
	if (!target) {
		fail("cannot copy '%s': %s", src, strerror(ENOMEM));
		return;
	}
	if (lstat(target, &dt) == 0 && dt.st_dev == st.st_dev && dt.st_ino == st.st_ino) {
		fail("'%s' and '%s' are the same file", src, target);
		free(target);
		return;
	}
	if (S_ISDIR(st.st_mode) && inside(src, target)) {
		fail("cannot copy a directory, '%s', into itself, '%s'", src, target);
		free(target);
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		if (S_ISREG(st.st_mode))
			add_job(src, target);
		else if (S_ISLNK(st.st_mode))
			copy_link(src, target);
		else
			fail("omitting special file '%s'", src);
		free(target);
		return;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		fail("cannot copy '%s': %s", src, strerror(ENOMEM));
		free(target);
		return;
	}
	t->src = src;
	t->src_len = strlen(src);
	t->dst = target;
	ret = ringo_fs_walk(&rcp.loop, &t->walk, src, on_visit, on_walk_done);
	if (ret) {
		fail("cannot copy '%s': %s", src, errstr(ret));
		free(target);
		free(t);
		return;
	}
	rcp.walks++;
}

static void usage(void)
{
	fprintf(stderr, "usage: rcp [-r] [-q] [-j N] SRC... DST\n");
	exit(2);
}

static void parse(int argc, char **argv)
{
	char *end;
	long n;
	int c;

	rcp.nslots = DEFAULT_JOBS;
	while ((c = getopt(argc, argv, "rRqj:")) != -1) {
		switch (c) {
		case 'r':
		case 'R':
			rcp.recursive = true;
			break;
		case 'q':
			rcp.quiet = true;
			break;
		case 'j':
			errno = 0;
			n = strtol(optarg, &end, 10);
			if (errno || *end || n < 1 || n > MAX_JOBS) {
				fprintf(stderr, "rcp: -j wants 1..%d\n", MAX_JOBS);
				exit(2);
			}
			rcp.nslots = (unsigned)n;
			break;
		default:
			usage();
		}
	}
	if (argc - optind < 2) {
		if (argc - optind == 1)
			fprintf(stderr, "rcp: missing destination file operand after '%s'\n",
				argv[optind]);
		else
			fprintf(stderr, "rcp: missing file operand\n");
		usage();
	}
}

static int run(int argc, char **argv)
{
	const char *dst = argv[argc - 1];
	struct stat st;
	bool dst_is_dir;
	int i, ret;

	dst_is_dir = stat(dst, &st) == 0 && S_ISDIR(st.st_mode);
	if (argc - optind > 2 && !dst_is_dir) {
		fail("target '%s' is not a directory", dst);
		return 1;
	}
	rcp.slots = calloc(rcp.nslots, sizeof(*rcp.slots));
	if (!rcp.slots) {
		fail("%s", strerror(ENOMEM));
		return 1;
	}
	ret = ringo_loop_init(&rcp.loop, NULL);
	if (ret) {
		fail("cannot start: %s", ringo_setup_strerror(ret));
		free(rcp.slots);
		return 1;
	}
	rcp.t0_ns = now_ns();
	rcp.tty = isatty(STDERR_FILENO) && !rcp.quiet;
	if (rcp.tty) {
		ringo_timer_init(&rcp.loop, &rcp.progress);
		ringo_timer_start(&rcp.progress, on_progress, PROGRESS_MS, PROGRESS_MS);
		ringo_unref((ringo_handle_t *)&rcp.progress);
		rcp.progress_on = true;
	}
	for (i = optind; i < argc - 1; i++)
		copy_source(argv[i], dst, dst_is_dir);
	ret = ringo_run(&rcp.loop, RINGO_RUN_DEFAULT);
	if (ret < 0)
		fail("loop: %s", ringo_strerror(ret));
	set_dir_modes();
	if (!rcp.quiet && (rcp.files_found || rcp.tty))
		print_progress(true);
	if (rcp.progress_on) {
		rcp.progress_on = false;
		ringo_close((ringo_handle_t *)&rcp.progress, NULL);
		ringo_run(&rcp.loop, RINGO_RUN_DEFAULT);
	}
	if (ringo_loop_close(&rcp.loop))
		fail("loop did not close cleanly");
	free(rcp.slots);
	return rcp.status;
}

int main(int argc, char **argv)
{
	parse(argc, argv);
	return run(argc, argv);
}
