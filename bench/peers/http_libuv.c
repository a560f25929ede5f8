/* SPDX-License-Identifier: MIT */
/*
 * http-peer-libuv: examples/httpd's behaviour on libuv, for bench/http.sh.
 *
 * The same server as examples/httpd with one thread, written the way a
 * libuv program would be, so that the two can be driven by the same client
 * and compared request for request:
 *   - the same response bytes for every request (built by the same table);
 *   - keep-alive, pipelining: all the complete requests one read brings are
 *     answered with ONE uv_write of as many responses (consecutive plain 200s
 *     share one buffer over ok_blob, as in httpd);
 *   - a head spanning reads is kept per connection (MAX_HEAD: 431 beyond),
 *     a Content-Length body is skipped, Transfer-Encoding gets 501,
 *     "Connection: close" and HTTP/1.0 without keep-alive get their
 *     response and then a FIN (uv_shutdown, which waits for the write
 *     queue); the connection is closed once the client closes too;
 *   - the same backpressure marks (stop reading above 1 MiB queued, read
 *     again at 256 KiB);
 *   - TCP_NODELAY on every connection, backlog 4096, SO_REUSEADDR (libuv
 *     sets it at bind).
 * Reads go to one static 64 KiB buffer (alloc_cb hands out the same one
 * every time, as libuv's own benchmarks do): the data is consumed inside
 * read_cb, and an unfinished head is copied out, as httpd does.
 *
 *   http-peer-libuv [-p PORT] [-a ADDR] [-t 1] [-d SECONDS]
 *
 * -p 0 lets the kernel pick the port; the "listening on ADDR:PORT, 1
 * thread" line says which (the format of httpd's). -d stops the server
 * after that long; SIGINT or SIGTERM stop it too. Then one summary line,
 * "requests=N connections=M". Only one thread: -t accepts 1 alone.
 * Exit status: 0 after a stop, 1 when the server cannot start, 2 for bad
 * arguments.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#define PROG "http-peer-libuv"
#define DEFAULT_ADDR "127.0.0.1"
#define DEFAULT_PORT 8080
#define BACKLOG 4096
#define MAX_HEAD 8192
#define OK_COPIES 64
#define HIGH_WATER (1U << 20)
#define LOW_WATER (256U << 10)
#define READ_BUF 65536

enum resp {
	RESP_OK,
	RESP_OK_KEEP_ALIVE,
	RESP_OK_CLOSE,
	RESP_BAD_REQUEST,
	RESP_TOO_LARGE,
	RESP_NOT_IMPLEMENTED,
	RESP_COUNT
};

struct response {
	char text[192];
	size_t len;
	size_t head_len;
	bool last;
};

static struct response responses[RESP_COUNT];
static char ok_blob[OK_COPIES * sizeof(responses[0].text)];
static size_t ok_blob_len;

struct batch {
	uv_buf_t *bufs; /* grows as needed; uv_write copies the array */
	unsigned n;
	unsigned cap;
	unsigned requests;
};

struct conn {
	uv_tcp_t stream; /* first: handle callbacks cast back to the conn */
	struct conn *prev, *next;
	uv_shutdown_t shutdown;
	char *partial;
	size_t partial_len;
	uint64_t body_left;
	bool done;
	bool shutting;
	bool shut;
	bool eof;
	bool paused;
};

static struct {
	struct sockaddr_storage addr;
	char what[INET6_ADDRSTRLEN + 16];
	uint64_t duration_ms;
} cfg;

static uv_loop_t *loop;
static uv_tcp_t listener;
static uv_signal_t sigint_h, sigterm_h;
static uv_timer_t deadline;
static struct conn *conns;
static struct batch batch;
static bool stopping;
static uint64_t requests, connections;
static char read_buf[READ_BUF];

/* ---- parsing (as examples/httpd.c) -------------------------------------- */

struct request {
	bool head;
	uint64_t content_length;
};

static bool token_eq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

static const char *next_line(const char *line, const char *end, size_t *n)
{
	const char *nl = memchr(line, '\n', (size_t)(end - line));

	*n = (size_t)(nl - line);
	if (*n && line[*n - 1] == '\r')
		(*n)--;
	return nl + 1;
}

static void trim(const char **s, const char **e)
{
	while (*s < *e && (**s == ' ' || **s == '\t'))
		(*s)++;
	while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
		(*e)--;
}

