# SPDX-License-Identifier: LGPL-2.1-or-later
# Passthrough under repeated SIGKILLs: passthrough_hp is killed KILLS times
# (default 200) at random moments (20-120 ms) while
#   - pt_exerciser reads, writes, truncates and reopens 6 files it holds
#     open (in passthrough mode) across the kills, every read checked;
#   - a churn creates, writes, reads back and unlinks files, so backing
#     ids are opened and, at FORGET, closed all the time.
# Zero errors, no EIO; at the end, with every file closed and unlinked,
# the backing ids left are only those of FORGETs lost with a killed
# server (reported; at most one batch per kill), and with none left the
# backing filesystem has its space back.
# Usage: pt-passthrough-kills.sh [KILLS]
. "$(dirname "$0")/pt-lib.sh"
need_resend

kills=${1:-200}
start_pt_passthrough
base=$(used_kib)
mkdir "$MNT/ex" "$MNT/churn"

"$PTEX" "$MNT/ex" "$T/stop" 6 >"$T/exerciser.out" 2>"$T/exerciser.log" &
w_ex=$!
head -c 200000 /dev/urandom >"$T/blob"
(
	i=0
	while [ ! -e "$T/stop" ]; do
		i=$((i + 1))
		f=$MNT/churn/f$i
		cp "$T/blob" "$f" || { echo "$i: write"; exit 1; }
		cmp -s "$T/blob" "$f" || { echo "$i: read back"; exit 1; }
		rm "$f" || { echo "$i: unlink"; exit 1; }
		echo $i >"$T/churn.rounds"
	done
) >"$T/churn.log" 2>&1 &
w_churn=$!

wait_until 10 backing_is -ge 6 ||
	fail "exerciser files not in passthrough mode: $(backing) backing ids"
alive() { kill -0 $w_ex && kill -0 $w_churn; } 2>/dev/null
start=$SECONDS
for ((k = 1; k <= kills; k++)); do
	sleep "0.$(printf %03d $((20 + RANDOM % 101)))"
	kill_server
	start_pt_env PASSTHROUGH_HP_DEBUG_XATTR=1 --
	rm -f "$T/server.$((NSERVERS - 1)).log"
	alive || break
	# Bounded: 200 kills take about a minute here.
	[ $((SECONDS - start)) -lt 240 ] || fail "too slow: $k kills in $((SECONDS - start)) s"
done
touch "$T/stop"
for w in $w_ex $w_churn; do
	wait_until 60 exited $w || fail "a workload hangs (pid $w)"
done
wait $w_ex || fail "exerciser: $(cat "$T/exerciser.out"; tail -n 5 "$T/exerciser.log")"
wait $w_churn || fail "churn: $(tail -n 5 "$T/churn.log")"
[ $k -gt "$kills" ] || fail "workloads ended early after $k kills"
grep -q "Input/output error" "$T/exerciser.log" "$T/churn.log" && fail "EIO seen"
diff <(tree_sums "$SRC") <(tree_sums "$MNT") >/dev/null || fail "contents differ"

rm -f "$MNT"/ex/*
# The kernel forgets unlinked inodes once closed; FORGETs may be batched.
wait_until 10 backing_is = 0 || true
left=$(backing)
[ "$left" -le "$kills" ] || fail "$left backing ids left after $kills kills"
if [ "$left" = 0 ]; then
	wait_until 10 space_back "$((base + 256))" ||
		fail "space not freed: $(used_kib) KiB used, $base before"
fi
log "$kills kills in $((SECONDS - start)) s; exerciser $(cat "$T/exerciser.out"), churn rounds $(cat "$T/churn.rounds"); $left backing ids left (lost FORGETs)"
