// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Reader slots: how the supervisor learns, before the pidfd says so, that
 * no thread of a dying server can be inside a /dev/fuse read any more.
 *
 * Each thread that reads requests holds a robust, process-shared mutex in
 * a memfd the supervisor maps too.  do_exit() runs exit_mm() (which walks
 * the thread's robust list: the word gets FUTEX_OWNER_DIED and a waiter is
 * woken) long before exit_files() and the pidfd; a thread that got there
 * has left every system call for good.  A thread that stops reading on
 * purpose (libfuse's idle workers, the cancelled ones at loop end) unlocks
 * its slot in its destructor, so only a death leaves a slot owner-died.
 *
 * A thread that claims its slot late, after the supervisor found every
 * held slot left by a death, must not read either: the supervisor seals
 * every free slot (FRP_READER_SEALED) before it hands the connection on
 * and then looks at the overflow word; such a thread fails every slot,
 * sets the overflow word and then looks for a seal (both sides store,
 * fence, load: one of them sees the other).
 *
 * The area is MADV_DONTFORK: a forked child neither has it nor claims
 * slots (its process is another one; its death must not count).
 */
#include "fuse_recover_i.h"
#include "proto.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <unistd.h>

static char *area;
static int area_fd = -1;
static pthread_key_t slot_key;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool key_ok;
/* The calling thread's slot, or NULL: one branch per request. */
static __thread pthread_mutex_t *tls_slot;
static __thread bool tls_unslotted;	/* found every slot taken */

static void leave(void *data)
{
	pthread_mutex_t *m = data;

	if (m && m == tls_slot)
		pthread_mutex_unlock(m);
	tls_slot = NULL;
}

/* Only the forking thread lives on in the child, without the area. */
static void forked_child(void)
{
	tls_slot = NULL;
	tls_unslotted = false;
	area = NULL;
	if (area_fd >= 0)
		close(area_fd);
	area_fd = -1;
	if (key_ok)
		pthread_setspecific(slot_key, NULL);
}

static void setup_once(void)
{
	key_ok = pthread_key_create(&slot_key, leave) == 0;
	pthread_atfork(NULL, NULL, forked_child);
}

int fr_readers_fd(void)
{
	pthread_mutexattr_t a;
	unsigned int i;
	void *p;
	int fd;

	pthread_once(&once, setup_once);
	if (!key_ok)
		return -ENOMEM;
	if (area_fd >= 0)
		return area_fd;
	fd = memfd_create("fuse-recover-readers", MFD_CLOEXEC |
			  MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	/* Sealed so that the supervisor's mapping cannot lose its pages. */
	if (ftruncate(fd, FRP_READERS_SIZE) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
		  F_SEAL_SEAL) < 0)
		goto fail;
	p = mmap(NULL, FRP_READERS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		 fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	madvise(p, FRP_READERS_SIZE, MADV_DONTFORK);
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	for (i = 1; i < FRP_READER_SLOTS; i++)
		pthread_mutex_init((pthread_mutex_t *)((char *)p +
					i * FRP_READER_SLOT), &a);
	pthread_mutexattr_destroy(&a);
	__atomic_store_n(&area, p, __ATOMIC_RELEASE);
	area_fd = fd;
	return fd;
fail:
	i = -errno;
	close(fd);
	return (int)i;
}

static void claimed(uint32_t *hdr)
{
	__atomic_add_fetch(&hdr[0], 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, &hdr[0], FUTEX_WAKE, 1, NULL, NULL, 0);
}

/* Whether the supervisor sealed a slot: it gave our connection away. */
static bool sealed(const char *a)
{
	unsigned int i;

	for (i = 1; i < FRP_READER_SLOTS; i++)
		if (__atomic_load_n((const uint32_t *)(a + i * FRP_READER_SLOT),
				    __ATOMIC_SEQ_CST) == FRP_READER_SEALED)
			return true;
	return false;
}

/*
 * The supervisor declared this process dead (its SIGKILL is on the way)
 * and gave the connection to another server: reading now could take a
 * request that nobody answers.  Nor may the loop end (the server would
 * unmount the mount the other server serves).
 */
static void __attribute__((noreturn)) never_read(void)
{
	fr_log(LOG_ERR, "the supervisor handed the connection on: not reading");
	for (;;)
		pause();
}

void fr_readers_enter_slow(void)
{
	char *a = __atomic_load_n(&area, __ATOMIC_ACQUIRE);
	unsigned int i;
	int old;

	if (!a || tls_slot || tls_unslotted)
		return;
	/* libfuse cancels idle workers here; never hold half a slot. */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	for (i = 1; i < FRP_READER_SLOTS; i++) {
		pthread_mutex_t *m = (pthread_mutex_t *)(a +
						i * FRP_READER_SLOT);
		int err = pthread_mutex_trylock(m);

		/* A thread of ours that left without unlocking. */
		if (err == EOWNERDEAD)
			err = pthread_mutex_consistent(m);
		if (err == EBUSY && __atomic_load_n((uint32_t *)m,
				__ATOMIC_ACQUIRE) == FRP_READER_SEALED)
			never_read();
		if (err)
			continue;
		if (pthread_setspecific(slot_key, m)) {
			pthread_mutex_unlock(m);
			break;
		}
		tls_slot = m;
		claimed((uint32_t *)a);
		pthread_setcancelstate(old, NULL);
		return;
	}
	/* An unregistered reader: the supervisor must wait for the pidfd. */
	tls_unslotted = true;
	__atomic_store_n(&((uint32_t *)a)[1], 1, __ATOMIC_SEQ_CST);
	if (sealed(a))
		never_read();
	claimed((uint32_t *)a);
	fr_log(LOG_WARNING,
	       "more than %u reader threads: a death is seen at exit only",
	       FRP_READER_SLOTS - 1);
	pthread_setcancelstate(old, NULL);
}

void fr_readers_enter(void)
{
	if (__builtin_expect(!tls_slot && !tls_unslotted, 0))
		fr_readers_enter_slow();
}

/* The calling thread holds a slot from now on, reader or not. */
void fr_readers_claim(void)
{
	fr_readers_enter_slow();
}

/* The calling thread reads no more (its session ends). */
void fr_readers_leave(void)
{
	pthread_mutex_t *m = tls_slot;

	if (!m)
		return;
	pthread_setspecific(slot_key, NULL);
	leave(m);
}
