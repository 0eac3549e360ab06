# SPDX-License-Identifier: LGPL-2.1-or-later
# A server stopped with SIGTERM while the mount's users hold its whole fd
# table (one fd per open file, as in most passthroughs) exits cleanly and
# takes its mount with it.  libfuse ends the multi-threaded loop with
# pthread_cancel(), for which glibc must load libgcc_s: with no free fd
# that aborted the server, a crash to the supervisor, which then kept the
# mount for a successor nobody would start.
# Usage: xl-stop-full-fd-table.sh ptrfs-mt|hlfs
. "$(dirname "$0")/xl-lib.sh"

for i in $(seq 1 300); do : >"$SRC/f$i"; done
# The server raises its soft limit to the hard one: both low.
XL_CMD=(prlimit --nofile=128:128 -- "${XL_CMD[@]}")
start_x
[ -n "$(supervisor_pids "$XL_TAG")" ] || fail "no supervisor"

# Opens until the server runs out of fds, then holds them.
python3 - "$MNT" "$T/held" <<'PY' &
import errno, os, sys, time
fds, err = [], 0
for i in range(1, 301):
    try:
        fds.append(os.open(f"{sys.argv[1]}/f{i}", os.O_RDONLY))
    except OSError as e:
        err = e.errno
        break
with open(sys.argv[2], "w") as f:
    f.write(f"{len(fds)} {errno.errorcode.get(err, err)}\n")
time.sleep(60)
PY
holder=$!
wait_until 20 test -s "$T/held" || fail "the opener did not finish"
read -r held why <"$T/held"
[ "$why" = EMFILE ] || fail "server's fd table not filled: $held opens, then '$why'"
log "the server ran out of fds after $held opens"

kill -TERM "$SERVER_PID"
wait_until 10 exited "$SERVER_PID" || fail "server did not exit on SIGTERM"
st=0
wait "$SERVER_PID" || st=$?
SERVER_PID=
grep -h "pthread_cancel" "$T"/server.*.log &&
	fail "the server could not end its loop"
[ "$st" -lt 128 ] || fail "server died of $(kill -l $((st - 128))) on SIGTERM"
wait_until 10 no_supervisor "$XL_TAG" ||
	fail "supervisor still holds the mount of a stopped server"
is_mounted "$MNT" && fail "mount outlived its stopped server"
kill "$holder"
wait "$holder" || true
log "a server with a full fd table stops cleanly (status $st)"
