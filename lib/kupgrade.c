// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Live upgrade on the kernel path (kattach.c): no supervisor, so the old
 * server coordinates its own replacement.
 *
 * The kernel refuses FUSE_DEV_IOC_ATTACH while any /dev/fuse fd of the
 * connection is open, so a successor cannot attach while the old server
 * runs: the old one hands it a dup of its fd instead.  A serving server
 * listens on RUNTIME_DIR/TAG.upgrade (the 0700 directory of TAG.lock and
 * TAG.init).  A server started with FUSE_RECOVER_UPGRADE=1 that finds
 * the tag locked connects there and says HELLO (standby); the old one
 * answers STANDBY with its pid and three fds: the connection's, its open tag lock
 * (flock() belongs to the open file, so the successor holds the same
 * lock and the tag stays held whichever of them dies) and the listening
 * socket (the successor's to listen on once it serves).  From there the
 * supervisor protocol runs unchanged between the two: the successor's
 * standby.c replays INIT from TAG.init, compares and says STANDBY_READY;
 * the thread here plays the supervisor of supervisor/upgrade.c, telling
 * its own process's upgrade.c to DRAIN over a socketpair (its event
 * socket), then GO to the successor, confirmation, and RETIRE or RESUME.
 *
 * Crashes: the kernel keeps the connection while either process has its
 * fd, and requeues what a dying fd had read.  The old one dying before GO
 * makes the standby take over as a restart (it sees the hang-up and the
 * old pid's pidfd, and asks for resend); the new one dying after GO makes
 * the old one resume and ask for resend.  Both dying leaves the connection
 * to the next attach, as after any crash: the lock goes with the last fd.
 *
 * Whoever connects is hostile until its SO_PEERCRED says our euid, and
 * every message is checked (frp_decode(), then type and contents).
 */
#include "fuse_recover_i.h"
#include "proto.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define KU_HELLO_MS 5000	/* a connected successor's HELLO */
#define KU_READY_MS 60000	/* its INIT replay and checks */
#define KU_DRAIN_MS 5000
#define KU_TAKEOVER_MS 30000	/* GO to RESUMED */
#define KU_CONFIRM_MS 1000
#define KU_CONFIRM_MAX_MS 3600000u
/* How long a hang-up may precede the exit it announces. */
#define KU_EXIT_WAIT_MS 5000

static struct {
	int listen_fd;		/* TAG.upgrade, ours or handed over */
	int ev;			/* our end of the event socketpair */
	int stop_fd;
	pthread_t thread;
	bool running;
	struct fr_session *s;
	int offerer_pidfd;	/* standby: the old server */
	int pred;		/* a dup of the socket to it, once we serve */
	bool forked;		/* a child of fork(): the thread is the parent's */
} ku = { .listen_fd = -1, .ev = -1, .stop_fd = -1, .offerer_pidfd = -1,
	 .pred = -1 };

static int pidfd_open_(pid_t pid)
{
	return syscall(SYS_pidfd_open, pid, 0);
}

static int sock_path(const char *tag, struct sockaddr_un *a)
{
	char dir[FR_PATH_MAX];
	int err = fr_runtime_dir(dir, sizeof(dir));

	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	return err ? err : fr_tag_path(a->sun_path, dir, tag, "upgrade");
}

void fr_kupgrade_unlink(const char *tag)
{
	struct sockaddr_un a;

	if (sock_path(tag, &a) == 0)
		unlink(a.sun_path);
}

/*
 * What a supervisor would count, kept where every server of the tag finds
 * it: RUNTIME_DIR/TAG.counts, a struct kcounts.  The old server and its
 * successor may both count at once (a restart in standby, a rollback),
 * so each bump is a read-modify-write under flock().  Lost on a reboot or
 * a fresh mount, as the connection is.
 */
struct kcounts {
	uint32_t n[FR_KC_N];
	char last[224];		/* how the last upgrade ended */
};

static int counts_open(const char *tag)
{
	char dir[FR_PATH_MAX], path[FR_PATH_MAX];
	int fd, err = fr_runtime_dir(dir, sizeof(dir));

	if (!err)
		err = fr_tag_path(path, dir, tag, "counts");
	if (err)
		return err;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static void counts_read(int fd, struct kcounts *c)
{
	if (pread(fd, c, sizeof(*c), 0) != (ssize_t)sizeof(*c))
		memset(c, 0, sizeof(*c));
	c->last[sizeof(c->last) - 1] = '\0';
}

void fr_kupgrade_count(const char *tag, enum fr_kcount which,
		       const char *why)
{
	struct kcounts c;
	int fd = counts_open(tag);

	if (fd < 0)
		return;
	counts_read(fd, &c);
	c.n[which]++;
	if (why)
		snprintf(c.last, sizeof(c.last), "%s: %s",
			 which == FR_KC_UPGRADES ? "done" :
			 which == FR_KC_ROLLBACKS ? "rolled back" : "failed",
			 why);
	if (pwrite(fd, &c, sizeof(c), 0) != (ssize_t)sizeof(c))
		fr_log(LOG_WARNING, "tag %s: cannot update its counts", tag);
	close(fd);
}

void fr_kupgrade_counts_reset(const char *tag)
{
	char dir[FR_PATH_MAX], path[FR_PATH_MAX];

	if (fr_runtime_dir(dir, sizeof(dir)) == 0 &&
	    fr_tag_path(path, dir, tag, "counts") == 0)
		unlink(path);
}

/* Same euid as ours (root on the kernel path), and its pid. */
static int peer_ours(int fd, pid_t *pid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	if (cred.uid != geteuid() || cred.pid <= 0)
		return -EPERM;
	*pid = cred.pid;
	return 0;
}

/* ---- the successor's side ---- */

static bool is_dev_fuse(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) &&
	       st.st_rdev == makedev(10, 229);
}

/*
 * The tag is locked by a live server and we are its successor: 0 with
 * the connection's fd in *fd (and the tag lock in s->lock_fd, the socket
 * to the old server in s->sock); -EAGAIN: nobody listens (the holder died
 * or serves from a library without this), look at the lock again.
 */
int fr_kupgrade_connect(struct fr_session *s, int *fd)
{
	struct frp_msg hello = { .type = FRP_HELLO }, r;
	char buf[FRP_MAX_MSG];
	const char *env = secure_getenv("FUSE_RECOVER_CONFIRM_MS");
	unsigned long confirm = env ? strtoul(env, NULL, 10) : 0;
	struct sockaddr_un a;
	pid_t pid;
	int c, err = sock_path(s->tag, &a);

	if (err)
		return err;
	c = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c < 0)
		return -errno;
	if (connect(c, (struct sockaddr *)&a, sizeof(a)) < 0) {
		err = errno == ENOENT || errno == ECONNREFUSED ? -EAGAIN :
		      -errno;
		close(c);
		return err;
	}
	/*
	 * SO_PEERCRED of a connecting socket names whoever called listen():
	 * the first server of the tag, as the socket is handed down.  Its
	 * uid is all it tells; the serving pid comes in STANDBY.
	 */
	err = peer_ours(c, &pid);
	if (err) {
		fr_log(LOG_ERR, "upgrade: %s is not our server's: refusing it",
		       a.sun_path);
		close(c);
		return err;
	}
	fr_client_set_timeout(c);
	hello.arg[0] = getpid();
	hello.arg[1] = FRP_HELLO_STANDBY |
		       (uint64_t)(confirm > KU_CONFIRM_MAX_MS ?
				  KU_CONFIRM_MAX_MS : confirm) << 32;
	hello.blob[0] = s->tag;
	hello.blob_len[0] = strlen(s->tag);
	err = frp_send(c, &hello);
	if (!err)
		err = frp_recv(c, buf, &r);
	if (err) {
		close(c);
		/* A hang-up: it is going away, look at the lock again; a
		 * timeout: nothing serves the socket (a forked server). */
		if (err == -EAGAIN) {
			fr_log(LOG_ERR, "upgrade: nobody answers on %s",
			       a.sun_path);
			return -ETIMEDOUT;
		}
		return err == -ECONNRESET ? -EAGAIN : err;
	}
	if (r.type == FRP_ACK) {
		err = r.status < 0 ? r.status : -EPROTO;
		fr_log(LOG_ERR, "upgrade: pid %d refused: %.*s", (int)pid,
		       (int)r.blob_len[0], (const char *)r.blob[0]);
	} else if (r.type != FRP_STANDBY || r.nfd != 3 ||
		   !is_dev_fuse(r.fd[0]) || !r.arg[1] || r.arg[1] > INT_MAX) {
		err = -EPROTO;
	}
	pid = r.arg[1];
	if (err) {
		frp_close_fds(&r);
		close(c);
		return err;
	}
	ku.offerer_pidfd = pidfd_open_(pid);
	*fd = r.fd[0];
	s->lock_fd = r.fd[1];
	ku.listen_fd = r.fd[2];
	s->conn_id = r.arg[0];
	s->sock = c;
	fr_log(LOG_INFO, "upgrade: standby: pid %d handed over tag %s's connection; it serves on",
	       (int)pid, s->tag);
	return 0;
}

