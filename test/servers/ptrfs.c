// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ptrfs: a lowlevel passthrough written the way most lowlevel servers are
 * written (libfuse's example/passthrough_ll.c style), to prove that such a
 * server survives SIGKILL + restart without knowing anything of it.
 *
 *   ptrfs [options] -o source=DIR MOUNTPOINT
 *	-o writeback	turn on the kernel's writeback cache
 *	-o timeout=S	entry and attribute timeout (default 1.0)
 *	-o entry_timeout=S, -o attr_timeout=S  each one on its own
 *	-s / --single	single-threaded loop (default multi-threaded)
 *	-o clone_fd	one /dev/fuse fd per thread
 *	-o snapdir	directory offsets that mean something only to one
 *			open stream of one process (see below)
 *	-o late_daemon	daemonize after attaching (libfuse's own examples'
 *			order), -f or not
 *
 * What makes it "ordinary":
 *  - a node id is the address of a malloc'ed struct inode that holds an
 *    O_PATH fd of the backing object and a lookup count;
 *  - a file handle is the number of the fd open() returned;
 *  - a directory handle is the address of a malloc'ed struct holding a DIR*.
 * None of these mean anything in the next process.  With -o snapdir, as
 * servers that list from a snapshot do, OPENDIR takes a snapshot of the
 * directory and an offset is the index of an entry in it XORed with a
 * random number of the process: an offset the process did not give out
 * is answered EINVAL.  The only changes for
 * recovery are the documented ones: fuse_recover_new(),
 * fuse_session_attach() instead of fuse_session_mount() and
 * fuse_recover_unmount() instead of fuse_session_unmount().
 *
 * Built with -DPOISON (ptrfs-poison, tests only), a LOOKUP of the name
 * "poison" kills the server before it answers (a request that crashes every
 * server it reaches), and an operation on a name starting "crash-after-"
 * kills it after its syscall but before the reply, once: only while the
 * file named by $PTRFS_CRASH_ONCE does not exist (it is created first).
 */
/* The API level of libfuse 3.14's own passthrough_ll. */
#define FUSE_USE_VERSION 35

#include <fuse_recover.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

struct inode {
	struct inode *next, *prev;	/* all inodes, for lookup by st_ino */
	int fd;				/* O_PATH */
	ino_t ino;
	dev_t dev;
	uint64_t nlookup;		/* under ptrfs.lock */
};

struct snap_ent {
	ino_t ino;
	unsigned char type;
	char *name;
};

struct dirp {
	DIR *dp;
	struct dirent *entry;
	off_t offset;
	struct snap_ent *snap;		/* -o snapdir */
	size_t nsnap;
};

static struct {
	pthread_mutex_t lock;
	struct inode root;
	double entry_timeout;
	double attr_timeout;
	int writeback;
	int snapdir;
	uint64_t salt;			/* -o snapdir: this process's offsets */
	char *source;
} ptrfs = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.entry_timeout = 1.0,
	.attr_timeout = 1.0,
};

#ifdef POISON
/* Die between the syscall and its reply, once per $PTRFS_CRASH_ONCE. */
static void crash_after(const char *name)
{
	const char *once = getenv("PTRFS_CRASH_ONCE");
	int fd;

	if (!once || strncmp(name, "crash-after-", 12) != 0)
		return;
	fd = open(once, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0)
		return;
	close(fd);
	kill(getpid(), SIGKILL);
}
#else
static void crash_after(const char *name)
{
}
#endif

static struct inode *to_inode(fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return &ptrfs.root;
	return (struct inode *)(uintptr_t)ino;
}

static int inode_fd(fuse_ino_t ino)
{
	return to_inode(ino)->fd;
}

static struct dirp *to_dirp(struct fuse_file_info *fi)
{
	return (struct dirp *)(uintptr_t)fi->fh;
}

static void proc_path(char *buf, size_t size, int fd)
{
	snprintf(buf, size, "/proc/self/fd/%d", fd);
}

static void ptrfs_init(void *userdata, struct fuse_conn_info *conn)
{
	if (ptrfs.writeback && (conn->capable & FUSE_CAP_WRITEBACK_CACHE))
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
	else
		conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	conn->want &= ~FUSE_CAP_FLOCK_LOCKS;
}

