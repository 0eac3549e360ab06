// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hello_ll: the smallest restartable filesystem.
 *
 * One read-only file, /hello.  Mounted with a tag, the server can be killed
 * at any moment and started again with the same command line; the mount
 * stays and readers never see an error:
 *
 *     hello_ll -f -o tag=hello /mnt/hello &
 *     kill -9 %1
 *     hello_ll -f -o tag=hello /mnt/hello &      # same mount, served again
 *
 * Compared with a plain libfuse server only three calls change:
 * fuse_recover_new() takes -o tag=... out of the arguments,
 * fuse_session_attach() replaces fuse_session_mount(), and
 * fuse_recover_unmount() replaces fuse_session_unmount().
 *
 * Build: cc hello_ll.c $(pkg-config --cflags --libs fuse-recover) -o hello_ll
 */
#define FUSE_USE_VERSION 312
#include <fuse_recover.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char hello_name[] = "hello";
static const char hello_text[] = "Hello World!\n";

#define HELLO_INO 2

static void fill_attr(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	if (ino == FUSE_ROOT_ID) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
	} else {
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = sizeof(hello_text) - 1;
	}
}

static void hello_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e = { .ino = HELLO_INO,
				      .attr_timeout = 1.0,
				      .entry_timeout = 1.0 };

	if (parent != FUSE_ROOT_ID || strcmp(name, hello_name) != 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill_attr(HELLO_INO, &e.attr);
	fuse_reply_entry(req, &e);
}

static void hello_getattr(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	if (ino != FUSE_ROOT_ID && ino != HELLO_INO) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill_attr(ino, &st);
	fuse_reply_attr(req, &st, 1.0);
}

/* Appends one entry; returns the new used size, or @used if it is full. */
static size_t add_entry(fuse_req_t req, char *buf, size_t size, size_t used,
			const char *name, fuse_ino_t ino, off_t next)
{
	struct stat st = { .st_ino = ino };
	size_t n;

	fill_attr(ino, &st);
	n = fuse_add_direntry(req, buf + used, size - used, name, &st, next);
	return n > size - used ? used : used + n;
}

static void hello_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			  off_t off, struct fuse_file_info *fi)
{
	static const struct {
		const char *name;
		fuse_ino_t ino;
	} entries[] = { { ".", FUSE_ROOT_ID },
			{ "..", FUSE_ROOT_ID },
			{ hello_name, HELLO_INO } };
	char *buf;
	size_t used = 0;
	off_t i;

	(void)fi;
	if (ino != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	buf = malloc(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (i = off; i < 3; i++) {
		size_t n = add_entry(req, buf, size, used, entries[i].name,
				     entries[i].ino, i + 1);

		if (n == used)
			break;
		used = n;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void hello_open(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	if (ino != HELLO_INO)
		fuse_reply_err(req, EISDIR);
	else if ((fi->flags & O_ACCMODE) != O_RDONLY)
		fuse_reply_err(req, EACCES);
	else
		fuse_reply_open(req, fi);
}

static void hello_read(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t off, struct fuse_file_info *fi)
{
	size_t len = sizeof(hello_text) - 1;

	(void)ino;
	(void)fi;
	if ((size_t)off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, hello_text + off,
			       size < len - off ? size : len - off);
}

static const struct fuse_lowlevel_ops hello_ops = {
	.lookup = hello_lookup,
	.getattr = hello_getattr,
	.readdir = hello_readdir,
	.open = hello_open,
	.read = hello_read,
};

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_session *se = NULL;
	struct fuse_recover *fr = NULL;
	struct fuse_cmdline_opts opts;
	struct fuse_loop_config *config;
	int ret = 1, res;

	if (fuse_parse_cmdline(&args, &opts) != 0)
		return 1;
	if (opts.show_help || !opts.mountpoint) {
		printf("usage: %s [options] -o tag=NAME <mountpoint>\n\n",
		       argv[0]);
		fuse_cmdline_help();
		fuse_lowlevel_help();
		ret = !opts.show_help;
		goto out;
	}
	if (fuse_recover_new(&args, &fr) < 0)
		goto out;
	se = fuse_session_new(&args, &hello_ops, sizeof(hello_ops), NULL);
	if (!se || fuse_set_signal_handlers(se) != 0)
		goto out;
	res = fuse_session_attach(se, opts.mountpoint, fr);
	if (res < 0)
		goto out_signals;
	/* As in libfuse's examples: the daemon carries on the recovery. */
	if (fuse_daemonize(opts.foreground) != 0)
		goto out_unmount;
	if (opts.singlethread) {
		ret = fuse_session_loop(se);
	} else {
		config = fuse_loop_cfg_create();
		fuse_loop_cfg_set_clone_fd(config, opts.clone_fd);
		fuse_loop_cfg_set_max_threads(config, opts.max_threads);
		ret = fuse_session_loop_mt(se, config);
		fuse_loop_cfg_destroy(config);
	}
	/* Reached on unmount or SIGTERM/SIGINT: end the mount for good. */
out_unmount:
	fuse_recover_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out:
	if (se)
		fuse_session_destroy(se);
	fuse_recover_destroy(fr);
	fuse_opt_free_args(&args);
	free(opts.mountpoint);
	return ret ? 1 : 0;
}
