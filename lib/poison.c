// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Poison requests: a request that kills the server kills every successor
 * too, because the kernel resends it to each of them.  Resent requests are
 * counted in a small table that outlives the server (kept like a state
 * store); one that has been resent to as many servers as the limit allows
 * and was never answered is answered EIO here, so the mount lives on.
 *
 * Only resent requests are counted: a restart is the only time anything
 * here runs, and the hot path pays one bit test.
 */
#include "fuse_recover_i.h"

#include <errno.h>
#include <stdatomic.h>
#include <linux/fuse.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#define POISON_SLOTS 255
#define POISON_MAGIC 0x4e53494f50524621ull /* "!FRPOISN" */

struct poison_rec {
	_Atomic uint64_t unique;	/* 0: free */
	uint64_t nodeid;
	uint32_t opcode;
	_Atomic uint32_t deaths;	/* servers that read it and died */
};

struct poison_table {
	uint64_t magic;
	uint64_t pad;
	struct poison_rec rec[POISON_SLOTS];
};

static struct poison_table *table;
static unsigned int limit;

int fr_poison_start(struct fr_session *s, unsigned int max_deaths)
{
	struct stat sb;
	void *m;
	int fd = -ENOENT, err;
	bool kept = false;

	limit = max_deaths;
	if (table || !limit)
		return 0;
	if (s->recovered)
		fd = fr_kept_fd(FR_KEEP_STATE, FR_KEY_POISON);
	if (fd >= 0) {
		kept = true;
		/* Sealed like a state store: nobody may shrink it under us. */
		if (fstat(fd, &sb) < 0 || sb.st_size != sizeof(*table) ||
		    (fr_state_sealable() && !fr_seal_size(fd)))
			fd = -EBADMSG;
	}
	if (fd < 0) {
		if (kept)
			fr_log(LOG_WARNING,
			       "poison table of the previous server is damaged: starting empty");
		kept = false;
		fd = fr_state_memfd("fuse-recover-poison");
		if (fd < 0)
			return fd;
		if (ftruncate(fd, sizeof(*table)) < 0) {
			err = -errno;
			close(fd);
			return err;
		}
		if (fr_state_sealable() && !fr_seal_size(fd)) {
			close(fd);
			return -EBADMSG;
		}
	}
	m = mmap(NULL, sizeof(*table), PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 0);
	if (m == MAP_FAILED) {
		err = -errno;
		if (!kept)
			close(fd);
		return err;
	}
	if (!kept) {
		err = fr_keep_fd(fd, FR_KEEP_STATE, FR_KEY_POISON);
		close(fd);
		if (err) {
			munmap(m, sizeof(*table));
			return err;
		}
	}
	table = m;
	if (table->magic != POISON_MAGIC) {
		memset(table, 0, sizeof(*table));
		table->magic = POISON_MAGIC;
	}
	return 0;
}

static struct poison_rec *find(uint64_t unique)
{
	size_t i;

	for (i = 0; i < POISON_SLOTS; i++)
		if (table->rec[i].unique == unique)
			return &table->rec[i];
	return NULL;
}

FR_COLD bool fr_poison_check(int fd, const struct fuse_in_header *in)
{
	struct poison_rec *r;
	uint64_t free_ = 0;
	size_t i;

	if (!table || !(in->unique & FR_UNIQUE_RESEND))
		return false;
	r = find(in->unique);
	if (!r) {
		for (i = 0; i < POISON_SLOTS; i++) {
			r = &table->rec[i];
			free_ = 0;
			if (atomic_compare_exchange_strong_explicit(&r->unique,
							&free_, in->unique,
							__ATOMIC_ACQ_REL,
							__ATOMIC_RELAXED))
				break;
		}
		if (i == POISON_SLOTS)
			return false; /* full: no protection, no harm */
		r->opcode = in->opcode;
		r->nodeid = in->nodeid;
		r->deaths = 0;
	}
	/* Being resent means the server that read it before died. */
	if (++r->deaths < limit)
		return false;
	fr_log(LOG_ERR,
	       "request %llu (opcode %u, node %llu) was read by %u servers that all died: answering EIO",
	       (unsigned long long)(in->unique & ~FR_UNIQUE_RESEND),
	       in->opcode, (unsigned long long)in->nodeid, r->deaths);
	r->unique = 0;
	if (in->opcode != FUSE_FORGET && in->opcode != FUSE_BATCH_FORGET) {
		struct fuse_out_header h = {
			.len = sizeof(h), .error = -EIO, .unique = in->unique
		};

		if (write(fd, &h, sizeof(h)) < 0)
			fr_log(LOG_WARNING, "cannot fail request: %s",
			       strerror(errno));
	}
	return true;
}

void fr_poison_answered(uint64_t unique)
{
	struct poison_rec *r;

	if (!table || !(unique & FR_UNIQUE_RESEND))
		return;
	r = find(unique);
	if (r)
		r->unique = 0;
}
