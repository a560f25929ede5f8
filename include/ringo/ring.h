/* SPDX-License-Identifier: MIT */
/*
 * ringo's raw io_uring layer: one ring, its mapped queues, SQE prep helpers,
 * submission, completion and registration. It knows nothing of callbacks and
 * is usable on its own, like liburing.
 *
 * Every function that returns int returns >= 0 on success or -errno; errno is
 * never set for the caller. The hot path (getting an SQE, reading and
 * retiring CQEs) is inline here so a program pays no call per operation.
 *
 * Bad arguments (a NULL or exited ring, NULL out-pointers, sizes that are
 * zero or not a power of two, unknown buffer ids) are -EINVAL, never a
 * crash. The exceptions are the inline accessors that return a count, a flag
 * or a pointer (get_sqe, sq_ready, cq_ready, cq_advance, ...) and
 * ringo_ring_flush_sq: they are the per-operation hot path and take a ring
 * that ringo_ring_init set up, unchecked, as liburing's do.
 *
 * Threading: a ring is not thread-safe. One thread submits and reaps.
 */
#ifndef RINGO_RING_H
#define RINGO_RING_H

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <ringo/uring_abi.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef RINGO_EXTERN
#define RINGO_EXTERN __attribute__((visibility("default")))
#endif

/* Entries a ring may ask for without RINGO_SETUP_CLAMP (the kernel's limit). */
#define RINGO_RING_MAX_ENTRIES 32768U

/* Submission queue. Fields are private; read them through the functions. */
struct ringo_sq {
	unsigned *khead;	/* kernel consumer index */
	unsigned *ktail;	/* our producer index, published by flush */
	unsigned *kflags;	/* RINGO_SQ_*, written by the kernel */
	unsigned *kdropped;	/* invalid SQEs the kernel skipped */
	unsigned *array;	/* index array: identity, filled once; NULL with NO_SQARRAY */
	struct ringo_sqe *sqes;
	unsigned sqe_head;	/* first SQE not yet published to *ktail */
	unsigned sqe_tail;	/* next SQE to hand out */
	unsigned ring_mask;
	unsigned ring_entries;
	void *ring_ptr;		/* mapping of the SQ ring (shared with CQ on SINGLE_MMAP) */
	size_t ring_sz;
	size_t sqes_sz;
};

/* Completion queue. Fields are private; read them through the functions. */
struct ringo_cq {
	unsigned *khead;	/* our consumer index */
	unsigned *ktail;	/* kernel producer index */
	unsigned *kflags;	/* RINGO_CQ_*, written by us */
	unsigned *koverflow;	/* CQEs the kernel could not post (pre-NODROP) */
	struct ringo_cqe *cqes;
	unsigned ring_mask;
	unsigned ring_entries;
	void *ring_ptr;		/* separate mapping only without SINGLE_MMAP */
	size_t ring_sz;
};

struct ringo_ring {
	struct ringo_sq sq;
	struct ringo_cq cq;
	unsigned flags;		/* RINGO_SETUP_* the ring was created with */
	unsigned features;	/* RINGO_FEAT_* the kernel reported */
	int fd;			/* ring fd; -1 once exited */
	int enter_fd;		/* what io_uring_enter gets: fd, or its registered
				 * index (ringo_ring_register_ring_fd) */
	unsigned enter_flags;	/* RINGO_ENTER_REGISTERED_RING while registered */
};

/*
 * Create a ring with `entries` SQEs (a power of two, 1..32768, or larger
 * with RINGO_SETUP_CLAMP). Returns 0, or -EINVAL for a NULL ring, a zero or
 * non-power-of-two size or flags ringo does not map (SQE128, CQE32, NO_MMAP,
 * REGISTERED_FD_ONLY), or the kernel's -errno: -ENOSYS (no io_uring),
 * -EPERM (seccomp or kernel.io_uring_disabled, or SQPOLL without privilege),
 * -ENOMEM, -EMFILE. On failure nothing stays mapped or open.
 */
RINGO_EXTERN int ringo_ring_init(struct ringo_ring *ring, unsigned entries, unsigned flags);

/*
 * As ringo_ring_init, with every setup field: p->flags, p->cq_entries (with
 * CQSIZE), p->sq_thread_idle / sq_thread_cpu (SQPOLL / SQ_AFF), p->wq_fd
 * (ATTACH_WQ). The kernel's answer (sizes, features) is written back to *p.
 */
