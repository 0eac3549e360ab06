// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Supervisor protocol: encoding and fd passing.  Fixed little header, then
 * the blobs back to back.  Every length is checked before use: the peer may
 * be a buggy or hostile program.
 */
#include "proto.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct frp_wire {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	int32_t status;
	uint32_t nfd;
	uint64_t arg[2];
	uint32_t blob_len[FRP_MAX_BLOBS];
};

ssize_t frp_encode(const struct frp_msg *m, void *buf, size_t size)
{
	struct frp_wire w = {
		.magic = FRP_MAGIC,
		.version = FRP_VERSION,
		.type = m->type,
		.status = m->status,
		.nfd = m->nfd,
		.arg = { m->arg[0], m->arg[1] },
	};
	size_t off = sizeof(w);
	int i;

	if (m->nfd > FRP_MAX_FDS || size < sizeof(w))
		return -EMSGSIZE;
	for (i = 0; i < FRP_MAX_BLOBS; i++) {
		uint32_t n = m->blob_len[i];

		if (n && !m->blob[i])
			return -EINVAL;
		if (n > size - off)
			return -EMSGSIZE;
		if (n)
			memcpy((char *)buf + off, m->blob[i], n);
		w.blob_len[i] = n;
		off += n;
	}
	memcpy(buf, &w, sizeof(w));
	return off;
}

int frp_decode(const void *buf, size_t len, struct frp_msg *m)
{
	struct frp_wire w;
	size_t off = sizeof(w);
	int i;

	if (len < sizeof(w))
		return -EPROTO;
	memcpy(&w, buf, sizeof(w));
	if (w.magic != FRP_MAGIC || w.version != FRP_VERSION ||
	    w.nfd > FRP_MAX_FDS)
		return -EPROTO;
	memset(m, 0, sizeof(*m));
	m->type = w.type;
	m->status = w.status;
	m->arg[0] = w.arg[0];
	m->arg[1] = w.arg[1];
	m->nfd = w.nfd;
	for (i = 0; i < FRP_MAX_BLOBS; i++) {
		if (w.blob_len[i] > len - off)
			return -EPROTO;
		m->blob[i] = (const char *)buf + off;
		m->blob_len[i] = w.blob_len[i];
		off += w.blob_len[i];
	}
	if (off != len)
		return -EPROTO;
	for (i = 0; i < FRP_MAX_FDS; i++)
		m->fd[i] = -1;
	return 0;
}

int frp_send(int sock, const struct frp_msg *m)
{
	char buf[FRP_MAX_MSG];
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * FRP_MAX_FDS)];
	} ctl;
	struct iovec iov;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t len = frp_encode(m, buf, sizeof(buf));

	if (len < 0)
		return len;
	iov.iov_base = buf;
	iov.iov_len = len;
	if (m->nfd) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * m->nfd);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * m->nfd);
		memcpy(CMSG_DATA(c), m->fd, sizeof(int) * m->nfd);
	}
	for (;;) {
		ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);

		if (n == len)
			return 0;
		if (n >= 0)
			return -EMSGSIZE;
		if (errno != EINTR)
			return -errno;
	}
}

static void close_cmsg_fds(struct msghdr *mh)
{
	struct cmsghdr *c;

	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		int *fds = (int *)CMSG_DATA(c);
		size_t n, i;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++)
			close(fds[i]);
	}
}

int frp_recv(int sock, void *buf, struct frp_msg *m)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * FRP_MAX_FDS)];
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = FRP_MAX_MSG };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.b,
		.msg_controllen = sizeof(ctl.b),
	};
	struct cmsghdr *c;
	unsigned int got = 0;
	int fds[FRP_MAX_FDS];
	ssize_t n;
	int err;

	do {
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ECONNRESET;
	if (mh.msg_flags & MSG_TRUNC) {
		close_cmsg_fds(&mh);
		return -EPROTO;
	}
	if (mh.msg_flags & MSG_CTRUNC) {
		/* Our fd table is full: the kernel dropped (some of) the fds. */
		close_cmsg_fds(&mh);
		err = frp_decode(buf, n, m);
		if (err)
			return err;
		m->nfd = 0;
		return -EMFILE;
	}
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		size_t k, i;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (got < FRP_MAX_FDS)
				fds[got++] = fd;
			else
				close(fd);
		}
	}
	err = frp_decode(buf, n, m);
	if (!err && got != m->nfd)
		err = -EPROTO;
	if (err) {
		while (got)
			close(fds[--got]);
		return err;
	}
	memcpy(m->fd, fds, sizeof(int) * got);
	return 0;
}

void frp_close_fds(struct frp_msg *m)
{
	unsigned int i;

	for (i = 0; i < m->nfd; i++) {
		if (m->fd[i] >= 0)
			close(m->fd[i]);
		m->fd[i] = -1;
	}
	m->nfd = 0;
}

int frp_send_ack(int sock, int status, const char *reason)
{
	struct frp_msg m = { .type = FRP_ACK, .status = status };

	if (reason) {
		m.blob[0] = reason;
		m.blob_len[0] = strlen(reason);
	}
	return frp_send(sock, &m);
}
