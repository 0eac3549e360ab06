// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * passthrough_hp: a read-write passthrough filesystem that survives its own
 * crash.
 *
 *     passthrough_hp -f -o tag=NAME SOURCE MOUNTPOINT &
 *     kill -9 %1
 *     passthrough_hp -f -o tag=NAME SOURCE MOUNTPOINT &   # takes over
 *
 * Applications keep their open files, their cwd and their view of the tree;
 * node ids and file handles stay valid because both live in the state
 * store of libfuse-recover (fuse_recover_store_open()), which the
 * supervisor keeps while no server runs.  What this example shows:
 *
 *  - Node ids index the store; each node's identity is the backing file's
 *    file handle (name_to_handle_at()).  No fd is kept per cached inode:
 *    one is opened from the handle (open_by_handle_at(), O_PATH) when an
 *    operation needs it, so the number of cached inodes is not limited by
 *    RLIMIT_NOFILE.
 *  - Open files: the fh given to the kernel is a store handle; the fd behind
 *    it is process-local and reopened from the node's file handle on first
 *    use after a restart.  A file unlinked while open would lose its data
 *    when the dying server's fds close (nothing else holds the inode), so
 *    an O_PATH fd of it is given to the supervisor
 *    (fuse_recover_keep_file()) before the unlink, and the next server
 *    reopens through that.
 *  - Every request that creates, removes or changes something runs with
 *    the caller's fsuid, fsgid and supplementary groups (per thread), so the
 *    backing filesystem does the permission checks and owns new files by
 *    the caller.  Use -o allow_other for several users; it adds
 *    default_permissions too: the kernel walks cached dentries and opens
 *    FIFOs without asking the server, so it must check search and open
 *    permissions itself (--no-default-permissions leaves everything to
 *    SOURCE).
 *  - Resent requests go through the replay rules (fuse_recover_replay_*())
 *    and the request journal, which the library keeps for every request.
 *  - Writes carry the kernel's offset, also for O_APPEND, so a resent write
 *    is idempotent; O_DIRECT writes use an aligned bounce buffer.
 *  - Locks (flock, POSIX) are left to the kernel: not implementing them
 *    makes the kernel keep them locally, which also survives restarts.
 *  - Kernel passthrough (Linux 6.9+, root): regular files are opened with
 *    fuse_recover_passthrough_open(), so reads, writes and mmap go to the
 *    backing file without a round trip; the library keeps the backing ids
 *    in the state store, so files stay open in passthrough mode across a
 *    restart.  Without root, kernel support or a tag it says so once and
 *    serves reads and writes itself; -o nopassthrough turns it off.
 *  - Without passthrough, an open of a file that did not change since the
 *    node's previous open (size, mtime, ctime) keeps the kernel's page
 *    cache of it, like libfuse's auto_cache; our own writes count as no
 *    change, so a file written and read back is read from memory.
 *  - Set-id bits (FUSE_HANDLE_KILLPRIV_V2, fuse_recover_set_killpriv()):
 *    the kernel stops asking for security.capability before every write,
 *    and this server clears S_ISUID, and S_ISGID with S_IXGRP, itself when
 *    the library says the request kills them (kill_suidgid()): it writes
 *    as root and the kernel's passthrough writes use its credentials, so
 *    the backing filesystem would keep them.  --nokillpriv turns it off.
 *  - Reopening nodes by handle needs CAP_DAC_READ_SEARCH: as another user
 *    than root, give it that capability (it refuses to start otherwise).
 *
 * Options: --norecover (ignore tag=, e.g. for benchmarks), --timeout=SEC
 * (entry/attribute cache, default 1; 0 also drops the page cache at every
 * open), --noxattr, --noreaddirplus, --nokillpriv, plus the
 * usual -s, -f, -d, -o clone_fd, -o max_threads=N, -o allow_other.
 *
 * The tests build this file a second time with -DPASSTHROUGH_HP_TEST_HOOKS
 * (crash points, debug counters: test/pt_hooks.h); without it the hook
 * calls below compile to nothing.
 *
 * Build: cc passthrough_hp.c $(pkg-config --cflags --libs fuse-recover)
 */
#define FUSE_USE_VERSION 312
#include <fuse_recover.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#ifdef PASSTHROUGH_HP_TEST_HOOKS
#include "pt_hooks.h"
#else
enum pt_when { PT_BEFORE, PT_AFTER };
#define pt_hooks_init() ((void)0)
#define pt_hook_crash(when, op, name) ((void)(when), (void)(op), (void)(name))
#define pt_hook_state_version(v) (v)
#define pt_hook_init_wait() ((void)0)
#define pt_debug(...) ((void)0)
#define pt_hook_getxattr(req, st, ino, name, size) false
#endif

#define PT_STATE_VERSION 1
#define PT_MAX_HANDLES (1U << 20)
#define PT_MAX_GROUPS 256
#define PT_ALIGN 4096

/* A node's identity in the store: the backing file's handle. */
struct pt_ident {
	uint32_t handle_bytes;
	int32_t handle_type;
	uint64_t ino;
	unsigned char f_handle[128];
};

/* The fd behind one fh in this process. */
struct pt_fd {
	uint64_t fh;
	int fd;
};

/*
 * A backing file as an open of its node last saw it: an open that finds
 * the file the same keeps the kernel's page cache of it.
 */
struct pt_seen {
	fuse_ino_t ino;
	ino_t backing_ino;
	off_t size;
	struct timespec mtime;
	struct timespec ctime;
};

#define PT_SEEN_SLOTS 4096

/* The latest fh opened on a node (direct-mapped by node id). */
struct pt_last_fh {
	fuse_ino_t ino;
	uint64_t fh;
};

#define PT_LAST_FH_SLOTS 4096

/* O_PATH fds of nodes that were unlinked while open. */
struct pt_pin {
	fuse_ino_t ino;
	int fd;
};

struct pt_conf {
	char *source;
	double timeout;
	int norecover;
	int noxattr;
	int noreaddirplus;
	int nodefperm;
	int allow_other;
	int nopassthrough;
	int nokillpriv;
};

static struct {
	struct pt_conf conf;
	struct fuse_session *se;
	struct fuse_recover_store *st;
	int root_fd;
	int mount_fd;	/* open_by_handle_at() refuses an O_PATH one */
	int root_mnt;
	struct pt_ident root_id;
	int init_err;
	bool recovered;
	struct pt_fd *fds;
	pthread_mutex_t fd_lock;
	struct pt_last_fh last_fh[PT_LAST_FH_SLOTS];	/* under fd_lock */
	struct pt_pin *pins;
	size_t npins;
	pthread_mutex_t pin_lock;
	gid_t groups[PT_MAX_GROUPS];
	int ngroups;
	bool switch_creds;	/* CAP_SETUID and CAP_SETGID: act as the caller */
	bool passthrough;	/* asked for; off once the library says no */
	bool pt_logged;
	pthread_key_t rbuf_key;
	struct pt_seen seen[PT_SEEN_SLOTS];	/* by node id, direct-mapped */
	pthread_mutex_t seen_lock;
} pt = {
	.root_fd = -1,
	.mount_fd = -1,
	.fd_lock = PTHREAD_MUTEX_INITIALIZER,
	.pin_lock = PTHREAD_MUTEX_INITIALIZER,
	.seen_lock = PTHREAD_MUTEX_INITIALIZER,
};

/* ---- credentials ---- */

/*
 * The caller's ids for the current thread only: setfsuid/setfsgid are per
 * thread, and the raw setgroups syscall is too (glibc's wrapper would
 * change every thread).  Leaving fsuid 0 drops the filesystem capabilities
 * of this thread, so the backing filesystem checks permissions as for the
 * caller; going back to fsuid 0 restores them.
 */
struct pt_creds {
	bool changed;
};

static void creds_push(fuse_req_t req, struct pt_creds *c)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	gid_t groups[PT_MAX_GROUPS];
	int n;

	c->changed = false;
	if ((ctx->uid == 0 && ctx->gid == 0) || !pt.switch_creds)
		return;
	n = fuse_req_getgroups(req, PT_MAX_GROUPS, groups);
	if (n < 0 || n > PT_MAX_GROUPS)
		n = 0;
	syscall(SYS_setgroups, n, groups);
	syscall(SYS_setfsgid, ctx->gid);
	syscall(SYS_setfsuid, ctx->uid);
	c->changed = true;
}

