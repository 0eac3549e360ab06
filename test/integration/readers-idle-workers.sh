# SPDX-License-Identifier: LGPL-2.1-or-later
# Reader threads that come and go on purpose never look like a death:
# bursts of parallel requests make libfuse's multi-threaded loop start
# workers (threads created after the attach; with clone_fd each opens its
# own /dev/fuse fd), and with -o max_idle_threads=1 the idle ones exit
# between bursts.  Each leaves its reader slot free (none left "owner
# died", fuse-recover status: readers_dead 0), the server is never taken
# for dead (no death, no takeover, the same pid serves), zero errors.
# Usage: readers-idle-workers.sh ptrfs-mt|ptrfs-clone
. "$(dirname "$0")/xl-lib.sh"
FRCMD=$BUILD/tools/fuse-recover
RLOG=$T/recoverd.log

field() { "$FRCMD" status "$XL_TAG" | awk -v k="$1" '$1 == k { print $2 }'; }
threads() { ls /proc/"$SERVER_PID"/task | wc -l; }
for j in $(seq 1 16); do head -c 65536 /dev/urandom >"$SRC/f$j"; done
XL_CMD+=(-o max_idle_threads=1)
start_x
pid=$(field server_pid)
[ "$pid" = "$SERVER_PID" ] || fail "status names pid '$pid', not $SERVER_PID"
base=$(threads)
most=$base
shrinks=0
# Until workers came and went twice (a loaded machine may serve a burst
# with the threads it has), at most 10 bursts.
for ((r = 1; r <= 10 && shrinks < 2; r++)); do
	for j in $(seq 1 8); do
		(
			for k in 1 2 3 4 5; do
				cmp -s "$MNT/f$j" "$SRC/f$j" || { echo "f$j differs"; exit 1; }
			done
		) >"$T/burst.$j.log" 2>&1 &
	done
	t=$(threads)
	for j in $(seq 1 8); do
		wait -n || fail "round $r: a reader failed: $(cat "$T"/burst.*.log)"
		n=$(threads)
		[ "$n" -gt "$t" ] && t=$n
	done
	[ "$t" -gt "$most" ] && most=$t
	if [ "$t" -gt "$base" ]; then
		# The idle workers leave (libfuse lets them go one by one).
		fewer() { [ "$(threads)" -lt "$t" ]; }
		wait_until 10 fewer || fail "round $r: no worker exited ($t threads)"
		shrinks=$((shrinks + 1))
	fi
	dead=$(field readers_dead)
	[ "$dead" = 0 ] || fail "round $r: $dead reader slots left by threads that exited on purpose"
done
[ "$shrinks" -ge 1 ] || fail "no burst started a worker ($base threads)"
settle() { [ "$(threads)" -lt "$most" ]; }
wait_until 10 settle || fail "the idle workers never exited: $(threads) of at most $most threads"
[ "$(field server_pid)" = "$SERVER_PID" ] || fail "another pid serves: $(field server_pid)"
! grep -E "death|takeover|unusable reader" "$RLOG" ||
	fail "a worker's exit was taken for a death"
live=$(field readers)
[ "$live" -ge 1 ] && [ "$live" -le "$(threads)" ] ||
	fail "readers $live with $(threads) threads"
log "$((r - 1)) bursts up to $most threads, down to $(threads): readers $live, none dead, no takeover"
