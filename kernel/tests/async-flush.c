// SPDX-License-Identifier: GPL-2.0
/*
 * async-flush: what FUSE_ASYNC_FLUSH must not break, one mount per case.
 *
 *   bound    close(dup(fd)) 1000 times while no server runs: every close
 *            returns at once, yet at most 2 requests wait (the FLUSHes of
 *            one file and lock owner are coalesced), and the next server
 *            gets at most 2 FLUSHes for them
 *   queue    40 files open, no server: closes return at once only until
 *            max_background (16) FLUSHes wait, then close() waits too
 *   unlock   after a POSIX lock, close() waits for FLUSH, which is what
 *            releases the lock on the server, and it carries the lock's
 *            owner
 *   late     a lock request taken after reopening does not reach the
 *            server while the earlier close's FLUSH is unanswered (that
 *            FLUSH would release the new lock)
 *   order    RELEASE is not sent while its file's FLUSH is unanswered,
 *            though the server keeps reading (as a multi-threaded one does)
 *   enosys   a FLUSH answered ENOSYS is the last one sent
 *
 * The server is a thread of this program reading the raw /dev/fuse fd; it
 * reports FLUSH, RELEASE and SETLK to the main thread and answers, holds
 * or refuses them as told.  The application is a child process driven by
 * one-letter commands over a pipe.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ftest.h"

#define FUSECTL "/sys/fs/fuse/connections"
#define WANT (FUSE_HAS_RECOVERY | FUSE_ASYNC_FLUSH | FUSE_POSIX_LOCKS)

enum policy { ANSWER, HOLD, NOSYS };
enum { EV_FLUSH, EV_RELEASE, EV_SETLK, EV_KINDS };
static const char * const ev_name[] = { "FLUSH", "RELEASE", "SETLK" };

struct ev {
	int kind;
	uint64_t unique;
	uint64_t owner;
};

/* the server thread and what it shares with the main thread */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct ev q[64];
	unsigned int head, tail;
	enum policy policy[EV_KINDS];
	int stop;
	struct ft_server srv;
	pthread_t thread;
	int running;
} S = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
};

static void *serve(void *unused)
{
	static char buf[256 * 1024];
	struct fuse_in_header *ih = (void *)buf;
	void *arg = buf + sizeof(*ih);

	(void)unused;
	while (!__atomic_load_n(&S.stop, __ATOMIC_ACQUIRE)) {
		struct pollfd p = { .fd = S.srv.fd, .events = POLLIN };
		struct ev ev = { .kind = -1 };
		enum policy pol;
		ssize_t n;

		if (poll(&p, 1, 20) <= 0)
			continue;
		n = read(S.srv.fd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == ENOENT))
			continue;
		if (n < (ssize_t)sizeof(*ih))
			break;
		switch (ih->opcode) {
		case FUSE_FLUSH:
			ev.kind = EV_FLUSH;
			ev.owner = ((struct fuse_flush_in *)arg)->lock_owner;
			break;
		case FUSE_RELEASE:
			ev.kind = EV_RELEASE;
			break;
		case FUSE_SETLK:
		case FUSE_SETLKW:
			ev.kind = EV_SETLK;
			ev.owner = ((struct fuse_lk_in *)arg)->owner;
			break;
		default:
			ft_handle(&S.srv, buf);
			continue;
		}
		ev.unique = ih->unique;
		pthread_mutex_lock(&S.lock);
		pol = S.policy[ev.kind];
		if (S.tail - S.head < 64)
			S.q[S.tail++ % 64] = ev;
		pthread_cond_broadcast(&S.cond);
		pthread_mutex_unlock(&S.lock);
		if (pol != HOLD)
			ft_answer(S.srv.fd, ev.unique, pol == NOSYS ? -ENOSYS : 0,
				  NULL, 0);
	}
	return NULL;
}

static int server_start(int fd)
{
	S.srv.fd = fd;
	S.srv.want = WANT;
	S.srv.notify_fd = -1;
	S.srv.content = "data\n";
	S.stop = 0;
	S.head = S.tail = 0;
	if (pthread_create(&S.thread, NULL, serve, NULL))
		return -1;
	S.running = 1;
	return 0;
}

static void server_stop(void)
{
	if (!S.running)
		return;
	__atomic_store_n(&S.stop, 1, __ATOMIC_RELEASE);
	pthread_join(S.thread, NULL);
	S.running = 0;
}

static void set_policy(int kind, enum policy pol)
{
	pthread_mutex_lock(&S.lock);
	S.policy[kind] = pol;
	pthread_mutex_unlock(&S.lock);
}

