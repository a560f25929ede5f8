/* SPDX-License-Identifier: MIT */
/*
 * The io_uring kernel ABI, mirrored under ringo's own names.
 *
 * Why not <linux/io_uring.h>: Debian 12 ships the 6.1 uapi header, which
 * lacks ops and fields we use on newer kernels (waitid, bind, listen,
 * ftruncate, incremental buffer rings, min_wait_usec...). Mirroring the ABI
 * keeps the build independent of the installed headers, and the ringo_
 * prefix keeps this file from clashing when a user also includes the
 * kernel's header. Values are the kernel's; the layout is checked below.
 */
#ifndef RINGO_URING_ABI_H
#define RINGO_URING_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Submission queue entry: 64 bytes. Field unions follow the kernel's. */
struct ringo_sqe {
	uint8_t opcode;		/* RINGO_OP_* */
	uint8_t flags;		/* RINGO_SQE_* */
	uint16_t ioprio;	/* ioprio, or per-op flags (accept, recv/send) */
	int32_t fd;
	union {
		uint64_t off;
		uint64_t addr2;
		struct {
			uint32_t cmd_op;
			uint32_t __pad1;
		};
	};
	union {
		uint64_t addr;
		uint64_t splice_off_in;
		struct {
			uint32_t level;
			uint32_t optname;
		};
	};
	uint32_t len;
	union {
		uint32_t rw_flags;
		uint32_t fsync_flags;
		uint32_t poll32_events;
		uint32_t sync_range_flags;
		uint32_t msg_flags;
		uint32_t timeout_flags;
		uint32_t accept_flags;
		uint32_t cancel_flags;
		uint32_t open_flags;
		uint32_t statx_flags;
		uint32_t fadvise_advice;
		uint32_t splice_flags;
		uint32_t rename_flags;
		uint32_t unlink_flags;
		uint32_t hardlink_flags;
		uint32_t msg_ring_flags;
		uint32_t uring_cmd_flags;
		uint32_t waitid_flags;
		uint32_t nop_flags;
		uint32_t op_flags;	/* ringo's generic name for the union */
	};
	uint64_t user_data;
	union {
		uint16_t buf_index;
		uint16_t buf_group;
	} __attribute__((packed));
	uint16_t personality;
	union {
		int32_t splice_fd_in;
		uint32_t file_index;
		uint32_t optlen;
		struct {
			uint16_t addr_len;
			uint16_t __pad3[1];
		};
	};
	union {
		struct {
			uint64_t addr3;
			uint64_t __pad2[1];
		};
		uint64_t optval;
	};
};

/* Completion queue entry: 16 bytes. */
struct ringo_cqe {
	uint64_t user_data;
	int32_t res;		/* >= 0 result, or -errno */
	uint32_t flags;		/* RINGO_CQE_F_* */
};

/* Opcodes (enum io_uring_op). */
enum {
	RINGO_OP_NOP,
	RINGO_OP_READV,
	RINGO_OP_WRITEV,
	RINGO_OP_FSYNC,
	RINGO_OP_READ_FIXED,
	RINGO_OP_WRITE_FIXED,
	RINGO_OP_POLL_ADD,
	RINGO_OP_POLL_REMOVE,
	RINGO_OP_SYNC_FILE_RANGE,
	RINGO_OP_SENDMSG,
	RINGO_OP_RECVMSG,
	RINGO_OP_TIMEOUT,
	RINGO_OP_TIMEOUT_REMOVE,
	RINGO_OP_ACCEPT,
	RINGO_OP_ASYNC_CANCEL,
	RINGO_OP_LINK_TIMEOUT,
	RINGO_OP_CONNECT,
	RINGO_OP_FALLOCATE,
	RINGO_OP_OPENAT,
	RINGO_OP_CLOSE,
	RINGO_OP_FILES_UPDATE,
	RINGO_OP_STATX,
	RINGO_OP_READ,
	RINGO_OP_WRITE,
	RINGO_OP_FADVISE,
	RINGO_OP_MADVISE,
	RINGO_OP_SEND,
	RINGO_OP_RECV,
	RINGO_OP_OPENAT2,
	RINGO_OP_EPOLL_CTL,
	RINGO_OP_SPLICE,
	RINGO_OP_PROVIDE_BUFFERS,
	RINGO_OP_REMOVE_BUFFERS,
	RINGO_OP_TEE,
	RINGO_OP_SHUTDOWN,
	RINGO_OP_RENAMEAT,
	RINGO_OP_UNLINKAT,
	RINGO_OP_MKDIRAT,
	RINGO_OP_SYMLINKAT,
	RINGO_OP_LINKAT,
	RINGO_OP_MSG_RING,
	RINGO_OP_FSETXATTR,
	RINGO_OP_SETXATTR,
	RINGO_OP_FGETXATTR,
	RINGO_OP_GETXATTR,
	RINGO_OP_SOCKET,
	RINGO_OP_URING_CMD,
	RINGO_OP_SEND_ZC,
	RINGO_OP_SENDMSG_ZC,
	RINGO_OP_READ_MULTISHOT,
	RINGO_OP_WAITID,
	RINGO_OP_FUTEX_WAIT,
	RINGO_OP_FUTEX_WAKE,
	RINGO_OP_FUTEX_WAITV,
	RINGO_OP_FIXED_FD_INSTALL,
	RINGO_OP_FTRUNCATE,
	RINGO_OP_BIND,
	RINGO_OP_LISTEN,
	RINGO_OP_RECV_ZC,
	RINGO_OP_EPOLL_WAIT,
	RINGO_OP_READV_FIXED,
	RINGO_OP_WRITEV_FIXED,
	RINGO_OP_PIPE,
	RINGO_OP_LAST_KNOWN	/* one past the last opcode ringo knows */
};

