# SPDX-License-Identifier: LGPL-2.1-or-later
# fuse-recoverd --standby 1 under a data-verifying load: the serving server
# is SIGKILLed N times, each time once a standby is ready.  Zero application
# errors, and every takeover went to a hot standby: N "takeover: hot
# standby" lines, and the supervisor started the server itself only once.
# Usage: standby-kills.sh pt|ptrfs-mt|ptrfs-clone [N]
. "$(dirname "$0")/standby-lib.sh" "${1:-pt}"
n=${2:-200}

start_standby_family 1
start_exerciser
for ((i = 1; i <= n; i++)); do
	wait_ready "$i"
	old=$(serving_pid "$TAG")
	[ -n "$old" ] && [ "$old" != 0 ] || fail "kill $i: nobody serves"
	kill -KILL "$old"
	taken() { [ "$(hot_takeovers)" -ge "$i" ] && serving; }
	wait_until 10 taken || fail "kill $i: no hot takeover: $(tail -5 "$RLOG")"
	kill -0 "$EXERCISER" 2>/dev/null ||
		fail "exerciser stopped: $(cat "$T/ex.log")"
done
stop_exerciser
[ "$(hot_takeovers)" = "$n" ] || fail "$(hot_takeovers) hot takeovers, not $n"
[ "$(launches)" = 1 ] || fail "$(launches) ordinary starts, not 1"
grep -q "standby: pid .* refused" "$RLOG" && fail "a standby was refused"
log "$(grep -c "standby: pid .* replaced" "$RLOG" || true) standbys replaced (kept fds changed)"
stop_standby_family
log "$n kills with --standby 1: zero errors, every takeover to a hot standby"
