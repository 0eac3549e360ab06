// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Live upgrade, the supervisor's side, and what fuse-recover asks of us.
 *
 *   LAUNCHED    fuse-recover asked for an upgrade; we started the new server
 *   STANDBY     it said HELLO (standby): it gets the connection and replays
 *               INIT while the old server serves on; a refusal ends here
 *   DRAINING    it is ready: the old server is told to stop reading (its
 *               event socket); requests queue in the kernel meanwhile
 *   TAKEOVER    drained: the new server is told GO
 *   CONFIRMING  it serves; the old server stays parked for confirm_ms
 *   ROLLBACK    the new one died or declined: the old one resumes
 *
 * The old server dying before the takeover turns the upgrade into a crash
 * restart into the standby (GO with resend).  Only the supervisor knows
 * the outcome, so it answers the fuse-recover that asked (the watcher).
 */
#include "recoverd.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#define DRAIN_TIMEOUT_MS 5000
#define STANDBY_TIMEOUT_SEC 60.0

static const char *const phase_names[] = {
	[UPG_NONE] = "none", [UPG_LAUNCHED] = "launched",
	[UPG_STANDBY] = "standby", [UPG_DRAINING] = "draining",
	[UPG_TAKEOVER] = "takeover", [UPG_CONFIRMING] = "confirming",
	[UPG_ROLLBACK] = "rollback",
};

void upg_init(struct recoverd *rd)
{
	rd->upg.phase = UPG_NONE;
	rd->upg.old = rd->upg.new = rd->upg.watcher = -1;
}

static double pause_ms(const struct upgrade *u)
{
	return u->t_served > u->t_drain && u->t_drain > 0 ?
	       (u->t_served - u->t_drain) * 1e3 : 0;
}

/* The outcome: logged, told to the watcher, and the upgrade is over. */
static void finish(struct recoverd *rd, int status, const char *fmt, ...)
{
	struct upgrade *u = &rd->upg;
	struct frp_msg m = { .type = FRP_ACK, .status = status };
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	fr_log(status ? LOG_WARNING : LOG_INFO, "upgrade: %s: %s",
	       status ? "failed" : "done", why);
	if (u->watcher >= 0 && rd->clients[u->watcher].fd >= 0) {
		m.arg[0] = u->new_pid;
		m.arg[1] = (uint64_t)(pause_ms(u) * 1e3);
		m.blob[0] = why;
		m.blob_len[0] = strlen(why);
		frp_send(rd->clients[u->watcher].fd, &m);
	}
	if (status)
		u->refusals++;
	u->phase = UPG_NONE;
	u->old = u->new = u->watcher = -1;
	u->ready = u->crashed = false;
	u->t_drain = u->t_served = u->deadline = 0;
}

static int send_event(struct recoverd *rd, int idx, uint16_t type,
		      uint64_t arg)
{
	struct frp_msg m = { .type = type, .arg = { arg } };

	if (idx < 0 || rd->clients[idx].evfd < 0)
		return -ENOTCONN;
	return frp_send(rd->clients[idx].evfd, &m);
}

static int send_to(struct recoverd *rd, int idx, uint16_t type, uint64_t arg)
{
	struct frp_msg m = { .type = type, .arg = { arg } };

	if (idx < 0 || rd->clients[idx].fd < 0)
		return -ENOTCONN;
	return frp_send(rd->clients[idx].fd, &m);
}

static void children_add(struct upgrade *u, pid_t pid)
{
	unsigned int i;

	for (i = 0; i < UPG_MAX_CHILDREN; i++)
		if (!u->children[i]) {
			u->children[i] = pid;
			return;
		}
}

/* Servers we started for upgrades (the current one too, unless it is
 * rd->child, which main.c reaps). */
void upg_reap(struct recoverd *rd)
{
	struct upgrade *u = &rd->upg;
	unsigned int i;
	int status;

	for (i = 0; i < UPG_MAX_CHILDREN; i++)
		if (u->children[i] > 0 && u->children[i] != rd->child &&
		    waitpid(u->children[i], &status, WNOHANG) == u->children[i]) {
			if (WIFSIGNALED(status))
				fr_log(LOG_WARNING, "server pid %d died of signal %d",
				       (int)u->children[i], WTERMSIG(status));
			else if (WEXITSTATUS(status))
				fr_log(LOG_WARNING, "server pid %d exited with status %d",
				       (int)u->children[i], WEXITSTATUS(status));
			u->children[i] = 0;
		}
}

