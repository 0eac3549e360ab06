/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Library internals shared between the files of lib/. */
#ifndef FUSE_RECOVER_I_H_
#define FUSE_RECOVER_I_H_

#include "fuse_recover.h"
#include "holder.h"
#include "runtime.h"
#include "util.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Not in Debian's <linux/fuse.h> (6.1 headers) yet. */
#ifndef FUSE_NOTIFY_RESEND
#define FUSE_NOTIFY_RESEND 7
#endif
#define FR_UNIQUE_RESEND (1ULL << 63)
#define FR_HAS_RESEND (1ULL << 39)
#define FR_INIT_PASSTHROUGH (1ULL << 37)	/* FUSE_PASSTHROUGH */

/* Mount options libfuse would use, for mounting with tag= ourselves. */
struct fr_mount_opts {
	unsigned long flags;	/* MS_* */
	bool allow_other, default_permissions;
	unsigned int max_read, blksize;
	char *fsname, *subtype;
};

struct fuse_recover {
	char *tag;
	unsigned int max_restarts;
	unsigned int window_sec;
	unsigned int timeout_sec;
	unsigned int poison_deaths;	/* 0: never answer EIO */
	struct fr_mount_opts mnt;
	bool io_uring;		/* -o io_uring seen: refused with a tag */
	unsigned int pt_depth;	/* passthrough asked for: max_stack_depth */
	bool killpriv;		/* FUSE_HANDLE_KILLPRIV_V2 asked for */
};

/* What the kernel offered in its FUSE_INIT request (probe.c). */
struct fr_kernel {
	uint32_t major, minor;
	uint64_t flags;
	bool resend;
};

enum fr_io_mode {
	FR_IO_NORMAL,	/* pass through, note each request's unique */
	FR_IO_CAPTURE,	/* first start: keep copies of INIT and its reply */
	FR_IO_REPLAY,	/* restart: feed the saved INIT, swallow the reply */
};

/*
 * Fds a server leaves with its supervisor so the next server gets them back
 * (keep.c).  Values are frp_fd_kind numbers on the wire; 0 is taken by
 * clone fds.
 */
enum fr_keep_kind { FR_KEEP_STATE = 1, FR_KEEP_FILE = 2 };
/* Keys of FR_KEEP_STATE memory. */
enum { FR_KEY_STORE = 0, FR_KEY_IDMAP = 1, FR_KEY_POISON = 2 };

struct fr_kept {
	uint32_t kind;
	uint64_t key;
	int fd;
};

/* The one attached session of this process. */
struct fr_session {
	/* What the io hooks read on every request: one cache line. */
	enum fr_io_mode mode;
	int main_fd;
	bool uses_store;		/* state.c: the server keeps its ids */
	bool killpriv;			/* killpriv.c: the kills are noted */
	struct fr_xlate *xlate;		/* xlate.c: we keep them for it */
	struct fuse_session *se;
	const struct fr_holder *holder;	/* who keeps the connection for us */
	int sock;		/* supervised.c: to the supervisor */
	pthread_mutex_t sock_lock;
	unsigned int acks_owed;	/* to read before the next call on sock */
	size_t read_len;	/* io.c: libfuse's read size, seen at replay */
	struct fr_blob init_in;
	struct fr_blob init_out;	/* the reply the kernel accepted */
	struct fr_blob replay_out;	/* what this server answers now */
	char *mountpoint;
	unsigned int conn_id;
	bool recovered;
	bool mounted_here;		/* by fuse_session_mount() */
	bool leave_mount;		/* not ours to unmount (release()) */
	uint64_t next_fd_id;
	pthread_key_t fd_key;
	struct fr_kernel kernel;
	struct fr_kept *kept;		/* what the previous server kept */
	size_t nkept;
	char *tag;
	int lock_fd;			/* kattach.c: held while we live */
	uint64_t init_add_flags;	/* set in our INIT reply if offered */
	unsigned int poison_deaths;
	bool keep_refused_logged;	/* keep.c: the cap was reported */
	uint32_t pt_depth;		/* passthrough.c: asked and allowed */
	bool standby;			/* upgrade.c: INIT replayed, not serving */
	bool readers_sent;	/* FRP_READERS went out (supervised.c) */
	bool retired;			/* upgrade.c: a successor serves */
};

