/* SPDX-License-Identifier: MIT */
/*
 * Direct descriptors: files registered in the ring's fixed-file table, so
 * a hot file's read or write skips the kernel's per-op fd lookup and
 * reference counting (fdget/fdput on a shared file table).
 *
 * The loop registers a sparse table of RINGO_FS_DIRECT_MAX slots (fewer
 * if RLIMIT_NOFILE is lower: the kernel refuses a table larger than it)
 * on the first ringo_fs_register_fd, and hands out slots from a free list.
 * A direct descriptor is RINGO_FS_DIRECT_BIT | slot: the kernel caps
 * fs.nr_open below 2^30, so no real fd has that bit and both kinds can
 * travel in the same int.
 */
#include <stdlib.h>
#include <sys/resource.h>

#include "fs_internal.h"

#define SLOT_USED UINT32_MAX

struct ringo__direct {
	unsigned size;		/* slots in the kernel's table */
	unsigned free_head;	/* first free slot; size when none is free */
	uint32_t next[];	/* free list link, or SLOT_USED */
};

static unsigned table_size(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < RINGO_FS_DIRECT_MAX)
		return (unsigned)rl.rlim_cur;
	return RINGO_FS_DIRECT_MAX;
}

static int table_init(struct ringo__loop *l)
{
	unsigned i, size = table_size();
	struct ringo__direct *d;
	int ret;

	if (!size)
		return -EMFILE;
	d = malloc(sizeof(*d) + size * sizeof(d->next[0]));
	if (!d)
		return -ENOMEM;
	ret = ringo_ring_register_files_sparse(&l->ring, size);
	if (ret < 0) {
		free(d);
		return ret;
	}
	d->size = size;
	d->free_head = 0;
	for (i = 0; i < size; i++)
		d->next[i] = i + 1;
	l->direct = d;
	return 0;
}

RINGO_EXTERN int ringo_fs_register_fd(ringo_loop_t *loop, int fd)
{
	struct ringo__loop *l;
	struct ringo__direct *d;
	unsigned slot;
	int ret;

	if (!loop || !(L(loop)->state & LOOP_READY))
		return -EINVAL;
	if (fd < 0 || ringo_fs_is_direct(fd))
		return -EBADF;
	l = L(loop);
	if (!l->direct && (ret = table_init(l)) < 0)
		return ret;
	d = l->direct;
	if (d->free_head >= d->size)
		return -ENFILE;
	slot = d->free_head;
	ret = ringo_ring_register_files_update(&l->ring, slot, &fd, 1);
	if (ret < 0)
		return ret;
	if (ret != 1)
		return -EBADF;
	d->free_head = d->next[slot];
	d->next[slot] = SLOT_USED;
	return (int)(RINGO_FS_DIRECT_BIT | slot);
}

RINGO_EXTERN int ringo_fs_unregister_fd(ringo_loop_t *loop, int direct)
{
	struct ringo__direct *d;
	unsigned slot = (unsigned)direct & ~RINGO_FS_DIRECT_BIT;
	int none = -1, ret;

	if (!loop || !(L(loop)->state & LOOP_READY))
		return -EINVAL;
	d = L(loop)->direct;
	if (!ringo_fs_is_direct(direct) || !d || slot >= d->size || d->next[slot] != SLOT_USED)
		return -EBADF;
	/* Ops already submitted hold their own reference to the file: they
	 * finish normally; later ones on this slot get -EBADF. */
	ret = ringo_ring_register_files_update(&L(loop)->ring, slot, &none, 1);
	if (ret < 0)
		return ret;
	d->next[slot] = d->free_head;
	d->free_head = slot;
	return 0;
}

void ringo__fs_direct_free(ringo_loop_t *loop)
{
	free(L(loop)->direct);
	L(loop)->direct = NULL;
}

void ringo__fs_sqe_fd(struct ringo_sqe *sqe, int fd)
{
	if (ringo_fs_is_direct(fd)) {
		sqe->fd = fd & ~RINGO_FS_DIRECT_BIT;
		sqe->flags |= RINGO_SQE_FIXED_FILE;
	}
}
