/* SPDX-License-Identifier: MIT */
/*
 * echo-client: load and verify an echo server over many TCP connections.
 *
 * It shows the client side of the stream API: ringo_tcp_connect() for each
 * of N connections at once, ringo_write() with a fixed number of chunks in
 * flight per connection (each chunk slot owns its buffer and its request,
 * and is refilled only from its own write callback, so no request is
 * reused while queued), ringo_read_start() for the echo, and a ringo timer
 * as a deadline for the whole run. The bytes sent are a pseudo-random
 * stream seeded per connection; the reader regenerates the same stream
 * and compares byte for byte, so a lost, duplicated, reordered or
 * corrupted byte is caught at its offset. On success it prints one line
 *
 *   echo-client: connections=N bytes=TOTAL seconds=S throughput_mib_s=X ok
 *
 * (bytes counts one direction: what was sent, and came back intact) and
 * exits 0. On any error, mismatch or timeout it says which connection and
 * what, closes everything, and exits 1; bad arguments exit 2.
 *
 *   echo-client [-p PORT] [-a ADDR] [-c CONNECTIONS] [-n BYTES_PER_CONNECTION]
 *               [-s CHUNK] [-t TIMEOUT_S]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <ringo.h>

#define DEFAULT_ADDR "127.0.0.1"
#define DEFAULT_PORT 7000
#define DEFAULT_CONNS 16
#define DEFAULT_BYTES (16ULL << 20)
#define DEFAULT_CHUNK (64U << 10)
#define DEFAULT_TIMEOUT_S 60
#define MAX_CHUNK (64U << 20)
#define CLOSE_GRACE_MS 5000	   /* after a failure: time allowed for the closes */
#define IN_FLIGHT 4		   /* chunks queued per connection */
#define VERIFY_BUF (64U << 10)	   /* expected bytes generated per memcmp */
#define SEED 0x6563686f72696e67ULL /* "echoring"; xored with the connection index */

/*
 * A byte stream from splitmix64: the n-th byte depends only on the seed
 * and n, not on how the stream is cut into pieces. The writer cuts it into
 * chunks, the reader into whatever recv returns, and both stay in step.
 */
struct prng {
	uint64_t state;
	uint64_t word; /* the current 8 bytes */
	unsigned used; /* bytes of `word` already handed out, 0..8 */
};

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void prng_seed(struct prng *g, uint64_t seed)
{
	g->state = seed;
	g->used = 8;
}

static void prng_fill(struct prng *g, unsigned char *dst, size_t n)
{
	size_t take;

	while (n) {
		if (g->used == 8) {
			g->word = splitmix64(&g->state);
			g->used = 0;
		}
		/* Little-endian or not, memcpy of the word is the same on the
		 * writer and the reader side: they are one program. */
		take = 8 - g->used;
		if (take > n)
			take = n;
		memcpy(dst, (unsigned char *)&g->word + g->used, take);
		g->used += (unsigned)take;
		dst += take;
		n -= take;
	}
}

struct client;
struct conn;

/* One chunk in flight: its own request, iovec and buffer. */
struct slot {
	ringo_write_t req; /* first: the write callback casts back */
	struct iovec iov;
	struct conn *conn;
	unsigned char *buf; /* the client's chunk size */
};

struct conn {
	ringo_tcp_t tcp; /* first: handle callbacks cast back to the conn */
	struct client *cli;
	unsigned index;
	ringo_connect_t connect;
	struct prng tx, rx; /* same seed: what we send, what must come back */
	uint64_t queued;    /* bytes handed to ringo_write */
	uint64_t received;  /* bytes echoed and verified */
	unsigned writing;   /* slots in flight */
	int open;	    /* initialised: must be closed */
	struct slot slots[IN_FLIGHT];
};

struct client {
	ringo_loop_t loop;
	ringo_timer_t deadline;
	struct conn *conns;
	unsigned nconns;
	uint64_t bytes; /* per connection */
	size_t chunk;
	unsigned timeout_s;
	struct sockaddr_storage addr;
	char addr_str[INET6_ADDRSTRLEN + 8];
	unsigned done; /* connections verified in full */
	unsigned open; /* connection handles whose close_cb has not run */
	int failed;
	int stopping;
	unsigned char verify[VERIFY_BUF];
};

static void close_all(struct client *cli);
static void deadline_cb(ringo_timer_t *timer);