/* The old server hung up: did it die (then we take over or serve on)? */
bool fr_kupgrade_offerer_died(struct fr_session *s, bool restart)
{
	struct pollfd p = { .fd = ku.offerer_pidfd, .events = POLLIN };

	if (ku.offerer_pidfd < 0 || poll(&p, 1, KU_EXIT_WAIT_MS) != 1)
		return false;
	if (restart)
		fr_kupgrade_count(s->tag, FR_KC_RESTARTS, NULL);
	return true;
}

/* ---- the old server's side: supervisor of its own upgrade ---- */

struct peer {
	int fd, pidfd;
	pid_t pid;
	unsigned int confirm_ms;
};

enum { KU_MSG, KU_GONE, KU_TIMEOUT, KU_STOP };

/*
 * The successor forked (fork.c's FRP_NEWPID, with a socket of the child's
 * whose SO_PEERCRED names it): its child is the one to watch from now on,
 * as the parent may be about to exit (daemonizing).  Closing the socket
 * lets the child go on.
 */
static void peer_forked(struct peer *p, struct frp_msg *m)
{
	pid_t child;
	int fd;

	if (m->nfd != 1 || peer_ours(m->fd[0], &child) != 0)
		return;
	fd = pidfd_open_(child);
	if (fd < 0)
		return;
	fr_log(LOG_INFO, "upgrade: the new server pid %d forked pid %d, watched from now on",
	       (int)p->pid, (int)child);
	close(p->pidfd);
	p->pidfd = fd;
	p->pid = child;
}

