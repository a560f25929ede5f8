/* SPDX-License-Identifier: MIT */
/*
 * NOP round trips through ringo's ring layer, and through liburing when it
 * is installed. Each round gets 64 SQEs, preps them as NOPs tagged with
 * user_data, submits them and waits for all 64 in one io_uring_enter, then
 * reaps every CQE (checking user_data and res == 0) and retires them. A NOP
 * does no I/O, so this measures exactly what a ring library adds: the SQE
 * and CQE handling in user space plus the submit call, with the kernel's
 * fixed cost on top. Both sides use their fastest idiomatic calls, the same
 * ring size and flags, and the same loop (see bench/peers/nop_liburing.c).
 *
 * To be fair on a small, noisy machine both sides first warm up, then run
 * for a fixed time each, alternately (ringo first in even rounds, liburing
 * first in odd ones, so a drift in clock speed hits both alike), and the
 * median of each side is reported. stdout gets one line:
 *
 *   ops_per_sec=N liburing_ops_per_sec=N ratio=R    (ratio = ringo/liburing)
 *   ops_per_sec=N liburing=absent                   (built without liburing)
 *
 * With --defer=1, the same pairs measured on SINGLE_ISSUER|DEFER_TASKRUN
 * rings follow on that line as defer_*. Any wrong or missing completion
 * makes the program exit 1.
 */
#include "config.h"

#include <stdio.h>

#include <ringo.h>

#include "bench_util.h"

#define MAX_ROUNDS 15

/* ---- The ringo side ---------------------------------------------------- */

/* One round: n NOPs tagged base..base+n-1. Returns errors, or -errno. */
static int nop_round(struct ringo_ring *ring, uint64_t base, unsigned n)
{
	struct ringo_sqe *sqe;
	struct ringo_cqe *cqe;
	struct bench_batch b;
	unsigned i, head, seen = 0;
	int ret;

	for (i = 0; i < n; i++) {
		sqe = ringo_ring_get_sqe(ring);
		/* Cannot happen: the SQ is drained each round and n <= entries. */
		if (!sqe)
			return -EBUSY;
		ringo_prep_nop(sqe);
		ringo_sqe_set_data64(sqe, base + i);
	}
	ret = ringo_ring_submit_and_wait(ring, n);
	if (ret < 0)
		return ret;
	bench_batch_begin(&b, base, n);
	ringo_ring_for_each_cqe(ring, head, cqe) {
		bench_batch_cqe(&b, cqe->user_data, cqe->res, 0);
		seen++;
	}
	ringo_ring_cq_advance(ring, seen);
	return (int)bench_batch_end(&b) + ((unsigned)ret != n);
}

