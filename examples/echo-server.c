/* SPDX-License-Identifier: MIT */
/*
 * echo-server: a TCP (or Unix socket) echo server on one ringo loop.
 *
 * It shows the stream API end to end: ringo_listen() keeps one multishot
 * accept armed and calls back once per connection; each connection reads
 * with ringo_read_start() (multishot recv into the loop's buffer pool) and
 * sends every chunk back with ringo_write(). A pool buffer is only lent for
 * the length of the read callback, so each chunk is copied into a write of
 * its own, freed when that write completes. When a client sends faster
 * than it reads, writes pile up; past a high-water mark the connection
 * stops reading until the queue drains (ringo_read_stop/ringo_read_start),
 * so one client cannot grow the server without bound. On EOF the
 * connection shuts down its sending side once the echo is flushed, then
 * closes. SIGINT/SIGTERM arrive through a signalfd read by a raw io_uring
 * op (ringo_submit): the loop closes the listener and every connection,
 * runs until they are gone, closes, and prints one summary line. A second
 * signal during that stop exits at once.
 *
 *   echo-server [-p PORT] [-a ADDR] [-u UNIX_PATH]
 *
 * Defaults to 127.0.0.1:7000. Exit status: 0 after a signal-driven stop,
 * 1 when the server cannot start (address in use...), 2 for bad arguments.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <ringo.h>

#define DEFAULT_ADDR "127.0.0.1"
#define DEFAULT_PORT 7000
#define BACKLOG 4096	       /* the kernel caps it at net.core.somaxconn */
#define HIGH_WATER (1U << 20)  /* bytes queued to a client: stop reading it */
#define LOW_WATER (256U << 10) /* bytes queued: read it again */

struct server;

struct conn {
	ringo_stream_t stream; /* first: handle callbacks cast back to the conn */
	struct server *srv;
	ringo_shutdown_t shutdown;
	struct conn *prev, *next; /* srv->conns: what a stop must close */
	int paused;		  /* reading stopped for backpressure */
};

/* One echoed chunk: the request, its iovec and the bytes in one block. */
struct echo_write {
	ringo_write_t req; /* first: the write callback casts back */
	struct iovec iov;
	unsigned char data[];
};

struct server {
	ringo_loop_t loop;
	ringo_stream_t listener;
	ringo_raw_t sig_req;		 /* the signalfd read */
	struct signalfd_siginfo siginfo; /* written by the kernel until sig_req completes */
	int sig_fd;
	struct conn *conns;    /* open connections, newest first */
	const char *unix_path; /* unlinked at exit: we created it */
	int listener_open;     /* initialised, close_cb not yet run */
	int stopping;
	uint64_t accepted; /* connections */
	uint64_t echoed;   /* bytes written back in full */
};

/*
 * The stop is complete when every handle has run its close_cb. Until then
 * the signalfd read stays armed, which also keeps ringo_run going while
 * the closes finish; cancelling it is what lets the loop end.
 */
static void maybe_stopped(struct server *srv)
{
	if (srv->stopping && !srv->listener_open && !srv->conns)
		ringo_cancel((ringo_req_t *)&srv->sig_req);
}

static void conn_close_cb(ringo_handle_t *handle)
{
	struct conn *c = (struct conn *)handle;
	struct server *srv = c->srv;

	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c);
	maybe_stopped(srv);
}

static void conn_close(struct conn *c)
{
	/* -EALREADY just means another path got there first. */
	if (!ringo_is_closing((ringo_handle_t *)&c->stream))
		ringo_close((ringo_handle_t *)&c->stream, conn_close_cb);
}

/* Errors a client causes by going away are routine for an echo server. */
static int routine_error(int err)
{
	return err == -ECONNRESET || err == -EPIPE || err == -ECANCELED || err == -ETIMEDOUT;
}

static void read_cb(ringo_stream_t *stream, ssize_t nread, const void *data);