static void creds_pop(struct pt_creds *c)
{
	int saved = errno;

	if (c->changed) {
		syscall(SYS_setfsuid, 0);
		syscall(SYS_setfsgid, 0);
		syscall(SYS_setgroups, pt.ngroups, pt.groups);
	}
	errno = saved;
}

/*
 * Without CAP_SETUID and CAP_SETGID (an unprivileged server) the calls
 * above fail or change nothing, and fuse_req_getgroups() reads
 * /proc/PID/task/TID/status for every request: more than half of what a
 * create costs.  Such a server acts as itself, as it always did.
 */
static bool may_switch_creds(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2] = { { 0 } };

	if (syscall(SYS_capget, &h, d) < 0)
		return false;
	return (d[CAP_SETUID / 32].effective & (1U << (CAP_SETUID % 32))) &&
	       (d[CAP_SETGID / 32].effective & (1U << (CAP_SETGID % 32)));
}

/* ---- nodes ---- */

static int ident_of(int fd, struct pt_ident *id, int *mnt)
{
	union {
		struct file_handle fh;
		unsigned char buf[sizeof(struct file_handle) + 128];
	} u;
	struct stat st;

	memset(id, 0, sizeof(*id));
	u.fh.handle_bytes = 128;
	if (name_to_handle_at(fd, "", &u.fh, mnt, AT_EMPTY_PATH) < 0)
		return -errno;
	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	id->handle_bytes = u.fh.handle_bytes;
	id->handle_type = u.fh.handle_type;
	id->ino = st.st_ino;
	memcpy(id->f_handle, u.fh.f_handle, u.fh.handle_bytes);
	return 0;
}

struct kept_find {
	fuse_ino_t ino;
	int fd;
	unsigned int seen;
};

/*
 * The library's list of kept files only shrinks once we serve: when it is
 * found empty, nobody looks again.
 */
static bool no_kept;

static int find_kept(uint64_t key, int fd, void *arg)
{
	struct kept_find *f = arg;

	f->seen++;
	if (key != f->ino)
		return 0;
	f->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	return 1;
}

static int pin_fd(fuse_ino_t ino)
{
	size_t i;
	int fd = -1;

	pthread_mutex_lock(&pt.pin_lock);
	for (i = 0; i < pt.npins; i++)
		if (pt.pins[i].ino == ino)
			fd = dup(pt.pins[i].fd);
	pthread_mutex_unlock(&pt.pin_lock);
	return fd;
}

static int pin_add(fuse_ino_t ino, int fd)
{
	struct pt_pin *p;
	size_t i;

	pthread_mutex_lock(&pt.pin_lock);
	for (i = 0; i < pt.npins; i++) {
		if (pt.pins[i].ino == ino) {
			pthread_mutex_unlock(&pt.pin_lock);
			close(fd);
			return 0;
		}
	}
	p = realloc(pt.pins, (pt.npins + 1) * sizeof(*p));
	if (!p) {
		pthread_mutex_unlock(&pt.pin_lock);
		close(fd);
		return -ENOMEM;
	}
	pt.pins = p;
	pt.pins[pt.npins++] = (struct pt_pin){ .ino = ino, .fd = fd };
	pthread_mutex_unlock(&pt.pin_lock);
	return 0;
}

