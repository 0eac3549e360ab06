// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The id map of the translation layer: which kernel node id and which
 * kernel file handle stand for which object of which server run.
 *
 * It lives in a memfd the supervisor (or, on the kernel path, a linked
 * tmpfile) keeps, so the next server run finds every id the kernel still
 * uses.  A restart maps it and bumps the epoch: nothing is scanned, every
 * record of an earlier run is recognised as stale by its epoch and resolved
 * again on first use (xlate.c).
 *
 * Crash consistency without a log: a record is claimed by one atomic store
 * of its state word, filled, and only then handed to the kernel (the reply
 * carrying its id is written after).  Counts are raised before the kernel
 * learns of a lookup and lowered after the kernel gives one up, so SIGKILL
 * at any instruction leaves at worst a count one too high or a claimed
 * record nobody names: a leak, never a wrong id.  Names may be torn by a
 * kill in the middle of a rename; resolution checks the object's identity,
 * so a torn name yields ESTALE, never another file.
 *
 * Writers serialise on a process-local mutex; the request path only does
 * acquire loads.
 */
#include "idmap.h"
#include "fuse_recover_i.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#define XL_MAGIC 0x31544c5852524628ull /* "(FRRXLT1" */
/*
 * 2: directory offsets (xl_dirpos) after the first reads.  3: the node's
 * name length and the start of its name on its first line, the identity
 * at the end.
 */
#define XL_VERSION 3
#define XL_PAGE 4096ull
/* Probes before the name index gives up (a node then cannot be renamed
 * or re-resolved: ESTALE, never a wrong answer). */
#define XL_PROBES 64
#define XL_EMPTY 0ull
#define XL_TOMB (~0ull)
#define XL_IDX_BITS 40

struct xl_header {
	uint64_t magic;
	uint32_t version, header_size;
	uint32_t node_size, handle_size, name_size, pad;
	uint64_t max_nodes, max_handles, max_names, index_slots;
	uint64_t size;
	_Atomic uint64_t epoch;
	_Atomic uint64_t node_hint, handle_hint, name_hint;
};

/* When a non-idempotent request was first read (xlate.c judges resends). */
struct xl_read {
	_Atomic uint64_t unique;
	_Atomic int64_t t_ns;
};
#define XL_READS 4096

_Static_assert(sizeof(struct xl_node) == 128, "a node record is two lines");
_Static_assert(offsetof(struct xl_node, name) + XL_NAME_LINE1 == 64,
	       "XL_NAME_LINE1 bytes of the name on the first line");

struct xl_longname {
	_Atomic uint64_t owner;	/* kernel id of the node, 0: free */
	char name[XL_LONGNAME_MAX];
};

struct fr_idmap_geom {
	uint64_t max_nodes, max_handles, max_names, index_slots;
	uint64_t max_dirpos;
	uint64_t off_nodes, off_handles, off_names, off_index, off_reads;
	uint64_t off_dirpos, size;
};

/*
 * Slots this process freed last, taken again first: a create after an
 * unlink reuses a record whose lines and page are still cached, where the
 * hint alone walks on into lines (and pages: a fault each) never touched.
 * Only a hint too, kept in process memory: a slot is free by its state
 * word, and a claim takes it by compare-and-swap as a scan would.  Deep
 * enough for a directory of a few thousand files removed and made again
 * (1024 left the rest of such a batch to the hint: fresh lines and a page
 * fault every 32 records); 32 KiB each, its pages touched only as used.
 */
#define XL_RECENT 8192
struct xl_recent {
	uint32_t n;
	uint32_t idx[XL_RECENT];
};

struct srv_slot {
	uint64_t srv;
	uint64_t kid;
};

/*
 * The nodes whose names the kernel was given last, by a hash of parent
 * and name, in process memory.  An UNLINK or RMDIR names a node a LOOKUP
 * has just returned: found here, its name index entry (a cache miss each:
 * the entries are spread over megabytes of shared memory) is not read
 * but left behind, to be taken over by the next insert that meets it
 * (entry_stale()).  A hint only: what it holds is checked.
 */
#define XL_SEEN 256	/* the top byte of seen_slot()'s hash */

/*
 * Every request's look-ups read the first cache line (the struct is
 * allocated on one): a line missed costs more than the look-up.
 */
struct fr_idmap {
	struct xl_node *nodes;
	struct xl_handle *handles;
	uint64_t epoch;
	uint64_t max_nodes, max_handles;	/* g's, here for the line */
	/* server id -> kernel id, this run only (process memory) */
	struct srv_slot *srv;
	size_t srv_cap;
	_Atomic uint64_t *index;
	pthread_mutex_t lock;
	uint64_t index_mask;
	size_t srv_used, srv_tombs;
	bool all_current;		/* no record of an earlier run */
	struct xl_recent recent_nodes, recent_handles;
	uint32_t seen[XL_SEEN];		/* node slot, 0: none */
	void *map;
	struct fr_idmap_geom g;		/* validated, private */
	struct xl_header *h;
	struct xl_longname *names;
	struct xl_read *reads;
	struct xl_dirpos *dirpos;
};

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static int geometry(uint64_t max_nodes, uint64_t max_handles,
		    struct fr_idmap_geom *g)
{
	uint64_t off;

