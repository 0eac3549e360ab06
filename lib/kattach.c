// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The kernel holder (holder.h): recovery with no supervisor, on kernels
 * carrying our patches (kernel/).
 *
 * The connection is mounted with tag=NAME and the server's INIT reply
 * negotiates FUSE_HAS_RECOVERY, so the kernel itself keeps the connection
 * (and the requests the dead server had read) when the last /dev/fuse fd
 * closes.  A restarted server opens /dev/fuse and binds it with
 * FUSE_DEV_IOC_ATTACH to the mount it finds on its mount point (an O_PATH
 * fd of it names the connection; the kernel checks the mount's tag is
 * ours).  What the supervisor would hold lives elsewhere:
 *  - the INIT request and reply: RUNTIME_DIR/TAG.init, written once,
 *    atomically (rename), with a checksum;
 *  - "a live server holds this tag": the server keeps RUNTIME_DIR/TAG.lock
 *    locked for its whole life; the kernel drops the lock when it dies;
 *  - kept state memory: RUNTIME_DIR/TAG.keep-KIND-KEY (files cannot be
 *    kept: -EOPNOTSUPP).
 * Root only: mounting with tag= needs mount(2) (fusermount3 would refuse
 * the option), so this file mounts by itself with the options libfuse
 * would have used.
 */
#include "fuse_recover_i.h"
#include "../kernel/fuse_recover_uapi.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

static bool kernel_usable(void)
{
	struct fuse_attach_in probe = { .fd = -1 };
	int fd, err;

	if (geteuid() != 0 || secure_getenv("FUSE_RECOVER_NO_KERNEL"))
		return false;
	fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return false;
	err = ioctl(fd, FUSE_DEV_IOC_ATTACH, &probe) < 0 ? errno : 0;
	close(fd);
	/*
	 * Patched: fd -1 is EBADF.  Unpatched, or the older series that
	 * attached by tag string (another argument size): ENOTTY.
	 */
	return err == EBADF;
}

/*
 * Bound to the connection of the mount @mnt_fd refers to, if that mount
 * carries @tag.  -ENOENT: its connection is gone, or another mount (or
 * none) is there now; the kernel's -EINVAL (not a FUSE mount) means the
 * same to us.
 */
static int attach_once(int mnt_fd, const char *tag, int *fdp)
{
	struct fuse_attach_in in = { .fd = mnt_fd };
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC), err;

	if (fd < 0)
		return -errno;
	snprintf(in.tag, sizeof(in.tag), "%s", tag);
	if (ioctl(fd, FUSE_DEV_IOC_ATTACH, &in) == 0) {
		*fdp = fd;
		return 0;
	}
	err = errno == EINVAL ? -ENOENT : -errno;
	close(fd);
	return err;
}

/*
 * The kernel lets only the mounter attach (same euid, CAP_SYS_ADMIN) and
 * only while no /dev/fuse fd of the connection is open (else -EBUSY).  We
 * hold the tag lock, so no live server of ours has the tag; an fd can still
 * be open for a moment while the dead server's files are being closed, so
 * -EBUSY is retried briefly before it is reported.
 */
#define ATTACH_BUSY_TRIES 50
#define ATTACH_BUSY_WAIT_US 20000

/* Bound through @mnt_fd, retrying a short -EBUSY; says why it failed */
static int attach_retrying(int mnt_fd, const char *tag, int *fdp)
{
	int i, err = 0;

	for (i = 0; i < ATTACH_BUSY_TRIES; i++) {
		err = attach_once(mnt_fd, tag, fdp);
		if (err != -EBUSY)
			break;
		usleep(ATTACH_BUSY_WAIT_US);
	}
	if (err == -EBUSY)
		fr_log(LOG_ERR,
		       "tag %s: a /dev/fuse fd of the connection is still open elsewhere (a live server), not taking it over",
		       tag);
	else if (err == -EPERM)
		fr_log(LOG_ERR,
		       "tag %s: only the mounter (same euid, CAP_SYS_ADMIN) may reattach",
		       tag);
	return err;
}

