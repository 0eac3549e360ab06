# SPDX-License-Identifier: LGPL-2.1-or-later
# NOTIFY_SOCKET receives the connection's fds, so the fd store holder only
# trusts a socket file owned by root or by us: one of another uid, or an
# abstract socket (whose owner cannot be checked), gets nothing, and the
# server fails instead of mounting.  The same socket owned by root works.
. "$(dirname "$0")/lib.sh"

FAKE=$(dirname "$0")/../sd_fake.py
unset NOTIFY_SOCKET LISTEN_FDS LISTEN_PID LISTEN_FDNAMES FUSE_RECOVER_FD

# run_fake NAME ARGS...: a one-shot "service manager" in $T/NAME.
run_fake() {
	local d=$T/$1
	shift
	mkdir -p "$d"
	timeout 20 python3 "$FAKE" "$d" --once "$@" -- \
		"$TESTFS" -f -o tag=sdn "$MNT" 2>"$d/server.log" &
	FAKE_PID=$!
}
fds_sent() { awk '$1 == "message" { n += $4 } END { print n + 0 }' "$1/sd.log"; }

for how in other-uid abstract; do
	case $how in
	other-uid) run_fake $how --chown 65534 ;;
	abstract) run_fake $how --abstract "fr-sdn-${T##*.}" ;;
	esac
	wait_until 15 exited $FAKE_PID || fail "$how: the server did not give up"
	grep -q "^exit " "$T/$how/sd.log" || fail "$how: the server is still running"
	[ "$(fds_sent "$T/$how")" = 0 ] ||
		fail "$how: the server sent fds to an untrusted NOTIFY_SOCKET"
	grep -q "NOTIFY_SOCKET=.*not sending it our connection" \
		"$T/$how/server.log" || fail "$how: no clear refusal: $(cat "$T/$how/server.log")"
	is_mounted "$MNT" && fail "$how: mounted anyway"
	log "$how: refused"
done

# Control: owned by root, the same server stores its fds and serves.
run_fake root
wait_until 10 grep -q "^ready " "$T/root/sd.log" ||
	fail "a root-owned NOTIFY_SOCKET was refused: $(cat "$T/root/server.log")"
[ "$(fds_sent "$T/root")" -ge 2 ] || fail "no fds stored through a trusted socket"
is_mounted "$MNT" || fail "not mounted"
log "root-owned socket: fds stored, mounted"
