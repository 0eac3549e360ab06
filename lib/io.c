// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The custom io hooks every attached session runs on.  In normal running
 * they add one thread-local store per request to a plain read()/writev();
 * the INIT capture/replay modes only exist inside fuse_session_attach().
 *
 * No splice hooks on purpose: without them libfuse never splices, so every
 * request header passes through fr_io_read() where its unique is seen, and
 * the replayed INIT negotiates exactly what the first one did.
 */
#include "fuse_recover_i.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <linux/fuse.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <syslog.h>
#include <unistd.h>

struct fr_thread_fd {
	int fd;
	uint64_t id;
};

static ssize_t gather(struct fr_blob *b, const struct iovec *iov, int count)
{
	size_t len = 0, off = 0;
	int i;

	for (i = 0; i < count; i++)
		len += iov[i].iov_len;
	fr_blob_free(b);
	b->data = malloc(len ? len : 1);
	if (!b->data)
		return -1;
	for (i = 0; i < count; i++) {
		memcpy((char *)b->data + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	b->len = len;
	return len;
}

/*
 * A clone fd (clone_fd=1) is a fuse_dev of its own: if it closes with
 * requests on it, the kernel fails them.  The holder must hold a
 * reference before the first request is read through it.  In libfuse's
 * multi-threaded loop a clone fd belongs to one worker for that worker's
 * whole life, so "registered" is remembered per thread.
 */
static void register_clone(struct fr_session *s, int fd)
{
	struct fr_thread_fd *t = pthread_getspecific(s->fd_key);
	int old, err;

	if (t && t->fd == fd)
		return;
	if (!t) {
		t = calloc(1, sizeof(*t));
		if (!t)
			return;
		pthread_setspecific(s->fd_key, t);
	}
	t->fd = fd;
	if (!s->holder->add_clone)
		return;
	/* libfuse cancels idle workers; never leave a holder call half-done. */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	t->id = __atomic_add_fetch(&s->next_fd_id, 1, __ATOMIC_RELAXED);
	err = s->holder->add_clone(s, t->id, fd);
	pthread_setcancelstate(old, NULL);
	if (err)
		fr_log(LOG_ERR,
		       "supervisor did not take clone fd %d (%s): requests read through it are lost if the server dies",
		       fd, strerror(-err));
}

static void unregister_clone(void *data)
{
	struct fr_thread_fd *t = data;
	struct fr_session *s = fr_current;

	if (s && t->id && s->holder->del_clone)
		s->holder->del_clone(s, t->id);
	free(t);
}

/*
 * The kernel copies a request into the server's buffer after taking it off
 * the queue; if that copy faults while the server is being killed, the
 * request is failed with EIO instead of going back to the queue.  Faulting
 * the (reused) buffer in once per thread keeps the copy fault-free.
 */
static __thread void *tls_touched;

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23	/* Linux 5.14 */
#endif

/*
 * Populated a slice at a time, with a yield between slices: on this
 * project's 2-CPU VM one MiB takes 1-1.3 ms of kernel time that nothing
 * preempts there (PREEMPT_NONE), and new workers populate right after a
 * takeover, on the CPU where a reply just woke the application (traced:
 * README.md, Hot standby limits).  A yield lets that application, or
 * any thread queued behind us, run first; alone on the CPU it returns at
 * once.
 */
#define TOUCH_SLICE (64 * 1024)

static void touch_buffer(void *buf, size_t len)
{
	volatile char *p = buf;
	uintptr_t from = ((uintptr_t)buf + 4095) & ~(uintptr_t)4095;
	uintptr_t to = ((uintptr_t)buf + len) & ~(uintptr_t)4095;
	uintptr_t at;
	size_t off;

	if (tls_touched == buf)
		return;
	/*
	 * libfuse's buffer is about 1 MiB of fresh pages; madvise() fills
	 * a slice's page tables in one call, about half of what a fault per
	 * page costs.  The pages at the unaligned ends are touched by hand.
	 */
	for (at = from; at < to; at += TOUCH_SLICE) {
		size_t n = to - at < TOUCH_SLICE ? to - at : TOUCH_SLICE;

		if (madvise((void *)at, n, MADV_POPULATE_WRITE) < 0)
			break;
		if (at + n < to)
			sched_yield();
	}
	if (at >= to) {
		p[0] = 0;
		p[len - 1] = 0;
		tls_touched = buf;
		return;
	}
	for (off = 0; off < len; off += 4096)
		p[off] = 0;
	p[len - 1] = 0;
	tls_touched = buf;
}

/*
 * A standby (lib/standby.c) has time before GO that the first reply after
 * its takeover does not: a buffer of the read size, faulted in then, takes
 * the first read of each new thread while its own buffer is still fresh
 * pages (faulting those in costs ~0.3 ms here).  The request is copied
 * over in user space, where a fault is harmless, and the thread's own
 * buffer is touched before its next read.  Never freed: one per process.
 */
static struct {
	void *buf;		/* free to take, or NULL */
	size_t len;
} spare;
static __thread void *tls_bounced;

void fr_io_prefault(struct fr_session *s)
{
	void *b;

	if (!s->read_len || spare.len)
		return;
	b = mmap(NULL, s->read_len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (b == MAP_FAILED)
		return;
	spare.len = s->read_len;
	__atomic_store_n(&spare.buf, b, __ATOMIC_RELEASE);
}

static FR_HOT ssize_t read_request(int fd, void *buf, size_t len)
{
	void *b = NULL;
	ssize_t n;

	if (tls_touched != buf && tls_bounced != buf && spare.len >= len)
		b = __atomic_exchange_n(&spare.buf, NULL, __ATOMIC_ACQ_REL);
	if (!b) {
		touch_buffer(buf, len);
		return fr_upgrade_read(fd, buf, len);
	}
	n = fr_upgrade_read(fd, b, len);
	if (n > 0)
		memcpy(buf, b, n);
	tls_bounced = buf;
	__atomic_store_n(&spare.buf, b, __ATOMIC_RELEASE);
	return n;
}

/* A restart's first read: the saved INIT, for the server to answer. */
static FR_COLD __attribute__((noinline)) ssize_t replay_init(
	struct fr_session *s, void *buf, size_t len)
{
	if (s->init_in.len > len) {
		errno = EINVAL;
		return -1;
	}
	s->read_len = len;	/* for fr_io_prefault() */
	memcpy(buf, s->init_in.data, s->init_in.len);
	return s->init_in.len;
}

/*
 * Everything past the read that may reach a cancellation point runs with
 * cancellation off: libfuse cancels idle workers while they sit in this
 * hook, and a worker cancelled while it holds a translation lock (or
 * waits for a re-resolution) would stop every other one.
 *
 * A request the quick translation cannot pass, or a resent one, is
 * judged here.  Returns true when it was answered here (the hook reads
 * the next), false when it is for the server, *@got bytes long.
 */
static FR_COLD __attribute__((noinline)) bool judge_slow(
	struct fr_session *s, int fd, void *buf, size_t *got)
{
	struct fuse_in_header *in = buf;
	int done = 0, old;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	if (in->unique & FR_UNIQUE_RESEND)
		done = fr_poison_check(fd, in);
	if (!done && s->xlate && s->mode == FR_IO_NORMAL)
		done = fr_xlate_request(s, fd, buf, got);
	pthread_setcancelstate(old, NULL);
	return done;
}

/*
 * Laid out for the common request, one the quick translation passes (or
 * none needs); the rest is out of line (see fr_likely()).
 */
static FR_HOT ssize_t fr_io_read(int fd, void *buf, size_t len, void *userdata)
{
	struct fr_session *s = fr_current;
	struct fuse_in_header *in = buf;
	ssize_t n;
	size_t got;
	int done = 0;

	(void)userdata;
	if (fr_unlikely(s->mode == FR_IO_REPLAY))
		return replay_init(s, buf, len);
	if (fr_unlikely(fd != s->main_fd)) {
		if (fr_upgrade_gate()) {
			errno = EINTR;	/* retired: libfuse ends the loop */
			return -1;
		}
		register_clone(s, fd);
	}
	fr_readers_enter();
	/* A forked child (a daemon) serving its first request. */
	if (fr_unlikely(fr_rehome_lost | fr_kupgrade_lost)) {
		fr_rehome_resume();
		fr_kupgrade_resume();
	}
	for (;;) {
		n = read_request(fd, buf, len);
		if (fr_unlikely(n < (ssize_t)sizeof(*in)))
			return n;
		got = n;
		/* The rest is two stores and counters: no cancellation point. */
		if (fr_unlikely(in->unique & FR_UNIQUE_RESEND))
			done = -1;
		else if (s->xlate && s->mode == FR_IO_NORMAL)
			/* Translated in place, without one either (xlate.c). */
			done = fr_xlate_quick(s, buf, &got);
		if (fr_likely(!done) ||
		    (done < 0 && !judge_slow(s, fd, buf, &got)))
			break;
		done = 0;	/* answered here: the next one */
	}
	n = got;
	fr_resend_note(in->unique, in->pid);
	fr_killpriv_note(s, in, n);
	if (fr_likely(s->mode == FR_IO_NORMAL))
		fr_upgrade_note_read(in);
	if (s->uses_store && s->mode == FR_IO_NORMAL)
		fr_journal_request(in->unique);
	if (fr_unlikely(s->mode == FR_IO_CAPTURE) &&
	    in->opcode == FUSE_INIT && fr_blob_dup(&s->init_in, buf, n) < 0) {
		errno = ENOMEM;
		return -1;
	}
	return n;
}

/* INIT's reply: kept (first start) or swallowed (restart), patched. */
static FR_COLD __attribute__((noinline)) ssize_t init_reply(
	struct fr_session *s, int fd, struct iovec *iov, int count)
{
	struct iovec one;

	if (s->mode == FR_IO_REPLAY) {
		if (gather(&s->replay_out, iov, count) < 0)
			return -1;
		fr_init_patch_reply(&s->replay_out, &s->init_in,
				    s->init_add_flags);
		fr_passthrough_patch_init(s, &s->replay_out);
		return s->replay_out.len;
	}
	if (gather(&s->init_out, iov, count) < 0)
		return -1;
	fr_init_patch_reply(&s->init_out, &s->init_in, s->init_add_flags);
	if (!fr_passthrough_patch_init(s, &s->init_out) && !s->init_add_flags)
		return writev(fd, iov, count);
	one.iov_base = s->init_out.data;
	one.iov_len = s->init_out.len;
	return writev(fd, &one, 1);
}

static FR_HOT ssize_t fr_io_writev(int fd, struct iovec *iov, int count,
			    void *userdata)
{
	struct fr_session *s = fr_current;
	const struct fuse_out_header *h = iov[0].iov_base;

	(void)userdata;
	if (fr_unlikely(s->mode != FR_IO_NORMAL))
		return init_reply(s, fd, iov, count);
	if (fr_unlikely(count < 1 || iov[0].iov_len < sizeof(*h)))
		return writev(fd, iov, count);
	if (fr_unlikely(h->unique & FR_UNIQUE_RESEND))
		fr_poison_answered(h->unique);
	if (fr_unlikely(fr_pt_pending))
		fr_passthrough_reply(iov, count);
	fr_upgrade_note_reply(iov, count, !s->xlate);
	if (s->xlate)
		return fr_xlate_reply(s, fd, iov, count);
	if (s->uses_store) {
		/* The record outlives the reply's way to the kernel. */
		uint64_t unique = h->unique;
		ssize_t n = writev(fd, iov, count);

		fr_journal_reply(unique);
		return n;
	}
	return writev(fd, iov, count);
}

static const struct fuse_custom_io fr_io = {
	.read = fr_io_read,
	.writev = fr_io_writev,
};

/*
 * libfuse 3.17 and later drop clone_fd under custom io unless the io can
 * clone the device itself; their struct has the hook after the splice ones,
 * and only fuse_session_custom_io_317() reads it.  Built against 3.14 we
 * cannot name either, so the newer entry point is looked up at run time.
 */
struct fr_custom_io_317 {
	ssize_t (*writev)(int fd, struct iovec *iov, int count, void *userdata);
	ssize_t (*read)(int fd, void *buf, size_t len, void *userdata);
	void *splice_receive, *splice_send;
	int (*clone_fd)(int master_fd);
};

static int fr_io_clone_fd(int master_fd)
{
	uint32_t master = master_fd;
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (ioctl(fd, FUSE_DEV_IOC_CLONE, &master) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static const struct fr_custom_io_317 fr_io_317 = {
	.read = fr_io_read,
	.writev = fr_io_writev,
	.clone_fd = fr_io_clone_fd,
};

int fr_io_install(struct fuse_session *se, int fd)
{
	int (*io317)(struct fuse_session *, const void *, size_t, int);

	*(void **)&io317 = dlsym(RTLD_DEFAULT, "fuse_session_custom_io_317");
	if (io317)
		return io317(se, &fr_io_317, sizeof(fr_io_317), fd);
	return fuse_session_custom_io(se, &fr_io, fd);
}

int fr_io_init(struct fr_session *s)
{
	return -pthread_key_create(&s->fd_key, unregister_clone);
}

void fr_io_fini(struct fr_session *s)
{
	struct fr_thread_fd *t = pthread_getspecific(s->fd_key);

	fr_readers_leave();
	pthread_setspecific(s->fd_key, NULL);
	free(t);
	pthread_key_delete(s->fd_key);
}
