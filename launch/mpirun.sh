#!/usr/bin/env bash
# mpirun wrapper: launch/mpirun.sh NP llamarec-args...
# Adds the flags Open MPI needs as root (containers, CI) and when NP exceeds the core count, and one
# LibTorch thread per rank unless OMP_NUM_THREADS is set.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
np="$1"; shift
flags=(--oversubscribe --bind-to none -x OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}")
if [ "$(id -u)" -eq 0 ]; then flags+=(--allow-run-as-root); fi
exec mpirun -np "$np" "${flags[@]}" "${LLAMAREC_BIN:-${BUILD_DIR:-$root/build}/llamarec}" "$@"
