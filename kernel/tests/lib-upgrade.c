// SPDX-License-Identifier: GPL-2.0
/*
 * lib-upgrade - live upgrade of example/passthrough_hp on the kernel path.
 *
 * No fuse-recoverd in the guest: the serving server hands its connection
 * over itself (lib/kupgrade.c) to a successor started with
 * FUSE_RECOVER_UPGRADE=1, which attaches nothing (the kernel would refuse
 * while the old fd is open) and serves on a dup of the old server's fd.
 * Under a load that writes, reads back and checks data and renames files
 * all along:
 *  - 20 upgrades in a row: each old server drains, retires and exits 0
 *    having read no resent request (its "resent=0"), each new one serves;
 *  - a successor with other INIT capabilities (--noreaddirplus) is refused
 *    in standby, and the old server serves on;
 *  - a successor SIGKILLed while being confirmed: the old one resumes;
 *  - the old server SIGKILLed in the middle: the successor takes over
 *    (before GO: as a restart, asking for resend);
 *  - both SIGKILLed while the new one is confirmed: the next server
 *    started recovers the connection through FUSE_DEV_IOC_ATTACH;
 *  - an upgrade after all that goes through;
 *  - `fuse-recover upgrade` on the kernel tag: exits 0 once its successor
 *    serves; exits non-zero for an incompatible successor and for one
 *    SIGKILLed while being confirmed, the old server serving on;
 * with zero errors in the load, and SIGTERM at the end unmounts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ftest.h"

#ifndef KUP_NAME
#define KUP_NAME "lib-upgrade"
#endif
const char *ft_name = KUP_NAME;

/* lib-upgrade-xl.c includes this file with its own names and main(). */
#ifndef TAG
#define TAG "ku"
#define MNT "/mnt/kup"
#define SRC "/mnt/kup-src"
#define RUN "/tmp/kup-run"
#define LOGS "/tmp/kup"
#endif
#define UPGRADES 20

/*
 * The server's command line, and an incompatible one's (other INIT
 * capabilities: refused in standby), set by main().
 */
static const char *const *srv_argv, *const *bad_argv;
/* The same two, daemonizing (no -f), for `fuse-recover upgrade` only. */
static const char *const *daemon_argv, *const *daemon_bad_argv;

/*
 * Servers are started by a process forked before anything on the mount
 * is opened (see lib-passthrough-hp.c: a server forked from the test
 * would close the test's fds of the mount at exec, a FLUSH to itself).
 * Commands: 'S' (start server n in a mode, answers its pid), 'U' (start
 * `fuse-recover upgrade` of tag TAG to server n in a mode, answers the
 * tool's pid), 'W' (wait up to 30 s for pid, answers its status or -1),
 * 'K' (SIGKILL and reap).
 */
struct cmd {
	char op, mode;	/* mode: 'f' first, 'u' upgrade, 'i' incompatible,
			   'c' upgrade with a long confirmation; 'd' and 'D':
			   'u' and 'i' daemonizing */
	int n, pid;
};

static int to_spawner = -1, from_spawner = -1;

static void exec_server(const struct cmd *c)
{
	char log[64];
	int fd;

	snprintf(log, sizeof(log), LOGS "%d.log", c->n);
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	dup2(fd, 2);
	setenv("FUSE_RECOVER_RUNTIME_DIR", RUN, 1);
	setenv("FUSE_RECOVERD", "/nonexistent", 1);
	if (c->mode != 'f') {
		setenv("FUSE_RECOVER_UPGRADE", "1", 1);
		setenv("FUSE_RECOVER_CONFIRM_MS", c->mode == 'c' ? "60000" :
		       "200", 1);
	}
	execv(c->mode == 'i' ? bad_argv[0] : srv_argv[0],
	      (char **)(c->mode == 'i' ? bad_argv : srv_argv));
	_exit(127);
}

/*
 * The tool starts server n itself, detached (its own session): its log is
 * the tool's --log, and what the tool prints goes to LOGS "N.tool".
 */
