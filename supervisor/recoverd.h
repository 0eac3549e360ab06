/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuse-recoverd internals. */
#ifndef RECOVERD_H_
#define RECOVERD_H_

#include "../lib/proto.h"
#include "../lib/runtime.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/types.h>

#define MAX_CLIENTS 16
/*
 * A peer that has not said HELLO by then is dropped (its slot is needed).
 * Short, so that idlers hold slots only briefly; a server starved of CPU
 * that misses it is dropped and connects again (lib/client.c), and one we
 * launched is never held to it.
 */
#define HELLO_TIMEOUT_SEC 1.0

enum hold_state {
	ST_EMPTY,	/* nothing held yet; the next server mounts */
	ST_MOUNTING,	/* a server was told to mount and hand over */
	ST_SERVING,	/* a server runs; we hold dups of its fds */
	ST_DOWN,	/* no server; requests queue in the kernel */
	ST_TAKEOVER,	/* a new server got the fd and replays INIT */
};

struct blob {
	void *data;
	uint32_t len;
};

/* A process the server forked, which may carry on when it exits (heirs.c). */
struct heir {
	pid_t pid;
	int pidfd;
	uint64_t gen;	/* the server generation it belongs to */
};

#define MAX_HEIRS 8

struct held_fd {
	int fd;
	uint32_t kind;	/* enum frp_fd_kind */
	uint64_t key;
	uint64_t gen;	/* which server generation registered it */
};

/* A hot standby's progress (standby.c). */
enum hot_state {
	HOT_NONE,	/* not a hot standby */
	HOT_LAUNCHED,	/* started; no HELLO yet */
	HOT_REPLAYING,	/* got the connection; replays INIT */
	HOT_READY,	/* INIT replayed and compared; waits for GO */
};

/*
 * A slot is in use while it has a socket or a pidfd: a server whose socket
 * broke keeps its slot (and the connection) until its process is gone.
 */
struct client {
	int fd;		/* -1: no socket (unused, or a server that hung up) */
	pid_t pid;
	int pidfd;
	bool launched;	/* our own child: no credential check needed */
	bool refused;	/* wrong uid: answered EPERM, then dropped */
	bool greeted;	/* said HELLO: no longer subject to the deadline */
	double since;	/* when it connected */
	int evfd;	/* event socket of a server (upgrade.c), or -1 */
	bool standby;	/* the new server of a live upgrade */
	enum hot_state hot;	/* a hot standby (standby.c), or HOT_NONE */
	bool hot_stale;	/* killed by us: its leaving is no failure */
	uint64_t kept_seen;	/* rd->kept_version when it fetched */
	struct readers *readers;	/* its reader slots (readers.c) */
};

/* A live upgrade in progress (upgrade.c). */
enum upg_phase {
	UPG_NONE,
	UPG_LAUNCHED,	/* we started the new server; no HELLO yet */
	UPG_STANDBY,	/* it replays INIT while the old one serves */
	UPG_DRAINING,	/* the old one stops reading */
	UPG_TAKEOVER,	/* the new one got GO */
	UPG_CONFIRMING,	/* the new one serves; the old one is parked */
	UPG_ROLLBACK,	/* the new one died; the old one resumes */
};

#define UPG_MAX_CHILDREN 8

struct upgrade {
	enum upg_phase phase;
	int old, new, watcher;	/* client slots, or -1 */
	pid_t old_pid, new_pid;
	uint64_t old_gen;
	bool ready;		/* the standby said STANDBY_READY */
	bool crashed;		/* the old one died: GO with resend */
	unsigned int confirm_ms;
	double t_start, t_drain, t_served, deadline;
	char why[192];		/* why a rollback happened */
	pid_t child;		/* the new server, if we started it */
	char **argv, **envp;	/* its command line, kept for relaunches */
	void *argbuf;
	/* servers we started for upgrades, reaped when they exit */
	pid_t children[UPG_MAX_CHILDREN];
	unsigned int upgrades, rollbacks, refusals;
};

/* Hot standbys: servers started ahead of a crash (standby.c). */
#define HOT_MAX_REAP 8
#define HOT_MAX_STANDBY 4

