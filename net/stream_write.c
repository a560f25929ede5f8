/* SPDX-License-Identifier: MIT */
/*
 * The write queue of a stream. One send is in flight at a time; it gathers
 * the unsent part of the queued requests (up to RINGO_STREAM_IOVS buffers)
 * into one send/sendmsg, so many small writes leave in one system call and
 * a partial send is simply continued by the next one. Requests complete in
 * the order they were queued. MSG_NOSIGNAL: a closed peer is -EPIPE, not
 * SIGPIPE.
 *
 * A zero-copy request travels alone. Its send posts two CQEs: the result
 * (with F_MORE), then a notification (F_NOTIF) once the kernel is done with
 * the pages. The result is held until the notification, and the queue
 * does not move before it, so callbacks stay in order and a completed
 * request's buffers are really free.
 */
#include <assert.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"

/*
 * The queue is a ring of requests linked through ->next, held by its tail
 * (tail->next is the head): one pointer in the stream, empty when NULL.
 * Requests leave from the head only, but for the one just queued when its
 * send could not start.
 */
static ringo_write_t *head(ringo_stream_t *s)
{
	return s->write_tail->next;
}

static void enqueue(ringo_stream_t *s, ringo_write_t *req)
{
	if (s->write_tail) {
		req->next = s->write_tail->next;
		s->write_tail->next = req;
	} else {
		req->next = req;
	}
	s->write_tail = req;
}

static void dequeue_head(ringo_stream_t *s)
{
	ringo_write_t *h = head(s);

	if (h == s->write_tail)
		s->write_tail = NULL;
	else
		s->write_tail->next = h->next;
	h->next = NULL;
}

/* Take back the request queued last (a walk: only on -ENOMEM). */
static void dequeue_tail(ringo_stream_t *s)
{
	ringo_write_t *tail = s->write_tail, *prev = tail;

	while (prev->next != tail)
		prev = prev->next;
	if (prev == tail) {
		s->write_tail = NULL;
	} else {
		prev->next = tail->next;
		s->write_tail = prev;
	}
	tail->next = NULL;
}

/* Complete the head request; returns the shutdown that waited for it. */
static ringo_shutdown_t *finish(ringo_stream_t *s, ringo_write_t *req, int status)
{
	ringo_shutdown_t *sd = req->shutdown;

	dequeue_head(s);
	L(s->loop)->active_reqs--;
	req->op_id = 0;
	req->shutdown = NULL;
	req->cb(req, status);
	return sd;
}

ringo_shutdown_t *ringo__write_fail_all(ringo_stream_t *s, int err)
{
	ringo_shutdown_t *sd = NULL;

	while (s->write_tail)
		sd = finish(s, head(s), err);
	s->write_queue_size = 0;
	return sd;
}

/*
 * Consume `n` sent bytes from the front of the queue, completing requests.
 * Returns the shutdown that waited for the last of them, if that one
 * completed (it is the last request queued: nothing is queued after a
 * shutdown).
 */
static ringo_shutdown_t *advance(ringo_stream_t *s, size_t n)
{
	ringo_write_t *req;
	size_t left;

	s->write_queue_size -= n;
	while (s->write_tail) {
		req = head(s);
		while (req->buf_idx < req->nbufs) {
			left = req->bufs[req->buf_idx].iov_len - req->buf_off;
			if (n < left) {
				req->buf_off += n;
				return NULL;
			}
			n -= left;
			req->buf_idx++;
			req->buf_off = 0;
		}
		if (req == s->write_tail)
			return finish(s, req, 0);
		finish(s, req, 0);
		if (s->hflags & HANDLE_CLOSING)
			return NULL;
	}
	return NULL;
}

static struct ringo__send_ctx *ctx_get(ringo_loop_t *loop)
{
	struct ringo__loop *l = L(loop);
	struct ringo__send_ctx *c = l->send_free;

	if (c) {
		l->send_free = c->next;
		return c;
	}
	c = malloc(sizeof(*c));
	if (c) {
		c->all = l->send_all;
		l->send_all = c;
	}
	return c;
}

