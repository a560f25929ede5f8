/* SPDX-License-Identifier: MIT */
/*
 * The liburing peer of bench/nop_loop.c: the same loop-style NOP workload,
 * written the way a hand-made liburing event loop would be. cfg->inflight
 * NOPs stay in flight; each round is one io_uring_submit_and_wait(ring, 1),
 * then every ready CQE is reaped with io_uring_for_each_cqe, checked, and its
 * op resubmitted at once (until the deadline), and the batch is retired with
 * io_uring_cq_advance. user_data points at the op's slot, as a real program's
 * request pointer would. The ring gets the same SQ/CQ sizes and setup flags
 * as ringo's loop ring.
 */
#include "config.h"

#include <liburing.h>

#include "../bench_util.h"

#define MAX_INFLIGHT 4096

struct slot {
	uint64_t completions;
};

struct run {
	struct io_uring ring;
	struct slot slots[MAX_INFLIGHT];
	unsigned inflight;
	uint64_t done;		/* completions in this phase */
	uint64_t submitted;	/* NOPs submitted in this phase */
	uint64_t errors;
};

static int queue_nop(struct run *r, struct slot *s)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);

	/* Cannot happen: at most cfg->inflight <= entries SQEs are pending. */
	if (!sqe)
		return -EBUSY;
	io_uring_prep_nop(sqe);
	io_uring_sqe_set_data(sqe, s);
	r->submitted++;
	return 0;
}

/* One phase: keep n NOPs in flight until the deadline, then drain them. */
static int phase(struct run *r, unsigned n, uint64_t deadline)
{
	struct io_uring_cqe *cqe;
	struct slot *s;
	bool stopping = false;
	unsigned i, head, seen;
	int ret;

	r->done = r->submitted = 0;
	for (i = 0; i < n; i++) {
		ret = queue_nop(r, &r->slots[i]);
		if (ret < 0)
			return ret;
	}
	r->inflight = n;
	while (r->inflight) {
		ret = io_uring_submit_and_wait(&r->ring, 1);
		if (ret < 0 && ret != -EINTR)
			return ret;
		seen = 0;
		io_uring_for_each_cqe(&r->ring, head, cqe) {
			seen++;
			s = io_uring_cqe_get_data(cqe);
			if (cqe->res != 0 || s < r->slots || s >= r->slots + n) {
				r->errors++;
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
			ret = queue_nop(r, s);
			if (ret < 0)
				return ret;
		}
		io_uring_cq_advance(&r->ring, seen);
	}
	if (r->done != r->submitted)
		r->errors++;
	return 0;
}

int bench_nop_loop_liburing(const struct bench_loop_cfg *cfg, struct bench_loop_result *res)
{
	struct io_uring_params p;
	uint64_t start, elapsed, total = 0;
	struct run *r;
	unsigned i;
	int ret;

	*res = (struct bench_loop_result){ 0 };
	if (!cfg->inflight || cfg->inflight > MAX_INFLIGHT || cfg->inflight > cfg->entries)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	memset(&p, 0, sizeof(p));
	p.flags = cfg->flags;
	if (cfg->cq_entries) {
		p.flags |= IORING_SETUP_CQSIZE;
		p.cq_entries = cfg->cq_entries;
	}
	ret = io_uring_queue_init_params(cfg->entries, &r->ring, &p);
	if (ret < 0) {
		free(r);
		return ret;
	}
	/* Warm-up: fault in the rings and get the CPU out of idle states. */
	ret = phase(r, cfg->inflight, bench_now_ns() + cfg->warmup_ns);
	if (ret < 0)
		goto out;
	total += r->done;
	start = bench_now_ns();
	ret = phase(r, cfg->inflight, start + cfg->duration_ns);
	elapsed = bench_now_ns() - start;
	if (ret < 0)
		goto out;
	total += r->done;
	res->ops = r->done;
	res->ops_per_sec = (double)res->ops * (double)BENCH_NSEC_PER_SEC / (double)elapsed;
	/* Every completion landed on a slot of ours. */
	for (i = 0; i < cfg->inflight; i++)
		total -= r->slots[i].completions;
	if (total)
		r->errors++;
out:
	res->errors = r->errors;
	io_uring_queue_exit(&r->ring);
	free(r);
	return ret;
}
