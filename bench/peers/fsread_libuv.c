/* SPDX-License-Identifier: MIT */
/*
 * The libuv peer of bench/fsread.c: cfg->inflight uv_fs_t requests on a
 * private loop, each a uv_fs_read of one block at a random offset; the
 * callback checks the result and the bytes, calls uv_fs_req_cleanup and
 * starts the next read on the same request. libuv (1.44 here) runs file
 * reads on its threadpool (UV_THREADPOOL_SIZE threads, default 4), so each
 * read is a pread(2) on a pool thread plus the hand-off to and from it.
 * Same stopping rule and checks as the ringo side.
 */
#include "config.h"

#include <uv.h>

#include "../bench_fs.h"

struct uv_run_state;

struct slot {
	uv_fs_t req;
	struct uv_run_state *u;
	void *buf;
	uint64_t off;
	uint64_t completions;
};

struct uv_run_state {
	uv_loop_t loop;
	const struct bench_fsread_cfg *cfg;
	struct slot *slots;
	char *bufs;
	uint64_t rng;
	bool stopping;
	uint64_t deadline;
	uint64_t done;
	uint64_t submitted;
	uint64_t errors;
};

static void read_cb(uv_fs_t *req);

static int issue(struct uv_run_state *u, struct slot *s)
{
	uv_buf_t buf = uv_buf_init(s->buf, BENCH_FSREAD_BLOCK);
	int ret;

	s->off = bench_fsread_next(&u->rng, u->cfg->blocks);
	bench_fs_poison(s->buf, s->off, BENCH_FSREAD_BLOCK);
	ret = uv_fs_read(&u->loop, &s->req, u->cfg->fd, &buf, 1, (int64_t)s->off, read_cb);
	if (ret == 0)
		u->submitted++;
	return ret;
}

static void read_cb(uv_fs_t *req)
{
	struct slot *s = BENCH_CONTAINER_OF(req, struct slot, req);
	struct uv_run_state *u = s->u;
	ssize_t result = req->result;

	uv_fs_req_cleanup(req);
	if (result != BENCH_FSREAD_BLOCK || !bench_fs_check(s->buf, s->off, BENCH_FSREAD_BLOCK)) {
		u->errors++;
		return;
	}
	s->completions++;
	u->done++;
	if (!u->stopping && bench_loop_expired(u->done, u->deadline))
		u->stopping = true;
	if (!u->stopping && issue(u, s) < 0)
		u->errors++;
}

static int phase(struct uv_run_state *u, uint64_t deadline)
{
	unsigned i;
	int ret;

	u->stopping = false;
	u->deadline = deadline;
	u->done = u->submitted = 0;
	for (i = 0; i < u->cfg->inflight; i++) {
		ret = issue(u, &u->slots[i]);
		if (ret < 0)
			return ret;
	}
	if (uv_run(&u->loop, UV_RUN_DEFAULT) != 0 || u->done != u->submitted)
		u->errors++;
	return 0;
}

int bench_fsread_libuv(const struct bench_fsread_cfg *cfg, struct bench_fsread_result *res)
{
	uint64_t start, elapsed, cpu, total = 0;
	struct uv_run_state *u;
	unsigned i;
	int ret;

	*res = (struct bench_fsread_result){ 0 };
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->cfg = cfg;
	u->rng = BENCH_FSREAD_SEED;
	u->slots = calloc(cfg->inflight, sizeof(*u->slots));
	if (!u->slots || posix_memalign((void **)&u->bufs, BENCH_FSREAD_BLOCK,
					(size_t)cfg->inflight * BENCH_FSREAD_BLOCK)) {
		ret = -ENOMEM;
		goto out_free;
	}
	for (i = 0; i < cfg->inflight; i++) {
		u->slots[i].u = u;
		u->slots[i].buf = u->bufs + (size_t)i * BENCH_FSREAD_BLOCK;
	}
	ret = uv_loop_init(&u->loop);
	if (ret < 0)
		goto out_free;
	/* Warm-up: starts the threadpool, faults in the buffers. */
	ret = phase(u, bench_now_ns() + cfg->warmup_ns);
	if (ret < 0)
		goto out;
	total += u->done;
	cpu = bench_cpu_ns();
	start = bench_now_ns();
	ret = phase(u, start + cfg->duration_ns);
	elapsed = bench_now_ns() - start;
	cpu = bench_cpu_ns() - cpu;
	if (ret < 0)
		goto out;
	total += u->done;
	res->reads = u->done;
	res->reads_per_sec = (double)u->done * (double)BENCH_NSEC_PER_SEC / (double)elapsed;
	res->cpu_ns = u->done ? (double)cpu / (double)u->done : 0;
	for (i = 0; i < cfg->inflight; i++)
		total -= u->slots[i].completions;
	if (total)
		u->errors++;
out:
	/* A failed phase may leave reads on the pool: let them finish. */
	if (ret < 0)
		uv_run(&u->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&u->loop) < 0)
		u->errors++;
out_free:
	res->errors = u->errors;
	free(u->bufs);
	free(u->slots);
	free(u);
	return ret;
}
