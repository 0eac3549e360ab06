// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * recover: how long a SIGKILL interrupts the applications of a restartable
 * mount, and where that time goes.
 *
 *   recover --server BENCHFS --mnt DIR [--kills N] [--blocks B]
 *           --config NAME:ext|sup|hot:NODES:OPENFILES [--config ...]
 *
 * For each configuration a server (bench/benchfs) is mounted on DIR, either
 * run by this program and restarted by it after each kill (ext), or run and
 * restarted by fuse-recoverd (sup), or run by fuse-recoverd --standby 1
 * (hot), which hands each crash to a standby started and initialised
 * ahead of it (each kill waits until one is ready).  A thread stat()s a file of the mount in
 * a tight loop and timestamps every completion.  Then, again and again:
 * SIGKILL the server, (ext: reap it and start it again), read the
 * FUSE_RECOVER_TRACE=1 line of the new server, and find the first stat()
 * the new server answered.  Per kill:
 *
 *   recovery      SIGKILL -> first request answered by the new server
 *   start         SIGKILL -> fuse_session_attach() entered (death, reaping,
 *                 fork, exec, dynamic linking, fuse_session_new)
 *   handoff       connection and kept fds received from the supervisor
 *   replay        FUSE_INIT replayed (runs init: opens the state store)
 *   resend        FUSE_NOTIFY_RESEND written and the takeover acknowledged
 *   first reply   attach returned -> the application's stat() returned
 *   stall         longest gap between two stat() completions around it
 *
 * With a hot standby, start, handoff and INIT replay happened before the
 * kill; "resend" is then SIGKILL -> the standby serving (death noticed,
 * GO, state store taken, resend asked, takeover acknowledged).
 *
 * Configurations run in interleaved blocks (A B A B ...), each block on a
 * fresh mount, so that the machine's noise hits all of them alike; with
 * --ratio the per-block ratio of each configuration's median to the first
 * one's is printed as well.  With OPENFILES the program keeps that many
 * files of the mount open across all kills and reads one after each.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONFIGS 16
#define MAX_BLOCKS 64
#define RING (1u << 22)

struct config {
	char name[32];
	bool sup;
	bool hot;	/* sup with --standby 1 */
	unsigned long nodes;
	unsigned long open;
};

struct sample {
	double total, start, handoff, replay, resend, first, stall;
};

struct trace {
	uint64_t start, handoff, replay, resend, done;
};

static struct config configs[MAX_CONFIGS];
static int nconfigs;
static struct sample *samples[MAX_CONFIGS];
static int nsamples[MAX_CONFIGS];
static double block_median[MAX_CONFIGS][MAX_BLOCKS];

static const char *server, *recoverd, *mnt, *server_log;
static int kills = 100, blocks = 5, pause_min = 20, pause_max = 50;
static bool want_ratio, debug;
static double tgt_median, tgt_p99, tgt_stall, tgt_ratio;
static double tgt_hot_median, tgt_hot_p99;
static int baseline;
static FILE *out_log;
static long errors;

/*
 * A hot standby's takeover step by step (its "hottrace" line: the
 * supervisor's marks, then the standby's; CLOCK_MONOTONIC ns, 0 = none).
 */
#define HOT_MARKS 13
static const char *const hot_mark_name[HOT_MARKS] = {
	"first slot owner-died", "all slots owner-died",
	"threads past their robust list or memory", "eventfd written",
	"main loop woke", "readers gone (sealed, killed)", "GO sent", NULL,
	"GO received", "store taken", "session started", "resend written",
	"RESUMED sent (attach returns)",
};
static uint64_t hot_marks[HOT_MARKS];
static bool hot_marks_seen;
static double *hot_steps[HOT_MARKS + 1];
static int hot_nsteps;

static int trace_rd = -1, trace_wr = -1;
static bool warm_seen, standby_seen;
static char linebuf[8192];
static size_t linelen;

/* The stat loop: completion times in a ring, published by ring_n. */
static uint64_t *ring;
static _Atomic uint64_t ring_n;
static _Atomic int loop_on, loop_idle = 1, loop_quit;
static _Atomic long loop_errors;
static char probe_path[4096];
static pid_t top;	/* the server (ext) or the supervisor (sup) */

static void kill_holder(void);

