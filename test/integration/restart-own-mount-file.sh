# SPDX-License-Identifier: LGPL-2.1-or-later
# A restart without a standby, of servers that hold a file of their own
# mount (fd 3, inherited from this shell): each is SIGKILLed and its
# successor started at once, as an external restarter does.  The dying
# server's exit closes fd 3 and sends a FLUSH only the successor can
# answer; the supervisor hands the connection over as soon as the dying
# server's readers are gone, not at its exit (which waits for that
# answer).  Every kill must end in a recovery within seconds, the killed
# server must finish its exit, zero application errors.
# Usage: restart-own-mount-file.sh [KILLS]
. "$(dirname "$0")/pt-lib.sh"
. "$(dirname "$0")/upgrade-lib.sh"
need_resend
n=${1:-5}
RLOG=$T/recoverd.log

# Even a failing run must not leave a server hung in its exit.
test_teardown() {
	"$FRCMD" abort "$PT_TAG" >/dev/null 2>&1
	abort_mount "$MNT"
}
# The launcher holds fd 3 and starts a server per line on the fifo; only
# its servers inherit that fd, never a subshell of this script (whose
# exit would wait for the FLUSH while the mount is down).
launcher() {
	exec 3<"$MNT/held" 4<>"$T/fifo"
	while read -r _ <&4; do
		"$PT" "${PT_ARGS[@]}" "$SRC" "$MNT" 2>>"$T/server.log" \
			</dev/null &
		echo "$!" >"$T/launched"
	done
}
echo held >"$SRC/held"
mkfifo "$T/fifo"
start_pt
launcher &
LAUNCHER=$!
first=$SERVER_PID
start_exerciser
old=$first
for ((i = 1; i <= n; i++)); do
	rm -f "$T/launched"
	kill -KILL "$old"
	# A restarter that starts the next server once the supervisor says
	# the old one is dead (a HELLO before that is refused).
	dead() { [ "$(grep -c "death: server died" "$RLOG")" -ge "$i" ]; }
	wait_until 10 dead ||
		fail "kill $i: death never seen (pid $old hung in its exit?): $(grep -h . /proc/"$old"/stack 2>/dev/null | head -3)"
	echo go >"$T/fifo"
	wait_until 10 test -s "$T/launched" || fail "kill $i: launcher did not start a server"
	new_pid=$(cat "$T/launched")
	serves() {
		no_supervisor "$PT_TAG" && fail "kill $i: the supervisor is gone"
		[ "$(serving_pid "$PT_TAG" 2>/dev/null)" = "$new_pid" ]
	}
	wait_until 10 serves ||
		fail "kill $i: not recovered (pid $old hung in its exit?): $(grep -h . /proc/"$old"/stack 2>/dev/null | head -3)"
	wait_until 10 exited "$old" || fail "kill $i: pid $old never finished its exit"
	old=$new_pid
done
stop_exerciser
# The last server holds fd 3 too: with no successor only an abort ends
# its FLUSH (the supervisor's own, fusectl not mounted here).
"$FRCMD" abort "$PT_TAG" >/dev/null 2>&1 || true
kill -KILL "$old" 2>/dev/null || true
wait_until 10 exited "$old" || fail "the last server hangs in its exit after the abort"
kill "$LAUNCHER"
wait_until 10 exited "$LAUNCHER" || fail "the launcher hangs in its exit after the abort"
log "$n kills of servers holding a file of their own mount (all but the first): all recovered, zero errors"
