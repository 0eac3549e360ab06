// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * frtool: speaks the supervisor protocol directly, as a stranger would.
 *
 *   frtool hello [--as-uid UID] TAG
 *
 * Connects to TAG's supervisor socket (in $FUSE_RECOVER_RUNTIME_DIR), says
 * HELLO and prints what came back.  With --as-uid the connection is made
 * with that effective uid while keeping root's capabilities, so the socket
 * is reachable and only the supervisor's SO_PEERCRED check stands between
 * the caller and the /dev/fuse fd.
 * Exit: 0 refused, 1 handed an fd or told to mount, 2 error.
 *
 *   frtool idle N SECONDS TAG
 *
 * Opens N connections to TAG's supervisor and says nothing on them for
 * SECONDS (or until the supervisor drops them); prints how many it dropped.
 *
 *   frtool catch-fd SECONDS -- CMD [ARGS...]
 *
 * Plays a fake supervisor: runs CMD with FUSE_RECOVER_FD naming one end of
 * a socketpair it holds, answers HELLO with "mount yourself" and every
 * other request with success, and counts the fds CMD sends it.
 * Exit: 0 no fd received, 1 fds received, 2 error.
 *
 *   frtool hold-unlinked DIR N
 *
 * Creates N files in DIR, keeping each open while it unlinks it, prints
 * "held N" and waits to be killed.
 */
#include "proto.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/securebits.h>

void fr_log(int level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
}

static int connect_tag(const char *dir, const char *tag)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s.sock", dir, tag);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("frtool: connect");
		return -1;
	}
	return fd;
}

static int idle(const char *dir, int n, int seconds, const char *tag)
{
	struct pollfd p[256];
	int i, dropped = 0;
	time_t end = time(NULL) + seconds;

	if (n < 1 || n > 256)
		return 2;
	for (i = 0; i < n; i++) {
		p[i].fd = connect_tag(dir, tag);
		p[i].events = POLLIN;
		if (p[i].fd < 0)
			return 2;
	}
	printf("connected %d\n", n);
	fflush(stdout);
	while (dropped < n && time(NULL) < end) {
		if (poll(p, n, 100) <= 0)
			continue;
		for (i = 0; i < n; i++) {
			if (!p[i].revents)
				continue;
			/* Hung up (or answered and closed): gone from us. */
			close(p[i].fd);
			p[i].fd = -1;
			dropped++;
		}
	}
	printf("dropped %d\n", dropped);
	return 0;
}

static int catch_fd(int seconds, char **cmd)
{
	char buf[FRP_MAX_MSG], env[16];
	int sv[2], status, msgs = 0, fds = 0;
	time_t end = time(NULL) + seconds;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0)
		return 2;
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		snprintf(env, sizeof(env), "%d", sv[1]);
		setenv("FUSE_RECOVER_FD", env, 1);
		execvp(cmd[0], cmd);
		_exit(127);
	}
	close(sv[1]);
	while (time(NULL) < end) {
		struct pollfd p = { .fd = sv[0], .events = POLLIN };
		struct frp_msg m, r = { .type = FRP_ACK };

		if (waitpid(pid, &status, WNOHANG) == pid) {
			pid = 0;
			break;
		}
		if (poll(&p, 1, 50) <= 0)
			continue;
		if (frp_recv(sv[0], buf, &m))
			break;
		msgs++;
		fds += m.nfd;
		frp_close_fds(&m);
		if (m.type == FRP_HELLO)
			r.type = FRP_FRESH;
		if (m.type != FRP_DEL_FD && m.type != FRP_BYE)
			frp_send(sv[0], &r);
	}
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	printf("messages %d fds %d\n", msgs, fds);
	return fds ? 1 : 0;
}

static int hold_unlinked(const char *dir, int n)
{
	char path[4096];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/f%d", dir, i);
		if (open(path, O_RDWR | O_CREAT | O_EXCL, 0600) < 0 ||
		    unlink(path) < 0) {
			fprintf(stderr, "frtool: %s: %s\n", path,
				strerror(errno));
			return 2;
		}
	}
	printf("held %d\n", n);
	fflush(stdout);
	for (;;)
		pause();
}

int main(int argc, char *argv[])
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *dir = getenv("FUSE_RECOVER_RUNTIME_DIR");
	struct frp_msg m = { .type = FRP_HELLO }, r;
	char buf[FRP_MAX_MSG];
	int fd, err, argi = 2;
	long uid = -1;

	if (argc == 5 && strcmp(argv[1], "idle") == 0 && dir)
		return idle(dir, atoi(argv[2]), atoi(argv[3]), argv[4]);
	if (argc >= 5 && strcmp(argv[1], "catch-fd") == 0 &&
	    strcmp(argv[3], "--") == 0)
		return catch_fd(atoi(argv[2]), &argv[4]);
	if (argc == 4 && strcmp(argv[1], "hold-unlinked") == 0)
		return hold_unlinked(argv[2], atoi(argv[3]));
	if (argc < 3 || strcmp(argv[1], "hello") != 0 || !dir) {
		fprintf(stderr,
			"usage: frtool hello [--as-uid UID] TAG\n"
			"       frtool idle N SECONDS TAG\n"
			"       frtool catch-fd SECONDS -- CMD [ARGS...]\n"
			"       frtool hold-unlinked DIR N\n");
		return 2;
	}
	if (strcmp(argv[argi], "--as-uid") == 0 && argc >= 5) {
		uid = atol(argv[argi + 1]);
		argi += 2;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s.sock", dir,
		 argv[argi]);
	if (uid >= 0) {
		if (prctl(PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP) < 0 ||
		    setegid(uid) < 0 || seteuid(uid) < 0) {
			perror("frtool: switching uid");
			return 2;
		}
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("frtool: connect");
		return 2;
	}
	m.arg[0] = getpid();
	m.blob[0] = argv[argi];
	m.blob_len[0] = strlen(argv[argi]);
	err = frp_send(fd, &m);
	if (!err)
		err = frp_recv(fd, buf, &r);
	if (err) {
		printf("no reply: %s\n", strerror(-err));
		return 2;
	}
	printf("reply type %u status %d fds %u: %.*s\n", r.type, r.status,
	       r.nfd, (int)r.blob_len[0],
	       r.type == FRP_ACK ? (const char *)r.blob[0] : "");
	if (r.type == FRP_ACK && r.status < 0 && r.nfd == 0)
		return 0;
	return 1;
}
