# SPDX-License-Identifier: LGPL-2.1-or-later
# Many SIGKILL/restart cycles under a read + stat workload: the workload
# must see zero errors.  Usage: kill-restart-cycles.sh [CYCLES] [st|mt|mt-clone]
. "$(dirname "$0")/lib.sh"
need_resend

cycles=${1:-200}
case ${2:-mt} in
st) loop=(-s) ;;
mt) loop=() ;;
mt-clone) loop=(-o clone_fd) ;;
esac
args=(-f "${loop[@]}" -o tag=krc,recover_restarts=100000 "$MNT")

start_server "$TESTFS" "${args[@]}"
"$BUILD/test/workload" "$MNT" "$T/stop" 3 >"$T/workload.out" 2>"$T/workload.log" &
wl=$!
for ((i = 1; i <= cycles; i++)); do
	sleep "0.0$((RANDOM % 3))"
	kill_server
	start_server "$TESTFS" "${args[@]}"
	rm -f "$T"/server.$((NSERVERS - 1)).log
done
touch "$T/stop"
wait_until 20 exited $wl || fail "workload hangs"
wait "$wl" || fail "workload saw errors: $(cat "$T/workload.out")"
cat "$T/workload.out"
rounds=$(awk '{ print $2 }' "$T/workload.out")
[ "$rounds" -gt "$cycles" ] || fail "workload made too little progress"
log "$cycles kill/restart cycles, zero errors"