struct hot {
	unsigned int want;	/* --standby N */
	double next;		/* when to start the next one; 0: now */
	unsigned int backoff_ms;	/* after standbys that failed */
	pid_t reap[HOT_MAX_REAP];	/* our children nobody else waits for */
	int taking;		/* the slot that got GO, until it serves; -1 */
	double go_deadline;	/* it serves by then or is killed */
	unsigned int started, takeovers, refused;
};

struct recoverd {
	char tag[65];
	char dir[FR_PATH_MAX];
	uid_t owner;
	int listen_fd, lock_fd, sig_fd;

	enum hold_state state;
	int server;		/* index in clients[] or -1 */
	struct heir heirs[MAX_HEIRS];	/* youngest last */
	unsigned int nheirs;
	uint64_t gen;
	int fuse_fd;
	unsigned int conn_id;
	/*
	 * The pidfd of the last server dropped on its readers' death before
	 * its process exited (readers.c), or -1.
	 */
	int dying_pidfd;
	char *mountpoint;
	struct blob init_in, init_out;
	struct held_fd *clones;
	unsigned int nclones;
	bool bye;
	struct client clients[MAX_CLIENTS];

	/* kept fds (not clones) and their cap, from RLIMIT_NOFILE */
	unsigned int nkept, max_kept;
	/* one more at every kept fd added or dropped (hold_go_flags()) */
	uint64_t kept_version;

	/* giving up: the last max_restarts + 1 deaths, oldest at death_head */
	unsigned int max_restarts, window_sec, takeover_timeout_sec;
	double *deaths;
	unsigned int ndeaths, death_head;
	double down_since;

	/* launch mode: fuse-recoverd -- SERVER ARGS */
	char **argv;
	pid_t child;
	int child_status;
	double next_launch;	/* 0: none scheduled */
	unsigned int backoff_ms;
	bool started_ok;	/* the last launched server reached serving */
	bool terminating;
	struct rlimit nofile_orig;	/* what the server we launch gets */
	char **envp;			/* environment for launches, or NULL */

	struct upgrade upg;
	const struct hold_hooks *hooks;	/* set by main.c */
	struct hot hot;
	unsigned int takeovers;		/* crash restarts so far */
	double server_since;		/* when the current server took over */
};

/*
 * What hold.c saw that main.c has to act on (restart, give up, exit):
 * hold.c only reports, so that every exit is taken in main.c's loop.
 */
enum hold_event {
	HOLD_NOTHING,
	HOLD_SERVER_GONE,	/* the server, or a launched one, is gone */
	HOLD_DECLINED,		/* the would-be server refused the takeover */
	/*
	 * A peer spoke while the server's exit is still queued: handle the
	 * exit first, then give the peer's input to hold_client_input()
	 * again (nothing was read).
	 */
	HOLD_SERVER_EXITED,
	HOLD_ABORT,		/* fuse-recover abort: fail everything now */
};

/* util.c */
void rd_log_to(FILE *f, const char *tag);
double now_sec(void);
/*
 * FUSE_RECOVER_TRACE=1: when each step from a server's death to GO
 * happened (CLOCK_MONOTONIC ns, the first time each), sent with GO for
 * the standby's trace (bench/recover prints the steps).
 */
enum rd_mark { RDM_DIED, RDM_ALL_DIED, RDM_LEFT, RDM_EVFD, RDM_MAIN,
	       RDM_GONE, RDM_GO, RDM_N };
extern bool rd_tracing;
extern uint64_t rd_marks[RDM_N];
void rd_mark(enum rd_mark m);

/* heirs.c */
void heirs_on_newpid(struct recoverd *rd, const struct frp_msg *m);
/* The server's process exited: true if an heir serves on in its place. */
bool heirs_take_over(struct recoverd *rd);

/* hold.c */
void hold_accept(struct recoverd *rd);
void hold_set_kept_cap(struct recoverd *rd);
bool hold_server_exited(struct recoverd *rd);
bool hold_dying_server(struct recoverd *rd);

