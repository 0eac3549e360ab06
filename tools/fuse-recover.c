// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fuse-recover: the operator's command.  Lists the tags of the calling
 * user's runtime directory and what their supervisors hold, upgrades a
 * tag's server live, unmounts or aborts a tag.  It talks to fuse-recoverd
 * over the tag's socket, so the supervisor's rule applies: the owner of
 * the tag or root.
 */
#include "../lib/proto.h"
#include "../lib/runtime.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static bool json;

void fr_log(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > LOG_WARNING)
		return;
	fputs("fuse-recover: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: fuse-recover [--json] list\n"
		"       fuse-recover [--json] status TAG\n"
		"       fuse-recover [--json] upgrade [--confirm SEC] [--log FILE]\n"
		"                    [--timeout SEC] TAG -- SERVER [ARGS...]\n"
		"       fuse-recover stop TAG\n"
		"       fuse-recover abort TAG\n");
}

static int die(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("fuse-recover: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

static int socket_at(const char *dir, const char *tag, const char *kind)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[FR_PATH_MAX];
	int fd;

	if (fr_tag_path(path, dir, tag, kind))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static int tag_socket(const char *dir, const char *tag)
{
	return socket_at(dir, tag, "sock");
}

static int connect_tag(const char *dir, const char *tag)
{
	int fd = tag_socket(dir, tag);

	if (fd == -ENOENT || fd == -ECONNREFUSED)
		die(1, "no supervisor holds tag %s (in %s)", tag, dir);
	if (fd < 0)
		die(1, "cannot reach the supervisor of tag %s: %s", tag,
		    strerror(-fd));
	return fd;
}

/* One reply, waited for at most @timeout_ms (-1: forever). */
static int call(int sock, const struct frp_msg *m, char *buf,
		struct frp_msg *r, int timeout_ms)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };
	int err = frp_send(sock, m);

	if (err)
		return err;
	for (;;) {
		int n = poll(&p, 1, timeout_ms);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ETIMEDOUT;
		break;
	}
	err = frp_recv(sock, buf, r);
	if (!err)
		frp_close_fds(r);
	return err;
}

/* ---- status ---- */

#define MAX_KV 48

struct kv {
	char key[32];
	char val[256];
};

struct info {
	struct kv kv[MAX_KV];
	int n;
};

static void info_set(struct info *in, const char *k, const char *fmt, ...)
{
	struct kv *e = NULL;
	va_list ap;
	int i;

	for (i = 0; i < in->n; i++)
		if (!strcmp(in->kv[i].key, k))
			e = &in->kv[i];
	if (!e) {
		if (in->n == MAX_KV)
			return;
		e = &in->kv[in->n++];
		snprintf(e->key, sizeof(e->key), "%s", k);
	}
	va_start(ap, fmt);
	vsnprintf(e->val, sizeof(e->val), fmt, ap);
	va_end(ap);
}

static const char *info_get(const struct info *in, const char *k)
{
	int i;

	for (i = 0; i < in->n; i++)
		if (!strcmp(in->kv[i].key, k))
			return in->kv[i].val;
	return NULL;
}

static void parse_info(struct info *in, const char *text, size_t len)
{
	char line[320];
	size_t i = 0;

	while (i < len) {
		size_t j = i;
		char *eq;

		while (j < len && text[j] != '\n')
			j++;
		if (j - i < sizeof(line)) {
			memcpy(line, text + i, j - i);
			line[j - i] = '\0';
			eq = strchr(line, '=');
			if (eq) {
				*eq = '\0';
				info_set(in, line, "%s", eq + 1);
			}
		}
		i = j + 1;
	}
}

