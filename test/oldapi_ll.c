// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * oldapi_ll: a libfuse 3.14-era lowlevel server at its own FUSE_USE_VERSION
 * (the build gives 34 or 35), changed only by the three documented calls:
 * fuse_recover_new(), fuse_session_attach() instead of
 * fuse_session_mount(), fuse_recover_unmount() instead of
 * fuse_session_unmount().  Its loop configuration is the pre-3.12 public
 * struct fuse_loop_config, untouched.  Like libfuse's examples of that
 * time it daemonizes after mounting unless -f.
 *
 * Usage: oldapi_ll [-f] [-s] [-o clone_fd] -o tag=NAME MOUNTPOINT
 */
#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 34
#endif
#include <fuse_recover.h>

#include "hello_ops.h"

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_recover *fr = NULL;
	struct fuse_cmdline_opts opts;
	struct fuse_loop_config config;
	struct fuse_session *se;
	int ret = -1;

	if (fuse_parse_cmdline(&args, &opts) != 0)
		return 1;
	if (opts.show_help || !opts.mountpoint) {
		printf("usage: %s [options] -o tag=NAME <mountpoint>\n",
		       argv[0]);
		fuse_cmdline_help();
		fuse_lowlevel_help();
		ret = opts.show_help ? 0 : 1;
		goto out_args;
	}
	if (fuse_recover_new(&args, &fr) < 0)
		goto out_args;
	se = fuse_session_new(&args, &hello_ops, sizeof(hello_ops), NULL);
	if (!se)
		goto out_args;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_session;
	if (fuse_session_attach(se, opts.mountpoint, fr) < 0)
		goto out_signals;
	fprintf(stderr, "oldapi_ll %d: serving %s as pid %d\n",
		FUSE_USE_VERSION, opts.mountpoint, (int)getpid());
	fuse_daemonize(opts.foreground);
	if (opts.singlethread) {
		ret = fuse_session_loop(se);
	} else {
		config.clone_fd = opts.clone_fd;
		config.max_idle_threads = opts.max_idle_threads;
		ret = fuse_session_loop_mt(se, &config);
	}
	fuse_recover_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_args:
	fuse_recover_destroy(fr);
	free(opts.mountpoint);
	fuse_opt_free_args(&args);
	return ret ? 1 : 0;
}
