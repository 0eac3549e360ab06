// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * What every holder's start shares, whoever keeps the connection: the
 * takeover (the fd becomes the new session's, the saved FUSE_INIT is
 * replayed to it, the kernel is asked to resend what the dead server had
 * read), a fresh mount through libfuse, the saved INIT as one record in a
 * file (kernel path) or a memfd (systemd's fd store), and the phase trace
 * bench/ reads.
 */
#include "fuse_recover_i.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/*
 * FUSE_RECOVER_TRACE=1 prints when each takeover phase ended (CLOCK_MONOTONIC
 * ns), for bench/ to split recovery time.  Phases: start of attach, handoff
 * (connected and holding the fd), replay (INIT replayed), resend, done.
 * A hot standby's takeover adds a line of its steps (hot_ns).
 */
static uint64_t phase_ns[FR_PH_N];

/*
 * Read once: the marks are skipped (no clock reads) when nobody asked.
 * Threads may race to cache it; each stores the same value.
 */
static bool tracing(void)
{
	static _Atomic int on = -1;
	int v = atomic_load_explicit(&on, memory_order_relaxed);

	if (v < 0) {
		const char *env = secure_getenv("FUSE_RECOVER_TRACE");

		v = env && strcmp(env, "1") == 0;
		atomic_store_explicit(&on, v, memory_order_relaxed);
	}
	return v;
}

void fr_trace_mark(enum fr_phase p)
{
	if (tracing())
		phase_ns[p] = fr_clock_ns(CLOCK_MONOTONIC);
}

/*
 * A hot standby's steps: before FR_HM_GO the supervisor's (sent with GO
 * when it traces: supervisor/util.c), then ours; 0 = none.
 */
static uint64_t hot_ns[FR_HM_N];

void fr_hot_mark(enum fr_hot_mark m)
{
	if (tracing())
		hot_ns[m] = fr_clock_ns(CLOCK_MONOTONIC);
}

void fr_hot_marks_from(const void *data, size_t len)
{
	size_t max = FR_HM_GO * sizeof(uint64_t);

	memset(hot_ns, 0, sizeof(hot_ns));
	memcpy(hot_ns, data, len < max ? len : max);
	fr_hot_mark(FR_HM_GO);
}

void fr_trace_print(void)
{
	if (!tracing())
		return;
	fr_log(LOG_INFO,
	       "trace start=%llu handoff=%llu replay=%llu resend=%llu done=%llu",
	       (unsigned long long)phase_ns[FR_PH_START],
	       (unsigned long long)phase_ns[FR_PH_HANDOFF],
	       (unsigned long long)phase_ns[FR_PH_REPLAY],
	       (unsigned long long)phase_ns[FR_PH_RESEND],
	       (unsigned long long)phase_ns[FR_PH_DONE]);
	if (hot_ns[FR_HM_GO]) {
		char buf[21 * FR_HM_N + 1];
		int i, n = 0;

		for (i = 0; i < FR_HM_N; i++)
			n += snprintf(buf + n, sizeof(buf) - n, "%s%llu",
				      i ? "," : "",
				      (unsigned long long)hot_ns[i]);
		fr_log(LOG_INFO, "hottrace %s", buf);
		hot_ns[FR_HM_GO] = 0;
	}
}

void fr_probe_kernel(struct fr_session *s)
{
	if (fr_probe_init_in(s->init_in.data, s->init_in.len, &s->kernel))
		fr_log(LOG_WARNING, "saved FUSE_INIT is unreadable");
}

/*
 * libfuse 3.19 can have the kernel wait for FUSE_INIT inside mount()
 * (FUSE_DEV_IOC_SYNC_INIT), answered by a thread of its own that
 * fuse_session_mount() starts; it is on by default for servers that use
 * fuse_daemonize_early(), as its fuse_main() does in the background.  That
 * thread takes the INIT this library must read first through the io hooks
 * to capture it ("first request on the new mount was not FUSE_INIT"), so
 * it is kept asynchronous.  Looked up at run time: older libfuse has no
 * such call and never does it.
 */
static void no_sync_init(struct fuse_session *se)
{
	void (*set)(struct fuse_session *, bool);

	*(void **)&set = dlsym(RTLD_DEFAULT, "fuse_session_set_sync_init");
	if (set)
		set(se, false);
}

/* A fresh mount of @s's mount point through libfuse (fusermount3 if need be). */
int fr_mount_fresh(struct fr_session *s)
{
	no_sync_init(s->se);
	if (fuse_session_mount(s->se, s->mountpoint) != 0)
		return -EIO; /* libfuse said why */
	s->mounted_here = true;
	s->main_fd = fuse_session_fd(s->se);
	if (fr_mount_conn_id(s->mountpoint, &s->conn_id))
		fr_log(LOG_WARNING, "%s not found in mountinfo", s->mountpoint);
	return 0;
}

void fr_unmount_fresh(struct fr_session *s)
{
	fuse_session_unmount(s->se);
}

/* The connection's fd becomes the session's (closed with it from now on). */
int fr_adopt_fd(struct fr_session *s, int fd)
{
	int err = fr_io_install(s->se, fd);

	if (err) {
		close(fd);
		return err;
	}
	s->main_fd = fd;
	s->recovered = true;
	fr_probe_kernel(s);
	return 0;
}

/*
 * After INIT, before the first real request: the poison table, and the id
 * translation for every server that does not keep its own ids.
 */
int fr_session_start(struct fr_session *s)
{
	int err = fr_poison_start(s, s->poison_deaths);

	fr_passthrough_started(s);
	if (err)
		fr_log(LOG_WARNING,
		       "no poison-request table (%s): a request that crashes every server is resent forever",
		       strerror(-err));
	if (!s->uses_store)
		return fr_xlate_start(s);
	if (s->recovered && fr_kept_fd(FR_KEEP_STATE, FR_KEY_IDMAP) >= 0) {
		fr_log(LOG_ERR,
		       "the previous server ran with translated ids and this one opens a state store: refusing to take over");
		return -EPROTO;
	}
	return 0;
}

/*
 * INIT replay, then the kernel gives back what the dead server had read:
 * the new session must be initialised before it may answer anything.
 */
int fr_replay_and_resend(struct fr_session *s)
{
	int err = fr_init_replay(s);

	if (!err)
		err = fr_session_start(s);
	if (err)
		return err;
	fr_trace_mark(FR_PH_REPLAY);
	if (!s->kernel.resend) {
		fr_log(LOG_WARNING,
		       "kernel %u.%u cannot resend: requests the old server had read stay unanswered",
		       s->kernel.major, s->kernel.minor);
		return 0;
	}
	err = fr_resend_request(s->main_fd);
	if (err)
		fr_log(LOG_ERR, "FUSE_NOTIFY_RESEND failed: %s", strerror(-err));
	return err;
}

#define INIT_MAGIC "FRINIT01"
#define INIT_PART_MAX 4096

struct init_record_hdr {
	char magic[8];
	uint32_t in_len, out_len, mnt_len, pad;
	uint64_t sum;	/* FNV-1a of everything after this header */
};

int fr_init_record_write(int fd, const struct fr_session *s)
{
	struct init_record_hdr h = { .magic = INIT_MAGIC };
	size_t mlen = strlen(s->mountpoint);
	struct iovec iov[4];
	size_t total;
	ssize_t n;

	h.in_len = s->init_in.len;
	h.out_len = s->init_out.len;
	h.mnt_len = mlen;
	h.sum = fr_hash(FR_HASH_INIT, s->init_in.data, h.in_len);
	h.sum = fr_hash(h.sum, s->init_out.data, h.out_len);
	h.sum = fr_hash(h.sum, s->mountpoint, mlen);
	iov[0] = (struct iovec){ &h, sizeof(h) };
	iov[1] = (struct iovec){ s->init_in.data, h.in_len };
	iov[2] = (struct iovec){ s->init_out.data, h.out_len };
	iov[3] = (struct iovec){ s->mountpoint, mlen };
	total = sizeof(h) + h.in_len + h.out_len + mlen;
	n = pwritev(fd, iov, 4, 0);
	if (n < 0)
		return -errno;
	return (size_t)n == total ? 0 : -EIO;
}

/* -EBADMSG: not a record, or a torn or changed one. */
int fr_init_record_read(int fd, struct fr_session *s, char **mountpoint)
{
	struct init_record_hdr h;
	char *buf = NULL;
	size_t total;
	int err = -EBADMSG;

	if (pread(fd, &h, sizeof(h), 0) != sizeof(h) ||
	    memcmp(h.magic, INIT_MAGIC, 8) != 0 || h.in_len > INIT_PART_MAX ||
	    h.out_len > INIT_PART_MAX || h.mnt_len > INIT_PART_MAX)
		return err;
	total = (size_t)h.in_len + h.out_len + h.mnt_len;
	buf = malloc(total + 1);
	if (!buf)
		return -ENOMEM;
	if (pread(fd, buf, total, sizeof(h)) != (ssize_t)total ||
	    fr_hash(FR_HASH_INIT, buf, total) != h.sum)
		goto out;
	buf[total] = 0;
	err = fr_blob_dup(&s->init_in, buf, h.in_len);
	if (!err)
		err = fr_blob_dup(&s->init_out, buf + h.in_len, h.out_len);
	if (!err) {
		*mountpoint = strdup(buf + h.in_len + h.out_len);
		err = *mountpoint ? 0 : -ENOMEM;
	}
out:
	free(buf);
	return err;
}
