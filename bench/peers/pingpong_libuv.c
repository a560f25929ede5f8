/* SPDX-License-Identifier: MIT */
/*
 * The libuv peer of bench/pingpong.c: libuv's ping_pongs benchmark
 * (test/benchmark-ping-pongs.c) with the echo server in the same loop. A
 * private loop; uv_tcp_bind/uv_listen/uv_accept on 127.0.0.1:0,
 * uv_tcp_connect, uv_tcp_nodelay on both ends, uv_read_start with an
 * alloc_cb that hands out a static buffer (as libuv's benchmark does), and
 * uv_write for every ping and echo. Same checks and stopping rule as the
 * ringo side (bench_util.h).
 */
#include "config.h"

#include <arpa/inet.h>
#include <uv.h>

#include "../bench_util.h"

#define WRITE_REQS 4	/* per end; one is in flight at a time */
#define SLAB 65536

struct pp_write {
	uv_write_t req;
	bool busy;
};

struct pp_uv {
	uv_loop_t loop;
	uv_tcp_t listener, server, client;
	uv_connect_t connect;
	struct pp_write cw[WRITE_REQS], sw[WRITE_REQS];
	unsigned cw_next, sw_next;
	bool server_init;
	bool stopped;
	unsigned closed;
	struct bench_pp_clock clock;
	struct bench_pp_rx srv_rx, cli_rx;
	const struct bench_pp_cfg *cfg;
	struct bench_pp_result *res;
};

/* One buffer for every read: the data is consumed inside read_cb. */
static char slab[SLAB];

static void buf_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
	(void)h;
	(void)size;
	buf->base = slab;
	buf->len = sizeof(slab);
}

static void on_close(uv_handle_t *h)
{
	struct pp_uv *u = h->data;

	u->closed++;
}

static void close_all(struct pp_uv *u)
{
	if (!uv_is_closing((uv_handle_t *)&u->client))
		uv_close((uv_handle_t *)&u->client, on_close);
	if (u->server_init && !uv_is_closing((uv_handle_t *)&u->server))
		uv_close((uv_handle_t *)&u->server, on_close);
	if (!uv_is_closing((uv_handle_t *)&u->listener))
		uv_close((uv_handle_t *)&u->listener, on_close);
}

static void fail(struct pp_uv *u, const char *what, int err)
{
	fprintf(stderr, "pingpong: libuv: %s: %s\n", what, uv_strerror(err));
	u->res->errors++;
	if (!u->stopped) {
		u->stopped = true;
		close_all(u);
	}
}

static void client_write_cb(uv_write_t *req, int status)
{
	struct pp_write *w = BENCH_CONTAINER_OF(req, struct pp_write, req);
	struct pp_uv *u = req->data;

	w->busy = false;
	if (status < 0)
		fail(u, "client write", status);
	else
		u->res->pings++;
}

static void server_write_cb(uv_write_t *req, int status)
{
	struct pp_write *w = BENCH_CONTAINER_OF(req, struct pp_write, req);
	struct pp_uv *u = req->data;

	w->busy = false;
	if (status < 0)
		fail(u, "server write", status);
	else
		u->res->echoes++;
}

static void send_msg(struct pp_uv *u, uv_tcp_t *t, struct pp_write *w, unsigned *next,
		     unsigned off, unsigned len, uv_write_cb cb)
{
	struct pp_write *x = &w[*next];
	uv_buf_t buf = uv_buf_init((char *)BENCH_PP_MSG + off, len);
	int ret;

	if (x->busy) {
		fail(u, "write", UV_EBUSY);
		return;
	}
	*next = (*next + 1) % WRITE_REQS;
	x->busy = true;
	x->req.data = u;
	ret = uv_write(&x->req, (uv_stream_t *)t, &buf, 1, cb);
	if (ret < 0) {
		x->busy = false;
		fail(u, "uv_write", ret);
	}
}

