// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Backing files of kernel passthrough: FUSE_DEV_IOC_BACKING_OPEN/CLOSE on
 * the connection's fd.  The state store (state.c) decides when; this file
 * only talks to the kernel, so that both state.c and passthrough.c can
 * stand on it.
 */
#include "fuse_recover_i.h"

#include <errno.h>
#include <sys/ioctl.h>

/* Not in Debian's <linux/fuse.h> (6.1 headers). */
struct fr_backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};

#define FR_DEV_IOC_BACKING_OPEN _IOW(229, 1, struct fr_backing_map)
#define FR_DEV_IOC_BACKING_CLOSE _IOW(229, 2, uint32_t)

int fr_backing_open(int fd)
{
	struct fr_backing_map map = { .fd = fd };
	struct fr_session *s = fr_current;
	int id;

	if (!s || s->main_fd < 0)
		return -ENOTCONN;
	id = ioctl(s->main_fd, FR_DEV_IOC_BACKING_OPEN, &map);
	return id < 0 ? -errno : id;
}

int fr_backing_close(int32_t id)
{
	struct fr_session *s = fr_current;
	uint32_t v = id;

	if (!s || s->main_fd < 0)
		return -ENOTCONN;
	return ioctl(s->main_fd, FR_DEV_IOC_BACKING_CLOSE, &v) < 0 ? -errno : 0;
}
