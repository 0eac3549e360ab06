# SPDX-License-Identifier: LGPL-2.1-or-later
# A backing file replaced (renamed over in the source directory) while no
# server ran: its old node, held open by an application, gets ESTALE on
# fstat and read -- never the new file's data -- while a new lookup by
# path finds the new file.
# Usage: xl-replaced-estale.sh VARIANT
# The path is looked up again (entry timeout 0); the open fd keeps the node.
XL_ENTRY_TIMEOUT=0
. "$(dirname "$0")/xl-lib.sh"

mkdir "$SRC/r"
echo "old content" >"$SRC/r/f"
start_x
"$XCHECK" stale "$MNT/r/f" "$T/marks" 2>"$T/app.err" &
appid=$!
wait_until 10 test -e "$T/marks/ready" || fail "application did not open"
kill_x
echo "new content" >"$SRC/r/f.new"
mv "$SRC/r/f.new" "$SRC/r/f"
start_x
touch "$T/marks/go"
wait_until 20 exited $appid || fail "application hangs"
wait $appid || fail "old node after the replacement: $(cat "$T/app.err")"
expect_eq "new file by path" "$(app cat "$MNT/r/f")" "new content"
server_alive
log "$XL_VARIANT: the replaced file's old node gets ESTALE, its path the new file"
