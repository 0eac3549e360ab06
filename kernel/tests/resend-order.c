// SPDX-License-Identifier: GPL-2.0
/*
 * resend-order: a server dies holding several READs; the next server gets
 * all of them again, marked FUSE_UNIQUE_RESEND, in the order the
 * applications sent them, and every application gets its data.
 *
 * Each application reads one byte at its own offset, so the offset names
 * the request.  The dead server's requests sit in the processing hash, and
 * v1 put them back bucket by bucket: with consecutive unique ids spread
 * over 256 buckets the order came back shuffled, so this test fails there.
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

#define MNT "/mnt/order"
#define TAG "order-test"
#define NAPPS 8

static const char content[] = "0123456789abcdef\n";

static void app(int off)
{
	int fd = open(MNT "/file", O_RDONLY);
	char c;

	if (fd < 0)
		_exit(2);
	if (pread(fd, &c, 1, off) != 1)
		_exit(3);
	_exit(c == content[off] ? 0 : 4);
}

int main(void)
{
	pid_t server, attacher = -1, apps[NAPPS];
	unsigned long long off;
	char line[128];
	int ev[2], i, resend, status, n = 0, ret = FT_FAIL;

	ft_name = "resend-order";
	ft_deadline(60);
	for (i = 0; i < NAPPS; i++)
		apps[i] = -1;
	if (ft_mkdir(MNT) || pipe(ev))
		return FT_FAIL;

	server = ft_spawn_server(MNT, TAG, NULL, FUSE_HAS_RECOVERY, 1, ev[1]);
	if (server < 0)
		return FT_FAIL;

	/* one at a time, so the order of arrival is known */
	for (i = 0; i < NAPPS; i++) {
		apps[i] = fork();
		if (apps[i] == 0)
			app(i);
		do {
			if (ft_read_line(ev[0], line, sizeof(line), 10000) < 0) {
				ft_log("server never saw READ %d", i);
				goto out;
			}
		} while (strncmp(line, "read", 4));
		if (sscanf(line, "read resend=%d off=%llu", &resend, &off) != 2 ||
		    resend || off != (unsigned long long)i) {
			ft_log("first server got \"%s\" for app %d", line, i);
			goto out;
		}
	}

	ft_kill(server);
	server = -1;
	ft_log("server killed holding %d READs", NAPPS);

	attacher = ft_spawn_attacher(MNT, TAG, content, ev[1]);
	if (attacher < 0) {
		ft_log("reattach failed");
		goto out;
	}
	for (i = 0; i < NAPPS; i++) {
		if (ft_read_line(ev[0], line, sizeof(line), 10000) < 0) {
			ft_log("new server got only %d READs", i);
			goto out;
		}
		if (strncmp(line, "read", 4)) {
			i--;
			continue;
		}
		if (sscanf(line, "read resend=%d off=%llu", &resend, &off) != 2 ||
		    !resend) {
			ft_log("new server got \"%s\", wanted a resent READ",
			       line);
			goto out;
		}
		if (off != (unsigned long long)i) {
			ft_log("resent READ %d has offset %llu: out of order",
			       i, off);
			n++;
		}
	}
	if (n)
		goto out;

	for (i = 0; i < NAPPS; i++) {
		status = ft_wait_ms(apps[i], 10000);
		if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status)) {
			ft_log("app %d: status %#x", i, status);
			goto out;
		}
		apps[i] = -1;
	}
	ft_log("%d READs resent in order and answered", NAPPS);
	ret = FT_PASS;
out:
	ft_kill(server);
	ft_kill(attacher);
	/* abort first: an app waiting on a resent READ cannot be killed */
	umount2(MNT, MNT_FORCE);
	umount2(MNT, MNT_DETACH);
	for (i = 0; i < NAPPS; i++)
		ft_kill(apps[i]);
	return ret;
}
