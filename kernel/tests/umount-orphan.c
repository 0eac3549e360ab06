// SPDX-License-Identifier: GPL-2.0
/*
 * umount-orphan: a recovery connection whose server was SIGKILLed (so no
 * fd of it is left anywhere) stays mounted and waits, and umount of it
 * returns promptly instead of hanging.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ftest.h"

#define MNT "/mnt/orphan"
#define TAG "orphan-test"

int main(void)
{
	struct stat st;
	long long t0;
	pid_t server, um;
	int status;

	ft_name = "umount-orphan";
	ft_deadline(60);
	if (ft_mkdir(MNT))
		return FT_FAIL;

	server = ft_spawn_server(MNT, TAG, NULL, FUSE_HAS_RECOVERY, 0, -1);
	if (server < 0)
		return FT_FAIL;
	if (stat(MNT "/file", &st)) {
		ft_log("stat with a live server: %m");
		ft_kill(server);
		return FT_FAIL;
	}
	ft_kill(server);

	/* still mounted, and not aborted: a new name lookup must wait */
	um = fork();
	if (um == 0) {
		alarm(20);
		_exit(stat(MNT "/other", &st) ? errno : 0);
	}
	status = ft_wait_ms(um, 500);
	if (status != -1) {
		ft_log("lookup on orphaned connection did not wait (%#x)",
		       status);
		return FT_FAIL;
	}
	/* the waiting lookup holds nothing that blocks umount; kill it */
	ft_kill(um);

	t0 = ft_now_ms();
	um = fork();
	if (um == 0) {
		alarm(20);
		_exit(umount(MNT) ? errno : 0);
	}
	status = ft_wait_ms(um, 10000);
	if (status == -1) {
		ft_log("umount still hanging after 10 s");
		return FT_FAIL;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		ft_log("umount failed: %s", strerror(WEXITSTATUS(status)));
		umount2(MNT, MNT_DETACH);
		return FT_FAIL;
	}
	ft_log("umount took %lld ms", ft_now_ms() - t0);
	return FT_PASS;
}
