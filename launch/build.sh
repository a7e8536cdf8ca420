#!/usr/bin/env bash
# Configures and builds llamarec (Release, Ninja, ccache) into ${BUILD_DIR:-build}.
# Extra arguments go to cmake, e.g. -DCMAKE_PREFIX_PATH=/path/to/cuda/libtorch.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$build" -j "$(nproc)"