/* The first failure is the interesting one; the rest are its fallout. */
static void fail(struct client *cli, const struct conn *c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct client *cli, const struct conn *c, const char *fmt, ...)
{
	va_list ap;

	if (!cli->failed) {
		if (c)
			fprintf(stderr, "echo-client: connection %u: ", c->index);
		else
			fprintf(stderr, "echo-client: ");
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	cli->failed = 1;
	close_all(cli);
}

/*
 * The deadline timer is closed last, once every connection has run its
 * close_cb: so the deadline covers the closing too, and an active handle
 * keeps ringo_run going until the last close_cb is in.
 */
static void maybe_end(struct client *cli)
{
	if (cli->open == 0 && (cli->stopping || cli->done == cli->nconns) &&
	    !ringo_is_closing((ringo_handle_t *)&cli->deadline))
		ringo_close((ringo_handle_t *)&cli->deadline, NULL);
}

static void conn_close_cb(ringo_handle_t *handle)
{
	struct conn *c = (struct conn *)handle;
	unsigned i;

	/* Every write has called back by now (with -ECANCELED if it had
	 * to), so the buffers are ours to free. */
	for (i = 0; i < IN_FLIGHT; i++)
		free(c->slots[i].buf);
	c->cli->open--;
	maybe_end(c->cli);
}

static void conn_close(struct conn *c)
{
	if (c->open && !ringo_is_closing((ringo_handle_t *)&c->tcp))
		ringo_close((ringo_handle_t *)&c->tcp, conn_close_cb);
}

static void close_all(struct client *cli)
{
	unsigned i;

	if (cli->stopping)
		return;
	cli->stopping = 1;
	/* A deadline that already fired (or never started) is re-armed to
	 * bound the closes instead. */
	if (!ringo_is_active((ringo_handle_t *)&cli->deadline))
		ringo_timer_start(&cli->deadline, deadline_cb, CLOSE_GRACE_MS, 0);
	for (i = 0; i < cli->nconns; i++)
		conn_close(&cli->conns[i]);
	maybe_end(cli);
}

/* All sent and all verified: nothing of this connection is in flight. */
static void maybe_finish(struct conn *c)
{
	struct client *cli = c->cli;

	if (c->received < cli->bytes || c->writing)
		return;
	cli->done++;
	conn_close(c);
}

static void write_cb(ringo_write_t *req, int status);

/* Queue the next chunk from `s`, if any bytes are left to send. */
static int send_chunk(struct conn *c, struct slot *s)
{
	struct client *cli = c->cli;
	uint64_t left = cli->bytes - c->queued;
	size_t len = left < cli->chunk ? (size_t)left : cli->chunk;
	int ret;

	if (!len)
		return 0;
	prng_fill(&c->tx, s->buf, len);
	s->iov.iov_base = s->buf;
	s->iov.iov_len = len;
	ret = ringo_write(&s->req, &c->tcp, &s->iov, 1, write_cb);
	if (ret < 0)
		return ret;
	c->queued += len;
	c->writing++;
	return 0;
}

static void write_cb(ringo_write_t *req, int status)
{
	struct slot *s = (struct slot *)req;
	struct conn *c = s->conn;
	struct client *cli = c->cli;
	int ret;

	c->writing--;
	if (cli->stopping)
		return;
	if (status < 0) {
		fail(cli, c, "write: %s", ringo_strerror(status));
		return;
	}
	/* This slot's request is finished: the one place it may be reused. */
	ret = send_chunk(c, s);
	if (ret < 0) {
		fail(cli, c, "ringo_write: %s", ringo_strerror(ret));
		return;
	}
	maybe_finish(c);
}

static void read_cb(ringo_stream_t *stream, ssize_t nread, const void *data)
{
	struct conn *c = (struct conn *)stream;
	struct client *cli = c->cli;
	const unsigned char *got = data;
	size_t off, len, i;

	if (cli->stopping)
		return;
	if (nread == RINGO_EOF) {
		fail(cli, c, "server closed the connection after %llu of %llu bytes",
		     (unsigned long long)c->received, (unsigned long long)cli->bytes);
		return;
	}
	if (nread < 0) {
		fail(cli, c, "read: %s", ringo_strerror((int)nread));
		return;
	}
	if ((uint64_t)nread > cli->bytes - c->received) {
		fail(cli, c, "server echoed %llu bytes more than were sent",
		     (unsigned long long)((uint64_t)nread - (cli->bytes - c->received)));
		return;
	}
	for (off = 0; off < (size_t)nread; off += len) {
		len = (size_t)nread - off;
		if (len > VERIFY_BUF)
			len = VERIFY_BUF;
		prng_fill(&c->rx, cli->verify, len);
		if (memcmp(cli->verify, got + off, len) == 0)
			continue;
		for (i = 0; cli->verify[i] == got[off + i]; i++)
			;
		fail(cli, c, "mismatch at byte %llu: expected 0x%02x, got 0x%02x",
		     (unsigned long long)(c->received + off + i), cli->verify[i], got[off + i]);
		return;
	}
	c->received += (uint64_t)nread;
	maybe_finish(c);
}

static void connect_cb(ringo_connect_t *req, int status)
{
	struct conn *c = req->data;
	struct client *cli = c->cli;
	unsigned i;
	int ret;

	if (cli->stopping)
		return;
	if (status < 0) {
		fail(cli, c, "connect to %s: %s", cli->addr_str, ringo_strerror(status));
		return;
	}
	/* Nagle would hold back the tail of each chunk for an ACK. */
	ringo_tcp_nodelay(&c->tcp, 1);
	ret = ringo_read_start(&c->tcp, read_cb);
	if (ret < 0) {
		fail(cli, c, "ringo_read_start: %s", ringo_strerror(ret));
		return;
	}
	for (i = 0; i < IN_FLIGHT && c->queued < cli->bytes; i++) {
		ret = send_chunk(c, &c->slots[i]);
		if (ret < 0) {
			fail(cli, c, "ringo_write: %s", ringo_strerror(ret));
			return;
		}
	}
}

static void deadline_cb(ringo_timer_t *timer)
{
	struct client *cli = timer->data;
	uint64_t sent = 0, got = 0;
	unsigned i;

	if (cli->stopping) {
		/* Not a state an example can recover from: leave. */
		fprintf(stderr, "echo-client: connections still open %d ms after a failure\n",
			CLOSE_GRACE_MS);
		exit(1);
	}

	for (i = 0; i < cli->nconns; i++) {
		sent += cli->conns[i].queued;
		got += cli->conns[i].received;
	}
	fail(cli, NULL,
	     "timed out after %u s: %u of %u connections done, %llu bytes sent, "
	     "%llu echoed",
	     cli->timeout_s, cli->done, cli->nconns, (unsigned long long)sent,
	     (unsigned long long)got);
}

static int start_conn(struct client *cli, struct conn *c)
{
	unsigned i;
	int ret;

	c->cli = cli;
	prng_seed(&c->tx, SEED ^ c->index);
	prng_seed(&c->rx, SEED ^ c->index);
	for (i = 0; i < IN_FLIGHT; i++) {
		c->slots[i].conn = c;
		/* Only the slots this connection will ever fill get memory. */
		if ((uint64_t)i * cli->chunk >= cli->bytes)
			continue;
		c->slots[i].buf = malloc(cli->chunk);
		if (!c->slots[i].buf)
			return -ENOMEM;
	}
	ret = ringo_tcp_init(&cli->loop, &c->tcp);
	if (ret < 0)
		return ret;
	c->open = 1;
	cli->open++;
	c->connect.data = c;
	return ringo_tcp_connect(&c->connect, &c->tcp, (struct sockaddr *)&cli->addr, connect_cb);
}

/* A decimal in [min, max]; with `suffixes`, k, m or g multiply by 1024^n. */
static int parse_num(const char *s, int suffixes, uint64_t min, uint64_t max, uint64_t *out)
{
	const char *units = "kmg";
	const char *unit;
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -EINVAL;
	if (suffixes && *end && (unit = strchr(units, *end | 0x20))) {
		shift = 10 * (unsigned)(unit - units + 1);
		end++;
	}
	if (*end || v > (max >> shift) || (v << shift) < min)
		return -EINVAL;
	*out = v << shift;
	return 0;
}

static int parse_addr(const char *host, unsigned port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		return 0;
	}
	return -EINVAL;
}

