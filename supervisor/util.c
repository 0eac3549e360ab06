// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fuse-recoverd's logging (the fr_log() that lib/'s shared code calls)
 * and clock.  Calls nothing else of the supervisor.
 */
#include "recoverd.h"

#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>

static FILE *log_file;
static char log_tag[65];

void rd_log_to(FILE *f, const char *tag)
{
	log_file = f;
	snprintf(log_tag, sizeof(log_tag), "%s", tag);
}

void fr_log(int level, const char *fmt, ...)
{
	FILE *f = log_file ? log_file : stderr;
	struct timespec ts;
	va_list ap;

	if (level > LOG_INFO)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(f, "%ld.%03ld fuse-recoverd[%s]: ", (long)ts.tv_sec,
		ts.tv_nsec / 1000000, log_tag);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
	fflush(f);
}

bool rd_tracing;
uint64_t rd_marks[RDM_N];

void rd_mark(enum rd_mark m)
{
	struct timespec ts;

	if (!rd_tracing || __atomic_load_n(&rd_marks[m], __ATOMIC_RELAXED))
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	__atomic_store_n(&rd_marks[m], ts.tv_sec * 1000000000ull + ts.tv_nsec,
			 __ATOMIC_RELAXED);
}

double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}
