// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * overhead: what recovery costs while nothing crashes.
 *
 *   overhead --server PASSTHROUGH_HP --src DIR --mnt-on DIR --mnt-off DIR
 *            [--rounds N] [--files N] [--mib N] [--secs S] [--log FILE]
 *            [--calibrate]
 *
 * Mounts the same passthrough_hp binary twice on the same source
 * directory: with a tag (recovery on: state store in a memfd held by the
 * supervisor, custom io hooks) and with --norecover (recovery off).  Both
 * use --timeout=0, so every metadata operation reaches the server, which is
 * where recovery could cost something.  Within a round both mounts run each
 * workload at the same time in small alternating chunks (25 files, 32
 * reads, 1 MiB), and the on/off ratio of the round is kept.  Reported:
 * medians with min-max over the rounds, and how often the supervisor ran
 * meanwhile (it has nothing to do while the server lives).
 *
 * --calibrate runs recovery off on both mounts: the A/A ratios show how
 * precisely this machine can compare two mounts at all.
 *
 * Besides the rates, the CPU time each operation cost is kept: the
 * application thread's (its system calls, the kernel's FUSE side) plus
 * the server's, all its threads (/proc/PID/task/N/schedstat, sampled
 * around each workload; the servers run with max_idle_threads=100 so that
 * no worker exits and takes its time with it).  On a loaded machine the
 * rates of two mounts compared swing by tens of percent from round to
 * round; the CPU time per operation is what the library can add, and it
 * is what decides throughput once the CPUs are busy.
 *
 * --ptrfs: the server is test/servers/ptrfs (pointer node ids, fd-number
 * handles, no state store), mounted with a tag (the library translates its
 * node ids and handles) and without one (plain libfuse, no io hooks).
 *
 * Workloads (one application thread):
 *   create, stat, unlink  N empty files in a new directory (rate: ops/s)
 *   4k random read        O_DIRECT preads of a file of MIB MiB whose backing
 *                         data is in the page cache (IOPS, for SECS s)
 *   1 MiB seq write       a new MIB MiB file, 1 MiB write()s, then close
 *   1 MiB seq read        the MIB MiB file, 1 MiB read()s (the open drops
 *                         the mount's page cache: no keep_cache)
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_ROUNDS 64
#define MIB (1024 * 1024)

enum { W_CREATE, W_STAT, W_UNLINK, W_RANDREAD, W_SEQWRITE, W_SEQREAD, W_N };

static const struct {
	const char *name;
	const char *unit;
	double target;
} wl[W_N] = {
	[W_CREATE] = { "create", "files/s", 0.97 },
	[W_STAT] = { "stat", "files/s", 0.97 },
	[W_UNLINK] = { "unlink", "files/s", 0.97 },
	[W_RANDREAD] = { "4k random read (cached)", "IOPS", 0.99 },
	[W_SEQWRITE] = { "1 MiB seq write", "MiB/s", 0.99 },
	[W_SEQREAD] = { "1 MiB seq read", "MiB/s", 0.99 },
};

static const char *server, *src, *slot[2];
static const char *mnt[2];	/* this round's: [0] recovery on, [1] off */
static int rounds = 5, nfiles = 10000, mib = 256;
static double secs = 2;
static bool calibrate, ptrfs;
static double result[2][W_N][MAX_ROUNDS];
static double cpu_per[2][W_N][MAX_ROUNDS];	/* ns of CPU per unit */
static char *buf;
static pid_t pid[2];

static void stop_servers(void)
{
	int m;

	for (m = 0; m < 2; m++) {
		if (pid[m] > 0) {
			kill(pid[m], SIGKILL);
			wait_exit(pid[m], 5000);
		}
		if (mnt[m] && fuse_mounted(mnt[m]))
			umount2(mnt[m], MNT_DETACH);
	}
}

/*
 * Both mounts run each workload at the same time, in small alternating
 * chunks (and the one that goes first alternates too), so that whatever
 * else the machine does hits both alike.  acc[m] sums the time spent on
 * mount m.
 */
#define META_CHUNK 25
#define READ_CHUNK 32

static uint64_t acc[2], cacc[2], srv0[2];
static long flt0[2];

static long minflt(pid_t p)
{
	char path[64];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)p);
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%*d %*s %*c %*d %*d %*d %*d %*d %*u %ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}
static long ops_on;	/* application operations on the recovery-on mount */

