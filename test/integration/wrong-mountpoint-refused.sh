# SPDX-License-Identifier: LGPL-2.1-or-later
# A restarted server whose mount point differs from the tag's is refused
# and the mount keeps waiting for the right one.
. "$(dirname "$0")/lib.sh"

start_server "$TESTFS" -f -o tag=wm "$MNT"
kill_server
mkdir "$T/other"
"$TESTFS" -f -o tag=wm "$T/other" 2>"$T/err" && fail "wrong mount point accepted"
grep -q "not on $T/other" "$T/err" || fail "unclear error: $(cat "$T/err")"
start_server "$TESTFS" -f -o tag=wm "$MNT"
[ "$(cat "$MNT/hello")" = "Hello World!" ] || fail "mount lost"
log "wrong mount point refused"
