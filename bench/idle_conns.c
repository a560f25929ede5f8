/* SPDX-License-Identifier: MIT */
/*
 * Idle keep-alive connections: the resident memory a server loop needs to
 * hold --conns (10000) idle TCP connections, ringo against libuv
 * (bench/peers/idle_conns_libuv.c, when libuv is installed).
 *
 * Each library runs in a child process of its own (this program
 * re-executed with --peer=ringo|libuv): the child sets up a loop and a
 * listener on 127.0.0.1 port 0, records its VmRSS (the baseline), and
 * tells the parent the port. The parent, another process, opens --conns
 * plain blocking sockets to it; by default they send nothing, with
 * --request=N each sends N bytes once, right after connecting (a
 * keep-alive connection gone quiet after its request). The child accepts
 * each connection into a handle of its own (calloc'd, as a server would)
 * and starts reading it; --settle ms after the last read start or request
 * byte it records its VmRSS again, reports both on its stdout, and waits
 * until the parent closes its stdin; it then closes everything and exits.
 * The loop does not run between the measurement and the report.
 *
 * ringo's parking (--park): 0 = RINGO_LOOP_NO_PARK, every read keeps its
 * recv; 1 = the default, a read silent for 1-2 x --park-idle ms (the
 * loop's park_idle_ms; 0 = its 10 s default, longer than --settle) parks
 * in the loop's epoll set; 2 = RINGO_LOOP_PARK_READS, reads also park from
 * their start until the first data.
 *
 * What each holds per connection (user memory, which is what RSS sees;
 * kernel memory, sockets and epoll entries included, is in neither):
 *   ringo: the ringo_tcp_t (a calloc'd chunk of sizeof + malloc overhead);
 *          while its recv is armed, the op record (sizeof(struct
 *          ringo__op), from 64 KiB slabs) with its entry in the loop's
 *          uthash id table (the hash handle sits in the record; the bucket
 *          array, 16 B a bucket, doubles as the table grows). A parked read
 *          holds neither, and slabs its records emptied go back to the
 *          kernel. Once per loop, at the first read start: the receive pool
 *          (a bookkeeping struct of ~13 KiB, a 16 KiB provided-buffer ring,
 *          a 1 MiB chunk of buffers of which only pages the kernel wrote
 *          are resident; with --request, a page per buffer used, and the
 *          pool grows by chunks while bursts find it empty).
 *   libuv: the uv_tcp_t, and its slot in loop->watchers (a pointer per fd,
 *          the array sized to a power of two above the highest fd). Read
 *          buffers: alloc_cb hands out one shared static 64 KiB buffer
 *          (libuv's own benchmarks do), so libuv is measured at its best.
 *
 * The parent raises RLIMIT_NOFILE to its hard limit (so does each child):
 * each side holds --conns sockets. When the hard limit is below --conns +
 * 100 the count is scaled down, with a message.
 *
 * stdout gets one line:
 *
 *   conns=N park=P request=Q rss_kb=R per_conn_bytes=B libuv_rss_kb=R
 *   libuv_per_conn_bytes=B ratio=X
 *
 * rss_kb is the RSS with every connection held, per_conn_bytes the growth
 * over the baseline divided by N, ratio = ringo growth / libuv growth
 * (target <= 0.5). Without libuv: libuv=absent and no ratio. With
 * --rounds > 1 the libraries alternate and the medians are kept. Per-run
 * numbers and handle sizes go to stderr.
 */
#include "config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ringo.h>

#include "bench_util.h"

#define MAX_ROUNDS 15
#define MAX_SIDES 2
#define FD_SLACK 100		 /* fds besides the connections: stdio, ring, listener... */
#define CHILD_ALARM_S 300	 /* a child never outlives this, whatever the parent does */
#define REPORT_TIMEOUT_MS 60000	 /* parent: longest wait for a line from the child */

/* ---- The ringo side ---------------------------------------------------- */

struct idle_ringo {
	ringo_loop_t loop;
	ringo_tcp_t listener;
	ringo_timer_t settle;
	ringo_tcp_t *conns;	/* accepted handles, linked through ->data */
	const struct bench_idle_cfg *cfg;
	struct bench_idle_result *res;
};

static void ringo_idle_settled(ringo_timer_t *t)
{
	ringo_stop(t->loop);
}