static void exec_tool(const struct cmd *c)
{
	const char *const *cmd = c->mode == 'i' ? bad_argv :
				 c->mode == 'd' ? daemon_argv :
				 c->mode == 'D' ? daemon_bad_argv : srv_argv;
	char log[64], out[64];
	const char *argv[48] = {
		"/tests/fuse-recover", "upgrade", "--log", log, "--timeout",
		"60", "--confirm", c->mode == 'c' ? "60" : "0.2", TAG, "--",
	};
	int fd, i, n = 10;

	snprintf(log, sizeof(log), LOGS "%d.log", c->n);
	snprintf(out, sizeof(out), LOGS "%d.tool", c->n);
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	dup2(fd, 1);
	dup2(fd, 2);
	setenv("FUSE_RECOVER_RUNTIME_DIR", RUN, 1);
	setenv("FUSE_RECOVERD", "/nonexistent", 1);
	unlink(log);
	for (i = 0; i < 32 && cmd[i]; i++)
		argv[n++] = cmd[i];
	argv[n] = NULL;
	execv(argv[0], (char **)argv);
	_exit(127);
}

static void spawner(int in, int out)
{
	struct cmd c;

	while (read(in, &c, sizeof(c)) == sizeof(c)) {
		int res = -1;

		if (c.op == 'S') {
			res = fork();
			if (res == 0)
				exec_server(&c);
		} else if (c.op == 'U') {
			res = fork();
			if (res == 0)
				exec_tool(&c);
		} else if (c.op == 'W') {
			res = ft_wait_ms(c.pid, 30000);
		} else if (c.op == 'K') {
			ft_kill(c.pid);
			res = 0;
		}
		if (write(out, &res, sizeof(res)) != sizeof(res))
			break;
	}
	kill(0, SIGKILL);	/* whatever still runs, at the end */
	_exit(0);
}

/* What `fuse-recover --json @what` (list or status) printed (no shell). */
static void tool_json(const char *what, char *out, size_t size)
{
	ssize_t n, got = 0;
	int p[2];
	pid_t c;

	out[0] = '\0';
	if (pipe(p) < 0)
		return;
	c = fork();
	if (c == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		setenv("FUSE_RECOVER_RUNTIME_DIR", RUN, 1);
		if (!strcmp(what, "list"))
			execl("/tests/fuse-recover", "fuse-recover", "--json",
			      "list", (char *)NULL);
		else
			execl("/tests/fuse-recover", "fuse-recover", "--json",
			      "status", TAG, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	while (c > 0 && got < (ssize_t)size - 1 &&
	       (n = read(p[0], out + got, size - 1 - got)) > 0)
		got += n;
	out[got] = '\0';
	close(p[0]);
	if (c > 0)
		ft_wait_ms(c, 10000);
}

/*
 * `fuse-recover --json @what` names the pid really serving,
 * and says each of @more (NULL-ended, may be NULL); @srv 0: the server
 * is stopped, no pid is known but requests wait for it.
 */
static bool tool_names(const char *what, pid_t srv, const char *const *more)
{
	char out[4096], want[64];
	const char *w;

	tool_json(what, out, sizeof(out));
	if (srv)
		snprintf(want, sizeof(want), "\"server_pid\": %d,", (int)srv);
	else	/* stopped: no answer, but requests wait */
		snprintf(want, sizeof(want), "\"server_pid\": null,");
	w = strstr(out, "\"waiting\": ");
	if (!srv && (!w || atoi(w + strlen("\"waiting\": ")) <= 0)) {
		ft_log("%s does not count waiting requests: %s", what, out);
		return false;
	}
	if (!strstr(out, want) || !strstr(out, "\"path\": \"kernel\"") ||
	    !strstr(out, "\"mountpoint\": \"" MNT "\"")) {
		ft_log("%s does not name pid %d and " MNT ": %s", what,
		       (int)srv, out);
		return false;
	}
	/* Both servers keep memory: a state store, or the id table. */
	w = strstr(out, "\"state_bytes\": ");
	if (!w || atoll(w + strlen("\"state_bytes\": ")) <= 0 ||
	    !(w = strstr(out, "\"kept_files\": ")) ||
	    atoi(w + strlen("\"kept_files\": ")) <= 0) {
		ft_log("%s does not count the kept files: %s", what, out);
		return false;
	}
	for (; more && *more; more++)
		if (!strstr(out, *more)) {
			ft_log("%s does not say %s: %s", what, *more, out);
			return false;
		}
	return true;
}

/* The server @prog is in the initramfs; our directories made. */
static bool dirs_for(const char *prog)
{
	if (access(prog, X_OK) != 0) {
		ft_log("no %s in the initramfs", prog);
		return false;
	}
	ft_mkdir("/mnt");
	ft_mkdir(MNT);
	ft_mkdir(SRC);
	mkdir(RUN, 0700);
	return true;
}

/* The spawner, in its own process group; its pid or -1. */
static pid_t spawner_start(void)
{
	int sv_in[2], sv_out[2];
	pid_t sp;

	if (pipe(sv_in) < 0 || pipe(sv_out) < 0)
		return -1;
	sp = fork();
	if (sp == 0) {
		close(sv_in[1]);
		close(sv_out[0]);
		setpgid(0, 0);
		spawner(sv_in[0], sv_out[1]);
	}
	close(sv_in[0]);
	close(sv_out[1]);
	to_spawner = sv_in[1];
	from_spawner = sv_out[0];
	return sp;
}

static int spawner_do(char op, char mode, int n, int pid)
{
	struct cmd c = { .op = op, .mode = mode, .n = n, .pid = pid };
	int res = -1;

	if (write(to_spawner, &c, sizeof(c)) != sizeof(c) ||
	    read(from_spawner, &res, sizeof(res)) != sizeof(res))
		return -1;
	return res;
}

/* The whole log (ft_file_has() reads its first 4 KB). */
static char *slurp(int n)
{
	static char buf[65536];
	char path[64];
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), LOGS "%d.log", n);
	fd = open(path, O_RDONLY);
	len = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	buf[len > 0 ? len : 0] = '\0';
	return buf;
}