/* Seconds the process has run, from /proc (our pid namespace). */
static double uptime_of(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long start;
	double up;
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	/* field 3 is right after ")"; starttime is field 22 */
	for (i = 3; i <= 22 && p; i++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%llu", &start) != 1)
		return -1;
	f = fopen("/proc/uptime", "re");
	if (!f)
		return -1;
	if (fscanf(f, "%lf", &up) != 1)
		up = -1;
	fclose(f);
	return up < 0 ? -1 : up - (double)start / sysconf(_SC_CLK_TCK);
}

/* fusectl's count, where fusectl is mounted; "unknown" elsewhere. */
static void add_waiting(struct info *in)
{
	const char *conn = info_get(in, "connection");
	char path[96], buf[32];
	int fd;
	ssize_t n;

	info_set(in, "waiting", "unknown");
	if (!conn)
		return;
	snprintf(path, sizeof(path), "/sys/fs/fuse/connections/%s/waiting",
		 conn);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	info_set(in, "waiting", "%s", buf);
}

/* Kernel path tags have no supervisor; their mount names them (tag=). */
static void kernel_mount(const char *tag, struct info *in)
{
	char line[4096], want[96];
	FILE *f = fopen("/proc/self/mountinfo", "re");

	snprintf(want, sizeof(want), "tag=%s", tag);
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char mnt[PATH_MAX], *sep = strstr(line, " - ");
		unsigned int maj, min;

		if (!sep || !strstr(sep, " fuse") || !strstr(sep, want))
			continue;
		if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &maj, &min,
			   mnt) == 3) {
			info_set(in, "mountpoint", "%s", mnt);
			info_set(in, "connection", "%u", min);
		}
	}
	fclose(f);
}

struct kept_sum {
	unsigned int files;
	long long bytes;
};

static int add_kept_file(int dirfd, const char *name, unsigned int kind,
			 uint64_t key, void *arg)
{
	struct kept_sum *sum = arg;
	struct stat st;

	(void)kind;
	(void)key;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode)) {
		sum->files++;
		sum->bytes += st.st_size;
	}
	return 0;
}

/*
 * A kernel-path tag's kept memory is files, RUNTIME_DIR/TAG.keep-KIND-KEY
 * (lib/kattach.c), not fds of a supervisor: their count and bytes.
 */
static void kernel_kept(const char *dir, const char *tag, struct info *in)
{
	struct kept_sum sum = { 0, 0 };

	if (fr_kept_files_each(dir, tag, add_kept_file, &sum) < 0) {
		info_set(in, "kept_files", "unknown");
		info_set(in, "state_bytes", "unknown");
		return;
	}
	info_set(in, "kept_files", "%u", sum.files);
	info_set(in, "state_bytes", "%lld", sum.bytes);
}

static int query(const char *dir, const char *tag, struct info *in)
{
	struct frp_msg m = { .type = FRP_STATUS }, r;
	char buf[FRP_MAX_MSG];
	const char *pid;
	double up;
	int sock = tag_socket(dir, tag), err;
	bool kernel = false;

	/* No supervisor: a kernel-path server answers for itself. */
	if (sock == -ENOENT || sock == -ECONNREFUSED) {
		sock = socket_at(dir, tag, "upgrade");
		kernel = true;
	}
	if (sock < 0)
		return sock;
	err = call(sock, &m, buf, &r, 5000);
	close(sock);
	if (err)
		return err;
	if (r.type == FRP_ACK)
		return r.status < 0 ? r.status : -EPROTO;
	if (r.type != FRP_INFO)
		return -EPROTO;
	parse_info(in, r.blob[0], r.blob_len[0]);
	if (kernel) {	/* its mount point and connection, for "waiting" */
		kernel_mount(tag, in);
		kernel_kept(dir, tag, in);
	}
	pid = info_get(in, "server_pid");
	up = pid && atoi(pid) > 0 ? uptime_of(atoi(pid)) : -1;
	if (up >= 0)
		info_set(in, "uptime_sec", "%.1f", up);
	else
		info_set(in, "uptime_sec", "unknown");
	add_waiting(in);
	return 0;
}

