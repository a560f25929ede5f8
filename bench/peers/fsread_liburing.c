/* SPDX-License-Identifier: MIT */
/*
 * The liburing peer of bench/fsread.c: the random-read workload written the
 * way a hand-made liburing program would be. cfg->inflight reads of one
 * block each stay in flight; a round is one io_uring_submit_and_wait(ring,
 * 1) (which hands the kernel every read queued since the last one: batched
 * submission), then every ready CQE is reaped with io_uring_for_each_cqe,
 * checked, and its slot's next read prepared in a fresh SQE at once; the
 * batch is retired with one io_uring_cq_advance. user_data points at the
 * slot. The ring gets the SQ/CQ sizes and setup flags of ringo's loop ring,
 * so both sides ask the same of the kernel (plain io_uring_prep_read on an
 * unregistered fd and buffer, as ringo_fs_read does).
 */
#include "config.h"

#include <liburing.h>

#include "../bench_fs.h"

struct slot {
	void *buf;
	uint64_t off;
	uint64_t completions;
};

struct run {
	struct io_uring ring;
	const struct bench_fsread_cfg *cfg;
	struct slot *slots;
	char *bufs;
	uint64_t rng;
	unsigned inflight;
	uint64_t done;		/* completions in this phase */
	uint64_t submitted;	/* reads queued in this phase */
	uint64_t enters;	/* io_uring_submit_and_wait calls in this phase */
	uint64_t errors;
};

static int queue_read(struct run *r, struct slot *s)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);

	/* Cannot happen: at most cfg->inflight <= entries SQEs are pending. */
	if (!sqe)
		return -EBUSY;
	s->off = bench_fsread_next(&r->rng, r->cfg->blocks);
	bench_fs_poison(s->buf, s->off, BENCH_FSREAD_BLOCK);
	io_uring_prep_read(sqe, r->cfg->fd, s->buf, BENCH_FSREAD_BLOCK, s->off);
	io_uring_sqe_set_data(sqe, s);
	r->submitted++;
	return 0;
}

/* Check one CQE; false if it is wrong (counted). */
static bool good(struct run *r, const struct io_uring_cqe *cqe, struct slot *s)
{
	if (s < r->slots || s >= r->slots + r->cfg->inflight || cqe->res != BENCH_FSREAD_BLOCK ||
	    !bench_fs_check(s->buf, s->off, BENCH_FSREAD_BLOCK)) {
		r->errors++;
		return false;
	}
	return true;
}

/* One phase: cfg->inflight reads in flight until the deadline, then drain. */
static int phase(struct run *r, uint64_t deadline)
{
	struct io_uring_cqe *cqe;
	struct slot *s;
	bool stopping = false;
	unsigned i, head, seen;
	int ret;

	r->done = r->submitted = r->enters = 0;
	for (i = 0; i < r->cfg->inflight; i++) {
		ret = queue_read(r, &r->slots[i]);
		if (ret < 0)
			return ret;
	}
	r->inflight = r->cfg->inflight;
	while (r->inflight) {
		ret = io_uring_submit_and_wait(&r->ring, 1);
		r->enters++;
		if (ret < 0 && ret != -EINTR)
			return ret;
		seen = 0;
		io_uring_for_each_cqe(&r->ring, head, cqe) {
			seen++;
			s = io_uring_cqe_get_data(cqe);
			if (!good(r, cqe, s)) {
				r->inflight--;
				continue;
			}
			s->completions++;
			r->done++;
			if (!stopping && bench_loop_expired(r->done, deadline))
				stopping = true;
			if (stopping) {
				r->inflight--;
				continue;
			}
			ret = queue_read(r, s);
			if (ret < 0)
				return ret;
		}
		io_uring_cq_advance(&r->ring, seen);
	}
	if (r->done != r->submitted)
		r->errors++;
	return 0;
}

static int setup(struct run *r, const struct bench_fsread_cfg *cfg)
{
	struct io_uring_params p;
	unsigned i;

	r->cfg = cfg;
	r->rng = BENCH_FSREAD_SEED;
	r->slots = calloc(cfg->inflight, sizeof(*r->slots));
	if (!r->slots || posix_memalign((void **)&r->bufs, BENCH_FSREAD_BLOCK,
					(size_t)cfg->inflight * BENCH_FSREAD_BLOCK))
		return -ENOMEM;
	for (i = 0; i < cfg->inflight; i++)
		r->slots[i].buf = r->bufs + (size_t)i * BENCH_FSREAD_BLOCK;
	memset(&p, 0, sizeof(p));
	p.flags = cfg->ring_flags;
	if (cfg->cq_entries) {
		p.flags |= IORING_SETUP_CQSIZE;
		p.cq_entries = cfg->cq_entries;
	}
	return io_uring_queue_init_params(cfg->entries, &r->ring, &p);
}

int bench_fsread_liburing(const struct bench_fsread_cfg *cfg, struct bench_fsread_result *res)
{
	uint64_t start, elapsed, cpu, total = 0;
	struct run *r;
	unsigned i;
	int ret;

	*res = (struct bench_fsread_result){ 0 };
	if (!cfg->inflight || cfg->inflight > cfg->entries)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	ret = setup(r, cfg);
	if (ret < 0)
		goto out_free;
	/* Warm-up: fault in the rings and buffers, wake the CPU up. */
	ret = phase(r, bench_now_ns() + cfg->warmup_ns);
	if (ret < 0)
		goto out;
	total += r->done;
	cpu = bench_cpu_ns();
	start = bench_now_ns();
	ret = phase(r, start + cfg->duration_ns);
	elapsed = bench_now_ns() - start;
	cpu = bench_cpu_ns() - cpu;
	if (ret < 0)
		goto out;
	total += r->done;
	res->reads = r->done;
	res->reads_per_sec = (double)r->done * (double)BENCH_NSEC_PER_SEC / (double)elapsed;
	res->cpu_ns = r->done ? (double)cpu / (double)r->done : 0;
	res->enters = r->enters;
	for (i = 0; i < cfg->inflight; i++)
		total -= r->slots[i].completions;
	if (total)
		r->errors++;
out:
	io_uring_queue_exit(&r->ring);
out_free:
	res->errors = r->errors;
	free(r->bufs);
	free(r->slots);
	free(r);
	return ret;
}
