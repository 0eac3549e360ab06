// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * xlate: what the library's node id / file handle translation costs when a
 * server restarts.  The server is test/servers/pathfs or ptrfs (pointer
 * node ids), tagged, restarted externally (SIGKILL, then the same command
 * again).  ptrfs holds an O_PATH fd per node, so --nodes is bounded by the
 * hard RLIMIT_NOFILE; pathfs holds none (--no-fd-per-node).
 *
 *   xlate --server SERVER --src DIR --mnt DIR [--nodes N] [--kills K]
 *         [--depth D] [--sample M] [--log FILE] [--no-fd-per-node]
 *
 * Prints three tables:
 *  1. restart: from the dead server reaped until a new name is answered,
 *     with the kernel holding no nodes of the dead server vs N (default
 *     100000) nodes; medians over K kills each, and the ratio (target <=
 *     2x); the time the kernel took to reap the dying server, which grows
 *     with what ptrfs itself held, separately;
 *  2. first access after a restart per node: stat of M nodes the kernel
 *     got from the dead server (each one re-resolved on first use) vs the
 *     same stats once resolved;
 *  3. first access per path depth: stat of a file D levels deep, first
 *     after a restart (its directories re-resolved too) vs once resolved.
 *
 * Entries are cached for an hour and attributes not at all, so a path walk
 * keeps the kernel's node ids and every stat asks the server with one.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_KILLS 1000
#define MAX_DEPTH 32

static const char *server, *src, *mnt;
static int nodes = 100000, kills = 20, depth = 8, sample = 1000;
static int logfd = -1;
static char *argv_srv[8];
static pid_t pid;
static int probe;
static int fd_per_node = 1;

/*
 * ptrfs keeps an O_PATH fd per node (as passthrough_ll does) and raises its
 * soft limit to the hard one: give it a hard limit that fits --nodes.
 */
static void raise_fd_limit(void)
{
	struct rlimit rl = { 0 };
	long max = 0;
	FILE *f;

	if (!fd_per_node)
		return;
	f = fopen("/proc/sys/fs/nr_open", "re");
	if (f) {
		if (fscanf(f, "%ld", &max) != 1)
			max = 0;
		fclose(f);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && max > (long)rl.rlim_max) {
		rl.rlim_max = max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_max < (rlim_t)nodes + 1000)
		die("fd limit %lu is too small for %d nodes of ptrfs",
		    (unsigned long)rl.rlim_max, nodes);
}

static void stop_server(void)
{
	if (pid > 0) {
		kill(pid, SIGKILL);
		wait_exit(pid, 5000);
		pid = 0;
	}
	if (mnt && fuse_mounted(mnt))
		umount2(mnt, MNT_DETACH);
}

static void start(void)
{
	pid = spawn(argv_srv, logfd);
}

static void xstat(const char *p)
{
	struct stat st;

	if (stat(p, &st) < 0)
		die("stat %s: %s", p, strerror(errno));
}

static void touch_src(const char *rel)
{
	char p[4200];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", src, rel);
	fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0)
		die("create %s: %s", p, strerror(errno));
	close(fd);
}

/*
 * SIGKILL, start the same command, and time until a name the kernel never
 * saw is answered (it waits in the kernel while no server runs).  @death
 * gets the part until the dead server was reaped: the kernel tearing down
 * its fds and memory, which grows with what the server itself held.
 */
static double restart_ms(double *death)
{
	char rel[64], p[4200];
	uint64_t t0, t1;

	snprintf(rel, sizeof(rel), "probe%d", probe++);
	touch_src(rel);
	snprintf(p, sizeof(p), "%s/%s", mnt, rel);
	t0 = now_ns();
	kill(pid, SIGKILL);
	if (!wait_exit(pid, 5000))
		die("server did not die");
	t1 = now_ns();
	start();
	xstat(p);
	if (death)
		*death = (t1 - t0) / 1e6;
	return (now_ns() - t1) / 1e6;
}

/* Medians of kills restarts: takeover (after the reap) and death. */
static void median_restart(double *takeover, double *death)
{
	double v[MAX_KILLS], d[MAX_KILLS];
	int k;

	for (k = 0; k < kills; k++)
		v[k] = restart_ms(&d[k]);
	*takeover = quantile(v, kills, 0.5);
	*death = quantile(d, kills, 0.5);
}

/* N files in SRC/many, each stat'ed once through the mount. */
static void make_many(void)
{
	char p[4200];
	int i;

	snprintf(p, sizeof(p), "%s/many", src);
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		die("mkdir %s: %s", p, strerror(errno));
	for (i = 0; i < nodes; i++) {
		snprintf(p, sizeof(p), "many/f%d", i);
		touch_src(p);
	}
	for (i = 0; i < nodes; i++) {
		snprintf(p, sizeof(p), "%s/many/f%d", mnt, i);
		xstat(p);
	}
}

/* Microseconds per stat of many/f0..f(m-1). */
static double stat_many_us(int m)
{
	char p[4200];
	uint64_t t0 = now_ns();
	int i;

	for (i = 0; i < m; i++) {
		snprintf(p, sizeof(p), "%s/many/f%d", mnt, i);
		xstat(p);
	}
	return (now_ns() - t0) / 1e3 / m;
}

static void path_at_depth(char *p, size_t len, const char *top, int d)
{
	int n = snprintf(p, len, "%s/deep", top), i;

	for (i = 1; i < d; i++)
		n += snprintf(p + n, len - n, "/d%d", i);
	snprintf(p + n, len - n, "/file");
}

