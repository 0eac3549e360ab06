// SPDX-License-Identifier: GPL-2.0
/*
 * attach-permission: who may FUSE_DEV_IOC_ATTACH, and when.
 *
 * Only the mounter may attach: same effective uid, with CAP_SYS_ADMIN in
 * the connection's user namespace.  The mount's user_id= user, a uid 0
 * without capabilities and a capable process with another uid are refused
 * with EPERM.  Even the mounter gets EBUSY while a server is attached, and
 * of several attaches racing for a serverless connection exactly one wins.
 * The connection is named by an fd of its mount: the probe (fd -1) gives
 * EBADF, an fd of a non-fuse file system EINVAL, a tag other than the
 * mount's ENOENT, root of a new user namespace holding an fd of the mount
 * EPERM, and a second attach on a bound fd EBUSY.
 *
 * Against the v1 series (user_id= or CAP_SYS_ADMIN, no state check) the
 * user_id=, capability-less uid 0, capable other uid, live server and race
 * cases all attach, and against v2 (attach by tag string) the argument has
 * another size (ENOTTY), so this test fails there.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

#include "ftest.h"

#define MNT "/mnt/perm"
#define TAG "perm-test"
#define MNT0 "/mnt/perm0"
#define TAG0 "perm-test-0"
#define OWNER 1000
#define STRANGER 1001
#define RACERS 4

/* How the child that attempts the attach is set up */
enum who {
	AS_ROOT,	/* uid 0, all capabilities: the mounter */
	AS_UID,		/* setresuid(uid): no capabilities left */
	AS_UID_CAPS,	/* setresuid(uid) keeping every capability */
	AS_NOCAPS_ROOT,	/* uid 0 with every capability dropped */
	AS_USERNS,	/* root of a new user namespace */
};

static int attach_fd(int fd, int mnt_fd, const char *tag)
{
	struct fuse_attach_in in;

	memset(&in, 0, sizeof(in));
	in.fd = mnt_fd;
	strncpy(in.tag, tag, FUSE_TAG_MAX);
	return ioctl(fd, FUSE_DEV_IOC_ATTACH, &in) ? -errno : 0;
}

static int set_caps(int keep)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return -1;
	data[0].effective = keep ? data[0].permitted : 0;
	data[1].effective = keep ? data[1].permitted : 0;
	if (!keep) {
		data[0].permitted = data[1].permitted = 0;
		data[0].inheritable = data[1].inheritable = 0;
	}
	return syscall(SYS_capset, &hdr, data) ? -1 : 0;
}

static int become(enum who who, uid_t uid)
{
	switch (who) {
	case AS_ROOT:
		return 0;
	case AS_USERNS:
		return unshare(CLONE_NEWUSER);
	case AS_NOCAPS_ROOT:
		return set_caps(0);
	case AS_UID_CAPS:
		if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0))
			return -1;
		/* fall through */
	case AS_UID:
		if (setgroups(0, NULL) || setresgid(uid, uid, uid) ||
		    setresuid(uid, uid, uid))
			return -1;
		return who == AS_UID_CAPS ? set_caps(1) : 0;
	}
	return -1;
}

/*
 * Attach from a child set up as @who, handed an fd of @mnt (as a
 * supervisor would hand it over); returns 0 or -errno.
 */
static int attach_as(enum who who, uid_t uid, const char *mnt,
		     const char *tag)
{
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	int mfd = ft_open_mount(mnt);
	int status;
	pid_t pid;

	if (fd < 0 || mfd < 0) {
		ft_log("attach_as: %s", strerror(fd < 0 ? errno : -mfd));
		return -EFAULT;
	}
	pid = fork();
	if (pid == 0) {
		if (become(who, uid))
			_exit(255);
		/* the fd closes when the child exits: the attach is undone */
		_exit(-attach_fd(fd, mfd, tag));
	}
	close(fd);
	close(mfd);
	status = ft_wait_ms(pid, 10000);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) == 255) {
		ft_log("attach child could not be set up");
		return -EFAULT;
	}
	return -WEXITSTATUS(status);
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

/*
 * RACERS children open /dev/fuse, wait at a common barrier, attach at once
 * and report; each keeps its fd (so a winner stays attached) until all have
 * reported.  Returns how many attached, or -1.
 */
static int race_attach(const char *mnt, const char *tag)
{
	int go[2], res[2], hold[2], i, won = 0, busy = 0, other = 0;
	int mfd = ft_open_mount(mnt);
	pid_t pids[RACERS];

	if (mfd < 0 || pipe(go) || pipe(res) || pipe(hold))
		return -1;
	for (i = 0; i < RACERS; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
			char c;
			int err;

			close(go[1]);
			close(hold[1]);
			if (fd < 0)
				_exit(1);
			if (read(go[0], &c, 1) < 0)
				_exit(1);
			err = attach_fd(fd, mfd, tag);
			if (write(res[1], &err, sizeof(err)) != sizeof(err))
				_exit(1);
			if (read(hold[0], &c, 1) < 0)
				_exit(1);
			_exit(0);
		}
	}
	close(go[0]);
	close(hold[0]);
	close(res[1]);
	/* EOF on go[0] releases every child at the same moment */
	close(go[1]);
	for (i = 0; i < RACERS; i++) {
		int err;

		/* a child that never reports is caught by ft_deadline() */
		if (read(res[0], &err, sizeof(err)) != sizeof(err))
			break;
		if (err == 0)
			won++;
		else if (err == -EBUSY)
			busy++;
		else
			other++;
	}
	close(hold[1]);
	close(res[0]);
	close(mfd);
	for (i = 0; i < RACERS; i++)
		if (ft_wait_ms(pids[i], 10000) == -1)
			ft_kill(pids[i]);
	ft_log("race of %d attaches: %d attached, %d EBUSY, %d other", RACERS,
	       won, busy, other);
	return won + busy + other == RACERS && busy == RACERS - won ? won : -1;
}