static void ptrfs_getattr(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct stat st;

	if (fstatat(inode_fd(ino), "", &st,
		    AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	fuse_reply_attr(req, &st, ptrfs.attr_timeout);
}

/* Find or make the inode of @name in @parent; fills @e. */
static int do_lookup(fuse_ino_t parent, const char *name,
		     struct fuse_entry_param *e)
{
	struct inode *in, *p;
	int fd, err;

	memset(e, 0, sizeof(*e));
	e->attr_timeout = ptrfs.attr_timeout;
	e->entry_timeout = ptrfs.entry_timeout;
	fd = openat(inode_fd(parent), name, O_PATH | O_NOFOLLOW);
	if (fd < 0)
		return errno;
	if (fstatat(fd, "", &e->attr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) {
		err = errno;
		close(fd);
		return err;
	}
	pthread_mutex_lock(&ptrfs.lock);
	for (p = ptrfs.root.next; p != &ptrfs.root; p = p->next)
		if (p->ino == e->attr.st_ino && p->dev == e->attr.st_dev)
			break;
	if (p != &ptrfs.root) {
		p->nlookup++;
		pthread_mutex_unlock(&ptrfs.lock);
		close(fd);
		e->ino = (uintptr_t)p;
		return 0;
	}
	in = calloc(1, sizeof(*in));
	if (!in) {
		pthread_mutex_unlock(&ptrfs.lock);
		close(fd);
		return ENOMEM;
	}
	in->fd = fd;
	in->ino = e->attr.st_ino;
	in->dev = e->attr.st_dev;
	in->nlookup = 1;
	in->next = &ptrfs.root;
	in->prev = ptrfs.root.prev;
	in->prev->next = in;
	ptrfs.root.prev = in;
	pthread_mutex_unlock(&ptrfs.lock);
	e->ino = (uintptr_t)in;
	return 0;
}

static void ptrfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int err;

#ifdef POISON
	/* The test's poison request: die before any reply is written. */
	if (strcmp(name, "poison") == 0)
		kill(getpid(), SIGKILL);
#endif
	err = do_lookup(parent, name, &e);
	if (err == ENOENT) {
		/* A negative entry, cached as long as a positive one. */
		e.ino = 0;
		fuse_reply_entry(req, &e);
	} else if (err) {
		fuse_reply_err(req, err);
	} else {
		fuse_reply_entry(req, &e);
	}
}

static void forget_one(fuse_ino_t ino, uint64_t nlookup)
{
	struct inode *in = to_inode(ino);

	if (in == &ptrfs.root)
		return;
	pthread_mutex_lock(&ptrfs.lock);
	if (nlookup > in->nlookup) {
		fprintf(stderr, "ptrfs: forget %" PRIu64 " of %" PRIu64 "\n",
			nlookup, in->nlookup);
		nlookup = in->nlookup;
	}
	in->nlookup -= nlookup;
	if (in->nlookup) {
		pthread_mutex_unlock(&ptrfs.lock);
		return;
	}
	in->prev->next = in->next;
	in->next->prev = in->prev;
	pthread_mutex_unlock(&ptrfs.lock);
	close(in->fd);
	free(in);
}

static void ptrfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	forget_one(ino, nlookup);
	fuse_reply_none(req);
}

static void ptrfs_forget_multi(fuse_req_t req, size_t count,
			       struct fuse_forget_data *forgets)
{
	size_t i;

	for (i = 0; i < count; i++)
		forget_one(forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

/* After a mknod/mkdir/symlink/link syscall: answer with the new entry. */
static void reply_new_entry(fuse_req_t req, fuse_ino_t parent,
			    const char *name, int res)
{
	struct fuse_entry_param e;
	int err;

	if (res < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	err = do_lookup(parent, name, &e);
	crash_after(name);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_entry(req, &e);
}

static void ptrfs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
			mode_t mode, dev_t rdev)
{
	reply_new_entry(req, parent, name,
			mknodat(inode_fd(parent), name, mode, rdev));
}

static void ptrfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
			mode_t mode)
{
	reply_new_entry(req, parent, name,
			mkdirat(inode_fd(parent), name, mode));
}

static void ptrfs_symlink(fuse_req_t req, const char *link,
			  fuse_ino_t parent, const char *name)
{
	reply_new_entry(req, parent, name,
			symlinkat(link, inode_fd(parent), name));
}

static void ptrfs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent,
		       const char *name)
{
	char path[64];

	proc_path(path, sizeof(path), inode_fd(ino));
	reply_new_entry(req, parent, name,
			linkat(AT_FDCWD, path, inode_fd(parent), name,
			       AT_SYMLINK_FOLLOW));
}

static void ptrfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	int err = unlinkat(inode_fd(parent), name, 0) ? errno : 0;

	crash_after(name);
	fuse_reply_err(req, err);
}

