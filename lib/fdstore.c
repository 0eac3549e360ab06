// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * systemd's fd store as the holder.
 *
 * A service with FileDescriptorStoreMax= may hand fds to the service
 * manager (sd_notify "FDSTORE=1" with SCM_RIGHTS); when the service is
 * restarted (Restart=, or a crash) the manager passes them back to the new
 * process as LISTEN_FDS, named by LISTEN_FDNAMES.  The manager is PID 1 (or
 * the user's manager): it outlives every server, so no fuse-recoverd is
 * needed.  What we store, each under its own FDNAME:
 *
 *   fr.TAG.init             a sealed memfd: INIT request, reply, mount point
 *   fr.TAG.fuse             the connection's /dev/fuse fd
 *   fr.TAG.clone.ID         clone fds (clone_fd=1), until the next takeover
 *   fr.TAG.keep.KIND.KEY    kept fds (state memory, unlinked open files)
 *
 * INIT goes first: a store with the fd but no INIT could not be taken over,
 * one with an INIT but no fd is simply mounted afresh.  A BARRIER=1 after
 * each change waits until the manager has processed it, so what we call
 * kept is kept.  A clean unmount removes every name (FDSTOREREMOVE=1), so
 * a stopped or restarted service finds nothing of ours.
 *
 * The protocol is spoken here directly rather than through libsystemd: it
 * is one datagram per message, with the fds as SCM_RIGHTS, the same thing
 * sd_pid_notify_with_fds() sends; LISTEN_FDS is three environment
 * variables.  That keeps the library free of a dependency that Debian
 * would pull in for every server, also those never run under systemd, and
 * lets it check what it trusts (below) the way it wants.
 *
 * Trust: NOTIFY_SOCKET receives our /dev/fuse fd, so like FUSE_RECOVER_FD
 * it is read with secure_getenv() and must be a socket in the file system
 * owned by root or by us (the system or the user's manager); an abstract
 * one cannot be checked and is refused.  From LISTEN_FDS only fds named
 * fr.TAG.* are taken, only when LISTEN_PID is us, and each must be what its
 * name says (a /dev/fuse character device, a regular file or memfd).  The
 * store belongs to our unit: the manager takes FDSTORE only from the
 * unit's own processes.
 */
#include "fuse_recover_i.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#define FUSE_DEV_MAJOR 10
#define FUSE_DEV_MINOR 229
#define FDNAME_MAX 255		/* systemd's limit for FDNAME= */
#define BARRIER_TIMEOUT_MS 5000
#define LISTEN_FDS_START 3
#define LISTEN_FDS_MAX 65536

/* A name we stored (or were given back), so that it can be removed. */
struct sd_name {
	char name[FDNAME_MAX + 1];
};

static struct {
	pthread_mutex_t lock;	/* names, and the order of our messages */
	struct sd_name *names;
	size_t nnames;
	unsigned int max;	/* $FDSTORE (systemd >= 254), 0: unknown */

	/* From LISTEN_FDS, for the takeover. */
	int fuse_fd, init_fd;
	int *old_clones;	/* the dead server's: held until resumed */
	size_t nold_clones;
	char **old_clone_names;
	struct fr_kept *keeps;	/* handed to s->kept by take_kept() */
	size_t nkeeps;
} sd = { .lock = PTHREAD_MUTEX_INITIALIZER, .fuse_fd = -1, .init_fd = -1 };

/* The manager's socket, checked; -errno with the reason logged. */
static int notify_addr(struct sockaddr_un *sa, socklen_t *len)
{
	const char *path = secure_getenv("NOTIFY_SOCKET");
	struct stat st;

	if (!path || !*path)
		return -ENOENT;
	if (path[0] != '/') {
		fr_log(LOG_ERR,
		       "NOTIFY_SOCKET=%s is not a path: an abstract socket's owner cannot be checked, not sending it our connection",
		       path);
		return -EPERM;
	}
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	if (lstat(path, &st) < 0)
		return -errno;
	if (!S_ISSOCK(st.st_mode) || (st.st_uid != 0 && st.st_uid != geteuid())) {
		fr_log(LOG_ERR,
		       "NOTIFY_SOCKET=%s is not a socket of root or of uid %u: not sending it our connection",
		       path, (unsigned int)geteuid());
		return -EPERM;
	}
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	strcpy(sa->sun_path, path);
	*len = offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1;
	return 0;
}

/* One notify message, with up to one fd. */
static int notify(const char *text, int fd)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct sockaddr_un sa;
	struct iovec iov = { .iov_base = (void *)text, .iov_len = strlen(text) };
	struct msghdr mh = { .msg_name = &sa, .msg_iov = &iov,
			     .msg_iovlen = 1 };
	socklen_t salen = 0;
	int sock, err = notify_addr(&sa, &salen);
	ssize_t n;

	if (err)
		return err;
	mh.msg_namelen = salen;
	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.b;
		mh.msg_controllen = sizeof(ctl.b);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(fd));
	}
	sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return -errno;
	do {
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	err = n < 0 ? -errno : 0;
	close(sock);
	return err;
}

