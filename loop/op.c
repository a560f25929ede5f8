/* SPDX-License-Identifier: MIT */
/*
 * Operation records: the pool they come from, the id table that maps a CQE's
 * user_data back to its record, the overflow queue for ops that find the SQ
 * full, dispatch of CQEs, and cancellation.
 *
 * Invariants:
 *  - a record is in the table from ringo__op_new until its last CQE (or its
 *    local abort) has been handled; its id is never handed out again;
 *  - ops leave the overflow queue in the order they entered it, and while
 *    it is non-empty new ops queue behind it, so submission order holds;
 *  - records are freed only to the pool; slabs go back to libc at close;
 *  - an op that finds the SQ full waits with its SQE in a staged entry from
 *    a second pool. That pool grows by slabs and never shrinks: it holds at
 *    most as many entries as ops were ever queued at once (plus a slab), so
 *    its bound is the peak of queued ops, itself bounded by live records.
 */
#include <stdlib.h>
#include <string.h>

#include "loop_internal.h"

#define SLAB_OPS 64	/* records per slab: one malloc per 64 ops in flight at peak */
#define SLAB_STAGED 16	/* staged SQEs per slab: the overflow path is rare */
#define STAGED_RESERVE 2 /* an op and its link timeout are staged together */

struct slab {
	struct slab *next;
	struct ringo__op ops[SLAB_OPS];
};

struct staged_slab {
	struct staged_slab *next;
	struct ringo__staged staged[SLAB_STAGED];
};

static void put_staged(struct ringo__loop *l, struct ringo__staged *st)
{
	st->next_free = l->free_staged;
	l->free_staged = st;
	l->staged_spare++;
}

static int grow_staged(struct ringo__loop *l)
{
	struct staged_slab *s = malloc(sizeof(*s));
	int i;

	if (!s)
		return -ENOMEM;
	s->next = l->staged_slabs;
	l->staged_slabs = s;
	for (i = SLAB_STAGED - 1; i >= 0; i--)
		put_staged(l, &s->staged[i]);
	return 0;
}

int ringo__ops_init(ringo_loop_t *loop)
{
	struct ringo__loop *l = L(loop);

	l->ops = NULL;
	l->free_ops = NULL;
	l->slabs = NULL;
	l->free_staged = NULL;
	l->staged_spare = 0;
	l->staged_slabs = NULL;
	l->next_id = RINGO__ID_FIRST;
	memset(&l->sentinel, 0, sizeof(l->sentinel));
	l->sentinel.id = RINGO__ID_SENTINEL;
	HASH_ADD(hh, l->ops, id, sizeof(uint64_t), &l->sentinel);
	if (!l->ops)
		return -ENOMEM;
	queue_init(&l->overflow);
	queue_init(&l->aborted);
	return grow_staged(l);
}

void ringo__ops_free(ringo_loop_t *loop)
{
	struct ringo__loop *l = L(loop);
	struct slab *s = l->slabs, *next;
	struct staged_slab *ss = l->staged_slabs, *ss_next;

	HASH_CLEAR(hh, l->ops);
	for (; s; s = next) {
		next = s->next;
		free(s);
	}
	for (; ss; ss = ss_next) {
		ss_next = ss->next;
		free(ss);
	}
	l->slabs = NULL;
	l->free_ops = NULL;
	l->staged_slabs = NULL;
	l->free_staged = NULL;
	l->staged_spare = 0;
}

static void push_free(struct ringo__loop *l, struct ringo__op *op)
{
	op->state = RINGO__OP_FREE;
	op->next_free = l->free_ops;
	l->free_ops = op;
}

static int grow(struct ringo__loop *l)
{
	struct slab *s = malloc(sizeof(*s));
	int i;

	if (!s)
		return -ENOMEM;
	s->next = l->slabs;
	l->slabs = s;
	for (i = SLAB_OPS - 1; i >= 0; i--)
		push_free(l, &s->ops[i]);
	return 0;
}

struct ringo__op *ringo__op_new(ringo_loop_t *loop, ringo__complete_fn complete, void *owner,
				ringo_handle_t *handle)
{
	struct ringo__loop *l = L(loop);
	struct ringo__op *op;

	if (!l->free_ops && grow(l))
		return NULL;
	if (l->staged_spare < STAGED_RESERVE && grow_staged(l))
		return NULL;
	op = l->free_ops;
	l->free_ops = op->next_free;
	op->id = l->next_id++;
	op->complete = complete;
	op->owner = owner;
	op->handle = handle;
	op->state = RINGO__OP_INFLIGHT;
	op->counts_active = 0;
	HASH_ADD(hh, l->ops, id, sizeof(uint64_t), op);
	l->live_ops++;
	if (handle)
		handle->inflight++;
	return op;
}

