/* SPDX-License-Identifier: MIT */
/*
 * httpd: a tiny HTTP/1.1 "hello" server, one ringo loop per thread.
 *
 * Every request, whatever its method and path, is answered with the same
 * 200 response ("Hello world\n"). What the example shows is the shape of a
 * fast server on ringo: each thread owns a loop and a listener bound with
 * RINGO_TCP_REUSEPORT to the same port, so the kernel spreads connections
 * over the threads and no state (and no lock) is shared; connections are
 * keep-alive and may pipeline, and all the requests one read brings are
 * answered with ONE ringo_write whose buffers point at static responses, so
 * a batch costs one allocation and one send however many requests it holds.
 * A request head may span reads (kept per connection, up to MAX_HEAD bytes:
 * 431 beyond that); a Content-Length body is skipped; Transfer-Encoding is
 * refused (501). "Connection: close", and HTTP/1.0 without keep-alive, get
 * their response and then a FIN; the connection is closed when the client
 * closes its side (there are no idle timeouts: a quiet client keeps its
 * connection until the server stops). -d SECONDS stops the server after that long (a timer on
 * each loop); SIGINT or SIGTERM stop it too: the handler wakes every loop
 * with ringo_async_send(), and each loop closes its listener and
 * connections and returns. The program then prints one summary line.
 *
 *   httpd [-p PORT] [-a ADDR] [-t THREADS] [-d SECONDS]
 *
 * Defaults to 127.0.0.1:8080 and one thread. Exit status: 0 after a stop,
 * 1 when the server cannot start (address in use...), 2 for bad arguments.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

#include <ringo.h>

#define DEFAULT_ADDR "127.0.0.1"
#define DEFAULT_PORT 8080
#define MAX_THREADS 256
#define BACKLOG 4096	       /* the kernel caps it at net.core.somaxconn */
#define MAX_HEAD 8192	       /* bytes: a longer request head gets 431 */
#define OK_COPIES 64	       /* 200 responses laid end to end in ok_blob */
#define HIGH_WATER (1U << 20)  /* bytes queued to a client: stop reading it */
#define LOW_WATER (256U << 10) /* bytes queued: read it again */

/* The responses; built once at start-up, read-only afterwards. */
enum resp {
	RESP_OK,	    /* HTTP/1.1 keep-alive: the common case */
	RESP_OK_KEEP_ALIVE, /* HTTP/1.0 client that asked for keep-alive */
	RESP_OK_CLOSE,	    /* the last response on the connection */
	RESP_BAD_REQUEST,
	RESP_TOO_LARGE,
	RESP_NOT_IMPLEMENTED,
	RESP_COUNT
};

struct response {
	char text[192];
	size_t len;	 /* bytes of text */
	size_t head_len; /* bytes before the body: what HEAD gets */
	bool last;	 /* says "Connection: close": nothing follows it */
};

static struct response responses[RESP_COUNT];

/*
 * OK_COPIES copies of the RESP_OK text back to back. A batch of pipelined
 * requests is answered with one iovec covering as many copies as there are
 * requests, not one iovec per request: ringo gathers at most
 * RINGO_STREAM_IOVS buffers per sendmsg, so fewer, longer buffers mean
 * fewer system calls.
 */
static char ok_blob[OK_COPIES * sizeof(responses[0].text)];
static size_t ok_blob_len;

struct config {
	struct sockaddr_storage addr;	  /* port filled in by probe_address() */
	char what[INET6_ADDRSTRLEN + 16]; /* the address, for messages */
	unsigned threads;
	uint64_t duration_ms; /* 0: run until a signal */
};

static struct config cfg;

/* What one read's requests are answered with: see conn_feed(). */
struct batch {
	struct iovec *iov; /* grows as needed; never shrinks */
	unsigned n;
	unsigned cap;
	unsigned requests; /* answered by iov[0..n) */
};

struct conn;

struct worker {
	pthread_t thread;
	unsigned id;
	ringo_loop_t loop;
	ringo_tcp_t listener;
	ringo_async_t stop_async; /* woken by the signal handler */
	ringo_timer_t deadline;	  /* -d */
	struct conn *conns;	  /* open connections: what a stop closes */
	struct batch batch;	  /* scratch, reused by every read */
	int start_status;	  /* 0 or -errno, set before posting `started` */
	bool stopping;
	/*
	 * The signal handler (on the main thread) and this loop's stop agree
	 * through these two, so that no ringo_async_send() is still running
	 * when the loop closes the handle (and then the loop and its fds)
	 * under it: see worker_wake() and worker_stop().
	 */
	int stop_open;	      /* atomic: sends allowed */
	int stop_senders;     /* atomic: sends in progress */
	uint64_t requests;    /* responses queued */
	uint64_t connections; /* accepted */
};

