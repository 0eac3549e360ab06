// SPDX-License-Identifier: LGPL-2.1-or-later
/* Tag validation and the -o options fuse_recover_new() takes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "fuse_recover.h"

static void valid_tags(void **state)
{
	(void)state;
	assert_int_equal(fuse_recover_tag_valid("a"), 0);
	assert_int_equal(fuse_recover_tag_valid("web-cache_1.v2"), 0);
	assert_int_equal(fuse_recover_tag_valid("0abc"), 0);
}

static void invalid_tags(void **state)
{
	char long_tag[FUSE_RECOVER_TAG_MAX + 2];

	(void)state;
	assert_int_equal(fuse_recover_tag_valid(NULL), -EINVAL);
	assert_int_equal(fuse_recover_tag_valid(""), -EINVAL);
	assert_int_equal(fuse_recover_tag_valid("."), -EINVAL);
	assert_int_equal(fuse_recover_tag_valid(".."), -EINVAL);
	assert_int_equal(fuse_recover_tag_valid("../etc"), -EINVAL);
	assert_int_equal(fuse_recover_tag_valid("a/b"), -EINVAL);
	assert_int_equal(fuse_recover_tag_valid("-rf"), -EINVAL);
	assert_int_equal(fuse_recover_tag_valid("a b"), -EINVAL);
	assert_int_equal(fuse_recover_tag_valid("a\n"), -EINVAL);
	memset(long_tag, 'x', sizeof(long_tag) - 1);
	long_tag[sizeof(long_tag) - 1] = 0;
	assert_int_equal(fuse_recover_tag_valid(long_tag), -ENAMETOOLONG);
	long_tag[FUSE_RECOVER_TAG_MAX] = 0;
	assert_int_equal(fuse_recover_tag_valid(long_tag), 0);
}

static void options_taken_out(void **state)
{
	char *argv[] = { "prog", "-f", "-o", "ro,tag=data1,recover_timeout=5",
			 "/mnt", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(5, argv);
	struct fuse_recover *fr;
	char all[256] = "";
	int i;

	(void)state;
	assert_int_equal(fuse_recover_new(&args, &fr), 0);
	assert_string_equal(fuse_recover_tag(fr), "data1");
	for (i = 0; i < args.argc; i++) {
		strcat(all, args.argv[i]);
		strcat(all, " ");
	}
	/* Ours are gone, the rest stays for fuse_session_new(). */
	assert_null(strstr(all, "tag="));
	assert_null(strstr(all, "recover_"));
	assert_non_null(strstr(all, "ro"));
	assert_non_null(strstr(all, "-f"));
	assert_non_null(strstr(all, "/mnt"));
	fuse_recover_destroy(fr);
	fuse_opt_free_args(&args);
}

static void no_tag_means_no_recovery(void **state)
{
	char *argv[] = { "prog", "/mnt", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(2, argv);
	struct fuse_recover *fr;

	(void)state;
	assert_int_equal(fuse_recover_new(&args, &fr), 0);
	assert_null(fuse_recover_tag(fr));
	assert_int_equal(fuse_recover_set_tag(fr, "x"), 0);
	assert_string_equal(fuse_recover_tag(fr), "x");
	assert_int_equal(fuse_recover_set_tag(fr, "x/y"), -EINVAL);
	assert_string_equal(fuse_recover_tag(fr), "x");
	assert_int_equal(fuse_recover_set_tag(fr, NULL), 0);
	assert_null(fuse_recover_tag(fr));
	fuse_recover_destroy(fr);
	fuse_opt_free_args(&args);
}

static void bad_options_refused(void **state)
{
	char *bad_tag[] = { "prog", "-o", "tag=../x", NULL };
	char *auto_um[] = { "prog", "-o", "tag=a,auto_unmount", NULL };
	char *negative[] = { "prog", "-o", "tag=a,recover_window=-1", NULL };
	char **cases[] = { bad_tag, auto_um, negative };
	unsigned int i;

	(void)state;
	for (i = 0; i < 3; i++) {
		struct fuse_args args = FUSE_ARGS_INIT(3, cases[i]);
		struct fuse_recover *fr = (void *)1;

		assert_int_equal(fuse_recover_new(&args, &fr), -EINVAL);
		assert_null(fr);
		fuse_opt_free_args(&args);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(valid_tags),
		cmocka_unit_test(invalid_tags),
		cmocka_unit_test(options_taken_out),
		cmocka_unit_test(no_tag_means_no_recovery),
		cmocka_unit_test(bad_options_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
