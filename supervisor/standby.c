// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Hot standbys (fuse-recoverd --standby N): copies of the server started
 * ahead of a crash, so that a restart costs no process start.
 *
 * A standby is started like the server, with FUSE_RECOVER_STANDBY=1: the
 * library's standby mode of a live upgrade (lib/upgrade.c).  It says HELLO,
 * gets the connection (STANDBY), fetches the kept fds, replays the saved
 * INIT and compares the reply, opens a state store without taking it, and
 * says STANDBY_READY; then it waits for GO, reading no request and writing
 * no state.  One that refuses (other capabilities, a store it cannot use)
 * says so at once, and is logged and started again only after a backoff.
 *
 * When the server dies, hot_take() hands the connection to a ready standby
 * with GO (resend): it takes the store, asks the kernel to resend what the
 * dead server had read and serves.  The next standby is started once the
 * new server serves, so the start never competes with the takeover.
 *
 * A server may also come as a standby by itself (FUSE_RECOVER_STANDBY=1,
 * e.g. a second shell loop running it): it waits the same way, and takes
 * the mount as an ordinary server if nobody serves.  Restarting it is
 * then its loop's business.
 *
 * A standby saw the kept fds when it started.  Files the server keeps or
 * drops later (unlinked open files) reach it with GO: FRP_GO_REFETCH
 * makes it fetch them again before it serves (hold_go_flags()).  Other
 * kept memory (a state store, an id map) the standby has already opened:
 * a server that keeps another makes the standbys stale, and they are
 * replaced (hot_stale()), as they are after a live upgrade.
 */
#include "recoverd.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

/*
 * The server settles (keeps its poison table, its store or id map) before
 * a standby starts, or the standby would see those change and be replaced.
 * A server sends its event socket once its start is done; one that sends
 * none (an older library) is given HOT_SETTLE_MAX_SEC.
 */
#define HOT_SETTLE_SEC 0.1
#define HOT_SETTLE_MAX_SEC 2.0
#define HOT_MAX_BACKOFF_MS 5000
/*
 * A standby that got GO serves within microseconds; one that does not (a
 * stopped or hung process) must not hold the mount for the takeover
 * timeout: it is killed, and its death is an ordinary one.
 */
#define HOT_GO_TIMEOUT_SEC 2.0

static void hot_adopt_child(struct recoverd *rd, pid_t pid)
{
	unsigned int i;

	for (i = 0; i < HOT_MAX_REAP; i++)
		if (!rd->hot.reap[i]) {
			rd->hot.reap[i] = pid;
			return;
		}
	/* Full: a zombie until we exit, never a blocked supervisor. */
}

/*
 * Starts rd->argv with a control socket of its own in FUSE_RECOVER_FD and
 * gives it a client slot.  @standby: as a hot standby, which
 * FUSE_RECOVER_STANDBY=1 makes the library wait for GO after its INIT
 * replay.  Its environment is ours, or after a live upgrade the one the
 * successor was given.  Returns its pid, or -1 (logged).  main.c
 * launches servers with it too.
 */
pid_t spawn_server(struct recoverd *rd, bool standby)
{
	struct launch l = { .argv = rd->argv, .out = -1,
			    .nofile = &rd->nofile_orig };
	char fd_var[48], **env;
	int sv[2], idx, status;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		fr_log(LOG_ERR, "socketpair: %s", strerror(errno));
		return -1;
	}
	snprintf(fd_var, sizeof(fd_var), "FUSE_RECOVER_FD=%d", sv[1]);
	env = launch_env(rd->envp ? rd->envp : environ, fd_var,
			 standby ? LAUNCH_STANDBY : LAUNCH_SERVER);
	if (!env) {
		fr_log(LOG_ERR, "out of memory starting %s", rd->argv[0]);
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	l.env = env;
	l.fd = sv[1];
	pid = launch_process(&l);
	free(env);
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		fr_log(LOG_ERR, "vfork: %s", strerror((int)-pid));
		return -1;
	}
	idx = hold_add_client(rd, sv[0], pid, true);
	if (idx < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return -1;
	}
	if (standby)
		rd->clients[idx].hot = HOT_LAUNCHED;
	return pid;
}

static void forget_child(struct recoverd *rd, pid_t pid)
{
	unsigned int i;

	for (i = 0; i < HOT_MAX_REAP; i++)
		if (rd->hot.reap[i] == pid)
			rd->hot.reap[i] = 0;
}

void hot_reap(struct recoverd *rd)
{
	unsigned int i;
	int status;

	for (i = 0; i < HOT_MAX_REAP; i++)
		if (rd->hot.reap[i] > 0 &&
		    waitpid(rd->hot.reap[i], &status, WNOHANG) ==
		    rd->hot.reap[i])
			rd->hot.reap[i] = 0;
}

static bool alive(const struct client *c)
{
	struct pollfd p = { .fd = c->pidfd, .events = POLLIN };

	return c->fd >= 0 && (c->pidfd < 0 || poll(&p, 1, 0) == 0);
}