static void ptrfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	int err = unlinkat(inode_fd(parent), name, AT_REMOVEDIR) ? errno : 0;

	crash_after(name);
	fuse_reply_err(req, err);
}

static void ptrfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			 fuse_ino_t newparent, const char *newname,
			 unsigned int flags)
{
	int err = renameat2(inode_fd(parent), name, inode_fd(newparent),
			    newname, flags) ? errno : 0;

	crash_after(name);
	fuse_reply_err(req, err);
}

static void ptrfs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[PATH_MAX + 1];
	ssize_t n = readlinkat(inode_fd(ino), "", buf, sizeof(buf));

	if (n < 0 || n == sizeof(buf)) {
		fuse_reply_err(req, n < 0 ? errno : ENAMETOOLONG);
		return;
	}
	buf[n] = '\0';
	fuse_reply_readlink(req, buf);
}

static void ptrfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			  int valid, struct fuse_file_info *fi)
{
	int fd = inode_fd(ino), res = 0;
	char path[64];

	proc_path(path, sizeof(path), fd);
	if (valid & FUSE_SET_ATTR_MODE)
		res = fi ? fchmod(fi->fh, attr->st_mode) :
			   chmod(path, attr->st_mode);
	if (!res && (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)))
		res = fchownat(fd, "",
			       valid & FUSE_SET_ATTR_UID ? attr->st_uid : (uid_t)-1,
			       valid & FUSE_SET_ATTR_GID ? attr->st_gid : (gid_t)-1,
			       AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
	if (!res && (valid & FUSE_SET_ATTR_SIZE))
		res = fi ? ftruncate(fi->fh, attr->st_size) :
			   truncate(path, attr->st_size);
	if (!res && (valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME))) {
		struct timespec tv[2] = {
			{ .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT },
		};

		if (valid & FUSE_SET_ATTR_ATIME_NOW)
			tv[0].tv_nsec = UTIME_NOW;
		else if (valid & FUSE_SET_ATTR_ATIME)
			tv[0] = attr->st_atim;
		if (valid & FUSE_SET_ATTR_MTIME_NOW)
			tv[1].tv_nsec = UTIME_NOW;
		else if (valid & FUSE_SET_ATTR_MTIME)
			tv[1] = attr->st_mtim;
		res = fi ? futimens(fi->fh, tv) : utimensat(AT_FDCWD, path, tv, 0);
	}
	if (res) {
		fuse_reply_err(req, errno);
		return;
	}
	ptrfs_getattr(req, ino, fi);
}

static int is_dot_or_dotdot(const char *name)
{
	return name[0] == '.' &&
	       (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

static void free_snapshot(struct dirp *d)
{
	size_t i;

	for (i = 0; i < d->nsnap; i++)
		free(d->snap[i].name);
	free(d->snap);
	d->snap = NULL;
	d->nsnap = 0;
}

static int take_snapshot(struct dirp *d)
{
	struct dirent *de;
	size_t cap = 0;

	for (;;) {
		errno = 0;
		de = readdir(d->dp);
		if (!de)
			return errno;
		if (d->nsnap == cap) {
			struct snap_ent *n;

			cap = cap ? 2 * cap : 64;
			n = realloc(d->snap, cap * sizeof(*n));
			if (!n)
				return ENOMEM;
			d->snap = n;
		}
		d->snap[d->nsnap].ino = de->d_ino;
		d->snap[d->nsnap].type = de->d_type;
		d->snap[d->nsnap].name = strdup(de->d_name);
		if (!d->snap[d->nsnap].name)
			return ENOMEM;
		d->nsnap++;
	}
}

/* Offset of the position after entry @i; never 0 (bit 40 of the salt). */
static off_t snap_off(size_t i)
{
	return (off_t)((i + 1) ^ ptrfs.salt);
}

static void snap_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			 off_t offset, struct dirp *d, int plus)
{
	char *buf = calloc(1, size ? size : 1), *p = buf;
	size_t rem = size, n, i = 0;
	int err = 0;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (offset) {
		i = ((uint64_t)offset ^ ptrfs.salt);
		if (i == 0 || i > d->nsnap) {
			free(buf);
			fuse_reply_err(req, EINVAL);
			return;
		}
	}
	for (; i < d->nsnap; i++) {
		struct snap_ent *s = &d->snap[i];
		struct stat st = { .st_ino = s->ino,
				   .st_mode = (mode_t)s->type << 12 };

		if (plus) {
			struct fuse_entry_param e;

			memset(&e, 0, sizeof(e));
			e.attr = st;
			if (!is_dot_or_dotdot(s->name)) {
				err = do_lookup(ino, s->name, &e);
				/* Gone since the snapshot: left out. */
				if (err == ENOENT) {
					err = 0;
					continue;
				}
				if (err)
					break;
			}
			n = fuse_add_direntry_plus(req, p, rem, s->name, &e,
						   snap_off(i));
			if (n > rem) {
				if (e.ino)
					forget_one(e.ino, 1);
				break;
			}
		} else {
			n = fuse_add_direntry(req, p, rem, s->name, &st,
					      snap_off(i));
			if (n > rem)
				break;
		}
		p += n;
		rem -= n;
	}
	if (err && rem == size)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, size - rem);
	free(buf);
}

