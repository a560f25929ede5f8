/* SPDX-License-Identifier: MIT */
/*
 * Stream handles (TCP and Unix sockets): set-up, bind, listen and accept,
 * connect, shutdown, close, and socket options. Reads are in
 * stream_read.c, the write queue in stream_write.c.
 *
 * Sockets are left blocking: io_uring arms its own poll when a socket op
 * would block, while an O_NONBLOCK socket would hand -EAGAIN back to us.
 */
#include <netinet/tcp.h>
#include <stddef.h>
#include <string.h>
#include <netdb.h>
#include <sys/un.h>
#include <unistd.h>

#include "net_internal.h"

int ringo__req_final_res(ringo_req_t *req, int res, bool user_cancelled);

/* An idle connection is this handle plus its recv's op record: keep it in
 * a 96-byte malloc chunk (bench/idle_conns.c measures it). */
_Static_assert(sizeof(ringo_stream_t) <= 88, "ringo_stream_t grew past 88 bytes");

static bool is_stream(const ringo_stream_t *s)
{
	return s && s->loop && (s->type == RINGO_HANDLE_TCP || s->type == RINGO_HANDLE_UNIX) &&
	       (s->hflags & HANDLE_INIT) && !(s->hflags & (HANDLE_CLOSING | HANDLE_CLOSED));
}

static int stream_init(ringo_loop_t *loop, ringo_stream_t *s, int type)
{
	if (!loop || !s || !(L(loop)->state & LOOP_READY))
		return -EINVAL;
	memset((char *)s + offsetof(ringo_stream_t, fd), 0,
	       sizeof(*s) - offsetof(ringo_stream_t, fd));
	ringo__handle_init(loop, (ringo_handle_t *)s, type);
	s->fd = -1;
	s->accepted_fd = -1;	/* and lent_bid, stash_tail: RINGO__NO_BID */
	return 0;
}

RINGO_EXTERN int ringo_tcp_init(ringo_loop_t *loop, ringo_tcp_t *tcp)
{
	return stream_init(loop, tcp, RINGO_HANDLE_TCP);
}

RINGO_EXTERN int ringo_unix_init(ringo_loop_t *loop, ringo_unix_t *un)
{
	return stream_init(loop, un, RINGO_HANDLE_UNIX);
}

static int open_socket(ringo_stream_t *s, int family)
{
	if (s->fd >= 0)
		return 0;
	s->fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	return s->fd < 0 ? -errno : 0;
}

static socklen_t inet_len(const struct sockaddr *addr)
{
	if (addr->sa_family == AF_INET)
		return sizeof(struct sockaddr_in);
	if (addr->sa_family == AF_INET6)
		return sizeof(struct sockaddr_in6);
	return 0;
}

static int sys(int ret)
{
	return ret < 0 ? -errno : 0;
}

RINGO_EXTERN int ringo_tcp_bind(ringo_tcp_t *tcp, const struct sockaddr *addr, unsigned flags)
{
	socklen_t len = addr ? inet_len(addr) : 0;
	int one = 1, ret;

	if (!is_stream(tcp) || tcp->type != RINGO_HANDLE_TCP || !len ||
	    (flags & ~(RINGO_TCP_REUSEPORT | RINGO_TCP_IPV6ONLY)))
		return -EINVAL;
	if ((flags & RINGO_TCP_IPV6ONLY) && addr->sa_family != AF_INET6)
		return -EINVAL;
	ret = open_socket(tcp, addr->sa_family);
	if (!ret)
		ret = sys(setsockopt(tcp->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)));
	if (!ret && (flags & RINGO_TCP_REUSEPORT))
		ret = sys(setsockopt(tcp->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)));
	if (!ret && (flags & RINGO_TCP_IPV6ONLY))
		ret = sys(setsockopt(tcp->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)));
	if (!ret)
		ret = sys(bind(tcp->fd, addr, len));
	return ret;
}

