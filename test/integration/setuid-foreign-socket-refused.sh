# SPDX-License-Identifier: LGPL-2.1-or-later
# FUSE_RECOVER_FD is only trusted from the supervisor that started us.  A
# user running a set-uid-root copy of a server with FUSE_RECOVER_FD naming
# a socketpair the user holds gets no fd from it; nor does a socket whose
# peer is not our parent, even of our own uid.
. "$(dirname "$0")/lib.sh"

SUID=$T/testfs-suid
cp "$BUILD/test/testfs-abs-rpath" "$SUID"
chown root:root "$SUID"
chmod 4755 "$SUID"
findmnt -n -o OPTIONS -T "$SUID" | grep -qw nosuid && skip "$T is on a nosuid mount"

# As uid 65534, with euid 0 from the set-uid bit.
setpriv --reuid 65534 --regid 65534 --clear-groups \
	"$FRTOOL" catch-fd 10 -- "$SUID" -f -o tag=su "$MNT" \
	>"$T/catch.out" 2>"$T/server.err" ||
	fail "attacker received an fd: $(cat "$T/catch.out") $(cat "$T/server.err")"
grep -q "messages 0 fds 0" "$T/catch.out" ||
	fail "the server talked to the attacker: $(cat "$T/catch.out")"
grep -q "not trusted in a set-uid" "$T/server.err" ||
	fail "no clear refusal: $(cat "$T/server.err")"
is_mounted "$MNT" && fail "the set-uid server mounted"

# Same uid, but the socket's peer is not the process that started us.
"$FRTOOL" catch-fd 10 -- bash -c "\"$TESTFS\" -f -o tag=su \"$MNT\"; :" \
	>"$T/catch2.out" 2>"$T/server2.err" ||
	fail "a non-parent peer received an fd: $(cat "$T/catch2.out")"
grep -q "messages 0 fds 0" "$T/catch2.out" ||
	fail "the server talked to a non-parent peer: $(cat "$T/catch2.out")"
grep -q "is not the supervisor that started us" "$T/server2.err" ||
	fail "no clear refusal: $(cat "$T/server2.err")"
is_mounted "$MNT" && fail "the server mounted"

# The legitimate case still works: the peer is our parent.
# This also shows catch-fd does catch an fd when one is sent.
"$FRTOOL" catch-fd 3 -- "$TESTFS" -f -o tag=su "$MNT" >"$T/catch3.out" \
	2>"$T/server3.err" && fail "catch-fd caught nothing from a trusting server"
grep -q "messages [1-9]" "$T/catch3.out" ||
	fail "the parent's socket was refused: $(cat "$T/server3.err")"
grep -q "mounted" "$T/server3.err" || fail "legit server failed: $(cat "$T/server3.err")"
log "foreign FUSE_RECOVER_FD refused; no fd left the process"
