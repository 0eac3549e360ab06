// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target: the saved FUSE_INIT request and replies (lib/probe.c,
 * lib/init_replay.c).  They come from the supervisor, which got them from
 * the previous server: fr_probe_init_in(), fr_init_compare() and
 * fr_init_patch_reply() must stay inside whatever lengths they are given.
 *
 * Input: two little-endian 16-bit lengths, then the original reply, the
 * new reply and the INIT request back to back.
 */
#include <linux/fuse.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuse_recover_i.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

void fr_log(int level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
}

static void *copy(const uint8_t *p, size_t n)
{
	void *c = malloc(n ? n : 1);

	if (c)
		memcpy(c, p, n);
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t la, lb, lin;
	void *a, *b, *in;
	struct fr_kernel k;
	struct fr_blob out, req;
	char why[256];
	uint64_t add;

	if (size < 4 + 8)
		return 0;
	la = data[0] | data[1] << 8;
	lb = data[2] | data[3] << 8;
	memcpy(&add, data + 4, 8);
	data += 12;
	size -= 12;
	if (la > size || lb > size - la)
		return 0;
	lin = size - la - lb;
	a = copy(data, la);
	b = copy(data + la, lb);
	in = copy(data + la + lb, lin);
	if (a && b && in) {
		fr_probe_init_in(in, lin, &k);
		fr_init_compare(a, la, b, lb, why, sizeof(why));
		if (!memchr(why, 0, sizeof(why)))
			abort();
		/* NULL and short replies as attach.c may pass them. */
		fr_init_compare(NULL, 0, b, lb, why, sizeof(why));
		out = (struct fr_blob){ .data = b, .len = lb };
		req = (struct fr_blob){ .data = in, .len = lin };
		fr_init_patch_reply(&out, &req, add);
		fr_init_compare(a, la, b, lb, why, 1);
	}
	free(a);
	free(b);
	free(in);
	return 0;
}
