/* SPDX-License-Identifier: MIT */
/*
 * SQE prep helpers: one per operation, each filling an SQE from
 * ringo_ring_get_sqe() (which hands it out zeroed). They set every field the
 * op reads and leave user_data and sqe->flags to the caller
 * (ringo_sqe_set_data64, ringo_sqe_set_flags). Pointers passed in must stay
 * valid until the op's CQE arrives unless the kernel documents otherwise
 * (RINGO_FEAT_SUBMIT_STABLE makes most of them safe to free after submit).
 *
 * Kernel versions are those that added each op; ringo_ring_op_supported()
 * tells what the running kernel has.
 */
#ifndef RINGO_RING_PREP_H
#define RINGO_RING_PREP_H

#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <ringo/uring_abi.h>

#ifdef __cplusplus
extern "C" {
#endif

struct epoll_event;
struct msghdr;
struct statx;

static inline void ringo_sqe_set_data64(struct ringo_sqe *sqe, uint64_t data)
{
	sqe->user_data = data;
}

static inline void ringo_sqe_set_data(struct ringo_sqe *sqe, void *data)
{
	sqe->user_data = (uint64_t)(uintptr_t)data;
}

/* Add RINGO_SQE_* flags (link, drain, async, buffer select, fixed file). */
static inline void ringo_sqe_set_flags(struct ringo_sqe *sqe, unsigned flags)
{
	sqe->flags |= (uint8_t)flags;
}

/* Pick buffers for this op from provided-buffer group `bgid`. */
static inline void ringo_sqe_set_buf_group(struct ringo_sqe *sqe, unsigned bgid)
{
	sqe->flags |= RINGO_SQE_BUFFER_SELECT;
	sqe->buf_group = (uint16_t)bgid;
}

/* The common layout: fd, addr, len, off. */
static inline void ringo_prep_rw(struct ringo_sqe *sqe, unsigned op, int fd, const void *addr,
				 unsigned len, uint64_t off)
{
	sqe->opcode = (uint8_t)op;
	sqe->fd = fd;
	sqe->off = off;
	sqe->addr = (uint64_t)(uintptr_t)addr;
	sqe->len = len;
}

/*
 * Ops that create a direct descriptor take slot+1 in file_index (0 means
 * "a normal fd"); RINGO_FILE_INDEX_ALLOC lets the kernel pick a slot and
 * return it in cqe->res.
 */
static inline void ringo__set_target_slot(struct ringo_sqe *sqe, unsigned slot)
{
	sqe->file_index = slot == RINGO_FILE_INDEX_ALLOC ? RINGO_FILE_INDEX_ALLOC : slot + 1;
}

static inline void ringo_prep_nop(struct ringo_sqe *sqe)
{
	ringo_prep_rw(sqe, RINGO_OP_NOP, -1, NULL, 0, 0);
}

/* Read/write at `offset`; (uint64_t)-1 uses and moves the file position. */
static inline void ringo_prep_read(struct ringo_sqe *sqe, int fd, void *buf, unsigned nbytes,
				   uint64_t offset)
{
	ringo_prep_rw(sqe, RINGO_OP_READ, fd, buf, nbytes, offset);
}

static inline void ringo_prep_write(struct ringo_sqe *sqe, int fd, const void *buf,
				    unsigned nbytes, uint64_t offset)
{
	ringo_prep_rw(sqe, RINGO_OP_WRITE, fd, buf, nbytes, offset);
}

static inline void ringo_prep_readv(struct ringo_sqe *sqe, int fd, const struct iovec *iovecs,
				    unsigned nr_vecs, uint64_t offset)
{
	ringo_prep_rw(sqe, RINGO_OP_READV, fd, iovecs, nr_vecs, offset);
}

static inline void ringo_prep_writev(struct ringo_sqe *sqe, int fd, const struct iovec *iovecs,
				     unsigned nr_vecs, uint64_t offset)
{
	ringo_prep_rw(sqe, RINGO_OP_WRITEV, fd, iovecs, nr_vecs, offset);
}

/* Read into registered buffer `buf_index`; buf must lie inside it. */
static inline void ringo_prep_read_fixed(struct ringo_sqe *sqe, int fd, void *buf,
					 unsigned nbytes, uint64_t offset, unsigned buf_index)
{
	ringo_prep_rw(sqe, RINGO_OP_READ_FIXED, fd, buf, nbytes, offset);
	sqe->buf_index = (uint16_t)buf_index;
}

static inline void ringo_prep_write_fixed(struct ringo_sqe *sqe, int fd, const void *buf,
					  unsigned nbytes, uint64_t offset, unsigned buf_index)
{
	ringo_prep_rw(sqe, RINGO_OP_WRITE_FIXED, fd, buf, nbytes, offset);
	sqe->buf_index = (uint16_t)buf_index;
}

/* Read into a buffer picked from group `bgid` (legacy or ring-mapped). */
static inline void ringo_prep_read_select(struct ringo_sqe *sqe, int fd, unsigned nbytes,
					  uint64_t offset, unsigned bgid)
{
	ringo_prep_rw(sqe, RINGO_OP_READ, fd, NULL, nbytes, offset);
	ringo_sqe_set_buf_group(sqe, bgid);
}

/* fsync; RINGO_FSYNC_DATASYNC in `flags` makes it fdatasync. */
static inline void ringo_prep_fsync(struct ringo_sqe *sqe, int fd, unsigned flags)
{
	ringo_prep_rw(sqe, RINGO_OP_FSYNC, fd, NULL, 0, 0);
	sqe->fsync_flags = flags;
}

/* Offsets of (uint64_t)-1 mean "no offset" (pipes, or the file position). */
static inline void ringo_prep_splice(struct ringo_sqe *sqe, int fd_in, uint64_t off_in,
				     int fd_out, uint64_t off_out, unsigned nbytes,
				     unsigned splice_flags)
{
	ringo_prep_rw(sqe, RINGO_OP_SPLICE, fd_out, NULL, nbytes, off_out);
	sqe->splice_off_in = off_in;
	sqe->splice_fd_in = fd_in;
	sqe->splice_flags = splice_flags;
}

static inline void ringo_prep_tee(struct ringo_sqe *sqe, int fd_in, int fd_out, unsigned nbytes,
				  unsigned splice_flags)
{
	ringo_prep_rw(sqe, RINGO_OP_TEE, fd_out, NULL, nbytes, 0);
	sqe->splice_off_in = 0;
	sqe->splice_fd_in = fd_in;
	sqe->splice_flags = splice_flags;
}

/* accept4(2): `flags` are SOCK_NONBLOCK / SOCK_CLOEXEC. */
static inline void ringo_prep_accept(struct ringo_sqe *sqe, int fd, struct sockaddr *addr,
				     socklen_t *addrlen, int flags)
{
	ringo_prep_rw(sqe, RINGO_OP_ACCEPT, fd, addr, 0, (uint64_t)(uintptr_t)addrlen);
	sqe->accept_flags = (uint32_t)flags;
}

/* One CQE per accepted connection while RINGO_CQE_F_MORE is set (5.19). */
static inline void ringo_prep_multishot_accept(struct ringo_sqe *sqe, int fd,
					       struct sockaddr *addr, socklen_t *addrlen,
					       int flags)
{
	ringo_prep_accept(sqe, fd, addr, addrlen, flags);
	sqe->ioprio |= RINGO_ACCEPT_MULTISHOT;
}

/* Accept into direct descriptor `slot` (or RINGO_FILE_INDEX_ALLOC) (5.19). */
static inline void ringo_prep_accept_direct(struct ringo_sqe *sqe, int fd, struct sockaddr *addr,
					    socklen_t *addrlen, int flags, unsigned slot)
{
	ringo_prep_accept(sqe, fd, addr, addrlen, flags);
	ringo__set_target_slot(sqe, slot);
}

/* Multishot accept into kernel-picked direct descriptors (5.19). */
static inline void ringo_prep_multishot_accept_direct(struct ringo_sqe *sqe, int fd,
						      struct sockaddr *addr, socklen_t *addrlen,
						      int flags)
{
	ringo_prep_multishot_accept(sqe, fd, addr, addrlen, flags);
	ringo__set_target_slot(sqe, RINGO_FILE_INDEX_ALLOC);
}

static inline void ringo_prep_connect(struct ringo_sqe *sqe, int fd, const struct sockaddr *addr,
				      socklen_t addrlen)
{
	ringo_prep_rw(sqe, RINGO_OP_CONNECT, fd, addr, 0, addrlen);
}

/* epoll_ctl(2) through the ring (5.6). */
static inline void ringo_prep_epoll_ctl(struct ringo_sqe *sqe, int epfd, int fd, int op,
					struct epoll_event *ev)
{
	ringo_prep_rw(sqe, RINGO_OP_EPOLL_CTL, epfd, ev, (unsigned)op, (uint64_t)(unsigned)fd);
}

static inline void ringo_prep_send(struct ringo_sqe *sqe, int sockfd, const void *buf,
				   size_t len, int flags)
{
	ringo_prep_rw(sqe, RINGO_OP_SEND, sockfd, buf, (unsigned)len, 0);
	sqe->msg_flags = (uint32_t)flags;
}

static inline void ringo_prep_recv(struct ringo_sqe *sqe, int sockfd, void *buf, size_t len,
				   int flags)
{
	ringo_prep_rw(sqe, RINGO_OP_RECV, sockfd, buf, (unsigned)len, 0);
	sqe->msg_flags = (uint32_t)flags;
}

/*
 * Multishot recv (6.0): one CQE per chunk of data while RINGO_CQE_F_MORE is
 * set, each into a buffer from group `bgid`. The op ends on error, EOF
 * (res 0) or when the group runs dry (-ENOBUFS).
 */
static inline void ringo_prep_recv_multishot(struct ringo_sqe *sqe, int sockfd, unsigned bgid,
					     int flags)
{
	ringo_prep_recv(sqe, sockfd, NULL, 0, flags);
	sqe->ioprio |= RINGO_RECV_MULTISHOT;
	ringo_sqe_set_buf_group(sqe, bgid);
}

/*
 * Zero-copy send (6.0). Two CQEs: the result (with RINGO_CQE_F_MORE), then
 * a notification (RINGO_CQE_F_NOTIF) once the kernel no longer reads `buf`.
 * `zc_flags` takes RINGO_SEND_ZC_REPORT_USAGE.
 */
static inline void ringo_prep_send_zc(struct ringo_sqe *sqe, int sockfd, const void *buf,
				      size_t len, int flags, unsigned zc_flags)
{
	ringo_prep_rw(sqe, RINGO_OP_SEND_ZC, sockfd, buf, (unsigned)len, 0);
	sqe->msg_flags = (uint32_t)flags;
	sqe->ioprio = (uint16_t)zc_flags;
}

/* Zero-copy send out of registered buffer `buf_index`. */
static inline void ringo_prep_send_zc_fixed(struct ringo_sqe *sqe, int sockfd, const void *buf,
					    size_t len, int flags, unsigned zc_flags,
					    unsigned buf_index)
{
	ringo_prep_send_zc(sqe, sockfd, buf, len, flags, zc_flags);
	sqe->ioprio |= RINGO_RECVSEND_FIXED_BUF;
	sqe->buf_index = (uint16_t)buf_index;
}

static inline void ringo_prep_sendmsg(struct ringo_sqe *sqe, int fd, const struct msghdr *msg,
				      unsigned flags)
{
	ringo_prep_rw(sqe, RINGO_OP_SENDMSG, fd, msg, 1, 0);
	sqe->msg_flags = flags;
}

static inline void ringo_prep_recvmsg(struct ringo_sqe *sqe, int fd, struct msghdr *msg,
				      unsigned flags)
{
	ringo_prep_rw(sqe, RINGO_OP_RECVMSG, fd, msg, 1, 0);
	sqe->msg_flags = flags;
}

/*
 * Multishot recvmsg (6.0): one CQE per datagram while RINGO_CQE_F_MORE is
 * set, each into a buffer from group `bgid` laid out as ringo_recvmsg_out
 * describes. The kernel reads only msg_namelen and msg_controllen (the
 * space reserved in every buffer) and msg_iovlen, which must be 0 (the
 * whole buffer) or 1 (iov_len caps the bytes used). `msg` must stay valid
 * until the final CQE. The op ends on error or when the group runs dry
 * (-ENOBUFS); a zero-length datagram also ends it (after its CQE).
 */
static inline void ringo_prep_recvmsg_multishot(struct ringo_sqe *sqe, int fd, struct msghdr *msg,
						unsigned flags, unsigned bgid)
{
	ringo_prep_recvmsg(sqe, fd, msg, flags);
	sqe->ioprio |= RINGO_RECV_MULTISHOT;
	ringo_sqe_set_buf_group(sqe, bgid);
}

/*
 * Reading a multishot recvmsg buffer. `buf` is the buffer the CQE names,
 * `res` the CQE's result (bytes written into it, header included) and
 * `msg` the msghdr given at prep. Every accessor is bounds-checked against
 * res: the header and the reserved name and control areas must all lie
 * within it, or ringo_recvmsg_validate says NULL.
 */
static inline size_t ringo__recvmsg_overhead(const struct msghdr *msg)
{
	return sizeof(struct ringo_recvmsg_out) + msg->msg_namelen + msg->msg_controllen;
}

/* The header, or NULL when res is too short to hold header, name and control. */
static inline struct ringo_recvmsg_out *ringo_recvmsg_validate(void *buf, int res,
								const struct msghdr *msg)
{
	if (!buf || res < 0 || (size_t)res < ringo__recvmsg_overhead(msg))
		return NULL;
	return (struct ringo_recvmsg_out *)buf;
}

/* The source address, or NULL when none was reserved or sent. */
static inline struct sockaddr *ringo_recvmsg_name(struct ringo_recvmsg_out *o,
						  const struct msghdr *msg)
{
	if (!msg->msg_namelen || !o->namelen)
		return NULL;
	return (struct sockaddr *)(void *)(o + 1);
}

/* Bytes of the address present: the kernel cuts it to msg_namelen. */
static inline unsigned ringo_recvmsg_name_length(const struct ringo_recvmsg_out *o,
						 const struct msghdr *msg)
{
	return o->namelen < msg->msg_namelen ? o->namelen : (unsigned)msg->msg_namelen;
}

/* The control data (o->controllen bytes of it are used), or NULL. */
static inline void *ringo_recvmsg_control(struct ringo_recvmsg_out *o, const struct msghdr *msg)
{
	if (!msg->msg_controllen || !o->controllen)
		return NULL;
	return (unsigned char *)(o + 1) + msg->msg_namelen;
}

static inline void *ringo_recvmsg_payload(struct ringo_recvmsg_out *o, const struct msghdr *msg)
{
	return (unsigned char *)(o + 1) + msg->msg_namelen + msg->msg_controllen;
}

/* Payload bytes in the buffer (at most o->payloadlen; fewer with MSG_TRUNC). */
static inline unsigned ringo_recvmsg_payload_length(const struct ringo_recvmsg_out *o, int res,
						    const struct msghdr *msg)
{
	size_t in_buf = (size_t)res - ringo__recvmsg_overhead(msg);

	return in_buf < o->payloadlen ? (unsigned)in_buf : o->payloadlen;
}

/* Zero-copy sendmsg (6.1): result and notification CQEs as send_zc. */
static inline void ringo_prep_sendmsg_zc(struct ringo_sqe *sqe, int fd, const struct msghdr *msg,
					 unsigned flags)
{
	ringo_prep_sendmsg(sqe, fd, msg, flags);
	sqe->opcode = RINGO_OP_SENDMSG_ZC;
}

static inline void ringo_prep_openat(struct ringo_sqe *sqe, int dfd, const char *path, int flags,
				     mode_t mode)
{
	ringo_prep_rw(sqe, RINGO_OP_OPENAT, dfd, path, mode, 0);
	sqe->open_flags = (uint32_t)flags;
}

/* Open into direct descriptor `slot` (or RINGO_FILE_INDEX_ALLOC) (5.15). */
static inline void ringo_prep_openat_direct(struct ringo_sqe *sqe, int dfd, const char *path,
					    int flags, mode_t mode, unsigned slot)
{
	ringo_prep_openat(sqe, dfd, path, flags, mode);
	ringo__set_target_slot(sqe, slot);
}

static inline void ringo_prep_close(struct ringo_sqe *sqe, int fd)
{
	ringo_prep_rw(sqe, RINGO_OP_CLOSE, fd, NULL, 0, 0);
}

/* Close direct descriptor `slot` (5.15). */
static inline void ringo_prep_close_direct(struct ringo_sqe *sqe, unsigned slot)
{
	ringo_prep_close(sqe, 0);
	sqe->file_index = slot + 1;
}

/*
 * Complete after `ts` (relative unless RINGO_TIMEOUT_ABS) with -ETIME, or
 * earlier with 0 once `count` other CQEs were posted (count 0 = time only).
 */
static inline void ringo_prep_timeout(struct ringo_sqe *sqe, const struct ringo_timespec *ts,
				      unsigned count, unsigned flags)
{
	ringo_prep_rw(sqe, RINGO_OP_TIMEOUT, -1, ts, 1, count);
	sqe->timeout_flags = flags;
}

/* Remove the timeout whose user_data is `user_data`: it ends -ECANCELED. */
static inline void ringo_prep_timeout_remove(struct ringo_sqe *sqe, uint64_t user_data,
					     unsigned flags)
{
	ringo_prep_rw(sqe, RINGO_OP_TIMEOUT_REMOVE, -1, NULL, 0, 0);
	sqe->addr = user_data;
	sqe->timeout_flags = flags;
}

/* Move the timeout `user_data` to `ts` (RINGO_TIMEOUT_UPDATE added here). */
static inline void ringo_prep_timeout_update(struct ringo_sqe *sqe,
					     const struct ringo_timespec *ts, uint64_t user_data,
					     unsigned flags)
{
	ringo_prep_rw(sqe, RINGO_OP_TIMEOUT_REMOVE, -1, NULL, 0, (uint64_t)(uintptr_t)ts);
	sqe->addr = user_data;
	sqe->timeout_flags = flags | RINGO_TIMEOUT_UPDATE;
}

/*
 * Bound the SQE linked before this one (which must carry RINGO_SQE_IO_LINK):
 * if it has not finished after `ts` it is cancelled (-ECANCELED) and this
 * op completes -ETIME; otherwise this one completes -ECANCELED.
 */
static inline void ringo_prep_link_timeout(struct ringo_sqe *sqe, const struct ringo_timespec *ts,
					   unsigned flags)
{
	ringo_prep_rw(sqe, RINGO_OP_LINK_TIMEOUT, -1, ts, 1, 0);
	sqe->timeout_flags = flags;
}

/* One-shot poll for `poll_mask` (POLLIN, ...); res is the revents. */
static inline void ringo_prep_poll_add(struct ringo_sqe *sqe, int fd, unsigned poll_mask)
{
	ringo_prep_rw(sqe, RINGO_OP_POLL_ADD, fd, NULL, 0, 0);
	sqe->poll32_events = poll_mask;
}

/* Multishot poll (5.13): a CQE per readiness while RINGO_CQE_F_MORE. */
static inline void ringo_prep_poll_multishot(struct ringo_sqe *sqe, int fd, unsigned poll_mask)
{
	ringo_prep_poll_add(sqe, fd, poll_mask);
	sqe->len = RINGO_POLL_ADD_MULTI;
}

/* Remove the poll whose user_data is `user_data`. */
static inline void ringo_prep_poll_remove(struct ringo_sqe *sqe, uint64_t user_data)
{
	ringo_prep_rw(sqe, RINGO_OP_POLL_REMOVE, -1, NULL, 0, 0);
	sqe->addr = user_data;
}

/*
 * Change poll `old_user_data`: with RINGO_POLL_UPDATE_EVENTS its mask
 * becomes `poll_mask`, with RINGO_POLL_UPDATE_USER_DATA its user_data
 * becomes `new_user_data` (5.13). Without RINGO_POLL_UPDATE_USER_DATA,
 * `new_user_data` must be 0: the kernel fails the update with -EINVAL.
 */
static inline void ringo_prep_poll_update(struct ringo_sqe *sqe, uint64_t old_user_data,
					  uint64_t new_user_data, unsigned poll_mask,
					  unsigned flags)
{
	ringo_prep_rw(sqe, RINGO_OP_POLL_REMOVE, -1, NULL, flags, new_user_data);
	sqe->addr = old_user_data;
	sqe->poll32_events = poll_mask;
}

/* fallocate(2): the kernel reads mode from len and the length from addr. */
static inline void ringo_prep_fallocate(struct ringo_sqe *sqe, int fd, int mode, uint64_t offset,
					uint64_t len)
{
	ringo_prep_rw(sqe, RINGO_OP_FALLOCATE, fd, NULL, (unsigned)mode, offset);
	sqe->addr = len;
}

/* ftruncate(2) (6.9). */
static inline void ringo_prep_ftruncate(struct ringo_sqe *sqe, int fd, uint64_t len)
{
	ringo_prep_rw(sqe, RINGO_OP_FTRUNCATE, fd, NULL, 0, len);
}

/* posix_fadvise(2) (5.6). */
static inline void ringo_prep_fadvise(struct ringo_sqe *sqe, int fd, uint64_t offset,
				      unsigned len, int advice)
{
	ringo_prep_rw(sqe, RINGO_OP_FADVISE, fd, NULL, len, offset);
	sqe->fadvise_advice = (uint32_t)advice;
}

/* statx(2): `flags` AT_*, `mask` STATX_* (5.6). */
static inline void ringo_prep_statx(struct ringo_sqe *sqe, int dfd, const char *path, int flags,
				    unsigned mask, struct statx *statxbuf)
{
	ringo_prep_rw(sqe, RINGO_OP_STATX, dfd, path, mask, (uint64_t)(uintptr_t)statxbuf);
	sqe->statx_flags = (uint32_t)flags;
}

/*
 * Cancel the op whose user_data is `user_data` (RINGO_ASYNC_CANCEL_* in
 * `flags` widen the match). res: 0 found and cancelled, -ENOENT not found,
 * -EALREADY already running and may still complete.
 */
static inline void ringo_prep_cancel64(struct ringo_sqe *sqe, uint64_t user_data, unsigned flags)
{
	ringo_prep_rw(sqe, RINGO_OP_ASYNC_CANCEL, -1, NULL, 0, 0);
	sqe->addr = user_data;
	sqe->cancel_flags = flags;
}

/* Cancel ops on `fd` (5.19); add RINGO_ASYNC_CANCEL_ALL for all of them. */
static inline void ringo_prep_cancel_fd(struct ringo_sqe *sqe, int fd, unsigned flags)
{
	ringo_prep_rw(sqe, RINGO_OP_ASYNC_CANCEL, fd, NULL, 0, 0);
	sqe->cancel_flags = flags | RINGO_ASYNC_CANCEL_FD;
}

static inline void ringo_prep_shutdown(struct ringo_sqe *sqe, int fd, int how)
{
	ringo_prep_rw(sqe, RINGO_OP_SHUTDOWN, fd, NULL, (unsigned)how, 0);
}

static inline void ringo_prep_renameat(struct ringo_sqe *sqe, int olddfd, const char *oldpath,
				       int newdfd, const char *newpath, unsigned flags)
{
	ringo_prep_rw(sqe, RINGO_OP_RENAMEAT, olddfd, oldpath, (unsigned)newdfd,
		      (uint64_t)(uintptr_t)newpath);
	sqe->rename_flags = flags;
}

/* unlinkat(2); AT_REMOVEDIR in `flags` removes a directory. */
static inline void ringo_prep_unlinkat(struct ringo_sqe *sqe, int dfd, const char *path,
				       int flags)
{
	ringo_prep_rw(sqe, RINGO_OP_UNLINKAT, dfd, path, 0, 0);
	sqe->unlink_flags = (uint32_t)flags;
}

static inline void ringo_prep_mkdirat(struct ringo_sqe *sqe, int dfd, const char *path,
				      mode_t mode)
{
	ringo_prep_rw(sqe, RINGO_OP_MKDIRAT, dfd, path, mode, 0);
}

static inline void ringo_prep_symlinkat(struct ringo_sqe *sqe, const char *target, int newdirfd,
					const char *linkpath)
{
	ringo_prep_rw(sqe, RINGO_OP_SYMLINKAT, newdirfd, target, 0,
		      (uint64_t)(uintptr_t)linkpath);
}

static inline void ringo_prep_linkat(struct ringo_sqe *sqe, int olddfd, const char *oldpath,
				     int newdfd, const char *newpath, int flags)
{
	ringo_prep_rw(sqe, RINGO_OP_LINKAT, olddfd, oldpath, (unsigned)newdfd,
		      (uint64_t)(uintptr_t)newpath);
	sqe->hardlink_flags = (uint32_t)flags;
}

/*
 * Legacy provided buffers (5.7): hand `nr` buffers of `len` bytes starting
 * at `addr` to group `bgid`, with ids bid, bid+1, ... res is 0 on success on
 * current kernels (older ones returned the count).
 */
static inline void ringo_prep_provide_buffers(struct ringo_sqe *sqe, void *addr, unsigned len,
					      int nr, unsigned bgid, unsigned bid)
{
	ringo_prep_rw(sqe, RINGO_OP_PROVIDE_BUFFERS, nr, addr, len, bid);
	sqe->buf_group = (uint16_t)bgid;
}

/* Take up to `nr` buffers back out of group `bgid`; res = how many. */
static inline void ringo_prep_remove_buffers(struct ringo_sqe *sqe, int nr, unsigned bgid)
{
	ringo_prep_rw(sqe, RINGO_OP_REMOVE_BUFFERS, nr, NULL, 0, 0);
	sqe->buf_group = (uint16_t)bgid;
}

/* waitid(2) (6.7): `options` WEXITED etc., the kernel fills `infop`. */
static inline void ringo_prep_waitid(struct ringo_sqe *sqe, idtype_t idtype, id_t id,
				     siginfo_t *infop, int options, unsigned flags)
{
	ringo_prep_rw(sqe, RINGO_OP_WAITID, (int)id, NULL, (unsigned)idtype, 0);
	sqe->waitid_flags = flags;
	sqe->file_index = (uint32_t)options;
	sqe->addr2 = (uint64_t)(uintptr_t)infop;
}

/* socket(2) (5.19); res is the new fd. */
static inline void ringo_prep_socket(struct ringo_sqe *sqe, int domain, int type, int protocol,
				     unsigned flags)
{
	ringo_prep_rw(sqe, RINGO_OP_SOCKET, domain, NULL, (unsigned)protocol, (uint64_t)type);
	sqe->rw_flags = flags;
}

/* socket(2) into direct descriptor `slot` (5.19); res is 0. */
static inline void ringo_prep_socket_direct(struct ringo_sqe *sqe, int domain, int type,
					    int protocol, unsigned slot, unsigned flags)
{
	ringo_prep_socket(sqe, domain, type, protocol, flags);
	ringo__set_target_slot(sqe, slot);
}

/* socket(2) into a kernel-picked direct descriptor; res is the slot. */
static inline void ringo_prep_socket_direct_alloc(struct ringo_sqe *sqe, int domain, int type,
						  int protocol, unsigned flags)
{
	ringo_prep_socket(sqe, domain, type, protocol, flags);
	ringo__set_target_slot(sqe, RINGO_FILE_INDEX_ALLOC);
}

/* bind(2) (6.11). */
static inline void ringo_prep_bind(struct ringo_sqe *sqe, int fd, const struct sockaddr *addr,
				   socklen_t addrlen)
{
	ringo_prep_rw(sqe, RINGO_OP_BIND, fd, addr, 0, addrlen);
}

/* listen(2) (6.11). */
static inline void ringo_prep_listen(struct ringo_sqe *sqe, int fd, int backlog)
{
	ringo_prep_rw(sqe, RINGO_OP_LISTEN, fd, NULL, (unsigned)backlog, 0);
}

/* Socket command (6.7): cmd_op is RINGO_SOCKET_OP_*. */
static inline void ringo_prep_cmd_sock(struct ringo_sqe *sqe, unsigned cmd_op, int fd, int level,
				       int optname, void *optval, int optlen)
{
	ringo_prep_rw(sqe, RINGO_OP_URING_CMD, fd, NULL, 0, 0);
	sqe->optval = (uint64_t)(uintptr_t)optval;
	sqe->optname = (uint32_t)optname;
	sqe->optlen = (uint32_t)optlen;
	sqe->cmd_op = cmd_op;
	sqe->level = (uint32_t)level;
}

/* setsockopt(2) (6.7); `optval` must stay valid until the CQE. */
static inline void ringo_prep_setsockopt(struct ringo_sqe *sqe, int fd, int level, int optname,
					 const void *optval, int optlen)
{
	ringo_prep_cmd_sock(sqe, RINGO_SOCKET_OP_SETSOCKOPT, fd, level, optname, (void *)optval,
			    optlen);
}

/* getsockopt(2) (6.7); res is the option's length. */
static inline void ringo_prep_getsockopt(struct ringo_sqe *sqe, int fd, int level, int optname,
					 void *optval, int optlen)
{
	ringo_prep_cmd_sock(sqe, RINGO_SOCKET_OP_GETSOCKOPT, fd, level, optname, optval, optlen);
}

/*
 * Post a CQE to another ring (5.18): it gets res = `res`, user_data =
 * `data`. Lets one thread wake another thread's ring.
 */
static inline void ringo_prep_msg_ring(struct ringo_sqe *sqe, int ring_fd, unsigned res,
				       uint64_t data, unsigned flags)
{
	ringo_prep_rw(sqe, RINGO_OP_MSG_RING, ring_fd, NULL, res, data);
	sqe->addr = RINGO_MSG_DATA;
	sqe->msg_ring_flags = flags;
}

/* Multishot read into group `bgid` from a pollable fd (6.7). */
static inline void ringo_prep_read_multishot(struct ringo_sqe *sqe, int fd, unsigned nbytes,
					     uint64_t offset, unsigned bgid)
{
	ringo_prep_rw(sqe, RINGO_OP_READ_MULTISHOT, fd, NULL, nbytes, offset);
	ringo_sqe_set_buf_group(sqe, bgid);
}

#ifdef __cplusplus
}
#endif

#endif
