# SPDX-License-Identifier: LGPL-2.1-or-later
# A server that daemonizes after fuse_session_attach() (fuse_daemonize() in
# the order libfuse's own examples use) stays recoverable: the supervisor
# takes the forked child for the server, so the parent's exit is no death
# (no give-up after recover_timeout), the tag stays held by a live server,
# and a SIGKILL of the daemon is recovered from.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run-lib.sh"
need_resend

SERVER=$BUILD/test/oldapi_ll_35
args=(-o tag=dk,recover_timeout=2 "$MNT")
start() { start_daemon "$SERVER" "${args[@]}"; }

start
wait_until 5 grep -q "pid $DAEMON it forked serves on" "$FUSE_RECOVERD_LOG" ||
	fail "supervisor did not take the daemon for the server"
sleep 3
check_reads "3 s after daemonizing"

mkdir "$T/mnt2"
if "$SERVER" -f -o tag=dk "$T/mnt2" 2>"$T/second.err"; then
	fail "a second server took the tag of a live daemon"
fi
grep -q "held by live server pid $DAEMON" "$T/second.err" ||
	fail "unclear error: $(cat "$T/second.err")"

for round in 1 2; do
	old=$DAEMON
	kill -KILL "$old"
	wait_until 5 exited "$old" || fail "daemon survived SIGKILL"
	start_readers
	start
	grep -q "recovered the mount" "$SERVER_LOG" ||
		fail "restart did not take over: $(cat "$SERVER_LOG")"
	check_readers
	check_reads "after restart $round"
done

umount "$MNT"
wait_until 10 exited "$DAEMON" || fail "daemon survived umount"
wait_until 10 no_supervisor dk || fail "supervisor survived umount"
log "daemonized server kept recovery"
