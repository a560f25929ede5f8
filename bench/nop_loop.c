/* SPDX-License-Identifier: MIT */
/*
 * NOPs through the whole loop, against the same workload on raw liburing.
 *
 * ringo side: `inflight` (64) ringo_raw_t requests each start a ringo_nop;
 * every callback checks res == 0 and resubmits its own request with
 * ringo_nop until the deadline, and ringo_run(RINGO_RUN_DEFAULT) returns
 * once the last ones have drained. So every completion pays for the whole
 * proactor path: id table insert and lookup/removal, the record free list,
 * ringo_nop's argument checks, dispatch through the record's callback, and
 * the loop iteration (one io_uring_enter per iteration).
 *
 * liburing side (bench/peers/nop_loop_liburing.c): the same 64 NOPs, reaped
 * with io_uring_for_each_cqe and resubmitted one per completion, one
 * io_uring_submit_and_wait(ring, 1) per round: a hand-written loop. Its ring
 * gets the SQ/CQ sizes and setup flags ringo's loop ring got, but for
 * NO_SQARRAY: Debian 12's liburing (2.3) fills the SQ index array, which
 * that flag removes; newer liburing releases ask for it by default, as
 * ringo does. ring_flags= shows what ringo's ring got.
 *
 * Both sides read the clock once per 64 completions, warm up on the fresh
 * ring, then run for --seconds; runs alternate (ringo first in even rounds,
 * liburing first in odd ones). Each side's rate is the median of --rounds
 * runs; the ratio is the median of the rounds' own ratios.
 *
 * Separately, the id table's cost per op is measured in isolation: a
 * HASH_FIND + HASH_DELETE + HASH_ADD per completion-and-resubmit, over a
 * sliding window of 64 live sequential ids with a sentinel record in the
 * table. Once with ringo's HASH_FUNCTION (loop_internal.h), once with
 * uthash's default (Jenkins), and the bare hash functions alone. These are
 * uthash's standard macros: the loop itself adds and deletes on the bucket
 * chains only (loop/op_hot.h), which costs somewhat less.
 *
 * stdout gets one line:
 *   ops_per_sec=N liburing_ops_per_sec=N ratio=R hash_ns_per_op=X
 *   jen_hash_ns_per_op=X hash_fn_ns=X jen_fn_ns=X hash_share=S ops_per_iter=X
 *   ring_flags=0xF
 * (ratio = ringo/liburing; hash_share = hash_ns_per_op / ringo's ns per op).
 * Without liburing: liburing=absent instead of the liburing pair and ratio.
 * Any wrong or missing completion makes the program exit 1 with no line.
 */
#include "config.h"

#include <stdio.h>

#include <ringo.h>

#include "bench_util.h"
#include "loop_internal.h"

#define MAX_ROUNDS 15
#define MAX_INFLIGHT 4096

/* ---- The ringo side ---------------------------------------------------- */

struct nl_req {
	ringo_raw_t raw;
	uint64_t completions;
};

struct nl_run {
	ringo_loop_t loop;
	struct nl_req reqs[MAX_INFLIGHT];
	unsigned n;
	bool stopping;
	uint64_t deadline;
	uint64_t done;		/* callbacks in this phase */
	uint64_t submitted;	/* ringo_nop calls that succeeded in this phase */
	uint64_t errors;
	uint64_t iterations;	/* loop iterations in this phase */
};

/* Completions per loop iteration in the last timed ringo run. */
static double ringo_ops_per_iter;

static void nop_cb(ringo_raw_t *raw, int res, unsigned flags)
{
	struct nl_run *r = raw->data;
	struct nl_req *req = container_of(raw, struct nl_req, raw);

	if (res != 0 || (flags & RINGO_CQE_F_MORE) || req < r->reqs || req >= r->reqs + r->n) {
		r->errors++;
		return;
	}
	req->completions++;
	r->done++;
	if (!r->stopping && bench_loop_expired(r->done, r->deadline))
		r->stopping = true;
	if (r->stopping)
		return;
	if (ringo_nop(&r->loop, raw, nop_cb) < 0)
		r->errors++;
	else
		r->submitted++;
}

