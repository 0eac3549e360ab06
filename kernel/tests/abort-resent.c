// SPDX-License-Identifier: GPL-2.0
/*
 * abort-resent: an application whose READ was read by a server that died
 * waits uninterruptibly (SIGKILL does not end it), also after the READ was
 * resent to the next server, which holds it too.  A fusectl abort of the
 * connection must end that wait at once: the application goes away, the
 * holder's fd is cut off (ENODEV) and the mount can be unmounted.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ftest.h"

#define MNT "/mnt/aresent"
#define TAG "aresent-test"
#define FUSECTL "/sys/fs/fuse/connections"

static void app(const char *path)
{
	char buf[64];
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		_exit(2);
	_exit(read(fd, buf, sizeof(buf)) < 0 ? 3 : 0);
}

static int wait_line(int fd, const char *prefix)
{
	char line[128];

	while (ft_read_line(fd, line, sizeof(line), 10000) >= 0)
		if (!strncmp(line, prefix, strlen(prefix)))
			return 0;
	return -1;
}

static int abort_conn(unsigned int conn)
{
	char path[64];
	int fd, ok;

	snprintf(path, sizeof(path), FUSECTL "/%u/abort", conn);
	fd = open(path, O_WRONLY);
	if (fd < 0) {
		ft_log("open %s: %m", path);
		return -1;
	}
	ok = write(fd, "1", 1) == 1;
	close(fd);
	return ok ? 0 : -1;
}

int main(void)
{
	pid_t server, holder = -1, reader = -1;
	struct stat st = { 0 };
	long long t0;
	int ev[2], status, ret = FT_FAIL;

	ft_name = "abort-resent";
	ft_deadline(60);
	if (ft_mkdir(MNT) || pipe(ev))
		return FT_FAIL;

	server = ft_spawn_server(MNT, TAG, NULL, FUSE_HAS_RECOVERY, 1, ev[1]);
	if (server < 0)
		return FT_FAIL;
	if (stat(MNT, &st)) {
		ft_log("stat %s: %m", MNT);
		goto out;
	}
	reader = fork();
	if (reader == 0)
		app(MNT "/file");
	if (wait_line(ev[0], "read")) {
		ft_log("server never saw the READ");
		goto out;
	}
	ft_kill(server);
	server = -1;

	holder = ft_spawn_holder(MNT, TAG, ev[1]);
	if (holder < 0) {
		ft_log("reattach failed");
		goto out;
	}
	if (wait_line(ev[0], "read resend=1 ")) {
		ft_log("the holder never got the resent READ");
		goto out;
	}

	/* Read by a server: SIGKILL leaves the application waiting. */
	kill(reader, SIGKILL);
	if (ft_wait_ms(reader, 500) != -1) {
		ft_log("a reader whose READ the server holds was killable");
		reader = -1;
		goto out;
	}

	t0 = ft_now_ms();
	if (abort_conn(minor(st.st_dev)))
		goto out;
	status = ft_wait_ms(reader, 5000);
	if (status == -1) {
		ft_log("reader still waits 5 s after the abort");
		goto out;
	}
	reader = -1;
	ft_log("reader gone %lld ms after the abort", ft_now_ms() - t0);
	status = ft_wait_ms(holder, 5000);
	if (status == -1) {
		ft_log("holder not cut off by the abort");
		goto out;
	}
	holder = -1;
	if (umount(MNT)) {
		ft_log("umount after the abort: %m");
		goto out;
	}
	ret = FT_PASS;
out:
	/* A reader still waiting on a held READ can only be freed so. */
	if (reader > 0 && ft_wait_ms(reader, 0) != -1)
		reader = -1;
	else if (reader > 0)
		abort_conn(minor(st.st_dev));
	ft_kill(server);
	ft_kill(holder);
	ft_kill(reader);
	umount2(MNT, MNT_DETACH);
	return ret;
}