/* util.c: the attached session (NULL while none is) */
extern struct fr_session *fr_current;

/* io.c: the custom io hooks installed on every attached session. */
/* Installs them (with a clone_fd hook on libfuse >= 3.17). */
int fr_io_install(struct fuse_session *se, int fd);
int fr_io_init(struct fr_session *s);
/* A standby: a faulted-in buffer for the first read after GO. */
void fr_io_prefault(struct fr_session *s);
void fr_io_fini(struct fr_session *s);

/* readers.c: the reader slots the supervisor watches. */
int fr_readers_fd(void);
void fr_readers_enter(void);
void fr_readers_enter_slow(void);
void fr_readers_claim(void);
void fr_readers_leave(void);

/*
 * xlate.c: node id and handle translation for servers without a state
 * store.  fr_xlate_request() returns 1 when it answered or dropped the
 * request itself (read the next one), 0 to pass it on, translated;
 * fr_xlate_quick() the same for the common cases, without a cancellation
 * point, and -1 (request untouched) for the others.
 */
struct fr_xlate;
int fr_xlate_start(struct fr_session *s);
void fr_xlate_stop(struct fr_session *s);
void fr_xlate_resync(struct fr_session *s);
int fr_xlate_quick(struct fr_session *s, void *buf, size_t *n);
int fr_xlate_request(struct fr_session *s, int fd, void *buf, size_t *n);
ssize_t fr_xlate_reply(struct fr_session *s, int fd, struct iovec *iov,
		       int count);

/* poison.c: a resent request that keeps killing servers is failed. */
struct fuse_in_header;
int fr_poison_start(struct fr_session *s, unsigned int max_deaths);
bool fr_poison_check(int fd, const struct fuse_in_header *in);
void fr_poison_answered(uint64_t unique);

/* passthrough.c: kernel passthrough on libfuse 3.14 */
extern __thread bool fr_pt_pending;
void fr_passthrough_setup(struct fr_session *s, const struct fuse_recover *fr);
bool fr_passthrough_patch_init(const struct fr_session *s,
			       struct fr_blob *out);
void fr_passthrough_started(const struct fr_session *s);
void fr_passthrough_reply(struct iovec *iov, int count);
/* killpriv.c: FUSE_HANDLE_KILLPRIV_V2, the kills libfuse 3.14 drops */
void fr_killpriv_setup(struct fr_session *s, const struct fuse_recover *fr);
void fr_killpriv_note(const struct fr_session *s,
		      const struct fuse_in_header *in, size_t len);
/* backing.c: the ioctls; the id (> 0) or -errno, 0 or -errno */
int fr_backing_open(int fd);
int fr_backing_close(int32_t id);
/* state.c: node -> backing id; the id (> 0) or -errno */
int fr_store_backing(struct fuse_recover_store *st, fuse_ino_t ino, int fd);
uint32_t fr_store_backing_count(struct fuse_recover_store *st);
struct frp_msg;
/* state.c: live upgrade, see upgrade.c */
int fr_store_activate(void);
int fr_store_resync(void);

/*
 * kick.c: the FUSE_NOTIFY_REPLY a drain wakes a reader with, and the
 * regular files the kernel caches that it can be retrieved from.  The
 * unique: libfuse's retrieve counter starts at 1 and never gets near it;
 * clear of the resend bit and of xlate.c's own requests (bit 62).
 */
