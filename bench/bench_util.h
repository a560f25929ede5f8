/* SPDX-License-Identifier: MIT */
/*
 * Small helpers shared by ringo's benchmarks: a monotonic clock in
 * nanoseconds, --flag=value parsing, one-line key=value output, the median
 * of repeated runs, and a checker for batches of completions. Everything is
 * static inline so that a benchmark is one .c file plus its peers.
 *
 * Conventions: results go to stdout as a single line of key=value pairs so
 * that scripts can parse them; everything else (progress, diagnostics) goes
 * to stderr.
 *
 * The prototypes of the peer implementations (the same workload run through
 * another library, in bench/peers/) live at the end, so that each peer needs
 * no header of its own.
 */
#ifndef RINGO_BENCH_UTIL_H
#define RINGO_BENCH_UTIL_H

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define BENCH_NSEC_PER_SEC 1000000000ULL

/* CLOCK_MONOTONIC in ns: immune to wall-clock steps, and a vDSO call. */
static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * BENCH_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static inline uint64_t bench_sec_to_ns(double sec)
{
	return sec <= 0 ? 0 : (uint64_t)(sec * (double)BENCH_NSEC_PER_SEC);
}

/* ---- Command line ------------------------------------------------------ */

enum bench_opt_type {
	BENCH_OPT_UINT,		/* unsigned *, decimal or 0x hex */
	BENCH_OPT_DOUBLE,	/* double * */
};

/* One accepted flag: --name=value. */
struct bench_opt {
	const char *name;
	enum bench_opt_type type;
	void *dst;		/* holds the default on entry */
	const char *help;
};

/* Store val into o->dst only when all of it parses, so --help shows defaults. */
static inline int bench_opt_set(const struct bench_opt *o, const char *val)
{
	unsigned long u = 0;
	double d = 0;
	char *end;

	errno = 0;
	if (o->type == BENCH_OPT_UINT)
		u = strtoul(val, &end, 0);
	else
		d = strtod(val, &end);
	if (errno || end == val || *end)
		return -EINVAL;
	/* strtoul accepts "-1" and wraps it; a count is never negative. */
	if (o->type == BENCH_OPT_UINT && (*val == '-' || u > UINT_MAX))
		return -ERANGE;
	if (o->type == BENCH_OPT_UINT)
		*(unsigned *)o->dst = (unsigned)u;
	else
		*(double *)o->dst = d;
	return 0;
}

static inline void bench_usage(FILE *f, const char *prog, const struct bench_opt *opts,
			       size_t n)
{
	size_t i;

	fprintf(f, "usage: %s [--flag=value ...]\n", prog);
	for (i = 0; i < n; i++) {
		if (opts[i].type == BENCH_OPT_UINT)
			fprintf(f, "  --%-12s %s (default %u)\n", opts[i].name, opts[i].help,
				*(unsigned *)opts[i].dst);
		else
			fprintf(f, "  --%-12s %s (default %g)\n", opts[i].name, opts[i].help,
				*(double *)opts[i].dst);
	}
}

static inline const struct bench_opt *bench_opt_find(const struct bench_opt *opts, size_t n,
						     const char *arg, const char **val)
{
	size_t i, len;

	for (i = 0; i < n; i++) {
		len = strlen(opts[i].name);
		if (!strncmp(arg, opts[i].name, len) && arg[len] == '=') {
			*val = arg + len + 1;
			return &opts[i];
		}
	}
	return NULL;
}

/*
 * Parse --name=value arguments into opts[]. Returns 0, 1 after printing
 * usage for --help, or -EINVAL after printing what was wrong; callers exit
 * 0 or 2 accordingly.
 */
static inline int bench_parse_args(int argc, char **argv, const struct bench_opt *opts,
				   size_t n)
{
	const struct bench_opt *o;
	const char *val;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			bench_usage(stdout, argv[0], opts, n);
			return 1;
		}
		o = strncmp(argv[i], "--", 2) ? NULL : bench_opt_find(opts, n, argv[i] + 2, &val);
		if (!o || bench_opt_set(o, val) < 0) {
			fprintf(stderr, "%s: bad argument '%s'\n", argv[0], argv[i]);
			bench_usage(stderr, argv[0], opts, n);
			return -EINVAL;
		}
	}
	return 0;
}

