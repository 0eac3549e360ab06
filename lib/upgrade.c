// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Live upgrade: handing a serving connection to a new server without
 * failing or resending a single request, and taking it back if the new
 * one dies while it is being confirmed.
 *
 * The new server starts in standby: it receives the connection, replays
 * the saved INIT and compares the reply while the old server serves on;
 * an incompatible one is refused here and the old one never notices.  It
 * then waits inside fuse_session_attach() for GO.
 *
 * The old server drains when told to over its event socket (the one
 * channel on which the supervisor speaks first, so the request/answer
 * calls on the control socket stay in step): every loop thread stops at
 * the top of the read hook, between two requests.  A thread blocked in
 * read() on /dev/fuse must be woken without consuming a request.  The
 * drainer wakes it with a request of its own, one per thread in read()
 * (kick.c: a FUSE_NOTIFY_REPLY the read hook swallows), so a read costs no
 * syscall beyond itself.  A kick needs a regular file the kernel caches;
 * until one was seen (or after a drain found none left), reads run with a
 * real-time signal unblocked (only the read: a server's own syscalls never
 * see EINTR from us) and the drainer signals those threads.  Requests made
 * meanwhile wait in the kernel for whoever reads next.  The old server
 * then stays parked, its state consistent, until the supervisor says
 * RETIRE (the loop ends, the process exits without unmounting) or RESUME
 * (rollback: it serves again, after resyncing what its successor changed
 * and asking the kernel to resend what the dead successor had read).
 */
#include "fuse_recover_i.h"
#include "proto.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <linux/membarrier.h>
#include <poll.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#ifndef FUSE_BATCH_FORGET
#define FUSE_BATCH_FORGET 42
#endif
/* xlate.c's own requests to the server: not the kernel's. */
#define UP_SYNTH (1ull << 62)
/* How often the drainer looks at threads still inside read(). */
#define UP_KICK_NS 200000L
/*
 * How long it waits when none is: every other change it waits for (a
 * thread parks or ends, the last request read is answered) wakes it.
 */
#define UP_IDLE_NS 20000000L
/* Kicks not seen within this long are taken as lost and written again. */
#define UP_REKICK_MS 20.0

/* A thread's in_read: where it is, and what can wake it. */
enum { UP_OUT, UP_IN_SIGNAL, UP_IN_KICK };

/*
 * One per loop thread, a cache line of its own: in_read and outstanding
 * are written on every request, by this thread only.
 */
struct up_thread {
	struct up_thread *next, **pprev;
	pthread_t tid;
	_Atomic int in_read;	/* UP_OUT, UP_IN_SIGNAL or UP_IN_KICK */
	/* Read minus answered by this thread (a reply may come from
	 * another): the drain sums them. */
	_Atomic long outstanding;
	bool parked;
	unsigned int gen;	/* up.gen when registered */
} __attribute__((aligned(64)));

static struct {
	/* Read on every request: first, in one cache line. */
	_Atomic bool enabled;	/* an event socket exists */
	_Atomic bool draining;
	_Atomic bool asym;	/* the drainer fences with membarrier() */
	/* Bumped in a forked child: entries of older generations are the
	 * parent's threads and no longer on any list. */
	unsigned int gen;
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* parked threads and the drainer wait here */
	struct up_thread *threads;
	unsigned int nthreads, nparked;
	bool exiting;
	/* Read and not answered: of threads that are not (or no longer)
	 * loop threads; theirs are in struct up_thread. */
	_Atomic long outstanding;
	_Atomic unsigned long resent;	/* requests read with the resend bit */
	_Atomic long kicks;	/* written by us and not yet read back */
	_Atomic unsigned long kicks_written, kicks_swallowed, pokes;
	pthread_key_t key;
	bool key_made;
	sigset_t sig;
	int signo;

	struct fr_session *s;
	int ev;			/* our end of the event socket */
	int stop_fd;
	pthread_t thread;
	sem_t started;		/* the event thread is in its loop */
	bool running;
	bool forked;		/* the event thread stayed in the parent */
} up = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
	.ev = -1,
	.stop_fd = -1,
};

static void kick_handler(int sig)
{
	(void)sig;	/* only there to make read() return EINTR */
}

