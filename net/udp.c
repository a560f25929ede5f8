/* SPDX-License-Identifier: MIT */
/*
 * UDP handles. Sends are one sendmsg per datagram, each with its own
 * request. Receiving keeps one recvmsg in flight into a per-handle buffer
 * (RINGO_UDP_MAX_DATAGRAM bytes unless set smaller, allocated at the first
 * recv_start), so every datagram arrives whole or flagged
 * RINGO_UDP_TRUNCATED. Multishot recvmsg would save a syscall-free re-arm
 * per datagram; not used yet.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loop_internal.h"

#define UDP_RECEIVING (1U << 0)
#define UDP_REALLOC (1U << 1)	/* free buf when the recv in flight returns */

int ringo__req_final_res(ringo_req_t *req, int res, bool user_cancelled);

static bool is_udp(const ringo_udp_t *u)
{
	return u && u->loop && u->type == RINGO_HANDLE_UDP && (u->hflags & HANDLE_INIT) &&
	       !(u->hflags & (HANDLE_CLOSING | HANDLE_CLOSED));
}

static socklen_t addr_len(const struct sockaddr *addr)
{
	if (!addr)
		return 0;
	if (addr->sa_family == AF_INET)
		return sizeof(struct sockaddr_in);
	if (addr->sa_family == AF_INET6)
		return sizeof(struct sockaddr_in6);
	return 0;
}

static int open_socket(ringo_udp_t *u, int family)
{
	if (u->fd >= 0)
		return 0;
	u->fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	return u->fd < 0 ? -errno : 0;
}

RINGO_EXTERN int ringo_udp_init(ringo_loop_t *loop, ringo_udp_t *u)
{
	if (!loop || !u || !(L(loop)->state & LOOP_READY))
		return -EINVAL;
	memset((char *)u + offsetof(ringo_udp_t, fd), 0, sizeof(*u) - offsetof(ringo_udp_t, fd));
	ringo__handle_init(loop, (ringo_handle_t *)u, RINGO_HANDLE_UDP);
	u->fd = -1;
	u->buf_size = RINGO_UDP_MAX_DATAGRAM;
	return 0;
}

RINGO_EXTERN int ringo_udp_bind(ringo_udp_t *u, const struct sockaddr *addr, unsigned flags)
{
	socklen_t len = addr_len(addr);
	int one = 1, ret;

	if (!is_udp(u) || !len || (flags & ~RINGO_TCP_REUSEPORT))
		return -EINVAL;
	ret = open_socket(u, addr->sa_family);
	if (ret)
		return ret;
	if ((flags & RINGO_TCP_REUSEPORT) &&
	    setsockopt(u->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)))
		return -errno;
	return bind(u->fd, addr, len) ? -errno : 0;
}

RINGO_EXTERN int ringo_udp_connect(ringo_udp_t *u, const struct sockaddr *addr)
{
	socklen_t len = addr_len(addr);
	int ret;

	if (!is_udp(u) || !len)
		return -EINVAL;
	ret = open_socket(u, addr->sa_family);
	if (ret)
		return ret;
	return connect(u->fd, addr, len) ? -errno : 0;
}

static void send_complete(ringo_loop_t *loop, struct ringo__op *op, int res, unsigned flags)
{
	ringo_udp_send_t *req = op->owner;

	(void)loop;
	(void)flags;
	req->op_id = 0;
	if (req->rflags)
		res = ringo__req_final_res((ringo_req_t *)req, res, op->state != RINGO__OP_INFLIGHT);
	req->cb(req, res < 0 ? res : 0);
}

RINGO_EXTERN int ringo_udp_send(ringo_udp_send_t *req, ringo_udp_t *u, const struct iovec *bufs,
				unsigned nbufs, const struct sockaddr *addr, ringo_udp_send_cb cb)
{
	socklen_t len = addr_len(addr);
	struct ringo__op *op;
	int ret;

	if (!req || !is_udp(u) || !bufs || !nbufs || nbufs > IOV_MAX || !cb || (addr && !len))
		return -EINVAL;
	if (!addr && u->fd < 0)
		return -EDESTADDRREQ;
	ret = open_socket(u, addr ? addr->sa_family : AF_INET);
	if (ret)
		return ret;
	op = ringo__req_op(u->loop, (ringo_req_t *)req, RINGO_REQ_UDP_SEND, send_complete,
			   (ringo_handle_t *)u);
	if (!op)
		return -ENOMEM;
	req->handle = u;
	req->cb = cb;
	memset(&req->msg, 0, sizeof(req->msg));
	if (addr) {
		memcpy(&req->addr, addr, len);
		req->msg.msg_name = &req->addr;
		req->msg.msg_namelen = len;
	}
	req->msg.msg_iov = (struct iovec *)bufs;
	req->msg.msg_iovlen = nbufs;
	ringo_prep_sendmsg(ringo__op_sqe(u->loop, op), u->fd, &req->msg, MSG_NOSIGNAL);
	return 0;
}

