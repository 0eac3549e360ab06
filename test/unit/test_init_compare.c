// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * INIT reply comparison: which differences between the reply the kernel
 * accepted and the one a restarted server produces are fatal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <linux/fuse.h>
#include <string.h>

#include "fuse_recover_i.h"

static int warnings;

void fr_log(int level, const char *fmt, ...)
{
	(void)fmt;
	if (level == 4 /* LOG_WARNING */)
		warnings++;
}

struct reply {
	struct fuse_out_header h;
	struct fuse_init_out o;
};

static struct reply base(void)
{
	struct reply r = {
		.h = { .len = sizeof(r), .unique = 2 },
		.o = { .major = 7, .minor = 31, .max_readahead = 131072,
		       .flags = FUSE_ASYNC_READ | FUSE_BIG_WRITES |
				FUSE_MAX_PAGES,
		       .max_background = 12, .congestion_threshold = 9,
		       .max_write = 131072, .time_gran = 1, .max_pages = 32 },
	};
	return r;
}

static int compare(const struct reply *a, const struct reply *b, char *why)
{
	return fr_init_compare(a, sizeof(*a), b, sizeof(*b), why, 256);
}

static void identical_is_fine(void **state)
{
	struct reply a = base(), b = base();
	char why[256];

	(void)state;
	b.h.unique = 99; /* replay uses its own unique */
	assert_int_equal(compare(&a, &b, why), 0);
}

static void capability_change_is_fatal(void **state)
{
	struct reply a = base(), b = base();
	char why[256];

	(void)state;
	b.o.flags |= FUSE_WRITEBACK_CACHE;
	assert_int_equal(compare(&a, &b, why), -EPROTO);
	assert_non_null(strstr(why, "capabilities differ"));
	b = base();
	b.o.flags &= ~FUSE_ASYNC_READ;
	assert_int_equal(compare(&a, &b, why), -EPROTO);
}

static void protocol_change_is_fatal(void **state)
{
	struct reply a = base(), b = base();
	char why[256];

	(void)state;
	b.o.minor = 30;
	assert_int_equal(compare(&a, &b, why), -EPROTO);
	assert_int_equal(fr_init_compare(&a, sizeof(a), &b, sizeof(b) - 8, why,
					 sizeof(why)), -EPROTO);
}

static void smaller_max_write_is_fatal(void **state)
{
	struct reply a = base(), b = base();
	char why[256];

	(void)state;
	b.o.max_write = 4096;
	b.o.max_pages = 1;
	assert_int_equal(compare(&a, &b, why), -EPROTO);
	assert_non_null(strstr(why, "max_write"));
}

static void error_reply_is_fatal(void **state)
{
	struct reply a = base(), b = base();
	char why[256];

	(void)state;
	b.h.error = -EPROTO;
	assert_int_equal(compare(&a, &b, why), -EPROTO);
	assert_int_equal(fr_init_compare(&a, sizeof(a), &b, 3, why, 256),
			 -EPROTO);
	/* Found by fuzz_init: no errno at all, -INT_MIN overflowed. */
	b.h.error = INT32_MIN;
	assert_int_equal(compare(&a, &b, why), -EPROTO);
	assert_non_null(strstr(why, "not an errno"));
	b.h.error = 5;
	assert_int_equal(compare(&a, &b, why), -EPROTO);
	assert_non_null(strstr(why, "not an errno"));
}

static void tuning_change_warns(void **state)
{
	struct reply a = base(), b = base();
	char why[256];

	(void)state;
	warnings = 0;
	b.o.max_background = 64;
	b.o.max_write = 1 << 20; /* larger is harmless */
	b.o.max_pages = 256;
	assert_int_equal(compare(&a, &b, why), 0);
	assert_int_equal(warnings, 1);
}

/* A kernel cache policy, not a contract: kept by the kernel, warned about. */
static void auto_inval_data_change_warns(void **state)
{
	struct reply a = base(), b = base();
	char why[256];

	(void)state;
	warnings = 0;
	a.o.flags |= FUSE_AUTO_INVAL_DATA;
	assert_int_equal(compare(&a, &b, why), 0);
	assert_int_equal(compare(&b, &a, why), 0);
	assert_int_equal(warnings, 2);
	b.o.flags |= FUSE_WRITEBACK_CACHE;
	assert_int_equal(compare(&a, &b, why), -EPROTO);
}

static void probe_reads_resend_flag(void **state)
{
	struct {
		struct fuse_in_header h;
		struct fuse_init_in i;
	} req = { .h = { .len = sizeof(req), .opcode = FUSE_INIT },
		  .i = { .major = 7, .minor = 45, .flags = FUSE_INIT_EXT,
			 .flags2 = (uint32_t)(FR_HAS_RESEND >> 32) } };
	struct fr_kernel k;

	(void)state;
	assert_int_equal(fr_probe_init_in(&req, sizeof(req), &k), 0);
	assert_true(k.resend);
	assert_int_equal(k.minor, 45);
	req.i.flags = 0; /* flags2 only counts with FUSE_INIT_EXT */
	assert_int_equal(fr_probe_init_in(&req, sizeof(req), &k), 0);
	assert_false(k.resend);
	req.h.opcode = FUSE_LOOKUP;
	assert_int_equal(fr_probe_init_in(&req, sizeof(req), &k), -EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(identical_is_fine),
		cmocka_unit_test(capability_change_is_fatal),
		cmocka_unit_test(protocol_change_is_fatal),
		cmocka_unit_test(smaller_max_write_is_fatal),
		cmocka_unit_test(error_reply_is_fatal),
		cmocka_unit_test(tuning_change_warns),
		cmocka_unit_test(auto_inval_data_change_warns),
		cmocka_unit_test(probe_reads_resend_flag),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
