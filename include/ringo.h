/* SPDX-License-Identifier: MIT */
/*
 * ringo: a callback-driven proactor event loop for Linux io_uring.
 *
 * This is the one public header. Every int a ringo function returns is >= 0
 * on success or a negative errno value; ringo never sets errno for the
 * caller. ringo_strerror() and ringo_err_name() turn those values into text.
 *
 * The raw ring layer (<ringo/ring.h>) is included here and usable on its own.
 */
#ifndef RINGO_H
#define RINGO_H

#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <ringo/ring.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RINGO_VERSION_MAJOR 0
#define RINGO_VERSION_MINOR 1
#define RINGO_VERSION_PATCH 0

/* End of stream, as a read status. Outside the errno range on purpose. */
#define RINGO_EOF (-4095)

/* "0.1.0": the version of the library actually linked. */
RINGO_EXTERN const char *ringo_version_string(void);

/*
 * A sentence describing `err` (a negative errno value or RINGO_EOF), never
 * NULL; the string is static. Errors that io_uring setup returns for a known
 * reason (ENOSYS: no io_uring in the kernel; EPERM: blocked by seccomp or
 * kernel.io_uring_disabled) are explained as such by
 * ringo_setup_strerror().
 */
RINGO_EXTERN const char *ringo_strerror(int err);

/* The symbolic name of `err`: "ENOENT", "RINGO_EOF", or "UNKNOWN". */
RINGO_EXTERN const char *ringo_err_name(int err);

/* Why io_uring setup failed with `err`, in words a user can act on. */
RINGO_EXTERN const char *ringo_setup_strerror(int err);

/* ======================================================================
 * The loop
 * ====================================================================== */

typedef struct ringo_loop ringo_loop_t;
typedef struct ringo_handle ringo_handle_t;
typedef struct ringo_req ringo_req_t;
typedef struct ringo_raw ringo_raw_t;
typedef struct ringo_async ringo_async_t;
typedef struct ringo_work ringo_work_t;
typedef struct ringo_timer ringo_timer_t;
typedef struct ringo_stream ringo_stream_t;
typedef struct ringo_stream ringo_tcp_t;	/* TCP stream (IPv4, IPv6) */
typedef struct ringo_stream ringo_unix_t;	/* Unix stream socket */
typedef struct ringo_connect ringo_connect_t;
typedef struct ringo_write ringo_write_t;
typedef struct ringo_shutdown ringo_shutdown_t;
typedef struct ringo_getaddrinfo ringo_getaddrinfo_t;
typedef struct ringo_udp ringo_udp_t;
typedef struct ringo_udp_send ringo_udp_send_t;
typedef struct ringo_fs ringo_fs_t;
typedef struct ringo_fs_file ringo_fs_file_t;
typedef struct ringo_fs_walk ringo_fs_walk_t;

/* Intrusive doubly-linked list node; embedded in handles and requests. */
struct ringo_queue {
	struct ringo_queue *next;
	struct ringo_queue *prev;
};

typedef enum {
	RINGO_RUN_DEFAULT = 0,	/* until nothing is alive or ringo_stop() */
	RINGO_RUN_ONCE,		/* one iteration; waits for work if any is alive */
	RINGO_RUN_NOWAIT	/* one iteration; never waits */
} ringo_run_mode;

/* ringo_loop_opts.flags: opt-ins and switches that force the older paths
 * (so tests cover them on a new kernel). */
#define RINGO_LOOP_SQPOLL		(1U << 0)	/* kernel SQ polling thread */
#define RINGO_LOOP_NO_DEFER_TASKRUN	(1U << 1)	/* no SINGLE_ISSUER+DEFER_TASKRUN */
#define RINGO_LOOP_NO_MULTISHOT		(1U << 2)	/* single-shot accept/recv only */
#define RINGO_LOOP_NO_BUF_RING		(1U << 3)	/* no provided-buffer rings */
#define RINGO_LOOP_NO_EXT_ARG		(1U << 4)	/* timed waits via a timeout SQE */
#define RINGO_LOOP_NO_FS_RING_OPS	(1U << 5)	/* ftruncate on the work pool */
#define RINGO_LOOP_WAIT_TIME		(1U << 6)	/* measure wait_ns (2 clock reads a wait) */
#define RINGO_LOOP_PARK_READS		(1U << 7)	/* park reads until the first data too */
#define RINGO_LOOP_NO_PARK		(1U << 8)	/* never park an idle stream's read */
#define RINGO_LOOP_SQ_ARRAY		(1U << 9)	/* keep the SQ index array (pre-6.6) */
#define RINGO_LOOP_KNOWN_FLAGS		((1U << 10) - 1) /* every flag above */

struct ringo_loop_opts {
	unsigned entries;	  /* SQ entries, a power of two; 0 = 256 */
	unsigned cq_entries;	  /* CQ entries, >= entries (the kernel rounds up to a
				     power of two); 0 = 4 * entries */
	unsigned flags;		  /* RINGO_LOOP_* */
	unsigned sqpoll_idle_ms;  /* with RINGO_LOOP_SQPOLL; 0 = 1000 */
	unsigned threadpool_size; /* work pool threads; 0 = $RINGO_THREADPOOL_SIZE or 4 */
	unsigned park_idle_ms;	  /* a stream whose recv saw nothing for 1-2 times this
				     parks (see ringo_read_start); 0 = 10000 */
};

struct ringo_loop_metrics {
	uint64_t iterations;	/* loop iterations */
	uint64_t submitted;	/* SQEs handed to the kernel */
	uint64_t completions;	/* CQEs dispatched to a record (added per batch) */
	uint64_t stale_cqes;	/* CQEs whose id had no record: dropped */
	uint64_t sq_full_waits;	/* ops that waited for SQ room */
	uint64_t cq_overflows;	/* times the kernel reported CQ overflow */
	uint64_t wait_ns;	/* time blocked in io_uring_enter; needs RINGO_LOOP_WAIT_TIME */
	uint64_t parks;		/* reads parked in the loop's epoll set */
	/* Now, not counts: */
	uint64_t ops_live;	/* op records in use (the loop's own ops included) */
	uint64_t op_records;	/* op records mapped, in use or free: memory held */
	uint64_t read_buffers;	/* stream receive buffers allocated (16 KiB each) */
	uint64_t id_buckets;	/* buckets of the id table (doubled as the records
				 * pass 4 a bucket on average) */
};

/* Large enough for the loop's private state; checked at build time. */
#define RINGO_LOOP_PRIVATE_WORDS 112

struct ringo_loop {
	void *data; /* public: yours */
	/* private */
	uint64_t private_[RINGO_LOOP_PRIVATE_WORDS];
};

/* Defaults for every option. */
RINGO_EXTERN void ringo_loop_opts_init(struct ringo_loop_opts *opts);

/*
 * Set up a loop and its ring (opts may be NULL for defaults). Returns 0,
 * -EINVAL for a NULL loop or bad options, or the -errno of io_uring setup
 * (ringo_setup_strerror() says what blocked it: -ENOSYS, -EPERM...).
 */
RINGO_EXTERN int ringo_loop_init(ringo_loop_t *loop, const struct ringo_loop_opts *opts);

/*
 * Release the loop. -EBUSY while handles are open or operations are in
 * flight (close them and run the loop first), or when called from inside
 * ringo_run; the loop is untouched then.
 */
