// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The state store: node table, handle table and request journal in one
 * shared mapping that outlives the server (see fuse_recover.h for the
 * contract).
 *
 * Crash consistency rests on two rules.  A record is written completely
 * while unreachable and becomes reachable with one atomic store (state
 * word, hash-chain link); it is made unreachable the same way before it is
 * reused.  And every counter moves before the journal says it moved, so
 * an interrupted step errs towards a count one too high.  The memory is
 * shared with whoever maps the memfd next, so a store that happened before
 * SIGKILL is visible to the next server; only compiler reordering has to be
 * prevented, which the atomics do.
 *
 * Writers serialise on a process-local mutex: a lock in the shared pages
 * could be left held by the dead server.
 */
#include "fuse_recover_i.h"
#include "state_format.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

struct slot_list {
	uint32_t *v;
	size_t n, cap;
	uint64_t scan, scan_end;	/* slots of the previous server */
};

struct fuse_recover_store {
	unsigned char *map;
	size_t size;
	/*
	 * The geometry as validated, never re-read from the mapping: anyone
	 * holding the memfd can rewrite the shared header at any time.
	 */
	struct st_geometry g;
	struct st_header *h;
	struct st_jrec *journal;
	_Atomic uint32_t *buckets;
	unsigned char *nodes;
	struct st_handle *handles;
	int fd;
	bool shared;
	bool recovered;
	bool deferred;		/* opened in standby: not taken yet */
	unsigned int tgen;	/* bumped when journal slots are handed out anew */
	pthread_mutex_t lock;
	struct slot_list free_nodes, free_handles;
	bool jused[ST_JOURNAL];
	struct st_left *left;
	size_t nleft;
	pthread_key_t tkey;
};

/* Per thread: its journal record and the request it is working on. */
struct st_thread {
	struct fuse_recover_store *st;
	int slot;
	unsigned int tgen;
	bool active;
	bool have_prev;
	bool hooked;		/* begun by the read hook, ended by the reply */
	int begun;		/* what begin returned */
	uint64_t unique;
	struct st_left prev;
};

static void backing_recover(struct fuse_recover_store *st);

static __thread struct st_thread *tls;
/* The attached session's store: its requests are journaled by the hooks. */
static struct fuse_recover_store *_Atomic hooked_store;

static int geometry(const struct fuse_recover_store_config *cfg,
		    struct st_geometry *g)
{
	uint64_t nodes = cfg->max_nodes ? cfg->max_nodes : ST_DEF_NODES;
	uint64_t handles = cfg->max_handles ? cfg->max_handles : ST_DEF_HANDLES;
	uint64_t b = 1024;

	if (!cfg->node_data_size ||
	    cfg->node_data_size > FUSE_RECOVER_NODE_DATA_MAX ||
	    nodes < 2 || nodes >= (1ULL << 31) || handles < 1 ||
	    handles >= (1ULL << 31))
		return -EINVAL;
	while (b < nodes && b < (1U << 30))
		b <<= 1;
	memset(g, 0, sizeof(*g));
	memcpy(g->magic, ST_MAGIC, sizeof(g->magic));
	g->layout = ST_LAYOUT;
	g->server_version = cfg->server_version;
	g->node_data_size = cfg->node_data_size;
	g->node_rec_size = align_up(sizeof(struct st_node) +
				    cfg->node_data_size, 8);
	g->nbuckets = b;
	g->njournal = ST_JOURNAL;
	g->max_nodes = nodes;
	g->max_handles = handles;
	g->off_journal = ST_HDR_SIZE;
	g->off_buckets = align_up(g->off_journal +
				  (uint64_t)ST_JOURNAL * sizeof(struct st_jrec),
				  4096);
	g->off_nodes = align_up(g->off_buckets + b * 4, 4096);
	g->off_handles = align_up(g->off_nodes + nodes * g->node_rec_size,
				  4096);
	g->size = align_up(g->off_handles +
			   handles * sizeof(struct st_handle), 4096);
	return 0;
}

/*
 * Checks a header found in a kept memfd, without writing anything, and
 * copies its geometry to @g.  The geometry is read from the mapping once
 * and everything after that looks at the copy only; its offsets must be
 * exactly those this library computes from its sizes, which bounds them all
 * (no sum of stored values is trusted, so none can wrap).
 */
static int check_header(const struct st_header *h, size_t size,
			const struct st_geometry *want, struct st_geometry *g)
{
	struct fuse_recover_store_config c;
	struct st_geometry re;
	uint64_t csum, nhwm, hhwm;

	if (size < ST_HDR_SIZE) {
		fr_log(LOG_ERR, "state store: %zu bytes, shorter than a header (damaged state)",
		       size);
		return -EBADMSG;
	}
	memcpy(g, &h->g, sizeof(*g));
	csum = h->csum;
	if (memcmp(g->magic, ST_MAGIC, 8) != 0) {
		fr_log(LOG_ERR, "state store: no valid header (damaged state)");
		return -EBADMSG;
	}
	if (fnv1a(g, sizeof(*g)) != csum) {
		fr_log(LOG_ERR, "state store: header checksum mismatch (damaged state)");
		return -EBADMSG;
	}
	if (g->layout != ST_LAYOUT) {
		fr_log(LOG_ERR,
		       "state store: layout %u was written by another libfuse-recover (this one reads %u); start the matching server",
		       g->layout, ST_LAYOUT);
		return -EPROTO;
	}
	if (g->server_version != want->server_version ||
	    g->node_data_size != want->node_data_size) {
		fr_log(LOG_ERR,
		       "state store: written by server version %u (node data %u bytes), this server is version %u (%u bytes); start the matching server",
		       g->server_version, g->node_data_size,
		       want->server_version, want->node_data_size);
		return -EPROTO;
	}
	c = (struct fuse_recover_store_config){
		.server_version = g->server_version,
		.node_data_size = g->node_data_size,
		.max_nodes = g->max_nodes,
		.max_handles = g->max_handles,
	};
	if (!g->max_nodes || !g->max_handles || geometry(&c, &re) ||
	    memcmp(&re, g, sizeof(re)) != 0) {
		fr_log(LOG_ERR,
		       "state store: geometry does not follow from its sizes (damaged state)");
		return -EBADMSG;
	}
	if (g->size != size) {
		fr_log(LOG_ERR,
		       "state store: %zu bytes where its header says %llu (damaged state)",
		       size, (unsigned long long)g->size);
		return -EBADMSG;
	}
	nhwm = atomic_load(&h->node_hwm);
	hhwm = atomic_load(&h->handle_hwm);
	if (nhwm < 1 || nhwm > g->max_nodes || hhwm > g->max_handles) {
		fr_log(LOG_ERR,
		       "state store: table use beyond its size (damaged state)");
		return -EBADMSG;
	}
	return 0;
}

