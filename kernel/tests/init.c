// SPDX-License-Identifier: GPL-2.0
/*
 * init.c - PID 1 of the test guest
 *
 * Mounts what the tests need, runs every program listed in tests[] with a
 * time limit, prints "PASS name", "FAIL name" or "SKIP name" for each and a
 * final "N passed, M failed" line on the console, then leaves qemu through
 * the isa-debug-exit device (port 0xf4): it writes 0 if every test passed
 * and 1 otherwise, which qemu turns into exit status 1 or 3.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TEST_TIMEOUT_S 90

static const char * const tests[] = {
	"tag-option",
	"tag-scoping",
	"attach-permission",
	"attach-race",
	"resend-after-crash",
	"resend-order",
	"resend-clone-fds",
	"resend-bound",
	"server-exit",
	"recovery-init-fail",
	"umount-orphan",
	"fuseblk-umount",
	"async-flush-exit",
	"async-flush",
	"recovery-timeout",
	"abort-resent",
	"lib-reattach",
	"lib-mount-fd",
	"lib-passthrough",
	"lib-passthrough-hp",
	"lib-upgrade",
	"lib-upgrade-xl",
};

static void try_mount(const char *src, const char *dst, const char *type)
{
	mkdir(dst, 0755);
	if (mount(src, dst, type, 0, NULL) && errno != EBUSY)
		printf("init: mount %s on %s: %m\n", type, dst);
}

/* 0: pass, 1: fail, 2: skip */
static int run_test(const char *name)
{
	char path[128];
	long long waited = 0;
	int status;
	pid_t pid;

	snprintf(path, sizeof(path), "/tests/%s", name);
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		char *argv[] = { path, NULL };
		char *envp[] = { "PATH=/tests", NULL };

		execve(path, argv, envp);
		_exit(127);
	}
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			break;
		if (waited >= TEST_TIMEOUT_S * 1000LL) {
			printf("init: %s timed out\n", name);
			kill(pid, SIGKILL);
			return 1;
		}
		usleep(20000);
		waited += 20;
	}
	if (!WIFEXITED(status))
		return 1;
	if (WEXITSTATUS(status) == 77)
		return 2;
	return WEXITSTATUS(status) ? 1 : 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void reap(int sig)
{
	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

int main(void)
{
	unsigned int i, passed = 0, failed = 0, skipped = 0;
	int console;

	try_mount("devtmpfs", "/dev", "devtmpfs");
	/* the initramfs has no /dev/console node, so the kernel gave us none */
	console = open("/dev/console", O_RDWR);
	if (console >= 0) {
		dup2(console, 0);
		dup2(console, 1);
		dup2(console, 2);
		if (console > 2)
			close(console);
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	try_mount("proc", "/proc", "proc");
	try_mount("sysfs", "/sys", "sysfs");
	try_mount("tmpfs", "/mnt", "tmpfs");
	try_mount("fusectl", "/sys/fs/fuse/connections", "fusectl");

	printf("init: running %zu tests\n", sizeof(tests) / sizeof(tests[0]));
	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		long long t0 = now_ms();
		int r = run_test(tests[i]);

		/* where the guest's time goes (run-tests' summary) */
		printf("init: %s took %lld ms\n", tests[i], now_ms() - t0);

		/* orphans of the test get reparented to us */
		reap(0);
		printf("%s %s\n", r == 0 ? "PASS" : r == 2 ? "SKIP" : "FAIL",
		       tests[i]);
		if (r == 0)
			passed++;
		else if (r == 2)
			skipped++;
		else
			failed++;
	}
	printf("%u passed, %u failed\n", passed, failed + skipped);

	sync();
	if (ioperm(0xf4, 4, 1) == 0)
		outb(failed + skipped ? 1 : 0, 0xf4);
	printf("init: isa-debug-exit unavailable, powering off\n");
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}