static bool log_has(int n, const char *what)
{
	return strstr(slurp(n), what) != NULL;
}

static bool wait_log(int n, const char *what, int ms)
{
	long long end = ft_now_ms() + ms;

	while (!log_has(n, what)) {
		if (ft_now_ms() > end)
			return false;
		usleep(20000);
	}
	return true;
}

static void show(int n)
{
	char *b = slurp(n);
	size_t len = strlen(b);

	ft_log("server %d's log:\n%s", n, len > 3000 ? b + len - 3000 : b);
}

/*
 * The load: files written with a pattern of the round, read back and
 * checked, renamed and stat()ed, and a file open all along (its handle
 * and node id are the first server's) written and read back; exits 1 at
 * the first error, with 0 and the number of rounds on SIGTERM.
 */
static volatile sig_atomic_t load_stop;

static void on_term(int sig)
{
	(void)sig;
	load_stop = 1;
}

static int load_fail(const char *what, long r)
{
	ft_log("load: round %ld: %s: %s", r, what, strerror(errno));
	return 1;
}

static int load(int report)
{
	char buf[4096], got[4096], a[64], b[64];
	int kept = open(MNT "/kept", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
			0644);
	long r;

	signal(SIGTERM, on_term);
	if (kept < 0)
		return load_fail("open the kept file", 0);
	for (r = 0; !load_stop; r++) {
		int fd, k = r % 4;
		struct stat st;

		snprintf(a, sizeof(a), MNT "/f%d", k);
		snprintf(b, sizeof(b), MNT "/g%d", k);
		memset(buf, 'a' + r % 26, sizeof(buf));
		memcpy(buf, &r, sizeof(r));
		fd = open(a, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			return load_fail("open", r);
		if (pwrite(fd, buf, sizeof(buf), r % 3 * 4096) != sizeof(buf))
			return load_fail("write", r);
		if (pread(fd, got, sizeof(got), r % 3 * 4096) != sizeof(got))
			return load_fail("read", r);
		if (memcmp(buf, got, sizeof(buf))) {
			errno = EILSEQ;
			return load_fail("read back other data", r);
		}
		if (close(fd) < 0)
			return load_fail("close", r);
		if (pwrite(kept, buf, sizeof(buf), 0) != sizeof(buf) ||
		    pread(kept, got, sizeof(got), 0) != sizeof(got))
			return load_fail("the kept file", r);
		if (memcmp(buf, got, sizeof(buf))) {
			errno = EILSEQ;
			return load_fail("the kept file read back other data", r);
		}
		if (rename(a, b) < 0)
			return load_fail("rename", r);
		if (stat(b, &st) < 0 || st.st_size != (r % 3 + 1) * 4096) {
			errno = errno ? errno : EILSEQ;
			return load_fail("stat", r);
		}
	}
	if (write(report, &r, sizeof(r)) != sizeof(r))
		return 1;
	return 0;
}

/* The load, reporting on @rep[1] (closed here); its pid or -1. */
static pid_t load_start(int rep[2])
{
	pid_t ld = fork();

	if (ld == 0)
		_exit(load(rep[1]));
	close(rep[1]);
	rep[1] = -1;
	usleep(300000);
	return ld;
}

/* SIGTERM to the load @ld: its rounds, read on @rep, or -1 if it failed. */
static long load_end(pid_t ld, int rep)
{
	int st;
	long rounds = -1;

	kill(ld, SIGTERM);
	st = ft_wait_ms(ld, 10000);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) ||
	    read(rep, &rounds, sizeof(rounds)) != sizeof(rounds)) {
		ft_log("the load failed (status %d)", st);
		return -1;
	}
	return rounds;
}

