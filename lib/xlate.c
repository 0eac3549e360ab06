// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The translation layer: the kernel sees node ids and file handles the
 * library hands out, the server sees its own.  An ordinary server (node id
 * = pointer, fh = fd number, libfuse's high-level node counter) can then be
 * killed and restarted: its successor never receives an id of the dead
 * process.  An id of an earlier run is resolved again on first use, by
 * feeding the new server a LOOKUP (parents first) or an OPEN through
 * libfuse's own dispatch, and keeping the reply from the kernel, as INIT
 * replay does.  An object that is no longer the same one (identity differs,
 * or gone) gives the application ESTALE, never another file's data.
 *
 * Requests are translated in place in the read hook; replies that carry
 * ids (entries, open handles, READDIRPLUS) are matched to their request by
 * unique.  Servers that keep their own ids in a state store do not use this
 * file (attach.c turns it on only for the others).
 */
#include "fuse_recover_i.h"
#include "idmap.h"

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* Our own requests to the server: bit 62, never set by the kernel. */
#define XL_SYNTH (1ull << 62)
#define XL_PEND_BUCKETS 1024
#define XL_PEND_SLOTS 1024
#define XL_DEPTH_MAX 4096
#define XL_SYNTH_TIMEOUT_SEC 60
#define XL_DEFAULT_NODES (1ull << 21)
#define XL_DEFAULT_HANDLES (1ull << 20)

#ifndef FUSE_STATX
#define FUSE_STATX 52
#endif

/* A request whose reply carries ids or changes names. */
struct xl_pending {
	struct xl_pending *next;
	uint64_t unique;
	uint32_t opcode;
	uint32_t flags;			/* OPEN/CREATE flags, RENAME2 flags */
	uint64_t node, node2;		/* kernel ids: dir / node, newdir */
	uint64_t kfh;			/* RELEASE */
	uint32_t uid, gid, pid;
	uint16_t len1, len2;
	bool judge;			/* resent: may have been done */
	bool small;			/* names fit XL_PEND_NAMES */
	int64_t t0;			/* when its first attempt was read */
	char names[];			/* name1, name2 */
};

struct xl_synth {
	struct xl_synth *next;
	uint64_t unique;
	bool done;
	int32_t error;
	char reply[sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out)];
	size_t len;
	char *big;			/* a directory listing goes here */
	size_t bigcap;
};

/*
 * A pending record's place without a lock: claimed by the request's
 * unique, emptied by its reply.  The unique is the key, not the record,
 * so that a thread looking for another reply never reads a record that
 * its own reply may be freeing.
 */
struct xl_pslot {
	_Atomic uint64_t unique;	/* 0: free */
	struct xl_pending *_Atomic p;
};

struct fr_xlate {
	struct fr_session *s;
	struct fr_idmap *map;
	pthread_mutex_t resolve_lock;	/* one re-resolution at a time */
	struct xl_pslot slot[XL_PEND_SLOTS];
	/* Records whose slot was taken (over XL_PEND_SLOTS in flight). */
	pthread_mutex_t plock;
	struct xl_pending *pend[XL_PEND_BUCKETS];
	_Atomic size_t npend;
	pthread_mutex_t slock;
	pthread_cond_t scond;
	struct xl_synth *synth;
	_Atomic uint64_t synth_ctr;
	_Atomic bool warned_op[64];
};

/* ---- answering the kernel ourselves ---- */

static FR_COLD void answer(int fd, uint64_t unique, int err)
{
	struct fuse_out_header h = {
		.len = sizeof(h), .error = -err, .unique = unique
	};

	if (write(fd, &h, sizeof(h)) < 0 && errno != ENOENT)
		fr_log(LOG_WARNING, "cannot answer request %llu: %s",
		       (unsigned long long)unique, strerror(errno));
}

/* ---- pending replies ---- */

static size_t bucket(uint64_t unique)
{
	return (unique >> 1) % XL_PEND_BUCKETS;
}

/*
 * What each opcode is to the layer, for the quick path and the full one
 * alike.  Not in the table (op_is() false for every flag): refused with
 * ENOSYS, never passed through untranslated.
 */
enum {
	OP_KNOWN = 1,	/* translated by fr_xlate_request() */
	OP_QUICK = 2,	/* fr_xlate_quick() may pass it in place... */
	OP_NOTE = 4,	/* ...its reply needing a record (note_request()) */
	OP_RELEASE = 8,	/* ...its reply freeing the handle */
	OP_FH = 16,	/* may carry an fh (fh_field() says where) */
	OP_REDO = 32,	/* its error when resent may mean "already done" */
};
#define K OP_KNOWN
#define R OP_REDO
#define Q (OP_KNOWN | OP_QUICK)
#define QF (OP_KNOWN | OP_QUICK | OP_FH)
static const uint8_t op_table[64] = {
	[FUSE_LOOKUP] = Q | OP_NOTE,	[FUSE_FORGET] = K,
	[FUSE_GETATTR] = QF,		[FUSE_SETATTR] = QF,
	[FUSE_READLINK] = Q,		[FUSE_SYMLINK] = Q | OP_NOTE | R,
	[FUSE_MKNOD] = Q | OP_NOTE | R,	[FUSE_MKDIR] = Q | OP_NOTE | R,
	[FUSE_UNLINK] = Q | OP_NOTE | R,	[FUSE_RMDIR] = Q | OP_NOTE | R,
	[FUSE_RENAME] = K | R,		[FUSE_LINK] = K | R,
	[FUSE_OPEN] = Q | OP_NOTE,	[FUSE_READ] = QF,
	[FUSE_WRITE] = QF,		[FUSE_STATFS] = Q,
	[FUSE_RELEASE] = QF | OP_RELEASE, [FUSE_FSYNC] = QF,
	[FUSE_SETXATTR] = Q,		[FUSE_GETXATTR] = Q,
	[FUSE_LISTXATTR] = Q,		[FUSE_REMOVEXATTR] = Q,
	[FUSE_FLUSH] = QF,		[FUSE_INIT] = K,
	[FUSE_OPENDIR] = Q | OP_NOTE,	[FUSE_READDIR] = K | OP_FH,
	[FUSE_RELEASEDIR] = QF | OP_RELEASE, [FUSE_FSYNCDIR] = QF,
	[FUSE_GETLK] = QF,		[FUSE_SETLK] = QF,
	[FUSE_SETLKW] = QF,		[FUSE_ACCESS] = Q,
	[FUSE_CREATE] = Q | OP_NOTE,	[FUSE_INTERRUPT] = K,
	[FUSE_BMAP] = Q,		[FUSE_DESTROY] = K,
	[FUSE_IOCTL] = QF,		[FUSE_POLL] = QF,
	[FUSE_NOTIFY_REPLY] = K,	[FUSE_BATCH_FORGET] = K,
	[FUSE_FALLOCATE] = QF,		[FUSE_READDIRPLUS] = K | OP_FH,
	[FUSE_RENAME2] = K | R,		[FUSE_LSEEK] = QF,
	[FUSE_COPY_FILE_RANGE] = K | OP_FH, [FUSE_SYNCFS] = Q,
	[FUSE_TMPFILE] = Q | OP_NOTE,	[FUSE_STATX] = QF,
};
#undef K
#undef R
#undef Q
#undef QF

static FR_HOT unsigned int op_flags(uint32_t opcode)
{
	return opcode < sizeof(op_table) ? op_table[opcode] : 0;
}

static FR_HOT bool op_is(uint32_t opcode, unsigned int flags)
{
	return op_flags(opcode) & flags;
}

/*
 * A record is made for about every second request and freed with its
 * reply, mostly by the thread that read the request: one spare per thread
 * saves the allocator (a third of what translating a LOOKUP cost).  The
 * key frees a thread's spare when the thread exits.
 */
#define XL_PEND_NAMES 512

static __thread struct xl_pending *tls_spare;
static __thread bool tls_spare_keyed;
static pthread_key_t spare_key;
static pthread_once_t spare_once = PTHREAD_ONCE_INIT;
static bool spare_key_made;