/* readers.c: a server's reader slots, a death seen before its pidfd */
struct readers;
int readers_watch(struct client *c, int fd);
void readers_stop(struct client *c);
void readers_retire(struct client *c);
void readers_reap(void);
int readers_evfd(const struct client *c);
bool readers_all_gone(struct client *c);
bool readers_seen_gone(const struct client *c);
void readers_counts(const struct client *c, int *live, int *dead);
double hold_idle_deadline(const struct recoverd *rd);
void hold_drop_idle(struct recoverd *rd);
int hold_add_client(struct recoverd *rd, int fd, pid_t pid, bool launched);
enum hold_event hold_client_input(struct recoverd *rd, int idx);
enum hold_event hold_drop_client(struct recoverd *rd, int idx);
void hold_release_fds(struct recoverd *rd);
bool hold_mount_gone(const struct recoverd *rd);

int hold_send_kept(struct recoverd *rd, int idx);
int hold_take_events(struct recoverd *rd, int idx, struct frp_msg *m);
uint64_t hold_go_flags(const struct recoverd *rd, int idx, uint64_t flags);
void hold_connection_msg(const struct recoverd *rd, struct frp_msg *r,
			 uint16_t type);
void hold_drop_old_clones(struct recoverd *rd);

/*
 * upgrade.c: live upgrade, and fuse-recover's requests.  hold.c reaches
 * it only through the hooks main.c gives it (rd->hooks), so that hold.c
 * never depends on a file that depends on it.
 */
struct hold_hooks {
	/* fuse-recover's own requests; *ev for main.c */
	bool (*control)(struct recoverd *rd, int idx, struct frp_msg *m,
			enum hold_event *ev);
	/* HELLO asking for standby: 1 answered, 0 ordinary HELLO, -errno */
	int (*hello)(struct recoverd *rd, int idx, const struct frp_msg *m);
	/* a peer that is no server: the standby, or the parked old one */
	bool (*standby_input)(struct recoverd *rd, int idx, struct frp_msg *m);
	/* the server said RESUMED; true: an upgrade's, old clones stay */
	bool (*resumed)(struct recoverd *rd, int idx);
	/* the server declined at takeover; true: rolled back */
	bool (*declined)(struct recoverd *rd, int idx, const struct frp_msg *m);
	/* a client is dropped; true: handled, *ev for main.c */
	bool (*client_dropped)(struct recoverd *rd, int idx,
			       enum hold_event *ev);
	/*
	 * the server kept or dropped an fd (not a clone) of @kind (enum
	 * fr_keep_kind); may be NULL
	 */
	void (*kept_changed)(struct recoverd *rd, uint32_t kind,
			     const char *why);
};
extern const struct hold_hooks upg_hold_hooks;
void upg_init(struct recoverd *rd);
bool upg_server_gone(struct recoverd *rd);
void upg_event_input(struct recoverd *rd, int idx);
void upg_tick(struct recoverd *rd);
double upg_deadline(const struct recoverd *rd);
void upg_reap(struct recoverd *rd);

/* launch.c */
enum launch_kind { LAUNCH_SERVER, LAUNCH_STANDBY, LAUNCH_SUCCESSOR };
struct launch {
	char *const *argv;		/* argv[0] searched in PATH */
	char **env;			/* launch_env()'s */
	int fd;				/* its control socket, inherited */
	int out;			/* its stdout and stderr, or -1: ours */
	const char *cwd;		/* or NULL: ours */
	const struct rlimit *nofile;	/* or NULL: ours */
	bool detach;			/* own session, stdin /dev/null */
};
char **launch_env(char **from, const char *fd_var, enum launch_kind kind);
pid_t launch_process(const struct launch *l);

/* standby.c: hot standbys (main.c's hooks call them before upgrade.c's) */
pid_t spawn_server(struct recoverd *rd, bool standby);
int hot_hello(struct recoverd *rd, int idx, bool external);
bool hot_input(struct recoverd *rd, int idx, struct frp_msg *m);
bool hot_dropped(struct recoverd *rd, int idx);
bool hot_take(struct recoverd *rd);
void hot_stale(struct recoverd *rd, const char *why);
void hot_kept_changed(struct recoverd *rd, uint32_t kind, const char *why);
void hot_tick(struct recoverd *rd);
double hot_deadline(const struct recoverd *rd);
void hot_reap(struct recoverd *rd);
void hot_finish(struct recoverd *rd);
void hot_counts(const struct recoverd *rd, unsigned int *alive_n,
		unsigned int *ready_n);

#endif