/* Fill a sockaddr_un; abstract names (leading NUL) use exactly `len`. */
static int unix_addr(struct sockaddr_un *sun, socklen_t *sl, const char *name, size_t len)
{
	if (!name)
		return -EINVAL;
	if (!len && name[0])
		len = strlen(name);
	/* A path needs room for its NUL; an abstract name may fill sun_path. */
	if (!len || len > sizeof(sun->sun_path) || (name[0] && len == sizeof(sun->sun_path)) ||
	    (name[0] && memchr(name, 0, len)))
		return -EINVAL;
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, name, len);
	*sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (name[0] ? 1 : 0));
	return 0;
}

RINGO_EXTERN int ringo_unix_bind(ringo_unix_t *un, const char *name, size_t len)
{
	struct sockaddr_un sun;
	socklen_t sl;
	int ret;

	if (!is_stream(un) || un->type != RINGO_HANDLE_UNIX)
		return -EINVAL;
	ret = unix_addr(&sun, &sl, name, len);
	if (!ret)
		ret = open_socket(un, AF_UNIX);
	if (!ret)
		ret = sys(bind(un->fd, (struct sockaddr *)&sun, sl));
	return ret;
}

/* ---- accept ----------------------------------------------------------- */

static int arm_accept(ringo_stream_t *s);

static void accept_complete(ringo_loop_t *loop, struct ringo__op *op, int res, unsigned flags)
{
	ringo_stream_t *s = op->owner;

	(void)loop;
	if (!(flags & RINGO_CQE_F_MORE))
		s->rd_id = 0;
	if (!(s->sflags & STREAM_LISTENING) || (s->hflags & HANDLE_CLOSING)) {
		if (res >= 0)
			close(res);
		return;
	}
	if (res >= 0) {
		s->accepted_fd = res;
		s->connection_cb(s, 0);
		/* Not taken inside the callback: nobody will take it. */
		if (s->accepted_fd >= 0)
			close(s->accepted_fd);
		s->accepted_fd = -1;
	} else if (res == -EINVAL && L(s->loop)->bufpool_no_ms_accept == 0 &&
		   !(flags & RINGO_CQE_F_MORE) && s->rd_id == 0) {
		/* Multishot accept refused (before 5.19): single-shot from now. */
		L(s->loop)->bufpool_no_ms_accept = 1;
	} else if (res != -ECANCELED && res != -EINTR && res != -EAGAIN) {
		s->connection_cb(s, res);
	}
	if (!s->rd_id && (s->sflags & STREAM_LISTENING) && !(s->hflags & HANDLE_CLOSING))
		arm_accept(s);
}

static int arm_accept(ringo_stream_t *s)
{
	struct ringo__loop *l = L(s->loop);
	struct ringo__op *op = ringo__op_new(s->loop, accept_complete, s, (ringo_handle_t *)s);
	struct ringo_sqe *sqe;

	if (!op)
		return -ENOMEM;
	sqe = ringo__op_sqe(s->loop, op);
	if ((l->flags & RINGO_LOOP_NO_MULTISHOT) || l->bufpool_no_ms_accept)
		ringo_prep_accept(sqe, s->fd, NULL, NULL, SOCK_CLOEXEC);
	else
		ringo_prep_multishot_accept(sqe, s->fd, NULL, NULL, SOCK_CLOEXEC);
	s->rd_id = op->id;
	return 0;
}

RINGO_EXTERN int ringo_listen(ringo_stream_t *s, int backlog, ringo_connection_cb cb)
{
	int ret;

	if (!is_stream(s) || !cb || backlog < 0)
		return -EINVAL;
	if (s->fd < 0)
		return -EINVAL;
	if (s->sflags & STREAM_LISTENING)
		return -EALREADY;
	if (s->sflags & STREAM_CONNECTED)
		return -EINVAL;	/* listen(2) says so too; rd_id and read_cb are a reader's */
	ret = sys(listen(s->fd, backlog));
	if (ret)
		return ret;
	s->connection_cb = cb;
	s->sflags |= STREAM_LISTENING;
	ret = arm_accept(s);
	if (ret) {
		s->sflags &= ~STREAM_LISTENING;
		return ret;
	}
	ringo__handle_start((ringo_handle_t *)s);
	return 0;
}

