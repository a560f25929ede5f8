/* SPDX-License-Identifier: MIT */
/*
 * The libuv peer of bench/timers.c: libuv's own million_timers benchmark
 * (test/benchmark-million-timers.c), with the timeouts of
 * bench_timers_timeout() and a private loop instead of the default one.
 * uv_timer_init + uv_timer_start per timer, uv_run until all fired,
 * uv_close on every handle, uv_run again for the close callbacks.
 */
#include "config.h"

#include <uv.h>

#include "../bench_util.h"

static uint64_t fired, closed;

static void on_timer(uv_timer_t *t)
{
	(void)t;
	fired++;
}

static void on_close(uv_handle_t *h)
{
	(void)h;
	closed++;
}

int bench_timers_libuv(const struct bench_timers_cfg *cfg, struct bench_timers_result *res)
{
	double c0, c1, cr, c2;
	uint64_t w0, w2;
	uv_timer_t *timers;
	uv_loop_t loop;
	unsigned i;
	int ret;

	*res = (struct bench_timers_result){ .handle_size = sizeof(uv_timer_t) };
	fired = closed = 0;
	ret = uv_loop_init(&loop);
	if (ret)
		return ret;
	res->rss_loop_kb = bench_cur_rss_kb();
	timers = calloc(cfg->count, sizeof(*timers));
	if (!timers)
		return -ENOMEM;
	res->rss_alloc_kb = bench_cur_rss_kb();

	c0 = bench_cpu_s();
	w0 = bench_now_ns();
	for (i = 0; i < cfg->count; i++) {
		ret = uv_timer_init(&loop, &timers[i]);
		if (!ret)
			ret = uv_timer_start(&timers[i], on_timer, bench_timers_timeout(cfg, i), 0);
		if (ret)
			return ret;
	}
	c1 = bench_cpu_s();
	res->rss_started_kb = bench_cur_rss_kb();
	ret = uv_run(&loop, UV_RUN_DEFAULT);
	if (ret)
		return -EBUSY;
	cr = bench_cpu_s();
	for (i = 0; i < cfg->count; i++)
		uv_close((uv_handle_t *)&timers[i], on_close);
	ret = uv_run(&loop, UV_RUN_DEFAULT);
	if (ret)
		return -EBUSY;
	c2 = bench_cpu_s();
	w2 = bench_now_ns();

	res->start_s = c1 - c0;
	res->cpu_s = c2 - c0;
	res->run_s = cr - c1;
	res->wall_s = (double)(w2 - w0) / (double)BENCH_NSEC_PER_SEC;
	res->fired = fired;
	res->closed = closed;
	ret = uv_loop_close(&loop);
	free(timers);
	return ret;
}
