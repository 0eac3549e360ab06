// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fuse-recoverd: keeps a tagged FUSE connection alive while its server is
 * down, and either restarts the server itself (`-- SERVER ARGS...`) or waits
 * for someone else to.  One process per tag, single-threaded, poll() based.
 */
#include "recoverd.h"
#include "fuse_recover.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define MAX_BACKOFF_MS 5000

static struct recoverd rd_global;

/* @code -1: exit with the launched server's status. */
static void abort_connection(struct recoverd *rd);

static void __attribute__((noreturn)) rd_finish(struct recoverd *rd, int code)
{
	int i, status;

	hot_finish(rd);
	/* A server waiting for our answer must not wait for our exit. */
	for (i = 0; i < MAX_CLIENTS; i++)
		if (rd->clients[i].fd >= 0) {
			close(rd->clients[i].fd);
			rd->clients[i].fd = -1;
		}
	/*
	 * A server dropped on its readers' death may still hang in its exit
	 * (a FLUSH of a file of its own mount) holding an fd of the
	 * connection; with no successor only an abort frees it.
	 */
	if (rd->fuse_fd >= 0 && hold_dying_server(rd)) {
		fr_log(LOG_WARNING, "a dead server has not finished its exit; aborting connection %u",
		       rd->conn_id);
		abort_connection(rd);
	}
	hold_release_fds(rd);
	if (rd->child > 0) {
		/* Bounded wait: a stuck server must not keep us here. */
		for (i = 0; i < 100; i++) {
			if (waitpid(rd->child, &status, WNOHANG) == rd->child)
				break;
			usleep(50000);
		}
		if (i == 100) {
			kill(rd->child, SIGKILL);
			waitpid(rd->child, &status, 0);
		}
		rd->child_status = WIFEXITED(status) ? WEXITSTATUS(status) :
						       128 + WTERMSIG(status);
	}
	if (code < 0)
		code = rd->child_status;
	fr_remove_tag_files(rd->dir, rd->tag);
	fr_log(LOG_INFO, "exiting (%d)", code);
	exit(code);
}

static void abort_connection(struct recoverd *rd)
{
	int err = fr_abort_connection(rd->conn_id);

	/*
	 * Closing the last fd aborts it too, but a server that holds one
	 * while it hangs in its exit keeps the connection (see rd_finish).
	 */
	if (err)
		fr_log(LOG_WARNING, "cannot abort connection %u: %s",
		       rd->conn_id, strerror(-err));
	hold_release_fds(rd);
}

static void __attribute__((noreturn)) rd_give_up(struct recoverd *rd,
						 const char *why)
{
	fr_log(LOG_ERR, "giving up: %s; aborting connection %u on %s", why,
	       rd->conn_id, rd->mountpoint ? rd->mountpoint : "(none)");
	if (rd->child > 0)
		kill(rd->child, SIGKILL);
	/*
	 * Never unmount: applications would then write into the directory
	 * underneath, silently.  The aborted mount answers ENOTCONN until
	 * an administrator unmounts it.
	 */
	if (rd->fuse_fd >= 0) {
		abort_connection(rd);
		fr_log(LOG_ERR, "%s stays mounted but dead (ENOTCONN): unmount it with umount or fusermount3 -u",
		       rd->mountpoint);
	}
	rd_finish(rd, 1);
}

/*
 * A server that got as far as serving is restarted at once: that is the
 * whole point.  Only starts that fail before serving back off, so a server
 * that cannot start does not spin; giving up is count_death()'s job.
 */
static void schedule_launch(struct recoverd *rd)
{
	double t = now_sec();

	if (rd->started_ok)
		rd->backoff_ms = 0;
	rd->started_ok = false;
	rd->next_launch = t + rd->backoff_ms / 1000.0;
	rd->backoff_ms = rd->backoff_ms ? rd->backoff_ms * 2 : 50;
	if (rd->backoff_ms > MAX_BACKOFF_MS)
		rd->backoff_ms = MAX_BACKOFF_MS;
}

/*
 * Gives up after more than max_restarts deaths within window_sec: the ring
 * holds the last max_restarts + 1 death times, so the oldest of them
 * decides, whatever max_restarts is.
 */
