// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pt_ops: one filesystem call per run, for the passthrough_hp tests.
 *
 *   pt_ops rename OLD NEW [noreplace|exchange]
 *   pt_ops create-excl PATH MODE
 *   pt_ops mknod-fifo PATH MODE
 *   pt_ops odirect-write PATH    (4 KiB O_DIRECT write, then read back)
 *   pt_ops fallocate PATH MODE OFF LEN     (MODE: 0, keep, punch, zero,
 *                                           collapse, insert)
 *   pt_ops copy-range IN OUT LEN
 *   pt_ops setxattr PATH NAME VALUE | getxattr PATH NAME | listxattr PATH
 *   pt_ops setxattr-create PATH NAME VALUE     (XATTR_CREATE)
 *   pt_ops removexattr PATH NAME
 *   pt_ops open-nonblock PATH    (O_RDONLY | O_NONBLOCK, e.g. a FIFO)
 *
 * Exit 0 on success, else prints the errno name and exits 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

static int result(int r, const char *what)
{
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", what, strerror(errno));
		return 1;
	}
	return 0;
}

static int falloc_mode(const char *m)
{
	if (!strcmp(m, "keep"))
		return FALLOC_FL_KEEP_SIZE;
	if (!strcmp(m, "punch"))
		return FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	if (!strcmp(m, "zero"))
		return FALLOC_FL_ZERO_RANGE;
	if (!strcmp(m, "collapse"))
		return FALLOC_FL_COLLAPSE_RANGE;
	if (!strcmp(m, "insert"))
		return FALLOC_FL_INSERT_RANGE;
	return 0;
}

static int odirect(const char *path)
{
	/* Static: every error path returns at once, nothing to free. */
	static char buf[4096] __attribute__((aligned(4096)));
	static char back[4096] __attribute__((aligned(4096)));
	int fd, r;

	memset(buf, 'D', 4096);
	fd = open(path, O_RDWR | O_CREAT | O_DIRECT, 0644);
	if (fd < 0)
		return result(-1, "open O_DIRECT");
	if (pwrite(fd, buf, 4096, 0) != 4096)
		return result(-1, "pwrite O_DIRECT");
	if (pread(fd, back, 4096, 0) != 4096)
		return result(-1, "pread O_DIRECT");
	r = memcmp(buf, back, 4096) != 0;
	if (r)
		fprintf(stderr, "O_DIRECT read back differs\n");
	close(fd);
	return r;
}

int main(int argc, char *argv[])
{
	const char *op = argc > 1 ? argv[1] : "";
	int fd, in, out;

	if (!strcmp(op, "rename") && argc >= 4) {
		unsigned int flags = 0;

		if (argc > 4 && !strcmp(argv[4], "noreplace"))
			flags = RENAME_NOREPLACE;
		else if (argc > 4 && !strcmp(argv[4], "exchange"))
			flags = RENAME_EXCHANGE;
		return result(renameat2(AT_FDCWD, argv[2], AT_FDCWD, argv[3],
					flags), "rename");
	}
	if (!strcmp(op, "create-excl") && argc == 4) {
		fd = open(argv[2], O_CREAT | O_EXCL | O_WRONLY,
			  strtol(argv[3], NULL, 8));
		return fd < 0 ? result(-1, "create") : close(fd);
	}
	if (!strcmp(op, "mknod-fifo") && argc == 4)
		return result(mknod(argv[2], S_IFIFO | strtol(argv[3], NULL, 8),
				    0), "mknod");
	if (!strcmp(op, "odirect-write") && argc == 3)
		return odirect(argv[2]);
	if (!strcmp(op, "fallocate") && argc == 6) {
		fd = open(argv[2], O_RDWR);
		if (fd < 0)
			return result(-1, "open");
		return result(fallocate(fd, falloc_mode(argv[3]),
					atoll(argv[4]), atoll(argv[5])),
			      "fallocate");
	}
	if (!strcmp(op, "copy-range") && argc == 5) {
		in = open(argv[2], O_RDONLY);
		out = open(argv[3], O_WRONLY | O_CREAT, 0644);
		if (in < 0 || out < 0)
			return result(-1, "open");
		return result(copy_file_range(in, NULL, out, NULL,
					      atoll(argv[4]), 0),
			      "copy_file_range");
	}
	if (!strcmp(op, "open-nonblock") && argc == 3) {
		fd = open(argv[2], O_RDONLY | O_NONBLOCK);
		return fd < 0 ? result(-1, "open") : close(fd);
	}
	if (!strcmp(op, "setxattr") && argc == 5)
		return result(setxattr(argv[2], argv[3], argv[4],
				       strlen(argv[4]), 0), "setxattr");
	if (!strcmp(op, "setxattr-create") && argc == 5)
		return result(setxattr(argv[2], argv[3], argv[4],
				       strlen(argv[4]), XATTR_CREATE),
			      "setxattr");
	if (!strcmp(op, "removexattr") && argc == 4)
		return result(removexattr(argv[2], argv[3]), "removexattr");
	if ((!strcmp(op, "getxattr") && argc == 4) ||
	    (!strcmp(op, "listxattr") && argc == 3)) {
		char buf[65536];
		ssize_t n, i;

		n = argc == 4 ? lgetxattr(argv[2], argv[3], buf, sizeof(buf)) :
				listxattr(argv[2], buf, sizeof(buf));
		if (n < 0)
			return result(-1, op);
		for (i = 0; i < n; i++)
			putchar(buf[i] ? buf[i] : '\n');
		if (argc == 4)
			putchar('\n');
		return 0;
	}
	fprintf(stderr, "usage: see the comment at the top of pt_ops.c\n");
	return 2;
}
