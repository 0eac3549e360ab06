// SPDX-License-Identifier: LGPL-2.1-or-later
/* Recovery settings and the -o options that fill them. */
#include "fuse_recover_i.h"

#include <errno.h>
#include <fuse_opt.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#define FR_DEFAULT_RESTARTS 10
#define FR_DEFAULT_WINDOW 60
#define FR_DEFAULT_TIMEOUT 60

struct fr_opts {
	char *tag;
	int restarts, window, timeout;
	int auto_unmount;
};

#define FR_OPT(t, m) { t, offsetof(struct fr_opts, m), 1 }
static const struct fuse_opt fr_opt_spec[] = {
	FR_OPT("tag=%s", tag),
	FR_OPT("recover_restarts=%d", restarts),
	FR_OPT("recover_window=%d", window),
	FR_OPT("recover_timeout=%d", timeout),
	FUSE_OPT_KEY("auto_unmount", 1),
	FUSE_OPT_END
};

static int fr_opt_proc(void *data, const char *arg, int key,
		       struct fuse_args *outargs)
{
	struct fr_opts *o = data;

	(void)arg;
	(void)outargs;
	if (key == 1)
		o->auto_unmount = 1;
	return 1; /* keep everything we do not own */
}

int fuse_recover_new(struct fuse_args *args, struct fuse_recover **frp)
{
	struct fr_opts o = { .restarts = FR_DEFAULT_RESTARTS,
			     .window = FR_DEFAULT_WINDOW,
			     .timeout = FR_DEFAULT_TIMEOUT };
	struct fuse_recover *fr;
	int err = 0;

	*frp = NULL;
	if (args && fuse_opt_parse(args, &o, fr_opt_spec, fr_opt_proc) < 0)
		return -EINVAL;
	if (o.restarts < 0 || o.window < 0 || o.timeout < 0) {
		fr_log(LOG_ERR, "recover_* options must not be negative");
		err = -EINVAL;
	} else if (o.tag && o.auto_unmount) {
		fr_log(LOG_ERR,
		       "-o auto_unmount cannot be combined with -o tag: it would unmount on every crash");
		err = -EINVAL;
	}
	fr = calloc(1, sizeof(*fr));
	if (!fr && !err)
		err = -ENOMEM;
	if (!err) {
		fr->max_restarts = o.restarts;
		fr->window_sec = o.window;
		fr->timeout_sec = o.timeout;
		if (o.tag)
			err = fuse_recover_set_tag(fr, o.tag);
	}
	free(o.tag);
	if (err) {
		fuse_recover_destroy(fr);
		return err;
	}
	*frp = fr;
	return 0;
}

int fuse_recover_set_tag(struct fuse_recover *fr, const char *tag)
{
	char *copy = NULL;
	int err;

	if (tag) {
		err = fuse_recover_tag_valid(tag);
		if (err) {
			fr_log(LOG_ERR,
			       "invalid tag \"%.80s\": use 1-%d characters from [A-Za-z0-9._-], starting with a letter or digit",
			       tag, FUSE_RECOVER_TAG_MAX);
			return err;
		}
		copy = strdup(tag);
		if (!copy)
			return -ENOMEM;
	}
	free(fr->tag);
	fr->tag = copy;
	return 0;
}

const char *fuse_recover_tag(const struct fuse_recover *fr)
{
	return fr ? fr->tag : NULL;
}

void fuse_recover_destroy(struct fuse_recover *fr)
{
	if (!fr)
		return;
	free(fr->tag);
	free(fr);
}
