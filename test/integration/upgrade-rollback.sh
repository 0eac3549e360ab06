# SPDX-License-Identifier: LGPL-2.1-or-later
# The new server is SIGKILLed while it is being confirmed: the old one,
# parked, takes the connection back (resyncing what its successor changed,
# with the kernel resending what the dead one had read).  fuse-recover
# fails saying "rolled back", the old pid serves again, the application
# sees no error, and a later upgrade goes through.
# Usage: upgrade-rollback.sh pt|ptrfs-mt|ptrfs-clone|... [ROUNDS]
rounds=${2:-3}
. "$(dirname "$0")/upgrade-family.sh" "${1:-pt}"

takeovers() { grep -c "upgrade: takeover: pid" "$T/recoverd.log" || true; }
more_takeovers() { [ "$(takeovers)" -gt "$1" ]; }

start_family "$fam"
start_exerciser
for ((r = 1; r <= rounds; r++)); do
	old=$(serving_pid "$TAG")
	n=$(takeovers)
	CONFIRM=10 upgrade_bg "$TAG" "${CMD[@]}"
	wait_until 30 more_takeovers "$n" ||
		fail "round $r: no takeover"
	new=$(grep "upgrade: takeover: pid" "$T/recoverd.log" | tail -n 1 |
		sed 's/.*takeover: pid \([0-9]*\) .*/\1/')
	# Let it serve a while under load, then kill it.
	sleep 0.$((2 + RANDOM % 5))
	kill -KILL "$new"
	upgrade_wait
	[ "$UPGRADE_RC" != 0 ] || fail "round $r: a rolled back upgrade said success"
	grep -q "rolled back" "$T/upgrade.out" ||
		fail "round $r: $(cat "$T/upgrade.out" "$T/upgrade.err")"
	[ "$(serving_pid "$TAG")" = "$old" ] || fail "round $r: pid $old does not serve again"
	kill -0 "$EXERCISER" 2>/dev/null || fail "exerciser stopped: $(cat "$T/ex.log")"
done
# The old one serves normally, and can still be upgraded.
sleep 0.3
upgrade "$TAG" "${CMD[@]}" || fail "upgrade after rollback: $(cat "$T/upgrade.out")"
stop_exerciser
log "$rounds new servers killed while being confirmed: rolled back, zero errors"
