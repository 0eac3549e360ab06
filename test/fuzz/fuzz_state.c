// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target: opening a state store someone else has written
 * (lib/state.c).  The store's memfd comes back from the supervisor and its
 * pages can be written by anyone holding it, so neither the header nor the
 * tables may steer the library outside the mapping.
 *
 * Input: bytes xored into a valid header after its magic (the checksum
 * then fixed up, as an attacker would; all zero leaves the header valid),
 * an optional file size, then patches (32-bit offset, 64-bit value)
 * applied anywhere in the file, then operations on whatever opened, among
 * them more patches written while it is open (another holder of the memfd
 * at work).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fuse_log.h>

#include "fuse_recover.h"
#include "state_format.h"

#define DATA 16
#define MAX_FILE (8u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct fuse_recover_store_config cfg = {
	.server_version = 3,
	.node_data_size = DATA,
	.max_nodes = 1024,
	.max_handles = 256,
};

/* A valid store's bytes, made once by the library itself. */
static unsigned char *valid;
static size_t valid_size;

static void quiet(enum fuse_log_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
}

static int make_valid(void)
{
	struct fuse_recover_store *st;
	unsigned char root[DATA] = { 1 };
	unsigned char d[DATA];
	fuse_ino_t ino;
	uint64_t fh;
	struct stat sb;
	int fd = memfd_create("fuzz-state", MFD_CLOEXEC), i;

	if (fd < 0 || fuse_recover_store_open_fd(fd, &cfg, &st) < 0 ||
	    fuse_recover_store_root(st, root) < 0)
		abort();
	for (i = 0; i < 20; i++) {
		memset(d, i + 2, sizeof(d));
		if (fuse_recover_node_ref(st, i, d, &ino, NULL) < 0 ||
		    fuse_recover_fh_new(st, ino, 0, &fh) < 0)
			abort();
	}
	fuse_recover_store_close(st);
	if (fstat(fd, &sb) < 0)
		abort();
	valid_size = sb.st_size;
	valid = malloc(valid_size);
	if (!valid || pread(fd, valid, valid_size, 0) != (ssize_t)valid_size)
		abort();
	close(fd);
	return 0;
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

static void exercise(struct fuse_recover_store *st, int fd,
		     const uint8_t *p, size_t n)
{
	unsigned char d[DATA], out[DATA];
	unsigned char root[DATA] = { 1 };
	fuse_ino_t ino;
	uint64_t fh, nl;
	uint32_t opens, flags;

	fuse_recover_store_root(st, root);
	while (n) {
		unsigned int op = take(&p, &n, 1);
		uint64_t v = take(&p, &n, 8);

		memset(d, (int)v, sizeof(d));
		switch (op % 9) {
		case 0:
			fuse_recover_node_ref(st, v, d, &ino, NULL);
			break;
		case 1:
			if (fuse_recover_node_find(st, v, d, &ino) == 0)
				fuse_recover_node_forget(st, ino, 1);
			break;
		case 2:
			fuse_recover_node_data(st, v, out);
			fuse_recover_node_counts(st, v, &nl, &opens);
			break;
		case 3:
			fuse_recover_node_forget(st, v, v >> 60);
			break;
		case 4:
			fuse_recover_fh_new(st, v, 0, &fh);
			break;
		case 5:
			fuse_recover_fh_get(st, v, &ino, &flags);
			break;
		case 6:
			fuse_recover_fh_release(st, v);
			break;
		case 7:
			fuse_recover_node_unref(st, v);
			break;
		default: {
			uint64_t val = take(&p, &n, 8);
			/* Often the header: its counters are read live. */
			size_t off = (v >> 32) & 1 ?
				(v & 0xffffffff) % sizeof(struct st_header) :
				(v & 0xffffffff) % (valid_size - 8);

			if (pwrite(fd, &val, sizeof(val), off) < 0)
				abort();
			break;
		}
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuse_recover_store *st = NULL;
	unsigned char *img;
	struct st_header *h;
	size_t n = size, fsize, over, npatch, i;
	const uint8_t *p = data;
	int fd;

	if (!valid) {
		/* Every refusal logs; thousands a second only slow it down. */
		fuse_set_log_func(quiet);
		make_valid();
	}
	img = malloc(valid_size);
	if (!img)
		return 0;
	memcpy(img, valid, valid_size);
	h = (struct st_header *)img;
	over = n < sizeof(*h) ? n : sizeof(*h);
	for (i = 8; i < over; i++)
		img[i] ^= p[i];
	p += over;
	n -= over;
	h->csum = fnv1a(&h->g, sizeof(h->g));
	fsize = valid_size;
	if (n >= 4 && take(&p, &n, 1) == 0xff)
		fsize = take(&p, &n, 3) << 12;
	if (fsize > MAX_FILE)
		fsize = MAX_FILE;
	npatch = take(&p, &n, 1) % 32;
	while (npatch-- && n >= 12) {
		uint32_t off = take(&p, &n, 4) % (valid_size - 8);
		uint64_t v = take(&p, &n, 8);

		if (off >= sizeof(*h))
			memcpy(img + off, &v, sizeof(v));
	}

	fd = memfd_create("fuzz-state", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, fsize) < 0)
		abort();
	if (pwrite(fd, img, fsize < valid_size ? fsize : valid_size, 0) < 0)
		abort();
	if (fuse_recover_store_open_fd(fd, &cfg, &st) >= 0) {
		exercise(st, fd, p, n);
		fuse_recover_store_close(st);
		/* What it left must open again. */
		if (fuse_recover_store_open_fd(fd, &cfg, &st) >= 0)
			fuse_recover_store_close(st);
	}
	close(fd);
	free(img);
	return 0;
}