static void thread_gone(void *data)
{
	struct up_thread *t = data;

	if (t->gen != up.gen) {
		free(t);	/* registered before a fork: on no list */
		return;
	}
	pthread_mutex_lock(&up.lock);
	atomic_fetch_add(&up.outstanding, atomic_load(&t->outstanding));
	*t->pprev = t->next;
	if (t->next)
		t->next->pprev = t->pprev;
	up.nthreads--;
	pthread_cond_broadcast(&up.cond);
	pthread_mutex_unlock(&up.lock);
	free(t);
}

/* Cleared in a forked child (after_fork()): it registers again. */
static __thread struct up_thread *tls_self;

/* The calling loop thread, known from its first read on. */
static FR_COLD struct up_thread *self_new(void)
{
	struct up_thread *t = pthread_getspecific(up.key);

	if (t && t->gen != up.gen)
		free(t);	/* from before a fork, see after_fork() */
	if (posix_memalign((void **)&t, _Alignof(struct up_thread),
			   sizeof(*t)))
		return NULL;
	memset(t, 0, sizeof(*t));
	t->tid = pthread_self();
	t->gen = up.gen;
	/* Blocked everywhere but in read(); libfuse's workers block all. */
	pthread_sigmask(SIG_BLOCK, &up.sig, NULL);
	pthread_mutex_lock(&up.lock);
	t->next = up.threads;
	if (t->next)
		t->next->pprev = &t->next;
	t->pprev = &up.threads;
	up.threads = t;
	up.nthreads++;
	pthread_mutex_unlock(&up.lock);
	pthread_setspecific(up.key, t);
	tls_self = t;
	return t;
}

/*
 * A loop thread stores (in_read, its count) and then looks at
 * up.draining; the drainer stores draining and then looks at what the
 * threads stored.  Each side needs a full fence between its store and its
 * load, or both may miss the other.  Where the drainer can follow its
 * store with membarrier(), which runs a full fence on every thread of
 * ours, the request path's fence is only the compiler's: one locked
 * instruction fewer per read and per reply.
 */
static inline __attribute__((always_inline)) void store_load_fence(void)
{
	if (atomic_load_explicit(&up.asym, memory_order_relaxed))
		atomic_signal_fence(memory_order_seq_cst);
	else
		atomic_thread_fence(memory_order_seq_cst);
}

static FR_COLD void asym_start(void)
{
	atomic_store(&up.asym,
		     syscall(SYS_membarrier,
			     MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0);
}

/* After storing draining: the threads' fence (store_load_fence()). */
static void drainer_fence(void)
{
	if (atomic_load(&up.asym) &&
	    syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) < 0) {
		/* Fence on both sides from now on; the scan repeats anyway. */
		atomic_store(&up.asym, false);
		fr_log(LOG_WARNING, "upgrade: membarrier() failed: %s",
		       strerror(errno));
	}
}

static inline struct up_thread *self(void)
{
	struct up_thread *t = tls_self;

	if (fr_likely(t))
		return t;
	return self_new();
}

/* Returns true when the session is to end (retired). */
static FR_COLD bool park(struct up_thread *t)
{
	bool exiting;
	int old;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	pthread_mutex_lock(&up.lock);
	t->parked = true;
	up.nparked++;
	pthread_cond_broadcast(&up.cond);
	while (atomic_load(&up.draining) && !up.exiting)
		pthread_cond_wait(&up.cond, &up.lock);
	up.nparked--;
	t->parked = false;
	exiting = up.exiting;
	pthread_mutex_unlock(&up.lock);
	pthread_setcancelstate(old, NULL);
	return exiting;
}

/* Our kick, read by whoever reads next (also another server): gone. */
static FR_COLD void kick_swallowed(void)
{
	long k = atomic_load(&up.kicks);

	atomic_fetch_add_explicit(&up.kicks_swallowed, 1,
				  memory_order_relaxed);
	/* Kicks of an earlier server are not on our count. */
	while (k > 0 && !atomic_compare_exchange_weak(&up.kicks, &k, k - 1))
		;
}

/*
 * A read that a kick can wake, or -1 with EINTR when a drain is under way.
 * Seen in_read, or seen draining: the drainer stores draining before it
 * looks at in_read, we the other way round.
 */