static void make_deep(void)
{
	char p[4200];
	int d, n;

	for (d = 1; d <= depth; d++) {
		n = snprintf(p, sizeof(p), "%s/deep", src);
		for (int i = 1; i < d; i++)
			n += snprintf(p + n, sizeof(p) - n, "/d%d", i);
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			die("mkdir %s: %s", p, strerror(errno));
		snprintf(p + n, sizeof(p) - n, "/file");
		close(open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
	}
	for (d = 1; d <= depth; d++) {
		path_at_depth(p, sizeof(p), mnt, d);
		xstat(p);
	}
}

static double one_stat_us(const char *p)
{
	uint64_t t0 = now_ns();

	xstat(p);
	return (now_ns() - t0) / 1e3;
}

int main(int argc, char *argv[])
{
	static const struct option lopts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "src", required_argument, NULL, 'S' },
		{ "mnt", required_argument, NULL, 'm' },
		{ "nodes", required_argument, NULL, 'n' },
		{ "kills", required_argument, NULL, 'k' },
		{ "depth", required_argument, NULL, 'd' },
		{ "sample", required_argument, NULL, 'M' },
		{ "log", required_argument, NULL, 'l' },
		{ "no-fd-per-node", no_argument, NULL, 'F' },
		{ 0 }
	};
	static double first[MAX_DEPTH + 1][MAX_KILLS];
	static double later[MAX_DEPTH + 1][MAX_KILLS];
	double empty, full, dempty, dfull, f1[MAX_KILLS], s1[MAX_KILLS];
	static char opts[4200];
	const char *log = NULL;
	char p[4200];
	int opt, d, k;

	while ((opt = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (opt) {
		case 's': server = optarg; break;
		case 'S': src = optarg; break;
		case 'm': mnt = optarg; break;
		case 'n': nodes = atoi(optarg); break;
		case 'k': kills = atoi(optarg); break;
		case 'd': depth = atoi(optarg); break;
		case 'M': sample = atoi(optarg); break;
		case 'l': log = optarg; break;
		case 'F': fd_per_node = 0; break;
		default:
			fprintf(stderr, "usage: xlate --server SERVER --src DIR --mnt DIR [--nodes N] [--kills K] [--depth D] [--sample M] [--log FILE] [--no-fd-per-node]\n");
			return 2;
		}
	}
	if (!server || !src || !mnt || kills < 1 || kills > MAX_KILLS ||
	    depth < 1 || depth > MAX_DEPTH || nodes < 1 || sample < 1)
		die("need --server, --src, --mnt; 1 <= kills <= %d, 1 <= depth <= %d",
		    MAX_KILLS, MAX_DEPTH);
	if (sample > nodes)
		sample = nodes;
	if (log) {
		logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
			     0644);
		if (logfd < 0)
			die("%s: %s", log, strerror(errno));
	}
	snprintf(opts, sizeof(opts),
		 "tag=xlate,recover_restarts=1000000,entry_timeout=3600,attr_timeout=0,source=%s",
		 src);
	argv_srv[0] = (char *)server;
	argv_srv[1] = "-f";
	argv_srv[2] = "-o";
	argv_srv[3] = opts;
	argv_srv[4] = (char *)mnt;
	argv_srv[5] = NULL;
	raise_fd_limit();
	on_die(stop_server);
	start();
	if (!wait_mounted(mnt, pid, 10000))
		die("%s did not mount %s%s%s", server, mnt, log ? "; see " : "",
		    log ? log : "");
	/*
	 * The first server hands the connection to the supervisor after it
	 * mounted: a SIGKILL before that would end the mount.
	 */
	xstat(mnt);
	sleep_ms(200);

	/* 1. restart cost, empty vs N cached nodes. */
	median_restart(&empty, &dempty);
	make_many();
	median_restart(&full, &dfull);
	printf("| restart: from the dead server reaped until a new name is answered | median of %d | dying server reaped after |\n|---|---|---|\n",
	       kills);
	printf("| no nodes cached | %.2f ms | %.2f ms |\n", empty, dempty);
	printf("| %d nodes cached | %.2f ms | %.2f ms |\n", nodes, full, dfull);
	printf("| ratio | %.2fx (target <= 2x: %s) | %.2fx |\n\n", full / empty,
	       full / empty <= 2 ? "met" : "**missed**", dfull / dempty);
	printf(fd_per_node ?
	       "The dying server's part (closing an O_PATH fd per node) is its own, not the library's.\n\n" :
	       "The dying server's part (freeing its nodes) is its own, not the library's.\n\n");

	/* 2. first access per node after a restart. */
	for (k = 0; k < kills && k < 5; k++) {
		restart_ms(NULL);
		f1[k] = stat_many_us(sample);
		s1[k] = stat_many_us(sample);
	}
	printf("| stat of a node the dead server handed out | per node |\n|---|---|\n");
	printf("| first after a restart (re-resolved) | %.1f us |\n",
	       quantile(f1, k, 0.5));
	printf("| once resolved | %.1f us |\n", quantile(s1, k, 0.5));
	printf("\n%d nodes stat'ed, median of %d restarts.\n\n", sample, k);

	/* 3. first access per path depth: one restart per measurement. */
	make_deep();
	for (k = 0; k < kills; k++) {
		for (d = 1; d <= depth; d++) {
			restart_ms(NULL);
			path_at_depth(p, sizeof(p), mnt, d);
			first[d][k] = one_stat_us(p);
			later[d][k] = one_stat_us(p);
		}
	}
	printf("| depth | first stat after a restart | once resolved |\n|---|---|---|\n");
	for (d = 1; d <= depth; d++)
		printf("| %d | %.1f us | %.1f us |\n", d,
		       quantile(first[d], kills, 0.5),
		       quantile(later[d], kills, 0.5));
	printf("\nmedians of %d restarts per depth; depth 1 is a file in the top directory.\n",
	       kills);
	stop_server();
	return 0;
}
