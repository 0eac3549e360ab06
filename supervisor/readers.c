// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A server's reader slots (lib/readers.c): a thread here sleeps on every
 * held slot at once (futex_waitv) and raises an eventfd when none is held
 * any more and at least one was left by a death.  Such a server has no
 * thread inside a /dev/fuse read, and never will have again: the
 * connection can go to the next server before the dying process has torn
 * down its memory and closed its files (which may wait for that next
 * server: a FLUSH of a file it had open on its own mount).
 *
 * The words are the server's to write: they are data here.  Garbage in
 * them at worst hides a death (the pidfd still tells) or makes this
 * thread go round again.
 */
#include "recoverd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif
#ifndef FUTEX_32
#define FUTEX_32 2
#endif
#ifndef FUTEX_PRIVATE_FLAG
#define FUTEX_PRIVATE_FLAG 128
#endif

struct fr_waitv {	/* struct futex_waitv (Linux 5.16) */
	uint64_t val;
	uint64_t uaddr;
	uint32_t flags;
	uint32_t reserved;
};

struct readers {
	uint32_t *words;	/* the shared area */
	int evfd;
	pid_t pid;		/* the process that sent it */
	uint32_t stop;		/* ours: set and woken to end the thread */
	bool gone;		/* readers_all_gone() said so */
	bool left;		/* threads_left() said so (for good) */
	pthread_t thread;
	/*
	 * The thread last seen holding each slot (the kernel clears the
	 * owner's tid when it marks a slot owner-died): one whose slot then
	 * died is past its robust list, in exit_mm(), out of every syscall.
	 * Written by the watcher only, before it raises the eventfd.
	 */
	pid_t tid[FRP_READER_SLOTS];
};

static uint32_t *slot_word(const struct readers *r, unsigned int i)
{
	return r->words + i * (FRP_READER_SLOT / sizeof(uint32_t));
}

/*
 * Counts the held slots, marking each as waited on, into @w (and with
 * @track, notes their owners).  Returns the number of entries of @w, or -1
 * when the server has no reader left and at least one died.
 */
static int scan(struct readers *r, struct fr_waitv *w, bool track)
{
	unsigned int i, died = 0;
	int n = 0;

	for (i = 1; i < FRP_READER_SLOTS; i++) {
		uint32_t *p = slot_word(r, i);
		uint32_t v = __atomic_load_n(p, __ATOMIC_ACQUIRE);
		int tries = 0;
again:
		if (v == FRP_READER_SEALED)
			continue;
		if (v & FUTEX_OWNER_DIED) {
			died++;
			rd_mark(RDM_DIED);
			continue;
		}
		if (track)
			__atomic_store_n(&r->tid[i], v & FUTEX_TID_MASK,
					 __ATOMIC_RELAXED);
		if (!v)
			continue;
		/* Asks the kernel (or the unlock) to wake us. */
		if (!(v & FUTEX_WAITERS) &&
		    !__atomic_compare_exchange_n(p, &v, v | FUTEX_WAITERS,
						 false, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE) &&
		    ++tries < 8)
			goto again;	/* it changed: v is the new value */
		/* Still changing: the wait fails at once and we come back. */
		w[n++] = (struct fr_waitv){ .val = v | FUTEX_WAITERS,
					    .uaddr = (uintptr_t)p,
					    .flags = FUTEX_32 };
	}
	return !n && died && !__atomic_load_n(&r->words[1], __ATOMIC_ACQUIRE) ?
		       -1 : n;
}

/* Whether @tid held a slot that a death left (see struct readers). */
static bool died_in_slot(const struct readers *r, pid_t tid)
{
	unsigned int i;

	for (i = 1; i < FRP_READER_SLOTS; i++)
		if (__atomic_load_n(&r->tid[i], __ATOMIC_RELAXED) == tid &&
		    (__atomic_load_n(slot_word(r, i), __ATOMIC_ACQUIRE) &
		     FUTEX_OWNER_DIED))
			return true;
	return false;
}

#define FR_PF_EXITING 0x00000004	/* the kernel's PF_EXITING */

/*
 * The flags (field 9) and vsize (field 23) of /proc/@pid/stat, or of
 * its thread @tid's with @tid; 0 or -errno.
 */
static int task_stat(pid_t pid, const char *tid, unsigned long *flags,
		     unsigned long long *vsize)
{
	char path[64], buf[512];
	ssize_t n;
	char *p;
	int fd;

	if (tid)
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/stat",
			 (int)pid, tid);
	else
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	/* The 7th and 21st fields after the comm's closing parenthesis. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %lu %*u %*u %*u "
			 "%*u %*u %*u %*d %*d %*d %*d %*d %*d %*u %llu",
			 flags, vsize) != 2)
		return -EPROTO;
	return 0;
}

/*
 * Whether every thread of the server is past its robust list or its
 * memory (exit_mm(); vsize 0 in its stat), and so in no syscall any more.
 * The slots cover the threads that read requests and the library's own;
 * a thread the server runs itself (a pool writing to the backing store)
 * holds none, and its write must not land after the successor served: it
 * is looked at in /proc.  A slot's death counts only while the process
 * exits (its leader is PF_EXITING): execve() walks the robust list too,
 * and a process that exec'ed lives on.  A dying process starts no
 * threads.  False when /proc cannot tell.
 */
