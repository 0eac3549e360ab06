/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ftest.h - helpers shared by the guest tests of the kernel/ patch series
 *
 * A tiny FUSE server that speaks the raw protocol on /dev/fuse (no libfuse)
 * and serves a root directory holding one file, "file".  Tests fork it,
 * kill it, start another one that reattaches to the mount, and check
 * what the applications using the mount see.
 *
 * Every test program exits with FT_PASS, FT_FAIL or FT_SKIP.
 */
#ifndef FTEST_H
#define FTEST_H

#include <stdint.h>
#include <sys/types.h>
#include <linux/fuse.h>
#include "../fuse_recover_uapi.h"

#define FT_PASS 0
#define FT_FAIL 1
#define FT_SKIP 77

/* What ft_serve() does with the requests it reads */
struct ft_server {
	int fd;			/* bound /dev/fuse fd */
	uint64_t want;		/* INIT flags to accept if offered */
	int block_read;		/* read READ but never answer it */
	int notify_fd;		/* gets one line per notable event, or -1 */
	const char *content;	/* data returned by READ */
};

/* printf to stderr with the test name in front */
void ft_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Fail the whole test program if it runs longer than @seconds */
void ft_deadline(unsigned int seconds);

/*
 * What ft_mount() mounts: "fuse" of "ftest" unless a test asks for
 * "fuseblk" of a block device (only the device's name matters to FUSE).
 */
extern const char *ft_fstype;
extern const char *ft_source;

/*
 * Open /dev/fuse and mount it on @mnt with "tag=@tag" (if not NULL) and
 * @extra options (may be NULL).  Returns the fd or -errno.
 */
int ft_mount(const char *mnt, const char *tag, unsigned int user_id,
	     const char *extra);

/* An O_PATH fd of @mnt (the mount's root); returns the fd or -errno. */
int ft_open_mount(const char *mnt);

/*
 * Open /dev/fuse and attach it to the mount @mnt_fd refers to; @tag (may
 * be NULL) is the tag the mount must carry.  Returns the fd or -errno.
 */
int ft_attach_at(int mnt_fd, const char *tag);

/* ft_attach_at() with an O_PATH fd of @mnt. */
int ft_attach(const char *mnt, const char *tag);

/* Ask the kernel to resend what live fds had read; returns 0 or -errno */
int ft_notify_resend(int fd);

/* Reply to @unique with @error (-errno) or, if 0, @size bytes of @arg */
int ft_answer(int fd, uint64_t unique, int error, const void *arg,
	      size_t size);

/* Answer the request in @buf (header and arguments) as ft_serve() would */
int ft_handle(struct ft_server *srv, void *buf);

/* Serve requests until the fd fails; returns the last error (-errno). */
int ft_serve(struct ft_server *srv);

/*
 * Fork a process that mounts @mnt and serves it.  Returns its pid once the
 * mount is in place and the FUSE_INIT reply was sent, or -1.
 */
pid_t ft_spawn_server(const char *mnt, const char *tag, const char *extra,
		      uint64_t want, int block_read, int notify_fd);

/* Fork a process that attaches to @mnt and serves; returns pid or -1. */
pid_t ft_spawn_attacher(const char *mnt, const char *tag, const char *content,
			int notify_fd);

/* Like ft_spawn_attacher(), but it holds every READ without answering */
pid_t ft_spawn_holder(const char *mnt, const char *tag, int notify_fd);

/*
 * Wait for @pid for at most @ms milliseconds.  Returns its wait status, or
 * -1 if it is still running afterwards.
 */
int ft_wait_ms(pid_t pid, int ms);

/* Read one line from @fd, waiting at most @ms; returns length or -1. */
int ft_read_line(int fd, char *buf, size_t len, int ms);

/* SIGKILL @pid and reap it. */
void ft_kill(pid_t pid);

/* Milliseconds of CLOCK_MONOTONIC */
long long ft_now_ms(void);

/* mkdir -p for a single level, ignoring EEXIST */
int ft_mkdir(const char *path);

/* For the tests that drive the library through /tests/testfs: */
/* Fork testfs -f -s -o @opts @mnt, stderr to @log, on the kernel path. */
pid_t ft_start_testfs(const char *log, const char *run_dir, const char *opts,
		      const char *mnt);
/* Does @path (its first 4 KiB) contain @what? */
int ft_file_has(const char *path, const char *what);
/* Wait at most @ms until @path contains @what (NULL: until it exists). */
int ft_wait_for(const char *path, const char *what, int ms);
/* Log the first 2 KiB of @path. */
void ft_show(const char *path);

extern const char *ft_name;

#endif /* FTEST_H */
