# SPDX-License-Identifier: LGPL-2.1-or-later
# Requests made while no server runs wait, and are served after the restart.
# Usage: requests-while-down.sh [st|mt|mt-clone]
. "$(dirname "$0")/lib.sh"

case ${1:-st} in
st) loop=(-s) ;;
mt) loop=() ;;
mt-clone) loop=(-o clone_fd) ;;
esac
args=(-f "${loop[@]}" -o tag=rwd "$MNT")

start_server "$TESTFS" "${args[@]}"
kill_server
pids=()
for i in 1 2 3 4; do
	(cat "$MNT/hello" >"$T/out.$i" && stat -c %s "$MNT/data" >"$T/size.$i") \
		2>"$T/err.$i" &
	pids+=($!)
done
sleep 0.3
for p in "${pids[@]}"; do
	kill -0 "$p" 2>/dev/null || fail "a request finished with no server running"
done
start_server "$TESTFS" "${args[@]}"
for i in 1 2 3 4; do
	wait "${pids[$((i - 1))]}" || fail "request $i failed: $(cat "$T/err.$i")"
	[ "$(cat "$T/out.$i")" = "Hello World!" ] || fail "request $i read garbage"
	[ "$(cat "$T/size.$i")" = 1048576 ] || fail "request $i stat wrong"
done
log "requests queued while down were served after restart"
