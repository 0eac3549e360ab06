/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libfuse-recover: FUSE lowlevel servers that survive their own crash.
 *
 * A server that calls fuse_session_attach() instead of fuse_session_mount()
 * can be killed (SIGKILL, crash, upgrade) and started again with the same
 * tag; the mount stays, and applications see only a short pause.  While no
 * server runs, a supervisor process (fuse-recoverd, one per tag) holds the
 * /dev/fuse file descriptors and the negotiated FUSE_INIT; the restarted
 * server receives them, replays FUSE_INIT into its fresh libfuse session and
 * asks the kernel to resend the requests the dead server had read but not
 * answered.
 *
 * Every function returns 0 (or a documented positive value) on success and a
 * negative errno value on failure.  None of them exits the process.
 */
#ifndef FUSE_RECOVER_H_
#define FUSE_RECOVER_H_

/*
 * A server keeps its own FUSE_USE_VERSION (any libfuse 3 API level): the
 * calls below mean the same at every level.
 */
#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 312
#endif
#include <fuse_lowlevel.h>
#if FUSE_USE_VERSION < FUSE_MAKE_VERSION(3, 12)
/*
 * Below 3.12, fuse_session_loop_mt() and fuse_loop_mt() bind the 3.2 ABI,
 * whose argument is the old public struct fuse_loop_config ({ clone_fd,
 * max_idle_threads } on the server's stack).  A config from
 * fuse_loop_cfg_create() is the 3.12 private struct: the old entry point
 * reads its leading version marker as clone_fd and silently turns clone_fd
 * on.  So at these levels it cannot be used correctly at all; fill the old
 * struct as libfuse's examples of that time do, or move to 312.
 */
#pragma GCC poison fuse_loop_cfg_create
#endif
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FUSE_RECOVER_VERSION_MAJOR 0
#define FUSE_RECOVER_VERSION_MINOR 1

/** Longest tag accepted, not counting the terminating NUL. */
#define FUSE_RECOVER_TAG_MAX 64

/** fuse_session_attach() returns this when it took over a live mount. */
#define FUSE_RECOVER_RECOVERED 1

/** Recovery settings of one session (opaque). */
struct fuse_recover;

/**
 * Check that @tag is usable as a session tag.
 *
 * A tag is 1 to FUSE_RECOVER_TAG_MAX characters from [A-Za-z0-9._-] and
 * starts with a letter or digit (so it can never be "." or ".." or contain
 * "/").  It names the supervisor's socket, so it must be safe as a file name.
 *
 * @return 0 if valid, -EINVAL if not, -ENAMETOOLONG if too long.
 */
int fuse_recover_tag_valid(const char *tag);

/**
 * Create recovery settings and take the recovery options out of @args.
 *
 * Removes these `-o` options from @args (so fuse_session_new() never sees
 * them) and keeps every other argument in place; call it before
 * fuse_session_new(), before or after fuse_parse_cmdline():
 *
 *   - `tag=NAME`            names the connection; without a tag the session
 *                           is mounted normally, with no recovery.
 *   - `recover_restarts=N`  the supervisor gives up after more than N server
 *                           deaths within the window (default 10).
 *   - `recover_window=SEC`  that window in seconds (default 60).
 *   - `recover_poison=N`    a request resent to N servers that all died
 *                           before answering it is answered EIO (default 3;
 *                           0: never).
 *   - `recover_timeout=SEC` give up when no server has taken over SEC seconds
 *                           after a death (default 60; 0 waits forever).
 *
 * Giving up aborts the connection (applications get ENOTCONN), unmounts and
 * ends the supervisor.  `auto_unmount` is refused: it would unmount the very
 * mount recovery keeps alive.
 *
 * @param args the server's arguments (may be NULL: no options)
 * @param frp  receives the new settings; free with fuse_recover_destroy()
 * @return 0, -EINVAL for a bad tag or option, -ENOMEM.
 */
int fuse_recover_new(struct fuse_args *args, struct fuse_recover **frp);

/**
 * Set or replace the tag (same rules as fuse_recover_tag_valid()).
 * A NULL @tag turns recovery off.
 *
 * @return 0 or -EINVAL, -ENAMETOOLONG, -ENOMEM.
 */