/* ---- fuse-recover's requests ---- */

/* Splits @len bytes of NUL-terminated strings into a NULL-ended array. */
static char **split(char *buf, size_t len)
{
	size_t n = 0, i, k = 0;
	char **v;

	if (len == 0)
		return calloc(1, sizeof(char *));
	if (buf[len - 1] != '\0')
		return NULL;
	for (i = 0; i < len; i++)
		n += buf[i] == '\0';
	v = calloc(n + 1, sizeof(*v));
	if (!v)
		return NULL;
	for (i = 0; i < len; i += strlen(buf + i) + 1)
		v[k++] = buf + i;
	return v;
}

static void on_upgrade(struct recoverd *rd, int idx, struct frp_msg *m)
{
	struct upgrade *u = &rd->upg;
	int fd = rd->clients[idx].fd, out = m->nfd ? m->fd[0] : -1;
	char why[192], fd_var[48], *buf, *cwd;
	char **argv = NULL, **envp = NULL, **env;
	struct launch l;
	size_t alen = m->blob_len[0], elen = m->blob_len[1];
	int sv[2], child;
	pid_t pid;

	if (u->phase != UPG_NONE) {
		snprintf(why, sizeof(why), "an upgrade of tag %s is in progress (%s)",
			 rd->tag, phase_names[u->phase]);
		frp_send_ack(fd, -EBUSY, why);
		return;
	}
	if (rd->server < 0 || rd->state != ST_SERVING) {
		snprintf(why, sizeof(why),
			 "no server serves tag %s now: start the new one as an ordinary restart",
			 rd->tag);
		frp_send_ack(fd, -EAGAIN, why);
		return;
	}
	if (rd->clients[rd->server].evfd < 0) {
		/* Its event socket comes right after its takeover. */
		bool starting = now_sec() - rd->server_since < 5;

		snprintf(why, sizeof(why),
			 starting ? "the serving server (pid %d) is still starting" :
			 "the serving server (pid %d) has no event socket: it cannot be drained",
			 (int)rd->clients[rd->server].pid);
		frp_send_ack(fd, starting ? -EAGAIN : -EOPNOTSUPP, why);
		return;
	}
	buf = malloc(alen + elen + m->blob_len[2] + 1);
	if (!buf) {
		frp_send_ack(fd, -ENOMEM, "out of memory");
		return;
	}
	memcpy(buf, m->blob[0], alen);
	memcpy(buf + alen, m->blob[1], elen);
	cwd = buf + alen + elen;
	memcpy(cwd, m->blob[2], m->blob_len[2]);
	cwd[m->blob_len[2]] = '\0';
	argv = split(buf, alen);
	envp = split(buf + alen, elen);
	if (!argv || !argv[0] || argv[0][0] != '/' || !envp) {
		frp_send_ack(fd, -EINVAL, "malformed command line");
		goto fail;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		frp_send_ack(fd, -errno, "socketpair failed");
		goto fail;
	}
	snprintf(fd_var, sizeof(fd_var), "FUSE_RECOVER_FD=%d", sv[1]);
	env = launch_env(envp, fd_var, LAUNCH_SUCCESSOR);
	l = (struct launch){ .argv = argv, .env = env, .fd = sv[1], .out = out,
			     .cwd = cwd, .nofile = &rd->nofile_orig,
			     .detach = true };
	pid = env ? launch_process(&l) : -ENOMEM;
	free(env);
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		frp_send_ack(fd, (int)pid, "could not start the new server");
		goto fail;
	}
	child = hold_add_client(rd, sv[0], pid, true);
	if (child < 0) {
		kill(pid, SIGKILL);
		children_add(u, pid);
		frp_send_ack(fd, -EMFILE, "no slot for the new server");
		goto fail;
	}
	rd->clients[child].standby = true;
	free(u->argbuf);
	free(u->argv);
	free(u->envp);
	u->argbuf = buf;
	u->argv = argv;
	u->envp = envp;
	u->child = pid;
	children_add(u, pid);
	u->phase = UPG_LAUNCHED;
	u->new = child;
	u->new_pid = pid;
	u->old = rd->server;
	u->old_pid = rd->clients[rd->server].pid;
	u->watcher = idx;
	u->confirm_ms = m->arg[0];
	u->t_start = now_sec();
	u->deadline = u->t_start + STANDBY_TIMEOUT_SEC;
	fr_log(LOG_INFO, "upgrade: launched: %s as pid %d (pid %d serves)",
	       argv[0], (int)pid, (int)u->old_pid);
	if (out >= 0)
		close(out);
	m->nfd = 0;
	return;
