// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ptbench: data-path throughput of a few directories side by side, for
 * passthrough on vs off vs the backing filesystem itself.
 *
 *   ptbench --dir LABEL=DIR [--dir LABEL=DIR ...] [--rounds N] [--mib N]
 *           [--secs S] [--files N] [--buffered]
 *
 * Every round runs each workload on every directory in turn, starting with
 * another directory each round (so a slow moment of the machine hits all
 * of them, and none always runs first); reported: the median over the
 * rounds per directory, and each directory's ratio to the last one (the
 * backing filesystem or the reference server, when given last): the
 * median and range of the per-round ratios.
 * Workloads:
 *   create, stat,      with --files N: N empty files in a new directory
 *   unlink             (rate: files/s)
 *   1 MiB seq write    a new file of MIB MiB, 1 MiB write()s, then close
 *                      (the old one unlinked before, and its freeing by the
 *                      server waited for: server_settle())
 *   1 MiB seq read     that file, 1 MiB read()s, opened anew
 *   4k random read     O_DIRECT preads (every one reaches the server on a
 *                      FUSE mount without passthrough), SECS s, 1 and 4
 *                      threads with an fd each
 *   ..., one CPU       the one-job run again with the job and every
 *                      thread of the directory's server (--pid) on one
 *                      CPU: one job is latency-bound, and on a VM whose
 *                      idle vCPUs halt each cross-CPU wake-up costs what
 *                      the hypervisor makes of it (A/A runs of the row
 *                      above swing by tens of percent; this one by a few)
 *   4k random read,    with --buffered: the same without O_DIRECT, on fds
 *   buffered           opened after the sequential read (what the mount's
 *                      page cache keeps across opens decides these)
 */
#include "bench.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DIRS 4
#define MAX_ROUNDS 32
#define MIB (1024 * 1024)
#define MAX_JOBS 4

enum {
	W_CREATE, W_STAT, W_UNLINK, W_SEQWRITE, W_SEQREAD, W_RAND1, W_RAND1P,
	W_RAND4, W_BRAND1, W_BRAND4, W_N
};

static const struct {
	const char *name;
	const char *unit;
} wl[W_N] = {
	[W_CREATE] = { "create", "files/s" },
	[W_STAT] = { "stat", "files/s" },
	[W_UNLINK] = { "unlink", "files/s" },
	[W_SEQWRITE] = { "1 MiB seq write", "MiB/s" },
	[W_SEQREAD] = { "1 MiB seq read", "MiB/s" },
	[W_RAND1] = { "4k random read, 1 job", "IOPS" },
	[W_RAND1P] = { "4k random read, 1 job, one CPU", "IOPS" },
	[W_RAND4] = { "4k random read, 4 jobs", "IOPS" },
	[W_BRAND1] = { "4k random read, buffered, 1 job", "IOPS" },
	[W_BRAND4] = { "4k random read, buffered, 4 jobs", "IOPS" },
};

static const char *label[MAX_DIRS], *dir[MAX_DIRS];
static int ndirs, rounds = 3, mib = 256, nfiles;
static bool buffered;
static double secs = 2;
static double result[MAX_DIRS][W_N][MAX_ROUNDS];
static double cpu_per[MAX_DIRS][W_N][MAX_ROUNDS];	/* ns per unit */
static pid_t server[MAX_DIRS];
static char *buf;

/*
 * Rate and CPU time per unit of one run: the calling thread's, the random
 * read jobs' (they add their own to jobs_cpu) and the server's, all its
 * threads.  On a loaded machine rates swing from run to run; the CPU time
 * an operation costs does not.
 */
static struct {
	uint64_t t0, app0, srv0;
} meter;
static uint64_t jobs_cpu;

static void meter_begin(int d)
{
	jobs_cpu = 0;
	meter.srv0 = server_cpu_ns(server[d]);
	meter.app0 = thread_cpu_ns();
	meter.t0 = now_ns();
}

static void meter_end(int d, int w, int r, double units)
{
	uint64_t t = now_ns() - meter.t0;
	uint64_t app = thread_cpu_ns() - meter.app0;
	uint64_t srv = server[d] ? server_cpu_ns(server[d]) - meter.srv0 : 0;

	result[d][w][r] = units / (t / 1e9);
	cpu_per[d][w][r] = (app + __atomic_load_n(&jobs_cpu, __ATOMIC_RELAXED) +
			    srv) / units;
}

