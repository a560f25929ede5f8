/* SPDX-License-Identifier: MIT */
/*
 * Sides of a benchmark run against each other in one process: ringo and
 * the peers built in (libuv, liburing), chosen with --only, run in
 * alternating order round after round so drift in the machine's speed
 * hits every side alike, their medians kept, and the one key=value line
 * printed with the ratios (medians of each round's ratio). Used by bench/fsread and bench/fsstat.
 */
#ifndef RINGO_BENCH_SIDES_H
#define RINGO_BENCH_SIDES_H

#include <stdio.h>
#include <string.h>

#include "bench_util.h"

#define BENCH_SIDES_MAX_ROUNDS 15

/* A peer's entry point for bench_sides_pick, NULL when it is not built. */
#ifdef HAVE_LIBUV
#define PEER_LIBUV(fn) ((const void *)(fn))
#else
#define PEER_LIBUV(fn) NULL
#endif
#ifdef HAVE_LIBURING
#define PEER_LIBURING(fn) ((const void *)(fn))
#else
#define PEER_LIBURING(fn) NULL
#endif
#define BENCH_SIDES_MAX 3

struct bench_side;

/*
 * Run one measurement of side `s` (round < 0: the warm-up, not kept):
 * fill *rate (ops/s) and *cpu_ns (process CPU per op), print a line about
 * it on stderr; 0, or -errno (a wrong result is -EBADMSG).
 */
typedef int (*bench_side_run_fn)(const struct bench_side *s, const void *cfg, int round,
				  double *rate, double *cpu_ns);

struct bench_side {
	const char *name;
	const void *impl;	/* the side's own entry point, for run */
	double rate[BENCH_SIDES_MAX_ROUNDS];
	double cpu[BENCH_SIDES_MAX_ROUNDS];	/* CPU ns per operation */
	double median, min, max, cpu_median;
	unsigned rounds;	/* rounds run: rate[] and cpu[] in round order */
};

/*
 * The sides built into this binary, ringo first; --only (1 ringo, 2
 * libuv, 3 liburing) keeps one. `impls` holds ringo's, libuv's and
 * liburing's entry points, NULL for a peer not built. 0: that peer is
 * not built.
 */
static inline unsigned bench_sides_pick(struct bench_side *s, const void *const impls[3],
					unsigned only)
{
	static const char *const names[3] = { "ringo", "libuv", "liburing" };
	unsigned n = 0, i;

	for (i = 0; i < 3; i++)
		if (impls[i] && (!i || !only || only == i + 1))
			s[n++] = (struct bench_side){ .name = names[i], .impl = impls[i] };
	if (only > 1) {
		if (n < 2)
			return 0;
		s[0] = s[1];
		n = 1;
	}
	return n;
}

/* A warm-up per side (if `warmup`), then `rounds` interleaved rounds. */
static inline int bench_sides_run(struct bench_side *s, unsigned n, bench_side_run_fn run,
				  const void *cfg, unsigned rounds, bool warmup, const char *tag,
				  const char *unit)
{
	double rate, cpu;
	unsigned r, k, j;
	int ret;

	for (k = 0; warmup && k < n; k++) {
		ret = run(&s[k], cfg, -1, &rate, &cpu);
		if (ret < 0)
			return ret;
	}
	for (r = 0; r < rounds; r++) {
		for (j = 0; j < n; j++) {
			k = r % 2 ? n - 1 - j : j;
			ret = run(&s[k], cfg, (int)r, &s[k].rate[r], &s[k].cpu[r]);
			if (ret < 0)
				return ret;
		}
	}
	for (k = 0; k < n; k++) {
		double sorted[BENCH_SIDES_MAX_ROUNDS], cpu[BENCH_SIDES_MAX_ROUNDS];

		/* rate[] and cpu[] stay in round order for the ratios. */
		memcpy(sorted, s[k].rate, rounds * sizeof(*sorted));
		memcpy(cpu, s[k].cpu, rounds * sizeof(*cpu));
		s[k].rounds = rounds;
		s[k].cpu_median = bench_median(cpu, rounds);
		s[k].median = bench_median(sorted, rounds);
		s[k].min = sorted[0];
		s[k].max = sorted[rounds - 1];
		fprintf(stderr, "%s: %-8s median %.0f %s, min %.0f, max %.0f; "
			"cpu %.0f ns/op (%.0f..%.0f)\n", tag, s[k].name, s[k].median, unit,
			s[k].min, s[k].max, s[k].cpu_median, cpu[0], cpu[rounds - 1]);
	}
	return 0;
}

static inline const struct bench_side *bench_side_find(const struct bench_side *s, unsigned n,
						       const char *name)
{
	unsigned k;

	for (k = 0; k < n; k++)
		if (!strcmp(s[k].name, name))
			return &s[k];
	return NULL;
}

/*
 * rate_key=ringo's median, then each peer's median (or "absent"),
 * ratio_PEER = ringo / peer, CPU ns per op, and cpu_ratio_PEER = peer's
 * CPU / ringo's (above 1: ringo is cheaper). Both ratios are the median of
 * the rounds' own ratios (bench_round_ratio), not ratios of medians.
 */
static inline void bench_sides_print(const struct bench_side *s, unsigned n,
				     const char *rate_key)
{
	static const char *const peers[] = { "libuv", "liburing" };
	struct bench_line line = { 0 };
	const struct bench_side *p;
	char key[32];
	unsigned i;

	bench_kv(&line, rate_key, "%.0f", s[0].median);
	for (i = 0; i < 2; i++) {
		p = bench_side_find(s, n, peers[i]);
		if (p)
			bench_kv(&line, peers[i], "%.0f", p->median);
		else
			bench_kv(&line, peers[i], "absent");
	}
	for (i = 0; i < 2; i++) {
		p = bench_side_find(s, n, peers[i]);
		snprintf(key, sizeof(key), "ratio_%s", peers[i]);
		if (p)
			bench_kv(&line, key, "%.3f", bench_round_ratio(s[0].rate, p->rate, s[0].rounds));
	}
	bench_kv(&line, "cpu_ns", "%.0f", s[0].cpu_median);
	for (i = 0; i < 2; i++) {
		p = bench_side_find(s, n, peers[i]);
		snprintf(key, sizeof(key), "%s_cpu_ns", peers[i]);
		if (p)
			bench_kv(&line, key, "%.0f", p->cpu_median);
	}
	for (i = 0; i < 2; i++) {
		p = bench_side_find(s, n, peers[i]);
		snprintf(key, sizeof(key), "cpu_ratio_%s", peers[i]);
		if (p)
			bench_kv(&line, key, "%.3f", bench_round_ratio(p->cpu, s[0].cpu, s[0].rounds));
	}
	bench_line_end(&line);
}

#endif
