/* SPDX-License-Identifier: MIT */
/*
 * io_uring_register(2): direct descriptors, fixed buffers, eventfd, the op
 * probe, NAPI and ring enable/limits. Each call is a thin, checked wrapper;
 * the kernel's -errno is passed back unchanged.
 */
#include <string.h>

#include "ring_internal.h"

static int reg(struct ringo_ring *ring, unsigned opcode, const void *arg, unsigned nr)
{
	if (!ring || !ring->sq.ring_ptr)
		return -EINVAL;
	return ringo__sys_register(ring->fd, opcode, arg, nr);
}

RINGO_EXTERN int ringo_ring_register_ring_fd(struct ringo_ring *ring)
{
	/* offset -1: the kernel picks a free slot and writes it back. */
	struct ringo_rsrc_update up = { .offset = UINT32_MAX };
	int ret;

	if (!ring || !ring->sq.ring_ptr)
		return -EINVAL;
	if (ring->enter_flags & RINGO_ENTER_REGISTERED_RING)
		return -EEXIST;
	up.data = (uint64_t)ring->fd;
	ret = reg(ring, RINGO_REGISTER_RING_FDS, &up, 1);
	if (ret < 0)
		return ret;
	if (ret != 1)
		return -EINVAL;
	ring->enter_fd = (int)up.offset;
	ring->enter_flags = RINGO_ENTER_REGISTERED_RING;
	return 0;
}

RINGO_EXTERN int ringo_ring_unregister_ring_fd(struct ringo_ring *ring)
{
	struct ringo_rsrc_update up = { 0 };
	int ret;

	if (!ring || !ring->sq.ring_ptr || !(ring->enter_flags & RINGO_ENTER_REGISTERED_RING))
		return -EINVAL;
	up.offset = (uint32_t)ring->enter_fd;
	ret = reg(ring, RINGO_UNREGISTER_RING_FDS, &up, 1);
	if (ret < 0)
		return ret;
	ring->enter_fd = ring->fd;
	ring->enter_flags = 0;
	return 0;
}

RINGO_EXTERN int ringo_ring_register_files(struct ringo_ring *ring, const int *fds, unsigned nr)
{
	if (!fds || !nr)
		return -EINVAL;
	return reg(ring, RINGO_REGISTER_FILES, fds, nr);
}

RINGO_EXTERN int ringo_ring_register_files_sparse(struct ringo_ring *ring, unsigned nr)
{
	struct ringo_rsrc_register r;

	if (!nr)
		return -EINVAL;
	memset(&r, 0, sizeof(r));
	r.nr = nr;
	r.flags = RINGO_RSRC_REGISTER_SPARSE;
	return reg(ring, RINGO_REGISTER_FILES2, &r, sizeof(r));
}

RINGO_EXTERN int ringo_ring_register_files_update(struct ringo_ring *ring, unsigned off,
						  const int *fds, unsigned nr)
{
	struct ringo_rsrc_update up;

	if (!fds || !nr)
		return -EINVAL;
	memset(&up, 0, sizeof(up));
	up.offset = off;
	up.data = (uint64_t)(uintptr_t)fds;
	return reg(ring, RINGO_REGISTER_FILES_UPDATE, &up, nr);
}

RINGO_EXTERN int ringo_ring_register_file_alloc_range(struct ringo_ring *ring, unsigned off,
						      unsigned len)
{
	struct ringo_file_index_range range;

	memset(&range, 0, sizeof(range));
	range.off = off;
	range.len = len;
	return reg(ring, RINGO_REGISTER_FILE_ALLOC_RANGE, &range, 0);
}

RINGO_EXTERN int ringo_ring_unregister_files(struct ringo_ring *ring)
{
	return reg(ring, RINGO_UNREGISTER_FILES, NULL, 0);
}

RINGO_EXTERN int ringo_ring_register_buffers(struct ringo_ring *ring, const struct iovec *iovs,
					     unsigned nr)
{
	if (!iovs || !nr)
		return -EINVAL;
	return reg(ring, RINGO_REGISTER_BUFFERS, iovs, nr);
}

RINGO_EXTERN int ringo_ring_unregister_buffers(struct ringo_ring *ring)
{
	return reg(ring, RINGO_UNREGISTER_BUFFERS, NULL, 0);
}

/* A dead ring is -EINVAL before the fd is looked at, as everywhere else. */
static int reg_eventfd(struct ringo_ring *ring, unsigned opcode, int fd)
{
	if (!ring || !ring->sq.ring_ptr)
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	return reg(ring, opcode, &fd, 1);
}

RINGO_EXTERN int ringo_ring_register_eventfd(struct ringo_ring *ring, int fd)
{
	return reg_eventfd(ring, RINGO_REGISTER_EVENTFD, fd);
}

RINGO_EXTERN int ringo_ring_register_eventfd_async(struct ringo_ring *ring, int fd)
{
	return reg_eventfd(ring, RINGO_REGISTER_EVENTFD_ASYNC, fd);
}

RINGO_EXTERN int ringo_ring_unregister_eventfd(struct ringo_ring *ring)
{
	return reg(ring, RINGO_UNREGISTER_EVENTFD, NULL, 0);
}

RINGO_EXTERN int ringo_ring_probe(struct ringo_ring *ring, struct ringo_probe *probe)
{
	if (!probe)
		return -EINVAL;
	memset(probe, 0, sizeof(*probe));
	return reg(ring, RINGO_REGISTER_PROBE, probe, RINGO_PROBE_OPS);
}

RINGO_EXTERN int ringo_probe_has_op(const struct ringo_probe *probe, unsigned op)
{
	if (!probe || op > probe->last_op || op >= probe->ops_len)
		return 0;
	return (probe->ops[op].flags & RINGO_OP_SUPPORTED) ? 1 : 0;
}

RINGO_EXTERN int ringo_ring_op_supported(struct ringo_ring *ring, unsigned op)
{
	struct ringo_probe probe;
	int ret = ringo_ring_probe(ring, &probe);

	return ret < 0 ? ret : ringo_probe_has_op(&probe, op);
}

RINGO_EXTERN int ringo_ring_register_napi(struct ringo_ring *ring, struct ringo_napi *napi)
{
	if (!napi)
		return -EINVAL;
	return reg(ring, RINGO_REGISTER_NAPI, napi, 1);
}

RINGO_EXTERN int ringo_ring_unregister_napi(struct ringo_ring *ring, struct ringo_napi *napi)
{
	return reg(ring, RINGO_UNREGISTER_NAPI, napi, 1);
}

RINGO_EXTERN int ringo_ring_enable(struct ringo_ring *ring)
{
	return reg(ring, RINGO_REGISTER_ENABLE_RINGS, NULL, 0);
}

RINGO_EXTERN int ringo_ring_register_iowq_max_workers(struct ringo_ring *ring, unsigned values[2])
{
	if (!values)
		return -EINVAL;
	return reg(ring, RINGO_REGISTER_IOWQ_MAX_WORKERS, values, 2);
}