int fuse_recover_set_tag(struct fuse_recover *fr, const char *tag);

/** The tag in effect, or NULL when recovery is off. */
const char *fuse_recover_tag(const struct fuse_recover *fr);

/**
 * Mount, or take over the live mount left by a dead server.
 *
 * Call it where a server would call fuse_session_mount(), after
 * fuse_session_new() and before the session loop (either loop, with or
 * without clone_fd).  With no tag it is fuse_session_mount().  With a tag:
 *
 *  - if no supervisor holds the tag, it mounts @mountpoint (as root, or
 *    through fusermount3 when unprivileged), starts fuse-recoverd for the
 *    tag, reads FUSE_INIT, runs the filesystem's init operation, answers the
 *    kernel and hands the connection and the negotiated INIT to the
 *    supervisor.  Returns 0.
 *  - if a supervisor holds the tag of a dead server, it receives the
 *    connection, replays the saved FUSE_INIT into @se (the filesystem's init
 *    operation runs again), checks that the reply equals the one the kernel
 *    accepted, and has the kernel resend every request the dead server had
 *    read but not answered.  Returns FUSE_RECOVER_RECOVERED.  @mountpoint
 *    is only compared with the original one.
 *  - if the tag's server and supervisor died together, the mount is dead
 *    (ENOTCONN) and cannot be recovered: it says so, unmounts it lazily
 *    and mounts afresh (returns 0).  It never mounts on top of a FUSE mount
 *    the tag did not make (-EBUSY).
 *
 * Node ids and file handles: unless the server opens a state store from
 * its init operation (fuse_recover_store_open()), the library translates
 * them in its io hooks.  The kernel sees ids the library hands out, the
 * server its own, so pointer node ids and fd-number handles survive a
 * restart unchanged; an id of an earlier server run is resolved again on
 * first use (a LOOKUP of its saved name, an OPEN with the saved flags), and
 * an object that is no longer the same one gives the application ESTALE.
 * A takeover that would switch between the two modes fails with -EPROTO.
 *
 * While the server runs, a library thread watches the supervisor; if it
 * dies, a new one is started and given the connection, clone fds, INIT and
 * kept fds again, so the server's own death stays recoverable.
 *
 * On a kernel carrying the kernel/ patch series, a root server needs no
 * supervisor: the mount gets tag=NAME, the INIT reply negotiates
 * FUSE_HAS_RECOVERY so the kernel itself keeps the connection, the INIT is
 * saved in RUNTIME_DIR/TAG.init, and a restarted server reattaches with
 * FUSE_DEV_IOC_ATTACH to the mount it finds on @mountpoint (covered by
 * another mount, or in another mount namespace, it mounts afresh).  The
 * log line says which path ran;
 * FUSE_RECOVER_NO_KERNEL=1 in the environment forces the supervisor.
 *
 * Run as a systemd service with an fd store (FileDescriptorStoreMax=,
 * Type=notify: NOTIFY_SOCKET is set), systemd is the holder instead: the
 * connection's fds, the INIT and the kept fds go to the fd store, a
 * restarted service gets them back as LISTEN_FDS, and READY=1 is sent
 * once attached; FUSE_RECOVER_NO_SYSTEMD=1 forces the supervisor.
 *
 * The filesystem's init operation therefore runs inside this call.  Only one
 * session per process may be attached.  The process may daemonize
 * (fuse_daemonize()) or fork() before or after this call: a child forked
 * after it tells the supervisor so, and carries on as the server when its
 * parent exits (if it still holds the connection).
 *
 * @return 0, FUSE_RECOVER_RECOVERED, or
 *   -EBUSY  the tag is held by a live server, a session is attached, or
 *           @mountpoint is a FUSE mount the tag did not make;
 *   -EPROTO the new server negotiates what the kernel did not accept
 *           (different flags, protocol, smaller max_write): start the
 *           version that matches; the mount is left untouched;
 *   -EXDEV  @mountpoint differs from the mount the tag names;
 *   -EPERM  the supervisor refused us or the runtime directory is unsafe;
 *   -ENOENT fuse-recoverd could not be started;
 *   -EBADMSG the saved INIT of the kernel path is damaged (left as is);
 *   other -errno from mounting.
 *   A message saying which is logged through fuse_log().
 */