/*
 * The next message from @p within @ms (-1: forever), into @m, or why
 * none came.  A peer is gone when its socket hangs up or its pid exits.
 */
static int peer_wait(struct peer *p, int ms, char *buf, struct frp_msg *m)
{
	double end = fr_now_ms() + ms;

	for (;;) {
		struct pollfd f[3] = {
			{ .fd = p->fd, .events = POLLIN },
			{ .fd = p->pidfd, .events = POLLIN },
			{ .fd = ku.stop_fd, .events = POLLIN },
		};
		int left = ms < 0 ? -1 : (int)(end - fr_now_ms()), n;

		if (ms >= 0 && left <= 0)
			return KU_TIMEOUT;
		n = poll(f, 3, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || f[2].revents)
			return KU_STOP;
		/*
		 * A successor that declines says why, then exits: what it
		 * sent before its exit is read first (looked at again, as
		 * poll() may have seen the socket before the message came).
		 */
		if (f[1].revents && !f[0].revents)
			(void)poll(f, 1, 0);	/* sets f[0].revents again */
		if (f[1].revents && !(f[0].revents & POLLIN))
			return KU_GONE;
		if (!f[0].revents)
			continue;
		if (frp_recv(p->fd, buf, m) < 0)
			return KU_GONE;
		if (m->type == FRP_NEWPID) {
			peer_forked(p, m);
			frp_close_fds(m);
			continue;
		}
		frp_close_fds(m);	/* nothing else a successor sends has any */
		return KU_MSG;
	}
}

