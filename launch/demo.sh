#!/usr/bin/env bash
# The main job on a built-in default: installs what is missing, builds, and runs the whole LlamaRec
# pipeline on synthetic data under mpirun -np 2 (override: NP=4 bash launch/demo.sh):
#   preprocess -> train-retriever (data parallel) -> retrieve (top-20) -> evaluate retriever
#   -> train-ranker (LoRA, FSDP-sharded base) -> evaluate ranker
# The ranker's base model is $RANKER_MODEL, else ../shared/models/stories260K-hf; without either the
# demo stops after the retriever stages.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/launch/install_deps.sh"
"$root/launch/build.sh"
cd "$root"
np="${NP:-2}"
config="${CONFIG:-configs/demo.toml}"
run_dir="$(grep -E '^dir' "$config" | cut -d'"' -f2)"
model="${RANKER_MODEL:-$root/../shared/models/stories260K-hf}"
if [ -f "$model/config.json" ]; then
  "$root/launch/mpirun.sh" "$np" run -c "$config" --set "ranker.model=$model"
else
  echo "demo: no Llama for the ranker (set RANKER_MODEL=/path/to/hf-llama); running the retriever stages only"
  "$root/launch/mpirun.sh" "$np" run -c "$config" --stages preprocess,train-retriever,retrieve,evaluate-retriever
fi
"${BUILD_DIR:-$root/build}/llamarec" info "$run_dir/dataset.h5"
echo "demo: metrics in $run_dir/metrics.json"
