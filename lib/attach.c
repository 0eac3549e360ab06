// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fuse_session_attach(): first start or takeover, and the clean way out.
 *
 * Which holder keeps the connection while no server runs is chosen here,
 * once per session (holder.h); the steps are the same with each.
 */
#include "fuse_recover_i.h"

#include <dlfcn.h>
#include <errno.h>
#ifdef __GLIBC__
#include <gnu/lib-names.h>
#endif
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

/*
 * The patched kernel needs nobody, so it comes first; systemd's fd store
 * when we run as a service that has one; else fuse-recoverd.
 */
static const struct fr_holder *const holders[] = {
	&fr_holder_kernel,
	&fr_holder_systemd,
	&fr_holder_supervisor,
};

static const struct fr_holder *pick_holder(void)
{
	size_t i;

	for (i = 0; i < sizeof(holders) / sizeof(holders[0]); i++)
		if (holders[i]->usable())
			return holders[i];
	return &fr_holder_supervisor;
}

static void session_free(struct fr_session *s)
{
	if (!s)
		return;
	s->holder->close(s);
	if (fr_current == s)
		fr_current = NULL;
	fr_xlate_stop(s);
	fr_io_fini(s);
	fr_blob_free(&s->init_in);
	fr_blob_free(&s->init_out);
	fr_blob_free(&s->replay_out);
	fr_kept_free(s);
	free(s->tag);
	free(s->mountpoint);
	free(s);
}

static int attach_fresh(struct fr_session *s, const struct fuse_recover *fr)
{
	const struct fr_holder *h = s->holder;
	int err = h->mount(s, fr);

	if (err)
		return err;
	err = fr_io_install(s->se, s->main_fd);
	if (!err)
		err = fr_init_capture(s);
	if (!err) {
		fr_probe_kernel(s);
		err = h->hold(s);
	}
	if (!err)
		err = fr_session_start(s);
	if (!err) {
		if (h->dead_mounts)
			fr_mount_record(s);
		return 0;
	}
	h->unmount(s);
	return err;
}

static int attach_recovered(struct fr_session *s)
{
	const struct fr_holder *h = s->holder;
	char *mnt = NULL;
	int fd = -1, err = h->take(s, &fd, &mnt);

	if (err)
		return err;
	if (strcmp(mnt, s->mountpoint) != 0) {
		fr_log(LOG_ERR, "tag is mounted on %s, not on %s", mnt,
		       s->mountpoint);
		free(mnt);
		close(fd);
		return h->decline(s, -EXDEV, "mounted on another mount point");
	}
	free(mnt);
	err = fr_adopt_fd(s, fd);
	if (!err)
		err = h->take_kept(s);
	if (err) {
		fr_log(LOG_ERR, "cannot take over: %s", strerror(-err));
		return err;
	}
	fr_trace_mark(FR_PH_HANDOFF);
	err = fr_replay_and_resend(s);
	if (err == -EPROTO)
		return h->decline(s, err, "capabilities differ from the mount's");
	if (err)
		return err;
	fr_trace_mark(FR_PH_RESEND);
	err = h->resumed(s);
	return err ? err : FUSE_RECOVER_RECOVERED;
}

static struct fr_session *session_new(struct fuse_session *se,
				      const char *mountpoint,
				      const struct fuse_recover *fr)
{
	struct fr_session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->se = se;
	s->main_fd = -1;
	s->mountpoint = strdup(mountpoint);
	s->tag = strdup(fr->tag);
	s->poison_deaths = fr->poison_deaths;
	fr_passthrough_setup(s, fr);
	fr_killpriv_setup(s, fr);
	if (s->mountpoint && s->tag && fr_io_init(s) == 0)
		return s;
	free(s->mountpoint);
	free(s->tag);
	free(s);
	return NULL;
}

/*
 * libfuse 3.19's fuse_daemonize_early_start() (its fuse_main() uses it in
 * the background) tells the waiting parent of success from the FUSE_INIT
 * handler and again after mounting, and exits with EINVAL, silently (stderr
 * is /dev/null by then), when the second comes after the first.  Recovery
 * runs FUSE_INIT inside this call, before the second, so the daemon would
 * die right after attaching: refused instead.  Looked up at run time.
 */
static bool daemonizing_early(void)
{
	bool (*active)(void);

	*(void **)&active = dlsym(RTLD_DEFAULT, "fuse_daemonize_early_is_active");
	return active && active();
}

