// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * What the supervisor holds and whom it gives it to.
 *
 * The /dev/fuse fd is the filesystem's identity: whoever has it can answer
 * for the mount.  It goes only to a peer of the owner's uid (or root) that
 * names our tag, and only while no live server has it.
 */
#include "recoverd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <unistd.h>

/* Linux 6.5+; Debian's 6.1 headers lack it. */
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

/* Headroom for sockets, pidfds, clones and our own files. */
#define KEPT_HEADROOM 256

static int pidfd_open_(pid_t pid)
{
	return syscall(SYS_pidfd_open, pid, 0);
}

/* The effective uid of @pid now, from /proc; -1 if it cannot be read. */
static long proc_euid(pid_t pid)
{
	char path[64], line[256];
	unsigned int ruid, euid;
	long ret = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Uid: %u %u", &ruid, &euid) == 2) {
			ret = euid;
			break;
		}
	fclose(f);
	return ret;
}

/*
 * A pidfd for the process at the other end of @sock.  SO_PEERPIDFD names
 * the very process that connected.  Without it (before 6.5) the pid from
 * SO_PEERCRED may have been reused by the time we open it, so the process
 * found must still have the peer's uid: a reuse by another uid is caught,
 * one by the same uid gains nothing that uid could not do itself.
 */
static int peer_pidfd(int sock, const struct ucred *cred)
{
	socklen_t len = sizeof(int);
	int pidfd;

	/* Close-on-exec already (6.18 checked): our children never see it. */
	if (getsockopt(sock, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) == 0)
		return pidfd;
	if (errno != ENOPROTOOPT)
		return -errno;	/* e.g. the peer is gone already */
	if (cred->pid <= 0)
		return -ESRCH;
	pidfd = pidfd_open_(cred->pid);
	if (pidfd < 0)
		return -errno;
	if (proc_euid(cred->pid) != (long)cred->uid) {
		close(pidfd);
		return -ESRCH;
	}
	return pidfd;
}

static int blob_set(struct blob *b, const void *data, uint32_t len)
{
	void *copy = malloc(len ? len : 1);

	if (!copy)
		return -ENOMEM;
	memcpy(copy, data, len);
	free(b->data);
	b->data = copy;
	b->len = len;
	return 0;
}

static bool slot_used(const struct client *c)
{
	return c->fd >= 0 || c->pidfd >= 0;
}

/*
 * A free slot for a new peer, or -1.  The last free slot is reserved for a
 * server we launch; when none is free, the peer that has waited longest
 * without saying HELLO makes room (idle peers must not lock out servers).
 */
static int free_slot(struct recoverd *rd, bool launched)
{
	int i, nfree = 0, first = -1, oldest = -1;

	for (i = 0; i < MAX_CLIENTS; i++) {
		const struct client *c = &rd->clients[i];

		if (!slot_used(c)) {
			if (first < 0)
				first = i;
			nfree++;
		} else if (i != rd->server && !c->launched && !c->greeted &&
			   (oldest < 0 || c->since < rd->clients[oldest].since)) {
			oldest = i;
		}
	}
	if (first >= 0 && (launched || nfree > 1))
		return first;
	if (oldest < 0)
		return -1;
	fr_log(LOG_WARNING, "dropping pid %d: it said nothing, and its slot is needed",
	       (int)rd->clients[oldest].pid);
	/* Neither the server nor launched: its leaving is no event. */
	(void)hold_drop_client(rd, oldest);
	return oldest;
}

/*
 * @pid > 0 with @launched: our own child, whose pid cannot be reused
 * before we reap it.  Otherwise the peer's pidfd comes from the socket.
 */
