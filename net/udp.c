/* SPDX-License-Identifier: MIT */
/*
 * UDP handles. Sends are one sendmsg per datagram, each with its own
 * request. Receiving keeps one op in flight per handle:
 *
 * - multishot recvmsg (6.0) into the loop's datagram pool (net_internal.h),
 *   when the loop has buffer rings and multishot: one SQE for as many
 *   datagrams as arrive. Each buffer starts with the kernel's
 *   ringo_recvmsg_out header and the sender's address, then the datagram
 *   whole (the buffers fit any datagram); a datagram longer than the
 *   handle's receive size is cut here, in the callback, exactly where a
 *   per-handle buffer would have cut it, and flagged RINGO_UDP_TRUNCATED.
 * - otherwise single-shot recvmsg into a per-handle buffer
 *   (RINGO_UDP_MAX_DATAGRAM bytes unless set smaller, allocated at the
 *   first recv_start), re-armed after each datagram.
 *
 * A multishot recvmsg stops on its own now and then: -ENOBUFS when the pool
 * ran dry (grow it within its bound and re-arm), a zero-length datagram
 * (delivered, then re-armed), -EINVAL before 6.0 (switch the loop to the
 * single-shot path for good). Datagrams the kernel delivers after
 * recv_stop (the cancel is asynchronous) are not dropped: they wait in the
 * handle's stash, in order, for the next recv_start, as they would have
 * waited in the socket. On the single-shot path the recvmsg in flight can
 * take one datagram after recv_stop; it waits in the handle's buffer.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net_internal.h"

#define UDP_RECEIVING (1U << 0)
#define UDP_REALLOC (1U << 1)	/* free buf when the recv in flight returns */
#define UDP_MSHOT (1U << 2)	/* the recv in flight is multishot */
#define UDP_SINGLE_ONCE (1U << 3) /* pool exhausted by stashes: next recv single-shot */
#define UDP_HELD (1U << 4)	/* buf holds a datagram taken after recv_stop, iov_len bytes */

/* How every multishot buffer is laid out: header, address, no control. */
static const struct msghdr dgram_layout = { .msg_namelen = RINGO__DGRAM_NAMELEN };

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
	u->stash_head = u->stash_tail = RINGO__NO_BID;
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

/* Datagrams taken while not receiving wait for the next recv_start. */
static bool waiting(const ringo_udp_t *u)
{
	return u->stash_head != RINGO__NO_BID || (u->uflags & UDP_HELD);
}

/* The recv in flight is over: re-arm if still receiving and nothing waits
 * (the op that reports what waits re-arms once it is drained). */
static void recv_over(ringo_udp_t *u)
{
	/* A resize waited for the kernel, and the datagram it left, to let go
	 * of the old buffer. */
	if ((u->uflags & UDP_REALLOC) && !u->recv_id && !(u->uflags & UDP_HELD)) {
		u->uflags &= ~UDP_REALLOC;
		free(u->buf);
		u->buf = NULL;
	}
	if (receiving(u) && !u->recv_id && !waiting(u))
		arm_recv(u);
}

/* An error ends receiving: one callback, and the handle goes idle. */
static void recv_error(ringo_udp_t *u, int res)
{
	u->uflags &= ~UDP_RECEIVING;
	ringo__handle_stop((ringo_handle_t *)u);
	u->recv_cb(u, res, NULL, NULL, 0);
}

/* ---- Single-shot: one recvmsg into the handle's buffer ---------------- */

static void recv_complete(ringo_loop_t *loop, struct ringo__op *op, int res, unsigned flags)
{
	ringo_udp_t *u = op->owner;

	(void)loop;
	(void)flags;
	u->recv_id = 0;
	if (receiving(u)) {
		if (res >= 0)
			u->recv_cb(u, res, u->buf, (struct sockaddr *)&u->from,
				   (u->msg.msg_flags & MSG_TRUNC) ? RINGO_UDP_TRUNCATED : 0);
		else if (res != -ECANCELED && res != -EINTR)
			recv_error(u, res);
	} else if (res >= 0 && !(u->hflags & HANDLE_CLOSING)) {
		/* Taken from the socket after recv_stop: it waits for the next
		 * recv_start, where it would have waited had the cancel won. */
		u->iov.iov_len = (size_t)res;
		u->uflags |= UDP_HELD;
	}
	recv_over(u);
}

/* The datagram recv_complete held, cut to the receive size now in force
 * as a stashed one would be. */
