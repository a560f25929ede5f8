/* SPDX-License-Identifier: MIT */
/*
 * Zero-copy stream writes (RINGO_WRITE_ZEROCOPY): a loopback connection
 * carries copied and zero-copy writes interleaved; the peer must receive
 * every byte in queue order, write callbacks must run once each in queue
 * order, and a zero-copy write's buffer must be reusable inside its
 * callback (scribbling on it there must not change what was received).
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#define NWRITES 6

static ringo_loop_t loop;
static ringo_tcp_t server, peer, client;
static ringo_connect_t creq;
static ringo_write_t wreq[NWRITES];
static struct iovec wiov[NWRITES];
static unsigned char *wbuf[NWRITES], *expect, *got;
static size_t total, received;
static int done_order[NWRITES], ndone, status[NWRITES];

static const size_t sizes[NWRITES] = { 100, 1 << 20, 7, 256 << 10, 3 << 20, 1 };
static const unsigned zc[NWRITES] = { 0, 1, 0, 1, 1, 0 };

static void on_closed(ringo_handle_t *h)
{
	(void)h;
}

static void on_written(ringo_write_t *req, int st)
{
	int i = (int)(req - wreq);

	status[i] = st;
	done_order[ndone++] = i;
	/* The kernel is done with it: scribbling must not reach the peer. */
	memset(wbuf[i], 0xee, sizes[i]);
	if (ndone == NWRITES)
		ringo_close((ringo_handle_t *)&client, on_closed);
}

static void on_read(ringo_stream_t *s, ssize_t n, const void *data)
{
	if (n < 0) {
		ringo_close((ringo_handle_t *)s, on_closed);
		return;
	}
	ck_assert_uint_le(received + (size_t)n, total);
	memcpy(got + received, data, (size_t)n);
	received += (size_t)n;
}

static void on_connection(ringo_stream_t *srv, int st)
{
	ck_assert_int_eq(st, 0);
	ck_assert_int_eq(ringo_tcp_init(&loop, &peer), 0);
	ck_assert_int_eq(ringo_accept(srv, &peer), 0);
	ck_assert_int_eq(ringo_read_start(&peer, on_read), 0);
	ringo_close((ringo_handle_t *)srv, on_closed);
}

static void on_connected(ringo_connect_t *req, int st)
{
	int i;

	ck_assert_int_eq(st, 0);
	for (i = 0; i < NWRITES; i++)
		ck_assert_int_eq(ringo_write_flags(&wreq[i], req->handle, &wiov[i], 1,
						   zc[i] ? RINGO_WRITE_ZEROCOPY : 0, on_written),
				 0);
}

START_TEST(test_zerocopy_interleaved)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	size_t off = 0;
	int i;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(ringo_loop_init(&loop, NULL), 0);
	for (i = 0, total = 0; i < NWRITES; i++)
		total += sizes[i];
	expect = malloc(total);
	got = malloc(total);
	for (i = 0; i < NWRITES; i++) {
		wbuf[i] = malloc(sizes[i]);
		for (size_t k = 0; k < sizes[i]; k++)
			wbuf[i][k] = (unsigned char)(k * 31 + (size_t)i * 7);
		memcpy(expect + off, wbuf[i], sizes[i]);
		off += sizes[i];
		wiov[i] = (struct iovec){ wbuf[i], sizes[i] };
	}
	ck_assert_int_eq(ringo_tcp_init(&loop, &server), 0);
	ck_assert_int_eq(ringo_tcp_bind(&server, (struct sockaddr *)&a, 0), 0);
	ck_assert_int_eq(ringo_getsockname(&server, (struct sockaddr *)&a, &len), 0);
	ck_assert_int_eq(ringo_listen(&server, 8, on_connection), 0);
	ck_assert_int_eq(ringo_tcp_init(&loop, &client), 0);
	ck_assert_int_eq(ringo_tcp_connect(&creq, &client, (struct sockaddr *)&a, on_connected), 0);
	ck_assert_int_ge(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);

	ck_assert_int_eq(ndone, NWRITES);
	for (i = 0; i < NWRITES; i++) {
		ck_assert_int_eq(done_order[i], i);
		ck_assert_int_eq(status[i], 0);
	}
	ck_assert_uint_eq(received, total);
	ck_assert_msg(memcmp(got, expect, total) == 0, "received bytes differ");
	ck_assert_int_eq(ringo_loop_close(&loop), 0);
	for (i = 0; i < NWRITES; i++)
		free(wbuf[i]);
	free(expect);
	free(got);
}
END_TEST

START_TEST(test_zerocopy_bad_flags)
{
	struct iovec v = { "x", 1 };
	ringo_write_t req;

	ck_assert_int_eq(ringo_loop_init(&loop, NULL), 0);
	ck_assert_int_eq(ringo_tcp_init(&loop, &client), 0);
	ck_assert_int_eq(ringo_write_flags(&req, &client, &v, 1, 0x80, on_written), -EINVAL);
	ck_assert_int_eq(ringo_write_flags(&req, &client, &v, 1, RINGO_WRITE_ZEROCOPY, on_written),
			 -ENOTCONN);
	ringo_close((ringo_handle_t *)&client, on_closed);
	ck_assert_int_eq(ringo_run(&loop, RINGO_RUN_DEFAULT), 0);
	ck_assert_int_eq(ringo_loop_close(&loop), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("zerocopy");
	TCase *tc = tcase_create("zerocopy");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_zerocopy_interleaved);
	tcase_add_test(tc, test_zerocopy_bad_flags);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_main(suite());
}