struct conn {
	ringo_tcp_t stream; /* first: handle callbacks cast back to the conn */
	struct worker *w;
	struct conn *prev, *next; /* w->conns */
	ringo_shutdown_t shutdown;
	char *partial;	    /* MAX_HEAD bytes once a request head spans reads */
	size_t partial_len; /* bytes of an unfinished request head in it */
	uint64_t body_left; /* bytes of a request body still to skip */
	bool done;	    /* the last response is queued: ignore what follows */
	bool shutting;	    /* ringo_shutdown() was started */
	bool shut;	    /* and finished: our FIN is out */
	bool eof;	    /* the client closed its side */
	bool paused;	    /* reading stopped for backpressure */
};

/* A batch's write: the request and its buffers, freed in write_cb. */
struct http_write {
	ringo_write_t req; /* first: the write callback casts back */
	struct iovec iov[];
};

static sem_t started;	       /* each worker posts once, set up or failed */
static struct worker *workers; /* for the signal handler */
static unsigned nworkers;

/* ---- parsing ------------------------------------------------------------ */

struct request {
	bool head; /* HEAD: the response has no body */
	uint64_t content_length;
};

static bool token_eq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

/* One line of [line, end): its length without CR LF; returns the next. */
static const char *next_line(const char *line, const char *end, size_t *n)
{
	/* Never NULL: a head always ends with "\r\n\r\n". */
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

/*
 * Parse a request head [p, p + len), which ends with "\r\n\r\n". Returns
 * the response it gets. Only what decides the response is checked: the
 * request line's shape and version, Connection, Content-Length and
 * Transfer-Encoding.
 */
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
			break; /* the empty line: end of the head */
		/* Folded lines (obsolete) and nameless fields are errors. */
		colon = memchr(line, ':', n);
		if (line[0] == ' ' || line[0] == '\t' || !colon || colon == line)
			return RESP_BAD_REQUEST;
		v = colon + 1;
		ve = line + n;
		trim(&v, &ve);
		if (token_eq(line, (size_t)(colon - line), "connection")) {
			/* A comma-separated list of options. */
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
			/* Two different lengths: no way to tell where the body
			 * ends (request smuggling). */
			if (have_length && value != length)
				return RESP_BAD_REQUEST;
			have_length = true;
			length = value;
		} else if (token_eq(line, (size_t)(colon - line), "transfer-encoding")) {
			/* Chunked bodies are not worth it for a hello server;
			 * saying so beats misreading the body as requests. */
			return RESP_NOT_IMPLEMENTED;
		}
	}
	r->content_length = length;
	/* HTTP/1.1 keeps the connection unless told not to; 1.0 only if asked. */
	if (close || (http10 && !keep_alive))
		return RESP_OK_CLOSE;
	return http10 ? RESP_OK_KEEP_ALIVE : RESP_OK;
}

/* ---- connections -------------------------------------------------------- */

static void conn_close_cb(ringo_handle_t *handle)
{
	struct conn *c = (struct conn *)handle;

	if (c->prev)
		c->prev->next = c->next;
	else
		c->w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c->partial);
	free(c);
}

static void conn_close(struct conn *c)
{
	/* Several paths may decide to close; the first one does. */
	if (!ringo_is_closing((ringo_handle_t *)&c->stream))
		ringo_close((ringo_handle_t *)&c->stream, conn_close_cb);
}

/* Errors a client causes by going away are routine for a server. */
static bool routine_error(int err)
{
	return err == -ECONNRESET || err == -EPIPE || err == -ECANCELED || err == -ETIMEDOUT;
}

static void read_cb(ringo_stream_t *stream, ssize_t nread, const void *data);

static void write_cb(ringo_write_t *req, int status)
{
	struct conn *c = (struct conn *)req->handle;
	int ret;

	free(req); /* the http_write; its buffers are static */
	if (ringo_is_closing((ringo_handle_t *)&c->stream))
		return;
	if (status < 0) {
		if (!routine_error(status))
			fprintf(stderr, "httpd: write: %s\n", ringo_strerror(status));
		conn_close(c);
		return;
	}
	/* The gap between the marks keeps us from toggling on every write. */
	if (c->paused && ringo_write_queue_size(&c->stream) <= LOW_WATER) {
		c->paused = false;
		ret = ringo_read_start(&c->stream, read_cb);
		if (ret < 0) {
			fprintf(stderr, "httpd: ringo_read_start: %s\n", ringo_strerror(ret));
			conn_close(c);
		}
	}
}