static void set_pointers(struct fuse_recover_store *st)
{
	/* All offsets come from st->g, validated or computed here. */
	st->h = (struct st_header *)st->map;
	st->journal = (struct st_jrec *)(st->map + st->g.off_journal);
	st->buckets = (_Atomic uint32_t *)(st->map + st->g.off_buckets);
	st->nodes = st->map + st->g.off_nodes;
	st->handles = (struct st_handle *)(st->map + st->g.off_handles);
}

/*
 * The shared high-water marks, clamped to the private geometry: they are
 * checked at open, but whoever else holds the memfd can change them later.
 */
static uint64_t nodes_used(struct fuse_recover_store *st)
{
	uint64_t v = atomic_load(&st->h->node_hwm);

	return v < st->g.max_nodes ? v : st->g.max_nodes;
}

static uint64_t handles_used(struct fuse_recover_store *st)
{
	uint64_t v = atomic_load(&st->h->handle_hwm);

	return v < st->g.max_handles ? v : st->g.max_handles;
}

static struct st_node *node_at(struct fuse_recover_store *st, uint64_t slot)
{
	return (struct st_node *)(st->nodes + slot * st->g.node_rec_size);
}

static void thread_gone(void *arg)
{
	struct st_thread *t = arg;
	struct fuse_recover_store *st = t->st;

	pthread_mutex_lock(&st->lock);
	if (t->tgen == st->tgen)
		st->jused[t->slot] = false;
	pthread_mutex_unlock(&st->lock);
	free(t);
}

/*
 * Journal records of the dead server are copied out to be matched against
 * resent requests.  The shared ones stay, their slots reserved, until the
 * resent request claims them: if this server dies too before handling it,
 * the next one must still find what the first attempt did.
 */
static int take_journal(struct fuse_recover_store *st)
{
	uint32_t i, n = 0;

	/* A standby made it ahead (prefault_journal()): still all zero. */
	if (!st->left)
		st->left = calloc(ST_JOURNAL, sizeof(*st->left));
	if (!st->left)
		return -ENOMEM;
	for (i = 0; i < ST_JOURNAL; i++) {
		struct st_jrec *j = &st->journal[i];
		struct st_left *l = &st->left[n];
		uint32_t k;

		l->unique = atomic_load(&j->unique);
		if (!l->unique)
			continue;
		if (j->age >= ST_LEFT_MAX_AGE) {
			atomic_store(&j->unique, 0);
			continue;
		}
		j->age++;
		l->slot = i;
		st->jused[i] = true;
		l->n = atomic_load(&j->n);
		if (l->n > FUSE_RECOVER_REQ_NODES_MAX)
			l->n = FUSE_RECOVER_REQ_NODES_MAX;
		l->done = atomic_load(&j->done);
		l->fh = atomic_load(&j->fh);
		for (k = 0; k < l->n; k++)
			l->ino[k] = atomic_load(&j->ino[k]);
		n++;
	}
	st->nleft = n;
	return 0;
}

static void init_new(struct fuse_recover_store *st,
		     const struct st_geometry *g)
{
	struct st_header *h = (struct st_header *)st->map;

	/* A fresh mapping is zero: only the header needs writing. */
	st->g = *g;
	h->g = *g;
	h->csum = fnv1a(g, sizeof(*g));
	atomic_store(&h->node_hwm, 1);	/* slot 0 is the root */
	atomic_store(&h->handle_hwm, 0);
}

static int store_alloc(struct fuse_recover_store **stp)
{
	struct fuse_recover_store *st = calloc(1, sizeof(*st));

	if (!st)
		return -ENOMEM;
	st->fd = -1;
	pthread_mutex_init(&st->lock, NULL);
	if (pthread_key_create(&st->tkey, thread_gone)) {
		free(st);
		return -EAGAIN;
	}
	*stp = st;
	return 0;
}

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22	/* Linux 5.14 */
#endif

/*
 * A standby takes the store only at GO, on the takeover's path: the
 * journal it reads then and the array it copies it into are faulted in
 * now (page faults cost tens of microseconds each on some machines).
 */
static void prefault_journal(struct fuse_recover_store *st)
{
	uintptr_t from = (uintptr_t)st->journal & ~(uintptr_t)4095;
	uintptr_t to = (uintptr_t)(st->journal + ST_JOURNAL);

	size_t off, len = ST_JOURNAL * sizeof(*st->left);

	st->left = calloc(1, len);
	/* Written, not read: calloc's fresh pages are not there yet. */
	for (off = 0; st->left && off < len; off += 4096)
		((volatile char *)st->left)[off] = 0;
	madvise((void *)from, to - from, MADV_POPULATE_READ);
}

