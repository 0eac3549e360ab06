/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The supervisor protocol: what a server and fuse-recoverd say to each other
 * over a SOCK_SEQPACKET unix socket.  Shared by lib/ and supervisor/; it
 * does not depend on libfuse.
 *
 * One message is one datagram: a fixed header, up to FRP_MAX_BLOBS byte
 * strings, and up to FRP_MAX_FDS file descriptors as SCM_RIGHTS.
 */
#ifndef FR_PROTO_H_
#define FR_PROTO_H_

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FRP_MAGIC 0x46524356u /* "FRCV" */
#define FRP_VERSION 1
#define FRP_MAX_BLOBS 4
#define FRP_MAX_FDS 4
#define FRP_MAX_MSG 65536

enum frp_type {
	/* server -> supervisor */
	FRP_HELLO = 1,	 /* arg0 pid; blob0 tag */
	FRP_ATTACHED,	 /* fd main; arg0 conn id; blob0 INIT in, 1 INIT out,
			    2 mountpoint */
	FRP_ADD_FD,	 /* fd; arg0 key, arg1 kind (FRP_FD_*) */
	FRP_DEL_FD,	 /* arg0 key, arg1 kind; no reply */
	FRP_RESUMED,	 /* recovered server replayed INIT and asked resend */
	FRP_BYE,	 /* server is unmounting for good; no reply */
	FRP_FETCH,	 /* send me the kept fds: KEPT..., then ACK */
	/*
	 * Live upgrade (lib/upgrade.c, supervisor/upgrade.c).  EVENTS: fd one
	 * end of a socketpair on which the supervisor may speak first (DRAIN,
	 * RESUME, RETIRE); ACK.  STANDBY_READY: a standby replayed INIT and
	 * waits; answered by GO, or by ACK with an error.
	 */
	FRP_EVENTS,
	FRP_STANDBY_READY,
	FRP_DRAINED,	 /* on the event socket: status 0 or -errno */
	/*
	 * fd a sealed memfd of FRP_READERS_SIZE bytes: the reader slots of
	 * the server's threads (lib/readers.c, supervisor/readers.c); no
	 * reply.
	 */
	FRP_READERS,
	/*
	 * A recovering server that cannot serve this connection (other mount
	 * point, other capabilities) and has not read from it: status -errno,
	 * blob0 a reason; no reply.  Not a death: the mount waits on.
	 */
	FRP_DECLINE = 32,
	/* supervisor -> server */
	FRP_FRESH = 64,	 /* nothing held: mount yourself, then ATTACHED */
	FRP_RECOVER,	 /* fd main; arg0 conn id; blobs as in ATTACHED */
	FRP_ACK,	 /* status 0, or -errno with blob0 a reason */
	FRP_KEPT,	 /* fds; blob0 struct frp_kept_entry[nfd] */
	/*
	 * From a child the server forked (lib/fork.c): fd a socket the child
	 * made, whose SO_PEERCRED names it.  The ACK goes on that socket,
	 * none on this one (the server may be waiting for a reply here).
	 */
	FRP_NEWPID = 96,
	/*
	 * From fuse-recover (tools/), no HELLO needed.  UPGRADE: arg0
	 * confirmation period in ms; blob0 argv, blob1 environment (both
	 * NUL-separated), blob2 working directory; fd the new server's
	 * stdout and stderr.  Answered by ACK once the upgrade is confirmed,
	 * refused or rolled back (arg0 new pid, arg1 pause in us).
	 * STATUS: answered by INFO, blob0 "key=value" lines.  ABORT: ACK,
	 * then the connection is aborted.
	 */
	FRP_UPGRADE = 128,
	FRP_STATUS,
	FRP_ABORT,
	/* supervisor -> fuse-recover */
	FRP_INFO = 160,
	/* supervisor -> a server waiting in standby, or an upgrade's old one */
	FRP_STANDBY = 192, /* as RECOVER, but serve only after GO */
	FRP_GO,		 /* arg0 FRP_GO_* flags */
	FRP_DRAIN,	 /* event socket: arg0 timeout in ms; DRAINED */
	FRP_RESUME,	 /* event socket: arg0 FRP_GO_* flags; ACK */
	FRP_RETIRE,	 /* event socket: the successor stays; exit */
};