/*
 * libfuse ends its multi-threaded loop by cancelling the workers, and
 * glibc loads libgcc_s (it unwinds the cancelled thread) at a process's
 * first pthread_cancel(), aborting when it cannot.  Loading needs a free
 * fd: a server that keeps an fd per open file would abort on its way out
 * once the mount's users have filled its fd table, and under a tag an
 * abort is a crash, so a stopped server would leave its mount waiting
 * for a successor.  Loaded now, it is only a reference then.
 */
static void load_unwinder(void)
{
#ifdef LIBGCC_S_SO
	/* Loaded already (a second attach), it only gains a reference. */
	if (!dlopen(LIBGCC_S_SO, RTLD_NOW | RTLD_NODELETE))
		fr_log(LOG_WARNING,
		       "cannot load %s (%s): a multi-threaded loop may abort when it ends with no free fd",
		       LIBGCC_S_SO, dlerror());
#endif
}

int fuse_session_attach(struct fuse_session *se, const char *mountpoint,
			struct fuse_recover *fr)
{
	char real[PATH_MAX];
	struct fr_session *s;
	int err;

	if (!se || !mountpoint)
		return -EINVAL;
	if (!fr || !fr->tag)
		return fuse_session_mount(se, mountpoint) ? -EIO : 0;
	if (daemonizing_early()) {
		fr_log(LOG_ERR,
		       "libfuse's fuse_daemonize_early_start() is in progress: it does not survive FUSE_INIT being answered while attaching; run in the foreground (-f) or daemonize with fuse_daemonize() after attaching");
		return -EOPNOTSUPP;
	}
	if (fr_current) {
		fr_log(LOG_ERR, "only one session per process can be attached");
		return -EBUSY;
	}
	if (!realpath(mountpoint, real)) {
		err = -errno;
		fr_log(LOG_ERR, "bad mount point %s: %s", mountpoint,
		       strerror(errno));
		return err;
	}
	s = session_new(se, real, fr);
	if (!s)
		return -ENOMEM;
	load_unwinder();
	fr_current = s;
	fr_trace_mark(FR_PH_START);
	s->holder = pick_holder();
	s->holder->init(s);
	err = s->holder->find(s, fr);
	if (err == 0)
		err = attach_fresh(s, fr);
	else if (err == 1)
		err = attach_recovered(s);
	else if (err == 2 && !(err = fr_upgrade_standby(s, fr)))
		err = FUSE_RECOVER_RECOVERED;	/* live upgrade: we serve */
	if (err < 0) {
		session_free(s);
		return err;
	}
	fr_trace_mark(FR_PH_DONE);
	s->holder->running(s, fr);
	if (err == FUSE_RECOVER_RECOVERED)
		fr_trace_print();
	fr_log(LOG_INFO, "tag %s: %s %s (%s)", fr->tag,
	       err ? "recovered the mount on" : "mounted", real,
	       s->holder->name);
	return err;
}

/*
 * libfuse frees the mount point it saved at fuse_session_mount() only in
 * fuse_session_unmount(), which also unmounts unless the session's fd
 * polls POLLERR.  An unattached /dev/fuse fd does: put one in place of our
 * copy of the connection (the successor and the holder keep theirs), so
 * that a retired server frees what it allocated and unmounts nothing.
 */
static void forget_mountpoint(struct fuse_session *se)
{
	int fd = fuse_session_fd(se);
	int dead = open("/dev/fuse", O_RDWR | O_CLOEXEC);

	if (fd >= 0 && dead >= 0 && dup3(dead, fd, O_CLOEXEC) >= 0)
		fuse_session_unmount(se);
	if (dead >= 0)
		close(dead);
}

/* The kernel ended the connection: its fd polls POLLERR. */
static bool connection_aborted(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & POLLERR);
}

int fuse_recover_unmount(struct fuse_session *se)
{
	struct fr_session *s = fr_current;
	bool aborted;
	int err = 0;

	if (!s || s->se != se) {
		fuse_session_unmount(se);
		return 0;
	}
	if (s->retired) {
		/* Live upgrade: the mount is our successor's now. */
		if (s->mounted_here)
			forget_mountpoint(se);
		session_free(s);
		return 0;
	}
	/*
	 * An aborted connection (fuse-recover abort, a give-up) keeps its
	 * dead mount until an administrator unmounts it: unmounting here
	 * would let applications write into the directory underneath.
	 * libfuse's own unmount checks the same.
	 */
	aborted = connection_aborted(s->main_fd);
	s->holder->release(s);
	fr_mount_unrecord(s->tag);
	if (s->mounted_here)
		fuse_session_unmount(se);
	else if (!s->leave_mount && !aborted)
		err = fr_unmount(s->mountpoint);
	session_free(s);
	return err;
}
