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
/* A peer that has not said HELLO by then is dropped (its slot is needed). */
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
	char *mountpoint;
	struct blob init_in, init_out;
	struct held_fd *clones;
	unsigned int nclones;
	bool bye;
	struct client clients[MAX_CLIENTS];

	/* kept fds (not clones) and their cap, from RLIMIT_NOFILE */
	unsigned int nkept, max_kept;

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
};

/* util.c */
void rd_log_to(FILE *f, const char *tag);
double now_sec(void);

/* heirs.c */
void heirs_on_newpid(struct recoverd *rd, const struct frp_msg *m);
/* The server's process exited: true if an heir serves on in its place. */
bool heirs_take_over(struct recoverd *rd);

/* hold.c */
void hold_accept(struct recoverd *rd);
void hold_set_kept_cap(struct recoverd *rd);
bool hold_server_exited(const struct recoverd *rd);
double hold_idle_deadline(const struct recoverd *rd);
void hold_drop_idle(struct recoverd *rd);
int hold_add_client(struct recoverd *rd, int fd, pid_t pid, bool launched);
enum hold_event hold_client_input(struct recoverd *rd, int idx);
enum hold_event hold_drop_client(struct recoverd *rd, int idx);
void hold_release_fds(struct recoverd *rd);
bool hold_mount_gone(const struct recoverd *rd);

#endif
