# SPDX-License-Identifier: LGPL-2.1-or-later
# Giving up never unmounts: when the supervisor gives up on a server that
# keeps dying, the mount point keeps answering ENOTCONN, and a create does
# not land in the directory underneath the mount point.
. "$(dirname "$0")/xl-lib.sh" ptrfs-mt

# The directory under the mount point, seen through a non-recursive bind.
mkdir "$T/below"
mount --bind "$T" "$T/below"
cat >"$T/flaky" <<EOS
#!/bin/bash
# First start serves; every later start dies at once.
if [ -e "$T/started" ]; then kill -KILL \$\$; fi
touch "$T/started"
exec "\$@"
EOS
chmod +x "$T/flaky"
"$FUSE_RECOVERD" --tag "$XL_TAG" --max-restarts 3 --window 10 -- \
	"$T/flaky" "${XL_CMD[@]}" 2>"$T/servers.log" &
sup=$!
wait_until 10 is_mounted "$MNT" || fail "not mounted"
echo x >"$SRC/file"
expect_eq "served" "$(app cat "$MNT/file")" x
pkill -KILL -f "^${XL_CMD[0]} " || fail "no server to kill"
wait_until 20 grep -q "giving up" "$FUSE_RECOVERD_LOG" || fail "supervisor did not give up"
wait_until 10 exited $sup || fail "supervisor still runs after giving up"
app stat "$MNT/file" >/dev/null 2>"$T/stat.err" && fail "stat succeeded after give-up"
grep -q "not connected" "$T/stat.err" || fail "stat after give-up: $(cat "$T/stat.err")"
app touch "$MNT/created-after-give-up" 2>"$T/touch.err" &&
	fail "create succeeded after give-up"
grep -q "not connected" "$T/touch.err" || fail "create after give-up: $(cat "$T/touch.err")"
[ -z "$(ls -A "$T/below/mnt")" ] ||
	fail "landed in the directory below the mount: $(ls -A "$T/below/mnt")"
app stat "$MNT" >/dev/null 2>"$T/stat.err" && fail "the mount point itself answers"
log "after give-up: ENOTCONN, nothing under the mount point"
