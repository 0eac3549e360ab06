# SPDX-License-Identifier: LGPL-2.1-or-later
# passthrough_hp as an unprivileged user (uid 65534, mounting through
# fusermount3).  With no capability at all it refuses to start, saying why
# (nodes are reopened by file handle, which needs CAP_DAC_READ_SEARCH),
# and mounts nothing.  With only CAP_DAC_READ_SEARCH it runs without
# kernel passthrough (no CAP_SYS_ADMIN for backing files), logs that once,
# serves reads and writes itself, and survives SIGKILL: a file open before
# the kill keeps reading and writing after the restart.
. "$(dirname "$0")/lib.sh"
need_resend
command -v setpriv >/dev/null || skip "no setpriv"
fm=$(command -v fusermount3) || skip "no fusermount3"
[ -u "$fm" ] || skip "fusermount3 is not setuid"
PT=$BUILD/test/passthrough_hp_test
PTOPS=$BUILD/test/pt_ops

U=65534
fuse_dev_for $U
home=$T/user
mkdir -p "$home/mnt" "$home/src"
mount -t tmpfs -o mode=755 pt-src "$home/src"
chown -R $U:$U "$home"
# as_user [CAPS] CMD...: CMD as uid $U, with the ambient capabilities CAPS
# ("+dac_read_search") when the first argument starts with "+".
as_user() {
	local caps=()
	if [ "${1#+}" != "$1" ]; then
		caps=(--inh-caps="$1" --ambient-caps="$1")
		shift
	fi
	setpriv --reuid=$U --regid=$U --clear-groups "${caps[@]}" \
		env FUSE_RECOVER_RUNTIME_DIR="$home/run" FUSE_RECOVERD="$FUSE_RECOVERD" \
		FUSE_RECOVERD_LOG="$home/recoverd.log" "$@"
}
args=(-f -o tag=unpriv "$home/src" "$home/mnt")

# No capability: refused at start, with the reason, nothing mounted.
as_user "$PT" "${args[@]}" 2>"$T/refused.log" &
refused=$!
wait_until 10 exited $refused || fail "server without CAP_DAC_READ_SEARCH did not exit"
! wait $refused || fail "server without CAP_DAC_READ_SEARCH exited with 0"
grep -q "cannot open .* by file handle.*CAP_DAC_READ_SEARCH" "$T/refused.log" ||
	fail "no reason given: $(cat "$T/refused.log")"
! is_mounted "$home/mnt" || fail "refusing server left a mount"

# CAP_DAC_READ_SEARCH only: no passthrough, said once; data path served.
as_user +dac_read_search setpriv -d | grep -q "^Ambient capabilities: dac_read_search" ||
	skip "setpriv cannot pass an ambient capability here"
start_server as_user +dac_read_search "$PT" "${args[@]}"
grep -q "passthrough off: the server lacks CAP_SYS_ADMIN" "$SERVER_LOG" ||
	fail "no log line for the fallback: $(cat "$SERVER_LOG")"
as_user mkdir "$home/mnt/d"
as_user sh -c "head -c 65536 /dev/urandom >'$home/mnt/d/f'"
as_user cmp -s "$home/mnt/d/f" "$home/src/d/f" || fail "data differ"

# A reader/writer holding the file across a SIGKILL and the restart.
as_user mkfifo "$home/go"
as_user sh -c "exec 3<>'$home/mnt/d/f'; : >'$home/ready'; read x <'$home/go'
	head -c 4096 <&3 >'$home/after' && printf restarted >&3" \
	2>"$T/holder.log" &
holder=$!
wait_until 10 test -e "$home/ready" || fail "holder did not open the file: $(cat "$T/holder.log")"
# as_user runs the server as a child of setpriv's shell: kill the server.
srv=$(pgrep -f -- "passthrough_hp_test -f -o tag=unpriv") || fail "no server"
kill -KILL $srv
wait_until 5 exited $srv || fail "server survived SIGKILL"
start_server as_user +dac_read_search "$PT" "${args[@]}"
grep -q "recovered the mount" "$SERVER_LOG" || fail "no recovery: $(cat "$SERVER_LOG")"
timeout 10 sh -c 'echo go >"$1"' _ "$home/go" || fail "holder gone before the restart"
wait_until 10 exited $holder || fail "holder hangs after the restart"
wait $holder || fail "holder: $(cat "$T/holder.log")"
head -c 4096 "$home/src/d/f" | cmp -s - "$home/after" ||
	fail "read after the restart differs from the backing file"
[ "$(dd if="$home/src/d/f" bs=1 skip=4096 count=9 status=none)" = restarted ] ||
	fail "write after the restart did not reach the backing file"
as_user fusermount3 -u "$home/mnt"
wait_until 5 no_supervisor unpriv || fail "supervisor survived fusermount3 -u"
log "unprivileged: refused without CAP_DAC_READ_SEARCH; with it, no passthrough (logged) and recovery works"
