// SPDX-License-Identifier: GPL-2.0
/*
 * lib-upgrade-xl - live upgrade on the kernel path of a server under the
 * translation layer: test/servers/ptrfs (node ids are addresses, file
 * handles fd numbers, no state store), which knows nothing of upgrades.
 * The successor must map the id table the old server kept
 * (RUNTIME_DIR/TAG.keep-*), the same file, or the kernel's node ids and
 * handles (a dentry cached for an hour, a file open all along) would name
 * nothing in it.  lib-upgrade.c's machinery, three loops, each under the
 * data-verifying load:
 *  - multi-threaded: UPGRADES_MT upgrades in a row, each old server
 *    retiring with resent=0, then a successor with the writeback cache
 *    (other INIT capabilities) refused in standby and one SIGKILLed while
 *    being confirmed (rollback); `fuse-recover upgrade` to daemonizing
 *    successors (no -f), an incompatible one reported refused with the
 *    old server's reason, a compatible one serving under the daemon's
 *    pid; the counts in `fuse-recover status --json`, and with the server
 *    SIGSTOPped the requests waiting for it in `status` and `list`; then
 *    CRASHES crash restarts (SIGKILL, the next server reattaching), and
 *    the worst stat() gap of each upgrade and each restart printed
 *    (median, p99);
 *  - clone_fd (a /dev/fuse fd per thread) and single-threaded (-s): three
 *    upgrades, a refusal and a rollback each;
 *  - servers that daemonize after attaching (-o late_daemon): the child
 *    answers status and is upgraded twice through the command;
 * the id table file the same inode from the first server to the last,
 * zero errors in the load, and SIGTERM at the end unmounts.
 */
#define TAG "kx"
#define MNT "/mnt/kxl"
#define SRC "/mnt/kxl-src"
#define RUN "/tmp/kxl-run"
#define LOGS "/tmp/kxl"
#define KUP_OWN_MAIN
#define KUP_NAME "lib-upgrade-xl"
#include "lib-upgrade.c"

#include <dirent.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <time.h>

#define PROG "/tests/ptrfs"
/* Dentries cached long, attributes never: every stat() is a GETATTR of
 * a node id an earlier server gave out. */
#define OPTS "tag=" TAG ",entry_timeout=3600,attr_timeout=0,source=" SRC
#define UPGRADES_MT 40
#define CRASHES 10

struct flavour {
	const char *name;
	const char *argv[8], *bad[8];
	int upgrades;
	const char *daemon[8], *daemon_bad[8];	/* for the command */
	int crashes;	/* crash restarts (SIGKILL) timed after all that */
};

static const struct flavour flavours[] = {
	{ "multi-threaded", { PROG, "-f", "-o", OPTS, MNT },
	  { PROG, "-f", "-o", OPTS ",writeback", MNT }, UPGRADES_MT,
	  { PROG, "-o", OPTS, MNT }, { PROG, "-o", OPTS ",writeback", MNT },
	  CRASHES },
	{ "clone_fd", { PROG, "-f", "-o", OPTS ",clone_fd", MNT },
	  { PROG, "-f", "-o", OPTS ",clone_fd,writeback", MNT }, 3 },
	{ "single-threaded", { PROG, "-f", "-s", "-o", OPTS, MNT },
	  { PROG, "-f", "-s", "-o", OPTS ",writeback", MNT }, 3 },
};

/*
 * The inode of the tag's kept id table (key 1 of kind 1, lib/kattach.c's
 * TAG.keep-KIND-KEY); 0: none.
 */
static ino_t id_table(void)
{
	struct stat st;

	return stat(RUN "/" TAG ".keep-1-1", &st) == 0 ? st.st_ino : 0;
}

/* No kept file of the tag is left. */
static bool none_kept(void)
{
	DIR *d = opendir(RUN);
	struct dirent *e;
	bool none = true;

	while (d && (e = readdir(d)))
		if (!strncmp(e->d_name, TAG ".keep-", strlen(TAG ".keep-")))
			none = false;
	if (d)
		closedir(d);
	return none;
}