static void count_death(struct recoverd *rd)
{
	unsigned int size = rd->max_restarts + 1;
	double t = now_sec(), oldest;

	if (rd->ndeaths < size) {
		rd->deaths[(rd->death_head + rd->ndeaths++) % size] = t;
	} else {
		rd->deaths[rd->death_head] = t;
		rd->death_head = (rd->death_head + 1) % size;
	}
	oldest = rd->deaths[rd->death_head];
	if (rd->ndeaths == size && t - oldest <= rd->window_sec) {
		char why[96];

		snprintf(why, sizeof(why), "%u server deaths within %u s",
			 size, rd->window_sec);
		rd_give_up(rd, why);
	}
}

/*
 * A recovering server refused the connection (other mount point, other
 * capabilities) before serving from it.  The mount keeps waiting for a
 * compatible server: a refusal is no death, and the takeover timeout runs
 * on from the real death.
 */
static void server_declined(struct recoverd *rd)
{
	rd->state = ST_DOWN;
	if (rd->argv)
		schedule_launch(rd);
}

static void server_gone(struct recoverd *rd)
{
	if (rd->bye || rd->terminating || hold_mount_gone(rd)) {
		fr_log(LOG_INFO, "mount ended");
		rd_finish(rd, -1);
	}
	switch (rd->state) {
	case ST_SERVING:
	case ST_TAKEOVER:
		fr_log(LOG_WARNING, "death: server died; holding %s for the next one",
		       rd->mountpoint);
		rd->state = ST_DOWN;
		rd->down_since = now_sec();
		break;
	case ST_MOUNTING:
		rd->state = ST_EMPTY;
		if (!rd->argv) {
			fr_log(LOG_INFO, "server left before mounting");
			rd_finish(rd, 1);
		}
		break;
	default:
		break;
	}
	count_death(rd);
	/* A standby of a live upgrade takes over, or the old server resumes. */
	if (upg_server_gone(rd))
		return;
	/* A hot standby takes over at once. */
	if (hot_take(rd))
		return;
	if (rd->argv)
		schedule_launch(rd);
}


static void on_event(struct recoverd *rd, enum hold_event ev)
{
	if (ev == HOLD_SERVER_GONE)
		server_gone(rd);
	else if (ev == HOLD_DECLINED)
		server_declined(rd);
	else if (ev == HOLD_ABORT)
		rd_give_up(rd, "aborted on request (fuse-recover abort)");
}

/* The server's process exited: an heir carries on, or it is gone. */
static void server_exited(struct recoverd *rd)
{
	if (rd->server >= 0 && !heirs_take_over(rd))
		on_event(rd, hold_drop_client(rd, rd->server));
}

static void client_input(struct recoverd *rd, int idx)
{
	enum hold_event ev = hold_client_input(rd, idx);
	int tries;

	/* Each round ends one server (or heir), so this ends. */
	for (tries = 0; ev == HOLD_SERVER_EXITED && tries <= MAX_HEIRS;
	     tries++) {
		server_exited(rd);
		if (rd->clients[idx].fd < 0)
			return;
		ev = hold_client_input(rd, idx);
	}
	on_event(rd, ev);
}

static void launch(struct recoverd *rd)
{
	pid_t pid;

	rd->next_launch = 0;
	pid = spawn_server(rd, false);
	if (pid < 0) {
		schedule_launch(rd);
		return;
	}
	rd->child = pid;
	fr_log(LOG_INFO, "started %s as pid %d", rd->argv[0], (int)pid);
}

static void reap(struct recoverd *rd)
{
	int status;

	while (rd->child > 0 && waitpid(rd->child, &status, WNOHANG) ==
						rd->child) {
		rd->child = 0;
		rd->child_status = WIFEXITED(status) ? WEXITSTATUS(status) :
						       128 + WTERMSIG(status);
		if (rd->terminating)
			rd_finish(rd, -1);
	}
}

/*
 * A server we launched that daemonized is no longer our child: stop it
 * through its pidfd (never a pid that may have been reused).
 */
static bool stop_forked_server(struct recoverd *rd)
{
	int pidfd = rd->server >= 0 ? rd->clients[rd->server].pidfd : -1;

	return rd->argv && pidfd >= 0 &&
	       syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, NULL, 0) == 0;
}

static void on_signal(struct recoverd *rd)
{
	struct signalfd_siginfo si;

	while (read(rd->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			upg_reap(rd);
			hot_reap(rd);
			reap(rd);
			continue;
		}
		fr_log(LOG_INFO, "signal %u: %s", si.ssi_signo,
		       rd->child > 0 || (rd->argv && rd->server >= 0) ?
		       "stopping the server" : "releasing the connection");
		rd->terminating = true;
		if (rd->child > 0)
			kill(rd->child, SIGTERM);
		else if (!stop_forked_server(rd))
			rd_finish(rd, 0);
	}
}

