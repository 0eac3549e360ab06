// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fuse_session_attach(): first start or takeover, and the clean way out.
 */
#include "fuse_recover_i.h"
#include "proto.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

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

/*
 * FUSE_RECOVER_TRACE=1 prints when each takeover phase ended (CLOCK_MONOTONIC
 * ns), for bench/ to split recovery time.  Phases: start of attach, handoff
 * (connected and holding the fd), replay (INIT replayed), resend, done.
 */
enum fr_phase { PH_START, PH_HANDOFF, PH_REPLAY, PH_RESEND, PH_DONE, PH_N };

static uint64_t phase_ns[PH_N];

static void mark(enum fr_phase p)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	phase_ns[p] = ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void print_trace(void)
{
	const char *env = secure_getenv("FUSE_RECOVER_TRACE");

	if (!env || strcmp(env, "1") != 0)
		return;
	fr_log(LOG_INFO,
	       "trace start=%llu handoff=%llu replay=%llu resend=%llu done=%llu",
	       (unsigned long long)phase_ns[PH_START],
	       (unsigned long long)phase_ns[PH_HANDOFF],
	       (unsigned long long)phase_ns[PH_REPLAY],
	       (unsigned long long)phase_ns[PH_RESEND],
	       (unsigned long long)phase_ns[PH_DONE]);
}

static void session_free(struct fr_session *s)
{
	if (!s)
		return;
	fr_rehome_stop();
	if (fr_current == s)
		fr_current = NULL;
	fr_fork_disarm(s);
	if (s->sock >= 0)
		close(s->sock);
	fr_xlate_stop(s);
	fr_io_fini(s);
	fr_blob_free(&s->init_in);
	fr_blob_free(&s->init_out);
	fr_blob_free(&s->replay_out);
	fr_kept_free(s);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	free(s->tag);
	free(s->mountpoint);
	pthread_mutex_destroy(&s->sock_lock);
	free(s);
}

static int expect_ack(struct fr_session *s, const struct frp_msg *m,
		      const char *what)
{
	char buf[FRP_MAX_MSG];
	struct frp_msg r = { 0 };
	int err = fr_client_call(s, m, buf, &r);

	if (!err) {
		frp_close_fds(&r);
		err = r.type == FRP_ACK ? r.status : -EPROTO;
	}
	if (err)
		fr_log(LOG_ERR, "supervisor refused %s: %s%s%.*s", what,
		       strerror(-err), r.blob_len[0] ? ": " : "",
		       (int)r.blob_len[0], (const char *)r.blob[0]);
	return err;
}

static void probe_kernel(struct fr_session *s)
{
	if (fr_probe_init_in(s->init_in.data, s->init_in.len, &s->kernel))
		fr_log(LOG_WARNING, "saved FUSE_INIT is unreadable");
}

/* What a supervisor is told of a connection it is to hold from now on. */
void fr_attached_msg(const struct fr_session *s, struct frp_msg *m)
{
	*m = (struct frp_msg){ .type = FRP_ATTACHED, .nfd = 1 };
	m->fd[0] = s->main_fd;
	m->arg[0] = s->conn_id;
	m->blob[0] = s->init_in.data;
	m->blob_len[0] = s->init_in.len;
	m->blob[1] = s->init_out.data;
	m->blob_len[1] = s->init_out.len;
	m->blob[2] = s->mountpoint;
	m->blob_len[2] = strlen(s->mountpoint);
}

static int attach_fresh(struct fr_session *s, const char *mountpoint)
{
	struct frp_msg m;
	int err;

	if (fuse_session_mount(s->se, mountpoint) != 0)
		return -EIO; /* libfuse said why */
	s->mounted_here = true;
	s->main_fd = fuse_session_fd(s->se);
	if (fr_mount_conn_id(mountpoint, &s->conn_id))
		fr_log(LOG_WARNING, "%s not found in mountinfo", mountpoint);
	err = fr_io_install(s->se, s->main_fd);
	if (!err)
		err = fr_init_capture(s);
	if (err)
		goto fail;
	probe_kernel(s);
	fr_attached_msg(s, &m);
	err = expect_ack(s, &m, "the new connection");
	if (!err)
		err = fr_session_start(s);
	if (!err) {
		fr_mount_record(s);
		return 0;
	}
fail:
	fuse_session_unmount(s->se);
	return err;
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
	probe_kernel(s);
	return 0;
}

/*
 * After INIT, before the first real request: the poison table, and the id
 * translation for every server that does not keep its own ids.
 */