static void pin_drop(fuse_ino_t ino)
{
	size_t i;
	bool found = false;

	pthread_mutex_lock(&pt.pin_lock);
	for (i = 0; i < pt.npins; i++) {
		if (pt.pins[i].ino == ino) {
			close(pt.pins[i].fd);
			pt.pins[i] = pt.pins[--pt.npins];
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&pt.pin_lock);
	if (!found && pt.recovered &&
	    !__atomic_load_n(&no_kept, __ATOMIC_RELAXED)) {
		/* Kept after our init and never used since (adopt_kept()). */
		struct kept_find f = { .ino = ino, .fd = -1 };

		found = fuse_recover_kept_files(find_kept, &f) == 1;
		if (f.fd >= 0)
			close(f.fd);
	}
	if (found)
		fuse_recover_unkeep_file(ino);
}

/*
 * A file the previous server kept after our init had run (we waited as
 * its standby, or as the new server of a live upgrade) is not among the
 * pins init took: it is adopted here, on first use, so that its last
 * release lets the supervisor drop it.
 */
static int adopt_kept(fuse_ino_t ino)
{
	struct kept_find f = { .ino = ino, .fd = -1 };

	if (!pt.recovered || __atomic_load_n(&no_kept, __ATOMIC_RELAXED))
		return -1;
	if (fuse_recover_kept_files(find_kept, &f) != 1 || f.fd < 0) {
		if (!f.seen)
			__atomic_store_n(&no_kept, true, __ATOMIC_RELAXED);
		return -1;
	}
	pin_add(ino, f.fd);
	return pin_fd(ino);
}

/*
 * An O_PATH fd for @ino; the caller closes it.  Needs CAP_DAC_READ_SEARCH,
 * so call it before creds_push().
 */
/* An O_PATH fd of the file @id names, or -errno. */
static int open_ident(const struct pt_ident *id)
{
	union {
		struct file_handle fh;
		unsigned char buf[sizeof(struct file_handle) + 128];
	} u;
	int fd;

	u.fh.handle_bytes = id->handle_bytes;
	u.fh.handle_type = id->handle_type;
	memcpy(u.fh.f_handle, id->f_handle, id->handle_bytes);
	fd = open_by_handle_at(pt.mount_fd, &u.fh, O_PATH | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int node_fd(fuse_ino_t ino)
{
	struct pt_ident id;
	int fd, err;

	if (ino == FUSE_ROOT_ID) {
		fd = fcntl(pt.root_fd, F_DUPFD_CLOEXEC, 0);
		return fd < 0 ? -errno : fd;
	}
	err = fuse_recover_node_data(pt.st, ino, &id);
	if (err)
		return err;
	fd = pin_fd(ino);
	if (fd < 0)
		fd = adopt_kept(ino);
	if (fd >= 0)
		return fd;
	return open_ident(&id);
}

static void proc_path(char *buf, int fd)
{
	snprintf(buf, 32, "/proc/self/fd/%d", fd);
}

/*
 * Looks up @name in @dirfd (with the credentials in effect) and adds one
 * lookup to its node.
 */
static int lookup_at(int dirfd, const char *name, struct fuse_entry_param *e)
{
	struct pt_ident id;
	int fd, err, mnt;

	memset(e, 0, sizeof(*e));
	e->attr_timeout = pt.conf.timeout;
	e->entry_timeout = pt.conf.timeout;
	fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = ident_of(fd, &id, &mnt);
	if (!err && fstatat(fd, "", &e->attr,
			    AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		err = -errno;
	close(fd);
	if (err)
		return err;
	/* Handles only open on the source's filesystem. */
	if (mnt != pt.root_mnt)
		return -EXDEV;
	return fuse_recover_node_ref(pt.st, id.ino, &id, &e->ino,
				     &e->generation);
}

/* ---- per-fh fds ---- */

static struct pt_fd *fd_slot(uint64_t fh)
{
	uint64_t s = (fh & 0xffffffffULL) - 1;

	return s < PT_MAX_HANDLES ? &pt.fds[s] : NULL;
}

static void fd_install(fuse_ino_t ino, uint64_t fh, int fd)
{
	struct pt_fd *f = fd_slot(fh);

	pthread_mutex_lock(&pt.fd_lock);
	if (f->fh && f->fd >= 0)
		close(f->fd);
	__atomic_store_n(&f->fh, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&f->fd, fd, __ATOMIC_RELAXED);
	__atomic_store_n(&f->fh, fh, __ATOMIC_RELEASE);
	pt.last_fh[ino % PT_LAST_FH_SLOTS] = (struct pt_last_fh){ ino, fh };
	pthread_mutex_unlock(&pt.fd_lock);
}

/*
 * A dup of an fd this process has open on node @ino, or -1: cheaper than
 * node_fd() (no open_by_handle_at()) and, unlike an O_PATH fd, good for
 * f*xattr() directly.  Under fd_lock so that a RELEASE cannot close the fd
 * (and its number be reused) between the look-up and the dup; the fh is
 * checked to still name this node.
 */
static int node_open_fd(fuse_ino_t ino)
{
	struct pt_last_fh *l = &pt.last_fh[ino % PT_LAST_FH_SLOTS];
	struct pt_fd *f;
	fuse_ino_t owner;
	int fd = -1;

	pthread_mutex_lock(&pt.fd_lock);
	if (l->ino == ino && (f = fd_slot(l->fh)) && f->fh == l->fh &&
	    f->fd >= 0 && fuse_recover_fh_get(pt.st, l->fh, &owner, NULL) == 0 &&
	    owner == ino)
		fd = fcntl(f->fd, F_DUPFD_CLOEXEC, 0);
	pthread_mutex_unlock(&pt.fd_lock);
	return fd;
}

static void fd_forget(uint64_t fh)
{
	struct pt_fd *f = fd_slot(fh);

	if (!f)
		return;
	pthread_mutex_lock(&pt.fd_lock);
	if (f->fh == fh) {
		__atomic_store_n(&f->fh, 0, __ATOMIC_RELEASE);
		if (f->fd >= 0)
			close(f->fd);
		f->fd = -1;
	}
	pthread_mutex_unlock(&pt.fd_lock);
}

static int reopen_flags(uint32_t flags)
{
	return (flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY | O_APPEND)) |
	       O_CLOEXEC;
}

/*
 * The fd behind @fh: opened by this process, or reopened from the node
 * after a restart (through the pinned fd if it was unlinked).
 */
static int fh_fd(uint64_t fh)
{
	struct pt_fd *f = fd_slot(fh);
	char path[32];
	fuse_ino_t ino;
	uint32_t flags;
	int fd, pfd, err;

	if (!f)
		return -EBADF;
	/*
	 * Fast path without the lock: the kernel sends no request on an fh
	 * concurrently with its RELEASE, and installs publish fd before fh.
	 */
	if (__atomic_load_n(&f->fh, __ATOMIC_ACQUIRE) == fh) {
		fd = __atomic_load_n(&f->fd, __ATOMIC_RELAXED);
		if (fd >= 0)
			return fd;
	}
	pthread_mutex_lock(&pt.fd_lock);
	if (f->fh == fh && f->fd >= 0) {
		fd = f->fd;
		pthread_mutex_unlock(&pt.fd_lock);
		return fd;
	}
	err = fuse_recover_fh_get(pt.st, fh, &ino, &flags);
	if (err) {
		pthread_mutex_unlock(&pt.fd_lock);
		return err;
	}
	pfd = node_fd(ino);
	if (pfd < 0) {
		pthread_mutex_unlock(&pt.fd_lock);
		return pfd;
	}
	proc_path(path, pfd);
	fd = open(path, reopen_flags(flags));
	err = fd < 0 ? -errno : 0;
	close(pfd);
	if (fd >= 0) {
		__atomic_store_n(&f->fd, fd, __ATOMIC_RELAXED);
		__atomic_store_n(&f->fh, fh, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&pt.fd_lock);
	return fd < 0 ? err : fd;
}

/* fd for an operation that may come with or without an open file. */
static int fi_or_node_fd(fuse_ino_t ino, struct fuse_file_info *fi,
			 bool *owned)
{
	int fd;

	if (fi) {
		fd = fh_fd(fi->fh);
		if (fd >= 0) {
			*owned = false;
			return fd;
		}
	}
	*owned = true;
	return node_fd(ino);
}

/* ---- lowlevel operations ---- */

static int take_pin(uint64_t key, int fd, void *arg)
{
	int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);

	(void)arg;
	pt_debug("kept file of node %llx: fd %d", (unsigned long long)key, d);
	if (d >= 0)
		pin_add(key, d);
	return 0;
}

static void pt_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fuse_recover_store_config cfg = {
		.server_version = PT_STATE_VERSION,
		.node_data_size = sizeof(struct pt_ident),
		.max_handles = PT_MAX_HANDLES,
	};
	int err;

	(void)userdata;
	cfg.server_version = pt_hook_state_version(cfg.server_version);
	pt_hook_init_wait();
	if (pt.conf.noreaddirplus)
		conn->want &= ~(FUSE_CAP_READDIRPLUS |
				FUSE_CAP_READDIRPLUS_AUTO);
	/* The kernel applies the umask; we create with the mode as is. */
	conn->want &= ~FUSE_CAP_DONT_MASK;
	/*
	 * auto_inval_data drops a file's page cache whenever the mtime in a
	 * fresh GETATTR differs from the kernel's, which it always does after
	 * a write of our own (the kernel writes through and does not learn
	 * the backing file's mtime): a file read right after it was written
	 * came from us again.  Changes behind our back are caught at open
	 * (unchanged_since_last_open()) and size changes by the kernel at
	 * every GETATTR; --timeout=0 keeps it, with no caching at all.
	 */
	if (pt.conf.timeout > 0)
		conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	if (pt.st)
		return;
	err = fuse_recover_store_open(&cfg, &pt.st);
	pt_hook_crash(PT_AFTER, "init", NULL);
	if (err >= 0) {
		pt.recovered = err == FUSE_RECOVER_RECOVERED;
		err = fuse_recover_store_root(pt.st, &pt.root_id);
	}
	if (err < 0) {
		fprintf(stderr, "passthrough_hp: cannot use the state store: %s\n",
			strerror(-err));
		pt.init_err = err;
		fuse_session_exit(pt.se);
		return;
	}
	/* Open files the previous server had unlinked. */
	if (pt.recovered)
		fuse_recover_kept_files(take_pin, NULL);
}

static void pt_destroy(void *userdata)
{
	(void)userdata;
}

static void reply_entry_or_err(fuse_req_t req, int err,
			       struct fuse_entry_param *e)
{
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	if (fuse_reply_entry(req, e) != 0)
		fuse_recover_node_unref(pt.st, e->ino);
}

static void pt_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	struct pt_creds c;
	int pfd, err;

	pfd = node_fd(parent);
	if (pfd < 0) {
		err = pfd;
	} else {
		creds_push(req, &c);
		err = lookup_at(pfd, name, &e);
		creds_pop(&c);
		close(pfd);
	}
	if (err == -ENOENT) {
		/* Negative entry, cached for the entry timeout. */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = pt.conf.timeout;
		err = 0;
	} else if (!err) {
		pt_hook_crash(PT_AFTER, "lookup", name);
	}
	reply_entry_or_err(req, err, &e);
}

static void forget_one(fuse_ino_t ino, uint64_t n)
{
	fuse_recover_node_forget(pt.st, ino, n);
	if ((pt.npins || pt.recovered) &&
	    fuse_recover_node_counts(pt.st, ino, NULL, NULL) < 0)
		pin_drop(ino);
}

static void pt_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	forget_one(ino, nlookup);
	fuse_reply_none(req);
}

static void pt_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *f)
{
	size_t i;

	for (i = 0; i < count; i++)
		forget_one(f[i].ino, f[i].nlookup);
	fuse_reply_none(req);
}

static void pt_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct stat st;
	bool owned;
	int fd = fi_or_node_fd(ino, fi, &owned);

	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_attr(req, &st, pt.conf.timeout);
	if (owned)
		close(fd);
}