RINGO_EXTERN int ringo_ring_init_params(struct ringo_ring *ring, unsigned entries,
					struct ringo_params *p);

/* Unmap and close. Safe on a ring whose init failed or that was exited. */
RINGO_EXTERN void ringo_ring_exit(struct ringo_ring *ring);

/*
 * Publish handed-out SQEs to the kernel (no syscall). Returns how many SQEs
 * are now waiting for the kernel, including ones published before.
 */
RINGO_EXTERN unsigned ringo_ring_flush_sq(struct ringo_ring *ring);

/* Flush and submit. Returns SQEs the kernel consumed, or -errno. */
RINGO_EXTERN int ringo_ring_submit(struct ringo_ring *ring);

/* Flush, submit, and wait until at least `wait_nr` CQEs are ready. */
RINGO_EXTERN int ringo_ring_submit_and_wait(struct ringo_ring *ring, unsigned wait_nr);

/*
 * As ringo_ring_submit_and_wait, but wait no longer than `ts` (relative;
 * NULL = no limit), with `sigmask` applied while waiting (NULL = none).
 * Returns SQEs submitted, -ETIME when the time ran out first, -EINTR on a
 * signal, or -EOPNOTSUPP when the kernel lacks RINGO_FEAT_EXT_ARG (5.11).
 */
RINGO_EXTERN int ringo_ring_submit_and_wait_timeout(struct ringo_ring *ring, unsigned wait_nr,
						    const struct ringo_timespec *ts,
						    const sigset_t *sigmask);

/*
 * Enter the kernel only to post completions (no submit, no wait). Rings made
 * with RINGO_SETUP_DEFER_TASKRUN post CQEs only when the issuer enters with
 * GETEVENTS: call this (or any wait) before peeking on such a ring.
 */
RINGO_EXTERN int ringo_ring_get_events(struct ringo_ring *ring);

/* io_uring_enter(2) itself. `arg`/`argsz` as for the syscall. */
RINGO_EXTERN int ringo_ring_enter(struct ringo_ring *ring, unsigned to_submit,
				  unsigned min_complete, unsigned flags, const void *arg,
				  size_t argsz);

/* Wait for one CQE (no submit). *cqe stays valid until it is marked seen. */
RINGO_EXTERN int ringo_ring_wait_cqe(struct ringo_ring *ring, struct ringo_cqe **cqe);

/* Wait for one CQE at most `ts` long: -ETIME when none came. Needs EXT_ARG. */
RINGO_EXTERN int ringo_ring_wait_cqe_timeout(struct ringo_ring *ring, struct ringo_cqe **cqe,
					     const struct ringo_timespec *ts);

/*
 * Copy up to `count` ready CQEs into `cqes` and retire them, entering the
 * kernel to wait for `wait_nr` when none are ready (or to flush an
 * overflowed CQ). Handles the ring wrapping inside one batch. Returns the
 * number copied (0 when wait_nr is 0 and nothing is ready) or -errno.
 */
RINGO_EXTERN int ringo_ring_copy_cqes(struct ringo_ring *ring, struct ringo_cqe *cqes,
				      unsigned count, unsigned wait_nr);

/* Kernel features (RINGO_FEAT_*) this ring got; 0 for NULL. */
RINGO_EXTERN unsigned ringo_ring_features(const struct ringo_ring *ring);

/* ---- Registration (ring_register.c) ---------------------------------- */

/* Register `nr` fds as direct descriptors 0..nr-1 (-1 leaves a slot empty). */
/*
 * Register the ring's own fd with the kernel (5.18+): io_uring_enter then
 * takes its index with RINGO_ENTER_REGISTERED_RING and skips the fd-table
 * lookup and reference count of every call. The registration belongs to
 * the calling thread: enter from that thread only until
 * ringo_ring_unregister_ring_fd (ringo_ring_exit does it too, and must
 * then run on that thread). 0, -EEXIST if already registered, -EINVAL for
 * a bad ring (or a kernel without it), or the kernel's -errno.
 */
RINGO_EXTERN int ringo_ring_register_ring_fd(struct ringo_ring *ring);
/* Back to entering by fd. 0, or -EINVAL when not registered. */
RINGO_EXTERN int ringo_ring_unregister_ring_fd(struct ringo_ring *ring);

RINGO_EXTERN int ringo_ring_register_files(struct ringo_ring *ring, const int *fds, unsigned nr);
/* Register an empty table of `nr` direct descriptors (5.19); -EBUSY when a
 * table is already registered. */