/* One phase on r->loop: n NOPs in flight until the deadline, then drain. */
static int nl_phase(struct nl_run *r, uint64_t deadline)
{
	struct ringo_loop_metrics m0, m1;
	unsigned i;
	int ret;

	r->stopping = false;
	r->deadline = deadline;
	r->done = r->submitted = 0;
	ringo_loop_metrics(&r->loop, &m0);
	for (i = 0; i < r->n; i++) {
		r->reqs[i].raw.data = r;
		ret = ringo_nop(&r->loop, &r->reqs[i].raw, nop_cb);
		if (ret < 0)
			return ret;
		r->submitted++;
	}
	ret = ringo_run(&r->loop, RINGO_RUN_DEFAULT);
	if (ret < 0)
		return ret;
	ringo_loop_metrics(&r->loop, &m1);
	r->iterations = m1.iterations - m0.iterations;
	/* Nothing left alive, one callback per NOP, each CQE found its record. */
	if (ret != 0 || r->done != r->submitted || m1.completions - m0.completions != r->done ||
	    m1.stale_cqes != m0.stale_cqes)
		r->errors++;
	return 0;
}

static int loop_opts_init(ringo_loop_t *loop, const struct bench_loop_cfg *cfg)
{
	struct ringo_loop_opts o;

	ringo_loop_opts_init(&o);
	o.entries = cfg->entries;
	return ringo_loop_init(loop, &o);
}

static int bench_nop_loop_ringo(const struct bench_loop_cfg *cfg, struct bench_loop_result *res)
{
	uint64_t start, elapsed, total = 0;
	struct nl_run *r;
	unsigned i;
	int ret;

	*res = (struct bench_loop_result){ 0 };
	if (!cfg->inflight || cfg->inflight > MAX_INFLIGHT || cfg->inflight > cfg->entries)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->n = cfg->inflight;
	ret = loop_opts_init(&r->loop, cfg);
	if (ret < 0) {
		free(r);
		return ret;
	}
	/* Warm-up: enables the ring, faults in records, slabs and table. */
	ret = nl_phase(r, bench_now_ns() + cfg->warmup_ns);
	if (ret < 0)
		goto out;
	total += r->done;
	start = bench_now_ns();
	ret = nl_phase(r, start + cfg->duration_ns);
	elapsed = bench_now_ns() - start;
	if (ret < 0)
		goto out;
	total += r->done;
	res->ops = r->done;
	res->ops_per_sec = (double)res->ops * (double)BENCH_NSEC_PER_SEC / (double)elapsed;
	ringo_ops_per_iter = r->iterations ? (double)r->done / (double)r->iterations : 0;
	for (i = 0; i < r->n; i++)
		total -= r->reqs[i].completions;
	if (total)
		r->errors++;
out:
	res->errors = r->errors;
	if (ringo_loop_close(&r->loop) < 0)
		res->errors++;
	free(r);
	return ret;
}

/* The setup the loop's ring really got, for the liburing peer to copy. */
static int probe_loop_ring(struct bench_loop_cfg *cfg, unsigned *ring_flags)
{
	const unsigned copy = RINGO_SETUP_SINGLE_ISSUER | RINGO_SETUP_DEFER_TASKRUN |
			      RINGO_SETUP_COOP_TASKRUN | RINGO_SETUP_TASKRUN_FLAG;
	struct ringo_ring *ring;
	ringo_loop_t loop;
	int ret;

	ret = loop_opts_init(&loop, cfg);
	if (ret < 0)
		return ret;
	ring = ringo_loop_ring(&loop);
	*ring_flags = ring->flags;
	cfg->flags = ring->flags & copy;
	cfg->entries = ring->sq.ring_entries;
	cfg->cq_entries = ring->cq.ring_entries;
	ringo_loop_close(&loop);
	return 0;
}

/* ---- The id table in isolation ---------------------------------------- */

#define HASH_WINDOW 64

/*
 * What one completion-and-resubmit does to the table: find the finished
 * id, delete its record, add the record again under the next id. n ids,
 * HASH_WINDOW live at a time plus the sentinel. Returns ns per id, and
 * counts lookups that missed in *errors. Expanded once per hash function:
 * HASH_FUNCTION is looked up where the macro is expanded.
 */
