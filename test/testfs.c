// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * testfs: a restartable filesystem with knobs for the integration tests.
 *
 *   /hello   "Hello World!\n"
 *   /data    1 MiB; byte i is (i * 7 + i / 4096) & 0xff
 *   /slow    like /hello, but each read waits slow_ms in the server first
 *            and creates MARK_DIR/slow.PID when it starts waiting
 *
 * -o slow_ms=N, -o mark_dir=DIR, -o want_writeback (asks for a capability
 * the first server may not have negotiated: tests INIT mismatch).  Each
 * resent request is logged to stderr as "testfs: resent OP".
 *
 * -o ptfile=PATH adds /pt, the file PATH opened in kernel passthrough mode
 * (the kernel/ tests run it on the supervisor-less path): the server then
 * keeps a state store whose only node is /pt (the other ids stay the
 * constants below, which no store id can be).
 */
#define FUSE_USE_VERSION 312
#include <fuse_recover.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ROOT FUSE_ROOT_ID
#define DATA_SIZE (1 << 20)

static const char hello[] = "Hello World!\n";
static const struct {
	const char *name;
	fuse_ino_t ino;
	off_t size;
} files[] = {
	{ "hello", 2, sizeof(hello) - 1 },
	{ "data", 3, DATA_SIZE },
	{ "slow", 4, sizeof(hello) - 1 },
};
#define NFILES (sizeof(files) / sizeof(files[0]))

static struct {
	int slow_ms;
	char *mark_dir;
	int want_writeback;
	char *ptfile;
} conf;

static struct fuse_recover_store *pt_st;

static const struct fuse_opt testfs_opts[] = {
	{ "slow_ms=%d", offsetof(__typeof__(conf), slow_ms), 0 },
	{ "mark_dir=%s", offsetof(__typeof__(conf), mark_dir), 0 },
	{ "want_writeback", offsetof(__typeof__(conf), want_writeback), 1 },
	{ "ptfile=%s", offsetof(__typeof__(conf), ptfile), 0 },
	FUSE_OPT_END
};

static void note_resend(fuse_req_t req, const char *op)
{
	int r = fuse_recover_req_is_resend(req);

	if (r == 1)
		fprintf(stderr, "testfs: resent %s\n", op);
	else if (r != 0)
		fprintf(stderr, "testfs: req_is_resend on %s: %d\n", op, r);
}

static int file_index(fuse_ino_t ino)
{
	unsigned int i;

	for (i = 0; i < NFILES; i++)
		if (files[i].ino == ino)
			return i;
	return -1;
}

static void fill(fuse_ino_t ino, struct stat *st)
{
	int i = file_index(ino);

	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	if (ino == ROOT) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
	} else {
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = files[i].size;
	}
}

/* ---- /pt: a file of the store, in passthrough mode ---- */

static const uint64_t pt_ident = 1, root_ident;

static bool is_pt(fuse_ino_t ino)
{
	return pt_st && ino != ROOT &&
	       fuse_recover_node_counts(pt_st, ino, NULL, NULL) == 0;
}

static int pt_attr(fuse_ino_t ino, struct stat *stbuf)
{
	if (stat(conf.ptfile, stbuf) < 0)
		return -errno;
	stbuf->st_ino = ino;
	return 0;
}

static void pt_lookup(fuse_req_t req)
{
	struct fuse_entry_param e = { .attr_timeout = 0, .entry_timeout = 0 };
	int err = fuse_recover_node_ref(pt_st, pt_ident, &pt_ident, &e.ino,
					&e.generation);

	if (!err)
		err = pt_attr(e.ino, &e.attr);
	if (err)
		fuse_reply_err(req, -err);
	else if (fuse_reply_entry(req, &e) != 0)
		fuse_recover_node_unref(pt_st, e.ino);
}

/* No fh: fd numbers mean nothing to the next server. */
static void pt_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int fd = open(conf.ptfile, (fi->flags & O_ACCMODE) | O_CLOEXEC), id;

	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	id = fuse_recover_passthrough_open(req, pt_st, ino, fd);
	if (id < 0)
		fprintf(stderr, "testfs: no passthrough: %s\n", strerror(-id));
	close(fd);
	fi->fh = 0;
	fuse_reply_open(req, fi);
}

static void pt_read(fuse_req_t req, size_t size, off_t off)
{
	char buf[65536];
	int fd = open(conf.ptfile, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	fprintf(stderr, "testfs: READ of /pt reached the server\n");
	if (size > sizeof(buf))
		size = sizeof(buf);
	n = fd < 0 ? -1 : pread(fd, buf, size, off);
	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_buf(req, buf, n);
	if (fd >= 0)
		close(fd);
}

static void t_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	if (is_pt(ino))
		fuse_recover_node_forget(pt_st, ino, nlookup);
	fuse_reply_none(req);
}

static void t_init(void *data, struct fuse_conn_info *conn)
{
	struct fuse_recover_store_config cfg = {
		.server_version = 1,
		.node_data_size = sizeof(pt_ident),
		.max_nodes = 16,
		.max_handles = 16,
	};
	int err;

	(void)data;
	if (conf.want_writeback && (conn->capable & FUSE_CAP_WRITEBACK_CACHE))
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
	if (!conf.ptfile || pt_st)
		return;
	err = fuse_recover_store_open(&cfg, &pt_st);
	if (err >= 0)
		err = fuse_recover_store_root(pt_st, &root_ident);
	if (err < 0)
		fprintf(stderr, "testfs: state store: %s\n", strerror(-err));
}