/* HELLO arg1; on the kernel path (lib/kupgrade.c) its bits 32-63 are the
 * confirmation period in ms the standby asks for (0: the default) */
#define FRP_HELLO_STANDBY 1u
/* A hot standby started from outside (FUSE_RECOVER_STANDBY=1): it waits
 * for a crash, not for an upgrade (supervisor/standby.c). */
#define FRP_HELLO_HOT 2u
/* GO and RESUME arg0 */
#define FRP_GO_RESEND 1u	/* the previous server died: ask for resend */
#define FRP_GO_RESYNC 2u	/* another server served meanwhile */
/* GO: the kept fds changed since the standby fetched them: FETCH again */
#define FRP_GO_REFETCH 4u
/* Never sent: a standby's own GO when the old server that offered the
 * connection died (the kernel path, lib/kupgrade.c) */
#define FRP_GO_ORPHANED (1u << 31)

/*
 * The reader area: slot 0 is a header (word 0 bumped and woken when a
 * thread claims a slot, word 1 non-zero once a reader found no free
 * slot); slots 1.. each begin with the futex word of a robust,
 * process-shared mutex that a thread holds while it may read requests.
 */
#define FRP_READERS_SIZE 4096u
/*
 * A slot word the supervisor wrote when it handed the connection on
 * (no tid, no FUTEX_OWNER_DIED: glibc's trylock fails with EBUSY): a
 * thread that finds one must not read.
 */
#define FRP_READER_SEALED 0x3fffffffu
#define FRP_READER_SLOT 64u
#define FRP_READER_SLOTS (FRP_READERS_SIZE / FRP_READER_SLOT)

/* Kinds of fds a server leaves with its supervisor. */
enum frp_fd_kind {
	FRP_FD_CLONE = 0,	/* clone_fd channel, dropped after takeover */
	/* 1.. : kept for the next server (enum fr_keep_kind in lib/) */
	FRP_FD_FILE = 2,	/* FR_KEEP_FILE: e.g. an unlinked open file */
};

struct frp_kept_entry {
	uint32_t kind;
	uint32_t pad;
	uint64_t key;
};

struct frp_msg {
	uint16_t type;
	int32_t status;
	uint64_t arg[2];
	const void *blob[FRP_MAX_BLOBS];
	uint32_t blob_len[FRP_MAX_BLOBS];
	int fd[FRP_MAX_FDS];
	unsigned int nfd;
};

/* Encodes @m (without fds) into @buf; returns its length or -EMSGSIZE. */
ssize_t frp_encode(const struct frp_msg *m, void *buf, size_t size);

/*
 * Decodes @len bytes of @buf into @m; blobs point into @buf.  Returns 0 or
 * -EPROTO for anything malformed (bad magic or version, lengths that do not
 * add up, too many fds announced).
 */
int frp_decode(const void *buf, size_t len, struct frp_msg *m);

/* Sends @m with its fds.  Returns 0 or -errno. */
int frp_send(int sock, const struct frp_msg *m);

/*
 * Receives one message into @buf (FRP_MAX_MSG bytes) and decodes it.  fds
 * arrive close-on-exec; when the message is malformed they are closed.
 * Returns 0, -ECONNRESET on end of stream, or -errno.  -EMFILE: the fds
 * did not fit our fd table and are lost, but @m is decoded (with nfd 0),
 * so the sender can be told which request failed.
 */
int frp_recv(int sock, void *buf, struct frp_msg *m);

/* Closes the fds a received message carried. */
void frp_close_fds(struct frp_msg *m);

/* Sends an ACK carrying @status and, if @reason is set, a message. */
int frp_send_ack(int sock, int status, const char *reason);

#endif
