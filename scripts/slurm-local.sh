#!/usr/bin/env bash
# slurm-local.sh — a throw-away one-node Slurm cluster on this machine, for rnnlab's
# Slurm-backend integration tests.
#
#   scripts/slurm-local.sh up        start munged + slurmctld + slurmd, wait until the node is idle
#   scripts/slurm-local.sh down      stop them (by pid file) and remove the whole directory
#   scripts/slurm-local.sh status    say whether it is up; show sinfo/squeue if so (exit 0 up, 1 down)
#   scripts/slurm-local.sh env       print the exports a client (test, sbatch, squeue...) needs:
#                                      eval "$(scripts/slurm-local.sh env)"
#   scripts/slurm-local.sh install   apt-get install the Debian packages if they are missing
#   scripts/slurm-local.sh smoke     submit a 4-task array (%2), wait, check its 4 outputs (cluster must be up)
#
# Runs as root, without systemd, all traffic on 127.0.0.1, and keeps everything (config,
# munge key/socket, state, spool, logs, pid files) under one directory, so it never touches a
# system-wide Slurm or munge (/etc/slurm, /etc/munge, /run/munge are not used).
#
# Environment (all optional):
#   RNNLAB_SLURM_DIR        root directory            (default /tmp/rnnlab-slurm)
#   RNNLAB_SLURM_CTLD_PORT  SlurmctldPort             (default 16817)
#   RNNLAB_SLURM_D_PORT     SlurmdPort                (default 16818)
#   RNNLAB_SLURM_CPUS       CPUs the node advertises  (default: what `slurmd -C` sees). More than
#                           the real count is allowed (SlurmdParameters=config_overrides), so
#                           more array tasks can run at once on a small machine.
#   RNNLAB_SLURM_TIMEOUT    seconds `up` waits for the node to become idle (default 60)
#   RNNLAB_SLURM_CRED_EXPIRE  AuthInfo cred_expire (default 10; Slurm's is 120). A requeued job
#                           stays PENDING (Reason=BeginTime) for cred_expire+1 s before it can run.
#   RNNLAB_SLURM_INSTALL=1  let `up` apt-get install missing packages itself
set -euo pipefail

DIR=${RNNLAB_SLURM_DIR:-/tmp/rnnlab-slurm}
CTLD_PORT=${RNNLAB_SLURM_CTLD_PORT:-16817}
D_PORT=${RNNLAB_SLURM_D_PORT:-16818}
TIMEOUT=${RNNLAB_SLURM_TIMEOUT:-60}
CRED_EXPIRE=${RNNLAB_SLURM_CRED_EXPIRE:-10}
PACKAGES=(slurmctld slurmd slurm-client munge)

CONF=$DIR/etc/slurm.conf
MUNGE_DIR=$DIR/munge
MUNGE_SOCKET=$MUNGE_DIR/munge.socket
MUNGE_KEY=$MUNGE_DIR/munge.key
RUN=$DIR/run
LOG=$DIR/log
MARKER=$DIR/.rnnlab-slurm-local   # `down` deletes $DIR only if this file is there

