# SPDX-License-Identifier: LGPL-2.1-or-later
# An application whose cwd is a subdirectory of the mount keeps working
# with relative paths after the server was SIGKILLed and restarted: its cwd
# is a node id the dead server handed out.
# Usage: xl-cwd-relative.sh VARIANT
. "$(dirname "$0")/xl-lib.sh"

mkdir -p "$SRC/top/sub/deep" "$SRC/top/sibling"
echo here >"$SRC/top/sub/deep/f"
echo there >"$SRC/top/sibling/g"
start_x
M=$T/marks
(
	cd "$MNT/top/sub" || exit 3
	while [ ! -e "$M/go" ]; do sleep 0.01; done
	set -e
	cat deep/f
	cat ../sibling/g
	ls . | tr '\n' ' '
	echo
	mkdir newdir
	echo made >newdir/h
	cat newdir/h
	mv newdir/h newdir/h2
	rm newdir/h2
	rmdir newdir
	stat -c %F .
) >"$T/app.out" 2>"$T/app.err" &
appid=$!
sleep 0.3
restart_x
touch "$M/go"
wait_until 15 exited $appid || fail "application hangs"
wait $appid || fail "relative paths after the restart: $(cat "$T/app.err")"
expect_eq output "$(cat "$T/app.out")" "$(printf 'here\nthere\ndeep \nmade\ndirectory')"
[ -z "$(ls -A "$SRC/top/sub" | grep -v deep)" ] || fail "left in backing dir: $(ls "$SRC/top/sub")"
server_alive
log "$XL_VARIANT: relative paths from a cwd inside the mount work after the kill"