#define FR_KICK_UNIQUE ((1ull << 61) | 0x6b69636bull)
void fr_kick_seen(uint64_t nodeid);
bool fr_kick_fast(void);
void fr_kick_none_works(void);
bool fr_kick_note_request(const void *buf, size_t n);
void fr_kick_note_reply(const struct iovec *iov, int count, bool kernel_ids);
/* A translated session notes its targets itself (xlate.c). */
void fr_kick_from_entries(bool on);
int fr_kick_write(int fd);

/*
 * upgrade.c: live upgrade.  fr_upgrade_read() is the io hook's read():
 * a drain parks the calling thread there, between two requests.
 */
ssize_t fr_upgrade_read(int fd, void *buf, size_t len);
bool fr_upgrade_gate(void);
void fr_upgrade_note_read(const void *in_header);
void fr_upgrade_note_reply(const struct iovec *iov, int count,
			   bool kernel_ids);
bool fr_upgrade_wanted(void);
bool fr_hot_standby_wanted(void);
int fr_upgrade_standby(struct fr_session *s, const struct fuse_recover *fr);
void fr_upgrade_start(struct fr_session *s);
void fr_upgrade_stop(void);
void fr_upgrade_rehomed(struct fr_session *s);
void fr_upgrade_forked(struct fr_session *s);

/*
 * kupgrade.c: live upgrade on the kernel path, the old server handing
 * its connection over itself (kattach.c's events(), its standby).
 */
int fr_kupgrade_connect(struct fr_session *s, int *fd);
bool fr_kupgrade_offerer_died(struct fr_session *s, bool restart);
int fr_kupgrade_events(struct fr_session *s, int *ev);
void fr_kupgrade_stop(void);
void fr_kupgrade_unlink(const char *tag);
/* A forked child serving its first request takes successors from then. */
extern bool fr_kupgrade_lost;
void fr_kupgrade_resume(void);
/*
 * The tag's counts (and how its last upgrade ended, @why if not NULL),
 * kept in RUNTIME_DIR/TAG.counts for `fuse-recover status`.
 */
enum fr_kcount { FR_KC_RESTARTS, FR_KC_UPGRADES, FR_KC_ROLLBACKS,
		 FR_KC_REFUSED, FR_KC_N };
void fr_kupgrade_count(const char *tag, enum fr_kcount which,
		       const char *why);
void fr_kupgrade_counts_reset(const char *tag);

/* state.c: the request journal, driven by the io hooks */
void fr_journal_request(uint64_t unique);
void fr_journal_reply(uint64_t unique);

/*
 * takeover.c: the steps every holder's start shares.  fr_session_start()
 * runs after INIT (captured or replayed), before any real request.
 */
void fr_probe_kernel(struct fr_session *s);
/* Fresh mount (and its undoing) through fuse_session_mount(). */
int fr_mount_fresh(struct fr_session *s);
void fr_unmount_fresh(struct fr_session *s);
int fr_adopt_fd(struct fr_session *s, int fd);
int fr_session_start(struct fr_session *s);
int fr_replay_and_resend(struct fr_session *s);
/* The INIT request, reply and mount point as one checksummed record. */
int fr_init_record_write(int fd, const struct fr_session *s);
int fr_init_record_read(int fd, struct fr_session *s, char **mountpoint);
/* FUSE_RECOVER_TRACE=1: when each takeover phase ended. */
enum fr_phase { FR_PH_START, FR_PH_HANDOFF, FR_PH_REPLAY, FR_PH_RESEND,
		FR_PH_DONE, FR_PH_N };
void fr_trace_mark(enum fr_phase p);
void fr_trace_print(void);
/*
 * A hot standby's takeover step by step, for the trace: the supervisor's
 * marks (sent with GO when it traces too), then ours.
 */
enum fr_hot_mark { FR_HM_SUP = 0, FR_HM_GO = 8, FR_HM_STORE, FR_HM_START,
		   FR_HM_RESEND, FR_HM_RESUMED, FR_HM_N };
void fr_hot_mark(enum fr_hot_mark m);
void fr_hot_marks_from(const void *data, size_t len);

