# SPDX-License-Identifier: LGPL-2.1-or-later
# The other side of xl-resent-done: a resent request whose error is real.
# The name is removed from the backing directory behind the kernel's back
# (its dentry stays cached), then unlinked or renamed through the mount;
# ptrfs (ptrfs-poison) dies after its failed syscall, once.  The next
# server fails it the same way, and since nothing changed after the first
# attempt was read, the application must get that error (ENOENT), not a
# success made up from "maybe the dead server did it".
# Usage: xl-resent-not-done.sh unlink|rename
. "$(dirname "$0")/xl-lib.sh" ptrfs-poison
need_resend

op=$1
n=crash-after-x
mkdir "$SRC/d"
echo data >"$SRC/d/$n"
export PTRFS_CRASH_ONCE=$T/crashed
start_x
app stat "$MNT/d/$n" >/dev/null || fail "cannot look $n up"
rm "$SRC/d/$n"
sleep 0.2 # older than the request by more than the clock's slack
case $op in
unlink) cmd=(rm "$MNT/d/$n") ;;
rename) cmd=(mv "$MNT/d/$n" "$MNT/d/renamed") ;;
*) fail "unknown operation $op" ;;
esac
XL_APP_TIMEOUT=20 app "${cmd[@]}" 2>"$T/op.err" &
opid=$!
wait_until 10 test -e "$T/crashed" || fail "the server did not reach the crash point"
wait_until 10 exited "$SERVER_PID" || fail "the server did not die"
wait "$SERVER_PID" 2>/dev/null || true
start_x
wait_until 25 exited $opid || fail "$op hangs"
if wait $opid; then
	fail "resent $op of a name that was already gone answered success"
fi
grep -q "No such file" "$T/op.err" || fail "$op failed otherwise: $(cat "$T/op.err")"
[ ! -e "$SRC/d/renamed" ] || fail "rename created its target"
server_alive
log "resent $op whose error was real: the application got ENOENT"
