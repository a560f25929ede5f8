/* SPDX-License-Identifier: MIT */
/*
 * Shared by net/: the loop's receive buffer pool and stream internals.
 */
#ifndef RINGO_NET_INTERNAL_H
#define RINGO_NET_INTERNAL_H

#include "loop_internal.h"

/*
 * The receive pools. The stream pool: RINGO__POOL_MAX buffers of
 * RINGO__POOL_BUF bytes at the most (16 MiB, the documented bound),
 * allocated RINGO__POOL_CHUNK at a time as -ENOBUFS says more are needed.
 * In ring mode they sit in a provided-buffer ring (group RINGO__POOL_BGID,
 * reserved for the loop) and the kernel picks one per receive; in plain
 * mode (no buffer rings, or turned off) a free stack hands one to each
 * single-shot recv.
 *
 * The datagram pool feeds multishot recvmsg on UDP handles, ring mode
 * only: each buffer holds the kernel's ringo_recvmsg_out header, the
 * source address and any datagram whole (RINGO_UDP_MAX_DATAGRAM), so
 * receiving through it never cuts what a per-handle buffer would have
 * kept. RINGO__DGRAM_MAX buffers at the most (16.4 MiB of address space;
 * the kernel writes only what arrives, so small datagrams touch one page
 * per buffer), RINGO__DGRAM_CHUNK at a time, group RINGO__DGRAM_BGID.
 */
#define RINGO__POOL_BUF 16384U
#define RINGO__POOL_CHUNK 64U
#define RINGO__POOL_MAX 1024U
#define RINGO__POOL_BGID 0xfffeU
#define RINGO__POOL_GROW_MS 10U	/* streams waiting grow the pool a chunk at most this often */
#define RINGO__POOL_WAKE_MS 1U	/* ring mode: waiters are re-armed on ticks this far apart */
#define RINGO__POOL_NCHUNKS (RINGO__POOL_MAX / RINGO__POOL_CHUNK)
#define RINGO__NO_BID UINT32_MAX

#define RINGO__DGRAM_NAMELEN ((unsigned)sizeof(struct sockaddr_in6))
#define RINGO__DGRAM_BUF (RINGO_UDP_MAX_DATAGRAM + 64U)
#define RINGO__DGRAM_CHUNK 16U
#define RINGO__DGRAM_MAX 256U
#define RINGO__DGRAM_BGID 0xfffdU

_Static_assert(RINGO__DGRAM_BUF >= sizeof(struct ringo_recvmsg_out) + RINGO__DGRAM_NAMELEN +
					   RINGO_UDP_MAX_DATAGRAM,
	       "a datagram buffer holds header, address and the largest datagram");
_Static_assert(RINGO__DGRAM_MAX / RINGO__DGRAM_CHUNK <= RINGO__POOL_NCHUNKS &&
		       RINGO__DGRAM_MAX <= RINGO__POOL_MAX,
	       "the datagram pool fits the pool bookkeeping");

struct ringo__bufpool {
	struct ringo_buf_ring *br;	/* NULL in plain mode */
	unsigned char *chunks[RINGO__POOL_NCHUNKS];
	unsigned count;			/* buffers allocated */
	unsigned buf_size;		/* bytes per buffer */
	unsigned chunk;			/* buffers per allocation */
	unsigned max;			/* the bound; also the ring's entries */
	unsigned bgid;			/* buffer group of the ring */
	unsigned stashed;		/* buffers held in handles' stashes */
	uint32_t free[RINGO__POOL_MAX];	/* plain mode: free bids */
	unsigned nfree;
	uint32_t next[RINGO__POOL_MAX];	/* stash links */
	uint32_t len[RINGO__POOL_MAX];	/* stash lengths */
	uint8_t kept[RINGO__POOL_MAX];	/* held by the user via ringo_read_keep */
	uint32_t read_bid;		/* the buffer read_cb is reporting, or RINGO__NO_BID
					 * (read callbacks never nest: one at a time) */
	bool multishot;			/* multishot recv usable */
	ringo_stream_t *wait_head;	/* streams waiting for a buffer, */
	ringo_stream_t *wait_tail;	/*   FIFO through buf_wait_next */
	unsigned ring_free;		/* ring mode: buffers in the ring as the CQEs tell
					 * (one taken but not reported yet counts) */
	uint64_t grown_ms;		/* loop time of the last growth for waiters */
	ringo_timer_t wake_timer;	/* hidden: ring mode's waiter ticks (stream_read.c) */
};

