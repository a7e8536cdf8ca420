#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test (single-process and the
# multi-rank ones under mpirun -np 2). Tests that need ../shared skip when it is absent.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/launch/install_deps.sh"
"$root/launch/build.sh"
cd "${BUILD_DIR:-$root/build}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
ctest --output-on-failure -j 2 "$@"
