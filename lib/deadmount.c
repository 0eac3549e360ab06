// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Dead mounts.  When a tag's server and its supervisor die together (and
 * there is no kernel reattach), the last fd of the connection closes, the
 * kernel aborts it and the mount stays behind: every request on it fails
 * with ENOTCONN, and nothing can bring it back.  Mounting again on top of
 * it would hide it under a new mount; mounting fails anyway once libfuse's
 * stat() of the mount point reaches the dead connection.
 *
 * So a fresh mount first looks at what is on the mount point.  Each fresh
 * mount leaves a record, TAG.mount in the runtime directory, naming its
 * connection and mount point.  A FUSE mount there that the record names,
 * and that answers ENOTCONN, is this tag's dead mount: the owner of the
 * tag (we hold the tag through its new, empty supervisor) unmounts it
 * lazily and mounts afresh.  Any other FUSE mount on the mount point is
 * refused with a message saying what to do; we never stack on one.
 */
#include "fuse_recover_i.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>
#include <syslog.h>
#include <unistd.h>

static int record_path(char *path, const char *tag)
{
	char dir[FR_PATH_MAX];
	int err = fr_runtime_dir(dir, sizeof(dir));

	return err ? err : fr_tag_path(path, dir, tag, "mount");
}

void fr_mount_record(const struct fr_session *s)
{
	char path[FR_PATH_MAX], tmp[FR_PATH_MAX + 4];
	FILE *f;

	if (record_path(path, s->tag))
		return;
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(tmp, "wxe");
	if (!f) {
		unlink(tmp);
		f = fopen(tmp, "wxe");
	}
	if (!f)
		return;
	fprintf(f, "%u %s\n", s->conn_id, s->mountpoint);
	if (fclose(f) == 0 && rename(tmp, path) == 0)
		return;
	unlink(tmp);
	fr_log(LOG_WARNING, "cannot record the mount of tag %s", s->tag);
}

void fr_mount_unrecord(const char *tag)
{
	char path[FR_PATH_MAX];

	if (record_path(path, tag) == 0)
		unlink(path);
}

/* Our record names @conn_id on @mountpoint. */
static bool recorded(const char *tag, unsigned int conn_id,
		     const char *mountpoint)
{
	char path[FR_PATH_MAX], mnt[4096];
	unsigned int id;
	bool same = false;
	FILE *f;

	if (record_path(path, tag))
		return false;
	f = fopen(path, "re");
	if (!f)
		return false;
	if (fscanf(f, "%u %4095[^\n]", &id, mnt) == 2)
		same = id == conn_id && strcmp(mnt, mountpoint) == 0;
	fclose(f);
	return same;
}

int fr_clear_dead_mount(const struct fr_session *s)
{
	unsigned int conn_id;
	struct statfs sfs;
	int err;

	if (fr_mount_conn_id(s->mountpoint, &conn_id) != 0)
		return 0; /* no FUSE mount there */
	/*
	 * Only ask the kernel about our own connection: a request on another
	 * tag's mount whose server is down would wait for that server.
	 */
	if (!recorded(s->tag, conn_id, s->mountpoint)) {
		fr_log(LOG_ERR,
		       "%s is already a FUSE mount (connection %u) that tag %s did not make; refusing to mount on top of it (if it is dead, unmount it: umount -l %s)",
		       s->mountpoint, conn_id, s->tag, s->mountpoint);
		return -EBUSY;
	}
	if (statfs(s->mountpoint, &sfs) == 0 || errno != ENOTCONN) {
		fr_log(LOG_ERR,
		       "%s is this tag's mount (connection %u) and still answers, but tag %s has no supervisor holding it",
		       s->mountpoint, conn_id, s->tag);
		return -EBUSY;
	}
	fr_log(LOG_WARNING,
	       "found the dead mount of tag %s on %s (connection %u: its server and supervisor died together, it cannot be recovered): unmounting it lazily and mounting afresh",
	       s->tag, s->mountpoint, conn_id);
	err = fr_unmount(s->mountpoint);
	if (err) {
		fr_log(LOG_ERR, "cannot unmount the dead mount on %s: %s",
		       s->mountpoint, strerror(-err));
		return err;
	}
	fr_mount_unrecord(s->tag);
	return 0;
}
