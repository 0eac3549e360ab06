// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fuse-recover-run: run an unmodified libfuse3 server binary so that it
 * survives its own crash.
 *
 *     fuse-recover-run --tag NAME [-o recover_restarts=N,...] -- SERVER ARGS
 *
 * It checks what it can before the server starts (the tag, the options, a
 * binary the dynamic loader would preload into), then puts
 * libfuse-recover-preload.so into LD_PRELOAD and execs the server in its
 * place: same pid, same stdio, same exit status.  The preloaded object turns
 * the server's fuse_session_mount() into fuse_session_attach() (run/preload.c).
 */
#define FUSE_USE_VERSION 312
#include <fuse_recover.h>

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define PFX "fuse-recover-run: "

/* Where the preload object is installed, seen from the installed binary. */
#ifndef FR_PRELOAD_REL
#define FR_PRELOAD_REL "../lib/fuse-recover/libfuse-recover-preload.so"
#endif
#ifndef FR_PRELOAD_ABS
#define FR_PRELOAD_ABS "/usr/lib/fuse-recover/libfuse-recover-preload.so"
#endif

static void usage(FILE *f)
{
	fprintf(f,
		"usage: fuse-recover-run --tag NAME [-o OPTIONS] [--] SERVER [ARGS...]\n"
		"Runs an unmodified libfuse3 server binary so that it can be killed\n"
		"and started again with the same command: the mount stays.\n"
		"  -t, --tag NAME   names the mount (the same for every restart)\n"
		"  -o OPTIONS       recover_restarts=N, recover_window=SEC,\n"
		"                   recover_timeout=SEC (see fuse_recover_new(3))\n"
		"  -h, --help       this text\n"
		"Environment: FUSE_RECOVER_PRELOAD overrides the preload object.\n");
}

static void die(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

static void die(int code, const char *fmt, ...)
{
	va_list ap;

	fputs(PFX, stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

/* Our own -o: only the recovery options, checked by the library itself. */
static void check_options(const char *opts)
{
	char prog[] = "fuse-recover-run", o[] = "-o", *copy = strdup(opts);
	char *argv[] = { prog, o, copy, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	struct fuse_recover *fr = NULL;
	int err;

	if (!copy)
		die(1, "out of memory");
	err = fuse_recover_new(&args, &fr);
	if (err)
		die(2, "bad -o %s: %s", opts, strerror(-err));
	if (args.argc != 1)
		die(2, "-o %s: only recover_restarts=, recover_window= and recover_timeout= are options of fuse-recover-run; give the server its own options after --",
		    opts);
	if (fuse_recover_tag(fr))
		die(2, "give the tag with --tag, not -o tag=");
	fuse_recover_destroy(fr);
	fuse_opt_free_args(&args);
	free(copy);
}

static bool has_auto_unmount(char **argv)
{
	int i;

	for (i = 1; argv[i]; i++) {
		const char *o = argv[i];
		char *copy, *tok, *save;
		bool found = false;

		if (strcmp(o, "-o") == 0 && argv[i + 1])
			o = argv[++i];
		else if (strncmp(o, "-o", 2) == 0)
			o += 2;
		else
			continue;
		copy = strdup(o);
		for (tok = strtok_r(copy, ",", &save); tok && !found;
		     tok = strtok_r(NULL, ",", &save))
			found = strcmp(tok, "auto_unmount") == 0;
		free(copy);
		if (found)
			return true;
	}
	return false;
}

/* The server's path, as execvp() would find it. */
static char *find_server(const char *name)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];
	const char *p, *end;

	if (strchr(name, '/'))
		return access(name, X_OK) == 0 ? strdup(name) : NULL;
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; *p; p = *end ? end + 1 : end) {
		struct stat st;
		size_t n;

		end = strchrnul(p, ':');
		n = end - p;
		if (snprintf(buf, sizeof(buf), "%.*s/%s", (int)n,
			     n ? p : ".", name) >= (int)sizeof(buf))
			continue;
		if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(buf, X_OK) == 0)
			return strdup(buf);
	}
	return NULL;
}

/*
 * 1: a dynamically linked ELF binary, 0: not ELF (a script: its
 * interpreter is checked when it runs the real server), -1: statically
 * linked (the loader never preloads anything into it).
 */
static int elf_kind(const char *path)
{
	unsigned char id[EI_NIDENT];
	int fd = open(path, O_RDONLY | O_CLOEXEC), kind = 0;
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	unsigned int i;

	if (fd < 0)
		die(126, "cannot open %s: %s", path, strerror(errno));
	if (pread(fd, id, sizeof(id), 0) != sizeof(id) ||
	    memcmp(id, ELFMAG, SELFMAG) != 0)
		goto out;
	if (id[EI_CLASS] != ELFCLASS64) {
		kind = 1; /* let the loader and the check at start judge */
		goto out;
	}
	kind = -1;
	if (pread(fd, &eh, sizeof(eh), 0) != sizeof(eh) ||
	    eh.e_phentsize != sizeof(ph))
		goto out;
	for (i = 0; i < eh.e_phnum; i++) {
		if (pread(fd, &ph, sizeof(ph), eh.e_phoff + i * sizeof(ph)) !=
		    sizeof(ph))
			break;
		if (ph.p_type == PT_INTERP) {
			kind = 1;
			break;
		}
	}
out:
	close(fd);
	return kind;
}

