# SPDX-License-Identifier: LGPL-2.1-or-later
# A server that keeps dying: the supervisor gives up after more than N
# deaths within the window, applications get ENOTCONN instead of hanging,
# nothing is left running, and the dead mount stays (never unmounted, so
# nothing lands in the directory underneath).
. "$(dirname "$0")/lib.sh"

cat >"$T/flaky" <<EOS
#!/bin/bash
# First start serves; every later start dies at once.
if [ -e "$T/started" ]; then kill -KILL \$\$; fi
touch "$T/started"
exec "$TESTFS" "\$@"
EOS
chmod +x "$T/flaky"

"$FUSE_RECOVERD" --tag cl --max-restarts 3 --window 30 \
	-- "$T/flaky" -f -o tag=cl,recover_restarts=3,recover_window=30 "$MNT" \
	2>"$T/supervisor.log" &
sup=$!
wait_until 10 is_mounted "$MNT" || fail "not mounted"
wait_until 10 grep -q "holding connection" "$FUSE_RECOVERD_LOG" ||
	fail "supervisor holds nothing"

# An application living inside the mount, and one request issued while down.
(cd "$MNT" && while stat hello >/dev/null 2>"$T/inside.err"; do sleep 0.01; done) &
inside=$!
sleep 0.2
start=$(date +%s%N)
pkill -KILL -f "testfs -f -o tag=cl" || fail "no server to kill"
stat "$MNT/data" >/dev/null 2>"$T/pending.err" && fail "request served by nobody"

wait_until 40 exited $sup || fail "supervisor did not give up"
elapsed=$((($(date +%s%N) - start) / 1000000))
grep -q "giving up" "$FUSE_RECOVERD_LOG" || fail "no give-up message"
wait_until 5 exited $inside || fail "application still hangs"
grep -qE "not connected|connection abort" "$T/inside.err" ||
	fail "application saw: $(cat "$T/inside.err")"
grep -qE "not connected|connection abort|No such file" "$T/pending.err" ||
	fail "pending request saw: $(cat "$T/pending.err")"
is_mounted "$MNT" || fail "gave up by unmounting"
stat "$MNT" >/dev/null 2>"$T/after.err" && fail "dead mount answered stat"
grep -q "not connected" "$T/after.err" || fail "after give-up: $(cat "$T/after.err")"
pgrep -f "testfs -f -o tag=cl" >/dev/null && fail "server still running"
[ -z "$(supervisor_pids cl)" ] || fail "supervisor still running"
[ ! -e "$FUSE_RECOVER_RUNTIME_DIR/cl.sock" ] || fail "socket left behind"
log "gave up after ${elapsed} ms; application got ENOTCONN"
