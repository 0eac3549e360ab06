// SPDX-License-Identifier: LGPL-2.1-or-later
/* Recovery settings and the -o options that fill them. */
#include "fuse_recover_i.h"

#include <errno.h>
#include <fuse_opt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <string.h>
#include <syslog.h>

#define FR_DEFAULT_RESTARTS 10
#define FR_DEFAULT_WINDOW 60
#define FR_DEFAULT_TIMEOUT 60
#define FR_DEFAULT_POISON 3

struct fr_opts {
	char *tag;
	int restarts, window, timeout, poison;
	int auto_unmount;
	bool io_uring;
	struct fr_mount_opts mnt;
};

#define KEY_AUTO_UNMOUNT 1
#define KEY_MOUNT 2

#define FR_OPT(t, m) { t, offsetof(struct fr_opts, m), 1 }
static const struct fuse_opt fr_opt_spec[] = {
	FR_OPT("tag=%s", tag),
	FR_OPT("recover_restarts=%d", restarts),
	FR_OPT("recover_window=%d", window),
	FR_OPT("recover_timeout=%d", timeout),
	FR_OPT("recover_poison=%d", poison),
	FUSE_OPT_KEY("auto_unmount", KEY_AUTO_UNMOUNT),
	/* Seen, not taken: libfuse mounts with them, and so does kattach.c. */
	FUSE_OPT_KEY("allow_other", KEY_MOUNT),
	FUSE_OPT_KEY("default_permissions", KEY_MOUNT),
	FUSE_OPT_KEY("max_read=", KEY_MOUNT),
	FUSE_OPT_KEY("blksize=", KEY_MOUNT),
	FUSE_OPT_KEY("fsname=", KEY_MOUNT),
	FUSE_OPT_KEY("subtype=", KEY_MOUNT),
	FUSE_OPT_KEY("ro", KEY_MOUNT),
	FUSE_OPT_KEY("rw", KEY_MOUNT),
	FUSE_OPT_KEY("suid", KEY_MOUNT),
	FUSE_OPT_KEY("nosuid", KEY_MOUNT),
	FUSE_OPT_KEY("dev", KEY_MOUNT),
	FUSE_OPT_KEY("nodev", KEY_MOUNT),
	FUSE_OPT_KEY("exec", KEY_MOUNT),
	FUSE_OPT_KEY("noexec", KEY_MOUNT),
	FUSE_OPT_KEY("atime", KEY_MOUNT),
	FUSE_OPT_KEY("noatime", KEY_MOUNT),
	FUSE_OPT_KEY("sync", KEY_MOUNT),
	FUSE_OPT_KEY("async", KEY_MOUNT),
	FUSE_OPT_KEY("dirsync", KEY_MOUNT),
	FUSE_OPT_END
};

static const struct {
	const char *name;
	unsigned long set, clear;
} mount_flags[] = {
	{ "ro", MS_RDONLY, 0 },		{ "rw", 0, MS_RDONLY },
	{ "nosuid", MS_NOSUID, 0 },	{ "suid", 0, MS_NOSUID },
	{ "nodev", MS_NODEV, 0 },	{ "dev", 0, MS_NODEV },
	{ "noexec", MS_NOEXEC, 0 },	{ "exec", 0, MS_NOEXEC },
	{ "noatime", MS_NOATIME, 0 },	{ "atime", 0, MS_NOATIME },
	{ "sync", MS_SYNCHRONOUS, 0 },	{ "async", 0, MS_SYNCHRONOUS },
	{ "dirsync", MS_DIRSYNC, 0 },
};

static int note_mount_opt(struct fr_mount_opts *m, const char *arg)
{
	unsigned int i;
	char **str = NULL;

	for (i = 0; i < sizeof(mount_flags) / sizeof(mount_flags[0]); i++) {
		if (strcmp(arg, mount_flags[i].name) == 0) {
			m->flags = (m->flags | mount_flags[i].set) &
				   ~mount_flags[i].clear;
			return 0;
		}
	}
	if (strcmp(arg, "allow_other") == 0)
		m->allow_other = true;
	else if (strcmp(arg, "default_permissions") == 0)
		m->default_permissions = true;
	else if (sscanf(arg, "max_read=%u", &m->max_read) == 1 ||
		 sscanf(arg, "blksize=%u", &m->blksize) == 1)
		return 0;
	else if (strncmp(arg, "fsname=", 7) == 0)
		str = &m->fsname;
	else if (strncmp(arg, "subtype=", 8) == 0)
		str = &m->subtype;
	if (str) {
		free(*str);
		*str = strdup(strchr(arg, '=') + 1);
		if (!*str)
			return -ENOMEM;
	}
	return 0;
}

static int fr_opt_proc(void *data, const char *arg, int key,
		       struct fuse_args *outargs)
{
	struct fr_opts *o = data;

	(void)outargs;
	if (key == KEY_AUTO_UNMOUNT)
		o->auto_unmount = 1;
	else if (key == FUSE_OPT_KEY_OPT && !strncmp(arg, "io_uring", 8))
		o->io_uring = true;	/* io_uring and io_uring_* settings */
	else if (key == KEY_MOUNT && note_mount_opt(&o->mnt, arg) < 0)
		return -1;
	return 1; /* keep everything we do not own */
}

/*
 * Recovery rests on libfuse internals that were tested with 3.14, 3.17 and
 * 3.18 (see README, "libfuse versions"): another major is refused, a newer
 * minor warned about.  fuse_version() is the loaded library's, not the
 * headers' we were built with, and fuse_pkgversion() names its release.
 */
#define FR_LIBFUSE_TESTED 18