static bool load_alive(pid_t pid)
{
	return waitpid(pid, NULL, WNOHANG) == 0;
}

/* The old server's log line naming successor @pid in a phase. */
static const char *about(const char *fmt, pid_t pid)
{
	static char buf[96];

	snprintf(buf, sizeof(buf), fmt, (int)pid);
	return buf;
}

#define STANDBY_OF "upgrade: standby: pid %d replays"
#define PARKED_FOR "upgrade: takeover: pid %d serves tag " TAG " after"

static pid_t start(int n, char mode)
{
	pid_t pid = spawner_do('S', mode, n, 0);

	if (pid <= 0)
		ft_log("cannot start server %d", n);
	return pid;
}

/*
 * Server @n mounts, through the kernel path (its pid in *@srv), and the
 * load starts on it, reporting on @rep: the load's pid, or -1.
 */
static pid_t first_server(int n, int rep[2], pid_t *srv)
{
	*srv = start(n, 'f');
	if (*srv <= 0 || !wait_log(n, "mounted", 10000) ||
	    !log_has(n, "kernel reattach, no supervisor")) {
		ft_log("the first server did not mount through the kernel path");
		show(n);
		return -1;
	}
	return load_start(rep);
}

/*
 * Upgrade from server @o (pid @old) to server @n: the new pid, or -1.
 * @clean: the old one must have read no resent request in its life.
 */
static pid_t upgrade(int o, pid_t old, int n, bool clean, double *worst)
{
	const char *p;
	pid_t pid = start(n, 'u');
	double ms;
	int st;

	if (pid <= 0)
		return -1;
	st = spawner_do('W', 0, 0, old);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		ft_log("upgrade to %d: the old server pid %d did not retire (status %d)",
		       n, (int)old, st);
		goto fail;
	}
	if (!log_has(n, "upgrade: takeover: pid") ||
	    !log_has(o, "upgrade: done: confirmed") ||
	    (clean && !log_has(o, "(it served resent=0)"))) {
		ft_log("upgrade to %d: no confirmed takeover, or the old server read resent requests",
		       n);
		goto fail;
	}
	p = strstr(slurp(o), "after a pause of ");
	if (p && sscanf(p, "after a pause of %lf", &ms) == 1 && ms > *worst)
		*worst = ms;
	return pid;