static void kill_top(void)
{
	kill_holder();
	if (top > 0) {
		kill(top, SIGKILL);
		wait_exit(top, 5000);
	}
	if (mnt && fuse_mounted(mnt))
		umount2(mnt, MNT_DETACH);
}

static void *stat_loop(void *arg)
{
	struct stat s;

	(void)arg;
	while (!atomic_load(&loop_quit)) {
		uint64_t n;

		if (!atomic_load(&loop_on)) {
			atomic_store(&loop_idle, 1);
			sleep_ms(1);
			continue;
		}
		atomic_store(&loop_idle, 0);
		if (stat(probe_path, &s) < 0) {
			if (atomic_fetch_add(&loop_errors, 1) < 5)
				fprintf(stderr, "recover: stat %s: %s\n",
					probe_path, strerror(errno));
			continue;
		}
		n = atomic_load_explicit(&ring_n, memory_order_relaxed);
		ring[n & (RING - 1)] = now_ns();
		atomic_store_explicit(&ring_n, n + 1, memory_order_release);
	}
	return NULL;
}

static void loop_stop(void)
{
	int i;

	atomic_store(&loop_on, 0);
	for (i = 0; i < 10000 && !atomic_load(&loop_idle); i++)
		sleep_ms(1);
	if (!atomic_load(&loop_idle))
		die("the stat loop hangs in %s", probe_path);
}

/* ---- server output ---- */

static bool parse_trace(const char *line, struct trace *t)
{
	const char *p = strstr(line, "trace start=");
	unsigned long long a, b, c, d, e;

	if (!p || sscanf(p, "trace start=%llu handoff=%llu replay=%llu resend=%llu done=%llu",
			 &a, &b, &c, &d, &e) != 5)
		return false;
	*t = (struct trace){ a, b, c, d, e };
	return true;
}

/* The marks of a "hottrace" line, comma-separated. */
static void parse_hot(const char *q)
{
	int i;

	for (i = 0; i < HOT_MARKS && *q; i++) {
		hot_marks[i] = strtoull(q, (char **)&q, 10);
		if (*q == ',')
			q++;
	}
	hot_marks_seen = true;
}

static bool wait_trace(uint64_t deadline, struct trace *t);

/*
 * Kill @k's hot standby steps, each from the one before (from the kill
 * for the first); a mark missing or before that one is no step.
 */
static void note_hot_steps(int k, uint64_t t_kill, uint64_t t_first)
{
	uint64_t deadline = now_ns() + 1000000000ull, prev = t_kill;
	int i;

	while (!hot_marks_seen && now_ns() < deadline)
		wait_trace(now_ns() + 100000000ull, NULL);
	if (!hot_marks_seen)
		return;
	hot_marks_seen = false;
	for (i = 0; i < HOT_MARKS; i++) {
		uint64_t m = hot_marks[i];

		hot_steps[i][hot_nsteps] = m && m >= prev ? (m - prev) / 1e6 :
							     -1;
		if (m && m >= prev)
			prev = m;
	}
	hot_steps[HOT_MARKS][hot_nsteps++] = (t_first - prev) / 1e6;
	if (!debug)
		return;
	fprintf(stderr, "hot kill %d, ms after it:", k);
	for (i = 0; i < HOT_MARKS; i++)
		fprintf(stderr, " %.3f", hot_marks[i] ?
			((double)hot_marks[i] - (double)t_kill) / 1e6 : 0.0);
	fprintf(stderr, " stat %.3f\n", (t_first - t_kill) / 1e6);
}

/*
 * Read server output until a trace line arrives or @deadline (ns) passes.
 * Other lines go to the log.  Returns true with @t filled.
 */
