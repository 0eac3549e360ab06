// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Helpers shared by the bench/ programs.
 */
#include "bench.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

uint64_t server_cpu_ns(pid_t p)
{
	char path[64], name[400];
	unsigned long long v, sum = 0;
	struct dirent *de;
	DIR *d;

	if (p <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)p);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(name, sizeof(name), "%s/%s/schedstat", path,
			 de->d_name);
		f = fopen(name, "re");
		if (!f)
			continue;
		if (fscanf(f, "%llu", &v) == 1)
			sum += v;
		fclose(f);
	}
	closedir(d);
	return sum;
}

void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void (*die_hook)(void);

void on_die(void (*fn)(void))
{
	die_hook = fn;
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "%s: ", program_invocation_short_name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	if (die_hook)
		die_hook();
	exit(1);
}

pid_t spawn(char *const argv[], int errfd)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		/* Never the caller's stdout: it may be a pipe someone reads. */
		if (errfd >= 0) {
			dup2(errfd, 1);
			dup2(errfd, 2);
		}
		execv(argv[0], argv);
		fprintf(stderr, "cannot run %s: %s\n", argv[0],
			strerror(errno));
		_exit(127);
	}
	return pid;
}

int pidfd_of(pid_t pid)
{
	return syscall(SYS_pidfd_open, pid, 0);
}

bool wait_exit(pid_t pid, int ms)
{
	int fd = pidfd_of(pid), status;
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (fd >= 0) {
		poll(&p, 1, ms);
		close(fd);
	}
	return waitpid(pid, &status, WNOHANG) == pid;
}

void stop_child(pid_t pid, int ms)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	if (!wait_exit(pid, ms)) {
		fprintf(stderr, "%s: pid %d ignores SIGTERM; killing it\n",
			program_invocation_short_name, (int)pid);
		kill(pid, SIGKILL);
		wait_exit(pid, ms);
	}
}

bool fuse_mounted(const char *dir)
{
	char line[4096], pat[4200];
	bool found = false;
	FILE *f = fopen("/proc/self/mounts", "re");

	if (!f)
		return false;
	snprintf(pat, sizeof(pat), " %s fuse", dir);
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, pat) != NULL;
	fclose(f);
	return found;
}

bool wait_mounted(const char *dir, pid_t pid, int ms)
{
	uint64_t deadline = now_ns() + ms * 1000000ull;
	int status;

	while (!fuse_mounted(dir)) {
		if (now_ns() > deadline ||
		    (pid > 0 && waitpid(pid, &status, WNOHANG) == pid))
			return false;
		sleep_ms(2);
	}
	return true;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double quantile(const double *v, int n, double q)
{
	double *s, r;
	int k;

	if (n <= 0)
		return NAN;
	s = malloc(n * sizeof(*s));
	if (!s)
		die("out of memory");
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	k = (int)ceil(q * n) - 1;
	if (k < 0)
		k = 0;
	r = s[k];
	free(s);
	return r;
}
