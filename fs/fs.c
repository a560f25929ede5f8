/* SPDX-License-Identifier: MIT */
/*
 * File operations as loop requests. Each is one SQE through the op
 * records of the loop (so ids, cancel and deadlines work as for any op);
 * what the ring cannot do on this kernel (readlink always, ftruncate before
 * 6.9) runs on the work pool. Stat calls use statx and convert the result
 * into the public struct ringo_stat.
 */
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fs_internal.h"

_Static_assert(sizeof(struct statx) <= sizeof(((ringo_fs_t *)0)->statx_buf),
	       "statx_buf must hold a struct statx");

int ringo__req_final_res(ringo_req_t *req, int res, bool user_cancelled);

static bool is_stat(ringo_fs_type t)
{
	return t == RINGO_FS_STAT || t == RINGO_FS_LSTAT || t == RINGO_FS_FSTAT;
}

static int64_t ts_ns(const struct statx_timestamp *t)
{
	return (int64_t)t->tv_sec * 1000000000LL + t->tv_nsec;
}

/* Every field is stored (no memset first): this runs once per stat. */
static void fill_stat(struct ringo_stat *st, const struct statx *x)
{
	st->dev = makedev(x->stx_dev_major, x->stx_dev_minor);
	st->rdev = makedev(x->stx_rdev_major, x->stx_rdev_minor);
	st->ino = x->stx_ino;
	st->nlink = x->stx_nlink;
	st->size = x->stx_size;
	st->blocks = x->stx_blocks;
	st->blksize = x->stx_blksize;
	st->mode = x->stx_mode;
	st->uid = x->stx_uid;
	st->gid = x->stx_gid;
	st->atime_ns = ts_ns(&x->stx_atime);
	st->mtime_ns = ts_ns(&x->stx_mtime);
	st->ctime_ns = ts_ns(&x->stx_ctime);
	st->btime_ns = x->stx_mask & STATX_BTIME ? ts_ns(&x->stx_btime) : 0;
}

void ringo__fs_finish(ringo_fs_t *req, ssize_t res)
{
	req->result = res;
	if (res == 0 && is_stat(req->fs_type))
		fill_stat(&req->statbuf, req->stx);
	req->cb(req);
}

static void fs_complete(ringo_loop_t *loop, struct ringo__op *op, int res, unsigned flags)
{
	ringo_fs_t *req = op->owner;

	(void)loop;
	(void)flags;
	req->op_id = 0;
	if (req->rflags)
		res = ringo__req_final_res((ringo_req_t *)req, res, op->state != RINGO__OP_INFLIGHT);
	ringo__fs_finish(req, res);
}

/*
 * The file fields of a request, on every start. The common request fields
 * (loop, type, op_id, rflags, heap_index) come from ringo__req_op for ring
 * ops and from on_pool for the work pool: read and write are the
 * hot path, so nothing is stored twice.
 */
static void init_fs(ringo_fs_t *req, ringo_fs_type type, ringo_fs_cb cb)
{
	req->fs_type = type;
	req->cb = cb;
	req->result = 0;
	/* Marks "not on the work pool", for ringo_cancel. */
	req->work.type = RINGO_REQ_UNKNOWN;
}

bool ringo__fs_valid(ringo_loop_t *loop, ringo_fs_t *req, ringo_fs_cb cb)
{
	return loop && req && cb && (L(loop)->state & LOOP_READY);
}

/* Take a record for req; the caller fills the SQE. NULL: -ENOMEM. */
static struct ringo_sqe *start(ringo_loop_t *loop, ringo_fs_t *req, ringo_fs_type type,
			       ringo_fs_cb cb)
{
	struct ringo__op *op = ringo__req_op(loop, (ringo_req_t *)req, RINGO_REQ_FS, fs_complete,
					     NULL);

	if (!op)
		return NULL;
	init_fs(req, type, cb);
	return ringo__op_sqe(loop, op);
}

#define START(loop, req, type, cb)                                                             \
	struct ringo_sqe *sqe;                                                                 \
	if (!ringo__fs_valid(loop, req, cb))                                                   \
		return -EINVAL;                                                                \
	sqe = start(loop, req, type, cb);                                                      \
	if (!sqe)                                                                              \
		return -ENOMEM

