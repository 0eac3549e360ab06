// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target: opening an id map someone else has written
 * (lib/idmap.c).  The map's memfd comes back from the supervisor (or lies
 * in a runtime file on the kernel path) and any holder can write its
 * pages, so neither its header nor its records (node states, parents,
 * name lengths, long-name slots, the name index, handle records, the
 * directory offsets of xl_dirpos) may steer the library outside the
 * mapping.
 *
 * Input: bytes xored into a valid header (all zero leaves it valid), an
 * optional file size, then patches (32-bit offset, 64-bit value) applied
 * anywhere in the file, then operations on whatever opened, among them
 * more patches written while it is open (another holder at work).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "idmap.h"

#define NODES 256
#define HANDLES 128
#define MAX_FILE (8u << 20)
#define HEADER 128	/* struct xl_header is private to idmap.c; it fits */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned char *valid;
static size_t valid_size;
static uint64_t kids[24], kfhs[8];

/* A valid map's bytes: nodes with short and long names, handles, offsets. */
static void make_valid(void)
{
	struct xl_dirent_pos ent[4] = { { 10, 1 }, { 20, 2 }, { 30, 3 },
					{ 40, 4 } };
	struct fr_idmap *m;
	struct stat sb;
	char name[300];
	int fd = memfd_create("fuzz-idmap", MFD_CLOEXEC), i;

	if (fd < 0 || fr_idmap_open(fd, NODES, HANDLES, &m) != 0)
		abort();
	fr_idmap_lock(m);
	for (i = 0; i < 24; i++) {
		struct fr_idmap_ident id = { .srv = 1000 + i, .ino = i,
					     .mode = i % 3 ? S_IFREG : S_IFDIR };
		struct xl_node *n;
		size_t len = i % 4 ? 5 + i : 100 + i;

		if (fr_idmap_node_new(m, &id, &n))
			abort();
		memset(name, 'a' + i, len);
		fr_idmap_set_name(m, n, i ? kids[i / 2] : XL_ROOT, name, len);
		n->nlookup = 1;
		kids[i] = fr_idmap_node_id(m, n);
	}
	for (i = 0; i < 8; i++) {
		struct xl_handle *f;

		if (fr_idmap_handle_new(m, &f, &kfhs[i]))
			abort();
		f->node = kids[i];
		f->dir = 1;
		fr_idmap_handle_bind(m, f, 77 + i);
		fr_idmap_dir_note(m, f, kfhs[i], ent, 4);
	}
	fr_idmap_unlock(m);
	fr_idmap_close(m);
	if (fstat(fd, &sb) < 0)
		abort();
	valid_size = sb.st_size;
	valid = malloc(valid_size);
	if (!valid || pread(fd, valid, valid_size, 0) != (ssize_t)valid_size)
		abort();
	close(fd);
}

static uint64_t take(const uint8_t **p, size_t *n, size_t len)
{
	uint64_t v = 0;

	if (*n < len)
		len = *n;
	memcpy(&v, *p, len);
	*p += len;
	*n -= len;
	return v;
}

/* An id worth trying: a known one, or anything. */
static uint64_t pick(uint64_t v, const uint64_t *known, size_t nknown)
{
	return v & 1 ? known[(v >> 1) % nknown] : v >> 1;
}