/* Runs on the exiting thread, whose thread-locals are still there. */
static void spare_gone(void *data)
{
	(void)data;
	free(tls_spare);
	tls_spare = NULL;
}

static void spare_key_make(void)
{
	spare_key_made = pthread_key_create(&spare_key, spare_gone) == 0;
}

static FR_HOT struct xl_pending *pend_alloc(size_t names)
{
	struct xl_pending *p = tls_spare;

	if (names > XL_PEND_NAMES) {
		p = malloc(sizeof(*p) + names);
		if (p)
			p->small = false;
		return p;
	}
	if (p) {
		tls_spare = NULL;
		return p;
	}
	p = malloc(sizeof(*p) + XL_PEND_NAMES);
	if (p)
		p->small = true;
	return p;
}

static FR_HOT void pend_free(struct xl_pending *p)
{
	if (!p || !p->small || tls_spare) {
		free(p);
		return;
	}
	if (!tls_spare_keyed) {
		pthread_once(&spare_once, spare_key_make);
		if (!spare_key_made ||
		    pthread_setspecific(spare_key, &tls_spare)) {
			free(p);
			return;
		}
		tls_spare_keyed = true;
	}
	tls_spare = p;
}

/*
 * Uniques come from one counter (step 2), so the slots of the requests in
 * flight rarely collide; a collision takes the locked lists.  The record
 * is stored after the claim: its reply, the only reader of this unique,
 * comes after the read hook returned.
 */
static FR_HOT bool claim_slot(struct fr_xlate *x, uint64_t unique,
		       struct xl_pending *p)
{
	struct xl_pslot *sl = &x->slot[(unique >> 1) % XL_PEND_SLOTS];
	uint64_t free_ = 0;

	if (atomic_load_explicit(&sl->unique, memory_order_relaxed) ||
	    !atomic_compare_exchange_strong_explicit(&sl->unique, &free_,
						     unique,
						     memory_order_acquire,
						     memory_order_relaxed))
		return false;
	atomic_store_explicit(&sl->p, p, memory_order_release);
	return true;
}

static FR_HOT int pend_add(struct fr_xlate *x, const struct fuse_in_header *in,
		    uint64_t node, uint64_t node2, uint32_t flags, uint64_t kfh,
		    const char *n1, size_t l1, const char *n2, size_t l2)
{
	struct xl_pending *p = pend_alloc(l1 + l2);
	size_t b;

	if (!p)
		return -ENOMEM;
	p->unique = in->unique;
	p->opcode = in->opcode;
	p->flags = flags;
	p->node = node;
	p->node2 = node2;
	p->kfh = kfh;
	p->uid = in->uid;
	p->gid = in->gid;
	p->pid = in->pid;
	p->len1 = l1;
	p->len2 = l2;
	p->judge = false;
	if (op_is(in->opcode, OP_REDO)) {
		/* Coarse, a tick behind at most: inside the slack. */
		if (!(in->unique & FR_UNIQUE_RESEND))
			fr_idmap_note_read(x->map, in->unique,
					   fr_clock_ns(CLOCK_REALTIME_COARSE));
		else
			p->judge = fr_idmap_read_time(x->map,
						      in->unique & ~FR_UNIQUE_RESEND,
						      &p->t0);
	}
	if (l1)
		memcpy(p->names, n1, l1);
	if (l2)
		memcpy(p->names + l1, n2, l2);
	if (in->unique && claim_slot(x, in->unique, p))
		return 0;
	b = bucket(in->unique);
	pthread_mutex_lock(&x->plock);
	p->next = x->pend[b];
	x->pend[b] = p;
	x->npend++;
	pthread_mutex_unlock(&x->plock);
	return 0;
}

static FR_HOT struct xl_pending *pend_take(struct fr_xlate *x, uint64_t unique)
{
	struct xl_pslot *sl = &x->slot[(unique >> 1) % XL_PEND_SLOTS];
	struct xl_pending **pp, *p = NULL;

	if (unique &&
	    atomic_load_explicit(&sl->unique, memory_order_acquire) == unique) {
		p = atomic_load_explicit(&sl->p, memory_order_acquire);
		/* Its record read first: the next claim may overwrite it. */
		atomic_store_explicit(&sl->unique, 0, memory_order_release);
		return p;
	}
	if (!atomic_load_explicit(&x->npend, memory_order_relaxed))
		return NULL;
	pthread_mutex_lock(&x->plock);
	for (pp = &x->pend[bucket(unique)]; *pp; pp = &(*pp)->next) {
		if ((*pp)->unique == unique) {
			p = *pp;
			*pp = p->next;
			x->npend--;
			break;
		}
	}
	pthread_mutex_unlock(&x->plock);
	return p;
}

/* ---- requests of our own, through libfuse's dispatch ---- */

static void synth_deliver(struct fr_xlate *x, const struct iovec *iov,
			  int count)
{
	const struct fuse_out_header *h = iov[0].iov_base;
	struct xl_synth *sy;
	size_t off = 0;
	int i;

	pthread_mutex_lock(&x->slock);
	for (sy = x->synth; sy && sy->unique != h->unique; sy = sy->next)
		;
	if (sy) {
		char *to = sy->big ? sy->big : sy->reply;
		size_t cap = sy->big ? sy->bigcap : sizeof(sy->reply);

		sy->error = h->error;
		for (i = 0; i < count; i++) {
			size_t skip = i == 0 ? sizeof(*h) : 0;
			size_t n = iov[i].iov_len - skip;

			if (off + n > cap)
				n = cap - off;
			memcpy(to + off, (char *)iov[i].iov_base + skip, n);
			off += n;
		}
		sy->len = off;
		sy->done = true;
		pthread_cond_broadcast(&x->scond);
	}
	pthread_mutex_unlock(&x->slock);
}

/*
 * Run one request of ours through the server and wait for its reply.  The
 * caller's thread dispatches it, as libfuse would have; servers that answer
 * from another thread are waited for.  Returns the server's -errno, or the
 * reply body in @sy.
 */
static FR_COLD int synth_call_buf(struct fr_xlate *x, uint32_t opcode,
			  uint64_t nodeid, uint32_t uid, uint32_t gid,
			  uint32_t pid, const void *a1, size_t l1,
			  const void *a2, size_t l2, struct xl_synth *sy,
			  char *big, size_t bigcap)
{
	size_t len = sizeof(struct fuse_in_header) + l1 + l2;
	struct fuse_in_header *in = calloc(1, len);
	struct fuse_buf fb = { .size = len, .mem = in };
	bool reply = opcode != FUSE_FORGET;
	struct timespec until;
	int err = 0;

	if (!in)
		return -ENOMEM;
	in->len = len;
	in->opcode = opcode;
	in->unique = XL_SYNTH | ((atomic_fetch_add_explicit(&x->synth_ctr, 1,
						    __ATOMIC_RELAXED) + 1) << 1);
	in->nodeid = nodeid;
	in->uid = uid;
	in->gid = gid;
	in->pid = pid;
	if (l1)
		memcpy(in + 1, a1, l1);
	if (l2)
		memcpy((char *)(in + 1) + l1, a2, l2);
	memset(sy, 0, sizeof(*sy));
	sy->unique = in->unique;
	sy->big = big;
	sy->bigcap = bigcap;
	if (reply) {
		pthread_mutex_lock(&x->slock);
		sy->next = x->synth;
		x->synth = sy;
		pthread_mutex_unlock(&x->slock);
	}
	fuse_session_process_buf(x->s->se, &fb);
	free(in);
	if (!reply)
		return 0;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += XL_SYNTH_TIMEOUT_SEC;
	pthread_mutex_lock(&x->slock);
	while (!sy->done && err != ETIMEDOUT)
		err = pthread_cond_timedwait(&x->scond, &x->slock, &until);
	for (struct xl_synth **pp = &x->synth; *pp; pp = &(*pp)->next) {
		if (*pp == sy) {
			*pp = sy->next;
			break;
		}
	}
	pthread_mutex_unlock(&x->slock);
	if (!sy->done) {
		fr_log(LOG_ERR, "server did not answer a re-resolution in %d s",
		       XL_SYNTH_TIMEOUT_SEC);
		return -EIO;
	}
	return sy->error;
}

