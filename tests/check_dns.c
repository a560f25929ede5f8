/* SPDX-License-Identifier: MIT */
/*
 * ringo_getaddrinfo through the public API, without touching the network:
 * "localhost" (from /etc/hosts), numeric IPv4 and IPv6 hosts, a service
 * alone, and the errors mapped from EAI_* codes (a name that cannot parse
 * as numeric, bad flags, an unknown numeric service, no host and no
 * service). Cancellation: many resolutions queued on a one-thread pool, every
 * other one cancelled at once; each callback runs exactly once with the
 * result ringo_cancel's return promised. Every result is freed, so LSan in
 * CI sees any leak; every test gets a fresh loop and the teardown asserts it
 * closes with nothing left.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fixture_loop.h"

/* ---- Fixture ---------------------------------------------------------- */

static int callbacks;		/* resolution callbacks, all requests */

static void setup(void)
{
	/* Without fork mode (CK_FORK=no) every test must start from zero. */
	callbacks = 0;
	loop_fixture_open(NULL);
}

static void teardown(void)
{
	if (!loop_open)
		return;
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	loop_fixture_close();
}

/* ---- Requests that record their result -------------------------------- */

struct greq {
	ringo_getaddrinfo_t req;
	int calls;
	int status;
	struct addrinfo *res;	/* the test frees it */
	int free_in_cb;		/* free res in the callback (and keep NULL) */
	int res_was_null;	/* with free_in_cb */
	int cancel_ret;		/* what ringo_cancel returned, 1 if not cancelled */
};

static void gai_cb(ringo_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct greq *g = owner_of(req, struct greq, req);

	ck_assert_ptr_eq(req->loop, &loop);
	g->calls++;
	g->status = status;
	callbacks++;
	if (status)
		ck_assert_msg(res == NULL, "status %s with a result", ringo_err_name(status));
	else
		ck_assert_ptr_nonnull(res);
	if (g->free_in_cb) {
		g->res_was_null = res == NULL;
		ringo_freeaddrinfo(res);
		return;
	}
	ck_assert_ptr_null(g->res);
	g->res = res;
}

static struct addrinfo hints_of(int family, int socktype, int flags)
{
	struct addrinfo h;

	memset(&h, 0, sizeof(h));
	h.ai_family = family;
	h.ai_socktype = socktype;
	h.ai_flags = flags;
	return h;
}

/* Resolve and run the loop until the callback ran; returns its status. */
static int resolve(struct greq *g, const char *host, const char *service,
		   const struct addrinfo *hints)
{
	int ret;

	ret = ringo_getaddrinfo(&loop, &g->req, gai_cb, host, service, hints);
	ck_assert_msg(ret == 0, "ringo_getaddrinfo: %s", ringo_err_name(ret));
	ck_assert_int_eq(ringo_loop_alive(&loop), 1);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(g->calls, 1);
	return g->status;
}

/* Entries in `res` that are `family` at the address `addr` with port `port`. */
static int count_matches(const struct addrinfo *res, int family, const void *addr, int port)
{
	const struct addrinfo *ai;
	int n = 0;

	for (ai = res; ai; ai = ai->ai_next) {
		if (ai->ai_family != family || !ai->ai_addr)
			continue;
		if (family == AF_INET) {
			const struct sockaddr_in *sin = (const void *)ai->ai_addr;

			ck_assert_uint_eq(ai->ai_addrlen, sizeof(*sin));
			if (ntohs(sin->sin_port) == port &&
			    !memcmp(&sin->sin_addr, addr, sizeof(sin->sin_addr)))
				n++;
		} else {
			const struct sockaddr_in6 *sin6 = (const void *)ai->ai_addr;

			ck_assert_uint_eq(ai->ai_addrlen, sizeof(*sin6));
			if (ntohs(sin6->sin6_port) == port &&
			    !memcmp(&sin6->sin6_addr, addr, sizeof(sin6->sin6_addr)))
				n++;
		}
	}
	return n;
}

static struct in_addr ipv4(const char *s)
{
	struct in_addr a;

	ck_assert_int_eq(inet_pton(AF_INET, s, &a), 1);
	return a;
}

/* ======================================================================
 * Resolutions that succeed
 * ====================================================================== */

