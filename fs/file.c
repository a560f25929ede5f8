/* SPDX-License-Identifier: MIT */
/*
 * Whole-file helpers built from the ringo_fs_* requests: read a file into
 * memory, write one (optionally atomically), copy one with several blocks
 * in flight. Each is a small state machine; req->step says what the
 * embedded ringo_fs_t request is doing, and every step goes through the
 * ring (or the work pool where the ring has no op).
 */
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loop_internal.h"

#define READ_CHUNK (256 * 1024)	/* first read size when stat says 0 (procfs) */
#define MAX_STEP (1U << 30)		/* one read/write moves at most this: the
					 * kernel's result is an int */

static size_t step_len(size_t left)
{
	return left < MAX_STEP ? left : MAX_STEP;
}

static ringo_fs_file_t *of(ringo_fs_t *fs)
{
	return container_of(fs, ringo_fs_file_t, fs);
}

static bool valid(ringo_loop_t *loop, ringo_fs_file_t *req, const void *path,
		  ringo_fs_file_cb cb)
{
	return loop && req && path && cb && (L(loop)->state & LOOP_READY);
}

static void init_req(ringo_loop_t *loop, ringo_fs_file_t *req, ringo_fs_file_cb cb)
{
	req->loop = loop;
	req->type = RINGO_REQ_FS_FILE;
	req->op_id = 0;
	req->rflags = 0;
	req->cb = cb;
	req->contents = NULL;
	req->size = 0;
	req->fd = req->fd2 = req->dirfd = -1;
	req->err = 0;
	req->off = req->total = 0;
	req->busy = 0;
	/* Counts as an active request from start to callback, even between
	 * steps when none of its ops is in flight. */
	L(loop)->active_reqs++;
}

static void finish(ringo_fs_file_t *req)
{
	L(req->loop)->active_reqs--;
	req->cb(req, req->err);
}

/* A step that could not even start: remember the error and unwind. */
static void fail(ringo_fs_file_t *req, int err, void (*unwind)(ringo_fs_file_t *))
{
	if (!req->err)
		req->err = err;
	unwind(req);
}

/* ---- read_file -------------------------------------------------------- */

enum { RF_OPEN, RF_STAT, RF_READ, RF_CLOSE };

static void rf_step(ringo_fs_t *fs);

static void rf_close(ringo_fs_file_t *req)
{
	int ret;

	if (req->fd < 0) {
		if (req->err) {
			free(req->contents);
			req->contents = NULL;
			req->size = 0;
		}
		finish(req);
		return;
	}
	req->step = RF_CLOSE;
	ret = ringo_fs_close(req->loop, &req->fs, req->fd, rf_step);
	req->fd = -1;
	if (ret)
		rf_close(req);
}

static int rf_read_more(ringo_fs_file_t *req)
{
	unsigned char *n;

	if (req->size == req->cap) {
		n = realloc(req->contents, req->cap * 2 + 1);
		if (!n)
			return -ENOMEM;
		req->contents = n;
		req->cap *= 2;
	}
	req->step = RF_READ;
	return ringo_fs_read(req->loop, &req->fs, req->fd, (char *)req->contents + req->size,
			     step_len(req->cap - req->size), (int64_t)req->size, rf_step);
}

static void rf_step(ringo_fs_t *fs)
{
	ringo_fs_file_t *req = of(fs);
	int ret = 0;

	if (fs->result < 0 && req->step != RF_CLOSE) {
		fail(req, (int)fs->result, rf_close);
		return;
	}
	switch (req->step) {
	case RF_OPEN:
		req->fd = (int)fs->result;
		req->step = RF_STAT;
		ret = ringo_fs_fstat(req->loop, fs, req->fd, rf_step);
		break;
	case RF_STAT:
		req->cap = fs->statbuf.size ? fs->statbuf.size + 1 : READ_CHUNK;
		req->contents = malloc(req->cap + 1);
		ret = req->contents ? rf_read_more(req) : -ENOMEM;
		break;
	case RF_READ:
		if (fs->result == 0) {
			((char *)req->contents)[req->size] = '\0';
			rf_close(req);
			return;
		}
		req->size += (size_t)fs->result;
		ret = rf_read_more(req);
		break;
	case RF_CLOSE:
		rf_close(req);
		return;
	}
	if (ret)
		fail(req, ret, rf_close);
}