/* sqe->flags */
#define RINGO_SQE_FIXED_FILE		(1U << 0)
#define RINGO_SQE_IO_DRAIN		(1U << 1)
#define RINGO_SQE_IO_LINK		(1U << 2)
#define RINGO_SQE_IO_HARDLINK		(1U << 3)
#define RINGO_SQE_ASYNC			(1U << 4)
#define RINGO_SQE_BUFFER_SELECT		(1U << 5)
#define RINGO_SQE_CQE_SKIP_SUCCESS	(1U << 6)

/* io_uring_setup() flags */
#define RINGO_SETUP_IOPOLL		(1U << 0)
#define RINGO_SETUP_SQPOLL		(1U << 1)
#define RINGO_SETUP_SQ_AFF		(1U << 2)
#define RINGO_SETUP_CQSIZE		(1U << 3)
#define RINGO_SETUP_CLAMP		(1U << 4)
#define RINGO_SETUP_ATTACH_WQ		(1U << 5)
#define RINGO_SETUP_R_DISABLED		(1U << 6)
#define RINGO_SETUP_SUBMIT_ALL		(1U << 7)
#define RINGO_SETUP_COOP_TASKRUN	(1U << 8)
#define RINGO_SETUP_TASKRUN_FLAG	(1U << 9)
#define RINGO_SETUP_SQE128		(1U << 10)
#define RINGO_SETUP_CQE32		(1U << 11)
#define RINGO_SETUP_SINGLE_ISSUER	(1U << 12)
#define RINGO_SETUP_DEFER_TASKRUN	(1U << 13)
#define RINGO_SETUP_NO_MMAP		(1U << 14)
#define RINGO_SETUP_REGISTERED_FD_ONLY	(1U << 15)
#define RINGO_SETUP_NO_SQARRAY		(1U << 16)

/* params->features */
#define RINGO_FEAT_SINGLE_MMAP		(1U << 0)
#define RINGO_FEAT_NODROP		(1U << 1)
#define RINGO_FEAT_SUBMIT_STABLE	(1U << 2)
#define RINGO_FEAT_RW_CUR_POS		(1U << 3)
#define RINGO_FEAT_CUR_PERSONALITY	(1U << 4)
#define RINGO_FEAT_FAST_POLL		(1U << 5)
#define RINGO_FEAT_POLL_32BITS		(1U << 6)
#define RINGO_FEAT_SQPOLL_NONFIXED	(1U << 7)
#define RINGO_FEAT_EXT_ARG		(1U << 8)
#define RINGO_FEAT_NATIVE_WORKERS	(1U << 9)
#define RINGO_FEAT_RSRC_TAGS		(1U << 10)
#define RINGO_FEAT_CQE_SKIP		(1U << 11)
#define RINGO_FEAT_LINKED_FILE		(1U << 12)
#define RINGO_FEAT_REG_REG_RING		(1U << 13)
#define RINGO_FEAT_RECVSEND_BUNDLE	(1U << 14)
#define RINGO_FEAT_MIN_TIMEOUT		(1U << 15)