static struct ringo_sqe *stage(struct ringo__loop *l, struct ringo__op *op);

struct ringo__op *ringo__req_op(ringo_loop_t *loop, ringo_req_t *req, int type,
				ringo__complete_fn complete, ringo_handle_t *handle)
{
	struct ringo__op *op = ringo__op_new(loop, complete, req, handle);

	if (!op)
		return NULL;
	op->counts_active = 1;
	L(loop)->active_reqs++;
	req->loop = loop;
	req->type = type;
	req->op_id = op->id;
	req->heap_index = HEAP_NONE;
	req->rflags = 0;
	return op;
}

struct ringo_sqe *ringo__op_sqe(ringo_loop_t *loop, struct ringo__op *op)
{
	struct ringo__loop *l = L(loop);
	struct ringo_sqe *sqe;

	if (queue_empty(&l->overflow)) {
		sqe = ringo_ring_get_sqe(&l->ring);
		if (sqe) {
			sqe->user_data = op->id;
			op->sq_idx = l->ring.sq.sqe_tail - 1;
			return sqe;
		}
	}
	return stage(l, op);
}

static struct ringo_sqe *stage(struct ringo__loop *l, struct ringo__op *op)
{
	struct ringo__staged *st = l->free_staged;

	/* ringo__op_new left at least STAGED_RESERVE spare entries. */
	l->free_staged = st->next_free;
	l->staged_spare--;
	memset(&st->sqe, 0, sizeof(st->sqe));
	st->sqe.user_data = op->id;
	st->op = op;
	op->staged = st;
	op->state = RINGO__OP_QUEUED;
	queue_insert_tail(&l->overflow, &st->q);
	l->metrics.sq_full_waits++;
	return &st->sqe;
}

void ringo__op_sqe_pair(ringo_loop_t *loop, struct ringo__op *a, struct ringo__op *b,
			struct ringo_sqe **sa, struct ringo_sqe **sb)
{
	struct ringo__loop *l = L(loop);

	if (queue_empty(&l->overflow) && ringo_ring_sq_space_left(&l->ring) >= 2) {
		*sa = ringo__op_sqe(loop, a);
		*sb = ringo__op_sqe(loop, b);
		return;
	}
	*sa = stage(l, a);
	*sb = stage(l, b);
}

struct ringo__op *ringo__op_find(ringo_loop_t *loop, uint64_t id)
{
	struct ringo__op *op;

	if (id == RINGO__ID_SENTINEL)
		return NULL;
	HASH_FIND(hh, L(loop)->ops, &id, sizeof(uint64_t), op);
	return op;
}

unsigned ringo__ops_flush_overflow(ringo_loop_t *loop)
{
	struct ringo__loop *l = L(loop);
	struct ringo__staged *st;
	struct ringo_sqe *sqe;
	struct ringo__op *op;

	while (!queue_empty(&l->overflow)) {
		st = container_of(queue_head(&l->overflow), struct ringo__staged, q);
		/* A linked op moves only together with its link timeout. */
		if ((st->sqe.flags & RINGO_SQE_IO_LINK) && ringo_ring_sq_space_left(&l->ring) < 2)
			return 1;
		sqe = ringo_ring_get_sqe(&l->ring);
		if (!sqe)
			return 1;
		queue_remove(&st->q);
		*sqe = st->sqe;
		op = st->op;
		put_staged(l, st);
		op->state = RINGO__OP_INFLIGHT;
		op->sq_idx = l->ring.sq.sqe_tail - 1;
	}
	return 0;
}

/* Out of the table: from here on a CQE for this id is stale. */
static void unlink_op(struct ringo__loop *l, struct ringo__op *op)
{
	HASH_DELETE(hh, l->ops, op);
	l->live_ops--;
	if (op->counts_active)
		l->active_reqs--;
}

static void recycle(struct ringo__loop *l, struct ringo__op *op);

void ringo__op_forget(ringo_loop_t *loop, struct ringo__op *op)
{
	unlink_op(L(loop), op);
	recycle(L(loop), op);
}

static void recycle(struct ringo__loop *l, struct ringo__op *op)
{
	ringo_handle_t *handle = op->handle;

	push_free(l, op);
	if (handle)
		ringo__handle_op_done(handle);
}

/*
 * The record leaves the table before its callback runs, so the callback
 * sees its request as finished (cancel says -ENOENT) and may reuse it.
 */