static pid_t serve_fd(int fd)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct ft_server srv = {
			.fd = fd, .want = FUSE_HAS_RECOVERY,
			.notify_fd = -1, .content = "x\n",
		};
		ft_serve(&srv);
		_exit(0);
	}
	return pid;
}

int main(void)
{
	struct fuse_attach_in probe;
	pid_t server, server0;
	int fd, mfd, err, won, bad = 0;

	ft_name = "attach-permission";
	ft_deadline(60);
	if (ft_mkdir(MNT) || ft_mkdir(MNT0))
		return FT_FAIL;

	/* the probe a library uses: fd -1 on a fresh /dev/fuse fd */
	fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	memset(&probe, 0, sizeof(probe));
	probe.fd = -1;
	err = ioctl(fd, FUSE_DEV_IOC_ATTACH, &probe) ? -errno : 0;
	close(fd);
	bad |= expect("probe (fd -1)", err, -EBADF);

	/* an fd of something that is not a fuse mount names no connection */
	bad |= expect("fd of a non-fuse directory (/proc)",
		      attach_as(AS_ROOT, 0, "/proc", ""), -EINVAL);

	/* mounted by root for uid 1000's use, served by root */
	fd = ft_mount(MNT, TAG, OWNER, "allow_other");
	if (fd < 0) {
		ft_log("mount: %s", strerror(-fd));
		return FT_FAIL;
	}
	server = serve_fd(fd);
	close(fd);
	/* mounted by root with user_id=0, as the library mounts */
	server0 = ft_spawn_server(MNT0, TAG0, NULL, FUSE_HAS_RECOVERY, 0, -1);
	if (server < 0 || server0 < 0) {
		ft_log("cannot start the servers");
		bad = 1;
		goto out;
	}

	bad |= expect("fd of the mount, another tag",
		      attach_as(AS_ROOT, 0, MNT, "no-such-tag"), -ENOENT);
	/* INIT is answered once a GETATTR round trip works */
	if (access(MNT "/file", F_OK))
		ft_log("server not answering: %m");
	bad |= expect("mounter while the server lives",
		      attach_as(AS_ROOT, 0, MNT, TAG), -EBUSY);

	ft_kill(server);
	ft_kill(server0);
	server = server0 = -1;

	/* every one of them holds an fd of the mount: naming is not enough */
	bad |= expect("user_id= user, not the mounter",
		      attach_as(AS_UID, OWNER, MNT, TAG), -EPERM);
	bad |= expect("other uid", attach_as(AS_UID, STRANGER, MNT, TAG),
		      -EPERM);
	bad |= expect("other uid keeping all capabilities",
		      attach_as(AS_UID_CAPS, STRANGER, MNT, TAG), -EPERM);
	bad |= expect("uid 0 without capabilities (user_id=0 mount)",
		      attach_as(AS_NOCAPS_ROOT, 0, MNT0, TAG0), -EPERM);
	bad |= expect("root in a new user namespace",
		      attach_as(AS_USERNS, 0, MNT, TAG), -EPERM);
	/* EPERM comes first: a stranger cannot even check a tag */
	bad |= expect("other uid, wrong tag",
		      attach_as(AS_UID, STRANGER, MNT, "no-such-tag"), -EPERM);

	/* the mounter, no server attached: allowed, and then exclusive */
	fd = ft_attach(MNT, TAG);
	bad |= expect("mounter, no server attached", fd < 0 ? fd : 0, 0);
	if (fd >= 0) {
		bad |= expect("second attach while attached",
			      attach_as(AS_ROOT, 0, MNT, TAG), -EBUSY);
		mfd = ft_open_mount(MNT);
		bad |= expect("attach on a bound fd", attach_fd(fd, mfd, TAG),
			      -EBUSY);
		close(mfd);
		close(fd);
	}

	/* the tag may be left empty: the fd alone names the mount */
	fd = ft_attach(MNT, NULL);
	bad |= expect("mounter, empty tag", fd < 0 ? fd : 0, 0);
	if (fd >= 0)
		close(fd);

	/* nobody attached again: of several racing attaches one wins */
	won = race_attach(MNT, TAG);
	if (won != 1) {
		ft_log("racing attaches: %d won, wanted exactly 1", won);
		bad = 1;
	}

	/* the mounter can attach to the user_id=0 mount too */
	fd = ft_attach(MNT0, TAG0);
	bad |= expect("mounter, user_id=0 mount", fd < 0 ? fd : 0, 0);
	if (fd >= 0)
		close(fd);
out:
	if (server > 0)
		ft_kill(server);
	if (server0 > 0)
		ft_kill(server0);
	umount2(MNT, MNT_DETACH);
	umount2(MNT0, MNT_DETACH);
	return bad ? FT_FAIL : FT_PASS;
}
