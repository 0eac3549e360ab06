// SPDX-License-Identifier: LGPL-2.1-or-later
/* Supervisor protocol: encoding, decoding of hostile input, fd passing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto.h"

void fr_log(int level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
}

static void round_trip(void **state)
{
	char buf[FRP_MAX_MSG];
	struct frp_msg m = { .type = FRP_ATTACHED, .status = -5,
			     .arg = { 42, 7 } }, d;
	ssize_t n;

	(void)state;
	m.blob[0] = "init-in";
	m.blob_len[0] = 7;
	m.blob[2] = "/mnt";
	m.blob_len[2] = 4;
	n = frp_encode(&m, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(frp_decode(buf, n, &d), 0);
	assert_int_equal(d.type, FRP_ATTACHED);
	assert_int_equal(d.status, -5);
	assert_int_equal(d.arg[0], 42);
	assert_int_equal(d.arg[1], 7);
	assert_int_equal(d.blob_len[0], 7);
	assert_memory_equal(d.blob[0], "init-in", 7);
	assert_int_equal(d.blob_len[1], 0);
	assert_memory_equal(d.blob[2], "/mnt", 4);
}

static void hostile_input(void **state)
{
	char buf[FRP_MAX_MSG];
	struct frp_msg m = { .type = FRP_HELLO }, d;
	ssize_t n;
	uint32_t bad;

	(void)state;
	m.blob[0] = "tag";
	m.blob_len[0] = 3;
	n = frp_encode(&m, buf, sizeof(buf));
	assert_int_equal(frp_decode(buf, n - 1, &d), -EPROTO); /* truncated */
	assert_int_equal(frp_decode(buf, 3, &d), -EPROTO);
	memcpy(&bad, buf, 4);
	bad ^= 1;
	memcpy(buf, &bad, 4); /* magic */
	assert_int_equal(frp_decode(buf, n, &d), -EPROTO);
	bad ^= 1;
	memcpy(buf, &bad, 4);
	buf[4] = 99; /* version */
	assert_int_equal(frp_decode(buf, n, &d), -EPROTO);
	buf[4] = FRP_VERSION;
	/* a blob length pointing past the end */
	n = frp_encode(&m, buf, sizeof(buf));
	bad = 0xfffffff0;
	memcpy(buf + n - 3 - 16, &bad, 4);
	assert_int_equal(frp_decode(buf, n, &d), -EPROTO);
	/* too big to encode */
	m.blob_len[0] = FRP_MAX_MSG;
	m.blob[0] = buf;
	assert_int_equal(frp_encode(&m, buf, sizeof(buf)), -EMSGSIZE);
}

static void fds_travel_cloexec(void **state)
{
	char buf[FRP_MAX_MSG];
	struct frp_msg m = { .type = FRP_ADD_FD, .nfd = 2 }, d;
	int sv[2], p[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	assert_int_equal(pipe(p), 0);
	m.fd[0] = p[0];
	m.fd[1] = p[1];
	assert_int_equal(frp_send(sv[0], &m), 0);
	assert_int_equal(frp_recv(sv[1], buf, &d), 0);
	assert_int_equal(d.nfd, 2);
	assert_true(fcntl(d.fd[0], F_GETFD) & FD_CLOEXEC);
	assert_int_equal(write(d.fd[1], "x", 1), 1);
	assert_int_equal(read(p[0], buf, 1), 1);
	frp_close_fds(&d);
	assert_int_equal(d.nfd, 0);

	/* More fds than announced: refused, and none leak to the receiver. */
	m.nfd = 1;
	{
		union {
			struct cmsghdr h;
			char b[CMSG_SPACE(2 * sizeof(int))];
		} ctl = { 0 };
		char wire[FRP_MAX_MSG];
		struct iovec iov = { wire, 0 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = ctl.b,
				     .msg_controllen = sizeof(ctl.b) };
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		int two[2] = { p[0], p[1] };

		iov.iov_len = frp_encode(&m, wire, sizeof(wire));
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(two));
		memcpy(CMSG_DATA(c), two, sizeof(two));
		assert_true(sendmsg(sv[0], &mh, 0) > 0);
		assert_int_equal(frp_recv(sv[1], buf, &d), -EPROTO);
	}
	close(sv[0]);
	assert_int_equal(frp_recv(sv[1], buf, &d), -ECONNRESET);
	close(sv[1]);
	close(p[0]);
	close(p[1]);
}

/*
 * A receiver whose fd table is full gets the message with MSG_CTRUNC and
 * without its fds: -EMFILE, but the message is decoded so the sender can
 * be answered (the supervisor must not take it for a dead peer).
 */
static void fds_lost_when_table_full(void **state)
{
	char buf[FRP_MAX_MSG];
	struct frp_msg m = { .type = FRP_ADD_FD, .nfd = 1, .arg = { 9, 2 } },
		       d = { 0 };
	struct rlimit old, low;
	int sv[2], p[2], fill[64], n = 0;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	assert_int_equal(pipe(p), 0);
	m.fd[0] = p[0];
	assert_int_equal(frp_send(sv[0], &m), 0);
	/* Fill the table: only fds below the limit exist. */
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = p[1] + 2;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	while (n < 64 && (fill[n] = dup(0)) >= 0)
		n++;
	assert_int_equal(frp_recv(sv[1], buf, &d), -EMFILE);
	assert_int_equal(d.type, FRP_ADD_FD);
	assert_int_equal(d.arg[0], 9);
	assert_int_equal(d.nfd, 0);
	while (n)
		close(fill[--n]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	close(sv[0]);
	close(sv[1]);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(hostile_input),
		cmocka_unit_test(fds_travel_cloexec),
		cmocka_unit_test(fds_lost_when_table_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