static void ptrfs_opendir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct dirp *d = calloc(1, sizeof(*d));
	int fd, err;

	if (!d) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fd = openat(inode_fd(ino), ".", O_RDONLY | O_DIRECTORY);
	if (fd < 0 || !(d->dp = fdopendir(fd))) {
		err = errno;
		if (fd >= 0)
			close(fd);
		free(d);
		fuse_reply_err(req, err);
		return;
	}
	if (ptrfs.snapdir && (err = take_snapshot(d))) {
		free_snapshot(d);
		closedir(d->dp);
		free(d);
		fuse_reply_err(req, err);
		return;
	}
	fi->fh = (uintptr_t)d;
	fuse_reply_open(req, fi);
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t offset, struct fuse_file_info *fi, int plus)
{
	struct dirp *d = to_dirp(fi);
	char *buf = calloc(1, size), *p;
	size_t rem = size, n;
	int err = 0;

	if (ptrfs.snapdir) {
		free(buf);
		snap_readdir(req, ino, size, offset, d, plus);
		return;
	}
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (offset != d->offset) {
		seekdir(d->dp, offset);
		d->entry = NULL;
		d->offset = offset;
	}
	p = buf;
	for (;;) {
		struct fuse_entry_param e;
		const char *name;

		if (!d->entry) {
			errno = 0;
			d->entry = readdir(d->dp);
			if (!d->entry) {
				err = errno;
				break;
			}
		}
		name = d->entry->d_name;
		if (plus) {
			memset(&e, 0, sizeof(e));
			if (is_dot_or_dotdot(name)) {
				e.attr.st_ino = d->entry->d_ino;
				e.attr.st_mode = d->entry->d_type << 12;
			} else {
				err = do_lookup(ino, name, &e);
				if (err)
					break;
			}
			n = fuse_add_direntry_plus(req, p, rem, name, &e,
						   d->entry->d_off);
			if (n > rem) {
				/* Does not fit: give the lookup back. */
				if (e.ino)
					forget_one(e.ino, 1);
				break;
			}
		} else {
			struct stat st = {
				.st_ino = d->entry->d_ino,
				.st_mode = d->entry->d_type << 12,
			};

			n = fuse_add_direntry(req, p, rem, name, &st,
					      d->entry->d_off);
			if (n > rem)
				break;
		}
		p += n;
		rem -= n;
		d->offset = d->entry->d_off;
		d->entry = NULL;
	}
	/* An error after some entries: hand those out, report it next time. */
	if (err && rem == size)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, size - rem);
	free(buf);
}

static void ptrfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			  off_t offset, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, offset, fi, 0);
}

static void ptrfs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			      off_t offset, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, offset, fi, 1);
}

static void ptrfs_releasedir(fuse_req_t req, fuse_ino_t ino,
			     struct fuse_file_info *fi)
{
	struct dirp *d = to_dirp(fi);

	closedir(d->dp);
	free_snapshot(d);
	free(d);
	fuse_reply_err(req, 0);
}

static void ptrfs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			   struct fuse_file_info *fi)
{
	int fd = dirfd(to_dirp(fi)->dp);

	fuse_reply_err(req, (datasync ? fdatasync(fd) : fsync(fd)) ? errno : 0);
}

/*
 * With the writeback cache the kernel reads pages of write-only files and
 * does appends itself.
 */
