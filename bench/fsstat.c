/* SPDX-License-Identifier: MIT */
/*
 * stat of one path, libuv's fs_stat benchmark shape (test/benchmark-fs-stat.c:
 * 100k asynchronous stats of one path with up to 32 in flight): ringo's
 * ringo_fs_stat (one IORING_OP_STATX each) against libuv's uv_fs_stat (a
 * statx on the threadpool) and a hand-written liburing loop, in one run.
 *
 * The path is a small file made in a fresh directory under $TMPDIR (or
 * /tmp) and removed at the end; its inode and size, from stat(2), are what
 * every one of the --count (100000) results must report. --inflight (32)
 * stats are kept in flight: each completion checks its result and starts
 * the next until --count were started. Every run first does an untimed
 * tenth of the count on the same loop (threads, io-wq workers and dentry
 * caches warm up), then the timed --count.
 *
 * Runs alternate between the sides (the order reversed every round), the
 * median of --rounds runs is kept, and stdout gets one line:
 *   stats_per_sec=N libuv=N liburing=N ratio_libuv=R ratio_liburing=R
 *   cpu_ns=C libuv_cpu_ns=C liburing_cpu_ns=C cpu_ratio_libuv=R cpu_ratio_liburing=R
 * with libuv=absent / liburing=absent (and no ratio) for a peer not built.
 * Ratios are ringo's advantage, as in bench/fsread.c (process CPU ns per
 * stat: the io-wq workers that run statx count too).
 * Any wrong result makes the program exit 1 with no line.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include <ringo.h>

#include "bench_fs.h"
#include "bench_sides.h"

#define MAX_ROUNDS BENCH_SIDES_MAX_ROUNDS

/* ---- The ringo side ---------------------------------------------------- */

struct st_run;

struct st_slot {
	ringo_fs_t req;
	struct st_run *run;
};

struct st_run {
	ringo_loop_t loop;
	const struct bench_fsstat_cfg *cfg;
	struct st_slot *slots;
	unsigned count;		/* stats to start in this phase */
	unsigned started;
	unsigned done;
	uint64_t errors;
};

static void stat_cb(ringo_fs_t *req);

static int issue(struct st_run *r, struct st_slot *s)
{
	int ret = ringo_fs_stat(&r->loop, &s->req, r->cfg->path, stat_cb);

	if (ret == 0)
		r->started++;
	return ret;
}

static void stat_cb(ringo_fs_t *req)
{
	struct st_slot *s = BENCH_CONTAINER_OF(req, struct st_slot, req);
	struct st_run *r = s->run;

	r->done++;
	if (req->result != 0 || req->statbuf.ino != r->cfg->ino ||
	    req->statbuf.size != r->cfg->size || !S_ISREG(req->statbuf.mode)) {
		r->errors++;
		return;
	}
	if (r->started < r->count && issue(r, s) < 0)
		r->errors++;
}

/* `count` stats, cfg->inflight at a time; ns it took, or -errno. */
static int64_t st_phase(struct st_run *r, unsigned count)
{
	uint64_t start = bench_now_ns();
	unsigned i;
	int ret;

	r->count = count;
	r->started = r->done = 0;
	for (i = 0; i < r->cfg->inflight && i < count; i++) {
		ret = issue(r, &r->slots[i]);
		if (ret < 0) {
			r->count = 0;	/* drain what started, so the loop can close */
			ringo_run(&r->loop, RINGO_RUN_DEFAULT);
			return ret;
		}
	}
	ret = ringo_run(&r->loop, RINGO_RUN_DEFAULT);
	if (ret < 0)
		return ret;
	if (ret != 0 || r->done != count || r->started != count)
		r->errors++;
	return (int64_t)(bench_now_ns() - start);
}

static int loop_init(ringo_loop_t *loop, unsigned entries)
{
	struct ringo_loop_opts o;

	ringo_loop_opts_init(&o);
	o.entries = entries;
	return ringo_loop_init(loop, &o);
}

