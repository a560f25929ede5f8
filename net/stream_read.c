/* SPDX-License-Identifier: MIT */
/*
 * Reading streams. The preferred path is one multishot recv per stream,
 * each CQE naming a buffer the kernel took from the loop's pool; the
 * fallbacks are single-shot recvs with buffer select, or (no buffer rings)
 * single-shot recvs into a buffer we take from the pool ourselves.
 *
 * The pool buffer is given back when read_cb returns, unless the callback
 * kept it (ringo_read_keep). Data the kernel delivers after ringo_read_stop
 * (a multishot recv is cancelled asynchronously) is not dropped: it is
 * stashed in arrival order and reported first at the next ringo_read_start.
 *
 * When the pool is at its bound and every buffer is out (callbacks keeping
 * them), a stream cannot receive: it waits in the pool's queue and is
 * re-armed, oldest first, as buffers come back. Re-arming at once would
 * only spin on -ENOBUFS.
 */
#include "net_internal.h"

static int arm_recv(ringo_stream_t *s);

static bool reading(const ringo_stream_t *s)
{
	return (s->sflags & STREAM_READING) && !(s->hflags & HANDLE_CLOSING);
}

static void stop(ringo_stream_t *s)
{
	s->sflags &= ~STREAM_READING;
	if (!(s->sflags & STREAM_LISTENING))
		ringo__handle_stop((ringo_handle_t *)s);
}

/* A buffer is back in the pool: the longest-waiting stream may read again. */
static void give_back(struct ringo__bufpool *p, uint32_t bid)
{
	ringo_stream_t *w;

	ringo__pool_recycle(p, bid);
	if (queue_empty(&p->waiters))
		return;
	w = container_of(queue_head(&p->waiters), ringo_stream_t, buf_wait_q);
	queue_remove(&w->buf_wait_q);
	if (reading(w) && !w->recv_id)
		arm_recv(w);
}

static void wait_for_buffer(ringo_stream_t *s, struct ringo__bufpool *p)
{
	if (!queue_linked(&s->buf_wait_q))
		queue_insert_tail(&p->waiters, &s->buf_wait_q);
}

static void deliver(ringo_stream_t *s, struct ringo__bufpool *p, uint32_t bid, uint32_t len)
{
	s->sflags |= STREAM_IN_READ_CB;
	s->read_bid = bid;
	s->read_cb(s, (ssize_t)len, ringo__pool_addr(p, bid));
	s->sflags &= ~STREAM_IN_READ_CB;
	s->read_bid = RINGO__NO_BID;
	if (s->sflags & STREAM_KEPT)
		s->sflags &= ~STREAM_KEPT;
	else
		give_back(p, bid);
}

static void stash(ringo_stream_t *s, struct ringo__bufpool *p, uint32_t bid, uint32_t len)
{
	p->len[bid] = len;
	p->next[bid] = RINGO__NO_BID;
	if (s->stash_tail == RINGO__NO_BID)
		s->stash_head = bid;
	else
		p->next[s->stash_tail] = bid;
	s->stash_tail = bid;
}

static void report_end(ringo_stream_t *s, int res)
{
	stop(s);
	s->read_cb(s, res, NULL);
}

/* A non-data result: EOF, pool exhausted, cancelled, or an error. */
static void recv_status(ringo_stream_t *s, struct ringo__bufpool *p, int res, bool more)
{
	if (res == 0) {
		if (reading(s))
			report_end(s, RINGO_EOF);
		else if (!(s->hflags & HANDLE_CLOSING))
			s->sflags |= STREAM_EOF;
	} else if (res == -ENOBUFS) {
		/* Grow toward the bound; at the bound, wait for a buffer. */
		if (ringo__pool_grow(s->loop, p) && reading(s))
			wait_for_buffer(s, p);
	} else if (res == -EINVAL && p->multishot && !more) {
		p->multishot = false;	/* before 6.0: single-shot from now on */
	} else if (res != -ECANCELED && reading(s)) {
		report_end(s, res);
	}
}

static void recv_complete(ringo_loop_t *loop, struct ringo__op *op, int res, unsigned flags)
{
	ringo_stream_t *s = op->owner;
	struct ringo__bufpool *p = L(loop)->bufpool;
	bool more = flags & RINGO_CQE_F_MORE;
	uint32_t bid = RINGO__NO_BID;

	if (flags & RINGO_CQE_F_BUFFER)
		bid = ringo_cqe_buffer_id(&(struct ringo_cqe){ .flags = flags });
	else if (!p->br)
		bid = s->lent_bid;	/* plain mode: the buffer we lent */
	if (!more) {
		s->recv_id = 0;
		s->lent_bid = RINGO__NO_BID;
	}
	if (bid != RINGO__NO_BID && !ringo__pool_addr(p, bid))
		bid = RINGO__NO_BID;	/* an id we never gave out: ignore it */
	if (res > 0 && bid != RINGO__NO_BID) {
		if (reading(s))
			deliver(s, p, bid, (uint32_t)res);
		else if (!(s->hflags & HANDLE_CLOSING))
			stash(s, p, bid, (uint32_t)res);
		else
			give_back(p, bid);
	} else {
		if (bid != RINGO__NO_BID)
			give_back(p, bid);
		recv_status(s, p, res, more);
	}
	if (!s->recv_id && reading(s) && !queue_linked(&s->buf_wait_q))
		arm_recv(s);
}

