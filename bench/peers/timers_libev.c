/* SPDX-License-Identifier: MIT */
/*
 * The libev peer of bench/timers.c: the million_timers shape on libev.
 * ev_timer_init(&t, cb, timeout / 1000.0, 0.) + ev_timer_start per timer,
 * ev_run until all fired. libev has no close: the close step is
 * ev_timer_stop on every watcher (counted as the "close callbacks"), then
 * ev_run again, which returns at once, as the other sides' second run does
 * once their close callbacks are done.
 */
#include "config.h"

#include <ev.h>

#include "../bench_util.h"

static uint64_t fired;

static void on_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)t;
	(void)revents;
	fired++;
}

int bench_timers_libev(const struct bench_timers_cfg *cfg, struct bench_timers_result *res)
{
	uint64_t w0, w2, closed = 0;
	struct ev_loop *loop;
	double c0, c1, cr, c2;
	ev_timer *timers;
	unsigned i;

	*res = (struct bench_timers_result){ .handle_size = sizeof(ev_timer) };
	fired = 0;
	loop = ev_loop_new(EVFLAG_AUTO);
	if (!loop)
		return -ENOMEM;
	res->rss_loop_kb = bench_cur_rss_kb();
	timers = calloc(cfg->count, sizeof(*timers));
	if (!timers)
		return -ENOMEM;
	res->rss_alloc_kb = bench_cur_rss_kb();

	c0 = bench_cpu_s();
	w0 = bench_now_ns();
	for (i = 0; i < cfg->count; i++) {
		ev_timer_init(&timers[i], on_timer, (double)bench_timers_timeout(cfg, i) / 1000.0,
			      0.);
		ev_timer_start(loop, &timers[i]);
	}
	c1 = bench_cpu_s();
	res->rss_started_kb = bench_cur_rss_kb();
	ev_run(loop, 0);
	cr = bench_cpu_s();
	for (i = 0; i < cfg->count; i++) {
		ev_timer_stop(loop, &timers[i]);
		closed++;
	}
	ev_run(loop, 0);
	c2 = bench_cpu_s();
	w2 = bench_now_ns();

	res->start_s = c1 - c0;
	res->cpu_s = c2 - c0;
	res->run_s = cr - c1;
	res->wall_s = (double)(w2 - w0) / (double)BENCH_NSEC_PER_SEC;
	res->fired = fired;
	res->closed = closed;
	res->iterations = ev_iteration(loop);
	ev_loop_destroy(loop);
	free(timers);
	return 0;
}