static bool threads_left(struct readers *r)
{
	unsigned long long vsize;
	unsigned long flags = 0;
	char path[32];
	struct dirent *e;
	bool left = true, dying;
	DIR *d;

	if (__atomic_load_n(&r->left, __ATOMIC_ACQUIRE))
		return true;
	if (task_stat(r->pid, NULL, &flags, &vsize) == -ENOENT)
		return true;	/* reaped already */
	dying = flags & FR_PF_EXITING;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)r->pid);
	d = opendir(path);
	if (!d)
		return errno == ENOENT;
	while (left && (e = readdir(d))) {
		int err;

		if (e->d_name[0] == '.' ||
		    (dying && died_in_slot(r, atoi(e->d_name))))
			continue;
		err = task_stat(r->pid, e->d_name, &flags, &vsize);
		/* A thread gone is no thread left. */
		left = err ? err == -ENOENT : vsize == 0;
	}
	closedir(d);
	if (left)
		__atomic_store_n(&r->left, true, __ATOMIC_RELEASE);
	return left;
}

/*
 * Every held slot was left by a death: waits (sleeping 20 us, doubling
 * to 10 ms) until the process's threads that hold none left their memory
 * too.  Never spins: on a small machine the dying threads need the CPU
 * this thread would take, and the last death's wake-up would often put
 * us on the CPU of the thread that woke us, ahead of it.
 */
static bool wait_threads_left(struct readers *r)
{
	struct timespec ts = { .tv_nsec = 20000 };

	while (!threads_left(r)) {
		if (__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE))
			return false;
		nanosleep(&ts, NULL);
		if (ts.tv_nsec < 10000000)
			ts.tv_nsec *= 2;
	}
	return true;
}

static void *watch(void *arg)
{
	struct readers *r = arg;
	struct fr_waitv w[FRP_READER_SLOTS + 1];
	bool told = false;

	/* Its short sleeps (wait_threads_left()) end when they should. */
	prctl(PR_SET_TIMERSLACK, 1000UL);

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		/* The header's word first: read before the slots. */
		uint32_t gen = __atomic_load_n(&r->words[0], __ATOMIC_ACQUIRE);
		int n;

		w[0] = (struct fr_waitv){ .uaddr = (uintptr_t)&r->stop,
					  .flags = FUTEX_32 |
						   FUTEX_PRIVATE_FLAG };
		w[1] = (struct fr_waitv){ .val = gen,
					  .uaddr = (uintptr_t)&r->words[0],
					  .flags = FUTEX_32 };
		n = scan(r, w + 2, true);
		if (n < 0) {
			uint64_t one = 1;

			rd_mark(RDM_ALL_DIED);
			if (!told && !wait_threads_left(r))
				break;
			rd_mark(RDM_LEFT);
			if (!told && write(r->evfd, &one, sizeof(one)) < 0)
				break;
			rd_mark(RDM_EVFD);
			told = true;
			n = 0;
		} else if (n) {
			told = false;	/* a reader again (see seal()) */
		}
		if (syscall(SYS_futex_waitv, w, n + 2, 0, NULL, 0) < 0 &&
		    errno != EAGAIN && errno != EINTR)
			break;	/* no futex_waitv: the pidfd it is */
	}
	return NULL;
}

/* Watchers told to stop and not joined yet (readers_retire()). */
static struct readers *retired[MAX_CLIENTS + 1];