RINGO_EXTERN int ringo_accept(ringo_stream_t *server, ringo_stream_t *client)
{
	if (!is_stream(server) || !is_stream(client) || client->type != server->type ||
	    client->fd >= 0 || client == server || (client->sflags & STREAM_RESOLVING))
		return -EINVAL;
	if (server->accepted_fd < 0)
		return -EAGAIN;
	client->fd = server->accepted_fd;
	client->sflags |= STREAM_CONNECTED;
	server->accepted_fd = -1;
	return 0;
}

/* ---- connect ---------------------------------------------------------- */

static void connect_complete(ringo_loop_t *loop, struct ringo__op *op, int res, unsigned flags)
{
	ringo_connect_t *req = op->owner;
	ringo_stream_t *s = req->handle;

	(void)loop;
	(void)flags;
	req->op_id = 0;
	s->wr_id = 0;
	if (req->rflags)
		res = ringo__req_final_res((ringo_req_t *)req, res,
					   op->state != RINGO__OP_INFLIGHT &&
						   !(req->rflags & REQ_TIMED_OUT));
	if (res == 0)
		s->sflags |= STREAM_CONNECTED;
	req->cb(req, res);
}

static int start_connect(ringo_connect_t *req, ringo_stream_t *s, ringo_connect_cb cb)
{
	struct ringo__op *op;

	if (s->wr_id || (s->sflags & (STREAM_CONNECTED | STREAM_LISTENING)))
		return -EALREADY;
	op = ringo__req_op(s->loop, (ringo_req_t *)req, RINGO_REQ_CONNECT, connect_complete,
			   (ringo_handle_t *)s);
	if (!op)
		return -ENOMEM;
	req->handle = s;
	req->cb = cb;
	s->wr_id = op->id;
	ringo_prep_connect(ringo__op_sqe(s->loop, op), s->fd, (struct sockaddr *)&req->addr,
			   req->addrlen);
	return 0;
}

RINGO_EXTERN int ringo_tcp_connect(ringo_connect_t *req, ringo_tcp_t *tcp,
				   const struct sockaddr *addr, ringo_connect_cb cb)
{
	socklen_t len = addr ? inet_len(addr) : 0;
	int ret;

	if (!req || !is_stream(tcp) || tcp->type != RINGO_HANDLE_TCP || !cb || !len)
		return -EINVAL;
	if (tcp->wr_id || (tcp->sflags & (STREAM_CONNECTED | STREAM_LISTENING | STREAM_RESOLVING)))
		return -EALREADY;
	ret = open_socket(tcp, addr->sa_family);
	if (ret)
		return ret;
	memcpy(&req->addr, addr, len);
	req->addrlen = len;
	req->resolving = 0;
	req->ai_list = req->ai_next = NULL;
	return start_connect(req, tcp, cb);
}

RINGO_EXTERN int ringo_unix_connect(ringo_connect_t *req, ringo_unix_t *un, const char *name,
				    size_t len, ringo_connect_cb cb)
{
	int ret;

	if (!req || !is_stream(un) || un->type != RINGO_HANDLE_UNIX || !cb)
		return -EINVAL;
	if (un->wr_id || (un->sflags & (STREAM_CONNECTED | STREAM_LISTENING)))
		return -EALREADY;
	ret = unix_addr((struct sockaddr_un *)&req->addr, &req->addrlen, name, len);
	if (!ret)
		ret = open_socket(un, AF_UNIX);
	if (ret)
		return ret;
	return start_connect(req, un, cb);
}

/* ---- connect by name --------------------------------------------------- */

static void host_try_next(ringo_connect_t *req);

/* The lookup counted as an op of the handle, so close waits for it. */
static void host_lookup_done(ringo_connect_t *req)
{
	req->resolving = 0;
	req->handle->lookup = NULL;
	req->handle->sflags &= ~STREAM_RESOLVING;
	ringo__handle_op_done((ringo_handle_t *)req->handle);
}

static void host_finish(ringo_connect_t *req, int status)
{
	ringo_freeaddrinfo(req->ai_list);
	req->ai_list = req->ai_next = NULL;
	req->cb = req->user_cb;
	req->cb(req, status);
}

