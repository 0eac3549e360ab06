# SPDX-License-Identifier: LGPL-2.1-or-later
# An unmodified lowlevel server (plain fuse_session_mount(), no
# libfuse-recover) run through fuse-recover-run survives SIGKILL: files
# opened before the kill read on, requests made while it is down wait, the
# restarted server serves them, umount ends everything.
# Usage: run-wrapper-lowlevel.sh [st|mt-clone|supervised|supervised-daemon]
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run-lib.sh"
need_resend
make_data

mode=${1:-st}
case $mode in
st) args=(-f -s "$MNT") ;;
mt-clone) args=(-f -o clone_fd "$MNT") ;;
supervised) args=(-f "$MNT") ;;
supervised-daemon) args=("$MNT") ;;
*) fail "unknown mode $mode" ;;
esac

server_pid() { only_pid "$PLAIN_LL"; }
restarted() { p=$(server_pid) && [ "$p" != "$1" ]; }

if [ "${mode#supervised}" != "$mode" ]; then
	# fuse-recoverd starts the wrapped server and restarts it.
	"$FUSE_RECOVERD" --tag rwl -- "$RUN" --tag rwl -- "$PLAIN_LL" \
		"${args[@]}" 2>"$T/supervisor.log" &
	sup=$!
	wait_until 10 is_mounted "$MNT" || fail "not mounted"
	wait_until 10 server_pid >/dev/null || fail "no server"
else
	start_server "$RUN" --tag rwl -- "$PLAIN_LL" "${args[@]}"
	grep -q "tag rwl: mounted" "$SERVER_LOG" || fail "not attached"
	# The server started fuse-recoverd: the preload is not passed on.
	sup_env=$(tr '\0' '\n' </proc/"$(supervisor_pids rwl)"/environ)
	echo "$sup_env" | grep -qE "^(LD_PRELOAD|FUSE_RECOVER_RUN_[A-Z]*)=" &&
		fail "the supervisor inherited the preload: $sup_env"
fi
check_reads "before the kill"
# A file opened before the kills, read on after them (in its own process:
# servers started from here must not inherit it).
(
	exec 3<"$MNT/data"
	head -c 100000 <&3 >"$T/part1"
	touch "$T/opened"
	while [ ! -e "$T/go" ]; do sleep 0.05; done
	cat <&3 >"$T/part2"
) &
holder=$!
wait_until 5 test -e "$T/opened" || fail "cannot open data"

for round in 1 2 3; do
	old=$(server_pid) || fail "no single server process"
	kill -KILL "$old"
	wait_until 5 exited "$old" || fail "server survived SIGKILL"
	if [ -n "${sup:-}" ]; then
		wait_until 10 restarted "$old" || fail "server not restarted"
	else
		wait "$SERVER_PID" 2>/dev/null || true
		start_readers
		start_server "$RUN" --tag rwl -- "$PLAIN_LL" "${args[@]}"
		grep -q "recovered the mount" "$SERVER_LOG" ||
			fail "restart did not take over: $(cat "$SERVER_LOG")"
		check_readers
	fi
	check_reads "after restart $round"
done
touch "$T/go"
wait "$holder" || fail "reading on after the kills failed"
cat "$T/part1" "$T/part2" | cmp -s - "$T/data.want" ||
	fail "a file opened before the kills read wrong data after them"

if [ "$mode" = supervised-daemon ]; then
	grep -q "forked serves on" "$FUSE_RECOVERD_LOG" ||
		fail "the daemonized server was not taken for the server"
fi
last=$(server_pid)
if [ "$mode" = supervised-daemon ]; then
	# SIGTERM to the supervisor stops the daemon it launched, which
	# unmounts for good.
	kill -TERM "$sup"
	wait_until 10 exited "$last" || fail "daemon survived supervisor's SIGTERM"
	is_mounted "$MNT" && fail "still mounted after SIGTERM"
else
	umount "$MNT"
fi
wait_until 10 exited "$last" || fail "server survived umount"
wait_until 10 no_supervisor rwl || fail "supervisor survived umount"
if [ -n "${sup:-}" ]; then
	wait "$sup" || fail "fuse-recoverd exit status $?"
fi
log "unmodified lowlevel server ($mode) recovered 3 times through fuse-recover-run"
