# SPDX-License-Identifier: LGPL-2.1-or-later
# A tag held by a live server cannot be mounted a second time.
. "$(dirname "$0")/lib.sh"

start_server "$TESTFS" -f -o tag=lt "$MNT"
first=$SERVER_PID
mkdir "$T/mnt2"
if "$TESTFS" -f -o tag=lt "$T/mnt2" 2>"$T/second.err"; then
	fail "second server with a live tag ran"
fi
grep -q "held by live server pid $first" "$T/second.err" ||
	fail "unclear error: $(cat "$T/second.err")"
is_mounted "$T/mnt2" && fail "second mount exists"
[ "$(cat "$MNT/hello")" = "Hello World!" ] || fail "first server disturbed"
log "live tag refused"