static void t_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e = { .attr_timeout = 0, .entry_timeout = 0 };
	unsigned int i;

	note_resend(req, "lookup");
	if (pt_st && parent == ROOT && strcmp(name, "pt") == 0) {
		pt_lookup(req);
		return;
	}
	for (i = 0; parent == ROOT && i < NFILES; i++) {
		if (strcmp(name, files[i].name) == 0) {
			e.ino = files[i].ino;
			fill(e.ino, &e.attr);
			fuse_reply_entry(req, &e);
			return;
		}
	}
	fuse_reply_err(req, ENOENT);
}

static void t_getattr(fuse_req_t req, fuse_ino_t ino,
		      struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	note_resend(req, "getattr");
	if (is_pt(ino)) {
		int err = pt_attr(ino, &st);

		if (err)
			fuse_reply_err(req, -err);
		else
			fuse_reply_attr(req, &st, 0);
		return;
	}
	if (ino != ROOT && file_index(ino) < 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill(ino, &st);
	fuse_reply_attr(req, &st, 0);
}

static void t_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	char buf[4096];
	size_t used = 0;
	struct stat st;
	off_t i;

	(void)fi;
	if (ino != ROOT) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	if (size > sizeof(buf))
		size = sizeof(buf);
	for (i = off; i < (off_t)NFILES; i++) {
		size_t n;

		fill(files[i].ino, &st);
		n = fuse_add_direntry(req, buf + used, size - used,
				      files[i].name, &st, i + 1);
		if (n > size - used)
			break;
		used += n;
	}
	fuse_reply_buf(req, buf, used);
}

static void t_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	note_resend(req, "open");
	if (is_pt(ino))
		pt_open(req, ino, fi);
	else if (file_index(ino) < 0)
		fuse_reply_err(req, EISDIR);
	else if ((fi->flags & O_ACCMODE) != O_RDONLY)
		fuse_reply_err(req, EACCES);
	else
		fuse_reply_open(req, fi);
}

static void wait_slow(void)
{
	struct timespec ts = { conf.slow_ms / 1000,
			       (conf.slow_ms % 1000) * 1000000L };
	char path[4096];

	if (conf.mark_dir) {
		snprintf(path, sizeof(path), "%s/slow.%d", conf.mark_dir,
			 (int)getpid());
		close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
	}
	nanosleep(&ts, NULL);
}

static void t_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	static char data[DATA_SIZE];
	static int data_ready;
	int i = file_index(ino);
	const char *src;
	off_t len;

	(void)fi;
	note_resend(req, "read");
	if (is_pt(ino)) {
		pt_read(req, size, off);
		return;
	}
	if (i < 0) {
		fuse_reply_err(req, EIO);
		return;
	}
	if (files[i].ino == 4)
		wait_slow();
	if (files[i].ino == 3) {
		if (!__atomic_load_n(&data_ready, __ATOMIC_ACQUIRE)) {
			for (long k = 0; k < DATA_SIZE; k++)
				data[k] = (k * 7 + k / 4096) & 0xff;
			__atomic_store_n(&data_ready, 1, __ATOMIC_RELEASE);
		}
		src = data;
	} else {
		src = hello;
	}
	len = files[i].size;
	if (off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, src + off,
			       (off_t)size < len - off ? (off_t)size : len - off);
}

static const struct fuse_lowlevel_ops ops = {
	.init = t_init,
	.forget = t_forget,
	.lookup = t_lookup,
	.getattr = t_getattr,
	.readdir = t_readdir,
	.open = t_open,
	.read = t_read,
};

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_session *se = NULL;
	struct fuse_recover *fr = NULL;
	struct fuse_cmdline_opts opts = { .mountpoint = NULL };
	int ret = 1, res;

	/* Errors still free what was parsed: the ASan build checks leaks. */
	if (fuse_parse_cmdline(&args, &opts) != 0 || !opts.mountpoint ||
	    fuse_opt_parse(&args, &conf, testfs_opts, NULL) != 0) {
		ret = 2;
		goto out;
	}
	res = fuse_recover_new(&args, &fr);
	if (res < 0) {
		fprintf(stderr, "testfs: fuse_recover_new: %s\n", strerror(-res));
		ret = 2;
		goto out;
	}
	if (conf.ptfile)
		fuse_recover_set_passthrough(fr, 1);
	se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
	if (!se || fuse_set_signal_handlers(se) != 0)
		goto out;
	res = fuse_session_attach(se, opts.mountpoint, fr);
	if (res < 0) {
		fprintf(stderr, "testfs: fuse_session_attach: %s\n",
			strerror(-res));
		goto out_signals;
	}
	if (opts.singlethread) {
		ret = fuse_session_loop(se);
	} else {
		struct fuse_loop_config *config = fuse_loop_cfg_create();

		fuse_loop_cfg_set_clone_fd(config, opts.clone_fd);
		fuse_loop_cfg_set_max_threads(config, opts.max_threads);
		ret = fuse_session_loop_mt(se, config);
		fuse_loop_cfg_destroy(config);
	}
	fuse_recover_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out:
	if (se)
		fuse_session_destroy(se);
	fuse_recover_destroy(fr);
	fuse_recover_store_close(pt_st);
	free(conf.ptfile);
	fuse_opt_free_args(&args);
	free(opts.mountpoint);
	return ret == 2 ? 2 : ret ? 1 : 0;
}
