/* SPDX-License-Identifier: MIT */
/*
 * The proactor core's private state, shared by loop/ and the modules that
 * build on it (timer/, net/, fs/). Not installed.
 *
 * Operation ids: every SQE the loop submits carries the 64-bit id of its
 * record in user_data. Ids start at RINGO__ID_FIRST and only increase, so an
 * id is never reused while a CQE for it could still arrive; a CQE whose id
 * has no record is stale and is dropped without touching memory.
 * Reserved ids, all in this one place:
 *   0           the sentinel record that keeps the uthash table allocated
 *               (uthash frees its table when the last item leaves, which
 *               would be a malloc/free per op with one op in flight);
 *   UINT64_MAX  liburing's internal timeout user_data; never ours, so a
 *               CQE carrying it is always treated as stale;
 *   UINT64_MAX-1  RINGO__ID_PARKED: the rd_id of a stream parked in the
 *               loop's epoll set (net/park.c); never submitted.
 */
#ifndef RINGO_LOOP_INTERNAL_H
#define RINGO_LOOP_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../timer/bucket.h"
#include "queue.h"
#include "ringo.h"

/*
 * uthash on 64-bit ids. Ids are handed out in sequence, so their low 32
 * bits alone are collision-free across the buckets of any live window
 * narrower than 2^32 ids (uthash picks the bucket from the low bits); no
 * mixing or folding step is needed.
 * Keys are always 8 bytes, so compare them as one word, not with memcmp.
 * Adds and deletes go through op_hot.h (bucket chains only; out of memory
 * while doubling the buckets keeps the item in the smaller table).
 */
static inline unsigned ringo__hash_id(uint64_t id)
{
	return (unsigned)id;
}
#define HASH_FUNCTION(keyptr, keylen, hashv)                                                   \
	((hashv) = ringo__hash_id(*(const uint64_t *)(const void *)(keyptr)))
#define HASH_KEYCMP(a, b, n)                                                                   \
	(*(const uint64_t *)(const void *)(a) != *(const uint64_t *)(const void *)(b))
#define HASH_NONFATAL_OOM 1
#include <uthash.h>
/* A loop has tens to thousands of ops in flight: start at 256 buckets
 * rather than uthash's 32 and skip the first three doublings. */
#undef HASH_INITIAL_NUM_BUCKETS
#undef HASH_INITIAL_NUM_BUCKETS_LOG2
#define HASH_INITIAL_NUM_BUCKETS 256U
#define HASH_INITIAL_NUM_BUCKETS_LOG2 8U

/* The id table doubles its buckets past this many records a bucket. */
#define RINGO__TABLE_LOAD 4U

#define RINGO__ID_SENTINEL 0ULL
#define RINGO__ID_FIRST 1ULL
#define RINGO__ID_LIBURING_TIMEOUT UINT64_MAX
#define RINGO__ID_PARKED (UINT64_MAX - 1)

/* Free records past which a loop about to sleep gives emptied slabs back
 * to the kernel (loop.c). */
#define RINGO__TRIM_SLACK 1024U

/* Default of ringo_loop_opts.park_idle_ms. */
#define RINGO__PARK_IDLE_MS 10000U

struct ringo__op;
struct ringo__slab;

/* Where an interrupted ringo__ops_each goes on: a slab and a record. */
struct ringo__ops_pos {
	struct ringo__slab *slab;	/* NULL: from the start */
	unsigned i;
};
struct ringo__work_pool;
struct ringo__bufpool;
struct ringo__direct;

/* A multi-buffer send's msghdr and iovecs, lent to a stream while its
 * sendmsg is in flight (idle connections carry none). */
struct ringo__send_ctx {
	struct msghdr msg;
	struct iovec iov[RINGO_STREAM_IOVS];
	struct ringo__send_ctx *next;	/* free list */
	struct ringo__send_ctx *all;	/* every context, freed at loop close */
};

/* Called for each CQE of the op (res, cqe flags), on the loop thread. */
typedef void (*ringo__complete_fn)(ringo_loop_t *loop, struct ringo__op *op, int res,
				   unsigned flags);

enum ringo__op_state {
	RINGO__OP_FREE = 0,
	RINGO__OP_QUEUED,	/* waiting for SQ room in the overflow queue */
	RINGO__OP_INFLIGHT,	/* SQE handed to the ring */
	RINGO__OP_CANCELLING,	/* an ASYNC_CANCEL was sent for it */
	RINGO__OP_ABORTED,	/* cancelled before submission; completes from pending */
	RINGO__OP_VOIDED,	/* cancelled while its SQE still sat unconsumed in the
				 * SQ: the SQE became a NOP, its CQE reads -ECANCELED */
};

