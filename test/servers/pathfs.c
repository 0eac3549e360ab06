// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pathfs: a read-only lowlevel passthrough that keeps no fd per node, for
 * measuring the translation layer with more cached nodes than ptrfs can
 * hold (ptrfs keeps an O_PATH fd per node; the hard RLIMIT_NOFILE here is
 * 20000).
 *
 *   pathfs [options] -o source=DIR MOUNTPOINT
 *	-o entry_timeout=S, -o attr_timeout=S  (default 1.0 each)
 *	-s / --single	single-threaded loop (default multi-threaded)
 *
 * Written like ordinary servers are: a node id is the address of a
 * malloc'ed struct node (its parent and its name; a path is built from
 * them on every use), a file handle is the number of the fd open()
 * returned.  Only the documented calls were changed for recovery.
 */
/* The API level of libfuse 3.14's own passthrough_ll. */
#define FUSE_USE_VERSION 35

#include <fuse_recover.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define BUCKETS (1u << 18)

struct node {
	struct node *hnext;		/* by st_ino */
	struct node *parent;
	char *name;
	ino_t ino;
	uint64_t nlookup;		/* the kernel's */
	uint64_t nchildren;		/* nodes naming this one their parent */
};

static struct {
	pthread_mutex_t lock;
	struct node root;
	struct node *hash[BUCKETS];
	int rootfd;
	double entry_timeout, attr_timeout;
} fs = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.entry_timeout = 1.0,
	.attr_timeout = 1.0,
};

static struct node *to_node(fuse_ino_t ino)
{
	return ino == FUSE_ROOT_ID ? &fs.root : (struct node *)(uintptr_t)ino;
}

/* The path of @n relative to the source ("." for the root); under lock. */
static int node_path(struct node *n, char *buf, size_t size)
{
	size_t len = 0, l;
	struct node *p;

	for (p = n; p != &fs.root; p = p->parent)
		len += strlen(p->name) + 1;
	if (!len) {
		snprintf(buf, size, ".");
		return 0;
	}
	if (len > size)
		return -ENAMETOOLONG;
	buf[--len] = '\0';
	for (p = n; p != &fs.root; p = p->parent) {
		l = strlen(p->name);
		len -= l;
		memcpy(buf + len, p->name, l);
		if (len)
			buf[--len] = '/';
	}
	return 0;
}

static int child_path(fuse_ino_t parent, const char *name, char *buf,
		      size_t size)
{
	size_t l;
	int err;

	pthread_mutex_lock(&fs.lock);
	err = node_path(to_node(parent), buf, size);
	pthread_mutex_unlock(&fs.lock);
	if (err)
		return err;
	if (!name)
		return 0;
	l = strlen(buf);
	if (l + 1 + strlen(name) + 1 > size)
		return -ENAMETOOLONG;
	if (!strcmp(buf, "."))
		l = 0;
	else
		buf[l++] = '/';
	strcpy(buf + l, name);
	return 0;
}

static void unref(struct node *n)
{
	while (n != &fs.root && !n->nlookup && !n->nchildren) {
		struct node **pp = &fs.hash[n->ino % BUCKETS], *parent;

		while (*pp != n)
			pp = &(*pp)->hnext;
		*pp = n->hnext;
		parent = n->parent;
		free(n->name);
		free(n);
		parent->nchildren--;
		n = parent;
	}
}

static void pathfs_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	(void)conn;
}

static void pathfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e = { .attr_timeout = fs.attr_timeout,
				      .entry_timeout = fs.entry_timeout };
	char path[PATH_MAX];
	struct node *n;
	int err = child_path(parent, name, path, sizeof(path));

	if (err || fstatat(fs.rootfd, path, &e.attr, AT_SYMLINK_NOFOLLOW) < 0) {
		fuse_reply_err(req, err ? -err : errno);
		return;
	}
	pthread_mutex_lock(&fs.lock);
	for (n = fs.hash[e.attr.st_ino % BUCKETS]; n; n = n->hnext)
		if (n->ino == e.attr.st_ino)
			break;
	if (!n) {
		n = calloc(1, sizeof(*n));
		if (n)
			n->name = strdup(name);
		if (!n || !n->name) {
			pthread_mutex_unlock(&fs.lock);
			free(n);
			fuse_reply_err(req, ENOMEM);
			return;
		}
		n->ino = e.attr.st_ino;
		n->parent = to_node(parent);
		n->parent->nchildren++;
		n->hnext = fs.hash[n->ino % BUCKETS];
		fs.hash[n->ino % BUCKETS] = n;
	}
	n->nlookup++;
	pthread_mutex_unlock(&fs.lock);
	e.ino = (uintptr_t)n;
	fuse_reply_entry(req, &e);
}

static void forget_one(fuse_ino_t ino, uint64_t nlookup)
{
	struct node *n = to_node(ino);

	if (n == &fs.root)
		return;
	pthread_mutex_lock(&fs.lock);
	n->nlookup -= nlookup < n->nlookup ? nlookup : n->nlookup;
	unref(n);
	pthread_mutex_unlock(&fs.lock);
}

static void pathfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	forget_one(ino, nlookup);
	fuse_reply_none(req);
}

static void pathfs_forget_multi(fuse_req_t req, size_t count,
				struct fuse_forget_data *forgets)
{
	size_t i;