/*
 * BARRIER=1 with the write end of a pipe: the manager closes it once it
 * has processed every message we sent before, so the read end's hang-up
 * says that what we stored is stored.
 */
static int barrier(void)
{
	struct pollfd p;
	int pipefd[2], err, n;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	err = notify("BARRIER=1", pipefd[1]);
	close(pipefd[1]);
	if (!err) {
		p = (struct pollfd){ .fd = pipefd[0], .events = 0 };
		do {
			n = poll(&p, 1, BARRIER_TIMEOUT_MS);
		} while (n < 0 && errno == EINTR);
		err = n == 1 ? 0 : n == 0 ? -ETIMEDOUT : -errno;
	}
	close(pipefd[0]);
	if (err)
		fr_log(LOG_ERR, "systemd did not confirm the fd store: %s",
		       strerror(-err));
	return err;
}

static bool have_name(const char *name)
{
	size_t i;

	for (i = 0; i < sd.nnames; i++)
		if (strcmp(sd.names[i].name, name) == 0)
			return true;
	return false;
}

static int note_name(const char *name)
{
	struct sd_name *n;

	if (have_name(name))
		return 0;
	n = realloc(sd.names, (sd.nnames + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	sd.names = n;
	snprintf(n[sd.nnames++].name, sizeof(n->name), "%s", name);
	return 0;
}

static void forget_name(const char *name)
{
	size_t i;

	for (i = 0; i < sd.nnames; i++)
		if (strcmp(sd.names[i].name, name) == 0) {
			sd.names[i] = sd.names[--sd.nnames];
			return;
		}
}

static int remove_name(const char *name)
{
	char msg[FDNAME_MAX + 40];

	snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", name);
	forget_name(name);
	return notify(msg, -1);
}

/* Under sd.lock.  A name stored again replaces what it named. */
static int store(const char *name, int fd)
{
	char msg[FDNAME_MAX + 40];
	int err;

	if (have_name(name)) {
		err = remove_name(name);
		if (err)
			return err;
	} else if (sd.max && sd.nnames >= sd.max) {
		return -ENOSPC;
	}
	err = note_name(name);
	if (err)
		return err;
	snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", name);
	err = notify(msg, fd);
	if (err)
		forget_name(name);
	return err;
}

static void fmt_name(char *buf, size_t size, const char *tag,
		     const char *what)
{
	snprintf(buf, size, "fr.%s.%s", tag, what);
}

static bool systemd_usable(void)
{
	const char *max = secure_getenv("FDSTORE");

	/* Launched by fuse-recoverd: that is our holder. */
	if (getenv("FUSE_RECOVER_FD") || secure_getenv("FUSE_RECOVER_NO_SYSTEMD"))
		return false;
	if (!secure_getenv("NOTIFY_SOCKET"))
		return false;
	/* systemd 254 and later say how many fds the store takes. */
	if (max) {
		sd.max = strtoul(max, NULL, 10);
		return sd.max > 0;
	}
	return true;
}

static bool is_fuse_dev(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) &&
	       major(st.st_rdev) == FUSE_DEV_MAJOR &&
	       minor(st.st_rdev) == FUSE_DEV_MINOR;
}

static bool is_file(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

static int add_old_clone(int fd, const char *name)
{
	int *n = realloc(sd.old_clones, (sd.nold_clones + 1) * sizeof(*n));
	char **names;

	if (!n)
		return -ENOMEM;
	sd.old_clones = n;
	names = realloc(sd.old_clone_names,
			(sd.nold_clones + 1) * sizeof(*names));
	if (!names)
		return -ENOMEM;
	sd.old_clone_names = names;
	names[sd.nold_clones] = strdup(name);
	if (!names[sd.nold_clones])
		return -ENOMEM;
	n[sd.nold_clones++] = fd;
	return 0;
}

static int add_keep(int fd, const char *what)
{
	unsigned int kind;
	unsigned long long key;
	struct fr_kept *n;
	int used = 0;

	/* Any type: an unlinked open file may be a FIFO or a socket too. */
	if (sscanf(what, "keep.%u.%llu%n", &kind, &key, &used) != 2 ||
	    what[used] || is_fuse_dev(fd))
		return -EINVAL;
	n = realloc(sd.keeps, (sd.nkeeps + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	sd.keeps = n;
	n[sd.nkeeps++] = (struct fr_kept){ .kind = kind, .key = key, .fd = fd };
	return 0;
}

/* One fd the manager gave back under our prefix; 0 if taken, else why not. */
static int take_one(int fd, const char *name, const char *what)
{
	/*
	 * A second fd of a name already taken: removing the name would take
	 * the first one out of the store too; it is only closed here.
	 */
	if ((strcmp(what, "fuse") == 0 && sd.fuse_fd >= 0) ||
	    (strcmp(what, "init") == 0 && sd.init_fd >= 0))
		return -EEXIST;
	if (strcmp(what, "fuse") == 0 && is_fuse_dev(fd)) {
		sd.fuse_fd = fd;
		return 0;
	}
	if (strcmp(what, "init") == 0 && is_file(fd)) {
		sd.init_fd = fd;
		return 0;
	}
	if (strncmp(what, "clone.", 6) == 0 && is_fuse_dev(fd))
		return add_old_clone(fd, name);
	if (strncmp(what, "keep.", 5) == 0)
		return add_keep(fd, what);
	return -EINVAL;
}

/*
 * What a previous server of the tag left in the store.  fds that are not
 * ours (the service's own sockets, another tag's) are left alone, as is
 * the environment then, for the server's own sd_listen_fds().  Read with
 * secure_getenv(), like NOTIFY_SOCKET: in a set-uid server the caller
 * would otherwise name its own fds as this tag's connection and state.
 */
static int listen_fds(const char *tag)
{
	const char *pid = secure_getenv("LISTEN_PID");
	const char *nfds = secure_getenv("LISTEN_FDS");
	const char *names = secure_getenv("LISTEN_FDNAMES");
	char prefix[FDNAME_MAX + 1], *list, *save = NULL, *name;
	unsigned long n, i;
	size_t plen;
	bool all_ours = true;
	int err = 0;

	if (!pid || !nfds || strtol(pid, NULL, 10) != getpid())
		return 0;
	n = strtoul(nfds, NULL, 10);
	/* More than any fd table holds: not from a service manager. */
	if (!n || n > LISTEN_FDS_MAX)
		return 0;
	list = strdup(names ? names : "");
	if (!list)
		return -ENOMEM;
	plen = snprintf(prefix, sizeof(prefix), "fr.%s.", tag);
	name = strtok_r(list, ":", &save);
	for (i = 0; i < n; i++, name = name ? strtok_r(NULL, ":", &save) : NULL) {
		int fd = LISTEN_FDS_START + i, e;

		if (!name || strncmp(name, prefix, plen) != 0) {
			all_ours = false;
			continue;
		}
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		e = note_name(name);
		if (!e)
			e = take_one(fd, name, name + plen);
		if (e == -EINVAL) {
			/* Not what its name says: not ours, drop it. */
			fr_log(LOG_WARNING,
			       "fd store: %s (fd %d) is not what its name says; removing it",
			       name, fd);
			remove_name(name);
			close(fd);
		} else if (e == -EEXIST) {
			fr_log(LOG_WARNING,
			       "fd store: a second %s (fd %d); using the first",
			       name, fd);
			close(fd);
		} else if (e && !err) {
			err = e;
		}
	}
	free(list);
	if (all_ours) {
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_FDNAMES");
	}
	return err;
}

/* An unmounted or aborted connection polls as POLLERR. */
static bool connection_alive(int fd)
{
	struct pollfd p = { .fd = fd };

	return !(poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLNVAL)));
}

static void systemd_init(struct fr_session *s)
{
	(void)s;	/* all our state is in sd */
}

static int systemd_find(struct fr_session *s, const struct fuse_recover *fr)
{
	int err;

	pthread_mutex_lock(&sd.lock);
	err = listen_fds(fr->tag);
	pthread_mutex_unlock(&sd.lock);
	if (err)
		return err;
	if (sd.fuse_fd >= 0 && !connection_alive(sd.fuse_fd)) {
		fr_log(LOG_WARNING,
		       "fd store of tag %s holds a connection that is gone (unmounted or aborted): mounting afresh",
		       s->tag);
		return 0;
	}
	if (sd.fuse_fd >= 0 && sd.init_fd >= 0)
		return 1;
	if (sd.fuse_fd >= 0 || sd.nold_clones || sd.nkeeps)
		fr_log(LOG_WARNING,
		       "fd store of tag %s holds %s but no saved INIT: mounting afresh",
		       s->tag, sd.fuse_fd >= 0 ? "a connection" : "kept fds");
	return 0;
}

/* Our copies of what the manager gave back and nobody took. */
static void close_taken(void)
{
	size_t i;

	if (sd.fuse_fd >= 0)
		close(sd.fuse_fd);
	if (sd.init_fd >= 0)
		close(sd.init_fd);
	sd.fuse_fd = sd.init_fd = -1;
	for (i = 0; i < sd.nold_clones; i++) {
		close(sd.old_clones[i]);
		free(sd.old_clone_names[i]);
	}
	sd.nold_clones = 0;
	for (i = 0; i < sd.nkeeps; i++)
		close(sd.keeps[i].fd);
	sd.nkeeps = 0;
}

/* Everything from a store we did not take over goes. */
static void drop_taken(void)
{
	pthread_mutex_lock(&sd.lock);
	while (sd.nnames)
		remove_name(sd.names[0].name);
	pthread_mutex_unlock(&sd.lock);
	close_taken();
}

static int systemd_mount(struct fr_session *s, const struct fuse_recover *fr)
{
	unsigned int conn;
	bool was = fr_mount_conn_id(s->mountpoint, &conn) == 0;
	int err;

	(void)fr;
	drop_taken();
	err = fr_clear_dead_mount(s);
	if (err)
		return err;
	/* The store should have held it: say what to look at. */
	if (was)
		fr_log(LOG_WARNING,
		       "systemd did not keep the connection of tag %s: does the unit set FileDescriptorStoreMax=, and NotifyAccess= allow this process?",
		       s->tag);
	return fr_mount_fresh(s);
}

static int systemd_hold(struct fr_session *s)
{
	char name[FDNAME_MAX + 1];
	int fd = memfd_create("fuse-recover-init", MFD_CLOEXEC |
					 MFD_ALLOW_SEALING), err;

	if (fd < 0)
		return -errno;
	err = fr_init_record_write(fd, s);
	if (!err && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
			  F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		err = -errno;
	pthread_mutex_lock(&sd.lock);
	fmt_name(name, sizeof(name), s->tag, "init");
	if (!err)
		err = store(name, fd);
	fmt_name(name, sizeof(name), s->tag, "fuse");
	if (!err)
		err = store(name, s->main_fd);
	pthread_mutex_unlock(&sd.lock);
	close(fd);
	if (!err)
		err = barrier();
	if (err)
		fr_log(LOG_ERR, "cannot put the connection in systemd's fd store: %s",
		       strerror(-err));
	return err;
}

static int systemd_take(struct fr_session *s, int *fd, char **mountpoint)
{
	int err = fr_init_record_read(sd.init_fd, s, mountpoint);

	if (err) {
		fr_log(LOG_ERR, "fd store of tag %s: saved INIT is unreadable (%s)",
		       s->tag, strerror(-err));
		return err;
	}
	*fd = sd.fuse_fd;
	sd.fuse_fd = -1;
	return 0;
}

static int systemd_take_kept(struct fr_session *s)
{
	size_t i;
	int err = 0;

	for (i = 0; i < sd.nkeeps; i++) {
		if (!err)
			err = fr_kept_add(s, sd.keeps[i].kind, sd.keeps[i].key,
					  sd.keeps[i].fd);
		else
			close(sd.keeps[i].fd);
	}
	sd.nkeeps = 0;
	return err;
}

/*
 * The kernel has moved what the dead server's clones had read back to the
 * queue (resend): they are empty, and go.
 */
static int systemd_resumed(struct fr_session *s)
{
	size_t i;

	(void)s;
	pthread_mutex_lock(&sd.lock);
	for (i = 0; i < sd.nold_clones; i++) {
		remove_name(sd.old_clone_names[i]);
		free(sd.old_clone_names[i]);
		close(sd.old_clones[i]);
	}
	sd.nold_clones = 0;
	pthread_mutex_unlock(&sd.lock);
	return 0;
}

/*
 * Nothing to tell: the store keeps everything for the next start (which
 * systemd makes, within the unit's restart limits).
 */
static int systemd_decline(struct fr_session *s, int err, const char *why)
{
	(void)s;
	(void)why;
	return err;
}

static void systemd_running(struct fr_session *s, const struct fuse_recover *fr)
{
	(void)s;
	(void)fr;
	if (notify("READY=1", -1))
		fr_log(LOG_WARNING, "cannot tell systemd we are ready");
}

static int systemd_keep(struct fr_session *s, int fd, uint32_t kind,
			uint64_t key)
{
	char what[64], name[FDNAME_MAX + 1];
	int err;

	snprintf(what, sizeof(what), "keep.%u.%llu", kind,
		 (unsigned long long)key);
	fmt_name(name, sizeof(name), s->tag, what);
	pthread_mutex_lock(&sd.lock);
	err = store(name, fd);
	pthread_mutex_unlock(&sd.lock);
	if (err == -ENOSPC && !s->keep_refused_logged) {
		s->keep_refused_logged = true;
		fr_log(LOG_WARNING,
		       "systemd's fd store is full (FileDescriptorStoreMax=%u): keep this one yourself",
		       sd.max);
	}
	return err ? err : barrier();
}

static void systemd_unkeep(struct fr_session *s, uint32_t kind, uint64_t key)
{
	char what[64], name[FDNAME_MAX + 1];

	snprintf(what, sizeof(what), "keep.%u.%llu", kind,
		 (unsigned long long)key);
	fmt_name(name, sizeof(name), s->tag, what);
	pthread_mutex_lock(&sd.lock);
	if (have_name(name))
		remove_name(name);
	fr_kept_drop(s, kind, key);
	pthread_mutex_unlock(&sd.lock);
}

static int systemd_add_clone(struct fr_session *s, uint64_t id, int fd)
{
	char what[64], name[FDNAME_MAX + 1];
	int err;

	snprintf(what, sizeof(what), "clone.%llu", (unsigned long long)id);
	fmt_name(name, sizeof(name), s->tag, what);
	pthread_mutex_lock(&sd.lock);
	err = store(name, fd);
	pthread_mutex_unlock(&sd.lock);
	return err ? err : barrier();
}

static void systemd_del_clone(struct fr_session *s, uint64_t id)
{
	char what[64], name[FDNAME_MAX + 1];

	snprintf(what, sizeof(what), "clone.%llu", (unsigned long long)id);
	fmt_name(name, sizeof(name), s->tag, what);
	pthread_mutex_lock(&sd.lock);
	if (have_name(name))
		remove_name(name);
	pthread_mutex_unlock(&sd.lock);
}

/* Clean unmount: nothing of ours stays in the store. */
static void systemd_release(struct fr_session *s)
{
	(void)s;
	pthread_mutex_lock(&sd.lock);
	while (sd.nnames)
		remove_name(sd.names[0].name);
	pthread_mutex_unlock(&sd.lock);
	barrier();
}

static void systemd_close(struct fr_session *s)
{
	(void)s;
	close_taken();
	pthread_mutex_lock(&sd.lock);
	free(sd.names);
	sd.names = NULL;
	sd.nnames = 0;
	pthread_mutex_unlock(&sd.lock);
}

const struct fr_holder fr_holder_systemd = {
	.name = "systemd fd store",
	.usable = systemd_usable,
	.init = systemd_init,
	.find = systemd_find,
	.mount = systemd_mount,
	.unmount = fr_unmount_fresh,
	.hold = systemd_hold,
	.take = systemd_take,
	.take_kept = systemd_take_kept,
	.resumed = systemd_resumed,
	.decline = systemd_decline,
	.running = systemd_running,
	.keep = systemd_keep,
	.unkeep = systemd_unkeep,
	.add_clone = systemd_add_clone,
	.del_clone = systemd_del_clone,
	.release = systemd_release,
	.close = systemd_close,
	.dead_mounts = true,
};
