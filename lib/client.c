// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Finding the tag's supervisor: inherited from a supervisor that launched
 * us, reached through its socket, or started here when the tag is free.
 */
#include "fuse_recover_i.h"
#include "proto.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#ifndef FUSE_RECOVERD_PATH
#define FUSE_RECOVERD_PATH "/usr/bin/fuse-recoverd"
#endif
#define CONNECT_TIMEOUT_MS 5000
#define CALL_TIMEOUT_SEC 10
#define HELLO_ATTEMPTS 5

/*
 * A standby that takes over sends RESUMED and serves without waiting for
 * the supervisor's ACK (lib/standby.c): that ACK is read here, before the
 * next request on the socket.  A refusal can only be logged by now: the
 * supervisor also sees us serve, or kills us.  Caller holds sock_lock.
 */
int fr_client_read_owed(struct fr_session *s)
{
	char buf[FRP_MAX_MSG];
	struct frp_msg r;
	int err;

	for (; s->acks_owed && s->sock >= 0; s->acks_owed--) {
		err = frp_recv(s->sock, buf, &r);
		if (err)
			return err;
		frp_close_fds(&r);
		if (r.type != FRP_ACK)
			return -EPROTO;
		if (r.status < 0)
			fr_log(LOG_ERR, "the supervisor refused the takeover: %.*s",
			       (int)r.blob_len[0], (const char *)r.blob[0]);
	}
	return 0;
}

/*
 * One request, one answer.  The socket has a receive timeout: a supervisor
 * that stops answering must not stall the filesystem.  After a failure the
 * conversation is out of step, so the socket is dropped; the server runs
 * on while rehome.c starts a new supervisor.
 */
int fr_client_call_locked(struct fr_session *s, const void *msg,
			  void *reply_buf, void *reply)
{
	int err = s->sock < 0 ? -ENOTCONN : fr_client_read_owed(s);

	if (!err)
		err = frp_send(s->sock, msg);
	if (!err)
		err = frp_recv(s->sock, reply_buf, reply);
	if (err && s->sock >= 0) {
		fr_log(LOG_ERR,
		       "lost the supervisor (%s)",
		       strerror(-err));
		close(s->sock);
		s->sock = -1;
	}
	return err;
}

int fr_client_call(struct fr_session *s, const void *msg, void *reply_buf,
		   void *reply)
{
	int err;

	pthread_mutex_lock(&s->sock_lock);
	err = fr_client_call_locked(s, msg, reply_buf, reply);
	pthread_mutex_unlock(&s->sock_lock);
	return err;
}

int fr_client_expect_ack(struct fr_session *s, const struct frp_msg *m,
			 const char *what)
{
	char buf[FRP_MAX_MSG];
	struct frp_msg r = { 0 };
	int err = fr_client_call(s, m, buf, &r);

	if (!err) {
		frp_close_fds(&r);
		err = r.type == FRP_ACK ? r.status : -EPROTO;
	}
	if (err)
		fr_log(LOG_ERR, "supervisor refused %s: %s%s%.*s", what,
		       strerror(-err), r.blob_len[0] ? ": " : "",
		       (int)r.blob_len[0], (const char *)r.blob[0]);
	return err;
}

/* What a supervisor is told of a connection it is to hold from now on. */
void fr_attached_msg(const struct fr_session *s, struct frp_msg *m)
{
	*m = (struct frp_msg){ .type = FRP_ATTACHED, .nfd = 1 };
	m->fd[0] = s->main_fd;
	m->arg[0] = s->conn_id;
	m->blob[0] = s->init_in.data;
	m->blob_len[0] = s->init_in.len;
	m->blob[1] = s->init_out.data;
	m->blob_len[1] = s->init_out.len;
	m->blob[2] = s->mountpoint;
	m->blob_len[2] = strlen(s->mountpoint);
}