static inline __attribute__((always_inline)) ssize_t
kickable_read(struct up_thread *t, int fd, void *buf, size_t len)
{
	ssize_t n;

	atomic_store_explicit(&t->in_read, UP_IN_KICK, memory_order_relaxed);
	store_load_fence();
	if (fr_unlikely(atomic_load_explicit(&up.draining,
					     memory_order_relaxed))) {
		atomic_store(&t->in_read, UP_OUT);
		errno = EINTR;
		return -1;
	}
	n = read(fd, buf, len);
	atomic_store_explicit(&t->in_read, UP_OUT, memory_order_relaxed);
	return n;
}

/* One read, or -1 with EINTR when a drain woke it without a request. */
static ssize_t drainable_read(struct up_thread *t, int fd, void *buf,
			      size_t len)
{
	ssize_t n;
	int err;

	if (fr_kick_fast())
		return kickable_read(t, fd, buf, len);
	atomic_store(&t->in_read, UP_IN_SIGNAL);
	if (atomic_load(&up.draining)) {
		atomic_store(&t->in_read, UP_OUT);
		errno = EINTR;
		return -1;
	}
	pthread_sigmask(SIG_UNBLOCK, &up.sig, NULL);
	/*
	 * A kick that came before the unblock ran its handler just now and
	 * interrupted nothing: look again, so that only a kick in the last
	 * instructions before read() is lost (the drainer kicks again).
	 */
	if (atomic_load(&up.draining)) {
		pthread_sigmask(SIG_BLOCK, &up.sig, NULL);
		atomic_store(&t->in_read, UP_OUT);
		errno = EINTR;
		return -1;
	}
	n = read(fd, buf, len);
	err = errno;
	pthread_sigmask(SIG_BLOCK, &up.sig, NULL);
	atomic_store(&t->in_read, UP_OUT);
	errno = err;
	return n;
}

/*
 * Every read but the common one (see fr_upgrade_read()): all of them
 * while no kick can wake a thread.
 */
static __attribute__((noinline)) ssize_t read_slow(int fd, void *buf,
						   size_t len)
{
	struct up_thread *t;
	ssize_t n;

	for (;;) {
		if (!atomic_load_explicit(&up.enabled, memory_order_relaxed) ||
		    !(t = self())) {
			n = read(fd, buf, len);
		} else {
			/* Looks at draining itself, after saying it reads. */
			n = drainable_read(t, fd, buf, len);
			if (n < 0 && errno == EINTR &&
			    atomic_load(&up.draining)) {
				if (park(t)) {
					errno = EINTR;	/* session exited */
					return -1;
				}
				continue;
			}
		}
		if (n >= (ssize_t)sizeof(struct fuse_in_header) &&
		    fr_kick_note_request(buf, n)) {
			kick_swallowed();
			continue;
		}
		return n;
	}
}

/*
 * The common read, of a loop thread that kicks can wake, with no drain
 * under way, of a request that is not a kick: a few lines of straight
 * code (see fr_likely()), the rest out of line.
 */
FR_HOT ssize_t fr_upgrade_read(int fd, void *buf, size_t len)
{
	struct up_thread *t = tls_self;
	ssize_t n;

	if (fr_unlikely(!t || !fr_kick_fast() ||
			!atomic_load_explicit(&up.enabled,
					      memory_order_relaxed)))
		return read_slow(fd, buf, len);
	n = kickable_read(t, fd, buf, len);
	if (fr_unlikely(n < (ssize_t)sizeof(struct fuse_in_header))) {
		if (n < 0 && errno == EINTR && atomic_load(&up.draining))
			return read_slow(fd, buf, len);	/* parks there */
		return n;
	}
	if (fr_unlikely(fr_kick_note_request(buf, n))) {
		kick_swallowed();
		return read_slow(fd, buf, len);
	}
	return n;
}

/*
 * Before a loop thread's first read (io.c registers its clone fd then):
 * a thread libfuse started while a drain ran parks before it says
 * anything to a supervisor that may already serve its successor.
 * Returns true when the session ends.
 */
