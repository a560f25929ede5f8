/* SPDX-License-Identifier: MIT */
/*
 * What the file benchmarks (bench/fsread.c, bench/fsstat.c) share with
 * their peers in bench/peers/: the workload descriptions, the content of
 * the test file as a function of the offset (so every read can be checked
 * in a few loads), a small PRNG for the offsets, and the peer prototypes.
 * Kept apart from bench_util.h so that each benchmark family has one
 * header of its own.
 */
#ifndef RINGO_BENCH_FS_H
#define RINGO_BENCH_FS_H

#include "bench_util.h"

/*
 * CPU time of the whole process (every thread: libuv's pool, the kernel's
 * io-wq workers of our rings) in ns. On a machine shared with other work,
 * CPU per operation moves far less than wall-clock rates do, since time
 * spent preempted is not counted.
 */
static inline uint64_t bench_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * BENCH_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* ---- Test file content ------------------------------------------------- */

/*
 * The 8-byte word at byte offset `off` (a multiple of 8) of the test file:
 * a bijection of the word index, so two different blocks never hold the
 * same words and a read that lands at the wrong offset, or does not land
 * at all, is caught.
 */
static inline uint64_t bench_fs_word(uint64_t off)
{
	return (off >> 3) * 0x9e3779b97f4a7c15ULL + 0x2545f4914f6cdd1dULL;
}

/* Fill buf (len a multiple of 8) with the file content at offset off. */
static inline void bench_fs_fill(void *buf, uint64_t off, size_t len)
{
	uint64_t *w = buf;
	size_t i;

	for (i = 0; i < len / 8; i++)
		w[i] = bench_fs_word(off + i * 8);
}

/*
 * The words of a block that every read checks: the first, one in the
 * middle and the last. Three loads per 4 KiB keep the check off the
 * profile while a short, shifted or missing read still fails it.
 */
#define BENCH_FS_CHECKS 3

static inline size_t bench_fs_check_at(unsigned i, size_t block)
{
	return i == 0 ? 0 : i == 1 ? block / 2 + 8 : block - 8;
}

/*
 * Before a read: overwrite the checked words with values the file cannot
 * have there, so a read that reports success without writing the buffer
 * fails bench_fs_check even when it repeats the block read before.
 */
static inline void bench_fs_poison(void *buf, uint64_t off, size_t block)
{
	unsigned i;
	size_t at;

	for (i = 0; i < BENCH_FS_CHECKS; i++) {
		at = bench_fs_check_at(i, block);
		*(uint64_t *)(void *)((char *)buf + at) = ~bench_fs_word(off + at);
	}
}

/* After a read: true if buf holds the block at off. */
static inline bool bench_fs_check(const void *buf, uint64_t off, size_t block)
{
	unsigned i;
	size_t at;

	for (i = 0; i < BENCH_FS_CHECKS; i++) {
		at = bench_fs_check_at(i, block);
		if (*(const uint64_t *)(const void *)((const char *)buf + at) !=
		    bench_fs_word(off + at))
			return false;
	}
	return true;
}

/* xorshift64*: offsets for the random reads; same seed on every side. */
static inline uint64_t bench_fs_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* ---- Random reads (bench/fsread.c) -------------------------------------- */

#define BENCH_FSREAD_BLOCK 4096
#define BENCH_FSREAD_MAX_INFLIGHT 1024
#define BENCH_FSREAD_SEED 0x853c49e6748fea9bULL

/*
 * `inflight` reads of one aligned BENCH_FSREAD_BLOCK each from `fd`, at
 * random blocks of the file's `blocks` (a power of two); every completion
 * checks its bytes and issues the next read at once. Warm-up, then the
 * timed part, each ending with a drain; the clock is read every
 * BENCH_LOOP_CLOCK_EVERY completions (bench_loop_expired) on every side.
 */
struct bench_fsread_cfg {
	int fd;
	uint64_t blocks;
	unsigned inflight;
	unsigned entries;	/* io_uring peers: SQ size */
	unsigned cq_entries;	/* io_uring peers: CQ size (IORING_SETUP_CQSIZE) */
	unsigned ring_flags;	/* io_uring peers: further IORING_SETUP_* flags */
	uint64_t warmup_ns;
	uint64_t duration_ns;
};

struct bench_fsread_result {
	double reads_per_sec;
	double cpu_ns;		/* process CPU ns per read in the timed part */
	uint64_t reads;		/* completions in the timed part */
	uint64_t errors;	/* wrong length or bytes, failed reads, count mismatch */
	uint64_t enters;	/* io_uring_enter calls in the timed part; 0: not counted */
};

/* The byte offset of the next random read. */
static inline uint64_t bench_fsread_next(uint64_t *rng, uint64_t blocks)
{
	return (bench_fs_rand(rng) & (blocks - 1)) * BENCH_FSREAD_BLOCK;
}

/*
 * The workload through libuv (bench/peers/fsread_libuv.c, HAVE_LIBUV:
 * uv_fs_read on the threadpool) and hand-written on liburing
 * (bench/peers/fsread_liburing.c, HAVE_LIBURING). Return 0 with *res
 * filled (errors for the caller to check), or -errno when set-up failed.
 */
int bench_fsread_libuv(const struct bench_fsread_cfg *cfg, struct bench_fsread_result *res);
int bench_fsread_liburing(const struct bench_fsread_cfg *cfg, struct bench_fsread_result *res);

/* ---- stat of one path (bench/fsstat.c) ------------------------------- */

#define BENCH_FSSTAT_COUNT 100000
#define BENCH_FSSTAT_INFLIGHT 32
#define BENCH_FSSTAT_MAX_INFLIGHT 1024

/*
 * libuv's fs_stat benchmark shape: `count` stats of `path`, `inflight` at a
 * time, each completion starting the next until `count` were started.
 * Every result must name the file: its inode and size are checked.
 */
struct bench_fsstat_cfg {
	const char *path;
	uint64_t ino;		/* what every stat must report */
	uint64_t size;
	unsigned count;
	unsigned inflight;
	unsigned entries;	/* io_uring peers, as for fsread */
	unsigned cq_entries;
	unsigned ring_flags;
};

struct bench_fsstat_result {
	double stats_per_sec;
	double cpu_ns;		/* process CPU ns per stat in the timed part */
	uint64_t stats;		/* completions */
	uint64_t errors;	/* failed stats, wrong inode or size, count mismatch */
};

int bench_fsstat_libuv(const struct bench_fsstat_cfg *cfg, struct bench_fsstat_result *res);
int bench_fsstat_liburing(const struct bench_fsstat_cfg *cfg, struct bench_fsstat_result *res);

#endif
