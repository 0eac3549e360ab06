// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Test-only: sits between libfuse and libfuse-recover's io hooks of the
 * program it is linked into, and aborts the server when a
 * FUSE_NOTIFY_REPLY reaches libfuse.  The servers it guards never ask
 * for a retrieve, so any such request is a drain's kick that the read hook
 * failed to swallow (libfuse would drop it silently, hiding the leak).
 *
 * It works by defining fuse_session_custom_io(): the program's definition
 * comes first in the lookup scope, so libfuse-recover's call lands here;
 * the real one is found with RTLD_NEXT.  (With libfuse 3.17 or later the
 * library installs its io through fuse_session_custom_io_317() and this
 * guard is not in the way: the tests then check less, never fail.)
 */
#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>

#include <dlfcn.h>
#include <errno.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static ssize_t (*real_read)(int fd, void *buf, size_t len, void *userdata);

static ssize_t guard_read(int fd, void *buf, size_t len, void *userdata)
{
	const struct fuse_in_header *in = buf;
	ssize_t n = real_read(fd, buf, len, userdata);

	if (n >= (ssize_t)sizeof(*in) && in->opcode == FUSE_NOTIFY_REPLY) {
		fprintf(stderr,
			"kick-guard: pid %d: FUSE_NOTIFY_REPLY unique %#llx nodeid %llu reached libfuse\n",
			(int)getpid(), (unsigned long long)in->unique,
			(unsigned long long)in->nodeid);
		abort();
	}
	return n;
}

int fuse_session_custom_io(struct fuse_session *se,
			   const struct fuse_custom_io *io, int fd)
{
	int (*next)(struct fuse_session *, const struct fuse_custom_io *,
		    int);
	struct fuse_custom_io mine = *io;

	*(void **)&next = dlsym(RTLD_NEXT, "fuse_session_custom_io");
	if (!next) {
		fprintf(stderr, "kick-guard: no fuse_session_custom_io\n");
		abort();
	}
	if (io->read) {
		real_read = io->read;
		mine.read = guard_read;
	}
	/* libfuse keeps a copy of the struct. */
	return next(se, &mine, fd);
}
