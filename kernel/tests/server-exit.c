// SPDX-License-Identifier: GPL-2.0
/*
 * server-exit: FUSE_DEV_IOC_EXIT ends recovery.  A server that announced it
 * is exiting for good and then closes its fd with a request read but not
 * answered: the application gets ECONNABORTED at once instead of waiting
 * for a new server, the connection is aborted, and attaching to its mount
 * gives ENOENT.  An fd not bound to a connection gets EINVAL.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ftest.h"

#define MNT "/mnt/sexit"
#define TAG "sexit-test"

/* read one request from @fd, or fail the test */
static int read_req(int fd, char *buf, size_t size)
{
	ssize_t n = read(fd, buf, size);

	if (n < (ssize_t)sizeof(struct fuse_in_header)) {
		ft_log("reading a request: %m");
		return -1;
	}
	return ((struct fuse_in_header *)buf)->opcode;
}

int main(void)
{
	static char buf[256 * 1024];
	struct ft_server srv = {
		.want = FUSE_HAS_RECOVERY, .notify_fd = -1, .content = "x\n",
	};
	struct stat st;
	pid_t app = -1;
	int fd, probe, status, ret = FT_FAIL;

	ft_name = "server-exit";
	ft_deadline(60);
	if (ft_mkdir(MNT))
		return FT_FAIL;

	probe = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (probe < 0 || ioctl(probe, FUSE_DEV_IOC_EXIT) == 0 ||
	    errno != EINVAL) {
		ft_log("EXIT on an unbound fd: %m, wanted EINVAL");
		return FT_FAIL;
	}
	close(probe);

	fd = ft_mount(MNT, TAG, 0, NULL);
	if (fd < 0) {
		ft_log("mount: %s", strerror(-fd));
		return FT_FAIL;
	}
	srv.fd = fd;
	if (read_req(fd, buf, sizeof(buf)) != FUSE_INIT ||
	    ft_handle(&srv, buf))
		goto out;

	if (ioctl(fd, FUSE_DEV_IOC_EXIT)) {
		ft_log("FUSE_DEV_IOC_EXIT: %m");
		goto out;
	}

	app = fork();
	if (app == 0) {
		close(fd);	/* else our close below would not be the last */
		alarm(20);
		_exit(stat(MNT "/file", &st) ? errno : 0);
	}
	/* hold the app's LOOKUP, then leave with it unanswered */
	if (read_req(fd, buf, sizeof(buf)) != FUSE_LOOKUP) {
		ft_log("no LOOKUP from the application");
		goto out;
	}
	close(fd);
	fd = -1;

	status = ft_wait_ms(app, 3000);
	if (status == -1) {
		ft_log("application still waits after the server left");
		goto out;
	}
	app = -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != ECONNABORTED) {
		ft_log("application: status %#x, wanted ECONNABORTED", status);
		goto out;
	}
	fd = ft_attach(MNT, TAG);
	if (fd != -ENOENT) {
		ft_log("attach after exit: %s, wanted ENOENT",
		       fd < 0 ? strerror(-fd) : "success");
		goto out;
	}
	fd = -1;
	ret = FT_PASS;
out:
	if (fd >= 0)
		close(fd);
	if (app > 0) {
		umount2(MNT, MNT_FORCE);
		ft_kill(app);
	}
	if (umount(MNT)) {
		ft_log("umount: %m");
		umount2(MNT, MNT_DETACH);
		ret = FT_FAIL;
	}
	return ret;
}