static void tell_stop(struct readers *r)
{
	__atomic_store_n(&r->stop, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, &r->stop, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void release(struct readers *r)
{
	pthread_join(r->thread, NULL);
	munmap(r->words, FRP_READERS_SIZE);
	close(r->evfd);
	free(r);
}

void readers_stop(struct client *c)
{
	if (!c->readers)
		return;
	tell_stop(c->readers);
	release(c->readers);
	c->readers = NULL;
}

/*
 * Like readers_stop(), but later, in readers_reap(): a dead server is
 * dropped on the way to GO, and waking its watcher and waiting for it
 * there would cost the takeover a thread on the CPU and a context switch.
 */
void readers_retire(struct client *c)
{
	unsigned int i;

	if (!c->readers)
		return;
	for (i = 0; i < MAX_CLIENTS + 1 && retired[i]; i++)
		;
	if (i < MAX_CLIENTS + 1) {
		retired[i] = c->readers;
		c->readers = NULL;
	} else {
		readers_stop(c);
	}
}

/* Stops, joins and frees the watchers readers_retire() set aside. */
void readers_reap(void)
{
	unsigned int i;

	for (i = 0; i < MAX_CLIENTS + 1; i++)
		if (retired[i]) {
			tell_stop(retired[i]);
			release(retired[i]);
			retired[i] = NULL;
		}
}

/* The sealed memfd @fd from the server at @c; 0 or -errno. */
int readers_watch(struct client *c, int fd)
{
	const int seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
	struct readers *r;
	struct stat st;
	void *p;
	int err;

	/* Unsealed, it could shrink under us: SIGBUS in the supervisor. */
	if ((fcntl(fd, F_GET_SEALS) & seals) != seals ||
	    fstat(fd, &st) < 0 || st.st_size != FRP_READERS_SIZE)
		return -EINVAL;
	readers_stop(c);
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	p = mmap(NULL, FRP_READERS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		 fd, 0);
	if (p == MAP_FAILED) {
		free(r);
		return -errno;
	}
	r->words = p;
	r->pid = c->pid;
	r->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	err = r->evfd < 0 ? -errno : -pthread_create(&r->thread, NULL,
						     watch, r);
	if (err) {
		if (r->evfd >= 0)
			close(r->evfd);
		munmap(p, FRP_READERS_SIZE);
		free(r);
		return err;
	}
	c->readers = r;
	return 0;
}

/* The eventfd to poll for @c, or -1. */
int readers_evfd(const struct client *c)
{
	return c->readers && c->readers->pid == c->pid ? c->readers->evfd :
							 -1;
}

/*
 * Seals every slot not held by a live thread, so that no thread can claim
 * one and read after we looked (lib/readers.c); then no thread may have
 * found them all taken.  False when a thread claimed one meanwhile.
 */
static bool seal(struct readers *r)
{
	unsigned int i;

	for (i = 1; i < FRP_READER_SLOTS; i++) {
		uint32_t *p = slot_word(r, i);
		uint32_t v = __atomic_load_n(p, __ATOMIC_ACQUIRE);
		int tries = 0;

		while (v != FRP_READER_SEALED) {
			if ((v & FUTEX_TID_MASK) && !(v & FUTEX_OWNER_DIED))
				return false;
			if (__atomic_compare_exchange_n(p, &v,
							FRP_READER_SEALED, false,
							__ATOMIC_SEQ_CST,
							__ATOMIC_SEQ_CST))
				break;
			if (++tries == 8)
				return false;	/* not ours to fight over */
		}
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return !__atomic_load_n(&r->words[1], __ATOMIC_SEQ_CST);
}

/*
 * Whether the server at @c has no reader left, one at least by a death.
 * Then it is made sure to die: SIGKILL (a no-op for a dying process; a
 * live one whose readers all ended without unlocking could otherwise
 * start new ones on a connection already handed on).
 */
bool readers_all_gone(struct client *c)
{
	struct fr_waitv w[FRP_READER_SLOTS];
	bool sealed;
	uint64_t v;

	if (readers_evfd(c) < 0 || c->pidfd < 0)
		return false;
	if (c->readers->gone)
		return true;
	/*
	 * Looked at here too, not only when the watcher says so: a restarted
	 * server's HELLO can come before the watcher has run.
	 */
	if (read(c->readers->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return false;
	if (scan(c->readers, w, false) >= 0 || !threads_left(c->readers))
		return false;
	/*
	 * Killed even when a late reader makes us wait: it claimed its slot
	 * after all the others died, and dies with them (its death wakes
	 * the watcher again).
	 */
	sealed = seal(c->readers);
	c->readers->gone = syscall(SYS_pidfd_send_signal, c->pidfd, SIGKILL,
				   NULL, 0) == 0 && sealed;
	if (c->readers->gone)
		rd_mark(RDM_GONE);
	return c->readers->gone;
}

/* Whether readers_all_gone() said so for @c. */
bool readers_seen_gone(const struct client *c)
{
	return c->readers && c->readers->gone;
}

/*
 * For fuse-recover status: the slots of @c held by live threads and those
 * left by a death (-1 each when it sent none).  The server's words: data.
 */
void readers_counts(const struct client *c, int *live, int *dead)
{
	unsigned int i;

	*live = *dead = -1;
	if (readers_evfd(c) < 0)
		return;
	*live = *dead = 0;
	for (i = 1; i < FRP_READER_SLOTS; i++) {
		uint32_t v = __atomic_load_n(slot_word(c->readers, i),
					     __ATOMIC_ACQUIRE);

		if (v == FRP_READER_SEALED || !v)
			continue;
		if (v & FUTEX_OWNER_DIED)
			++*dead;
		else
			++*live;
	}
}
