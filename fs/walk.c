/* SPDX-License-Identifier: MIT */
/*
 * ringo_fs_walk: a directory tree walk with many directories in flight.
 *
 * A walk owns one allocation (struct ringo__walk) made at start: a fixed
 * set of directory readers, each with its getdents64 buffer, and a fixed
 * set of stat slots; plus the stack of directories waiting to be read,
 * which grows by doubling and holds their paths back to back. Nothing is
 * allocated per entry or per operation.
 *
 * A reader opens its directory and reads one buffer of entries in a single
 * trip to the work pool (mainline io_uring has no getdents op, 6.18
 * included), then stats every entry by name relative to the open directory
 * through the ring (statx, AT_SYMLINK_NOFOLLOW). The names stay in the
 * reader's buffer, so the buffer is refilled only once every stat of it
 * has completed; the trip that finds the end closes the directory.
 *
 * Invariants: a stat completion visits its entry and, for a directory the
 * caller did not skip, pushes the path; pump() then hands stack entries to
 * idle readers and free stat slots to readers with names left. Between
 * loop events a live walk always has a stat or a pool trip in flight, so
 * it finishes from a completion, never from inside ringo_fs_walk or
 * ringo_cancel. Readers wait only for stat slots and stats wait for
 * nothing, so no cycle can stall the walk.
 */
#include <assert.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs_internal.h"

enum reader_state {
	READER_IDLE = 0,	/* free for the next directory */
	READER_POOL,		/* open/getdents64 on the work pool */
	READER_NAMES,		/* stat'ing the names in buf */
};

struct walk_reader {
	struct ringo__walk *w;
	ringo_work_t work;
	int state;		/* enum reader_state */
	int fd;			/* the directory, -1 before open and after the end */
	int res;		/* pool result: bytes in buf, 0 at the end, or -errno */
	unsigned depth;		/* of the directory */
	unsigned pos;		/* next unread byte of buf */
	unsigned len;		/* bytes of dirents in buf */
	unsigned stats;		/* stats of buf's names in flight */
	size_t path_len;
	char path[PATH_MAX];
	char *buf;		/* RINGO_FS_WALK_DIRBUF bytes, 8-aligned */
};

struct walk_slot {
	ringo_fs_t fs;
	struct walk_reader *r;	/* NULL for the root's stat */
	const char *name;	/* in r->buf (or the root path) */
	int next_free;		/* free list, -1 ends it */
};

struct ringo__walk {
	ringo_fs_walk_t *req;
	int status;		/* done_cb's status, once stopping */
	bool stopping;		/* no more visits or new operations */
	bool pumping;		/* inside pump(): completions it causes wait */
	unsigned busy_slots;
	unsigned busy_readers;
	int free_slot;
	/* Directories waiting for a reader: records of [path NUL][depth u32]
	 * [path length u32], the last one on top. */
	char *stack;
	size_t stack_len, stack_cap;
	char scratch[PATH_MAX];	/* the path given to visit_cb */
	struct walk_reader readers[RINGO_FS_WALK_DIRS];
	struct walk_slot slots[RINGO_FS_WALK_STATS];
};

struct stack_trailer {
	uint32_t depth;
	uint32_t len;
};

static void pump(struct ringo__walk *w);

/* ---- the stack of directories to read ---------------------------------- */

static int stack_push(struct ringo__walk *w, const char *path, size_t len, unsigned depth)
{
	struct stack_trailer t = { .depth = depth, .len = (uint32_t)len };
	size_t need = w->stack_len + len + 1 + sizeof(t), cap;
	char *n;

	if (need > w->stack_cap) {
		cap = w->stack_cap ? w->stack_cap * 2 : 4096;
		while (cap < need)
			cap *= 2;
		n = realloc(w->stack, cap);
		if (!n)
			return -ENOMEM;
		w->stack = n;
		w->stack_cap = cap;
	}
	memcpy(w->stack + w->stack_len, path, len + 1);
	memcpy(w->stack + w->stack_len + len + 1, &t, sizeof(t));
	w->stack_len = need;
	return 0;
}