RINGO_EXTERN int ringo_ring_register_files_sparse(struct ringo_ring *ring, unsigned nr);
/* Replace slots off..off+nr-1; -1 clears, RINGO_REGISTER_FILES_SKIP keeps.
 * Returns the number of slots updated. */
RINGO_EXTERN int ringo_ring_register_files_update(struct ringo_ring *ring, unsigned off,
						  const int *fds, unsigned nr);
/* Restrict kernel-picked slots (RINGO_FILE_INDEX_ALLOC) to [off, off+len)
 * (6.0); -EINVAL when the range does not lie inside the registered table
 * (also when there is none). Slots outside it can still be named. */
RINGO_EXTERN int ringo_ring_register_file_alloc_range(struct ringo_ring *ring, unsigned off,
						      unsigned len);
RINGO_EXTERN int ringo_ring_unregister_files(struct ringo_ring *ring);

/* Register buffers for read_fixed/write_fixed; index = position in iovs. */
RINGO_EXTERN int ringo_ring_register_buffers(struct ringo_ring *ring, const struct iovec *iovs,
					     unsigned nr);
RINGO_EXTERN int ringo_ring_unregister_buffers(struct ringo_ring *ring);

/* Signal `fd` (an eventfd) on every posted CQE; the _async one only for
 * completions that did not finish inline. */
RINGO_EXTERN int ringo_ring_register_eventfd(struct ringo_ring *ring, int fd);
RINGO_EXTERN int ringo_ring_register_eventfd_async(struct ringo_ring *ring, int fd);
RINGO_EXTERN int ringo_ring_unregister_eventfd(struct ringo_ring *ring);

/* Fill *probe with the ops this kernel supports (5.6). */
RINGO_EXTERN int ringo_ring_probe(struct ringo_ring *ring, struct ringo_probe *probe);
/* 1 if `probe` says `op` is supported, 0 if not; 0 for NULL. */
RINGO_EXTERN int ringo_probe_has_op(const struct ringo_probe *probe, unsigned op);
/* Probe and answer for one op: 1, 0, or -errno if probing failed. */
RINGO_EXTERN int ringo_ring_op_supported(struct ringo_ring *ring, unsigned op);

/* NAPI busy polling (6.9). -EINVAL/-EOPNOTSUPP where the kernel lacks it. */
RINGO_EXTERN int ringo_ring_register_napi(struct ringo_ring *ring, struct ringo_napi *napi);
RINGO_EXTERN int ringo_ring_unregister_napi(struct ringo_ring *ring, struct ringo_napi *napi);

/* Start a ring created with RINGO_SETUP_R_DISABLED. */
RINGO_EXTERN int ringo_ring_enable(struct ringo_ring *ring);

/* Cap io-wq workers: values[0] bounded, values[1] unbounded; 0 = only read.
 * The previous limits are written back. */
RINGO_EXTERN int ringo_ring_register_iowq_max_workers(struct ringo_ring *ring, unsigned values[2]);

/* ---- Provided-buffer rings (ring_bufring.c) --------------------------- */

/*
 * Map and register a ring of `entries` buffer descriptors (a power of two,
 * 1..32768) for buffer group `bgid` (5.19). `flags` may hold
 * RINGO_PBUF_RING_INC (6.12); it is dropped and retried without when the
 * kernel refuses it, and *flags_out (may be NULL) tells what was kept.
 * Returns the ring, or NULL with *err set to -errno.
 */
RINGO_EXTERN struct ringo_buf_ring *ringo_ring_setup_buf_ring(struct ringo_ring *ring,
							       unsigned entries, unsigned bgid,
							       unsigned flags, unsigned *flags_out,
							       int *err);
/* Unregister and unmap a ring from ringo_ring_setup_buf_ring. */
RINGO_EXTERN int ringo_ring_free_buf_ring(struct ringo_ring *ring, struct ringo_buf_ring *br,
					  unsigned entries, unsigned bgid);

/*
 * A buffer group: one buffer ring plus `count` buffers of `buf_size` bytes in
 * one allocation, buffer id i at offset i * buf_size. Lookups of the buffer a
 * CQE names are bounds-checked: a bad id or length is -EINVAL, never a
 * pointer outside the group.
 */
