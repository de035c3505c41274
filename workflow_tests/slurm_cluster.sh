#!/usr/bin/env bash
# A throw-away one-node SLURM cluster on localhost, for the workflow's SLURM test.
#
#   slurm_cluster.sh start DIR   install slurm-wlm + munge when missing (apt-get, needs root),
#                                write DIR/slurm.conf for this machine's CPUs and memory, start a
#                                private munged, slurmctld and slurmd (state, logs, sockets and pid
#                                files all under DIR, free TCP ports), wait until the node is idle.
#                                Prints `export SLURM_CONF=DIR/slurm.conf`.
#   slurm_cluster.sh stop DIR    stop the daemons started for DIR (by their pid files only) and
#                                remove the /etc/slurm/slurm.conf link.
#
# Exit status of start: 0 running; 3 slurm/munge missing and apt-get could not install them
# (the test skips on 3, with the reason); 4 /etc/slurm/slurm.conf belongs to a real SLURM set-up
# or to another running test cluster (not touched; the test skips); any other: the cluster did
# not come up (the test fails).
# Outside DIR only two things change: the packages are installed, and /etc/slurm/slurm.conf
# becomes a link to DIR/slurm.conf. The link is needed because snakemake-executor-plugin-slurm-
# jobstep drops every SLURM_* variable (SLURM_CONF included) before its inner `srun`, which then
# only finds the default config path.
set -euo pipefail

cmd=${1:?usage: slurm_cluster.sh start|stop DIR}
dir=${2:?usage: slurm_cluster.sh start|stop DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

log() { echo "slurm_cluster: $*" >&2; }

stop_cluster() {
    # slurmd first (it may hold job steps), then slurmctld, then munged.
    for name in slurmd slurmctld munged; do
        pidf="$dir/$name.pid"
        [[ -s $pidf ]] || continue
        pid=$(cat "$pidf")
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
        fi
        rm -f "$pidf"
    done
    if [[ -L $ETC_CONF && $(readlink "$ETC_CONF") == "$dir/slurm.conf" ]]; then
        rm -f "$ETC_CONF"
    fi
}

ETC_CONF=/etc/slurm/slurm.conf
MARK="# One-node test cluster written by workflow_tests/slurm_cluster.sh"

claim_etc_conf() {
    # Link /etc/slurm/slurm.conf to ours, unless it is a real config or a live test cluster's.
    if [[ -e $ETC_CONF || -L $ETC_CONF ]]; then
        if ! head -1 "$ETC_CONF" 2>/dev/null | grep -qxF "$MARK" && [[ -e $ETC_CONF ]]; then
            log "$ETC_CONF exists and is not a test cluster's: not touching a real SLURM set-up"
            return 4
        fi
        local other
        other=$(dirname "$(readlink -f "$ETC_CONF")")
        if [[ $other != "$dir" && -s $other/slurmctld.pid ]] && kill -0 "$(cat "$other/slurmctld.pid")" 2>/dev/null; then
            log "another test cluster is running from $other: stop it first (slurm_cluster.sh stop $other)"
            return 4
        fi
    fi
    mkdir -p "$(dirname "$ETC_CONF")"
    ln -sfn "$dir/slurm.conf" "$ETC_CONF"
}

install_if_missing() {
    local missing=()
    command -v slurmctld >/dev/null || missing+=(slurmctld)
    command -v slurmd >/dev/null || missing+=(slurmd)
    command -v sbatch >/dev/null || missing+=(slurm-client)
    command -v munged >/dev/null || missing+=(munge)
    ((${#missing[@]} == 0)) && return 0
    if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
        log "need ${missing[*]}: not root or no apt-get, cannot install"
        return 3
    fi
    log "installing slurm-wlm munge (missing: ${missing[*]})"
    export DEBIAN_FRONTEND=noninteractive
    if ! { apt-get update -q && apt-get install -y -q --no-install-recommends slurm-wlm munge; } >"$dir/apt.log" 2>&1; then
        log "apt-get could not install slurm-wlm munge (see $dir/apt.log):"
        tail -5 "$dir/apt.log" >&2
        return 3
    fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
    local secs=$1 what=$2
    shift 2
    for _ in $(seq $((secs * 5))); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    log "timed out after ${secs}s waiting for $what"
    return 1
}

start_cluster() {
    install_if_missing || return $?
    stop_cluster  # a previous run in the same DIR
    rm -rf "$dir/state" "$dir/spool"
    mkdir -p "$dir/state" "$dir/spool" "$dir/log" "$dir/munge"
    chmod 700 "$dir/munge"

    # munge: a private key and socket, so a system munged (if any) is left alone.
    dd if=/dev/urandom bs=1 count=1024 of="$dir/munge/munge.key" status=none
    chmod 400 "$dir/munge/munge.key"
    munged --force --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" \
        --pid-file="$dir/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/seed"
    wait_for 10 munged munge -n --socket="$dir/munge/munge.socket"

    local host cpus mem ctld_port d_port
    host=$(hostname -s)
    cpus=$(nproc)
    # Memory the node offers: 90 % of the machine's, in MB.
    mem=$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.9}' /proc/meminfo)
    ctld_port=$(free_port)
    d_port=$(free_port)
    cat >"$dir/slurm.conf" <<EOF
$MARK
ClusterName=elasticc-ci
SlurmctldHost=$host
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
ReturnToService=2
# Finished jobs stay visible to squeue for 5 min: the workflow polls job states with squeue.
MinJobAge=300
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=ci Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
    claim_etc_conf || return $?
    export SLURM_CONF="$dir/slurm.conf"
    slurmctld -f "$SLURM_CONF"
    wait_for 20 slurmctld scontrol ping
    slurmd -f "$SLURM_CONF"
    if ! wait_for 30 "node $host idle" bash -c "sinfo -h -n $host -o %t | grep -qx idle"; then
        sinfo -N -l >&2 || true
        tail -20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
        return 1
    fi
    log "one-node cluster up: $host, $cpus CPUs, $mem MB, partition ci (SLURM_CONF=$SLURM_CONF)"
    echo "export SLURM_CONF=$SLURM_CONF"
}

case $cmd in
start) start_cluster ;;
stop) stop_cluster ;;
*) echo "usage: slurm_cluster.sh start|stop DIR" >&2; exit 2 ;;
esac