static enum resp parse_request(const char *p, size_t len, struct request *r)
{
	const char *end = p + len, *line = p, *next, *sp1, *sp2, *colon, *v, *ve, *tok;
	bool http10, close = false, keep_alive = false, have_length = false;
	uint64_t length = 0;
	size_t n;

	memset(r, 0, sizeof(*r));
	next = next_line(line, end, &n);
	sp1 = memchr(line, ' ', n);
	if (!sp1 || sp1 == line)
		return RESP_BAD_REQUEST;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(line + n - (sp1 + 1)));
	if (!sp2 || sp2 == sp1 + 1 || line + n - (sp2 + 1) != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) ||
	    sp2[8] < '0' || sp2[8] > '9')
		return RESP_BAD_REQUEST;
	http10 = sp2[8] == '0';
	r->head = sp1 - line == 4 && memcmp(line, "HEAD", 4) == 0;

	for (line = next; line < end; line = next) {
		next = next_line(line, end, &n);
		if (!n)
			break;
		colon = memchr(line, ':', n);
		if (line[0] == ' ' || line[0] == '\t' || !colon || colon == line)
			return RESP_BAD_REQUEST;
		v = colon + 1;
		ve = line + n;
		trim(&v, &ve);
		if (token_eq(line, (size_t)(colon - line), "connection")) {
			while (v < ve) {
				const char *te;

				tok = v;
				te = memchr(v, ',', (size_t)(ve - v));
				if (!te)
					te = ve;
				v = te < ve ? te + 1 : ve;
				trim(&tok, &te);
				if (token_eq(tok, (size_t)(te - tok), "close"))
					close = true;
				else if (token_eq(tok, (size_t)(te - tok), "keep-alive"))
					keep_alive = true;
			}
		} else if (token_eq(line, (size_t)(colon - line), "content-length")) {
			uint64_t value = 0;

			if (v == ve)
				return RESP_BAD_REQUEST;
			for (; v < ve; v++) {
				if (*v < '0' || *v > '9' || value > (UINT64_MAX - 9) / 10)
					return RESP_BAD_REQUEST;
				value = value * 10 + (uint64_t)(*v - '0');
			}
			if (have_length && value != length)
				return RESP_BAD_REQUEST;
			have_length = true;
			length = value;
		} else if (token_eq(line, (size_t)(colon - line), "transfer-encoding")) {
			return RESP_NOT_IMPLEMENTED;
		}
	}
	r->content_length = length;
	if (close || (http10 && !keep_alive))
		return RESP_OK_CLOSE;
	return http10 ? RESP_OK_KEEP_ALIVE : RESP_OK;
}

/* ---- connections -------------------------------------------------------- */

static void conn_close_cb(uv_handle_t *handle)
{
	struct conn *c = (struct conn *)handle;

	if (c->prev)
		c->prev->next = c->next;
	else
		conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c->partial);
	free(c);
}

static void conn_close(struct conn *c)
{
	if (!uv_is_closing((uv_handle_t *)&c->stream))
		uv_close((uv_handle_t *)&c->stream, conn_close_cb);
}

static bool routine_error(int err)
{
	return err == UV_ECONNRESET || err == UV_EPIPE || err == UV_ECANCELED ||
	       err == UV_ETIMEDOUT;
}

