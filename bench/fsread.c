/* SPDX-License-Identifier: MIT */
/*
 * Random 4 KiB reads from a page-cached file: ringo's file requests against
 * libuv's threadpool reads and a hand-written liburing loop, in one run.
 *
 * The file (--size-mb, 256 MiB) is made in a fresh directory under $TMPDIR
 * (or /tmp), filled so that every 8-byte word is a function of its offset
 * (bench_fs.h), synced so no writeback runs during the measurement, read
 * once end to end (which also checks all of it) so that every page is in
 * the page cache, and checked resident with mincore. The file and its
 * directory are unlinked as soon as the file is open: the data lives as
 * long as the fd, and nothing is left behind however the program ends.
 *
 * Every side keeps --inflight (64) reads of one aligned 4 KiB block in
 * flight; a completion checks its length and three words of its block
 * (whose old values were poisoned before the read), then issues the next
 * read at a random block at once. Warm-up, then --seconds timed, then the
 * reads in flight drain; the clock is read every 64 completions.
 *
 * ringo: ringo_fs_read on ringo_fs_t requests, ringo_run(DEFAULT).
 * libuv (bench/peers/fsread_libuv.c): uv_fs_read on libuv's threadpool.
 * liburing (bench/peers/fsread_liburing.c): io_uring_prep_read, the ring
 * set up with the sizes and flags ringo's loop ring got.
 *
 * Runs alternate between the sides (the order reversed every round) and
 * the median of --rounds runs is kept. stdout gets one line:
 *   reads_per_sec=N libuv=N liburing=N ratio_libuv=R ratio_liburing=R
 *   cpu_ns=C libuv_cpu_ns=C liburing_cpu_ns=C cpu_ratio_libuv=R cpu_ratio_liburing=R
 * with libuv=absent / liburing=absent (and no ratio) for a peer not built.
 * Ratios are ringo's advantage (ringo's rate / the peer's; the peer's CPU
 * ns per read / ringo's). The CPU figures count every thread of the
 * process and no time spent preempted: on a busy machine they are the
 * steadier comparison.
 * Any wrong read makes the program exit 1 with no line.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <ringo.h>

#include "bench_fs.h"
#include "bench_sides.h"

#define MAX_ROUNDS BENCH_SIDES_MAX_ROUNDS
#define CHUNK (1U << 20)	/* fill and warm-up I/O size */

/* ---- The ringo side ---------------------------------------------------- */

struct fr_run;

struct fr_slot {
	ringo_fs_t req;
	struct fr_run *run;
	void *buf;
	uint64_t off;		/* offset of the read in flight */
	uint64_t completions;
};

struct fr_run {
	ringo_loop_t loop;
	const struct bench_fsread_cfg *cfg;
	struct fr_slot *slots;
	char *bufs;
	uint64_t rng;
	bool stopping;
	uint64_t deadline;
	uint64_t done;		/* callbacks in this phase */
	uint64_t submitted;	/* reads started in this phase */
	uint64_t errors;
	uint64_t iterations;	/* loop iterations in this phase */
};

static void read_cb(ringo_fs_t *req);

static int issue(struct fr_run *r, struct fr_slot *s)
{
	int ret;

	s->off = bench_fsread_next(&r->rng, r->cfg->blocks);
	bench_fs_poison(s->buf, s->off, BENCH_FSREAD_BLOCK);
	ret = ringo_fs_read(&r->loop, &s->req, r->cfg->fd, s->buf, BENCH_FSREAD_BLOCK,
			    (int64_t)s->off, read_cb);
	if (ret == 0)
		r->submitted++;
	return ret;
}

static void read_cb(ringo_fs_t *req)
{
	struct fr_slot *s = BENCH_CONTAINER_OF(req, struct fr_slot, req);
	struct fr_run *r = s->run;

	if (req->result != BENCH_FSREAD_BLOCK || !bench_fs_check(s->buf, s->off, BENCH_FSREAD_BLOCK)) {
		r->errors++;
		return;
	}
	s->completions++;
	r->done++;
	if (!r->stopping && bench_loop_expired(r->done, r->deadline))
		r->stopping = true;
	if (!r->stopping && issue(r, s) < 0)
		r->errors++;
}