RINGO_EXTERN int ringo_loop_close(ringo_loop_t *loop);

/*
 * Run the loop. Returns > 0 if something is still alive (after ringo_stop
 * or in ONCE/NOWAIT mode), 0 if nothing is, -EINVAL for a bad loop or mode,
 * -EBUSY when called from inside a callback of the same loop, or the -errno
 * of a ring failure.
 */
RINGO_EXTERN int ringo_run(ringo_loop_t *loop, ringo_run_mode mode);

/* Make ringo_run return after the current iteration. */
RINGO_EXTERN void ringo_stop(ringo_loop_t *loop);

/* 1 if active, referenced handles or requests remain, else 0. */
RINGO_EXTERN int ringo_loop_alive(const ringo_loop_t *loop);

/*
 * The loop time: monotonic ms, cached. It goes stale at the start of each
 * iteration and after each wait, and the clock is read on the first call
 * after that, so it costs nothing in an iteration that never asks. Loop
 * thread only (it may update the cache).
 */
RINGO_EXTERN uint64_t ringo_now(const ringo_loop_t *loop);
RINGO_EXTERN void ringo_update_time(ringo_loop_t *loop);

/*
 * An fd that becomes readable when completions wait, for embedding in a
 * host poll/epoll loop: when it fires (or ringo_loop_timeout() passes), call
 * ringo_run(loop, RINGO_RUN_NOWAIT). Operations started from outside a
 * callback reach the kernel at the next ringo_run; a host calls it once
 * after starting them. Returns the fd (owned by the loop) or -errno.
 */
RINGO_EXTERN int ringo_loop_fd(ringo_loop_t *loop);

/*
 * For a host loop: how long (ms) it may sleep before calling ringo_run
 * again even if ringo_loop_fd() stays quiet, because a timer comes due;
 * 0 when work is ready now, -1 when only the fd matters.
 */
RINGO_EXTERN int64_t ringo_loop_timeout(const ringo_loop_t *loop);

/* Copy the loop's counters into *m. */
RINGO_EXTERN int ringo_loop_metrics(const ringo_loop_t *loop, struct ringo_loop_metrics *m);

/* The loop's ring, for ringo_ring_* queries (features, probe). Submitting
 * on it directly bypasses the loop: use ringo_submit instead. */
RINGO_EXTERN struct ringo_ring *ringo_loop_ring(ringo_loop_t *loop);

/* ======================================================================
 * Handles and requests
 *
 * Handles (long-lived: async, timers, sockets) and requests (one
 * operation) are caller-owned memory. Fields marked private are the
 * loop's. A handle's memory is the caller's again only in its close_cb.
 * ====================================================================== */

enum {
	RINGO_HANDLE_UNKNOWN = 0,
	RINGO_HANDLE_ASYNC,
	RINGO_HANDLE_TIMER,
	RINGO_HANDLE_TCP,
	RINGO_HANDLE_UNIX,
	RINGO_HANDLE_UDP,
	RINGO_HANDLE_TYPE_MAX
};

enum {
	RINGO_REQ_UNKNOWN = 0,
	RINGO_REQ_RAW,
	RINGO_REQ_WORK,
	RINGO_REQ_CONNECT,
	RINGO_REQ_WRITE,
	RINGO_REQ_SHUTDOWN,
	RINGO_REQ_GETADDRINFO,
	RINGO_REQ_UDP_SEND,
	RINGO_REQ_FS,
	RINGO_REQ_FS_FILE,
	RINGO_REQ_FS_WALK,
	RINGO_REQ_TYPE_MAX
};

typedef void (*ringo_close_cb)(ringo_handle_t *handle);

/*
 * Private. From ringo_close on, a handle's close state; before it, 16
 * bytes its type may keep its own state in (a timer: its repeat and its
 * place in the loop's timer lines), so that state costs no extra bytes.
 * ringo_close runs the type's close hook before it writes `close`.
 */
union ringo_handle_priv {
	struct {
		ringo_close_cb cb;	/* ringo_close's argument */
		ringo_handle_t *next;	/* the loop's close queue */
	} close;
	struct {
		uint64_t u64;
		uint32_t u32[2];
	} own;
};

#define RINGO_HANDLE_FIELDS                                                                    \
	void *data;		  /* public: yours */                                          \
	ringo_loop_t *loop;	  /* read-only */                                              \
	union ringo_handle_priv priv; /* private */                                            \
	uint32_t inflight;	  /* private: ops awaiting their last CQE */                   \
	uint8_t type;		  /* read-only: RINGO_HANDLE_* */                               \
	uint8_t hflags;		  /* private */

struct ringo_handle {
	RINGO_HANDLE_FIELDS
};

#define RINGO_REQ_FIELDS                                                                       \
	void *data;		  /* public: yours */                                          \
	ringo_loop_t *loop;	  /* read-only */                                              \
	int type;		  /* read-only: RINGO_REQ_* */                                  \
	int pending_res;	  /* private: result of a deferred completion */               \
	uint64_t op_id;		  /* private: id of the op in flight, 0 if none */             \
	uint32_t heap_index;	  /* private: slot of its deadline in the timer heap */        \
	uint32_t rflags;	  /* private */                                                \
	struct ringo_queue pending_q; /* private: deferred callbacks */

struct ringo_req {
	RINGO_REQ_FIELDS
};

/*
 * Close a handle: its operations are cancelled, and close_cb (may be NULL)
 * runs from the loop after the last of their CQEs. -EINVAL for NULL or an
 * uninitialised handle, -EALREADY if it is already closing.
 */
RINGO_EXTERN int ringo_close(ringo_handle_t *handle, ringo_close_cb close_cb);
RINGO_EXTERN int ringo_is_closing(const ringo_handle_t *handle);
RINGO_EXTERN int ringo_is_active(const ringo_handle_t *handle);

/* An unreferenced handle does not keep ringo_run(DEFAULT) going. */
RINGO_EXTERN void ringo_ref(ringo_handle_t *handle);
RINGO_EXTERN void ringo_unref(ringo_handle_t *handle);
RINGO_EXTERN int ringo_has_ref(const ringo_handle_t *handle);

/*
 * Cancel a request in flight. Its callback then runs once, with -ECANCELED
 * (or with its real result if it completed first). Returns 0 when the
 * cancellation is under way, -ENOENT if the request is not in flight
 * (finished, or not started since its last completion), -EALREADY if it is
 * already being cancelled, -EBUSY for work that already started, -EINVAL
 * for NULL or a request that was never started on any loop.
 */
RINGO_EXTERN int ringo_cancel(ringo_req_t *req);

/* ---- Raw operations: any io_uring op, with a callback ---------------- */

/* Fill the SQE (its user_data belongs to the loop). Return 0, or -errno to
 * refuse: the request then fails with that error and no callback. */
typedef int (*ringo_prep_cb)(struct ringo_sqe *sqe, void *arg);
/* res is cqe->res; cqe_flags tells RINGO_CQE_F_MORE (more CQEs follow) etc. */
typedef void (*ringo_raw_cb)(ringo_raw_t *req, int res, unsigned cqe_flags);

struct ringo_raw {
	RINGO_REQ_FIELDS
	ringo_raw_cb cb; /* read-only */
};

