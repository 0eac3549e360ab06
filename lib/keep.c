// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Fds a server wants to outlive it: its state store's memory, files that
 * are open but unlinked.  The session's holder keeps each under (kind,
 * key) and hands them all to the next server during takeover, before the
 * filesystem's init runs again; this file dispatches to the holder and
 * keeps the list of what the previous server left (s->kept).
 */
#include "fuse_recover_i.h"
#include "proto.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

_Static_assert((int)FR_KEEP_FILE == (int)FRP_FD_FILE,
	       "the supervisor names kept files so");

/*
 * s->kept changes after the filesystem's init when a standby takes over
 * (fr_kept_refresh()) and whenever a server unkeeps, while loop threads
 * may look files up in it.  Recursive, so that a callback of
 * fr_kept_foreach() that reads the list again does not deadlock (one
 * that unkeeps would take the holder's lock inside this one: not done).
 */
static pthread_mutex_t kept_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

int fr_state_memfd(const char *name)
{
	struct fr_session *s = fr_current;
	int fd;

	if (s && s->holder && s->holder->state_memfd)
		return s->holder->state_memfd(s, name);
	fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	return fd < 0 ? -errno : fd;
}

/*
 * The mapping must not shrink under us (a later access would SIGBUS), so
 * the memfd is sealed against resizing; F_SEAL_SEAL keeps anyone else
 * holding it from adding F_SEAL_WRITE, which would lock the next server
 * out.  Returns false for memory that cannot be sealed (an O_TMPFILE, a
 * memfd made without MFD_ALLOW_SEALING): its size is checked at every open
 * instead.
 */
bool fr_seal_size(int fd)
{
	const int want = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
	int seals = fcntl(fd, F_GET_SEALS);

	if (seals >= 0 && (seals & F_SEAL_SHRINK))
		return true;
	if (seals < 0 || (seals & F_SEAL_SEAL))
		return false;
	return fcntl(fd, F_ADD_SEALS, want & ~seals) == 0;
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
	struct fr_kept *n;

	pthread_mutex_lock(&kept_lock);
	n = realloc(s->kept, (s->nkept + 1) * sizeof(*n));
	if (!n) {
		pthread_mutex_unlock(&kept_lock);
		close(fd);
		return -ENOMEM;
	}
	s->kept = n;
	n[s->nkept++] = (struct fr_kept){ .kind = kind, .key = key, .fd = fd };
	pthread_mutex_unlock(&kept_lock);
	return 0;
}

/* Our copy from the takeover goes too when unkept, or the file stays open. */
void fr_kept_drop(struct fr_session *s, uint32_t kind, uint64_t key)
{
	size_t i;

	pthread_mutex_lock(&kept_lock);
	for (i = 0; i < s->nkept; i++) {
		if (s->kept[i].kind != kind || s->kept[i].key != key)
			continue;
		close(s->kept[i].fd);
		s->kept[i] = s->kept[--s->nkept];
		break;
	}
	pthread_mutex_unlock(&kept_lock);
}

/*
 * A standby fetched the kept fds before its init; the old server kept or
 * dropped files while it waited (GO said so).  The files are fetched
 * again; the state memory stays the one the standby opened and checked
 * (a change of that replaces the standby instead: the supervisor's
 * hot_kept_changed()).  On failure the list is as before.
 */
int fr_kept_refresh(struct fr_session *s)
{
	size_t nold, i, n = 0;
	int err;

	/*
	 * The holder appends what it fetches; not under kept_lock, which
	 * an unkeep takes inside the holder's own lock.  A standby has no
	 * loop thread yet that could unkeep meanwhile.
	 */
	pthread_mutex_lock(&kept_lock);
	nold = s->nkept;
	pthread_mutex_unlock(&kept_lock);
	err = s->holder->take_kept(s);
	pthread_mutex_lock(&kept_lock);
	for (i = 0; i < s->nkept; i++) {
		bool file = s->kept[i].kind == FR_KEEP_FILE;

		/* all came: old state memory, new files; else the old */
		if (i < nold ? !file || err : file && !err)
			s->kept[n++] = s->kept[i];
		else
			close(s->kept[i].fd);
	}
	s->nkept = n;
	pthread_mutex_unlock(&kept_lock);
	return err;
}

int fr_kept_fd(enum fr_keep_kind kind, uint64_t key)
{
	struct fr_session *s = fr_current;
	int fd = -ENOENT;
	size_t i;

	pthread_mutex_lock(&kept_lock);
	for (i = 0; s && i < s->nkept; i++)
		if (s->kept[i].kind == kind && s->kept[i].key == key) {
			fd = s->kept[i].fd;
			break;
		}
	pthread_mutex_unlock(&kept_lock);
	return fd;
}

int fr_kept_foreach(enum fr_keep_kind kind,
		    int (*cb)(uint64_t key, int fd, void *arg), void *arg)
{
	struct fr_session *s = fr_current;
	size_t i;
	int ret = 0;

	pthread_mutex_lock(&kept_lock);
	for (i = 0; s && i < s->nkept; i++) {
		if (s->kept[i].kind != kind)
			continue;
		ret = cb(s->kept[i].key, s->kept[i].fd, arg);
		if (ret)
			break;
	}
	pthread_mutex_unlock(&kept_lock);
	return ret;
}

bool fr_session_recovered(void)
{
	return fr_current && fr_current->recovered;
}

void fr_kept_free(struct fr_session *s)
{
	size_t i;

	pthread_mutex_lock(&kept_lock);
	for (i = 0; i < s->nkept; i++)
		close(s->kept[i].fd);
	free(s->kept);
	s->kept = NULL;
	s->nkept = 0;
	pthread_mutex_unlock(&kept_lock);
}
