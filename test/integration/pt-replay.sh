# SPDX-License-Identifier: LGPL-2.1-or-later
# One replay rule, provoked deterministically: passthrough_hp performs the
# operation, then kills itself before replying (test hook
# PASSTHROUGH_HP_CRASH_AFTER); the kernel resends the request to the next
# server, which must answer as if the first reply had arrived.
# Usage: pt-replay.sh RULE, RULE one of mkdir mknod symlink link create
# unlink rmdir rename rename-noreplace rename-exchange lookup-count open-fh
# xattr-create removexattr
. "$(dirname "$0")/pt-lib.sh"
need_resend

rule=${1:?rule}
PT_ARGS+=(--timeout=86400)
export PASSTHROUGH_HP_DEBUG_XATTR=1
count() { "$PTOPS" getxattr "$1" "trusted.pthp.$2"; }

case $rule in
mkdir) hook=mkdir:d cmd=(mkdir "$MNT/d") ;;
mknod) hook=mknod:p cmd=("$PTOPS" mknod-fifo "$MNT/p" 640) ;;
symlink) hook=symlink:s cmd=(ln -s some/target "$MNT/s") ;;
link) hook=link:h cmd=(ln "$MNT/f" "$MNT/h") ;;
create) hook=create:c cmd=("$PTOPS" create-excl "$MNT/c" 640) ;;
unlink) hook=unlink:f cmd=(rm "$MNT/f") ;;
rmdir) hook=rmdir:d cmd=(rmdir "$MNT/d") ;;
rename) hook=rename:a cmd=("$PTOPS" rename "$MNT/a" "$MNT/b") ;;
rename-noreplace) hook=rename:a cmd=("$PTOPS" rename "$MNT/a" "$MNT/b" noreplace) ;;
rename-exchange) hook=rename:a cmd=("$PTOPS" rename "$MNT/a" "$MNT/b" exchange) ;;
lookup-count) hook=lookup:f cmd=(stat "$MNT/f") ;;
xattr-create) hook=setxattr:user.k cmd=("$PTOPS" setxattr-create "$MNT/f" user.k v1) ;;
removexattr) hook=removexattr:user.k cmd=("$PTOPS" removexattr "$MNT/f" user.k) ;;
open-fh) hook=open cmd=(sh -c "exec 5<'$MNT/f'; touch '$T/opened'; while [ ! -e '$T/close' ]; do sleep 0.02; done") ;;
*) fail "unknown rule $rule" ;;
esac

# Set the scene through the mount (so the kernel knows the objects).
start_pt
case $rule in
link | unlink | lookup-count | open-fh | xattr-create) echo data >"$MNT/f" ;;
removexattr) echo data >"$MNT/f"; "$PTOPS" setxattr "$MNT/f" user.k v1 ;;
rmdir) mkdir "$MNT/d" ;;
rename | rename-noreplace) echo A >"$MNT/a" ;;
rename-exchange) echo A >"$MNT/a"; echo B >"$MNT/b" ;;
esac
if [ $rule = lookup-count ]; then
	# Forget f in the kernel: the next stat must LOOKUP it.
	kill_server
	umount -l "$MNT" 2>/dev/null || true
	wait_until 5 no_supervisor "$PT_TAG" || fail "supervisor stays after umount"
	start_pt
fi
kill_server
start_pt_env PASSTHROUGH_HP_CRASH_AFTER=$hook PASSTHROUGH_HP_DEBUG_XATTR=1 --

"${cmd[@]}" >"$T/op.log" 2>&1 &
op=$!
wait_server_died
grep -q "test hook: killing myself after ${hook%%:*}" "$SERVER_LOG" ||
	fail "the hook did not fire: $(cat "$SERVER_LOG")"
start_pt
if [ $rule = open-fh ]; then
	wait_until 10 test -e "$T/opened" || fail "open did not complete: $(cat "$T/op.log")"
	[ "$(count "$MNT/f" opens)" = 1 ] || fail "f has $(count "$MNT/f" opens) open handles, want 1"
	touch "$T/close"
fi
wait_until 10 exited $op || fail "the operation hangs"
wait $op || fail "the resent $rule failed: $(cat "$T/op.log")"

case $rule in
mkdir) [ -d "$SRC/d" ] ;;
mknod) [ -p "$SRC/p" ] && [ "$(stat -c %a "$SRC/p")" = 640 ] ;;
symlink) [ "$(readlink "$SRC/s")" = some/target ] ;;
link) [ "$(stat -c %i:%h "$SRC/f")" = "$(stat -c %i:%h "$SRC/h")" ] &&
	[ "$(stat -c %h "$SRC/f")" = 2 ] ;;
create) [ -f "$SRC/c" ] && [ "$(stat -c %a "$SRC/c")" = 640 ] ;;
unlink) [ ! -e "$SRC/f" ] ;;
rmdir) [ ! -e "$SRC/d" ] ;;
rename | rename-noreplace) [ ! -e "$SRC/a" ] && [ "$(cat "$SRC/b")" = A ] ;;
rename-exchange) [ "$(cat "$SRC/a")$(cat "$SRC/b")" = BA ] ;;
lookup-count) [ "$(count "$MNT/f" nlookup)" = 1 ] ||
	fail "lookup count $(count "$MNT/f" nlookup), want 1" ;;
xattr-create) [ "$("$PTOPS" getxattr "$SRC/f" user.k)" = v1 ] ;;
removexattr) ! "$PTOPS" getxattr "$SRC/f" user.k 2>/dev/null ;;
open-fh) wait_until 5 test "$(count "$MNT/f" opens)" = 0 ||
	fail "f keeps $(count "$MNT/f" opens) open handles after close" ;;
esac || fail "wrong result after the resent $rule: $(ls -l "$SRC")"

# The entry the kernel got once is counted once (request journal).
want=1
case $rule in
mkdir) obj=d ;;
mknod) obj=p ;;
symlink) obj=s ;;
create) obj=c ;;
link) obj=h want=2 ;;
*) obj= ;;
esac
if [ -n "$obj" ]; then
	got=$(count "$MNT/$obj" nlookup)
	[ "$got" = $want ] || fail "$obj: lookup count $got, want $want"
fi
log "resent $rule answered as done, tree as expected"