int hold_add_client(struct recoverd *rd, int fd, pid_t pid, bool launched)
{
	static const struct timeval send_timeout = { .tv_sec = 1 };
	struct ucred cred = { .pid = pid };
	socklen_t len = sizeof(cred);
	int i = free_slot(rd, launched), pidfd;
	struct client *c;

	if (i < 0) {
		fr_log(LOG_WARNING, "refused a peer: all %d slots are busy",
		       MAX_CLIENTS);
		close(fd);
		return -EMFILE;
	}
	if (launched && pid > 0) {
		pidfd = pidfd_open_(pid);
	} else {
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
			cred.pid = pid;
		pidfd = peer_pidfd(fd, &cred);
		/* Without its process we could never tell it died. */
		if (pidfd < 0 && !launched) {
			fr_log(LOG_WARNING, "refused pid %d: %s",
			       (int)cred.pid, strerror(-pidfd));
			close(fd);
			return pidfd;
		}
	}
	/* A peer that does not read its answers must not stall us. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout,
		   sizeof(send_timeout));
	c = &rd->clients[i];
	*c = (struct client){ .fd = fd, .pid = cred.pid, .pidfd = pidfd,
			      .launched = launched, .since = now_sec(),
			      .evfd = -1 };
	return i;
}

enum hold_event hold_drop_client(struct recoverd *rd, int idx)
{
	struct client *c = &rd->clients[idx];
	bool launched = c->launched;

	/* Dropped before its exit ended: watched on (hold_dying_server()). */
	if (c->pidfd >= 0 && readers_seen_gone(c)) {
		if (rd->dying_pidfd >= 0)
			close(rd->dying_pidfd);
		rd->dying_pidfd = c->pidfd;
		c->pidfd = -1;
	}
	readers_retire(c);
	if (c->fd >= 0)
		close(c->fd);
	if (c->pidfd >= 0)
		close(c->pidfd);
	if (c->evfd >= 0)
		close(c->evfd);
	c->fd = -1;
	c->pidfd = -1;
	c->evfd = -1;
	{
		enum hold_event ev;

		if (rd->hooks->client_dropped(rd, idx, &ev))
			return ev;
	}
	if (rd->server == idx) {
		rd->server = -1;
		return HOLD_SERVER_GONE;
	}
	/* Our child died before even saying HELLO: a failed start. */
	if (launched && rd->argv)
		return HOLD_SERVER_GONE;
	return HOLD_NOTHING;
}

/* Whether a server dropped on its readers' death is still exiting. */
bool hold_dying_server(struct recoverd *rd)
{
	struct pollfd p = { .fd = rd->dying_pidfd, .events = POLLIN };

	if (rd->dying_pidfd < 0)
		return false;
	if (poll(&p, 1, 0) == 0)
		return true;
	close(rd->dying_pidfd);
	rd->dying_pidfd = -1;
	return false;
}

/*
 * The one death signal: the server's process has exited.  A broken or
 * misbehaving socket is not a death; only without a pidfd does a hang-up
 * have to stand in for it.
 */
bool hold_server_exited(struct recoverd *rd)
{
	struct client *c;
	struct pollfd p;

	if (rd->server < 0)
		return true;
	c = &rd->clients[rd->server];
	/* Its readers are gone for good: as good as exited (readers.c). */
	if (readers_all_gone(c))
		return true;
	if (c->pidfd >= 0) {
		p = (struct pollfd){ .fd = c->pidfd, .events = POLLIN };
		return poll(&p, 1, 0) == 1;
	}
	if (c->fd < 0)
		return true;
	p = (struct pollfd){ .fd = c->fd, .events = 0 };
	return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR));
}

/* When the next peer that has not said HELLO runs out of time, or 0. */
double hold_idle_deadline(const struct recoverd *rd)
{
	double next = 0;
	int i;

	for (i = 0; i < MAX_CLIENTS; i++) {
		const struct client *c = &rd->clients[i];
		double d = c->since + HELLO_TIMEOUT_SEC;

		/* A server we start may take its time to get to HELLO. */
		if (c->fd < 0 || c->greeted || c->launched || i == rd->server)
			continue;
		if (!next || d < next)
			next = d;
	}
	return next;
}

