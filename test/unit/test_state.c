// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The state store on a memfd: node ids, lookup counts, handles, reopening
 * (what the next server does), refusing other versions and damaged state
 * without writing, and a table that stays usable after SIGKILL at random
 * points of a writer, and headers crafted to point outside the mapping
 * (the cases the state fuzzer, test/fuzz/fuzz_state.c, looks for).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fuse_recover.h"
#include "state_format.h"

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

/*
 * A store whose header is rewritten by @damage, checksum fixed up as an
 * attacker would: the open must fail with -EBADMSG and change no byte.
 */
static void refused_after(void (*damage)(struct st_header *h))
{
	struct fuse_recover_store *st = NULL;
	unsigned char *before, *after;
	struct st_header *h;
	struct stat sb;
	int fd = new_memfd();

	st = open_store(fd, 0);
	fuse_recover_store_close(st);
	assert_int_equal(fstat(fd, &sb), 0);
	before = malloc(sb.st_size);
	after = malloc(sb.st_size);
	assert_non_null(before);
	assert_non_null(after);
	assert_int_equal(pread(fd, before, sb.st_size, 0), sb.st_size);
	h = (struct st_header *)before;
	damage(h);
	h->csum = fnv1a(&h->g, sizeof(h->g));
	assert_int_equal(pwrite(fd, before, ST_HDR_SIZE, 0), ST_HDR_SIZE);
	/* Journal records that look in use: take_journal would clear them. */
	memset(before + ST_HDR_SIZE, 0x11, 64);
	assert_int_equal(pwrite(fd, before + ST_HDR_SIZE, 64, ST_HDR_SIZE), 64);

	assert_int_equal(fuse_recover_store_open_fd(fd, &cfg, &st), -EBADMSG);
	assert_int_equal(pread(fd, after, sb.st_size, 0), sb.st_size);
	assert_memory_equal(before, after, sb.st_size);
	free(before);
	free(after);
	close(fd);
}

/* The audit's case: take_journal would write through a wild pointer. */
static void wrap_journal(struct st_header *h)
{
	h->g.off_journal = -(uint64_t)ST_HDR_SIZE;
}

/* off_buckets + nbuckets * 4 wraps to below off_nodes. */
static void wrap_buckets(struct st_header *h)
{
	h->g.off_buckets = UINT64_MAX - 1000;
}

static void wrap_handles(struct st_header *h)
{
	h->g.off_handles = UINT64_MAX - 15;
}

/* Far beyond the file, sums all in order. */
static void beyond_end(struct st_header *h)
{
	h->g.off_handles += 1ULL << 40;
	h->g.size += 1ULL << 40;
}

/* Inside the file, but the handle table runs past its end. */
static void handles_past_end(struct st_header *h)
{
	h->g.off_handles = h->g.size - 16;
}

static void misaligned_nodes(struct st_header *h)
{
	h->g.off_nodes += 4;
}

static void misaligned_journal(struct st_header *h)
{
	h->g.off_journal += 1;
}

/* More nodes than the space between the node and handle tables holds. */
static void nodes_overlap_handles(struct st_header *h)
{
	h->g.max_nodes *= 2;
}

static void buckets_not_pow2(struct st_header *h)
{
	h->g.nbuckets = 3000;
}

static void short_records(struct st_header *h)
{
	h->g.node_rec_size = 8;
}

static void node_hwm_beyond(struct st_header *h)
{
	atomic_store(&h->node_hwm, h->g.max_nodes + 1);
}

static void handle_hwm_beyond(struct st_header *h)
{
	atomic_store(&h->handle_hwm, h->g.max_handles + 1);
}

static void refused_damaged_geometry(void **state)
{
	(void)state;
	refused_after(wrap_journal);
	refused_after(wrap_buckets);
	refused_after(wrap_handles);
	refused_after(beyond_end);
	refused_after(handles_past_end);
	refused_after(misaligned_nodes);
	refused_after(misaligned_journal);
	refused_after(nodes_overlap_handles);
	refused_after(buckets_not_pow2);
	refused_after(short_records);
	refused_after(node_hwm_beyond);
	refused_after(handle_hwm_beyond);
}

/* A store grown behind its header's back is not taken either. */
static void refused_resized(void **state)
{
	struct fuse_recover_store *st = NULL;
	struct stat sb;
	int fd = new_memfd();

	(void)state;
	st = open_store(fd, 0);
	fuse_recover_store_close(st);
	assert_int_equal(fstat(fd, &sb), 0);
	assert_int_equal(ftruncate(fd, sb.st_size + 4096), 0);
	assert_int_equal(fuse_recover_store_open_fd(fd, &cfg, &st), -EBADMSG);
	close(fd);
}

/*
 * Another holder of the memfd rewrites the shared counters while the store
 * is open (the fuzzer's runtime patches): ids beyond the table stay stale,
 * nothing is read or written outside the mapping.
 */
static void counters_changed_under_us(void **state)
{
	struct fuse_recover_store *st;
	unsigned char a[DATA], out[DATA];
	uint64_t big = 1ULL << 40, fh;
	fuse_ino_t ia, ino;
	int fd = new_memfd();

	(void)state;
	st = open_store(fd, 0);
	ident(3, a);
	assert_int_equal(fuse_recover_node_ref(st, 3, a, &ia, NULL), 0);
	assert_int_equal(fuse_recover_fh_new(st, ia, 0, &fh), 0);
	assert_int_equal(pwrite(fd, &big, 8,
				offsetof(struct st_header, node_hwm)), 8);
	assert_int_equal(pwrite(fd, &big, 8,
				offsetof(struct st_header, handle_hwm)), 8);
	/* Slot 99999: far past max_nodes, below the forged mark. */
	ino = (1ULL << 32) | 100000;
	assert_int_equal(fuse_recover_node_data(st, ino, out), -ESTALE);
	fuse_recover_node_forget(st, ino, 1);
	assert_int_equal(fuse_recover_fh_get(st, (1ULL << 32) | 100000, NULL,
					     NULL), -EBADF);
	assert_int_equal(fuse_recover_fh_release(st, (1ULL << 32) | 100000),
			 -EBADF);
	/* What was there is still found; the table counts as full. */
	assert_int_equal(fuse_recover_node_data(st, ia, out), 0);
	assert_memory_equal(out, a, DATA);
	ident(4, a);
	assert_int_equal(fuse_recover_node_ref(st, 4, a, &ino, NULL), -ENOSPC);
	fuse_recover_store_close(st);
	/* And the next open refuses the forged marks. */
	assert_int_equal(fuse_recover_store_open_fd(fd, &cfg, &st), -EBADMSG);
	close(fd);
}

/* Memory that can be sealed is: nobody can shrink it under the mapping. */
static void sealed_against_shrinking(void **state)
{
	struct fuse_recover_store *st = NULL;
	struct stat sb;
	int fd = memfd_create("test-seal", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	(void)state;
	assert_true(fd >= 0);
	st = open_store(fd, 0);
	assert_int_equal(fstat(fd, &sb), 0);
	assert_true(fcntl(fd, F_GET_SEALS) & F_SEAL_SHRINK);
	assert_int_equal(ftruncate(fd, 4096), -1);
	assert_int_equal(errno, EPERM);
	fuse_recover_store_close(st);
	st = open_store(fd, FUSE_RECOVER_RECOVERED);
	fuse_recover_store_close(st);
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
		cmocka_unit_test(refused_damaged_geometry),
		cmocka_unit_test(refused_resized),
		cmocka_unit_test(counters_changed_under_us),
		cmocka_unit_test(sealed_against_shrinking),
		cmocka_unit_test(sigkill_anywhere),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
