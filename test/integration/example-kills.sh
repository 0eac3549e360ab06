# SPDX-License-Identifier: LGPL-2.1-or-later
# One server not written for this project (libfuse's own examples, changed
# as README says or run unmodified through fuse-recover-run) under the
# kill/restart check of the translation tests: it is SIGKILLed and started
# again COMPAT_KILLS times (default 5) while a stat loop runs and an
# application holds an fd; no application may see an error, the fd works
# after the last restart, and umount ends server and supervisor.
# test/libfuse-compat runs it for libfuse's examples, meson for ours:
#   example-kills.sh hello|tree|root CMD...
# CMD must use tag "ex"; @SRC@ and @MNT@ in it stand for the source
# directory (a tmpfs the server passes through) and the mount point.
# hello: the server serves /hello with "Hello World!" (libfuse's hello_ll);
# tree: it passes @SRC@ through; root: it passes / through (libfuse's
# high-level passthrough), so @SRC@ is found at MNT/@SRC@.
. "$(dirname "$0")/xl-lib.sh" hlfs
need_resend

kind=$1
shift
XL_CMD=()
for a; do
	a=${a//@SRC@/$SRC}
	XL_CMD+=("${a//@MNT@/$MNT}")
done
kills=${COMPAT_KILLS:-5}
top=$MNT
[ "$kind" = root ] && top=$MNT$SRC
case $kind in
hello) probe=$MNT/hello ;;
tree | root)
	probe=$top/d/file
	mkdir "$SRC/d"
	echo "before the kill" >"$SRC/d/file"
	;;
*) fail "unknown kind $kind" ;;
esac

start_x
app stat "$probe" >/dev/null || fail "stat before"
if [ "$kind" != hello ]; then
	"$XCHECK" fd "$probe" "$T/marks" 2>"$T/app.err" &
	appid=$!
	wait_until 10 test -e "$T/marks/ready" || fail "application did not open"
fi
# Requests in flight and waiting across every kill; any error counts.
(
	while [ ! -e "$T/stop" ]; do
		stat -c %s "$probe" >/dev/null 2>>"$T/loop.err" ||
			echo "stat failed" >>"$T/loop.err"
	done
) &
loop=$!
for ((i = 1; i <= kills; i++)); do
	# Asynchronous RELEASE/FORGET of the last round reach this server
	# first (see README: a dead server's unread ones are not replayed).
	sleep 0.3
	restart_x
	app stat "$probe" >/dev/null || fail "stat after kill $i"
	if [ "$kind" = hello ]; then
		expect_eq "read after kill $i" "$(app cat "$probe")" "Hello World!"
	else
		expect_eq "read after kill $i" "$(app cat "$probe")" "before the kill"
		app sh -c "echo $i >'$top/d/new.$i'" || fail "create after kill $i"
		expect_eq "created file $i" "$(cat "$SRC/d/new.$i")" "$i"
		expect_eq "entries after kill $i" "$(app ls "$top/d" | wc -l)" \
			"$((i + 1))"
	fi
	server_alive
done
touch "$T/stop"
wait_until 10 exited "$loop" || fail "stat loop hangs"
[ ! -s "$T/loop.err" ] || fail "stat loop saw errors: $(sort "$T/loop.err" | uniq -c)"
if [ "$kind" != hello ]; then
	touch "$T/marks/go"
	wait_until 20 exited "$appid" || fail "application hangs"
	wait "$appid" || fail "fd after the restarts: $(cat "$T/app.err")"
	expect_eq "backing file" "$(cat "$SRC/d/file")" \
		"$(printf 'before the kill\nwritten after the restart')"
fi
umount "$MNT"
wait_until 10 exited "$SERVER_PID" || fail "server survived umount"
wait_until 5 no_supervisor ex || fail "supervisor survived umount"
log "$kind: $kills SIGKILLs, no application error: $*"