/* io_uring_enter() flags */
#define RINGO_ENTER_GETEVENTS		(1U << 0)
#define RINGO_ENTER_SQ_WAKEUP		(1U << 1)
#define RINGO_ENTER_SQ_WAIT		(1U << 2)
#define RINGO_ENTER_EXT_ARG		(1U << 3)
#define RINGO_ENTER_REGISTERED_RING	(1U << 4)

/* sq ring flags, written by the kernel */
#define RINGO_SQ_NEED_WAKEUP		(1U << 0)
#define RINGO_SQ_CQ_OVERFLOW		(1U << 1)
#define RINGO_SQ_TASKRUN		(1U << 2)

/* cq ring flags, written by us */
#define RINGO_CQ_EVENTFD_DISABLED	(1U << 0)

/* cqe->flags */
#define RINGO_CQE_F_BUFFER		(1U << 0)
#define RINGO_CQE_F_MORE		(1U << 1)
#define RINGO_CQE_F_SOCK_NONEMPTY	(1U << 2)
#define RINGO_CQE_F_NOTIF		(1U << 3)
#define RINGO_CQE_F_BUF_MORE		(1U << 4)
#define RINGO_CQE_BUFFER_SHIFT		16

/* sqe->fsync_flags */
#define RINGO_FSYNC_DATASYNC		(1U << 0)

/* sqe->timeout_flags */
#define RINGO_TIMEOUT_ABS		(1U << 0)
#define RINGO_TIMEOUT_UPDATE		(1U << 1)
#define RINGO_TIMEOUT_BOOTTIME		(1U << 2)
#define RINGO_TIMEOUT_REALTIME		(1U << 3)
#define RINGO_LINK_TIMEOUT_UPDATE	(1U << 4)
#define RINGO_TIMEOUT_ETIME_SUCCESS	(1U << 5)
#define RINGO_TIMEOUT_MULTISHOT		(1U << 6)

/* sqe->splice_flags */
#define RINGO_SPLICE_F_FD_IN_FIXED	(1U << 31)

/* poll_add/poll_update flags, carried in sqe->len */
#define RINGO_POLL_ADD_MULTI		(1U << 0)
#define RINGO_POLL_UPDATE_EVENTS	(1U << 1)
#define RINGO_POLL_UPDATE_USER_DATA	(1U << 2)
#define RINGO_POLL_ADD_LEVEL		(1U << 3)

/* sqe->cancel_flags */
#define RINGO_ASYNC_CANCEL_ALL		(1U << 0)
#define RINGO_ASYNC_CANCEL_FD		(1U << 1)
#define RINGO_ASYNC_CANCEL_ANY		(1U << 2)
#define RINGO_ASYNC_CANCEL_FD_FIXED	(1U << 3)
#define RINGO_ASYNC_CANCEL_USERDATA	(1U << 4)
#define RINGO_ASYNC_CANCEL_OP		(1U << 5)

/* send/recv flags, carried in sqe->ioprio */
#define RINGO_RECVSEND_POLL_FIRST	(1U << 0)
#define RINGO_RECV_MULTISHOT		(1U << 1)
#define RINGO_RECVSEND_FIXED_BUF	(1U << 2)
#define RINGO_SEND_ZC_REPORT_USAGE	(1U << 3)
#define RINGO_RECVSEND_BUNDLE		(1U << 4)
#define RINGO_NOTIF_USAGE_ZC_COPIED	(1U << 31)

/* accept flags, carried in sqe->ioprio */
#define RINGO_ACCEPT_MULTISHOT		(1U << 0)
#define RINGO_ACCEPT_DONTWAIT		(1U << 1)
#define RINGO_ACCEPT_POLL_FIRST		(1U << 2)

/* sqe->file_index value: let the kernel pick a free direct descriptor */
#define RINGO_FILE_INDEX_ALLOC		(~0U)

/* IORING_OP_URING_CMD socket commands, carried in sqe->cmd_op */
#define RINGO_SOCKET_OP_SIOCINQ		0
#define RINGO_SOCKET_OP_SIOCOUTQ	1
#define RINGO_SOCKET_OP_GETSOCKOPT	2
#define RINGO_SOCKET_OP_SETSOCKOPT	3