bool fr_upgrade_gate(void)
{
	struct up_thread *t;

	if (!atomic_load_explicit(&up.enabled, memory_order_relaxed) ||
	    !(t = self()))
		return false;
	while (atomic_load(&up.draining))
		if (park(t))
			return true;
	return false;
}

/*
 * The count a request read or answered on this thread goes to: its own
 * when it is a loop thread of this process (no cache line shared with
 * another thread), else the common one.  A read adds with a plain store
 * (a drain never waits for a read).  An answer subtracts with a locked
 * instruction, on the thread's own line: it orders the new count before
 * the caller's look at draining, as the drainer stores draining before
 * it sums the counts.
 */
static inline __attribute__((always_inline))
void count_outstanding(long d)
{
	struct up_thread *t = tls_self;

	if (!t)
		atomic_fetch_add(&up.outstanding, d);
	else	/* this thread's own count: no other writer */
		atomic_store_explicit(&t->outstanding,
				      atomic_load_explicit(&t->outstanding,
							   memory_order_relaxed) + d,
				      memory_order_relaxed);
}

/* The drain's count; the caller holds up.lock. */
static long outstanding_locked(void)
{
	long n = atomic_load(&up.outstanding);
	struct up_thread *t;

	for (t = up.threads; t; t = t->next)
		n += atomic_load(&t->outstanding);
	return n;
}

/* Requests that get no reply do not keep a drain waiting. */
FR_HOT void fr_upgrade_note_read(const void *in_header)
{
	const struct fuse_in_header *in = in_header;

	if (in->unique & FR_UNIQUE_RESEND)
		atomic_fetch_add(&up.resent, 1);
	switch (in->opcode) {
	case FUSE_FORGET:
	case FUSE_BATCH_FORGET:
	case FUSE_INTERRUPT:
	case FUSE_NOTIFY_REPLY:
		return;
	}
	count_outstanding(1);
}

static FR_COLD __attribute__((noinline)) void wake_drainer(void)
{
	pthread_mutex_lock(&up.lock);
	pthread_cond_broadcast(&up.cond);
	pthread_mutex_unlock(&up.lock);
}

FR_HOT void fr_upgrade_note_reply(const struct iovec *iov, int count,
			   bool kernel_ids)
{
	const struct fuse_out_header *h = iov[0].iov_base;

	if (h->unique && !(h->unique & UP_SYNTH)) {
		count_outstanding(-1);
		/*
		 * The drain may wait for nothing else (a server that answers
		 * from threads of its own, its loop threads parked), and the
		 * per-thread counts cannot tell the last answer: every one
		 * during a drain wakes it.  Under the lock, so that the
		 * drainer is either before its look at the counts or waiting.
		 */
		store_load_fence();
		if (fr_unlikely(atomic_load_explicit(&up.draining,
						     memory_order_relaxed)))
			wake_drainer();
	}
	fr_kick_note_reply(iov, count, kernel_ids);
}

