/* SPDX-License-Identifier: MIT */
/*
 * Ping-pong over loopback TCP: libuv's ping_pongs shape through ringo,
 * against libuv (bench/peers/pingpong_libuv.c) and a hand-written liburing
 * program (bench/peers/pingpong_liburing.c) in the same run.
 *
 * Workload (bench_util.h): one loop holds both ends of one TCP connection
 * on 127.0.0.1 (kernel-chosen port, TCP_NODELAY on both ends). The client
 * writes "PING" (4 bytes); the server echoes what it reads; the client
 * writes the next ping once the 4-byte reply is in. Round trips per second
 * are counted on the client, the clock read every 64 round trips.
 *
 * ringo side: ringo_tcp_bind/ringo_listen/ringo_accept for the server,
 * ringo_tcp_connect for the client, ringo_read_start on both ends (multishot
 * recv into the loop's buffer ring), ringo_write for every ping and echo.
 *
 * Every byte read is checked (it must be the next byte of "PING"; a read
 * never runs past the message it completes), every write must succeed,
 * and at the end pings == echoes == round trips. Any failure makes the
 * program exit 1 with no result line. Reads shorter than 4 bytes are legal
 * TCP and only reported (stderr).
 *
 * Runs: each implementation gets --seconds (5) of timed ping-pong, split
 * into --rounds (10) runs of seconds/rounds each; every run is a fresh loop
 * and connection with --warmup (0.05 s) of untimed round trips first. Runs
 * alternate (ringo, libuv, liburing; the order rotates every round) so
 * bursts of other load on a shared machine hit everyone alike, and the
 * median run rate is kept. Default total: 15 s timed + 1.5 s warm-up.
 *
 * The liburing peer's ring gets the setup flags ringo's loop ring got
 * (SINGLE_ISSUER|DEFER_TASKRUN on 6.1+) unless --peer-flags=N says
 * otherwise (0: a plain ring), so the comparison is about the loop.
 *
 * stdout gets one line:
 *   roundtrips_per_sec=N libuv_roundtrips_per_sec=N
 *   liburing_roundtrips_per_sec=N ratio_libuv=R ratio_liburing=R
 * (ratio_X = ringo / X). A peer not built in shows as libuv=absent or
 * liburing=absent, and its ratio is left out. stderr gets per-run rates,
 * user and system CPU ns per round trip (getrusage around the run: less
 * noisy than the rate on a shared machine), io_uring_enter calls per round
 * trip (ringo: loop iterations; liburing: its own count) and short reads.
 * --only=1|2|3 runs one implementation alone, for perf and strace.
 *
 * A run that stops making progress (a lost or short message would leave
 * both ends waiting) is ended by SIGALRM: exit 1, no line.
 */
#include "config.h"

#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include <ringo.h>

#include "bench_util.h"

#define MAX_ROUNDS 15
#define MAX_SIDES 3
#define WRITE_REQS 4	/* per end; one is in flight at a time */

/* ---- The ringo side ---------------------------------------------------- */

struct pp_write {
	ringo_write_t req;
	struct iovec iov;
	bool busy;
};

struct pp_ringo {
	ringo_loop_t loop;
	ringo_tcp_t listener, server, client;
	ringo_connect_t connect;
	struct pp_write cw[WRITE_REQS], sw[WRITE_REQS];
	unsigned cw_next, sw_next;
	struct bench_pp_clock clock;
	struct bench_pp_rx srv_rx, cli_rx;
	const struct bench_pp_cfg *cfg;
	struct bench_pp_result *res;
	struct ringo_loop_metrics m_start, m_stop;
	bool stopped;
	unsigned closing;	/* ringo_close calls made */
	unsigned closed;	/* close callbacks run */
};

static void on_close(ringo_handle_t *h)
{
	struct pp_ringo *r = h->data;

	r->closed++;
}

/* Close the three handles; ringo_run returns once their close_cb ran (a
 * handle with its recv still in the kernel waits for the cancellation). */
static void close_all(struct pp_ringo *r)
{
	ringo_tcp_t *h[] = { &r->client, &r->server, &r->listener };
	unsigned i;

	for (i = 0; i < 3; i++) {
		if (!h[i]->type || ringo_is_closing((ringo_handle_t *)h[i]))
			continue;
		r->closing++;
		if (ringo_close((ringo_handle_t *)h[i], on_close) < 0)
			r->res->errors++;
	}
}

