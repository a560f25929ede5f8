/* SPDX-License-Identifier: MIT */
/* Shared test helpers; see test_util.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "test_util.h"

int test_stress(void)
{
	const char *s = getenv("RINGO_STRESS");

	return s && strcmp(s, "1") == 0;
}

static int in_ci(void)
{
	const char *s = getenv("CI");

	return s && strcmp(s, "true") == 0;
}

int test_ring_init(struct ringo_ring *ring, unsigned entries, unsigned flags)
{
	int ret = ringo_ring_init(ring, entries, flags);

	if (ret == 0)
		return 0;
	if ((ret == -ENOSYS || ret == -EPERM) && !in_ci()) {
		fprintf(stdout, "io_uring unavailable: %s\n", ringo_setup_strerror(ret));
		return 1;
	}
	ck_abort_msg("ringo_ring_init(%u, %#x): %s (%s)", entries, flags, ringo_err_name(ret),
		     ringo_setup_strerror(ret));
	return 1;
}

int test_kernel_at_least(int major, int minor)
{
	struct utsname u;
	int maj = 0, min = 0;

	if (uname(&u) != 0 || sscanf(u.release, "%d.%d", &maj, &min) != 2)
		return 0;
	return maj > major || (maj == major && min >= minor);
}

struct ringo_cqe test_wait_one(struct ringo_ring *ring)
{
	struct ringo_cqe cqe;
	int ret;

	do
		ret = ringo_ring_copy_cqes(ring, &cqe, 1, 1);
	while (ret == 0 || ret == -EINTR);
	ck_assert_msg(ret == 1, "copy_cqes: %s", ringo_err_name(ret));
	return cqe;
}

struct ringo_cqe test_submit_wait_one(struct ringo_ring *ring)
{
	int ret = ringo_ring_submit(ring);

	ck_assert_msg(ret >= 0, "submit: %s", ringo_err_name(ret));
	return test_wait_one(ring);
}

void test_tmpdir(char *buf, size_t len)
{
	const char *base = getenv("TMPDIR");

	snprintf(buf, len, "%s/ringo-test-XXXXXX", base && *base ? base : "/tmp");
	ck_assert_msg(mkdtemp(buf) != NULL, "mkdtemp: %s", strerror(errno));
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

void test_rmtree(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int test_tcp_listener(struct sockaddr_in *addr)
{
	socklen_t len = sizeof(*addr);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr->sin_port = 0;
	ck_assert_int_eq(bind(fd, (struct sockaddr *)addr, sizeof(*addr)), 0);
	ck_assert_int_eq(listen(fd, 128), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)addr, &len), 0);
	return fd;
}

int test_main(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
