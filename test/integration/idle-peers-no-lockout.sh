# SPDX-License-Identifier: LGPL-2.1-or-later
# Peers that connect and say nothing cannot lock a restarted server out:
# with 20 of them connected (more than the supervisor has slots) while the
# server is down, the next server takes over at once, and the idle peers
# are dropped after the HELLO timeout (one second; within 3 s here).
. "$(dirname "$0")/lib.sh"

start_server "$TESTFS" -f -o tag=ip "$MNT"
kill_server
"$FRTOOL" idle 20 10 ip >"$T/idle.out" &
idle=$!
wait_until 5 grep -q "connected 20" "$T/idle.out" || fail "idle peers did not connect"
cat "$MNT/hello" >"$T/out" 2>"$T/cat.err" &
reader=$!
start_server "$TESTFS" -f -o tag=ip "$MNT"
wait_until 5 exited $reader || fail "reader still waits"
wait "$reader" || fail "reader failed: $(cat "$T/cat.err")"
[ "$(cat "$T/out")" = "Hello World!" ] || fail "reader got garbage"
grep -q "took over tag ip" "$FUSE_RECOVERD_LOG" || fail "no takeover logged"
wait_until 3 exited $idle || fail "idle peers were never dropped"
grep -q "dropped 20" "$T/idle.out" || fail "idle peers: $(cat "$T/idle.out")"
log "20 idle peers: next server took over, peers dropped"