/*
 * Submit an operation prepared by `prep` (called at once, with `arg`).
 * `cb` runs once per CQE: once for ordinary ops, until a CQE without
 * RINGO_CQE_F_MORE for multishot ones. Linking flags (RINGO_SQE_IO_LINK,
 * RINGO_SQE_IO_HARDLINK) are refused with -EINVAL: a link would tie this op
 * to whatever the loop submits next. Returns 0 or -errno (-EINVAL for NULL
 * arguments, -EBUSY if `req` is still in flight, -ENOMEM).
 */
RINGO_EXTERN int ringo_submit(ringo_loop_t *loop, ringo_raw_t *req, ringo_prep_cb prep,
			      void *arg, ringo_raw_cb cb);

/* A no-op through the ring; cb gets res 0. */
RINGO_EXTERN int ringo_nop(ringo_loop_t *loop, ringo_raw_t *req, ringo_raw_cb cb);

/*
 * As ringo_submit, with a deadline carried by the kernel: the SQE is linked
 * (RINGO_SQE_IO_LINK) to a link_timeout of `timeout_ms`. If the op has not
 * finished by then the kernel cancels it and cb gets -ETIMEDOUT. A
 * -ECANCELED the op gets for any other reason than ringo_cancel() (which
 * still reports -ECANCELED) is the deadline, and is reported as -ETIMEDOUT.
 * An op that finishes first reports its own result; the deadline is gone.
 */
RINGO_EXTERN int ringo_submit_timeout(ringo_loop_t *loop, ringo_raw_t *req, ringo_prep_cb prep,
				      void *arg, int64_t timeout_ms, ringo_raw_cb cb);

/*
 * Put a deadline on a request already in flight, `ms` from now (replacing
 * one set before). When it passes, the request is cancelled and its
 * callback gets -ETIMEDOUT instead of -ECANCELED. Works for any op,
 * multishot ones included (it uses the loop's timers and ringo_cancel).
 * Like timers, it counts from the loop's cached time (ringo_now): after
 * blocking work outside the loop, call ringo_update_time() first.
 * Returns 0, -ENOENT if the request is not in flight, -EINVAL for NULL, a
 * request never started on any loop, or a negative time.
 */
RINGO_EXTERN int ringo_deadline(ringo_req_t *req, int64_t ms);

/* ---- Timers ----------------------------------------------------------- */

typedef void (*ringo_timer_cb)(ringo_timer_t *timer);

/*
 * 48 bytes on LP64: a million timers are 48 MB of the caller's memory.
 * The repeat and the timer's place live in the handle's priv until
 * ringo_close: read the repeat with ringo_timer_get_repeat().
 */
struct ringo_timer {
	RINGO_HANDLE_FIELDS
	ringo_timer_cb cb;	/* read-only */
};

/* A stopped timer. No I/O; never fails for valid arguments. */
RINGO_EXTERN int ringo_timer_init(ringo_loop_t *loop, ringo_timer_t *timer);

/*
 * Fire cb after `timeout_ms`, then every `repeat_ms` (0 = once). Starting
 * an active timer restarts it. A timeout of 0 fires on the next loop
 * iteration, never inside this call. Timers due at the same time fire in
 * the order they were started.
 *
 * Repeats do not drift: each deadline is the previous deadline plus
 * repeat_ms, not "when the callback ran" plus repeat_ms. A loop that fell
 * behind by several periods fires once, then keeps the original phase
 * (the next deadline is the first one still in the future): no burst.
 *
 * The timeout counts from the loop's cached time (ringo_now), as in libuv:
 * after blocking work outside the loop, call ringo_update_time() first.
 *
 * Returns 0, or -EINVAL for NULL arguments, negative times, or an
 * uninitialised or closing handle; -ENOMEM
 * if the timer store could not grow (the timer is then stopped).
 */
RINGO_EXTERN int ringo_timer_start(ringo_timer_t *timer, ringo_timer_cb cb, int64_t timeout_ms,
				   int64_t repeat_ms);

/*
 * Stop the timer; stopping a stopped, closing or closed timer is fine (0).
 * -EINVAL for NULL or a handle that is not an initialised timer.
 */
RINGO_EXTERN int ringo_timer_stop(ringo_timer_t *timer);

/*
 * Restart a repeating timer with its repeat as the timeout, active or not
 * (a no-op returning 0 when the repeat is 0). -EINVAL for NULL, a handle
 * that is not an initialised timer, a timer never started, or a closing
 * or closed one.
 */
RINGO_EXTERN int ringo_timer_again(ringo_timer_t *timer);

/*
 * Change the repeat; takes effect at the next firing. -EINVAL (and no
 * change) for NULL, a handle that is not an initialised timer, a closing
 * or closed one, or a negative repeat.
 */
RINGO_EXTERN int ringo_timer_set_repeat(ringo_timer_t *timer, int64_t repeat_ms);

/* The repeat in ms; 0 for NULL, a handle that is not an initialised
 * timer, or a closing or closed one (closing reuses its bytes). */
RINGO_EXTERN uint64_t ringo_timer_get_repeat(const ringo_timer_t *timer);

/* Ms until the timer fires; 0 when it is stopped, closing, closed or
 * already due, and for NULL or a handle that is not an initialised timer. */
RINGO_EXTERN uint64_t ringo_timer_get_due_in(const ringo_timer_t *timer);

/* ---- Cross-thread wake-up --------------------------------------------- */

typedef void (*ringo_async_cb)(ringo_async_t *handle);

struct ringo_async {
	RINGO_HANDLE_FIELDS
	ringo_async_cb cb;	   /* read-only */
	int pending;		   /* private: set by senders */
	struct ringo_queue async_q; /* private: the loop's async list */
};

/* An active handle whose cb runs on the loop thread after sends. */
RINGO_EXTERN int ringo_async_init(ringo_loop_t *loop, ringo_async_t *handle, ringo_async_cb cb);

/*
 * Wake the loop to run handle->cb. Callable from any thread, and from
 * signal handlers. Sends before the callback runs coalesce into one call.
 * Returns 0, or -EINVAL for NULL / a closing handle. The caller must make
 * sure no send can still be running once ringo_loop_close() may be called
 * (join the sending threads, or mask the signal): a send racing the
 * loop's close would write to a closed fd.
 */
RINGO_EXTERN int ringo_async_send(ringo_async_t *handle);

/* ---- Work pool: blocking work on threads ------------------------------ */

typedef void (*ringo_work_cb)(ringo_work_t *req);
typedef void (*ringo_after_work_cb)(ringo_work_t *req, int status);

struct ringo_work {
	RINGO_REQ_FIELDS
	ringo_work_cb work_cb;		/* read-only */
	ringo_after_work_cb after_cb;	/* read-only */
	int wstate;			/* private */
	struct ringo_queue work_q;	/* private */
};

/*
 * Run work_cb on a pool thread, then after_cb on the loop thread with 0, or
 * with -ECANCELED if ringo_cancel() caught it before it started. The queue
 * is the caller's requests linked together: it holds as many as are queued,
 * with no copy and no allocation.
 */
RINGO_EXTERN int ringo_work_queue(ringo_loop_t *loop, ringo_work_t *req, ringo_work_cb work_cb,
				  ringo_after_work_cb after_cb);


/* ---- DNS --------------------------------------------------------------- */