/* ---- Output ------------------------------------------------------------ */

/* One stdout line of key=value pairs, built pair by pair. */
struct bench_line {
	unsigned pairs;
};

__attribute__((format(printf, 3, 4)))
static inline void bench_kv(struct bench_line *l, const char *key, const char *fmt, ...)
{
	va_list ap;

	printf("%s%s=", l->pairs++ ? " " : "", key);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

static inline void bench_line_end(struct bench_line *l)
{
	putchar('\n');
	fflush(stdout);
	l->pairs = 0;
}

/* ---- Statistics -------------------------------------------------------- */

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * Median of v[0..n-1], which is sorted in place. The median rather than the
 * mean: one run disturbed by another process on a small machine should not
 * move the result.
 */
static inline double bench_median(double *v, size_t n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), bench_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Rounds a benchmark keeps per side, at most (the helpers below copy). */
#define BENCH_MAX_ROUNDS 32

/* bench_median of v[0..n-1], leaving v in round order. */
static inline double bench_median_of(const double *v, size_t n)
{
	double t[BENCH_MAX_ROUNDS];

	if (n > BENCH_MAX_ROUNDS)
		n = BENCH_MAX_ROUNDS;
	memcpy(t, v, n * sizeof(*t));
	return bench_median(t, n);
}

/*
 * The median over rounds of a[i] / b[i], for two sides whose runs of one
 * round were back to back. A VM whose speed drifts between rounds moves
 * both runs of a round alike, so this ratio holds where the ratio of the
 * two sides' medians would pair runs of different rounds.
 */
static inline double bench_round_ratio(const double *a, const double *b, size_t n)
{
	double r[BENCH_MAX_ROUNDS];
	size_t i;

	if (n > BENCH_MAX_ROUNDS)
		n = BENCH_MAX_ROUNDS;
	for (i = 0; i < n; i++)
		r[i] = b[i] > 0 ? a[i] / b[i] : 0;
	return bench_median(r, n);
}

/* ---- Completion checking ---------------------------------------------- */

/*
 * Checks one batch of at most 64 ops whose user_data are base..base+n-1:
 * every CQE must name a distinct op of the batch and carry the expected
 * result, and every op must complete. A bitmap rather than an in-order
 * check, because the kernel does not promise completion order.
 */
struct bench_batch {
	uint64_t base;
	uint64_t seen;		/* bit i: op base + i completed */
	unsigned n;		/* ops in the batch */
	unsigned errors;
};

static inline void bench_batch_begin(struct bench_batch *b, uint64_t base, unsigned n)
{
	b->base = base;
	b->seen = 0;
	b->n = n;
	b->errors = 0;
}

static inline void bench_batch_cqe(struct bench_batch *b, uint64_t user_data, int res,
				   int want_res)
{
	uint64_t off = user_data - b->base;

	if (off >= b->n || (b->seen >> off) & 1 || res != want_res)
		b->errors++;
	else
		b->seen |= 1ULL << off;
}

/* Errors in the batch, counting each op that never completed as one. */
static inline unsigned bench_batch_end(const struct bench_batch *b)
{
	uint64_t all = b->n == 64 ? ~0ULL : (1ULL << b->n) - 1;

	return b->errors + (unsigned)__builtin_popcountll(all & ~b->seen);
}

/* ---- Peers (bench/peers/) ---------------------------------------------- */

/* Ops per NOP round: SQEs prepared, submitted and reaped together. */
#define BENCH_NOP_BATCH 64

/* What a NOP run measures; both ringo and the peers take the same one. */
struct bench_nop_cfg {
	unsigned entries;	/* ring size */
	unsigned flags;		/* io_uring setup flags (IORING_SETUP_*) */
	unsigned warmup_rounds;	/* untimed rounds on the fresh ring */
	uint64_t duration_ns;	/* timed part */
};

struct bench_nop_result {
	double ops_per_sec;
	uint64_t ops;
	uint64_t errors;	/* wrong user_data or res, missing CQEs */
};

/*
 * The NOP workload through liburing (bench/peers/nop_liburing.c, built with
 * HAVE_LIBURING). Returns 0 with *res filled, or -errno when the ring could
 * not be set up (-EINVAL: flags the kernel refuses) or a submit failed.
 */
int bench_nop_liburing(const struct bench_nop_cfg *cfg, struct bench_nop_result *res);

/* ---- NOPs through an event loop (bench/nop_loop.c) ---------------------- */

/*
 * A loop-style NOP run: `inflight` NOPs are kept in flight, each completion
 * resubmits its own op until the deadline, then the rest drain. The clock is
 * read once every BENCH_LOOP_CLOCK_EVERY completions on both sides, so the
 * stopping rule costs the same everywhere.
 */
#define BENCH_LOOP_CLOCK_EVERY 64

struct bench_loop_cfg {
	unsigned entries;	/* SQ size */
	unsigned cq_entries;	/* CQ size (set with IORING_SETUP_CQSIZE) */
	unsigned flags;		/* further IORING_SETUP_* flags */
	unsigned inflight;	/* NOPs kept in flight, <= entries */
	uint64_t warmup_ns;	/* untimed part on the fresh ring */
	uint64_t duration_ns;	/* timed part */
};

struct bench_loop_result {
	double ops_per_sec;
	uint64_t ops;		/* completions in the timed part */
	uint64_t errors;	/* res != 0, unknown user_data, count mismatch */
};

/* The stopping rule both sides share: true once the deadline has passed,
 * checked every BENCH_LOOP_CLOCK_EVERY completions (done counts them). */
static inline bool bench_loop_expired(uint64_t done, uint64_t deadline)
{
	return done % BENCH_LOOP_CLOCK_EVERY == 0 && bench_now_ns() >= deadline;
}

/*
 * The loop-style NOP workload written directly on liburing
 * (bench/peers/nop_loop_liburing.c, built with HAVE_LIBURING). Returns 0
 * with *res filled, or -errno when the ring could not be set up or a submit
 * failed.
 */
int bench_nop_loop_liburing(const struct bench_loop_cfg *cfg, struct bench_loop_result *res);

/* ---- A million timers (bench/timers.c) ---------------------------------- */

/*
 * libuv's million_timers shape: `count` one-shot timers, timer i due in
 * bench_timers_timeout(cfg, i) ms, all started before the loop runs; every
 * callback counts; then every handle is closed and the loop run again so
 * the close callbacks (counted too) run. Each library runs it in a process
 * of its own (see bench/timers.c), so CPU and peak RSS are per library.
 */
#define BENCH_TIMERS_COUNT 1000000
#define BENCH_TIMERS_SPREAD_MS 1000

struct bench_timers_cfg {
	unsigned count;		/* timers */
	unsigned spread_ms;	/* distinct deadlines: 0 .. spread_ms - 1 ms */
	unsigned monotone;	/* 0: i % spread (interleaved); 1: ascending blocks */
};

struct bench_timers_result {
	double start_s;		/* CPU s (user+sys) of the init+start loop */
	double cpu_s;		/* CPU s of start + run + close + run again */
	double run_s;		/* CPU s of the first run (all timers firing) */
	double wall_s;		/* wall s of the same */
	uint64_t fired;		/* timer callbacks */
	uint64_t closed;	/* close callbacks (libev: stops, it has no close) */
	size_t handle_size;	/* sizeof the library's timer handle */
	uint64_t iterations;	/* loop iterations, when the library tells; else 0 */
	/* Where the bytes go (bench_cur_rss_kb, KiB): */
	long rss_loop_kb;	/* after the library's loop init */
	long rss_alloc_kb;	/* after calloc of the timers (untouched: no change) */
	long rss_started_kb;	/* after every timer's init + start */
};

/* Timer i's timeout in ms. Interleaved: neighbours differ, as in the issue's
 * i % 1000; monotone: libuv's original order (each block of count/spread
 * timers shares one deadline, blocks ascending). */
static inline uint64_t bench_timers_timeout(const struct bench_timers_cfg *cfg, unsigned i)
{
	if (cfg->monotone)
		return (uint64_t)i * cfg->spread_ms / cfg->count;
	return i % cfg->spread_ms;
}

/* User + system CPU seconds of this process so far (getrusage). */
static inline double bench_cpu_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Resident set of this process now, in KiB (/proc/self/statm); 0 if
 * unreadable. */
static inline long bench_cur_rss_kb(void)
{
	long size, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return 0;
	if (fscanf(f, "%ld %ld", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Peak resident set of this process so far, in KiB (ru_maxrss). */
static inline long bench_max_rss_kb(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_SELF, &ru) ? 0 : ru.ru_maxrss;
}

/*
 * The timers workload through libuv (bench/peers/timers_libuv.c, with
 * HAVE_LIBUV) and libev (bench/peers/timers_libev.c, with HAVE_LIBEV).
 * Return 0 with *res filled (fired/closed are for the caller to check), or
 * a negative error when the loop could not be set up or a start failed;
 * after a failure the process must exit (handles may still be registered).
 */
int bench_timers_libuv(const struct bench_timers_cfg *cfg, struct bench_timers_result *res);
int bench_timers_libev(const struct bench_timers_cfg *cfg, struct bench_timers_result *res);

/* ---- Ping-pong over loopback TCP (bench/pingpong.c) --------------------- */

/*
 * libuv's ping_pongs shape: one loop holds both ends of one TCP connection
 * on 127.0.0.1 (TCP_NODELAY on both). The client writes BENCH_PP_MSG, the
 * server echoes what it reads, and the client writes the next ping once the
 * whole reply is in: one message in flight, so every round trip crosses the
 * loop twice. Round trips are counted on the client side.
 */
/* The struct holding `ptr` as its `member` (queue.h's container_of, which
 * the benchmarks outside the library do not see). */
#define BENCH_CONTAINER_OF(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#define BENCH_PP_MSG "PING"
#define BENCH_PP_LEN 4

struct bench_pp_cfg {
	uint64_t warmup_ns;	/* untimed round trips on the fresh connection */
	uint64_t duration_ns;	/* timed part */
	unsigned entries;	/* io_uring peers: SQ size */
	unsigned ring_flags;	/* io_uring peers: IORING_SETUP_* flags */
};

struct bench_pp_result {
	double rt_per_sec;	/* round trips per second in the timed part */
	uint64_t roundtrips;	/* round trips in the timed part */
	uint64_t total_rt;	/* all round trips, warm-up included */
	uint64_t pings;		/* client writes that completed */
	uint64_t echoes;	/* server writes that completed */
	uint64_t short_reads;	/* reads of fewer than BENCH_PP_LEN bytes (legal) */
	uint64_t errors;	/* wrong bytes, failed ops, count mismatches */
	uint64_t enters;	/* io_uring_enter calls in the timed part; 0: not counted */
	uint64_t cqes;		/* CQEs handled in the timed part; 0: not counted */
};

/*
 * The warm-up/timed/stop clock all sides share. Called once per round trip;
 * the clock is read every BENCH_LOOP_CLOCK_EVERY round trips only, so the
 * stopping rule costs the same everywhere. STARTED and STOP are returned
 * exactly once each, for callers that snapshot counters at those points.
 */
enum bench_pp_step { BENCH_PP_GO, BENCH_PP_STARTED, BENCH_PP_STOP };

struct bench_pp_clock {
	uint64_t warm_until;	/* end of the warm-up, ns */
	uint64_t duration_ns;
	uint64_t start_ns;	/* timed part: [start_ns, end_ns) */
	uint64_t end_ns;
	uint64_t rt;		/* round trips so far */
	uint64_t rt_start;	/* rt when the timed part began */
	int phase;		/* 0 warm-up, 1 timed, 2 stopped */
};

/* At the first ping. Without warm-up, the timed part starts at once
 * (STARTED is then not returned by bench_pp_roundtrip). */
static inline void bench_pp_clock_start(struct bench_pp_clock *c, const struct bench_pp_cfg *cfg)
{
	uint64_t now = bench_now_ns();

	memset(c, 0, sizeof(*c));
	c->duration_ns = cfg->duration_ns;
	c->warm_until = now + cfg->warmup_ns;
	if (!cfg->warmup_ns) {
		c->phase = 1;
		c->start_ns = now;
	}
}

static inline enum bench_pp_step bench_pp_roundtrip(struct bench_pp_clock *c)
{
	uint64_t now;

	c->rt++;
	if (c->rt % BENCH_LOOP_CLOCK_EVERY)
		return BENCH_PP_GO;
	now = bench_now_ns();
	if (c->phase == 0 && now >= c->warm_until) {
		c->phase = 1;
		c->start_ns = now;
		c->rt_start = c->rt;
		return BENCH_PP_STARTED;
	}
	if (c->phase == 1 && now - c->start_ns >= c->duration_ns) {
		c->phase = 2;
		c->end_ns = now;
		return BENCH_PP_STOP;
	}
	return BENCH_PP_GO;
}

/* Fill the rate fields of *res from a stopped clock. */
static inline void bench_pp_clock_result(const struct bench_pp_clock *c,
					 struct bench_pp_result *res)
{
	uint64_t elapsed = c->end_ns - c->start_ns;

	res->total_rt = c->rt;
	if (c->phase != 2 || !elapsed) {
		res->errors++;
		return;
	}
	res->roundtrips = c->rt - c->rt_start;
	res->rt_per_sec = (double)res->roundtrips * (double)BENCH_NSEC_PER_SEC / (double)elapsed;
}

/*
 * One direction of the byte stream: every byte must be the next byte of
 * BENCH_PP_MSG, and as only one message is in flight, a read never carries
 * bytes past the end of the message it completes. Returns 1 when the read
 * completed a message, 0 when more is due, -1 for a wrong read (counted in
 * *errors). *off, when not NULL, gets the offset in BENCH_PP_MSG where the
 * read's bytes start (the server echoes from there: the same bytes).
 */
struct bench_pp_rx {
	unsigned pos;		/* bytes of the current message seen */
};

static inline int bench_pp_rx_feed(struct bench_pp_rx *rx, const void *data, size_t n,
				   unsigned *off, struct bench_pp_result *res)
{
	if (off)
		*off = rx->pos;
	if (!n || n > BENCH_PP_LEN - rx->pos ||
	    memcmp(data, BENCH_PP_MSG + rx->pos, n)) {
		res->errors++;
		return -1;
	}
	if (n < BENCH_PP_LEN)
		res->short_reads++;
	rx->pos += (unsigned)n;
	if (rx->pos < BENCH_PP_LEN)
		return 0;
	rx->pos = 0;
	return 1;
}

/*
 * The checks every side makes at the end: the client stops right after a
 * reply, so every ping was echoed and answered, and nothing was half-read.
 */
static inline void bench_pp_final_check(const struct bench_pp_clock *c,
					const struct bench_pp_rx *srv, const struct bench_pp_rx *cli,
					struct bench_pp_result *res)
{
	bench_pp_clock_result(c, res);
	if (res->pings != c->rt || res->echoes != c->rt || srv->pos || cli->pos)
		res->errors++;
}

/*
 * The workload through libuv (bench/peers/pingpong_libuv.c, HAVE_LIBUV:
 * uv_tcp + uv_read_start + uv_write) and hand-written on liburing
 * (bench/peers/pingpong_liburing.c, HAVE_LIBURING: one ring, single-shot
 * recv/send re-armed on completion, cfg->entries and cfg->ring_flags).
 * Return 0 with *res filled (errors for the caller to check), or -errno
 * when set-up failed.
 */
int bench_pingpong_libuv(const struct bench_pp_cfg *cfg, struct bench_pp_result *res);
int bench_pingpong_liburing(const struct bench_pp_cfg *cfg, struct bench_pp_result *res);

/* ---- Idle keep-alive connections (bench/idle_conns.c) ------------------- */

/*
 * A server loop in a process of its own accepts `conns` TCP connections on
 * 127.0.0.1 from clients in another process and starts reading each. By
 * default no data is ever sent (idle from the start); with `request` each
 * client sends that many bytes once, right after connecting (a keep-alive
 * connection gone quiet after its request). `settle_ms` after the last
 * read start, or the last byte, its resident set is measured. The child
 * talks to its parent over stdout (one line per step) and waits on stdin:
 * see bench_idle_listening() and bench_idle_hold().
 */
#define BENCH_IDLE_CONNS 10000
#define BENCH_IDLE_SETTLE_MS 200
#define BENCH_IDLE_BACKLOG 4096
#define BENCH_IDLE_REQUEST_MAX 512	/* --request bound: one write, one segment */

struct bench_idle_cfg {
	unsigned conns;		/* connections to accept */
	unsigned settle_ms;	/* wait after the last read start, before measuring */
	unsigned park;		/* ringo: 0 NO_PARK, 1 default, 2 PARK_READS */
	unsigned park_idle_ms;	/* ringo: ringo_loop_opts.park_idle_ms (0: default) */
	unsigned request;	/* bytes each client sends once (0: none) */
};

struct bench_idle_result {
	long baseline_kb;	/* VmRSS with the loop and listener set up, before accepting */
	long rss_kb;		/* VmRSS with every connection accepted and reading */
	unsigned accepted;
	uint64_t received;	/* request bytes read, all connections */
	unsigned errors;	/* failed accepts or read starts, unexpected data or EOF */
	bool settling;		/* everything arrived: the settle timer runs */
	size_t handle_size;	/* sizeof the library's TCP handle */
};

/* VmRSS of this process in KiB (from /proc/self/status), or -1. */
static inline long bench_rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* Raise RLIMIT_NOFILE's soft limit to the hard one; returns the soft limit
 * now in force (0 if it cannot be read). */
static inline unsigned long bench_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return 0;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	return (unsigned long)rl.rlim_cur;
}

/*
 * In the child, once its listener is bound: record the baseline RSS and
 * tell the parent the port ("port=P" on stdout). Both libraries call it at
 * the same point: the loop and listener exist, no connection does yet.
 */
static inline void bench_idle_listening(struct bench_idle_result *res, unsigned port)
{
	res->baseline_kb = bench_rss_kb();
	printf("port=%u\n", port);
	fflush(stdout);
}

/*
 * In the child, with every connection reading and the loop quiet: record
 * the RSS, report it ("rss_kb=... baseline_kb=... accepted=... errors=...
 * handle_size=..." on stdout), then wait until the parent closes our stdin.
 * The loop does not run meanwhile: nothing may change the resident set.
 */
/* Every connection accepted and every request byte read, the first time:
 * the caller starts its settle timer. */
static inline bool bench_idle_all_in(const struct bench_idle_cfg *cfg,
				     struct bench_idle_result *res)
{
	if (res->settling || res->accepted != cfg->conns ||
	    res->received != (uint64_t)cfg->conns * cfg->request)
		return false;
	res->settling = true;
	return true;
}

/* A read on an idle connection: request bytes are counted, anything else
 * (more than was sent, EOF, an error) is an error. */
static inline void bench_idle_read(const struct bench_idle_cfg *cfg,
				   struct bench_idle_result *res, const char *lib, long nread)
{
	if (nread > 0 && res->received + (uint64_t)nread <= (uint64_t)cfg->conns * cfg->request) {
		res->received += (uint64_t)nread;
		return;
	}
	res->errors++;
	fprintf(stderr, "idle-conns: %s: unexpected read %ld\n", lib, nread);
}

static inline void bench_idle_hold(struct bench_idle_result *res)
{
	ssize_t r;
	char c;

	res->rss_kb = bench_rss_kb();
	printf("rss_kb=%ld baseline_kb=%ld accepted=%u errors=%u handle_size=%zu\n", res->rss_kb,
	       res->baseline_kb, res->accepted, res->errors, res->handle_size);
	fflush(stdout);
	do
		r = read(STDIN_FILENO, &c, 1);
	while (r > 0 || (r < 0 && errno == EINTR));
}

/*
 * The workload through libuv (bench/peers/idle_conns_libuv.c, HAVE_LIBUV):
 * uv_tcp_t per connection, uv_read_start with an alloc_cb that hands out
 * one static 64 KiB buffer. Returns 0 (res->errors for the caller to check)
 * or a negative error when set-up failed.
 */
int bench_idle_conns_libuv(const struct bench_idle_cfg *cfg, struct bench_idle_result *res);

#endif
