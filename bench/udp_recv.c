/* SPDX-License-Identifier: MIT */
/*
 * UDP receive under a flood: what multishot recvmsg into the loop's
 * datagram pool saves over single-shot recvmsg (RINGO_LOOP_NO_MULTISHOT),
 * the same library, the same workload.
 *
 * Each run: a fresh loop with one UDP handle bound to 127.0.0.1 (port 0)
 * receiving; a sender thread with a plain socket connected to it sends
 * --size byte datagrams (each numbered) with sendmmsg, --batch at a time,
 * as fast as it can for --seconds. The sender does not wait for the
 * receiver: what the receiver cannot take, the kernel drops at its socket
 * buffer, so the received rate is the receiver's capacity on this machine.
 * Every datagram received is checked (length, and numbers only ever
 * increase: one sender, one socket, loopback keeps order).
 *
 * With two CPUs or more, the receiving thread runs on CPU 0 and the sender
 * on CPU 1 (--pin=0 leaves placement to the scheduler, which makes the
 * figures bimodal: the two threads sharing a CPU or not).
 *
 * Measured on the receiving thread only: datagrams per second, its CPU time
 * (user + system, getrusage RUSAGE_THREAD: the steadier number on a shared
 * machine) per datagram, and SQEs and loop iterations per datagram from
 * ringo_loop_metrics. Runs alternate between the two modes (--rounds each,
 * the order flipping every round) and medians are kept.
 *
 * stdout gets one line:
 *   multishot_dgrams_per_sec=N singleshot_dgrams_per_sec=N
 *   multishot_cpu_ns_per_dgram=X singleshot_cpu_ns_per_dgram=X
 *   multishot_sqes_per_dgram=X singleshot_sqes_per_dgram=X ratio_cpu=R
 * (ratio_cpu = multishot / single-shot CPU per datagram). Per-run figures
 * go to stderr. Any check failing exits 1 with no line.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>

#include <ringo.h>

#include "bench_util.h"

#define MAX_ROUNDS 15
#define MAX_BATCH 256
#define MAX_SIZE 65507

struct args {
	unsigned pin;
	unsigned rounds;
	unsigned size;
	unsigned batch;
	double seconds;
};

struct run {
	ringo_loop_t loop;
	ringo_udp_t udp;
	ringo_timer_t stop;
	struct sockaddr_in addr;
	unsigned size;
	uint64_t received;
	uint64_t last_seq;
	int bad;
	int sending;		/* cleared (atomically) to end the sender */
	unsigned batch;
	unsigned pin;
};

/* Run the calling thread on `cpu` only, when asked and there is one. */
static void pin_to(unsigned pin, int cpu)
{
	cpu_set_t set;

	if (!pin || sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
		fprintf(stderr, "udp-recv: could not pin to CPU %d\n", cpu);
}

struct result {
	double dgrams_per_sec;
	double cpu_ns_per_dgram;
	double sqes_per_dgram;
	double iters_per_dgram;
};

static void die(const char *what, int err)
{
	fprintf(stderr, "udp-recv: %s: %s\n", what, ringo_strerror(err));
	exit(1);
}

static void *sender(void *arg)
{
	static unsigned char bufs[MAX_BATCH][64];
	static unsigned char big[MAX_SIZE];
	struct mmsghdr msgs[MAX_BATCH];
	struct iovec iov[MAX_BATCH][2];
	struct run *r = arg;
	uint64_t seq = 1;
	unsigned i;
	int fd, n;

	pin_to(r->pin, 1);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&r->addr, sizeof(r->addr)))
		die("sender socket", -errno);
	memset(msgs, 0, sizeof(msgs));
	while (__atomic_load_n(&r->sending, __ATOMIC_RELAXED)) {
		for (i = 0; i < r->batch; i++) {
			memcpy(bufs[i], &seq, sizeof(seq));
			seq++;
			iov[i][0] = (struct iovec){ bufs[i], sizeof(seq) };
			iov[i][1] = (struct iovec){ big, r->size - sizeof(seq) };
			msgs[i].msg_hdr.msg_iov = iov[i];
			msgs[i].msg_hdr.msg_iovlen = 2;
		}
		n = sendmmsg(fd, msgs, r->batch, 0);
		if (n < 0 && errno != ENOBUFS && errno != EAGAIN && errno != ECONNREFUSED)
			die("sendmmsg", -errno);
	}
	close(fd);
	return NULL;
}