/* No server from @first to @last lost the old one's ids. */
static bool ids_kept(int first, int last)
{
	int i;

	for (i = first; i <= last; i++)
		if (log_has(i, "left no id map") ||
		    log_has(i, "id map of the previous server refused")) {
			ft_log("server %d did not take the id table over", i);
			show(i);
			return false;
		}
	return true;
}

/*
 * What an application sees of a pause: a process stat()ing a file in a
 * loop (attr_timeout=0: each one a GETATTR) keeps the longest gap between
 * two of its stat()s returning, in memory shared with us; reset before an
 * upgrade or a crash restart, read once the new server serves.
 */
static _Atomic long long *gap_us;
static pid_t gapper = -1;

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static bool gapper_start(void)
{
	gap_us = mmap(NULL, sizeof(*gap_us), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (gap_us == MAP_FAILED)
		return false;
	gapper = fork();
	if (gapper == 0) {
		long long prev = now_us(), t;
		struct stat st;

		for (;;) {
			if (stat(MNT "/kept", &st) < 0)
				_exit(1);
			t = now_us();
			if (t - prev > *gap_us)
				*gap_us = t - prev;
			prev = t;
		}
	}
	return gapper > 0;
}

static void gapper_stop(void)
{
	if (gapper > 0)
		ft_kill(gapper);
	gapper = -1;
	if (gap_us && gap_us != MAP_FAILED)
		munmap(gap_us, sizeof(*gap_us));
	gap_us = NULL;
}

/* Worst gaps in ms: one per upgrade, one per crash restart. */
static double up_gaps[UPGRADES_MT], crash_gaps[CRASHES];

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void gap_figures(const char *what, double *g, int n)
{
	qsort(g, n, sizeof(*g), cmp_double);
	ft_log("%s: worst stat() gap median %.1f ms, p99 %.1f ms, max %.1f ms (%d)",
	       what, g[n / 2], g[(n * 99 + 99) / 100 - 1], g[n - 1], n);
}

/*
 * Server *@n (pid *@srv) SIGKILLed @count times under the load, the next
 * one started each time reattaching through the kernel; the gaps timed.
 */
static bool crash_restarts(int *n, pid_t *srv, int count)
{
	int i;

	for (i = 0; i < count; i++) {
		*gap_us = 0;
		kill(*srv, SIGKILL);
		if (!exited_within(*srv, 10000))
			return false;
		(*n)++;
		*srv = start(*n, 'f');
		if (*srv <= 0 || !wait_log(*n, "recovered the mount", 20000)) {
			ft_log("no recovery after crash %d", i + 1);
			show(*n);
			return false;
		}
		usleep(100000);	/* the stat() after the new server's first */
		crash_gaps[i] = *gap_us / 1000.0;
	}
	return true;
}

/*
 * `fuse-recover upgrade` with a successor that daemonizes (its parent
 * exits 0 at once, stderr goes to /dev/null): an incompatible one is
 * reported refused with the old server's reason, a compatible one as
 * serving under the daemon's pid.  Server *@n (pid *@srv) then is it.
 */
static bool daemonized(int *n, pid_t *srv, pid_t ld)
{
	pid_t pid;

	if (!tool_refused(*n, *srv, *n + 3, 'D', "upgrade: failed: "))
		return false;
	pid = tool_upgrade(*n, *srv, *n + 4, 'd');
	if (pid <= 0)
		return false;
	*n += 4;
	*srv = pid;
	return settled(ld, "the daemonizing successors",
		       "fuse-recover upgrade to daemonizing successors: refused, done");
}

/*
 * The server @srv stopped (SIGSTOP) while the load and the stat() loop
 * run: it cannot answer `fuse-recover status`, which still names the
 * mount and counts the requests waiting for it; `list` too.
 */
static bool stopped(pid_t srv)
{
	bool ok;

	kill(srv, SIGSTOP);
	usleep(300000);
	ok = tool_names("status", 0, NULL) && tool_names("list", 0, NULL);
	kill(srv, SIGCONT);
	if (ok)
		ft_log("a stopped server: status and list count the waiting requests");
	return ok;
}

/* One mount, its upgrades, a refusal, a rollback, SIGTERM; false: failed. */
static bool run(const struct flavour *f, int *np, double *worst)
{
	int rep[2], n = *np, st, i;
	char want[2][48];
	const char *counts[] = { want[0], want[1], "\"rollbacks\": 1,",
				 "\"restarts\": 0,", NULL };
	pid_t ld = -1, srv;
	long rounds = 0;
	ino_t ids;

	if (pipe(rep) < 0)
		return false;
	ld = first_server(n, rep, &srv);
	if (ld < 0)
		goto fail;
	ids = id_table();
	if (!ids) {
		ft_log("%s: no id table " RUN "/" TAG ".keep-1-1", f->name);
		show(n);
		goto fail;
	}
	if (!gapper_start())
		goto fail;
	for (i = 0; i < f->upgrades; i++, n++) {
		*gap_us = 0;
		srv = upgrade(n, srv, n + 1, true, worst);
		if (srv <= 0)
			goto fail;
		usleep(50000);	/* the stat() after the new server's first */
		if (i < UPGRADES_MT)
			up_gaps[i] = *gap_us / 1000.0;
		if (!load_alive(ld)) {
			ft_log("%s: the load failed at upgrade %d", f->name,
			       i + 1);
			goto fail;
		}
	}
	ft_log("%s: %d upgrades, every old server retired with resent=0",
	       f->name, f->upgrades);
	if (!refused_in_standby(n, srv, n + 1, ld) ||
	    !rolled_back(n, srv, n + 2, ld))
		goto fail;
	if (id_table() != ids || !ids_kept(*np, n)) {
		ft_log("%s: the id table was replaced", f->name);
		goto fail;
	}
	if (f->daemon[0] && !daemonized(&n, &srv, ld))
		goto fail;
	/* What the servers counted, in `fuse-recover status`. */
	snprintf(want[0], sizeof(want[0]), "\"upgrades\": %d,",
		 f->upgrades + !!f->daemon[0]);
	snprintf(want[1], sizeof(want[1]), "\"refused_upgrades\": %d,",
		 1 + !!f->daemon[0]);
	if (!tool_names("status", srv, counts) ||
	    (f->crashes && !stopped(srv)))
		goto fail;
	if (f->crashes) {
		if (!crash_restarts(&n, &srv, f->crashes) || !load_alive(ld)) {
			ft_log("%s: crash restarts failed", f->name);
			goto fail;
		}
		gap_figures("upgrade", up_gaps, f->upgrades);
		gap_figures("crash restart", crash_gaps, f->crashes);
	}
	gapper_stop();
	rounds = load_end(ld, rep[0]);
	ld = -1;
	if (rounds < 0)
		goto fail;
	kill(srv, SIGTERM);
	/* Not the spawner's child if the command started it. */
	st = exited_within(srv, 30000) ? 0 : -1;
	if (st == -1 || ft_file_has("/proc/mounts", MNT " ") ||
	    access(RUN "/" TAG ".upgrade", F_OK) == 0 || !none_kept()) {
		ft_log("%s: SIGTERM did not unmount cleanly (status %d)",
		       f->name, st);
		show(n);
		goto fail;
	}
	ft_log("%s: %ld load rounds, zero errors, the same id table throughout",
	       f->name, rounds);
	close(rep[0]);
	*np = n + 5;
	return true;
fail:
	gapper_stop();
	if (ld > 0)
		ft_kill(ld);
	close(rep[0]);
	if (rep[1] >= 0)
		close(rep[1]);
	umount2(MNT, MNT_DETACH);
	return false;
}

/* The pid `fuse-recover status` says serves, within @ms; 0: none did. */
static pid_t serving_pid(int ms)
{
	long long end = ft_now_ms() + ms;
	char out[4096];
	const char *p;
	int pid;

	do {
		tool_json("status", out, sizeof(out));
		p = strstr(out, "\"server_pid\": ");
		if (p && sscanf(p, "\"server_pid\": %d", &pid) == 1 && pid > 0)
			return pid;
		usleep(200000);
	} while (ft_now_ms() < end);
	ft_log("no server says it serves: %s", out);
	return 0;
}

static const char *const late_argv[] = {
	PROG, "-f", "-o", OPTS ",late_daemon", MNT, NULL
};

/*
 * Servers that daemonize after attaching (-o late_daemon: the parent
 * exits once the child runs, as with libfuse's examples): the child,
 * not the parent, answers `fuse-recover status` and takes successors,
 * which daemonize the same way; two upgrades in a row under the load.
 * Their logs go to /dev/null, so only the command tells.
 */
static bool late_daemons(int *np)
{
	int rep[2] = { -1, -1 }, n = *np, i, st;
	pid_t srv, old, ld = -1, tool;
	char want[64];
	bool ok = false;

	srv_argv = late_argv;
	if (spawner_start() < 0 || pipe(rep) < 0)
		return false;
	ld = first_server(n, rep, &srv);
	if (ld < 0)
		goto out;
	if (spawner_do('W', 0, 0, srv) != 0 || !(srv = serving_pid(10000))) {
		ft_log("late daemon: the forked child does not answer");
		goto out;
	}
	for (i = 1; i <= 2; i++) {
		old = srv;
		tool = spawner_do('U', 'u', n + i, 0);
		st = spawner_do('W', 0, 0, tool);
		snprintf(want, sizeof(want), "upgraded tag " TAG ": pid ");
		if (st != 0 || !strstr(tool_out(n + i), want) ||
		    !exited_within(old, 10000) ||
		    !(srv = serving_pid(10000)) || srv == old ||
		    !load_alive(ld)) {
			ft_log("late daemon: upgrade %d: status %d, said: %s", i,
			       st, tool_out(n + i));
			goto out;
		}
	}
	if (load_end(ld, rep[0]) < 0)
		goto out;
	ld = -1;
	kill(srv, SIGTERM);
	if (!exited_within(srv, 30000) || ft_file_has("/proc/mounts", MNT " ")) {
		ft_log("late daemon: SIGTERM did not unmount cleanly");
		goto out;
	}
	ft_log("servers daemonizing after attaching: status answered, 2 upgrades");
	ok = true;
out:
	if (ld > 0)
		ft_kill(ld);
	close(rep[0]);
	if (rep[1] >= 0)
		close(rep[1]);
	close(to_spawner);
	close(from_spawner);
	if (!ok)
		umount2(MNT, MNT_DETACH);
	*np = n + 3;
	return ok;
}

/* Its own spawner for each flavour: it execs srv_argv and bad_argv. */
static bool run_flavour(const struct flavour *f, int *n, double *worst)
{
	bool ok;
	pid_t sp;

	srv_argv = f->argv;
	bad_argv = f->bad;
	daemon_argv = f->daemon;
	daemon_bad_argv = f->daemon_bad;
	sp = spawner_start();
	if (sp < 0)
		return false;
	ok = run(f, n, worst);
	close(to_spawner);
	close(from_spawner);
	waitpid(sp, NULL, 0);
	return ok;
}

int main(void)
{
	double worst = 0;
	unsigned int i;
	int n = 1;

	ft_deadline(85);
	if (!dirs_for(PROG))
		return FT_SKIP;
	for (i = 0; i < sizeof(flavours) / sizeof(flavours[0]); i++)
		if (!run_flavour(&flavours[i], &n, &worst))
			break;
	if (i < sizeof(flavours) / sizeof(flavours[0]) || !late_daemons(&n))
		return FT_FAIL;
	ft_log("worst pause %.1f ms", worst);
	return FT_PASS;
}