static void phase_begin(void)
{
	int m;

	for (m = 0; m < 2; m++) {
		acc[m] = cacc[m] = 0;
		srv0[m] = server_cpu_ns(pid[m]);
		flt0[m] = minflt(pid[m]);
	}
}

static void run_chunks(int nchunks, void (*chunk)(int m, int c, void *arg),
		       void *arg)
{
	int c, k;

	for (c = 0; c < nchunks; c++) {
		for (k = 0; k < 2; k++) {
			int m = (c + k) % 2;
			uint64_t t0 = now_ns(), c0 = thread_cpu_ns();

			chunk(m, c, arg);
			cacc[m] += thread_cpu_ns() - c0;
			acc[m] += now_ns() - t0;
		}
	}
}

static void keep_rates(int w, int r, double units)
{
	int m;

	for (m = 0; m < 2; m++) {
		uint64_t srv = server_cpu_ns(pid[m]) - srv0[m];

		result[m][w][r] = units / (acc[m] / 1e9);
		cpu_per[m][w][r] = (cacc[m] + srv) / units;
		if (getenv("OVERHEAD_DEBUG"))
			fprintf(stderr, "round %d %s %s: app %.2f us, server %.2f us per unit, %ld faults\n",
				r, wl[w].name, m ? "off" : "on",
				cacc[m] / units / 1e3, srv / units / 1e3,
				minflt(pid[m]) - flt0[m]);
	}
}

static char dirs[2][4096];

static void path_of(char *p, size_t len, int m, int i)
{
	snprintf(p, len, "%s/f%d", dirs[m], i);
}

