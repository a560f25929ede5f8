/* SPDX-License-Identifier: MIT */
/*
 * The three io_uring system calls, for the ring layer only.
 *
 * On x86_64 and aarch64 they are issued inline: the kernel's -errno comes
 * back in the result register, so errno is never touched and the hot
 * submit path pays no libc wrapper. Elsewhere syscall(2) is used and errno
 * is restored, keeping the promise that ringo never changes errno.
 */
#ifndef RINGO_RING_INTERNAL_H
#define RINGO_RING_INTERNAL_H

#include <errno.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ringo/ring.h"

#if defined(__x86_64__)
static inline long ringo__syscall6(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}
#elif defined(__aarch64__)
static inline long ringo__syscall6(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	register long x8 __asm__("x8") = nr;
	register long x0 __asm__("x0") = a1;
	register long x1 __asm__("x1") = a2;
	register long x2 __asm__("x2") = a3;
	register long x3 __asm__("x3") = a4;
	register long x4 __asm__("x4") = a5;
	register long x5 __asm__("x5") = a6;

	__asm__ volatile("svc 0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			 : "memory", "cc");
	return x0;
}
#else
static inline long ringo__syscall6(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	int saved = errno;
	long ret = syscall(nr, a1, a2, a3, a4, a5, a6);

	if (ret < 0) {
		ret = -errno;
		errno = saved;
	}
	return ret;
}
#endif

static inline int ringo__sys_setup(unsigned entries, struct ringo_params *p)
{
	return (int)ringo__syscall6(__NR_io_uring_setup, (long)entries, (long)p, 0, 0, 0, 0);
}

static inline int ringo__sys_enter(int fd, unsigned to_submit, unsigned min_complete,
				   unsigned flags, const void *arg, size_t argsz)
{
	return (int)ringo__syscall6(__NR_io_uring_enter, fd, (long)to_submit, (long)min_complete,
				    (long)flags, (long)arg, (long)argsz);
}

/* io_uring_enter on this ring: its registered index and flag once it has
 * them. Inline, so the loop's wait returns straight into the loop. */
static inline int ringo__ring_enter(const struct ringo_ring *ring, unsigned to_submit,
				    unsigned min_complete, unsigned flags, const void *arg,
				    size_t argsz)
{
	return ringo__sys_enter(ring->enter_fd, to_submit, min_complete, flags | ring->enter_flags,
				arg, argsz);
}

static inline int ringo__sys_register(int fd, unsigned opcode, const void *arg, unsigned nr_args)
{
	return (int)ringo__syscall6(__NR_io_uring_register, fd, (long)opcode, (long)arg,
				    (long)nr_args, 0, 0);
}

#endif
