// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Kernel passthrough (Linux 6.9 and later) for servers on libfuse 3.14,
 * which knows nothing of it (and libfuse 3.17's own passthrough turned off
 * under recovery: see fr_passthrough_patch_init()).
 *
 * Three things libfuse would do and cannot:
 *  - INIT: FUSE_PASSTHROUGH (flags2) and max_stack_depth go into the reply
 *    the io hooks already patch (init_add_flags); the same patch is made
 *    to the replayed INIT, so a restarted server that asks the same gets
 *    the same reply, and one that does not is refused like any other
 *    change of capabilities.
 *  - OPEN/CREATE: fuse_recover_passthrough_open() notes the backing id on
 *    the handler's thread; the writev hook finds the reply of that request
 *    (same thread, same unique) and sets FOPEN_PASSTHROUGH and backing_id
 *    in its fuse_open_out, which libfuse 3.14 fills with zeros there.
 *  - Backing ids: FUSE_DEV_IOC_BACKING_OPEN/CLOSE on the connection's fd
 *    (backing.c).  The ids live in the connection, so they outlive the
 *    server; the kernel wants every open of one inode to use the same
 *    backing file, so the node -> id map lives in the state store
 *    (state.c), and an id is closed when its node is forgotten.
 */
#include "fuse_recover_i.h"

#include <errno.h>
#include <linux/capability.h>
#include <linux/fuse.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <syslog.h>
#include <unistd.h>

/* Not in Debian's <linux/fuse.h> (6.1 headers). */
#define FR_FOPEN_PASSTHROUGH (1U << 7)
/* fuse_init_out: flags at 12, flags2 at 32, max_stack_depth at 36. */
#define FR_INIT_OUT_FLAGS 12
#define FR_INIT_OUT_FLAGS2 32
#define FR_INIT_OUT_STACK_DEPTH 36
/* The kernel's FILESYSTEM_MAX_STACK_DEPTH. */
#define FR_MAX_STACK_DEPTH 2

/* The reply to patch: the request this thread answers next. */
__thread bool fr_pt_pending;
static __thread uint64_t pending_unique;
static __thread int32_t pending_id;

int fuse_recover_set_passthrough(struct fuse_recover *fr,
				 unsigned int max_stack_depth)
{
	if (!fr || max_stack_depth > FR_MAX_STACK_DEPTH)
		return -EINVAL;
	fr->pt_depth = max_stack_depth;
	return 0;
}

/* CAP_SYS_ADMIN in the initial namespace: what BACKING_OPEN checks. */
static bool may_open_backing(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2] = { { 0 } };

	if (syscall(SYS_capget, &h, d) < 0)
		return false;
	return d[CAP_SYS_ADMIN / 32].effective & (1U << (CAP_SYS_ADMIN % 32));
}

void fr_passthrough_setup(struct fr_session *s, const struct fuse_recover *fr)
{
	if (!fr->pt_depth)
		return;
	if (!may_open_backing()) {
		fr_log(LOG_INFO,
		       "passthrough off: the server lacks CAP_SYS_ADMIN (backing files need it); reads and writes go through the server");
		return;
	}
	s->pt_depth = fr->pt_depth;
	s->init_add_flags |= FR_INIT_PASSTHROUGH;
}

static uint32_t get32(const struct fr_blob *b, size_t off)
{
	uint32_t v = 0;

	if (b->data && b->len >= sizeof(struct fuse_out_header) + off + 4)
		memcpy(&v, (char *)b->data + sizeof(struct fuse_out_header) +
		       off, 4);
	return v;
}

/*
 * After fr_init_patch_reply(): passthrough needs max_stack_depth > 0 too,
 * in a field libfuse 3.14 sends as zero.  Only if the flag made it (the
 * kernel offered it).
 *
 * libfuse 3.17 and later ask for FUSE_PASSTHROUGH by themselves when the
 * server wants it, and their fuse_passthrough_open() hands out backing ids
 * this library never sees.  A restarted server cannot reuse them: it opens
 * a backing file of its own for an inode the kernel still has open with the
 * dead server's, and the kernel fails that open with EIO for as long as the
 * old opens live.  So unless the server went through
 * fuse_recover_set_passthrough() (ids kept in the state store), the flag is
 * taken out of the reply: the kernel then refuses BACKING_OPEN, libfuse's
 * call returns 0 and reads and writes go through the server.  Returns true
 * if @out was changed.
 */
