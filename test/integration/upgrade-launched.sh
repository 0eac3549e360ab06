# SPDX-License-Identifier: LGPL-2.1-or-later
# fuse-recoverd -- SERVER, upgraded live: after the upgrade a crash of the
# server restarts the new command line (here: testfs with another slow_ms,
# seen in its command line), not the one the supervisor was started with;
# the retired server is reaped, and readers see no error throughout.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/upgrade-lib.sh"
need_resend

"$FUSE_RECOVERD" --tag ul -- "$TESTFS" -f -o tag=ul "$MNT" 2>"$T/supervisor.log" &
sup=$!
wait_until 10 is_mounted "$MNT" || fail "not mounted"
"$BUILD/test/workload" "$MNT" "$T/stop" 2 >"$T/workload.out" 2>"$T/workload.log" &
wl=$!
old=$(serving_pid ul)
upgrade ul "$TESTFS" -f -o tag=ul,slow_ms=7 "$MNT" ||
	fail "upgrade: $(cat "$T/upgrade.out" "$T/upgrade.err")"
new=$(json_field pid <"$T/upgrade.out")
wait_until 10 exited "$old" || fail "old server $old still runs"
# Reaped by the supervisor: no zombie left.
[ -e "/proc/$old" ] && fail "old server $old is a zombie"
kill -KILL "$new"
relaunched() {
	local p
	p=$(serving_pid ul)
	[ -n "$p" ] && [ "$p" != 0 ] && [ "$p" != "$new" ] &&
		grep -q "slow_ms=7" "/proc/$p/cmdline"
}
wait_until 10 relaunched || fail "not relaunched with the new command line"
touch "$T/stop"
wait_until 30 exited "$wl" || fail "workload hangs"
wait "$wl" || fail "workload saw errors: $(cat "$T/workload.out" "$T/workload.log")"
umount "$MNT"
wait_until 10 exited "$sup" || fail "supervisor survived umount"
log "launched server upgraded; its crash restarted the new command line"