void fr_client_set_timeout(int sock)
{
	struct timeval tv = { .tv_sec = CALL_TIMEOUT_SEC };

	setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/*
 * Whoever holds the other end of FUSE_RECOVER_FD gets our /dev/fuse fd, so
 * it must be the supervisor that started us: our parent, running as our
 * uid (or root).  Anyone else could set the variable before running us,
 * a set-uid server above all.
 */
static int check_inherited_peer(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	if ((cred.uid != geteuid() && cred.uid != 0) ||
	    cred.pid != getppid()) {
		fr_log(LOG_ERR,
		       "FUSE_RECOVER_FD: peer pid %d uid %u is not the supervisor that started us (parent %d, uid %u): refusing it",
		       (int)cred.pid, (unsigned int)cred.uid, (int)getppid(),
		       (unsigned int)geteuid());
		return -EPERM;
	}
	return 0;
}

/* Launched by fuse-recoverd: it left us one end of a socketpair. */
static int inherited_socket(void)
{
	const char *env = secure_getenv("FUSE_RECOVER_FD");
	struct stat st;
	char *end;
	long fd;
	int err;

	if (!env && getenv("FUSE_RECOVER_FD")) {
		unsetenv("FUSE_RECOVER_FD");
		fr_log(LOG_ERR,
		       "FUSE_RECOVER_FD is not trusted in a set-uid or set-gid program: refusing it");
		return -EPERM;
	}
	if (!env)
		return -ENOENT;
	fd = strtol(env, &end, 10);
	if (*end || fd < 3 || fd > 65535 || fstat(fd, &st) < 0 ||
	    !S_ISSOCK(st.st_mode)) {
		fr_log(LOG_ERR, "FUSE_RECOVER_FD=%s is not a socket", env);
		unsetenv("FUSE_RECOVER_FD");
		return -EBADF;
	}
	unsetenv("FUSE_RECOVER_FD"); /* not for our children */
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	err = check_inherited_peer(fd);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

static int connect_path(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	memcpy(sa.sun_path, path, strnlen(path, sizeof(sa.sun_path) - 1));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	close(fd);
	return -errno;
}

static void fmt_uint(char *buf, size_t size, unsigned int v)
{
	snprintf(buf, size, "%u", v);
}

/* The new supervisor says it is listening, or why it cannot start. */
static int await_ready(int sock, const char *path)
{
	char buf[FRP_MAX_MSG];
	struct frp_msg m = { 0 };
	int err;

	fr_client_set_timeout(sock);
	err = frp_recv(sock, buf, &m);
	if (!err) {
		frp_close_fds(&m);
		err = m.type == FRP_ACK ? m.status : -EPROTO;
	}
	if (!err)
		return sock;
	fr_log(LOG_ERR, "cannot start supervisor %s: %s%s%.*s", path,
	       strerror(-err), m.blob_len[0] ? ": " : "", (int)m.blob_len[0],
	       (const char *)m.blob[0]);
	close(sock);
	return err;
}

/*
 * Double fork: the supervisor must outlive us and must not be our child
 * (we would have to reap it) nor in our session (a terminal's ^C would
 * kill it with us).  Only async-signal-safe calls after fork().
 */
static int spawn_supervisor(const struct fuse_recover *fr, int lock_fd)
{
	const char *path = secure_getenv("FUSE_RECOVERD");
	char restarts[16], window[16], timeout[16];
	char *argv[] = { "fuse-recoverd", "--tag", fr->tag,
			 "--max-restarts", restarts, "--window", window,
			 "--takeover-timeout", timeout, "--client-fd", "3",
			 "--lock-fd", "4", NULL };
	struct stat st;
	int quiet_stderr, sv[2], status;
	pid_t pid;

	if (!path || !*path)
		path = FUSE_RECOVERD_PATH;
	fmt_uint(restarts, sizeof(restarts), fr->max_restarts);
	fmt_uint(window, sizeof(window), fr->window_sec);
	fmt_uint(timeout, sizeof(timeout), fr->timeout_sec);
	/* Our stderr may be a pipe someone waits on to see us end. */
	quiet_stderr = fstat(2, &st) < 0 || S_ISFIFO(st.st_mode) ||
		       S_ISSOCK(st.st_mode);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	fr_fork_own(true);	/* in the child too: it forks again */
	pid = fork();
	if (pid != 0)
		fr_fork_own(false);
	if (pid < 0) {
		int err = -errno;

		close(sv[0]);
		close(sv[1]);
		return err;
	}
	if (pid == 0) {
		int a, b, null;

		setsid();
		if (fork() != 0)
			_exit(0);
		a = fcntl(sv[1], F_DUPFD, 10);
		b = fcntl(lock_fd, F_DUPFD, 10);
		null = open("/dev/null", O_RDWR);
		if (a < 0 || b < 0 || null < 0 || dup2(a, 3) < 0 ||
		    dup2(b, 4) < 0)
			_exit(127);
		dup2(null, 0);
		dup2(null, 1);
		if (quiet_stderr)
			dup2(null, 2);
		close_range(5, ~0U, 0);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		execv(path, argv);
		frp_send_ack(3, -errno, "cannot execute it");
		_exit(127);
	}
	close(sv[1]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return await_ready(sv[0], path);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* *@inherited: the socket came from the supervisor that launched us. */
static int client_connect(const struct fuse_recover *fr, int *sockp,
			  bool *inherited)
{
	char dir[FR_PATH_MAX], path[FR_PATH_MAX];
	int err, fd, waited;

	fd = inherited_socket();
	*inherited = fd >= 0;
	if (fd >= 0 || fd != -ENOENT) {
		*sockp = fd;
		return fd < 0 ? fd : 0;
	}
	err = fr_runtime_dir(dir, sizeof(dir));
	if (!err)
		err = fr_tag_path(path, dir, fr->tag, "sock");
	if (err) {
		fr_log(LOG_ERR, "no usable runtime directory for tag %s: %s",
		       fr->tag, strerror(-err));
		return err;
	}
	for (waited = 0; waited < CONNECT_TIMEOUT_MS; waited += 5) {
		int lock_fd;

		fd = connect_path(path);
		if (fd >= 0) {
			*sockp = fd;
			return 0;
		}
		if (fd != -ENOENT && fd != -ECONNREFUSED) {
			fr_log(LOG_ERR, "cannot reach supervisor at %s: %s",
			       path, strerror(-fd));
			return fd;
		}
		err = fr_lock_tag(dir, fr->tag, &lock_fd);
		if (err == 0) {
			/* The tag is free: the lock goes to the supervisor. */
			fd = spawn_supervisor(fr, lock_fd);
			if (fd < 0)
				fr_remove_tag_files(dir, fr->tag);
			close(lock_fd);
			if (fd < 0)
				return fd;
			*sockp = fd;
			return 0;
		}
		if (err != -EWOULDBLOCK)
			return err;
		/* A supervisor is starting or leaving; give it a moment. */
		sleep_ms(5);
	}
	fr_log(LOG_ERR, "supervisor of tag %s holds its lock but does not answer",
	       fr->tag);
	return -ETIMEDOUT;
}

/*
 * We cannot serve this connection and have read nothing from it: say so,
 * so that whoever offered it (a supervisor, or on the kernel path the old
 * server) keeps waiting for a compatible server, or serves on, instead of
 * counting our exit as one more death.
 */
int fr_client_decline(struct fr_session *s, int err, const char *why)
{
	struct frp_msg m = { .type = FRP_DECLINE, .status = err };

	m.blob[0] = why;
	m.blob_len[0] = strlen(why);
	pthread_mutex_lock(&s->sock_lock);
	if (s->sock >= 0)
		frp_send(s->sock, &m);
	pthread_mutex_unlock(&s->sock_lock);
	return err;
}

/*
 * Connects and says @hello; *@r is the answer, its fds the caller's.  The
 * supervisor drops a peer that has not said HELLO within a second, or the
 * one that waited longest when all its slots are busy: a server starved of
 * CPU right after connect() is such a peer.  Its conversation breaks before
 * any answer (EPIPE, ECONNRESET), so nothing was handed to it, and it
 * connects again: a slow server is never locked out by the deadline that
 * keeps idle peers from filling the table.  Bounded, as a supervisor that
 * keeps closing on us is gone or broken.  A socket inherited from the
 * supervisor that launched us is held to no deadline: a break there is
 * that supervisor's death, not retried.
 */
int fr_client_greet(const struct fuse_recover *fr, const struct frp_msg *hello,
		    void *buf, struct frp_msg *r, int *sockp)
{
	bool inherited;
	int attempt, err, sock;

	for (attempt = 1;; attempt++) {
		err = client_connect(fr, &sock, &inherited);
		if (err)
			return err;
		fr_client_set_timeout(sock);
		err = frp_send(sock, hello);
		if (!err)
			err = frp_recv(sock, buf, r);
		if (!err) {
			*sockp = sock;
			return 0;
		}
		close(sock);
		if (inherited || attempt == HELLO_ATTEMPTS ||
		    (err != -EPIPE && err != -ECONNRESET))
			return err;
		fr_log(LOG_WARNING,
		       "the supervisor of tag %s dropped us before our HELLO was answered (%s): connecting again (attempt %d of %d)",
		       fr->tag, strerror(-err), attempt + 1, HELLO_ATTEMPTS);
		sleep_ms(20 * attempt);
	}
}