static int do_setattr(int pfd, int ffd, struct stat *attr, int valid)
{
	struct timespec tv[2];
	char path[32];

	proc_path(path, pfd);
	if (valid & FUSE_SET_ATTR_MODE) {
		if ((ffd >= 0 ? fchmod(ffd, attr->st_mode) :
				fchmodat(AT_FDCWD, path, attr->st_mode, 0)) < 0)
			return -errno;
	}
	if (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		uid_t uid = (valid & FUSE_SET_ATTR_UID) ? attr->st_uid :
							   (uid_t)-1;
		gid_t gid = (valid & FUSE_SET_ATTR_GID) ? attr->st_gid :
							   (gid_t)-1;

		if (fchownat(pfd, "", uid, gid,
			     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
	}
	if (valid & FUSE_SET_ATTR_SIZE) {
		if ((ffd >= 0 ? ftruncate(ffd, attr->st_size) :
				truncate(path, attr->st_size)) < 0)
			return -errno;
	}
	if (valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) {
		tv[0].tv_sec = 0;
		tv[0].tv_nsec = UTIME_OMIT;
		tv[1] = tv[0];
		if (valid & FUSE_SET_ATTR_ATIME_NOW)
			tv[0].tv_nsec = UTIME_NOW;
		else if (valid & FUSE_SET_ATTR_ATIME)
			tv[0] = attr->st_atim;
		if (valid & FUSE_SET_ATTR_MTIME_NOW)
			tv[1].tv_nsec = UTIME_NOW;
		else if (valid & FUSE_SET_ATTR_MTIME)
			tv[1] = attr->st_mtim;
		if ((ffd >= 0 ? futimens(ffd, tv) :
				utimensat(AT_FDCWD, path, tv, 0)) < 0)
			return -errno;
	}
	return 0;
}

/*
 * The kill the kernel leaves to us (fuse_recover_req_kill_suidgid()):
 * S_ISUID, and S_ISGID with S_IXGRP, as the VFS clears them after a write
 * or truncate by a caller without CAP_FSETID.  As root: the caller may not
 * own the file.  Idempotent, so a resent request may do it again.  Through
 * @ffd if open, else node fd @pfd (O_PATH).  1 if it cleared a bit.
 */
static int kill_suidgid(int pfd, int ffd)
{
	struct stat st;
	mode_t keep;
	int err;

	if ((ffd >= 0 ? fstat(ffd, &st) :
			fstatat(pfd, "", &st, AT_EMPTY_PATH |
				AT_SYMLINK_NOFOLLOW)) < 0)
		return -errno;
	keep = st.st_mode & 07777 & ~S_ISUID;
	if ((keep & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
		keep &= ~S_ISGID;
	if (!S_ISREG(st.st_mode) || keep == (st.st_mode & 07777))
		return 0;
	st.st_mode = keep;
	err = do_setattr(pfd, ffd, &st, FUSE_SET_ATTR_MODE);
	return err < 0 ? err : 1;
}

static void pt_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int valid, struct fuse_file_info *fi)
{
	struct pt_creds c;
	struct stat st;
	int pfd, ffd = -1, err;

	pfd = node_fd(ino);
	if (pfd < 0) {
		fuse_reply_err(req, -pfd);
		return;
	}
	if (fi) {
		ffd = fh_fd(fi->fh);
		if (ffd < 0)
			ffd = -1;
	}
	/*
	 * The kernel clears set-id bits after a write or chown by someone
	 * else through SETATTR in the writer's name; that user could not
	 * chmod the file, but dropping the bits is always allowed.
	 */
	if ((valid & FUSE_SET_ATTR_MODE) &&
	    fstatat(pfd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0 &&
	    (st.st_mode & 07777 & ~attr->st_mode) &&
	    !((st.st_mode ^ attr->st_mode) & 07777 &
	      ~(S_ISUID | S_ISGID))) {
		err = do_setattr(pfd, ffd, attr, FUSE_SET_ATTR_MODE);
		if (err) {
			close(pfd);
			fuse_reply_err(req, -err);
			return;
		}
		valid &= ~FUSE_SET_ATTR_MODE;
	}
	creds_push(req, &c);
	err = do_setattr(pfd, ffd, attr, valid);
	creds_pop(&c);
	/* After the truncate or chown: a refused one kills nothing. */
	if (!err && fuse_recover_req_kill_suidgid(req) == 1) {
		err = kill_suidgid(pfd, ffd);
		if (err > 0)
			err = 0;
	}
	if (!err && fstatat(pfd, "", &st, AT_EMPTY_PATH |
			    AT_SYMLINK_NOFOLLOW) < 0)
		err = -errno;
	close(pfd);
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_attr(req, &st, pt.conf.timeout);
}

static void pt_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[PATH_MAX + 1];
	int fd = node_fd(ino);
	ssize_t n;

	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	n = readlinkat(fd, "", buf, sizeof(buf));
	if (n < 0) {
		fuse_reply_err(req, errno);
	} else if (n >= (ssize_t)sizeof(buf)) {
		fuse_reply_err(req, ENAMETOOLONG);
	} else {
		buf[n] = '\0';
		fuse_reply_readlink(req, buf);
	}
	close(fd);
}

/*
 * MKNOD, MKDIR, SYMLINK and LINK: run @op as the caller in the parent,
 * then reply with the new entry.  The journal is marked right after the
 * syscall, so a resent request whose first attempt made the object
 * succeeds on finding it (fuse_recover_replay_created()); one whose first
 * attempt did not gets EEXIST like any other caller.
 */
enum mk_kind { MK_NOD, MK_DIR, MK_SYMLINK, MK_LINK };

static void make_node(fuse_req_t req, const char *opname, enum mk_kind kind,
		      fuse_ino_t parent, const char *name, mode_t mode,
		      dev_t rdev, const char *target, fuse_ino_t src)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct fuse_entry_param e;
	struct pt_ident sid;
	struct pt_creds c;
	char path[32];
	int pfd, sfd = -1, err = 0, r;

	pfd = node_fd(parent);
	if (pfd < 0) {
		err = pfd;
		goto out;
	}
	if (kind == MK_LINK) {
		sfd = node_fd(src);
		err = sfd < 0 ? sfd : fuse_recover_node_data(pt.st, src, &sid);
		if (err)
			goto out_close;
		proc_path(path, sfd);
	}
	pt_hook_crash(PT_BEFORE, opname, name);
	creds_push(req, &c);
	fuse_recover_req_mark_started(pt.st);
	switch (kind) {
	case MK_NOD:
		r = mknodat(pfd, name, mode, rdev);
		break;
	case MK_DIR:
		r = mkdirat(pfd, name, mode);
		break;
	case MK_SYMLINK:
		r = symlinkat(target, pfd, name);
		break;
	default:
		r = linkat(AT_FDCWD, path, pfd, name, AT_SYMLINK_FOLLOW);
		break;
	}
	/* Marked before anything else: a kill in between is the window. */
	err = r < 0 ? -errno : 0;
	if (!err)
		fuse_recover_req_mark_done(pt.st);
	creds_pop(&c);
	if (err) {
		struct stat st;

		if (kind == MK_LINK && fstatat(sfd, "", &st, AT_EMPTY_PATH |
					       AT_SYMLINK_NOFOLLOW) == 0)
			mode = st.st_mode;
		if (fuse_recover_replay_created(req, -err, pfd, name,
				kind == MK_DIR ? (S_IFDIR | mode) :
				kind == MK_SYMLINK ? (S_IFLNK | 0777) : mode,
				ctx->uid, kind == MK_SYMLINK ? target : NULL,
				kind == MK_LINK ? sid.ino : 0) == 1)
			err = 0;
	}
	if (!err)
		err = lookup_at(pfd, name, &e);
	if (!err)
		pt_hook_crash(PT_AFTER, opname, name);
out_close:
	if (sfd >= 0)
		close(sfd);
	close(pfd);
out:
	reply_entry_or_err(req, err, &e);
}

static void pt_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	make_node(req, "mknod", MK_NOD, parent, name, mode, rdev, NULL, 0);
}

static void pt_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	make_node(req, "mkdir", MK_DIR, parent, name, mode, 0, NULL, 0);
}

static void pt_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	make_node(req, "symlink", MK_SYMLINK, parent, name, 0, 0, link, 0);
}

static void pt_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent,
		    const char *name)
{
	make_node(req, "link", MK_LINK, parent, name, 0, 0, NULL, ino);
}

/*
 * Before a name disappears (unlink, rmdir, rename over it): if it is the
 * last name of a node with open handles, keep an O_PATH fd to it so the
 * open files can still be reopened after a restart.
 */
static void pin_victim(int dirfd, const char *name)
{
	struct pt_ident id;
	fuse_ino_t ino;
	uint32_t opens = 0;
	struct stat st;
	int fd, mnt, err;

	fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(st.st_mode) || st.st_nlink > 1 ||
	    ident_of(fd, &id, &mnt) < 0 ||
	    fuse_recover_node_find(pt.st, id.ino, &id, &ino) < 0 ||
	    fuse_recover_node_counts(pt.st, ino, NULL, &opens) < 0 ||
	    opens == 0) {
		close(fd);
		return;
	}
	/*
	 * We pin the file ourselves in any case: if the supervisor cannot keep
	 * the file too (-ENOSPC: it keeps enough already; the library said
	 * so), the file lives at least as long as we do.
	 */
	err = fuse_recover_keep_file(fd, ino);
	if (err && err != -ENOTCONN && err != -ENOSPC)
		fprintf(stderr,
			"passthrough_hp: supervisor did not keep unlinked open file: %s\n",
			strerror(-err));
	pin_add(ino, fd);
}