int fr_session_start(struct fr_session *s)
{
	int err = fr_poison_start(s, s->poison_deaths);

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
	mark(PH_REPLAY);
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

/*
 * We cannot serve this connection and have read nothing from it: say so,
 * so that the supervisor keeps waiting for a compatible server instead of
 * counting our exit as one more death.
 */
static int decline(struct fr_session *s, int err, const char *why)
{
	struct frp_msg m = { .type = FRP_DECLINE, .status = err };

	m.blob[0] = why;
	m.blob_len[0] = strlen(why);
	pthread_mutex_lock(&s->sock_lock);
	if (s->sock >= 0)
		frp_send(s->sock, &m);
	pthread_mutex_unlock(&s->sock_lock);
	return err;
}

static int attach_recovered(struct fr_session *s, const char *mountpoint,
			    struct frp_msg *r)
{
	struct frp_msg m = { .type = FRP_RESUMED };
	int fd = r->fd[0];
	int err;

	r->nfd = 0;
	if (r->blob_len[2] != strlen(mountpoint) ||
	    memcmp(r->blob[2], mountpoint, r->blob_len[2]) != 0) {
		fr_log(LOG_ERR, "tag is mounted on %.*s, not on %s",
		       (int)r->blob_len[2], (const char *)r->blob[2],
		       mountpoint);
		close(fd);
		return decline(s, -EXDEV, "mounted on another mount point");
	}
	s->conn_id = r->arg[0];
	err = fr_blob_dup(&s->init_in, r->blob[0], r->blob_len[0]);
	if (!err)
		err = fr_blob_dup(&s->init_out, r->blob[1], r->blob_len[1]);
	if (err) {
		close(fd);
		return err;
	}
	err = fr_adopt_fd(s, fd);
	if (!err)
		err = fr_kept_fetch(s);
	if (err) {
		fr_log(LOG_ERR, "cannot take over: %s", strerror(-err));
		return err;
	}
	mark(PH_HANDOFF);
	err = fr_replay_and_resend(s);
	if (err == -EPROTO)
		return decline(s, err, "capabilities differ from the mount's");
	if (err)
		return err;
	mark(PH_RESEND);
	return expect_ack(s, &m, "the takeover");
}

int fuse_session_attach(struct fuse_session *se, const char *mountpoint,
			struct fuse_recover *fr)
{
	char real[PATH_MAX], buf[FRP_MAX_MSG];
	struct frp_msg hello = { .type = FRP_HELLO }, r;
	struct fr_session *s;
	int err;

	if (!se || !mountpoint)
		return -EINVAL;
	if (!fr || !fr->tag)
		return fuse_session_mount(se, mountpoint) ? -EIO : 0;
	if (fr_current) {
		fr_log(LOG_ERR, "only one session per process can be attached");
		return -EBUSY;
	}
	if (!realpath(mountpoint, real)) {
		err = -errno;
		fr_log(LOG_ERR, "bad mount point %s: %s", mountpoint,
		       strerror(errno));
		return err;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->se = se;
	s->sock = -1;
	s->main_fd = -1;
	s->lock_fd = -1;
	pthread_mutex_init(&s->sock_lock, NULL);
	s->mountpoint = strdup(real);
	s->tag = strdup(fr->tag);
	s->poison_deaths = fr->poison_deaths;
	err = s->mountpoint && s->tag ? fr_io_init(s) : -ENOMEM;
	if (err) {
		free(s->mountpoint);
		free(s->tag);
		free(s);
		return err;
	}
	fr_current = s;
	mark(PH_START);
	if (fr_kattach_supported()) {
		s->kernel_path = true;
		err = fr_kattach(s, fr);
		goto out;
	}
	err = fr_client_connect(fr, &s->sock);
	if (err)
		goto out;
	fr_client_set_timeout(s->sock);

	hello.arg[0] = getpid();
	hello.blob[0] = fr->tag;
	hello.blob_len[0] = strlen(fr->tag);
	err = fr_client_call(s, &hello, buf, &r);
	if (err) {
		fr_log(LOG_ERR, "no answer from supervisor of tag %s: %s",
		       fr->tag, strerror(-err));
		goto out;
	}
	switch (r.type) {
	case FRP_FRESH:
		frp_close_fds(&r);
		err = fr_clear_dead_mount(s);
		if (!err)
			err = attach_fresh(s, real);
		break;
	case FRP_RECOVER:
		err = r.nfd == 1 ? attach_recovered(s, real, &r) : -EPROTO;
		frp_close_fds(&r);
		if (err == 0)
			err = FUSE_RECOVER_RECOVERED;
		break;
	case FRP_ACK:
		err = r.status < 0 ? r.status : -EPROTO;
		fr_log(LOG_ERR, "tag %s: %.*s", fr->tag, (int)r.blob_len[0],
		       (const char *)r.blob[0]);
		frp_close_fds(&r);
		break;
	default:
		frp_close_fds(&r);
		err = -EPROTO;
	}
out:
	if (err < 0) {
		session_free(s);
		return err;
	}
	mark(PH_DONE);
	fr_fork_arm(s);
	fr_rehome_start(s, fr);
	if (err == FUSE_RECOVER_RECOVERED)
		print_trace();
	fr_log(LOG_INFO, "tag %s: %s %s (%s)", fr->tag,
	       err ? "recovered the mount on" : "mounted", real,
	       s->kernel_path ? "kernel reattach, no supervisor" :
				"through fuse-recoverd");
	return err;
}

int fuse_recover_unmount(struct fuse_session *se)
{
	struct fr_session *s = fr_current;
	struct frp_msg bye = { .type = FRP_BYE };
	int err = 0;

	if (!s || s->se != se) {
		fuse_session_unmount(se);
		return 0;
	}
	fr_fork_disarm(s); /* fusermount3 below is no heir */
	fr_rehome_stop(); /* the supervisor's hang-up after BYE is expected */
	pthread_mutex_lock(&s->sock_lock);
	if (s->sock >= 0)
		frp_send(s->sock, &bye);
	pthread_mutex_unlock(&s->sock_lock);
	if (s->kernel_path) {
		char dir[FR_PATH_MAX];

		fr_kattach_exit(s->main_fd);
		fr_kattach_forget(s->tag);
		fr_kept_remove_files(s->tag);
		if (fr_runtime_dir(dir, sizeof(dir)) == 0)
			fr_remove_tag_files(dir, s->tag);
	}
	fr_mount_unrecord(s->tag);
	if (s->mounted_here)
		fuse_session_unmount(se);
	else
		err = fr_unmount(s->mountpoint);
	session_free(s);
	return err;
}