static bool wait_trace(uint64_t deadline, struct trace *t)
{
	struct pollfd p = { .fd = trace_rd, .events = POLLIN };
	uint64_t now;
	ssize_t n;
	char *nl;

	for (;;) {
		while ((nl = memchr(linebuf, '\n', linelen))) {
			bool got;

			*nl = '\0';
			got = t && parse_trace(linebuf, t);
			if (strstr(linebuf, "benchfs: warm"))
				warm_seen = true;
			if (strstr(linebuf, "upgrade: standby: INIT replayed"))
				standby_seen = true;
			if (strstr(linebuf, "hottrace "))
				parse_hot(strstr(linebuf, "hottrace ") + 9);
			if (!got && out_log)
				fprintf(out_log, "%s\n", linebuf);
			linelen -= nl + 1 - linebuf;
			memmove(linebuf, nl + 1, linelen);
			if (got)
				return true;
		}
		now = now_ns();
		/* Past the deadline: one last look without waiting. */
		if (poll(&p, 1, now >= deadline ? 0 :
				(deadline - now) / 1000000 + 1) <= 0) {
			if (now_ns() >= deadline)
				return false;
			continue;
		}
		if (linelen == sizeof(linebuf) - 1)
			linelen = 0;	/* an absurd line: drop it */
		n = read(trace_rd, linebuf + linelen,
			 sizeof(linebuf) - 1 - linelen);
		if (n > 0)
			linelen += n;
	}
}

static void drain_output(void)
{
	wait_trace(now_ns(), NULL);
}

/* ---- processes ---- */

/* The one child of the supervisor @sup, or 0. */
static pid_t child_of(pid_t sup)
{
	char path[64], buf[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)sup,
		 (int)sup);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return atoi(buf);
}

/* ---- statistics ---- */

static double field_q(int c, size_t off, double q)
{
	double *v = malloc(nsamples[c] * sizeof(*v)), r;
	int i;

	for (i = 0; i < nsamples[c]; i++)
		v[i] = *(const double *)((const char *)&samples[c][i] + off);
	r = quantile(v, nsamples[c], q);
	free(v);
	return r;
}

#define Q(c, f, q) field_q(c, offsetof(struct sample, f), q)

/*
 * The open files live in a child of their own that never forks: every
 * close() of a FUSE file sends FLUSH, and so would the close-on-exec of
 * each of them in a server we fork, which then waits for an answer from
 * the server it is about to become.
 */
static pid_t holder;
static int holder_cmd = -1, holder_ans = -1;

static void holder_main(unsigned long nfiles, int cmd, int ans)
{
	int *fds = malloc(nfiles * sizeof(*fds));
	unsigned long i;
	char c, r;

	for (i = 0; fds && i < nfiles; i++) {
		char p[4200];

		snprintf(p, sizeof(p), "%s/f%lu", mnt, i);
		fds[i] = open(p, O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0) {
			fprintf(stderr, "recover: open %s: %s\n", p,
				strerror(errno));
			_exit(1);
		}
	}
	r = fds ? 'r' : 'e';
	if (write(ans, &r, 1) != 1 || r == 'e')
		_exit(1);
	/* 'c': read one byte of a random open file; 'q': close all, exit. */
	while (read(cmd, &c, 1) == 1 && c == 'c') {
		char byte = 1;

		i = rand() % nfiles;
		r = pread(fds[i], &byte, 1, 0) == 1 && byte == 0 ? 'y' : 'n';
		if (write(ans, &r, 1) != 1)
			break;
	}
	for (i = 0; i < nfiles; i++)
		close(fds[i]);
	_exit(0);
}

static void holder_start(unsigned long nfiles)
{
	int cmd[2], ans[2];
	char r = 0;

	if (pipe2(cmd, O_CLOEXEC) < 0 || pipe2(ans, O_CLOEXEC) < 0)
		die("pipe: %s", strerror(errno));
	holder = fork();
	if (holder < 0)
		die("fork: %s", strerror(errno));
	if (holder == 0) {
		close(cmd[1]);
		close(ans[0]);
		holder_main(nfiles, cmd[0], ans[1]);
	}
	close(cmd[0]);
	close(ans[1]);
	holder_cmd = cmd[1];
	holder_ans = ans[0];
	if (read(holder_ans, &r, 1) != 1 || r != 'r')
		die("could not open %lu files on %s", nfiles, mnt);
}

static void kill_holder(void)
{
	if (holder > 0)
		kill(holder, SIGKILL);
}

static bool holder_check(void)
{
	char c = 'c', r = 0;

	return write(holder_cmd, &c, 1) == 1 &&
	       read(holder_ans, &r, 1) == 1 && r == 'y';
}

