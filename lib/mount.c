// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Mount table helpers.  The connection number (the fusectl directory name)
 * is read from /proc/self/mountinfo rather than by stat()ing the mount
 * point: that stat would be a request to ourselves before the loop runs.
 */
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *d = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] &&
		    s[3]) {
			*d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
				      (s[3] - '0'));
			s += 4;
		} else {
			*d++ = *s++;
		}
	}
	*d = 0;
}

int fr_mount_conn_id(const char *mountpoint, unsigned int *id)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int found = -ENOENT;

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		unsigned int major, minor;
		char mnt[4096], *sep;

		if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &major, &minor,
			   mnt) != 3)
			continue;
		sep = strstr(line, " - ");
		if (!sep || strncmp(sep + 3, "fuse", 4) != 0)
			continue;
		unescape(mnt);
		if (strcmp(mnt, mountpoint) == 0) {
			/* The last match is the mount on top. */
			*id = major << 20 | minor;
			found = 0;
		}
	}
	free(line);
	fclose(f);
	return found;
}

int fr_unmount(const char *mountpoint)
{
	pid_t pid;
	int status;

	if (geteuid() == 0) {
		if (umount2(mountpoint, MNT_DETACH) < 0 && errno != EINVAL &&
		    errno != ENOENT)
			return -errno;
		return 0;
	}
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execlp("fusermount3", "fusermount3", "-u", "-q", "-z", "--",
		       mountpoint, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

/*
 * Writes to connection @id's abort file in a fusectl of our own, mounted
 * nowhere (fsopen/fsmount): where /sys/fs/fuse/connections is not
 * mounted, the abort must still happen.  Needs CAP_SYS_ADMIN.
 */
static int abort_detached(unsigned int id)
{
	char path[32];
	int fs, mnt, fd, err = 0;

	fs = syscall(SYS_fsopen, "fusectl", FSOPEN_CLOEXEC);
	if (fs < 0)
		return -errno;
	mnt = syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) <
			      0 ? -1 :
		      syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0);
	if (mnt < 0)
		err = -errno;
	close(fs);
	if (err)
		return err;
	snprintf(path, sizeof(path), "%u/abort", id);
	fd = openat(mnt, path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "1", 1) < 0)
		err = -errno;
	if (fd >= 0)
		close(fd);
	close(mnt);
	return err;
}

int fr_abort_connection(unsigned int id)
{
	char path[64];
	int fd, err = 0;

	snprintf(path, sizeof(path), "/sys/fs/fuse/connections/%u/abort", id);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return abort_detached(id);
	if (write(fd, "1", 1) < 0)
		err = -errno;
	close(fd);
	return err;
}
