/* SPDX-License-Identifier: MIT */
/*
 * Parked reads: a stream's read waits in the loop's epoll set instead of
 * holding a recv, and arms its recv again when the socket is readable. An
 * armed recv costs an op record and an id-table entry in user memory for
 * as long as the connection stays silent; a parked stream costs nothing
 * outside the kernel (its epoll entry), as under libuv. The price is two
 * epoll_ctl (in, and out on waking) and one loop iteration more before the
 * data.
 *
 * Which reads park:
 *  - idle ones, by default (RINGO_LOOP_NO_PARK: none). The idle sweep,
 *    every park_idle_ms while any stream recv is armed, marks each armed
 *    recv, and any CQE for it clears the mark. A recv still marked at the
 *    next sweep (silent for one to two periods) is cancelled with
 *    STREAM_PARK_DUE set, and its last CQE parks the stream; data that
 *    beats the cancel clears PARK_DUE, and the stream keeps receiving.
 *  - with RINGO_LOOP_PARK_READS, also a read from its start until the
 *    stream first becomes readable (STREAM_WOKE).
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
 *
 * The sweep's cancels go SWEEP_BATCH at a time, so a sweep of many streams
 * never overfills the SQ (the overflow pool never shrinks). Each round
 * also trims the record slabs that the recvs it parked emptied. Its clock
 * is a TIMEOUT op, not a loop timer: a pending timer would make every wait
 * of a busy loop a timed one (an hrtimer armed per io_uring_enter, ~3% of
 * a ping-pong).
 */
#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "net_internal.h"

#define PARK_EVENTS 64
#define SWEEP_BATCH 64U		/* recvs cancelled per sweep step */
#define SWEEP_NEXT_MS 1		/* next step while cancels remain */

struct sweep_walk {
	unsigned budget;	/* cancels left this step */
	unsigned armed;		/* recvs seen */
};

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
	l->metrics.parks++;
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
	if (!l->park_id && res != -ECANCELED && !(l->state & LOOP_CLOSING))
		(void)park_arm(loop);
}

void ringo__park_free(ringo_loop_t *loop)
{
	struct ringo__loop *l = L(loop);

	if (l->park_fd >= 0)
		close(l->park_fd);
	l->park_fd = -1;
	l->park_id = 0;
	l->park_sweeping = 0;
}

/* Mark a recv, or cancel one still marked; false (not visited) when this
 * step's cancels are spent. */
static bool sweep_visit(ringo_loop_t *loop, struct ringo__op *op, void *arg)
{
	struct sweep_walk *w = arg;
	ringo_stream_t *s = op->owner;

	if (!w->budget)
		return false;
	w->armed++;
	if (s->rd_id != op->id || !ringo__read_parkable(s))
		return true;
	if (!(s->sflags & STREAM_IDLE)) {
		s->sflags |= STREAM_IDLE;
		return true;
	}
	/* Its last CQE re-arms through arm_recv, which parks it while
	 * PARK_DUE holds: data that beats the cancel clears it. Out of
	 * records, it stays marked for the next round. */
	if (ringo__op_cancel(loop, op) < 0)
		return true;
	s->sflags = (uint16_t)((s->sflags & ~STREAM_IDLE) | STREAM_PARK_DUE);
	w->budget--;
	return true;
}

static void sweep_complete(ringo_loop_t *loop, struct ringo__op *op, int res, unsigned flags);

/* The next sweep step in `ms`; without a record, the next armed recv
 * starts the sweep again. */
static void sweep_arm(ringo_loop_t *loop, uint64_t ms)
{
	struct ringo__loop *l = L(loop);
	struct ringo__op *op = ringo__op_new(loop, sweep_complete, loop, NULL);

	l->park_sweeping = op != NULL;
	if (!op)
		return;
	op->ts.tv_sec = (int64_t)(ms / 1000);
	op->ts.tv_nsec = (long long)(ms % 1000) * 1000000LL;
	ringo_prep_timeout(ringo__op_sqe(loop, op), &op->ts, 0, 0);
}

static void sweep_complete(ringo_loop_t *loop, struct ringo__op *op, int res, unsigned flags)
{
	struct ringo__loop *l = L(loop);
	struct sweep_walk w = { .budget = SWEEP_BATCH };
	bool round_start = !l->park_pos.slab, round_done;

	(void)op;
	(void)flags;
	if (res == -ECANCELED || (l->state & LOOP_CLOSING)) {
		l->park_sweeping = 0;
		return;
	}
	/* The loop trims before it sleeps only past RINGO__TRIM_SLACK free
	 * records, and a trim that freed nothing waits for completions an
	 * idle server may not have: each round (a walk of the free list every
	 * park_idle_ms) gives back the slabs of recvs it parked last time. */
	if (round_start) {
		l->park_armed = 0;
		if (l->ops_total > l->ids_live)
			ringo__ops_trim(loop);
	}
	/* A round is one walk, SWEEP_BATCH cancels a step: the next step
	 * goes on where this one stopped. */
	round_done = ringo__ops_each(loop, ringo__recv_complete, sweep_visit, &w, &l->park_pos);
	l->park_armed += w.armed;
	if (round_done && !l->park_armed) {
		l->park_sweeping = 0;	/* the next armed recv restarts it */
		return;
	}
	sweep_arm(loop, round_done ? l->park_idle_ms : SWEEP_NEXT_MS);
}

void ringo__park_sweep_start(ringo_loop_t *loop)
{
	L(loop)->park_pos.slab = NULL;
	sweep_arm(loop, L(loop)->park_idle_ms);
}
