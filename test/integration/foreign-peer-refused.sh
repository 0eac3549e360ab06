# SPDX-License-Identifier: LGPL-2.1-or-later
# Only the owner's uid (or root) gets the /dev/fuse fd, while the server
# runs and while it is down; a second root peer is refused while a live
# server holds the tag.
. "$(dirname "$0")/lib.sh"

start_server "$TESTFS" -f -o tag=fp "$MNT"
"$FRTOOL" hello --as-uid 65534 fp >"$T/peer1.out" ||
	fail "foreign peer was served: $(cat "$T/peer1.out")"
grep -q "refused pid .* uid 65534" "$FUSE_RECOVERD_LOG" || fail "refusal not logged"
"$FRTOOL" hello fp >"$T/peer2.out" || fail "second root peer got the live fd"
grep -q "live server" "$T/peer2.out" || fail "no EBUSY reason: $(cat "$T/peer2.out")"

kill_server
"$FRTOOL" hello --as-uid 65534 fp >"$T/peer3.out" ||
	fail "foreign peer got the fd of a dead server: $(cat "$T/peer3.out")"
"$FRTOOL" hello wrongtag >/dev/null 2>&1 && fail "connected to a tag that does not exist"
start_server "$TESTFS" -f -o tag=fp "$MNT"
[ "$(cat "$MNT/hello")" = "Hello World!" ] || fail "owner could not recover"
log "foreign peers refused, owner recovered"