static void create_chunk(int m, int c, void *arg)
{
	char p[4200];
	int i, fd;

	(void)arg;
	for (i = c * META_CHUNK; i < (c + 1) * META_CHUNK && i < nfiles; i++) {
		path_of(p, sizeof(p), m, i);
		fd = open(p, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
		if (fd < 0)
			die("create %s: %s", p, strerror(errno));
		close(fd);
	}
}

static void stat_chunk(int m, int c, void *arg)
{
	char p[4200];
	struct stat s;
	int i;

	(void)arg;
	for (i = c * META_CHUNK; i < (c + 1) * META_CHUNK && i < nfiles; i++) {
		path_of(p, sizeof(p), m, i);
		if (stat(p, &s) < 0)
			die("stat %s: %s", p, strerror(errno));
	}
}

static void unlink_chunk(int m, int c, void *arg)
{
	char p[4200];
	int i;

	(void)arg;
	for (i = c * META_CHUNK; i < (c + 1) * META_CHUNK && i < nfiles; i++) {
		path_of(p, sizeof(p), m, i);
		if (unlink(p) < 0)
			die("unlink %s: %s", p, strerror(errno));
	}
}

/* dirs[m]: a new directory @what-M-@r on each mount. */
static void make_dirs(const char *what, int r)
{
	int m;

	for (m = 0; m < 2; m++) {
		snprintf(dirs[m], sizeof(dirs[m]), "%s/%s-%d-%d", mnt[m], what,
			 m, r);
		if (mkdir(dirs[m], 0755) < 0)
			die("mkdir %s: %s", dirs[m], strerror(errno));
	}
}

/*
 * Each round's servers are new: the first requests start the loop's
 * worker threads, and a tagged server's workers populate their 1 MiB
 * request buffers in full before their first read (lib/io.c), about
 * 260 page faults each, where plain libfuse faults in the pages it
 * uses.  That is a cost per worker start, not per operation: it is
 * paid here, on WARM_FILES files of each mount, and its server CPU is
 * reported on its own line.
 */
#define WARM_FILES 500
static double warm_ms[2][MAX_ROUNDS];

static void warm_up(int r)
{
	int m, keep = nfiles, n;

	nfiles = nfiles < WARM_FILES ? nfiles : WARM_FILES;
	n = (nfiles + META_CHUNK - 1) / META_CHUNK;
	make_dirs("warm", r);
	phase_begin();
	run_chunks(n, create_chunk, NULL);
	run_chunks(n, stat_chunk, NULL);
	run_chunks(n, unlink_chunk, NULL);
	for (m = 0; m < 2; m++) {
		warm_ms[m][r] = (server_cpu_ns(pid[m]) - srv0[m]) / 1e6;
		if (getenv("OVERHEAD_DEBUG"))
			fprintf(stderr, "round %d warm-up %s: server %.2f ms, %ld faults\n",
				r, m ? "off" : "on", warm_ms[m][r],
				minflt(pid[m]) - flt0[m]);
		rmdir(dirs[m]);
	}
	nfiles = keep;
}

/* create, stat and unlink of nfiles files in a new directory per mount. */
static void metadata(int r)
{
	int m, n = (nfiles + META_CHUNK - 1) / META_CHUNK;

	make_dirs("meta", r);
	ops_on += 3L * nfiles;
	phase_begin();
	run_chunks(n, create_chunk, NULL);
	keep_rates(W_CREATE, r, nfiles);
	phase_begin();
	run_chunks(n, stat_chunk, NULL);
	keep_rates(W_STAT, r, nfiles);
	phase_begin();
	run_chunks(n, unlink_chunk, NULL);
	keep_rates(W_UNLINK, r, nfiles);
	for (m = 0; m < 2; m++)
		rmdir(dirs[m]);
}

static int fds[2];

static void open_both(const char *name, int flags)
{
	char p[4200];
	int m;

	for (m = 0; m < 2; m++) {
		snprintf(p, sizeof(p), "%s/%s", mnt[m], name);
		fds[m] = open(p, flags | O_CLOEXEC, 0644);
		if (fds[m] < 0)
			die("open %s: %s", p, strerror(errno));
	}
}

static void randread_chunk(int m, int c, void *arg)
{
	off_t blocks = (off_t)mib * (MIB / 4096);
	unsigned int *seed = arg;
	int k;

	(void)c;
	for (k = 0; k < READ_CHUNK; k++) {
		off_t off = (off_t)(rand_r(seed) % blocks) * 4096;

		if (pread(fds[m], buf, 4096, off) != 4096)
			die("4k read: %s", strerror(errno));
	}
}

/* QD1 4 KiB O_DIRECT reads at random offsets for about secs per mount. */
static void randread(int r)
{
	unsigned int seed = 12345 + r;
	long n = 0;
	int m;

	open_both("data", O_RDONLY | O_DIRECT);
	phase_begin();
	do {
		run_chunks(16, randread_chunk, &seed);
		n += 16 * READ_CHUNK;
	} while ((acc[0] + acc[1]) / 2e9 < secs);
	ops_on += n;
	keep_rates(W_RANDREAD, r, n);
	for (m = 0; m < 2; m++)
		close(fds[m]);
}

static void write_chunk(int m, int c, void *arg)
{
	(void)arg;
	if (c < mib) {
		if (write(fds[m], buf, MIB) != MIB)
			die("write: %s", strerror(errno));
	} else if (close(fds[m]) < 0) {
		die("close after writing: %s", strerror(errno));
	}
}

/* A new file per mount, written with 1 MiB write()s, then closed. */
static void seqwrite(int r)
{
	char p[4200];
	int m;

	open_both("written", O_CREAT | O_TRUNC | O_WRONLY);
	/* mib writes and then the close, on both mounts in turn. */
	phase_begin();
	run_chunks(mib + 1, write_chunk, NULL);
	ops_on += mib + 2;
	keep_rates(W_SEQWRITE, r, mib);
	for (m = 0; m < 2; m++) {
		snprintf(p, sizeof(p), "%s/written", mnt[m]);
		unlink(p);
	}
}

static void read_chunk(int m, int c, void *arg)
{
	(void)c;
	(void)arg;
	if (read(fds[m], buf, MIB) != MIB)
		die("read: %s", strerror(errno));
}

/* The data file through each mount (the open dropped its page cache). */
static void seqread(int r)
{
	int m;

	open_both("data", O_RDONLY);
	for (m = 0; m < 2; m++)
		posix_fadvise(fds[m], 0, 0, POSIX_FADV_DONTNEED);
	phase_begin();
	run_chunks(mib, read_chunk, NULL);
	ops_on += mib + 2;
	keep_rates(W_SEQREAD, r, mib);
	for (m = 0; m < 2; m++)
		close(fds[m]);
}

/* The backing file, written directly into the source directory. */
static void make_data(void)
{
	char p[4200];
	int fd, i;

	snprintf(p, sizeof(p), "%s/data", src);
	fd = open(p, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0)
		die("create %s: %s", p, strerror(errno));
	for (i = 0; i < MIB; i++)
		buf[i] = (char)(i * 7 + i / 4096);
	for (i = 0; i < mib; i++)
		if (write(fd, buf, MIB) != MIB)
			die("write %s: %s", p, strerror(errno));
	fsync(fd);
	close(fd);
	/* Read it once so that it is cached whatever the source fs is. */
	fd = open(p, O_RDONLY | O_CLOEXEC);
	while (fd >= 0 && read(fd, buf, MIB) > 0)
		;
	if (fd >= 0)
		close(fd);
}

/* The fuse-recoverd holding tag @tag (started by the library), or 0. */
static pid_t find_supervisor(const char *tag)
{
	pid_t found = 0;
	int pid;

	for (pid = 2; pid < 4194304 && !found; pid++) {
		char path[64], buf[512];
		ssize_t n;
		int fd;

		snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT && pid > 65536)
				break;
			continue;
		}
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		/* argv: fuse-recoverd --tag TAG ... */
		if (strstr(buf, "fuse-recoverd") &&
		    strcmp(buf + strlen(buf) + 1, "--tag") == 0 &&
		    strcmp(buf + strlen(buf) + 7, tag) == 0)
			found = pid;
	}
	return found;
}

