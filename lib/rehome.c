// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Surviving the supervisor: when fuse-recoverd dies while this server
 * runs, nothing holds the connection for the next server any more, so the
 * server's own death would abort the mount.  A watcher thread notices the
 * hang-up of the control socket, starts a new fuse-recoverd for the tag
 * (as on a first mount) and hands it everything the old one held: the
 * connection's fd, every clone fd, the saved INIT request and reply, the
 * mount point, and the kept fds (state memory, pinned files).
 *
 * The supervisor never sends anything unasked, so watching the socket for
 * a hang-up does not compete with the request/answer calls of other
 * threads.  The handover runs on this dedicated thread under sock_lock:
 * no loop thread is interrupted in the middle of a request, and a clone
 * or kept fd registered meanwhile waits and then goes to the new
 * supervisor.
 *
 * What the old supervisor held has to be known here, so the clone and kept
 * fds given to it are also remembered (as dups: an fd number alone could
 * be reused by the time it is sent again).
 *
 * Threads do not survive fork(): a server that daemonizes after attaching
 * (fuse_main() without -f) would serve on without a watch.  The child's
 * fork handler only notes that (after_fork()); the first request
 * the child reads starts a watch of its own (fr_rehome_resume()), outside
 * the fork handler and only in the process that serves.
 */
#include "fuse_recover_i.h"
#include "proto.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <syslog.h>
#include <unistd.h>

struct rh_fd {
	uint32_t kind;		/* enum frp_fd_kind / fr_keep_kind */
	uint64_t key;
	int fd;			/* our dup */
};

static struct {
	pthread_mutex_t lock;	/* fds; taken inside sock_lock */
	struct rh_fd *fds;
	size_t nfds;

	struct fuse_recover fr;	/* how to start a supervisor for the tag */
	pthread_t thread;
	bool running;
	int stop_fd;		/* eventfd: fr_rehome_stop() */
	sem_t started;		/* the watch is in its loop */
	struct fr_session *s;	/* the session watched */
} rh = { .lock = PTHREAD_MUTEX_INITIALIZER, .stop_fd = -1 };

/* Set in a forked child whose parent had a watch running. */
bool fr_rehome_lost;

static struct rh_fd *rh_find(uint32_t kind, uint64_t key)
{
	size_t i;

	for (i = 0; i < rh.nfds; i++)
		if (rh.fds[i].kind == kind && rh.fds[i].key == key)
			return &rh.fds[i];
	return NULL;
}

void fr_rehome_note(uint32_t kind, uint64_t key, int fd)
{
	struct rh_fd *h, *n;
	int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);

	if (copy < 0) {
		fr_log(LOG_WARNING,
		       "cannot remember fd %d for a new supervisor: %s", fd,
		       strerror(errno));
		return;
	}
	pthread_mutex_lock(&rh.lock);
	h = rh_find(kind, key);
	if (h) {
		close(h->fd);
	} else {
		n = realloc(rh.fds, (rh.nfds + 1) * sizeof(*n));
		if (!n) {
			pthread_mutex_unlock(&rh.lock);
			close(copy);
			return;
		}
		rh.fds = n;
		h = &n[rh.nfds++];
	}
	*h = (struct rh_fd){ .kind = kind, .key = key, .fd = copy };
	pthread_mutex_unlock(&rh.lock);
}

void fr_rehome_forget(uint32_t kind, uint64_t key)
{
	struct rh_fd *h;

	pthread_mutex_lock(&rh.lock);
	h = rh_find(kind, key);
	if (h) {
		close(h->fd);
		*h = rh.fds[--rh.nfds];
	}
	pthread_mutex_unlock(&rh.lock);
}

static void forget_all(void)
{
	size_t i;

	pthread_mutex_lock(&rh.lock);
	for (i = 0; i < rh.nfds; i++)
		close(rh.fds[i].fd);
	free(rh.fds);
	rh.fds = NULL;
	rh.nfds = 0;
	pthread_mutex_unlock(&rh.lock);
}

/* One message, one ACK, on a socket nobody else uses yet. */
static int call(int sock, const struct frp_msg *m, const char *what)
{
	char buf[FRP_MAX_MSG];
	struct frp_msg r = { 0 };
	int err = frp_send(sock, m);

	if (!err)
		err = frp_recv(sock, buf, &r);
	if (!err) {
		frp_close_fds(&r);
		err = r.type == FRP_ACK ? r.status : -EPROTO;
	}
	if (err)
		fr_log(LOG_ERR, "new supervisor refused %s: %s", what,
		       strerror(-err));
	return err;
}