static int check_libfuse(void)
{
	int v = fuse_version();

	if (v / 100 != 3) {
		fr_log(LOG_ERR,
		       "libfuse %s is not libfuse 3; this libfuse-recover needs libfuse 3.14 or later 3.x",
		       fuse_pkgversion());
		return -EPROTONOSUPPORT;
	}
	if (v % 100 < 14) {
		fr_log(LOG_ERR, "libfuse %s is older than 3.14; update libfuse",
		       fuse_pkgversion());
		return -EPROTONOSUPPORT;
	}
	if (v % 100 > FR_LIBFUSE_TESTED)
		fr_log(LOG_WARNING,
		       "libfuse %s is newer than the newest libfuse this libfuse-recover was tested with (3.%d); recovery may not work",
		       fuse_pkgversion(), FR_LIBFUSE_TESTED);
	return 0;
}

/*
 * libfuse 3.18's io_uring transport reads and answers requests without the
 * custom io hooks, so nothing would be captured, replayed or resent.  It is
 * turned on by -o io_uring or, with no option at all, by FUSE_URING_ENABLE
 * in the environment.  That one is read with getenv() on purpose: it must
 * be seen exactly as libfuse sees it (libfuse uses getenv() and atoi()).
 */
static bool uring_env(void)
{
	const char *v = getenv("FUSE_URING_ENABLE");

	return v && atoi(v) && fuse_version() >= 318;
}

static int refuse_io_uring(const struct fuse_recover *fr, const char *tag)
{
	if (!tag)
		return 0;
	if (fr->io_uring) {
		fr_log(LOG_ERR,
		       "-o io_uring bypasses what recovery hooks into; drop -o io_uring or the tag");
		return -EOPNOTSUPP;
	}
	if (uring_env()) {
		fr_log(LOG_ERR,
		       "FUSE_URING_ENABLE=%.20s turns on libfuse's io_uring transport, which bypasses what recovery hooks into; unset it or drop the tag",
		       getenv("FUSE_URING_ENABLE"));
		return -EOPNOTSUPP;
	}
	return 0;
}

int fuse_recover_new(struct fuse_args *args, struct fuse_recover **frp)
{
	struct fr_opts o = { .restarts = FR_DEFAULT_RESTARTS,
			     .window = FR_DEFAULT_WINDOW,
			     .timeout = FR_DEFAULT_TIMEOUT,
			     .poison = FR_DEFAULT_POISON,
			     .mnt = { .flags = MS_NOSUID | MS_NODEV } };
	struct fuse_recover *fr = NULL;
	int err = 0;

	*frp = NULL;
	err = check_libfuse();
	if (err)
		return err;
	if (args && fuse_opt_parse(args, &o, fr_opt_spec, fr_opt_proc) < 0)
		err = -EINVAL;
	else if (o.restarts < 0 || (unsigned int)o.restarts > FR_RESTARTS_MAX) {
		fr_log(LOG_ERR, "recover_restarts=%d: use 0 to %u", o.restarts,
		       FR_RESTARTS_MAX);
		err = -EINVAL;
	} else if (o.window < 0 || o.timeout < 0 ||
		   (unsigned int)o.window > FR_SECONDS_MAX ||
		   (unsigned int)o.timeout > FR_SECONDS_MAX) {
		fr_log(LOG_ERR,
		       "recover_window and recover_timeout: use 0 to %u seconds",
		       FR_SECONDS_MAX);
		err = -EINVAL;
	} else if (o.poison < 0 || o.poison > 1000) {
		fr_log(LOG_ERR, "recover_poison=%d: use 0 to 1000", o.poison);
		err = -EINVAL;
	} else if (o.tag && o.auto_unmount) {
		fr_log(LOG_ERR,
		       "-o auto_unmount cannot be combined with -o tag: it would unmount on every crash");
		err = -EINVAL;
	}
	if (!err) {
		fr = calloc(1, sizeof(*fr));
		if (!fr)
			err = -ENOMEM;
	}
	if (!err) {
		fr->io_uring = o.io_uring;
		fr->max_restarts = o.restarts;
		fr->window_sec = o.window;
		fr->timeout_sec = o.timeout;
		fr->poison_deaths = o.poison;
		fr->mnt = o.mnt;
		o.mnt.fsname = o.mnt.subtype = NULL;
		if (o.tag)
			err = fuse_recover_set_tag(fr, o.tag);
	}
	free(o.tag);
	free(o.mnt.fsname);
	free(o.mnt.subtype);
	if (err) {
		fuse_recover_destroy(fr);
		return err;
	}
	*frp = fr;
	return 0;
}

int fuse_recover_set_tag(struct fuse_recover *fr, const char *tag)
{
	char *copy = NULL;
	int err;

	err = refuse_io_uring(fr, tag);
	if (err)
		return err;
	if (tag) {
		err = fuse_recover_tag_valid(tag);
		if (err) {
			fr_log(LOG_ERR,
			       "invalid tag \"%.80s\": use 1-%d characters from [A-Za-z0-9._-], starting with a letter or digit",
			       tag, FUSE_RECOVER_TAG_MAX);
			return err;
		}
		copy = strdup(tag);
		if (!copy)
			return -ENOMEM;
	}
	free(fr->tag);
	fr->tag = copy;
	return 0;
}

const char *fuse_recover_tag(const struct fuse_recover *fr)
{
	return fr ? fr->tag : NULL;
}

void fuse_recover_destroy(struct fuse_recover *fr)
{
	if (!fr)
		return;
	free(fr->tag);
	free(fr->mnt.fsname);
	free(fr->mnt.subtype);
	free(fr);
}