/*
 * A first message that came in time may still be unread when we were late
 * ourselves: it is read in the next round, and it greets or gets the peer
 * dropped there (hold_client_input()), so waiting for it holds no slot.
 */
static bool message_waiting(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

void hold_drop_idle(struct recoverd *rd)
{
	double t = now_sec();
	int i;

	for (i = 0; i < MAX_CLIENTS; i++) {
		const struct client *c = &rd->clients[i];

		if (c->fd < 0 || c->greeted || c->launched || i == rd->server ||
		    t < c->since + HELLO_TIMEOUT_SEC || message_waiting(c->fd))
			continue;
		fr_log(LOG_WARNING, "dropping pid %d: no HELLO within %.0f s",
		       (int)c->pid, HELLO_TIMEOUT_SEC);
		(void)hold_drop_client(rd, i); /* not launched: no event */
	}
}

/*
 * A peer of another uid is told why and dropped at once if its HELLO is
 * already there (the usual case), so it holds no slot; otherwise it waits
 * in a slot like any idle peer.  Its message is read first: closing a
 * socket with unread data resets it, and the peer would never read why.
 */
static bool refuse_now(int fd)
{
	char buf[FRP_MAX_MSG];
	struct frp_msg m;
	int fl = fcntl(fd, F_GETFL), err;

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return false;
	err = frp_recv(fd, buf, &m);
	fcntl(fd, F_SETFL, fl);
	if (err == -EAGAIN)
		return false;
	if (!err)
		frp_close_fds(&m);
	frp_send_ack(fd, -EPERM, "permission denied: not the owner of this tag");
	close(fd);
	return true;
}

void hold_accept(struct recoverd *rd)
{
	static bool told;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd = accept4(rd->listen_fd, NULL, NULL, SOCK_CLOEXEC), idx;
	bool refused;

	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE) {
			/* The peer stays queued; do not spin on it. */
			if (!told)
				fr_log(LOG_ERR, "cannot accept: %s",
				       strerror(errno));
			told = true;
			usleep(10000);
		}
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		close(fd);
		return;
	}
	refused = cred.uid != rd->owner && cred.uid != 0;
	if (refused) {
		fr_log(LOG_WARNING,
		       "refused pid %d uid %u: only uid %u or root may take tag %s",
		       (int)cred.pid, (unsigned int)cred.uid,
		       (unsigned int)rd->owner, rd->tag);
		if (refuse_now(fd))
			return;
	}
	idx = hold_add_client(rd, fd, cred.pid, false);
	if (idx >= 0)
		rd->clients[idx].refused = refused;
}

/*
 * Kept fds are capped so that no amount of activity by users of the mount
 * (each unlinked open file is one) can fill our fd table: past the cap the
 * server is told no and keeps the file itself.
 */
void hold_set_kept_cap(struct recoverd *rd)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		rl.rlim_cur = 1024;
	if (rl.rlim_cur > 2 * KEPT_HEADROOM)
		rd->max_kept = rl.rlim_cur - KEPT_HEADROOM;
	else
		rd->max_kept = rl.rlim_cur / 2;
	if (rd->max_kept > UINT32_MAX / 2)
		rd->max_kept = UINT32_MAX / 2;
}

void hold_release_fds(struct recoverd *rd)
{
	unsigned int i;

	for (i = 0; i < rd->nclones; i++)
		close(rd->clones[i].fd);
	rd->nclones = 0;
	rd->nkept = 0;
	if (rd->fuse_fd >= 0)
		close(rd->fuse_fd);
	rd->fuse_fd = -1;
}

bool hold_mount_gone(const struct recoverd *rd)
{
	struct pollfd p = { .fd = rd->fuse_fd, .events = 0 };

	/* An unmounted or aborted connection polls as POLLERR. */
	return rd->fuse_fd >= 0 && poll(&p, 1, 0) == 1 &&
	       (p.revents & POLLERR);
}

