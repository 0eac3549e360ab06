// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The state store on a memfd: node ids, lookup counts, handles, reopening
 * (what the next server does), refusing other versions and damaged state
 * without writing, and a table that stays usable after SIGKILL at random
 * points of a writer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fuse_recover.h"

#define DATA 24
#define IDS 512

static const struct fuse_recover_store_config cfg = {
	.server_version = 7,
	.node_data_size = DATA,
	.max_nodes = 4096,
	.max_handles = 1024,
};

static void ident(unsigned int i, unsigned char *d)
{
	unsigned int k;

	for (k = 0; k < DATA; k++)
		d[k] = (unsigned char)(i * 31 + k * 7 + 1);
	memcpy(d, &i, sizeof(i));
}

static int new_memfd(void)
{
	int fd = memfd_create("test-state", MFD_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

static struct fuse_recover_store *open_store(int fd, int want)
{
	struct fuse_recover_store *st = NULL;
	unsigned char root[DATA] = { 0 };

	assert_int_equal(fuse_recover_store_open_fd(fd, &cfg, &st), want);
	assert_int_equal(fuse_recover_store_root(st, root), 0);
	return st;
}

static void nodes_and_counts(void **state)
{
	unsigned char a[DATA], b[DATA], out[DATA];
	struct fuse_recover_store *st;
	fuse_ino_t ia, ia2, ib, ia3;
	uint64_t gen, nl;
	uint32_t opens;
	int fd = new_memfd();

	(void)state;
	st = open_store(fd, 0);
	ident(1, a);
	ident(2, b);
	assert_int_equal(fuse_recover_node_ref(st, 1, a, &ia, &gen), 0);
	assert_int_equal(fuse_recover_node_ref(st, 1, a, &ia2, NULL), 0);
	assert_int_equal(fuse_recover_node_ref(st, 1, b, &ib, NULL), 0);
	assert_true(ia == ia2 && ia != ib && ia != FUSE_ROOT_ID);
	assert_int_equal(fuse_recover_node_counts(st, ia, &nl, &opens), 0);
	assert_int_equal(nl, 2);
	assert_int_equal(fuse_recover_node_data(st, ib, out), 0);
	assert_memory_equal(out, b, DATA);
	assert_int_equal(fuse_recover_node_find(st, 1, a, &ia2), 0);
	assert_int_equal(ia2, ia);
	fuse_recover_node_forget(st, ia, 2);
	assert_int_equal(fuse_recover_node_data(st, ia, out), -ESTALE);
	assert_int_equal(fuse_recover_node_find(st, 1, a, &ia2), -ENOENT);
	/* A reused slot gets a new generation: the old id stays stale. */
	assert_int_equal(fuse_recover_node_ref(st, 1, a, &ia3, NULL), 0);
	assert_true(ia3 != ia);
	assert_int_equal(fuse_recover_node_data(st, ia, out), -ESTALE);
	fuse_recover_store_close(st);
	close(fd);
}

static void handles_and_reopen(void **state)
{
	unsigned char a[DATA], out[DATA];
	struct fuse_recover_store *st;
	fuse_ino_t ia, ino;
	uint64_t fh1, fh2, nl;
	uint32_t flags, opens;
	int fd = new_memfd();

	(void)state;
	st = open_store(fd, 0);
	ident(5, a);
	assert_int_equal(fuse_recover_node_ref(st, 5, a, &ia, NULL), 0);
	assert_int_equal(fuse_recover_fh_new(st, ia, 0101, &fh1), 0);
	assert_int_equal(fuse_recover_fh_new(st, ia, 02, &fh2), 0);
	assert_true(fh1 != fh2);
	fuse_recover_store_close(st);

	/* The next server maps the same pages. */
	st = open_store(fd, FUSE_RECOVER_RECOVERED);
	assert_int_equal(fuse_recover_node_data(st, ia, out), 0);
	assert_memory_equal(out, a, DATA);
	assert_int_equal(fuse_recover_fh_get(st, fh1, &ino, &flags), 0);
	assert_int_equal(ino, ia);
	assert_int_equal(flags, 0101);
	assert_int_equal(fuse_recover_node_counts(st, ia, &nl, &opens), 0);
	assert_int_equal(nl, 1);
	assert_int_equal(opens, 2);
	assert_int_equal(fuse_recover_fh_release(st, fh1), 1);
	assert_int_equal(fuse_recover_fh_get(st, fh1, NULL, NULL), -EBADF);
	assert_int_equal(fuse_recover_fh_release(st, fh2), 0);
	assert_int_equal(fuse_recover_fh_release(st, fh2), -EBADF);
	fuse_recover_store_close(st);
	close(fd);
}

static void page_of(int fd, unsigned char *buf)
{
	assert_int_equal(pread(fd, buf, 4096, 0), 4096);
}

static void refused_without_writing(void **state)
{
	struct fuse_recover_store_config other = cfg;
	struct fuse_recover_store *st = NULL;
	unsigned char before[4096], after[4096];
	int fd = new_memfd();

	(void)state;
	st = open_store(fd, 0);
	fuse_recover_store_close(st);

	other.server_version = 8;
	page_of(fd, before);
	assert_int_equal(fuse_recover_store_open_fd(fd, &other, &st), -EPROTO);
	page_of(fd, after);
	assert_memory_equal(before, after, 4096);

	other = cfg;
	other.node_data_size = DATA + 8;
	assert_int_equal(fuse_recover_store_open_fd(fd, &other, &st), -EPROTO);

	/* Damaged geometry: checksum. */
	before[40] ^= 0xff;
	assert_int_equal(pwrite(fd, before, 4096, 0), 4096);
	assert_int_equal(fuse_recover_store_open_fd(fd, &cfg, &st), -EBADMSG);
	page_of(fd, after);
	assert_memory_equal(before, after, 4096);
	/* No magic at all. */
	memset(before, 0x5a, 16);
	assert_int_equal(pwrite(fd, before, 4096, 0), 4096);
	assert_int_equal(fuse_recover_store_open_fd(fd, &cfg, &st), -EBADMSG);
	/* Truncated. */
	assert_int_equal(ftruncate(fd, 100), 0);
	assert_int_equal(fuse_recover_store_open_fd(fd, &cfg, &st), -EBADMSG);
	close(fd);
}

/* The writer: references, forgets and handles, until killed. */
static void writer(int fd, unsigned int seed)
{
	struct fuse_recover_store *st = NULL;
	unsigned char d[DATA];
	fuse_ino_t ino;
	uint64_t fh;

	if (fuse_recover_store_open_fd(fd, &cfg, &st) < 0)
		_exit(3);
	for (;;) {
		unsigned int i = rand_r(&seed) % IDS;

		ident(i, d);
		switch (rand_r(&seed) % 4) {
		case 0:
		case 1:
			if (fuse_recover_node_ref(st, i, d, &ino, NULL) < 0)
				_exit(4);
			break;
		case 2:
			if (fuse_recover_node_find(st, i, d, &ino) == 0)
				fuse_recover_node_forget(st, ino, 1);
			break;
		default:
			if (fuse_recover_node_find(st, i, d, &ino) == 0 &&
			    fuse_recover_fh_new(st, ino, 0, &fh) == 0 &&
			    rand_r(&seed) % 2)
				fuse_recover_fh_release(st, fh);
			break;
		}
	}
}

static void sigkill_anywhere(void **state)
{
	struct fuse_recover_store *st;
	unsigned char d[DATA], out[DATA];
	unsigned int round, i, found;
	fuse_ino_t ino;
	int fd = new_memfd(), status;
	pid_t pid;

	(void)state;
	st = open_store(fd, 0);
	fuse_recover_store_close(st);
	srand(time(NULL));
	for (round = 0; round < 150; round++) {
		struct timespec ts = { 0, (rand() % 3000) * 1000L };

		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			writer(fd, rand());
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));

		/* Whatever instruction it died at, the table is usable. */
		st = open_store(fd, FUSE_RECOVER_RECOVERED);
		found = 0;
		for (i = 0; i < IDS; i++) {
			ident(i, d);
			if (fuse_recover_node_find(st, i, d, &ino) < 0)
				continue;
			found++;
			assert_int_equal(fuse_recover_node_data(st, ino, out),
					 0);
			assert_memory_equal(out, d, DATA);
		}
		ident(IDS + round, d);
		assert_int_equal(fuse_recover_node_ref(st, IDS + round, d, &ino,
						       NULL), 0);
		fuse_recover_node_forget(st, ino, 1);
		fuse_recover_store_close(st);
	}
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(nodes_and_counts),
		cmocka_unit_test(handles_and_reopen),
		cmocka_unit_test(refused_without_writing),
		cmocka_unit_test(sigkill_anywhere),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