static void write_cb(ringo_write_t *req, int status)
{
	struct echo_write *w = (struct echo_write *)req;
	struct conn *c = (struct conn *)req->handle;
	int ret;

	if (status == 0)
		c->srv->echoed += w->iov.iov_len;
	free(w);
	if (ringo_is_closing((ringo_handle_t *)&c->stream))
		return;
	if (status < 0) {
		if (!routine_error(status))
			fprintf(stderr, "echo-server: write: %s\n", ringo_strerror(status));
		conn_close(c);
		return;
	}
	/* The gap between the marks keeps us from toggling on every write. */
	if (c->paused && ringo_write_queue_size(&c->stream) <= LOW_WATER) {
		c->paused = 0;
		ret = ringo_read_start(&c->stream, read_cb);
		if (ret < 0) {
			fprintf(stderr, "echo-server: ringo_read_start: %s\n", ringo_strerror(ret));
			conn_close(c);
		}
	}
}

static void shutdown_cb(ringo_shutdown_t *req, int status)
{
	struct conn *c = req->data;

	(void)status; /* whether or not the FIN went out, we are done */
	conn_close(c);
}

static void read_cb(ringo_stream_t *stream, ssize_t nread, const void *data)
{
	struct conn *c = (struct conn *)stream;
	struct echo_write *w;
	int ret;

	if (nread == RINGO_EOF) {
		/*
		 * The client is done sending but may still be reading: let
		 * the queued echo drain, then send our FIN. ringo_shutdown
		 * waits for the write queue, so there is nothing to track.
		 */
		c->shutdown.data = c;
		ret = ringo_shutdown(&c->shutdown, stream, shutdown_cb);
		if (ret < 0)
			conn_close(c);
		return;
	}
	if (nread < 0) {
		if (!routine_error((int)nread))
			fprintf(stderr, "echo-server: read: %s\n", ringo_strerror((int)nread));
		conn_close(c);
		return;
	}
	/* `data` is the loop's buffer, reused as soon as we return. */
	w = malloc(sizeof(*w) + (size_t)nread);
	if (!w) {
		fprintf(stderr, "echo-server: out of memory; dropping a connection\n");
		conn_close(c);
		return;
	}
	memcpy(w->data, data, (size_t)nread);
	w->iov.iov_base = w->data;
	w->iov.iov_len = (size_t)nread;
	ret = ringo_write(&w->req, stream, &w->iov, 1, write_cb);
	if (ret < 0) {
		/* A refused write never calls back: it is still ours. */
		free(w);
		fprintf(stderr, "echo-server: ringo_write: %s\n", ringo_strerror(ret));
		conn_close(c);
		return;
	}
	if (ringo_write_queue_size(stream) > HIGH_WATER) {
		/* Data the kernel delivers after this is kept by ringo and
		 * reported first when reading starts again. */
		ringo_read_stop(stream);
		c->paused = 1;
	}
}

static void connection_cb(ringo_stream_t *listener, int status)
{
	struct server *srv = listener->data;
	struct conn *c;
	int ret;

	if (status < 0) {
		/* EMFILE and friends: this one connection is lost, the
		 * listener keeps accepting. */
		fprintf(stderr, "echo-server: accept: %s\n", ringo_strerror(status));
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		fprintf(stderr, "echo-server: out of memory; refusing a connection\n");
		return; /* not accepted: ringo closes the socket */
	}
	c->srv = srv;
	if (listener->type == RINGO_HANDLE_UNIX)
		ret = ringo_unix_init(&srv->loop, &c->stream);
	else
		ret = ringo_tcp_init(&srv->loop, &c->stream);
	if (ret == 0)
		ret = ringo_accept(listener, &c->stream);
	if (ret < 0) {
		/* init does no I/O and a failed accept leaves no socket, so
		 * the handle holds nothing and may be freed as it is. */
		fprintf(stderr, "echo-server: ringo_accept: %s\n", ringo_strerror(ret));
		free(c);
		return;
	}
	c->next = srv->conns;
	if (c->next)
		c->next->prev = c;
	srv->conns = c;
	srv->accepted++;
	ret = ringo_read_start(&c->stream, read_cb);
	if (ret < 0) {
		fprintf(stderr, "echo-server: ringo_read_start: %s\n", ringo_strerror(ret));
		conn_close(c);
	}
}

static void listener_close_cb(ringo_handle_t *handle)
{
	struct server *srv = handle->data;

	srv->listener_open = 0;
	maybe_stopped(srv);
}