static int arm_recv(ringo_stream_t *s)
{
	struct ringo__bufpool *p = L(s->loop)->bufpool;
	struct ringo__op *op;
	struct ringo_sqe *sqe;
	uint32_t bid = RINGO__NO_BID;

	if (!p->br) {
		bid = ringo__pool_take(s->loop, p);
		if (bid == RINGO__NO_BID) {
			wait_for_buffer(s, p);
			return -ENOBUFS;
		}
	}
	op = ringo__op_new(s->loop, recv_complete, s, (ringo_handle_t *)s);
	if (!op) {
		if (bid != RINGO__NO_BID)
			ringo__pool_recycle(p, bid);
		return -ENOMEM;
	}
	sqe = ringo__op_sqe(s->loop, op);
	if (!p->br) {
		s->lent_bid = bid;
		ringo_prep_recv(sqe, s->fd, ringo__pool_addr(p, bid), RINGO__POOL_BUF, 0);
	} else if (p->multishot) {
		ringo_prep_recv_multishot(sqe, s->fd, RINGO__POOL_BGID, 0);
	} else {
		ringo_prep_recv(sqe, s->fd, NULL, RINGO__POOL_BUF, 0);
		ringo_sqe_set_buf_group(sqe, RINGO__POOL_BGID);
	}
	s->recv_id = op->id;
	return 0;
}

/* Report what arrived while not reading, then carry on receiving. */
static void stash_complete(ringo_loop_t *loop, struct ringo__op *op, int res, unsigned flags)
{
	ringo_stream_t *s = op->owner;
	struct ringo__bufpool *p = L(loop)->bufpool;
	uint32_t bid;

	(void)res;
	(void)flags;
	while (s->stash_head != RINGO__NO_BID && reading(s)) {
		bid = s->stash_head;
		s->stash_head = p->next[bid];
		if (s->stash_head == RINGO__NO_BID)
			s->stash_tail = RINGO__NO_BID;
		deliver(s, p, bid, p->len[bid]);
	}
	if (reading(s) && (s->sflags & STREAM_EOF)) {
		s->sflags &= ~STREAM_EOF;
		report_end(s, RINGO_EOF);
	}
	if (reading(s) && !s->recv_id && !queue_linked(&s->buf_wait_q))
		arm_recv(s);
}

RINGO_EXTERN int ringo_read_start(ringo_stream_t *s, ringo_read_cb read_cb)
{
	struct ringo__op *op;

	if (!s || !read_cb || (s->type != RINGO_HANDLE_TCP && s->type != RINGO_HANDLE_UNIX) ||
	    !(s->hflags & HANDLE_INIT) || (s->hflags & (HANDLE_CLOSING | HANDLE_CLOSED)))
		return -EINVAL;
	if (s->sflags & STREAM_READING)
		return -EALREADY;
	if (s->fd < 0 || !(s->sflags & STREAM_CONNECTED))
		return -ENOTCONN;
	if (!ringo__pool(s->loop))
		return -ENOMEM;
	s->read_cb = read_cb;
	s->sflags |= STREAM_READING;
	ringo__handle_start((ringo_handle_t *)s);
	if (s->stash_head == RINGO__NO_BID && !(s->sflags & STREAM_EOF)) {
		if (!s->recv_id && !queue_linked(&s->buf_wait_q) && arm_recv(s) == -ENOMEM)
			goto nomem;
		return 0;
	}
	/* Stashed data goes first, from the loop, never inside this call. */
	op = ringo__op_new(s->loop, stash_complete, s, (ringo_handle_t *)s);
	if (!op)
		goto nomem;
	ringo_prep_nop(ringo__op_sqe(s->loop, op));
	return 0;
nomem:
	stop(s);
	return -ENOMEM;
}

RINGO_EXTERN int ringo_read_stop(ringo_stream_t *s)
{
	struct ringo__op *op;

	if (!s || (s->type != RINGO_HANDLE_TCP && s->type != RINGO_HANDLE_UNIX))
		return -EINVAL;
	if (!(s->sflags & STREAM_READING))
		return 0;
	stop(s);
	if (queue_linked(&s->buf_wait_q))
		queue_remove(&s->buf_wait_q);
	op = s->recv_id ? ringo__op_find(s->loop, s->recv_id) : NULL;
	if (op)
		ringo__op_cancel(s->loop, op);
	return 0;
}

RINGO_EXTERN int ringo_read_keep(ringo_stream_t *s)
{
	struct ringo__bufpool *p;

	if (!s || !(s->sflags & STREAM_IN_READ_CB) || s->read_bid == RINGO__NO_BID)
		return -EINVAL;
	p = L(s->loop)->bufpool;
	s->sflags |= STREAM_KEPT;
	p->kept[s->read_bid] = 1;
	return (int)s->read_bid + 1;
}

RINGO_EXTERN int ringo_read_release(ringo_loop_t *loop, int token)
{
	struct ringo__bufpool *p;
	uint32_t bid;

	if (!loop || !(L(loop)->state & LOOP_READY) || !(p = L(loop)->bufpool) || token <= 0)
		return -EINVAL;
	bid = (uint32_t)token - 1;
	if (bid >= p->count || !p->kept[bid])
		return -EINVAL;
	p->kept[bid] = 0;
	give_back(p, bid);
	return 0;
}

/* Closing: stashed buffers go back; the recv op is cancelled by close. */
void ringo__read_close(ringo_stream_t *s)
{
	struct ringo__bufpool *p = L(s->loop)->bufpool;
	uint32_t bid;

	s->sflags &= ~(STREAM_READING | STREAM_EOF);
	if (queue_linked(&s->buf_wait_q))
		queue_remove(&s->buf_wait_q);
	while (p && s->stash_head != RINGO__NO_BID) {
		bid = s->stash_head;
		s->stash_head = p->next[bid];
		give_back(p, bid);
	}
	s->stash_head = s->stash_tail = RINGO__NO_BID;
}
