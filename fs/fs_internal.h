/* SPDX-License-Identifier: MIT */
/*
 * What the fs/ files share and do not export: a statx relative to an open
 * directory, for the tree walk (fs/walk.c) that stats entries by name
 * inside the directory it is reading.
 */
#ifndef RINGO_FS_INTERNAL_H
#define RINGO_FS_INTERNAL_H

#include "loop_internal.h"

/*
 * lstat of `name` inside the directory `dirfd` (links not followed),
 * through the ring, as ringo_fs_lstat: req->statbuf filled when
 * req->result is 0. `name` must stay valid until cb.
 */
int ringo__fs_lstat_at(ringo_loop_t *loop, ringo_fs_t *req, int dirfd, const char *name,
		       ringo_fs_cb cb);

#endif
