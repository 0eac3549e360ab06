# SPDX-License-Identifier: LGPL-2.1-or-later
# Every thread of a server that starts none of its own holds a reader
# slot: the loop's workers, the thread that attached and the library's
# own (the supervisor watch, the event socket's), so the supervisor sees
# each of them die at its exit_mm() and reads nothing in /proc before it
# hands a dead server's connection on (supervisor/readers.c).  Checked
# on the first server and on the hot standby that took its crash (whose
# slots the supervisor watches from before GO), with fuse-recover status
# (readers) against /proc/PID/task.
# Usage: readers-every-thread.sh pt|ptrfs-mt|...
. "$(dirname "$0")/standby-lib.sh" "${1:-pt}"
need_resend
readers() { "$FRCMD" status "$TAG" | awk '$1 == "readers" { print $2 }'; }
threads() { ls /proc/"$1"/task | wc -l; }

# all_slotted PID: a quiet server's threads all hold a slot.
all_slotted() {
	local n r
	n=$(threads "$1") r=$(readers)
	[ "$r" = "$n" ] && [ "$(field_dead)" = 0 ]
}
field_dead() { "$FRCMD" status "$TAG" | awk '$1 == "readers_dead" { print $2 }'; }

start_standby_family 1
wait_ready 1
for round in 1 2; do
	pid=$(serving_pid "$TAG")
	# The first requests start the workers; then it is quiet.
	ls "$MNT" >/dev/null && stat "$MNT" >/dev/null
	wait_until 10 all_slotted "$pid" ||
		fail "round $round: pid $pid: $(readers) readers, $(field_dead) dead, $(threads "$pid") threads: $(ls /proc/"$pid"/task | tr '\n' ' ')"
	log "round $round: pid $pid: $(readers) readers = $(threads "$pid") threads"
	[ $round = 2 ] && break
	kill -KILL "$pid"
	taken() { [ "$(hot_takeovers)" -ge 1 ] && serving; }
	wait_until 10 taken || fail "no hot takeover: $(tail -5 "$RLOG")"
	wait_until 10 exited "$pid" || fail "pid $pid never finished its exit"
done
stop_standby_family