/*
 * We attached through the fd of the old mount handed to us in
 * FUSE_RECOVER_MOUNT_FD (by a supervisor in another mount namespace, or
 * one that knows the mount point is covered now): our mount point does not
 * show the mount we serve.
 */
static bool via_handed_fd;

/* FUSE_RECOVER_MOUNT_FD, read once per process: the fd is ours then */
static int take_handed_fd(void)
{
	static bool taken;
	const char *v = secure_getenv("FUSE_RECOVER_MOUNT_FD");
	char *end;
	long n;

	if (taken || !v || !*v)
		return -1;
	taken = true;
	errno = 0;
	n = strtol(v, &end, 10);
	/* not into our children (and not into a forked server's exec) */
	if (errno || *end || n < 0 || n > INT_MAX ||
	    fcntl((int)n, F_SETFD, FD_CLOEXEC) < 0) {
		fr_log(LOG_ERR, "FUSE_RECOVER_MOUNT_FD=%s is not an open fd",
		       v);
		return -1;
	}
	return (int)n;
}

static int attach_to_mount(const char *mnt, const char *tag, int *fdp)
{
	int err, mnt_fd = take_handed_fd();

	/*
	 * A handed fd names the mount wherever it is; the kernel still checks
	 * it carries our tag.  If it does not (or is no FUSE mount), the mount
	 * point is the next place to look.
	 */
	if (mnt_fd >= 0) {
		err = attach_retrying(mnt_fd, tag, fdp);
		close(mnt_fd);
		if (!err) {
			via_handed_fd = true;
			return 0;
		}
		if (err == -EBUSY || err == -EPERM)
			return err;
		fr_log(LOG_WARNING,
		       "FUSE_RECOVER_MOUNT_FD: no connection with tag %s there (%s), trying %s",
		       tag, strerror(-err), mnt);
	}
	/*
	 * The connection is named by its mount, as our mount namespace shows
	 * it on the mount point.  O_PATH: opening the root sends no request
	 * to the dead server (stat or statfs would wait for one: us).  If
	 * another mount now covers it, or the server was started in another
	 * mount namespace, the kernel finds no mount with our tag there
	 * (-ENOENT) and we mount afresh; the old connection then waits for
	 * its recovery_timeout, or for a server handed an fd of it.
	 */
	mnt_fd = open(mnt, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (mnt_fd < 0)
		return -errno;
	err = attach_retrying(mnt_fd, tag, fdp);
	close(mnt_fd);
	return err;
}

static int mount_tagged(const struct fuse_recover *fr, const char *mnt,
			int *fdp)
{
	const struct fr_mount_opts *m = &fr->mnt;
	char data[512], type[64], extra[64] = "";
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC), n;

	if (fd < 0)
		return -errno;
	/* recover_timeout becomes the kernel's own give-up timer. */
	n = snprintf(extra, sizeof(extra), ",recovery_timeout=%u",
		     fr->timeout_sec);
	if (!fr->timeout_sec)
		extra[0] = n = 0;
	if (m->max_read)
		snprintf(extra + n, sizeof(extra) - n, ",max_read=%u",
			 m->max_read);
	n = snprintf(data, sizeof(data),
		     "fd=%d,rootmode=40000,user_id=0,group_id=0,tag=%s%s%s%s",
		     fd, fr->tag, m->allow_other ? ",allow_other" : "",
		     m->default_permissions ? ",default_permissions" : "",
		     extra);
	snprintf(type, sizeof(type), "fuse%s%s", m->subtype ? "." : "",
		 m->subtype ? m->subtype : "");
	if (n >= (int)sizeof(data) ||
	    mount(m->fsname ? m->fsname : "fuse-recover", mnt, type, m->flags,
		  data) < 0) {
		n = n >= (int)sizeof(data) ? -E2BIG : -errno;
		close(fd);
		fr_log(LOG_ERR, "mounting %s with tag=%s: %s", mnt, fr->tag,
		       strerror(-n));
		return n;
	}
	*fdp = fd;
	return 0;
}

