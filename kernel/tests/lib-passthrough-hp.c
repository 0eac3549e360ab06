// SPDX-License-Identifier: GPL-2.0
/*
 * lib-passthrough-hp - example/passthrough_hp (the library's state store,
 * node ids from file handles) through three SIGKILLs on the kernel path.
 *
 * /tests/passthrough_hp is linked statically with libfuse-recover; there is
 * no fuse-recoverd in the guest, so every restart reattaches through
 * FUSE_DEV_IOC_ATTACH and takes the state store from the runtime directory.
 * It serves a tmpfs (-o nopassthrough: data goes through the server).
 * Across the kills: an fd opened before the first kill keeps reading and
 * writing, a directory and files made by one server are seen by the next
 * (node ids from the store), and SIGTERM at the end unmounts.
 *
 * An unlinked-but-open file cannot be kept on this path (the library needs
 * a supervisor to hold its fd: fuse_recover_keep_file() is -EOPNOTSUPP), so
 * its data is gone once the dying server's fds close.  Checked here: a read
 * of it after the restart fails with an error at once (no hang, no wrong
 * data) and the other files are unaffected.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ftest.h"

const char *ft_name = "lib-passthrough-hp";

#define PROG "/tests/passthrough_hp"
#define MNT "/mnt/pthp"
#define SRC "/mnt/pthp-src"
#define RUN "/tmp/pthp-run"
#define OPTS "tag=ph,nopassthrough"

/*
 * The servers are started by a process forked before the test opens
 * anything on the mount: a server forked from the test itself would close
 * the test's O_CLOEXEC fds of the mount at exec, and each such close sends
 * a FLUSH to the server it is about to become (a deadlock).  The spawner
 * also kills and reaps them.  Commands: 'S' n (start server n, answers the
 * pid), 'K' (SIGKILL and reap), 'T' (SIGTERM, answers the wait status or
 * -1 after 10 s).
 */
static int to_spawner = -1, from_spawner = -1;

static void spawner(int in, int out)
{
	pid_t pid = -1;
	char cmd[2];

	while (read(in, cmd, 2) == 2) {
		int res = 0;

		if (cmd[0] == 'S') {
			char log[64];

			snprintf(log, sizeof(log), "/tmp/pthp%c.log", cmd[1]);
			pid = fork();
			if (pid == 0) {
				int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC,
					      0644);

				dup2(fd, 2);
				setenv("FUSE_RECOVER_RUNTIME_DIR", RUN, 1);
				setenv("FUSE_RECOVERD", "/nonexistent", 1);
				execl(PROG, "passthrough_hp", "-f", "-o", OPTS,
				      SRC, MNT, (char *)NULL);
				_exit(127);
			}
			res = pid;
		} else if (cmd[0] == 'K' && pid > 0) {
			ft_kill(pid);
			pid = -1;
		} else if (cmd[0] == 'T' && pid > 0) {
			kill(pid, SIGTERM);
			res = ft_wait_ms(pid, 10000);
			if (res == -1)
				ft_kill(pid);
			pid = -1;
		}
		if (write(out, &res, sizeof(res)) != sizeof(res))
			break;
	}
	if (pid > 0)
		ft_kill(pid);
	_exit(0);
}

static int spawner_do(char what, char arg)
{
	char cmd[2] = { what, arg };
	int res = -1;

	if (write(to_spawner, cmd, 2) != 2 ||
	    read(from_spawner, &res, sizeof(res)) != sizeof(res))
		return -1;
	return res;
}

static pid_t start(int n)
{
	char log[64];
	pid_t pid;

	snprintf(log, sizeof(log), "/tmp/pthp%d.log", n);
	pid = spawner_do('S', '0' + n);
	if (pid <= 0)
		return -1;
	if (!ft_wait_for(log, n == 1 ? "mounted" : "recovered the mount",
			 10000) ||
	    !ft_file_has(log, "kernel reattach, no supervisor")) {
		ft_log("server %d did not %s through the kernel path", n,
		       n == 1 ? "mount" : "reattach");
		ft_show(log);
		spawner_do('K', 0);
		return -1;
	}
	return pid;
}

static void stop(void)
{
	spawner_do('K', 0);
}

static int expect_data(int fd, const char *want, const char *what)
{
	char buf[64];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	if (n < 0 || strcmp(buf, want)) {
		ft_log("%s: read \"%s\" (%s), wanted \"%s\"", what, buf,
		       n < 0 ? strerror(errno) : "ok", want);
		return -1;
	}
	return 0;
}

static int expect_file(const char *path, const char *want)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;

	if (fd < 0) {
		ft_log("open %s: %m", path);
		return -1;
	}
	err = expect_data(fd, want, path);
	close(fd);
	return err;
}

static int put(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ssize_t n = fd < 0 ? -1 : write(fd, data, strlen(data));

	if (fd >= 0)
		close(fd);
	if (n != (ssize_t)strlen(data)) {
		ft_log("write %s: %m", path);
		return -1;
	}
	return 0;
}

