/* SPDX-License-Identifier: MIT */
/*
 * Waking the loop from other threads: async handles and the work pool's
 * completions share one eventfd. The loop keeps one READ of it in flight
 * (an internal op); a write from any thread completes that read on the
 * loop thread, which then runs the async callbacks that were sent and the
 * work that finished.
 *
 * Coalescing: `wake_pending` is set by the first waker and cleared by the
 * loop before it scans, so N sends between two scans cost one write(2).
 * A send that races with the scan either is seen by it or finds
 * wake_pending clear and writes again: never lost.
 */
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "loop_internal.h"

int ringo__wake_init(ringo_loop_t *loop)
{
	struct ringo__loop *l = L(loop);

	/* Blocking on purpose: io_uring fails reads of O_NONBLOCK files with
	 * -EAGAIN instead of arming its poll; a blocking eventfd read waits. */
	l->wake_fd = eventfd(0, EFD_CLOEXEC);
	return l->wake_fd < 0 ? -errno : 0;
}

static void run_asyncs(struct ringo__loop *l)
{
	struct ringo_queue q;
	ringo_async_t *h;

	/* Callbacks may close any async handle, including ones not yet
	 * visited: walk a detached list, putting each back before its call. */
	queue_move(&l->asyncs, &q);
	while (!queue_empty(&q)) {
		h = container_of(queue_head(&q), ringo_async_t, async_q);
		queue_remove(&h->async_q);
		queue_insert_tail(&l->asyncs, &h->async_q);
		if (__atomic_exchange_n(&h->pending, 0, __ATOMIC_ACQ_REL) &&
		    !(h->hflags & HANDLE_CLOSING))
			h->cb(h);
	}
}

static bool wake_needed(const struct ringo__loop *l)
{
	return !queue_empty(&l->asyncs) || l->pool;
}

static void wake_complete(ringo_loop_t *loop, struct ringo__op *op, int res, unsigned flags)
{
	struct ringo__loop *l = L(loop);

	(void)op;
	(void)flags;
	l->wake_armed = 0;
	__atomic_store_n(&l->wake_pending, 0, __ATOMIC_SEQ_CST);
	if (res == -ECANCELED)
		return;
	run_asyncs(l);
	ringo__work_drain(loop);
	if (wake_needed(l))
		ringo__wake_arm(loop);
}

int ringo__wake_arm(ringo_loop_t *loop)
{
	struct ringo__loop *l = L(loop);
	struct ringo__op *op;

	if (l->wake_armed)
		return 0;
	op = ringo__op_new(loop, wake_complete, NULL, NULL);
	if (!op)
		return -ENOMEM;
	ringo_prep_read(ringo__op_sqe(loop, op), l->wake_fd, &l->wake_buf, sizeof(l->wake_buf),
			0);
	l->wake_id = op->id;
	l->wake_armed = 1;
	return 0;
}

/*
 * Kernel quirk (seen on 6.18): when our wake read completes because another
 * thread wrote wake_fd, io_uring defers the signal of the registered host
 * eventfd (RCU) and its "signal pending" bit is never cleared, so every
 * later deferred signal is lost. An embedding host would then sleep through
 * async sends and finished work. So a waker signals the host fd itself too.
 */
void ringo__wake(ringo_loop_t *loop)
{
	struct ringo__loop *l = L(loop);
	int host_fd;

	if (__atomic_exchange_n(&l->wake_pending, 1, __ATOMIC_SEQ_CST) == 0) {
		(void)eventfd_write(l->wake_fd, 1);
		host_fd = __atomic_load_n(&l->host_fd, __ATOMIC_ACQUIRE);
		if (host_fd >= 0)
			(void)eventfd_write(host_fd, 1);
	}
}

void ringo__wake_fd_close(ringo_loop_t *loop)
{
	struct ringo__loop *l = L(loop);

	if (l->wake_fd >= 0)
		close(l->wake_fd);
	l->wake_fd = -1;
}

RINGO_EXTERN int ringo_async_init(ringo_loop_t *loop, ringo_async_t *h, ringo_async_cb cb)
{
	int ret;

	if (!loop || !h || !cb || !(L(loop)->state & LOOP_READY))
		return -EINVAL;
	ret = ringo__wake_arm(loop);
	if (ret)
		return ret;
	ringo__handle_init(loop, (ringo_handle_t *)h, RINGO_HANDLE_ASYNC);
	h->cb = cb;
	h->pending = 0;
	queue_insert_tail(&L(loop)->asyncs, &h->async_q);
	ringo__handle_start((ringo_handle_t *)h);
	return 0;
}

RINGO_EXTERN int ringo_async_send(ringo_async_t *h)
{
	if (!h || !h->loop || h->type != RINGO_HANDLE_ASYNC ||
	    (__atomic_load_n(&h->hflags, __ATOMIC_RELAXED) & HANDLE_CLOSING))
		return -EINVAL;
	if (__atomic_exchange_n(&h->pending, 1, __ATOMIC_ACQ_REL) == 0)
		ringo__wake(h->loop);
	return 0;
}

void ringo__async_close(ringo_handle_t *h)
{
	queue_remove(&((ringo_async_t *)h)->async_q);
}
