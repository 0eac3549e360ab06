// SPDX-License-Identifier: GPL-2.0
/*
 * fuseblk-umount: umount of a fuseblk recovery connection whose server was
 * SIGKILLed with requests waiting must not hang.  fuseblk is the only FUSE
 * type that sends FUSE_DESTROY at umount, and waits for its answer with no
 * way to interrupt the wait: with no server that answer never comes, so
 * 0004 skips DESTROY then.  Without that, the plain and the lazy case below
 * hang in D state (this test then aborts the connection through fusectl to
 * clean up, and fails).
 *
 *   plain: a LOOKUP queued while the server was stopped, server killed,
 *          the (killable) waiter killed, umount.
 *   lazy:  the same, but umount -l while the waiter still holds the mount;
 *          the superblock goes, and DESTROY would be sent, when the
 *          killed waiter drops the last reference.
 *   force: the server dies holding a READ (resent, so the reader waits
 *          uninterruptibly and keeps the file open); umount -f aborts the
 *          connection, the reader gets an error, and umount succeeds.
 *
 * The block device (/dev/ram0, brd) is only a name to FUSE: nothing is
 * read from or written to it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ftest.h"

#define MNT "/mnt/fuseblk"
#define TAG "fuseblk-test"
#define DEV "/dev/ram0"
#define CONNS "/sys/fs/fuse/connections"

/* a bound far above what a prompt umount takes in the guest */
#define HANG_MS 10000

/* CONNS/N of our connection: N is the block device's kernel dev_t */
static char conn_dir[64];

static int conn_path(void)
{
	struct stat st;

	if (stat(DEV, &st))
		return -errno;
	snprintf(conn_dir, sizeof(conn_dir), CONNS "/%u",
		 major(st.st_rdev) << 20 | minor(st.st_rdev));
	return 0;
}

/*
 * Abort our connection through fusectl: it ends a hung DESTROY or a
 * resent request, so that the processes stuck in them can be reaped and
 * the mount goes away.
 */
static void abort_conn(void)
{
	char path[80];
	int fd;

	snprintf(path, sizeof(path), "%s/abort", conn_dir);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return;
	if (write(fd, "1", 1) < 0)
		ft_log("abort: %m");
	close(fd);
}

/* Whether the connection is still known (it leaves fusectl last) */
static int conn_left(void)
{
	return access(conn_dir, F_OK) == 0;
}

/* /proc/mounts: a stat of MNT would wait for the dead server */
static int mounted(void)
{
	return ft_file_has("/proc/mounts", " " MNT " ");
}

/* Fork a process that runs umount2(MNT, @flags); returns its pid */
static pid_t start_umount(int flags)
{
	pid_t pid = fork();

	if (pid == 0) {
		alarm(60);
		_exit(umount2(MNT, flags) ? errno : 0);
	}
	return pid;
}

/*
 * Wait at most HANG_MS for the umount process @pid; returns its errno
 * (0: unmounted) or -1 if it still hangs.
 */
static int umount_result(pid_t pid, const char *what)
{
	long long t0 = ft_now_ms();
	int status = ft_wait_ms(pid, HANG_MS);

	if (status == -1) {
		ft_log("%s: still hanging after %d ms", what, HANG_MS);
		return -1;
	}
	if (!WIFEXITED(status))
		return -1;
	ft_log("%s: %s after %lld ms", what,
	       WEXITSTATUS(status) ? strerror(WEXITSTATUS(status)) : "done",
	       ft_now_ms() - t0);
	return WEXITSTATUS(status);
}

/* A process whose lookup of MNT/other waits: killable, never read */
static pid_t start_waiter(void)
{
	pid_t pid = fork();
	struct stat st;

	if (pid == 0) {
		alarm(60);
		_exit(stat(MNT "/other", &st) ? errno : 0);
	}
	return pid;
}

/* Server stopped, a LOOKUP queued, server killed: requests wait */
static pid_t orphan_with_waiter(void)
{
	struct stat st;
	pid_t server, waiter;

	server = ft_spawn_server(MNT, TAG, NULL, FUSE_HAS_RECOVERY, 0, -1);
	if (server < 0)
		return -1;
	if (stat(MNT "/file", &st)) {
		ft_log("stat with a live server: %m");
		ft_kill(server);
		return -1;
	}
	kill(server, SIGSTOP);
	waiter = start_waiter();
	if (ft_wait_ms(waiter, 300) != -1) {
		ft_log("lookup did not wait for the stopped server");
		ft_kill(server);
		return -1;
	}
	ft_kill(server);
	if (ft_wait_ms(waiter, 300) != -1) {
		ft_log("lookup did not wait after the server died");
		return -1;
	}
	return waiter;
}

