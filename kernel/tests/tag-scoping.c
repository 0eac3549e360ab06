// SPDX-License-Identifier: GPL-2.0
/*
 * tag-scoping: a tag is a label, not a name to look connections up by.
 *
 * Two mount namespaces (as two containers sharing the initial user
 * namespace would have) each mount the same path with the same tag
 * "data"; both mounts succeed.  Both servers are SIGKILLed.  In namespace
 * A a new server attaches through an fd of A's own mount; namespace B's
 * mount is attached from outside, by the test in the initial namespace,
 * through /proc/PID/root (a supervisor handed the mount as an fd).  Each
 * application then reads its own server's data.  Meanwhile a prober in
 * the initial namespace, which sees neither mount, learns nothing: it
 * mounts "data" itself without EEXIST, and an attach naming the tag gets
 * the same answer as one naming a tag nobody uses.
 *
 * Against v2 (tags unique per user namespace, attach by tag string) B's
 * mount and the prober's fail with EEXIST and the attach ABI differs, so
 * this test fails there.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ftest.h"

#define MNT "/mnt/scope"
#define PROBE_MNT "/mnt/scope-probe"
#define TAG "data"

/* One namespace: a process living in it and two pipes to talk to it */
struct ns {
	const char *name;
	const char *content;	/* what its second server returns */
	int from_outside;	/* the second server is attached from outside */
	pid_t pid;
	int cmd;		/* test -> namespace */
	int res;		/* namespace -> test */
};

static int read_file(const char *path, const char *want)
{
	char buf[64];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		ft_log("open %s: %m", path);
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		ft_log("read %s: %m", path);
		return -1;
	}
	buf[n] = '\0';
	if (strcmp(buf, want)) {
		ft_log("%s: read \"%s\", wanted \"%s\"", path, buf, want);
		return -1;
	}
	return 0;
}

static void say(int fd, char c)
{
	if (write(fd, &c, 1) != 1)
		_exit(FT_FAIL);
}

static char hear(int fd, int ms)
{
	char line[16];

	if (ft_read_line(fd, line, sizeof(line), ms) < 0)
		return 0;
	return line[0];
}

/* Runs inside the namespace; reports with one line per step. */
static void ns_main(struct ns *ns, int cmd, int res)
{
	pid_t server, attacher = -1;
	char verdict = 'F';

	ft_name = ns->name;
	if (unshare(CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		ft_log("new mount namespace: %m");
		dprintf(res, "E\n");
		_exit(FT_FAIL);
	}
	server = ft_spawn_server(MNT, TAG, NULL, FUSE_HAS_RECOVERY, 0, -1);
	if (server < 0) {
		dprintf(res, "E\n");
		_exit(FT_FAIL);
	}
	if (read_file(MNT "/file", "first server\n")) {
		ft_kill(server);
		dprintf(res, "E\n");
		_exit(FT_FAIL);
	}
	ft_kill(server);
	dprintf(res, "k\n");

	if (!ns->from_outside) {
		attacher = ft_spawn_attacher(MNT, TAG, ns->content, -1);
		if (attacher < 0)
			goto report;
	} else if (hear(cmd, 20000) != 'a') {
		ft_log("nobody attached from outside");
		goto report;
	}
	if (read_file(MNT "/file", ns->content) == 0)
		verdict = 'P';
report:
	dprintf(res, "%c\n", verdict);
	hear(cmd, 20000);	/* 'q': the test is done with us */
	if (attacher > 0)
		ft_kill(attacher);
	umount2(MNT, MNT_DETACH);
	_exit(0);
}

static int ns_start(struct ns *ns)
{
	int cmd[2], res[2];

	if (pipe2(cmd, O_CLOEXEC) || pipe2(res, O_CLOEXEC))
		return -1;
	ns->pid = fork();
	if (ns->pid < 0)
		return -1;
	if (ns->pid == 0) {
		close(cmd[1]);
		close(res[0]);
		ns_main(ns, cmd[0], res[1]);
	}
	close(cmd[0]);
	close(res[1]);
	ns->cmd = cmd[1];
	ns->res = res[0];
	return 0;
}

static int attach_errno(const char *mnt, const char *tag)
{
	int fd = ft_attach(mnt, tag);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	return fd;
}

/* The initial namespace sees neither mount: what can it find out? */
static int probe(void)
{
	int fd, e1, e2, bad = 0;

	/* the same label is free for anyone: no EEXIST to tell it is used */
	fd = ft_mount(PROBE_MNT, TAG, 0, NULL);
	if (fd < 0) {
		ft_log("prober: mount with tag %s: %s, wanted success", TAG,
		       strerror(-fd));
		bad = 1;
	} else {
		umount2(PROBE_MNT, MNT_DETACH);
		close(fd);
	}
	/* MNT is a plain directory here: the answer does not depend on tag */
	e1 = attach_errno(MNT, TAG);
	e2 = attach_errno(MNT, "nobody-uses-this");
	if (e1 != e2 || e1 != -EINVAL) {
		ft_log("prober: attach at %s: tag %s %s, unused tag %s (wanted EINVAL for both)",
		       MNT, TAG, strerror(-e1), strerror(-e2));
		bad = 1;
	}
	return bad;
}

int main(void)
{
	struct ns nss[2] = {
		{ .name = "tag-scoping A", .content = "A\n" },
		{ .name = "tag-scoping B", .content = "B\n",
		  .from_outside = 1 },
	};
	char path[64];
	pid_t outside = -1;
	int i, bad = 0;

	ft_name = "tag-scoping";
	ft_deadline(60);
	if (ft_mkdir(MNT) || ft_mkdir(PROBE_MNT))
		return FT_FAIL;

	for (i = 0; i < 2; i++) {
		if (ns_start(&nss[i])) {
			ft_log("cannot start namespace %d", i);
			return FT_FAIL;
		}
		if (hear(nss[i].res, 20000) != 'k') {
			ft_log("%s: first server did not run", nss[i].name);
			bad = 1;
		}
	}
	if (bad)
		goto out;

	bad |= probe();

	/* a supervisor outside B's namespace, handed B's mount */
	snprintf(path, sizeof(path), "/proc/%d/root" MNT, nss[1].pid);
	outside = ft_spawn_attacher(path, TAG, nss[1].content, -1);
	if (outside < 0) {
		ft_log("attaching to B's mount from outside failed");
		bad = 1;
	} else {
		say(nss[1].cmd, 'a');
		say(nss[1].cmd, '\n');
	}

	for (i = 0; i < 2; i++) {
		char v = hear(nss[i].res, 20000);

		ft_log("%s: %s", nss[i].name,
		       v == 'P' ? "its own server answered" : "FAILED");
		if (v != 'P')
			bad = 1;
	}
out:
	for (i = 0; i < 2; i++) {
		say(nss[i].cmd, 'q');
		say(nss[i].cmd, '\n');
		if (ft_wait_ms(nss[i].pid, 10000) == -1) {
			ft_kill(nss[i].pid);
			bad = 1;
		}
	}
	if (outside > 0)
		ft_kill(outside);
	return bad ? FT_FAIL : FT_PASS;
}
