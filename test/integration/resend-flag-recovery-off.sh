# SPDX-License-Identifier: LGPL-2.1-or-later
# fuse_recover_req_is_resend() answers 0, not an error (true in an `if`),
# when recovery is off (no tag) and for ordinary requests with recovery on.
. "$(dirname "$0")/lib.sh"

for o in "" "-o tag=rf"; do
	NSERVERS=$((NSERVERS + 1))
	SERVER_LOG=$T/server.$NSERVERS.log
	# shellcheck disable=SC2086
	"$TESTFS" -f $o "$MNT" 2>"$SERVER_LOG" &
	SERVER_PID=$!
	wait_until 10 is_mounted "$MNT" || fail "not mounted ($o)"
	[ "$(cat "$MNT/hello")" = "Hello World!" ] || fail "read failed ($o)"
	stat "$MNT/hello" >/dev/null || fail "stat failed ($o)"
	umount "$MNT"
	wait_until 5 exited "$SERVER_PID" || fail "server stayed ($o)"
	grep -q "req_is_resend on" "$SERVER_LOG" &&
		fail "req_is_resend failed ($o): $(grep req_is_resend "$SERVER_LOG")"
	grep -q "resent" "$SERVER_LOG" && fail "request taken for resent ($o)"
done
log "req_is_resend is 0 without recovery and for fresh requests"