static int case_plain(void)
{
	pid_t waiter = orphan_with_waiter();
	int err;

	if (waiter < 0)
		return FT_FAIL;
	/* never read by a server, so SIGKILL takes it out of the queue */
	ft_kill(waiter);
	err = umount_result(start_umount(0), "plain umount");
	if (err) {
		if (err > 0)
			ft_log("umount: %s", strerror(err));
		return FT_FAIL;
	}
	return FT_PASS;
}

static int case_lazy(void)
{
	pid_t waiter = orphan_with_waiter();
	int status;

	if (waiter < 0)
		return FT_FAIL;
	if (umount_result(start_umount(MNT_DETACH), "umount -l")) {
		ft_kill(waiter);
		return FT_FAIL;
	}
	/* its exit drops the last reference: the superblock goes now */
	kill(waiter, SIGKILL);
	status = ft_wait_ms(waiter, HANG_MS);
	if (status == -1) {
		ft_log("waiter hangs in its exit (the superblock's end)");
		return FT_FAIL;
	}
	/* the exit ran the superblock's end, which removes the connection */
	if (conn_left()) {
		ft_log("connection still listed in " CONNS);
		return FT_FAIL;
	}
	return FT_PASS;
}

static int case_force(void)
{
	pid_t server, reader, um;
	char line[128], buf[64];
	int ev[2], status, err, ret = FT_FAIL;

	if (pipe(ev))
		return FT_FAIL;
	server = ft_spawn_server(MNT, TAG, NULL, FUSE_HAS_RECOVERY, 1, ev[1]);
	if (server < 0)
		goto out_pipe;
	reader = fork();
	if (reader == 0) {
		int fd = open(MNT "/file", O_RDONLY);

		alarm(60);
		if (fd < 0)
			_exit(2);
		/* resent to nobody: it must end with an error, not data */
		_exit(read(fd, buf, sizeof(buf)) < 0 ? 0 : 3);
	}
	while (ft_read_line(ev[0], line, sizeof(line), 10000) >= 0 &&
	       strncmp(line, "read", 4))
		;
	if (strncmp(line, "read", 4)) {
		ft_log("server never saw the READ");
		ft_kill(server);
		goto out_reader;
	}
	ft_kill(server);
	if (ft_wait_ms(reader, 300) != -1) {
		ft_log("reader finished without a server");
		goto out_reader;
	}

	um = start_umount(MNT_FORCE);
	err = umount_result(um, "umount -f");
	if (err < 0)
		goto out_reader;
	/* the aborted READ makes the reader close its file */
	status = ft_wait_ms(reader, HANG_MS);
	if (status == -1) {
		ft_log("reader still blocked after umount -f");
		goto out_reader;
	}
	reader = -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		ft_log("reader: status %#x", status);
		goto out_reader;
	}
	/* the reader had the file open during umount -f: then it was busy */
	if (err == EBUSY)
		err = umount_result(start_umount(0), "umount after -f");
	if (err) {
		if (err > 0)
			ft_log("umount: %s", strerror(err));
		goto out_reader;
	}
	ret = FT_PASS;
out_reader:
	if (ret != FT_PASS && reader > 0) {
		abort_conn();
		ft_kill(reader);
	}
out_pipe:
	close(ev[0]);
	close(ev[1]);
	return ret;
}

/* After a failed case: end whatever hangs, reap it, unmount */
static void clean_up(void)
{
	abort_conn();
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	umount2(MNT, MNT_DETACH);
}

int main(void)
{
	static const struct {
		const char *name;
		int (*run)(void);
	} cases[] = {
		{ "plain", case_plain },
		{ "lazy", case_lazy },
		{ "force", case_force },
	};
	unsigned int i;
	int ret = FT_PASS;

	ft_name = "fuseblk-umount";
	ft_deadline(80);
	if (ft_mkdir(MNT))
		return FT_FAIL;
	if (conn_path()) {
		ft_log(DEV ": %m (CONFIG_BLK_DEV_RAM missing?)");
		return FT_FAIL;
	}
	ft_fstype = "fuseblk";
	ft_source = DEV;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].run() != FT_PASS) {
			ft_log("case %s failed", cases[i].name);
			ret = FT_FAIL;
			clean_up();
		}
		if (mounted()) {
			ft_log("case %s left " MNT " mounted", cases[i].name);
			ret = FT_FAIL;
			clean_up();
		}
	}
	return ret;
}