void ringo__ops_dispatch(ringo_loop_t *loop, const struct ringo_cqe *cqe)
{
	struct ringo__loop *l = L(loop);
	struct ringo__op *op = ringo__op_find(loop, cqe->user_data);
	bool last = !(cqe->flags & RINGO_CQE_F_MORE);

	if (!op) {
		l->metrics.stale_cqes++;
		return;
	}
	l->metrics.completions++;
	if (last)
		unlink_op(l, op);
	op->complete(loop, op, op->state == RINGO__OP_VOIDED ? -ECANCELED : cqe->res, cqe->flags);
	if (last)
		recycle(l, op);
}

bool ringo__ops_run_aborted(ringo_loop_t *loop)
{
	struct ringo__loop *l = L(loop);
	struct ringo__staged *st;
	struct ringo_queue q;
	struct ringo__op *op;
	bool ran = !queue_empty(&l->aborted);

	queue_move(&l->aborted, &q);
	while (!queue_empty(&q)) {
		st = container_of(queue_head(&q), struct ringo__staged, q);
		queue_remove(&st->q);
		op = st->op;
		put_staged(l, st);
		unlink_op(l, op);
		op->complete(loop, op, -ECANCELED, 0);
		recycle(l, op);
	}
	return ran;
}

static void cancel_done(ringo_loop_t *loop, struct ringo__op *op, int res, unsigned flags)
{
	/* 0, -ENOENT (already done) or -EALREADY (running): the target's own
	 * CQE reports the outcome either way. */
	(void)loop;
	(void)op;
	(void)res;
	(void)flags;
}

/*
 * An SQE the kernel has not consumed yet (it is past khead) can still be
 * rewritten: make it a NOP under the same id, so no ASYNC_CANCEL races it
 * and the op reliably ends -ECANCELED. Link flags stay so a linked timeout
 * behind it ends with it. Without SQPOLL khead only moves inside our own
 * io_uring_enter, so the check cannot race; with SQPOLL we never try.
 */
static bool void_unsubmitted(struct ringo__loop *l, struct ringo__op *op)
{
	struct ringo_sq *sq = &l->ring.sq;
	struct ringo_sqe *sqe;
	uint8_t keep;

	if (l->ring.flags & RINGO_SETUP_SQPOLL)
		return false;
	if ((int32_t)(op->sq_idx - *sq->khead) < 0 || (int32_t)(sq->sqe_tail - op->sq_idx) <= 0)
		return false;
	sqe = &sq->sqes[op->sq_idx & sq->ring_mask];
	if (sqe->user_data != op->id)
		return false;
	keep = sqe->flags & (RINGO_SQE_IO_LINK | RINGO_SQE_IO_HARDLINK | RINGO_SQE_IO_DRAIN);
	*sqe = (struct ringo_sqe){ 0 };
	ringo_prep_nop(sqe);
	sqe->flags = keep;
	sqe->user_data = op->id;
	op->state = RINGO__OP_VOIDED;
	return true;
}

static void abort_queued(struct ringo__loop *l, struct ringo__op *op)
{
	queue_remove(&op->staged->q);
	op->state = RINGO__OP_ABORTED;
	queue_insert_tail(&l->aborted, &op->staged->q);
}

int ringo__op_cancel(ringo_loop_t *loop, struct ringo__op *op)
{
	struct ringo__loop *l = L(loop);
	struct ringo__staged *st, *next;
	struct ringo__op *c;

	switch (op->state) {
	case RINGO__OP_QUEUED:
		/* Never reached the kernel: finish it ourselves, from the loop,
		 * and its link timeout with it. */
		st = op->staged;
		next = st->q.next != &l->overflow ? container_of(st->q.next, struct ringo__staged, q)
						   : NULL;
		abort_queued(l, op);
		if ((st->sqe.flags & RINGO_SQE_IO_LINK) && next)
			abort_queued(l, next->op);
		return 0;
	case RINGO__OP_INFLIGHT:
		if (void_unsubmitted(l, op))
			return 0;
		c = ringo__op_new(loop, cancel_done, NULL, NULL);
		if (!c)
			return -ENOMEM;
		ringo_prep_cancel64(ringo__op_sqe(loop, c), op->id, 0);
		op->state = RINGO__OP_CANCELLING;
		return 0;
	default:
		return -EALREADY;
	}
}

/* At loop close only internal ops (wake read, wait timeout) remain. */
void ringo__ops_cancel_all(ringo_loop_t *loop)
{
	struct ringo__op *op, *tmp;

	HASH_ITER(hh, L(loop)->ops, op, tmp) {
		if (op->state == RINGO__OP_INFLIGHT)
			ringo__op_cancel(loop, op);
	}
}