static void fail(struct pp_ringo *r, const char *what, int err)
{
	fprintf(stderr, "pingpong: ringo: %s: %s\n", what, ringo_strerror(err));
	r->res->errors++;
	if (!r->stopped) {
		r->stopped = true;
		close_all(r);
	}
}

static void client_write_cb(ringo_write_t *req, int status)
{
	struct pp_write *w = BENCH_CONTAINER_OF(req, struct pp_write, req);
	struct pp_ringo *r = req->data;

	w->busy = false;
	if (status < 0)
		fail(r, "client write", status);
	else
		r->res->pings++;
}

static void server_write_cb(ringo_write_t *req, int status)
{
	struct pp_write *w = BENCH_CONTAINER_OF(req, struct pp_write, req);
	struct pp_ringo *r = req->data;

	w->busy = false;
	if (status < 0)
		fail(r, "server write", status);
	else
		r->res->echoes++;
}

/* Write len bytes of BENCH_PP_MSG from off with the next free request. */
static void send_msg(struct pp_ringo *r, ringo_tcp_t *t, struct pp_write *w, unsigned *next,
		     unsigned off, unsigned len, ringo_write_cb cb)
{
	struct pp_write *x = &w[*next];
	int ret;

	if (x->busy) {
		fail(r, "write", -EBUSY);
		return;
	}
	*next = (*next + 1) % WRITE_REQS;
	x->busy = true;
	x->req.data = r;
	x->iov.iov_base = (char *)BENCH_PP_MSG + off;
	x->iov.iov_len = len;
	ret = ringo_write(&x->req, t, &x->iov, 1, cb);
	if (ret < 0) {
		x->busy = false;
		fail(r, "ringo_write", ret);
	}
}

static void server_read(ringo_stream_t *s, ssize_t nread, const void *data)
{
	struct pp_ringo *r = s->data;
	unsigned off;

	if (nread < 0) {
		/* The client closed first: expected once stopped. */
		if (!r->stopped || nread != RINGO_EOF)
			fail(r, "server read", (int)nread);
		return;
	}
	if (bench_pp_rx_feed(&r->srv_rx, data, (size_t)nread, &off, r->res) < 0) {
		fail(r, "server read", -EBADMSG);
		return;
	}
	send_msg(r, s, r->sw, &r->sw_next, off, (unsigned)nread, server_write_cb);
}

static void client_read(ringo_stream_t *s, ssize_t nread, const void *data)
{
	struct pp_ringo *r = s->data;
	int ret;

	if (nread < 0) {
		fail(r, "client read", (int)nread);
		return;
	}
	ret = bench_pp_rx_feed(&r->cli_rx, data, (size_t)nread, NULL, r->res);
	if (ret < 0) {
		fail(r, "client read", -EBADMSG);
		return;
	}
	if (!ret)
		return;
	switch (bench_pp_roundtrip(&r->clock)) {
	case BENCH_PP_STARTED:
		ringo_loop_metrics(&r->loop, &r->m_start);
		break;
	case BENCH_PP_STOP:
		ringo_loop_metrics(&r->loop, &r->m_stop);
		r->stopped = true;
		close_all(r);
		return;
	case BENCH_PP_GO:
		break;
	}
	send_msg(r, s, r->cw, &r->cw_next, 0, BENCH_PP_LEN, client_write_cb);
}

static void on_connect(ringo_connect_t *req, int status)
{
	struct pp_ringo *r = req->data;
	int ret;

	if (status < 0) {
		fail(r, "connect", status);
		return;
	}
	ret = ringo_read_start(&r->client, client_read);
	if (ret < 0) {
		fail(r, "client read_start", ret);
		return;
	}
	bench_pp_clock_start(&r->clock, r->cfg);
	send_msg(r, &r->client, r->cw, &r->cw_next, 0, BENCH_PP_LEN, client_write_cb);
}

static void on_connection(ringo_stream_t *server, int status)
{
	struct pp_ringo *r = server->data;
	int ret;

	if (status < 0) {
		fail(r, "accept", status);
		return;
	}
	if (r->server.type) {
		fail(r, "accept", -EEXIST);	/* one connection only */
		return;
	}
	ret = ringo_tcp_init(&r->loop, &r->server);
	r->server.data = r;
	if (!ret)
		ret = ringo_accept(server, &r->server);
	if (!ret)
		ret = ringo_tcp_nodelay(&r->server, 1);
	if (!ret)
		ret = ringo_read_start(&r->server, server_read);
	if (ret < 0)
		fail(r, "accept", ret);
}

