// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pt_pthold: holds a file of the mount open (fd and shared mapping) across
 * a SIGKILL of passthrough_hp, in steps the test drives with marker files:
 *
 *   pt_pthold FILE MARKDIR
 *
 *   1. creates FILE (1 MiB), writes it through the fd and the mapping,
 *      then makes MARKDIR/ready1 and waits for MARKDIR/go1;
 *   2. (server killed, no server runs) reads through the fd, writes and
 *      reads through the mapping, each checked against a model: in
 *      passthrough mode none of this needs the server (a write(2) does:
 *      the kernel asks for security.capability before every one); the
 *      step is bounded by the test.  Makes ready2 and waits for go2;
 *   3. (server restarted) the same again, plus a new open of FILE (must
 *      not fail: it has to use the same backing file) whose reads and
 *      mapping must show the same data; closes everything and makes done.
 *
 * Exit 0 only if every check passed; each failure is named on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SIZE (1 << 20)
#define PAGE 4096

static unsigned char model[SIZE];
static int errors;

static void bad(const char *what)
{
	fprintf(stderr, "pt_pthold: %s: %s\n", what, strerror(errno));
	errors++;
}

static void mark(const char *dir, const char *name)
{
	char p[4096];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_CREAT | O_WRONLY, 0644);
	if (fd >= 0)
		close(fd);
}

static void wait_mark(const char *dir, const char *name)
{
	char p[4096];
	int i;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	for (i = 0; i < 6000 && access(p, F_OK) != 0; i++)
		usleep(10000);
}

static void fill(unsigned char *p, size_t n, unsigned int seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)(seed * 131 + i * 7 + (i >> 12));
}

static void check_fd(int fd, const char *what)
{
	static unsigned char buf[SIZE];

	if (pread(fd, buf, SIZE, 0) != SIZE)
		bad(what);
	else if (memcmp(buf, model, SIZE) != 0) {
		errno = EILSEQ;
		bad(what);
	}
}

static void check_map(const unsigned char *m, const char *what)
{
	if (memcmp(m, model, SIZE) != 0) {
		errno = EILSEQ;
		bad(what);
	}
}

/* Writes through the fd (@wr) and the mapping, then checks both ways. */
static void exercise(int fd, unsigned char *m, unsigned int seed, int wr,
		     const char *step)
{
	unsigned char chunk[3 * PAGE];
	char what[128];

	fill(chunk, sizeof(chunk), seed);
	snprintf(what, sizeof(what), "%s: pwrite", step);
	if (wr && pwrite(fd, chunk, sizeof(chunk), 5 * PAGE + 17) !=
		  sizeof(chunk))
		bad(what);
	if (wr)
		memcpy(model + 5 * PAGE + 17, chunk, sizeof(chunk));
	fill(m + 40 * PAGE, 2 * PAGE, seed + 1);
	fill(model + 40 * PAGE, 2 * PAGE, seed + 1);
	snprintf(what, sizeof(what), "%s: msync", step);
	if (msync(m, SIZE, MS_SYNC) < 0)
		bad(what);
	snprintf(what, sizeof(what), "%s: read back through the fd", step);
	check_fd(fd, what);
	snprintf(what, sizeof(what), "%s: read back through the mapping",
		 step);
	check_map(m, what);
}

int main(int argc, char **argv)
{
	unsigned char *m, *m2;
	int fd, fd2;

	if (argc != 3) {
		fprintf(stderr, "usage: pt_pthold FILE MARKDIR\n");
		return 2;
	}
	fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		bad("open");
		return 1;
	}
	fill(model, SIZE, 1);
	if (pwrite(fd, model, SIZE, 0) != SIZE)
		bad("first write");
	m = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		bad("mmap");
		return 1;
	}
	exercise(fd, m, 2, 1, "before the kill");
	mark(argv[2], "ready1");
	wait_mark(argv[2], "go1");

	exercise(fd, m, 3, 0, "no server");
	mark(argv[2], "ready2");
	wait_mark(argv[2], "go2");

	exercise(fd, m, 4, 1, "after the restart");
	fd2 = open(argv[1], O_RDWR);
	if (fd2 < 0) {
		bad("new open after the restart");
	} else {
		check_fd(fd2, "new open: read");
		m2 = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd2, 0);
		if (m2 == MAP_FAILED) {
			bad("new open: mmap");
		} else {
			check_map(m2, "new open: mapping");
			munmap(m2, SIZE);
		}
		exercise(fd2, m, 5, 1, "new open");
		check_fd(fd, "old fd after writes through the new one");
		close(fd2);
	}
	munmap(m, SIZE);
	close(fd);
	mark(argv[2], "done");
	if (errors)
		fprintf(stderr, "pt_pthold: %d errors\n", errors);
	return errors ? 1 : 0;
}
