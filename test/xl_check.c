// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * xl_check: an application holding something across a server restart.
 *
 *   xl_check fd FILE MARKS      an open fd: read before, read + write after
 *   xl_check dir DIR N MARKS    a directory fd: half its entries before,
 *                               the rest after (names f00000..f{N-1}),
 *                               then all again from a rewind
 *   xl_check dirsteps DIR N MARKS STEPS UNLINK
 *                               the same in STEPS + 1 parts with a pause
 *                               (MARKS/readyK, MARKS/goK) after each, and
 *                               before each pause the last UNLINK names
 *                               read are removed (rm -r reads and removes);
 *                               after a pause a name that does not exist
 *                               is looked up, so the kernel goes on with
 *                               READDIRPLUS
 *   xl_check stale FILE MARKS   an open fd whose file was replaced: fstat and
 *                               an uncached read after must fail ESTALE
 *   xl_check extend FILE STOP   append a pattern until STOP exists, fsync,
 *                               close; prints the size written
 *   xl_check verify FILE SIZE   FILE has exactly SIZE bytes of the pattern
 *
 * The held commands set up, create MARKS/ready, wait (bounded) for
 * MARKS/go, then do the "after" part.  Exit 0 only if everything was as
 * expected; every difference is named on stderr.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int errors;

#define bad(...)                                   \
	do {                                       \
		fprintf(stderr, "xl_check: " __VA_ARGS__); \
		errors++;                          \
	} while (0)

static void mark_ready_wait_go_n(const char *marks, const char *suffix)
{
	char path[4096];
	int fd, i;

	snprintf(path, sizeof(path), "%s/ready%s", marks, suffix);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	if (fd >= 0)
		close(fd);
	snprintf(path, sizeof(path), "%s/go%s", marks, suffix);
	for (i = 0; i < 6000 && access(path, F_OK) != 0; i++)
		usleep(10000);
	if (i == 6000) {
		fprintf(stderr, "xl_check: no go after 60 s\n");
		exit(2);
	}
}

static void mark_ready_wait_go(const char *marks)
{
	mark_ready_wait_go_n(marks, "");
}