bool fr_passthrough_patch_init(const struct fr_session *s, struct fr_blob *out)
{
	const struct fuse_out_header *h = out->data;
	uint32_t flags = get32(out, FR_INIT_OUT_FLAGS);
	uint32_t flags2 = get32(out, FR_INIT_OUT_FLAGS2);
	uint32_t depth = s->pt_depth;

	if (!h || h->error ||
	    out->len < sizeof(*h) + FR_INIT_OUT_STACK_DEPTH + 4 ||
	    !(flags & FUSE_INIT_EXT) || !(flags2 & (FR_INIT_PASSTHROUGH >> 32)))
		return false;
	if (!depth) {
		flags2 &= ~(uint32_t)(FR_INIT_PASSTHROUGH >> 32);
		memcpy((char *)out->data + sizeof(*h) + FR_INIT_OUT_FLAGS2,
		       &flags2, 4);
		fr_log(LOG_INFO,
		       "passthrough off: libfuse's own fuse_passthrough_open() gives backing ids a restarted server could not reuse; use fuse_recover_passthrough_open() (state store) for passthrough with recovery");
	}
	memcpy((char *)out->data + sizeof(*h) + FR_INIT_OUT_STACK_DEPTH,
	       &depth, 4);
	return true;
}

/*
 * What the kernel accepted: passthrough is on for the connection.  The
 * kernel turns it off without a word next to writeback caching.
 */
static bool negotiated(const struct fr_session *s)
{
	uint32_t flags = get32(&s->init_out, FR_INIT_OUT_FLAGS);

	return (flags & FUSE_INIT_EXT) && !(flags & FUSE_WRITEBACK_CACHE) &&
	       (get32(&s->init_out, FR_INIT_OUT_FLAGS2) &
		(FR_INIT_PASSTHROUGH >> 32)) &&
	       get32(&s->init_out, FR_INIT_OUT_STACK_DEPTH) > 0;
}

void fr_passthrough_started(const struct fr_session *s)
{
	if (!s->pt_depth)
		return;
	if (get32(&s->init_out, FR_INIT_OUT_FLAGS) & FUSE_WRITEBACK_CACHE)
		fr_log(LOG_INFO,
		       "passthrough off: the kernel refuses it with writeback caching; reads and writes go through the server");
	else if (!negotiated(s))
		fr_log(LOG_INFO,
		       "passthrough off: the kernel did not offer FUSE_PASSTHROUGH; reads and writes go through the server");
}

int fuse_recover_passthrough_open(fuse_req_t req,
				  struct fuse_recover_store *st,
				  fuse_ino_t ino, int fd)
{
	struct fr_session *s = fr_current;
	uint64_t unique;
	int id;

	if (!req || !st || fd < 0)
		return -EINVAL;
	if (!s || !s->uses_store || !s->pt_depth || !negotiated(s))
		return -EOPNOTSUPP;
	if (!fr_req_unique(req, &unique))
		return -EINVAL;
	id = fr_store_backing(st, ino, fd);
	if (id < 0)
		return id;
	pending_unique = unique;
	pending_id = id;
	fr_pt_pending = true;
	return id;
}

int fuse_recover_passthrough_count(struct fuse_recover_store *st)
{
	return st ? (int)fr_store_backing_count(st) : -EINVAL;
}

/*
 * The writev hook, for the reply after fuse_recover_passthrough_open() on
 * this thread: the fuse_open_out is the last 16 bytes of an OPEN or
 * CREATE reply, in whatever iovecs libfuse split it.
 */
void fr_passthrough_reply(struct iovec *iov, int count)
{
	const struct fuse_out_header *h = iov[0].iov_base;
	struct fuse_open_out o;
	size_t total = 0, off, pos = 0;
	int i;

	if (h->unique != pending_unique)
		return;	/* some other reply first (a notification) */
	fr_pt_pending = false;
	for (i = 0; i < count; i++)
		total += iov[i].iov_len;
	if (h->error || total < sizeof(*h) + sizeof(o))
		return;
	off = total - sizeof(o);
	/* Gather, patch, scatter: the struct may straddle iovecs. */
	for (i = 0; i < count; i++) {
		size_t a = pos, b = pos + iov[i].iov_len, lo, hi;

		pos = b;
		lo = a > off ? a : off;
		hi = b;
		if (lo < hi)
			memcpy((char *)&o + (lo - off),
			       (char *)iov[i].iov_base + (lo - a), hi - lo);
	}
	o.open_flags |= FR_FOPEN_PASSTHROUGH;
	memcpy(&o.padding, &pending_id, sizeof(pending_id));
	pos = 0;
	for (i = 0; i < count; i++) {
		size_t a = pos, b = pos + iov[i].iov_len, lo;

		pos = b;
		lo = a > off ? a : off;
		if (lo < b)
			memcpy((char *)iov[i].iov_base + (lo - a),
			       (char *)&o + (lo - off), b - lo);
	}
}