static void shutdown_cb(ringo_shutdown_t *req, int status)
{
	struct conn *c = req->data;

	c->shut = true;
	/*
	 * Our FIN is out. Closing now, with requests the client may still
	 * send, would answer those with a RST, which can destroy the
	 * response before the client reads it: so we read (and drop) until
	 * the client closes too.
	 */
	if (status < 0 || c->eof)
		conn_close(c);
}

/* No more responses: FIN once the queued ones are sent (ringo_shutdown
 * waits for the write queue). */
static void conn_finish(struct conn *c)
{
	int ret;

	c->done = true;
	if (c->shutting)
		return;
	c->shutting = true;
	c->shutdown.data = c;
	ret = ringo_shutdown(&c->shutdown, &c->stream, shutdown_cb);
	if (ret < 0)
		conn_close(c);
}

/* Add a response to the batch; -ENOMEM if the iovec array cannot grow. */
static int batch_add(struct batch *b, enum resp resp, bool head)
{
	const struct response *r = &responses[resp];
	struct iovec *last = b->n ? &b->iov[b->n - 1] : NULL;
	size_t ok_len = responses[RESP_OK].len;

	b->requests++;
	/* Consecutive plain 200s extend one iovec over ok_blob. */
	if (resp == RESP_OK && !head && last && last->iov_base == ok_blob &&
	    last->iov_len + ok_len <= ok_blob_len) {
		last->iov_len += ok_len;
		return 0;
	}
	if (b->n == b->cap) {
		unsigned cap = b->cap ? 2 * b->cap : 16;
		struct iovec *iov = realloc(b->iov, cap * sizeof(*iov));

		if (!iov)
			return -ENOMEM;
		b->iov = iov;
		b->cap = cap;
	}
	if (resp == RESP_OK && !head)
		b->iov[b->n].iov_base = ok_blob;
	else
		b->iov[b->n].iov_base = (void *)r->text;
	b->iov[b->n].iov_len = head ? r->head_len : r->len;
	b->n++;
	return 0;
}

/* Answer one complete request head. */
static int answer(struct conn *c, const char *p, size_t len)
{
	struct request req;
	enum resp resp = parse_request(p, len, &req);

	if (responses[resp].last)
		c->done = true;
	else
		c->body_left = req.content_length;
	return batch_add(&c->w->batch, resp, req.head);
}

/* Queue the batch as one write. Returns 0, or -errno with c closing. */
static int batch_send(struct conn *c, struct batch *b)
{
	struct http_write *hw;
	int ret;

	if (!b->n)
		return 0;
	/* A write request belongs to ringo until its callback: one per batch,
	 * never reused while queued. */
	hw = malloc(sizeof(*hw) + b->n * sizeof(struct iovec));
	if (!hw) {
		fprintf(stderr, "httpd: out of memory; dropping a connection\n");
		conn_close(c);
		return -ENOMEM;
	}
	memcpy(hw->iov, b->iov, b->n * sizeof(struct iovec));
	ret = ringo_write(&hw->req, &c->stream, hw->iov, b->n, write_cb);
	if (ret < 0) {
		/* A refused write never calls back: it is still ours. */
		free(hw);
		fprintf(stderr, "httpd: ringo_write: %s\n", ringo_strerror(ret));
		conn_close(c);
		return ret;
	}
	c->w->requests += b->requests;
	/* A client that pipelines without reading would make us queue without
	 * bound: stop reading it until it catches up. */
	if (!c->paused && ringo_write_queue_size(&c->stream) > HIGH_WATER) {
		ringo_read_stop(&c->stream);
		c->paused = true;
	}
	return 0;
}

/*
 * Feed what one read brought: answer every complete request in it (they
 * may be pipelined), keep an unfinished head for the next read, and queue
 * all the answers as one write.
 */
