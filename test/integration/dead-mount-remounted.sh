# SPDX-License-Identifier: LGPL-2.1-or-later
# Supervisor and server SIGKILLed together (nothing can recover that
# without the kernel path): the restarted server of the same tag finds the
# dead mount, says so, unmounts it lazily and mounts afresh; it never
# stacks a mount on it.  A server of another tag is refused on a dead mount.
. "$(dirname "$0")/lib.sh"

fuse_mounts() { grep -c " $MNT fuse" /proc/self/mounts || true; }
dead() { ! ls "$MNT" >/dev/null 2>"$T/ls.err" && grep -q "not connected" "$T/ls.err"; }

start_server "$TESTFS" -f -o tag=dm "$MNT"
kill -KILL $SERVER_PID $(supervisor_pids dm)
wait "$SERVER_PID" 2>/dev/null || true
wait_until 5 no_supervisor dm || fail "supervisor survived SIGKILL"
wait_until 5 dead || fail "the mount is not dead: $(cat "$T/ls.err")"
[ "$(fuse_mounts)" = 1 ] || fail "expected one dead mount"

# Another tag must not take or cover it.
if "$TESTFS" -f -o tag=other "$MNT" 2>"$T/other.err"; then
	fail "a server of another tag ran on the dead mount"
fi
grep -q "already a FUSE mount (connection [0-9]*) that tag other did not make" \
	"$T/other.err" || fail "unclear refusal: $(cat "$T/other.err")"
[ "$(fuse_mounts)" = 1 ] || fail "another tag stacked a mount"

start_server "$TESTFS" -f -o tag=dm "$MNT"
grep -q "found the dead mount of tag dm on $MNT" "$SERVER_LOG" ||
	fail "restart did not say it found the dead mount: $(cat "$SERVER_LOG")"
[ "$(fuse_mounts)" = 1 ] || fail "$(fuse_mounts) FUSE mounts on $MNT: stacked"
[ "$(cat "$MNT/hello")" = "Hello World!" ] || fail "fresh mount does not serve"

# And the fresh mount is recoverable as usual.
kill_server
start_server "$TESTFS" -f -o tag=dm "$MNT"
grep -q "recovered the mount" "$SERVER_LOG" || fail "fresh mount not recoverable"
[ "$(cat "$MNT/hello")" = "Hello World!" ] || fail "recovered mount does not serve"
log "dead mount found, unmounted and mounted afresh; never stacked"
