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
 */
#include "proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/securebits.h>

void fr_log(int level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
}

int main(int argc, char *argv[])
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *dir = getenv("FUSE_RECOVER_RUNTIME_DIR");
	struct frp_msg m = { .type = FRP_HELLO }, r;
	char buf[FRP_MAX_MSG];
	int fd, err, argi = 2;
	long uid = -1;

	if (argc < 3 || strcmp(argv[1], "hello") != 0 || !dir) {
		fprintf(stderr, "usage: frtool hello [--as-uid UID] TAG\n");
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
