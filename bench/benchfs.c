// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * benchfs: the restartable server bench/recover kills and restarts.
 *
 *   benchfs -f -o tag=NAME[,nodes=N][,files=N] MOUNTPOINT
 *
 * The root holds the empty-ish files f0 ... f<files-1> (4 KiB of zeroes
 * each).  Node ids and file handles come from the state store, as in a real
 * restartable server: LOOKUP takes a node, OPEN a handle, both journalled.
 * Entry and attribute timeouts are 0, so every stat() reaches the server.
 *
 * -o nodes=N puts N more nodes in the state table when the store is new
 * (identities the kernel never sees), to measure how recovery scales with
 * the size of the table; they stay across restarts like real ones would.
 * A server that ran for a while has touched its whole table, and a killed
 * process takes longer to die the more shared pages it has mapped, so a
 * restarted benchfs looks every filler node up again in a thread of its
 * own and then prints "benchfs: warm" (bench/recover waits for it before
 * the next kill).
 * The node identity is BF_IDENT_SIZE bytes, about a file handle's size.
 */
#define FUSE_USE_VERSION 312
#include <fuse_recover.h>

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BF_STATE_VERSION 1
#define BF_IDENT_SIZE 32
#define BF_FILE_SIZE 4096

enum { BF_ROOT, BF_FILE, BF_FILLER };

struct bf_ident {
	uint64_t kind;
	uint64_t idx;
	unsigned char pad[BF_IDENT_SIZE - 16];
};

static struct {
	unsigned long nodes;
	unsigned long files;
} conf = { .files = 16 };

static const struct fuse_opt bf_opts[] = {
	{ "nodes=%lu", offsetof(__typeof__(conf), nodes), 0 },
	{ "files=%lu", offsetof(__typeof__(conf), files), 0 },
	FUSE_OPT_END
};

static struct fuse_recover_store *st;
static struct fuse_session *se;

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void ident(struct bf_ident *id, uint64_t kind, uint64_t idx)
{
	memset(id, 0, sizeof(*id));
	id->kind = kind;
	id->idx = idx;
}

static uint64_t ident_key(const struct bf_ident *id)
{
	return mix(id->kind * 0x100000001b3ULL ^ mix(id->idx));
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Filler nodes: in the table as if looked up once, never forgotten. */
static int populate(void)
{
	struct bf_ident id;
	double t = now_ms();
	unsigned long i;
	fuse_ino_t ino;
	int err;

	for (i = 0; i < conf.nodes; i++) {
		ident(&id, BF_FILLER, i);
		err = fuse_recover_node_ref(st, ident_key(&id), &id, &ino,
					    NULL);
		if (err)
			return err;
	}
	if (conf.nodes)
		fprintf(stderr, "benchfs: %lu nodes put in the state table in %.0f ms\n",
			conf.nodes, now_ms() - t);
	return 0;
}

static void *warm_up(void *arg)
{
	struct bf_ident id;
	double t = now_ms();
	unsigned long i, found = 0;
	fuse_ino_t ino;

	(void)arg;
	for (i = 0; i < conf.nodes; i++) {
		ident(&id, BF_FILLER, i);
		found += fuse_recover_node_find(st, ident_key(&id), &id,
						&ino) == 0;
	}
	fprintf(stderr, "benchfs: warm (%lu of %lu nodes found in %.0f ms)\n",
		found, conf.nodes, now_ms() - t);
	return NULL;
}

static void bf_init(void *data, struct fuse_conn_info *conn)
{
	struct fuse_recover_store_config cfg = {
		.server_version = BF_STATE_VERSION,
		.node_data_size = BF_IDENT_SIZE,
	};
	struct bf_ident root;
	int err;

	(void)data;
	(void)conn;
	if (st)
		return;
	err = fuse_recover_store_open(&cfg, &st);
	if (err >= 0) {
		int fresh = err == 0;

		ident(&root, BF_ROOT, 0);
		err = fuse_recover_store_root(st, &root);
		if (!err && fresh)
			err = populate();
	}
	if (err < 0) {
		fprintf(stderr, "benchfs: state store: %s\n", strerror(-err));
		fuse_session_exit(se);
	}
}

static int fill(fuse_ino_t ino, struct stat *s)
{
	struct bf_ident id;

	memset(s, 0, sizeof(*s));
	s->st_ino = ino;
	if (ino == FUSE_ROOT_ID) {
		s->st_mode = S_IFDIR | 0755;
		s->st_nlink = 2;
		return 0;
	}
	if (fuse_recover_node_data(st, ino, &id) || id.kind != BF_FILE)
		return -ESTALE;
	s->st_mode = S_IFREG | 0644;
	s->st_nlink = 1;
	s->st_size = BF_FILE_SIZE;
	return 0;
}

static void bf_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e = { 0 };
	struct bf_ident id;
	unsigned long idx;
	char *end;
	int err;

	if (parent != FUSE_ROOT_ID || name[0] != 'f' || !name[1]) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	idx = strtoul(name + 1, &end, 10);
	if (*end || idx >= conf.files) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fuse_recover_req_begin(st, req);
	ident(&id, BF_FILE, idx);
	err = fuse_recover_node_ref(st, ident_key(&id), &id, &e.ino,
				    &e.generation);
	if (!err)
		err = fill(e.ino, &e.attr);
	if (err)
		fuse_reply_err(req, -err);
	else if (fuse_reply_entry(req, &e) != 0)
		fuse_recover_node_unref(st, e.ino);
	fuse_recover_req_end(st);
}