RINGO_EXTERN int ringo_fs_openat(ringo_loop_t *loop, ringo_fs_t *req, int dirfd,
				 const char *path, int flags, mode_t mode, ringo_fs_cb cb)
{
	if (!path)
		return -EINVAL;
	START(loop, req, RINGO_FS_OPEN, cb);
	req->path = path;
	ringo_prep_openat(sqe, dirfd, path, flags, mode);
	return 0;
}

RINGO_EXTERN int ringo_fs_open(ringo_loop_t *loop, ringo_fs_t *req, const char *path, int flags,
			       mode_t mode, ringo_fs_cb cb)
{
	return ringo_fs_openat(loop, req, AT_FDCWD, path, flags, mode, cb);
}

RINGO_EXTERN int ringo_fs_close(ringo_loop_t *loop, ringo_fs_t *req, int fd, ringo_fs_cb cb)
{
	if (fd < 0 || ringo_fs_is_direct(fd))
		return -EBADF;
	START(loop, req, RINGO_FS_CLOSE, cb);
	ringo_prep_close(sqe, fd);
	return 0;
}

/* The kernel's result is an int: larger single transfers cannot report. */
bool ringo__fs_bad_len(size_t len)
{
	return len > INT_MAX;
}

bool ringo__fs_bad_offset(int64_t off)
{
	return off < -1;
}

RINGO_EXTERN int ringo_fs_read(ringo_loop_t *loop, ringo_fs_t *req, int fd, void *buf, size_t len,
			       int64_t offset, ringo_fs_cb cb)
{
	if ((!buf && len) || ringo__fs_bad_len(len) || ringo__fs_bad_offset(offset))
		return -EINVAL;
	START(loop, req, RINGO_FS_READ, cb);
	ringo_prep_read(sqe, fd, buf, (unsigned)len, (uint64_t)offset);
	ringo__fs_sqe_fd(sqe, fd);
	return 0;
}

RINGO_EXTERN int ringo_fs_write(ringo_loop_t *loop, ringo_fs_t *req, int fd, const void *buf,
				size_t len, int64_t offset, ringo_fs_cb cb)
{
	if ((!buf && len) || ringo__fs_bad_len(len) || ringo__fs_bad_offset(offset))
		return -EINVAL;
	START(loop, req, RINGO_FS_WRITE, cb);
	ringo_prep_write(sqe, fd, buf, (unsigned)len, (uint64_t)offset);
	ringo__fs_sqe_fd(sqe, fd);
	return 0;
}

static bool bad_iov(const struct iovec *iov, unsigned niov)
{
	size_t total = 0;
	unsigned i;

	if (!iov || !niov || niov > IOV_MAX)
		return true;
	for (i = 0; i < niov; i++) {
		if ((!iov[i].iov_base && iov[i].iov_len) || iov[i].iov_len > INT_MAX - total)
			return true;
		total += iov[i].iov_len;
	}
	return false;
}

RINGO_EXTERN int ringo_fs_readv(ringo_loop_t *loop, ringo_fs_t *req, int fd,
				const struct iovec *iov, unsigned niov, int64_t offset,
				ringo_fs_cb cb)
{
	if (bad_iov(iov, niov) || ringo__fs_bad_offset(offset))
		return -EINVAL;
	START(loop, req, RINGO_FS_READV, cb);
	ringo_prep_readv(sqe, fd, iov, niov, (uint64_t)offset);
	ringo__fs_sqe_fd(sqe, fd);
	return 0;
}

RINGO_EXTERN int ringo_fs_writev(ringo_loop_t *loop, ringo_fs_t *req, int fd,
				 const struct iovec *iov, unsigned niov, int64_t offset,
				 ringo_fs_cb cb)
{
	if (bad_iov(iov, niov) || ringo__fs_bad_offset(offset))
		return -EINVAL;
	START(loop, req, RINGO_FS_WRITEV, cb);
	ringo_prep_writev(sqe, fd, iov, niov, (uint64_t)offset);
	ringo__fs_sqe_fd(sqe, fd);
	return 0;
}