/* One event to our upgrade.c and its answer (DRAINED or ACK). */
static int event_call(uint16_t type, uint64_t arg, char *why, size_t len)
{
	struct frp_msg m = { .type = type, .arg = { arg } }, r;
	char buf[FRP_MAX_MSG];
	int err = frp_send(ku.ev, &m);

	if (!err)
		err = frp_recv(ku.ev, buf, &r);
	if (err)
		return err;
	frp_close_fds(&r);
	if (why)
		snprintf(why, len, "%.*s", (int)r.blob_len[0],
			 (const char *)r.blob[0]);
	return r.status;
}

/*
 * The successor is gone or failed after GO: it may have read requests,
 * and must be dead before we take them back (its fds closed: the kernel
 * requeued what its clone fds had read; resend brings back the rest).
 */
static void rollback(struct fr_session *s, struct peer *p, uint64_t flags,
		     const char *why)
{
	struct pollfd f = { .fd = p->pidfd, .events = POLLIN };
	int err;

	if (p->pidfd >= 0 && poll(&f, 1, 0) == 0) {
		syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0);
		poll(&f, 1, KU_EXIT_WAIT_MS);
	}
	fr_log(LOG_WARNING, "upgrade: rollback: %s; pid %d resumes", why,
	       (int)getpid());
	fr_kupgrade_count(s->tag, FR_KC_ROLLBACKS, why);
	err = event_call(FRP_RESUME, flags, NULL, 0);
	if (err)
		fr_log(LOG_ERR, "upgrade: rollback: resume failed: %s",
		       strerror(-err));
}

static int refuse(struct fr_session *s, const struct peer *p, int err,
		  const char *why)
{
	fr_log(LOG_WARNING, "upgrade: failed: %s; pid %d serves on", why,
	       (int)getpid());
	fr_kupgrade_count(s->tag, FR_KC_REFUSED, why);
	frp_send_ack(p->fd, err, why);
	return err;
}

/*
 * `fuse-recover status` asks here, there being no supervisor: we know
 * only ourselves.  Same key=value encoding as a supervisor's FRP_INFO;
 * the tool adds the uptime from /proc.  -ECANCELED: not a successor.
 */
static int send_status(struct fr_session *s, const struct peer *p)
{
	struct frp_msg r = { .type = FRP_INFO };
	struct kcounts c = { { 0 } };
	char text[640];
	int fd = counts_open(s->tag), n;

	if (fd >= 0) {
		counts_read(fd, &c);
		close(fd);
	}
	n = snprintf(text, sizeof(text),
		     "tag=%s\nstate=serving\npath=kernel\nserver_pid=%d\n"
		     "restarts=%u\nupgrades=%u\nrollbacks=%u\n"
		     "refused_upgrades=%u\nlast_upgrade=%s\n",
		     s->tag, (int)getpid(), c.n[FR_KC_RESTARTS],
		     c.n[FR_KC_UPGRADES], c.n[FR_KC_ROLLBACKS],
		     c.n[FR_KC_REFUSED], c.last[0] ? c.last : "none");

	r.blob[0] = text;
	r.blob_len[0] = n < (int)sizeof(text) ? (size_t)n : sizeof(text) - 1;
	frp_send(p->fd, &r);
	return -ECANCELED;
}