static void deadline_in(struct timespec *ts, long ns)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_nsec += ns;
	while (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Wakes the threads; the caller holds up.lock. */
static void undrain_locked(bool exiting)
{
	up.exiting = exiting;
	atomic_store(&up.draining, false);
	pthread_cond_broadcast(&up.cond);
}

/*
 * The last resort when the kernel caches no regular file we know of: a
 * GETATTR of the mount's root, which goes to whoever reads next.  Unlike
 * a kick it is a real request, answered by the thread it wakes (which then
 * parks); its caller waits for that answer, so it runs in a thread of its
 * own, one at a time.  If every loop thread parked before reading it, it
 * waits for the successor (or the rollback), or dies with this process.
 */
static _Atomic bool poking;

static void *poke_thread(void *arg)
{
	struct statx stx;

	statx(AT_FDCWD, arg, AT_STATX_FORCE_SYNC, STATX_TYPE, &stx);
	free(arg);
	atomic_store(&poking, false);
	return NULL;
}

static void poke(void)
{
	pthread_attr_t a;
	pthread_t t;
	bool no = false;
	char *path;

	/* A relative one may no longer name the mount (chdir). */
	if (!up.s->mountpoint || up.s->mountpoint[0] != '/' ||
	    !atomic_compare_exchange_strong(&poking, &no, true))
		return;
	path = strdup(up.s->mountpoint);
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (!path || pthread_create(&t, &a, poke_thread, path) != 0) {
		free(path);
		atomic_store(&poking, false);
	} else {
		atomic_fetch_add_explicit(&up.pokes, 1, memory_order_relaxed);
	}
	pthread_attr_destroy(&a);
}

/* Queues one kick: it wakes one reader. */
static int kick(void)
{
	int err = fr_kick_write(up.s->main_fd);

	if (err)
		return err;
	atomic_fetch_add(&up.kicks, 1);
	atomic_fetch_add_explicit(&up.kicks_written, 1, memory_order_relaxed);
	return 0;
}

/*
 * Every loop thread parked and every request read answered, within
 * @timeout_ms; otherwise the drain is undone and the server serves on.
 */
static int drain(unsigned int timeout_ms, char *why, size_t why_len)
{
	double end = fr_now_ms() + timeout_ms;
	struct timespec ts;
	double last_kick = 0;
	struct up_thread *t;
	bool warned = false, reading;
	long left, need;
	int err;

	pthread_mutex_lock(&up.lock);
	atomic_store(&up.draining, true);
	drainer_fence();
	for (;;) {
		left = outstanding_locked();
		if (up.nparked == up.nthreads && left <= 0)
			break;
		if (fr_now_ms() >= end) {
			snprintf(why, why_len,
				 "%u of %u loop threads parked, %ld requests unanswered after %u ms",
				 up.nparked, up.nthreads, left, timeout_ms);
			undrain_locked(false);
			pthread_mutex_unlock(&up.lock);
			return -ETIMEDOUT;
		}
		need = 0;
		reading = false;
		for (t = up.threads; t; t = t->next) {
			if (t->parked)
				continue;
			switch (atomic_load(&t->in_read)) {
			case UP_IN_SIGNAL:
				pthread_kill(t->tid, up.signo);
				reading = true;
				break;
			case UP_IN_KICK:
				need++;
				reading = true;
				break;
			}
		}
		/* A kick may have been read by a server of the past, or lost. */
		if (need && fr_now_ms() - last_kick >= UP_REKICK_MS)
			atomic_store(&up.kicks, 0);
		/* Once: readers swallowing meanwhile lower the count. */
		for (need -= atomic_load(&up.kicks); need > 0; need--) {
			err = kick();
			if (err) {
				/*
				 * No regular file of ours is cached now:
				 * reads take the signal's way again, and
				 * a thread already blocked gets a GETATTR.
				 */
				if (err == -ENOENT || err == -EINVAL) {
					fr_kick_none_works();
					poke();
					break;
				}
				if (!warned)
					fr_log(LOG_WARNING,
					       "upgrade: cannot wake a thread blocked in read() (%s): the drain waits for a request",
					       strerror(-err));
				warned = true;
				break;
			}
			last_kick = fr_now_ms();
		}
		/*
		 * On the clock of the deadline: up.cond is a CLOCK_REALTIME
		 * condition, and pthread_cond_timedwait() with a monotonic
		 * deadline (long past on that clock) returned at once, so the
		 * drainer spun, taking up.lock over and over and a CPU from
		 * the very threads it waits for (the pause's tail of ~5 ms,
		 * one scheduler slice, on two CPUs).
		 */
		deadline_in(&ts, reading ? UP_KICK_NS : UP_IDLE_NS);
		pthread_cond_clockwait(&up.cond, &up.lock, CLOCK_MONOTONIC,
				       &ts);
	}
	pthread_mutex_unlock(&up.lock);
	return 0;
}

static void resume(struct fr_session *s, uint64_t flags)
{
	int err;

	if (flags & FRP_GO_RESYNC) {
		fr_xlate_resync(s);
		err = fr_store_resync();
		if (err)
			fr_log(LOG_ERR, "upgrade: rollback: state store: %s",
			       strerror(-err));
	}
	if ((flags & FRP_GO_RESEND) && s->kernel.resend) {
		err = fr_resend_request(s->main_fd);
		if (err)
			fr_log(LOG_ERR, "upgrade: rollback: FUSE_NOTIFY_RESEND failed: %s",
			       strerror(-err));
	}
	pthread_mutex_lock(&up.lock);
	undrain_locked(false);
	pthread_mutex_unlock(&up.lock);
	fr_log(LOG_INFO, "upgrade: rollback: tag %s served by pid %d again%s",
	       s->tag, (int)getpid(),
	       (flags & FRP_GO_RESEND) ? " (resend asked)" : "");
}

/*
 * The successor is confirmed: the loop ends (libfuse returns from its
 * loop once the session has exited) and the server exits without
 * unmounting: fuse_recover_unmount() sees s->retired.
 */
static void retire(struct fr_session *s)
{
	s->retired = true;
	/*
	 * The control socket is done with: the supervisor serves our
	 * successor, and our exiting threads' clone fds are no business of
	 * it.  (rehome.c watches a dup of it: closing ours is no hang-up.)
	 */
	pthread_mutex_lock(&s->sock_lock);
	if (s->sock >= 0)
		close(s->sock);
	s->sock = -1;
	pthread_mutex_unlock(&s->sock_lock);
	fr_log(LOG_INFO, "upgrade: retired: pid %d leaves tag %s to its successor (it served resent=%lu)",
	       (int)getpid(), s->tag, atomic_load(&up.resent));
	fuse_session_exit(s->se);
	pthread_mutex_lock(&up.lock);
	undrain_locked(true);
	pthread_mutex_unlock(&up.lock);
}

static void on_event(struct fr_session *s, struct frp_msg *m)
{
	struct frp_msg r = { .type = FRP_DRAINED };
	char why[160] = "";
	double t0;

	switch (m->type) {
	case FRP_DRAIN:
		t0 = fr_now_ms();
		r.status = drain(m->arg[0] ? m->arg[0] : 5000, why,
				 sizeof(why));
		if (r.status)
			fr_log(LOG_WARNING, "upgrade: drain failed: %s; serving on",
			       why);
		else
			fr_log(LOG_INFO, "upgrade: drained in %.3f ms: every request read was answered (kicks=%lu swallowed=%lu pokes=%lu)",
			       fr_now_ms() - t0,
			       atomic_load(&up.kicks_written),
			       atomic_load(&up.kicks_swallowed),
			       atomic_load(&up.pokes));
		r.blob[0] = why;
		r.blob_len[0] = strlen(why);
		frp_send(up.ev, &r);
		break;
	case FRP_RESUME:
		resume(s, m->arg[0]);
		frp_send_ack(up.ev, 0, NULL);
		break;
	case FRP_RETIRE:
		retire(s);
		break;
	default:
		frp_send_ack(up.ev, -EPROTO, "unexpected event");
	}
}

static void *event_thread(void *arg)
{
	struct fr_session *s = arg;
	char buf[FRP_MAX_MSG];
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	/* Its death is then seen at its exit_mm() too (readers.c). */
	fr_readers_claim();
	sem_post(&up.started);
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = up.ev, .events = POLLIN },
			{ .fd = up.stop_fd, .events = POLLIN },
		};
		struct frp_msg m;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if (frp_recv(up.ev, buf, &m) < 0)
			break;	/* supervisor gone: rehome.c's business */
		frp_close_fds(&m);
		on_event(s, &m);
		if (s->retired)
			break;
	}
	return NULL;
}