fail:
	free(argv);
	free(envp);
	free(buf);
}

/* Deaths within the window, for fuse-recover status. */
static unsigned int deaths_in_window(const struct recoverd *rd)
{
	unsigned int size = rd->max_restarts + 1, i, n = 0;
	double t = now_sec();

	for (i = 0; i < rd->ndeaths; i++)
		if (t - rd->deaths[(rd->death_head + i) % size] <=
		    rd->window_sec)
			n++;
	return n;
}

static long long kept_state_bytes(const struct recoverd *rd)
{
	long long sum = 0;
	unsigned int i;
	struct stat st;

	for (i = 0; i < rd->nclones; i++)
		if (rd->clones[i].kind == 1 && fstat(rd->clones[i].fd, &st) == 0)
			sum += st.st_size;
	return sum;
}

static const char *state_name(enum hold_state s)
{
	switch (s) {
	case ST_EMPTY: return "empty";
	case ST_MOUNTING: return "mounting";
	case ST_SERVING: return "serving";
	case ST_DOWN: return "down";
	case ST_TAKEOVER: return "takeover";
	}
	return "?";
}

static void on_status(struct recoverd *rd, int idx)
{
	struct frp_msg m = { .type = FRP_INFO };
	char text[2048];
	unsigned int i, nclones = 0, hot_n, hot_ready;
	int n, live = -1, dead = -1;

	for (i = 0; i < rd->nclones; i++)
		nclones += rd->clones[i].kind == FRP_FD_CLONE;
	hot_counts(rd, &hot_n, &hot_ready);
	if (rd->server >= 0)
		readers_counts(&rd->clients[rd->server], &live, &dead);
	n = snprintf(text, sizeof(text),
		     "tag=%s\npath=supervisor\nsupervisor_pid=%d\nmountpoint=%s\n"
		     "connection=%u\nstate=%s\nserver_pid=%d\nrestarts=%u\n"
		     "deaths_in_window=%u\nmax_restarts=%u\nwindow_sec=%u\n"
		     "kept_fds=%u\nclone_fds=%u\nstate_bytes=%lld\n"
		     "upgrades=%u\nrollbacks=%u\nrefused_upgrades=%u\n"
		     "upgrade_phase=%s\nlaunches_server=%d\n"
		     "standbys_wanted=%u\nstandbys=%u\nstandbys_ready=%u\n"
		     "standby_takeovers=%u\nstandbys_refused=%u\n"
		     "readers=%d\nreaders_dead=%d\n",
		     rd->tag, (int)getpid(),
		     rd->mountpoint ? rd->mountpoint : "", rd->conn_id,
		     state_name(rd->state),
		     rd->server >= 0 ? (int)rd->clients[rd->server].pid : 0,
		     rd->takeovers, deaths_in_window(rd), rd->max_restarts,
		     rd->window_sec, rd->nkept, nclones, kept_state_bytes(rd),
		     rd->upg.upgrades, rd->upg.rollbacks, rd->upg.refusals,
		     phase_names[rd->upg.phase], rd->argv != NULL,
		     rd->hot.want, hot_n, hot_ready, rd->hot.takeovers,
		     rd->hot.refused, live, dead);
	m.blob[0] = text;
	m.blob_len[0] = n < (int)sizeof(text) ? n : (int)sizeof(text) - 1;
	frp_send(rd->clients[idx].fd, &m);
}

/*
 * Everything fails with ENOTCONN now: the server is killed and our fds
 * closed, so the connection's last fd goes (or fusectl aborts it).
 */