static unsigned int count(const struct recoverd *rd, enum hot_state min)
{
	unsigned int i, n = 0;

	for (i = 0; i < MAX_CLIENTS; i++)
		if (rd->clients[i].hot >= min && !rd->clients[i].hot_stale)
			n++;
	return n;
}

static void kill_client(struct client *c)
{
	if (c->pidfd >= 0)
		syscall(SYS_pidfd_send_signal, c->pidfd, SIGKILL, NULL, 0);
}

/* For fuse-recover status: standbys alive, and ready among them. */
void hot_counts(const struct recoverd *rd, unsigned int *alive_n,
		unsigned int *ready_n)
{
	*alive_n = count(rd, HOT_LAUNCHED);
	*ready_n = count(rd, HOT_READY);
}

/* A standby that failed: the next one waits longer. */
static void backoff(struct recoverd *rd)
{
	struct hot *h = &rd->hot;

	h->backoff_ms = h->backoff_ms ? h->backoff_ms * 2 : 100;
	if (h->backoff_ms > HOT_MAX_BACKOFF_MS)
		h->backoff_ms = HOT_MAX_BACKOFF_MS;
	h->next = now_sec() + h->backoff_ms / 1000.0;
}

/*
 * 1: answered (STANDBY sent); 0: an ordinary HELLO after all (a standby
 * from outside that finds nobody serving serves); -errno: refused, to be
 * dropped.
 */
int hot_hello(struct recoverd *rd, int idx, bool external)
{
	struct client *c = &rd->clients[idx];
	struct frp_msg r;
	char why[128];
	int err;

	if (external && c->hot == HOT_NONE) {
		if (rd->server < 0 && rd->upg.phase == UPG_NONE &&
		    (rd->state == ST_EMPTY || rd->state == ST_DOWN))
			return 0;
		c->hot = HOT_LAUNCHED;
	}
	if (rd->state != ST_SERVING || rd->server < 0 ||
	    rd->upg.phase != UPG_NONE || hold_server_exited(rd)) {
		/* It would stand by for a server not there: started later. */
		snprintf(why, sizeof(why), "no server serves tag %s now",
			 rd->tag);
		fr_log(LOG_INFO, "standby: pid %d not needed: %s", (int)c->pid,
		       why);
		c->hot_stale = true;
		return frp_send_ack(c->fd, -EAGAIN, why) ?: -EAGAIN;
	}
	hold_connection_msg(rd, &r, FRP_STANDBY);
	err = frp_send(c->fd, &r);
	if (err)
		return err;
	c->hot = HOT_REPLAYING;
	return 1;
}

bool hot_input(struct recoverd *rd, int idx, struct frp_msg *m)
{
	struct client *c = &rd->clients[idx];
	int err;

	if (c->hot < HOT_REPLAYING)
		return false;
	switch (m->type) {
	case FRP_FETCH:
		err = c->hot == HOT_REPLAYING ? hold_send_kept(rd, idx) :
						-EPROTO;
		frp_send_ack(c->fd, err, err ? strerror(-err) : NULL);
		break;
	case FRP_EVENTS:
		/* Its event socket, ahead of the takeover (off its path). */
		err = hold_take_events(rd, idx, m);
		frp_send_ack(c->fd, err, err ? "no event socket" : NULL);
		break;
	case FRP_READERS:
		/* No reply, as from a server (hold.c); watched from now on. */
		if (m->nfd == 1 && readers_watch(c, m->fd[0]))
			fr_log(LOG_WARNING,
			       "standby: pid %d: unusable reader slots",
			       (int)c->pid);
		break;
	case FRP_STANDBY_READY:
		c->hot = HOT_READY;
		rd->hot.backoff_ms = 0;
		fr_log(LOG_INFO, "standby: pid %d ready (INIT replayed and compared); %u ready",
		       (int)c->pid, count(rd, HOT_READY));
		break;
	case FRP_DECLINE:
		rd->hot.refused++;
		fr_log(LOG_ERR, "standby: pid %d refused: %.*s; the server serves on",
		       (int)c->pid, (int)m->blob_len[0],
		       (const char *)m->blob[0]);
		frp_close_fds(m);
		hold_drop_client(rd, idx);
		return true;
	default:
		frp_send_ack(c->fd, -EPROTO, "unexpected in standby");
	}
	frp_close_fds(m);
	return true;
}

/* A standby's slot goes (its socket hung up, or we dropped it). */
bool hot_dropped(struct recoverd *rd, int idx)
{
	struct client *c = &rd->clients[idx];

	if (c->hot == HOT_NONE)
		return false;
	if (!c->hot_stale) {
		fr_log(LOG_WARNING, "standby: pid %d exited %s%s",
		       (int)c->pid, c->hot == HOT_READY ? "while ready" :
		       "before it was ready",
		       c->launched ? "; starting another" : "");
		if (c->hot != HOT_READY)
			backoff(rd);
	}
	/* Its process may outlive the socket a moment: reaped later. */
	c->hot = HOT_NONE;
	c->hot_stale = false;
	return true;
}