/* Each connection is an fd; a few more go to the ring and its helpers. */
static int ensure_fd_limit(unsigned nconns)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)nconns + 32;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
		fprintf(stderr,
			"echo-client: %u connections need %llu fds, the hard limit is "
			"%llu (ulimit -Hn)\n",
			nconns, (unsigned long long)need, (unsigned long long)rl.rlim_max);
		return -EMFILE;
	}
	rl.rlim_cur = need;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		fprintf(stderr, "echo-client: cannot raise the fd limit to %llu: %s\n",
			(unsigned long long)need, strerror(errno));
		return -errno;
	}
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: echo-client [-p PORT] [-a ADDR] [-c CONNECTIONS] "
		"[-n BYTES_PER_CONNECTION] [-s CHUNK] [-t TIMEOUT_S]\n"
		"  -p PORT         server port (default %d)\n"
		"  -a ADDR         server IPv4 or IPv6 address (default %s)\n"
		"  -c CONNECTIONS  concurrent connections (default %d)\n"
		"  -n BYTES        bytes to echo per connection, k/m/g suffixes (default 16m)\n"
		"  -s CHUNK        bytes per write, %d in flight (default 64k)\n"
		"  -t TIMEOUT_S    fail if not done after this long (default %d)\n",
		DEFAULT_PORT, DEFAULT_ADDR, DEFAULT_CONNS, IN_FLIGHT, DEFAULT_TIMEOUT_S);
}