static void stop_server(struct server *srv)
{
	struct conn *c;

	if (srv->stopping)
		return;
	srv->stopping = 1;
	if (srv->listener_open)
		ringo_close((ringo_handle_t *)&srv->listener, listener_close_cb);
	/* Close callbacks unlink from the list only later, from the loop,
	 * so walking it here is safe. Queued writes end with -ECANCELED. */
	for (c = srv->conns; c; c = c->next)
		conn_close(c);
	maybe_stopped(srv);
}

static int prep_sig_read(struct ringo_sqe *sqe, void *arg)
{
	struct server *srv = arg;

	ringo_prep_read(sqe, srv->sig_fd, &srv->siginfo, sizeof(srv->siginfo), 0);
	return 0;
}

static void sig_cb(ringo_raw_t *req, int res, unsigned cqe_flags)
{
	struct server *srv = req->data;
	int ret;

	(void)cqe_flags;
	if (res == -ECANCELED && srv->stopping)
		return; /* maybe_stopped: everything is closed */
	if (res != (int)sizeof(srv->siginfo)) {
		fprintf(stderr, "echo-server: signalfd read: %s\n",
			res < 0 ? ringo_strerror(res) : "short read");
		exit(1);
	}
	if (srv->stopping) {
		/* Whatever is holding up the stop, the user is done waiting. */
		fprintf(stderr, "echo-server: %s again, exiting now\n",
			strsignal((int)srv->siginfo.ssi_signo));
		exit(1);
	}
	fprintf(stderr, "echo-server: %s, stopping\n", strsignal((int)srv->siginfo.ssi_signo));
	ret = ringo_submit(&srv->loop, req, prep_sig_read, srv, sig_cb);
	if (ret < 0)
		fprintf(stderr, "echo-server: ringo_submit: %s\n", ringo_strerror(ret));
	stop_server(srv);
}

static int parse_port(const char *s, unsigned *port)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > 65535)
		return -EINVAL;
	*port = (unsigned)v;
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

