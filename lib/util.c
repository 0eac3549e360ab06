// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The library's logging and byte blobs (util.h), and the one attached
 * session every hook starts from.
 */
#include "fuse_recover_i.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fr_session *fr_current;

void fr_log(int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fuse_log((enum fuse_log_level)level, "fuse-recover: %s\n", msg);
}

int fr_blob_dup(struct fr_blob *b, const void *data, size_t len)
{
	void *copy = malloc(len ? len : 1);

	if (!copy)
		return -ENOMEM;
	memcpy(copy, data, len);
	fr_blob_free(b);
	b->data = copy;
	b->len = len;
	return 0;
}

void fr_blob_free(struct fr_blob *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
}
