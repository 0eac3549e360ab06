# SPDX-License-Identifier: LGPL-2.1-or-later
# What applications hold across a SIGKILL of passthrough_hp: an fd opened
# before the crash keeps reading and writing, a cwd inside the mount keeps
# working, `ls -li` shows the same, and a file unlinked while open still
# reads back its data (its fd is held by the supervisor) - also after a
# second crash.  Usage: pt-restart-keeps-files.sh [tmpfs|dir]
. "$(dirname "$0")/pt-lib.sh"
need_resend

start_pt
mkdir -p "$MNT/dir/sub"
echo before >"$MNT/keep"
echo inside >"$MNT/dir/inside"
head -c 300000 /dev/urandom >"$T/unl.data"
cp "$T/unl.data" "$MNT/unl"
ln -s keep "$MNT/link"
ln "$MNT/keep" "$MNT/dir/hard"

# The holder opens everything before the crash and uses it after.
(
	set -e
	exec 5<>"$MNT/keep" 6<"$MNT/unl" 7<"$MNT/dir"
	rm "$MNT/unl"
	cd "$MNT/dir"
	touch "$T/ready"
	while [ ! -e "$T/go" ]; do sleep 0.02; done
	read -r line <&5
	[ "$line" = before ] || { echo "keep: read '$line'"; exit 1; }
	echo after >&5
	cmp - "$T/unl.data" <&6 || { echo "unlinked file differs"; exit 1; }
	[ "$(cat inside)" = inside ] || { echo "cwd-relative read failed"; exit 1; }
	echo made-after >made-after
	[ "$(ls | tr '\n' ' ')" = "hard inside made-after sub " ] ||
		{ echo "ls of cwd: $(ls)"; exit 1; }
	cd sub && cd .. && [ "$(pwd)" = "$MNT/dir" ] ||
		{ echo "pwd: $(pwd)"; exit 1; }
	touch "$T/second"
	while [ ! -e "$T/go2" ]; do sleep 0.02; done
	cmp - "$T/unl.data" < /proc/self/fd/6 || { echo "unlinked file differs after the second crash"; exit 1; }
	echo OK >"$T/holder.ok"
) >"$T/holder.log" 2>&1 &
holder=$!
wait_until 10 test -e "$T/ready" || fail "holder did not start: $(cat "$T/holder.log")"
ls -liR "$MNT" >"$T/ls.before"

kill_server
start_pt
ls -liR "$MNT" >"$T/ls.after"
diff "$T/ls.before" "$T/ls.after" || fail "ls -liR differs after the restart"
touch "$T/go"
wait_until 20 test -e "$T/second" || fail "holder stuck after restart: $(cat "$T/holder.log")"

kill_server
start_pt
touch "$T/go2"
wait_until 20 exited $holder || fail "holder hangs: $(cat "$T/holder.log")"
wait $holder || fail "holder: $(cat "$T/holder.log")"
[ -e "$T/holder.ok" ] || fail "holder: $(cat "$T/holder.log")"
[ "$(cat "$SRC/keep")" = "before
after" ] || fail "keep holds: $(cat "$SRC/keep")"
[ "$(cat "$SRC/dir/made-after")" = made-after ] || fail "file made after restart"
# Once closed, the supervisor lets the unlinked file go.
sup=$(supervisor_pids "$PT_TAG")
held() { find /proc/$sup/fd -lname '*unl (deleted)' 2>/dev/null; }
wait_until 5 test -z "$(held)" || fail "supervisor still holds the unlinked file"
log "open fds, cwd, ls -li and an unlinked open file survived two crashes"
