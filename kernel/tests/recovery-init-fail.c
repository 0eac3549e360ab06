// SPDX-License-Identifier: GPL-2.0
/*
 * recovery-init-fail: an INIT reply that accepts FUSE_HAS_RECOVERY but
 * fails as a whole (here: FUSE_ALLOW_IDMAP without default_permissions)
 * must not leave recovery on.  The connection cannot serve anything
 * (requests fail with ECONNREFUSED), and when its server goes it must be
 * aborted like any other, so a later attach finds nothing (ENOENT).
 *
 * v1 set the flag while parsing the reply, before the reply was known to
 * be good: the dead connection was kept waiting and could be attached to,
 * so this test fails there.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ftest.h"

/* 6.12 offers it in every INIT; older uapi headers lack the name */
#ifndef FUSE_ALLOW_IDMAP
#define FUSE_ALLOW_IDMAP (1ULL << 40)
#endif

#define MNT "/mnt/initfail"
#define TAG "init-fail-test"

int main(void)
{
	struct stat st;
	pid_t server;
	int fd, err, ret = FT_FAIL;

	ft_name = "recovery-init-fail";
	ft_deadline(30);
	if (ft_mkdir(MNT))
		return FT_FAIL;

	server = ft_spawn_server(MNT, TAG, NULL,
				 FUSE_HAS_RECOVERY | FUSE_ALLOW_IDMAP, 0, -1);
	if (server < 0)
		return FT_FAIL;

	/* waits for the INIT reply to be processed, then fails */
	err = stat(MNT "/file", &st) ? errno : 0;
	if (err != ECONNREFUSED) {
		ft_log("stat after a failed INIT: %s, wanted ECONNREFUSED",
		       err ? strerror(err) : "success");
		goto out;
	}

	ft_kill(server);
	server = -1;
	fd = ft_attach(MNT, TAG);
	if (fd != -ENOENT) {
		ft_log("attach after the server left: got %s, wanted ENOENT",
		       fd >= 0 ? "success" : strerror(-fd));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	ft_log("failed INIT: no recovery, connection aborted (ok)");
	ret = FT_PASS;
out:
	ft_kill(server);
	umount2(MNT, MNT_FORCE);
	umount2(MNT, MNT_DETACH);
	return ret;
}