static bool is_number(const char *s)
{
	char *end;

	if (!*s)
		return false;
	strtod(s, &end);
	return *end == '\0' && (s[0] == '-' || (s[0] >= '0' && s[0] <= '9'));
}

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void print_info(const struct info *in, const char *indent)
{
	int i;

	if (!json) {
		for (i = 0; i < in->n; i++)
			printf("%s%-18s %s\n", indent, in->kv[i].key,
			       in->kv[i].val);
		return;
	}
	printf("{");
	for (i = 0; i < in->n; i++) {
		const char *v = in->kv[i].val;

		printf("%s", i ? ", " : "");
		json_string(in->kv[i].key);
		printf(": ");
		if (!strcmp(v, "unknown"))
			printf("null");
		else if (is_number(v) && strcmp(in->kv[i].key, "tag") != 0)
			printf("%s", v);
		else
			json_string(v);
	}
	printf("}");
}

/*
 * A kernel-path tag (TAG.init, no supervisor's socket) whose server did
 * not answer (@err): none serves, one attached by an older library, or
 * it is stopped or busy.  What the kernel knows is said all the same.
 */
static bool kernel_unanswered(const char *dir, const char *tag,
			      struct info *in, int err)
{
	char path[FR_PATH_MAX];
	struct stat st;

	if (fr_tag_path(path, dir, tag, "init") || stat(path, &st) < 0 ||
	    fr_tag_path(path, dir, tag, "sock") || stat(path, &st) == 0)
		return false;
	in->n = 0;
	info_set(in, "tag", "%s", tag);
	info_set(in, "path", "kernel");
	info_set(in, "server_pid", "unknown");
	info_set(in, "server", "not answering: %s", strerror(-err));
	kernel_mount(tag, in);
	kernel_kept(dir, tag, in);
	add_waiting(in);
	return true;
}

static int cmd_status(const char *dir, const char *tag)
{
	struct info in = { .n = 0 };
	int err = query(dir, tag, &in);

	if (err && kernel_unanswered(dir, tag, &in, err))
		err = 0;
	if (err == -ENOENT || err == -ECONNREFUSED)
		die(1, "no supervisor holds tag %s (in %s)", tag, dir);
	if (err)
		die(1, "tag %s: %s", tag, strerror(-err));
	print_info(&in, "");
	if (json)
		putchar('\n');
	return 0;
}


static int has_suffix(const char *name, const char *suffix, char *tag,
		      size_t size)
{
	size_t n = strlen(name), k = strlen(suffix);

	if (n <= k || strcmp(name + n - k, suffix) || n - k >= size)
		return 0;
	memcpy(tag, name, n - k);
	tag[n - k] = '\0';
	return 1;
}

static int cmd_list(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool first = true;
	char tag[80], path[FR_PATH_MAX];
	struct stat st;

	if (!d)
		die(1, "cannot read %s: %s", dir, strerror(errno));
	if (json)
		printf("[");
	while ((e = readdir(d))) {
		struct info in = { .n = 0 };
		int err = 1;

		if (has_suffix(e->d_name, ".sock", tag, sizeof(tag))) {
			err = query(dir, tag, &in);
			if (err)
				info_set(&in, "tag", "%s", tag);
			if (err)
				info_set(&in, "error", "%s", strerror(-err));
		} else if (has_suffix(e->d_name, ".init", tag, sizeof(tag)) &&
			   fr_tag_path(path, dir, tag, "sock") == 0 &&
			   stat(path, &st) < 0) {
			/* Its server answers, or says nothing. */
			err = query(dir, tag, &in);
			if (err)
				kernel_unanswered(dir, tag, &in, err);
		} else {
			continue;
		}
		if (json) {
			printf("%s", first ? "" : ", ");
			print_info(&in, "");
		} else {
			printf("%s%s\n", first ? "" : "\n",
			       info_get(&in, "tag"));
			print_info(&in, "  ");
		}
		first = false;
	}
	closedir(d);
	if (json)
		printf("]\n");
	return 0;
}

