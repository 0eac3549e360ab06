# SPDX-License-Identifier: LGPL-2.1-or-later
# The systemd fd store holder against the protocol (test/sd_fake.py plays
# the service manager: notify socket, fd store, Restart=always): SIGKILL
# passthrough_hp under a read/write workload, the "manager" restarts it
# with the stored fds, the workload sees zero errors; fds in the store that
# are not ours stay, one that lies about what it is goes; a clean stop
# leaves nothing of ours in the store.
# Usage: sd-fdstore-protocol.sh [tmpfs|dir] [KILLS] [mt|mt-clone]
. "$(dirname "$0")/pt-lib.sh"
need_resend

kills=${1:-10}
loop=()
[ "${2:-mt}" = mt-clone ] && loop=(-o clone_fd)
SD=$T/sd
mkdir -p "$SD"
FAKE=$(dirname "$0")/../sd_fake.py
unset NOTIFY_SOCKET LISTEN_FDS LISTEN_PID LISTEN_FDNAMES FUSE_RECOVER_FD

readies() { grep -sc '^ready ' "$SD/sd.log" || true; }
# ready_at_least N: the manager has seen N READY=1 (wait_until polls it).
ready_at_least() { [ "$(readies)" -ge "$1" ]; }
main_pid() { awk '$1 == "start" { p = $4 } END { print p }' "$SD/sd.log"; }

# A foreign fd (not fr.TAG.*) and one named like ours that is no /dev/fuse.
python3 "$FAKE" "$SD" --inject other.sock=/dev/null \
	--inject fr.sdp.fuse=/dev/null -- \
	"${PT[@]}" -f "${loop[@]}" -o tag=sdp,recover_restarts=1000000 \
	"$SRC" "$MNT" \
	2>"$T/server.log" &
fake=$!
wait_until 10 ready_at_least 1 || fail "server never said READY=1"
is_mounted "$MNT" || fail "not mounted"
grep -q "(systemd fd store)" "$T/server.log" ||
	fail "the fd store holder was not chosen"
grep -q "fr.sdp.fuse (fd .*) is not what its name says" "$T/server.log" ||
	fail "a /dev/null named fr.sdp.fuse was not refused"
grep -q "^removed fr.sdp.fuse" "$SD/sd.log" || fail "the liar stayed in the store"
grep -q "^removed other.sock" "$SD/sd.log" && fail "a foreign fd was removed"
grep -q "^stored fr.sdp.init" "$SD/sd.log" || fail "INIT not stored"
grep -q "^stored fr.sdp.fuse" "$SD/sd.log" || fail "connection not stored"

# A file unlinked while open: the server keeps its backing file in the
# store (fuse_recover_keep_file()), and it reads back after every restart.
head -c 200000 /dev/urandom >"$T/unl.data"
cp "$T/unl.data" "$MNT/unl"
exec 6<"$MNT/unl"
rm "$MNT/unl"
grep -q "^stored fr.sdp.keep.2." "$SD/sd.log" || fail "unlinked file not kept"

mkdir "$MNT/ex"
"$PTEX" "$MNT/ex" "$T/stop" 3 >"$T/ex.out" 2>"$T/ex.log" &
ex=$!
for ((i = 1; i <= kills; i++)); do
	sleep "0.0$((RANDOM % 5 + 1))"
	kill -KILL "$(main_pid)"
	wait_until 10 ready_at_least $((i + 1)) ||
		fail "restart $i did not get READY=1"
done
touch "$T/stop"
wait_until 30 exited $ex || fail "workload hangs"
wait $ex || fail "workload saw errors: $(cat "$T/ex.out") $(tail -5 "$T/ex.log")"
n=$(grep -c "recovered the mount on $MNT (systemd fd store)" "$T/server.log")
[ "$n" -eq "$kills" ] || fail "$n of $kills restarts took the mount over"
cmp "$T/unl.data" - <&6 || fail "the unlinked open file differs after the kills"
exec 6<&-
wait_until 5 grep -q "^removed fr.sdp.keep.2." "$SD/sd.log" ||
	fail "the closed unlinked file stays in the store"
# Every restart got the connection and its INIT back from the store.
bad=$(awk '$1 == "start" && $2 > 1 && !(/fr.sdp.fuse/ && /fr.sdp.init/)' \
	"$SD/sd.log")
[ -z "$bad" ] || fail "a restart did not get its fds back: $bad"
if [ ${#loop[@]} -gt 0 ]; then
	grep -q "^stored fr.sdp.clone." "$SD/sd.log" || fail "no clone fd stored"
	grep -q "^removed fr.sdp.clone." "$SD/sd.log" ||
		fail "the dead server's clone fds were never dropped"
fi
log "$kills kills, $(cat "$T/ex.out")"

# Clean stop: the server unmounts and empties our part of the store.
kill -TERM $fake
wait_until 20 exited $fake || fail "clean stop hangs"
left=$(grep '^store-at-exit' "$SD/sd.log")
[ "$left" = "store-at-exit 1 other.sock" ] ||
	fail "store after a clean stop: $left (want only the foreign fd)"
is_mounted "$MNT" && fail "still mounted after a clean stop"
log "clean stop: $left"
