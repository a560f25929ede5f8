/* SPDX-License-Identifier: MIT */
/*
 * The liburing peer of bench/nop.c: the same NOP round trips, written the
 * way a liburing user would (io_uring_get_sqe, io_uring_prep_nop,
 * io_uring_submit_and_wait, io_uring_for_each_cqe, io_uring_cq_advance), so
 * that ringo's ring layer is measured against the library it replaces.
 * Each round prepares BENCH_NOP_BATCH NOPs, submits them and waits for all
 * of them in one io_uring_enter, then checks and retires every CQE. Keep
 * this loop step for step identical to ringo's in bench/nop.c.
 */
#include "config.h"

#include <liburing.h>

#include "../bench_util.h"

/* One round: n NOPs tagged base..base+n-1. Returns errors, or -errno. */
static int nop_round(struct io_uring *ring, uint64_t base, unsigned n)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct bench_batch b;
	unsigned i, head, seen = 0;
	int ret;

	for (i = 0; i < n; i++) {
		sqe = io_uring_get_sqe(ring);
		/* Cannot happen: the SQ is drained each round and n <= entries. */
		if (!sqe)
			return -EBUSY;
		io_uring_prep_nop(sqe);
		io_uring_sqe_set_data64(sqe, base + i);
	}
	ret = io_uring_submit_and_wait(ring, n);
	if (ret < 0)
		return ret;
	bench_batch_begin(&b, base, n);
	io_uring_for_each_cqe(ring, head, cqe) {
		bench_batch_cqe(&b, cqe->user_data, cqe->res, 0);
		seen++;
	}
	io_uring_cq_advance(ring, seen);
	return (int)bench_batch_end(&b) + ((unsigned)ret != n);
}

/* Rounds until the deadline; the clock is read once per round of n ops. */
static int nop_loop(struct io_uring *ring, uint64_t deadline, uint64_t max_rounds,
		    uint64_t *rounds, uint64_t *errors)
{
	uint64_t r;
	int ret;

	for (r = 0; r < max_rounds; r++) {
		ret = nop_round(ring, r * BENCH_NOP_BATCH, BENCH_NOP_BATCH);
		if (ret < 0)
			return ret;
		*errors += (uint64_t)ret;
		if (deadline && bench_now_ns() >= deadline) {
			r++;
			break;
		}
	}
	*rounds = r;
	return 0;
}

int bench_nop_liburing(const struct bench_nop_cfg *cfg, struct bench_nop_result *res)
{
	uint64_t rounds, start, elapsed;
	struct io_uring ring;
	int ret;

	*res = (struct bench_nop_result){ 0 };
	ret = io_uring_queue_init(cfg->entries, &ring, cfg->flags);
	if (ret < 0)
		return ret;
	/* Warm-up: fault in the rings and get the CPU out of idle states. */
	ret = nop_loop(&ring, 0, cfg->warmup_rounds, &rounds, &res->errors);
	if (ret < 0)
		goto out;
	start = bench_now_ns();
	ret = nop_loop(&ring, start + cfg->duration_ns, UINT64_MAX, &rounds, &res->errors);
	elapsed = bench_now_ns() - start;
	res->ops = rounds * BENCH_NOP_BATCH;
	res->ops_per_sec = (double)res->ops * (double)BENCH_NSEC_PER_SEC / (double)elapsed;
out:
	io_uring_queue_exit(&ring);
	return ret;
}
