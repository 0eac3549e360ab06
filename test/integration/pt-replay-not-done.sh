# SPDX-License-Identifier: LGPL-2.1-or-later
# A resent request whose first attempt did NOT happen answers what it would
# have answered without a kill, never success: passthrough_hp journals the
# request, then kills itself before the syscall (test hook
# PASSTHROUGH_HP_CRASH_BEFORE); the state that makes the operation fail is
# there before the kill or is made in the backing directory while no server
# runs (as another process could).  The tree may look exactly as if the
# first attempt had succeeded; only the journal knows it did not.
# Usage: pt-replay-not-done.sh RULE, RULE one of mkdir unlink rename
# xattr-create removexattr
. "$(dirname "$0")/pt-lib.sh"
need_resend

rule=${1:?rule}
PT_ARGS+=(--timeout=86400)
case $rule in
mkdir) hook=mkdir:d cmd=(mkdir "$MNT/d") want="File exists" ;;
unlink) hook=unlink:f cmd=(rm "$MNT/f") want="No such file or directory" ;;
rename) hook=rename:a cmd=("$PTOPS" rename "$MNT/a" "$MNT/b")
	want="No such file or directory" ;;
xattr-create) hook=setxattr:user.k cmd=("$PTOPS" setxattr-create "$MNT/f" user.k v1)
	want="File exists" ;;
removexattr) hook=removexattr:user.k cmd=("$PTOPS" removexattr "$MNT/f" user.k)
	want="No data available" ;;
*) fail "unknown rule $rule" ;;
esac

start_pt
case $rule in
mkdir) ;;
unlink) echo data >"$MNT/f" ;;
rename) echo A >"$MNT/a" ;;
xattr-create) echo data >"$MNT/f"; "$PTOPS" setxattr "$MNT/f" user.k v1 ;;
removexattr) echo data >"$MNT/f" ;;
esac
kill_server
start_pt_env PASSTHROUGH_HP_CRASH_BEFORE=$hook --

"${cmd[@]}" >"$T/op.log" 2>&1 &
op=$!
wait_server_died
grep -q "test hook: killing myself before ${hook%%:*}" "$SERVER_LOG" ||
	fail "the hook did not fire: $(cat "$SERVER_LOG")"
# Behind the kernel's back, the tree becomes what the operation would
# have left (mode and owner as the mount would have made them).
case $rule in
mkdir) mkdir -m 755 "$SRC/d" ;;
unlink) rm "$SRC/f" ;;
rename) mv "$SRC/a" "$SRC/b" ;;
esac
start_pt
wait_until 10 exited $op || fail "the operation hangs"
if wait $op; then
	fail "the resent $rule succeeded although its first attempt never ran"
fi
grep -q "$want" "$T/op.log" || fail "resent $rule: want '$want', got: $(cat "$T/op.log")"

# The same call without any kill answers the same.
"${cmd[@]}" >"$T/again.log" 2>&1 && fail "$rule without a kill succeeded"
grep -q "$want" "$T/again.log" || fail "$rule without a kill: $(cat "$T/again.log")"
log "resent $rule whose first attempt did not happen: $want, as without a kill"