	if (max_nodes < 2 || max_nodes > XL_MAX_NODES || max_handles < 2 ||
	    max_handles > XL_MAX_HANDLES)
		return -EINVAL;
	g->max_nodes = max_nodes;
	g->max_handles = max_handles;
	g->max_names = max_nodes / 16 + 16;
	g->index_slots = 1;
	while (g->index_slots < 2 * max_nodes)
		g->index_slots <<= 1;
	off = align_up(sizeof(struct xl_header), XL_PAGE);
	g->off_nodes = off;
	off = align_up(off + max_nodes * sizeof(struct xl_node), XL_PAGE);
	g->off_handles = off;
	off = align_up(off + max_handles * sizeof(struct xl_handle), XL_PAGE);
	g->off_names = off;
	off = align_up(off + g->max_names * sizeof(struct xl_longname), XL_PAGE);
	g->off_index = off;
	off = align_up(off + g->index_slots * sizeof(uint64_t), XL_PAGE);
	g->off_reads = off;
	off = align_up(off + XL_READS * sizeof(struct xl_read), XL_PAGE);
	/*
	 * Only directories being read need a slot (4 KiB, touched only when
	 * used); one no slot is left for continues with the offsets as they
	 * are.
	 */
	g->max_dirpos = max_handles / 1024 + 64;
	g->off_dirpos = off;
	off = align_up(off + g->max_dirpos * sizeof(struct xl_dirpos), XL_PAGE);
	g->size = off;
	return 0;
}

/* A header read from another process's memory: trust nothing in it. */
static int check_header(const struct xl_header *h, uint64_t file_size,
			struct fr_idmap_geom *g)
{
	struct xl_header c;

	memcpy(&c, h, sizeof(c));
	if (c.magic != XL_MAGIC || c.version != XL_VERSION ||
	    c.header_size != sizeof(struct xl_header) ||
	    c.node_size != sizeof(struct xl_node) ||
	    c.handle_size != sizeof(struct xl_handle) ||
	    c.name_size != sizeof(struct xl_longname))
		return -EPROTO;
	if (geometry(c.max_nodes, c.max_handles, g) ||
	    g->max_names != c.max_names || g->index_slots != c.index_slots ||
	    g->size != c.size || file_size < g->size)
		return -EBADMSG;
	return 0;
}

static void set_pointers(struct fr_idmap *m)
{
	char *b = m->map;

	m->h = m->map;
	m->nodes = (struct xl_node *)(b + m->g.off_nodes);
	m->handles = (struct xl_handle *)(b + m->g.off_handles);
	m->names = (struct xl_longname *)(b + m->g.off_names);
	m->index = (_Atomic uint64_t *)(b + m->g.off_index);
	m->reads = (struct xl_read *)(b + m->g.off_reads);
	m->dirpos = (struct xl_dirpos *)(b + m->g.off_dirpos);
	m->max_nodes = m->g.max_nodes;
	m->max_handles = m->g.max_handles;
	m->index_mask = m->g.index_slots - 1;
}

static void init_header(struct fr_idmap *m)
{
	struct xl_header *h = m->h;

	h->version = XL_VERSION;
	h->header_size = sizeof(*h);
	h->node_size = sizeof(struct xl_node);
	h->handle_size = sizeof(struct xl_handle);
	h->name_size = sizeof(struct xl_longname);
	h->max_nodes = m->g.max_nodes;
	h->max_handles = m->g.max_handles;
	h->max_names = m->g.max_names;
	h->index_slots = m->g.index_slots;
	h->size = m->g.size;
	/* The root: kernel id 1 is always the server's id 1. */
	m->nodes[XL_ROOT].state = 1;
	m->nodes[XL_ROOT].srv_id = 1;
	m->nodes[XL_ROOT].mode = S_IFDIR;
	__atomic_store_n(&h->magic, XL_MAGIC, __ATOMIC_RELEASE);
}

int fr_idmap_open(int fd, uint64_t max_nodes, uint64_t max_handles,
		  struct fr_idmap **mp)
{
	struct fr_idmap *m;
	struct stat sb;
	bool fresh;
	int err;