/* The new server took over and asked for resend: old clones are empty. */
void hold_drop_old_clones(struct recoverd *rd)
{
	unsigned int i, kept = 0;

	for (i = 0; i < rd->nclones; i++) {
		if (rd->clones[i].kind == FRP_FD_CLONE &&
		    rd->clones[i].gen < rd->gen)
			close(rd->clones[i].fd);
		else
			rd->clones[kept++] = rd->clones[i];
	}
	rd->nclones = kept;
}

/* The connection, for a server to take over (RECOVER) or stand by. */
void hold_connection_msg(const struct recoverd *rd, struct frp_msg *r,
			 uint16_t type)
{
	*r = (struct frp_msg){ .type = type, .nfd = 1 };
	r->fd[0] = rd->fuse_fd;
	r->arg[0] = rd->conn_id;
	r->blob[0] = rd->init_in.data;
	r->blob_len[0] = rd->init_in.len;
	r->blob[1] = rd->init_out.data;
	r->blob_len[1] = rd->init_out.len;
	r->blob[2] = rd->mountpoint;
	r->blob_len[2] = strlen(rd->mountpoint);
}

static int on_hello(struct recoverd *rd, int idx, struct frp_msg *m)
{
	struct client *c = &rd->clients[idx];
	struct frp_msg r = { 0 };
	char why[160];

	if (m->blob_len[0] != strlen(rd->tag) ||
	    memcmp(m->blob[0], rd->tag, m->blob_len[0]) != 0) {
		snprintf(why, sizeof(why), "wrong tag: this supervisor holds %s",
			 rd->tag);
		return frp_send_ack(c->fd, -EINVAL, why) ?: -EINVAL;
	}
	if (c->launched && c->pid <= 0) {
		/* Spawned by the server itself: its socketpair names no pid. */
		c->pid = m->arg[0];
		c->pidfd = pidfd_open_(c->pid);
	}
	c->greeted = true;
	if ((m->arg[1] & FRP_HELLO_STANDBY) || c->hot != HOT_NONE) {
		int ret = rd->hooks->hello(rd, idx, m);

		if (ret)
			return ret < 0 ? ret : 0;
	}
	if (rd->server >= 0) {
		snprintf(why, sizeof(why),
			 "tag %s is held by live server pid %d", rd->tag,
			 (int)rd->clients[rd->server].pid);
		fr_log(LOG_WARNING, "refused pid %d: %s", (int)c->pid, why);
		return frp_send_ack(c->fd, -EBUSY, why) ?: -EBUSY;
	}
	if (rd->state == ST_EMPTY) {
		r.type = FRP_FRESH;
		rd->state = ST_MOUNTING;
	} else {
		hold_connection_msg(rd, &r, FRP_RECOVER);
		rd->state = ST_TAKEOVER;
		fr_log(LOG_INFO, "takeover: handing the connection to pid %d",
		       (int)c->pid);
	}
	rd->server = idx;
	rd->gen++;
	return frp_send(c->fd, &r);
}

static int on_attached(struct recoverd *rd, struct frp_msg *m)
{
	char *mnt;
	int err;

	if (rd->state != ST_MOUNTING || m->nfd != 1 || !m->blob_len[0] ||
	    !m->blob_len[1] || !m->blob_len[2])
		return -EPROTO;
	mnt = strndup(m->blob[2], m->blob_len[2]);
	if (!mnt)
		return -ENOMEM;
	err = blob_set(&rd->init_in, m->blob[0], m->blob_len[0]);
	if (!err)
		err = blob_set(&rd->init_out, m->blob[1], m->blob_len[1]);
	if (err) {
		free(mnt);
		return err;
	}
	free(rd->mountpoint);
	rd->mountpoint = mnt;
	rd->conn_id = m->arg[0];
	rd->fuse_fd = m->fd[0];
	m->nfd = 0;
	rd->state = ST_SERVING;
	rd->started_ok = true;
	rd->server_since = now_sec();
	fr_log(LOG_INFO, "holding connection %u mounted on %s", rd->conn_id,
	       rd->mountpoint);
	return 0;
}

