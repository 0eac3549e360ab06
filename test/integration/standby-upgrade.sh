# SPDX-License-Identifier: LGPL-2.1-or-later
# A live upgrade of a server that has a hot standby: the upgrade goes
# through (the standby takes no part), the standby of the old command
# line is replaced (at the confirmation, or before when the new server
# keeps its fds) and no new one starts before the upgrade is done; the
# next crash goes to the new standby.  Zero application errors.
# Usage: standby-upgrade.sh pt|ptrfs-mt
. "$(dirname "$0")/standby-lib.sh" "${1:-pt}"

start_standby_family 1
start_exerciser
wait_ready 1
upgrade "$TAG" "${CMD[@]}" || fail "upgrade: $(cat "$T/upgrade.out" "$T/upgrade.err")"
new=$(json_field pid <"$T/upgrade.out")
replaced() { grep -q "standby: pid .* replaced: " "$RLOG"; }
wait_until 10 replaced || fail "the old standby was not replaced: $(tail -5 "$RLOG")"
wait_ready 2
# The new standby started after the upgrade was done.
awk '/upgrade: done/ { d = 1 } /standby: started/ { s = d } END { exit !s }' "$RLOG" ||
	fail "a standby started during the upgrade"
[ "$(serving_pid "$TAG")" = "$new" ] || fail "pid $new does not serve"
kill -KILL "$new"
taken() { [ "$(hot_takeovers)" = 1 ] && serving; }
wait_until 10 taken || fail "no hot takeover after the upgrade: $(tail -5 "$RLOG")"
stop_exerciser
log "upgraded with a standby; the standby was replaced and took the next crash"
