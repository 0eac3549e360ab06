# SPDX-License-Identifier: LGPL-2.1-or-later
# find over a tree the kernel knew before the SIGKILL: the same listing and
# the same contents after the restart, and equal to the backing tree.
# Usage: xl-find-tree.sh VARIANT
. "$(dirname "$0")/xl-lib.sh"

for d in 1 2 3 4; do
	for e in 1 2 3; do
		mkdir -p "$SRC/t$d/u$e/v"
		for f in 1 2 3 4 5; do
			head -c $((RANDOM % 9000)) /dev/urandom >"$SRC/t$d/u$e/f$f"
		done
		echo leaf >"$SRC/t$d/u$e/v/leaf"
		ln -s f1 "$SRC/t$d/u$e/link"
	done
done
ln "$SRC/t1/u1/f1" "$SRC/t2/hard"
sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0r sha256sum); }
start_x
app tree_listing "$MNT" >"$T/before" || fail "find before"
restart_x
app tree_listing "$MNT" >"$T/after" 2>"$T/err" || fail "find after: $(cat "$T/err")"
diff "$T/before" "$T/after" >"$T/diff" || fail "listing differs: $(head "$T/diff")"
diff <(tree_listing "$SRC") "$T/after" >"$T/diff" || fail "mount and backing differ: $(head "$T/diff")"
app sums "$MNT" >"$T/sums" || fail "reading after the restart"
diff <(sums "$SRC") "$T/sums" >/dev/null || fail "contents differ"
server_alive
log "$XL_VARIANT: find over $(wc -l <"$T/after") entries equal before and after the kill"
