// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Starting a server process: a restart, a hot standby (standby.c) and a
 * live upgrade's successor (upgrade.c) alike.
 *
 * With vfork(): a fork() copies our page tables and descriptor table, up
 * to 1 ms on this project's VM, on a CPU the server we hold for and its
 * applications may be waiting for (the next standby starts 0.1 s after a
 * takeover).  The child shares our memory until it execs, so it only
 * makes system calls on what was prepared before it: the environment is
 * built first, and the error text is written, not formatted.
 */
#include "recoverd.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static bool named(const char *var, const char *name)
{
	size_t len = strlen(name);

	return !strncmp(var, name, len) && var[len] == '=';
}

/*
 * @from with FUSE_RECOVER_FD replaced by @fd_var and what @kind says of
 * FUSE_RECOVER_UPGRADE and FUSE_RECOVER_STANDBY: set to 1 for the one it
 * is (a successor, a standby), unset or left as it was otherwise.  The
 * strings are borrowed; free() the array.
 */
char **launch_env(char **from, const char *fd_var, enum launch_kind kind)
{
	size_t n = 0, i, k = 0;
	char **env;

	while (from[n])
		n++;
	env = calloc(n + 3, sizeof(*env));
	if (!env)
		return NULL;
	for (i = 0; i < n; i++)
		if (!named(from[i], "FUSE_RECOVER_FD") &&
		    !named(from[i], "FUSE_RECOVER_UPGRADE") &&
		    !(kind == LAUNCH_STANDBY &&
		      named(from[i], "FUSE_RECOVER_STANDBY")))
			env[k++] = from[i];
	env[k++] = (char *)fd_var;
	if (kind == LAUNCH_STANDBY)
		env[k++] = "FUSE_RECOVER_STANDBY=1";
	else if (kind == LAUNCH_SUCCESSOR)
		env[k++] = "FUSE_RECOVER_UPGRADE=1";
	return env;
}

static void say(const char *s)
{
	if (write(STDERR_FILENO, s, strlen(s)) < 0)
		return;
}

/* The vfork() itself: nothing of ours is used in the parent after it. */
static __attribute__((noinline)) pid_t start(const struct launch *l, int null)
{
	sigset_t all;
	pid_t pid;

	sigfillset(&all);
	pid = vfork();
	if (pid)
		return pid;
	sigprocmask(SIG_UNBLOCK, &all, NULL);
	if (l->detach)
		setsid();
	/* Our raised fd limit is ours; the server gets what we got. */
	if (l->nofile && l->nofile->rlim_max)
		setrlimit(RLIMIT_NOFILE, l->nofile);
	if (null >= 0)
		dup2(null, STDIN_FILENO);
	if (l->out >= 0) {
		dup2(l->out, STDOUT_FILENO);
		dup2(l->out, STDERR_FILENO);
	}
	fcntl(l->fd, F_SETFD, 0);
	if (l->cwd && *l->cwd && chdir(l->cwd) < 0)
		_exit(126);
	execvpe(l->argv[0], l->argv, l->env);
	say("fuse-recoverd: cannot run ");
	say(l->argv[0]);
	say(": ");
	say(strerror(errno));
	say("\n");
	_exit(127);
}

/* Returns the child's pid, or -errno. */
pid_t launch_process(const struct launch *l)
{
	int null = -1, err;
	pid_t pid;

	if (l->detach)
		null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	pid = start(l, null);
	err = errno;
	if (null >= 0)
		close(null);
	return pid < 0 ? -err : pid;
}