static void ringo_idle_read(ringo_stream_t *s, ssize_t nread, const void *data)
{
	struct idle_ringo *r = s->loop->data;

	(void)data;
	/* The request, if any; the client never closes first. */
	bench_idle_read(r->cfg, r->res, "ringo", (long)nread);
	if (nread < 0)
		ringo_read_stop(s);
	if (bench_idle_all_in(r->cfg, r->res))
		ringo_timer_start(&r->settle, ringo_idle_settled, r->cfg->settle_ms, 0);
}

static void ringo_idle_conn(ringo_stream_t *server, int status)
{
	struct idle_ringo *r = server->loop->data;
	ringo_tcp_t *c;
	int ret;

	if (status < 0) {
		fprintf(stderr, "idle-conns: ringo: accept: %s\n", ringo_strerror(status));
		r->res->errors++;
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		r->res->errors++;
		return;
	}
	ret = ringo_tcp_init(&r->loop, c);
	if (!ret)
		ret = ringo_accept(server, c);
	if (ret < 0) {
		fprintf(stderr, "idle-conns: ringo: ringo_accept: %s\n", ringo_strerror(ret));
		r->res->errors++;
		free(c);
		return;
	}
	c->data = r->conns;
	r->conns = c;
	ret = ringo_read_start(c, ringo_idle_read);
	if (ret < 0) {
		fprintf(stderr, "idle-conns: ringo: ringo_read_start: %s\n", ringo_strerror(ret));
		r->res->errors++;
	}
	r->res->accepted++;
	if (bench_idle_all_in(r->cfg, r->res))
		ringo_timer_start(&r->settle, ringo_idle_settled, r->cfg->settle_ms, 0);
}

static void ringo_idle_free(ringo_handle_t *h)
{
	free(h);
}

static int bench_idle_conns_ringo(const struct bench_idle_cfg *cfg, struct bench_idle_result *res)
{
	struct ringo_loop_opts opts;
	struct ringo_loop_metrics m;
	struct sockaddr_in addr;
	socklen_t alen = sizeof(addr);
	struct idle_ringo *r;
	ringo_tcp_t *c, *next;
	int ret;

	*res = (struct bench_idle_result){ .handle_size = sizeof(ringo_tcp_t) };
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->cfg = cfg;
	r->res = res;
	ringo_loop_opts_init(&opts);
	if (cfg->park == 0)
		opts.flags |= RINGO_LOOP_NO_PARK;
	else if (cfg->park == 2)
		opts.flags |= RINGO_LOOP_PARK_READS;
	opts.park_idle_ms = cfg->park_idle_ms;
	ret = ringo_loop_init(&r->loop, &opts);
	if (ret < 0) {
		fprintf(stderr, "idle-conns: ringo_loop_init: %s\n", ringo_setup_strerror(ret));
		free(r);
		return ret;
	}
	r->loop.data = r;
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ringo_timer_init(&r->loop, &r->settle);
	ret = ringo_tcp_init(&r->loop, &r->listener);
	if (!ret)
		ret = ringo_tcp_bind(&r->listener, (struct sockaddr *)&addr, 0);
	if (!ret)
		ret = ringo_listen(&r->listener, BENCH_IDLE_BACKLOG, ringo_idle_conn);
	if (!ret)
		ret = ringo_getsockname(&r->listener, (struct sockaddr *)&addr, &alen);
	if (ret < 0) {
		fprintf(stderr, "idle-conns: ringo: listener: %s\n", ringo_strerror(ret));
		return ret;	/* the process exits: no teardown */
	}

	bench_idle_listening(res, ntohs(addr.sin_port));
	ret = ringo_run(&r->loop, RINGO_RUN_DEFAULT);
	if (ret < 0) {
		fprintf(stderr, "idle-conns: ringo: ringo_run: %s\n", ringo_strerror(ret));
		return ret;
	}
	if (ringo_loop_metrics(&r->loop, &m) == 0)
		fprintf(stderr, "idle-conns: ringo: ops_live=%llu op_records=%llu parks=%llu "
				"read_buffers=%llu sq_full_waits=%llu\n",
			(unsigned long long)m.ops_live, (unsigned long long)m.op_records,
			(unsigned long long)m.parks, (unsigned long long)m.read_buffers,
			(unsigned long long)m.sq_full_waits);
	bench_idle_hold(res);

	for (c = r->conns; c; c = next) {
		next = c->data;
		ringo_close((ringo_handle_t *)c, ringo_idle_free);
	}
	ringo_close((ringo_handle_t *)&r->listener, NULL);
	ringo_close((ringo_handle_t *)&r->settle, NULL);
	ringo_run(&r->loop, RINGO_RUN_DEFAULT);
	ret = ringo_loop_close(&r->loop);
	if (ret < 0)
		fprintf(stderr, "idle-conns: ringo: ringo_loop_close: %s\n", ringo_strerror(ret));
	free(r);
	return 0;
}