/*
 * status 0 and `res` (free it with ringo_freeaddrinfo), or -errno:
 * -ENOENT no such host or service (EAI_NONAME, EAI_NODATA, EAI_SERVICE),
 * -EAGAIN temporary failure, -EAFNOSUPPORT, -ESOCKTNOSUPPORT, -EINVAL bad
 * flags, -ENOMEM, -ECANCELED when cancelled, other -errno for EAI_SYSTEM,
 * -EIO for anything else.
 */
typedef void (*ringo_getaddrinfo_cb)(ringo_getaddrinfo_t *req, int status,
				     struct addrinfo *res);

struct ringo_getaddrinfo {
	RINGO_REQ_FIELDS
	ringo_getaddrinfo_cb cb;	/* read-only */
	const char *host;		/* read-only: the caller's, kept until cb */
	const char *service;		/* read-only: likewise */
	struct addrinfo hints;		/* private: a copy */
	int has_hints;			/* private */
	int status;			/* private */
	struct addrinfo *res;		/* private */
	ringo_work_t work;		/* private */
};

/*
 * Resolve host/service with getaddrinfo(3) on the work pool; cb runs on
 * the loop thread. host or service may be NULL (not both); hints is
 * copied. ringo_cancel() before a pool thread picks it up gives
 * -ECANCELED. Returns 0 or -EINVAL.
 */
RINGO_EXTERN int ringo_getaddrinfo(ringo_loop_t *loop, ringo_getaddrinfo_t *req,
				   ringo_getaddrinfo_cb cb, const char *host, const char *service,
				   const struct addrinfo *hints);
RINGO_EXTERN void ringo_freeaddrinfo(struct addrinfo *ai);

/* ---- Streams: TCP and Unix sockets ------------------------------------ */

/*
 * One handle type serves TCP (IPv4/IPv6) and Unix stream sockets. Listening
 * uses multishot accept, reading uses multishot recv into buffers from a
 * provided-buffer ring the loop owns; both fall back to single-shot ops
 * where the kernel lacks them or the loop options turn them off.
 */

/* A new connection waits: call ringo_accept() inside this callback (a
 * connection not accepted there is closed). status < 0: accept failed. */
typedef void (*ringo_connection_cb)(ringo_stream_t *server, int status);

/*
 * Data arrived: nread > 0 bytes at `data`, valid until the callback
 * returns (ringo_read_keep() keeps it longer). nread == RINGO_EOF: the
 * peer closed its side; reading stopped. nread < 0: -errno (-ECONNRESET...);
 * reading stopped.
 */
typedef void (*ringo_read_cb)(ringo_stream_t *stream, ssize_t nread, const void *data);
typedef void (*ringo_connect_cb)(ringo_connect_t *req, int status);
typedef void (*ringo_write_cb)(ringo_write_t *req, int status);
typedef void (*ringo_shutdown_cb)(ringo_shutdown_t *req, int status);

/* Inline iovecs a stream gathers queued writes into: small writes queued
 * together leave in one sendmsg. */
#define RINGO_STREAM_IOVS 8

/*
 * Private fields are packed for the idle connection, the common case (88
 * bytes on LP64): ids of ops that never run together share a slot, state
 * only listeners, lookups, stopped or starved reads need shares storage
 * with state they exclude (net/net_internal.h has the invariants), and
 * what a send or a shutdown needs while it waits lives in its request.
 */
struct ringo_stream {
	RINGO_HANDLE_FIELDS
	uint16_t sflags;		/* private (fills the handle fields' padding) */
	int fd;				/* read-only: the socket, -1 before bind/connect */
	union {				/* private, -1 when unused: */
		int accepted_fd;	/*   listener: the connection in connection_cb */
		uint32_t lent_bid;	/*   reader, plain mode: buffer of the recv in flight */
		uint32_t stash_tail;	/*   stopped reader: data received after read_stop,
					 *   a ring through the pool, for the next read_start */
	};
	size_t write_queue_size;	/* read-only: bytes queued and not yet sent */
	union {				/* private */
		ringo_connection_cb connection_cb; /* listener */
		ringo_read_cb read_cb;		   /* connection */
	};
	union {				/* private */
		uint64_t rd_id;			/* the accept or recv op in flight */
		ringo_stream_t *buf_wait_next;	/* STREAM_BUF_WAIT: next waiting for
						 * a pool buffer (no recv in flight) */
	};
	uint64_t wr_id;			/* private: the connect, send or shutdown op in flight */
	union {				/* private */
		ringo_write_t *write_tail;	/* queued writes, a ring from the tail */
		ringo_connect_t *lookup;	/* STREAM_RESOLVING: connect_host's lookup */
	};
};

struct ringo_connect {
	RINGO_REQ_FIELDS
	ringo_stream_t *handle;		/* read-only */
	ringo_connect_cb cb;		/* read-only */
	struct sockaddr_storage addr;	/* private: read by the kernel at submit */
	socklen_t addrlen;		/* private */
	/* private, for ringo_tcp_connect_host: */
	ringo_connect_cb user_cb;
	struct addrinfo *ai_list, *ai_next;
	int resolving;
	ringo_getaddrinfo_t gai;
};

struct ringo_write {
	RINGO_REQ_FIELDS
	ringo_stream_t *handle;		/* read-only */
	ringo_write_cb cb;		/* read-only */
	const struct iovec *bufs;	/* read-only: the caller's, kept until cb */
	unsigned nbufs;			/* read-only */
	unsigned wflags;		/* read-only: RINGO_WRITE_* */
	unsigned buf_idx;		/* private: progress: first unsent buffer */
	int zc_res;			/* private: a zero-copy send's result, held
					 * until its notification */
	size_t buf_off;			/* private: and bytes of it already sent */
	ringo_write_t *next;		/* private: the stream's write queue */
	void *send_ctx;			/* private: sendmsg state lent while this
					 * request heads a sendmsg in flight */
	ringo_shutdown_t *shutdown;	/* private: a shutdown waiting for this
					 * request, the last one queued */
};

struct ringo_shutdown {
	RINGO_REQ_FIELDS
	ringo_stream_t *handle;		/* read-only */
	ringo_shutdown_cb cb;		/* read-only */
};

/* ringo_tcp_bind flags */
#define RINGO_TCP_REUSEPORT (1U << 0)	/* SO_REUSEPORT: one listener per loop */
#define RINGO_TCP_IPV6ONLY (1U << 1)

/* A TCP handle with no socket yet (made by bind or connect). No I/O. */
RINGO_EXTERN int ringo_tcp_init(ringo_loop_t *loop, ringo_tcp_t *tcp);
/* A Unix stream handle with no socket yet. */
RINGO_EXTERN int ringo_unix_init(ringo_loop_t *loop, ringo_unix_t *un);

/*
 * Bind to `addr` (AF_INET or AF_INET6), with SO_REUSEADDR. -EINVAL for a
 * NULL/short address or another family, -EAFNOSUPPORT, -EADDRINUSE...
 */
RINGO_EXTERN int ringo_tcp_bind(ringo_tcp_t *tcp, const struct sockaddr *addr, unsigned flags);

/*
 * Bind to a socket path, or to an abstract name when name[0] == '\0' (then
 * `len` counts the name's bytes, leading NUL included, at most 108; paths
 * take at most 107 bytes, and len may be 0 to use strlen). -EINVAL for
 * NULL, empty or too long names.
 */
