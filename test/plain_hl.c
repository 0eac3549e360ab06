// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * plain_hl: an ordinary high-level libfuse server (fuse_main()) that knows
 * nothing of recovery, for fuse-recover-run.  fuse_main() mounts through
 * fuse_mount() and, without -f, daemonizes after mounting.
 *
 *   /hello  "Hello World!\n"
 *
 * High-level libfuse numbers nodes from a counter of its own, so a
 * restarted process knows none of the node ids the kernel still holds
 * (until the library translates them).  This server has one file and lets
 * the kernel cache no entry or attribute: every path walk is a fresh
 * LOOKUP, and the one file gets the same first id in every process.
 *
 * Usage: plain_hl [-f] [-s] MOUNTPOINT
 */
#define FUSE_USE_VERSION 34
#include <fuse.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

static const char text[] = "Hello World!\n";

static void *hl_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	cfg->entry_timeout = 0;
	cfg->attr_timeout = 0;
	cfg->negative_timeout = 0;
	return NULL;
}

static int hl_getattr(const char *path, struct stat *st,
		      struct fuse_file_info *fi)
{
	memset(st, 0, sizeof(*st));
	if (strcmp(path, "/") == 0) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
	} else if (strcmp(path, "/hello") == 0) {
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = sizeof(text) - 1;
	} else {
		return -ENOENT;
	}
	return 0;
}

static int hl_readdir(const char *path, void *buf, fuse_fill_dir_t fill,
		      off_t off, struct fuse_file_info *fi,
		      enum fuse_readdir_flags flags)
{
	if (strcmp(path, "/") != 0)
		return -ENOENT;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	fill(buf, "hello", NULL, 0, 0);
	return 0;
}

static int hl_open(const char *path, struct fuse_file_info *fi)
{
	if (strcmp(path, "/hello") != 0)
		return -ENOENT;
	return (fi->flags & O_ACCMODE) == O_RDONLY ? 0 : -EACCES;
}

static int hl_read(const char *path, char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	size_t len = sizeof(text) - 1;

	if (strcmp(path, "/hello") != 0)
		return -ENOENT;
	if ((size_t)off >= len)
		return 0;
	if (size > len - off)
		size = len - off;
	memcpy(buf, text + off, size);
	return size;
}

static const struct fuse_operations hl_ops = {
	.init = hl_init,
	.getattr = hl_getattr,
	.readdir = hl_readdir,
	.open = hl_open,
	.read = hl_read,
};

int main(int argc, char *argv[])
{
	return fuse_main(argc, argv, &hl_ops, NULL);
}