static struct held_fd *find_held(struct recoverd *rd, uint32_t kind,
				  uint64_t key)
{
	unsigned int i;

	for (i = 0; i < rd->nclones; i++) {
		struct held_fd *h = &rd->clones[i];

		/* A clone id only means something to the server that made it. */
		if (h->kind == kind && h->key == key &&
		    (kind != FRP_FD_CLONE || h->gen == rd->gen))
			return h;
	}
	return NULL;
}

static int on_add_fd(struct recoverd *rd, struct frp_msg *m, char *why,
		     size_t why_len)
{
	struct held_fd *h, *n;

	if (m->nfd != 1 || m->arg[1] > UINT32_MAX ||
	    (m->arg[1] == FRP_FD_CLONE && rd->fuse_fd < 0))
		return -EPROTO;
	h = find_held(rd, m->arg[1], m->arg[0]);
	if (h) {
		close(h->fd);
	} else {
		if (m->arg[1] != FRP_FD_CLONE && rd->nkept >= rd->max_kept) {
			snprintf(why, why_len,
				 "supervisor keeps at most %u fds per connection: keep this one yourself",
				 rd->max_kept);
			return -ENOSPC;
		}
		n = realloc(rd->clones, (rd->nclones + 1) * sizeof(*n));
		if (!n)
			return -ENOMEM;
		rd->clones = n;
		h = &n[rd->nclones++];
		if (m->arg[1] != FRP_FD_CLONE)
			rd->nkept++;
	}
	*h = (struct held_fd){ .fd = m->fd[0], .kind = m->arg[1],
			       .key = m->arg[0], .gen = rd->gen };
	m->nfd = 0;
	if (h->kind != FRP_FD_CLONE) {
		rd->kept_version++;
		if (rd->hooks->kept_changed)
			rd->hooks->kept_changed(rd, h->kind,
						"the server kept another fd");
	}
	return 0;
}

static void on_del_fd(struct recoverd *rd, const struct frp_msg *m)
{
	struct held_fd *h = find_held(rd, m->arg[1], m->arg[0]);

	if (h) {
		if (h->kind != FRP_FD_CLONE) {
			rd->nkept--;
			rd->kept_version++;
			if (rd->hooks->kept_changed)
				rd->hooks->kept_changed(rd, h->kind,
					"the server dropped a kept fd");
		}
		close(h->fd);
		*h = rd->clones[--rd->nclones];
	}
}

/*
 * Everything but clones goes to client @idx (a new server, a standby),
 * four fds a message.  What it got is noted: hold_go_flags() says whether
 * that is still all.
 */
int hold_send_kept(struct recoverd *rd, int idx)
{
	struct frp_kept_entry e[FRP_MAX_FDS];
	struct frp_msg r = { .type = FRP_KEPT };
	int sock = rd->clients[idx].fd;
	unsigned int i;
	int err;

	rd->clients[idx].kept_seen = rd->kept_version;

	for (i = 0; i < rd->nclones; i++) {
		struct held_fd *h = &rd->clones[i];

		if (h->kind == FRP_FD_CLONE)
			continue;
		e[r.nfd] = (struct frp_kept_entry){ .kind = h->kind,
						    .key = h->key };
		r.fd[r.nfd++] = h->fd;
		if (r.nfd < FRP_MAX_FDS)
			continue;
		r.blob[0] = e;
		r.blob_len[0] = r.nfd * sizeof(e[0]);
		err = frp_send(sock, &r);
		if (err)
			return err;
		r.nfd = 0;
	}
	if (r.nfd) {
		r.blob[0] = e;
		r.blob_len[0] = r.nfd * sizeof(e[0]);
		err = frp_send(sock, &r);
		if (err)
			return err;
	}
	return 0;
}