/* init_replay.c */
int fr_init_capture(struct fr_session *s);
int fr_init_replay(struct fr_session *s);
void fr_init_patch_reply(struct fr_blob *out, const struct fr_blob *in,
			 uint64_t add);
int fr_init_compare(const void *orig, size_t orig_len, const void *now,
		    size_t now_len, char *why, size_t why_len);

/* resend.c */
int fr_resend_request(int fuse_fd);
void fr_resend_note(uint64_t unique, uint32_t pid);
/* The unique (resend bit included) of the request this thread runs. */
bool fr_req_unique(fuse_req_t req, uint64_t *unique);

/* keep.c: the holder keeps them; these dispatch and look them up */
int fr_keep_fd(int fd, enum fr_keep_kind kind, uint64_t key);
void fr_unkeep_fd(enum fr_keep_kind kind, uint64_t key);
int fr_kept_fd(enum fr_keep_kind kind, uint64_t key);
int fr_kept_foreach(enum fr_keep_kind kind,
		    int (*cb)(uint64_t key, int fd, void *arg), void *arg);
bool fr_session_recovered(void);
/* Memory for a state store: a memfd, or what the holder wants instead. */
int fr_state_memfd(const char *name);
/* Seal @fd against resizing (keep.c); false: it cannot be sealed. */
bool fr_seal_size(int fd);
/* Whether fr_state_memfd()'s memory can be sealed. */
bool fr_state_sealable(void);
/* For holders: one more fd the previous server kept (ours now). */
int fr_kept_add(struct fr_session *s, uint32_t kind, uint64_t key, int fd);
/* A standby about to serve: the files kept since its fetch (keep.c). */
int fr_kept_refresh(struct fr_session *s);
/* For holders: our copy of (@kind, @key) closes. */
void fr_kept_drop(struct fr_session *s, uint32_t kind, uint64_t key);
void fr_kept_free(struct fr_session *s);

/* fork.c: a forked child of the server tells the supervisor about itself */
void fr_fork_arm(struct fr_session *s);
void fr_fork_disarm(struct fr_session *s);
void fr_fork_own(bool on);

/* rehome.c: a new supervisor when ours dies */
int fr_rehome_start(struct fr_session *s, const struct fuse_recover *fr);
void fr_rehome_stop(void);
void fr_rehome_note(uint32_t kind, uint64_t key, int fd);
void fr_rehome_forget(uint32_t kind, uint64_t key);
void fr_rehome_resume(void);
extern bool fr_rehome_lost;

/* deadmount.c: a mount whose server and supervisor both died */
void fr_mount_record(const struct fr_session *s);
void fr_mount_unrecord(const char *tag);
int fr_clear_dead_mount(const struct fr_session *s);

/* state.c: the journal says this thread's resent request was done, or
 * its first attempt died inside the syscall */
bool fr_req_first_may_have_done(void);

/* probe.c */
int fr_probe_init_in(const void *init_in, size_t len, struct fr_kernel *k);

/* client.c: talking to fuse-recoverd */
struct frp_msg;
int fr_client_greet(const struct fuse_recover *fr, const struct frp_msg *hello,
		    void *buf, struct frp_msg *r, int *sock);
int fr_client_call(struct fr_session *s, const void *msg, void *reply_buf,
		   void *reply);
int fr_client_read_owed(struct fr_session *s);
int fr_client_call_locked(struct fr_session *s, const void *msg,
			  void *reply_buf, void *reply);
/* A call whose answer is an ACK: its status, logged with @what if not 0. */
int fr_client_expect_ack(struct fr_session *s, const struct frp_msg *m,
			 const char *what);
void fr_client_set_timeout(int sock);
/* A holder's decline(): FRP_DECLINE to the offerer, if connected. */
int fr_client_decline(struct fr_session *s, int err, const char *why);
/* The FRP_ATTACHED message for @s's connection. */
void fr_attached_msg(const struct fr_session *s, struct frp_msg *m);

#endif
