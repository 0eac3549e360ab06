// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fork() after attaching.
 *
 * fuse_main() without -f, and any server calling fuse_daemonize() after
 * mounting, forks and lets the parent exit while the child serves on.  The
 * supervisor watches the server's process, so it would take that exit for
 * a death.  Instead, the child of every fork() of an attached session tells
 * the supervisor who it is, over the control socket it inherited; the
 * supervisor keeps it as an heir and lets it carry on as the server when
 * the server's process exits (supervisor/hold.c decides, and checks).
 *
 * The child names itself by a socket it creates and passes along: that
 * socket's SO_PEERCRED is the child in the supervisor's own pid namespace,
 * and cannot be made up.  The child then waits (bounded) for the
 * supervisor's answer on that socket, so that its parent, which
 * fuse_daemonize() lets exit only once the child runs, is still alive when
 * the supervisor compares the two.
 *
 * Right after fork() the child may only make async-signal-safe calls: it
 * uses socketpair, sendmsg, poll and close, nothing that allocates or
 * locks, and little stack.  The control socket's lock is held across
 * fork() so that no other thread is half-way through a call when the child
 * starts (it would inherit a locked mutex, and the supervisor would see
 * half a conversation); the child re-initialises its copy.
 *
 * The kernel path (kattach.c) needs nothing: the kernel keeps the
 * connection while any process holds a /dev/fuse fd of it, and the tag
 * lock is a flock() on an open file the child shares.
 */
#include "fuse_recover_i.h"
#include "proto.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* How long a forked child waits for the supervisor to have seen it. */
#define NEWPID_WAIT_MS 2000

static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static struct fr_session *armed;	/* attached and recoverable */
static struct fr_session *forking;	/* its sock_lock is held */
/*
 * The library's own forks (starting a supervisor, from a thread that may
 * hold sock_lock) make no heir and must not wait for that lock.
 */
static __thread bool own_fork;

void fr_fork_own(bool on)
{
	own_fork = on;
}

static void fork_prepare(void)
{
	struct fr_session *s = __atomic_load_n(&armed, __ATOMIC_ACQUIRE);

	if (!s || own_fork)
		return;
	pthread_mutex_lock(&s->sock_lock);
	forking = s;
}

static void fork_parent(void)
{
	struct fr_session *s = forking;

	forking = NULL;
	if (s)
		pthread_mutex_unlock(&s->sock_lock);
}

/*
 * frp_send() keeps a whole FRP_MAX_MSG on the stack; the forking thread
 * may have a small one.  This message has no blobs and one fd.
 */
static int send_newpid(int sock, int fd)
{
	struct frp_msg m = { .type = FRP_NEWPID, .nfd = 1 };
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} ctl;
	char buf[128];
	struct iovec iov = { .iov_base = buf };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl.b,
			     .msg_controllen = sizeof(ctl.b) };
	struct cmsghdr *c;
	ssize_t len = frp_encode(&m, buf, sizeof(buf)), n;

	if (len < 0)
		return len;
	iov.iov_len = len;
	memset(&ctl, 0, sizeof(ctl));
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(fd));
	do {
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	return n == len ? 0 : -EIO;
}

static void fork_child(void)
{
	struct fr_session *s = forking;
	struct pollfd p;
	int sv[2];

	forking = NULL;
	if (!s)
		return;
	/* Locked by a thread this process does not have: start afresh. */
	pthread_mutex_init(&s->sock_lock, NULL);
	if (s->sock < 0)
		return;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return;
	if (send_newpid(s->sock, sv[1]) == 0) {
		/* Our copy closed, the supervisor's answer or close wakes us. */
		close(sv[1]);
		sv[1] = -1;
		p = (struct pollfd){ .fd = sv[0], .events = POLLIN };
		while (poll(&p, 1, NEWPID_WAIT_MS) < 0 && errno == EINTR)
			;
	}
	close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
}

static void fork_register(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

void fr_fork_arm(struct fr_session *s)
{
	/* Only the supervisor path has a process to hand over. */
	if (s->sock < 0)
		return;
	pthread_once(&fork_once, fork_register);
	__atomic_store_n(&armed, s, __ATOMIC_RELEASE);
}

void fr_fork_disarm(struct fr_session *s)
{
	struct fr_session *want = s;

	__atomic_compare_exchange_n(&armed, &want, NULL, false,
				    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}