static int bench_pingpong_ringo(const struct bench_pp_cfg *cfg, struct bench_pp_result *res)
{
	struct sockaddr_in addr;
	socklen_t alen = sizeof(addr);
	struct pp_ringo *r;
	uint64_t iters;
	int ret, cret;

	*res = (struct bench_pp_result){ 0 };
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->res = res;
	r->cfg = cfg;
	ret = ringo_loop_init(&r->loop, NULL);
	if (ret < 0) {
		free(r);
		return ret;
	}
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ret = ringo_tcp_init(&r->loop, &r->listener);
	r->listener.data = r;
	if (!ret)
		ret = ringo_tcp_bind(&r->listener, (struct sockaddr *)&addr, 0);
	if (!ret)
		ret = ringo_listen(&r->listener, 16, on_connection);
	if (!ret)
		ret = ringo_getsockname(&r->listener, (struct sockaddr *)&addr, &alen);
	if (!ret)
		ret = ringo_tcp_init(&r->loop, &r->client);
	r->client.data = r;
	r->connect.data = r;
	if (!ret)
		ret = ringo_tcp_connect(&r->connect, &r->client, (struct sockaddr *)&addr,
					on_connect);
	if (!ret)
		ret = ringo_tcp_nodelay(&r->client, 1);
	if (ret < 0) {
		fprintf(stderr, "pingpong: ringo: set-up: %s\n", ringo_strerror(ret));
		r->stopped = true;
		close_all(r);
		ringo_run(&r->loop, RINGO_RUN_DEFAULT);
		ringo_loop_close(&r->loop);
		free(r);
		return ret;
	}
	ret = ringo_run(&r->loop, RINGO_RUN_DEFAULT);
	if (ret != 0) {
		fprintf(stderr, "pingpong: ringo: ringo_run: %s\n",
			ret < 0 ? ringo_strerror(ret) : "returned with handles alive");
		res->errors++;
	}
	bench_pp_final_check(&r->clock, &r->srv_rx, &r->cli_rx, res);
	if (r->closed != 3 || r->closing != 3) {
		fprintf(stderr, "pingpong: ringo: %u of %u close callbacks\n", r->closed,
			r->closing);
		res->errors++;
	}
	iters = r->m_stop.iterations - r->m_start.iterations;
	/* Without SQPOLL, one loop iteration is one io_uring_enter. */
	res->enters = iters;
	res->cqes = r->m_stop.completions - r->m_start.completions;
	cret = ringo_loop_close(&r->loop);
	if (cret < 0) {
		fprintf(stderr, "pingpong: ringo: ringo_loop_close: %s\n", ringo_strerror(cret));
		res->errors++;
	}
	free(r);
	return ret < 0 ? ret : 0;
}

/* The setup flags and SQ size of a default loop's ring, for the liburing
 * peer to copy. */
static int probe_loop_ring(unsigned *flags, unsigned *entries)
{
	const unsigned copy = RINGO_SETUP_SINGLE_ISSUER | RINGO_SETUP_DEFER_TASKRUN |
			      RINGO_SETUP_COOP_TASKRUN | RINGO_SETUP_TASKRUN_FLAG;
	struct ringo_ring *ring;
	ringo_loop_t loop;
	int ret;

	ret = ringo_loop_init(&loop, NULL);
	if (ret < 0)
		return ret;
	ring = ringo_loop_ring(&loop);
	*flags = ring->flags & copy;
	*entries = ring->sq.ring_entries;
	ringo_loop_close(&loop);
	return 0;
}

/* ---- The sides --------------------------------------------------------- */

typedef int (*pp_fn)(const struct bench_pp_cfg *cfg, struct bench_pp_result *res);

struct side {
	const char *name;
	pp_fn run;
	double rate[MAX_ROUNDS];
	double enters_per_rt[MAX_ROUNDS];
	double user_ns[MAX_ROUNDS];	/* user CPU ns per round trip */
	double sys_ns[MAX_ROUNDS];	/* system CPU ns per round trip */
	uint64_t short_reads;
	double median;
};