static int bench_fsstat_ringo(const struct bench_fsstat_cfg *cfg, struct bench_fsstat_result *res)
{
	struct st_run *r;
	uint64_t cpu = 0;
	int64_t ns;
	unsigned i;
	int ret;

	*res = (struct bench_fsstat_result){ 0 };
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->cfg = cfg;
	r->slots = calloc(cfg->inflight, sizeof(*r->slots));
	if (!r->slots) {
		free(r);
		return -ENOMEM;
	}
	for (i = 0; i < cfg->inflight; i++)
		r->slots[i].run = r;
	ret = loop_init(&r->loop, cfg->entries);
	if (ret < 0)
		goto out_free;
	ns = st_phase(r, cfg->count / 10 + 1);
	if (ns >= 0) {
		cpu = bench_cpu_ns();
		ns = st_phase(r, cfg->count);
		cpu = bench_cpu_ns() - cpu;
	}
	if (ns < 0) {
		ret = (int)ns;
	} else {
		res->stats = r->done;
		res->stats_per_sec = (double)r->done * (double)BENCH_NSEC_PER_SEC / (double)ns;
		res->cpu_ns = r->done ? (double)cpu / (double)r->done : 0;
	}
	if (ringo_loop_close(&r->loop) < 0)
		r->errors++;
out_free:
	res->errors = r->errors;
	free(r->slots);
	free(r);
	return ret;
}

/* The setup the loop's ring really got, for the liburing peer to copy. */
static int probe_loop_ring(struct bench_fsstat_cfg *cfg)
{
	const unsigned copy = RINGO_SETUP_SINGLE_ISSUER | RINGO_SETUP_DEFER_TASKRUN |
			      RINGO_SETUP_COOP_TASKRUN | RINGO_SETUP_TASKRUN_FLAG;
	struct ringo_ring *ring;
	ringo_loop_t loop;
	int ret;

	ret = loop_init(&loop, cfg->entries);
	if (ret < 0)
		return ret;
	ring = ringo_loop_ring(&loop);
	cfg->ring_flags = ring->flags & copy;
	cfg->entries = ring->sq.ring_entries;
	cfg->cq_entries = ring->cq.ring_entries;
	ringo_loop_close(&loop);
	return 0;
}

/* ---- Interleaved runs -------------------------------------------------- */

typedef int (*fsstat_fn)(const struct bench_fsstat_cfg *cfg, struct bench_fsstat_result *res);

static int run_side(const struct bench_side *s, const void *arg, int i, double *rate,
		    double *cpu_ns)
{
	const struct bench_fsstat_cfg *cfg = arg;
	struct bench_fsstat_result res;
	int ret;

	ret = ((fsstat_fn)s->impl)(cfg, &res);
	if (ret < 0) {
		fprintf(stderr, "fsstat: %s: %s\n", s->name, ringo_strerror(ret));
		return ret;
	}
	if (res.errors || res.stats != cfg->count) {
		fprintf(stderr, "fsstat: %s: %llu bad results, %llu of %u stats\n", s->name,
			(unsigned long long)res.errors, (unsigned long long)res.stats, cfg->count);
		return -EBADMSG;
	}
	*rate = res.stats_per_sec;
	*cpu_ns = res.cpu_ns;
	fprintf(stderr, "fsstat: run=%d  %-8s %.0f stats/s, %.0f cpu ns/stat\n", i, s->name,
		res.stats_per_sec, res.cpu_ns);
	return 0;
}

/* ---- main -------------------------------------------------------------- */

struct args {
	unsigned count;
	unsigned inflight;
	unsigned rounds;
	unsigned entries;
	unsigned only;
};

