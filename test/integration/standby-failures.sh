# SPDX-License-Identifier: LGPL-2.1-or-later
# What can go wrong around a hot standby, under a data-verifying load:
#  - a standby is SIGKILLed: the server serves on (same pid, no death
#    logged), and a new standby is started and gets ready;
#  - the serving server and the standby are SIGKILLed together: the
#    ordinary restart path (the supervisor starts the server), zero errors,
#    and a standby again afterwards;
#  - (pt) a standby that cannot use the state store (another state version)
#    is refused at once, logged, while the server serves on; once standbys
#    are compatible again one gets ready and takes the next crash.
# Usage: standby-failures.sh pt|ptrfs-mt|ptrfs-clone
. "$(dirname "$0")/standby-lib.sh" "${1:-pt}"

if [ "$fam" = pt ]; then
	# The wrapper execs the server (the supervisor's direct child).
	cat >"$T/server.sh" <<-EOS
	#!/bin/sh
	[ -e "$T/bad" ] && export PASSTHROUGH_HP_STATE_VERSION=7
	exec "\$@"
	EOS
	chmod +x "$T/server.sh"
	PT=("$T/server.sh" "$PT")
	PT_WRAPPED=1
fi
start_standby_family 1
start_exerciser
ready=1

# The one standby there is now (not the server), once ready.
standby_pid() {
	grep -o "standby: pid [0-9]* ready (INIT" "$RLOG" | tail -1 | awk '{ print $3 }'
}

# 1. A standby dies: nothing visible.
server=$(serving_pid "$TAG")
for i in 1 2 3; do
	wait_ready "$ready"
	sb=$(standby_pid)
	kill -KILL "$sb"
	ready=$((ready + 1))
	wait_ready "$ready"
	[ "$(serving_pid "$TAG")" = "$server" ] || fail "the server changed"
done
grep -q "death:" "$RLOG" && fail "a standby's death counted as the server's"
[ "$(grep -c "standby: pid .* exited while ready" "$RLOG")" = 3 ] ||
	fail "standby deaths not logged"

# 2. Server and standby die together: an ordinary restart.  The
# supervisor is stopped meanwhile, so that it sees both deaths at once
# (otherwise it may start and use another standby in between, rightly).
# A zombie leader may still have threads exiting (its pidfd fires only
# once they are gone): wait for the last one too.
zombie() {
	[ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = Z ] &&
		[ "$(awk '$1 == "Threads:" { print $2 }' "/proc/$1/status" 2>/dev/null)" = 1 ]
}
for i in 1 2 3; do
	sb=$(standby_pid)
	old=$(serving_pid "$TAG")
	kill -STOP "$SUP"
	kill -KILL "$sb" "$old"
	wait_until 10 zombie "$sb" && wait_until 10 zombie "$old" ||
		{ kill -CONT "$SUP"; fail "killed processes did not exit"; }
	kill -CONT "$SUP"
	restarted() { [ "$(launches)" -ge $((1 + i)) ] && serving &&
		[ "$(serving_pid "$TAG")" != "$old" ]; }
	wait_until 10 restarted || fail "no ordinary restart $i: $(tail -5 "$RLOG")"
	ready=$((ready + 1))
	wait_ready "$ready"
	kill -0 "$EXERCISER" 2>/dev/null || fail "exerciser stopped: $(cat "$T/ex.log")"
done
[ "$(hot_takeovers)" = 0 ] || fail "a dead standby took over"

# 3. An incompatible standby is refused at once.
if [ -n "${PT_WRAPPED:-}" ]; then
	server=$(serving_pid "$TAG")
	touch "$T/bad"
	kill -KILL "$(standby_pid)"
	refused() { grep -q "standby: pid .* refused: " "$RLOG"; }
	wait_until 10 refused || fail "incompatible standby not refused: $(tail -5 "$RLOG")"
	[ "$(serving_pid "$TAG")" = "$server" ] || fail "the server changed"
	rm "$T/bad"
	ready=$((ready + 1))
	wait_ready "$ready"
	kill -KILL "$server"
	taken() { [ "$(hot_takeovers)" = 1 ] && serving; }
	wait_until 10 taken || fail "no hot takeover after the refusal"
fi
stop_exerciser
stop_standby_family
log "standby deaths invisible; server + standby deaths restarted normally; zero errors"
