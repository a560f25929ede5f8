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

/* op.c: a record slab or staged-SQE slab when either runs low, and the
 * id table's doubling when an add asked for it; -ENOMEM. */
int ringo__ops_refill(struct ringo__loop *l);
/* op.c: the op waits for SQ room; its SQE is a staged one. */
struct ringo_sqe *ringo__op_stage(struct ringo__loop *l, struct ringo__op *op);

/*
 * The id table: uthash's table, buckets and handles, HASH_CLEAR, and
 * uthash's bucket doubling (op.c); lookups walk a bucket chain as
 * HASH_FIND_BYHASHVALUE does (ringo__table_find). Adds and deletes work
 * on the bucket chains only, as HASH_ADD_TO_BKT / HASH_DEL_IN_BKT do, but
 * keep no count per bucket and skip uthash's application-order list
 * (hh.prev, hh.next, tbl->tail): nothing walks the table in insertion
 * order, and keeping that list cost a third of every add and delete. So
 * HASH_ITER, HASH_DELETE and HASH_COUNT must not be used on it; the loop
 * counts its records in ids_live. Ids are sequential, so the live ones
 * spread evenly over the buckets and a load factor (RINGO__TABLE_LOAD)
 * is rule enough for doubling: uthash's per-bucket rule would cost a
 * count per bucket on every add and delete.
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

	/* hh.tbl, hh.key and hh.keylen never change: set once per slab. */
	op->hh.hashv = hashv;
	op->hh.hh_prev = NULL;
	op->hh.hh_next = b->hh_head;
	if (b->hh_head)
		b->hh_head->hh_prev = &op->hh;
	b->hh_head = &op->hh;
	/* The doubling waits for the next op's start (ringo__ops_refill): an
	 * add never calls out, so the fast paths built on it need no saved
	 * registers. */
	if (__builtin_expect(++l->ids_live > l->ids_grow_at, 0))
		l->table_grow = 1;
}

RINGO__HOT void ringo__table_del(struct ringo__loop *l, UT_hash_bucket *b, struct ringo__op *op)
{
	UT_hash_handle *hh = &op->hh;

	if (hh->hh_prev)
		hh->hh_prev->hh_next = hh->hh_next;
	else
		b->hh_head = hh->hh_next;
	if (hh->hh_next)
		hh->hh_next->hh_prev = hh->hh_prev;
	l->ids_live--;
}

/*
 * HASH_FIND_BYHASHVALUE's walk of one bucket chain, with what uthash
 * cannot know folded in: every item is a struct ringo__op (a constant
 * offset to the handle, not tbl->hho) and its key is its id (compared
 * directly, not through hh.key after hashv and keylen). The sentinel's id
 * is 0, which is never looked up. The chain's bucket is left in *bp, so
 * a delete that follows need not hash again.
 */
RINGO__HOT struct ringo__op *ringo__table_find_in(const struct ringo__loop *l, uint64_t id,
						  UT_hash_bucket **bp)
{
	const UT_hash_handle *hh;
	struct ringo__op *op;

	if (__builtin_expect(id == RINGO__ID_SENTINEL, 0))
		return NULL;
	*bp = ringo__table_bucket(l, ringo__hash_id(id));
	for (hh = (*bp)->hh_head; hh; hh = hh->hh_next) {
		op = container_of(hh, struct ringo__op, hh);
		if (op->id == id)
			return op;
	}
	return NULL;
}

RINGO__HOT struct ringo__op *ringo__table_find(const struct ringo__loop *l, uint64_t id)
{
	UT_hash_bucket *b;

	return ringo__table_find_in(l, id, &b);
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
	op->handle = handle;
	op->state = RINGO__OP_INFLIGHT;
	op->counts_active = 0;
	ringo__table_add(l, op);
	if (handle)
		handle->inflight++;
	return op;
}

/* No free record, staged SQEs short of the reserve, or the table's
 * doubling due: ringo__ops_refill's work. */
RINGO__HOT bool ringo__op_refill_due(const struct ringo__loop *l)
{
	return !l->free_ops || l->staged_spare < RINGO__STAGED_RESERVE || l->table_grow;
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
 * True when an op can start with no call out of line: no refill due,
 * nobody waiting in the overflow queue and room in the SQ. Fast paths
 * check this once, up front, then use the unchecked ringo__op_claim and
 * ringo__op_sqe_claim.
 */
RINGO__HOT bool ringo__op_room(const struct ringo__loop *l)
{
	return !ringo__op_refill_due(l) && queue_empty(&l->overflow) &&
	       ringo_ring_sq_space_left(&l->ring);
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
