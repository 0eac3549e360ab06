# SPDX-License-Identifier: LGPL-2.1-or-later
# fuse-recover list/status --json against what is really there: the
# server's pid, its restarts, the requests waiting in the kernel while the
# server is stopped (fusectl, mounted only in this test's private mount
# namespace; "unknown" -> null without it), then stop (clean unmount) and
# abort (ENOTCONN at once).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/upgrade-lib.sh"

field() { "$FRCMD" --json status "$1" | json_field "$2"; }
expect() { [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"; }

start_server "$TESTFS" -f -o tag=st,recover_restarts=100 "$MNT"
mnt=$(realpath "$MNT")
expect server_pid "$(field st server_pid)" "$SERVER_PID"
expect path "$(field st path)" supervisor
expect mountpoint "$(field st mountpoint)" "$mnt"
expect state "$(field st state)" serving
expect restarts "$(field st restarts)" 0
expect tag "$(field st tag)" st
up=$(field st uptime_sec)
awk -v u="$up" 'BEGIN { exit !(u >= 0 && u < 60) }' || fail "uptime $up"
# Without fusectl the count is unknown (null); the host may have it mounted.
grep -q " /sys/fs/fuse/connections " /proc/self/mounts ||
	expect waiting "$(field st waiting)" null

kill_server
start_server "$TESTFS" -f -o tag=st,recover_restarts=100 "$MNT"
expect "server_pid after a kill" "$(field st server_pid)" "$SERVER_PID"
expect "restarts after a kill" "$(field st restarts)" 1
expect deaths_in_window "$(field st deaths_in_window)" 1

# Requests waiting in the kernel while the server is stopped.
grep -q " /sys/fs/fuse/connections " /proc/self/mounts ||
	mount -t fusectl fusectl /sys/fs/fuse/connections
# Three OPENs of a file whose dentry is cached run in parallel (lookups
# of one name would wait for each other in the VFS, not in FUSE).
cat "$MNT/hello" >/dev/null
stop_process "$SERVER_PID" || fail "server did not stop"
pids=()
for i in 1 2 3; do
	cat "$MNT/hello" >/dev/null 2>&1 &
	pids+=($!)
done
waiting_at_least() { [ "$(field st waiting)" -ge "$1" ]; }
wait_until 10 waiting_at_least 3 || fail "waiting: $(field st waiting), want >= 3"
kill -CONT "$SERVER_PID"
for p in "${pids[@]}"; do
	wait_until 10 exited "$p" || fail "stat hangs after SIGCONT"
done
wait_until 5 waiting_at_least 0 || true
expect "waiting after SIGCONT" "$(field st waiting)" 0

# list: the tag, with the same values.
"$FRCMD" --json list >"$T/list.json"
python3 - "$T/list.json" "$SERVER_PID" "$mnt" <<'PY' || fail "list: $(cat "$T/list.json")"
import json, sys
l = json.load(open(sys.argv[1]))
e = [x for x in l if x["tag"] == "st"]
assert len(e) == 1, l
assert e[0]["server_pid"] == int(sys.argv[2]), e
assert e[0]["mountpoint"] == sys.argv[3], e
assert e[0]["restarts"] == 1, e
PY

# stop: a clean unmount; the supervisor leaves.
"$FRCMD" stop st >"$T/stop.out" 2>&1 || fail "stop: $(cat "$T/stop.out")"
is_mounted "$MNT" && fail "still mounted after stop"
wait_until 10 exited "$SERVER_PID" || fail "server still runs after stop"
no_supervisor st || fail "supervisor still runs after stop"

# abort: everything fails with ENOTCONN now, the mount stays until unmounted.
start_server "$TESTFS" -f -o tag=ab "$MNT"
"$FRCMD" abort ab >"$T/abort.out" 2>&1 || fail "abort: $(cat "$T/abort.out")"
wait "$SERVER_PID" 2>/dev/null || true
err=$(stat "$MNT/hello" 2>&1 || true)
case $err in
*"not connected"*) ;;
*) fail "after abort: $err" ;;
esac
umount -l "$MNT"
"$FRCMD" status ab >/dev/null 2>&1 && fail "status of an aborted tag"
log "list/status --json match the server, its restarts and the waiting requests; stop and abort work"
