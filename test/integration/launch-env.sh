# SPDX-License-Identifier: LGPL-2.1-or-later
# What a server fuse-recoverd starts finds in its environment (it builds it
# before a vfork(), supervisor/standby.c): FUSE_RECOVER_FD once, naming
# its own socket, not the one the supervisor's environment had;
# FUSE_RECOVER_UPGRADE never; FUSE_RECOVER_STANDBY=1 once in a hot standby
# and not in the server; everything else as the supervisor had it.  A
# SERVER that cannot be run is logged with the reason.
. "$(dirname "$0")/lib.sh"

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

timeout 20 "$FUSE_RECOVERD" --tag nx --max-restarts 0 -- "$T/missing" \
	2>"$T/nx.log" || true
grep -q "cannot run $T/missing: No such file or directory" "$T/nx.log" ||
	fail "no reason logged for a SERVER that cannot run: $(tail -3 "$T/nx.log")"
log "a SERVER that cannot run is logged"