static int parse(int argc, char **argv, struct args *a)
{
	const struct bench_opt opts[] = {
		{ "count", BENCH_OPT_UINT, &a->count, "stats per timed run" },
		{ "inflight", BENCH_OPT_UINT, &a->inflight, "stats kept in flight" },
		{ "rounds", BENCH_OPT_UINT, &a->rounds, "timed runs per side (median kept)" },
		{ "entries", BENCH_OPT_UINT, &a->entries, "SQ size of the rings" },
		{ "only", BENCH_OPT_UINT, &a->only, "1: ringo, 2: libuv, 3: liburing alone (profiling)" },
	};
	int ret = bench_parse_args(argc, argv, opts, sizeof(opts) / sizeof(opts[0]));

	if (ret)
		return ret;
	if (!a->count || !a->rounds || a->rounds > MAX_ROUNDS || !a->inflight ||
	    a->inflight > BENCH_FSSTAT_MAX_INFLIGHT || a->inflight > a->entries || a->only > 3) {
		fprintf(stderr,
			"fsstat: need count > 0, 1 <= rounds <= %u, "
			"1 <= inflight <= min(entries, %u), only <= 3\n",
			MAX_ROUNDS, BENCH_FSSTAT_MAX_INFLIGHT);
		return -EINVAL;
	}
	return 0;
}

/* The file to stat, 4 KiB, in a directory of our own. */
static int make_target(char *dir, size_t dirlen, char *path, size_t pathlen, struct stat *st)
{
	static const char data[4096];
	const char *tmp = getenv("TMPDIR");
	int fd, err = 0;

	if (!tmp || !*tmp)
		tmp = "/tmp";
	if ((size_t)snprintf(dir, dirlen, "%s/ringo-fsstat.XXXXXX", tmp) >= dirlen)
		return -ENAMETOOLONG;
	if (!mkdtemp(dir))
		return -errno;
	if ((size_t)snprintf(path, pathlen, "%s/target", dir) >= pathlen) {
		rmdir(dir);
		return -ENAMETOOLONG;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, data, sizeof(data)) != (ssize_t)sizeof(data) || fstat(fd, st))
		err = errno ? -errno : -EIO;
	if (fd >= 0)
		close(fd);
	if (err) {
		unlink(path);
		rmdir(dir);
	}
	return err;
}

int main(int argc, char **argv)
{
	struct args a = { .count = BENCH_FSSTAT_COUNT, .inflight = BENCH_FSSTAT_INFLIGHT,
			  .rounds = 11, .entries = 256 };
	struct bench_fsstat_cfg cfg = { 0 };
	char dir[PATH_MAX], path[PATH_MAX];
	static const void *const impls[3] = {
		(const void *)bench_fsstat_ringo, PEER_LIBUV(bench_fsstat_libuv),
		PEER_LIBURING(bench_fsstat_liburing)
	};
	struct bench_side s[BENCH_SIDES_MAX];
	struct stat st;
	unsigned n;
	int ret;

	ret = parse(argc, argv, &a);
	if (ret)
		return ret < 0 ? 2 : 0;
	n = bench_sides_pick(s, impls, a.only);
	if (!n) {
		fprintf(stderr, "fsstat: that peer is not built\n");
		return 2;
	}
	cfg.count = a.count;
	cfg.inflight = a.inflight;
	cfg.entries = a.entries;
	ret = probe_loop_ring(&cfg);
	if (ret < 0) {
		fprintf(stderr, "fsstat: ringo_loop_init: %s\n", ringo_setup_strerror(ret));
		return 1;
	}
	errno = 0;
	ret = make_target(dir, sizeof(dir), path, sizeof(path), &st);
	if (ret < 0) {
		fprintf(stderr, "fsstat: test file in %s: %s\n", dir, strerror(-ret));
		return 1;
	}
	cfg.path = path;
	cfg.ino = st.st_ino;
	cfg.size = (uint64_t)st.st_size;
	fprintf(stderr, "fsstat: %s, %u stats, %u in flight, ring flags 0x%x\n", path, cfg.count,
		cfg.inflight, cfg.ring_flags);
	ret = bench_sides_run(s, n, run_side, &cfg, a.rounds, false, "fsstat", "stats/s");
	unlink(path);
	rmdir(dir);
	if (ret < 0)
		return 1;
	if (a.only) {
		printf("%s_stats_per_sec=%.0f\n", s[0].name, s[0].median);
		return 0;
	}
	bench_sides_print(s, n, "stats_per_sec");
	return 0;
}