RINGO_EXTERN int ringo_unix_bind(ringo_unix_t *un, const char *name, size_t len);

/* Listen and accept: connection_cb runs once per new connection. */
RINGO_EXTERN int ringo_listen(ringo_stream_t *server, int backlog, ringo_connection_cb cb);

/* Inside connection_cb: give the new connection to `client`, an initialised
 * handle of the same kind with no socket. -EAGAIN when none is waiting. */
RINGO_EXTERN int ringo_accept(ringo_stream_t *server, ringo_stream_t *client);

/* Connect; cb gets 0 or -errno (-ECONNREFUSED...). `addr` is copied. */
RINGO_EXTERN int ringo_tcp_connect(ringo_connect_t *req, ringo_tcp_t *tcp,
				   const struct sockaddr *addr, ringo_connect_cb cb);
RINGO_EXTERN int ringo_unix_connect(ringo_connect_t *req, ringo_unix_t *un, const char *name,
				    size_t len, ringo_connect_cb cb);

/*
 * Resolve host and service (a port number or name) on the work pool, then
 * connect to each address in turn until one accepts. cb gets 0, the last
 * connect error, or the resolver's error (-ENOENT for an unknown host).
 * ringo_cancel() works in both phases (-ECANCELED); ringo_deadline() bounds
 * the connect phase. The handle must not have a socket yet.
 */
RINGO_EXTERN int ringo_tcp_connect_host(ringo_connect_t *req, ringo_tcp_t *tcp, const char *host,
					const char *service, ringo_connect_cb cb);

/*
 * Start reading: read_cb per chunk until EOF, an error or ringo_read_stop.
 * -EALREADY if already reading, -ENOTCONN without a connected socket.
 *
 * Idle streams park: a read whose recv saw nothing for one to two
 * park_idle_ms (ringo_loop_opts, 10 s by default) gives its recv up and
 * waits in the loop's epoll set, in kernel memory only (no op record, no
 * recv), until the socket is readable again; that costs two epoll_ctl per
 * idle spell, nothing while data flows. With RINGO_LOOP_PARK_READS a read
 * also parks from its start until the first data (servers holding many
 * silent connections), at two epoll_ctl per connection.
 * RINGO_LOOP_NO_PARK turns parking off.
 */
RINGO_EXTERN int ringo_read_start(ringo_stream_t *stream, ringo_read_cb read_cb);
/* Stop reading; idempotent. No read_cb runs after this returns. */
RINGO_EXTERN int ringo_read_stop(ringo_stream_t *stream);

/*
 * Inside read_cb: keep the current buffer past the callback. Returns a
 * token (> 0) to give to ringo_read_release() when done with the data, or
 * -EINVAL outside read_cb. Kept buffers count against the pool's bound.
 */
RINGO_EXTERN int ringo_read_keep(ringo_stream_t *stream);
RINGO_EXTERN int ringo_read_release(ringo_loop_t *loop, int token);

/*
 * Queue `nbufs` buffers to send, after every write queued before. The
 * array and the data must stay valid until cb, which gets 0 once every
 * byte was sent, or -errno (-EPIPE, -ECONNRESET, -ECANCELED on close).
 * Partial sends are continued before the next write starts; small writes
 * queued together are sent in one sendmsg. -EINVAL for NULL, 0 buffers,
 * or more than IOV_MAX; -ENOTCONN / -EPIPE for a closed or shut handle.
 */
RINGO_EXTERN int ringo_write(ringo_write_t *req, ringo_stream_t *stream, const struct iovec *bufs,
			     unsigned nbufs, ringo_write_cb cb);

/* ringo_write_flags flags */
#define RINGO_WRITE_ZEROCOPY (1U << 0)	/* send without copying (SEND_ZC, 6.0) */

/*
 * ringo_write with flags. RINGO_WRITE_ZEROCOPY: the request is sent on its
 * own with SEND_ZC/SENDMSG_ZC, and cb runs only after the kernel's
 * notification that it no longer reads the buffers, so they may be reused
 * in cb. Worth it for large buffers (tens of KiB and up); on kernels
 * without SEND_ZC the write is sent normally. -EINVAL for unknown flags.
 */
RINGO_EXTERN int ringo_write_flags(ringo_write_t *req, ringo_stream_t *stream,
				   const struct iovec *bufs, unsigned nbufs, unsigned flags,
				   ringo_write_cb cb);

/* Shut down the sending side after all queued writes are sent. */
RINGO_EXTERN int ringo_shutdown(ringo_shutdown_t *req, ringo_stream_t *stream,
				ringo_shutdown_cb cb);

RINGO_EXTERN int ringo_tcp_nodelay(ringo_tcp_t *tcp, int enable);
/* Keepalive with the first probe after `delay_s` idle seconds. */
RINGO_EXTERN int ringo_tcp_keepalive(ringo_tcp_t *tcp, int enable, unsigned delay_s);
RINGO_EXTERN int ringo_getsockname(const ringo_stream_t *stream, struct sockaddr *addr,
				   socklen_t *len);
RINGO_EXTERN int ringo_getpeername(const ringo_stream_t *stream, struct sockaddr *addr,
				   socklen_t *len);
RINGO_EXTERN size_t ringo_write_queue_size(const ringo_stream_t *stream);

/* ---- UDP --------------------------------------------------------------- */

/*
 * Receiving uses one multishot recvmsg per handle into buffers from a pool
 * the loop owns (6.0, provided-buffer rings), and single-shot recvmsg into
 * a per-handle buffer where the kernel lacks that or the loop options
 * (RINGO_LOOP_NO_MULTISHOT, RINGO_LOOP_NO_BUF_RING) turn it off. Both
 * report the same: every datagram whole up to the receive size, cut and
 * flagged beyond it; datagrams never lost or reordered by stop/start.
 */

/* recv flags */
#define RINGO_UDP_TRUNCATED (1U << 0)	/* the datagram was longer than the buffer */

/* Default receive buffer: any UDP datagram fits. */
#define RINGO_UDP_MAX_DATAGRAM 65536

/*
 * A datagram: nread bytes at data from addr (valid during the callback),
 * flags RINGO_UDP_TRUNCATED if it was cut; nread < 0 is -errno and
 * receiving stops.
 */
typedef void (*ringo_udp_recv_cb)(ringo_udp_t *udp, ssize_t nread, const void *data,
				  const struct sockaddr *addr, unsigned flags);
typedef void (*ringo_udp_send_cb)(ringo_udp_send_t *req, int status);

struct ringo_udp {
	RINGO_HANDLE_FIELDS
	int fd;				/* read-only: -1 before bind/connect/send */
	uint32_t uflags;		/* private */
	ringo_udp_recv_cb recv_cb;	/* private */
	uint64_t recv_id;		/* private */
	unsigned char *buf;		/* private: allocated at recv_start */
	size_t buf_size;		/* private: default RINGO_UDP_MAX_DATAGRAM */
	struct msghdr msg;		/* private: the recvmsg in flight */
	struct iovec iov;		/* private */
	struct sockaddr_storage from;	/* private */
	uint32_t stash_head;		/* private: datagrams received after */
	uint32_t stash_tail;		/*   recv_stop, delivered at the next recv_start */
};

