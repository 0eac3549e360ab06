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
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <unistd.h>

static int pidfd_open_(pid_t pid)
{
	return syscall(SYS_pidfd_open, pid, 0);
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

int hold_add_client(struct recoverd *rd, int fd, pid_t pid, bool launched)
{
	int i;

	for (i = 0; i < MAX_CLIENTS; i++) {
		struct client *c = &rd->clients[i];

		if (c->fd >= 0)
			continue;
		c->fd = fd;
		c->pid = pid;
		c->pidfd = pid > 0 ? pidfd_open_(pid) : -1;
		c->launched = launched;
		c->refused = false;
		return i;
	}
	close(fd);
	return -EMFILE;
}

void hold_drop_client(struct recoverd *rd, int idx)
{
	struct client *c = &rd->clients[idx];
	bool launched = c->launched;

	close(c->fd);
	if (c->pidfd >= 0)
		close(c->pidfd);
	c->fd = -1;
	c->pidfd = -1;
	if (rd->server == idx) {
		rd->server = -1;
		rd_server_gone(rd);
	} else if (launched && rd->argv) {
		/* Our child died before even saying HELLO: a failed start. */
		rd_server_gone(rd);
	}
}

void hold_accept(struct recoverd *rd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd = accept4(rd->listen_fd, NULL, NULL, SOCK_CLOEXEC), idx;

	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		close(fd);
		return;
	}
	if (cred.uid != rd->owner && cred.uid != 0) {
		fr_log(LOG_WARNING,
		       "refused pid %d uid %u: only uid %u or root may take tag %s",
		       (int)cred.pid, (unsigned int)cred.uid,
		       (unsigned int)rd->owner, rd->tag);
	}
	idx = hold_add_client(rd, fd, cred.pid, false);
	/*
	 * Answer its first message rather than now: closing a socket with
	 * unread data resets it, and the peer would never read why.
	 */
	if (idx >= 0)
		rd->clients[idx].refused = cred.uid != rd->owner && cred.uid;
}

void hold_release_fds(struct recoverd *rd)
{
	unsigned int i;

	for (i = 0; i < rd->nclones; i++)
		close(rd->clones[i].fd);
	rd->nclones = 0;
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
static void drop_old_clones(struct recoverd *rd)
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

static bool server_hung_up(const struct recoverd *rd)
{
	struct pollfd p = { .fd = rd->clients[rd->server].fd, .events = 0 };

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR));
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
	if (rd->server >= 0 && server_hung_up(rd)) {
		/* Its death is still queued behind this HELLO; take it now. */
		hold_drop_client(rd, rd->server);
		if (rd->server >= 0 || rd->clients[idx].fd < 0)
			return -EBUSY;
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
		r.type = FRP_RECOVER;
		r.nfd = 1;
		r.fd[0] = rd->fuse_fd;
		r.arg[0] = rd->conn_id;
		r.blob[0] = rd->init_in.data;
		r.blob_len[0] = rd->init_in.len;
		r.blob[1] = rd->init_out.data;
		r.blob_len[1] = rd->init_out.len;
		r.blob[2] = rd->mountpoint;
		r.blob_len[2] = strlen(rd->mountpoint);
		rd->state = ST_TAKEOVER;
		fr_log(LOG_INFO, "handing the connection to pid %d",
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

static int on_add_fd(struct recoverd *rd, struct frp_msg *m)
{
	struct held_fd *h, *n;

	if (m->nfd != 1 || m->arg[1] > UINT32_MAX ||
	    (m->arg[1] == FRP_FD_CLONE && rd->fuse_fd < 0))
		return -EPROTO;
	h = find_held(rd, m->arg[1], m->arg[0]);
	if (h) {
		close(h->fd);
	} else {
		n = realloc(rd->clones, (rd->nclones + 1) * sizeof(*n));
		if (!n)
			return -ENOMEM;
		rd->clones = n;
		h = &n[rd->nclones++];
	}
	*h = (struct held_fd){ .fd = m->fd[0], .kind = m->arg[1],
			       .key = m->arg[0], .gen = rd->gen };
	m->nfd = 0;
	return 0;
}

static void on_del_fd(struct recoverd *rd, const struct frp_msg *m)
{
	struct held_fd *h = find_held(rd, m->arg[1], m->arg[0]);

	if (h) {
		close(h->fd);
		*h = rd->clones[--rd->nclones];
	}
}

/* Everything but clones goes back to the new server, four fds a message. */
static int on_fetch(struct recoverd *rd, int sock)
{
	struct frp_kept_entry e[FRP_MAX_FDS];
	struct frp_msg r = { .type = FRP_KEPT };
	unsigned int i;
	int err;

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

void hold_client_input(struct recoverd *rd, int idx)
{
	char buf[FRP_MAX_MSG];
	struct frp_msg m;
	int fd = rd->clients[idx].fd;
	int err = frp_recv(fd, buf, &m);

	if (err) {
		if (err != -ECONNRESET)
			fr_log(LOG_WARNING, "dropping pid %d: %s",
			       (int)rd->clients[idx].pid, strerror(-err));
		hold_drop_client(rd, idx);
		return;
	}
	if (rd->clients[idx].refused) {
		frp_close_fds(&m);
		frp_send_ack(fd, -EPERM,
			     "permission denied: not the owner of this tag");
		hold_drop_client(rd, idx);
		return;
	}
	if (m.type == FRP_HELLO) {
		err = idx == rd->server ? -EPROTO : on_hello(rd, idx, &m);
		frp_close_fds(&m);
		if (err && idx != rd->server)
			hold_drop_client(rd, idx);
		return;
	}
	if (idx != rd->server) {
		frp_close_fds(&m);
		frp_send_ack(fd, -EPERM, "say HELLO first");
		hold_drop_client(rd, idx);
		return;
	}
	switch (m.type) {
	case FRP_ATTACHED:
		err = on_attached(rd, &m);
		break;
	case FRP_ADD_FD:
		err = on_add_fd(rd, &m);
		break;
	case FRP_DEL_FD:
		on_del_fd(rd, &m);
		return;
	case FRP_FETCH:
		err = rd->state == ST_TAKEOVER ? on_fetch(rd, fd) : -EPROTO;
		break;
	case FRP_RESUMED:
		if (rd->state != ST_TAKEOVER) {
			err = -EPROTO;
			break;
		}
		drop_old_clones(rd);
		rd->state = ST_SERVING;
		rd->started_ok = true;
		fr_log(LOG_INFO, "pid %d took over tag %s",
		       (int)rd->clients[idx].pid, rd->tag);
		break;
	case FRP_BYE:
		rd->bye = true;
		return;
	case FRP_NEWPID:
		heirs_on_newpid(rd, &m);
		frp_close_fds(&m);
		return;
	default:
		err = -EPROTO;
	}
	frp_close_fds(&m);
	frp_send_ack(fd, err, err ? strerror(-err) : NULL);
}