/*
 * In the child of fork(), from its fork handler (async-signal-safe stores
 * only): the event thread and every loop thread but the caller stayed in
 * the parent.  Forget them; the caller registers anew on its next read.
 */
static void after_fork(void)
{
	/* What the parent's threads had read and not answered stays owed. */
	atomic_store(&up.outstanding, outstanding_locked());
	pthread_mutex_init(&up.lock, NULL);
	pthread_cond_init(&up.cond, NULL);
	up.threads = NULL;
	up.nthreads = 0;
	up.nparked = 0;
	up.gen++;
	tls_self = NULL;	/* the caller's entry is the parent's */
	atomic_store(&up.draining, false);
	atomic_store(&up.asym, false);	/* registered again on start */
	atomic_store(&poking, false);	/* its thread stayed in the parent */
	if (!up.running)
		return;
	up.running = false;
	up.forked = true;
	atomic_store(&up.enabled, false);
}

static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void register_fork(void)
{
	pthread_atfork(NULL, NULL, after_fork);
}

/*
 * Once serving: the event socket (from the holder: the supervisor's, or on
 * the kernel path our own end of kupgrade.c's), and the signal that wakes
 * readers.  Without it this server can still be replaced by a crash
 * restart, just not drained.
 */
void fr_upgrade_start(struct fr_session *s)
{
	struct sigaction sa = { .sa_handler = kick_handler };
	int ev = -1, err;

	if (up.running || !s->holder->events)
		return;
	pthread_once(&fork_once, register_fork);
	asym_start();
	/* SIGRTMAX - 3: clear of glibc's own and of the usual SIGRTMIN users. */
	up.signo = SIGRTMAX - 3;
	sigemptyset(&up.sig);
	sigaddset(&up.sig, up.signo);
	/* No SA_RESTART: an interrupted read() must return. */
	if (sigaction(up.signo, &sa, NULL) < 0)
		return;
	if (!up.key_made) {
		if (pthread_key_create(&up.key, thread_gone))
			return;
		up.key_made = true;
	}
	err = s->holder->events(s, &ev);
	if (err) {
		if (err != -EAGAIN)
			fr_log(LOG_WARNING, "upgrade: no event socket (%s): this server cannot be drained for a live upgrade",
			       strerror(-err));
		return;
	}
	up.ev = ev;
	up.s = s;
	up.stop_fd = eventfd(0, EFD_CLOEXEC);
	sem_init(&up.started, 0, 0);
	if (up.stop_fd < 0 ||
	    pthread_create(&up.thread, NULL, event_thread, s) != 0) {
		if (up.stop_fd >= 0)
			close(up.stop_fd);
		up.stop_fd = -1;
		close(up.ev);
		up.ev = -1;
		return;
	}
	/*
	 * Return only once the thread runs its loop: a thread still starting
	 * when the server forks (fuse_main() daemonizing right after
	 * attaching) can leave a sanitizer's allocator locked in the child.
	 */
	while (sem_wait(&up.started) < 0 && errno == EINTR)
		;
	up.running = true;
	atomic_store(&up.enabled, true);
}