static int open_flags(int flags)
{
	if (ptrfs.writeback) {
		if ((flags & O_ACCMODE) == O_WRONLY)
			flags = (flags & ~O_ACCMODE) | O_RDWR;
		flags &= ~O_APPEND;
	}
	return flags & ~O_NOFOLLOW;
}

static void ptrfs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
			 mode_t mode, struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	int fd, err;

	fd = openat(inode_fd(parent), name, open_flags(fi->flags) | O_CREAT,
		    mode);
	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	err = do_lookup(parent, name, &e);
	if (err) {
		close(fd);
		fuse_reply_err(req, err);
		return;
	}
	fi->fh = fd;
	crash_after(name);
	fuse_reply_create(req, &e, fi);
}

static void ptrfs_open(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	char path[64];
	int fd;

	proc_path(path, sizeof(path), inode_fd(ino));
	fd = open(path, open_flags(fi->flags));
	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	fi->fh = fd;
	fuse_reply_open(req, fi);
}

static void ptrfs_release(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	close(fi->fh);
	fuse_reply_err(req, 0);
}

static void ptrfs_flush(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	/* Report close errors of the backing file (e.g. NFS) at close(). */
	int fd = dup(fi->fh);

	fuse_reply_err(req, fd < 0 || close(fd) ? errno : 0);
}

static void ptrfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	fuse_reply_err(req, (datasync ? fdatasync(fi->fh) : fsync(fi->fh)) ?
			    errno : 0);
}

static void ptrfs_read(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t off, struct fuse_file_info *fi)
{
	char *buf = malloc(size ? size : 1);
	ssize_t n;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = pread(fi->fh, buf, size, off);
	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_buf(req, buf, n);
	free(buf);
}

static void ptrfs_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
			size_t size, off_t off, struct fuse_file_info *fi)
{
	ssize_t n = pwrite(fi->fh, buf, size, off);

	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_write(req, n);
}

static void ptrfs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	if (fstatvfs(inode_fd(ino), &sv) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_statfs(req, &sv);
}

static void ptrfs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			    off_t off, off_t len, struct fuse_file_info *fi)
{
	fuse_reply_err(req, fallocate(fi->fh, mode, off, len) ? errno : 0);
}

static const struct fuse_lowlevel_ops ptrfs_ops = {
	.init = ptrfs_init,
	.lookup = ptrfs_lookup,
	.forget = ptrfs_forget,
	.forget_multi = ptrfs_forget_multi,
	.getattr = ptrfs_getattr,
	.setattr = ptrfs_setattr,
	.readlink = ptrfs_readlink,
	.mknod = ptrfs_mknod,
	.mkdir = ptrfs_mkdir,
	.symlink = ptrfs_symlink,
	.link = ptrfs_link,
	.unlink = ptrfs_unlink,
	.rmdir = ptrfs_rmdir,
	.rename = ptrfs_rename,
	.opendir = ptrfs_opendir,
	.readdir = ptrfs_readdir,
	.readdirplus = ptrfs_readdirplus,
	.releasedir = ptrfs_releasedir,
	.fsyncdir = ptrfs_fsyncdir,
	.create = ptrfs_create,
	.open = ptrfs_open,
	.release = ptrfs_release,
	.flush = ptrfs_flush,
	.fsync = ptrfs_fsync,
	.read = ptrfs_read,
	.write = ptrfs_write,
	.statfs = ptrfs_statfs,
	.fallocate = ptrfs_fallocate,
};

struct ptrfs_opts {
	char *source;
	char *timeout;
	char *entry_timeout;
	char *attr_timeout;
	int writeback;
	int snapdir;
	int late_daemon;
};

static const struct fuse_opt ptrfs_opt_spec[] = {
	{ "source=%s", offsetof(struct ptrfs_opts, source), 0 },
	{ "timeout=%s", offsetof(struct ptrfs_opts, timeout), 0 },
	{ "entry_timeout=%s", offsetof(struct ptrfs_opts, entry_timeout), 0 },
	{ "attr_timeout=%s", offsetof(struct ptrfs_opts, attr_timeout), 0 },
	{ "writeback", offsetof(struct ptrfs_opts, writeback), 1 },
	{ "snapdir", offsetof(struct ptrfs_opts, snapdir), 1 },
	{ "late_daemon", offsetof(struct ptrfs_opts, late_daemon), 1 },
	FUSE_OPT_END
};

