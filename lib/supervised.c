// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The fuse-recoverd holder: a supervisor process per tag holds dups of the
 * connection's fds, its INIT and the kept fds while no server runs, and
 * hands them over to the next server (supervisor/, protocol in proto.h).
 * Finding or starting it is client.c's; replacing it when it dies is
 * rehome.c's; the children of a server that forks announce themselves
 * through fork.c.
 */
#include "fuse_recover_i.h"
#include "proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

/* What FRP_RECOVER brought, from find() to take(). */
static struct {
	int fd;
	char *mountpoint;
} offered = { .fd = -1 };

static bool supervisor_usable(void)
{
	return true;	/* the fallback: needs nothing but our own program */
}

static void supervisor_init(struct fr_session *s)
{
	s->sock = -1;
	pthread_mutex_init(&s->sock_lock, NULL);
}

static int offer_keep(struct fr_session *s, struct frp_msg *r)
{
	int err;

	if (r->nfd != 1)
		return -EPROTO;
	s->conn_id = r->arg[0];
	err = fr_blob_dup(&s->init_in, r->blob[0], r->blob_len[0]);
	if (!err)
		err = fr_blob_dup(&s->init_out, r->blob[1], r->blob_len[1]);
	if (!err) {
		offered.mountpoint = strndup(r->blob[2], r->blob_len[2]);
		err = offered.mountpoint ? 0 : -ENOMEM;
	}
	if (err)
		return err;
	offered.fd = r->fd[0];
	r->nfd = 0;
	return 0;
}

static int supervisor_find(struct fr_session *s, const struct fuse_recover *fr)
{
	char buf[FRP_MAX_MSG];
	struct frp_msg hello = { .type = FRP_HELLO }, r;
	int err;

	hello.arg[0] = getpid();
	hello.arg[1] = fr_upgrade_wanted() ? FRP_HELLO_STANDBY : 0;
	if (fr_hot_standby_wanted())
		hello.arg[1] |= FRP_HELLO_STANDBY | FRP_HELLO_HOT;
	hello.blob[0] = fr->tag;
	hello.blob_len[0] = strlen(fr->tag);
	err = fr_client_greet(fr, &hello, buf, &r, &s->sock);
	if (err) {
		fr_log(LOG_ERR, "no answer from supervisor of tag %s: %s",
		       fr->tag, strerror(-err));
		return err;
	}
	switch (r.type) {
	case FRP_FRESH:
		err = 0;
		break;
	case FRP_RECOVER:
		err = offer_keep(s, &r);
		if (!err)
			err = 1;
		break;
	case FRP_STANDBY:	/* live upgrade: upgrade.c takes it from here */
		err = offer_keep(s, &r);
		if (!err)
			err = 2;
		break;
	case FRP_ACK:
		err = r.status < 0 ? r.status : -EPROTO;
		fr_log(LOG_ERR, "tag %s: %.*s", fr->tag, (int)r.blob_len[0],
		       (const char *)r.blob[0]);
		break;
	default:
		err = -EPROTO;
	}
	frp_close_fds(&r);
	return err;
}

static int supervisor_mount(struct fr_session *s, const struct fuse_recover *fr)
{
	int err = fr_clear_dead_mount(s);

	(void)fr;
	return err ? err : fr_mount_fresh(s);
}

static void send_readers(struct fr_session *s);

static int supervisor_hold(struct fr_session *s)
{
	struct frp_msg m;

	send_readers(s);
	fr_attached_msg(s, &m);
	return fr_client_expect_ack(s, &m, "the new connection");
}

static int supervisor_take(struct fr_session *s, int *fd, char **mountpoint)
{
	(void)s;
	*fd = offered.fd;
	*mountpoint = offered.mountpoint;
	offered.fd = -1;
	offered.mountpoint = NULL;
	return 0;
}

static int add_kept(struct fr_session *s, struct frp_msg *m)
{
	unsigned int i;
	int err = 0;

	if (m->blob_len[0] != m->nfd * sizeof(struct frp_kept_entry))
		return -EPROTO;
	for (i = 0; i < m->nfd; i++) {
		struct frp_kept_entry one;

		memcpy(&one, (const char *)m->blob[0] + i * sizeof(one),
		       sizeof(one));
		if (!err)
			err = fr_kept_add(s, one.kind, one.key, m->fd[i]);
		else
			close(m->fd[i]);
	}
	m->nfd = 0;
	return err;
}