static void holder_stop(void)
{
	char c = 'q';

	if (holder <= 0)
		return;
	if (write(holder_cmd, &c, 1) != 1 || !wait_exit(holder, 60000)) {
		kill(holder, SIGKILL);
		wait_exit(holder, 5000);
	}
	close(holder_cmd);
	close(holder_ans);
	holder = 0;
}

/* ---- one block ---- */

static void run_block(int c, int b, int nkills)
{
	const struct config *cf = &configs[c];
	char opts[256], tag[32], *argv[16];
	unsigned long files = cf->open > 16 ? cf->open : 16;
	pid_t srv;
	int k, n = 0;
	double *tot = malloc(nkills * sizeof(*tot));
	uint64_t deadline;
	struct stat s;

	snprintf(tag, sizeof(tag), "bench%d-%d", c, b);
	snprintf(opts, sizeof(opts),
		 "tag=%s,recover_restarts=1000000,nodes=%lu,files=%lu", tag,
		 cf->nodes, files);
	if (cf->sup) {
		char *a[] = { (char *)recoverd, "--tag", tag, "--max-restarts",
			      "1000000", "--standby", cf->hot ? "1" : "0",
			      "--", (char *)server, "-f", "-o", opts,
			      (char *)mnt, NULL };
		memcpy(argv, a, sizeof(a));
	} else {
		char *a[] = { (char *)server, "-f", "-o", opts, (char *)mnt,
			      NULL };
		memcpy(argv, a, sizeof(a));
	}
	top = spawn(argv, trace_wr);
	snprintf(probe_path, sizeof(probe_path), "%s/f0", mnt);
	deadline = now_ns() + 60000000000ull;
	while (stat(probe_path, &s) < 0) {
		drain_output();
		if (now_ns() > deadline || wait_exit(top, 0))
			die("%s: server did not mount %s (see %s)", cf->name,
			    mnt, server_log ? server_log : "its output");
		sleep_ms(2);
	}
	if (cf->open)
		holder_start(cf->open);
	atomic_store(&loop_on, 1);
	sleep_ms(50);
	for (k = 0; k < nkills; k++) {
		struct sample *sm = &samples[c][nsamples[c]];
		uint64_t idx0, t_kill, t_first = 0, prev, end, j;
		struct trace t;
		double worst = 0;
		int pfd;

		sleep_ms(pause_min + rand() % (pause_max - pause_min + 1));
		drain_output();
		/* The crash goes to a standby: one must be ready. */
		deadline = now_ns() + 10000000000ull;
		while (cf->hot && !standby_seen && now_ns() < deadline)
			wait_trace(now_ns() + 100000000ull, NULL);
		if (cf->hot && !standby_seen)
			die("%s: no standby got ready", cf->name);
		standby_seen = false;
		srv = cf->sup ? child_of(top) : top;
		if (srv <= 0)
			die("%s: no server to kill", cf->name);
		pfd = pidfd_of(srv);
		idx0 = atomic_load(&ring_n);
		warm_seen = false;
		t_kill = now_ns();
		kill(srv, SIGKILL);
		if (!cf->sup) {
			struct pollfd p = { .fd = pfd, .events = POLLIN };

			poll(&p, 1, 10000);
			if (!wait_exit(srv, 0))
				die("killed server %d does not exit", (int)srv);
			top = spawn(argv, trace_wr);
		}
		close(pfd);
		if (!wait_trace(now_ns() + 10000000000ull, &t))
			die("%s: no trace from the new server (FUSE_RECOVER_TRACE)",
			    cf->name);
		/* First stat() completed after the new server's attach. */
		deadline = now_ns() + 10000000000ull;
		for (j = idx0; !t_first && now_ns() < deadline;) {
			uint64_t n = atomic_load_explicit(&ring_n,
							  memory_order_acquire);

			for (; j < n; j++)
				if (ring[j & (RING - 1)] > t.done) {
					t_first = ring[j & (RING - 1)];
					break;
				}
			if (!t_first)
				sleep_ms(1);
		}
		if (!t_first)
			die("%s: no request answered after the restart",
			    cf->name);
		/* Let the application run a little, then find its worst gap. */
		sleep_ms(20);
		end = atomic_load_explicit(&ring_n, memory_order_acquire);
		prev = idx0 ? ring[(idx0 - 1) & (RING - 1)] : t_kill;
		for (j = idx0; j < end; j++) {
			uint64_t v = ring[j & (RING - 1)];

			if ((v - prev) / 1e6 > worst)
				worst = (v - prev) / 1e6;
			prev = v;
		}
		sm->total = (t_first - t_kill) / 1e6;
		sm->start = ((double)t.start - (double)t_kill) / 1e6;
		sm->handoff = (t.handoff - t.start) / 1e6;
		sm->replay = (t.replay - t.handoff) / 1e6;
		sm->resend = (t.done - t.replay) / 1e6;
		if (cf->hot) {
			sm->start = sm->handoff = sm->replay = 0;
			sm->resend = ((double)t.done - (double)t_kill) / 1e6;
		}
		sm->first = (t_first - t.done) / 1e6;
		sm->stall = worst;
		if (cf->hot)
			note_hot_steps(k, t_kill, t_first);
		tot[n++] = sm->total;
		if (debug)
			fprintf(stderr, "%s kill %d: total %.2f start %.2f handoff %.2f replay %.2f resend %.2f first %.2f stall %.2f\n",
				cf->name, k, sm->total, sm->start, sm->handoff,
				sm->replay, sm->resend, sm->first, sm->stall);
		nsamples[c]++;
		/* The next kill finds a server that touched its whole table. */
		deadline = now_ns() + 60000000000ull;
		while (cf->nodes && !warm_seen && now_ns() < deadline)
			wait_trace(now_ns() + 100000000ull, NULL);
		if (cf->nodes && !warm_seen)
			die("%s: benchfs never said it was warm", cf->name);
		if (cf->open && !holder_check()) {
			errors++;
			fprintf(stderr, "recover: %s: an open file failed after restart %d\n",
				cf->name, k);
		}
	}
	loop_stop();
	block_median[c][b] = quantile(tot, n, 0.5);
	free(tot);
	holder_stop();
	/* A clean exit unmounts (and ends the supervisor). */
	kill(top, SIGTERM);
	if (!wait_exit(top, 10000)) {
		fprintf(stderr, "recover: %s: server %d ignores SIGTERM\n",
			cf->name, (int)top);
		kill(top, SIGKILL);
		wait_exit(top, 10000);
	}
	if (fuse_mounted(mnt))
		umount2(mnt, MNT_DETACH);
	drain_output();
}