/*
 * The server died: a ready standby gets GO at once.  Its pid becomes the
 * launched server's (so it is stopped and reaped as one); the dead one is
 * reaped here.
 */
bool hot_take(struct recoverd *rd)
{
	struct frp_msg go = { .type = FRP_GO };
	int i;

	if (rd->server >= 0 || rd->terminating || rd->upg.phase != UPG_NONE)
		return false;
	for (i = 0; i < MAX_CLIENTS; i++) {
		struct client *c = &rd->clients[i];

		if (c->hot != HOT_READY || c->hot_stale || !alive(c))
			continue;
		go.arg[0] = hold_go_flags(rd, i, FRP_GO_RESEND);
		rd_mark(RDM_GO);
		if (rd_tracing) {
			go.blob[0] = rd_marks;
			go.blob_len[0] = sizeof(rd_marks);
		}
		if (frp_send(c->fd, &go)) {
			c->hot_stale = true;
			kill_client(c);
			continue;
		}
		c->hot = HOT_NONE;
		rd->server = i;
		rd->gen++;
		rd->state = ST_TAKEOVER;
		/* main.c waits for the server; we for the dead one. */
		if (c->launched) {
			if (rd->child > 0)
				hot_adopt_child(rd, rd->child);
			forget_child(rd, c->pid);
			rd->child = c->pid;
		}
		memset(rd_marks, 0, sizeof(rd_marks));
		rd->hot.takeovers++;
		rd->hot.taking = i;
		rd->hot.go_deadline = now_sec() + HOT_GO_TIMEOUT_SEC;
		fr_log(LOG_INFO, "takeover: hot standby pid %d gets tag %s (%.3f ms after the death)",
		       (int)c->pid, rd->tag, (now_sec() - rd->down_since) * 1e3);
		return true;
	}
	return false;
}

/* What the standbys saw is out of date: each is replaced. */
void hot_stale(struct recoverd *rd, const char *why)
{
	int i;

	for (i = 0; i < MAX_CLIENTS; i++) {
		struct client *c = &rd->clients[i];

		if (c->hot < HOT_REPLAYING || c->hot_stale)
			continue;
		fr_log(LOG_INFO, "standby: pid %d replaced: %s", (int)c->pid,
		       why);
		c->hot_stale = true;
		kill_client(c);
	}
}

/*
 * The server kept or dropped an fd.  A file is fetched again at GO; state
 * memory is what a standby opened and compared at its start.
 */
void hot_kept_changed(struct recoverd *rd, uint32_t kind, const char *why)
{
	if (kind != FRP_FD_FILE)
		hot_stale(rd, why);
}

static bool want_more(const struct recoverd *rd)
{
	return rd->hot.want && rd->argv && !rd->terminating &&
	       rd->state == ST_SERVING && rd->upg.phase == UPG_NONE &&
	       count(rd, HOT_LAUNCHED) < rd->hot.want;
}

static double start_at(const struct recoverd *rd)
{
	bool started = rd->server >= 0 && rd->clients[rd->server].evfd >= 0;
	double t = rd->server_since +
		   (started ? HOT_SETTLE_SEC : HOT_SETTLE_MAX_SEC);

	return rd->hot.next > t ? rd->hot.next : t;
}

void hot_tick(struct recoverd *rd)
{
	struct hot *h = &rd->hot;
	pid_t pid;

	if (h->taking >= 0 && (rd->server != h->taking ||
			       rd->state != ST_TAKEOVER)) {
		h->taking = -1;
	} else if (h->taking >= 0 && now_sec() >= h->go_deadline) {
		fr_log(LOG_WARNING, "takeover: hot standby pid %d did not serve within %.0f s; killed",
		       (int)rd->clients[h->taking].pid, HOT_GO_TIMEOUT_SEC);
		kill_client(&rd->clients[h->taking]);
		h->taking = -1;
	}
	if (!want_more(rd) || now_sec() < start_at(rd))
		return;
	pid = spawn_server(rd, true);
	if (pid < 0) {
		backoff(rd);
		return;
	}
	hot_adopt_child(rd, pid);
	rd->hot.started++;
	fr_log(LOG_INFO, "standby: started %s as pid %d", rd->argv[0],
	       (int)pid);
}

double hot_deadline(const struct recoverd *rd)
{
	double t = want_more(rd) ? start_at(rd) : 0;

	if (rd->hot.taking >= 0 && (!t || rd->hot.go_deadline < t))
		t = rd->hot.go_deadline;
	return t;
}

/*
 * We exit: the standbys go first (they would exit on our hang-up, but
 * nobody would wait for them).  Bounded: 2 s at most.
 */
void hot_finish(struct recoverd *rd)
{
	unsigned int i, tries;
	bool left = true;

	for (i = 0; i < MAX_CLIENTS; i++)
		if (rd->clients[i].hot != HOT_NONE)
			kill_client(&rd->clients[i]);
	for (tries = 0; left && tries < 200; tries++) {
		hot_reap(rd);
		left = false;
		for (i = 0; i < HOT_MAX_REAP; i++)
			left |= rd->hot.reap[i] > 0;
		if (left)
			usleep(10000);
	}
}