static void ctx_put(ringo_loop_t *loop, struct ringo__send_ctx *c)
{
	struct ringo__loop *l = L(loop);

	if (!c)
		return;
	c->next = l->send_free;
	l->send_free = c;
}

void ringo__send_ctx_free_all(ringo_loop_t *loop)
{
	struct ringo__loop *l = L(loop);
	struct ringo__send_ctx *c, *next;

	for (c = l->send_all; c; c = next) {
		next = c->all;
		free(c);
	}
	l->send_all = l->send_free = NULL;
}

static void send_complete(ringo_loop_t *loop, struct ringo__op *op, int res, unsigned flags)
{
	ringo_stream_t *s = op->owner;
	ringo_shutdown_t *sd;
	ringo_write_t *req;

	/* A send in flight always has its first request queued, and the
	 * queue moves only below. */
	assert(s->write_tail);
	req = head(s);
	if (s->sflags & STREAM_ZC_SEND) {
		/* The result waits in its request for the notification. */
		if (!(flags & RINGO_CQE_F_NOTIF))
			req->zc_res = res;
		if (flags & RINGO_CQE_F_MORE)
			return;
		res = req->zc_res;
		s->sflags &= ~STREAM_ZC_SEND;
	}
	s->wr_id = 0;
	ctx_put(loop, req->send_ctx);
	req->send_ctx = NULL;
	s->sflags |= STREAM_IN_WRITE_CB;
	if (res < 0)
		sd = ringo__write_fail_all(s, res);
	else
		sd = advance(s, (size_t)res);
	s->sflags &= ~STREAM_IN_WRITE_CB;
	if (s->hflags & HANDLE_CLOSING) {
		/* Closed from a write callback: the queue waits for finalize,
		 * but a shutdown it released has nowhere left to wait. */
		if (sd)
			ringo__shutdown_fail(sd, -ECANCELED);
		return;
	}
	if (s->write_tail)
		ringo__stream_send_next(s);
	else if (sd && ringo__stream_shutdown_now(s, sd))
		ringo__shutdown_fail(sd, -ENOMEM);
}

/*
 * Gather unsent buffers, oldest first, into iov: copied requests
 * together, or one zero-copy request alone (*zc set).
 */
static unsigned gather(ringo_stream_t *s, struct iovec *iov, bool *zc)
{
	ringo_write_t *req = head(s);
	unsigned n = 0, i;
	size_t off;

	*zc = req->wflags & RINGO_WRITE_ZEROCOPY;
	for (;; req = req->next) {
		if (n && (*zc || (req->wflags & RINGO_WRITE_ZEROCOPY)))
			break;
		for (i = req->buf_idx; i < req->nbufs && n < RINGO_STREAM_IOVS; i++) {
			off = i == req->buf_idx ? req->buf_off : 0;
			iov[n].iov_base = (char *)req->bufs[i].iov_base + off;
			iov[n].iov_len = req->bufs[i].iov_len - off;
			n++;
		}
		if (req == s->write_tail || n == RINGO_STREAM_IOVS)
			break;
	}
	return n;
}

/* SEND_ZC and SENDMSG_ZC arrived together (6.0/6.1): probed once a loop. */
static bool zc_usable(ringo_loop_t *loop)
{
	struct ringo__loop *l = L(loop);

	if (!l->send_zc)
		l->send_zc = ringo_ring_op_supported(&l->ring, RINGO_OP_SENDMSG_ZC) == 1 ? 1 : -1;
	return l->send_zc > 0;
}

/* The kernel reads msghdr and iovecs at submit, which may be after this
 * iteration: they live in the lent context until the send completes, held
 * by the queue's head (which stays the head until then). */
static void prep_sendmsg(ringo_stream_t *s, struct ringo__send_ctx *c, struct ringo_sqe *sqe,
			 const struct iovec *iov, unsigned n, bool zc)
{
	memcpy(c->iov, iov, n * sizeof(*iov));
	memset(&c->msg, 0, sizeof(c->msg));
	c->msg.msg_iov = c->iov;
	c->msg.msg_iovlen = n;
	head(s)->send_ctx = c;
	if (zc)
		ringo_prep_sendmsg_zc(sqe, s->fd, &c->msg, MSG_NOSIGNAL);
	else
		ringo_prep_sendmsg(sqe, s->fd, &c->msg, MSG_NOSIGNAL);
}

