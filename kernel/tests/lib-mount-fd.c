// SPDX-License-Identifier: GPL-2.0
/*
 * lib-mount-fd - the library reattaches through an fd of its old mount that
 * it inherited (FUSE_RECOVER_MOUNT_FD), where its mount point no longer
 * shows that mount.
 *
 * testfs (kernel path, no supervisor) is SIGKILLed with a read inside it;
 * a tmpfs is then mounted over the mount point, so a restart that only
 * looked there would find no mount with its tag and mount afresh on top
 * (and the read would wait for ever).  The restart inherits an O_PATH fd of
 * the old mount's root opened before the kill and named in
 * FUSE_RECOVER_MOUNT_FD: it must say it recovered the mount on the kernel
 * path, the in-flight read must get its data, a new open through the fd
 * must work, and SIGTERM must leave both mounts alone (the old one cannot
 * be named for umount2(): a path walk to its root ends on the tmpfs; it is
 * left to whoever handed the fd) while ending its connection (ENOTCONN).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ftest.h"

const char *ft_name = "lib-mount-fd";

#define MNT "/mnt/lib-mount-fd"
#define RUN "/tmp/lib-mount-fd-run"
#define MARKS "/tmp/lib-mount-fd-marks"
#define OPTS "tag=lmf,slow_ms=1500,mark_dir=" MARKS
#define HELLO "Hello World!\n"

static int covered;

static void clean_up(int mfd)
{
	if (covered)
		umount2(MNT, MNT_DETACH);
	if (mfd >= 0)
		close(mfd);
	umount2(MNT, MNT_DETACH);
}

/* Read what @dirfd/@name holds into @buf; -1 on error */
static ssize_t read_at(int dirfd, const char *name, char *buf, size_t len)
{
	int fd = openat(dirfd, name, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, len - 1);

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = 0;
	return n;
}

int main(void)
{
	char mark[64], got[64] = "", fdnum[16];
	int pipefd[2], status, mfd = -1, ret = FT_FAIL;
	pid_t srv = -1, reader = -1;
	ssize_t n;

	ft_deadline(60);
	if (access("/tests/testfs", X_OK) != 0) {
		ft_log("no /tests/testfs in the initramfs");
		return FT_SKIP;
	}
	ft_mkdir(MNT);
	ft_mkdir(MARKS);
	mkdir(RUN, 0700);

	srv = ft_start_testfs("/tmp/lmf1.log", RUN, OPTS, MNT);
	if (!ft_wait_for("/tmp/lmf1.log", "mounted", 10000) ||
	    !ft_file_has("/tmp/lmf1.log", "kernel reattach, no supervisor")) {
		ft_log("first start did not mount on the kernel path");
		ft_show("/tmp/lmf1.log");
		goto out;
	}
	/* no O_CLOEXEC: the restarted server inherits it */
	mfd = open(MNT, O_PATH | O_DIRECTORY);
	if (mfd < 0 || pipe(pipefd) < 0)
		goto out;

	reader = fork();
	if (reader == 0) {
		n = read_at(mfd, "slow", got, sizeof(got));
		if (n > 0 && write(pipefd[1], got, n) != n)
			_exit(2);
		_exit(n > 0 ? 0 : 1);
	}
	close(pipefd[1]);
	snprintf(mark, sizeof(mark), MARKS "/slow.%d", (int)srv);
	if (!ft_wait_for(mark, NULL, 10000)) {
		ft_log("the read never reached the server");
		goto out;
	}
	ft_kill(srv);
	srv = -1;

	if (mount("cover", MNT, "tmpfs", 0, NULL)) {
		ft_log("cannot cover the mount point: %m");
		goto out;
	}
	covered = 1;

	snprintf(fdnum, sizeof(fdnum), "%d", mfd);
	setenv("FUSE_RECOVER_MOUNT_FD", fdnum, 1);
	srv = ft_start_testfs("/tmp/lmf2.log", RUN, OPTS, MNT);
	unsetenv("FUSE_RECOVER_MOUNT_FD");
	if (!ft_wait_for("/tmp/lmf2.log", "recovered the mount", 10000) ||
	    !ft_file_has("/tmp/lmf2.log", "kernel reattach, no supervisor")) {
		ft_log("restart did not reattach through the handed fd");
		ft_show("/tmp/lmf2.log");
		goto out;
	}
	status = ft_wait_ms(reader, 10000);
	if (status == -1) {
		ft_log("in-flight read still waiting after the reattach");
		goto out;
	}
	reader = -1;
	n = read(pipefd[0], got, sizeof(got) - 1);
	got[n > 0 ? n : 0] = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) || strcmp(got, HELLO)) {
		ft_log("in-flight read: status %#x, got \"%s\"", status, got);
		goto out;
	}
	if (read_at(mfd, "hello", got, sizeof(got)) <= 0 ||
	    strcmp(got, HELLO)) {
		ft_log("new open through the fd: \"%s\" (%m)", got);
		goto out;
	}

	/*
	 * A clean exit must leave both mounts alone (a path walk to the old
	 * mount's root ends on the tmpfs, so the library cannot unmount it)
	 * and end the connection: a request through our fd fails at once.
	 */
	kill(srv, SIGTERM);
	status = ft_wait_ms(srv, 10000);
	if (status == -1) {
		ft_log("server did not exit on SIGTERM");
		goto out;
	}
	srv = -1;
	if (!ft_file_has("/tmp/lmf2.log", "left mounted")) {
		ft_log("server did not say it left the handed mount");
		ft_show("/tmp/lmf2.log");
		goto out;
	}
	if (!ft_file_has("/proc/mounts", "cover " MNT " tmpfs")) {
		ft_log("the tmpfs over the mount point was unmounted");
		goto out;
	}
	reader = fork();
	if (reader == 0) {
		alarm(10);
		_exit(read_at(mfd, "hello", got, sizeof(got)) < 0 &&
		      errno == ENOTCONN ? 0 : 1);
	}
	status = ft_wait_ms(reader, 5000);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		ft_log("old mount after the clean exit: not ENOTCONN at once");
		goto out;
	}
	reader = -1;
	close(mfd);
	mfd = -1;
	if (umount2(MNT, 0) || umount2(MNT, 0)) {
		ft_log("umount of the tmpfs and the old mount: %m");
		goto out;
	}
	if (ft_file_has("/proc/mounts", MNT) ||
	    access(RUN "/lmf.init", F_OK) == 0) {
		ft_log("mount or saved INIT left behind");
		ft_show("/proc/mounts");
		goto out;
	}
	covered = 0;
	ret = FT_PASS;
out:
	ft_kill(srv);
	if (reader > 0) {
		/* a read still waiting for a server: abort it */
		clean_up(mfd);
		mfd = -1;
		ft_kill(reader);
	}
	clean_up(mfd);
	return ret;
}
