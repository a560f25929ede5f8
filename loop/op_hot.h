/* SPDX-License-Identifier: MIT */
/*
 * The per-operation fast path of the op records, as always-inlined pieces:
 * the id table (uthash) add/find/delete, taking a record from the free
 * list, filling a request's op fields and getting the op's SQE. op.c
 * builds its entry points from them, and raw.c inlines them into
 * ringo_nop and ringo_submit, so submitting a raw op makes no call into
 * the record code at all. The rare sides (growing a slab, staging an SQE
 * when the SQ is full) stay out of line in op.c.
 */
#ifndef RINGO_OP_HOT_H
#define RINGO_OP_HOT_H

#include "loop_internal.h"

#define RINGO__HOT static inline __attribute__((always_inline))

/* An op and the link timeout taken with it are staged together. */
#define RINGO__STAGED_RESERVE 2

/* op.c: a record slab or staged-SQE slab when either runs low (and the id
 * table's doubling when the records outgrow it); -ENOMEM. */
int ringo__ops_refill(struct ringo__loop *l);
/* op.c: the op waits for SQ room; its SQE is a staged one. */
struct ringo_sqe *ringo__op_stage(struct ringo__loop *l, struct ringo__op *op);

/*
 * The id table: uthash's table, buckets and handles, HASH_CLEAR, and
 * uthash's bucket doubling (op.c); lookups walk a bucket chain as
 * HASH_FIND_BYHASHVALUE does (ringo__table_find_in). Adds and deletes work
 * on the bucket chains only, as HASH_ADD_TO_BKT / HASH_DEL_IN_BKT do, with
 * three things left out that cost more than they give here:
 *  - uthash's application-order list (hh.prev, hh.next, tbl->tail):
 *    nothing walks the table in insertion order, and keeping that list
 *    cost a third of every add and delete;
 *  - the count per bucket: ids are sequential, so the live ones spread
 *    evenly over the buckets and a load factor (RINGO__TABLE_LOAD) is rule
 *    enough for doubling; op.c checks it when it hands out a new batch of
 *    records, since there are never more live ids than records;
 *  - hh.hh_prev: a chain is unlinked through the link that points at the
 *    op, found by the walk that finds the op anyway (dispatch) or by one
 *    more walk of a chain that is about one long. hh_prev is stale: uthash's
 *    doubling writes it and nothing reads it.
 * So HASH_ITER, HASH_DELETE, HASH_COUNT and HASH_ADD must not be used on
 * it; the loop counts its records in ids_live.
 *
 * The sentinel (ringo__ops_init) keeps the table allocated, so l->ops is
 * always &l->sentinel and its handle's tbl is the table. Its key is zero
 * bytes long, so HASH_FIND never matches it either.
 */
/* HASH_TO_BKT, from the bucket array and mask the loop keeps. */
RINGO__HOT UT_hash_bucket *ringo__table_bucket(const struct ringo__loop *l, unsigned hashv)
{
	return &l->id_buckets[hashv & l->id_mask];
}

RINGO__HOT void ringo__table_add(struct ringo__loop *l, struct ringo__op *op)
{
	unsigned hashv = ringo__hash_id(op->id);
	UT_hash_bucket *b = ringo__table_bucket(l, hashv);

	/* hh.tbl, hh.key and hh.keylen never change: set once per slab.
	 * hh.hashv is set by op.c just before a doubling, its only reader. */
	op->hh.hh_next = b->hh_head;
	b->hh_head = &op->hh;
	l->ids_live++;
}

/* Unlink op; *link points at it. */
RINGO__HOT void ringo__table_del(struct ringo__loop *l, UT_hash_handle **link,
				 const struct ringo__op *op)
{
	*link = op->hh.hh_next;
	l->ids_live--;
}

/* The link that points at op, which is in the table. */
RINGO__HOT UT_hash_handle **ringo__table_link(const struct ringo__loop *l,
					      const struct ringo__op *op)
{
	UT_hash_handle **link = &ringo__table_bucket(l, ringo__hash_id(op->id))->hh_head;

	while (*link != &op->hh)
		link = &(*link)->hh_next;
	return link;
}

/*
 * HASH_FIND_BYHASHVALUE's walk of one bucket chain, with what uthash
 * cannot know folded in: every item is a struct ringo__op (a constant
 * offset to the handle, not tbl->hho) and its key is its id (compared
 * directly, not through hh.key after hashv and keylen). The sentinel's id
 * is 0, which is never looked up. The link that points at the op is left
 * in *linkp, so a delete that follows need not walk again.
 */
RINGO__HOT struct ringo__op *ringo__table_find_in(const struct ringo__loop *l, uint64_t id,
						  UT_hash_handle ***linkp)
{
	UT_hash_handle **link, *hh;
	struct ringo__op *op;

	if (__builtin_expect(id == RINGO__ID_SENTINEL, 0))
		return NULL;
	link = &ringo__table_bucket(l, ringo__hash_id(id))->hh_head;
	for (; (hh = *link); link = &hh->hh_next) {
		op = container_of(hh, struct ringo__op, hh);
		if (op->id == id) {
			*linkp = link;
			return op;
		}
	}
	return NULL;
}