RINGO_EXTERN int ringo_fs_fsync(ringo_loop_t *loop, ringo_fs_t *req, int fd, ringo_fs_cb cb)
{
	START(loop, req, RINGO_FS_FSYNC, cb);
	ringo_prep_fsync(sqe, fd, 0);
	ringo__fs_sqe_fd(sqe, fd);
	return 0;
}

RINGO_EXTERN int ringo_fs_fdatasync(ringo_loop_t *loop, ringo_fs_t *req, int fd, ringo_fs_cb cb)
{
	START(loop, req, RINGO_FS_FDATASYNC, cb);
	ringo_prep_fsync(sqe, fd, RINGO_FSYNC_DATASYNC);
	ringo__fs_sqe_fd(sqe, fd);
	return 0;
}

RINGO_EXTERN int ringo_fs_fallocate(ringo_loop_t *loop, ringo_fs_t *req, int fd, int mode,
				    int64_t offset, int64_t len, ringo_fs_cb cb)
{
	if (offset < 0 || len <= 0)
		return -EINVAL;
	START(loop, req, RINGO_FS_FALLOCATE, cb);
	ringo_prep_fallocate(sqe, fd, mode, (uint64_t)offset, (uint64_t)len);
	ringo__fs_sqe_fd(sqe, fd);
	return 0;
}

static int statx_at(ringo_loop_t *loop, ringo_fs_t *req, ringo_fs_type type, int dirfd,
		    const char *path, int flags, ringo_fs_cb cb)
{
	START(loop, req, type, cb);
	req->path = path;
	req->stx = (struct statx *)(void *)req->statx_buf;
	ringo_prep_statx(sqe, dirfd, path, flags, STATX_BASIC_STATS | STATX_BTIME, req->stx);
	return 0;
}

RINGO_EXTERN int ringo_fs_stat(ringo_loop_t *loop, ringo_fs_t *req, const char *path,
			       ringo_fs_cb cb)
{
	if (!path)
		return -EINVAL;
	return statx_at(loop, req, RINGO_FS_STAT, AT_FDCWD, path, 0, cb);
}

RINGO_EXTERN int ringo_fs_lstat(ringo_loop_t *loop, ringo_fs_t *req, const char *path,
				ringo_fs_cb cb)
{
	if (!path)
		return -EINVAL;
	return statx_at(loop, req, RINGO_FS_LSTAT, AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, cb);
}

int ringo__fs_lstat_at(ringo_loop_t *loop, ringo_fs_t *req, int dirfd, const char *name,
		       ringo_fs_cb cb)
{
	if (!name)
		return -EINVAL;
	return statx_at(loop, req, RINGO_FS_LSTAT, dirfd, name, AT_SYMLINK_NOFOLLOW, cb);
}

RINGO_EXTERN int ringo_fs_fstat(ringo_loop_t *loop, ringo_fs_t *req, int fd, ringo_fs_cb cb)
{
	if (fd < 0 || ringo_fs_is_direct(fd))
		return -EBADF;
	return statx_at(loop, req, RINGO_FS_FSTAT, fd, "", AT_EMPTY_PATH, cb);
}

RINGO_EXTERN int ringo_fs_rename(ringo_loop_t *loop, ringo_fs_t *req, const char *from,
				 const char *to, ringo_fs_cb cb)
{
	if (!from || !to)
		return -EINVAL;
	START(loop, req, RINGO_FS_RENAME, cb);
	req->path = from;
	req->path2 = to;
	ringo_prep_renameat(sqe, AT_FDCWD, from, AT_FDCWD, to, 0);
	return 0;
}

RINGO_EXTERN int ringo_fs_unlink(ringo_loop_t *loop, ringo_fs_t *req, const char *path,
				 ringo_fs_cb cb)
{
	if (!path)
		return -EINVAL;
	START(loop, req, RINGO_FS_UNLINK, cb);
	req->path = path;
	ringo_prep_unlinkat(sqe, AT_FDCWD, path, 0);
	return 0;
}