#define DEFINE_TABLE_BENCH(fn)                                                                 \
	static double fn(uint64_t n, uint64_t *errors)                                         \
	{                                                                                      \
		static struct ringo__op recs[HASH_WINDOW];                                     \
		struct ringo__op *head = NULL, sentinel, *op;                                  \
		uint64_t id, old, t0, t1;                                                      \
                                                                                               \
		memset(&sentinel, 0, sizeof(sentinel));                                        \
		memset(recs, 0, sizeof(recs));                                                 \
		sentinel.id = RINGO__ID_SENTINEL;                                              \
		HASH_ADD(hh, head, id, sizeof(uint64_t), &sentinel);                           \
		for (id = RINGO__ID_FIRST; id < RINGO__ID_FIRST + HASH_WINDOW; id++) {         \
			recs[id % HASH_WINDOW].id = id;                                        \
			HASH_ADD(hh, head, id, sizeof(uint64_t), &recs[id % HASH_WINDOW]);     \
		}                                                                              \
		t0 = bench_now_ns();                                                           \
		for (; id < RINGO__ID_FIRST + HASH_WINDOW + n; id++) {                         \
			old = id - HASH_WINDOW;                                                \
			HASH_FIND(hh, head, &old, sizeof(uint64_t), op);                       \
			if (op != &recs[old % HASH_WINDOW]) {                                  \
				(*errors)++;                                                   \
				break;                                                         \
			}                                                                      \
			HASH_DELETE(hh, head, op);                                             \
			op->id = id;                                                           \
			HASH_ADD(hh, head, id, sizeof(uint64_t), op);                          \
		}                                                                              \
		t1 = bench_now_ns();                                                           \
		if (HASH_COUNT(head) != HASH_WINDOW + 1)                                       \
			(*errors)++;                                                           \
		HASH_CLEAR(hh, head);                                                          \
		return (double)(t1 - t0) / (double)n;                                          \
	}

/* The bare hash function on n sequential ids; ns per call. */
#define DEFINE_FN_BENCH(fn)                                                                    \
	static double fn(uint64_t n, unsigned *sink)                                           \
	{                                                                                      \
		uint64_t id, t0, t1;                                                           \
		unsigned hashv, acc = 0;                                                       \
                                                                                               \
		t0 = bench_now_ns();                                                           \
		for (id = RINGO__ID_FIRST; id < RINGO__ID_FIRST + n; id++) {                   \
			uint64_t key = id;                                                     \
			/* Keep the compiler from vectorising or folding the loop. */          \
			__asm__ volatile("" : "+r"(key));                                      \
			HASH_FUNCTION(&key, sizeof(key), hashv);                               \
			acc += hashv;                                                          \
		}                                                                              \
		t1 = bench_now_ns();                                                           \
		*sink += acc;                                                                  \
		return (double)(t1 - t0) / (double)n;                                          \
	}

/* ringo's HASH_FUNCTION and HASH_KEYCMP, from loop_internal.h. */
DEFINE_TABLE_BENCH(table_ns_ringo)
DEFINE_FN_BENCH(fn_ns_ringo)

/* uthash's default: Jenkins over the 8 key bytes. */
#undef HASH_FUNCTION
#define HASH_FUNCTION(keyptr, keylen, hashv) HASH_JEN(keyptr, keylen, hashv)
DEFINE_TABLE_BENCH(table_ns_jen)
DEFINE_FN_BENCH(fn_ns_jen)

/* The hash sums go here, so the loops computing them are not dropped. */
static volatile unsigned hash_sink;

struct hash_result {
	double table_ns, jen_table_ns, fn_ns, jen_fn_ns;
};

