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
echo held >"$SRC/held"
loop 1 &
L1=$!
wait_until 10 is_mounted "$MNT" || fail "not mounted"
loop 2 &
L2=$!
ready_count() { grep -c "standby: pid .* ready (INIT" "$RLOG" || true; }
hot_takeovers() { grep -c "takeover: hot standby" "$RLOG" || true; }
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
# their FLUSH (and a loop's next open) can only end by an abort.
"$FRCMD" abort "$PT_TAG" >/dev/null 2>&1 || true
pkill -KILL -P "$L1"
pkill -KILL -P "$L2"
wait_until 10 exited "$L1" && wait_until 10 exited "$L2" ||
	fail "server loops did not end: $(pgrep -af "$PT")"
umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
log "$n kills of servers holding a file of their own mount: all taken over, zero errors"