/* Voluntary + involuntary context switches of @pid: how often it ran. */
static long switches(pid_t pid)
{
	char path[64], line[256];
	long total = 0, v;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "voluntary_ctxt_switches: %ld", &v) == 1 ||
		    sscanf(line, "nonvoluntary_ctxt_switches: %ld", &v) == 1)
			total += v;
	fclose(f);
	return total;
}

static void print_results(void)
{
	int w, r;

	if (calibrate)
		printf("| workload (A/A: recovery off on both mounts) | mount A | mount B | A/B per round: median (min-max) |\n|---|---|---|---|\n");
	else
		printf(ptrfs ? "| workload (ptrfs) | tagged (translation) | no tag | on/off per round: median (min-max) | target | |\n|---|---|---|---|---|---|\n" :
		       "| workload | recovery on | recovery off | on/off per round: median (min-max) | target | |\n|---|---|---|---|---|---|\n");
	for (w = 0; w < W_N; w++) {
		double ratio[MAX_ROUNDS], med;

		for (r = 0; r < rounds; r++)
			ratio[r] = result[0][w][r] / result[1][w][r];
		med = quantile(ratio, rounds, 0.5);
		printf("| %s | %.0f %s | %.0f %s | %.1f %% (%.1f-%.1f) |",
		       wl[w].name, quantile(result[0][w], rounds, 0.5),
		       wl[w].unit, quantile(result[1][w], rounds, 0.5),
		       wl[w].unit, med * 100, quantile(ratio, rounds, 0) * 100,
		       quantile(ratio, rounds, 1) * 100);
		if (!calibrate)
			printf(" >= %.0f %% | %s |", wl[w].target * 100,
			       med >= wl[w].target ? "met" : "**missed**");
		printf("\n");
	}
	printf("\n%d rounds, %d files, %d MiB file, %.1f s of random reads per mount and round; rates are medians over the rounds.\n\n",
	       rounds, nfiles, mib, secs);

	printf(calibrate ? "| CPU per operation (A/A) | mount A | mount B | B/A per round: median (min-max) |\n|---|---|---|---|\n" :
	       "| CPU per operation (application + server) | %s | %s | off/on per round: median (min-max) | target | |\n|---|---|---|---|---|---|\n",
	       ptrfs ? "tagged" : "recovery on", ptrfs ? "no tag" : "recovery off");
	for (w = 0; w < W_N; w++) {
		double ratio[MAX_ROUNDS], med;

		for (r = 0; r < rounds; r++)
			ratio[r] = cpu_per[1][w][r] / cpu_per[0][w][r];
		med = quantile(ratio, rounds, 0.5);
		printf("| %s | %.1f us | %.1f us | %.1f %% (%.1f-%.1f) |",
		       wl[w].name, quantile(cpu_per[0][w], rounds, 0.5) / 1e3,
		       quantile(cpu_per[1][w], rounds, 0.5) / 1e3, med * 100,
		       quantile(ratio, rounds, 0) * 100,
		       quantile(ratio, rounds, 1) * 100);
		if (!calibrate)
			printf(" >= %.0f %% | %s |", wl[w].target * 100,
			       med >= wl[w].target ? "met" : "**missed**");
		printf("\n");
	}
	printf("\nCPU time of the application thread and of every server thread per operation (per MiB for the sequential ones); the ratio is the throughput the mount keeps when CPU is what runs out.\n");
	printf("\nNot counted above: each round's servers are new, and the first %d creates, stats and unlinks on each mount start their worker threads; server CPU of that warm-up: %s %.2f ms, %s %.2f ms (medians).\n",
	       nfiles < WARM_FILES ? nfiles : WARM_FILES,
	       calibrate ? "mount A" : ptrfs ? "tagged" : "recovery on",
	       quantile(warm_ms[0], rounds, 0.5),
	       calibrate ? "mount B" : ptrfs ? "no tag" : "recovery off",
	       quantile(warm_ms[1], rounds, 0.5));
}