static const char *verdict(double v, double target)
{
	return v <= target ? "met" : "**missed**";
}

static void print_targets(void)
{
	int c;

	if (!tgt_median && !tgt_p99 && !tgt_stall)
		return;
	printf("\n| configuration | recovery median | recovery p99 | worst stall (max over all kills) |\n|---|---|---|---|\n");
	for (c = 0; c < nconfigs; c++) {
		double med = Q(c, total, 0.5), p99 = Q(c, total, 0.99);
		double st = Q(c, stall, 1);
		/* A hot standby has targets of its own. */
		double tm = configs[c].hot && tgt_hot_median ?
			    tgt_hot_median : tgt_median;
		double tp = configs[c].hot && tgt_hot_p99 ? tgt_hot_p99 :
							     tgt_p99;

		printf("| %s |", configs[c].name);
		if (tm)
			printf(" %.2f <= %g ms: %s |", med, tm,
			       verdict(med, tm));
		else
			printf(" |");
		if (tp)
			printf(" %.2f <= %g ms: %s |", p99, tp,
			       verdict(p99, tp));
		else
			printf(" |");
		if (tgt_stall)
			printf(" %.2f <= %.0f ms: %s |", st, tgt_stall,
			       verdict(st, tgt_stall));
		else
			printf(" |");
		printf("\n");
	}
}

/* Median of each hot standby step over the kills that had it. */
static void print_hot_steps(void)
{
	static const char last[] =
		"the application's stat() returned (loop start, read, reply, wake-up)";
	double v[4096];
	int i, k, n;

	if (!hot_nsteps)
		return;
	printf("\nHot standby, step by step (%d kills; ms since the step before, median / p90):\n\n",
	       hot_nsteps);
	printf("| step | median | p90 | kills with it |\n|---|---|---|---|\n");
	for (i = 0; i <= HOT_MARKS; i++) {
		if (i < HOT_MARKS && !hot_mark_name[i])
			continue;
		for (k = n = 0; k < hot_nsteps && n < 4096; k++)
			if (hot_steps[i][k] >= 0)
				v[n++] = hot_steps[i][k];
		if (!n)
			continue;
		printf("| %s | %.3f | %.3f | %d |\n",
		       i < HOT_MARKS ? hot_mark_name[i] : last,
		       quantile(v, n, 0.5), quantile(v, n, 0.9), n);
	}
}

