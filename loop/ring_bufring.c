/* SPDX-License-Identifier: MIT */
/*
 * Provided-buffer rings (5.19): mapping and registering a ring of buffer
 * descriptors, and buffer groups that own the buffers behind one ring.
 *
 * Every lookup of "the buffer this CQE names" is bounds-checked against the
 * group: a corrupt or foreign buffer id, or a length larger than a buffer,
 * is -EINVAL and never becomes a pointer outside the group's memory.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ring_internal.h"

#define MAX_BUF_RING_ENTRIES 32768U

static bool valid_count(unsigned entries)
{
	return entries && entries <= MAX_BUF_RING_ENTRIES && !(entries & (entries - 1));
}

static int register_buf_ring(struct ringo_ring *ring, struct ringo_buf_ring *br,
			     unsigned entries, unsigned bgid, unsigned *flags)
{
	struct ringo_buf_reg r;
	int ret;

	memset(&r, 0, sizeof(r));
	r.ring_addr = (uint64_t)(uintptr_t)br;
	r.ring_entries = entries;
	r.bgid = (uint16_t)bgid;
	r.flags = (uint16_t)*flags;
	ret = ringo__sys_register(ring->fd, RINGO_REGISTER_PBUF_RING, &r, 1);
	/* Incremental consumption arrived in 6.12; older kernels say EINVAL. */
	if (ret == -EINVAL && (*flags & RINGO_PBUF_RING_INC)) {
		*flags &= ~RINGO_PBUF_RING_INC;
		r.flags = (uint16_t)*flags;
		ret = ringo__sys_register(ring->fd, RINGO_REGISTER_PBUF_RING, &r, 1);
	}
	return ret;
}

RINGO_EXTERN struct ringo_buf_ring *ringo_ring_setup_buf_ring(struct ringo_ring *ring,
							       unsigned entries, unsigned bgid,
							       unsigned flags, unsigned *flags_out,
							       int *err)
{
	struct ringo_buf_ring *br;
	size_t len = (size_t)entries * sizeof(struct ringo_buf);
	int dummy, ret;

	if (!err)
		err = &dummy;
	if (!ring || !ring->sq.ring_ptr || !valid_count(entries) || bgid > UINT16_MAX ||
	    (flags & ~RINGO_PBUF_RING_INC)) {
		*err = -EINVAL;
		return NULL;
	}
	/* The kernel wants the ring page-aligned: anonymous mmap gives that. */
	br = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (br == MAP_FAILED) {
		*err = -ENOMEM;
		return NULL;
	}
	ringo_buf_ring_init(br);
	ret = register_buf_ring(ring, br, entries, bgid, &flags);
	if (ret < 0) {
		munmap(br, len);
		*err = ret;
		return NULL;
	}
	if (flags_out)
		*flags_out = flags;
	*err = 0;
	return br;
}

RINGO_EXTERN int ringo_ring_free_buf_ring(struct ringo_ring *ring, struct ringo_buf_ring *br,
					  unsigned entries, unsigned bgid)
{
	struct ringo_buf_reg r;
	int ret;

	if (!ring || !ring->sq.ring_ptr || !br || !valid_count(entries) || bgid > UINT16_MAX)
		return -EINVAL;
	memset(&r, 0, sizeof(r));
	r.bgid = (uint16_t)bgid;
	ret = ringo__sys_register(ring->fd, RINGO_UNREGISTER_PBUF_RING, &r, 1);
	munmap(br, (size_t)entries * sizeof(struct ringo_buf));
	return ret < 0 ? ret : 0;
}

RINGO_EXTERN int ringo_buf_slice(void *base, unsigned entries, unsigned buf_size, unsigned bid,
				 unsigned len, void **out)
{
	if (!base || !out || bid >= entries || len > buf_size)
		return -EINVAL;
	*out = (unsigned char *)base + (size_t)bid * buf_size;
	return 0;
}

static void *buffer_at(const struct ringo_buf_group *bg, unsigned bid)
{
	return bg->base + (size_t)bid * bg->buf_size;
}