/* IORING_OP_MSG_RING commands, carried in sqe->addr */
#define RINGO_MSG_DATA			0
#define RINGO_MSG_SEND_FD		1

/* mmap offsets */
#define RINGO_OFF_SQ_RING		0ULL
#define RINGO_OFF_CQ_RING		0x8000000ULL
#define RINGO_OFF_SQES			0x10000000ULL

struct ringo_sqring_offsets {
	uint32_t head;
	uint32_t tail;
	uint32_t ring_mask;
	uint32_t ring_entries;
	uint32_t flags;
	uint32_t dropped;
	uint32_t array;
	uint32_t resv1;
	uint64_t user_addr;
};

struct ringo_cqring_offsets {
	uint32_t head;
	uint32_t tail;
	uint32_t ring_mask;
	uint32_t ring_entries;
	uint32_t overflow;
	uint32_t cqes;
	uint32_t flags;
	uint32_t resv1;
	uint64_t user_addr;
};

/* Passed to io_uring_setup(); the kernel fills in sizes, features, offsets. */
struct ringo_params {
	uint32_t sq_entries;
	uint32_t cq_entries;		/* in: with RINGO_SETUP_CQSIZE */
	uint32_t flags;			/* in: RINGO_SETUP_* */
	uint32_t sq_thread_cpu;		/* in: with RINGO_SETUP_SQ_AFF */
	uint32_t sq_thread_idle;	/* in: SQPOLL idle time, ms */
	uint32_t features;		/* out: RINGO_FEAT_* */
	uint32_t wq_fd;			/* in: with RINGO_SETUP_ATTACH_WQ */
	uint32_t resv[3];
	struct ringo_sqring_offsets sq_off;
	struct ringo_cqring_offsets cq_off;
};

/* io_uring_register() opcodes */
enum {
	RINGO_REGISTER_BUFFERS = 0,
	RINGO_UNREGISTER_BUFFERS = 1,
	RINGO_REGISTER_FILES = 2,
	RINGO_UNREGISTER_FILES = 3,
	RINGO_REGISTER_EVENTFD = 4,
	RINGO_UNREGISTER_EVENTFD = 5,
	RINGO_REGISTER_FILES_UPDATE = 6,
	RINGO_REGISTER_EVENTFD_ASYNC = 7,
	RINGO_REGISTER_PROBE = 8,
	RINGO_REGISTER_PERSONALITY = 9,
	RINGO_UNREGISTER_PERSONALITY = 10,
	RINGO_REGISTER_RESTRICTIONS = 11,
	RINGO_REGISTER_ENABLE_RINGS = 12,
	RINGO_REGISTER_FILES2 = 13,
	RINGO_REGISTER_FILES_UPDATE2 = 14,
	RINGO_REGISTER_BUFFERS2 = 15,
	RINGO_REGISTER_BUFFERS_UPDATE = 16,
	RINGO_REGISTER_IOWQ_AFF = 17,
	RINGO_UNREGISTER_IOWQ_AFF = 18,
	RINGO_REGISTER_IOWQ_MAX_WORKERS = 19,
	RINGO_REGISTER_RING_FDS = 20,
	RINGO_UNREGISTER_RING_FDS = 21,
	RINGO_REGISTER_PBUF_RING = 22,
	RINGO_UNREGISTER_PBUF_RING = 23,
	RINGO_REGISTER_SYNC_CANCEL = 24,
	RINGO_REGISTER_FILE_ALLOC_RANGE = 25,
	RINGO_REGISTER_PBUF_STATUS = 26,
	RINGO_REGISTER_NAPI = 27,
	RINGO_UNREGISTER_NAPI = 28,
};

#define RINGO_RSRC_REGISTER_SPARSE	(1U << 0)
#define RINGO_REGISTER_FILES_SKIP	(-2)

struct ringo_rsrc_register {
	uint32_t nr;
	uint32_t flags;
	uint64_t resv2;
	uint64_t data;
	uint64_t tags;
};

struct ringo_rsrc_update {
	uint32_t offset;
	uint32_t resv;
	uint64_t data;
};

struct ringo_file_index_range {
	uint32_t off;
	uint32_t len;
	uint64_t resv;
};

#define RINGO_OP_SUPPORTED		(1U << 0)

