# SPDX-License-Identifier: LGPL-2.1-or-later
# A drain that waits for a request the old server is still answering
# sleeps meanwhile: the old server uses next to no CPU.  (Its drainer once
# waited on the wrong clock and spun for the whole drain, taking a CPU
# from the very threads it waited for: the multi-millisecond tail of the
# upgrade pause on two CPUs.)  The request is then answered, the drain
# completes, the upgrade is confirmed.
. "$(dirname "$0")/pt-lib.sh"
. "$(dirname "$0")/upgrade-lib.sh"
need_resend

# getxattr trusted.pthp.hold waits until $T/release exists (pt_hooks.h);
# the new server gets our environment from fuse-recover.
export PASSTHROUGH_HP_HOLD=$T/release
start_pt
CMD=("${PT[@]}" "${PT_ARGS[@]}" "$SRC" "$MNT")
echo data >"$MNT/f"
old=$(serving_pid "$PT_TAG")
[ -n "$old" ] || fail "no serving pid"

"$PTOPS" getxattr "$MNT/f" trusted.pthp.hold >"$T/holder.out" \
	2>"$T/holder.log" &
holder=$!
wait_until 10 test -e "$T/release.started" || fail "the request was not held"

# User + system time of a process, in clock ticks.
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
phase() { "$FRCMD" status "$PT_TAG" | awk '$1 == "upgrade_phase" { print $2 }'; }
draining() { [ "$(phase)" = draining ]; }

(upgrade "$PT_TAG" "${CMD[@]}"; echo $? >"$T/upgrade.rc") &
up=$!
wait_until 30 draining || fail "the drain did not start: phase $(phase)"
t0=$(cpu_ticks "$old")
sleep 2
t1=$(cpu_ticks "$old")
draining || fail "the drain ended while the request was held: phase $(phase)"
touch "$T/release"
wait_until 30 exited "$up" || fail "the upgrade hangs"
wait "$up" || true
[ "$(cat "$T/upgrade.rc")" = 0 ] ||
	fail "upgrade failed: $(cat "$T/upgrade.out" "$T/upgrade.err")"
wait_until 10 exited "$holder" || fail "the held getxattr hangs"
wait "$holder" && fail "the held getxattr succeeded (the hook answers ENODATA)"
grep -q "No data" "$T/holder.log" ||
	fail "the held getxattr failed otherwise: $(cat "$T/holder.log")"
[ "$(cat "$MNT/f")" = data ] || fail "the successor does not serve"

hz=$(getconf CLK_TCK)
ms=$(((t1 - t0) * 1000 / hz))
log "old server used $ms ms of CPU in the 2 s its drain waited"
# Spinning, it took a CPU of its own (2000 ms), or its share of one on a
# loaded machine; sleeping, a wakeup every 20 ms.
[ "$ms" -le 100 ] || fail "the drainer spun: $ms ms of CPU in 2 s"