static FR_COLD int synth_call(struct fr_xlate *x, uint32_t opcode, uint64_t nodeid,
		      uint32_t uid, uint32_t gid, uint32_t pid,
		      const void *a1, size_t l1, const void *a2, size_t l2,
		      struct xl_synth *sy)
{
	return synth_call_buf(x, opcode, nodeid, uid, gid, pid, a1, l1, a2, l2,
			      sy, NULL, 0);
}

static FR_COLD void synth_forget(struct fr_xlate *x, uint64_t srv, uint64_t count)
{
	struct fuse_forget_in f = { .nlookup = count };
	struct xl_synth sy;

	synth_call(x, FUSE_FORGET, srv, 0, 0, 0, &f, sizeof(f), NULL, 0, &sy);
}

static FR_COLD void synth_release(struct fr_xlate *x, uint64_t srv_node,
			  uint64_t srv_fh, bool dir, uint32_t flags)
{
	struct fuse_release_in r = { .fh = srv_fh, .flags = flags };
	struct xl_synth sy;

	synth_call(x, dir ? FUSE_RELEASEDIR : FUSE_RELEASE, srv_node, 0, 0, 0,
		   &r, sizeof(r), NULL, 0, &sy);
}

/* ---- re-resolution ---- */

static bool same_object(const struct xl_node *n, const struct fuse_entry_out *e)
{
	return n->ino == e->attr.ino &&
	       n->mode == (e->attr.mode & S_IFMT) &&
	       n->generation == e->generation;
}

/* Look @n up again by its name in its (already resolved) parent. */
static FR_COLD int relookup(struct fr_xlate *x, struct xl_node *n, uint64_t srv_parent,
		    const struct fuse_in_header *cred)
{
	struct fr_idmap *m = x->map;
	const char *name;
	char buf[XL_LONGNAME_MAX + 1];
	size_t len;
	struct xl_synth sy;
	struct fuse_entry_out e;
	uint64_t kid;
	int err;

	fr_idmap_lock(m);
	len = fr_idmap_name(m, n, &name);
	if (len)
		memcpy(buf, name, len);
	fr_idmap_unlock(m);
	if (!len)
		return -ESTALE; /* unlinked while the kernel held it */
	buf[len] = '\0';
	err = synth_call(x, FUSE_LOOKUP, srv_parent, cred->uid, cred->gid,
			 cred->pid, buf, len + 1, NULL, 0, &sy);
	if (err)
		return err == -ENOENT ? -ESTALE : err;
	if (sy.len < sizeof(e))
		return -EIO;
	memcpy(&e, sy.reply, sizeof(e));
	if (!e.nodeid)
		return -ESTALE;
	if (!same_object(n, &e)) {
		synth_forget(x, e.nodeid, 1);
		return -ESTALE;
	}
	fr_idmap_lock(m);
	err = fr_idmap_bind(m, n, e.nodeid);
	n->srv_nlookup = 1;
	kid = fr_idmap_node_id(m, n);
	fr_idmap_unlock(m);
	if (err)
		synth_forget(x, e.nodeid, 1);
	/* The kernel holds it (it named it): a target, as in entry_out(). */
	else if (S_ISREG(e.attr.mode))
		fr_kick_seen(kid);
	return err;
}

/*
 * The server id of @n, resolving it and every stale ancestor first.  Stale
 * nodes are rare (only after a restart), so one lock for all of them keeps
 * racing threads from looking the same node up twice.
 */
static FR_COLD int resolve(struct fr_xlate *x, struct xl_node *n,
		   const struct fuse_in_header *cred, uint64_t *srv)
{
	struct fr_idmap *m = x->map;
	struct xl_node **chain;
	int depth = 0, err = 0;

	if (fr_idmap_current(m, n)) {
		*srv = n->srv_id;
		return 0;
	}
	chain = malloc(XL_DEPTH_MAX * sizeof(*chain));
	if (!chain)
		return -ENOMEM;
	pthread_mutex_lock(&x->resolve_lock);
	/* Walk up to the first ancestor this run knows (the root at worst). */
	while (!fr_idmap_current(m, n)) {
		if (depth == XL_DEPTH_MAX) {
			err = -ELOOP;
			goto out;
		}
		chain[depth++] = n;
		fr_idmap_lock(m);
		n = n->parent ? fr_idmap_node(m, n->parent) : NULL;
		fr_idmap_unlock(m);
		if (!n) {
			err = -ESTALE;
			goto out;
		}
	}
	while (depth--) {
		err = relookup(x, chain[depth], n->srv_id, cred);
		if (err)
			goto out;
		n = chain[depth];
	}
	*srv = n->srv_id;
out:
	pthread_mutex_unlock(&x->resolve_lock);
	free(chain);
	return err;
}

static int node_srv(struct fr_xlate *x, uint64_t kid,
		    const struct fuse_in_header *cred, uint64_t *srv)
{
	struct xl_node *n = fr_idmap_node(x->map, kid);

	if (!n)
		return -ESTALE;
	return resolve(x, n, cred, srv);
}

/* Reopen a handle of an earlier run with the opener's flags and identity. */
static FR_COLD int reopen(struct fr_xlate *x, struct xl_handle *f)
{
	struct fuse_in_header cred = { .uid = f->uid, .gid = f->gid,
				       .pid = f->pid };
	struct fuse_open_in o = {
		.flags = f->flags & ~(O_CREAT | O_EXCL | O_TRUNC),
	};
	struct fuse_open_out out;
	struct xl_synth sy;
	uint64_t srv;
	int err = node_srv(x, f->node, &cred, &srv);

	if (err)
		return err;
	pthread_mutex_lock(&x->resolve_lock);
	if (fr_idmap_handle_current(x->map, f))
		goto out;
	err = synth_call(x, f->dir ? FUSE_OPENDIR : FUSE_OPEN, srv, f->uid,
			 f->gid, f->pid, &o, sizeof(o), NULL, 0, &sy);
	if (err == -ENOENT)
		err = -ESTALE;
	if (err)
		goto out;
	if (sy.len < sizeof(out)) {
		err = -EIO;
		goto out;
	}
	memcpy(&out, sy.reply, sizeof(out));
	fr_idmap_handle_bind(x->map, f, out.fh);
out:
	pthread_mutex_unlock(&x->resolve_lock);
	return err;
}

/* ---- directory offsets ---- */

#define XL_SCAN_SIZE 4096
/* A server whose stream never ends is not scanned forever. */
#define XL_SCAN_MAX_ENTRIES (1ull << 24)

static bool is_dot(const char *name, size_t len)
{
	return (len == 1 && name[0] == '.') ||
	       (len == 2 && name[0] == '.' && name[1] == '.');
}

