# SPDX-License-Identifier: LGPL-2.1-or-later
# A drain wakes loop threads blocked in read() on /dev/fuse without
# consuming a request: with only the root known by the signal, once a
# regular file is cached by a FUSE_NOTIFY_REPLY kick the read hook
# swallows, once that file is gone by a GETATTR of the root.  passthrough_hp_test carries test/kick_guard.c: a kick that
# reaches libfuse aborts the server, and the test fails on its line.
# Then upgrades under a data-verifying load: every request answered, none
# resent, no server died.  The xl-* variants do the same for a server
# under the translation layer (ptrfs, with the same guard), whose targets
# are the regular files its entry replies and re-resolutions hand the
# kernel.
# Usage: upgrade-kick.sh [st|mt|mt-clone|xl-ptrfs-mt|xl-ptrfs-st]
case ${1:-mt} in
xl-*) XL_PTRFS=ptrfs-guarded; . "$(dirname "$0")/xl-lib.sh" "${1#xl-}" ;;
*) . "$(dirname "$0")/pt-lib.sh" ;;
esac
. "$(dirname "$0")/upgrade-lib.sh"
need_resend

case ${1:-mt} in
st) loop=(-s) ;;
mt) loop=() ;;
mt-clone) loop=(-o clone_fd) ;;
esac
if [ -n "${XL_VARIANT:-}" ]; then
	start_x
	CMD=("${XL_CMD[@]}")
	TAG=$XL_TAG
else
	start_pt "${loop[@]}"
	CMD=("${PT[@]}" "${PT_ARGS[@]}" "${loop[@]}" "$SRC" "$MNT")
	TAG=$PT_TAG
fi
old_log=$SERVER_LOG

# field NAME: a count of the old server's drain report, e.g.
# "drained in 0.040 ms: ... (kicks=2 swallowed=2 pokes=0)".
field() { sed -n "s/.*[( ]$1=\([0-9]*\).*/\1/p" <<<"$LINE"; }

no_guard_hits() {
	! grep -h "kick-guard:" "$T"/server.*.log "$T"/upgrade.*.log 2>/dev/null
}

# upgrade_idle WHAT: one upgrade of the idle server; the drain must have
# woken every thread blocked in read().
upgrade_idle() {
	# Idle: every loop thread back in read().
	sleep 0.3
	upgrade "$TAG" "${CMD[@]}" ||
		fail "$1: $(cat "$T/upgrade.out" "$T/upgrade.err") $(tail -n 5 "$old_log")"
	grep -q "upgrade: drained in" "$old_log" ||
		fail "$1: no drain reported: $(tail -n 5 "$old_log")"
	no_guard_hits || fail "$1: a kick reached libfuse"
	LINE=$(grep "upgrade: drained in" "$old_log" | tail -n 1)
	KICKS=$(field kicks)
	POKES=$(field pokes)
	log "$1: $LINE"
	old_log=$UPGRADE_LOG
}

# 1. Nothing but the root known (a directory: the kernel refuses to
#    retrieve from it): the signal wakes the reader.
upgrade_idle "root only"
[ "$KICKS" = 0 ] || fail "root only: $KICKS kicks written without a target"

# 2. A regular file cached, several loop threads (mt: a parallel burst
#    makes libfuse start workers) blocked in read(): woken by kicks.
echo data >"$MNT/f"
for i in 1 2 3 4 5 6 7 8; do
	(for j in 1 2 3 4 5 6 7 8 9 10; do cat "$MNT/f" >/dev/null; done) &
done
wait
upgrade_idle "file cached"
[ "${KICKS:-0}" -ge 1 ] || fail "file cached: the drain wrote no kick"
# The successor read the kicks its predecessor left queued (the guard
# would have aborted it); it still serves.
[ "$(cat "$MNT/f")" = data ] || fail "successor does not serve"
upgrade_idle "after the successor's first reads"
[ "${KICKS:-0}" -ge 1 ] || fail "successor: the drain wrote no kick"

# 3. That file removed (the kernel forgot it): no kick has a target, and
#    a GETATTR of the root wakes the threads blocked in read().
rm "$MNT/f"
upgrade_idle "no file left"
[ "${POKES:-0}" -ge 1 ] || fail "no file left: no GETATTR was sent"

# 4. Under load: nothing consumed, nothing leaked, no server died.
upgrade_under_load 10 "$TAG" "${CMD[@]}"
no_guard_hits || fail "a kick reached libfuse under load"
deaths=$("$FRCMD" status "$TAG" | awk '$1 == "deaths_in_window" { print $2 }')
[ "${deaths:-x}" = 0 ] || fail "${deaths:-unknown} server deaths during the upgrades"
log "drains by signal and by kick; no kick reached libfuse"
