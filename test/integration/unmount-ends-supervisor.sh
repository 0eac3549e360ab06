# SPDX-License-Identifier: LGPL-2.1-or-later
# Unmounting ends the supervisor and removes its files, whether the server
# is running, dead, or unmounts itself (SIGTERM).
. "$(dirname "$0")/lib.sh"

gone() {
	[ -z "$(supervisor_pids "$1")" ] &&
		[ ! -e "$FUSE_RECOVER_RUNTIME_DIR/$1.sock" ] &&
		[ ! -e "$FUSE_RECOVER_RUNTIME_DIR/$1.lock" ]
}

start_server "$TESTFS" -f -o tag=u1 "$MNT"
[ -n "$(supervisor_pids u1)" ] || fail "no supervisor"
umount "$MNT"
wait_until 5 gone u1 || fail "supervisor survived umount"
wait_until 5 exited $SERVER_PID || fail "server survived umount"

start_server "$TESTFS" -f -o tag=u2 "$MNT"
kill_server
umount -l "$MNT"
wait_until 5 gone u2 || fail "supervisor survived umount of a dead server's mount"

start_server "$TESTFS" -f -o tag=u3 "$MNT"
kill_server
start_server "$TESTFS" -f -o tag=u3 "$MNT"
kill -TERM "$SERVER_PID"
wait_until 5 gone u3 || fail "supervisor survived the server's clean exit"
is_mounted "$MNT" && fail "recovered server did not unmount on SIGTERM"
log "unmount ends the supervisor"
