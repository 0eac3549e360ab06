// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * upgrade: what an application sees of a live upgrade, beside what it
 * sees of a crash restart, in the same run.
 *
 *   upgrade --server BENCHFS --cmd FUSE_RECOVER --mnt DIR [--rounds N]
 *           [--log FILE]
 *
 * benchfs is mounted on DIR (tag bench-upg).  A thread stat()s a file of
 * the mount in a tight loop (benchfs: every stat reaches the server).
 * First N live upgrades (fuse-recover upgrade --confirm 0, to benchfs
 * again), then N crash restarts (SIGKILL, benchfs started again at once).
 * Per round, the worst gap between two stat() completions around it is
 * what the application noticed; for upgrades fuse-recover also reports
 * the supervisor's pause (drain start to takeover).
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *server, *cmd, *mnt, *log_path;
static int rounds = 100, logfd = -1;
static char probe[4096];

static _Atomic uint64_t last_done, worst_gap, done_count;
static _Atomic int window, quit;
static _Atomic long stat_errors;

static void *stat_loop(void *arg)
{
	struct stat st;

	(void)arg;
	atomic_store(&last_done, now_ns());
	while (!atomic_load(&quit)) {
		uint64_t t, gap;

		if (stat(probe, &st) < 0) {
			if (atomic_fetch_add(&stat_errors, 1) < 5)
				fprintf(stderr, "upgrade: stat %s: %s\n", probe,
					strerror(errno));
			continue;
		}
		t = now_ns();
		gap = t - atomic_exchange(&last_done, t);
		if (atomic_load(&window) && gap > atomic_load(&worst_gap))
			atomic_store(&worst_gap, gap);
		atomic_fetch_add(&done_count, 1);
	}
	return NULL;
}

static void window_open(void)
{
	atomic_store(&worst_gap, 0);
	atomic_store(&window, 1);
}

/* Closes the window once a stat has completed after the event. */
static double window_close(void)
{
	uint64_t n = atomic_load(&done_count), end = now_ns() + 10000000000ull;

	while (atomic_load(&done_count) < n + 3 && now_ns() < end)
		sleep_ms(1);
	atomic_store(&window, 0);
	return atomic_load(&worst_gap) / 1e6;
}

static char opts[128];

static pid_t start_server(void)
{
	char *argv[] = { (char *)server, "-f", "-o", opts, (char *)mnt, NULL };

	return spawn(argv, logfd);
}

/* fuse-recover upgrade; returns the new server's pid, or 0. */
static pid_t upgrade(double *pause_ms)
{
	char *argv[] = { (char *)cmd, "--json", "upgrade", "--confirm", "0",
			 "bench-upg", "--", (char *)server, "-f", "-o", opts,
			 (char *)mnt, NULL };
	char out[1024] = "", *p;
	int pipefd[2], status;
	ssize_t n, len = 0;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], 1);
		if (logfd >= 0)
			dup2(logfd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pipefd[1]);
	while (len < (ssize_t)sizeof(out) - 1 &&
	       (n = read(pipefd[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += n;
	close(pipefd[0]);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "upgrade: fuse-recover failed: %s\n", out);
		return 0;
	}
	p = strstr(out, "\"pause_ms\": ");
	*pause_ms = p ? atof(p + 12) : NAN;
	p = strstr(out, "\"pid\": ");
	return p ? atoi(p + 7) : 0;
}

static void row(const char *what, double *v, int n)
{
	printf("| %s | %.2f ms | %.2f ms | %.2f ms | %d |\n", what,
	       quantile(v, n, 0.5), quantile(v, n, 0.99), quantile(v, n, 1),
	       n);
}

int main(int argc, char *argv[])
{
	static const struct option o[] = {
		{ "server", required_argument, NULL, 's' },
		{ "cmd", required_argument, NULL, 'c' },
		{ "mnt", required_argument, NULL, 'm' },
		{ "rounds", required_argument, NULL, 'n' },
		{ "log", required_argument, NULL, 'l' },
		{ 0 }
	};
	double *up_gap, *up_pause, *crash_gap;
	pthread_t th;
	pid_t first, cur;
	int c, i, nup = 0, ncrash = 0;

	while ((c = getopt_long(argc, argv, "", o, NULL)) != -1) {
		switch (c) {
		case 's': server = optarg; break;
		case 'c': cmd = optarg; break;
		case 'm': mnt = optarg; break;
		case 'n': rounds = atoi(optarg); break;
		case 'l': log_path = optarg; break;
		default: return 2;
		}
	}
	if (!server || !cmd || !mnt || rounds < 1)
		die("usage: upgrade --server BENCHFS --cmd FUSE_RECOVER --mnt DIR [--rounds N]");
	if (log_path)
		logfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
			     0600);
	up_gap = calloc(rounds, sizeof(double));
	up_pause = calloc(rounds, sizeof(double));
	crash_gap = calloc(rounds, sizeof(double));
	snprintf(opts, sizeof(opts), "tag=bench-upg,recover_restarts=1000000");
	snprintf(probe, sizeof(probe), "%s/f0", mnt);
	first = start_server();
	if (!wait_mounted(mnt, first, 20000))
		die("benchfs did not mount %s", mnt);
	pthread_create(&th, NULL, stat_loop, NULL);
	sleep_ms(100);

	cur = 0;
	for (i = 0; i < rounds; i++) {
		pid_t next;

		sleep_ms(20 + rand() % 30);
		window_open();
		next = upgrade(&up_pause[nup]);
		up_gap[nup] = window_close();
		if (!next)
			break;
		nup++;
		cur = next;
	}
	/* The first server retired; the others are the supervisor's. */
	wait_exit(first, 5000);
	for (i = 0; i < rounds && cur > 0; i++) {
		pid_t old = cur;
		int pfd;

		sleep_ms(20 + rand() % 30);
		window_open();
		pfd = pidfd_of(old);
		kill(old, SIGKILL);
		/* A restart while the old one still exits would be refused. */
		if (pfd >= 0) {
			struct pollfd p = { .fd = pfd, .events = POLLIN };

			poll(&p, 1, 10000);
			close(pfd);
		}
		if (old == first)
			wait_exit(old, 5000);
		cur = start_server();
		crash_gap[ncrash++] = window_close();
		first = cur;	/* ours to reap from now on */
	}
	atomic_store(&quit, 1);
	pthread_join(th, NULL);
	if (cur > 0)
		stop_child(cur, 5000);

	printf("| what | median | p99 | max | rounds |\n|---|---|---|---|---|\n");
	row("live upgrade: worst stat() gap", up_gap, nup);
	row("live upgrade: drain -> takeover (supervisor)", up_pause, nup);
	row("crash restart (SIGKILL, external restart): worst stat() gap",
	    crash_gap, ncrash);
	printf("\nstat() errors: %ld; upgrades confirmed: %d of %d\n",
	       atomic_load(&stat_errors), nup, rounds);
	return atomic_load(&stat_errors) || nup < rounds ? 1 : 0;
}
