// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target: the supervisor protocol decoder (lib/proto.c).  Both
 * ends of the socket decode what the other sends, and the other end may be
 * any program of the same user.  A decoded message must re-encode to the
 * same bytes, and its blobs must lie inside the datagram.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char again[FRP_MAX_MSG];
	struct frp_msg m, m2;
	unsigned char *buf;
	unsigned int sum = 0;
	ssize_t len;
	size_t i, k;

	if (size > FRP_MAX_MSG)
		return 0;
	/* An exact-size copy: ASan sees any read past the datagram. */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (frp_decode(buf, size, &m) == 0) {
		for (i = 0; i < FRP_MAX_BLOBS; i++) {
			const unsigned char *b = m.blob[i];

			if ((const unsigned char *)m.blob[i] < buf ||
			    b + m.blob_len[i] > buf + size)
				abort();
			for (k = 0; k < m.blob_len[i]; k++)
				sum += b[k];
		}
		if (m.nfd > FRP_MAX_FDS)
			abort();
		len = frp_encode(&m, again, sizeof(again));
		if (len != (ssize_t)size || memcmp(again, buf, size) != 0)
			abort();
		if (frp_decode(again, len, &m2) != 0 || m2.type != m.type ||
		    m2.nfd != m.nfd)
			abort();
	}
	free(buf);
	return sum == 0xdeadbeef;	/* keep the reads */
}
