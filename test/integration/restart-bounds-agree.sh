# SPDX-License-Identifier: LGPL-2.1-or-later
# The library and fuse-recoverd accept the same restart counts: the largest
# one the library takes starts a supervisor, one more is refused by both
# with an error naming the range; and a limit above 64 still gives up.
. "$(dirname "$0")/lib.sh"

timeout 10 "$TESTFS" -f -o tag=rb,recover_restarts=1000001 "$MNT" 2>"$T/lib.err" &&
	fail "library accepted recover_restarts=1000001"
grep -q "use 0 to 1000000" "$T/lib.err" || fail "library said: $(cat "$T/lib.err")"
timeout 10 "$FUSE_RECOVERD" --tag rb --max-restarts 1000001 2>"$T/sup.err" &&
	fail "fuse-recoverd accepted --max-restarts 1000001"
grep -q "0 to 1000000" "$T/sup.err" || fail "fuse-recoverd said: $(cat "$T/sup.err")"
start_server "$TESTFS" -f -o tag=rb,recover_restarts=1000000 "$MNT"
grep -q "holding connection" "$FUSE_RECOVERD_LOG" || fail "no supervisor took 1000000"
kill_server
start_server "$TESTFS" -f -o tag=rb,recover_restarts=1000000 "$MNT"
umount "$MNT"
wait_until 5 no_supervisor rb || fail "supervisor still running"

# 70 allowed deaths: the 71st within the window gives up.  Each server
# serves, then dies, so the supervisor restarts it at once.
cat >"$T/dier" <<EOS
#!/bin/bash
(sleep 0.05; kill -KILL \$\$) &
exec "$TESTFS" "\$@"
EOS
chmod +x "$T/dier"
"$FUSE_RECOVERD" --tag rm --max-restarts 70 --window 120 \
	-- "$T/dier" -f -o tag=rm "$MNT" 2>"$T/supervisor.log" &
sup=$!
wait_until 110 exited $sup || fail "supervisor never gave up"
grep -q "giving up: 71 server deaths" "$FUSE_RECOVERD_LOG" ||
	fail "gave up wrongly: $(grep giving "$FUSE_RECOVERD_LOG")"
log "bounds agree; a limit of 70 gave up at death 71"