static void bf_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fuse_recover_node_forget(st, ino, nlookup);
	fuse_reply_none(req);
}

static void bf_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	size_t i;

	for (i = 0; i < count; i++)
		fuse_recover_node_forget(st, forgets[i].ino,
					 forgets[i].nlookup);
	fuse_reply_none(req);
}

static void bf_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct stat s;
	int err = fill(ino, &s);

	(void)fi;
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_attr(req, &s, 0);
}

static void bf_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	uint64_t fh;
	int err;

	if (ino == FUSE_ROOT_ID) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	fuse_recover_req_begin(st, req);
	err = fuse_recover_fh_new(st, ino, fi->flags, &fh);
	if (err < 0) {
		fuse_reply_err(req, -err);
	} else {
		fi->fh = fh;
		if (fuse_reply_open(req, fi) != 0)
			fuse_recover_fh_release(st, fh);
	}
	fuse_recover_req_end(st);
}

static void bf_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	(void)ino;
	fuse_recover_fh_release(st, fi->fh);
	fuse_reply_err(req, 0);
}

static void bf_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	static const char zero[BF_FILE_SIZE];
	fuse_ino_t fino;
	uint32_t flags;

	if (fuse_recover_fh_get(st, fi->fh, &fino, &flags) || fino != ino) {
		fuse_reply_err(req, EBADF);
		return;
	}
	if (off >= BF_FILE_SIZE)
		size = 0;
	else if (size > (size_t)(BF_FILE_SIZE - off))
		size = BF_FILE_SIZE - off;
	fuse_reply_buf(req, zero, size);
}

static const struct fuse_lowlevel_ops bf_ops = {
	.init = bf_init,
	.lookup = bf_lookup,
	.forget = bf_forget,
	.forget_multi = bf_forget_multi,
	.getattr = bf_getattr,
	.open = bf_open,
	.release = bf_release,
	.read = bf_read,
};

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts opts = { 0 };
	struct fuse_recover *fr = NULL;
	struct fuse_loop_config *config;
	int ret = 1, res;

	if (fuse_parse_cmdline(&args, &opts) != 0 || !opts.mountpoint ||
	    fuse_opt_parse(&args, &conf, bf_opts, NULL) != 0) {
		fprintf(stderr, "usage: benchfs -f -o tag=NAME[,nodes=N][,files=N] MOUNTPOINT\n");
		return 2;
	}
	res = fuse_recover_new(&args, &fr);
	if (res < 0) {
		fprintf(stderr, "benchfs: %s\n", strerror(-res));
		goto out;
	}
	se = fuse_session_new(&args, &bf_ops, sizeof(bf_ops), NULL);
	if (!se || fuse_set_signal_handlers(se) != 0)
		goto out;
	res = fuse_session_attach(se, opts.mountpoint, fr);
	if (res < 0) {
		fprintf(stderr, "benchfs: fuse_session_attach: %s\n",
			strerror(-res));
		goto out_signals;
	}
	if (!st)
		goto out_signals;	/* init failed: leave the mount as is */
	if (res == FUSE_RECOVER_RECOVERED && conf.nodes) {
		pthread_t th;

		if (pthread_create(&th, NULL, warm_up, NULL) == 0)
			pthread_detach(th);
	}
	if (opts.singlethread) {
		ret = fuse_session_loop(se);
	} else {
		config = fuse_loop_cfg_create();
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
	fuse_recover_store_close(st);
	fuse_recover_destroy(fr);
	fuse_opt_free_args(&args);
	free(opts.mountpoint);
	return ret ? 1 : 0;
}