static void path_of(char *p, size_t n, int d, const char *name)
{
	snprintf(p, n, "%s/%s", dir[d], name);
}

/*
 * Wait until the server of directory @d has gone quiet (its CPU time grew
 * by less than 1 % over two 5 ms intervals in a row; 2 s at most).  An
 * unlink on a FUSE mount returns before the file's data is freed: the
 * kernel queues a FORGET when it evicts the inode, and the server drops the
 * last reference to the backing file only then (its node fd and, with
 * passthrough, the backing id), so tmpfs frees the pages of the old file in
 * that server's thread, some milliseconds later.  The backing tmpfs itself
 * frees them inside unlink(), before its meter starts; without the wait a
 * FUSE mount would pay the old file's freeing in the next write's time
 * (about 130 us per MiB of a 64 MiB file here).
 */
static void server_settle(int d)
{
	uint64_t before, after;
	int quiet = 0, i;

	if (!server[d])
		return;
	before = server_cpu_ns(server[d]);
	for (i = 0; i < 400 && quiet < 2; i++) {
		sleep_ms(5);
		after = server_cpu_ns(server[d]);
		quiet = after - before < 50000 ? quiet + 1 : 0;
		before = after;
	}
}

static void seqwrite(int d, int r)
{
	char p[4096];
	int fd, i;

	path_of(p, sizeof(p), d, "ptbench.data");
	unlink(p);
	server_settle(d);
	meter_begin(d);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die("%s: %s", p, strerror(errno));
	for (i = 0; i < mib; i++)
		if (write(fd, buf, MIB) != MIB)
			die("write %s: %s", p, strerror(errno));
	if (close(fd) < 0)
		die("close %s: %s", p, strerror(errno));
	meter_end(d, W_SEQWRITE, r, mib);
}

static void seqread(int d, int r)
{
	char p[4096];
	ssize_t n;
	long total = 0;
	int fd;

	path_of(p, sizeof(p), d, "ptbench.data");
	meter_begin(d);
	fd = open(p, O_RDONLY);
	if (fd < 0)
		die("%s: %s", p, strerror(errno));
	while ((n = read(fd, buf, MIB)) > 0)
		total += n;
	if (n < 0 || total != (long)mib * MIB)
		die("read %s: %s", p, n < 0 ? strerror(errno) : "short");
	close(fd);
	meter_end(d, W_SEQREAD, r, mib);
}

