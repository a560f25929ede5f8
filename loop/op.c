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
 *  - records are freed to the pool; ringo__ops_trim (when the loop is about
 *    to sleep after a burst, and on the idle sweep) gives a slab back to
 *    the kernel when every record it handed out is free, and seals one
 *    where few are live: its free records leave the free list and its
 *    pages that hold no live record are dropped; the rest at close;
 *  - an op that finds the SQ full waits with its SQE in a staged entry from
 *    a second pool. That pool grows by slabs and never shrinks: it holds at
 *    most as many entries as ops were ever queued at once (plus a slab), so
 *    its bound is the peak of queued ops, itself bounded by live records.
 */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "op_hot.h"

/*
 * Records live in slabs of SLAB_BYTES, each its own mapping aligned to its
 * size, so a record's slab is its address rounded down, and a slab that
 * empties can be unmapped: malloc'd memory would stay resident in the heap.
 * A slab hands its records to the free list GROW_OPS at a time, so only
 * the pages of records ever used are touched (a small loop keeps ~8 KiB).
 */
#define SLAB_BYTES (64U * 1024)
#define GROW_OPS 64U
#define SEAL_LIVE_SHARE 8	/* seal a slab with at most 1/8 of its records live */
#define SLAB_STAGED 16	/* staged SQEs per slab: the overflow path is rare */

struct ringo__slab {
	struct ringo__slab *next;
	unsigned used;	/* records handed to the free list so far */
	unsigned nfree;	/* ringo__ops_trim's count of its free records */
	unsigned sealed; /* free records taken off the free list for good */
	unsigned fate;	/* ringo__ops_trim's verdict: enum slab_fate */
	unsigned seal_end; /* records below this on a dropped page are sealed */
	uint32_t dropped; /* pages a seal gave back, a bit each (never page 0) */
	struct ringo__op ops[];
};

enum slab_fate { SLAB_KEEP, SLAB_RELEASE, SLAB_SEAL };

_Static_assert(SLAB_BYTES / 4096 <= 32, "a 32-bit page mask covers a slab of 4 KiB pages");

#define SLAB_CAP ((SLAB_BYTES - offsetof(struct ringo__slab, ops)) / sizeof(struct ringo__op))

static struct ringo__slab *slab_of(const struct ringo__op *op)
{
	return (struct ringo__slab *)((uintptr_t)op & ~(uintptr_t)(SLAB_BYTES - 1));
}

static size_t page_size(void)
{
	static size_t page;

	if (!page)
		page = (size_t)sysconf(_SC_PAGESIZE);
	return page;
}

/* The first and last page record i of a slab spans. */
static void rec_pages(size_t i, size_t *p0, size_t *p1)
{
	size_t start = offsetof(struct ringo__slab, ops) + i * sizeof(struct ringo__op);

	*p0 = start / page_size();
	*p1 = (start + sizeof(struct ringo__op) - 1) / page_size();
}

/* A sealed record on a page a seal gave back: never read, not even by
 * the slab walks, since reading faults the page back in (a zeroed copy). */
static bool rec_gone(const struct ringo__slab *s, unsigned i)
{
	size_t p0, p1, p;

	if (!s->dropped || i >= s->seal_end)
		return false;
	rec_pages(i, &p0, &p1);
	for (p = p0; p <= p1; p++)
		if (s->dropped & (1U << p))
			return true;
	return false;
}

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

/* The table has new buckets: the loop's copy of them, and when to double. */
static void table_sized(struct ringo__loop *l)
{
	UT_hash_table *tbl = l->sentinel.hh.tbl;

	l->id_buckets = tbl->buckets;
	l->id_mask = tbl->num_buckets - 1;
	/* uthash gives up doubling when it stops spreading the items. */
	l->ids_grow_at = tbl->noexpand ? UINT_MAX : tbl->num_buckets * RINGO__TABLE_LOAD;
}