/* Next event within @ms: 1 (in *@ev), or 0 on timeout */
static int next_ev(int ms, struct ev *ev)
{
	struct timespec ts;
	int got = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&S.lock);
	while (S.head == S.tail)
		if (pthread_cond_timedwait(&S.cond, &S.lock, &ts))
			break;
	if (S.head != S.tail) {
		*ev = S.q[S.head++ % 64];
		got = 1;
	}
	pthread_mutex_unlock(&S.lock);
	return got;
}

/* Expect an event of @kind within @ms; anything else first is a failure */
static int expect_ev(int kind, int ms, struct ev *ev)
{
	struct ev dummy;

	if (!ev)
		ev = &dummy;
	if (!next_ev(ms, ev)) {
		ft_log("no %s within %d ms", ev_name[kind], ms);
		return -1;
	}
	if (ev->kind != kind) {
		ft_log("got %s, expected %s", ev_name[ev->kind], ev_name[kind]);
		return -1;
	}
	return 0;
}

/* No event at all within @ms */
static int expect_quiet(int ms, const char *why)
{
	struct ev ev;

	if (next_ev(ms, &ev)) {
		ft_log("%s arrived %s", ev_name[ev.kind], why);
		return -1;
	}
	return 0;
}

/* ---- the application: a child obeying one-letter commands ---- */

struct app {
	pid_t pid;
	int cmd, status;
};

#define MANY 40

static void app_main(const char *path, int cmd, int status)
{
	struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET };
	int fd = -1, many[MANY], i, ok;
	char c;

	alarm(60);
	while (read(cmd, &c, 1) == 1) {
		switch (c) {
		case 'o':
			fd = open(path, O_RDONLY);
			ok = fd >= 0;
			break;
		case 'c':
			ok = !close(fd);
			fd = -1;
			break;
		case 'd':
			for (i = 0, ok = 1; i < 1000 && ok; i++)
				ok = !close(dup(fd));
			break;
		case 'l':
			ok = !fcntl(fd, F_SETLK, &fl);
			break;
		case 'm':
			for (i = 0, ok = 1; i < MANY && ok; i++)
				ok = (many[i] = open(path, O_RDONLY)) >= 0;
			break;
		case 'M':
			/* one 'p' per close that returned */
			for (i = 0, ok = 1; i < MANY && ok; i++)
				ok = !close(many[i]) && write(status, "p", 1) == 1;
			break;
		default:
			_exit(0);
		}
		if (write(status, ok ? "k" : "e", 1) != 1)
			_exit(2);
	}
	_exit(0);
}

static int app_start(struct app *a, const char *path)
{
	int cmd[2], status[2];

	if (pipe2(cmd, O_CLOEXEC) || pipe2(status, O_CLOEXEC))
		return -1;
	a->pid = fork();
	if (a->pid < 0)
		return -1;
	if (a->pid == 0) {
		/* the server's /dev/fuse fd: the app must not keep it alive */
		close(S.srv.fd);
		close(cmd[1]);
		close(status[0]);
		app_main(path, cmd[0], status[1]);
	}
	close(cmd[0]);
	close(status[1]);
	a->cmd = cmd[1];
	a->status = status[0];
	return 0;
}

static int app_send(struct app *a, char c)
{
	return write(a->cmd, &c, 1) == 1 ? 0 : -1;
}

/* The answer to the last command: 0 ok, -1 none within @ms, -2 failed */
static int app_result(struct app *a, int ms)
{
	struct pollfd p = { .fd = a->status, .events = POLLIN };
	char c;

	if (poll(&p, 1, ms) <= 0 || read(a->status, &c, 1) != 1)
		return -1;
	return c == 'k' ? 0 : -2;
}

static int app_do(struct app *a, char c, int ms)
{
	int r;

	if (app_send(a, c))
		return -1;
	r = app_result(a, ms);
	if (r)
		ft_log("application command '%c': %s", c,
		       r == -1 ? "no answer" : "failed");
	return r;
}

static void app_end(struct app *a)
{
	if (a->pid <= 0)
		return;
	ft_kill(a->pid);
	close(a->cmd);
	close(a->status);
	a->pid = 0;
}

/* ---- one mount per case ---- */

struct tcase {
	const char *name;
	char mnt[64];
	char tag[64];
	char file[80];
	int fd;
	unsigned int minor;
	struct app app;
};

/* The connection number fusectl uses, from mountinfo (no request sent) */
static unsigned int conn_minor(const char *mnt)
{
	char line[512], point[256];
	unsigned int major, minor, found = 0;
	FILE *f = fopen("/proc/self/mountinfo", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%*u %*u %u:%u %*s %255s", &major, &minor,
			   point) == 3 && !strcmp(point, mnt))
			found = minor;
	fclose(f);
	return found;
}

