// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hlfs: a high-level (path based) passthrough written the way libfuse's
 * example/passthrough.c is written, to prove that a struct fuse_operations
 * server survives SIGKILL + restart without knowing anything of it.  Its
 * node ids come from libfuse's own counter, its file handles are fd
 * numbers and its directory handles DIR pointers: none survive the process.
 *
 *   hlfs [options] -o source=DIR MOUNTPOINT
 *
 * Recovery changes only what the README documents: the session of
 * fuse_new() is attached with fuse_session_attach() instead of fuse_mount(),
 * and fuse_recover_unmount() replaces fuse_unmount().  Built with
 * -DNO_RECOVER it is the unmodified program (plain fuse_main()), which the
 * wrapper test runs through fuse-recover-run.
 */
/* A libfuse 3.14-era program at its own API level. */
#define FUSE_USE_VERSION 35

#include <fuse.h>
#ifndef NO_RECOVER
#include <fuse_recover.h>
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <unistd.h>

static int src_fd = -1;

/* -o hard_remove: unlink open files at once (no .fuse_hidden renames). */
static int hard_remove;

/* "/a/b" -> "a/b" relative to the source directory; "/" -> ".". */
static const char *rel(const char *path)
{
	return path[1] ? path + 1 : ".";
}

static void *hl_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	/*
	 * Like passthrough.c: the backing inode numbers.  Caching is left to
	 * the command line (-o entry_timeout=, attr_timeout=).
	 */
	cfg->use_ino = 1;
	cfg->hard_remove = hard_remove;
	return NULL;
}

static int hl_getattr(const char *path, struct stat *st,
		      struct fuse_file_info *fi)
{
	int res = fi ? fstat(fi->fh, st) :
		       fstatat(src_fd, rel(path), st, AT_SYMLINK_NOFOLLOW);

	return res ? -errno : 0;
}

static int hl_access(const char *path, int mask)
{
	return faccessat(src_fd, rel(path), mask, 0) ? -errno : 0;
}

static int hl_readlink(const char *path, char *buf, size_t size)
{
	ssize_t n = readlinkat(src_fd, rel(path), buf, size - 1);

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

struct hl_dir {
	DIR *dp;
	off_t offset;
	struct dirent *entry;
};

static int hl_opendir(const char *path, struct fuse_file_info *fi)
{
	struct hl_dir *d = calloc(1, sizeof(*d));
	int fd, err;

	if (!d)
		return -ENOMEM;
	fd = openat(src_fd, rel(path), O_RDONLY | O_DIRECTORY);
	if (fd < 0 || !(d->dp = fdopendir(fd))) {
		err = errno;
		if (fd >= 0)
			close(fd);
		free(d);
		return -err;
	}
	fi->fh = (uintptr_t)d;
	return 0;
}

static int hl_readdir(const char *path, void *buf, fuse_fill_dir_t filler,
		      off_t offset, struct fuse_file_info *fi,
		      enum fuse_readdir_flags flags)
{
	struct hl_dir *d = (struct hl_dir *)(uintptr_t)fi->fh;

	if (offset != d->offset) {
		seekdir(d->dp, offset);
		d->entry = NULL;
		d->offset = offset;
	}
	for (;;) {
		struct stat st;

		if (!d->entry) {
			errno = 0;
			d->entry = readdir(d->dp);
			if (!d->entry)
				return errno ? -errno : 0;
		}
		memset(&st, 0, sizeof(st));
		st.st_ino = d->entry->d_ino;
		st.st_mode = d->entry->d_type << 12;
		if (filler(buf, d->entry->d_name, &st, d->entry->d_off, 0))
			return 0;
		d->offset = d->entry->d_off;
		d->entry = NULL;
	}
}

static int hl_releasedir(const char *path, struct fuse_file_info *fi)
{
	struct hl_dir *d = (struct hl_dir *)(uintptr_t)fi->fh;

	closedir(d->dp);
	free(d);
	return 0;
}

static int hl_mknod(const char *path, mode_t mode, dev_t rdev)
{
	return mknodat(src_fd, rel(path), mode, rdev) ? -errno : 0;
}

static int hl_mkdir(const char *path, mode_t mode)
{
	return mkdirat(src_fd, rel(path), mode) ? -errno : 0;
}

static int hl_unlink(const char *path)
{
	return unlinkat(src_fd, rel(path), 0) ? -errno : 0;
}

static int hl_rmdir(const char *path)
{
	return unlinkat(src_fd, rel(path), AT_REMOVEDIR) ? -errno : 0;
}

static int hl_symlink(const char *from, const char *to)
{
	return symlinkat(from, src_fd, rel(to)) ? -errno : 0;
}

static int hl_rename(const char *from, const char *to, unsigned int flags)
{
	return renameat2(src_fd, rel(from), src_fd, rel(to), flags) ?
		       -errno : 0;
}

static int hl_link(const char *from, const char *to)
{
	return linkat(src_fd, rel(from), src_fd, rel(to), 0) ? -errno : 0;
}

static int hl_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	int res = fi ? fchmod(fi->fh, mode) :
		       fchmodat(src_fd, rel(path), mode, 0);

	return res ? -errno : 0;
}

static int hl_chown(const char *path, uid_t uid, gid_t gid,
		    struct fuse_file_info *fi)
{
	int res = fi ? fchown(fi->fh, uid, gid) :
		       fchownat(src_fd, rel(path), uid, gid,
				AT_SYMLINK_NOFOLLOW);

	return res ? -errno : 0;
}

static int hl_truncate(const char *path, off_t size,
		       struct fuse_file_info *fi)
{
	int fd, res;