struct ringo_buf_group {
	struct ringo_ring *ring;
	struct ringo_buf_ring *br;
	unsigned char *base;	/* count * buf_size bytes */
	uint32_t *heads;	/* per-buffer consumed bytes, with incremental mode */
	unsigned buf_size;	/* bytes per buffer */
	unsigned count;		/* buffers; a power of two */
	unsigned flags;		/* RINGO_PBUF_RING_* in force */
	uint16_t bgid;
};

/* Set up a group with all `count` buffers given to the kernel. */
RINGO_EXTERN int ringo_buf_group_init(struct ringo_buf_group *bg, struct ringo_ring *ring,
				      unsigned bgid, unsigned buf_size, unsigned count,
				      unsigned flags);
/* Unregister and free. Safe after a failed init (zeroed struct). */
RINGO_EXTERN void ringo_buf_group_exit(struct ringo_buf_group *bg);

/* The first `len` bytes of buffer `bid`; -EINVAL when bid >= count or
 * len > buf_size. */
RINGO_EXTERN int ringo_buf_group_buffer(const struct ringo_buf_group *bg, unsigned bid,
					unsigned len, void **out);

/*
 * The data a CQE delivered into this group: *out and *len. -EINVAL when the
 * CQE carries no buffer (no RINGO_CQE_F_BUFFER) or a negative result, or
 * names an id or length outside the group.
 */
RINGO_EXTERN int ringo_buf_group_cqe_data(const struct ringo_buf_group *bg,
					  const struct ringo_cqe *cqe, void **out, unsigned *len);

/* Give the buffer a CQE used back to the kernel (kept while the kernel still
 * fills it, RINGO_CQE_F_BUF_MORE). -EINVAL as ringo_buf_group_cqe_data. */
RINGO_EXTERN int ringo_buf_group_put(struct ringo_buf_group *bg, const struct ringo_cqe *cqe);

/* Give buffer `bid` back to the kernel. -EINVAL when bid >= count. */
RINGO_EXTERN int ringo_buf_group_recycle(struct ringo_buf_group *bg, unsigned bid);

/* The slice helper behind the lookups, usable on any base/entries/size. */
RINGO_EXTERN int ringo_buf_slice(void *base, unsigned entries, unsigned buf_size, unsigned bid,
				 unsigned len, void **out);

/* ---- Inline hot path -------------------------------------------------- */

/*
 * A free SQE, zeroed, or NULL when the SQ is full (submit, then retry).
 * The SQE reaches the kernel at the next flush/submit.
 */
static inline struct ringo_sqe *ringo_ring_get_sqe(struct ringo_ring *ring)
{
	struct ringo_sq *sq = &ring->sq;
	unsigned head, next = sq->sqe_tail + 1;
	struct ringo_sqe *sqe;

	/*
	 * Acquire pairs with the kernel's release of khead: once we see the
	 * kernel has consumed an SQE slot, its reads of that slot are done
	 * and we may overwrite it. Without SQPOLL the kernel only moves khead
	 * inside io_uring_enter, on this thread, so a plain load would do.
	 */
	if (ring->flags & RINGO_SETUP_SQPOLL)
		head = __atomic_load_n(sq->khead, __ATOMIC_ACQUIRE);
	else
		head = *sq->khead;
	/* Unsigned wrap-around makes next - head the queue length. */
	if (next - head > sq->ring_entries)
		return NULL;
	sqe = &sq->sqes[sq->sqe_tail & sq->ring_mask];
	sq->sqe_tail = next;
	*sqe = (struct ringo_sqe){ 0 };
	return sqe;
}

/* SQEs handed out or published but not yet consumed by the kernel. */
static inline unsigned ringo_ring_sq_ready(const struct ringo_ring *ring)
{
	/* Acquire, as in get_sqe: an SQPOLL thread moves khead on its own. */
	return ring->sq.sqe_tail - __atomic_load_n(ring->sq.khead, __ATOMIC_ACQUIRE);
}

/* Free SQE slots. */
static inline unsigned ringo_ring_sq_space_left(const struct ringo_ring *ring)
{
	return ring->sq.ring_entries - ringo_ring_sq_ready(ring);
}

/* CQEs ready to be read. */
static inline unsigned ringo_ring_cq_ready(const struct ringo_ring *ring)
{
	/* Acquire pairs with the kernel's release of ktail: CQE contents
	 * written before the tail moved are visible once we see the tail. */
	return __atomic_load_n(ring->cq.ktail, __ATOMIC_ACQUIRE) - *ring->cq.khead;
}