/* One address refused us: drop its socket and try the next, if any. */
static void host_connected(ringo_connect_t *req, int status)
{
	ringo_stream_t *s = req->handle;

	if (status == 0 || status == -ECANCELED || status == -ETIMEDOUT || !req->ai_next ||
	    (s->hflags & HANDLE_CLOSING)) {
		host_finish(req, status);
		return;
	}
	close(s->fd);
	s->fd = -1;
	host_try_next(req);
}

static void host_try_next(ringo_connect_t *req)
{
	ringo_stream_t *s = req->handle;
	struct addrinfo *ai = req->ai_next;
	int ret;

	req->ai_next = ai->ai_next;
	ret = open_socket(s, ai->ai_family);
	if (!ret) {
		memcpy(&req->addr, ai->ai_addr, ai->ai_addrlen);
		req->addrlen = ai->ai_addrlen;
		ret = start_connect(req, s, host_connected);
	}
	if (ret)
		host_finish(req, ret);
}

static void host_resolved(ringo_getaddrinfo_t *gai, int status, struct addrinfo *res)
{
	ringo_connect_t *req = container_of(gai, ringo_connect_t, gai);

	host_lookup_done(req);
	req->ai_list = req->ai_next = res;
	if (!status && (req->handle->hflags & HANDLE_CLOSING))
		status = -ECANCELED;
	if (!status && !res)
		status = -ENOENT;
	if (status) {
		host_finish(req, status);
		return;
	}
	host_try_next(req);
}

RINGO_EXTERN int ringo_tcp_connect_host(ringo_connect_t *req, ringo_tcp_t *tcp, const char *host,
					const char *service, ringo_connect_cb cb)
{
	struct addrinfo hints;
	int ret;

	if (!req || !is_stream(tcp) || tcp->type != RINGO_HANDLE_TCP || !cb || !host || !service)
		return -EINVAL;
	if (tcp->fd >= 0 || tcp->wr_id || (tcp->sflags & STREAM_RESOLVING))
		return -EALREADY;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	req->loop = tcp->loop;
	req->type = RINGO_REQ_CONNECT;
	req->handle = tcp;
	req->op_id = 0;
	req->rflags = 0;
	req->heap_index = HEAP_NONE;
	req->user_cb = cb;
	req->ai_list = req->ai_next = NULL;
	ret = ringo_getaddrinfo(tcp->loop, &req->gai, host_resolved, host, service, &hints);
	if (ret)
		return ret;
	req->resolving = 1;
	tcp->lookup = req;
	tcp->sflags |= STREAM_RESOLVING;
	tcp->inflight++;
	return 0;
}

/* ringo_cancel of a connect_host request still resolving. */
int ringo__connect_cancel(ringo_req_t *req)
{
	ringo_connect_t *c = (ringo_connect_t *)req;

	if (!c->resolving)
		return -ENOENT;
	return ringo_cancel((ringo_req_t *)&c->gai);
}

/* ---- shutdown --------------------------------------------------------- */

static void shutdown_complete(ringo_loop_t *loop, struct ringo__op *op, int res, unsigned flags)
{
	ringo_shutdown_t *req = op->owner;

	(void)loop;
	(void)flags;
	req->op_id = 0;
	req->handle->wr_id = 0;
	req->cb(req, res);
}

/* Called when the write queue is empty (now or after the last write). */
int ringo__stream_shutdown_now(ringo_stream_t *s, ringo_shutdown_t *req)
{
	struct ringo__op *op = ringo__op_new(s->loop, shutdown_complete, req, (ringo_handle_t *)s);

	if (!op)
		return -ENOMEM;
	op->counts_active = 1;
	req->op_id = op->id;
	s->wr_id = op->id;
	ringo_prep_shutdown(ringo__op_sqe(s->loop, op), s->fd, SHUT_WR);
	return 0;
}

void ringo__shutdown_fail(ringo_shutdown_t *req, int err)
{
	L(req->loop)->active_reqs--;
	req->cb(req, err);
}

