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
#include <assert.h>

#include "net_internal.h"

static int arm_recv(ringo_stream_t *s);

static bool reading(const ringo_stream_t *s)
{
	return (s->sflags & STREAM_READING) && !(s->hflags & HANDLE_CLOSING);
}

static bool stashed(const ringo_stream_t *s)
{
	return s->sflags & STREAM_STASHED;
}

static bool waiting(const ringo_stream_t *s)
{
	return s->sflags & STREAM_BUF_WAIT;
}

static void stop(ringo_stream_t *s)
{
	s->sflags &= ~STREAM_READING;
	if (!(s->sflags & STREAM_LISTENING))
		ringo__handle_stop((ringo_handle_t *)s);
}

/*
 * ---- Waiting for a buffer: a FIFO through buf_wait_next --------------
 * buf_wait_next shares rd_id's storage: only a stream with no recv in
 * flight waits, and leaving the FIFO sets the slot back to 0 (rd_id 0).
 */

static void wait_for_buffer(ringo_stream_t *s, struct ringo__bufpool *p)
{
	if (waiting(s))
		return;
	assert(!s->rd_id);
	s->sflags |= STREAM_BUF_WAIT;
	s->buf_wait_next = NULL;
	if (p->wait_tail)
		p->wait_tail->buf_wait_next = s;
	else
		p->wait_head = s;
	p->wait_tail = s;
}

static ringo_stream_t *pop_waiter(struct ringo__bufpool *p)
{
	ringo_stream_t *w = p->wait_head;

	if (!w)
		return NULL;
	p->wait_head = w->buf_wait_next;
	if (!p->wait_head)
		p->wait_tail = NULL;
	w->rd_id = 0;
	w->sflags &= ~STREAM_BUF_WAIT;
	return w;
}

/* Leave the FIFO early (read_stop, close). A walk, but only over streams
 * that found the ring empty and wait for the next growth or returned
 * buffers: a burst's excess over the pool, passing. */
static void stop_waiting(ringo_stream_t *s, struct ringo__bufpool *p)
{
	ringo_stream_t **link, *prev = NULL;

	if (!waiting(s))
		return;
	for (link = &p->wait_head; *link; prev = *link, link = &(*link)->buf_wait_next) {
		if (*link != s)
			continue;
		*link = s->buf_wait_next;
		if (p->wait_tail == s)
			p->wait_tail = prev;
		break;
	}
	s->rd_id = 0;
	s->sflags &= ~STREAM_BUF_WAIT;
}

static void wake_soon(struct ringo__bufpool *p);

/* A buffer is back in the pool. In plain mode the longest-waiting stream
 * takes it with its recv; in ring mode the waiters' tick re-arms them. */
static void give_back(struct ringo__bufpool *p, uint32_t bid)
{
	ringo_stream_t *w;

	ringo__pool_recycle(p, bid);
	if (p->br) {
		wake_soon(p);
		return;
	}
	w = pop_waiter(p);
	if (w && reading(w) && !w->rd_id)
		arm_recv(w);
}

static void deliver(ringo_stream_t *s, struct ringo__bufpool *p, uint32_t bid, uint32_t len)
{
	s->sflags |= STREAM_IN_READ_CB;
	p->read_bid = bid;
	s->read_cb(s, (ssize_t)len, ringo__pool_addr(p, bid));
	s->sflags &= ~STREAM_IN_READ_CB;
	p->read_bid = RINGO__NO_BID;
	if (s->sflags & STREAM_KEPT)
		s->sflags &= ~STREAM_KEPT;
	else
		give_back(p, bid);
}

/* ---- The stash: a ring of pool buffers, stash_tail -> next[] -> ... -- */

static void stash(ringo_stream_t *s, struct ringo__bufpool *p, uint32_t bid, uint32_t len)
{
	p->len[bid] = len;
	if (stashed(s)) {
		p->next[bid] = p->next[s->stash_tail];
		p->next[s->stash_tail] = bid;
	} else {
		p->next[bid] = bid;
		s->sflags |= STREAM_STASHED;
	}
	s->stash_tail = bid;
}

/* The oldest stashed buffer, taken out of the stash. */
static uint32_t unstash(ringo_stream_t *s, struct ringo__bufpool *p)
{
	uint32_t head = p->next[s->stash_tail];

	if (head == s->stash_tail) {
		s->sflags &= ~STREAM_STASHED;
		s->stash_tail = RINGO__NO_BID;
	} else {
		p->next[s->stash_tail] = p->next[head];
	}
	return head;
}

