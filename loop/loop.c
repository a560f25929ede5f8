/* SPDX-License-Identifier: MIT */
/*
 * The loop: set-up of its ring, the run modes, and one iteration:
 *
 *   deferred callbacks -> aborted ops -> overflow queue into the SQ ->
 *   one io_uring_enter (submit, and wait if nothing else is due) ->
 *   drain the CQ in batches, dispatching each CQE -> deferred callbacks.
 *
 * The ring is created disabled and enabled by the first ringo_run, so the
 * thread that runs the loop (not the one that created it) becomes the
 * ring's single issuer.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>

#include "loop_internal.h"
#include "op_hot.h"
#include "ring_internal.h"

void ringo__pool_free(ringo_loop_t *loop);
void ringo__park_free(ringo_loop_t *loop);
void ringo__send_ctx_free_all(ringo_loop_t *loop);

#define DEFAULT_ENTRIES 256
#define CQE_BATCH 64		/* CQEs copied out per pass while draining */
#define LOOP_ENABLED (1U << 3)	/* the disabled ring was enabled */

RINGO_EXTERN void ringo_loop_opts_init(struct ringo_loop_opts *opts)
{
	if (!opts)
		return;
	memset(opts, 0, sizeof(*opts));
	opts->entries = DEFAULT_ENTRIES;
	opts->sqpoll_idle_ms = 1000;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The loop time (ms) from a CLOCK_MONOTONIC reading. */
static void set_now(struct ringo__loop *l, uint64_t ns)
{
	l->now_ns = ns;
	l->now_ms = ns / 1000000ULL;
	l->now_stale = 0;
}

void ringo__now_refresh(struct ringo__loop *l)
{
	set_now(l, mono_ns());
}

/* The loop time's clock reading, ns, read now if it went stale. */
static uint64_t now_ns(struct ringo__loop *l)
{
	(void)ringo__now(l);
	return l->now_ns;
}

RINGO_EXTERN void ringo_update_time(ringo_loop_t *loop)
{
	if (loop)
		ringo__now_refresh(L(loop));
}

RINGO_EXTERN uint64_t ringo_now(const ringo_loop_t *loop)
{
	return loop ? ringo__now(L(loop)) : 0;
}

/* One io_uring_setup of the loop's ring with `flags` on top of its own. */
static int try_setup(struct ringo__loop *l, const struct ringo_loop_opts *o, unsigned flags)
{
	struct ringo_params p;

	memset(&p, 0, sizeof(p));
	p.flags = RINGO_SETUP_CQSIZE | RINGO_SETUP_R_DISABLED | flags;
	p.cq_entries = o->cq_entries ? o->cq_entries : o->entries * 4;
	if (o->flags & RINGO_LOOP_SQPOLL) {
		p.flags |= RINGO_SETUP_SQPOLL;
		p.sq_thread_idle = o->sqpoll_idle_ms ? o->sqpoll_idle_ms : 1000;
	}
	return ringo_ring_init_params(&l->ring, o->entries, &p);
}

/*
 * Best first: SINGLE_ISSUER + DEFER_TASKRUN (6.1) runs completion work only
 * when we ask for events, in batches; then COOP_TASKRUN (5.19), which at
 * least avoids interrupting us; then plain. Each step down is taken only
 * when the kernel refuses the flags with -EINVAL.
 *
 * Within a tier, NO_SQARRAY (6.6) comes first: the kernel then takes SQEs
 * in ring order instead of loading an index per SQE from the SQ array, a
 * few percent of a small op's whole cost. Older kernels refuse the unknown
 * flag with -EINVAL, and the same tier is tried with the array.
 */
static int setup_ring(struct ringo__loop *l, const struct ringo_loop_opts *o)
{
	static const unsigned tiers[] = {
		RINGO_SETUP_SINGLE_ISSUER | RINGO_SETUP_DEFER_TASKRUN,
		RINGO_SETUP_COOP_TASKRUN,
		0,
	};
	const unsigned ntiers = sizeof(tiers) / sizeof(tiers[0]);
	unsigned i = (o->flags & RINGO_LOOP_NO_DEFER_TASKRUN) ? 1 : 0, array;
	int ret = -EINVAL;

	/* The SQPOLL thread is the issuer: no SINGLE_ISSUER tiers. */
	if (o->flags & RINGO_LOOP_SQPOLL)
		i = ntiers - 1;
	for (; i < ntiers; i++) {
		/* array 0: NO_SQARRAY; 1: the index array. */
		for (array = (o->flags & RINGO_LOOP_SQ_ARRAY) ? 1 : 0; array < 2; array++) {
			ret = try_setup(l, o, tiers[i] | (array ? 0 : RINGO_SETUP_NO_SQARRAY));
			if (ret != -EINVAL)
				return ret;
		}
	}
	return ret;
}

static int check_opts(const struct ringo_loop_opts *o)
{
	if (o->entries & (o->entries - 1) || o->entries > RINGO_RING_MAX_ENTRIES)
		return -EINVAL;
	if (o->cq_entries && o->cq_entries < o->entries)
		return -EINVAL;
	if (o->flags & ~RINGO_LOOP_KNOWN_FLAGS)
		return -EINVAL;
	return 0;
}

static unsigned pool_size(const struct ringo_loop_opts *o)
{
	const char *env = getenv("RINGO_THREADPOOL_SIZE");
	long n = o->threadpool_size;

	if (!n && env)
		n = strtol(env, NULL, 10);
	if (n <= 0)
		n = 4;
	return n > 128 ? 128 : (unsigned)n;
}

RINGO_EXTERN int ringo_loop_init(ringo_loop_t *loop, const struct ringo_loop_opts *opts)
{
	struct ringo_loop_opts defaults;
	struct ringo__loop *l;
	int ret;

	if (!loop)
		return -EINVAL;
	if (!opts) {
		ringo_loop_opts_init(&defaults);
		opts = &defaults;
	}
	ret = check_opts(opts);
	if (ret)
		return ret;
	if (!opts->entries) {
		defaults = *opts;
		defaults.entries = DEFAULT_ENTRIES;
		opts = &defaults;
	}
	memset(loop->private_, 0, sizeof(loop->private_));
	l = L(loop);
	l->wake_fd = -1;
	l->host_fd = -1;
	l->park_fd = -1;
	l->flags = opts->flags;
	l->threadpool_size = pool_size(opts);
	l->park_idle_ms = opts->park_idle_ms ? opts->park_idle_ms : RINGO__PARK_IDLE_MS;
	queue_init(&l->deferred);
	queue_init(&l->asyncs);
	ret = setup_ring(l, opts);
	if (ret)
		return ret;
	ret = ringo__ops_init(loop);
	if (ret)
		goto err;
	ret = ringo__wake_init(loop);
	if (ret)
		goto err;
	l->state = LOOP_READY;
	ringo_update_time(loop);
	return 0;
err:
	ringo__wake_fd_close(loop);
	ringo__ops_free(loop);
	ringo_ring_exit(&l->ring);
	memset(loop->private_, 0, sizeof(loop->private_));
	return ret;
}

/* Close callbacks or deferred finishes waiting: ringo__run_pending's work. */
static bool has_pending(const struct ringo__loop *l)
{
	return l->close_head || !queue_empty(&l->deferred);
}

static bool has_deferred_work(const struct ringo__loop *l)
{
	return has_pending(l) || !queue_empty(&l->aborted);
}

/* Closes, deferred finishes and aborted ops; true if any callback ran. */
static bool run_deferred(ringo_loop_t *loop)
{
	bool ran = ringo__run_pending(loop);

	return ringo__ops_run_aborted(loop) || ran;
}

/* Closing handles count until their close_cb: a socket whose cancelled ops
 * have not all reported yet still needs the loop to run. */
static int alive(const struct ringo__loop *l)
{
	return l->active_handles || l->active_reqs || l->closing_handles || has_deferred_work(l);
}

RINGO_EXTERN int ringo_loop_alive(const ringo_loop_t *loop)
{
	return loop && (L(loop)->state & LOOP_READY) && alive(L(loop)) ? 1 : 0;
}

RINGO_EXTERN void ringo_stop(ringo_loop_t *loop)
{
	if (loop)
		L(loop)->state |= LOOP_STOP;
}

static bool use_ext_arg(const struct ringo__loop *l)
{
	return (l->ring.features & RINGO_FEAT_EXT_ARG) && !(l->flags & RINGO_LOOP_NO_EXT_ARG);
}

/* Wait for one CQE, or until `deadline` (loop ms) with EXT_ARG. */
static int wait_until(struct ringo__loop *l, uint64_t deadline, uint64_t now)
{
	uint64_t end = deadline * 1000000ULL;
	struct ringo_timespec ts = { 0, 0 };

	/* Rounding up to the ms boundary: waking early would find the timer
	 * not yet due and cost another round trip. */
	if (end > now) {
		ts.tv_sec = (int64_t)((end - now) / 1000000000ULL);
		ts.tv_nsec = (long long)((end - now) % 1000000000ULL);
	}
	return ringo_ring_submit_and_wait_timeout(&l->ring, 1, &ts, NULL);
}

/*
 * Submit what is queued; with `block`, also wait for one completion or
 * the deadline, whichever is first. The loop time goes stale across a
 * wait: callbacks after it see the time they run at. With
 * RINGO_LOOP_WAIT_TIME the wait is timed (wait_ns), which takes a clock
 * read on each side of it, as libuv's idle-time metric does.
 */
static int enter(struct ringo__loop *l, bool block, uint64_t deadline)
{
	bool timed = block && (l->flags & RINGO_LOOP_WAIT_TIME);
	uint64_t t0 = timed ? now_ns(l) : 0, t1;
	int ret;

	if (block && deadline != UINT64_MAX && use_ext_arg(l))
		ret = wait_until(l, deadline, now_ns(l));
	else if (l->ring.flags & RINGO_SETUP_SQPOLL)
		ret = ringo_ring_submit_and_wait(&l->ring, block ? 1 : 0);
	else
		/* Always GETEVENTS: with DEFER_TASKRUN completions are only
		 * posted when we ask, and it costs nothing extra here. */
		ret = ringo__ring_enter(&l->ring, ringo_ring_flush_sq(&l->ring), block ? 1 : 0,
					RINGO_ENTER_GETEVENTS, NULL, 0);
	ringo__op_room_refresh(l);
	if (timed) {
		t1 = mono_ns();
		l->metrics.wait_ns += t1 - t0;
		set_now(l, t1);
	} else if (block) {
		l->now_stale = 1;
	}
	if (ret > 0)
		l->metrics.submitted += (unsigned)ret;
	/* A signal, or a CQ too full to take more (it is drained next): the
	 * loop carries on; nothing is lost. */
	if (ret == -EINTR || ret == -EAGAIN || ret == -EBUSY || ret == -ETIME)
		ret = 0;
	return ret < 0 ? ret : 0;
}

/*
 * Dispatch CQEs where they lie and retire them a batch at a time: no copy,
 * one release store per batch. Safe because nothing a callback can call
 * reaps this ring (ringo_run refuses to nest). When the CQ is empty but the
 * kernel holds overflowed CQEs, one GETEVENTS enter moves them in.
 */
static void drain_cq(ringo_loop_t *loop)
{
	struct ringo__loop *l = L(loop);
	unsigned n;

	for (;;) {
		n = ringo__ops_dispatch_ready(loop, CQE_BATCH);
		ringo_ring_cq_advance(&l->ring, n);
		if (n)
			continue;
		if (!ringo_ring_cq_overflow(&l->ring))
			break;
		l->metrics.cq_overflows++;
		if (ringo_ring_get_events(&l->ring) < 0 || !ringo_ring_cq_ready(&l->ring))
			break;
	}
}

static void drain_host_fd(struct ringo__loop *l)
{
	eventfd_t v;

	if (l->host_fd >= 0)
		(void)eventfd_read(l->host_fd, &v);
}

/* The deadline to wait for, arming the fallback timeout op if needed. */
static uint64_t wait_deadline(ringo_loop_t *loop)
{
	struct ringo__loop *l = L(loop);
	uint64_t deadline = ringo__timers_next(loop);

	if (deadline != UINT64_MAX && !use_ext_arg(l))
		ringo__timeout_arm(loop, deadline);
	return deadline;
}

/* A timer or request deadline is due; the clock is read only if any is
 * pending at all. */
static bool timer_due(ringo_loop_t *loop)
{
	uint64_t next = ringo__timers_next(loop);

	return next != UINT64_MAX && next <= ringo__now(L(loop));
}

/*
 * About to sleep with many records free (a burst is over): give the slabs
 * it emptied back to the kernel, so a loop that once held 10k ops does not
 * keep their memory. A trim that frees nothing (live records scattered
 * over every slab) is not tried again until as many ops have completed as
 * records were free: the walk costs at most one step per completion.
 */
static void trim_before_sleep(ringo_loop_t *loop)
{
	struct ringo__loop *l = L(loop);

	if (l->metrics.completions < l->trim_after)
		return;
	if (!ringo__ops_trim(loop))
		l->trim_after = l->metrics.completions + (l->ops_total - l->ids_live);
}

static int iterate(ringo_loop_t *loop, ringo_run_mode mode)
{
	struct ringo__loop *l = L(loop);
	uint64_t deadline = UINT64_MAX;
	bool queued, block, ran;
	int ret;

	l->metrics.iterations++;
	l->now_stale = 1;
	/* Most iterations have no timer due and nothing deferred: each of
	 * these steps is skipped on one inline test, not called to find out.
	 * After callbacks, the wait's time limit counts from a new reading. */
	if (timer_due(loop)) {
		ringo__timers_run(loop);
		l->now_stale = 1;
	}
	/* Timers are not progress for RUN_ONCE (libuv's rule too): it still
	 * waits for whatever else is alive. */
	ran = has_deferred_work(l) && run_deferred(loop);
	if (ran)
		l->now_stale = 1;
	/* Callbacks that already ran are this iteration's progress: like
	 * libuv, RUN_ONCE then only collects what is ready, it does not wait. */
	block = mode != RINGO_RUN_NOWAIT && !(ran && mode == RINGO_RUN_ONCE) &&
		!has_deferred_work(l) && alive(l) &&
		!(l->state & LOOP_STOP) && !ringo_ring_cq_ready(&l->ring);
	if (block) {
		deadline = wait_deadline(loop);
		if (__builtin_expect(l->ops_total - l->ids_live > RINGO__TRIM_SLACK, 0))
			trim_before_sleep(loop);
	}
	queued = ringo__ops_flush_overflow(loop);
	if (queued || (deadline != UINT64_MAX && deadline <= ringo__now(l)))
		block = false;
	ret = enter(l, block, deadline);
	if (ret)
		return ret;
	/* Timers that came due during the wait run in this iteration too
	 * (RUN_ONCE returns only after running what it waited for). */
	drain_cq(loop);
	if (block && timer_due(loop))
		ringo__timers_run(loop);
	if (has_pending(l))
		ringo__run_pending(loop);
	return 0;
}

/*
 * Callbacks of the last iteration may have queued SQEs (a resubmitted read,
 * the re-armed wake op). Hand them to the kernel before returning, or a
 * host that waits on ringo_loop_fd() would wait for ops nobody submitted.
 */
static int submit_leftovers(ringo_loop_t *loop)
{
	struct ringo__loop *l = L(loop);

	ringo__ops_flush_overflow(loop);
	if (!ringo_ring_sq_ready(&l->ring))
		return 0;
	return enter(l, false, UINT64_MAX);
}

/*
 * The host fd must be readable exactly when a NOWAIT run has work: CQEs
 * posted (also by our own last enter, after the eventfd was drained),
 * ops waiting for SQ room, or deferred callbacks. Signal it ourselves then.
 */
static void signal_host(struct ringo__loop *l)
{
	if (l->host_fd < 0)
		return;
	drain_host_fd(l);
	if (ringo_ring_cq_ready(&l->ring) || !queue_empty(&l->overflow) || has_deferred_work(l) ||
	    ringo_ring_cq_overflow(&l->ring))
		(void)eventfd_write(l->host_fd, 1);
}

RINGO_EXTERN int64_t ringo_loop_timeout(const ringo_loop_t *loop)
{
	const struct ringo__loop *l;
	uint64_t deadline;

	if (!loop || !(L(loop)->state & LOOP_READY))
		return -EINVAL;
	l = L(loop);
	if (has_deferred_work(l) || !queue_empty(&l->overflow) || ringo_ring_cq_ready(&l->ring))
		return 0;
	deadline = ringo__timers_next(loop);
	if (deadline == UINT64_MAX)
		return -1;
	ringo_update_time((ringo_loop_t *)loop);
	return deadline > l->now_ms ? (int64_t)(deadline - l->now_ms) : 0;
}

static int enable_ring(struct ringo__loop *l)
{
	int ret;

	if (l->state & LOOP_ENABLED)
		return 0;
	ret = ringo_ring_enable(&l->ring);
	if (ret)
		return ret;
	l->state |= LOOP_ENABLED;
	/*
	 * With SINGLE_ISSUER this thread is now the only one that may submit,
	 * so the ring fd can be registered for it: every io_uring_enter then
	 * skips the fd lookup (5.18+; without it, enter by fd as before).
	 */
	if (l->ring.flags & RINGO_SETUP_SINGLE_ISSUER)
		(void)ringo_ring_register_ring_fd(&l->ring);
	return 0;
}

RINGO_EXTERN int ringo_run(ringo_loop_t *loop, ringo_run_mode mode)
{
	struct ringo__loop *l;
	int ret = 0, is_alive;

	if (!loop || !(L(loop)->state & LOOP_READY) || mode > RINGO_RUN_NOWAIT)
		return -EINVAL;
	l = L(loop);
	if (l->state & LOOP_RUNNING)
		return -EBUSY;
	ret = enable_ring(l);
	if (ret)
		return ret;
	l->state |= LOOP_RUNNING;
	drain_host_fd(l);
	is_alive = alive(l);
	if (!is_alive)
		ringo_update_time(loop);
	while (is_alive && !(l->state & LOOP_STOP)) {
		ret = iterate(loop, mode);
		is_alive = alive(l);
		if (ret || mode != RINGO_RUN_DEFAULT)
			break;
	}
	if (!ret)
		ret = submit_leftovers(loop);
	signal_host(l);
	l->state &= ~(LOOP_RUNNING | LOOP_STOP);
	return ret ? ret : alive(l);
}

/*
 * Internal ops (the wake read, cancels) may still be in the kernel. Their
 * records and buffers are the loop's memory, so wait for their CQEs before
 * that memory goes away; io_uring's own teardown is asynchronous.
 */
static void drain_internal(ringo_loop_t *loop)
{
	struct ringo__loop *l = L(loop);
	int rounds = 0;

	if (enable_ring(l))
		return;
	ringo__ops_cancel_all(loop);
	while (ringo__ops_live(loop) && rounds++ < 1000) {
		if (enter(l, true, UINT64_MAX) < 0)
			break;
		drain_cq(loop);
	}
}

RINGO_EXTERN int ringo_loop_close(ringo_loop_t *loop)
{
	struct ringo__loop *l;

	if (!loop || !(L(loop)->state & LOOP_READY))
		return -EINVAL;
	l = L(loop);
	if (l->state & LOOP_RUNNING)
		return -EBUSY;
	if (l->open_handles || l->active_reqs || has_deferred_work(l) ||
	    !queue_empty(&l->overflow))
		return -EBUSY;
	l->state |= LOOP_CLOSING;
	ringo__work_pool_stop(loop);
	drain_internal(loop);
	ringo__wake_fd_close(loop);
	if (l->host_fd >= 0)
		close(l->host_fd);
	ringo__timers_free(loop);
	ringo__pool_free(loop);
	ringo__park_free(loop);
	ringo__send_ctx_free_all(loop);
	ringo__fs_direct_free(loop);
	ringo__ops_free(loop);
	ringo_ring_exit(&l->ring);
	memset(loop->private_, 0, sizeof(loop->private_));
	return 0;
}

RINGO_EXTERN int ringo_loop_fd(ringo_loop_t *loop)
{
	struct ringo__loop *l;
	int fd, ret;

	if (!loop || !(L(loop)->state & LOOP_READY))
		return -EINVAL;
	l = L(loop);
	if (l->host_fd >= 0)
		return l->host_fd;
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	ret = ringo_ring_register_eventfd(&l->ring, fd);
	if (ret) {
		close(fd);
		return ret;
	}
	/* Release: wakers on other threads read it (see ringo__wake). */
	__atomic_store_n(&l->host_fd, fd, __ATOMIC_RELEASE);
	return fd;
}

RINGO_EXTERN int ringo_loop_metrics(const ringo_loop_t *loop, struct ringo_loop_metrics *m)
{
	if (!loop || !m || !(L(loop)->state & LOOP_READY))
		return -EINVAL;
	*m = L(loop)->metrics;
	m->ops_live = L(loop)->ids_live;
	m->op_records = L(loop)->ops_total;
	m->id_buckets = (uint64_t)L(loop)->id_mask + 1;
	return 0;
}

RINGO_EXTERN struct ringo_ring *ringo_loop_ring(ringo_loop_t *loop)
{
	if (!loop || !(L(loop)->state & LOOP_READY))
		return NULL;
	return &L(loop)->ring;
}