/*
 * UNLINK and RMDIR.  A resent request whose first attempt removed the name
 * (journal marked right after the syscall) is not run again: the name may
 * be someone else's new file by now.  Otherwise it runs as any request; only
 * if the first attempt died inside the syscall does ENOENT mean "done".
 */
static void pt_unlink_common(fuse_req_t req, fuse_ino_t parent,
			     const char *name, bool dir)
{
	const char *opname = dir ? "rmdir" : "unlink";
	struct pt_creds c;
	int pfd, r, err = 0;

	pt_hook_crash(PT_BEFORE, opname, name);
	if (fuse_recover_req_done(pt.st))
		goto out;
	pfd = node_fd(parent);
	if (pfd < 0) {
		err = -pfd;
		goto out;
	}
	if (!dir)
		pin_victim(pfd, name);
	creds_push(req, &c);
	fuse_recover_req_mark_started(pt.st);
	r = unlinkat(pfd, name, dir ? AT_REMOVEDIR : 0);
	err = r < 0 ? errno : 0;
	if (!err)
		fuse_recover_req_mark_done(pt.st);
	creds_pop(&c);
	close(pfd);
	/* Killed inside the syscall the first time: the tree tells. */
	if (err && fuse_recover_replay_removed(req, err) == 1)
		err = 0;
	if (!err)
		pt_hook_crash(PT_AFTER, opname, name);
out:
	fuse_reply_err(req, err);
}

static void pt_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	pt_unlink_common(req, parent, name, false);
}

static void pt_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	pt_unlink_common(req, parent, name, true);
}

static void pt_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	struct pt_creds c;
	int pfd, npfd, r, err = 0;

	pfd = node_fd(parent);
	npfd = pfd < 0 ? -1 : node_fd(newparent);
	if (pfd < 0 || npfd < 0) {
		err = pfd < 0 ? -pfd : -npfd;
		goto out;
	}
	pt_hook_crash(PT_BEFORE, "rename", name);
	/* Done by the first attempt: doing it again would undo or clobber. */
	if (fuse_recover_req_done(pt.st))
		goto out;
	if (!(flags & RENAME_EXCHANGE))
		pin_victim(npfd, newname);
	creds_push(req, &c);
	fuse_recover_req_mark_started(pt.st);
	r = renameat2(pfd, name, npfd, newname, flags);
	err = r < 0 ? errno : 0;
	if (!err)
		fuse_recover_req_mark_done(pt.st);
	creds_pop(&c);
	if (err && !(flags & RENAME_EXCHANGE) &&
	    fuse_recover_replay_renamed(req, err, npfd, newname) == 1)
		err = 0;
	if (!err)
		pt_hook_crash(PT_AFTER, "rename", name);
out:
	if (pfd >= 0)
		close(pfd);
	if (npfd >= 0)
		close(npfd);
	fuse_reply_err(req, err);
}

/* Installs @fd as a new fh of @ino; a resent request gets its old fh. */
static int new_handle(fuse_ino_t ino, int fd, int flags,
		      struct fuse_file_info *fi)
{
	uint64_t fh;
	int err = fuse_recover_fh_new(pt.st, ino, flags, &fh);

	if (err < 0) {
		close(fd);
		return err;
	}
	fd_install(ino, fh, fd);
	fi->fh = fh;
	return 0;
}

static void drop_handle(uint64_t fh)
{
	fuse_ino_t ino;
	int left;

	if (fuse_recover_fh_get(pt.st, fh, &ino, NULL) < 0)
		return;
	fd_forget(fh);
	left = fuse_recover_fh_release(pt.st, fh);
	pt_debug("release fh %llx of node %llx: %d open",
		 (unsigned long long)fh, (unsigned long long)ino, left);
	if (left == 0 && (pt.npins || pt.recovered))
		pin_drop(ino);
}

/*
 * Reads, writes and mmap of this open go to the backing file directly.
 * Call with our own credentials: the kernel keeps them with the backing
 * file.  Once an inode is open in passthrough mode every open of it must
 * be, so a failure here is only logged (and is the same for every open:
 * not negotiated, or a stacked backing filesystem).
 */
static bool use_passthrough(fuse_req_t req, fuse_ino_t ino, int fd)
{
	int id;

	if (!pt.passthrough)
		return false;
	id = fuse_recover_passthrough_open(req, pt.st, ino, fd);
	if (id >= 0)
		return true;
	if (id == -EOPNOTSUPP)
		pt.passthrough = false;	/* not negotiated: no open uses it */
	if (!__atomic_exchange_n(&pt.pt_logged, true, __ATOMIC_RELAXED))
		fprintf(stderr,
			"passthrough_hp: no kernel passthrough, reads and writes go through the server: %s\n",
			strerror(-id));
	return false;
}

static bool same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

static bool seen_same(const struct pt_seen *s, fuse_ino_t ino,
		      const struct stat *st)
{
	return s->ino == ino && s->backing_ino == st->st_ino &&
	       s->size == st->st_size && same_time(&s->mtime, &st->st_mtim) &&
	       same_time(&s->ctime, &st->st_ctim);
}

static void seen_set(struct pt_seen *s, fuse_ino_t ino, const struct stat *st)
{
	*s = (struct pt_seen){ .ino = ino, .backing_ino = st->st_ino,
			       .size = st->st_size, .mtime = st->st_mtim,
			       .ctime = st->st_ctim };
}

/*
 * Without keep_cache every open drops the kernel's page cache of the file
 * (readers of a file opened by several jobs re-read it from us again and
 * again); with it always, changes made to SOURCE behind our back would stay
 * invisible.  So keep it when the backing file has the size, mtime and
 * ctime the previous open of the node saw (libfuse's auto_cache does the
 * same for high-level servers).  A slot lost to another node or to a
 * restart costs one re-read, never stale data.  --timeout=0 (no caching)
 * turns it off.
 */
static bool unchanged_since_last_open(fuse_ino_t ino, int fd)
{
	struct pt_seen *s = &pt.seen[ino % PT_SEEN_SLOTS];
	struct stat st;
	bool same;

	if (pt.conf.timeout <= 0 || fstat(fd, &st) < 0)
		return false;
	pthread_mutex_lock(&pt.seen_lock);
	same = seen_same(s, ino, &st);
	seen_set(s, ino, &st);
	pthread_mutex_unlock(&pt.seen_lock);
	return same;
}

/*
 * A file we just created: the kernel caches nothing of it yet, so what it
 * will cache from here on is this state plus our own writes.
 */
static void seen_created(fuse_ino_t ino, int fd)
{
	struct stat st;

	if (pt.conf.timeout <= 0 || fstat(fd, &st) < 0)
		return;
	pthread_mutex_lock(&pt.seen_lock);
	seen_set(&pt.seen[ino % PT_SEEN_SLOTS], ino, &st);
	pthread_mutex_unlock(&pt.seen_lock);
}

/*
 * Around a buffered WRITE: the kernel put those bytes in its page cache
 * before sending them, so once they are in the backing file the cache
 * matches the file's new size and times.  Record that, so that the next
 * open keeps the cache (a file read right after it was written is not read
 * from us again), but only if the file was as recorded just before the
 * write: a change behind our back before it must still drop the cache.
 * @before is filled by the first call (@after false) and checked by the
 * second.
 */
static bool seen_write(fuse_ino_t ino, int fd, bool after,
		       struct stat *before)
{
	struct pt_seen *s = &pt.seen[ino % PT_SEEN_SLOTS];
	struct stat st;
	bool ok;

	if (pt.conf.timeout <= 0 || fstat(fd, after ? &st : before) < 0)
		return false;
	pthread_mutex_lock(&pt.seen_lock);
	ok = seen_same(s, ino, before);
	if (ok && after)
		seen_set(s, ino, &st);
	pthread_mutex_unlock(&pt.seen_lock);
	return ok;
}