START_TEST(test_localhost)
{
	struct addrinfo hints = hints_of(AF_INET, SOCK_STREAM, 0);
	struct in_addr lo = ipv4("127.0.0.1");
	struct greq g = { 0 };
	const struct addrinfo *ai;

	REQUIRE_LOOP();
	assert_status(resolve(&g, "localhost", "80", &hints), 0);
	ck_assert_int_ge(count_matches(g.res, AF_INET, &lo, 80), 1);
	for (ai = g.res; ai; ai = ai->ai_next) {
		ck_assert_int_eq(ai->ai_family, AF_INET);
		ck_assert_int_eq(ai->ai_socktype, SOCK_STREAM);
	}
	ringo_freeaddrinfo(g.res);
}
END_TEST

START_TEST(test_numeric_ipv4)
{
	struct addrinfo hints = hints_of(AF_UNSPEC, SOCK_DGRAM, AI_NUMERICHOST);
	struct in_addr lo = ipv4("127.0.0.1");
	struct greq g = { 0 };

	REQUIRE_LOOP();
	assert_status(resolve(&g, "127.0.0.1", "53", &hints), 0);
	ck_assert_int_eq(count_matches(g.res, AF_INET, &lo, 53), 1);
	ck_assert_ptr_null(g.res->ai_next);
	ck_assert_int_eq(g.res->ai_socktype, SOCK_DGRAM);
	ringo_freeaddrinfo(g.res);
}
END_TEST

START_TEST(test_numeric_ipv6)
{
	struct addrinfo hints = hints_of(AF_INET6, SOCK_STREAM, AI_NUMERICHOST);
	struct greq g = { 0 };

	REQUIRE_LOOP();
	assert_status(resolve(&g, "::1", "8080", &hints), 0);
	ck_assert_int_eq(count_matches(g.res, AF_INET6, &in6addr_loopback, 8080), 1);
	ck_assert_ptr_null(g.res->ai_next);
	ringo_freeaddrinfo(g.res);
}
END_TEST

/* No hints at all: glibc's defaults (any family, every socket type). */
START_TEST(test_no_hints)
{
	struct in_addr lo = ipv4("127.0.0.1");
	struct greq g = { 0 };

	REQUIRE_LOOP();
	assert_status(resolve(&g, "127.0.0.1", NULL, NULL), 0);
	ck_assert_int_ge(count_matches(g.res, AF_INET, &lo, 0), 1);
	ringo_freeaddrinfo(g.res);
}
END_TEST

/* Service alone, passive: the wildcard address of each family, port 443. */
START_TEST(test_service_only)
{
	struct addrinfo hints = hints_of(AF_UNSPEC, SOCK_STREAM, AI_PASSIVE);
	struct in_addr any4 = { .s_addr = htonl(INADDR_ANY) };
	const struct addrinfo *ai;
	struct greq g = { 0 };
	int n = 0;

	REQUIRE_LOOP();
	assert_status(resolve(&g, NULL, "443", &hints), 0);
	for (ai = g.res; ai; ai = ai->ai_next)
		n++;
	ck_assert_int_ge(n, 1);
	ck_assert_int_eq(count_matches(g.res, AF_INET, &any4, 443) +
				 count_matches(g.res, AF_INET6, &in6addr_any, 443),
			 n);
	ringo_freeaddrinfo(g.res);

	/* And restricted to IPv4: exactly 0.0.0.0:443. */
	memset(&g, 0, sizeof(g));
	hints.ai_family = AF_INET;
	assert_status(resolve(&g, NULL, "443", &hints), 0);
	ck_assert_int_eq(count_matches(g.res, AF_INET, &any4, 443), 1);
	ck_assert_ptr_null(g.res->ai_next);
	ringo_freeaddrinfo(g.res);
}
END_TEST

/* The request may be started again from its own callback. */
static void again_cb(ringo_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct greq *g = owner_of(req, struct greq, req);
	struct addrinfo hints = hints_of(AF_INET, SOCK_STREAM, AI_NUMERICHOST);

	g->calls++;
	callbacks++;
	assert_status(status, 0);
	ringo_freeaddrinfo(res);
	if (g->calls == 1)
		ck_assert_int_eq(ringo_getaddrinfo(&loop, req, again_cb, "127.0.0.1", "1", &hints),
				 0);
}

