// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The request a drain wakes a reader with (upgrade.c).  A thread blocked in
 * read() on /dev/fuse leaves it only with a request; a zero-byte
 * FUSE_NOTIFY_RETRIEVE written to the device makes the kernel queue a
 * FUSE_NOTIFY_REPLY carrying a unique of our choosing, which wakes exactly
 * one reader, needs no answer, and is swallowed by the read hook of
 * whichever server reads it (also a successor's, or one after a crash).
 *
 * The kernel retrieves only from a regular file it has in its inode cache
 * (6.18 and 6.12.117 refuse any other node, the root included, with
 * EINVAL; an evicted one fails with ENOENT), so the hook remembers a few
 * such nodes from the traffic it sees: requests only sent for regular
 * files, attribute and entry replies with S_IFREG.  A FORGET drops one.
 * A kick that fails tells so at once, so a stale target costs one write.
 */
#include "fuse_recover_i.h"

#include <errno.h>
#include <linux/fuse.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KICK_TARGETS 4

/* Kernel node ids; 0: free. */
static _Atomic uint64_t targets[KICK_TARGETS];
/* Reads may block without a signal to wake them: see fr_kick_fast(). */
static _Atomic bool fast;

/*
 * The request this thread read last: its reply (same thread, in libfuse's
 * loops) tells a GETATTR's or SETATTR's node type.  Kernel ids, seen
 * before translation.
 */
static __thread struct {
	uint64_t unique, nodeid;
	uint32_t opcode;
} tls_req;

/*
 * Set while a translated session runs: every node it hands the kernel is
 * made in an entry reply or bound again after a restart, and xlate.c
 * notes the regular files there.  Its requests and attribute replies then
 * teach only while no target works (fast is false), which spares each
 * request the note and each READ the look at the slots.
 */
static _Atomic bool from_entries;

void fr_kick_from_entries(bool on)
{
	atomic_store(&from_entries, on);
}

static inline bool quiet(void)
{
	return atomic_load_explicit(&from_entries, memory_order_relaxed) &&
	       atomic_load_explicit(&fast, memory_order_relaxed);
}

/*
 * Bumped whenever a slot is emptied.  A thread that found its node in a
 * slot at some epoch knows it is still there while the epoch stays: the
 * same file read or stat'ed again costs no scan.  A wrong guess would only
 * cost a target, never a wrong kick (a kick at a forgotten node fails).
 */
static _Atomic unsigned long epoch;
static __thread struct {
	uint64_t nodeid;
	unsigned long epoch;
} tls_known;

static inline bool known(uint64_t nodeid)
{
	return nodeid == tls_known.nodeid &&
	       tls_known.epoch ==
		       atomic_load_explicit(&epoch, memory_order_relaxed) &&
	       atomic_load_explicit(&fast, memory_order_relaxed);
}

/*
 * Only free slots are filled, so that the slots (read on every request)
 * are written about as rarely as the kernel forgets a node.
 */
FR_HOT void fr_kick_seen(uint64_t nodeid)
{
	unsigned long e = atomic_load_explicit(&epoch, memory_order_relaxed);
	uint64_t v, empty = 0;
	int i, free_slot = -1;

	if (known(nodeid))
		return;
	for (i = 0; i < KICK_TARGETS; i++) {
		v = atomic_load_explicit(&targets[i], memory_order_relaxed);
		if (v == nodeid)
			goto have;
		if (!v && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0 ||
	    !atomic_compare_exchange_strong(&targets[free_slot], &empty,
					    nodeid))
		goto out;
have:
	tls_known.nodeid = nodeid;
	tls_known.epoch = e;
out:
	if (!atomic_load_explicit(&fast, memory_order_relaxed))
		atomic_store(&fast, true);
}

/* Locked only where the node is: a FORGET of any other costs loads. */
static FR_HOT void gone(uint64_t nodeid)
{
	uint64_t v;
	int i;

	for (i = 0; i < KICK_TARGETS; i++) {
		v = nodeid;
		if (atomic_load_explicit(&targets[i], memory_order_relaxed) ==
			    nodeid &&
		    atomic_compare_exchange_strong(&targets[i], &v, 0))
			atomic_fetch_add(&epoch, 1);
	}
}

/*
 * True once a target was seen, and until a drain found none that works:
 * a thread blocked in read() meanwhile can be woken by a kick as long as
 * the kernel caches any regular file we know of.  Not "a target now": in
 * a create/unlink loop the last one is forgotten on every unlink.
 */
FR_HOT bool fr_kick_fast(void)
{
	return atomic_load_explicit(&fast, memory_order_relaxed);
}

void fr_kick_none_works(void)
{
	atomic_store(&fast, false);
}

/* What a request tells of the targets: see fr_kick_note_request(). */
static FR_HOT __attribute__((noinline)) void learn(const void *buf, size_t n)
{
	const struct fuse_in_header *in = buf;
	const struct fuse_batch_forget_in *bf = (const void *)(in + 1);
	const struct fuse_forget_one *one = (const void *)(bf + 1);
	uint32_t i, count;

	tls_req.unique = in->unique;
	tls_req.opcode = in->opcode;
	tls_req.nodeid = in->nodeid;
	switch (in->opcode) {
	/* Sent for regular files only: the kernel has the inode now. */
	case FUSE_OPEN: case FUSE_READ: case FUSE_WRITE: case FUSE_FLUSH:
	case FUSE_FSYNC: case FUSE_FALLOCATE: case FUSE_LSEEK:
		fr_kick_seen(in->nodeid);
		break;
	/* Evicted: a retrieve from it would fail. */
	case FUSE_FORGET:
		gone(in->nodeid);
		break;
	case FUSE_BATCH_FORGET:
		if (n < sizeof(*in) + sizeof(*bf))
			break;
		count = (n - sizeof(*in) - sizeof(*bf)) / sizeof(*one);
		if (bf->count < count)
			count = bf->count;
		for (i = 0; i < count; i++)
			gone(one[i].nodeid);
		break;
	}
}

/*
 * Returns true for our own kick, which is to be swallowed.  Called on
 * every read; what the request teaches is out of line, and skipped for a
 * translated session's requests while a target works (forgets still
 * empty their slots).
 */
FR_HOT bool fr_kick_note_request(const void *buf, size_t n)
{
	const struct fuse_in_header *in = buf;

	if (fr_unlikely(in->opcode == FUSE_NOTIFY_REPLY))
		return in->unique == FR_KICK_UNIQUE;
	if (in->opcode != FUSE_FORGET && in->opcode != FUSE_BATCH_FORGET &&
	    quiet())
		return false;
	learn(buf, n);
	return false;
}

/* @len bytes at @off in a reply's body, from wherever the iovec has them. */
static bool reply_gather(const struct iovec *iov, int count, size_t off,
			 void *out, size_t len)
{
	size_t skip = sizeof(struct fuse_out_header) + off, got = 0, take, l;
	const char *p;
	int i;

	for (i = 0; i < count && got < len; i++) {
		p = iov[i].iov_base;
		l = iov[i].iov_len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		p += skip;
		l -= skip;
		skip = 0;
		take = l < len - got ? l : len - got;
		memcpy((char *)out + got, p, take);
		got += take;
	}
	return got == len;
}

/*
 * Only the fields looked at are copied, on every reply of its kind; in
 * libfuse's replies the body follows the header in one piece.
 */
static inline bool reply_field(const struct iovec *iov, int count,
			       size_t off, void *out, size_t len)
{
	if (count >= 2 && iov[0].iov_len == sizeof(struct fuse_out_header) &&
	    iov[1].iov_len >= off + len) {
		memcpy(out, (const char *)iov[1].iov_base + off, len);
		return true;
	}
	return reply_gather(iov, count, off, out, len);
}

FR_HOT void fr_kick_note_reply(const struct iovec *iov, int count, bool kernel_ids)
{
	const struct fuse_out_header *h = iov[0].iov_base;
	uint64_t nodeid;
	uint32_t mode;

	if (fr_likely(quiet()) || h->unique != tls_req.unique || h->error)
		return;
	switch (tls_req.opcode) {
	case FUSE_GETATTR:
	case FUSE_SETATTR:
		if (known(tls_req.nodeid))
			break;
		if (reply_field(iov, count,
				offsetof(struct fuse_attr_out, attr.mode),
				&mode, sizeof(mode)) && S_ISREG(mode))
			fr_kick_seen(tls_req.nodeid);
		break;
	case FUSE_LOOKUP:
	case FUSE_CREATE:
		/* Translated ids are noted by xlate.c, where they are made. */
		if (kernel_ids &&
		    reply_field(iov, count,
				offsetof(struct fuse_entry_out, attr.mode),
				&mode, sizeof(mode)) && S_ISREG(mode) &&
		    reply_field(iov, count,
				offsetof(struct fuse_entry_out, nodeid),
				&nodeid, sizeof(nodeid)) && nodeid)
			fr_kick_seen(nodeid);
		break;
	}
}

int fr_kick_write(int fd)
{
	struct {
		struct fuse_out_header h;
		struct fuse_notify_retrieve_out r;
	} m = {
		.h = { .len = sizeof(m), .error = FUSE_NOTIFY_RETRIEVE },
		.r = { .notify_unique = FR_KICK_UNIQUE },
	};
	uint64_t node;
	int i, err = -ENOENT;

	for (i = 0; i < KICK_TARGETS; i++) {
		node = atomic_load(&targets[i]);
		if (!node)
			continue;
		m.r.nodeid = node;
		if (write(fd, &m, sizeof(m)) == sizeof(m))
			return 0;
		err = -errno;
		if (err != -ENOENT && err != -EINVAL)
			return err;
		gone(node);
	}
	return err;
}
