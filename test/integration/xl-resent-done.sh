# SPDX-License-Identifier: LGPL-2.1-or-later
# A non-idempotent request the dead server had already carried out: ptrfs
# (ptrfs-poison build) dies after its syscall but before replying, once.
# The kernel resends the request to the next server, which finds the work
# done (EEXIST, ENOENT).  The application must see the operation succeed,
# exactly once: this is what the chaos test hits at random.
# Usage: xl-resent-done.sh mkdir|create|symlink|link|unlink|rmdir|rename
. "$(dirname "$0")/xl-lib.sh" ptrfs-poison
need_resend

op=$1
n=crash-after-x
mkdir "$SRC/d"
case $op in
link) echo data >"$SRC/d/orig" ;;
unlink | rename) echo data >"$SRC/d/$n" ;;
rmdir) mkdir "$SRC/d/$n" ;;
esac
export PTRFS_CRASH_ONCE=$T/crashed
start_x
app ls -la "$MNT/d" >/dev/null
case $op in
mkdir) cmd=(mkdir "$MNT/d/$n") ;;
create) cmd=(sh -c "echo new >'$MNT/d/$n'") ;;
symlink) cmd=(ln -s target "$MNT/d/$n") ;;
link) cmd=(ln "$MNT/d/orig" "$MNT/d/$n") ;;
unlink) cmd=(rm "$MNT/d/$n") ;;
rmdir) cmd=(rmdir "$MNT/d/$n") ;;
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
wait $opid || fail "$op after the server died having done it: $(cat "$T/op.err")"
case $op in
mkdir) [ -d "$SRC/d/$n" ] ;;
create) [ "$(cat "$SRC/d/$n")" = new ] ;;
symlink) [ "$(readlink "$SRC/d/$n")" = target ] ;;
link) [ "$(stat -c %h "$SRC/d/orig")" = 2 ] && [ "$(cat "$SRC/d/$n")" = data ] ;;
unlink | rmdir) [ ! -e "$SRC/d/$n" ] ;;
rename) [ ! -e "$SRC/d/$n" ] && [ "$(cat "$SRC/d/renamed")" = data ] ;;
esac || fail "backing directory after $op: $(ls -l "$SRC/d")"
app ls "$MNT/d" >"$T/ls" || fail "listing after $op"
server_alive
log "resent $op that the dead server had done: the application saw success"
