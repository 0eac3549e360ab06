# SPDX-License-Identifier: LGPL-2.1-or-later
# fuse-recoverd opens FUSE_RECOVERD_LOG without following a symlink planted
# there (it could point at any file the supervisor's user may write) and
# creates it private.
. "$(dirname "$0")/lib.sh"

echo keep >"$T/victim"
ln -s "$T/victim" "$T/recoverd.log"
start_server "$TESTFS" -f -o tag=lg "$MNT"
[ "$(cat "$MNT/hello")" = "Hello World!" ] || fail "mount does not work"
no_supervisor lg && fail "no supervisor"
[ "$(cat "$T/victim")" = keep ] || fail "log written through the symlink"

# A log the supervisor creates is 0600.
fusermount3 -u "$MNT" 2>/dev/null || umount "$MNT"
wait_until 5 no_supervisor lg || fail "supervisor survived the unmount"
kill_server
rm "$T/recoverd.log"
start_server "$TESTFS" -f -o tag=lg2 "$MNT"
wait_until 5 test -s "$T/recoverd.log" || fail "no log written"
[ "$(stat -c %a "$T/recoverd.log")" = 600 ] ||
	fail "log mode $(stat -c %a "$T/recoverd.log")"
log "log symlink not followed, new log private"
