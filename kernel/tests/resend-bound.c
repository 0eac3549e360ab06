// SPDX-License-Identifier: GPL-2.0
/*
 * resend-bound: a READ that "crashes" every server (each one is SIGKILLed
 * while holding it) is resent FUSE_RECOVERY_MAX_RESENDS (5) times and then
 * failed with EIO; the connection itself stays usable.
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

#define MNT "/mnt/rbound"
#define TAG "rbound-test"
#define MAX_RESENDS 5

/* exit 0 if read() failed with EIO, 1 if it succeeded, 2.. otherwise */
static void app(const char *path)
{
	char buf[64];
	int fd;

	alarm(60);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		_exit(2);
	if (read(fd, buf, sizeof(buf)) >= 0)
		_exit(1);
	_exit(errno == EIO ? 0 : 3);
}

/* wait for the holder to report the READ; returns its resend bit or -1 */
static int held_read(int ev)
{
	char line[128];

	while (ft_read_line(ev, line, sizeof(line), 10000) >= 0)
		if (!strncmp(line, "read resend=", 12))
			return line[12] == '1';
	return -1;
}

int main(void)
{
	pid_t server, reader, after;
	int ev[2], status, deaths, resent, ret = FT_FAIL;

	ft_name = "resend-bound";
	ft_deadline(80);
	if (ft_mkdir(MNT) || pipe(ev))
		return FT_FAIL;

	server = ft_spawn_server(MNT, TAG, NULL, FUSE_HAS_RECOVERY, 1, ev[1]);
	if (server < 0)
		return FT_FAIL;
	reader = fork();
	if (reader == 0)
		app(MNT "/file");

	for (deaths = 0; deaths <= MAX_RESENDS; deaths++) {
		resent = held_read(ev[0]);
		if (resent != (deaths > 0)) {
			ft_log("server %d: %s", deaths + 1, resent < 0 ?
			       "never got the READ" : "wrong resend bit");
			goto out;
		}
		ft_kill(server);
		server = -1;
		if (deaths < MAX_RESENDS) {
			if (ft_wait_ms(reader, 300) != -1) {
				ft_log("reader gave up after %d deaths",
				       deaths + 1);
				reader = -1;
				goto out;
			}
			server = ft_spawn_holder(MNT, TAG, ev[1]);
			if (server < 0) {
				ft_log("reattach %d failed", deaths + 1);
				goto out;
			}
		}
	}

	/*
	 * A server that answers: had the READ been resent once more, it
	 * would get it and the reader would see data (exit 1).  It also
	 * answers the FLUSH of the reader's exit.
	 */
	server = ft_spawn_attacher(MNT, TAG, "after\n", -1);
	if (server < 0) {
		ft_log("attach after the last death failed");
		goto out;
	}
	status = ft_wait_ms(reader, 5000);
	if (status == -1) {
		ft_log("reader still waiting after %d deaths", deaths);
		goto out;
	}
	reader = -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		ft_log("reader: status %#x, wanted EIO", status);
		goto out;
	}
	ft_log("READ failed with EIO after %d server deaths", deaths);

	/* the connection survives: reads work */
	after = fork();
	if (after == 0) {
		char buf[16];
		int fd = open(MNT "/file", O_RDONLY);

		alarm(20);
		_exit(fd >= 0 && read(fd, buf, sizeof(buf)) == 6 ? 0 : 1);
	}
	status = ft_wait_ms(after, 10000);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		ft_log("read after the failure did not work");
		ft_kill(after);
		goto out;
	}
	ret = FT_PASS;
out:
	ft_kill(server);
	if (reader > 0) {
		/* a read the dead server had taken waits uninterruptibly */
		umount2(MNT, MNT_FORCE);
		ft_kill(reader);
	}
	if (umount(MNT)) {
		ft_log("umount: %m");
		umount2(MNT, MNT_DETACH);
		ret = FT_FAIL;
	}
	return ret;
}