int fuse_session_attach(struct fuse_session *se, const char *mountpoint,
			struct fuse_recover *fr);

/**
 * End the mount for good: unmount and release the supervisor.
 *
 * Use it instead of fuse_session_unmount() on the normal exit path
 * (fuse_session_unmount() cannot unmount a session that was recovered).
 * A server that exits without calling it, or dies, leaves the mount to its
 * supervisor for the next server.  Also fine after an external umount.
 *
 * @return 0 or -errno from unmounting.
 */
int fuse_recover_unmount(struct fuse_session *se);

/**
 * Tell whether the request being handled was resent by the kernel after a
 * restart, i.e. the previous server may already have performed it.
 *
 * Call it in the operation handler, on the thread that libfuse dispatched
 * the request on, before the handler returns (the answer is per thread).
 * Non-idempotent operations (mkdir, unlink, rename, create, ...) use it to
 * accept "already done" outcomes.
 *
 * @return 1 if resent; 0 if not, and also when recovery is off (no tag,
 *   the session was not attached) or @req is not the request being
 *   dispatched on this thread, so that `if (fuse_recover_req_is_resend(req))`
 *   never takes a request for resent by mistake; -EINVAL if @req is NULL.
 */
int fuse_recover_req_is_resend(fuse_req_t req);

/** Free settings from fuse_recover_new().  NULL is allowed. */
void fuse_recover_destroy(struct fuse_recover *fr);

/*
 * The state store: crash-consistent state for restartable servers.
 *
 * The kernel keeps using the node ids and file handles a dead server gave
 * out, so they must mean the same thing to the next server.  The state
 * store keeps them in a memfd mapped MAP_SHARED and held by the supervisor
 * (fuse-recoverd): the next server maps the very same pages, so a restart
 * costs O(1) however many nodes there are, with no log to replay.
 *
 *  - Node table: node id -> lookup count, open count and an identity the
 *    server chooses (e.g. a file handle from name_to_handle_at()).  A node
 *    id is a slot index plus a generation, never a pointer.  The root is
 *    FUSE_ROOT_ID.  A record is filled first and published with one atomic
 *    store, and unpublished the same way, so a SIGKILL at any instruction
 *    leaves a table the next server can use.  The worst a crash can cause
 *    is a lookup count one too high (the node is then never freed: a leak,
 *    never a wrong node).
 *  - Handle table: fh -> node and open flags.  The fds themselves are not
 *    state: the next server reopens them lazily from the node's identity
 *    (for passthrough_hp: open_by_handle_at()), which costs nothing while
 *    no server has died and needs no fd per node.  A file unlinked while
 *    open is different: the server's own fds are all that keep the backing
 *    inode alive, and they close when it dies, so the data would be gone.
 *    Before a server removes the last name of a file with open handles it
 *    therefore gives an fd of it to the supervisor
 *    (fuse_recover_keep_file()); the next server reopens through that fd.
 *    Both, because holding an fd for every open file in the supervisor
 *    would cost a round trip per open and an fd per open file there.
 *  - Request journal: one record per server thread saying which lookup
 *    counts and which fh the request being handled has already taken.  A
 *    request the kernel resends after a crash (fuse_recover_req_is_resend())
 *    finds the record of its first attempt, so LOOKUP, CREATE, MKDIR, ...,
 *    READDIRPLUS and OPEN are counted exactly once.  (libfuse has no
 *    accessor for a request's unique; the journal reads it from libfuse's
 *    struct fuse_req, whose first fields have been the same in every
 *    libfuse 3 release, and turns itself off if the resend bit it finds
 *    disagrees with fuse_recover_req_is_resend().)
 *
 * Layout: a versioned header (magic, layout version, the server's own
 * version and record sizes, a checksum).  A server whose library or own
 * layout differs, or that finds a damaged header, refuses to recover with a
 * message and leaves the state untouched (mapped read-only while checked).
 *
 * Forgets the kernel sent to a server that died before handling them are
 * lost (the kernel never resends FORGET): those nodes stay counted.
 *
 * Without recovery (no tag) the same calls work on a private anonymous
 * mapping.
 */