/* ---- upgrade ---- */

static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *find_program(const char *name)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX], *copy, *dirp, *save = NULL;

	if (strchr(name, '/'))
		return realpath(name, NULL);
	copy = strdup(path ? path : "/usr/bin:/bin");
	if (!copy)
		return NULL;
	for (dirp = strtok_r(copy, ":", &save); dirp;
	     dirp = strtok_r(NULL, ":", &save)) {
		snprintf(buf, sizeof(buf), "%s/%s", *dirp ? dirp : ".", name);
		if (access(buf, X_OK) == 0) {
			free(copy);
			return realpath(buf, NULL);
		}
	}
	free(copy);
	return NULL;
}

static size_t pack(char *out, size_t size, char **v, bool *fits)
{
	size_t off = 0;

	for (; *v; v++) {
		size_t n = strlen(*v) + 1;

		if (off + n > size) {
			*fits = false;
			return off;
		}
		memcpy(out + off, *v, n);
		off += n;
	}
	return off;
}

/* No supervisor's socket, but a kernel-path server's upgrade socket. */
static bool kernel_path_tag(const char *dir, const char *tag)
{
	char sock[FR_PATH_MAX], up[FR_PATH_MAX];
	struct stat st;

	return fr_tag_path(sock, dir, tag, "sock") == 0 &&
	       stat(sock, &st) < 0 &&
	       fr_tag_path(up, dir, tag, "upgrade") == 0 &&
	       stat(up, &st) == 0;
}

/* Upgrades of a kernel-path tag that failed so far (its server counts). */
static unsigned long failed_upgrades(const struct info *in)
{
	const char *r = info_get(in, "refused_upgrades");
	const char *b = info_get(in, "rollbacks");

	return (r ? strtoul(r, NULL, 10) : 0) + (b ? strtoul(b, NULL, 10) : 0);
}

/*
 * The old server @old serves on: says why, from its own account if it
 * counted a failure since @base (else the successor never got as far as
 * offering itself), with @what the successor's end.
 */
static int kernel_failed(const char *dir, const char *tag, pid_t old,
			 unsigned long base, const char *what)
{
	struct info in = { .n = 0 };
	const char *why = NULL;

	if (query(dir, tag, &in) == 0 && failed_upgrades(&in) > base)
		why = info_get(&in, "last_upgrade");
	fprintf(stderr, "fuse-recover: upgrade of tag %s failed: %s (%s); pid %d serves on\n",
		tag, why ? why : "the new server was never offered (see its log)",
		what, (int)old);
	return 1;
}

/*
 * No supervisor to start the successor: we start it, detached, with
 * FUSE_RECOVER_UPGRADE=1 (the rest of our environment, FUSE_RECOVER_*
 * included, goes with it) and learn the outcome by watching both: the
 * old pid exiting while the successor lives is a retirement (the old
 * one retires only once the confirmation period passed); the successor
 * exiting first with an error is a refusal or a rollback (the old one
 * resumed), and the old server's status says which.  A successor that
 * exits 0 first has daemonized (its child goes on): from then on the old
 * server's counts tell a failure, its exit success, and the serving pid
 * is asked for.  The old one is watched through a pidfd: it is not our
 * child, and its parent may not reap it at once (kill(pid, 0) succeeds
 * on a zombie) or the pid could be reused.
 */