static void pt_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pt_creds c;
	char path[32];
	int pfd, fd, err;

	pfd = node_fd(ino);
	if (pfd < 0) {
		fuse_reply_err(req, -pfd);
		return;
	}
	proc_path(path, pfd);
	creds_push(req, &c);
	fd = open(path, (fi->flags & ~(O_CREAT | O_EXCL | O_NOCTTY |
				       O_APPEND)) | O_CLOEXEC);
	err = fd < 0 ? -errno : 0;
	creds_pop(&c);
	close(pfd);
	/*
	 * O_TRUNC by a caller without CAP_FSETID (the backing filesystem may
	 * have cleared the bits already, for a caller we act as).  The kernel
	 * drops only the size and times it cached
	 * (fuse_truncate_update_attr()): its mode would show the bits until
	 * the attribute timeout.
	 */
	if (!err && fuse_recover_req_kill_suidgid(req) == 1) {
		err = kill_suidgid(-1, fd);
		if (err < 0) {
			close(fd);
		} else {
			fuse_lowlevel_notify_inval_inode(pt.se, ino, -1, 0);
			err = 0;
		}
	}
	if (!err)
		err = new_handle(ino, fd, fi->flags, fi);
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	if (!use_passthrough(req, ino, fd))
		fi->keep_cache = unchanged_since_last_open(ino, fd);
	pt_hook_crash(PT_AFTER, "open", NULL);
	if (fuse_reply_open(req, fi) != 0)
		drop_handle(fi->fh);
}

static void pt_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct fuse_entry_param e;
	struct pt_creds c;
	struct stat st;
	int pfd, fd, err = 0, flags;
	bool kill;

	pfd = node_fd(parent);
	if (pfd < 0) {
		fuse_reply_err(req, -pfd);
		return;
	}
	flags = (fi->flags & ~(O_NOCTTY | O_APPEND)) | O_CREAT | O_CLOEXEC;
	/* O_TRUNC of a file that exists; a new one keeps its mode. */
	kill = fuse_recover_req_kill_suidgid(req) == 1 &&
	       fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
	pt_hook_crash(PT_BEFORE, "create", name);
	creds_push(req, &c);
	fuse_recover_req_mark_started(pt.st);
	fd = openat(pfd, name, flags, mode);
	if (fd >= 0)
		fuse_recover_req_mark_done(pt.st);
	else if (errno == EEXIST &&
	    fuse_recover_replay_created(req, EEXIST, pfd, name, S_IFREG | mode,
					ctx->uid, NULL, 0) == 1)
		fd = openat(pfd, name, flags & ~(O_CREAT | O_EXCL | O_TRUNC));
	err = fd < 0 ? -errno : 0;
	if (!err)
		err = lookup_at(pfd, name, &e);
	creds_pop(&c);
	/* The reply carries the mode (no invalidation needed). */
	if (!err && kill && kill_suidgid(-1, fd) >= 0 && fstat(fd, &e.attr) < 0)
		err = -errno;
	close(pfd);
	if (err) {
		if (fd >= 0)
			close(fd);
		fuse_reply_err(req, -err);
		return;
	}
	err = new_handle(e.ino, fd, fi->flags, fi);
	if (err) {
		fuse_recover_node_unref(pt.st, e.ino);
		fuse_reply_err(req, -err);
		return;
	}
	if (!use_passthrough(req, e.ino, fd))
		seen_created(e.ino, fd);
	pt_hook_crash(PT_AFTER, "create", name);
	if (fuse_reply_create(req, &e, fi) != 0) {
		drop_handle(fi->fh);
		fuse_recover_node_unref(pt.st, e.ino);
	}
}

static void pt_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	(void)ino;
	drop_handle(fi->fh);
	fuse_reply_err(req, 0);
}

static void pt_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int fd = fh_fd(fi->fh);

	(void)ino;
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	/* close() of a dup: what close() would report, without closing. */
	fd = dup(fd);
	fuse_reply_err(req, fd < 0 || close(fd) < 0 ? errno : 0);
}

static void pt_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	int fd = fh_fd(fi->fh);

	(void)ino;
	if (fd < 0)
		fuse_reply_err(req, -fd);
	else if ((datasync ? fdatasync(fd) : fsync(fd)) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_err(req, 0);
}

static bool is_direct(uint64_t fh)
{
	uint32_t flags = 0;

	fuse_recover_fh_get(pt.st, fh, NULL, &flags);
	return flags & O_DIRECT;
}

/*
 * One read buffer per loop thread, grown to the largest READ seen: an
 * aligned allocation per request costs more than the 4 KiB pread itself.
 */
struct pt_rbuf {
	void *mem;
	size_t size;
};

static void rbuf_free(void *p)
{
	struct pt_rbuf *b = p;

	free(b->mem);
	free(b);
}

static void *read_buffer(size_t size)
{
	struct pt_rbuf *b = pthread_getspecific(pt.rbuf_key);
	void *mem;

	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b || pthread_setspecific(pt.rbuf_key, b)) {
			free(b);
			return NULL;
		}
	}
	if (b->size < size) {
		/* Aligned so that O_DIRECT reads work too. */
		if (posix_memalign(&mem, PT_ALIGN, size))
			return NULL;
		free(b->mem);
		b->mem = mem;
		b->size = size;
	}
	return b->mem;
}

static void pt_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	int fd = fh_fd(fi->fh);
	void *buf;
	ssize_t n;

	(void)ino;
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	buf = read_buffer(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = pread(fd, buf, size, off);
	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_buf(req, buf, n);
}

static void pt_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	int fd = fh_fd(fi->fh);
	void *bounce = NULL;
	size_t done = 0;
	struct stat before;
	bool direct, track;
	ssize_t n;

	if (fd < 0) {
		pt_debug("write fh %llx: no fd: %s (resent %d)",
			 (unsigned long long)fi->fh, strerror(-fd),
			 fuse_recover_req_is_resend(req));
		fuse_reply_err(req, -fd);
		return;
	}
	/* libfuse's buffer follows the request header: not aligned. */
	direct = is_direct(fi->fh);
	if (direct && ((uintptr_t)buf % PT_ALIGN)) {
		if (posix_memalign(&bounce, PT_ALIGN, size ? size : 1)) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		memcpy(bounce, buf, size);
		buf = bounce;
	}
	/* A writer without CAP_FSETID; before the write, like the VFS. */
	if (fuse_recover_req_kill_suidgid(req) == 1) {
		int err = kill_suidgid(-1, fd);

		if (err < 0) {
			fuse_reply_err(req, -err);
			free(bounce);
			return;
		}
	}
	/* O_DIRECT writes bypass the kernel's page cache: not ours to track. */
	track = !direct && seen_write(ino, fd, false, &before);
	while (done < size) {
		n = pwrite(fd, buf + done, size - done, off + done);
		if (n <= 0)
			break;
		done += n;
	}
	if (done == 0 && size) {
		pt_debug("write fh %llx fd %d: %s (resent %d)",
			 (unsigned long long)fi->fh, fd, strerror(errno),
			 fuse_recover_req_is_resend(req));
		fuse_reply_err(req, errno ? errno : EIO);
	} else {
		if (track && done == size)
			seen_write(ino, fd, true, &before);
		fuse_reply_write(req, done);
	}
	free(bounce);
}

static void pt_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			 off_t offset, off_t length, struct fuse_file_info *fi)
{
	int fd = fh_fd(fi->fh);

	(void)ino;
	if (fd < 0)
		fuse_reply_err(req, -fd);
	else
		fuse_reply_err(req, fallocate(fd, mode, offset, length) < 0 ?
					    errno : 0);
}

static void pt_copy_file_range(fuse_req_t req, fuse_ino_t ino_in,
			       off_t off_in, struct fuse_file_info *fi_in,
			       fuse_ino_t ino_out, off_t off_out,
			       struct fuse_file_info *fi_out, size_t len,
			       int flags)
{
	int in = fh_fd(fi_in->fh), out = fh_fd(fi_out->fh);
	loff_t oi = off_in, oo = off_out;
	ssize_t n;

	(void)ino_in;
	(void)ino_out;
	if (in < 0 || out < 0) {
		fuse_reply_err(req, in < 0 ? -in : -out);
		return;
	}
	n = copy_file_range(in, &oi, out, &oo, len, flags);
	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_write(req, n);
}

static void pt_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	int fd = fh_fd(fi->fh);
	off_t r;

	(void)ino;
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	r = lseek(fd, off, whence);
	if (r < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_lseek(req, r);
}