static int case_begin(struct tcase *t, const char *name)
{
	/* /dev/fuse refuses reads into buffers smaller than 8 KiB */
	static char buf[256 * 1024];
	ssize_t n;

	memset(t, 0, sizeof(*t));
	t->name = name;
	snprintf(t->mnt, sizeof(t->mnt), "/mnt/af-%s", name);
	snprintf(t->tag, sizeof(t->tag), "af-%s", name);
	snprintf(t->file, sizeof(t->file), "%s/file", t->mnt);
	if (ft_mkdir(t->mnt))
		return -1;
	t->fd = ft_mount(t->mnt, t->tag, 0, NULL);
	if (t->fd < 0) {
		ft_log("%s: mount: %s", name, strerror(-t->fd));
		return -1;
	}
	/* answer INIT here, so the flags are settled before anything runs */
	S.srv.fd = t->fd;
	S.srv.want = WANT;
	S.srv.notify_fd = -1;
	S.srv.content = "data\n";
	n = read(t->fd, buf, sizeof(buf));
	if (n < (ssize_t)sizeof(struct fuse_in_header) ||
	    ((struct fuse_in_header *)buf)->opcode != FUSE_INIT ||
	    ft_handle(&S.srv, buf)) {
		ft_log("%s: no INIT", name);
		return -1;
	}
	t->minor = conn_minor(t->mnt);
	set_policy(EV_FLUSH, ANSWER);
	set_policy(EV_RELEASE, ANSWER);
	set_policy(EV_SETLK, ANSWER);
	if (server_start(t->fd) || app_start(&t->app, t->file))
		return -1;
	return app_do(&t->app, 'o', 5000);
}

/* answer everything, let the app go, unmount; 0 if all went cleanly */
static int case_end(struct tcase *t, int ret)
{
	struct ev ev;

	set_policy(EV_FLUSH, ANSWER);
	set_policy(EV_RELEASE, ANSWER);
	set_policy(EV_SETLK, ANSWER);
	/* requests held so far are answered now; a late answer is harmless */
	while (next_ev(0, &ev))
		if (t->fd >= 0)
			ft_answer(t->fd, ev.unique, 0, NULL, 0);
	app_end(&t->app);
	server_stop();
	if (umount(t->mnt)) {
		ft_log("%s: umount: %m", t->name);
		umount2(t->mnt, MNT_DETACH);
		ret = -1;
	}
	if (t->fd >= 0)
		close(t->fd);
	ft_log("%s: %s", t->name, ret ? "FAILED" : "ok");
	return ret;
}

static long waiting(unsigned int minor)
{
	char path[96], buf[32];
	long n = -1;
	int fd;

	snprintf(path, sizeof(path), FUSECTL "/%u/waiting", minor);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	if (read(fd, buf, sizeof(buf) - 1) > 0)
		n = strtol(buf, NULL, 10);
	close(fd);
	return n;
}

static int case_bound(void)
{
	struct tcase t;
	struct ev ev;
	long long t0;
	long w;
	int flushes = 0, ret = -1;

	if (case_begin(&t, "bound"))
		return case_end(&t, -1);
	/* no server at all: recovery keeps the connection, requests wait */
	server_stop();
	close(t.fd);
	t.fd = -1;

	t0 = ft_now_ms();
	if (app_do(&t.app, 'd', 20000))
		goto out;
	w = waiting(t.minor);
	ft_log("bound: 1000 closes took %lld ms, %ld requests waiting",
	       ft_now_ms() - t0, w);
	if (w < 0 || w > 2) {
		ft_log("bound: closes piled up requests (%ld)", w);
		goto out;
	}

	t.fd = ft_attach(t.mnt, t.tag);
	if (t.fd < 0 || server_start(t.fd)) {
		ft_log("bound: reattach: %s", strerror(-t.fd));
		goto out;
	}
	while (next_ev(1500, &ev)) {
		if (ev.kind != EV_FLUSH) {
			ft_log("bound: unexpected %s", ev_name[ev.kind]);
			goto out;
		}
		flushes++;
	}
	ft_log("bound: new server got %d FLUSH", flushes);
	if (flushes < 1 || flushes > 2)
		goto out;
	ret = 0;
out:
	return case_end(&t, ret);
}

static int case_queue(void)
{
	struct tcase t;
	struct pollfd p;
	int closed = 0, ret = -1;
	char c;

	if (case_begin(&t, "queue") || app_do(&t.app, 'm', 10000))
		return case_end(&t, -1);
	server_stop();
	close(t.fd);
	t.fd = -1;

	if (app_send(&t.app, 'M'))
		goto out;
	p.fd = t.app.status;
	p.events = POLLIN;
	while (poll(&p, 1, 2000) > 0 && read(t.app.status, &c, 1) == 1 &&
	       c == 'p')
		closed++;
	ft_log("queue: %d of %d closes returned, %ld requests waiting",
	       closed, MANY, waiting(t.minor));
	if (closed == 0 || closed > 16) {
		ft_log("queue: wanted at most max_background (16)");
		goto out;
	}

	/* a server comes back: the waiting closes finish */
	t.fd = ft_attach(t.mnt, t.tag);
	if (t.fd < 0 || server_start(t.fd)) {
		ft_log("queue: reattach: %s", strerror(-t.fd));
		goto out;
	}
	while (closed < MANY && poll(&p, 1, 5000) > 0 &&
	       read(t.app.status, &c, 1) == 1 && c == 'p')
		closed++;
	if (closed < MANY || app_result(&t.app, 5000)) {
		ft_log("queue: only %d closes returned with a server", closed);
		goto out;
	}
	ret = 0;
out:
	return case_end(&t, ret);
}

