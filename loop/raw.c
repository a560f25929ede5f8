/* SPDX-License-Identifier: MIT */
/*
 * The raw escape hatch (any io_uring op, with a callback), the NOP request,
 * and ringo_cancel for every request type.
 */
#include <string.h>

#include "op_hot.h"

int ringo__getaddrinfo_cancel(ringo_req_t *req);
int ringo__fs_cancel(ringo_req_t *req);
int ringo__fs_walk_cancel(ringo_req_t *req);
int ringo__connect_cancel(ringo_req_t *req);
int ringo__req_final_res(ringo_req_t *req, int res, bool user_cancelled);
int ringo__link_timeout(ringo_loop_t *loop, struct ringo__op *op, struct ringo_sqe **sqe,
			uint64_t ms);

/* A cancellation the user asked for (not a deadline's) reports -ECANCELED. */
static bool user_cancelled(const struct ringo__op *op, const ringo_req_t *req)
{
	return (op->state == RINGO__OP_CANCELLING || op->state == RINGO__OP_ABORTED ||
		op->state == RINGO__OP_VOIDED) &&
	       !(req->rflags & REQ_TIMED_OUT);
}

int ringo__raw_final_res(struct ringo__op *op, ringo_raw_t *req, int res)
{
	return ringo__req_final_res((ringo_req_t *)req, res,
				    user_cancelled(op, (ringo_req_t *)req));
}

static inline bool in_flight(ringo_loop_t *loop, const ringo_raw_t *req)
{
	return req->op_id && req->loop == loop && ringo__op_find(loop, req->op_id);
}

static inline int check(ringo_loop_t *loop, ringo_raw_t *req, ringo_raw_cb cb)
{
	if (!loop || !req || !cb || !(L(loop)->state & LOOP_READY))
		return -EINVAL;
	if (in_flight(loop, req))
		return -EBUSY;
	return 0;
}

/* The record and SQE of a raw request; NULL (-ENOMEM) without a record. */
RINGO__HOT struct ringo_sqe *raw_sqe(ringo_loop_t *loop, ringo_raw_t *req, ringo_raw_cb cb)
{
	struct ringo__loop *l = L(loop);
	struct ringo__op *op = ringo__op_take(l, ringo__raw_complete, req, NULL);

	if (!op)
		return NULL;
	ringo__op_req_fill(l, op, loop, (ringo_req_t *)req, RINGO_REQ_RAW);
	req->cb = cb;
	return ringo__op_get_sqe(l, op);
}

/* Take a record for req; the caller gets its SQE. */
static struct ringo__op *start(ringo_loop_t *loop, ringo_raw_t *req, ringo_raw_cb cb)
{
	struct ringo__op *op = ringo__req_op(loop, (ringo_req_t *)req, RINGO_REQ_RAW,
					     ringo__raw_complete, NULL);

	if (op)
		req->cb = cb;
	return op;
}

/* Prepare aside: a refused SQE must never reach the ring. */
static int prep_aside(struct ringo_sqe *local, ringo_prep_cb prep, void *arg)
{
	int ret;

	if (!prep)
		return -EINVAL;
	memset(local, 0, sizeof(*local));
	ret = prep(local, arg);
	if (ret)
		return ret < 0 ? ret : -EINVAL;
	if (local->flags & (RINGO_SQE_IO_LINK | RINGO_SQE_IO_HARDLINK))
		return -EINVAL;
	return 0;
}

static void place(struct ringo_sqe *sqe, const struct ringo_sqe *local)
{
	uint64_t id = sqe->user_data;
	uint8_t flags = sqe->flags;

	*sqe = *local;
	sqe->user_data = id;
	sqe->flags |= flags;
}

RINGO_EXTERN int ringo_submit(ringo_loop_t *loop, ringo_raw_t *req, ringo_prep_cb prep,
			      void *arg, ringo_raw_cb cb)
{
	struct ringo_sqe local, *sqe;
	int ret = check(loop, req, cb);

	if (!ret)
		ret = prep_aside(&local, prep, arg);
	if (ret)
		return ret;
	sqe = raw_sqe(loop, req, cb);
	if (!sqe)
		return -ENOMEM;
	place(sqe, &local);
	return 0;
}

