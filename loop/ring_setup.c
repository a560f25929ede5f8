/* SPDX-License-Identifier: MIT */
/*
 * Ring set-up and tear-down: io_uring_setup(2), mapping the SQ ring, CQ ring
 * and SQE array, and unmapping them again. A failed set-up unwinds through
 * one path and leaves nothing mapped or open.
 */
#include <assert.h>
#include <string.h>
#include <sys/mman.h>

#include "ring_internal.h"

/*
 * Flags this binding does not map: 128-byte SQEs and 32-byte CQEs change the
 * entry stride the inline helpers assume; NO_MMAP and REGISTERED_FD_ONLY
 * change who owns the memory and the fd. Refused up front rather than
 * half-supported.
 */
#define UNSUPPORTED_SETUP                                                                      \
	(RINGO_SETUP_SQE128 | RINGO_SETUP_CQE32 | RINGO_SETUP_NO_MMAP |                        \
	 RINGO_SETUP_REGISTERED_FD_ONLY)

static int check_args(const struct ringo_ring *ring, unsigned entries,
		      const struct ringo_params *p)
{
	if (!ring || !p)
		return -EINVAL;
	if (entries == 0 || (entries & (entries - 1)))
		return -EINVAL;
	if (entries > RINGO_RING_MAX_ENTRIES && !(p->flags & RINGO_SETUP_CLAMP))
		return -EINVAL;
	if (p->flags & UNSUPPORTED_SETUP)
		return -EINVAL;
	/* The kernel fills these; stale values mean a reused params struct. */
	if (p->sq_entries || p->features || p->resv[0] || p->resv[1] || p->resv[2])
		return -EINVAL;
	return 0;
}

static void *map(size_t len, int fd, unsigned long long off)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
		       (off_t)off);

	return p == MAP_FAILED ? NULL : p;
}

static void *at(void *base, unsigned off)
{
	return (char *)base + off;
}

/*
 * Since 5.4 (RINGO_FEAT_SINGLE_MMAP) one mapping serves both rings; before
 * that the CQ ring is mapped on its own. The SQE array is always separate.
 */
static int map_rings(struct ringo_ring *ring, const struct ringo_params *p)
{
	struct ringo_sq *sq = &ring->sq;
	struct ringo_cq *cq = &ring->cq;
	void *cq_base;

	sq->ring_sz = p->sq_off.array + p->sq_entries * sizeof(unsigned);
	cq->ring_sz = p->cq_off.cqes + p->cq_entries * sizeof(struct ringo_cqe);
	if (p->features & RINGO_FEAT_SINGLE_MMAP) {
		if (cq->ring_sz > sq->ring_sz)
			sq->ring_sz = cq->ring_sz;
		cq->ring_sz = 0;
	}
	sq->ring_ptr = map(sq->ring_sz, ring->fd, RINGO_OFF_SQ_RING);
	if (!sq->ring_ptr)
		return -errno;
	cq_base = sq->ring_ptr;
	if (cq->ring_sz) {
		cq->ring_ptr = map(cq->ring_sz, ring->fd, RINGO_OFF_CQ_RING);
		if (!cq->ring_ptr)
			return -errno;
		cq_base = cq->ring_ptr;
	}
	sq->sqes_sz = p->sq_entries * sizeof(struct ringo_sqe);
	sq->sqes = map(sq->sqes_sz, ring->fd, RINGO_OFF_SQES);
	if (!sq->sqes)
		return -errno;

	sq->khead = at(sq->ring_ptr, p->sq_off.head);
	sq->ktail = at(sq->ring_ptr, p->sq_off.tail);
	sq->kflags = at(sq->ring_ptr, p->sq_off.flags);
	sq->kdropped = at(sq->ring_ptr, p->sq_off.dropped);
	sq->ring_mask = *(unsigned *)at(sq->ring_ptr, p->sq_off.ring_mask);
	sq->ring_entries = *(unsigned *)at(sq->ring_ptr, p->sq_off.ring_entries);
	if (!(p->flags & RINGO_SETUP_NO_SQARRAY))
		sq->array = at(sq->ring_ptr, p->sq_off.array);

	cq->khead = at(cq_base, p->cq_off.head);
	cq->ktail = at(cq_base, p->cq_off.tail);
	cq->kflags = p->cq_off.flags ? at(cq_base, p->cq_off.flags) : NULL;
	cq->koverflow = at(cq_base, p->cq_off.overflow);
	cq->cqes = at(cq_base, p->cq_off.cqes);
	cq->ring_mask = *(unsigned *)at(cq_base, p->cq_off.ring_mask);
	cq->ring_entries = *(unsigned *)at(cq_base, p->cq_off.ring_entries);
	return 0;
}