/* The loader ignores LD_PRELOAD in a set-id or file-capability binary. */
static bool preload_ignored(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return false;
	if ((st.st_mode & S_ISUID) && st.st_uid != getuid())
		return true;
	if ((st.st_mode & S_ISGID) && st.st_gid != getgid())
		return true;
	return getxattr(path, "security.capability", NULL, 0) >= 0;
}

static char *find_preload(void)
{
	const char *env = getenv("FUSE_RECOVER_PRELOAD");
	char self[PATH_MAX], buf[PATH_MAX * 2], *slash;
	ssize_t n;

	if (env && *env) {
		if (env[0] != '/' || access(env, R_OK) != 0)
			die(1, "FUSE_RECOVER_PRELOAD=%s: %s", env,
			    env[0] != '/' ? "not an absolute path" :
					    strerror(errno));
		return strdup(env);
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = 0;
		slash = strrchr(self, '/');
		if (slash) {
			*slash = 0;
			snprintf(buf, sizeof(buf), "%s/%s", self,
				 FR_PRELOAD_REL);
			if (access(buf, R_OK) == 0)
				return realpath(buf, NULL);
		}
	}
	if (access(FR_PRELOAD_ABS, R_OK) == 0)
		return strdup(FR_PRELOAD_ABS);
	die(1, "cannot find libfuse-recover-preload.so (looked next to %s and in %s); set FUSE_RECOVER_PRELOAD",
	    n > 0 ? self : "this program", FR_PRELOAD_ABS);
}

/* The very libfuse-recover we run with goes to the server. */
static const char *library_path(void)
{
	Dl_info info;

	if (!dladdr((void *)fuse_recover_new, &info) || !info.dli_fname ||
	    info.dli_fname[0] != '/')
		die(1, "cannot tell where libfuse-recover is loaded from");
	return info.dli_fname;
}

int main(int argc, char *argv[])
{
	static const struct option lopts[] = {
		{ "tag", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *tag = NULL, *old;
	char *opts = NULL, *server, *preload, *ld;
	int c, err, kind;

	while ((c = getopt_long(argc, argv, "+t:o:h", lopts, NULL)) != -1) {
		switch (c) {
		case 't':
			tag = optarg;
			break;
		case 'o':
			if (opts) {
				char *both;

				if (asprintf(&both, "%s,%s", opts, optarg) < 0)
					die(1, "out of memory");
				free(opts);
				opts = both;
			} else {
				opts = strdup(optarg);
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!tag) {
		usage(stderr);
		die(2, "--tag is required");
	}
	err = fuse_recover_tag_valid(tag);
	if (err)
		die(2, "invalid tag %s: %s (1 to %d of [A-Za-z0-9._-], starting with a letter or digit)",
		    tag, strerror(-err), FUSE_RECOVER_TAG_MAX);
	if (opts)
		check_options(opts);
	if (optind >= argc) {
		usage(stderr);
		die(2, "no server to run");
	}
	argv += optind;
	server = find_server(argv[0]);
	if (!server)
		die(127, "%s: no such executable", argv[0]);
	kind = elf_kind(server);
	if (kind < 0)
		die(126, "%s is statically linked: its fuse_session_mount() cannot be replaced from outside; call fuse_session_attach() in its source instead",
		    server);
	if (preload_ignored(server))
		die(126, "%s is set-user-ID, set-group-ID or has file capabilities: the loader would ignore LD_PRELOAD",
		    server);
	if (has_auto_unmount(argv))
		die(2, "the server's -o auto_unmount would unmount on every crash: drop it");

	preload = find_preload();
	old = getenv("LD_PRELOAD");
	if (old && *old) {
		if (asprintf(&ld, "%s:%s", preload, old) < 0)
			die(1, "out of memory");
	} else {
		ld = preload;
	}
	if (setenv("LD_PRELOAD", ld, 1) ||
	    setenv("FUSE_RECOVER_RUN_TAG", tag, 1) ||
	    setenv("FUSE_RECOVER_RUN_OPTS", opts ? opts : "", 1) ||
	    setenv("FUSE_RECOVER_RUN_LIB", library_path(), 1) ||
	    (kind == 1 && setenv("FUSE_RECOVER_RUN_CHECK", "1", 1)))
		die(1, "cannot set the environment: %s", strerror(errno));
	if (kind == 0)
		unsetenv("FUSE_RECOVER_RUN_CHECK");
	execv(server, argv);
	die(126, "cannot run %s: %s", server, strerror(errno));
}
