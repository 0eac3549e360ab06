# SPDX-License-Identifier: LGPL-2.1-or-later
# What a server fuse-recoverd starts finds in its environment (it builds it
# before a vfork(), supervisor/launch.c): FUSE_RECOVER_FD once, naming
# its own socket, not the one the supervisor's environment had;
# FUSE_RECOVER_UPGRADE never; FUSE_RECOVER_STANDBY=1 once in a hot standby
# and not in the server; everything else as the supervisor had it.  A
# SERVER that cannot be run is logged with the reason.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/upgrade-lib.sh"

env_of() { tr '\0' '\n' <"/proc/$1/environ"; }
count() { env_of "$1" | grep -c "^$2=" || true; }

FUSE_RECOVER_FD=99 FUSE_RECOVER_UPGRADE=1 LAUNCH_ENV_MARK=kept \
	"$FUSE_RECOVERD" --tag le --standby 1 -- "$TESTFS" -f -o tag=le "$MNT" \
	2>"$T/supervisor.log" &
sup=$!
wait_until 10 is_mounted "$MNT" || fail "not mounted"
two() { [ "$(pgrep -f "^$TESTFS -f -o tag=le" | wc -l)" = 2 ]; }
wait_until 10 two || fail "no standby started: $(tail -3 "$RLOG" 2>/dev/null)"
standbys=0
for pid in $(pgrep -f "^$TESTFS -f -o tag=le"); do
	[ "$(count "$pid" FUSE_RECOVER_FD)" = 1 ] ||
		fail "pid $pid: FUSE_RECOVER_FD $(count "$pid" FUSE_RECOVER_FD) times"
	fd=$(env_of "$pid" | sed -n 's/^FUSE_RECOVER_FD=//p')
	[ "$fd" != 99 ] || fail "pid $pid: got the supervisor's FUSE_RECOVER_FD"
	[ "$(count "$pid" FUSE_RECOVER_UPGRADE)" = 0 ] ||
		fail "pid $pid: FUSE_RECOVER_UPGRADE passed on"
	[ "$(env_of "$pid" | grep -c '^LAUNCH_ENV_MARK=kept$')" = 1 ] ||
		fail "pid $pid: the supervisor's environment was not passed on"
	case $(count "$pid" FUSE_RECOVER_STANDBY) in
	0) ;;
	1) env_of "$pid" | grep -qx "FUSE_RECOVER_STANDBY=1" ||
		   fail "pid $pid: FUSE_RECOVER_STANDBY not 1"
	   standbys=$((standbys + 1)) ;;
	*) fail "pid $pid: FUSE_RECOVER_STANDBY more than once" ;;
	esac
done
[ $standbys = 1 ] || fail "$standbys processes with FUSE_RECOVER_STANDBY, want 1"
umount "$MNT"
wait_until 10 exited $sup || fail "supervisor survived umount"
log "server and standby got the environment they should"

# A live upgrade's successor (supervisor/upgrade.c): the environment of
# fuse-recover upgrade, FUSE_RECOVER_FD its own, FUSE_RECOVER_UPGRADE=1
# once, its working directory, a session of its own with stdin from
# /dev/null; a restart after
# the upgrade gets that environment without FUSE_RECOVER_UPGRADE.
# (the supervisor's stdin a file, so that an inherited one would show)
: >"$T/stdin"
"$FUSE_RECOVERD" --tag lu -- "$TESTFS" -f -o tag=lu "$MNT" \
	<"$T/stdin" 2>"$T/supervisor-lu.log" &
sup=$!
wait_until 10 is_mounted "$MNT" || fail "not mounted (upgrade)"
old=$(serving_pid lu)
[ -n "$old" ] || fail "no serving pid"
mkdir "$T/cwd"
(cd "$T/cwd" && FUSE_RECOVER_FD=98 FUSE_RECOVER_UPGRADE=0 LAUNCH_ENV_MARK=tool \
	upgrade lu "$TESTFS" -f -o tag=lu,slow_ms=1 "$MNT") ||
	fail "upgrade: $(cat "$T/upgrade.out" "$T/upgrade.err")"
new=$(json_field pid <"$T/upgrade.out")
[ -n "$new" ] && [ -e "/proc/$new" ] || fail "no successor pid ($new)"
[ "$(count "$new" FUSE_RECOVER_FD)" = 1 ] ||
	fail "successor: FUSE_RECOVER_FD $(count "$new" FUSE_RECOVER_FD) times"
env_of "$new" | grep -qx "FUSE_RECOVER_FD=98" && fail "successor got the tool's FUSE_RECOVER_FD"
[ "$(env_of "$new" | grep -c '^FUSE_RECOVER_UPGRADE=')" = 1 ] &&
	env_of "$new" | grep -qx "FUSE_RECOVER_UPGRADE=1" ||
	fail "successor: FUSE_RECOVER_UPGRADE not once and 1"
env_of "$new" | grep -qx "LAUNCH_ENV_MARK=tool" ||
	fail "successor: the tool's environment was not passed on"
[ "$(readlink "/proc/$new/cwd")" = "$T/cwd" ] ||
	fail "successor: cwd $(readlink "/proc/$new/cwd"), want $T/cwd"
[ "$(ps -o sid= -p "$new" | tr -d ' ')" = "$new" ] ||
	fail "successor: not in a session of its own"
[ "$(readlink "/proc/$new/fd/0")" = /dev/null ] ||
	fail "successor: stdin is $(readlink "/proc/$new/fd/0"), not /dev/null"
wait_until 10 exited "$old" || fail "old server $old still runs"
kill -KILL "$new"
relaunched() { p=$(serving_pid lu); [ "${p:-0}" -gt 0 ] && [ "$p" != "$new" ]; }
wait_until 10 relaunched || fail "no restart after the upgrade"
[ "$(count "$p" FUSE_RECOVER_UPGRADE)" = 0 ] ||
	fail "restart after the upgrade: FUSE_RECOVER_UPGRADE passed on"
env_of "$p" | grep -qx "LAUNCH_ENV_MARK=tool" ||
	fail "restart after the upgrade: not the upgrade's environment"
umount "$MNT"
wait_until 10 exited $sup || fail "supervisor survived umount (upgrade)"
log "a successor and the restart after it got the environment they should"

timeout 20 "$FUSE_RECOVERD" --tag nx --max-restarts 0 -- "$T/missing" \
	2>"$T/nx.log" || true
grep -q "cannot run $T/missing: No such file or directory" "$T/nx.log" ||
	fail "no reason logged for a SERVER that cannot run: $(tail -3 "$T/nx.log")"
log "a SERVER that cannot run is logged"
