/* SPDX-License-Identifier: MIT */
/*
 * Submission and completion: publishing SQEs, io_uring_enter(2), waiting
 * (with and without a time limit) and copying CQEs out in batches.
 *
 * Index arithmetic is on unsigned 32-bit counters that wrap; a difference
 * of two of them is a length even across the wrap.
 */
#include <signal.h>
#include <string.h>

#include "ring_internal.h"

static unsigned sq_khead(const struct ringo_ring *ring)
{
	/* With SQPOLL the kernel thread moves khead concurrently. */
	if (ring->flags & RINGO_SETUP_SQPOLL)
		return __atomic_load_n(ring->sq.khead, __ATOMIC_ACQUIRE);
	return *ring->sq.khead;
}

RINGO_EXTERN unsigned ringo_ring_flush_sq(struct ringo_ring *ring)
{
	struct ringo_sq *sq = &ring->sq;

	if (sq->sqe_head != sq->sqe_tail) {
		sq->sqe_head = sq->sqe_tail;
		/*
		 * Release: the SQE contents are visible before the new tail.
		 * Only the SQPOLL thread reads the tail outside our own
		 * io_uring_enter call, but a release store costs nothing on
		 * x86 and keeps other architectures right.
		 */
		__atomic_store_n(sq->ktail, sq->sqe_tail, __ATOMIC_RELEASE);
	}
	return sq->sqe_tail - sq_khead(ring);
}

/*
 * Without SQPOLL, submitting always takes a syscall. With SQPOLL only a
 * sleeping kernel thread needs one, to wake it.
 */
