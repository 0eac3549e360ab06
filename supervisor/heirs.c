// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Servers that fork: who carries on when the server's process exits.
 *
 * fuse_daemonize() after mounting (fuse_main() without -f) forks, and the
 * parent exits while the child serves on.  The child announces itself with
 * FRP_NEWPID right after fork() (lib/fork.c), passing a socket it made:
 * that socket's SO_PEERCRED names it in our pid namespace.  It becomes an
 * heir, not the server: a helper child that exits or execs must never be
 * taken for the server.  When the server's process exits, the youngest
 * live heir that still holds the connection becomes the server, and the
 * exit is no death.
 *
 * An heir is accepted only if its parent is the server (or an earlier
 * heir: a double fork) and it has its parent's uids.  Heirs belong to one
 * server generation; a new server starts with none.
 */
#include "recoverd.h"

#include <dirent.h>
#include <errno.h>
#include <linux/kcmp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <unistd.h>

static int proc_status(pid_t pid, pid_t *ppid, uid_t *ruid, uid_t *euid)
{
	char path[40], line[256];
	unsigned int r, e;
	int got = 0, pp;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "PPid: %d", &pp) == 1) {
			*ppid = pp;
			got |= 1;
		} else if (sscanf(line, "Uid: %u %u", &r, &e) == 2) {
			*ruid = r;
			*euid = e;
			got |= 2;
		}
	}
	fclose(f);
	return got == 3 ? 0 : -ESRCH;
}

static bool pidfd_exited(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return pidfd < 0 || poll(&p, 1, 0) != 0;
}

static void heir_remove(struct recoverd *rd, unsigned int i, bool close_it)
{
	if (close_it)
		close(rd->heirs[i].pidfd);
	memmove(&rd->heirs[i], &rd->heirs[i + 1],
		(rd->nheirs - i - 1) * sizeof(rd->heirs[0]));
	rd->nheirs--;
}

/* Drops heirs that exited or belong to an earlier server. */
static void heirs_prune(struct recoverd *rd)
{
	unsigned int i = 0;

	while (i < rd->nheirs) {
		if (rd->heirs[i].gen != rd->gen ||
		    pidfd_exited(rd->heirs[i].pidfd))
			heir_remove(rd, i, true);
		else
			i++;
	}
}

static bool in_family(const struct recoverd *rd, pid_t pid)
{
	unsigned int i;

	if (pid == rd->clients[rd->server].pid)
		return true;
	for (i = 0; i < rd->nheirs; i++)
		if (pid == rd->heirs[i].pid)
			return true;
	return false;
}

/*
 * Does @pid still have the connection open?  A child that closed it, or
 * exec'ed (the fds are close-on-exec), cannot serve.  When the kernel will
 * not say (no kcmp, no access to /proc/PID/fd), the child gets the benefit
 * of the doubt: the worst case is a death noticed late.
 */
static bool holds_connection(const struct recoverd *rd, pid_t pid)
{
	char path[40];
	struct dirent *d;
	bool found = false;
	DIR *dir;

	if (rd->fuse_fd < 0)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	if (!dir)
		return errno == EACCES;
	while (!found && (d = readdir(dir))) {
		char *end;
		long n = strtol(d->d_name, &end, 10);
		long r;

		if (*end || end == d->d_name)
			continue;
		r = syscall(SYS_kcmp, getpid(), pid, KCMP_FILE, rd->fuse_fd, n);
		if (r == 0 || (r < 0 && (errno == ENOSYS || errno == EPERM)))
			found = true;
	}
	closedir(dir);
	return found;
}

void heirs_on_newpid(struct recoverd *rd, const struct frp_msg *m)
{
	struct ucred cred = { 0 };
	socklen_t len = sizeof(cred);
	uid_t ruid, euid, pruid, peuid;
	const char *why = NULL;
	pid_t ppid, pp;
	int pidfd = -1, err;

	if (m->nfd != 1)
		return;
	heirs_prune(rd);
	if (getsockopt(m->fd[0], SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    cred.pid <= 0) {
		err = -EPROTO;
		why = "no credentials";
	} else if (proc_status(cred.pid, &ppid, &ruid, &euid) ||
		   proc_status(ppid, &pp, &pruid, &peuid)) {
		err = -ESRCH;
		why = "it or its parent is gone";
	} else if (!in_family(rd, ppid)) {
		err = -EPERM;
		why = "its parent is not the server";
	} else if (ruid != pruid || euid != peuid) {
		err = -EPERM;
		why = "its uid is not its parent's";
	} else {
		pidfd = syscall(SYS_pidfd_open, cred.pid, 0);
		err = pidfd < 0 ? -errno : 0;
		why = err ? "pidfd_open failed" : NULL;
	}
	if (err) {
		fr_log(LOG_WARNING,
		       "pid %d, forked by the server, cannot take over: %s",
		       (int)cred.pid, why);
	} else {
		if (rd->nheirs == MAX_HEIRS)
			heir_remove(rd, 0, true);
		rd->heirs[rd->nheirs++] = (struct heir){
			.pid = cred.pid, .pidfd = pidfd, .gen = rd->gen };
	}
	/* The child waits for this: its parent stays alive until then. */
	frp_send_ack(m->fd[0], err, why);
}

bool heirs_take_over(struct recoverd *rd)
{
	struct client *c = &rd->clients[rd->server];
	unsigned int i;

	heirs_prune(rd);
	for (i = rd->nheirs; i-- > 0;) {
		struct heir h = rd->heirs[i];

		if (!holds_connection(rd, h.pid))
			continue;
		fr_log(LOG_INFO, "server pid %d exited; pid %d it forked serves on",
		       (int)c->pid, (int)h.pid);
		heir_remove(rd, i, false);
		if (c->pidfd >= 0)
			close(c->pidfd);
		c->pid = h.pid;
		c->pidfd = h.pidfd;
		return true;
	}
	return false;
}
