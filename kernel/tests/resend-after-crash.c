// SPDX-License-Identifier: GPL-2.0
/*
 * resend-after-crash: a server that negotiated FUSE_HAS_RECOVERY is
 * SIGKILLed while it holds a READ, with nobody else holding /dev/fuse.  A
 * new server attaches by an fd of the mount and must get that READ again,
 * marked as resent, and the application's read() must return the new
 * server's data.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ftest.h"

#define MNT "/mnt/resend"
#define TAG "resend-test"

static const char second[] = "second server\n";

static void app(const char *path)
{
	char buf[64];
	ssize_t n;
	int fd;

	alarm(30);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		_exit(2);
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0) {
		fprintf(stderr, "  app: read: %m\n");
		_exit(3);
	}
	buf[n] = '\0';
	if (strcmp(buf, second)) {
		fprintf(stderr, "  app: read \"%s\"\n", buf);
		_exit(4);
	}
	close(fd);
	_exit(0);
}

int main(void)
{
	pid_t server, attacher = -1, reader;
	char line[128];
	int ev[2], status, ret = FT_FAIL;

	ft_name = "resend-after-crash";
	ft_deadline(60);
	if (ft_mkdir(MNT) || pipe(ev))
		return FT_FAIL;

	server = ft_spawn_server(MNT, TAG, NULL,
				 FUSE_HAS_RECOVERY | FUSE_ASYNC_FLUSH, 1,
				 ev[1]);
	if (server < 0)
		return FT_FAIL;

	reader = fork();
	if (reader == 0)
		app(MNT "/file");

	/* wait until the server holds the READ */
	while (ft_read_line(ev[0], line, sizeof(line), 10000) >= 0 &&
	       strncmp(line, "read", 4))
		;
	if (strncmp(line, "read", 4)) {
		ft_log("server never saw the READ");
		goto out;
	}

	ft_kill(server);
	server = -1;
	ft_log("server killed while holding READ");

	if (ft_wait_ms(reader, 500) != -1) {
		ft_log("reader finished without a server");
		goto out;
	}

	attacher = ft_spawn_attacher(MNT, TAG, second, ev[1]);
	if (attacher < 0) {
		ft_log("reattach failed");
		goto out;
	}

	if (ft_read_line(ev[0], line, sizeof(line), 10000) < 0 ||
	    strncmp(line, "read resend=1 ", 14)) {
		ft_log("new server got \"%s\", wanted a resent READ", line);
		goto out;
	}

	status = ft_wait_ms(reader, 10000);
	if (status == -1) {
		ft_log("reader still blocked after reattach");
		goto out;
	}
	reader = -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		ft_log("reader failed, status %#x", status);
		goto out;
	}
	ret = FT_PASS;
out:
	ft_kill(server);
	ft_kill(attacher);
	ft_kill(reader);
	umount2(MNT, MNT_DETACH);
	return ret;
}