/* The kernel has CQEs it could not post (CQ full); entering flushes them. */
static inline bool ringo_ring_cq_overflow(const struct ringo_ring *ring)
{
	/* Relaxed: a hint read before entering; no data hangs on this flag. */
	return __atomic_load_n(ring->sq.kflags, __ATOMIC_RELAXED) & RINGO_SQ_CQ_OVERFLOW;
}

/*
 * The SQPOLL thread went to sleep; the next submit must wake it. Relaxed:
 * submit itself puts a full fence between the tail store and this load.
 */
static inline bool ringo_ring_sq_need_wakeup(const struct ringo_ring *ring)
{
	return __atomic_load_n(ring->sq.kflags, __ATOMIC_RELAXED) & RINGO_SQ_NEED_WAKEUP;
}

/* Retire `nr` CQEs: their slots go back to the kernel. */
static inline void ringo_ring_cq_advance(struct ringo_ring *ring, unsigned nr)
{
	/* Release: our reads of the retired CQEs finish before the kernel
	 * can see the slots free and overwrite them. */
	if (nr)
		__atomic_store_n(ring->cq.khead, *ring->cq.khead + nr, __ATOMIC_RELEASE);
}

/* Retire one CQE obtained from peek/wait. */
static inline void ringo_ring_cqe_seen(struct ringo_ring *ring, struct ringo_cqe *cqe)
{
	(void)cqe;
	ringo_ring_cq_advance(ring, 1);
}

/*
 * The next ready CQE without waiting: 0 and *cqe, or -EAGAIN (*cqe = NULL).
 * -EINVAL for a NULL ring or cqe (a constant &ring folds the test away).
 */
static inline int ringo_ring_peek_cqe(struct ringo_ring *ring, struct ringo_cqe **cqe)
{
	unsigned head;

	if (!ring || !cqe)
		return -EINVAL;
	head = *ring->cq.khead;
	if (__atomic_load_n(ring->cq.ktail, __ATOMIC_ACQUIRE) != head) {
		*cqe = &ring->cq.cqes[head & ring->cq.ring_mask];
		return 0;
	}
	*cqe = NULL;
	return -EAGAIN;
}

/* Walk ready CQEs without retiring them; retire with ringo_ring_cq_advance.
 * `head` is an unsigned loop variable. The tail is loaded with acquire on
 * every step, as in cq_ready, so each CQE is read only once it is complete. */
#define ringo_ring_for_each_cqe(ring, head, cqe)                                               \
	for ((head) = *(ring)->cq.khead;                                                       \
	     (head) != __atomic_load_n((ring)->cq.ktail, __ATOMIC_ACQUIRE) &&                  \
	     ((cqe) = &(ring)->cq.cqes[(head) & (ring)->cq.ring_mask], 1);                      \
	     (head)++)

/* The buffer id a CQE names when RINGO_CQE_F_BUFFER is set. */
static inline unsigned ringo_cqe_buffer_id(const struct ringo_cqe *cqe)
{
	return cqe->flags >> RINGO_CQE_BUFFER_SHIFT;
}

/* ---- Provided-buffer ring inline helpers ------------------------------ */

static inline unsigned ringo_buf_ring_mask(unsigned entries)
{
	return entries - 1;
}

static inline void ringo_buf_ring_init(struct ringo_buf_ring *br)
{
	br->tail = 0;
}

/*
 * Stage buffer `bid` at tail + offset; the kernel sees it after
 * ringo_buf_ring_advance. Fields are written one by one so that entry 0's
 * resv half-word, which is the ring's tail, is never overwritten.
 */
static inline void ringo_buf_ring_add(struct ringo_buf_ring *br, void *addr, unsigned len,
				      unsigned short bid, unsigned mask, unsigned offset)
{
	struct ringo_buf *buf = &br->bufs[(unsigned)(br->tail + offset) & mask];

	buf->addr = (uint64_t)(uintptr_t)addr;
	buf->len = len;
	buf->bid = bid;
}

/* Publish `count` staged buffers. */
static inline void ringo_buf_ring_advance(struct ringo_buf_ring *br, unsigned count)
{
	/* Release: the descriptors written by ringo_buf_ring_add are
	 * visible before the kernel sees the new tail. */
	__atomic_store_n(&br->tail, (uint16_t)(br->tail + count), __ATOMIC_RELEASE);
}

#ifdef __cplusplus
}
#endif

#include <ringo/ring_prep.h>

#endif
