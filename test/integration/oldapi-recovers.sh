# SPDX-License-Identifier: LGPL-2.1-or-later
# A libfuse 3.14-era server at its own FUSE_USE_VERSION (34 or 35), changed
# only by the three documented calls and using the old public
# struct fuse_loop_config, builds against fuse_recover.h and recovers.
# Usage: oldapi-recovers.sh 34|35 [st|mt|mt-clone]
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run-lib.sh"
need_resend
make_data

SERVER=$BUILD/test/oldapi_ll_${1:?API level}
case ${2:-mt} in
st) loop=(-s) ;;
mt) loop=() ;;
mt-clone) loop=(-o clone_fd) ;;
esac
args=(-f "${loop[@]}" -o tag=old$1 "$MNT")

start_server "$SERVER" "${args[@]}"
grep -q "oldapi_ll $1: serving" "$SERVER_LOG" || fail "wrong server"
check_reads "before the kill"
for round in 1 2 3; do
	kill_server
	start_readers
	start_server "$SERVER" "${args[@]}"
	grep -q "recovered the mount" "$SERVER_LOG" ||
		fail "restart did not take over: $(cat "$SERVER_LOG")"
	check_readers
	check_reads "after restart $round"
done
umount "$MNT"
wait_until 10 exited "$SERVER_PID" || fail "server survived umount"
wait_until 10 no_supervisor old$1 || fail "supervisor survived umount"
log "FUSE_USE_VERSION $1 server recovered 3 times"