static int kernel_upgrade(const char *dir, const char *tag, char **argv,
			  const char *confirm_ms, int out, double timeout)
{
	struct info in = { .n = 0 };
	const char *s;
	pid_t old, child, serving;
	double end, ask = 0;
	unsigned long base;
	bool detached = false;
	int err = query(dir, tag, &in), status, old_fd;
	char what[96];

	if (err)
		die(1, "tag %s: the serving server does not answer: %s", tag,
		    strerror(-err));
	s = info_get(&in, "server_pid");
	old = s ? atoi(s) : 0;
	if (old <= 0)
		die(1, "tag %s: the serving server did not say its pid", tag);
	base = failed_upgrades(&in);
	old_fd = syscall(SYS_pidfd_open, old, 0);
	if (old_fd < 0)
		die(1, "tag %s: pid %d: %s", tag, (int)old, strerror(errno));
	child = fork();
	if (child < 0)
		die(1, "fork: %s", strerror(errno));
	if (child == 0) {
		int null = open("/dev/null", O_RDWR);

		setsid();
		if (null >= 0)
			dup2(null, STDIN_FILENO);
		dup2(out, STDOUT_FILENO);
		dup2(out, STDERR_FILENO);
		setenv("FUSE_RECOVER_UPGRADE", "1", 1);
		if (confirm_ms)
			setenv("FUSE_RECOVER_CONFIRM_MS", confirm_ms, 1);
		execvp(argv[0], argv);
		fprintf(stderr, "fuse-recover: %s: %s\n", argv[0],
			strerror(errno));
		_exit(127);
	}
	serving = child;
	for (end = now_sec() + timeout; now_sec() < end; usleep(50000)) {
		struct pollfd p = { .fd = old_fd, .events = POLLIN };

		if (!detached && waitpid(child, &status, WNOHANG) == child) {
			if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
				detached = true;
				serving = 0;
			} else {
				snprintf(what, sizeof(what), "the new server pid %d %s %d",
					 (int)child,
					 WIFEXITED(status) ? "exited with status" :
							     "was killed by signal",
					 WIFEXITED(status) ? WEXITSTATUS(status) :
							     WTERMSIG(status));
				return kernel_failed(dir, tag, old, base, what);
			}
		}
		if (poll(&p, 1, 0) == 1) {
			struct info now = { .n = 0 };

			/* The successor listens once the old one is gone. */
			while (!serving && now_sec() < end &&
			       query(dir, tag, &now) == 0) {
				s = info_get(&now, "server_pid");
				serving = s && atoi(s) != old ? atoi(s) : 0;
				now.n = 0;
				if (!serving)
					usleep(50000);
			}
			if (serving)
				printf("upgraded tag %s: pid %d serves\n", tag,
				       (int)serving);
			else
				printf("upgraded tag %s: the new server serves (its pid did not answer)\n",
				       tag);
			return 0;
		}
		if (detached && now_sec() >= ask) {
			struct info now = { .n = 0 };

			/* Answered once the old one is idle again. */
			if (query(dir, tag, &now) == 0 &&
			    (s = info_get(&now, "server_pid")) &&
			    atoi(s) == old && failed_upgrades(&now) > base)
				return kernel_failed(dir, tag, old, base,
						     "the new server daemonized");
			ask = now_sec() + 0.5;
		}
	}
	die(1, "tag %s: no outcome within %.0f s (pid %d still serves, pid %d left running)",
	    tag, timeout, (int)old, (int)child);
	return 1;
}

