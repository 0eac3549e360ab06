// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * plain_ll: an ordinary libfuse 3.14-era lowlevel server that knows nothing
 * of recovery (no libfuse-recover, plain fuse_session_mount()), as the
 * integration tests run it through fuse-recover-run.  Its main() is the
 * one of libfuse's own examples of that time: mount, then daemonize unless
 * -f, then the loop.
 *
 * Usage: plain_ll [-f] [-s] [-o clone_fd] MOUNTPOINT
 */
#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>

#include "hello_ops.h"

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts opts;
	struct fuse_loop_config config;
	struct fuse_session *se;
	int ret = -1;

	if (fuse_parse_cmdline(&args, &opts) != 0)
		return 1;
	if (opts.show_help || !opts.mountpoint) {
		printf("usage: %s [options] <mountpoint>\n", argv[0]);
		fuse_cmdline_help();
		fuse_lowlevel_help();
		ret = opts.show_help ? 0 : 1;
		goto out_args;
	}
	se = fuse_session_new(&args, &hello_ops, sizeof(hello_ops), NULL);
	if (!se)
		goto out_args;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_session;
	if (fuse_session_mount(se, opts.mountpoint) != 0)
		goto out_signals;
	fprintf(stderr, "plain_ll: serving %s as pid %d\n", opts.mountpoint,
		(int)getpid());
	fuse_daemonize(opts.foreground);
	if (opts.singlethread) {
		ret = fuse_session_loop(se);
	} else {
		config.clone_fd = opts.clone_fd;
		config.max_idle_threads = opts.max_idle_threads;
		ret = fuse_session_loop_mt(se, &config);
	}
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_args:
	free(opts.mountpoint);
	fuse_opt_free_args(&args);
	return ret ? 1 : 0;
}
