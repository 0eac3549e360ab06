# SPDX-License-Identifier: LGPL-2.1-or-later
# Helpers for the live upgrade tests (upgrade-*.sh), on top of lib.sh.
FRCMD=$BUILD/tools/fuse-recover
UPGRADES=0

# UPGRADE_KEEP=DIR: a failing test leaves its logs there, whole.
eval "$(declare -f fail | sed '1s/^fail/upgrade_lib_fail/')"
fail() {
	[ -n "${UPGRADE_KEEP:-}" ] && cp "$T"/*.log "$UPGRADE_KEEP/" 2>/dev/null
	upgrade_lib_fail "$@"
}

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

# json_field NAME < JSON: one scalar field of fuse-recover's flat JSON
# output (no python: it costs seconds per call on a loaded machine).
json_field() {
	sed -n 's/.*"'"$1"'": \("[^"]*"\|[^,}]*\).*/\1/p' | tr -d '"'
}

# The pid of the server that serves TAG now, from fuse-recover status.
serving_pid() { "$FRCMD" status "$1" | awk '$1 == "server_pid" { print $2 }'; }
# The hot standby tests' counts, from the supervisor's log.
ready_count() { grep -c "standby: pid .* ready (INIT" "$FUSE_RECOVERD_LOG" || true; }
hot_takeovers() { grep -c "takeover: hot standby" "$FUSE_RECOVERD_LOG" || true; }

# resent=N summed over the retire lines of every server log.
resent_total() {
	cat "$T"/server.*.log "$T"/upgrade.*.log 2>/dev/null |
		grep -o 'resent=[0-9]*' | awk -F= '{ s += $2 } END { print s + 0 }'
}

# A metadata churn on $MNT/churn, each step checked: CHURN.
start_churn() {
	mkdir -p "$MNT/churn"
	(
		i=0
		while [ ! -e "$T/stop" ]; do
			d=$MNT/churn/d$((i % 4))
			mkdir "$d" && echo "$i" >"$d/f" && mv "$d/f" "$d/g" &&
				[ "$(cat "$d/g")" = "$i" ] && rm "$d/g" &&
				rmdir "$d" ||
				{ echo "churn step $i failed" >&2; exit 1; }
			i=$((i + 1))
		done
		echo "churn $i"
	) >"$T/churn.out" 2>"$T/churn.log" &
	CHURN=$!
}

# upgrade_under_load N TAG CMD...: N live upgrades to CMD while random
# reads/writes/truncates (checked against a model) and a metadata churn
# (checked step by step) run on $MNT.  Fails on any application error,
# any upgrade not confirmed, any old server left, any resent request.
upgrade_under_load() {
	local n=$1 tag=$2 i old new pause worst=0 ex churn retired resent
	local retired0
	shift 2
	# Upgrades a test made before this load retired servers too.
	retired0=$(cat "$T"/server.*.log "$T"/upgrade.*.log 2>/dev/null |
		grep -c "upgrade: retired" || true)
	mkdir "$MNT/ex"
	"$PTEX" "$MNT/ex" "$T/stop" 6 >"$T/ex.out" 2>"$T/ex.log" &
	ex=$!
	start_churn
	churn=$CHURN
	for ((i = 1; i <= n; i++)); do
		old=$(serving_pid "$tag")
		upgrade "$tag" "$@" ||
			fail "upgrade $i: $(cat "$T/upgrade.out" "$T/upgrade.err")"
		new=$(json_field pid <"$T/upgrade.out")
		pause=$(json_field pause_ms <"$T/upgrade.out")
		echo "$pause" >>"$T/pauses"
		worst=$(awk -v a="$worst" -v b="$pause" 'BEGIN { print (b > a) ? b : a }')
		[ "$(serving_pid "$tag")" = "$new" ] ||
			fail "upgrade $i: pid $new does not serve"
		wait_until 10 exited "$old" ||
			fail "upgrade $i: old server $old did not retire"
		kill -0 "$ex" 2>/dev/null || fail "exerciser stopped: $(cat "$T/ex.log")"
		kill -0 "$churn" 2>/dev/null || fail "churn stopped: $(cat "$T/churn.log")"
	done
	touch "$T/stop"
	wait_until 30 exited "$ex" || fail "exerciser hangs"
	wait "$ex" || fail "exerciser saw errors: $(cat "$T/ex.out" "$T/ex.log")"
	wait "$churn" || fail "churn saw errors: $(cat "$T/churn.log")"
	retired=$(($(cat "$T"/server.*.log "$T"/upgrade.*.log |
		grep -c "upgrade: retired") - retired0))
	[ "$retired" = "$n" ] || fail "$retired servers retired, not $n"
	resent=$(resent_total)
	[ "$resent" = 0 ] || fail "$resent resent requests during upgrades"
	[ -n "${UPGRADE_DEBUG:-}" ] && dump_logs
	log "$(cat "$T/ex.out"); $(cat "$T/churn.out")"
	log "$n live upgrades, zero errors, zero resent requests, worst pause $worst ms"
}

# A light verifying load for the failure tests: pt_exerciser on $MNT/ex.
start_exerciser() {
	mkdir -p "$MNT/ex"
	"$PTEX" "$MNT/ex" "$T/stop" 4 >"$T/ex.out" 2>"$T/ex.log" &
	EXERCISER=$!
	start_churn
}

stop_exerciser() {
	touch "$T/stop"
	wait_until 30 exited "$EXERCISER" || fail "exerciser hangs"
	wait "$EXERCISER" || fail "exerciser saw errors: $(cat "$T/ex.out" "$T/ex.log")"
	wait "$CHURN" || fail "churn saw errors: $(cat "$T/churn.log")"
	log "exerciser: $(cat "$T/ex.out"); $(cat "$T/churn.out")"
}

# upgrade_bg TAG CMD...: upgrade in the background; UPGRADE_PID.
upgrade_bg() {
	upgrade "$@" &
	UPGRADE_PID=$!
}

# upgrade_wait: wait for the background upgrade; its status in UPGRADE_RC.
upgrade_wait() {
	UPGRADE_RC=0
	wait_until 60 exited "$UPGRADE_PID" || fail "fuse-recover upgrade hangs"
	wait "$UPGRADE_PID" || UPGRADE_RC=$?
}

# Server families for the failure tests: "pt" (passthrough_hp, state store)
# or an xl-lib.sh variant (translation).  Sets TAG and CMD, starts it.
start_family() {
	if [ "$1" = pt ]; then
		start_pt
		TAG=$PT_TAG
		CMD=("${PT[@]}" "${PT_ARGS[@]}" "$SRC" "$MNT")
	else
		start_x
		TAG=$XL_TAG
		CMD=("${XL_CMD[@]}")
	fi
}