fail:
	show(o);
	show(n);
	return -1;
}

/* A process that is not our child has exited within @ms (a pidfd). */
static bool exited_within(pid_t pid, int ms)
{
	struct pollfd p = { .events = POLLIN };
	bool gone;

	p.fd = syscall(SYS_pidfd_open, pid, 0);
	if (p.fd < 0)
		return errno == ESRCH;
	gone = poll(&p, 1, ms) == 1;
	close(p.fd);
	return gone;
}

/* What `fuse-recover upgrade` of server @n printed. */
static const char *tool_out(int n)
{
	static char buf[1024];
	char path[64];
	ssize_t got;
	int fd;

	snprintf(path, sizeof(path), LOGS "%d.tool", n);
	buf[0] = '\0';
	fd = open(path, O_RDONLY);
	if (fd >= 0) {
		got = read(fd, buf, sizeof(buf) - 1);
		buf[got > 0 ? got : 0] = '\0';
		close(fd);
	}
	return buf;
}

/*
 * `fuse-recover upgrade` from server @o (pid @old) to server @n: exits 0
 * and names the new pid, which then serves; the old one retired.
 */
static pid_t tool_upgrade(int o, pid_t old, int n, char mode)
{
	pid_t tool = spawner_do('U', mode, n, 0), pid = 0;
	const char *p;
	int st;

	if (tool <= 0)
		return -1;
	st = spawner_do('W', 0, 0, tool);
	p = strstr(tool_out(n), "upgraded tag " TAG ": pid ");
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) || !p ||
	    sscanf(p, "upgraded tag " TAG ": pid %d", &pid) != 1 || pid <= 0 ||
	    kill(pid, 0) < 0 || !log_has(o, "upgrade: done: confirmed")) {
		ft_log("fuse-recover upgrade to %d: status %d, said: %s", n, st,
		       tool_out(n));
		show(o);
		show(n);
		return -1;
	}
	/* The old one is the spawner's child: reap it. */
	st = spawner_do('W', 0, 0, old);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		ft_log("fuse-recover upgrade: the old pid %d did not retire cleanly (status %d)",
		       (int)old, st);
		return -1;
	}
	return pid;
}

/*
 * `fuse-recover upgrade` to server @n in @mode fails: 'i' incompatible,
 * refused in standby; 'c' SIGKILLed while being confirmed, rolled back.
 * Either way the tool exits non-zero and server @o (pid @srv) serves on,
 * its log saying @why (for a refusal, it may see the successor exit
 * before it hears why).
 */
static bool tool_refused(int o, pid_t srv, int n, char mode, const char *why)
{
	pid_t tool = spawner_do('U', mode, n, 0), succ = 0;
	const char *p;
	int st;

	if (tool <= 0)
		return false;
	if (mode == 'c') {
		/* Its pid, from the old server's log, once it serves. */
		for (st = 0; st < 300 && !succ; st++) {
			p = strstr(slurp(o), "upgrade: takeover: pid ");
			while (p && strstr(p + 1, "upgrade: takeover: pid "))
				p = strstr(p + 1, "upgrade: takeover: pid ");
			if (p && sscanf(p, "upgrade: takeover: pid %d", &succ) == 1 &&
			    (succ == srv || kill(succ, 0) < 0))
				succ = 0;
			if (!succ)
				usleep(100000);
		}
		if (succ <= 0) {
			ft_log("fuse-recover upgrade: the successor never took over");
			show(o);
			return false;
		}
		usleep(300000);
		kill(succ, SIGKILL);
	}
	st = spawner_do('W', 0, 0, tool);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 1 ||
	    !strstr(tool_out(n), "serves on") || kill(srv, 0) < 0 ||
	    !wait_log(o, why, 10000) ||
	    (mode == 'i' && !log_has(n, "refused in standby")) ||
	    (mode != 'c' && !strstr(tool_out(n), "refused in standby"))) {
		ft_log("fuse-recover upgrade to a %s successor: status %d, said: %s",
		       mode == 'c' ? "killed" : "refused", st, tool_out(n));
		show(o);
		show(n);
		return false;
	}
	return true;
}