/* One phase: cfg->inflight reads in flight until the deadline, then drain. */
static int fr_phase(struct fr_run *r, uint64_t deadline)
{
	struct ringo_loop_metrics m0, m1;
	unsigned i;
	int ret;

	r->stopping = false;
	r->deadline = deadline;
	r->done = r->submitted = 0;
	ringo_loop_metrics(&r->loop, &m0);
	for (i = 0; i < r->cfg->inflight; i++) {
		ret = issue(r, &r->slots[i]);
		if (ret < 0) {
			/* Drain what did start, so the loop can close. */
			r->stopping = true;
			ringo_run(&r->loop, RINGO_RUN_DEFAULT);
			return ret;
		}
	}
	ret = ringo_run(&r->loop, RINGO_RUN_DEFAULT);
	if (ret < 0)
		return ret;
	ringo_loop_metrics(&r->loop, &m1);
	r->iterations = m1.iterations - m0.iterations;
	if (ret != 0 || r->done != r->submitted || m1.completions - m0.completions != r->done ||
	    m1.stale_cqes != m0.stale_cqes)
		r->errors++;
	return 0;
}

static int loop_init(ringo_loop_t *loop, unsigned entries)
{
	struct ringo_loop_opts o;

	ringo_loop_opts_init(&o);
	o.entries = entries;
	return ringo_loop_init(loop, &o);
}

static int fr_alloc(struct fr_run *r, const struct bench_fsread_cfg *cfg)
{
	unsigned i;

	r->cfg = cfg;
	r->rng = BENCH_FSREAD_SEED;
	r->slots = calloc(cfg->inflight, sizeof(*r->slots));
	if (!r->slots ||
	    posix_memalign((void **)&r->bufs, BENCH_FSREAD_BLOCK,
			   (size_t)cfg->inflight * BENCH_FSREAD_BLOCK)) {
		free(r->slots);
		return -ENOMEM;
	}
	for (i = 0; i < cfg->inflight; i++) {
		r->slots[i].run = r;
		r->slots[i].buf = r->bufs + (size_t)i * BENCH_FSREAD_BLOCK;
	}
	return 0;
}

static int bench_fsread_ringo(const struct bench_fsread_cfg *cfg, struct bench_fsread_result *res)
{
	uint64_t start, elapsed, cpu, total = 0;
	struct fr_run *r;
	unsigned i;
	int ret;

	*res = (struct bench_fsread_result){ 0 };
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	ret = fr_alloc(r, cfg);
	if (ret < 0) {
		free(r);
		return ret;
	}
	ret = loop_init(&r->loop, cfg->entries);
	if (ret < 0)
		goto out_free;
	/* Warm-up: enables the ring, faults in records, slabs and buffers. */
	ret = fr_phase(r, bench_now_ns() + cfg->warmup_ns);
	if (ret < 0)
		goto out;
	total += r->done;
	cpu = bench_cpu_ns();
	start = bench_now_ns();
	ret = fr_phase(r, start + cfg->duration_ns);
	elapsed = bench_now_ns() - start;
	cpu = bench_cpu_ns() - cpu;
	if (ret < 0)
		goto out;
	total += r->done;
	res->reads = r->done;
	res->reads_per_sec = (double)r->done * (double)BENCH_NSEC_PER_SEC / (double)elapsed;
	res->cpu_ns = r->done ? (double)cpu / (double)r->done : 0;
	res->enters = r->iterations;
	for (i = 0; i < cfg->inflight; i++)
		total -= r->slots[i].completions;
	if (total)
		r->errors++;
out:
	if (ringo_loop_close(&r->loop) < 0)
		r->errors++;
out_free:
	res->errors = r->errors;
	free(r->bufs);
	free(r->slots);
	free(r);
	return ret;
}

/* The setup the loop's ring really got, for the liburing peer to copy. */
static int probe_loop_ring(struct bench_fsread_cfg *cfg, unsigned *ring_flags)
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
	*ring_flags = ring->flags;
	cfg->ring_flags = ring->flags & copy;
	cfg->entries = ring->sq.ring_entries;
	cfg->cq_entries = ring->cq.ring_entries;
	ringo_loop_close(&loop);
	return 0;
}

/* ---- The test file ------------------------------------------------------ */

