# SPDX-License-Identifier: LGPL-2.1-or-later
# A file opened before the SIGKILL is read and written through the same fd
# after the restart: its file handle (an fd number of the dead process)
# must never reach the new server, nor another file's data come back.
# Usage: xl-fd-survives.sh VARIANT
. "$(dirname "$0")/xl-lib.sh"

mkdir "$SRC/d"
printf 'the data before the kill\n' >"$SRC/d/file"
# Files opened by the new server first, so that the dead one's fd numbers
# are taken by other files.
for i in 1 2 3 4 5 6; do echo "decoy $i" >"$SRC/d/decoy$i"; done
start_x
"$XCHECK" fd "$MNT/d/file" "$T/marks" 2>"$T/app.err" &
appid=$!
wait_until 10 test -e "$T/marks/ready" || fail "application did not open"
restart_x
# (in another process: the test itself never blocks on the mount)
(
	exec 5<"$MNT/d/decoy1" 6<"$MNT/d/decoy2" 7<"$MNT/d/decoy3"
	touch "$T/decoys-open"
	exec sleep 60
) >/dev/null 2>"$T/decoys.err" &
decoys=$!
wait_until 10 test -e "$T/decoys-open" || fail "opening other files after the restart: $(cat "$T/decoys.err")"
touch "$T/marks/go"
wait_until 20 exited $appid || fail "application hangs"
wait $appid || fail "fd after the restart: $(cat "$T/app.err")"
kill $decoys
expect_eq "backing file" "$(cat "$SRC/d/file")" \
	"$(printf 'the data before the kill\nwritten after the restart')"
for i in 1 2 3 4 5 6; do
	expect_eq "decoy $i" "$(cat "$SRC/d/decoy$i")" "decoy $i"
done
server_alive
log "$XL_VARIANT: an fd opened before the kill reads and writes after it"
