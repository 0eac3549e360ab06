// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The translation layer's id map (lib/idmap.c) on a memfd, what its hot
 * path relies on: a freed node or handle slot is taken again first, with
 * a new generation, so the id the kernel gave up never names the new
 * record; server ids bound and freed in a loop stay found (tombstones
 * reused); a map opened empty has only records of its run until a new
 * epoch or a reopen; a node is named exactly while its parent is set;
 * a batch of a few thousand freed and made again reuses its own slots;
 * an UNLINK's reply unnames just the node of that parent and name, also
 * through the hint of the last lookup, whose index entry is taken over
 * later; a server node bound to a second kernel node keeps the first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "idmap.h"

#define NODES 4096
#define HANDLES 1024

static int new_memfd(void)
{
	int fd = memfd_create("test-idmap", MFD_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

static struct xl_node *node_new(struct fr_idmap *m, uint64_t srv)
{
	struct fr_idmap_ident id = { .srv = srv, .ino = srv, .mode = S_IFREG };
	struct xl_node *n = NULL;

	fr_idmap_lock(m);
	assert_int_equal(fr_idmap_node_new(m, &id, &n), 0);
	fr_idmap_unlock(m);
	assert_non_null(n);
	return n;
}

static void node_free(struct fr_idmap *m, struct xl_node *n)
{
	fr_idmap_lock(m);
	fr_idmap_node_free(m, n);
	fr_idmap_unlock(m);
}

static void slot_reused(void **state)
{
	struct fr_idmap *m;
	struct xl_node *a, *b, *keep;
	uint64_t ka, kb, srv;
	int fd = new_memfd();

	(void)state;
	assert_int_equal(fr_idmap_open(fd, NODES, HANDLES, &m), 0);
	keep = node_new(m, 0x1000);
	a = node_new(m, 0x2000);
	ka = fr_idmap_node_id(m, a);
	node_free(m, a);
	assert_null(fr_idmap_node(m, ka));
	/* The slot just freed, not the next untouched one. */
	b = node_new(m, 0x3000);
	kb = fr_idmap_node_id(m, b);
	assert_ptr_equal(a, b);
	assert_int_equal(ka & 0xffffffffu, kb & 0xffffffffu);
	assert_true(ka != kb);
	assert_null(fr_idmap_node(m, ka));
	assert_false(fr_idmap_node_srv(m, ka, &srv));
	assert_true(fr_idmap_node_srv(m, kb, &srv));
	assert_int_equal(srv, 0x3000);
	assert_ptr_equal(fr_idmap_by_srv(m, 0x3000), b);
	assert_null(fr_idmap_by_srv(m, 0x2000));
	assert_ptr_equal(fr_idmap_by_srv(m, 0x1000), keep);
	fr_idmap_close(m);
	close(fd);
}

static void handle_slot_reused(void **state)
{
	struct fr_idmap *m;
	struct xl_handle *f, *g;
	uint64_t kf, kg, srv_fh;
	int fd = new_memfd();

	(void)state;
	assert_int_equal(fr_idmap_open(fd, NODES, HANDLES, &m), 0);
	fr_idmap_lock(m);
	assert_int_equal(fr_idmap_handle_new(m, &f, &kf), 0);
	fr_idmap_handle_bind(m, f, 7);
	fr_idmap_handle_free(m, f);
	assert_int_equal(fr_idmap_handle_new(m, &g, &kg), 0);
	fr_idmap_handle_bind(m, g, 8);
	fr_idmap_unlock(m);
	assert_ptr_equal(f, g);
	assert_true(kf != kg);
	assert_null(fr_idmap_handle(m, kf));
	assert_false(fr_idmap_handle_srv(m, kf, &srv_fh));
	assert_true(fr_idmap_handle_srv(m, kg, &srv_fh));
	assert_int_equal(srv_fh, 8);
	fr_idmap_close(m);
	close(fd);
}

/*
 * A slot this process freed and another run took meanwhile (the map is
 * shared: a successor serving, then a rollback) is skipped, never taken
 * twice.
 */
static void recent_slot_taken_meanwhile(void **state)
{
	struct fr_idmap *m, *other;
	struct xl_node *a, *b, *c;
	struct fr_idmap_ident id = { .srv = 0x50, .ino = 5 };
	int fd = new_memfd();

	(void)state;
	/* Slots 2 and 3 are all there is (0 unused, 1 the root). */
	assert_int_equal(fr_idmap_open(fd, 4, HANDLES, &m), 0);
	a = node_new(m, 0x10);
	b = node_new(m, 0x20);
	node_free(m, a);
	assert_int_equal(fr_idmap_open(fd, 4, HANDLES, &other), 1);
	c = node_new(other, 0x30);
	assert_true((uintptr_t)c - (uintptr_t)fr_idmap_node(other, XL_ROOT) ==
		    (uintptr_t)a - (uintptr_t)fr_idmap_node(m, XL_ROOT));
	fr_idmap_lock(m);
	assert_int_equal(fr_idmap_node_new(m, &id, &a), -ENFILE);
	fr_idmap_unlock(m);
	assert_ptr_equal(fr_idmap_by_srv(m, 0x20), b);
	assert_ptr_equal(fr_idmap_by_srv(other, 0x30), c);
	fr_idmap_close(other);
	fr_idmap_close(m);
	close(fd);
}

/* Server ids bound and dropped in a loop, as a create/unlink loop does. */
static void srv_ids_churn(void **state)
{
	struct fr_idmap *m;
	struct xl_node *live[64];
	int fd = new_memfd(), i, round;

	(void)state;
	assert_int_equal(fr_idmap_open(fd, NODES, HANDLES, &m), 0);
	for (i = 0; i < 64; i++)
		live[i] = node_new(m, 0x100000 + i * 16);
	for (round = 0; round < 200; round++) {
		uint64_t srv = 0x900000 + (uint64_t)round * 48;
		struct xl_node *n = node_new(m, srv);

		assert_ptr_equal(fr_idmap_by_srv(m, srv), n);
		node_free(m, n);
		assert_null(fr_idmap_by_srv(m, srv));
		/* malloc'ed server nodes come back at the same address. */
		n = node_new(m, 0x100000 + (round % 64) * 16 + 8);
		assert_ptr_equal(fr_idmap_by_srv(m, 0x100000 +
						 (round % 64) * 16 + 8), n);
		node_free(m, n);
	}
	for (i = 0; i < 64; i++)
		assert_ptr_equal(fr_idmap_by_srv(m, 0x100000 + i * 16),
				 live[i]);
	fr_idmap_close(m);
	close(fd);
}

static void all_current(void **state)
{
	struct fr_idmap *m;
	int fd = new_memfd();

	(void)state;
	assert_int_equal(fr_idmap_open(fd, NODES, HANDLES, &m), 0);
	assert_true(fr_idmap_all_current(m));
	node_new(m, 0x10);
	assert_true(fr_idmap_all_current(m));
	fr_idmap_new_epoch(m);
	assert_false(fr_idmap_all_current(m));
	fr_idmap_close(m);
	/* The next run's map holds the earlier run's node. */
	assert_int_equal(fr_idmap_open(fd, NODES, HANDLES, &m), 1);
	assert_false(fr_idmap_all_current(m));
	fr_idmap_close(m);
	close(fd);
}

static void named_by_parent(void **state)
{
	struct fr_idmap *m;
	struct xl_node *n;
	const char *name;
	int fd = new_memfd();

	(void)state;
	assert_int_equal(fr_idmap_open(fd, NODES, HANDLES, &m), 0);
	n = node_new(m, 0x10);
	assert_false(fr_idmap_named(n));
	fr_idmap_lock(m);
	assert_int_equal(fr_idmap_set_name(m, n, XL_ROOT, "f", 1), 0);
	fr_idmap_unlock(m);
	assert_true(fr_idmap_named(n));
	assert_int_equal(fr_idmap_name(m, n, &name), 1);
	assert_ptr_equal(fr_idmap_find_name(m, XL_ROOT, "f", 1), n);
	fr_idmap_lock(m);
	fr_idmap_unname(m, n);
	fr_idmap_unlock(m);
	assert_false(fr_idmap_named(n));
	assert_null(fr_idmap_find_name(m, XL_ROOT, "f", 1));
	fr_idmap_close(m);
	close(fd);
}

/* A directory of 3000 files removed and made again: no fresh slot. */
static void batch_reused(void **state)
{
	static struct xl_node *batch[3000];
	struct fr_idmap *m;
	uintptr_t last = 0;
	int fd = new_memfd(), i;

	(void)state;
	assert_int_equal(fr_idmap_open(fd, 4 * 3000, HANDLES, &m), 0);
	for (i = 0; i < 3000; i++) {
		batch[i] = node_new(m, 0x100000 + i * 16);
		if ((uintptr_t)batch[i] > last)
			last = (uintptr_t)batch[i];
	}
	for (i = 0; i < 3000; i++)
		node_free(m, batch[i]);
	for (i = 0; i < 3000; i++)
		assert_true((uintptr_t)node_new(m, 0x900000 + i * 16) <= last);
	fr_idmap_close(m);
	close(fd);
}

static struct xl_node *named(struct fr_idmap *m, uint64_t srv, uint64_t parent,
			     const char *name)
{
	struct xl_node *n = node_new(m, srv);

	fr_idmap_lock(m);
	assert_int_equal(fr_idmap_set_name(m, n, parent, name, strlen(name)),
			 0);
	fr_idmap_unlock(m);
	return n;
}

static bool unname_by(struct fr_idmap *m, uint64_t parent, const char *name)
{
	bool found;

	fr_idmap_lock(m);
	found = fr_idmap_unname_by(m, parent, name, strlen(name));
	fr_idmap_unlock(m);
	return found;
}

static void unlinked_by_name(void **state)
{
	/* Short (first line), on the line's edge, past it, a long-name slot. */
	static const char *const names[] = {
	    "f",
	    "fourteen-chars",
	    "fifteen-chars-x",
	    "a-name-longer-than-the-fifty-eight-bytes-a-record-holds-inline",
	};
	struct xl_node *in_root[4], *in_dir[4], *dir;
	uint64_t d;
	int fd = new_memfd(), i;
	struct fr_idmap *m;

	(void)state;
	assert_int_equal(fr_idmap_open(fd, NODES, HANDLES, &m), 0);
	dir = named(m, 0x10, XL_ROOT, "dir");
	d = fr_idmap_node_id(m, dir);
	for (i = 0; i < 4; i++) {
		in_root[i] = named(m, 0x100 + i * 16, XL_ROOT, names[i]);
		in_dir[i] = named(m, 0x200 + i * 16, d, names[i]);
	}
	for (i = 0; i < 4; i++) {
		assert_true(unname_by(m, d, names[i]));
		assert_false(fr_idmap_named(in_dir[i]));
		assert_null(
		    fr_idmap_find_name(m, d, names[i], strlen(names[i])));
		assert_false(unname_by(m, d, names[i]));
		/* The same name in another directory stays. */
		assert_ptr_equal(
		    fr_idmap_find_name(m, XL_ROOT, names[i], strlen(names[i])),
		    in_root[i]);
	}
	/* Named again after the unlink (a create of the same name). */
	for (i = 0; i < 4; i++) {
		fr_idmap_lock(m);
		assert_int_equal(fr_idmap_set_name(m, in_dir[i], d, names[i],
						   strlen(names[i])),
				 0);
		fr_idmap_unlock(m);
		assert_ptr_equal(
		    fr_idmap_find_name(m, d, names[i], strlen(names[i])),
		    in_dir[i]);
	}
	assert_ptr_equal(fr_idmap_find_name(m, XL_ROOT, "dir", 3), dir);
	/*
	 * Unlinked and made again under one name a hundred times: an index
	 * entry left behind each time would exhaust the name's probes.
	 */
	for (i = 0; i < 100; i++) {
		assert_true(unname_by(m, d, "f"));
		fr_idmap_lock(m);
		assert_int_equal(fr_idmap_set_name(m, in_dir[0], d, "f", 1), 0);
		fr_idmap_unlock(m);
	}
	assert_ptr_equal(fr_idmap_find_name(m, d, "f", 1), in_dir[0]);
	fr_idmap_close(m);
	close(fd);
}

static void seen(struct fr_idmap *m, struct xl_node *n, uint64_t parent,
		 const char *name)
{
	fr_idmap_lock(m);
	fr_idmap_seen(m, n, parent, name, strlen(name));
	fr_idmap_unlock(m);
}

/*
 * An UNLINK of a node a LOOKUP just returned (fr_idmap_seen()) leaves its
 * index entry behind: the entry is taken over by the next insert that
 * meets it, also by the node's own name again; a hint whose node has
 * another name by now is not followed.
 */
static void unlinked_seen(void **state)
{
	struct xl_node *a, *b, *c;
	int fd = new_memfd(), i;
	struct fr_idmap *m;

	(void)state;
	assert_int_equal(fr_idmap_open(fd, NODES, HANDLES, &m), 0);
	/*
	 * One name made, unlinked and freed again and again: entries left
	 * and never taken over would exhaust its probes (set_name() fails).
	 */
	for (i = 0; i < 1000; i++) {
		a = named(m, 0x1000 + i * 16, XL_ROOT, "same");
		seen(m, a, XL_ROOT, "same");
		assert_true(unname_by(m, XL_ROOT, "same"));
		assert_false(fr_idmap_named(a));
		assert_null(fr_idmap_find_name(m, XL_ROOT, "same", 4));
		node_free(m, a);
	}
	/* Named again by the name it lost: found, and unnamed by probing. */
	b = named(m, 0x20, XL_ROOT, "b");
	seen(m, b, XL_ROOT, "b");
	assert_true(unname_by(m, XL_ROOT, "b"));
	for (i = 0; i < 100; i++) {
		fr_idmap_lock(m);
		assert_int_equal(fr_idmap_set_name(m, b, XL_ROOT, "b", 1), 0);
		fr_idmap_unlock(m);
		assert_ptr_equal(fr_idmap_find_name(m, XL_ROOT, "b", 1), b);
		if (i % 2)
			seen(m, b, XL_ROOT, "b");
		assert_true(unname_by(m, XL_ROOT, "b"));
		assert_null(fr_idmap_find_name(m, XL_ROOT, "b", 1));
	}
	/* Renamed since it was seen: the old name's unlink finds nothing. */
	c = named(m, 0x30, XL_ROOT, "old");
	seen(m, c, XL_ROOT, "old");
	fr_idmap_lock(m);
	assert_int_equal(fr_idmap_set_name(m, c, XL_ROOT, "new", 3), 0);
	fr_idmap_unlock(m);
	assert_false(unname_by(m, XL_ROOT, "old"));
	assert_ptr_equal(fr_idmap_find_name(m, XL_ROOT, "new", 3), c);
	/* Unlinked through the hint, renamed: the new name is indexed. */
	seen(m, c, XL_ROOT, "new");
	assert_true(unname_by(m, XL_ROOT, "new"));
	fr_idmap_lock(m);
	assert_int_equal(fr_idmap_set_name(m, c, XL_ROOT, "other", 5), 0);
	fr_idmap_unlock(m);
	assert_null(fr_idmap_find_name(m, XL_ROOT, "new", 3));
	assert_ptr_equal(fr_idmap_find_name(m, XL_ROOT, "other", 5), c);
	a = named(m, 0x40, XL_ROOT, "new");
	assert_ptr_equal(fr_idmap_find_name(m, XL_ROOT, "new", 3), a);
	assert_ptr_equal(fr_idmap_find_name(m, XL_ROOT, "other", 5), c);
	fr_idmap_close(m);
	close(fd);
}

/* Two kernel nodes for one server node: the first stays its node. */
static void srv_bound_twice(void **state)
{
	struct fr_idmap *m;
	struct xl_node *a, *b;
	int fd = new_memfd();

	(void)state;
	assert_int_equal(fr_idmap_open(fd, NODES, HANDLES, &m), 0);
	a = node_new(m, 0x40);
	b = node_new(m, 0x40);
	assert_ptr_equal(fr_idmap_by_srv(m, 0x40), a);
	fr_idmap_lock(m);
	assert_int_equal(fr_idmap_bind(m, b, 0x40), 0);
	fr_idmap_unlock(m);
	assert_ptr_equal(fr_idmap_by_srv(m, 0x40), a);
	node_free(m, a);
	assert_null(fr_idmap_by_srv(m, 0x40));
	/* Bound again, the one left takes the server node over. */
	fr_idmap_lock(m);
	assert_int_equal(fr_idmap_bind(m, b, 0x40), 0);
	fr_idmap_unlock(m);
	assert_ptr_equal(fr_idmap_by_srv(m, 0x40), b);
	/* The server's root is never rebound to another node. */
	fr_idmap_lock(m);
	assert_int_equal(fr_idmap_bind(m, b, 1), 0);
	fr_idmap_unlock(m);
	assert_ptr_equal(fr_idmap_by_srv(m, 1), fr_idmap_node(m, XL_ROOT));
	fr_idmap_close(m);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(slot_reused),
	    cmocka_unit_test(handle_slot_reused),
	    cmocka_unit_test(recent_slot_taken_meanwhile),
	    cmocka_unit_test(srv_ids_churn),
	    cmocka_unit_test(all_current),
	    cmocka_unit_test(named_by_parent),
	    cmocka_unit_test(batch_reused),
	    cmocka_unit_test(unlinked_by_name),
	    cmocka_unit_test(unlinked_seen),
	    cmocka_unit_test(srv_bound_twice),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