static int cmd_upgrade(const char *dir, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "confirm", required_argument, NULL, 'c' },
		{ "log", required_argument, NULL, 'l' },
		{ "timeout", required_argument, NULL, 't' },
		{ 0 }
	};
	static char args[24576], envs[32768];
	struct frp_msg m = { .type = FRP_UPGRADE }, r;
	char buf[FRP_MAX_MSG], cwd[PATH_MAX];
	double confirm = 1, timeout = 120, end;
	const char *log = NULL, *tag;
	char *prog, *save0;
	bool fits = true, confirm_set = false;
	int c, sock, out = STDERR_FILENO, err;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'c': confirm = atof(optarg); confirm_set = true; break;
		case 'l': log = optarg; break;
		case 't': timeout = atof(optarg); break;
		default: usage(stderr); return 2;
		}
	}
	if (optind + 2 > argc || strcmp(argv[optind + 1], "--") != 0 ||
	    optind + 2 == argc || confirm < 0 || confirm > 3600 ||
	    timeout <= 0) {
		usage(stderr);
		return 2;
	}
	tag = argv[optind];
	argv += optind + 2;
	prog = find_program(argv[0]);
	if (!prog)
		die(2, "%s: not found or not executable", argv[0]);
	if (log) {
		out = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
				O_NOFOLLOW, 0600);
		if (out < 0)
			die(1, "cannot open %s: %s", log, strerror(errno));
	}
	if (kernel_path_tag(dir, tag)) {
		char ms[32];

		snprintf(ms, sizeof(ms), "%.0f", confirm * 1000);
		argv[0] = prog;
		return kernel_upgrade(dir, tag, argv, confirm_set ? ms : NULL,
				      out, timeout);
	}
	if (!getcwd(cwd, sizeof(cwd)))
		cwd[0] = '\0';
	save0 = argv[0];
	argv[0] = prog;
	m.blob[0] = args;
	m.blob_len[0] = pack(args, sizeof(args), argv, &fits);
	argv[0] = save0;
	free(prog);	/* copied into args */
	m.blob[1] = envs;
	m.blob_len[1] = pack(envs, sizeof(envs), environ, &fits);
	m.blob[2] = cwd;
	m.blob_len[2] = strlen(cwd);
	if (!fits)
		die(2, "command line or environment too long");
	m.arg[0] = (uint64_t)(confirm * 1000);
	m.fd[0] = out;
	m.nfd = 1;
	/*
	 * EAGAIN: no server serves right now (a restart is under way) or the
	 * one serving is still starting; asked again until the timeout.
	 */
	for (end = now_sec() + timeout;;) {
		sock = connect_tag(dir, tag);
		err = call(sock, &m, buf, &r, (int)(timeout * 1000));
		if (err || r.type != FRP_ACK || r.status != -EAGAIN ||
		    now_sec() + 0.1 >= end)
			break;
		close(sock);
		usleep(100000);
	}
	if (err == -ETIMEDOUT)
		die(1, "tag %s: no outcome within %.0f s", tag, timeout);
	if (err)
		die(1, "tag %s: %s", tag, strerror(-err));
	if (r.type != FRP_ACK)
		die(1, "tag %s: unexpected answer %u", tag, r.type);
	if (json) {
		printf("{\"tag\": ");
		json_string(tag);
		printf(", \"ok\": %s, \"error\": %d, \"pid\": %llu, \"pause_ms\": %.3f, \"reason\": ",
		       r.status ? "false" : "true", -r.status,
		       (unsigned long long)r.arg[0], r.arg[1] / 1e3);
		{
			char reason[512];

			snprintf(reason, sizeof(reason), "%.*s",
				 (int)r.blob_len[0], (const char *)r.blob[0]);
			json_string(reason);
		}
		printf("}\n");
	} else if (r.status == 0) {
		printf("upgraded tag %s: pid %llu serves (pause %.3f ms)\n",
		       tag, (unsigned long long)r.arg[0], r.arg[1] / 1e3);
	} else {
		fprintf(stderr, "fuse-recover: upgrade of tag %s failed (%s): %.*s\n",
			tag, strerror(-r.status), (int)r.blob_len[0],
			(const char *)r.blob[0]);
	}
	return r.status ? 1 : 0;
}

/* ---- stop, abort ---- */

/* The supervisor removes its socket when it exits. */
static bool wait_gone(const char *dir, const char *tag, int seconds)
{
	char path[FR_PATH_MAX];
	struct stat st;
	int i;

	if (fr_tag_path(path, dir, tag, "sock"))
		return false;
	for (i = 0; i < seconds * 100; i++) {
		if (stat(path, &st) < 0)
			return true;
		usleep(10000);
	}
	return false;
}

