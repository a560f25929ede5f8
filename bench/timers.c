/* SPDX-License-Identifier: MIT */
/*
 * A million timers: libuv's million_timers shape through ringo, and through
 * libuv and libev when they are installed (bench/peers/timers_*.c).
 *
 * Workload (bench_util.h): --timers (1M) one-shot timers, timer i due in
 * i % --spread ms (1000 distinct deadlines, 0..999 ms, neighbours
 * interleaved; --monotone=1 gives libuv's original ascending blocks
 * instead). All are initialised and started, the loop runs until every one
 * has fired (each callback counts), then every handle is closed and the
 * loop runs again for the close callbacks (counted too). The timers array
 * is calloc'd per run, so it is in everybody's RSS, at each library's own
 * handle size.
 *
 * The wall time is bound by the last deadline (about 1 s for everyone), so
 * what is compared is CPU and memory:
 *   start_s  CPU seconds (getrusage user+sys) of the init+start loop;
 *   cpu_s    CPU seconds of start + run + close + run again (loop set-up
 *            and teardown excluded);
 *   rss_kb   the process's peak RSS (ru_maxrss) at the end.
 * Each library runs in a process of its own (this program re-executed with
 * --peer=ringo|libuv|libev), so its peak RSS and heap are its own. The
 * child prints one line of its numbers on a pipe; any callback missing
 * makes it, and then this program, exit 1 with no result line.
 *
 * Every library runs --rounds times (3), rotating which goes first, and the
 * median of each number is kept. stdout gets one line:
 *
 *   start_s=S cpu_s=C rss_kb=K libuv_start_s=S libuv_cpu_s=C libuv_rss_kb=K
 *   libev_start_s=S libev_cpu_s=C libev_rss_kb=K ratio=R libev_ratio=R
 *
 * ratio = ringo cpu_s / libuv cpu_s, libev_ratio = ringo cpu_s / libev
 * cpu_s; a peer not built in shows as libuv=absent / libev=absent (and its
 * ratio is left out). Handle sizes and per-run numbers go to stderr, and
 * so does where each side's memory went: RSS after its loop init, after
 * the calloc (no change: untouched pages), after every init+start, and the
 * peak, with bytes per timer against the handle's own size. libev's peak
 * moves with the load: the more timers expire in one iteration, the
 * larger its pending array grows during ev_run (its started_kb is its
 * floor).
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ringo.h>

#include "bench_util.h"

#define MAX_ROUNDS 15
#define MAX_SIDES 3

/* ---- The ringo side ---------------------------------------------------- */

static uint64_t ringo_fired, ringo_closed;

static void on_timer(ringo_timer_t *t)
{
	(void)t;
	ringo_fired++;
}

static void on_close(ringo_handle_t *h)
{
	(void)h;
	ringo_closed++;
}

static int bench_timers_ringo(const struct bench_timers_cfg *cfg, struct bench_timers_result *res)
{
	struct ringo_loop_metrics m;
	ringo_timer_t *timers;
	ringo_loop_t loop;
	double c0, c1, cr, c2;
	uint64_t w0, w2;
	unsigned i;
	int ret;

	*res = (struct bench_timers_result){ .handle_size = sizeof(ringo_timer_t) };
	ret = ringo_loop_init(&loop, NULL);
	if (ret)
		return ret;
	res->rss_loop_kb = bench_cur_rss_kb();
	timers = calloc(cfg->count, sizeof(*timers));
	if (!timers)
		return -ENOMEM;
	res->rss_alloc_kb = bench_cur_rss_kb();

	c0 = bench_cpu_s();
	w0 = bench_now_ns();
	for (i = 0; i < cfg->count; i++) {
		ret = ringo_timer_init(&loop, &timers[i]);
		if (!ret)
			ret = ringo_timer_start(&timers[i], on_timer,
						(int64_t)bench_timers_timeout(cfg, i), 0);
		if (ret)
			return ret;
	}
	c1 = bench_cpu_s();
	res->rss_started_kb = bench_cur_rss_kb();
	ret = ringo_run(&loop, RINGO_RUN_DEFAULT);
	if (ret)
		return ret < 0 ? ret : -EBUSY;
	cr = bench_cpu_s();
	for (i = 0; i < cfg->count; i++) {
		ret = ringo_close((ringo_handle_t *)&timers[i], on_close);
		if (ret)
			return ret;
	}
	ret = ringo_run(&loop, RINGO_RUN_DEFAULT);
	if (ret)
		return ret < 0 ? ret : -EBUSY;
	c2 = bench_cpu_s();
	w2 = bench_now_ns();

	res->start_s = c1 - c0;
	res->cpu_s = c2 - c0;
	res->run_s = cr - c1;
	res->wall_s = (double)(w2 - w0) / (double)BENCH_NSEC_PER_SEC;
	res->fired = ringo_fired;
	res->closed = ringo_closed;
	if (!ringo_loop_metrics(&loop, &m))
		res->iterations = m.iterations;
	ret = ringo_loop_close(&loop);
	free(timers);
	return ret;
}