[[ $DIR == /* && $DIR != / && $DIR != *..* ]] || { echo "slurm-local: error: RNNLAB_SLURM_DIR must be an absolute path other than /" >&2; exit 1; }

say() { echo "slurm-local: $*"; }
die() { echo "slurm-local: error: $*" >&2; exit 1; }

# a process that exists and is not a zombie (the reaper here can take ~2 s to collect one)
alive() {
    kill -0 "$1" 2>/dev/null || return 1
    ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# pid from a pid file if that process is alive, else nothing
live_pid() {
    local f=$1 pid
    [[ -s $f ]] || return 1
    pid=$(<"$f")
    [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" && echo "$pid"
}

clients() { SLURM_CONF=$CONF "$@"; }

missing_packages() {
    local p out=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || out+=("$p")
    done
    echo "${out[@]:-}"
}

cmd_install() {
    local miss
    miss=$(missing_packages)
    if [[ -z $miss ]]; then say "packages present: ${PACKAGES[*]}"; return 0; fi
    say "installing: $miss"
    [[ $(id -u) == 0 ]] || die "installing needs root"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $miss
    # The packages' postinst may have started daemons where an init system exists; we never use them.
}

is_up() {
    live_pid "$RUN/slurmctld.pid" >/dev/null && live_pid "$RUN/slurmd.pid" >/dev/null \
        && live_pid "$MUNGE_DIR/munged.pid" >/dev/null
}

port_busy() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

tails() {
    local f
    for f in "$LOG/slurmctld.log" "$LOG/slurmd.log" "$MUNGE_DIR/munged.log"; do
        [[ -f $f ]] && { echo "----- tail $f"; tail -n 25 "$f"; }
    done
    return 0
}

note_system_slurm() {
    # Only informative: ours uses its own conf, munge socket, ports and directory.
    local ours other
    ours=" $(cat "$RUN"/*.pid "$MUNGE_DIR/munged.pid" 2>/dev/null | tr '\n' ' ' || true) "
    other=$( (pgrep -x 'slurmctld|slurmd|munged' 2>/dev/null || true) | while read -r p; do
        [[ $ours == *" $p "* ]] || ! alive "$p" || echo "$p"; done | tr '\n' ' ')
    if [[ -n ${other// /} ]]; then
        say "note: other slurm/munge daemons run on this machine (pids: $other); they are left alone"
    fi
    if [[ -e /etc/slurm/slurm.conf ]]; then
        say "note: a system /etc/slurm/slurm.conf exists; it is not used (SLURM_CONF=$CONF)"
    fi
}

write_conf() {
    local host node cpus
    host=$(hostname -s)
    # e.g. "NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=24105"
    node=$(slurmd -C | head -n 1)
    [[ $node == NodeName=* ]] || die "unexpected 'slurmd -C' output: $node"
    if [[ -n ${RNNLAB_SLURM_CPUS:-} ]]; then
        cpus=$RNNLAB_SLURM_CPUS
        node=$(sed -E "s/CPUs=[0-9]+/CPUs=$cpus/; s/ (Boards|SocketsPerBoard|CoresPerSocket|ThreadsPerCore)=[0-9]+//g" <<<"$node")
    fi
    cat > "$CONF" <<EOF
# Generated by scripts/slurm-local.sh — a one-node test cluster, everything under $DIR.
ClusterName=rnnlab
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$D_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire also sets how long a requeued job waits before it may start again (default 120 s).
AuthInfo=socket=$MUNGE_SOCKET,cred_expire=$CRED_EXPIRE

StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/slurmd
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$DIR/etc/plugstack.conf
MailProg=/bin/true

ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
# Run the scheduler every 2 s (defaults 60 s / 30 s), so a requeued task starts soon after it is
# eligible again instead of waiting for the next periodic pass.
SchedulerParameters=sched_interval=2,bf_interval=2
SlurmdParameters=config_overrides

AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none

# Finished jobs stay visible to squeue --states=all / scontrol show job for an hour.
MinJobAge=3600
ReturnToService=2
JobRequeue=1
KillWait=5
InactiveLimit=0
SlurmdTimeout=60
MaxArraySize=10001
# Reject at submit time what no node/partition can ever satisfy (instead of PENDING forever).
EnforcePartLimits=ALL

$node NodeAddr=127.0.0.1 NodeHostname=$host State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    : > "$DIR/etc/plugstack.conf"
}

start_munge() {
    # munged insists on a key it owns, not readable by others, and on safe directories.
    dd if=/dev/urandom of="$MUNGE_KEY" bs=1 count=1024 status=none
    chmod 400 "$MUNGE_KEY"
    munged --force \
        --socket="$MUNGE_SOCKET" --key-file="$MUNGE_KEY" --pid-file="$MUNGE_DIR/munged.pid" \
        --log-file="$MUNGE_DIR/munged.log" --seed-file="$MUNGE_DIR/munged.seed" \
        || { tails; die "munged failed to start"; }
    for _ in $(seq 50); do [[ -S $MUNGE_SOCKET ]] && return 0; sleep 0.1; done
    tails; die "munged socket $MUNGE_SOCKET did not appear"
}

cmd_up() {
    [[ $(id -u) == 0 ]] || die "run as root (slurmd must run as root)"
    if is_up; then say "already up ($DIR); export SLURM_CONF=$CONF"; return 0; fi
    if [[ -e $DIR ]]; then say "stale or partial cluster in $DIR, cleaning it first"; cmd_down >/dev/null; fi
    if [[ -n $(missing_packages) ]]; then
        [[ ${RNNLAB_SLURM_INSTALL:-0} == 1 ]] || die "missing packages: $(missing_packages) (run '$0 install' or set RNNLAB_SLURM_INSTALL=1)"
        cmd_install
    fi
    for p in "$CTLD_PORT" "$D_PORT"; do
        port_busy "$p" && die "port $p is in use; set RNNLAB_SLURM_CTLD_PORT / RNNLAB_SLURM_D_PORT"
    done
    note_system_slurm

    local t0=$SECONDS
    mkdir -p "$DIR"
    [[ -z $(ls -A "$DIR") ]] || die "$DIR exists and is not empty; choose another RNNLAB_SLURM_DIR"
    chmod 755 "$DIR"
    : > "$MARKER"
    mkdir -p "$DIR/etc" "$DIR/state" "$DIR/spool/slurmd" "$RUN" "$LOG"
    mkdir -p "$MUNGE_DIR"
    chmod 755 "$MUNGE_DIR"
    write_conf
    start_munge
    export SLURM_CONF=$CONF
    # -c: start from clean state (no jobs from an earlier cluster); -i: ignore stale state errors.
    slurmctld -c -i -f "$CONF" || { tails; die "slurmctld failed to start"; }
    slurmd -f "$CONF" || { tails; die "slurmd failed to start"; }

    local state=""
    while (( SECONDS - t0 < TIMEOUT )); do
        state=$(sinfo -h -N -o '%T' 2>/dev/null | head -n 1 || true)
        [[ $state == idle ]] && break
        sleep 0.5
    done
    if [[ $state != idle ]]; then
        echo "slurm-local: node state after ${TIMEOUT}s: '${state:-no answer}'" >&2
        sinfo -N -l 2>&1 >&2 || true
        tails >&2
        die "cluster did not come up (left running for inspection; '$0 down' removes it)"
    fi
    say "up in $((SECONDS - t0))s: node $(hostname -s) idle, ctld 127.0.0.1:$CTLD_PORT, dir $DIR"
    say "export SLURM_CONF=$CONF"
}

stop_pid() {
    local f=$1 name=$2 pid
    pid=$(live_pid "$f") || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do alive "$pid" || { say "stopped $name ($pid)"; return 0; }; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    say "killed $name ($pid)"
}

cmd_down() {
    if [[ ! -e $DIR ]]; then say "not up (no $DIR)"; return 0; fi
    # Cancel jobs first so their processes (children of slurmstepd) go too.
    if live_pid "$RUN/slurmctld.pid" >/dev/null; then
        clients timeout 10 scancel --full --quiet --user=root 2>/dev/null || true
        for _ in $(seq 20); do
            [[ -z $(clients timeout 5 squeue -h -t R,CG 2>/dev/null) ]] && break
            sleep 0.5
        done
    fi
    stop_pid "$RUN/slurmd.pid" slurmd
    stop_pid "$RUN/slurmctld.pid" slurmctld
    stop_pid "$MUNGE_DIR/munged.pid" munged
    # A slurmstepd that outlived slurmctld/slurmd (a job still running) would keep the job's processes alive:
    # kill those of this cluster (recognised by SLURM_CONF in their environment) with all their descendants.
    local p steps=()
    for p in $(pgrep -x slurmstepd 2>/dev/null || true); do
        if { tr '\0' '\n' < "/proc/$p/environ"; } 2>/dev/null | grep -qx "SLURM_CONF=$CONF"; then
            steps+=("$p")
        fi
    done
    if (( ${#steps[@]} )); then
        local victims
        victims=$(ps -e -o pid=,ppid= | awk -v roots="${steps[*]}" '
            BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) keep[r[i]] = 1 }
            { parent[$1] = $2 }
            END { do { changed = 0; for (p in parent) if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; changed = 1 } } while (changed)
                  for (p in keep) print p }')
        # shellcheck disable=SC2086
        kill -KILL $victims 2>/dev/null || true
        say "killed leftover job processes: ${victims//$'\n'/ }"
    fi
    if [[ -e $MARKER ]]; then
        rm -rf "$DIR"
        say "down; removed $DIR"
    else
        say "down; $DIR was not made by this script, left in place"
    fi
}

cmd_status() {
    if is_up; then
        say "up ($DIR), SLURM_CONF=$CONF"
        clients sinfo -N -l || true
        clients squeue --states=all || true
        return 0
    fi
    if [[ -e $DIR ]]; then say "partial/stale cluster in $DIR (run '$0 down')"; else say "down"; fi
    return 1
}

cmd_env() {
    echo "export SLURM_CONF=$CONF"
    echo "export RNNLAB_SLURM_DIR=$DIR"
}

cmd_smoke() {
    is_up || die "not up"
    export SLURM_CONF=$CONF
    local d=$DIR/smoke id t0=$SECONDS states
    rm -rf "$d"; mkdir -p "$d"
    # shellcheck disable=SC2016  # expands in the job, not here
    printf '#!/bin/bash\necho "task $SLURM_ARRAY_TASK_ID"\nsleep 1\n' > "$d/task.sh"
    id=$(sbatch --parsable --array=0-3%2 --requeue --output="$d/%A_%a.out" --error="$d/%A_%a.err" "$d/task.sh")
    id=${id%%;*}
    while (( SECONDS - t0 < 60 )); do
        states=$(squeue -j "$id" --array --states=all -h -o '%T' | sort -u | tr '\n' ' ')
        [[ $states == "COMPLETED " ]] && break
        sleep 0.3
    done
    [[ $states == "COMPLETED " ]] || { squeue -j "$id" --array --states=all; tails; die "smoke array $id not done: $states"; }
    local i
    for i in 0 1 2 3; do
        [[ $(cat "$d/${id}_$i.out") == "task $i" ]] || die "bad output of task $i"
    done
    say "smoke: array $id, 4 tasks COMPLETED with the right outputs in $((SECONDS - t0))s"
}

case ${1:-} in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    env) cmd_env ;;
    install) cmd_install ;;
    smoke) cmd_smoke ;;
    *) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 2 ;;
esac
