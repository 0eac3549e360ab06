// SPDX-License-Identifier: GPL-2.0
/*
 * attach-permission: FUSE_DEV_IOC_ATTACH is refused to a uid other than the
 * mount's user_id, allowed to that uid and to root, fails with ENOENT for
 * an unknown tag or from another user namespace (tags are per user
 * namespace), EINVAL for an empty tag (the probe) and EBUSY on an fd that
 * is already bound.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ftest.h"

#define MNT "/mnt/perm"
#define TAG "perm-test"
#define OWNER 1000
#define STRANGER 1001

static int attach_fd(int fd, const char *tag)
{
	struct fuse_attach_in in;

	memset(&in, 0, sizeof(in));
	strncpy(in.tag, tag, FUSE_TAG_MAX);
	return ioctl(fd, FUSE_DEV_IOC_ATTACH, &in) ? -errno : 0;
}

/*
 * Attach as @uid from a child, in a new user namespace if @userns; returns
 * 0 or -errno.
 */
static int attach_in(uid_t uid, int userns, const char *tag)
{
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	int status;
	pid_t pid;

	if (fd < 0)
		return -errno;
	pid = fork();
	if (pid == 0) {
		int err;

		if (userns && unshare(CLONE_NEWUSER))
			_exit(255);
		if (!userns && (setgroups(0, NULL) || setresgid(uid, uid, uid) ||
				setresuid(uid, uid, uid)))
			_exit(255);
		err = attach_fd(fd, tag);
		_exit(-err);
	}
	close(fd);
	status = ft_wait_ms(pid, 10000);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) == 255)
		return -EFAULT;
	return -WEXITSTATUS(status);
}

static int attach_as(uid_t uid, const char *tag)
{
	return attach_in(uid, 0, tag);
}

static int expect(const char *what, int got, int want)
{
	if (got == want) {
		ft_log("%s: %s (ok)", what, got ? strerror(-got) : "attached");
		return 0;
	}
	ft_log("%s: got %s, wanted %s", what,
	       got ? strerror(-got) : "success",
	       want ? strerror(-want) : "success");
	return 1;
}

int main(void)
{
	struct fuse_attach_in probe;
	int fd, err, bad = 0;
	pid_t server;

	ft_name = "attach-permission";
	ft_deadline(60);
	if (ft_mkdir(MNT))
		return FT_FAIL;

	/* the probe a library uses: empty tag on a fresh fd */
	fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	memset(&probe, 0, sizeof(probe));
	err = ioctl(fd, FUSE_DEV_IOC_ATTACH, &probe) ? -errno : 0;
	close(fd);
	bad |= expect("probe (empty tag)", err, -EINVAL);

	/* mount owned by uid 1000, served by a root server process */
	fd = ft_mount(MNT, TAG, OWNER, NULL);
	if (fd < 0) {
		ft_log("mount: %s", strerror(-fd));
		return FT_FAIL;
	}
	server = fork();
	if (server == 0) {
		struct ft_server srv = {
			.fd = fd, .want = FUSE_HAS_RECOVERY,
			.notify_fd = -1, .content = "x\n",
		};
		ft_serve(&srv);
		_exit(0);
	}
	close(fd);

	bad |= expect("unknown tag", attach_as(0, "no-such-tag"), -ENOENT);
	bad |= expect("other uid", attach_as(STRANGER, TAG), -EPERM);
	bad |= expect("owner uid", attach_as(OWNER, TAG), 0);
	bad |= expect("root", attach_as(0, TAG), 0);
	bad |= expect("root in a new user namespace", attach_in(0, 1, TAG),
		      -ENOENT);

	fd = ft_attach(TAG);
	if (fd >= 0) {
		bad |= expect("already attached", attach_fd(fd, TAG), -EBUSY);
		close(fd);
	} else {
		bad |= expect("attach for EBUSY check", fd, 0);
	}

	ft_kill(server);
	umount2(MNT, MNT_DETACH);
	return bad ? FT_FAIL : FT_PASS;
}