static int send_fd(int sock, uint32_t kind, uint64_t key, int fd)
{
	struct frp_msg m = { .type = FRP_ADD_FD, .nfd = 1, .fd = { fd },
			     .arg = { key, kind } };

	return call(sock, &m, kind == FRP_FD_CLONE ? "a clone fd" :
						     "a kept fd");
}

/* Kept fds the previous server left, unless this one replaced them. */
static unsigned int send_inherited(int sock, const struct fr_session *s)
{
	unsigned int sent = 0;
	size_t i;

	for (i = 0; i < s->nkept; i++)
		if (!rh_find(s->kept[i].kind, s->kept[i].key) &&
		    send_fd(sock, s->kept[i].kind, s->kept[i].key,
			    s->kept[i].fd) == 0)
			sent++;
	return sent;
}

/*
 * The new supervisor starts empty (@r: its answer to our HELLO): attach to
 * it as if freshly mounted.
 */
static int hand_over(struct fr_session *s, int sock, const struct frp_msg *r,
		     unsigned int *nfds)
{
	struct frp_msg m;
	size_t i;
	int err;

	if (r->type != FRP_FRESH) {
		/* Someone else's connection is held under our tag. */
		fr_log(LOG_ERR, "the new supervisor of tag %s is not empty",
		       s->tag);
		return -EBUSY;
	}
	fr_attached_msg(s, &m);
	err = call(sock, &m, "the connection");
	if (err)
		return err;
	/*
	 * From here the supervisor holds the connection: leaving now would
	 * look like our death and let another server take over while we
	 * serve.  A refused fd costs only what it protected; keep going.
	 */
	pthread_mutex_lock(&rh.lock);
	*nfds = send_inherited(sock, s);
	for (i = 0; i < rh.nfds; i++)
		if (send_fd(sock, rh.fds[i].kind, rh.fds[i].key,
			    rh.fds[i].fd) == 0)
			(*nfds)++;
	pthread_mutex_unlock(&rh.lock);
	return 0;
}

/* True while the mount lives: an unmounted connection polls as POLLERR. */
static bool connection_alive(const struct fr_session *s)
{
	struct pollfd p = { .fd = s->main_fd };

	if (fuse_session_exited(s->se))
		return false;
	return !(poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLNVAL)));
}

/* Returns the new socket, or -errno with the server left unrecoverable. */
static int rehome(struct fr_session *s)
{
	struct frp_msg hello = { .type = FRP_HELLO, .arg = { getpid() } };
	struct frp_msg r = { 0 };
	char buf[FRP_MAX_MSG];
	unsigned int nfds = 0;
	int sock, err;

	fr_log(LOG_WARNING,
	       "lost the supervisor of tag %s: starting a new one and handing it the connection",
	       s->tag);
	hello.blob[0] = s->tag;
	hello.blob_len[0] = strlen(s->tag);
	err = fr_client_greet(&rh.fr, &hello, buf, &r, &sock);
	if (err)
		goto fail;
	frp_close_fds(&r);
	err = hand_over(s, sock, &r, &nfds);
	if (err) {
		close(sock);
		goto fail;
	}
	fr_log(LOG_INFO,
	       "tag %s: a new supervisor holds connection %u again (%u more fds)",
	       s->tag, s->conn_id, nfds);
	return sock;
fail:
	fr_log(LOG_ERR,
	       "no new supervisor for tag %s (%s): this server is no longer recoverable",
	       s->tag, strerror(-err));
	return err;
}

/*
 * Watches a dup of the socket: a failed call elsewhere closes s->sock, but
 * the hang-up is still seen on the dup.
 */