/* Move the top directory into r->path; false when the stack is empty. */
static bool stack_pop(struct ringo__walk *w, struct walk_reader *r)
{
	struct stack_trailer t;

	if (!w->stack_len)
		return false;
	memcpy(&t, w->stack + w->stack_len - sizeof(t), sizeof(t));
	w->stack_len -= sizeof(t) + t.len + 1;
	memcpy(r->path, w->stack + w->stack_len, t.len + 1);
	r->path_len = t.len;
	r->depth = t.depth;
	return true;
}

/* ---- the end ------------------------------------------------------------ */

static void stop(struct ringo__walk *w, int status)
{
	unsigned i;

	if (w->stopping)
		return;
	w->stopping = true;
	w->status = status;
	/* Hurry what is in flight; each reports through its callback. */
	for (i = 0; i < RINGO_FS_WALK_DIRS; i++)
		if (w->readers[i].state == READER_POOL)
			ringo_cancel((ringo_req_t *)&w->readers[i].work);
	for (i = 0; i < RINGO_FS_WALK_STATS; i++)
		if (w->slots[i].fs.op_id)
			ringo_cancel((ringo_req_t *)&w->slots[i].fs);
}

/* Every reader's fd is -1 or open, its buf NULL or allocated (walk_new). */
static void walk_free(struct ringo__walk *w)
{
	unsigned i;

	for (i = 0; i < RINGO_FS_WALK_DIRS; i++) {
		if (w->readers[i].fd >= 0)
			close(w->readers[i].fd);
		free(w->readers[i].buf);
	}
	free(w->stack);
	free(w);
}

static void finish(struct ringo__walk *w)
{
	ringo_fs_walk_t *req = w->req;
	int status = w->status;

	walk_free(w);
	req->walk_ = NULL;
	req->op_id = 0;
	L(req->loop)->active_reqs--;
	/* From here req is the caller's: it may start another walk. */
	req->done_cb(req, status);
}

/* ---- visits ------------------------------------------------------------- */

static int visit(struct ringo__walk *w, const char *path, const char *name, unsigned depth,
		 int error, const struct ringo_stat *st)
{
	struct ringo_fs_walk_entry e = {
		.path = path, .name = name, .depth = depth, .error = error, .st = st,
	};
	ringo_fs_walk_t *req = w->req;
	int ret;

	if (error)
		req->errors++;
	else
		req->visited++;
	ret = req->visit_cb(req, &e);
	if (ret < 0)
		stop(w, ret);
	return ret;
}