RINGO_EXTERN int ringo_fs_rmdir(ringo_loop_t *loop, ringo_fs_t *req, const char *path,
				ringo_fs_cb cb)
{
	if (!path)
		return -EINVAL;
	START(loop, req, RINGO_FS_RMDIR, cb);
	req->path = path;
	ringo_prep_unlinkat(sqe, AT_FDCWD, path, AT_REMOVEDIR);
	return 0;
}

RINGO_EXTERN int ringo_fs_mkdir(ringo_loop_t *loop, ringo_fs_t *req, const char *path,
				mode_t mode, ringo_fs_cb cb)
{
	if (!path)
		return -EINVAL;
	START(loop, req, RINGO_FS_MKDIR, cb);
	req->path = path;
	ringo_prep_mkdirat(sqe, AT_FDCWD, path, mode);
	return 0;
}

RINGO_EXTERN int ringo_fs_symlink(ringo_loop_t *loop, ringo_fs_t *req, const char *target,
				  const char *linkpath, ringo_fs_cb cb)
{
	if (!target || !linkpath)
		return -EINVAL;
	START(loop, req, RINGO_FS_SYMLINK, cb);
	req->path = target;
	req->path2 = linkpath;
	ringo_prep_symlinkat(sqe, target, AT_FDCWD, linkpath);
	return 0;
}

RINGO_EXTERN int ringo_fs_link(ringo_loop_t *loop, ringo_fs_t *req, const char *from,
			       const char *to, ringo_fs_cb cb)
{
	if (!from || !to)
		return -EINVAL;
	START(loop, req, RINGO_FS_LINK, cb);
	req->path = from;
	req->path2 = to;
	ringo_prep_linkat(sqe, AT_FDCWD, from, AT_FDCWD, to, 0);
	return 0;
}

RINGO_EXTERN int ringo_fs_splice(ringo_loop_t *loop, ringo_fs_t *req, int fd_in, int64_t off_in,
				 int fd_out, int64_t off_out, size_t len, unsigned flags,
				 ringo_fs_cb cb)
{
	if (ringo__fs_bad_len(len) || ringo__fs_bad_offset(off_in) || ringo__fs_bad_offset(off_out))
		return -EINVAL;
	START(loop, req, RINGO_FS_SPLICE, cb);
	ringo_prep_splice(sqe, fd_in, (uint64_t)off_in, fd_out, (uint64_t)off_out, (unsigned)len,
			  flags);
	ringo__fs_sqe_fd(sqe, fd_out);
	if (ringo_fs_is_direct(fd_in)) {
		sqe->splice_fd_in = fd_in & ~RINGO_FS_DIRECT_BIT;
		sqe->splice_flags |= RINGO_SPLICE_F_FD_IN_FIXED;
	}
	return 0;
}

RINGO_EXTERN int ringo_fs_fadvise(ringo_loop_t *loop, ringo_fs_t *req, int fd, int64_t offset,
				  int64_t len, int advice, ringo_fs_cb cb)
{
	if (offset < 0 || len < 0 || len > UINT_MAX)
		return -EINVAL;
	START(loop, req, RINGO_FS_FADVISE, cb);
	ringo_prep_fadvise(sqe, fd, (uint64_t)offset, (unsigned)len, advice);
	ringo__fs_sqe_fd(sqe, fd);
	return 0;
}

/* ---- on the work pool ------------------------------------------------- */

void ringo__fs_pool_done(ringo_work_t *work, int status)
{
	ringo_fs_t *req = container_of(work, ringo_fs_t, work);

	ringo__fs_finish(req, status ? status : req->result);
}

static void do_readlink(ringo_work_t *work)
{
	ringo_fs_t *req = container_of(work, ringo_fs_t, work);
	ssize_t n = readlink(req->path, req->buf, req->len);

	req->result = n < 0 ? -errno : n;
}

static void do_ftruncate(ringo_work_t *work)
{
	ringo_fs_t *req = container_of(work, ringo_fs_t, work);

	req->result = ftruncate(req->fd, (off_t)req->off) ? -errno : 0;
}