static void print_results(void)
{
	int c, b;

	printf("| configuration | kills | recovery median | p99 | max | start | handoff | INIT replay | resend | first reply | worst stall median | p99 | max |\n");
	printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
	for (c = 0; c < nconfigs; c++) {
		printf("| %s | %d | %.2f ms | %.2f ms | %.2f ms | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f ms | %.2f ms | %.2f ms |\n",
		       configs[c].name, nsamples[c], Q(c, total, 0.5),
		       Q(c, total, 0.99), Q(c, total, 1), Q(c, start, 0.5),
		       Q(c, handoff, 0.5), Q(c, replay, 0.5),
		       Q(c, resend, 0.5), Q(c, first, 0.5),
		       Q(c, stall, 0.5), Q(c, stall, 0.99), Q(c, stall, 1));
	}
	printf("\nPhases are medians in ms: start = SIGKILL -> fuse_session_attach() entered (death, reaping, exec, loading); handoff = connection received; INIT replay; resend = NOTIFY_RESEND + takeover acknowledged; first reply = attach returned -> the application's stat() returned.\n");
	print_targets();
	print_hot_steps();
	if (!want_ratio || nconfigs < 2)
		return;
	printf("\n| configuration | recovery median / %s median, per block: median (min-max) |%s\n|---|---|%s\n",
	       configs[0].name, tgt_ratio ? " target |" : "",
	       tgt_ratio ? "---|" : "");
	for (c = 1; c < nconfigs; c++) {
		double r[MAX_BLOCKS], med;

		for (b = 0; b < blocks; b++)
			r[b] = block_median[c][b] / block_median[0][b];
		med = quantile(r, blocks, 0.5);
		printf("| %s | %.2f (%.2f-%.2f) |", configs[c].name, med,
		       quantile(r, blocks, 0), quantile(r, blocks, 1));
		if (tgt_ratio)
			printf(" <= %.1f: %s |", tgt_ratio,
			       verdict(med, tgt_ratio));
		printf("\n");
	}
}

/*
 * What the machine itself takes to start a process and see it end:
 * fork + exec + exit + reap of /bin/true, the floor under "start".
 */
static void print_baseline(void)
{
	char *argv[] = { "/bin/true", NULL };
	double *v;
	int i;

	if (baseline <= 0)
		return;
	v = malloc(baseline * sizeof(*v));
	if (!v)
		die("out of memory");
	for (i = 0; i < baseline; i++) {
		uint64_t t0 = now_ns();
		pid_t pid = spawn(argv, -1);

		if (!wait_exit(pid, 10000))
			die("/bin/true does not end");
		v[i] = (now_ns() - t0) / 1e6;
		sleep_ms(2);
	}
	printf("\nMachine baseline, fork + exec + exit + reap of /bin/true (%d runs): median %.2f ms, p99 %.2f ms, max %.2f ms.\n",
	       baseline, quantile(v, baseline, 0.5),
	       quantile(v, baseline, 0.99), quantile(v, baseline, 1));
	free(v);
}

static void parse_config(const char *spec)
{
	struct config *cf = &configs[nconfigs];
	char mode[8];

	if (nconfigs == MAX_CONFIGS)
		die("too many configurations");
	if (sscanf(spec, "%31[^:]:%7[^:]:%lu:%lu", cf->name, mode, &cf->nodes,
		   &cf->open) != 4 ||
	    (strcmp(mode, "ext") && strcmp(mode, "sup") && strcmp(mode, "hot")))
		die("bad --config %s (NAME:ext|sup|hot:NODES:OPENFILES)", spec);
	cf->hot = strcmp(mode, "hot") == 0;
	cf->sup = cf->hot || strcmp(mode, "sup") == 0;
	nconfigs++;
}