static void report_end(ringo_stream_t *s, int res)
{
	stop(s);
	s->read_cb(s, res, NULL);
}

/* Receive again; out of records, wait for the next tick. */
static void rearm_waiter(ringo_stream_t *w, struct ringo__bufpool *p)
{
	if (reading(w) && !w->rd_id && arm_recv(w) == -ENOMEM)
		wait_for_buffer(w, p);
}

static unsigned rearm_waiters(struct ringo__bufpool *p, unsigned n)
{
	ringo_stream_t *w;
	unsigned done = 0;

	for (; done < n && (w = pop_waiter(p)); done++)
		rearm_waiter(w, p);
	return done;
}

/*
 * Ring mode: streams whose recv met an empty ring (-ENOBUFS) wait, and the
 * pool's timer re-arms them a tick at a time, as many per tick as the ring
 * holds buffers. One that finds it empty all the same (a buffer taken but
 * not reported yet) waits again; one with nothing to read takes no buffer,
 * so the next tick goes on down the queue: every waiter is served while
 * the ring has buffers. Streams still waiting then grow the pool a chunk,
 * RINGO__POOL_GROW_MS apart at most: a burst that took every buffer in one
 * batch gives them back as it reports them, and growing on each -ENOBUFS
 * took the pool to its bound (16 MiB, a resident page per buffer used) in
 * one burst. Dry at the bound, the ticks stop until a buffer comes back.
 */
static void wake_tick(ringo_timer_t *t)
{
	struct ringo__bufpool *p = container_of(t, struct ringo__bufpool, wake_timer);
	ringo_loop_t *loop = t->loop;
	uint64_t now = ringo__now(L(loop));

	rearm_waiters(p, p->ring_free);
	if (p->wait_head && now - p->grown_ms >= RINGO__POOL_GROW_MS &&
	    ringo__pool_grow(loop, p) == 0) {
		p->grown_ms = now;
		rearm_waiters(p, p->chunk);
	}
	if (p->wait_head && (p->ring_free || p->count < p->max))
		ringo_timer_start(t, wake_tick, RINGO__POOL_WAKE_MS, 0);
}

/* Waiters in ring mode: a tick in the next iteration, if none is due. */
static void wake_soon(struct ringo__bufpool *p)
{
	if (p->wait_head && !ringo_is_active((ringo_handle_t *)&p->wake_timer))
		ringo_timer_start(&p->wake_timer, wake_tick, 0, 0);
}

static void out_of_buffers(ringo_stream_t *s, struct ringo__bufpool *p)
{
	if (reading(s) && !s->rd_id)
		wait_for_buffer(s, p);
	wake_soon(p);
}

/* A non-data result: EOF, pool exhausted, cancelled, or an error. */
static void recv_status(ringo_stream_t *s, struct ringo__bufpool *p, int res, bool more)
{
	if (res == 0) {
		if (reading(s) && !stashed(s))
			report_end(s, RINGO_EOF);
		else if (!(s->hflags & HANDLE_CLOSING))
			s->sflags |= STREAM_EOF;
	} else if (res == -ENOBUFS) {
		out_of_buffers(s, p);
	} else if (res == -EINVAL && p->multishot && !more) {
		p->multishot = false;	/* before 6.0: single-shot from now on */
	} else if (res != -ECANCELED && reading(s)) {
		report_end(s, res);
	}
}

