# SPDX-License-Identifier: LGPL-2.1-or-later
# Creates, mkdirs and symlinks in a directory looked up before the SIGKILL
# land in that directory (the parent node id is the dead server's).
# Usage: xl-create-in-old-dir.sh VARIANT
. "$(dirname "$0")/xl-lib.sh"

mkdir -p "$SRC/p/q"
start_x
app stat "$MNT/p/q" >/dev/null || fail "stat before"
(exec 3<"$MNT/p/q" && touch "$T/held" && exec sleep 60) >/dev/null 2>&1 &
holder=$!
wait_until 10 test -e "$T/held" || fail "open before"
restart_x
app sh -c "echo new >'$MNT/p/q/created'" 2>"$T/err" || fail "create: $(cat "$T/err")"
app mkdir "$MNT/p/q/newdir" 2>"$T/err" || fail "mkdir: $(cat "$T/err")"
app ln -s created "$MNT/p/q/sl" 2>"$T/err" || fail "symlink: $(cat "$T/err")"
kill $holder
expect_eq "created file" "$(cat "$SRC/p/q/created")" new
[ -d "$SRC/p/q/newdir" ] || fail "mkdir did not land in the backing dir"
expect_eq "symlink" "$(readlink "$SRC/p/q/sl")" created
expect_eq "through the mount" "$(app cat "$MNT/p/q/sl")" new
expect_eq "backing dir" "$(ls "$SRC/p/q" | tr '\n' ' ')" "created newdir sl "
server_alive
log "$XL_VARIANT: entries created in a pre-kill directory land there"