RINGO_EXTERN int ringo_fs_read_file(ringo_loop_t *loop, ringo_fs_file_t *req, const char *path,
				    ringo_fs_file_cb cb)
{
	int ret;

	if (!valid(loop, req, path, cb))
		return -EINVAL;
	init_req(loop, req, cb);
	req->path = path;
	req->step = RF_OPEN;
	ret = ringo_fs_open(loop, &req->fs, path, O_RDONLY | O_CLOEXEC, 0, rf_step);
	if (ret)
		L(loop)->active_reqs--;
	return ret;
}

/* ---- write_file ------------------------------------------------------- */

enum { WF_STAT, WF_OPEN, WF_WRITE, WF_FSYNC, WF_CLOSE, WF_RENAME, WF_DIR_OPEN, WF_DIR_FSYNC,
       WF_DIR_CLOSE, WF_UNWIND_CLOSE, WF_UNLINK };

static void wf_step(ringo_fs_t *fs);

/*
 * On error: close what is open, remove a temp file that still exists
 * (req->path2 is set while it does), then report. Each step re-enters here
 * from wf_step; a step that cannot start is skipped.
 */
static void wf_unwind(ringo_fs_file_t *req)
{
	int *fdp, fd;

	while (req->fd >= 0 || req->dirfd >= 0) {
		fdp = req->fd >= 0 ? &req->fd : &req->dirfd;
		fd = *fdp;
		*fdp = -1;
		req->step = WF_UNWIND_CLOSE;
		if (ringo_fs_close(req->loop, &req->fs, fd, wf_step) == 0)
			return;
	}
	if (req->path2) {
		req->path2 = NULL;
		req->step = WF_UNLINK;
		if (ringo_fs_unlink(req->loop, &req->fs, req->tmp, wf_step) == 0)
			return;
	}
	finish(req);
}

static int wf_write(ringo_fs_file_t *req)
{
	req->step = WF_WRITE;
	return ringo_fs_write(req->loop, &req->fs, req->fd,
			      (const char *)req->src + req->off, step_len(req->total - req->off),
			      (int64_t)req->off, wf_step);
}

static int wf_after_data(ringo_fs_file_t *req)
{
	int fd = req->fd;

	if (req->flags & RINGO_FS_ATOMIC) {
		req->step = WF_FSYNC;
		return ringo_fs_fsync(req->loop, &req->fs, fd, wf_step);
	}
	req->step = WF_CLOSE;
	req->fd = -1;
	return ringo_fs_close(req->loop, &req->fs, fd, wf_step);
}

/* The directory of req->path, for fsync after the rename. */
static int wf_open_dir(ringo_fs_file_t *req)
{
	char dir[sizeof(req->tmp)];

	snprintf(dir, sizeof(dir), "%s", req->path);
	snprintf(req->tmp, sizeof(req->tmp), "%s", dirname(dir));
	req->step = WF_DIR_OPEN;
	return ringo_fs_open(req->loop, &req->fs, req->tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC,
			     0, wf_step);
}