struct ringo_udp_send {
	RINGO_REQ_FIELDS
	ringo_udp_t *handle;		/* read-only */
	ringo_udp_send_cb cb;		/* read-only */
	struct msghdr msg;		/* private */
	struct sockaddr_storage addr;	/* private: a copy of the destination */
};

RINGO_EXTERN int ringo_udp_init(ringo_loop_t *loop, ringo_udp_t *udp);
/* Bind (AF_INET/AF_INET6); flags RINGO_TCP_REUSEPORT apply here too. */
RINGO_EXTERN int ringo_udp_bind(ringo_udp_t *udp, const struct sockaddr *addr, unsigned flags);
/* Fix the peer: sends may then pass a NULL address, and only its datagrams arrive. */
RINGO_EXTERN int ringo_udp_connect(ringo_udp_t *udp, const struct sockaddr *addr);
/*
 * Send one datagram made of `nbufs` buffers (array and data valid until
 * cb) to `addr` (NULL on a connected handle). -EINVAL for bad arguments,
 * -EMSGSIZE in cb for a datagram too large, -ECONNREFUSED on connected
 * handles after an ICMP error.
 */
RINGO_EXTERN int ringo_udp_send(ringo_udp_send_t *req, ringo_udp_t *udp, const struct iovec *bufs,
				unsigned nbufs, const struct sockaddr *addr, ringo_udp_send_cb cb);
/* Receive into `size` bytes (1..RINGO_UDP_MAX_DATAGRAM) instead of the
 * default; longer datagrams arrive cut, flagged RINGO_UDP_TRUNCATED. Only
 * while not receiving (-EBUSY otherwise). */
RINGO_EXTERN int ringo_udp_set_recv_size(ringo_udp_t *udp, size_t size);
RINGO_EXTERN int ringo_udp_recv_start(ringo_udp_t *udp, ringo_udp_recv_cb cb);
RINGO_EXTERN int ringo_udp_recv_stop(ringo_udp_t *udp);
RINGO_EXTERN int ringo_udp_getsockname(const ringo_udp_t *udp, struct sockaddr *addr,
				       socklen_t *len);

/* ---- Files ------------------------------------------------------------- */

/* What a ringo_fs_t did (req->fs_type). */
typedef enum {
	RINGO_FS_UNKNOWN = 0,
	RINGO_FS_OPEN, RINGO_FS_CLOSE, RINGO_FS_READ, RINGO_FS_WRITE, RINGO_FS_READV,
	RINGO_FS_WRITEV, RINGO_FS_FSYNC, RINGO_FS_FDATASYNC, RINGO_FS_FALLOCATE,
	RINGO_FS_FTRUNCATE, RINGO_FS_STAT, RINGO_FS_LSTAT, RINGO_FS_FSTAT, RINGO_FS_RENAME,
	RINGO_FS_UNLINK, RINGO_FS_RMDIR, RINGO_FS_MKDIR, RINGO_FS_SYMLINK, RINGO_FS_LINK,
	RINGO_FS_READLINK, RINGO_FS_SPLICE, RINGO_FS_FADVISE, RINGO_FS_COPY_RANGE,
	RINGO_FS_OPENDIR, RINGO_FS_READDIR, RINGO_FS_CLOSEDIR
} ringo_fs_type;

/* An open directory (ringo_fs_opendir); opaque. */
typedef struct ringo_dir ringo_dir_t;

/* One directory entry from ringo_fs_readdir. */
struct ringo_dirent {
	const char *name;	/* NUL-terminated; valid until the next readdir or
				 * closedir on the same directory */
	uint64_t ino;
	unsigned char type;	/* DT_REG, DT_DIR, DT_LNK... (<dirent.h>), or
				 * DT_UNKNOWN where the file system does not say */
};

/* File metadata, filled by the stat calls (from statx). Times in ns. */
struct ringo_stat {
	uint64_t dev, ino, nlink, size, blocks, blksize, rdev;
	uint32_t mode, uid, gid;
	int64_t atime_ns, mtime_ns, ctime_ns, btime_ns; /* btime 0 if unknown */
};

typedef void (*ringo_fs_cb)(ringo_fs_t *req);

struct ringo_fs {
	RINGO_REQ_FIELDS
	ringo_fs_cb cb;			/* read-only */
	ringo_fs_type fs_type;		/* read-only */
	ssize_t result;			/* read-only: >= 0 (fd, bytes, 0) or -errno */
	struct ringo_stat statbuf;	/* read-only: after the stat calls */
	const char *path;		/* read-only: the caller's, kept until cb */
	const char *path2;		/* read-only: second path (rename, link...) */
	ringo_dir_t *dir;		/* read-only: ringo_fs_opendir's result */
	struct ringo_dirent *dirents;	/* read-only: ringo_fs_readdir's entries */
	void *buf;			/* private: readlink target buffer */
	size_t len;			/* private */
	int fd;				/* private */
	uint64_t off;			/* private */
	int fd2;			/* private */
	uint64_t off2;			/* private */
	struct statx *stx;		/* private: points into statx_buf */
	unsigned char statx_buf[256];	/* private: struct statx, kept opaque */
	ringo_work_t work;		/* private: for calls the ring lacks */
};

/*
 * Every call below starts one operation and returns 0 (cb will run once,
 * with req->result set) or -errno (cb never runs): -EINVAL for NULL
 * arguments, lengths over INT_MAX, or more than IOV_MAX iovecs. Paths and
 * buffers are the caller's and must stay valid until cb. Offsets of -1
 * use and move the file position, like read(2)/write(2); other offsets
 * behave like pread(2)/pwrite(2) (> 4 GiB included; short reads at EOF).
 * ringo_cancel() works on any of them (-ECANCELED in req->result).
 */
RINGO_EXTERN int ringo_fs_open(ringo_loop_t *loop, ringo_fs_t *req, const char *path, int flags,
			       mode_t mode, ringo_fs_cb cb);
/* openat(2) relative to `dirfd` (AT_FDCWD for the working directory). */
RINGO_EXTERN int ringo_fs_openat(ringo_loop_t *loop, ringo_fs_t *req, int dirfd,
				 const char *path, int flags, mode_t mode, ringo_fs_cb cb);
RINGO_EXTERN int ringo_fs_close(ringo_loop_t *loop, ringo_fs_t *req, int fd, ringo_fs_cb cb);
RINGO_EXTERN int ringo_fs_read(ringo_loop_t *loop, ringo_fs_t *req, int fd, void *buf, size_t len,
			       int64_t offset, ringo_fs_cb cb);
RINGO_EXTERN int ringo_fs_write(ringo_loop_t *loop, ringo_fs_t *req, int fd, const void *buf,
				size_t len, int64_t offset, ringo_fs_cb cb);
RINGO_EXTERN int ringo_fs_readv(ringo_loop_t *loop, ringo_fs_t *req, int fd,
				const struct iovec *iov, unsigned niov, int64_t offset,
				ringo_fs_cb cb);
RINGO_EXTERN int ringo_fs_writev(ringo_loop_t *loop, ringo_fs_t *req, int fd,
				 const struct iovec *iov, unsigned niov, int64_t offset,
				 ringo_fs_cb cb);
