/* SPDX-License-Identifier: MIT */
/*
 * The liburing peer of bench/fsstat.c: cfg->inflight io_uring_prep_statx
 * of cfg->path (AT_FDCWD, the STATX_BASIC_STATS | STATX_BTIME mask ringo
 * and libuv ask for), each into its slot's struct statx; every round is one
 * io_uring_submit_and_wait(ring, 1), then io_uring_for_each_cqe checks each
 * result and queues the slot's next stat until cfg->count were queued, and
 * one io_uring_cq_advance retires the batch. The ring gets the sizes and
 * setup flags of ringo's loop ring. An untimed tenth of the count runs
 * first (the kernel's io-wq workers start then).
 */
#include "config.h"

#include <fcntl.h>
#include <liburing.h>
#include <sys/stat.h>

#include "../bench_fs.h"

struct slot {
	struct statx stx;
};

struct run {
	struct io_uring ring;
	const struct bench_fsstat_cfg *cfg;
	struct slot *slots;
	unsigned count;
	unsigned started;
	unsigned done;
	uint64_t errors;
};

static int queue_stat(struct run *r, struct slot *s)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);

	/* Cannot happen: at most cfg->inflight <= entries SQEs are pending. */
	if (!sqe)
		return -EBUSY;
	io_uring_prep_statx(sqe, AT_FDCWD, r->cfg->path, 0, STATX_BASIC_STATS | STATX_BTIME,
			    &s->stx);
	io_uring_sqe_set_data(sqe, s);
	r->started++;
	return 0;
}

static bool good(struct run *r, const struct io_uring_cqe *cqe, const struct slot *s)
{
	return s >= r->slots && s < r->slots + r->cfg->inflight && cqe->res == 0 &&
	       s->stx.stx_ino == r->cfg->ino && s->stx.stx_size == r->cfg->size &&
	       S_ISREG(s->stx.stx_mode);
}

/* `count` stats; ns it took, or -errno. */
static int64_t phase(struct run *r, unsigned count)
{
	uint64_t start = bench_now_ns();
	struct io_uring_cqe *cqe;
	unsigned i, head, seen;
	struct slot *s;
	int ret;

	r->count = count;
	r->started = r->done = 0;
	for (i = 0; i < r->cfg->inflight && i < count; i++) {
		ret = queue_stat(r, &r->slots[i]);
		if (ret < 0)
			return ret;
	}
	while (r->done < r->started) {
		ret = io_uring_submit_and_wait(&r->ring, 1);
		if (ret < 0 && ret != -EINTR)
			return ret;
		seen = 0;
		io_uring_for_each_cqe(&r->ring, head, cqe) {
			seen++;
			r->done++;
			s = io_uring_cqe_get_data(cqe);
			if (!good(r, cqe, s)) {
				r->errors++;
				continue;
			}
			if (r->started < r->count) {
				ret = queue_stat(r, s);
				if (ret < 0)
					return ret;
			}
		}
		io_uring_cq_advance(&r->ring, seen);
	}
	if (r->done != count)
		r->errors++;
	return (int64_t)(bench_now_ns() - start);
}

int bench_fsstat_liburing(const struct bench_fsstat_cfg *cfg, struct bench_fsstat_result *res)
{
	struct io_uring_params p;
	struct run *r;
	uint64_t cpu = 0;
	int64_t ns;
	int ret;

	*res = (struct bench_fsstat_result){ 0 };
	if (!cfg->inflight || cfg->inflight > cfg->entries)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->cfg = cfg;
	r->slots = calloc(cfg->inflight, sizeof(*r->slots));
	if (!r->slots) {
		free(r);
		return -ENOMEM;
	}
	memset(&p, 0, sizeof(p));
	p.flags = cfg->ring_flags;
	if (cfg->cq_entries) {
		p.flags |= IORING_SETUP_CQSIZE;
		p.cq_entries = cfg->cq_entries;
	}
	ret = io_uring_queue_init_params(cfg->entries, &r->ring, &p);
	if (ret < 0)
		goto out_free;
	ns = phase(r, cfg->count / 10 + 1);
	if (ns >= 0) {
		cpu = bench_cpu_ns();
		ns = phase(r, cfg->count);
		cpu = bench_cpu_ns() - cpu;
	}
	if (ns < 0) {
		ret = (int)ns;
	} else {
		res->stats = r->done;
		res->stats_per_sec = (double)r->done * (double)BENCH_NSEC_PER_SEC / (double)ns;
		res->cpu_ns = r->done ? (double)cpu / (double)r->done : 0;
	}
	io_uring_queue_exit(&r->ring);
out_free:
	res->errors = r->errors;
	free(r->slots);
	free(r);
	return ret;
}