int ringo__ops_init(ringo_loop_t *loop)
{
	struct ringo__loop *l = L(loop);
	int ret;

	l->ops = NULL;
	l->free_ops = NULL;
	l->slabs = NULL;
	l->free_staged = NULL;
	l->staged_spare = 0;
	l->staged_slabs = NULL;
	l->next_id = RINGO__ID_FIRST;
	memset(&l->sentinel, 0, sizeof(l->sentinel));
	l->sentinel.id = RINGO__ID_SENTINEL;
	/* Zero key length, so HASH_FIND never matches it (see op_hot.h). */
	HASH_ADD_KEYPTR(hh, l->ops, &l->sentinel.id, 0, &l->sentinel);
	if (!l->ops)
		return -ENOMEM;
	l->ids_live = 0;
	table_sized(l);
	queue_init(&l->overflow);
	queue_init(&l->aborted);
	ret = grow_staged(l);
	ringo__op_room_refresh(l);
	return ret;
}

void ringo__ops_free(ringo_loop_t *loop)
{
	struct ringo__loop *l = L(loop);
	struct ringo__slab *s = l->slabs, *next;
	struct staged_slab *ss = l->staged_slabs, *ss_next;

	HASH_CLEAR(hh, l->ops);
	for (; s; s = next) {
		next = s->next;
		munmap(s, SLAB_BYTES);
	}
	for (; ss; ss = ss_next) {
		ss_next = ss->next;
		free(ss);
	}
	l->slabs = NULL;
	l->free_ops = NULL;
	l->ops_total = 0;
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

/* A fresh mapping of SLAB_BYTES aligned to SLAB_BYTES: map twice the size
 * and cut off what lies outside the aligned part. */
static struct ringo__slab *slab_map(void)
{
	size_t len = 2 * (size_t)SLAB_BYTES, head;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *s;

	if (p == MAP_FAILED)
		return NULL;
	s = (char *)(((uintptr_t)p + SLAB_BYTES - 1) & ~(uintptr_t)(SLAB_BYTES - 1));
	head = (size_t)(s - p);
	if (head)
		munmap(p, head);
	if (len - head > SLAB_BYTES)
		munmap(s + SLAB_BYTES, len - head - SLAB_BYTES);
	return (struct ringo__slab *)s;
}

/* GROW_OPS more records, from the newest slab while it has them. */
static int grow(struct ringo__loop *l)
{
	struct ringo__slab *s = l->slabs;
	unsigned i, end;

	if (!s || s->used == SLAB_CAP) {
		if (!(s = slab_map()))
			return -ENOMEM;
		s->next = l->slabs;
		s->used = 0;
		l->slabs = s;
	}
	end = s->used + GROW_OPS < SLAB_CAP ? s->used + GROW_OPS : (unsigned)SLAB_CAP;
	for (i = end; i-- > s->used;) {
		/* The handle fields a record keeps for life (op_hot.h). */
		s->ops[i].hh.tbl = l->sentinel.hh.tbl;
		s->ops[i].hh.key = &s->ops[i].id;
		s->ops[i].hh.keylen = sizeof(s->ops[i].id);
		push_free(l, &s->ops[i]);
	}
	l->ops_total += end - s->used;
	s->used = end;
	return 0;
}

/*
 * uthash's bucket doubling. Unlike HASH_ADD with HASH_NONFATAL_OOM, which
 * takes the new item back out of the table when the larger bucket array
 * cannot be allocated (an op whose CQE would then be dropped as stale),
 * a failed doubling here leaves every item in the smaller table: longer
 * chains, still correct; the next batch of records tries again.
 */
static void table_expand(struct ringo__loop *l)
{
	UT_hash_table *tbl = l->sentinel.hh.tbl;
	UT_hash_handle *hh;
	int oomed = 0;
	unsigned i;

	/* Adds skip hh.hashv; the doubling files each item by it. */
	for (i = 0; i <= l->id_mask; i++)
		for (hh = l->id_buckets[i].hh_head; hh; hh = hh->hh_next)
			hh->hashv = ringo__hash_id(container_of(hh, struct ringo__op, hh)->id);

	/* uthash sizes its chains from num_items, which the adds skip. */
	tbl->num_items = l->ids_live + 1;
	HASH_EXPAND_BUCKETS(hh, tbl, oomed);
	(void)oomed;
	table_sized(l);
}

/* The rare side of taking a record: a slab of records or staged SQEs,
 * and the id table's doubling when the records outgrow it. */
__attribute__((noinline, cold)) int ringo__ops_refill(struct ringo__loop *l)
{
	if (!l->free_ops) {
		if (grow(l))
			return -ENOMEM;
		/* There are never more live ids than records. */
		if (l->ops_total > l->ids_grow_at)
			table_expand(l);
	}
	if (l->staged_spare < RINGO__STAGED_RESERVE && grow_staged(l))
		return -ENOMEM;
	return 0;
}

/*
 * The entry points below are built from the always-inlined pieces in
 * op_hot.h, so each compiles to one function with no call but the
 * callback's: nop-loop spends most of its user time here, once per op.
 */
#define HOT RINGO__HOT

struct ringo__op *ringo__op_new(ringo_loop_t *loop, ringo__complete_fn complete, void *owner,
				ringo_handle_t *handle)
{
	return ringo__op_take(L(loop), complete, owner, handle);
}

struct ringo__op *ringo__req_op(ringo_loop_t *loop, ringo_req_t *req, int type,
				ringo__complete_fn complete, ringo_handle_t *handle)
{
	struct ringo__loop *l = L(loop);
	struct ringo__op *op = ringo__op_take(l, complete, req, handle);

	if (op)
		ringo__op_req_fill(l, op, loop, req, type);
	return op;
}

struct ringo_sqe *ringo__op_sqe(ringo_loop_t *loop, struct ringo__op *op)
{
	return ringo__op_get_sqe(L(loop), op);
}

struct ringo_sqe *ringo__req_op_sqe(ringo_loop_t *loop, ringo_req_t *req, int type,
				    ringo__complete_fn complete, ringo_handle_t *handle)
{
	struct ringo__loop *l = L(loop);
	struct ringo__op *op = ringo__op_take(l, complete, req, handle);

	if (!op)
		return NULL;
	ringo__op_req_fill(l, op, loop, req, type);
	return ringo__op_get_sqe(l, op);
}

__attribute__((noinline)) struct ringo_sqe *ringo__op_stage(struct ringo__loop *l,
							    struct ringo__op *op)
{
	struct ringo__staged *st = l->free_staged;

	/* Taking the record left at least RINGO__STAGED_RESERVE spare entries. */
	l->free_staged = st->next_free;
	l->staged_spare--;
	memset(&st->sqe, 0, sizeof(st->sqe));
	st->sqe.user_data = op->id;
	st->op = op;
	op->staged = st;
	op->state = RINGO__OP_QUEUED;
	queue_insert_tail(&l->overflow, &st->q);
	ringo__op_room_refresh(l);
	l->metrics.sq_full_waits++;
	return &st->sqe;
}

void ringo__op_sqe_pair(ringo_loop_t *loop, struct ringo__op *a, struct ringo__op *b,
			struct ringo_sqe **sa, struct ringo_sqe **sb)
{
	struct ringo__loop *l = L(loop);

	if (queue_empty(&l->overflow) && ringo_ring_sq_space_left(&l->ring) >= 2) {
		*sa = ringo__op_get_sqe(l, a);
		*sb = ringo__op_get_sqe(l, b);
		return;
	}
	*sa = ringo__op_stage(l, a);
	*sb = ringo__op_stage(l, b);
}

struct ringo__op *ringo__op_find(ringo_loop_t *loop, uint64_t id)
{
	return ringo__table_find(L(loop), id);
}

unsigned ringo__ops_live(const ringo_loop_t *loop)
{
	return L(loop)->ids_live;
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
	}
	ringo__op_room_refresh(l);
	return 0;
}

