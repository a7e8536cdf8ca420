#!/usr/bin/env bash
# The main job on a built-in default: installs what is missing, builds, and runs the pipeline as far
# as it exists today on synthetic data under mpirun -np 2 (override: NP=4 bash launch/demo.sh).
#   preprocess -> train-retriever (data parallel) -> retrieve (top-20) -> evaluate
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/launch/install_deps.sh"
"$root/launch/build.sh"
cd "$root"
np="${NP:-2}"
config="${CONFIG:-configs/demo.toml}"
run() { "$root/launch/mpirun.sh" "$np" "$@" -c "$config"; }
run preprocess
"${BUILD_DIR:-$root/build}/llamarec" info "$(grep -E '^dir' "$config" | cut -d'"' -f2)/dataset.h5"
run train-retriever
run retrieve
run evaluate --stage retriever
echo "demo: metrics in $(grep -E '^dir' "$config" | cut -d'"' -f2)/metrics.json"
