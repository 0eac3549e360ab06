// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Fds a server wants to outlive it: its state store's memory, files that
 * are open but unlinked.  The session's holder keeps each under (kind,
 * key) and hands them all to the next server during takeover, before the
 * filesystem's init runs again; this file dispatches to the holder and
 * keeps the list of what the previous server left (s->kept).
 */
#include "fuse_recover_i.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int fr_state_memfd(const char *name)
{
	struct fr_session *s = fr_current;
	int fd;

	if (s && s->holder && s->holder->state_memfd)
		return s->holder->state_memfd(s, name);
	fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	return fd < 0 ? -errno : fd;
}

bool fr_state_sealable(void)
{
	struct fr_session *s = fr_current;

	return !(s && s->holder && s->holder->state_memfd);
}

int fr_keep_fd(int fd, enum fr_keep_kind kind, uint64_t key)
{
	struct fr_session *s = fr_current;

	if (!s || !s->holder)
		return -ENOTCONN;
	return s->holder->keep(s, fd, kind, key);
}

void fr_unkeep_fd(enum fr_keep_kind kind, uint64_t key)
{
	struct fr_session *s = fr_current;

	if (s && s->holder)
		s->holder->unkeep(s, kind, key);
}

int fr_kept_add(struct fr_session *s, uint32_t kind, uint64_t key, int fd)
{
	struct fr_kept *n = realloc(s->kept, (s->nkept + 1) * sizeof(*n));

	if (!n) {
		close(fd);
		return -ENOMEM;
	}
	s->kept = n;
	n[s->nkept++] = (struct fr_kept){ .kind = kind, .key = key, .fd = fd };
	return 0;
}

/* Our copy from the takeover goes too when unkept, or the file stays open. */
void fr_kept_drop(struct fr_session *s, uint32_t kind, uint64_t key)
{
	size_t i;

	for (i = 0; i < s->nkept; i++) {
		if (s->kept[i].kind != kind || s->kept[i].key != key)
			continue;
		close(s->kept[i].fd);
		s->kept[i] = s->kept[--s->nkept];
		break;
	}
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

void fr_kept_free(struct fr_session *s)
{
	size_t i;

	for (i = 0; i < s->nkept; i++)
		close(s->kept[i].fd);
	free(s->kept);
	s->kept = NULL;
	s->nkept = 0;
}
