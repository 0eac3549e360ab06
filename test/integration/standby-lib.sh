# SPDX-License-Identifier: LGPL-2.1-or-later
# Helpers for the hot standby tests (standby-*.sh): a supervisor that
# starts the server with --standby, on top of pt-lib.sh or xl-lib.sh.
# Usage (sourced): standby-lib.sh pt|ptrfs-mt|ptrfs-clone|...
. "$(dirname "$0")/upgrade-family.sh" "${1:-pt}"

RLOG=$T/recoverd.log

# start_standby_family N: fuse-recoverd --standby N -- the family's server;
# returns once it serves.  TAG, CMD, SUP.
start_standby_family() {
	if [ "$fam" = pt ]; then
		TAG=$PT_TAG
		CMD=("${PT[@]}" "${PT_ARGS[@]}" "$SRC" "$MNT")
	else
		TAG=$XL_TAG
		CMD=("${XL_CMD[@]}")
	fi
	"$FUSE_RECOVERD" --tag "$TAG" --standby "$1" --max-restarts 1000000 \
		--window 1 -- "${CMD[@]}" 2>"$T/server.1.log" &
	SUP=$!
	wait_until 10 is_mounted "$MNT" || fail "not mounted"
}

launches() { grep -c "\]: started " "$RLOG" || true; }
# Pids of the standbys the supervisor has started and not seen go.
standby_pids() { pgrep -P "$SUP" | grep -vx "$(serving_pid "$TAG")" || true; }
serving() { [ "$("$FRCMD" status "$TAG" 2>/dev/null | awk '$1 == "state" { print $2 }')" = serving ]; }

# wait_ready N: N standbys ready so far (ready lines in the log), and one
# ready now (the supervisor's count: a standby replaced after its ready
# line, because the kept fds changed, leaves a ready line but no standby).
wait_ready() {
	ready_now() {
		[ "$("$FRCMD" status "$TAG" 2>/dev/null |
			awk '$1 == "standbys_ready" { print $2 }')" -ge 1 ] 2>/dev/null
	}
	ready_at_least() { [ "$(ready_count)" -ge "$1" ] && ready_now; }
	wait_until 20 ready_at_least "$1" ||
		fail "standby $1 never got ready: $(tail -5 "$RLOG")"
}

# stop_standby_family: unmount; the supervisor and its standbys end.
stop_standby_family() {
	umount "$MNT" || fail "umount failed"
	wait_until 10 exited "$SUP" || fail "supervisor survived umount"
	[ -z "$(pgrep -f -- "${CMD[0]}" || true)" ] ||
		fail "servers left: $(pgrep -af -- "${CMD[0]}")"
}