static void pt_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct pt_creds c;
	char path[32];
	int pfd, fd, err;

	pfd = node_fd(ino);
	if (pfd < 0) {
		fuse_reply_err(req, -pfd);
		return;
	}
	proc_path(path, pfd);
	creds_push(req, &c);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	err = fd < 0 ? -errno : 0;
	creds_pop(&c);
	close(pfd);
	if (!err)
		err = new_handle(ino, fd, O_RDONLY | O_DIRECTORY, fi);
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	if (fuse_reply_open(req, fi) != 0)
		drop_handle(fi->fh);
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/*
 * Stateless on purpose: every call seeks to the kernel's offset, so the
 * fd reopened after a restart continues where the old one stopped.
 */
static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t off, struct fuse_file_info *fi, bool plus)
{
	char dbuf[16384], *buf;
	struct pt_creds c;
	size_t used = 0;
	bool full = false;
	int fd, err = 0;

	(void)ino;
	fd = fh_fd(fi->fh);
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	buf = malloc(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	creds_push(req, &c);
	if (lseek(fd, off, SEEK_SET) < 0)
		err = errno;
	while (!err && !full) {
		long n = syscall(SYS_getdents64, fd, dbuf, sizeof(dbuf));
		long pos = 0;

		if (n < 0)
			err = errno;
		if (n <= 0)
			break;
		while (pos < n) {
			struct linux_dirent64 *d = (void *)(dbuf + pos);
			struct fuse_entry_param e;
			size_t need;

			pos += d->d_reclen;
			if (!plus) {
				struct stat st = { .st_ino = d->d_ino,
						   .st_mode = d->d_type << 12 };

				need = fuse_add_direntry(req, buf + used,
							 size - used, d->d_name,
							 &st, d->d_off);
				if (need > size - used) {
					full = true;
					break;
				}
				used += need;
				continue;
			}
			need = fuse_add_direntry_plus(req, NULL, 0, d->d_name,
						      NULL, 0);
			if (need > size - used) {
				full = true;
				break;
			}
			memset(&e, 0, sizeof(e));
			e.attr.st_ino = d->d_ino;
			e.attr.st_mode = d->d_type << 12;
			if (strcmp(d->d_name, ".") && strcmp(d->d_name, "..")) {
				int r = lookup_at(fd, d->d_name, &e);

				if (r == -ENOSPC) {
					full = true;
					break;
				}
				if (r < 0) {
					/* Name only, no attributes. */
					memset(&e, 0, sizeof(e));
					e.attr.st_ino = d->d_ino;
					e.attr.st_mode = d->d_type << 12;
				}
			}
			used += fuse_add_direntry_plus(req, buf + used,
						       size - used, d->d_name,
						       &e, d->d_off);
		}
		if (full)
			break;
		if (lseek(fd, 0, SEEK_CUR) < 0)
			err = errno;
	}
	creds_pop(&c);
	if (err && used == 0)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

static void pt_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

static void pt_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

static void pt_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	(void)ino;
	drop_handle(fi->fh);
	fuse_reply_err(req, 0);
}

static void pt_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	pt_fsync(req, ino, datasync, fi);
}

static void pt_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	(void)ino;
	if (fstatvfs(pt.root_fd, &sv) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_statfs(req, &sv);
}

static bool same_xattr(const char *path, const char *name, const char *value,
		       size_t size)
{
	char *buf = malloc(size + 1);
	ssize_t n;
	bool same;

	if (!buf)
		return false;
	n = getxattr(path, name, buf, size + 1);
	same = n == (ssize_t)size && memcmp(buf, value, size) == 0;
	free(buf);
	return same;
}

/*
 * SETXATTR and REMOVEXATTR: the kernel caches no xattrs, so these reach us
 * whatever the attribute's state and "already done?" cannot be read from
 * the file.  Only the journal can say the first attempt did it; if that
 * attempt died inside its syscall, what the attribute looks like decides.
 * They go through the /proc path: O_PATH fds refuse f*xattr().
 */
static void pt_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	struct pt_creds c;
	char path[32];
	int fd, err = 0;

	pt_hook_crash(PT_BEFORE, "setxattr", name);
	if (fuse_recover_req_done(pt.st))
		goto out;
	fd = node_fd(ino);
	if (fd < 0) {
		err = -fd;
		goto out;
	}
	proc_path(path, fd);
	creds_push(req, &c);
	fuse_recover_req_mark_started(pt.st);
	err = setxattr(path, name, value, size, flags) < 0 ? errno : 0;
	if (!err)
		fuse_recover_req_mark_done(pt.st);
	creds_pop(&c);
	/* Killed inside the syscall the first time: our value tells. */
	if (err == EEXIST && (flags & XATTR_CREATE) &&
	    fuse_recover_req_maybe_done(pt.st) &&
	    same_xattr(path, name, value, size))
		err = 0;
	close(fd);
	if (!err)
		pt_hook_crash(PT_AFTER, "setxattr", name);
out:
	fuse_reply_err(req, err);
}

/*
 * The kernel asks for security.capability before every write to a file it
 * has not marked S_NOSEC (FUSE never does: that needs
 * FUSE_HANDLE_KILLPRIV_V2), kernel passthrough writes included.  The file
 * is open then: read it from that fd, without open_by_handle_at() and
 * without taking the caller's ids (the VFS checks no permission for
 * reading security.*; the capability is translated for our user namespace
 * either way, fsuid does not enter into it).  Returns -errno.
 */
static ssize_t node_getxattr(fuse_req_t req, fuse_ino_t ino,
			     const char *name, void *buf, size_t size)
{
	struct pt_creds c;
	char path[32];
	ssize_t n;
	int fd = -1;

	if (!strcmp(name, "security.capability"))
		fd = node_open_fd(ino);
	if (fd >= 0) {
		n = fgetxattr(fd, name, buf, size);
	} else {
		fd = node_fd(ino);
		if (fd < 0)
			return fd;
		proc_path(path, fd);
		creds_push(req, &c);
		n = getxattr(path, name, buf, size);
		creds_pop(&c);
	}
	if (n < 0)
		n = -errno;
	close(fd);
	return n;
}

static void pt_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	char *buf = NULL;
	ssize_t n;

	if (pt_hook_getxattr(req, pt.st, ino, name, size))
		return;
	if (size && !(buf = malloc(size))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = node_getxattr(req, ino, name, buf, size);
	if (n < 0)
		fuse_reply_err(req, -n);
	else if (!size)
		fuse_reply_xattr(req, n);
	else
		fuse_reply_buf(req, buf, n);
	free(buf);
}

static void pt_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct pt_creds c;
	char path[32], *buf = NULL;
	int fd = node_fd(ino);
	ssize_t n;

	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	if (size && !(buf = malloc(size))) {
		close(fd);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	proc_path(path, fd);
	creds_push(req, &c);
	n = listxattr(path, buf, size);
	creds_pop(&c);
	close(fd);
	if (n < 0)
		fuse_reply_err(req, errno);
	else if (!size)
		fuse_reply_xattr(req, n);
	else
		fuse_reply_buf(req, buf, n);
	free(buf);
}

static void pt_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct pt_creds c;
	char path[32];
	int fd, err = 0;

	pt_hook_crash(PT_BEFORE, "removexattr", name);
	if (fuse_recover_req_done(pt.st))
		goto out;
	fd = node_fd(ino);
	if (fd < 0) {
		err = -fd;
		goto out;
	}
	proc_path(path, fd);
	creds_push(req, &c);
	fuse_recover_req_mark_started(pt.st);
	err = removexattr(path, name) < 0 ? errno : 0;
	if (!err)
		fuse_recover_req_mark_done(pt.st);
	creds_pop(&c);
	if (err == ENODATA && fuse_recover_req_maybe_done(pt.st))
		err = 0;
	close(fd);
	if (!err)
		pt_hook_crash(PT_AFTER, "removexattr", name);
out:
	fuse_reply_err(req, err);
}

static struct fuse_lowlevel_ops pt_ops = {
	.init = pt_init,
	.destroy = pt_destroy,
	.lookup = pt_lookup,
	.forget = pt_forget,
	.forget_multi = pt_forget_multi,
	.getattr = pt_getattr,
	.setattr = pt_setattr,
	.readlink = pt_readlink,
	.mknod = pt_mknod,
	.mkdir = pt_mkdir,
	.symlink = pt_symlink,
	.link = pt_link,
	.unlink = pt_unlink,
	.rmdir = pt_rmdir,
	.rename = pt_rename,
	.open = pt_open,
	.create = pt_create,
	.release = pt_release,
	.flush = pt_flush,
	.fsync = pt_fsync,
	.read = pt_read,
	.write = pt_write,
	.fallocate = pt_fallocate,
	.copy_file_range = pt_copy_file_range,
	.lseek = pt_lseek,
	.opendir = pt_opendir,
	.readdir = pt_readdir,
	.readdirplus = pt_readdirplus,
	.releasedir = pt_releasedir,
	.fsyncdir = pt_fsyncdir,
	.statfs = pt_statfs,
	.setxattr = pt_setxattr,
	.getxattr = pt_getxattr,
	.listxattr = pt_listxattr,
	.removexattr = pt_removexattr,
};

