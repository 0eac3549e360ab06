# SPDX-License-Identifier: LGPL-2.1-or-later
# -o clone_fd stays on with recovery: libfuse 3.17 and later drop it under
# custom io unless the io has a clone_fd hook, silently but for one log
# line, and recovery would then still "work", so only counting the server's
# /dev/fuse fds shows it.  Two reads in flight on two workers need two
# clone fds besides the session's own; after a SIGKILL both are resent
# (the supervisor held both clones) and answered by the next server.
. "$(dirname "$0")/lib.sh"
need_resend

args=(-f -o clone_fd,tag=cfd,slow_ms=1500,mark_dir="$T/marks" "$MNT")
start_server "$TESTFS" "${args[@]}"
fuse_fds() {
	local f n=0
	for f in /proc/"$1"/fd/*; do
		[ "$(readlink "$f" 2>/dev/null)" = /dev/fuse ] && n=$((n + 1))
	done
	echo $n
}
busy() { [ "$(fuse_fds "$SERVER_PID")" -ge 3 ]; }
readers=()
for i in 1 2; do
	# O_DIRECT: each read is a READ of its own, not a wait on the page
	# the first one is filling.
	dd if="$MNT/slow" iflag=direct bs=4096 count=1 status=none \
		>"$T/out.$i" 2>"$T/err.$i" &
	readers+=($!)
	# One at a time: the second must find the first worker busy.
	wait_until 5 compgen -G "$T/marks/slow.$SERVER_PID" >/dev/null ||
		fail "read $i never reached the server"
	rm -f "$T/marks/slow.$SERVER_PID"
done
wait_until 2 busy || fail "$(fuse_fds "$SERVER_PID") /dev/fuse fds in the server with two reads in flight: clone_fd is off"
grep -q "without -o clone_fd" "$SERVER_LOG" && fail "libfuse dropped clone_fd"
log "$(fuse_fds "$SERVER_PID") /dev/fuse fds in the server"
kill_server
start_server "$TESTFS" "${args[@]}"
for i in 1 2; do
	wait_until 10 exited "${readers[$((i - 1))]}" || fail "reader $i still blocked"
	wait "${readers[$((i - 1))]}" || fail "reader $i failed: $(cat "$T/err.$i")"
	[ "$(cat "$T/out.$i")" = "Hello World!" ] ||
		fail "reader $i got: $(cat "$T/out.$i")"
done
[ "$(grep -c "resent read" "$SERVER_LOG")" -ge 2 ] ||
	fail "new server did not see both reads resent"
grep -q "without -o clone_fd" "$SERVER_LOG" && fail "libfuse dropped clone_fd after the takeover"
log "clone_fd kept; both in-flight reads resent and answered"