START_TEST(test_restart_from_callback)
{
	struct addrinfo hints = hints_of(AF_INET, SOCK_STREAM, AI_NUMERICHOST);
	struct greq g = { 0 };

	REQUIRE_LOOP();
	ck_assert_int_eq(ringo_getaddrinfo(&loop, &g.req, again_cb, "127.0.0.1", "1", &hints), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(g.calls, 2);
	ck_assert_int_eq(callbacks, 2);
}
END_TEST

/* ======================================================================
 * Errors
 * ====================================================================== */

/*
 * A name in the reserved .invalid TLD (RFC 6761). AI_NUMERICHOST keeps
 * glibc from asking any resolver: parsing fails, EAI_NONAME -> -ENOENT.
 */
START_TEST(test_no_such_host)
{
	struct addrinfo hints = hints_of(AF_UNSPEC, SOCK_STREAM, AI_NUMERICHOST);
	struct greq g = { 0 };

	REQUIRE_LOOP();
	assert_status(resolve(&g, "no-such-host.invalid", "80", &hints), -ENOENT);
	ck_assert_ptr_null(g.res);
}
END_TEST

/*
 * Flags glibc does not know: it answers EAI_BADFLAGS (-> -EINVAL) for
 * undefined bits; -ENOENT is accepted too in case a libc checks the name
 * first. Either way negative, with no result. The host is numeric so
 * nothing could reach the network even if the flags were ignored.
 */
START_TEST(test_bad_flags)
{
	struct addrinfo hints = hints_of(AF_UNSPEC, SOCK_STREAM, 0x7fffffff);
	struct greq g = { 0 };
	int status;

	REQUIRE_LOOP();
	status = resolve(&g, "127.0.0.1", "80", &hints);
	ck_assert_msg(status == -EINVAL || status == -ENOENT, "status %s", ringo_err_name(status));
	ck_assert_ptr_null(g.res);
}
END_TEST

/* AI_NUMERICSERV with a name: EAI_NONAME -> -ENOENT; no services db lookup. */
START_TEST(test_unknown_service)
{
	struct addrinfo hints = hints_of(AF_INET, SOCK_STREAM, AI_NUMERICHOST | AI_NUMERICSERV);
	struct greq g = { 0 };

	REQUIRE_LOOP();
	assert_status(resolve(&g, "127.0.0.1", "no-such-service-ringo", &hints), -ENOENT);
	ck_assert_ptr_null(g.res);

	/* A bad family maps to -EAFNOSUPPORT. */
	memset(&g, 0, sizeof(g));
	hints = hints_of(AF_UNIX, SOCK_STREAM, AI_NUMERICHOST);
	assert_status(resolve(&g, "127.0.0.1", "80", &hints), -EAFNOSUPPORT);
	ck_assert_ptr_null(g.res);
}
END_TEST

START_TEST(test_bad_arguments)
{
	struct addrinfo hints = hints_of(AF_INET, SOCK_STREAM, AI_NUMERICHOST);
	struct greq g = { 0 };

	REQUIRE_LOOP();
	ck_assert_int_eq(ringo_getaddrinfo(&loop, &g.req, gai_cb, NULL, NULL, &hints), -EINVAL);
	ck_assert_int_eq(ringo_getaddrinfo(&loop, &g.req, gai_cb, NULL, NULL, NULL), -EINVAL);
	ck_assert_int_eq(ringo_getaddrinfo(NULL, &g.req, gai_cb, "127.0.0.1", NULL, &hints),
			 -EINVAL);
	ck_assert_int_eq(ringo_getaddrinfo(&loop, NULL, gai_cb, "127.0.0.1", NULL, &hints),
			 -EINVAL);
	ck_assert_int_eq(ringo_getaddrinfo(&loop, &g.req, NULL, "127.0.0.1", NULL, &hints),
			 -EINVAL);
	ck_assert_int_eq(ringo_loop_alive(&loop), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(g.calls, 0);
	ck_assert_int_eq(callbacks, 0);

	ck_assert_int_eq(ringo_cancel(NULL), -EINVAL);
	ringo_freeaddrinfo(NULL);
}
END_TEST

/* ======================================================================
 * Cancellation
 * ====================================================================== */

START_TEST(test_cancel_half)
{
	struct addrinfo hints = hints_of(AF_INET, SOCK_STREAM, AI_NUMERICHOST);
	struct in_addr lo = ipv4("127.0.0.1");
	struct ringo_loop_opts opts;
	unsigned n = TEST_SIZE(1000, 200), i, cancelled = 0;
	struct greq *g;

	REQUIRE_LOOP();
	ck_assert_int_eq(ringo_loop_close(&loop), 0);
	loop_open = 0;
	ringo_loop_opts_init(&opts);
	opts.threadpool_size = 1;
	loop_fixture_open(&opts);
	ck_assert(loop_open);

	g = calloc(n, sizeof(*g));
	ck_assert_ptr_nonnull(g);
	for (i = 0; i < n; i++) {
		g[i].cancel_ret = 1;
		ck_assert_int_eq(ringo_getaddrinfo(&loop, &g[i].req, gai_cb, "127.0.0.1", "80",
						   &hints),
				 0);
		if (i % 2) {
			g[i].cancel_ret = ringo_cancel(AS_REQ(&g[i].req));
			ck_assert_msg(g[i].cancel_ret == 0 || g[i].cancel_ret == -EBUSY,
				      "cancel %u: %s", i, ringo_err_name(g[i].cancel_ret));
			if (g[i].cancel_ret == 0) {
				cancelled++;
				/* Already being cancelled. */
				ck_assert_int_eq(ringo_cancel(AS_REQ(&g[i].req)), -EALREADY);
			}
		}
	}
	/* One thread cannot have started more than a few of them yet. */
	ck_assert_uint_gt(cancelled, 0);
	ck_assert_int_eq(callbacks, 0);	/* never from inside ringo_cancel */
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(callbacks, (int)n);

	for (i = 0; i < n; i++) {
		ck_assert_msg(g[i].calls == 1, "request %u: %d callbacks", i, g[i].calls);
		if (g[i].cancel_ret == 0) {
			assert_status(g[i].status, -ECANCELED);
			ck_assert_ptr_null(g[i].res);
		} else {
			assert_status(g[i].status, 0);
			ck_assert_int_eq(count_matches(g[i].res, AF_INET, &lo, 80), 1);
		}
		/* Finished: nothing left to cancel. */
		ck_assert_int_eq(ringo_cancel(AS_REQ(&g[i].req)), -ENOENT);
		ringo_freeaddrinfo(g[i].res);
	}
	free(g);
}
END_TEST

/* A request that finished cannot be cancelled, and one never started is refused. */
START_TEST(test_cancel_finished)
{
	struct addrinfo hints = hints_of(AF_INET, SOCK_STREAM, AI_NUMERICHOST);
	struct greq g = { 0 }, never = { 0 };

	REQUIRE_LOOP();
	ck_assert_int_eq(ringo_cancel(AS_REQ(&never.req)), -EINVAL);
	g.free_in_cb = 1;
	assert_status(resolve(&g, "127.0.0.1", "80", &hints), 0);
	ck_assert_int_eq(g.res_was_null, 0);
	ck_assert_int_eq(ringo_cancel(AS_REQ(&g.req)), -ENOENT);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(g.calls, 1);
}
END_TEST

/* ---- Suite ------------------------------------------------------------ */

static Suite *suite(void)
{
	Suite *s = suite_create("dns");
	TCase *ok = test_tcase(s, "resolve", setup, teardown, 60);
	TCase *err = test_tcase(s, "errors", setup, teardown, 60);
	TCase *cancel = test_tcase(s, "cancel", setup, teardown, 60);

	tcase_add_test(ok, test_localhost);
	tcase_add_test(ok, test_numeric_ipv4);
	tcase_add_test(ok, test_numeric_ipv6);
	tcase_add_test(ok, test_no_hints);
	tcase_add_test(ok, test_service_only);
	tcase_add_test(ok, test_restart_from_callback);

	tcase_add_test(err, test_no_such_host);
	tcase_add_test(err, test_bad_flags);
	tcase_add_test(err, test_unknown_service);
	tcase_add_test(err, test_bad_arguments);

	tcase_add_test(cancel, test_cancel_half);
	tcase_add_test(cancel, test_cancel_finished);
	return s;
}

int main(void)
{
	return test_main(suite());
}
