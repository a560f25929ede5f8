/* SPDX-License-Identifier: MIT */
/*
 * Timers. All of a loop's timers (and request deadlines, see deadline.c)
 * live in one 4-ary heap keyed by (deadline ms, start order); only the
 * nearest deadline ever reaches the kernel, as the time limit of the
 * loop's io_uring_enter wait. Starting, stopping and firing a timer cost no
 * system call.
 */
#include "loop_internal.h"

/*
 * Heap entries point at timers or, with the low bit set, at requests whose
 * deadline they are. Both are at least 8-byte aligned.
 */
#define REQ_TAG 1UL

static bool is_req(const void *ptr)
{
	return (uintptr_t)ptr & REQ_TAG;
}

static ringo_req_t *as_req(void *ptr)
{
	return (ringo_req_t *)((uintptr_t)ptr & ~REQ_TAG);
}

static void set_index(void *ptr, uint32_t index)
{
	if (is_req(ptr))
		as_req(ptr)->heap_index = index;
	else
		((ringo_timer_t *)ptr)->heap_index = index;
}

static uint64_t add_ms(uint64_t now, uint64_t ms)
{
	return ms > UINT64_MAX - now ? UINT64_MAX : now + ms;
}

static int push(struct ringo__loop *l, void *ptr, uint64_t deadline)
{
	struct heap_ent e = { .deadline = deadline, .seq = l->timer_seq++, .ptr = ptr };

	return heap_push(&l->timers, &e, set_index);
}

static bool valid(const ringo_timer_t *t)
{
	return t && t->loop && t->type == RINGO_HANDLE_TIMER && (t->hflags & HANDLE_INIT) &&
	       !(t->hflags & (HANDLE_CLOSING | HANDLE_CLOSED));
}

RINGO_EXTERN int ringo_timer_init(ringo_loop_t *loop, ringo_timer_t *t)
{
	if (!loop || !t || !(L(loop)->state & LOOP_READY))
		return -EINVAL;
	ringo__handle_init(loop, (ringo_handle_t *)t, RINGO_HANDLE_TIMER);
	t->cb = NULL;
	t->repeat = 0;
	t->heap_index = HEAP_NONE;
	return 0;
}

static void unschedule(ringo_timer_t *t)
{
	if (t->heap_index != HEAP_NONE)
		heap_remove(&L(t->loop)->timers, t->heap_index, set_index);
}

RINGO_EXTERN int ringo_timer_start(ringo_timer_t *t, ringo_timer_cb cb, int64_t timeout_ms,
				   int64_t repeat_ms)
{
	struct ringo__loop *l;
	int ret;

	if (!valid(t) || !cb || timeout_ms < 0 || repeat_ms < 0)
		return -EINVAL;
	l = L(t->loop);
	unschedule(t);
	ret = push(l, t, add_ms(l->now_ms, (uint64_t)timeout_ms));
	if (ret) {
		ringo__handle_stop((ringo_handle_t *)t);
		return ret;
	}
	t->cb = cb;
	t->repeat = (uint64_t)repeat_ms;
	ringo__handle_start((ringo_handle_t *)t);
	return 0;
}

RINGO_EXTERN int ringo_timer_stop(ringo_timer_t *t)
{
	if (!t || t->type != RINGO_HANDLE_TIMER || !(t->hflags & HANDLE_INIT))
		return -EINVAL;
	unschedule(t);
	ringo__handle_stop((ringo_handle_t *)t);
	return 0;
}

RINGO_EXTERN int ringo_timer_again(ringo_timer_t *t)
{
	if (!valid(t) || !t->cb)
		return -EINVAL;
	if (!t->repeat)
		return 0;
	return ringo_timer_start(t, t->cb, (int64_t)t->repeat, (int64_t)t->repeat);
}

RINGO_EXTERN int ringo_timer_set_repeat(ringo_timer_t *t, int64_t repeat_ms)
{
	if (!valid(t) || repeat_ms < 0)
		return -EINVAL;
	t->repeat = (uint64_t)repeat_ms;
	return 0;
}

RINGO_EXTERN uint64_t ringo_timer_get_repeat(const ringo_timer_t *t)
{
	return t ? t->repeat : 0;
}

RINGO_EXTERN uint64_t ringo_timer_get_due_in(const ringo_timer_t *t)
{
	struct ringo__loop *l;
	uint64_t deadline;

	if (!t || !t->loop || t->heap_index == HEAP_NONE)
		return 0;
	l = L(t->loop);
	deadline = l->timers.ents[t->heap_index].deadline;
	return deadline > l->now_ms ? deadline - l->now_ms : 0;
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
	uint64_t next = add_ms(prev, repeat);

	if (next <= now)
		next = add_ms(prev, ((now - prev) / repeat + 1) * repeat);
	return next;
}

static void fire_timer(struct ringo__loop *l, ringo_timer_t *t, uint64_t deadline)
{
	/* Rescheduled before the callback, so the callback may stop,
	 * restart or close it like any other timer. */
	if (!t->repeat || push(l, t, next_deadline(deadline, t->repeat, l->now_ms)))
		ringo__handle_stop((ringo_handle_t *)t);
	t->cb(t);
}

void ringo__deadline_fire(ringo_loop_t *loop, ringo_req_t *req);

/*
 * Entries pushed while this runs (a callback restarting a timer with 0)
 * have seq >= the snapshot and wait for the next iteration: a 0 ms timer
 * can never spin the loop inside one pass.
 */
void ringo__timers_run(ringo_loop_t *loop)
{
	struct ringo__loop *l = L(loop);
	uint64_t snapshot = l->timer_seq, deadline;
	const struct heap_ent *e;
	void *ptr;

	while ((e = heap_min(&l->timers)) && e->deadline <= l->now_ms && e->seq < snapshot) {
		ptr = e->ptr;
		deadline = e->deadline;
		heap_remove(&l->timers, 0, set_index);
		if (is_req(ptr))
			ringo__deadline_fire(loop, as_req(ptr));
		else
			fire_timer(l, ptr, deadline);
	}
}

uint64_t ringo__timers_next(const ringo_loop_t *loop)
{
	const struct heap_ent *e = heap_min(&L(loop)->timers);

	return e ? e->deadline : UINT64_MAX;
}

void ringo__timers_free(ringo_loop_t *loop)
{
	heap_free(&L(loop)->timers);
}

/* Request deadlines share the heap; see deadline.c for what firing does. */
int ringo__req_deadline_set(ringo_req_t *req, uint64_t ms)
{
	struct ringo__loop *l = L(req->loop);
	int ret;

	ringo__req_deadline_clear(req);
	ret = push(l, (void *)((uintptr_t)req | REQ_TAG), add_ms(l->now_ms, ms));
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
		heap_remove(&L(req->loop)->timers, req->heap_index, set_index);
	req->rflags &= ~REQ_DEADLINE;
}
