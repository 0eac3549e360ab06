# SPDX-License-Identifier: LGPL-2.1-or-later
# An incompatible server refused 50 times in a row is no crash loop: each
# refusal tells the supervisor so, no death is counted (the limit is 10),
# and the mount keeps waiting for a compatible server, which takes over.
. "$(dirname "$0")/lib.sh"

start_server "$TESTFS" -f -o tag=rt,recover_restarts=10 "$MNT"
kill_server
cat "$MNT/hello" >"$T/out" 2>"$T/cat.err" &
reader=$!
for ((i = 1; i <= 50; i++)); do
	if timeout 10 "$TESTFS" -f -o tag=rt,recover_restarts=10,want_writeback \
		"$MNT" 2>"$T/bad.err"; then
		fail "incompatible server $i ran"
	fi
	grep -q "capabilities differ" "$T/bad.err" ||
		fail "start $i: unclear error: $(cat "$T/bad.err")"
done
grep -q "giving up" "$FUSE_RECOVERD_LOG" && fail "supervisor gave up"
[ "$(grep -c "declined the takeover" "$FUSE_RECOVERD_LOG")" = 50 ] ||
	fail "not every refusal reached the supervisor"
kill -0 "$reader" || fail "waiting reader lost: $(cat "$T/cat.err")"
start_server "$TESTFS" -f -o tag=rt,recover_restarts=10 "$MNT"
wait_until 5 exited $reader || fail "reader still waits"
wait "$reader" || fail "reader failed: $(cat "$T/cat.err")"
[ "$(cat "$T/out")" = "Hello World!" ] || fail "reader got garbage"
log "50 incompatible servers refused, the mount waited, a compatible one took over"
