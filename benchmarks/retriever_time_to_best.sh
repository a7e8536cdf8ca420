#!/usr/bin/env bash
# Wall time to the best retriever checkpoint for 1, 2, ... ranks (opt-in, long): the same training run
# (config + EXTRA overrides) under launch/mpirun.sh NP for each NP in RANKS, one after the other so that
# they do not share cores, each followed by the exact test evaluation. Writes
# benchmarks/results/retriever_time_to_best_<name>.json.
#   DATASET=runs/ml-100k/dataset.h5 CONFIG=configs/ml-100k.toml RANKS="1 2" \
#     EXTRA="--set retriever.max_steps=7000" bash benchmarks/retriever_time_to_best.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
config="${CONFIG:-$root/configs/ml-100k.toml}"
dataset="$(realpath "${DATASET:?set DATASET to a preprocessed dataset.h5}")"
name="${NAME:-$(basename "$config" .toml)}"
out_dir="${OUT_DIR:-$root/runs/time-to-best-$name}"
mkdir -p "$out_dir" "$root/benchmarks/results"
for np in ${RANKS:-1 2}; do
  dir="$out_dir/np$np"
  rm -rf "$dir"
  # shellcheck disable=SC2206
  sets=(--set "run.dir=$dir" --set "data.dataset=$dataset" --set run.threads=1 ${EXTRA:-})
  start=$SECONDS
  OMP_NUM_THREADS=1 "$root/launch/mpirun.sh" "$np" train-retriever -c "$config" "${sets[@]}" > "$dir.log" 2>&1
  "$root/launch/mpirun.sh" "$np" evaluate-retriever -c "$config" "${sets[@]}" >> "$dir.log" 2>&1
  echo "ranks $np: $(grep 'train-retriever done' "$dir.log" | sed 's/.*done: //') ($((SECONDS - start)) s with evaluation)"
done
python3 - "$out_dir" "$root/benchmarks/results/retriever_time_to_best_$name.json" <<'PY'
import json, pathlib, sys
rows = []
for d in sorted(pathlib.Path(sys.argv[1]).glob("np*/")):
    curve = json.loads((d / "retriever.safetensors.curve.json").read_text())
    metrics = json.loads((d / "metrics.json").read_text())["retriever"]
    last = curve["curve"][-1]
    metric = curve["selection_metric"]
    rows.append({"ranks": curve["ranks"], "best_step": curve["best_step"], "selection_metric": metric,
                 "best_val": curve["best_" + metric], "seconds_to_best": curve["seconds_to_best"],
                 "seconds": curve["seconds"], "iterations": last["step"],
                 "test": {k: metrics["test"][k] for k in ("Recall@10", "NDCG@10", "MRR@10")}})
pathlib.Path(sys.argv[2]).write_text(json.dumps(rows, indent=1) + "\n")
for r in rows:
    print(f"{r['ranks']} rank(s): best val {r['selection_metric']} {r['best_val']:.4f} at {r['best_step']} after "
          f"{r['seconds_to_best']:.0f} s; {r['iterations']} steps in {r['seconds']:.0f} s; test R@10 "
          f"{r['test']['Recall@10']:.4f} N@10 {r['test']['NDCG@10']:.4f}")
print("wrote", sys.argv[2])
PY