/* A server's event socket (upgrade.c speaks first on it); for the ACK. */
int hold_take_events(struct recoverd *rd, int idx, struct frp_msg *m)
{
	struct client *c = &rd->clients[idx];

	if (m->nfd != 1)
		return -EPROTO;
	if (c->evfd >= 0)
		close(c->evfd);
	c->evfd = m->fd[0];
	m->nfd = 0;
	return 0;
}

/*
 * GO's flags for a standby: FRP_GO_REFETCH when the server kept or dropped
 * an fd after the standby fetched them (an unlinked open file): it fetches
 * them again before it serves, or the file would reach only the next
 * restart.
 */
uint64_t hold_go_flags(const struct recoverd *rd, int idx, uint64_t flags)
{
	if (rd->clients[idx].kept_seen != rd->kept_version)
		flags |= FRP_GO_REFETCH;
	return flags;
}

/* Messages that get no reply: answering them would put the peer out of step. */
static bool no_reply(uint16_t type)
{
	return type == FRP_DEL_FD || type == FRP_BYE || type == FRP_DECLINE ||
	       type == FRP_READERS;
}

/*
 * Trouble on the live server's socket.  It is still the server (only its
 * pidfd says otherwise): a bad message is answered with an error, and a
 * socket it closed just stops being read while it runs.
 */
static enum hold_event server_sock_error(struct recoverd *rd, int idx,
					int err, const struct frp_msg *m)
{
	struct client *c = &rd->clients[idx];
	char why[160];

	if (err == -ECONNRESET || err == -ENOTCONN || err == -EPIPE) {
		struct pollfd p = { .fd = c->pidfd, .events = POLLIN };

		/*
		 * A dying process closes its files a moment before its pidfd
		 * says it exited; the usual hang-up is that.
		 */
		if (c->pidfd < 0 || readers_all_gone(c) ||
		    poll(&p, 1, 100) == 1)
			return hold_drop_client(rd, idx);
		fr_log(LOG_WARNING,
		       "server pid %d closed its socket; holding the connection until it exits",
		       (int)c->pid);
		close(c->fd);
		c->fd = -1;
		return HOLD_NOTHING;
	}
	if (err == -EMFILE)
		snprintf(why, sizeof(why),
			 "supervisor out of fds: message type %u lost its fds",
			 m->type);
	else
		snprintf(why, sizeof(why), "bad message: %s", strerror(-err));
	fr_log(LOG_WARNING, "pid %d: %s", (int)c->pid, why);
	if (err != -EMFILE || !no_reply(m->type))
		frp_send_ack(c->fd, err, why);
	return HOLD_NOTHING;
}

/*
 * The would-be server found it cannot serve this connection before reading
 * from it: it is no server of ours any more, and its leaving is no death.
 */
static enum hold_event on_decline(struct recoverd *rd, int idx,
				  const struct frp_msg *m)
{
	struct client *c = &rd->clients[idx];

	fr_log(LOG_WARNING, "pid %d declined the takeover: %s: %.*s",
	       (int)c->pid, strerror(-m->status), (int)m->blob_len[0],
	       (const char *)m->blob[0]);
	close(c->fd);
	if (c->pidfd >= 0)
		close(c->pidfd);
	c->fd = -1;
	c->pidfd = -1;
	rd->server = -1;
	return HOLD_DECLINED;
}

enum hold_event hold_client_input(struct recoverd *rd, int idx)
{
	char buf[FRP_MAX_MSG], why[160] = "";
	struct frp_msg m = { 0 };
	int fd = rd->clients[idx].fd;
	int err;