/* HELLO from a successor, checked; its confirmation period into @p. */
static int check_hello(struct fr_session *s, struct peer *p)
{
	char buf[FRP_MAX_MSG];
	struct frp_msg m;
	int w = peer_wait(p, KU_HELLO_MS, buf, &m);
	unsigned int confirm;

	if (w != KU_MSG)
		return -ETIMEDOUT;
	if (m.type == FRP_STATUS)
		return send_status(s, p);
	if (m.type != FRP_HELLO || m.blob_len[0] != strlen(s->tag) ||
	    memcmp(m.blob[0], s->tag, m.blob_len[0]) != 0 ||
	    m.arg[0] != (uint64_t)p->pid)
		return refuse(s, p, -EPROTO, "not a HELLO for this tag");
	if (!(m.arg[1] & FRP_HELLO_STANDBY) || (m.arg[1] & FRP_HELLO_HOT))
		return refuse(s, p, -EOPNOTSUPP,
			      "on the kernel path only an upgrade's successor (FUSE_RECOVER_UPGRADE=1) can wait in standby");
	confirm = m.arg[1] >> 32;
	p->confirm_ms = !confirm ? KU_CONFIRM_MS :
			confirm > KU_CONFIRM_MAX_MS ? KU_CONFIRM_MAX_MS : confirm;
	return 0;
}

/* Returns true when we retired. */
static bool upgrade_one(struct fr_session *s, struct peer *p)
{
	struct frp_msg st = { .type = FRP_STANDBY, .nfd = 3,
			      .fd = { s->main_fd, s->lock_fd, ku.listen_fd },
			      .arg = { s->conn_id, getpid() } };
	struct frp_msg go = { .type = FRP_GO }, m;
	char buf[FRP_MAX_MSG], why[192];
	double t_drain, t_served;
	int w, err;

	if (check_hello(s, p))
		return false;
	if (frp_send(p->fd, &st))
		return false;
	fr_log(LOG_INFO, "upgrade: standby: pid %d replays INIT while pid %d serves",
	       (int)p->pid, (int)getpid());
	w = peer_wait(p, KU_READY_MS, buf, &m);
	if (w != KU_MSG) {
		if (w == KU_TIMEOUT)
			refuse(s, p, -ETIMEDOUT, "not ready in time");
		else if (w == KU_STOP)
			/* Said, or it would take our hang-up for our death
			 * and serve a connection we are unmounting. */
			refuse(s, p, -ESHUTDOWN, "the serving server is ending its session");
		else {
			snprintf(why, sizeof(why), "the new server pid %d exited before taking over",
				 (int)p->pid);
			fr_log(LOG_WARNING, "upgrade: failed: %s; pid %d serves on",
			       why, (int)getpid());
			fr_kupgrade_count(s->tag, FR_KC_REFUSED, why);
		}
		return false;
	}
	if (m.type == FRP_DECLINE) {
		snprintf(why, sizeof(why), "refused in standby: pid %d: %.*s",
			 (int)p->pid, (int)m.blob_len[0],
			 (const char *)m.blob[0]);
		fr_log(LOG_WARNING, "upgrade: failed: %s; pid %d serves on",
		       why, (int)getpid());
		fr_kupgrade_count(s->tag, FR_KC_REFUSED, why);
		return false;
	}
	if (m.type != FRP_STANDBY_READY) {
		refuse(s, p, -EPROTO, "unexpected in standby");
		return false;
	}
	t_drain = fr_now_ms();
	fr_log(LOG_INFO, "upgrade: drain: pid %d stops reading; requests wait in the kernel",
	       (int)getpid());
	err = event_call(FRP_DRAIN, KU_DRAIN_MS, why, sizeof(why));
	if (err) {
		refuse(s, p, err, "the old server could not drain");
		return false;
	}
	fr_log(LOG_INFO, "upgrade: drained: pid %d answered everything it read; GO to pid %d",
	       (int)getpid(), (int)p->pid);
	if (frp_send(p->fd, &go)) {
		/* Nothing was read by it: no resend needed. */
		rollback(s, p, 0, "the new server cannot be reached");
		return false;
	}
	w = peer_wait(p, KU_TAKEOVER_MS, buf, &m);
	if (w == KU_MSG && m.type == FRP_DECLINE) {
		snprintf(why, sizeof(why), "pid %d declined at takeover: %.*s",
			 (int)p->pid, (int)m.blob_len[0],
			 (const char *)m.blob[0]);
		rollback(s, p, 0, why);
		return false;
	}
	if (w != KU_MSG || m.type != FRP_RESUMED) {
		snprintf(why, sizeof(why), "the new server pid %d %s at takeover",
			 (int)p->pid, w == KU_TIMEOUT ? "did not serve in time" :
			 "died");
		rollback(s, p, FRP_GO_RESEND | FRP_GO_RESYNC, why);
		return false;
	}
	frp_send_ack(p->fd, 0, NULL);
	t_served = fr_now_ms();
	fr_log(LOG_INFO, "upgrade: takeover: pid %d serves tag %s after a pause of %.3f ms; pid %d parked for %u ms",
	       (int)p->pid, s->tag, t_served - t_drain, (int)getpid(),
	       p->confirm_ms);
	while ((w = peer_wait(p, p->confirm_ms - (fr_now_ms() - t_served), buf,
			      &m)) == KU_MSG)
		;	/* it has nothing to say now */
	if (w == KU_GONE) {
		snprintf(why, sizeof(why), "the new server pid %d died while being confirmed",
			 (int)p->pid);
		rollback(s, p, FRP_GO_RESEND | FRP_GO_RESYNC, why);
		return false;
	}
	if (w == KU_STOP)
		return false;
	fr_log(LOG_INFO, "upgrade: done: confirmed: pid %d serves tag %s (pause %.3f ms); pid %d retires",
	       (int)p->pid, s->tag, t_served - t_drain, (int)getpid());
	snprintf(why, sizeof(why), "pid %d serves", (int)p->pid);
	fr_kupgrade_count(s->tag, FR_KC_UPGRADES, why);
	m = (struct frp_msg){ .type = FRP_RETIRE };
	frp_send(ku.ev, &m);
	return true;
}

