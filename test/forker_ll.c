// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * forker_ll: a restartable server that forks helper processes after
 * attaching, to test that the supervisor never takes a helper for the
 * server.  -o helper=exec: the child execs "sleep 60" (it lives on, but
 * without the connection, which is close-on-exec); -o helper=exit: the
 * child exits at once.  Prints "forker_ll: helper pid N".
 *
 * Usage: forker_ll -f -o tag=NAME,helper=exec|exit MOUNTPOINT
 */
#define FUSE_USE_VERSION 312
#include <fuse_recover.h>

#include "hello_ops.h"

#include <sys/wait.h>

static char *helper;
static const struct fuse_opt forker_opts[] = {
	{ "helper=%s", 0, 0 },
	FUSE_OPT_END
};

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_recover *fr = NULL;
	struct fuse_cmdline_opts opts;
	struct fuse_session *se = NULL;
	int ret = 1;
	pid_t pid;

	/* Errors free what was made too: the ASan build checks leaks. */
	opts.mountpoint = NULL;
	if (fuse_parse_cmdline(&args, &opts) != 0 || !opts.mountpoint ||
	    fuse_opt_parse(&args, &helper, forker_opts, NULL) != 0 || !helper ||
	    fuse_recover_new(&args, &fr) < 0) {
		ret = 2;
		goto out;
	}
	se = fuse_session_new(&args, &hello_ops, sizeof(hello_ops), NULL);
	if (!se || fuse_set_signal_handlers(se) != 0)
		goto out;
	if (fuse_session_attach(se, opts.mountpoint, fr) < 0)
		goto out_signals;
	pid = fork();
	if (pid == 0) {
		if (strcmp(helper, "exec") == 0)
			execlp("sleep", "sleep", "60", (char *)NULL);
		_exit(0);
	}
	fprintf(stderr, "forker_ll: helper pid %d\n", (int)pid);
	if (strcmp(helper, "exit") == 0)
		waitpid(pid, NULL, 0);
	ret = fuse_session_loop(se) ? 1 : 0;
	fuse_recover_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out:
	if (se)
		fuse_session_destroy(se);
	fuse_recover_destroy(fr);
	fuse_opt_free_args(&args);
	free(opts.mountpoint);
	return ret;
}