static void conn_feed(struct conn *c, const char *p, size_t n)
{
	struct batch *b = &c->w->batch;
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
			/* Fast path: the head is all in this read, and read in
			 * place. Empty lines before a request are allowed. */
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
				/* The rest of the head comes in a later read. */
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
			/* A head begun in an earlier read: append, but only as
			 * far as MAX_HEAD, and search only the new bytes (and
			 * the 3 before, where a "\r\n\r\n" may have begun). */
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
		fprintf(stderr, "httpd: out of memory; dropping a connection\n");
		conn_close(c);
		return;
	}
	if (batch_send(c, b) == 0 && c->done)
		conn_finish(c);
}

static void read_cb(ringo_stream_t *stream, ssize_t nread, const void *data)
{
	struct conn *c = (struct conn *)stream;

	if (nread == RINGO_EOF) {
		/* The client may have half-closed after its last request:
		 * answer what it sent, then FIN, then close. */
		c->eof = true;
		if (c->shut)
			conn_close(c);
		else
			conn_finish(c);
		return;
	}
	if (nread < 0) {
		if (!routine_error((int)nread))
			fprintf(stderr, "httpd: read: %s\n", ringo_strerror((int)nread));
		conn_close(c);
		return;
	}
	if (!c->done)
		conn_feed(c, data, (size_t)nread);
}

static void connection_cb(ringo_stream_t *listener, int status)
{
	struct worker *w = listener->data;
	struct conn *c;
	int ret;

	if (status < 0) {
		/* EMFILE and friends: this connection is lost, the listener
		 * keeps accepting. */
		fprintf(stderr, "httpd: accept: %s\n", ringo_strerror(status));
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		fprintf(stderr, "httpd: out of memory; refusing a connection\n");
		return; /* not accepted: ringo closes the socket */
	}
	c->w = w;
	ret = ringo_tcp_init(&w->loop, &c->stream);
	if (ret == 0)
		ret = ringo_accept(listener, &c->stream);
	if (ret < 0) {
		/* init does no I/O and a failed accept leaves no socket. */
		fprintf(stderr, "httpd: ringo_accept: %s\n", ringo_strerror(ret));
		free(c);
		return;
	}
	c->next = w->conns;
	if (c->next)
		c->next->prev = c;
	w->conns = c;
	w->connections++;
	/* Responses are whole batches already; Nagle would only hold the
	 * next one back waiting for an ACK. */
	ringo_tcp_nodelay(&c->stream, 1);
	ret = ringo_read_start(&c->stream, read_cb);
	if (ret < 0) {
		fprintf(stderr, "httpd: ringo_read_start: %s\n", ringo_strerror(ret));
		conn_close(c);
	}
}

/* ---- workers ------------------------------------------------------------ */

/* Ask w's loop to stop. Any thread, and async-signal-safe. */
static void worker_wake(struct worker *w)
{
	__atomic_add_fetch(&w->stop_senders, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&w->stop_open, __ATOMIC_SEQ_CST))
		ringo_async_send(&w->stop_async);
	__atomic_sub_fetch(&w->stop_senders, 1, __ATOMIC_SEQ_CST);
}

/* On w's loop: close everything; ringo_run then returns. */
static void worker_stop(struct worker *w)
{
	struct conn *c;

	if (w->stopping)
		return;
	w->stopping = true;
	/*
	 * ringo_async_send() is async-signal-safe, but a send that already
	 * checked the handle could still be writing the loop's eventfd when
	 * the loop closes it. Shut the door, wait out a send in progress (a
	 * few instructions in the handler), and only then close the handle.
	 */
	__atomic_store_n(&w->stop_open, 0, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&w->stop_senders, __ATOMIC_SEQ_CST))
		sched_yield();
	ringo_close((ringo_handle_t *)&w->stop_async, NULL);
	if (cfg.duration_ms)
		ringo_close((ringo_handle_t *)&w->deadline, NULL);
	ringo_close((ringo_handle_t *)&w->listener, NULL);
	/* Close callbacks unlink only later, from the loop: walking the list
	 * is safe. Queued writes end with -ECANCELED and are freed. */
	for (c = w->conns; c; c = c->next)
		conn_close(c);
}

static void stop_async_cb(ringo_async_t *handle)
{
	worker_stop(handle->data);
}

static void deadline_cb(ringo_timer_t *timer)
{
	worker_stop(timer->data);
}

static int worker_fail(struct worker *w, const char *what, int err)
{
	fprintf(stderr, "httpd: thread %u: %s %s: %s\n", w->id, what, cfg.what,
		ringo_strerror(err));
	return err;
}