/* Medians of `reps` runs of each, interleaved. */
static int hash_bench(uint64_t n, unsigned reps, struct hash_result *h)
{
	double t[4][MAX_ROUNDS];
	uint64_t errors = 0;
	unsigned i, sink = 0;

	/* Untimed first pass: page in, settle the clock. */
	table_ns_ringo(n / 4 + 1, &errors);
	table_ns_jen(n / 4 + 1, &errors);
	for (i = 0; i < reps; i++) {
		t[0][i] = table_ns_ringo(n, &errors);
		t[1][i] = table_ns_jen(n, &errors);
		t[2][i] = fn_ns_ringo(n, &sink);
		t[3][i] = fn_ns_jen(n, &sink);
	}
	h->table_ns = bench_median(t[0], reps);
	h->jen_table_ns = bench_median(t[1], reps);
	h->fn_ns = bench_median(t[2], reps);
	h->jen_fn_ns = bench_median(t[3], reps);
	hash_sink = sink;
	fprintf(stderr, "nop-loop: id table %.2f ns/op (jenkins %.2f), hash fn %.2f ns (jenkins %.2f)\n",
		h->table_ns, h->jen_table_ns, h->fn_ns, h->jen_fn_ns);
	if (errors) {
		fprintf(stderr, "nop-loop: id table lookups failed (%llu)\n",
			(unsigned long long)errors);
		return -EBADMSG;
	}
	return 0;
}

/* ---- Interleaved runs -------------------------------------------------- */

typedef int (*loop_fn)(const struct bench_loop_cfg *cfg, struct bench_loop_result *res);

struct side {
	const char *name;
	loop_fn run;
	double ops[MAX_ROUNDS];
	double median;
};

/* One run of one side; a timed run's rate goes to s->ops[i], i < 0 is warm-up. */
static int run_side(struct side *s, const struct bench_loop_cfg *cfg, int i, uint64_t *errors)
{
	struct bench_loop_result res;
	int ret;

	ret = s->run(cfg, &res);
	*errors += res.errors;
	if (ret < 0) {
		fprintf(stderr, "nop-loop: %s (flags 0x%x): %s\n", s->name, cfg->flags,
			ringo_strerror(ret));
		return ret;
	}
	if (res.errors) {
		fprintf(stderr, "nop-loop: %s: %llu bad completions\n", s->name,
			(unsigned long long)res.errors);
		return -EBADMSG;
	}
	if (i < 0) {
		fprintf(stderr, "nop-loop: warmup %-8s %.0f ops/s\n", s->name, res.ops_per_sec);
		return 0;
	}
	s->ops[i] = res.ops_per_sec;
	fprintf(stderr, "nop-loop: run=%d  %-8s %.0f ops/s (%llu ops)\n", i, s->name,
		res.ops_per_sec, (unsigned long long)res.ops);
	return 0;
}

static int run_sides(struct side *s, unsigned n, const struct bench_loop_cfg *cfg,
		     unsigned rounds, uint64_t warmup, uint64_t *errors)
{
	struct bench_loop_cfg wcfg = *cfg;
	unsigned r, k, j;
	int ret;

	wcfg.duration_ns = warmup;
	for (k = 0; k < n; k++) {
		ret = run_side(&s[k], &wcfg, -1, errors);
		if (ret < 0)
			return ret;
	}
	for (r = 0; r < rounds; r++) {
		for (j = 0; j < n; j++) {
			k = r % 2 ? n - 1 - j : j;
			ret = run_side(&s[k], cfg, (int)r, errors);
			if (ret < 0)
				return ret;
		}
	}
	for (k = 0; k < n; k++)
		s[k].median = bench_median_of(s[k].ops, rounds);
	return 0;
}

/* ---- main -------------------------------------------------------------- */

struct args {
	double seconds;
	double warmup;
	unsigned rounds;
	unsigned entries;
	unsigned inflight;
	unsigned hash_ids;
	unsigned only;
};