static void usage(FILE *f)
{
	fprintf(f,
		"usage: echo-server [-p PORT] [-a ADDR] [-u UNIX_PATH]\n"
		"  -p PORT       TCP port, 0 for any free one (default %d)\n"
		"  -a ADDR       IPv4 or IPv6 address to bind (default %s)\n"
		"  -u UNIX_PATH  listen on a Unix socket instead of TCP\n",
		DEFAULT_PORT, DEFAULT_ADDR);
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

/* Bind and listen; prints what went wrong and returns -errno on failure. */
static int start_listening(struct server *srv, const struct sockaddr_storage *ss, const char *what)
{
	char host[INET6_ADDRSTRLEN];
	struct sockaddr_storage bound;
	socklen_t len = sizeof(bound);
	int ret;

	if (srv->unix_path)
		ret = ringo_unix_init(&srv->loop, &srv->listener);
	else
		ret = ringo_tcp_init(&srv->loop, &srv->listener);
	if (ret < 0) {
		fprintf(stderr, "echo-server: ringo_*_init: %s\n", ringo_strerror(ret));
		srv->unix_path = NULL;
		return ret;
	}
	/* From here on a failure still leaves a handle to close. */
	srv->listener.data = srv;
	srv->listener_open = 1;
	if (srv->unix_path)
		ret = ringo_unix_bind(&srv->listener, srv->unix_path, 0);
	else
		ret = ringo_tcp_bind(&srv->listener, (const struct sockaddr *)ss, 0);
	if (ret < 0) {
		fprintf(stderr, "echo-server: cannot bind %s: %s\n", what, ringo_strerror(ret));
		if (ret == -EADDRINUSE && srv->unix_path)
			fprintf(stderr, "echo-server: remove %s if no server is using it\n",
				srv->unix_path);
		/* Bound or not, it is not ours to remove now. */
		srv->unix_path = NULL;
		return ret;
	}
	ret = ringo_listen(&srv->listener, BACKLOG, connection_cb);
	if (ret < 0) {
		fprintf(stderr, "echo-server: cannot listen on %s: %s\n", what,
			ringo_strerror(ret));
		return ret;
	}
	if (srv->unix_path) {
		printf("echo-server: listening on %s\n", srv->unix_path);
	} else {
		/* With -p 0 only the kernel knows the port. */
		ret = ringo_getsockname(&srv->listener, (struct sockaddr *)&bound, &len);
		if (ret == 0 && bound.ss_family == AF_INET6) {
			const struct sockaddr_in6 *b6 = (const struct sockaddr_in6 *)&bound;

			inet_ntop(AF_INET6, &b6->sin6_addr, host, sizeof(host));
			printf("echo-server: listening on [%s]:%u\n", host, ntohs(b6->sin6_port));
		} else if (ret == 0) {
			const struct sockaddr_in *b4 = (const struct sockaddr_in *)&bound;

			inet_ntop(AF_INET, &b4->sin_addr, host, sizeof(host));
			printf("echo-server: listening on %s:%u\n", host, ntohs(b4->sin_port));
		}
	}
	/* Scripts wait for this line before starting clients. */
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	static struct server srv; /* zeroed: handles and requests start clean */
	const char *host = DEFAULT_ADDR;
	unsigned port = DEFAULT_PORT;
	struct sockaddr_storage ss;
	char what[INET6_ADDRSTRLEN + 16];
	sigset_t mask;
	int opt, ret, status = 1;

	while ((opt = getopt(argc, argv, "p:a:u:h")) != -1) {
		switch (opt) {
		case 'p':
			if (parse_port(optarg, &port) < 0) {
				fprintf(stderr, "echo-server: bad port '%s' (0-65535)\n", optarg);
				return 2;
			}
			break;
		case 'a':
			host = optarg;
			break;
		case 'u':
			srv.unix_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "echo-server: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (srv.unix_path) {
		snprintf(what, sizeof(what), "%s", srv.unix_path);
	} else {
		if (parse_addr(host, port, &ss) < 0) {
			fprintf(stderr, "echo-server: bad address '%s' (numeric IPv4 or IPv6)\n",
				host);
			return 2;
		}
		snprintf(what, sizeof(what), strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
	}
	raise_fd_limit();

	/*
	 * Blocked before anything else exists, so no thread (the loop may
	 * start some) takes them the default way: they queue for the
	 * signalfd. Blocking, because io_uring fails reads of an O_NONBLOCK
	 * fd with -EAGAIN instead of waiting for it.
	 */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
		perror("echo-server: sigprocmask");
		return 1;
	}
	srv.sig_fd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (srv.sig_fd < 0) {
		perror("echo-server: signalfd");
		return 1;
	}
	ret = ringo_loop_init(&srv.loop, NULL);
	if (ret < 0) {
		fprintf(stderr, "echo-server: ringo_loop_init: %s\n", ringo_setup_strerror(ret));
		close(srv.sig_fd);
		return 1;
	}
	srv.loop.data = &srv;
	srv.sig_req.data = &srv;
	ret = ringo_submit(&srv.loop, &srv.sig_req, prep_sig_read, &srv, sig_cb);
	if (ret < 0) {
		fprintf(stderr, "echo-server: ringo_submit: %s\n", ringo_strerror(ret));
		ringo_loop_close(&srv.loop);
		close(srv.sig_fd);
		return 1;
	}
	/* A failed start unwinds through the same stop as a signal does. */
	if (start_listening(&srv, &ss, what) < 0)
		stop_server(&srv);
	else
		status = 0;

	/* Until a stop has closed everything and cancelled the signal read. */
	ret = ringo_run(&srv.loop, RINGO_RUN_DEFAULT);
	if (ret < 0) {
		fprintf(stderr, "echo-server: ringo_run: %s\n", ringo_strerror(ret));
		return 1;
	}
	ret = ringo_loop_close(&srv.loop);
	if (ret < 0) {
		fprintf(stderr, "echo-server: ringo_loop_close: %s\n", ringo_strerror(ret));
		return 1;
	}
	close(srv.sig_fd);
	if (srv.unix_path)
		unlink(srv.unix_path);
	if (status == 0)
		printf("echo-server: %llu connections, %llu bytes\n",
		       (unsigned long long)srv.accepted, (unsigned long long)srv.echoed);
	return status;
}