static int listen_on_tag(struct recoverd *rd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[FR_PATH_MAX];
	int fd, err = fr_tag_path(path, rd->dir, rd->tag, "sock");

	if (err)
		return err;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	strcpy(sa.sun_path, path);
	unlink(path); /* stale; we hold the lock */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 8) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	rd->listen_fd = fd;
	return 0;
}

static int poll_timeout_ms(const struct recoverd *rd)
{
	double t = now_sec(), next = 0, idle;

	if (rd->next_launch)
		next = rd->next_launch;
	if (rd->state == ST_DOWN && rd->takeover_timeout_sec) {
		double d = rd->down_since + rd->takeover_timeout_sec;

		if (!next || d < next)
			next = d;
	}
	idle = hold_idle_deadline(rd);
	if (idle && (!next || idle < next))
		next = idle;
	idle = upg_deadline(rd);
	if (idle && (!next || idle < next))
		next = idle;
	idle = hot_deadline(rd);
	if (idle && (!next || idle < next))
		next = idle;
	if (!next)
		return -1;
	return next <= t ? 0 : (int)((next - t) * 1000) + 1;
}

static void run(struct recoverd *rd)
{
	for (;;) {
		struct pollfd p[5 + 2 * MAX_CLIENTS];
		int who[5 + 2 * MAX_CLIENTS];
		int n = 0, i;

		p[n] = (struct pollfd){ .fd = rd->sig_fd, .events = POLLIN };
		who[n++] = -1;
		p[n] = (struct pollfd){ .fd = rd->listen_fd, .events = POLLIN };
		who[n++] = -2;
		/*
		 * events 0: only POLLERR, i.e. the mount went away.  Only while
		 * no server runs: a /dev/fuse poller is woken by every queued
		 * request even when it asks for nothing, which cost the server
		 * a competing wakeup per request (bench/).  A live server sees
		 * an unmount itself, and its exit brings us back here.
		 */
		p[n] = (struct pollfd){
			.fd = rd->server < 0 ? rd->fuse_fd : -1, .events = 0 };
		who[n++] = -3;
		for (i = 0; i < MAX_CLIENTS; i++) {
			if (rd->clients[i].fd < 0)
				continue;
			p[n] = (struct pollfd){ .fd = rd->clients[i].fd,
						.events = POLLIN };
			who[n++] = i;
		}
		/* Event sockets: answers to DRAIN and RESUME (upgrade.c). */
		for (i = 0; i < MAX_CLIENTS; i++) {
			if (rd->clients[i].evfd < 0)
				continue;
			p[n] = (struct pollfd){ .fd = rd->clients[i].evfd,
						.events = POLLIN };
			who[n++] = -16 - i;
		}
		/*
		 * The server's pidfd: its process is what counts, even if a
		 * child it forked still holds the control socket open.
		 */
		if (rd->server >= 0 && rd->clients[rd->server].pidfd >= 0) {
			p[n] = (struct pollfd){
				.fd = rd->clients[rd->server].pidfd,
				.events = POLLIN };
			who[n++] = -4;
			/* Its readers, which all leave before that fires. */
			p[n] = (struct pollfd){
				.fd = readers_evfd(&rd->clients[rd->server]),
				.events = POLLIN };
			who[n++] = -5;
		}
		if (poll(p, n, poll_timeout_ms(rd)) < 0 && errno != EINTR)
			rd_give_up(rd, "poll failed");

		for (i = 0; i < n; i++) {
			if (!p[i].revents)
				continue;
			if (who[i] == -1)
				on_signal(rd);
			else if (who[i] == -2)
				hold_accept(rd);
			else if (who[i] == -3 && hold_mount_gone(rd)) {
				fr_log(LOG_INFO, "mount went away");
				rd_finish(rd, -1);
			}
			/* Still the same server: one that said HELLO in
			 * this round has another pidfd. */
			else if (who[i] == -4 && rd->server >= 0 &&
				 rd->clients[rd->server].pidfd == p[i].fd)
				server_exited(rd);
			else if (who[i] == -5 && rd->server >= 0 &&
				 readers_evfd(&rd->clients[rd->server]) ==
					 p[i].fd && (rd_mark(RDM_MAIN), 1) &&
				 readers_all_gone(&rd->clients[rd->server]))
				server_exited(rd);
			else if (who[i] >= 0 && rd->clients[who[i]].fd >= 0)
				client_input(rd, who[i]);
			else if (who[i] <= -16 &&
				 rd->clients[-16 - who[i]].evfd == p[i].fd)
				upg_event_input(rd, -16 - who[i]);
		}
		hold_drop_idle(rd);
		/* After this round's GO, if it had one. */
		readers_reap();
		upg_tick(rd);
		hot_tick(rd);
		if (rd->next_launch && now_sec() >= rd->next_launch &&
		    rd->child <= 0)
			launch(rd);
		if (rd->state == ST_DOWN && rd->takeover_timeout_sec &&
		    now_sec() - rd->down_since >= rd->takeover_timeout_sec) {
			char why[96];

			snprintf(why, sizeof(why),
				 "no server took over within %u s",
				 rd->takeover_timeout_sec);
			rd_give_up(rd, why);
		}
	}
}

