/* SPDX-License-Identifier: MIT */
/*
 * ringo: a callback-driven proactor event loop for Linux io_uring.
 *
 * This is the one public header. Every int a ringo function returns is >= 0
 * on success or a negative errno value; ringo never sets errno for the
 * caller. ringo_strerror() and ringo_err_name() turn those values into text.
 *
 * The raw ring layer (<ringo/ring.h>) is included here and usable on its own.
 */
#ifndef RINGO_H
#define RINGO_H

#include <stdint.h>

#include <ringo/ring.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RINGO_VERSION_MAJOR 0
#define RINGO_VERSION_MINOR 1
#define RINGO_VERSION_PATCH 0

/* End of stream, as a read status. Outside the errno range on purpose. */
#define RINGO_EOF (-4095)

/* "0.1.0": the version of the library actually linked. */
RINGO_EXTERN const char *ringo_version_string(void);

/*
 * A sentence describing `err` (a negative errno value or RINGO_EOF), never
 * NULL; the string is static. Errors that io_uring setup returns for a known
 * reason (ENOSYS: no io_uring in the kernel; EPERM: blocked by seccomp or
 * kernel.io_uring_disabled) are explained as such by
 * ringo_setup_strerror().
 */
RINGO_EXTERN const char *ringo_strerror(int err);

/* The symbolic name of `err`: "ENOENT", "RINGO_EOF", or "UNKNOWN". */
RINGO_EXTERN const char *ringo_err_name(int err);

/* Why io_uring setup failed with `err`, in words a user can act on. */
RINGO_EXTERN const char *ringo_setup_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif
