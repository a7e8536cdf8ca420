#!/usr/bin/env bash
# The main job on a built-in default: installs what is missing, builds the CLI (only what it runs),
# and runs the whole LlamaRec pipeline on synthetic data under mpirun -np 2 (NP=4 for four ranks):
#   preprocess -> train-retriever (data parallel) -> retrieve (top-20) -> evaluate retriever
#   -> train-ranker (LoRA, FSDP-sharded base) -> evaluate ranker
# It ends with the results table (metrics.json). The ranker's base is the built-in tiny Llama,
# created in the run directory with a tokenizer trained on the titles (nothing to download);
# RANKER_MODEL=/path/to/hf-llama uses that Hugging Face Llama instead. Runs again skip the stages
# already done (run.dir/.done); delete the run directory for a fresh one.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/launch/install_deps.sh"
BUILD_TARGETS="llamarec" "$root/launch/build.sh"
cd "$root"
np="${NP:-2}"
config="${CONFIG:-configs/demo.toml}"
args=(run -c "$config")
if [ -n "${RANKER_MODEL:-}" ]; then args+=(--set "ranker.model=$(realpath "$RANKER_MODEL")"); fi
start=$(date +%s)
"$root/launch/mpirun.sh" "$np" "${args[@]}"
echo "demo: all stages in $(( $(date +%s) - start )) s on $np ranks; every file of the run is in $(grep -E '^dir' "$config" | cut -d'"' -f2)/"