static void on_abort(struct recoverd *rd, int idx)
{
	int pidfd = rd->server >= 0 ? rd->clients[rd->server].pidfd : -1;

	fr_log(LOG_WARNING, "abort: asked by pid %d", (int)rd->clients[idx].pid);
	frp_send_ack(rd->clients[idx].fd, 0, NULL);
	if (pidfd >= 0 &&
	    syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) == 0) {
		struct pollfd p = { .fd = pidfd, .events = POLLIN };

		poll(&p, 1, 2000);
	}
	if (rd->upg.new >= 0 && rd->upg.new != rd->server &&
	    rd->clients[rd->upg.new].pidfd >= 0)
		syscall(SYS_pidfd_send_signal, rd->clients[rd->upg.new].pidfd,
			SIGKILL, NULL, 0);
}

/* Main.c gives up on HOLD_ABORT: every exit is taken there. */
static bool upg_control(struct recoverd *rd, int idx, struct frp_msg *m,
		 enum hold_event *ev)
{
	*ev = HOLD_NOTHING;
	switch (m->type) {
	case FRP_UPGRADE:
		rd->clients[idx].greeted = true;
		on_upgrade(rd, idx, m);
		break;
	case FRP_STATUS:
		rd->clients[idx].greeted = true;
		on_status(rd, idx);
		break;
	case FRP_ABORT:
		frp_close_fds(m);
		on_abort(rd, idx);
		*ev = HOLD_ABORT;
		break;
	default:
		return false;
	}
	frp_close_fds(m);
	return true;
}

/* ---- the upgrade itself ---- */

static int send_standby(struct recoverd *rd, int idx)
{
	struct frp_msg r;

	hold_connection_msg(rd, &r, FRP_STANDBY);
	return frp_send(rd->clients[idx].fd, &r);
}

/* 1: answered (STANDBY sent); 0: an ordinary HELLO after all; -errno. */
static int upg_hello(struct recoverd *rd, int idx, const struct frp_msg *m)
{
	struct upgrade *u = &rd->upg;
	struct client *c = &rd->clients[idx];
	bool ours = u->phase == UPG_LAUNCHED && idx == u->new;
	char why[160];
	int err;

	(void)m;
	if (!ours && u->phase != UPG_NONE) {
		snprintf(why, sizeof(why), "an upgrade of tag %s is in progress",
			 rd->tag);
		return frp_send_ack(c->fd, -EBUSY, why) ?: -EBUSY;
	}
	if (rd->server < 0 || rd->state != ST_SERVING ||
	    hold_server_exited(rd)) {
		/* Nobody to drain: an ordinary takeover (or first mount). */
		if (ours) {
			u->phase = UPG_TAKEOVER;
			u->crashed = true;
		}
		return 0;
	}
	if (rd->clients[rd->server].evfd < 0) {
		snprintf(why, sizeof(why),
			 "the serving server (pid %d) has no event socket: it cannot be drained",
			 (int)rd->clients[rd->server].pid);
		if (ours)
			finish(rd, -EOPNOTSUPP, "%s", why);
		return frp_send_ack(c->fd, -EOPNOTSUPP, why) ?: -EOPNOTSUPP;
	}
	err = send_standby(rd, idx);
	if (err)
		return err;
	c->standby = true;
	u->phase = UPG_STANDBY;
	u->new = idx;
	u->new_pid = c->pid;
	u->old = rd->server;
	u->old_pid = rd->clients[rd->server].pid;
	if (!ours) {
		u->t_start = now_sec();
		u->confirm_ms = 1000;
	}
	u->deadline = now_sec() + STANDBY_TIMEOUT_SEC;
	fr_log(LOG_INFO, "upgrade: standby: pid %d replays INIT while pid %d serves",
	       (int)c->pid, (int)u->old_pid);
	return 1;
}

/* The old server died before the takeover: a crash restart into the standby. */
static void go_crash(struct recoverd *rd)
{
	struct upgrade *u = &rd->upg;

	u->crashed = true;
	rd->gen++;
	rd->server = u->new;
	rd->state = ST_TAKEOVER;
	u->phase = UPG_TAKEOVER;
	fr_log(LOG_WARNING, "upgrade: the old server pid %d died; pid %d takes over as a restart (resend)",
	       (int)u->old_pid, (int)u->new_pid);
	if (send_to(rd, u->new, FRP_GO,
		    hold_go_flags(rd, u->new, FRP_GO_RESEND)))
		fr_log(LOG_ERR, "upgrade: cannot reach pid %d", (int)u->new_pid);
}