void ringo__recv_complete(ringo_loop_t *loop, struct ringo__op *op, int res, unsigned flags)
{
	ringo_stream_t *s = op->owner;
	struct ringo__bufpool *p = L(loop)->bufpool;
	bool more = flags & RINGO_CQE_F_MORE;
	uint32_t bid = RINGO__NO_BID;

	/* Not idle (park.c); but the sweep's cancel leaves PARK_DUE for the
	 * re-arm below, which parks. */
	if (res != -ECANCELED)
		s->sflags &= ~(STREAM_IDLE | STREAM_PARK_DUE);
	if (flags & RINGO_CQE_F_BUFFER)
		bid = ringo_cqe_buffer_id(&(struct ringo_cqe){ .flags = flags });
	else if (!p->br)
		bid = s->lent_bid;	/* plain mode: the buffer we lent */
	if (!more) {
		s->rd_id = 0;
		/* lent_bid shares its slot with the stash: only plain mode,
		 * where no stash exists while a recv is in flight, owns it. */
		if (!p->br)
			s->lent_bid = RINGO__NO_BID;
	}
	if (bid != RINGO__NO_BID && !ringo__pool_addr(p, bid))
		bid = RINGO__NO_BID;	/* an id we never gave out: ignore it */
	if (bid != RINGO__NO_BID && p->br && p->ring_free)
		p->ring_free--;		/* the kernel took it from the ring */
	if (res > 0 && bid != RINGO__NO_BID) {
		/* Behind stashed data while that is still being reported. */
		if (reading(s) && !stashed(s))
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
	if (!s->rd_id && reading(s) && !waiting(s))
		arm_recv(s);
}

/* Never with data stashed: that is reported first, and stash_complete
 * arms once it is (plain mode's lent_bid would overwrite stash_tail). */
static int arm_recv(ringo_stream_t *s)
{
	struct ringo__bufpool *p = L(s->loop)->bufpool;
	struct ringo__op *op;
	struct ringo_sqe *sqe;
	uint32_t bid = RINGO__NO_BID;
	bool idle = s->sflags & STREAM_PARK_DUE;

	if (stashed(s))
		return 0;
	/* An idle stream, or with PARK_READS one that never received, waits
	 * for data in the epoll set (if that fails, it just receives). */
	s->sflags &= ~STREAM_PARK_DUE;
	if ((idle || ((L(s->loop)->flags & RINGO_LOOP_PARK_READS) && !(s->sflags & STREAM_WOKE))) &&
	    ringo__park(s) == 0)
		return 0;
	if (!p->br) {
		bid = ringo__pool_take(s->loop, p);
		if (bid == RINGO__NO_BID) {
			wait_for_buffer(s, p);
			return -ENOBUFS;
		}
	}
	op = ringo__op_new(s->loop, ringo__recv_complete, s, (ringo_handle_t *)s);
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
	s->rd_id = op->id;
	if (!L(s->loop)->park_sweeping && !(L(s->loop)->flags & RINGO_LOOP_NO_PARK))
		ringo__park_sweep_start(s->loop);
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
	while (stashed(s) && reading(s)) {
		bid = unstash(s, p);
		deliver(s, p, bid, p->len[bid]);
	}
	if (reading(s) && !stashed(s) && (s->sflags & STREAM_EOF)) {
		s->sflags &= ~STREAM_EOF;
		report_end(s, RINGO_EOF);
	}
	if (reading(s) && !s->rd_id && !waiting(s))
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
	if (!stashed(s) && !(s->sflags & STREAM_EOF)) {
		if (!s->rd_id && !waiting(s) && arm_recv(s) == -ENOMEM)
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
	stop_waiting(s, L(s->loop)->bufpool);
	ringo__unpark(s);
	/* A later read_start begins a fresh idle count (park.c). */
	s->sflags &= ~(STREAM_IDLE | STREAM_PARK_DUE);
	op = s->rd_id ? ringo__op_find(s->loop, s->rd_id) : NULL;
	if (op)
		ringo__op_cancel(s->loop, op);
	return 0;
}

RINGO_EXTERN int ringo_read_keep(ringo_stream_t *s)
{
	struct ringo__bufpool *p;

	if (!s || !(s->sflags & STREAM_IN_READ_CB) || !s->loop || !(p = L(s->loop)->bufpool) ||
	    p->read_bid == RINGO__NO_BID)
		return -EINVAL;
	s->sflags |= STREAM_KEPT;
	p->kept[p->read_bid] = 1;
	return (int)p->read_bid + 1;
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

bool ringo__read_parkable(const ringo_stream_t *s)
{
	return reading(s) && !stashed(s) && !waiting(s);
}

void ringo__read_woke(ringo_stream_t *s)
{
	s->sflags |= STREAM_WOKE;
	s->sflags &= ~STREAM_PARK_DUE;
	if (reading(s) && !waiting(s))
		arm_recv(s);
}

/* Closing: stashed buffers go back; the recv op is cancelled by close
 * (a plain recv's lent_bid stays: its completion gives the buffer back). */
void ringo__read_close(ringo_stream_t *s)
{
	struct ringo__bufpool *p = L(s->loop)->bufpool;

	s->sflags &= ~(STREAM_READING | STREAM_EOF);
	if (!p)
		return;
	stop_waiting(s, p);
	while (stashed(s))
		give_back(p, unstash(s, p));
}