static int cmd_fd(const char *file, const char *marks)
{
	static const char more[] = "written after the restart\n";
	char before[4096], after[8192];
	ssize_t nb, na;
	int fd = open(file, O_RDWR);

	if (fd < 0 || (nb = pread(fd, before, sizeof(before), 0)) < 0) {
		perror(file);
		return 2;
	}
	mark_ready_wait_go(marks);
	na = pread(fd, after, sizeof(after), 0);
	if (na < 0)
		bad("pread after: %s\n", strerror(errno));
	else if (na != nb || memcmp(before, after, nb))
		bad("read after differs (%zd bytes, had %zd)\n", na, nb);
	if (pwrite(fd, more, sizeof(more) - 1, nb) != sizeof(more) - 1)
		bad("pwrite after: %s\n", strerror(errno));
	if (fsync(fd) < 0)
		bad("fsync after: %s\n", strerror(errno));
	na = pread(fd, after, sizeof(after), 0);
	if (na != nb + (ssize_t)sizeof(more) - 1 ||
	    memcmp(after, before, nb) || memcmp(after + nb, more, na - nb))
		bad("read back after write: %zd bytes (%s)\n", na,
		    na < 0 ? strerror(errno) : "content");
	if (close(fd) < 0)
		bad("close: %s\n", strerror(errno));
	return errors ? 1 : 0;
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* Names in the order read, for dirsteps. */
static int *order;

/* Reads entries into @seen with a small buffer; stops after @stop names. */
static int read_entries(int fd, char *seen, int n, int *got, int stop)
{
	char buf[512];
	long len, pos;

	while (*got < stop) {
		len = syscall(SYS_getdents64, fd, buf, sizeof(buf));
		if (len < 0) {
			bad("getdents64 after %d names: %s\n", *got,
			    strerror(errno));
			return -1;
		}
		if (len == 0)
			return 0;
		for (pos = 0; pos < len;) {
			struct linux_dirent64 *d = (void *)(buf + pos);
			char *end;
			long i;

			pos += d->d_reclen;
			if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
				continue;
			i = d->d_name[0] == 'f' ? strtol(d->d_name + 1, &end, 10) : -1;
			if (i < 0 || i >= n || *end) {
				bad("unexpected entry %s\n", d->d_name);
				continue;
			}
			if (seen[i]++)
				bad("entry %s seen twice\n", d->d_name);
			if (order)
				order[*got] = i;
			(*got)++;
		}
	}
	return 0;
}

/*
 * The rest of the stream (every entry seen once by then), then all of it
 * again from a rewind: exactly the names not @gone.
 */
static void rest_then_rewind(int fd, char *seen, int n, int got,
			     const char *gone)
{
	int i;

	read_entries(fd, seen, n, &got, n + 1);
	for (i = 0; i < n; i++)
		if (!seen[i])
			bad("entry f%05d missing\n", i);
	/* rewinddir(): offset 0 of the stream the new server reopened. */
	if (lseek(fd, 0, SEEK_SET) != 0)
		bad("rewind: %s\n", strerror(errno));
	memset(seen, 0, n > 0 ? (size_t)n : 0);
	got = 0;
	read_entries(fd, seen, n, &got, n + 1);
	for (i = 0; i < n; i++) {
		if (!seen[i] && !(gone && gone[i]))
			bad("entry f%05d missing after the rewind\n", i);
		if (seen[i] && gone && gone[i])
			bad("removed entry f%05d listed after the rewind\n", i);
	}
}

static int cmd_dir(const char *dir, int n, const char *marks)
{
	char *seen = calloc(n, 1);
	int fd = open(dir, O_RDONLY | O_DIRECTORY), got = 0;

	if (fd < 0 || !seen) {
		perror(dir);
		free(seen);
		return 2;
	}
	read_entries(fd, seen, n, &got, n / 2);
	if (got >= n)
		bad("all %d entries read before the restart\n", got);
	fprintf(stderr, "xl_check: %d of %d entries before\n", got, n);
	mark_ready_wait_go(marks);
	rest_then_rewind(fd, seen, n, got, NULL);
	close(fd);
	free(seen);
	return errors ? 1 : 0;
}

static int cmd_dirsteps(const char *dir, int n, const char *marks, int steps,
			int unlink_last)
{
	char *seen = calloc(n, 1), *gone = calloc(n, 1), path[4096], k[16];
	int fd = open(dir, O_RDONLY | O_DIRECTORY), got = 0, step, i, j;
	struct stat st;

	if (n <= 0 || n > 1000000 || steps <= 0)
		return 2;
	order = calloc(n + 1, sizeof(*order));
	if (fd < 0 || !seen || !gone || !order) {
		perror(dir);
		return 2;
	}
	for (step = 1; step <= steps; step++) {
		read_entries(fd, seen, n, &got, n * step / (steps + 1));
		if (got >= n)
			bad("all %d entries read before pause %d\n", got, step);
		for (j = got - 1; j >= 0 && j >= got - unlink_last; j--) {
			i = order[j];
			if (gone[i])
				continue;
			snprintf(path, sizeof(path), "%s/f%05d", dir, i);
			if (unlink(path) < 0)
				bad("unlink %s: %s\n", path, strerror(errno));
			gone[i] = 1;
		}
		fprintf(stderr, "xl_check: %d of %d entries before pause %d\n",
			got, n, step);
		snprintf(k, sizeof(k), "%d", step);
		mark_ready_wait_go_n(marks, k);
		snprintf(path, sizeof(path), "%s/no-such-name-%d", dir, step);
		if (stat(path, &st) == 0 || errno != ENOENT)
			bad("lookup of %s: %s\n", path, strerror(errno));
	}
	rest_then_rewind(fd, seen, n, got, gone);
	close(fd);
	free(seen);
	free(gone);
	free(order);
	return errors ? 1 : 0;
}

static int cmd_stale(const char *file, const char *marks)
{
	char buf[4096];
	struct stat st;
	int fd = open(file, O_RDONLY);

	if (fd < 0 || read(fd, buf, sizeof(buf)) < 0) {
		perror(file);
		return 2;
	}
	mark_ready_wait_go(marks);
	if (fstat(fd, &st) == 0)
		bad("fstat of the replaced file succeeded (ino %lu)\n",
		    (unsigned long)st.st_ino);
	else if (errno != ESTALE)
		bad("fstat: %s, want ESTALE\n", strerror(errno));
	/* Drop the cached pages so that the read reaches the server. */
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	if (pread(fd, buf, sizeof(buf), 0) >= 0)
		bad("read of the replaced file succeeded\n");
	else if (errno != ESTALE)
		bad("read: %s, want ESTALE\n", strerror(errno));
	close(fd);
	return errors ? 1 : 0;
}

static unsigned char pattern(uint64_t off)
{
	return (unsigned char)(off * 7 + (off >> 12) * 13 + 1);
}

static int cmd_extend(const char *file, const char *stop)
{
	static unsigned char buf[65536];
	unsigned int seed = getpid();
	uint64_t off = 0;
	size_t len, i;
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0) {
		perror(file);
		return 2;
	}
	while (access(stop, F_OK) != 0) {
		len = 1 + rand_r(&seed) % sizeof(buf);
		for (i = 0; i < len; i++)
			buf[i] = pattern(off + i);
		if (write(fd, buf, len) != (ssize_t)len) {
			bad("write at %llu: %s\n", (unsigned long long)off,
			    strerror(errno));
			return 1;
		}
		off += len;
		usleep(rand_r(&seed) % 2000);
	}
	if (fsync(fd) < 0)
		bad("fsync: %s\n", strerror(errno));
	if (close(fd) < 0)
		bad("close: %s\n", strerror(errno));
	printf("%llu\n", (unsigned long long)off);
	return errors ? 1 : 0;
}

