// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * FUSE_HANDLE_KILLPRIV_V2 for servers on libfuse 3.14, which neither asks
 * for it nor passes on what the kernel then sends.
 *
 * Without the flag FUSE never sets SB_NOSEC, so no inode ever gets
 * S_NOSEC, and every write runs file_remove_privs() in full: a GETXATTR of
 * security.capability per write (fs/inode.c dentry_needs_remove_privs()
 * -> cap_inode_need_killpriv()), also on the passthrough path
 * (fs/backing-file.c backing_file_write_iter()).  With it the kernel sets
 * SB_NOSEC (fs/fuse/inode.c process_init_reply()) and a file without
 * set-id bits is marked S_NOSEC after its first check.
 *
 * The price: the server clears set-id bits itself.  fuse_setattr()
 * (fs/fuse/dir.c) drops ATTR_KILL_SUID/SGID and the mode the VFS computed
 * from them, and tells the server only
 *  - FATTR_KILL_SUIDGID in a SETATTR for truncate (caller without
 *    CAP_FSETID) and chown,
 *  - FUSE_OPEN_KILL_SUIDGID in OPEN/CREATE with O_TRUNC (same),
 *  - FUSE_WRITE_KILL_SUIDGID in WRITE (same),
 *  - and, for the kills of file_remove_privs() (writes on the page cache
 *    and passthrough paths, fallocate, copy_file_range's destination) and
 *    for chown(-1, -1), a SETATTR with no attribute at all.
 * libfuse 3.14 masks the first (do_setattr's valid mask) and never reads
 * the other two fields, so the read hook notes them for the handler,
 * which asks fuse_recover_req_kill_suidgid().
 */
#include "fuse_recover_i.h"

#include <errno.h>
#include <linux/fuse.h>
#include <string.h>

/* The attribute bits of fuse_setattr_in.valid, FATTR_MODE to FATTR_CTIME. */
#define FR_FATTR_ATTRS                                                         \
	(FATTR_MODE | FATTR_UID | FATTR_GID | FATTR_SIZE | FATTR_ATIME |       \
	 FATTR_MTIME | FATTR_ATIME_NOW | FATTR_MTIME_NOW | FATTR_CTIME)

static __thread uint64_t kill_unique;

int fuse_recover_set_killpriv(struct fuse_recover *fr, int on)
{
	if (!fr)
		return -EINVAL;
	fr->killpriv = on != 0;
	return 0;
}

void fr_killpriv_setup(struct fr_session *s, const struct fuse_recover *fr)
{
	/* fr_init_patch_reply() sets it only where the kernel offers it. */
	if (fr->killpriv)
		s->init_add_flags |= FUSE_HANDLE_KILLPRIV_V2;
	s->killpriv = fr->killpriv;
}

static bool negotiated(const struct fr_session *s)
{
	const struct fuse_out_header *h = s->init_out.data;
	uint32_t flags;

	if (!h || s->init_out.len < sizeof(*h) + 16)
		return false;
	/* fuse_init_out.flags */
	memcpy(&flags, (const char *)(h + 1) + 12, 4);
	return flags & FUSE_HANDLE_KILLPRIV_V2;
}

static uint32_t field(const struct fuse_in_header *in, size_t len, size_t off)
{
	uint32_t v = 0;

	if (len >= sizeof(*in) + off + 4)
		memcpy(&v, (const char *)(in + 1) + off, 4);
	return v;
}

void fr_killpriv_note(const struct fr_session *s,
		      const struct fuse_in_header *in, size_t len)
{
	bool kill;

	/* The kernel sends none of these kills unless it was asked to. */
	if (!s->killpriv)
		return;
	switch (in->opcode) {
	case FUSE_WRITE: /* fuse_write_in.write_flags */
		kill = field(in, len, 20) & FUSE_WRITE_KILL_SUIDGID;
		break;
	case FUSE_OPEN: /* fuse_open_in.open_flags */
		kill = field(in, len, 4) & FUSE_OPEN_KILL_SUIDGID;
		break;
	case FUSE_CREATE: /* fuse_create_in.open_flags */
		kill = field(in, len, 12) & FUSE_OPEN_KILL_SUIDGID;
		break;
	case FUSE_SETATTR: { /* fuse_setattr_in.valid */
		uint32_t valid = field(in, len, 0);

		kill = (valid & FATTR_KILL_SUIDGID) ||
		       (!(valid & FR_FATTR_ATTRS) && negotiated(s));
		break;
	}
	default:
		kill = false;
	}
	kill_unique = kill ? in->unique : 0;
}

int fuse_recover_req_kill_suidgid(fuse_req_t req)
{
	uint64_t unique;

	if (!req)
		return -EINVAL;
	if (!kill_unique || !fr_req_unique(req, &unique))
		return 0;
	return unique == kill_unique ? 1 : 0;
}
