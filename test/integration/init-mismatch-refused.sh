# SPDX-License-Identifier: LGPL-2.1-or-later
# A restarted server that would negotiate other capabilities than the kernel
# accepted is refused with a clear error; the mount and the requests
# waiting on it survive until a compatible server comes.
. "$(dirname "$0")/lib.sh"

start_server "$TESTFS" -f -o tag=im "$MNT"
kill_server
cat "$MNT/hello" >"$T/out" 2>"$T/cat.err" &
reader=$!
if "$TESTFS" -f -o tag=im,want_writeback "$MNT" 2>"$T/bad.err"; then
	fail "incompatible server ran"
fi
grep -q "capabilities differ" "$T/bad.err" || fail "unclear error: $(cat "$T/bad.err")"
kill -0 "$reader" || fail "waiting reader lost"
start_server "$TESTFS" -f -o tag=im "$MNT"
wait_until 5 exited $reader || fail "reader still waits"
wait "$reader" || fail "reader failed"
[ "$(cat "$T/out")" = "Hello World!" ] || fail "reader got garbage"
log "incompatible INIT refused, compatible server recovered"
