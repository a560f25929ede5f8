/* SPDX-License-Identifier: MIT */
/*
 * The libuv peer of bench/idle_conns.c: a private loop, a listener on
 * 127.0.0.1 port 0, and for every connection a calloc'd uv_tcp_t, uv_accept
 * and uv_read_start. alloc_cb hands out one shared static 64 KiB buffer (as
 * libuv's own benchmarks do), so no read buffer is ever per connection; and
 * libuv only calls it when a socket is readable, which an idle one never
 * is. What libuv then holds per connection is the uv_tcp_t and its slot in
 * loop->watchers; the epoll registration is kernel memory.
 */
#include "config.h"

#include <arpa/inet.h>
#include <uv.h>

#include "../bench_util.h"

#define SLAB 65536

struct idle_uv {
	uv_loop_t loop;
	uv_tcp_t listener;
	uv_timer_t settle;
	uv_tcp_t *conns;	/* accepted handles, linked through ->data */
	const struct bench_idle_cfg *cfg;
	struct bench_idle_result *res;
};

static char slab[SLAB];

static void buf_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
	(void)h;
	(void)size;
	buf->base = slab;
	buf->len = sizeof(slab);
}

static void on_settled(uv_timer_t *t)
{
	uv_stop(t->loop);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct idle_uv *u = s->loop->data;

	(void)buf;
	if (nread == 0)
		return;	/* EAGAIN */
	bench_idle_read(u->cfg, u->res, "libuv", (long)nread);
	if (nread < 0)
		uv_read_stop(s);
	if (bench_idle_all_in(u->cfg, u->res))
		uv_timer_start(&u->settle, on_settled, u->cfg->settle_ms, 0);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct idle_uv *u = server->loop->data;
	uv_tcp_t *c;
	int ret;

	if (status < 0) {
		fprintf(stderr, "idle-conns: libuv: accept: %s\n", uv_strerror(status));
		u->res->errors++;
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		u->res->errors++;
		return;
	}
	uv_tcp_init(&u->loop, c);	/* no socket yet: cannot fail */
	c->data = u->conns;
	u->conns = c;
	ret = uv_accept(server, (uv_stream_t *)c);
	if (!ret)
		ret = uv_read_start((uv_stream_t *)c, buf_alloc, on_read);
	if (ret < 0) {
		fprintf(stderr, "idle-conns: libuv: accept/read_start: %s\n", uv_strerror(ret));
		u->res->errors++;
	}
	u->res->accepted++;
	if (bench_idle_all_in(u->cfg, u->res))
		uv_timer_start(&u->settle, on_settled, u->cfg->settle_ms, 0);
}

static void free_cb(uv_handle_t *h)
{
	free(h);
}

int bench_idle_conns_libuv(const struct bench_idle_cfg *cfg, struct bench_idle_result *res)
{
	struct sockaddr_in addr;
	int alen = sizeof(addr);
	struct idle_uv *u;
	uv_tcp_t *c, *next;
	int ret;

	*res = (struct bench_idle_result){ .handle_size = sizeof(uv_tcp_t) };
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->cfg = cfg;
	u->res = res;
	ret = uv_loop_init(&u->loop);
	if (ret < 0) {
		fprintf(stderr, "idle-conns: uv_loop_init: %s\n", uv_strerror(ret));
		free(u);
		return ret;
	}
	u->loop.data = u;
	uv_ip4_addr("127.0.0.1", 0, &addr);
	uv_timer_init(&u->loop, &u->settle);
	uv_tcp_init(&u->loop, &u->listener);
	ret = uv_tcp_bind(&u->listener, (struct sockaddr *)&addr, 0);
	if (!ret)
		ret = uv_listen((uv_stream_t *)&u->listener, BENCH_IDLE_BACKLOG, on_connection);
	if (!ret)
		ret = uv_tcp_getsockname(&u->listener, (struct sockaddr *)&addr, &alen);
	if (ret < 0) {
		fprintf(stderr, "idle-conns: libuv: listener: %s\n", uv_strerror(ret));
		return -EIO;	/* the process exits: no teardown */
	}

	bench_idle_listening(res, ntohs(addr.sin_port));
	uv_run(&u->loop, UV_RUN_DEFAULT);
	bench_idle_hold(res);

	for (c = u->conns; c; c = next) {
		next = c->data;
		uv_close((uv_handle_t *)c, free_cb);
	}
	uv_close((uv_handle_t *)&u->listener, NULL);
	uv_close((uv_handle_t *)&u->settle, NULL);
	uv_run(&u->loop, UV_RUN_DEFAULT);
	ret = uv_loop_close(&u->loop);
	if (ret < 0)
		fprintf(stderr, "idle-conns: libuv: uv_loop_close: %s\n", uv_strerror(ret));
	free(u);
	return 0;
}
