// SPDX-License-Identifier: GPL-2.0
/*
 * attach-race: FUSE_DEV_IOC_ATTACH racing a fusectl abort and an umount.
 *
 * Each round mounts a recovery connection, lets its server answer INIT,
 * SIGKILLs it, and then releases two children at the same moment: one
 * opens the mount point (O_PATH) and attaches, the other aborts the
 * connection through fusectl or lazily unmounts it.  Whatever wins, the
 * outcome must be clean:
 *  - the attach fails with ENOENT (aborted first) or EINVAL (the mount
 *    point is no longer a FUSE mount), or
 *  - it succeeds and the new server is cut off: read() on its fd fails
 *    with ENODEV within a few seconds (the abort, or the end of the
 *    detached mount once the attacher drops its O_PATH fd);
 * nothing hangs (every child is reaped within its bound), and after the
 * round no mount and no fusectl connection directory is left.
 *
 * Limit: a leaked fuse_conn reference would not be seen here (nothing in
 * the guest counts them); a leaked connection directory or mount would.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ftest.h"

#define MNT "/mnt/arace"
#define TAG "arace-test"
#define FUSECTL "/sys/fs/fuse/connections"
#define ROUNDS 10

enum racer { BY_ABORT, BY_UMOUNT };

/* Outcomes an attacher reports (exit status) */
enum outcome {
	OUT_CUT_OFF = 10,	/* attached, then read() got ENODEV */
	OUT_ENOENT,		/* attach: connection aborted */
	OUT_EINVAL,		/* attach: no FUSE mount there any more */
	OUT_BAD,		/* anything else */
};

static int count_conns(void)
{
	struct dirent *e;
	DIR *d = opendir(FUSECTL);
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void wait_go(int go)
{
	char c;

	/* EOF on the pipe releases every racer at once */
	if (read(go, &c, 1) < 0)
		_exit(OUT_BAD);
}

static void attacher(int go)
{
	/* read() wants room for max_write (128 KiB) or says EINVAL */
	static char buf[256 * 1024];
	struct pollfd p;
	int fd, mfd;

	wait_go(go);
	mfd = ft_open_mount(MNT);
	if (mfd < 0)
		_exit(OUT_BAD);
	fd = ft_attach_at(mfd, TAG);
	close(mfd);
	if (fd == -ENOENT)
		_exit(OUT_ENOENT);
	if (fd == -EINVAL)
		_exit(OUT_EINVAL);
	if (fd < 0) {
		ft_log("attach: %s", strerror(-fd));
		_exit(OUT_BAD);
	}
	/* nobody sends anything: the next thing we see is the end */
	p.fd = fd;
	p.events = POLLIN;
	if (poll(&p, 1, 5000) != 1) {
		ft_log("attached server never cut off");
		_exit(OUT_BAD);
	}
	if (read(fd, buf, sizeof(buf)) >= 0 || errno != ENODEV) {
		ft_log("attached server: read gave %m, wanted ENODEV");
		_exit(OUT_BAD);
	}
	_exit(OUT_CUT_OFF);
}

static void racer(int go, enum racer how, unsigned int conn)
{
	char path[64];
	int fd;

	wait_go(go);
	if (how == BY_UMOUNT)
		_exit(umount2(MNT, MNT_DETACH) ? 1 : 0);
	snprintf(path, sizeof(path), FUSECTL "/%u/abort", conn);
	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, "1", 1) != 1)
		_exit(1);
	close(fd);
	_exit(0);
}

/* One round; returns the attacher's outcome or -1. */
static int round_once(enum racer how, int base)
{
	pid_t server, a = -1, r = -1;
	int go[2], sa, sr, n, ret = -1;
	struct stat st;

	server = ft_spawn_server(MNT, TAG, NULL, FUSE_HAS_RECOVERY, 0, -1);
	if (server < 0)
		return -1;
	if (stat(MNT, &st)) {
		ft_log("stat %s: %m", MNT);
		ft_kill(server);
		goto out;
	}
	ft_kill(server);

	if (pipe(go))
		goto out;
	a = fork();
	if (a == 0) {
		close(go[1]);
		attacher(go[0]);
	}
	r = fork();
	if (r == 0) {
		close(go[1]);
		racer(go[0], how, minor(st.st_dev));
	}
	close(go[0]);
	close(go[1]);

	sa = ft_wait_ms(a, 15000);
	sr = ft_wait_ms(r, 15000);
	if (sa == -1 || sr == -1) {
		ft_log("a racer hangs (attacher %s, %s %s)",
		       sa == -1 ? "stuck" : "done",
		       how == BY_ABORT ? "abort" : "umount",
		       sr == -1 ? "stuck" : "done");
		goto out;
	}
	a = r = -1;
	if (!WIFEXITED(sr) || WEXITSTATUS(sr)) {
		ft_log("%s failed", how == BY_ABORT ? "abort" : "umount");
		goto out;
	}
	if (!WIFEXITED(sa) || WEXITSTATUS(sa) < OUT_CUT_OFF ||
	    WEXITSTATUS(sa) >= OUT_BAD)
		goto out;
	ret = WEXITSTATUS(sa);
out:
	if (a > 0)
		ft_kill(a);
	if (r > 0)
		ft_kill(r);
	umount2(MNT, MNT_DETACH);
	/* the connection goes with the last reference to its mount */
	for (n = 0; n < 200 && count_conns() != base; n++)
		usleep(10000);
	if (count_conns() != base) {
		ft_log("%d connections left, wanted %d", count_conns(), base);
		ret = -1;
	}
	return ret;
}

int main(void)
{
	static const char * const outname[] = {
		"attached, then cut off", "ENOENT", "EINVAL",
	};
	int counts[2][3] = { { 0 } };
	int how, i, base, bad = 0;

	ft_name = "attach-race";
	ft_deadline(80);
	if (ft_mkdir(MNT))
		return FT_FAIL;
	base = count_conns();
	if (base < 0) {
		ft_log("no fusectl at " FUSECTL);
		return FT_FAIL;
	}

	for (how = BY_ABORT; how <= BY_UMOUNT && !bad; how++) {
		for (i = 0; i < ROUNDS; i++) {
			int out = round_once(how, base);

			if (out < 0) {
				ft_log("%s round %d failed",
				       how == BY_ABORT ? "abort" : "umount", i);
				bad = 1;
				break;
			}
			counts[how][out - OUT_CUT_OFF]++;
		}
		ft_log("racing %s, %d rounds: %s %d, %s %d, %s %d",
		       how == BY_ABORT ? "a fusectl abort" : "a lazy umount",
		       ROUNDS, outname[0], counts[how][0], outname[1],
		       counts[how][1], outname[2], counts[how][2]);
	}
	return bad ? FT_FAIL : FT_PASS;
}