static void alloc_cb(uv_handle_t *handle, size_t size, uv_buf_t *buf)
{
	(void)handle;
	(void)size;
	buf->base = read_buf;
	buf->len = sizeof(read_buf);
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

static void write_cb(uv_write_t *req, int status)
{
	struct conn *c = (struct conn *)req->handle;
	int ret;

	free(req); /* its buffers are static */
	if (uv_is_closing((uv_handle_t *)&c->stream))
		return;
	if (status < 0) {
		if (!routine_error(status))
			fprintf(stderr, PROG ": write: %s\n", uv_strerror(status));
		conn_close(c);
		return;
	}
	if (c->paused && uv_stream_get_write_queue_size((uv_stream_t *)&c->stream) <= LOW_WATER) {
		c->paused = false;
		ret = uv_read_start((uv_stream_t *)&c->stream, alloc_cb, read_cb);
		if (ret < 0) {
			fprintf(stderr, PROG ": uv_read_start: %s\n", uv_strerror(ret));
			conn_close(c);
		}
	}
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
	struct conn *c = req->data;

	c->shut = true;
	if (status < 0 || c->eof)
		conn_close(c);
}

static void conn_finish(struct conn *c)
{
	int ret;

	c->done = true;
	if (c->shutting)
		return;
	c->shutting = true;
	c->shutdown.data = c;
	ret = uv_shutdown(&c->shutdown, (uv_stream_t *)&c->stream, shutdown_cb);
	if (ret < 0)
		conn_close(c);
}

static int batch_add(struct batch *b, enum resp resp, bool head)
{
	const struct response *r = &responses[resp];
	uv_buf_t *last = b->n ? &b->bufs[b->n - 1] : NULL;
	size_t ok_len = responses[RESP_OK].len;

	b->requests++;
	if (resp == RESP_OK && !head && last && last->base == ok_blob &&
	    last->len + ok_len <= ok_blob_len) {
		last->len += ok_len;
		return 0;
	}
	if (b->n == b->cap) {
		unsigned cap = b->cap ? 2 * b->cap : 16;
		uv_buf_t *bufs = realloc(b->bufs, cap * sizeof(*bufs));

		if (!bufs)
			return -ENOMEM;
		b->bufs = bufs;
		b->cap = cap;
	}
	if (resp == RESP_OK && !head)
		b->bufs[b->n].base = ok_blob;
	else
		b->bufs[b->n].base = (char *)r->text;
	b->bufs[b->n].len = head ? r->head_len : r->len;
	b->n++;
	return 0;
}

static int answer(struct conn *c, const char *p, size_t len)
{
	struct request req;
	enum resp resp = parse_request(p, len, &req);

	if (responses[resp].last)
		c->done = true;
	else
		c->body_left = req.content_length;
	return batch_add(&batch, resp, req.head);
}

/* Queue the batch as one uv_write (libuv copies the buffer array into the
 * request, allocating only beyond 4 buffers). */
static int batch_send(struct conn *c, struct batch *b)
{
	uv_write_t *req;
	int ret;

	if (!b->n)
		return 0;
	req = malloc(sizeof(*req));
	if (!req) {
		fprintf(stderr, PROG ": out of memory; dropping a connection\n");
		conn_close(c);
		return -ENOMEM;
	}
	ret = uv_write(req, (uv_stream_t *)&c->stream, b->bufs, b->n, write_cb);
	if (ret < 0) {
		free(req);
		fprintf(stderr, PROG ": uv_write: %s\n", uv_strerror(ret));
		conn_close(c);
		return ret;
	}
	requests += b->requests;
	if (!c->paused && uv_stream_get_write_queue_size((uv_stream_t *)&c->stream) > HIGH_WATER) {
		uv_read_stop((uv_stream_t *)&c->stream);
		c->paused = true;
	}
	return 0;
}

static void conn_feed(struct conn *c, const char *p, size_t n)
{
	struct batch *b = &batch;
	const char *end;
	size_t take, from, len;
	int ret = 0;

	b->n = 0;
	b->requests = 0;
	while (n && !c->done && !ret) {
		if (c->body_left) {
			take = n < c->body_left ? n : (size_t)c->body_left;
			c->body_left -= take;
			p += take;
			n -= take;
		} else if (!c->partial_len) {
			while (n && (*p == '\r' || *p == '\n')) {
				p++;
				n--;
			}
			if (!n)
				break;
			end = memmem(p, n, "\r\n\r\n", 4);
			len = end ? (size_t)(end + 4 - p) : n;
			if (len > MAX_HEAD || (!end && len == MAX_HEAD)) {
				ret = batch_add(b, RESP_TOO_LARGE, false);
				c->done = true;
				break;
			}
			if (!end) {
				if (!c->partial && !(c->partial = malloc(MAX_HEAD))) {
					ret = -ENOMEM;
					break;
				}
				memcpy(c->partial, p, n);
				c->partial_len = n;
				break;
			}
			ret = answer(c, p, len);
			p += len;
			n -= len;
		} else {
			take = MAX_HEAD - c->partial_len;
			if (take > n)
				take = n;
			memcpy(c->partial + c->partial_len, p, take);
			from = c->partial_len > 3 ? c->partial_len - 3 : 0;
			end =
			    memmem(c->partial + from, c->partial_len + take - from, "\r\n\r\n", 4);
			if (!end) {
				c->partial_len += take;
				p += take;
				n -= take;
				if (c->partial_len == MAX_HEAD) {
					ret = batch_add(b, RESP_TOO_LARGE, false);
					c->done = true;
				}
				continue;
			}
			len = (size_t)(end + 4 - c->partial);
			p += len - c->partial_len;
			n -= len - c->partial_len;
			c->partial_len = 0;
			ret = answer(c, c->partial, len);
		}
	}
	if (ret < 0) {
		fprintf(stderr, PROG ": out of memory; dropping a connection\n");
		conn_close(c);
		return;
	}
	if (batch_send(c, b) == 0 && c->done)
		conn_finish(c);
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = (struct conn *)stream;

	if (nread == UV_EOF) {
		c->eof = true;
		if (c->shut)
			conn_close(c);
		else
			conn_finish(c);
		return;
	}
	if (nread < 0) {
		if (!routine_error((int)nread))
			fprintf(stderr, PROG ": read: %s\n", uv_strerror((int)nread));
		conn_close(c);
		return;
	}
	/* nread == 0 is libuv's EAGAIN: nothing to do. */
	if (nread > 0 && !c->done)
		conn_feed(c, buf->base, (size_t)nread);
}

static void connection_cb(uv_stream_t *server, int status)
{
	struct conn *c;
	int ret;

	if (status < 0) {
		fprintf(stderr, PROG ": accept: %s\n", uv_strerror(status));
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		fprintf(stderr, PROG ": out of memory; refusing a connection\n");
		return;
	}
	uv_tcp_init(loop, &c->stream); /* cannot fail: no socket yet */
	c->next = conns;
	if (c->next)
		c->next->prev = c;
	conns = c;
	ret = uv_accept(server, (uv_stream_t *)&c->stream);
	if (ret < 0) {
		fprintf(stderr, PROG ": uv_accept: %s\n", uv_strerror(ret));
		conn_close(c);
		return;
	}
	connections++;
	uv_tcp_nodelay(&c->stream, 1);
	ret = uv_read_start((uv_stream_t *)&c->stream, alloc_cb, read_cb);
	if (ret < 0) {
		fprintf(stderr, PROG ": uv_read_start: %s\n", uv_strerror(ret));
		conn_close(c);
	}
}

/* ---- stopping ------------------------------------------------------------ */

static void server_stop(void)
{
	struct conn *c;

	if (stopping)
		return;
	stopping = true;
	uv_close((uv_handle_t *)&sigint_h, NULL);
	uv_close((uv_handle_t *)&sigterm_h, NULL);
	if (cfg.duration_ms)
		uv_close((uv_handle_t *)&deadline, NULL);
	uv_close((uv_handle_t *)&listener, NULL);
	/* Close callbacks unlink later, from the loop: the walk is safe. */
	for (c = conns; c; c = c->next)
		conn_close(c);
}

static void signal_cb(uv_signal_t *handle, int signum)
{
	(void)handle;
	(void)signum;
	server_stop();
}

static void deadline_cb(uv_timer_t *timer)
{
	(void)timer;
	server_stop();
}

/* ---- start-up ----------------------------------------------------------- */

static void build_responses(void)
{
	static const struct {
		const char *status;
		const char *connection;
		const char *body;
	} spec[RESP_COUNT] = {
	    [RESP_OK] = {"200 OK", "", "Hello world\n"},
	    [RESP_OK_KEEP_ALIVE] = {"200 OK", "Connection: keep-alive\r\n", "Hello world\n"},
	    [RESP_OK_CLOSE] = {"200 OK", "Connection: close\r\n", "Hello world\n"},
	    [RESP_BAD_REQUEST] = {"400 Bad Request", "Connection: close\r\n", "Bad request\n"},
	    [RESP_TOO_LARGE] = {"431 Request Header Fields Too Large", "Connection: close\r\n",
				"Request header too large\n"},
	    [RESP_NOT_IMPLEMENTED] = {"501 Not Implemented", "Connection: close\r\n",
				      "Transfer-Encoding is not supported\n"},
	};
	struct response *r;
	int i, n;

	for (i = 0; i < RESP_COUNT; i++) {
		r = &responses[i];
		n = snprintf(r->text, sizeof(r->text),
			     "HTTP/1.1 %s\r\nContent-Length: %zu\r\nContent-Type: text/plain\r\n"
			     "%s\r\n%s",
			     spec[i].status, strlen(spec[i].body), spec[i].connection,
			     spec[i].body);
		if (n < 0 || (size_t)n >= sizeof(r->text))
			abort();
		r->len = (size_t)n;
		r->head_len = r->len - strlen(spec[i].body);
		r->last = strstr(spec[i].connection, "close") != NULL;
	}
	for (i = 0; i < OK_COPIES; i++) {
		memcpy(ok_blob + ok_blob_len, responses[RESP_OK].text, responses[RESP_OK].len);
		ok_blob_len += responses[RESP_OK].len;
	}
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max || s[0] == '-')
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_addr(const char *host, unsigned port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0)
		return 0;
	if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) == 0)
		return 0;
	return -EINVAL;
}

