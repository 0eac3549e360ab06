# SPDX-License-Identifier: LGPL-2.1-or-later
# A read that is inside the server when the server is SIGKILLed completes,
# with the right data, once the server is restarted: the kernel resends it.
# Usage: crash-during-read.sh [st|mt|mt-clone]
. "$(dirname "$0")/lib.sh"
need_resend

case ${1:-st} in
st) loop=(-s) ;;
mt) loop=() ;;
mt-clone) loop=(-o clone_fd) ;;
esac
args=(-f "${loop[@]}" -o tag=cdr,slow_ms=600,mark_dir="$T/marks" "$MNT")

start_server "$TESTFS" "${args[@]}"
cat "$MNT/slow" >"$T/out" 2>"$T/cat.err" &
reader=$!
wait_until 5 compgen -G "$T/marks/slow.$SERVER_PID" >/dev/null ||
	fail "read never reached the server"
kill_server
start_server "$TESTFS" "${args[@]}"
wait_until 10 exited $reader || fail "reader still blocked"
wait "$reader" || fail "reader failed: $(cat "$T/cat.err")"
[ "$(cat "$T/out")" = "Hello World!" ] || fail "reader got: $(cat "$T/out")"
grep -q "resent read" "$SERVER_LOG" || fail "new server did not see a resent read"
log "in-flight read was resent and answered"
