# SPDX-License-Identifier: LGPL-2.1-or-later
# A directory read through one fd across three SIGKILLs, in small
# getdents64 calls, while the reader removes the last names it was given
# (as rm -r does): after each restart the stream goes on where it was, even
# on a server whose offsets mean nothing to its successor (ptrfs-snap):
# every entry exactly once, none missing, none doubled, and a rewind lists
# exactly the names left.  Each pause is followed by a lookup in the
# directory, so the kernel goes on with READDIRPLUS as well as READDIR.
# Usage: xl-readdir-remapped.sh VARIANT
. "$(dirname "$0")/xl-lib.sh"

n=400
steps=3
mkdir "$SRC/big"
(cd "$SRC/big" && for ((i = 0; i < n; i++)); do printf -v f 'f%05d' $i; : >"$f"; done)
start_x
"$XCHECK" dirsteps "$MNT/big" $n "$T/marks" $steps 3 2>"$T/app.err" &
appid=$!
for ((s = 1; s <= steps; s++)); do
	wait_until 10 test -e "$T/marks/ready$s" ||
		fail "application did not reach pause $s: $(cat "$T/app.err")"
	restart_x
	touch "$T/marks/go$s"
done
wait_until 20 exited $appid || fail "application hangs"
wait $appid || fail "readdir across the restarts: $(cat "$T/app.err")"
left=$(ls "$SRC/big" | wc -l)
expect_eq "names left" "$left" $((n - 3 * steps))
server_alive
log "$XL_VARIANT: $n entries over $steps kills, $((3 * steps)) removed while reading: each once"