int ringo__stream_send_next(ringo_stream_t *s)
{
	struct iovec iov[RINGO_STREAM_IOVS];
	struct ringo__send_ctx *c = NULL;
	struct ringo__op *op;
	struct ringo_sqe *sqe;
	unsigned n;
	bool zc;

	if (s->wr_id || !s->write_tail || (s->sflags & STREAM_IN_WRITE_CB))
		return 0;
	n = gather(s, iov, &zc);
	zc = zc && zc_usable(s->loop);
	if (n > 1 && !(c = ctx_get(s->loop)))
		return -ENOMEM;
	op = ringo__op_new(s->loop, send_complete, s, (ringo_handle_t *)s);
	if (!op) {
		ctx_put(s->loop, c);
		return -ENOMEM;
	}
	sqe = ringo__op_sqe(s->loop, op);
	if (n == 1 && zc)
		ringo_prep_send_zc(sqe, s->fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL, 0);
	else if (n == 1)
		ringo_prep_send(sqe, s->fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
	else
		prep_sendmsg(s, c, sqe, iov, n, zc);
	if (zc)
		s->sflags |= STREAM_ZC_SEND;
	s->wr_id = op->id;
	return 0;
}

static int total_len(const struct iovec *bufs, unsigned nbufs, size_t *total)
{
	unsigned i;

	*total = 0;
	for (i = 0; i < nbufs; i++) {
		if (!bufs[i].iov_base && bufs[i].iov_len)
			return -EINVAL;
		if (bufs[i].iov_len > SSIZE_MAX - *total)
			return -EINVAL;
		*total += bufs[i].iov_len;
	}
	return 0;
}

RINGO_EXTERN int ringo_write(ringo_write_t *req, ringo_stream_t *s, const struct iovec *bufs,
			     unsigned nbufs, ringo_write_cb cb)
{
	return ringo_write_flags(req, s, bufs, nbufs, 0, cb);
}

RINGO_EXTERN int ringo_write_flags(ringo_write_t *req, ringo_stream_t *s,
				   const struct iovec *bufs, unsigned nbufs, unsigned flags,
				   ringo_write_cb cb)
{
	size_t total;
	int ret;

	if (!req || !s || !bufs || !cb || !nbufs || nbufs > IOV_MAX ||
	    (flags & ~RINGO_WRITE_ZEROCOPY) ||
	    (s->type != RINGO_HANDLE_TCP && s->type != RINGO_HANDLE_UNIX) ||
	    !(s->hflags & HANDLE_INIT) || (s->hflags & (HANDLE_CLOSING | HANDLE_CLOSED)))
		return -EINVAL;
	if (s->fd < 0 || !(s->sflags & STREAM_CONNECTED))
		return -ENOTCONN;
	if (s->sflags & STREAM_SHUT_WR)
		return -EPIPE;
	ret = total_len(bufs, nbufs, &total);
	if (ret)
		return ret;
	req->loop = s->loop;
	req->type = RINGO_REQ_WRITE;
	req->handle = s;
	req->cb = cb;
	req->bufs = bufs;
	req->nbufs = nbufs;
	req->wflags = flags;
	req->buf_idx = 0;
	req->buf_off = 0;
	req->zc_res = 0;
	req->send_ctx = NULL;
	req->shutdown = NULL;
	req->op_id = 0;
	req->rflags = 0;
	req->heap_index = HEAP_NONE;
	enqueue(s, req);
	s->write_queue_size += total;
	L(s->loop)->active_reqs++;
	ret = ringo__stream_send_next(s);
	if (ret) {
		dequeue_tail(s);
		s->write_queue_size -= total;
		L(s->loop)->active_reqs--;
	}
	return ret;
}
