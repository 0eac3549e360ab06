# SPDX-License-Identifier: LGPL-2.1-or-later
# Live upgrades of passthrough_hp under a data-verifying load: random
# reads/writes/truncates checked against a model, and a metadata churn
# checked step by step.  Every upgrade must be confirmed, the workloads
# must see zero errors, and no server may have been sent a resent request.
# Usage: upgrade-pt-load.sh [UPGRADES] [st|mt|mt-clone]
. "$(dirname "$0")/pt-lib.sh"
. "$(dirname "$0")/upgrade-lib.sh"
need_resend

n=${1:-100}
case ${2:-mt} in
st) loop=(-s) ;;
mt) loop=() ;;
mt-clone) loop=(-o clone_fd) ;;
esac

start_pt "${loop[@]}"
mkdir "$MNT/ex" "$MNT/churn"
"$PTEX" "$MNT/ex" "$T/stop" 6 >"$T/ex.out" 2>"$T/ex.log" &
ex=$!
(
	i=0
	while [ ! -e "$T/stop" ]; do
		d=$MNT/churn/d$((i % 4))
		mkdir "$d" && echo "$i" >"$d/f" && mv "$d/f" "$d/g" &&
			[ "$(cat "$d/g")" = "$i" ] && rm "$d/g" && rmdir "$d" ||
			{ echo "churn step $i failed" >&2; exit 1; }
		i=$((i + 1))
	done
	echo "churn $i"
) >"$T/churn.out" 2>"$T/churn.log" &
churn=$!

worst=0
for ((i = 1; i <= n; i++)); do
	old=$(serving_pid "$PT_TAG")
	upgrade "$PT_TAG" "${PT[@]}" "${PT_ARGS[@]}" "${loop[@]}" "$SRC" "$MNT" ||
		fail "upgrade $i: $(cat "$T/upgrade.out" "$T/upgrade.err")"
	new=$(json_field pid <"$T/upgrade.out")
	pause=$(json_field pause_ms <"$T/upgrade.out")
	worst=$(awk -v a="$worst" -v b="$pause" 'BEGIN { print (b > a) ? b : a }')
	[ "$(serving_pid "$PT_TAG")" = "$new" ] || fail "upgrade $i: pid $new does not serve"
	wait_until 10 exited "$old" || fail "upgrade $i: old server $old did not retire"
	kill -0 "$ex" 2>/dev/null || fail "exerciser stopped: $(cat "$T/ex.log")"
	kill -0 "$churn" 2>/dev/null || fail "churn stopped: $(cat "$T/churn.log")"
done
touch "$T/stop"
wait_until 30 exited "$ex" || fail "exerciser hangs"
wait "$ex" || fail "exerciser saw errors: $(cat "$T/ex.out" "$T/ex.log")"
wait "$churn" || fail "churn saw errors: $(cat "$T/churn.log")"
retired=$(cat "$T"/server.*.log "$T"/upgrade.*.log | grep -c "upgrade: retired")
[ "$retired" = "$n" ] || fail "$retired servers retired, not $n"
resent=$(resent_total)
[ "$resent" = 0 ] || fail "$resent resent requests during upgrades"
log "$(cat "$T/ex.out"); $(cat "$T/churn.out")"
[ -n "${UPGRADE_DEBUG:-}" ] && dump_logs
log "$n live upgrades, zero errors, zero resent requests, worst pause $worst ms"