/* ptrfs takes its source as an option; no tag means no recovery at all. */
static void ptrfs_argv(char *argv_on[], char *argv_off[])
{
	static char on[4200], off[4200];

	snprintf(on, sizeof(on),
		 "tag=overhead,timeout=0,max_idle_threads=100,source=%s", src);
	snprintf(off, sizeof(off), "timeout=0,max_idle_threads=100,source=%s",
		 src);
	argv_on[0] = argv_off[0] = (char *)server;
	argv_on[1] = argv_off[1] = "-f";
	argv_on[2] = argv_off[2] = "-o";
	argv_on[3] = calibrate ? off : on;
	argv_off[3] = off;
	argv_on[4] = (char *)mnt[0];
	argv_off[4] = (char *)mnt[1];
	argv_on[5] = argv_off[5] = NULL;
}

/* The same binary, the same options, but for the switch. */
static void build_argv(char *argv_on[], char *argv_off[])
{
	if (ptrfs) {
		ptrfs_argv(argv_on, argv_off);
		return;
	}
	argv_on[0] = (char *)server;
	argv_on[1] = "-f";
	argv_on[2] = "--timeout=0";
	argv_on[3] = "-o";
	/*
	 * Kernel passthrough needs a tag, so only the recovery-on side could
	 * use it: both serve reads and writes themselves here, and bench/run
	 * section 6 measures passthrough.
	 */
	argv_on[4] = "tag=overhead,nopassthrough";
	argv_on[5] = (char *)src;
	argv_on[6] = (char *)mnt[0];
	argv_on[7] = NULL;
	memcpy(argv_off, argv_on, 10 * sizeof(*argv_on));
	if (calibrate) {
		/* A/A: recovery off on both sides shows the noise floor. */
		argv_on[5] = "--norecover";
		argv_on[6] = (char *)src;
		argv_on[7] = (char *)mnt[0];
		argv_on[8] = NULL;
	}
	argv_off[4] = "tag=overhead-off";
	argv_off[5] = "--norecover";
	argv_off[6] = (char *)src;
	argv_off[7] = (char *)mnt[1];
	argv_off[8] = NULL;
}

