// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Requests the dead server had read but not answered live on the old
 * fuse_dev's processing list.  FUSE_NOTIFY_RESEND puts them back at the
 * head of the pending queue with FR_UNIQUE_RESEND set in their unique, so
 * the new server gets them first and can tell them apart.
 */
#include "fuse_recover_i.h"

#include <errno.h>
#include <linux/fuse.h>
#include <unistd.h>

/*
 * libfuse gives no accessor for a request's unique, but the thread that
 * reads a request is the thread that dispatches it (both loops), so the
 * read hook leaves the header here for fuse_recover_req_is_resend().
 */
static __thread uint64_t tls_unique;
static __thread uint32_t tls_pid;
static __thread bool tls_valid;

FR_HOT void fr_resend_note(uint64_t unique, uint32_t pid)
{
	tls_unique = unique;
	tls_pid = pid;
	tls_valid = true;
}

/*
 * The pid check guards against a thread that dispatches a request it did
 * not read through the hook (libfuse's own, or no recovery at all).
 */
bool fr_req_unique(fuse_req_t req, uint64_t *unique)
{
	const struct fuse_ctx *ctx = req ? fuse_req_ctx(req) : NULL;

	if (!ctx || !tls_valid || (uint32_t)ctx->pid != tls_pid ||
	    tls_unique == 0)
		return false;
	*unique = tls_unique;
	return true;
}

int fuse_recover_req_is_resend(fuse_req_t req)
{
	uint64_t unique;

	if (!req)
		return -EINVAL;
	/* Not read through our hooks: recovery is off, nothing is resent. */
	if (!fr_req_unique(req, &unique))
		return 0;
	return (unique & FR_UNIQUE_RESEND) ? 1 : 0;
}

int fr_resend_request(int fuse_fd)
{
	struct fuse_out_header h = {
		.len = sizeof(h),
		.error = FUSE_NOTIFY_RESEND,
		.unique = 0,
	};
	ssize_t n = write(fuse_fd, &h, sizeof(h));

	if (n == (ssize_t)sizeof(h))
		return 0;
	return n < 0 ? -errno : -EIO;
}
