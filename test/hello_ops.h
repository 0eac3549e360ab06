/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The filesystem of the test servers plain_ll and oldapi_ll: written as a
 * libfuse 3.14-era lowlevel server would be, at whatever FUSE_USE_VERSION
 * the including file defines.  Node ids are constants, so a restarted
 * server means by them what the dead one did.
 *
 *   /hello  "Hello World!\n"
 *   /data   1 MiB; byte i is (i * 7 + i / 4096) & 0xff
 */
#ifndef HELLO_OPS_H_
#define HELLO_OPS_H_

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DATA_SIZE (1 << 20)

static const char hello_text[] = "Hello World!\n";
static const struct {
	const char *name;
	fuse_ino_t ino;
	off_t size;
} hello_files[] = {
	{ "hello", 2, sizeof(hello_text) - 1 },
	{ "data", 3, DATA_SIZE },
};
#define HELLO_NFILES (sizeof(hello_files) / sizeof(hello_files[0]))

static int hello_attr(fuse_ino_t ino, struct stat *st)
{
	size_t i;

	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	if (ino == FUSE_ROOT_ID) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	for (i = 0; i < HELLO_NFILES; i++) {
		if (hello_files[i].ino != ino)
			continue;
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = hello_files[i].size;
		return 0;
	}
	return -ENOENT;
}

static void hello_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e = { .attr_timeout = 1.0,
				      .entry_timeout = 1.0 };
	size_t i;

	for (i = 0; parent == FUSE_ROOT_ID && i < HELLO_NFILES; i++) {
		if (strcmp(name, hello_files[i].name) != 0)
			continue;
		e.ino = hello_files[i].ino;
		hello_attr(e.ino, &e.attr);
		fuse_reply_entry(req, &e);
		return;
	}
	fuse_reply_err(req, ENOENT);
}

static void hello_getattr(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct stat st;

	if (hello_attr(ino, &st) < 0)
		fuse_reply_err(req, ENOENT);
	else
		fuse_reply_attr(req, &st, 1.0);
}

static void hello_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			  off_t off, struct fuse_file_info *fi)
{
	char buf[512];
	size_t used = 0, i;
	struct stat st = { 0 };

	if (ino != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	if (size > sizeof(buf))
		size = sizeof(buf);
	for (i = off; i < HELLO_NFILES + 2; i++) {
		const char *name = i == 0 ? "." : i == 1 ? ".." :
				   hello_files[i - 2].name;
		size_t n;

		st.st_ino = i < 2 ? FUSE_ROOT_ID : hello_files[i - 2].ino;
		st.st_mode = i < 2 ? S_IFDIR : S_IFREG;
		n = fuse_add_direntry(req, buf + used, size - used, name, &st,
				      i + 1);
		if (n > size - used)
			break;
		used += n;
	}
	fuse_reply_buf(req, buf, used);
}

static void hello_open(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	if (ino == FUSE_ROOT_ID)
		fuse_reply_err(req, EISDIR);
	else if ((fi->flags & O_ACCMODE) != O_RDONLY)
		fuse_reply_err(req, EACCES);
	else
		fuse_reply_open(req, fi);
}

static void hello_read(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t off, struct fuse_file_info *fi)
{
	char *buf;
	size_t i;

	if (ino == hello_files[0].ino) {
		size_t len = sizeof(hello_text) - 1;

		if ((size_t)off >= len)
			size = 0;
		else if (size > len - off)
			size = len - off;
		fuse_reply_buf(req, hello_text + off, size);
		return;
	}
	if (off >= DATA_SIZE)
		size = 0;
	else if (size > (size_t)(DATA_SIZE - off))
		size = DATA_SIZE - off;
	buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (i = 0; i < size; i++) {
		size_t p = off + i;

		buf[i] = (char)((p * 7 + p / 4096) & 0xff);
	}
	fuse_reply_buf(req, buf, size);
	free(buf);
}

/* The one operation whose signature changed at 35: both must build. */
#if FUSE_USE_VERSION < 35
static void hello_ioctl(fuse_req_t req, fuse_ino_t ino, int cmd, void *arg,
			struct fuse_file_info *fi, unsigned int flags,
			const void *in_buf, size_t in_bufsz, size_t out_bufsz)
#else
static void hello_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd,
			void *arg, struct fuse_file_info *fi,
			unsigned int flags, const void *in_buf,
			size_t in_bufsz, size_t out_bufsz)
#endif
{
	fuse_reply_err(req, ENOTTY);
}

static const struct fuse_lowlevel_ops hello_ops = {
	.lookup = hello_lookup,
	.getattr = hello_getattr,
	.readdir = hello_readdir,
	.open = hello_open,
	.read = hello_read,
	.ioctl = hello_ioctl,
};

#endif
