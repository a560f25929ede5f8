/* SPDX-License-Identifier: MIT */
/*
 * What the files of fs/ share: request set-up, argument checks, the
 * finish step that fills req->result and runs the callback, and a statx
 * relative to an open directory for the tree walk. Not installed.
 */
#ifndef RINGO_FS_INTERNAL_H
#define RINGO_FS_INTERNAL_H

#include "loop_internal.h"

/* The record getdents64(2) fills (the kernel's linux_dirent64; glibc has
 * no public declaration). Records are 8-aligned in the buffer. */
struct ringo__dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* "." or "..": directory listings leave them out. */
static inline bool ringo__is_dot(const char *name)
{
	return name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2]));
}

/* A live loop, a request and a callback. */
bool ringo__fs_valid(ringo_loop_t *loop, ringo_fs_t *req, ringo_fs_cb cb);
/* Lengths the kernel's int result cannot report; offsets below -1. */
bool ringo__fs_bad_len(size_t len);
bool ringo__fs_bad_offset(int64_t off);
/* Set req->result (filling statbuf after a stat) and run the callback. */
void ringo__fs_finish(ringo_fs_t *req, ssize_t res);
/*
 * Run fn on the work pool for req; `after` runs on the loop thread and
 * must end in ringo__fs_finish (ringo__fs_pool_done does only that,
 * with req->result or the pool's -ECANCELED).
 */
int ringo__fs_on_pool(ringo_loop_t *loop, ringo_fs_t *req, ringo_fs_type type, ringo_work_cb fn,
		      ringo_after_work_cb after, ringo_fs_cb cb);
void ringo__fs_pool_done(ringo_work_t *work, int status);
/* After prep: a direct descriptor becomes its slot with the fixed-file flag. */
void ringo__fs_sqe_fd(struct ringo_sqe *sqe, int fd);
/*
 * lstat of `name` inside the directory `dirfd` (links not followed),
 * through the ring, as ringo_fs_lstat: req->statbuf filled when
 * req->result is 0. `name` must stay valid until cb.
 */
int ringo__fs_lstat_at(ringo_loop_t *loop, ringo_fs_t *req, int dirfd, const char *name,
		       ringo_fs_cb cb);

#endif
