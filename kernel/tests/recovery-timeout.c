// SPDX-License-Identifier: GPL-2.0
/*
 * recovery-timeout: with recovery_timeout=N a recovery connection that
 * has no server for N seconds aborts by itself, so a waiting application
 * gets an error instead of waiting forever; the option is shown in the
 * mount options.  A server that reattaches in time stops the clock, and
 * once aborted the connection can no longer be attached to.  Without
 * tag= the option is refused with EINVAL.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ftest.h"

#define MNT "/mnt/timeout"
#define TAG "timeout-test"
/*
 * The grace period.  Under TCG on a loaded two-core host a fork and an
 * ioctl in the guest have taken more than a second, so one second made the
 * reattach phase fail now and then; five leaves room without making the
 * test slow.
 */
#define GRACE_S 5
#define GRACE_OPT "recovery_timeout=5"

static int shown(const char *needle)
{
	char buf[8192];
	size_t n;
	FILE *f = fopen("/proc/mounts", "r");

	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

int main(void)
{
	pid_t server, attacher, app;
	struct stat st;
	long long t0;
	int fd, status, ret = FT_FAIL;

	ft_name = "recovery-timeout";
	ft_deadline(60);
	if (ft_mkdir(MNT))
		return FT_FAIL;

	/*
	 * Without a tag there is no recovery, so the option would do
	 * nothing: it must be refused, not silently accepted.
	 */
	fd = ft_mount(MNT, NULL, 0, "recovery_timeout=1");
	if (fd != -EINVAL) {
		ft_log("recovery_timeout without tag: got %s, wanted EINVAL",
		       fd >= 0 ? "success" : strerror(-fd));
		if (fd >= 0) {
			umount2(MNT, MNT_DETACH);
			close(fd);
		}
		return FT_FAIL;
	}

	server = ft_spawn_server(MNT, TAG, GRACE_OPT, FUSE_HAS_RECOVERY, 0, -1);
	if (server < 0)
		return FT_FAIL;
	if (!shown(GRACE_OPT)) {
		ft_log("recovery_timeout not in /proc/mounts");
		goto out;
	}

	/*
	 * Crash, reattach within the grace period: the connection must still
	 * be there after the period has passed, so the attach stopped the
	 * clock.
	 */
	t0 = ft_now_ms();
	ft_kill(server);
	server = -1;
	attacher = ft_spawn_attacher(MNT, TAG, "x\n", -1);
	if (attacher < 0) {
		ft_log("reattach %lld ms after the kill failed",
		       ft_now_ms() - t0);
		goto out;
	}
	ft_log("reattached %lld ms after the kill", ft_now_ms() - t0);
	while (ft_now_ms() < t0 + (GRACE_S + 1) * 1000LL)
		usleep(100 * 1000);
	if (stat(MNT "/file", &st)) {
		ft_log("connection died although a server came back: %m");
		ft_kill(attacher);
		goto out;
	}
	ft_kill(attacher);

	/* crash for good: a waiting lookup must fail after about GRACE_S */
	t0 = ft_now_ms();
	app = fork();
	if (app == 0) {
		alarm(30);
		_exit(stat(MNT "/other", &st) ? errno : 0);
	}
	status = ft_wait_ms(app, (GRACE_S + 10) * 1000);
	if (status == -1) {
		ft_log("lookup still waiting %d s after the server died",
		       GRACE_S + 10);
		ft_kill(app);
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) == 0) {
		ft_log("lookup did not fail (status %#x)", status);
		goto out;
	}
	ft_log("lookup failed with %s after %lld ms",
	       strerror(WEXITSTATUS(status)), ft_now_ms() - t0);
	/* an abort long before the grace period ends is a bug too */
	if (ft_now_ms() - t0 < (GRACE_S - 1) * 1000LL) {
		ft_log("connection aborted before its grace period");
		goto out;
	}

	/* an aborted connection can no longer be attached to */
	fd = ft_attach(MNT, TAG);
	if (fd != -ENOENT) {
		ft_log("attach after abort: got %d, wanted ENOENT", fd);
		if (fd >= 0)
			close(fd);
		goto out;
	}
	ret = FT_PASS;
out:
	ft_kill(server);
	if (umount(MNT)) {
		ft_log("umount: %m");
		umount2(MNT, MNT_DETACH);
		ret = FT_FAIL;
	}
	return ret;
}