static int supervisor_take_kept(struct fr_session *s)
{
	struct frp_msg m = { .type = FRP_FETCH };
	char buf[FRP_MAX_MSG];
	int err;

	pthread_mutex_lock(&s->sock_lock);
	err = s->sock < 0 ? -ENOTCONN : fr_client_read_owed(s);
	if (!err)
		err = frp_send(s->sock, &m);
	while (!err) {
		struct frp_msg r;

		err = frp_recv(s->sock, buf, &r);
		if (err)
			break;
		if (r.type == FRP_ACK) {
			frp_close_fds(&r);
			err = r.status;
			break;
		}
		err = r.type == FRP_KEPT ? add_kept(s, &r) : -EPROTO;
		if (err)
			frp_close_fds(&r);
	}
	pthread_mutex_unlock(&s->sock_lock);
	return err;
}

static int supervisor_resumed(struct fr_session *s)
{
	struct frp_msg m = { .type = FRP_RESUMED };

	send_readers(s);
	return fr_client_expect_ack(s, &m, "the takeover");
}

/*
 * Lets the supervisor see our readers die before the pidfd fires (see
 * readers.c).  Sent before we serve (ATTACHED, RESUMED), so that a death
 * right after the takeover is seen too; the calling thread holds a slot
 * from now on, so that a process killed before any thread read is seen
 * to die.  No reply: this is on a standby's path to its first answer, and
 * without it the supervisor only waits longer.
 */
static void send_readers(struct fr_session *s)
{
	int fd = fr_readers_fd();
	struct frp_msg m = { .type = FRP_READERS, .nfd = 1, .fd = { fd } };

	if (s->readers_sent)
		return;
	if (fd < 0) {
		fr_log(LOG_WARNING, "no reader slots: %s", strerror(-fd));
		return;
	}
	fr_readers_claim();
	pthread_mutex_lock(&s->sock_lock);
	if (s->sock >= 0 && !frp_send(s->sock, &m))
		s->readers_sent = true;
	pthread_mutex_unlock(&s->sock_lock);
}

static void supervisor_running(struct fr_session *s,
			       const struct fuse_recover *fr)
{
	send_readers(s);
	fr_fork_arm(s);
	fr_rehome_start(s, fr);
	fr_upgrade_start(s);
}

/* Our end of a socketpair whose other end the supervisor drains us on. */
static int supervisor_events(struct fr_session *s, int *ev)
{
	struct frp_msg m = { .type = FRP_EVENTS, .nfd = 1 };
	char buf[FRP_MAX_MSG];
	struct frp_msg r;
	int sv[2], err;

	if (s->sock < 0)
		return -EAGAIN;	/* no supervisor now: quietly undrainable */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	m.fd[0] = sv[1];
	err = fr_client_call(s, &m, buf, &r);
	close(sv[1]);
	if (!err) {
		frp_close_fds(&r);
		err = r.type == FRP_ACK ? r.status : -EPROTO;
	}
	if (err) {
		close(sv[0]);
		return err;
	}
	*ev = sv[0];
	return 0;
}

/* Set up before waiting in standby, off the takeover's path. */
static void supervisor_standing_by(struct fr_session *s,
				   const struct fuse_recover *fr)
{
	/*
	 * The slots first: the threads below hold one each (readers.c).  A
	 * hot standby sends them now, so that the supervisor's watch is set
	 * up before GO, not on the way to the first reply after it.
	 */
	if (fr_hot_standby_wanted())
		send_readers(s);
	else
		fr_readers_fd();
	fr_upgrade_start(s);
	fr_rehome_start(s, fr);
}