static void server_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct pp_uv *u = s->data;
	unsigned off;

	if (nread == 0)
		return;		/* EAGAIN */
	if (nread < 0) {
		if (!u->stopped || nread != UV_EOF)
			fail(u, "server read", (int)nread);
		return;
	}
	if (bench_pp_rx_feed(&u->srv_rx, buf->base, (size_t)nread, &off, u->res) < 0) {
		fail(u, "server read", UV_EPROTO);
		return;
	}
	send_msg(u, &u->server, u->sw, &u->sw_next, off, (unsigned)nread, server_write_cb);
}

static void client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct pp_uv *u = s->data;
	int ret;

	if (nread == 0)
		return;
	if (nread < 0) {
		fail(u, "client read", (int)nread);
		return;
	}
	ret = bench_pp_rx_feed(&u->cli_rx, buf->base, (size_t)nread, NULL, u->res);
	if (ret < 0) {
		fail(u, "client read", UV_EPROTO);
		return;
	}
	if (!ret)
		return;
	if (bench_pp_roundtrip(&u->clock) == BENCH_PP_STOP) {
		u->stopped = true;
		close_all(u);
		return;
	}
	send_msg(u, &u->client, u->cw, &u->cw_next, 0, BENCH_PP_LEN, client_write_cb);
}

static void on_connect(uv_connect_t *req, int status)
{
	struct pp_uv *u = req->data;
	int ret;

	if (status < 0) {
		fail(u, "connect", status);
		return;
	}
	ret = uv_read_start((uv_stream_t *)&u->client, buf_alloc, client_read);
	if (ret < 0) {
		fail(u, "client read_start", ret);
		return;
	}
	bench_pp_clock_start(&u->clock, u->cfg);
	send_msg(u, &u->client, u->cw, &u->cw_next, 0, BENCH_PP_LEN, client_write_cb);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct pp_uv *u = server->data;
	int ret;

	if (status < 0) {
		fail(u, "accept", status);
		return;
	}
	if (u->server_init) {
		fail(u, "accept", UV_EEXIST);	/* one connection only */
		return;
	}
	ret = uv_tcp_init(&u->loop, &u->server);
	if (ret < 0) {
		fail(u, "uv_tcp_init", ret);
		return;
	}
	u->server_init = true;
	u->server.data = u;
	ret = uv_accept(server, (uv_stream_t *)&u->server);
	if (!ret)
		ret = uv_tcp_nodelay(&u->server, 1);
	if (!ret)
		ret = uv_read_start((uv_stream_t *)&u->server, buf_alloc, server_read);
	if (ret < 0)
		fail(u, "accept", ret);
}

int bench_pingpong_libuv(const struct bench_pp_cfg *cfg, struct bench_pp_result *res)
{
	struct sockaddr_in addr;
	int alen = sizeof(addr);
	struct pp_uv *u;
	int ret;

	*res = (struct bench_pp_result){ 0 };
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->cfg = cfg;
	u->res = res;
	ret = uv_loop_init(&u->loop);
	if (ret < 0) {
		free(u);
		return ret;
	}
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* Inits cannot fail on a fresh loop; close_all needs all three. */
	uv_tcp_init(&u->loop, &u->listener);
	uv_tcp_init(&u->loop, &u->client);
	u->listener.data = u->client.data = u->connect.data = u;
	ret = uv_tcp_bind(&u->listener, (struct sockaddr *)&addr, 0);
	if (!ret)
		ret = uv_listen((uv_stream_t *)&u->listener, 16, on_connection);
	if (!ret)
		ret = uv_tcp_getsockname(&u->listener, (struct sockaddr *)&addr, &alen);
	if (!ret)
		ret = uv_tcp_connect(&u->connect, &u->client, (struct sockaddr *)&addr, on_connect);
	if (!ret)
		ret = uv_tcp_nodelay(&u->client, 1);
	if (ret < 0) {
		fprintf(stderr, "pingpong: libuv: set-up: %s\n", uv_strerror(ret));
		u->stopped = true;
		close_all(u);
	}
	if (uv_run(&u->loop, UV_RUN_DEFAULT) != 0)
		res->errors++;
	if (!ret) {
		bench_pp_final_check(&u->clock, &u->srv_rx, &u->cli_rx, res);
		if (u->closed != 3)
			res->errors++;
	}
	if (uv_loop_close(&u->loop) < 0)
		res->errors++;
	free(u);
	return ret;
}