/** Largest per-node identity the store keeps. */
#define FUSE_RECOVER_NODE_DATA_MAX 200

/** Most nodes one request may reference (READDIRPLUS stops there). */
#define FUSE_RECOVER_REQ_NODES_MAX 60

struct fuse_recover_store;

struct fuse_recover_store_config {
	/** The server's own layout version: a different one refuses. */
	uint32_t server_version;
	/** Bytes of identity per node, 1..FUSE_RECOVER_NODE_DATA_MAX. */
	uint32_t node_data_size;
	/** Capacity (address space only until used); 0: 1 << 22. */
	uint64_t max_nodes;
	/** Capacity of the handle table; 0: 1 << 20. */
	uint64_t max_handles;
};

/**
 * Open the store of this session: the previous server's after a takeover,
 * a new one otherwise.  Call it from the filesystem's init operation (it
 * runs inside fuse_session_attach()).
 *
 * @return 0 (new store), FUSE_RECOVER_RECOVERED (the previous server's),
 *   -EPROTO  the state was written by an incompatible library or server
 *            version (nothing is changed; start the matching server),
 *   -EBADMSG the state is damaged (nothing is changed),
 *   -EBUSY   called after the session's first request (the library
 *            already translates its ids: open the store from init),
 *   -EPERM   kernel path: the runtime directory is not private to us,
 *   -ENOSPC  the holder cannot keep one more fd for this connection
 *            (the supervisor's cap, or systemd's FileDescriptorStoreMax),
 *   -EINVAL  bad @cfg, -ENOMEM, other -errno.  A message says which.
 */
int fuse_recover_store_open(const struct fuse_recover_store_config *cfg,
			    struct fuse_recover_store **stp);

/**
 * Same on a file of your own (size 0: a new store is laid out in it).
 * For servers that keep their state elsewhere, and for tests.
 */
int fuse_recover_store_open_fd(int fd,
			       const struct fuse_recover_store_config *cfg,
			       struct fuse_recover_store **stp);

/** Unmap; the state stays with the supervisor. */
void fuse_recover_store_close(struct fuse_recover_store *st);

/**
 * Set the root's identity (new store) or check it (recovered store).
 * @return 0, -ESTALE when a recovered store has another root.
 */
int fuse_recover_store_root(struct fuse_recover_store *st, const void *data);

/**
 * The journal of one request.  The library begins it when the request is
 * read and ends it when its reply is written (for a store opened by an
 * attached session), so a server need not call these.  Begin still tells
 * whether the request is one whose first attempt left a record; end is
 * then a no-op.  A store used without an attached session (tests, servers
 * that keep their state elsewhere) is journaled only between the two.
 * @return 0, or 1 when @req is a resent request whose first attempt left a
 * record (fuse_recover_req_done() then tells if it completed).
 */
int fuse_recover_req_begin(struct fuse_recover_store *st, fuse_req_t req);
void fuse_recover_req_end(struct fuse_recover_store *st);

/**
 * Mark the current request's operation as started: call it right before
 * the syscall that performs it.  A first attempt killed after this but
 * before fuse_recover_req_mark_done() died inside the syscall (SIGKILL is
 * taken when a syscall returns), so it may or may not have performed it.
 */
void fuse_recover_req_mark_started(struct fuse_recover_store *st);

/** Mark the current request's operation done (right after the syscall). */
void fuse_recover_req_mark_done(struct fuse_recover_store *st);

/** 1 if the first attempt of this resent request had marked it done. */
int fuse_recover_req_done(struct fuse_recover_store *st);

/**
 * 1 if the first attempt of this resent request had started but not
 * marked done its operation: only the tree can tell whether it happened.
 */
int fuse_recover_req_maybe_done(struct fuse_recover_store *st);

/**
 * Find the node with identity @data (and hash @key), or create it, and add
 * one lookup for the entry about to be replied -- unless the first attempt
 * of this resent request already did (request journal).
 * @return 0, or -ENOSPC when the node table (max_nodes) is full or this
 * request already references FUSE_RECOVER_REQ_NODES_MAX nodes (no lookup
 * is added).  It allocates nothing, so never -ENOMEM.
 */