/*
 * An SQE that found the SQ full, kept outside the record while it waits in
 * the overflow queue (and, if cancelled there, in the aborted queue). Only
 * ops that meet a full SQ hold one, so records stay small: idle connections
 * each hold an armed recv's record, never one of these.
 */
struct ringo__staged {
	struct ringo_sqe sqe;
	struct ringo__op *op;		/* the op it belongs to */
	struct ringo_queue q;		/* overflow or aborted queue */
	struct ringo__staged *next_free;
};

/*
 * One in-flight operation. Pool-allocated; lives in the id table from
 * ringo__op_new until its last CQE (or its local cancellation) is handled.
 * Kept within two cache lines (see the _Static_assert below): everything a
 * completion touches is here, the overflow path's SQE is not.
 */
struct ringo__op {
	uint64_t id;
	ringo__complete_fn complete;
	void *owner;		  /* the request (or module object) it reports to */
	ringo_handle_t *handle;	  /* owning handle, or NULL (always while free);
				   * its inflight counts us */
	union {
		struct ringo__staged *staged; /* QUEUED, ABORTED: its waiting SQE */
		struct ringo__op *next_free;  /* FREE: the free list */
	};
	uint8_t state;		  /* enum ringo__op_state */
	uint8_t counts_active;	  /* 1: keeps the loop alive as an active request */
	UT_hash_handle hh;	  /* id table */
	struct ringo_timespec ts; /* a timeout op's time, read by the kernel at submit */
};

_Static_assert(sizeof(struct ringo__op) <= 128, "an op record should fit two cache lines");

/* The loop's private state, living in ringo_loop.private_. */
struct ringo__loop {
	struct ringo_ring ring;
	struct ringo__op *ops;		/* uthash table head: id -> record */
	struct ringo__op sentinel;	/* id 0, always in the table */
	struct ringo__op *free_ops;	/* free records, linked through next_free */
	struct ringo__slab *slabs;	/* record slabs, newest first (op.c) */
	struct ringo__staged *free_staged; /* spare overflow SQEs */
	unsigned staged_spare;		/* how many: >= 2 after each ringo__op_new */
	UT_hash_bucket *id_buckets;	/* the table's buckets and their mask, */
	unsigned id_mask;		/* kept here so ops need not load tbl */
	unsigned ids_live;		/* records in the id table, sentinel aside */
	unsigned ids_grow_at;		/* records past which the buckets double:
					 * RINGO__TABLE_LOAD a bucket */
	unsigned ops_total;		/* records the slabs handed out, live or free
					 * (sealed ones aside: op.c) */
	uint64_t trim_after;		/* completions before trimming is worth a try */
	void *staged_slabs;		/* their slabs, freed at close */
	uint64_t next_id;
	unsigned sq_limit;		/* the fast paths' SQ gate (op_hot.h) */
	struct ringo_queue overflow;	/* staged SQEs waiting for SQ room (FIFO) */
	ringo_handle_t *close_head;	/* closing handles whose close_cb is due, FIFO */
	ringo_handle_t *close_tail;
	struct ringo_queue aborted;	/* staged SQEs of ops cancelled before submission */
	struct ringo_queue deferred;	/* requests finishing without a CQE */
	unsigned open_handles;		/* initialised, close_cb not yet run */
	unsigned closing_handles;	/* ringo_close called, close_cb not yet run */
	struct ringo_queue asyncs;	/* async handles, for the wake scan */
	unsigned active_handles;	/* active and referenced */
	unsigned active_reqs;		/* requests in flight */
	unsigned flags;			/* RINGO_LOOP_* options */
	unsigned state;			/* LOOP_* bits below */
	uint64_t now_ms;		/* loop time; read it through ringo__now */
	uint64_t now_ns;		/* the clock reading it came from */
	unsigned now_stale;		/* re-read the clock on next use */
	int wake_fd;			/* eventfd: async sends and work completions */
	uint64_t wake_buf;		/* read target of the wake op */
	int wake_pending;		/* atomic: a wake write is outstanding */
	int wake_armed;			/* the wake read is in flight */
	uint64_t wake_id;		/* its op id */
	int host_fd;			/* eventfd registered for embedding, or -1 */
	int park_fd;			/* epoll set of parked reads, or -1 */
	uint64_t park_id;		/* its multishot poll op, or 0 */
	unsigned park_idle_ms;		/* re-park after this much silence */
	unsigned park_sweeping;		/* the idle sweep's TIMEOUT op is in flight */
	unsigned park_armed;		/* recvs its current round has seen */
	struct ringo__ops_pos park_pos;	/* where its round goes on, or none */
	int fs_ftruncate;		/* FTRUNCATE op: 0 unknown, 1 usable, -1 not */
	struct ringo__work_pool *pool;	/* created on first ringo_work_queue */
	struct ringo__bufpool *bufpool;	/* receive buffers, on first read_start */
	struct ringo__bufpool *dgram_pool; /* datagram buffers, on first udp_recv_start */
	int bufpool_no_ms_accept;	/* the kernel refused multishot accept */
	int send_zc;			/* SEND_ZC: 0 unknown, 1 usable, -1 not */
	struct ringo__send_ctx *send_free; /* at most one per concurrent sendmsg */
	struct ringo__send_ctx *send_all;
	struct ringo__direct *direct;	/* registered-file slots, on first use */
	struct tbuckets timers;		/* timers, one bucket per deadline ms */
	struct heap deadlines;		/* request deadlines, by (deadline, seq) */
	uint64_t deadline_seq;		/* push counter: FIFO among equal deadlines */
	uint64_t timeout_id;		/* the wait-timeout op without EXT_ARG, or 0 */
	uint64_t timeout_deadline;	/* its deadline, ms */
	unsigned threadpool_size;
	struct ringo_loop_metrics metrics;
};

