# SPDX-License-Identifier: LGPL-2.1-or-later
# An incompatible new server is refused in standby, before anything is
# drained: other INIT capabilities (ptrfs with the writeback cache) or a
# state store layout the new version cannot read (passthrough_hp with
# another state version).  fuse-recover fails naming the reason, the old
# server serves on without a pause, and the application sees no error.
# Usage: upgrade-refused.sh xl|pt
kind=${1:-xl}
shift || true
if [ "$kind" = xl ]; then
	. "$(dirname "$0")/xl-lib.sh" ptrfs-mt
	start_x
	cmd=("${XL_CMD[@]}")
	bad=("$PTRFS" -f -o "$XL_OPTS,writeback" -o "source=$SRC" "$MNT")
	tag=$XL_TAG
	want="capabilities differ"
else
	. "$(dirname "$0")/pt-lib.sh"
	start_pt
	cmd=("${PT[@]}" "${PT_ARGS[@]}" "$SRC" "$MNT")
	bad=(env PASSTHROUGH_HP_STATE_VERSION=7 "${cmd[@]}")
	tag=$PT_TAG
	want="written by server version 1"
fi
. "$(dirname "$0")/upgrade-lib.sh"
need_resend

start_exerciser
old=$(serving_pid "$tag")
for i in 1 2 3; do
	rc=0
	upgrade "$tag" "${bad[@]}" || rc=$?
	[ "$rc" != 0 ] || fail "incompatible upgrade $i was confirmed"
	grep -q '"ok": false' "$T/upgrade.out" || fail "no outcome: $(cat "$T/upgrade.out")"
	grep -q "refused in standby" "$T/upgrade.out" ||
		fail "not refused in standby: $(cat "$T/upgrade.out")"
	grep -q "$want" "$T/upgrade.out" "$UPGRADE_LOG" ||
		fail "reason not named: $(cat "$T/upgrade.out" "$UPGRADE_LOG")"
	[ "$(serving_pid "$tag")" = "$old" ] || fail "pid $old does not serve any more"
done
grep -q "upgrade: drain" "$T/recoverd.log" && fail "the old server was drained"
grep -q "upgrade: drained\|upgrade: retired" "$T"/server.1.log &&
	fail "the old server noticed"
# A compatible one afterwards goes through.
upgrade "$tag" "${cmd[@]}" || fail "compatible upgrade: $(cat "$T/upgrade.out")"
stop_exerciser
log "3 incompatible upgrades refused in standby; the old server never noticed"