/*
 * The old server @o (pid @srv) killed after it sent GO to successor @b
 * and before the successor's RESUMED reached it: the successor serves on
 * (nothing was left to resend: the old one had drained).  The window is
 * microseconds wide, so the successor's main thread (the one in attach)
 * runs under ptrace, stopped at every system call while the old server's
 * log is looked at: once it says GO, the successor is held where it is
 * (at the latest at the RESUMED send), the old one is killed and reaped,
 * and the successor let go.  Returns the successor's pid, or -1.
 */
static pid_t killed_after_go(int o, pid_t srv, int b, pid_t ld)
{
	pid_t succ = start(b, 'u');
	char go[64];
	bool held = false;
	int st, stops = 0;

	if (succ <= 0)
		return -1;
	snprintf(go, sizeof(go), "GO to pid %d", (int)succ);
	if (ptrace(PTRACE_SEIZE, succ, NULL,
		   (void *)(long)PTRACE_O_TRACESYSGOOD) < 0 ||
	    ptrace(PTRACE_INTERRUPT, succ, NULL, NULL) < 0) {
		ft_log("ptrace of the successor: %s", strerror(errno));
		return -1;
	}
	while (!held && waitpid(succ, &st, __WALL) == succ) {
		int sig = 0;

		if (!WIFSTOPPED(st))
			break;	/* it exited */
		if (WSTOPSIG(st) == (SIGTRAP | 0x80) ||
		    (st >> 16) == PTRACE_EVENT_STOP) {
			stops++;
			if (log_has(o, go)) {
				held = true;
				break;
			}
		} else {
			sig = WSTOPSIG(st);	/* its own signal: deliver */
		}
		if (ptrace(PTRACE_SYSCALL, succ, NULL, (void *)(long)sig) < 0)
			break;
	}
	if (!held) {
		ft_log("the successor (pid %d) ended before GO (%d stops)",
		       (int)succ, stops);
		show(o);
		show(b);
		return -1;
	}
	spawner_do('K', 0, 0, srv);
	if (ptrace(PTRACE_DETACH, succ, NULL, NULL) < 0) {
		ft_log("ptrace detach: %s", strerror(errno));
		return -1;
	}
	if (!wait_log(b, "upgrade: takeover: pid", 30000) ||
	    !log_has(b, "the old server died after GO")) {
		ft_log("the successor did not serve on after its old server died after GO");
		show(o);
		show(b);
		return -1;
	}
	if (!load_alive(ld)) {
		ft_log("the load failed around the kill after GO");
		return -1;
	}
	ft_log("the old server killed after GO (%d system call stops watched): the successor serves on",
	       stops);
	return succ;
}

/*
 * Server @b, incompatible, is refused in standby; server @o (pid @srv)
 * never notices and serves on.
 */
static bool refused_in_standby(int o, pid_t srv, int b, pid_t ld)
{
	pid_t bad = start(b, 'i');
	int st = spawner_do('W', 0, 0, bad);

	if (st == -1 || (WIFEXITED(st) && WEXITSTATUS(st) == 0) ||
	    !log_has(b, "refused in standby") ||
	    !wait_log(o, "upgrade: failed: refused in standby", 5000) ||
	    kill(srv, 0) < 0 || !load_alive(ld)) {
		ft_log("the incompatible successor was not refused in standby (status %d)",
		       st);
		show(o);
		show(b);
		return false;
	}
	ft_log("an incompatible successor was refused in standby");
	return true;
}

/* The load still runs a moment after @around; if so, says @done. */
static bool settled(pid_t ld, const char *around, const char *done)
{
	usleep(300000);
	if (!load_alive(ld)) {
		ft_log("the load failed around %s", around);
		return false;
	}
	ft_log("%s", done);
	return true;
}