static void recv_cb(ringo_udp_t *u, ssize_t nread, const void *data,
		    const struct sockaddr *addr, unsigned flags)
{
	struct run *r = u->data;
	uint64_t seq;

	(void)addr;
	if (nread != (ssize_t)r->size || flags) {
		fprintf(stderr, "udp-recv: datagram of %zd bytes (flags %u), want %u\n", nread,
			flags, r->size);
		r->bad++;
		return;
	}
	memcpy(&seq, data, sizeof(seq));
	if (seq <= r->last_seq) {
		fprintf(stderr, "udp-recv: datagram %llu after %llu\n", (unsigned long long)seq,
			(unsigned long long)r->last_seq);
		r->bad++;
	}
	r->last_seq = seq;
	r->received++;
}

static void stop_cb(ringo_timer_t *t)
{
	struct run *r = t->data;

	ringo_udp_recv_stop(&r->udp);
}

static uint64_t thread_cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * BENCH_NSEC_PER_SEC +
	       ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000;
}

static struct result run_once(const struct args *a, unsigned loop_flags)
{
	struct ringo_loop_opts opts;
	struct ringo_loop_metrics m0, m1;
	struct result res = { 0 };
	socklen_t len = sizeof(struct sockaddr_in);
	uint64_t t0, t1, c0, c1;
	struct run *r = calloc(1, sizeof(*r));
	pthread_t th;
	int ret;

