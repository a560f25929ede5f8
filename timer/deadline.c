/* SPDX-License-Identifier: MIT */
/*
 * Deadlines on operations, and the loop's wait timeout where the kernel
 * cannot carry one in io_uring_enter.
 *
 * Two ways to bound an op:
 *  - single SQE, known at submit: link it (IOSQE_IO_LINK) to a
 *    LINK_TIMEOUT SQE. The kernel cancels the op when the time passes; the
 *    op's CQE then says -ECANCELED, which we report as -ETIMEDOUT unless
 *    the user cancelled it. The pair is always placed in the SQ together:
 *    a chain split across two submits loses its timeout.
 *  - anything already in flight (multishot ops too): an entry in the
 *    loop's deadline heap that, when due, cancels the op and marks the
 *    request so its -ECANCELED is reported as -ETIMEDOUT. The heap is its
 *    own, apart from the timer buckets: a request has one 32-bit private
 *    field for it (heap_index), and deadlines are few next to timers.
 *    ringo__timers_run fires both in deadline order.
 */
#include <string.h>

#include "loop_internal.h"

static void noop_complete(ringo_loop_t *loop, struct ringo__op *op, int res, unsigned flags)
{
	/* Link timeouts report -ETIME or -ECANCELED; the op's own CQE is
	 * what the user hears about. */
	(void)loop;
	(void)op;
	(void)res;
	(void)flags;
}

static void ms_to_ts(struct ringo_timespec *ts, uint64_t ms)
{
	ts->tv_sec = (int64_t)(ms / 1000);
	ts->tv_nsec = (long long)(ms % 1000) * 1000000LL;
}

/* Append a LINK_TIMEOUT of `ms` behind the SQE of `op` (already linked). */
int ringo__link_timeout(ringo_loop_t *loop, struct ringo__op *op, struct ringo_sqe **sqe,
			uint64_t ms)
{
	struct ringo__op *lt = ringo__op_new(loop, noop_complete, NULL, NULL);
	struct ringo_sqe *lsqe;

	if (!lt)
		return -ENOMEM;
	ms_to_ts(&lt->ts, ms);
	ringo__op_sqe_pair(loop, op, lt, sqe, &lsqe);
	ringo_prep_link_timeout(lsqe, &lt->ts, 0);
	(*sqe)->flags |= RINGO_SQE_IO_LINK;
	return 0;
}

static void set_index(void *ptr, uint32_t index)
{
	((ringo_req_t *)ptr)->heap_index = index;
}

/* Equal deadlines fire in the order they were set (seq). */
static int req_deadline_set(ringo_req_t *req, uint64_t ms)
{
	struct ringo__loop *l = L(req->loop);
	struct heap_ent e = {
		.deadline = deadline_after(ringo__now(l), ms),
		.seq = l->deadline_seq++,
		.ptr = req,
	};
	int ret;

	ringo__req_deadline_clear(req);
	ret = heap_push(&l->deadlines, &e, set_index);
	if (ret)
		return ret;
	req->rflags |= REQ_DEADLINE;
	return 0;
}

void ringo__req_deadline_clear(ringo_req_t *req)
{
	if (!(req->rflags & REQ_DEADLINE))
		return;
	if (req->heap_index != HEAP_NONE)
		heap_remove(&L(req->loop)->deadlines, req->heap_index, set_index);
	req->rflags &= ~REQ_DEADLINE;
}

static void deadline_fire(ringo_loop_t *loop, ringo_req_t *req)
{
	struct ringo__op *op;

	req->rflags &= ~REQ_DEADLINE;
	op = req->op_id ? ringo__op_find(loop, req->op_id) : NULL;
	/* Already being cancelled by the user: that is what it reports. */
	if (!op || (op->state != RINGO__OP_QUEUED && op->state != RINGO__OP_INFLIGHT))
		return;
	req->rflags |= REQ_TIMED_OUT;
	ringo__op_cancel(loop, op);
}

/*
 * Deadlines pushed after the pass began (seq >= seq_end) wait for the next
 * pass, like timers started by callbacks. They cannot hide an older due
 * one at the top: they are due no earlier than now, older ones at equal
 * deadlines sort first.
 */
bool ringo__deadlines_fire_one(ringo_loop_t *loop, uint64_t before, uint64_t seq_end)
{
	struct ringo__loop *l = L(loop);
	const struct heap_ent *e = heap_min(&l->deadlines);
	ringo_req_t *req;

	if (!e || e->deadline >= before || e->seq >= seq_end)
		return false;
	req = e->ptr;
	heap_remove(&l->deadlines, 0, set_index);
	deadline_fire(loop, req);
	return true;
}

uint64_t ringo__deadlines_next(const ringo_loop_t *loop)
{
	const struct heap_ent *e = heap_min(&L(loop)->deadlines);

	return e ? e->deadline : UINT64_MAX;
}

void ringo__deadlines_free(ringo_loop_t *loop)
{
	heap_free(&L(loop)->deadlines);
}

RINGO_EXTERN int ringo_deadline(ringo_req_t *req, int64_t ms)
{
	if (!req || !req->loop || ms < 0 || !(L(req->loop)->state & LOOP_READY))
		return -EINVAL;
	if (req->type == RINGO_REQ_WORK || !req->op_id || !ringo__op_find(req->loop, req->op_id))
		return -ENOENT;
	return req_deadline_set(req, (uint64_t)ms);
}

/*
 * Map a final result through the request's deadline state, and forget the
 * deadline. `cancelled` says whether the user asked for the cancellation.
 */
int ringo__req_final_res(ringo_req_t *req, int res, bool user_cancelled)
{
	uint32_t flags = req->rflags;

	ringo__req_deadline_clear(req);
	req->rflags = 0;
	if (res != -ECANCELED || user_cancelled)
		return res;
	if (flags & (REQ_TIMED_OUT | REQ_LINKED))
		return -ETIMEDOUT;
	return res;
}

static void timeout_complete(ringo_loop_t *loop, struct ringo__op *op, int res, unsigned flags)
{
	struct ringo__loop *l = L(loop);

	(void)res;
	(void)flags;
	if (l->timeout_id == op->id)
		l->timeout_id = 0;
}

/*
 * Without EXT_ARG the wait limit is a TIMEOUT op on the monotonic clock,
 * absolute so it is immune to when the SQE gets submitted. One is kept:
 * it is replaced only when an earlier deadline appears; a later one waits
 * until this fires (the loop then re-arms).
 */
int ringo__timeout_arm(ringo_loop_t *loop, uint64_t deadline)
{
	struct ringo__loop *l = L(loop);
	struct ringo__op *op, *old = NULL;

	if (l->timeout_id) {
		if (l->timeout_deadline <= deadline)
			return 0;
		old = ringo__op_find(loop, l->timeout_id);
	}
	op = ringo__op_new(loop, timeout_complete, NULL, NULL);
	if (!op)
		return -ENOMEM;
	ms_to_ts(&op->ts, deadline);
	ringo_prep_timeout(ringo__op_sqe(loop, op), &op->ts, 0, RINGO_TIMEOUT_ABS);
	if (old)
		ringo__op_cancel(loop, old);
	l->timeout_id = op->id;
	l->timeout_deadline = deadline;
	return 0;
}