RINGO__HOT struct ringo__op *ringo__table_find(const struct ringo__loop *l, uint64_t id)
{
	UT_hash_handle **link;

	return ringo__table_find_in(l, id, &link);
}

/* A record from the free list, in the table; the caller checked the list. */
RINGO__HOT struct ringo__op *ringo__op_claim(struct ringo__loop *l, ringo__complete_fn complete,
					     void *owner, ringo_handle_t *handle)
{
	struct ringo__op *op = l->free_ops;

	l->free_ops = op->next_free;
	op->id = l->next_id++;
	op->complete = complete;
	op->owner = owner;
	op->state = RINGO__OP_INFLIGHT;
	op->counts_active = 0;
	ringo__table_add(l, op);
	/* A free record's handle is NULL (recycle), so a raw op stores none. */
	if (handle) {
		op->handle = handle;
		handle->inflight++;
	}
	return op;
}

/* No free record, or staged SQEs short of the reserve: ringo__ops_refill's
 * work. */
RINGO__HOT bool ringo__op_refill_due(const struct ringo__loop *l)
{
	return !l->free_ops || l->staged_spare < RINGO__STAGED_RESERVE;
}

/* A fresh record in the table, or NULL when a slab could not be had. */
RINGO__HOT struct ringo__op *ringo__op_take(struct ringo__loop *l, ringo__complete_fn complete,
					    void *owner, ringo_handle_t *handle)
{
	if (__builtin_expect(ringo__op_refill_due(l), 0) && ringo__ops_refill(l))
		return NULL;
	return ringo__op_claim(l, complete, owner, handle);
}

/* The request owns the op: counted active until its last CQE. */
RINGO__HOT void ringo__op_req_fill(struct ringo__loop *l, struct ringo__op *op,
				   ringo_loop_t *loop, ringo_req_t *req, int type)
{
	op->counts_active = 1;
	l->active_reqs++;
	req->loop = loop;
	req->type = type;
	req->op_id = op->id;
	req->heap_index = HEAP_NONE;
	req->rflags = 0;
}

/*
 * The fast paths' SQ gate: they take ring SQEs while sqe_tail is short of
 * l->sq_limit. The limit never lies above the ring's real end (khead +
 * entries, and khead only grows), so a stale one is merely cautious; and
 * it is closed (set to sqe_tail) while ops wait in the overflow queue or
 * the staged-SQE reserve is short, so one compare stands for three tests.
 * Slow paths take SQEs by the ring's own count and may pass the limit,
 * hence the signed difference. Opened again after each enter and when the
 * overflow queue drains.
 */
RINGO__HOT void ringo__op_room_refresh(struct ringo__loop *l)
{
	const struct ringo_sq *sq = &l->ring.sq;

	if (queue_empty(&l->overflow) && l->staged_spare >= RINGO__STAGED_RESERVE)
		l->sq_limit = __atomic_load_n(sq->khead, __ATOMIC_ACQUIRE) + sq->ring_entries;
	else
		l->sq_limit = sq->sqe_tail;
}

/*
 * True when an op can start with no call out of line: a free record, and
 * the SQ gate open (room in the SQ, nobody waiting in the overflow queue,
 * the staged reserve full). Fast paths check this once, up front, then
 * use the unchecked ringo__op_claim and ringo__op_sqe_claim.
 */
RINGO__HOT bool ringo__op_room(const struct ringo__loop *l)
{
	return l->free_ops && (int)(l->sq_limit - l->ring.sq.sqe_tail) > 0;
}

/* The next SQE of the ring, zeroed, for an op; the caller checked room. */
RINGO__HOT struct ringo_sqe *ringo__op_sqe_claim(struct ringo__loop *l, struct ringo__op *op)
{
	struct ringo_sq *sq = &l->ring.sq;
	struct ringo_sqe *sqe = &sq->sqes[sq->sqe_tail & sq->ring_mask];

	*sqe = (struct ringo_sqe){ .user_data = op->id };
	sq->sqe_tail++;
	return sqe;
}

/* The op's SQE, user_data set: from the ring unless the op must wait. */
RINGO__HOT struct ringo_sqe *ringo__op_get_sqe(struct ringo__loop *l, struct ringo__op *op)
{
	struct ringo_sqe *sqe;

	/* Behind a non-empty overflow queue, an op waits its turn. */
	if (__builtin_expect(queue_empty(&l->overflow), 1)) {
		sqe = ringo_ring_get_sqe(&l->ring);
		if (__builtin_expect(sqe != NULL, 1)) {
			sqe->user_data = op->id;
			return sqe;
		}
	}
	return ringo__op_stage(l, op);
}

#endif
