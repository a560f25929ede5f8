/* SPDX-License-Identifier: MIT */
/*
 * Directories: opendir, readdir and closedir as file requests. Mainline
 * io_uring has no getdents op (patches for one were posted in 2023 and
 * never merged), so all three run on the work pool: open(O_DIRECTORY),
 * getdents64 into the directory's own buffer, close.
 *
 * A ringo_dir is touched by one thread at a time: the loop thread marks it
 * busy when a readdir starts and clears the mark in the after-callback, so
 * the pool thread that fills it never races the loop thread or a second
 * readdir. Entries point into the buffer; the next getdents64 (which only
 * happens once every buffered entry was handed out) overwrites them, which
 * is why names live until the next readdir.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs_internal.h"

struct ringo_dir {
	int fd;
	int busy;		/* a readdir or closedir is in flight */
	int at_end;		/* getdents64 returned 0 */
	unsigned pos;		/* next record in buf */
	unsigned len;		/* bytes of records in buf */
	_Alignas(8) unsigned char buf[RINGO_DIR_BUFSIZE];
};

RINGO_EXTERN int ringo_dir_fd(const ringo_dir_t *dir)
{
	return dir ? dir->fd : -EINVAL;
}

/* ---- the busy mark ------------------------------------------------------ */

/* Back on the loop thread. A closedir that ran left req->dir NULL; one
 * cancelled before it ran leaves the directory open and usable. */
static void dir_done(ringo_work_t *work, int status)
{
	ringo_fs_t *req = container_of(work, ringo_fs_t, work);

	if (req->dir)
		req->dir->busy = 0;
	ringo__fs_pool_done(work, status);
}

static int queue_dir_work(ringo_loop_t *loop, ringo_fs_t *req, ringo_dir_t *dir,
			  ringo_fs_type type, ringo_work_cb fn, ringo_fs_cb cb)
{
	int ret;

	if (dir->busy)
		return -EBUSY;
	req->dir = dir;
	/* Marked before queueing: a pool thread may run it at once. */
	dir->busy = 1;
	ret = ringo__fs_on_pool(loop, req, type, fn, dir_done, cb);
	if (ret)
		dir->busy = 0;
	return ret;
}

/* ---- opendir ------------------------------------------------------------ */

static void do_opendir(ringo_work_t *work)
{
	ringo_fs_t *req = container_of(work, ringo_fs_t, work);
	ringo_dir_t *dir;
	int fd = open(req->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		req->result = -errno;
		return;
	}
	dir = malloc(sizeof(*dir));
	if (!dir) {
		close(fd);
		req->result = -ENOMEM;
		return;
	}
	dir->fd = fd;
	dir->busy = 0;
	dir->at_end = 0;
	dir->pos = dir->len = 0;
	req->dir = dir;
	req->result = 0;
}

RINGO_EXTERN int ringo_fs_opendir(ringo_loop_t *loop, ringo_fs_t *req, const char *path,
				  ringo_fs_cb cb)
{
	if (!ringo__fs_valid(loop, req, cb) || !path)
		return -EINVAL;
	req->path = path;
	req->dir = NULL;
	return ringo__fs_on_pool(loop, req, RINGO_FS_OPENDIR, do_opendir, ringo__fs_pool_done,
				 cb);
}

/* ---- readdir ------------------------------------------------------------ */

/* Hand out buffered records until `nents` are filled or the buffer is done. */
static unsigned take_buffered(ringo_dir_t *dir, struct ringo_dirent *ents, unsigned nents)
{
	unsigned n = 0;

	while (n < nents && dir->pos < dir->len) {
		const struct ringo__dirent64 *d = (const void *)(dir->buf + dir->pos);

		dir->pos += d->d_reclen;
		if (ringo__is_dot(d->d_name))
			continue;
		ents[n].name = d->d_name;
		ents[n].ino = d->d_ino;
		ents[n].type = d->d_type;
		n++;
	}
	return n;
}

static void do_readdir(ringo_work_t *work)
{
	ringo_fs_t *req = container_of(work, ringo_fs_t, work);
	ringo_dir_t *dir = req->dir;
	unsigned n = take_buffered(dir, req->dirents, (unsigned)req->len);
	long got;

	/* Refill only when every buffered entry is out: names handed out by
	 * this call point into the buffer. A buffer of only "." and ".."
	 * yields nothing, so keep reading until an entry or the end. */
	while (!n && !dir->at_end) {
		got = syscall(SYS_getdents64, dir->fd, dir->buf, sizeof(dir->buf));
		/* A directory removed while open fails with ENOENT (the
		 * kernel's IS_DEADDIR check); like glibc's readdir, that is
		 * the end of an empty directory, not an error. */
		if (got < 0 && errno == ENOENT)
			got = 0;
		if (got < 0) {
			req->result = -errno;
			return;
		}
		dir->pos = 0;
		dir->len = (unsigned)got;
		dir->at_end = got == 0;
		n = take_buffered(dir, req->dirents, (unsigned)req->len);
	}
	req->result = n;
}

RINGO_EXTERN int ringo_fs_readdir(ringo_loop_t *loop, ringo_fs_t *req, ringo_dir_t *dir,
				  struct ringo_dirent *dirents, unsigned nents, ringo_fs_cb cb)
{
	if (!ringo__fs_valid(loop, req, cb) || !dir || !dirents || !nents)
		return -EINVAL;
	req->dirents = dirents;
	req->len = nents;
	return queue_dir_work(loop, req, dir, RINGO_FS_READDIR, do_readdir, cb);
}

/* ---- closedir ----------------------------------------------------------- */

/* close(2) releases the fd even when it reports an error (EINTR included,
 * on Linux), so the directory is gone either way. */
static void do_closedir(ringo_work_t *work)
{
	ringo_fs_t *req = container_of(work, ringo_fs_t, work);

	req->result = close(req->dir->fd) ? -errno : 0;
	free(req->dir);
	req->dir = NULL;
}

RINGO_EXTERN int ringo_fs_closedir(ringo_loop_t *loop, ringo_fs_t *req, ringo_dir_t *dir,
				   ringo_fs_cb cb)
{
	if (!ringo__fs_valid(loop, req, cb) || !dir)
		return -EINVAL;
	return queue_dir_work(loop, req, dir, RINGO_FS_CLOSEDIR, do_closedir, cb);
}
