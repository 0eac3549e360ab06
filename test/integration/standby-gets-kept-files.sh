# SPDX-License-Identifier: LGPL-2.1-or-later
# A file the server keeps (an open file unlinked) while a standby waits
# reaches that standby when it takes over:
#  1. a hot standby (--standby 1) that was ready before the unlink is not
#     replaced for it: it takes the next SIGKILL itself;
#  2. the new server of a live upgrade, held in its init after it fetched
#     the kept fds, while the old server unlinks an open file.
# Each time the application reads the whole file back after the takeover,
# and once it closes the file the supervisor lets it go: the server that
# took over knew the file was kept (else the supervisor would hold it for
# ever, or the file would reach only the next restart).
. "$(dirname "$0")/standby-lib.sh" pt

# hold NAME: $MNT/NAME with random data, held open; unlinked once
# $T/NAME.unlink exists, compared and closed once $T/NAME.go exists.
hold() {
	head -c 200000 /dev/urandom >"$T/$1.data"
	cp "$T/$1.data" "$MNT/$1"
	(
		exec 6<"$MNT/$1"
		touch "$T/$1.open"
		while [ ! -e "$T/$1.unlink" ]; do sleep 0.02; done
		rm "$MNT/$1" || exit 1
		touch "$T/$1.gone"
		while [ ! -e "$T/$1.go" ]; do sleep 0.02; done
		cmp - "$T/$1.data" <&6 || { echo "$1 differs"; exit 1; }
		exec 6<&-
		echo OK >"$T/$1.ok"
	) >"$T/$1.log" 2>&1 &
	HOLDER=$!
	wait_until 10 test -e "$T/$1.open" || fail "holder of $1 did not start"
}

unlink_held() {
	touch "$T/$1.unlink"
	wait_until 10 test -e "$T/$1.gone" || fail "holder could not unlink $1: $(cat "$T/$1.log")"
}

held() { find /proc/"$(supervisor_pids "$TAG")"/fd -lname "*/$1 (deleted)" 2>/dev/null; }

# check_released NAME: the holder read NAME back; closed, it is let go.
check_released() {
	touch "$T/$1.go"
	wait_until 20 exited "$HOLDER" || fail "holder of $1 hangs: $(cat "$T/$1.log")"
	wait "$HOLDER" || fail "holder of $1: $(cat "$T/$1.log")"
	[ -e "$T/$1.ok" ] || fail "holder of $1: $(cat "$T/$1.log")"
	wait_until 5 test -z "$(held "$1")" ||
		fail "the supervisor still holds $1: the server that took over did not know it was kept"
}

start_standby_family 1
wait_ready 1
sb=$(standby_pids)
[ -n "$sb" ] && [ "$(echo "$sb" | wc -l)" = 1 ] || fail "standbys: '$sb'"

# 1. A hot standby.
hold one
unlink_held one
wait_until 5 test -n "$(held one)" || fail "the supervisor does not keep one"
kill -KILL "$(serving_pid "$TAG")"
taken() { [ "$(hot_takeovers)" -ge 1 ] && serving; }
wait_until 10 taken || fail "no hot takeover: $(tail -5 "$RLOG")"
grep -q "takeover: hot standby pid $sb gets" "$RLOG" ||
	fail "the standby ready before the unlink (pid $sb) did not take over: $(grep -E 'takeover|replaced' "$RLOG")"
grep -q "standby: pid $sb replaced" "$RLOG" &&
	fail "the standby was replaced for a kept file"
check_released one

# 2. A live upgrade whose new server waits in its init.
wait_ready 2
hold two
(
	export PASSTHROUGH_HP_INIT_WAIT=$T/initwait
	upgrade "$TAG" "${CMD[@]}"
) &
upg=$!
wait_until 20 test -e "$T/initwait.started" ||
	fail "the new server never reached its init: $(tail -5 "$RLOG")"
unlink_held two
wait_until 5 test -n "$(held two)" || fail "the supervisor does not keep two"
touch "$T/initwait"
wait_until 60 exited "$upg" || fail "upgrade hangs: $(tail -5 "$RLOG")"
wait "$upg" || fail "upgrade: $(cat "$T/upgrade.out" "$T/upgrade.err")"
new=$(json_field pid <"$T/upgrade.out")
[ "$(serving_pid "$TAG")" = "$new" ] || fail "pid $new does not serve"
check_released two

stop_standby_family
log "kept while a standby waited: reached the hot standby and the upgrade's new server, let go at close"