int main(int argc, char *argv[])
{
	static const struct option lopts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "recoverd", required_argument, NULL, 'R' },
		{ "mnt", required_argument, NULL, 'm' },
		{ "kills", required_argument, NULL, 'k' },
		{ "blocks", required_argument, NULL, 'b' },
		{ "config", required_argument, NULL, 'c' },
		{ "pause", required_argument, NULL, 'p' },
		{ "log", required_argument, NULL, 'l' },
		{ "ratio", no_argument, NULL, 'r' },
		{ "target-median", required_argument, NULL, 'M' },
		{ "target-hot-median", required_argument, NULL, 'H' },
		{ "target-hot-p99", required_argument, NULL, 'J' },
		{ "target-p99", required_argument, NULL, 'P' },
		{ "target-stall", required_argument, NULL, 'S' },
		{ "target-ratio", required_argument, NULL, 'T' },
		{ "baseline", required_argument, NULL, 'B' },
		{ 0 }
	};
	struct rlimit rl;
	pthread_t th;
	int opt, c, b, fds[2];

	recoverd = getenv("FUSE_RECOVERD");
	while ((opt = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (opt) {
		case 's': server = optarg; break;
		case 'R': recoverd = optarg; break;
		case 'm': mnt = optarg; break;
		case 'k': kills = atoi(optarg); break;
		case 'b': blocks = atoi(optarg); break;
		case 'c': parse_config(optarg); break;
		case 'p':
			if (sscanf(optarg, "%d-%d", &pause_min, &pause_max) != 2 ||
			    pause_min < 0 || pause_max < pause_min)
				die("bad --pause %s (MIN-MAX ms)", optarg);
			break;
		case 'l': server_log = optarg; break;
		case 'r': want_ratio = true; break;
		case 'M': tgt_median = atof(optarg); break;
		case 'H': tgt_hot_median = atof(optarg); break;
		case 'J': tgt_hot_p99 = atof(optarg); break;
		case 'P': tgt_p99 = atof(optarg); break;
		case 'S': tgt_stall = atof(optarg); break;
		case 'T': tgt_ratio = atof(optarg); break;
		case 'B': baseline = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: recover --server BENCHFS --mnt DIR [--kills N] [--blocks B] [--pause MIN-MAX] [--log FILE] [--ratio] --config NAME:ext|sup|hot:NODES:OPENFILES ... [--target-hot-median MS] [--target-hot-p99 MS]\n");
			return 2;
		}
	}
	if (!server || !mnt || !nconfigs || kills < 1 || blocks < 1 ||
	    blocks > MAX_BLOCKS || kills < blocks)
		die("need --server, --mnt, --config; 1 <= blocks <= kills");
	for (c = 0; c < nconfigs; c++)
		if (configs[c].sup && !recoverd)
			die("sup needs --recoverd or FUSE_RECOVERD");
	if (server_log) {
		out_log = fopen(server_log, "ae");
		if (!out_log)
			die("%s: %s", server_log, strerror(errno));
		setvbuf(out_log, NULL, _IOLBF, 0);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	debug = getenv("RECOVER_DEBUG") != NULL;
	setenv("FUSE_RECOVER_TRACE", "1", 1);
	on_die(kill_top);
	if (pipe2(fds, O_CLOEXEC) < 0)
		die("pipe: %s", strerror(errno));
	trace_rd = fds[0];
	trace_wr = fds[1];
	ring = calloc(RING, sizeof(*ring));
	for (c = 0; c < nconfigs; c++)
		samples[c] = calloc(kills + blocks, sizeof(**samples));
	for (c = 0; c <= HOT_MARKS; c++)
		hot_steps[c] = calloc(kills + blocks, sizeof(double));
	if (!ring || pthread_create(&th, NULL, stat_loop, NULL))
		die("out of memory");
	srand(getpid());
	for (b = 0; b < blocks; b++) {
		/* Alternate the order too: A B, B A, ... */
		for (c = 0; c < nconfigs; c++) {
			int cc = b % 2 ? nconfigs - 1 - c : c;
			int nk = kills / blocks + (b < kills % blocks);

			run_block(cc, b, nk);
		}
	}
	atomic_store(&loop_quit, 1);
	pthread_join(th, NULL);
	print_results();
	print_baseline();
	errors += atomic_load(&loop_errors);
	if (errors)
		printf("\n**%ld errors seen by the application** (see stderr)\n",
		       errors);
	return errors ? 1 : 0;
}