static int cmd_verify(const char *file, uint64_t size)
{
	static unsigned char buf[65536];
	uint64_t off = 0;
	ssize_t n, i;
	int fd = open(file, O_RDONLY);

	if (fd < 0) {
		perror(file);
		return 2;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < n; i++)
			if (buf[i] != pattern(off + i)) {
				bad("%s: wrong byte at %llu\n", file,
				    (unsigned long long)(off + i));
				return 1;
			}
		off += n;
	}
	if (n < 0)
		bad("%s: read at %llu: %s\n", file, (unsigned long long)off,
		    strerror(errno));
	if (off != size)
		bad("%s: %llu bytes, want %llu\n", file,
		    (unsigned long long)off, (unsigned long long)size);
	close(fd);
	return errors ? 1 : 0;
}

int main(int argc, char *argv[])
{
	if (argc == 4 && !strcmp(argv[1], "fd"))
		return cmd_fd(argv[2], argv[3]);
	if (argc >= 4 && (!strcmp(argv[1], "dir") ||
			  !strcmp(argv[1], "dirsteps")) && atoi(argv[3]) <= 0)
		return 2;
	if (argc == 5 && !strcmp(argv[1], "dir"))
		return cmd_dir(argv[2], atoi(argv[3]), argv[4]);
	if (argc == 7 && !strcmp(argv[1], "dirsteps"))
		return cmd_dirsteps(argv[2], atoi(argv[3]), argv[4],
				    atoi(argv[5]), atoi(argv[6]));
	if (argc == 4 && !strcmp(argv[1], "stale"))
		return cmd_stale(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "extend"))
		return cmd_extend(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "verify"))
		return cmd_verify(argv[2], strtoull(argv[3], NULL, 0));
	fprintf(stderr, "usage: see the comment at the top of %s\n", __FILE__);
	return 2;
}
