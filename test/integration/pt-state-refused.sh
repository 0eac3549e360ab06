# SPDX-License-Identifier: LGPL-2.1-or-later
# A server that finds state it cannot use refuses with a clear message and
# changes nothing: the matching server started afterwards recovers with
# every node id intact.  Usage: pt-state-refused.sh version|corrupt|checksum
. "$(dirname "$0")/pt-lib.sh"
need_resend

case=${1:?version, corrupt or checksum}
start_pt
mkdir -p "$MNT/d"
echo one >"$MNT/d/one"
echo two >"$MNT/two"
ls -liR "$MNT" >"$T/ls.before"
# An application keeps a file open across everything below.
(exec 5<"$MNT/two"; touch "$T/opened"; while [ ! -e "$T/go" ]; do sleep 0.02; done; cat <&5 >"$T/two.read") &
holder=$!
wait_until 5 test -e "$T/opened" || fail "holder did not open"
kill_server

sup=$(supervisor_pids "$PT_TAG")
mem=$(find /proc/"$sup"/fd -lname '/memfd:fuse-recover-state*' | head -n 1)
[ -n "$mem" ] || fail "supervisor holds no state memfd"
dd if="$mem" of="$T/page.orig" bs=4096 count=1 status=none
case $case in
version)
	envs=(PASSTHROUGH_HP_STATE_VERSION=2)
	want="written by server version 1 .*this server is version 2"
	;;
corrupt)
	printf 'garbage!' | dd of="$mem" bs=1 seek=0 conv=notrunc status=none
	envs=()
	want="no valid header \(damaged state\)"
	;;
checksum)
	printf '\377' | dd of="$mem" bs=1 seek=40 conv=notrunc status=none
	envs=()
	want="checksum mismatch \(damaged state\)"
	;;
esac
dd if="$mem" of="$T/page.bad" bs=4096 count=1 status=none

env "${envs[@]}" "${PT[@]}" "${PT_ARGS[@]}" "$SRC" "$MNT" 2>"$T/refused.log" &
bad=$!
wait_until 10 exited $bad || fail "the refusing server does not exit"
wait $bad && fail "the refusing server exited 0"
grep -qE "$want" "$T/refused.log" || fail "no clear message: $(cat "$T/refused.log")"
grep -q "refusing to serve" "$T/refused.log" || fail "server did not refuse: $(cat "$T/refused.log")"
dd if="$mem" of="$T/page.after" bs=4096 count=1 status=none
cmp -s "$T/page.bad" "$T/page.after" || fail "the refusing server wrote to the state"

# Repair (what an operator with the right server version would not need).
dd if="$T/page.orig" of="$mem" bs=4096 count=1 conv=notrunc status=none
start_pt
ls -liR "$MNT" >"$T/ls.after"
diff "$T/ls.before" "$T/ls.after" || fail "tree differs after recovery"
touch "$T/go"
wait_until 10 exited $holder || fail "holder hangs"
[ "$(cat "$T/two.read")" = two ] || fail "open file read: $(cat "$T/two.read")"
log "$case: refused with \"$(grep -oE "$want" "$T/refused.log")\", state untouched, matching server recovered"
