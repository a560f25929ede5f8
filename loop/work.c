/* SPDX-License-Identifier: MIT */
/*
 * The work pool: a few threads run blocking work (getaddrinfo, readdir...)
 * and hand the request back to the loop thread through the wake eventfd.
 *
 * Requests are linked into the pool's queues through their own work_q
 * node, so queueing never allocates and the queue's length is the number
 * of requests the caller has queued. Threads start on the first request.
 *
 * wstate moves QUEUED -> RUNNING -> DONE under the pool mutex; only a
 * QUEUED request can be cancelled.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "loop_internal.h"

enum { WORK_IDLE = 0, WORK_QUEUED, WORK_RUNNING, WORK_DONE, WORK_CANCELLED };

struct ringo__work_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct ringo_queue todo;	/* queued, FIFO */
	struct ringo_queue done;	/* finished, for the loop thread */
	ringo_loop_t *loop;
	unsigned nthreads;
	int stopping;
	pthread_t threads[];
};

static ringo_work_t *pop_todo(struct ringo__work_pool *p)
{
	ringo_work_t *req = container_of(queue_head(&p->todo), ringo_work_t, work_q);

	queue_remove(&req->work_q);
	return req;
}

static void *worker(void *arg)
{
	struct ringo__work_pool *p = arg;
	ringo_work_t *req;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stopping && queue_empty(&p->todo))
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stopping)
			break;
		req = pop_todo(p);
		req->wstate = WORK_RUNNING;
		pthread_mutex_unlock(&p->mu);
		req->work_cb(req);
		pthread_mutex_lock(&p->mu);
		req->wstate = WORK_DONE;
		queue_insert_tail(&p->done, &req->work_q);
		pthread_mutex_unlock(&p->mu);
		ringo__wake(p->loop);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void stop_threads(struct ringo__work_pool *p, unsigned n)
{
	unsigned i;

	pthread_mutex_lock(&p->mu);
	p->stopping = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < n; i++)
		pthread_join(p->threads[i], NULL);
}

static int start_pool(ringo_loop_t *loop)
{
	struct ringo__loop *l = L(loop);
	unsigned i, n = l->threadpool_size;
	struct ringo__work_pool *p;
	int ret;

	p = calloc(1, sizeof(*p) + n * sizeof(pthread_t));
	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	queue_init(&p->todo);
	queue_init(&p->done);
	p->loop = loop;
	for (i = 0; i < n; i++) {
		ret = pthread_create(&p->threads[i], NULL, worker, p);
		if (ret) {
			stop_threads(p, i);
			free(p);
			return -ret;
		}
	}
	p->nthreads = n;
	l->pool = p;
	return 0;
}

RINGO_EXTERN int ringo_work_queue(ringo_loop_t *loop, ringo_work_t *req, ringo_work_cb work_cb,
				  ringo_after_work_cb after_cb)
{
	struct ringo__loop *l;
	int ret;

	if (!loop || !req || !work_cb || !(L(loop)->state & LOOP_READY))
		return -EINVAL;
	l = L(loop);
	if (req->loop == loop && req->type == RINGO_REQ_WORK && req->wstate != WORK_IDLE)
		return -EBUSY;
	if (!l->pool && (ret = start_pool(loop)))
		return ret;
	ret = ringo__wake_arm(loop);
	if (ret)
		return ret;
	req->loop = loop;
	req->type = RINGO_REQ_WORK;
	req->op_id = 0;
	req->work_cb = work_cb;
	req->after_cb = after_cb;
	queue_init(&req->pending_q);
	l->active_reqs++;
	pthread_mutex_lock(&l->pool->mu);
	req->wstate = WORK_QUEUED;
	queue_insert_tail(&l->pool->todo, &req->work_q);
	pthread_cond_signal(&l->pool->cv);
	pthread_mutex_unlock(&l->pool->mu);
	return 0;
}

void ringo__work_finish(ringo_work_t *req, int status)
{
	L(req->loop)->active_reqs--;
	req->wstate = WORK_IDLE;
	if (req->after_cb)
		req->after_cb(req, status);
}

int ringo__work_cancel(ringo_work_t *req)
{
	struct ringo__work_pool *p = L(req->loop)->pool;
	int state;

	if (!p)
		return -ENOENT;
	pthread_mutex_lock(&p->mu);
	state = req->wstate;
	if (state == WORK_QUEUED) {
		queue_remove(&req->work_q);
		req->wstate = WORK_CANCELLED;
	}
	pthread_mutex_unlock(&p->mu);
	switch (state) {
	case WORK_QUEUED:
		ringo__req_defer(req->loop, (ringo_req_t *)req, -ECANCELED);
		return 0;
	case WORK_IDLE:
		return -ENOENT;
	case WORK_CANCELLED:
		return -EALREADY;
	default:
		return -EBUSY;
	}
}

void ringo__work_drain(ringo_loop_t *loop)
{
	struct ringo__work_pool *p = L(loop)->pool;
	struct ringo_queue q;
	ringo_work_t *req;

	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	queue_move(&p->done, &q);
	pthread_mutex_unlock(&p->mu);
	while (!queue_empty(&q)) {
		req = container_of(queue_head(&q), ringo_work_t, work_q);
		queue_remove(&req->work_q);
		ringo__work_finish(req, 0);
	}
}

void ringo__work_pool_stop(ringo_loop_t *loop)
{
	struct ringo__loop *l = L(loop);
	struct ringo__work_pool *p = l->pool;

	if (!p)
		return;
	stop_threads(p, p->nthreads);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
	l->pool = NULL;
}