int main(int argc, char **argv)
{
	static struct client cli; /* zeroed: handles and requests start clean */
	const char *host = DEFAULT_ADDR;
	uint64_t port = DEFAULT_PORT, nconns = DEFAULT_CONNS, chunk = DEFAULT_CHUNK;
	uint64_t timeout_s = DEFAULT_TIMEOUT_S;
	double t0, seconds;
	unsigned i;
	int opt, ret;

	cli.bytes = DEFAULT_BYTES;
	while ((opt = getopt(argc, argv, "p:a:c:n:s:t:h")) != -1) {
		const char *bad = NULL;

		switch (opt) {
		case 'p':
			if (parse_num(optarg, 0, 1, 65535, &port) < 0)
				bad = "port (1-65535)";
			break;
		case 'a':
			host = optarg;
			break;
		case 'c':
			if (parse_num(optarg, 0, 1, 1000000, &nconns) < 0)
				bad = "connection count (1-1000000)";
			break;
		case 'n':
			if (parse_num(optarg, 1, 1, UINT64_MAX >> 1, &cli.bytes) < 0)
				bad = "byte count";
			break;
		case 's':
			if (parse_num(optarg, 1, 1, MAX_CHUNK, &chunk) < 0)
				bad = "chunk size (1 to 64m)";
			break;
		case 't':
			if (parse_num(optarg, 0, 1, 86400, &timeout_s) < 0)
				bad = "timeout (1-86400 s)";
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		if (bad) {
			fprintf(stderr, "echo-client: bad %s: '%s'\n", bad, optarg);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "echo-client: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (parse_addr(host, (unsigned)port, &cli.addr) < 0) {
		fprintf(stderr, "echo-client: bad address '%s' (numeric IPv4 or IPv6)\n", host);
		return 2;
	}
	snprintf(cli.addr_str, sizeof(cli.addr_str), strchr(host, ':') ? "[%s]:%u" : "%s:%u", host,
		 (unsigned)port);
	cli.nconns = (unsigned)nconns;
	cli.chunk = (size_t)chunk;
	cli.timeout_s = (unsigned)timeout_s;
	if (ensure_fd_limit(cli.nconns) < 0)
		return 1;
	cli.conns = calloc(cli.nconns, sizeof(*cli.conns));
	if (!cli.conns) {
		fprintf(stderr, "echo-client: out of memory for %u connections\n", cli.nconns);
		return 1;
	}

	ret = ringo_loop_init(&cli.loop, NULL);
	if (ret < 0) {
		fprintf(stderr, "echo-client: ringo_loop_init: %s\n", ringo_setup_strerror(ret));
		free(cli.conns);
		return 1;
	}
	cli.loop.data = &cli;
	ringo_timer_init(&cli.loop, &cli.deadline);
	cli.deadline.data = &cli;
	t0 = now_s();
	ret = ringo_timer_start(&cli.deadline, deadline_cb, (int64_t)cli.timeout_s * 1000, 0);
	if (ret < 0)
		fail(&cli, NULL, "ringo_timer_start: %s", ringo_strerror(ret));
	for (i = 0; i < cli.nconns && !cli.failed; i++) {
		cli.conns[i].index = i;
		ret = start_conn(&cli, &cli.conns[i]);
		if (ret < 0)
			fail(&cli, &cli.conns[i], "cannot start: %s", ringo_strerror(ret));
	}

	/* Ends when every handle is closed: after success, or after fail(). */
	ret = ringo_run(&cli.loop, RINGO_RUN_DEFAULT);
	seconds = now_s() - t0;
	if (ret < 0) {
		fprintf(stderr, "echo-client: ringo_run: %s\n", ringo_strerror(ret));
		return 1;
	}
	/* A slot whose connection never got a handle has no close_cb. */
	for (i = 0; i < cli.nconns; i++) {
		if (!cli.conns[i].open) {
			unsigned j;

			for (j = 0; j < IN_FLIGHT; j++)
				free(cli.conns[i].slots[j].buf);
		}
	}
	free(cli.conns);
	ret = ringo_loop_close(&cli.loop);
	if (ret < 0) {
		fprintf(stderr, "echo-client: ringo_loop_close: %s\n", ringo_strerror(ret));
		return 1;
	}
	if (cli.failed)
		return 1;
	if (cli.done != cli.nconns) {
		fprintf(stderr, "echo-client: loop idle with %u of %u connections done\n", cli.done,
			cli.nconns);
		return 1;
	}
	printf("echo-client: connections=%u bytes=%llu seconds=%.3f throughput_mib_s=%.1f ok\n",
	       cli.nconns, (unsigned long long)cli.bytes * cli.nconns, seconds,
	       (double)cli.bytes * cli.nconns / (1024.0 * 1024.0) / seconds);
	return 0;
}