/* ---- The sides --------------------------------------------------------- */

typedef int (*timers_fn)(const struct bench_timers_cfg *cfg, struct bench_timers_result *res);

struct side {
	const char *name;
	timers_fn run;
	double start_s[MAX_ROUNDS];
	double cpu_s[MAX_ROUNDS];
	double rss_kb[MAX_ROUNDS];
	double rss_loop_kb[MAX_ROUNDS];
	double rss_alloc_kb[MAX_ROUNDS];
	double rss_started_kb[MAX_ROUNDS];
	size_t handle_size;
};

static unsigned init_sides(struct side *s)
{
	unsigned n = 0;

	s[n++] = (struct side){ .name = "ringo", .run = bench_timers_ringo };
#ifdef HAVE_LIBUV
	s[n++] = (struct side){ .name = "libuv", .run = bench_timers_libuv };
#endif
#ifdef HAVE_LIBEV
	s[n++] = (struct side){ .name = "libev", .run = bench_timers_libev };
#endif
	return n;
}

static struct side *find_side(struct side *s, unsigned n, const char *name)
{
	unsigned k;

	for (k = 0; k < n; k++)
		if (!strcmp(s[k].name, name))
			return &s[k];
	return NULL;
}

/* ---- Child: one library, one run --------------------------------------- */

/*
 * The line a child prints. rss_kb is read last, after the loop and the
 * timers are freed: ru_maxrss is a peak, so that changes nothing.
 */
static int run_peer(const struct side *s, const struct bench_timers_cfg *cfg)
{
	struct bench_timers_result res;
	int ret = s->run(cfg, &res);

	if (ret < 0) {
		fprintf(stderr, "timers: %s: %s\n", s->name, strerror(-ret));
		return 1;
	}
	if (res.fired != cfg->count || res.closed != cfg->count) {
		fprintf(stderr, "timers: %s: %llu of %u callbacks, %llu of %u closes\n", s->name,
			(unsigned long long)res.fired, cfg->count, (unsigned long long)res.closed,
			cfg->count);
		return 1;
	}
	printf("peer=%s start_s=%.6f run_s=%.6f cpu_s=%.6f wall_s=%.6f rss_kb=%ld "
	       "handle_size=%zu iterations=%llu rss_loop_kb=%ld rss_alloc_kb=%ld "
	       "rss_started_kb=%ld\n",
	       s->name, res.start_s, res.run_s, res.cpu_s, res.wall_s, bench_max_rss_kb(),
	       res.handle_size, (unsigned long long)res.iterations, res.rss_loop_kb,
	       res.rss_alloc_kb, res.rss_started_kb);
	fflush(stdout);
	return 0;
}

/* ---- Parent: re-execute self per library and run ----------------------- */

