# SPDX-License-Identifier: LGPL-2.1-or-later
# An unmodified high-level server (fuse_main()) run through fuse-recover-run
# survives SIGKILL.  With -f it stays in the foreground; without, fuse_main()
# daemonizes after mounting and the daemon is what gets killed.
# Usage: run-wrapper-highlevel.sh [fg|daemon]
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run-lib.sh"
need_resend

mode=${1:-fg}
case $mode in
fg) args=(-f "$MNT") ;;
daemon) args=("$MNT") ;;
*) fail "unknown mode $mode" ;;
esac

server_pid() { only_pid "$PLAIN_HL"; }

start() {
	start_server "$RUN" --tag rwh -o recover_timeout=2 -- "$PLAIN_HL" \
		"${args[@]}"
	if [ "$mode" = daemon ]; then
		# fuse_main() returns in the parent once the daemon runs.
		wait "$SERVER_PID" || fail "fuse_main() parent failed"
		SERVER_PID=$(server_pid) || fail "no single daemon"
	fi
}

start
first=$SERVER_PID
grep -q "tag rwh: mounted" "$SERVER_LOG" || fail "not attached"
check_reads "before the kill"
[ "$(ls "$MNT")" = hello ] || fail "readdir wrong"
# Longer than recover_timeout: a supervisor that took the daemon's parent
# exit for a death would have given up by now.
sleep 3
check_reads "3 s after starting"

for round in 1 2; do
	# The reads above end in asynchronous requests: RELEASEDIR of ls's
	# directory handle (a pointer in high-level libfuse) and FORGETs (no
	# entry is cached).  One the dying server has not read goes to the
	# next server, which frees a pointer of the dead process (SIGSEGV,
	# seen here) or finds no such node (abort).  Only the library's id
	# and handle translation can fix that; until then let them drain.
	sleep 0.3
	kill -KILL "$SERVER_PID"
	wait_until 5 exited "$SERVER_PID" || fail "server survived SIGKILL"
	wait "$SERVER_PID" 2>/dev/null || true
	start_readers
	start
	grep -q "recovered the mount" "$SERVER_LOG" ||
		fail "restart did not take over: $(cat "$SERVER_LOG")"
	check_readers
	check_reads "after restart $round"
	[ "$(ls "$MNT")" = hello ] || fail "readdir wrong after restart"
done
[ "$SERVER_PID" != "$first" ] || fail "same server pid after restarts"

# SIGTERM: fuse_main() unmounts through fuse_session_unmount(), which must
# end even a recovered mount for good.
kill -TERM "$SERVER_PID"
wait_until 10 exited "$SERVER_PID" || fail "server survived SIGTERM"
is_mounted "$MNT" && fail "a recovered fuse_main() server did not unmount"
wait_until 10 no_supervisor rwh || fail "supervisor survived the unmount"
log "unmodified fuse_main() server ($mode) recovered twice through fuse-recover-run"
