# SPDX-License-Identifier: LGPL-2.1-or-later
# Helpers for the live upgrade tests (upgrade-*.sh), on top of lib.sh.
FRCMD=$BUILD/tools/fuse-recover
UPGRADES=0

# upgrade TAG CMD...: a live upgrade through fuse-recover; its output in
# $T/upgrade.out, the new server's stderr in $T/upgrade.N.log.  Returns
# fuse-recover's exit status.
upgrade() {
	local tag=$1 rc=0
	shift
	UPGRADES=$((UPGRADES + 1))
	UPGRADE_LOG=$T/upgrade.$UPGRADES.log
	timeout -k 2 60 "$FRCMD" --json upgrade --confirm "${CONFIRM:-0.05}" \
		--log "$UPGRADE_LOG" "$tag" -- "$@" >"$T/upgrade.out" \
		2>"$T/upgrade.err" || rc=$?
	return $rc
}

# json_field NAME < JSON: one scalar field of fuse-recover's output.
json_field() {
	python3 -c 'import json,sys; v=json.load(sys.stdin)[sys.argv[1]]; print("null" if v is None else v)' "$1"
}

# The pid of the server that serves TAG now, from fuse-recover status.
serving_pid() { "$FRCMD" --json status "$1" | json_field server_pid; }

# resent=N summed over the retire lines of every server log.
resent_total() {
	cat "$T"/server.*.log "$T"/upgrade.*.log 2>/dev/null |
		grep -o 'resent=[0-9]*' | awk -F= '{ s += $2 } END { print s + 0 }'
}
