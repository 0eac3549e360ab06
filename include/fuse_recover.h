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

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 34
#endif
#include <fuse_lowlevel.h>
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
 *
 * The filesystem's init operation therefore runs inside this call.  Only one
 * session per process may be attached.  Daemonize (fuse_daemonize()) before
 * this call or not at all: the supervisor watches the calling process.
 *
 * @return 0, FUSE_RECOVER_RECOVERED, or
 *   -EBUSY  the tag is held by a live server, or a session is attached;
 *   -EPROTO the new server negotiates what the kernel did not accept
 *           (different flags, protocol, smaller max_write): start the
 *           version that matches; the mount is left untouched;
 *   -EXDEV  @mountpoint differs from the mount the tag names;
 *   -EPERM  the supervisor refused us or the runtime directory is unsafe;
 *   -ENOENT fuse-recoverd could not be started;
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
 * @return 1 if resent, 0 if not, -EINVAL if @req is not the request being
 *   dispatched on this thread.
 */
int fuse_recover_req_is_resend(fuse_req_t req);

/** Free settings from fuse_recover_new().  NULL is allowed. */
void fuse_recover_destroy(struct fuse_recover *fr);

#ifdef __cplusplus
}
#endif

#endif /* FUSE_RECOVER_H_ */