static void *watch(void *arg)
{
	struct fr_session *s = arg;
	sigset_t all;
	int watch_fd = -1;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&s->sock_lock);
	if (s->sock >= 0)
		watch_fd = fcntl(s->sock, F_DUPFD_CLOEXEC, 3);
	pthread_mutex_unlock(&s->sock_lock);
	/* Its death is then seen at its exit_mm() too (readers.c). */
	fr_readers_claim();
	sem_post(&rh.started);
	while (watch_fd >= 0) {
		struct pollfd p[2] = {
			{ .fd = watch_fd, .events = POLLRDHUP },
			{ .fd = rh.stop_fd, .events = POLLIN },
		};
		int sock;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents || !(p[0].revents & (POLLHUP | POLLRDHUP |
						      POLLERR)))
			break;
		close(watch_fd);
		watch_fd = -1;
		/*
		 * A standby (started ahead, lib/standby.c) does not serve:
		 * it ends with its supervisor, it moves to no other one.
		 */
		if (__atomic_load_n(&s->standby, __ATOMIC_ACQUIRE))
			break;
		if (!connection_alive(s))
			break; /* unmounted: the supervisor left for that */
		pthread_mutex_lock(&s->sock_lock);
		if (s->sock >= 0)
			close(s->sock);
		s->sock = -1;
		/* What the old supervisor owed us never comes. */
		s->acks_owed = 0;
		sock = rehome(s);
		if (sock >= 0) {
			s->sock = sock;
			watch_fd = fcntl(sock, F_DUPFD_CLOEXEC, 3);
		}
		pthread_mutex_unlock(&s->sock_lock);
		if (sock >= 0)
			fr_upgrade_rehomed(s);
	}
	if (watch_fd >= 0)
		close(watch_fd);
	return NULL;
}

static int start_watch(struct fr_session *s)
{
	int err;

	rh.s = s;
	rh.stop_fd = eventfd(0, EFD_CLOEXEC);
	if (rh.stop_fd < 0)
		return -errno;
	sem_init(&rh.started, 0, 0);
	err = -pthread_create(&rh.thread, NULL, watch, s);
	/*
	 * Not back to the server before the thread is up: fuse_main() forks
	 * right after mounting, and a thread half-way through its start
	 * (allocating) at fork() can leave the child's allocator locked.
	 */
	if (!err)
		while (sem_wait(&rh.started) < 0 && errno == EINTR)
			;
	sem_destroy(&rh.started);
	if (err) {
		close(rh.stop_fd);
		rh.stop_fd = -1;
		fr_log(LOG_WARNING,
		       "cannot watch the supervisor: its death would end recovery");
		return err;
	}
	rh.running = true;
	return 0;
}

static void after_fork(void);
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void register_fork(void)
{
	pthread_atfork(NULL, NULL, after_fork);
}

int fr_rehome_start(struct fr_session *s, const struct fuse_recover *fr)
{
	/* A standby's watch started before its takeover. */
	if (s->sock < 0 || rh.running)
		return 0;
	pthread_once(&fork_once, register_fork);
	rh.fr.tag = s->tag;
	rh.fr.max_restarts = fr->max_restarts;
	rh.fr.window_sec = fr->window_sec;
	rh.fr.timeout_sec = fr->timeout_sec;
	return start_watch(s);
}

/*
 * In the child of fork(), from its fork handler: the watch thread stayed
 * behind in the parent, and its stop eventfd is the parent's too.  Only
 * async-signal-safe calls here.
 */
static void after_fork(void)
{
	if (!rh.running)
		return;
	rh.running = false;
	if (rh.stop_fd >= 0)
		close(rh.stop_fd);
	rh.stop_fd = -1;
	/* Held, perhaps, by a thread this process does not have. */
	pthread_mutex_init(&rh.lock, NULL);
	__atomic_store_n(&fr_rehome_lost, true, __ATOMIC_RELEASE);
}

/* A forked child serves: it watches the supervisor from now on. */
FR_COLD void fr_rehome_resume(void)
{
	if (!__atomic_exchange_n(&fr_rehome_lost, false, __ATOMIC_ACQ_REL))
		return;
	if (rh.s && rh.s->sock >= 0 && start_watch(rh.s) == 0)
		fr_log(LOG_INFO,
		       "tag %s: pid %d forked from the server watches its supervisor",
		       rh.s->tag, (int)getpid());
	if (rh.s && rh.s->sock >= 0)
		fr_upgrade_forked(rh.s);
}

/* Before a clean unmount (the supervisor then leaves) and at the end. */
void fr_rehome_stop(void)
{
	uint64_t one = 1;

	if (rh.running) {
		if (write(rh.stop_fd, &one, sizeof(one)) < 0)
			fr_log(LOG_WARNING, "cannot stop the supervisor watch");
		pthread_join(rh.thread, NULL);
		rh.running = false;
	}
	if (rh.stop_fd >= 0)
		close(rh.stop_fd);
	rh.stop_fd = -1;
	forget_all();
}
