/* SPDX-License-Identifier: MIT */
/*
 * The libuv peer of bench/fsstat.c: libuv's fs_stat benchmark shape on a
 * private loop. cfg->inflight uv_fs_t requests each run uv_fs_stat of
 * cfg->path (a statx on libuv's threadpool); the callback checks the
 * result, calls uv_fs_req_cleanup and starts the next stat on the same
 * request until cfg->count were started. An untimed tenth of the count
 * runs first (it starts the threadpool).
 */
#include "config.h"

#include <sys/stat.h>
#include <uv.h>

#include "../bench_fs.h"

struct uv_stat_run;

struct slot {
	uv_fs_t req;
	struct uv_stat_run *u;
};

struct uv_stat_run {
	uv_loop_t loop;
	const struct bench_fsstat_cfg *cfg;
	struct slot *slots;
	unsigned count;
	unsigned started;
	unsigned done;
	uint64_t errors;
};

static void stat_cb(uv_fs_t *req);

static int issue(struct uv_stat_run *u, struct slot *s)
{
	int ret = uv_fs_stat(&u->loop, &s->req, u->cfg->path, stat_cb);

	if (ret == 0)
		u->started++;
	return ret;
}

static void stat_cb(uv_fs_t *req)
{
	struct slot *s = BENCH_CONTAINER_OF(req, struct slot, req);
	struct uv_stat_run *u = s->u;
	bool ok = req->result == 0 && req->statbuf.st_ino == u->cfg->ino &&
		  req->statbuf.st_size == u->cfg->size && S_ISREG(req->statbuf.st_mode);

	uv_fs_req_cleanup(req);
	u->done++;
	if (!ok) {
		u->errors++;
		return;
	}
	if (u->started < u->count && issue(u, s) < 0)
		u->errors++;
}

/* `count` stats; ns it took, or a negative libuv error. */
static int64_t phase(struct uv_stat_run *u, unsigned count)
{
	uint64_t start = bench_now_ns();
	unsigned i;
	int ret = 0;

	u->count = count;
	u->started = u->done = 0;
	for (i = 0; i < u->cfg->inflight && i < count && !ret; i++)
		ret = issue(u, &u->slots[i]);
	if (ret < 0)
		u->count = 0;	/* drain what started */
	if (uv_run(&u->loop, UV_RUN_DEFAULT) != 0)
		u->errors++;
	if (ret < 0)
		return ret;
	if (u->done != count || u->started != count)
		u->errors++;
	return (int64_t)(bench_now_ns() - start);
}

int bench_fsstat_libuv(const struct bench_fsstat_cfg *cfg, struct bench_fsstat_result *res)
{
	struct uv_stat_run *u;
	uint64_t cpu = 0;
	int64_t ns;
	unsigned i;
	int ret;

	*res = (struct bench_fsstat_result){ 0 };
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->cfg = cfg;
	u->slots = calloc(cfg->inflight, sizeof(*u->slots));
	if (!u->slots) {
		free(u);
		return -ENOMEM;
	}
	for (i = 0; i < cfg->inflight; i++)
		u->slots[i].u = u;
	ret = uv_loop_init(&u->loop);
	if (ret < 0)
		goto out_free;
	ns = phase(u, cfg->count / 10 + 1);
	if (ns >= 0) {
		cpu = bench_cpu_ns();
		ns = phase(u, cfg->count);
		cpu = bench_cpu_ns() - cpu;
	}
	if (ns < 0) {
		ret = (int)ns;
	} else {
		res->stats = u->done;
		res->stats_per_sec = (double)u->done * (double)BENCH_NSEC_PER_SEC / (double)ns;
		res->cpu_ns = u->done ? (double)cpu / (double)u->done : 0;
	}
	if (uv_loop_close(&u->loop) < 0)
		u->errors++;
out_free:
	res->errors = u->errors;
	free(u->slots);
	free(u);
	return ret;
}
