# SPDX-License-Identifier: LGPL-2.1-or-later
# The supervisor is SIGKILLed while the server runs: the server starts a new
# one and hands it the connection, so the server's own SIGKILL later is
# recovered as usual.  A stat loop running across both kills sees no error.
# Usage: supervisor-death-survived.sh [st|mt-clone|pt]
#   pt: passthrough_hp, whose state store and a kept (open, unlinked) file
#   must also reach the new supervisor.
mode=${1:-st}
if [ "$mode" = pt ]; then
	shift
	. "$(dirname "$0")/pt-lib.sh"
	tag=$PT_TAG
	start() { start_pt; }
	echo data >"$SRC/f"
else
	. "$(dirname "$0")/lib.sh"
	case $mode in
	st) loop=(-s) ;;
	mt-clone) loop=(-o clone_fd) ;;
	*) fail "unknown mode $mode" ;;
	esac
	tag=sd
	start() { start_server "$TESTFS" -f "${loop[@]}" -o tag=$tag "$MNT"; }
fi

start
if [ "$mode" = pt ]; then
	# An unlinked file held open: its data lives only through kept fds.
	# (Held by a child: a server inheriting it would deadlock on close.)
	(
		exec 5<>"$MNT/kept"
		echo "kept data" >&5
		rm "$MNT/kept"
		touch "$T/held"
		while [ ! -e "$T/stop" ]; do sleep 0.05; done
		cat "/proc/self/fd/5" >"$T/kept.out"
	) &
	holder=$!
	wait_until 5 test -e "$T/held" || fail "could not set up the kept file"
	obj=$MNT/f
else
	obj=$MNT/hello
fi

# The stat loop: every failure is counted; it stops when $T/stop exists.
(
	n=0 errs=0
	while [ ! -e "$T/stop" ]; do
		stat -c %s "$obj" >/dev/null 2>>"$T/stat.err" || errs=$((errs + 1))
		n=$((n + 1))
	done
	echo "$n $errs" >"$T/stat.out"
) &
looper=$!
# Our background loops end before lib.sh's cleanup removes $T.
trap 'rc=$?; set +e; kill $looper ${holder:-} 2>/dev/null
	wait $looper ${holder:-} 2>/dev/null; (exit $rc); cleanup' EXIT
sleep 0.3

new_supervisor() {
	local p
	p=$(supervisor_pids $tag)
	[ -n "$p" ] && [ "$p" != "$old" ]
}
handovers() { grep -c "a new supervisor holds connection" "$SERVER_LOG" || true; }
handed_over() { [ "$(handovers)" -ge "$1" ]; }
# Twice: the server must keep watching the supervisor it started.
for round in 1 2; do
	old=$(supervisor_pids $tag)
	[ -n "$old" ] || fail "no supervisor"
	kill -KILL $old
	wait_until 10 new_supervisor || fail "no new supervisor after the old one died"
	wait_until 10 handed_over $round ||
		fail "server did not hand over ($(handovers) handovers): $(cat "$SERVER_LOG")"
	log "server handed its connection to supervisor $(supervisor_pids $tag)"
	sleep 0.3
done

kill_server
sleep 0.3
start
grep -q "recovered the mount" "$SERVER_LOG" ||
	fail "restart did not recover: $(cat "$SERVER_LOG")"
sleep 0.3
touch "$T/stop"
wait_until 10 exited $looper || fail "stat loop hangs"
wait $looper || true
read -r n errs <"$T/stat.out"
log "$n stats, $errs errors"
[ "$errs" = 0 ] || fail "$errs of $n stats failed: $(sort "$T/stat.err" | uniq -c)"
[ "$n" -gt 10 ] || fail "the stat loop barely ran ($n)"

if [ "$mode" = pt ]; then
	wait_until 10 exited $holder || fail "kept file holder hangs"
	[ "$(cat "$T/kept.out")" = "kept data" ] || fail "kept file lost its data"
else
	[ "$(cat "$MNT/hello")" = "Hello World!" ] || fail "mount lost"
fi
log "supervisor death survived"