static int supervisor_keep(struct fr_session *s, int fd, uint32_t kind,
			   uint64_t key)
{
	struct frp_msg m = { .type = FRP_ADD_FD, .nfd = 1, .fd = { fd },
			     .arg = { key, kind } };
	struct frp_msg r = { 0 };
	char buf[FRP_MAX_MSG];
	int err;

	if (s->sock < 0)
		return -ENOTCONN;
	/* Noted first: a new supervisor started meanwhile gets it too. */
	fr_rehome_note(kind, key, fd);
	err = fr_client_call(s, &m, buf, &r);
	if (err)
		goto out;
	frp_close_fds(&r);
	err = r.type == FRP_ACK ? r.status : -EPROTO;
	/* Said once: past the cap every unlinked open file is refused. */
	if (err == -ENOSPC && !s->keep_refused_logged) {
		s->keep_refused_logged = true;
		fr_log(LOG_WARNING, "supervisor refused a kept fd: %.*s",
		       (int)r.blob_len[0], (const char *)r.blob[0]);
	}
out:
	if (err)
		fr_rehome_forget(kind, key);
	return err;
}

static void supervisor_unkeep(struct fr_session *s, uint32_t kind,
			      uint64_t key)
{
	struct frp_msg m = { .type = FRP_DEL_FD, .arg = { key, kind } };

	pthread_mutex_lock(&s->sock_lock);
	if (s->sock >= 0)
		frp_send(s->sock, &m);
	fr_rehome_forget(kind, key);
	fr_kept_drop(s, kind, key);
	pthread_mutex_unlock(&s->sock_lock);
}

static int supervisor_add_clone(struct fr_session *s, uint64_t id, int fd)
{
	char buf[FRP_MAX_MSG];
	struct frp_msg m = { .type = FRP_ADD_FD, .nfd = 1, .fd = { fd },
			     .arg = { id } };
	struct frp_msg reply;
	int err;

	pthread_mutex_lock(&s->sock_lock);
	err = fr_client_call_locked(s, &m, buf, &reply);
	if (!err) {
		frp_close_fds(&reply);
		err = reply.type == FRP_ACK ? reply.status : -EPROTO;
	}
	fr_rehome_note(FRP_FD_CLONE, id, fd);
	pthread_mutex_unlock(&s->sock_lock);
	return err;
}

static void supervisor_del_clone(struct fr_session *s, uint64_t id)
{
	struct frp_msg m = { .type = FRP_DEL_FD, .arg = { id } };

	pthread_mutex_lock(&s->sock_lock);
	if (s->sock >= 0)
		frp_send(s->sock, &m);
	fr_rehome_forget(FRP_FD_CLONE, id);
	pthread_mutex_unlock(&s->sock_lock);
}

static void supervisor_release(struct fr_session *s)
{
	struct frp_msg bye = { .type = FRP_BYE };

	fr_fork_disarm(s); /* fusermount3 below is no heir */
	fr_rehome_stop(); /* the supervisor's hang-up after BYE is expected */
	pthread_mutex_lock(&s->sock_lock);
	if (s->sock >= 0)
		frp_send(s->sock, &bye);
	pthread_mutex_unlock(&s->sock_lock);
}

static void supervisor_close(struct fr_session *s)
{
	fr_upgrade_stop();
	fr_rehome_stop();
	fr_fork_disarm(s);
	if (s->sock >= 0)
		close(s->sock);
	s->sock = -1;
	if (offered.fd >= 0)
		close(offered.fd);
	offered.fd = -1;
	free(offered.mountpoint);
	offered.mountpoint = NULL;
	pthread_mutex_destroy(&s->sock_lock);
}

const struct fr_holder fr_holder_supervisor = {
	.name = "through fuse-recoverd",
	.usable = supervisor_usable,
	.init = supervisor_init,
	.find = supervisor_find,
	.mount = supervisor_mount,
	.unmount = fr_unmount_fresh,
	.hold = supervisor_hold,
	.take = supervisor_take,
	.take_kept = supervisor_take_kept,
	.resumed = supervisor_resumed,
	.decline = fr_client_decline,
	.running = supervisor_running,
	.events = supervisor_events,
	.standing_by = supervisor_standing_by,
	.keep = supervisor_keep,
	.unkeep = supervisor_unkeep,
	.add_clone = supervisor_add_clone,
	.del_clone = supervisor_del_clone,
	.release = supervisor_release,
	.close = supervisor_close,
	.dead_mounts = true,
};
