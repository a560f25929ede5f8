/* SPDX-License-Identifier: MIT */
/*
 * Name resolution: getaddrinfo(3) blocks, so it runs on the work pool and
 * the result comes back to the loop thread. Errors are mapped from EAI_*
 * codes to negative errno values so callers handle one kind of error.
 */
#include <errno.h>
#include <string.h>

#include "loop_internal.h"

static int map_eai(int eai, int sys_errno)
{
	switch (eai) {
	case 0:
		return 0;
	case EAI_NONAME:
	case EAI_SERVICE:
#ifdef EAI_NODATA
	case EAI_NODATA:
#endif
		return -ENOENT;
	case EAI_AGAIN:
		return -EAGAIN;
	case EAI_FAMILY:
		return -EAFNOSUPPORT;
	case EAI_SOCKTYPE:
		return -ESOCKTNOSUPPORT;
	case EAI_BADFLAGS:
		return -EINVAL;
	case EAI_MEMORY:
		return -ENOMEM;
	case EAI_SYSTEM:
		return sys_errno ? -sys_errno : -EIO;
	default:
		return -EIO;
	}
}

static void resolve(ringo_work_t *work)
{
	ringo_getaddrinfo_t *req = container_of(work, ringo_getaddrinfo_t, work);
	int eai;

	errno = 0;
	eai = getaddrinfo(req->host, req->service, req->has_hints ? &req->hints : NULL, &req->res);
	req->status = map_eai(eai, errno);
	if (req->status)
		req->res = NULL;
}

static void resolved(ringo_work_t *work, int status)
{
	ringo_getaddrinfo_t *req = container_of(work, ringo_getaddrinfo_t, work);

	if (status)
		req->status = status;
	req->cb(req, req->status, req->res);
}

RINGO_EXTERN int ringo_getaddrinfo(ringo_loop_t *loop, ringo_getaddrinfo_t *req,
				   ringo_getaddrinfo_cb cb, const char *host, const char *service,
				   const struct addrinfo *hints)
{
	if (!loop || !req || !cb || (!host && !service))
		return -EINVAL;
	req->loop = loop;
	req->type = RINGO_REQ_GETADDRINFO;
	req->cb = cb;
	req->host = host;
	req->service = service;
	req->has_hints = hints != NULL;
	if (hints)
		req->hints = *hints;
	req->status = 0;
	req->res = NULL;
	memset(&req->work, 0, sizeof(req->work));
	return ringo_work_queue(loop, &req->work, resolve, resolved);
}

RINGO_EXTERN void ringo_freeaddrinfo(struct addrinfo *ai)
{
	if (ai)
		freeaddrinfo(ai);
}

int ringo__getaddrinfo_cancel(ringo_req_t *req)
{
	return ringo__work_cancel(&((ringo_getaddrinfo_t *)req)->work);
}