RINGO_EXTERN int ringo_shutdown(ringo_shutdown_t *req, ringo_stream_t *s, ringo_shutdown_cb cb)
{
	if (!req || !is_stream(s) || !cb)
		return -EINVAL;
	if (!(s->sflags & STREAM_CONNECTED))
		return -ENOTCONN;
	if (s->sflags & STREAM_SHUT_WR)
		return -EALREADY;
	req->loop = s->loop;
	req->type = RINGO_REQ_SHUTDOWN;
	req->handle = s;
	req->cb = cb;
	req->op_id = 0;
	req->rflags = 0;
	req->heap_index = HEAP_NONE;
	/* Counted active now: it may wait for the write queue, behind its
	 * last request (a send in flight always has its request queued). */
	L(s->loop)->active_reqs++;
	if (s->write_tail) {
		s->sflags |= STREAM_SHUT_WR;
		s->write_tail->shutdown = req;
		return 0;
	}
	if (ringo__stream_shutdown_now(s, req)) {
		L(s->loop)->active_reqs--;
		return -ENOMEM;
	}
	s->sflags |= STREAM_SHUT_WR;
	return 0;
}

/* ---- close ------------------------------------------------------------ */

static void cancel_id(ringo_loop_t *loop, uint64_t id)
{
	struct ringo__op *op = id ? ringo__op_find(loop, id) : NULL;

	if (op)
		ringo__op_cancel(loop, op);
}

/* ringo_close: stop everything; the fd closes once the last CQE is in. */
void ringo__stream_close(ringo_handle_t *h)
{
	ringo_stream_t *s = (ringo_stream_t *)h;

	s->sflags &= ~STREAM_LISTENING;
	ringo__read_close(s);
	ringo__unpark(s);
	cancel_id(s->loop, s->rd_id);
	cancel_id(s->loop, s->wr_id);
	/* A lookup still queued is dropped; one running finishes, and its
	 * callback sees the handle closing. */
	if (s->sflags & STREAM_RESOLVING)
		ringo_cancel((ringo_req_t *)&s->lookup->gai);
}

/* Runs from the loop just before close_cb: no op of s is in flight. */
void ringo__stream_finalize(ringo_handle_t *h)
{
	ringo_stream_t *s = (ringo_stream_t *)h;
	ringo_shutdown_t *req = ringo__write_fail_all(s, -ECANCELED);

	if (req)
		ringo__shutdown_fail(req, -ECANCELED);
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

/* ---- options and names ------------------------------------------------ */

RINGO_EXTERN int ringo_tcp_nodelay(ringo_tcp_t *tcp, int enable)
{
	int on = !!enable;

	if (!is_stream(tcp) || tcp->type != RINGO_HANDLE_TCP || tcp->fd < 0)
		return -EINVAL;
	return sys(setsockopt(tcp->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)));
}

RINGO_EXTERN int ringo_tcp_keepalive(ringo_tcp_t *tcp, int enable, unsigned delay_s)
{
	int on = !!enable, delay = (int)delay_s, ret;

	if (!is_stream(tcp) || tcp->type != RINGO_HANDLE_TCP || tcp->fd < 0 ||
	    (enable && (delay_s == 0 || delay_s > 32767)))
		return -EINVAL;
	ret = sys(setsockopt(tcp->fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)));
	if (!ret && enable)
		ret = sys(setsockopt(tcp->fd, IPPROTO_TCP, TCP_KEEPIDLE, &delay, sizeof(delay)));
	return ret;
}

RINGO_EXTERN int ringo_getsockname(const ringo_stream_t *s, struct sockaddr *addr, socklen_t *len)
{
	if (!s || s->fd < 0 || !addr || !len)
		return -EINVAL;
	return sys(getsockname(s->fd, addr, len));
}

RINGO_EXTERN int ringo_getpeername(const ringo_stream_t *s, struct sockaddr *addr, socklen_t *len)
{
	if (!s || s->fd < 0 || !addr || !len)
		return -EINVAL;
	return sys(getpeername(s->fd, addr, len));
}

RINGO_EXTERN size_t ringo_write_queue_size(const ringo_stream_t *s)
{
	return s ? s->write_queue_size : 0;
}
