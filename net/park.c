/* SPDX-License-Identifier: MIT */
/*
 * Parked reads (RINGO_LOOP_PARK_READS): a stream whose read starts before
 * it has ever received waits in the loop's epoll set instead of holding a
 * multishot recv, and arms that recv when it first becomes readable. An
 * armed recv costs an op record and an id-table entry in user memory for
 * as long as the connection stays silent; a parked stream costs nothing
 * outside the kernel (its epoll entry), as under libuv. The price is one
 * epoll_ctl per parked stream and one loop iteration more before its first
 * data.
 *
 * One multishot poll on the epoll fd stands for every parked stream; its
 * CQE says some are readable, and epoll_wait (which never blocks here)
 * says which. Entries are EPOLLONESHOT, and a stream leaves the set
 * (EPOLL_CTL_DEL, synchronous) when it wakes, on read_stop and on close,
 * so an event only ever names a stream still parked: the events of one
 * epoll_wait are handled before any user callback can run.
 *
 * A parked stream's rd_id is RINGO__ID_PARKED, never in the id table: to
 * the read code it is a recv in flight, so nothing arms a second one.
 */
#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "net_internal.h"

#define PARK_EVENTS 64

static void park_complete(ringo_loop_t *loop, struct ringo__op *op, int res, unsigned flags);

/* The epoll fd and its poll op, made on the first park. */
static int park_arm(ringo_loop_t *loop)
{
	struct ringo__loop *l = L(loop);
	struct ringo__op *op;

	if (l->park_fd < 0 && (l->park_fd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		l->park_fd = -1;
		return -errno;
	}
	if (l->park_id)
		return 0;
	op = ringo__op_new(loop, park_complete, loop, NULL);
	if (!op)
		return -ENOMEM;
	ringo_prep_poll_multishot(ringo__op_sqe(loop, op), l->park_fd, POLLIN);
	l->park_id = op->id;
	return 0;
}

int ringo__park(ringo_stream_t *s)
{
	struct ringo__loop *l = L(s->loop);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT,
				  .data.ptr = s };
	int ret = park_arm(s->loop);

	if (ret)
		return ret;
	if (epoll_ctl(l->park_fd, EPOLL_CTL_ADD, s->fd, &ev) < 0)
		return -errno;
	s->rd_id = RINGO__ID_PARKED;
	return 0;
}

void ringo__unpark(ringo_stream_t *s)
{
	if (s->rd_id != RINGO__ID_PARKED)
		return;
	(void)epoll_ctl(L(s->loop)->park_fd, EPOLL_CTL_DEL, s->fd, NULL);
	s->rd_id = 0;
}

/* Readable parked streams arm their recv; the set is drained, since the
 * poll reports only new readiness. */
static void wake_parked(ringo_loop_t *loop)
{
	struct epoll_event ev[PARK_EVENTS];
	ringo_stream_t *s;
	int n, i;

	do {
		n = epoll_wait(L(loop)->park_fd, ev, PARK_EVENTS, 0);
		for (i = 0; i < n; i++) {
			s = ev[i].data.ptr;
			if (s->rd_id != RINGO__ID_PARKED)
				continue;
			/* Out of the set: a disabled entry would still hook
			 * the socket's wakeups and cost every packet after. */
			ringo__unpark(s);
			ringo__read_woke(s);
		}
	} while (n == PARK_EVENTS);
}

static void park_complete(ringo_loop_t *loop, struct ringo__op *op, int res, unsigned flags)
{
	struct ringo__loop *l = L(loop);

	(void)op;
	if (!(flags & RINGO_CQE_F_MORE))
		l->park_id = 0;
	if (res >= 0)
		wake_parked(loop);
	/* The poll ended (an overflowed CQ, or an old kernel's one-shot):
	 * arm it again while the loop lives. */
	if (!l->park_id && res != -ECANCELED && (l->state & LOOP_READY))
		(void)park_arm(loop);
}

void ringo__park_free(ringo_loop_t *loop)
{
	struct ringo__loop *l = L(loop);

	if (l->park_fd >= 0)
		close(l->park_fd);
	l->park_fd = -1;
	l->park_id = 0;
}
