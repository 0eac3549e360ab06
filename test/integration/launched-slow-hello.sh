# SPDX-License-Identifier: LGPL-2.1-or-later
# The server fuse-recoverd launches keeps its reserved slot and is held to
# no HELLO deadline: restarted while 20 idle peers fill the table, and
# taking 2 s (twice the deadline) to get to its HELLO, it takes over; the
# idle peers are dropped after about a second.
. "$(dirname "$0")/lib.sh"

cat >"$T/server.sh" <<EOS
#!/bin/sh
[ -e "$T/slow" ] && sleep 2
exec "$TESTFS" -f -o tag=ls "$MNT"
EOS
chmod +x "$T/server.sh"
"$FUSE_RECOVERD" --tag ls -- "$T/server.sh" 2>"$T/supervisor.log" &
sup=$!
wait_until 10 is_mounted "$MNT" || fail "not mounted"
old=$(pgrep -f "^$TESTFS -f -o tag=ls") || fail "no server running"
touch "$T/slow"
"$FRTOOL" idle 20 20 ls >"$T/idle.out" &
idle=$!
wait_until 5 grep -q "connected 20" "$T/idle.out" || fail "idle peers did not connect"
kill -KILL "$old"
cat "$MNT/hello" >"$T/out" 2>"$T/cat.err" &
reader=$!
wait_until 15 exited $reader || fail "reader still waits"
wait "$reader" || fail "reader failed: $(cat "$T/cat.err")"
[ "$(cat "$T/out")" = "Hello World!" ] || fail "reader got garbage"
new=$(pgrep -f "^$TESTFS -f -o tag=ls") || fail "no server running"
grep -q "took over tag ls" "$FUSE_RECOVERD_LOG" || fail "no takeover logged"
grep -q "dropping pid $new" "$FUSE_RECOVERD_LOG" &&
	fail "the launched server was dropped"
wait_until 10 exited $idle || fail "idle peers were never dropped"
grep -q "dropped 20" "$T/idle.out" || fail "idle peers: $(cat "$T/idle.out")"
umount "$MNT"
wait_until 10 exited $sup || fail "supervisor survived umount"
log "launched server took 2 s to HELLO among 20 idle peers and took over"