int main(int argc, char *argv[])
{
	static const struct option lopts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "src", required_argument, NULL, 'S' },
		{ "mnt-on", required_argument, NULL, '1' },
		{ "mnt-off", required_argument, NULL, '0' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "files", required_argument, NULL, 'f' },
		{ "mib", required_argument, NULL, 'M' },
		{ "secs", required_argument, NULL, 't' },
		{ "log", required_argument, NULL, 'l' },
		{ "calibrate", no_argument, NULL, 'c' },
		{ "ptrfs", no_argument, NULL, 'p' },
		{ 0 }
	};
	char *argv_on[10] = { 0 }, *argv_off[10] = { 0 };
	const char *log = NULL;
	long sw = 0;
	bool sw_known = true;
	pid_t sup = 0;
	int opt, r, m, logfd = -1;

	while ((opt = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (opt) {
		case 's': server = optarg; break;
		case 'S': src = optarg; break;
		case '1': slot[0] = optarg; break;
		case '0': slot[1] = optarg; break;
		case 'r': rounds = atoi(optarg); break;
		case 'f': nfiles = atoi(optarg); break;
		case 'M': mib = atoi(optarg); break;
		case 't': secs = atof(optarg); break;
		case 'l': log = optarg; break;
		case 'c': calibrate = true; break;
		case 'p': ptrfs = true; break;
		default:
			fprintf(stderr, "usage: overhead --server PASSTHROUGH_HP --src DIR --mnt-on DIR --mnt-off DIR [--rounds N] [--files N] [--mib N] [--secs S] [--log FILE]\n");
			return 2;
		}
	}
	if (!server || !src || !slot[0] || !slot[1] || rounds < 1 ||
	    rounds > MAX_ROUNDS || nfiles < 1 || mib < 1 || secs <= 0)
		die("need --server, --src, --mnt-on, --mnt-off; 1 <= rounds <= %d",
		    MAX_ROUNDS);
	if (log) {
		logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
			     0644);
		if (logfd < 0)
			die("%s: %s", log, strerror(errno));
	}
	if (posix_memalign((void **)&buf, 4096, MIB))
		die("out of memory");
	make_data();

	on_die(stop_servers);
	for (r = 0; r < rounds; r++) {
		long a, b;

		/*
		 * Each round mounts anew, and the two mount points swap roles
		 * from round to round: an A/A run showed the mount started
		 * first costing a few percent more CPU per operation, which
		 * would otherwise count against (or for) recovery.  So the
		 * servers swap their start order too.
		 */
		mnt[0] = slot[r % 2];
		mnt[1] = slot[1 - r % 2];
		build_argv(argv_on, argv_off);
		for (m = 0; m < 2; m++) {
			int i = (m + r) % 2;

			pid[i] = spawn(i ? argv_off : argv_on, logfd);
		}
		for (m = 0; m < 2; m++)
			if (!wait_mounted(mnt[m], pid[m], 10000))
				die("%s did not mount %s%s%s", server, mnt[m],
				    log ? "; see " : "", log ? log : "");
		sup = calibrate ? 0 : find_supervisor("overhead");
		a = sup ? switches(sup) : -1;
		warm_up(r);
		metadata(r);
		randread(r);
		seqwrite(r);
		seqread(r);
		b = sup ? switches(sup) : -1;
		if (a >= 0 && b >= 0)
			sw += b - a;
		else
			sw_known = false;
		if (getenv("OVERHEAD_DEBUG"))
			for (m = 0; m < W_N; m++)
				fprintf(stderr, "round %d %-24s on %10.0f off %10.0f\n",
					r, wl[m].name, result[0][m][r],
					result[1][m][r]);
		for (m = 0; m < 2; m++) {
			stop_child(pid[m], 10000);
			pid[m] = 0;
			if (fuse_mounted(mnt[m]))
				umount2(mnt[m], MNT_DETACH);
		}
	}
	print_results();
	if (!calibrate && sw_known)
		printf("The supervisor (fuse-recoverd) ran %ld times during these runs, %.1f per 1000 operations on the recovery-on mount (%ld operations).\n",
		       sw, 1000.0 * sw / ops_on, ops_on);
	return 0;
}
