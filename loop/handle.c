/* SPDX-License-Identifier: MIT */
/*
 * Handle life cycle (init, active, ref, close) and the loop's deferred
 * callbacks: close callbacks of handles whose last op finished, and
 * completions of requests that ended without a CQE (work cancelled before
 * it ran). Deferred callbacks never run inline from the call that caused
 * them; they run from ringo_run.
 */
#include "loop_internal.h"

/* Per handle type: what closing must undo (cancel ops, leave lists). */
typedef void (*close_hook_fn)(ringo_handle_t *h);

void ringo__stream_close(ringo_handle_t *h);
void ringo__stream_finalize(ringo_handle_t *h);
void ringo__udp_close(ringo_handle_t *h);
void ringo__udp_finalize(ringo_handle_t *h);

static const close_hook_fn close_hooks[RINGO_HANDLE_TYPE_MAX] = {
	[RINGO_HANDLE_ASYNC] = ringo__async_close,
	[RINGO_HANDLE_TIMER] = ringo__timer_close,
	[RINGO_HANDLE_TCP] = ringo__stream_close,
	[RINGO_HANDLE_UNIX] = ringo__stream_close,
	[RINGO_HANDLE_UDP] = ringo__udp_close,
};

/* Per type: what to release once no op is in flight, before close_cb. */
static const close_hook_fn finalize_hooks[RINGO_HANDLE_TYPE_MAX] = {
	[RINGO_HANDLE_TCP] = ringo__stream_finalize,
	[RINGO_HANDLE_UNIX] = ringo__stream_finalize,
	[RINGO_HANDLE_UDP] = ringo__udp_finalize,
};

void ringo__handle_init(ringo_loop_t *loop, ringo_handle_t *h, int type)
{
	h->loop = loop;
	h->type = (uint8_t)type;
	h->hflags = HANDLE_INIT | HANDLE_REF;
	h->inflight = 0;
	h->priv.close.cb = NULL;
	h->priv.close.next = NULL;
	L(loop)->open_handles++;
}

void ringo__handle_start(ringo_handle_t *h)
{
	if (h->hflags & (HANDLE_ACTIVE | HANDLE_CLOSING))
		return;
	h->hflags |= HANDLE_ACTIVE;
	if (h->hflags & HANDLE_REF)
		L(h->loop)->active_handles++;
}

void ringo__handle_stop(ringo_handle_t *h)
{
	if (!(h->hflags & HANDLE_ACTIVE))
		return;
	h->hflags &= ~HANDLE_ACTIVE;
	if (h->hflags & HANDLE_REF)
		L(h->loop)->active_handles--;
}

void ringo__handle_hide(ringo_handle_t *h)
{
	ringo_unref(h);
	L(h->loop)->open_handles--;
}

static bool valid(const ringo_handle_t *h)
{
	return h && h->loop && (h->hflags & HANDLE_INIT) && !(h->hflags & HANDLE_CLOSED);
}

RINGO_EXTERN void ringo_ref(ringo_handle_t *h)
{
	if (!valid(h) || (h->hflags & HANDLE_REF))
		return;
	h->hflags |= HANDLE_REF;
	if (h->hflags & HANDLE_ACTIVE)
		L(h->loop)->active_handles++;
}

RINGO_EXTERN void ringo_unref(ringo_handle_t *h)
{
	if (!valid(h) || !(h->hflags & HANDLE_REF))
		return;
	h->hflags &= ~HANDLE_REF;
	if (h->hflags & HANDLE_ACTIVE)
		L(h->loop)->active_handles--;
}

RINGO_EXTERN int ringo_has_ref(const ringo_handle_t *h)
{
	return valid(h) && (h->hflags & HANDLE_REF) ? 1 : 0;
}

RINGO_EXTERN int ringo_is_active(const ringo_handle_t *h)
{
	return valid(h) && (h->hflags & HANDLE_ACTIVE) ? 1 : 0;
}

RINGO_EXTERN int ringo_is_closing(const ringo_handle_t *h)
{
	return h && (h->hflags & (HANDLE_CLOSING | HANDLE_CLOSED)) ? 1 : 0;
}

static void queue_close(ringo_handle_t *h)
{
	struct ringo__loop *l = L(h->loop);

	if (h->hflags & HANDLE_CLOSE_QUEUED)
		return;
	h->hflags |= HANDLE_CLOSE_QUEUED;
	h->priv.close.next = NULL;
	if (l->close_tail)
		l->close_tail->priv.close.next = h;
	else
		l->close_head = h;
	l->close_tail = h;
}

RINGO_EXTERN int ringo_close(ringo_handle_t *h, ringo_close_cb close_cb)
{
	if (!valid(h) || h->type <= RINGO_HANDLE_UNKNOWN || h->type >= RINGO_HANDLE_TYPE_MAX)
		return -EINVAL;
	if (h->hflags & HANDLE_CLOSING)
		return -EALREADY;
	/* Atomic: ringo_async_send reads the flag from other threads. */
	__atomic_fetch_or(&h->hflags, (uint8_t)HANDLE_CLOSING, __ATOMIC_RELEASE);
	L(h->loop)->closing_handles++;
	/* The hook first: until now priv is the type's (a timer's place). */
	if (close_hooks[h->type])
		close_hooks[h->type](h);
	h->priv.close.cb = close_cb;
	/* The loop stays alive for it through closing_handles until close_cb. */
	if (h->hflags & HANDLE_ACTIVE) {
		h->hflags &= ~HANDLE_ACTIVE;
		if (h->hflags & HANDLE_REF)
			L(h->loop)->active_handles--;
	}
	if (h->inflight == 0)
		queue_close(h);
	return 0;
}

void ringo__handle_op_done(ringo_handle_t *h)
{
	h->inflight--;
	if ((h->hflags & HANDLE_CLOSING) && h->inflight == 0)
		queue_close(h);
}

void ringo__req_defer(ringo_loop_t *loop, ringo_req_t *req, int res)
{
	req->pending_res = res;
	queue_insert_tail(&L(loop)->deferred, &req->pending_q);
}

static bool run_closes(struct ringo__loop *l)
{
	ringo_handle_t *h = l->close_head, *next;
	bool ran = h != NULL;

	/* Close callbacks may close more handles: those run next time. */
	l->close_head = l->close_tail = NULL;
	for (; h; h = next) {
		next = h->priv.close.next;
		if (finalize_hooks[h->type])
			finalize_hooks[h->type](h);
		h->hflags |= HANDLE_CLOSED;
		l->open_handles--;
		l->closing_handles--;
		/* From here the memory is the caller's: touch nothing after. */
		if (h->priv.close.cb)
			h->priv.close.cb(h);
	}
	return ran;
}

static bool run_deferred(ringo_loop_t *loop)
{
	struct ringo__loop *l = L(loop);
	struct ringo_queue q;
	ringo_req_t *req;
	bool ran = !queue_empty(&l->deferred);

	queue_move(&l->deferred, &q);
	while (!queue_empty(&q)) {
		req = container_of(queue_head(&q), ringo_req_t, pending_q);
		queue_remove(&req->pending_q);
		if (req->type == RINGO_REQ_WORK)
			ringo__work_finish((ringo_work_t *)req, req->pending_res);
	}
	return ran;
}

bool ringo__run_pending(ringo_loop_t *loop)
{
	bool ran = run_deferred(loop);

	return run_closes(L(loop)) || ran;
}