/* ---- setup ---- */

#define PT_OPT(t, p, v) { t, offsetof(struct pt_conf, p), v }
#define PT_KEY_ALLOW_OTHER 1
static const struct fuse_opt pt_opts[] = {
	PT_OPT("--timeout=%lf", timeout, 0),
	PT_OPT("--norecover", norecover, 1),
	PT_OPT("norecover", norecover, 1),
	PT_OPT("--noxattr", noxattr, 1),
	PT_OPT("--noreaddirplus", noreaddirplus, 1),
	PT_OPT("--no-default-permissions", nodefperm, 1),
	PT_OPT("--nopassthrough", nopassthrough, 1),
	PT_OPT("nopassthrough", nopassthrough, 1),
	PT_OPT("--nokillpriv", nokillpriv, 1),
	FUSE_OPT_KEY("allow_other", PT_KEY_ALLOW_OTHER),
	FUSE_OPT_END
};

static int opt_proc(void *data, const char *arg, int key,
		    struct fuse_args *outargs)
{
	struct pt_conf *conf = data;

	(void)outargs;
	if (key == PT_KEY_ALLOW_OTHER) {
		conf->allow_other = 1;
		return 1;	/* for fuse_session_new() too */
	}
	if (key == FUSE_OPT_KEY_NONOPT && !conf->source) {
		conf->source = strdup(arg);
		return 0;
	}
	return 1;
}

static void usage(const char *prog)
{
	printf("usage: %s [options] SOURCE MOUNTPOINT\n\n"
	       "    -o tag=NAME         restartable: run the same command again after a crash\n"
	       "    --norecover         no recovery even with tag= (benchmarks)\n"
	       "    --timeout=SEC       entry and attribute timeout (default 1; 0: no page cache kept across opens)\n"
	       "    --noxattr           no extended attributes\n"
	       "    --noreaddirplus     no READDIRPLUS\n"
	       "    --no-default-permissions  leave all permission checks to SOURCE\n"
	       "    -o nopassthrough    no kernel passthrough (default: on where possible)\n"
	       "    --nokillpriv        kernel checks security.capability before every write\n\n",
	       prog);
	fuse_cmdline_help();
	fuse_lowlevel_help();
}

/*
 * Nodes are reopened from their file handles, which open_by_handle_at()
 * allows only with CAP_DAC_READ_SEARCH: without it the mount would serve
 * its root directory and fail everything below with EPERM.  Say so at
 * start instead.
 */
static int handles_usable(void)
{
	int fd = open_ident(&pt.root_id);

	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

static int setup(void)
{
	struct rlimit rl;
	int err;

	pt_hooks_init();
	umask(0);
	pt.switch_creds = may_switch_creds();
	pt.ngroups = getgroups(PT_MAX_GROUPS, pt.groups);
	if (pt.ngroups < 0)
		pt.ngroups = 0;
	/* One fd per open file (not per inode): raise the limit anyway. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	pt.root_fd = open(pt.conf.source, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (pt.root_fd < 0) {
		fprintf(stderr, "passthrough_hp: %s: %s\n", pt.conf.source,
			strerror(errno));
		return -1;
	}
	pt.mount_fd = open(pt.conf.source, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pt.mount_fd < 0) {
		fprintf(stderr, "passthrough_hp: %s: %s\n", pt.conf.source,
			strerror(errno));
		return -1;
	}
	err = ident_of(pt.root_fd, &pt.root_id, &pt.root_mnt);
	if (err) {
		fprintf(stderr,
			"passthrough_hp: %s has no file handles (%s): not supported\n",
			pt.conf.source, strerror(-err));
		return -1;
	}
	err = handles_usable();
	if (err < 0) {
		fprintf(stderr,
			"passthrough_hp: cannot open %s by file handle (%s): every node but the root would fail; run as root or with CAP_DAC_READ_SEARCH\n",
			pt.conf.source, strerror(-err));
		return -1;
	}
	if (pthread_key_create(&pt.rbuf_key, rbuf_free)) {
		fprintf(stderr, "passthrough_hp: no thread key\n");
		return -1;
	}
	pt.fds = mmap(NULL, PT_MAX_HANDLES * sizeof(*pt.fds),
		      PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (pt.fds == MAP_FAILED) {
		perror("passthrough_hp: mmap");
		return -1;
	}
	return 0;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts opts = { 0 };
	struct fuse_loop_config *config;
	struct fuse_recover *fr = NULL;
	int ret = 1, res;

	pt.conf.timeout = 1.0;
	if (fuse_opt_parse(&args, &pt.conf, pt_opts, opt_proc) != 0)
		return 1;
	if (fuse_recover_new(&args, &fr) < 0)
		goto out;
	if (pt.conf.norecover)
		fuse_recover_set_tag(fr, NULL);
	/* The library logs why when it cannot (no root, old kernel). */
	if (!pt.conf.nopassthrough && fuse_recover_tag(fr)) {
		pt.passthrough = true;
		fuse_recover_set_passthrough(fr, 1);
	} else if (!pt.conf.nopassthrough) {
		fprintf(stderr,
			"passthrough_hp: no kernel passthrough without recovery (tag=)\n");
	}
	if (!pt.conf.nokillpriv)
		fuse_recover_set_killpriv(fr, 1);
	if (fuse_parse_cmdline(&args, &opts) != 0)
		goto out;
	if (opts.show_help || !opts.mountpoint || !pt.conf.source) {
		usage(argv[0]);
		ret = !opts.show_help;
		goto out;
	}
	/*
	 * With other users on the mount the kernel must check permissions on
	 * its side too: it walks paths through cached dentries (search
	 * permission on a directory that lost it) and opens FIFOs and devices
	 * without asking us.  Only the mounting user otherwise: no need.
	 */
	if (pt.conf.allow_other && !pt.conf.nodefperm &&
	    fuse_opt_add_arg(&args, "-odefault_permissions") != 0)
		goto out;
	if (pt.conf.noxattr) {
		pt_ops.setxattr = NULL;
		pt_ops.getxattr = NULL;
		pt_ops.listxattr = NULL;
		pt_ops.removexattr = NULL;
	}
	if (setup() < 0)
		goto out;
	pt.se = fuse_session_new(&args, &pt_ops, sizeof(pt_ops), NULL);
	if (!pt.se || fuse_set_signal_handlers(pt.se) != 0)
		goto out;
	if (fuse_daemonize(opts.foreground) != 0)
		goto out_signals;
	res = fuse_session_attach(pt.se, opts.mountpoint, fr);
	if (res < 0)
		goto out_signals;
	if (pt.init_err) {
		/* Leave the mount and the state to a compatible server. */
		fprintf(stderr, "passthrough_hp: refusing to serve\n");
		goto out_signals;
	}
	if (opts.singlethread) {
		ret = fuse_session_loop(pt.se);
	} else {
		config = fuse_loop_cfg_create();
		fuse_loop_cfg_set_clone_fd(config, opts.clone_fd);
		fuse_loop_cfg_set_max_threads(config, opts.max_threads);
		ret = fuse_session_loop_mt(pt.se, config);
		fuse_loop_cfg_destroy(config);
	}
	/* A refusing server leaves the mount to a compatible one. */
	if (pt.init_err && fuse_recover_tag(fr)) {
		ret = 1;
		goto out_signals;
	}
	fuse_recover_unmount(pt.se);
	if (pt.init_err)
		ret = 1;
out_signals:
	if (pt.se)
		fuse_remove_signal_handlers(pt.se);
out:
	if (pt.se)
		fuse_session_destroy(pt.se);
	fuse_recover_store_close(pt.st);
	fuse_recover_destroy(fr);
	fuse_opt_free_args(&args);
	free(opts.mountpoint);
	free(pt.conf.source);
	return ret ? 1 : 0;
}