/* Out of the table (*link points at it): from here on a CQE for this id
 * is stale. */
HOT void unlink_in(struct ringo__loop *l, UT_hash_handle **link, struct ringo__op *op)
{
	ringo__table_del(l, link, op);
	if (op->counts_active)
		l->active_reqs--;
}

HOT void unlink_op(struct ringo__loop *l, struct ringo__op *op)
{
	unlink_in(l, ringo__table_link(l, op), op);
}

HOT void recycle(struct ringo__loop *l, struct ringo__op *op)
{
	ringo_handle_t *handle = op->handle;

	push_free(l, op);
	if (handle) {
		op->handle = NULL;
		ringo__handle_op_done(handle);
	}
}

void ringo__op_forget(ringo_loop_t *loop, struct ringo__op *op)
{
	unlink_op(L(loop), op);
	recycle(L(loop), op);
}

/*
 * A raw request's last CQE: the request is finished before its callback
 * runs, so the callback may reuse it. Returns the result to report.
 */
HOT int raw_settle(struct ringo__op *op, ringo_raw_t *req, int res)
{
	req->op_id = 0;
	/* Only requests with a deadline need their result mapped. */
	if (__builtin_expect(req->rflags != 0, 0))
		res = ringo__raw_final_res(op, req, res);
	return res;
}