/* Listener, stop handle and deadline on w's loop; prints what failed. */
static int worker_setup(struct worker *w)
{
	int ret;

	ret = ringo_tcp_init(&w->loop, &w->listener);
	if (ret < 0)
		return worker_fail(w, "ringo_tcp_init for", ret);
	w->listener.data = w;
	/*
	 * SO_REUSEPORT lets every thread bind its own listener to the same
	 * port; the kernel hashes each new connection to one of them. So no
	 * accept queue, lock or hand-off is shared between threads.
	 */
	ret = ringo_tcp_bind(&w->listener, (const struct sockaddr *)&cfg.addr, RINGO_TCP_REUSEPORT);
	if (ret < 0) {
		worker_fail(w, "cannot bind", ret);
		goto err_listener;
	}
	ret = ringo_listen(&w->listener, BACKLOG, connection_cb);
	if (ret < 0) {
		worker_fail(w, "cannot listen on", ret);
		goto err_listener;
	}
	ret = ringo_async_init(&w->loop, &w->stop_async, stop_async_cb);
	if (ret < 0) {
		worker_fail(w, "ringo_async_init for", ret);
		goto err_listener;
	}
	w->stop_async.data = w;
	if (cfg.duration_ms) {
		ret = ringo_timer_init(&w->loop, &w->deadline);
		if (ret < 0) {
			worker_fail(w, "ringo_timer_init for", ret);
			goto err_async;
		}
		w->deadline.data = w;
		ret = ringo_timer_start(&w->deadline, deadline_cb, (int64_t)cfg.duration_ms, 0);
		if (ret < 0) {
			worker_fail(w, "ringo_timer_start for", ret);
			goto err_timer;
		}
	}
	/* From here on the signal handler may wake this loop. */
	__atomic_store_n(&w->stop_open, 1, __ATOMIC_SEQ_CST);
	return 0;

err_timer:
	ringo_close((ringo_handle_t *)&w->deadline, NULL);
err_async:
	ringo_close((ringo_handle_t *)&w->stop_async, NULL);
err_listener:
	ringo_close((ringo_handle_t *)&w->listener, NULL);
	return ret;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	int ret;

	/* The loop is made on the thread that runs it: the ring is set up
	 * for a single issuer. */
	ret = ringo_loop_init(&w->loop, NULL);
	if (ret < 0) {
		fprintf(stderr, "httpd: thread %u: ringo_loop_init: %s\n", w->id,
			ringo_setup_strerror(ret));
		w->start_status = ret;
		sem_post(&started);
		return NULL;
	}
	w->loop.data = w;
	w->start_status = worker_setup(w);
	sem_post(&started);
	/* After a failed set-up this just runs the closes through. */
	ret = ringo_run(&w->loop, RINGO_RUN_DEFAULT);
	if (ret < 0)
		fprintf(stderr, "httpd: thread %u: ringo_run: %s\n", w->id, ringo_strerror(ret));
	ret = ringo_loop_close(&w->loop);
	if (ret < 0)
		fprintf(stderr, "httpd: thread %u: ringo_loop_close: %s\n", w->id,
			ringo_strerror(ret));
	free(w->batch.iov);
	w->batch.iov = NULL;
	return NULL;
}

static void on_signal(int signo)
{
	int saved_errno = errno;
	unsigned i;

	(void)signo;
	for (i = 0; i < nworkers; i++)
		worker_wake(&workers[i]);
	errno = saved_errno;
}

/* ---- start-up ----------------------------------------------------------- */

static void build_responses(void)
{
	static const struct {
		const char *status;
		const char *connection; /* header line, or "" */
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
		/* Fixed strings that fit: a failure here is a bug in the table. */
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

/*
 * Bind a plain socket (no SO_REUSEPORT) to the address and let it go.
 * SO_REUSEPORT would let our listeners silently share the port with
 * another program that also set it (another httpd, say): this probe
 * fails with -EADDRINUSE instead. It also learns the port the kernel
 * picks for -p 0, which every thread must then use. Returns 0 or -errno.
 */
static int probe_address(struct sockaddr_storage *ss)
{
	socklen_t len =
	    ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	int fd, one = 1, ret = 0;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* As ringo_tcp_bind does: TIME_WAIT leftovers are no conflict. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)ss, len) < 0 ||
	    getsockname(fd, (struct sockaddr *)ss, &len) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* Every connection is an fd: allow as many as the hard limit does. */
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
		"usage: httpd [-p PORT] [-a ADDR] [-t THREADS] [-d SECONDS]\n"
		"  -p PORT     TCP port, 0 for any free one (default %d)\n"
		"  -a ADDR     IPv4 or IPv6 address to bind (default %s)\n"
		"  -t THREADS  threads, each with its own loop and listener (default 1)\n"
		"  -d SECONDS  stop by itself after this long (default: at SIGINT/SIGTERM)\n",
		DEFAULT_PORT, DEFAULT_ADDR);
}

