# SPDX-License-Identifier: LGPL-2.1-or-later
# A server started with FUSE_RECOVER_UPGRADE=1 by someone else than
# fuse-recover (a server starting its own successor, a deploy script)
# goes through the same standby, drain and confirmation: the old server
# retires after a second, readers see no error; without the variable the
# same start is refused as a second server for a live tag.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/upgrade-lib.sh"
need_resend

start_server "$TESTFS" -f -o tag=us "$MNT"
old=$SERVER_PID
"$BUILD/test/workload" "$MNT" "$T/stop" 2 >"$T/workload.out" 2>"$T/workload.log" &
wl=$!
sleep 0.2
"$TESTFS" -f -o tag=us "$MNT" 2>"$T/second.log" && fail "a second server was let in"
grep -q "held by live server" "$T/second.log" || fail "second server: $(cat "$T/second.log")"
FUSE_RECOVER_UPGRADE=1 start_server "$TESTFS" -f -o tag=us "$MNT"
new=$SERVER_PID
wait_until 10 exited "$old" || fail "old server $old did not retire"
wait "$old" || fail "old server exit status $?"
[ "$(serving_pid us)" = "$new" ] || fail "pid $new does not serve"
grep -q "upgrade: done: confirmed" "$T/recoverd.log" || fail "no confirmation logged"
sleep 0.3
touch "$T/stop"
wait_until 30 exited "$wl" || fail "workload hangs"
wait "$wl" || fail "workload saw errors: $(cat "$T/workload.out" "$T/workload.log")"
log "FUSE_RECOVER_UPGRADE=1: standby, drain, takeover; the old server retired with status 0"