/* A directory of our own, the file in it, both unlinked once open. */
static int open_test_file(char *dir, size_t dirlen)
{
	const char *tmp = getenv("TMPDIR");
	char path[PATH_MAX];
	int fd, err;

	if (!tmp || !*tmp)
		tmp = "/tmp";
	if ((size_t)snprintf(dir, dirlen, "%s/ringo-fsread.XXXXXX", tmp) >= dirlen)
		return -ENAMETOOLONG;
	if (!mkdtemp(dir))
		return -errno;
	if ((size_t)snprintf(path, sizeof(path), "%s/data", dir) >= sizeof(path)) {
		rmdir(dir);
		return -ENAMETOOLONG;
	}
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	err = fd < 0 ? -errno : 0;
	if (fd >= 0)
		unlink(path);
	rmdir(dir);
	return fd < 0 ? err : fd;
}

/* Write the pattern, sync it (no writeback later), read and check it all. */
static int fill_and_warm(int fd, uint64_t size)
{
	uint64_t *chunk, off;
	ssize_t n;
	int ret = 0;

	if (posix_memalign((void **)&chunk, 4096, CHUNK))
		return -ENOMEM;
	for (off = 0; off < size && !ret; off += CHUNK) {
		bench_fs_fill(chunk, off, CHUNK);
		n = pwrite(fd, chunk, CHUNK, (off_t)off);
		if (n != CHUNK)
			ret = n < 0 ? -errno : -EIO;
	}
	if (!ret && fdatasync(fd))
		ret = -errno;
	for (off = 0; off < size && !ret; off += CHUNK) {
		n = pread(fd, chunk, CHUNK, (off_t)off);
		if (n != CHUNK)
			ret = n < 0 ? -errno : -EIO;
		else if (chunk[0] != bench_fs_word(off) ||
			 chunk[CHUNK / 8 - 1] != bench_fs_word(off + CHUNK - 8))
			ret = -EBADMSG;
	}
	free(chunk);
	return ret;
}

/* Percentage of the file's pages in the page cache. */
static double resident_pct(int fd, uint64_t size)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t pages = (size_t)((size + (uint64_t)page - 1) / (uint64_t)page), in = 0, i;
	unsigned char *vec;
	bool ok;
	void *map;

	map = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return -1;
	vec = malloc(pages);
	ok = vec && !mincore(map, (size_t)size, vec);
	for (i = 0; ok && i < pages; i++)
		in += vec[i] & 1;
	munmap(map, (size_t)size);
	free(vec);
	return ok ? 100.0 * (double)in / (double)pages : -1;
}

/* ---- Interleaved runs -------------------------------------------------- */

typedef int (*fsread_fn)(const struct bench_fsread_cfg *cfg, struct bench_fsread_result *res);

static int run_side(const struct bench_side *s, const void *arg, int i, double *rate,
		    double *cpu_ns)
{
	const struct bench_fsread_cfg *cfg = arg;
	struct bench_fsread_result res;
	int ret;

	ret = ((fsread_fn)s->impl)(cfg, &res);
	if (ret < 0) {
		fprintf(stderr, "fsread: %s: %s\n", s->name, ringo_strerror(ret));
		return ret;
	}
	if (res.errors) {
		fprintf(stderr, "fsread: %s: %llu bad reads\n", s->name,
			(unsigned long long)res.errors);
		return -EBADMSG;
	}
	*rate = res.reads_per_sec;
	*cpu_ns = res.cpu_ns;
	if (i < 0) {
		fprintf(stderr, "fsread: warmup %-8s %.0f reads/s\n", s->name, res.reads_per_sec);
		return 0;
	}
	fprintf(stderr, "fsread: run=%d  %-8s %.0f reads/s (%llu reads", i, s->name,
		res.reads_per_sec, (unsigned long long)res.reads);
	if (res.enters)
		fprintf(stderr, ", %.1f per enter", (double)res.reads / (double)res.enters);
	fprintf(stderr, ", %.0f cpu ns/read)\n", res.cpu_ns);
	return 0;
}

/* ---- main -------------------------------------------------------------- */

struct args {
	double seconds;
	double warmup;
	unsigned rounds;
	unsigned entries;
	unsigned inflight;
	unsigned size_mb;
	unsigned only;
};