static bool sq_needs_enter(const struct ringo_ring *ring, unsigned submit, unsigned *flags)
{
	if (!submit)
		return false;
	if (!(ring->flags & RINGO_SETUP_SQPOLL))
		return true;
	/*
	 * Full barrier between our tail store and the NEED_WAKEUP load. The
	 * SQPOLL thread sets NEED_WAKEUP and then re-reads the tail before it
	 * sleeps; with a barrier on both sides at least one of us sees the
	 * other's write, so new SQEs are never left behind a sleeping thread.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(ring->sq.kflags, __ATOMIC_RELAXED) & RINGO_SQ_NEED_WAKEUP) {
		*flags |= RINGO_ENTER_SQ_WAKEUP;
		return true;
	}
	return false;
}

/* Overflowed CQEs or pending task work are only posted by entering. */
static bool cq_needs_flush(const struct ringo_ring *ring)
{
	return __atomic_load_n(ring->sq.kflags, __ATOMIC_RELAXED) &
	       (RINGO_SQ_CQ_OVERFLOW | RINGO_SQ_TASKRUN);
}

static bool cq_needs_enter(const struct ringo_ring *ring)
{
	return (ring->flags & RINGO_SETUP_IOPOLL) || cq_needs_flush(ring);
}

static int submit(struct ringo_ring *ring, unsigned wait_nr)
{
	unsigned submitted = ringo_ring_flush_sq(ring);
	unsigned flags = 0;
	bool getevents = wait_nr || cq_needs_enter(ring);

	if (sq_needs_enter(ring, submitted, &flags) || getevents) {
		if (getevents)
			flags |= RINGO_ENTER_GETEVENTS;
		return ringo__ring_enter(ring, submitted, wait_nr, flags, NULL, 0);
	}
	return (int)submitted;
}

RINGO_EXTERN int ringo_ring_submit(struct ringo_ring *ring)
{
	if (!ring || !ring->sq.ring_ptr)
		return -EINVAL;
	return submit(ring, 0);
}

RINGO_EXTERN int ringo_ring_submit_and_wait(struct ringo_ring *ring, unsigned wait_nr)
{
	if (!ring || !ring->sq.ring_ptr)
		return -EINVAL;
	return submit(ring, wait_nr);
}

RINGO_EXTERN int ringo_ring_get_events(struct ringo_ring *ring)
{
	if (!ring || !ring->sq.ring_ptr)
		return -EINVAL;
	return ringo__ring_enter(ring, 0, 0, RINGO_ENTER_GETEVENTS, NULL, 0);
}

RINGO_EXTERN int ringo_ring_enter(struct ringo_ring *ring, unsigned to_submit,
				  unsigned min_complete, unsigned flags, const void *arg,
				  size_t argsz)
{
	if (!ring || !ring->sq.ring_ptr)
		return -EINVAL;
	return ringo__ring_enter(ring, to_submit, min_complete, flags, arg, argsz);
}

static void wait_arg(struct ringo_getevents_arg *arg, const struct ringo_timespec *ts,
		     const sigset_t *sigmask)
{
	memset(arg, 0, sizeof(*arg));
	arg->sigmask = (uint64_t)(uintptr_t)sigmask;
	/* The kernel's sigset is _NSIG bits, not glibc's 1024-bit sigset_t. */
	arg->sigmask_sz = _NSIG / 8;
	arg->ts = (uint64_t)(uintptr_t)ts;
}

/*
 * With EXT_ARG (5.11) the time limit rides along in io_uring_enter itself,
 * so no timeout SQE is spent and no stray CQE can appear. The kernel reports
 * -ETIME only when it submitted nothing; otherwise it returns the count.
 */
RINGO_EXTERN int ringo_ring_submit_and_wait_timeout(struct ringo_ring *ring, unsigned wait_nr,
						    const struct ringo_timespec *ts,
						    const sigset_t *sigmask)
{
	struct ringo_getevents_arg arg;
	unsigned submitted, flags = RINGO_ENTER_GETEVENTS | RINGO_ENTER_EXT_ARG;

	if (!ring || !ring->sq.ring_ptr)
		return -EINVAL;
	if (!(ring->features & RINGO_FEAT_EXT_ARG))
		return -EOPNOTSUPP;
	wait_arg(&arg, ts, sigmask);
	submitted = ringo_ring_flush_sq(ring);
	sq_needs_enter(ring, submitted, &flags);
	return ringo__ring_enter(ring, submitted, wait_nr, flags, &arg, sizeof(arg));
}

RINGO_EXTERN int ringo_ring_wait_cqe(struct ringo_ring *ring, struct ringo_cqe **cqe)
{
	int ret;

	if (!ring || !ring->sq.ring_ptr || !cqe)
		return -EINVAL;
	while (ringo_ring_peek_cqe(ring, cqe) != 0) {
		ret = ringo__ring_enter(ring, 0, 1, RINGO_ENTER_GETEVENTS, NULL, 0);
		if (ret < 0)
			return ret;
	}
	return 0;
}

RINGO_EXTERN int ringo_ring_wait_cqe_timeout(struct ringo_ring *ring, struct ringo_cqe **cqe,
					     const struct ringo_timespec *ts)
{
	struct ringo_getevents_arg arg;
	int ret;

	if (!ring || !ring->sq.ring_ptr || !cqe)
		return -EINVAL;
	if (ringo_ring_peek_cqe(ring, cqe) == 0)
		return 0;
	if (!(ring->features & RINGO_FEAT_EXT_ARG))
		return -EOPNOTSUPP;
	wait_arg(&arg, ts, NULL);
	ret = ringo__ring_enter(ring, 0, 1, RINGO_ENTER_GETEVENTS | RINGO_ENTER_EXT_ARG, &arg,
			       sizeof(arg));
	if (ret < 0)
		return ret;
	/* Woken with nothing posted (task work only): the time is up. */
	return ringo_ring_peek_cqe(ring, cqe) == 0 ? 0 : -ETIME;
}

/* Copy what is ready, in at most two pieces when the batch wraps. */
static unsigned copy_ready(struct ringo_ring *ring, struct ringo_cqe *cqes, unsigned count)
{
	struct ringo_cq *cq = &ring->cq;
	unsigned ready = ringo_ring_cq_ready(ring);
	unsigned n = count < ready ? count : ready;
	unsigned head = *cq->khead & cq->ring_mask;
	unsigned first = cq->ring_entries - head;

	if (!n)
		return 0;
	if (first > n)
		first = n;
	memcpy(cqes, &cq->cqes[head], first * sizeof(*cqes));
	if (n > first)
		memcpy(cqes + first, cq->cqes, (n - first) * sizeof(*cqes));
	ringo_ring_cq_advance(ring, n);
	return n;
}

RINGO_EXTERN int ringo_ring_copy_cqes(struct ringo_ring *ring, struct ringo_cqe *cqes,
				      unsigned count, unsigned wait_nr)
{
	unsigned n;
	int ret;

	if (!ring || !ring->sq.ring_ptr || (!cqes && count))
		return -EINVAL;
	n = copy_ready(ring, cqes, count);
	if (n || (!wait_nr && !cq_needs_flush(ring)))
		return (int)n;
	ret = ringo__ring_enter(ring, 0, wait_nr, RINGO_ENTER_GETEVENTS, NULL, 0);
	if (ret < 0)
		return ret;
	return (int)copy_ready(ring, cqes, count);
}
