// SPDX-License-Identifier: GPL-2.0
/*
 * resend-clone-fds: a multi-threaded server with FUSE_DEV_IOC_CLONE fds
 * dies holding requests read on several fds.
 *
 * The first server reads on NFDS fds (the mount's and NFDS - 1 clones), one
 * thread each; a thread that reads a READ holds it and reads no more, so
 * the NFDS READs sent one after the other (one application each, one
 * offset each) end up on NFDS different fds.  The server is SIGKILLed; its
 * fds are released one by one.  A new server attaches and must get every
 * READ again, marked resent, in the order the applications sent them, and
 * each application must get its byte.
 *
 * Without the merge in fuse_requeue_resend() each release put its requests
 * in front of those of the fds released before it, so the new server got
 * them grouped by fd in reverse release order.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ftest.h"

#define MNT "/mnt/clonefds"
#define TAG "clonefds-test"
#define NFDS 4
#define BUFSIZE (256 * 1024)

static const char content[] = "0123456789abcdef\n";

struct reader {
	struct ft_server srv;
	int index;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	char *buf = malloc(BUFSIZE);

	for (;;) {
		struct fuse_in_header *ih = (void *)buf;
		ssize_t n = read(r->srv.fd, buf, BUFSIZE);

		if (n < 0 && (errno == EINTR || errno == ENOENT))
			continue;
		if (n < (ssize_t)sizeof(*ih))
			break;
		ft_handle(&r->srv, buf);
		if (ih->opcode == FUSE_READ) {
			dprintf(r->srv.notify_fd, "held %d\n", r->index);
			/* hold it and read no more: the next READ goes elsewhere */
			for (;;)
				pause();
		}
	}
	return NULL;
}

static void server_main(int notify_fd)
{
	static struct reader readers[NFDS];
	pthread_t threads[NFDS];
	int fd0, i;

	fd0 = ft_mount(MNT, TAG, 0, NULL);
	if (fd0 < 0) {
		ft_log("mount: %s", strerror(-fd0));
		_exit(FT_FAIL);
	}
	for (i = 0; i < NFDS; i++) {
		int fd = fd0;

		if (i) {
			uint32_t src = fd0;

			fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
			if (fd < 0 || ioctl(fd, FUSE_DEV_IOC_CLONE, &src)) {
				ft_log("clone: %m");
				_exit(FT_FAIL);
			}
		}
		readers[i].index = i;
		readers[i].srv = (struct ft_server) {
			.fd = fd, .want = FUSE_HAS_RECOVERY, .block_read = 1,
			.notify_fd = notify_fd, .content = content,
		};
	}
	for (i = 0; i < NFDS; i++)
		if (pthread_create(&threads[i], NULL, reader_main, &readers[i]))
			_exit(FT_FAIL);
	for (;;)
		pause();
}

static void app(int off)
{
	int fd = open(MNT "/file", O_RDONLY);
	char c;

	alarm(30);
	if (fd < 0)
		_exit(2);
	if (pread(fd, &c, 1, off) != 1)
		_exit(3);
	_exit(c == content[off] ? 0 : 4);
}

/* Next line starting with @prefix, skipping others; 0 or -1 on timeout. */
static int next_line(int fd, const char *prefix, char *line, size_t len)
{
	do {
		if (ft_read_line(fd, line, len, 10000) < 0)
			return -1;
	} while (strncmp(line, prefix, strlen(prefix)));
	return 0;
}

int main(void)
{
	pid_t server, attacher = -1, apps[NFDS];
	unsigned long long off;
	int ev[2], i, idx, resend, status, held = 0, ret = FT_FAIL;
	char line[128];

	ft_name = "resend-clone-fds";
	ft_deadline(60);
	for (i = 0; i < NFDS; i++)
		apps[i] = -1;
	if (ft_mkdir(MNT) || pipe(ev))
		return FT_FAIL;

	server = fork();
	if (server == 0) {
		close(ev[0]);
		server_main(ev[1]);
	}
	if (server < 0 || next_line(ev[0], "init", line, sizeof(line))) {
		ft_log("server did not start");
		goto out;
	}

	/* one at a time, so the order of arrival is known */
	for (i = 0; i < NFDS; i++) {
		apps[i] = fork();
		if (apps[i] == 0)
			app(i);
		if (next_line(ev[0], "read", line, sizeof(line)) ||
		    sscanf(line, "read resend=%d off=%llu", &resend, &off) != 2 ||
		    resend || off != (unsigned long long)i) {
			ft_log("first server, app %d: \"%s\"", i, line);
			goto out;
		}
		if (next_line(ev[0], "held", line, sizeof(line)) ||
		    sscanf(line, "held %d", &idx) != 1 || idx < 0 ||
		    idx >= NFDS || (held & (1 << idx))) {
			ft_log("READ %d not held on a fresh fd: \"%s\"", i, line);
			goto out;
		}
		held |= 1 << idx;
		ft_log("READ off=%d held on fd %d", i, idx);
	}

	ft_kill(server);
	server = -1;
	ft_log("server killed holding %d READs on %d fds", NFDS, NFDS);

	attacher = ft_spawn_attacher(MNT, TAG, content, ev[1]);
	if (attacher < 0)
		goto out;
	for (i = 0; i < NFDS; i++) {
		if (next_line(ev[0], "read", line, sizeof(line))) {
			ft_log("new server got only %d READs", i);
			goto out;
		}
		if (sscanf(line, "read resend=%d off=%llu", &resend, &off) != 2 ||
		    !resend || off != (unsigned long long)i) {
			ft_log("resent READ %d: \"%s\" (wanted resend=1 off=%d)",
			       i, line, i);
			goto out;
		}
	}
	for (i = 0; i < NFDS; i++) {
		status = ft_wait_ms(apps[i], 10000);
		apps[i] = -1;
		if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status)) {
			ft_log("app %d: status %d", i, status);
			goto out;
		}
	}
	ft_log("all %d READs resent in order and answered", NFDS);
	ret = FT_PASS;
out:
	if (server > 0)
		ft_kill(server);
	if (attacher > 0)
		ft_kill(attacher);
	umount2(MNT, MNT_DETACH);
	for (i = 0; i < NFDS; i++)
		if (apps[i] > 0 && ft_wait_ms(apps[i], 5000) == -1)
			ft_kill(apps[i]);
	return ret;
}
