/* SPDX-License-Identifier: MIT */
/*
 * The loop's receive buffer pool; see net_internal.h for its shape and
 * bound. Created on the first ringo_read_start.
 */
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"

static void release_buf(struct ringo__bufpool *p, uint32_t bid)
{
	if (p->br) {
		ringo_buf_ring_add(p->br, ringo__pool_addr(p, bid), RINGO__POOL_BUF,
				   (unsigned short)bid, RINGO__POOL_MAX - 1, 0);
		ringo_buf_ring_advance(p->br, 1);
	} else {
		p->free[p->nfree++] = bid;
	}
}

int ringo__pool_grow(ringo_loop_t *loop, struct ringo__bufpool *p)
{
	unsigned char *chunk;
	unsigned i;

	(void)loop;
	if (p->count >= RINGO__POOL_MAX)
		return -ENOBUFS;
	chunk = malloc((size_t)RINGO__POOL_CHUNK * RINGO__POOL_BUF);
	if (!chunk)
		return -ENOMEM;
	p->chunks[p->count / RINGO__POOL_CHUNK] = chunk;
	p->count += RINGO__POOL_CHUNK;
	for (i = p->count - RINGO__POOL_CHUNK; i < p->count; i++)
		release_buf(p, i);
	return 0;
}

struct ringo__bufpool *ringo__pool(ringo_loop_t *loop)
{
	struct ringo__loop *l = L(loop);
	struct ringo__bufpool *p = l->bufpool;
	int err = 0;

	if (p)
		return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	if (!(l->flags & RINGO_LOOP_NO_BUF_RING))
		p->br = ringo_ring_setup_buf_ring(&l->ring, RINGO__POOL_MAX, RINGO__POOL_BGID, 0,
						  NULL, &err);
	/* Multishot recv needs a buffer ring (and 6.0; a refusal later
	 * switches it off, see stream_read.c). */
	p->multishot = p->br && !(l->flags & RINGO_LOOP_NO_MULTISHOT);
	queue_init(&p->waiters);
	if (ringo__pool_grow(loop, p)) {
		if (p->br)
			ringo_ring_free_buf_ring(&l->ring, p->br, RINGO__POOL_MAX, RINGO__POOL_BGID);
		free(p);
		return NULL;
	}
	l->bufpool = p;
	return p;
}

void ringo__pool_free(ringo_loop_t *loop)
{
	struct ringo__loop *l = L(loop);
	struct ringo__bufpool *p = l->bufpool;
	unsigned i;

	if (!p)
		return;
	if (p->br)
		ringo_ring_free_buf_ring(&l->ring, p->br, RINGO__POOL_MAX, RINGO__POOL_BGID);
	for (i = 0; i < p->count / RINGO__POOL_CHUNK; i++)
		free(p->chunks[i]);
	free(p);
	l->bufpool = NULL;
}

/* Bounds-checked: a bid the kernel reports outside what we gave is NULL. */
void *ringo__pool_addr(struct ringo__bufpool *p, uint32_t bid)
{
	if (bid >= p->count)
		return NULL;
	return p->chunks[bid / RINGO__POOL_CHUNK] + (size_t)(bid % RINGO__POOL_CHUNK) * RINGO__POOL_BUF;
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