	if (fi)
		return ftruncate(fi->fh, size) ? -errno : 0;
	fd = openat(src_fd, rel(path), O_WRONLY);
	if (fd < 0)
		return -errno;
	res = ftruncate(fd, size) ? -errno : 0;
	close(fd);
	return res;
}

static int hl_utimens(const char *path, const struct timespec ts[2],
		      struct fuse_file_info *fi)
{
	int res = fi ? futimens(fi->fh, ts) :
		       utimensat(src_fd, rel(path), ts, AT_SYMLINK_NOFOLLOW);

	return res ? -errno : 0;
}

static int hl_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	int fd = openat(src_fd, rel(path), fi->flags | O_CREAT, mode);

	if (fd < 0)
		return -errno;
	fi->fh = fd;
	return 0;
}

static int hl_open(const char *path, struct fuse_file_info *fi)
{
	int fd = openat(src_fd, rel(path), fi->flags);

	if (fd < 0)
		return -errno;
	fi->fh = fd;
	return 0;
}

static int hl_read(const char *path, char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	ssize_t n = pread(fi->fh, buf, size, off);

	return n < 0 ? -errno : n;
}

static int hl_write(const char *path, const char *buf, size_t size,
		    off_t off, struct fuse_file_info *fi)
{
	ssize_t n = pwrite(fi->fh, buf, size, off);

	return n < 0 ? -errno : n;
}

static int hl_statfs(const char *path, struct statvfs *sv)
{
	return fstatvfs(src_fd, sv) ? -errno : 0;
}

static int hl_flush(const char *path, struct fuse_file_info *fi)
{
	int fd = dup(fi->fh);

	return fd < 0 || close(fd) ? -errno : 0;
}

static int hl_release(const char *path, struct fuse_file_info *fi)
{
	close(fi->fh);
	return 0;
}

static int hl_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	int res = datasync ? fdatasync(fi->fh) : fsync(fi->fh);

	return res ? -errno : 0;
}

static const struct fuse_operations hl_ops = {
	.init = hl_init,
	.getattr = hl_getattr,
	.access = hl_access,
	.readlink = hl_readlink,
	.opendir = hl_opendir,
	.readdir = hl_readdir,
	.releasedir = hl_releasedir,
	.mknod = hl_mknod,
	.mkdir = hl_mkdir,
	.symlink = hl_symlink,
	.unlink = hl_unlink,
	.rmdir = hl_rmdir,
	.rename = hl_rename,
	.link = hl_link,
	.chmod = hl_chmod,
	.chown = hl_chown,
	.truncate = hl_truncate,
	.utimens = hl_utimens,
	.create = hl_create,
	.open = hl_open,
	.read = hl_read,
	.write = hl_write,
	.statfs = hl_statfs,
	.flush = hl_flush,
	.release = hl_release,
	.fsync = hl_fsync,
};

struct hl_opts {
	char *source;
	int hard_remove;
};

static const struct fuse_opt hl_opt_spec[] = {
	{ "source=%s", offsetof(struct hl_opts, source), 0 },
	{ "hard_remove", offsetof(struct hl_opts, hard_remove), 1 },
	FUSE_OPT_END
};

static int open_source(struct fuse_args *args)
{
	struct hl_opts o = { 0 };

	if (fuse_opt_parse(args, &o, hl_opt_spec, NULL) != 0)
		return -1;
	if (!o.source) {
		fprintf(stderr, "hlfs: no -o source=DIR\n");
		return -1;
	}
	hard_remove = o.hard_remove;
	src_fd = open(o.source, O_PATH | O_DIRECTORY);
	if (src_fd < 0)
		fprintf(stderr, "hlfs: %s: %s\n", o.source, strerror(errno));
	free(o.source);
	return src_fd < 0 ? -1 : 0;
}

#ifdef NO_RECOVER
int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	int ret;

	umask(0);
	if (open_source(&args) < 0)
		return 1;
	ret = fuse_main(args.argc, args.argv, &hl_ops, NULL);
	fuse_opt_free_args(&args);
	return ret;
}
#else
int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_loop_config config;
	struct fuse_recover *fr = NULL;
	struct fuse_cmdline_opts opts;
	struct fuse_session *se;
	struct fuse *f = NULL;
	int ret = 1;

	umask(0);
	if (fuse_parse_cmdline(&args, &opts) != 0)
		return 1;
	if (opts.show_help || !opts.mountpoint) {
		printf("usage: %s [options] -o source=DIR <mountpoint>\n",
		       argv[0]);
		ret = !opts.show_help;
		goto out;
	}
	if (open_source(&args) < 0 || fuse_recover_new(&args, &fr) < 0)
		goto out;
	f = fuse_new(&args, &hl_ops, sizeof(hl_ops), NULL);
	if (!f)
		goto out;
	se = fuse_get_session(f);
	if (fuse_set_signal_handlers(se) != 0)
		goto out;
	if (fuse_daemonize(opts.foreground) != 0)
		goto out_signals;
	if (fuse_session_attach(se, opts.mountpoint, fr) < 0)
		goto out_signals;
	if (opts.singlethread) {
		ret = fuse_loop(f);
	} else {
		config.clone_fd = opts.clone_fd;
		config.max_idle_threads = opts.max_idle_threads;
		ret = fuse_loop_mt(f, &config);
	}
	fuse_recover_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out:
	if (f)
		fuse_destroy(f);
	fuse_recover_destroy(fr);
	fuse_opt_free_args(&args);
	free(opts.mountpoint);
	return ret ? 1 : 0;
}
#endif