RINGO_EXTERN int ringo_fs_fsync(ringo_loop_t *loop, ringo_fs_t *req, int fd, ringo_fs_cb cb);
RINGO_EXTERN int ringo_fs_fdatasync(ringo_loop_t *loop, ringo_fs_t *req, int fd, ringo_fs_cb cb);
RINGO_EXTERN int ringo_fs_fallocate(ringo_loop_t *loop, ringo_fs_t *req, int fd, int mode,
				    int64_t offset, int64_t len, ringo_fs_cb cb);
/* The ring op on 6.9+, the work pool before. */
RINGO_EXTERN int ringo_fs_ftruncate(ringo_loop_t *loop, ringo_fs_t *req, int fd, int64_t len,
				    ringo_fs_cb cb);
RINGO_EXTERN int ringo_fs_stat(ringo_loop_t *loop, ringo_fs_t *req, const char *path,
			       ringo_fs_cb cb);
RINGO_EXTERN int ringo_fs_lstat(ringo_loop_t *loop, ringo_fs_t *req, const char *path,
				ringo_fs_cb cb);
RINGO_EXTERN int ringo_fs_fstat(ringo_loop_t *loop, ringo_fs_t *req, int fd, ringo_fs_cb cb);
RINGO_EXTERN int ringo_fs_rename(ringo_loop_t *loop, ringo_fs_t *req, const char *from,
				 const char *to, ringo_fs_cb cb);
RINGO_EXTERN int ringo_fs_unlink(ringo_loop_t *loop, ringo_fs_t *req, const char *path,
				 ringo_fs_cb cb);
RINGO_EXTERN int ringo_fs_rmdir(ringo_loop_t *loop, ringo_fs_t *req, const char *path,
				ringo_fs_cb cb);
RINGO_EXTERN int ringo_fs_mkdir(ringo_loop_t *loop, ringo_fs_t *req, const char *path,
				mode_t mode, ringo_fs_cb cb);
/* Create `linkpath` pointing at `target`. */
RINGO_EXTERN int ringo_fs_symlink(ringo_loop_t *loop, ringo_fs_t *req, const char *target,
				  const char *linkpath, ringo_fs_cb cb);
RINGO_EXTERN int ringo_fs_link(ringo_loop_t *loop, ringo_fs_t *req, const char *from,
			       const char *to, ringo_fs_cb cb);
/* readlink(2) on the work pool into buf (not NUL-terminated); result is
 * the length, which may equal len when the target was cut. */
RINGO_EXTERN int ringo_fs_readlink(ringo_loop_t *loop, ringo_fs_t *req, const char *path,
				   char *buf, size_t len, ringo_fs_cb cb);
/* Move up to len bytes between fds, one of them a pipe (offsets -1: none). */
RINGO_EXTERN int ringo_fs_splice(ringo_loop_t *loop, ringo_fs_t *req, int fd_in, int64_t off_in,
				 int fd_out, int64_t off_out, size_t len, unsigned flags,
				 ringo_fs_cb cb);
RINGO_EXTERN int ringo_fs_fadvise(ringo_loop_t *loop, ringo_fs_t *req, int fd, int64_t offset,
				  int64_t len, int advice, ringo_fs_cb cb);
/*
 * copy_file_range(2) on the work pool: up to len bytes from fd_in to
 * fd_out inside the kernel (reflinked or server-side where the file system
 * can). Offsets of -1 use and move the file position. result is the bytes
 * copied: fewer than len at EOF, 0 when off_in is at or past it.
 */
RINGO_EXTERN int ringo_fs_copy_range(ringo_loop_t *loop, ringo_fs_t *req, int fd_in,
				     int64_t off_in, int fd_out, int64_t off_out, size_t len,
				     ringo_fs_cb cb);

/* ---- Direct descriptors ------------------------------------------------ */

/*
 * Register `fd` in the ring's fixed-file table and get a direct descriptor
 * for it: pass it as the fd of ringo_fs_read, write, readv, writev, fsync,
 * fdatasync, fallocate, fadvise, ftruncate and splice (either end) to skip
 * the kernel's per-op fd lookup. The ring keeps its own reference to the
 * file: the caller may close(fd) at once. Calls that run on the work pool
 * or take no file (ftruncate with RINGO_LOOP_NO_FS_RING_OPS, copy_range,
 * fstat, close) refuse a direct descriptor with -EBADF.
 * The table has RINGO_FS_DIRECT_MAX slots (fewer when RLIMIT_NOFILE is
 * lower), registered on the first call. Returns the descriptor (>= 0), or
 * -EBADF (fd not open, or already direct), -ENFILE (table full), -EINVAL
 * (no loop), or the kernel's -errno.
 */
#define RINGO_FS_DIRECT_BIT (1 << 30)
#define RINGO_FS_DIRECT_MAX 1024
static inline int ringo_fs_is_direct(int fd)
{
	return fd >= 0 && (fd & RINGO_FS_DIRECT_BIT);
}
RINGO_EXTERN int ringo_fs_register_fd(ringo_loop_t *loop, int fd);
/*
 * Release a direct descriptor's slot (the file closes when its last
 * reference goes). As with close(2), do it once no operation on it is in
 * flight: ops the kernel already took keep the file; an op submitted later
 * gets -EBADF, or the file of whoever reuses the slot. -EBADF when
 * `direct` is not a registered descriptor of this loop.
 */
RINGO_EXTERN int ringo_fs_unregister_fd(ringo_loop_t *loop, int direct);

/* ---- Directories -------------------------------------------------------- */

/*
 * Directories are read with getdents64 on the work pool (io_uring has no
 * directory-read op). ringo_fs_opendir sets req->dir (result 0): one
 * malloc of RINGO_DIR_BUFSIZE plus a small header, freed by closedir.
 * ringo_fs_readdir fills up to nents entries of the caller's array and
 * sets req->dirents to it; result is the count, 0 at the end of the
 * directory. "." and ".." are left out. One readdir at a time per
 * directory (-EBUSY otherwise); closedir while a readdir is in flight is
 * -EBUSY too. closedir's callback is the last use of the directory.
 */
#define RINGO_DIR_BUFSIZE (32 * 1024)

RINGO_EXTERN int ringo_fs_opendir(ringo_loop_t *loop, ringo_fs_t *req, const char *path,
				  ringo_fs_cb cb);
RINGO_EXTERN int ringo_fs_readdir(ringo_loop_t *loop, ringo_fs_t *req, ringo_dir_t *dir,
				  struct ringo_dirent *dirents, unsigned nents, ringo_fs_cb cb);
RINGO_EXTERN int ringo_fs_closedir(ringo_loop_t *loop, ringo_fs_t *req, ringo_dir_t *dir,
				   ringo_fs_cb cb);
/* The directory's file descriptor (for *at() calls relative to it). */
RINGO_EXTERN int ringo_dir_fd(const ringo_dir_t *dir);

/* ---- Whole-file helpers ------------------------------------------------ */

/* ringo_fs_write_file flags */
#define RINGO_FS_ATOMIC (1U << 0)	/* temp file + fsync + rename + dir fsync */
/* ringo_fs_copy_file flags */
#define RINGO_FS_COPY_EXCL (1U << 0)	/* fail with -EEXIST if dst exists */

/* Blocks a copy keeps in flight, and their size. */
#define RINGO_FS_COPY_BLOCKS 4
#define RINGO_FS_COPY_BLOCK (256 * 1024)

typedef void (*ringo_fs_file_cb)(ringo_fs_file_t *req, int status);

