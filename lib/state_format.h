/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Layout of the state store's shared mapping (state.c).  It is a format:
 * the next server, possibly another build, reads what this one wrote, and
 * the unit tests and the fuzzer craft damaged headers from it.
 */
#ifndef FR_STATE_FORMAT_H_
#define FR_STATE_FORMAT_H_

#include "fuse_recover.h"
#include "util.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define ST_MAGIC "FRSTATE\0"
#define ST_LAYOUT 1
#define ST_HDR_SIZE 4096
#define ST_JOURNAL 256		/* records: most threads at a time */
/*
 * A record whose request is never resent (answered just before the kill)
 * is dropped after this many takeovers; one whose resend has not been
 * handled yet (the next server died first too) survives them.
 */
#define ST_LEFT_MAX_AGE 64
#define ST_DEF_NODES (1ULL << 22)
#define ST_DEF_HANDLES (1ULL << 20)
#define ST_MAX_CHAIN 100000	/* longer means a damaged chain */
#define ST_SCAN_STEP 16		/* slots checked per allocation */

enum { REC_FREE = 0, REC_LIVE = 1 };

/* Immutable after creation; covered by the checksum. */
struct st_geometry {
	char magic[8];
	uint32_t layout;
	uint32_t server_version;
	uint32_t node_data_size;
	uint32_t node_rec_size;
	uint32_t nbuckets;
	uint32_t njournal;
	uint64_t max_nodes;
	uint64_t max_handles;
	uint64_t off_journal;
	uint64_t off_buckets;
	uint64_t off_nodes;
	uint64_t off_handles;
	uint64_t size;
};

struct st_header {
	struct st_geometry g;
	uint64_t csum;
	_Atomic uint64_t node_hwm;	/* slots ever handed out */
	_Atomic uint64_t handle_hwm;
	_Atomic uint32_t root_set;
	uint32_t pad;
	_Atomic uint64_t opens;		/* times the store was opened */
};

struct st_node {
	_Atomic uint32_t state;
	_Atomic uint32_t gen;
	_Atomic uint32_t next;		/* hash chain: slot + 1, 0 ends */
	_Atomic uint32_t opens;
	_Atomic uint64_t nlookup;
	uint64_t key;
	unsigned char data[];
};

struct st_handle {
	_Atomic uint32_t state;
	_Atomic uint32_t gen;
	uint64_t ino;
	uint32_t flags;
	uint32_t pad;
	uint64_t spare;
};

/*
 * How far a request's operation got.  STARTED without DONE: the server
 * died inside the syscall (a SIGKILL is taken when it returns), so it may
 * or may not have happened.
 */
#define JR_STARTED 1u
#define JR_DONE 2u

/* What one request has taken so far; unique 0 means unused. */
struct st_jrec {
	_Atomic uint64_t unique;
	_Atomic uint32_t n;
	_Atomic uint32_t done;	/* JR_* */
	_Atomic uint64_t fh;
	_Atomic uint64_t ino[FUSE_RECOVER_REQ_NODES_MAX];
	uint64_t age;		/* takeovers it survived unclaimed */
};

/* A journal record left by the previous server, kept here until used. */
struct st_left {
	uint64_t unique;
	uint32_t n;
	uint32_t done;
	uint64_t fh;
	uint64_t ino[FUSE_RECOVER_REQ_NODES_MAX];
	uint32_t slot;		/* its record, reserved until claimed */
};

static inline uint64_t fnv1a(const void *p, size_t len)
{
	return fr_hash(FR_HASH_INIT, p, len);
}

static inline uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

#endif
