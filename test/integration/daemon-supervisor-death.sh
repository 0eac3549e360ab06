# SPDX-License-Identifier: LGPL-2.1-or-later
# A server that daemonized after fuse_session_attach() (its watch thread
# stayed in the parent: threads do not survive fork) still survives the
# death of its supervisor: the daemon starts a new one and hands it the
# connection, so a SIGKILL of the daemon afterwards is recovered from.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run-lib.sh"
need_resend

SERVER=$BUILD/test/oldapi_ll_35
tag=dd
args=(-o tag=$tag,recover_timeout=5 "$MNT")
start() { start_daemon "$SERVER" "${args[@]}"; }
new_supervisor() {
	local p
	p=$(supervisor_pids $tag)
	[ -n "$p" ] && [ "$p" != "$old" ]
}

start
wait_until 5 grep -q "pid $DAEMON it forked serves on" "$FUSE_RECOVERD_LOG" ||
	fail "supervisor did not take the daemon for the server"
check_reads "after daemonizing"
for round in 1 2; do
	old=$(supervisor_pids $tag)
	[ -n "$old" ] || fail "no supervisor"
	kill -KILL $old
	wait_until 10 new_supervisor ||
		fail "the daemon started no new supervisor after the old one died (round $round)"
	sleep 0.3
	check_reads "after supervisor death $round"
done

kill -KILL "$DAEMON"
wait_until 5 exited "$DAEMON" || fail "daemon survived SIGKILL"
start
grep -q "recovered the mount" "$SERVER_LOG" ||
	fail "restart after the supervisor's death did not take over: $(cat "$SERVER_LOG")"
check_reads "after the daemon's restart"
umount "$MNT"
wait_until 10 exited "$DAEMON" || fail "daemon survived umount"
wait_until 10 no_supervisor $tag || fail "supervisor survived umount"
log "daemonized server survived its supervisor's death twice"
