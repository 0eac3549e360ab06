# SPDX-License-Identifier: LGPL-2.1-or-later
# Nodes the kernel looked up before the server was SIGKILLed: stat and
# ls -l of them after the restart answer exactly as before (the new server
# never sees the dead one's node ids).
# Usage: xl-stat-after-kill.sh VARIANT (see xl-lib.sh)
. "$(dirname "$0")/xl-lib.sh"

mkdir -p "$SRC/a/b/c"
echo one >"$SRC/a/f1"
echo two >"$SRC/a/b/f2"
head -c 5000 /dev/urandom >"$SRC/a/b/c/f3"
ln -s ../f1 "$SRC/a/b/l1"
start_x
paths=(a a/f1 a/b a/b/f2 a/b/c a/b/c/f3 a/b/l1)
look() { (cd "$MNT" && stat -c '%n %i %F %s %h %a' "${paths[@]}" && ls -lR --time-style=+ a); }
app look >"$T/before" || fail "stat before the kill"
restart_x
app look >"$T/after" 2>"$T/after.err" ||
	fail "stat after the restart: $(cat "$T/after.err")"
diff "$T/before" "$T/after" >"$T/diff" || fail "differs: $(cat "$T/diff")"
expect_eq "content" "$(app cat "$MNT/a/b/l1")" one
server_alive
log "$XL_VARIANT: ${#paths[@]} nodes answer as before the kill"
