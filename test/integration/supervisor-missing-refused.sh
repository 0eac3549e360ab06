# SPDX-License-Identifier: LGPL-2.1-or-later
# When fuse-recoverd cannot be started the server says so and mounts
# nothing, rather than running a mount that would not survive a crash.
. "$(dirname "$0")/lib.sh"

if FUSE_RECOVERD=/nonexistent/fuse-recoverd "$TESTFS" -f -o tag=sm "$MNT" 2>"$T/err"; then
	fail "server ran without a supervisor"
fi
grep -q "cannot start supervisor /nonexistent/fuse-recoverd: No such file" "$T/err" ||
	fail "unclear error: $(cat "$T/err")"
is_mounted "$MNT" && fail "mounted anyway"
[ ! -e "$FUSE_RECOVER_RUNTIME_DIR/sm.lock" ] || fail "lock file left behind"
log "missing supervisor refused clearly"