/* After the event thread is gone: reads are plain reads again. */
static void event_closed(void)
{
	up.running = false;
	atomic_store(&up.enabled, false);
	close(up.stop_fd);
	up.stop_fd = -1;
	close(up.ev);
	up.ev = -1;
}

void fr_upgrade_stop(void)
{
	uint64_t one = 1;

	if (!up.running)
		return;
	if (!pthread_equal(pthread_self(), up.thread)) {
		if (write(up.stop_fd, &one, sizeof(one)) < 0)
			fr_log(LOG_WARNING, "upgrade: cannot stop the event thread");
		pthread_join(up.thread, NULL);
	} else {
		pthread_detach(up.thread);
	}
	event_closed();
}

/*
 * A new supervisor holds the connection (rehome.c): the old event socket
 * died with the old one, so the new one gets a fresh socket.
 */
/*
 * A forked child serves (rehome.c saw its first request): it asks its
 * supervisor for an event socket of its own, which replaces the one the
 * parent had, so that it can be drained for a live upgrade too.
 */
void fr_upgrade_forked(struct fr_session *s)
{
	if (!up.forked)
		return;
	up.forked = false;
	if (up.stop_fd >= 0)
		close(up.stop_fd);
	up.stop_fd = -1;
	if (up.ev >= 0)
		close(up.ev);
	up.ev = -1;
	fr_upgrade_start(s);
}

void fr_upgrade_rehomed(struct fr_session *s)
{
	if (up.running) {
		/* Its thread ends on the hang-up of the old socket. */
		pthread_join(up.thread, NULL);
		event_closed();
	}
	fr_upgrade_start(s);
}

/*
 * A server in a shell loop of its own asks to wait as a hot standby for
 * the serving one's crash; with nobody serving it serves at once.
 */
bool fr_hot_standby_wanted(void)
{
	const char *env = secure_getenv("FUSE_RECOVER_STANDBY");

	return env && strcmp(env, "1") == 0;
}

bool fr_upgrade_wanted(void)
{
	const char *env = secure_getenv("FUSE_RECOVER_UPGRADE");

	return env && strcmp(env, "1") == 0;
}

