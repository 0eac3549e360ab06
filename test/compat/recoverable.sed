# SPDX-License-Identifier: LGPL-2.1-or-later
# Turns one of libfuse's lowlevel examples (hello_ll.c, passthrough_ll.c,
# passthrough_hp.cc) into a recoverable server with exactly the changes
# README.md asks for: fuse_recover_new() on the arguments before
# fuse_session_new(), fuse_session_attach() instead of fuse_session_mount(),
# fuse_recover_unmount() instead of fuse_session_unmount().  Attaching
# returns FUSE_RECOVER_RECOVERED (> 0) after a takeover: only < 0 fails.
/^#include <fuse_lowlevel.h>/a\
#include <fuse_recover.h>\
static struct fuse_recover *fr;
s/\(se = \)fuse_session_new(&args,/\1fuse_recover_new(\&args, \&fr) ? NULL : fuse_session_new(\&args,/
s/fuse_session_mount(se, \([^)]*\)) != 0/fuse_session_attach(se, \1, fr) < 0/
s/fuse_session_unmount(se)/fuse_recover_unmount(se)/
