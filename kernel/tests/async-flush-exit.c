// SPDX-License-Identifier: GPL-2.0
/*
 * async-flush-exit: with FUSE_ASYNC_FLUSH negotiated, an application that
 * exits with a file open on a recovery connection whose server is dead
 * finishes exiting at once.  As a control, the same without
 * FUSE_ASYNC_FLUSH leaves the application stuck in FLUSH until the
 * connection is aborted through fusectl, which must free it promptly.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ftest.h"

#define FUSECTL "/sys/fs/fuse/connections"

/* open the file, say so, wait for the word, then exit with it open */
static pid_t spawn_app(const char *path, int *gofd)
{
	int ready[2], go[2];
	char c;
	pid_t pid;

	if (pipe(ready) || pipe(go))
		return -1;
	pid = fork();
	if (pid == 0) {
		int fd = open(path, O_RDONLY);

		alarm(60);
		close(ready[0]);
		close(go[1]);
		if (fd < 0 || write(ready[1], "r", 1) != 1)
			_exit(2);
		if (read(go[0], &c, 1) != 1)
			_exit(3);
		_exit(0);	/* the kernel closes fd: FLUSH */
	}
	close(ready[1]);
	close(go[0]);
	if (read(ready[0], &c, 1) != 1) {
		ft_log("application could not open the file");
		ft_kill(pid);
		return -1;
	}
	close(ready[0]);
	*gofd = go[1];
	return pid;
}

/*
 * @dev must have been read while the server was alive: a stat() now would
 * send GETATTR and wait for the dead server like everybody else.
 */
static int fusectl_abort(dev_t dev)
{
	char path[128];
	int fd, ok;

	snprintf(path, sizeof(path), FUSECTL "/%u/abort", minor(dev));
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	ok = write(fd, "1", 1) == 1;
	close(fd);
	return ok ? 0 : -EIO;
}

/* returns 0 if the exiting app behaved as @async says it should */
static int run(const char *mnt, const char *tag, int async)
{
	uint64_t want = FUSE_HAS_RECOVERY | (async ? FUSE_ASYNC_FLUSH : 0);
	char path[64];
	struct stat st;
	pid_t server, app;
	int go = -1, status, ret = 1;

	if (ft_mkdir(mnt))
		return 1;
	server = ft_spawn_server(mnt, tag, NULL, want, 0, -1);
	if (server < 0)
		return 1;
	snprintf(path, sizeof(path), "%s/file", mnt);
	if (stat(mnt, &st))
		st.st_dev = 0;
	app = spawn_app(path, &go);
	if (app < 0) {
		ft_kill(server);
		umount2(mnt, MNT_DETACH);
		return 1;
	}

	ft_kill(server);
	if (write(go, "g", 1) != 1)
		goto out;

	status = ft_wait_ms(app, async ? 5000 : 1000);
	if (async) {
		if (status == -1) {
			ft_log("exiting app blocked on a dead server");
			goto out;
		}
		app = -1;
		ft_log("exiting app finished at once (async flush)");
		ret = 0;
		goto out;
	}

	/* control: without async flush the app must still be stuck */
	if (status != -1) {
		ft_log("control: app exited without async flush?");
		app = -1;
		goto out;
	}
	ft_log("control: app stuck in FLUSH, aborting via fusectl");
	if (fusectl_abort(st.st_dev)) {
		ft_log("fusectl abort failed");
		goto out;
	}
	if (ft_wait_ms(app, 5000) == -1) {
		ft_log("fusectl abort did not free the app");
		goto out;
	}
	app = -1;
	ret = 0;
out:
	close(go);
	ft_kill(app);
	if (umount(mnt)) {
		ft_log("umount: %m");
		umount2(mnt, MNT_DETACH);
		ret = 1;
	}
	return ret;
}

int main(void)
{
	int bad;

	ft_name = "async-flush-exit";
	ft_deadline(60);
	if (mount("fusectl", FUSECTL, "fusectl", 0, NULL) && errno != EBUSY)
		ft_log("mounting fusectl: %m");

	bad = run("/mnt/aflush", "aflush-test", 1);
	if (!bad)
		bad = run("/mnt/sflush", "sflush-test", 0);
	return bad ? FT_FAIL : FT_PASS;
}