static int parse(int argc, char **argv, struct args *a)
{
	const struct bench_opt opts[] = {
		{ "seconds", BENCH_OPT_DOUBLE, &a->seconds, "timed run length per side and round" },
		{ "warmup", BENCH_OPT_DOUBLE, &a->warmup, "untimed seconds per run (and once per side first)" },
		{ "rounds", BENCH_OPT_UINT, &a->rounds, "timed runs per side (median kept)" },
		{ "entries", BENCH_OPT_UINT, &a->entries, "SQ size of the rings" },
		{ "inflight", BENCH_OPT_UINT, &a->inflight, "reads kept in flight" },
		{ "size-mb", BENCH_OPT_UINT, &a->size_mb, "file size in MiB, a power of two" },
		{ "only", BENCH_OPT_UINT, &a->only, "1: ringo, 2: libuv, 3: liburing alone (profiling)" },
	};
	int ret = bench_parse_args(argc, argv, opts, sizeof(opts) / sizeof(opts[0]));

	if (ret)
		return ret;
	if (!a->rounds || a->rounds > MAX_ROUNDS || !a->inflight ||
	    a->inflight > BENCH_FSREAD_MAX_INFLIGHT || a->inflight > a->entries ||
	    a->seconds <= 0 || a->warmup < 0 || !a->size_mb || a->size_mb > 65536 ||
	    (a->size_mb & (a->size_mb - 1)) || a->only > 3) {
		fprintf(stderr,
			"fsread: need 1 <= rounds <= %u, 1 <= inflight <= min(entries, %u), "
			"seconds > 0, warmup >= 0, size-mb a power of two <= 65536, only <= 3\n",
			MAX_ROUNDS, BENCH_FSREAD_MAX_INFLIGHT);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct args a = { .seconds = 1, .warmup = 0.2, .rounds = 5, .entries = 256,
			  .inflight = 64, .size_mb = 256 };
	struct bench_fsread_cfg cfg = { 0 };
	static const void *const impls[3] = {
		(const void *)bench_fsread_ringo, PEER_LIBUV(bench_fsread_libuv),
		PEER_LIBURING(bench_fsread_liburing)
	};
	struct bench_side s[BENCH_SIDES_MAX];
	char dir[PATH_MAX];
	unsigned n, ring_flags = 0;
	uint64_t size;
	int fd, ret;

	ret = parse(argc, argv, &a);
	if (ret)
		return ret < 0 ? 2 : 0;
	n = bench_sides_pick(s, impls, a.only);
	if (!n) {
		fprintf(stderr, "fsread: that peer is not built\n");
		return 2;
	}
	size = (uint64_t)a.size_mb << 20;
	cfg.entries = a.entries;
	cfg.inflight = a.inflight;
	cfg.blocks = size / BENCH_FSREAD_BLOCK;
	cfg.warmup_ns = bench_sec_to_ns(a.warmup);
	cfg.duration_ns = bench_sec_to_ns(a.seconds);
	ret = probe_loop_ring(&cfg, &ring_flags);
	if (ret < 0) {
		fprintf(stderr, "fsread: ringo_loop_init: %s\n", ringo_setup_strerror(ret));
		return 1;
	}
	fd = open_test_file(dir, sizeof(dir));
	if (fd < 0) {
		fprintf(stderr, "fsread: test file in %s: %s\n", dir, strerror(-fd));
		return 1;
	}
	cfg.fd = fd;
	ret = fill_and_warm(fd, size);
	if (ret < 0) {
		fprintf(stderr, "fsread: filling %u MiB: %s\n", a.size_mb, strerror(-ret));
		close(fd);
		return 1;
	}
	fprintf(stderr, "fsread: %u MiB file, %.1f%% cached; ring flags 0x%x, sq %u, cq %u, "
		"%u in flight\n", a.size_mb, resident_pct(fd, size), ring_flags, cfg.entries,
		cfg.cq_entries, cfg.inflight);
	ret = bench_sides_run(s, n, run_side, &cfg, a.rounds, true, "fsread", "reads/s");
	close(fd);
	if (ret < 0)
		return 1;
	if (a.only) {
		printf("%s_reads_per_sec=%.0f\n", s[0].name, s[0].median);
		return 0;
	}
	bench_sides_print(s, n, "reads_per_sec");
	return 0;
}
