/* SPDX-License-Identifier: MIT */
/*
 * Timers. A loop's timers sit in buckets, one per deadline millisecond
 * (bucket.h), ordered by a heap of buckets; request deadlines have a heap
 * of their own (deadline.c). Only the nearest of both ever reaches the
 * kernel, as the time limit of the loop's io_uring_enter wait. Starting,
 * stopping and firing a timer cost no system call, and no malloc beyond
 * the amortised growth described in bucket.h.
 */
#include "loop_internal.h"

/*
 * The timer's size is what bench/timers measures against libev: keep it.
 * Its repeat and position live in the handle's priv, which is the timer's
 * own until ringo_close (closing hands those bytes to the close queue, so
 * nothing here reads them once HANDLE_CLOSING is set).
 */
#if UINTPTR_MAX == UINT64_MAX
_Static_assert(sizeof(ringo_timer_t) == 48, "ringo_timer_t grew past 48 bytes");
#endif

#define REPEAT(t) ((t)->priv.own.u64)

/* An initialised timer: type and flags are checked before the loop
 * pointer is ever followed. */
static bool is_timer(const ringo_timer_t *t)
{
	return t && t->type == RINGO_HANDLE_TIMER && (t->hflags & HANDLE_INIT) && t->loop;
}

/* ... and not closing or closed: priv is still the timer's. */
static bool valid(const ringo_timer_t *t)
{
	return is_timer(t) && !(t->hflags & (HANDLE_CLOSING | HANDLE_CLOSED));
}

RINGO_EXTERN int ringo_timer_init(ringo_loop_t *loop, ringo_timer_t *t)
{
	if (!loop || !t || !(L(loop)->state & LOOP_READY))
		return -EINVAL;
	ringo__handle_init(loop, (ringo_handle_t *)t, RINGO_HANDLE_TIMER);
	t->cb = NULL;
	REPEAT(t) = 0;
	TB_POS(t) = TB_NONE;
	return 0;
}

static void unschedule(ringo_timer_t *t)
{
	tb_remove(&L(t->loop)->timers, t);
}

/* A (re)start goes to the back of its deadline's line: FIFO by start. */
RINGO_EXTERN int ringo_timer_start(ringo_timer_t *t, ringo_timer_cb cb, int64_t timeout_ms,
				   int64_t repeat_ms)
{
	struct ringo__loop *l;
	int ret;

	if (!valid(t) || !cb || timeout_ms < 0 || repeat_ms < 0)
		return -EINVAL;
	l = L(t->loop);
	unschedule(t);
	ret = tb_insert(&l->timers, t, deadline_after(ringo__now(l), (uint64_t)timeout_ms));
	if (ret) {
		ringo__handle_stop((ringo_handle_t *)t);
		return ret;
	}
	t->cb = cb;
	REPEAT(t) = (uint64_t)repeat_ms;
	ringo__handle_start((ringo_handle_t *)t);
	return 0;
}

RINGO_EXTERN int ringo_timer_stop(ringo_timer_t *t)
{
	if (!is_timer(t))
		return -EINVAL;
	/* A closing timer is already out of its line (the close hook). */
	if (!valid(t))
		return 0;
	unschedule(t);
	ringo__handle_stop((ringo_handle_t *)t);
	return 0;
}

RINGO_EXTERN int ringo_timer_again(ringo_timer_t *t)
{
	uint64_t repeat;

	if (!valid(t) || !t->cb)
		return -EINVAL;
	repeat = REPEAT(t);
	if (!repeat)
		return 0;
	return ringo_timer_start(t, t->cb, (int64_t)repeat, (int64_t)repeat);
}

RINGO_EXTERN int ringo_timer_set_repeat(ringo_timer_t *t, int64_t repeat_ms)
{
	if (!valid(t) || repeat_ms < 0)
		return -EINVAL;
	REPEAT(t) = (uint64_t)repeat_ms;
	return 0;
}

RINGO_EXTERN uint64_t ringo_timer_get_repeat(const ringo_timer_t *t)
{
	return valid(t) ? REPEAT(t) : 0;
}

RINGO_EXTERN uint64_t ringo_timer_get_due_in(const ringo_timer_t *t)
{
	struct ringo__loop *l;
	uint64_t deadline, now;

	if (!valid(t) || TB_POS(t) == TB_NONE)
		return 0;
	l = L(t->loop);
	deadline = tb_deadline_of(&l->timers, t);
	now = ringo__now(l);
	return deadline > now ? deadline - now : 0;
}

void ringo__timer_close(ringo_handle_t *h)
{
	unschedule((ringo_timer_t *)h);
}

/*
 * The repeat rule: keep the phase of the first deadline. Fell behind by k
 * whole periods? Skip them: the next deadline is the first one after now.
 */
static uint64_t next_deadline(uint64_t prev, uint64_t repeat, uint64_t now)
{
	uint64_t next = deadline_after(prev, repeat);

	if (next <= now)
		next = deadline_after(prev, ((now - prev) / repeat + 1) * repeat);
	return next;
}

static void fire_timer(struct ringo__loop *l, ringo_timer_t *t, uint64_t deadline)
{
	uint64_t repeat = REPEAT(t);

	/* Rescheduled before the callback, so the callback may stop,
	 * restart or close it like any other timer. The new bucket is a
	 * queued one: never the detached bucket being walked. */
	if (!repeat || tb_insert(&l->timers, t, next_deadline(deadline, repeat, ringo__now(l))))
		ringo__handle_stop((ringo_handle_t *)t);
	t->cb(t);
}

/*
 * Walk a detached bucket's line in start order. Callbacks may stop timers
 * still in it (their slots turn NULL) but cannot add any or move its
 * chunks: the line is fixed until tb_release gives it back.
 */
static void fire_bucket(struct ringo__loop *l, struct tbucket *b)
{
	struct tchunk *c;
	ringo_timer_t *t;
	uint32_t id, i, n;

	for (id = b->head; id != TB_NONE; id = c->next) {
		c = tc_get(l->timers.chunks, id);
		n = tb_chunk_len(b, id);
		for (i = 0; i < n; i++)
			if ((t = tb_take(b, c, i)))
				fire_timer(l, t, b->deadline);
	}
	tb_release(&l->timers, b);
}

/*
 * One pass, in deadline order. Every due bucket is detached before any
 * callback runs, so timers (re)started by callbacks, 0 ms ones included,
 * land in new buckets and wait for the next pass: a 0 ms timer can never
 * spin the loop inside one pass. Request deadlines set during the pass
 * are held back by their push count. At equal deadlines timers fire
 * before request deadlines.
 */
void ringo__timers_run(ringo_loop_t *loop)
{
	struct ringo__loop *l = L(loop);
	uint64_t now = ringo__now(l), seq_end = l->deadline_seq;
	struct tbucket *due = tb_detach_due(&l->timers, now), *b;

	while (due) {
		while (ringo__deadlines_fire_one(loop, due->deadline, seq_end))
			;
		b = due;
		due = b->next;
		fire_bucket(l, b);
	}
	while (ringo__deadlines_fire_one(loop, deadline_after(now, 1), seq_end))
		;
}

uint64_t ringo__timers_next(const ringo_loop_t *loop)
{
	uint64_t t = tb_next_deadline(&L(loop)->timers), d = ringo__deadlines_next(loop);

	return t < d ? t : d;
}

void ringo__timers_free(ringo_loop_t *loop)
{
	tb_free_all(&L(loop)->timers);
	ringo__deadlines_free(loop);
}
