# SPDX-License-Identifier: LGPL-2.1-or-later
# The systemd fd store holder under a real systemd: Debian's systemd runs as
# PID 1 of its own pid, mount, UTS, IPC and network namespaces, booting
# only a target of this test that wants one service, passthrough_hp with
# Restart=always and FileDescriptorStoreMax=.  SIGKILL the service under a
# read/write workload (systemctl kill), systemd restarts it, it takes the
# mount back from the fds systemd kept: zero application errors.  A clean
# unmount removes every fd of ours from the store: while systemd waits to
# restart the service that exited, its store is empty, and the next start
# mounts afresh.
#
# Isolation: before systemd starts, private tmpfs over /tmp, /var/tmp and
# /run (its boot would otherwise empty the machine's /tmp), /proc/sys
# read-only, /dev/console a file of the test; its cgroups go below a cgroup
# made here (one per hierarchy), removed at the end with everything systemd
# created under it.  Usage: sd-real-systemd.sh [tmpfs|dir] [KILLS]
. "$(dirname "$0")/pt-lib.sh"
need_resend

kills=${1:-8}
SYSTEMD=/lib/systemd/systemd
[ -x $SYSTEMD ] || skip "no systemd (apt-get install systemd)"
command -v nsenter >/dev/null || skip "no nsenter"
sdver=$($SYSTEMD --version | awk 'NR == 1 { print $2 }')
IN=/run/frtest			# $T as seen inside systemd's namespaces
CG=fr-sd-test.${T##*.}
SD_PID=
UNSHARE_PID=
CG_TOPS=()

# Our cgroup root: below our memory cgroup, so that systemd's memory
# cgroups stay inside whatever limits this machine gives us.
cg_base=$(awk -F: '$2 == "memory" { print $3 }' /proc/self/cgroup)
cg_root=${cg_base%/}/$CG
# A run killed before its cleanup (a timeout) leaves its cgroups: once
# their processes are gone they are removed here.
while read -r mp; do
	for d in "$mp${cg_base%/}"/fr-sd-test.*; do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
done < <(awk '$9 == "cgroup" || $9 == "cgroup2" { print $5 }' \
	/proc/self/mountinfo | sort -u)
# Where each hierarchy gets a new directory: its first missing ancestor of
# $cg_root, which the cleanup removes (with what systemd made below it).
while read -r mp; do
	p=$mp
	top=
	for part in ${cg_root//\// }; do
		p=$p/$part
		[ -d "$p" ] && continue
		top=$p
		break
	done
	[ -n "$top" ] && CG_TOPS+=("$top")
done < <(awk '$9 == "cgroup" || $9 == "cgroup2" { print $5 }' \
	/proc/self/mountinfo | sort -u)

sd_cleanup() {
	local top i left=
	set +e
	if [ -n "$UNSHARE_PID" ]; then
		kill -KILL "$SD_PID" "$UNSHARE_PID" 2>/dev/null
		wait "$UNSHARE_PID" 2>/dev/null
	fi
	# The cgroups empty a moment after their processes are gone.
	for top in "${CG_TOPS[@]}"; do
		for ((i = 0; i < 200; i++)); do
			[ -d "$top" ] || break
			find "$top" -depth -type d -exec rmdir {} + 2>/dev/null
			sleep 0.05
		done
		[ -d "$top" ] && left="$left $top"
	done
	[ -z "$left" ] || echo "FAIL: cgroups left behind:$left"
	[ -z "$left" ]
}
trap 'rc=$?; sd_cleanup || rc=1; (exit $rc); cleanup' EXIT

# Inside the new namespaces, before systemd: hide the machine's /run,
# /tmp and /var/tmp, bring the test directory along, then become systemd.
cat >"$T/boot.sh" <<EOF
set -e
mount -t tmpfs -o mode=755 fr-run /run
mkdir -p $IN /run/systemd/system
mount --rbind "$T" $IN
mount -t tmpfs -o mode=1777 fr-tmp /tmp
mount -t tmpfs -o mode=1777 fr-vartmp /var/tmp
mount --bind /proc/sys /proc/sys
mount -o remount,bind,ro /proc/sys
touch $IN/console
mount --bind $IN/console /dev/console
cp $IN/units/* /run/systemd/system/
for d in \$(awk '\$9 == "cgroup" || \$9 == "cgroup2" { print \$5 }' /proc/self/mountinfo); do
	mkdir -p "\$d$cg_root"
	case \$d in
	*/systemd | */unified) echo \$\$ >"\$d$cg_root/cgroup.procs" ;;
	esac
done
exec env -i container=fr-test PATH=/usr/sbin:/usr/bin:/sbin:/bin \\
	$SYSTEMD --system --unit=fr-test.target --log-target=console \\
	--log-level=debug --show-status=no
EOF
mkdir -p "$T/units" "$T/run"
chmod 700 "$T/run"
cat >"$T/units/fr-test.target" <<EOF
[Unit]
Description=libfuse-recover test target
DefaultDependencies=no
Wants=fr-pt.service
EOF
cat >"$T/units/fr-pt.service" <<EOF
[Unit]
Description=passthrough_hp, restartable
DefaultDependencies=no
StartLimitIntervalSec=60
StartLimitBurst=$((kills + 5))

[Service]
Type=notify
NotifyAccess=main
ExecStart=$(realpath "$PT") -f -o tag=sdr,recover_restarts=1000000 $IN/src $IN/mnt
Restart=always
RestartSec=1
FileDescriptorStoreMax=64
TimeoutStopSec=10
Environment=FUSE_RECOVER_RUNTIME_DIR=$IN/run FUSE_RECOVERD=$FUSE_RECOVERD
StandardError=append:$IN/server.log
EOF
# test/run's sanitizer settings reach the service too (systemd starts it
# with a clean environment).
for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
	[ -z "${!v:-}" ] || echo "Environment=\"$v=${!v}\""
done >>"$T/units/fr-pt.service"

unshare --pid --mount --uts --ipc --net --fork --kill-child --mount-proc \
	--propagation private bash "$T/boot.sh" >"$T/unshare.log" 2>&1 &
UNSHARE_PID=$!
wait_until 10 pgrep -P $UNSHARE_PID >/dev/null || fail "systemd did not start"
SD_PID=$(pgrep -P $UNSHARE_PID)
in_sd() { nsenter -t "$SD_PID" -m -p --wd=/ -- "$@"; }
sctl() { in_sd systemctl "$@"; }
active() { [ "$(sctl show -p ActiveState --value fr-pt.service 2>/dev/null)" = active ]; }
main_pid() { sctl show -p MainPID --value fr-pt.service; }
nstore() { sctl show -p NFileDescriptorStore --value fr-pt.service; }
new_main() { local p; p=$(main_pid); [ "$p" != 0 ] && [ "$p" != "$1" ] && active; }

wait_until 30 active || { fail "fr-pt.service did not become active"; }
log "systemd $sdver is PID 1 of its namespaces; fr-pt.service active"
# Nothing of the machine's runs in there: our service is the only one.
others=$(sctl list-units --type=service,socket,timer,mount --state=active \
	--no-legend --plain | awk '$1 != "fr-pt.service" && $1 !~ /\.mount$/ { print $1 }')
[ -z "$others" ] || fail "systemd started units of the machine: $others"
grep -q "mounted $IN/mnt (systemd fd store)" "$T/server.log" ||
	fail "the server did not use the fd store"
n=$(nstore)
[ "$n" -ge 2 ] || fail "fd store holds $n fds, want the connection and INIT"

in_sd mkdir $IN/mnt/ex
in_sd "$PTEX" $IN/mnt/ex $IN/stop 3 >"$T/ex.out" 2>"$T/ex.log" &
ex=$!
for ((i = 1; i <= kills; i++)); do
	sleep "0.$((RANDOM % 3 + 1))"
	old=$(main_pid)
	sctl kill -s KILL --kill-who=main fr-pt.service
	wait_until 10 new_main "$old" || fail "no restart after kill $i"
done
touch "$T/stop"
wait_until 60 exited $ex || fail "workload hangs"
wait $ex || fail "workload saw errors: $(cat "$T/ex.out") $(tail -5 "$T/ex.log")"
n=$(grep -c "recovered the mount on $IN/mnt (systemd fd store)" "$T/server.log")
[ "$n" -eq "$kills" ] || { fail "$n of $kills restarts took the mount over"; }
n=$(nstore)
log "$kills SIGKILLs, $(cat "$T/ex.out"); fd store holds $n fds"

# Clean unmount: the server removes each fd it stored.  systemd keeps the
# store across the restart it schedules (1 s), so it must be empty then.
substate() { sctl show -p SubState --value fr-pt.service; }
auto_restart() { [ "$(substate)" = auto-restart ]; }
in_sd umount $IN/mnt || fail "umount failed"
wait_until 10 auto_restart || fail "service did not exit on unmount ($(substate))"
n=$(nstore)
[ "$n" = 0 ] || fail "fd store holds $n fds after a clean unmount"
wait_until 20 active || fail "no restart after the clean unmount"
n=$(grep -c "mounted $IN/mnt (systemd fd store)" "$T/server.log")
[ "$n" -eq 2 ] || fail "the start after a clean unmount did not mount afresh"
log "clean unmount: fd store empty, next start mounted afresh"
sctl stop fr-pt.service
active && fail "stop did not stop"
in_sd grep -q " $IN/mnt fuse" /proc/self/mounts && fail "still mounted"
log "stopped"