/* 0, 2 for bad arguments (with a message), or -1 after -h. */
static int parse_args(int argc, char **argv)
{
	const char *host = DEFAULT_ADDR;
	unsigned long port = DEFAULT_PORT, threads = 1, seconds = 0;
	int opt;

	while ((opt = getopt(argc, argv, "p:a:t:d:h")) != -1) {
		switch (opt) {
		case 'p':
			if (parse_uint(optarg, 65535, &port) < 0) {
				fprintf(stderr, "httpd: bad port '%s' (0-65535)\n", optarg);
				return 2;
			}
			break;
		case 'a':
			host = optarg;
			break;
		case 't':
			if (parse_uint(optarg, MAX_THREADS, &threads) < 0 || !threads) {
				fprintf(stderr, "httpd: bad thread count '%s' (1-%d)\n", optarg,
					MAX_THREADS);
				return 2;
			}
			break;
		case 'd':
			if (parse_uint(optarg, 86400 * 365, &seconds) < 0 || !seconds) {
				fprintf(stderr, "httpd: bad duration '%s' (whole seconds, > 0)\n",
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
		fprintf(stderr, "httpd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (parse_addr(host, (unsigned)port, &cfg.addr) < 0) {
		fprintf(stderr, "httpd: bad address '%s' (numeric IPv4 or IPv6)\n", host);
		return 2;
	}
	cfg.threads = (unsigned)threads;
	cfg.duration_ms = (uint64_t)seconds * 1000;
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	sigset_t mask;
	uint64_t requests = 0, connections = 0;
	unsigned i, created;
	int ret, failed = 0;

	ret = parse_args(argc, argv);
	if (ret)
		return ret < 0 ? 0 : ret; /* -h: 0 */
	build_responses();
	describe(&cfg.addr, cfg.what, sizeof(cfg.what));
	ret = probe_address(&cfg.addr);
	if (ret < 0) {
		fprintf(stderr, "httpd: cannot bind %s: %s\n", cfg.what, ringo_strerror(ret));
		return 1;
	}
	describe(&cfg.addr, cfg.what, sizeof(cfg.what));
	raise_fd_limit();

	/*
	 * Blocked before any thread exists, so the workers inherit the mask
	 * and only this thread takes the signals, and only once every worker
	 * is set up (see below): the handler then has something to wake.
	 */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_mask = mask; /* no nesting: one handler at a time */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	workers = calloc(cfg.threads, sizeof(*workers));
	if (!workers || sem_init(&started, 0, 0) < 0) {
		fprintf(stderr, "httpd: out of memory\n");
		free(workers);
		return 1;
	}
	for (created = 0; created < cfg.threads; created++) {
		workers[created].id = created;
		ret =
		    pthread_create(&workers[created].thread, NULL, worker_main, &workers[created]);
		if (ret) {
			fprintf(stderr, "httpd: pthread_create: %s\n", strerror(ret));
			failed = 1;
			break;
		}
	}
	for (i = 0; i < created; i++) {
		while (sem_wait(&started) < 0 && errno == EINTR)
			;
	}
	for (i = 0; i < created; i++)
		failed |= workers[i].start_status < 0;
	nworkers = created;
	if (failed) {
		/* Workers that did start are stopped the way a signal would. */
		for (i = 0; i < created; i++)
			worker_wake(&workers[i]);
	} else {
		printf("httpd: listening on %s, %u thread%s\n", cfg.what, cfg.threads,
		       cfg.threads > 1 ? "s" : "");
		/* Scripts wait for this line before starting clients. */
		fflush(stdout);
		pthread_sigmask(SIG_UNBLOCK, &mask, NULL);
	}
	for (i = 0; i < created; i++) {
		pthread_join(workers[i].thread, NULL);
		requests += workers[i].requests;
		connections += workers[i].connections;
	}
	/* No handler may look at the workers once they are freed. */
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	nworkers = 0;
	free(workers);
	sem_destroy(&started);
	if (failed)
		return 1;
	printf("httpd: requests=%llu connections=%llu\n", (unsigned long long)requests,
	       (unsigned long long)connections);
	return 0;
}