static void deliver_held(ringo_udp_t *u)
{
	size_t len = u->iov.iov_len;
	unsigned rflags = 0;

	u->uflags &= ~UDP_HELD;
	if ((u->msg.msg_flags & MSG_TRUNC) || len > u->buf_size)
		rflags = RINGO_UDP_TRUNCATED;
	if (len > u->buf_size)
		len = u->buf_size;
	u->recv_cb(u, (ssize_t)len, u->buf, (struct sockaddr *)&u->from, rflags);
}

static int arm_single(ringo_udp_t *u)
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
	u->uflags &= ~(UDP_MSHOT | UDP_SINGLE_ONCE);
	return 0;
}

/* ---- Multishot: datagrams in pool buffers ----------------------------- */

/*
 * Report the datagram in pool buffer `bid` (`res` bytes written there) and
 * give the buffer back. A buffer the kernel filled inconsistently (shorter
 * than its own header, or longer than the buffer) is dropped: trusting its
 * lengths would read outside it.
 */
static void deliver(ringo_udp_t *u, struct ringo__bufpool *p, uint32_t bid, int res)
{
	void *buf = ringo__pool_addr(p, bid);
	struct ringo_recvmsg_out *o = ringo_recvmsg_validate(buf, res, &dgram_layout);
	struct sockaddr *name;
	unsigned len;
	unsigned rflags = 0;

	if (o && (unsigned)res <= p->buf_size) {
		name = ringo_recvmsg_name(o, &dgram_layout);
		if (name)
			memcpy(&u->from, name, ringo_recvmsg_name_length(o, &dgram_layout));
		else
			u->from.ss_family = AF_UNSPEC;
		len = ringo_recvmsg_payload_length(o, res, &dgram_layout);
		if ((o->flags & MSG_TRUNC) || len > u->buf_size)
			rflags = RINGO_UDP_TRUNCATED;
		if (len > u->buf_size)
			len = (unsigned)u->buf_size;
		u->recv_cb(u, len, ringo_recvmsg_payload(o, &dgram_layout),
			   (struct sockaddr *)&u->from, rflags);
	}
	ringo__pool_recycle(p, bid);
}

static void stash(ringo_udp_t *u, struct ringo__bufpool *p, uint32_t bid, int res)
{
	p->len[bid] = (uint32_t)res;
	p->next[bid] = RINGO__NO_BID;
	if (u->stash_tail == RINGO__NO_BID)
		u->stash_head = bid;
	else
		p->next[u->stash_tail] = bid;
	u->stash_tail = bid;
	p->stashed++;
}

static uint32_t unstash(ringo_udp_t *u, struct ringo__bufpool *p)
{
	uint32_t bid = u->stash_head;

	u->stash_head = p->next[bid];
	if (u->stash_head == RINGO__NO_BID)
		u->stash_tail = RINGO__NO_BID;
	p->stashed--;
	return bid;
}

/* A multishot CQE without a datagram: the op ended (or will). */
static void mshot_status(ringo_udp_t *u, struct ringo__bufpool *p, int res, bool more)
{
	if (res >= 0 || res == -ECANCELED || res == -EINTR)
		return;
	if (res == -ENOBUFS) {
		/*
		 * Every buffer was in use. Callbacks give theirs back as they
		 * return, so by now only stashes still hold any: grow toward the
		 * bound, and if it is reached with every buffer stashed, take
		 * one datagram single-shot so re-arming cannot spin on -ENOBUFS.
		 */
		if (ringo__pool_grow(u->loop, p) && p->stashed >= p->count)
			u->uflags |= UDP_SINGLE_ONCE;
	} else if (res == -EINVAL && !more && p->multishot) {
		p->multishot = false;	/* before 6.0: single-shot from now on */
	} else if (receiving(u)) {
		recv_error(u, res);
	}
}

