// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Kernel feature probe.  The only reliable witness of what the running
 * kernel can do for this connection is its FUSE_INIT request, which the
 * supervisor keeps; the uname release says nothing about backports.
 */
#include "fuse_recover_i.h"

#include <errno.h>
#include <linux/fuse.h>
#include <string.h>

int fr_probe_init_in(const void *init_in, size_t len, struct fr_kernel *k)
{
	const struct fuse_in_header *h = init_in;
	struct fuse_init_in in;
	size_t body;

	memset(k, 0, sizeof(*k));
	if (len < sizeof(*h) + 16 || h->opcode != FUSE_INIT || h->len != len)
		return -EPROTO;
	body = len - sizeof(*h);
	memset(&in, 0, sizeof(in));
	memcpy(&in, (const char *)init_in + sizeof(*h),
	       body < sizeof(in) ? body : sizeof(in));
	k->major = in.major;
	k->minor = in.minor;
	k->flags = in.flags;
	if ((in.flags & FUSE_INIT_EXT) && body >= sizeof(in))
		k->flags |= (uint64_t)in.flags2 << 32;
	/*
	 * FUSE_NOTIFY_RESEND arrived in 7.40 together with the flag that
	 * announces it; trust the flag.
	 */
	k->resend = (k->flags & FR_HAS_RESEND) != 0;
	return 0;
}
