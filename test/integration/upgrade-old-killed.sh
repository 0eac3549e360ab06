# SPDX-License-Identifier: LGPL-2.1-or-later
# The old server dies while it is being drained: the upgrade becomes a
# crash restart into the standby (resend of what the dead one had read).
# The old server is stopped (SIGSTOP) under load so that the drain cannot
# finish, then SIGKILLed once the supervisor has asked it to drain.  The
# application sees no error; fuse-recover reports the new server serving.
# Usage: upgrade-old-killed.sh pt|ptrfs-mt|...
. "$(dirname "$0")/upgrade-family.sh" "${1:-pt}"

start_family "$fam"
start_exerciser
sleep 0.3
old=$(serving_pid "$TAG")
kill -STOP "$old"
upgrade_bg "$TAG" "${CMD[@]}"
wait_until 30 grep -q "upgrade: drain:" "$T/recoverd.log" || fail "no drain asked"
sleep 0.2
kill -KILL "$old"
wait "$SERVER_PID" 2>/dev/null || true
upgrade_wait
[ "$UPGRADE_RC" = 0 ] || fail "upgrade: $(cat "$T/upgrade.out" "$T/upgrade.err")"
grep -q "as a restart" "$T/upgrade.out" || fail "not a restart: $(cat "$T/upgrade.out")"
new=$(json_field pid <"$T/upgrade.out")
[ "$(serving_pid "$TAG")" = "$new" ] || fail "pid $new does not serve"
sleep 0.5
stop_exerciser
log "old server killed while draining: pid $new took over as a restart, zero errors"
