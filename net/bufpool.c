/* SPDX-License-Identifier: MIT */
/*
 * The loop's receive buffer pools; see net_internal.h for their shapes
 * and bounds. The stream pool is created on the first ringo_read_start,
 * the datagram pool on the first ringo_udp_recv_start that can use it.
 */
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"

static void release_buf(struct ringo__bufpool *p, uint32_t bid)
{
	if (p->br) {
		ringo_buf_ring_add(p->br, ringo__pool_addr(p, bid), p->buf_size,
				   (unsigned short)bid, p->max - 1, 0);
		ringo_buf_ring_advance(p->br, 1);
		p->ring_free++;
	} else {
		p->free[p->nfree++] = bid;
	}
}

int ringo__pool_grow(ringo_loop_t *loop, struct ringo__bufpool *p)
{
	unsigned char *chunk;
	unsigned i;

	if (p->count >= p->max)
		return -ENOBUFS;
	chunk = malloc((size_t)p->chunk * p->buf_size);
	if (!chunk)
		return -ENOMEM;
	p->chunks[p->count / p->chunk] = chunk;
	p->count += p->chunk;
	for (i = p->count - p->chunk; i < p->count; i++)
		release_buf(p, i);
	if (p->bgid == RINGO__POOL_BGID)
		L(loop)->metrics.read_buffers = p->count;
	return 0;
}

static void pool_delete(ringo_loop_t *loop, struct ringo__bufpool *p)
{
	unsigned i;

	if (p->br)
		ringo_ring_free_buf_ring(&L(loop)->ring, p->br, p->max, p->bgid);
	for (i = 0; i < p->count / p->chunk; i++)
		free(p->chunks[i]);
	free(p);
}

/* A pool of `max` buffers of `buf_size` bytes (group `bgid` in ring mode),
 * with its first chunk; NULL when out of memory. */
static struct ringo__bufpool *pool_new(ringo_loop_t *loop, unsigned buf_size, unsigned chunk,
				       unsigned max, unsigned bgid, bool ring, bool ring_only)
{
	struct ringo__loop *l = L(loop);
	struct ringo__bufpool *p = calloc(1, sizeof(*p));
	int err = 0;

	if (!p)
		return NULL;
	p->buf_size = buf_size;
	p->chunk = chunk;
	p->max = max;
	p->bgid = bgid;
	p->read_bid = RINGO__NO_BID;
	ringo_timer_init(loop, &p->wake_timer);
	ringo__handle_hide((ringo_handle_t *)&p->wake_timer);
	if (ring)
		p->br = ringo_ring_setup_buf_ring(&l->ring, max, bgid, 0, NULL, &err);
	/* Multishot receives need a buffer ring (and 6.0; a refusal later
	 * switches it off, see stream_read.c and udp.c). */
	p->multishot = p->br && !(l->flags & RINGO_LOOP_NO_MULTISHOT);
	/* A ring-only pool whose ring the kernel refused stays empty: its
	 * users see !multishot and keep to their single-shot path. */
	if (ring_only && !p->br)
		return p;
	if (ringo__pool_grow(loop, p)) {
		pool_delete(loop, p);
		return NULL;
	}
	return p;
}

struct ringo__bufpool *ringo__pool(ringo_loop_t *loop)
{
	struct ringo__loop *l = L(loop);

	if (!l->bufpool)
		l->bufpool = pool_new(loop, RINGO__POOL_BUF, RINGO__POOL_CHUNK, RINGO__POOL_MAX,
				      RINGO__POOL_BGID, !(l->flags & RINGO_LOOP_NO_BUF_RING), false);
	return l->bufpool;
}

struct ringo__bufpool *ringo__dgram_pool(ringo_loop_t *loop)
{
	struct ringo__loop *l = L(loop);

	if (l->flags & (RINGO_LOOP_NO_BUF_RING | RINGO_LOOP_NO_MULTISHOT))
		return NULL;
	if (!l->dgram_pool)
		l->dgram_pool = pool_new(loop, RINGO__DGRAM_BUF, RINGO__DGRAM_CHUNK,
					 RINGO__DGRAM_MAX, RINGO__DGRAM_BGID, true, true);
	return l->dgram_pool;
}

void ringo__pool_free(ringo_loop_t *loop)
{
	struct ringo__loop *l = L(loop);

	if (l->bufpool)
		pool_delete(loop, l->bufpool);
	if (l->dgram_pool)
		pool_delete(loop, l->dgram_pool);
	l->bufpool = l->dgram_pool = NULL;
}

/* Bounds-checked: a bid the kernel reports outside what we gave is NULL. */
void *ringo__pool_addr(struct ringo__bufpool *p, uint32_t bid)
{
	if (bid >= p->count)
		return NULL;
	return p->chunks[bid / p->chunk] + (size_t)(bid % p->chunk) * p->buf_size;
}

void ringo__pool_recycle(struct ringo__bufpool *p, uint32_t bid)
{
	if (bid < p->count)
		release_buf(p, bid);
}

uint32_t ringo__pool_take(ringo_loop_t *loop, struct ringo__bufpool *p)
{
	if (!p->nfree && ringo__pool_grow(loop, p))
		return RINGO__NO_BID;
	return p->free[--p->nfree];
}