RINGO_EXTERN int ringo_buf_group_init(struct ringo_buf_group *bg, struct ringo_ring *ring,
				      unsigned bgid, unsigned buf_size, unsigned count,
				      unsigned flags)
{
	size_t bytes = (size_t)buf_size * count;
	unsigned i, mask = ringo_buf_ring_mask(count);
	int ret;

	if (!bg)
		return -EINVAL;
	memset(bg, 0, sizeof(*bg));
	if (!ring || !buf_size || !valid_count(count) || bgid > UINT16_MAX)
		return -EINVAL;
	bg->base = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (bg->base == MAP_FAILED) {
		bg->base = NULL;
		return -ENOMEM;
	}
	bg->br = ringo_ring_setup_buf_ring(ring, count, bgid, flags, &bg->flags, &ret);
	if (!bg->br)
		goto err;
	if (bg->flags & RINGO_PBUF_RING_INC) {
		bg->heads = calloc(count, sizeof(*bg->heads));
		ret = -ENOMEM;
		if (!bg->heads)
			goto err;
	}
	bg->ring = ring;
	bg->buf_size = buf_size;
	bg->count = count;
	bg->bgid = (uint16_t)bgid;
	for (i = 0; i < count; i++)
		ringo_buf_ring_add(bg->br, buffer_at(bg, i), buf_size, (unsigned short)i, mask, i);
	ringo_buf_ring_advance(bg->br, count);
	return 0;
err:
	if (bg->br)
		ringo_ring_free_buf_ring(ring, bg->br, count, bgid);
	munmap(bg->base, bytes);
	memset(bg, 0, sizeof(*bg));
	return ret;
}

RINGO_EXTERN void ringo_buf_group_exit(struct ringo_buf_group *bg)
{
	if (!bg || !bg->br)
		return;
	ringo_ring_free_buf_ring(bg->ring, bg->br, bg->count, bg->bgid);
	munmap(bg->base, (size_t)bg->buf_size * bg->count);
	free(bg->heads);
	memset(bg, 0, sizeof(*bg));
}

RINGO_EXTERN int ringo_buf_group_buffer(const struct ringo_buf_group *bg, unsigned bid,
					unsigned len, void **out)
{
	if (!bg)
		return -EINVAL;
	return ringo_buf_slice(bg->base, bg->count, bg->buf_size, bid, len, out);
}

/*
 * With incremental consumption the kernel fills a buffer piece by piece; the
 * data of each CQE starts where the previous one ended (heads[bid]).
 */
RINGO_EXTERN int ringo_buf_group_cqe_data(const struct ringo_buf_group *bg,
					  const struct ringo_cqe *cqe, void **out, unsigned *len)
{
	unsigned bid, head;
	void *buf;

	if (!bg || !bg->br || !cqe || !out || !len)
		return -EINVAL;
	if (!(cqe->flags & RINGO_CQE_F_BUFFER) || cqe->res < 0)
		return -EINVAL;
	bid = ringo_cqe_buffer_id(cqe);
	if (bid >= bg->count)
		return -EINVAL;
	head = bg->heads ? bg->heads[bid] : 0;
	if ((unsigned)cqe->res > bg->buf_size - head)
		return -EINVAL;
	buf = buffer_at(bg, bid);
	*out = (unsigned char *)buf + head;
	*len = (unsigned)cqe->res;
	return 0;
}

RINGO_EXTERN int ringo_buf_group_recycle(struct ringo_buf_group *bg, unsigned bid)
{
	if (!bg || !bg->br || bid >= bg->count)
		return -EINVAL;
	if (bg->heads)
		bg->heads[bid] = 0;
	ringo_buf_ring_add(bg->br, buffer_at(bg, bid), bg->buf_size, (unsigned short)bid,
			   ringo_buf_ring_mask(bg->count), 0);
	ringo_buf_ring_advance(bg->br, 1);
	return 0;
}

RINGO_EXTERN int ringo_buf_group_put(struct ringo_buf_group *bg, const struct ringo_cqe *cqe)
{
	void *data;
	unsigned len;
	int ret = ringo_buf_group_cqe_data(bg, cqe, &data, &len);

	if (ret)
		return ret;
	/* The kernel keeps filling this buffer: it is not ours to give back. */
	if (cqe->flags & RINGO_CQE_F_BUF_MORE) {
		if (bg->heads)
			bg->heads[ringo_cqe_buffer_id(cqe)] += len;
		return 0;
	}
	return ringo_buf_group_recycle(bg, ringo_cqe_buffer_id(cqe));
}
