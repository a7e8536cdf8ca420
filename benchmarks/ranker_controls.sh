#!/usr/bin/env bash
# The ranker against its order controls (README, "Ranker controls"): an untrained adapter and one
# trained adapter per learning rate, each evaluated with every control (retriever order, shuffled,
# K permutations, calibrated, fused) on the same test users, then one table with standard errors.
#   bash benchmarks/ranker_controls.sh CONFIG [key=value ...]
# CONFIG's run.dir must hold the dataset and the retriever's candidates (run the first four stages).
# Environment: LRS (default "3e-4 1e-3 3e-3"), STEPS (600), VAL_INTERVAL (100), K (4), NP (2),
# OUT (benchmarks/results/ranker_controls.json), TAG (a prefix of the adapters' names, so that runs
# with other overrides, e.g. ranker.train_order=retriever, keep their own adapters). The learning
# rate reported as "trained" is the one with the best validation NDCG@10 (shuffled order): chosen on
# validation only.
set -euo pipefail
config=${1:?usage: ranker_controls.sh CONFIG [key=value ...]}
shift
overrides=()
for kv in "$@"; do overrides+=(--set "$kv"); done
root=$(cd "$(dirname "$0")/.." && pwd)
llamarec=${LLAMAREC:-$root/build/llamarec}
np=${NP:-2}
lrs=${LRS:-"3e-4 1e-3 3e-3"}
steps=${STEPS:-600}
k=${K:-4}
out=${OUT:-$root/benchmarks/results/ranker_controls.json}
mpi=(mpirun --allow-run-as-root --oversubscribe -np "$np" -x OMP_NUM_THREADS=1)
run_stage() { "${mpi[@]}" "$llamarec" "$@" -c "$config" "${overrides[@]}"; }

runs=()
# Untrained: one step at the schedule's first lr, which is 0 (HF's linear warmup), so the saved
# adapter is the initial one (B = 0: the base model itself).
tag=${TAG:-}
run_stage train-ranker --set ranker.adapter="controls/${tag}untrained" --set ranker.max_steps=1 \
  --set ranker.val_interval=1 --set eval.scalars="controls/${tag}untrained.jsonl"
run_stage evaluate-ranker --set ranker.adapter="controls/${tag}untrained" --set ranker.permutations="$k" \
  --set eval.metrics="controls/${tag}untrained.metrics.json"
runs+=("${tag}untrained")
for lr in $lrs; do
  name=${tag}lr$lr
  run_stage train-ranker --set ranker.adapter="controls/$name" --set ranker.lr="$lr" --set ranker.max_steps="$steps" \
    --set ranker.val_interval="${VAL_INTERVAL:-100}" --set eval.scalars="controls/$name.jsonl"
  run_stage evaluate-ranker --set ranker.adapter="controls/$name" --set ranker.permutations="$k" \
    --set eval.metrics="controls/$name.metrics.json"
  runs+=("$name")
done
run_dir=$("$llamarec" config -c "$config" "${overrides[@]}" 2>/dev/null | sed -n 's/^dir = "\(.*\)"/\1/p' | head -1)
python3 "$root/benchmarks/support/ranker_controls_table.py" "$run_dir" "$out" "${runs[@]}"