/* @nfiles files in a new directory: create, stat, unlink rates of round @r. */
static void metadata(int d, int r)
{
	char top[4096], p[4200];
	struct stat st;
	int i, fd;

	snprintf(top, sizeof(top), "%s/ptbench.meta.%d", dir[d], r);
	if (mkdir(top, 0755) < 0)
		die("mkdir %s: %s", top, strerror(errno));
	meter_begin(d);
	for (i = 0; i < nfiles; i++) {
		snprintf(p, sizeof(p), "%s/f%d", top, i);
		fd = open(p, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
		if (fd < 0)
			die("create %s: %s", p, strerror(errno));
		close(fd);
	}
	meter_end(d, W_CREATE, r, nfiles);
	meter_begin(d);
	for (i = 0; i < nfiles; i++) {
		snprintf(p, sizeof(p), "%s/f%d", top, i);
		if (stat(p, &st) < 0)
			die("stat %s: %s", p, strerror(errno));
	}
	meter_end(d, W_STAT, r, nfiles);
	meter_begin(d);
	for (i = 0; i < nfiles; i++) {
		snprintf(p, sizeof(p), "%s/f%d", top, i);
		if (unlink(p) < 0)
			die("unlink %s: %s", p, strerror(errno));
	}
	meter_end(d, W_UNLINK, r, nfiles);
	if (rmdir(top) < 0)
		die("rmdir %s: %s", top, strerror(errno));
}

struct job {
	int d;
	int flags;
	uint64_t end;
	long ios;
	unsigned int seed;
};

static void *randread_job(void *arg)
{
	struct job *j = arg;
	char p[4096];
	void *b;
	long blocks = (long)mib * (MIB / 4096);
	int fd;

	path_of(p, sizeof(p), j->d, "ptbench.data");
	fd = open(p, O_RDONLY | j->flags);
	if (fd < 0)
		die("%s: %s", p, strerror(errno));
	if (posix_memalign(&b, 4096, 4096))
		die("no memory");
	while (now_ns() < j->end) {
		int i;

		for (i = 0; i < 64; i++) {
			off_t off = (off_t)(rand_r(&j->seed) % blocks) * 4096;

			if (pread(fd, b, 4096, off) != 4096)
				die("pread %s: %s", p, strerror(errno));
		}
		j->ios += 64;
	}
	free(b);
	close(fd);
	__atomic_add_fetch(&jobs_cpu, thread_cpu_ns(), __ATOMIC_RELAXED);
	return NULL;
}

static void randread(int d, int w, int r, int njobs, int flags)
{
	struct job j[MAX_JOBS];
	pthread_t t[MAX_JOBS];
	long ios = 0;
	int i;

	meter_begin(d);
	for (i = 0; i < njobs; i++) {
		j[i] = (struct job){ .d = d, .flags = flags,
				     .end = meter.t0 + secs * 1e9,
				     .seed = 12345 + i };
		if (pthread_create(&t[i], NULL, randread_job, &j[i]))
			die("pthread_create");
	}
	for (i = 0; i < njobs; i++) {
		pthread_join(t[i], NULL);
		ios += j[i].ios;
	}
	meter_end(d, w, r, ios);
}

/*
 * Every thread of @pid on the CPUs of @set.  Threads the server starts
 * meanwhile get their creator's, so a pinned server stays pinned.
 */
static int set_server_cpus(pid_t pid, const cpu_set_t *set)
{
	char path[64];
	struct dirent *de;
	int err = 0;
	DIR *dd;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dd = opendir(path);
	if (!dd)
		return -errno;
	while ((de = readdir(dd)))
		if (de->d_name[0] != '.' &&
		    sched_setaffinity(atoi(de->d_name), sizeof(*set), set) < 0 &&
		    errno != ESRCH)
			err = -errno;
	closedir(dd);
	return err;
}

static cpu_set_t all_cpus;

/*
 * The errno that kept a row from being pinned, or 0.  A row some
 * directory ran in another way than the others (one pinned, one not)
 * compares unlike things: it is printed as not measured, not as a ratio.
 */
static int unpinned[W_N];

/* The one-job run with the job and the server on our last CPU. */
static void randread_one_cpu(int d, int r)
{
	cpu_set_t one;
	int cpu, err = 0;

	for (cpu = CPU_SETSIZE - 1; cpu > 0 && !CPU_ISSET(cpu, &all_cpus);
	     cpu--)
		;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (server[d])
		err = set_server_cpus(server[d], &one);
	if (!err && sched_setaffinity(0, sizeof(one), &one) < 0)
		err = -errno;
	if (err && !unpinned[W_RAND1P]) {
		fprintf(stderr, "ptbench: cannot pin %s to CPU %d: %s; the one-CPU row is not measured\n",
			server[d] ? "the server and the job" : "the job", cpu,
			strerror(-err));
		unpinned[W_RAND1P] = -err;
	}
	if (!unpinned[W_RAND1P])
		randread(d, W_RAND1P, r, 1, O_DIRECT);
	sched_setaffinity(0, sizeof(all_cpus), &all_cpus);
	if (server[d])
		set_server_cpus(server[d], &all_cpus);
}

static bool wanted(int w)
{
	if (w <= W_UNLINK)
		return nfiles > 0;
	return w < W_BRAND1 || buffered;
}

/*
 * Workload @w of round @r on every directory, starting with another one
 * each round (W_CREATE measures stat and unlink too).
 */
static void run_round(int w, int r)
{
	int i, d;

	for (i = 0; i < ndirs; i++) {
		d = (i + r) % ndirs;
		switch (w) {
		case W_CREATE:
			metadata(d, r);
			break;
		case W_SEQWRITE:
			seqwrite(d, r);
			break;
		case W_SEQREAD:
			seqread(d, r);
			break;
		case W_RAND1:
		case W_RAND4:
			randread(d, w, r, w == W_RAND1 ? 1 : 4, O_DIRECT);
			break;
		case W_RAND1P:
			randread_one_cpu(d, r);
			break;
		default:
			randread(d, w, r, w == W_BRAND1 ? 1 : 4, 0);
			break;
		}
	}
}

/*
 * One row per workload: each directory's median, then each one's ratio to
 * the last directory (median and range of the per-round ratios).  For CPU
 * time (@inverse) the ratio is the last one's over each one's, so that
 * over 100 % reads "better" in both tables.
 */
static void print_table(double v[MAX_DIRS][W_N][MAX_ROUNDS],
			const char *title, bool inverse)
{
	int d, r, w;

	printf("| %s |", title);
	for (d = 0; d < ndirs; d++)
		printf(" %s |", label[d]);
	for (d = 0; d + 1 < ndirs; d++)
		printf(" %s / %s |", label[d], label[ndirs - 1]);
	printf("\n|---|");
	for (d = 0; d < 2 * ndirs - 1; d++)
		printf("---:|");
	printf("\n");
	for (w = 0; w < W_N; w++) {
		if (!wanted(w))
			continue;
		printf("| %s (%s) |", wl[w].name, inverse ? "us" : wl[w].unit);
		if (unpinned[w]) {
			printf(" not measured (cannot pin: %s) |",
			       strerror(unpinned[w]));
			for (d = 1; d < 2 * ndirs - 1; d++)
				printf(" |");
			printf("\n");
			continue;
		}
		for (d = 0; d < ndirs; d++) {
			double med = quantile(v[d][w], rounds, 0.5);

			if (inverse)
				printf(" %.2f |", med / 1e3);
			else
				printf(" %.0f |", med);
		}
		for (d = 0; d + 1 < ndirs; d++) {
			double ratio[MAX_ROUNDS];

			for (r = 0; r < rounds; r++)
				ratio[r] = inverse ?
					v[ndirs - 1][w][r] / v[d][w][r] :
					v[d][w][r] / v[ndirs - 1][w][r];
			printf(" %.0f %% (%.0f-%.0f) |",
			       100 * quantile(ratio, rounds, 0.5),
			       100 * quantile(ratio, rounds, 0),
			       100 * quantile(ratio, rounds, 1));
		}
		printf("\n");
	}
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "mib", required_argument, NULL, 'm' },
		{ "secs", required_argument, NULL, 's' },
		{ "files", required_argument, NULL, 'f' },
		{ "buffered", no_argument, NULL, 'b' },
		{ "pid", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	int c, r, d, w;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		char *eq;

		switch (c) {
		case 'd':
			eq = strchr(optarg, '=');
			if (!eq || ndirs == MAX_DIRS)
				die("--dir LABEL=DIR, at most %d", MAX_DIRS);
			*eq = '\0';
			label[ndirs] = optarg;
			dir[ndirs++] = eq + 1;
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		case 'm':
			mib = atoi(optarg);
			break;
		case 's':
			secs = atof(optarg);
			break;
		case 'f':
			nfiles = atoi(optarg);
			break;
		case 'b':
			buffered = true;
			break;
		case 'p':
			if (!ndirs)
				die("--pid after its --dir");
			server[ndirs - 1] = atoi(optarg);
			break;
		default:
			die("usage: ptbench --dir LABEL=DIR ... [--rounds N] [--mib N] [--secs S] [--files N] [--buffered] [--pid PID]");
		}
	}
	if (ndirs < 1 || rounds < 1 || rounds > MAX_ROUNDS || mib < 1 ||
	    nfiles < 0)
		die("bad arguments");
	if (sched_getaffinity(0, sizeof(all_cpus), &all_cpus) < 0)
		die("sched_getaffinity: %s", strerror(errno));
	buf = malloc(MIB);
	if (!buf)
		die("no memory");
	memset(buf, 0x5a, MIB);
	for (r = 0; r < rounds; r++)
		for (w = 0; w < W_N; w++)
			if (wanted(w) && w != W_STAT && w != W_UNLINK)
				run_round(w, r);
	print_table(result, "workload", false);
	printf("\nMedians of %d interleaved rounds (ratios: median (min-max) of the rounds' ratios); %d MiB file, %.1f s per random-read run",
	       rounds, mib, secs);
	if (nfiles)
		printf(", %d files", nfiles);
	printf(".\n");
	for (d = 0; d < ndirs && !server[d]; d++)
		;
	if (d < ndirs) {
		printf("\n");
		print_table(cpu_per, "CPU per operation (us; per MiB for the sequential ones)", true);
		printf("\nCPU time of the application threads and of every server thread (--pid) per operation: what the rate comes to once the CPUs are busy. Ratios here are the last directory's CPU time over each one's (over 100 %%: cheaper than the last).\n");
	}
	for (d = 0; d < ndirs; d++) {
		char p[4096];

		path_of(p, sizeof(p), d, "ptbench.data");
		unlink(p);
	}
	return 0;
}
