// SPDX-License-Identifier: GPL-2.0
/*
 * ftest.c - a raw /dev/fuse server and process helpers for the guest tests
 *
 * Kept deliberately small: one directory (nodeid 1) with one read-only file
 * "file" (nodeid 2) opened with FOPEN_DIRECT_IO, so every read() reaches the
 * server and can be held there.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ftest.h"

#define FT_BUFSIZE	(256 * 1024)
#define FT_MAX_WRITE	(128 * 1024)
#define FT_FILE_INO	2

/* weak: a test may define its own instead of assigning it in main() */
__attribute__((weak)) const char *ft_name = "test";

const char *ft_fstype = "fuse";
const char *ft_source = "ftest";

void ft_log(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "  [%s] ", ft_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void ft_alarm(int sig)
{
	static const char msg[] = "  test deadline exceeded\n";

	(void)sig;
	/* write() is async-signal-safe, stdio is not */
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(FT_FAIL);
	_exit(FT_FAIL);
}

void ft_deadline(unsigned int seconds)
{
	signal(SIGALRM, ft_alarm);
	alarm(seconds);
}

long long ft_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int ft_mkdir(const char *path)
{
	if (mkdir(path, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

int ft_mount(const char *mnt, const char *tag, unsigned int user_id,
	     const char *extra)
{
	char opts[256];
	int fd, err;

	fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;

	snprintf(opts, sizeof(opts),
		 "fd=%d,rootmode=40000,user_id=%u,group_id=0%s%s%s%s",
		 fd, user_id, tag ? ",tag=" : "", tag ? tag : "",
		 extra ? "," : "", extra ? extra : "");
	if (mount(ft_source, mnt, ft_fstype, MS_NOSUID | MS_NODEV, opts)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int ft_attach_at(int mnt_fd, const char *tag)
{
	struct fuse_attach_in in;
	int fd, err;

	fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;

	memset(&in, 0, sizeof(in));
	in.fd = mnt_fd;
	if (tag)
		strncpy(in.tag, tag, FUSE_TAG_MAX);
	if (ioctl(fd, FUSE_DEV_IOC_ATTACH, &in)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int ft_open_mount(const char *mnt)
{
	/* O_PATH: no request reaches the (possibly dead) server */
	int fd = open(mnt, O_PATH | O_DIRECTORY | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int ft_attach(const char *mnt, const char *tag)
{
	int mfd = ft_open_mount(mnt), fd;

	if (mfd < 0)
		return mfd;
	fd = ft_attach_at(mfd, tag);
	close(mfd);
	return fd;
}

int ft_notify_resend(int fd)
{
	struct fuse_out_header oh = {
		.len = sizeof(oh),
		.error = FUSE_RECOVER_NOTIFY_RESEND,
		.unique = 0,
	};

	if (write(fd, &oh, sizeof(oh)) != sizeof(oh))
		return -errno;
	return 0;
}

int ft_answer(int fd, uint64_t unique, int error, const void *arg,
	      size_t size)
{
	struct fuse_out_header oh;
	struct iovec iov[2];
	ssize_t n;

	oh.len = sizeof(oh) + (error ? 0 : size);
	oh.error = error;
	oh.unique = unique;
	iov[0].iov_base = &oh;
	iov[0].iov_len = sizeof(oh);
	iov[1].iov_base = (void *)arg;
	iov[1].iov_len = error ? 0 : size;

	n = writev(fd, iov, 2);
	if (n < 0)
		return -errno;
	return 0;
}

static void ft_notify(struct ft_server *srv, const char *fmt, ...)
{
	char line[128];
	va_list ap;
	int len;

	if (srv->notify_fd < 0)
		return;
	va_start(ap, fmt);
	len = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	line[len++] = '\n';
	if (write(srv->notify_fd, line, len) < 0)
		ft_log("notify write failed: %m");
}

static void ft_fill_attr(struct fuse_attr *attr, uint64_t ino,
			 const char *content)
{
	memset(attr, 0, sizeof(*attr));
	attr->ino = ino;
	attr->nlink = ino == FUSE_ROOT_ID ? 2 : 1;
	attr->mode = ino == FUSE_ROOT_ID ? (S_IFDIR | 0755) : (S_IFREG | 0644);
	attr->size = ino == FUSE_ROOT_ID ? 0 : strlen(content);
	attr->blksize = 4096;
}

static int ft_do_init(struct ft_server *srv, struct fuse_in_header *ih,
		      void *arg)
{
	struct fuse_init_in *in = arg;
	struct fuse_init_out out;
	uint64_t offered = in->flags;
	uint64_t accept;
	int err;

	if (in->flags & FUSE_INIT_EXT)
		offered |= (uint64_t)in->flags2 << 32;
	accept = offered & srv->want;

	memset(&out, 0, sizeof(out));
	out.major = FUSE_KERNEL_VERSION;
	out.minor = in->minor < 36 ? in->minor : 36;
	out.max_readahead = in->max_readahead;
	out.flags = (uint32_t)accept | FUSE_INIT_EXT;
	out.flags2 = accept >> 32;
	out.max_background = 16;
	out.congestion_threshold = 12;
	out.max_write = FT_MAX_WRITE;
	out.time_gran = 1;
	out.max_pages = FT_MAX_WRITE / 4096;
	out.flags |= FUSE_MAX_PAGES;

	/*
	 * Answer first: the line is the test's "ready", and a test that
	 * kills the server as soon as it reads it must find the connection
	 * initialised (with recovery negotiated), not aborted because the
	 * server died before its INIT reply was written.
	 */
	err = ft_answer(srv->fd, ih->unique, 0, &out, sizeof(out));
	ft_notify(srv, "init offered=%llx accepted=%llx",
		  (unsigned long long)offered, (unsigned long long)accept);
	return err;
}

static int ft_do_read(struct ft_server *srv, struct fuse_in_header *ih,
		      void *arg)
{
	struct fuse_read_in *in = arg;
	size_t len = strlen(srv->content);
	size_t off = in->offset < len ? in->offset : len;
	size_t n = len - off;

	ft_notify(srv, "read resend=%d off=%llu",
		  (ih->unique & FUSE_UNIQUE_RESEND) ? 1 : 0,
		  (unsigned long long)in->offset);
	if (srv->block_read)
		return 0;	/* hold it: the test kills us now */
	if (n > in->size)
		n = in->size;
	return ft_answer(srv->fd, ih->unique, 0, srv->content + off, n);
}

static int ft_dispatch(struct ft_server *srv, struct fuse_in_header *ih,
		       void *arg)
{
	union {
		struct fuse_entry_out entry;
		struct fuse_attr_out attr;
		struct fuse_open_out open;
	} out;

	memset(&out, 0, sizeof(out));
	switch (ih->opcode) {
	case FUSE_INIT:
		return ft_do_init(srv, ih, arg);
	case FUSE_LOOKUP:
		if (ih->nodeid != FUSE_ROOT_ID || strcmp(arg, "file"))
			return ft_answer(srv->fd, ih->unique, -ENOENT, NULL, 0);
		out.entry.nodeid = FT_FILE_INO;
		out.entry.generation = 1;
		ft_fill_attr(&out.entry.attr, FT_FILE_INO, srv->content);
		return ft_answer(srv->fd, ih->unique, 0, &out.entry,
				sizeof(out.entry));
	case FUSE_GETATTR:
		ft_fill_attr(&out.attr.attr, ih->nodeid, srv->content);
		return ft_answer(srv->fd, ih->unique, 0, &out.attr,
				sizeof(out.attr));
	case FUSE_OPEN:
		out.open.fh = 42;
		out.open.open_flags = FOPEN_DIRECT_IO;
		return ft_answer(srv->fd, ih->unique, 0, &out.open,
				sizeof(out.open));
	case FUSE_READ:
		return ft_do_read(srv, ih, arg);
	case FUSE_FLUSH:
		ft_notify(srv, "flush");
		return ft_answer(srv->fd, ih->unique, 0, NULL, 0);
	case FUSE_RELEASE:
		ft_notify(srv, "release");
		return ft_answer(srv->fd, ih->unique, 0, NULL, 0);
	case FUSE_DESTROY:
		return ft_answer(srv->fd, ih->unique, 0, NULL, 0);
	case FUSE_FORGET:
	case FUSE_BATCH_FORGET:
	case FUSE_INTERRUPT:
		return 0;	/* no reply expected */
	default:
		return ft_answer(srv->fd, ih->unique, -ENOSYS, NULL, 0);
	}
}

int ft_handle(struct ft_server *srv, void *buf)
{
	return ft_dispatch(srv, buf,
			   (char *)buf + sizeof(struct fuse_in_header));
}

int ft_serve(struct ft_server *srv)
{
	char *buf = malloc(FT_BUFSIZE);
	ssize_t n;
	int err;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		struct fuse_in_header *ih = (void *)buf;

		n = read(srv->fd, buf, FT_BUFSIZE);
		if (n < 0) {
			if (errno == EINTR || errno == ENOENT)
				continue;	/* ENOENT: request interrupted */
			err = -errno;
			break;
		}
		if ((size_t)n < sizeof(*ih)) {
			err = -EPROTO;
			break;
		}
		err = ft_dispatch(srv, ih, buf + sizeof(*ih));
		/* ENOENT from write: the request was aborted meanwhile */
		if (err && err != -ENOENT)
			break;
	}
	free(buf);
	return err;
}

static pid_t ft_fork_serving(const char *mnt, int attach, const char *tag,
			     const char *extra, uint64_t want, int block_read,
			     int notify_fd, const char *content)
{
	char line[128];
	int pfd[2];
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC))
		return -1;

	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct ft_server srv = {
			.want = want,
			.block_read = block_read,
			.notify_fd = notify_fd,
			.content = content,
		};
		int fd;

		close(pfd[0]);
		if (!attach)
			fd = ft_mount(mnt, tag, 0, extra);
		else
			fd = ft_attach(mnt, tag);
		if (fd < 0) {
			dprintf(pfd[1], "error %d\n", -fd);
			_exit(FT_FAIL);
		}
		srv.fd = fd;
		if (attach) {
			/* nothing to do after reattaching, but harmless */
			if (ft_notify_resend(fd))
				ft_log("notify resend failed");
			dprintf(pfd[1], "attached\n");
			close(pfd[1]);
		} else {
			/* the INIT reply is our "ready": wait for it */
			srv.notify_fd = pfd[1];
			char *buf = malloc(FT_BUFSIZE);
			ssize_t n = read(fd, buf, FT_BUFSIZE);

			if (n < (ssize_t)sizeof(struct fuse_in_header) ||
			    ((struct fuse_in_header *)buf)->opcode != FUSE_INIT)
				_exit(FT_FAIL);
			ft_dispatch(&srv, (void *)buf,
				    buf + sizeof(struct fuse_in_header));
			free(buf);
			close(pfd[1]);
			srv.notify_fd = notify_fd;
		}
		ft_serve(&srv);
		_exit(0);
	}

	close(pfd[1]);
	if (ft_read_line(pfd[0], line, sizeof(line), 10000) < 0 ||
	    (strncmp(line, "init", 4) && strncmp(line, "attached", 8))) {
		ft_log("server did not start: %s", line);
		close(pfd[0]);
		ft_kill(pid);
		return -1;
	}
	if (!attach)
		ft_log("server %d: %s", pid, line);
	close(pfd[0]);
	return pid;
}

pid_t ft_spawn_server(const char *mnt, const char *tag, const char *extra,
		      uint64_t want, int block_read, int notify_fd)
{
	return ft_fork_serving(mnt, 0, tag, extra, want, block_read, notify_fd,
			       "first server\n");
}

pid_t ft_spawn_attacher(const char *mnt, const char *tag, const char *content,
			int notify_fd)
{
	return ft_fork_serving(mnt, 1, tag, NULL, 0, 0, notify_fd, content);
}

pid_t ft_spawn_holder(const char *mnt, const char *tag, int notify_fd)
{
	return ft_fork_serving(mnt, 1, tag, NULL, 0, 1, notify_fd, "holder\n");
}

int ft_wait_ms(pid_t pid, int ms)
{
	long long end = ft_now_ms() + ms;
	int status;

	do {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		if (r < 0)
			return -1;
		usleep(10000);
	} while (ft_now_ms() < end);
	return -1;
}

int ft_read_line(int fd, char *buf, size_t len, int ms)
{
	long long end = ft_now_ms() + ms;
	size_t got = 0;

	buf[0] = '\0';
	while (got + 1 < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int left = (int)(end - ft_now_ms());
		ssize_t n;

		if (left <= 0 || poll(&p, 1, left) <= 0)
			return -1;
		n = read(fd, buf + got, 1);
		if (n <= 0)
			return -1;
		if (buf[got] == '\n') {
			buf[got] = '\0';
			return got;
		}
		got++;
		buf[got] = '\0';
	}
	return got;
}

void ft_kill(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

pid_t ft_start_testfs(const char *log, const char *run_dir, const char *opts,
		      const char *mnt)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(fd, 2);
		setenv("FUSE_RECOVER_RUNTIME_DIR", run_dir, 1);
		setenv("FUSE_RECOVERD", "/nonexistent", 1);
		execl("/tests/testfs", "testfs", "-f", "-s", "-o", opts, mnt,
		      (char *)NULL);
		_exit(127);
	}
	return pid;
}

int ft_file_has(const char *path, const char *what)
{
	char buf[4096];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	if (n < 0)
		return 0;
	buf[n] = 0;
	return strstr(buf, what) != NULL;
}

int ft_wait_for(const char *path, const char *what, int ms)
{
	long long end = ft_now_ms() + ms;

	while (ft_now_ms() < end) {
		if (what ? ft_file_has(path, what) : access(path, F_OK) == 0)
			return 1;
		usleep(10000);
	}
	return 0;
}

void ft_show(const char *path)
{
	char buf[2048];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (n > 0) {
		buf[n] = 0;
		ft_log("%s: %s", path, buf);
	}
	if (fd >= 0)
		close(fd);
}
