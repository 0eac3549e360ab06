# SPDX-License-Identifier: LGPL-2.1-or-later
# Writes across SIGKILLs, every byte verified: pt_exerciser's random
# reads/writes/truncates checked against its model, and a file that keeps
# being extended through one open fd (through the writeback cache with
# ptrfs-wb, whose dirty pages are written back with the dead server's file
# handle).  No acknowledged write may be lost: after fsync and close the
# backing file holds exactly what was written.
# Usage: xl-write-verify.sh VARIANT [KILLS]
. "$(dirname "$0")/xl-lib.sh"

kills=${1:-6}
start_x
mkdir "$MNT/ex" "$MNT/wb"
"$PTEX" "$MNT/ex" "$T/stop" 3 >"$T/exerciser.out" 2>"$T/exerciser.log" &
w_ex=$!
"$XCHECK" extend "$MNT/wb/grow" "$T/stop" >"$T/extend.out" 2>"$T/extend.log" &
w_ext=$!
for ((k = 1; k <= kills; k++)); do
	sleep "0.$((3 + RANDOM % 5))"
	restart_x
	kill -0 $w_ex 2>/dev/null && kill -0 $w_ext 2>/dev/null || break
done
sleep 0.3
touch "$T/stop"
wait_until 60 exited $w_ex || fail "exerciser hangs"
wait_until 60 exited $w_ext || fail "extending writer hangs"
wait $w_ex || fail "exerciser: $(cat "$T/exerciser.out"; tail -n 5 "$T/exerciser.log")"
wait $w_ext || fail "extending writer: $(tail -n 5 "$T/extend.log")"
size=$(cat "$T/extend.out")
[ "$size" -gt 0 ] || fail "nothing written"
"$XCHECK" verify "$SRC/wb/grow" "$size" 2>"$T/verify.err" ||
	fail "backing file after fsync+close: $(cat "$T/verify.err")"
app "$XCHECK" verify "$MNT/wb/grow" "$size" 2>"$T/verify.err" ||
	fail "through the mount: $(cat "$T/verify.err")"
for i in 0 1 2; do
	app cmp -s "$SRC/ex/ex.$i" "$MNT/ex/ex.$i" || fail "ex.$i: mount and backing differ"
done
server_alive
log "$XL_VARIANT: $XL_DEATHS kills; exerciser $(cat "$T/exerciser.out"); $size bytes appended, all on the backing file"