static void mshot_complete(ringo_loop_t *loop, struct ringo__op *op, int res, unsigned flags)
{
	ringo_udp_t *u = op->owner;
	struct ringo__bufpool *p = L(loop)->dgram_pool;
	bool more = flags & RINGO_CQE_F_MORE;
	uint32_t bid = RINGO__NO_BID;

	if (flags & RINGO_CQE_F_BUFFER)
		bid = ringo_cqe_buffer_id(&(struct ringo_cqe){ .flags = flags });
	if (bid != RINGO__NO_BID && !ringo__pool_addr(p, bid))
		bid = RINGO__NO_BID;	/* an id we never gave out: ignore it */
	if (!more) {
		u->recv_id = 0;
		u->uflags &= ~UDP_MSHOT;
	}
	if (res >= 0 && bid != RINGO__NO_BID) {
		if (receiving(u) && u->stash_head == RINGO__NO_BID)
			deliver(u, p, bid, res);
		else if (!(u->hflags & HANDLE_CLOSING))
			stash(u, p, bid, res);
		else
			ringo__pool_recycle(p, bid);
	} else {
		if (bid != RINGO__NO_BID)
			ringo__pool_recycle(p, bid);
		mshot_status(u, p, res, more);
	}
	if (!more)
		recv_over(u);
}

static int arm_multishot(ringo_udp_t *u, struct ringo__bufpool *p)
{
	struct ringo__op *op = ringo__op_new(u->loop, mshot_complete, u, (ringo_handle_t *)u);

	if (!op)
		return -ENOMEM;
	/* Only the sizes matter to the kernel; the name pointer is set for
	 * kernels that would drop a name length without one. */
	memset(&u->msg, 0, sizeof(u->msg));
	u->msg.msg_name = &u->from;
	u->msg.msg_namelen = dgram_layout.msg_namelen;
	ringo_prep_recvmsg_multishot(ringo__op_sqe(u->loop, op), u->fd, &u->msg, 0, p->bgid);
	u->recv_id = op->id;
	u->uflags |= UDP_MSHOT;
	return 0;
}

static int arm_recv(ringo_udp_t *u)
{
	struct ringo__bufpool *p = ringo__dgram_pool(u->loop);

	if (p && p->multishot && !(u->uflags & UDP_SINGLE_ONCE))
		return arm_multishot(u, p);
	return arm_single(u);
}

/* Report what arrived while not receiving, then carry on receiving. */
static void stash_complete(ringo_loop_t *loop, struct ringo__op *op, int res, unsigned flags)
{
	ringo_udp_t *u = op->owner;
	struct ringo__bufpool *p = L(loop)->dgram_pool;
	uint32_t bid;

	(void)res;
	(void)flags;
	/* Held and stashed never meet: each needs the other kind of recv to
	 * have ended with nothing waiting before it was armed. */
	if ((u->uflags & UDP_HELD) && receiving(u))
		deliver_held(u);
	while (u->stash_head != RINGO__NO_BID && receiving(u)) {
		bid = unstash(u, p);
		deliver(u, p, bid, (int)p->len[bid]);
	}
	recv_over(u);
}

RINGO_EXTERN int ringo_udp_recv_start(ringo_udp_t *u, ringo_udp_recv_cb cb)
{
	struct ringo__op *op;
	int ret = 0;

	if (!is_udp(u) || !cb)
		return -EINVAL;
	if (u->uflags & UDP_RECEIVING)
		return -EALREADY;
	if (u->fd < 0)
		return -ENOTCONN;
	u->recv_cb = cb;
	u->uflags |= UDP_RECEIVING;
	if (waiting(u)) {
		/* Waiting datagrams go first, from the loop, never inside this call. */
		op = ringo__op_new(u->loop, stash_complete, u, (ringo_handle_t *)u);
		if (op)
			ringo_prep_nop(ringo__op_sqe(u->loop, op));
		else
			ret = -ENOMEM;
	} else if (!u->recv_id) {
		ret = arm_recv(u);
	}
	if (ret) {
		u->uflags &= ~UDP_RECEIVING;
		return ret;
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
	if ((u->recv_id && !(u->uflags & UDP_MSHOT)) || (u->uflags & UDP_HELD)) {
		/* The stopped recv still owns the buffer until its CQE, or the
		 * datagram it took does until it is reported. */
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

/* Close: stop receiving and give stashed buffers back; sends in flight
 * finish (or are cancelled by the kernel when the fd closes after them). */
void ringo__udp_close(ringo_handle_t *h)
{
	ringo_udp_t *u = (ringo_udp_t *)h;
	struct ringo__op *op = u->recv_id ? ringo__op_find(u->loop, u->recv_id) : NULL;
	struct ringo__bufpool *p = L(u->loop)->dgram_pool;

	u->uflags &= ~UDP_RECEIVING;
	if (op)
		ringo__op_cancel(u->loop, op);
	while (p && u->stash_head != RINGO__NO_BID)
		ringo__pool_recycle(p, unstash(u, p));
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