static int cmd_stop(const char *dir, const char *tag)
{
	struct info in = { .n = 0 };
	const char *mnt;
	int err = query(dir, tag, &in);

	if (err)
		die(1, "tag %s: %s", tag, strerror(-err));
	mnt = info_get(&in, "mountpoint");
	if (!mnt || !*mnt)
		die(1, "tag %s has no mount yet", tag);
	if (geteuid() == 0) {
		if (umount2(mnt, UMOUNT_NOFOLLOW) < 0)
			die(1, "umount %s: %s", mnt, strerror(errno));
	} else {
		pid_t pid = fork();
		int status;

		if (pid == 0) {
			execlp("fusermount3", "fusermount3", "-u", "--", mnt,
			       (char *)NULL);
			_exit(127);
		}
		if (pid < 0 || waitpid(pid, &status, 0) < 0 ||
		    !WIFEXITED(status) || WEXITSTATUS(status))
			die(1, "fusermount3 -u %s failed", mnt);
	}
	if (!wait_gone(dir, tag, 10))
		die(1, "unmounted %s, but the supervisor of tag %s is still there",
		    mnt, tag);
	printf("stopped tag %s: %s unmounted\n", tag, mnt);
	return 0;
}

/*
 * A kernel-path tag has no supervisor to ask: the connection is aborted
 * here, through fusectl.  Its connection is root's (the kernel path is
 * for root only), and so is this.
 */
static int kernel_abort(const char *tag)
{
	struct info in = { .n = 0 };
	const char *conn;
	int err;

	kernel_mount(tag, &in);
	conn = info_get(&in, "connection");
	if (!conn)
		die(1, "tag %s: no mount", tag);
	if (geteuid() != 0)
		die(1, "tag %s: a kernel-path tag is aborted by root", tag);
	err = fr_abort_connection((unsigned int)strtoul(conn, NULL, 10));
	if (err)
		die(1, "tag %s: cannot abort connection %s: %s", tag, conn,
		    strerror(-err));
	printf("aborted tag %s: %s answers ENOTCONN until unmounted\n", tag,
	       info_get(&in, "mountpoint"));
	return 0;
}

static int cmd_abort(const char *dir, const char *tag)
{
	struct frp_msg m = { .type = FRP_ABORT }, r;
	char buf[FRP_MAX_MSG];
	int sock, err;

	if (kernel_path_tag(dir, tag))
		return kernel_abort(tag);
	sock = connect_tag(dir, tag);
	err = call(sock, &m, buf, &r, 5000);

	if (!err && r.type == FRP_ACK && r.status)
		err = r.status;
	if (err)
		die(1, "tag %s: %s", tag, strerror(-err));
	close(sock);
	if (!wait_gone(dir, tag, 10))
		die(1, "tag %s: the supervisor did not end", tag);
	printf("aborted tag %s: its mount answers ENOTCONN until unmounted\n",
	       tag);
	return 0;
}

int main(int argc, char *argv[])
{
	char dir[FR_PATH_MAX];
	const char *cmd;
	int i = 1, err;

	signal(SIGPIPE, SIG_IGN);
	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
		i++;
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[i];
	err = fr_runtime_dir(dir, sizeof(dir));
	if (err)
		die(1, "no runtime directory: %s", strerror(-err));
	if (!strcmp(cmd, "list") && i + 1 == argc)
		return cmd_list(dir);
	if (!strcmp(cmd, "upgrade"))
		return cmd_upgrade(dir, argc - i, argv + i);
	if (i + 2 != argc) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(cmd, "status"))
		return cmd_status(dir, argv[i + 1]);
	if (!strcmp(cmd, "stop"))
		return cmd_stop(dir, argv[i + 1]);
	if (!strcmp(cmd, "abort"))
		return cmd_abort(dir, argv[i + 1]);
	usage(stderr);
	return 2;
}
