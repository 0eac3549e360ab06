// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * FUSE_INIT capture and replay.
 *
 * libfuse answers every request of a session that has not seen FUSE_INIT
 * with EIO, and the kernel will never send a second INIT on a live
 * connection.  So a restarted server's session is fed the INIT request
 * saved at first start; libfuse negotiates again (and runs the filesystem's
 * init), and the reply it would send is swallowed and compared with the one
 * the kernel accepted back then: the kernel keeps the old parameters, so a
 * server that now wants something else must be stopped, not run.
 *
 * Both steps run synchronously inside fuse_session_attach(), before any
 * loop thread exists, so no real request can be read half-way through.
 */
#include "fuse_recover_i.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

/* One request through libfuse's normal receive and dispatch path. */
static int run_one_request(struct fr_session *s)
{
	struct fuse_buf buf = { .mem = NULL };
	int res = fuse_session_receive_buf(s->se, &buf);

	if (res > 0)
		fuse_session_process_buf(s->se, &buf);
	else if (res == 0)
		res = -ENOTCONN; /* exited or unmounted before INIT */
	free(buf.mem);
	return res < 0 ? res : 0;
}

static int reply_error(const struct fr_blob *out)
{
	const struct fuse_out_header *h = out->data;

	if (!h || out->len < sizeof(*h))
		return -EPROTO;
	return h->error;
}

int fr_init_capture(struct fr_session *s)
{
	int err;

	s->mode = FR_IO_CAPTURE;
	err = run_one_request(s);
	s->mode = FR_IO_NORMAL;
	if (err)
		return err;
	if (!s->init_in.data || !s->init_out.data) {
		fr_log(LOG_ERR, "first request on the new mount was not FUSE_INIT");
		return -EPROTO;
	}
	err = reply_error(&s->init_out);
	if (err)
		fr_log(LOG_ERR, "FUSE_INIT failed: %s", strerror(-err));
	return err;
}

int fr_init_replay(struct fr_session *s)
{
	char why[256];
	int err;

	s->mode = FR_IO_REPLAY;
	err = run_one_request(s);
	s->mode = FR_IO_NORMAL;
	if (err)
		return err;
	if (!s->replay_out.data) {
		fr_log(LOG_ERR, "replayed FUSE_INIT produced no reply");
		return -EPROTO;
	}
	err = fr_init_compare(s->init_out.data, s->init_out.len,
			      s->replay_out.data, s->replay_out.len, why,
			      sizeof(why));
	if (err)
		fr_log(LOG_ERR,
		       "refusing to take over: %s; the mount keeps waiting for a compatible server",
		       why);
	return err;
}

/*
 * libfuse 3.14 speaks protocol 7.31 and knows nothing of flags2; the
 * kernel reads flags2 from the reply whenever FUSE_INIT_EXT is set, so
 * capabilities libfuse cannot name are added to its reply here (only those
 * the kernel offered in @in).
 */
void fr_init_patch_reply(struct fr_blob *out, const struct fr_blob *in,
			 uint64_t add)
{
	struct fuse_out_header *h = out->data;
	struct fuse_init_out *o;
	struct fr_kernel k;

	if (!add || !h || out->len < sizeof(*h) + 36 || h->error ||
	    fr_probe_init_in(in->data, in->len, &k))
		return;
	add &= k.flags;
	if (!add)
		return;
	o = (struct fuse_init_out *)(h + 1);
	o->flags |= FUSE_INIT_EXT | (uint32_t)add;
	o->flags2 |= add >> 32;
}

/* The part of fuse_init_out every protocol minor >= 23 sends. */
struct init_out_view {
	uint32_t major, minor, max_readahead, flags;
	uint16_t max_background, congestion_threshold;
	uint32_t max_write, time_gran;
	uint16_t max_pages, map_alignment;
	uint32_t flags2;
};

static int view(const void *msg, size_t len, struct init_out_view *v,
		int32_t *error)
{
	const struct fuse_out_header *h = msg;
	size_t body;

	if (!msg || len < sizeof(*h))
		return -EPROTO;
	*error = h->error;
	memset(v, 0, sizeof(*v));
	body = len - sizeof(*h);
	memcpy(v, (const char *)msg + sizeof(*h),
	       body < sizeof(*v) ? body : sizeof(*v));
	return 0;
}

int fr_init_compare(const void *orig, size_t orig_len, const void *now,
		    size_t now_len, char *why, size_t why_len)
{
	struct init_out_view a, b;
	int32_t ea, eb;
	uint64_t fa, fb;
	bool tuning;

	if (view(orig, orig_len, &a, &ea) || view(now, now_len, &b, &eb)) {
		snprintf(why, why_len, "malformed FUSE_INIT reply");
		return -EPROTO;
	}
	if (eb) {
		/* The header is raw input: -INT_MIN cannot even be negated. */
		if (eb > 0 || eb < -4095)
			snprintf(why, why_len,
				 "FUSE_INIT reply carries error %d, not an errno",
				 eb);
		else
			snprintf(why, why_len, "FUSE_INIT now fails with %s",
				 strerror(-eb));
		return -EPROTO;
	}
	if (ea || orig_len != now_len || a.major != b.major ||
	    a.minor != b.minor) {
		snprintf(why, why_len,
			 "protocol %u.%u (%zu bytes) differs from the negotiated %u.%u (%zu bytes)",
			 b.major, b.minor, now_len, a.major, a.minor, orig_len);
		return -EPROTO;
	}
	fa = a.flags | ((a.flags & FUSE_INIT_EXT) ? (uint64_t)a.flags2 << 32 : 0);
	fb = b.flags | ((b.flags & FUSE_INIT_EXT) ? (uint64_t)b.flags2 << 32 : 0);
	/*
	 * auto_inval_data is the kernel's page cache policy (drop a file's
	 * pages when a fresh mtime differs), nothing a server's replies rely
	 * on either way: a new version of a server may turn it on or off, and
	 * the kernel keeps the first server's choice, like the tuning below.
	 */
	tuning = (fa ^ fb) & FUSE_AUTO_INVAL_DATA;
	fa &= ~(uint64_t)FUSE_AUTO_INVAL_DATA;
	fb &= ~(uint64_t)FUSE_AUTO_INVAL_DATA;
	if (fa != fb) {
		snprintf(why, why_len,
			 "capabilities differ: wants 0x%" PRIx64
			 " not negotiated, drops 0x%" PRIx64,
			 fb & ~fa, fa & ~fb);
		return -EPROTO;
	}
	if (b.max_write < a.max_write || b.max_pages < a.max_pages) {
		snprintf(why, why_len,
			 "max_write %u (max_pages %u) is below the negotiated %u (%u)",
			 b.max_write, b.max_pages, a.max_write, a.max_pages);
		return -EPROTO;
	}
	/* The kernel keeps its values for these; a new wish is moot. */
	if (tuning || a.max_readahead != b.max_readahead ||
	    a.max_background != b.max_background ||
	    a.congestion_threshold != b.congestion_threshold ||
	    a.time_gran != b.time_gran || a.max_write != b.max_write)
		fr_log(LOG_WARNING,
		       "FUSE_INIT tuning differs from the first server's; the kernel keeps the old values");
	snprintf(why, why_len, "same");
	return 0;
}
