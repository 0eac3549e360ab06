/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Who holds a tag's connection while no server runs.
 *
 * Three holders, one interface: fuse-recoverd (supervised.c), the patched
 * kernel itself (kattach.c) and systemd's fd store (fdstore.c).  attach.c
 * picks one per session and drives the same steps with each; what a holder
 * keeps and how it talks stays in its file.  The steps every takeover
 * shares (adopting the fd, INIT replay, resend) are in takeover.c.
 */
#ifndef FR_HOLDER_H_
#define FR_HOLDER_H_

#include <stdbool.h>
#include <stdint.h>

struct fr_session;
struct fuse_recover;

struct fr_holder {
	/* For the log line fuse_session_attach() ends with. */
	const char *name;
	/* Whether this holder can serve here (checked in attach.c's order). */
	bool (*usable)(void);
	/* Chosen for @s: its fields of @s get their "nothing yet" values. */
	void (*init)(struct fr_session *s);
	/*
	 * Reaches the tag's holder: 0 when it holds nothing (mount afresh),
	 * 1 when it holds a connection for us to take back, or -errno (and
	 * says why).
	 */
	int (*find)(struct fr_session *s, const struct fuse_recover *fr);

	/* Fresh: mounts, leaving the connection's fd in s->main_fd. */
	int (*mount)(struct fr_session *s, const struct fuse_recover *fr);
	/* Fresh: undoes mount() after a later step failed. */
	void (*unmount)(struct fr_session *s);
	/* Fresh: INIT captured; hold the connection from now on. */
	int (*hold)(struct fr_session *s);

	/*
	 * Takeover: the connection's fd, its INIT request and reply (into
	 * s->init_in, s->init_out, s->conn_id) and the mount point it is on
	 * (malloc'ed).
	 */
	int (*take)(struct fr_session *s, int *fd, char **mountpoint);
	/* Takeover: the fds the previous server kept, into s->kept. */
	int (*take_kept)(struct fr_session *s);
	/* Takeover: done, we serve the connection now. */
	int (*resumed)(struct fr_session *s);
	/*
	 * Takeover refused before anything was read from the connection:
	 * the holder keeps waiting for a compatible server.  Returns @err.
	 */
	int (*decline)(struct fr_session *s, int err, const char *why);

	/* fuse_session_attach() succeeded (either way). */
	void (*running)(struct fr_session *s, const struct fuse_recover *fr);

	/*
	 * Live upgrade (upgrade.c): the socket on which this server is told
	 * to drain, resume or retire, into *ev.  -EAGAIN: not yet (a standby
	 * sets it up once it serves), said by nobody.
	 */
	int (*events)(struct fr_session *s, int *ev);
	/*
	 * A standby whose socket to the offerer hung up: true when that
	 * means the old server died, false when the upgrade is off.  Before
	 * GO (@restart) we then take over as a restart (resend), counted as
	 * one; after GO we only serve on.  NULL: always off.
	 */
	bool (*offerer_died)(struct fr_session *s, bool restart);
	/* A standby about to wait for GO: what can be set up ahead. */
	void (*standing_by)(struct fr_session *s,
			    const struct fuse_recover *fr);

	/* An fd to outlive this server under (@kind, @key); see keep.c. */
	int (*keep)(struct fr_session *s, int fd, uint32_t kind, uint64_t key);
	void (*unkeep)(struct fr_session *s, uint32_t kind, uint64_t key);
	/* Memory for a state store; NULL: a sealable memfd. */
	int (*state_memfd)(struct fr_session *s, const char *name);
	/* A clone fd (clone_fd=1) must be held too; NULL: nothing to do. */
	int (*add_clone)(struct fr_session *s, uint64_t id, int fd);
	void (*del_clone)(struct fr_session *s, uint64_t id);

	/* Clean unmount: the holder forgets the tag. */
	void (*release)(struct fr_session *s);
	/* The session ends (any way): what this process held closes. */
	void (*close)(struct fr_session *s);

	/*
	 * Server and holder can die together, leaving the connection
	 * aborted under its mount point: fresh mounts leave a record so the
	 * next server can recognise its dead mount (deadmount.c).
	 */
	bool dead_mounts;
};

extern const struct fr_holder fr_holder_supervisor;	/* supervised.c */
extern const struct fr_holder fr_holder_kernel;		/* kattach.c */
extern const struct fr_holder fr_holder_systemd;	/* fdstore.c */

#endif