struct ringo_probe_op {
	uint8_t op;
	uint8_t resv;
	uint16_t flags;		/* RINGO_OP_SUPPORTED */
	uint32_t resv2;
};

/* The kernel takes at most 256 ops; ringo always asks for all of them. */
#define RINGO_PROBE_OPS			256

struct ringo_probe {
	uint8_t last_op;	/* last opcode this kernel knows */
	uint8_t ops_len;	/* valid entries in ops[] */
	uint16_t resv;
	uint32_t resv2[3];
	struct ringo_probe_op ops[RINGO_PROBE_OPS];
};

/* One provided buffer; entry 0's resv field doubles as the ring tail. */
struct ringo_buf {
	uint64_t addr;
	uint32_t len;
	uint16_t bid;
	uint16_t resv;
};

struct ringo_buf_ring {
	union {
		struct {
			uint64_t resv1;
			uint32_t resv2;
			uint16_t resv3;
			uint16_t tail;
		};
		struct ringo_buf bufs[0];
	};
};

/* ringo_buf_reg.flags */
#define RINGO_PBUF_RING_MMAP		1U
#define RINGO_PBUF_RING_INC		2U

struct ringo_buf_reg {
	uint64_t ring_addr;
	uint32_t ring_entries;
	uint16_t bgid;
	uint16_t flags;
	uint64_t resv[3];
};

struct ringo_getevents_arg {
	uint64_t sigmask;
	uint32_t sigmask_sz;
	uint32_t min_wait_usec;
	uint64_t ts;
};

/* Same layout as struct __kernel_timespec: 64-bit seconds everywhere. */
struct ringo_timespec {
	int64_t tv_sec;
	long long tv_nsec;
};

/*
 * Written by a multishot recvmsg at the start of each buffer it fills
 * (struct io_uring_recvmsg_out, 6.0). Then come msg_namelen bytes reserved
 * for the source address, msg_controllen bytes for control data (both the
 * sizes set in the msghdr given at prep), then the payload. namelen and
 * payloadlen are the kernel's untruncated lengths; flags are the recvmsg
 * msg_flags (MSG_TRUNC: the payload did not fit).
 */
struct ringo_recvmsg_out {
	uint32_t namelen;
	uint32_t controllen;
	uint32_t payloadlen;
	uint32_t flags;
};

struct ringo_napi {
	uint32_t busy_poll_to;	/* busy poll timeout, us */
	uint8_t prefer_busy_poll;
	uint8_t opcode;
	uint8_t pad[2];
	uint32_t op_param;
	uint32_t resv;
};

_Static_assert(sizeof(struct ringo_sqe) == 64, "SQE is 64 bytes");
_Static_assert(sizeof(struct ringo_cqe) == 16, "CQE is 16 bytes");
_Static_assert(sizeof(struct ringo_params) == 120, "io_uring_params is 120 bytes");
_Static_assert(offsetof(struct ringo_sqe, user_data) == 32, "sqe user_data offset");
_Static_assert(offsetof(struct ringo_sqe, buf_index) == 40, "sqe buf_index offset");
_Static_assert(offsetof(struct ringo_sqe, splice_fd_in) == 44, "sqe file_index offset");
_Static_assert(offsetof(struct ringo_sqe, addr3) == 48, "sqe addr3 offset");
_Static_assert(sizeof(struct ringo_buf) == 16, "io_uring_buf is 16 bytes");
_Static_assert(offsetof(struct ringo_buf_ring, tail) == 14, "buf ring tail aliases bufs[0].resv");
_Static_assert(sizeof(struct ringo_probe_op) == 8, "probe op is 8 bytes");
_Static_assert(sizeof(struct ringo_recvmsg_out) == 16, "io_uring_recvmsg_out is 16 bytes");
_Static_assert(sizeof(struct ringo_buf_reg) == 40, "buf_reg is 40 bytes");
_Static_assert(sizeof(struct ringo_getevents_arg) == 24, "getevents_arg is 24 bytes");
_Static_assert(sizeof(struct ringo_timespec) == 16, "kernel timespec is 16 bytes");
_Static_assert(sizeof(struct ringo_napi) == 16, "io_uring_napi is 16 bytes");
_Static_assert(sizeof(struct ringo_rsrc_register) == 32, "rsrc_register is 32 bytes");

#ifdef __cplusplus
}
#endif

#endif