/* Rounds until the deadline; the clock is read once per round of n ops. */
static int nop_loop(struct ringo_ring *ring, uint64_t deadline, uint64_t max_rounds,
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

static int bench_nop_ringo(const struct bench_nop_cfg *cfg, struct bench_nop_result *res)
{
	uint64_t rounds, start, elapsed;
	struct ringo_ring ring;
	int ret;

	*res = (struct bench_nop_result){ 0 };
	ret = ringo_ring_init(&ring, cfg->entries, cfg->flags);
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
	ringo_ring_exit(&ring);
	return ret;
}

/* ---- Interleaved runs -------------------------------------------------- */

typedef int (*nop_fn)(const struct bench_nop_cfg *cfg, struct bench_nop_result *res);

struct side {
	const char *name;
	nop_fn run;		/* NULL: not built in */
	double ops[MAX_ROUNDS];
	double median;
};

/* One run of one side; a timed run's rate goes to s->ops[i], i < 0 is warm-up. */
static int run_side(struct side *s, const struct bench_nop_cfg *cfg, int i, uint64_t *errors)
{
	struct bench_nop_result res;
	int ret;

	ret = s->run(cfg, &res);
	*errors += res.errors;
	if (ret < 0) {
		fprintf(stderr, "nop: %s (flags 0x%x): %s\n", s->name, cfg->flags,
			ringo_strerror(ret));
		return ret;
	}
	if (res.errors) {
		fprintf(stderr, "nop: %s: %llu bad completions\n", s->name,
			(unsigned long long)res.errors);
		return -EBADMSG;
	}
	if (i < 0) {
		fprintf(stderr, "nop: flags=0x%x warmup %-8s %.0f ops/s\n", cfg->flags, s->name,
			res.ops_per_sec);
		return 0;
	}
	s->ops[i] = res.ops_per_sec;
	fprintf(stderr, "nop: flags=0x%x run=%d  %-8s %.0f ops/s\n", cfg->flags, i, s->name,
		res.ops_per_sec);
	return 0;
}

/*
 * `rounds` timed runs of each side in s[0..n-1], alternating which goes
 * first, after one untimed warm-up run each of `warmup` duration.
 */
static int run_sides(struct side *s, unsigned n, const struct bench_nop_cfg *cfg,
		     unsigned rounds, uint64_t warmup, uint64_t *errors)
{
	struct bench_nop_cfg wcfg = *cfg;
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

/* Print one configuration's pairs; `prefix` tells configurations apart.
 * The ratio is the median of the rounds' own ratios. */
static void print_sides(struct bench_line *l, const char *prefix, const struct side *s,
			unsigned n, unsigned rounds)
{
	char key[64];

	snprintf(key, sizeof(key), "%sops_per_sec", prefix);
	bench_kv(l, key, "%.0f", s[0].median);
	if (n < 2)
		return;
	snprintf(key, sizeof(key), "%sliburing_ops_per_sec", prefix);
	bench_kv(l, key, "%.0f", s[1].median);
	snprintf(key, sizeof(key), "%sratio", prefix);
	bench_kv(l, key, "%.3f", bench_round_ratio(s[0].ops, s[1].ops, rounds));
}

static unsigned init_sides(struct side *s)
{
	unsigned n = 0;

	s[n++] = (struct side){ .name = "ringo", .run = bench_nop_ringo };
#ifdef HAVE_LIBURING
	s[n++] = (struct side){ .name = "liburing", .run = bench_nop_liburing };
#endif
	return n;
}

/* ---- main -------------------------------------------------------------- */

struct args {
	double seconds;
	double warmup;
	unsigned rounds;
	unsigned entries;
	unsigned defer;
};

static int parse(int argc, char **argv, struct args *a)
{
	const struct bench_opt opts[] = {
		{ "seconds", BENCH_OPT_DOUBLE, &a->seconds, "timed run length per side and round" },
		{ "warmup", BENCH_OPT_DOUBLE, &a->warmup, "untimed seconds per side first" },
		{ "rounds", BENCH_OPT_UINT, &a->rounds, "timed runs per side (median kept)" },
		{ "entries", BENCH_OPT_UINT, &a->entries, "ring size" },
		{ "defer", BENCH_OPT_UINT, &a->defer, "1: also SINGLE_ISSUER|DEFER_TASKRUN" },
	};
	int ret = bench_parse_args(argc, argv, opts, sizeof(opts) / sizeof(opts[0]));

	if (ret)
		return ret;
	if (!a->rounds || a->rounds > MAX_ROUNDS || a->entries < BENCH_NOP_BATCH ||
	    a->seconds <= 0) {
		fprintf(stderr, "nop: need 1 <= rounds <= %u, entries >= %u, seconds > 0\n",
			MAX_ROUNDS, BENCH_NOP_BATCH);
		return -EINVAL;
	}
	return 0;
}

/* No result line at all when a completion was wrong: the numbers are void. */
static int fail(uint64_t errors)
{
	if (errors)
		fprintf(stderr, "nop: %llu bad completions, aborting\n",
			(unsigned long long)errors);
	return 1;
}

int main(int argc, char **argv)
{
	struct args a = { .seconds = 1, .warmup = 0.2, .rounds = 3, .entries = 256 };
	struct bench_nop_cfg cfg = { .warmup_rounds = 256 };
	struct bench_line line = { 0 };
	struct side s[2];
	uint64_t errors = 0;
	unsigned n;
	int ret;

	ret = parse(argc, argv, &a);
	if (ret)
		return ret < 0 ? 2 : 0;
	cfg.entries = a.entries;
	cfg.duration_ns = bench_sec_to_ns(a.seconds);

	n = init_sides(s);
	ret = run_sides(s, n, &cfg, a.rounds, bench_sec_to_ns(a.warmup), &errors);
	if (ret < 0 || errors)
		return fail(errors);
	print_sides(&line, "", s, n, a.rounds);
	if (n < 2)
		bench_kv(&line, "liburing", "absent");

	if (a.defer) {
		/* Both sides or neither: a one-sided number compares nothing. */
		cfg.flags = RINGO_SETUP_SINGLE_ISSUER | RINGO_SETUP_DEFER_TASKRUN;
		n = init_sides(s);
		ret = run_sides(s, n, &cfg, a.rounds, bench_sec_to_ns(a.warmup), &errors);
		if (errors)
			return fail(errors);
		if (ret < 0)
			fprintf(stderr, "nop: skipping defer_*: not supported on both sides\n");
		else
			print_sides(&line, "defer_", s, n, a.rounds);
	}
	bench_line_end(&line);
	return 0;
}
