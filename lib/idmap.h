/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The translation layer's id map (idmap.c), used by xlate.c. */
#ifndef FR_IDMAP_H_
#define FR_IDMAP_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XL_ROOT 1ull		/* FUSE_ROOT_ID, the same on both sides */
#define XL_NAME_INLINE 58
#define XL_LONGNAME_MAX 255
#define XL_MAX_NODES (1ull << 31)
#define XL_MAX_HANDLES (1ull << 31)

/*
 * One node the kernel knows, 128 bytes (two cache lines) in shared memory.
 * The first line has what the request path and the name index read: the
 * ids, the counts, the parent, the name's length and its first
 * XL_NAME_LINE1 bytes, so that an UNLINK finding a short name by its
 * parent touches one line of the record.  The identity, read only when
 * the node is made and when it is resolved again, is at the end.
 */
#define XL_NAME_LINE1 14
struct xl_node {
	_Atomic uint64_t state;		/* generation << 1 | live */
	_Atomic uint64_t srv_epoch;	/* run that srv_id belongs to */
	uint64_t srv_id;
	uint64_t parent;		/* kernel id; 0: no name known */
	_Atomic uint64_t nlookup;	/* the kernel's lookup count */
	uint64_t srv_nlookup;		/* lookups this run's server gave */
	_Atomic uint16_t namelen;
	char name[XL_NAME_INLINE];	/* or a long-name slot number */
	uint32_t mode;			/* S_IFMT bits */
	uint64_t ino, generation;	/* identity, checked on re-resolution */
};

/* One handle the kernel holds, 64 bytes. */
struct xl_handle {
	_Atomic uint64_t state;
	_Atomic uint64_t srv_epoch;
	uint64_t srv_fh;
	uint64_t node;			/* kernel node id */
	uint32_t flags;			/* open flags, for reopening */
	uint32_t uid, gid, pid;		/* the opener */
	uint32_t dir;
	uint32_t dirpos;		/* directory offsets slot + 1, 0: none */
	uint32_t pad[2];
};

/*
 * Where a directory stream stood: the offsets (d_off) of the entries of
 * the last two READDIR(PLUS) replies of one handle, each with a hash of
 * its name, and the run whose server gave them out.  The kernel continues
 * a stream only from an offset of an entry it was given, so after a
 * restart such an offset is found here, and the name tells where to go on
 * in the new server's stream (xlate.c).  Two replies, because one being
 * recorded while the server dies may never have reached the kernel.
 */
#define XL_DIRPOS_ENTS 126
struct xl_dirent_pos {
	uint64_t off, hash;
};

struct xl_dirpos_half {
	_Atomic uint64_t seq;		/* 0: empty or being written */
	uint64_t epoch;
	uint32_t count, pad;
	struct xl_dirent_pos ent[XL_DIRPOS_ENTS];
};

struct xl_dirpos {
	_Atomic uint64_t owner;		/* kernel fh, 0: free */
	uint64_t pad;
	struct xl_dirpos_half half[2];
};

struct fr_idmap_ident {
	uint64_t srv, ino, generation;
	uint32_t mode;
};

struct fr_idmap;

/* 0: new and empty, 1: an earlier run's map; -errno (-EBADMSG: corrupt). */
int fr_idmap_open(int fd, uint64_t max_nodes, uint64_t max_handles,
		  struct fr_idmap **mp);
void fr_idmap_close(struct fr_idmap *m);
uint64_t fr_idmap_epoch(const struct fr_idmap *m);
void fr_idmap_new_epoch(struct fr_idmap *m);
/* Every call below that changes the map runs under this lock. */
void fr_idmap_lock(struct fr_idmap *m);
void fr_idmap_unlock(struct fr_idmap *m);

struct xl_node *fr_idmap_node(struct fr_idmap *m, uint64_t kid);
uint64_t fr_idmap_node_id(struct fr_idmap *m, const struct xl_node *n);
bool fr_idmap_current(const struct fr_idmap *m, const struct xl_node *n);
bool fr_idmap_all_current(const struct fr_idmap *m);
/* Whether @n has a name (its parent is never 0 then; the caller locks). */
static inline bool fr_idmap_named(const struct xl_node *n)
{
	return n->parent != 0;
}
struct xl_node *fr_idmap_by_srv(struct fr_idmap *m, uint64_t srv);
/* Both false for an id that is not live or not of this run. */
bool fr_idmap_node_srv(struct fr_idmap *m, uint64_t kid, uint64_t *srv);
bool fr_idmap_handle_srv(struct fr_idmap *m, uint64_t kfh, uint64_t *srv_fh);
int fr_idmap_node_new(struct fr_idmap *m, const struct fr_idmap_ident *id,
		      struct xl_node **np);
void fr_idmap_node_free(struct fr_idmap *m, struct xl_node *n);
/* Make @n this run's server node @srv. */
int fr_idmap_bind(struct fr_idmap *m, struct xl_node *n, uint64_t srv);

size_t fr_idmap_name(struct fr_idmap *m, const struct xl_node *n,
		     const char **name);
int fr_idmap_set_name(struct fr_idmap *m, struct xl_node *n, uint64_t parent,
		      const char *name, size_t len);
void fr_idmap_unname(struct fr_idmap *m, struct xl_node *n);
/* The kernel was given @n as @name in @parent (a hint for the next). */
void fr_idmap_seen(struct fr_idmap *m, const struct xl_node *n,
		   uint64_t parent, const char *name, size_t len);
/* Unname the node named @name in @parent; false if none is. */
bool fr_idmap_unname_by(struct fr_idmap *m, uint64_t parent, const char *name,
			size_t len);
struct xl_node *fr_idmap_find_name(struct fr_idmap *m, uint64_t parent,
				   const char *name, size_t len);

struct xl_handle *fr_idmap_handle(struct fr_idmap *m, uint64_t kfh);
int fr_idmap_handle_new(struct fr_idmap *m, struct xl_handle **fp,
			uint64_t *kfh);
void fr_idmap_handle_free(struct fr_idmap *m, struct xl_handle *f);
bool fr_idmap_handle_current(const struct fr_idmap *m,
			     const struct xl_handle *f);
void fr_idmap_handle_bind(struct fr_idmap *m, struct xl_handle *f,
			  uint64_t srv_fh);

/* Record the entries of a directory reply to kernel handle @kfh. */
void fr_idmap_dir_note(struct fr_idmap *m, struct xl_handle *f, uint64_t kfh,
		       const struct xl_dirent_pos *ent, uint32_t count);
/*
 * Find offset @off among those recorded for @f: 0 and, in stream order,
 * the entries up to and including it in @anchors (at most 2 *
 * XL_DIRPOS_ENTS; *@count of them) and the run that gave it in *@epoch;
 * -ENOENT if it is not there.
 */
int fr_idmap_dir_find(struct fr_idmap *m, const struct xl_handle *f,
		      uint64_t kfh, uint64_t off, struct xl_dirent_pos *anchors,
		      uint32_t *count, uint64_t *epoch);

/* When request @unique (resend bit clear) was first read, CLOCK_REALTIME. */
void fr_idmap_note_read(struct fr_idmap *m, uint64_t unique, int64_t t_ns);
bool fr_idmap_read_time(struct fr_idmap *m, uint64_t unique, int64_t *t_ns);

#endif
