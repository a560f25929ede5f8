/* SPDX-License-Identifier: MIT */
/*
 * The liburing peer of bench/pingpong.c: the same ping-pong written the way
 * a hand-made liburing program would be. The connection is set up with
 * plain blocking system calls (socket, bind 127.0.0.1:0, listen, connect,
 * accept; TCP_NODELAY on both ends; the sockets stay blocking, io_uring
 * polls for them). Then one ring carries both ends: a single-shot
 * io_uring_prep_recv per end, re-armed on each completion, and an
 * io_uring_prep_send per ping and per echo. Each round is one
 * io_uring_submit_and_wait(ring, 1) followed by io_uring_for_each_cqe and
 * one io_uring_cq_advance; user_data points at the op's descriptor. The
 * ring gets cfg->entries and cfg->ring_flags (by default what ringo's loop
 * ring got). Same checks and stopping rule as the ringo side.
 */
#include "config.h"

#include <arpa/inet.h>
#include <liburing.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include "../bench_util.h"

#define RBUF 64

enum op_kind { OP_CLIENT_RECV, OP_SERVER_RECV, OP_CLIENT_SEND, OP_SERVER_SEND };

struct op {
	enum op_kind kind;
	int fd;
	bool inflight;
	unsigned len;		/* send: bytes asked for */
	char buf[RBUF];		/* recv: where the data lands */
};

struct pp_ring {
	struct io_uring ring;
	int lfd, sfd, cfd;	/* listener, server end, client end */
	struct op crecv, srecv, csend, ssend;
	struct bench_pp_clock clock;
	struct bench_pp_rx srv_rx, cli_rx;
	struct bench_pp_result *res;
	uint64_t enters;	/* io_uring_submit_and_wait calls */
	uint64_t cqes;		/* CQEs reaped */
	uint64_t enters0, cqes0;
	bool stopped;
};

static struct io_uring_sqe *get_sqe(struct pp_ring *p, struct op *op)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&p->ring);

	/* Cannot run out: at most four ops are ever pending. */
	if (!sqe || op->inflight) {
		p->res->errors++;
		return NULL;
	}
	op->inflight = true;
	return sqe;
}

static void queue_recv(struct pp_ring *p, struct op *op)
{
	struct io_uring_sqe *sqe = get_sqe(p, op);

	if (!sqe)
		return;
	io_uring_prep_recv(sqe, op->fd, op->buf, sizeof(op->buf), 0);
	io_uring_sqe_set_data(sqe, op);
}

static void queue_send(struct pp_ring *p, struct op *op, unsigned off, unsigned len)
{
	struct io_uring_sqe *sqe = get_sqe(p, op);

	if (!sqe)
		return;
	op->len = len;
	io_uring_prep_send(sqe, op->fd, BENCH_PP_MSG + off, len, MSG_NOSIGNAL);
	io_uring_sqe_set_data(sqe, op);
}

static void fail(struct pp_ring *p, const char *what, int err)
{
	fprintf(stderr, "pingpong: liburing: %s: %s\n", what, strerror(-err));
	p->res->errors++;
	p->stopped = true;
}

static void complete(struct pp_ring *p, struct op *op, int res)
{
	unsigned off;
	int ret;

	op->inflight = false;
	switch (op->kind) {
	case OP_SERVER_RECV:
		if (res <= 0) {
			fail(p, "server recv", res ? res : -ECONNRESET);
			return;
		}
		if (bench_pp_rx_feed(&p->srv_rx, op->buf, (size_t)res, &off, p->res) < 0) {
			fail(p, "server recv", -EBADMSG);
			return;
		}
		queue_recv(p, op);
		queue_send(p, &p->ssend, off, (unsigned)res);
		break;
	case OP_CLIENT_RECV:
		if (res <= 0) {
			fail(p, "client recv", res ? res : -ECONNRESET);
			return;
		}
		ret = bench_pp_rx_feed(&p->cli_rx, op->buf, (size_t)res, NULL, p->res);
		if (ret < 0) {
			fail(p, "client recv", -EBADMSG);
			return;
		}
		if (!ret) {
			queue_recv(p, op);
			break;
		}
		switch (bench_pp_roundtrip(&p->clock)) {
		case BENCH_PP_STARTED:
			p->enters0 = p->enters;
			p->cqes0 = p->cqes;
			break;
		case BENCH_PP_STOP:
			p->res->enters = p->enters - p->enters0;
			p->res->cqes = p->cqes - p->cqes0;
			p->stopped = true;
			return;
		case BENCH_PP_GO:
			break;
		}
		queue_recv(p, op);
		queue_send(p, &p->csend, 0, BENCH_PP_LEN);
		break;
	case OP_CLIENT_SEND:
	case OP_SERVER_SEND:
		if (res != (int)op->len) {
			fail(p, "send", res < 0 ? res : -EIO);
			return;
		}
		if (op->kind == OP_CLIENT_SEND)
			p->res->pings++;
		else
			p->res->echoes++;
		break;
	}
}

