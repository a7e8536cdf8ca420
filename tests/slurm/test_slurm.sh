#!/usr/bin/env bash
# launch/slurm.sbatch on a real Slurm: Debian's slurm-wlm (22.05) and munge, a single-node cluster
# on this machine (slurmctld + slurmd, its CPUs), and 2-task jobs submitted with `sbatch --wait`:
#   1. the demo pipeline through srun (PMIx or PMI2, whichever Slurm offers), exit 0 and metrics;
#   2. the same through the mpirun fallback inside the allocation;
#   3. preemption: SIGUSR1 to the batch shell (what --signal=B:USR1@N delivers) in the middle of the
#      retriever's training: the ranks save that step and exit 75, the script requeues the job, and
#      the requeued job resumes and finishes.
# Needs root (it installs packages and starts daemons); elsewhere it says so and passes. Args: the
# llamarec binary, the source tree.
set -uo pipefail
bin="$(realpath "$1")"
root="$(realpath "$2")"
if [ "$(id -u)" -ne 0 ]; then
  echo "skip: starting a Slurm cluster needs root"
  exit 0
fi
missing=()
for p in slurm-wlm munge; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >/dev/null || { echo "FAIL installing ${missing[*]}"; exit 1; }
fi

work="$(mktemp -d /tmp/llamarec-slurm.XXXXXX)"
failures=0
problem() { echo "FAIL $*"; failures=$((failures + 1)); }
cleanup() {
  pkill -f "slurmctld -D -f $work" 2>/dev/null
  pkill -f "slurmd -D -f $work" 2>/dev/null
  [ -n "${munged_started:-}" ] && pkill -x munged 2>/dev/null
  for _ in $(seq 1 50); do
    pgrep -f -- "-D -f $work" >/dev/null || { [ -n "${munged_started:-}" ] && pgrep -x munged >/dev/null; } || break
    sleep 0.2
  done
  [ -n "${KEEP_SLURM_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

# munge: the key Debian creates, or a new one; started unless one already answers.
if ! munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
  mkdir -p /etc/munge /var/run/munge /var/log/munge /var/lib/munge
  [ -s /etc/munge/munge.key ] || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null
  chown -R munge:munge /etc/munge /var/run/munge /var/log/munge /var/lib/munge 2>/dev/null
  chmod 400 /etc/munge/munge.key
  runuser -u munge -- /usr/sbin/munged --force || { echo "FAIL starting munged"; exit 1; }
  munged_started=1
  for _ in $(seq 1 50); do
    munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && break
    sleep 0.2
  done
fi

node="$(hostname -s)"
cpus="$(nproc)"
mkdir -p "$work/state" "$work/spool" "$work/jobs"
cat >"$work/slurm.conf" <<CONF
ClusterName=llamarec-ci
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
SlurmctldPort=16817
SlurmdPort=16818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
JobRequeue=1
ReturnToService=2
KillWait=30
SchedulerType=sched/builtin
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=ci Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
export SLURM_CONF="$work/slurm.conf"
/usr/sbin/slurmctld -D -f "$work/slurm.conf" -i >"$work/slurmctld.out" 2>&1 &
/usr/sbin/slurmd -D -f "$work/slurm.conf" -N "$node" >"$work/slurmd.out" 2>&1 &
for _ in $(seq 1 60); do
  sinfo -h -o '%T' 2>/dev/null | grep -q -E '^idle' && break
  sleep 1
done
sinfo -h -o '%T' 2>/dev/null | grep -q -E '^idle' ||
  { echo "FAIL the cluster did not come up:"; tail -n 5 "$work/slurmctld.log" "$work/slurmd.log"; exit 1; }
echo "ok   single-node Slurm $(sinfo --version | cut -d' ' -f2) up on $node ($cpus CPUs); srun MPI plugins: $(srun --mpi=list 2>&1 | grep -o -E 'pmix[_a-z0-9]*|pmi2' | sort -u | tr '\n' ' ')"

# The command-line tests' tiny job, as a 2-task job; each run keeps its dataset and candidates in its
# run directory. GPUs: none here (the script's default asks for 8).
sed "s|@TMP@|$work|g" "$root/tests/cli/tiny.toml" >"$work/job.toml"
submit() {  # submit NAME [env assignments...] -- [llamarec args...]
  local name="$1"
  shift
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  (cd "$work/jobs" && env "${envs[@]}" LLAMAREC_BIN="$bin" OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    sbatch --wait --parsable -N1 -n2 --ntasks-per-node=2 --cpus-per-task=1 --gpus-per-node=0 --time=10 -J "$name" \
    -o "$work/jobs/$name-%j.out" "$root/launch/slurm.sbatch" "$work/job.toml" --set data.dataset=dataset.h5 \
    --set retrieval.candidates=candidates.h5 "$@")
}
check_run() {  # check_run NAME RC RUN_DIR
  local name="$1" rc="$2" dir="$3" out
  out="$(ls "$work/jobs/$name"-*.out 2>/dev/null | head -1)"
  if [ "$rc" -ne 0 ]; then problem "$name: sbatch --wait exited $rc"; tail -15 "$out"; return 1; fi
  if ! grep -q '"ranker"' "$dir/metrics.json" 2>/dev/null || ! grep -q '"ranks": 2' "$dir/metrics.json"; then
    problem "$name: no 2-rank ranker metrics in $dir/metrics.json"; tail -15 "$out"; return 1
  fi
  echo "ok   $name: exit 0, all stages on 2 ranks ($(grep -o 'ranks via [a-z]*' "$out" | head -1))"
}

submit srun -- --set run.dir="$work/run-srun" >/dev/null
check_run srun $? "$work/run-srun"
submit mpirun LLAMAREC_LAUNCHER=mpirun -- --set run.dir="$work/run-mpirun" >/dev/null
check_run mpirun $? "$work/run-mpirun"

# Preemption: a longer retriever training, SIGUSR1 to the batch shell once it has saved a state.
(submit preempt -- --set run.dir="$work/run-preempt" --set retriever.max_steps=6000 --set retriever.val_interval=2000 \
  >"$work/preempt.id"; echo $? >"$work/preempt.rc") &
waiter=$!
state="$work/run-preempt/retriever.safetensors.state"
for _ in $(seq 1 600); do
  ls "$state" 2>/dev/null | grep -q step- && break
  sleep 0.1
done
job="$(squeue -h -n preempt -o %i | head -1)"
if [ -z "$job" ]; then
  problem "preempt: the job is not running"
else
  scancel --batch --signal=USR1 "$job"
  # Slurm holds a requeued job for about two minutes (BeginTime); start it now instead.
  for _ in $(seq 1 300); do
    # Once its last run's step daemons are gone (a new step 0 reuses their socket names).
    if squeue -h -j "$job" -o '%T' 2>/dev/null | grep -q PENDING && ! pgrep -f "slurmstepd: \[$job\." >/dev/null; then
      scontrol update JobId="$job" StartTime=now >/dev/null 2>&1 && break
    fi
    kill -0 "$waiter" 2>/dev/null || break
    sleep 0.2
  done
fi
wait "$waiter"
rc="$(cat "$work/preempt.rc")"
out="$(ls "$work/jobs/preempt"-*.out 2>/dev/null | head -1)"
if [ -n "$job" ] && check_run preempt "$rc" "$work/run-preempt"; then
  stopped="$(grep -o 'stopped after step [0-9]*' "$out" | head -1 | grep -o '[0-9]*$')"
  if [ -n "$stopped" ] && grep -q "requeueing job $job" "$out" && grep -q "resuming retriever training at step $stopped " "$out" &&
    grep -q "restart 1" "$out"; then
    echo "ok   preempt: SIGUSR1 -> stopped after step $stopped, exit 75, requeued; the requeued job resumed at step $stopped and finished"
  else
    problem "preempt: no stop, requeue and resume at the same step in $out"; grep -E "slurm.sbatch|stopp|resum" "$out" | head
  fi
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed; logs:"; tail -n 5 "$work/slurmctld.log"
  exit 1
fi
echo "all checks passed"