#define LOOP_RUNNING (1U << 0)	/* inside ringo_run */
#define LOOP_STOP (1U << 1)	/* ringo_stop was called */
#define LOOP_READY (1U << 2)	/* init succeeded, not closed */
/* (1U << 3) is loop.c's LOOP_ENABLED */
#define LOOP_CLOSING (1U << 4)	/* ringo_loop_close is tearing down: re-arm nothing */

_Static_assert(sizeof(struct ringo__loop) <= sizeof(((ringo_loop_t *)0)->private_),
	       "RINGO_LOOP_PRIVATE_WORDS too small");

static inline struct ringo__loop *L(const ringo_loop_t *loop)
{
	return (struct ringo__loop *)(uintptr_t)loop->private_;
}

/* loop.c: read the clock into the loop time. */
void ringo__now_refresh(struct ringo__loop *l);

/*
 * The loop time, ms. It goes stale at each iteration's start and after
 * each wait, and the clock is read on its first use after that: an
 * iteration with no timer pending and nobody asking the time reads no
 * clock at all (a read is 20-30 ns on kvm-clock, ~1% of a loopback round
 * trip at two iterations each). Within an iteration the value is cached.
 */
static inline uint64_t ringo__now(struct ringo__loop *l)
{
	if (l->now_stale)
		ringo__now_refresh(l);
	return l->now_ms;
}

/* handle hflags */
#define HANDLE_ACTIVE (1U << 0)
#define HANDLE_REF (1U << 1)
#define HANDLE_CLOSING (1U << 2)
#define HANDLE_CLOSED (1U << 3)
#define HANDLE_INIT (1U << 4)
#define HANDLE_CLOSE_QUEUED (1U << 5)

/* ---- op.c: records, ids, submission ---- */
int ringo__ops_init(ringo_loop_t *loop);
void ringo__ops_free(ringo_loop_t *loop);
/* A fresh record in the table, or NULL (-ENOMEM). */
struct ringo__op *ringo__op_new(ringo_loop_t *loop, ringo__complete_fn complete, void *owner,
				ringo_handle_t *handle);
/*
 * A record for a request's op: the request is counted active until its
 * last CQE, and its common fields (loop, type, op_id, no deadline) are set.
 */
struct ringo__op *ringo__req_op(ringo_loop_t *loop, ringo_req_t *req, int type,
				ringo__complete_fn complete, ringo_handle_t *handle);
/*
 * ringo__req_op and ringo__op_sqe in one call, for a request whose op is a
 * single SQE: the SQE to fill (user_data set), or NULL (-ENOMEM).
 */
struct ringo_sqe *ringo__req_op_sqe(ringo_loop_t *loop, ringo_req_t *req, int type,
				    ringo__complete_fn complete, ringo_handle_t *handle);
/* The SQE to fill for `op`: a ring SQE, or a staged one when it must wait.
 * Never fails: ringo__op_new keeps two staged SQEs in reserve, enough for
 * the op and the link timeout that may be taken with it. */
struct ringo_sqe *ringo__op_sqe(ringo_loop_t *loop, struct ringo__op *op);
struct ringo__op *ringo__op_find(ringo_loop_t *loop, uint64_t id);
/* Cancel `op`: ASYNC_CANCEL if submitted, local abort if still queued. */
int ringo__op_cancel(ringo_loop_t *loop, struct ringo__op *op);
/* Cancel every op still in flight (used at loop close). */
void ringo__ops_cancel_all(ringo_loop_t *loop);
/* Visit the ops in flight completing through `complete` (the idle sweep),
 * from *pos on, until `visit` returns false for one: *pos then names it,
 * and false is returned. A walk whose slab went meanwhile is over. */
bool ringo__ops_each(ringo_loop_t *loop, ringo__complete_fn complete,
		     bool (*visit)(ringo_loop_t *loop, struct ringo__op *op, void *arg), void *arg,
		     struct ringo__ops_pos *pos);