int fuse_recover_node_ref(struct fuse_recover_store *st, uint64_t key,
			  const void *data, fuse_ino_t *ino,
			  uint64_t *generation);

/**
 * Find the node with identity @data without adding a lookup.
 * @return 0 or -ENOENT.
 */
int fuse_recover_node_find(struct fuse_recover_store *st, uint64_t key,
			   const void *data, fuse_ino_t *ino);

/**
 * Take back a lookup fuse_recover_node_ref() added in this request when
 * the reply will not carry the entry after all.
 */
void fuse_recover_node_unref(struct fuse_recover_store *st, fuse_ino_t ino);

/** Copy the identity of @ino into @data.  @return 0 or -ESTALE. */
int fuse_recover_node_data(struct fuse_recover_store *st, fuse_ino_t ino,
			   void *data);

/** Drop @nlookup lookups (FORGET, BATCH_FORGET); frees at zero. */
void fuse_recover_node_forget(struct fuse_recover_store *st, fuse_ino_t ino,
			      uint64_t nlookup);

/** Lookup count and open handles of @ino.  @return 0 or -ESTALE. */
int fuse_recover_node_counts(struct fuse_recover_store *st, fuse_ino_t ino,
			     uint64_t *nlookup, uint32_t *opens);

/**
 * Allocate a file handle for @ino opened with @flags.  For a resent OPEN,
 * CREATE or OPENDIR the handle of the first attempt is returned again.
 * @return 0 or 1 (reused), -ENOSPC, -ESTALE.
 */
int fuse_recover_fh_new(struct fuse_recover_store *st, fuse_ino_t ino,
			uint32_t flags, uint64_t *fh);

/** Node and open flags of @fh.  @return 0 or -EBADF. */
int fuse_recover_fh_get(struct fuse_recover_store *st, uint64_t fh,
			fuse_ino_t *ino, uint32_t *flags);

/**
 * Free @fh (RELEASE, RELEASEDIR).
 * @return open handles left on its node, -EBADF for an unknown @fh (e.g.
 * a resent RELEASE the first attempt had done).
 */
int fuse_recover_fh_release(struct fuse_recover_store *st, uint64_t fh);

/**
 * Files that must outlive the server, e.g. open files that were unlinked:
 * once the server's own fds close, nothing keeps such an inode (and its
 * data) alive.  The holder (supervisor, or systemd's fd store) keeps a
 * dup of @fd under @key and gives it to the next server.
 * @return 0, -ENOTCONN without recovery, -ENOSPC when the holder already
 * keeps as many fds as it may for this connection (the supervisor's cap,
 * or FileDescriptorStoreMax= where systemd says it; logged once),
 * -EOPNOTSUPP on the kernel path (no supervisor: only the state store can
 * be kept), -ETIMEDOUT when systemd does not confirm it stored the fd,
 * -errno.  On any error the file does not outlive this server: keep @fd
 * open yourself so it at least lives as long as this process.
 */
int fuse_recover_keep_file(int fd, uint64_t key);

/** Let the supervisor drop the file kept under @key. */
void fuse_recover_unkeep_file(uint64_t key);

/**
 * After a takeover: call @cb for every file the previous server kept (the
 * fd stays the library's: dup() it to keep it).  Stops at a non-zero
 * return of @cb and returns it.  Call from the init operation onwards,
 * from any thread; @cb must not unkeep.  A server that waited as a standby
 * (live upgrade, hot standby) ran init before the old server stopped:
 * files kept or dropped after that are fetched again at the takeover, so
 * look a node up here again when it is first used.
 */
int fuse_recover_kept_files(int (*cb)(uint64_t key, int fd, void *arg),
			    void *arg);

