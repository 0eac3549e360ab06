# SPDX-License-Identifier: LGPL-2.1-or-later
# An unmodified binary (hlfs-plain: fuse_main(), no libfuse-recover at all)
# run through fuse-recover-run survives SIGKILL: stat of a known node, an
# fd opened before and read/written after.  With "daemon" the server
# daemonizes after mounting (no -f).  Skips when the wrapper is not built.
# Usage: xl-wrapper-unmodified.sh [foreground|daemon]
. "$(dirname "$0")/xl-lib.sh" hlfs
need_resend

RUN=$(find "$BUILD" -maxdepth 2 -name fuse-recover-run -type f -perm -u+x | head -n 1)
[ -n "$RUN" ] || skip "fuse-recover-run is not built"
# The preload object of the build, not an installed one.
p=$(find "$BUILD" -maxdepth 2 -name libfuse-recover-preload.so | head -n 1)
[ -z "$p" ] || export FUSE_RECOVER_PRELOAD=$p
PLAIN=$BUILD/test/servers/hlfs-plain
fg=(-f)
[ "${1:-foreground}" = daemon ] && fg=()
mkdir "$SRC/d"
echo "before the kill" >"$SRC/d/file"
run_plain() {
	"$RUN" --tag w -- "$PLAIN" "${fg[@]}" -o allow_other,source="$SRC" "$MNT" \
		>>"$T/wrapper.log" 2>&1 &
	wait_until 10 pgrep -f "^$PLAIN " >/dev/null || fail "server did not start"
}
server_pid() { pgrep -f "^$PLAIN " | head -n 1; }
run_plain
wait_until 10 is_mounted "$MNT" || fail "not mounted: $(cat "$T/wrapper.log")"
app stat "$MNT/d/file" >/dev/null || fail "stat before"
"$XCHECK" fd "$MNT/d/file" "$T/marks" 2>"$T/app.err" &
appid=$!
wait_until 10 test -e "$T/marks/ready" || fail "application did not open"
old=$(server_pid)
kill -KILL "$old"
other() { local p; p=$(server_pid); [ -n "$p" ] && [ "$p" != "$old" ]; }
# The wrapper may restart the server itself; if not, run it again.
wait_until 3 other || run_plain
wait_until 10 other || fail "no new server"
app stat "$MNT/d/file" >/dev/null 2>"$T/err" || fail "stat after: $(cat "$T/err")"
touch "$T/marks/go"
wait_until 20 exited $appid || fail "application hangs"
wait $appid || fail "fd after the restart: $(cat "$T/app.err")"
expect_eq "backing file" "$(cat "$SRC/d/file")" "$(printf 'before the kill\nwritten after the restart')"
log "unmodified hlfs-plain ($1) survived SIGKILL through $RUN"