/* Give the kernel back the record slabs that are wholly free, and seal
 * those few live records pin; how many slabs went or were sealed. */
unsigned ringo__ops_trim(ringo_loop_t *loop);
/* Take back a record whose SQE was never obtained. */
void ringo__op_forget(ringo_loop_t *loop, struct ringo__op *op);
/* Move queued ops into free SQ slots; returns how many remain queued. */
unsigned ringo__ops_flush_overflow(ringo_loop_t *loop);
/* Dispatch up to `max` ready CQEs in place, without retiring them; returns
 * how many (the caller retires them with ringo_ring_cq_advance). */
unsigned ringo__ops_dispatch_ready(ringo_loop_t *loop, unsigned max);
/* Records in the table (ops not yet finished). */
unsigned ringo__ops_live(const ringo_loop_t *loop);
/* The completion of raw requests (ringo_submit, ringo_nop): dispatch calls
 * it directly rather than through the record. */
void ringo__raw_complete(ringo_loop_t *loop, struct ringo__op *op, int res, unsigned flags);
/* raw.c: a raw request's final result through its deadline state. */
int ringo__raw_final_res(struct ringo__op *op, ringo_raw_t *req, int res);
/* Complete ops aborted before submission, with -ECANCELED. */
bool ringo__ops_run_aborted(ringo_loop_t *loop);

/* ---- handle.c ---- */
void ringo__handle_init(ringo_loop_t *loop, ringo_handle_t *h, int type);
void ringo__handle_start(ringo_handle_t *h);
void ringo__handle_stop(ringo_handle_t *h);
/* The loop's own handle (a timer): not counted open, never keeps the loop
 * alive, never closed; it goes with the loop's timers at loop close. */
void ringo__handle_hide(ringo_handle_t *h);
/* The op of a handle finished: a closing handle may now be done. */
void ringo__handle_op_done(ringo_handle_t *h);
bool ringo__run_pending(ringo_loop_t *loop);
void ringo__req_defer(ringo_loop_t *loop, ringo_req_t *req, int res);

/* request rflags */
#define REQ_DEADLINE (1U << 0)	/* a deadline sits in the deadline heap */
#define REQ_TIMED_OUT (1U << 1)	/* the deadline fired: report -ETIMEDOUT */
#define REQ_LINKED (1U << 2)	/* the SQE carries a linked timeout */

/* ---- fs/direct.c ---- */
/* Free the direct-descriptor slots (loop close; the ring drops the table). */
void ringo__fs_direct_free(ringo_loop_t *loop);

/* ---- timer/timer.c ---- */
/* Fire due timers and deadlines; those started meanwhile wait a turn. */
void ringo__timers_run(ringo_loop_t *loop);
/* The nearest deadline (timer or request) in ms, or UINT64_MAX with none. */
uint64_t ringo__timers_next(const ringo_loop_t *loop);
/* Free timer and deadline storage (loop close). */
void ringo__timers_free(ringo_loop_t *loop);
void ringo__timer_close(ringo_handle_t *h);

/* ---- timer/deadline.c ---- */
/* Drop a request's deadline (it completed). */
void ringo__req_deadline_clear(ringo_req_t *req);
/* Fire the nearest request deadline if it is < `before` and was set before
 * push count `seq_end`; false when there is none such. */
bool ringo__deadlines_fire_one(ringo_loop_t *loop, uint64_t before, uint64_t seq_end);
/* The nearest request deadline in ms, or UINT64_MAX with none. */
uint64_t ringo__deadlines_next(const ringo_loop_t *loop);
void ringo__deadlines_free(ringo_loop_t *loop);
/* Arm the single wait-timeout op for `deadline` (no EXT_ARG). */
int ringo__timeout_arm(ringo_loop_t *loop, uint64_t deadline);
/* Two SQEs side by side for a linked pair (never split across submits). */
void ringo__op_sqe_pair(ringo_loop_t *loop, struct ringo__op *a, struct ringo__op *b,
			struct ringo_sqe **sa, struct ringo_sqe **sb);

/* ---- async.c / work.c ---- */
int ringo__wake_init(ringo_loop_t *loop);
void ringo__wake_fd_close(ringo_loop_t *loop);
int ringo__wake_arm(ringo_loop_t *loop);
void ringo__wake(ringo_loop_t *loop);
void ringo__async_close(ringo_handle_t *h);
void ringo__work_pool_stop(ringo_loop_t *loop);
void ringo__work_drain(ringo_loop_t *loop);
int ringo__work_cancel(ringo_work_t *req);
/* Call after_cb for a request that left the pool (status 0 or -ECANCELED). */
void ringo__work_finish(ringo_work_t *req, int status);

#endif
