# SPDX-License-Identifier: LGPL-2.1-or-later
# A server that dies with a file open on its own mount (an fd inherited
# from the shell that started it) must not hang in its exit: closing that
# file sends a FLUSH only its successor can answer.  Two shell loops of
# hot standbys, each server started with fd 3 open on the mount; every
# SIGKILL must end in a takeover within seconds, zero application errors.
# Usage: standby-own-mount-file.sh [KILLS]
. "$(dirname "$0")/pt-lib.sh"
. "$(dirname "$0")/upgrade-lib.sh"
need_resend
n=${1:-5}
RLOG=$T/recoverd.log

loop() {
	while [ ! -e "$T/stop" ]; do
		if is_mounted "$MNT"; then
			FUSE_RECOVER_STANDBY=1 "$PT" "${PT_ARGS[@]}" "$SRC" \
				"$MNT" 3<"$MNT/held" 2>>"$T/server.$1.log" \
				</dev/null || true
		else
			FUSE_RECOVER_STANDBY=1 "$PT" "${PT_ARGS[@]}" "$SRC" \
				"$MNT" 2>>"$T/server.$1.log" </dev/null || true
		fi
		sleep 0.1
	done
}
# Even a failing run must not leave a server hung in its exit (the pid
# namespace could then never end): stop the loops, abort the connection.
test_teardown() {
	touch "$T/stop"
	"$FRCMD" abort "$PT_TAG" >/dev/null 2>&1
	abort_mount "$MNT"
}
echo held >"$SRC/held"
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
	wait_until 10 taken || fail "kill $i: no takeover (hung in exit?): $(tail -5 "$RLOG")"
	wait_until 10 exited "$old" || fail "kill $i: pid $old never finished its exit"
done
stop_exerciser
touch "$T/stop"
# The last servers hold the mount busy (fd 3) and, with no successor,
# their FLUSH (and a loop's next open) can only end by an abort: the
# supervisor's own, with /sys/fs/fuse/connections not mounted here.
! findmnt /sys/fs/fuse/connections >/dev/null || log "note: fusectl is mounted"
"$FRCMD" abort "$PT_TAG" >/dev/null 2>&1 || true
last=$(pgrep -P "$L1,$L2" || true)
pkill -KILL -P "$L1,$L2" || true
for p in $last; do
	wait_until 10 exited "$p" ||
		fail "pid $p hangs in its exit after the abort: $(cat /proc/"$p"/stack 2>/dev/null | head -3)"
done
wait_until 10 exited "$L1" && wait_until 10 exited "$L2" ||
	fail "server loops did not end: $(pgrep -af "$PT")"
umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
log "$n kills of servers holding a file of their own mount: all taken over, zero errors"
