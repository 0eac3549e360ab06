# SPDX-License-Identifier: LGPL-2.1-or-later
# A request whose first attempt was done survives more crashes before its
# resend is answered: server 1 performs it and dies before replying
# (CRASH_AFTER); server 2 dies while taking over, before handling any
# resent request (CRASH_AFTER=init); server 3 claims the resent request's
# journal record and dies before doing anything (CRASH_BEFORE); server 4
# must still know the operation was done and answer success.
# Usage: pt-replay-double-crash.sh RULE, RULE one of unlink mkdir removexattr
. "$(dirname "$0")/pt-lib.sh"
need_resend

rule=${1:?rule}
PT_ARGS+=(--timeout=86400)
case $rule in
unlink) hook=unlink:f cmd=(rm "$MNT/f") ;;
mkdir) hook=mkdir:d cmd=(mkdir "$MNT/d") ;;
removexattr) hook=removexattr:user.k cmd=("$PTOPS" removexattr "$MNT/f" user.k) ;;
*) fail "unknown rule $rule" ;;
esac

start_pt
case $rule in
unlink) echo data >"$MNT/f" ;;
removexattr) echo data >"$MNT/f"; "$PTOPS" setxattr "$MNT/f" user.k v1 ;;
esac
kill_server
start_pt_env PASSTHROUGH_HP_CRASH_AFTER=$hook --
"${cmd[@]}" >"$T/op.log" 2>&1 &
op=$!
wait_server_died
grep -q "killing myself after ${hook%%:*}" "$SERVER_LOG" || fail "hook 1 did not fire"

PASSTHROUGH_HP_CRASH_AFTER=init "${PT[@]}" "${PT_ARGS[@]}" "$SRC" "$MNT" \
	2>"$T/server.init.log" &
wait_until 10 exited $! || fail "server 2 did not kill itself in init"
grep -q "killing myself after init" "$T/server.init.log" ||
	fail "hook 2 did not fire: $(cat "$T/server.init.log")"

start_pt_env PASSTHROUGH_HP_CRASH_BEFORE=$hook --
wait_server_died
grep -q "killing myself before ${hook%%:*}" "$SERVER_LOG" || fail "hook 3 did not fire"

start_pt
wait_until 10 exited $op || fail "the operation hangs"
wait $op || fail "the $rule done by the first attempt failed after three crashes: $(cat "$T/op.log")"
case $rule in
unlink) [ ! -e "$SRC/f" ] ;;
mkdir) [ -d "$SRC/d" ] ;;
removexattr) ! "$PTOPS" getxattr "$SRC/f" user.k 2>/dev/null ;;
esac || fail "wrong result: $(ls -l "$SRC")"
log "$rule done by the first attempt answered success after three crashes"