/*
 * A successor shares the listening socket with the old server, which is
 * parked while it confirms us: we take no successor of our own before it
 * has retired (its socket hangs up), or an upgrade of ours could be
 * undone by its rollback.  False: the session ends.
 */
static bool predecessor_gone(void)
{
	char buf[FRP_MAX_MSG];

	while (ku.pred >= 0) {
		struct pollfd f[2] = {
			{ .fd = ku.pred, .events = POLLIN },
			{ .fd = ku.stop_fd, .events = POLLIN },
		};
		struct frp_msg m;

		if (poll(f, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		if (f[1].revents)
			return false;
		if (frp_recv(ku.pred, buf, &m) == 0) {
			frp_close_fds(&m);	/* its ACK of RESUMED */
			continue;
		}
		close(ku.pred);
		ku.pred = -1;
	}
	return true;
}

static void *listen_thread(void *arg)
{
	struct fr_session *s = arg;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	if (!predecessor_gone())
		return NULL;
	for (;;) {
		struct pollfd f[2] = {
			{ .fd = ku.listen_fd, .events = POLLIN },
			{ .fd = ku.stop_fd, .events = POLLIN },
		};
		struct peer p = { .pidfd = -1 };
		bool retired;

		if (poll(f, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (f[1].revents)
			break;
		p.fd = accept4(ku.listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (p.fd < 0)
			continue;
		if (peer_ours(p.fd, &p.pid) == 0)
			p.pidfd = pidfd_open_(p.pid);
		if (p.pidfd < 0) {
			close(p.fd);
			continue;
		}
		retired = upgrade_one(s, &p);
		close(p.pidfd);
		close(p.fd);
		if (retired)
			break;
	}
	return NULL;
}

static int listen_here(const char *tag)
{
	struct sockaddr_un a;
	int fd, err = sock_path(tag, &a);

	if (err)
		return err;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* We hold the tag lock: whatever is there is a dead server's. */
	unlink(a.sun_path);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    chmod(a.sun_path, 0600) < 0 || listen(fd, 4) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/*
 * In the child of fork(), from its fork handler: the listening thread
 * stayed in the parent, and its stop eventfd and event socket are the
 * parent's.  The child's first read() (io.c, as for a supervisor's
 * watch) calls fr_kupgrade_resume().  Only async-signal-safe calls here.
 */
bool fr_kupgrade_lost;

static void after_fork(void)
{
	if (!ku.running)
		return;
	ku.running = false;
	if (ku.stop_fd >= 0)
		close(ku.stop_fd);
	if (ku.ev >= 0)
		close(ku.ev);
	ku.stop_fd = ku.ev = -1;
	ku.forked = true;
	__atomic_store_n(&fr_kupgrade_lost, true, __ATOMIC_RELEASE);
}

static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void register_fork(void)
{
	pthread_atfork(NULL, NULL, after_fork);
}

/*
 * A forked child (a daemon) serves: it takes successors from now on, on
 * the listening socket it inherited, with an event thread of its own
 * (upgrade.c's fr_upgrade_forked() asks events() again).  A child that
 * never reads (a helper) never starts either.
 */
void fr_kupgrade_resume(void)
{
	if (!__atomic_exchange_n(&fr_kupgrade_lost, false, __ATOMIC_ACQ_REL) ||
	    !ku.forked || !ku.s)
		return;
	ku.forked = false;
	fr_upgrade_forked(ku.s);
	if (ku.running)
		fr_log(LOG_INFO, "tag %s: pid %d forked from the server takes successors",
		       ku.s->tag, (int)getpid());
}

/*
 * The kernel holder's events(): we serve, so we listen for a successor
 * (on the socket our predecessor handed us, or a new one) and tell our
 * upgrade.c what to do over the other end of *ev.
 */
int fr_kupgrade_events(struct fr_session *s, int *ev)
{
	int sv[2], err;

	if (s->standby)
		return -EAGAIN;	/* the offerer's socket is not ours yet */
	if (ku.running)
		return -EBUSY;
	if (ku.listen_fd < 0) {
		ku.listen_fd = listen_here(s->tag);
		if (ku.listen_fd < 0) {
			err = ku.listen_fd;
			ku.listen_fd = -1;
			return err;
		}
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pthread_once(&fork_once, register_fork);
	if (ku.pred >= 0)	/* a forked child's, from its parent */
		close(ku.pred);
	ku.pred = -1;
	if (s->sock >= 0)
		ku.pred = fcntl(s->sock, F_DUPFD_CLOEXEC, 3);
	ku.stop_fd = eventfd(0, EFD_CLOEXEC);
	ku.s = s;
	ku.ev = sv[1];
	if (ku.stop_fd < 0 ||
	    pthread_create(&ku.thread, NULL, listen_thread, s) != 0) {
		err = ku.stop_fd < 0 ? -errno : -EAGAIN;
		if (ku.stop_fd >= 0)
			close(ku.stop_fd);
		ku.stop_fd = -1;
		close(sv[0]);
		close(sv[1]);
		ku.ev = -1;
		return err;
	}
	ku.running = true;
	*ev = sv[0];
	return 0;
}

/* The session ends: the thread stops; a retired server's socket file
 * is its successor's now, so only a clean unmount removes it. */
void fr_kupgrade_stop(void)
{
	uint64_t one = 1;

	if (ku.running) {
		if (write(ku.stop_fd, &one, sizeof(one)) < 0)
			fr_log(LOG_WARNING, "upgrade: cannot stop the listener");
		pthread_join(ku.thread, NULL);
		ku.running = false;
	}
	if (ku.stop_fd >= 0)
		close(ku.stop_fd);
	if (ku.ev >= 0)
		close(ku.ev);
	if (ku.listen_fd >= 0)
		close(ku.listen_fd);
	if (ku.offerer_pidfd >= 0)
		close(ku.offerer_pidfd);
	if (ku.pred >= 0)
		close(ku.pred);
	ku.stop_fd = ku.ev = ku.listen_fd = ku.offerer_pidfd = ku.pred = -1;
}
