// SPDX-License-Identifier: GPL-2.0-or-later
/* Test-only hooks of passthrough_hp (see pt_hooks.h). */
#include "pt_hooks.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct crash_point {
	char *op;
	const char *name;	/* NULL: any */
};

static struct crash_point crash[2];
static bool debug;

static void parse(struct crash_point *p, const char *env)
{
	const char *v = getenv(env);
	char *colon;

	if (!v || !*v)
		return;
	p->op = strdup(v);
	colon = p->op ? strchr(p->op, ':') : NULL;
	if (colon) {
		*colon = '\0';
		p->name = colon + 1;
	}
}

void pt_hooks_init(void)
{
	parse(&crash[PT_BEFORE], "PASSTHROUGH_HP_CRASH_BEFORE");
	parse(&crash[PT_AFTER], "PASSTHROUGH_HP_CRASH_AFTER");
	debug = getenv("PASSTHROUGH_HP_DEBUG_XATTR") != NULL;
}

void pt_hook_crash(enum pt_when when, const char *op, const char *name)
{
	const struct crash_point *p = &crash[when];

	if (!p->op || strcmp(p->op, op) != 0)
		return;
	if (p->name && (!name || strcmp(p->name, name) != 0))
		return;
	fprintf(stderr, "passthrough_hp: test hook: killing myself %s %s\n",
		when == PT_BEFORE ? "before" : "after", op);
	raise(SIGKILL);
}

unsigned int pt_hook_state_version(unsigned int version)
{
	const char *v = getenv("PASSTHROUGH_HP_STATE_VERSION");

	return v ? (unsigned int)atoi(v) : version;
}

/* Creates FILE.started, then waits (20 s at most) until FILE exists. */
static void wait_for(const char *f)
{
	char started[4096];
	FILE *mark;
	int i;

	snprintf(started, sizeof(started), "%s.started", f);
	mark = fopen(started, "w");
	if (mark)
		fclose(mark);
	for (i = 0; i < 2000 && access(f, F_OK) != 0; i++)
		usleep(10000);
}

void pt_hook_init_wait(void)
{
	const char *f = getenv("PASSTHROUGH_HP_INIT_WAIT");

	if (f && *f)
		wait_for(f);
}

void pt_debug(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	if (debug) {
		va_start(ap, fmt);
		fputs("passthrough_hp: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		va_end(ap);
	}
	errno = saved;
}

bool pt_hook_getxattr(fuse_req_t req, struct fuse_recover_store *st,
		      fuse_ino_t ino, const char *name, size_t size)
{
	const char *hold = getenv("PASSTHROUGH_HP_HOLD");
	uint64_t nl = 0;
	uint32_t opens = 0;
	char num[32];
	int n;

	if (hold && *hold && strcmp(name, "trusted.pthp.hold") == 0) {
		wait_for(hold);
		fuse_reply_err(req, ENODATA);
		return true;
	}
	if (!debug || strncmp(name, "trusted.pthp.", 13) != 0)
		return false;
	fuse_recover_node_counts(st, ino, &nl, &opens);
	if (strcmp(name + 13, "opens") == 0)
		nl = opens;
	else if (strcmp(name + 13, "backing") == 0)	/* of the whole store */
		nl = fuse_recover_passthrough_count(st);
	n = snprintf(num, sizeof(num), "%llu", (unsigned long long)nl);
	if (!size)
		fuse_reply_xattr(req, n);
	else if ((size_t)n > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, num, n);
	return true;
}
