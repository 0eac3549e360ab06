// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pt_exerciser: random reads, writes and truncates on a few files, each
 * checked against a model kept in memory.
 *
 *   pt_exerciser DIR STOPFILE [FILES] [SEED]
 *
 * Runs until STOPFILE exists, then verifies every file in full.  Prints
 * "ops N errors E"; exit 0 only with zero errors (each one is named on
 * stderr).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_SIZE (1 << 20)
#define MAX_IO (96 * 1024)
#define MAX_FILES 16

struct file {
	char path[4096];
	int fd;
	unsigned char *model;
	size_t size;
};

static long errors;

static void error(const struct file *f, const char *what, off_t off,
		  size_t len)
{
	fprintf(stderr, "%s: %s at %lld+%zu: %s\n", f->path, what,
		(long long)off, len, strerror(errno));
	errors++;
}

static int verify(struct file *f, off_t off, size_t len, unsigned char *buf)
{
	size_t want = off >= (off_t)f->size ? 0 :
		      (f->size - off < len ? f->size - off : len);
	ssize_t n = pread(f->fd, buf, len, off);

	if (n < 0) {
		error(f, "pread", off, len);
		return -1;
	}
	if ((size_t)n != want) {
		fprintf(stderr, "%s: short read at %lld: %zd, want %zu\n",
			f->path, (long long)off, n, want);
		errors++;
		return -1;
	}
	if (memcmp(buf, f->model + off, want) != 0) {
		fprintf(stderr, "%s: data differs at %lld+%zu\n", f->path,
			(long long)off, want);
		errors++;
		return -1;
	}
	return 0;
}

static void one_op(struct file *f, unsigned int *seed, unsigned char *buf)
{
	int op = rand_r(seed) % 100;
	off_t off = rand_r(seed) % MAX_SIZE;
	size_t len = 1 + rand_r(seed) % MAX_IO, i;
	struct stat st;

	if (off + len > MAX_SIZE)
		len = MAX_SIZE - off;
	if (op < 40) {
		for (i = 0; i < len; i++)
			buf[i] = rand_r(seed);
		if (pwrite(f->fd, buf, len, off) != (ssize_t)len) {
			error(f, "pwrite", off, len);
			return;
		}
		if (off > (off_t)f->size)
			memset(f->model + f->size, 0, off - f->size);
		memcpy(f->model + off, buf, len);
		if (off + len > f->size)
			f->size = off + len;
	} else if (op < 80) {
		verify(f, off, len, buf);
	} else if (op < 90) {
		off = rand_r(seed) % 4 ? off : 0;
		if (ftruncate(f->fd, off) < 0) {
			error(f, "ftruncate", off, 0);
			return;
		}
		if (off > (off_t)f->size)
			memset(f->model + f->size, 0, off - f->size);
		f->size = off;
	} else if (op < 95) {
		if (fstat(f->fd, &st) < 0) {
			error(f, "fstat", 0, 0);
		} else if ((size_t)st.st_size != f->size) {
			fprintf(stderr, "%s: size %lld, want %zu\n", f->path,
				(long long)st.st_size, f->size);
			errors++;
		}
	} else {
		if (close(f->fd) < 0)
			error(f, "close", 0, 0);
		f->fd = open(f->path, O_RDWR);
		if (f->fd < 0)
			error(f, "reopen", 0, 0);
	}
}

int main(int argc, char *argv[])
{
	static struct file files[MAX_FILES];
	unsigned int seed;
	unsigned char *buf;
	int nfiles, i;
	long ops = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: %s DIR STOPFILE [FILES] [SEED]\n",
			argv[0]);
		return 2;
	}
	nfiles = argc > 3 ? atoi(argv[3]) : 3;
	if (nfiles < 1 || nfiles > MAX_FILES)
		nfiles = 3;
	seed = argc > 4 ? strtoul(argv[4], NULL, 0) : (unsigned int)getpid();
	buf = malloc(MAX_SIZE);
	if (!buf)
		return 2;
	for (i = 0; i < nfiles; i++) {
		struct file *f = &files[i];

		snprintf(f->path, sizeof(f->path), "%s/ex.%d", argv[1], i);
		f->model = calloc(1, MAX_SIZE);
		f->fd = open(f->path, O_RDWR | O_CREAT | O_TRUNC, 0644);
		if (!f->model || f->fd < 0) {
			perror(f->path);
			return 2;
		}
	}
	while (access(argv[2], F_OK) != 0) {
		struct file *f = &files[rand_r(&seed) % nfiles];

		if (f->fd >= 0)
			one_op(f, &seed, buf);
		else if ((f->fd = open(f->path, O_RDWR)) < 0)
			error(f, "reopen", 0, 0);
		ops++;
	}
	for (i = 0; i < nfiles; i++) {
		struct file *f = &files[i];

		close(f->fd);
		f->fd = open(f->path, O_RDONLY);
		if (f->fd < 0) {
			error(f, "final open", 0, 0);
			continue;
		}
		verify(f, 0, MAX_SIZE, buf);
		close(f->fd);
	}
	printf("ops %ld errors %ld\n", ops, errors);
	free(buf);
	return errors ? 1 : 0;
}