/* Server @b is SIGKILLed while being confirmed: server @o resumes. */
static bool rolled_back(int o, pid_t srv, int b, pid_t ld)
{
	pid_t bad = start(b, 'c');

	if (bad <= 0 || !wait_log(o, about(PARKED_FOR, bad), 30000)) {
		ft_log("the successor to be killed never took over");
		show(o);
		show(b);
		return false;
	}
	usleep(400000);
	spawner_do('K', 0, 0, bad);
	if (!wait_log(o, "served by pid", 10000) || kill(srv, 0) < 0) {
		ft_log("no rollback after the successor was killed");
		show(o);
		return false;
	}
	return settled(ld, "the rollback",
		       "a successor killed while being confirmed: rolled back");
}

#ifndef KUP_OWN_MAIN
#define PROG "/tests/passthrough_hp"
#define OPTS "tag=" TAG ",nopassthrough"

/*
 * `fuse-recover abort` on a kernel-path tag (no supervisor: the tool
 * goes through fusectl): server @n's fresh mount answers ENOTCONN, stays
 * mounted (nothing may land underneath), and the server ends.
 */
static bool aborted(int n)
{
	pid_t srv = start(n, 'f'), c;
	struct stat st;
	int status = -1;

	if (srv <= 0 || !wait_log(n, "mounted", 10000)) {
		ft_log("no server to abort");
		return false;
	}
	c = fork();
	if (c == 0) {
		char out[64];
		int fd;

		snprintf(out, sizeof(out), LOGS "%d.tool", n);
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		setenv("FUSE_RECOVER_RUNTIME_DIR", RUN, 1);
		execl("/tests/fuse-recover", "fuse-recover", "abort", TAG,
		      (char *)NULL);
		_exit(127);
	}
	if (c > 0)
		status = ft_wait_ms(c, 10000);
	if (status != 0 || stat(MNT, &st) == 0 || errno != ENOTCONN ||
	    !ft_file_has("/proc/mounts", MNT " ") ||
	    spawner_do('W', 0, 0, srv) < 0) {
		ft_log("fuse-recover abort: exit status %d, %s: %m: %s",
		       status, MNT, tool_out(n));
		show(n);
		spawner_do('K', 0, 0, srv);
		return false;
	}
	umount2(MNT, MNT_DETACH);
	ft_log("fuse-recover abort: ENOTCONN, still mounted, server ended");
	return true;
}

static const char *const hp_argv[] = {
	PROG, "-f", "-o", OPTS, SRC, MNT, NULL
};
static const char *const hp_bad_argv[] = {
	PROG, "-f", "--noreaddirplus", "-o", OPTS, SRC, MNT, NULL
};