/* Run until the client stops and the sends it waits for are in. */
static int run(struct pp_ring *p)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen;
	int ret;

	while (!p->stopped || p->csend.inflight || p->ssend.inflight) {
		ret = io_uring_submit_and_wait(&p->ring, 1);
		p->enters++;
		if (ret < 0 && ret != -EINTR)
			return ret;
		seen = 0;
		io_uring_for_each_cqe(&p->ring, head, cqe) {
			seen++;
			complete(p, io_uring_cqe_get_data(cqe), cqe->res);
		}
		io_uring_cq_advance(&p->ring, seen);
		p->cqes += seen;
		if (p->res->errors)
			return 0;
	}
	return 0;
}

static int setup_sockets(struct pp_ring *p)
{
	struct sockaddr_in addr;
	socklen_t alen = sizeof(addr);
	int one = 1;

	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	p->cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (p->lfd < 0 || p->cfd < 0 ||
	    setsockopt(p->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(p->lfd, (struct sockaddr *)&addr, sizeof(addr)) || listen(p->lfd, 16) ||
	    getsockname(p->lfd, (struct sockaddr *)&addr, &alen) ||
	    connect(p->cfd, (struct sockaddr *)&addr, sizeof(addr)))
		return -errno;
	p->sfd = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (p->sfd < 0 || setsockopt(p->cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) ||
	    setsockopt(p->sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
		return -errno;
	return 0;
}

int bench_pingpong_liburing(const struct bench_pp_cfg *cfg, struct bench_pp_result *res)
{
	struct io_uring_params params;
	struct pp_ring *p;
	int ret;

	*res = (struct bench_pp_result){ 0 };
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->res = res;
	p->lfd = p->sfd = p->cfd = -1;
	memset(&params, 0, sizeof(params));
	params.flags = cfg->ring_flags;
	ret = io_uring_queue_init_params(cfg->entries ? cfg->entries : 256, &p->ring, &params);
	if (ret < 0) {
		free(p);
		return ret;
	}
	ret = setup_sockets(p);
	if (ret < 0)
		goto out;
	p->crecv = (struct op){ .kind = OP_CLIENT_RECV, .fd = p->cfd };
	p->srecv = (struct op){ .kind = OP_SERVER_RECV, .fd = p->sfd };
	p->csend = (struct op){ .kind = OP_CLIENT_SEND, .fd = p->cfd };
	p->ssend = (struct op){ .kind = OP_SERVER_SEND, .fd = p->sfd };
	queue_recv(p, &p->srecv);
	queue_recv(p, &p->crecv);
	bench_pp_clock_start(&p->clock, cfg);
	queue_send(p, &p->csend, 0, BENCH_PP_LEN);
	ret = run(p);
	if (ret < 0)
		goto out;
	bench_pp_final_check(&p->clock, &p->srv_rx, &p->cli_rx, res);
out:
	/* The server's recv is still armed; exiting the ring cancels it. */
	io_uring_queue_exit(&p->ring);
	if (p->lfd >= 0)
		close(p->lfd);
	if (p->sfd >= 0)
		close(p->sfd);
	if (p->cfd >= 0)
		close(p->cfd);
	free(p);
	return ret;
}