/* A raw request's completion off dispatch's fast path: its multishot CQEs,
 * and the -ECANCELED of an op cancelled before it was submitted. */
void ringo__raw_complete(ringo_loop_t *loop, struct ringo__op *op, int res, unsigned flags)
{
	ringo_raw_t *req = op->owner;

	(void)loop;
	if (!(flags & RINGO_CQE_F_MORE))
		res = raw_settle(op, req, res);
	req->cb(req, res, flags);
}

/*
 * The record leaves the table before its callback runs, so the callback
 * sees its request as finished (cancel says -ENOENT) and may reuse it.
 */
HOT void dispatch(ringo_loop_t *loop, struct ringo__loop *l, const struct ringo_cqe *cqe)
{
	UT_hash_handle **link;
	struct ringo__op *op = ringo__table_find_in(l, cqe->user_data, &link);
	unsigned flags = cqe->flags;
	int res = cqe->res;

	if (__builtin_expect(!op, 0)) {
		l->metrics.stale_cqes++;
		return;
	}
	if (__builtin_expect(op->state == RINGO__OP_VOIDED, 0))
		res = -ECANCELED;
	if (op->complete == ringo__raw_complete && !(flags & RINGO_CQE_F_MORE)) {
		/* A raw request's last CQE: it always counts as active and
		 * belongs to no handle, so unlink and recycle need no tests. */
		ringo_raw_t *req = op->owner;

		ringo__table_del(l, link, op);
		l->active_reqs--;
		res = raw_settle(op, req, res);
		/* Freed before the callback, whose next op takes it back warm. */
		push_free(l, op);
		req->cb(req, res, flags);
		return;
	}
	if (flags & RINGO_CQE_F_MORE) {
		op->complete(loop, op, res, flags);
		return;
	}
	unlink_in(l, link, op);
	op->complete(loop, op, res, flags);
	recycle(l, op);
}

/*
 * CQEs are dispatched where they lie; the caller retires them with one
 * release store per batch. The tail is read once: CQEs posted meanwhile
 * are taken by the caller's next pass.
 */
