# SPDX-License-Identifier: LGPL-2.1-or-later
# A server run as an unprivileged user (mounting through fusermount3)
# recovers too, and its fusermount3 -u ends the supervisor.
. "$(dirname "$0")/lib.sh"
need_resend
command -v setpriv >/dev/null || skip "no setpriv"
fm=$(command -v fusermount3) || skip "no fusermount3"
[ -u "$fm" ] || skip "fusermount3 is not setuid"

U=65534
fuse_dev_for $U
home=$T/user
mkdir -p "$home/mnt" "$home/marks"
chown -R $U:$U "$home"
as_user() {
	setpriv --reuid=$U --regid=$U --clear-groups \
		env FUSE_RECOVER_RUNTIME_DIR="$home/run" FUSE_RECOVERD="$FUSE_RECOVERD" \
		FUSE_RECOVERD_LOG="$home/recoverd.log" "$@"
}
args=(-f -o tag=up,slow_ms=500,mark_dir="$home/marks" "$home/mnt")

start_server as_user "$TESTFS" "${args[@]}"
as_user cat "$home/mnt/slow" >"$T/out" 2>"$T/cat.err" &
reader=$!
wait_until 5 compgen -G "$home/marks/slow.*" >/dev/null || fail "read never reached the server"
pkill -KILL -f "testfs -f -o tag=up" || fail "no server"
# pkill does not wait: a restart before the death is refused (tag held).
wait_until 5 exited "$SERVER_PID" || fail "server survived SIGKILL"
start_server as_user "$TESTFS" "${args[@]}"
wait_until 10 exited $reader || fail "reader blocked"
wait "$reader" || fail "reader failed: $(cat "$T/cat.err")"
[ "$(cat "$T/out")" = "Hello World!" ] || fail "reader got: $(cat "$T/out")"
[ "$(stat -c %u "$home/run")" = $U ] || fail "runtime dir not the user's"
as_user fusermount3 -u "$home/mnt"
wait_until 5 no_supervisor up ||
	fail "supervisor survived fusermount3 -u"
log "unprivileged server recovered"
