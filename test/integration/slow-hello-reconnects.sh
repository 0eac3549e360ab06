# SPDX-License-Identifier: LGPL-2.1-or-later
# A server starved of CPU between connect() and its HELLO (played by
# slow_hello.so: its first connect returns 2.5 s late) misses the one-second
# HELLO deadline and is dropped; it connects again and takes over, so a slow
# legitimate server is never locked out while idle peers still are.
. "$(dirname "$0")/lib.sh"

start_server "$TESTFS" -f -o tag=sh "$MNT"
kill_server
cat "$MNT/hello" >"$T/out" 2>"$T/cat.err" &
reader=$!
start_server env LD_PRELOAD="$BUILD/test/slow_hello.so" SLOW_HELLO_MS=2500 \
	"$TESTFS" -f -o tag=sh "$MNT"
wait_until 10 exited $reader || fail "reader still waits"
wait "$reader" || fail "reader failed: $(cat "$T/cat.err")"
[ "$(cat "$T/out")" = "Hello World!" ] || fail "reader got garbage"
grep -q "no HELLO within 1 s" "$FUSE_RECOVERD_LOG" ||
	fail "the slow server was not dropped: the test proved nothing"
grep -q "dropped us before our HELLO was answered" "$SERVER_LOG" ||
	fail "no reconnect logged: $(cat "$SERVER_LOG")"
grep -q "took over tag sh" "$FUSE_RECOVERD_LOG" || fail "no takeover logged"
kill -0 "$SERVER_PID" || fail "the slow server is gone"
log "dropped before HELLO, reconnected, took over"