RINGO_EXTERN int ringo_submit_timeout(ringo_loop_t *loop, ringo_raw_t *req, ringo_prep_cb prep,
				      void *arg, int64_t timeout_ms, ringo_raw_cb cb)
{
	struct ringo_sqe local, *sqe;
	struct ringo__op *op;
	int ret = check(loop, req, cb);

	if (!ret && timeout_ms < 0)
		ret = -EINVAL;
	if (!ret)
		ret = prep_aside(&local, prep, arg);
	if (ret)
		return ret;
	op = start(loop, req, cb);
	if (!op)
		return -ENOMEM;
	ret = ringo__link_timeout(loop, op, &sqe, (uint64_t)timeout_ms);
	if (ret) {
		/* Nothing was placed: take the record back out. */
		op->counts_active = 0;
		L(loop)->active_reqs--;
		ringo__op_forget(loop, op);
		req->op_id = 0;
		return ret;
	}
	place(sqe, &local);
	req->rflags |= REQ_LINKED;
	return 0;
}

/* ringo_nop's every case: checks, a new slab, a staged SQE. */
static __attribute__((noinline)) int nop_full(ringo_loop_t *loop, ringo_raw_t *req,
					      ringo_raw_cb cb)
{
	struct ringo_sqe *sqe;
	int ret = check(loop, req, cb);

	if (ret)
		return ret;
	sqe = raw_sqe(loop, req, cb);
	if (!sqe)
		return -ENOMEM;
	ringo_prep_nop(sqe);
	return 0;
}

/*
 * The common case, decided up front (an idle request, room for the op),
 * makes no call, so it needs no saved registers. Anything else takes the
 * full path. A loop never initialised (zeroed), closed or failed in init
 * has private state all zero, so no free record: ringo__op_room's test of
 * the free list stands for check()'s test of LOOP_READY.
 */
RINGO_EXTERN int ringo_nop(ringo_loop_t *loop, ringo_raw_t *req, ringo_raw_cb cb)
{
	struct ringo__loop *l;
	struct ringo__op *op;

	if (__builtin_expect(!loop || !req || !cb || req->op_id, 0))
		return nop_full(loop, req, cb);
	l = L(loop);
	if (__builtin_expect(!ringo__op_room(l), 0))
		return nop_full(loop, req, cb);
	op = ringo__op_claim(l, ringo__raw_complete, req, NULL);
	ringo__op_req_fill(l, op, loop, (ringo_req_t *)req, RINGO_REQ_RAW);
	req->cb = cb;
	/* A zeroed SQE is a NOP already, but for its fd. */
	_Static_assert(RINGO_OP_NOP == 0, "a zeroed SQE must be a NOP");
	ringo__op_sqe_claim(l, op)->fd = -1;
	return 0;
}

RINGO_EXTERN int ringo_cancel(ringo_req_t *req)
{
	struct ringo__op *op;

	if (!req || !req->loop || !(L(req->loop)->state & LOOP_READY))
		return -EINVAL;
	if (req->type == RINGO_REQ_WORK)
		return ringo__work_cancel((ringo_work_t *)req);
	if (req->type == RINGO_REQ_GETADDRINFO)
		return ringo__getaddrinfo_cancel(req);
	if (req->type == RINGO_REQ_FS_WALK)
		return ringo__fs_walk_cancel(req);
	if (req->type == RINGO_REQ_FS && !req->op_id)
		return ringo__fs_cancel(req);
	if (req->type == RINGO_REQ_CONNECT && !req->op_id)
		return ringo__connect_cancel(req);
	if (!req->op_id)
		return -ENOENT;
	op = ringo__op_find(req->loop, req->op_id);
	if (!op)
		return -ENOENT;
	return ringo__op_cancel(req->loop, op);
}