static int parse(int argc, char **argv, struct args *a)
{
	const struct bench_opt opts[] = {
		{ "seconds", BENCH_OPT_DOUBLE, &a->seconds, "timed run length per side and round" },
		{ "warmup", BENCH_OPT_DOUBLE, &a->warmup, "untimed seconds per run (and once per side first)" },
		{ "rounds", BENCH_OPT_UINT, &a->rounds, "timed runs per side (median kept)" },
		{ "entries", BENCH_OPT_UINT, &a->entries, "SQ size of both rings" },
		{ "inflight", BENCH_OPT_UINT, &a->inflight, "NOPs kept in flight" },
		{ "hash-ids", BENCH_OPT_UINT, &a->hash_ids, "ids per id-table measurement" },
		{ "only", BENCH_OPT_UINT, &a->only, "1: ringo side only, 2: liburing only (profiling)" },
	};
	int ret = bench_parse_args(argc, argv, opts, sizeof(opts) / sizeof(opts[0]));

	if (ret)
		return ret;
	if (!a->rounds || a->rounds > MAX_ROUNDS || !a->inflight || a->inflight > MAX_INFLIGHT ||
	    a->inflight > a->entries || a->seconds <= 0 || a->warmup < 0 || !a->hash_ids || a->only > 2) {
		fprintf(stderr,
			"nop-loop: need 1 <= rounds <= %u, 1 <= inflight <= min(entries, %u), "
			"seconds > 0, warmup >= 0, hash-ids > 0, only <= 2\n",
			MAX_ROUNDS, MAX_INFLIGHT);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct args a = { .seconds = 1, .warmup = 0.2, .rounds = 5, .entries = 256,
			  .inflight = 64, .hash_ids = 4000000 };
	struct bench_loop_cfg cfg = { 0 };
	struct bench_line line = { 0 };
	struct hash_result h;
	struct side s[2];
	uint64_t errors = 0;
	unsigned n = 0, ring_flags = 0;
	int ret;

	ret = parse(argc, argv, &a);
	if (ret)
		return ret < 0 ? 2 : 0;
	cfg.entries = a.entries;
	cfg.inflight = a.inflight;
	cfg.warmup_ns = bench_sec_to_ns(a.warmup);
	cfg.duration_ns = bench_sec_to_ns(a.seconds);
	ret = probe_loop_ring(&cfg, &ring_flags);
	if (ret < 0) {
		fprintf(stderr, "nop-loop: ringo_loop_init: %s\n", ringo_strerror(ret));
		return 1;
	}
	fprintf(stderr, "nop-loop: ring flags 0x%x, sq %u, cq %u, %u in flight\n", ring_flags,
		cfg.entries, cfg.cq_entries, cfg.inflight);

	s[n++] = (struct side){ .name = "ringo", .run = bench_nop_loop_ringo };
#ifdef HAVE_LIBURING
	s[n++] = (struct side){ .name = "liburing", .run = bench_nop_loop_liburing };
#endif
	if (a.only) {
		/* One side alone, for a profiler: no comparison, no table. */
		if (a.only > n) {
			fprintf(stderr, "nop-loop: liburing side not built\n");
			return 2;
		}
		s[0] = s[a.only - 1];
		ret = run_sides(s, 1, &cfg, a.rounds, cfg.warmup_ns, &errors);
		if (ret < 0 || errors)
			return 1;
		bench_kv(&line, a.only == 1 ? "ops_per_sec" : "liburing_ops_per_sec", "%.0f",
			 s[0].median);
		bench_line_end(&line);
		return 0;
	}
	ret = run_sides(s, n, &cfg, a.rounds, cfg.warmup_ns, &errors);
	if (ret < 0 || errors) {
		if (errors)
			fprintf(stderr, "nop-loop: %llu bad completions, aborting\n",
				(unsigned long long)errors);
		return 1;
	}
	if (hash_bench(a.hash_ids, a.rounds, &h) < 0)
		return 1;

	bench_kv(&line, "ops_per_sec", "%.0f", s[0].median);
	if (n > 1) {
		bench_kv(&line, "liburing_ops_per_sec", "%.0f", s[1].median);
		bench_kv(&line, "ratio", "%.3f", bench_round_ratio(s[0].ops, s[1].ops, a.rounds));
	} else {
		bench_kv(&line, "liburing", "absent");
	}
	bench_kv(&line, "hash_ns_per_op", "%.2f", h.table_ns);
	bench_kv(&line, "jen_hash_ns_per_op", "%.2f", h.jen_table_ns);
	bench_kv(&line, "hash_fn_ns", "%.2f", h.fn_ns);
	bench_kv(&line, "jen_fn_ns", "%.2f", h.jen_fn_ns);
	bench_kv(&line, "hash_share", "%.3f",
		 s[0].median > 0 ? h.table_ns * s[0].median / (double)BENCH_NSEC_PER_SEC : 0);
	bench_kv(&line, "ops_per_iter", "%.1f", ringo_ops_per_iter);
	bench_kv(&line, "ring_flags", "0x%x", ring_flags);
	bench_line_end(&line);
	return 0;
}