/*
 * Read the unlinked file in a child, so that a hang fails the test with a
 * message instead of the deadline.  0: it failed cleanly, 1: it returned
 * its old data, -1: wrong data or hang.
 */
static int read_unlinked(int fd)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		char buf[64];
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

		if (n < 0) {
			ft_log("unlinked open file after restart: %m (its data is gone: no supervisor to keep it)");
			_exit(0);
		}
		buf[n] = '\0';
		_exit(strcmp(buf, "unlinked\n") ? 2 : 1);
	}
	status = ft_wait_ms(pid, 10000);
	if (status == -1) {
		ft_log("read of the unlinked open file hangs");
		ft_kill(pid);
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) > 1) {
		ft_log("unlinked open file: wrong data");
		return -1;
	}
	return WEXITSTATUS(status);
}

/* On failure: closing an fd would wait in FLUSH for a server not coming */
static void abort_conn(int fd)
{
	char path[64];
	struct stat st;
	int afd;

	if (fstat(fd, &st))
		return;
	snprintf(path, sizeof(path), "/sys/fs/fuse/connections/%u/abort",
		 minor(st.st_dev));
	afd = open(path, O_WRONLY);
	if (afd >= 0 && write(afd, "1", 1) != 1)
		ft_log("abort: %m");
	if (afd >= 0)
		close(afd);
}

int main(void)
{
	pid_t srv = -1, sp;
	int a = -1, u = -1, ret = FT_FAIL, kept, p1[2], p2[2];

	ft_deadline(80);
	if (access(PROG, X_OK) != 0) {
		ft_log("no " PROG " in the initramfs");
		return FT_SKIP;
	}
	/* the library wants its runtime directory private */
	if (ft_mkdir(MNT) || ft_mkdir(SRC) ||
	    (mkdir(RUN, 0700) && errno != EEXIST) ||
	    mount("tmpfs", SRC, "tmpfs", 0, NULL)) {
		ft_log("setup: %m");
		return FT_FAIL;
	}

	if (pipe(p1) || pipe(p2))
		return FT_FAIL;
	sp = fork();
	if (sp == 0) {
		close(p1[1]);
		close(p2[0]);
		spawner(p1[0], p2[1]);
	}
	close(p1[0]);
	close(p2[1]);
	to_spawner = p1[1];
	from_spawner = p2[0];

	srv = start(1);
	if (srv < 0)
		goto out;
	if (put(MNT "/a", "one\n") || mkdir(MNT "/d", 0755) ||
	    put(MNT "/d/inner", "inner\n") || put(MNT "/u", "unlinked\n"))
		goto out;
	a = open(MNT "/a", O_RDWR | O_CLOEXEC);
	u = open(MNT "/u", O_RDONLY | O_CLOEXEC);
	if (a < 0 || u < 0 || unlink(MNT "/u")) {
		ft_log("open/unlink: %m");
		goto out;
	}

	/* kill 1: the open fd, the directory and the unlinked file */
	stop();
	srv = start(2);
	if (srv < 0 || expect_data(a, "one\n", "fd opened before kill 1") ||
	    pwrite(a, "two\n", 4, 4) != 4 ||
	    expect_file(MNT "/d/inner", "inner\n"))
		goto out;
	kept = read_unlinked(u);
	if (kept < 0)
		goto out;
	if (kept)
		ft_log("unlinked open file kept its data");
	if (expect_file(MNT "/a", "one\ntwo\n") || put(MNT "/d/b", "bee\n"))
		goto out;

	/* kill 2: what server 2 wrote and created */
	stop();
	srv = start(3);
	if (srv < 0 || expect_data(a, "one\ntwo\n", "fd after kill 2") ||
	    expect_file(MNT "/d/b", "bee\n") ||
	    rename(MNT "/d/b", MNT "/c"))
		goto out;

	/* kill 3: a rename done by server 3 */
	stop();
	srv = start(4);
	if (srv < 0 || expect_file(MNT "/c", "bee\n") ||
	    access(MNT "/d/b", F_OK) == 0 ||
	    expect_data(a, "one\ntwo\n", "fd after kill 3"))
		goto out;
	ft_log("three kills: open fd, directory, writes and rename kept");

	close(a);
	close(u);
	a = u = -1;
	srv = -1;
	if (spawner_do('T', 0) == -1) {
		ft_log("server did not exit on SIGTERM");
		goto out;
	}
	if (ft_file_has("/proc/mounts", MNT " ")) {
		ft_log("mount left behind after SIGTERM");
		goto out;
	}
	ret = FT_PASS;
out:
	if (srv > 0)
		stop();
	if (a >= 0)
		abort_conn(a);
	if (a >= 0)
		close(a);
	if (u >= 0)
		close(u);
	close(to_spawner);	/* the spawner exits at EOF */
	if (ft_wait_ms(sp, 10000) == -1)
		ft_kill(sp);
	umount2(MNT, MNT_DETACH);
	umount2(SRC, MNT_DETACH);
	return ret;
}