/* Tells the server that started us why we cannot serve it. */
static int setup_failed(int client_fd, const char *what, int err)
{
	char why[160];

	snprintf(why, sizeof(why), "%s: %s", what, strerror(-err));
	fr_log(LOG_ERR, "%s", why);
	if (client_fd >= 0)
		frp_send_ack(client_fd, err, why);
	return 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: fuse-recoverd --tag NAME [options] [-- SERVER [ARGS...]]\n"
		"Keeps the FUSE mount tagged NAME alive across server deaths.\n"
		"With SERVER it starts the server and restarts it when it dies;\n"
		"the server must pass -o tag=NAME to fuse_recover_new().\n"
		"  --max-restarts N       give up after more than N deaths\n"
		"                         (10; at most 1000000)...\n"
		"  --window SEC           ...within SEC seconds (10, 60)\n"
		"  --takeover-timeout SEC give up SEC s after a death with no\n"
		"                         new server (60; 0 = wait forever)\n"
		"  --log FILE             append log lines to FILE\n"
		"  --standby N            keep N more copies of SERVER started\n"
		"                         and waiting to take over a crash (0)\n");
}

static unsigned int parse_uint(const char *s, const char *what,
			       unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s == '-' || !*s || *end || errno || v > max) {
		fprintf(stderr, "fuse-recoverd: bad %s: %s (0 to %lu)\n",
			what, s, max);
		exit(2);
	}
	return v;
}

/*
 * Every kept fd costs one slot of our table: take all the hard limit
 * allows, and derive the cap on kept fds from it.
 */
static void raise_nofile(struct recoverd *rd)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rd->nofile_orig = rl;
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			fr_log(LOG_WARNING, "cannot raise RLIMIT_NOFILE: %s",
			       strerror(errno));
	}
	hold_set_kept_cap(rd);
}

/* Appending to a log never follows a symlink someone planted there. */
static FILE *open_log(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
			    O_CLOEXEC, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "a") : NULL;

	if (!f && fd >= 0)
		close(fd);
	return f;
}

/*
 * hold.c's hooks: hot standbys (standby.c) first, the live upgrade
 * (upgrade.c) for everything else.
 */
static int hook_hello(struct recoverd *rd, int idx, const struct frp_msg *m)
{
	bool ext = m->arg[1] & FRP_HELLO_HOT;

	if (rd->clients[idx].hot != HOT_NONE || ext)
		return hot_hello(rd, idx, ext);
	return upg_hold_hooks.hello(rd, idx, m);
}

static bool hook_standby_input(struct recoverd *rd, int idx,
			       struct frp_msg *m)
{
	return hot_input(rd, idx, m) ||
	       upg_hold_hooks.standby_input(rd, idx, m);
}

static bool hook_client_dropped(struct recoverd *rd, int idx,
				enum hold_event *ev)
{
	if (idx != rd->server && hot_dropped(rd, idx)) {
		*ev = HOLD_NOTHING;
		return true;
	}
	return upg_hold_hooks.client_dropped(rd, idx, ev);
}

static struct hold_hooks rd_hooks;

