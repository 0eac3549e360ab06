// SPDX-License-Identifier: GPL-2.0
/*
 * lib-passthrough - kernel passthrough across a restart on the library's
 * supervisor-less path.
 *
 * Runs test/testfs (static, /tests/testfs) with -o tag=,ptfile=: its /pt
 * is a tmpfs file opened in passthrough mode.  An application opens and
 * maps /pt, the server is SIGKILLed, and with no server at all the fd and
 * the mapping still read the data (only passthrough can do that); the
 * restarted server reattaches through the kernel, a new open of /pt must
 * succeed (same backing id, kept in the state store: another one would be
 * EIO) and read the same, and no READ may have reached the server.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ftest.h"

const char *ft_name = "lib-passthrough";

#define MNT "/mnt/lib-passthrough"
#define RUN "/tmp/lib-passthrough-run"
#define SRC "/tmp/lib-passthrough-src"
#define OPTS "tag=lp,ptfile=" SRC "/f"
#define SIZE (256 * 1024)

static char model[SIZE];

static int same(int fd, const char *what)
{
	static char buf[SIZE];

	if (pread(fd, buf, SIZE, 0) != SIZE || memcmp(buf, model, SIZE)) {
		ft_log("%s: data differs or short read (%s)", what,
		       strerror(errno));
		return 0;
	}
	return 1;
}

/*
 * Reads in a child, so that a read that needs the server (no passthrough)
 * fails the test instead of hanging it.  The child answers through a pipe:
 * its exit closes its copy of the fd, and that close sends a FLUSH, which
 * waits for the next server.
 */
static pid_t read_without_server(int fd, const char *map, int *ok)
{
	char line[8] = "";
	int p[2];
	pid_t pid;

	*ok = 0;
	if (pipe(p) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		int good = same(fd, "fd, no server") &&
			   memcmp(map, model, SIZE) == 0;

		if (write(p[1], good ? "ok\n" : "bad\n", good ? 3 : 4) < 0)
			_exit(2);
		_exit(0);
	}
	close(p[1]);
	if (ft_read_line(p[0], line, sizeof(line), 5000) < 0)
		ft_log("a read with no server running blocked: not passthrough");
	else
		*ok = strncmp(line, "ok", 2) == 0;
	close(p[0]);
	return pid;
}

int main(void)
{
	int fd, fd2, status, i, ok;
	pid_t srv, reader;
	char *map;

	ft_deadline(60);
	if (access("/tests/testfs", X_OK) != 0) {
		ft_log("no /tests/testfs in the initramfs");
		return FT_SKIP;
	}
	ft_mkdir("/mnt");
	ft_mkdir(MNT);
	ft_mkdir(SRC);
	mkdir(RUN, 0700);
	for (i = 0; i < SIZE; i++)
		model[i] = (char)(i * 13 + i / 4096);
	fd = open(SRC "/f", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, model, SIZE) != SIZE)
		return FT_FAIL;
	close(fd);

	srv = ft_start_testfs("/tmp/lp1.log", RUN, OPTS, MNT);
	if (!ft_wait_for("/tmp/lp1.log", "mounted", 10000) ||
	    !ft_file_has("/tmp/lp1.log", "kernel reattach, no supervisor")) {
		ft_log("first start did not mount through the kernel path");
		ft_show("/tmp/lp1.log");
		return FT_FAIL;
	}
	fd = open(MNT "/pt", O_RDONLY);
	map = fd < 0 ? MAP_FAILED :
		       mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED || !same(fd, "first open")) {
		ft_log("open or map of /pt: %s", strerror(errno));
		ft_show("/tmp/lp1.log");
		return FT_FAIL;
	}
	if (ft_file_has("/tmp/lp1.log", "passthrough off") ||
	    ft_file_has("/tmp/lp1.log", "no passthrough")) {
		ft_log("passthrough not in effect");
		ft_show("/tmp/lp1.log");
		return FT_FAIL;
	}
	ft_kill(srv);
	reader = read_without_server(fd, map, &ok);
	if (!ok)
		return FT_FAIL;

	srv = ft_start_testfs("/tmp/lp2.log", RUN, OPTS, MNT);
	if (!ft_wait_for("/tmp/lp2.log", "recovered the mount", 10000) ||
	    !ft_file_has("/tmp/lp2.log", "kernel reattach, no supervisor")) {
		ft_log("restart did not reattach through the kernel");
		ft_show("/tmp/lp2.log");
		return FT_FAIL;
	}
	fd2 = open(MNT "/pt", O_RDONLY);
	if (fd2 < 0) {
		ft_log("new open after the restart: %s", strerror(errno));
		ft_show("/tmp/lp2.log");
		return FT_FAIL;
	}
	if (!same(fd2, "new open") || !same(fd, "old fd") ||
	    memcmp(map, model, SIZE) != 0)
		return FT_FAIL;
	if (!ft_file_has("/tmp/lp2.log", "backing id(s) live") ||
	    ft_file_has("/tmp/lp2.log", "READ of /pt") ||
	    ft_file_has("/tmp/lp2.log", "no passthrough")) {
		ft_log("restarted server: ids not reported, or not passthrough");
		ft_show("/tmp/lp2.log");
		return FT_FAIL;
	}
	if (ft_wait_ms(reader, 10000) < 0) {
		ft_log("reader did not exit after the restart");
		return FT_FAIL;
	}
	munmap(map, SIZE);
	close(fd2);
	close(fd);

	kill(srv, SIGTERM);
	status = ft_wait_ms(srv, 10000);
	if (status < 0) {
		ft_log("server did not exit on SIGTERM");
		ft_kill(srv);
		return FT_FAIL;
	}
	if (ft_file_has("/proc/mounts", MNT)) {
		ft_log("mount left behind");
		return FT_FAIL;
	}
	return FT_PASS;
}