/* The stream pool, created on first use; NULL when out of memory. */
struct ringo__bufpool *ringo__pool(ringo_loop_t *loop);

/* park.c: wait in the loop's epoll set; 0 or -errno. */
int ringo__park(ringo_stream_t *s);
/* Leave the set, if parked. */
void ringo__unpark(ringo_stream_t *s);
/* stream_read.c: a parked stream became readable. */
void ringo__read_woke(ringo_stream_t *s);
/* A stream's recv completion (the sweep finds the recvs by it). */
void ringo__recv_complete(ringo_loop_t *loop, struct ringo__op *op, int res, unsigned flags);
/* Reading with nothing stashed or awaited: its recv may give way to a park. */
bool ringo__read_parkable(const ringo_stream_t *s);
/* Start the idle sweep if it is not running (a recv was armed). */
void ringo__park_sweep_start(ringo_loop_t *loop);
/* The datagram pool, created on first use; NULL when out of memory or when
 * the loop has no buffer rings or multishot (then UDP receives single-shot). */
struct ringo__bufpool *ringo__dgram_pool(ringo_loop_t *loop);
/* Free both pools (loop close). */
void ringo__pool_free(ringo_loop_t *loop);
int ringo__pool_grow(ringo_loop_t *loop, struct ringo__bufpool *p);
void *ringo__pool_addr(struct ringo__bufpool *p, uint32_t bid);
void ringo__pool_recycle(struct ringo__bufpool *p, uint32_t bid);
/* Plain mode: a free buffer, or RINGO__NO_BID. */
uint32_t ringo__pool_take(ringo_loop_t *loop, struct ringo__bufpool *p);

/* stream_read.c / stream_write.c / stream.c */
void ringo__read_close(ringo_stream_t *s);
/* Fail every queued write with `err`; returns the shutdown that waited
 * for them, if any (the caller starts or cancels it). */
ringo_shutdown_t *ringo__write_fail_all(ringo_stream_t *s, int err);
/* Start a shutdown now (the write queue is empty): 0 or -ENOMEM. */
int ringo__stream_shutdown_now(ringo_stream_t *s, ringo_shutdown_t *req);
/* A shutdown that will not start: its callback gets `err`. */
void ringo__shutdown_fail(ringo_shutdown_t *req, int err);
int ringo__stream_send_next(ringo_stream_t *s);

/*
 * Stream fields that share storage (include/ringo.h), and why they can:
 * - rd_id: the accept op of a listener or the recv op of a connection; a
 *   listener never reads (read_start needs a connected stream, which
 *   listen(2) refuses). connection_cb / read_cb likewise.
 * - wr_id: connect before the stream is connected; then sends; then the
 *   shutdown, which starts only once no send is in flight and after which
 *   nothing is sent.
 * - buf_wait_next / rd_id: a stream waits for a pool buffer only with no
 *   recv in flight (rd_id 0, restored when it leaves the FIFO).
 * - lookup / write_tail: resolving (STREAM_RESOLVING) happens before the
 *   stream is connected, and only a connected stream queues writes. A
 *   shutdown waiting for the write queue hangs on its last request.
 * - accepted_fd / lent_bid / stash_tail, -1 when unused: accepted_fd is a
 *   listener's; lent_bid (plain mode only) is set while a plain recv is in
 *   flight, and one is armed only with an empty stash (STREAM_STASHED
 *   clear), and its completion clears lent_bid before it may stash.
 */

/* stream flags (16 bits) */
#define STREAM_LISTENING (1U << 0)
#define STREAM_READING (1U << 1)
#define STREAM_CONNECTED (1U << 2)
#define STREAM_SHUT_WR (1U << 3)
#define STREAM_IN_READ_CB (1U << 4)
#define STREAM_KEPT (1U << 5)
#define STREAM_EOF (1U << 6)	/* EOF received while not reading: report at start */
#define STREAM_IN_WRITE_CB (1U << 7)
#define STREAM_ZC_SEND (1U << 8)	/* the send in flight is zero-copy */
#define STREAM_STASHED (1U << 9)	/* stash_tail holds received data */
#define STREAM_BUF_WAIT (1U << 10)	/* in the pool's waiters FIFO */
#define STREAM_RESOLVING (1U << 11)	/* lookup is a connect_host resolving */
#define STREAM_WOKE (1U << 12)	/* has been readable: reads no longer park */
#define STREAM_IDLE (1U << 13)	/* no recv CQE since the idle sweep marked it */
#define STREAM_PARK_DUE (1U << 14) /* idle two sweeps: its recv is to be cancelled,
				    * and its next arm parks */

#endif