static uint64_t dirent_hash(const char *name, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull ^ len;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)name[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

struct xl_dent {
	uint64_t off, nodeid;
	const char *name;
	uint32_t namelen;
};

/* The entry at *@pos of a READDIR(PLUS) reply body; false at its end. */
static bool next_dent(const char *buf, size_t len, size_t *pos, bool plus,
		      struct xl_dent *e)
{
	const struct fuse_dirent *d;
	size_t at = *pos, hdr, reclen;

	hdr = plus ? FUSE_NAME_OFFSET_DIRENTPLUS : FUSE_NAME_OFFSET;
	if (at + hdr > len || at + hdr < at)
		return false;
	if (plus) {
		const struct fuse_direntplus *dp = (const void *)(buf + at);

		d = &dp->dirent;
		e->nodeid = dp->entry_out.nodeid;
		reclen = FUSE_DIRENTPLUS_SIZE(dp);
	} else {
		d = (const void *)(buf + at);
		e->nodeid = 0;
		reclen = FUSE_DIRENT_SIZE(d);
	}
	if (d->namelen > len || at + reclen > len)
		return false;
	e->off = d->off;
	e->name = d->name;
	e->namelen = d->namelen;
	*pos = at + reclen;
	return true;
}

/* Remember where the kernel may continue this stream from (idmap.h). */
static void dir_note(struct fr_xlate *x, const struct xl_pending *p,
		     const char *buf, size_t len)
{
	bool plus = p->opcode == FUSE_READDIRPLUS;
	struct xl_dirent_pos *ent;
	struct xl_handle *f;
	struct xl_dent e;
	uint32_t n = 0;
	size_t pos = 0;

	if (!p->kfh || !len)
		return;
	ent = malloc((len / FUSE_NAME_OFFSET + 1) * sizeof(*ent));
	if (!ent)
		return;
	while (next_dent(buf, len, &pos, plus, &e))
		ent[n++] = (struct xl_dirent_pos){
			e.off, dirent_hash(e.name, e.namelen)
		};
	fr_idmap_lock(x->map);
	f = fr_idmap_handle(x->map, p->kfh);
	if (f && n)
		fr_idmap_dir_note(x->map, f, p->kfh, ent, n);
	fr_idmap_unlock(x->map);
	free(ent);
}

/*
 * A READDIR(PLUS) at an offset a server of an earlier run gave out.  Its
 * offsets may mean nothing to the new server (an index into the dead
 * process's snapshot, a cookie of its own), so the new stream is read from
 * its beginning (through the reopened handle) up to the last entry the
 * kernel had been given before that offset, found by its name, and the
 * request goes on from that entry's offset in the new stream.  The
 * anchors are the entries of the last two replies up to that offset; the
 * latest one that still exists wins, so entries removed meanwhile (rm -r
 * reading and removing) do not lose the place.  If none is left, the
 * stream starts again from its beginning: entries may come twice, none is
 * lost.  This assumes the new server lists an unchanged directory in the
 * same order as the old one did.
 */
static int remap_offset(struct fr_xlate *x, const struct fuse_in_header *in,
			uint64_t kfh, struct fuse_read_in *r)
{
	struct fr_idmap *m = x->map;
	struct xl_dirent_pos *anchors;
	uint64_t epoch = 0, off = 0, best_off = 0, scanned = 0;
	uint32_t count = 0, op = FUSE_READDIR;
	struct xl_handle *f;
	struct xl_synth sy;
	int64_t best = -1;
	char *buf;
	int err;

	if (!r->offset || !kfh)
		return 0;
	anchors = malloc(2 * XL_DIRPOS_ENTS * sizeof(*anchors));
	buf = malloc(XL_SCAN_SIZE);
	if (!anchors || !buf) {
		err = -ENOMEM;
		goto out;
	}
	fr_idmap_lock(m);
	f = fr_idmap_handle(m, kfh);
	err = f ? fr_idmap_dir_find(m, f, kfh, r->offset, anchors, &count,
				    &epoch) :
		  -ENOENT;
	fr_idmap_unlock(m);
	/*
	 * An offset of this run's server is its own.  One never recorded (a
	 * seekdir() to an older telldir() cookie) is passed on unchanged:
	 * right for servers whose offsets are stable cookies.
	 */
	if (err || epoch == fr_idmap_epoch(m) || !count) {
		err = 0;
		goto out;
	}
	for (;;) {
		struct fuse_read_in ri = *r;
		size_t pos = 0;
		struct xl_dent e;
		uint64_t last = off;
		bool any = false;

		ri.offset = off;
		ri.size = XL_SCAN_SIZE;
		err = synth_call_buf(x, op, in->nodeid, in->uid, in->gid,
				     in->pid, &ri, sizeof(ri), NULL, 0, &sy,
				     buf, XL_SCAN_SIZE);
		/* A server with readdirplus only: its lookups are given back. */
		if (err == -ENOSYS && op == FUSE_READDIR) {
			op = FUSE_READDIRPLUS;
			continue;
		}
		if (err)
			break;
		while (next_dent(buf, sy.len, &pos, op == FUSE_READDIRPLUS,
				 &e)) {
			uint64_t h = dirent_hash(e.name, e.namelen);
			int64_t i;

			any = true;
			off = e.off;
			scanned++;
			if (e.nodeid && !is_dot(e.name, e.namelen))
				synth_forget(x, e.nodeid, 1);
			for (i = (int64_t)count - 1; i > best; i--) {
				if (anchors[i].hash == h) {
					best = i;
					best_off = e.off;
					break;
				}
			}
		}
		if (!any || best == (int64_t)count - 1 || off == last ||
		    scanned > XL_SCAN_MAX_ENTRIES)
			break;
	}
	if (err == -ENOSYS) {
		err = 0;
		goto out;
	}
	if (err)
		goto out;
	if (best < 0)
		fr_log(LOG_WARNING,
		       "directory reopened after a restart no longer has any entry the kernel was last given: listing it again from its start");
	r->offset = best < 0 ? 0 : best_off;
out:
	free(anchors);
	free(buf);
	return err;
}

/* ---- requests ---- */

enum { XL_PASS = 0, XL_DONE = 1 };

/* Where the fh of a request is, if it has one. */
static FR_HOT uint64_t *fh_field(uint32_t opcode, void *arg, size_t alen)
{
	size_t off = 0, need = 8;

	switch (opcode) {
	case FUSE_GETATTR: {
		struct fuse_getattr_in *g = arg;

		if (alen < sizeof(*g) || !(g->getattr_flags & FUSE_GETATTR_FH))
			return NULL;
		return &g->fh;
	}
	case FUSE_SETATTR: {
		struct fuse_setattr_in *sa = arg;

		if (alen < sizeof(*sa) || !(sa->valid & FATTR_FH))
			return NULL;
		return &sa->fh;
	}
	case FUSE_STATX: /* getattr_flags, reserved, fh */
		if (alen < 16 || !(*(uint32_t *)arg & FUSE_GETATTR_FH))
			return NULL;
		off = 8;
		break;
	default:
		/* The rest have it first in their struct. */
		if (!op_is(opcode, OP_FH))
			return NULL;
	}
	if (alen < off + need)
		return NULL;
	return (uint64_t *)((char *)arg + off);
}

/* The fh the server knows for kernel handle *@fh (reopened if stale). */
static int translate_fh(struct fr_xlate *x, uint64_t *fh)
{
	struct xl_handle *f;
	int err = 0;

	/* 0 is what the kernel sends when the server has no OPEN at all. */
	if (!*fh)
		return 0;
	f = fr_idmap_handle(x->map, *fh);
	if (!f)
		return -EBADF;
	if (!fr_idmap_handle_current(x->map, f))
		err = reopen(x, f);
	if (!err)
		*fh = f->srv_fh;
	return err;
}

static FR_HOT const char *arg_name(const void *arg, size_t alen, size_t skip,
			    size_t *len)
{
	const char *p = (const char *)arg + skip;
	size_t max;

	if (alen <= skip)
		return NULL;
	max = alen - skip;
	*len = strnlen(p, max);
	return *len < max ? p : NULL;
}

static FR_HOT int forget_one(struct fr_xlate *x, uint64_t kid, uint64_t count,
		      uint64_t *srv, uint64_t *fwd)
{
	struct fr_idmap *m = x->map;
	struct xl_node *n;
	uint64_t have, keep;

	*fwd = 0;
	fr_idmap_lock(m);
	n = fr_idmap_node(m, kid);
	if (!n || kid == XL_ROOT) {
		fr_idmap_unlock(m);
		return 0;
	}
	have = n->nlookup;
	n->nlookup = count < have ? have - count : 0;
	/* The server may keep no more lookups than the kernel still holds. */
	if (fr_idmap_current(m, n)) {
		keep = n->srv_nlookup < n->nlookup ? n->srv_nlookup : n->nlookup;
		*fwd = n->srv_nlookup - keep;
		n->srv_nlookup = keep;
		*srv = n->srv_id;
	}
	if (!n->nlookup)
		fr_idmap_node_free(m, n);
	fr_idmap_unlock(m);
	return 0;
}

static FR_HOT int do_forget(struct fr_xlate *x, struct fuse_in_header *in, size_t n)
{
	struct fuse_forget_in *f = (void *)(in + 1);
	uint64_t srv, fwd;

	if (n < sizeof(*in) + sizeof(*f))
		return XL_DONE;
	forget_one(x, in->nodeid, f->nlookup, &srv, &fwd);
	if (!fwd)
		return XL_DONE;
	in->nodeid = srv;
	f->nlookup = fwd;
	return XL_PASS;
}

static FR_HOT int do_batch_forget(struct fr_xlate *x, struct fuse_in_header *in,
			   size_t *n)
{
	struct fuse_batch_forget_in *b = (void *)(in + 1);
	struct fuse_forget_one *one = (void *)(b + 1);
	uint32_t i, kept = 0, count;

	if (*n < sizeof(*in) + sizeof(*b))
		return XL_DONE;
	count = b->count;
	if (count > (*n - sizeof(*in) - sizeof(*b)) / sizeof(*one))
		count = (*n - sizeof(*in) - sizeof(*b)) / sizeof(*one);
	for (i = 0; i < count; i++) {
		uint64_t srv, fwd;

		forget_one(x, one[i].nodeid, one[i].nlookup, &srv, &fwd);
		if (fwd)
			one[kept++] = (struct fuse_forget_one){ srv, fwd };
	}
	if (!kept)
		return XL_DONE;
	b->count = kept;
	*n = sizeof(*in) + sizeof(*b) + kept * sizeof(*one);
	in->len = *n;
	return XL_PASS;
}

static FR_COLD void warn_op(struct fr_xlate *x, uint32_t opcode)
{
	if (opcode < 64 && x->warned_op[opcode])
		return;
	if (opcode < 64)
		x->warned_op[opcode] = true;
	fr_log(LOG_ERR,
	       "request opcode %u carries ids the translation layer does not know: answered ENOSYS",
	       opcode);
}

/* Remember what the reply will need; names are copied out of the request. */
static FR_HOT int note_request(struct fr_xlate *x, const struct fuse_in_header *in,
			void *arg, size_t alen)
{
	const char *n1 = NULL, *n2 = NULL;
	size_t l1 = 0, l2 = 0, skip = 0;
	uint64_t node2 = 0;
	uint32_t flags = 0;

	switch (in->opcode) {
	case FUSE_LOOKUP: case FUSE_UNLINK: case FUSE_RMDIR:
		break;
	case FUSE_SYMLINK:
		break;
	case FUSE_MKNOD:
		skip = sizeof(struct fuse_mknod_in);
		if (alen >= skip)
			flags = ((struct fuse_mknod_in *)arg)->mode;
		break;
	case FUSE_MKDIR:
		skip = sizeof(struct fuse_mkdir_in);
		flags = S_IFDIR;
		break;
	case FUSE_LINK:
		skip = sizeof(struct fuse_link_in);
		/* Already the server's id of the node linked to. */
		if (alen >= skip)
			node2 = ((struct fuse_link_in *)arg)->oldnodeid;
		break;
	case FUSE_CREATE: case FUSE_TMPFILE:
		if (alen < sizeof(struct fuse_create_in))
			return -EINVAL;
		flags = ((struct fuse_create_in *)arg)->flags;
		skip = sizeof(struct fuse_create_in);
		break;
	case FUSE_OPEN: case FUSE_OPENDIR:
		if (alen < sizeof(struct fuse_open_in))
			return -EINVAL;
		flags = ((struct fuse_open_in *)arg)->flags;
		return pend_add(x, in, in->nodeid, 0, flags, 0, NULL, 0, NULL,
				0);
	case FUSE_RENAME: case FUSE_RENAME2:
		skip = in->opcode == FUSE_RENAME ? sizeof(struct fuse_rename_in) :
						   sizeof(struct fuse_rename2_in);
		if (alen < skip)
			return -EINVAL;
		node2 = ((struct fuse_rename_in *)arg)->newdir;
		if (in->opcode == FUSE_RENAME2)
			flags = ((struct fuse_rename2_in *)arg)->flags;
		break;
	default:
		return 0;
	}
	if (in->opcode != FUSE_TMPFILE) {
		n1 = arg_name(arg, alen, skip, &l1);
		if (!n1)
			return -EINVAL;
	}
	if (in->opcode == FUSE_RENAME || in->opcode == FUSE_RENAME2) {
		n2 = arg_name(arg, alen, skip + l1 + 1, &l2);
		if (!n2)
			return -EINVAL;
	}
	return pend_add(x, in, in->nodeid, node2, flags, 0, n1, l1, n2,
			l2);
}

/*
 * The common case, in place and without a cancellation point: every id
 * the request names is of this run, and nothing but a pending record or
 * the id map's lock (no answer, no re-resolution, no log line) is
 * needed.  -1 leaves the request untouched for fr_xlate_request(), which
 * may wait, answer or resolve, so the io hook turns cancellation off only
 * for that one.
 */
/* The last request this thread passed with no record: its reply needs none. */
static __thread uint64_t tls_plain;

FR_HOT int fr_xlate_quick(struct fr_session *s, void *buf, size_t *n)
{
	struct fr_xlate *x = s->xlate;
	struct fuse_in_header *in = buf;
	void *arg = in + 1;
	size_t alen = *n - sizeof(*in);
	unsigned int op = op_flags(in->opcode);
	uint64_t srv = 0, srv_fh = 0, *fh = NULL;
	bool note, release;

	/* The hints lay the code out for a request passed as is. */
	if (fr_unlikely(!(op & OP_QUICK))) {
		if (in->opcode == FUSE_FORGET)
			return do_forget(x, in, *n);
		if (in->opcode == FUSE_BATCH_FORGET)
			return do_batch_forget(x, in, n);
		return -1;
	}
	note = op & OP_NOTE;
	/* A RELEASE's reply frees the handle: a record of the kernel's fh. */
	release = op & OP_RELEASE;
	if (op & OP_FH)
		fh = fh_field(in->opcode, arg, alen);
	if (fr_likely(in->nodeid) &&
	    fr_unlikely(!fr_idmap_node_srv(x->map, in->nodeid, &srv)))
		return -1;
	/* Closing a handle this run never opened is answered there. */
	if (fr_unlikely(in->opcode == FUSE_FLUSH || release) && (!fh || !*fh))
		return -1;
	if (fh && fr_likely(*fh) &&
	    fr_unlikely(!fr_idmap_handle_srv(x->map, *fh, &srv_fh)))
		return -1;
	/* Last: a record made is the request's, whatever follows. */
	if (fr_unlikely(note) && note_request(x, in, arg, alen))
		return -1;
	if (fr_unlikely(release) && pend_add(x, in, in->nodeid, 0, 0, *fh, NULL,
					     0, NULL, 0))
		return -1;
	if (fr_likely(in->nodeid))
		in->nodeid = srv;
	if (fh && fr_likely(*fh))
		*fh = srv_fh;
	if (fr_likely(!note && !release))
		tls_plain = in->unique;
	return XL_PASS;
}

int fr_xlate_request(struct fr_session *s, int fd, void *buf, size_t *n)
{
	struct fr_xlate *x = s->xlate;
	struct fuse_in_header *in = buf;
	void *arg = in + 1;
	size_t alen = *n - sizeof(*in);
	uint64_t kid = in->nodeid, srv, *fh, dir_kfh = 0;
	int err = 0;

	switch (in->opcode) {
	case FUSE_FORGET:
		return do_forget(x, in, *n);
	case FUSE_BATCH_FORGET:
		return do_batch_forget(x, in, n);
	case FUSE_INTERRUPT: case FUSE_DESTROY: case FUSE_INIT:
		return XL_PASS;
	}
	if (!op_is(in->opcode, OP_KNOWN)) {
		warn_op(x, in->opcode);
		answer(fd, in->unique, ENOSYS);
		return XL_DONE;
	}

	fh = fh_field(in->opcode, arg, alen);
	if (fh && (in->opcode == FUSE_RELEASE || in->opcode == FUSE_RELEASEDIR ||
		   in->opcode == FUSE_FLUSH)) {
		struct xl_handle *f = fr_idmap_handle(s->xlate->map, *fh);

		/* Closing what this run never opened: nothing to tell it. */
		if (!f || !fr_idmap_handle_current(x->map, f)) {
			if (f && in->opcode != FUSE_FLUSH) {
				fr_idmap_lock(x->map);
				fr_idmap_handle_free(x->map, f);
				fr_idmap_unlock(x->map);
			}
			answer(fd, in->unique, 0);
			return XL_DONE;
		}
	}
	/* Open handles reopen on use; their node is resolved on the way. */
	if (fh) {
		uint64_t kfh = *fh;

		if (in->opcode == FUSE_READDIR || in->opcode == FUSE_READDIRPLUS)
			dir_kfh = kfh;

		err = translate_fh(x, fh);
		if (err)
			goto fail;
		if (in->opcode == FUSE_RELEASE || in->opcode == FUSE_RELEASEDIR ||
		    dir_kfh) {
			err = pend_add(x, in, kid, 0, 0, kfh, NULL, 0, NULL, 0);
			if (err)
				goto fail;
		}
	}
	if (in->opcode == FUSE_COPY_FILE_RANGE) {
		struct fuse_copy_file_range_in *c = arg;

		if (alen < sizeof(*c)) {
			err = -EINVAL;
			goto fail;
		}
		err = node_srv(x, c->nodeid_out, in, &c->nodeid_out);
		if (!err)
			err = translate_fh(x, &c->fh_out);
		if (err)
			goto fail;
	}
	if (in->opcode == FUSE_LINK) {
		struct fuse_link_in *l = arg;

		if (alen < sizeof(*l)) {
			err = -EINVAL;
			goto fail;
		}
		err = node_srv(x, l->oldnodeid, in, &l->oldnodeid);
		if (err)
			goto fail;
	}
	err = note_request(x, in, arg, alen);
	if (err)
		goto fail;
	if (in->opcode == FUSE_RENAME || in->opcode == FUSE_RENAME2) {
		struct fuse_rename_in *r = arg;

		err = node_srv(x, r->newdir, in, &r->newdir);
		if (err)
			goto drop;
	}
	if (kid) {
		err = node_srv(x, kid, in, &srv);
		if (err)
			goto drop;
		in->nodeid = srv;
	}
	if (dir_kfh && alen >= sizeof(struct fuse_read_in)) {
		err = remap_offset(x, in, dir_kfh, arg);
		if (err)
			goto drop;
	}
	return XL_PASS;
drop:
	pend_free(pend_take(x, in->unique));
fail:
	answer(fd, in->unique, -err);
	return XL_DONE;
}

/* ---- replies ---- */

/* Give the kernel its id for the entry the server returned. */
static FR_HOT int entry_out(struct fr_xlate *x, struct fuse_entry_out *e,
		     uint64_t parent, const char *name, size_t len)
{
	struct fr_idmap *m = x->map;
	struct fr_idmap_ident id = { .srv = e->nodeid, .ino = e->attr.ino,
				     .generation = e->generation,
				     .mode = e->attr.mode };
	struct xl_node *n;
	int err = 0;

	if (!e->nodeid)
		return 0; /* negative entry */
	fr_idmap_lock(m);
	n = fr_idmap_by_srv(m, e->nodeid);
	/* A node of an earlier run the kernel revalidates by name. */
	if (!n && len && !fr_idmap_all_current(m)) {
		n = fr_idmap_find_name(m, parent, name, len);
		if (n && (fr_idmap_current(m, n) || !same_object(n, e)))
			n = NULL;
		if (n)
			err = fr_idmap_bind(m, n, e->nodeid);
	}
	if (!n && !err)
		err = fr_idmap_node_new(m, &id, &n);
	if (err) {
		fr_idmap_unlock(m);
		return err;
	}
	n->nlookup++;
	n->srv_nlookup++;
	/*
	 * One name per node: a hard link keeps the name it was found by.
	 * The parent says so from the record's first line, the one the
	 * counts are on (the name itself is on the next).
	 */
	if (len && !is_dot(name, len) && n != fr_idmap_node(m, XL_ROOT)) {
		if (!fr_idmap_named(n))
			fr_idmap_set_name(m, n, parent, name, len);
		fr_idmap_seen(m, n, parent, name, len);
	}
	e->nodeid = fr_idmap_node_id(m, n);
	fr_idmap_unlock(m);
	/* The kernel caches it from this reply on: a target for a kick. */
	if (S_ISREG(e->attr.mode))
		fr_kick_seen(e->nodeid);
	return 0;
}

static FR_HOT int open_out(struct fr_xlate *x, const struct xl_pending *p,
		    uint64_t node, struct fuse_open_out *o)
{
	struct fr_idmap *m = x->map;
	struct xl_handle *f;
	uint64_t kfh;
	int err;

	fr_idmap_lock(m);
	err = fr_idmap_handle_new(m, &f, &kfh);
	if (!err) {
		f->node = node;
		f->flags = p->flags;
		f->uid = p->uid;
		f->gid = p->gid;
		f->pid = p->pid;
		f->dir = p->opcode == FUSE_OPENDIR;
		fr_idmap_handle_bind(m, f, o->fh);
		o->fh = kfh;
	}
	fr_idmap_unlock(m);
	return err;
}

static FR_HOT void names_changed(struct fr_xlate *x, const struct xl_pending *p)
{
	struct fr_idmap *m = x->map;
	const char *n1 = p->names, *n2 = p->names + p->len1;
	struct xl_node *from, *to;

	fr_idmap_lock(m);
	if (p->opcode == FUSE_UNLINK || p->opcode == FUSE_RMDIR) {
		fr_idmap_unname_by(m, p->node, n1, p->len1);
		goto out;
	}
	from = fr_idmap_find_name(m, p->node, n1, p->len1);
	to = fr_idmap_find_name(m, p->node2, n2, p->len2);
	if (p->flags & RENAME_EXCHANGE) {
		if (to)
			fr_idmap_set_name(m, to, p->node, n1, p->len1);
	} else if (to && to != from) {
		fr_idmap_unname(m, to);
	}
	if (from)
		fr_idmap_set_name(m, from, p->node2, n2, p->len2);
out:
	fr_idmap_unlock(m);
}

static void readdirplus_out(struct fr_xlate *x, const struct xl_pending *p,
			    char *buf, size_t len)
{
	size_t off = 0;

	while (off + FUSE_NAME_OFFSET_DIRENTPLUS <= len) {
		struct fuse_direntplus *d = (void *)(buf + off);
		size_t reclen = FUSE_DIRENTPLUS_SIZE(d);

		if (off + reclen > len || d->dirent.namelen > len)
			break;
		if (d->entry_out.nodeid) {
			uint64_t srv = d->entry_out.nodeid;

			if (is_dot(d->dirent.name, d->dirent.namelen)) {
				d->entry_out.nodeid = 0; /* the kernel skips them */
			} else if (entry_out(x, &d->entry_out, p->node,
					     d->dirent.name,
					     d->dirent.namelen) < 0) {
				d->entry_out.nodeid = 0;
				synth_forget(x, srv, 1);
			}
		}
		off += reclen;
	}
}

static ssize_t gather(const struct iovec *iov, int count, char **out)
{
	size_t len = 0, off = 0;
	int i;

	for (i = 0; i < count; i++)
		len += iov[i].iov_len;
	*out = malloc(len ? len : 1);
	if (!*out)
		return -1;
	for (i = 0; i < count; i++) {
		memcpy(*out + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	return len;
}

/* The reply failed here: tell the server to drop what it handed out. */
static FR_COLD void undo_reply(struct fr_xlate *x, const struct xl_pending *p,
		       const struct fuse_entry_out *e,
		       const struct fuse_open_out *o)
{
	if (o)
		synth_release(x, e ? e->nodeid : p->node, o->fh,
			      p->opcode == FUSE_OPENDIR, p->flags);
	if (e && e->nodeid)
		synth_forget(x, e->nodeid, 1);
}


/*
 * A request the kernel resent failed as if its first attempt had done it
 * (EEXIST for a create, ENOENT for a removal or rename).  Whether it had
 * cannot be known from outside the dead server; what can be known is
 * whether the object changed after that first attempt was read.  Only
 * then is the error taken for "done" and answered as success, so a
 * genuine error of a tree nobody touched since stays an error.  The
 * kernel stamps times from a clock that may lag by a tick, and the read
 * time is taken from one that does (CLOCK_REALTIME_COARSE, cheaper).
 */
#define XL_TIME_SLACK_NS 20000000LL

static bool changed_since(const struct fuse_attr *a, int64_t t0)
{
	int64_t c = (int64_t)a->ctime * 1000000000LL + a->ctimensec;
	int64_t m = (int64_t)a->mtime * 1000000000LL + a->mtimensec;

	return c >= t0 - XL_TIME_SLACK_NS || m >= t0 - XL_TIME_SLACK_NS;
}

static bool is_own(const struct xl_pending *p, const struct fuse_entry_out *e)
{
	uint32_t type = e->attr.mode & S_IFMT;

	switch (p->opcode) {
	case FUSE_MKDIR:
		return type == S_IFDIR && e->attr.uid == p->uid;
	case FUSE_MKNOD:
		return type == (p->flags & S_IFMT) && e->attr.uid == p->uid;
	case FUSE_SYMLINK:
		return type == S_IFLNK && e->attr.uid == p->uid;
	}
	return false;
}

static FR_COLD int lookup_srv(struct fr_xlate *x, const struct xl_pending *p,
		      uint64_t kdir, const char *name, size_t len,
		      struct fuse_entry_out *e)
{
	struct xl_node *dir = fr_idmap_node(x->map, kdir);
	char buf[XL_LONGNAME_MAX + 1];
	struct xl_synth sy;
	int err;

	if (!dir || !fr_idmap_current(x->map, dir) || len > XL_LONGNAME_MAX)
		return -ESTALE;
	memcpy(buf, name, len);
	buf[len] = '\0';
	err = synth_call(x, FUSE_LOOKUP, dir->srv_id, p->uid, p->gid, p->pid,
			 buf, len + 1, NULL, 0, &sy);
	if (err)
		return err;
	if (sy.len < sizeof(*e))
		return -EIO;
	memcpy(e, sy.reply, sizeof(*e));
	return e->nodeid ? 0 : -ENOENT;
}

static FR_COLD ssize_t answer_done(int fd, const struct xl_pending *p, const void *body,
			   size_t len)
{
	char buf[sizeof(struct fuse_out_header) + sizeof(struct fuse_entry_out)];
	struct fuse_out_header *h = (void *)buf;

	h->len = sizeof(*h) + len;
	h->error = 0;
	h->unique = p->unique;
	if (len)
		memcpy(h + 1, body, len);
	fr_log(LOG_INFO,
	       "resent request %llu (opcode %u) was done by the server that died: answered success",
	       (unsigned long long)(p->unique & ~FR_UNIQUE_RESEND), p->opcode);
	return write(fd, buf, h->len);
}

/* Returns what it wrote, or 0 when the error stands. */
static FR_COLD ssize_t judge_resent(struct fr_xlate *x, int fd,
			    const struct xl_pending *p, int err)
{
	const char *n1 = p->names, *n2 = p->names + p->len1;
	struct fuse_entry_out e;
	bool done = false;

	switch (p->opcode) {
	case FUSE_MKDIR: case FUSE_MKNOD: case FUSE_SYMLINK: case FUSE_LINK:
		if (err != -EEXIST || lookup_srv(x, p, p->node, n1, p->len1, &e))
			return 0;
		if (p->opcode == FUSE_LINK) {
			struct xl_node *old;

			fr_idmap_lock(x->map);
			old = fr_idmap_by_srv(x->map, p->node2);
			done = old && old->ino == e.attr.ino;
			fr_idmap_unlock(x->map);
		} else {
			done = is_own(p, &e);
		}
		done = done && changed_since(&e.attr, p->t0);
		if (!done || entry_out(x, &e, p->node, n1, p->len1) < 0) {
			synth_forget(x, e.nodeid, 1);
			return 0;
		}
		return answer_done(fd, p, &e, sizeof(e));
	case FUSE_UNLINK: case FUSE_RMDIR: {
		struct xl_node *dir = fr_idmap_node(x->map, p->node);
		struct fuse_getattr_in g = { 0 };
		struct fuse_attr_out a;
		struct xl_synth sy;

		if (err != -ENOENT || !dir || !fr_idmap_current(x->map, dir) ||
		    synth_call(x, FUSE_GETATTR, dir->srv_id, p->uid, p->gid,
			       p->pid, &g, sizeof(g), NULL, 0, &sy) ||
		    sy.len < sizeof(a))
			return 0;
		memcpy(&a, sy.reply, sizeof(a));
		if (!changed_since(&a.attr, p->t0))
			return 0;
		break;
	}
	case FUSE_RENAME: case FUSE_RENAME2:
		if (err != -ENOENT || (p->flags & RENAME_EXCHANGE) ||
		    lookup_srv(x, p, p->node2, n2, p->len2, &e))
			return 0;
		done = changed_since(&e.attr, p->t0);
		synth_forget(x, e.nodeid, 1);
		if (!done)
			return 0;
		break;
	default:
		return 0;
	}
	names_changed(x, p);
	return answer_done(fd, p, NULL, 0);
}

static FR_HOT ssize_t reply_pending(struct fr_xlate *x, int fd,
			     struct xl_pending *p, const struct iovec *iov,
			     int count)
{
	struct fuse_out_header *h;
	struct fuse_entry_out *e = NULL;
	struct fuse_open_out *o = NULL;
	struct iovec one;
	char *buf = NULL, *b;
	ssize_t len, ret;
	size_t body;
	int err = 0;

	/*
	 * libfuse sends a header and one body; entry, open and create
	 * bodies are its own locals, edited in place.  A READDIRPLUS body
	 * is the server's buffer, which high-level libfuse keeps as its
	 * directory cache: that one is edited in a copy.
	 */
	if (count == 1 && iov[0].iov_len == sizeof(*h)) {
		/* An error, or an empty reply. */
		h = iov[0].iov_base;
		b = (char *)(h + 1);
		body = 0;
		len = sizeof(*h);
	} else if (count == 2 && iov[0].iov_len == sizeof(*h) &&
		   p->opcode != FUSE_READDIRPLUS) {
		h = iov[0].iov_base;
		b = iov[1].iov_base;
		body = iov[1].iov_len;
		len = sizeof(*h) + body;
	} else {
		len = gather(iov, count, &buf);
		if (len < (ssize_t)sizeof(*h)) {
			free(buf);
			return writev(fd, iov, count);
		}
		h = (void *)buf;
		b = buf + sizeof(*h);
		body = len - sizeof(*h);
	}
	if (h->error && p->judge) {
		ret = judge_resent(x, fd, p, h->error);
		if (ret) {
			free(buf);
			return ret < 0 ? ret : len;
		}
	}
	if (h->error)
		goto send;
	switch (p->opcode) {
	case FUSE_LOOKUP: case FUSE_MKNOD: case FUSE_MKDIR: case FUSE_SYMLINK:
	case FUSE_LINK:
		if (body >= sizeof(*e)) {
			struct fuse_entry_out copy;

			e = (void *)b;
			copy = *e;
			err = entry_out(x, e, p->node, p->names, p->len1);
			if (err)
				undo_reply(x, p, &copy, NULL);
		}
		break;
	case FUSE_CREATE: case FUSE_TMPFILE:
		if (body >= sizeof(*e) + sizeof(*o)) {
			struct fuse_entry_out ecopy;
			struct fuse_open_out ocopy;

			e = (void *)b;
			o = (void *)(e + 1);
			ecopy = *e;
			ocopy = *o;
			err = entry_out(x, e, p->node, p->names, p->len1);
			if (!err)
				err = open_out(x, p, e->nodeid, o);
			if (err)
				undo_reply(x, p, &ecopy, &ocopy);
		}
		break;
	case FUSE_OPEN: case FUSE_OPENDIR:
		if (body >= sizeof(*o)) {
			struct fuse_open_out ocopy;

			o = (void *)b;
			ocopy = *o;
			err = open_out(x, p, p->node, o);
			if (err)
				undo_reply(x, p, NULL, &ocopy);
		}
		break;
	case FUSE_READDIRPLUS:
		readdirplus_out(x, p, b, body);
		dir_note(x, p, b, body);
		break;
	case FUSE_READDIR:
		dir_note(x, p, b, body);
		break;
	case FUSE_RENAME: case FUSE_RENAME2: case FUSE_UNLINK: case FUSE_RMDIR:
		names_changed(x, p);
		break;
	}
send:
	if (p->opcode == FUSE_RELEASE || p->opcode == FUSE_RELEASEDIR) {
		struct xl_handle *f = fr_idmap_handle(x->map, p->kfh);

		if (f) {
			fr_idmap_lock(x->map);
			fr_idmap_handle_free(x->map, f);
			fr_idmap_unlock(x->map);
		}
	}
	if (err) {
		h->error = err;
		h->len = sizeof(*h);
		one.iov_base = h;
		one.iov_len = sizeof(*h);
		ret = writev(fd, &one, 1);
	} else if (buf) {
		one.iov_base = buf;
		one.iov_len = len;
		ret = writev(fd, &one, 1);
	} else {
		ret = writev(fd, iov, count);
	}
	free(buf);
	return ret;
}

/* Notifications name nodes too; one the kernel never got is dropped. */
static FR_COLD ssize_t notify_out(struct fr_xlate *x, int fd, const struct iovec *iov,
			  int count)
{
	struct fr_idmap *m = x->map;
	struct fuse_out_header *h;
	uint64_t *ids[2] = { NULL, NULL };
	struct iovec one;
	char *buf;
	ssize_t len = gather(iov, count, &buf), ret;
	size_t body;
	bool drop = false;
	int i;

	if (len < (ssize_t)sizeof(*h)) {
		free(buf);
		errno = EINVAL;
		return -1;
	}
	h = (void *)buf;
	body = len - sizeof(*h);
	switch (h->error) {
	case FUSE_NOTIFY_POLL: case FUSE_NOTIFY_RESEND:
		break;
	case FUSE_NOTIFY_INVAL_INODE:
	case FUSE_NOTIFY_INVAL_ENTRY:
	case FUSE_NOTIFY_STORE:
		if (body >= 8)
			ids[0] = (uint64_t *)(h + 1);
		break;
	case FUSE_NOTIFY_RETRIEVE:
		if (body >= 16)
			ids[0] = (uint64_t *)(h + 1) + 1;
		break;
	case FUSE_NOTIFY_DELETE:
		if (body >= 16) {
			ids[0] = (uint64_t *)(h + 1);
			ids[1] = ids[0] + 1;
		}
		break;
	default:
		fr_log(LOG_ERR,
		       "notification %d is not known to the translation layer: refused",
		       h->error);
		free(buf);
		errno = EINVAL;
		return -1;
	}
	fr_idmap_lock(m);
	for (i = 0; i < 2; i++) {
		struct xl_node *n;

		if (!ids[i])
			continue;
		n = fr_idmap_by_srv(m, *ids[i]);
		if (n)
			*ids[i] = fr_idmap_node_id(m, n);
		else
			drop = true;
	}
	fr_idmap_unlock(m);
	if (drop) {
		bool data = h->error == FUSE_NOTIFY_RETRIEVE ||
			    h->error == FUSE_NOTIFY_STORE;

		free(buf);
		/* The kernel has no such node: nothing to invalidate. */
		if (!data)
			return len;
		errno = ENOENT;
		return -1;
	}
	one.iov_base = buf;
	one.iov_len = len;
	ret = writev(fd, &one, 1);
	free(buf);
	return ret;
}

FR_HOT ssize_t fr_xlate_reply(struct fr_session *s, int fd, struct iovec *iov,
		       int count)
{
	struct fr_xlate *x = s->xlate;
	const struct fuse_out_header *h = iov[0].iov_base;
	struct xl_pending *p;
	ssize_t ret;

	if (count < 1 || iov[0].iov_len < sizeof(*h) ||
	    fr_likely(h->unique == tls_plain && h->unique))
		return writev(fd, iov, count);
	if (h->unique & XL_SYNTH) {
		size_t len = 0;
		int i;

		synth_deliver(x, iov, count);
		for (i = 0; i < count; i++)
			len += iov[i].iov_len;
		return len;
	}
	if (h->unique == 0)
		return notify_out(x, fd, iov, count);
	p = pend_take(x, h->unique);
	if (!p)
		return writev(fd, iov, count);
	ret = reply_pending(x, fd, p, iov, count);
	pend_free(p);
	return ret;
}

int fr_xlate_start(struct fr_session *s)
{
	struct fr_xlate *x;
	int fd, err, ret;
	bool kept = false;

	if (s->xlate)
		return 0;
	if (s->recovered && fr_kept_fd(FR_KEEP_STATE, FR_KEY_STORE) >= 0) {
		fr_log(LOG_ERR,
		       "the previous server kept its ids in a state store and this one does not open it: refusing to take over");
		return -EPROTO;
	}
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->s = s;
	pthread_mutex_init(&x->resolve_lock, NULL);
	pthread_mutex_init(&x->plock, NULL);
	pthread_mutex_init(&x->slock, NULL);
	pthread_cond_init(&x->scond, NULL);
	fd = s->recovered ? fr_kept_fd(FR_KEEP_STATE, FR_KEY_IDMAP) : -ENOENT;
	if (fd >= 0) {
		kept = true;
		/* As a state store's: a map that may shrink is not mapped. */
		if (fr_state_sealable() && !fr_seal_size(fd)) {
			fr_log(LOG_ERR,
			       "id map of the previous server cannot be sealed: refused");
			err = -EBADMSG;
			goto fail;
		}
	} else {
		if (s->recovered)
			fr_log(LOG_WARNING,
			       "the previous server left no id map: node ids it gave out are stale");
		fd = fr_state_memfd("fuse-recover-ids");
		if (fd < 0) {
			err = fd;
			goto fail;
		}
	}
	ret = fr_idmap_open(fd, XL_DEFAULT_NODES, XL_DEFAULT_HANDLES, &x->map);
	if (ret >= 0 && !kept && fr_state_sealable() && !fr_seal_size(fd)) {
		fr_idmap_close(x->map);
		ret = -EBADMSG;
	}
	if (ret < 0) {
		err = ret;
		fr_log(LOG_ERR, "id map of the previous server refused: %s",
		       strerror(-err));
		if (!kept)
			close(fd);
		goto fail;
	}
	if (!kept) {
		err = fr_keep_fd(fd, FR_KEEP_STATE, FR_KEY_IDMAP);
		close(fd);
		if (err) {
			fr_log(LOG_ERR, "cannot keep the id map: %s",
			       strerror(-err));
			fr_idmap_close(x->map);
			goto fail;
		}
	}
	s->xlate = x;
	fr_kick_from_entries(true);
	return 0;
fail:
	pthread_mutex_destroy(&x->resolve_lock);
	pthread_mutex_destroy(&x->plock);
	pthread_mutex_destroy(&x->slock);
	pthread_cond_destroy(&x->scond);
	free(x);
	return err;
}

/* Live upgrade rolled back: see fr_idmap_new_epoch(). */
void fr_xlate_resync(struct fr_session *s)
{
	if (s->xlate)
		fr_idmap_new_epoch(s->xlate->map);
}

void fr_xlate_stop(struct fr_session *s)
{
	struct fr_xlate *x = s->xlate;
	size_t i;

	if (!x)
		return;
	s->xlate = NULL;
	fr_kick_from_entries(false);
	for (i = 0; i < XL_PEND_SLOTS; i++)
		if (x->slot[i].unique)
			free(x->slot[i].p);
	for (i = 0; i < XL_PEND_BUCKETS; i++) {
		while (x->pend[i]) {
			struct xl_pending *p = x->pend[i];

			x->pend[i] = p->next;
			free(p);
		}
	}
	fr_idmap_close(x->map);
	pthread_mutex_destroy(&x->resolve_lock);
	pthread_mutex_destroy(&x->plock);
	pthread_mutex_destroy(&x->slock);
	pthread_cond_destroy(&x->scond);
	free(x);
}