int main(void)
{
	int rep[2], n = 1, st, i;
	pid_t sp, ld = -1, srv, bad;
	bool as_restart = false;
	char restarts[32], upgrades[32];
	const char *counts[] = { restarts, upgrades,
				 "\"refused_upgrades\": 2,", NULL };
	double worst = 0;
	long rounds = 0;

	ft_deadline(85);
	srv_argv = hp_argv;
	bad_argv = hp_bad_argv;
	if (!dirs_for(PROG))
		return FT_SKIP;
	sp = spawner_start();
	if (sp < 0 || pipe(rep) < 0)
		return FT_FAIL;

	ld = first_server(n, rep, &srv);
	if (ld < 0)
		goto fail;

	for (i = 0; i < UPGRADES; i++, n++) {
		srv = upgrade(n, srv, n + 1, true, &worst);
		if (srv <= 0)
			goto fail;
		if (!load_alive(ld)) {
			ft_log("the load failed at upgrade %d", i + 1);
			goto fail;
		}
	}
	ft_log("%d upgrades: every old server retired with resent=0, worst pause %.1f ms",
	       UPGRADES, worst);

	/* Incompatible: refused in standby, the old one never notices. */
	if (!refused_in_standby(n, srv, n + 1, ld) ||
	    /* Killed while being confirmed: the old one resumes. */
	    !rolled_back(n, srv, n + 2, ld))
		goto fail;

	/* The old one killed in standby: the successor takes over. */
	bad = start(n + 3, 'c');
	if (bad <= 0 || !wait_log(n, about(STANDBY_OF, bad), 30000)) {
		ft_log("no standby for the old server's death");
		show(n);
		goto fail;
	}
	spawner_do('K', 0, 0, srv);
	if (!wait_log(n + 3, "upgrade: takeover: pid", 30000)) {
		ft_log("the standby did not take over from the dead server");
		show(n);
		show(n + 3);
		goto fail;
	}
	as_restart = log_has(n + 3, "died before GO");
	ft_log("the old server killed during the upgrade: the successor took over%s",
	       as_restart ? " as a restart" : " (after GO)");
	srv = bad;
	n += 3;
	usleep(300000);

	/* The old one killed after GO: the successor serves on. */
	srv = killed_after_go(n, srv, n + 1, ld);
	if (srv <= 0)
		goto fail;
	n++;
	usleep(300000);

	/* Both killed while it is confirmed: the next start recovers. */
	bad = start(n + 1, 'c');
	if (bad <= 0 || !wait_log(n, about(PARKED_FOR, bad), 30000)) {
		ft_log("the successor to be killed with its predecessor never took over");
		show(n);
		show(n + 1);
		goto fail;
	}
	spawner_do('K', 0, 0, bad);
	spawner_do('K', 0, 0, srv);
	n += 2;
	srv = start(n, 'f');
	if (srv <= 0 || !wait_log(n, "recovered the mount", 20000)) {
		ft_log("no recovery after both servers died mid-upgrade");
		show(n);
		goto fail;
	}
	if (!load_alive(ld)) {
		ft_log("the load failed around the crashes");
		goto fail;
	}
	ft_log("both servers killed mid-upgrade: the next start recovered");

	/* And a server can still be upgraded. */
	srv = upgrade(n, srv, n + 1, false, &worst);
	if (srv <= 0)
		goto fail;
	n++;
	usleep(300000);

	/* The same through the command. */
	srv = tool_upgrade(n, srv, n + 1, 'u');
	if (srv <= 0)
		goto fail;
	n++;
	if (!tool_refused(n, srv, n + 1, 'i', "upgrade: failed: ") ||
	    !tool_refused(n, srv, n + 2, 'c', "served by pid"))
		goto fail;
	if (!load_alive(ld)) {
		ft_log("the load failed around fuse-recover upgrade");
		goto fail;
	}
	ft_log("fuse-recover upgrade: done, refused, rolled back, as it says");

	rounds = load_end(ld, rep[0]);
	ld = -1;
	if (rounds < 0)
		goto fail;
	/*
	 * The counts the servers kept: the standby that took over from a
	 * dead server before GO and the start after both died are restarts;
	 * the rollbacks are left out (the old server killed right after its
	 * successor may or may not have begun one).
	 */
	snprintf(restarts, sizeof(restarts), "\"restarts\": %d,",
		 1 + as_restart);
	snprintf(upgrades, sizeof(upgrades), "\"upgrades\": %d,",
		 UPGRADES + 2);
	if (!tool_names("status", srv, counts) ||
	    !tool_names("list", srv, NULL))
		goto fail;
	kill(srv, SIGTERM);
	/* Not the spawner's child: the tool started it. */
	st = exited_within(srv, 30000) ? 0 : -1;
	if (st == -1 || ft_file_has("/proc/mounts", MNT " ") ||
	    access(RUN "/" TAG ".upgrade", F_OK) == 0) {
		ft_log("SIGTERM did not unmount cleanly (status %d)", st);
		show(n);
		goto fail;
	}
	if (!aborted(n + 1))
		goto fail;
	ft_log("%ld load rounds, zero errors, worst pause %.1f ms", rounds,
	       worst);
	close(to_spawner);
	waitpid(sp, NULL, 0);
	return FT_PASS;
fail:
	if (ld > 0)
		ft_kill(ld);
	close(to_spawner);
	waitpid(sp, NULL, 0);
	umount2(MNT, MNT_DETACH);
	return FT_FAIL;
}
#endif
