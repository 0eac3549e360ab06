// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Fds a server wants to outlive it: its state store's memory, files that
 * are open but unlinked.  The supervisor holds a dup of each under (kind,
 * key) and hands them all to the next server during takeover, before the
 * filesystem's init runs again.
 *
 * With no supervisor (kernel reattach, kattach.c) only state memory can be
 * kept: it is then an O_TMPFILE in the private runtime directory, linked
 * as TAG.keep-KIND-KEY when kept, which outlives the process like the
 * memfd held by a supervisor would.
 */
#include "fuse_recover_i.h"
#include "proto.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <syslog.h>
#include <unistd.h>

static int keep_path(char *path, const char *tag, unsigned int kind,
		     uint64_t key)
{
	char dir[FR_PATH_MAX], name[FR_PATH_MAX];
	int err = fr_runtime_dir(dir, sizeof(dir));

	if (err)
		return err;
	snprintf(name, sizeof(name), "keep-%u-%llu", kind,
		 (unsigned long long)key);
	return fr_tag_path(path, dir, tag, name);
}

int fr_state_memfd(const char *name)
{
	struct fr_session *s = fr_current;
	char dir[FR_PATH_MAX];
	int fd;

	if (!s || !s->kernel_path) {
		fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
		return fd < 0 ? -errno : fd;
	}
	if (fr_runtime_dir(dir, sizeof(dir)))
		return -EPERM;
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	return fd < 0 ? -errno : fd;
}

static int kernel_keep(struct fr_session *s, int fd, unsigned int kind,
		       uint64_t key)
{
	char path[FR_PATH_MAX], self[64];
	int err;

	if (kind != FR_KEEP_STATE) {
		fr_log(LOG_WARNING,
		       "no supervisor: an fd of kind %u cannot outlive this server",
		       kind);
		return -EOPNOTSUPP;
	}
	err = keep_path(path, s->tag, kind, key);
	if (err)
		return err;
	unlink(path);
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, self, AT_FDCWD, path, AT_SYMLINK_FOLLOW) < 0)
		return -errno;
	return 0;
}

/* Kernel path: what the previous server linked, as kept fds. */
int fr_kept_load_files(struct fr_session *s)
{
	char dir[FR_PATH_MAX], prefix[FR_PATH_MAX];
	struct dirent *e;
	size_t plen;
	DIR *d;
	int err = fr_runtime_dir(dir, sizeof(dir));

	if (err)
		return err;
	d = opendir(dir);
	if (!d)
		return -errno;
	plen = snprintf(prefix, sizeof(prefix), "%s.keep-%u-", s->tag,
			FR_KEEP_STATE);
	while ((e = readdir(d))) {
		struct fr_kept *n;
		char *end;
		uint64_t key;
		int fd;

		if (strncmp(e->d_name, prefix, plen) != 0)
			continue;
		key = strtoull(e->d_name + plen, &end, 10);
		if (*end)
			continue;
		fd = openat(dirfd(d), e->d_name,
			    O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			continue;
		n = realloc(s->kept, (s->nkept + 1) * sizeof(*n));
		if (!n) {
			close(fd);
			err = -ENOMEM;
			break;
		}
		s->kept = n;
		n[s->nkept++] = (struct fr_kept){ .kind = FR_KEEP_STATE,
						  .key = key, .fd = fd };
	}
	closedir(d);
	return err;
}

/* Kernel path: a fresh mount or a clean unmount leaves no kept file. */
void fr_kept_remove_files(const char *tag)
{
	char dir[FR_PATH_MAX], prefix[FR_PATH_MAX];
	struct dirent *e;
	size_t plen;
	DIR *d;

	if (fr_runtime_dir(dir, sizeof(dir)) || !(d = opendir(dir)))
		return;
	plen = snprintf(prefix, sizeof(prefix), "%s.keep-", tag);
	while ((e = readdir(d)))
		if (strncmp(e->d_name, prefix, plen) == 0)
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
}

int fr_keep_fd(int fd, enum fr_keep_kind kind, uint64_t key)
{
	struct fr_session *s = fr_current;
	struct frp_msg m = { .type = FRP_ADD_FD, .nfd = 1, .fd = { fd },
			     .arg = { key, kind } };
	struct frp_msg r = { 0 };
	char buf[FRP_MAX_MSG];
	int err;

	if (s && s->kernel_path)
		return kernel_keep(s, fd, kind, key);
	if (!s || s->sock < 0)
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

void fr_unkeep_fd(enum fr_keep_kind kind, uint64_t key)
{
	struct fr_session *s = fr_current;
	struct frp_msg m = { .type = FRP_DEL_FD, .arg = { key, kind } };
	size_t i;

	if (!s)
		return;
	pthread_mutex_lock(&s->sock_lock);
	if (s->sock >= 0)
		frp_send(s->sock, &m);
	fr_rehome_forget(kind, key);
	/* Our copy from the takeover goes too, or the file stays open. */
	for (i = 0; i < s->nkept; i++) {
		if (s->kept[i].kind != kind || s->kept[i].key != key)
			continue;
		close(s->kept[i].fd);
		s->kept[i] = s->kept[--s->nkept];
		break;
	}
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
	err = s->sock < 0 ? -ENOTCONN : fr_client_drain_acks(s);
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

void fr_kept_free(struct fr_session *s)
{
	size_t i;

	for (i = 0; i < s->nkept; i++)
		close(s->kept[i].fd);
	free(s->kept);
	s->kept = NULL;
	s->nkept = 0;
}
