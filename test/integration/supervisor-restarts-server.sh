# SPDX-License-Identifier: LGPL-2.1-or-later
# fuse-recoverd -- SERVER: the supervisor starts the server and restarts it
# whenever it dies; readers see no error.  Ends with the mount.
. "$(dirname "$0")/lib.sh"

"$FUSE_RECOVERD" --tag sr -- "$TESTFS" -f -o tag=sr "$MNT" 2>"$T/supervisor.log" &
sup=$!
wait_until 10 is_mounted "$MNT" || fail "not mounted"
"$BUILD/test/workload" "$MNT" "$T/stop" 2 >"$T/workload.out" 2>"$T/workload.log" &
wl=$!
restarted() { pgrep -f "^$TESTFS -f -o tag=sr" | grep -vqx "$1"; }
for i in 1 2 3 4 5 6 7 8 9 10; do
	sleep 0.1
	old=$(pgrep -f "^$TESTFS -f -o tag=sr") || fail "no server running"
	kill -KILL $old
	wait_until 10 restarted "$old" || fail "server not restarted"
done
touch "$T/stop"
wait "$wl" || fail "workload saw errors: $(cat "$T/workload.out" "$T/workload.log")"
cat "$T/workload.out"
umount "$MNT"
wait_until 10 exited $sup || fail "supervisor survived umount"
wait "$sup" || fail "supervisor exit status $?"
log "supervisor restarted the server 10 times"
