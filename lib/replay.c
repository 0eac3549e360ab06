// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Replay rules: what a resent non-idempotent request should answer when
 * the previous server may already have done it.  The kernel resends a
 * request only if no reply reached it, so "already done" can only mean the
 * dead server did it between the syscall and the reply.  The tree alone
 * cannot tell that apart from someone else having made the same change
 * (or from the state having been so all along), so a rule turns an error
 * into success only when the request journal says the first attempt
 * performed the operation (fuse_recover_req_mark_done() right after the
 * syscall) or died inside its syscall (fuse_recover_req_mark_started()
 * right before it, no mark after), and then also checks that the tree
 * agrees.  A first attempt that never reached the syscall gets its error.
 */
#include "fuse_recover_i.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool resent(fuse_req_t req)
{
	return fuse_recover_req_is_resend(req) == 1 && fr_req_first_may_have_done();
}

static bool same_link_target(int dirfd, const char *name, const char *target)
{
	size_t len = strlen(target);
	char *buf = malloc(len + 2);
	ssize_t n;
	bool same;

	if (!buf)
		return false;
	n = readlinkat(dirfd, name, buf, len + 2);
	same = n == (ssize_t)len && memcmp(buf, target, len) == 0;
	free(buf);
	return same;
}

int fuse_recover_replay_created(fuse_req_t req, int err, int dirfd,
				const char *name, mode_t mode, uid_t uid,
				const char *symlink_target, ino_t link_ino)
{
	struct stat st;

	if (err != EEXIST || !resent(req))
		return 0;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	if ((st.st_mode & S_IFMT) != (mode & S_IFMT))
		return 0;
	if (link_ino)
		return st.st_ino == link_ino;
	if (st.st_uid != uid)
		return 0;
	/* Only these two types keep the mode they were created with. */
	if ((S_ISDIR(mode) || S_ISREG(mode)) && (mode & 0777) &&
	    (st.st_mode & 0777) != (mode & 0777))
		return 0;
	if (symlink_target)
		return same_link_target(dirfd, name, symlink_target);
	return 1;
}

int fuse_recover_replay_removed(fuse_req_t req, int err)
{
	return err == ENOENT && resent(req);
}

int fuse_recover_replay_renamed(fuse_req_t req, int err, int newdirfd,
				const char *newname)
{
	struct stat st;

	if (err != ENOENT || !resent(req))
		return 0;
	return fstatat(newdirfd, newname, &st, AT_SYMLINK_NOFOLLOW) == 0;
}
