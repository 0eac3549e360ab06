// SPDX-License-Identifier: GPL-2.0
/*
 * lib-reattach - the library's supervisor-less path on a patched kernel.
 *
 * Runs test/testfs (linked statically with libfuse-recover, packed as
 * /tests/testfs) with -o tag=, SIGKILLs it while a read is inside it, and
 * starts it again.  There is no fuse-recoverd in the guest at all, so a
 * takeover can only have happened through FUSE_DEV_IOC_ATTACH.  Checks:
 * both starts say they used the kernel path, the in-flight read completes
 * with the right data, and SIGTERM unmounts and removes the saved INIT.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ftest.h"

const char *ft_name = "lib-reattach";

#define MNT "/mnt/lib-reattach"
#define RUN "/tmp/lib-reattach-run"
#define MARKS "/tmp/lib-reattach-marks"
#define OPTS "tag=lr,slow_ms=1500,mark_dir=" MARKS

int main(void)
{
	char mark[64], got[64] = "";
	int pipefd[2], status;
	pid_t srv, reader;
	ssize_t n;

	ft_deadline(60);
	if (access("/tests/testfs", X_OK) != 0) {
		ft_log("no /tests/testfs in the initramfs");
		return FT_SKIP;
	}
	ft_mkdir("/mnt");
	ft_mkdir(MNT);
	ft_mkdir(MARKS);
	mkdir(RUN, 0700);

	srv = ft_start_testfs("/tmp/lr1.log", RUN, OPTS, MNT);
	if (!ft_wait_for("/tmp/lr1.log", "mounted", 10000)) {
		ft_show("/tmp/lr1.log");
		return FT_FAIL;
	}
	if (!ft_file_has("/tmp/lr1.log", "kernel reattach, no supervisor")) {
		ft_log("first start did not take the kernel path");
		ft_show("/tmp/lr1.log");
		return FT_FAIL;
	}

	if (pipe(pipefd) < 0)
		return FT_FAIL;
	reader = fork();
	if (reader == 0) {
		int fd = open(MNT "/slow", O_RDONLY);

		n = fd < 0 ? -1 : read(fd, got, sizeof(got) - 1);
		if (n > 0 && write(pipefd[1], got, n) != n)
			_exit(2);
		_exit(n > 0 ? 0 : 1);
	}
	close(pipefd[1]);
	snprintf(mark, sizeof(mark), MARKS "/slow.%d", (int)srv);
	if (!ft_wait_for(mark, NULL, 10000)) {
		ft_log("the read never reached the server");
		return FT_FAIL;
	}
	ft_kill(srv);

	srv = ft_start_testfs("/tmp/lr2.log", RUN, OPTS, MNT);
	if (!ft_wait_for("/tmp/lr2.log", "recovered the mount", 10000) ||
	    !ft_file_has("/tmp/lr2.log", "kernel reattach, no supervisor")) {
		ft_log("restart did not reattach through the kernel");
		ft_show("/tmp/lr2.log");
		return FT_FAIL;
	}
	status = ft_wait_ms(reader, 10000);
	n = read(pipefd[0], got, sizeof(got) - 1);
	got[n > 0 ? n : 0] = 0;
	if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
	    strcmp(got, "Hello World!\n") != 0) {
		ft_log("in-flight read: status %d, got \"%s\"", status, got);
		if (status < 0)
			ft_kill(reader);
		return FT_FAIL;
	}

	kill(srv, SIGTERM);
	status = ft_wait_ms(srv, 10000);
	if (status < 0) {
		ft_log("server did not exit on SIGTERM");
		ft_kill(srv);
		return FT_FAIL;
	}
	if (ft_file_has("/proc/mounts", MNT) || access(RUN "/lr.init", F_OK) == 0) {
		ft_log("mount or saved INIT left behind");
		return FT_FAIL;
	}
	return FT_PASS;
}
