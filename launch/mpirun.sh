#!/usr/bin/env bash
# mpirun wrapper: launch/mpirun.sh NP llamarec-args...
# Adds the flags Open MPI needs as root (containers, CI) and when NP exceeds the core count, and
# OMP_NUM_THREADS=1 (unless set) for the ranks' OpenMP pools; LibTorch's and OpenBLAS's threads are
# run.threads (0: each rank's CPUs shared among the ranks bound to them). Several hosts:
#   HOSTFILE=hosts.txt   Open MPI hostfile ("node1 slots=8" per line); ranks are spread over it
#   PPN=8                ranks per node (--map-by ppr:8:node); with GPUs, one rank per GPU: the
#                        node-local rank picks the device (MPI_Comm_split_type), nothing to set
#   BIND=none|core|socket|numa   process binding (default none: LibTorch threads float freely)
#   MPIRUN_ARGS="..."    anything else for mpirun (e.g. "-x NCCL_DEBUG=INFO --mca btl_tcp_if_include eth0")
# The binary and the run directory must be at the same path on every host (a shared file system).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
np="$1"; shift
flags=(--bind-to "${BIND:-none}" -x OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}")
if [ -n "${HOSTFILE:-}" ]; then
  flags+=(--hostfile "$HOSTFILE")
  # Whatever the job needs from this shell's environment, on every host.
  for v in LD_LIBRARY_PATH LLAMAREC_SPM_SHIM NCCL_SOCKET_IFNAME NCCL_DEBUG; do
    if [ -n "${!v:-}" ]; then flags+=(-x "$v"); fi
  done
else
  flags+=(--oversubscribe)
fi
if [ -n "${PPN:-}" ]; then flags+=(--map-by "ppr:${PPN}:node"); fi
if [ "$(id -u)" -eq 0 ]; then flags+=(--allow-run-as-root); fi
# shellcheck disable=SC2206
extra=(${MPIRUN_ARGS:-})
exec mpirun -np "$np" "${flags[@]}" "${extra[@]}" "${LLAMAREC_BIN:-${BUILD_DIR:-$root/build}/llamarec}" "$@"