static void start_drain(struct recoverd *rd)
{
	struct upgrade *u = &rd->upg;

	u->phase = UPG_DRAINING;
	u->t_drain = now_sec();
	u->deadline = u->t_drain + DRAIN_TIMEOUT_MS / 1000.0 + 2;
	fr_log(LOG_INFO, "upgrade: drain: pid %d stops reading; requests wait in the kernel",
	       (int)u->old_pid);
	if (send_event(rd, u->old, FRP_DRAIN, DRAIN_TIMEOUT_MS)) {
		frp_send_ack(rd->clients[u->new].fd, -EPIPE,
			     "the old server cannot be reached");
		finish(rd, -EPIPE, "the old server pid %d cannot be reached",
		       (int)u->old_pid);
	}
}

static bool upg_standby_input(struct recoverd *rd, int idx, struct frp_msg *m)
{
	struct upgrade *u = &rd->upg;
	int fd = rd->clients[idx].fd, err;

	if (idx == u->old && idx != rd->server) {
		/*
		 * A parked old server has nothing to say; answered, not
		 * dropped: it must stay reachable for RETIRE or RESUME.
		 */
		if (!(m->type == FRP_DEL_FD || m->type == FRP_BYE))
			frp_send_ack(fd, -EPERM, "not the server now");
		frp_close_fds(m);
		return true;
	}
	if (idx != u->new || u->phase != UPG_STANDBY)
		return false;
	switch (m->type) {
	case FRP_FETCH:
		err = hold_send_kept(rd, idx);
		frp_send_ack(fd, err, err ? strerror(-err) : NULL);
		break;
	case FRP_EVENTS:
		/* Set up ahead: a round trip less in the pause. */
		err = hold_take_events(rd, idx, m);
		frp_send_ack(fd, err, err ? "no event socket" : NULL);
		break;
	case FRP_DECLINE:
		finish(rd, m->status < 0 ? m->status : -EPROTO,
		       "refused in standby: pid %d: %.*s; pid %d serves on",
		       (int)rd->clients[idx].pid, (int)m->blob_len[0],
		       (const char *)m->blob[0], (int)u->old_pid);
		(void)hold_drop_client(rd, idx);
		break;
	case FRP_STANDBY_READY:
		u->ready = true;
		if (rd->server < 0)
			go_crash(rd);
		else if (rd->server == u->old)
			start_drain(rd);
		break;
	default:
		frp_send_ack(fd, -EPROTO, "unexpected in standby");
	}
	frp_close_fds(m);
	return true;
}

static void relabel_clones(struct recoverd *rd, uint64_t from, uint64_t to)
{
	unsigned int i;

	for (i = 0; i < rd->nclones; i++)
		if (rd->clones[i].kind == FRP_FD_CLONE &&
		    rd->clones[i].gen == from)
			rd->clones[i].gen = to;
}

static void drop_clones_of(struct recoverd *rd, uint64_t gen)
{
	unsigned int i, kept = 0;

	for (i = 0; i < rd->nclones; i++) {
		if (rd->clones[i].kind == FRP_FD_CLONE &&
		    rd->clones[i].gen == gen)
			close(rd->clones[i].fd);
		else
			rd->clones[kept++] = rd->clones[i];
	}
	rd->nclones = kept;
}

/*
 * The old server serves again.  Its clone fds are ours to hold again
 * under a generation newer than the dead successor's, whose clones go
 * once the old one has asked for resend (hold_drop_old_clones()).
 */
static void rollback(struct recoverd *rd, uint64_t flags, const char *why)
{
	struct upgrade *u = &rd->upg;

	snprintf(u->why, sizeof(u->why), "%s", why);
	rd->server = u->old;
	rd->state = ST_TAKEOVER;
	relabel_clones(rd, u->old_gen, rd->gen + 1);
	rd->gen++;
	u->phase = UPG_ROLLBACK;
	u->deadline = now_sec() + 10;
	fr_log(LOG_WARNING, "upgrade: rollback: %s; pid %d resumes", why,
	       (int)u->old_pid);
	if (send_event(rd, u->old, FRP_RESUME, flags))
		fr_log(LOG_ERR, "upgrade: rollback: cannot reach pid %d",
		       (int)u->old_pid);
}