	if (posix_memalign((void **)&m, 64, sizeof(*m)))
		return -ENOMEM;
	memset(m, 0, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
	if (fstat(fd, &sb) < 0) {
		err = -errno;
		goto fail;
	}
	fresh = sb.st_size == 0;
	if (fresh) {
		err = geometry(max_nodes, max_handles, &m->g);
		if (err)
			goto fail;
		if (ftruncate(fd, m->g.size) < 0) {
			err = -errno;
			goto fail;
		}
	} else {
		struct xl_header h;

		if (sb.st_size < (off_t)sizeof(h) ||
		    pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
			err = -EBADMSG;
			goto fail;
		}
		err = check_header(&h, sb.st_size, &m->g);
		if (err)
			goto fail;
	}
	m->map = mmap(NULL, m->g.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		      0);
	if (m->map == MAP_FAILED) {
		err = -errno;
		goto fail;
	}
	set_pointers(m);
	if (fresh) {
		/*
		 * The name index is written at random places: untouched, its
		 * pages would cost the server a fault (and a zeroed page) on
		 * most creates for the first few thousand.  One call maps them
		 * all at once (Linux 5.14+; older kernels just fault).
		 */
		madvise((char *)m->map + m->g.off_index,
			m->g.index_slots * sizeof(uint64_t),
			MADV_POPULATE_WRITE);
		init_header(m);
	}
	/* Every id handed out before this point belongs to an earlier run. */
	m->epoch = atomic_fetch_add_explicit(&m->h->epoch, 1,
						  __ATOMIC_ACQ_REL) + 1;
	atomic_store_explicit(&m->nodes[XL_ROOT].srv_epoch, m->epoch,
			 __ATOMIC_RELEASE);
	m->all_current = fresh;
	*mp = m;
	return fresh ? 0 : 1;
fail:
	pthread_mutex_destroy(&m->lock);
	free(m);
	return err;
}

void fr_idmap_close(struct fr_idmap *m)
{
	if (!m)
		return;
	munmap(m->map, m->g.size);
	free(m->srv);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/*
 * This process starts a new run on the map it has open (live upgrade
 * rolled back: a successor served meanwhile and rebound ids to its own
 * process).  Every id of an earlier run, this process's included, is then
 * resolved again on first use, as after a restart.
 */
void fr_idmap_new_epoch(struct fr_idmap *m)
{
	pthread_mutex_lock(&m->lock);
	m->epoch = atomic_fetch_add_explicit(&m->h->epoch, 1,
					     __ATOMIC_ACQ_REL) + 1;
	atomic_store_explicit(&m->nodes[XL_ROOT].srv_epoch, m->epoch,
			      __ATOMIC_RELEASE);
	free(m->srv);
	m->srv = NULL;
	m->srv_cap = m->srv_used = m->srv_tombs = 0;
	m->all_current = false;
	pthread_mutex_unlock(&m->lock);
}

uint64_t fr_idmap_epoch(const struct fr_idmap *m)
{
	return m->epoch;
}

FR_HOT void fr_idmap_lock(struct fr_idmap *m)
{
	pthread_mutex_lock(&m->lock);
}

FR_HOT void fr_idmap_unlock(struct fr_idmap *m)
{
	pthread_mutex_unlock(&m->lock);
}

/* --- kernel ids: slot index in the low 32 bits, generation above --- */

static FR_HOT uint64_t make_id(uint64_t idx, uint64_t state)
{
	return (state >> 1) << 32 | idx;
}

FR_HOT struct xl_node *fr_idmap_node(struct fr_idmap *m, uint64_t kid)
{
	uint64_t idx = kid & 0xffffffffu, state;
	struct xl_node *n;

	if (kid == XL_ROOT)
		return &m->nodes[XL_ROOT];
	if (idx <= XL_ROOT || idx >= m->max_nodes)
		return NULL;
	n = &m->nodes[idx];
	state = atomic_load_explicit(&n->state, __ATOMIC_ACQUIRE);
	if (!(state & 1) || make_id(idx, state) != kid)
		return NULL;
	return n;
}

FR_HOT uint64_t fr_idmap_node_id(struct fr_idmap *m, const struct xl_node *n)
{
	uint64_t idx = n - m->nodes;

	if (idx == XL_ROOT)
		return XL_ROOT;
	return make_id(idx, atomic_load_explicit(&n->state, __ATOMIC_ACQUIRE));
}

/*
 * Claim a free slot: state even (free) -> next generation, live.  The hint
 * makes the common case O(1); a full table costs one sweep and -ENFILE.
 */
static FR_HOT int64_t claim(_Atomic uint64_t *hint, uint64_t max, void *base,
		     size_t rec, uint64_t first)
{
	uint64_t start = atomic_load_explicit(hint, __ATOMIC_RELAXED), i;

	if (start < first || start >= max)
		start = first;
	for (i = 0; i < max - first; i++) {
		uint64_t idx = first + (start - first + i) % (max - first);
		_Atomic uint64_t *st =
			(_Atomic uint64_t *)((char *)base + idx * rec);
		uint64_t s = atomic_load_explicit(st, __ATOMIC_ACQUIRE);

		if (s & 1)
			continue;
		/* Generation 0 is never live, so no id is ever 0 << 32. */
		if (atomic_compare_exchange_strong_explicit(st, &s,
				((s >> 1) + 1) << 1 | 1, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED)) {
			atomic_store_explicit(hint, idx + 1, __ATOMIC_RELAXED);
			return idx;
		}
	}
	return -ENFILE;
}

static FR_HOT void release(_Atomic uint64_t *st)
{
	uint64_t s = atomic_load_explicit(st, __ATOMIC_ACQUIRE);

	atomic_store_explicit(st, s & ~1ull, __ATOMIC_RELEASE);
}

/* As claim(), from the slots freed last first; the caller holds the lock. */
static FR_HOT int64_t claim_recent(struct xl_recent *r, _Atomic uint64_t *hint,
				   uint64_t max, void *base, size_t rec,
				   uint64_t first)
{
	while (r->n) {
		uint64_t idx = r->idx[--r->n];
		_Atomic uint64_t *st =
			(_Atomic uint64_t *)((char *)base + idx * rec);
		uint64_t s = atomic_load_explicit(st, __ATOMIC_ACQUIRE);

		/* Taken by a scan since it was freed: try the next. */
		if (idx < first || idx >= max || (s & 1))
			continue;
		if (atomic_compare_exchange_strong_explicit(st, &s,
				((s >> 1) + 1) << 1 | 1, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED))
			return idx;
	}
	return claim(hint, max, base, rec, first);
}

static FR_HOT void release_recent(struct xl_recent *r, _Atomic uint64_t *st,
				  uint64_t idx)
{
	release(st);
	if (r->n < XL_RECENT)
		r->idx[r->n++] = idx;
}

/* --- names --- */

static FR_HOT uint64_t name_hash(uint64_t parent, const char *name, size_t len)
{
	uint64_t h = fr_hash(FR_HASH_INIT ^ parent, name, len);

	h ^= h >> 29;
	return h;
}

FR_HOT size_t fr_idmap_name(struct fr_idmap *m, const struct xl_node *n,
		     const char **name)
{
	size_t len = n->namelen;
	uint64_t slot;

	if (len <= XL_NAME_INLINE) {
		*name = n->name;
		return len;
	}
	memcpy(&slot, n->name, sizeof(slot));
	if (len > XL_LONGNAME_MAX || slot >= m->g.max_names ||
	    atomic_load_explicit(&m->names[slot].owner, __ATOMIC_ACQUIRE) !=
		    fr_idmap_node_id(m, n))
		return 0;
	*name = m->names[slot].name;
	return len;
}

/* A long-name slot belongs to the node whose kernel id it holds. */
static int64_t claim_name(struct fr_idmap *m, uint64_t owner)
{
	uint64_t start = atomic_load_explicit(&m->h->name_hint, __ATOMIC_RELAXED);
	uint64_t i, max = m->g.max_names;

	for (i = 0; i < max; i++) {
		uint64_t idx = (start + i) % max, free_ = 0;

		if (atomic_compare_exchange_strong_explicit(
				&m->names[idx].owner, &free_, owner,
				__ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED)) {
			atomic_store_explicit(&m->h->name_hint, idx + 1,
					 __ATOMIC_RELAXED);
			return idx;
		}
	}
	return -ENOSPC;
}

static FR_HOT bool name_is(struct fr_idmap *m, const struct xl_node *n,
		    uint64_t parent, const char *name, size_t len)
{
	const char *have;

	return n->parent == parent && fr_idmap_name(m, n, &have) == len &&
	       len && memcmp(have, name, len) == 0;
}

/* The record's name, once its index entry (if any) is gone. */
static FR_HOT void forget_name(struct fr_idmap *m, struct xl_node *n)
{
	uint64_t slot;

	if (n->namelen > XL_NAME_INLINE) {
		memcpy(&slot, n->name, sizeof(slot));
		if (slot < m->g.max_names)
			atomic_store_explicit(&m->names[slot].owner, 0,
					      __ATOMIC_RELEASE);
	}
	n->namelen = 0;
	n->parent = 0;
}

static FR_HOT void drop_name(struct fr_idmap *m, struct xl_node *n)
{
	uint64_t idx = n - m->nodes, i, h;
	const char *name;
	size_t len;

	/* The parent is set before the length and cleared after it. */
	if (!fr_idmap_named(n))
		return;
	len = fr_idmap_name(m, n, &name);
	if (len) {
		h = name_hash(n->parent, name, len);
		for (i = 0; i < XL_PROBES; i++) {
			_Atomic uint64_t *e =
				&m->index[(h + i) & m->index_mask];
			uint64_t v = atomic_load_explicit(e, __ATOMIC_ACQUIRE);

			if (v == XL_EMPTY)
				break;
			if (v != XL_TOMB && v >> XL_IDX_BITS == h >> 40 &&
			    (v & ((1ull << XL_IDX_BITS) - 1)) == idx) {
				atomic_store_explicit(e, XL_TOMB, __ATOMIC_RELEASE);
				break;
			}
		}
	}
	forget_name(m, n);
}

/*
 * An index entry whose node no longer carries the name it was made for:
 * unnamed through the seen hint, or freed, or named anew.  As free as a
 * tombstone.  Called for occupied entries an insert probes, rarely more
 * than one: the index is at most half full.
 */
static bool entry_stale(struct fr_idmap *m, uint64_t v)
{
	uint64_t idx = v & ((1ull << XL_IDX_BITS) - 1);
	const struct xl_node *n;
	const char *name;
	size_t len;

	if (idx >= m->max_nodes)
		return true;
	n = &m->nodes[idx];
	if (!(atomic_load_explicit(&n->state, __ATOMIC_ACQUIRE) & 1) ||
	    !fr_idmap_named(n))
		return true;
	len = fr_idmap_name(m, n, &name);
	return !len || name_hash(n->parent, name, len) >> 40 != v >> XL_IDX_BITS;
}

static FR_HOT int set_name(struct fr_idmap *m, struct xl_node *n, uint64_t parent,
		    const char *name, size_t len)
{
	uint64_t idx = n - m->nodes, h, i;

	drop_name(m, n);
	if (!len || len > XL_LONGNAME_MAX)
		return -ENAMETOOLONG;
	if (len <= XL_NAME_INLINE) {
		memcpy(n->name, name, len);
	} else {
		int64_t slot = claim_name(m, fr_idmap_node_id(m, n));

		if (slot < 0)
			return (int)slot;
		memcpy(m->names[slot].name, name, len);
		memcpy(n->name, &slot, sizeof(slot));
	}
	n->parent = parent;
	atomic_store_explicit(&n->namelen, len, __ATOMIC_RELEASE);
	h = name_hash(parent, name, len);
	for (i = 0; i < XL_PROBES; i++) {
		_Atomic uint64_t *e = &m->index[(h + i) & m->index_mask];
		uint64_t v = atomic_load_explicit(e, __ATOMIC_ACQUIRE);

		/* Its own entry, left behind when it lost this name. */
		if (v == ((h >> 40) << XL_IDX_BITS | idx))
			return 0;
		if (v == XL_EMPTY || v == XL_TOMB || entry_stale(m, v)) {
			atomic_store_explicit(e, (h >> 40) << XL_IDX_BITS | idx,
					 __ATOMIC_RELEASE);
			return 0;
		}
	}
	return -ENOSPC; /* named, but not findable by name */
}

/* The live node named @name in @parent, and its index entry in *@ep. */
static FR_HOT struct xl_node *find_name(struct fr_idmap *m, uint64_t parent,
					const char *name, size_t len,
					_Atomic uint64_t **ep)
{
	uint64_t h = name_hash(parent, name, len), i;

	for (i = 0; i < XL_PROBES; i++) {
		_Atomic uint64_t *e = &m->index[(h + i) & m->index_mask];
		uint64_t v = atomic_load_explicit(e, __ATOMIC_ACQUIRE);
		uint64_t idx = v & ((1ull << XL_IDX_BITS) - 1);
		struct xl_node *n;

		if (v == XL_EMPTY)
			return NULL;
		if (v == XL_TOMB || v >> XL_IDX_BITS != h >> 40 ||
		    idx >= m->max_nodes)
			continue;
		n = &m->nodes[idx];
		if ((atomic_load_explicit(&n->state, __ATOMIC_ACQUIRE) & 1) &&
		    name_is(m, n, parent, name, len)) {
			*ep = e;
			return n;
		}
	}
	return NULL;
}

FR_HOT struct xl_node *fr_idmap_find_name(struct fr_idmap *m, uint64_t parent,
					  const char *name, size_t len)
{
	_Atomic uint64_t *e;

	return find_name(m, parent, name, len, &e);
}

FR_HOT void fr_idmap_unname(struct fr_idmap *m, struct xl_node *n)
{
	drop_name(m, n);
}

static FR_HOT uint32_t *seen_slot(struct fr_idmap *m, uint64_t parent,
				   const char *name, size_t len)
{
	uint64_t a = 0, b = 0;

	/* Cheaper than name_hash(): its first and last eight bytes. */
	if (len >= 8) {
		memcpy(&a, name, 8);
		memcpy(&b, name + len - 8, 8);
	} else {
		memcpy(&a, name, len);
	}
	a = (a * 0x9e3779b97f4a7c15ull ^ b ^ parent ^ len) * 0xff51afd7ed558ccdull;
	return &m->seen[a >> 56];
}

FR_HOT void fr_idmap_seen(struct fr_idmap *m, const struct xl_node *n,
			  uint64_t parent, const char *name, size_t len)
{
	*seen_slot(m, parent, name, len) = n - m->nodes;
}

/*
 * An UNLINK's or RMDIR's reply.  The node the seen hint names keeps its
 * index entry, stale from here on; otherwise the entry found is the one
 * drop_name() would search for again (each node has one name, indexed
 * once).
 */
FR_HOT bool fr_idmap_unname_by(struct fr_idmap *m, uint64_t parent,
			       const char *name, size_t len)
{
	uint32_t *hint = seen_slot(m, parent, name, len);
	_Atomic uint64_t *e;
	struct xl_node *n;

	if (*hint && *hint < m->max_nodes) {
		n = &m->nodes[*hint];
		*hint = 0;
		if ((atomic_load_explicit(&n->state, __ATOMIC_ACQUIRE) & 1) &&
		    name_is(m, n, parent, name, len)) {
			forget_name(m, n);
			return true;
		}
	}
	n = find_name(m, parent, name, len, &e);
	if (!n)
		return false;
	atomic_store_explicit(e, XL_TOMB, __ATOMIC_RELEASE);
	forget_name(m, n);
	return true;
}

/* --- server ids of this run --- */

static FR_HOT uint64_t mix(uint64_t v)
{
	v ^= v >> 33;
	v *= 0xff51afd7ed558ccdull;
	v ^= v >> 33;
	return v;
}

static FR_HOT struct srv_slot *srv_find(struct fr_idmap *m, uint64_t srv)
{
	size_t i, mask = m->srv_cap - 1;

	if (!m->srv_cap)
		return NULL;
	for (i = mix(srv) & mask;; i = (i + 1) & mask) {
		struct srv_slot *e = &m->srv[i];

		if (e->srv == srv && e->kid)
			return e;
		if (!e->srv)
			return NULL;
	}
}

/* Grow, or just rehash when tombstones are what fills the table. */
static FR_COLD int srv_grow(struct fr_idmap *m)
{
	size_t live = m->srv_used - m->srv_tombs, cap, i;
	struct srv_slot *old = m->srv, *n;

	cap = m->srv_cap ? m->srv_cap : 1024;
	while (live * 2 >= cap)
		cap *= 2;
	n = calloc(cap, sizeof(*n));
	if (!n)
		return -ENOMEM;
	for (i = 0; i < m->srv_cap; i++) {
		size_t j, mask = cap - 1;

		if (!old[i].srv || !old[i].kid)
			continue;
		for (j = mix(old[i].srv) & mask; n[j].srv; j = (j + 1) & mask)
			;
		n[j] = old[i];
	}
	m->srv = n;
	m->srv_used = live;
	m->srv_tombs = 0;
	m->srv_cap = cap;
	free(old);
	return 0;
}

/* @srv is not in the table (srv_find() said so). */
static FR_HOT int srv_insert(struct fr_idmap *m, uint64_t srv, uint64_t kid)
{
	size_t i, mask;

	if ((m->srv_used + 1) * 4 > m->srv_cap * 3) {
		int err = srv_grow(m);

		if (err)
			return err;
	}
	/*
	 * The first tombstone on the way is as good as the empty slot
	 * that ends it: a create/unlink loop then keeps its chains short
	 * instead of filling the table with tombstones until a rehash.
	 */
	mask = m->srv_cap - 1;
	for (i = mix(srv) & mask; m->srv[i].srv && m->srv[i].kid;
	     i = (i + 1) & mask)
		;
	if (m->srv[i].srv)
		m->srv_tombs--;
	else
		m->srv_used++;
	m->srv[i] = (struct srv_slot){ srv, kid };
	return 0;
}

static FR_HOT void srv_del(struct fr_idmap *m, uint64_t srv, uint64_t kid)
{
	struct srv_slot *e = srv_find(m, srv);

	/* Another kernel node may stand for the same server node now. */
	if (e && e->kid == kid) {
		e->kid = 0;
		m->srv_tombs++;
	}
}

/* The node of this run that @e (server id @srv) stands for, if any. */
static FR_HOT struct xl_node *srv_node(struct fr_idmap *m,
				       const struct srv_slot *e, uint64_t srv)
{
	struct xl_node *n = fr_idmap_node(m, e->kid);

	if (!n || atomic_load_explicit(&n->srv_epoch, __ATOMIC_ACQUIRE) != m->epoch ||
	    n->srv_id != srv)
		return NULL;
	return n;
}

FR_HOT struct xl_node *fr_idmap_by_srv(struct fr_idmap *m, uint64_t srv)
{
	struct srv_slot *e;

	if (srv == 1)
		return &m->nodes[XL_ROOT];
	e = srv_find(m, srv);
	return e ? srv_node(m, e, srv) : NULL;
}

FR_HOT int fr_idmap_bind(struct fr_idmap *m, struct xl_node *n, uint64_t srv)
{
	struct xl_node *other;
	struct srv_slot *e;

	n->srv_id = srv;
	n->srv_nlookup = 0;
	atomic_store_explicit(&n->srv_epoch, m->epoch, __ATOMIC_RELEASE);
	/* Two kernel nodes may stand for one server node; the first stays. */
	if (n == &m->nodes[XL_ROOT] || srv == 1)
		return 0;
	e = srv_find(m, srv);
	if (!e)
		return srv_insert(m, srv, fr_idmap_node_id(m, n));
	other = srv_node(m, e, srv);
	if (!other || other == n)
		e->kid = fr_idmap_node_id(m, n);
	return 0;
}

FR_HOT int fr_idmap_node_new(struct fr_idmap *m, const struct fr_idmap_ident *id,
		      struct xl_node **np)
{
	int64_t idx = claim_recent(&m->recent_nodes, &m->h->node_hint,
				   m->g.max_nodes, m->nodes, sizeof(*m->nodes),
				   XL_ROOT + 1);
	struct xl_node *n;
	int err;

	if (idx < 0)
		return (int)idx;
	n = &m->nodes[idx];
	n->nlookup = 0;
	n->namelen = 0;
	n->parent = 0;
	n->ino = id->ino;
	n->generation = id->generation;
	n->mode = id->mode & S_IFMT;
	err = fr_idmap_bind(m, n, id->srv);
	if (err) {
		release(&n->state);
		return err;
	}
	*np = n;
	return 0;
}

FR_HOT void fr_idmap_node_free(struct fr_idmap *m, struct xl_node *n)
{
	if (n == &m->nodes[XL_ROOT])
		return;
	if (atomic_load_explicit(&n->srv_epoch, __ATOMIC_ACQUIRE) == m->epoch)
		srv_del(m, n->srv_id, fr_idmap_node_id(m, n));
	drop_name(m, n);
	release_recent(&m->recent_nodes, &n->state, n - m->nodes);
}

/*
 * Whether every record in the map is of this run: opened empty, and no
 * new epoch since.  Then nothing is ever re-resolved or rebound by name.
 */
FR_HOT bool fr_idmap_all_current(const struct fr_idmap *m)
{
	return m->all_current;
}

FR_HOT bool fr_idmap_current(const struct fr_idmap *m, const struct xl_node *n)
{
	return atomic_load_explicit(&n->srv_epoch, __ATOMIC_ACQUIRE) == m->epoch;
}

/* The server id of @kid if it is of this run (the request path's case). */
FR_HOT bool fr_idmap_node_srv(struct fr_idmap *m, uint64_t kid, uint64_t *srv)
{
	struct xl_node *n = fr_idmap_node(m, kid);

	if (!n || !fr_idmap_current(m, n))
		return false;
	*srv = n->srv_id;
	return true;
}

/* --- handles --- */

FR_HOT struct xl_handle *fr_idmap_handle(struct fr_idmap *m, uint64_t kfh)
{
	uint64_t idx = kfh & 0xffffffffu, state;
	struct xl_handle *f;

	if (!idx || idx >= m->max_handles)
		return NULL;
	f = &m->handles[idx];
	state = atomic_load_explicit(&f->state, __ATOMIC_ACQUIRE);
	if (!(state & 1) || make_id(idx, state) != kfh)
		return NULL;
	return f;
}

FR_HOT int fr_idmap_handle_new(struct fr_idmap *m, struct xl_handle **fp,
			uint64_t *kfh)
{
	int64_t idx = claim_recent(&m->recent_handles, &m->h->handle_hint,
				   m->g.max_handles, m->handles,
				   sizeof(*m->handles), 1);

	if (idx < 0)
		return (int)idx;
	*fp = &m->handles[idx];
	(*fp)->dirpos = 0;
	*kfh = make_id(idx, atomic_load_explicit(&(*fp)->state, __ATOMIC_ACQUIRE));
	return 0;
}

static FR_HOT uint64_t handle_id(struct fr_idmap *m, const struct xl_handle *f)
{
	return make_id(f - m->handles,
		       atomic_load_explicit(&f->state, __ATOMIC_ACQUIRE));
}

/* The slot of @f's offsets, if it still is @f's (f->dirpos is shared). */
static FR_HOT struct xl_dirpos *dirpos_of(struct fr_idmap *m,
				   const struct xl_handle *f, uint64_t kfh)
{
	uint32_t slot = f->dirpos;
	struct xl_dirpos *d;

	if (!slot || slot > m->g.max_dirpos)
		return NULL;
	d = &m->dirpos[slot - 1];
	if (atomic_load_explicit(&d->owner, __ATOMIC_ACQUIRE) != kfh)
		return NULL;
	return d;
}

FR_HOT void fr_idmap_handle_free(struct fr_idmap *m, struct xl_handle *f)
{
	struct xl_dirpos *d = dirpos_of(m, f, handle_id(m, f));

	if (d)
		atomic_store_explicit(&d->owner, 0, __ATOMIC_RELEASE);
	f->dirpos = 0;
	release_recent(&m->recent_handles, &f->state, f - m->handles);
}

/*
 * A free slot, or one whose owner is gone: a kill between claiming a slot
 * and naming it in the handle leaks it only until it is needed.
 */
static struct xl_dirpos *dirpos_claim(struct fr_idmap *m, struct xl_handle *f,
				      uint64_t kfh)
{
	uint64_t i;

	for (i = 0; i < m->g.max_dirpos; i++) {
		struct xl_dirpos *d = &m->dirpos[i];
		uint64_t owner = atomic_load_explicit(&d->owner,
						      __ATOMIC_ACQUIRE);
		struct xl_handle *o = owner ? fr_idmap_handle(m, owner) : NULL;

		if (owner && o && o->dirpos == i + 1)
			continue;
		if (!atomic_compare_exchange_strong_explicit(&d->owner, &owner,
				kfh, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			continue;
		atomic_store_explicit(&d->half[0].seq, 0, __ATOMIC_RELEASE);
		atomic_store_explicit(&d->half[1].seq, 0, __ATOMIC_RELEASE);
		f->dirpos = i + 1;
		return d;
	}
	return NULL;
}

void fr_idmap_dir_note(struct fr_idmap *m, struct xl_handle *f, uint64_t kfh,
		       const struct xl_dirent_pos *ent, uint32_t count)
{
	struct xl_dirpos *d = dirpos_of(m, f, kfh);
	struct xl_dirpos_half *w;
	uint64_t s0, s1;

	if (!count)
		return;
	if (!d)
		d = dirpos_claim(m, f, kfh);
	if (!d)
		return;
	/* A reply of more entries than fit keeps its last ones. */
	if (count > XL_DIRPOS_ENTS) {
		ent += count - XL_DIRPOS_ENTS;
		count = XL_DIRPOS_ENTS;
	}
	s0 = atomic_load_explicit(&d->half[0].seq, __ATOMIC_ACQUIRE);
	s1 = atomic_load_explicit(&d->half[1].seq, __ATOMIC_ACQUIRE);
	/* Overwrite the older half; the newer one stays valid meanwhile. */
	w = &d->half[s0 <= s1 ? 0 : 1];
	atomic_store_explicit(&w->seq, 0, __ATOMIC_RELEASE);
	w->epoch = m->epoch;
	w->count = count;
	memcpy(w->ent, ent, count * sizeof(*ent));
	atomic_store_explicit(&w->seq, (s0 > s1 ? s0 : s1) + 1,
			      __ATOMIC_RELEASE);
}

int fr_idmap_dir_find(struct fr_idmap *m, const struct xl_handle *f,
		      uint64_t kfh, uint64_t off, struct xl_dirent_pos *anchors,
		      uint32_t *count, uint64_t *epoch)
{
	struct xl_dirpos *d = dirpos_of(m, f, kfh);
	struct xl_dirpos_half *h[2];
	uint64_t s[2];
	uint32_t i, k, n;
	int j;

	if (!d)
		return -ENOENT;
	s[0] = atomic_load_explicit(&d->half[0].seq, __ATOMIC_ACQUIRE);
	s[1] = atomic_load_explicit(&d->half[1].seq, __ATOMIC_ACQUIRE);
	/* Newest first: h[0] is the later reply. */
	h[0] = &d->half[s[0] > s[1] ? 0 : 1];
	h[1] = &d->half[s[0] > s[1] ? 1 : 0];
	if (s[0] < s[1]) {
		uint64_t t = s[0];

		s[0] = s[1];
		s[1] = t;
	}
	for (j = 0; j < 2; j++) {
		if (!s[j])
			continue;
		n = h[j]->count < XL_DIRPOS_ENTS ? h[j]->count : XL_DIRPOS_ENTS;
		for (k = 0; k < n && h[j]->ent[k].off != off; k++)
			;
		if (k == n)
			continue;
		*count = 0;
		/* The older reply's entries came before the newer's. */
		if (j == 0 && s[1]) {
			uint32_t o = h[1]->count < XL_DIRPOS_ENTS ?
					     h[1]->count : XL_DIRPOS_ENTS;

			memcpy(anchors, h[1]->ent, o * sizeof(*anchors));
			*count = o;
		}
		for (i = 0; i <= k; i++)
			anchors[(*count)++] = h[j]->ent[i];
		*epoch = h[j]->epoch;
		/* Written while we read it (another thread of ours): unknown. */
		if (atomic_load_explicit(&h[j]->seq, __ATOMIC_ACQUIRE) != s[j])
			return -ENOENT;
		return 0;
	}
	return -ENOENT;
}

FR_HOT bool fr_idmap_handle_current(const struct fr_idmap *m,
			     const struct xl_handle *f)
{
	return atomic_load_explicit(&f->srv_epoch, __ATOMIC_ACQUIRE) == m->epoch;
}

/* The server's handle for @kfh if it is of this run (the request path's). */
FR_HOT bool fr_idmap_handle_srv(struct fr_idmap *m, uint64_t kfh, uint64_t *srv_fh)
{
	struct xl_handle *f = fr_idmap_handle(m, kfh);

	if (!f || !fr_idmap_handle_current(m, f))
		return false;
	*srv_fh = f->srv_fh;
	return true;
}

FR_HOT void fr_idmap_handle_bind(struct fr_idmap *m, struct xl_handle *f,
			  uint64_t srv_fh)
{
	f->srv_fh = srv_fh;
	atomic_store_explicit(&f->srv_epoch, m->epoch, __ATOMIC_RELEASE);
}

FR_HOT int fr_idmap_set_name(struct fr_idmap *m, struct xl_node *n, uint64_t parent,
		      const char *name, size_t len)
{
	return set_name(m, n, parent, name, len);
}

/* --- first reads of non-idempotent requests --- */

FR_HOT void fr_idmap_note_read(struct fr_idmap *m, uint64_t unique, int64_t t_ns)
{
	struct xl_read *r = &m->reads[(unique >> 1) % XL_READS];

	/* Unique last: a reader that sees it sees the time that goes with it. */
	atomic_store_explicit(&r->unique, 0, memory_order_relaxed);
	atomic_store_explicit(&r->t_ns, t_ns, memory_order_relaxed);
	atomic_store_explicit(&r->unique, unique, memory_order_release);
}

FR_HOT bool fr_idmap_read_time(struct fr_idmap *m, uint64_t unique, int64_t *t_ns)
{
	struct xl_read *r = &m->reads[(unique >> 1) % XL_READS];

	if (atomic_load_explicit(&r->unique, memory_order_acquire) != unique)
		return false;
	*t_ns = atomic_load_explicit(&r->t_ns, memory_order_relaxed);
	return atomic_load_explicit(&r->unique, memory_order_acquire) == unique;
}