static void unmap_rings(struct ringo_ring *ring)
{
	if (ring->sq.sqes)
		munmap(ring->sq.sqes, ring->sq.sqes_sz);
	if (ring->cq.ring_ptr)
		munmap(ring->cq.ring_ptr, ring->cq.ring_sz);
	if (ring->sq.ring_ptr)
		munmap(ring->sq.ring_ptr, ring->sq.ring_sz);
}

/*
 * SQ slot i always holds SQE i, so the index array is written once here and
 * flushing only has to move the tail.
 */
static void fill_identity_array(struct ringo_sq *sq)
{
	unsigned i;

	if (!sq->array)
		return;
	for (i = 0; i < sq->ring_entries; i++)
		sq->array[i] = i;
}

RINGO_EXTERN int ringo_ring_init_params(struct ringo_ring *ring, unsigned entries,
					struct ringo_params *p)
{
	int ret = check_args(ring, entries, p), saved_errno = errno;

	if (ret)
		return ret;
	memset(ring, 0, sizeof(*ring));
	ring->fd = ringo__sys_setup(entries, p);
	if (ring->fd < 0) {
		ret = ring->fd;
		goto err;
	}
	ring->enter_fd = ring->fd;
	ring->flags = p->flags;
	ring->features = p->features;
	ret = map_rings(ring, p);
	if (ret)
		goto err;
	fill_identity_array(&ring->sq);

	assert(ring->sq.ring_entries == p->sq_entries);
	assert(ring->cq.ring_entries == p->cq_entries);
	assert(*ring->sq.khead == 0 && *ring->sq.ktail == 0);
	assert(*ring->cq.khead == 0 && *ring->cq.ktail == 0);
	return 0;
err:
	unmap_rings(ring);
	if (ring->fd >= 0)
		close(ring->fd);
	memset(ring, 0, sizeof(*ring));
	ring->fd = -1;
	/* A failed mmap set errno; ringo reports through ret only. */
	errno = saved_errno;
	return ret;
}

RINGO_EXTERN int ringo_ring_init(struct ringo_ring *ring, unsigned entries, unsigned flags)
{
	struct ringo_params p;

	memset(&p, 0, sizeof(p));
	p.flags = flags;
	return ringo_ring_init_params(ring, entries, &p);
}

/*
 * The mapping, not the fd, says whether a ring is live: a zeroed struct has
 * fd 0, which is somebody's stdin.
 */
RINGO_EXTERN void ringo_ring_exit(struct ringo_ring *ring)
{
	if (!ring || !ring->sq.ring_ptr)
		return;
	/* A registered ring fd holds a reference to the ring: the ring would
	 * live on until this thread exits. */
	if (ring->enter_flags & RINGO_ENTER_REGISTERED_RING)
		ringo_ring_unregister_ring_fd(ring);
	unmap_rings(ring);
	close(ring->fd);
	memset(ring, 0, sizeof(*ring));
	ring->fd = -1;
}

RINGO_EXTERN unsigned ringo_ring_features(const struct ringo_ring *ring)
{
	return ring ? ring->features : 0;
}