static int case_unlock(void)
{
	struct tcase t;
	struct ev lk, fl;
	int ret = -1;

	if (case_begin(&t, "unlock"))
		return case_end(&t, -1);
	if (app_do(&t.app, 'l', 5000) || expect_ev(EV_SETLK, 3000, &lk))
		goto out;
	set_policy(EV_FLUSH, HOLD);
	if (app_send(&t.app, 'c') || expect_ev(EV_FLUSH, 3000, &fl))
		goto out;
	if (fl.owner != lk.owner) {
		ft_log("unlock: FLUSH owner %llx, lock owner %llx",
		       (unsigned long long)fl.owner,
		       (unsigned long long)lk.owner);
		goto out;
	}
	if (app_result(&t.app, 500) != -1) {
		ft_log("unlock: close() returned before the lock was released");
		goto out;
	}
	ft_answer(t.fd, fl.unique, 0, NULL, 0);
	if (app_result(&t.app, 3000)) {
		ft_log("unlock: close() did not return after FLUSH");
		goto out;
	}
	ret = 0;
out:
	return case_end(&t, ret);
}

static int case_late(void)
{
	struct tcase t;
	struct ev fl;
	int ret = -1;

	if (case_begin(&t, "late"))
		return case_end(&t, -1);
	set_policy(EV_FLUSH, HOLD);
	/* no lock yet: this close does not wait */
	if (app_do(&t.app, 'c', 3000) || expect_ev(EV_FLUSH, 3000, &fl))
		goto out;
	if (app_do(&t.app, 'o', 3000) || app_send(&t.app, 'l'))
		goto out;
	if (expect_quiet(1000, "while an older FLUSH was unanswered"))
		goto out;
	ft_answer(t.fd, fl.unique, 0, NULL, 0);
	/* the first file's RELEASE may come first */
	if (next_ev(3000, &fl) && fl.kind == EV_RELEASE)
		next_ev(3000, &fl);
	if (fl.kind != EV_SETLK) {
		ft_log("late: no SETLK after the FLUSH was answered");
		goto out;
	}
	if (app_result(&t.app, 3000)) {
		ft_log("late: lock not granted");
		goto out;
	}
	ret = 0;
out:
	return case_end(&t, ret);
}

static int case_order(void)
{
	struct tcase t;
	struct ev fl;
	int ret = -1;

	if (case_begin(&t, "order"))
		return case_end(&t, -1);
	set_policy(EV_FLUSH, HOLD);
	if (app_do(&t.app, 'c', 3000) || expect_ev(EV_FLUSH, 3000, &fl))
		goto out;
	if (expect_quiet(1000, "while its FLUSH was unanswered"))
		goto out;
	ft_answer(t.fd, fl.unique, 0, NULL, 0);
	if (expect_ev(EV_RELEASE, 3000, NULL))
		goto out;
	ret = 0;
out:
	return case_end(&t, ret);
}

static int case_enosys(void)
{
	struct tcase t;
	int ret = -1, i;

	if (case_begin(&t, "enosys"))
		return case_end(&t, -1);
	set_policy(EV_FLUSH, NOSYS);
	if (app_do(&t.app, 'c', 3000) || expect_ev(EV_FLUSH, 3000, NULL) ||
	    expect_ev(EV_RELEASE, 3000, NULL))
		goto out;
	for (i = 0; i < 2; i++)
		if (app_do(&t.app, 'o', 3000) || app_do(&t.app, 'c', 3000) ||
		    expect_ev(EV_RELEASE, 3000, NULL))
			goto out;
	ret = 0;
out:
	return case_end(&t, ret);
}

int main(void)
{
	int bad = 0;

	ft_name = "async-flush";
	ft_deadline(80);
	signal(SIGPIPE, SIG_IGN);
	if (mount("fusectl", FUSECTL, "fusectl", 0, NULL) && errno != EBUSY)
		ft_log("mounting fusectl: %m");

	bad |= case_bound();
	bad |= case_queue();
	bad |= case_unlock();
	bad |= case_late();
	bad |= case_order();
	bad |= case_enosys();
	return bad ? FT_FAIL : FT_PASS;
}
