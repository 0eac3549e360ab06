/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Test-only hooks of passthrough_hp.  Compiled into test/passthrough_hp_test
 * (example/passthrough_hp.c built with -DPASSTHROUGH_HP_TEST_HOOKS plus
 * test/pt_hooks.c); the installed example has none of this.  Environment:
 *
 *   PASSTHROUGH_HP_CRASH_AFTER=OP[:NAME]   SIGKILL after performing OP on
 *       NAME (mkdir, unlink, rename, lookup, create, open, setxattr, ...),
 *       before replying: the resent request finds it done.
 *       OP "init": right after opening the state store during a takeover,
 *       before any resent request is handled.
 *   PASSTHROUGH_HP_CRASH_BEFORE=OP[:NAME]  SIGKILL after the request was
 *       journalled but before the syscall (for a resent request: after it
 *       claimed its first attempt's record): the resent request finds it
 *       not done, or a third server must still find it done.
 *   PASSTHROUGH_HP_STATE_VERSION=N  claim another state layout version.
 *   PASSTHROUGH_HP_INIT_WAIT=FILE  init creates FILE.started and waits
 *       (20 s at most) until FILE exists: a standby holds still there
 *       after it fetched the kept fds, while the old server serves on.
 *   PASSTHROUGH_HP_HOLD=FILE  getxattr "trusted.pthp.hold" creates
 *       FILE.started and waits (20 s at most) until FILE exists, then
 *       answers ENODATA: a request the server holds for as long as a test
 *       wants (a drain waits for it).
 *   PASSTHROUGH_HP_DEBUG_XATTR=1  getxattr "trusted.pthp.nlookup" and
 *       "trusted.pthp.opens" return the node's lookup count and open
 *       handles, "trusted.pthp.backing" the backing ids of the whole
 *       store; releases, kept files and write failures are logged.
 */
#ifndef PT_HOOKS_H_
#define PT_HOOKS_H_

#define FUSE_USE_VERSION 312
#include <fuse_recover.h>
#include <stdbool.h>

enum pt_when { PT_BEFORE, PT_AFTER };

void pt_hooks_init(void);
void pt_hook_crash(enum pt_when when, const char *op, const char *name);
unsigned int pt_hook_state_version(unsigned int version);
void pt_hook_init_wait(void);
/* A log line when PASSTHROUGH_HP_DEBUG_XATTR is set; keeps errno. */
void pt_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Answers the debug xattrs; true when it replied. */
bool pt_hook_getxattr(fuse_req_t req, struct fuse_recover_store *st,
		      fuse_ino_t ino, const char *name, size_t size);

#endif