/* parent/name into w->scratch; the length, or -ENAMETOOLONG. */
static int join(struct ringo__walk *w, const struct walk_reader *r, const char *name)
{
	size_t nlen = strlen(name);
	bool slash = r->path_len && r->path[r->path_len - 1] != '/';
	size_t len = r->path_len + slash + nlen;

	if (len >= PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(w->scratch, r->path, r->path_len);
	if (slash)
		w->scratch[r->path_len] = '/';
	memcpy(w->scratch + r->path_len + slash, name, nlen + 1);
	return (int)len;
}

static void slot_free(struct ringo__walk *w, struct walk_slot *s)
{
	s->next_free = w->free_slot;
	w->free_slot = (int)(s - w->slots);
	w->busy_slots--;
}

/* A stat finished: visit its entry, and queue a directory to read. */
static void stat_done(ringo_fs_t *fs)
{
	struct walk_slot *s = container_of(fs, struct walk_slot, fs);
	struct walk_reader *r = s->r;
	struct ringo__walk *w = r ? r->w : container_of(s, struct ringo__walk, slots[0]);
	const struct ringo_stat *st = &fs->statbuf;
	unsigned depth = r ? r->depth + 1 : 0;
	int err = (int)fs->result, len, ret;
	const char *path;

	if (r)
		r->stats--;
	slot_free(w, s);
	if (w->stopping)
		goto out;
	if (!r && err) {
		/* The root itself: nothing to visit. */
		stop(w, err);
		goto out;
	}
	if (r) {
		len = join(w, r, s->name);
		assert(len >= 0); /* checked before the stat was sent */
		path = w->scratch;
	} else {
		path = w->req->root;
		len = (int)strlen(path);
	}
	ret = visit(w, path, r ? path + len - strlen(s->name) : path, depth, err,
		    err ? NULL : st);
	if (err || ret != RINGO_WALK_CONTINUE || !S_ISDIR(st->mode))
		goto out;
	ret = stack_push(w, path, (size_t)len, depth);
	if (ret)
		stop(w, ret);
out:
	pump(w);
}

/* ---- directory readers ------------------------------------------------- */

/* On a pool thread: open the directory if needed, read one buffer. */
static void reader_work(ringo_work_t *work)
{
	struct walk_reader *r = container_of(work, struct walk_reader, work);
	long n;

	if (r->fd < 0) {
		/* O_NOFOLLOW: a directory swapped for a link since its stat
		 * is refused (ELOOP), not followed. */
		r->fd = open(r->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (r->fd < 0) {
			r->res = -errno;
			return;
		}
	}
	n = syscall(SYS_getdents64, r->fd, r->buf, RINGO_FS_WALK_DIRBUF);
	if (n <= 0) {
		r->res = n < 0 ? -errno : 0;
		close(r->fd);
		r->fd = -1;
		return;
	}
	r->res = (int)n;
}

static void reader_release(struct ringo__walk *w, struct walk_reader *r)
{
	/* Still open only when a stop cut the directory short. */
	if (r->fd >= 0) {
		close(r->fd);
		r->fd = -1;
	}
	r->state = READER_IDLE;
	w->busy_readers--;
}

static void reader_pool_done(ringo_work_t *work, int status)
{
	struct walk_reader *r = container_of(work, struct walk_reader, work);
	struct ringo__walk *w = r->w;

	if (status)
		r->res = status;	/* cancelled before it ran */
	if (r->res <= 0) {
		if (r->res < 0 && !w->stopping)
			visit(w, r->path, r->path, r->depth, r->res, NULL);
		reader_release(w, r);
	} else {
		r->state = READER_NAMES;
		r->pos = 0;
		r->len = (unsigned)r->res;
	}
	pump(w);
}

static int reader_read(struct walk_reader *r)
{
	int ret;

	r->state = READER_POOL;
	r->res = 0;
	memset(&r->work, 0, sizeof(r->work));
	ret = ringo_work_queue(r->w->req->loop, &r->work, reader_work, reader_pool_done);
	if (ret)
		r->state = READER_NAMES;	/* nothing left in buf: released on stop */
	return ret;
}

/* Send a stat per name of r's buffer while slots last; when the buffer is
 * spent and its stats are back, read the next one. */
static int reader_names(struct ringo__walk *w, struct walk_reader *r)
{
	struct ringo__dirent64 *d;
	struct walk_slot *s;
	int ret;

	while (r->pos < r->len && w->free_slot >= 0 && !w->stopping) {
		d = (struct ringo__dirent64 *)(void *)(r->buf + r->pos);
		r->pos += d->d_reclen;
		if (ringo__is_dot(d->d_name))
			continue;
		if (join(w, r, d->d_name) < 0) {
			visit(w, r->path, d->d_name, r->depth + 1, -ENAMETOOLONG, NULL);
			continue;
		}
		s = &w->slots[w->free_slot];
		ret = ringo__fs_lstat_at(w->req->loop, &s->fs, r->fd, d->d_name, stat_done);
		if (ret)
			return ret;
		w->free_slot = s->next_free;
		w->busy_slots++;
		s->r = r;
		s->name = d->d_name;
		r->stats++;
	}
	if (r->pos < r->len || r->stats || w->stopping)
		return 0;
	return reader_read(r);
}

/*
 * Start what can start, or finish. Completions that run during pump (none
 * do today: ring and pool results always arrive from the loop) would only
 * set flags, so pump never nests.
 */
static void pump(struct ringo__walk *w)
{
	struct walk_reader *r;
	unsigned i;
	int ret;

	if (w->pumping)
		return;
	w->pumping = true;
	for (i = 0; i < RINGO_FS_WALK_DIRS; i++) {
		r = &w->readers[i];
		if (r->state != READER_NAMES)
			continue;
		if (!w->stopping && (ret = reader_names(w, r)))
			stop(w, ret);
		/* A stopped reader leaves once its stats are back. */
		if (w->stopping && r->state == READER_NAMES && !r->stats)
			reader_release(w, r);
	}
	for (i = 0; i < RINGO_FS_WALK_DIRS && !w->stopping; i++) {
		r = &w->readers[i];
		if (r->state != READER_IDLE || !stack_pop(w, r))
			continue;
		w->busy_readers++;
		if ((ret = reader_read(r))) {
			reader_release(w, r);
			stop(w, ret);
		}
	}
	w->pumping = false;
	if (!w->busy_slots && !w->busy_readers) {
		/* Nothing in flight: the stack is empty too, or we stopped. */
		assert(w->stopping || !w->stack_len);
		finish(w);
	}
}

/* ---- start and cancel ---------------------------------------------------- */

static struct ringo__walk *walk_new(ringo_fs_walk_t *req)
{
	struct ringo__walk *w = calloc(1, sizeof(*w));
	unsigned i;

	if (!w)
		return NULL;
	w->req = req;
	for (i = 0; i < RINGO_FS_WALK_DIRS; i++) {
		w->readers[i].w = w;
		w->readers[i].fd = -1;
	}
	for (i = 0; i < RINGO_FS_WALK_DIRS; i++) {
		/* 8-aligned for the dirent records (d_ino is a u64). */
		w->readers[i].buf = aligned_alloc(8, RINGO_FS_WALK_DIRBUF);
		if (!w->readers[i].buf) {
			walk_free(w);
			return NULL;
		}
	}
	for (i = 0; i < RINGO_FS_WALK_STATS; i++)
		w->slots[i].next_free = i + 1 < RINGO_FS_WALK_STATS ? (int)i + 1 : -1;
	return w;
}

RINGO_EXTERN int ringo_fs_walk(ringo_loop_t *loop, ringo_fs_walk_t *req, const char *root,
			       ringo_fs_walk_visit_cb visit_cb, ringo_fs_walk_cb done_cb)
{
	struct ringo__walk *w;
	struct walk_slot *s;
	int ret;

	if (!loop || !req || !root || !*root || !visit_cb || !done_cb ||
	    !(L(loop)->state & LOOP_READY))
		return -EINVAL;
	if (strlen(root) >= PATH_MAX)
		return -ENAMETOOLONG;
	w = walk_new(req);
	if (!w)
		return -ENOMEM;
	req->loop = loop;
	req->type = RINGO_REQ_FS_WALK;
	req->op_id = 0;
	req->rflags = 0;
	req->visit_cb = visit_cb;
	req->done_cb = done_cb;
	req->root = root;
	req->visited = req->errors = 0;
	req->walk_ = w;
	/* The root's stat, from slot 0 (stat_done finds w from it). */
	s = &w->slots[0];
	ret = ringo__fs_lstat_at(loop, &s->fs, AT_FDCWD, root, stat_done);
	if (ret) {
		req->walk_ = NULL;
		walk_free(w);
		return ret;
	}
	s->r = NULL;
	s->name = root;
	w->free_slot = s->next_free;
	w->busy_slots = 1;
	L(loop)->active_reqs++;
	return 0;
}

int ringo__fs_walk_cancel(ringo_req_t *req)
{
	ringo_fs_walk_t *walk = (ringo_fs_walk_t *)req;
	struct ringo__walk *w = walk->walk_;

	if (!w)
		return -ENOENT;
	if (w->stopping)
		return -EALREADY;
	stop(w, -ECANCELED);
	return 0;
}