static int arm_recv(ringo_udp_t *u);

static bool receiving(const ringo_udp_t *u)
{
	return (u->uflags & UDP_RECEIVING) && !(u->hflags & HANDLE_CLOSING);
}

static void recv_complete(ringo_loop_t *loop, struct ringo__op *op, int res, unsigned flags)
{
	ringo_udp_t *u = op->owner;

	(void)loop;
	(void)flags;
	u->recv_id = 0;
	if (!receiving(u))
		goto out;
	if (res >= 0) {
		u->recv_cb(u, res, u->buf, (struct sockaddr *)&u->from,
			   (u->msg.msg_flags & MSG_TRUNC) ? RINGO_UDP_TRUNCATED : 0);
	} else if (res != -ECANCELED && res != -EINTR) {
		u->uflags &= ~UDP_RECEIVING;
		ringo__handle_stop((ringo_handle_t *)u);
		u->recv_cb(u, res, NULL, NULL, 0);
	}
out:
	/* A resize waited for the kernel to let go of the old buffer. */
	if ((u->uflags & UDP_REALLOC) && !u->recv_id) {
		u->uflags &= ~UDP_REALLOC;
		free(u->buf);
		u->buf = NULL;
	}
	if (receiving(u) && !u->recv_id)
		arm_recv(u);
}

static int arm_recv(ringo_udp_t *u)
{
	struct ringo__op *op;

	if (!u->buf && !(u->buf = malloc(u->buf_size)))
		return -ENOMEM;
	op = ringo__op_new(u->loop, recv_complete, u, (ringo_handle_t *)u);
	if (!op)
		return -ENOMEM;
	memset(&u->msg, 0, sizeof(u->msg));
	u->iov.iov_base = u->buf;
	u->iov.iov_len = u->buf_size;
	u->msg.msg_name = &u->from;
	u->msg.msg_namelen = sizeof(u->from);
	u->msg.msg_iov = &u->iov;
	u->msg.msg_iovlen = 1;
	ringo_prep_recvmsg(ringo__op_sqe(u->loop, op), u->fd, &u->msg, 0);
	u->recv_id = op->id;
	return 0;
}

RINGO_EXTERN int ringo_udp_recv_start(ringo_udp_t *u, ringo_udp_recv_cb cb)
{
	int ret;

	if (!is_udp(u) || !cb)
		return -EINVAL;
	if (u->uflags & UDP_RECEIVING)
		return -EALREADY;
	if (u->fd < 0)
		return -ENOTCONN;
	u->recv_cb = cb;
	u->uflags |= UDP_RECEIVING;
	if (!u->recv_id) {
		ret = arm_recv(u);
		if (ret) {
			u->uflags &= ~UDP_RECEIVING;
			return ret;
		}
	}
	ringo__handle_start((ringo_handle_t *)u);
	return 0;
}

RINGO_EXTERN int ringo_udp_set_recv_size(ringo_udp_t *u, size_t size)
{
	if (!is_udp(u) || !size || size > RINGO_UDP_MAX_DATAGRAM)
		return -EINVAL;
	if (u->uflags & UDP_RECEIVING)
		return -EBUSY;
	u->buf_size = size;
	if (u->recv_id) {
		/* The stopped recv still owns the buffer until its CQE. */
		u->uflags |= UDP_REALLOC;
		return 0;
	}
	free(u->buf);
	u->buf = NULL;
	return 0;
}

RINGO_EXTERN int ringo_udp_recv_stop(ringo_udp_t *u)
{
	struct ringo__op *op;

	if (!u || u->type != RINGO_HANDLE_UDP)
		return -EINVAL;
	if (!(u->uflags & UDP_RECEIVING))
		return 0;
	u->uflags &= ~UDP_RECEIVING;
	ringo__handle_stop((ringo_handle_t *)u);
	op = u->recv_id ? ringo__op_find(u->loop, u->recv_id) : NULL;
	if (op)
		ringo__op_cancel(u->loop, op);
	return 0;
}

RINGO_EXTERN int ringo_udp_getsockname(const ringo_udp_t *u, struct sockaddr *addr,
				       socklen_t *len)
{
	if (!u || u->fd < 0 || !addr || !len)
		return -EINVAL;
	return getsockname(u->fd, addr, len) ? -errno : 0;
}

/* Close: stop receiving; sends in flight finish (or are cancelled by the
 * kernel when the fd closes after them). */
void ringo__udp_close(ringo_handle_t *h)
{
	ringo_udp_t *u = (ringo_udp_t *)h;
	struct ringo__op *op = u->recv_id ? ringo__op_find(u->loop, u->recv_id) : NULL;

	u->uflags &= ~UDP_RECEIVING;
	if (op)
		ringo__op_cancel(u->loop, op);
}

void ringo__udp_finalize(ringo_handle_t *h)
{
	ringo_udp_t *u = (ringo_udp_t *)h;

	free(u->buf);
	u->buf = NULL;
	if (u->fd >= 0)
		close(u->fd);
	u->fd = -1;
}