/* Run `./bench/timers --peer=NAME ...` with stdout on a pipe; read its line. */
static int spawn_peer(const struct side *s, const struct bench_timers_cfg *cfg, char *line,
		      size_t size)
{
	char peer[32], count[32], spread[32], mono[32];
	char *argv[] = { "timers", peer, count, spread, mono, NULL };
	size_t len = 0;
	ssize_t r;
	int fds[2], status;
	pid_t pid;

	snprintf(peer, sizeof(peer), "--peer=%s", s->name);
	snprintf(count, sizeof(count), "--timers=%u", cfg->count);
	snprintf(spread, sizeof(spread), "--spread=%u", cfg->spread_ms);
	snprintf(mono, sizeof(mono), "--monotone=%u", cfg->monotone);
	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (dup2(fds[1], STDOUT_FILENO) < 0)
			_exit(127);
		execv("/proc/self/exe", argv);
		fprintf(stderr, "timers: exec /proc/self/exe: %s\n", strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	while (len + 1 < size && (r = read(fds[0], line + len, size - 1 - len)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		len += (size_t)r;
	}
	line[len] = '\0';
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return -ECHILD;
	return 0;
}

static int run_round(struct side *s, const struct bench_timers_cfg *cfg, unsigned r)
{
	char line[512], name[16];
	unsigned long long iters;
	double start, run, cpu, wall;
	size_t hsize;
	long rss, rloop, ralloc, rstarted;
	int ret;

	ret = spawn_peer(s, cfg, line, sizeof(line));
	if (ret < 0) {
		fprintf(stderr, "timers: %s run %u failed\n", s->name, r);
		return ret;
	}
	if (sscanf(line,
		   "peer=%15s start_s=%lf run_s=%lf cpu_s=%lf wall_s=%lf rss_kb=%ld "
		   "handle_size=%zu iterations=%llu rss_loop_kb=%ld rss_alloc_kb=%ld "
		   "rss_started_kb=%ld",
		   name, &start, &run, &cpu, &wall, &rss, &hsize, &iters, &rloop, &ralloc,
		   &rstarted) != 11 ||
	    strcmp(name, s->name)) {
		fprintf(stderr, "timers: %s run %u: bad line '%s'\n", s->name, r, line);
		return -EBADMSG;
	}
	s->start_s[r] = start;
	s->cpu_s[r] = cpu;
	s->rss_kb[r] = (double)rss;
	s->rss_loop_kb[r] = (double)rloop;
	s->rss_alloc_kb[r] = (double)ralloc;
	s->rss_started_kb[r] = (double)rstarted;
	s->handle_size = hsize;
	/* close_s: CPU of closing every handle and the run for close callbacks */
	fprintf(stderr, "timers: run=%u %-6s start_s=%.3f run_s=%.3f close_s=%.3f cpu_s=%.3f "
			"wall_s=%.3f rss_kb=%ld iterations=%llu loop_kb=%ld alloc_kb=%ld started_kb=%ld\n",
		r, s->name, start, run, cpu - start - run, cpu, wall, rss, iters, rloop, ralloc,
		rstarted);
	return 0;
}

/*
 * Where a side's bytes went (medians, stderr): the loop alone, the timers
 * array once calloc'd (untouched pages cost nothing yet), after every init
 * and start (the handles plus the library's own timer bookkeeping), and
 * the peak. Per timer: what init+start and the whole run added on top of
 * the loop, against the handle's own size.
 */
static void print_breakdown(struct side *s, unsigned rounds, unsigned count)
{
	double loop = bench_median(s->rss_loop_kb, rounds);
	double alloc = bench_median(s->rss_alloc_kb, rounds);
	double started = bench_median(s->rss_started_kb, rounds);
	double peak = bench_median(s->rss_kb, rounds);

	fprintf(stderr, "timers: rss %-6s loop_kb=%.0f alloc_kb=%.0f started_kb=%.0f peak_kb=%.0f "
			"| per timer: handle %zu B, started %.1f B, peak %.1f B\n",
		s->name, loop, alloc, started, peak, s->handle_size,
		(started - loop) * 1024 / count, (peak - loop) * 1024 / count);
}

static void print_side(struct bench_line *l, struct side *s, const char *prefix,
		       unsigned rounds)
{
	char key[64];

	snprintf(key, sizeof(key), "%sstart_s", prefix);
	bench_kv(l, key, "%.3f", bench_median(s->start_s, rounds));
	snprintf(key, sizeof(key), "%scpu_s", prefix);
	bench_kv(l, key, "%.3f", bench_median(s->cpu_s, rounds));
	snprintf(key, sizeof(key), "%srss_kb", prefix);
	bench_kv(l, key, "%.0f", bench_median(s->rss_kb, rounds));
}

/* ---- main -------------------------------------------------------------- */

struct args {
	unsigned rounds;
	unsigned timers;
	unsigned spread;
	unsigned monotone;
};

/* --peer=NAME is a string, which bench_parse_args does not take: pull it
 * out of argv first. */
static const char *take_peer(int *argc, char **argv)
{
	const char *peer = NULL;
	int i, j;

	for (i = j = 1; i < *argc; i++) {
		if (!strncmp(argv[i], "--peer=", 7))
			peer = argv[i] + 7;
		else
			argv[j++] = argv[i];
	}
	*argc = j;
	return peer;
}

static int parse(int argc, char **argv, struct args *a)
{
	const struct bench_opt opts[] = {
		{ "rounds", BENCH_OPT_UINT, &a->rounds, "runs per library (median kept)" },
		{ "timers", BENCH_OPT_UINT, &a->timers, "timers per run" },
		{ "spread", BENCH_OPT_UINT, &a->spread, "distinct deadlines, 1 ms apart" },
		{ "monotone", BENCH_OPT_UINT, &a->monotone,
		  "1: ascending blocks (libuv's order) instead of i % spread" },
	};
	int ret = bench_parse_args(argc, argv, opts, sizeof(opts) / sizeof(opts[0]));

	if (ret) {
		if (ret > 0)
			printf("  --peer=NAME    run one library once in this process "
			       "(ringo, libuv, libev)\n");
		return ret;
	}
	if (!a->rounds || a->rounds > MAX_ROUNDS || !a->timers || !a->spread) {
		fprintf(stderr, "timers: need 1 <= rounds <= %u, timers > 0, spread > 0\n",
			MAX_ROUNDS);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct args a = { .rounds = 3, .timers = BENCH_TIMERS_COUNT,
			  .spread = BENCH_TIMERS_SPREAD_MS };
	struct bench_line line = { 0 };
	struct bench_timers_cfg cfg;
	struct side s[MAX_SIDES], *ringo, *peer;
	const char *peer_name = take_peer(&argc, argv);
	unsigned n, r, j;
	double c;
	int ret;

	ret = parse(argc, argv, &a);
	if (ret)
		return ret < 0 ? 2 : 0;
	cfg = (struct bench_timers_cfg){ .count = a.timers, .spread_ms = a.spread,
					 .monotone = a.monotone };
	n = init_sides(s);

	if (peer_name) {
		peer = find_side(s, n, peer_name);
		if (!peer) {
			fprintf(stderr, "timers: no peer '%s' in this build\n", peer_name);
			return 2;
		}
		return run_peer(peer, &cfg);
	}

	for (r = 0; r < a.rounds; r++)
		for (j = 0; j < n; j++)
			if (run_round(&s[(r + j) % n], &cfg, r) < 0)
				return 1;
	for (j = 0; j < n; j++)
		fprintf(stderr, "timers: sizeof %s timer handle = %zu bytes\n", s[j].name,
			s[j].handle_size);
	for (j = 0; j < n; j++)
		print_breakdown(&s[j], a.rounds, a.timers);

	ringo = &s[0];
	print_side(&line, ringo, "", a.rounds);
	c = bench_median(ringo->cpu_s, a.rounds);
	peer = find_side(s, n, "libuv");
	if (peer)
		print_side(&line, peer, "libuv_", a.rounds);
	else
		bench_kv(&line, "libuv", "absent");
	peer = find_side(s, n, "libev");
	if (peer)
		print_side(&line, peer, "libev_", a.rounds);
	else
		bench_kv(&line, "libev", "absent");
	if ((peer = find_side(s, n, "libuv")))
		bench_kv(&line, "ratio", "%.3f", c / bench_median(peer->cpu_s, a.rounds));
	if ((peer = find_side(s, n, "libev")))
		bench_kv(&line, "libev_ratio", "%.3f", c / bench_median(peer->cpu_s, a.rounds));
	bench_line_end(&line);
	return 0;
}