static void exercise(struct fr_idmap *m, int fd, const uint8_t *p, size_t n)
{
	struct xl_dirent_pos anchors[2 * XL_DIRPOS_ENTS], ent[3];
	char name[XL_LONGNAME_MAX + 1];
	const char *nm;
	uint32_t count;
	uint64_t epoch, kfh;

	fr_idmap_lock(m);
	while (n) {
		unsigned int op = take(&p, &n, 1);
		uint64_t v = take(&p, &n, 8);
		uint64_t kid = pick(v, kids, 24);
		struct xl_node *node = fr_idmap_node(m, kid), *other;
		struct xl_handle *f = fr_idmap_handle(m, pick(v, kfhs, 8));
		size_t len = (v >> 8) % sizeof(name);

		memset(name, (int)(v >> 16), sizeof(name));
		switch (op % 10) {
		case 0:
			if (node) {
				fr_idmap_name(m, node, &nm);
				/* Walk up as resolve() does, bounded. */
				for (int d = 0; node && d < 64; d++)
					node = node->parent ?
						fr_idmap_node(m, node->parent) :
						NULL;
			}
			break;
		case 1:
			/* An UNLINK's reply unnames by what it finds. */
			if (v & 1)
				fr_idmap_unname_by(m, kid, name, len);
			else
				fr_idmap_find_name(m, kid, name, len);
			break;
		case 2:
			if (node && len)
				fr_idmap_set_name(m, node, pick(v >> 3, kids, 24),
						  name, len);
			break;
		case 3:
			if (node)
				fr_idmap_node_free(m, node);
			break;
		case 4: {
			struct fr_idmap_ident id = { .srv = v, .ino = v >> 3 };

			if (fr_idmap_node_new(m, &id, &other) == 0) {
				fr_idmap_bind(m, other, v ^ 1);
				fr_idmap_by_srv(m, v ^ 1);
			}
			break;
		}
		case 5:
			if (f) {
				fr_idmap_dir_find(m, f, pick(v, kfhs, 8), v >> 20,
						  anchors, &count, &epoch);
				fr_idmap_dir_find(m, f, pick(v, kfhs, 8), 10 * (v % 5),
						  anchors, &count, &epoch);
			}
			break;
		case 6:
			if (f) {
				ent[0] = (struct xl_dirent_pos){ v, v };
				ent[1] = ent[2] = ent[0];
				fr_idmap_dir_note(m, f, pick(v, kfhs, 8), ent, 3);
			}
			break;
		case 7:
			if (f)
				fr_idmap_handle_free(m, f);
			else if (fr_idmap_handle_new(m, &f, &kfh) == 0)
				kfhs[v % 8] = kfh;
			break;
		case 8:
			if (node)
				fr_idmap_unname(m, node);
			break;
		default: {
			uint64_t val = take(&p, &n, 8);
			size_t off = (v & 0xffffffff) % (valid_size - 8);

			/* The mapping is MAP_SHARED: this is what it sees. */
			if (pwrite(fd, &val, sizeof(val), off) < 0)
				abort();
			break;
		}
		}
	}
	fr_idmap_unlock(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fr_idmap *m = NULL;
	unsigned char *img;
	size_t n = size, fsize, over, npatch, i;
	const uint8_t *p = data;
	int fd;

	if (!valid)
		make_valid();
	img = malloc(valid_size);
	if (!img)
		return 0;
	memcpy(img, valid, valid_size);
	over = n < HEADER ? n : HEADER;
	for (i = 0; i < over; i++)
		img[i] ^= p[i];
	p += over;
	n -= over;
	fsize = valid_size;
	if (n >= 4 && take(&p, &n, 1) == 0xff)
		fsize = take(&p, &n, 3) << 12;
	if (fsize > MAX_FILE)
		fsize = MAX_FILE;
	npatch = take(&p, &n, 1) % 32;
	while (npatch-- && n >= 12) {
		uint32_t off = take(&p, &n, 4) % (valid_size - 8);
		uint64_t v = take(&p, &n, 8);

		memcpy(img + off, &v, sizeof(v));
	}
	fd = memfd_create("fuzz-idmap", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, fsize) < 0)
		abort();
	if (fsize && pwrite(fd, img, fsize < valid_size ? fsize : valid_size,
			    0) < 0)
		abort();
	/* An empty file is a new map: nothing of the input in it. */
	if (fsize && fr_idmap_open(fd, NODES, HANDLES, &m) >= 0) {
		exercise(m, fd, p, n);
		fr_idmap_close(m);
		/* What it left must open again. */
		if (fr_idmap_open(fd, NODES, HANDLES, &m) >= 0)
			fr_idmap_close(m);
	}
	close(fd);
	free(img);
	return 0;
}