	if (!r)
		die("calloc", -ENOMEM);
	r->size = a->size;
	r->batch = a->batch;
	r->pin = a->pin;
	ringo_loop_opts_init(&opts);
	opts.flags = loop_flags;
	if ((ret = ringo_loop_init(&r->loop, &opts)))
		die("ringo_loop_init", ret);
	r->addr.sin_family = AF_INET;
	r->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((ret = ringo_udp_init(&r->loop, &r->udp)) ||
	    (ret = ringo_udp_bind(&r->udp, (struct sockaddr *)&r->addr, 0)) ||
	    (ret = ringo_udp_getsockname(&r->udp, (struct sockaddr *)&r->addr, &len)))
		die("udp set-up", ret);
	r->udp.data = r;
	if ((ret = ringo_timer_init(&r->loop, &r->stop)))
		die("timer", ret);
	r->stop.data = r;
	if ((ret = ringo_udp_recv_start(&r->udp, recv_cb)))
		die("ringo_udp_recv_start", ret);
	__atomic_store_n(&r->sending, 1, __ATOMIC_RELAXED);
	if (pthread_create(&th, NULL, sender, r))
		die("pthread_create", -EAGAIN);
	ringo_timer_start(&r->stop, stop_cb, (int64_t)(a->seconds * 1000), 0);
	ringo_loop_metrics(&r->loop, &m0);
	c0 = thread_cpu_ns();
	t0 = bench_now_ns();
	if ((ret = ringo_run(&r->loop, RINGO_RUN_DEFAULT)) < 0)
		die("ringo_run", ret);
	t1 = bench_now_ns();
	c1 = thread_cpu_ns();
	ringo_loop_metrics(&r->loop, &m1);
	__atomic_store_n(&r->sending, 0, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	ringo_close((ringo_handle_t *)&r->udp, NULL);
	ringo_close((ringo_handle_t *)&r->stop, NULL);
	ringo_run(&r->loop, RINGO_RUN_DEFAULT);
	if ((ret = ringo_loop_close(&r->loop)))
		die("ringo_loop_close", ret);
	if (r->bad || !r->received) {
		fprintf(stderr, "udp-recv: %d bad datagrams, %llu received\n", r->bad,
			(unsigned long long)r->received);
		exit(1);
	}
	res.dgrams_per_sec = (double)r->received * 1e9 / (double)(t1 - t0);
	res.cpu_ns_per_dgram = (double)(c1 - c0) / (double)r->received;
	res.sqes_per_dgram = (double)(m1.submitted - m0.submitted) / (double)r->received;
	res.iters_per_dgram = (double)(m1.iterations - m0.iterations) / (double)r->received;
	free(r);
	return res;
}

static int parse(int argc, char **argv, struct args *a)
{
	const struct bench_opt opts[] = {
		{ "rounds", BENCH_OPT_UINT, &a->rounds, "runs per mode (median kept)" },
		{ "size", BENCH_OPT_UINT, &a->size, "bytes per datagram (8..65507)" },
		{ "batch", BENCH_OPT_UINT, &a->batch, "datagrams per sendmmsg (1..256)" },
		{ "seconds", BENCH_OPT_DOUBLE, &a->seconds, "length of one run" },
		{ "pin", BENCH_OPT_UINT, &a->pin, "1: receiver on CPU 0, sender on CPU 1" },
	};
	int ret = bench_parse_args(argc, argv, opts, sizeof(opts) / sizeof(opts[0]));

	if (ret)
		return ret;
	if (!a->rounds || a->rounds > MAX_ROUNDS || a->size < 8 || a->size > MAX_SIZE ||
	    !a->batch || a->batch > MAX_BATCH || a->seconds <= 0 || a->seconds > 60) {
		fprintf(stderr, "udp-recv: need 1 <= rounds <= %u, 8 <= size <= %u, "
				"1 <= batch <= %u, 0 < seconds <= 60\n",
			MAX_ROUNDS, MAX_SIZE, MAX_BATCH);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		unsigned flags;
		const char *name;
	} modes[2] = { { 0, "multishot" }, { RINGO_LOOP_NO_MULTISHOT, "singleshot" } };
	struct args a = { .pin = 1, .rounds = 5, .size = 64, .batch = 32, .seconds = 1.0 };
	double rate[2][MAX_ROUNDS], cpu[2][MAX_ROUNDS], sqes[2][MAX_ROUNDS];
	struct bench_line line = { 0 };
	struct result res;
	unsigned i, k, m;
	int ret = parse(argc, argv, &a);

	if (ret)
		return ret > 0 ? 0 : 2;
	pin_to(a.pin, 0);
	for (i = 0; i < a.rounds; i++) {
		for (k = 0; k < 2; k++) {
			m = (i + k) % 2;
			res = run_once(&a, modes[m].flags);
			rate[m][i] = res.dgrams_per_sec;
			cpu[m][i] = res.cpu_ns_per_dgram;
			sqes[m][i] = res.sqes_per_dgram;
			fprintf(stderr,
				"udp-recv: run=%u %s dgrams_per_sec=%.0f cpu_ns_per_dgram=%.0f "
				"sqes_per_dgram=%.5f iterations_per_dgram=%.3f\n",
				i, modes[m].name, res.dgrams_per_sec, res.cpu_ns_per_dgram,
				res.sqes_per_dgram, res.iters_per_dgram);
		}
	}
	for (m = 0; m < 2; m++) {
		char key[64];

		snprintf(key, sizeof(key), "%s_dgrams_per_sec", modes[m].name);
		bench_kv(&line, key, "%.0f", bench_median(rate[m], a.rounds));
	}
	for (m = 0; m < 2; m++) {
		char key[64];

		snprintf(key, sizeof(key), "%s_cpu_ns_per_dgram", modes[m].name);
		bench_kv(&line, key, "%.0f", bench_median(cpu[m], a.rounds));
	}
	for (m = 0; m < 2; m++) {
		char key[64];

		snprintf(key, sizeof(key), "%s_sqes_per_dgram", modes[m].name);
		bench_kv(&line, key, "%.5f", bench_median(sqes[m], a.rounds));
	}
	bench_kv(&line, "ratio_cpu", "%.3f",
		 bench_median(cpu[0], a.rounds) / bench_median(cpu[1], a.rounds));
	bench_line_end(&line);
	return 0;
}