static unsigned init_sides(struct side *s)
{
	unsigned n = 0;

	s[n++] = (struct side){ .name = "ringo", .run = bench_pingpong_ringo };
#ifdef HAVE_LIBUV
	s[n++] = (struct side){ .name = "libuv", .run = bench_pingpong_libuv };
#endif
#ifdef HAVE_LIBURING
	s[n++] = (struct side){ .name = "liburing", .run = bench_pingpong_liburing };
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

/* User and system CPU seconds of this process so far. */
static void cpu_split(double *user, double *sys)
{
	struct rusage ru;

	*user = *sys = 0;
	if (getrusage(RUSAGE_SELF, &ru))
		return;
	*user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
	*sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* A run whose ping-pong stalls (a lost or short message would leave both
 * ends waiting) must not hang the benchmark: SIGALRM ends the process. */
static void on_alarm(int sig)
{
	static const char msg[] = "pingpong: a run made no progress, aborting\n";

	(void)sig;
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(1);
	_exit(1);
}

static int run_side(struct side *s, const struct bench_pp_cfg *cfg, unsigned r)
{
	struct bench_pp_result res;
	double u0, s0, u1, s1;
	int ret;

	/* The run's own length plus a generous margin for set-up and teardown. */
	alarm((unsigned)((cfg->warmup_ns + cfg->duration_ns) / BENCH_NSEC_PER_SEC) + 10);
	cpu_split(&u0, &s0);
	ret = s->run(cfg, &res);
	cpu_split(&u1, &s1);
	alarm(0);

	if (ret < 0) {
		fprintf(stderr, "pingpong: %s: %s\n", s->name, strerror(-ret));
		return ret;
	}
	if (res.errors) {
		fprintf(stderr,
			"pingpong: %s run %u: %llu errors (round trips %llu, pings %llu, "
			"echoes %llu)\n",
			s->name, r, (unsigned long long)res.errors,
			(unsigned long long)res.total_rt, (unsigned long long)res.pings,
			(unsigned long long)res.echoes);
		return -EBADMSG;
	}
	s->rate[r] = res.rt_per_sec;
	s->short_reads += res.short_reads;
	s->enters_per_rt[r] = res.roundtrips ? (double)res.enters / (double)res.roundtrips : 0;
	/* CPU per round trip over the whole run (warm-up and set-up included). */
	s->user_ns[r] = (u1 - u0) * 1e9 / (double)res.total_rt;
	s->sys_ns[r] = (s1 - s0) * 1e9 / (double)res.total_rt;
	fprintf(stderr, "pingpong: run=%u %-8s %8.0f rt/s (%llu rt, user %.0f ns/rt, sys %.0f ns/rt",
		r, s->name, res.rt_per_sec, (unsigned long long)res.roundtrips, s->user_ns[r],
		s->sys_ns[r]);
	if (res.enters)
		fprintf(stderr, ", %.2f io_uring_enter/rt, %.2f cqe/rt", s->enters_per_rt[r],
			(double)res.cqes / (double)res.roundtrips);
	fprintf(stderr, ")\n");
	return 0;
}

/* Medians of one implementation's runs: the rate to stdout's line, the
 * rest to stderr. */
static void summarize(struct side *s, unsigned rounds)
{
	s->median = bench_median_of(s->rate, rounds);
	if (s->short_reads)
		fprintf(stderr, "pingpong: %s: %llu short reads\n", s->name,
			(unsigned long long)s->short_reads);
	fprintf(stderr, "pingpong: %-8s median %.0f rt/s, user %.0f ns/rt, sys %.0f ns/rt", s->name,
		s->median, bench_median(s->user_ns, rounds), bench_median(s->sys_ns, rounds));
	if (s->enters_per_rt[0] > 0)
		fprintf(stderr, ", %.3f io_uring_enter/rt", bench_median(s->enters_per_rt, rounds));
	fprintf(stderr, "\n");
}

/* ---- main -------------------------------------------------------------- */

struct args {
	double seconds;
	double warmup;
	unsigned rounds;
	unsigned peer_flags;
	unsigned only;
};

#define FLAGS_OF_RINGO 0xffffffffU

static int parse(int argc, char **argv, struct args *a)
{
	const struct bench_opt opts[] = {
		{ "seconds", BENCH_OPT_DOUBLE, &a->seconds,
		  "timed seconds per implementation, split over the rounds" },
		{ "rounds", BENCH_OPT_UINT, &a->rounds, "runs per implementation (median kept)" },
		{ "warmup", BENCH_OPT_DOUBLE, &a->warmup, "untimed seconds at the start of each run" },
		{ "peer-flags", BENCH_OPT_UINT, &a->peer_flags,
		  "IORING_SETUP_* of the liburing peer's ring (0xffffffff: ringo's)" },
		{ "only", BENCH_OPT_UINT, &a->only,
		  "1 ringo, 2 libuv, 3 liburing alone (profiling); 0 all" },
	};
	int ret = bench_parse_args(argc, argv, opts, sizeof(opts) / sizeof(opts[0]));

	if (ret)
		return ret;
	if (!a->rounds || a->rounds > MAX_ROUNDS || a->seconds <= 0 || a->warmup < 0 ||
	    a->only > MAX_SIDES) {
		fprintf(stderr, "pingpong: need 1 <= rounds <= %u, seconds > 0, warmup >= 0, "
				"only <= %u\n", MAX_ROUNDS, MAX_SIDES);
		return -EINVAL;
	}
	return 0;
}

static const char *const only_names[] = { NULL, "ringo", "libuv", "liburing" };

int main(int argc, char **argv)
{
	struct args a = { .seconds = 5, .warmup = 0.05, .rounds = 10,
			  .peer_flags = FLAGS_OF_RINGO };
	struct bench_line line = { 0 };
	struct bench_pp_cfg cfg = { 0 };
	struct side s[MAX_SIDES], *peer;
	unsigned n, r, j, flags, entries;
	int ret;

	ret = parse(argc, argv, &a);
	if (ret)
		return ret < 0 ? 2 : 0;
	ret = probe_loop_ring(&flags, &entries);
	if (ret < 0) {
		fprintf(stderr, "pingpong: ringo_loop_init: %s\n", ringo_strerror(ret));
		return 1;
	}
	cfg.entries = entries;
	cfg.ring_flags = a.peer_flags == FLAGS_OF_RINGO ? flags : a.peer_flags;
	cfg.warmup_ns = bench_sec_to_ns(a.warmup);
	cfg.duration_ns = bench_sec_to_ns(a.seconds / a.rounds);
	n = init_sides(s);
	signal(SIGALRM, on_alarm);
	fprintf(stderr, "pingpong: %u runs of %.2f s per implementation; liburing ring flags "
			"0x%x (ringo's 0x%x)\n", a.rounds, a.seconds / a.rounds, cfg.ring_flags, flags);

	if (a.only) {
		peer = find_side(s, n, only_names[a.only]);
		if (!peer) {
			fprintf(stderr, "pingpong: %s not built in\n", only_names[a.only]);
			return 2;
		}
		for (r = 0; r < a.rounds; r++)
			if (run_side(peer, &cfg, r) < 0)
				return 1;
		summarize(peer, a.rounds);
		bench_kv(&line, a.only == 1 ? "roundtrips_per_sec" : a.only == 2 ?
			 "libuv_roundtrips_per_sec" : "liburing_roundtrips_per_sec", "%.0f",
			 peer->median);
		bench_line_end(&line);
		return 0;
	}

	for (r = 0; r < a.rounds; r++)
		for (j = 0; j < n; j++)
			if (run_side(&s[(r + j) % n], &cfg, r) < 0)
				return 1;
	for (j = 0; j < n; j++)
		summarize(&s[j], a.rounds);

	bench_kv(&line, "roundtrips_per_sec", "%.0f", s[0].median);
	if ((peer = find_side(s, n, "libuv")))
		bench_kv(&line, "libuv_roundtrips_per_sec", "%.0f", peer->median);
	else
		bench_kv(&line, "libuv", "absent");
	if ((peer = find_side(s, n, "liburing")))
		bench_kv(&line, "liburing_roundtrips_per_sec", "%.0f", peer->median);
	else
		bench_kv(&line, "liburing", "absent");
	/* Ratios: the median of the rounds' own ratios (bench_round_ratio). */
	if ((peer = find_side(s, n, "libuv")))
		bench_kv(&line, "ratio_libuv", "%.3f", bench_round_ratio(s[0].rate, peer->rate, a.rounds));
	if ((peer = find_side(s, n, "liburing")))
		bench_kv(&line, "ratio_liburing", "%.3f",
			 bench_round_ratio(s[0].rate, peer->rate, a.rounds));
	bench_line_end(&line);
	return 0;
}