int main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "tag", required_argument, NULL, 't' },
		{ "max-restarts", required_argument, NULL, 'r' },
		{ "window", required_argument, NULL, 'w' },
		{ "takeover-timeout", required_argument, NULL, 'T' },
		{ "client-fd", required_argument, NULL, 'c' },
		{ "lock-fd", required_argument, NULL, 'l' },
		{ "log", required_argument, NULL, 'L' },
		{ "standby", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct recoverd *rd = &rd_global;
	const char *tag = NULL, *log = secure_getenv("FUSE_RECOVERD_LOG");
	const char *trace;
	int client_fd = -1, c, i, err;
	sigset_t mask;

	trace = secure_getenv("FUSE_RECOVER_TRACE");
	rd_tracing = trace && strcmp(trace, "1") == 0;
	rd->max_restarts = 10;
	rd->window_sec = 60;
	rd->takeover_timeout_sec = 60;
	rd->lock_fd = -1;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 't': tag = optarg; break;
		case 'r':
			rd->max_restarts = parse_uint(optarg, "--max-restarts",
						      FR_RESTARTS_MAX);
			break;
		case 'w':
			rd->window_sec = parse_uint(optarg, "--window",
						    FR_SECONDS_MAX);
			break;
		case 'T':
			rd->takeover_timeout_sec = parse_uint(optarg,
					"--takeover-timeout", FR_SECONDS_MAX);
			break;
		case 'c': client_fd = parse_uint(optarg, "fd", INT_MAX); break;
		case 'l': rd->lock_fd = parse_uint(optarg, "fd", INT_MAX); break;
		case 'L': log = optarg; break;
		case 'S':
			rd->hot.want = parse_uint(optarg, "--standby",
						  HOT_MAX_STANDBY);
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!tag || fuse_recover_tag_valid(tag)) {
		fprintf(stderr, "fuse-recoverd: %s tag\n", tag ? "invalid" : "missing");
		usage(stderr);
		return 2;
	}
	snprintf(rd->tag, sizeof(rd->tag), "%s", tag);
	if (optind < argc)
		rd->argv = &argv[optind];
	if (rd->hot.want && !rd->argv) {
		fprintf(stderr, "fuse-recoverd: --standby needs a SERVER to start\n");
		return 2;
	}
	umask(077);
	if (log && *log) {
		FILE *f = open_log(log);

		if (!f)
			fprintf(stderr, "fuse-recoverd: cannot open %s: %s\n",
				log, strerror(errno));
		rd_log_to(f, rd->tag);
	} else {
		rd_log_to(NULL, rd->tag);
	}
	rd->deaths = calloc(rd->max_restarts + 1, sizeof(*rd->deaths));
	if (!rd->deaths) {
		fprintf(stderr, "fuse-recoverd: out of memory\n");
		return 1;
	}
	raise_nofile(rd);
	rd->owner = geteuid();
	rd->server = -1;
	rd->fuse_fd = -1;
	rd->dying_pidfd = -1;
	rd->listen_fd = -1;
	for (i = 0; i < MAX_CLIENTS; i++)
		rd->clients[i] = (struct client){ .fd = -1, .pidfd = -1,
						  .evfd = -1 };
	upg_init(rd);
	rd->hot.taking = -1;
	rd_hooks = upg_hold_hooks;
	rd_hooks.hello = hook_hello;
	rd_hooks.standby_input = hook_standby_input;
	rd_hooks.client_dropped = hook_client_dropped;
	rd_hooks.kept_changed = hot_kept_changed;
	rd->hooks = &rd_hooks;
	signal(SIGPIPE, SIG_IGN);

	err = fr_runtime_dir(rd->dir, sizeof(rd->dir));
	if (err)
		return setup_failed(client_fd, "no runtime directory", err);
	if (rd->lock_fd < 0) {
		err = fr_lock_tag(rd->dir, rd->tag, &rd->lock_fd);
		if (err)
			return setup_failed(client_fd, err == -EWOULDBLOCK ?
					    "the tag already has a supervisor" :
					    "cannot lock the tag", err);
	}
	fcntl(rd->lock_fd, F_SETFD, FD_CLOEXEC);
	err = listen_on_tag(rd);
	if (err) {
		fr_remove_tag_files(rd->dir, rd->tag);
		return setup_failed(client_fd, "cannot listen", err);
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	rd->sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (client_fd >= 0) {
		fcntl(client_fd, F_SETFD, FD_CLOEXEC);
		frp_send_ack(client_fd, 0, NULL); /* ready */
		hold_add_client(rd, client_fd, 0, true);
	}
	if (rd->argv)
		launch(rd);
	run(rd);
	return 0;
}
