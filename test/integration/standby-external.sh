# SPDX-License-Identifier: LGPL-2.1-or-later
# Hot standby without a launching supervisor: the server runs in two shell
# loops, both with FUSE_RECOVER_STANDBY=1.  The first to come mounts (and
# starts the supervisor); the other waits as a hot standby.  Each SIGKILL
# of the serving server goes to the standby, and the killed one's loop
# brings it back as the next standby.  Zero application errors.
# Usage: standby-external.sh [KILLS]
. "$(dirname "$0")/pt-lib.sh"
. "$(dirname "$0")/upgrade-lib.sh"
need_resend
n=${1:-20}
RLOG=$T/recoverd.log

loop() {
	while [ ! -e "$T/stop" ]; do
		FUSE_RECOVER_STANDBY=1 "$PT" "${PT_ARGS[@]}" "$SRC" "$MNT" \
			2>>"$T/server.$1.log" </dev/null || true
		sleep 0.1
	done
}
loop 1 &
L1=$!
wait_until 10 is_mounted "$MNT" || fail "not mounted"
loop 2 &
L2=$!
ready_at_least() { [ "$(ready_count)" -ge "$1" ]; }
serving() { [ "$("$FRCMD" status "$PT_TAG" 2>/dev/null | awk '$1 == "state" { print $2 }')" = serving ]; }
start_exerciser
for ((i = 1; i <= n; i++)); do
	wait_until 20 ready_at_least "$i" || fail "standby $i never got ready"
	old=$(serving_pid "$PT_TAG")
	kill -KILL "$old"
	taken() { [ "$(hot_takeovers)" -ge "$i" ] && serving; }
	wait_until 10 taken || fail "kill $i: no hot takeover: $(tail -5 "$RLOG")"
done
stop_exerciser
[ "$(hot_takeovers)" = "$n" ] || fail "$(hot_takeovers) hot takeovers, not $n"
touch "$T/stop"
umount "$MNT" || fail "umount failed"
wait_until 10 exited "$L1" && wait_until 10 exited "$L2" ||
	fail "server loops did not end: $(pgrep -af "$PT")"
log "$n kills of a server run in two shell loops: every one to the standby, zero errors"