int ringo__fs_on_pool(ringo_loop_t *loop, ringo_fs_t *req, ringo_fs_type type, ringo_work_cb fn,
		      ringo_after_work_cb after, ringo_fs_cb cb)
{
	req->loop = loop;
	req->type = RINGO_REQ_FS;
	req->op_id = 0;
	req->rflags = 0;
	req->heap_index = HEAP_NONE;
	init_fs(req, type, cb);
	memset(&req->work, 0, sizeof(req->work));
	return ringo_work_queue(loop, &req->work, fn, after);
}

RINGO_EXTERN int ringo_fs_readlink(ringo_loop_t *loop, ringo_fs_t *req, const char *path,
				   char *buf, size_t len, ringo_fs_cb cb)
{
	if (!ringo__fs_valid(loop, req, cb) || !path || !buf || !len || ringo__fs_bad_len(len))
		return -EINVAL;
	req->path = path;
	req->buf = buf;
	req->len = len;
	return ringo__fs_on_pool(loop, req, RINGO_FS_READLINK, do_readlink, ringo__fs_pool_done,
				 cb);
}

static void do_copy_range(ringo_work_t *work)
{
	ringo_fs_t *req = container_of(work, ringo_fs_t, work);
	loff_t in = (loff_t)req->off, out = (loff_t)req->off2;
	ssize_t n = copy_file_range(req->fd, req->off == UINT64_MAX ? NULL : &in, req->fd2,
				    req->off2 == UINT64_MAX ? NULL : &out, req->len, 0);

	req->result = n < 0 ? -errno : n;
}

RINGO_EXTERN int ringo_fs_copy_range(ringo_loop_t *loop, ringo_fs_t *req, int fd_in,
				     int64_t off_in, int fd_out, int64_t off_out, size_t len,
				     ringo_fs_cb cb)
{
	if (!ringo__fs_valid(loop, req, cb) || ringo__fs_bad_len(len) ||
	    ringo__fs_bad_offset(off_in) || ringo__fs_bad_offset(off_out))
		return -EINVAL;
	if (fd_in < 0 || fd_out < 0 || ringo_fs_is_direct(fd_in) || ringo_fs_is_direct(fd_out))
		return -EBADF;
	req->fd = fd_in;
	req->fd2 = fd_out;
	req->off = (uint64_t)off_in; /* -1 becomes UINT64_MAX: "the file position" */
	req->off2 = (uint64_t)off_out;
	req->len = len;
	return ringo__fs_on_pool(loop, req, RINGO_FS_COPY_RANGE, do_copy_range,
				 ringo__fs_pool_done, cb);
}

/* FTRUNCATE came to the ring in 6.9: probed once per loop. */
static bool ring_has_ftruncate(ringo_loop_t *loop)
{
	struct ringo__loop *l = L(loop);

	if (!l->fs_ftruncate)
		l->fs_ftruncate =
			ringo_ring_op_supported(&l->ring, RINGO_OP_FTRUNCATE) == 1 ? 1 : -1;
	return l->fs_ftruncate > 0;
}

RINGO_EXTERN int ringo_fs_ftruncate(ringo_loop_t *loop, ringo_fs_t *req, int fd, int64_t len,
				    ringo_fs_cb cb)
{
	if (!ringo__fs_valid(loop, req, cb) || len < 0)
		return -EINVAL;
	if (!ring_has_ftruncate(loop) || (L(loop)->flags & RINGO_LOOP_NO_FS_RING_OPS)) {
		if (ringo_fs_is_direct(fd))
			return -EBADF;
		req->fd = fd;
		req->off = (uint64_t)len;
		return ringo__fs_on_pool(loop, req, RINGO_FS_FTRUNCATE, do_ftruncate,
					 ringo__fs_pool_done, cb);
	}
	{
		START(loop, req, RINGO_FS_FTRUNCATE, cb);
		ringo_prep_ftruncate(sqe, fd, (uint64_t)len);
		ringo__fs_sqe_fd(sqe, fd);
	}
	return 0;
}

/* ringo_cancel on a file request with no op in flight: only one that
 * went to the work pool can still be waiting there. */
int ringo__fs_cancel(ringo_req_t *req)
{
	ringo_fs_t *fs = (ringo_fs_t *)req;

	if (fs->work.type != RINGO_REQ_WORK || fs->work.loop != req->loop)
		return -ENOENT;
	return ringo__work_cancel(&fs->work);
}
