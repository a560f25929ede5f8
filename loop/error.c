/* SPDX-License-Identifier: MIT */
/*
 * Error values to text. Errors are negative errno values everywhere in ringo;
 * this file owns their names and descriptions, and the explanation of why
 * io_uring setup can fail on an otherwise healthy machine.
 */
#include <errno.h>
#include <string.h>

#include "ringo.h"

RINGO_EXTERN const char *ringo_version_string(void)
{
	return "0.1.0";
}

/* glibc's tables are static and thread-safe, unlike strerror(). */
RINGO_EXTERN const char *ringo_strerror(int err)
{
	const char *s;

	if (err == RINGO_EOF)
		return "end of file";
	if (err == 0)
		return "success";
	s = err < 0 ? strerrordesc_np(-err) : NULL;
	return s ? s : "unknown error";
}

RINGO_EXTERN const char *ringo_err_name(int err)
{
	const char *s;

	if (err == RINGO_EOF)
		return "RINGO_EOF";
	if (err == 0)
		return "OK";
	s = err < 0 ? strerrorname_np(-err) : NULL;
	return s ? s : "UNKNOWN";
}

RINGO_EXTERN const char *ringo_setup_strerror(int err)
{
	switch (err) {
	case -ENOSYS:
		return "io_uring is not available: this kernel was built without it "
		       "(CONFIG_IO_URING) or is older than 5.1";
	case -EPERM:
		return "io_uring is blocked: a seccomp filter (such as Docker's default "
		       "profile) or the sysctl kernel.io_uring_disabled=2 forbids it, or "
		       "SQPOLL needs a privilege this process lacks";
	case -EACCES:
		return "io_uring is restricted: kernel.io_uring_disabled=1 allows it only "
		       "to members of kernel.io_uring_group";
	case -ENOMEM:
		return "io_uring setup ran out of memory or locked-memory limit "
		       "(RLIMIT_MEMLOCK on kernels before 5.12)";
	case -EMFILE:
	case -ENFILE:
		return "io_uring setup needs a file descriptor and none is left";
	case -EINVAL:
		return "io_uring setup refused the parameters (entries, flags or a feature "
		       "this kernel lacks)";
	default:
		return ringo_strerror(err);
	}
}
