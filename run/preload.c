// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libfuse-recover-preload.so: makes an unmodified libfuse3 server
 * restartable.  fuse-recover-run puts it in LD_PRELOAD; it defines
 * fuse_session_mount() and fuse_session_unmount(), which the server (and
 * libfuse's own fuse_mount()/fuse_unmount(), through the PLT) then call
 * instead of libfuse's, and turns them into fuse_session_attach() and
 * fuse_recover_unmount().
 *
 * libfuse-recover is dlopen()ed rather than linked: this object must not
 * drag libfuse3 into a process that does not have it, so that the check
 * below can tell a libfuse3 server from anything else.  libfuse-recover
 * calls fuse_session_mount() itself (to mount on first start); those
 * calls reach us too and go on to libfuse's, recognised by a per-thread
 * "inside" flag.
 *
 * Environment, set by fuse-recover-run and removed here so that nothing
 * the server starts (fuse-recoverd, fusermount3, helpers) inherits it:
 *   FUSE_RECOVER_RUN_TAG   the tag
 *   FUSE_RECOVER_RUN_OPTS  recovery -o options for fuse_recover_new()
 *   FUSE_RECOVER_RUN_LIB   path of libfuse-recover.so
 *   FUSE_RECOVER_RUN_CHECK 1: this process is the server binary itself,
 *                          so it must be a libfuse3 server
 */
#define FUSE_USE_VERSION 312
#include <fuse_recover.h>

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PFX "fuse-recover-run: "

struct fr_api {
	int (*mount)(struct fuse_session *se, const char *mountpoint);
	void (*unmount)(struct fuse_session *se);
	int (*new)(struct fuse_args *args, struct fuse_recover **frp);
	int (*set_tag)(struct fuse_recover *fr, const char *tag);
	void (*destroy)(struct fuse_recover *fr);
	int (*attach)(struct fuse_session *se, const char *mountpoint,
		      struct fuse_recover *fr);
	int (*end)(struct fuse_session *se);
	void (*free_args)(struct fuse_args *args);
};

static struct fr_api api;
static char *tag, *opts;
static char *cmdline;		/* the server's own arguments, NUL separated */
static size_t cmdline_len;
static struct fuse_session *attached;
static __thread int inside;

static char *take_env(const char *name)
{
	const char *v = getenv(name);
	char *copy = v ? strdup(v) : NULL;

	unsetenv(name);
	return copy;
}

/* Drops @self from LD_PRELOAD, keeping whatever else the user preloads. */
static void unpreload(const char *self)
{
	const char *v = getenv("LD_PRELOAD");
	size_t n = strlen(self);
	char *copy, *p, *out;

	if (!v || !(copy = strdup(v)))
		return;
	out = copy;
	for (p = copy; *p;) {
		size_t len = strcspn(p, ": ");

		if (len != n || strncmp(p, self, n) != 0) {
			if (out != copy)
				*out++ = ':';
			memmove(out, p, len);
			out += len;
		}
		p += len;
		p += strspn(p, ": ");
	}
	*out = 0;
	if (*copy)
		setenv("LD_PRELOAD", copy, 1);
	else
		unsetenv("LD_PRELOAD");
	free(copy);
}

/*
 * The server's arguments, read before its main() can change them: its
 * mount options (allow_other, fsname=, ...) matter where libfuse-recover
 * mounts by itself (the kernel path), and it finds them in the arguments
 * given to fuse_recover_new().
 */
static void read_cmdline(void)
{
	FILE *f = fopen("/proc/self/cmdline", "re");
	size_t cap = 0, n;
	char *p;

	if (!f)
		return;
	for (;;) {
		if (cmdline_len == cap) {
			p = realloc(cmdline, cap = cap ? cap * 2 : 4096);
			if (!p)
				break;
			cmdline = p;
		}
		n = fread(cmdline + cmdline_len, 1, cap - cmdline_len, f);
		if (!n)
			break;
		cmdline_len += n;
	}
	fclose(f);
	if (cmdline_len && cmdline[cmdline_len - 1])
		cmdline_len = 0; /* truncated: do without */
}

static void *sym(void *lib, const char *name)
{
	void *p = dlsym(lib, name);

	if (!p) {
		fprintf(stderr, PFX "%s has no %s: %s\n",
			getenv("FUSE_RECOVER_RUN_LIB"), name, dlerror());
		_exit(127);
	}
	return p;
}

/*
 * libfuse 3.17 raised the soname to libfuse3.so.4: a server built against
 * it, wrapped by a libfuse-recover built against libfuse3.so.3, has both
 * libraries loaded.  Every libfuse call of libfuse-recover then binds to
 * the server's copy (it comes first in the lookup order and keeps the
 * FUSE_3.x symbol versions), which is what recovery needs and what was
 * tested with 3.17 and 3.18; but that rests on no symbol missing from the
 * server's copy, so it is said.
 */
struct fuse_libs {
	const char *first;
	const char *other;
};

static int note_libfuse(struct dl_phdr_info *info, size_t size, void *data)
{
	struct fuse_libs *l = data;
	const char *base = strrchr(info->dlpi_name, '/');

	(void)size;
	base = base ? base + 1 : info->dlpi_name;
	if (strncmp(base, "libfuse3.so", 11) != 0)
		return 0;
	if (!l->first)
		l->first = info->dlpi_name;
	else if (strcmp(l->first, info->dlpi_name) != 0)
		l->other = info->dlpi_name;
	return 0;
}

static void warn_two_libfuses(void)
{
	struct fuse_libs l = { NULL, NULL };

	dl_iterate_phdr(note_libfuse, &l);
	if (l.other)
		fprintf(stderr,
			PFX "the server uses %s, libfuse-recover was built against %s: both are loaded and libfuse-recover calls the server's; build libfuse-recover against the server's libfuse\n",
			l.first, l.other);
}

__attribute__((constructor)) static void preload_init(void)
{
	const char *check = getenv("FUSE_RECOVER_RUN_CHECK");
	const char *libpath = getenv("FUSE_RECOVER_RUN_LIB");
	Dl_info self;
	void *lib;

	api.mount = dlvsym(RTLD_NEXT, "fuse_session_mount", "FUSE_3.0");
	api.unmount = dlvsym(RTLD_NEXT, "fuse_session_unmount", "FUSE_3.0");
	if (!api.mount || !api.unmount) {
		/* Not libfuse3: a shell or interpreter on its way to one? */
		if (check && strcmp(check, "1") == 0) {
			fprintf(stderr,
				PFX "this program does not use libfuse3 as a shared library (statically linked, or not a libfuse3 server): it cannot be made recoverable without changing its source\n");
			_exit(126);
		}
		return;
	}
	if (!libpath || !getenv("FUSE_RECOVER_RUN_TAG")) {
		fprintf(stderr, PFX "preloaded without fuse-recover-run\n");
		_exit(126);
	}
	lib = dlopen(libpath, RTLD_NOW | RTLD_GLOBAL);
	if (!lib) {
		fprintf(stderr, PFX "cannot load %s: %s\n", libpath, dlerror());
		_exit(127);
	}
	warn_two_libfuses();
	api.new = sym(lib, "fuse_recover_new");
	api.set_tag = sym(lib, "fuse_recover_set_tag");
	api.destroy = sym(lib, "fuse_recover_destroy");
	api.attach = sym(lib, "fuse_session_attach");
	api.end = sym(lib, "fuse_recover_unmount");
	api.free_args = sym(lib, "fuse_opt_free_args");
	read_cmdline();
	tag = take_env("FUSE_RECOVER_RUN_TAG");
	opts = take_env("FUSE_RECOVER_RUN_OPTS");
	free(take_env("FUSE_RECOVER_RUN_LIB"));
	unsetenv("FUSE_RECOVER_RUN_CHECK");
	if (dladdr((void *)preload_init, &self) && self.dli_fname)
		unpreload(self.dli_fname);
}

/* Settings from our -o options and, if it parses, the server's own. */
static int recover_new(bool with_server_args, struct fuse_recover **frp)
{
	char prog[] = "fuse-recover-run", o[] = "-o";
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	size_t i, n = 1;
	char **argv;
	int err;

	for (i = 0; with_server_args && i < cmdline_len; i++)
		n += !cmdline[i];
	argv = calloc(n + 3, sizeof(*argv));
	if (!argv)
		return -ENOMEM;
	argv[args.argc++] = prog;
	/* argv[0] of the server is skipped: fuse_opt_parse() keeps it. */
	for (i = strlen(cmdline ? cmdline : "") + 1;
	     with_server_args && i < cmdline_len; i += strlen(cmdline + i) + 1)
		argv[args.argc++] = cmdline + i;
	if (opts && *opts) {
		argv[args.argc++] = o;
		argv[args.argc++] = opts;
	}
	args.argv = argv;
	err = api.new(&args, frp);
	if (args.allocated)
		api.free_args(&args);
	free(argv);
	return err;
}

static int attach(struct fuse_session *se, const char *mountpoint)
{
	struct fuse_recover *fr = NULL;
	int err = recover_new(true, &fr);

	if (err == -EINVAL)
		err = recover_new(false, &fr);
	if (!err)
		err = api.set_tag(fr, tag);
	if (!err)
		err = api.attach(se, mountpoint, fr);
	if (err < 0)
		fprintf(stderr, PFX "cannot attach %s with tag %s: %s\n",
			mountpoint, tag, strerror(-err));
	api.destroy(fr);
	return err < 0 ? err : 0; /* FUSE_RECOVER_RECOVERED is success */
}

int fuse_session_mount(struct fuse_session *se, const char *mountpoint)
{
	int err;

	if (!api.mount) {
		errno = ENOSYS;
		return -1;
	}
	if (inside || !api.attach)
		return api.mount(se, mountpoint);
	if (attached) {
		/* libfuse-recover attaches one session per process. */
		fprintf(stderr, PFX "%s is mounted without recovery\n",
			mountpoint);
		return api.mount(se, mountpoint);
	}
	inside = 1;
	err = attach(se, mountpoint);
	inside = 0;
	if (err)
		return -1;
	attached = se;
	return 0;
}

void fuse_session_unmount(struct fuse_session *se)
{
	if (!api.unmount)
		return;
	if (inside || se != attached) {
		api.unmount(se);
		return;
	}
	inside = 1;
	api.end(se);
	inside = 0;
	attached = NULL;
}