	for (i = 0; i < count; i++)
		forget_one(forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void pathfs_getattr(fuse_req_t req, fuse_ino_t ino,
			   struct fuse_file_info *fi)
{
	char path[PATH_MAX];
	struct stat st;
	int err = child_path(ino, NULL, path, sizeof(path));

	(void)fi;
	if (err || fstatat(fs.rootfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
		fuse_reply_err(req, err ? -err : errno);
	else
		fuse_reply_attr(req, &st, fs.attr_timeout);
}

static void pathfs_opendir(fuse_req_t req, fuse_ino_t ino,
			   struct fuse_file_info *fi)
{
	char path[PATH_MAX];
	int err = child_path(ino, NULL, path, sizeof(path)), fd;
	DIR *dp;

	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	fd = openat(fs.rootfd, path, O_RDONLY | O_DIRECTORY);
	if (fd < 0 || !(dp = fdopendir(fd))) {
		err = errno;
		if (fd >= 0)
			close(fd);
		fuse_reply_err(req, err);
		return;
	}
	fi->fh = (uintptr_t)dp;
	fuse_reply_open(req, fi);
}

/* Plain readdir only (no lookups): the offsets are telldir() cookies. */
static void pathfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t offset, struct fuse_file_info *fi)
{
	DIR *dp = (DIR *)(uintptr_t)fi->fh;
	char *buf = malloc(size ? size : 1), *p = buf;
	size_t rem = size, n;
	struct dirent *de;

	(void)ino;
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	seekdir(dp, offset);
	while ((de = readdir(dp))) {
		struct stat st = { .st_ino = de->d_ino,
				   .st_mode = (mode_t)de->d_type << 12 };

		n = fuse_add_direntry(req, p, rem, de->d_name, &st, de->d_off);
		if (n > rem)
			break;
		p += n;
		rem -= n;
	}
	fuse_reply_buf(req, buf, size - rem);
	free(buf);
}

static void pathfs_releasedir(fuse_req_t req, fuse_ino_t ino,
			      struct fuse_file_info *fi)
{
	(void)ino;
	closedir((DIR *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void pathfs_open(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	char path[PATH_MAX];
	int err = child_path(ino, NULL, path, sizeof(path)), fd;

	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EROFS);
		return;
	}
	fd = openat(fs.rootfd, path, O_RDONLY | O_NOFOLLOW);
	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	fi->fh = fd;
	fuse_reply_open(req, fi);
}

static void pathfs_read(fuse_req_t req, fuse_ino_t ino, size_t size,
			off_t off, struct fuse_file_info *fi)
{
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);

	(void)ino;
	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = fi->fh;
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

static void pathfs_release(fuse_req_t req, fuse_ino_t ino,
			   struct fuse_file_info *fi)
{
	(void)ino;
	close(fi->fh);
	fuse_reply_err(req, 0);
}

static void pathfs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	(void)ino;
	if (fstatvfs(fs.rootfd, &sv) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_statfs(req, &sv);
}

static const struct fuse_lowlevel_ops pathfs_ops = {
	.init = pathfs_init,
	.lookup = pathfs_lookup,
	.forget = pathfs_forget,
	.forget_multi = pathfs_forget_multi,
	.getattr = pathfs_getattr,
	.opendir = pathfs_opendir,
	.readdir = pathfs_readdir,
	.releasedir = pathfs_releasedir,
	.open = pathfs_open,
	.read = pathfs_read,
	.release = pathfs_release,
	.statfs = pathfs_statfs,
};

struct pathfs_opts {
	char *source, *entry_timeout, *attr_timeout;
};

static const struct fuse_opt pathfs_opt_spec[] = {
	{ "source=%s", offsetof(struct pathfs_opts, source), 0 },
	{ "entry_timeout=%s", offsetof(struct pathfs_opts, entry_timeout), 0 },
	{ "attr_timeout=%s", offsetof(struct pathfs_opts, attr_timeout), 0 },
	FUSE_OPT_END
};

static int parse_timeout(const char *val, double *t)
{
	char *end;

	if (!val)
		return 0;
	*t = strtod(val, &end);
	if (end == val || *end || *t < 0) {
		fprintf(stderr, "pathfs: bad timeout %s\n", val);
		return -1;
	}
	return 0;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct pathfs_opts po = { 0 };
	struct fuse_session *se = NULL;
	struct fuse_recover *fr = NULL;
	struct fuse_cmdline_opts opts;
	struct fuse_loop_config config = { .max_idle_threads = 10 };
	int ret = 1;

	if (fuse_parse_cmdline(&args, &opts) != 0)
		return 1;
	if (opts.show_help || !opts.mountpoint) {
		printf("usage: %s [options] -o source=DIR <mountpoint>\n",
		       argv[0]);
		ret = !opts.show_help;
		goto out;
	}
	if (fuse_opt_parse(&args, &po, pathfs_opt_spec, NULL) != 0)
		goto out;
	if (!po.source) {
		fprintf(stderr, "pathfs: no -o source=DIR\n");
		goto out;
	}
	if (parse_timeout(po.entry_timeout, &fs.entry_timeout) ||
	    parse_timeout(po.attr_timeout, &fs.attr_timeout))
		goto out;
	fs.rootfd = open(po.source, O_PATH | O_DIRECTORY);
	if (fs.rootfd < 0) {
		fprintf(stderr, "pathfs: %s: %s\n", po.source, strerror(errno));
		goto out;
	}
	fs.root.nlookup = 2;
	if (fuse_recover_new(&args, &fr) < 0)
		goto out;
	se = fuse_session_new(&args, &pathfs_ops, sizeof(pathfs_ops), NULL);
	if (!se || fuse_set_signal_handlers(se) != 0)
		goto out;
	if (fuse_daemonize(opts.foreground) != 0)
		goto out_signals;
	if (fuse_session_attach(se, opts.mountpoint, fr) < 0)
		goto out_signals;
	config.clone_fd = opts.clone_fd;
	ret = opts.singlethread ? fuse_session_loop(se) :
				  fuse_session_loop_mt(se, &config);
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
	free(po.entry_timeout);
	free(po.attr_timeout);
	return ret ? 1 : 0;
}