void upg_event_input(struct recoverd *rd, int idx)
{
	struct upgrade *u = &rd->upg;
	struct client *c = &rd->clients[idx];
	char buf[FRP_MAX_MSG];
	struct frp_msg m;
	int err = frp_recv(c->evfd, buf, &m);

	if (err) {
		close(c->evfd);
		c->evfd = -1;
		return;
	}
	frp_close_fds(&m);
	if (idx != u->old)
		return;
	if (m.type == FRP_DRAINED && u->phase == UPG_DRAINING) {
		if (m.status < 0) {
			frp_send_ack(rd->clients[u->new].fd, m.status,
				     "the old server could not drain");
			finish(rd, m.status, "pid %d could not drain: %.*s; it serves on",
			       (int)u->old_pid, (int)m.blob_len[0],
			       (const char *)m.blob[0]);
			return;
		}
		u->old_gen = rd->gen;
		rd->gen++;
		rd->server = u->new;
		rd->state = ST_TAKEOVER;
		/* Its exit is no failed start of ours any more. */
		c->launched = false;
		u->phase = UPG_TAKEOVER;
		fr_log(LOG_INFO, "upgrade: drained: pid %d answered everything it read; GO to pid %d",
		       (int)u->old_pid, (int)u->new_pid);
		send_to(rd, u->new, FRP_GO, hold_go_flags(rd, u->new, 0));
	} else if (m.type == FRP_ACK && u->phase == UPG_ROLLBACK) {
		rd->state = ST_SERVING;
		hold_drop_old_clones(rd);
		u->rollbacks++;
		finish(rd, -ECANCELED, "rolled back: %s; pid %d serves tag %s again",
		       u->why, (int)u->old_pid, rd->tag);
	}
}

static bool upg_resumed(struct recoverd *rd, int idx)
{
	struct upgrade *u = &rd->upg;

	if (idx != u->new || u->phase != UPG_TAKEOVER)
		return false;
	rd->clients[idx].standby = false;
	if (u->crashed) {
		finish(rd, 0, "pid %d took over tag %s as a restart (the old server had died)",
		       (int)u->new_pid, rd->tag);
		return false;	/* an ordinary takeover from here on */
	}
	u->t_served = now_sec();
	u->phase = UPG_CONFIRMING;
	u->deadline = u->t_served + u->confirm_ms / 1000.0;
	fr_log(LOG_INFO, "upgrade: takeover: pid %d serves tag %s after a pause of %.3f ms; pid %d parked for %u ms",
	       (int)u->new_pid, rd->tag, pause_ms(u), (int)u->old_pid,
	       u->confirm_ms);
	return true;
}

static bool upg_declined(struct recoverd *rd, int idx, const struct frp_msg *m)
{
	struct upgrade *u = &rd->upg;
	char why[224];

	if (idx != u->new || u->phase != UPG_TAKEOVER || u->crashed)
		return false;
	snprintf(why, sizeof(why), "pid %d declined at takeover: %.*s",
		 (int)u->new_pid, (int)m->blob_len[0],
		 (const char *)m->blob[0]);
	rollback(rd, 0, why);
	(void)hold_drop_client(rd, idx);	/* no longer the server */
	return true;
}

/* The server died (main.c counted it); true: handled here. */
bool upg_server_gone(struct recoverd *rd)
{
	struct upgrade *u = &rd->upg;
	char why[160];

	switch (u->phase) {
	case UPG_TAKEOVER:
	case UPG_CONFIRMING:
		if (u->crashed)
			break;
		if (u->old >= 0 && rd->clients[u->old].evfd >= 0) {
			snprintf(why, sizeof(why), "the new server pid %d died %s",
				 (int)u->new_pid,
				 u->phase == UPG_CONFIRMING ?
				 "while being confirmed" : "at takeover");
			rollback(rd, FRP_GO_RESEND | FRP_GO_RESYNC, why);
			return true;
		}
		finish(rd, -ECHILD, "the new server pid %d died and the old one is gone",
		       (int)u->new_pid);
		break;
	case UPG_LAUNCHED:
	case UPG_STANDBY:
	case UPG_DRAINING:
		/* The old one died: the standby takes over when ready. */
		u->crashed = true;
		if (u->ready)
			go_crash(rd);
		return true;
	case UPG_ROLLBACK:
		finish(rd, -ECHILD, "the old server pid %d died while resuming",
		       (int)u->old_pid);
		break;
	case UPG_NONE:
		break;
	}
	return false;
}