static void wf_step(ringo_fs_t *fs)
{
	ringo_fs_file_t *req = of(fs);
	int ret = 0, fd;

	if (req->step == WF_UNWIND_CLOSE || req->step == WF_UNLINK) {
		wf_unwind(req);
		return;
	}
	if (req->step == WF_STAT) {
		/* No target yet is fine: the new file gets 0666 & ~umask. */
		if (fs->result == 0 && !S_ISDIR(fs->statbuf.mode))
			req->mode = fs->statbuf.mode;
		req->step = WF_OPEN;
		ret = ringo_fs_open(req->loop, fs, req->tmp,
				    O_WRONLY | O_CREAT | O_CLOEXEC | O_EXCL, 0666, wf_step);
		if (ret)
			fail(req, ret, wf_unwind);
		return;
	}
	if (fs->result < 0) {
		fail(req, (int)fs->result, wf_unwind);
		return;
	}
	switch (req->step) {
	case WF_OPEN:
		req->fd = (int)fs->result;
		/* An atomic rewrite keeps the permissions of the file it
		 * replaces (a 0600 secret must not become 0644). */
		if (req->mode && fchmod(req->fd, req->mode & 07777))
			ret = -errno;
		else
			ret = req->total ? wf_write(req) : wf_after_data(req);
		break;
	case WF_WRITE:
		req->off += (uint64_t)fs->result;
		req->size = req->off;
		ret = req->off < req->total ? wf_write(req) : wf_after_data(req);
		break;
	case WF_FSYNC:
		fd = req->fd;
		req->fd = -1;
		req->step = WF_CLOSE;
		ret = ringo_fs_close(req->loop, fs, fd, wf_step);
		break;
	case WF_CLOSE:
		if (!(req->flags & RINGO_FS_ATOMIC)) {
			finish(req);
			return;
		}
		req->step = WF_RENAME;
		ret = ringo_fs_rename(req->loop, fs, req->tmp, req->path, wf_step);
		break;
	case WF_RENAME:
		req->path2 = NULL;	/* the temp file is gone: nothing to unlink */
		ret = wf_open_dir(req);
		break;
	case WF_DIR_OPEN:
		req->dirfd = (int)fs->result;
		req->step = WF_DIR_FSYNC;
		ret = ringo_fs_fsync(req->loop, fs, req->dirfd, wf_step);
		break;
	case WF_DIR_FSYNC:
		fd = req->dirfd;
		req->dirfd = -1;
		req->step = WF_DIR_CLOSE;
		ret = ringo_fs_close(req->loop, fs, fd, wf_step);
		break;
	case WF_DIR_CLOSE:
		finish(req);
		return;
	}
	if (ret)
		fail(req, ret, wf_unwind);
}