/**
 * Replay rules for resent non-idempotent requests.  Each takes the errno
 * the operation just failed with and says whether to answer success
 * instead (1) or to return the error (0).  They only ever say 1 for a
 * resent request (fuse_recover_req_is_resend()) whose first attempt the
 * request journal marked done, or marked started but not done (it died
 * inside the syscall): call fuse_recover_req_begin() first,
 * fuse_recover_req_mark_started() right before the syscall and
 * fuse_recover_req_mark_done() right after it succeeds.  Without a state
 * store, with no record of the first attempt, or when it never reached the
 * syscall, they say 0: the error is real.
 *
 *  - created: MKDIR, MKNOD, SYMLINK, CREATE(O_EXCL), LINK failing with
 *    EEXIST, when @name in @dirfd is of type @mode & S_IFMT, owned by
 *    @uid, with the permission bits of @mode (S_IFDIR and S_IFREG only;
 *    ignored when @mode has no permission bits), pointing to
 *    @symlink_target (SYMLINK), or being inode @link_ino (LINK).
 *  - removed: UNLINK, RMDIR failing with ENOENT.
 *  - renamed: RENAME failing with ENOENT for the source while the target
 *    exists (plain rename and RENAME_NOREPLACE).
 *
 * Simpler, and needed where the tree cannot help (RENAME_EXCHANGE,
 * SETXATTR, REMOVEXATTR: the kernel caches no xattrs, so these reach the
 * server whatever the state): if fuse_recover_req_done(), answer success
 * without running the operation again; fuse_recover_req_maybe_done() says
 * the first attempt died inside the syscall.
 *
 * Remaining window: a first attempt killed inside its syscall (between
 * the two marks) may or may not have performed it; only then does the tree
 * decide, with its ambiguity: a change someone else made to the same name
 * in that moment is taken as ours.  Idempotent without help:
 * WRITE at the kernel's offset (so do not open the backing file O_APPEND),
 * SETATTR, FALLOCATE, READ, GETATTR.
 */
int fuse_recover_replay_created(fuse_req_t req, int err, int dirfd,
				const char *name, mode_t mode, uid_t uid,
				const char *symlink_target, ino_t link_ino);
int fuse_recover_replay_removed(fuse_req_t req, int err);
int fuse_recover_replay_renamed(fuse_req_t req, int err, int newdirfd,
				const char *newname);

/*
 * Kernel passthrough.  Linux 6.9 and later can send the reads, writes and
 * mmap of an open file straight to a backing file, with no round trip to
 * the server.  libfuse 3.14 knows nothing of it; these calls negotiate it
 * and answer OPEN and CREATE in passthrough mode for a server that keeps a
 * state store.
 *
 * Backing ids live in the kernel's connection, so they outlive the
 * server, and the kernel requires every open of one inode to name the same
 * backing file (a different one fails the open with EIO until all earlier
 * opens are closed).  So the store keeps node -> backing id: after a
 * restart, opens of a node reuse its id, and files opened in passthrough
 * mode before the crash keep working.  An id is closed
 * (FUSE_DEV_IOC_BACKING_CLOSE) when its node's lookup count reaches zero
 * (FORGET).  Leak bound: a node whose FORGET the dead server had read is
 * never freed, and keeps its id (one backing file reference, no fd in
 * any process); an id opened by a server killed before it recorded it is
 * closed by the next one.  The takeover log says how many ids are live.
 *
 * libfuse 3.17 and later have passthrough of their own
 * (fuse_passthrough_open()), whose ids no restarted server could reuse:
 * under recovery the library takes FUSE_PASSTHROUGH out of the INIT reply
 * unless the server called fuse_recover_set_passthrough() (logged), so
 * such opens go through the server instead.
 */

/**
 * Ask for passthrough in FUSE_INIT.  Call before fuse_session_attach().
 *
 * The library adds FUSE_PASSTHROUGH and @max_stack_depth (1: backing
 * files on non-stacked filesystems, the FUSE mount may be stacked on;
 * 2: backing files may be on overlayfs) to the INIT reply when the kernel
 * offers it and the server has CAP_SYS_ADMIN (which the kernel wants for
 * backing files); otherwise it logs why not and runs without.  It is part
 * of the negotiated capabilities: a restarted server must ask the same.
 * Needs a tag (the io hooks of an attached session); the kernel refuses it
 * together with writeback caching.  0 turns it off (the default).
 *
 * @return 0, -EINVAL for a depth above 2.
 */
int fuse_recover_set_passthrough(struct fuse_recover *fr,
				 unsigned int max_stack_depth);

