# SPDX-License-Identifier: LGPL-2.1-or-later
# A directory read half before the SIGKILL is read to its end after the
# restart through the same directory fd: every entry once, none twice.
# Usage: xl-readdir-continues.sh VARIANT
. "$(dirname "$0")/xl-lib.sh"

n=600
mkdir "$SRC/big"
(cd "$SRC/big" && for ((i = 0; i < n; i++)); do printf -v f 'f%05d' $i; : >"$f"; done)
start_x
"$XCHECK" dir "$MNT/big" $n "$T/marks" 2>"$T/app.err" &
appid=$!
wait_until 10 test -e "$T/marks/ready" || fail "application did not start reading"
restart_x
touch "$T/marks/go"
wait_until 20 exited $appid || fail "application hangs"
wait $appid || fail "readdir after the restart: $(cat "$T/app.err")"
server_alive
log "$XL_VARIANT: $(head -n 1 "$T/app.err" | sed 's/xl_check: //'), the rest after the kill"