/* What the previous server left: journal records, free slots. */
static int take_store(struct fuse_recover_store *st)
{
	int err = take_journal(st);

	if (err)
		return err;
	st->free_nodes.n = 0;
	st->free_nodes.scan = 1;
	st->free_nodes.scan_end = nodes_used(st);
	st->free_handles.n = 0;
	st->free_handles.scan = 0;
	st->free_handles.scan_end = handles_used(st);
	atomic_fetch_add(&st->h->opens, 1);
	return 0;
}

/*
 * Maps @fd: lays out a new store when empty, else checks the old one.
 * @need_seal: the memory was made by fr_state_memfd(), sealable; unsealed
 * it was not made here and is refused.
 */
static int map_fd(struct fuse_recover_store *st, int fd,
		  const struct st_geometry *g, bool need_seal)
{
	struct stat sb;
	void *m;
	int err;

	if (fstat(fd, &sb) < 0)
		return -errno;
	if (!S_ISREG(sb.st_mode) || sb.st_size < 0) {
		fr_log(LOG_ERR, "state store: not a regular file");
		return -EBADMSG;
	}
	if (sb.st_size == 0) {
		if (ftruncate(fd, g->size) < 0)
			return -errno;
		if (!fr_seal_size(fd) && need_seal)
			return -EBADMSG;
		m = mmap(NULL, g->size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 fd, 0);
		if (m == MAP_FAILED)
			return -errno;
		st->map = m;
		st->size = g->size;
		init_new(st, g);
		set_pointers(st);
		return 0;
	}
	if ((uint64_t)sb.st_size < ST_HDR_SIZE ||
	    (uint64_t)sb.st_size > SIZE_MAX) {
		fr_log(LOG_ERR, "state store: %lld bytes (damaged state)",
		       (long long)sb.st_size);
		return -EBADMSG;
	}
	/* Read-only until it passed the checks: a refusal changes nothing. */
	m = mmap(NULL, sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return -errno;
	err = check_header(m, sb.st_size, g, &st->g);
	if (!err && !fr_seal_size(fd) && need_seal) {
		fr_log(LOG_ERR,
		       "state store: its memory can be shrunk by others; refusing it");
		err = -EBADMSG;
	}
	if (!err && mprotect(m, sb.st_size, PROT_READ | PROT_WRITE) < 0)
		err = -errno;
	if (err) {
		munmap(m, sb.st_size);
		return err;
	}
	st->map = m;
	st->size = sb.st_size;
	set_pointers(st);
	st->recovered = true;
	/*
	 * A standby (live upgrade) opens the store while the old server
	 * still changes it: what it left and what is free is only read once
	 * that one has drained, in fr_store_activate().
	 */
	if (fr_current && fr_current->standby) {
		st->deferred = true;
		prefault_journal(st);
		return 1;
	}
	err = take_store(st);
	return err ? err : 1;
}

static int open_fd(int fd, const struct fuse_recover_store_config *cfg,
		   struct fuse_recover_store **stp, bool need_seal)
{
	struct fuse_recover_store *st;
	struct st_geometry g;
	int err;

	if (!cfg || !stp || fd < 0)
		return -EINVAL;
	err = geometry(cfg, &g);
	if (err)
		return err;
	err = store_alloc(&st);
	if (err)
		return err;
	st->fd = dup(fd);
	if (st->fd < 0) {
		err = -errno;
		goto fail;
	}
	st->shared = true;
	err = map_fd(st, st->fd, &g, need_seal);
	if (err < 0)
		goto fail;
	if (fr_current)
		hooked_store = st;
	/* a standby leaves the old server's backing ids alone: see activate */
	if (err && fr_current && !st->deferred)
		backing_recover(st);
	*stp = st;
	return err ? FUSE_RECOVER_RECOVERED : 0;
fail:
	fuse_recover_store_close(st);
	return err;
}

int fuse_recover_store_open_fd(int fd,
			       const struct fuse_recover_store_config *cfg,
			       struct fuse_recover_store **stp)
{
	return open_fd(fd, cfg, stp, false);
}

int fuse_recover_store_open(const struct fuse_recover_store_config *cfg,
			    struct fuse_recover_store **stp)
{
	struct fuse_recover_store *st;
	struct st_geometry g;
	int fd, err;
	void *m;

	if (!cfg || !stp)
		return -EINVAL;
	err = geometry(cfg, &g);
	if (err)
		return err;
	if (fr_current && fr_current->xlate) {
		fr_log(LOG_ERR,
		       "a state store must be opened from the init operation, before the first request");
		return -EBUSY;
	}
	if (fr_current)
		fr_current->uses_store = true;
	if (fr_session_recovered()) {
		fd = fr_kept_fd(FR_KEEP_STATE, FR_KEY_STORE);
		if (fd >= 0)
			return open_fd(fd, cfg, stp, fr_state_sealable());
		fr_log(LOG_WARNING,
		       "state store: the previous server left none; starting empty");
	}
	fd = fr_state_memfd("fuse-recover-state");
	if (fd < 0)
		return fd;
	err = fr_keep_fd(fd, FR_KEEP_STATE, FR_KEY_STORE);
	if (err == 0) {
		err = open_fd(fd, cfg, stp, fr_state_sealable());
		close(fd);
		return err < 0 ? err : 0;
	}
	close(fd);
	if (err != -ENOTCONN)
		return err;
	/* No recovery: nobody will ever look at it again. */
	err = store_alloc(&st);
	if (err)
		return err;
	m = mmap(NULL, g.size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED) {
		err = -errno;
		fuse_recover_store_close(st);
		return err;
	}
	st->map = m;
	st->size = g.size;
	init_new(st, &g);
	set_pointers(st);
	*stp = st;
	return 0;
}

void fuse_recover_store_close(struct fuse_recover_store *st)
{
	struct fuse_recover_store *me = st;

	if (!st)
		return;
	atomic_compare_exchange_strong(&hooked_store, &me, NULL);
	if (st->map)
		munmap(st->map, st->size);
	if (st->fd >= 0)
		close(st->fd);
	pthread_key_delete(st->tkey);
	pthread_mutex_destroy(&st->lock);
	free(st->free_nodes.v);
	free(st->free_handles.v);
	free(st->left);
	free(st);
}

int fuse_recover_store_root(struct fuse_recover_store *st, const void *data)
{
	struct st_node *n = node_at(st, 0);

	if (atomic_load(&st->h->root_set)) {
		if (memcmp(n->data, data, st->g.node_data_size) != 0) {
			fr_log(LOG_ERR,
			       "state store: it describes another root; refusing");
			return -ESTALE;
		}
		return 0;
	}
	memcpy(n->data, data, st->g.node_data_size);
	atomic_store(&n->nlookup, 1);
	atomic_store(&n->state, REC_LIVE);
	atomic_store(&st->h->root_set, 1);
	return 0;
}

/* ---- node ids ---- */

static fuse_ino_t node_id(uint64_t slot, uint32_t gen)
{
	return slot ? ((uint64_t)gen << 32) | (slot + 1) : FUSE_ROOT_ID;
}

/* The live record @ino names, or NULL (stale or bogus id). */
static struct st_node *node_get(struct fuse_recover_store *st,
				fuse_ino_t ino, uint64_t *slotp)
{
	uint64_t slot = (ino & 0xffffffffULL) - 1;
	struct st_node *n;

	if (ino == 0 || slot >= nodes_used(st))
		return NULL;
	n = node_at(st, slot);
	if (atomic_load_explicit(&n->state, memory_order_acquire) != REC_LIVE)
		return NULL;
	if (slot && atomic_load(&n->gen) != (uint32_t)(ino >> 32))
		return NULL;
	if (slotp)
		*slotp = slot;
	return n;
}

static int list_push(struct slot_list *l, uint32_t slot)
{
	uint32_t *v;

	if (l->n == l->cap) {
		v = realloc(l->v, (l->cap ? l->cap * 2 : 256) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = l->cap ? l->cap * 2 : 256;
	}
	l->v[l->n++] = slot;
	return 0;
}

/*
 * A slot the lazy scan has yet to reach is found by the scan; listing it
 * too would hand it out twice.
 */
static void slot_freed(struct slot_list *l, uint32_t slot)
{
	if (slot >= l->scan && slot < l->scan_end)
		return;
	list_push(l, slot);
}

/*
 * Free slots: those freed by this process, plus those the previous server
 * left free, found a few at a time so that opening never walks the table.
 */
static int64_t take_free(struct slot_list *l, void *base, size_t recsz)
{
	unsigned int i;

	for (i = 0; i < ST_SCAN_STEP && l->scan < l->scan_end; i++) {
		uint64_t s = l->scan++;
		_Atomic uint32_t *state =
			(_Atomic uint32_t *)((char *)base + s * recsz);

		if (atomic_load(state) == REC_FREE)
			return s;
	}
	if (l->n)
		return l->v[--l->n];
	return -1;
}

/* Journal record of the calling thread for the current request. */
static struct st_jrec *cur_rec(struct fuse_recover_store *st)
{
	if (!tls || tls->st != st || !tls->active || tls->tgen != st->tgen)
		return NULL;
	return &st->journal[tls->slot];
}

static int note_ino(struct fuse_recover_store *st, fuse_ino_t ino)
{
	struct st_jrec *j = cur_rec(st);
	uint32_t n;

	if (!j)
		return 0;
	n = atomic_load(&j->n);
	if (n >= FUSE_RECOVER_REQ_NODES_MAX)
		return -ENOSPC;
	atomic_store(&j->ino[n], ino);
	atomic_store_explicit(&j->n, n + 1, memory_order_release);
	return 0;
}

/* Was this lookup already counted by the first attempt of the request? */
static bool take_prev_ino(struct fuse_recover_store *st, fuse_ino_t ino)
{
	uint32_t i;

	if (!tls || tls->st != st || !tls->active || !tls->have_prev)
		return false;
	for (i = 0; i < tls->prev.n; i++) {
		if (tls->prev.ino[i] == ino) {
			tls->prev.ino[i] = tls->prev.ino[--tls->prev.n];
			return true;
		}
	}
	return false;
}

static struct st_node *find_node(struct fuse_recover_store *st, uint64_t key,
				 const void *data, uint64_t *slotp)
{
	uint32_t b = key & (st->g.nbuckets - 1);
	uint32_t link = atomic_load(&st->buckets[b]);
	unsigned int guard = 0;

	while (link && guard++ < ST_MAX_CHAIN) {
		struct st_node *n;

		if (link > nodes_used(st))
			break;
		n = node_at(st, link - 1);
		if (n->key == key && atomic_load(&n->state) == REC_LIVE &&
		    memcmp(n->data, data, st->g.node_data_size) == 0) {
			*slotp = link - 1;
			return n;
		}
		link = atomic_load(&n->next);
	}
	return NULL;
}

int fuse_recover_node_ref(struct fuse_recover_store *st, uint64_t key,
			  const void *data, fuse_ino_t *ino,
			  uint64_t *generation)
{
	struct st_node *n;
	uint64_t slot;
	int64_t s;
	uint32_t b;
	int err;

	pthread_mutex_lock(&st->lock);
	if (memcmp(node_at(st, 0)->data, data, st->g.node_data_size) == 0) {
		slot = 0;
		n = node_at(st, 0);
		goto found;
	}
	n = find_node(st, key, data, &slot);
	if (n)
		goto found;
	s = take_free(&st->free_nodes, st->nodes, st->g.node_rec_size);
	if (s < 0) {
		s = atomic_load(&st->h->node_hwm);
		if ((uint64_t)s >= st->g.max_nodes) {
			pthread_mutex_unlock(&st->lock);
			return -ENOSPC;
		}
		/* Reserve first: a crash leaves a free slot below hwm. */
		atomic_store(&st->h->node_hwm, s + 1);
	}
	slot = s;
	n = node_at(st, slot);
	n->key = key;
	memcpy(n->data, data, st->g.node_data_size);
	atomic_store(&n->nlookup, 0);
	atomic_store(&n->opens, 0);
	atomic_store(&n->backing, 0);
	atomic_store(&n->gen, atomic_load(&n->gen) + 1);
	b = key & (st->g.nbuckets - 1);
	atomic_store(&n->next, atomic_load(&st->buckets[b]));
	atomic_store_explicit(&n->state, REC_LIVE, memory_order_release);
	atomic_store_explicit(&st->buckets[b], slot + 1, memory_order_release);
found:
	*ino = node_id(slot, atomic_load(&n->gen));
	if (generation)
		*generation = slot ? atomic_load(&n->gen) : 0;
	if (take_prev_ino(st, *ino)) {
		/* Counted by the first attempt: carry the note over. */
		err = note_ino(st, *ino);
	} else {
		atomic_fetch_add(&n->nlookup, 1);
		err = note_ino(st, *ino);
		if (err)
			atomic_fetch_sub(&n->nlookup, 1);
	}
	pthread_mutex_unlock(&st->lock);
	return err;
}

int fuse_recover_node_data(struct fuse_recover_store *st, fuse_ino_t ino,
			   void *data)
{
	struct st_node *n = node_get(st, ino, NULL);

	if (!n)
		return -ESTALE;
	memcpy(data, n->data, st->g.node_data_size);
	return 0;
}

int fuse_recover_node_counts(struct fuse_recover_store *st, fuse_ino_t ino,
			     uint64_t *nlookup, uint32_t *opens)
{
	struct st_node *n = node_get(st, ino, NULL);

	if (!n)
		return -ESTALE;
	if (nlookup)
		*nlookup = atomic_load(&n->nlookup);
	if (opens)
		*opens = atomic_load(&n->opens);
	return 0;
}

/* ---- passthrough backing ids (passthrough.c does the ioctls) ---- */

static void bk_word(struct fuse_recover_store *st, uint32_t live,
		    unsigned int phase, int32_t id)
{
	atomic_store(&st->h->bk_word, BK_WORD(live, phase, id));
}

/*
 * The backing id of node @ino, registered from @fd on first use.  Every
 * open of one inode must name the same backing file, so the id lives as
 * long as the node, also across restarts (the kernel keeps it in the
 * connection).  Intent first, then the ioctl, then the record: a death
 * at any point leaves what fr_store_backing_recover() needs.
 */
int fr_store_backing(struct fuse_recover_store *st, fuse_ino_t ino, int fd)
{
	struct st_node *n;
	uint64_t slot;
	uint32_t live;
	int32_t id;

	pthread_mutex_lock(&st->lock);
	n = node_get(st, ino, &slot);
	if (!n) {
		pthread_mutex_unlock(&st->lock);
		return -ESTALE;
	}
	id = atomic_load(&n->backing);
	if (id > 0)
		goto out;
	live = BK_LIVE(atomic_load(&st->h->bk_word));
	atomic_store(&st->h->bk_slot, slot);
	bk_word(st, live, BK_OPENING, 0);
	id = fr_backing_open(fd);
	if (id <= 0) {
		bk_word(st, live, BK_NONE, 0);
		id = id ? id : -EPROTO;
		goto out;
	}
	bk_word(st, live, BK_OPENED, id);
	atomic_store(&n->backing, id);
	atomic_store(&st->h->bk_last, id);
	bk_word(st, live + 1, BK_NONE, 0);
out:
	pthread_mutex_unlock(&st->lock);
	return id;
}

/* A node is freed: its inode is gone from the kernel, so is every open. */
static void backing_drop(struct fuse_recover_store *st, uint64_t slot,
			 struct st_node *n)
{
	int32_t id = atomic_load(&n->backing);
	uint32_t live;
	int err;

	if (id <= 0)
		return;
	live = BK_LIVE(atomic_load(&st->h->bk_word));
	atomic_store(&st->h->bk_slot, slot);
	bk_word(st, live, BK_CLOSING, id);
	atomic_store(&n->backing, 0);
	err = fr_backing_close(id);
	if (err && err != -ENOENT)
		fr_log(LOG_WARNING, "closing backing id %d: %s", id,
		       strerror(-err));
	bk_word(st, live ? live - 1 : 0, BK_NONE, 0);
}

uint32_t fr_store_backing_count(struct fuse_recover_store *st)
{
	return BK_LIVE(atomic_load(&st->h->bk_word));
}

/*
 * After a takeover, before the first request: finish the backing-id
 * operation the dead server was in, and close ids it had opened but not
 * recorded (see BK_SWEEP).
 */
static void backing_recover(struct fuse_recover_store *st)
{
	uint64_t w = atomic_load(&st->h->bk_word);
	uint64_t slot = atomic_load(&st->h->bk_slot);
	struct st_node *n = slot < nodes_used(st) ? node_at(st, slot) : NULL;
	uint32_t live = BK_LIVE(w), closed = 0, i;
	int32_t id = BK_ID(w), last, cur;
	int err;

	if (n && atomic_load(&n->state) != REC_LIVE)
		n = NULL;
	switch (BK_PHASE(w)) {
	case BK_OPENED:
		cur = n ? atomic_load(&n->backing) : -1;
		if (id > 0 && (cur == 0 || cur == id)) {
			atomic_store(&n->backing, id);
			atomic_store(&st->h->bk_last, id);
			live++;
		} else if (id > 0 && fr_backing_close(id) == 0) {
			closed++;
		}
		break;
	case BK_CLOSING:
		if (n && atomic_load(&n->backing) == id)
			atomic_store(&n->backing, 0);
		if (id > 0)
			fr_backing_close(id);
		if (live)
			live--;
		break;
	default:
		break;
	}
	last = atomic_load(&st->h->bk_last);
	for (i = 1; i <= BK_SWEEP && last >= 0 &&
		    last <= INT32_MAX - (int32_t)i; i++) {
		err = fr_backing_close(last + i);
		if (err == 0)
			closed++;
		else if (err != -ENOENT)
			break;	/* no passthrough on this connection */
	}
	bk_word(st, live, BK_NONE, 0);
	if (closed)
		fr_log(LOG_WARNING,
		       "passthrough: closed %u backing id(s) the dead server had opened but not recorded",
		       closed);
	if (live)
		fr_log(LOG_INFO,
		       "passthrough: %u backing id(s) live for open or cached files",
		       live);
}

/* Unlinks slot from its chain, then frees it (lock held). */
static void node_free(struct fuse_recover_store *st, uint64_t slot)
{
	struct st_node *n = node_at(st, slot);
	uint32_t b = n->key & (st->g.nbuckets - 1);
	_Atomic uint32_t *link = &st->buckets[b];
	unsigned int guard = 0;

	while (atomic_load(link) && guard++ < ST_MAX_CHAIN) {
		uint32_t l = atomic_load(link);

		if (l > nodes_used(st))
			return;
		if (l == slot + 1) {
			atomic_store(link, atomic_load(&n->next));
			atomic_store_explicit(&n->state, REC_FREE,
					      memory_order_release);
			slot_freed(&st->free_nodes, slot);
			return;
		}
		link = &node_at(st, l - 1)->next;
	}
	/* Not in its chain (a crash cut it out): free it anyway. */
	atomic_store(&n->state, REC_FREE);
	slot_freed(&st->free_nodes, slot);
}

void fuse_recover_node_forget(struct fuse_recover_store *st, fuse_ino_t ino,
			      uint64_t nlookup)
{
	struct st_node *n;
	uint64_t slot, cur;

	pthread_mutex_lock(&st->lock);
	n = node_get(st, ino, &slot);
	if (n) {
		cur = atomic_load(&n->nlookup);
		if (nlookup > cur)
			nlookup = cur;
		cur = atomic_fetch_sub(&n->nlookup, nlookup) - nlookup;
		if (cur == 0 && slot != 0) {
			backing_drop(st, slot, n);
			node_free(st, slot);
		}
	}
	pthread_mutex_unlock(&st->lock);
}

/* ---- file handles ---- */

static uint64_t fh_value(uint64_t slot, uint32_t gen)
{
	return ((uint64_t)gen << 32) | (slot + 1);
}

static struct st_handle *fh_rec(struct fuse_recover_store *st, uint64_t fh)
{
	uint64_t slot = (fh & 0xffffffffULL) - 1;
	struct st_handle *h;

	if ((fh & 0xffffffffULL) == 0 ||
	    slot >= handles_used(st))
		return NULL;
	h = &st->handles[slot];
	if (atomic_load_explicit(&h->state, memory_order_acquire) != REC_LIVE ||
	    atomic_load(&h->gen) != (uint32_t)(fh >> 32))
		return NULL;
	return h;
}

int fuse_recover_fh_new(struct fuse_recover_store *st, fuse_ino_t ino,
			uint32_t flags, uint64_t *fh)
{
	struct st_jrec *j = cur_rec(st);
	struct st_handle *h;
	struct st_node *n;
	int64_t s;

	pthread_mutex_lock(&st->lock);
	n = node_get(st, ino, NULL);
	if (!n) {
		pthread_mutex_unlock(&st->lock);
		return -ESTALE;
	}
	if (j && tls->have_prev && tls->prev.fh) {
		h = fh_rec(st, tls->prev.fh);
		if (h && h->ino == ino) {
			/* The first attempt opened it; its reply was lost. */
			*fh = tls->prev.fh;
			tls->prev.fh = 0;
			atomic_store(&j->fh, *fh);
			pthread_mutex_unlock(&st->lock);
			return 1;
		}
	}
	s = take_free(&st->free_handles, st->handles, sizeof(*h));
	if (s < 0) {
		s = atomic_load(&st->h->handle_hwm);
		if ((uint64_t)s >= st->g.max_handles) {
			pthread_mutex_unlock(&st->lock);
			return -ENOSPC;
		}
		atomic_store(&st->h->handle_hwm, s + 1);
	}
	h = &st->handles[s];
	h->ino = ino;
	h->flags = flags;
	atomic_store(&h->gen, atomic_load(&h->gen) + 1);
	atomic_store_explicit(&h->state, REC_LIVE, memory_order_release);
	atomic_fetch_add(&n->opens, 1);
	*fh = fh_value(s, atomic_load(&h->gen));
	if (j)
		atomic_store(&j->fh, *fh);
	pthread_mutex_unlock(&st->lock);
	return 0;
}

int fuse_recover_fh_get(struct fuse_recover_store *st, uint64_t fh,
			fuse_ino_t *ino, uint32_t *flags)
{
	struct st_handle *h = fh_rec(st, fh);

	if (!h)
		return -EBADF;
	if (ino)
		*ino = h->ino;
	if (flags)
		*flags = h->flags;
	return 0;
}

static int fh_free(struct fuse_recover_store *st, uint64_t fh)
{
	struct st_handle *h = fh_rec(st, fh);
	struct st_node *n;
	int left = 0;

	if (!h)
		return -EBADF;
	n = node_get(st, h->ino, NULL);
	if (n && atomic_load(&n->opens))
		left = atomic_fetch_sub(&n->opens, 1) - 1;
	atomic_store_explicit(&h->state, REC_FREE, memory_order_release);
	slot_freed(&st->free_handles, (fh & 0xffffffffULL) - 1);
	return left;
}

int fuse_recover_fh_release(struct fuse_recover_store *st, uint64_t fh)
{
	int ret;

	pthread_mutex_lock(&st->lock);
	ret = fh_free(st, fh);
	pthread_mutex_unlock(&st->lock);
	return ret;
}

/* ---- request journal ---- */

/*
 * libfuse has no accessor for a request's unique; the read hook noted it
 * for the thread that dispatches the request (resend.c).
 */
static int req_unique(fuse_req_t req, uint64_t *unique, bool *resend)
{
	uint64_t u;

	if (!fr_req_unique(req, &u) || (u & ~FR_UNIQUE_RESEND) == 0)
		return -EINVAL;
	*unique = u & ~FR_UNIQUE_RESEND;
	*resend = (u & FR_UNIQUE_RESEND) != 0;
	return 0;
}

static struct st_thread *thread_state_new(struct fuse_recover_store *st)
{
	int i;

	if (tls && tls->st != st)	/* left over from a closed store */
		return NULL;
	pthread_mutex_lock(&st->lock);
	for (i = 0; i < ST_JOURNAL && st->jused[i]; i++)
		;
	if (i < ST_JOURNAL) {
		if (!tls) {
			tls = calloc(1, sizeof(*tls));
			if (tls)
				pthread_setspecific(st->tkey, tls);
		}
		if (tls) {
			tls->st = st;
			tls->slot = i;
			tls->tgen = st->tgen;
			st->jused[i] = true;
		}
	} else if (tls) {
		/* Its old record is another's now: journal nothing. */
		tls->active = false;
		pthread_mutex_unlock(&st->lock);
		return NULL;
	}
	pthread_mutex_unlock(&st->lock);
	return tls;
}

/* Inline: every request of a hooked store starts here. */
static inline struct st_thread *thread_state(struct fuse_recover_store *st)
{
	if (__builtin_expect(tls && tls->st == st && tls->tgen == st->tgen, 1))
		return tls;
	return thread_state_new(st);
}

/*
 * Release stores: they stay in program order, which is all a reader after
 * our death needs (nobody reads a record while its thread lives), without
 * a full barrier each on every request.  Done stays done (@done, from the
 * first attempt): this attempt may die too, and the one after it must
 * still know the operation happened.
 */
static inline void jrec_start(struct st_jrec *j, uint64_t unique,
			      uint32_t done)
{
	atomic_store_explicit(&j->unique, 0, memory_order_release);
	atomic_store_explicit(&j->n, 0, memory_order_release);
	atomic_store_explicit(&j->done, done, memory_order_release);
	atomic_store_explicit(&j->fh, 0, memory_order_release);
	j->age = 0;
	atomic_store_explicit(&j->unique, unique, memory_order_release);
}

/* Inlined: on every request through fr_journal_request(). */
static inline __attribute__((always_inline))
int journal_begin(struct fuse_recover_store *st, uint64_t unique, bool resend,
		  bool hooked)
{
	struct st_thread *t;
	size_t i;
	int ret = 0;
	int old_slot = -1;

	t = thread_state(st);
	if (!t)
		return 0;
	t->have_prev = false;
	if (resend) {
		pthread_mutex_lock(&st->lock);
		for (i = 0; i < st->nleft; i++) {
			if (st->left[i].unique == unique) {
				t->prev = st->left[i];
				old_slot = t->prev.slot;
				st->left[i] = st->left[--st->nleft];
				t->have_prev = true;
				ret = 1;
				break;
			}
		}
		pthread_mutex_unlock(&st->lock);
	}
	jrec_start(&st->journal[t->slot], unique,
		   t->have_prev ? t->prev.done : 0);
	if (old_slot >= 0) {
		/* Only now: a kill before this leaves one of the two. */
		pthread_mutex_lock(&st->lock);
		atomic_store(&st->journal[old_slot].unique, 0);
		st->jused[old_slot] = false;
		pthread_mutex_unlock(&st->lock);
	}
	t->active = true;
	t->hooked = hooked;
	t->unique = unique;
	t->begun = ret;
	return ret;
}

int fuse_recover_req_begin(struct fuse_recover_store *st, fuse_req_t req)
{
	struct st_thread *t = tls;
	uint64_t unique;
	bool resend;

	if (!st->shared || req_unique(req, &unique, &resend) < 0)
		return 0;
	/* The read hook began it already: say what it found. */
	if (t && t->st == st && t->active && t->hooked && t->unique == unique)
		return t->begun;
	return journal_begin(st, unique, resend, false);
}

static inline void journal_end(struct fuse_recover_store *st,
			       struct st_thread *t)
{
	uint32_t i;

	atomic_store_explicit(&st->journal[t->slot].unique, 0,
			      memory_order_release);
	t->active = false;
	if (!t->have_prev)
		return;
	/*
	 * What the first attempt took and this one did not (the tree changed
	 * in between): give it back, the kernel never heard of it.
	 */
	for (i = 0; i < t->prev.n; i++)
		fuse_recover_node_forget(st, t->prev.ino[i], 1);
	if (t->prev.fh)
		fuse_recover_fh_release(st, t->prev.fh);
	t->have_prev = false;
}

void fuse_recover_req_end(struct fuse_recover_store *st)
{
	struct st_thread *t = tls;

	/* One the read hook began ends with its reply. */
	if (!t || t->st != st || !t->active || t->hooked)
		return;
	journal_end(st, t);
}

/*
 * Every request of an attached state-store server is journaled from the
 * io hooks: begun on the thread that read it (which dispatches it), ended
 * when its reply is written on that thread.  A reply from another thread
 * leaves the record to the reader's next request, which begins afresh.
 */
void fr_journal_request(uint64_t unique)
{
	struct fuse_recover_store *st = hooked_store;

	if (st && (unique & ~FR_UNIQUE_RESEND))
		journal_begin(st, unique & ~FR_UNIQUE_RESEND,
			      unique & FR_UNIQUE_RESEND, true);
}

void fr_journal_reply(uint64_t unique)
{
	struct st_thread *t = tls;

	if (t && t->active && t->hooked && t->st == hooked_store &&
	    t->unique == (unique & ~FR_UNIQUE_RESEND))
		journal_end(t->st, t);
}

void fuse_recover_req_mark_started(struct fuse_recover_store *st)
{
	struct st_jrec *j = cur_rec(st);

	if (j)
		atomic_fetch_or(&j->done, JR_STARTED);
}

void fuse_recover_req_mark_done(struct fuse_recover_store *st)
{
	struct st_jrec *j = cur_rec(st);

	if (j)
		atomic_fetch_or(&j->done, JR_STARTED | JR_DONE);
}

static uint32_t first_attempt(struct fuse_recover_store *st)
{
	if (!tls || tls->st != st || !tls->active || !tls->have_prev)
		return 0;
	return tls->prev.done;
}

int fuse_recover_req_done(struct fuse_recover_store *st)
{
	return (first_attempt(st) & JR_DONE) ? 1 : 0;
}

int fuse_recover_req_maybe_done(struct fuse_recover_store *st)
{
	return first_attempt(st) == JR_STARTED;
}

/* For the replay rules, which see the request but not the store. */
bool fr_req_first_may_have_done(void)
{
	return tls && first_attempt(tls->st);
}

int fuse_recover_node_find(struct fuse_recover_store *st, uint64_t key,
			   const void *data, fuse_ino_t *ino)
{
	struct st_node *n;
	uint64_t slot;
	int err = 0;

	pthread_mutex_lock(&st->lock);
	if (memcmp(node_at(st, 0)->data, data, st->g.node_data_size) == 0)
		*ino = FUSE_ROOT_ID;
	else if ((n = find_node(st, key, data, &slot)))
		*ino = node_id(slot, atomic_load(&n->gen));
	else
		err = -ENOENT;
	pthread_mutex_unlock(&st->lock);
	return err;
}

void fuse_recover_node_unref(struct fuse_recover_store *st, fuse_ino_t ino)
{
	struct st_jrec *j = cur_rec(st);
	uint32_t i, n;

	if (j) {
		/* Note out first: a crash in between leaves a high count. */
		n = atomic_load(&j->n);
		if (n > FUSE_RECOVER_REQ_NODES_MAX)
			n = FUSE_RECOVER_REQ_NODES_MAX;
		for (i = n; i-- > 0;) {
			if (atomic_load(&j->ino[i]) != ino)
				continue;
			atomic_store(&j->ino[i], atomic_load(&j->ino[n - 1]));
			atomic_store(&j->n, n - 1);
			break;
		}
	}
	fuse_recover_node_forget(st, ino, 1);
}

/* ---- files kept by the supervisor ---- */

int fuse_recover_keep_file(int fd, uint64_t key)
{
	return fr_keep_fd(fd, FR_KEEP_FILE, key);
}

void fuse_recover_unkeep_file(uint64_t key)
{
	fr_unkeep_fd(FR_KEEP_FILE, key);
}

int fuse_recover_kept_files(int (*cb)(uint64_t key, int fd, void *arg),
			    void *arg)
{
	return fr_kept_foreach(FR_KEEP_FILE, cb, arg);
}

/*
 * Live upgrade (upgrade.c).  A standby's store is taken once the old
 * server has drained; an old server that resumes after its successor
 * served (rollback) takes it again as a restarted server would: what was
 * free and which journal records are live may all have changed, and its
 * threads pick their journal records anew.
 */
int fr_store_activate(void)
{
	struct fuse_recover_store *st = hooked_store;
	int err = 0;

	if (!st || !st->deferred)
		return 0;
	pthread_mutex_lock(&st->lock);
	err = take_store(st);
	st->deferred = false;
	pthread_mutex_unlock(&st->lock);
	if (!err)
		backing_recover(st);
	return err;
}

int fr_store_resync(void)
{
	struct fuse_recover_store *st = hooked_store;
	int err;

	if (!st || !st->shared)
		return 0;
	pthread_mutex_lock(&st->lock);
	free(st->left);
	st->left = NULL;
	st->nleft = 0;
	memset(st->jused, 0, sizeof(st->jused));
	st->tgen++;
	err = take_store(st);
	pthread_mutex_unlock(&st->lock);
	return err;
}