static int init_file_path(char *path, const char *tag)
{
	char dir[FR_PATH_MAX];
	int err = fr_runtime_dir(dir, sizeof(dir));

	return err ? err : fr_tag_path(path, dir, tag, "init");
}

static int save_init(const struct fr_session *s)
{
	char path[FR_PATH_MAX], tmp[FR_PATH_MAX + 8];
	int fd, err = init_file_path(path, s->tag);

	if (err)
		return err;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0)
		return -errno;
	err = fr_init_record_write(fd, s);
	if (close(fd) < 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

static int load_init(struct fr_session *s, char **mnt)
{
	char path[FR_PATH_MAX];
	int fd, err = init_file_path(path, s->tag);

	if (err)
		return err;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	err = fr_init_record_read(fd, s, mnt);
	if (err == -EBADMSG)
		fr_log(LOG_ERR, "%s is corrupt; not touching the mount", path);
	close(fd);
	return err;
}

/*
 * Only state memory can be kept without a supervisor: it is then an
 * O_TMPFILE in the private runtime directory, linked as TAG.keep-KIND-KEY
 * when kept, which outlives the process like a memfd held elsewhere would.
 */
static int keep_path(char *path, const char *tag, unsigned int kind,
		     uint64_t key)
{
	char dir[FR_PATH_MAX];
	int err = fr_runtime_dir(dir, sizeof(dir));

	return err ? err : fr_kept_file_path(path, dir, tag, kind, key);
}

static int kernel_state_memfd(struct fr_session *s, const char *name)
{
	char dir[FR_PATH_MAX];
	int fd;

	(void)s;
	(void)name;
	if (fr_runtime_dir(dir, sizeof(dir)))
		return -EPERM;
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	return fd < 0 ? -errno : fd;
}

static int kernel_keep(struct fr_session *s, int fd, uint32_t kind,
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

static void kernel_unkeep(struct fr_session *s, uint32_t kind, uint64_t key)
{
	/* Only files are ever unkept, and those were never kept here. */
	fr_kept_drop(s, kind, key);
}

static int take_kept_file(int dirfd, const char *name, unsigned int kind,
			  uint64_t key, void *arg)
{
	int fd;

	if (kind != FR_KEEP_STATE)
		return 0;
	fd = openat(dirfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	return fd < 0 ? 0 : fr_kept_add(arg, FR_KEEP_STATE, key, fd);
}

/* What the previous server linked, as kept fds. */
static int kernel_take_kept(struct fr_session *s)
{
	char dir[FR_PATH_MAX];
	int err = fr_runtime_dir(dir, sizeof(dir));

	return err ? err : fr_kept_files_each(dir, s->tag, take_kept_file, s);
}

static int remove_kept_file(int dirfd, const char *name, unsigned int kind,
			    uint64_t key, void *arg)
{
	(void)kind;
	(void)key;
	(void)arg;
	unlinkat(dirfd, name, 0);
	return 0;
}

/* A fresh mount or a clean unmount leaves no kept file. */
static void remove_kept_files(const char *tag)
{
	char dir[FR_PATH_MAX];

	if (fr_runtime_dir(dir, sizeof(dir)) == 0)
		fr_kept_files_each(dir, tag, remove_kept_file, NULL);
}

/* The fd FUSE_DEV_IOC_ATTACH bound, from find() to take(). */
static int attached_fd = -1;

static void kernel_init(struct fr_session *s)
{
	s->lock_fd = -1;
	s->sock = -1;	/* to the old server, in a live upgrade's standby */
	pthread_mutex_init(&s->sock_lock, NULL);
}

/*
 * How long a successor looks for the old server's upgrade socket while
 * the tag stays locked (the old one starting up, or exiting).
 */
#define UPGRADE_FIND_TRIES 50
#define UPGRADE_FIND_WAIT_US 100000

/*
 * FUSE_RECOVER_UPGRADE=1 and the tag is locked: the live server hands its
 * connection over (kupgrade.c); 2 then.  If it dies meanwhile, the lock
 * is free and we recover as after any crash: 0 with the lock taken.
 */
static int find_upgrade(struct fr_session *s, const char *dir)
{
	int i, fd = -1, err = -EWOULDBLOCK;

	for (i = 0; i < UPGRADE_FIND_TRIES; i++) {
		err = fr_kupgrade_connect(s, &fd);
		if (!err) {
			attached_fd = fd;
			return 2;
		}
		if (err != -EAGAIN)
			return err;
		err = fr_lock_tag(dir, s->tag, &s->lock_fd);
		if (err != -EWOULDBLOCK)
			return err;
		usleep(UPGRADE_FIND_WAIT_US);
	}
	fr_log(LOG_ERR, "tag %s is held by a live server that takes no successor",
	       s->tag);
	return -EBUSY;
}

static int kernel_find(struct fr_session *s, const struct fuse_recover *fr)
{
	char dir[FR_PATH_MAX];
	int fd = -1, err = fr_runtime_dir(dir, sizeof(dir));

	if (!err)
		err = fr_lock_tag(dir, fr->tag, &s->lock_fd);
	if (err == -EWOULDBLOCK && fr_upgrade_wanted()) {
		err = find_upgrade(s, dir);
		if (err)
			return err;
	}
	if (err == -EWOULDBLOCK) {
		fr_log(LOG_ERR, "tag %s is held by a live server", fr->tag);
		return -EBUSY;
	}
	if (err)
		return err;
	err = attach_to_mount(s->mountpoint, fr->tag, &fd);
	if (err == -ENOENT)
		return 0;
	if (err == -EBUSY || err == -EPERM)
		return err;	/* attach_to_mount() said why */
	if (err) {
		fr_log(LOG_ERR, "FUSE_DEV_IOC_ATTACH %s: %s", fr->tag,
		       strerror(-err));
		return err;
	}
	attached_fd = fd;
	return 1;
}

static int kernel_mount(struct fr_session *s, const struct fuse_recover *fr)
{
	char devfd[32];
	int fd = -1, err;

	remove_kept_files(fr->tag); /* from a mount that is gone */
	fr_kupgrade_counts_reset(fr->tag);
	err = mount_tagged(fr, s->mountpoint, &fd);
	if (err)
		return err;
	snprintf(devfd, sizeof(devfd), "/dev/fd/%d", fd);
	s->main_fd = fd;
	s->init_add_flags |= FUSE_HAS_RECOVERY;
	if (fuse_session_mount(s->se, devfd) != 0) {
		fr_unmount(s->mountpoint);
		return -EIO;
	}
	return 0;
}

static void kernel_unmount(struct fr_session *s)
{
	fr_unmount(s->mountpoint);
}

/*
 * Attached through a handed fd: the mount point shows another mount (or
 * none), and the old mount cannot be named for umount2() either, as a
 * path walk to its root ends on whatever covers it.  So it is left to
 * whoever handed us the fd, and fuse_recover_unmount() must not unmount
 * the mount point.  After our FUSE_DEV_IOC_EXIT and close its requests
 * fail (ENOTCONN) instead of waiting for a server.
 */
static void leave_handed_mount(struct fr_session *s)
{
	fr_log(LOG_INFO,
	       "the mount of FUSE_RECOVER_MOUNT_FD is left mounted for whoever handed it");
	via_handed_fd = false;
	s->leave_mount = true;
}

static int kernel_hold(struct fr_session *s)
{
	if (!(s->kernel.flags & FUSE_HAS_RECOVERY)) {
		fr_log(LOG_ERR, "kernel did not offer FUSE_HAS_RECOVERY");
		return -EOPNOTSUPP;
	}
	return save_init(s);
}

static int kernel_take(struct fr_session *s, int *fd, char **mnt)
{
	int err = load_init(s, mnt);

	if (err) {
		close(attached_fd);
		attached_fd = -1;
		return err;
	}
	s->init_add_flags |= FUSE_HAS_RECOVERY;
	if (s->sock < 0)	/* reattached, not handed over live */
		fr_kupgrade_count(s->tag, FR_KC_RESTARTS, NULL);
	/*
	 * The kernel requeued what the dead server had read when its last fd
	 * closed; the resend in fr_replay_and_resend() also covers a server
	 * that died between ATTACH and here.
	 */
	*fd = attached_fd;
	attached_fd = -1;
	return 0;
}

static int kernel_resumed(struct fr_session *s)
{
	(void)s;
	return 0;
}

static void kernel_running(struct fr_session *s, const struct fuse_recover *fr)
{
	/*
	 * The kernel keeps the connection while any process holds it, and the
	 * tag lock is a flock() a child shares.  But a successor that forks
	 * while its predecessor confirms it (daemonizing after attach) tells
	 * that one its child's pid (fork.c, on the socket to it), or the
	 * parent's exit would look like its death.  A successor can take
	 * over from now on (kupgrade.c).
	 */
	(void)fr;
	fr_fork_arm(s);
	fr_upgrade_start(s);
}

/*
 * Clean unmount: tell the kernel no server is coming back
 * (FUSE_DEV_IOC_EXIT), so that if the unmount that follows fails (busy) or
 * the mount stays in use, applications get an error when our fd closes
 * instead of waiting for a server.  Kernels without it (ENOTTY) keep
 * waiting, as before.
 */
static void kernel_release(struct fr_session *s)
{
	char dir[FR_PATH_MAX], path[FR_PATH_MAX];

	if (s->main_fd >= 0 && ioctl(s->main_fd, FUSE_DEV_IOC_EXIT) != 0 &&
	    errno != ENOTTY)
		fr_log(LOG_WARNING, "FUSE_DEV_IOC_EXIT: %s", strerror(errno));
	if (via_handed_fd)
		leave_handed_mount(s);
	if (init_file_path(path, s->tag) == 0)
		unlink(path);
	fr_kupgrade_unlink(s->tag);
	fr_kupgrade_counts_reset(s->tag);
	remove_kept_files(s->tag);
	if (fr_runtime_dir(dir, sizeof(dir)) == 0)
		fr_remove_tag_files(dir, s->tag);
}

static void kernel_close(struct fr_session *s)
{
	fr_fork_disarm(s);
	/* The event thread first: the listener may wait for its answer. */
	fr_upgrade_stop();
	fr_kupgrade_stop();
	if (s->sock >= 0)
		close(s->sock);
	s->sock = -1;
	pthread_mutex_destroy(&s->sock_lock);
	if (attached_fd >= 0)
		close(attached_fd);
	attached_fd = -1;
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	s->lock_fd = -1;
}

const struct fr_holder fr_holder_kernel = {
	.name = "kernel reattach, no supervisor",
	.usable = kernel_usable,
	.init = kernel_init,
	.find = kernel_find,
	.mount = kernel_mount,
	.unmount = kernel_unmount,
	.hold = kernel_hold,
	.take = kernel_take,
	.take_kept = kernel_take_kept,
	.resumed = kernel_resumed,
	.decline = fr_client_decline,
	.running = kernel_running,
	.events = fr_kupgrade_events,
	.offerer_died = fr_kupgrade_offerer_died,
	.keep = kernel_keep,
	.unkeep = kernel_unkeep,
	.state_memfd = kernel_state_memfd,
	.release = kernel_release,
	.close = kernel_close,
};
