/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Helpers every file of lib/ uses: logging, byte blobs, hashing, clocks.
 * Nothing here calls into any other file of the library, so any file may
 * include it without making a cycle.
 */
#ifndef FR_UTIL_H_
#define FR_UTIL_H_

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/*
 * Logging.  The library's (util.c) goes through fuse_log(); fuse-recoverd
 * links its own (supervisor/util.c), which is why code shared with it
 * (proto.c, runtime.c, mount.c) may log too.
 */
void fr_log(int level, const char *fmt, ...)
	__attribute__((cold, format(printf, 2, 3)));

/*
 * Where a request's code goes.  Between two requests the kernel's work
 * evicts the server's caches and TLB entries, so what a request costs in
 * the library is mostly the code lines and pages it touches, not the
 * instructions it runs (perf: the samples of the io hooks sit on the
 * first instructions of functions and after returns from read/writev).
 * The functions every request runs are kept together (.text.hot); those
 * only the rare cases run (re-resolution, answers of our own, logging)
 * are moved out of their way (.text.unlikely), and so are the branches
 * that call them.
 */
#define FR_HOT __attribute__((hot))
#define FR_COLD __attribute__((cold))
/*
 * Branch hints on the request path: each cache line of code a request
 * runs costs it about what 10 instructions do (README, section 5), so
 * the common case is laid out in as few lines as the compiler can.
 */
#define fr_likely(c) __builtin_expect(!!(c), 1)
#define fr_unlikely(c) __builtin_expect(!!(c), 0)

/* A malloc'ed copy of some bytes (a FUSE_INIT request or reply). */
struct fr_blob {
	void *data;
	size_t len;
};

/* Replaces @b's bytes with a copy of @data: 0 or -ENOMEM (@b unchanged). */
int fr_blob_dup(struct fr_blob *b, const void *data, size_t len);
void fr_blob_free(struct fr_blob *b);

/*
 * 64-bit FNV-1a, continued from @h (FR_HASH_INIT to start): checksums of
 * the state store, of saved INIT records, and the id map's name hash.  Not
 * a defence against anyone, only against torn or stale bytes.
 */
#define FR_HASH_INIT 0xcbf29ce484222325ULL

static inline uint64_t fr_hash(uint64_t h, const void *p, size_t len)
{
	const unsigned char *c = p;

	while (len--)
		h = (h ^ *c++) * 0x100000001b3ULL;
	return h;
}

/* @clock's time in ns, and CLOCK_MONOTONIC's in ms. */
static inline uint64_t fr_clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static inline double fr_now_ms(void)
{
	return fr_clock_ns(CLOCK_MONOTONIC) / 1e6;
}

#endif