/* ---- The sides --------------------------------------------------------- */

typedef int (*idle_fn)(const struct bench_idle_cfg *cfg, struct bench_idle_result *res);

struct side {
	const char *name;
	idle_fn run;
	double rss_kb[MAX_ROUNDS];
	double growth_kb[MAX_ROUNDS];
	size_t handle_size;
};

static unsigned init_sides(struct side *s)
{
	unsigned n = 0;

	s[n++] = (struct side){ .name = "ringo", .run = bench_idle_conns_ringo };
#ifdef HAVE_LIBUV
	s[n++] = (struct side){ .name = "libuv", .run = bench_idle_conns_libuv };
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

static int run_peer(const struct side *s, const struct bench_idle_cfg *cfg)
{
	struct bench_idle_result res;
	int ret;

	/* Never outlive a parent that stopped talking to us. */
	alarm(CHILD_ALARM_S);
	bench_raise_nofile();
	ret = s->run(cfg, &res);
	if (ret < 0) {
		fprintf(stderr, "idle-conns: %s: %s\n", s->name, strerror(-ret));
		return 1;
	}
	return 0;
}

/* ---- Parent: re-execute self per library and connect to it ------------- */

struct child {
	pid_t pid;
	int to;		/* its stdin: closing it lets the child finish */
	int from;	/* its stdout: the report lines */
	char buf[512];
	size_t len;
};

/* One line from the child, within REPORT_TIMEOUT_MS; -1 on EOF or timeout. */
static int child_line(struct child *ch, char *line, size_t size)
{
	struct pollfd pfd = { .fd = ch->from, .events = POLLIN };
	uint64_t deadline = bench_now_ns() + (uint64_t)REPORT_TIMEOUT_MS * 1000000;
	char *nl;
	ssize_t r;
	int left;

	for (;;) {
		nl = memchr(ch->buf, '\n', ch->len);
		if (nl) {
			size_t n = (size_t)(nl - ch->buf);

			if (n >= size)
				n = size - 1;
			memcpy(line, ch->buf, n);
			line[n] = '\0';
			ch->len -= (size_t)(nl + 1 - ch->buf);
			memmove(ch->buf, nl + 1, ch->len);
			return 0;
		}
		if (ch->len == sizeof(ch->buf))
			return -1;
		left = (int)((int64_t)(deadline - bench_now_ns()) / 1000000);
		if (left <= 0 || poll(&pfd, 1, left) <= 0) {
			if (left > 0 && errno == EINTR)
				continue;
			fprintf(stderr, "idle-conns: no report from the child within %d s\n",
				REPORT_TIMEOUT_MS / 1000);
			return -1;
		}
		r = read(ch->from, ch->buf + ch->len, sizeof(ch->buf) - ch->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		ch->len += (size_t)r;
	}
}

static int spawn_peer(struct child *ch, const char *name, const struct bench_idle_cfg *cfg)
{
	char peer[32], conns[32], settle[32], park[32], idle[32], request[32];
	char *argv[] = { "idle-conns", peer, conns, settle, park, idle, request, NULL };
	int in[2], out[2];

	snprintf(peer, sizeof(peer), "--peer=%s", name);
	snprintf(conns, sizeof(conns), "--conns=%u", cfg->conns);
	snprintf(settle, sizeof(settle), "--settle=%u", cfg->settle_ms);
	snprintf(park, sizeof(park), "--park=%u", cfg->park);
	snprintf(idle, sizeof(idle), "--park-idle=%u", cfg->park_idle_ms);
	snprintf(request, sizeof(request), "--request=%u", cfg->request);
	if (pipe2(in, O_CLOEXEC))
		return -errno;
	if (pipe2(out, O_CLOEXEC)) {
		close(in[0]);
		close(in[1]);
		return -errno;
	}
	fflush(NULL);
	ch->pid = fork();
	if (ch->pid < 0)
		return -errno;
	if (ch->pid == 0) {
		if (dup2(in[0], STDIN_FILENO) < 0 || dup2(out[1], STDOUT_FILENO) < 0)
			_exit(127);
		execv("/proc/self/exe", argv);
		fprintf(stderr, "idle-conns: exec /proc/self/exe: %s\n", strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	ch->to = in[1];
	ch->from = out[0];
	ch->len = 0;
	return 0;
}

/* Let the child finish (EOF on its stdin) and reap it; 0 if it exited 0. */
static int child_finish(struct child *ch, bool kill_it)
{
	int status, tries;

	if (kill_it)
		kill(ch->pid, SIGKILL);
	close(ch->to);
	/* Bounded: about 30 s, then SIGKILL. */
	for (tries = 0;; tries++) {
		pid_t p = waitpid(ch->pid, &status, WNOHANG);

		if (p == ch->pid)
			break;
		if (p < 0 && errno != EINTR) {
			close(ch->from);
			return -1;
		}
		if (tries == 3000)
			kill(ch->pid, SIGKILL);
		usleep(10000);
	}
	close(ch->from);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* Blocking connects to 127.0.0.1:port, all held open in *fds, each sending
 * `request` bytes once connected. */
static int open_clients(int *fds, unsigned n, unsigned port, unsigned request)
{
	static const char req[BENCH_IDLE_REQUEST_MAX] = "GET / HTTP/1.1\r\n";
	struct sockaddr_in addr;
	unsigned i;

	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr.sin_port = htons((uint16_t)port);
	for (i = 0; i < n; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
		    (request && write(fds[i], req, request) != (ssize_t)request)) {
			fprintf(stderr, "idle-conns: client %u: %s\n", i, strerror(errno));
			if (fds[i] >= 0)
				close(fds[i]);
			while (i--)
				close(fds[i]);
			return -1;
		}
	}
	return 0;
}

static int run_round(struct side *s, const struct bench_idle_cfg *cfg, int *fds, unsigned r)
{
	struct child ch;
	char line[512];
	long rss, base;
	unsigned port, accepted, errors, i;
	size_t hsize;
	int ret;

	ret = spawn_peer(&ch, s->name, cfg);
	if (ret < 0) {
		fprintf(stderr, "idle-conns: %s: spawn: %s\n", s->name, strerror(-ret));
		return ret;
	}
	if (child_line(&ch, line, sizeof(line)) < 0 || sscanf(line, "port=%u", &port) != 1) {
		fprintf(stderr, "idle-conns: %s run %u: the child did not start\n", s->name, r);
		child_finish(&ch, true);
		return -ECHILD;
	}
	if (open_clients(fds, cfg->conns, port, cfg->request) < 0) {
		child_finish(&ch, true);
		return -EIO;
	}
	ret = child_line(&ch, line, sizeof(line));
	if (ret == 0 && sscanf(line, "rss_kb=%ld baseline_kb=%ld accepted=%u errors=%u handle_size=%zu",
			       &rss, &base, &accepted, &errors, &hsize) != 5)
		ret = -1;
	/* The child closes its side first (its close is what is cheap to wait
	 * for); then ours go. */
	if (child_finish(&ch, ret < 0) < 0 && ret == 0) {
		fprintf(stderr, "idle-conns: %s run %u: the child failed\n", s->name, r);
		ret = -1;
	}
	for (i = 0; i < cfg->conns; i++)
		close(fds[i]);
	if (ret < 0) {
		fprintf(stderr, "idle-conns: %s run %u: bad or missing report '%s'\n", s->name, r,
			line);
		return -EBADMSG;
	}
	if (accepted != cfg->conns || errors || rss <= 0 || base <= 0) {
		fprintf(stderr, "idle-conns: %s run %u: accepted %u of %u, %u errors\n", s->name, r,
			accepted, cfg->conns, errors);
		return -EBADMSG;
	}
	s->rss_kb[r] = (double)rss;
	s->growth_kb[r] = (double)(rss - base);
	s->handle_size = hsize;
	fprintf(stderr, "idle-conns: run=%u %-5s baseline_kb=%ld rss_kb=%ld growth_kb=%ld "
			"per_conn_bytes=%.0f\n",
		r, s->name, base, rss, rss - base, (double)(rss - base) * 1024 / cfg->conns);
	return 0;
}

/* ---- main -------------------------------------------------------------- */

struct args {
	unsigned conns;
	unsigned rounds;
	unsigned settle;
	unsigned park;
	unsigned park_idle;
	unsigned request;
};

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
		{ "conns", BENCH_OPT_UINT, &a->conns, "idle connections held" },
		{ "rounds", BENCH_OPT_UINT, &a->rounds, "runs per library (median kept)" },
		{ "settle", BENCH_OPT_UINT, &a->settle,
		  "ms between the last read start and the measurement" },
		{ "park", BENCH_OPT_UINT, &a->park,
		  "ringo: 0 never park, 1 park idle reads, 2 also park until the first data" },
		{ "park-idle", BENCH_OPT_UINT, &a->park_idle,
		  "ms: reads silent for 1-2x this park (0: the loop's default, 10 s)" },
		{ "request", BENCH_OPT_UINT, &a->request,
		  "bytes each client sends once, right after connecting (0: none)" },
	};
	int ret = bench_parse_args(argc, argv, opts, sizeof(opts) / sizeof(opts[0]));

	if (ret) {
		if (ret > 0)
			printf("  --peer=NAME    run one library in this process, driven by "
			       "a parent (ringo, libuv)\n");
		return ret;
	}
	if (!a->conns || !a->rounds || a->rounds > MAX_ROUNDS ||
	    a->request > BENCH_IDLE_REQUEST_MAX || a->park > 2) {
		fprintf(stderr, "idle-conns: need conns > 0, 1 <= rounds <= %u, request <= %u, "
				"park <= 2\n",
			MAX_ROUNDS, BENCH_IDLE_REQUEST_MAX);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct args a = { .conns = BENCH_IDLE_CONNS, .rounds = 1,
			  .settle = BENCH_IDLE_SETTLE_MS, .park = 1 };
	struct bench_line line = { 0 };
	struct bench_idle_cfg cfg;
	struct side s[MAX_SIDES], *peer;
	const char *peer_name = take_peer(&argc, argv);
	unsigned long limit;
	unsigned n, r, j;
	double ringo_growth, peer_growth;
	int *fds;
	int ret;

	ret = parse(argc, argv, &a);
	if (ret)
		return ret < 0 ? 2 : 0;
	cfg = (struct bench_idle_cfg){ .conns = a.conns, .settle_ms = a.settle, .park = a.park,
				       .park_idle_ms = a.park_idle, .request = a.request };
	n = init_sides(s);

	if (peer_name) {
		peer = find_side(s, n, peer_name);
		if (!peer) {
			fprintf(stderr, "idle-conns: no peer '%s' in this build\n", peer_name);
			return 2;
		}
		return run_peer(peer, &cfg);
	}

	/* A client per connection here, a socket per connection in the child:
	 * both need the fds. */
	limit = bench_raise_nofile();
	if (limit < (unsigned long)cfg.conns + FD_SLACK) {
		if (limit <= FD_SLACK) {
			fprintf(stderr, "idle-conns: RLIMIT_NOFILE is %lu: too low\n", limit);
			return 1;
		}
		fprintf(stderr, "idle-conns: RLIMIT_NOFILE hard limit %lu < %u + %u: "
				"%lu connections instead of %u\n",
			limit, cfg.conns, FD_SLACK, limit - FD_SLACK, cfg.conns);
		cfg.conns = (unsigned)(limit - FD_SLACK);
	}
	/* A child that dies must not kill us with a write to its stdin. */
	signal(SIGPIPE, SIG_IGN);
	fds = calloc(cfg.conns, sizeof(*fds));
	if (!fds)
		return 1;

	for (r = 0; r < a.rounds; r++)
		for (j = 0; j < n; j++)
			if (run_round(&s[(r + j) % n], &cfg, fds, r) < 0) {
				free(fds);
				return 1;
			}
	free(fds);
	for (j = 0; j < n; j++)
		fprintf(stderr, "idle-conns: sizeof %s TCP handle = %zu bytes\n", s[j].name,
			s[j].handle_size);

	ringo_growth = bench_median_of(s[0].growth_kb, a.rounds);
	bench_kv(&line, "conns", "%u", cfg.conns);
	bench_kv(&line, "park", "%u", cfg.park);
	bench_kv(&line, "request", "%u", cfg.request);
	bench_kv(&line, "rss_kb", "%.0f", bench_median_of(s[0].rss_kb, a.rounds));
	bench_kv(&line, "per_conn_bytes", "%.0f", ringo_growth * 1024 / cfg.conns);
	peer = find_side(s, n, "libuv");
	if (peer) {
		peer_growth = bench_median_of(peer->growth_kb, a.rounds);
		bench_kv(&line, "libuv_rss_kb", "%.0f", bench_median_of(peer->rss_kb, a.rounds));
		bench_kv(&line, "libuv_per_conn_bytes", "%.0f", peer_growth * 1024 / cfg.conns);
		bench_kv(&line, "ratio", "%.3f", peer_growth > 0 ? ringo_growth / peer_growth : 0);
	} else {
		bench_kv(&line, "libuv", "absent");
	}
	bench_line_end(&line);
	return 0;
}