struct ringo_fs_copy_block {		/* private */
	ringo_fs_t fs;
	unsigned char *buf;
	uint64_t off;
	size_t len;
	size_t done;
	ringo_fs_file_t *owner;
};

struct ringo_fs_file {
	RINGO_REQ_FIELDS
	ringo_fs_file_cb cb;		/* read-only */
	void *contents;			/* read-only: ringo_fs_read_file's result,
					 * malloc'd and the caller's to free() */
	size_t size;			/* read-only: bytes in contents / written / copied */
	/* private below */
	const char *path, *path2;
	const void *src;
	unsigned flags;
	int step;
	int fd, fd2, dirfd;
	int err;
	uint32_t mode;
	size_t cap;
	uint64_t off, total;
	uint64_t src_dev, src_ino;
	unsigned busy;
	char tmp[4096];
	ringo_fs_t fs;
	struct ringo_fs_copy_block blocks[RINGO_FS_COPY_BLOCKS];
};

/*
 * Read a whole file. cb gets 0 with req->contents (NUL-terminated for
 * convenience; req->size bytes; free() it) or -errno with contents NULL.
 */
RINGO_EXTERN int ringo_fs_read_file(ringo_loop_t *loop, ringo_fs_file_t *req, const char *path,
				    ringo_fs_file_cb cb);

/*
 * Write `len` bytes to path (created 0666 & ~umask, or truncated). With
 * RINGO_FS_ATOMIC the data goes to a temp file in the same directory
 * (given the permission bits of the file it replaces, if any), which is
 * fsynced and renamed over path, then the directory is fsynced:
 * readers see the old file or the new one, never a part, even if the
 * process dies midway (a leftover temp file is named ".NAME.ringo-*").
 */
RINGO_EXTERN int ringo_fs_write_file(ringo_loop_t *loop, ringo_fs_file_t *req, const char *path,
				     const void *data, size_t len, unsigned flags,
				     ringo_fs_file_cb cb);

/*
 * Copy src to dst, keeping src's permission bits: in the kernel with
 * copy_file_range (16 MiB per trip to the work pool) where the two files
 * allow it, else with RINGO_FS_COPY_BLOCKS reads and writes in flight. dst is truncated unless
 * RINGO_FS_COPY_EXCL. cb gets 0 (req->size = bytes copied) or -errno
 * (-EINVAL when dst is src itself, which is left untouched).
 */
RINGO_EXTERN int ringo_fs_copy_file(ringo_loop_t *loop, ringo_fs_file_t *req, const char *src,
				    const char *dst, unsigned flags, ringo_fs_file_cb cb);


/* ---- Directory trees --------------------------------------------------- */

/*
 * ringo_fs_walk's fixed budget, which is all the memory a walk holds
 * besides its pending-directory stack (see ringo_fs_walk): directories
 * open and being read at once, the getdents64 buffer of each, and statx
 * calls in flight at once.
 */
#define RINGO_FS_WALK_DIRS 8
#define RINGO_FS_WALK_DIRBUF (32 * 1024)
#define RINGO_FS_WALK_STATS 64

/* visit_cb return values; a negative value (-errno) stops the walk. */
#define RINGO_WALK_CONTINUE 0
#define RINGO_WALK_SKIP 1	/* on a directory: do not read it */

/* One entry, valid during visit_cb only. */
struct ringo_fs_walk_entry {
	const char *path;	/* root, or root/.../name (no "//" after a root
				 * ending in '/'); for -ENAMETOOLONG the path
				 * of the directory holding `name` */
	const char *name;	/* last component (the root's whole path at depth 0) */
	unsigned depth;		/* 0 for the root, 1 for its entries... */
	int error;		/* 0, or -errno: see ringo_fs_walk */
	const struct ringo_stat *st; /* lstat-like (links not followed); NULL
				      * when error != 0 */
};

typedef int (*ringo_fs_walk_visit_cb)(ringo_fs_walk_t *req,
				      const struct ringo_fs_walk_entry *entry);
typedef void (*ringo_fs_walk_cb)(ringo_fs_walk_t *req, int status);

struct ringo_fs_walk {
	RINGO_REQ_FIELDS
	ringo_fs_walk_visit_cb visit_cb;	/* read-only */
	ringo_fs_walk_cb done_cb;		/* read-only */
	const char *root;			/* read-only: the caller's, kept until done_cb */
	uint64_t visited;			/* read-only: visits with a stat */
	uint64_t errors;			/* read-only: visits with an error */
	struct ringo__walk *walk_;		/* private */
};

/*
 * Walk the tree at `root`: visit_cb gets every entry (the root included,
 * at depth 0) with its statx result, and done_cb runs once at the end.
 *
 * Mechanism and bounds: directories are opened and read with getdents64
 * on the loop's work pool (io_uring has no getdents op in mainline
 * kernels, 6.18 included), at most RINGO_FS_WALK_DIRS at once; each entry
 * is stat'ed through the ring with statx relative to its open directory,
 * at most RINGO_FS_WALK_STATS at once. Directories found but not yet read
 * wait on a stack (depth first) holding their paths: it holds at most the
 * not-yet-read subdirectories of the directories on the current branches,
 * so a tree of depth D whose directories have at most F subdirectories
 * needs about D * F paths; a flat directory of 10k subdirectories needs
 * 10k paths (their bytes plus 8 each), never the entries that are files.
 * Paths longer than PATH_MAX are not followed (an -ENAMETOOLONG visit).
 *
 * Order: a directory is visited before anything inside it; nothing else
 * is promised (entries of different directories interleave, and the
 * order inside a directory is getdents64's).
 *
 * Symbolic links are never followed, the root included: they are visited
 * as links (S_ISLNK(st->mode)). Other file systems below root are walked.
 *
 * visit_cb returns RINGO_WALK_CONTINUE, RINGO_WALK_SKIP (for a directory:
 * do not read it), or a negative -errno to stop: then no visit follows
 * and done_cb gets that value once the operations in flight are over.
 *
 * Errors inside the tree do not stop the walk: the entry is visited with
 * `error` set and st NULL. An entry whose statx fails (it vanished
 * between getdents64 and statx: -ENOENT) is visited once that way; a
 * directory that cannot be opened or read (-EACCES, -ENOENT when removed
 * meanwhile) is visited a second time that way, after its own visit. To
 * stop at the first error, return entry->error from visit_cb.
 *
 * done_cb gets 0 when the tree was walked (req->errors counts error
 * visits), a visit_cb's negative return, -ECANCELED after ringo_cancel()
 * (no visit runs after ringo_cancel returns), -ENOMEM, or the root's own
 * statx error (-ENOENT for a missing root, -ENOTDIR...: no visit then).
 *
 * Returns 0 (done_cb will run exactly once) or -errno and no callback:
 * -EINVAL for a NULL loop, req, root or visit_cb/done_cb, or an empty
 * root; -ENAMETOOLONG for a root of PATH_MAX bytes or more; -ENOMEM.
 * `root` must stay valid until done_cb. The loop stays alive (and
 * ringo_loop_close says -EBUSY) until done_cb.
 */
RINGO_EXTERN int ringo_fs_walk(ringo_loop_t *loop, ringo_fs_walk_t *req, const char *root,
			       ringo_fs_walk_visit_cb visit_cb, ringo_fs_walk_cb done_cb);


#ifdef __cplusplus
}
#endif

#endif
