/* SPDX-License-Identifier: MIT */
/*
 * ringo_tcp_connect_host: connecting by name through the work pool's
 * resolver. Only numeric addresses and "localhost" (from /etc/hosts) are
 * used, so nothing leaves the machine. Covers a connect that succeeds, one
 * refused on every resolved address, a name that cannot be parsed with
 * AI_NUMERICHOST semantics, cancel and close while the lookup is pending,
 * the calls a handle refuses while its lookup runs, and bad arguments.
 * Every callback must run exactly once.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "test_util.h"

static ringo_loop_t loop;
static ringo_tcp_t server, client, accepted;
static ringo_connect_t req;
static int calls, status, closes;
static char port[16];

static void on_closed(ringo_handle_t *h)
{
	(void)h;
	closes++;
}

static void on_connection(ringo_stream_t *s, int st)
{
	ck_assert_int_eq(st, 0);
	ck_assert_int_eq(ringo_tcp_init(&loop, &accepted), 0);
	ck_assert_int_eq(ringo_accept(s, &accepted), 0);
	ringo_close((ringo_handle_t *)&accepted, on_closed);
	ringo_close((ringo_handle_t *)s, on_closed);
}

static void on_connect(ringo_connect_t *r, int st)
{
	ck_assert_ptr_eq(r, &req);
	calls++;
	status = st;
	ringo_close((ringo_handle_t *)r->handle, on_closed);
}

static void setup(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);

	calls = status = closes = 0;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(ringo_loop_init(&loop, NULL), 0);
	ck_assert_int_eq(ringo_tcp_init(&loop, &server), 0);
	ck_assert_int_eq(ringo_tcp_bind(&server, (struct sockaddr *)&a, 0), 0);
	ck_assert_int_eq(ringo_getsockname(&server, (struct sockaddr *)&a, &len), 0);
	snprintf(port, sizeof(port), "%u", ntohs(a.sin_port));
	ck_assert_int_eq(ringo_tcp_init(&loop, &client), 0);
}

static void teardown(void)
{
	if (!ringo_is_closing((ringo_handle_t *)&server))
		ringo_close((ringo_handle_t *)&server, on_closed);
	ck_assert_int_ge(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(ringo_loop_close(&loop), 0);
}

START_TEST(test_connect_numeric)
{
	ck_assert_int_eq(ringo_listen(&server, 8, on_connection), 0);
	ck_assert_int_eq(ringo_tcp_connect_host(&req, &client, "127.0.0.1", port, on_connect), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(calls, 1);
	ck_assert_int_eq(status, 0);
	ck_assert_int_eq(closes, 3);	/* client, accepted, server */
}
END_TEST

/* Nobody listens (the bound server never listens): every address of
 * "localhost" (::1 and 127.0.0.1 where both exist) is tried and refused. */
START_TEST(test_connect_refused_everywhere)
{
	ck_assert_int_eq(ringo_tcp_connect_host(&req, &client, "localhost", port, on_connect), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(calls, 1);
	ck_assert_int_eq(status, -ECONNREFUSED);
}
END_TEST

START_TEST(test_connect_bad_service)
{
	ck_assert_int_eq(ringo_tcp_connect_host(&req, &client, "127.0.0.1", "no-such-service-x",
						on_connect), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(calls, 1);
	ck_assert_int_eq(status, -ENOENT);
}
END_TEST

/* Close and cancel before a pool thread picks the lookup up. */
START_TEST(test_cancel_and_close_during_lookup)
{
	ck_assert_int_eq(ringo_tcp_connect_host(&req, &client, "127.0.0.1", port, on_connect), 0);
	ck_assert_int_eq(ringo_close((ringo_handle_t *)&client, on_closed), 0);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(calls, 1);
	ck_assert_int_eq(status, -ECANCELED);
	ck_assert_int_eq(closes, 1);
	ck_assert_int_eq(ringo_cancel((ringo_req_t *)&req), -ENOENT);
}
END_TEST

static void unexpected_connect(ringo_connect_t *r, int st)
{
	(void)r;
	ck_abort_msg("a refused connect ran its callback (%d)", st);
}

static void unexpected_shutdown(ringo_shutdown_t *r, int st)
{
	(void)r;
	ck_abort_msg("a refused shutdown ran its callback (%d)", st);
}

static void unexpected_write(ringo_write_t *r, int st)
{
	(void)r;
	ck_abort_msg("a refused write ran its callback (%d)", st);
}

/* While the lookup runs the handle is connecting: a second connect (by
 * address or name) is -EALREADY, accepting into it -EINVAL, I/O
 * -ENOTCONN; none disturbs the lookup, whose connect then succeeds. */
START_TEST(test_calls_during_lookup)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	ringo_connect_t other;
	ringo_shutdown_t sreq;
	struct iovec iov = { .iov_base = port, .iov_len = 1 };
	ringo_write_t wreq;

	ck_assert_int_eq(ringo_getsockname(&server, (struct sockaddr *)&a, &len), 0);
	ck_assert_int_eq(ringo_listen(&server, 8, on_connection), 0);
	ck_assert_int_eq(ringo_tcp_connect_host(&req, &client, "127.0.0.1", port, on_connect), 0);
	ck_assert_int_eq(ringo_tcp_connect_host(&other, &client, "127.0.0.1", port,
						unexpected_connect), -EALREADY);
	ck_assert_int_eq(ringo_tcp_connect(&other, &client, (struct sockaddr *)&a,
					   unexpected_connect), -EALREADY);
	ck_assert_int_eq(ringo_accept(&server, &client), -EINVAL);
	ck_assert_int_eq(ringo_shutdown(&sreq, &client, unexpected_shutdown), -ENOTCONN);
	ck_assert_int_eq(ringo_write(&wreq, &client, &iov, 1, unexpected_write), -ENOTCONN);
	ck_assert_int_eq(ringo_listen(&client, 8, on_connection), -EINVAL);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(calls, 1);
	ck_assert_int_eq(status, 0);
	ck_assert_int_eq(closes, 3);	/* client, accepted, server */
}
END_TEST

START_TEST(test_bad_arguments)
{
	ck_assert_int_eq(ringo_tcp_connect_host(NULL, &client, "127.0.0.1", port, on_connect),
			 -EINVAL);
	ck_assert_int_eq(ringo_tcp_connect_host(&req, NULL, "127.0.0.1", port, on_connect),
			 -EINVAL);
	ck_assert_int_eq(ringo_tcp_connect_host(&req, &client, NULL, port, on_connect), -EINVAL);
	ck_assert_int_eq(ringo_tcp_connect_host(&req, &client, "127.0.0.1", NULL, on_connect),
			 -EINVAL);
	ck_assert_int_eq(ringo_tcp_connect_host(&req, &client, "127.0.0.1", port, NULL), -EINVAL);
	/* A handle that already has a socket. */
	ck_assert_int_eq(ringo_tcp_connect_host(&req, &server, "127.0.0.1", port, on_connect),
			 -EALREADY);
	ringo_close((ringo_handle_t *)&client, on_closed);
	ck_assert_int_eq(calls, 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("connect_host");
	TCase *tc = tcase_create("connect_host");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_connect_numeric);
	tcase_add_test(tc, test_connect_refused_everywhere);
	tcase_add_test(tc, test_connect_bad_service);
	tcase_add_test(tc, test_calls_during_lookup);
	tcase_add_test(tc, test_cancel_and_close_during_lookup);
	tcase_add_test(tc, test_bad_arguments);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_main(suite());
}