unsigned ringo__ops_dispatch_ready(ringo_loop_t *loop, unsigned max)
{
	struct ringo__loop *l = L(loop);
	unsigned head = *l->ring.cq.khead, n = ringo_ring_cq_ready(&l->ring), i;
	uint64_t stale = l->metrics.stale_cqes;

	if (n > max)
		n = max;
	for (i = 0; i < n; i++)
		dispatch(loop, l, &l->ring.cq.cqes[(head + i) & l->ring.cq.ring_mask]);
	/* Counted per batch: every CQE that was not stale completed an op. */
	l->metrics.completions += n - (l->metrics.stale_cqes - stale);
	return n;
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

/* The op's SQE if the kernel has not consumed it yet: a scan of at most
 * one SQ's worth, so no op needs to keep its SQ position. */
static struct ringo_sqe *unsubmitted_sqe(struct ringo_sq *sq, uint64_t id)
{
	struct ringo_sqe *sqe;
	unsigned i;

	for (i = *sq->khead; i != sq->sqe_tail; i++) {
		sqe = &sq->sqes[i & sq->ring_mask];
		if (sqe->user_data == id)
			return sqe;
	}
	return NULL;
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
	if (!(sqe = unsubmitted_sqe(sq, op->id)))
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

/*
 * At loop close only internal ops (wake read, wait timeout) remain, and
 * ASYNC_CANCELs still in flight. Those need no cancel: their CQE comes
 * anyway. Neither do the cancels made here: "cancelling" one while its SQE
 * is unsubmitted would turn it into a NOP, leaving its target (the wake
 * read) in flight for ever, so only ops older than the walk are visited.
 * The table keeps no insertion-order list (op_hot.h), so walk the slabs:
 * every record lives in one.
 */
void ringo__ops_cancel_all(ringo_loop_t *loop)
{
	uint64_t end = L(loop)->next_id;
	struct ringo__slab *s;
	struct ringo__op *op;
	unsigned i;

	for (s = L(loop)->slabs; s; s = s->next) {
		for (i = 0; i < s->used; i++) {
			op = &s->ops[i];
			if (rec_gone(s, i))
				continue;
			if (op->id < end && op->state == RINGO__OP_INFLIGHT &&
			    op->complete != cancel_done)
				ringo__op_cancel(loop, op);
		}
	}
}

/* The ops in flight whose completion function is `complete`, slab by
 * slab from *pos; `visit` may cancel the op (which takes a record: a new
 * slab goes at the head, behind the walk), not free others. */
bool ringo__ops_each(ringo_loop_t *loop, ringo__complete_fn complete,
		     bool (*visit)(ringo_loop_t *loop, struct ringo__op *op, void *arg), void *arg,
		     struct ringo__ops_pos *pos)
{
	struct ringo__slab *s = L(loop)->slabs;
	unsigned i = 0;

	if (pos->slab) {
		while (s && s != pos->slab)
			s = s->next;
		i = pos->i;
	}
	for (; s; s = s->next, i = 0) {
		for (; i < s->used; i++) {
			if (rec_gone(s, i) || s->ops[i].complete != complete ||
			    s->ops[i].state != RINGO__OP_INFLIGHT)
				continue;
			if (!visit(loop, &s->ops[i], arg)) {
				*pos = (struct ringo__ops_pos){ s, i };
				return false;
			}
		}
	}
	pos->slab = NULL;
	return true;
}

/* A slab trimmed: every handed-out record free, few live, or many. */
static enum slab_fate slab_fate(const struct ringo__slab *s)
{
	unsigned live = s->used - s->nfree - s->sealed;

	if (!live)
		return SLAB_RELEASE;
	if (s->nfree && live * SEAL_LIVE_SHARE <= s->used)
		return SLAB_SEAL;
	return SLAB_KEEP;
}

/*
 * Give back the pages of a slab being sealed that hold no part of a live
 * record; the first, with the header, stays. Its free records are off the
 * free list, so only records handed out later (past seal_end) touch those
 * pages again. Sealing again recomputes the set from the live records.
 */
static void slab_seal(struct ringo__slab *s)
{
	const size_t page = page_size(), npages = SLAB_BYTES / page;
	uint32_t keep = 1, drop;
	size_t i, p, p0, p1, run = 0;

	for (i = 0; i < s->used; i++) {
		if (rec_gone(s, i) || s->ops[i].state == RINGO__OP_FREE)
			continue;
		rec_pages(i, &p0, &p1);
		for (p = p0; p <= p1; p++)
			keep |= 1U << p;
	}
	drop = ~keep & (uint32_t)((1ULL << npages) - 1);
	for (p = 1; p <= npages; p++) {
		if (p < npages && (drop & (1U << p))) {
			run = run ? run : p;
			continue;
		}
		if (run)
			madvise((char *)s + run * page, (p - run) * page, MADV_DONTNEED);
		run = 0;
	}
	s->dropped = drop;
	s->seal_end = s->used;
	s->sealed += s->nfree;
}

/*
 * Gives the kernel back the slabs whose every record is free, and seals
 * those with few live (a long-lived op would otherwise pin 64 KiB). Off
 * the hot path: O(free records + slabs), plus a walk of each slab sealed.
 * The free list keeps its order. Returns how many slabs went or sealed.
 */
unsigned ringo__ops_trim(ringo_loop_t *loop)
{
	struct ringo__loop *l = L(loop);
	struct ringo__op *op, **link;
	struct ringo__slab *s, **sl;
	unsigned done = 0;

	for (s = l->slabs; s; s = s->next)
		s->nfree = 0;
	for (op = l->free_ops; op; op = op->next_free)
		slab_of(op)->nfree++;
	for (s = l->slabs; s; s = s->next)
		s->fate = slab_fate(s);
	for (link = &l->free_ops; (op = *link);) {
		if (slab_of(op)->fate != SLAB_KEEP)
			*link = op->next_free;
		else
			link = &op->next_free;
	}
	for (sl = &l->slabs; (s = *sl);) {
		if (s->fate == SLAB_RELEASE) {
			*sl = s->next;
			l->ops_total -= s->used - s->sealed;
			munmap(s, SLAB_BYTES);
			done++;
			continue;
		}
		if (s->fate == SLAB_SEAL) {
			l->ops_total -= s->nfree;
			slab_seal(s);
			done++;
		}
		sl = &s->next;
	}
	return done;
}