static void describe(const struct sockaddr_storage *ss, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(buf, size, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(buf, size, "%s:%u", host, ntohs(s4->sin_port));
	}
}

static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [-p PORT] [-a ADDR] [-t 1] [-d SECONDS]\n"
		"  -p PORT     TCP port, 0 for any free one (default %d)\n"
		"  -a ADDR     IPv4 or IPv6 address to bind (default %s)\n"
		"  -t THREADS  1 (a single libuv loop; the option is httpd's)\n"
		"  -d SECONDS  stop by itself after this long (default: at SIGINT/SIGTERM)\n",
		DEFAULT_PORT, DEFAULT_ADDR);
}

static int parse_args(int argc, char **argv)
{
	const char *host = DEFAULT_ADDR;
	unsigned long port = DEFAULT_PORT, threads = 1, seconds = 0;
	int opt;

	while ((opt = getopt(argc, argv, "p:a:t:d:h")) != -1) {
		switch (opt) {
		case 'p':
			if (parse_uint(optarg, 65535, &port) < 0) {
				fprintf(stderr, PROG ": bad port '%s' (0-65535)\n", optarg);
				return 2;
			}
			break;
		case 'a':
			host = optarg;
			break;
		case 't':
			if (parse_uint(optarg, 1, &threads) < 0 || threads != 1) {
				fprintf(stderr, PROG ": bad thread count '%s' (only 1)\n", optarg);
				return 2;
			}
			break;
		case 'd':
			if (parse_uint(optarg, 86400 * 365, &seconds) < 0 || !seconds) {
				fprintf(stderr, PROG ": bad duration '%s' (whole seconds, > 0)\n",
					optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return -1;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (parse_addr(host, (unsigned)port, &cfg.addr) < 0) {
		fprintf(stderr, PROG ": bad address '%s' (numeric IPv4 or IPv6)\n", host);
		return 2;
	}
	cfg.duration_ms = (uint64_t)seconds * 1000;
	return 0;
}

static int setup(void)
{
	int len = sizeof(cfg.addr);
	int ret;

	uv_tcp_init(loop, &listener);
	ret = uv_tcp_bind(&listener, (const struct sockaddr *)&cfg.addr, 0);
	if (ret == 0)
		ret = uv_listen((uv_stream_t *)&listener, BACKLOG, connection_cb);
	if (ret == 0)
		ret = uv_tcp_getsockname(&listener, (struct sockaddr *)&cfg.addr, &len);
	if (ret < 0) {
		fprintf(stderr, PROG ": cannot listen on %s: %s\n", cfg.what, uv_strerror(ret));
		uv_close((uv_handle_t *)&listener, NULL);
		return ret;
	}
	describe(&cfg.addr, cfg.what, sizeof(cfg.what));
	uv_signal_init(loop, &sigint_h);
	uv_signal_init(loop, &sigterm_h);
	uv_signal_start(&sigint_h, signal_cb, SIGINT);
	uv_signal_start(&sigterm_h, signal_cb, SIGTERM);
	if (cfg.duration_ms) {
		uv_timer_init(loop, &deadline);
		uv_timer_start(&deadline, deadline_cb, cfg.duration_ms, 0);
	}
	return 0;
}

int main(int argc, char **argv)
{
	int ret;

	ret = parse_args(argc, argv);
	if (ret)
		return ret < 0 ? 0 : ret;
	build_responses();
	describe(&cfg.addr, cfg.what, sizeof(cfg.what));
	raise_fd_limit();
	loop = uv_default_loop();
	if (!loop) {
		fprintf(stderr, PROG ": uv_default_loop failed\n");
		return 1;
	}
	if (setup() < 0) {
		uv_run(loop, UV_RUN_DEFAULT);
		uv_loop_close(loop);
		return 1;
	}
	printf(PROG ": listening on %s, 1 thread\n", cfg.what);
	fflush(stdout);
	ret = uv_run(loop, UV_RUN_DEFAULT);
	if (ret)
		fprintf(stderr, PROG ": uv_run returned with handles alive\n");
	ret = uv_loop_close(loop);
	if (ret < 0)
		fprintf(stderr, PROG ": uv_loop_close: %s\n", uv_strerror(ret));
	free(batch.bufs);
	printf(PROG ": requests=%llu connections=%llu\n", (unsigned long long)requests,
	       (unsigned long long)connections);
	return 0;
}
