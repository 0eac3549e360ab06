/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Where a tag lives on disk: a private runtime directory holding, per tag,
 * the supervisor's socket (TAG.sock) and its lock (TAG.lock).  Shared by
 * lib/ and supervisor/.
 */
#ifndef FR_RUNTIME_H_
#define FR_RUNTIME_H_

#include "util.h"

#include <stddef.h>
#include <stdint.h>

#define FR_PATH_MAX 108 /* sizeof(sun_path) */

/*
 * Bounds of the give-up settings, the same for recover_* options and
 * fuse-recoverd's --max-restarts, --window and --takeover-timeout: the
 * library passes its values on, and both must accept the same ones.
 */
#define FR_RESTARTS_MAX 1000000u
#define FR_SECONDS_MAX (86400u * 365)

/*
 * Finds (and creates) the runtime directory of the calling user:
 * $FUSE_RECOVER_RUNTIME_DIR, else /run/fuse-recover for root, else
 * $XDG_RUNTIME_DIR/fuse-recover, else /tmp/fuse-recover-UID.  It must be a
 * real directory owned by us with no access for group or others; otherwise
 * -EPERM (someone else could swap our socket).
 */
int fr_runtime_dir(char *dir, size_t size);

/* DIR/TAG.SUFFIX, or -ENAMETOOLONG when it would not fit a socket address. */
int fr_tag_path(char *out, const char *dir, const char *tag,
		const char *suffix);

/*
 * Takes the tag's lock without waiting.  The holder of the lock is the one
 * live supervisor of the tag.  Returns 0 with *fd set, -EWOULDBLOCK when
 * someone holds it, or -errno.
 */
int fr_lock_tag(const char *dir, const char *tag, int *fd);

/* Removes the socket and lock files; call while holding the lock. */
void fr_remove_tag_files(const char *dir, const char *tag);

/*
 * A kept-memory file of a kernel-path tag (lib/kattach.c):
 * DIR/TAG.keep-KIND-KEY, both decimal; -ENAMETOOLONG as fr_tag_path().
 */
int fr_kept_file_path(char *out, const char *dir, const char *tag,
		      unsigned int kind, uint64_t key);

/*
 * Calls @fn(dirfd, name, kind, key, @arg) for each kept-memory file of a
 * kernel-path tag in @dir (named as fr_kept_file_path() names them).
 * Other names are skipped, also another tag's whose name begins with TAG
 * (tags may contain '.' and '-').  Stops at the first nonzero return of
 * @fn and returns it; -errno when @dir cannot be read.
 */
int fr_kept_files_each(const char *dir, const char *tag,
		       int (*fn)(int dirfd, const char *name,
				 unsigned int kind, uint64_t key, void *arg),
		       void *arg);

/* mount.c: the connection number of the FUSE mount on @mountpoint. */
int fr_mount_conn_id(const char *mountpoint, unsigned int *id);

/* mount.c: lazy unmount, through fusermount3 when not root. */
int fr_unmount(const char *mountpoint);
/*
 * Aborts FUSE connection @id (ENOTCONN for everything) through its
 * fusectl abort file, in a fusectl of our own where none is mounted
 * (CAP_SYS_ADMIN then).  Returns 0 or -errno.
 */
int fr_abort_connection(unsigned int id);

#endif