	/*
	 * The server's death may still be queued behind this peer's message
	 * (a restarted server's HELLO): it has to be taken first.
	 */
	if (idx != rd->server && rd->server >= 0 && hold_server_exited(rd))
		return HOLD_SERVER_EXITED;
	err = frp_recv(fd, buf, &m);
	if (err && idx == rd->server)
		return server_sock_error(rd, idx, err, &m);
	if (err) {
		if (err != -ECONNRESET)
			fr_log(LOG_WARNING, "dropping pid %d: %s",
			       (int)rd->clients[idx].pid, strerror(-err));
		return hold_drop_client(rd, idx);
	}
	if (rd->clients[idx].refused) {
		frp_close_fds(&m);
		frp_send_ack(fd, -EPERM,
			     "permission denied: not the owner of this tag");
		return hold_drop_client(rd, idx);
	}
	{
		enum hold_event ev;

		if (rd->hooks->control(rd, idx, &m, &ev))
			return ev;
	}
	if (m.type == FRP_HELLO) {
		frp_close_fds(&m);
		if (idx == rd->server) {
			frp_send_ack(fd, -EPROTO, "HELLO twice");
			return HOLD_NOTHING;
		}
		err = on_hello(rd, idx, &m);
		if (err && idx != rd->server)
			return hold_drop_client(rd, idx);
		return HOLD_NOTHING;
	}
	if (idx != rd->server && rd->hooks->standby_input(rd, idx, &m))
		return HOLD_NOTHING;
	if (idx != rd->server) {
		frp_close_fds(&m);
		frp_send_ack(fd, -EPERM, "say HELLO first");
		return hold_drop_client(rd, idx);
	}
	switch (m.type) {
	case FRP_ATTACHED:
		err = on_attached(rd, &m);
		break;
	case FRP_ADD_FD:
		err = on_add_fd(rd, &m, why, sizeof(why));
		break;
	case FRP_DEL_FD:
		on_del_fd(rd, &m);
		frp_close_fds(&m);
		return HOLD_NOTHING;
	case FRP_DECLINE:
		frp_close_fds(&m);
		if (rd->state == ST_TAKEOVER && m.status < 0) {
			if (rd->hooks->declined(rd, idx, &m))
				return HOLD_NOTHING;
			return on_decline(rd, idx, &m);
		}
		return HOLD_NOTHING;
	case FRP_FETCH:
		err = rd->state == ST_TAKEOVER ? hold_send_kept(rd, idx) :
						 -EPROTO;
		break;
	case FRP_RESUMED:
		if (rd->state != ST_TAKEOVER) {
			err = -EPROTO;
			break;
		}
		rd->state = ST_SERVING;
		rd->started_ok = true;
		rd->server_since = now_sec();
		if (rd->hooks->resumed(rd, idx))
			break;
		hold_drop_old_clones(rd);
		rd->takeovers++;
		fr_log(LOG_INFO, "takeover: pid %d took over tag %s",
		       (int)rd->clients[idx].pid, rd->tag);
		break;
	case FRP_EVENTS:
		err = hold_take_events(rd, idx, &m);
		break;
	case FRP_READERS:
		/* No reply; without it we wait for the pidfd as before. */
		if (m.nfd == 1 && readers_watch(&rd->clients[idx], m.fd[0]))
			fr_log(LOG_WARNING, "pid %d: unusable reader slots",
			       (int)rd->clients[idx].pid);
		frp_close_fds(&m);
		return HOLD_NOTHING;
	case FRP_BYE:
		rd->bye = true;
		frp_close_fds(&m);
		return HOLD_NOTHING;
	case FRP_NEWPID:
		heirs_on_newpid(rd, &m);
		frp_close_fds(&m);
		return HOLD_NOTHING;
	default:
		err = -EPROTO;
	}
	frp_close_fds(&m);
	if (err && !why[0])
		snprintf(why, sizeof(why), "%s", strerror(-err));
	frp_send_ack(fd, err, err ? why : NULL);
	return HOLD_NOTHING;
}
