// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Fds a server wants to outlive it: its state store's memfds, files that
 * are open but unlinked.  The supervisor holds a dup of each under (kind,
 * key) and hands them all to the next server during takeover, before the
 * filesystem's init runs again.
 */
#include "fuse_recover_i.h"
#include "proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fr_keep_fd(int fd, enum fr_keep_kind kind, uint64_t key)
{
	struct fr_session *s = fr_current;
	struct frp_msg m = { .type = FRP_ADD_FD, .nfd = 1, .fd = { fd },
			     .arg = { key, kind } };
	struct frp_msg r = { 0 };
	char buf[FRP_MAX_MSG];
	int err;

	if (!s || s->sock < 0)
		return -ENOTCONN;
	err = fr_client_call(s, &m, buf, &r);
	if (err)
		return err;
	frp_close_fds(&r);
	return r.type == FRP_ACK ? r.status : -EPROTO;
}

void fr_unkeep_fd(enum fr_keep_kind kind, uint64_t key)
{
	struct fr_session *s = fr_current;
	struct frp_msg m = { .type = FRP_DEL_FD, .arg = { key, kind } };

	if (!s)
		return;
	pthread_mutex_lock(&s->sock_lock);
	if (s->sock >= 0)
		frp_send(s->sock, &m);
	pthread_mutex_unlock(&s->sock_lock);
}

int fr_kept_fd(enum fr_keep_kind kind, uint64_t key)
{
	struct fr_session *s = fr_current;
	size_t i;

	for (i = 0; s && i < s->nkept; i++)
		if (s->kept[i].kind == kind && s->kept[i].key == key)
			return s->kept[i].fd;
	return -ENOENT;
}

int fr_kept_foreach(enum fr_keep_kind kind,
		    int (*cb)(uint64_t key, int fd, void *arg), void *arg)
{
	struct fr_session *s = fr_current;
	size_t i;
	int ret;

	for (i = 0; s && i < s->nkept; i++) {
		if (s->kept[i].kind != kind)
			continue;
		ret = cb(s->kept[i].key, s->kept[i].fd, arg);
		if (ret)
			return ret;
	}
	return 0;
}

bool fr_session_recovered(void)
{
	return fr_current && fr_current->recovered;
}

static int add_kept(struct fr_session *s, const struct frp_msg *m)
{
	const struct frp_kept_entry *e = m->blob[0];
	struct fr_kept *n;
	unsigned int i;

	if (m->blob_len[0] != m->nfd * sizeof(*e))
		return -EPROTO;
	n = realloc(s->kept, (s->nkept + m->nfd) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	s->kept = n;
	for (i = 0; i < m->nfd; i++) {
		struct frp_kept_entry one;

		memcpy(&one, (const char *)m->blob[0] + i * sizeof(one),
		       sizeof(one));
		n[s->nkept++] = (struct fr_kept){ .kind = one.kind,
						  .key = one.key,
						  .fd = m->fd[i] };
	}
	return 0;
}

int fr_kept_fetch(struct fr_session *s)
{
	struct frp_msg m = { .type = FRP_FETCH };
	char buf[FRP_MAX_MSG];
	int err;

	pthread_mutex_lock(&s->sock_lock);
	err = s->sock < 0 ? -ENOTCONN : frp_send(s->sock, &m);
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

void fr_kept_free(struct fr_session *s)
{
	size_t i;

	for (i = 0; i < s->nkept; i++)
		close(s->kept[i].fd);
	free(s->kept);
	s->kept = NULL;
	s->nkept = 0;
}
