# SPDX-License-Identifier: LGPL-2.1-or-later
# A helper process the server forks after attaching is never taken for the
# server: when the server dies, its death counts and the next server takes
# over at once, whether the helper exited or exec'ed and lives on.
# Usage: fork-helper-not-server.sh exec|exit
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run-lib.sh"
need_resend

SERVER=$BUILD/test/forker_ll
args=(-f -s -o "tag=fh,helper=$1" "$MNT")

for round in 1 2; do
	start_server "$SERVER" "${args[@]}"
	: >"$FUSE_RECOVERD_LOG" # the last death was handled before the start
	wait_until 5 grep -q "helper pid" "$SERVER_LOG" || fail "no helper"
	helper=$(sed -n 's/.*helper pid \([0-9]*\).*/\1/p' "$SERVER_LOG")
	check_reads "with a helper (round $round)"
	if [ "$1" = exec ]; then
		wait_until 5 grep -q "^sleep" "/proc/$helper/cmdline" ||
			fail "helper did not exec"
	fi
	if [ "$1" = exit ]; then
		wait_until 5 exited "$helper" || fail "helper did not exit"
	fi
	sleep 0.2
	grep -q "server died" "$FUSE_RECOVERD_LOG" &&
		fail "the helper's exit was taken for the server's death"
	mkdir -p "$T/mnt2"
	"$SERVER" -f -s -o tag=fh,helper=exit "$T/mnt2" 2>"$T/second.err" &&
		fail "a second server took the tag of a live server"
	grep -q "held by live server" "$T/second.err" ||
		fail "unclear error: $(cat "$T/second.err")"
	kill_server
	start_readers
	start_server "$SERVER" "${args[@]}"
	grep -q "recovered the mount" "$SERVER_LOG" ||
		fail "the next server was not let in: $(cat "$SERVER_LOG")"
	check_readers
	grep -q "pid $helper it forked serves on" "$FUSE_RECOVERD_LOG" &&
		fail "helper $helper was taken for the server"
	kill_server
done
umount -l "$MNT"
wait_until 10 no_supervisor fh || fail "supervisor survived umount"
log "helpers ($1) were never taken for the server"
