/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * fuse_recover_uapi.h - userspace view of the kernel/ patch series
 *
 * The patches in kernel/patches add these definitions to
 * include/uapi/linux/fuse.h.  Userspace built against unpatched kernel
 * headers includes this file instead; every definition is guarded so that
 * it also builds against patched headers.
 *
 * Flag bits: FUSE_HAS_RECOVERY and FUSE_ASYNC_FLUSH live at the top of the
 * 64-bit INIT flags (flags2 bits 30 and 29).  Linux 6.12 uses bits 0-40,
 * later kernels allocate upwards from there (41, 42, ...), so the top of the
 * word stays free for out-of-tree flags.  Bit 63 is left alone.
 *
 * Probing: open /dev/fuse (a fresh fd, not bound to any connection) and
 * call FUSE_DEV_IOC_ATTACH with fd = -1 and everything else zero.  A
 * patched kernel fails with EBADF; an unpatched one (or one with the v2
 * series, whose argument had another size) with ENOTTY.  Close the probe
 * fd afterwards: it stays unbound.
 *
 * Include <linux/fuse.h> before this file.
 */
#ifndef FUSE_RECOVER_UAPI_H
#define FUSE_RECOVER_UAPI_H

#ifdef __KERNEL__
#include <linux/types.h>
#else
#include <stdint.h>
#endif
#include <linux/ioctl.h>

/* Longest tag= mount option value, without the terminating NUL */
#ifndef FUSE_TAG_MAX
#define FUSE_TAG_MAX		64

/*
 * Argument of FUSE_DEV_IOC_ATTACH (80 bytes).  fd is an fd of the mount
 * (an O_PATH fd of its root will do; opening one sends no request).  tag,
 * NUL terminated, is either empty or the tag= the mount must carry.
 * flags and padding must be zero.
 */
struct fuse_attach_in {
	int32_t		fd;
	uint32_t	flags;
	char		tag[FUSE_TAG_MAX + 1];
	uint8_t		padding[7];
};
#endif

#ifndef FUSE_DEV_IOC_MAGIC
#define FUSE_DEV_IOC_MAGIC	229
#endif

/*
 * Bind a fresh /dev/fuse fd to the connection of the mount that
 * fuse_attach_in.fd refers to (a fuse or fuseblk mount; not virtiofs).
 * The tag= label is not unique and is no name to look up: whoever can
 * reach the mount (or was handed an fd of it) can name it, nobody else.
 * Only the mounter may attach (same effective uid as at mount time, and
 * CAP_SYS_ADMIN in the connection's user namespace), and only to a
 * connection that negotiated FUSE_HAS_RECOVERY, finished INIT and has no
 * /dev/fuse fd open; of concurrent attaches one wins.
 * Errors, in the order they are checked: EINVAL not a /dev/fuse device,
 * non-zero flags/padding or unterminated tag; EBADF fd not open; EINVAL fd
 * not of a fuse/fuseblk mount; EPERM caller is not the mounter; ENOENT
 * connection aborted or its tag differs from a non-empty tag; EBUSY fd
 * already bound or the connection still has an fd open (or no recovery, or
 * INIT not finished), ENOTTY kernel without the patches.
 */
#ifndef FUSE_DEV_IOC_ATTACH
#define FUSE_DEV_IOC_ATTACH	_IOW(FUSE_DEV_IOC_MAGIC, 0x80, \
				     struct fuse_attach_in)
#endif

/*
 * On a bound fd: the server is exiting for good.  From then on the
 * connection behaves as if FUSE_HAS_RECOVERY had not been negotiated:
 * requests read but unanswered on a closing fd fail, closing the last fd
 * aborts the connection, and no new server may attach.  Errors: EINVAL fd
 * not bound to a connection, ENOTTY kernel without the patches.
 */
#ifndef FUSE_DEV_IOC_EXIT
#define FUSE_DEV_IOC_EXIT	_IO(FUSE_DEV_IOC_MAGIC, 0x81)
#endif

/*
 * INIT flags (64-bit: flags | (uint64_t)flags2 << 32, flags2 is only valid
 * with FUSE_INIT_EXT set in flags).
 *
 * FUSE_HAS_RECOVERY: offered on tagged connections only.  If the server
 * sets it in its INIT reply, closing the last /dev/fuse fd does not abort
 * the connection; read but unanswered requests go back to the queue marked
 * with FUSE_UNIQUE_RESEND and everything waits for a server to attach.
 *
 * FUSE_ASYNC_FLUSH: if the server sets it, close() queues FLUSH in the
 * background and returns 0 without waiting, and the reply's error is not
 * reported (ENOSYS still stops further FLUSHes).  At most one is in flight
 * per open file (later closes by the same lock owner are coalesced into one
 * more FLUSH, which carries uid, gid and pid 0); RELEASE follows only after
 * FLUSH is answered.  close() still waits when the inode ever had a POSIX
 * lock on the server, when the background queue is full (max_background),
 * and for a second lock owner of a file with a FLUSH in flight.  Not
 * offered with virtiofs submounts.
 */
#ifndef FUSE_HAS_RECOVERY
#define FUSE_HAS_RECOVERY	(1ULL << 62)
#endif
#ifndef FUSE_ASYNC_FLUSH
#define FUSE_ASYNC_FLUSH	(1ULL << 61)
#endif

/* Upstream since 6.9, repeated for older headers */
#ifndef FUSE_HAS_RESEND
#define FUSE_HAS_RESEND		(1ULL << 39)
#endif
#ifndef FUSE_UNIQUE_RESEND
#define FUSE_UNIQUE_RESEND	(1ULL << 63)
#endif
/*
 * Notify code 7 (enum fuse_notify_code in 7.40+ headers): a server writes
 * the 16-byte fuse_out_header {len 16, error 7, unique 0} to move requests
 * read but unanswered on live fds back to the queue.  FUSE_NOTIFY_RESEND is
 * only defined here when <linux/fuse.h> was included first and is older
 * than 7.40; FUSE_RECOVER_NOTIFY_RESEND is always safe to use.
 */
#define FUSE_RECOVER_NOTIFY_RESEND	7
#if defined(FUSE_KERNEL_MINOR_VERSION) && FUSE_KERNEL_MINOR_VERSION < 40 && \
	!defined(FUSE_NOTIFY_RESEND)
#define FUSE_NOTIFY_RESEND	FUSE_RECOVER_NOTIFY_RESEND
#endif

#endif /* FUSE_RECOVER_UAPI_H */