/**
 * Answer the current OPEN or CREATE in passthrough mode.
 *
 * Call in the handler, after opening @fd (the backing file, in any open
 * mode: each open gets its own backing file opened with the open's
 * flags), with the server's own credentials (the kernel
 * keeps the caller's credentials with a new backing file and uses them
 * for every later open of it), right before fuse_reply_open() or
 * fuse_reply_create() on the same thread.  The library registers @fd as
 * the backing file of node @ino on the node's first open (an id already
 * recorded for the node is reused, also the one a previous server
 * registered) and sets FOPEN_PASSTHROUGH and the id in the reply.  Keep
 * your own fd and fh as usual: the kernel still sends FLUSH, FSYNC,
 * RELEASE, SETATTR, ... and the fd serves requests after a fallback.
 *
 * Once an inode is open in passthrough mode, every other open of it must
 * be too: fall back (answer without this call) only when it fails.
 *
 * @return the backing id (> 0); -EOPNOTSUPP when passthrough was not
 *   negotiated (not asked, kernel without it, no CAP_SYS_ADMIN, no tag, or
 *   the session does not use a state store); -ELOOP for a backing file on
 *   a filesystem stacked deeper than max_stack_depth allows; -ESTALE for an
 *   unknown @ino; -EINVAL if @req is not the request this thread handles;
 *   other -errno from FUSE_DEV_IOC_BACKING_OPEN.  On error the reply is
 *   not changed.
 */
int fuse_recover_passthrough_open(fuse_req_t req,
				  struct fuse_recover_store *st,
				  fuse_ino_t ino, int fd);

/**
 * Backing ids the store holds (one per node opened in passthrough mode and
 * not forgotten yet).
 *
 * @return the count, -EINVAL for a NULL @st.
 */
int fuse_recover_passthrough_count(struct fuse_recover_store *st);

/*
 * Set-id kills (FUSE_HANDLE_KILLPRIV_V2, Linux 5.12 and later).  Without
 * it the kernel asks the server for security.capability (a GETXATTR)
 * before every write of every file, passthrough writes too; with it a file
 * without set-id bits is checked once.  In exchange the server clears
 * S_ISUID, and S_ISGID when S_IXGRP is set, itself when the kernel says
 * so; libfuse 3.14 neither negotiates the flag nor passes those requests'
 * kill flags on.
 */

/**
 * Ask for FUSE_HANDLE_KILLPRIV_V2 in FUSE_INIT.  Call before
 * fuse_session_attach().
 *
 * The library adds the flag to the INIT reply when the kernel offers it.
 * It is part of the negotiated capabilities: a restarted server must ask
 * the same.  Needs a tag (the io hooks of an attached session).  A server
 * that asks must call fuse_recover_req_kill_suidgid() in its SETATTR,
 * OPEN, CREATE and WRITE handlers and clear the bits when it says so.
 * 0 turns it off (the default).
 *
 * @return 0, -EINVAL for a NULL @fr.
 */
int fuse_recover_set_killpriv(struct fuse_recover *fr, int on);

/**
 * Whether the current request tells the server to clear set-id bits.
 *
 * 1 for a SETATTR with FATTR_KILL_SUIDGID (truncate by a caller without
 * CAP_FSETID, chown), an OPEN or CREATE with FUSE_OPEN_KILL_SUIDGID
 * (O_TRUNC by such a caller), a WRITE with FUSE_WRITE_KILL_SUIDGID (such a
 * writer), and, once FUSE_HANDLE_KILLPRIV_V2 is negotiated, a SETATTR
 * with no attribute to set: the kernel's kill after a write on the page
 * cache or passthrough path, fallocate, copy_file_range's destination, or
 * chown(-1, -1).  The server then clears S_ISUID, and S_ISGID if S_IXGRP
 * is set, of a regular file, after the rest of the request succeeded (for
 * a CREATE: only if the file existed).  Clearing is idempotent, so a
 * resent request may clear again.  Call on the thread that handles @req.
 *
 * @return 1 or 0 (also for a request not read through the library's
 *   hooks), -EINVAL for a NULL @req.
 */
int fuse_recover_req_kill_suidgid(fuse_req_t req);

#ifdef __cplusplus
}
#endif

#endif /* FUSE_RECOVER_H_ */
