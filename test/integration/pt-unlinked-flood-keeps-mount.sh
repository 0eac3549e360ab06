# SPDX-License-Identifier: LGPL-2.1-or-later
# No amount of activity by an unprivileged user of an allow_other mount can
# end it.  uid 65534 opens and unlinks 5000 files on passthrough_hp and
# keeps them open (five processes, as its own fd limit of 1024 allows);
# each makes the server try to leave an fd with a supervisor whose fd limit
# is 1024.  Past its cap the supervisor says no and the server keeps the
# file itself: the server lives, no second server is handed the
# connection, nothing is aborted, and a restart afterwards still recovers.
PT_TAG=uf
. "$(dirname "$0")/pt-lib.sh"

prlimit --nofile=1024:1024 "$FUSE_RECOVERD" --tag uf 2>"$T/supervisor.err" &
sup=$!
wait_until 5 test -S "$FUSE_RECOVER_RUNTIME_DIR/uf.sock" || fail "supervisor did not start"
# The server needs an fd per open file and per pin: give it what we may.
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] || [ "$hard" -ge 12000 ] || skip "fd hard limit $hard < 12000"
PT=(prlimit --nofile="$hard:$hard" "$PT")
start_pt
server=$SERVER_PID
mkdir "$SRC/u"
chown 65534:65534 "$SRC/u"

holders=()
for i in 1 2 3 4 5; do
	mkdir "$SRC/u/p$i"
	chown 65534:65534 "$SRC/u/p$i"
	prlimit --nofile=1024:1024 setpriv --reuid 65534 --regid 65534 --clear-groups \
		"$FRTOOL" hold-unlinked "$MNT/u/p$i" 1000 >"$T/holder.$i.out" 2>&1 &
	holders+=($!)
done
for i in 1 2 3 4 5; do
	wait_until 120 grep -q "held 1000" "$T/holder.$i.out" ||
		fail "holder $i: $(cat "$T/holder.$i.out")"
done

kill -0 "$server" || fail "the server died"
kill -0 "$sup" || fail "the supervisor died"
grep -q "giving up" "$FUSE_RECOVERD_LOG" && fail "the supervisor gave up"
grep -q "handing the connection" "$FUSE_RECOVERD_LOG" &&
	fail "a second server was handed the connection"
grep -q "server died" "$FUSE_RECOVERD_LOG" && fail "a live server was taken for dead"
grep -q "supervisor refused a kept fd: supervisor keeps at most" "$SERVER_LOG" ||
	fail "the cap was not reached or not reported: $(tail -5 "$SERVER_LOG")"
[ "$(ls /proc/$sup/fd | wc -l)" -lt 1024 ] || fail "supervisor fd table full"
echo alive >"$MNT/u/check" && [ "$(cat "$MNT/u/check")" = alive ] ||
	fail "the mount does not serve"

kill "${holders[@]}"
wait "${holders[@]}" 2>/dev/null || true
stat "$MNT/u" >/dev/null || fail "mount dead after the holders left"

# The supervisor still does its job.
kill_server
start_pt
grep -q "took over tag uf" "$FUSE_RECOVERD_LOG" || fail "no takeover after the flood"
[ "$(cat "$MNT/u/check")" = alive ] || fail "data lost"
log "5000 unlinked open files by uid 65534: mount lived, one server, then recovered"