static int run_loop(struct fuse_session *se, struct fuse_cmdline_opts *opts)
{
#if FUSE_USE_VERSION < 312
	struct fuse_loop_config config = {
		.clone_fd = opts->clone_fd,
		.max_idle_threads = opts->max_idle_threads,
	};

	if (opts->singlethread)
		return fuse_session_loop(se);
	return fuse_session_loop_mt(se, &config);
#else
	struct fuse_loop_config *config;
	int ret;

	if (opts->singlethread)
		return fuse_session_loop(se);
	config = fuse_loop_cfg_create();
	if (!config)
		return -1;
	fuse_loop_cfg_set_clone_fd(config, opts->clone_fd);
	fuse_loop_cfg_set_max_threads(config, opts->max_threads);
	/* -o max_idle_threads=N: idle workers exit (readers-idle-workers). */
	if (opts->max_idle_threads != UINT_MAX)
		fuse_loop_cfg_set_idle_threads(config, opts->max_idle_threads);
	ret = fuse_session_loop_mt(se, config);
	fuse_loop_cfg_destroy(config);
	return ret;
#endif
}

static int parse_timeout(const char *name, const char *val, double *t)
{
	char *end;

	if (!val)
		return 0;
	*t = strtod(val, &end);
	if (end == val || *end || *t < 0) {
		fprintf(stderr, "ptrfs: bad %s=%s\n", name, val);
		return -1;
	}
	return 0;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct ptrfs_opts po = { 0 };
	struct fuse_session *se = NULL;
	struct fuse_recover *fr = NULL;
	struct fuse_cmdline_opts opts;
	int ret = 1, res;

	if (fuse_parse_cmdline(&args, &opts) != 0)
		return 1;
	if (opts.show_help || !opts.mountpoint) {
		printf("usage: %s [options] -o source=DIR <mountpoint>\n\n",
		       argv[0]);
		fuse_cmdline_help();
		fuse_lowlevel_help();
		ret = !opts.show_help;
		goto out;
	}
	if (fuse_opt_parse(&args, &po, ptrfs_opt_spec, NULL) != 0)
		goto out;
	if (!po.source) {
		fprintf(stderr, "ptrfs: no -o source=DIR\n");
		goto out;
	}
	ptrfs.writeback = po.writeback;
	ptrfs.snapdir = po.snapdir;
	if (getrandom(&ptrfs.salt, sizeof(ptrfs.salt), 0) !=
	    sizeof(ptrfs.salt)) {
		perror("ptrfs: getrandom");
		goto out;
	}
	/* Positive, and never 0 for any index below 2^40. */
	ptrfs.salt = (ptrfs.salt & ((1ull << 62) - 1)) | 1ull << 40;
	if (parse_timeout("timeout", po.timeout, &ptrfs.entry_timeout) ||
	    parse_timeout("timeout", po.timeout, &ptrfs.attr_timeout) ||
	    parse_timeout("entry_timeout", po.entry_timeout,
			  &ptrfs.entry_timeout) ||
	    parse_timeout("attr_timeout", po.attr_timeout,
			  &ptrfs.attr_timeout))
		goto out;
	/* One fd per known inode: as many as we may (passthrough_hp does too). */
	{
		struct rlimit rl;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	ptrfs.root.next = ptrfs.root.prev = &ptrfs.root;
	ptrfs.root.nlookup = 2;
	ptrfs.root.fd = open(po.source, O_PATH | O_DIRECTORY);
	if (ptrfs.root.fd < 0) {
		fprintf(stderr, "ptrfs: %s: %s\n", po.source, strerror(errno));
		goto out;
	}

	if (fuse_recover_new(&args, &fr) < 0)
		goto out;
	se = fuse_session_new(&args, &ptrfs_ops, sizeof(ptrfs_ops), NULL);
	if (!se || fuse_set_signal_handlers(se) != 0)
		goto out;
	if (fuse_daemonize(opts.foreground || po.late_daemon) != 0)
		goto out_signals;
	res = fuse_session_attach(se, opts.mountpoint, fr);
	if (res < 0)
		goto out_signals;
	if (po.late_daemon && fuse_daemonize(0) != 0)
		goto out_signals;
	ret = run_loop(se, &opts);
	fuse_recover_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out:
	if (se)
		fuse_session_destroy(se);
	fuse_recover_destroy(fr);
	fuse_opt_free_args(&args);
	free(opts.mountpoint);
	free(po.source);
	free(po.timeout);
	free(po.entry_timeout);
	free(po.attr_timeout);
	return ret ? 1 : 0;
}
