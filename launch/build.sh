#!/usr/bin/env bash
# Configures and builds llamarec (Release, Ninja, ccache) into ${BUILD_DIR:-build}.
# Extra arguments go to cmake, e.g. -DCMAKE_PREFIX_PATH=/path/to/cuda/libtorch.
# BUILD_TARGETS="llamarec" builds only those targets (launch/demo.sh: the CLI and its plugin, not
# the tests and benchmarks); empty builds everything.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
targets=()
for t in ${BUILD_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$build" -j "$(nproc)" "${targets[@]}"