/* ".NAME.ringo-PID-N" next to path: same filesystem, so rename is atomic. */
static int temp_name(ringo_fs_file_t *req, const char *path)
{
	static unsigned counter;
	char dir[sizeof(req->tmp)], base[sizeof(req->tmp)];
	int n;

	if (strlen(path) >= sizeof(dir))
		return -ENAMETOOLONG;
	snprintf(dir, sizeof(dir), "%s", path);
	snprintf(base, sizeof(base), "%s", path);
	n = snprintf(req->tmp, sizeof(req->tmp), "%s/.%s.ringo-%d-%u", dirname(dir),
		     basename(base), (int)getpid(),
		     __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
	return n < 0 || (size_t)n >= sizeof(req->tmp) ? -ENAMETOOLONG : 0;
}

RINGO_EXTERN int ringo_fs_write_file(ringo_loop_t *loop, ringo_fs_file_t *req, const char *path,
				     const void *data, size_t len, unsigned flags,
				     ringo_fs_file_cb cb)
{
	int oflags = O_WRONLY | O_CREAT | O_CLOEXEC, ret;

	if (!valid(loop, req, path, cb) || (!data && len) || (flags & ~RINGO_FS_ATOMIC) || !*path)
		return -EINVAL;
	init_req(loop, req, cb);
	req->path = path;
	req->path2 = NULL;
	req->src = data;
	req->total = len;
	req->flags = flags;
	req->mode = 0;
	if (flags & RINGO_FS_ATOMIC) {
		ret = temp_name(req, path);
		req->path2 = req->tmp;	/* set while a temp file may exist */
		req->step = WF_STAT;
		if (!ret)
			ret = ringo_fs_stat(loop, &req->fs, path, wf_step);
	} else {
		req->step = WF_OPEN;
		ret = ringo_fs_open(loop, &req->fs, path, oflags | O_TRUNC, 0666, wf_step);
	}
	if (ret)
		L(loop)->active_reqs--;
	return ret;
}

/* ---- copy_file -------------------------------------------------------- */

enum { CF_OPEN_SRC, CF_STAT, CF_OPEN_DST, CF_RANGE, CF_COPY, CF_CLOSE_DST, CF_CLOSE_SRC };

/*
 * Bytes per copy_file_range trip to the work pool: large enough that the
 * trips do not show next to the copying, small enough that a loop closing
 * meanwhile waits for one chunk at most.
 */
#define CF_RANGE_CHUNK (16U * 1024 * 1024)

static void cf_step(ringo_fs_t *fs);
static void cf_block_read(ringo_fs_t *fs);
static void cf_block_written(ringo_fs_t *fs);

static void cf_close(ringo_fs_file_t *req)
{
	int fd;

	if (req->fd2 >= 0) {
		/* Keep src's permission bits whatever the umask made of them. */
		if (!req->err && fchmod(req->fd2, req->mode & 07777))
			req->err = -errno;
		fd = req->fd2;
		req->fd2 = -1;
		req->step = CF_CLOSE_DST;
		if (ringo_fs_close(req->loop, &req->fs, fd, cf_step) == 0)
			return;
	}
	if (req->fd >= 0) {
		fd = req->fd;
		req->fd = -1;
		req->step = CF_CLOSE_SRC;
		if (ringo_fs_close(req->loop, &req->fs, fd, cf_step) == 0)
			return;
	}
	for (unsigned i = 0; i < RINGO_FS_COPY_BLOCKS; i++) {
		free(req->blocks[i].buf);
		req->blocks[i].buf = NULL;
	}
	finish(req);
}

/* Give block b the next range of the file, or leave it idle. */
static void cf_next_block(ringo_fs_file_t *req, struct ringo_fs_copy_block *b)
{
	int ret;

	if (req->err || req->off >= req->total)
		return;
	b->off = req->off;
	b->len = req->total - req->off < RINGO_FS_COPY_BLOCK ? req->total - req->off
							     : RINGO_FS_COPY_BLOCK;
	b->done = 0;
	req->off += b->len;
	ret = ringo_fs_read(req->loop, &b->fs, req->fd, b->buf, b->len, (int64_t)b->off,
			    cf_block_read);
	if (ret)
		req->err = ret;
	else
		req->busy++;
}

static void cf_block_done(ringo_fs_file_t *req, struct ringo_fs_copy_block *b, ssize_t res)
{
	req->busy--;
	if (res < 0 && !req->err)
		req->err = (int)res;
	cf_next_block(req, b);
	if (!req->busy)
		cf_close(req);
}

static int cf_write_rest(ringo_fs_file_t *req, struct ringo_fs_copy_block *b)
{
	return ringo_fs_write(req->loop, &b->fs, req->fd2, b->buf + b->done, b->len - b->done,
			      (int64_t)(b->off + b->done), cf_block_written);
}

static void cf_block_read(ringo_fs_t *fs)
{
	struct ringo_fs_copy_block *b = container_of(fs, struct ringo_fs_copy_block, fs);
	ringo_fs_file_t *req = b->owner;
	int ret;

	if (fs->result <= 0 || req->err) {
		cf_block_done(req, b, fs->result);
		return;
	}
	/* A short read (the file shrank): copy what there is. */
	b->len = (size_t)fs->result;
	ret = cf_write_rest(req, b);
	if (ret)
		cf_block_done(req, b, ret);
}

static void cf_block_written(ringo_fs_t *fs)
{
	struct ringo_fs_copy_block *b = container_of(fs, struct ringo_fs_copy_block, fs);
	ringo_fs_file_t *req = b->owner;
	int ret;

	if (fs->result < 0 || req->err) {
		cf_block_done(req, b, fs->result);
		return;
	}
	b->done += (size_t)fs->result;
	req->size += (size_t)fs->result;
	if (b->done == b->len) {
		cf_block_done(req, b, 0);
		return;
	}
	ret = cf_write_rest(req, b);
	if (ret)
		cf_block_done(req, b, ret);
}

static int cf_start_blocks(ringo_fs_file_t *req)
{
	unsigned i;

	for (i = 0; i < RINGO_FS_COPY_BLOCKS && req->off < req->total; i++) {
		req->blocks[i].buf = malloc(RINGO_FS_COPY_BLOCK);
		if (!req->blocks[i].buf) {
			/* Blocks already reading finish first; the last one
			 * to finish closes (cf_block_done). */
			req->err = -ENOMEM;
			break;
		}
		req->blocks[i].owner = req;
		cf_next_block(req, &req->blocks[i]);
	}
	if (!req->busy)
		cf_close(req);	/* empty file, or nothing could start */
	return 0;
}

/*
 * The kernel copies first (copy_file_range: no trip through user memory,
 * and a reflink or server-side copy where the file system can), as cp(1)
 * does. Errors that mean "not between these two files" (EXDEV across file
 * systems before 5.3 and again since 5.19 for most, EINVAL or EOPNOTSUPP
 * where a file system has no support) switch to reads and writes from
 * where it stopped. So does a 0 before the end: some pseudo file systems
 * report 0 instead of an error, and a file that shrank reads 0 anyway.
 */
static int cf_range_next(ringo_fs_file_t *req)
{
	uint64_t left = req->total - req->off;

	req->step = CF_RANGE;
	return ringo_fs_copy_range(req->loop, &req->fs, req->fd, (int64_t)req->off, req->fd2,
				   (int64_t)req->off, left < CF_RANGE_CHUNK ? left : CF_RANGE_CHUNK,
				   cf_step);
}

static bool cf_range_unsupported(ssize_t err)
{
	return err == -EXDEV || err == -EINVAL || err == -EOPNOTSUPP || err == -ENOSYS;
}

static void cf_range_done(ringo_fs_file_t *req, ssize_t res)
{
	int ret;

	if (res > 0) {
		req->off += (uint64_t)res;
		req->size += (size_t)res;
		if (req->off >= req->total) {
			cf_close(req);
			return;
		}
		ret = cf_range_next(req);
	} else if (res == 0 || cf_range_unsupported(res)) {
		req->step = CF_COPY;
		ret = cf_start_blocks(req);
	} else {
		ret = (int)res;
	}
	if (ret)
		fail(req, ret, cf_close);
}

/*
 * Copying a file onto itself would truncate the source: refuse it like
 * cp(1). fstat and ftruncate on an open fd cannot block on path lookup,
 * so they are done directly.
 */
static int cf_check_dst(ringo_fs_file_t *req)
{
	struct stat st;

	if (fstat(req->fd2, &st))
		return -errno;
	if (st.st_dev == req->src_dev && st.st_ino == req->src_ino)
		return -EINVAL;
	/* Only a file with data: ext4 calls truncating a file to 0 a
	 * replace-via-truncate and flushes its new data at close
	 * (auto_da_alloc), even when it was empty already. */
	if (!S_ISREG(st.st_mode) || !st.st_size)
		return 0;
	return ftruncate(req->fd2, 0) ? -errno : 0;
}

static void cf_step(ringo_fs_t *fs)
{
	ringo_fs_file_t *req = of(fs);
	int ret = 0, oflags = O_WRONLY | O_CREAT | O_CLOEXEC;

	if (req->step == CF_CLOSE_DST || req->step == CF_CLOSE_SRC) {
		if (fs->result < 0 && !req->err)
			req->err = (int)fs->result;
		cf_close(req);
		return;
	}
	if (req->step == CF_RANGE) {
		cf_range_done(req, fs->result);
		return;
	}
	if (fs->result < 0) {
		fail(req, (int)fs->result, cf_close);
		return;
	}
	switch (req->step) {
	case CF_OPEN_SRC:
		req->fd = (int)fs->result;
		req->step = CF_STAT;
		ret = ringo_fs_fstat(req->loop, fs, req->fd, cf_step);
		break;
	case CF_STAT:
		if (S_ISDIR(fs->statbuf.mode)) {
			fail(req, -EISDIR, cf_close);
			return;
		}
		req->mode = fs->statbuf.mode;
		req->total = fs->statbuf.size;
		req->src_dev = fs->statbuf.dev;
		req->src_ino = fs->statbuf.ino;
		/* O_TRUNC waits until dst is known not to be src itself. */
		if (req->flags & RINGO_FS_COPY_EXCL)
			oflags |= O_EXCL;
		req->step = CF_OPEN_DST;
		ret = ringo_fs_open(req->loop, fs, req->path2, oflags, req->mode & 07777, cf_step);
		break;
	case CF_OPEN_DST:
		req->fd2 = (int)fs->result;
		ret = cf_check_dst(req);
		if (!ret && req->total)
			ret = cf_range_next(req);
		else if (!ret)
			cf_close(req);	/* an empty file */
		break;
	}
	if (ret)
		fail(req, ret, cf_close);
}

RINGO_EXTERN int ringo_fs_copy_file(ringo_loop_t *loop, ringo_fs_file_t *req, const char *src,
				    const char *dst, unsigned flags, ringo_fs_file_cb cb)
{
	int ret;

	if (!valid(loop, req, src, cb) || !dst || (flags & ~RINGO_FS_COPY_EXCL))
		return -EINVAL;
	init_req(loop, req, cb);
	memset(req->blocks, 0, sizeof(req->blocks));
	req->path = src;
	req->path2 = dst;
	req->flags = flags;
	req->step = CF_OPEN_SRC;
	ret = ringo_fs_open(loop, &req->fs, src, O_RDONLY | O_CLOEXEC, 0, cf_step);
	if (ret)
		L(loop)->active_reqs--;
	return ret;
}
