// SPDX-License-Identifier: LGPL-2.1-or-later
/* Which runtime-directory files belong to a tag's kept memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime.h"

void fr_log(int level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
}

struct seen {
	char names[8][64];
	unsigned int kinds[8];
	uint64_t keys[8];
	int n;
};

static int note(int dirfd, const char *name, unsigned int kind, uint64_t key,
		void *arg)
{
	struct seen *s = arg;

	(void)dirfd;
	if (s->n == 8)
		return -E2BIG;
	snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name);
	s->kinds[s->n] = kind;
	s->keys[s->n++] = key;
	return 0;
}

static int stop_at_first(int dirfd, const char *name, unsigned int kind,
			 uint64_t key, void *arg)
{
	(void)dirfd;
	(void)name;
	(void)kind;
	(void)key;
	++*(int *)arg;
	return 7;
}

static const char *const files[] = {
	"t.keep-1-5", "t.keep-2-18446744073709551615",
	/* not t's: another tag's, other files, names that do not parse */
	"t.keep-1.keep-1-3", "t.keep-1-5.sock", "t.sock", "t.lock",
	"t.keep-1-", "t.keep--1-2", "t.keep-1-+3", "t.keep- 1-3",
	"t.keep-1-2x", "t.keep-4294967296-1", "t.keep-1-18446744073709551616",
	"tt.keep-1-1", "u.keep-1-1",
};

static char dir[PATH_MAX];

static int make_dir(void **state)
{
	size_t i;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/fr-unit-runtime.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		return -1;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[PATH_MAX + 64];
		int fd;

		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
		if (fd < 0)
			return -1;
		close(fd);
	}
	return 0;
}

static int remove_dir(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[PATH_MAX + 64];

		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	return rmdir(dir);
}

static void only_the_tags_kept_files(void **state)
{
	struct seen s = { .n = 0 };
	int a, b;

	(void)state;
	assert_int_equal(fr_kept_files_each(dir, "t", note, &s), 0);
	assert_int_equal(s.n, 2);
	a = strcmp(s.names[0], "t.keep-1-5") == 0 ? 0 : 1;
	b = 1 - a;
	assert_string_equal(s.names[a], "t.keep-1-5");
	assert_int_equal(s.kinds[a], 1);
	assert_int_equal(s.keys[a], 5);
	assert_string_equal(s.names[b], "t.keep-2-18446744073709551615");
	assert_int_equal(s.kinds[b], 2);
	assert_true(s.keys[b] == UINT64_MAX);
}

static void a_tag_with_dots(void **state)
{
	struct seen s = { .n = 0 };

	(void)state;
	assert_int_equal(fr_kept_files_each(dir, "t.keep-1", note, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.names[0], "t.keep-1.keep-1-3");
}

static void stops_at_nonzero(void **state)
{
	int calls = 0;

	(void)state;
	assert_int_equal(fr_kept_files_each(dir, "t", stop_at_first, &calls),
			 7);
	assert_int_equal(calls, 1);
	assert_int_equal(fr_kept_files_each("/nonexistent/fr", "t", note,
					    NULL), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(only_the_tags_kept_files),
		cmocka_unit_test(a_tag_with_dots),
		cmocka_unit_test(stops_at_nonzero),
	};

	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
