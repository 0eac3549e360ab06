# SPDX-License-Identifier: LGPL-2.1-or-later
# A poison request: ptrfs-poison dies (SIGKILL, before replying) on every
# LOOKUP of "poison".  The kernel resends it to each next server; after it
# killed 3 servers in a row the library answers it EIO, logs opcode and
# node, and the mount lives on: other requests are answered, the server
# that answered EIO keeps running.
. "$(dirname "$0")/xl-lib.sh" ptrfs-poison
need_resend

echo fine >"$SRC/ok"
"$FUSE_RECOVERD" --tag "$XL_TAG" --max-restarts 20 --window 60 -- \
	"${XL_CMD[@]}" 2>"$T/servers.log" &
sup=$!
wait_until 10 is_mounted "$MNT" || fail "not mounted"
expect_eq "before" "$(app cat "$MNT/ok")" fine
XL_APP_TIMEOUT=30 app stat "$MNT/poison" >/dev/null 2>"$T/poison.err" &&
	fail "the poison request succeeded"
grep -q "Input/output error" "$T/poison.err" ||
	fail "poison request got: $(cat "$T/poison.err")"
deaths=$(grep -c "server died" "$FUSE_RECOVERD_LOG" || true)
[ "$deaths" -ge 3 ] && [ "$deaths" -le 4 ] || fail "$deaths server deaths, want 3 (or 4)"
# The line names the opcode (LOOKUP is 1) and the node (the root, 1).
grep -hE "EIO" "$T/servers.log" "$FUSE_RECOVERD_LOG" >"$T/logline" ||
	fail "no log line about the EIO: $(tail -n 5 "$T/servers.log")"
grep -qiE "LOOKUP|opcode 1\b" "$T/logline" || fail "log line names no opcode: $(cat "$T/logline")"
grep -qiE "node 1\b|nodeid 1\b|root" "$T/logline" || fail "log line names no node: $(cat "$T/logline")"
# The mount lives on.
expect_eq "after" "$(app cat "$MNT/ok")" fine
app sh -c "echo more >'$MNT/new'" || fail "create after the poison"
expect_eq "created" "$(cat "$SRC/new")" more
pgrep -f "^${XL_CMD[0]} " >/dev/null || fail "no server runs"
is_mounted "$MNT" || fail "unmounted"
log "poison LOOKUP answered EIO after $deaths deaths: $(head -n 1 "$T/logline")"