static bool upg_client_dropped(struct recoverd *rd, int idx, enum hold_event *ev)
{
	struct upgrade *u = &rd->upg;
	struct client *c = &rd->clients[idx];

	*ev = HOLD_NOTHING;
	if (idx == rd->server)
		return false;
	if (idx == u->watcher)
		u->watcher = -1;
	if (idx == u->old && u->phase == UPG_CONFIRMING) {
		u->old = -1;
		return true;
	}
	if (!c->standby)
		return false;
	c->standby = false;
	if (idx != u->new)
		return true;
	switch (u->phase) {
	case UPG_DRAINING:
		send_event(rd, u->old, FRP_RESUME, 0);
		/* fall through */
	case UPG_LAUNCHED:
	case UPG_STANDBY:
		if (u->crashed) {
			/* Old and new both gone: an ordinary restart. */
			finish(rd, -ECHILD, "the new server pid %d exited and the old one had died",
			       (int)u->new_pid);
			if (rd->argv)
				*ev = HOLD_DECLINED;	/* launch again */
		} else {
			finish(rd, -ECHILD, "the new server pid %d exited before taking over; pid %d serves on",
			       (int)u->new_pid, (int)u->old_pid);
		}
		break;
	default:
		break;
	}
	return true;
}

void upg_tick(struct recoverd *rd)
{
	struct upgrade *u = &rd->upg;
	double t = now_sec();

	if (u->phase == UPG_NONE || !u->deadline || t < u->deadline)
		return;
	switch (u->phase) {
	case UPG_CONFIRMING:
		if (send_event(rd, u->old, FRP_RETIRE, 0) == 0)
			rd->clients[u->old].standby = false;
		drop_clones_of(rd, u->old_gen);
		if (u->child > 0 && rd->argv) {
			/* A crash restart from now on runs the new command. */
			if (rd->child > 0)
				children_add(u, rd->child);
			rd->child = u->child;
			rd->argv = u->argv;
			rd->envp = u->envp;
			u->argv = u->envp = NULL;
			u->argbuf = NULL;
		}
		u->child = 0;
		u->upgrades++;
		hot_stale(rd, "a live upgrade replaced the server");
		finish(rd, 0, "confirmed: pid %d serves tag %s (pause %.3f ms); pid %d retires",
		       (int)u->new_pid, rd->tag, pause_ms(u), (int)u->old_pid);
		break;
	case UPG_DRAINING:
		send_event(rd, u->old, FRP_RESUME, 0);
		frp_send_ack(rd->clients[u->new].fd, -ETIMEDOUT,
			     "the old server did not drain");
		finish(rd, -ETIMEDOUT, "pid %d did not answer the drain; it serves on",
		       (int)u->old_pid);
		break;
	case UPG_LAUNCHED:
	case UPG_STANDBY:
		if (u->new >= 0)
			frp_send_ack(rd->clients[u->new].fd, -ETIMEDOUT,
				     "not ready in time");
		finish(rd, -ETIMEDOUT, "the new server pid %d was not ready within %.0f s",
		       (int)u->new_pid, STANDBY_TIMEOUT_SEC);
		break;
	default:
		u->deadline = 0;
	}
}

double upg_deadline(const struct recoverd *rd)
{
	return rd->upg.phase == UPG_NONE ? 0 : rd->upg.deadline;
}

const struct hold_hooks upg_hold_hooks = {
	.control = upg_control,
	.hello = upg_hello,
	.standby_input = upg_standby_input,
	.resumed = upg_resumed,
	.declined = upg_declined,
	.client_dropped = upg_client_dropped,
};
